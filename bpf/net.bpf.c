// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* Network: outbound connect (destination from the socket's peer once the
 * kernel set it; the caller's sockaddr only when it did not) and
 * accept/accept4 (peer and local port from the new socket itself, since
 * callers often pass a NULL address). */
#include "maps.bpf.h"

#define NH_EINPROGRESS 115

/* The whole 16-byte address, family, port and outcome, keyed. */
static __always_inline __u64 sockaddr_object(const struct nh_sockaddr *sa, __u64 extra)
{
	__u64 lo, hi;

	__builtin_memcpy(&lo, sa->addr, 8);
	__builtin_memcpy(&hi, sa->addr + 8, 8);
	return nh_object4(sa->family | ((__u64)sa->port << 16) | (extra << 32), lo, hi);
}

SEC("tp/syscalls/sys_enter_connect")
int nh_enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	const void *uaddr = (const void *)ctx->args[1];
	int fd = (int)ctx->args[0];
	struct nh_pending *p;
	struct sock *sk;
	__u16 family = 0;

	if (nh_filtered())
		return 0;
	/* A Unix socket by what the kernel says the socket is: its peer is
	 * read at exit, from the kernel's objects. */
	sk = nh_fd_sock(fd, true);
	if (sk && BPF_CORE_READ(sk, __sk_common.skc_family) == NH_AF_UNIX) {
		p = nh_pending_get(true);
		if (!p)
			return 0;
		p->sa.family = NH_AF_UNIX;
		p->sys = NH_SYS_CONNECT;
		p->fd = fd;
		return 0;
	}
	/* Which connects to follow is the socket's family, not the caller's
	 * sockaddr: that one can be swapped under the call. */
	family = sk ? BPF_CORE_READ(sk, __sk_common.skc_family) : 0;
	if (family != NH_AF_INET && family != NH_AF_INET6)
		return 0;
	p = nh_pending_get(true);
	if (!p)
		return 0;
	p->sk = (__u64)sk;
	/* The caller's address is only the fallback for a connect that set
	 * no peer (it failed): another thread can change it under the call. */
	__builtin_memset(&p->sa, 0, sizeof(p->sa));
	{
		struct sockaddr_in6 sin6 = {};

		bpf_probe_read_user(&sin6, sizeof(sin6), uaddr);
		nh_sockaddr_from(&sin6, &p->sa);
	}
	p->sys = NH_SYS_CONNECT;
	p->fd = fd;
	return 0;
}

/* The server's socket file and bound address, as the kernel keeps them
 * for the connected peer (a stream connect's peer shares the listener's
 * path and address; a datagram peer is the server's socket itself). */
static __always_inline bool unix_peer(int fd, struct nh_unix_event *e, char *path)
{
	struct sock *sk = nh_fd_sock(fd, true);
	struct unix_sock *pu;
	struct unix_address *addr;
	struct dentry *d;
	int len;

	if (!sk)
		return false;
	e->sock_type = BPF_CORE_READ(sk, sk_type);
	pu = (struct unix_sock *)BPF_CORE_READ((struct unix_sock *)sk, peer);
	if (!pu)
		return false;
	d = BPF_CORE_READ(pu, path.dentry);
	if (d) {
		e->ino = BPF_CORE_READ(d, d_inode, i_ino);
		e->dev = BPF_CORE_READ(d, d_inode, i_sb, s_dev);
	}
	addr = BPF_CORE_READ(pu, addr);
	if (!addr)
		return true;
	len = BPF_CORE_READ(addr, len) - 2; /* sun_family */
	if (len <= 0)
		return true;
	if (len > NH_UNIX_PATH_MAX)
		len = NH_UNIX_PATH_MAX;
	bpf_probe_read_kernel(path, len & 0x7f, addr->name[0].sun_path);
	e->path_len = len;
	return true;
}

static __always_inline int unix_exit(int fd, long ret)
{
	struct nh_unix_event ev = {}, *e;
	struct nh_scratch *s;
	struct nh_ctx c;
	__u32 zero = 0;
	__u64 h;

	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return 0;
	/* Stale bytes past the path must not reach the hash or the event. */
	__builtin_memset(s->path, 0, NH_UNIX_PATH_MAX + 8);
	if (ret != 0 || !unix_peer(fd, &ev, s->path)) {
		/* No peer (the connect failed): only the path the caller
		 * passed, read from its memory after the call. */
		struct pt_regs *regs = nh_regs();
		long len = (long)PT_REGS_PARM3_SYSCALL(regs) - 2;
		struct sock *sk = nh_fd_sock(fd, true);

		if (sk)
			ev.sock_type = BPF_CORE_READ(sk, sk_type);

		if (len > NH_UNIX_PATH_MAX)
			len = NH_UNIX_PATH_MAX;
		if (len > 0) {
			bpf_probe_read_user(s->path, len & 0x7f,
					    (const char *)PT_REGS_PARM2_SYSCALL(regs) + 2);
			ev.path_len = len;
		}
		ev.h.flags |= NH_F_USER_ADDR;
	}
	/* A filesystem path ends at its NUL; an abstract one is all its bytes. */
	if (ev.path_len && s->path[0]) {
		long n = 0;

		for (int i = 0; i < NH_UNIX_PATH_MAX; i++) {
			if (i >= ev.path_len || !s->path[i])
				break;
			n++;
		}
		ev.path_len = n;
	}
	nh_ctx_init(&c);
	h = nh_object_path(ev.ino, ev.dev << 32 | (__u64)(ret < 0 ? -ret & 0xffff : 0), s->path,
			   ev.path_len);
	if (nh_dedup_hit(&c, NH_KIND_UNIX_CONNECT, h))
		return 0;
	e = NH_RESERVE(struct nh_unix_event, NH_KIND_UNIX_CONNECT);
	if (!e)
		return 0;
	nh_fill_dedup_hdr(&e->h, &c, NH_KIND_UNIX_CONNECT, h);
	e->h.flags |= ev.h.flags;
	e->dev = ev.dev;
	e->ino = ev.ino;
	e->fd = fd;
	e->result = ret;
	e->path_len = ev.path_len;
	e->sock_type = ev.sock_type;
	e->pad = 0;
	e->pad2 = 0;
	bpf_probe_read_kernel(e->path, sizeof(e->path), s->path);
	nh_submit(e);
	nh_dedup_remember(&c, NH_KIND_UNIX_CONNECT, h);
	return 0;
}

/* The destination the kernel connected the socket to: a connect that
 * succeeded or is in progress (the peer is set before the SYN leaves) left
 * it in the socket, where the caller cannot swap it. The socket must be the
 * one the call had (not another put on the descriptor meanwhile) and have a
 * peer port (a failed TCP connect clears it). False: keep the caller's. */
static __always_inline bool connect_peer(int fd, __u64 sk_enter, long ret, struct nh_sockaddr *sa)
{
	struct sock *sk;
	struct nh_sockaddr k = {};

	if (ret != 0 && ret != -NH_EINPROGRESS)
		return false;
	sk = nh_fd_sock(fd, true);
	if (!sk || (__u64)sk != sk_enter)
		return false;
	k.family = BPF_CORE_READ(sk, __sk_common.skc_family);
	k.port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (k.family == NH_AF_INET)
		BPF_CORE_READ_INTO((__u32 *)k.addr, sk, __sk_common.skc_daddr);
	else if (k.family == NH_AF_INET6)
		BPF_CORE_READ_INTO(&k.addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	else
		return false;
	if (!k.port)
		return false;
	*sa = k;
	return true;
}

SEC("tp/syscalls/sys_exit_connect")
int nh_exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	struct nh_pending *p = nh_pending_take(NH_SYS_CONNECT, NH_SYS_CONNECT);
	struct nh_connect_event *e;
	struct nh_sockaddr sa;
	struct nh_ctx c;
	long ret = ctx->ret;
	__u32 flags = 0;
	__u64 h;
	int fd;

	if (!p)
		return 0;
	p->sys = NH_SYS_NONE;
	sa = p->sa;
	fd = p->fd;
	if (sa.family == NH_AF_UNIX)
		return unix_exit(fd, ret);
	if (!connect_peer(fd, p->sk, ret, &sa)) {
		/* No peer: a failed connect (or AF_UNSPEC, a disconnect). */
		if (sa.family != NH_AF_INET && sa.family != NH_AF_INET6)
			return 0;
		flags = NH_F_USER_ADDR;
	}
	nh_ctx_init(&c);
	h = sockaddr_object(&sa, ret < 0 ? -ret : 0);
	if (nh_dedup_hit(&c, NH_KIND_CONNECT, h))
		return 0;
	e = NH_RESERVE(struct nh_connect_event, NH_KIND_CONNECT);
	if (!e)
		return 0;
	nh_fill_dedup_hdr(&e->h, &c, NH_KIND_CONNECT, h);
	e->h.flags |= flags;
	e->dst = sa;
	e->fd = fd;
	e->result = ret;
	e->pad = 0;
	nh_submit(e);
	nh_dedup_remember(&c, NH_KIND_CONNECT, h);
	return 0;
}

static __always_inline struct sock *fd_sock(int fd)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct file **fds = BPF_CORE_READ(t, files, fdt, fd);
	unsigned int max = BPF_CORE_READ(t, files, fdt, max_fds);
	struct socket *sock;
	struct file *f = NULL;

	if (fd < 0 || (unsigned int)fd >= max)
		return NULL;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return NULL;
	sock = BPF_CORE_READ(f, private_data);
	return BPF_CORE_READ(sock, sk);
}

static __always_inline int accept_enter(__u32 sys, int fd)
{
	struct nh_pending *p;
	struct sock *sk;
	__u16 family;

	if (nh_filtered())
		return 0;
	/* Only network listeners: Unix-domain accepts are local IPC. */
	sk = fd_sock(fd);
	family = sk ? BPF_CORE_READ(sk, __sk_common.skc_family) : 0;
	if (family != NH_AF_INET && family != NH_AF_INET6)
		return 0;
	p = nh_pending_get(true);
	if (!p)
		return 0;
	p->sys = sys;
	p->fd = fd;
	return 0;
}

static __always_inline int accept_exit(long ret)
{
	struct nh_pending *p = nh_pending_take(NH_SYS_ACCEPT, NH_SYS_ACCEPT4);
	struct nh_accept_event *e;
	struct nh_sockaddr sa = {};
	struct sock *sk;
	struct nh_ctx c;
	__u16 lport = 0;
	__u32 sys;
	__u64 h;
	int fd;

	if (!p)
		return 0;
	sys = p->sys;
	fd = p->fd;
	p->sys = NH_SYS_NONE;
	/* Event loops poll accept on non-blocking sockets: nothing happened. */
	if (ret == -NH_EAGAIN)
		return 0;
	if (ret >= 0) {
		sk = fd_sock(ret);
		if (sk) {
			sa.family = BPF_CORE_READ(sk, __sk_common.skc_family);
			sa.port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
			lport = BPF_CORE_READ(sk, __sk_common.skc_num);
			if (sa.family == NH_AF_INET)
				BPF_CORE_READ_INTO((__u32 *)sa.addr, sk, __sk_common.skc_daddr);
			else if (sa.family == NH_AF_INET6)
				BPF_CORE_READ_INTO(&sa.addr, sk,
						   __sk_common.skc_v6_daddr.in6_u.u6_addr8);
		}
	}
	nh_ctx_init(&c);
	/* The peer's ephemeral port is not part of what is "the same". */
	{
		struct nh_sockaddr key = sa;

		key.port = lport;
		h = sockaddr_object(&key, ret < 0 ? -ret : 0);
	}
	if (nh_dedup_hit(&c, NH_KIND_ACCEPT, h))
		return 0;
	e = NH_RESERVE(struct nh_accept_event, NH_KIND_ACCEPT);
	if (!e)
		return 0;
	nh_fill_dedup_hdr(&e->h, &c, NH_KIND_ACCEPT, h);
	e->peer = sa;
	e->local_port = lport;
	e->syscall = sys;
	e->fd = fd;
	e->result = ret;
	nh_submit(e);
	nh_dedup_remember(&c, NH_KIND_ACCEPT, h);
	return 0;
}

SEC("tp/syscalls/sys_enter_accept")
int nh_enter_accept(struct trace_event_raw_sys_enter *ctx)
{
	return accept_enter(NH_SYS_ACCEPT, (int)ctx->args[0]);
}

SEC("tp/syscalls/sys_enter_accept4")
int nh_enter_accept4(struct trace_event_raw_sys_enter *ctx)
{
	return accept_enter(NH_SYS_ACCEPT4, (int)ctx->args[0]);
}

SEC("tp/syscalls/sys_exit_accept")
int nh_exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return accept_exit(ctx->ret);
}

SEC("tp/syscalls/sys_exit_accept4")
int nh_exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return accept_exit(ctx->ret);
}
