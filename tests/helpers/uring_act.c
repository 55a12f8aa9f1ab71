// SPDX-License-Identifier: Apache-2.0
/*
 * The io_uring side of the evasion suite (tests/evasion/run.py): one
 * operation done through a ring instead of its syscall, with raw
 * io_uring_setup/io_uring_enter (no liburing), so the request is exactly
 * the opcode named. Usage:
 *   uring_act [--sqpoll] [--skip-cqe] open|open2 PATH
 *   uring_act [--sqpoll] connect HOST PORT | unix-connect PATH
 *   uring_act [--sqpoll] send|sendmsg HOST PORT      (UDP, the address in the request)
 *   uring_act [--sqpoll] accept                      (a listener on 127.0.0.1 it connects to)
 *   uring_act [--fixed] accept-multi ADDR...  one multishot accept on a listener on
 *                                 127.0.0.1 takes a connection from a client bound
 *                                 to each ADDR (127.0.0.x); --fixed: into fixed-file
 *                                 slots the kernel allocates
 *   uring_act ring                                   (only sets a ring up)
 *   uring_act flood-open PATH N   an open held behind a 0.3 s timeout while N
 *                                 accepts that never complete are submitted
 *   uring_act [--cq-full] open-twice PATH PATH   two OPENATs in one submission,
 *                                 both with the same user_data
 *   --cq-full: an 8-entry CQ ring filled with unreaped NOPs before the
 *   operation completes, so its completion overflows (accept-multi: then
 *   the first connection ends the accept)
 * Prints "result N" per completion; exits non-zero when an operation the
 * kernel should have done failed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

struct ring {
	int fd;
	unsigned flags;
	unsigned *sq_head, *sq_tail, *sq_mask, *sq_array, *sq_flags;
	unsigned *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	bool cq_full; /* the next completion must overflow (--cq-full) */
};

/* user_data of the NOPs that fill the CQ ring (--cq-full) */
#define FILL_UD 0xf111f111ULL

static int ring_init(struct ring *r, bool sqpoll, bool cq_full, unsigned entries)
{
	struct io_uring_params p;
	size_t sq_len, cq_len;
	char *sq, *cq;

	memset(&p, 0, sizeof(p));
	if (sqpoll) {
		p.flags = IORING_SETUP_SQPOLL;
		p.sq_thread_idle = 2000; /* ms */
	}
	if (cq_full) {
		p.flags |= IORING_SETUP_CQSIZE;
		p.cq_entries = entries;
	}
	r->cq_full = false;
	r->fd = (int)syscall(__NR_io_uring_setup, entries, &p);
	if (r->fd < 0)
		return -errno;
	r->flags = p.flags;
	sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP)
		sq_len = cq_len = sq_len > cq_len ? sq_len : cq_len;
	sq = mmap(NULL, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
		  IORING_OFF_SQ_RING);
	if (sq == MAP_FAILED)
		return -errno;
	cq = sq;
	if (!(p.features & IORING_FEAT_SINGLE_MMAP)) {
		cq = mmap(NULL, cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
			  IORING_OFF_CQ_RING);
		if (cq == MAP_FAILED)
			return -errno;
	}
	r->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	if (r->sqes == MAP_FAILED)
		return -errno;
	r->sq_head = (unsigned *)(sq + p.sq_off.head);
	r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
	r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
	r->sq_array = (unsigned *)(sq + p.sq_off.array);
	r->sq_flags = (unsigned *)(sq + p.sq_off.flags);
	r->cq_head = (unsigned *)(cq + p.cq_off.head);
	r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
	r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	return 0;
}

static struct io_uring_sqe *next_sqe(struct ring *r)
{
	unsigned tail = *r->sq_tail, idx = tail & *r->sq_mask;

	memset(&r->sqes[idx], 0, sizeof(r->sqes[idx]));
	r->sq_array[idx] = idx;
	return &r->sqes[idx];
}

/* Fill the CQ ring with NOP completions nobody reaps (yet): every later
 * completion goes to the kernel's overflow list. */
static int fill_cq(struct ring *r)
{
	unsigned n = *r->cq_mask + 1;

	for (unsigned k = 0; k < n; k++) {
		struct io_uring_sqe *sqe = next_sqe(r);

		sqe->opcode = IORING_OP_NOP;
		sqe->user_data = FILL_UD;
		atomic_store_explicit((_Atomic unsigned *)r->sq_tail, *r->sq_tail + 1,
				      memory_order_release);
	}
	/* with SQPOLL the kernel's thread takes them (woken if asleep) */
	if (syscall(__NR_io_uring_enter, r->fd, n, n,
		    IORING_ENTER_GETEVENTS |
			((r->flags & IORING_SETUP_SQPOLL) ? IORING_ENTER_SQ_WAKEUP : 0),
		    NULL, 0) < 0)
		return -errno;
	if (atomic_load_explicit((_Atomic unsigned *)r->cq_tail, memory_order_acquire) -
		*r->cq_head !=
	    n)
		return -EAGAIN;
	r->cq_full = true;
	return 0;
}

/* --cq-full: do not reap before the kernel says a completion went to
 * its overflow list (so the test cannot pass without an overflow). Entering
 * with no wait runs the task work that completes a request. */
static int await_overflow(struct ring *r)
{
	for (int t = 0; t < 3000; t++) {
		if (atomic_load_explicit((_Atomic unsigned *)r->sq_flags, memory_order_acquire) &
		    IORING_SQ_CQ_OVERFLOW) {
			r->cq_full = false;
			return 0;
		}
		if (syscall(__NR_io_uring_enter, r->fd, 0, 0, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
			return -errno;
		usleep(1000);
	}
	return -ETIMEDOUT;
}

/* Reap one completion. */
static int wait_cqe(struct ring *r, struct io_uring_cqe *out)
{
	unsigned head;

	if (r->cq_full && await_overflow(r))
		return -ETIMEDOUT;
	for (;;) {
		head = *r->cq_head;
		if (head !=
		    atomic_load_explicit((_Atomic unsigned *)r->cq_tail, memory_order_acquire)) {
			if (r->cqes[head & *r->cq_mask].user_data != FILL_UD)
				break;
			atomic_store_explicit((_Atomic unsigned *)r->cq_head, head + 1,
					      memory_order_release);
			continue;
		}
		if (syscall(__NR_io_uring_enter, r->fd, 0, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
			return -errno;
	}
	*out = r->cqes[head & *r->cq_mask];
	atomic_store_explicit((_Atomic unsigned *)r->cq_head, head + 1, memory_order_release);
	return 0;
}

/* One multishot accept, armed before any client connects, so that every
 * connection is a completion the kernel posts while it stays armed. */
/* Publish the prepared entry, have the kernel take it, wait for one
 * completion (none when want is 0) and return its result. */
static int submit_wait(struct ring *r, unsigned want, int *res)
{
	unsigned tail = *r->sq_tail;
	unsigned enter_flags = want ? IORING_ENTER_GETEVENTS : 0;
	struct io_uring_cqe cqe;
	int to_submit = 1, err;

	atomic_store_explicit((_Atomic unsigned *)r->sq_tail, tail + 1, memory_order_release);
	if (r->flags & IORING_SETUP_SQPOLL) {
		/* the kernel's thread takes it; wake it if it sleeps */
		to_submit = 0;
		if (atomic_load_explicit((_Atomic unsigned *)r->sq_flags, memory_order_acquire) &
		    IORING_SQ_NEED_WAKEUP)
			enter_flags |= IORING_ENTER_SQ_WAKEUP;
	}
	if (syscall(__NR_io_uring_enter, r->fd, to_submit, want, enter_flags, NULL, 0) < 0)
		return -errno;
	if (!want)
		return 0;
	err = wait_cqe(r, &cqe);
	if (err)
		return err;
	*res = cqe.res;
	printf("result %d\n", *res);
	return 0;
}

static int accept_multi(struct ring *r, bool fixed, bool cq_full, char **addrs, int n)
{
	struct sockaddr_in me = {.sin_family = AF_INET}, from = {.sin_family = AF_INET};
	struct io_uring_rsrc_register files = {.nr = 8, .flags = IORING_RSRC_REGISTER_SPARSE};
	socklen_t len = sizeof(me);
	struct io_uring_sqe *sqe;
	struct io_uring_cqe cqe;
	int l = socket(AF_INET, SOCK_STREAM, 0), code, unused;

	me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(l, (struct sockaddr *)&me, sizeof(me)) || listen(l, 8) ||
	    getsockname(l, (struct sockaddr *)&me, &len))
		return -errno;
	printf("port %u\n", ntohs(me.sin_port));
	if (fixed && syscall(__NR_io_uring_register, r->fd, IORING_REGISTER_FILES2, &files,
			     sizeof(files)) < 0)
		return -errno;
	sqe = next_sqe(r);
	sqe->opcode = IORING_OP_ACCEPT;
	sqe->fd = l;
	sqe->ioprio = IORING_ACCEPT_MULTISHOT;
	sqe->user_data = 99;
	if (fixed)
		sqe->file_index = IORING_FILE_INDEX_ALLOC;
	code = submit_wait(r, 0, &unused);
	if (!code && cq_full)
		code = fill_cq(r); /* the connections come while it is full */
	if (code)
		return code;
	for (int i = 0; i < n; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);

		if (inet_pton(AF_INET, addrs[i], &from.sin_addr) != 1)
			return -EINVAL;
		if (bind(c, (struct sockaddr *)&from, sizeof(from)) ||
		    connect(c, (struct sockaddr *)&me, sizeof(me)))
			return -errno;
		code = wait_cqe(r, &cqe);
		if (code)
			return code;
		printf("result %d more %d\n", cqe.res, !!(cqe.flags & IORING_CQE_F_MORE));
		/* the accept must still be armed: this is what is tested */
		if (cqe.res < 0)
			return cqe.res;
		/* a full CQ ring ends a multishot accept: its connection is
		 * the request's own (overflowing) completion */
		if (cq_full && i == n - 1)
			return 0;
		if (!(cqe.flags & IORING_CQE_F_MORE))
			return -ECANCELED;
	}
	return 0;
}

static int ip4_addr(const char *host, const char *port, struct sockaddr_in *sin)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((unsigned short)atoi(port));
	return inet_pton(AF_INET, host, &sin->sin_addr) == 1 ? 0 : -EINVAL;
}

static int die(const char *what, int code)
{
	fprintf(stderr, "uring_act: %s: %s\n", what, strerror(code < 0 ? -code : code));
	return 1;
}

int main(int argc, char **argv)
{
	bool sqpoll = false, skip = false, fixed = false, cq_full = false;
	struct io_uring_sqe *sqe;
	struct sockaddr_in sin;
	struct ring r;
	int i = 1, res = 0, code;
	const char *op;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--sqpoll"))
			sqpoll = true;
		else if (!strcmp(argv[i], "--skip-cqe"))
			skip = true;
		else if (!strcmp(argv[i], "--fixed"))
			fixed = true;
		else if (!strcmp(argv[i], "--cq-full"))
			cq_full = true;
	}
	if (i >= argc)
		return die("usage: see the source", EINVAL);
	op = argv[i++];
	code = ring_init(&r, sqpoll, cq_full, strcmp(op, "flood-open") ? 8 : 4096);
	if (code)
		return die("io_uring_setup", code);
	if (cq_full && strcmp(op, "accept-multi")) {
		code = fill_cq(&r);
		if (code)
			return die("filling the CQ ring", code);
	}
	if (!strcmp(op, "ring"))
		return 0;
	sqe = next_sqe(&r);
	if (!strcmp(op, "open") || !strcmp(op, "open2")) {
		static struct open_how how = {.flags = O_RDONLY};

		if (i >= argc)
			return die("open PATH", EINVAL);
		sqe->fd = AT_FDCWD;
		sqe->addr = (unsigned long)argv[i];
		if (!strcmp(op, "open")) {
			sqe->opcode = IORING_OP_OPENAT;
			sqe->open_flags = O_RDONLY;
		} else {
			sqe->opcode = IORING_OP_OPENAT2;
			sqe->len = sizeof(how);
			sqe->addr2 = (unsigned long)&how;
		}
		if (skip) {
			/* no completion on success: then a NOP to wait on */
			sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
			code = submit_wait(&r, 0, &res);
			if (code)
				return die("io_uring_enter", code);
			sqe = next_sqe(&r);
			sqe->opcode = IORING_OP_NOP;
		}
		code = submit_wait(&r, 1, &res);
	} else if (!strcmp(op, "open-twice")) {
		struct io_uring_cqe cqe;

		if (i + 1 >= argc)
			return die("open-twice PATH PATH", EINVAL);
		for (int k = 0; k < 2; k++) {
			if (k)
				sqe = next_sqe(&r);
			sqe->opcode = IORING_OP_OPENAT;
			sqe->fd = AT_FDCWD;
			sqe->addr = (unsigned long)argv[i + k];
			sqe->open_flags = O_RDONLY;
			sqe->user_data = 5; /* the kernel lets requests share it */
			atomic_store_explicit((_Atomic unsigned *)r.sq_tail, *r.sq_tail + 1,
					      memory_order_release);
		}
		if (syscall(__NR_io_uring_enter, r.fd, 2, 0, 0, NULL, 0) < 0)
			return die("io_uring_enter", errno);
		for (int k = 0; k < 2; k++) {
			code = wait_cqe(&r, &cqe);
			if (code)
				return die("io_uring_enter", code);
			printf("result %d\n", cqe.res);
			if (cqe.res < 0)
				return die(op, cqe.res);
		}
	} else if (!strcmp(op, "connect")) {
		int s = socket(AF_INET, SOCK_STREAM, 0);

		if (i + 1 >= argc || ip4_addr(argv[i], argv[i + 1], &sin))
			return die("connect HOST PORT", EINVAL);
		sqe->opcode = IORING_OP_CONNECT;
		sqe->fd = s;
		sqe->addr = (unsigned long)&sin;
		sqe->off = sizeof(sin); /* addr2: the address length */
		code = submit_wait(&r, 1, &res);
	} else if (!strcmp(op, "unix-connect")) {
		static struct sockaddr_un sun = {.sun_family = AF_UNIX};
		int s = socket(AF_UNIX, SOCK_STREAM, 0);

		if (i >= argc)
			return die("unix-connect PATH", EINVAL);
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", argv[i]);
		sqe->opcode = IORING_OP_CONNECT;
		sqe->fd = s;
		sqe->addr = (unsigned long)&sun;
		sqe->off = sizeof(sun);
		code = submit_wait(&r, 1, &res);
	} else if (!strcmp(op, "send") || !strcmp(op, "sendmsg")) {
		static char data[] = "x";
		static struct iovec iov = {.iov_base = data, .iov_len = 1};
		static struct msghdr msg;
		int s = socket(AF_INET, SOCK_DGRAM, 0);

		if (i + 1 >= argc || ip4_addr(argv[i], argv[i + 1], &sin))
			return die("send HOST PORT", EINVAL);
		sqe->fd = s;
		if (!strcmp(op, "send")) {
			/* a destination in the request (sendto semantics) */
			sqe->opcode = IORING_OP_SEND;
			sqe->addr = (unsigned long)data;
			sqe->len = 1;
			sqe->addr2 = (unsigned long)&sin;
			sqe->addr_len = sizeof(sin);
		} else {
			msg.msg_name = &sin;
			msg.msg_namelen = sizeof(sin);
			msg.msg_iov = &iov;
			msg.msg_iovlen = 1;
			sqe->opcode = IORING_OP_SENDMSG;
			sqe->addr = (unsigned long)&msg;
			sqe->len = 1;
		}
		code = submit_wait(&r, 1, &res);
	} else if (!strcmp(op, "accept")) {
		struct sockaddr_in me = {.sin_family = AF_INET};
		socklen_t len = sizeof(me);
		int l = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0);

		me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(l, (struct sockaddr *)&me, sizeof(me)) || listen(l, 4) ||
		    getsockname(l, (struct sockaddr *)&me, &len) ||
		    connect(c, (struct sockaddr *)&me, sizeof(me)))
			return die("listener", errno);
		printf("port %u\n", ntohs(me.sin_port));
		sqe->opcode = IORING_OP_ACCEPT;
		sqe->fd = l;
		code = submit_wait(&r, 1, &res);
	} else if (!strcmp(op, "accept-multi")) {
		code = accept_multi(&r, fixed, cq_full, argv + i, argc - i);
	} else if (!strcmp(op, "flood-open")) {
		static struct __kernel_timespec ts = {.tv_nsec = 300000000};
		struct sockaddr_in me = {.sin_family = AF_INET};
		int l = socket(AF_INET, SOCK_STREAM, 0), n, left;
		unsigned head;

		if (i + 1 >= argc)
			return die("flood-open PATH N", EINVAL);
		me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(l, (struct sockaddr *)&me, sizeof(me)) || listen(l, 4))
			return die("listener", errno);
		/* the open waits behind a timeout (a hard link: the timeout's
		 * -ETIME does not cancel it) */
		sqe->opcode = IORING_OP_TIMEOUT;
		sqe->addr = (unsigned long)&ts;
		sqe->len = 1;
		sqe->flags = IOSQE_IO_HARDLINK;
		atomic_store_explicit((_Atomic unsigned *)r.sq_tail, *r.sq_tail + 1,
				      memory_order_release);
		sqe = next_sqe(&r);
		sqe->opcode = IORING_OP_OPENAT;
		sqe->fd = AT_FDCWD;
		sqe->addr = (unsigned long)argv[i];
		sqe->open_flags = O_RDONLY;
		sqe->user_data = 42;
		atomic_store_explicit((_Atomic unsigned *)r.sq_tail, *r.sq_tail + 1,
				      memory_order_release);
		if (syscall(__NR_io_uring_enter, r.fd, 2, 0, 0, NULL, 0) < 0)
			return die("io_uring_enter", errno);
		/* then requests that stay in flight: accepts nobody answers */
		for (left = atoi(argv[i + 1]); left > 0; left -= n) {
			n = left > 2048 ? 2048 : left;
			for (int k = 0; k < n; k++) {
				sqe = next_sqe(&r);
				sqe->opcode = IORING_OP_ACCEPT;
				sqe->fd = l;
				sqe->user_data = 7;
				atomic_store_explicit((_Atomic unsigned *)r.sq_tail, *r.sq_tail + 1,
						      memory_order_release);
			}
			if (syscall(__NR_io_uring_enter, r.fd, n, 0, 0, NULL, 0) < 0)
				return die("io_uring_enter", errno);
		}
		/* the open's completion */
		for (;;) {
			struct io_uring_cqe *cqe;

			head = *r.cq_head;
			if (head == atomic_load_explicit((_Atomic unsigned *)r.cq_tail,
							 memory_order_acquire)) {
				if (syscall(__NR_io_uring_enter, r.fd, 0, 1, IORING_ENTER_GETEVENTS,
					    NULL, 0) < 0)
					return die("io_uring_enter", errno);
				continue;
			}
			cqe = &r.cqes[head & *r.cq_mask];
			atomic_store_explicit((_Atomic unsigned *)r.cq_head, head + 1,
					      memory_order_release);
			if (cqe->user_data == 42) {
				res = cqe->res;
				printf("result %d\n", res);
				break;
			}
		}
		code = 0;
	} else {
		return die(op, EINVAL);
	}
	if (code)
		return die("io_uring_enter", code);
	if (res < 0 && strcmp(op, "connect") && strcmp(op, "unix-connect"))
		return die(op, res);
	return 0;
}
