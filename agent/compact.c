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

/* The value of k in o; NULL if there is none, or it is JSON null. */
static json_object *field(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static const char *kind_color(const char *kind)
{
	static const struct {
		const char *kind, *color;
	} map[] = {
	    {"exec", C_GREEN},
	    {"open", C_BLUE},
	    {"connect", C_MAGENTA},
	    {"accept", C_MAGENTA},
	    {"setuid", C_RED},
	    {"setgid", C_RED},
	    {"capset", C_RED},
	    {"summary", C_DIM},
	    {"loss", C_BOLD_RED},
	    {"fork", C_DIM},
	    {"exit", C_DIM},
	    {"credential_use", C_BOLD_RED},
	    {"credential_reuse", C_BOLD_RED},
	    {"secret_exposure", C_BOLD_RED},
	    {"human_use", C_BOLD_RED},
	    {"identity_conflict", C_BOLD_RED},
	    {"anomaly", C_BOLD_RED},
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

/* Append s whole or not at all: half a colour code would leave a raw ESC
 * that swallows what the terminal prints next. Full is n = len. */
static size_t put_all(char *buf, size_t len, size_t n, const char *s, size_t sl)
{
	if (n >= len)
		return n;
	if (sl >= len - n) {
		buf[n] = '\0';
		return len;
	}
	memcpy(buf + n, s, sl);
	buf[n + sl] = '\0';
	return n + sl;
}

static size_t put_color(char *buf, size_t len, size_t n, const char *c)
{
	return put_all(buf, len, n, c, strlen(c));
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs,
 * surrogates or code points past U+10FFFF), 0 if there is none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need;

	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xc2)
		return 0;
	if (s[0] < 0xe0) {
		need = 2;
	} else if (s[0] < 0xf0) {
		need = 3;
		lo = s[0] == 0xe0 ? 0xa0 : lo;
		hi = s[0] == 0xed ? 0x9f : hi;
	} else if (s[0] < 0xf5) {
		need = 4;
		lo = s[0] == 0xf0 ? 0x90 : lo;
		hi = s[0] == 0xf4 ? 0x8f : hi;
	} else {
		return 0;
	}
	if (n < need || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return need;
}

/*
 * Append text from the event, which the monitored processes choose (file
 * names, argv, comm), so that no byte of it can drive the operator's
 * terminal or break the line:
 *   backslash                   -> \\  (a name cannot forge an escape)
 *   LF, CR, TAB                 -> \n \r \t
 *   other C0 (< 0x20) and DEL   -> \xNN
 *   C1 controls U+0080..U+009F  -> \xc2\xNN  (both bytes of their UTF-8)
 *   bytes not in valid UTF-8    -> \xNN
 * Everything else, printable ASCII and valid UTF-8 from U+00A0 up, is
 * copied as is. Each escape, or UTF-8 sequence, goes in whole or not at
 * all, and nothing after one that did not fit.
 */
static size_t put_esc(char *buf, size_t len, size_t n, const char *str, size_t sl)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, step;
	char tok[9];
	int tl;

	while (i < sl && n < len) {
		step = utf8_len(s + i, sl - i);
		if (step == 1 && s[i] >= 0x20 && s[i] != 0x7f && s[i] != '\\') {
			n = put_all(buf, len, n, str + i, 1);
		} else if (step == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0) {
			tl = snprintf(tok, sizeof(tok), "\\x%02x\\x%02x", s[i], s[i + 1]);
			n = put_all(buf, len, n, tok, (size_t)tl);
		} else if (step > 1) {
			n = put_all(buf, len, n, str + i, step);
		} else {
			step = 1;
			switch (s[i]) {
			case '\\':
				tl = snprintf(tok, sizeof(tok), "\\\\");
				break;
			case '\n':
				tl = snprintf(tok, sizeof(tok), "\\n");
				break;
			case '\r':
				tl = snprintf(tok, sizeof(tok), "\\r");
				break;
			case '\t':
				tl = snprintf(tok, sizeof(tok), "\\t");
				break;
			default:
				tl = snprintf(tok, sizeof(tok), "\\x%02x", s[i]);
			}
			n = put_all(buf, len, n, tok, (size_t)tl);
		}
		i += step;
	}
	return n;
}

/* A JSON value's text, escaped; dflt for a missing or null one. A JSON
 * string may hold NULs, which show as \x00 rather than ending it. */
static size_t put_val(char *buf, size_t len, size_t n, json_object *v, const char *dflt)
{
	const char *s = v ? json_object_get_string(v) : NULL;

	if (!s)
		return put_esc(buf, len, n, dflt, strlen(dflt));
	if (json_object_is_type(v, json_type_string))
		return put_esc(buf, len, n, s, (size_t)json_object_get_string_len(v));
	return put_esc(buf, len, n, s, strlen(s));
}

/* " " and the value of k in o, escaped. */
static size_t put_field(char *buf, size_t len, size_t n, json_object *o, const char *k,
			const char *dflt)
{
	return put_val(buf, len, put(buf, len, n, " "), field(o, k), dflt);
}

static size_t outcome(json_object *ev, char *buf, size_t len, size_t n)
{
	return str(ev, "error") ? put_field(buf, len, n, ev, "error", "") : n;
}

static size_t ids(json_object *ev, char *buf, size_t len, size_t n)
{
	json_object *old, *new;

	if (!json_object_object_get_ex(ev, "old", &old) ||
	    !json_object_object_get_ex(ev, "new", &new))
		return n;
	n = put(buf, len, n, " %lld/%lld/%lld -> %lld/%lld/%lld (", (long long)num(old, "real"),
		(long long)num(old, "effective"), (long long)num(old, "saved"),
		(long long)num(new, "real"), (long long)num(new, "effective"),
		(long long)num(new, "saved"));
	n = put_val(buf, len, n, field(ev, "syscall"), "");
	return put(buf, len, n, ")");
}

static size_t details(json_object *ev, const char *kind, char *buf, size_t len, size_t n)
{
	json_object *v;

	if (strcmp(kind, "exec") == 0) {
		n = put_field(buf, len, n, ev, "path", "");
		if (json_object_object_get_ex(ev, "args", &v) &&
		    json_object_is_type(v, json_type_array))
			for (size_t i = 1; i < json_object_array_length(v); i++)
				n = put_val(buf, len, put(buf, len, n, " "),
					    json_object_array_get_idx(v, i), "");
		if (json_object_object_get_ex(ev, "args_truncated", &v))
			n = put(buf, len, n, " ...");
	} else if (strcmp(kind, "open") == 0) {
		n = put_field(buf, len, n, ev, "path", "");
		n = put_field(buf, len, n, ev, "flags_str", "");
		n = outcome(ev, buf, len, n);
	} else if (strcmp(kind, "connect") == 0) {
		bool v6 = strchr(str(ev, "address") ?: "", ':') != NULL;

		n = put(buf, len, n, v6 ? " -> [" : " -> ");
		n = put_val(buf, len, n, field(ev, "address"), "");
		n = put(buf, len, n, v6 ? "]:%lld" : ":%lld", (long long)num(ev, "port"));
		n = outcome(ev, buf, len, n);
	} else if (strcmp(kind, "accept") == 0) {
		if (str(ev, "address")) {
			n = put(buf, len, n, " <-");
			n = put_field(buf, len, n, ev, "address", "");
			n = put(buf, len, n, ":%lld on :%lld", (long long)num(ev, "port"),
				(long long)num(ev, "local_port"));
		}
		n = outcome(ev, buf, len, n);
	} else if (strcmp(kind, "setuid") == 0 || strcmp(kind, "setgid") == 0) {
		n = ids(ev, buf, len, n);
		n = outcome(ev, buf, len, n);
	} else if (strcmp(kind, "capset") == 0) {
		json_object *old, *new;

		if (json_object_object_get_ex(ev, "old", &old) &&
		    json_object_object_get_ex(ev, "new", &new)) {
			n = put(buf, len, n, " effective");
			n = put_field(buf, len, n, old, "effective", "");
			n = put(buf, len, n, " ->");
			n = put_field(buf, len, n, new, "effective", "");
		}
		n = outcome(ev, buf, len, n);
	} else if (strcmp(kind, "fork") == 0) {
		n = put(buf, len, n, " child=%lld", (long long)num(ev, "child_pid"));
	} else if (strcmp(kind, "exit") == 0) {
		if (json_object_object_get_ex(ev, "signal", &v))
			n = put(buf, len, n, " signal=%lld", (long long)json_object_get_int64(v));
		else
			n = put(buf, len, n, " code=%lld", (long long)num(ev, "exit_code"));
	} else if (strcmp(kind, "summary") == 0) {
		n = put_field(buf, len, n, ev, "of", "");
		n = put(buf, len, n, " x%lld", (long long)num(ev, "count"));
		n = put_field(buf, len, n, ev, "object", "");
	} else if (strcmp(kind, "credential_use") == 0) {
		n = put_field(buf, len, n, ev, "credential_kind", "");
		n = put_field(buf, len, n, ev, "credential", "");
		n = put(buf, len, n, " via");
		n = put_field(buf, len, n, ev, "via", "");
		if (json_object_object_get_ex(ev, "count", &v))
			n = put(buf, len, n, " x%lld", (long long)json_object_get_int64(v));
		else
			n = outcome(ev, buf, len, n);
	} else if (strcmp(kind, "credential_reuse") == 0) {
		n = put_field(buf, len, n, ev, "credential_kind", "");
		n = put_field(buf, len, n, ev, "credential", "");
		if (json_object_object_get_ex(ev, "identities", &v)) {
			n = put(buf, len, n, " by");
			for (size_t i = 0; i < json_object_array_length(v); i++)
				n = put_val(buf, len, put(buf, len, n, " "),
					    json_object_array_get_idx(v, i), "");
		}
	} else if (strcmp(kind, "secret_exposure") == 0) {
		n = put_field(buf, len, n, ev, "secret_kind", "");
		n = put_field(buf, len, n, ev, "fingerprint", "");
		n = put(buf, len, n, " in argv[%lld] of", (long long)num(ev, "arg_index"));
		n = put_field(buf, len, n, ev, "path", "");
	} else if (strcmp(kind, "anomaly") == 0) {
		n = put_field(buf, len, n, ev, "severity", "");
		n = put_field(buf, len, n, ev, "category", "");
		n = put_field(buf, len, n, ev, "value", "");
		if (str(ev, "technique"))
			n = put_field(buf, len, n, ev, "technique", "");
	} else if (strcmp(kind, "human_use") == 0) {
		n = put_field(buf, len, n, ev, "reason", "");
		n = put_field(buf, len, n, ev, "path", "");
	} else if (strcmp(kind, "identity_conflict") == 0) {
		n = put(buf, len, n, " claimed");
		n = put_field(buf, len, n, ev, "claimed_identity", "");
		n = put(buf, len, n, " believed");
		n = put_field(buf, len, n, ev, "believed_identity", "");
	}
	return n;
}

static size_t line(json_object *ev, bool color, char *buf, size_t len)
{
	const char *kind = str(ev, "kind") ?: "?", *time = str(ev, "time") ?: "";
	const char *col = color ? kind_color(kind) : "";
	size_t n, start;

	/* "2026-11-22T08:00:01.123456Z" -> "08:00:01.123" */
	if (strlen(time) >= 23)
		time += 11;
	n = put_esc(buf, len, 0, time, strnlen(time, 12));
	n = put(buf, len, n, " ");
	n = put_color(buf, len, n, col);
	start = n;
	n = put_val(buf, len, n, field(ev, "kind"), "?");
	if (n < len && n - start < 8)
		n = put(buf, len, n, "%*s", (int)(8 - (n - start)), "");
	if (*col)
		n = put_color(buf, len, n, C_RESET);
	if (strcmp(kind, "loss") == 0) {
		n = put(buf, len, n, " %lld", (long long)num(ev, "count"));
		n = put_field(buf, len, n, ev, "of", "");
		n = put(buf, len, n, " events lost (");
		n = put_val(buf, len, n, field(ev, "source"), "");
		return put(buf, len, n, ")");
	}
	n = put(buf, len, n, " ");
	n = put_color(buf, len, n, color ? C_CYAN : "");
	n = put_val(buf, len, n, field(ev, "identity"), "-");
	n = put_color(buf, len, n, color ? C_RESET : "");
	n = put(buf, len, n, " pid=%lld", (long long)num(ev, "pid"));
	if (str(ev, "comm")) {
		n = put(buf, len, n, " ");
		n = put_color(buf, len, n, color ? C_YELLOW : "");
		n = put_val(buf, len, n, field(ev, "comm"), "");
		n = put_color(buf, len, n, color ? C_RESET : "");
	}
	return details(ev, kind, buf, len, n);
}

void nh_compact_format(json_object *ev, bool color, char *buf, size_t len)
{
	size_t room = len, end;

	if (!len)
		return;
	/* Keep room to close a colour the cut may leave open, or the rest of
	 * the terminal is painted with it. */
	if (color && len > sizeof(C_RESET) - 1)
		room = len - (sizeof(C_RESET) - 1);
	if (line(ev, color, buf, room) >= room && room < len) {
		end = strlen(buf);
		memcpy(buf + end, C_RESET, sizeof(C_RESET));
	}
}
