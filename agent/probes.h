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
#include "selfwatch.h"

#define NH_PROBES_MAX  64
#define NH_TRACEFS     "/sys/kernel/tracing"
#define NH_BTF_VMLINUX "/sys/kernel/btf/vmlinux"

struct nh_probe {
	char prog[64];
	char tracepoint[96]; /* "syscalls:sys_enter_openat" */
	bool attached;
	/* not attached because this kernel lacks the syscall (CONFIG_MODULES,
	 * CONFIG_FHANDLE): no path to watch, so no reason to be unready */
	bool absent;
	struct bpf_link *link;
	struct bpf_program *bprog;
	uint32_t prog_id;  /* the kernel's id of our program */
	char error[160];   /* why it is not attached */
	bool map_reported; /* a foreign map was reported */
};

#define NH_PROBES_MAPS_MAX 32

struct nh_probes_config {
	uint32_t agent_tgid;
	uint64_t dedup_window_ns; /* 0 disables in-kernel dedup */
	uint32_t dedup_entries;
	uint32_t dedup_quota;	  /* entries per identity; 0: no quota */
	uint32_t ringbuf_bytes;	  /* power of two, multiple of the page size */
	uint64_t wakeup_bytes;	  /* wake the reader at this much unread; 0: always */
	uint32_t args_max;	  /* argv bytes copied per exec, <= NH_ARGS_MAX; 0: all */
	const char *scope_cgroup; /* absolute cgroup v2 directory, or NULL */
	uint64_t flood_budget;	  /* events per identity per window; 0: unlimited */
	uint64_t flood_window_ns;
	bool compat_monitor; /* attach nh_compat_enter (raw sys_enter) */
};

#define NH_PROBES_REOWN_MAX 1024 /* dedup_reown's max_entries */

struct nh_probes {
	struct nhiscope *skel;
	struct ring_buffer *rb;
	struct nh_probe probe[NH_PROBES_MAX];
	int nprobes;
	/* why the io_uring hooks are absent on this kernel ("" when not) */
	char uring_absent[160];
	int ncpus;
	struct nh_counters *percpu; /* scratch for one per-CPU lookup */
	/* Self-watch: the maps we created, the counters as last read (they
	 * only grow), and what was found changed. */
	uint32_t map_ids[NH_PROBES_MAPS_MAX];
	int nmaps;
	struct nh_counters last[NH_KIND_MAX];
	/* emitted that another process took away (a rewrite found by the
	 * agent's own count of records received; not added back) */
	uint64_t emitted_missing[NH_KIND_MAX];
	/* what the agent wrote into the maps only it writes */
	struct nh_shadow shadow_identities, shadow_inodes;
	/* dedup_reown keys written since the last complete flush */
	uint64_t reown[NH_PROBES_REOWN_MAX];
	int nreown;
	uint64_t tampered, reattached;
	char last_tamper[240];
};

/* One change to the agent's kernel side that the agent did not make. */
struct nh_tamper {
	char what[16];	  /* "link", "program", "map", "counters" */
	char detail[200]; /* which, and what was seen; no secret */
	bool repaired;	  /* attached again */
};

/* Root, kernel BTF and tracefs (mounted if missing): checked before any
 * other start-up work so a bad host gets one clear line. */
int nh_probes_preflight(char *err, size_t errlen);
/* Everything up to and including attach. On failure returns -errno and
 * writes a one-line reason into err. A hook that cannot be attached
 * does not stop the start (its probe says why, status and metrics show
 * it); none attached does. */
int nh_probes_start(struct nh_probes *p, const struct nh_probes_config *cfg,
		    ring_buffer_sample_fn on_event, void *ctx, char *err, size_t errlen);
void nh_probes_stop(struct nh_probes *p);
/*
 * Check that the kernel side is still ours: every attached program's
 * link still runs our program, programs still use only the maps we
 * created, counters never went backwards nor fell below the records the
 * agent received (received: per kind, records read from the ring), the
 * maps only the agent writes hold what it wrote. A link that is gone is
 * attached again, a map entry written back. Fills at most max entries
 * of out; returns how many.
 */
int nh_probes_verify(struct nh_probes *p, const uint64_t *received, struct nh_tamper *out, int max);
/* Hooks not attached (reduced coverage). */
/* Hooks attached now. */
int nh_probes_attached(const struct nh_probes *p);
int nh_probes_missing(const struct nh_probes *p);

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

/* Entries that cgroup `from` remembered in dedup before its identity was
 * known count against `to` from the next flush on (kernel quota). */
int nh_probes_dedup_reown(struct nh_probes *p, uint64_t from, uint64_t to);

/* The (device, inode) key of the file behind the agent's own descriptor
 * fd, read by the same BPF code as the open hook (nhiscope.h). */
int nh_probes_inode_learn(struct nh_probes *p, int fd, struct nh_inode_key *key);
/* Add, replace or remove an entry of the inode map. */
int nh_probes_inode_put(struct nh_probes *p, const struct nh_inode_key *key,
			const struct nh_inode_val *val);
int nh_probes_inode_del(struct nh_probes *p, const struct nh_inode_key *key);
/* The kernel's filter of the map's keys (nhiscope.h), made exact again
 * after deletes: NH_CRED_FILTER_WORDS words. put sets a key's bit itself. */
void nh_probes_inode_filter(struct nh_probes *p, const uint64_t *bits);
/* Tell the kernel that cgroup_id is an identity: its events and those of
 * the cgroups below it count against its budget. leaf_only: an identity
 * for its own members only (a cgroup nothing owns), which never replaces
 * an identity already known. */
int nh_probes_identity_set(struct nh_probes *p, uint64_t cgroup_id, bool leaf_only);
/* cgroup_id was removed: it names no identity any more. */
void nh_probes_identity_gone(struct nh_probes *p, uint64_t cgroup_id);

struct nh_dedup_stats {
	uint64_t evicted;	     /* entries the full map pushed out (LRU) */
	uint64_t purged;	     /* entries of removed cgroups, pinned ones included */
	uint64_t quota;		     /* entries per identity; 0: none */
	uint64_t refused;	     /* first reports not remembered: at quota */
	uint64_t identities_refused; /* of the identities the kernel holds a share for */
};
/* As of the last flush. */
void nh_probes_dedup_stats(struct nh_probes *p, struct nh_dedup_stats *out);

/* One identity's share of the dedup map (nhiscope.h). */
struct nh_dedup_share {
	uint64_t identity_cgroup;
	struct nh_dedup_owner o;
};
/* Up to max shares, most refused then most held first; the count, or
 * -errno. */
int nh_probes_dedup_shares(struct nh_probes *p, struct nh_dedup_share *out, size_t max);

#endif
