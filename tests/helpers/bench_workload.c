// SPDX-License-Identifier: Apache-2.0
/*
 * Workloads for the overhead benchmark (tests/bench/run). Each runs a
 * tight loop of the operations a monitor traces, times the loop with
 * CLOCK_MONOTONIC after an untimed warm-up, and prints one line:
 *
 *   bench=open_same iters=200000 warmup=1000 ns_per_op=2950.3 cpu_ns_per_op=2941.0 ...
 *
 * open_same  open(O_RDONLY)+close of one file: after the warm-up every
 *            open is a repeat of an object nhiscope has already reported.
 * open_new   open(O_RDONLY)+close of a different, pre-created file each
 *            time: every path is a new dedup object and has to reach user
 *            space. The files are created with mknod(2), which no monitor
 *            under test traces, and removed after the timed loop, so only
 *            the opens are measured and traced.
 * connect    socket + connect + accept4 + close on 127.0.0.1 in one
 *            process; SO_LINGER 0 closes with a reset so no TIME_WAIT
 *            piles up and ephemeral ports never run out.
 * exec       fork + execve(/bin/true) + waitpid.
 * send_connected  send(2) of one byte on a UDP socket connected to a
 *            bound loopback sink: every send is a repeat of one destination.
 * udp_known  sendto(2) of one byte to one loopback destination, given
 *            with each call (an unconnected socket).
 * send_stream sendto(2) of one byte on a connected TCP socket (the other end
 *            reads it): the hook stops at the socket type
 * null_syscall getppid(2): what a monitor on every syscall adds (the compat
 *            monitor's raw sys_enter)
 * udp_new    sendto(2) of one byte to a new loopback address each time
 *            (127.x.y.z, nothing listening): every send is a new
 *            destination and has to reach user space.
 * uring_nop  one IORING_OP_NOP submitted and reaped per io_uring_enter(2):
 *            what every io_uring request of the node pays for the io_uring
 *            hooks when it is not an operation they report.
 * uring_open_same  IORING_OP_OPENAT of one file, then close(2): the ring's
 *            deduplicated repeat open (compare open_same).
 * uring_send_connected  IORING_OP_SEND of one byte on a UDP socket
 *            connected to a bound loopback sink (compare send_connected).
 * The io_uring workloads use raw io_uring_setup/io_uring_enter, one
 * request in flight, and run inline in the caller (no SQPOLL, no io-wq).
 *
 * -t bounds the timed loop in seconds so a slow monitor (auditd) cannot
 * stretch a run; the line reports the iterations actually done.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Fast loops look at the clock only every this many iterations, so the
 * time cap costs nothing measurable per operation. */
#define CHECK_EVERY 64

struct opts {
	const char *workload;
	long iters;
	long warmup;
	double max_sec;
	const char *dir;
	const char *exe;
};

struct net {
	int listener;
	struct sockaddr_in addr;
	int udp;	       /* the sending socket of the UDP workloads */
	int sink;	       /* send_connected: where it sends */
	struct sockaddr_in to; /* udp_known: the destination */
};

/* A ring with one request in flight at a time. */
struct ring {
	int fd;
	unsigned *sq_tail, *sq_mask, *sq_array;
	unsigned *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
};

static void die(const char *what)
{
	fprintf(stderr, "bench_workload: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *ring_map(int fd, size_t len, off_t what)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, what);

	if (p == MAP_FAILED)
		die("mmap io_uring");
	return p;
}

static void ring_setup(struct ring *r)
{
	struct io_uring_params p;
	size_t sq_len, cq_len;
	char *sq, *cq;

	memset(&p, 0, sizeof(p));
	r->fd = (int)syscall(__NR_io_uring_setup, 4, &p);
	if (r->fd < 0)
		die("io_uring_setup");
	sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP)
		sq_len = cq_len = sq_len > cq_len ? sq_len : cq_len;
	sq = ring_map(r->fd, sq_len, IORING_OFF_SQ_RING);
	cq =
	    p.features & IORING_FEAT_SINGLE_MMAP ? sq : ring_map(r->fd, cq_len, IORING_OFF_CQ_RING);
	r->sqes = ring_map(r->fd, p.sq_entries * sizeof(struct io_uring_sqe), IORING_OFF_SQES);
	r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
	r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
	r->sq_array = (unsigned *)(sq + p.sq_off.array);
	r->cq_head = (unsigned *)(cq + p.cq_off.head);
	r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
	r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
}

/* The next entry, zeroed; ring_run publishes it. */
static struct io_uring_sqe *ring_sqe(struct ring *r)
{
	unsigned idx = *r->sq_tail & *r->sq_mask;

	memset(&r->sqes[idx], 0, sizeof(r->sqes[idx]));
	r->sq_array[idx] = idx;
	return &r->sqes[idx];
}

/* Submit the entry and wait for its completion in one io_uring_enter(2);
 * returns its result. */
static int ring_run(struct ring *r)
{
	unsigned head;
	int res;

	atomic_store_explicit((_Atomic unsigned *)r->sq_tail, *r->sq_tail + 1,
			      memory_order_release);
	if (syscall(__NR_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) != 1)
		die("io_uring_enter");
	head = *r->cq_head;
	while (head == atomic_load_explicit((_Atomic unsigned *)r->cq_tail, memory_order_acquire))
		if (syscall(__NR_io_uring_enter, r->fd, 0, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
			die("io_uring_enter");
	res = r->cqes[head & *r->cq_mask].res;
	atomic_store_explicit((_Atomic unsigned *)r->cq_head, head + 1, memory_order_release);
	return res;
}

/* One request of an io_uring workload (how: 0 nop, 1 open, 2 send). */
static void uring_once(struct ring *r, int how, const char *path, int udp)
{
	struct io_uring_sqe *sqe = ring_sqe(r);
	int res;

	if (how == 0) {
		sqe->opcode = IORING_OP_NOP;
	} else if (how == 1) {
		sqe->opcode = IORING_OP_OPENAT;
		sqe->fd = AT_FDCWD;
		sqe->addr = (unsigned long)path;
		sqe->open_flags = O_RDONLY | O_CLOEXEC;
	} else {
		sqe->opcode = IORING_OP_SEND;
		sqe->fd = udp;
		sqe->addr = (unsigned long)"x";
		sqe->len = 1;
	}
	res = ring_run(r);
	if (res < 0 && !(how == 2 && res == -ECONNREFUSED)) {
		errno = -res;
		die(how == 0 ? "IORING_OP_NOP" : how == 1 ? path : "IORING_OP_SEND");
	}
	if (how == 1)
		close(res);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CPU time of this process and its waited-for children. In-kernel probes
 * run in the traced task and are charged to it; a monitor's user-space
 * work is not, so wall time minus this separates the two. */
static uint64_t cpu_ns(void)
{
	struct timespec ts;
	struct rusage ru;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	getrusage(RUSAGE_CHILDREN, &ru);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec +
	       ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000ull +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000ull;
}

/* File i of a run's directory. Every name has the same length so that
 * open_same and open_new walk paths of the same shape. */
static void file_path(char *buf, size_t len, const char *dir, long i)
{
	int n = snprintf(buf, len, "%s/f%09ld", dir, i);

	if (n < 0 || (size_t)n >= len) {
		fprintf(stderr, "bench_workload: path too long under %s\n", dir);
		exit(2);
	}
}

static void open_close(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		die(path);
	close(fd);
}

static void connect_once(struct net *n)
{
	static const struct linger reset = {.l_onoff = 1, .l_linger = 0};
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int a;

	if (c < 0)
		die("socket");
	if (setsockopt(c, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset)))
		die("SO_LINGER");
	if (connect(c, (struct sockaddr *)&n->addr, sizeof(n->addr)))
		die("connect");
	a = accept4(n->listener, NULL, NULL, SOCK_CLOEXEC);
	if (a < 0)
		die("accept4");
	close(c);
	close(a);
}

static void exec_once(const char *exe)
{
	char *const argv[] = {(char *)exe, NULL};
	char *const envp[] = {NULL};
	int status;
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0) {
		execve(exe, argv, envp);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench_workload: %s failed (status %d)\n", exe, status);
		exit(1);
	}
}

static void net_setup(struct net *n)
{
	socklen_t len = sizeof(n->addr);

	memset(&n->addr, 0, sizeof(n->addr));
	n->addr.sin_family = AF_INET;
	n->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* loopback only */
	n->addr.sin_port = 0;
	n->listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (n->listener < 0)
		die("socket");
	if (bind(n->listener, (struct sockaddr *)&n->addr, sizeof(n->addr)))
		die("bind 127.0.0.1");
	if (listen(n->listener, 128))
		die("listen");
	if (getsockname(n->listener, (struct sockaddr *)&n->addr, &len))
		die("getsockname");
}

static void udp_setup(struct net *n, int connected)
{
	socklen_t len = sizeof(n->to);

	memset(&n->to, 0, sizeof(n->to));
	n->to.sin_family = AF_INET;
	n->to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	n->sink = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	n->udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (n->sink < 0 || n->udp < 0)
		die("socket");
	if (bind(n->sink, (struct sockaddr *)&n->to, sizeof(n->to)) ||
	    getsockname(n->sink, (struct sockaddr *)&n->to, &len))
		die("bind 127.0.0.1");
	if (connected && connect(n->udp, (struct sockaddr *)&n->to, sizeof(n->to)))
		die("connect");
}

/* send_stream: a connected TCP pair over loopback. */
static void stream_setup(struct net *n)
{
	net_setup(n);
	n->udp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (n->udp < 0 || connect(n->udp, (struct sockaddr *)&n->addr, sizeof(n->addr)))
		die("connect");
	n->sink = accept4(n->listener, NULL, NULL, SOCK_CLOEXEC);
	if (n->sink < 0)
		die("accept4");
}

/* A full sink drops datagrams; a send never fails for it. */
static void udp_once(struct net *n, int how, long i)
{
	struct sockaddr_in to = n->to;
	ssize_t r;
	char c;

	if (how == 3) {
		if (sendto(n->udp, "x", 1, 0, NULL, 0) != 1 || read(n->sink, &c, 1) != 1)
			die("stream send");
		return;
	}
	if (how == 0) {
		r = send(n->udp, "x", 1, 0);
	} else {
		if (how == 2) /* 127.0.0.2 onwards: a new address every time */
			to.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)i);
		r = sendto(n->udp, "x", 1, 0, (struct sockaddr *)&to, sizeof(to));
	}
	if (r < 0 && errno != ECONNREFUSED)
		die("send");
}

static void make_files(const char *dir, long first, long count)
{
	char path[4096];

	for (long i = first; i < first + count; i++) {
		file_path(path, sizeof(path), dir, i);
		if (mknod(path, S_IFREG | 0600, 0))
			die(path);
	}
}

static void remove_files(const char *dir, long first, long count)
{
	char path[4096];

	for (long i = first; i < first + count; i++) {
		file_path(path, sizeof(path), dir, i);
		unlink(path);
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_workload open_same|open_new|connect|exec|send_connected|udp_known|"
		"udp_new|send_stream|null_syscall|uring_nop|uring_open_same|uring_send_connected\n"
		"                      [-n ITERS] [-w WARMUP]\n"
		"                      [-t MAX_SECONDS] [-d DIR] [-x EXECUTABLE]\n");
	exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
	int c;

	if (argc < 2)
		usage();
	o->workload = argv[1];
	o->iters = 0;
	o->warmup = -1;
	o->max_sec = 10;
	o->dir = "/tmp";
	o->exe = "/bin/true";
	optind = 2;
	while ((c = getopt(argc, argv, "n:w:t:d:x:")) != -1) {
		switch (c) {
		case 'n':
			o->iters = strtol(optarg, NULL, 10);
			break;
		case 'w':
			o->warmup = strtol(optarg, NULL, 10);
			break;
		case 't':
			o->max_sec = strtod(optarg, NULL);
			break;
		case 'd':
			o->dir = optarg;
			break;
		case 'x':
			o->exe = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || o->max_sec <= 0)
		usage();
}

int main(int argc, char **argv)
{
	struct opts o;
	struct net net = {.listener = -1};
	struct ring ring = {.fd = -1};
	char dir[4096], same[4096], path[4096];
	char **names = NULL;
	int is_open_same, is_open_new, is_connect, is_exec, is_null, udp, uring;
	uint64_t start, end, deadline, cpu_start, cpu_end;
	long i, done;

	parse(argc, argv, &o);
	is_open_same = !strcmp(o.workload, "open_same");
	is_open_new = !strcmp(o.workload, "open_new");
	is_connect = !strcmp(o.workload, "connect");
	is_exec = !strcmp(o.workload, "exec");
	is_null = !strcmp(o.workload, "null_syscall");
	/* -1: not a UDP workload; else udp_once's how */
	udp = !strcmp(o.workload, "send_connected") ? 0
	      : !strcmp(o.workload, "udp_known")    ? 1
	      : !strcmp(o.workload, "udp_new")	    ? 2
	      : !strcmp(o.workload, "send_stream")  ? 3
						    : -1;
	/* -1: not an io_uring workload; else uring_once's how */
	uring = !strcmp(o.workload, "uring_nop")	      ? 0
		: !strcmp(o.workload, "uring_open_same")      ? 1
		: !strcmp(o.workload, "uring_send_connected") ? 2
							      : -1;
	/* the io_uring ones set up what their syscall twins do */
	is_open_same |= uring == 1;
	if (uring == 2)
		udp = 0;
	if (!is_open_same && !is_open_new && !is_connect && !is_exec && !is_null && udp < 0 &&
	    uring < 0)
		usage();
	if (o.iters <= 0)
		o.iters = is_exec ? 2000 : is_connect ? 20000 : 200000;
	if (o.warmup < 0)
		o.warmup = o.iters / 10 > 1000 ? 1000 : o.iters / 10;

	/* A private directory per run: its file names are new to every
	 * monitor even when the previous run's names are still remembered. */
	if (is_open_same || is_open_new) {
		snprintf(dir, sizeof(dir), "%s/nhbench.%d.%llu", o.dir, (int)getpid(),
			 (unsigned long long)now_ns());
		if (mkdir(dir, 0700))
			die(dir);
		if (is_open_same) {
			make_files(dir, 0, 1);
			file_path(same, sizeof(same), dir, 0);
		} else {
			/* Names are formatted here, not in the timed loop. */
			make_files(dir, 0, o.warmup + o.iters);
			names = calloc(o.warmup + o.iters, sizeof(*names));
			if (!names)
				die("calloc");
			for (i = 0; i < o.warmup + o.iters; i++) {
				file_path(path, sizeof(path), dir, i);
				names[i] = strdup(path);
				if (!names[i])
					die("strdup");
			}
		}
	}
	if (is_connect)
		net_setup(&net);
	if (udp == 3)
		stream_setup(&net);
	else if (udp >= 0)
		udp_setup(&net, udp == 0);

	if (uring >= 0)
		ring_setup(&ring);

	/* Warm-up: caches, the dedup entry of open_same, page tables. */
	for (i = 0; i < o.warmup; i++) {
		if (uring >= 0) {
			uring_once(&ring, uring, same, net.udp);
		} else if (is_open_same) {
			open_close(same);
		} else if (is_open_new) {
			open_close(names[i]);
		} else if (is_connect) {
			connect_once(&net);
		} else if (udp >= 0) {
			udp_once(&net, udp, i);
		} else if (is_null) {
			syscall(SYS_getppid);
		} else {
			exec_once(o.exe);
		}
	}

	cpu_start = cpu_ns();
	start = now_ns();
	deadline = start + (uint64_t)(o.max_sec * 1e9);
	end = start;
	for (done = 0; done < o.iters;) {
		if (uring >= 0) {
			uring_once(&ring, uring, same, net.udp);
		} else if (is_open_same) {
			open_close(same);
		} else if (is_open_new) {
			open_close(names[o.warmup + done]);
		} else if (is_connect) {
			connect_once(&net);
		} else if (udp >= 0) {
			udp_once(&net, udp, o.warmup + done);
		} else if (is_null) {
			syscall(SYS_getppid);
		} else {
			exec_once(o.exe);
		}
		done++;
		if (is_exec || done % CHECK_EVERY == 0) {
			end = now_ns();
			if (end >= deadline)
				break;
		}
	}
	if (done % CHECK_EVERY != 0 && !is_exec)
		end = now_ns();
	cpu_end = cpu_ns();

	printf("bench=%s iters=%ld warmup=%ld ns_per_op=%.1f cpu_ns_per_op=%.1f elapsed_ns=%llu\n",
	       o.workload, done, o.warmup, (double)(end - start) / (double)done,
	       (double)(cpu_end - cpu_start) / (double)done, (unsigned long long)(end - start));
	fflush(stdout);

	if (is_open_same)
		remove_files(dir, 0, 1);
	if (is_open_new) {
		remove_files(dir, 0, o.warmup + o.iters);
		for (i = 0; i < o.warmup + o.iters; i++)
			free(names[i]);
		free(names);
	}
	if (is_open_same || is_open_new)
		rmdir(dir);
	if (net.listener >= 0)
		close(net.listener);
	if (ring.fd >= 0)
		close(ring.fd);
	if (udp >= 0) {
		close(net.udp);
		close(net.sink);
	}
	return 0;
}
