/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Shared by every hook file: maps, load-time configuration and the inline
 * helpers for attribution, dedup and emission. Maps and rodata are __weak
 * so each *.bpf.c compiles alone and `bpftool gen object` merges them.
 */
#ifndef NH_MAPS_BPF_H
#define NH_MAPS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "nhiscope.h"

#define NH_AF_UNIX   1
#define NH_AF_INET   2
#define NH_AF_INET6  10
#define NH_EAGAIN    11
#define NH_EBADF     9
#define NH_ENOTSOCK  88
#define NH_AT_FDCWD  -100
#define NH_O_ACCMODE 00000003
#define NH_O_WRONLY  00000001
#define NH_O_CREAT   00000100
#define NH_O_TRUNC   00001000

/* Load-time configuration, set by the agent between open and load. */
const volatile __u32 nh_agent_tgid __weak = 0;
const volatile __u64 nh_dedup_window_ns __weak = 0; /* 0 disables dedup */
const volatile __u32 nh_scoped __weak = 0;	    /* only trace under scope_cgroup[0] */
/* Wake the reader only once this much is unread (0: on every record). A
 * wakeup per record costs the traced task an irq_work and a cross-CPU
 * reschedule, several times the cost of the probe itself; the agent
 * drains on a short timer, so batching bounds latency, not correctness. */
const volatile __u64 nh_wakeup_bytes __weak = 0;
/* argv bytes copied per exec (<= NH_ARGS_MAX) */
const volatile __u32 nh_args_max __weak = NH_ARGS_MAX;

/* Flood isolation (nhiscope.h, struct nh_budget): events an identity may
 * send per window; 0 sends everything (losses are still attributed). */
const volatile __u64 nh_flood_budget __weak = 0;
const volatile __u64 nh_flood_window_ns __weak = 1000000000ULL;

/* Zeroes to clear ring-buffer records with one copy: the BPF backend
 * cannot inline a memset this large. Never written. */
const volatile char nh_zeroes[NH_PATH_MAX] __weak;

#define NH_ZERO(dst) bpf_probe_read_kernel((dst), sizeof(dst), (const void *)nh_zeroes)

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* resized by the agent before load */
} events SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NH_KIND_MAX);
	__type(key, __u32);
	__type(value, struct nh_counters);
} counters SEC(".maps") __weak;

/* LRU: a full map evicts the least recently used entry, so dedup never
 * stops; evictions are counted as inserted - deleted - present (nh_flush). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536); /* resized by the agent before load */
	__type(key, struct nh_dedup_key);
	__type(value, struct nh_dedup_val);
} dedup SEC(".maps") __weak;

/* Entries one identity may hold in dedup; 0: no quota. Set by the agent. */
const volatile __u64 nh_dedup_quota __weak = 0;

/* identity cgroup -> its share of dedup (nhiscope.h). LRU: an owner pushed
 * out starts counting again from zero, until the next recount. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct nh_dedup_owner);
} dedup_owners SEC(".maps") __weak;

/* Cgroups whose entries counted against themselves until the agent named
 * their identity (the first moments of a new pod): old owner -> identity.
 * Written by the agent only, emptied by it after the flush that moved
 * those entries onto the identity's quota (nh_dedup_reown_pending set for
 * that flush). Bounded: a cgroup missing here keeps what it held until
 * that ages out. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u64);
} dedup_reown SEC(".maps") __weak;

__u64 nh_dedup_reown_pending __weak;

/* Entries created in dedup (first reports and pins); the flush adds the
 * ones it deletes, so their difference with the entries present is what
 * the LRU evicted. */
__u64 nh_dedup_inserted __weak;
/* First reports not remembered because their identity held its quota. */
__u64 nh_dedup_refused __weak;

/* Removed cgroups whose dedup entries (pinned ones included) are to be
 * purged. A marker lives until both the flush purged after the removal and
 * the agent handled the removal event, after which it pins nothing more
 * for that cgroup; until then nh_pin refuses the cgroup.
 * LRU so a storm of removals between two flushes cannot fail an insert;
 * a removal pushed out is left to the dedup map's own eviction. */
struct nh_dead_cgroup {
	__u64 removed_ns;
	__u64 flags; /* NH_DEAD_* */
};

#define NH_DEAD_PURGED 1 /* a flush that began after the removal purged it */
#define NH_DEAD_ACKED  2 /* the agent handled the removal: no more pins come */

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct nh_dead_cgroup);
} dead_cgroups SEC(".maps") __weak;

/* cgroup id -> its identity's cgroup id, written by the agent as it
 * attributes cgroups (the identity maps to itself). LRU: an entry pushed
 * out only makes that cgroup's events fall back to the next ancestor
 * found, or to the cgroup itself, until the agent writes it again. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} identities SEC(".maps") __weak;

/* Budget and counts per identity cgroup, made by the hooks. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct nh_budget);
} budgets SEC(".maps") __weak;

/* A fresh budget, copied by the insert (too large for the BPF stack):
 * an array slot that is never written. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nh_budget);
} budget_zero SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} scope_cgroup SEC(".maps") __weak;

/* Syscall arguments kept from sys_enter to sys_exit; one per task since a
 * task has at most one syscall in flight. Task storage avoids a hash
 * update and delete per syscall. */
struct nh_pending {
	__u32 sys; /* enum nh_syscall, NH_SYS_NONE when idle */
	__s32 fd;
	__u32 args[3];
	__u32 old_ids[3];
	__u64 old_caps[3];
	struct nh_sockaddr sa;
	__u64 sk; /* connect: the socket at enter, so a descriptor swapped by
		   * another thread before exit is not read as this one */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct nh_pending);
} pending SEC(".maps") __weak;

struct nh_scratch {
	char path[NH_PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nh_scratch);
} scratch SEC(".maps") __weak;

/* Gathered once per event so the dedup key and the header agree. */
struct nh_ctx {
	__u64 now;
	__u64 pid_tgid;
	__u64 uid_gid;
	__u64 cgroup_id;
};

static __always_inline struct nh_counters *nh_counter(__u32 kind)
{
	return bpf_map_lookup_elem(&counters, &kind);
}

/* True when the current task must not be traced: the agent itself, or
 * outside the configured scope. */
static __always_inline bool nh_filtered(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (tgid == nh_agent_tgid)
		return true;
	if (nh_scoped && bpf_current_task_under_cgroup(&scope_cgroup, 0) != 1)
		return true;
	return false;
}

/* No clock read here: on a VM bpf_ktime_get_ns costs about 70 ns, a
 * quarter of a deduplicated repeat. Only events that are emitted read the
 * precise clock (nh_fill_hdr); repeats stamp a coarse one. */
static __always_inline void nh_ctx_init(struct nh_ctx *c)
{
	c->now = 0;
	c->pid_tgid = bpf_get_current_pid_tgid();
	c->uid_gid = bpf_get_current_uid_gid();
	c->cgroup_id = bpf_get_current_cgroup_id();
}

static __always_inline void nh_fill_hdr(struct nh_hdr *h, struct nh_ctx *c, __u32 kind)
{
	/* BTF loads, not a helper call per field: 100 ns less per event. A
	 * task past exit_namespaces has no nsproxy: the load reads 0. */
	struct task_struct *t = bpf_get_current_task_btf();

	if (!c->now)
		c->now = bpf_ktime_get_ns();
	h->ts_ns = c->now;
	h->cgroup_id = c->cgroup_id;
	h->obj_hash = 0;
	h->kind = kind;
	h->flags = 0;
	h->tgid = c->pid_tgid >> 32;
	h->pid = (__u32)c->pid_tgid;
	h->ppid = t->real_parent->tgid;
	h->uid = (__u32)c->uid_gid;
	h->gid = c->uid_gid >> 32;
	h->mntns = t->nsproxy->mnt_ns->ns.inum;
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

/* Header of the first report of a deduplicated object. */
static __always_inline void nh_fill_dedup_hdr(struct nh_hdr *h, struct nh_ctx *c, __u32 kind,
					      __u64 hash)
{
	nh_fill_hdr(h, c, kind);
	h->obj_hash = hash;
	if (nh_dedup_window_ns)
		h->flags |= NH_F_DEDUP;
}

/* Cgroup levels searched for the task's identity, from the top:
 * kubepods.slice/<qos>.slice/<pod>.slice is level 3; identities sit where
 * the kubelet, the runtime or systemd put them, near the root. */
#define NH_IDENTITY_DEPTH 8

/* The identity cgroup the current task's events count against: its own
 * cgroup when the agent named it, else the outermost of its ancestors (from
 * the root down) that the agent named as an identity, else its own cgroup
 * (not attributed yet). From the top, so a workload that nests cgroups
 * below its own, however deep, never leaves its identity; ancestors come
 * from the kernel's cgroup tree, not from names. */
static __always_inline __u64 nh_identity_of(void)
{
	__u64 leaf = bpf_get_current_cgroup_id(), id, *v;
	struct task_struct *t = bpf_get_current_task_btf();
	int level;

	v = bpf_map_lookup_elem(&identities, &leaf);
	if (v)
		return *v & ~NH_IDENTITY_LEAF_ONLY;
	level = t->cgroups->dfl_cgrp->level;
	for (int i = 1; i <= NH_IDENTITY_DEPTH; i++) {
		if (i >= level)
			break;
		id = bpf_get_current_ancestor_cgroup_id(i);
		v = bpf_map_lookup_elem(&identities, &id);
		if (v && !(*v & NH_IDENTITY_LEAF_ONLY))
			return *v;
	}
	return leaf;
}

/* The budget of the current task's identity, created on first use; NULL
 * when the map cannot hold it (then nothing is budgeted). */
static __always_inline struct nh_budget *nh_budget_of(__u64 id)
{
	struct nh_budget *b = bpf_map_lookup_elem(&budgets, &id), *zero;
	__u32 slot = 0;

	if (b)
		return b;
	zero = bpf_map_lookup_elem(&budget_zero, &slot);
	if (!zero)
		return NULL;
	bpf_map_update_elem(&budgets, &id, zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&budgets, &id);
}

static __always_inline struct nh_budget *nh_budget_get(void)
{
	return nh_budget_of(nh_identity_of());
}

static __always_inline void nh_budget_mark(struct nh_budget *b, __u64 now)
{
	if (!b->since)
		b->since = now ? now : 1;
	b->last =
	    (bpf_get_current_pid_tgid() & 0xffffffff00000000ULL) | (__u32)bpf_get_current_uid_gid();
}

/* Whether an event of kind may go to the ring: false when its identity
 * spent its budget in this window, and the event is counted instead.
 * The window restarts on the first event after it ends; two CPUs may
 * both restart it, which only resets the count twice: the budget is
 * approximate, the counts are exact. *clock: the clock, when it was read
 * (left alone otherwise). */
static __always_inline bool nh_admit(__u32 kind, struct nh_budget *b, __u64 *clock)
{
	struct nh_counters *cnt;
	__u64 now;

	if (!b || !nh_flood_budget || kind >= NH_KIND_MAX)
		return true;
	now = *clock = bpf_ktime_get_ns();
	if ((__s64)(now - b->window_start) >= (__s64)nh_flood_window_ns) {
		b->window_start = now;
		b->used = 0;
	}
	if (__sync_fetch_and_add(&b->used, 1) < nh_flood_budget)
		return true;
	__sync_fetch_and_add(&b->over[kind], 1);
	nh_budget_mark(b, now);
	cnt = nh_counter(kind);
	if (cnt)
		cnt->flooded++;
	return false;
}

/* A reservation failed: counted for the kind and for the identity. */
static __always_inline void nh_lost(__u32 kind, struct nh_budget *b)
{
	struct nh_counters *cnt = nh_counter(kind);

	if (cnt)
		cnt->lost++;
	if (b && kind < NH_KIND_MAX) {
		__sync_fetch_and_add(&b->lost[kind], 1);
		nh_budget_mark(b, bpf_ktime_get_ns());
	}
}

/* Removals are the agent's housekeeping (cache and dedup purges), not the
 * workload's behaviour: never budgeted, never a flood. */
static __always_inline struct nh_budget *nh_budget_for(__u32 kind)
{
	return kind == NH_KIND_CGROUP_RMDIR ? NULL : nh_budget_get();
}

/* Reserve a ring-buffer record and account for it against budget b:
 * beyond the identity's budget it is counted as flooded, a failed
 * reservation is a counted loss; never a silent one. */
static __always_inline void *nh_reserve_in(__u32 kind, __u64 size, struct nh_budget *b,
					   __u64 *clock)
{
	struct nh_counters *cnt;
	void *e;

	if (!nh_admit(kind, b, clock))
		return NULL;
	e = bpf_ringbuf_reserve(&events, size, 0);
	if (!e) {
		nh_lost(kind, b);
		return NULL;
	}
	cnt = nh_counter(kind);
	if (cnt)
		cnt->emitted++;
	return e;
}

static __always_inline void *nh_reserve(__u32 kind, __u64 size)
{
	__u64 clock;

	return nh_reserve_in(kind, size, nh_budget_for(kind), &clock);
}

#define NH_RESERVE(type, kind) ((type *)nh_reserve((kind), sizeof(type)))

/* nh_reserve for an event that may be remembered in dedup: also gives
 * the identity it counts against, so the dedup quota needs no second
 * walk (nh_dedup_remember_for), and leaves the budget's clock read in
 * c->now for the header (one read of a 70 ns clock, not two). */
static __always_inline void *nh_reserve_for(struct nh_ctx *c, __u32 kind, __u64 size,
					    __u64 *identity)
{
	*identity = nh_identity_of();
	return nh_reserve_in(kind, size, nh_budget_of(*identity), &c->now);
}

/* A sockaddr copied into sin6 (an IPv4 one fits) in the records' form:
 * the family always, port and address for IPv4 and IPv6 (then true). */
static __always_inline bool nh_sockaddr_from(const struct sockaddr_in6 *sin6,
					     struct nh_sockaddr *sa)
{
	sa->family = sin6->sin6_family;
	if (sa->family == NH_AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sin6;

		sa->port = bpf_ntohs(sin->sin_port);
		__builtin_memcpy(sa->addr, &sin->sin_addr.s_addr, 4);
		return true;
	}
	if (sa->family == NH_AF_INET6) {
		sa->port = bpf_ntohs(sin6->sin6_port);
		__builtin_memcpy(sa->addr, &sin6->sin6_addr, 16);
		return true;
	}
	return false;
}

static __always_inline __u64 nh_wakeup_flags(void)
{
	if (!nh_wakeup_bytes)
		return 0;
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= nh_wakeup_bytes
		   ? BPF_RB_FORCE_WAKEUP
		   : BPF_RB_NO_WAKEUP;
}

static __always_inline void nh_submit(void *e)
{
	bpf_ringbuf_submit(e, nh_wakeup_flags());
}

/* A record of variable length built elsewhere (a per-CPU scratch), copied
 * into the ring and accounted for like a reservation. */
static __always_inline void nh_output(__u32 kind, void *e, __u64 size)
{
	struct nh_budget *b = nh_budget_for(kind);
	struct nh_counters *cnt;
	__u64 clock;

	if (!nh_admit(kind, b, &clock))
		return;
	if (bpf_ringbuf_output(&events, e, size, nh_wakeup_flags())) {
		nh_lost(kind, b);
		return;
	}
	cnt = nh_counter(kind);
	if (cnt)
		cnt->emitted++;
}

/* The dedup object hash: SipHash-1-3 (the kernel's and Rust's table
 * hash) under a 128-bit key the agent draws at each load. A workload that
 * does not know the key cannot craft a name whose object equals another
 * one's, so it cannot hide its uses behind a benign object's count. The
 * message is standard SipHash input (full words, then the tail word with
 * the length in its top byte), so user space checks it against libcrypto
 * (nh_hash_selftest). Written here because BPF cannot call libcrypto. */
const volatile __u64 nh_hash_key[2] __weak = {0, 0};

struct nh_sip {
	__u64 v0, v1, v2, v3;
};

#define NH_ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

static __always_inline void nh_sip_round(struct nh_sip *s)
{
	s->v0 += s->v1;
	s->v1 = NH_ROTL(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = NH_ROTL(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = NH_ROTL(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = NH_ROTL(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = NH_ROTL(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = NH_ROTL(s->v2, 32);
}

static __always_inline void nh_sip_init(struct nh_sip *s)
{
	__u64 k0 = nh_hash_key[0], k1 = nh_hash_key[1];

	s->v0 = k0 ^ 0x736f6d6570736575ULL;
	s->v1 = k1 ^ 0x646f72616e646f6dULL;
	s->v2 = k0 ^ 0x6c7967656e657261ULL;
	s->v3 = k1 ^ 0x7465646279746573ULL;
}

static __always_inline void nh_sip_word(struct nh_sip *s, __u64 m)
{
	s->v3 ^= m;
	nh_sip_round(s);
	s->v0 ^= m;
}

/* tail: the last len % 8 bytes, little-endian; len: the whole message. */
static __always_inline __u64 nh_sip_final(struct nh_sip *s, __u64 tail, __u64 len)
{
	nh_sip_word(s, tail | (len << 56));
	s->v2 ^= 0xff;
	nh_sip_round(s);
	nh_sip_round(s);
	nh_sip_round(s);
	return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

/* Which binary acts, as the inode number of its executable: part of the
 * dedup object so a second binary touching the same object in the same
 * identity is reported, not folded into the first one's count. Plain BTF
 * loads; a task without mm (kernel thread) reads as 0. The device is left
 * out (another pointer chase, 27 ns a repeat): two binaries with one
 * inode number on two filesystems in one cgroup share a series, which
 * only merges their counts. */
static __always_inline __u64 nh_exe_id(void)
{
	struct task_struct *t = bpf_get_current_task_btf();

	return t->mm->exe_file->f_inode->i_ino;
}

/* The object of an event of fixed size: the acting binary then three
 * words, keyed-hashed as one 32-byte SipHash message. */
static __always_inline __u64 nh_object4(__u64 a, __u64 b, __u64 c)
{
	struct nh_sip s;

	nh_sip_init(&s);
	nh_sip_word(&s, nh_exe_id());
	nh_sip_word(&s, a);
	nh_sip_word(&s, b);
	nh_sip_word(&s, c);
	return nh_sip_final(&s, 0, 32);
}

/* Word i of a path of len bytes: its bytes past len (stale scratch)
 * cleared, 0 once the path has ended. */
static __always_inline __u64 nh_path_word(const char *buf, long len, int i)
{
	long rem = len - i * 8;
	__u64 w;

	if (rem <= 0)
		return 0;
	w = *(const __u64 *)(buf + i * 8);
	return rem < 8 ? w & ((1ULL << (rem * 8)) - 1) : w;
}

/* NH_SIPHASH_WORDS fixed words then len bytes of buf, as one SipHash
 * message. Bytes past len are stale scratch and must not reach the hash. */
static __always_inline __u64 nh_sip_path(__u64 w0, __u64 w1, __u64 w2, const char *buf, long len)
{
	struct nh_sip s;
	__u64 tail = 0;

	nh_sip_init(&s);
	nh_sip_word(&s, w0);
	nh_sip_word(&s, w1);
	nh_sip_word(&s, w2);
	for (int i = 0; i < NH_PATH_MAX / 8; i++) {
		if (len - i * 8 < 8) {
			tail = nh_path_word(buf, len, i);
			break;
		}
		nh_sip_word(&s, nh_path_word(buf, len, i));
	}
	return nh_sip_final(&s, tail, NH_SIPHASH_WORDS * 8 + len);
}

/* A path of len bytes (len < NH_PATH_MAX) from the scratch into a ring
 * record, the rest of dst zeroed (ring records are not, and the scratch
 * holds earlier opens of other tasks past the NUL): word loads and
 * stores, where a zeroing copy then a string copy were two helper calls
 * and 100 ns. dst must be 8-byte aligned in the record. */
static __always_inline void nh_path_copy(char *dst, const char *src, long len)
{
	for (int i = 0; i < NH_PATH_MAX / 8; i++)
		*(__u64 *)(dst + i * 8) = nh_path_word(src, len, i);
}

/* The object of a path: the binary, the opened file's inode, then its
 * device, mode and outcome in one word, then the path as written. */
static __always_inline __u64 nh_object_path(__u64 ino, __u64 dev_mode, const char *buf, long len)
{
	return nh_sip_path(nh_exe_id(), ino, dev_mode, buf, len);
}

/* Files and sockets the agent watches, by (device, inode): see
 * nhiscope.h. Filled by the agent only. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct nh_inode_key);
	__type(value, struct nh_inode_val);
} inodes SEC(".maps") __weak;

static __always_inline struct nh_inode_val *nh_inode_lookup(__u64 dev, __u64 ino)
{
	struct nh_inode_key k = {.ino = ino, .dev = (__u32)dev};

	return bpf_map_lookup_elem(&inodes, &k);
}

/* The (device, inode) of the file behind the current task's descriptor
 * fd, read right after the open returned it; zeroes when there is none.
 * Device is the kernel's internal dev_t (MAJOR << 20 | MINOR). Another
 * thread may swap the descriptor between the return and this read (dup2
 * onto it): then the object is the swapped-in file, which is still a
 * file the process holds. */
/* Only one object may use the kfunc: bpftool's linker refuses an extern
 * kfunc in two objects, and this libbpf resolves no "___flavour" names.
 * file.bpf.c (the open path, the hottest) has it; the others read
 * through bpf_probe_read_kernel. */
#ifdef NH_USE_CAST
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/* Returns the file (an untrusted, read-only BTF pointer: plain loads
 * that cannot fault), or NULL. */
static __always_inline struct file *nh_fd_inode(int fd, __u64 *ino, __u64 *dev)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct fdtable *fdt;
	struct file *fp = NULL, *f;

	*ino = 0;
	*dev = 0;
	if (fd < 0)
		return NULL;
	/* Plain BTF loads, one helper call for the slot (an array of
	 * pointers cannot be walked), then an untrusted cast so the file's
	 * fields are plain loads too: a helper call each cost 20 ns. */
	fdt = t->files->fdt;
	if (!fdt || (unsigned int)fd >= fdt->max_fds)
		return NULL;
	if (bpf_probe_read_kernel(&fp, sizeof(fp), &fdt->fd[fd]) || !fp)
		return NULL;
	f = bpf_rdonly_cast(fp, bpf_core_type_id_kernel(struct file));
	*ino = f->f_inode->i_ino;
	*dev = f->f_inode->i_sb->s_dev;
	return f;
}

/* Written by the agent only (nhiscope.h, nh_cred_filter_bit). */
__u64 nh_cred_filter[NH_CRED_FILTER_WORDS];

static __always_inline bool nh_cred_maybe(__u64 dev, __u64 ino)
{
	__u32 bit = nh_cred_filter_bit(ino, (__u32)dev);

	return nh_cred_filter[bit >> 6] & (1ULL << (bit & 63));
}

/*
 * The credential an opened file is, or NULL; *via_volume when it was
 * found through its volume. Most files cost two filter bits (the file,
 * its grandparent directory) and no map lookup; a set bit costs a
 * lookup, and the name is read only when the grandparent directory is a
 * volume. A projected
 * token is <vol>/..<timestamp>/<name>, a new file in a new directory at
 * each rotation, and the kubelet swaps <vol>/..data to it before the
 * agent can see it: matching the volume leaves no window in which a
 * fresh token opened through '..', /proc/<pid>/root or a dirfd goes
 * unnoticed.
 */
static __always_inline struct nh_inode_val *nh_cred_of(struct file *f, __u64 dev, __u64 ino,
						       bool *via_volume)
{
	struct nh_inode_val *v = NULL;
	struct dentry *d;
	__u64 name[NH_INODE_NAME / 8] = {}, want[NH_INODE_NAME / 8], gp;

	*via_volume = false;
	if (nh_cred_maybe(dev, ino))
		v = nh_inode_lookup(dev, ino);
	if (v)
		return v->kind == NH_INODE_CRED_FILE ? v : NULL;
	if (!f)
		return NULL;
	d = f->f_path.dentry;
	gp = d->d_parent->d_parent->d_inode->i_ino;
	if (!nh_cred_maybe(dev, gp))
		return NULL;
	v = nh_inode_lookup(dev, gp);
	if (!v || v->kind != NH_INODE_CRED_VOLUME)
		return NULL;
	bpf_probe_read_kernel_str(name, sizeof(name), d->d_name.name);
	__builtin_memcpy(want, v->name, sizeof(want));
	if (name[0] != want[0] || name[1] != want[1])
		return NULL;
	*via_volume = true;
	return v;
}
#endif

/* The name (last path component) of the file behind descriptor fd, as
 * the kernel holds it; NULL when there is none. */
static __always_inline const void *nh_fd_name(int fd)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct fdtable *fdt;
	struct file *fp = NULL;

	if (fd < 0)
		return NULL;
	fdt = t->files->fdt;
	if (!fdt || (unsigned int)fd >= fdt->max_fds)
		return NULL;
	if (bpf_probe_read_kernel(&fp, sizeof(fp), &fdt->fd[fd]) || !fp)
		return NULL;
	return BPF_CORE_READ(fp, f_path.dentry, d_name.name);
}

/* The socket behind the current task's descriptor fd, NULL when fd is not
 * a socket. The file's private data is a socket only for socket files:
 * checked through the inode's mode (S_IFSOCK) with check_mode; without
 * it the caller knows fd was a socket (the syscall did not fail with
 * ENOTSOCK). */
static __always_inline struct sock *nh_fd_sock(int fd, bool check_mode)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct fdtable *fdt;
	struct file *fp = NULL;

	if (fd < 0)
		return NULL;
	fdt = t->files->fdt;
	if (!fdt || (unsigned int)fd >= fdt->max_fds)
		return NULL;
	if (bpf_probe_read_kernel(&fp, sizeof(fp), &fdt->fd[fd]) || !fp)
		return NULL;
	if (check_mode && (BPF_CORE_READ(fp, f_inode, i_mode) & 00170000) != 0140000)
		return NULL;
	{
		struct socket *sock = BPF_CORE_READ(fp, private_data);

		return BPF_CORE_READ(sock, sk);
	}
}

/* The calling task's saved user registers: syscall arguments at exit. */
static __always_inline struct pt_regs *nh_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

static __always_inline void nh_dedup_key_init(struct nh_dedup_key *k, const struct nh_ctx *c,
					      __u32 kind, __u64 hash)
{
	k->cgroup_id = c->cgroup_id;
	k->obj_hash = hash;
	k->uid = (__u32)c->uid_gid;
	k->kind = kind;
}

/* A repeat of something already reported: count it in place and tell the
 * caller to stay silent. The summary is emitted when the window closes. */
static __always_inline bool nh_dedup_hit(const struct nh_ctx *c, __u32 kind, __u64 hash)
{
	struct nh_dedup_key k = {};
	struct nh_dedup_val *v;
	struct nh_counters *cnt;

	if (!nh_dedup_window_ns)
		return false;
	nh_dedup_key_init(&k, c, kind, hash);
	v = bpf_map_lookup_elem(&dedup, &k);
	if (!v)
		return false;
	/* No timestamp per repeat: the clock read would be a quarter of the
	 * cost, and a summary's window bounds the repeats closely enough. */
	__sync_fetch_and_add(&v->count, 1);
	v->last_tgid = c->pid_tgid >> 32;
	v->last_pid = (__u32)c->pid_tgid;
	cnt = nh_counter(kind);
	if (cnt)
		cnt->suppressed++;
	return true;
}

/* The dedup share of identity id, created on first use; NULL when the
 * map cannot hold it (then the entry is not counted against a quota). */
static __always_inline struct nh_dedup_owner *nh_dedup_owner_get(__u64 id)
{
	struct nh_dedup_owner *o = bpf_map_lookup_elem(&dedup_owners, &id), zero = {};

	if (o)
		return o;
	bpf_map_update_elem(&dedup_owners, &id, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&dedup_owners, &id);
}

/* Called after the first report reached the ring buffer, so a lost first
 * report does not hide every later repeat. An identity at its quota is
 * not remembered: its repeats go out in full (under its flood budget)
 * rather than push another identity's entries out of the map. */
static __always_inline void nh_dedup_remember_for(const struct nh_ctx *c, __u32 kind, __u64 hash,
						  __u64 identity)
{
	struct nh_dedup_key k = {};
	struct nh_dedup_val v = {};
	struct nh_dedup_owner *o = NULL;

	if (!nh_dedup_window_ns)
		return;
	if (nh_dedup_quota) {
		v.owner = identity ? identity : nh_identity_of();
		o = nh_dedup_owner_get(v.owner);
		/* Take the slot first, so two CPUs cannot both pass a check
		 * made at quota - 1; give it back if refused or not inserted. */
		if (o && __sync_fetch_and_add(&o->live, 1) >= nh_dedup_quota) {
			__sync_fetch_and_add(&o->live, -1);
			__sync_fetch_and_add(&o->refused, 1);
			__sync_fetch_and_add(&nh_dedup_refused, 1);
			return;
		}
	}
	nh_dedup_key_init(&k, c, kind, hash);
	v.window_start = c->now;
	v.last_tgid = c->pid_tgid >> 32;
	v.last_pid = (__u32)c->pid_tgid;
	if (!bpf_map_update_elem(&dedup, &k, &v, BPF_NOEXIST))
		__sync_fetch_and_add(&nh_dedup_inserted, 1);
	else if (o)
		__sync_fetch_and_add(&o->live, -1);
}

static __always_inline void nh_dedup_remember(const struct nh_ctx *c, __u32 kind, __u64 hash)
{
	nh_dedup_remember_for(c, kind, hash, 0);
}

static __always_inline struct nh_pending *nh_pending_get(bool create)
{
	struct task_struct *t = bpf_get_current_task_btf();

	return bpf_task_storage_get(&pending, t, 0, create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

/* Take the pending state of one of the given syscalls; NULL if the enter
 * was filtered or belonged to another syscall. */
static __always_inline struct nh_pending *nh_pending_take(__u32 lo, __u32 hi)
{
	struct nh_pending *p = nh_pending_get(false);

	if (!p || p->sys < lo || p->sys > hi)
		return NULL;
	return p;
}

/* Namespace, ptrace, bpf and module operations (struct nh_op_event):
 * rare, so each one is reported, deduplicated per identity, binary,
 * syscall, operation, target, outcome and path. path is a user string
 * (upath) or a kernel one (kpath), or neither. */
static __always_inline int nh_op_emit(__u32 kind, __u32 sys, long ret, __u64 op, __u64 arg,
				      __u32 target, const void *upath, const void *kpath)
{
	struct nh_op_event *e;
	struct nh_scratch *s;
	struct nh_ctx c;
	__u32 zero = 0;
	long n = 0, len;
	__u64 h;

	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return 0;
	if (upath)
		n = bpf_probe_read_user_str(s->path, sizeof(s->path), upath);
	else if (kpath)
		n = bpf_probe_read_kernel_str(s->path, sizeof(s->path), kpath);
	len = n > 0 ? n - 1 : 0;
	nh_ctx_init(&c);
	h = nh_object_path(
	    op, (__u64)sys | (__u64)(ret < 0 ? -ret & 0xffff : 0) << 16 | (__u64)target << 32,
	    s->path, len);
	if (nh_dedup_hit(&c, kind, h))
		return 0;
	e = NH_RESERVE(struct nh_op_event, kind);
	if (!e)
		return 0;
	nh_fill_dedup_hdr(&e->h, &c, kind, h);
	if (n == sizeof(s->path))
		e->h.flags |= NH_F_PATH_TRUNC;
	e->syscall = sys;
	e->path_len = len;
	e->target_pid = target;
	e->result = ret;
	e->op = op;
	e->arg = arg;
	NH_ZERO(e->path);
	if (len > 0)
		bpf_probe_read_kernel_str(e->path, sizeof(e->path), s->path);
	nh_submit(e);
	nh_dedup_remember(&c, kind, h);
	return 0;
}

#endif /* NH_MAPS_BPF_H */
