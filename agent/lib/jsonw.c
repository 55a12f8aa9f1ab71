// SPDX-License-Identifier: Apache-2.0
#include "jsonw.h"

#include <string.h>

void nh_json_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

void nh_json_str_known(json_object *o, const char *k, const char *v)
{
	if (v && *v)
		json_object_object_add(o, k, json_object_new_string(v));
}

void nh_json_int(json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

void nh_json_uint(json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

void nh_json_result(json_object *o, int64_t result)
{
	nh_json_int(o, "result", result);
	if (result < 0) {
		const char *name = strerrorname_np((int)-result);

		nh_json_str(o, "error", name ? name : "unknown");
	}
}

json_object *nh_json_sub(json_object *o, const char *k)
{
	json_object *s;

	if (json_object_object_get_ex(o, k, &s))
		return s;
	s = json_object_new_object();
	if (s)
		json_object_object_add(o, k, s);
	return s;
}

/* --- the writer ---------------------------------------------------------- */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

void nh_jw_reset(struct nh_jw *w)
{
	w->len = 0;
	w->failed = false;
	w->depth = 0;
	w->empty[0] = true;
}

void nh_jw_free(struct nh_jw *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

bool nh_jw_grow(struct nh_jw *w, size_t n)
{
	size_t cap;
	char *b;

	if (w->failed)
		return false;
	if (w->cap - w->len >= n)
		return true;
	cap = w->cap ? w->cap : 4096;
	while (cap - w->len < n) {
		if (cap > SIZE_MAX / 2)
			goto fail;
		cap *= 2;
	}
	b = realloc(w->buf, cap);
	if (!b)
		goto fail;
	w->buf = b;
	w->cap = cap;
	return true;
fail:
	w->failed = true;
	return false;
}

static inline void put(struct nh_jw *w, const char *s, size_t n)
{
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

/* 0: copied as is; 1: escaped; 2: the start of a multi-byte sequence. */
static const uint8_t byte_class[256] = {
    [0x00 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x7f] = 0, [0x80 ... 0xff] = 2,
};

/* The length of the valid UTF-8 sequence at s (n bytes left), 0 if none:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];

	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;

		return n >= 3 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;

		return n >= 4 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
			       (s[3] & 0xc0) == 0x80
			   ? 4
			   : 0;
	}
	return 0;
}

/* Whether none of the 8 bytes at s needs a look: no control character,
 * '"', '\\' or byte >= 0x80 (the usual word-at-a-time tests). */
static inline bool plain_word(uint64_t v)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	uint64_t quote, slash, hits;

	quote = v ^ (ones * '"');
	slash = v ^ (ones * '\\');
	hits = ((quote - ones) & ~quote) | ((slash - ones) & ~slash) | ((v - ones * 0x20) & ~v) | v;
	return !(hits & highs);
}

static inline bool plain8(const unsigned char *s)
{
	uint64_t v;

	memcpy(&v, s, 8);
	return plain_word(v);
}

/* s escaped, without quotes, into room the caller reserved: 6 bytes a
 * byte at worst (\u00XX, \ufffd). */
static void put_escaped(struct nh_jw *w, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t run = 0, i = 0;

	while (i < n) {
		uint8_t k;
		size_t u;

		/* eight plain bytes at a time: most strings are all plain;
		 * then byte by byte up to the next byte to look at (no
		 * padded copy of the tail: a store-forwarding stall) */
		while (i + 8 <= n && plain8(s + i))
			i += 8;
		while (i < n && !byte_class[s[i]])
			i++;
		if (i == n)
			break;
		k = byte_class[s[i]];
		put(w, (const char *)s + run, i - run);
		if (k == 2) {
			u = utf8_len(s + i, n - i);
			if (u) {
				put(w, (const char *)s + i, u);
				i += u;
			} else {
				put(w, "\\ufffd", 6);
				i++;
			}
		} else {
			char e[6] = {'\\', 0};
			unsigned char c = s[i++];

			switch (c) {
			case '"':
			case '\\':
				e[1] = (char)c;
				put(w, e, 2);
				break;
			case '\n':
				put(w, "\\n", 2);
				break;
			case '\r':
				put(w, "\\r", 2);
				break;
			case '\t':
				put(w, "\\t", 2);
				break;
			case '\b':
				put(w, "\\b", 2);
				break;
			case '\f':
				put(w, "\\f", 2);
				break;
			default:
				e[1] = 'u';
				e[2] = '0';
				e[3] = '0';
				e[4] = hex[c >> 4];
				e[5] = hex[c & 15];
				put(w, e, 6);
			}
		}
		run = i;
	}
	put(w, (const char *)s + run, i - run);
}

/* Room for n bytes escaped and two quotes. */
static bool reserve_string(struct nh_jw *w, size_t n)
{
	if (n > (SIZE_MAX - 64) / 6) {
		w->failed = true;
		return false;
	}
	return nh_jw_reserve(w, 6 * n + 2);
}

/* "s" escaped, quotes included, into reserved room. */
static void put_string(struct nh_jw *w, const char *s, size_t n)
{
	w->buf[w->len++] = '"';
	put_escaped(w, s, n);
	w->buf[w->len++] = '"';
}

/* Up to PLAIN_MAX bytes of s that need no escaping, copied to d, stopping
 * at the NUL or the first byte to look at: keys and most values are
 * short and plain, and this is one pass instead of strlen and a scan. */
#define PLAIN_MAX 64
/* Aligned 8-byte words where it can: an aligned load never crosses a page,
 * so reading past the NUL within its word is safe (the way strlen does
 * it), though outside the string's object, hence no ASan on this one. The
 * caller reserved PLAIN_MAX bytes at d. */
__attribute__((no_sanitize_address)) static size_t copy_plain(char *d, const char *s)
{
	size_t i = 0;

	while (i < PLAIN_MAX && ((uintptr_t)(s + i) & 7)) {
		if (byte_class[(unsigned char)s[i]])
			return i;
		d[i] = s[i];
		i++;
	}
	/* a NUL stops it too (a control byte) */
	while (i + 8 <= PLAIN_MAX) {
		/* aligned; may_alias: a word read of char data */
		typedef uint64_t __attribute__((may_alias)) word;
		uint64_t v = *(const word *)(const void *)(s + i);

		if (!plain_word(v))
			break;
		memcpy(d + i, &v, 8);
		i += 8;
	}
	while (i < PLAIN_MAX && !byte_class[(unsigned char)s[i]]) {
		d[i] = s[i];
		i++;
	}
	return i;
}

/* The separator and the key of the next member; false when failed. */
static bool member(struct nh_jw *w, const char *key, size_t value_max)
{
	size_t klen, done;

	if (value_max > SIZE_MAX / 2) {
		w->failed = true;
		return false;
	}
	if (!nh_jw_reserve(w, 1 + (key ? PLAIN_MAX + 3 : 0) + value_max))
		return false;
	if (!w->empty[w->depth])
		w->buf[w->len++] = ',';
	w->empty[w->depth] = false;
	if (!key)
		return true;
	w->buf[w->len] = '"';
	done = copy_plain(w->buf + w->len + 1, key);
	if (!key[done]) {
		w->buf[w->len + 1 + done] = '"';
		w->buf[w->len + 2 + done] = ':';
		w->len += done + 3;
		return true;
	}
	/* a long key, or one to escape: the rest the slow way */
	w->len += 1 + done;
	klen = strlen(key + done);
	if (klen > SIZE_MAX / 16 || !nh_jw_reserve(w, 6 * klen + 2 + value_max)) {
		w->failed = true;
		return false;
	}
	put_escaped(w, key + done, klen);
	w->buf[w->len++] = '"';
	w->buf[w->len++] = ':';
	return !w->failed;
}

static void open_level(struct nh_jw *w, const char *key, char c)
{
	size_t mark = w->len;
	bool was = w->empty[w->depth];

	if (w->depth + 1 >= NH_JW_DEPTH) {
		w->failed = true;
		return;
	}
	if (!member(w, key, 1))
		return;
	w->buf[w->len++] = c;
	w->depth++;
	w->closer[w->depth] = c == '{' ? '}' : ']';
	w->empty[w->depth] = true;
	w->mark[w->depth] = mark;
	w->was_empty[w->depth] = was;
}

void nh_jw_object(struct nh_jw *w, const char *key)
{
	open_level(w, key, '{');
}

void nh_jw_array(struct nh_jw *w, const char *key)
{
	open_level(w, key, '[');
}

void nh_jw_end(struct nh_jw *w)
{
	if (w->failed || !w->depth || !nh_jw_reserve(w, 1))
		return;
	w->buf[w->len++] = w->closer[w->depth--];
}

void nh_jw_end_or_drop(struct nh_jw *w)
{
	if (w->failed || !w->depth)
		return;
	if (w->empty[w->depth]) {
		w->len = w->mark[w->depth];
		w->empty[w->depth - 1] = w->was_empty[w->depth];
		w->depth--;
		return;
	}
	nh_jw_end(w);
}

void nh_jw_strn(struct nh_jw *w, const char *key, const char *v, size_t n)
{
	if (n > (SIZE_MAX - 64) / 6) {
		w->failed = true;
		return;
	}
	if (member(w, key, 6 * n + 2))
		put_string(w, v, n);
}

/* "v", NUL-terminated: the plain start copied in the same pass that
 * finds its end, the rest (if any) escaped. */
static void str_value(struct nh_jw *w, const char *key, const char *v)
{
	size_t done, n;

	if (!member(w, key, PLAIN_MAX + 2))
		return;
	w->buf[w->len] = '"';
	done = copy_plain(w->buf + w->len + 1, v);
	w->len += 1 + done;
	if (v[done]) {
		n = strlen(v + done);
		if (n > (SIZE_MAX - 64) / 6 || !nh_jw_reserve(w, 6 * n + 1)) {
			w->failed = true;
			return;
		}
		put_escaped(w, v + done, n);
	}
	w->buf[w->len++] = '"';
}

void nh_jw_str(struct nh_jw *w, const char *key, const char *v)
{
	if (!v) {
		if (member(w, key, 4))
			put(w, "null", 4);
		return;
	}
	str_value(w, key, v);
}

void nh_jw_str_known(struct nh_jw *w, const char *key, const char *v)
{
	if (v && *v)
		str_value(w, key, v);
}

/* Decimal digits of v, written backwards from end; returns the start. */
static char *digits(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

void nh_jw_uint(struct nh_jw *w, const char *key, uint64_t v)
{
	char tmp[24], *s = digits(tmp + sizeof(tmp), v);

	if (member(w, key, 20))
		put(w, s, (size_t)(tmp + sizeof(tmp) - s));
}

void nh_jw_int(struct nh_jw *w, const char *key, int64_t v)
{
	char tmp[24], *s;

	/* the magnitude as unsigned: -INT64_MIN overflows int64_t */
	s = digits(tmp + sizeof(tmp), v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
	if (v < 0)
		*--s = '-';
	if (member(w, key, 21))
		put(w, s, (size_t)(tmp + sizeof(tmp) - s));
}

void nh_jw_bool(struct nh_jw *w, const char *key, bool v)
{
	if (member(w, key, 5))
		put(w, v ? "true" : "false", v ? 4 : 5);
}

void nh_jw_double(struct nh_jw *w, const char *key, double v)
{
	char tmp[40];
	int n;

	if (!isfinite(v))
		v = 0;
	n = snprintf(tmp, sizeof(tmp) - 2, "%.17g", v);
	if (n < 0 || (size_t)n >= sizeof(tmp) - 2)
		n = snprintf(tmp, sizeof(tmp), "0");
	/* a float stays a float: 2 is written 2.0 */
	if (!strpbrk(tmp, ".eE")) {
		tmp[n++] = '.';
		tmp[n++] = '0';
	}
	if (member(w, key, (size_t)n))
		put(w, tmp, (size_t)n);
}

void nh_jw_raw(struct nh_jw *w, const char *key, const char *v, size_t n)
{
	if (member(w, key, n))
		put(w, v, n);
}

void nh_jw_result(struct nh_jw *w, int64_t result)
{
	nh_jw_int(w, "result", result);
	if (result < 0) {
		const char *name = strerrorname_np((int)-result);

		nh_jw_str(w, "error", name ? name : "unknown");
	}
}

void nh_jw_str_join(struct nh_jw *w, const char *key, const char *const *parts, size_t n, char sep)
{
	if (!member(w, key, 1))
		return;
	w->buf[w->len++] = '"';
	for (size_t i = 0; i < n; i++) {
		size_t k = strlen(parts[i]);

		if (!reserve_string(w, k + 1))
			return;
		if (i)
			w->buf[w->len++] = sep;
		put_escaped(w, parts[i], k);
	}
	if (nh_jw_reserve(w, 1))
		w->buf[w->len++] = '"';
}
