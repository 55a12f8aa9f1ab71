// SPDX-License-Identifier: Apache-2.0
#include "render.h"
#include "clock.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "decode.h"
#include "opname.h"

void nh_render_time(uint64_t mono_ns, int64_t wall_offset_ns, char *buf, size_t len)
{
	nh_clock_format((uint64_t)((int64_t)mono_ns + wall_offset_ns), 6, buf, len);
}

void nh_render_addr(const struct nh_sockaddr *sa, char *buf, size_t len)
{
	if (sa->family == AF_INET6)
		inet_ntop(AF_INET6, sa->addr, buf, len);
	else if (sa->family == AF_INET)
		inet_ntop(AF_INET, sa->addr, buf, len);
	else
		snprintf(buf, len, "family-%u", sa->family);
}

void nh_render_bytes(char *buf, size_t len, const char *s, size_t n)
{
	if (!len)
		return;
	n = strnlen(s, n < len - 1 ? n : len - 1);
	memcpy(buf, s, n);
	buf[n] = '\0';
}

void nh_render_unix_path(const struct nh_unix_event *e, char *buf, size_t len)
{
	size_t n = e->path_len < NH_UNIX_PATH_MAX ? e->path_len : NH_UNIX_PATH_MAX;

	/* An abstract name starts with a NUL and may hold more: '@' as ss(8)
	 * shows it, then up to the next NUL. */
	if (n && e->path[0] == '\0')
		snprintf(buf, len, "@%.*s", (int)strnlen(e->path + 1, n - 1), e->path + 1);
	else
		snprintf(buf, len, "%.*s", (int)strnlen(e->path, n), e->path);
}

const char *nh_render_sock_type(uint32_t type)
{
	switch (type) {
	case 1:
		return "stream";
	case 2:
		return "dgram";
	case 5:
		return "seqpacket";
	default:
		return "other";
	}
}

void nh_render_object(const struct nh_hdr *h, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	buf[0] = '\0';
	if (h->kind == NH_KIND_OPEN) {
		const struct nh_open_event *e = (const void *)h;

		nh_render_bytes(buf, len, e->path, e->path_len);
	} else if (h->kind == NH_KIND_CONNECT) {
		const struct nh_connect_event *e = (const void *)h;

		nh_render_addr(&e->dst, addr, sizeof(addr));
		snprintf(buf, len, e->dst.family == AF_INET6 ? "[%s]:%u" : "%s:%u", addr,
			 e->dst.port);
	} else if (h->kind == NH_KIND_ACCEPT) {
		const struct nh_accept_event *e = (const void *)h;

		nh_render_addr(&e->peer, addr, sizeof(addr));
		snprintf(buf, len, "%s -> :%u", addr, e->local_port);
	} else if (h->kind == NH_KIND_SEND) {
		const struct nh_send_event *e = (const void *)h;

		nh_render_addr(&e->dst, addr, sizeof(addr));
		snprintf(buf, len, e->dst.family == AF_INET6 ? "[%s]:%u" : "%s:%u", addr,
			 e->dst.port);
	} else if (h->kind == NH_KIND_UNIX_CONNECT) {
		nh_render_unix_path((const void *)h, buf, len);
	} else if (h->kind == NH_KIND_IO_URING_CREATE) {
		const struct nh_ring_event *e = (const void *)h;

		/* what the dedup object is: a ring, and whether it is SQPOLL */
		snprintf(buf, len, "io_uring_setup%s", e->setup_flags & 2 ? " sqpoll" : "");
	} else if (h->kind >= NH_KIND_NAMESPACE && h->kind <= NH_KIND_MODULE) {
		const struct nh_op_event *e = (const void *)h;
		char op[96];

		snprintf(buf, len, "%s %s%s%.*s", nh_syscall_name(e->syscall),
			 nh_opname(e->syscall, e->op, op, sizeof(op)), e->path_len ? " " : "",
			 (int)e->path_len, e->path);
	} else if (h->kind == NH_KIND_COMPAT_SYSCALL) {
		const struct nh_compat_event *e = (const void *)h;

		nh_render_addr(&e->dst, addr, sizeof(addr));
		snprintf(buf, len, "ia32 %u %s %.*s%s", e->nr, nh_syscall_name(e->syscall),
			 (int)e->path_len, e->path,
			 e->dst.family == AF_INET || e->dst.family == AF_INET6 ? addr : "");
	}
}
