// SPDX-License-Identifier: Apache-2.0
#include "compact.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "recordjson.h"

#define C_RESET	   "\033[0m"
#define C_DIM	   "\033[2m"
#define C_RED	   "\033[31m"
#define C_BOLD_RED "\033[1;31m"
#define C_GREEN	   "\033[32m"
#define C_YELLOW   "\033[33m"
#define C_BLUE	   "\033[34m"
#define C_MAGENTA  "\033[35m"
#define C_CYAN	   "\033[36m"

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
	    {"flood", C_BOLD_RED},
	    {"monitoring_gap", C_BOLD_RED},
	    {"fork", C_DIM},
	    {"exit", C_DIM},
	    {"credential_use", C_BOLD_RED},
	    {"credential_reuse", C_BOLD_RED},
	    {"identity_conflict", C_BOLD_RED},
	    {"monitoring_tampered", C_BOLD_RED},
	    {"secret_exposure", C_BOLD_RED},
	    {"human_use", C_BOLD_RED},
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

/* " " and s, escaped; dflt for none. */
static size_t put_str(char *buf, size_t len, size_t n, const char *s, const char *dflt)
{
	n = put(buf, len, n, " ");
	if (!s || !*s)
		s = dflt;
	return put_esc(buf, len, n, s, strlen(s));
}

static size_t outcome(int64_t result, char *buf, size_t len, size_t n)
{
	const char *name;

	if (result >= 0)
		return n;
	name = strerrorname_np((int)-result);
	return put_str(buf, len, n, name ? name : "unknown", "");
}

static size_t details(const struct nh_wire_record *r, char *buf, size_t len, size_t n)
{
	switch (r->kind) {
	case NH_WIRE_ACTIVITY: {
		const struct nh_wire_activity *a = &r->activity;

		switch (a->event) {
		case NH_WIRE_EV_EXEC:
			n = put_str(buf, len, n, a->path, "");
			for (size_t i = 1; i < a->n_args; i++)
				n = put_str(buf, len, n, a->args[i], "");
			if (a->args_truncated)
				n = put(buf, len, n, " ...");
			if (a->privileged_exec)
				n = put(buf, len, n, " [euid=%u egid=%u caps=0x%llx]", a->euid,
					a->egid, (unsigned long long)a->cap_effective);
			if (a->compat32)
				n = put(buf, len, n, " [32-bit]");
			break;
		case NH_WIRE_EV_OPEN: {
			char flags[256];

			nh_recordjson_open_flags(a->flags, flags, sizeof(flags));
			n = put_str(buf, len, n, a->path, "");
			n = put_str(buf, len, n, flags, "");
			if (a->credential && *a->credential) {
				n = put(buf, len, n, " =");
				n = put_str(buf, len, n, a->credential_kind, "");
				n = put_str(buf, len, n, a->credential, "");
			}
			n = outcome(a->result, buf, len, n);
			break;
		}
		case NH_WIRE_EV_CONNECT:
			n = put(buf, len, n, a->ipv6 ? " -> [" : " -> ");
			n = put_esc(buf, len, n, a->address ? a->address : "",
				    a->address ? strlen(a->address) : 0);
			n = put(buf, len, n, a->ipv6 ? "]:%u" : ":%u", a->port);
			n = outcome(a->result, buf, len, n);
			break;
		case NH_WIRE_EV_ACCEPT:
			if (a->result >= 0) {
				n = put(buf, len, n, " <-");
				n = put_str(buf, len, n, a->address, "");
				n = put(buf, len, n, ":%u on :%u", a->port, a->local_port);
			}
			n = outcome(a->result, buf, len, n);
			break;
		case NH_WIRE_EV_SETUID:
		case NH_WIRE_EV_SETGID:
			n = put(buf, len, n, " %u/%u/%u -> %u/%u/%u (", a->old_ids.real,
				a->old_ids.effective, a->old_ids.saved, a->new_ids.real,
				a->new_ids.effective, a->new_ids.saved);
			n = put_esc(buf, len, n, a->syscall ? a->syscall : "",
				    a->syscall ? strlen(a->syscall) : 0);
			n = put(buf, len, n, ")");
			n = outcome(a->result, buf, len, n);
			break;
		case NH_WIRE_EV_CAPSET:
			n = put(buf, len, n, " effective 0x%016llx -> 0x%016llx",
				(unsigned long long)a->old_caps.effective,
				(unsigned long long)a->new_caps.effective);
			n = outcome(a->result, buf, len, n);
			break;
		case NH_WIRE_EV_FORK:
			n = put(buf, len, n, " child=%u", a->child_pid);
			break;
		case NH_WIRE_EV_EXIT:
			if (a->signal)
				n = put(buf, len, n, " signal=%d", a->signal);
			else
				n = put(buf, len, n, " code=%d", a->exit_code);
			break;
		case NH_WIRE_EV_SEND:
			n = put(buf, len, n, a->ipv6 ? " -> [" : " -> ");
			n = put_esc(buf, len, n, a->address ? a->address : "",
				    a->address ? strlen(a->address) : 0);
			n = put(buf, len, n, a->ipv6 ? "]:%u (" : ":%u (", a->port);
			n = put_esc(buf, len, n, a->syscall ? a->syscall : "",
				    a->syscall ? strlen(a->syscall) : 0);
			n = put(buf, len, n, ")");
			n = outcome(a->result, buf, len, n);
			break;
		case NH_WIRE_EV_UNIX_CONNECT:
			n = put(buf, len, n, " ->");
			n = put_str(buf, len, n, a->path, "");
			if (a->inode)
				n = put(buf, len, n, " ino=%llu", (unsigned long long)a->inode);
			n = outcome(a->result, buf, len, n);
			break;
		case NH_WIRE_EV_IO_URING_CREATE:
			n = put_str(buf, len, n, a->op_name, "-");
			n = put(buf, len, n, " fd=%d", a->fd);
			break;
		case NH_WIRE_EV_NAMESPACE:
		case NH_WIRE_EV_PTRACE:
		case NH_WIRE_EV_BPF:
		case NH_WIRE_EV_MODULE:
			n = put_str(buf, len, n, a->syscall, "");
			n = put_str(buf, len, n, a->op_name, "");
			if (a->target_pid)
				n = put(buf, len, n, " pid=%u", a->target_pid);
			if (a->path && *a->path)
				n = put_str(buf, len, n, a->path, "");
			n = outcome(a->result, buf, len, n);
			break;
		case NH_WIRE_EV_COMPAT:
			n = put_str(buf, len, n, a->syscall, "");
			n = put_str(buf, len, n, a->op_name, "");
			if (a->path && *a->path)
				n = put_str(buf, len, n, a->path, "");
			if (a->address && *a->address) {
				n = put(buf, len, n, a->ipv6 ? " -> [" : " -> ");
				n = put_esc(buf, len, n, a->address, strlen(a->address));
				n = put(buf, len, n, a->ipv6 ? "]:%u" : ":%u", a->port);
			}
			n = put(buf, len, n, " [32-bit]");
			break;
		case NH_WIRE_EV_SUMMARY:
			n = put_str(buf, len, n, nh_wire_event_name(a->of), "");
			n = put(buf, len, n, " x%llu", (unsigned long long)a->count);
			if (a->object && *a->object)
				n = put_str(buf, len, n, a->object, "");
			break;
		default:
			break;
		}
		/* not a syscall: an io_uring request */
		if (a->via && *a->via)
			n = put(buf, len, n, " [%s]", a->via);
		break;
	}
	case NH_WIRE_CREDENTIAL_USE: {
		const struct nh_wire_credential_use *u = &r->credential_use;

		n = put_str(buf, len, n, u->credential_kind, "");
		n = put_str(buf, len, n, u->credential, "");
		n = put(buf, len, n, " via");
		n = put_str(buf, len, n, u->via, "");
		if (u->path && *u->path && strcmp(u->path, u->credential) != 0) {
			n = put(buf, len, n, " as");
			n = put_str(buf, len, n, u->path, "");
			if (u->path_truncated)
				n = put(buf, len, n, "...");
		}
		if (u->repeats)
			n = put(buf, len, n, " x%llu", (unsigned long long)u->count);
		else
			n = outcome(u->result, buf, len, n);
		break;
	}
	case NH_WIRE_FINDING: {
		const struct nh_wire_finding *f = &r->finding;

		if (f->type == NH_WIRE_FINDING_CREDENTIAL_REUSE) {
			n = put_str(buf, len, n, f->credential_kind, "");
			n = put_str(buf, len, n, f->credential, "");
			n = put(buf, len, n, " by");
			for (size_t i = 0; i < f->n_identities; i++)
				n = put_str(buf, len, n, f->identities[i], "");
		} else if (f->type == NH_WIRE_FINDING_SECRET_EXPOSURE) {
			n = put_str(buf, len, n, f->secret_kind, "");
			n = put_str(buf, len, n, f->fingerprint, "");
			n = put(buf, len, n, " in argv[%d] of", f->arg_index);
			n = put_str(buf, len, n, f->path, "");
		} else if (f->type == NH_WIRE_FINDING_HUMAN_USE) {
			n = put_str(buf, len, n, f->reason, "");
			n = put_str(buf, len, n, f->path, "");
		} else if (f->type == NH_WIRE_FINDING_MONITORING_TAMPERED) {
			n = put_str(buf, len, n, f->reason, "");
		} else if (f->type == NH_WIRE_FINDING_IDENTITY_CONFLICT) {
			n = put(buf, len, n, " claimed");
			n = put_str(buf, len, n, f->claimed_identity, "");
			n = put(buf, len, n, " believed");
			n = put_str(buf, len, n, f->believed_identity, "");
		}
		break;
	}
	case NH_WIRE_ANOMALY: {
		const struct nh_wire_anomaly *an = &r->anomaly;

		n = put_str(buf, len, n, nh_wire_severity_name(an->severity), "");
		n = put_str(buf, len, n, nh_wire_category_name(an->category), "");
		n = put_str(buf, len, n, an->value, "");
		if (an->technique_id && *an->technique_id)
			n = put_str(buf, len, n, an->technique_id, "");
		break;
	}
	case NH_WIRE_FLOOD: {
		const struct nh_wire_flood *f = &r->flood;

		n = put(buf, len, n,
			" beyond its budget of %llu per %llu ms:", (unsigned long long)f->budget,
			(unsigned long long)(f->budget_window_ns / 1000000));
		for (size_t i = 0; i < f->n_counts; i++) {
			n = put_str(buf, len, n, f->counts[i].name, "");
			n = put(buf, len, n, "=%llu", (unsigned long long)f->counts[i].value);
		}
		break;
	}
	default:
		break;
	}
	return n;
}

static size_t line(const struct nh_wire_record *r, bool color, char *buf, size_t len)
{
	const char *kind = nh_recordjson_kind(r);
	const char *col = color ? kind_color(kind) : "";
	char time[40];
	size_t n, start;

	/* "2026-11-22T08:00:01.123456Z" -> "08:00:01.123" */
	nh_clock_format(r->time_ns, 3, time, sizeof(time));
	n = put_esc(buf, len, 0, time + 11, 12);
	n = put(buf, len, n, " ");
	n = put_color(buf, len, n, col);
	start = n;
	n = put_esc(buf, len, n, kind, strlen(kind));
	if (n < len && n - start < 8)
		n = put(buf, len, n, "%*s", (int)(8 - (n - start)), "");
	if (*col)
		n = put_color(buf, len, n, C_RESET);
	if (r->kind == NH_WIRE_LOSS) {
		const struct nh_wire_loss *l = &r->loss;

		n = put(buf, len, n, " %llu",
			(unsigned long long)(l->n_counts ? l->counts[0].value : 0));
		n = put_str(buf, len, n, l->n_counts ? l->counts[0].name : "", "");
		n = put(buf, len, n, " events lost (");
		n = put_esc(buf, len, n, l->source ? l->source : "",
			    l->source ? strlen(l->source) : 0);
		return put(buf, len, n, ")");
	}
	if (r->kind == NH_WIRE_MONITORING_GAP) {
		const struct nh_wire_gap *g = &r->monitoring_gap;

		return put(buf, len, n, " not monitored for %.3f s (%s)",
			   (double)(g->end_ns - g->start_ns) / 1e9,
			   g->clean_stop ? "after a clean stop" : "after a crash or kill");
	}
	n = put(buf, len, n, " ");
	n = put_color(buf, len, n, color ? C_CYAN : "");
	{
		const char *id = r->identity.key && *r->identity.key ? r->identity.key : "-";

		n = put_esc(buf, len, n, id, strlen(id));
	}
	n = put_color(buf, len, n, color ? C_RESET : "");
	n = put(buf, len, n, " pid=%u", r->process.pid);
	if (r->process.comm && *r->process.comm) {
		n = put(buf, len, n, " ");
		n = put_color(buf, len, n, color ? C_YELLOW : "");
		n = put_esc(buf, len, n, r->process.comm, strlen(r->process.comm));
		n = put_color(buf, len, n, color ? C_RESET : "");
	}
	return details(r, buf, len, n);
}

void nh_compact_format(const struct nh_wire_record *r, bool color, char *buf, size_t len)
{
	size_t room = len, end;

	if (!len)
		return;
	/* Keep room to close a colour the cut may leave open, or the rest of
	 * the terminal is painted with it. */
	if (color && len > sizeof(C_RESET) - 1)
		room = len - (sizeof(C_RESET) - 1);
	if (line(r, color, buf, room) >= room && room < len) {
		end = strlen(buf);
		memcpy(buf + end, C_RESET, sizeof(C_RESET));
	}
}
