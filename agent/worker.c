// SPDX-License-Identifier: Apache-2.0
/* worker: a bounded pool of threads for blocking I/O (worker.h). */
#include "worker.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct nh_worker_slot {
	struct nh_worker_shared *sh;
	struct nh_job *job; /* running, or NULL */
	bool alive;
};

/* Shared with the threads, under mu. Heap-allocated: a stuck thread may
 * outlive nh_worker_free and still touch it. */
struct nh_worker_shared {
	pthread_mutex_t mu;
	pthread_cond_t work, gone;
	struct nh_job *qhead, *qtail; /* waiting for a thread */
	size_t queued, max_queue;
	struct nh_job *dhead, *dtail; /* done, for the loop */
	struct nh_worker_slot slots[NH_WORKER_MAX_THREADS];
	unsigned alive, stuck, base;
	bool stopping;
	int efd;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void *thread_main(void *arg)
{
	struct nh_worker_slot *slot = arg;
	struct nh_worker_shared *sh = slot->sh;
	uint64_t one = 1;

	pthread_mutex_lock(&sh->mu);
	for (;;) {
		struct nh_job *j;

		while (!sh->qhead && !sh->stopping)
			pthread_cond_wait(&sh->work, &sh->mu);
		if (sh->stopping)
			break;
		j = sh->qhead;
		sh->qhead = j->next;
		if (!sh->qhead)
			sh->qtail = NULL;
		sh->queued--;
		j->next = NULL;
		j->started_ns = mono_ns();
		slot->job = j;
		pthread_mutex_unlock(&sh->mu);

		j->run(j);

		pthread_mutex_lock(&sh->mu);
		slot->job = NULL;
		if (sh->dtail)
			sh->dtail->next = j;
		else
			sh->dhead = j;
		sh->dtail = j;
		if (write(sh->efd, &one, sizeof(one)) < 0) {
			/* The counter cannot overflow in practice; the loop also
			 * collects on its timer. */
		}
		if (j->stuck) {
			/* A replacement took this thread's place: one too many. */
			sh->stuck--;
			if (sh->alive - sh->stuck > sh->base)
				break;
		}
	}
	slot->alive = false;
	sh->alive--;
	pthread_cond_broadcast(&sh->gone);
	pthread_mutex_unlock(&sh->mu);
	return NULL;
}

/* Under mu. */
static int spawn(struct nh_worker_shared *sh)
{
	pthread_attr_t attr;
	pthread_t tid;
	int err = -EAGAIN;

	for (unsigned i = 0; i < NH_WORKER_MAX_THREADS; i++) {
		struct nh_worker_slot *slot = &sh->slots[i];

		if (slot->alive)
			continue;
		if (pthread_attr_init(&attr))
			return -ENOMEM;
		/* Detached: a stuck thread is never joined. */
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		/* Small stacks: jobs keep their buffers on the heap. */
		pthread_attr_setstacksize(&attr, 256 * 1024);
		slot->sh = sh;
		slot->job = NULL;
		slot->alive = true;
		err = -pthread_create(&tid, &attr, thread_main, slot);
		pthread_attr_destroy(&attr);
		if (err) {
			slot->alive = false;
			return err;
		}
		sh->alive++;
		return 0;
	}
	return err;
}

int nh_worker_init(struct nh_worker *w, unsigned threads, uint64_t deadline_ns, size_t max_queue)
{
	struct nh_worker_shared *sh;
	int err = 0;

	memset(w, 0, sizeof(*w));
	w->efd = -1;
	if (threads == 0 || threads > NH_WORKER_MAX_THREADS / 2)
		return -EINVAL;
	sh = calloc(1, sizeof(*sh));
	if (!sh)
		return -ENOMEM;
	pthread_mutex_init(&sh->mu, NULL);
	pthread_cond_init(&sh->work, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&sh->gone, &ca);
		pthread_condattr_destroy(&ca);
	}
	sh->max_queue = max_queue;
	sh->base = threads;
	sh->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->sh = sh;
	w->deadline_ns = deadline_ns;
	/* Queued, running (stuck ones included), and done but not collected. */
	w->max_outstanding = max_queue + NH_WORKER_MAX_THREADS;
	if (sh->efd < 0) {
		err = -errno;
		goto cleanup;
	}
	w->efd = sh->efd;
	pthread_mutex_lock(&sh->mu);
	for (unsigned i = 0; i < threads && !err; i++)
		err = spawn(sh);
	pthread_mutex_unlock(&sh->mu);
cleanup:
	if (err)
		nh_worker_free(w);
	return err;
}

void nh_worker_free(struct nh_worker *w)
{
	struct nh_worker_shared *sh = w->sh;
	unsigned left;

	if (!sh)
		return;
	pthread_mutex_lock(&sh->mu);
	sh->stopping = true;
	pthread_cond_broadcast(&sh->work);
	/* Threads between jobs leave at once; one in a job finishes it
	 * first, for at most a deadline: a job that hangs now is stuck,
	 * whether or not the loop's check saw it yet. */
	{
		struct timespec until;
		uint64_t end = mono_ns() + w->deadline_ns;

		until.tv_sec = (time_t)(end / 1000000000ULL);
		until.tv_nsec = (long)(end % 1000000000ULL);
		while (sh->alive > sh->stuck &&
		       pthread_cond_timedwait(&sh->gone, &sh->mu, &until) != ETIMEDOUT)
			;
	}
	left = sh->alive;
	pthread_mutex_unlock(&sh->mu);
	if (left == 0) {
		struct nh_job *j, *next;

		for (j = sh->qhead; j; j = next) {
			next = j->next;
			j->started_ns = 0;
			j->done(j->owner, j);
		}
		for (j = sh->dhead; j; j = next) {
			next = j->next;
			j->done(j->owner, j);
		}
		close(sh->efd);
		pthread_mutex_destroy(&sh->mu);
		pthread_cond_destroy(&sh->work);
		pthread_cond_destroy(&sh->gone);
		free(sh);
	}
	/* else: the stuck threads' state (and their jobs) go with the process. */
	w->sh = NULL;
	w->efd = -1;
}

/* Under mu: the outstanding job of key, wherever it is. */
static struct nh_job *find(struct nh_worker_shared *sh, uint64_t key)
{
	struct nh_job *j;

	for (j = sh->qhead; j; j = j->next)
		if (j->key == key)
			return j;
	for (j = sh->dhead; j; j = j->next)
		if (j->key == key)
			return j;
	for (unsigned i = 0; i < NH_WORKER_MAX_THREADS; i++)
		if (sh->slots[i].alive && sh->slots[i].job && sh->slots[i].job->key == key)
			return sh->slots[i].job;
	return NULL;
}

int nh_worker_submit(struct nh_worker *w, struct nh_job *j)
{
	struct nh_worker_shared *sh = w->sh;
	int err = 0;

	j->started_ns = 0;
	j->stuck = false;
	j->next = NULL;
	pthread_mutex_lock(&sh->mu);
	if (j->key && find(sh, j->key)) {
		err = -EALREADY;
		goto cleanup;
	}
	if (sh->queued >= sh->max_queue || w->outstanding >= w->max_outstanding) {
		w->refused++;
		err = -EAGAIN;
		goto cleanup;
	}
	if (sh->qtail)
		sh->qtail->next = j;
	else
		sh->qhead = j;
	sh->qtail = j;
	sh->queued++;
	w->outstanding++;
	w->submitted++;
	pthread_cond_signal(&sh->work);
cleanup:
	pthread_mutex_unlock(&sh->mu);
	return err;
}

enum nh_job_state nh_worker_state(struct nh_worker *w, uint64_t key)
{
	struct nh_job *j;
	enum nh_job_state st;

	pthread_mutex_lock(&w->sh->mu);
	j = find(w->sh, key);
	st = !j ? NH_JOB_NONE : j->stuck ? NH_JOB_STUCK : NH_JOB_PENDING;
	pthread_mutex_unlock(&w->sh->mu);
	return st;
}

int nh_worker_collect(struct nh_worker *w)
{
	struct nh_worker_shared *sh = w->sh;
	struct nh_job *j, *next;
	uint64_t n;
	int count = 0;

	if (read(sh->efd, &n, sizeof(n)) < 0) {
		/* EAGAIN: nothing signalled; the list is checked anyway. */
	}
	pthread_mutex_lock(&sh->mu);
	j = sh->dhead;
	sh->dhead = sh->dtail = NULL;
	pthread_mutex_unlock(&sh->mu);
	/* Outside the lock: a done callback may submit again. */
	for (; j; j = next) {
		next = j->next;
		j->next = NULL;
		w->outstanding--;
		w->completed++;
		if (j->stuck)
			w->late++;
		j->done(j->owner, j);
		count++;
	}
	return count;
}

void nh_worker_check(struct nh_worker *w, uint64_t now_ns)
{
	struct nh_worker_shared *sh = w->sh;

	pthread_mutex_lock(&sh->mu);
	for (unsigned i = 0; i < NH_WORKER_MAX_THREADS; i++) {
		struct nh_job *j = sh->slots[i].alive ? sh->slots[i].job : NULL;

		if (!j || j->stuck || now_ns - j->started_ns < w->deadline_ns)
			continue;
		j->stuck = true;
		sh->stuck++;
		w->stuck_total++;
	}
	/* Keep base threads that are not stuck, within the bound. */
	while (sh->alive - sh->stuck < sh->base && sh->alive < NH_WORKER_MAX_THREADS)
		if (spawn(sh))
			break;
	pthread_mutex_unlock(&sh->mu);
}

bool nh_worker_wait(struct nh_worker *w, uint64_t key, uint64_t budget_ns)
{
	uint64_t end = mono_ns() + budget_ns;

	for (;;) {
		struct pollfd p = {.fd = w->efd, .events = POLLIN};
		uint64_t now;

		nh_worker_collect(w);
		if (nh_worker_state(w, key) == NH_JOB_NONE)
			return true;
		now = mono_ns();
		if (now >= end)
			return false;
		/* Round up: a sub-millisecond rest must not spin. */
		if (poll(&p, 1, (int)((end - now + 999999) / 1000000)) < 0 && errno != EINTR)
			return false;
	}
}

unsigned nh_worker_stuck(struct nh_worker *w)
{
	unsigned n;

	pthread_mutex_lock(&w->sh->mu);
	n = w->sh->stuck;
	pthread_mutex_unlock(&w->sh->mu);
	return n;
}

unsigned nh_worker_threads(struct nh_worker *w)
{
	unsigned n;

	pthread_mutex_lock(&w->sh->mu);
	n = w->sh->alive;
	pthread_mutex_unlock(&w->sh->mu);
	return n;
}
