// SPDX-License-Identifier: Apache-2.0
#include "ecs.h"
#include "clock.h"
#include "jsonw.h"
#include "recordjson.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* ECS event.severity by wire severity, as Elastic's detection rules use it. */
static const int severity_score[NH_WIRE_SEV_MAX] = {0, 21, 47, 73, 99};

int nh_ecs_severity(const struct nh_wire_record *r)
{
	switch (r->kind) {
	case NH_WIRE_ANOMALY:
		return r->anomaly.severity < NH_WIRE_SEV_MAX ? severity_score[r->anomaly.severity]
							     : 0;
	case NH_WIRE_FINDING:
		return r->finding.type == NH_WIRE_FINDING_SECRET_EXPOSURE ||
			       r->finding.type == NH_WIRE_FINDING_IDENTITY_CONFLICT ||
			       r->finding.type == NH_WIRE_FINDING_MONITORING_TAMPERED
			   ? 73
			   : 47;
	case NH_WIRE_LOSS:
	case NH_WIRE_FLOOD:
	case NH_WIRE_MONITORING_GAP:
		return 47;
	default:
		return 0;
	}
}

void nh_ecs_timestamp(uint64_t unix_ns, char *buf, size_t cap)
{
	nh_clock_format(unix_ns, 9, buf, cap);
}

struct text {
	char *buf;
	size_t cap, len;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->len + 1 >= t->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->len = t->len + n < t->cap ? t->len + n : t->cap - 1;
}

size_t nh_ecs_message(const struct nh_wire_record *r, char *buf, size_t cap)
{
	struct text t = {buf, cap, 0};
	const char *who = r->identity.key && *r->identity.key ? r->identity.key : "?";

	if (!cap)
		return 0;
	buf[0] = '\0';
	switch (r->kind) {
	case NH_WIRE_ANOMALY: {
		const struct nh_wire_anomaly *a = &r->anomaly;

		if (a->rate)
			put(&t, "%s anomaly: %s rate %.0f/min (mean %.1f) by %s",
			    nh_wire_severity_name(a->severity), nh_wire_category_name(a->category),
			    a->rate_observed, a->rate_mean, who);
		else
			put(&t, "%s anomaly: new %s %s by %s", nh_wire_severity_name(a->severity),
			    nh_wire_category_name(a->category), a->value, who);
		if (a->technique_id && *a->technique_id)
			put(&t, " (%s%s%s)", a->technique_id,
			    a->technique_name && *a->technique_name ? " " : "",
			    a->technique_name ? a->technique_name : "");
		break;
	}
	case NH_WIRE_CREDENTIAL_USE: {
		const struct nh_wire_credential_use *c = &r->credential_use;

		put(&t, "credential use: %s %s by %s", c->credential_kind, c->credential, who);
		if (c->via && *c->via)
			put(&t, " via %s", c->via);
		if (c->count > 1)
			put(&t, " x%" PRIu64, c->count);
		if (c->result < 0)
			put(&t, " failed (%" PRId64 ")", c->result);
		break;
	}
	case NH_WIRE_FINDING: {
		const struct nh_wire_finding *f = &r->finding;

		switch (f->type) {
		case NH_WIRE_FINDING_SECRET_EXPOSURE:
			put(&t, "secret exposure: %s %s in the arguments of %s by %s",
			    f->secret_kind, f->fingerprint, f->path && *f->path ? f->path : "?",
			    who);
			break;
		case NH_WIRE_FINDING_HUMAN_USE:
			put(&t, "human use: %s session under %s", f->reason, who);
			break;
		case NH_WIRE_FINDING_CREDENTIAL_REUSE:
			put(&t, "credential reuse: %s %s by %zu identities, now %s",
			    f->credential_kind && *f->credential_kind ? f->credential_kind
								      : "credential",
			    f->credential, f->n_identities, who);
			break;
		case NH_WIRE_FINDING_IDENTITY_CONFLICT:
			put(&t, "identity conflict: %s claimed, %s believed", f->claimed_identity,
			    f->believed_identity);
			break;
		case NH_WIRE_FINDING_MONITORING_TAMPERED:
			put(&t, "monitoring tampered: %s", f->reason);
			break;
		default:
			put(&t, "finding by %s", who);
		}
		break;
	}
	case NH_WIRE_ACTIVITY: {
		/* the common record, without printf */
		const char *k = nh_recordjson_kind(r);
		size_t kl = strlen(k), wl = strlen(who);

		if (10 + kl + 4 + wl < cap) {
			memcpy(buf, "activity: ", 10);
			memcpy(buf + 10, k, kl);
			memcpy(buf + 10 + kl, " by ", 4);
			memcpy(buf + 14 + kl, who, wl + 1);
			t.len = 14 + kl + wl;
		} else {
			put(&t, "activity: %s by %s", k, who);
		}
		break;
	}
	case NH_WIRE_LOSS:
		put(&t, "loss report: %s", r->loss.what);
		for (size_t i = 0; i < r->loss.n_counts; i++)
			put(&t, "%s%s=%" PRIu64, i ? " " : ": ", r->loss.counts[i].name,
			    r->loss.counts[i].value);
		break;
	case NH_WIRE_HEARTBEAT:
		put(&t, "heartbeat: agent %s, %u probes attached", r->heartbeat.agent_version,
		    r->heartbeat.probes_attached);
		break;
	case NH_WIRE_FLOOD:
		put(&t, "flood by %s beyond %" PRIu64 " events per %" PRIu64 " ms", who,
		    r->flood.budget, r->flood.budget_window_ns / 1000000);
		for (size_t i = 0; i < r->flood.n_counts; i++)
			put(&t, "%s%s=%" PRIu64, i ? " " : ": ", r->flood.counts[i].name,
			    r->flood.counts[i].value);
		break;
	case NH_WIRE_MONITORING_GAP:
		put(&t, "monitoring gap: %.3f s unmonitored (%s)",
		    (double)(r->monitoring_gap.end_ns - r->monitoring_gap.start_ns) / 1e9,
		    r->monitoring_gap.clean_stop ? "after a clean stop" : "after a crash");
		break;
	default:
		put(&t, "record");
	}
	return t.len;
}

/* --- the document ---------------------------------------------------------
 *
 * Written straight into a buffer from the typed record (struct nh_jw), one
 * group after the other: no DOM per record. Each record kind and each
 * kernel event kind has its own function or table row, so a new kind adds
 * a case, not a branch in every group. Every field has one JSON type
 * whatever the record (tests/integration/test_ecs.py checks them against
 * tests/data/ecs_fields.tsv, the ECS reference as data).
 */

/* How an ECS document classifies one kernel event kind (event.category,
 * event.type); a kind without a row (added after this table) is
 * host/info. */
struct ecs_class {
	const char *category;
	const char *type;  /* the first event.type */
	const char *type2; /* a second one, or NULL */
};

static const struct ecs_class event_class[NH_WIRE_EV_MAX] = {
    [NH_WIRE_EV_EXEC] = {"process", "start", NULL},
    [NH_WIRE_EV_FORK] = {"process", "start", NULL},
    [NH_WIRE_EV_EXIT] = {"process", "end", NULL},
    [NH_WIRE_EV_CONNECT] = {"network", "connection", "start"},
    [NH_WIRE_EV_ACCEPT] = {"network", "connection", "start"},
    [NH_WIRE_EV_OPEN] = {"file", "access", NULL},
    [NH_WIRE_EV_SETUID] = {"process", "change", NULL},
    [NH_WIRE_EV_SETGID] = {"process", "change", NULL},
    [NH_WIRE_EV_CAPSET] = {"process", "change", NULL},
    [NH_WIRE_EV_SEND] = {"network", "connection", NULL},
    [NH_WIRE_EV_UNIX_CONNECT] = {"network", "connection", "start"},
    [NH_WIRE_EV_NAMESPACE] = {"process", "change", NULL},
    [NH_WIRE_EV_PTRACE] = {"process", "change", NULL},
    [NH_WIRE_EV_BPF] = {"driver", "change", NULL},
    [NH_WIRE_EV_MODULE] = {"driver", "change", NULL},
    [NH_WIRE_EV_IO_URING_CREATE] = {"process", "change", NULL},
    [NH_WIRE_EV_COMPAT] = {"process", "info", NULL},
};

static const struct ecs_class host_info = {"host", "info", NULL};

/* A credential is a file (a path) or an endpoint (address:port). */
static bool is_path(const char *s)
{
	return s && s[0] == '/';
}

/* What a credential anomaly's value names: it is "<kind>:<path or
 * address:port>" (models/technique.h); a value without a kind as is. */
static const char *credential_object(const char *value)
{
	const char *colon = value ? strchr(value, ':') : NULL;

	if (!colon || colon == value)
		return value;
	for (const char *p = value; p < colon; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return value;
	return colon + 1;
}

static const struct ecs_class *event_classify(enum nh_wire_event e)
{
	return e > NH_WIRE_EV_NONE && e < NH_WIRE_EV_MAX && event_class[e].category
		   ? &event_class[e]
		   : &host_info;
}

static struct ecs_class classify(const struct nh_wire_record *r)
{
	static const struct ecs_class by_category[NH_WIRE_CAT_MAX] = {
	    [NH_WIRE_CAT_EXEC] = {"process", "start", NULL},
	    [NH_WIRE_CAT_EGRESS] = {"network", "connection", NULL},
	    [NH_WIRE_CAT_INGRESS] = {"network", "connection", NULL},
	    [NH_WIRE_CAT_FILE] = {"file", "access", NULL},
	    [NH_WIRE_CAT_CREDENTIAL] = {"file", "access", NULL},
	    [NH_WIRE_CAT_PRIVILEGE] = {"process", "change", NULL},
	    [NH_WIRE_CAT_ISOLATION] = {"process", "change", NULL},
	};

	switch (r->kind) {
	case NH_WIRE_ANOMALY: {
		const struct nh_wire_anomaly *a = &r->anomaly;

		if (a->category == NH_WIRE_CAT_CREDENTIAL && !a->rate &&
		    !is_path(credential_object(a->value)))
			return (struct ecs_class){"network", "access", NULL};
		if (a->category > NH_WIRE_CAT_NONE && a->category < NH_WIRE_CAT_MAX)
			return by_category[a->category];
		return host_info;
	}
	case NH_WIRE_CREDENTIAL_USE:
		return (struct ecs_class){
		    is_path(r->credential_use.credential) ? "file" : "network", "access", NULL};
	case NH_WIRE_FINDING:
		switch (r->finding.type) {
		case NH_WIRE_FINDING_HUMAN_USE:
			return (struct ecs_class){"session", "start", NULL};
		case NH_WIRE_FINDING_SECRET_EXPOSURE:
			return (struct ecs_class){"process", "info", NULL};
		default:
			return (struct ecs_class){"iam", "info", NULL};
		}
	case NH_WIRE_ACTIVITY:
		return *event_classify(r->activity.event == NH_WIRE_EV_SUMMARY ? r->activity.of
									       : r->activity.event);
	default:
		return host_info;
	}
}

static const char *event_kind(const struct nh_wire_record *r)
{
	switch (r->kind) {
	case NH_WIRE_ANOMALY:
	case NH_WIRE_FINDING:
		return "alert";
	case NH_WIRE_LOSS:
	case NH_WIRE_FLOOD:
	case NH_WIRE_MONITORING_GAP:
		return "pipeline_error";
	case NH_WIRE_HEARTBEAT:
		return "metric";
	default:
		return "event";
	}
}

/* The syscall's result of a record that has one, for event.outcome. */
static bool has_result(const struct nh_wire_record *r, int64_t *result)
{
	if (r->kind == NH_WIRE_CREDENTIAL_USE) {
		*result = r->credential_use.repeats ? 0 : r->credential_use.result;
		return true;
	}
	if (r->kind != NH_WIRE_ACTIVITY || r->activity.legacy_json)
		return false;
	switch (r->activity.event) {
	case NH_WIRE_EV_CONNECT:
	case NH_WIRE_EV_ACCEPT:
	case NH_WIRE_EV_OPEN:
	case NH_WIRE_EV_SETUID:
	case NH_WIRE_EV_SETGID:
	case NH_WIRE_EV_CAPSET:
		*result = r->activity.result;
		return true;
	default:
		return false;
	}
}

static void add_event(struct nh_jw *w, const struct nh_wire_record *r, const char *id)
{
	static const char *const datasets[NH_WIRE_KIND_MAX] = {
	    [NH_WIRE_ANOMALY] = "nhiscope.anomaly",
	    [NH_WIRE_CREDENTIAL_USE] = "nhiscope.credential_use",
	    [NH_WIRE_FINDING] = "nhiscope.finding",
	    [NH_WIRE_ACTIVITY] = "nhiscope.activity",
	    [NH_WIRE_LOSS] = "nhiscope.loss",
	    [NH_WIRE_HEARTBEAT] = "nhiscope.heartbeat",
	};
	struct ecs_class c = classify(r);
	char dataset[64];
	int sev = nh_ecs_severity(r);
	int64_t result;

	nh_jw_object(w, "event");
	nh_jw_str(w, "kind", event_kind(r));
	nh_jw_array(w, "category");
	nh_jw_str(w, NULL, c.category);
	nh_jw_end(w);
	nh_jw_array(w, "type");
	nh_jw_str(w, NULL, c.type);
	if (c.type2)
		nh_jw_str(w, NULL, c.type2);
	nh_jw_end(w);
	if (sev)
		nh_jw_int(w, "severity", sev);
	nh_jw_str_known(w, "id", id);
	nh_jw_str(w, "module", "nhiscope");
	if (r->kind > NH_WIRE_NONE && r->kind < NH_WIRE_KIND_MAX && datasets[r->kind]) {
		nh_jw_str(w, "dataset", datasets[r->kind]);
	} else {
		snprintf(dataset, sizeof(dataset), "nhiscope.%s", nh_wire_kind_name(r->kind));
		nh_jw_str(w, "dataset", dataset);
	}
	switch (r->kind) {
	case NH_WIRE_ANOMALY:
		nh_jw_str(w, "action", r->anomaly.rate ? "rate-anomaly" : "novel-item");
		nh_jw_str_known(w, "reason", r->anomaly.explanation);
		break;
	case NH_WIRE_CREDENTIAL_USE:
		nh_jw_str(w, "action", "credential-use");
		break;
	case NH_WIRE_FINDING:
		nh_jw_str(w, "action", nh_wire_finding_name(r->finding.type));
		nh_jw_str_known(w, "reason", r->finding.reason);
		break;
	case NH_WIRE_ACTIVITY:
		nh_jw_str(w, "action", nh_recordjson_kind(r));
		break;
	default:
		break;
	}
	if (has_result(r, &result))
		nh_jw_str(w, "outcome",
			  result < 0 && result != -EINPROGRESS ? "failure" : "success");
	nh_jw_end(w);
}

/* --- ATT&CK: what the records' technique ids belong to (facts from the
 * ATT&CK matrix for Enterprise, kept as data) */
struct technique_info {
	const char *id; /* the technique, without sub-technique */
	const char *name;
	const char *tactic_id, *tactic_name;
};

static const struct technique_info techniques[] = {
    {"T1003", "OS Credential Dumping", "TA0006", "Credential Access"},
    {"T1059", "Command and Scripting Interpreter", "TA0002", "Execution"},
    {"T1071", "Application Layer Protocol", "TA0011", "Command and Control"},
    {"T1105", "Ingress Tool Transfer", "TA0011", "Command and Control"},
    {"T1528", "Steal Application Access Token", "TA0006", "Credential Access"},
    {"T1548", "Abuse Elevation Control Mechanism", "TA0004", "Privilege Escalation"},
    {"T1552", "Unsecured Credentials", "TA0006", "Credential Access"},
    {"T1613", "Container and Resource Discovery", "TA0007", "Discovery"},
    {"T1620", "Reflective Code Loading", "TA0005", "Defense Evasion"},
};

static void add_threat(struct nh_jw *w, const char *id, const char *name)
{
	const char *dot = strchr(id, '.');
	size_t n = dot ? (size_t)(dot - id) : strlen(id);
	const struct technique_info *t = NULL;

	for (size_t i = 0; i < sizeof(techniques) / sizeof(techniques[0]); i++)
		if (strlen(techniques[i].id) == n && memcmp(techniques[i].id, id, n) == 0)
			t = &techniques[i];
	nh_jw_object(w, "threat");
	nh_jw_str(w, "framework", "MITRE ATT&CK");
	if (t) {
		nh_jw_object(w, "tactic");
		nh_jw_str(w, "id", t->tactic_id);
		nh_jw_str(w, "name", t->tactic_name);
		nh_jw_end(w);
	}
	nh_jw_object(w, "technique");
	nh_jw_strn(w, "id", id, n);
	if (dot) {
		nh_jw_str_known(w, "name", t ? t->name : NULL);
		nh_jw_object(w, "subtechnique");
		nh_jw_str(w, "id", id);
		nh_jw_str_known(w, "name", name);
		nh_jw_end(w);
	} else {
		nh_jw_str_known(w, "name", name && *name ? name : t ? t->name : NULL);
	}
	nh_jw_end(w);
	nh_jw_end(w);
}

/* rule.name: which of nhiscope's detections made an alert. */
static void add_rule(struct nh_jw *w, const struct nh_wire_record *r)
{
	char name[96];

	if (r->kind == NH_WIRE_ANOMALY)
		snprintf(name, sizeof(name), "nhiscope %s %s",
			 r->anomaly.rate ? "rate spike" : "novel",
			 nh_wire_category_name(r->anomaly.category));
	else if (r->kind == NH_WIRE_FINDING)
		snprintf(name, sizeof(name), "nhiscope %s", nh_wire_finding_name(r->finding.type));
	else
		return;
	nh_jw_object(w, "rule");
	nh_jw_str(w, "name", name);
	nh_jw_end(w);
}

/* The kernel's boot id: the agent's record ids are "<boot id>-<run>". */
static size_t kernel_boot_id(const char *boot)
{
	char uuid[37];

	if (strlen(boot) < 36)
		return 0;
	memcpy(uuid, boot, 36);
	uuid[36] = '\0';
	/* 8-4-4-4-12 hex digits */
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? uuid[i] != '-'
			 : !((uuid[i] >= '0' && uuid[i] <= '9') ||
			     (uuid[i] >= 'a' && uuid[i] <= 'f')))
			return 0;
	}
	return 36;
}

static bool known(const char *s)
{
	return s && *s;
}

/* An endpoint: "ip:port", "[ipv6]:port" or an address alone. */
struct endpoint {
	char ip[64];
	bool is_ip;
	uint32_t port;
};

static bool parse_ip(const char *s, char *out, size_t cap)
{
	unsigned char b[16];
	size_t n = strlen(s);

	if (n >= cap)
		return false;
	memcpy(out, s, n + 1);
	return inet_pton(AF_INET, out, b) == 1 || inet_pton(AF_INET6, out, b) == 1;
}

static bool parse_endpoint(const char *s, struct endpoint *e)
{
	const char *colon;
	char host[64];
	unsigned long port;
	char *end;

	memset(e, 0, sizeof(*e));
	if (!known(s) || s[0] == '/')
		return false;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || (size_t)(close - s - 1) >= sizeof(host))
			return false;
		memcpy(host, s + 1, close - s - 1);
		host[close - s - 1] = '\0';
		colon = close[1] == ':' ? close + 1 : NULL;
	} else {
		colon = strrchr(s, ':');
		/* an IPv6 address without brackets has no port */
		if (colon && strchr(s, ':') != colon)
			colon = NULL;
		if (colon ? (size_t)(colon - s) >= sizeof(host) : strlen(s) >= sizeof(host))
			return false;
		memcpy(host, s, colon ? (size_t)(colon - s) : strlen(s) + 1);
		if (colon)
			host[colon - s] = '\0';
	}
	if (colon) {
		port = strtoul(colon + 1, &end, 10);
		if (*end || end == colon + 1 || port > 65535)
			return false;
		e->port = (uint32_t)port;
	}
	e->is_ip = parse_ip(host, e->ip, sizeof(e->ip));
	if (!e->is_ip)
		snprintf(e->ip, sizeof(e->ip), "%s", host);
	return true;
}

/* source.* or destination.*: address always, ip when it is one. */
static void add_endpoint(struct nh_jw *w, const char *group, const struct endpoint *e)
{
	nh_jw_object(w, group);
	nh_jw_str(w, "address", e->ip);
	if (e->is_ip)
		nh_jw_str(w, "ip", e->ip);
	if (e->port)
		nh_jw_uint(w, "port", e->port);
	nh_jw_end(w);
}

/* What an ECS document says about the record's network peer and file,
 * worked out once: source/destination, file, related. */
struct ecs_objects {
	struct endpoint peer;
	const char *peer_group; /* "destination", "source" or NULL */
	uint32_t local_port;	/* accept: our side */
	const char *file;	/* an absolute path */
	const char *target;	/* the file file names by another name, or NULL */
	bool socket;		/* file is a Unix socket (inode: its inode, or 0) */
	uint64_t inode;
	unsigned rest_omit; /* NH_RJ_OMIT_*: activity fields the document already has */
};

static void find_objects(const struct nh_wire_record *r, struct ecs_objects *o)
{
	memset(o, 0, sizeof(*o));
	switch (r->kind) {
	case NH_WIRE_ANOMALY: {
		const struct nh_wire_anomaly *a = &r->anomaly;

		const char *v =
		    a->category == NH_WIRE_CAT_CREDENTIAL ? credential_object(a->value) : a->value;

		if (a->rate)
			break;
		if ((a->category == NH_WIRE_CAT_FILE || a->category == NH_WIRE_CAT_CREDENTIAL) &&
		    is_path(v))
			o->file = v;
		else if ((a->category == NH_WIRE_CAT_EGRESS ||
			  a->category == NH_WIRE_CAT_CREDENTIAL) &&
			 parse_endpoint(v, &o->peer))
			o->peer_group = "destination";
		break;
	}
	case NH_WIRE_CREDENTIAL_USE: {
		const struct nh_wire_credential_use *u = &r->credential_use;

		if (is_path(u->credential)) {
			o->file = u->credential;
			/* opened by another name (a link, /proc/<pid>/root, ..):
			 * file.path is what the process opened, file.target_path
			 * the credential it reached, as for a symlink */
			if (is_path(u->path) && !u->path_truncated &&
			    strcmp(u->path, u->credential) != 0) {
				o->file = u->path;
				o->target = u->credential;
			}
		} else if (parse_endpoint(u->credential, &o->peer)) {
			o->peer_group = "destination";
		}
		break;
	}
	case NH_WIRE_ACTIVITY: {
		const struct nh_wire_activity *a = &r->activity;

		if (a->legacy_json)
			break;
		/* process.executable and process.args (add_process) */
		if (a->event == NH_WIRE_EV_EXEC)
			o->rest_omit = NH_RJ_OMIT_PATH | NH_RJ_OMIT_ARGS;
		if (a->event == NH_WIRE_EV_OPEN && is_path(a->path)) {
			o->file = a->path;
			o->rest_omit = NH_RJ_OMIT_PATH;
			/* a credential opened by another name */
			if (is_path(a->credential) && strcmp(a->credential, a->path) != 0)
				o->target = a->credential;
		} else if (a->event == NH_WIRE_EV_UNIX_CONNECT && is_path(a->path)) {
			o->file = a->path;
			o->socket = true;
			o->inode = a->inode;
			o->rest_omit = NH_RJ_OMIT_PATH;
		} else if (a->event == NH_WIRE_EV_COMPAT && is_path(a->path)) {
			o->file = a->path;
			o->rest_omit = NH_RJ_OMIT_PATH;
		} else if ((a->event == NH_WIRE_EV_CONNECT || a->event == NH_WIRE_EV_SEND ||
			    (a->event == NH_WIRE_EV_COMPAT && a->port) ||
			    (a->event == NH_WIRE_EV_ACCEPT && a->result >= 0)) &&
			   known(a->address)) {
			o->peer.is_ip = parse_ip(a->address, o->peer.ip, sizeof(o->peer.ip));
			if (!o->peer.is_ip)
				snprintf(o->peer.ip, sizeof(o->peer.ip), "%s", a->address);
			o->peer.port = a->port;
			o->peer_group = a->event == NH_WIRE_EV_ACCEPT ? "source" : "destination";
			if (a->event == NH_WIRE_EV_ACCEPT)
				o->local_port = a->local_port;
			/* only when the endpoint has all of it: the whole
			 * address (not cut to fit) and a port */
			if (strlen(a->address) < sizeof(o->peer.ip) && a->port)
				o->rest_omit = NH_RJ_OMIT_ADDRESS;
		} else if (a->event == NH_WIRE_EV_SUMMARY && is_path(a->object) &&
			   a->of == NH_WIRE_EV_OPEN) {
			o->file = a->object;
		} else if (a->event == NH_WIRE_EV_SUMMARY && a->of == NH_WIRE_EV_CONNECT &&
			   parse_endpoint(a->object, &o->peer)) {
			o->peer_group = "destination";
		}
		break;
	}
	case NH_WIRE_FINDING:
		if (r->finding.type == NH_WIRE_FINDING_CREDENTIAL_REUSE &&
		    is_path(r->finding.credential))
			o->file = r->finding.credential;
		break;
	default:
		break;
	}
}

static void add_objects(struct nh_jw *w, const struct ecs_objects *o)
{
	if (o->peer_group) {
		add_endpoint(w, o->peer_group, &o->peer);
		if (o->local_port) {
			nh_jw_object(w, "destination");
			nh_jw_uint(w, "port", o->local_port);
			nh_jw_end(w);
		}
	}
	if (o->file) {
		const char *slash = strrchr(o->file, '/');

		nh_jw_object(w, "file");
		nh_jw_str(w, "path", o->file);
		if (slash && slash[1])
			nh_jw_str(w, "name", slash + 1);
		if (o->target)
			nh_jw_str(w, "target_path", o->target);
		if (o->socket) {
			char num[24];

			nh_jw_str(w, "type", "socket");
			if (o->inode) {
				snprintf(num, sizeof(num), "%llu", (unsigned long long)o->inode);
				nh_jw_str(w, "inode", num); /* ECS: a keyword */
			}
		}
		nh_jw_end(w);
	}
}

/* u in decimal at the end of buf (cap > 10), NUL-terminated; the start. */
static char *decimal(uint32_t u, char *buf, size_t cap)
{
	char *p = buf + cap - 1;

	*p = '\0';
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	return p;
}

/* "<run>/<pid>/<start>", or "<run>/<pid>" from an agent that does not
 * say when the process started (no snprintf: one per record). */
static const char *entity_id(const char *run, uint32_t pid, uint64_t start_ms, char *buf,
			     size_t cap)
{
	char num[12], snum[24], *d = decimal(pid, num, sizeof(num)), *s = snum + sizeof(snum) - 1;
	size_t n = strlen(run), k = strlen(d), sk;

	*s = '\0';
	if (start_ms) {
		do {
			*--s = (char)('0' + start_ms % 10);
			start_ms /= 10;
		} while (start_ms);
		*--s = '/';
	}
	sk = strlen(s);
	if (n + k + sk + 2 > cap)
		n = cap - k - sk - 2;
	memcpy(buf, run, n);
	buf[n] = '/';
	memcpy(buf + n + 1, d, k);
	memcpy(buf + n + 1 + k, s, sk + 1);
	return buf;
}

static void add_process(struct nh_jw *w, const struct nh_wire_record *r)
{
	const struct nh_wire_process *p = &r->process;
	const struct nh_wire_activity *a = &r->activity;
	bool exec = r->kind == NH_WIRE_ACTIVITY && !a->legacy_json && a->event == NH_WIRE_EV_EXEC;
	char entity[NH_WIRE_ID_STR_MAX];

	if (!p->pid)
		return;
	nh_jw_object(w, "process");
	nh_jw_uint(w, "pid", p->pid);
	/* one process instance: the agent run's id (boot id and start),
	 * the pid, and when the process started (a reused pid has another
	 * start); the same in every record of the process */
	nh_jw_str(w, "entity_id",
		  entity_id(r->id.boot_id, p->pid, p->start_ms, entity, sizeof(entity)));
	if (p->tid && p->tid != p->pid) {
		nh_jw_object(w, "thread");
		nh_jw_uint(w, "id", p->tid);
		nh_jw_end(w);
	}
	if (p->ppid) {
		nh_jw_object(w, "parent");
		nh_jw_uint(w, "pid", p->ppid);
		nh_jw_end(w);
	}
	nh_jw_str_known(w, "executable", exec && known(a->path) ? a->path : p->exe);
	nh_jw_str_known(w, "name", p->comm);
	if (exec) {
		nh_jw_array(w, "args");
		for (size_t i = 0; i < a->n_args; i++)
			nh_jw_str(w, NULL, a->args[i]);
		nh_jw_end(w);
		nh_jw_uint(w, "args_count", a->n_args);
		/* argv as one line, the way a shell shows it; redacted like args
		 * (the agent redacted every secret before the record left) */
		nh_jw_str_join(w, "command_line", a->args, a->n_args, ' ');
		/* a setuid, setgid or file-capability image: whom it runs as */
		if (a->privileged_exec) {
			char num[12];

			nh_jw_object(w, "user");
			nh_jw_str(w, "id", decimal(a->euid, num, sizeof(num)));
			nh_jw_end(w);
		}
	}
	nh_jw_end(w);
}

static void add_user(struct nh_jw *w, const struct nh_wire_process *p)
{
	char uid[16];

	if (!p->pid)
		return;
	nh_jw_object(w, "user");
	nh_jw_str(w, "id", decimal(p->uid, uid, sizeof(uid)));
	nh_jw_str_known(w, "name", p->user);
	nh_jw_end(w);
}

static void add_related(struct nh_jw *w, const struct nh_wire_record *r,
			const struct ecs_objects *o, const char *host)
{
	nh_jw_object(w, "related");
	if (r->process.pid && known(r->process.user)) {
		nh_jw_array(w, "user");
		nh_jw_str(w, NULL, r->process.user);
		nh_jw_end(w);
	}
	if (o->peer_group && o->peer.is_ip) {
		nh_jw_array(w, "ip");
		nh_jw_str(w, NULL, o->peer.ip);
		nh_jw_end(w);
	}
	nh_jw_array(w, "hosts");
	nh_jw_str(w, NULL, host);
	if (o->peer_group && !o->peer.is_ip)
		nh_jw_str(w, NULL, o->peer.ip);
	nh_jw_end(w);
	nh_jw_end(w);
}

static void add_context(struct nh_jw *w, const struct nh_wire_record *r, const char *host)
{
	const struct nh_wire_identity *i = &r->identity;
	size_t boot = kernel_boot_id(r->id.boot_id);
	bool k8s = known(i->namespace) || known(i->pod_name) || known(i->pod_uid);

	nh_jw_object(w, "host");
	nh_jw_str(w, "name", host);
	if (boot) {
		nh_jw_object(w, "boot");
		nh_jw_strn(w, "id", r->id.boot_id, boot);
		nh_jw_end(w);
	}
	nh_jw_end(w);

	if (k8s || known(r->site.cluster)) {
		nh_jw_object(w, "orchestrator");
		nh_jw_str(w, "type", "kubernetes");
		if (known(r->site.cluster)) {
			nh_jw_object(w, "cluster");
			nh_jw_str(w, "name", r->site.cluster);
			nh_jw_end(w);
		}
		nh_jw_str_known(w, "namespace", i->namespace);
		if (known(i->pod_name) || known(i->pod_uid)) {
			nh_jw_object(w, "resource");
			nh_jw_str(w, "type", "pod");
			nh_jw_str_known(w, "name", i->pod_name);
			nh_jw_str_known(w, "id", i->pod_uid);
			if (known(i->workload_kind)) {
				nh_jw_object(w, "parent");
				nh_jw_str(w, "type", i->workload_kind);
				nh_jw_end(w);
			}
			nh_jw_end(w);
		}
		nh_jw_end(w);
	}
	if (known(i->container_id)) {
		nh_jw_object(w, "container");
		nh_jw_str(w, "id", i->container_id);
		if (known(i->context.runtime))
			nh_jw_str(w, "runtime", i->context.runtime);
		nh_jw_end(w);
	}
	if (known(i->unit)) {
		nh_jw_object(w, "service");
		nh_jw_str(w, "name", i->unit);
		nh_jw_end(w);
	}
	nh_jw_object(w, "labels");
	nh_jw_str_known(w, "nhiscope_identity", i->key);
	for (size_t l = 0; l < r->site.n_labels; l++)
		nh_jw_str(w, r->site.labels[l].key, r->site.labels[l].value);
	nh_jw_end_or_drop(w);
}

static void add_counters(struct nh_jw *w, const char *k, const struct nh_wire_counter *c, size_t n)
{
	nh_jw_object(w, k);
	for (size_t i = 0; i < n; i++)
		nh_jw_uint(w, c[i].name, c[i].value);
	nh_jw_end(w);
}

/* nhiscope.<kind>: everything the record says that ECS has no field for,
 * one function per record kind. */
static void nh_anomaly(struct nh_jw *w, const struct nh_wire_record *r)
{
	const struct nh_wire_anomaly *a = &r->anomaly;

	nh_jw_object(w, "anomaly");
	nh_jw_str(w, "category", nh_wire_category_name(a->category));
	nh_jw_str(w, "severity", nh_wire_severity_name(a->severity));
	nh_jw_bool(w, "rate", a->rate);
	nh_jw_str_known(w, "value", a->value);
	nh_jw_object(w, "baseline");
	nh_jw_uint(w, "age_seconds", a->baseline_age_ns / UINT64_C(1000000000));
	nh_jw_uint(w, "items", a->baseline_items);
	nh_jw_end(w);
	if (a->rate) {
		nh_jw_double(w, "rate_observed", a->rate_observed);
		nh_jw_double(w, "rate_mean", a->rate_mean);
		nh_jw_double(w, "rate_stddev", a->rate_stddev);
	}
	nh_jw_end(w);
}

static void nh_credential(struct nh_jw *w, const struct nh_wire_record *r)
{
	const struct nh_wire_credential_use *c = &r->credential_use;

	nh_jw_object(w, "credential");
	nh_jw_str_known(w, "kind", c->credential_kind);
	nh_jw_str_known(w, "name", c->credential);
	nh_jw_str_known(w, "via", c->via);
	nh_jw_int(w, "result", c->result);
	nh_jw_uint(w, "count", c->count);
	/* what recognised the file (inode, volume, path); the path as the
	 * process wrote it when file.path could not carry it (relative, or
	 * cut by the kernel) */
	nh_jw_str_known(w, "matched_by", c->matched_by);
	if (known(c->path) && (!is_path(c->path) || c->path_truncated))
		nh_jw_str(w, "path", c->path);
	if (c->path_truncated)
		nh_jw_bool(w, "path_truncated", true);
	nh_jw_end(w);
}

static void nh_finding(struct nh_jw *w, const struct nh_wire_record *r)
{
	const struct nh_wire_finding *f = &r->finding;

	nh_jw_object(w, "finding");
	nh_jw_str(w, "type", nh_wire_finding_name(f->type));
	nh_jw_str_known(w, "secret_kind", f->secret_kind);
	nh_jw_str_known(w, "fingerprint", f->fingerprint);
	nh_jw_str_known(w, "fingerprint_previous", f->fingerprint_previous);
	nh_jw_str_known(w, "reason", f->reason);
	nh_jw_str_known(w, "argument", f->argument);
	nh_jw_str_known(w, "credential_kind", f->credential_kind);
	nh_jw_str_known(w, "credential", f->credential);
	nh_jw_str_known(w, "path", f->path);
	nh_jw_str_known(w, "claimed_identity", f->claimed_identity);
	nh_jw_str_known(w, "believed_identity", f->believed_identity);
	if (f->type == NH_WIRE_FINDING_SECRET_EXPOSURE)
		nh_jw_int(w, "arg_index", f->arg_index);
	if (f->n_identities) {
		nh_jw_array(w, "identities");
		for (size_t i = 0; i < f->n_identities; i++)
			nh_jw_str(w, NULL, f->identities[i]);
		nh_jw_end(w);
	}
	nh_jw_end(w);
}

/* Format 1 (the previous release) sent the event as the JSON text its
 * agent rendered: the one place JSON the project wrote is read back, so
 * that it goes in as an object whatever the bytes; kept until format 1
 * is no longer read. */
static void legacy_event(struct nh_jw *w, const char *text)
{
	json_object *ev = json_tokener_parse(text);
	const char *s;

	if (ev && json_object_is_type(ev, json_type_object) &&
	    (s = json_object_to_json_string_ext(ev, NH_JSON_FLAGS)))
		nh_jw_raw(w, "event", s, strlen(s));
	else
		nh_jw_str(w, "raw", text);
	json_object_put(ev);
}

/* The event's details: what the document's ECS fields do not already
 * say (omit: NH_RJ_OMIT_*), so that nothing is written twice; the whole
 * event is what `nhiscope tail -o json` shows. */
static void nh_activity(struct nh_jw *w, const struct nh_wire_record *r, unsigned omit)
{
	nh_jw_object(w, "activity");
	nh_jw_str(w, "kind", nh_recordjson_kind(r));
	if (r->activity.legacy_json)
		legacy_event(w, r->activity.legacy_json);
	else
		nh_recordjson_write_rest(r, "event", omit, w);
	nh_jw_end(w);
}

static void nh_loss(struct nh_jw *w, const struct nh_wire_record *r)
{
	nh_jw_object(w, "loss");
	nh_jw_str_known(w, "what", r->loss.what);
	nh_jw_str_known(w, "source", r->loss.source);
	add_counters(w, "counts", r->loss.counts, r->loss.n_counts);
	if (r->loss.n_totals)
		add_counters(w, "totals", r->loss.totals, r->loss.n_totals);
	nh_jw_uint(w, "window_start_ns", r->loss.window_start_ns);
	nh_jw_uint(w, "window_end_ns", r->loss.window_end_ns);
	if (r->loss.identity_cgroup_id)
		nh_jw_uint(w, "identity_cgroup_id", r->loss.identity_cgroup_id);
	nh_jw_end(w);
}

static void nh_flood(struct nh_jw *w, const struct nh_wire_record *r)
{
	nh_jw_object(w, "flood");
	add_counters(w, "counts", r->flood.counts, r->flood.n_counts);
	nh_jw_uint(w, "budget", r->flood.budget);
	nh_jw_uint(w, "budget_window_ns", r->flood.budget_window_ns);
	nh_jw_uint(w, "window_start_ns", r->flood.window_start_ns);
	nh_jw_uint(w, "window_end_ns", r->flood.window_end_ns);
	nh_jw_uint(w, "identity_cgroup_id", r->flood.identity_cgroup_id);
	nh_jw_end(w);
}

static void nh_gap(struct nh_jw *w, const struct nh_wire_record *r)
{
	nh_jw_object(w, "monitoring_gap");
	nh_jw_uint(w, "start_ns", r->monitoring_gap.start_ns);
	nh_jw_uint(w, "end_ns", r->monitoring_gap.end_ns);
	nh_jw_bool(w, "clean_stop", r->monitoring_gap.clean_stop);
	nh_jw_str_known(w, "reason", r->monitoring_gap.reason);
	nh_jw_end(w);
}

static void nh_heartbeat(struct nh_jw *w, const struct nh_wire_record *r)
{
	nh_jw_object(w, "heartbeat");
	nh_jw_str_known(w, "agent_version", r->heartbeat.agent_version);
	nh_jw_uint(w, "probes_attached", r->heartbeat.probes_attached);
	add_counters(w, "counters", r->heartbeat.counters, r->heartbeat.n_counters);
	nh_jw_end(w);
}

/* By record kind; a kind without a row (added after this table) has only
 * the common groups. */
static void (*const nh_body[NH_WIRE_KIND_MAX])(struct nh_jw *, const struct nh_wire_record *) = {
    [NH_WIRE_ANOMALY] = nh_anomaly,	[NH_WIRE_CREDENTIAL_USE] = nh_credential,
    [NH_WIRE_FINDING] = nh_finding,	[NH_WIRE_LOSS] = nh_loss,
    [NH_WIRE_HEARTBEAT] = nh_heartbeat, [NH_WIRE_FLOOD] = nh_flood,
    [NH_WIRE_MONITORING_GAP] = nh_gap,
};

static void add_nhiscope(struct nh_jw *w, const struct nh_wire_record *r,
			 const struct ecs_objects *o)
{
	const struct nh_wire_identity *i = &r->identity;

	nh_jw_object(w, "nhiscope");
	nh_jw_object(w, "record");
	nh_jw_str(w, "kind", nh_wire_kind_name(r->kind));
	nh_jw_str(w, "node", r->id.node);
	nh_jw_str(w, "boot_id", r->id.boot_id);
	nh_jw_uint(w, "seq", r->id.seq);
	nh_jw_end(w);

	nh_jw_object(w, "identity");
	nh_jw_str_known(w, "key", i->key);
	nh_jw_str_known(w, "source", i->source);
	if (known(i->source))
		nh_jw_bool(w, "verified", i->verified);
	nh_jw_str_known(w, "service_account", i->service_account);
	nh_jw_str_known(w, "pod_uid", i->pod_uid);
	nh_jw_object(w, "workload");
	nh_jw_str_known(w, "kind", i->workload_kind);
	nh_jw_str_known(w, "name", i->workload_name);
	nh_jw_end_or_drop(w);
	nh_jw_end_or_drop(w);

	if (r->kind == NH_WIRE_ACTIVITY)
		nh_activity(w, r, o->rest_omit);
	else if (r->kind > NH_WIRE_NONE && r->kind < NH_WIRE_KIND_MAX && nh_body[r->kind])
		nh_body[r->kind](w, r);
	nh_jw_end(w);
}

int nh_ecs_write(const struct nh_wire_record *r, const char *id, struct nh_jw *w)
{
	const char *host = known(r->identity.node) ? r->identity.node : r->id.node;
	struct ecs_objects o;
	char ts[40], msg[1024];
	size_t n;

	nh_jw_object(w, NULL);
	nh_ecs_timestamp(r->time_ns, ts, sizeof(ts));
	nh_jw_str(w, "@timestamp", ts);
	nh_jw_object(w, "ecs");
	nh_jw_str(w, "version", NH_ECS_VERSION);
	nh_jw_end(w);
	n = nh_ecs_message(r, msg, sizeof(msg));
	nh_jw_strn(w, "message", msg, n);
	add_event(w, r, id);
	add_rule(w, r);
	if (r->kind == NH_WIRE_ANOMALY && known(r->anomaly.technique_id))
		add_threat(w, r->anomaly.technique_id, r->anomaly.technique_name);
	add_context(w, r, host);
	add_process(w, r);
	add_user(w, &r->process);
	find_objects(r, &o);
	add_objects(w, &o);
	add_related(w, r, &o, host);
	if (r->kind == NH_WIRE_HEARTBEAT) {
		nh_jw_object(w, "agent");
		nh_jw_str_known(w, "version", r->heartbeat.agent_version);
		nh_jw_end_or_drop(w);
	}
	add_nhiscope(w, r, &o);
	nh_jw_end(w);
	return w->failed ? -ENOMEM : 0;
}

json_object *nh_ecs_record(const struct nh_wire_record *r, const char *id)
{
	struct nh_jw w = {0};
	json_object *doc = NULL;

	nh_jw_reset(&w);
	if (nh_ecs_write(r, id, &w) == 0 && nh_jw_reserve(&w, 1)) {
		w.buf[w.len] = '\0';
		doc = json_tokener_parse(w.buf);
	}
	nh_jw_free(&w);
	return doc;
}
