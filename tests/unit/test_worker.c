// SPDX-License-Identifier: Apache-2.0
/* worker: jobs off the loop, one per key, stuck ones replaced and
 * bounded; safefile: a workload's file judged before it is opened. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "safefile.h"
#include "worker.h"

struct tjob {
	struct nh_job job;
	int block_fd; /* read one byte from it first: a read that hangs */
	int *done_count;
	int result;
};

static void tjob_run(struct nh_job *j)
{
	struct tjob *t = (struct tjob *)j;
	char c;

	if (t->block_fd >= 0 && read(t->block_fd, &c, 1) < 0)
		t->result = -errno;
	t->result += 1;
}

static void tjob_done(void *owner, struct nh_job *j)
{
	struct tjob *t = (struct tjob *)j;

	(void)owner;
	(*t->done_count)++;
	free(t);
}

static struct tjob *tjob(uint64_t key, int block_fd, int *count)
{
	struct tjob *t = calloc(1, sizeof(*t));

	t->job = (struct nh_job){.key = key, .run = tjob_run, .done = tjob_done};
	t->block_fd = block_fd;
	t->done_count = count;
	return t;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Collect until *done reaches n, at most 5 s. */
static void drain(struct nh_worker *w, int *done, int n)
{
	uint64_t end = now_ns() + 5000000000ULL;

	while (*done < n && now_ns() < end) {
		struct pollfd p = {.fd = w->efd, .events = POLLIN};

		poll(&p, 1, 10);
		nh_worker_collect(w);
	}
}

static void test_jobs_and_keys(void)
{
	struct nh_worker w;
	int done = 0;
	struct tjob *t;

	CHECK(nh_worker_init(&w, 2, 50000000ULL, 4) == 0);
	for (uint64_t k = 1; k <= 4; k++)
		CHECK(nh_worker_submit(&w, &tjob(k, -1, &done)->job) == 0);
	drain(&w, &done, 4);
	CHECK(done == 4);
	CHECK(w.completed == 4);
	CHECK(nh_worker_state(&w, 1) == NH_JOB_NONE);
	nh_worker_free(&w);
	(void)t;
}

/* A read that never returns: the job is stuck after the deadline, a
 * replacement thread keeps other work going, the same key is never
 * handed out twice, and the late answer still comes back. */
static void test_stuck(void)
{
	struct nh_worker w;
	int done = 0, p[2];
	struct tjob *again;

	CHECK(pipe(p) == 0);
	CHECK(nh_worker_init(&w, 1, 20000000ULL, 8) == 0);
	CHECK(nh_worker_submit(&w, &tjob(7, p[0], &done)->job) == 0);
	CHECK(!nh_worker_wait(&w, 7, 30000000ULL)); /* bounded: returns */
	CHECK(nh_worker_state(&w, 7) == NH_JOB_PENDING);
	again = tjob(7, -1, &done);
	CHECK(nh_worker_submit(&w, &again->job) == -EALREADY);
	nh_worker_check(&w, now_ns());
	CHECK(nh_worker_state(&w, 7) == NH_JOB_STUCK);
	CHECK(nh_worker_stuck(&w) == 1);
	CHECK(nh_worker_threads(&w) == 2); /* the replacement */
	CHECK(w.stuck_total == 1);
	/* Other work is not held up by the stuck one. */
	CHECK(nh_worker_submit(&w, &tjob(8, -1, &done)->job) == 0);
	CHECK(nh_worker_wait(&w, 8, 2000000000ULL));
	CHECK(done == 1);
	/* Still refused while stuck; accepted once it came back. */
	CHECK(nh_worker_submit(&w, &again->job) == -EALREADY);
	CHECK(write(p[1], "x", 1) == 1);
	CHECK(nh_worker_wait(&w, 7, 2000000000ULL));
	CHECK(done == 2);
	CHECK(w.late == 1);
	CHECK(nh_worker_stuck(&w) == 0);
	CHECK(nh_worker_submit(&w, &again->job) == 0);
	CHECK(nh_worker_wait(&w, 7, 2000000000ULL));
	CHECK(done == 3);
	/* The replacement leaves: back to one thread. */
	for (int i = 0; i < 200 && nh_worker_threads(&w) != 1; i++)
		usleep(5000);
	CHECK(nh_worker_threads(&w) == 1);
	nh_worker_free(&w);
	close(p[0]);
	close(p[1]);
}

/* Stuck threads are bounded: beyond NH_WORKER_MAX_THREADS, jobs queue,
 * and beyond the queue they are refused, never a new thread. */
static void test_bounded(void)
{
	struct nh_worker w;
	int done = 0, p[2], refused = 0;

	CHECK(pipe(p) == 0);
	CHECK(nh_worker_init(&w, 2, 1000000ULL, 4) == 0);
	for (uint64_t k = 1; k <= 64; k++) {
		struct tjob *t = tjob(k, p[0], &done);

		if (nh_worker_submit(&w, &t->job) != 0) {
			refused++;
			free(t);
		}
		usleep(2000);
		nh_worker_check(&w, now_ns());
	}
	CHECK(nh_worker_threads(&w) <= NH_WORKER_MAX_THREADS);
	CHECK(refused > 0);
	CHECK(w.refused == (uint64_t)refused);
	/* Let them all go: every accepted job comes back. */
	for (int i = 0; i < 64; i++)
		if (write(p[1], "x", 1) != 1)
			break;
	drain(&w, &done, 64 - refused);
	CHECK(done == 64 - refused);
	nh_worker_free(&w);
	close(p[0]);
	close(p[1]);
}

static int safe_open(const char *path, const char **why)
{
	struct nh_safefile f;
	int fd, err = nh_safefile_lookup(AT_FDCWD, path, RESOLVE_NO_MAGICLINKS, &f);

	if (err)
		return err;
	{
	int mounts = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);

	fd = nh_safefile_open(&f, mounts, 65536, why);
	nh_safefile_close(&f);
	close(mounts);
	return fd;
	}
}

static void test_safefile(void)
{
	char dir[] = "/dev/shm/nh-safefile-XXXXXX", path[128];
	const char *why = NULL;
	int fd;

	CHECK(mkdtemp(dir) != NULL);
	/* A regular file on tmpfs: opened, through its handle. */
	snprintf(path, sizeof(path), "%s/token", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0 && write(fd, "abc", 3) == 3);
	close(fd);
	fd = safe_open(path, &why);
	CHECK(fd >= 0);
	if (fd >= 0) {
		char buf[8] = {0};

		CHECK(read(fd, buf, sizeof(buf)) == 3 && strcmp(buf, "abc") == 0);
		close(fd);
	}
	/* A FIFO: refused by type, never opened (an open would block here:
	 * no writer, and O_NONBLOCK is not what saves us). */
	snprintf(path, sizeof(path), "%s/fifo", dir);
	CHECK(mkfifo(path, 0600) == 0);
	CHECK(safe_open(path, &why) == -EINVAL);
	CHECK_STR(why, "path is a FIFO, not a regular file");
	unlink(path);
	/* A device. */
	CHECK(safe_open("/dev/null", &why) == -EINVAL);
	CHECK_STR(why, "path is a device, not a regular file");
	/* Too large. */
	snprintf(path, sizeof(path), "%s/big", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0 && ftruncate(fd, 65537) == 0);
	close(fd);
	CHECK(safe_open(path, &why) == -EFBIG);
	unlink(path);
	/* A regular file on a disk or overlay file system: not read. */
	CHECK(safe_open("/proc/self/exe", &why) < 0);
	CHECK(safe_open("tests/unit/check.h", &why) == -EXDEV);
	CHECK(why && strstr(why, "memory-backed"));
	/* Not in the mount table given: cannot tell, not read. */
	{
		struct nh_safefile f;
		int mounts = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
		char type[64];

		snprintf(path, sizeof(path), "%s/token", dir);
		CHECK(nh_safefile_lookup(AT_FDCWD, path, 0, &f) == 0);
		/* Read twice through one fd: each read starts over. */
		CHECK(nh_safefile_fstype(mounts, f.mnt_id, type, sizeof(type)) == 0);
		CHECK_STR(type, "tmpfs");
		CHECK(nh_safefile_fstype(mounts, f.mnt_id, type, sizeof(type)) == 0);
		CHECK_STR(type, "tmpfs");
		CHECK(nh_safefile_fstype(mounts, 0xfffffff0u, type, sizeof(type)) == -ENOENT);
		f.mnt_id = 0xfffffff0u;
		CHECK(nh_safefile_open(&f, mounts, 65536, &why) == -ENOENT);
		nh_safefile_close(&f);
		close(mounts);
	}
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	test_jobs_and_keys();
	test_stuck();
	test_bounded();
	test_safefile();
	return nh_check_report("test_worker");
}
