/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probes: the only agent module that knows about BPF. Opens the skeleton,
 * writes load-time configuration, loads, attaches each program (naming the
 * tracepoint when one is missing), and exposes the ring buffer, the dedup
 * flush and the per-kind counters.
 */
#ifndef NH_PROBES_H
#define NH_PROBES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bpf/libbpf.h>

#include "nhiscope.h"

#define NH_PROBES_MAX  48
#define NH_TRACEFS     "/sys/kernel/tracing"
#define NH_BTF_VMLINUX "/sys/kernel/btf/vmlinux"

struct nh_probe {
	char prog[64];
	char tracepoint[96]; /* "syscalls:sys_enter_openat" */
	bool attached;
	struct bpf_link *link;
};

struct nh_probes_config {
	uint32_t agent_tgid;
	uint64_t dedup_window_ns; /* 0 disables in-kernel dedup */
	uint32_t dedup_entries;
	uint32_t ringbuf_bytes;	  /* power of two, multiple of the page size */
	uint64_t wakeup_bytes;	  /* wake the reader at this much unread; 0: always */
	uint32_t args_max;	  /* argv bytes copied per exec, <= NH_ARGS_MAX; 0: all */
	const char *scope_cgroup; /* absolute cgroup v2 directory, or NULL */
	uint64_t flood_budget;	  /* events per identity per window; 0: unlimited */
	uint64_t flood_window_ns;
};

struct nh_probes {
	struct nhiscope *skel;
	struct ring_buffer *rb;
	struct nh_probe probe[NH_PROBES_MAX];
	int nprobes;
	int ncpus;
	struct nh_counters *percpu; /* scratch for one per-CPU lookup */
};

/* Root, kernel BTF and tracefs (mounted if missing): checked before any
 * other start-up work so a bad host gets one clear line. */
int nh_probes_preflight(char *err, size_t errlen);
/* Everything up to and including attach. On failure returns -errno and
 * writes a one-line reason into err. */
int nh_probes_start(struct nh_probes *p, const struct nh_probes_config *cfg,
		    ring_buffer_sample_fn on_event, void *ctx, char *err, size_t errlen);
void nh_probes_stop(struct nh_probes *p);

int nh_probes_epoll_fd(const struct nh_probes *p);
/* Drain what is in the ring buffer; returns records consumed or -errno. */
int nh_probes_consume(struct nh_probes *p);
/* Close expired dedup windows in the kernel (summaries go to the ring). */
int nh_probes_flush(struct nh_probes *p);
/* Counters for one kind, summed over CPUs. */
int nh_probes_counters(struct nh_probes *p, uint32_t kind, struct nh_counters *out);
/* The agent's own cgroup id, as the kernel sees it. 0 or -errno. */
int nh_probes_self_cgroup(struct nh_probes *p, uint64_t *id);
/* Entries in the dedup map when the last window closed (for status). */
long nh_probes_dedup_entries(struct nh_probes *p);
/* Mark a dedup entry as learned behaviour so it never expires: its
 * object is not reported in full again. -ENOENT when it is gone. */
int nh_probes_pin(struct nh_probes *p, const struct nh_dedup_key *key);
/* The agent handled cgroup_id's removal: it pins nothing more for it. */
int nh_probes_cgroup_gone(struct nh_probes *p, uint64_t cgroup_id);

/* Tell the kernel that cgroup_id is an identity: its events and those of
 * the cgroups below it count against its budget. leaf_only: an identity
 * for its own members only (a cgroup nothing owns), which never replaces
 * an identity already known. */
int nh_probes_identity_set(struct nh_probes *p, uint64_t cgroup_id, bool leaf_only);
/* cgroup_id was removed: it names no identity any more. */
void nh_probes_identity_gone(struct nh_probes *p, uint64_t cgroup_id);

struct nh_dedup_stats {
	uint64_t evicted; /* entries the full map pushed out (LRU) */
	uint64_t purged;  /* entries of removed cgroups, pinned ones included */
};
/* As of the last flush. */
void nh_probes_dedup_stats(struct nh_probes *p, struct nh_dedup_stats *out);

#endif
