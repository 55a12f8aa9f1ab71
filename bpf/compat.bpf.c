// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* The compat monitor (opt-in, kernel.compatMonitor): syscalls a 64-bit
 * kernel took through its 32-bit entry (int $0x80, sysenter, a 32-bit
 * process's syscall). x86 does not fire the per-syscall `syscalls:`
 * tracepoints for them (trace_get_syscall_nr() is -1 when the task is in
 * a compat syscall), so every other hook is blind to them; only the raw
 * sys_enter tracepoint sees them, and it runs on every syscall of the
 * node. The fast path is one load of the task's thread_info status.
 *
 * Seen at entry: what the call asked for, not what it did. Paths and
 * addresses come from the caller's memory (NH_F_USER_ADDR). */
#include "maps.bpf.h"

#define NH_TS_COMPAT 0x0002 /* arch/x86/include/asm/thread_info.h */

/* ia32 syscall numbers (arch/x86/entry/syscalls/syscall_32.tbl) */
enum {
	IA32_OPEN = 5,
	IA32_CREAT = 8,
	IA32_EXECVE = 11,
	IA32_MOUNT = 21,
	IA32_SETUID16 = 23,
	IA32_PTRACE = 26,
	IA32_SETGID16 = 46,
	IA32_SETREUID16 = 70,
	IA32_SETREGID16 = 71,
	IA32_SETGROUPS16 = 81,
	IA32_SOCKETCALL = 102,
	IA32_INIT_MODULE = 128,
	IA32_SETFSUID16 = 138,
	IA32_SETFSGID16 = 139,
	IA32_SETRESUID16 = 164,
	IA32_SETRESGID16 = 170,
	IA32_CAPSET = 184,
	IA32_SETREUID = 203,
	IA32_SETREGID = 204,
	IA32_SETGROUPS = 206,
	IA32_SETRESUID = 208,
	IA32_SETRESGID = 210,
	IA32_SETUID = 213,
	IA32_SETGID = 214,
	IA32_SETFSUID = 215,
	IA32_SETFSGID = 216,
	IA32_PIVOT_ROOT = 217,
	IA32_OPENAT = 295,
	IA32_UNSHARE = 310,
	IA32_OPEN_BY_HANDLE_AT = 342,
	IA32_SETNS = 346,
	IA32_PROCESS_VM_WRITEV = 348,
	IA32_FINIT_MODULE = 350,
	IA32_BPF = 357,
	IA32_EXECVEAT = 358,
	IA32_CONNECT = 362,
	IA32_SENDTO = 369,
	IA32_OPENAT2 = 437,
};

/* socketcall(2) calls (linux/net.h) */
#define NH_SYS_CONNECT_CALL 3
#define NH_SYS_SENDTO_CALL  11

/* What the call is, as the native syscall; where its path or address is. */
struct compat_call {
	__u16 sys;
	__s8 path_arg; /* which argument is a path, -1 none */
	__s8 addr_arg; /* which argument is a sockaddr, -1 none */
};

static __always_inline bool classify(__u32 nr, struct compat_call *c)
{
	c->path_arg = -1;
	c->addr_arg = -1;
	switch (nr) {
	case IA32_OPEN:
		c->sys = NH_SYS_OPEN;
		c->path_arg = 0;
		return true;
	case IA32_CREAT:
		c->sys = NH_SYS_CREAT;
		c->path_arg = 0;
		return true;
	case IA32_EXECVE:
		c->sys = NH_SYS_EXECVE;
		c->path_arg = 0;
		return true;
	case IA32_OPENAT:
		c->sys = NH_SYS_OPENAT;
		c->path_arg = 1;
		return true;
	case IA32_OPENAT2:
		c->sys = NH_SYS_OPENAT2;
		c->path_arg = 1;
		return true;
	case IA32_EXECVEAT:
		c->sys = NH_SYS_EXECVEAT;
		c->path_arg = 1;
		return true;
	case IA32_MOUNT:
		c->sys = NH_SYS_MOUNT;
		c->path_arg = 1;
		return true;
	case IA32_PIVOT_ROOT:
		c->sys = NH_SYS_PIVOT_ROOT;
		c->path_arg = 0;
		return true;
	case IA32_CONNECT:
		c->sys = NH_SYS_CONNECT;
		c->addr_arg = 1;
		return true;
	case IA32_SENDTO:
		c->sys = NH_SYS_SENDTO;
		c->addr_arg = 4;
		return true;
	case IA32_SOCKETCALL:
		c->sys = NH_SYS_SOCKETCALL;
		return true;
	case IA32_SETUID16:
	case IA32_SETUID:
		c->sys = NH_SYS_SETUID;
		return true;
	case IA32_SETREUID16:
	case IA32_SETREUID:
		c->sys = NH_SYS_SETREUID;
		return true;
	case IA32_SETRESUID16:
	case IA32_SETRESUID:
		c->sys = NH_SYS_SETRESUID;
		return true;
	case IA32_SETGID16:
	case IA32_SETGID:
		c->sys = NH_SYS_SETGID;
		return true;
	case IA32_SETREGID16:
	case IA32_SETREGID:
		c->sys = NH_SYS_SETREGID;
		return true;
	case IA32_SETRESGID16:
	case IA32_SETRESGID:
		c->sys = NH_SYS_SETRESGID;
		return true;
	case IA32_SETFSUID16:
	case IA32_SETFSUID:
		c->sys = NH_SYS_SETFSUID;
		return true;
	case IA32_SETFSGID16:
	case IA32_SETFSGID:
		c->sys = NH_SYS_SETFSGID;
		return true;
	case IA32_SETGROUPS16:
	case IA32_SETGROUPS:
		c->sys = NH_SYS_SETGROUPS;
		return true;
	case IA32_CAPSET:
		c->sys = NH_SYS_CAPSET;
		return true;
	case IA32_PTRACE:
		c->sys = NH_SYS_PTRACE;
		return true;
	case IA32_PROCESS_VM_WRITEV:
		c->sys = NH_SYS_PROCESS_VM_WRITEV;
		return true;
	case IA32_UNSHARE:
		c->sys = NH_SYS_UNSHARE;
		return true;
	case IA32_SETNS:
		c->sys = NH_SYS_SETNS;
		return true;
	case IA32_BPF:
		c->sys = NH_SYS_BPF;
		return true;
	case IA32_INIT_MODULE:
		c->sys = NH_SYS_INIT_MODULE;
		return true;
	case IA32_FINIT_MODULE:
		c->sys = NH_SYS_FINIT_MODULE;
		return true;
	case IA32_OPEN_BY_HANDLE_AT:
		c->sys = NH_SYS_OPEN_BY_HANDLE_AT;
		return true;
	}
	return false;
}

/* A 32-bit sockaddr pointer in the caller's memory. */
static __always_inline void compat_addr(__u32 uaddr, struct nh_sockaddr *sa)
{
	struct sockaddr_in6 sin6 = {};

	if (!uaddr || bpf_probe_read_user(&sin6, sizeof(sin6), (const void *)(unsigned long)uaddr))
		return;
	nh_sockaddr_from(&sin6, sa); /* AF_UNIX and others: the family only */
}

SEC("raw_tp/sys_enter")
int nh_compat_enter(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct pt_regs *regs;
	struct nh_compat_event *e;
	struct compat_call cc;
	struct nh_scratch *s;
	struct nh_sockaddr sa = {};
	struct nh_ctx c;
	__u32 args[6], zero = 0, nr;
	long n = 0, len;
	__u64 h;

	if (!(t->thread_info.status & NH_TS_COMPAT))
		return 0;
	nr = (__u32)ctx->args[1];
	if (!classify(nr, &cc) || nh_filtered())
		return 0;
	regs = (struct pt_regs *)ctx->args[0];
	args[0] = BPF_CORE_READ(regs, bx);
	args[1] = BPF_CORE_READ(regs, cx);
	args[2] = BPF_CORE_READ(regs, dx);
	args[3] = BPF_CORE_READ(regs, si);
	args[4] = BPF_CORE_READ(regs, di);
	args[5] = BPF_CORE_READ(regs, bp);
	if (nr == IA32_SOCKETCALL) {
		/* socketcall(call, u32 *args): connect's address is args[1],
		 * sendto's args[4] */
		__u32 sargs[5] = {};

		bpf_probe_read_user(sargs, sizeof(sargs), (const void *)(unsigned long)args[1]);
		if (args[0] == NH_SYS_CONNECT_CALL)
			compat_addr(sargs[1], &sa);
		else if (args[0] == NH_SYS_SENDTO_CALL)
			compat_addr(sargs[4], &sa);
	} else if (cc.addr_arg == 1) {
		compat_addr(args[1], &sa);
	} else if (cc.addr_arg == 4) {
		compat_addr(args[4], &sa);
	}
	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return 0;
	if (cc.path_arg == 0)
		n = bpf_probe_read_user_str(s->path, sizeof(s->path),
					    (const void *)(unsigned long)args[0]);
	else if (cc.path_arg == 1)
		n = bpf_probe_read_user_str(s->path, sizeof(s->path),
					    (const void *)(unsigned long)args[1]);
	len = n > 0 ? n - 1 : 0;
	nh_ctx_init(&c);
	{
		__u64 lo, hi;

		__builtin_memcpy(&lo, sa.addr, 8);
		__builtin_memcpy(&hi, sa.addr + 8, 8);
		/* the call, its first argument (socketcall's call, an id),
		 * the address and the path: what makes two calls the same */
		h = nh_object_path(nr | (__u64)args[0] << 32,
				   sa.family | (__u64)sa.port << 16 | ((lo ^ hi) << 32), s->path,
				   len);
	}
	if (nh_dedup_hit(&c, NH_KIND_COMPAT_SYSCALL, h))
		return 0;
	e = NH_RESERVE(struct nh_compat_event, NH_KIND_COMPAT_SYSCALL);
	if (!e)
		return 0;
	nh_fill_dedup_hdr(&e->h, &c, NH_KIND_COMPAT_SYSCALL, h);
	e->h.flags |= NH_F_COMPAT32 | NH_F_USER_ADDR;
	if (n == sizeof(s->path))
		e->h.flags |= NH_F_PATH_TRUNC;
	e->syscall = cc.sys;
	e->path_len = len;
	e->nr = nr;
	e->args[0] = args[0];
	e->args[1] = args[1];
	e->args[2] = args[2];
	e->args[3] = args[3];
	e->dst = sa;
	e->pad = 0;
	NH_ZERO(e->path);
	if (len > 0)
		bpf_probe_read_kernel_str(e->path, sizeof(e->path), s->path);
	nh_submit(e);
	nh_dedup_remember(&c, NH_KIND_COMPAT_SYSCALL, h);
	return 0;
}
