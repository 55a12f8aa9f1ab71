// SPDX-License-Identifier: Apache-2.0
#include "recordjson.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "jsonw.h"

void nh_recordjson_open_flags(uint32_t flags, char *buf, size_t len)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} bits[] = {
	    {O_CREAT, "O_CREAT"},	{O_EXCL, "O_EXCL"},	  {O_NOCTTY, "O_NOCTTY"},
	    {O_TRUNC, "O_TRUNC"},	{O_APPEND, "O_APPEND"},	  {O_NONBLOCK, "O_NONBLOCK"},
	    {O_DSYNC, "O_DSYNC"},	{O_DIRECT, "O_DIRECT"},	  {O_DIRECTORY, "O_DIRECTORY"},
	    {O_NOFOLLOW, "O_NOFOLLOW"}, {O_NOATIME, "O_NOATIME"}, {O_CLOEXEC, "O_CLOEXEC"},
	    {O_PATH, "O_PATH"},
	};
	static const char *const acc[] = {"O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"};
	size_t n = snprintf(buf, len, "%s", acc[flags & O_ACCMODE]);

	/* O_TMPFILE and O_SYNC contain O_DIRECTORY and O_DSYNC: name the
	 * composite and clear its bits so the part is not named again. */
	if ((flags & O_TMPFILE) == O_TMPFILE && n < len) {
		n += snprintf(buf + n, len - n, "|O_TMPFILE");
		flags &= ~O_TMPFILE;
	}
	if ((flags & O_SYNC) == O_SYNC && n < len) {
		n += snprintf(buf + n, len - n, "|O_SYNC");
		flags &= ~O_SYNC;
	}
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]) && n < len; i++)
		if ((flags & bits[i].bit) == bits[i].bit)
			n += snprintf(buf + n, len - n, "|%s", bits[i].name);
}

const char *nh_recordjson_kind(const struct nh_wire_record *r)
{
	switch (r->kind) {
	case NH_WIRE_ACTIVITY:
		return r->activity.kind && *r->activity.kind
			   ? r->activity.kind
			   : nh_wire_event_name(r->activity.event);
	case NH_WIRE_FINDING:
		return nh_wire_finding_name(r->finding.type);
	default:
		return nh_wire_kind_name(r->kind);
	}
}

static bool known(const char *s)
{
	return s && *s;
}

static void add_bool(json_object *o, const char *k, bool v)
{
	json_object_object_add(o, k, json_object_new_boolean(v));
}

static void add_time(json_object *o, const char *k, uint64_t unix_ns)
{
	char ts[40];

	nh_clock_format(unix_ns, 6, ts, sizeof(ts));
	nh_json_str(o, k, ts);
}

/* The token's timing, never the token: when it was issued, when it
 * expires, how old it is and how long it has left at the event. */
static json_object *token_object(const struct nh_wire_context *c, int64_t now)
{
	const struct nh_wire_token *t = &c->token;
	json_object *o = json_object_new_object();

	nh_json_str(o, "state", c->token_state ? c->token_state : "");
	nh_json_str(o, "fingerprint", t->fingerprint ? t->fingerprint : "");
	if (t->issued_at) {
		nh_json_int(o, "issued_at", t->issued_at);
		nh_json_int(o, "age_s", now - t->issued_at);
	}
	if (t->long_lived) {
		add_bool(o, "long_lived", true);
	} else {
		int64_t left;

		nh_json_int(o, "expires_at", t->expires_at);
		if (__builtin_sub_overflow(t->expires_at, now, &left))
			left = now < 0 ? INT64_MAX : INT64_MIN;
		nh_json_int(o, "remaining_s", left);
	}
	if (t->legacy)
		add_bool(o, "legacy", true);
	return o;
}

static void add_context(json_object *o, const struct nh_wire_record *r)
{
	const struct nh_wire_identity *id = &r->identity;
	const struct nh_wire_context *cx = &id->context;
	json_object *c;

	if (!known(cx->cgroup_kind))
		return;
	c = json_object_new_object();
	nh_json_str(c, "cgroup", cx->cgroup ? cx->cgroup : "");
	nh_json_str(c, "kind", cx->cgroup_kind);
	if (cx->delegated)
		add_bool(c, "delegated", true);
	nh_json_str_known(c, "pod_uid", id->pod_uid);
	nh_json_str_known(c, "qos", cx->qos);
	if (known(id->container_id)) {
		nh_json_str(c, "container_id", id->container_id);
		nh_json_str(c, "runtime", cx->runtime ? cx->runtime : "");
	}
	if (known(id->unit)) {
		nh_json_str(c, "unit", id->unit);
		if (cx->user_unit)
			add_bool(c, "user_unit", true);
	}
	nh_json_str_known(c, "namespace", id->namespace);
	nh_json_str_known(c, "service_account", id->service_account);
	nh_json_str_known(c, "pod", id->pod_name);
	nh_json_str_known(c, "node", id->node);
	if (cx->has_token)
		json_object_object_add(c, "token",
				       token_object(cx, (int64_t)(r->time_ns / NH_NSEC_PER_SEC)));
	else
		nh_json_str_known(c, "token_state", cx->token_state);
	if (known(id->workload_kind) && known(id->workload_name)) {
		nh_json_str(c, "workload_kind", id->workload_kind);
		nh_json_str(c, "workload", id->workload_name);
	}
	json_object_object_add(o, "context", c);
}

/* Time, kind, process, identity and context: what every record made
 * from a kernel event carries; records of no process (rate anomalies,
 * losses) only their identity. */
static json_object *attribution(const struct nh_wire_record *r)
{
	const struct nh_wire_process *p = &r->process;
	json_object *o = json_object_new_object();
	bool proc = p->pid || r->kind == NH_WIRE_ACTIVITY;

	if (!o)
		return NULL;
	add_time(o, "time", r->time_ns);
	nh_json_str(o, "kind", nh_recordjson_kind(r));
	if (proc) {
		nh_json_int(o, "pid", p->pid);
		nh_json_int(o, "tid", p->tid);
		if (!p->repeat) {
			nh_json_int(o, "ppid", p->ppid);
			nh_json_int(o, "gid", p->gid);
			nh_json_int(o, "mntns", (int64_t)p->mntns);
			nh_json_str(o, "comm", p->comm ? p->comm : "");
		}
		nh_json_int(o, "uid", p->uid);
		nh_json_str_known(o, "user", p->user);
		nh_json_str_known(o, "exe", p->exe);
	}
	nh_json_str_known(o, "identity", r->identity.key);
	/* release 1's records say neither */
	if (known(r->identity.source)) {
		nh_json_str(o, "identity_source", r->identity.source);
		add_bool(o, "identity_verified", r->identity.verified);
	}
	if (proc) {
		nh_json_int(o, "cgroup_id", (int64_t)p->cgroup_id);
		if (p->interactive)
			add_bool(o, "interactive", true);
		add_context(o, r);
	}
	return o;
}

static json_object *ids_object(const struct nh_wire_ids *ids)
{
	json_object *o = json_object_new_object();

	nh_json_int(o, "real", ids->real);
	nh_json_int(o, "effective", ids->effective);
	nh_json_int(o, "saved", ids->saved);
	return o;
}

static json_object *caps_object(const struct nh_wire_caps *c)
{
	json_object *o = json_object_new_object();
	char hex[24];

	snprintf(hex, sizeof(hex), "0x%016llx", (unsigned long long)c->effective);
	nh_json_str(o, "effective", hex);
	snprintf(hex, sizeof(hex), "0x%016llx", (unsigned long long)c->permitted);
	nh_json_str(o, "permitted", hex);
	snprintf(hex, sizeof(hex), "0x%016llx", (unsigned long long)c->inheritable);
	nh_json_str(o, "inheritable", hex);
	return o;
}

static void add_address(json_object *o, const struct nh_wire_activity *a)
{
	nh_json_str(o, "family", a->ipv6 ? "ipv6" : "ipv4");
	nh_json_str(o, "address", a->address ? a->address : "");
	nh_json_int(o, "port", a->port);
}

static void add_activity(json_object *o, const struct nh_wire_record *r)
{
	const struct nh_wire_activity *a = &r->activity;
	char buf[256];

	switch (a->event) {
	case NH_WIRE_EV_EXEC: {
		json_object *args = json_object_new_array();

		nh_json_str(o, "path", a->path ? a->path : "");
		for (size_t i = 0; i < a->n_args; i++)
			json_object_array_add(args, json_object_new_string(a->args[i]));
		json_object_object_add(o, "args", args);
		if (a->secrets_redacted)
			nh_json_int(o, "secrets_redacted", a->secrets_redacted);
		/* shown in part: how much there was */
		if (a->args_bytes)
			nh_json_int(o, "args_bytes", (int64_t)a->args_bytes);
		if (a->ns_pid && a->ns_pid != r->process.pid)
			nh_json_int(o, "ns_pid", a->ns_pid);
		if (a->tty)
			add_bool(o, "tty", true);
		if (a->entered_namespace)
			add_bool(o, "entered_namespace", true);
		break;
	}
	case NH_WIRE_EV_FORK:
		nh_json_int(o, "child_pid", a->child_pid);
		break;
	case NH_WIRE_EV_EXIT:
		nh_json_int(o, "exit_code", a->exit_code);
		if (a->signal)
			nh_json_int(o, "signal", a->signal);
		break;
	case NH_WIRE_EV_CONNECT:
		add_address(o, a);
		nh_json_int(o, "fd", a->fd);
		nh_json_result(o, a->result);
		break;
	case NH_WIRE_EV_ACCEPT:
		nh_json_str(o, "syscall", a->syscall ? a->syscall : "");
		if (a->result >= 0) {
			add_address(o, a);
			nh_json_int(o, "local_port", a->local_port);
		}
		nh_json_int(o, "fd", a->fd);
		nh_json_result(o, a->result);
		break;
	case NH_WIRE_EV_OPEN:
		nh_json_str(o, "syscall", a->syscall ? a->syscall : "");
		nh_json_str(o, "path", a->path ? a->path : "");
		nh_json_int(o, "flags", a->flags);
		nh_recordjson_open_flags(a->flags, buf, sizeof(buf));
		nh_json_str(o, "flags_str", buf);
		if (a->flags & (O_CREAT | __O_TMPFILE))
			nh_json_int(o, "mode", a->mode);
		if (a->dirfd != AT_FDCWD && known(a->path) && a->path[0] != '/')
			nh_json_int(o, "dirfd", a->dirfd);
		nh_json_result(o, a->result);
		break;
	case NH_WIRE_EV_SETUID:
	case NH_WIRE_EV_SETGID:
		nh_json_str(o, "syscall", a->syscall ? a->syscall : "");
		json_object_object_add(o, "old", ids_object(&a->old_ids));
		json_object_object_add(o, "new", ids_object(&a->new_ids));
		nh_json_result(o, a->result);
		break;
	case NH_WIRE_EV_CAPSET:
		json_object_object_add(o, "old", caps_object(&a->old_caps));
		json_object_object_add(o, "new", caps_object(&a->new_caps));
		nh_json_result(o, a->result);
		break;
	case NH_WIRE_EV_SUMMARY:
		nh_json_str(o, "of", nh_wire_event_name(a->of));
		nh_json_int(o, "count", (int64_t)a->count);
		nh_json_str_known(o, "object", a->object);
		add_time(o, "window_start", a->window_start_ns);
		break;
	default:
		break;
	}
	if (a->path_truncated)
		add_bool(o, "path_truncated", true);
	if (a->args_truncated)
		add_bool(o, "args_truncated", true);
	if (a->deduplicated)
		add_bool(o, "deduplicated", true);
}

static void add_anomaly(json_object *o, const struct nh_wire_anomaly *a)
{
	nh_json_str(o, "category", nh_wire_category_name(a->category));
	nh_json_str(o, "severity", nh_wire_severity_name(a->severity));
	nh_json_str(o, "value", a->value ? a->value : "");
	if (known(a->technique_id)) {
		nh_json_str(o, "technique", a->technique_id);
		nh_json_str(o, "technique_name", a->technique_name ? a->technique_name : "");
	}
	nh_json_int(o, "baseline_age_s", (int64_t)(a->baseline_age_ns / NH_NSEC_PER_SEC));
	nh_json_uint(o, "baseline_age_ns", a->baseline_age_ns);
	nh_json_int(o, "baseline_items", (int64_t)a->baseline_items);
	if (a->rate) {
		json_object_object_add(o, "rate_per_min", json_object_new_double(a->rate_observed));
		json_object_object_add(o, "baseline_mean", json_object_new_double(a->rate_mean));
		json_object_object_add(o, "baseline_stddev",
				       json_object_new_double(a->rate_stddev));
	}
	nh_json_str(o, "explanation", a->explanation ? a->explanation : "");
}

static void add_finding(json_object *o, const struct nh_wire_finding *f)
{
	switch (f->type) {
	case NH_WIRE_FINDING_SECRET_EXPOSURE:
		nh_json_str(o, "secret_kind", f->secret_kind);
		nh_json_str(o, "fingerprint", f->fingerprint);
		nh_json_str_known(o, "fingerprint_previous", f->fingerprint_previous);
		nh_json_str(o, "path", f->path ? f->path : "");
		nh_json_int(o, "arg_index", f->arg_index);
		nh_json_str(o, "argument", f->argument ? f->argument : "");
		break;
	case NH_WIRE_FINDING_HUMAN_USE:
		nh_json_str(o, "reason", f->reason);
		add_bool(o, "tty", f->tty);
		add_bool(o, "entered_namespace", f->entered_namespace);
		nh_json_str(o, "path", f->path ? f->path : "");
		nh_json_int(o, "session_pid", f->session_pid);
		break;
	case NH_WIRE_FINDING_CREDENTIAL_REUSE: {
		json_object *ids = json_object_new_array();

		nh_json_str(o, "credential_kind", f->credential_kind ? f->credential_kind : "");
		nh_json_str(o, "credential", f->credential);
		for (size_t i = 0; i < f->n_identities; i++)
			json_object_array_add(ids, json_object_new_string(f->identities[i]));
		json_object_object_add(o, "identities", ids);
		if (f->identities_unlisted)
			nh_json_int(o, "identities_unlisted", (int64_t)f->identities_unlisted);
		break;
	}
	case NH_WIRE_FINDING_IDENTITY_CONFLICT:
		/* the claim that lost is never the identity */
		nh_json_str(o, "severity", "high");
		nh_json_str(o, "claimed_identity", f->claimed_identity);
		nh_json_str(o, "believed_identity", f->believed_identity);
		nh_json_str(o, "reason", f->reason ? f->reason : "");
		break;
	default:
		break;
	}
}

static void add_loss(json_object *o, const struct nh_wire_loss *l)
{
	nh_json_str_known(o, "source", l->source);
	nh_json_str(o, "what", l->what);
	if (l->n_counts) {
		nh_json_str(o, "of", l->counts[0].name);
		nh_json_int(o, "count", (int64_t)l->counts[0].value);
	}
	if (l->n_totals)
		nh_json_int(o, "total", (int64_t)l->totals[0].value);
	if (l->identity_cgroup_id)
		nh_json_int(o, "identity_cgroup_id", (int64_t)l->identity_cgroup_id);
}

/* Issue 19: an identity's flood, counts by kind. */
static void add_flood(json_object *o, const struct nh_wire_flood *f)
{
	json_object *c = json_object_new_object();
	uint64_t total = 0;

	add_time(o, "window_start", f->window_start_ns);
	add_time(o, "window_end", f->window_end_ns);
	for (size_t i = 0; i < f->n_counts; i++) {
		json_object_object_add(c, f->counts[i].name,
				       json_object_new_int64((int64_t)f->counts[i].value));
		total += f->counts[i].value;
	}
	json_object_object_add(o, "counts", c);
	nh_json_int(o, "count", (int64_t)total);
	nh_json_int(o, "budget", (int64_t)f->budget);
	nh_json_int(o, "budget_window_ms", (int64_t)(f->budget_window_ns / 1000000));
	nh_json_int(o, "identity_cgroup_id", (int64_t)f->identity_cgroup_id);
}

/* Issue 19: a time the node was not monitored. */
static void add_gap(json_object *o, const struct nh_wire_gap *g)
{
	add_time(o, "gap_start", g->start_ns);
	add_time(o, "gap_end", g->end_ns);
	nh_json_int(o, "gap_start_ns", (int64_t)g->start_ns);
	nh_json_int(o, "gap_end_ns", (int64_t)g->end_ns);
	nh_json_int(o, "duration_ms", (int64_t)((g->end_ns - g->start_ns) / 1000000));
	add_bool(o, "clean_stop", g->clean_stop);
	nh_json_str_known(o, "reason", g->reason);
}

json_object *nh_recordjson(const struct nh_wire_record *r)
{
	json_object *o;

	if (r->kind == NH_WIRE_ACTIVITY && r->activity.legacy_json)
		return NULL;
	o = attribution(r);
	if (!o)
		return NULL;
	switch (r->kind) {
	case NH_WIRE_ACTIVITY:
		add_activity(o, r);
		break;
	case NH_WIRE_ANOMALY:
		add_anomaly(o, &r->anomaly);
		break;
	case NH_WIRE_CREDENTIAL_USE: {
		const struct nh_wire_credential_use *u = &r->credential_use;

		nh_json_str(o, "credential_kind", u->credential_kind);
		nh_json_str(o, "credential", u->credential);
		nh_json_str(o, "via", u->via ? u->via : "");
		if (u->repeats)
			nh_json_int(o, "count", (int64_t)u->count);
		else
			nh_json_result(o, u->result);
		break;
	}
	case NH_WIRE_FINDING:
		add_finding(o, &r->finding);
		break;
	case NH_WIRE_LOSS:
		add_loss(o, &r->loss);
		break;
	case NH_WIRE_HEARTBEAT:
		nh_json_str(o, "agent_version", r->heartbeat.agent_version);
		break;
	case NH_WIRE_FLOOD:
		add_flood(o, &r->flood);
		break;
	case NH_WIRE_MONITORING_GAP:
		add_gap(o, &r->monitoring_gap);
		break;
	default:
		break;
	}
	return o;
}
