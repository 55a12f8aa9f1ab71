// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* Connectionless egress: sendto, sendmsg, sendmmsg to an IP destination
 * (UDP, raw, and TCP Fast Open connects). Exit only, arguments from the
 * saved registers (see file.bpf.c): one tracepoint per call.
 *
 * The destination is the socket's own peer whenever the kernel keeps one
 * (a connected socket, a Fast Open connect in progress): the caller
 * cannot swap it. An address passed with the call to an unconnected
 * datagram socket is only in user memory; it is read after the call and
 * flagged NH_F_USER_ADDR (docs/coverage.md says what that allows). A
 * connected stream socket's sends are not reported: its peer was reported
 * by the connect or accept that made it. */
#include "maps.bpf.h"

#define NH_SOCK_STREAM	1
#define NH_MSG_FASTOPEN 0x20000000
#define NH_MMSG_MAX	1024 /* UIO_MAXIOV: the kernel's bound on vlen */

static __always_inline __u64 send_object(const struct nh_sockaddr *sa, long ret)
{
	__u64 lo, hi;

	__builtin_memcpy(&lo, sa->addr, 8);
	__builtin_memcpy(&hi, sa->addr + 8, 8);
	return nh_object4(sa->family | ((__u64)sa->port << 16) |
			      ((__u64)(ret < 0 ? -ret & 0xffff : 0) << 32),
			  lo, hi);
}

/* The peer the kernel keeps for the socket; false when it has none. */
static __always_inline bool sock_peer(struct sock *sk, __u16 family, struct nh_sockaddr *sa)
{
	sa->family = family;
	sa->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == NH_AF_INET)
		BPF_CORE_READ_INTO((__u32 *)sa->addr, sk, __sk_common.skc_daddr);
	else
		BPF_CORE_READ_INTO(&sa->addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	return sa->port != 0;
}

/* An address in user memory; only IPv4 and IPv6 destinations. */
static __always_inline bool user_addr(const void *uaddr, struct nh_sockaddr *sa)
{
	struct sockaddr_in6 sin6 = {};

	if (!uaddr || bpf_probe_read_user(&sin6, sizeof(sin6), uaddr))
		return false;
	sa->family = sin6.sin6_family;
	if (sa->family == NH_AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&sin6;

		sa->port = bpf_ntohs(sin->sin_port);
		__builtin_memcpy(sa->addr, &sin->sin_addr.s_addr, 4);
		return true;
	}
	if (sa->family == NH_AF_INET6) {
		sa->port = bpf_ntohs(sin6.sin6_port);
		__builtin_memcpy(sa->addr, &sin6.sin6_addr, 16);
		return true;
	}
	return false;
}

static __always_inline void emit(struct nh_ctx *c, __u32 sys, int fd, long ret,
				 const struct nh_sockaddr *sa, bool from_user, __u32 index)
{
	struct nh_send_event *e;
	__u64 h = send_object(sa, ret);

	if (nh_dedup_hit(c, NH_KIND_SEND, h))
		return;
	e = NH_RESERVE(struct nh_send_event, NH_KIND_SEND);
	if (!e)
		return;
	nh_fill_dedup_hdr(&e->h, c, NH_KIND_SEND, h);
	if (from_user)
		e->h.flags |= NH_F_USER_ADDR;
	e->dst = *sa;
	e->fd = fd;
	e->result = ret;
	e->syscall = sys;
	e->pad = 0;
	e->msg_index = index;
	nh_submit(e);
	nh_dedup_remember(c, NH_KIND_SEND, h);
}

/* What every send shares: the socket, whether it is one to report, and
 * its family and type. */
struct send_sock {
	struct sock *sk;
	__u16 family;
	__u16 type;
};

static __always_inline bool send_sock(int fd, long ret, struct send_sock *s)
{
	struct sock *sk;

	/* Event loops write to full non-blocking sockets: nothing was sent.
	 * Not a socket: nothing was sent either, and fd's file is no
	 * socket to read. */
	if (ret == -NH_EAGAIN || ret == -NH_ENOTSOCK || ret == -NH_EBADF)
		return false;
	sk = nh_fd_sock(fd, false);
	if (!sk)
		return false;
	s->sk = sk;
	s->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (s->family != NH_AF_INET && s->family != NH_AF_INET6)
		return false;
	s->type = BPF_CORE_READ(sk, sk_type);
	return true;
}

/* One message's destination: the address it names, else the peer. */
static __always_inline void send_one(struct nh_ctx *c, __u32 sys, int fd, long ret,
				     const struct send_sock *s, const void *uaddr, __u32 flags,
				     __u32 index)
{
	struct nh_sockaddr sa = {};

	if (s->type == NH_SOCK_STREAM) {
		/* Only a Fast Open connect sends somewhere new; its address
		 * is in the socket once the call returns. */
		if (!uaddr || !(flags & NH_MSG_FASTOPEN) || !sock_peer(s->sk, s->family, &sa))
			return;
		emit(c, sys, fd, ret, &sa, false, index);
		return;
	}
	if (uaddr) {
		if (user_addr(uaddr, &sa))
			emit(c, sys, fd, ret, &sa, true, index);
		return;
	}
	if (sock_peer(s->sk, s->family, &sa))
		emit(c, sys, fd, ret, &sa, false, index);
}

SEC("tp/syscalls/sys_exit_sendto")
int nh_exit_sendto(struct trace_event_raw_sys_exit *ctx)
{
	struct send_sock s;
	struct pt_regs *regs;
	struct nh_ctx c;
	int fd;

	if (nh_filtered())
		return 0;
	regs = nh_regs();
	fd = PT_REGS_PARM1_SYSCALL(regs);
	if (!send_sock(fd, ctx->ret, &s))
		return 0;
	nh_ctx_init(&c);
	send_one(&c, NH_SYS_SENDTO, fd, ctx->ret, &s, (const void *)PT_REGS_PARM5_SYSCALL(regs),
		 PT_REGS_PARM4_SYSCALL(regs), 0);
	return 0;
}

SEC("tp/syscalls/sys_exit_sendmsg")
int nh_exit_sendmsg(struct trace_event_raw_sys_exit *ctx)
{
	struct user_msghdr msg = {};
	struct send_sock s;
	struct pt_regs *regs;
	struct nh_ctx c;
	__u32 flags;
	int fd;

	if (nh_filtered())
		return 0;
	regs = nh_regs();
	fd = PT_REGS_PARM1_SYSCALL(regs);
	if (!send_sock(fd, ctx->ret, &s))
		return 0;
	flags = PT_REGS_PARM3_SYSCALL(regs);
	if (bpf_probe_read_user(&msg, sizeof(msg), (const void *)PT_REGS_PARM2_SYSCALL(regs)))
		msg.msg_name = NULL;
	nh_ctx_init(&c);
	send_one(&c, NH_SYS_SENDMSG, fd, ctx->ret, &s, msg.msg_namelen ? msg.msg_name : NULL, flags,
		 0);
	return 0;
}

struct mmsg_loop {
	struct nh_ctx *c;
	struct send_sock *s;
	const struct mmsghdr *vec;
	long ret;
	__u32 flags;
	int fd;
	bool peer_done; /* messages without an address all go to the peer */
};

static long mmsg_one(__u64 i, void *data)
{
	struct mmsg_loop *l = data;
	struct user_msghdr msg = {};

	if (bpf_probe_read_user(&msg, sizeof(msg), &l->vec[i].msg_hdr))
		return 1;
	if (!msg.msg_namelen || !msg.msg_name) {
		if (l->peer_done)
			return 0;
		l->peer_done = true;
		msg.msg_name = NULL;
	}
	send_one(l->c, NH_SYS_SENDMMSG, l->fd, l->ret, l->s, msg.msg_name, l->flags, (__u32)i);
	return 0;
}

/* Every message the call sent, not only the first: one batch can reach
 * many destinations. A failed call sent none; its first message says
 * where it tried. */
SEC("tp/syscalls/sys_exit_sendmmsg")
int nh_exit_sendmmsg(struct trace_event_raw_sys_exit *ctx)
{
	struct mmsg_loop l = {};
	struct send_sock s;
	struct pt_regs *regs;
	struct nh_ctx c;
	long n;

	if (nh_filtered())
		return 0;
	regs = nh_regs();
	l.fd = PT_REGS_PARM1_SYSCALL(regs);
	if (!send_sock(l.fd, ctx->ret, &s))
		return 0;
	nh_ctx_init(&c);
	l.c = &c;
	l.s = &s;
	l.vec = (const struct mmsghdr *)PT_REGS_PARM2_SYSCALL(regs);
	l.ret = ctx->ret;
	l.flags = PT_REGS_PARM4_SYSCALL(regs);
	n = ctx->ret > 0 ? ctx->ret : 1;
	if (n > NH_MMSG_MAX)
		n = NH_MMSG_MAX;
	bpf_loop(n, mmsg_one, &l, 0);
	return 0;
}
