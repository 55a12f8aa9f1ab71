// SPDX-License-Identifier: Apache-2.0
/* What the agent says about itself: `nhiscope status` and the profile
 * queries over the socket, /metrics and /readyz. */
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

#include "clock.h"
#include "render.h"

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
		json_object_object_add(e, "flooded", json_object_new_int64(all[j]->flooded));
		json_object_object_add(e, "lost", json_object_new_int64(all[j]->lost));
		nh_render_time(all[j]->last_ns, a->wall_offset_ns, ts, sizeof(ts));
		json_object_object_add(e, "last_seen", json_object_new_string(ts));
		json_object_array_add(list, e);
	}
	free(all);
	json_object_object_add(o, "count", json_object_new_int64(n));
	json_object_object_add(o, "top", list);
	return o;
}

/* Issue 16: each identity's share of the kernel's dedup map, the ones
 * refused at their quota first. */
static json_object *dedup_shares_json(struct nh_agent *a)
{
	json_object *list = json_object_new_array();
	struct nh_dedup_share *all = calloc(4096, sizeof(*all));
	int n = all ? nh_probes_dedup_shares(&a->probes, all, 4096) : 0;

	for (int j = 0; j < n && j < 100; j++) {
		const struct nh_cgroup_ctx *cg =
		    nh_u64map_get(&a->ids.cgroups, all[j].identity_cgroup);
		json_object *e = json_object_new_object();

		json_object_object_add(e, "cgroup_id",
				       json_object_new_int64((int64_t)all[j].identity_cgroup));
		if (cg && cg->found)
			json_object_object_add(e, "cgroup", json_object_new_string(cg->path));
		json_object_object_add(e, "entries", json_object_new_int64((int64_t)all[j].o.live));
		json_object_object_add(e, "refused",
				       json_object_new_int64((int64_t)all[j].o.refused));
		json_object_object_add(e, "evicted",
				       json_object_new_int64((int64_t)all[j].o.evicted));
		json_object_array_add(list, e);
	}
	free(all);
	return list;
}

static int cmp_flooded(const void *x, const void *y)
{
	const struct nh_identity_seen *const *a = x, *const *b = y;
	uint64_t va = (*a)->flooded + (*a)->lost, vb = (*b)->flooded + (*b)->lost;

	return va < vb ? 1 : va > vb ? -1 : 0;
}

/* Issue 19: the budget, and who flooded or lost events, most first. */
static json_object *floods_json(struct nh_agent *a, const struct nh_metrics *m)
{
	json_object *o = json_object_new_object(), *list = json_object_new_array();
	size_t n = a->ids.seen.len, i = 0, it = 0;
	struct nh_identity_seen **all = calloc(n ? n : 1, sizeof(*all));
	uint64_t key;
	void *v;

	while (all && nh_u64map_next(&a->ids.seen, &it, &key, &v) && i < n)
		if (((struct nh_identity_seen *)v)->flooded || ((struct nh_identity_seen *)v)->lost)
			all[i++] = v;
	if (all)
		qsort(all, i, sizeof(*all), cmp_flooded);
	for (size_t j = 0; all && j < i && j < 100; j++) {
		json_object *e = json_object_new_object();

		json_object_object_add(e, "key", json_object_new_string(all[j]->key));
		json_object_object_add(e, "flooded", json_object_new_int64(all[j]->flooded));
		json_object_object_add(e, "lost", json_object_new_int64(all[j]->lost));
		json_object_array_add(list, e);
	}
	free(all);
	json_object_object_add(o, "budget", json_object_new_int64(m->flood_budget));
	json_object_object_add(o, "window_ms", json_object_new_int64(m->flood_window_ms));
	json_object_object_add(o, "flooded", json_object_new_int64(a->flooded_total));
	json_object_object_add(o, "lost_attributed", json_object_new_int64(m->lost_attributed));
	json_object_object_add(o, "identities", list);
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
	m->uptime_s = (double)(nh_clock_mono_ns() - a->start_ns) / NH_NSEC;
	m->start_time_s = (double)((int64_t)a->start_ns + a->wall_offset_ns) / NH_NSEC;
	m->ia32_emulation = a->posture.ia32_emulation;
	m->compat_monitor = a->cfg.compat_monitor;
	m->io_uring_disabled = a->posture.io_uring_disabled;
	for (int i = 0; i < a->probes.nprobes && i < NH_METRICS_PROBES_MAX; i++) {
		const struct nh_probe *p = &a->probes.probe[i];

		/* a syscall this kernel does not have is no hook of this node
		 * (status lists it under probes_absent) */
		if (p->absent)
			continue;
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
		    .flooded = c.flooded,
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
		m->dedup_quota = ds.quota;
		m->dedup_refused = ds.refused;
		m->dedup_identities_refused = ds.identities_refused;
		m->objects_evicted = a->objects.evicted;
		m->series_evicted = a->findings.series.evicted;
	}
	m->ringbuf_bytes = a->cfg.ringbuf_bytes;
	m->processes = a->procs.procs.len;
	m->cgroups_cached = a->ids.cgroups.len;
	m->identities = a->ids.seen.len;
	m->flood_budget = a->cfg.flood_budget;
	m->flood_window_ms = a->cfg.flood_window_ms;
	m->lost_attributed = a->lost_attributed;
	{
		size_t sit = 0;
		uint64_t key;
		void *v;

		while (nh_u64map_next(&a->ids.seen, &sit, &key, &v)) {
			const struct nh_identity_seen *s = v;

			m->identities_flooded += s->flooded || s->lost;
		}
	}

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
			m->spool_lost[c] = k->spool.lost[c];
		}
		for (int i = 0; i < NH_SPOOL_WERRS && i < 3; i++)
			m->spool_write_errors[i] = k->spool.write_errors[i];
		m->spool_corrupt = k->spool.corrupt;
		m->spool_max_bytes = k->spool.max_bytes;
		m->spool_unsynced = nh_spool_unsynced(&k->spool);
	}
	m->subscribers = (uint64_t)a->server.ntail;
	m->subscriber_drops = a->server.dropped_total;
	m->socket_refused = a->server.refused;
	if (a->io_on) {
		m->io_threads = nh_worker_threads(&a->io);
		m->io_stuck = nh_worker_stuck(&a->io);
		m->io_stuck_total = a->io.stuck_total;
		m->io_late = a->io.late;
		m->io_refused = a->io.refused;
	}
	m->sa_token_stalled = a->tokens.stalled;
	m->probes_missing = (uint64_t)nh_probes_missing(&a->probes);
	m->tampered = a->probes.tampered;
	m->reattached = a->probes.reattached;
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
	{
		/* credential files the kernel matches by inode (credinodes.h) */
		const struct nh_credinodes *ci = &a->credinodes;
		json_object *bi = json_object_new_object();

		json_object_object_add(bi, "files", json_object_new_int64((int64_t)ci->files));
		json_object_object_add(bi, "volumes", json_object_new_int64((int64_t)ci->volumes));
		json_object_object_add(bi, "rotated_kept",
				       json_object_new_int64((int64_t)ci->rotated));
		json_object_object_add(bi, "scans", json_object_new_int64((int64_t)ci->scans));
		json_object_object_add(bi, "errors", json_object_new_int64((int64_t)ci->errors));
		json_object_object_add(bi, "overflows",
				       json_object_new_int64((int64_t)ci->overflows));
		json_object_object_add(o, "by_inode", bi);
	}
	for (uint32_t k = NH_KIND_CREDENTIAL_USE; k < NH_KIND_ALL; k++)
		json_object_object_add(f, nh_kind_name(k),
				       json_object_new_int64(m->findings[k - NH_KIND_MAX]));
	json_object_object_add(o, "findings", f);
	if (m->kubelet) {
		json_object_object_add(o, "pod_records", json_object_new_int64(m->pod_records));
		if (m->pod_list_failures)
			json_object_object_add(o, "pod_list_error",
					       json_object_new_string(a->pod_list_error));
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
	json_object_object_add(k, "spool_lost_anomaly",
			       json_object_new_int64(m->spool_lost[NH_SPOOL_ANOMALY]));
	json_object_object_add(k, "spool_lost_activity",
			       json_object_new_int64(m->spool_lost[NH_SPOOL_ACTIVITY]));
	json_object_object_add(k, "spool_write_errors",
			       json_object_new_int64(m->spool_write_errors[0] +
						     m->spool_write_errors[1] +
						     m->spool_write_errors[2]));
	json_object_object_add(k, "spool_corrupt", json_object_new_int64(m->spool_corrupt));
	json_object_object_add(k, "spool_unsynced_segments",
			       json_object_new_int64(m->spool_unsynced));
	json_object_object_add(k, "errors", json_object_new_int64(m->kafka_send_errors));
	json_object_object_add(k, "delivery_latency_us",
			       nh_histogram_json(&a->kafka.delivery_latency_us));
	if (a->kafka.last_error[0])
		json_object_object_add(k, "last_error",
				       json_object_new_string(a->kafka.last_error));
	return k;
}

/* Who may use the socket, and how many were refused. */
static json_object *socket_status(struct nh_agent *a, const struct nh_metrics *m)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "group",
			       a->server.have_watch_gid ? json_object_new_int64(a->server.watch_gid)
							: NULL);
	json_object_object_add(o, "refused", json_object_new_int64(m->socket_refused));
	return o;
}

/* Workload file reads off the loop. */
static json_object *io_status(const struct nh_metrics *m)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "threads", json_object_new_int64(m->io_threads));
	json_object_object_add(o, "stuck", json_object_new_int64(m->io_stuck));
	json_object_object_add(o, "stuck_total", json_object_new_int64(m->io_stuck_total));
	json_object_object_add(o, "late", json_object_new_int64(m->io_late));
	json_object_object_add(o, "refused", json_object_new_int64(m->io_refused));
	json_object_object_add(o, "token_reads_stalled",
			       json_object_new_int64(m->sa_token_stalled));
	return o;
}

/* Coverage and the kernel side's integrity: hooks that did not attach
 * (with why), tampering seen, links attached again. */
static json_object *selfwatch_status(struct nh_agent *a, const struct nh_metrics *m)
{
	json_object *o = json_object_new_object(), *missing = json_object_new_array();

	for (int i = 0; i < a->probes.nprobes; i++) {
		const struct nh_probe *p = &a->probes.probe[i];
		json_object *e;

		/* absent: the kernel has no such syscall, nothing to miss */
		if (p->attached || p->absent)
			continue;
		e = json_object_new_object();
		json_object_object_add(e, "program", json_object_new_string(p->prog));
		json_object_object_add(e, "tracepoint", json_object_new_string(p->tracepoint));
		json_object_object_add(e, "error", json_object_new_string(p->error));
		json_object_array_add(missing, e);
	}
	json_object_object_add(o, "probes_missing", missing);
	json_object_object_add(o, "tampered", json_object_new_int64(m->tampered));
	json_object_object_add(o, "reattached", json_object_new_int64(m->reattached));
	if (a->probes.last_tamper[0])
		json_object_object_add(o, "last_tamper",
				       json_object_new_string(a->probes.last_tamper));
	return o;
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
	{
		json_object *absent = json_object_new_array();

		for (int i = 0; i < a->probes.nprobes; i++)
			if (a->probes.probe[i].absent)
				json_object_array_add(
				    absent, json_object_new_string(a->probes.probe[i].prog));
		json_object_object_add(o, "probes_absent", absent);
	}
	{
		/* paths the tracepoints do not show, open or closed on this node */
		json_object *p = json_object_new_object();

		json_object_object_add(
		    p, "ia32_emulation",
		    json_object_new_string(nh_posture_ia32_name(m.ia32_emulation)));
		json_object_object_add(p, "io_uring_disabled",
				       json_object_new_int(m.io_uring_disabled));
		json_object_object_add(p, "compat_monitor",
				       json_object_new_string(m.compat_monitor ? "on" : "off"));
		json_object_object_add(o, "posture", p);
	}
	json_object_object_add(o, "probes", probes);
	for (uint32_t k = 1; k < NH_KIND_MAX; k++) {
		const struct nh_metrics_kind *mk = &m.kinds[k];
		json_object *e;

		if (!nh_kind_named(k))
			continue;
		e = json_object_new_object();
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
		json_object_object_add(e, "flooded", json_object_new_int64(mk->flooded));
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
	json_object_object_add(dedup, "quota", json_object_new_int64(m.dedup_quota));
	json_object_object_add(dedup, "refused", json_object_new_int64(m.dedup_refused));
	json_object_object_add(dedup, "identities", dedup_shares_json(a));
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
	json_object_object_add(o, "floods", floods_json(a, &m));
	if (a->gap.found) {
		json_object *g = json_object_new_object();

		json_object_object_add(g, "start_ns",
				       json_object_new_int64((int64_t)a->gap.start_ns));
		json_object_object_add(g, "end_ns", json_object_new_int64((int64_t)a->gap.end_ns));
		json_object_object_add(g, "clean_stop", json_object_new_boolean(a->gap.clean_stop));
		json_object_object_add(o, "monitoring_gap", g);
	}
	json_object_object_add(o, "credentials", credentials_status(a, &m));
	json_object_object_add(o, "baselines", baselines_status(a, &m));
	if (m.kafka)
		json_object_object_add(o, "kafka", kafka_status(a, &m));
	json_object_object_add(o, "subscribers", json_object_new_int64(m.subscribers));
	json_object_object_add(o, "subscriber_drops", json_object_new_int64(m.subscriber_drops));
	json_object_object_add(o, "socket", socket_status(a, &m));
	json_object_object_add(o, "io", io_status(&m));
	json_object_object_add(o, "selfwatch", selfwatch_status(a, &m));
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
		nh_models_reset(&a->baseline.models, id,
				nh_clock_mono_ns() + (uint64_t)a->wall_offset_ns);
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

json_object *nh_status_query(void *ctx, const char *op, json_object *req)
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
		attached += a->probes.probe[i].attached || a->probes.probe[i].absent;
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

const struct nh_httpd_ops nh_status_http_ops = {
    .metrics = http_metrics,
    .not_ready = http_not_ready,
};
