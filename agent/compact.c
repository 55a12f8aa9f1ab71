// SPDX-License-Identifier: Apache-2.0
#include "compact.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define C_RESET	   "\033[0m"
#define C_DIM	   "\033[2m"
#define C_RED	   "\033[31m"
#define C_BOLD_RED "\033[1;31m"
#define C_GREEN	   "\033[32m"
#define C_YELLOW   "\033[33m"
#define C_BLUE	   "\033[34m"
#define C_MAGENTA  "\033[35m"
#define C_CYAN	   "\033[36m"

static const char *str(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static int64_t num(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

static const char *kind_color(const char *kind)
{
	static const struct {
		const char *kind, *color;
	} map[] = {
	    {"exec", C_GREEN},	  {"open", C_BLUE},  {"connect", C_MAGENTA}, {"accept", C_MAGENTA},
	    {"setuid", C_RED},	  {"setgid", C_RED}, {"capset", C_RED},	     {"summary", C_DIM},
	    {"loss", C_BOLD_RED}, {"fork", C_DIM},   {"exit", C_DIM},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(kind, map[i].kind) == 0)
			return map[i].color;
	return "";
}

/* Append with truncation; returns the new length. */
static size_t put(char *buf, size_t len, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static size_t put(char *buf, size_t len, size_t n, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (n >= len)
		return n;
	va_start(ap, fmt);
	w = vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
	return w < 0 ? n : n + (size_t)w;
}

static size_t outcome(json_object *ev, char *buf, size_t len, size_t n)
{
	const char *err = str(ev, "error");

	return err ? put(buf, len, n, " %s", err) : n;
}

static size_t ids(json_object *ev, char *buf, size_t len, size_t n)
{
	json_object *old, *new;

	if (!json_object_object_get_ex(ev, "old", &old) ||
	    !json_object_object_get_ex(ev, "new", &new))
		return n;
	return put(buf, len, n, " %lld/%lld/%lld -> %lld/%lld/%lld (%s)",
		   (long long)num(old, "real"), (long long)num(old, "effective"),
		   (long long)num(old, "saved"), (long long)num(new, "real"),
		   (long long)num(new, "effective"), (long long)num(new, "saved"),
		   str(ev, "syscall") ?: "");
}

static size_t details(json_object *ev, const char *kind, char *buf, size_t len, size_t n)
{
	json_object *v;

	if (strcmp(kind, "exec") == 0) {
		n = put(buf, len, n, " %s", str(ev, "path") ?: "");
		if (json_object_object_get_ex(ev, "args", &v))
			for (size_t i = 1; i < json_object_array_length(v); i++)
				n = put(buf, len, n, " %s",
					json_object_get_string(json_object_array_get_idx(v, i)));
		if (json_object_object_get_ex(ev, "args_truncated", &v))
			n = put(buf, len, n, " ...");
	} else if (strcmp(kind, "open") == 0) {
		n = put(buf, len, n, " %s %s", str(ev, "path") ?: "", str(ev, "flags_str") ?: "");
		n = outcome(ev, buf, len, n);
	} else if (strcmp(kind, "connect") == 0) {
		const char *a = str(ev, "address") ?: "";

		n = put(buf, len, n, strchr(a, ':') ? " -> [%s]:%lld" : " -> %s:%lld", a,
			(long long)num(ev, "port"));
		n = outcome(ev, buf, len, n);
	} else if (strcmp(kind, "accept") == 0) {
		if (str(ev, "address"))
			n = put(buf, len, n, " <- %s:%lld on :%lld", str(ev, "address"),
				(long long)num(ev, "port"), (long long)num(ev, "local_port"));
		n = outcome(ev, buf, len, n);
	} else if (strcmp(kind, "setuid") == 0 || strcmp(kind, "setgid") == 0) {
		n = ids(ev, buf, len, n);
		n = outcome(ev, buf, len, n);
	} else if (strcmp(kind, "capset") == 0) {
		json_object *old, *new;

		if (json_object_object_get_ex(ev, "old", &old) &&
		    json_object_object_get_ex(ev, "new", &new))
			n = put(buf, len, n, " effective %s -> %s", str(old, "effective") ?: "",
				str(new, "effective") ?: "");
		n = outcome(ev, buf, len, n);
	} else if (strcmp(kind, "fork") == 0) {
		n = put(buf, len, n, " child=%lld", (long long)num(ev, "child_pid"));
	} else if (strcmp(kind, "exit") == 0) {
		if (json_object_object_get_ex(ev, "signal", &v))
			n = put(buf, len, n, " signal=%lld", (long long)json_object_get_int64(v));
		else
			n = put(buf, len, n, " code=%lld", (long long)num(ev, "exit_code"));
	} else if (strcmp(kind, "summary") == 0) {
		n = put(buf, len, n, " %s x%lld %s", str(ev, "of") ?: "",
			(long long)num(ev, "count"), str(ev, "object") ?: "");
	}
	return n;
}

void nh_compact_format(json_object *ev, bool color, char *buf, size_t len)
{
	const char *kind = str(ev, "kind") ?: "?", *time = str(ev, "time") ?: "";
	const char *col = color ? kind_color(kind) : "", *reset = color && *col ? C_RESET : "";
	size_t n = 0;

	/* "2026-11-22T08:00:01.123456Z" -> "08:00:01.123" */
	n = put(buf, len, n, "%.12s ", strlen(time) >= 23 ? time + 11 : time);
	n = put(buf, len, n, "%s%-8s%s", col, kind, reset);
	if (strcmp(kind, "loss") == 0) {
		n = put(buf, len, n, " %lld %s events lost (%s)", (long long)num(ev, "count"),
			str(ev, "of") ?: "", str(ev, "source") ?: "");
		return;
	}
	n = put(buf, len, n, " %s%s%s", color ? C_CYAN : "", str(ev, "identity") ?: "-",
		color ? C_RESET : "");
	n = put(buf, len, n, " pid=%lld", (long long)num(ev, "pid"));
	if (str(ev, "comm"))
		n = put(buf, len, n, " %s%s%s", color ? C_YELLOW : "", str(ev, "comm"),
			color ? C_RESET : "");
	details(ev, kind, buf, len, n);
}
