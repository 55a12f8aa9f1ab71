/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proctable: what the agent knows about each live process (binary, parent,
 * cgroup), seeded from /proc at start-up and kept by exec/fork/exit events
 * so that events of short-lived processes are still attributed.
 */
#ifndef NH_PROCTABLE_H
#define NH_PROCTABLE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroupfs.h"
#include "nhiscope.h"
#include "u64map.h"

struct nh_proc {
	uint32_t tgid;
	uint32_t ppid;
	uint32_t uid;
	uint64_t cgroup_id;
	/* A human session: the process that began it (one with a terminal,
	 * or one that entered a pid namespace from outside) and its cgroup;
	 * inherited by descendants. 0 when none. */
	uint32_t session;
	uint64_t session_cgroup;
	bool session_new; /* this exec began the session */
	char comm[NH_COMM_LEN];
	char exe[NH_PATH_MAX];
	/* its start, ms since boot in clock ticks (/proc's starttime, or
	 * the fork's time cut to a tick): with tgid, one process instance */
	uint64_t start_ms;
};

struct nh_proctable {
	struct nh_u64map procs; /* tgid -> struct nh_proc */
	const struct nh_cgroupfs *fs;
	uint64_t full; /* entries evicted to stay within the bound */
};

int nh_proctable_init(struct nh_proctable *pt, const struct nh_cgroupfs *fs, size_t max_procs);
void nh_proctable_free(struct nh_proctable *pt);
/* Read every process under fs->proc. Returns how many were added. */
int nh_proctable_seed(struct nh_proctable *pt);

struct nh_proc *nh_proctable_get(struct nh_proctable *pt, uint32_t tgid);
/* Lookup, falling back to /proc for a process the table missed. */
struct nh_proc *nh_proctable_find(struct nh_proctable *pt, uint32_t tgid);

/* Event updates; each returns 0 or -errno (-ENOSPC at the bound). */
int nh_proctable_exec(struct nh_proctable *pt, const struct nh_exec_event *e);
int nh_proctable_fork(struct nh_proctable *pt, const struct nh_fork_event *e);
void nh_proctable_exit(struct nh_proctable *pt, uint32_t tgid);

#endif
