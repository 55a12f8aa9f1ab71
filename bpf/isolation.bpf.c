// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* What crosses a container's isolation: namespaces (unshare, setns,
 * mount, pivot_root), other processes' memory (ptrace,
 * process_vm_writev), and the kernel itself (bpf, init_module,
 * finit_module). Exit only: the outcome is what matters, and the
 * arguments are still in the saved registers there (see file.bpf.c). */
#include "maps.bpf.h"

SEC("tp/syscalls/sys_exit_unshare")
int nh_exit_unshare(struct trace_event_raw_sys_exit *ctx)
{
	if (nh_filtered())
		return 0;
	return nh_op_emit(NH_KIND_NAMESPACE, NH_SYS_UNSHARE, ctx->ret,
			  PT_REGS_PARM1_SYSCALL(nh_regs()), 0, 0, NULL, NULL);
}

SEC("tp/syscalls/sys_exit_setns")
int nh_exit_setns(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs;

	if (nh_filtered())
		return 0;
	regs = nh_regs();
	return nh_op_emit(NH_KIND_NAMESPACE, NH_SYS_SETNS, ctx->ret,
			  (__u32)PT_REGS_PARM2_SYSCALL(regs), (__s32)PT_REGS_PARM1_SYSCALL(regs), 0,
			  NULL, NULL);
}

/* The target as the caller wrote it: evidence, read after the call. */
SEC("tp/syscalls/sys_exit_mount")
int nh_exit_mount(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs;

	if (nh_filtered())
		return 0;
	regs = nh_regs();
	return nh_op_emit(NH_KIND_NAMESPACE, NH_SYS_MOUNT, ctx->ret, PT_REGS_PARM4_SYSCALL(regs), 0,
			  0, (const void *)PT_REGS_PARM2_SYSCALL(regs), NULL);
}

SEC("tp/syscalls/sys_exit_pivot_root")
int nh_exit_pivot_root(struct trace_event_raw_sys_exit *ctx)
{
	if (nh_filtered())
		return 0;
	return nh_op_emit(NH_KIND_NAMESPACE, NH_SYS_PIVOT_ROOT, ctx->ret, 0, 0, 0,
			  (const void *)PT_REGS_PARM1_SYSCALL(nh_regs()), NULL);
}

SEC("tp/syscalls/sys_exit_ptrace")
int nh_exit_ptrace(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs;
	long req;

	if (nh_filtered())
		return 0;
	regs = nh_regs();
	req = PT_REGS_PARM1_SYSCALL(regs);
	/* PTRACE_TRACEME names no target: the parent becomes the tracer. */
	return nh_op_emit(NH_KIND_PTRACE, NH_SYS_PTRACE, ctx->ret, req, 0,
			  req == 0 ? 0 : (__u32)PT_REGS_PARM2_SYSCALL(regs), NULL, NULL);
}

SEC("tp/syscalls/sys_exit_process_vm_writev")
int nh_exit_process_vm_writev(struct trace_event_raw_sys_exit *ctx)
{
	if (nh_filtered())
		return 0;
	return nh_op_emit(NH_KIND_PTRACE, NH_SYS_PROCESS_VM_WRITEV, ctx->ret, 0, 0,
			  (__u32)PT_REGS_PARM1_SYSCALL(nh_regs()), NULL, NULL);
}

SEC("tp/syscalls/sys_exit_bpf")
int nh_exit_bpf(struct trace_event_raw_sys_exit *ctx)
{
	if (nh_filtered())
		return 0;
	return nh_op_emit(NH_KIND_BPF, NH_SYS_BPF, ctx->ret,
			  (__u32)PT_REGS_PARM1_SYSCALL(nh_regs()), 0, 0, NULL, NULL);
}

SEC("tp/syscalls/sys_exit_init_module")
int nh_exit_init_module(struct trace_event_raw_sys_exit *ctx)
{
	if (nh_filtered())
		return 0;
	/* The image is in user memory, its name deep inside it: the size
	 * is what the event can say cheaply. */
	return nh_op_emit(NH_KIND_MODULE, NH_SYS_INIT_MODULE, ctx->ret, 0,
			  PT_REGS_PARM2_SYSCALL(nh_regs()), 0, NULL, NULL);
}

/* The module file's name as the kernel holds it (the opened file's
 * dentry), not a path the caller wrote. */
SEC("tp/syscalls/sys_exit_finit_module")
int nh_exit_finit_module(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs;
	int fd;

	if (nh_filtered())
		return 0;
	regs = nh_regs();
	fd = PT_REGS_PARM1_SYSCALL(regs);
	return nh_op_emit(NH_KIND_MODULE, NH_SYS_FINIT_MODULE, ctx->ret,
			  (__u32)PT_REGS_PARM3_SYSCALL(regs), fd, 0, NULL, nh_fd_name(fd));
}
