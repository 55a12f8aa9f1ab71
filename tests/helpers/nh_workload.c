// SPDX-License-Identifier: Apache-2.0
/*
 * nh_workload: performs exactly the kernel-visible actions named on its
 * command line, in order, so integration tests can count what the agent
 * must report. Reports facts (ports, results) as key=value lines.
 *
 *   open PATH               open O_RDONLY and close
 *   open-loop PATH N        N x (open, close) of the same path
 *   open-new DIR N          create DIR/f<i> for i < N (distinct objects)
 *   wait PATH               say waiting=PATH, then poll (stat, not open)
 *                           until PATH exists
 *   open-legacy PATH        open(2) itself rather than openat(2)
 *   openat2 PATH            openat2(2) with RESOLVE_NO_SYMLINKS
 *   loopback4 | loopback6   listen on loopback, connect to it, accept
 *   nonblock4               as loopback4 with a non-blocking connect
 *   unix PATH               listen on a Unix socket at PATH, connect, accept
 *   refused4 PORT           connect to 127.0.0.1:PORT (expect ECONNREFUSED)
 *   setresuid ID | setresgid ID
 *   capset-drop CAP         drop CAP (a number) from the effective set
 *   leader-exits PATH       the main thread exits first; a second thread
 *                           opens PATH 200 ms later and ends the process
 *   exec PATH [ARG...]      execv, ends the list
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <poll.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int do_open(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	printf("open=%s result=%d\n", path, fd < 0 ? -errno : fd);
	if (fd >= 0)
		close(fd);
	return 0;
}

static int open_syscall(const char *path, int openat2)
{
	struct open_how how = {.flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS};
	long fd;

#ifdef SYS_open
	if (!openat2)
		fd = syscall(SYS_open, path, O_RDONLY | O_CLOEXEC);
	else
#endif
		fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
	printf("%s=%s result=%ld\n", openat2 ? "openat2" : "open-legacy", path,
	       fd < 0 ? -errno : fd);
	if (fd >= 0)
		close(fd);
	return 0;
}

static int open_loop(const char *path, long n)
{
	for (long i = 0; i < n; i++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			perror(path);
			return 1;
		}
		close(fd);
	}
	printf("open-loop=%s count=%ld\n", path, n);
	return 0;
}

static int open_new(const char *dir, long n)
{
	char path[4096];

	for (long i = 0; i < n; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/f%ld", dir, i);
		fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0) {
			perror(path);
			return 1;
		}
		close(fd);
	}
	printf("open-new=%s count=%ld\n", dir, n);
	return 0;
}

static int wait_for(const char *path)
{
	struct timespec ts = {0, 5 * 1000 * 1000};
	struct stat st;

	/* Said before polling: everything the start-up did (the loader's
	 * opens) is behind it, so a test may read counters from here. */
	printf("waiting=%s\n", path);
	fflush(stdout);
	for (int i = 0; i < 12000; i++) {
		if (stat(path, &st) == 0)
			return 0;
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "timed out waiting for %s\n", path);
	return 1;
}

static int loopback(int family, int nonblock)
{
	struct sockaddr_storage ss = {0};
	socklen_t len = sizeof(ss);
	int l, c, a;

	if (family == AF_INET) {
		struct sockaddr_in *sin = (void *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (void *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	}
	l = socket(family, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (void *)&ss, len) || listen(l, 4) ||
	    getsockname(l, (void *)&ss, &len)) {
		perror("listen");
		return 1;
	}
	c = socket(family, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (c < 0)
		return 1;
	if (connect(c, (void *)&ss, len)) {
		struct pollfd pfd = {.fd = c, .events = POLLOUT};

		if (!nonblock || errno != EINPROGRESS) {
			perror("connect");
			return 1;
		}
		printf("connect-result=%d\n", -errno);
		poll(&pfd, 1, 5000);
	} else if (nonblock) {
		printf("connect-result=0\n");
	}
	a = accept(l, NULL, NULL);
	if (a < 0) {
		perror("accept");
		return 1;
	}
	printf("loopback%d port=%d\n", family == AF_INET ? 4 : 6,
	       ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
				       : ((struct sockaddr_in6 *)&ss)->sin6_port));
	close(a);
	close(c);
	close(l);
	return 0;
}

static int unix_accept(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int l, c, a;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	if (l < 0 || c < 0 || bind(l, (void *)&sun, sizeof(sun)) || listen(l, 1) ||
	    connect(c, (void *)&sun, sizeof(sun)) || (a = accept(l, NULL, NULL)) < 0) {
		perror("unix");
		return 1;
	}
	printf("unix=%s\n", path);
	close(a);
	close(c);
	close(l);
	unlink(path);
	return 0;
}

static int refused4(int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	int c = socket(AF_INET, SOCK_STREAM, 0), r;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r = connect(c, (void *)&sin, sizeof(sin));
	printf("refused4 port=%d result=%d\n", port, r ? -errno : 0);
	close(c);
	return 0;
}

static int capset_drop(int cap)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data)) {
		perror("capget");
		return 1;
	}
	data[cap / 32].effective &= ~(1u << (cap % 32));
	if (syscall(SYS_capset, &hdr, data)) {
		perror("capset");
		return 1;
	}
	printf("capset-drop=%d\n", cap);
	return 0;
}

static void *late_open(void *path)
{
	struct timespec ts = {0, 200 * 1000 * 1000};

	nanosleep(&ts, NULL);
	do_open(path);
	fflush(stdout);
	return NULL;
}

/* Ends the list: the process lives on in the second thread. */
static int leader_exits(const char *path)
{
	pthread_t t;

	if (pthread_create(&t, NULL, late_open, (void *)path)) {
		perror("pthread_create");
		return 1;
	}
	fflush(stdout);
	pthread_exit(NULL);
}

int main(int argc, char **argv)
{
	int i = 1, rc = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("pid=%d\n", getpid());
	while (i < argc && rc == 0) {
		const char *op = argv[i++];
		const char *a1 = i < argc ? argv[i] : NULL;
		const char *a2 = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(op, "open") && a1) {
			rc = do_open(a1), i += 1;
		} else if (!strcmp(op, "open-loop") && a2) {
			rc = open_loop(a1, atol(a2)), i += 2;
		} else if (!strcmp(op, "open-new") && a2) {
			rc = open_new(a1, atol(a2)), i += 2;
		} else if (!strcmp(op, "wait") && a1) {
			rc = wait_for(a1), i += 1;
		} else if (!strcmp(op, "loopback4")) {
			rc = loopback(AF_INET, 0);
		} else if (!strcmp(op, "loopback6")) {
			rc = loopback(AF_INET6, 0);
		} else if (!strcmp(op, "nonblock4")) {
			rc = loopback(AF_INET, 1);
		} else if (!strcmp(op, "unix") && a1) {
			rc = unix_accept(a1), i += 1;
		} else if (!strcmp(op, "open-legacy") && a1) {
			rc = open_syscall(a1, 0), i += 1;
		} else if (!strcmp(op, "openat2") && a1) {
			rc = open_syscall(a1, 1), i += 1;
		} else if (!strcmp(op, "refused4") && a1) {
			rc = refused4(atoi(a1)), i += 1;
		} else if (!strcmp(op, "setresuid") && a1) {
			int id = atoi(a1);

			rc = setresuid(id, id, id) ? (perror("setresuid"), 1) : 0, i += 1;
			printf("setresuid=%d\n", id);
		} else if (!strcmp(op, "setresgid") && a1) {
			int id = atoi(a1);

			rc = setresgid(id, id, id) ? (perror("setresgid"), 1) : 0, i += 1;
			printf("setresgid=%d\n", id);
		} else if (!strcmp(op, "capset-drop") && a1) {
			rc = capset_drop(atoi(a1)), i += 1;
		} else if (!strcmp(op, "leader-exits") && a1) {
			return leader_exits(a1);
		} else if (!strcmp(op, "exec") && a1) {
			fflush(stdout);
			execv(a1, argv + i);
			perror(a1);
			return 127;
		} else {
			fprintf(stderr, "nh_workload: bad operation \"%s\" or missing argument\n",
				op);
			return 2;
		}
	}
	return rc;
}
