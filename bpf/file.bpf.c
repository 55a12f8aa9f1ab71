// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* File opens: open, openat, openat2. Arguments are kept at enter, the
 * path is read and deduplicated at exit when the result is known. */
#include "maps.bpf.h"

static __always_inline int open_enter(__u32 sys, int dirfd, const char *path, __u64 flags,
				      __u64 mode)
{
	struct nh_pending *p;

	if (nh_filtered())
		return 0;
	p = nh_pending_get(true);
	if (!p)
		return 0;
	p->sys = sys;
	p->fd = dirfd;
	p->ptr = (__u64)path;
	p->flags = flags;
	p->mode = mode;
	return 0;
}

static __always_inline int open_exit(long ret)
{
	struct nh_pending *p = nh_pending_take(NH_SYS_OPEN, NH_SYS_OPENAT2);
	struct nh_open_event *e;
	struct nh_scratch *s;
	struct nh_ctx c;
	__u32 zero = 0, sys, flags;
	__u64 h, ptr, mode;
	int dirfd;
	long n, len;

	if (!p)
		return 0;
	sys = p->sys;
	dirfd = p->fd;
	ptr = p->ptr;
	flags = p->flags;
	mode = p->mode;
	p->sys = NH_SYS_NONE;

	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return 0;
	n = bpf_probe_read_user_str(s->path, sizeof(s->path), (const void *)ptr);
	len = n > 0 ? n - 1 : 0;

	nh_ctx_init(&c);
	/* The same path opened the same way with the same outcome is one
	 * object; a failure is a different object from a success. */
	h = nh_hash_bytes(s->path, len);
	h = nh_mix(h, (flags & (NH_O_ACCMODE | NH_O_CREAT | NH_O_TRUNC)) |
			  ((__u64)(ret < 0 ? -ret : 0) << 32));
	if (nh_dedup_hit(&c, NH_KIND_OPEN, h))
		return 0;

	e = NH_RESERVE(struct nh_open_event, NH_KIND_OPEN);
	if (!e)
		return 0;
	nh_fill_hdr(&e->h, &c, NH_KIND_OPEN);
	e->h.obj_hash = h;
	if (nh_dedup_window_ns)
		e->h.flags |= NH_F_DEDUP;
	if (n == sizeof(s->path))
		e->h.flags |= NH_F_PATH_TRUNC;
	e->dirfd = dirfd;
	e->result = ret;
	e->open_flags = flags;
	e->mode = mode;
	e->path_len = len;
	e->syscall = sys;
	e->pad = 0;
	bpf_probe_read_kernel(e->path, sizeof(e->path), s->path);
	nh_submit(e);
	nh_dedup_remember(&c, NH_KIND_OPEN, h);
	return 0;
}

SEC("tp/syscalls/sys_enter_open")
int nh_enter_open(struct trace_event_raw_sys_enter *ctx)
{
	return open_enter(NH_SYS_OPEN, NH_AT_FDCWD, (const char *)ctx->args[0], ctx->args[1],
			  ctx->args[2]);
}

SEC("tp/syscalls/sys_enter_openat")
int nh_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return open_enter(NH_SYS_OPENAT, (int)ctx->args[0], (const char *)ctx->args[1],
			  ctx->args[2], ctx->args[3]);
}

SEC("tp/syscalls/sys_enter_openat2")
int nh_enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	struct open_how how = {};

	bpf_probe_read_user(&how, sizeof(how), (const void *)ctx->args[2]);
	return open_enter(NH_SYS_OPENAT2, (int)ctx->args[0], (const char *)ctx->args[1], how.flags,
			  how.mode);
}

SEC("tp/syscalls/sys_exit_open")
int nh_exit_open(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret);
}

SEC("tp/syscalls/sys_exit_openat")
int nh_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret);
}

SEC("tp/syscalls/sys_exit_openat2")
int nh_exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret);
}
