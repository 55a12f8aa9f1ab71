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
__u64 nh_dedup_deleted; /* idled out or purged by a flush */
__u64 nh_dedup_purged;	/* of those, entries of removed cgroups */
__u64 nh_dedup_evicted; /* pushed out by the LRU when full, estimated at each flush */
/* The last flush saw evictions: the next one recounts each identity's
 * entries, to find whose went and to put its quota count right. */
__u64 nh_dedup_recount;

/* For nh_hash_selftest: user space writes a message, reads the hash. */
__u64 nh_selftest_words[NH_SIPHASH_WORDS];
char nh_selftest_buf[NH_PATH_MAX];
__u64 nh_selftest_len;
__u64 nh_selftest_out;

struct flush_ctx {
	__u64 now;
	__u64 deleted; /* by this run */
	__u32 full;
	__u32 purge;   /* some removed cgroup awaits its purge */
	__u32 recount; /* count each owner's entries (nh_dedup_recount) */
	__u32 reown;   /* move entries to their identity (dedup_reown) */
};

/* An entry left the map by a delete: one less against its owner's quota.
 * The owner is read before the delete: an LRU map reuses a deleted
 * element at once. */
static __always_inline void owner_deleted(__u64 owner)
{
	struct nh_dedup_owner *o = bpf_map_lookup_elem(&dedup_owners, &owner);

	if (o && *(volatile __u64 *)&o->live)
		__sync_fetch_and_add(&o->live, -1);
}

static long owner_reset(struct bpf_map *map, __u64 *id, struct nh_dedup_owner *o,
			struct flush_ctx *fc)
{
	o->counted = 0;
	return 0;
}

/* After a recount: whatever an owner held beyond what the walk found went
 * without a delete, pushed out by the full map. An estimate: an entry
 * inserted behind the walk counts as gone, and is counted again at the
 * next recount. */
static long owner_settle(struct bpf_map *map, __u64 *id, struct nh_dedup_owner *o,
			 struct flush_ctx *fc)
{
	__u64 live = *(volatile __u64 *)&o->live;

	if (live > o->counted) {
		__sync_fetch_and_add(&o->evicted, live - o->counted);
		__sync_fetch_and_add(&o->live, o->counted - live);
	} else if (live < o->counted) {
		__sync_fetch_and_add(&o->live, o->counted - live);
	}
	return 0;
}

static long dead_pending(struct bpf_map *map, __u64 *id, struct nh_dead_cgroup *d,
			 struct flush_ctx *fc)
{
	if (!(d->flags & NH_DEAD_PURGED) && (__s64)(fc->now - d->removed_ns) >= 0) {
		fc->purge = 1;
		return 1;
	}
	return 0;
}

/* After the purge pass: markers older than this flush are purged; the
 * agent's acknowledgement came first, the marker has no more use. */
static long dead_done(struct bpf_map *map, __u64 *id, struct nh_dead_cgroup *d,
		      struct flush_ctx *fc)
{
	if ((__s64)(fc->now - d->removed_ns) < 0)
		return 0;
	if (__sync_fetch_and_or(&d->flags, NH_DEAD_PURGED) & NH_DEAD_ACKED)
		bpf_map_delete_elem(&dead_cgroups, id);
	return 0;
}

static __always_inline long emit_summary(struct nh_dedup_key *k, struct nh_dedup_val *v,
					 struct flush_ctx *fc);

/* An entry of a removed cgroup: its last repeats go out as a summary
 * (exact counts), then the entry, pinned or not, is deleted. */
static __always_inline bool purge_one(struct nh_dedup_key *k, struct nh_dedup_val *v,
				      struct flush_ctx *fc)
{
	struct nh_dead_cgroup *d;
	__u64 owner;

	if (!fc->purge)
		return false;
	d = bpf_map_lookup_elem(&dead_cgroups, &k->cgroup_id);
	if (!d || (__s64)(fc->now - d->removed_ns) < 0)
		return false;
	if (v->count && emit_summary(k, v, fc))
		return true; /* ring full: purged on the next run */
	owner = v->owner;
	if (!bpf_map_delete_elem(&dedup, k)) {
		fc->deleted++;
		__sync_fetch_and_add(&nh_dedup_deleted, 1);
		__sync_fetch_and_add(&nh_dedup_purged, 1);
		owner_deleted(owner);
	}
	return true;
}

/* Take the repeats counted so far into a summary event; 1 when the ring
 * is full (the count is put back, the caller stops). */
static __always_inline long emit_summary(struct nh_dedup_key *k, struct nh_dedup_val *v,
					 struct flush_ctx *fc)
{
	struct nh_summary_event *e;
	struct nh_counters *cnt;
	__u64 n;

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

/* An entry remembered before the agent named its cgroup's identity
 * counted against the cgroup itself: it moves to the identity's quota.
 * Beyond that quota it is dropped (its repeats summarised first), as a
 * first report at quota is not remembered; learned behaviour (pinned)
 * moves whatever the quota. True when the entry is gone. */
static __always_inline bool reown_one(struct nh_dedup_key *k, struct nh_dedup_val *v,
				      struct flush_ctx *fc)
{
	__u64 old = v->owner, *to = bpf_map_lookup_elem(&dedup_reown, &old);
	struct nh_dedup_owner *o;

	if (!to || *to == old)
		return false;
	o = nh_dedup_owner_get(*to);
	if (o && __sync_fetch_and_add(&o->live, 1) >= nh_dedup_quota &&
	    !(v->flags & NH_DEDUP_PINNED)) {
		__sync_fetch_and_add(&o->live, -1);
		if (v->count && emit_summary(k, v, fc))
			return false; /* ring full: moved on the next run */
		if (!bpf_map_delete_elem(&dedup, k)) {
			fc->deleted++;
			__sync_fetch_and_add(&nh_dedup_deleted, 1);
			__sync_fetch_and_add(&o->refused, 1);
			__sync_fetch_and_add(&nh_dedup_refused, 1);
			owner_deleted(old);
		}
		return true;
	}
	v->owner = *to;
	owner_deleted(old);
	return false;
}

static long flush_one(struct bpf_map *map, struct nh_dedup_key *k, struct nh_dedup_val *v,
		      struct flush_ctx *fc)
{
	__u64 owner;

	if (purge_one(k, v, fc))
		return fc->full ? 1 : 0;
	if (fc->reown && reown_one(k, v, fc))
		return fc->full ? 1 : 0;
	owner = v->owner;

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
		    !*(volatile __u64 *)&v->count && !bpf_map_delete_elem(&dedup, k)) {
			fc->deleted++;
			__sync_fetch_and_add(&nh_dedup_deleted, 1);
			owner_deleted(owner);
			return 0;
		}
	}
	if (fc->recount) {
		struct nh_dedup_owner *o = bpf_map_lookup_elem(&dedup_owners, &owner);

		if (o)
			o->counted++;
	}
	if (!v->count)
		return 0;
	if ((__s64)(fc->now - v->window_start) < (__s64)nh_dedup_window_ns)
		return 0;
	return emit_summary(k, v, fc);
}

/* An identity's flooded and lost counts since its last report, as one
 * flood record; taken with atomic exchanges so a hook adding at the same
 * time lands in this report or the next, never in neither. A record that
 * does not fit waits for the next run with its counts untouched. */
static long flood_one(struct bpf_map *map, __u64 *id, struct nh_budget *b, struct flush_ctx *fc)
{
	struct nh_flood_event *e;
	struct nh_counters *cnt;

	if (!*(volatile __u64 *)&b->since)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		fc->full = 1;
		return 1;
	}
	cnt = nh_counter(NH_KIND_FLOOD);
	if (cnt)
		cnt->emitted++;
	__builtin_memset(&e->h, 0, sizeof(e->h));
	e->h.ts_ns = fc->now;
	e->h.cgroup_id = *id;
	e->h.kind = NH_KIND_FLOOD;
	e->h.tgid = b->last >> 32;
	e->h.pid = e->h.tgid;
	e->h.uid = (__u32)b->last;
	/* since first: a count added after it sets it again for the next
	 * report, even when this report already took that count. */
	e->window_start = __sync_lock_test_and_set(&b->since, 0);
	e->budget = nh_flood_budget;
	e->budget_window = nh_flood_window_ns;
	e->pad = 0;
	for (int k = 0; k < NH_KIND_MAX; k++) {
		e->over[k] = b->over[k] ? __sync_lock_test_and_set(&b->over[k], 0) : 0;
		e->lost[k] = b->lost[k] ? __sync_lock_test_and_set(&b->lost[k], 0) : 0;
	}
	nh_submit(e);
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
	struct nh_dedup_val *v;

	/* A removed cgroup is never pinned: its entry would outlive it. */
	if (bpf_map_lookup_elem(&dead_cgroups, &k.cgroup_id))
		return 2;
	v = bpf_map_lookup_elem(&dedup, &k);
	if (!v) {
		/* The entry idled out before a busy agent got to its report:
		 * put it back pinned, or the next use would be reported in
		 * full again although it is known. */
		struct nh_dedup_val nv = {.window_start = bpf_ktime_get_ns(),
					  .flags = NH_DEDUP_PINNED,
					  .owner = k.cgroup_id};
		struct nh_dedup_owner *o;
		__u64 *id = bpf_map_lookup_elem(&identities, &k.cgroup_id);

		/* Known behaviour is put back whatever the quota, but counts
		 * against it. */
		if (id)
			nv.owner = *id & ~NH_IDENTITY_LEAF_ONLY;
		if (!bpf_map_update_elem(&dedup, &k, &nv, BPF_NOEXIST)) {
			__sync_fetch_and_add(&nh_dedup_inserted, 1);
			o = nh_dedup_quota ? nh_dedup_owner_get(nv.owner) : NULL;
			if (o)
				__sync_fetch_and_add(&o->live, 1);
			return 0;
		}
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
	/* Inserted before the walk: entries inserted during it may be seen
	 * too, which can only make this run's estimate low, never high. */
	__u64 inserted = *(volatile __u64 *)&nh_dedup_inserted;
	__u64 seen, present, evicted;

	/* Floods first: they are what a full ring most needs to say. */
	bpf_for_each_map_elem(&budgets, flood_one, &fc, 0);
	if (fc.full)
		return 1;
	bpf_for_each_map_elem(&dead_cgroups, dead_pending, &fc, 0);
	fc.reown = nh_dedup_quota && *(volatile __u64 *)&nh_dedup_reown_pending;
	if (nh_dedup_quota && nh_dedup_recount) {
		fc.recount = 1;
		bpf_for_each_map_elem(&dedup_owners, owner_reset, &fc, 0);
	}
	seen = bpf_for_each_map_elem(&dedup, flush_one, &fc, 0);
	if (fc.recount && !fc.full) {
		bpf_for_each_map_elem(&dedup_owners, owner_settle, &fc, 0);
		nh_dedup_recount = 0;
	}
	if (fc.purge && !fc.full)
		bpf_for_each_map_elem(&dead_cgroups, dead_done, &fc, 0);
	present = seen > fc.deleted ? seen - fc.deleted : 0;
	nh_dedup_entries_seen = present;
	/* Whatever was inserted and neither deleted nor present was evicted:
	 * a low estimate while hooks insert, so keep the highest. */
	evicted = inserted - *(volatile __u64 *)&nh_dedup_deleted;
	evicted = (__s64)(evicted - present) > 0 ? evicted - present : 0;
	if (evicted > nh_dedup_evicted) {
		nh_dedup_evicted = evicted;
		nh_dedup_recount = 1;
	}
	return fc.full ? 1 : 0;
}

/* The agent handled the removal of cgroup args[0]: it pins nothing more
 * for it. The marker goes once the purge is done too. */
SEC("raw_tp")
int nh_cgroup_ack(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 id = ctx->args[0];
	struct nh_dead_cgroup *d = bpf_map_lookup_elem(&dead_cgroups, &id);

	if (d && (__sync_fetch_and_or(&d->flags, NH_DEAD_ACKED) & NH_DEAD_PURGED))
		bpf_map_delete_elem(&dead_cgroups, &id);
	return 0;
}

/* The object hash of the message in nh_selftest_*, so user space can check
 * the kernel's SipHash against libcrypto's. */
SEC("raw_tp")
int nh_hash_selftest(void *ctx)
{
	long len = nh_selftest_len;

	if (len < 0 || len > NH_PATH_MAX)
		return 1;
	nh_selftest_out = nh_sip_path(nh_selftest_words[0], nh_selftest_words[1],
				      nh_selftest_words[2], nh_selftest_buf, len);
	return 0;
}
