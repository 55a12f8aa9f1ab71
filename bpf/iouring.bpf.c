// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * io_uring: opens, connects, accepts and sends that never cross the
 * syscalls: tracepoints. Three io_uring tracepoints, attached as tp_btf
 * (the raw tracepoint path, no trampoline):
 *   io_uring_create      a ring was set up: NH_KIND_IO_URING_CREATE;
 *   io_uring_submit_req  a request was prepared: the kernel's copies of
 *                        what it names are read here (the path prep
 *                        resolved into a struct filename, the address prep
 *                        copied into the request's async data) and kept
 *                        per request;
 *   io_uring_complete    its result: the event is made, with the same kind,
 *                        object and dedup as the syscall's and NH_F_IO_URING;
 *   io_uring_cqe_overflow its result when the CQ ring was full: it names the
 *                        ring and user_data, not the request, which is found
 *                        through a second index (uring_ud).
 * Attribution is the submitter's, taken at submission: the ring owner's
 * process and cgroup, also when the kernel's SQPOLL thread (a thread of
 * the owner's process) submits. Every field read is checked with CO-RE
 * (uring_layout): on a kernel with another layout the programs load and
 * do nothing, and the agent lists them as absent (probes.c).
 */
#include "maps.bpf.h"

#define NH_IORING_OP_SENDMSG	9
#define NH_IORING_OP_ACCEPT	13
#define NH_IORING_OP_CONNECT	16
#define NH_IORING_OP_OPENAT	18
#define NH_IORING_OP_SEND	26
#define NH_IORING_OP_OPENAT2	28
#define NH_IORING_OP_SEND_ZC	47
#define NH_IORING_OP_SENDMSG_ZC 48

#define NH_IORING_SETUP_SQPOLL	   (1U << 1)
#define NH_IORING_FILE_INDEX_ALLOC (~0U)
#define NH_REQ_F_CQE_SKIP	   (1ULL << 6) /* REQ_F_CQE_SKIP_BIT */
#define NH_PF_IO_WORKER		   0x00000010
#define NH_FFS_MASK		   (~3UL) /* io_rsrc_node.file_ptr: FFS_NOWAIT, FFS_ISREG */
#define NH_SOCK_STREAM		   1
#define NH_IORING_ACCEPT_MULTISHOT (1U << 0)
#define NH_IORING_CQE_F_MORE	   (1U << 1)
#define NH_MSG_FASTOPEN		   0x20000000

/* What a request named, kept from its submission to its completion. */
struct uring_req {
	__u64 pid_tgid; /* the submitter */
	__u64 uid_gid;
	__u64 cgroup_id;
	__u64 ring; /* with user_data: what an overflowing completion names */
	__u64 user_data;
	__u32 sys;   /* enum nh_syscall */
	__u32 op;    /* IORING_OP_* */
	__s32 fd;    /* the request's descriptor (dirfd for opens) */
	__u32 flags; /* open flags, msg flags */
	__u32 mode;
	__u32 file_slot; /* opens and accepts into the ring's fixed files */
	__u32 hflags;	 /* NH_F_* */
	__u16 path_len;
	__u16 has_addr; /* sa is the address the request named (kernel copy) */
	struct nh_sockaddr sa;
	char comm[NH_COMM_LEN];
	char path[NH_PATH_MAX]; /* open: path; unix connect: sun_path */
};

/* By request pointer. LRU: a request never completed (a ring torn down)
 * is pushed out by later ones. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct uring_req);
} uring_reqs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct uring_req);
} uring_scratch SEC(".maps");

/* A multishot accept stays armed: the kernel posts every connection
 * after the first as an auxiliary completion, which names the ring and
 * the request's user_data but not the request. Kept from submission
 * until the request's own (last) completion. */
struct uring_multi_key {
	__u64 ring;
	__u64 user_data;
};

struct uring_multi {
	__u64 req; /* only this request's own completion forgets the entry */
	__u64 pid_tgid;
	__u64 uid_gid;
	__u64 cgroup_id;
	__s32 fd;
	__u32 file_slot;
	__u32 hflags;
	__u32 pad;
	char comm[NH_COMM_LEN];
};

/* LRU: an entry whose request never completes (its ring torn down
 * without cancelling it) is pushed out by later ones; see
 * docs/coverage.md for a workload that arms more than this. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct uring_multi_key);
	__type(value, struct uring_multi);
} uring_multi SEC(".maps");

/* A completion that overflows the CQ ring names (ring, user_data), not
 * the request: each kept request is also indexed so, from submission to
 * completion. user_data is the process's: two requests in flight may
 * share it; then dup is set and an overflow searches uring_reqs. LRU as
 * uring_reqs, of the same size, so a flood pushes out both alike. */
struct uring_ud_val {
	__u64 req;
	__u64 dup;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct uring_multi_key);
	__type(value, struct uring_ud_val);
} uring_ud SEC(".maps");

/* Every structure field the programs read: CO-RE constants, so on a
 * kernel where one is missing every read below is dead code (and the
 * program still loads); nh_uring_layout tells the agent. */
static __always_inline bool uring_layout(void)
{
	return bpf_core_field_exists(struct io_kiocb, opcode) &&
	       bpf_core_field_exists(struct io_kiocb, cmd) &&
	       bpf_core_field_exists(struct io_kiocb, async_data) &&
	       bpf_core_field_exists(struct io_kiocb, ctx) &&
	       bpf_core_field_exists(struct io_kiocb, cqe) &&
	       bpf_core_field_exists(struct io_kiocb, flags) &&
	       bpf_core_field_exists(struct io_kiocb, file) &&
	       bpf_core_field_exists(struct io_cqe, res) &&
	       bpf_core_field_exists(struct io_cqe, fd) &&
	       bpf_core_field_exists(struct io_cqe, user_data) &&
	       bpf_core_field_exists(struct io_cqe, flags) &&
	       bpf_core_field_exists(struct io_open, dfd) &&
	       bpf_core_field_exists(struct io_open, file_slot) &&
	       bpf_core_field_exists(struct io_open, filename) &&
	       bpf_core_field_exists(struct io_open, how) &&
	       bpf_core_field_exists(struct filename, name) &&
	       bpf_core_field_exists(struct io_accept, file_slot) &&
	       bpf_core_field_exists(struct io_sr_msg, msg_flags) &&
	       bpf_core_field_exists(struct io_connect, addr_len) &&
	       bpf_core_field_exists(struct io_async_msghdr, addr) &&
	       bpf_core_field_exists(struct io_async_msghdr, msg) &&
	       bpf_core_field_exists(struct io_ring_ctx, flags) &&
	       bpf_core_field_exists(struct io_ring_ctx, file_table) &&
	       bpf_core_field_exists(struct io_rsrc_data, nodes) &&
	       bpf_core_field_exists(struct io_rsrc_data, nr) &&
	       bpf_core_field_exists(struct io_rsrc_node, file_ptr);
}

__u32 nh_uring_layout_ok;

/* Run by the agent (BPF_PROG_TEST_RUN) before it attaches the hooks. */
SEC("raw_tp")
int nh_uring_layout(struct bpf_raw_tracepoint_args *ctx)
{
	nh_uring_layout_ok = uring_layout();
	return 0;
}

/* The submitter's process name; an io_uring kernel thread (SQPOLL,
 * io-wq worker) is named after its thread group's leader, whose process
 * it is. */
static __always_inline void uring_comm(char *comm)
{
	struct task_struct *t = bpf_get_current_task_btf();

	if (t->flags & NH_PF_IO_WORKER)
		BPF_CORE_READ_STR_INTO((char(*)[NH_COMM_LEN])comm, t, group_leader, comm);
	else
		bpf_get_current_comm(comm, NH_COMM_LEN);
}

/* The header's attribution is the submitter's (kept in r). */
static __always_inline void uring_ctx(struct nh_ctx *c, const struct uring_req *r)
{
	c->now = 0;
	c->pid_tgid = r->pid_tgid;
	c->uid_gid = r->uid_gid;
	c->cgroup_id = r->cgroup_id;
}

static __always_inline void uring_hdr(struct nh_hdr *h, struct nh_ctx *c, __u32 kind, __u64 hash,
				      const struct uring_req *r)
{
	nh_fill_dedup_hdr(h, c, kind, hash);
	h->flags |= NH_F_IO_URING | r->hflags;
	__builtin_memcpy(h->comm, r->comm, NH_COMM_LEN);
}

/* A sockaddr in kernel memory (the request's copy). */
static __always_inline bool kernel_addr(const void *kaddr, struct nh_sockaddr *sa)
{
	struct sockaddr_in6 sin6 = {};

	if (bpf_probe_read_kernel(&sin6, sizeof(sin6), kaddr))
		return false;
	return nh_sockaddr_from(&sin6, sa);
}

/* The file in slot idx of the ring's fixed-file table. */
static __always_inline struct file *fixed_file(struct io_ring_ctx *ctx, __u32 idx)
{
	struct io_rsrc_node **nodes = BPF_CORE_READ(ctx, file_table.data.nodes), *node = NULL;
	unsigned int nr = BPF_CORE_READ(ctx, file_table.data.nr);

	if (idx >= nr || bpf_probe_read_kernel(&node, sizeof(node), &nodes[idx]) || !node)
		return NULL;
	return (struct file *)(BPF_CORE_READ(node, file_ptr) & NH_FFS_MASK);
}

/* The file behind descriptor fd of the completing task: a thread of the
 * submitter's process (they share the descriptor table). */
static __always_inline struct file *fd_file(int fd)
{
	/* plain BTF loads down to the table (a helper call each cost
	 * about 20 ns); the slot needs one */
	struct fdtable *fdt = bpf_get_current_task_btf()->files->fdt;
	struct file *f = NULL;

	if (!fdt || fd < 0 || (unsigned int)fd >= fdt->max_fds)
		return NULL;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fdt->fd[fd]))
		return NULL;
	return f;
}

/* The file a completed open or accept made: a descriptor, or a slot of
 * the ring's fixed files (file_slot is the slot + 1, or "allocate": then
 * the result is the slot). */
static __always_inline struct file *made_file(struct io_ring_ctx *ring, const struct uring_req *r,
					      long res)
{
	if (res < 0 || (r->hflags & NH_F_URING_NO_CQE))
		return NULL;
	if (!r->file_slot)
		return fd_file(res);
	return fixed_file(ring, r->file_slot == NH_IORING_FILE_INDEX_ALLOC ? (__u32)res
									   : r->file_slot - 1);
}

/* As nh_cred_of (maps.bpf.h), with reads that may fault. */
static __always_inline struct nh_inode_val *cred_of(struct file *f, __u64 dev, __u64 ino,
						    bool *via_volume)
{
	struct nh_inode_val *v = nh_inode_lookup(dev, ino);
	struct dentry *d;
	__u64 name[NH_INODE_NAME / 8] = {}, want[NH_INODE_NAME / 8];

	*via_volume = false;
	if (v)
		return v->kind == NH_INODE_CRED_FILE ? v : NULL;
	if (!f || !nh_inode_lookup(dev, 0))
		return NULL;
	d = BPF_CORE_READ(f, f_path.dentry);
	v = nh_inode_lookup(dev, BPF_CORE_READ(d, d_parent, d_parent, d_inode, i_ino));
	if (!v || v->kind != NH_INODE_CRED_VOLUME)
		return NULL;
	bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(d, d_name.name));
	__builtin_memcpy(want, v->name, sizeof(want));
	if (name[0] != want[0] || name[1] != want[1])
		return NULL;
	*via_volume = true;
	return v;
}

/* The open event, as file.bpf.c makes it; the object also says "by
 * io_uring", so a ring's use of a file is not folded into the syscall's. */
#define NH_OBJ_IO_URING 0x1000

static __always_inline void open_done(struct io_kiocb *req, struct uring_req *r, long res)
{
	struct nh_inode_val *cred = NULL;
	struct nh_open_event *e;
	struct file *f = made_file(BPF_CORE_READ(req, ctx), r, res);
	struct nh_ctx c;
	bool via_volume = false;
	__u64 h, ino = 0, dev = 0;
	long len = r->path_len;

	if (f) {
		ino = BPF_CORE_READ(f, f_inode, i_ino);
		dev = BPF_CORE_READ(f, f_inode, i_sb, s_dev);
		/* no path kept (see nh_uring_complete): the opened file's name
		 * as the kernel holds it, as for open_by_handle_at */
		if (!len) {
			long n = bpf_probe_read_kernel_str(
			    r->path, NH_PATH_MAX, BPF_CORE_READ(f, f_path.dentry, d_name.name));

			len = n > 0 ? n - 1 : 0;
		}
	}
	if (len > NH_PATH_MAX - 1)
		len = NH_PATH_MAX - 1;
	uring_ctx(&c, r);
	h = nh_object_path(ino,
			   dev << 32 | (__u64)(res < 0 ? -res & 0xffff : 0) << 16 |
			       NH_OBJ_IO_URING |
			       (r->flags & (NH_O_ACCMODE | NH_O_CREAT | NH_O_TRUNC)),
			   r->path, len);
	if (nh_dedup_hit(&c, NH_KIND_OPEN, h))
		return;
	if (f)
		cred = cred_of(f, dev, ino, &via_volume);
	e = NH_RESERVE(struct nh_open_event, NH_KIND_OPEN);
	if (!e)
		return;
	uring_hdr(&e->h, &c, NH_KIND_OPEN, h, r);
	e->dirfd = r->fd;
	e->result = res;
	e->open_flags = r->flags;
	e->mode = r->mode;
	e->path_len = len;
	e->syscall = r->sys;
	e->cred_id = 0;
	if (cred) {
		e->cred_id = cred->id;
		e->h.flags |= NH_F_CRED_INODE | (via_volume ? NH_F_CRED_VOLUME : 0);
	}
	NH_ZERO(e->path);
	bpf_probe_read_kernel_str(e->path, sizeof(e->path), r->path);
	nh_submit(e);
	nh_dedup_remember(&c, NH_KIND_OPEN, h);
}

static __always_inline __u64 addr_object(const struct nh_sockaddr *sa, __u64 extra)
{
	__u64 lo, hi;

	__builtin_memcpy(&lo, sa->addr, 8);
	__builtin_memcpy(&hi, sa->addr + 8, 8);
	return nh_object4(sa->family | ((__u64)sa->port << 16) | (extra << 32), lo, hi);
}

static __always_inline void connect_done(struct uring_req *r, long res)
{
	struct nh_connect_event *e;
	struct nh_ctx c;
	__u64 h;

	uring_ctx(&c, r);
	h = addr_object(&r->sa, (res < 0 ? -res & 0xffff : 0) | NH_OBJ_IO_URING << 16);
	if (nh_dedup_hit(&c, NH_KIND_CONNECT, h))
		return;
	e = NH_RESERVE(struct nh_connect_event, NH_KIND_CONNECT);
	if (!e)
		return;
	uring_hdr(&e->h, &c, NH_KIND_CONNECT, h, r);
	e->dst = r->sa;
	e->fd = r->fd;
	e->result = res;
	e->pad = 0;
	nh_submit(e);
	nh_dedup_remember(&c, NH_KIND_CONNECT, h);
}

/* A Unix connect: the address is the kernel's copy of the caller's; on
 * success the peer's socket file and bound address, as net.bpf.c. */
static __always_inline void unix_done(struct io_kiocb *req, struct uring_req *r, long res)
{
	struct nh_unix_event *e;
	struct sock *sk = NULL;
	struct unix_sock *pu = NULL;
	struct nh_ctx c;
	__u64 h, ino = 0, dev = 0;
	__u16 type = 0;
	struct file *f = (r->hflags & NH_F_URING_NO_CQE) ? NULL : BPF_CORE_READ(req, file);

	if (f) {
		struct socket *sock = BPF_CORE_READ(f, private_data);

		sk = BPF_CORE_READ(sock, sk);
	}
	if (sk) {
		type = BPF_CORE_READ(sk, sk_type);
		pu = (struct unix_sock *)BPF_CORE_READ((struct unix_sock *)sk, peer);
	}
	if (res == 0 && pu) {
		struct dentry *d = BPF_CORE_READ(pu, path.dentry);

		if (d) {
			ino = BPF_CORE_READ(d, d_inode, i_ino);
			dev = BPF_CORE_READ(d, d_inode, i_sb, s_dev);
		}
	}
	uring_ctx(&c, r);
	h = nh_object_path(ino, dev << 32 | (__u64)(res < 0 ? -res & 0xffff : 0) | NH_OBJ_IO_URING,
			   r->path, r->path_len & (NH_PATH_MAX - 1));
	if (nh_dedup_hit(&c, NH_KIND_UNIX_CONNECT, h))
		return;
	e = NH_RESERVE(struct nh_unix_event, NH_KIND_UNIX_CONNECT);
	if (!e)
		return;
	uring_hdr(&e->h, &c, NH_KIND_UNIX_CONNECT, h, r);
	e->dev = dev;
	e->ino = ino;
	e->fd = r->fd;
	e->result = res;
	e->path_len = r->path_len > NH_UNIX_PATH_MAX ? NH_UNIX_PATH_MAX : r->path_len;
	e->sock_type = type;
	e->pad = 0;
	e->pad2 = 0;
	bpf_probe_read_kernel(e->path, sizeof(e->path), r->path);
	nh_submit(e);
	nh_dedup_remember(&c, NH_KIND_UNIX_CONNECT, h);
}

static __always_inline void sock_peer(struct sock *sk, struct nh_sockaddr *sa)
{
	sa->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	sa->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (sa->family == NH_AF_INET)
		BPF_CORE_READ_INTO((__u32 *)sa->addr, sk, __sk_common.skc_daddr);
	else if (sa->family == NH_AF_INET6)
		BPF_CORE_READ_INTO(&sa->addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
}

static __always_inline struct sock *file_sock(struct file *f)
{
	struct socket *sock;

	if (!f || (BPF_CORE_READ(f, f_inode, i_mode) & 00170000) != 0140000)
		return NULL;
	sock = BPF_CORE_READ(f, private_data);
	return BPF_CORE_READ(sock, sk);
}

static __always_inline void accept_done(struct io_ring_ctx *ring, struct uring_req *r, long res)
{
	struct nh_accept_event *e;
	struct nh_sockaddr sa = {}, key;
	struct sock *sk = file_sock(made_file(ring, r, res));
	struct nh_ctx c;
	__u16 lport = 0;
	__u64 h;

	if (res == -NH_EAGAIN)
		return;
	if (sk) {
		sock_peer(sk, &sa);
		lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	}
	if (sa.family != NH_AF_INET && sa.family != NH_AF_INET6 && res >= 0)
		return; /* a Unix accept: local IPC, as for the syscall */
	uring_ctx(&c, r);
	key = sa;
	key.port = lport;
	h = addr_object(&key, (res < 0 ? -res & 0xffff : 0) | NH_OBJ_IO_URING << 16);
	if (nh_dedup_hit(&c, NH_KIND_ACCEPT, h))
		return;
	e = NH_RESERVE(struct nh_accept_event, NH_KIND_ACCEPT);
	if (!e)
		return;
	uring_hdr(&e->h, &c, NH_KIND_ACCEPT, h, r);
	e->peer = sa;
	e->local_port = lport;
	e->syscall = r->sys;
	e->fd = r->fd;
	e->result = res;
	nh_submit(e);
	nh_dedup_remember(&c, NH_KIND_ACCEPT, h);
}

/* A send names its destination (the kernel's copy, has_addr) or goes to
 * the socket's peer. As for the syscalls, a connected stream socket's
 * sends are not new destinations, except a Fast Open connect. */
static __always_inline void send_done(struct io_kiocb *req, struct uring_req *r, long res)
{
	struct nh_send_event *e;
	struct nh_sockaddr sa = r->sa;
	struct sock *sk = NULL;
	struct nh_ctx c;
	__u16 family;
	__u64 h;

	/* The request's file is assigned when it is issued, after the
	 * submission: only a completed request has it. */
	if (!(r->hflags & NH_F_URING_NO_CQE))
		sk = file_sock(BPF_CORE_READ(req, file));
	if (res == -NH_EAGAIN || (!sk && !r->has_addr))
		return;
	family = sk ? BPF_CORE_READ(sk, __sk_common.skc_family) : sa.family;
	if (family != NH_AF_INET && family != NH_AF_INET6)
		return;
	if (!sk) {
		/* the named destination, unchecked against the socket */
	} else if (BPF_CORE_READ(sk, sk_type) == NH_SOCK_STREAM) {
		if (!r->has_addr || !(r->flags & NH_MSG_FASTOPEN))
			return;
		__builtin_memset(&sa, 0, sizeof(sa));
		sock_peer(sk, &sa);
	} else if (!r->has_addr) {
		sock_peer(sk, &sa);
	}
	if (!sa.port)
		return;
	uring_ctx(&c, r);
	h = addr_object(&sa, (res < 0 ? -res & 0xffff : 0) | NH_OBJ_IO_URING << 16);
	if (nh_dedup_hit(&c, NH_KIND_SEND, h))
		return;
	e = NH_RESERVE(struct nh_send_event, NH_KIND_SEND);
	if (!e)
		return;
	uring_hdr(&e->h, &c, NH_KIND_SEND, h, r);
	e->dst = sa;
	e->fd = r->fd;
	e->result = res;
	e->syscall = r->sys;
	e->pad = 0;
	e->msg_index = 0;
	nh_submit(e);
	nh_dedup_remember(&c, NH_KIND_SEND, h);
}

static __always_inline __u32 op_sys(__u8 op)
{
	switch (op) {
	case NH_IORING_OP_OPENAT:
		return NH_SYS_OPENAT;
	case NH_IORING_OP_OPENAT2:
		return NH_SYS_OPENAT2;
	case NH_IORING_OP_CONNECT:
		return NH_SYS_CONNECT;
	case NH_IORING_OP_ACCEPT:
		return NH_SYS_ACCEPT4;
	case NH_IORING_OP_SEND:
		return NH_SYS_SENDTO;
	case NH_IORING_OP_SENDMSG:
		return NH_SYS_SENDMSG;
	case NH_IORING_OP_SEND_ZC:
		return NH_SYS_SEND_ZC;
	case NH_IORING_OP_SENDMSG_ZC:
		return NH_SYS_SENDMSG_ZC;
	default:
		return NH_SYS_NONE;
	}
}

/* Kernels before 6.10 kept a connect's address in its own type. */
struct io_async_connect___old {
	struct __kernel_sockaddr_storage address;
} __attribute__((preserve_access_index));

/* Where a connect's async data holds the kernel's copy of the address:
 * io_async_connect (before 6.10), io_async_msghdr.addr (6.10 on), or the
 * async data is the sockaddr_storage itself (later kernels). The last two
 * share io_async_msghdr's BTF; there its first word is a kernel pointer
 * (iou_vec, 8-byte aligned) or NULL, whose low 16 bits can never be
 * AF_UNIX, AF_INET or AF_INET6: so a family at offset 0 is the bare
 * sockaddr. */
static __always_inline const char *connect_sockaddr(struct io_async_msghdr *io)
{
	__u16 first = 0;

	if (bpf_core_type_exists(struct io_async_connect___old))
		return (const char *)io;
	if (!bpf_core_field_exists(struct io_async_msghdr, vec))
		return (const char *)&io->addr;
	bpf_probe_read_kernel(&first, sizeof(first), io);
	if (first == NH_AF_UNIX || first == NH_AF_INET || first == NH_AF_INET6)
		return (const char *)io;
	return (const char *)&io->addr;
}

/* A connect's address: the kernel's copy in the request's async data
 * (prep made it; the caller's memory is never read). An AF_UNIX one
 * keeps its sun_path: a path ends at its NUL, an abstract name (leading
 * NUL) is all that addr_len says. */
static __always_inline void connect_addr(struct io_kiocb *req, struct uring_req *r)
{
	struct io_async_msghdr *io = BPF_CORE_READ(req, async_data);
	void *cmd = __builtin_preserve_access_index(&req->cmd);
	const char *sa;
	__u16 family = 0;
	long len;

	if (r->has_addr || r->sa.family == NH_AF_UNIX || !io)
		return;
	sa = connect_sockaddr(io);
	if (bpf_probe_read_kernel(&family, sizeof(family), sa))
		return;
	if (family != NH_AF_UNIX) {
		if (kernel_addr(sa, &r->sa))
			r->has_addr = 1;
		return;
	}
	len = (long)BPF_CORE_READ((struct io_connect *)cmd, addr_len) - 2;
	if (len > NH_UNIX_PATH_MAX)
		len = NH_UNIX_PATH_MAX;
	if (len < 0)
		len = 0;
	bpf_probe_read_kernel(r->path, NH_UNIX_PATH_MAX, sa + 2);
	if (len && r->path[0]) {
		long n = 0;

		for (int i = 0; i < NH_UNIX_PATH_MAX; i++) {
			if (i >= len || !r->path[i])
				break;
			n++;
		}
		len = n;
	}
	r->path_len = len;
	r->sa.family = NH_AF_UNIX;
}

/* What the request names, from the kernel's copies prep made. */
static __always_inline bool read_request(struct io_kiocb *req, struct uring_req *r)
{
	void *cmd = __builtin_preserve_access_index(&req->cmd);
	struct io_async_msghdr *io = req->async_data;

	switch (r->sys) {
	case NH_SYS_OPENAT:
	case NH_SYS_OPENAT2: {
		struct io_open *o = cmd;
		long n;

		r->fd = BPF_CORE_READ(o, dfd);
		r->file_slot = BPF_CORE_READ(o, file_slot);
		r->flags = BPF_CORE_READ(o, how.flags);
		r->mode = BPF_CORE_READ(o, how.mode);
		n = bpf_probe_read_kernel_str(r->path, sizeof(r->path),
					      BPF_CORE_READ(o, filename, name));
		if (n == sizeof(r->path))
			r->hflags |= NH_F_PATH_TRUNC;
		r->path_len = n > 0 ? n - 1 : 0;
		return true;
	}
	case NH_SYS_CONNECT:
		/* the address is in the async data when prep copied it there;
		 * else it is read at completion (connect_addr) */
		r->fd = req->cqe.fd;
		connect_addr(req, r);
		return true;
	case NH_SYS_ACCEPT4:
		r->fd = req->cqe.fd;
		r->file_slot = BPF_CORE_READ((struct io_accept *)cmd, file_slot);
		return true;
	default: {
		/* sends: a named destination is in the async data, pointed
		 * at by msg_name, or there is none */
		struct io_sr_msg *sr = cmd;

		r->fd = req->cqe.fd;
		r->flags = BPF_CORE_READ(sr, msg_flags);
		if (io && BPF_CORE_READ(io, msg.msg_name) && kernel_addr(&io->addr, &r->sa))
			r->has_addr = 1;
		return true;
	}
	}
}

/* What a request names, read at completion when its submission's state
 * is gone (pushed out of uring_reqs by later requests): the attribution
 * of the completing thread (one of the submitter's process) and what the
 * request still holds; an open's path is gone by then (the file's name
 * is shown instead), its inode is not. */
static __always_inline bool read_late(struct io_kiocb *req, struct uring_req *r, __u32 sys)
{
	void *cmd = __builtin_preserve_access_index(&req->cmd);

	__builtin_memset(r, 0, sizeof(*r) - NH_PATH_MAX);
	r->path[0] = 0;
	r->sys = sys;
	r->pid_tgid = bpf_get_current_pid_tgid();
	r->uid_gid = bpf_get_current_uid_gid();
	r->cgroup_id = bpf_get_current_cgroup_id();
	uring_comm(r->comm);
	if (sys == NH_SYS_OPENAT || sys == NH_SYS_OPENAT2) {
		struct io_open *o = cmd;

		r->fd = BPF_CORE_READ(o, dfd);
		r->file_slot = BPF_CORE_READ(o, file_slot);
		r->flags = BPF_CORE_READ(o, how.flags);
		r->mode = BPF_CORE_READ(o, how.mode);
		return true;
	}
	r->fd = -1;
	if (sys == NH_SYS_ACCEPT4) {
		r->file_slot = BPF_CORE_READ((struct io_accept *)cmd, file_slot);
		return true;
	}
	if (sys == NH_SYS_CONNECT)
		return true; /* connect_addr at completion */
	return false;	     /* a send's address may be recycled by now */
}

static __always_inline void complete(struct io_kiocb *req, struct uring_req *r, long res)
{
	if (r->sys == NH_SYS_CONNECT && !(r->hflags & NH_F_URING_NO_CQE)) {
		connect_addr(req, r);
		if (!r->has_addr && r->sa.family != NH_AF_UNIX && res == 0) {
			/* no copy seen: the connected socket's peer (kernel) */
			struct sock *sk = file_sock(BPF_CORE_READ(req, file));

			if (sk)
				sock_peer(sk, &r->sa);
			if (r->sa.family == NH_AF_UNIX)
				r->path_len = 0;
			r->has_addr = r->sa.family == NH_AF_INET || r->sa.family == NH_AF_INET6;
		}
		if (!r->has_addr && r->sa.family != NH_AF_UNIX)
			return;
	}
	if (r->sys == NH_SYS_OPENAT || r->sys == NH_SYS_OPENAT2)
		open_done(req, r, res);
	else if (r->sys == NH_SYS_CONNECT && r->sa.family == NH_AF_UNIX)
		unix_done(req, r, res);
	else if (r->sys == NH_SYS_CONNECT)
		connect_done(r, res);
	else if (r->sys == NH_SYS_ACCEPT4)
		accept_done(BPF_CORE_READ(req, ctx), r, res);
	else
		send_done(req, r, res);
}

/* Multishot is told by the accept's own flags (6.10 on); before that it
 * was only a request flag whose bit moved between versions: there the
 * accept is reported for its first connection only. */
static __always_inline bool accept_multishot(struct io_kiocb *req)
{
	struct io_accept *a = (void *)__builtin_preserve_access_index(&req->cmd);

	if (!bpf_core_field_exists(struct io_accept, iou_flags))
		return false;
	return BPF_CORE_READ(a, iou_flags) & NH_IORING_ACCEPT_MULTISHOT;
}

static __always_inline void multi_arm(struct io_kiocb *req, const struct uring_req *r)
{
	struct uring_multi_key k = {
	    .ring = (__u64)req->ctx,
	    .user_data = req->cqe.user_data,
	};
	struct uring_multi m = {
	    .req = (__u64)req,
	    .pid_tgid = r->pid_tgid,
	    .uid_gid = r->uid_gid,
	    .cgroup_id = r->cgroup_id,
	    .fd = r->fd,
	    .file_slot = r->file_slot,
	    /* each later connection has a completion of its own */
	    .hflags = r->hflags & ~NH_F_URING_NO_CQE,
	};

	__builtin_memcpy(m.comm, r->comm, NH_COMM_LEN);
	bpf_map_update_elem(&uring_multi, &k, &m, BPF_ANY);
}

/* The request's last completion (no "more" flag, read from the request,
 * not the ring slot): forget it, unless another request reused its
 * user_data meanwhile. */
static __always_inline void multi_forget(struct io_ring_ctx *ring, struct io_kiocb *req)
{
	struct uring_multi_key k = {.ring = (__u64)ring};
	struct uring_multi *m;

	if (BPF_CORE_READ(req, cqe.flags) & NH_IORING_CQE_F_MORE)
		return;
	k.user_data = BPF_CORE_READ(req, cqe.user_data);
	m = bpf_map_lookup_elem(&uring_multi, &k);
	if (m && m->req == (__u64)req)
		bpf_map_delete_elem(&uring_multi, &k);
}

/* An auxiliary completion: if it is a connection of a multishot accept
 * we kept, the new socket (descriptor, or fixed-file slot allocated by
 * the kernel) is reported as the accept's first was. The kernel has
 * just written user_data and res into the CQ ring slot and there is no
 * other copy to read them from (docs/coverage.md: what a thread racing
 * that write could do). The completing task is the submitter's thread
 * (task work) or an io_uring thread of its process: the same
 * descriptor table. */
static __always_inline void multi_complete(struct io_ring_ctx *ring, struct io_uring_cqe *cqe)
{
	struct uring_multi_key k = {.ring = (__u64)ring};
	struct uring_multi *m;
	struct uring_req *r;
	__u32 zero = 0;
	__s32 res;

	k.user_data = cqe->user_data;
	m = bpf_map_lookup_elem(&uring_multi, &k);
	if (!m)
		return;
	res = cqe->res;
	if (res < 0 || !(r = bpf_map_lookup_elem(&uring_scratch, &zero)))
		return;
	__builtin_memset(r, 0, sizeof(*r) - NH_PATH_MAX);
	r->sys = NH_SYS_ACCEPT4;
	r->op = NH_IORING_OP_ACCEPT;
	r->pid_tgid = m->pid_tgid;
	r->uid_gid = m->uid_gid;
	r->cgroup_id = m->cgroup_id;
	r->fd = m->fd;
	r->file_slot = m->file_slot;
	r->hflags = m->hflags;
	__builtin_memcpy(r->comm, m->comm, NH_COMM_LEN);
	accept_done(ring, r, res);
}

/* Index a kept request by (ring, user_data). The common case is one
 * insert; a user_data already taken by a request still in flight marks
 * the key as shared (an overflow then searches every kept request). */
static __always_inline void ud_index(__u64 req, const struct uring_req *r)
{
	struct uring_multi_key k = {.ring = r->ring, .user_data = r->user_data};
	struct uring_ud_val v = {.req = req}, *old;
	struct uring_req *o;

	if (!bpf_map_update_elem(&uring_ud, &k, &v, BPF_NOEXIST))
		return;
	old = bpf_map_lookup_elem(&uring_ud, &k);
	if (!old)
		return;
	if (old->dup) {
		v.dup = 1;
	} else if (old->req != req) {
		o = bpf_map_lookup_elem(&uring_reqs, &old->req);
		v.dup = o && o->ring == r->ring && o->user_data == r->user_data;
	}
	bpf_map_update_elem(&uring_ud, &k, &v, BPF_ANY);
}

/* The request is done: drop its index entry, but keep a shared key's
 * mark while the other request may still be in flight. */
static __always_inline void ud_forget(__u64 ring, __u64 req, __u64 user_data)
{
	struct uring_multi_key k = {.ring = ring, .user_data = user_data};
	struct uring_ud_val *v = bpf_map_lookup_elem(&uring_ud, &k);

	if (!v || v->req != req)
		return;
	if (v->dup)
		v->req = 0;
	else
		bpf_map_delete_elem(&uring_ud, &k);
}

/* Whether req is the request whose completion overflows now: the
 * tracepoint's values are copies of the request's own cqe (kernel
 * memory), read here before the request is freed. */
static __always_inline bool overflowing(__u64 ring, __u64 req, __u64 user_data, __s32 res,
					__u32 cflags)
{
	struct io_kiocb *rq = (struct io_kiocb *)req;

	return (__u64)BPF_CORE_READ(rq, ctx) == ring &&
	       BPF_CORE_READ(rq, cqe.user_data) == user_data && BPF_CORE_READ(rq, cqe.res) == res &&
	       BPF_CORE_READ(rq, cqe.flags) == cflags;
}

/* Report a kept request from its overflowing completion, as
 * nh_uring_complete does; forget: it is surely the one (else another
 * kept request that looks the same keeps its state for its own). */
__noinline int overflow_report(__u64 ring, __u64 req, __s32 res, __u32 forget)
{
	struct io_kiocb *rq = (struct io_kiocb *)req;
	struct uring_req *r = bpf_map_lookup_elem(&uring_reqs, &req);

	if (!r || r->op != BPF_CORE_READ(rq, opcode))
		return 0;
	if (r->op == NH_IORING_OP_ACCEPT)
		multi_forget((struct io_ring_ctx *)ring, rq);
	if (forget)
		ud_forget(r->ring, req, r->user_data);
	complete(rq, r, res);
	if (forget)
		bpf_map_delete_elem(&uring_reqs, &req);
	return 1;
}

/* An overflowing auxiliary completion of a kept multishot accept (a
 * function of its own: its stack is not added to the caller's). */
__noinline int overflow_aux(__u64 ring, __u64 user_data, __s32 res, __u32 cflags)
{
	struct io_uring_cqe cqe = {.user_data = user_data, .res = res, .flags = cflags};

	multi_complete((struct io_ring_ctx *)ring, &cqe);
	return 0;
}

#define NH_UD_CANDIDATES 4

struct ud_scan {
	__u64 ring;
	__u64 user_data;
	__s32 res;
	__u32 cflags;
	__u32 n;
	__u32 pad;
	__u64 req[NH_UD_CANDIDATES];
};

static long ud_scan_one(struct bpf_map *map, __u64 *key, struct uring_req *r, struct ud_scan *s)
{
	/* first: bounds n for the verifier, which follows the walk on */
	if (s->n >= NH_UD_CANDIDATES)
		return 1;
	if (r->ring != s->ring || r->user_data != s->user_data ||
	    !overflowing(s->ring, *key, s->user_data, s->res, s->cflags))
		return 0;
	s->req[s->n & (NH_UD_CANDIDATES - 1)] = *key;
	s->n++;
	return 0;
}

SEC("tp_btf/io_uring_submit_req")
int BPF_PROG(nh_uring_submit, struct io_kiocb *req)
{
	struct uring_req *r;
	__u32 zero = 0, sys;
	__u64 key = (__u64)req;
	__u8 op;

	if (!uring_layout())
		return 0;
	/* a direct load (the argument is typed): every request of the node
	 * comes this way */
	op = req->opcode;
	sys = op_sys(op);
	if (sys == NH_SYS_NONE || nh_filtered())
		return 0;
	r = bpf_map_lookup_elem(&uring_scratch, &zero);
	if (!r)
		return 0;
	__builtin_memset(r, 0, sizeof(*r) - NH_PATH_MAX);
	r->path[0] = 0;
	r->sys = sys;
	r->op = op;
	r->pid_tgid = bpf_get_current_pid_tgid();
	r->uid_gid = bpf_get_current_uid_gid();
	r->cgroup_id = bpf_get_current_cgroup_id();
	r->ring = (__u64)req->ctx;
	r->user_data = req->cqe.user_data;
	uring_comm(r->comm);
	if (!read_request(req, r))
		return 0;
	if (sys == NH_SYS_ACCEPT4 && accept_multishot(req))
		multi_arm(req, r);
	/* Asked for no completion on success: no result will be seen, so
	 * report now, with the result unknown (0). */
	if (req->flags & NH_REQ_F_CQE_SKIP) {
		r->hflags |= NH_F_URING_NO_CQE;
		complete(req, r, 0);
		return 0;
	}
	bpf_map_update_elem(&uring_reqs, &key, r, BPF_ANY);
	ud_index(key, r);
	return 0;
}

SEC("tp_btf/io_uring_complete")
int BPF_PROG(nh_uring_complete, struct io_ring_ctx *ring, void *req, struct io_uring_cqe *cqe)
{
	struct io_kiocb *rq;
	struct uring_req *r;
	__u64 key = (__u64)req;
	__u32 zero = 0, sys;
	long res;
	__u8 op;

	if (!uring_layout())
		return 0;
	/* An auxiliary completion (multishot) names no request. */
	if (!req) {
		multi_complete(ring, cqe);
		return 0;
	}
	/* one read: every completion of the node comes this way (the
	 * tracepoint passes the request as void *: no direct loads) */
	rq = req;
	op = BPF_CORE_READ(rq, opcode);
	sys = op_sys(op);
	if (sys == NH_SYS_NONE)
		return 0;
	if (op == NH_IORING_OP_ACCEPT)
		multi_forget(ring, rq);
	/* The result from the request (kernel memory), not from the CQ
	 * ring's slot, which user space can write. */
	res = BPF_CORE_READ(rq, cqe.res);
	r = bpf_map_lookup_elem(&uring_reqs, &key);
	if (r) {
		ud_forget(r->ring, key, r->user_data);
		complete(rq, r, res);
		bpf_map_delete_elem(&uring_reqs, &key);
		return 0;
	}
	/* Not kept: filtered at submission, or pushed out of the map by a
	 * flood of later requests while this one waited (a linked timeout
	 * can hold it back): read what is left, in the scope's tasks. */
	if (nh_filtered() || !(r = bpf_map_lookup_elem(&uring_scratch, &zero)) ||
	    !read_late(rq, r, sys))
		return 0;
	complete(rq, r, res);
	return 0;
}

/* A completion that did not fit in the CQ ring: the kernel keeps it on
 * the ring's overflow list and io_uring_complete does not fire. Found by
 * (ring, user_data): a kept request, or a connection of a kept
 * multishot accept (an auxiliary completion). The result is the
 * tracepoint's, a copy of the kernel's. The completing task is one of
 * the submitter's process (as at io_uring_complete). */
SEC("tp_btf/io_uring_cqe_overflow")
int BPF_PROG(nh_uring_overflow, void *ring, __u64 user_data, __s32 res, __u32 cflags, void *ocqe)
{
	struct uring_multi_key k = {.ring = (__u64)ring, .user_data = user_data};
	struct ud_scan s = {};
	struct uring_ud_val *v;

	if (!uring_layout())
		return 0;
	v = bpf_map_lookup_elem(&uring_ud, &k);
	if (v && !v->dup) {
		if (overflowing(k.ring, v->req, user_data, res, cflags) &&
		    overflow_report(k.ring, v->req, res, 1))
			return 0;
	} else if (v) {
		/* user_data shared by requests in flight: every kept request
		 * of the ring with it whose completion looks like this one's
		 * (bounded); several: each is reported, none forgotten, so
		 * the one that overflows is not missed */
		s.ring = k.ring;
		s.user_data = user_data;
		s.res = res;
		s.cflags = cflags;
		bpf_for_each_map_elem(&uring_reqs, ud_scan_one, &s, 0);
		for (int i = 0; i < NH_UD_CANDIDATES; i++) {
			if (i >= s.n)
				break;
			overflow_report(k.ring, s.req[i], res, s.n == 1);
		}
		if (s.n)
			return 0;
	}
	overflow_aux(k.ring, user_data, res, cflags);
	return 0;
}

SEC("tp_btf/io_uring_create")
int BPF_PROG(nh_uring_create, int fd, void *ring, __u32 sq_entries, __u32 cq_entries, __u32 flags)
{
	struct nh_ring_event *e;
	struct nh_ctx c;
	__u64 h;

	if (nh_filtered())
		return 0;
	nh_ctx_init(&c);
	/* The first ring of the identity and binary, and its first SQPOLL
	 * ring: the kernel submits that one's requests for it. */
	h = nh_object4(flags & NH_IORING_SETUP_SQPOLL, 0, 0);
	if (nh_dedup_hit(&c, NH_KIND_IO_URING_CREATE, h))
		return 0;
	e = NH_RESERVE(struct nh_ring_event, NH_KIND_IO_URING_CREATE);
	if (!e)
		return 0;
	nh_fill_dedup_hdr(&e->h, &c, NH_KIND_IO_URING_CREATE, h);
	e->h.flags |= NH_F_IO_URING;
	e->fd = fd;
	e->setup_flags = flags;
	e->sq_entries = sq_entries;
	e->cq_entries = cq_entries;
	nh_submit(e);
	nh_dedup_remember(&c, NH_KIND_IO_URING_CREATE, h);
	return 0;
}
