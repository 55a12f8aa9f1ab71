// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* File opens: open, openat, openat2, hooked at exit only, where the
 * result is known: the path is read, hashed and deduplicated there. */
#define NH_USE_CAST
#include "maps.bpf.h"

/* The arguments are read at exit from the task's saved user registers:
 * no enter hook and no per-task stash, which halves the tracepoints an
 * open crosses. The registers still hold them (arm64's overwritten x0 is
 * kept as orig_x0, which the _SYSCALL accessors use). bpf_task_pt_regs
 * returns a BTF pointer, so the fields are plain loads, not helper
 * calls: 42 ns less per open. */
static __always_inline int open_exit(__u32 sys, long ret)
{
	struct pt_regs *regs;
	struct nh_open_event *e;
	struct nh_scratch *s;
	struct nh_inode_val *cred;
	struct file *f;
	struct nh_ctx c;
	bool via_volume;
	__u32 zero = 0, flags;
	__u64 h, ptr, mode, ino, dev, identity;
	int dirfd;
	long n, len;

	if (nh_filtered())
		return 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	if (sys == NH_SYS_OPEN) {
		dirfd = NH_AT_FDCWD;
		ptr = PT_REGS_PARM1_SYSCALL(regs);
		flags = PT_REGS_PARM2_SYSCALL(regs);
		mode = PT_REGS_PARM3_SYSCALL(regs);
	} else if (sys == NH_SYS_CREAT) {
		dirfd = NH_AT_FDCWD;
		ptr = PT_REGS_PARM1_SYSCALL(regs);
		flags = NH_O_CREAT | NH_O_WRONLY | NH_O_TRUNC;
		mode = PT_REGS_PARM2_SYSCALL(regs);
	} else if (sys == NH_SYS_OPEN_BY_HANDLE_AT) {
		/* No path: a file handle names the file ("Shocker"). The
		 * object is the inode the kernel opened; the path shown is
		 * that file's name as the kernel holds it (its dentry). */
		dirfd = PT_REGS_PARM1_SYSCALL(regs);
		ptr = 0;
		flags = PT_REGS_PARM3_SYSCALL(regs);
		mode = 0;
	} else {
		dirfd = PT_REGS_PARM1_SYSCALL(regs);
		ptr = PT_REGS_PARM2_SYSCALL(regs);
		if (sys == NH_SYS_OPENAT) {
			flags = PT_REGS_PARM3_SYSCALL(regs);
			mode = PT_REGS_PARM4_SYSCALL(regs);
		} else {
			struct open_how how = {};

			bpf_probe_read_user(&how, sizeof(how),
					    (const void *)PT_REGS_PARM3_SYSCALL(regs));
			flags = how.flags;
			mode = how.mode;
		}
	}

	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return 0;
	if (sys == NH_SYS_OPEN_BY_HANDLE_AT)
		n = ret >= 0 ? bpf_probe_read_kernel_str(s->path, sizeof(s->path), nh_fd_name(ret))
			     : 0;
	else
		n = bpf_probe_read_user_str(s->path, sizeof(s->path), (const void *)ptr);
	len = n > 0 ? n - 1 : 0;

	nh_ctx_init(&c);
	/* The object is the file the kernel opened (device and inode, read
	 * from the returned descriptor), how (a write is not a repeat of a
	 * read), the outcome (a failure is a different object from a
	 * success) and the path as written, all under the load's key. */
	f = nh_fd_inode(ret, &ino, &dev);
	h = nh_object_path(ino,
			   dev << 32 | (__u64)(ret < 0 ? -ret & 0xffff : 0) << 16 |
			       (flags & (NH_O_ACCMODE | NH_O_CREAT | NH_O_TRUNC)),
			   s->path, len);
	if (nh_dedup_hit(&c, NH_KIND_OPEN, h))
		return 0;
	/* After dedup: a repeat is the same (device, inode), hence the same
	 * answer, and pays nothing for it. */
	cred = f ? nh_cred_of(f, dev, ino, &via_volume) : NULL;

	e = nh_reserve_for(&c, NH_KIND_OPEN, sizeof(*e), &identity);
	if (!e)
		return 0;
	nh_fill_dedup_hdr(&e->h, &c, NH_KIND_OPEN, h);
	if (n == sizeof(s->path))
		e->h.flags |= NH_F_PATH_TRUNC;
	e->dirfd = dirfd;
	e->result = ret;
	e->open_flags = flags;
	e->mode = mode;
	e->path_len = len;
	e->syscall = sys;
	e->cred_id = 0;
	if (cred) {
		e->cred_id = cred->id;
		e->h.flags |= NH_F_CRED_INODE | (via_volume ? NH_F_CRED_VOLUME : 0);
	}
	nh_path_copy(e->path, s->path, len);
	nh_submit(e);
	nh_dedup_remember_for(&c, NH_KIND_OPEN, h, identity);
	return 0;
}

SEC("tp/syscalls/sys_exit_open")
int nh_exit_open(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(NH_SYS_OPEN, ctx->ret);
}

SEC("tp/syscalls/sys_exit_openat")
int nh_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(NH_SYS_OPENAT, ctx->ret);
}

SEC("tp/syscalls/sys_exit_creat")
int nh_exit_creat(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(NH_SYS_CREAT, ctx->ret);
}

SEC("tp/syscalls/sys_exit_open_by_handle_at")
int nh_exit_open_by_handle_at(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(NH_SYS_OPEN_BY_HANDLE_AT, ctx->ret);
}

SEC("tp/syscalls/sys_exit_openat2")
int nh_exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(NH_SYS_OPENAT2, ctx->ret);
}

/*
 * The key of a file the agent watches, learned the way the hook above
 * sees it. Not attached: the agent opens the file (O_PATH), then runs
 * this with BPF_PROG_TEST_RUN in its own context, descriptor in args[0].
 * The same inline code as the hook (nh_fd_inode) reads the device and
 * inode, so a file system that reports another st_dev to stat(2) (btrfs
 * subvolumes, overlayfs) cannot make the two disagree. In this file
 * because the linker takes the bpf_rdonly_cast declaration from one
 * object only.
 */
__u64 nh_learn_dev;
__u64 nh_learn_ino;

SEC("raw_tp")
int nh_inode_learn(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 ino, dev;

	if (!nh_fd_inode((int)ctx->args[0], &ino, &dev))
		return 1;
	nh_learn_dev = dev;
	nh_learn_ino = ino;
	return 0;
}
