// SPDX-License-Identifier: Apache-2.0
#include "agent.h"
#include "privileges.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "compact.h"
#include "decode.h"
#include "record.h"
#include "render.h"

/* epoll data for the fixed sources; clients and the listener use ptrs. */
enum { NH_SRC_RING = 1, NH_SRC_SIGNAL, NH_SRC_TIMER };

#define NH_NSEC 1000000000ULL
/* Records per drain before returning to the loop: under a sustained flood
 * libbpf would keep consuming, starving signals, the flush and clients. */
#define NH_DRAIN_BUDGET 4096

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NH_NSEC + ts.tv_nsec;
}

static int64_t wall_offset_ns(void)
{
	struct timespec rt, mono;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	return (int64_t)(rt.tv_sec - mono.tv_sec) * (int64_t)NH_NSEC + (rt.tv_nsec - mono.tv_nsec);
}

static uint64_t object_digest(uint64_t cgroup_id, uint32_t uid, uint32_t kind, uint64_t hash)
{
	uint64_t d = nh_hash64(cgroup_id ^ nh_hash64(hash ^ ((uint64_t)uid << 32 | kind)));

	return d ? d : 1;
}

/* Remember what a deduplicated series is about, so its summaries can say
 * it; the kernel only hands back a hash. */
static void remember_object(struct nh_agent *a, const struct nh_hdr *h)
{
	uint64_t d = object_digest(h->cgroup_id, h->uid, h->kind, h->obj_hash);
	char desc[NH_PATH_MAX + 64], *copy;

	nh_render_object(h, desc, sizeof(desc));
	copy = strdup(desc);
	if (copy) /* the pod's cgroup owns it: one pod cannot push out another's */
		nh_quotamap_put(&a->objects, h->cgroup_id ? h->cgroup_id : 1, d, copy);
}

static void emit_line(struct nh_agent *a, uint32_t kind, uint32_t pid, uint32_t tid,
		      const char *identity, json_object *o)
{
	size_t len;
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);

	if (a->server.ntail)
		nh_server_publish(&a->server, kind, pid, tid, identity, s, len);
	if (a->cfg.tail) {
		if (a->cfg.tail_format == NH_TAIL_JSON) {
			fwrite(s, 1, len, stdout);
			fputc('\n', stdout);
		} else {
			char line[4096];

			nh_compact_format(o, a->cfg.color, line, sizeof(line));
			fputs(line, stdout);
			fputc('\n', stdout);
		}
	}
}

/* Hand one output to Kafka (through the spool). */
static void ship(struct nh_agent *a, json_object *o, uint64_t mono_ts, const char *activity)
{
	struct nh_wire_record r;
	struct nh_wire_id id;

	if (!a->kafka_on)
		return;
	nh_kafka_next_id(&a->kafka, &id);
	if (nh_record_from_json(o, mono_ts + (uint64_t)a->wall_offset_ns, &id, activity, &r) != 0)
		return;
	/* Timed from the kernel event: an activity event or a finding made
	 * while handling one; not findings of the periodic tick. */
	if (nh_kafka_send_event(&a->kafka, &r, activity || a->current ? mono_ts : 0) != 0)
		a->kafka_errors++;
}

static void emit_finding(void *ctx, uint32_t kind, uint32_t pid, uint32_t tid, const char *identity,
			 json_object *o)
{
	struct nh_agent *a = ctx;
	json_object *v;

	a->findings_emitted[kind - NH_KIND_MAX]++;
	if (a->cfg.tail || nh_server_wants(&a->server, kind, pid, tid, identity))
		emit_line(a, kind, pid, tid, identity, o);
	ship(a, o, a->current ? a->current->h->ts_ns : mono_ns(), NULL);
	/* A credential use is behaviour too: the baseline learns it. */
	if (kind == NH_KIND_CREDENTIAL_USE && a->current) {
		const char *ckind =
		    json_object_get_string(json_object_object_get(o, "credential_kind"));
		const char *cred = json_object_get_string(json_object_object_get(o, "credential"));
		int64_t count =
		    json_object_object_get_ex(o, "count", &v) ? json_object_get_int64(v) : 1;
		int64_t result =
		    json_object_object_get_ex(o, "result", &v) ? json_object_get_int64(v) : 0;

		if (ckind && cred && (result >= 0 || result == -EINPROGRESS))
			nh_baseline_credential(&a->baseline, a->current, ckind, cred,
					       (uint64_t)count, emit_finding, a);
	}
}

/* The dedup series an event opens or a summary closes, 0 for none. */
static uint64_t series_digest(const struct nh_hdr *h, const void *data)
{
	const struct nh_summary_event *s = data;

	if (h->kind == NH_KIND_SUMMARY)
		return object_digest(s->key.cgroup_id, s->key.uid, s->key.kind, s->key.obj_hash);
	return (h->flags & NH_F_DEDUP) ? object_digest(h->cgroup_id, h->uid, h->kind, h->obj_hash)
				       : 0;
}

/* Two claims about one pod's service account: reported once, high
 * severity, naming both; the claim that lost is never the identity. */
static void report_conflict(struct nh_agent *a, struct nh_attributed *ev, const char *identity,
			    struct nh_sa *sa)
{
	json_object *o;

	ev->identity = identity;
	o = nh_render_as(ev, NH_KIND_IDENTITY_CONFLICT);
	if (o) {
		nh_json_str(o, "severity", "high");
		nh_json_str(o, "claimed_identity", sa->conflict_claim);
		nh_json_str(o, "believed_identity", sa->conflict_believed);
		nh_json_str(o, "reason", sa->conflict_reason);
		emit_finding(a, NH_KIND_IDENTITY_CONFLICT, ev->h->tgid, ev->h->pid, identity, o);
		json_object_put(o);
	}
	nh_satokens_conflict_done(&a->tokens, sa);
}

/* A pod's service account (its identity when the token names one), its
 * kubelet record and its workload owner. */
static void attribute_pod(struct nh_agent *a, struct nh_attributed *ev, char *identity, size_t len)
{
	const struct nh_cgroup_info *in = ev->cg ? &ev->cg->info : NULL;
	const char *pod_name = NULL, *node;
	struct nh_sa *sa;

	if (!in || in->kind != NH_CG_K8S_POD)
		return;
	ev->wall_now_s = (int64_t)((ev->h->ts_ns + (uint64_t)a->wall_offset_ns) / NH_NSEC);
	sa = nh_satokens_get(&a->tokens, in->pod_uid, ev->h->tgid,
			     ev->cg->found ? ev->cg->path : NULL, mono_ns());
	ev->sa = sa;
	if (sa && sa->have_claims) {
		int n = snprintf(identity, len, "%s", sa->key);

		/* Cannot happen with valid names (satoken.h); the pod key stays. */
		if (n < 0 || (size_t)n >= len) {
			nh_identity_key(&a->ids, ev->cg, ev->h->uid, identity, len);
		} else {
			ev->identity_source = sa->source;
			ev->identity_verified = sa->verified;
		}
		pod_name = sa->claims.pod_name;
	}
	if (a->kubelet_on)
		ev->pod = nh_kubelet_pod(&a->kubelet, in->pod_uid);
	/* The kubelet knows the pod's service account: a token naming
	 * another one is not believed. */
	if (ev->pod && ev->pod->service_account[0] && sa && sa->have_claims &&
	    (strcmp(ev->pod->service_account, sa->claims.service_account) != 0 ||
	     strcmp(ev->pod->namespace_, sa->claims.namespace_) != 0)) {
		nh_identity_key(&a->ids, ev->cg, ev->h->uid, identity, len);
		ev->identity_source = NH_IDSRC_CGROUP;
		ev->identity_verified = false;
	}
	/* No token at all (automount disabled): the kubelet's record names the
	 * service account. A token that is there but not believed is not
	 * replaced by it: that pod stays k8s:pod/<uid>. */
	if (ev->pod && ev->pod->service_account[0] && ev->pod->namespace_[0] && sa &&
	    !sa->have_claims && sa->state == NH_SA_MISSING) {
		int n = snprintf(identity, len, "k8s:sa/%s/%s", ev->pod->namespace_,
				 ev->pod->service_account);

		if (n < 0 || (size_t)n >= len) {
			nh_identity_key(&a->ids, ev->cg, ev->h->uid, identity, len);
		} else {
			ev->identity_source = NH_IDSRC_POD_RECORD;
			ev->identity_verified = false;
		}
	}
	if (ev->pod && ev->pod->workload_kind[0]) {
		ev->owner_kind = ev->pod->workload_kind;
		ev->owner_name = ev->pod->workload_name;
	} else {
		if (ev->pod && ev->pod->name[0])
			pod_name = ev->pod->name;
		node = sa && sa->have_claims ? sa->claims.node_name : NULL;
		if (pod_name && pod_name[0] &&
		    nh_workload_from_pod(pod_name, node, &a->workload) == 0) {
			ev->owner_kind = a->workload.kind;
			ev->owner_name = a->workload.name;
		}
	}
	/* With the whole context, as the event's own findings have it. */
	if (sa && sa->conflict)
		report_conflict(a, ev, identity, sa);
}

/* Feed the baseline; the first report of an object the stable profile
 * already knows is pinned in the kernel, so that behaviour stops coming
 * up even after it idles. */
static void learn(struct nh_agent *a, const struct nh_attributed *ev)
{
	const struct nh_hdr *h = ev->h;
	bool known = false;

	if (a->findings.was_credential)
		return; /* learned through its credential_use */
	nh_baseline_event(&a->baseline, ev, emit_finding, a, &known);
	if (known && (h->flags & NH_F_DEDUP)) {
		struct nh_dedup_key k = {.cgroup_id = h->cgroup_id,
					 .obj_hash = h->obj_hash,
					 .uid = h->uid,
					 .kind = h->kind};

		if (nh_probes_pin(&a->probes, &k) == 0)
			a->pinned++;
		else
			a->pin_errors++;
	}
}

static void handle_event(struct nh_agent *a, void *data, size_t size)
{
	const struct nh_hdr *h;
	struct nh_attributed ev = {0};
	char identity[NH_IDENTITY_KEY_MAX];
	json_object *o;

	if (nh_decode(data, size, &h) != 0) {
		a->decode_errors++;
		return;
	}
	a->kinds[h->kind].received++;
	if (h->kind == NH_KIND_SUMMARY) {
		const struct nh_summary_event *s = data;

		if (s->key.kind < NH_KIND_MAX)
			a->kinds[s->key.kind].observed += s->count;
	} else {
		a->kinds[h->kind].observed++;
	}

	switch (h->kind) {
	case NH_KIND_EXEC:
		nh_proctable_exec(&a->procs, data);
		break;
	case NH_KIND_FORK:
		nh_proctable_fork(&a->procs, data);
		break;
	case NH_KIND_CGROUP_RMDIR: {
		const struct nh_cgroup_ctx *cg = nh_u64map_get(&a->ids.cgroups, h->cgroup_id);

		/* The pod's own cgroup going away ends the pod. */
		if (cg && cg->info.kind == NH_CG_K8S_POD && !cg->info.container_id[0])
			nh_satokens_forget(&a->tokens, cg->info.pod_uid);
		nh_identity_forget(&a->ids, h->cgroup_id);
		nh_probes_cgroup_gone(&a->probes, h->cgroup_id); /* after its last pin */
		return;
	}
	default:
		break;
	}
	if (h->flags & NH_F_DEDUP)
		remember_object(a, h);

	ev.h = h;
	ev.wall_offset_ns = a->wall_offset_ns;
	ev.proc = h->kind == NH_KIND_SUMMARY ? nh_proctable_get(&a->procs, h->tgid)
					     : nh_proctable_find(&a->procs, h->tgid);
	if (h->kind == NH_KIND_EXEC) {
		const struct nh_proc *parent = nh_proctable_get(&a->procs, h->ppid);

		ev.parent_exe = parent && parent->exe[0] ? parent->exe : NULL;
	}
	ev.cg = nh_identity_cgroup(&a->ids, h->cgroup_id, h->tgid);
	if (!ev.cg || nh_identity_key(&a->ids, ev.cg, h->uid, identity, sizeof(identity)) != 0)
		snprintf(identity, sizeof(identity), "user:%u", h->uid);
	ev.identity_source =
	    ev.cg && ev.cg->info.kind != NH_CG_NONE ? NH_IDSRC_CGROUP : NH_IDSRC_UID;
	ev.user = nh_identity_user(&a->ids, h->uid);
	attribute_pod(a, &ev, identity, sizeof(identity));
	ev.identity = identity;
	ev.interactive =
	    ev.proc && ev.proc->session && ev.cg && ev.proc->session_cgroup == ev.cg->id;
	nh_identity_note(&a->ids, identity, h->ts_ns);
	if (h->kind == NH_KIND_SUMMARY) {
		const struct nh_summary_event *s = data;

		ev.object =
		    nh_quotamap_get(&a->objects, object_digest(s->key.cgroup_id, s->key.uid,
							       s->key.kind, s->key.obj_hash));
	}

	if (a->cfg.tail || nh_server_wants(&a->server, h->kind, h->tgid, h->pid, identity) ||
	    (a->kafka_on && a->cfg.kafka.activity)) {
		o = nh_render(&ev);
		if (o) {
			emit_line(a, h->kind, h->tgid, h->pid, identity, o);
			if (a->kafka_on && a->cfg.kafka.activity)
				ship(a, o, h->ts_ns,
				     json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
			json_object_put(o);
		}
	}
	a->current = &ev;
	nh_findings_event(&a->findings, &ev, series_digest(h, data), emit_finding, a);
	learn(a, &ev);
	a->current = NULL;
	if (h->kind == NH_KIND_EXIT)
		nh_proctable_exit(&a->procs, h->tgid);
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct nh_agent *a = ctx;

	handle_event(a, data, size);
	/* Every record counts against the drain budget; it is consumed either
	 * way, and a negative return makes libbpf stop after it. */
	return ++a->consumed >= NH_DRAIN_BUDGET ? -EAGAIN : 0;
}

/* One bounded drain of the ring buffer. */
static void drain(struct nh_agent *a)
{
	a->consumed = 0;
	nh_probes_consume(&a->probes);
}

/* Kernel-side losses become visible records, not only counters. */
static void report_losses(struct nh_agent *a)
{
	for (uint32_t k = 1; k < NH_KIND_MAX; k++) {
		struct nh_kind_stats *ks = &a->kinds[k];
		struct nh_counters c;
		json_object *o;
		char ts[64];

		if (nh_probes_counters(&a->probes, k, &c) != 0 || c.lost <= ks->lost_reported)
			continue;
		o = json_object_new_object();
		nh_render_time(mono_ns(), a->wall_offset_ns, ts, sizeof(ts));
		json_object_object_add(o, "time", json_object_new_string(ts));
		json_object_object_add(o, "kind", json_object_new_string("loss"));
		json_object_object_add(o, "source", json_object_new_string("kernel"));
		json_object_object_add(o, "of", json_object_new_string(nh_kind_name(k)));
		json_object_object_add(o, "count",
				       json_object_new_int64(c.lost - ks->lost_reported));
		json_object_object_add(o, "total", json_object_new_int64(c.lost));
		nh_warn(&a->log, "ring buffer full: %llu %s events lost (%llu in total)",
			(unsigned long long)(c.lost - ks->lost_reported), nh_kind_name(k),
			(unsigned long long)c.lost);
		emit_line(a, NH_KIND_LOSS, 0, 0, NULL, o);
		json_object_put(o);
		if (a->kafka_on) {
			struct nh_wire_record r = {0};
			uint64_t now = mono_ns() + (uint64_t)a->wall_offset_ns;

			nh_kafka_next_id(&a->kafka, &r.id);
			r.kind = NH_WIRE_LOSS;
			r.time_ns = now;
			r.loss.what = "kernel ring buffer full: events lost before the agent";
			r.loss.window_start_ns = r.loss.window_end_ns = now;
			r.loss.counts[r.loss.n_counts++] =
			    (struct nh_wire_counter){nh_kind_name(k), c.lost - ks->lost_reported};
			if (nh_kafka_send(&a->kafka, &r) != 0)
				a->kafka_errors++;
		}
		ks->lost_reported = c.lost;
	}
}

/* Pod records from the kubelet. A failed fetch keeps the records known
 * so far; it is logged when it starts failing and when it recovers. */
static void refresh_pods(struct nh_agent *a)
{
	int err = nh_kubelet_refresh(&a->kubelet);

	a->kubelet_next_ns = mono_ns() + a->cfg.kubelet_refresh_ms * 1000000ULL;
	if (err) {
		if (a->kubelet_errors++ == 0)
			nh_warn(&a->log, "pod list: %s", a->kubelet.error);
	} else {
		if (a->kubelet_errors)
			nh_info(&a->log, "pod list: %zu pods (recovered)", a->kubelet.npods);
		a->kubelet_errors = 0;
	}
}

static void tick_keys(struct nh_agent *a, uint64_t now);

static void tick(struct nh_agent *a)
{
	uint64_t now = mono_ns(), dt;
	int err = nh_probes_flush(&a->probes);

	if (a->kubelet_on && now >= a->kubelet_next_ns)
		refresh_pods(a);
	tick_keys(a, now);
	nh_baseline_tick(&a->baseline, now + (uint64_t)a->wall_offset_ns, a->wall_offset_ns,
			 emit_finding, a);
	if (a->kafka_on) {
		struct nh_wire_counter c[] = {
		    {"events_received", 0},
		    {"anomalies", a->baseline.anomalies},
		    {"kafka_produced", a->kafka.produced},
		    {"kafka_delivered", a->kafka.delivered},
		    {"kafka_failed", a->kafka.failed},
		    {"spool_pending", nh_spool_pending(&a->kafka.spool)},
		};

		for (int k = 0; k < NH_KIND_MAX; k++)
			c[0].value += a->kinds[k].received;
		nh_kafka_tick(&a->kafka, now, now + (uint64_t)a->wall_offset_ns, a->probes.nprobes,
			      c, sizeof(c) / sizeof(c[0]));
	}
	if (a->persist && now >= a->next_snapshot_ns) {
		nh_profilestore_save(&a->store, &a->baseline.models);
		a->next_snapshot_ns = now + a->cfg.snapshot_interval_ms * 1000000ULL;
	}

	if (err && a->flush_errors++ == 0)
		nh_warn(&a->log, "dedup flush failed: %s", strerror(-err));
	/* Summaries from the flush are in the ring now: deliver them. */
	drain(a);
	report_losses(a);
	dt = now - a->last_rate_ns;
	if (dt >= NH_NSEC) {
		for (int k = 0; k < NH_KIND_MAX; k++) {
			struct nh_kind_stats *ks = &a->kinds[k];

			ks->received_per_sec =
			    (double)(ks->received - ks->prev_received) * NH_NSEC / dt;
			ks->observed_per_sec =
			    (double)(ks->observed - ks->prev_observed) * NH_NSEC / dt;
			ks->prev_received = ks->received;
			ks->prev_observed = ks->observed;
		}
		a->last_rate_ns = now;
	}
	/* Subscribers are flushed by the loop after the whole epoll batch:
	 * flushing here could free a client a later event of the batch names. */
}

static int cmp_seen(const void *x, const void *y)
{
	const struct nh_identity_seen *const *a = x, *const *b = y;

	return (*a)->events < (*b)->events ? 1 : (*a)->events > (*b)->events ? -1 : 0;
}

static json_object *identities_json(struct nh_agent *a)
{
	json_object *o = json_object_new_object(), *list = json_object_new_array();
	size_t n = a->ids.seen.len, i = 0, it = 0;
	struct nh_identity_seen **all = calloc(n ? n : 1, sizeof(*all));
	uint64_t key;
	void *v;

	while (all && nh_u64map_next(&a->ids.seen, &it, &key, &v) && i < n)
		all[i++] = v;
	if (all)
		qsort(all, i, sizeof(*all), cmp_seen);
	for (size_t j = 0; all && j < i && j < 100; j++) {
		json_object *e = json_object_new_object();
		char ts[64];

		json_object_object_add(e, "key", json_object_new_string(all[j]->key));
		json_object_object_add(e, "events", json_object_new_int64(all[j]->events));
		nh_render_time(all[j]->last_ns, a->wall_offset_ns, ts, sizeof(ts));
		json_object_object_add(e, "last_seen", json_object_new_string(ts));
		json_object_array_add(list, e);
	}
	free(all);
	json_object_object_add(o, "count", json_object_new_int64(n));
	json_object_object_add(o, "top", list);
	return o;
}

_Static_assert(NH_METRICS_PROBES_MAX >= NH_PROBES_MAX, "every probe has a metric");
_Static_assert(NH_METRICS_CLASSES == NH_SPOOL_CLASSES && NH_SPOOL_ANOMALY == 0 &&
		   NH_SPOOL_ACTIVITY == 1,
	       "spool classes as metrics.c names them");

/* Every number `nhiscope status` and /metrics report, read once from
 * the agent's state: the two surfaces share this one source. */
static void snapshot(struct nh_agent *a, struct nh_metrics *m)
{
	struct nh_profile_info info;
	const struct nh_credential *cred;
	size_t it = 0;

	memset(m, 0, sizeof(*m));
	m->version = NH_VERSION;
	m->uptime_s = (double)(mono_ns() - a->start_ns) / NH_NSEC;
	m->start_time_s = (double)((int64_t)a->start_ns + a->wall_offset_ns) / NH_NSEC;
	for (int i = 0; i < a->probes.nprobes && i < NH_METRICS_PROBES_MAX; i++) {
		const struct nh_probe *p = &a->probes.probe[i];

		m->probes[m->nprobes++] =
		    (struct nh_metrics_probe){p->prog, p->tracepoint, p->attached};
		m->probes_attached += p->attached;
	}
	for (uint32_t k = 1; k < NH_KIND_MAX; k++) {
		struct nh_counters c;

		nh_probes_counters(&a->probes, k, &c);
		m->kinds[k] = (struct nh_metrics_kind){
		    .received = a->kinds[k].received,
		    .observed = a->kinds[k].observed,
		    .emitted = c.emitted,
		    .deduplicated = c.suppressed,
		    .lost = c.lost,
		};
	}
	m->decode_errors = a->decode_errors;
	m->flush_errors = a->flush_errors;
	m->dedup_window_ms = a->cfg.dedup_window_ms;
	m->dedup_entries = nh_probes_dedup_entries(&a->probes);
	m->dedup_max_entries = a->cfg.dedup_entries;
	{
		struct nh_dedup_stats ds;

		nh_probes_dedup_stats(&a->probes, &ds);
		m->dedup_evicted = ds.evicted;
		m->dedup_purged = ds.purged;
		m->objects_evicted = a->objects.evicted;
		m->series_evicted = a->findings.series.evicted;
	}
	m->ringbuf_bytes = a->cfg.ringbuf_bytes;
	m->processes = a->procs.procs.len;
	m->cgroups_cached = a->ids.cgroups.len;
	m->identities = a->ids.seen.len;

	m->credentials = nh_credentials_len(&a->findings.creds);
	m->credentials_evicted = a->findings.creds.evicted;
	while ((cred = nh_credentials_next(&a->findings.creds, &it)))
		m->credentials_reused += nh_credential_reused(cred);
	m->sa_token_reads = a->tokens.reads;
	m->sa_token_rotations = a->tokens.rotations;
	m->sa_token_failures = a->tokens.failures;
	m->sa_tokens_verified = a->tokens.verified;
	m->sa_tokens_rejected = a->tokens.rejected;
	m->sa_token_keys = a->tokens.keys.n;
	memcpy(m->findings, a->findings_emitted, sizeof(m->findings));
	m->kubelet = a->kubelet_on;
	if (a->kubelet_on) {
		m->pod_records = a->kubelet.npods;
		m->pod_list_failures = a->kubelet_errors;
	}

	it = 0;
	while (nh_models_next(&a->baseline.models, &it, &info)) {
		if (info.state <= NH_PROFILE_STABLE)
			m->profiles[info.state]++;
		m->profile_bytes += info.bytes;
	}
	m->profiles_dropped = a->baseline.models.dropped;
	m->observe_errors = a->baseline.observe_errors;
	m->anomalies = a->baseline.anomalies;
	memcpy(m->anomalies_by, a->baseline.anomalies_by, sizeof(m->anomalies_by));
	m->pinned = a->pinned;
	m->pin_errors = a->pin_errors;
	m->persist = a->persist;
	if (a->persist) {
		m->snapshots_loaded = a->store.loaded;
		m->snapshots_corrupt = a->store.corrupt;
		m->snapshots_saved = a->store.saved;
	}

	m->kafka = a->kafka_on;
	if (a->kafka_on) {
		const struct nh_kafka *k = &a->kafka;

		m->kafka_broker_up = k->broker_up;
		m->kafka_produced = k->produced;
		m->kafka_delivered = k->delivered;
		m->kafka_failed = k->failed;
		m->kafka_queue_full = k->queue_full;
		m->kafka_queued = nh_kafka_queued(k);
		m->kafka_latency_us = &k->delivery_latency_us;
		m->kafka_send_errors = a->kafka_errors;
		for (int c = 0; c < NH_SPOOL_CLASSES && c < NH_METRICS_CLASSES; c++) {
			m->kafka_dropped[c] = k->dropped[c];
			m->spool_records[c] = k->spool.q[c].records;
			m->spool_bytes[c] = k->spool.q[c].bytes;
			m->spool_shed[c] = k->spool.shed[c];
		}
		m->spool_corrupt = k->spool.corrupt;
		m->spool_max_bytes = k->spool.max_bytes;
	}
	m->subscribers = (uint64_t)a->server.ntail;
	m->subscriber_drops = a->server.dropped_total;
}

static json_object *baselines_status(struct nh_agent *a, const struct nh_metrics *m)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "profiles",
			       json_object_new_int64(m->profiles[NH_PROFILE_LEARNING] +
						     m->profiles[NH_PROFILE_STABLE]));
	json_object_object_add(o, "stable", json_object_new_int64(m->profiles[NH_PROFILE_STABLE]));
	json_object_object_add(o, "bytes", json_object_new_int64(m->profile_bytes));
	json_object_object_add(o, "anomalies", json_object_new_int64(m->anomalies));
	json_object_object_add(o, "pinned_in_kernel", json_object_new_int64(m->pinned));
	json_object_object_add(o, "pin_errors", json_object_new_int64(m->pin_errors));
	json_object_object_add(o, "dropped", json_object_new_int64(m->profiles_dropped));
	if (m->persist) {
		json_object_object_add(o, "snapshot_dir", json_object_new_string(a->store.dir));
		json_object_object_add(o, "snapshots_loaded",
				       json_object_new_int64(m->snapshots_loaded));
		json_object_object_add(o, "snapshots_corrupt",
				       json_object_new_int64(m->snapshots_corrupt));
		json_object_object_add(o, "snapshots_saved",
				       json_object_new_int64(m->snapshots_saved));
	}
	return o;
}

static json_object *credentials_status(struct nh_agent *a, const struct nh_metrics *m)
{
	json_object *o = json_object_new_object(), *f = json_object_new_object();

	json_object_object_add(o, "known", json_object_new_int64(m->credentials));
	json_object_object_add(o, "reused", json_object_new_int64(m->credentials_reused));
	json_object_object_add(o, "evicted", json_object_new_int64(m->credentials_evicted));
	json_object_object_add(o, "sa_tokens_read", json_object_new_int64(m->sa_token_reads));
	json_object_object_add(o, "sa_token_rotations",
			       json_object_new_int64(m->sa_token_rotations));
	json_object_object_add(o, "sa_token_failures", json_object_new_int64(m->sa_token_failures));
	json_object_object_add(o, "sa_tokens_verified",
			       json_object_new_int64(m->sa_tokens_verified));
	json_object_object_add(o, "sa_tokens_rejected",
			       json_object_new_int64(m->sa_tokens_rejected));
	json_object_object_add(o, "sa_token_keys", json_object_new_int64(m->sa_token_keys));
	for (uint32_t k = NH_KIND_CREDENTIAL_USE; k < NH_KIND_ALL; k++)
		json_object_object_add(f, nh_kind_name(k),
				       json_object_new_int64(m->findings[k - NH_KIND_MAX]));
	json_object_object_add(o, "findings", f);
	if (m->kubelet) {
		json_object_object_add(o, "pod_records", json_object_new_int64(m->pod_records));
		if (m->pod_list_failures)
			json_object_object_add(o, "pod_list_error",
					       json_object_new_string(a->kubelet.error));
	}
	return o;
}

static json_object *kafka_status(struct nh_agent *a, const struct nh_metrics *m)
{
	json_object *k = json_object_new_object();

	json_object_object_add(k, "brokers", json_object_new_string(a->cfg.kafka.brokers));
	json_object_object_add(k, "broker_up", json_object_new_boolean(m->kafka_broker_up));
	json_object_object_add(k, "produced", json_object_new_int64(m->kafka_produced));
	json_object_object_add(k, "delivered", json_object_new_int64(m->kafka_delivered));
	json_object_object_add(k, "failed", json_object_new_int64(m->kafka_failed));
	json_object_object_add(k, "queue_full", json_object_new_int64(m->kafka_queue_full));
	json_object_object_add(k, "queued", json_object_new_int64(m->kafka_queued));
	json_object_object_add(k, "dropped",
			       json_object_new_int64(m->kafka_dropped[NH_SPOOL_ANOMALY] +
						     m->kafka_dropped[NH_SPOOL_ACTIVITY]));
	json_object_object_add(k, "spool_pending",
			       json_object_new_int64(m->spool_records[NH_SPOOL_ANOMALY] +
						     m->spool_records[NH_SPOOL_ACTIVITY]));
	json_object_object_add(k, "spool_bytes",
			       json_object_new_int64(m->spool_bytes[NH_SPOOL_ANOMALY] +
						     m->spool_bytes[NH_SPOOL_ACTIVITY]));
	json_object_object_add(k, "spool_shed_anomaly",
			       json_object_new_int64(m->spool_shed[NH_SPOOL_ANOMALY]));
	json_object_object_add(k, "spool_shed_activity",
			       json_object_new_int64(m->spool_shed[NH_SPOOL_ACTIVITY]));
	json_object_object_add(k, "errors", json_object_new_int64(m->kafka_send_errors));
	json_object_object_add(k, "delivery_latency_us",
			       nh_histogram_json(&a->kafka.delivery_latency_us));
	if (a->kafka.last_error[0])
		json_object_object_add(k, "last_error",
				       json_object_new_string(a->kafka.last_error));
	return k;
}

static json_object *agent_status(struct nh_agent *a)
{
	json_object *o = json_object_new_object(), *probes = json_object_new_array();
	json_object *kinds = json_object_new_object(), *dedup = json_object_new_object();
	uint64_t tot_recv = 0, tot_supp = 0, tot_lost = 0;
	struct nh_metrics m;

	snapshot(a, &m);
	json_object_object_add(o, "version", json_object_new_string(m.version));
	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(o, "uptime_s", json_object_new_double(m.uptime_s));
	for (size_t i = 0; i < m.nprobes; i++) {
		json_object *e = json_object_new_object();

		json_object_object_add(e, "program", json_object_new_string(m.probes[i].program));
		json_object_object_add(e, "tracepoint",
				       json_object_new_string(m.probes[i].tracepoint));
		json_object_object_add(e, "attached",
				       json_object_new_boolean(m.probes[i].attached));
		json_object_array_add(probes, e);
	}
	json_object_object_add(o, "probes_attached", json_object_new_int(m.probes_attached));
	json_object_object_add(o, "probes", probes);
	for (uint32_t k = 1; k < NH_KIND_MAX; k++) {
		const struct nh_metrics_kind *mk = &m.kinds[k];
		json_object *e = json_object_new_object();

		json_object_object_add(e, "received", json_object_new_int64(mk->received));
		json_object_object_add(e, "observed", json_object_new_int64(mk->observed));
		/* Rates are status-only: Prometheus derives its own. */
		json_object_object_add(e, "per_sec",
				       json_object_new_double(a->kinds[k].received_per_sec));
		json_object_object_add(e, "observed_per_sec",
				       json_object_new_double(a->kinds[k].observed_per_sec));
		json_object_object_add(e, "emitted", json_object_new_int64(mk->emitted));
		json_object_object_add(e, "deduplicated", json_object_new_int64(mk->deduplicated));
		json_object_object_add(e, "lost", json_object_new_int64(mk->lost));
		json_object_object_add(kinds, nh_kind_name(k), e);
		tot_recv += mk->received;
		tot_supp += mk->deduplicated;
		tot_lost += mk->lost;
	}
	json_object_object_add(o, "kinds", kinds);
	json_object_object_add(o, "received", json_object_new_int64(tot_recv));
	json_object_object_add(o, "deduplicated", json_object_new_int64(tot_supp));
	json_object_object_add(o, "lost", json_object_new_int64(tot_lost));
	json_object_object_add(o, "decode_errors", json_object_new_int64(m.decode_errors));
	json_object_object_add(o, "flush_errors", json_object_new_int64(m.flush_errors));
	json_object_object_add(dedup, "window_ms", json_object_new_int64(m.dedup_window_ms));
	json_object_object_add(dedup, "entries", json_object_new_int64(m.dedup_entries));
	json_object_object_add(dedup, "max_entries", json_object_new_int64(m.dedup_max_entries));
	json_object_object_add(dedup, "evicted", json_object_new_int64(m.dedup_evicted));
	json_object_object_add(dedup, "purged", json_object_new_int64(m.dedup_purged));
	json_object_object_add(dedup, "objects_evicted", json_object_new_int64(m.objects_evicted));
	json_object_object_add(dedup, "series_evicted", json_object_new_int64(m.series_evicted));
	json_object_object_add(o, "dedup", dedup);
	json_object_object_add(o, "ringbuf_bytes", json_object_new_int64(m.ringbuf_bytes));
	{
		char caps[512];

		nh_privileges_names(a->caps, caps, sizeof(caps));
		json_object_object_add(o, "capabilities", json_object_new_string(caps));
	}
	json_object_object_add(o, "processes", json_object_new_int64(m.processes));
	json_object_object_add(o, "cgroups_cached", json_object_new_int64(m.cgroups_cached));
	json_object_object_add(o, "identities", identities_json(a));
	json_object_object_add(o, "credentials", credentials_status(a, &m));
	json_object_object_add(o, "baselines", baselines_status(a, &m));
	if (m.kafka)
		json_object_object_add(o, "kafka", kafka_status(a, &m));
	json_object_object_add(o, "subscribers", json_object_new_int64(m.subscribers));
	json_object_object_add(o, "subscriber_drops", json_object_new_int64(m.subscriber_drops));
	if (a->cfg.scope_cgroup)
		json_object_object_add(o, "scope_cgroup",
				       json_object_new_string(a->cfg.scope_cgroup));
	if (a->httpd.daemon)
		json_object_object_add(o, "metrics_listen",
				       json_object_new_string(a->cfg.metrics_listen));
	return o;
}

static json_object *profile_json(struct nh_agent *a, const struct nh_profile_info *in)
{
	json_object *o = json_object_new_object(), *items = json_object_new_object();
	char ts[64];

	json_object_object_add(o, "identity", json_object_new_string(in->identity));
	json_object_object_add(o, "state",
			       json_object_new_string(nh_profile_state_name(in->state)));
	nh_render_time(in->created_ns - (uint64_t)a->wall_offset_ns, a->wall_offset_ns, ts,
		       sizeof(ts));
	json_object_object_add(o, "created", json_object_new_string(ts));
	if (in->stable_ns) {
		nh_render_time(in->stable_ns - (uint64_t)a->wall_offset_ns, a->wall_offset_ns, ts,
			       sizeof(ts));
		json_object_object_add(o, "stable_since", json_object_new_string(ts));
	}
	for (int c = 0; c < NH_CAT_MAX; c++) {
		json_object_object_add(items, nh_category_name(c),
				       json_object_new_int64(in->items[c]));
		if (in->bounded[c]) {
			char k[64];

			snprintf(k, sizeof(k), "%s_bounded", nh_category_name(c));
			json_object_object_add(o, k, json_object_new_boolean(true));
		}
	}
	json_object_object_add(o, "items", items);
	json_object_object_add(o, "events", json_object_new_int64((int64_t)in->events));
	json_object_object_add(o, "anomalies", json_object_new_int64((int64_t)in->anomalies));
	json_object_object_add(o, "bytes", json_object_new_int64((int64_t)in->bytes));
	return o;
}

struct item_ctx {
	struct nh_agent *a;
	json_object *list;
};

static void item_json(void *ctx, enum nh_category cat, const char *value, uint64_t count,
		      uint64_t first_ns, uint64_t last_ns)
{
	struct item_ctx *ic = ctx;
	json_object *o = json_object_new_object();
	char ts[64];

	json_object_object_add(o, "category", json_object_new_string(nh_category_name(cat)));
	json_object_object_add(o, "value", json_object_new_string(value));
	json_object_object_add(o, "count", json_object_new_int64((int64_t)count));
	nh_render_time(first_ns - (uint64_t)ic->a->wall_offset_ns, ic->a->wall_offset_ns, ts,
		       sizeof(ts));
	json_object_object_add(o, "first_seen", json_object_new_string(ts));
	nh_render_time(last_ns - (uint64_t)ic->a->wall_offset_ns, ic->a->wall_offset_ns, ts,
		       sizeof(ts));
	json_object_object_add(o, "last_seen", json_object_new_string(ts));
	json_object_array_add(ic->list, o);
}

/* profiles, profile, profile_reset */
static json_object *profiles_query(struct nh_agent *a, const char *op, json_object *req)
{
	json_object *o = json_object_new_object(), *v = NULL;
	const char *id =
	    json_object_object_get_ex(req, "identity", &v) ? json_object_get_string(v) : NULL;
	struct nh_profile_info info;

	if (strcmp(op, "profiles") == 0) {
		json_object *list = json_object_new_array();
		size_t it = 0;

		while (nh_models_next(&a->baseline.models, &it, &info))
			json_object_array_add(list, profile_json(a, &info));
		json_object_object_add(o, "profiles", list);
		return o;
	}
	if (!id || nh_models_info(&a->baseline.models, id, &info) != 0) {
		json_object_object_add(o, "error",
				       json_object_new_string(id ? "no profile for that identity"
								 : "\"identity\" is required"));
		return o;
	}
	if (strcmp(op, "profile_reset") == 0) {
		nh_models_reset(&a->baseline.models, id, mono_ns() + (uint64_t)a->wall_offset_ns);
		nh_info(&a->log, "profile %s reset: learning again", id);
		json_object_object_add(o, "ok", json_object_new_boolean(true));
		return o;
	}
	{
		struct item_ctx ic = {a, json_object_new_array()};

		json_object_put(o);
		o = profile_json(a, &info);
		nh_models_items(&a->baseline.models, id, item_json, &ic);
		json_object_object_add(o, "item_list", ic.list);
	}
	return o;
}

static json_object *status_json(void *ctx, const char *op, json_object *req)
{
	struct nh_agent *a = ctx;

	if (strcmp(op, "credentials") == 0) {
		json_object *o = json_object_new_object();

		json_object_object_add(
		    o, "credentials",
		    nh_findings_credentials_json(&a->findings, a->wall_offset_ns));
		return o;
	}
	if (strcmp(op, "profiles") == 0 || strcmp(op, "profile") == 0 ||
	    strcmp(op, "profile_reset") == 0)
		return profiles_query(a, op, req);
	if (strcmp(op, "status") == 0)
		return agent_status(a);
	return NULL;
}

/* /metrics: the same snapshot as `nhiscope status`, rendered. */
static int http_metrics(void *ctx, char **text, size_t *len)
{
	struct nh_agent *a = ctx;
	struct nh_metrics m;

	snapshot(a, &m);
	return nh_metrics_render(&m, text, len);
}

/* /readyz. The loop only runs once start-up is complete, so in practice
 * this says ready whenever it can answer at all; it still checks each
 * condition live instead of trusting that order. */
static const char *http_not_ready(void *ctx)
{
	struct nh_agent *a = ctx;
	int attached = 0;

	for (int i = 0; i < a->probes.nprobes; i++)
		attached += a->probes.probe[i].attached;
	if (a->stopping)
		return "stopping";
	if (!a->probes.nprobes || attached < a->probes.nprobes) {
		snprintf(a->not_ready, sizeof(a->not_ready), "%d of %d probes attached", attached,
			 a->probes.nprobes);
		return a->not_ready;
	}
	if (a->server.listen_fd < 0)
		return "the subscriber socket is not listening";
	/* Created, not necessarily connected: records wait in the spool
	 * while the broker is away, which is no reason to restart. */
	if (a->cfg.kafka.brokers && !a->kafka_on)
		return "the Kafka producer was not created";
	return NULL;
}

static const struct nh_httpd_ops http_ops = {
    .metrics = http_metrics,
    .not_ready = http_not_ready,
};

static int add_fd(int epfd, int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/* The socket's directory: created root-only. An existing one must be a
 * real directory owned by root that nobody else can write, or sticky
 * (like /tmp), where others cannot remove or rename our socket; else
 * another user could swap in their own and capture subscribers. */
static int make_socket_dir(const char *path, char *why, size_t len)
{
	char dir[PATH_MAX], *slash;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	if (lstat(dir, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))) {
		snprintf(
		    why, len,
		    "%.400s must be a directory owned by root, writable only by root or sticky",
		    dir);
		return -EPERM;
	}
	return 0;
}

static int open_sources(struct nh_agent *a)
{
	struct itimerspec its = {0};
	sigset_t mask;
	int code;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL))
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	a->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	a->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (a->sigfd < 0 || a->timerfd < 0)
		return -errno;
	its.it_interval.tv_sec = a->flush_interval_ns / NH_NSEC;
	its.it_interval.tv_nsec = a->flush_interval_ns % NH_NSEC;
	its.it_value = its.it_interval;
	if (timerfd_settime(a->timerfd, 0, &its, NULL))
		return -errno;
	code = add_fd(a->epfd, a->sigfd, NH_SRC_SIGNAL);
	if (!code)
		code = add_fd(a->epfd, a->timerfd, NH_SRC_TIMER);
	if (!code)
		code = add_fd(a->epfd, nh_probes_epoll_fd(&a->probes), NH_SRC_RING);
	return code;
}

/* The built-in credential rules plus the configured ones; at start and
 * on SIGHUP, into a fresh catalogue so that a bad rule changes nothing. */
static int build_catalogue(struct nh_agent *a, const struct nh_agent_config *cfg,
			   struct nh_catalogue *cat)
{
	const char *why = NULL, *host, *port;
	char spec[300];
	int code;

	code = nh_catalogue_init(cat);
	if (code)
		return code;
	for (size_t i = 0; i < cfg->ncredential_rules; i++) {
		code = nh_catalogue_add_path(cat, cfg->credential_rules[i], &why);
		if (code) {
			nh_err(&a->log, "credentials.rules: \"%s\": %s", cfg->credential_rules[i],
			       why ? why : strerror(-code));
			return code;
		}
	}
	if (cfg->nmetadata_endpoints)
		nh_catalogue_clear_endpoints(cat, "cloud_metadata");
	for (size_t i = 0; i < cfg->nmetadata_endpoints; i++) {
		snprintf(spec, sizeof(spec), "cloud_metadata=%s", cfg->metadata_endpoints[i]);
		code = nh_catalogue_add_endpoint(cat, spec, &why);
		if (code) {
			nh_err(&a->log, "credentials.metadataEndpoints: \"%s\": %s",
			       cfg->metadata_endpoints[i], why ? why : strerror(-code));
			return code;
		}
	}
	/* In a pod the API server is the service the environment names. */
	host = getenv("KUBERNETES_SERVICE_HOST");
	port = getenv("KUBERNETES_SERVICE_PORT");
	if (cfg->apiserver)
		snprintf(spec, sizeof(spec), "kube_apiserver=%s", cfg->apiserver);
	else if (host && port)
		snprintf(spec, sizeof(spec),
			 strchr(host, ':') ? "kube_apiserver=[%s]:%s" : "kube_apiserver=%s:%s",
			 host, port);
	else
		spec[0] = '\0';
	if (spec[0] && (code = nh_catalogue_add_endpoint(cat, spec, &why)) != 0) {
		nh_err(&a->log, "API server endpoint \"%s\": %s", spec + 15,
		       why ? why : strerror(-code));
		return code;
	}
	return 0;
}

/* The cluster's service-account keys from the API server, fetched on a
 * thread of their own: asked for now, taken by the tick. */
static int start_keys(struct nh_agent *a)
{
	static const char own_token[] = "/var/run/secrets/kubernetes.io/serviceaccount/token";
	static const char own_ca[] = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
	const char *url = a->cfg.jwks_url, *host, *port;
	char derived[512];
	struct nh_kubelet_conf kc = {0};
	int code;

	/* A key file is the one source when given. */
	if (a->cfg.verify_tokens == NH_VERIFY_OFF || a->cfg.jwks_file ||
	    (url && strcmp(url, "none") == 0))
		return 0;
	if (!url) {
		host = getenv("KUBERNETES_SERVICE_HOST");
		port = getenv("KUBERNETES_SERVICE_PORT");
		if (!host || !*host || !port || !*port)
			return 0;
		snprintf(derived, sizeof(derived),
			 strchr(host, ':') ? "https://[%s]:%s/openid/v1/jwks"
					   : "https://%s:%s/openid/v1/jwks",
			 host, port);
		url = derived;
	}
	kc.url = url;
	if (access(own_token, R_OK) == 0)
		kc.token_path = own_token;
	if (strncmp(url, "https:", 6) == 0 && access(own_ca, R_OK) == 0)
		kc.ca_path = own_ca;
	code = nh_kubelet_global_init();
	if (code) {
		nh_err(&a->log, "--jwks-url: cannot initialise libcurl");
		return code;
	}
	code = nh_jwksfetch_start(&a->keyfetch, &kc);
	if (code) {
		nh_err(&a->log, "--jwks-url: %s", a->keyfetch.error);
		nh_kubelet_global_cleanup();
		return code;
	}
	a->keyfetch_on = true;
	nh_jwksfetch_request(&a->keyfetch);
	a->keyfetch_next_ns = mono_ns() + NH_KEYFETCH_MIN_NS;
	return 0;
}

/* A new key set, or why the last fetch failed; another fetch when a token
 * named an unknown kid, at most every NH_KEYFETCH_MIN_NS. */
static void tick_keys(struct nh_agent *a, uint64_t now)
{
	struct nh_jwks keys = {0};
	char why[NH_KUBELET_ERROR_MAX];
	int r;

	if (!a->keyfetch_on)
		return;
	r = nh_jwksfetch_take(&a->keyfetch, &keys, why, sizeof(why));
	/* Logged when fetches start failing and when they recover. */
	if (r > 0) {
		nh_info(&a->log, "service-account keys: %zu from %s%s", keys.n,
			a->keyfetch.http.url, a->keyfetch_errors ? " (recovered)" : "");
		nh_satokens_set_keys(&a->tokens, &keys);
		a->keyfetch_errors = 0;
	} else if (r < 0 && a->keyfetch_errors++ == 0) {
		nh_warn(&a->log, "service-account keys: %s (keeping %zu keys)", why,
			a->tokens.keys.n);
	}
	/* Without keys, retried with backoff (2 s doubling to 64 s) even when
	 * no token asks, so verification resumes when the API server does. */
	if ((a->tokens.want_keys || !a->tokens.keys.n) && now >= a->keyfetch_next_ns) {
		uint32_t shift = a->keyfetch_errors < 5 ? (uint32_t)a->keyfetch_errors : 5;

		a->tokens.want_keys = false;
		a->keyfetch_next_ns = now + (NH_KEYFETCH_MIN_NS << shift);
		nh_jwksfetch_request(&a->keyfetch);
	}
}

/* The pod's service-account token, the credential catalogue with the
 * configured rules and endpoints, and the optional kubelet client. */
static int start_credentials(struct nh_agent *a)
{
	const struct nh_agent_config *cfg = &a->cfg;
	const char *why = NULL;
	int code;

	code = nh_fingerprinter_init(&a->fp, cfg->fingerprint_key_file,
				     cfg->fingerprint_previous_key_file, &why);
	if (code) {
		nh_err(&a->log, "fingerprint.keyFile %s, previousKeyFile %s: %s (%s)",
		       cfg->fingerprint_key_file ? cfg->fingerprint_key_file : "(none)",
		       cfg->fingerprint_previous_key_file ? cfg->fingerprint_previous_key_file
							  : "(none)",
		       why ? why : strerror(-code), strerror(-code));
		return code;
	}
	if (a->fp.node_local)
		nh_warn(&a->log,
			"fingerprint.keyFile is not set: secrets are fingerprinted with a "
			"random key of this agent run (id %s); fingerprints will not match "
			"across nodes or restarts",
			a->fp.cur.id);
	else
		nh_info(&a->log, "fingerprint key %s%s%s", a->fp.cur.id,
			a->fp.prev.ctx ? ", previous key " : "",
			a->fp.prev.ctx ? a->fp.prev.id : "");
	code = nh_satokens_init(&a->tokens, &a->cgfs, &a->log, cfg->sa_token_path,
				cfg->token_recheck_ms * 1000000ULL, cfg->max_cgroups);
	if (code) {
		nh_err(&a->log, "--sa-token-path: \"%s\" is not an absolute file path",
		       cfg->sa_token_path ? cfg->sa_token_path : "");
		return code;
	}
	a->tokens.fp = &a->fp;
	{
		struct nh_satoken_trust tr = {.kubelet_root = cfg->kubelet_root,
					      .jwks_file = cfg->jwks_file,
					      .mode = (enum nh_verify_mode)cfg->verify_tokens,
					      .verify = {.issuer = cfg->token_issuer,
							 .audience = cfg->token_audience,
							 .leeway_s = 60}};
		const char *why = NULL;

		code = nh_satokens_set_trust(&a->tokens, &tr, &why);
		if (code) {
			nh_err(&a->log, "--jwks-file %s: %s", cfg->jwks_file ? cfg->jwks_file : "",
			       why ? why : strerror(-code));
			return code;
		}
		if (tr.mode == NH_VERIFY_REQUIRED && !a->tokens.keys.n)
			nh_warn(&a->log, "verifyTokens: required and no keys yet: no pod's "
					 "service account is believed until they are known");
	}
	code = nh_findings_init(&a->findings, &a->cgfs, cfg->sa_token_path, cfg->max_credentials);
	if (code) {
		nh_err(&a->log, "cannot allocate the credential registry: %s", strerror(-code));
		return code;
	}
	a->findings.fp = &a->fp;
	code = build_catalogue(a, cfg, &a->findings.cat);
	if (code)
		return code;
	if (!cfg->kubelet_url)
		return 0;
	{
		/* In a pod, the agent's own service account reads the pod list. */
		static const char own_token[] =
		    "/var/run/secrets/kubernetes.io/serviceaccount/token";
		static const char own_ca[] = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
		struct nh_kubelet_conf kc = {
		    .url = cfg->kubelet_url,
		    .token_path = cfg->kubelet_token,
		    .ca_path = cfg->kubelet_ca,
		    .insecure = cfg->kubelet_insecure,
		};

		if (!kc.token_path && access(own_token, R_OK) == 0)
			kc.token_path = own_token;
		if (!kc.ca_path && !kc.insecure && strncmp(kc.url, "https:", 6) == 0 &&
		    access(own_ca, R_OK) == 0)
			kc.ca_path = own_ca;

		code = nh_kubelet_global_init();
		if (!code)
			code = nh_kubelet_init(&a->kubelet, &kc);
		if (code) {
			nh_err(&a->log, "--kubelet-url: %s",
			       a->kubelet.error[0] ? a->kubelet.error : strerror(-code));
			return code;
		}
		a->kubelet_on = true;
		refresh_pods(a);
	}
	return 0;
}

/* The models, and the profiles a previous run saved. */
static int start_baseline(struct nh_agent *a)
{
	const char *dir = a->cfg.profile_dir;
	int code = nh_baseline_init(&a->baseline, &a->cfg.model, a->cfg.max_profiles);

	if (code) {
		nh_err(&a->log, "cannot allocate the profile table: %s", strerror(-code));
		return code;
	}
	if (!dir)
		return 0;
	code = nh_profilestore_open(&a->store, dir, &a->log);
	if (code)
		return code;
	a->persist = true;
	a->next_snapshot_ns = mono_ns() + a->cfg.snapshot_interval_ms * 1000000ULL;
	code = nh_profilestore_load(&a->store, &a->baseline.models);
	if (code < 0) {
		nh_err(&a->log, "cannot read profiles from %s: %s", dir, strerror(-code));
		return code;
	}
	nh_info(&a->log, "%d profiles loaded from %s", code, dir);
	return 0;
}

/* Keep only what reading /proc and cgroups needs. Kernels before 6.5
 * with kernel.unprivileged_bpf_disabled refuse every bpf() command, even
 * on a map the agent already holds, to a caller without CAP_BPF: try one
 * without it, and keep it when it is refused. */
static int drop_privileges(struct nh_agent *a)
{
	uint64_t keep = NH_PRIVILEGES_KEEP, have = 0;
	struct nh_counters c;
	char names[512];
	int code, probe;

	code = nh_privileges_effective(~NH_PRIVILEGES_BPF, &have);
	if (code) {
		nh_err(&a->log, "cannot read the agent's capabilities: %s", strerror(-code));
		return code;
	}
	probe = nh_probes_counters(&a->probes, 0, &c);
	code = nh_privileges_effective(~0ULL, &have);
	if (code) {
		nh_err(&a->log, "cannot restore the agent's capabilities: %s", strerror(-code));
		return code;
	}
	if (probe == -EPERM) {
		keep |= have & NH_PRIVILEGES_BPF ? NH_PRIVILEGES_BPF : NH_PRIVILEGES_SYS_ADMIN;
		nh_info(&a->log, "this kernel needs CAP_BPF (or CAP_SYS_ADMIN) for every bpf() "
				 "call: kept");
	}
	code = nh_privileges_drop(keep, &a->caps);
	if (code) {
		nh_err(&a->log, "cannot drop capabilities: %s", strerror(-code));
		return code;
	}
	nh_privileges_names(a->caps, names, sizeof(names));
	nh_info(&a->log, "capabilities kept: %s", names);
	if ((a->caps & NH_PRIVILEGES_KEEP) != NH_PRIVILEGES_KEEP) {
		/* Started with fewer: say what that costs instead of failing
		 * later, one process at a time. */
		nh_privileges_names(NH_PRIVILEGES_KEEP & ~a->caps, names, sizeof(names));
		nh_warn(&a->log,
			"capabilities missing: %s; without cap_sys_ptrace pods' tokens and "
			"other users' binaries cannot be read, without cap_dac_read_search "
			"cgroups are not resolved to pods",
			names);
	}
	return 0;
}

/* In a container with a private cgroup namespace every /proc/<pid>/cgroup
 * path is relative to the agent's own cgroup: find where that is on the
 * host from the id the kernel gives, and read /proc again with it. */
static int find_cgroup_namespace(struct nh_agent *a)
{
	uint64_t self_id = 0;
	int code, seeded;

	code = nh_probes_self_cgroup(&a->probes, &self_id);
	if (!code)
		code = nh_cgroupfs_set_self(&a->cgfs, getpid(), self_id);
	if (code) {
		/* The host's view is still right for an agent that is not in
		 * a cgroup namespace, the common case outside containers. */
		nh_warn(&a->log,
			"cannot place the agent's own cgroup (id %llu) in %s: %s; reading "
			"/proc/<pid>/cgroup as the host's paths",
			(unsigned long long)self_id, a->cgfs.mount, strerror(-code));
		return 0;
	}
	if (!a->cgfs.nsroot[0])
		return 0;
	nh_info(&a->log, "in a cgroup namespace rooted at %s on the host", a->cgfs.nsroot);
	/* Events are not read yet, so they still override what this finds. */
	seeded = nh_proctable_seed(&a->procs);
	if (seeded < 0)
		nh_warn(&a->log, "cannot read /proc: %s", strerror(-seeded));
	return 0;
}

int nh_agent_start(struct nh_agent *a)
{
	struct nh_probes_config pc = {0};
	char err[512], scope[PATH_MAX];
	int code, seeded;

	a->epfd = a->sigfd = a->timerfd = -1;
	a->server.listen_fd = -1;
	a->start_ns = a->last_rate_ns = mono_ns();
	a->wall_offset_ns = wall_offset_ns();
	/* Close windows promptly but never spin: a quarter window, 50ms..1s. */
	a->flush_interval_ns = a->cfg.dedup_window_ms * 1000000ULL / 4;
	if (a->flush_interval_ns < 50000000ULL)
		a->flush_interval_ns = 50000000ULL;
	if (a->flush_interval_ns > NH_NSEC)
		a->flush_interval_ns = NH_NSEC;

	code = nh_probes_preflight(err, sizeof(err));
	if (code) {
		nh_err(&a->log, "%s", err);
		goto cleanup;
	}
	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (a->epfd < 0) {
		code = -errno;
		nh_err(&a->log, "cannot set up the event loop: %s", strerror(-code));
		goto cleanup;
	}
	/* Before the slow part, so a port in use fails at once. Requests
	 * wait in the listen backlog until the loop runs. */
	if (a->cfg.metrics_listen && a->cfg.metrics_listen[0]) {
		code =
		    nh_httpd_open(&a->httpd, a->cfg.metrics_listen, a->epfd, &http_ops, a, &a->log);
		if (code)
			goto cleanup;
	}
	code = nh_cgroupfs_init(&a->cgfs, "/proc/self/mountinfo", "/proc");
	if (code) {
		nh_err(&a->log,
		       "no cgroup v2 hierarchy is mounted (%s): nhiscope needs cgroup v2, "
		       "alone or in hybrid mode",
		       strerror(-code));
		goto cleanup;
	}
	nh_info(&a->log, "cgroup v2 hierarchy at %s", a->cgfs.mount);
	if (a->cfg.scope_cgroup) {
		snprintf(scope, sizeof(scope), "%s/%s", a->cgfs.mount,
			 a->cfg.scope_cgroup + (a->cfg.scope_cgroup[0] == '/'));
		pc.scope_cgroup = scope;
	}
	code = nh_proctable_init(&a->procs, &a->cgfs, a->cfg.max_procs);
	if (!code)
		code = nh_identities_init(&a->ids, &a->cgfs, a->cfg.max_cgroups);
	if (!code)
		code = nh_quotamap_init(&a->objects, a->cfg.max_objects, 0, free);
	if (code) {
		nh_err(&a->log, "cannot allocate tables: %s", strerror(-code));
		goto cleanup;
	}
	code = start_credentials(a);
	if (!code)
		code = start_baseline(a);
	if (code)
		goto cleanup;
	/* Seed before attaching: events for processes that start meanwhile
	 * replace their seeded entries. */
	seeded = nh_proctable_seed(&a->procs);
	if (seeded < 0)
		nh_warn(&a->log, "cannot read /proc: %s", strerror(-seeded));
	else
		nh_info(&a->log, "process table seeded with %d processes", seeded);

	pc.agent_tgid = getpid();
	pc.dedup_window_ns = a->cfg.dedup_window_ms * 1000000ULL;
	pc.args_max = (uint32_t)a->cfg.argv_max;
	pc.dedup_entries = a->cfg.dedup_entries;
	pc.ringbuf_bytes = a->cfg.ringbuf_bytes;
	/* Wake early enough that a burst cannot fill the ring between two
	 * timed drains: an eighth of it unread. */
	pc.wakeup_bytes = a->cfg.batch_ms ? a->cfg.ringbuf_bytes / 8 : 0;
	code = nh_probes_start(&a->probes, &pc, on_event, a, err, sizeof(err));
	if (code) {
		nh_err(&a->log, "%s", err);
		goto cleanup;
	}
	nh_info(&a->log,
		"%d probes attached; dedup window %llums; ring buffer %llu bytes; batch %llums",
		a->probes.nprobes, (unsigned long long)a->cfg.dedup_window_ms,
		(unsigned long long)a->cfg.ringbuf_bytes, (unsigned long long)a->cfg.batch_ms);
	code = find_cgroup_namespace(a);
	if (code)
		goto cleanup;

	code = open_sources(a);
	if (code) {
		nh_err(&a->log, "cannot set up the event loop: %s", strerror(-code));
		goto cleanup;
	}
	err[0] = '\0';
	code = make_socket_dir(a->cfg.socket_path, err, sizeof(err));
	if (code && err[0]) {
		nh_err(&a->log, "cannot listen on %s: %s", a->cfg.socket_path, err);
		goto cleanup;
	}
	if (!code)
		code = nh_server_open(&a->server, a->cfg.socket_path, a->cfg.socket_mode, a->epfd,
				      a->cfg.subscriber_buffer, status_json, a);
	if (code) {
		nh_err(&a->log, "cannot listen on %s: %s", a->cfg.socket_path,
		       code == -EADDRINUSE ? "another agent is already serving it"
		       : code == -ENOTSOCK ? "a file that is not a socket is in the way"
					   : strerror(-code));
		goto cleanup;
	}
	nh_info(&a->log, "listening on %s", a->cfg.socket_path);
	code = drop_privileges(a);
	if (code)
		goto cleanup;
	/* After the drop: librdkafka's threads inherit the capabilities of
	 * the thread that creates them, and they parse what the network
	 * sends. */
	if (a->cfg.kafka.brokers) {
		code = nh_kafka_open(&a->kafka, &a->cfg.kafka, &a->log);
		a->kafka_on = code == 0;
		if (code)
			goto cleanup;
	}
	/* The key fetcher parses what the network sends too. */
	code = start_keys(a);
	if (code)
		goto cleanup;
	code = nh_privileges_check_threads(a->caps);
	if (code) {
		nh_err(&a->log, "a thread kept capabilities the agent dropped: %s",
		       strerror(-code));
		goto cleanup;
	}
cleanup:
	if (code)
		nh_agent_stop(a);
	return code;
}

/* Apply the reloadable settings of next that differ from the live ones;
 * the others are reported as waiting for a restart. A setting that cannot
 * be applied leaves everything as it was. Returns whether a string of next
 * is now in use. */
static bool apply_reload(struct nh_agent *a, struct nh_agent_config *next)
{
	const struct nh_config_spec *spec = &nh_agent_spec;
	struct nh_catalogue *cat = NULL;
	bool keep = false, catalogue = false;
	int changed = 0;

	for (size_t i = 0; i < spec->nopts; i++) {
		const struct nh_opt *o = &spec->opts[i];

		if (!o->key || nh_config_same(o, &a->cfg, next))
			continue;
		if (!(o->flags & NH_OPT_RELOAD)) {
			nh_warn(&a->log, "SIGHUP: %s changed; it applies at the next start",
				o->key);
			continue;
		}
		if (!strncmp(o->key, "credentials.", 12) || !strcmp(o->key, "kubernetes.apiserver"))
			catalogue = true;
	}
	if (catalogue) {
		/* About 100 KiB: on the heap, and built before anything
		 * changes. */
		cat = malloc(sizeof(*cat));
		if (!cat || build_catalogue(a, next, cat)) {
			nh_err(&a->log, "SIGHUP: configuration not changed");
			free(cat);
			return false;
		}
		nh_catalogue_free(&a->findings.cat);
		memcpy(&a->findings.cat, cat, sizeof(*cat));
		free(cat);
	}
	for (size_t i = 0; i < spec->nopts; i++) {
		const struct nh_opt *o = &spec->opts[i];

		if (!o->key || !(o->flags & NH_OPT_RELOAD) || nh_config_same(o, &a->cfg, next))
			continue;
		nh_config_copy(o, &a->cfg, next);
		keep |= o->type == NH_OPT_STRING || o->type == NH_OPT_PATH ||
			o->type == NH_OPT_LIST || o->type == NH_OPT_MAP;
		nh_info(&a->log, "SIGHUP: %s changed", o->key);
		changed++;
	}
	a->log.level = a->cfg.log_level;
	a->log.format = a->cfg.log_format;
	a->baseline.models.cfg.learn_ns = a->cfg.learn_window_ms * 1000000ULL;
	a->baseline.models.cfg.quiet_ns = a->cfg.quiet_period_ms * 1000000ULL;
	a->server.max_out = a->cfg.subscriber_buffer;
	if (a->persist)
		a->next_snapshot_ns = mono_ns() + a->cfg.snapshot_interval_ms * 1000000ULL;
	nh_info(&a->log, "SIGHUP: configuration reloaded, %d setting%s changed", changed,
		changed == 1 ? "" : "s");
	return keep;
}

/* SIGHUP: the file and the command line read again, without touching the
 * probes. An invalid file changes nothing. */
static void reload(struct nh_agent *a)
{
	struct nh_agent_config *next = calloc(1, sizeof(*next));
	char *errs = NULL, *line, *save = NULL;
	size_t len = 0;
	bool keep = false;
	FILE *err;

	err = open_memstream(&errs, &len);
	if (!next || !err) {
		nh_err(&a->log, "SIGHUP: out of memory; configuration not changed");
		goto cleanup;
	}
	if (nh_config_reload(&a->config, next, err)) {
		fclose(err);
		err = NULL;
		for (line = strtok_r(errs, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			nh_err(&a->log, "SIGHUP: %s", line);
		nh_err(&a->log, "SIGHUP: configuration not changed");
		goto cleanup;
	}
	nh_agent_derive(next);
	keep = apply_reload(a, next);
cleanup:
	nh_config_settle(&a->config, keep);
	if (err)
		fclose(err);
	free(errs);
	free(next);
}

static bool handle_signal(struct nh_agent *a)
{
	struct signalfd_siginfo si;

	while (read(a->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			reload(a);
			continue;
		}
		nh_info(&a->log, "%s: detaching", strsignal(si.ssi_signo));
		return true;
	}
	return false;
}

int nh_agent_run(struct nh_agent *a)
{
	struct epoll_event evs[32];

	while (!a->stopping) {
		int wait = nh_httpd_wait_ms(&a->httpd, a->cfg.batch_ms ? (int)a->cfg.batch_ms : -1);
		int n = epoll_wait(a->epfd, evs, 32, wait);
		bool http = false;

		/* Records below the wakeup threshold are drained on the timeout. */
		if (n == 0)
			drain(a);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			nh_err(&a->log, "epoll_wait: %s", strerror(errno));
			return -errno;
		}
		for (int i = 0; i < n && !a->stopping; i++) {
			uint64_t tag = evs[i].data.u64;
			uint64_t expirations;

			if (tag == NH_SRC_RING) {
				drain(a);
			} else if (tag == NH_SRC_TIMER) {
				if (read(a->timerfd, &expirations, sizeof(expirations)) > 0)
					tick(a);
			} else if (tag == NH_SRC_SIGNAL) {
				a->stopping = handle_signal(a);
			} else if (evs[i].data.ptr == &a->httpd) {
				http = true;
			} else if (evs[i].data.ptr == &a->server) {
				nh_server_accept(&a->server);
			} else if (nh_server_is_client(&a->server, evs[i].data.ptr)) {
				nh_server_client_io(&a->server, evs[i].data.ptr, evs[i].events);
			}
		}
		/* Between batches: scrapes and probes see the state as it is. */
		nh_httpd_run(&a->httpd, http);
		nh_server_flush(&a->server);
		if (a->kafka_on)
			nh_kafka_poll(&a->kafka, mono_ns());
		if (a->cfg.tail)
			fflush(stdout);
	}
	/* Deliver what is already in the ring before detaching. */
	drain(a);
	nh_server_flush(&a->server);
	return 0;
}

void nh_agent_stop(struct nh_agent *a)
{
	nh_httpd_close(&a->httpd);
	nh_server_close(&a->server);
	if (a->probes.skel)
		nh_probes_stop(&a->probes);
	nh_quotamap_free(&a->objects);
	if (a->persist) {
		int n = nh_profilestore_save(&a->store, &a->baseline.models);

		if (n >= 0)
			nh_info(&a->log, "%d profiles saved to %s", n, a->store.dir);
		a->persist = false;
	}
	nh_baseline_free(&a->baseline);
	if (a->kafka_on) {
		nh_kafka_close(&a->kafka, 5000);
		a->kafka_on = false;
	}
	nh_findings_free(&a->findings);
	if (a->keyfetch_on) {
		nh_jwksfetch_stop(&a->keyfetch);
		nh_kubelet_global_cleanup();
		a->keyfetch_on = false;
	}
	nh_satokens_free(&a->tokens);
	nh_fingerprinter_free(&a->fp);
	if (a->kubelet_on) {
		nh_kubelet_free(&a->kubelet);
		nh_kubelet_global_cleanup();
		a->kubelet_on = false;
	}
	nh_identities_free(&a->ids);
	nh_proctable_free(&a->procs);
	if (a->timerfd >= 0)
		close(a->timerfd);
	if (a->sigfd >= 0)
		close(a->sigfd);
	if (a->epfd >= 0)
		close(a->epfd);
	a->epfd = a->sigfd = a->timerfd = -1;
}
