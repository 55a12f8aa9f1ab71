// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* Credential changes: the set*uid/set*gid families and capset. The old
 * credentials are read at enter and the new ones at exit, so the event
 * shows what really changed, not only what was asked. */
#include "maps.bpf.h"

static __always_inline bool is_gid_sys(__u32 sys)
{
	return sys >= NH_SYS_SETGID && sys <= NH_SYS_SETRESGID;
}

static __always_inline void read_ids(__u32 sys, __u32 ids[3])
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();

	if (is_gid_sys(sys)) {
		ids[0] = BPF_CORE_READ(t, cred, gid.val);
		ids[1] = BPF_CORE_READ(t, cred, egid.val);
		ids[2] = BPF_CORE_READ(t, cred, sgid.val);
	} else {
		ids[0] = BPF_CORE_READ(t, cred, uid.val);
		ids[1] = BPF_CORE_READ(t, cred, euid.val);
		ids[2] = BPF_CORE_READ(t, cred, suid.val);
	}
}

/* kernel_cap_t is a u64 since 6.3 and two u32s before: the same 8 bytes. */
static __always_inline void read_caps(__u64 caps[3])
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	const struct cred *cr = BPF_CORE_READ(t, cred);

	bpf_probe_read_kernel(&caps[0], 8, &cr->cap_effective);
	bpf_probe_read_kernel(&caps[1], 8, &cr->cap_permitted);
	bpf_probe_read_kernel(&caps[2], 8, &cr->cap_inheritable);
}

/* Read only the arguments the syscall has: touching ctx past the
 * tracepoint's record makes the attach fail with EACCES. */
static __always_inline int id_enter(__u32 sys, __u32 nargs, struct trace_event_raw_sys_enter *ctx)
{
	struct nh_pending *p;

	if (nh_filtered())
		return 0;
	p = nh_pending_get(true);
	if (!p)
		return 0;
	p->sys = sys;
	p->args[0] = ctx->args[0];
	p->args[1] = nargs > 1 ? ctx->args[1] : (__u32)-1;
	p->args[2] = nargs > 2 ? ctx->args[2] : (__u32)-1;
	read_ids(sys, p->old_ids);
	return 0;
}

static __always_inline int id_exit(long ret)
{
	struct nh_pending *p = nh_pending_take(NH_SYS_SETUID, NH_SYS_SETRESGID);
	struct nh_cred_event *e;
	struct nh_ctx c;
	__u32 kind;

	if (!p)
		return 0;
	kind = is_gid_sys(p->sys) ? NH_KIND_SETGID : NH_KIND_SETUID;
	nh_ctx_init(&c);
	e = NH_RESERVE(struct nh_cred_event, kind);
	if (!e) {
		p->sys = NH_SYS_NONE;
		return 0;
	}
	nh_fill_hdr(&e->h, &c, kind);
	e->syscall = p->sys;
	e->result = ret;
	__builtin_memcpy(e->old_ids, p->old_ids, sizeof(e->old_ids));
	/* Unused argument slots read as -1, "unchanged". */
	__builtin_memcpy(e->args, p->args, sizeof(e->args));
	read_ids(p->sys, e->new_ids);
	e->pad = 0;
	p->sys = NH_SYS_NONE;
	nh_submit(e);
	return 0;
}

SEC("tp/syscalls/sys_enter_capset")
int nh_enter_capset(struct trace_event_raw_sys_enter *ctx)
{
	struct nh_pending *p;

	if (nh_filtered())
		return 0;
	p = nh_pending_get(true);
	if (!p)
		return 0;
	p->sys = NH_SYS_CAPSET;
	read_caps(p->old_caps);
	return 0;
}

SEC("tp/syscalls/sys_exit_capset")
int nh_exit_capset(struct trace_event_raw_sys_exit *ctx)
{
	struct nh_pending *p = nh_pending_take(NH_SYS_CAPSET, NH_SYS_CAPSET);
	struct nh_capset_event *e;
	__u64 caps[3] = {};
	struct nh_ctx c;

	if (!p)
		return 0;
	p->sys = NH_SYS_NONE;
	nh_ctx_init(&c);
	e = NH_RESERVE(struct nh_capset_event, NH_KIND_CAPSET);
	if (!e)
		return 0;
	nh_fill_hdr(&e->h, &c, NH_KIND_CAPSET);
	e->result = ctx->ret;
	e->pad = 0;
	e->old_effective = p->old_caps[0];
	e->old_permitted = p->old_caps[1];
	e->old_inheritable = p->old_caps[2];
	read_caps(caps);
	e->new_effective = caps[0];
	e->new_permitted = caps[1];
	e->new_inheritable = caps[2];
	nh_submit(e);
	return 0;
}

/* setfsuid, setfsgid: real, effective and file-system id (the one file
 * access is checked against, which the set*id families leave alone);
 * setgroups: real and effective gid and the number of groups. */
static __always_inline void read_fs_ids(__u32 sys, __u32 ids[3])
{
	struct task_struct *t = bpf_get_current_task_btf();
	const struct cred *cr = t->cred;

	if (sys == NH_SYS_SETFSUID) {
		ids[0] = cr->uid.val;
		ids[1] = cr->euid.val;
		ids[2] = cr->fsuid.val;
	} else if (sys == NH_SYS_SETFSGID) {
		ids[0] = cr->gid.val;
		ids[1] = cr->egid.val;
		ids[2] = cr->fsgid.val;
	} else {
		ids[0] = cr->gid.val;
		ids[1] = cr->egid.val;
		ids[2] = cr->group_info->ngroups;
	}
}

static __always_inline int fs_enter(__u32 sys, struct trace_event_raw_sys_enter *ctx)
{
	struct nh_pending *p;

	if (nh_filtered())
		return 0;
	p = nh_pending_get(true);
	if (!p)
		return 0;
	p->sys = sys;
	p->args[0] = ctx->args[0];
	p->args[1] = (__u32)-1;
	p->args[2] = (__u32)-1;
	read_fs_ids(sys, p->old_ids);
	return 0;
}

/* setfsuid returns the previous id, never an error: the event says what
 * changed through the ids, and the result is that return value. */
static __always_inline int fs_exit(long ret)
{
	struct nh_pending *p = nh_pending_take(NH_SYS_SETFSUID, NH_SYS_SETGROUPS);
	struct nh_cred_event *e;
	struct nh_ctx c;
	__u32 kind;

	if (!p)
		return 0;
	kind = p->sys == NH_SYS_SETFSUID ? NH_KIND_SETUID : NH_KIND_SETGID;
	nh_ctx_init(&c);
	e = NH_RESERVE(struct nh_cred_event, kind);
	if (!e) {
		p->sys = NH_SYS_NONE;
		return 0;
	}
	nh_fill_hdr(&e->h, &c, kind);
	e->syscall = p->sys;
	e->result = ret;
	__builtin_memcpy(e->old_ids, p->old_ids, sizeof(e->old_ids));
	__builtin_memcpy(e->args, p->args, sizeof(e->args));
	read_fs_ids(p->sys, e->new_ids);
	e->pad = 0;
	p->sys = NH_SYS_NONE;
	nh_submit(e);
	return 0;
}

#define NH_FS_HOOKS(name, sys)                                                                     \
	SEC("tp/syscalls/sys_enter_" #name)                                                        \
	int nh_enter_##name(struct trace_event_raw_sys_enter *ctx)                                 \
	{                                                                                          \
		return fs_enter(sys, ctx);                                                         \
	}                                                                                          \
	SEC("tp/syscalls/sys_exit_" #name)                                                         \
	int nh_exit_##name(struct trace_event_raw_sys_exit *ctx)                                   \
	{                                                                                          \
		return fs_exit(ctx->ret);                                                          \
	}

NH_FS_HOOKS(setfsuid, NH_SYS_SETFSUID)
NH_FS_HOOKS(setfsgid, NH_SYS_SETFSGID)
NH_FS_HOOKS(setgroups, NH_SYS_SETGROUPS)

#define NH_ID_HOOKS(name, sys, nargs)                                                              \
	SEC("tp/syscalls/sys_enter_" #name)                                                        \
	int nh_enter_##name(struct trace_event_raw_sys_enter *ctx)                                 \
	{                                                                                          \
		return id_enter(sys, nargs, ctx);                                                  \
	}                                                                                          \
	SEC("tp/syscalls/sys_exit_" #name)                                                         \
	int nh_exit_##name(struct trace_event_raw_sys_exit *ctx)                                   \
	{                                                                                          \
		return id_exit(ctx->ret);                                                          \
	}

NH_ID_HOOKS(setuid, NH_SYS_SETUID, 1)
NH_ID_HOOKS(setreuid, NH_SYS_SETREUID, 2)
NH_ID_HOOKS(setresuid, NH_SYS_SETRESUID, 3)
NH_ID_HOOKS(setgid, NH_SYS_SETGID, 1)
NH_ID_HOOKS(setregid, NH_SYS_SETREGID, 2)
NH_ID_HOOKS(setresgid, NH_SYS_SETRESGID, 3)
