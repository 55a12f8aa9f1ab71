/* SPDX-License-Identifier: Apache-2.0 */
/*
 * normalise: canonical item strings (see normalise.h).
 *
 * Address text is formatted here rather than with inet_ntop(3): egress is
 * formatted on every observation, and the IPv4 case below is a handful of
 * stores. IPv6 follows RFC 5952 (lowercase, no leading zeros, the longest
 * run of two or more zero groups as "::", the first on a tie).
 */
#include "normalise.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#define OUT_MAX (NH_MODEL_VALUE_MAX - 1) /* longest output, bytes */

static bool is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_hex((unsigned char)s[i]))
			return false;
	return true;
}

static bool is_uuid(const char *s, size_t n)
{
	if (n != 36)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !is_hex((unsigned char)s[i]))
			return false;
	}
	return true;
}

bool nh_norm_volatile(const char *seg, size_t n)
{
	size_t i = 0;

	if (n == 0)
		return false;
	while (i < n && seg[i] >= '0' && seg[i] <= '9')
		i++;
	if (i == n)
		return true; /* pids, fds, counters */
	/* 8 hex digits is the shortest id worth folding (container ids,
	 * hashes); shorter all-hex names are as often words ("cafe"). */
	return (n >= 8 && all_hex(seg, n)) || is_uuid(seg, n);
}

/* Cut a too-long result: its first OUT_MAX - 1 bytes and '*'. */
static int cut(char *out)
{
	out[OUT_MAX - 1] = '*';
	out[OUT_MAX] = '\0';
	return OUT_MAX;
}

int nh_norm_path(const char *in, char out[NH_MODEL_VALUE_MAX])
{
	bool abs;
	size_t o = 0, base = 0; /* base: end of the leading ".." of a relative path */
	const char *s = in, *e;

	if (!in || !*in)
		return -EINVAL;
	abs = in[0] == '/';
	while (*s) {
		const char *seg;
		size_t n, need;

		while (*s == '/')
			s++;
		if (!*s)
			break;
		for (e = s; *e && *e != '/'; e++)
			;
		n = (size_t)(e - s);
		seg = s;
		s = e;
		if (n == 1 && seg[0] == '.')
			continue;
		if (n == 2 && seg[0] == '.' && seg[1] == '.') {
			if (o > base) {
				while (o > base && out[o - 1] != '/')
					o--;
				if (o > base)
					o--; /* and its separator */
				continue;
			}
			if (abs)
				continue; /* ".." of "/" is "/" */
			seg = "..";
		} else if (nh_norm_volatile(seg, n)) {
			seg = "*";
			n = 1;
		}
		need = n + (abs || o > 0 ? 1 : 0);
		if (o + need > OUT_MAX) {
			/* Too long: the rest is not looked at (a ".." further on
			 * cannot shorten it back), the value is cut. */
			size_t room = OUT_MAX - o;

			if (room > 0 && (abs || o > 0)) {
				out[o++] = '/';
				room--;
			}
			memcpy(out + o, seg, room < n ? room : n);
			return cut(out);
		}
		if (abs || o > 0)
			out[o++] = '/';
		memcpy(out + o, seg, n);
		o += n;
		if (seg[0] == '.' && n == 2 && seg[1] == '.' && !abs)
			base = o;
	}
	if (o == 0)
		out[o++] = abs ? '/' : '.';
	out[o] = '\0';
	return (int)o;
}

int nh_norm_text(const char *in, char out[NH_MODEL_VALUE_MAX])
{
	size_t n;

	if (!in || !*in)
		return -EINVAL;
	n = strnlen(in, OUT_MAX + 1);
	if (n > OUT_MAX) {
		memcpy(out, in, OUT_MAX);
		return cut(out);
	}
	memcpy(out, in, n + 1);
	return (int)n;
}

static size_t fmt_u16(uint16_t v, char *o)
{
	char tmp[5];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		o[i] = tmp[n - 1 - i];
	return n;
}

int nh_norm_port(uint16_t port, char out[NH_MODEL_VALUE_MAX])
{
	size_t n = fmt_u16(port, out);

	out[n] = '\0';
	return (int)n;
}

static size_t fmt_v4(const uint8_t *a, char *o)
{
	size_t n = 0;

	for (int i = 0; i < 4; i++) {
		if (i)
			o[n++] = '.';
		n += fmt_u16(a[i], o + n);
	}
	return n;
}

static size_t fmt_v6(const uint8_t *a, char *o)
{
	static const char hex[] = "0123456789abcdef";
	uint16_t g[8];
	int best = -1, bestlen = 0, i, j;
	size_t n = 0;

	for (i = 0; i < 8; i++)
		g[i] = (uint16_t)(a[2 * i] << 8 | a[2 * i + 1]);
	for (i = 0; i < 8; i = j + 1) {
		for (j = i; j < 8 && g[j] == 0; j++)
			;
		if (j - i > bestlen) {
			best = i;
			bestlen = j - i;
		}
	}
	if (bestlen < 2)
		best = -1;
	for (i = 0; i < 8; i++) {
		bool lead = false;

		if (i == best) {
			o[n++] = ':';
			o[n++] = ':';
			i += bestlen - 1;
			continue;
		}
		if (i > 0 && !(best >= 0 && i == best + bestlen))
			o[n++] = ':';
		for (int sh = 12; sh >= 0; sh -= 4) {
			unsigned d = (g[i] >> sh) & 0xf;

			if (d || lead || sh == 0) {
				o[n++] = hex[d];
				lead = true;
			}
		}
	}
	return n;
}

int nh_endpoint_from(int family, const uint8_t addr[16], uint16_t port, struct nh_endpoint *e)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	memset(e, 0, sizeof(*e));
	e->kind = NH_EP_EXACT;
	e->port = port;
	if (family == AF_INET) {
		e->family = AF_INET;
		memcpy(e->addr, addr, 4);
	} else if (family == AF_INET6) {
		if (memcmp(addr, mapped, sizeof(mapped)) == 0) {
			e->family = AF_INET;
			memcpy(e->addr, addr + 12, 4);
		} else {
			e->family = AF_INET6;
			memcpy(e->addr, addr, 16);
		}
	} else {
		return -EINVAL;
	}
	return 0;
}

void nh_endpoint_widen(const struct nh_endpoint *e, enum nh_ep_kind kind, struct nh_endpoint *out)
{
	*out = *e;
	out->kind = (uint8_t)kind;
	if (kind == NH_EP_PREFIX) {
		size_t keep = e->family == AF_INET ? NH_EP_PREFIX4 / 8 : NH_EP_PREFIX6 / 8;

		memset(out->addr + keep, 0, sizeof(out->addr) - keep);
	} else if (kind == NH_EP_PORT) {
		out->family = 0;
		memset(out->addr, 0, sizeof(out->addr));
	}
}

int nh_endpoint_format(const struct nh_endpoint *e, char out[NH_MODEL_VALUE_MAX])
{
	size_t n = 0;

	if (e->kind == NH_EP_PORT) {
		out[n++] = '*';
	} else if (e->family == AF_INET) {
		n = fmt_v4(e->addr, out);
		if (e->kind == NH_EP_PREFIX) {
			memcpy(out + n, "/24", 3);
			n += 3;
		}
	} else {
		out[n++] = '[';
		n += fmt_v6(e->addr, out + n);
		out[n++] = ']';
		if (e->kind == NH_EP_PREFIX) {
			memcpy(out + n, "/64", 3);
			n += 3;
		}
	}
	out[n++] = ':';
	n += fmt_u16(e->port, out + n);
	out[n] = '\0';
	return (int)n;
}

int nh_endpoint_parse(const char *s, struct nh_endpoint *e)
{
	char host[64], again[NH_MODEL_VALUE_MAX];
	const char *colon, *p;
	size_t hn;
	unsigned long port = 0;
	struct nh_endpoint masked;

	memset(e, 0, sizeof(*e));
	if (!s || !(colon = strrchr(s, ':')) || !colon[1] || strlen(colon + 1) > 5)
		return -EINVAL;
	for (p = colon + 1; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		port = port * 10 + (unsigned long)(*p - '0');
	}
	if (port > 65535)
		return -EINVAL;
	e->port = (uint16_t)port;
	hn = (size_t)(colon - s);
	if (hn == 1 && s[0] == '*') {
		e->kind = NH_EP_PORT;
	} else {
		const char *h = s, *end = colon;

		e->kind = NH_EP_EXACT;
		if (hn > 3 &&
		    (memcmp(colon - 3, "/24", 3) == 0 || memcmp(colon - 3, "/64", 3) == 0)) {
			e->kind = NH_EP_PREFIX;
			end = colon - 3;
		}
		if (s[0] == '[') {
			if (end - s < 3 || end[-1] != ']')
				return -EINVAL;
			h = s + 1;
			end--;
			e->family = AF_INET6;
		} else {
			e->family = AF_INET;
		}
		hn = (size_t)(end - h);
		if (hn == 0 || hn >= sizeof(host))
			return -EINVAL;
		memcpy(host, h, hn);
		host[hn] = '\0';
		if (inet_pton(e->family, host, e->addr) != 1)
			return -EINVAL;
		if (e->kind == NH_EP_PREFIX) {
			nh_endpoint_widen(e, NH_EP_PREFIX, &masked);
			if (memcmp(masked.addr, e->addr, sizeof(e->addr)) != 0)
				return -EINVAL;
		}
		if (e->family == AF_INET6 && e->kind == NH_EP_EXACT) {
			nh_endpoint_from(AF_INET6, e->addr, e->port, &masked);
			if (masked.family != AF_INET6)
				return -EINVAL; /* mapped IPv4 is stored as IPv4 */
		}
	}
	/* only the canonical spelling: one item, one string */
	nh_endpoint_format(e, again);
	return strcmp(again, s) == 0 ? 0 : -EINVAL;
}
