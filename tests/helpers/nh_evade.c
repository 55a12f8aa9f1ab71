// SPDX-License-Identifier: Apache-2.0
/* The attacker's side of tests/integration/test_compat_addr.py: ways to
 * make a monitor read an address or a syscall other than the one the
 * kernel acted on. Loopback only.
 *
 *   nh_evade connect-unfaulted PORT   UDP connect to 127.0.0.1:PORT, the
 *                                      sockaddr on a page not yet mapped
 *   nh_evade connect-any PORT         UDP connect to 0.0.0.0:PORT (the
 *                                      kernel connects to 127.0.0.1)
 *   nh_evade connect-race REAL DECOY N  N UDP connects to 127.0.0.1:REAL
 *                                      while a thread flips the port to
 *                                      DECOY; prints the peers it got
 *   nh_evade sendto-unspec PORT       UDP sendto 127.0.0.1:PORT with the
 *                                      family AF_UNSPEC (IPv4 sends it)
 *   nh_evade sendto6 PORT             UDP sendto [::1]:PORT
 *   nh_evade sendto-race REAL DECOY N  N UDP sendto 127.0.0.1:REAL while a
 *                                      thread flips the port to DECOY
 *   nh_evade int80-open PATH          open(PATH) through int $0x80
 *   nh_evade int80-connect PORT       socketcall(connect) to 127.0.0.1:PORT
 *                                      through int $0x80
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

struct race {
	struct sockaddr_in *sa;
	uint16_t real, decoy;
	atomic_int stop;
};

static int usage(void)
{
	fprintf(stderr, "usage: nh_evade connect-unfaulted|connect-any|connect-race|int80-open|"
			"int80-connect ARGS\n");
	return 2;
}

static int udp_connect(const struct sockaddr_in *sa, uint16_t *peer)
{
	struct sockaddr_in got = {0};
	socklen_t len = sizeof(got);
	int fd = socket(AF_INET, SOCK_DGRAM, 0), code;

	if (fd < 0)
		return -errno;
	code = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) ? -errno : 0;
	if (!code && peer)
		*peer = getpeername(fd, (struct sockaddr *)&got, &len) ? 0 : ntohs(got.sin_port);
	close(fd);
	return code;
}

/* The sockaddr on a private file mapping no one has touched: a reader
 * that cannot fault (a BPF program at syscall entry) finds no page; the
 * kernel's own copy faults it in and reads it. */
static int connect_unfaulted(uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	char tmpl[] = "/tmp/nh_evade.XXXXXX";
	uint16_t peer = 0;
	void *m;
	int fd, code;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = mkstemp(tmpl);
	if (fd < 0 || write(fd, &sa, sizeof(sa)) != (ssize_t)sizeof(sa))
		return perror("tmp"), 1;
	unlink(tmpl);
	m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED)
		return perror("mmap"), 1;
	code = udp_connect(m, &peer);
	printf("connect %d peer %u\n", code, peer);
	return code ? 1 : 0;
}

static int connect_any(uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	uint16_t peer = 0;
	int code = udp_connect(&sa, &peer);

	printf("connect %d peer %u\n", code, peer);
	return code ? 1 : 0;
}

static void *flip(void *arg)
{
	struct race *r = arg;
	volatile uint16_t *p = &r->sa->sin_port;

	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		*p = htons(r->decoy);
		*p = htons(r->real);
	}
	return NULL;
}

/* Prints each distinct peer the kernel gave a socket: the truth the
 * monitor's reports are checked against. */
static int connect_race(uint16_t real, uint16_t decoy, int n)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(real)};
	struct race r = {.sa = &sa, .real = real, .decoy = decoy};
	int got_real = 0, got_decoy = 0;
	pthread_t t;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (pthread_create(&t, NULL, flip, &r))
		return 1;
	for (int i = 0; i < n; i++) {
		uint16_t peer = 0;

		if (udp_connect(&sa, &peer))
			continue;
		got_real += peer == real;
		got_decoy += peer == decoy;
	}
	atomic_store(&r.stop, 1);
	pthread_join(t, NULL);
	printf("real %d decoy %d\n", got_real, got_decoy);
	return 0;
}

static int sendto_unspec(uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_UNSPEC, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	ssize_t n;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	n = sendto(fd, "x", 1, 0, (struct sockaddr *)&sa, sizeof(sa));
	printf("sendto %zd\n", n);
	return n == 1 ? 0 : 1;
}

static int sendto6(uint16_t port)
{
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);
	ssize_t n;

	sa.sin6_addr = in6addr_loopback;
	n = sendto(fd, "x", 1, 0, (struct sockaddr *)&sa, sizeof(sa));
	printf("sendto %zd\n", n);
	return n == 1 ? 0 : 1;
}

static int sendto_race(uint16_t real, uint16_t decoy, int n)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(real)};
	struct race r = {.sa = &sa, .real = real, .decoy = decoy};
	int fd = socket(AF_INET, SOCK_DGRAM, 0), sent = 0;
	pthread_t t;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || pthread_create(&t, NULL, flip, &r))
		return 1;
	for (int i = 0; i < n; i++)
		sent += sendto(fd, "x", 1, 0, (struct sockaddr *)&sa, sizeof(sa)) == 1;
	atomic_store(&r.stop, 1);
	pthread_join(t, NULL);
	printf("sent %d\n", sent);
	return 0;
}

/* A 32-bit syscall from this 64-bit process: arguments are 32 bits, so
 * every pointer must be below 4 GiB. */
static long int80(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
	return ret;
}

static void *low(size_t size)
{
	void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT,
		       -1, 0);

	return m == MAP_FAILED ? NULL : m;
}

static int int80_open(const char *path)
{
	char *p = low(4096);
	long fd;

	if (!p || strlen(path) >= 4096)
		return 1;
	strcpy(p, path);
	fd = int80(5 /* ia32 open */, (long)p, O_RDONLY, 0);
	printf("int80 open %ld\n", fd);
	return fd < 0 ? 1 : 0;
}

static int int80_connect(uint16_t port)
{
	struct sockaddr_in *sa = low(4096);
	uint32_t *args;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	long ret;

	if (!sa || fd < 0)
		return 1;
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	args = (uint32_t *)(sa + 1);
	args[0] = (uint32_t)fd;
	args[1] = (uint32_t)(unsigned long)sa;
	args[2] = sizeof(*sa);
	ret = int80(102 /* ia32 socketcall */, 3 /* SYS_CONNECT */, (long)args, 0);
	printf("int80 connect %ld\n", ret);
	return ret ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return usage();
	if (!strcmp(argv[1], "connect-unfaulted"))
		return connect_unfaulted((uint16_t)atoi(argv[2]));
	if (!strcmp(argv[1], "connect-any"))
		return connect_any((uint16_t)atoi(argv[2]));
	if (!strcmp(argv[1], "connect-race") && argc == 5)
		return connect_race((uint16_t)atoi(argv[2]), (uint16_t)atoi(argv[3]),
				    atoi(argv[4]));
	if (!strcmp(argv[1], "sendto-unspec"))
		return sendto_unspec((uint16_t)atoi(argv[2]));
	if (!strcmp(argv[1], "sendto6"))
		return sendto6((uint16_t)atoi(argv[2]));
	if (!strcmp(argv[1], "sendto-race") && argc == 5)
		return sendto_race((uint16_t)atoi(argv[2]), (uint16_t)atoi(argv[3]), atoi(argv[4]));
	if (!strcmp(argv[1], "int80-open"))
		return int80_open(argv[2]);
	if (!strcmp(argv[1], "int80-connect"))
		return int80_connect((uint16_t)atoi(argv[2]));
	return usage();
}
