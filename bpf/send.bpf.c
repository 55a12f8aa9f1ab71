// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* Connectionless egress: sendto, sendmsg, sendmmsg to an IP destination
 * (UDP, raw, and TCP Fast Open connects). Exit only, arguments from the
 * saved registers (see file.bpf.c): one tracepoint per call.
 *
 * The destination is the socket's own peer whenever the kernel keeps one
 * (a connected socket, a Fast Open connect in progress): the caller
 * cannot swap it. An address passed with a UDP sendto/sendmsg is the
 * kernel's copy as its route lookup saw it (fib:fib_table_lookup,
 * fib6:fib6_table_lookup, taken by the task during the call); only when
 * no lookup was made (local multicast or broadcast with an interface set,
 * 0.0.0.0, a cached route) or the socket is not UDP is the address read
 * from user memory after the call, and flagged NH_F_USER_ADDR
 * (docs/coverage.md says what that allows). A connected stream socket's
 * sends are not reported: its peer was reported by the connect or accept
 * that made it. */
#include "maps.bpf.h"

#define NH_SOCK_STREAM	    1
#define NH_MSG_FASTOPEN	    0x20000000
#define NH_MMSG_MAX	    1024 /* UIO_MAXIOV: the kernel's bound on vlen */
#define NH_IPPROTO_UDP	    17
#define NH_NR_SENDTO	    44 /* x86_64 syscall numbers */
#define NH_NR_SENDMSG	    46
#define NH_LOOPBACK_IFINDEX 1 /* an output lookup's iif */

/* The destination of the task's last UDP route lookup during a sendto or
 * sendmsg: the kernel's copy of the address, which the caller cannot
 * change once the call copied it. Taken (and cleared) by the call's exit. */
struct nh_send_flow {
	__u32 armed;
	__u16 family;
	__u16 sport; /* host order */
	__u16 dport;
	__u16 pad;
	__u8 addr[NH_ADDR_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct nh_send_flow);
} send_flow SEC(".maps");

/* The first UDP output route lookup of the task's sendto/sendmsg: the
 * address the caller named, as the kernel copied it. Later lookups of the
 * same call are not it: the receive side of a looped-back datagram, run
 * on this task's stack, or a re-route after NAT. An output lookup has
 * iif = loopback and, for UDP, the ports; a received packet's lookup has
 * no protocol unless fib rules need it, and its own iif. This program is
 * on every route lookup of the node: the protocol is tested first. */
static __always_inline struct nh_send_flow *send_lookup(__u8 proto, int iif)
{
	struct nh_send_flow *f;
	long nr;

	if (proto != NH_IPPROTO_UDP || iif != NH_LOOPBACK_IFINDEX)
		return NULL;
	nr = BPF_CORE_READ(nh_regs(), orig_ax);
	if ((nr != NH_NR_SENDTO && nr != NH_NR_SENDMSG) || nh_filtered())
		return NULL;
	f = bpf_task_storage_get(&send_flow, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	return f && !f->armed ? f : NULL;
}

SEC("tp/fib/fib_table_lookup")
int nh_fib_lookup(struct trace_event_raw_fib_table_lookup *ctx)
{
	struct nh_send_flow *f = send_lookup(ctx->proto, ctx->iif);

	if (!f)
		return 0;
	__builtin_memset(f->addr, 0, sizeof(f->addr));
	__builtin_memcpy(f->addr, ctx->dst, 4);
	f->family = NH_AF_INET;
	f->sport = ctx->sport;
	f->dport = ctx->dport;
	f->armed = 1;
	return 0;
}

SEC("tp/fib6/fib6_table_lookup")
int nh_fib6_lookup(struct trace_event_raw_fib6_table_lookup *ctx)
{
	struct nh_send_flow *f = send_lookup(ctx->proto, ctx->iif);

	if (!f)
		return 0;
	/* dst is at an odd offset of the record: no direct context load */
	bpf_probe_read_kernel(f->addr, sizeof(f->addr), ctx->dst);
	f->family = NH_AF_INET6;
	f->sport = ctx->sport;
	f->dport = ctx->dport;
	f->armed = 1;
	return 0;
}

/* The flow this call's route lookup recorded, if any, cleared so that a
 * later call without a lookup cannot take it. */
static __always_inline bool take_flow(struct nh_send_flow *out)
{
	struct nh_send_flow *f = bpf_task_storage_get(&send_flow, bpf_get_current_task_btf(), 0, 0);

	if (!f || !f->armed)
		return false;
	*out = *f;
	f->armed = 0;
	return true;
}

/* A send that ends early (a full non-blocking socket) may have routed:
 * its lookup must not be taken for a later call's. */
static __always_inline int forget_flow(long ret)
{
	struct nh_send_flow f;

	if (ret == -NH_EAGAIN)
		take_flow(&f);
	return 0;
}

/* The kernel's copy fits this socket: a UDP socket bound to the port the
 * lookup was made from. */
static __always_inline bool flow_dst(struct sock *sk, const struct nh_send_flow *f,
				     struct nh_sockaddr *sa)
{
	if (BPF_CORE_READ(sk, sk_protocol) != NH_IPPROTO_UDP ||
	    BPF_CORE_READ(sk, __sk_common.skc_num) != f->sport)
		return false;
	sa->family = f->family;
	sa->port = f->dport;
	__builtin_memcpy(sa->addr, f->addr, NH_ADDR_LEN);
	return true;
}

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
	return nh_sockaddr_from(&sin6, sa);
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
				     __u32 index, bool lookup)
{
	struct nh_send_flow flow;
	struct nh_sockaddr sa = {};

	if (s->type == NH_SOCK_STREAM) {
		/* Only a Fast Open connect sends somewhere new; its address
		 * is in the socket once the call returns. */
		if (!uaddr || !(flags & NH_MSG_FASTOPEN) || !sock_peer(s->sk, s->family, &sa))
			return;
		emit(c, sys, fd, ret, &sa, false, index);
		return;
	}
	/* The route lookup's copy first, whatever the caller's memory says
	 * now (even that it named no address). */
	if (lookup && take_flow(&flow) && flow_dst(s->sk, &flow, &sa)) {
		emit(c, sys, fd, ret, &sa, false, index);
		return;
	}
	if (uaddr) {
		if (user_addr(uaddr, &sa))
			emit(c, sys, fd, ret, &sa, true, index);
		else if (sock_peer(s->sk, s->family, &sa))
			/* AF_UNSPEC on an IPv6 socket: the kernel sends to the peer */
			emit(c, sys, fd, ret, &sa, false, index);
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
		return forget_flow(ctx->ret);
	nh_ctx_init(&c);
	send_one(&c, NH_SYS_SENDTO, fd, ctx->ret, &s, (const void *)PT_REGS_PARM5_SYSCALL(regs),
		 PT_REGS_PARM4_SYSCALL(regs), 0, true);
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
		return forget_flow(ctx->ret);
	flags = PT_REGS_PARM3_SYSCALL(regs);
	if (bpf_probe_read_user(&msg, sizeof(msg), (const void *)PT_REGS_PARM2_SYSCALL(regs)))
		msg.msg_name = NULL;
	nh_ctx_init(&c);
	send_one(&c, NH_SYS_SENDMSG, fd, ctx->ret, &s, msg.msg_namelen ? msg.msg_name : NULL, flags,
		 0, true);
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
	send_one(l->c, NH_SYS_SENDMMSG, l->fd, l->ret, l->s, msg.msg_name, l->flags, (__u32)i,
		 false);
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
