// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* Process lifecycle: exec, fork, exit, and cgroup removal. Never
 * deduplicated: the agent's process table depends on every one. */
#include "maps.bpf.h"

/* How the process came to be, for telling people from workloads: a
 * controlling terminal, and a pid namespace entered from outside. */
static __always_inline void exec_session(struct nh_exec_event *e)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct pid *p = t->thread_pid;
	unsigned int level = p->level;
	unsigned int plevel = t->real_parent->thread_pid->level;
	__u32 nr = 0;

	bpf_core_read(&nr, sizeof(nr), &p->numbers[level].nr);
	e->ns_pid = nr;
	if (t->signal->tty)
		e->h.flags |= NH_F_TTY;
	if (level > plevel && nr != 1)
		e->h.flags |= NH_F_NS_ENTERED;
}

/* What the new image runs as. The old credentials are gone by now, so
 * "privileged" is what a setuid, setgid or file-capability binary leaves:
 * an effective id other than the real one, or permitted capabilities
 * held by a non-root user. A 32-bit image has a 32-bit address space. */
static __always_inline void exec_creds(struct nh_exec_event *e)
{
	struct task_struct *t = bpf_get_current_task_btf();
	const struct cred *cr = t->cred;
	__u32 uid = cr->uid.val, gid = cr->gid.val;

	e->euid = cr->euid.val;
	e->egid = cr->egid.val;
	bpf_probe_read_kernel(&e->cap_effective, 8, &cr->cap_effective);
	bpf_probe_read_kernel(&e->cap_permitted, 8, &cr->cap_permitted);
	if (e->euid != uid || e->egid != gid || (uid != 0 && e->cap_permitted))
		e->h.flags |= NH_F_PRIV_EXEC;
	if (t->mm && t->mm->task_size <= 0x100000000ULL)
		e->h.flags |= NH_F_COMPAT32;
}

/* Exec records are built here, as long as the largest argv, and sent as
 * long as this one's. One slot per CPU: a per-CPU array cannot hold a
 * value over 32 KiB. The agent sizes it to the possible CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nh_exec_event);
} exec_scratch SEC(".maps");

/* argv up to the configured bound, one chunk at a time: a chunk that
 * cannot be read ends the copy there, flagged, instead of losing it all. */
static __always_inline void exec_args(struct nh_exec_event *e, unsigned long start, long len)
{
	for (__u32 i = 0; i < NH_ARGS_MAX / NH_ARGS_CHUNK; i++) {
		__u32 off = i * NH_ARGS_CHUNK;
		long n = len - off;

		if (n <= 0)
			break;
		if (n > NH_ARGS_CHUNK)
			n = NH_ARGS_CHUNK;
		barrier_var(n);
		if (n <= 0 || n > NH_ARGS_CHUNK || off > NH_ARGS_MAX - NH_ARGS_CHUNK)
			break;
		if (bpf_probe_read_user(e->args + off, n, (void *)(start + off)) != 0) {
			e->h.flags |= NH_F_ARGS_TRUNC;
			break;
		}
		e->args_len = off + n;
	}
}

SEC("tp/sched/sched_process_exec")
int nh_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *t;
	struct nh_exec_event *e;
	unsigned long start, end;
	struct nh_ctx c;
	__u32 cpu = bpf_get_smp_processor_id();
	long n, len;
	__u64 size;

	if (nh_filtered())
		return 0;
	nh_ctx_init(&c);
	e = bpf_map_lookup_elem(&exec_scratch, &cpu);
	if (!e)
		return 0;
	nh_fill_hdr(&e->h, &c, NH_KIND_EXEC);
	e->h.flags = 0;
	e->ns_pid = 0;
	exec_session(e);
	exec_creds(e);

	/* The scratch holds the last exec of this CPU: only what is sent is
	 * rewritten, the path in full so no byte of another path follows. */
	NH_ZERO(e->path);
	n = bpf_probe_read_kernel_str(e->path, sizeof(e->path),
				      (void *)ctx + (ctx->__data_loc_filename & 0xffff));
	e->path_len = n > 0 ? n - 1 : 0;
	if (n == sizeof(e->path))
		e->h.flags |= NH_F_PATH_TRUNC;

	t = (struct task_struct *)bpf_get_current_task();
	start = BPF_CORE_READ(t, mm, arg_start);
	end = BPF_CORE_READ(t, mm, arg_end);
	len = end > start ? end - start : 0;
	e->args_size = len > 0xffffffffL ? 0xffffffffU : (__u32)len;
	e->pad = 0;
	if (len > nh_args_max) {
		len = nh_args_max;
		e->h.flags |= NH_F_ARGS_TRUNC;
	}
	e->args_len = 0;
	exec_args(e, start, len);
	size = __builtin_offsetof(struct nh_exec_event, args) + e->args_len;
	barrier_var(size);
	if (size > sizeof(*e))
		size = sizeof(*e);
	nh_output(NH_KIND_EXEC, e, size);
	return 0;
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(nh_fork, struct task_struct *parent, struct task_struct *child)
{
	struct nh_fork_event *e;
	struct nh_ctx c;
	__u32 tgid = BPF_CORE_READ(child, tgid);
	__u32 pid = BPF_CORE_READ(child, pid);

	/* A new thread is not a new process. */
	if (tgid != pid || nh_filtered())
		return 0;
	nh_ctx_init(&c);
	e = NH_RESERVE(struct nh_fork_event, NH_KIND_FORK);
	if (!e)
		return 0;
	nh_fill_hdr(&e->h, &c, NH_KIND_FORK);
	e->child_tgid = tgid;
	e->child_pid = pid;
	nh_submit(e);
	return 0;
}

SEC("tp/sched/sched_process_exit")
int nh_exit(void *ctx)
{
	struct task_struct *t;
	struct nh_exit_event *e;
	struct nh_ctx c;

	nh_ctx_init(&c);
	/* The process ends with its last thread, which need not be the
	 * leader: signal->live has already dropped when this fires. */
	t = (struct task_struct *)bpf_get_current_task();
	if (BPF_CORE_READ(t, signal, live.counter) != 0 || nh_filtered())
		return 0;
	e = NH_RESERVE(struct nh_exit_event, NH_KIND_EXIT);
	if (!e)
		return 0;
	nh_fill_hdr(&e->h, &c, NH_KIND_EXIT);
	e->exit_code = BPF_CORE_READ(t, exit_code);
	e->pad = 0;
	nh_submit(e);
	return 0;
}

SEC("raw_tp/cgroup_rmdir")
int BPF_PROG(nh_cgroup_rmdir, struct cgroup *cgrp, const char *path)
{
	__u64 id = BPF_CORE_READ(cgrp, kn, id), now = bpf_ktime_get_ns();
	__u32 hier = BPF_CORE_READ(cgrp, root, hierarchy_id);
	struct nh_cgroup_event *e;
	struct nh_ctx c;

	/* Before the event: its dedup entries go even if the ring is full.
	 * Only the v2 hierarchy (id 0): v1 kernfs ids may equal a live v2 id. */
	if (hier == 0) {
		struct nh_dead_cgroup d = {.removed_ns = now};

		bpf_map_update_elem(&dead_cgroups, &id, &d, BPF_ANY);
	}
	nh_ctx_init(&c);
	e = NH_RESERVE(struct nh_cgroup_event, NH_KIND_CGROUP_RMDIR);
	if (!e)
		return 0;
	nh_fill_hdr(&e->h, &c, NH_KIND_CGROUP_RMDIR);
	e->h.cgroup_id = id;
	e->hierarchy_id = hier;
	e->pad = 0;
	nh_submit(e);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
