// SPDX-License-Identifier: Apache-2.0
/*
 * nh_storm: a novelty storm. Opens paths never opened before (DIR/s<pid>-<i>,
 * which do not exist: each open fails with ENOENT, a new dedup object and
 * one event each, without creating files), and counts them, so a test or
 * a benchmark can compare what the monitor reported with what was done.
 *
 *   nh_storm [-r RATE] [-t SECONDS] [-s STOPFILE] [-p PROCS] [-w GOFILE] [-a] DIR
 *
 *   -r RATE      opens per second per process, paced against the clock
 *                (catching up after a stall), RATE x SECONDS in all unless
 *                stopped first; 0 or absent: full speed
 *   -t SECONDS   stop after this long (default 10)
 *   -s STOPFILE  also stop once STOPFILE exists (checked with stat(2),
 *                which no probe traces, every 1024 opens)
 *   -p PROCS     run PROCS processes (default 1), each with its own paths
 *   -w GOFILE    after "started", say "waiting=GOFILE" and poll (stat) until
 *                it exists: the loader's own opens are behind the storm
 *   -a           open each name relative to DIR (openat on a descriptor of
 *                DIR): one path component to resolve instead of all of
 *                DIR's, so the storm reaches higher rates; the events'
 *                paths are then the bare names
 *
 * Prints "started=<pid>" before the first open (flushed, so a test knows
 * the storm is on), then one line at the end:
 *   storm opens=N seconds=S rate=R cpu_s=C
 * with N the opens of all processes, exactly.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHECK_EVERY 1024

struct storm {
	const char *dir;
	int dirfd; /* -a: DIR's descriptor, else AT_FDCWD */
	const char *stop;
	const char *go;
	double rate;
	double seconds;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Decimal digits of n at p, no NUL; returns how many. snprintf of the
 * whole path was a fifth of the storm's own CPU. */
static int put_decimal(char *p, unsigned long n)
{
	char tmp[24];
	int len = 0;

	do {
		tmp[len++] = (char)('0' + n % 10);
		n /= 10;
	} while (n);
	for (int i = 0; i < len; i++)
		p[i] = tmp[len - 1 - i];
	return len;
}

/* One process's storm; returns its opens. */
static long run(const struct storm *s, int id)
{
	char path[4096];
	double start = now_s(), t = start, end;
	struct stat st;
	size_t prefix;
	long n = 0, limit;
	int w;

	if (s->dirfd == AT_FDCWD)
		w = snprintf(path, sizeof(path), "%s/s%d-%d-", s->dir, (int)getpid(), id);
	else
		w = snprintf(path, sizeof(path), "s%d-%d-", (int)getpid(), id);
	if (w < 0 || (size_t)w + 24 > sizeof(path)) {
		fprintf(stderr, "nh_storm: directory name too long\n");
		exit(1);
	}
	prefix = (size_t)w;
	/* Paced: exactly rate x seconds opens, so a storm that keeps up is
	 * the whole storm asked for; one that falls behind runs over its
	 * time (up to twice), and its rate says so. */
	limit = s->rate > 0 ? (long)(s->rate * s->seconds) : -1;
	end = s->rate > 0 ? 2 * s->seconds : s->seconds;
	for (;;) {
		if (n == limit)
			break;
		if (n % CHECK_EVERY == 0) {
			t = now_s();
			if (t - start >= end || (s->stop && stat(s->stop, &st) == 0))
				break;
		}
		if (s->rate > 0 && n >= (long)((t - start) * s->rate)) {
			struct timespec ts = {0, 100 * 1000};

			nanosleep(&ts, NULL);
			t = now_s();
			if (t - start >= end || (s->stop && stat(s->stop, &st) == 0))
				break;
			continue;
		}
		path[prefix + put_decimal(path + prefix, (unsigned long)n)] = '\0';
		if (openat(s->dirfd, path, O_RDONLY | O_CLOEXEC) >= 0) {
			fprintf(stderr, "nh_storm: %s exists\n", path);
			exit(1);
		}
		n++;
	}
	return n;
}

int main(int argc, char **argv)
{
	struct storm s = {.seconds = 10, .dirfd = AT_FDCWD};
	bool at = false;
	int procs = 1, opt, fds[2];
	double start, secs;
	long total = 0;
	struct rusage ru;

	while ((opt = getopt(argc, argv, "r:t:s:p:w:a")) != -1) {
		switch (opt) {
		case 'r':
			s.rate = atof(optarg);
			break;
		case 't':
			s.seconds = atof(optarg);
			break;
		case 's':
			s.stop = optarg;
			break;
		case 'p':
			procs = atoi(optarg);
			break;
		case 'w':
			s.go = optarg;
			break;
		case 'a':
			at = true;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1 || procs < 1 || procs > 64)
		goto usage;
	s.dir = argv[optind];
	if (at) {
		s.dirfd = open(s.dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (s.dirfd < 0) {
			perror(s.dir);
			return 1;
		}
	}
	if (pipe(fds)) {
		perror("pipe");
		return 1;
	}
	printf("started=%d\n", (int)getpid());
	fflush(stdout);
	if (s.go) {
		struct timespec ts = {0, 5 * 1000 * 1000};
		struct stat st;

		printf("waiting=%s\n", s.go);
		fflush(stdout);
		while (stat(s.go, &st) != 0)
			nanosleep(&ts, NULL);
	}
	start = now_s();
	for (int i = 0; i < procs; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			long n = run(&s, i);

			if (write(fds[1], &n, sizeof(n)) != sizeof(n))
				_exit(1);
			_exit(0);
		}
	}
	close(fds[1]);
	for (int i = 0; i < procs; i++) {
		long n;

		if (read(fds[0], &n, sizeof(n)) != sizeof(n)) {
			fprintf(stderr, "nh_storm: a storm process failed\n");
			return 1;
		}
		total += n;
	}
	while (wait(NULL) > 0)
		;
	secs = now_s() - start;
	getrusage(RUSAGE_CHILDREN, &ru);
	printf("storm opens=%ld seconds=%.3f rate=%.0f cpu_s=%.3f\n", total, secs, total / secs,
	       ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
		   (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	return 0;
usage:
	fprintf(stderr, "usage: nh_storm [-r RATE] [-t SECONDS] [-s STOPFILE] [-p PROCS] [-w "
			"GOFILE] [-a] DIR\n");
	return 2;
}
