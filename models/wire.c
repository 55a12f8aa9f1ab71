// SPDX-License-Identifier: Apache-2.0
#include "wire.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.pb-c.h"

/* Every string a record can carry, with room to spare: sanitised copies
 * made while packing are remembered here and freed at the end. */
#define SCRATCH_MAX (NH_WIRE_ARGS_MAX + 160)

static const char *const kind_names[NH_WIRE_KIND_MAX] = {
    "none", "anomaly",	 "credential_use", "finding",	     "activity",
    "loss", "heartbeat", "flood",	   "monitoring_gap",
};
static const char *const category_names[NH_WIRE_CAT_MAX] = {
    "none", "exec", "egress", "ingress", "file", "credential", "privilege", "isolation",
};
static const char *const severity_names[NH_WIRE_SEV_MAX] = {
    "none", "low", "medium", "high", "critical",
};
static const char *const finding_names[NH_WIRE_FINDING_MAX] = {
    "none",
    "secret_exposure",
    "human_use",
    "credential_reuse",
    "identity_conflict",
    "monitoring_tampered",
};

static const char *const event_names[NH_WIRE_EV_MAX] = {
    "none",
    "exec",
    "fork",
    "exit",
    "connect",
    "accept",
    "open",
    "setuid",
    "setgid",
    "capset",
    "summary",
    [NH_WIRE_EV_SEND] = "send",
    [NH_WIRE_EV_UNIX_CONNECT] = "unix_connect",
    [NH_WIRE_EV_NAMESPACE] = "namespace",
    [NH_WIRE_EV_PTRACE] = "ptrace",
    [NH_WIRE_EV_BPF] = "bpf",
    [NH_WIRE_EV_MODULE] = "module",
    [NH_WIRE_EV_IO_URING_CREATE] = "io_uring_create",
    [NH_WIRE_EV_COMPAT] = "compat_syscall",
};

/* Tables may have gaps (reserved numbers): a gap has no name. */
static const char *name_of(const char *const *names, int n, int v)
{
	return v >= 0 && v < n && names[v] ? names[v] : "unknown";
}

static int parse_name(const char *const *names, int n, const char *name)
{
	for (int i = 1; name && i < n; i++)
		if (names[i] && strcmp(names[i], name) == 0)
			return i;
	return -EINVAL;
}

const char *nh_wire_kind_name(enum nh_wire_kind k)
{
	return name_of(kind_names, NH_WIRE_KIND_MAX, k);
}

const char *nh_wire_category_name(enum nh_wire_category c)
{
	return name_of(category_names, NH_WIRE_CAT_MAX, c);
}

const char *nh_wire_severity_name(enum nh_wire_severity s)
{
	return name_of(severity_names, NH_WIRE_SEV_MAX, s);
}

const char *nh_wire_finding_name(enum nh_wire_finding_type t)
{
	return name_of(finding_names, NH_WIRE_FINDING_MAX, t);
}

const char *nh_wire_event_name(enum nh_wire_event e)
{
	return name_of(event_names, NH_WIRE_EV_MAX, e);
}

int nh_wire_event_parse(const char *name)
{
	return parse_name(event_names, NH_WIRE_EV_MAX, name);
}

int nh_wire_kind_parse(const char *name)
{
	return parse_name(kind_names, NH_WIRE_KIND_MAX, name);
}

int nh_wire_category_parse(const char *name)
{
	return parse_name(category_names, NH_WIRE_CAT_MAX, name);
}

int nh_wire_severity_parse(const char *name)
{
	return parse_name(severity_names, NH_WIRE_SEV_MAX, name);
}

int nh_wire_finding_parse(const char *name)
{
	return parse_name(finding_names, NH_WIRE_FINDING_MAX, name);
}

/* "<node>/<boot id>/<seq>", once per record in the collector: no printf. */
int nh_wire_id_str(const struct nh_wire_id *id, char *buf, size_t cap)
{
	const char *node = id->node ? id->node : "", *boot = id->boot_id ? id->boot_id : "";
	size_t nl = strlen(node), bl = strlen(boot), dl;
	char digits[24], *d = digits + sizeof(digits);
	uint64_t seq = id->seq;

	do {
		*--d = (char)('0' + seq % 10);
		seq /= 10;
	} while (seq);
	dl = (size_t)(digits + sizeof(digits) - d);
	if (nl + bl + dl + 3 > cap) {
		if (cap)
			buf[0] = '\0';
		return -ENOSPC;
	}
	memcpy(buf, node, nl);
	buf[nl] = '/';
	memcpy(buf + nl + 1, boot, bl);
	buf[nl + 1 + bl] = '/';
	memcpy(buf + nl + bl + 2, d, dl);
	buf[nl + bl + 2 + dl] = '\0';
	return (int)(nl + bl + dl + 2);
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;

		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;

		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80
			   ? 4
			   : 0;
	}
	return 0;
}

/* The NUL terminator fails every continuation test, so a sequence cut
 * short by the end of the string is invalid without reading past it. */
static bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n;

		if (*p < 0x80) { /* ASCII, most of every record */
			p++;
			continue;
		}
		n = utf8_seq(p);
		if (!n)
			return false;
		p += n;
	}
	return true;
}

static const char *str(const char *s)
{
	return s ? s : "";
}

static bool empty(const char *s)
{
	return !s || !*s;
}

bool nh_wire_label_key_ok(const char *key)
{
	size_t n = key ? strlen(key) : 0;

	if (!n || n > NH_WIRE_LABEL_KEY_MAX || strncmp(key, "nhiscope", 8) == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = key[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* What breaks a site's rules, or NULL. */
static const char *site_invalid(const struct nh_wire_site *s)
{
	if (strlen(str(s->cluster)) > NH_WIRE_NAME_MAX)
		return "cluster name longer than NH_WIRE_NAME_MAX";
	if (s->n_labels > NH_WIRE_LABELS_MAX)
		return "more than NH_WIRE_LABELS_MAX labels";
	for (size_t i = 0; i < s->n_labels; i++) {
		if (!nh_wire_label_key_ok(s->labels[i].key))
			return "label key empty, too long, reserved or not of [A-Za-z0-9_-]";
		if (strlen(str(s->labels[i].value)) > NH_WIRE_NAME_MAX)
			return "label value longer than NH_WIRE_NAME_MAX";
		for (size_t j = 0; j < i; j++)
			if (strcmp(s->labels[i].key, s->labels[j].key) == 0)
				return "label key given twice";
	}
	return NULL;
}

/* Rules shared by pack and unpack; decoded adds what pack repairs. */
static int validate(const struct nh_wire_record *r, bool decoded, const char **why)
{
	const char *const strs[] = {
	    r->id.node,
	    r->id.boot_id,
	    r->identity.key,
	    r->identity.pod_uid,
	    r->identity.pod_name,
	    r->identity.namespace,
	    r->identity.service_account,
	    r->identity.container_id,
	    r->identity.unit,
	    r->identity.workload_kind,
	    r->identity.workload_name,
	    r->identity.node,
	    r->identity.source,
	    r->identity.context.cgroup,
	    r->identity.context.cgroup_kind,
	    r->identity.context.qos,
	    r->identity.context.runtime,
	    r->identity.context.token_state,
	    r->identity.context.token.fingerprint,
	    r->process.user,
	    r->process.comm,
	    r->process.exe,
	};
	const char *w = NULL;

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (strlen(str(strs[i])) > NH_WIRE_STR_MAX)
			w = "string longer than NH_WIRE_STR_MAX";
	if (w)
		goto bad;
	if (empty(r->id.node) || empty(r->id.boot_id)) {
		w = "record id without node or boot id";
		goto bad;
	}
	if (strlen(r->id.node) > NH_WIRE_NAME_MAX || strlen(r->id.boot_id) > NH_WIRE_NAME_MAX) {
		w = "record id node or boot id longer than NH_WIRE_NAME_MAX";
		goto bad;
	}
	if (!r->time_ns) {
		w = "no time";
		goto bad;
	}
	if (r->kind <= NH_WIRE_NONE || r->kind >= NH_WIRE_KIND_MAX) {
		w = "no body";
		goto bad;
	}
	if (r->kind <= NH_WIRE_ACTIVITY && empty(r->identity.key)) {
		w = "no identity key";
		goto bad;
	}
	w = site_invalid(&r->site);
	if (w)
		goto bad;

	switch (r->kind) {
	case NH_WIRE_ANOMALY: {
		const struct nh_wire_anomaly *a = &r->anomaly;

		if (a->category <= NH_WIRE_CAT_NONE || a->category >= NH_WIRE_CAT_MAX)
			w = "anomaly: no or unknown category";
		else if (a->severity <= NH_WIRE_SEV_NONE || a->severity >= NH_WIRE_SEV_MAX)
			w = "anomaly: no or unknown severity";
		else if (empty(a->value))
			w = "anomaly: no value";
		else if (strlen(a->value) > NH_WIRE_STR_MAX ||
			 strlen(str(a->technique_id)) > NH_WIRE_STR_MAX ||
			 strlen(str(a->technique_name)) > NH_WIRE_STR_MAX ||
			 strlen(str(a->explanation)) > NH_WIRE_STR_MAX)
			w = "anomaly: string longer than NH_WIRE_STR_MAX";
		else if (decoded && (!isfinite(a->rate_observed) || !isfinite(a->rate_mean) ||
				     !isfinite(a->rate_stddev)))
			w = "anomaly: rate not finite";
		break;
	}
	case NH_WIRE_CREDENTIAL_USE: {
		const struct nh_wire_credential_use *c = &r->credential_use;

		if (empty(c->credential_kind) || empty(c->credential))
			w = "credential use: no credential or credential kind";
		else if (strlen(c->credential_kind) > NH_WIRE_STR_MAX ||
			 strlen(c->credential) > NH_WIRE_STR_MAX ||
			 strlen(str(c->via)) > NH_WIRE_STR_MAX ||
			 strlen(str(c->path)) > NH_WIRE_STR_MAX ||
			 strlen(str(c->matched_by)) > NH_WIRE_STR_MAX)
			w = "credential use: string longer than NH_WIRE_STR_MAX";
		else if (decoded && !c->count)
			w = "credential use: count 0";
		break;
	}
	case NH_WIRE_FINDING: {
		const struct nh_wire_finding *f = &r->finding;
		const char *const fs[] = {
		    f->secret_kind,	  f->fingerprint,	  f->reason, f->argument,
		    f->credential_kind,	  f->credential,	  f->path,   f->claimed_identity,
		    f->believed_identity, f->fingerprint_previous};

		for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++)
			if (strlen(str(fs[i])) > NH_WIRE_STR_MAX)
				w = "finding: string longer than NH_WIRE_STR_MAX";
		if (f->n_identities > NH_WIRE_IDENTITIES_MAX) {
			w = "finding: more than NH_WIRE_IDENTITIES_MAX identities";
		} else {
			for (size_t i = 0; i < f->n_identities; i++)
				if (empty(f->identities[i]) ||
				    strlen(f->identities[i]) > NH_WIRE_STR_MAX)
					w = "finding: empty or too long identity";
		}
		if (w)
			break;
		if (f->type <= NH_WIRE_FINDING_NONE || f->type >= NH_WIRE_FINDING_MAX)
			w = "finding: no or unknown type";
		else if (f->type == NH_WIRE_FINDING_SECRET_EXPOSURE &&
			 (empty(f->secret_kind) || empty(f->fingerprint)))
			w = "secret exposure: no secret kind or fingerprint";
		else if (f->type == NH_WIRE_FINDING_HUMAN_USE && empty(f->reason))
			w = "human use: no reason";
		else if (f->type == NH_WIRE_FINDING_CREDENTIAL_REUSE && empty(f->credential))
			w = "credential reuse: no credential";
		else if (f->type == NH_WIRE_FINDING_IDENTITY_CONFLICT &&
			 (empty(f->claimed_identity) || empty(f->believed_identity)))
			w = "identity conflict: no claimed or believed identity";
		else if (f->type == NH_WIRE_FINDING_MONITORING_TAMPERED && empty(f->reason))
			w = "monitoring tampered: no reason";
		break;
	}
	case NH_WIRE_ACTIVITY: {
		const struct nh_wire_activity *a = &r->activity;
		const char *const as[] = {
		    a->kind, a->syscall, a->path,      a->address,    a->object,
		    a->via,  a->op_name, a->sock_type, a->credential, a->credential_kind};

		for (size_t i = 0; i < sizeof(as) / sizeof(as[0]); i++)
			if (strlen(str(as[i])) > NH_WIRE_STR_MAX)
				w = "activity: string longer than NH_WIRE_STR_MAX";
		if (a->n_args > NH_WIRE_ARGS_MAX)
			w = "activity: more than NH_WIRE_ARGS_MAX args";
		for (size_t i = 0; !w && i < a->n_args; i++)
			if (strlen(str(a->args[i])) > NH_WIRE_STR_MAX)
				w = "activity: argument longer than NH_WIRE_STR_MAX";
		if (w)
			break;
		if (decoded && r->format < NH_WIRE_FORMAT) {
			if (empty(a->kind) || empty(a->legacy_json))
				w = "activity (format 1): no kind or json";
		} else if (a->legacy_json) {
			/* its fields are in the text: written as format 2 they
			 * would be lost */
			w = "activity: format 1 JSON is read, never written";
		} else if (a->event <= NH_WIRE_EV_NONE || a->event >= NH_WIRE_EV_MAX ||
			   !event_names[a->event]) {
			w = "activity: no or unknown event kind";
		} else if (a->event == NH_WIRE_EV_SUMMARY &&
			   (a->of <= NH_WIRE_EV_NONE || a->of >= NH_WIRE_EV_MAX ||
			    a->of == NH_WIRE_EV_SUMMARY || !event_names[a->of])) {
			w = "activity: summary of no or an unknown event kind";
		}
		break;
	}
	case NH_WIRE_LOSS:
		if (empty(r->loss.what))
			w = "loss report: no what";
		else if (strlen(r->loss.what) > NH_WIRE_STR_MAX)
			w = "loss report: what longer than NH_WIRE_STR_MAX";
		else if (r->loss.window_end_ns < r->loss.window_start_ns)
			w = "loss report: window ends before it starts";
		else if (r->loss.n_counts > NH_WIRE_COUNTERS_MAX)
			w = "loss report: more than NH_WIRE_COUNTERS_MAX counts";
		else if (r->loss.n_totals > NH_WIRE_COUNTERS_MAX)
			w = "loss report: more than NH_WIRE_COUNTERS_MAX totals";
		else if (strlen(str(r->loss.source)) > NH_WIRE_STR_MAX)
			w = "loss report: source longer than NH_WIRE_STR_MAX";
		for (size_t i = 0; !w && i < r->loss.n_counts; i++)
			if (empty(r->loss.counts[i].name) ||
			    strlen(r->loss.counts[i].name) > NH_WIRE_STR_MAX)
				w = "loss report: count without a name or name too long";
		for (size_t i = 0; !w && i < r->loss.n_totals; i++)
			if (empty(r->loss.totals[i].name) ||
			    strlen(r->loss.totals[i].name) > NH_WIRE_STR_MAX)
				w = "loss report: total without a name or name too long";
		break;
	case NH_WIRE_FLOOD:
		if (empty(r->identity.key))
			w = "flood: no identity";
		else if (r->flood.window_end_ns < r->flood.window_start_ns)
			w = "flood: window ends before it starts";
		else if (r->flood.n_counts > NH_WIRE_COUNTERS_MAX)
			w = "flood: more than NH_WIRE_COUNTERS_MAX counts";
		for (size_t i = 0; !w && i < r->flood.n_counts; i++)
			if (empty(r->flood.counts[i].name) ||
			    strlen(r->flood.counts[i].name) > NH_WIRE_STR_MAX)
				w = "flood: count without a name or name too long";
		break;
	case NH_WIRE_MONITORING_GAP:
		if (r->monitoring_gap.end_ns < r->monitoring_gap.start_ns)
			w = "monitoring gap: ends before it starts";
		else if (strlen(str(r->monitoring_gap.reason)) > NH_WIRE_STR_MAX)
			w = "monitoring gap: reason longer than NH_WIRE_STR_MAX";
		break;
	case NH_WIRE_HEARTBEAT:
		if (empty(r->heartbeat.agent_version))
			w = "heartbeat: no agent version";
		else if (strlen(r->heartbeat.agent_version) > NH_WIRE_STR_MAX)
			w = "heartbeat: agent version longer than NH_WIRE_STR_MAX";
		else if (r->heartbeat.n_counters > NH_WIRE_COUNTERS_MAX)
			w = "heartbeat: more than NH_WIRE_COUNTERS_MAX counters";
		for (size_t i = 0; !w && i < r->heartbeat.n_counters; i++)
			if (empty(r->heartbeat.counters[i].name) ||
			    strlen(r->heartbeat.counters[i].name) > NH_WIRE_STR_MAX)
				w = "heartbeat: counter without a name or name too long";
		break;
	default:
		break;
	}
	if (!w)
		return 0;
bad:
	if (why)
		*why = w;
	return -EINVAL;
}

int nh_wire_check(const struct nh_wire_record *r, const char **why)
{
	return validate(r, false, why);
}

/* The protobuf-c view of one record, on the caller's stack. */
struct pb {
	Nhiscope__Wire__Record rec;
	Nhiscope__Wire__RecordId id;
	Nhiscope__Wire__Identity identity;
	Nhiscope__Wire__Context context;
	Nhiscope__Wire__Token token;
	Nhiscope__Wire__Process process;
	Nhiscope__Wire__Label labels[NH_WIRE_LABELS_MAX];
	Nhiscope__Wire__Label *label_ptrs[NH_WIRE_LABELS_MAX];
	Nhiscope__Wire__Ids ids[2];
	Nhiscope__Wire__Caps caps[2];
	char *args[NH_WIRE_ARGS_MAX];
	Nhiscope__Wire__Anomaly anomaly;
	Nhiscope__Wire__CredentialUse cred;
	Nhiscope__Wire__Finding finding;
	Nhiscope__Wire__Activity activity;
	Nhiscope__Wire__LossReport loss;
	Nhiscope__Wire__Heartbeat heartbeat;
	Nhiscope__Wire__Flood flood;
	Nhiscope__Wire__MonitoringGap gap;
	char *identities[NH_WIRE_IDENTITIES_MAX];
	/* loss: counts then totals; heartbeat: counters */
	Nhiscope__Wire__Counter counters[2 * NH_WIRE_COUNTERS_MAX];
	Nhiscope__Wire__Counter *counter_ptrs[2 * NH_WIRE_COUNTERS_MAX];
	char *scratch[SCRATCH_MAX];
	size_t nscratch;
	int err;
};

/* A string as it goes on the wire: the caller's own when it is valid
 * UTF-8, else a copy with each stray byte replaced by '?'. */
static char *wire_str(struct pb *pb, const char *s)
{
	unsigned char *copy, *p;

	if (empty(s))
		return (char *)protobuf_c_empty_string;
	if (utf8_valid(s))
		return (char *)s;
	if (pb->nscratch == SCRATCH_MAX || !(copy = (unsigned char *)strdup(s))) {
		pb->err = -ENOMEM;
		return (char *)protobuf_c_empty_string;
	}
	pb->scratch[pb->nscratch++] = (char *)copy;
	for (p = copy; *p;) {
		size_t n = utf8_seq(p);

		if (n) {
			p += n;
		} else {
			*p++ = '?';
		}
	}
	return (char *)copy;
}

static double finite_or_0(double v)
{
	return isfinite(v) ? v : 0;
}

/* at: the first slot of pb->counters to use. */
static size_t wire_counters(struct pb *pb, size_t at, const struct nh_wire_counter *c, size_t n,
			    Nhiscope__Wire__Counter ***out)
{
	for (size_t i = 0; i < n; i++) {
		nhiscope__wire__counter__init(&pb->counters[at + i]);
		pb->counters[at + i].name = wire_str(pb, c[i].name);
		pb->counters[at + i].value = c[i].value;
		pb->counter_ptrs[at + i] = &pb->counters[at + i];
	}
	*out = pb->counter_ptrs + at;
	return n;
}

static void pb_release(struct pb *pb)
{
	for (size_t i = 0; i < pb->nscratch; i++)
		free(pb->scratch[i]);
	pb->nscratch = 0;
}

/* Build the protobuf-c view of a checked record. Returns 0 or -ENOMEM
 * (pb_release in both cases). */
static int pb_build(struct pb *pb, const struct nh_wire_record *r)
{
	Nhiscope__Wire__Record *m = &pb->rec;

	pb->nscratch = 0;
	pb->err = 0;
	nhiscope__wire__record__init(m);
	nhiscope__wire__record_id__init(&pb->id);
	nhiscope__wire__identity__init(&pb->identity);
	nhiscope__wire__process__init(&pb->process);

	pb->id.node = wire_str(pb, r->id.node);
	pb->id.boot_id = wire_str(pb, r->id.boot_id);
	pb->id.seq = r->id.seq;
	m->id = &pb->id;
	m->time_ns = r->time_ns;

	pb->identity.key = wire_str(pb, r->identity.key);
	pb->identity.pod_uid = wire_str(pb, r->identity.pod_uid);
	pb->identity.pod_name = wire_str(pb, r->identity.pod_name);
	pb->identity.namespace_ = wire_str(pb, r->identity.namespace);
	pb->identity.service_account = wire_str(pb, r->identity.service_account);
	pb->identity.container_id = wire_str(pb, r->identity.container_id);
	pb->identity.unit = wire_str(pb, r->identity.unit);
	pb->identity.workload_kind = wire_str(pb, r->identity.workload_kind);
	pb->identity.workload_name = wire_str(pb, r->identity.workload_name);
	pb->identity.node = wire_str(pb, r->identity.node);
	pb->identity.source = wire_str(pb, r->identity.source);
	pb->identity.verified = r->identity.verified;
	m->identity = &pb->identity;
	if (!empty(r->identity.context.cgroup_kind)) {
		const struct nh_wire_context *c = &r->identity.context;

		nhiscope__wire__context__init(&pb->context);
		pb->context.cgroup = wire_str(pb, c->cgroup);
		pb->context.cgroup_kind = wire_str(pb, c->cgroup_kind);
		pb->context.delegated = c->delegated;
		pb->context.qos = wire_str(pb, c->qos);
		pb->context.runtime = wire_str(pb, c->runtime);
		pb->context.user_unit = c->user_unit;
		pb->context.token_state = wire_str(pb, c->token_state);
		if (c->has_token) {
			nhiscope__wire__token__init(&pb->token);
			pb->token.fingerprint = wire_str(pb, c->token.fingerprint);
			pb->token.issued_at = c->token.issued_at;
			pb->token.expires_at = c->token.expires_at;
			pb->token.long_lived = c->token.long_lived;
			pb->token.legacy = c->token.legacy;
			pb->context.token = &pb->token;
		}
		pb->identity.context = &pb->context;
	}

	pb->process.pid = r->process.pid;
	pb->process.ppid = r->process.ppid;
	pb->process.uid = r->process.uid;
	pb->process.user = wire_str(pb, r->process.user);
	pb->process.comm = wire_str(pb, r->process.comm);
	pb->process.exe = wire_str(pb, r->process.exe);
	pb->process.tid = r->process.tid;
	pb->process.gid = r->process.gid;
	pb->process.mntns = r->process.mntns;
	pb->process.cgroup_id = r->process.cgroup_id;
	pb->process.interactive = r->process.interactive;
	pb->process.repeat = r->process.repeat;
	pb->process.start_ms = r->process.start_ms;
	m->process = &pb->process;
	m->format = NH_WIRE_FORMAT;
	m->cluster = wire_str(pb, r->site.cluster);
	for (size_t i = 0; i < r->site.n_labels; i++) {
		nhiscope__wire__label__init(&pb->labels[i]);
		pb->labels[i].key = wire_str(pb, r->site.labels[i].key);
		pb->labels[i].value = wire_str(pb, r->site.labels[i].value);
		pb->label_ptrs[i] = &pb->labels[i];
	}
	m->n_labels = r->site.n_labels;
	m->labels = pb->label_ptrs;

	switch (r->kind) {
	case NH_WIRE_ANOMALY: {
		const struct nh_wire_anomaly *a = &r->anomaly;
		Nhiscope__Wire__Anomaly *o = &pb->anomaly;

		nhiscope__wire__anomaly__init(o);
		o->category = (Nhiscope__Wire__Category)a->category;
		o->severity = (Nhiscope__Wire__Severity)a->severity;
		o->rate = a->rate;
		o->value = wire_str(pb, a->value);
		o->technique_id = wire_str(pb, a->technique_id);
		o->technique_name = wire_str(pb, a->technique_name);
		o->explanation = wire_str(pb, a->explanation);
		o->baseline_age_ns = a->baseline_age_ns;
		o->baseline_items = a->baseline_items;
		o->rate_observed = finite_or_0(a->rate_observed);
		o->rate_mean = finite_or_0(a->rate_mean);
		o->rate_stddev = finite_or_0(a->rate_stddev);
		m->body_case = NHISCOPE__WIRE__RECORD__BODY_ANOMALY;
		m->anomaly = o;
		break;
	}
	case NH_WIRE_CREDENTIAL_USE: {
		const struct nh_wire_credential_use *c = &r->credential_use;
		Nhiscope__Wire__CredentialUse *o = &pb->cred;

		nhiscope__wire__credential_use__init(o);
		o->credential_kind = wire_str(pb, c->credential_kind);
		o->credential = wire_str(pb, c->credential);
		o->via = wire_str(pb, c->via);
		o->result = c->result;
		o->count = c->count ? c->count : 1;
		o->repeats = c->repeats;
		o->path = wire_str(pb, c->path);
		o->path_truncated = c->path_truncated;
		o->matched_by = wire_str(pb, c->matched_by);
		m->body_case = NHISCOPE__WIRE__RECORD__BODY_CREDENTIAL_USE;
		m->credential_use = o;
		break;
	}
	case NH_WIRE_FINDING: {
		const struct nh_wire_finding *f = &r->finding;
		Nhiscope__Wire__Finding *o = &pb->finding;

		nhiscope__wire__finding__init(o);
		o->type = (Nhiscope__Wire__FindingType)f->type;
		o->secret_kind = wire_str(pb, f->secret_kind);
		o->fingerprint = wire_str(pb, f->fingerprint);
		o->fingerprint_previous = wire_str(pb, f->fingerprint_previous);
		o->reason = wire_str(pb, f->reason);
		o->argument = wire_str(pb, f->argument);
		o->credential_kind = wire_str(pb, f->credential_kind);
		o->credential = wire_str(pb, f->credential);
		o->path = wire_str(pb, f->path);
		o->claimed_identity = wire_str(pb, f->claimed_identity);
		o->believed_identity = wire_str(pb, f->believed_identity);
		o->arg_index = f->arg_index;
		for (size_t i = 0; i < f->n_identities; i++)
			pb->identities[i] = wire_str(pb, f->identities[i]);
		o->n_identities = f->n_identities;
		o->identities = pb->identities;
		o->identities_unlisted = f->identities_unlisted;
		o->session_pid = f->session_pid;
		o->tty = f->tty;
		o->entered_namespace = f->entered_namespace;
		m->body_case = NHISCOPE__WIRE__RECORD__BODY_FINDING;
		m->finding = o;
		break;
	}
	case NH_WIRE_ACTIVITY: {
		const struct nh_wire_activity *a = &r->activity;
		Nhiscope__Wire__Activity *o = &pb->activity;

		nhiscope__wire__activity__init(o);
		o->kind = wire_str(pb, a->kind ? a->kind : nh_wire_event_name(a->event));
		o->event = (Nhiscope__Wire__EventKind)a->event;
		o->syscall = wire_str(pb, a->syscall);
		o->path = wire_str(pb, a->path);
		for (size_t i = 0; i < a->n_args; i++)
			pb->args[i] = wire_str(pb, a->args[i]);
		o->n_args = a->n_args;
		o->args = pb->args;
		o->secrets_redacted = a->secrets_redacted;
		o->ns_pid = a->ns_pid;
		o->tty = a->tty;
		o->entered_namespace = a->entered_namespace;
		o->child_pid = a->child_pid;
		o->exit_code = a->exit_code;
		o->signal = a->signal;
		o->ipv6 = a->ipv6;
		o->address = wire_str(pb, a->address);
		o->port = a->port;
		o->local_port = a->local_port;
		o->fd = a->fd;
		o->dirfd = a->dirfd;
		o->flags = a->flags;
		o->mode = a->mode;
		o->result = a->result;
		if (a->event == NH_WIRE_EV_SETUID || a->event == NH_WIRE_EV_SETGID) {
			nhiscope__wire__ids__init(&pb->ids[0]);
			nhiscope__wire__ids__init(&pb->ids[1]);
			pb->ids[0].real = a->old_ids.real;
			pb->ids[0].effective = a->old_ids.effective;
			pb->ids[0].saved = a->old_ids.saved;
			pb->ids[1].real = a->new_ids.real;
			pb->ids[1].effective = a->new_ids.effective;
			pb->ids[1].saved = a->new_ids.saved;
			o->old_ids = &pb->ids[0];
			o->new_ids = &pb->ids[1];
		}
		if (a->event == NH_WIRE_EV_CAPSET) {
			nhiscope__wire__caps__init(&pb->caps[0]);
			nhiscope__wire__caps__init(&pb->caps[1]);
			pb->caps[0].effective = a->old_caps.effective;
			pb->caps[0].permitted = a->old_caps.permitted;
			pb->caps[0].inheritable = a->old_caps.inheritable;
			pb->caps[1].effective = a->new_caps.effective;
			pb->caps[1].permitted = a->new_caps.permitted;
			pb->caps[1].inheritable = a->new_caps.inheritable;
			o->old_caps = &pb->caps[0];
			o->new_caps = &pb->caps[1];
		}
		o->of = (Nhiscope__Wire__EventKind)a->of;
		o->count = a->count;
		o->object = wire_str(pb, a->object);
		o->window_start_ns = a->window_start_ns;
		o->path_truncated = a->path_truncated;
		o->args_truncated = a->args_truncated;
		o->args_bytes = a->args_bytes;
		o->deduplicated = a->deduplicated;
		o->credential = wire_str(pb, a->credential);
		o->credential_kind = wire_str(pb, a->credential_kind);
		o->via = wire_str(pb, a->via);
		o->device = a->device;
		o->inode = a->inode;
		o->euid = a->euid;
		o->egid = a->egid;
		o->cap_effective = a->cap_effective;
		o->cap_permitted = a->cap_permitted;
		o->privileged_exec = a->privileged_exec;
		o->compat32 = a->compat32;
		o->user_address = a->user_address;
		o->target_pid = a->target_pid;
		o->op = a->op;
		o->op_name = wire_str(pb, a->op_name);
		o->msg_index = a->msg_index;
		o->sock_type = wire_str(pb, a->sock_type);
		o->result_unknown = a->result_unknown;
		m->body_case = NHISCOPE__WIRE__RECORD__BODY_ACTIVITY;
		m->activity = o;
		break;
	}
	case NH_WIRE_LOSS:
		nhiscope__wire__loss_report__init(&pb->loss);
		pb->loss.what = wire_str(pb, r->loss.what);
		pb->loss.window_start_ns = r->loss.window_start_ns;
		pb->loss.window_end_ns = r->loss.window_end_ns;
		pb->loss.source = wire_str(pb, r->loss.source);
		pb->loss.n_counts =
		    wire_counters(pb, 0, r->loss.counts, r->loss.n_counts, &pb->loss.counts);
		pb->loss.n_totals = wire_counters(pb, NH_WIRE_COUNTERS_MAX, r->loss.totals,
						  r->loss.n_totals, &pb->loss.totals);
		pb->loss.identity_cgroup_id = r->loss.identity_cgroup_id;
		m->body_case = NHISCOPE__WIRE__RECORD__BODY_LOSS;
		m->loss = &pb->loss;
		break;
	case NH_WIRE_FLOOD:
		nhiscope__wire__flood__init(&pb->flood);
		pb->flood.window_start_ns = r->flood.window_start_ns;
		pb->flood.window_end_ns = r->flood.window_end_ns;
		pb->flood.n_counts =
		    wire_counters(pb, 0, r->flood.counts, r->flood.n_counts, &pb->flood.counts);
		pb->flood.budget = r->flood.budget;
		pb->flood.budget_window_ns = r->flood.budget_window_ns;
		pb->flood.identity_cgroup_id = r->flood.identity_cgroup_id;
		m->body_case = NHISCOPE__WIRE__RECORD__BODY_FLOOD;
		m->flood = &pb->flood;
		break;
	case NH_WIRE_MONITORING_GAP:
		nhiscope__wire__monitoring_gap__init(&pb->gap);
		pb->gap.start_ns = r->monitoring_gap.start_ns;
		pb->gap.end_ns = r->monitoring_gap.end_ns;
		pb->gap.clean_stop = r->monitoring_gap.clean_stop;
		pb->gap.reason = wire_str(pb, r->monitoring_gap.reason);
		m->body_case = NHISCOPE__WIRE__RECORD__BODY_MONITORING_GAP;
		m->monitoring_gap = &pb->gap;
		break;
	case NH_WIRE_HEARTBEAT:
		nhiscope__wire__heartbeat__init(&pb->heartbeat);
		pb->heartbeat.agent_version = wire_str(pb, r->heartbeat.agent_version);
		pb->heartbeat.probes_attached = r->heartbeat.probes_attached;
		pb->heartbeat.probes_missing = r->heartbeat.probes_missing;
		pb->heartbeat.monitoring_tampered = r->heartbeat.monitoring_tampered;
		pb->heartbeat.n_counters = wire_counters(
		    pb, 0, r->heartbeat.counters, r->heartbeat.n_counters, &pb->heartbeat.counters);
		m->body_case = NHISCOPE__WIRE__RECORD__BODY_HEARTBEAT;
		m->heartbeat = &pb->heartbeat;
		break;
	default:
		break;
	}
	return pb->err;
}

size_t nh_wire_packed_size(const struct nh_wire_record *r)
{
	struct pb *pb;
	size_t n = 0;

	if (validate(r, false, NULL))
		return 0;
	/* about 6 KiB: keep it off small stacks */
	pb = malloc(sizeof(*pb));
	if (!pb)
		return 0;
	if (pb_build(pb, r) == 0)
		n = protobuf_c_message_get_packed_size(&pb->rec.base);
	pb_release(pb);
	free(pb);
	return n;
}

int nh_wire_pack(const struct nh_wire_record *r, uint8_t *buf, size_t cap, size_t *len)
{
	struct pb *pb;
	size_t n;
	int rc;

	rc = validate(r, false, NULL);
	if (rc)
		return rc;
	pb = malloc(sizeof(*pb));
	if (!pb)
		return -ENOMEM;
	rc = pb_build(pb, r);
	if (rc)
		goto cleanup;
	n = protobuf_c_message_get_packed_size(&pb->rec.base);
	if (n > cap || n > NH_WIRE_MAX) {
		rc = -EMSGSIZE;
		goto cleanup;
	}
	*len = protobuf_c_message_pack(&pb->rec.base, buf);
cleanup:
	pb_release(pb);
	free(pb);
	return rc;
}

/* The arena: one block, bumped; what does not fit goes to the heap and
 * the block grows to the high-water mark at the next reset. */
struct nh_wire_arena {
	ProtobufCAllocator pa;
	char *block;
	size_t used, cap, want;
	void **spill;
	size_t nspill, spill_cap;
};

static void *arena_alloc(void *data, size_t n)
{
	struct nh_wire_arena *a = data;
	size_t at = (a->used + 15) & ~(size_t)15;
	void *p;

	a->want = at + n > a->want ? at + n : a->want;
	if (at <= a->cap && n <= a->cap - at) {
		a->used = at + n;
		return a->block + at;
	}
	if (a->nspill == a->spill_cap) {
		size_t cap = a->spill_cap ? 2 * a->spill_cap : 16;
		void **s = realloc(a->spill, cap * sizeof(*s));

		if (!s)
			return NULL;
		a->spill = s;
		a->spill_cap = cap;
	}
	p = malloc(n);
	if (p)
		a->spill[a->nspill++] = p;
	return p;
}

static void arena_nofree(void *data, void *p)
{
	(void)data;
	(void)p;
}

static void arena_reset(struct nh_wire_arena *a)
{
	for (size_t i = 0; i < a->nspill; i++)
		free(a->spill[i]);
	a->nspill = 0;
	if (a->want > a->cap) {
		size_t cap = a->cap ? a->cap : 16384;
		char *b;

		while (cap < a->want)
			cap *= 2;
		b = realloc(a->block, cap);
		if (b) {
			a->block = b;
			a->cap = cap;
		}
	}
	a->used = a->want = 0;
}

struct nh_wire_arena *nh_wire_arena_new(void)
{
	struct nh_wire_arena *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->pa =
	    (ProtobufCAllocator){.alloc = arena_alloc, .free = arena_nofree, .allocator_data = a};
	a->want = 16384;
	arena_reset(a);
	return a;
}

void nh_wire_arena_free(struct nh_wire_arena *a)
{
	if (!a)
		return;
	arena_reset(a);
	free(a->spill);
	free(a->block);
	free(a);
}

void nh_wire_free(struct nh_wire_record *r)
{
	if (r->priv && r->arena)
		arena_reset(r->arena);
	else if (r->priv)
		nhiscope__wire__record__free_unpacked(r->priv, NULL);
	free(r->legacy);
	memset(r, 0, sizeof(*r));
}

/* A decoded string: protobuf-c gives "" or a NUL-terminated copy; an
 * embedded NUL simply ends it early. */
static const char *dec(const char *s, bool *bad)
{
	if (!s)
		return "";
	if (!utf8_valid(s))
		*bad = true;
	return s;
}

static int dec_counters(Nhiscope__Wire__Counter **in, size_t n, struct nh_wire_counter *out,
			bool *bad)
{
	if (n > NH_WIRE_COUNTERS_MAX)
		return -EBADMSG;
	for (size_t i = 0; i < n; i++) {
		out[i].name = dec(in[i]->name, bad);
		out[i].value = in[i]->value;
	}
	return 0;
}

/* Format 1's Activity.json (field 2, no longer in the schema, so an
 * unknown field to protobuf-c): its bytes after the length prefix, as a
 * NUL-terminated copy. NULL when absent; *bad when not a string. */
static char *legacy_json(const ProtobufCMessage *m, bool *bad)
{
	for (size_t i = 0; i < m->n_unknown_fields; i++) {
		const ProtobufCMessageUnknownField *u = &m->unknown_fields[i];
		uint64_t n = 0;
		size_t at = 0;
		char *copy;

		if (u->tag != 2)
			continue;
		if (u->wire_type != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED) {
			*bad = true;
			return NULL;
		}
		for (int shift = 0; at < u->len && shift < 64; shift += 7) {
			n |= (uint64_t)(u->data[at] & 0x7f) << shift;
			if (!(u->data[at++] & 0x80))
				break;
		}
		if (n != u->len - at || memchr(u->data + at, 0, n)) {
			*bad = true;
			return NULL;
		}
		copy = malloc(n + 1);
		if (!copy)
			return NULL;
		memcpy(copy, u->data + at, n);
		copy[n] = '\0';
		if (!utf8_valid(copy))
			*bad = true;
		return copy;
	}
	return NULL;
}

int nh_wire_unpack(const uint8_t *buf, size_t len, struct nh_wire_record *out, const char **why)
{
	return nh_wire_unpack_in(buf, len, out, why, NULL);
}

int nh_wire_unpack_in(const uint8_t *buf, size_t len, struct nh_wire_record *out, const char **why,
		      struct nh_wire_arena *arena)
{
	Nhiscope__Wire__Record *m;
	const char *w = NULL;
	bool bad = false;
	int rc = -EBADMSG;

	memset(out, 0, sizeof(*out));
	if (len > NH_WIRE_MAX) {
		if (why)
			*why = "record larger than NH_WIRE_MAX";
		return -EMSGSIZE;
	}
	if (arena)
		arena_reset(arena);
	m = nhiscope__wire__record__unpack(arena ? &arena->pa : NULL, len, buf);
	if (!m) {
		if (why)
			*why = "not a protobuf nhiscope.wire.Record";
		return -EBADMSG;
	}
	out->priv = m;
	out->arena = arena;
	/* 0: a record of release 1, which had no format field */
	out->format = m->format ? m->format : 1;
	if (out->format < NH_WIRE_FORMAT_MIN || out->format > NH_WIRE_FORMAT) {
		w = out->format > NH_WIRE_FORMAT
			? "record of a newer format than this release reads"
			: "record of a format no longer read";
		goto cleanup;
	}
	if (!m->id) {
		w = "no record id";
		goto cleanup;
	}
	out->id.node = dec(m->id->node, &bad);
	out->id.boot_id = dec(m->id->boot_id, &bad);
	out->id.seq = m->id->seq;
	out->time_ns = m->time_ns;
	out->site.cluster = dec(m->cluster, &bad);
	if (m->n_labels > NH_WIRE_LABELS_MAX) {
		w = "more than NH_WIRE_LABELS_MAX labels";
		goto cleanup;
	}
	out->site.n_labels = m->n_labels;
	for (size_t i = 0; i < m->n_labels; i++) {
		out->site.labels[i].key = dec(m->labels[i]->key, &bad);
		out->site.labels[i].value = dec(m->labels[i]->value, &bad);
	}
	{
		const Nhiscope__Wire__Identity *i = m->identity;
		struct nh_wire_identity *o = &out->identity;

		o->key = dec(i ? i->key : NULL, &bad);
		o->pod_uid = dec(i ? i->pod_uid : NULL, &bad);
		o->pod_name = dec(i ? i->pod_name : NULL, &bad);
		o->namespace = dec(i ? i->namespace_ : NULL, &bad);
		o->service_account = dec(i ? i->service_account : NULL, &bad);
		o->container_id = dec(i ? i->container_id : NULL, &bad);
		o->unit = dec(i ? i->unit : NULL, &bad);
		o->workload_kind = dec(i ? i->workload_kind : NULL, &bad);
		o->workload_name = dec(i ? i->workload_name : NULL, &bad);
		o->node = dec(i ? i->node : NULL, &bad);
		o->source = dec(i ? i->source : NULL, &bad);
		o->verified = i ? i->verified : false;
		if (i && i->context) {
			const Nhiscope__Wire__Context *c = i->context;
			struct nh_wire_context *oc = &o->context;

			oc->cgroup = dec(c->cgroup, &bad);
			oc->cgroup_kind = dec(c->cgroup_kind, &bad);
			oc->delegated = c->delegated;
			oc->qos = dec(c->qos, &bad);
			oc->runtime = dec(c->runtime, &bad);
			oc->user_unit = c->user_unit;
			oc->token_state = dec(c->token_state, &bad);
			if (c->token) {
				oc->has_token = true;
				oc->token.fingerprint = dec(c->token->fingerprint, &bad);
				oc->token.issued_at = c->token->issued_at;
				oc->token.expires_at = c->token->expires_at;
				oc->token.long_lived = c->token->long_lived;
				oc->token.legacy = c->token->legacy;
			}
		} else {
			o->context = (struct nh_wire_context){
			    "", "", false, "", "", false, "", false, {.fingerprint = ""}};
		}
	}
	{
		const Nhiscope__Wire__Process *p = m->process;
		struct nh_wire_process *o = &out->process;

		o->pid = p ? p->pid : 0;
		o->ppid = p ? p->ppid : 0;
		o->uid = p ? p->uid : 0;
		o->user = dec(p ? p->user : NULL, &bad);
		o->comm = dec(p ? p->comm : NULL, &bad);
		o->exe = dec(p ? p->exe : NULL, &bad);
		o->tid = p ? p->tid : 0;
		o->gid = p ? p->gid : 0;
		o->mntns = p ? p->mntns : 0;
		o->cgroup_id = p ? p->cgroup_id : 0;
		o->interactive = p ? p->interactive : false;
		o->repeat = p ? p->repeat : false;
		o->start_ms = p ? p->start_ms : 0;
	}

	switch (m->body_case) {
	case NHISCOPE__WIRE__RECORD__BODY_ANOMALY: {
		const Nhiscope__Wire__Anomaly *a = m->anomaly;
		struct nh_wire_anomaly *o = &out->anomaly;

		out->kind = NH_WIRE_ANOMALY;
		/* open enums: out-of-range values survive decoding, validate() rejects them */
		o->category = (enum nh_wire_category)a->category;
		o->severity = (enum nh_wire_severity)a->severity;
		o->rate = a->rate;
		o->value = dec(a->value, &bad);
		o->technique_id = dec(a->technique_id, &bad);
		o->technique_name = dec(a->technique_name, &bad);
		o->explanation = dec(a->explanation, &bad);
		o->baseline_age_ns = a->baseline_age_ns;
		o->baseline_items = a->baseline_items;
		o->rate_observed = a->rate_observed;
		o->rate_mean = a->rate_mean;
		o->rate_stddev = a->rate_stddev;
		break;
	}
	case NHISCOPE__WIRE__RECORD__BODY_CREDENTIAL_USE: {
		const Nhiscope__Wire__CredentialUse *c = m->credential_use;
		struct nh_wire_credential_use *o = &out->credential_use;

		out->kind = NH_WIRE_CREDENTIAL_USE;
		o->credential_kind = dec(c->credential_kind, &bad);
		o->credential = dec(c->credential, &bad);
		o->via = dec(c->via, &bad);
		o->result = c->result;
		o->count = c->count;
		o->repeats = c->repeats;
		o->path = dec(c->path, &bad);
		o->path_truncated = c->path_truncated;
		o->matched_by = dec(c->matched_by, &bad);
		break;
	}
	case NHISCOPE__WIRE__RECORD__BODY_FINDING: {
		const Nhiscope__Wire__Finding *f = m->finding;
		struct nh_wire_finding *o = &out->finding;

		out->kind = NH_WIRE_FINDING;
		if (f->n_identities > NH_WIRE_IDENTITIES_MAX) {
			w = "finding: more than NH_WIRE_IDENTITIES_MAX identities";
			goto cleanup;
		}
		o->type = (enum nh_wire_finding_type)f->type;
		o->secret_kind = dec(f->secret_kind, &bad);
		o->fingerprint = dec(f->fingerprint, &bad);
		o->fingerprint_previous = dec(f->fingerprint_previous, &bad);
		o->reason = dec(f->reason, &bad);
		o->argument = dec(f->argument, &bad);
		o->credential_kind = dec(f->credential_kind, &bad);
		o->credential = dec(f->credential, &bad);
		o->path = dec(f->path, &bad);
		o->claimed_identity = dec(f->claimed_identity, &bad);
		o->believed_identity = dec(f->believed_identity, &bad);
		o->arg_index = f->arg_index;
		o->n_identities = f->n_identities;
		for (size_t i = 0; i < f->n_identities; i++)
			o->identities[i] = dec(f->identities[i], &bad);
		o->identities_unlisted = f->identities_unlisted;
		o->session_pid = f->session_pid;
		o->tty = f->tty;
		o->entered_namespace = f->entered_namespace;
		break;
	}
	case NHISCOPE__WIRE__RECORD__BODY_ACTIVITY: {
		const Nhiscope__Wire__Activity *a = m->activity;
		struct nh_wire_activity *o = &out->activity;

		out->kind = NH_WIRE_ACTIVITY;
		if (a->n_args > NH_WIRE_ARGS_MAX) {
			w = "activity: more than NH_WIRE_ARGS_MAX args";
			goto cleanup;
		}
		o->kind = dec(a->kind, &bad);
		o->event = (enum nh_wire_event)a->event;
		if (out->format < NH_WIRE_FORMAT) {
			int e = nh_wire_event_parse(o->kind);

			/* the kind names the event; unknown kinds stay NONE */
			o->event = e > 0 ? (enum nh_wire_event)e : NH_WIRE_EV_NONE;
			out->legacy = legacy_json(&a->base, &bad);
			o->legacy_json = out->legacy;
			break;
		}
		o->syscall = dec(a->syscall, &bad);
		o->path = dec(a->path, &bad);
		o->n_args = a->n_args;
		for (size_t i = 0; i < a->n_args; i++)
			o->args[i] = dec(a->args[i], &bad);
		o->secrets_redacted = a->secrets_redacted;
		o->ns_pid = a->ns_pid;
		o->tty = a->tty;
		o->entered_namespace = a->entered_namespace;
		o->child_pid = a->child_pid;
		o->exit_code = a->exit_code;
		o->signal = a->signal;
		o->ipv6 = a->ipv6;
		o->address = dec(a->address, &bad);
		o->port = a->port;
		o->local_port = a->local_port;
		o->fd = a->fd;
		o->dirfd = a->dirfd;
		o->flags = a->flags;
		o->mode = a->mode;
		o->result = a->result;
		if (a->old_ids)
			o->old_ids = (struct nh_wire_ids){a->old_ids->real, a->old_ids->effective,
							  a->old_ids->saved};
		if (a->new_ids)
			o->new_ids = (struct nh_wire_ids){a->new_ids->real, a->new_ids->effective,
							  a->new_ids->saved};
		if (a->old_caps)
			o->old_caps =
			    (struct nh_wire_caps){a->old_caps->effective, a->old_caps->permitted,
						  a->old_caps->inheritable};
		if (a->new_caps)
			o->new_caps =
			    (struct nh_wire_caps){a->new_caps->effective, a->new_caps->permitted,
						  a->new_caps->inheritable};
		o->of = (enum nh_wire_event)a->of;
		o->count = a->count;
		o->object = dec(a->object, &bad);
		o->window_start_ns = a->window_start_ns;
		o->path_truncated = a->path_truncated;
		o->args_truncated = a->args_truncated;
		o->args_bytes = a->args_bytes;
		o->deduplicated = a->deduplicated;
		o->credential = dec(a->credential, &bad);
		o->credential_kind = dec(a->credential_kind, &bad);
		o->via = dec(a->via, &bad);
		o->device = a->device;
		o->inode = a->inode;
		o->euid = a->euid;
		o->egid = a->egid;
		o->cap_effective = a->cap_effective;
		o->cap_permitted = a->cap_permitted;
		o->privileged_exec = a->privileged_exec;
		o->compat32 = a->compat32;
		o->user_address = a->user_address;
		o->target_pid = a->target_pid;
		o->op = a->op;
		o->op_name = dec(a->op_name, &bad);
		o->msg_index = a->msg_index;
		o->sock_type = dec(a->sock_type, &bad);
		o->result_unknown = a->result_unknown;
		break;
	}
	case NHISCOPE__WIRE__RECORD__BODY_LOSS:
		out->kind = NH_WIRE_LOSS;
		out->loss.what = dec(m->loss->what, &bad);
		out->loss.window_start_ns = m->loss->window_start_ns;
		out->loss.window_end_ns = m->loss->window_end_ns;
		if (dec_counters(m->loss->counts, m->loss->n_counts, out->loss.counts, &bad)) {
			w = "loss report: more than NH_WIRE_COUNTERS_MAX counts";
			goto cleanup;
		}
		out->loss.n_counts = m->loss->n_counts;
		out->loss.source = dec(m->loss->source, &bad);
		if (dec_counters(m->loss->totals, m->loss->n_totals, out->loss.totals, &bad)) {
			w = "loss report: more than NH_WIRE_COUNTERS_MAX totals";
			goto cleanup;
		}
		out->loss.n_totals = m->loss->n_totals;
		out->loss.identity_cgroup_id = m->loss->identity_cgroup_id;
		break;
	case NHISCOPE__WIRE__RECORD__BODY_FLOOD:
		out->kind = NH_WIRE_FLOOD;
		out->flood.window_start_ns = m->flood->window_start_ns;
		out->flood.window_end_ns = m->flood->window_end_ns;
		if (dec_counters(m->flood->counts, m->flood->n_counts, out->flood.counts, &bad)) {
			w = "flood: more than NH_WIRE_COUNTERS_MAX counts";
			goto cleanup;
		}
		out->flood.n_counts = m->flood->n_counts;
		out->flood.budget = m->flood->budget;
		out->flood.budget_window_ns = m->flood->budget_window_ns;
		out->flood.identity_cgroup_id = m->flood->identity_cgroup_id;
		break;
	case NHISCOPE__WIRE__RECORD__BODY_MONITORING_GAP:
		out->kind = NH_WIRE_MONITORING_GAP;
		out->monitoring_gap.start_ns = m->monitoring_gap->start_ns;
		out->monitoring_gap.end_ns = m->monitoring_gap->end_ns;
		out->monitoring_gap.clean_stop = m->monitoring_gap->clean_stop;
		out->monitoring_gap.reason = dec(m->monitoring_gap->reason, &bad);
		break;
	case NHISCOPE__WIRE__RECORD__BODY_HEARTBEAT:
		out->kind = NH_WIRE_HEARTBEAT;
		out->heartbeat.agent_version = dec(m->heartbeat->agent_version, &bad);
		out->heartbeat.probes_attached = m->heartbeat->probes_attached;
		out->heartbeat.probes_missing = m->heartbeat->probes_missing;
		out->heartbeat.monitoring_tampered = m->heartbeat->monitoring_tampered;
		if (dec_counters(m->heartbeat->counters, m->heartbeat->n_counters,
				 out->heartbeat.counters, &bad)) {
			w = "heartbeat: more than NH_WIRE_COUNTERS_MAX counters";
			goto cleanup;
		}
		out->heartbeat.n_counters = m->heartbeat->n_counters;
		break;
	default:
		break; /* validate() names what is missing first */
	}
	if (bad) {
		w = "string not valid UTF-8";
		goto cleanup;
	}
	if (validate(out, true, &w))
		goto cleanup;
	rc = 0;
cleanup:
	if (rc) {
		nh_wire_free(out);
		if (why)
			*why = w;
	}
	return rc;
}
