// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* Connectionless egress: sendto, sendmsg, sendmmsg to an IP destination
 * (UDP, raw, ping, and TCP Fast Open connects).
 *
 * sendto and sendmsg have no program on their syscall tracepoints: a
 * program there, however short, costs every send of the node about
 * 200 ns (the syscall tracepoint's record and dispatch; measured with an
 * empty bpftrace count), and nearly all sends are on connected sockets
 * whose destination the connect or accept already reported. A send that
 * names a destination makes the kernel route it, and the route lookup
 * (fib:fib_table_lookup, fib6:fib6_table_lookup) is where it is
 * reported: from the lookup's flow, the kernel's copy of the address,
 * which the caller cannot change under it. A connected socket's sends use
 * its cached route and cost nothing here. sendmmsg keeps its exit
 * program: one call names up to 1024 destinations, each with its index. */
#include "maps.bpf.h"

#define NH_SOCK_STREAM	    1
#define NH_SOCK_RAW	    3
#define NH_MSG_FASTOPEN	    0x20000000
#define NH_MMSG_MAX	    1024 /* UIO_MAXIOV: the kernel's bound on vlen */
#define NH_IPPROTO_TCP	    6
#define NH_IPPROTO_UDP	    17
#define NH_NR_SENDTO	    44 /* x86_64 syscall numbers */
#define NH_NR_SENDMSG	    46
#define NH_LOOPBACK_IFINDEX 1 /* an output lookup's iif */

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

/* Report a destination not yet in the dedup map under object h. */
static __always_inline void emit_new(struct nh_ctx *c, __u32 sys, int fd, long ret,
				     const struct nh_sockaddr *sa, bool from_user, __u32 index,
				     __u64 h)
{
	struct nh_send_event *e = NH_RESERVE(struct nh_send_event, NH_KIND_SEND);

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

static __always_inline void emit(struct nh_ctx *c, __u32 sys, int fd, long ret,
				 const struct nh_sockaddr *sa, bool from_user, __u32 index)
{
	__u64 h = send_object(sa, ret);

	if (!nh_dedup_hit(c, NH_KIND_SEND, h))
		emit_new(c, sys, fd, ret, sa, from_user, index, h);
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

/* One sendmmsg message's destination: the address it names (read from
 * the caller's memory after the call, flagged), else the peer. */
static __always_inline void send_one(struct nh_ctx *c, int fd, long ret, const struct send_sock *s,
				     const void *uaddr, __u32 flags, __u32 index)
{
	struct nh_sockaddr sa = {};

	if (s->type == NH_SOCK_STREAM) {
		/* Only a Fast Open connect sends somewhere new; its address
		 * is in the socket once the call returns. */
		if (!uaddr || !(flags & NH_MSG_FASTOPEN) || !sock_peer(s->sk, s->family, &sa))
			return;
		emit(c, NH_SYS_SENDMMSG, fd, ret, &sa, false, index);
		return;
	}
	if (uaddr) {
		if (user_addr(uaddr, &sa))
			emit(c, NH_SYS_SENDMMSG, fd, ret, &sa, true, index);
		else if (sock_peer(s->sk, s->family, &sa))
			/* AF_UNSPEC on an IPv6 socket: the kernel sends to the peer */
			emit(c, NH_SYS_SENDMMSG, fd, ret, &sa, false, index);
		return;
	}
	if (sock_peer(s->sk, s->family, &sa))
		emit(c, NH_SYS_SENDMMSG, fd, ret, &sa, false, index);
}

/* The lookup is the route of a send this socket makes: a UDP flow from
 * its port, a Fast Open connect of a stream socket (MSG_FASTOPEN), a raw
 * socket's packet, or a ping socket's. Not a connected stream socket's
 * re-route, and not another socket's flow: a softirq that runs on the
 * task's stack during the call (a tunnel encapsulating another packet)
 * routes flows of other ports. The CPU's preempt count would tell its
 * lookups apart directly, but a per-CPU variable is a data symbol, which
 * kernels without CONFIG_KALLSYMS_ALL (this one) cannot resolve. */
static __always_inline bool own_flow(struct sock *sk, __u8 proto, __u16 sport, __u32 flags)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u16 type = BPF_CORE_READ(sk, sk_type);

	if (family != NH_AF_INET && family != NH_AF_INET6)
		return false;
	if (type == NH_SOCK_RAW)
		return true; /* IP_HDRINCL routes as IPPROTO_RAW */
	if (BPF_CORE_READ(sk, sk_protocol) != proto)
		return false;
	if (proto == NH_IPPROTO_UDP)
		return BPF_CORE_READ(sk, __sk_common.skc_num) == sport;
	if (proto == NH_IPPROTO_TCP)
		return type == NH_SOCK_STREAM && (flags & NH_MSG_FASTOPEN);
	return true;
}

/* A route lookup made by the task itself inside its own sendto or
 * sendmsg. These programs run on every route lookup of the node: the
 * callers test the record first (a found route, err 0: with policy rules
 * a table without one answers -EAGAIN and the next is tried; an output
 * lookup, iif loopback), the task's registers come next. */
static __always_inline int send_lookup(__u8 proto, __u16 sport, const struct nh_sockaddr *sa)
{
	struct pt_regs *regs;
	struct sock *sk;
	struct nh_ctx c;
	__u32 sys, flags;
	__u64 h;
	long nr;
	int fd;

	/* The saved registers are a BTF pointer: plain loads. */
	regs = nh_regs();
	nr = regs->orig_ax;
	if (nr == NH_NR_SENDTO) {
		sys = NH_SYS_SENDTO;
		flags = PT_REGS_PARM4_SYSCALL(regs);
	} else if (nr == NH_NR_SENDMSG) {
		sys = NH_SYS_SENDMSG;
		flags = PT_REGS_PARM3_SYSCALL(regs);
	} else {
		return 0;
	}
	if (nh_filtered())
		return 0;
	nh_ctx_init(&c);
	/* A destination this identity's binary already sent to was checked
	 * against its socket when first reported: a repeat is counted
	 * without the socket's seven field reads (half the program). */
	h = send_object(sa, 0);
	if (nh_dedup_hit(&c, NH_KIND_SEND, h))
		return 0;
	fd = PT_REGS_PARM1_SYSCALL(regs);
	/* The call holds its socket; another thread may have replaced the
	 * descriptor since: the file's type is checked, and a socket whose
	 * flow this is not is not reported. */
	sk = nh_fd_sock(fd, true);
	if (!sk || !own_flow(sk, proto, sport, flags))
		return 0;
	/* Reported at its route: the call has not finished, result 0. */
	emit_new(&c, sys, fd, 0, sa, false, 0, h);
	return 0;
}

SEC("tp/fib/fib_table_lookup")
int nh_fib_lookup(struct trace_event_raw_fib_table_lookup *ctx)
{
	struct nh_sockaddr sa = {};

	if (ctx->err || ctx->iif != NH_LOOPBACK_IFINDEX)
		return 0;
	sa.family = NH_AF_INET;
	sa.port = ctx->dport;
	__builtin_memcpy(sa.addr, ctx->dst, 4);
	return send_lookup(ctx->proto, ctx->sport, &sa);
}

SEC("tp/fib6/fib6_table_lookup")
int nh_fib6_lookup(struct trace_event_raw_fib6_table_lookup *ctx)
{
	struct nh_sockaddr sa = {};

	if (ctx->err || ctx->iif != NH_LOOPBACK_IFINDEX)
		return 0;
	sa.family = NH_AF_INET6;
	sa.port = ctx->dport;
	/* dst is at an odd offset of the record: no direct context load */
	bpf_probe_read_kernel(sa.addr, sizeof(sa.addr), ctx->dst);
	return send_lookup(ctx->proto, ctx->sport, &sa);
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
	send_one(l->c, l->fd, l->ret, l->s, msg.msg_name, l->flags, (__u32)i);
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
