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
 *
 * -t bounds the timed loop in seconds so a slow monitor (auditd) cannot
 * stretch a run; the line reports the iterations actually done.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void die(const char *what)
{
	fprintf(stderr, "bench_workload: %s: %s\n", what, strerror(errno));
	exit(1);
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
		"udp_new|send_stream|null_syscall\n                      [-n ITERS] [-w WARMUP]\n"
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
	char dir[4096], same[4096], path[4096];
	char **names = NULL;
	int is_open_same, is_open_new, is_connect, is_exec, is_null, udp;
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
	if (!is_open_same && !is_open_new && !is_connect && !is_exec && !is_null && udp < 0)
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

	/* Warm-up: caches, the dedup entry of open_same, page tables. */
	for (i = 0; i < o.warmup; i++) {
		if (is_open_same) {
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
		if (is_open_same) {
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
	if (udp >= 0) {
		close(net.udp);
		close(net.sink);
	}
	return 0;
}
