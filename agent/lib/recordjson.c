// SPDX-License-Identifier: Apache-2.0
#include "recordjson.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "jsonw.h"

/* Append name and a '|' before it when buf already holds one; bounded. */
static size_t append_flag(char *buf, size_t len, size_t n, const char *name)
{
	size_t k = strlen(name);

	if (n && n + 1 < len)
		buf[n++] = '|';
	if (n + k >= len)
		k = n < len ? len - n - 1 : 0;
	memcpy(buf + n, name, k);
	n += k;
	buf[n] = '\0';
	return n;
}

/* Built by appending (no snprintf): every open event in the tail's JSON
 * and the collector's documents has one. */
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
	size_t n;

	if (!len)
		return;
	buf[0] = '\0';
	n = append_flag(buf, len, 0, acc[flags & O_ACCMODE]);
	/* O_TMPFILE and O_SYNC contain O_DIRECTORY and O_DSYNC: name the
	 * composite and clear its bits so the part is not named again. */
	if ((flags & O_TMPFILE) == O_TMPFILE) {
		n = append_flag(buf, len, n, "O_TMPFILE");
		flags &= ~O_TMPFILE;
	}
	if ((flags & O_SYNC) == O_SYNC) {
		n = append_flag(buf, len, n, "O_SYNC");
		flags &= ~O_SYNC;
	}
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		if ((flags & bits[i].bit) == bits[i].bit)
			n = append_flag(buf, len, n, bits[i].name);
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

static void add_bool(struct nh_jw *w, const char *k, bool v)
{
	nh_jw_bool(w, k, v);
}

static void add_time(struct nh_jw *w, const char *k, uint64_t unix_ns)
{
	char ts[40];

	nh_clock_format(unix_ns, 6, ts, sizeof(ts));
	nh_jw_str(w, k, ts);
}

/* The token's timing, never the token: when it was issued, when it
 * expires, how old it is and how long it has left at the event. */
static void add_token(struct nh_jw *w, const struct nh_wire_context *c, int64_t now)
{
	const struct nh_wire_token *t = &c->token;

	nh_jw_object(w, "token");
	nh_jw_str(w, "state", c->token_state ? c->token_state : "");
	nh_jw_str(w, "fingerprint", t->fingerprint ? t->fingerprint : "");
	if (t->issued_at) {
		nh_jw_int(w, "issued_at", t->issued_at);
		nh_jw_int(w, "age_s", now - t->issued_at);
	}
	if (t->long_lived) {
		add_bool(w, "long_lived", true);
	} else {
		int64_t left;

		nh_jw_int(w, "expires_at", t->expires_at);
		if (__builtin_sub_overflow(t->expires_at, now, &left))
			left = now < 0 ? INT64_MAX : INT64_MIN;
		nh_jw_int(w, "remaining_s", left);
	}
	if (t->legacy)
		add_bool(w, "legacy", true);
	nh_jw_end(w);
}

/* ecs: without what an ECS document has in its own fields (pod, container,
 * unit, namespace, service account, node, workload). */
static void add_context(struct nh_jw *w, const struct nh_wire_record *r, bool ecs)
{
	const struct nh_wire_identity *id = &r->identity;
	const struct nh_wire_context *cx = &id->context;

	if (!known(cx->cgroup_kind))
		return;
	nh_jw_object(w, "context");
	nh_jw_str(w, "cgroup", cx->cgroup ? cx->cgroup : "");
	nh_jw_str(w, "kind", cx->cgroup_kind);
	if (cx->delegated)
		add_bool(w, "delegated", true);
	if (ecs) {
		nh_jw_str_known(w, "qos", cx->qos);
		if (cx->user_unit)
			add_bool(w, "user_unit", true);
		goto token;
	}
	nh_jw_str_known(w, "pod_uid", id->pod_uid);
	nh_jw_str_known(w, "qos", cx->qos);
	if (known(id->container_id)) {
		nh_jw_str(w, "container_id", id->container_id);
		nh_jw_str(w, "runtime", cx->runtime ? cx->runtime : "");
	}
	if (known(id->unit)) {
		nh_jw_str(w, "unit", id->unit);
		if (cx->user_unit)
			add_bool(w, "user_unit", true);
	}
	nh_jw_str_known(w, "namespace", id->namespace);
	nh_jw_str_known(w, "service_account", id->service_account);
	nh_jw_str_known(w, "pod", id->pod_name);
	nh_jw_str_known(w, "node", id->node);
token:
	if (cx->has_token)
		add_token(w, cx, (int64_t)(r->time_ns / NH_NSEC_PER_SEC));
	else
		nh_jw_str_known(w, "token_state", cx->token_state);
	if (!ecs && known(id->workload_kind) && known(id->workload_name)) {
		nh_jw_str(w, "workload_kind", id->workload_kind);
		nh_jw_str(w, "workload", id->workload_name);
	}
	nh_jw_end(w);
}

/* "cluster" and "labels": the agent's site, when its operator set one. */
static void add_site(struct nh_jw *w, const struct nh_wire_site *s)
{
	nh_jw_str_known(w, "cluster", s->cluster);
	if (!s->n_labels)
		return;
	nh_jw_object(w, "labels");
	for (size_t i = 0; i < s->n_labels; i++)
		nh_jw_str(w, s->labels[i].key, s->labels[i].value);
	nh_jw_end(w);
}

/* Time, kind, process, identity and context: what every record made
 * from a kernel event carries; records of no process (rate anomalies,
 * losses) only their identity. */
static void add_attribution(struct nh_jw *w, const struct nh_wire_record *r)
{
	const struct nh_wire_process *p = &r->process;
	bool proc = p->pid || r->kind == NH_WIRE_ACTIVITY;

	add_time(w, "time", r->time_ns);
	nh_jw_str(w, "kind", nh_recordjson_kind(r));
	if (proc) {
		nh_jw_int(w, "pid", p->pid);
		nh_jw_int(w, "tid", p->tid);
		if (!p->repeat) {
			nh_jw_int(w, "ppid", p->ppid);
			nh_jw_int(w, "gid", p->gid);
			nh_jw_int(w, "mntns", (int64_t)p->mntns);
			nh_jw_str(w, "comm", p->comm ? p->comm : "");
		}
		nh_jw_int(w, "uid", p->uid);
		nh_jw_str_known(w, "user", p->user);
		nh_jw_str_known(w, "exe", p->exe);
	}
	nh_jw_str_known(w, "identity", r->identity.key);
	add_site(w, &r->site);
	/* release 1's records say neither */
	if (known(r->identity.source)) {
		nh_jw_str(w, "identity_source", r->identity.source);
		add_bool(w, "identity_verified", r->identity.verified);
	}
	if (proc) {
		nh_jw_int(w, "cgroup_id", (int64_t)p->cgroup_id);
		if (p->interactive)
			add_bool(w, "interactive", true);
		add_context(w, r, false);
	}
}

/* The kernel's attribution an ECS document has no field for. */
static void add_attribution_rest(struct nh_jw *w, const struct nh_wire_record *r)
{
	const struct nh_wire_process *p = &r->process;
	const struct nh_wire_activity *a = &r->activity;

	if (!p->repeat) {
		nh_jw_int(w, "gid", p->gid);
		nh_jw_int(w, "mntns", (int64_t)p->mntns);
	}
	/* process.executable of an exec is the new image */
	if (a->event == NH_WIRE_EV_EXEC && known(a->path) && known(p->exe) &&
	    strcmp(a->path, p->exe) != 0)
		nh_jw_str(w, "exe", p->exe);
	nh_jw_int(w, "cgroup_id", (int64_t)p->cgroup_id);
	if (p->interactive)
		add_bool(w, "interactive", true);
	add_context(w, r, true);
}

/* The third id is the saved one, except for setfsuid/setfsgid (the
 * file-system id) and setgroups (the number of groups). */
static void add_ids(struct nh_jw *w, const char *k, const struct nh_wire_ids *ids,
		    const char *syscall)
{
	const char *third = "saved";

	if (syscall && strncmp(syscall, "setfs", 5) == 0)
		third = "fs";
	else if (syscall && strcmp(syscall, "setgroups") == 0)
		third = "groups";
	nh_jw_object(w, k);
	nh_jw_int(w, "real", ids->real);
	nh_jw_int(w, "effective", ids->effective);
	nh_jw_int(w, third, ids->saved);
	nh_jw_end(w);
}

static void add_caps(struct nh_jw *w, const char *k, const struct nh_wire_caps *c)
{
	char hex[24];

	nh_jw_object(w, k);
	snprintf(hex, sizeof(hex), "0x%016llx", (unsigned long long)c->effective);
	nh_jw_str(w, "effective", hex);
	snprintf(hex, sizeof(hex), "0x%016llx", (unsigned long long)c->permitted);
	nh_jw_str(w, "permitted", hex);
	snprintf(hex, sizeof(hex), "0x%016llx", (unsigned long long)c->inheritable);
	nh_jw_str(w, "inheritable", hex);
	nh_jw_end(w);
}

static void add_address(struct nh_jw *w, const struct nh_wire_activity *a, unsigned omit)
{
	nh_jw_str(w, "family", a->ipv6 ? "ipv6" : "ipv4");
	if (omit & NH_RJ_OMIT_ADDRESS)
		return;
	nh_jw_str(w, "address", a->address ? a->address : "");
	nh_jw_int(w, "port", a->port);
}

static void add_path(struct nh_jw *w, const struct nh_wire_activity *a, unsigned omit)
{
	if (!(omit & NH_RJ_OMIT_PATH))
		nh_jw_str(w, "path", a->path ? a->path : "");
}

static void add_activity(struct nh_jw *w, const struct nh_wire_record *r, unsigned omit)
{
	const struct nh_wire_activity *a = &r->activity;
	char buf[256];

	switch (a->event) {
	case NH_WIRE_EV_EXEC:
		add_path(w, a, omit);
		if (!(omit & NH_RJ_OMIT_ARGS)) {
			nh_jw_array(w, "args");
			for (size_t i = 0; i < a->n_args; i++)
				nh_jw_str(w, NULL, a->args[i]);
			nh_jw_end(w);
		}
		if (a->secrets_redacted)
			nh_jw_int(w, "secrets_redacted", a->secrets_redacted);
		/* shown in part: how much there was */
		if (a->args_bytes)
			nh_jw_int(w, "args_bytes", (int64_t)a->args_bytes);
		if (a->ns_pid && a->ns_pid != r->process.pid)
			nh_jw_int(w, "ns_pid", a->ns_pid);
		if (a->tty)
			add_bool(w, "tty", true);
		if (a->entered_namespace)
			add_bool(w, "entered_namespace", true);
		/* what the image runs as, when it is not what the user is */
		if (a->privileged_exec) {
			add_bool(w, "privileged_exec", true);
			nh_jw_int(w, "euid", a->euid);
			nh_jw_int(w, "egid", a->egid);
			snprintf(buf, sizeof(buf), "0x%016llx",
				 (unsigned long long)a->cap_effective);
			nh_jw_str(w, "cap_effective", buf);
			snprintf(buf, sizeof(buf), "0x%016llx",
				 (unsigned long long)a->cap_permitted);
			nh_jw_str(w, "cap_permitted", buf);
		}
		if (a->compat32)
			add_bool(w, "compat32", true);
		break;
	case NH_WIRE_EV_FORK:
		nh_jw_int(w, "child_pid", a->child_pid);
		break;
	case NH_WIRE_EV_EXIT:
		nh_jw_int(w, "exit_code", a->exit_code);
		if (a->signal)
			nh_jw_int(w, "signal", a->signal);
		break;
	case NH_WIRE_EV_CONNECT:
		add_address(w, a, omit);
		nh_jw_int(w, "fd", a->fd);
		nh_jw_result(w, a->result);
		break;
	case NH_WIRE_EV_ACCEPT:
		nh_jw_str(w, "syscall", a->syscall ? a->syscall : "");
		if (a->result >= 0) {
			add_address(w, a, omit);
			nh_jw_int(w, "local_port", a->local_port);
		}
		nh_jw_int(w, "fd", a->fd);
		nh_jw_result(w, a->result);
		break;
	case NH_WIRE_EV_OPEN:
		nh_jw_str(w, "syscall", a->syscall ? a->syscall : "");
		add_path(w, a, omit);
		nh_jw_int(w, "flags", a->flags);
		nh_recordjson_open_flags(a->flags, buf, sizeof(buf));
		nh_jw_str(w, "flags_str", buf);
		if (a->flags & (O_CREAT | __O_TMPFILE))
			nh_jw_int(w, "mode", a->mode);
		if (a->dirfd != AT_FDCWD && known(a->path) && a->path[0] != '/')
			nh_jw_int(w, "dirfd", a->dirfd);
		if (known(a->credential)) {
			nh_jw_str(w, "credential", a->credential);
			nh_jw_str(w, "credential_kind",
				  a->credential_kind ? a->credential_kind : "");
		}
		nh_jw_result(w, a->result);
		break;
	case NH_WIRE_EV_SETUID:
	case NH_WIRE_EV_SETGID:
		nh_jw_str(w, "syscall", a->syscall ? a->syscall : "");
		add_ids(w, "old", &a->old_ids, a->syscall);
		add_ids(w, "new", &a->new_ids, a->syscall);
		nh_jw_result(w, a->result);
		break;
	case NH_WIRE_EV_CAPSET:
		add_caps(w, "old", &a->old_caps);
		add_caps(w, "new", &a->new_caps);
		nh_jw_result(w, a->result);
		break;
	case NH_WIRE_EV_SEND:
		nh_jw_str(w, "syscall", a->syscall ? a->syscall : "");
		add_address(w, a, omit);
		nh_jw_int(w, "fd", a->fd);
		if (a->msg_index)
			nh_jw_int(w, "msg_index", a->msg_index);
		nh_jw_result(w, a->result);
		break;
	case NH_WIRE_EV_UNIX_CONNECT:
		add_path(w, a, omit);
		nh_jw_str_known(w, "sock_type", a->sock_type);
		if (a->inode) {
			nh_jw_uint(w, "device", a->device);
			nh_jw_uint(w, "inode", a->inode);
		}
		nh_jw_int(w, "fd", a->fd);
		nh_jw_result(w, a->result);
		break;
	case NH_WIRE_EV_NAMESPACE:
	case NH_WIRE_EV_PTRACE:
	case NH_WIRE_EV_BPF:
	case NH_WIRE_EV_MODULE:
		nh_jw_str(w, "syscall", a->syscall ? a->syscall : "");
		nh_jw_str_known(w, "op", a->op_name);
		nh_jw_uint(w, "op_value", a->op);
		nh_jw_str_known(w, "path", a->path);
		if (a->target_pid)
			nh_jw_int(w, "target_pid", a->target_pid);
		nh_jw_result(w, a->result);
		break;
	case NH_WIRE_EV_IO_URING_CREATE:
		nh_jw_str(w, "syscall", a->syscall ? a->syscall : "");
		nh_jw_str_known(w, "op", a->op_name);
		nh_jw_uint(w, "op_value", a->op);
		nh_jw_int(w, "fd", a->fd);
		break;
	case NH_WIRE_EV_COMPAT:
		nh_jw_str(w, "syscall", a->syscall ? a->syscall : "");
		nh_jw_str_known(w, "op", a->op_name);
		nh_jw_uint(w, "op_value", a->op);
		if (!(omit & NH_RJ_OMIT_PATH))
			nh_jw_str_known(w, "path", a->path);
		if (known(a->address))
			add_address(w, a, omit);
		add_bool(w, "compat32", true);
		break;
	case NH_WIRE_EV_SUMMARY:
		nh_jw_str(w, "of", nh_wire_event_name(a->of));
		nh_jw_int(w, "count", (int64_t)a->count);
		nh_jw_str_known(w, "object", a->object);
		add_time(w, "window_start", a->window_start_ns);
		break;
	default:
		break;
	}
	if (a->path_truncated)
		add_bool(w, "path_truncated", true);
	if (a->args_truncated)
		add_bool(w, "args_truncated", true);
	if (a->deduplicated)
		add_bool(w, "deduplicated", true);
	if (a->user_address)
		add_bool(w, "user_address", true);
	if (a->result_unknown)
		add_bool(w, "result_unknown", true);
	nh_jw_str_known(w, "via", a->via);
}

static void add_anomaly(struct nh_jw *w, const struct nh_wire_anomaly *a)
{
	nh_jw_str(w, "category", nh_wire_category_name(a->category));
	nh_jw_str(w, "severity", nh_wire_severity_name(a->severity));
	nh_jw_str(w, "value", a->value ? a->value : "");
	if (known(a->technique_id)) {
		nh_jw_str(w, "technique", a->technique_id);
		nh_jw_str(w, "technique_name", a->technique_name ? a->technique_name : "");
	}
	nh_jw_int(w, "baseline_age_s", (int64_t)(a->baseline_age_ns / NH_NSEC_PER_SEC));
	nh_jw_uint(w, "baseline_age_ns", a->baseline_age_ns);
	nh_jw_int(w, "baseline_items", (int64_t)a->baseline_items);
	if (a->rate) {
		nh_jw_double(w, "rate_per_min", a->rate_observed);
		nh_jw_double(w, "baseline_mean", a->rate_mean);
		nh_jw_double(w, "baseline_stddev", a->rate_stddev);
	}
	nh_jw_str(w, "explanation", a->explanation ? a->explanation : "");
}

static void add_finding(struct nh_jw *w, const struct nh_wire_finding *f)
{
	switch (f->type) {
	case NH_WIRE_FINDING_SECRET_EXPOSURE:
		nh_jw_str(w, "secret_kind", f->secret_kind);
		nh_jw_str(w, "fingerprint", f->fingerprint);
		nh_jw_str_known(w, "fingerprint_previous", f->fingerprint_previous);
		nh_jw_str(w, "path", f->path ? f->path : "");
		nh_jw_int(w, "arg_index", f->arg_index);
		nh_jw_str(w, "argument", f->argument ? f->argument : "");
		break;
	case NH_WIRE_FINDING_HUMAN_USE:
		nh_jw_str(w, "reason", f->reason);
		add_bool(w, "tty", f->tty);
		add_bool(w, "entered_namespace", f->entered_namespace);
		nh_jw_str(w, "path", f->path ? f->path : "");
		nh_jw_int(w, "session_pid", f->session_pid);
		break;
	case NH_WIRE_FINDING_CREDENTIAL_REUSE:
		nh_jw_str(w, "credential_kind", f->credential_kind ? f->credential_kind : "");
		nh_jw_str(w, "credential", f->credential);
		nh_jw_array(w, "identities");
		for (size_t i = 0; i < f->n_identities; i++)
			nh_jw_str(w, NULL, f->identities[i]);
		nh_jw_end(w);
		if (f->identities_unlisted)
			nh_jw_int(w, "identities_unlisted", (int64_t)f->identities_unlisted);
		break;
	case NH_WIRE_FINDING_IDENTITY_CONFLICT:
		/* the claim that lost is never the identity */
		nh_jw_str(w, "severity", "high");
		nh_jw_str(w, "claimed_identity", f->claimed_identity);
		nh_jw_str(w, "believed_identity", f->believed_identity);
		nh_jw_str(w, "reason", f->reason ? f->reason : "");
		break;
	case NH_WIRE_FINDING_MONITORING_TAMPERED:
		/* about the agent itself: no process, the reason says what */
		nh_jw_str(w, "severity", "high");
		nh_jw_str(w, "reason", f->reason);
		break;
	default:
		break;
	}
}

static void add_loss(struct nh_jw *w, const struct nh_wire_loss *l)
{
	nh_jw_str_known(w, "source", l->source);
	nh_jw_str(w, "what", l->what);
	if (l->n_counts) {
		nh_jw_str(w, "of", l->counts[0].name);
		nh_jw_int(w, "count", (int64_t)l->counts[0].value);
	}
	if (l->n_totals)
		nh_jw_int(w, "total", (int64_t)l->totals[0].value);
	if (l->identity_cgroup_id)
		nh_jw_int(w, "identity_cgroup_id", (int64_t)l->identity_cgroup_id);
}

/* An identity's events beyond its budget, counted by kind. */
static void add_flood(struct nh_jw *w, const struct nh_wire_flood *f)
{
	uint64_t total = 0;

	add_time(w, "window_start", f->window_start_ns);
	add_time(w, "window_end", f->window_end_ns);
	nh_jw_object(w, "counts");
	for (size_t i = 0; i < f->n_counts; i++) {
		nh_jw_int(w, f->counts[i].name, (int64_t)f->counts[i].value);
		total += f->counts[i].value;
	}
	nh_jw_end(w);
	nh_jw_int(w, "count", (int64_t)total);
	nh_jw_int(w, "budget", (int64_t)f->budget);
	nh_jw_int(w, "budget_window_ms", (int64_t)(f->budget_window_ns / 1000000));
	nh_jw_int(w, "identity_cgroup_id", (int64_t)f->identity_cgroup_id);
}

/* A time the node was not monitored. */
static void add_gap(struct nh_jw *w, const struct nh_wire_gap *g)
{
	add_time(w, "gap_start", g->start_ns);
	add_time(w, "gap_end", g->end_ns);
	nh_jw_int(w, "gap_start_ns", (int64_t)g->start_ns);
	nh_jw_int(w, "gap_end_ns", (int64_t)g->end_ns);
	nh_jw_int(w, "duration_ms", (int64_t)((g->end_ns - g->start_ns) / 1000000));
	add_bool(w, "clean_stop", g->clean_stop);
	nh_jw_str_known(w, "reason", g->reason);
}

int nh_recordjson_write(const struct nh_wire_record *r, const char *key, struct nh_jw *w)
{
	if (r->kind == NH_WIRE_ACTIVITY && r->activity.legacy_json)
		return -EINVAL;
	nh_jw_object(w, key);
	add_attribution(w, r);
	switch (r->kind) {
	case NH_WIRE_ACTIVITY:
		add_activity(w, r, 0);
		break;
	case NH_WIRE_ANOMALY:
		add_anomaly(w, &r->anomaly);
		break;
	case NH_WIRE_CREDENTIAL_USE: {
		const struct nh_wire_credential_use *u = &r->credential_use;

		nh_jw_str(w, "credential_kind", u->credential_kind);
		nh_jw_str(w, "credential", u->credential);
		nh_jw_str(w, "via", u->via ? u->via : "");
		if (known(u->path))
			nh_jw_str(w, "path", u->path);
		if (u->path_truncated)
			add_bool(w, "path_truncated", true);
		if (known(u->matched_by))
			nh_jw_str(w, "matched_by", u->matched_by);
		if (u->repeats)
			nh_jw_int(w, "count", (int64_t)u->count);
		else
			nh_jw_result(w, u->result);
		break;
	}
	case NH_WIRE_FINDING:
		add_finding(w, &r->finding);
		break;
	case NH_WIRE_LOSS:
		add_loss(w, &r->loss);
		break;
	case NH_WIRE_HEARTBEAT:
		nh_jw_str(w, "agent_version", r->heartbeat.agent_version);
		nh_jw_int(w, "probes_attached", (int64_t)r->heartbeat.probes_attached);
		nh_jw_int(w, "probes_missing", (int64_t)r->heartbeat.probes_missing);
		nh_jw_int(w, "monitoring_tampered", (int64_t)r->heartbeat.monitoring_tampered);
		break;
	case NH_WIRE_FLOOD:
		add_flood(w, &r->flood);
		break;
	case NH_WIRE_MONITORING_GAP:
		add_gap(w, &r->monitoring_gap);
		break;
	default:
		break;
	}
	nh_jw_end(w);
	return w->failed ? -ENOMEM : 0;
}

int nh_recordjson_write_rest(const struct nh_wire_record *r, const char *key, unsigned omit,
			     struct nh_jw *w)
{
	if (r->kind != NH_WIRE_ACTIVITY || r->activity.legacy_json)
		return -EINVAL;
	nh_jw_object(w, key);
	if (r->process.pid)
		add_attribution_rest(w, r);
	add_activity(w, r, omit);
	nh_jw_end(w);
	return w->failed ? -ENOMEM : 0;
}

json_object *nh_recordjson(const struct nh_wire_record *r)
{
	struct nh_jw w = {0};
	json_object *o = NULL;

	nh_jw_reset(&w);
	if (nh_recordjson_write(r, NULL, &w) == 0 && nh_jw_reserve(&w, 1)) {
		w.buf[w.len] = '\0';
		o = json_tokener_parse(w.buf);
	}
	nh_jw_free(&w);
	return o;
}
