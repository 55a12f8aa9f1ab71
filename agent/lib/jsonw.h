/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jsonw: how both daemons write JSON. Two ways:
 *   - struct nh_jw, a writer straight into one growing buffer, no DOM:
 *     the per-record paths (the tail's JSON, the collector's ECS
 *     documents), where a json-c object per record cost most of the time;
 *   - small json-c builders for the rest (status, requests, logs).
 * Neither escapes '/' (NH_JSON_FLAGS for json-c).
 */
#ifndef NH_JSONW_H
#define NH_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* How every JSON text the project writes is serialised: one line, and '/'
 * as itself (json-c escapes it as "\/" by default, which breaks a plain
 * `grep /etc/shadow` on the tail, logs and SIEM documents). */
#define NH_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* "k": v, also when v is NULL (null) or empty. */
void nh_json_str(json_object *o, const char *k, const char *v);
/* "k": v only when v is a non-empty string: an absent field beats an
 * empty one. */
void nh_json_str_known(json_object *o, const char *k, const char *v);
void nh_json_int(json_object *o, const char *k, int64_t v);
void nh_json_uint(json_object *o, const char *k, uint64_t v);
/* "result": r, and for -errno "error": "ECONNREFUSED". */
void nh_json_result(json_object *o, int64_t result);
/* The object under k, created on first use; o keeps the reference. NULL
 * on ENOMEM. */
json_object *nh_json_sub(json_object *o, const char *k);

#define NH_JW_DEPTH 16 /* nesting the writer follows; deeper opens fail */

/*
 * The writer. Keys and strings are escaped as JSON requires ('"', '\\',
 * control characters), '/' is not, and bytes that are not UTF-8 are
 * written as U+FFFD, so the text is always valid JSON in UTF-8 whatever a
 * workload named its files. A key is NULL for a value in an array or
 * the top level. Out of memory (or nesting deeper than NH_JW_DEPTH)
 * sets failed; the caller checks it once at the end.
 */
struct nh_jw {
	char *buf;
	size_t len, cap;
	bool failed;
	unsigned depth;
	bool empty[NH_JW_DEPTH];     /* no member written yet at this level */
	size_t mark[NH_JW_DEPTH];    /* where this level's key began */
	bool was_empty[NH_JW_DEPTH]; /* the parent's empty flag before this level */
	char closer[NH_JW_DEPTH];    /* '}' or ']' */
};

/* Zeroed is ready; nh_jw_reset reuses the buffer for the next text. */
void nh_jw_reset(struct nh_jw *w);
void nh_jw_free(struct nh_jw *w);
/* Make room for n more bytes; false (and failed) on ENOMEM. */
bool nh_jw_grow(struct nh_jw *w, size_t n);
static inline bool nh_jw_reserve(struct nh_jw *w, size_t n)
{
	return (!w->failed && w->cap - w->len >= n) || nh_jw_grow(w, n);
}

void nh_jw_object(struct nh_jw *w, const char *key);
void nh_jw_array(struct nh_jw *w, const char *key);
/* Close the innermost object or array. */
void nh_jw_end(struct nh_jw *w);
/* Close it, and drop it with its key when it got no member: an absent
 * group beats an empty one. */
void nh_jw_end_or_drop(struct nh_jw *w);

void nh_jw_str(struct nh_jw *w, const char *key, const char *v); /* NULL: null */
void nh_jw_strn(struct nh_jw *w, const char *key, const char *v, size_t n);
/* The parts as one string, sep between them ("/bin/sh -c x"); sep is
 * printable ASCII other than '"' and '\\'. */
void nh_jw_str_join(struct nh_jw *w, const char *key, const char *const *parts, size_t n, char sep);
/* Only when v is a non-empty string. */
void nh_jw_str_known(struct nh_jw *w, const char *key, const char *v);
void nh_jw_int(struct nh_jw *w, const char *key, int64_t v);
void nh_jw_uint(struct nh_jw *w, const char *key, uint64_t v);
void nh_jw_bool(struct nh_jw *w, const char *key, bool v);
/* Always a JSON float ("2.0", never "2"), so that one field keeps one
 * type in a SIEM's mapping; not finite: 0.0. */
void nh_jw_double(struct nh_jw *w, const char *key, double v);
/* v, n bytes of JSON text the caller vouches for, as the value. */
void nh_jw_raw(struct nh_jw *w, const char *key, const char *v, size_t n);
/* "result": r, and for -errno "error": "ECONNREFUSED" (nh_json_result). */
void nh_jw_result(struct nh_jw *w, int64_t result);

#endif
