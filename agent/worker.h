/* SPDX-License-Identifier: Apache-2.0 */
/*
 * worker: blocking I/O off the event loop. The loop hands a job out
 * (nh_worker_submit), a worker thread runs it, and the loop takes the
 * result back on the worker's eventfd (nh_worker_collect), where the
 * job's done callback runs, on the loop's thread.
 *
 * What a job touches on its thread is its own: its inputs are copied in,
 * its results copied out; it never reads the loop's state, logs, or
 * calls back. So no lock guards anything but the queues.
 *
 * A read can hang forever (a FUSE server that never answers, a hard NFS
 * mount): such a thread cannot be interrupted. The loop notices a job
 * past its deadline (nh_worker_check), counts it as stuck and starts a
 * replacement thread, up to a fixed number: stuck threads are bounded,
 * and jobs carry a key (a pod) of which at most one is outstanding, so
 * the same stuck file never takes a second thread however often it is
 * asked for. When every thread is stuck, jobs wait in a bounded queue and
 * submissions beyond it are refused (-EAGAIN); the loop never waits.
 */
#ifndef NH_WORKER_H
#define NH_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NH_WORKER_MAX_THREADS 16 /* including replacements for stuck ones */

struct nh_job;
/* On a worker thread: the blocking part. */
typedef void (*nh_job_run_fn)(struct nh_job *j);
/* On the loop's thread, once run returned: takes the result and owns j. */
typedef void (*nh_job_done_fn)(void *owner, struct nh_job *j);

struct nh_job {
	uint64_t key; /* at most one outstanding job per key; 0: no key */
	nh_job_run_fn run;
	nh_job_done_fn done;
	void *owner;
	/* the worker's */
	uint64_t started_ns; /* 0 while queued */
	bool stuck;	     /* ran past the deadline */
	struct nh_job *next;
};

enum nh_job_state {
	NH_JOB_NONE = 0, /* no job of this key outstanding */
	NH_JOB_PENDING,	 /* queued or running within its deadline */
	NH_JOB_STUCK,	 /* running past its deadline */
};

struct nh_worker_shared;

struct nh_worker {
	struct nh_worker_shared *sh; /* what the threads see */
	int efd;		     /* readable when jobs are done */
	uint64_t deadline_ns;
	size_t max_outstanding;
	size_t outstanding;
	/* counters, read on the loop */
	uint64_t submitted, completed, refused, stuck_total, late;
};

/* threads: how many run normally; deadline_ns: a job running longer is
 * stuck; max_queue: jobs waiting for a thread. */
int nh_worker_init(struct nh_worker *w, unsigned threads, uint64_t deadline_ns, size_t max_queue);
/* Stops the threads; a stuck thread is left to the process's exit, with
 * the state it uses. */
void nh_worker_free(struct nh_worker *w);

/* Hand j out. -EALREADY: a job of j's key is outstanding (j is not
 * taken); -EAGAIN: the queue is full. The caller keeps j on error. */
int nh_worker_submit(struct nh_worker *w, struct nh_job *j);
enum nh_job_state nh_worker_state(struct nh_worker *w, uint64_t key);
/* Run the done callbacks of finished jobs; the number run. */
int nh_worker_collect(struct nh_worker *w);
/* Mark jobs past their deadline stuck and replace their threads; call
 * from the loop's timer. */
void nh_worker_check(struct nh_worker *w, uint64_t now_ns);
/* Wait at most budget_ns for the job of key to finish, collecting every
 * finished job meanwhile; true when it finished. For a first answer the
 * caller would rather have now than later; bounded, and only ever once
 * per job. */
bool nh_worker_wait(struct nh_worker *w, uint64_t key, uint64_t budget_ns);
/* Threads now stuck, and threads alive. */
unsigned nh_worker_stuck(struct nh_worker *w);
unsigned nh_worker_threads(struct nh_worker *w);

#endif
