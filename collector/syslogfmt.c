// SPDX-License-Identifier: Apache-2.0
#include "syslogfmt.h"
#include "clock.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ecs.h"
#include "recordjson.h"

#define FACILITY_LOCAL0 16

/* syslog severities (RFC 5424 table 2) */
enum { SYS_CRIT = 2, SYS_ERR = 3, SYS_WARNING = 4, SYS_NOTICE = 5, SYS_INFO = 6 };

int nh_syslog_severity(const struct nh_wire_record *r)
{
	static const int by_sev[NH_WIRE_SEV_MAX] = {SYS_NOTICE, SYS_NOTICE, SYS_WARNING, SYS_ERR,
						    SYS_CRIT};

	switch (r->kind) {
	case NH_WIRE_ANOMALY:
		return r->anomaly.severity < NH_WIRE_SEV_MAX ? by_sev[r->anomaly.severity]
							     : SYS_NOTICE;
	case NH_WIRE_FINDING:
		return r->finding.type == NH_WIRE_FINDING_SECRET_EXPOSURE ||
			       r->finding.type == NH_WIRE_FINDING_IDENTITY_CONFLICT ||
			       r->finding.type == NH_WIRE_FINDING_MONITORING_TAMPERED
			   ? SYS_ERR
			   : SYS_WARNING;
	case NH_WIRE_CREDENTIAL_USE:
		return SYS_NOTICE;
	case NH_WIRE_LOSS:
		return SYS_WARNING;
	default:
		return SYS_INFO;
	}
}

int nh_cef_severity(const struct nh_wire_record *r)
{
	static const int by_sev[NH_WIRE_SEV_MAX] = {3, 3, 5, 8, 10};

	switch (r->kind) {
	case NH_WIRE_ANOMALY:
		return r->anomaly.severity < NH_WIRE_SEV_MAX ? by_sev[r->anomaly.severity] : 3;
	case NH_WIRE_FINDING:
		return r->finding.type == NH_WIRE_FINDING_SECRET_EXPOSURE ||
			       r->finding.type == NH_WIRE_FINDING_IDENTITY_CONFLICT ||
			       r->finding.type == NH_WIRE_FINDING_MONITORING_TAMPERED
			   ? 8
			   : 6;
	case NH_WIRE_CREDENTIAL_USE:
		return r->credential_use.result < 0 ? 4 : 3;
	case NH_WIRE_ACTIVITY:
		return 1;
	case NH_WIRE_LOSS:
		return 5;
	default:
		return 0;
	}
}

/* CEF header fields: backslash and pipe escaped; a line break would end
 * the record, so it becomes a space. */
static void header(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '\\' || *s == '|')
			fputc('\\', f);
		fputc(*s == '\n' || *s == '\r' ? ' ' : *s, f);
	}
}

/* CEF extension values: backslash and '=' escaped, line breaks as \n \r. */
static void ext_value(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '\\':
			fputs("\\\\", f);
			break;
		case '=':
			fputs("\\=", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

/* " key=value" when the value is known. */
static void ext(FILE *f, const char *key, const char *value)
{
	if (!value || !*value)
		return;
	fprintf(f, " %s=", key);
	ext_value(f, value);
}

static void ext_label(FILE *f, const char *key, const char *label, const char *value)
{
	char k[32];

	if (!value || !*value)
		return;
	snprintf(k, sizeof(k), "%sLabel", key);
	ext(f, k, label);
	ext(f, key, value);
}

/* A key or value inside the labels list: its own separators (',' and
 * '=') and backslash escaped with a backslash, so that "a,b" cannot pass
 * for two labels; CEF's escaping (ext_value) then applies on top. */
static void list_item(FILE *f, const char *s)
{
	char c[2] = {0, 0};

	for (; s && *s; s++) {
		if (*s == '\\' || *s == ',' || *s == '=')
			ext_value(f, "\\");
		c[0] = *s;
		ext_value(f, c);
	}
}

/* The site's static labels as one extension, "key=value,key=value"
 * (after CEF's unescaping): within a key or value, '\\', ',' and '='
 * are backslash-escaped. */
static void ext_labels(FILE *f, const struct nh_wire_site *s)
{
	if (!s->n_labels)
		return;
	fputs(" nhiscopeLabels=", f);
	for (size_t i = 0; i < s->n_labels; i++) {
		if (i)
			fputc(',', f);
		list_item(f, s->labels[i].key);
		fputs("\\=", f);
		list_item(f, s->labels[i].value);
	}
}

static void ext_u64(FILE *f, const char *key, uint64_t v)
{
	fprintf(f, " %s=%" PRIu64, key, v);
}

static void body(FILE *f, const struct nh_wire_record *r, const char *id)
{
	const struct nh_wire_identity *i = &r->identity;
	const struct nh_wire_process *p = &r->process;
	char msg[1024], technique[512];

	nh_ecs_message(r, msg, sizeof(msg));
	ext_u64(f, "rt", r->time_ns / 1000000);
	ext(f, "externalId", id);
	ext(f, "dvchost", i->node && *i->node ? i->node : r->id.node);
	/* the device is the node; its cluster tells two clusters' node-1 apart */
	ext(f, "deviceExternalId", r->site.cluster);
	ext_labels(f, &r->site);
	ext(f, "msg", msg);
	if (p->pid) {
		ext_u64(f, "spid", p->pid);
		ext_u64(f, "suid", p->uid);
		ext(f, "suser", p->user);
		ext(f, "sproc", p->comm);
		ext_label(f, "flexString1", "executable", p->exe);
	}
	ext_label(f, "cs1", "identity", i->key);
	ext_label(f, "cs2", "namespace", i->namespace);
	ext_label(f, "cs3", "pod", i->pod_name);
	ext_label(f, "cs4", "serviceAccount", i->service_account);
	ext_label(f, "flexString2", "identitySource", i->source);
	if (i->source && *i->source)
		ext_label(f, "cn1", "identityVerified", i->verified ? "1" : "0");
	switch (r->kind) {
	case NH_WIRE_ANOMALY:
		ext(f, "cat", nh_wire_category_name(r->anomaly.category));
		snprintf(technique, sizeof(technique), "%s%s%s", r->anomaly.technique_id,
			 *r->anomaly.technique_name ? " " : "", r->anomaly.technique_name);
		ext_label(f, "cs5", "technique", technique);
		ext_label(f, "cs6", "value", r->anomaly.value);
		break;
	case NH_WIRE_CREDENTIAL_USE:
		ext(f, "cat", "credential_use");
		ext(f, "act", r->credential_use.via);
		ext(f, "outcome", r->credential_use.result < 0 ? "failure" : "success");
		ext_u64(f, "cnt", r->credential_use.count);
		ext_label(f, "cs5", "credentialKind", r->credential_use.credential_kind);
		ext_label(f, "cs6", "credential", r->credential_use.credential);
		break;
	case NH_WIRE_FINDING:
		ext(f, "cat", nh_wire_finding_name(r->finding.type));
		if (r->finding.type == NH_WIRE_FINDING_SECRET_EXPOSURE) {
			ext_label(f, "cs5", "secretKind", r->finding.secret_kind);
			ext_label(f, "cs6", "fingerprint", r->finding.fingerprint);
		} else if (r->finding.type == NH_WIRE_FINDING_IDENTITY_CONFLICT) {
			ext_label(f, "cs5", "claimedIdentity", r->finding.claimed_identity);
			ext_label(f, "cs6", "believedIdentity", r->finding.believed_identity);
			ext(f, "reason", r->finding.reason);
		} else {
			ext_label(f, "cs5", "credentialKind", r->finding.credential_kind);
			ext_label(f, "cs6", "credential", r->finding.credential);
			ext(f, "reason", r->finding.reason);
		}
		break;
	default:
		ext(f, "cat", nh_wire_kind_name(r->kind));
		break;
	}
}

static void cef(FILE *f, const struct nh_wire_record *r, const char *id, const char *version)
{
	char name[512];
	const char *sub = "";

	switch (r->kind) {
	case NH_WIRE_ANOMALY:
		sub = nh_wire_category_name(r->anomaly.category);
		break;
	case NH_WIRE_CREDENTIAL_USE:
		sub = r->credential_use.credential_kind;
		break;
	case NH_WIRE_FINDING:
		sub = nh_wire_finding_name(r->finding.type);
		break;
	case NH_WIRE_ACTIVITY:
		sub = nh_recordjson_kind(r);
		break;
	case NH_WIRE_LOSS:
		sub = r->loss.what;
		break;
	default:
		break;
	}
	nh_ecs_message(r, name, sizeof(name));
	fputs("CEF:0|nhiscope|nhiscope|", f);
	header(f, version);
	fputc('|', f);
	header(f, nh_wire_kind_name(r->kind));
	if (sub && *sub) {
		fputc(':', f);
		header(f, sub);
	}
	fputc('|', f);
	header(f, name);
	fprintf(f, "|%d|", nh_cef_severity(r));
	body(f, r, id);
}

char *nh_cef_line(const struct nh_wire_record *r, const char *id, const char *version)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	if (!f)
		return NULL;
	cef(f, r, id, version);
	if (fclose(f)) {
		free(s);
		return NULL;
	}
	return s;
}

/* RFC 5424 HOSTNAME: 1-255 printable US-ASCII, no space. */
static void hostname(FILE *f, const char *s)
{
	size_t n = 0;

	for (; s && *s && n < 255; s++, n++)
		fputc(*s > ' ' && *s < 127 ? *s : '_', f);
	if (!n)
		fputc('-', f);
}

int nh_syslog_frame(const struct nh_wire_record *r, const char *id, const char *ecs_json,
		    enum nh_syslog_format fmt, const char *version, char **out, size_t *len)
{
	char *msg = NULL, *frame = NULL, ts[40];
	size_t mlen = 0;
	FILE *f;
	int n;

	f = open_memstream(&msg, &mlen);
	if (!f)
		return -ENOMEM;
	/* TIME-SECFRAC allows six digits at most */
	nh_clock_format(r->time_ns, 6, ts, sizeof(ts));
	fprintf(f, "<%d>1 %s ", FACILITY_LOCAL0 * 8 + nh_syslog_severity(r), ts);
	hostname(f, r->identity.node && *r->identity.node ? r->identity.node : r->id.node);
	fprintf(f, " nhiscope - %s - ", nh_wire_kind_name(r->kind));
	if (fmt == NH_SYSLOG_CEF)
		cef(f, r, id, version);
	else
		fputs(ecs_json, f);
	if (fclose(f)) {
		free(msg);
		return -ENOMEM;
	}
	n = asprintf(&frame, "%zu %s", mlen, msg);
	free(msg);
	if (n < 0)
		return -ENOMEM;
	*out = frame;
	*len = (size_t)n;
	return 0;
}
