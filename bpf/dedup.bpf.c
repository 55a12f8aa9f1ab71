// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Closing dedup windows. Not attached to any hook: the agent runs it on a
 * timer with BPF_PROG_TEST_RUN, so the counts are taken with an atomic
 * exchange inside the kernel and can never race with the hooks adding to
 * them. A summary that does not fit in the ring buffer is put back and
 * retried on the next run.
 */
#include "maps.bpf.h"

__u64 nh_dedup_entries_seen;

struct flush_ctx {
	__u64 now;
	__u32 full;
};

static long flush_one(struct bpf_map *map, struct nh_dedup_key *k, struct nh_dedup_val *v,
		      struct flush_ctx *fc)
{
	struct nh_summary_event *e;
	struct nh_counters *cnt;
	__u64 n;

	/* Signed: a hook on another CPU may have stamped a time later than
	 * the one this run took. */
	if (!v->count) {
		/* No repeat since window_start (the first report or the last
		 * summary). Idle for two windows: forget it, so the map holds
		 * what is active and the next use is reported in full again. A
		 * repeat landing between this check and the delete is lost; it
		 * needs two idle windows then a hit within nanoseconds. */
		if (!(v->flags & NH_DEDUP_PINNED) &&
		    (__s64)(fc->now - v->window_start) >= (__s64)(2 * nh_dedup_window_ns) &&
		    !*(volatile __u64 *)&v->count)
			bpf_map_delete_elem(&dedup, k);
		return 0;
	}
	if ((__s64)(fc->now - v->window_start) < (__s64)nh_dedup_window_ns)
		return 0;
	n = __sync_lock_test_and_set(&v->count, 0);
	if (!n)
		return 0;
	/* Not nh_reserve: a summary that does not fit is deferred, not lost,
	 * and must not be counted as a loss on every retry. */
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&v->count, n);
		fc->full = 1;
		return 1; /* buffer full: stop, the rest waits for the next run */
	}
	cnt = nh_counter(NH_KIND_SUMMARY);
	if (cnt)
		cnt->emitted++;
	__builtin_memset(&e->h, 0, sizeof(e->h));
	e->h.ts_ns = fc->now;
	e->h.cgroup_id = k->cgroup_id;
	e->h.obj_hash = k->obj_hash;
	e->h.kind = NH_KIND_SUMMARY;
	e->h.tgid = v->last_tgid;
	e->h.pid = v->last_pid;
	e->h.uid = k->uid;
	e->key = *k;
	e->count = n;
	e->window_start = v->window_start;
	nh_submit(e);
	v->window_start = fc->now;
	return 0;
}

/* Pin one entry as learned behaviour. Run by the agent like nh_flush;
 * the key comes in the three context words. */
SEC("raw_tp")
int nh_pin(struct bpf_raw_tracepoint_args *ctx)
{
	struct nh_dedup_key k = {
	    .cgroup_id = ctx->args[0],
	    .obj_hash = ctx->args[1],
	    .uid = (__u32)ctx->args[2],
	    .kind = ctx->args[2] >> 32,
	};
	struct nh_dedup_val *v = bpf_map_lookup_elem(&dedup, &k);

	if (!v) {
		/* The entry idled out before a busy agent got to its report:
		 * put it back pinned, or the next use would be reported in
		 * full again although it is known. */
		struct nh_dedup_val nv = {.window_start = bpf_ktime_get_ns(),
					  .flags = NH_DEDUP_PINNED};

		if (!bpf_map_update_elem(&dedup, &k, &nv, BPF_NOEXIST))
			return 0;
		v = bpf_map_lookup_elem(&dedup, &k); /* a hook put it back first */
		if (!v)
			return 1; /* map full */
	}
	__sync_fetch_and_or(&v->flags, NH_DEDUP_PINNED);
	return 0;
}

SEC("raw_tp")
int nh_flush(void *ctx)
{
	struct flush_ctx fc = {.now = bpf_ktime_get_ns()};

	/* The entries visited, for status and metrics: counting them from
	 * user space costs a syscall each, in the agent's loop. */
	nh_dedup_entries_seen = bpf_for_each_map_elem(&dedup, flush_one, &fc, 0);
	return fc.full ? 1 : 0;
}
