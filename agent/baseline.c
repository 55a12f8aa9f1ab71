// SPDX-License-Identifier: Apache-2.0
#include "baseline.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "record.h"

int nh_baseline_init(struct nh_baseline *b, const struct nh_model_config *cfg, size_t max_profiles)
{
	memset(b, 0, sizeof(*b));
	return nh_models_init(&b->models, cfg, max_profiles);
}

void nh_baseline_free(struct nh_baseline *b)
{
	nh_models_free(&b->models);
}

static uint64_t wall_ns(const struct nh_attributed *ev)
{
	return ev->h->ts_ns + (uint64_t)ev->wall_offset_ns;
}

/* "10.0.0.1:443" or "[::1]:443" back into an address (summaries carry
 * only the object's description). */
static bool parse_endpoint(const char *s, struct nh_observation *o)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(s, ':');
	size_t n;

	if (!colon || colon == s)
		return false;
	n = (size_t)(colon - s);
	if (s[0] == '[') {
		if (n < 3 || s[n - 1] != ']' || n - 2 >= sizeof(host))
			return false;
		memcpy(host, s + 1, n - 2);
		host[n - 2] = '\0';
		o->family = AF_INET6;
	} else {
		if (n >= sizeof(host))
			return false;
		memcpy(host, s, n);
		host[n] = '\0';
		o->family = AF_INET;
	}
	o->port = (uint16_t)atoi(colon + 1);
	return inet_pton(o->family, host, o->addr) == 1;
}

/* setfsuid/setfsgid: a change of the file-system id (what file access is
 * checked against); setgroups: the number of supplementary groups set. */
static bool fs_observation(const struct nh_cred_event *e, struct nh_observation *o, char *buf,
			   size_t len)
{
	if (e->syscall == NH_SYS_SETGROUPS) {
		if (e->result < 0)
			return false;
		snprintf(buf, len, "setgroups %u", e->new_ids[2]);
	} else {
		if (e->old_ids[2] == e->new_ids[2])
			return false;
		snprintf(buf, len, "%s %u->%u", nh_syscall_name(e->syscall), e->old_ids[2],
			 e->new_ids[2]);
	}
	o->cat = NH_CAT_PRIVILEGE;
	o->value = buf;
	return true;
}

/* An exec of a setuid, setgid or file-capability binary is also a
 * privilege change: what the image runs as. */
static bool exec_privilege(const struct nh_attributed *ev, struct nh_observation *o, char *buf,
			   size_t len)
{
	const struct nh_exec_event *e = (const void *)ev->h;

	if (ev->h->kind != NH_KIND_EXEC || !(ev->h->flags & NH_F_PRIV_EXEC))
		return false;
	memset(o, 0, sizeof(*o));
	o->ts_ns = wall_ns(ev);
	o->count = 1;
	o->cat = NH_CAT_PRIVILEGE;
	snprintf(buf, len, "exec %.*s euid=%u egid=%u caps=0x%llx", (int)e->path_len, e->path,
		 e->euid, e->egid, (unsigned long long)e->cap_permitted);
	o->value = buf;
	return true;
}

/* What an event says about behaviour; false when it says nothing the
 * model keeps (failures, forks, exits). */
static bool observation(const struct nh_attributed *ev, struct nh_observation *o, char *buf,
			size_t len)
{
	const struct nh_hdr *h = ev->h;

	memset(o, 0, sizeof(*o));
	o->ts_ns = wall_ns(ev);
	o->count = 1;
	switch (h->kind) {
	case NH_KIND_EXEC: {
		const struct nh_exec_event *e = (const void *)h;

		o->cat = NH_CAT_EXEC;
		o->value = e->path;
		o->parent = ev->parent_exe;
		return true;
	}
	case NH_KIND_CONNECT: {
		const struct nh_connect_event *e = (const void *)h;

		if (e->result != 0 && e->result != -EINPROGRESS)
			return false;
		o->cat = NH_CAT_EGRESS;
		o->family = e->dst.family;
		memcpy(o->addr, e->dst.addr, sizeof(o->addr));
		o->port = e->dst.port;
		return true;
	}
	case NH_KIND_ACCEPT: {
		const struct nh_accept_event *e = (const void *)h;

		if (e->result < 0)
			return false;
		o->cat = NH_CAT_INGRESS;
		o->family = e->peer.family;
		o->port = e->local_port;
		return true;
	}
	case NH_KIND_OPEN: {
		const struct nh_open_event *e = (const void *)h;

		if (e->result < 0)
			return false;
		o->cat = NH_CAT_FILE;
		/* The decoder checked path_len < NH_PATH_MAX <= len. */
		memcpy(buf, e->path, e->path_len);
		buf[e->path_len] = '\0';
		o->value = buf;
		return true;
	}
	case NH_KIND_SETUID:
	case NH_KIND_SETGID: {
		const struct nh_cred_event *e = (const void *)h;

		if (e->syscall >= NH_SYS_SETFSUID && e->syscall <= NH_SYS_SETGROUPS)
			return fs_observation(e, o, buf, len);
		if (e->result < 0 || e->old_ids[1] == e->new_ids[1])
			return false;
		snprintf(buf, len, "%s %u->%u", h->kind == NH_KIND_SETUID ? "setuid" : "setgid",
			 e->old_ids[1], e->new_ids[1]);
		o->cat = NH_CAT_PRIVILEGE;
		o->value = buf;
		return true;
	}
	case NH_KIND_CAPSET: {
		const struct nh_capset_event *e = (const void *)h;
		uint64_t gained = e->new_effective & ~e->old_effective;

		/* Dropping capabilities is good hygiene, not behaviour to learn. */
		if (e->result < 0 || !gained)
			return false;
		snprintf(buf, len, "capset +0x%llx", (unsigned long long)gained);
		o->cat = NH_CAT_PRIVILEGE;
		o->value = buf;
		return true;
	}
	case NH_KIND_SEND: {
		const struct nh_send_event *e = (const void *)h;

		if (e->result < 0)
			return false;
		o->cat = NH_CAT_EGRESS;
		o->family = e->dst.family;
		memcpy(o->addr, e->dst.addr, sizeof(o->addr));
		o->port = e->dst.port;
		return true;
	}
	case NH_KIND_NAMESPACE:
	case NH_KIND_PTRACE:
	case NH_KIND_BPF:
	case NH_KIND_MODULE:
	case NH_KIND_IO_URING_CREATE:
	case NH_KIND_COMPAT_SYSCALL: {
		/* Tried is behaviour too: a denied ptrace or module load is
		 * the attempt an escape starts with. */
		o->cat = NH_CAT_ISOLATION;
		nh_render_object(h, buf, len);
		o->value = buf;
		return true;
	}
	case NH_KIND_SUMMARY: {
		const struct nh_summary_event *s = (const void *)h;

		if (!ev->object)
			return false;
		if (s->key.kind == NH_KIND_SEND) {
			o->cat = NH_CAT_EGRESS;
			return parse_endpoint(ev->object, o);
		}
		if ((s->key.kind >= NH_KIND_NAMESPACE && s->key.kind <= NH_KIND_MODULE) ||
		    s->key.kind == NH_KIND_IO_URING_CREATE ||
		    s->key.kind == NH_KIND_COMPAT_SYSCALL) {
			o->cat = NH_CAT_ISOLATION;
			o->value = ev->object;
			return true;
		}
		o->count = s->count;
		if (s->key.kind == NH_KIND_OPEN) {
			o->cat = NH_CAT_FILE;
			o->value = ev->object;
			return true;
		}
		if (s->key.kind == NH_KIND_CONNECT) {
			o->cat = NH_CAT_EGRESS;
			return parse_endpoint(ev->object, o);
		}
		if (s->key.kind == NH_KIND_ACCEPT) {
			const char *p = strstr(ev->object, "-> :");

			o->cat = NH_CAT_INGRESS;
			o->port = p ? (uint16_t)atoi(p + 4) : 0;
			return p != NULL;
		}
		return false;
	}
	default:
		return false;
	}
}

static void explain(const struct nh_anomaly *an, char *buf, size_t len)
{
	double days = (double)an->baseline_age_ns / 86400e9;

	if (an->rate)
		snprintf(buf, len, "%s events at %.0f/min, baseline %.1f/min (stddev %.1f) for %s",
			 nh_category_name(an->cat), an->per_min, an->mean, an->stddev,
			 an->identity);
	else
		snprintf(buf, len,
			 "first %s \"%s\" for %s, whose baseline holds %u such items learned over "
			 "%.2f days",
			 nh_category_name(an->cat), an->value, an->identity, an->baseline_items,
			 days);
}

/* An anomaly as its record; the attribution is already in b->rec. */
static void anomaly_body(struct nh_baseline *b, const struct nh_anomaly *an)
{
	struct nh_wire_record *r = &b->rec;

	explain(an, b->why, sizeof(b->why));
	r->kind = NH_WIRE_ANOMALY;
	r->anomaly = (struct nh_wire_anomaly){
	    /* models.h numbers categories from 0, the wire from 1 (0: none) */
	    .category = (enum nh_wire_category)(an->cat + 1),
	    .severity = (enum nh_wire_severity)an->severity,
	    .rate = an->rate,
	    .value = an->value,
	    .technique_id = an->technique,
	    .technique_name = an->technique ? an->technique_name : NULL,
	    .explanation = b->why,
	    .baseline_age_ns = an->baseline_age_ns,
	    .baseline_items = an->baseline_items,
	    .rate_observed = an->rate ? an->per_min : 0,
	    .rate_mean = an->rate ? an->mean : 0,
	    .rate_stddev = an->rate ? an->stddev : 0,
	};
}

static void count(struct nh_baseline *b, const struct nh_anomaly *an)
{
	b->anomalies++;
	if ((unsigned)an->cat < NH_CAT_MAX && an->severity >= NH_SEV_LOW &&
	    an->severity <= NH_SEV_CRITICAL)
		b->anomalies_by[an->cat][an->severity]++;
}

static void emit_anomalies(struct nh_baseline *b, const struct nh_attributed *ev, int n,
			   nh_finding_fn emit, void *ctx)
{
	for (int i = 0; i < n; i++) {
		nh_record_attribution(ev, &b->buf, &b->rec);
		anomaly_body(b, &b->out[i]);
		count(b, &b->out[i]);
		emit(ctx, &b->rec);
	}
}

static void observe(struct nh_baseline *b, const struct nh_attributed *ev,
		    const struct nh_observation *o, nh_finding_fn emit, void *ctx, bool *known)
{
	int n =
	    nh_models_observe_known(&b->models, ev->identity, o, b->out, NH_BASELINE_BATCH, known);

	if (n < 0) {
		b->observe_errors++;
		return;
	}
	emit_anomalies(b, ev, n, emit, ctx);
}

void nh_baseline_event(struct nh_baseline *b, const struct nh_attributed *ev, nh_finding_fn emit,
		       void *ctx, bool *known)
{
	struct nh_observation o;
	char buf[NH_PATH_MAX + 64];

	*known = false;
	if (exec_privilege(ev, &o, buf, sizeof(buf))) {
		bool priv_known;

		observe(b, ev, &o, emit, ctx, &priv_known);
	}
	if (!observation(ev, &o, buf, sizeof(buf)))
		return;
	observe(b, ev, &o, emit, ctx, known);
}

void nh_baseline_credential(struct nh_baseline *b, const struct nh_attributed *ev, const char *kind,
			    const char *credential, uint64_t count, nh_finding_fn emit, void *ctx)
{
	struct nh_observation o = {
	    .cat = NH_CAT_CREDENTIAL,
	    .ts_ns = wall_ns(ev),
	    .count = count,
	    .value = credential,
	    .credential_kind = kind,
	};

	observe(b, ev, &o, emit, ctx, NULL);
}

void nh_baseline_tick(struct nh_baseline *b, uint64_t now_wall_ns, nh_finding_fn emit, void *ctx)
{
	int n;

	do {
		n = nh_models_tick(&b->models, now_wall_ns, b->out, NH_BASELINE_BATCH);
		for (int i = 0; i < n; i++) {
			/* of no event: the identity only */
			memset(&b->rec, 0, sizeof(b->rec));
			b->rec.time_ns = now_wall_ns;
			b->rec.identity.key = b->out[i].identity;
			anomaly_body(b, &b->out[i]);
			count(b, &b->out[i]);
			emit(ctx, &b->rec);
		}
	} while (n == NH_BASELINE_BATCH);
}
