// SPDX-License-Identifier: Apache-2.0
#include "ecs.h"
#include "clock.h"
#include "jsonw.h"
#include "recordjson.h"

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
			       r->finding.type == NH_WIRE_FINDING_IDENTITY_CONFLICT
			   ? 73
			   : 47;
	case NH_WIRE_LOSS:
	case NH_WIRE_FLOOD:	     /* issue 19 */
	case NH_WIRE_MONITORING_GAP: /* issue 19 */
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
		default:
			put(&t, "finding by %s", who);
		}
		break;
	}
	case NH_WIRE_ACTIVITY:
		put(&t, "activity: %s by %s", nh_recordjson_kind(r), who);
		break;
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
	case NH_WIRE_FLOOD: /* issue 19 */
		put(&t, "flood by %s beyond %" PRIu64 " events per %" PRIu64 " ms", who,
		    r->flood.budget, r->flood.budget_window_ns / 1000000);
		for (size_t i = 0; i < r->flood.n_counts; i++)
			put(&t, "%s%s=%" PRIu64, i ? " " : ": ", r->flood.counts[i].name,
			    r->flood.counts[i].value);
		break;
	case NH_WIRE_MONITORING_GAP: /* issue 19 */
		put(&t, "monitoring gap: %.3f s unmonitored (%s)",
		    (double)(r->monitoring_gap.end_ns - r->monitoring_gap.start_ns) / 1e9,
		    r->monitoring_gap.clean_stop ? "after a clean stop" : "after a crash");
		break;
	default:
		put(&t, "record");
	}
	return t.len;
}

/* Drop an object that ended up empty (no known field). */
static void prune(json_object *o, const char *k)
{
	json_object *s;

	if (json_object_object_get_ex(o, k, &s) && json_object_is_type(s, json_type_object) &&
	    json_object_object_length(s) == 0)
		json_object_object_del(o, k);
}

static json_object *strings(const char *const *v, size_t n)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

static json_object *counters(const struct nh_wire_counter *c, size_t n)
{
	json_object *o = json_object_new_object();

	for (size_t i = 0; i < n; i++)
		nh_json_uint(o, c[i].name, c[i].value);
	return o;
}

/* event.category and event.type, ECS allowed values. */
static void classify(const struct nh_wire_record *r, const char **cat, const char **type)
{
	*cat = "host";
	*type = "info";
	switch (r->kind) {
	case NH_WIRE_ANOMALY:
		switch (r->anomaly.category) {
		case NH_WIRE_CAT_EXEC:
			*cat = "process";
			*type = "start";
			break;
		case NH_WIRE_CAT_EGRESS:
		case NH_WIRE_CAT_INGRESS:
			*cat = "network";
			*type = "connection";
			break;
		case NH_WIRE_CAT_FILE:
			*cat = "file";
			*type = "access";
			break;
		case NH_WIRE_CAT_CREDENTIAL:
			*cat = "iam";
			*type = "access";
			break;
		case NH_WIRE_CAT_PRIVILEGE:
			*cat = "iam";
			*type = "change";
			break;
		default:
			break;
		}
		break;
	case NH_WIRE_CREDENTIAL_USE:
		*cat = "iam";
		*type = "access";
		break;
	case NH_WIRE_FINDING:
		if (r->finding.type == NH_WIRE_FINDING_HUMAN_USE) {
			*cat = "session";
			*type = "start";
		} else {
			*cat = "iam";
		}
		break;
	case NH_WIRE_ACTIVITY: {
		const char *k = nh_recordjson_kind(r);

		if (strcmp(k, "exec") == 0) {
			*cat = "process";
			*type = "start";
		} else if (strcmp(k, "open") == 0) {
			*cat = "file";
			*type = "access";
		} else if (strcmp(k, "connect") == 0 || strcmp(k, "accept") == 0) {
			*cat = "network";
			*type = "connection";
		} else if (strncmp(k, "set", 3) == 0 || strcmp(k, "capset") == 0) {
			*cat = "iam";
			*type = "change";
		}
		break;
	}
	default:
		break;
	}
}

static const char *event_kind(const struct nh_wire_record *r)
{
	switch (r->kind) {
	case NH_WIRE_ANOMALY:
	case NH_WIRE_FINDING:
		return "alert";
	case NH_WIRE_LOSS:
	case NH_WIRE_FLOOD:	     /* issue 19 */
	case NH_WIRE_MONITORING_GAP: /* issue 19 */
		return "pipeline_error";
	case NH_WIRE_HEARTBEAT:
		return "metric";
	default:
		return "event";
	}
}

static void add_event(json_object *doc, const struct nh_wire_record *r, const char *id)
{
	json_object *ev = nh_json_sub(doc, "event");
	const char *cat, *type;
	char dataset[64];
	int sev = nh_ecs_severity(r);

	classify(r, &cat, &type);
	nh_json_str_known(ev, "kind", event_kind(r));
	json_object_object_add(ev, "category", strings(&cat, 1));
	json_object_object_add(ev, "type", strings(&type, 1));
	if (sev)
		nh_json_int(ev, "severity", sev);
	nh_json_str_known(ev, "id", id);
	nh_json_str_known(ev, "module", "nhiscope");
	snprintf(dataset, sizeof(dataset), "nhiscope.%s", nh_wire_kind_name(r->kind));
	nh_json_str_known(ev, "dataset", dataset);
	switch (r->kind) {
	case NH_WIRE_ANOMALY:
		nh_json_str_known(ev, "action", r->anomaly.rate ? "rate-anomaly" : "novel-item");
		nh_json_str_known(ev, "reason", r->anomaly.explanation);
		break;
	case NH_WIRE_CREDENTIAL_USE:
		nh_json_str_known(ev, "action", "credential-use");
		nh_json_str_known(ev, "outcome",
				  r->credential_use.result < 0 ? "failure" : "success");
		break;
	case NH_WIRE_FINDING:
		nh_json_str_known(ev, "action", nh_wire_finding_name(r->finding.type));
		nh_json_str_known(ev, "reason", r->finding.reason);
		break;
	case NH_WIRE_ACTIVITY:
		nh_json_str_known(ev, "action", nh_recordjson_kind(r));
		break;
	default:
		break;
	}
}

static void add_context(json_object *doc, const struct nh_wire_record *r)
{
	const struct nh_wire_identity *i = &r->identity;
	const struct nh_wire_process *p = &r->process;
	json_object *o;
	char uid[16];

	o = nh_json_sub(doc, "host");
	nh_json_str_known(o, "name", i->node && *i->node ? i->node : r->id.node);
	nh_json_str_known(nh_json_sub(o, "boot"), "id", r->id.boot_id);

	if (p->pid) {
		o = nh_json_sub(doc, "process");
		nh_json_int(o, "pid", p->pid);
		if (p->ppid)
			nh_json_int(nh_json_sub(o, "parent"), "pid", p->ppid);
		nh_json_str_known(o, "executable", p->exe);
		nh_json_str_known(o, "name", p->comm);
		/* ECS user.id is a keyword */
		snprintf(uid, sizeof(uid), "%u", p->uid);
		o = nh_json_sub(doc, "user");
		nh_json_str_known(o, "id", uid);
		nh_json_str_known(o, "name", p->user);
	}

	if ((i->namespace && *i->namespace) || (i->pod_name && *i->pod_name) ||
	    (i->pod_uid && *i->pod_uid)) {
		json_object *res;

		o = nh_json_sub(doc, "orchestrator");
		nh_json_str_known(o, "type", "kubernetes");
		nh_json_str_known(o, "namespace", i->namespace);
		res = nh_json_sub(o, "resource");
		nh_json_str_known(res, "type", "pod");
		nh_json_str_known(res, "name", i->pod_name);
		nh_json_str_known(res, "id", i->pod_uid);
		prune(o, "resource");
	}
	if (i->container_id && *i->container_id)
		nh_json_str_known(nh_json_sub(doc, "container"), "id", i->container_id);
	if (i->unit && *i->unit)
		nh_json_str_known(nh_json_sub(doc, "service"), "name", i->unit);
	if (i->key && *i->key)
		nh_json_str_known(nh_json_sub(doc, "labels"), "nhiscope_identity", i->key);
}

static void add_nhiscope(json_object *doc, const struct nh_wire_record *r)
{
	json_object *nh = nh_json_sub(doc, "nhiscope"), *o, *s;
	const struct nh_wire_identity *i = &r->identity;

	o = nh_json_sub(nh, "record");
	nh_json_str_known(o, "kind", nh_wire_kind_name(r->kind));
	nh_json_str_known(o, "node", r->id.node);
	nh_json_str_known(o, "boot_id", r->id.boot_id);
	nh_json_uint(o, "seq", r->id.seq);

	o = nh_json_sub(nh, "identity");
	nh_json_str_known(o, "key", i->key);
	nh_json_str_known(o, "source", i->source);
	if (i->source && *i->source)
		json_object_object_add(o, "verified", json_object_new_boolean(i->verified));
	nh_json_str_known(o, "service_account", i->service_account);
	nh_json_str_known(o, "pod_uid", i->pod_uid);
	s = nh_json_sub(o, "workload");
	nh_json_str_known(s, "kind", i->workload_kind);
	nh_json_str_known(s, "name", i->workload_name);
	prune(o, "workload");
	prune(nh, "identity");

	switch (r->kind) {
	case NH_WIRE_ANOMALY: {
		const struct nh_wire_anomaly *a = &r->anomaly;

		o = nh_json_sub(nh, "anomaly");
		nh_json_str_known(o, "category", nh_wire_category_name(a->category));
		nh_json_str_known(o, "severity", nh_wire_severity_name(a->severity));
		json_object_object_add(o, "rate", json_object_new_boolean(a->rate));
		nh_json_str_known(o, "value", a->value);
		s = nh_json_sub(o, "baseline");
		nh_json_uint(s, "age_seconds", a->baseline_age_ns / UINT64_C(1000000000));
		nh_json_uint(s, "items", a->baseline_items);
		if (a->rate) {
			json_object_object_add(o, "rate_observed",
					       json_object_new_double(a->rate_observed));
			json_object_object_add(o, "rate_mean",
					       json_object_new_double(a->rate_mean));
			json_object_object_add(o, "rate_stddev",
					       json_object_new_double(a->rate_stddev));
		}
		if (a->technique_id && *a->technique_id) {
			json_object *th = nh_json_sub(doc, "threat"),
				    *te = nh_json_sub(th, "technique");

			nh_json_str_known(th, "framework", "MITRE ATT&CK");
			nh_json_str_known(te, "id", a->technique_id);
			nh_json_str_known(te, "name", a->technique_name);
		}
		if (a->category == NH_WIRE_CAT_FILE || a->category == NH_WIRE_CAT_CREDENTIAL) {
			if (!a->rate && a->value[0] == '/')
				nh_json_str_known(nh_json_sub(doc, "file"), "path", a->value);
		}
		break;
	}
	case NH_WIRE_CREDENTIAL_USE: {
		const struct nh_wire_credential_use *c = &r->credential_use;

		o = nh_json_sub(nh, "credential");
		nh_json_str_known(o, "kind", c->credential_kind);
		nh_json_str_known(o, "name", c->credential);
		nh_json_str_known(o, "via", c->via);
		nh_json_int(o, "result", c->result);
		nh_json_uint(o, "count", c->count);
		if (c->credential[0] == '/')
			nh_json_str_known(nh_json_sub(doc, "file"), "path", c->credential);
		break;
	}
	case NH_WIRE_FINDING: {
		const struct nh_wire_finding *f = &r->finding;

		o = nh_json_sub(nh, "finding");
		nh_json_str_known(o, "type", nh_wire_finding_name(f->type));
		nh_json_str_known(o, "secret_kind", f->secret_kind);
		nh_json_str_known(o, "fingerprint", f->fingerprint);
		nh_json_str_known(o, "fingerprint_previous", f->fingerprint_previous);
		nh_json_str_known(o, "reason", f->reason);
		nh_json_str_known(o, "argument", f->argument);
		nh_json_str_known(o, "credential_kind", f->credential_kind);
		nh_json_str_known(o, "credential", f->credential);
		nh_json_str_known(o, "path", f->path);
		nh_json_str_known(o, "claimed_identity", f->claimed_identity);
		nh_json_str_known(o, "believed_identity", f->believed_identity);
		if (f->type == NH_WIRE_FINDING_SECRET_EXPOSURE)
			nh_json_int(o, "arg_index", f->arg_index);
		if (f->n_identities)
			json_object_object_add(o, "identities",
					       strings(f->identities, f->n_identities));
		break;
	}
	case NH_WIRE_ACTIVITY: {
		json_object *ev;

		o = nh_json_sub(nh, "activity");
		nh_json_str_known(o, "kind", nh_recordjson_kind(r));
		if (!r->activity.legacy_json) {
			/* the event as the agent's tail shows it, from the typed record */
			ev = nh_recordjson(r);
			if (ev)
				json_object_object_add(o, "event", ev);
			break;
		}
		/* Format 1 (the previous release) sent the event as the JSON
		 * text its agent rendered: the one place JSON the project wrote
		 * is read back, kept until format 1 is no longer read. */
		ev = json_tokener_parse(r->activity.legacy_json);
		if (ev && json_object_is_type(ev, json_type_object)) {
			json_object_object_add(o, "event", ev);
		} else {
			json_object_put(ev);
			nh_json_str_known(o, "raw", r->activity.legacy_json);
		}
		break;
	}
	case NH_WIRE_LOSS:
		o = nh_json_sub(nh, "loss");
		nh_json_str_known(o, "what", r->loss.what);
		nh_json_str_known(o, "source", r->loss.source);
		json_object_object_add(o, "counts", counters(r->loss.counts, r->loss.n_counts));
		if (r->loss.n_totals)
			json_object_object_add(o, "totals",
					       counters(r->loss.totals, r->loss.n_totals));
		nh_json_uint(o, "window_start_ns", r->loss.window_start_ns);
		nh_json_uint(o, "window_end_ns", r->loss.window_end_ns);
		if (r->loss.identity_cgroup_id)
			nh_json_uint(o, "identity_cgroup_id", r->loss.identity_cgroup_id);
		break;
	case NH_WIRE_FLOOD: /* issue 19 */
		o = nh_json_sub(nh, "flood");
		json_object_object_add(o, "counts", counters(r->flood.counts, r->flood.n_counts));
		nh_json_uint(o, "budget", r->flood.budget);
		nh_json_uint(o, "budget_window_ns", r->flood.budget_window_ns);
		nh_json_uint(o, "window_start_ns", r->flood.window_start_ns);
		nh_json_uint(o, "window_end_ns", r->flood.window_end_ns);
		nh_json_uint(o, "identity_cgroup_id", r->flood.identity_cgroup_id);
		break;
	case NH_WIRE_MONITORING_GAP: /* issue 19 */
		o = nh_json_sub(nh, "monitoring_gap");
		nh_json_uint(o, "start_ns", r->monitoring_gap.start_ns);
		nh_json_uint(o, "end_ns", r->monitoring_gap.end_ns);
		json_object_object_add(o, "clean_stop",
				       json_object_new_boolean(r->monitoring_gap.clean_stop));
		nh_json_str_known(o, "reason", r->monitoring_gap.reason);
		break;
	case NH_WIRE_HEARTBEAT:
		o = nh_json_sub(nh, "heartbeat");
		nh_json_str_known(o, "agent_version", r->heartbeat.agent_version);
		nh_json_int(o, "probes_attached", r->heartbeat.probes_attached);
		json_object_object_add(o, "counters",
				       counters(r->heartbeat.counters, r->heartbeat.n_counters));
		nh_json_str_known(nh_json_sub(doc, "agent"), "version", r->heartbeat.agent_version);
		break;
	default:
		break;
	}
}

json_object *nh_ecs_record(const struct nh_wire_record *r, const char *id)
{
	json_object *doc = json_object_new_object();
	char ts[40], msg[1024];

	if (!doc)
		return NULL;
	nh_ecs_timestamp(r->time_ns, ts, sizeof(ts));
	nh_json_str_known(doc, "@timestamp", ts);
	nh_json_str_known(nh_json_sub(doc, "ecs"), "version", NH_ECS_VERSION);
	nh_ecs_message(r, msg, sizeof(msg));
	nh_json_str_known(doc, "message", msg);
	add_event(doc, r, id);
	add_context(doc, r);
	add_nhiscope(doc, r);
	return doc;
}
