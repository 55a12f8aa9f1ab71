// SPDX-License-Identifier: Apache-2.0
#include "render.h"
#include "clock.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "decode.h"

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

void nh_render_object(const struct nh_hdr *h, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	buf[0] = '\0';
	if (h->kind == NH_KIND_OPEN) {
		const struct nh_open_event *e = (const void *)h;

		snprintf(buf, len, "%.*s", (int)e->path_len, e->path);
	} else if (h->kind == NH_KIND_CONNECT) {
		const struct nh_connect_event *e = (const void *)h;

		nh_render_addr(&e->dst, addr, sizeof(addr));
		snprintf(buf, len, e->dst.family == AF_INET6 ? "[%s]:%u" : "%s:%u", addr,
			 e->dst.port);
	} else if (h->kind == NH_KIND_ACCEPT) {
		const struct nh_accept_event *e = (const void *)h;

		nh_render_addr(&e->peer, addr, sizeof(addr));
		snprintf(buf, len, "%s -> :%u", addr, e->local_port);
	}
}
