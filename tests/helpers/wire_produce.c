// SPDX-License-Identifier: Apache-2.0
/*
 * wire_produce: wire records as JSON lines, for tests and the demo.
 *
 *   wire_produce -b BROKERS -t TOPIC [-X KEY=VALUE]...  < records.jsonl
 *       packs each line (nh_wire_pack) and produces it (idempotent,
 *       acks=all); a line {"raw": "text"} or {"raw_hex": "0a00"} is
 *       produced as those bytes, unpacked, for garbage tests. Prints "delivered N" at the end and
 *       exits non-zero when any record failed.
 *   wire_produce --encode < records.jsonl > stream
 *   wire_produce --decode < stream
 *       stream: records framed as kcat -f '%R%s' writes them (a 32-bit
 *       big-endian length, -1 for none, then the bytes); --decode prints
 *       each as a JSON line, or {"error": WHY} when it does not unpack.
 *
 * The JSON mirrors struct nh_wire_record: {"node", "boot_id", "seq",
 * "time_ns", "kind", "identity": {...}, "process": {...}, and an object
 * named after the kind ("anomaly", "credential_use", "finding",
 * "activity", "loss", "heartbeat")}; enums by name ("exec", "high",
 * "secret_exposure"), counters as {"name": value}. --decode adds
 * "format" (1: a record of the previous release).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <librdkafka/rdkafka.h>

#include "jsonw.h"
#include "wire.h"

static uint8_t packed[NH_WIRE_MAX];

static const char *str(json_object *o, const char *k)
{
	json_object *v;

	return o && json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static uint64_t u64(json_object *o, const char *k)
{
	json_object *v;

	return o && json_object_object_get_ex(o, k, &v) ? json_object_get_uint64(v) : 0;
}

static int64_t i64(json_object *o, const char *k)
{
	json_object *v;

	return o && json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

static double dbl(json_object *o, const char *k)
{
	json_object *v;

	return o && json_object_object_get_ex(o, k, &v) ? json_object_get_double(v) : 0;
}

static json_object *obj(json_object *o, const char *k)
{
	json_object *v;

	return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static bool flag(json_object *o, const char *k)
{
	return obj(o, k) && json_object_get_boolean(obj(o, k));
}

static size_t counters_in(json_object *o, struct nh_wire_counter *c)
{
	size_t n = 0;

	if (!o)
		return 0;
	json_object_object_foreach (o, k, v) {
		if (n == NH_WIRE_COUNTERS_MAX)
			break;
		c[n].name = k;
		c[n].value = json_object_get_uint64(v);
		n++;
	}
	return n;
}

/* Strings stay owned by doc. */
static int from_json(json_object *doc, struct nh_wire_record *r)
{
	json_object *i = obj(doc, "identity"), *p = obj(doc, "process"), *b;
	int kind = nh_wire_kind_parse(str(doc, "kind"));

	memset(r, 0, sizeof(*r));
	if (kind < 0)
		return -EINVAL;
	r->kind = kind;
	r->id.node = str(doc, "node");
	r->id.boot_id = str(doc, "boot_id");
	r->id.seq = u64(doc, "seq");
	r->time_ns = u64(doc, "time_ns");
	r->site.cluster = str(doc, "cluster");
	b = obj(doc, "labels");
	if (b) {
		json_object_object_foreach (b, lk, lv) {
			if (r->site.n_labels == NH_WIRE_LABELS_MAX)
				return -EINVAL;
			r->site.labels[r->site.n_labels].key = lk;
			r->site.labels[r->site.n_labels++].value = json_object_get_string(lv);
		}
	}
	r->identity.key = str(i, "key");
	r->identity.pod_uid = str(i, "pod_uid");
	r->identity.pod_name = str(i, "pod_name");
	r->identity.namespace = str(i, "namespace");
	r->identity.service_account = str(i, "service_account");
	r->identity.container_id = str(i, "container_id");
	r->identity.unit = str(i, "unit");
	r->identity.workload_kind = str(i, "workload_kind");
	r->identity.workload_name = str(i, "workload_name");
	r->identity.node = str(i, "node");
	r->identity.source = str(i, "source");
	r->identity.verified = obj(i, "verified") && json_object_get_boolean(obj(i, "verified"));
	r->process.pid = (uint32_t)u64(p, "pid");
	r->process.ppid = (uint32_t)u64(p, "ppid");
	r->process.uid = (uint32_t)u64(p, "uid");
	r->process.user = str(p, "user");
	r->process.comm = str(p, "comm");
	r->process.exe = str(p, "exe");
	r->process.tid = (uint32_t)u64(p, "tid");
	r->process.start_ms = u64(p, "start_ms");
	r->process.gid = (uint32_t)u64(p, "gid");
	r->process.mntns = u64(p, "mntns");
	r->process.cgroup_id = u64(p, "cgroup_id");
	r->process.interactive = flag(p, "interactive");
	r->process.repeat = flag(p, "repeat");
	if ((b = obj(i, "context"))) {
		struct nh_wire_context *c = &r->identity.context;
		json_object *t = obj(b, "token");

		c->cgroup = str(b, "cgroup");
		c->cgroup_kind = str(b, "cgroup_kind");
		c->delegated = flag(b, "delegated");
		c->qos = str(b, "qos");
		c->runtime = str(b, "runtime");
		c->user_unit = flag(b, "user_unit");
		c->token_state = str(b, "token_state");
		if (t) {
			c->has_token = true;
			c->token.fingerprint = str(t, "fingerprint");
			c->token.issued_at = i64(t, "issued_at");
			c->token.expires_at = i64(t, "expires_at");
			c->token.long_lived = flag(t, "long_lived");
			c->token.legacy = flag(t, "legacy");
		}
	}
	b = obj(doc, nh_wire_kind_name(r->kind));
	switch (r->kind) {
	case NH_WIRE_ANOMALY:
		r->anomaly.category = nh_wire_category_parse(str(b, "category"));
		r->anomaly.severity = nh_wire_severity_parse(str(b, "severity"));
		r->anomaly.rate = obj(b, "rate") && json_object_get_boolean(obj(b, "rate"));
		r->anomaly.value = str(b, "value");
		r->anomaly.technique_id = str(b, "technique_id");
		r->anomaly.technique_name = str(b, "technique_name");
		r->anomaly.explanation = str(b, "explanation");
		r->anomaly.baseline_age_ns = u64(b, "baseline_age_ns");
		r->anomaly.baseline_items = u64(b, "baseline_items");
		r->anomaly.rate_observed = dbl(b, "rate_observed");
		r->anomaly.rate_mean = dbl(b, "rate_mean");
		r->anomaly.rate_stddev = dbl(b, "rate_stddev");
		break;
	case NH_WIRE_CREDENTIAL_USE:
		r->credential_use.credential_kind = str(b, "credential_kind");
		r->credential_use.credential = str(b, "credential");
		r->credential_use.via = str(b, "via");
		r->credential_use.repeats = flag(b, "repeats");
		r->credential_use.result = i64(b, "result");
		r->credential_use.count = u64(b, "count");
		r->credential_use.path = str(b, "path");
		r->credential_use.path_truncated = flag(b, "path_truncated");
		r->credential_use.matched_by = str(b, "matched_by");
		break;
	case NH_WIRE_FINDING: {
		json_object *ids = obj(b, "identities");

		r->finding.type = nh_wire_finding_parse(str(b, "type"));
		r->finding.secret_kind = str(b, "secret_kind");
		r->finding.fingerprint = str(b, "fingerprint");
		r->finding.fingerprint_previous = str(b, "fingerprint_previous");
		r->finding.reason = str(b, "reason");
		r->finding.argument = str(b, "argument");
		r->finding.credential_kind = str(b, "credential_kind");
		r->finding.credential = str(b, "credential");
		r->finding.path = str(b, "path");
		r->finding.claimed_identity = str(b, "claimed_identity");
		r->finding.believed_identity = str(b, "believed_identity");
		r->finding.arg_index = (int32_t)i64(b, "arg_index");
		r->finding.identities_unlisted = u64(b, "identities_unlisted");
		r->finding.session_pid = (uint32_t)u64(b, "session_pid");
		r->finding.tty = flag(b, "tty");
		r->finding.entered_namespace = flag(b, "entered_namespace");
		for (size_t k = 0;
		     ids && k < json_object_array_length(ids) && k < NH_WIRE_IDENTITIES_MAX; k++)
			r->finding.identities[r->finding.n_identities++] =
			    json_object_get_string(json_object_array_get_idx(ids, k));
		break;
	}
	case NH_WIRE_ACTIVITY: {
		struct nh_wire_activity *a = &r->activity;
		json_object *args = obj(b, "args"), *x;
		int e = nh_wire_event_parse(str(b, "event"));

		a->event = e > 0 ? (enum nh_wire_event)e : NH_WIRE_EV_NONE;
		a->kind = str(b, "kind");
		a->syscall = str(b, "syscall");
		a->path = str(b, "path");
		for (size_t k = 0;
		     args && k < json_object_array_length(args) && k < NH_WIRE_ARGS_MAX; k++)
			a->args[a->n_args++] =
			    json_object_get_string(json_object_array_get_idx(args, k));
		a->secrets_redacted = (uint32_t)u64(b, "secrets_redacted");
		a->ns_pid = (uint32_t)u64(b, "ns_pid");
		a->tty = flag(b, "tty");
		a->entered_namespace = flag(b, "entered_namespace");
		a->child_pid = (uint32_t)u64(b, "child_pid");
		a->exit_code = (int32_t)i64(b, "exit_code");
		a->signal = (int32_t)i64(b, "signal");
		a->ipv6 = flag(b, "ipv6");
		a->address = str(b, "address");
		a->port = (uint32_t)u64(b, "port");
		a->local_port = (uint32_t)u64(b, "local_port");
		a->fd = (int32_t)i64(b, "fd");
		a->dirfd = (int32_t)i64(b, "dirfd");
		a->flags = (uint32_t)u64(b, "flags");
		a->mode = (uint32_t)u64(b, "mode");
		a->result = i64(b, "result");
		if ((x = obj(b, "old_ids")))
			a->old_ids = (struct nh_wire_ids){(uint32_t)u64(x, "real"),
							  (uint32_t)u64(x, "effective"),
							  (uint32_t)u64(x, "saved")};
		if ((x = obj(b, "new_ids")))
			a->new_ids = (struct nh_wire_ids){(uint32_t)u64(x, "real"),
							  (uint32_t)u64(x, "effective"),
							  (uint32_t)u64(x, "saved")};
		if ((x = obj(b, "old_caps")))
			a->old_caps = (struct nh_wire_caps){
			    u64(x, "effective"), u64(x, "permitted"), u64(x, "inheritable")};
		if ((x = obj(b, "new_caps")))
			a->new_caps = (struct nh_wire_caps){
			    u64(x, "effective"), u64(x, "permitted"), u64(x, "inheritable")};
		e = nh_wire_event_parse(str(b, "of"));
		a->of = e > 0 ? (enum nh_wire_event)e : NH_WIRE_EV_NONE;
		a->count = u64(b, "count");
		a->object = str(b, "object");
		a->window_start_ns = u64(b, "window_start_ns");
		a->path_truncated = flag(b, "path_truncated");
		a->args_truncated = flag(b, "args_truncated");
		a->args_bytes = u64(b, "args_bytes");
		a->deduplicated = flag(b, "deduplicated");
		a->via = str(b, "via");
		a->device = u64(b, "device");
		a->inode = u64(b, "inode");
		a->euid = (uint32_t)u64(b, "euid");
		a->egid = (uint32_t)u64(b, "egid");
		a->cap_effective = u64(b, "cap_effective");
		a->cap_permitted = u64(b, "cap_permitted");
		a->privileged_exec = flag(b, "privileged_exec");
		a->compat32 = flag(b, "compat32");
		a->user_address = flag(b, "user_address");
		a->result_unknown = flag(b, "result_unknown");
		a->target_pid = (uint32_t)u64(b, "target_pid");
		a->op = u64(b, "op");
		a->op_name = str(b, "op_name");
		a->msg_index = (uint32_t)u64(b, "msg_index");
		a->sock_type = str(b, "sock_type");
		a->credential = str(b, "credential");
		a->credential_kind = str(b, "credential_kind");
		break;
	}
	case NH_WIRE_LOSS:
		r->loss.source = str(b, "source");
		r->loss.n_totals = counters_in(obj(b, "totals"), r->loss.totals);
		r->loss.what = str(b, "what");
		r->loss.window_start_ns = u64(b, "window_start_ns");
		r->loss.window_end_ns = u64(b, "window_end_ns");
		r->loss.n_counts = counters_in(obj(b, "counts"), r->loss.counts);
		r->loss.identity_cgroup_id = u64(b, "identity_cgroup_id");
		break;
	case NH_WIRE_FLOOD:
		r->flood.window_start_ns = u64(b, "window_start_ns");
		r->flood.window_end_ns = u64(b, "window_end_ns");
		r->flood.n_counts = counters_in(obj(b, "counts"), r->flood.counts);
		r->flood.budget = u64(b, "budget");
		r->flood.budget_window_ns = u64(b, "budget_window_ns");
		r->flood.identity_cgroup_id = u64(b, "identity_cgroup_id");
		break;
	case NH_WIRE_MONITORING_GAP:
		r->monitoring_gap.start_ns = u64(b, "start_ns");
		r->monitoring_gap.end_ns = u64(b, "end_ns");
		r->monitoring_gap.clean_stop = flag(b, "clean_stop");
		r->monitoring_gap.reason = str(b, "reason");
		break;
	case NH_WIRE_HEARTBEAT:
		r->heartbeat.agent_version = str(b, "agent_version");
		r->heartbeat.probes_attached = (uint32_t)u64(b, "probes_attached");
		r->heartbeat.n_counters = counters_in(obj(b, "counters"), r->heartbeat.counters);
		break;
	default:
		break;
	}
	return 0;
}

static void put(json_object *o, const char *k, const char *v)
{
	if (v && *v)
		json_object_object_add(o, k, json_object_new_string(v));
}

static void put_u64(json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

static json_object *counters_out(const struct nh_wire_counter *c, size_t n)
{
	json_object *o = json_object_new_object();

	for (size_t i = 0; i < n; i++)
		put_u64(o, c[i].name, c[i].value);
	return o;
}

static void put_bool(json_object *o, const char *k, bool v)
{
	if (v)
		json_object_object_add(o, k, json_object_new_boolean(true));
}

static void put_i64(json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

static json_object *ids_out(const struct nh_wire_ids *ids)
{
	json_object *o = json_object_new_object();

	put_u64(o, "real", ids->real);
	put_u64(o, "effective", ids->effective);
	put_u64(o, "saved", ids->saved);
	return o;
}

static json_object *caps_out(const struct nh_wire_caps *c)
{
	json_object *o = json_object_new_object();

	put_u64(o, "effective", c->effective);
	put_u64(o, "permitted", c->permitted);
	put_u64(o, "inheritable", c->inheritable);
	return o;
}

static json_object *to_json(const struct nh_wire_record *r)
{
	json_object *doc = json_object_new_object(), *i = json_object_new_object(),
		    *p = json_object_new_object(), *b = json_object_new_object();

	put(doc, "kind", nh_wire_kind_name(r->kind));
	put(doc, "node", r->id.node);
	put(doc, "boot_id", r->id.boot_id);
	put_u64(doc, "seq", r->id.seq);
	put_u64(doc, "time_ns", r->time_ns);
	put(doc, "cluster", r->site.cluster);
	if (r->site.n_labels) {
		json_object *l = json_object_new_object();

		for (size_t k = 0; k < r->site.n_labels; k++)
			put(l, r->site.labels[k].key, r->site.labels[k].value);
		json_object_object_add(doc, "labels", l);
	}
	put(i, "key", r->identity.key);
	put(i, "pod_uid", r->identity.pod_uid);
	put(i, "pod_name", r->identity.pod_name);
	put(i, "namespace", r->identity.namespace);
	put(i, "service_account", r->identity.service_account);
	put(i, "container_id", r->identity.container_id);
	put(i, "unit", r->identity.unit);
	put(i, "workload_kind", r->identity.workload_kind);
	put(i, "workload_name", r->identity.workload_name);
	put(i, "node", r->identity.node);
	put(i, "source", r->identity.source);
	json_object_object_add(i, "verified", json_object_new_boolean(r->identity.verified));
	if (r->identity.context.cgroup_kind && *r->identity.context.cgroup_kind) {
		const struct nh_wire_context *c = &r->identity.context;
		json_object *cx = json_object_new_object();

		put(cx, "cgroup", c->cgroup);
		put(cx, "cgroup_kind", c->cgroup_kind);
		put_bool(cx, "delegated", c->delegated);
		put(cx, "qos", c->qos);
		put(cx, "runtime", c->runtime);
		put_bool(cx, "user_unit", c->user_unit);
		put(cx, "token_state", c->token_state);
		if (c->has_token) {
			json_object *t = json_object_new_object();

			put(t, "fingerprint", c->token.fingerprint);
			put_i64(t, "issued_at", c->token.issued_at);
			put_i64(t, "expires_at", c->token.expires_at);
			put_bool(t, "long_lived", c->token.long_lived);
			put_bool(t, "legacy", c->token.legacy);
			json_object_object_add(cx, "token", t);
		}
		json_object_object_add(i, "context", cx);
	}
	json_object_object_add(doc, "identity", i);
	put_u64(doc, "format", r->format);
	put_u64(p, "pid", r->process.pid);
	put_u64(p, "ppid", r->process.ppid);
	put_u64(p, "uid", r->process.uid);
	put(p, "user", r->process.user);
	put(p, "comm", r->process.comm);
	put(p, "exe", r->process.exe);
	put_u64(p, "tid", r->process.tid);
	put_u64(p, "start_ms", r->process.start_ms);
	put_u64(p, "gid", r->process.gid);
	put_u64(p, "mntns", r->process.mntns);
	put_u64(p, "cgroup_id", r->process.cgroup_id);
	put_bool(p, "interactive", r->process.interactive);
	put_bool(p, "repeat", r->process.repeat);
	json_object_object_add(doc, "process", p);
	switch (r->kind) {
	case NH_WIRE_ANOMALY:
		put(b, "category", nh_wire_category_name(r->anomaly.category));
		put(b, "severity", nh_wire_severity_name(r->anomaly.severity));
		json_object_object_add(b, "rate", json_object_new_boolean(r->anomaly.rate));
		put(b, "value", r->anomaly.value);
		put(b, "technique_id", r->anomaly.technique_id);
		put(b, "technique_name", r->anomaly.technique_name);
		put(b, "explanation", r->anomaly.explanation);
		put_u64(b, "baseline_age_ns", r->anomaly.baseline_age_ns);
		put_u64(b, "baseline_items", r->anomaly.baseline_items);
		json_object_object_add(b, "rate_observed",
				       json_object_new_double(r->anomaly.rate_observed));
		json_object_object_add(b, "rate_mean",
				       json_object_new_double(r->anomaly.rate_mean));
		json_object_object_add(b, "rate_stddev",
				       json_object_new_double(r->anomaly.rate_stddev));
		break;
	case NH_WIRE_CREDENTIAL_USE:
		put(b, "credential_kind", r->credential_use.credential_kind);
		put(b, "credential", r->credential_use.credential);
		put(b, "via", r->credential_use.via);
		json_object_object_add(b, "result",
				       json_object_new_int64(r->credential_use.result));
		put_u64(b, "count", r->credential_use.count);
		put_bool(b, "repeats", r->credential_use.repeats);
		put(b, "path", r->credential_use.path);
		put_bool(b, "path_truncated", r->credential_use.path_truncated);
		put(b, "matched_by", r->credential_use.matched_by);
		break;
	case NH_WIRE_FINDING: {
		json_object *ids = json_object_new_array();

		put(b, "type", nh_wire_finding_name(r->finding.type));
		put(b, "secret_kind", r->finding.secret_kind);
		put(b, "fingerprint", r->finding.fingerprint);
		put(b, "fingerprint_previous", r->finding.fingerprint_previous);
		put(b, "reason", r->finding.reason);
		put(b, "argument", r->finding.argument);
		put(b, "credential_kind", r->finding.credential_kind);
		put(b, "claimed_identity", r->finding.claimed_identity);
		put(b, "believed_identity", r->finding.believed_identity);
		put(b, "credential", r->finding.credential);
		put(b, "path", r->finding.path);
		json_object_object_add(b, "arg_index", json_object_new_int(r->finding.arg_index));
		put_u64(b, "identities_unlisted", r->finding.identities_unlisted);
		put_u64(b, "session_pid", r->finding.session_pid);
		put_bool(b, "tty", r->finding.tty);
		put_bool(b, "entered_namespace", r->finding.entered_namespace);
		for (size_t k = 0; k < r->finding.n_identities; k++)
			json_object_array_add(ids,
					      json_object_new_string(r->finding.identities[k]));
		json_object_object_add(b, "identities", ids);
		break;
	}
	case NH_WIRE_ACTIVITY: {
		const struct nh_wire_activity *a = &r->activity;
		json_object *args = json_object_new_array();

		put(b, "event", nh_wire_event_name(a->event));
		put(b, "kind", a->kind);
		put(b, "legacy_json", a->legacy_json);
		put(b, "syscall", a->syscall);
		put(b, "path", a->path);
		for (size_t k = 0; k < a->n_args; k++)
			json_object_array_add(args, json_object_new_string(a->args[k]));
		json_object_object_add(b, "args", args);
		put_u64(b, "secrets_redacted", a->secrets_redacted);
		put_u64(b, "ns_pid", a->ns_pid);
		put_bool(b, "tty", a->tty);
		put_bool(b, "entered_namespace", a->entered_namespace);
		put_u64(b, "child_pid", a->child_pid);
		put_i64(b, "exit_code", a->exit_code);
		put_i64(b, "signal", a->signal);
		put_bool(b, "ipv6", a->ipv6);
		put(b, "address", a->address);
		put_u64(b, "port", a->port);
		put_u64(b, "local_port", a->local_port);
		put_i64(b, "fd", a->fd);
		put_i64(b, "dirfd", a->dirfd);
		put_u64(b, "flags", a->flags);
		put_u64(b, "mode", a->mode);
		put_i64(b, "result", a->result);
		json_object_object_add(b, "old_ids", ids_out(&a->old_ids));
		json_object_object_add(b, "new_ids", ids_out(&a->new_ids));
		json_object_object_add(b, "old_caps", caps_out(&a->old_caps));
		json_object_object_add(b, "new_caps", caps_out(&a->new_caps));
		if (a->of)
			put(b, "of", nh_wire_event_name(a->of));
		put_u64(b, "count", a->count);
		put(b, "object", a->object);
		put_u64(b, "window_start_ns", a->window_start_ns);
		put_bool(b, "path_truncated", a->path_truncated);
		put_bool(b, "args_truncated", a->args_truncated);
		put_u64(b, "args_bytes", a->args_bytes);
		put_bool(b, "deduplicated", a->deduplicated);
		put(b, "via", a->via);
		put_u64(b, "device", a->device);
		put_u64(b, "inode", a->inode);
		put_u64(b, "euid", a->euid);
		put_u64(b, "egid", a->egid);
		put_u64(b, "cap_effective", a->cap_effective);
		put_u64(b, "cap_permitted", a->cap_permitted);
		put_bool(b, "privileged_exec", a->privileged_exec);
		put_bool(b, "compat32", a->compat32);
		put_bool(b, "user_address", a->user_address);
		put_bool(b, "result_unknown", a->result_unknown);
		put_u64(b, "target_pid", a->target_pid);
		put_u64(b, "op", a->op);
		put(b, "op_name", a->op_name);
		put_u64(b, "msg_index", a->msg_index);
		put(b, "sock_type", a->sock_type);
		put(b, "credential", a->credential);
		put(b, "credential_kind", a->credential_kind);
		break;
	}
	case NH_WIRE_LOSS:
		put(b, "source", r->loss.source);
		json_object_object_add(b, "totals", counters_out(r->loss.totals, r->loss.n_totals));
		put(b, "what", r->loss.what);
		put_u64(b, "window_start_ns", r->loss.window_start_ns);
		put_u64(b, "window_end_ns", r->loss.window_end_ns);
		json_object_object_add(b, "counts", counters_out(r->loss.counts, r->loss.n_counts));
		put_u64(b, "identity_cgroup_id", r->loss.identity_cgroup_id);
		break;
	case NH_WIRE_FLOOD:
		put_u64(b, "window_start_ns", r->flood.window_start_ns);
		put_u64(b, "window_end_ns", r->flood.window_end_ns);
		json_object_object_add(b, "counts",
				       counters_out(r->flood.counts, r->flood.n_counts));
		put_u64(b, "budget", r->flood.budget);
		put_u64(b, "budget_window_ns", r->flood.budget_window_ns);
		put_u64(b, "identity_cgroup_id", r->flood.identity_cgroup_id);
		break;
	case NH_WIRE_MONITORING_GAP:
		put_u64(b, "start_ns", r->monitoring_gap.start_ns);
		put_u64(b, "end_ns", r->monitoring_gap.end_ns);
		put_bool(b, "clean_stop", r->monitoring_gap.clean_stop);
		put(b, "reason", r->monitoring_gap.reason);
		break;
	case NH_WIRE_HEARTBEAT:
		put(b, "agent_version", r->heartbeat.agent_version);
		put_u64(b, "probes_attached", r->heartbeat.probes_attached);
		json_object_object_add(
		    b, "counters", counters_out(r->heartbeat.counters, r->heartbeat.n_counters));
		break;
	default:
		break;
	}
	json_object_object_add(doc, nh_wire_kind_name(r->kind), b);
	return doc;
}

/* One input line as bytes to send: a packed record, or the raw text. */
static int encode(const char *line, size_t *len, const char **why)
{
	json_object *doc = json_tokener_parse(line);
	struct nh_wire_record r;
	const char *raw;
	int rc;

	*why = "not a JSON object";
	if (!doc || !json_object_is_type(doc, json_type_object)) {
		json_object_put(doc);
		return -EINVAL;
	}
	raw = str(doc, "raw");
	if (raw) {
		*len = strlen(raw) < sizeof(packed) ? strlen(raw) : sizeof(packed);
		memcpy(packed, raw, *len);
		rc = 0;
	} else if ((raw = str(doc, "raw_hex"))) {
		*why = "bad raw_hex";
		rc = 0;
		for (*len = 0; !rc && raw[2 * *len] && *len < sizeof(packed); (*len)++) {
			unsigned v;

			if (sscanf(raw + 2 * *len, "%2x", &v) != 1)
				rc = -EINVAL;
			packed[*len] = (uint8_t)v;
		}
	} else if ((rc = from_json(doc, &r)) == 0) {
		rc = nh_wire_check(&r, why);
		if (!rc)
			rc = nh_wire_pack(&r, packed, sizeof(packed), len);
		if (rc == -EMSGSIZE)
			*why = "too large";
	} else {
		*why = "unknown kind";
	}
	json_object_put(doc);
	return rc;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	long *failed = opaque;

	(void)rk;
	if (m->err) {
		fprintf(stderr, "wire_produce: delivery: %s\n", rd_kafka_err2str(m->err));
		(*failed)++;
	}
}

static int produce(const char *brokers, const char *topic, char **props, int nprops)
{
	char errstr[512], *line = NULL;
	size_t cap = 0;
	long sent = 0, failed = 0;
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;
	ssize_t n;

	if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof(errstr)) ||
	    rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, sizeof(errstr)) ||
	    rd_kafka_conf_set(conf, "acks", "all", errstr, sizeof(errstr))) {
		fprintf(stderr, "wire_produce: %s\n", errstr);
		return 1;
	}
	for (int i = 0; i < nprops; i++) {
		char *eq = strchr(props[i], '=');

		if (!eq) {
			fprintf(stderr, "wire_produce: -X %s: expected KEY=VALUE\n", props[i]);
			return 1;
		}
		*eq = '\0';
		if (rd_kafka_conf_set(conf, props[i], eq + 1, errstr, sizeof(errstr))) {
			fprintf(stderr, "wire_produce: %s\n", errstr);
			return 1;
		}
	}
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_opaque(conf, &failed);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		fprintf(stderr, "wire_produce: %s\n", errstr);
		return 1;
	}
	while ((n = getline(&line, &cap, stdin)) > 0) {
		const char *why = NULL;
		size_t len = 0;
		rd_kafka_resp_err_t err;

		line[strcspn(line, "\n")] = '\0';
		if (!*line)
			continue;
		if (encode(line, &len, &why)) {
			fprintf(stderr, "wire_produce: bad record (%s): %s\n", why, line);
			failed++;
			continue;
		}
		do {
			err = rd_kafka_producev(
			    rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(packed, len),
			    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
			if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
				rd_kafka_poll(rk, 100);
		} while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
		if (err) {
			fprintf(stderr, "wire_produce: produce: %s\n", rd_kafka_err2str(err));
			failed++;
			continue;
		}
		sent++;
		rd_kafka_poll(rk, 0);
	}
	free(line);
	if (rd_kafka_flush(rk, 60000)) {
		fprintf(stderr, "wire_produce: flush timed out\n");
		failed++;
	}
	rd_kafka_destroy(rk);
	printf("delivered %ld\n", sent - (failed > sent ? sent : failed));
	return failed ? 1 : 0;
}

static int encode_stream(void)
{
	char *line = NULL;
	size_t cap = 0;
	int rc = 0;

	while (getline(&line, &cap, stdin) > 0) {
		const char *why = NULL;
		size_t len = 0;
		uint32_t be;

		line[strcspn(line, "\n")] = '\0';
		if (!*line)
			continue;
		if (encode(line, &len, &why)) {
			fprintf(stderr, "wire_produce: bad record (%s): %s\n", why, line);
			rc = 1;
			continue;
		}
		be = htonl((uint32_t)len);
		fwrite(&be, 4, 1, stdout);
		fwrite(packed, 1, len, stdout);
	}
	free(line);
	return rc;
}

static int decode_stream(void)
{
	uint32_t be;

	while (fread(&be, 4, 1, stdin) == 1) {
		int32_t len = (int32_t)ntohl(be);
		struct nh_wire_record r;
		const char *why = NULL;
		json_object *doc;

		if (len < 0) {
			len = 0; /* a null payload */
		} else if ((size_t)len > sizeof(packed) ||
			   fread(packed, 1, len, stdin) != (size_t)len) {
			fprintf(stderr, "wire_produce: truncated stream\n");
			return 1;
		}
		if (nh_wire_unpack(packed, len, &r, &why)) {
			doc = json_object_new_object();
			json_object_object_add(doc, "error", json_object_new_string(why));
			json_object_object_add(doc, "len", json_object_new_int(len));
		} else {
			doc = to_json(&r);
			nh_wire_free(&r);
		}
		puts(json_object_to_json_string_ext(doc, NH_JSON_FLAGS));
		json_object_put(doc);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *brokers = NULL, *topic = NULL;
	char *props[32];
	int nprops = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--encode") == 0)
			return encode_stream();
		if (strcmp(argv[i], "--decode") == 0)
			return decode_stream();
		if (strcmp(argv[i], "-b") == 0 && i + 1 < argc)
			brokers = argv[++i];
		else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
			topic = argv[++i];
		else if (strcmp(argv[i], "-X") == 0 && i + 1 < argc && nprops < 32)
			props[nprops++] = argv[++i];
		else
			goto usage;
	}
	if (brokers && topic)
		return produce(brokers, topic, props, nprops);
usage:
	fprintf(stderr, "usage: wire_produce -b BROKERS -t TOPIC [-X KEY=VALUE]... < jsonl\n"
			"       wire_produce --encode < jsonl > stream\n"
			"       wire_produce --decode < stream\n");
	return 2;
}
