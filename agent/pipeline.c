// SPDX-License-Identifier: Apache-2.0
/* The per-event path: ring buffer record -> attribution -> outputs,
 * findings and the baseline; the periodic tick. */
#include "agent.h"
#include "jsonw.h"

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
#include "compact.h"
#include "decode.h"
#include "record.h"
#include "recordjson.h"
#include "render.h"

/* Records per drain before returning to the loop: under a sustained flood
 * libbpf would keep consuming, starving signals, the flush and clients. */
#define NH_DRAIN_BUDGET 4096

static uint64_t object_digest(uint64_t cgroup_id, uint32_t uid, uint32_t kind, uint64_t hash)
{
	uint64_t d = nh_hash64(cgroup_id ^ nh_hash64(hash ^ ((uint64_t)uid << 32 | kind)));

	return d ? d : 1;
}

/* Remember what a deduplicated series is about, so its summaries can say
 * it; the kernel only hands back a hash. Owned by the event's identity
 * cgroup (the pod, container or unit), never the leaf: a workload making
 * cgroups below its own would otherwise get a quota per cgroup it made. */
static void remember_object(struct nh_agent *a, const struct nh_hdr *h, uint64_t owner)
{
	uint64_t d = object_digest(h->cgroup_id, h->uid, h->kind, h->obj_hash);
	char desc[NH_PATH_MAX + 64], *copy;

	nh_render_object(h, desc, sizeof(desc));
	copy = strdup(desc);
	if (copy) /* the pod's cgroup owns it: one pod cannot push out another's */
		nh_quotamap_put(&a->objects, owner ? owner : 1, d, copy);
}

/* The record to the foreground tail and the socket's subscribers, in
 * the formats they asked for, each rendered once; stamped with the site
 * (cluster, labels) like every record the agent writes. */
static void emit_line(struct nh_agent *a, struct nh_wire_record *r)
{
	uint32_t kind = nh_record_agent_kind(r), fmts = 0;
	const char *identity = r->identity.key;
	const char *js = NULL;
	size_t jlen = 0;
	char line[4096];

	r->site = a->cfg.site;
	if (a->server.ntail)
		fmts =
		    nh_server_formats(&a->server, kind, r->process.pid, r->process.tid, identity);
	if (a->cfg.tail)
		fmts |= 1u << (a->cfg.tail_format == NH_TAIL_JSON ? NH_LINE_JSON
			       : a->cfg.color			  ? NH_LINE_COLOR
								  : NH_LINE_COMPACT);
	if (fmts & (1u << NH_LINE_JSON)) {
		struct nh_jw *w = &a->line_json;

		nh_jw_reset(w);
		if (nh_recordjson_write(r, NULL, w) == 0) {
			js = w->buf;
			jlen = w->len;
		}
		if (js && a->server.ntail)
			nh_server_publish(&a->server, NH_LINE_JSON, kind, r->process.pid,
					  r->process.tid, identity, js, jlen);
		if (js && a->cfg.tail && a->cfg.tail_format == NH_TAIL_JSON) {
			fwrite(js, 1, jlen, stdout);
			fputc('\n', stdout);
		}
	}
	for (int f = NH_LINE_COMPACT; f <= NH_LINE_COLOR; f++) {
		if (!(fmts & (1u << f)))
			continue;
		nh_compact_format(r, f == NH_LINE_COLOR, line, sizeof(line));
		if (a->server.ntail)
			nh_server_publish(&a->server, (enum nh_line_format)f, kind, r->process.pid,
					  r->process.tid, identity, line, strlen(line));
		if (a->cfg.tail && a->cfg.tail_format != NH_TAIL_JSON &&
		    (f == NH_LINE_COLOR) == a->cfg.color) {
			fputs(line, stdout);
			fputc('\n', stdout);
		}
	}
}

/* Hand one record to Kafka (through the spool); event_ns is the kernel
 * event's CLOCK_MONOTONIC time it was made from, 0 for none. */
static void ship(struct nh_agent *a, struct nh_wire_record *r, uint64_t event_ns)
{
	if (!a->kafka_on)
		return;
	r->site = a->cfg.site;
	nh_kafka_next_id(&a->kafka, &r->id);
	if (nh_kafka_send_event(&a->kafka, r, event_ns) != 0)
		a->kafka_errors++;
}

static void emit_finding(void *ctx, struct nh_wire_record *r)
{
	struct nh_agent *a = ctx;
	uint32_t kind = nh_record_agent_kind(r);

	if (kind >= NH_KIND_MAX && kind < NH_KIND_ALL)
		a->findings_emitted[kind - NH_KIND_MAX]++;
	if (a->cfg.tail ||
	    nh_server_wants(&a->server, kind, r->process.pid, r->process.tid, r->identity.key))
		emit_line(a, r);
	/* Timed from the kernel event it was made while handling; findings
	 * of the periodic tick are not. */
	ship(a, r, a->current ? a->current->h->ts_ns : 0);
	/* A credential use is behaviour too: the baseline learns it. */
	if (r->kind == NH_WIRE_CREDENTIAL_USE && a->current) {
		const struct nh_wire_credential_use *u = &r->credential_use;

		if (u->result >= 0 || u->result == -EINPROGRESS)
			nh_baseline_credential(&a->baseline, a->current, u->credential_kind,
					       u->credential, u->count, emit_finding, a);
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
	struct nh_wire_record *r = &a->rec;

	ev->identity = identity;
	nh_record_attribution(ev, &a->rec_buf, r);
	r->kind = NH_WIRE_FINDING;
	r->finding = (struct nh_wire_finding){
	    .type = NH_WIRE_FINDING_IDENTITY_CONFLICT,
	    .claimed_identity = sa->conflict_claim,
	    .believed_identity = sa->conflict_believed,
	    .reason = sa->conflict_reason,
	};
	/* timed from the event it was found on */
	a->current = ev;
	emit_finding(a, r);
	a->current = NULL;
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
			     ev->cg->found ? ev->cg->path : NULL, nh_clock_mono_ns());
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

/* Issue 19: an identity's counts from the kernel's flood budget: what it
 * sent beyond its budget (a flood record) and what the full ring lost of
 * what it sent within (a loss record naming it). */
static void report_flood(struct nh_agent *a, const struct nh_attributed *ev,
			 const struct nh_flood_event *fe)
{
	struct nh_wire_record *r = &a->rec;
	uint64_t over = 0, lost = 0, start;

	for (uint32_t k = 1; k < NH_KIND_MAX; k++) {
		over += fe->over[k];
		lost += fe->lost[k];
	}
	a->flooded_total += over;
	a->lost_attributed += lost;
	nh_identity_note_flood(&a->ids, ev->identity, fe->h.ts_ns, over, lost);
	start = fe->window_start && fe->window_start < fe->h.ts_ns ? fe->window_start : fe->h.ts_ns;
	if (over) {
		nh_warn(&a->log, "flood: %s sent %llu events beyond its budget of %llu per %llu ms",
			ev->identity, (unsigned long long)over, (unsigned long long)fe->budget,
			(unsigned long long)(fe->budget_window / 1000000));
		nh_record_attribution(ev, &a->rec_buf, r);
		r->kind = NH_WIRE_FLOOD;
		memset(&r->flood, 0, offsetof(struct nh_wire_flood, counts));
		r->flood.window_start_ns = start + (uint64_t)a->wall_offset_ns;
		r->flood.window_end_ns = r->time_ns;
		r->flood.budget = fe->budget;
		r->flood.budget_window_ns = fe->budget_window;
		r->flood.identity_cgroup_id = fe->h.cgroup_id;
		for (uint32_t k = 1; k < NH_KIND_MAX && r->flood.n_counts < NH_WIRE_COUNTERS_MAX;
		     k++)
			if (fe->over[k])
				r->flood.counts[r->flood.n_counts++] =
				    (struct nh_wire_counter){nh_kind_name(k), fe->over[k]};
		emit_line(a, r);
		ship(a, r, fe->h.ts_ns);
	}
	if (lost)
		nh_warn(&a->log, "ring buffer full: %llu events of %s lost",
			(unsigned long long)lost, ev->identity);
	/* One loss record per kind, as the unattributed ones are. */
	for (uint32_t k = 1; k < NH_KIND_MAX; k++) {
		if (!fe->lost[k])
			continue;
		nh_record_attribution(ev, &a->rec_buf, r);
		r->kind = NH_WIRE_LOSS;
		memset(&r->loss, 0, offsetof(struct nh_wire_loss, counts));
		r->loss.what = "kernel ring buffer full: events of this identity lost";
		r->loss.source = "kernel";
		r->loss.window_start_ns = start + (uint64_t)a->wall_offset_ns;
		r->loss.window_end_ns = r->time_ns;
		r->loss.identity_cgroup_id = fe->h.cgroup_id;
		r->loss.counts[r->loss.n_counts++] =
		    (struct nh_wire_counter){nh_kind_name(k), fe->lost[k]};
		emit_line(a, r);
		ship(a, r, fe->h.ts_ns);
	}
}

/* The kernel counts a cgroup's events against the outermost identity
 * above it it was told of; until then, against the cgroup itself. Only
 * identity cgroups are written (pods, containers, units, the root-owned
 * top of a delegated subtree), never the cgroups a workload makes below
 * them, so a workload cannot fill the map. A cgroup that nothing owns is
 * an identity for its own members only. */
static void register_identity(struct nh_agent *a, const struct nh_cgroup_ctx *cg)
{
	bool own = cg->identity_cgroup == cg->id && cg->info.kind == NH_CG_NONE && !cg->delegated;
	int err = nh_probes_identity_set(&a->probes, cg->identity_cgroup, own);

	if (err) {
		if (a->identity_errors++ == 0)
			nh_warn(&a->log, "cannot tell the kernel cgroup %llu's identity: %s",
				(unsigned long long)cg->id, strerror(-err));
		return;
	}
	nh_identity_budget_set(&a->ids, cg->id);
	/* Until now the kernel counted this cgroup's dedup entries against
	 * the cgroup itself: the next flush moves them to the identity, so a
	 * new pod's first burst does not hold a quota of its own on top.
	 * Bounded per flush; beyond that they age out under the cgroup. */
	err = cg->identity_cgroup != cg->id
		  ? nh_probes_dedup_reown(&a->probes, cg->id, cg->identity_cgroup)
		  : 0;
	if (err && a->identity_errors++ == 0)
		nh_warn(&a->log, "cannot move cgroup %llu's dedup entries to its identity: %s",
			(unsigned long long)cg->id, strerror(-err));
}

static void handle_event(struct nh_agent *a, void *data, size_t size)
{
	const struct nh_hdr *h;
	struct nh_attributed ev = {0};
	char identity[NH_IDENTITY_KEY_MAX];

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
		nh_probes_identity_gone(&a->probes, h->cgroup_id);
		nh_probes_cgroup_gone(&a->probes, h->cgroup_id); /* after its last pin */
		return;
	}
	default:
		break;
	}
	ev.h = h;
	ev.wall_offset_ns = a->wall_offset_ns;
	ev.proc = h->kind == NH_KIND_SUMMARY ? nh_proctable_get(&a->procs, h->tgid)
					     : nh_proctable_find(&a->procs, h->tgid);
	if (h->kind == NH_KIND_EXEC) {
		const struct nh_proc *parent = nh_proctable_get(&a->procs, h->ppid);

		ev.parent_exe = parent && parent->exe[0] ? parent->exe : NULL;
	}
	ev.cg = nh_identity_cgroup(&a->ids, h->cgroup_id, h->tgid);
	if (ev.cg && !ev.cg->budget_set)
		register_identity(a, ev.cg);
	if (h->flags & NH_F_DEDUP)
		remember_object(
		    a, h, ev.cg && ev.cg->identity_cgroup ? ev.cg->identity_cgroup : h->cgroup_id);
	if (!ev.cg || nh_identity_key(&a->ids, ev.cg, h->uid, identity, sizeof(identity)) != 0)
		snprintf(identity, sizeof(identity), "user:%u", h->uid);
	ev.identity_source =
	    ev.cg && ev.cg->info.kind != NH_CG_NONE ? NH_IDSRC_CGROUP : NH_IDSRC_UID;
	ev.user = nh_identity_user(&a->ids, h->uid);
	attribute_pod(a, &ev, identity, sizeof(identity));
	if (h->kind == NH_KIND_OPEN && (h->flags & NH_F_CRED_INODE)) {
		const struct nh_open_event *oe = data;

		ev.cred = nh_credinodes_get(&a->credinodes, oe->cred_id);
		if (ev.cred && ev.cred->pod_uid[0])
			ev.cred_sa = ev.sa && strcmp(ev.sa->pod_uid, ev.cred->pod_uid) == 0
					 ? ev.sa
					 : nh_satokens_peek(&a->tokens, ev.cred->pod_uid);
	}
	ev.identity = identity;
	ev.interactive =
	    ev.proc && ev.proc->session && ev.cg && ev.proc->session_cgroup == ev.cg->id;
	if (h->kind == NH_KIND_FLOOD) {
		report_flood(a, &ev, data);
		return;
	}
	nh_identity_note(&a->ids, identity, h->ts_ns);
	if (h->kind == NH_KIND_SUMMARY) {
		const struct nh_summary_event *s = data;

		ev.object =
		    nh_quotamap_get(&a->objects, object_digest(s->key.cgroup_id, s->key.uid,
							       s->key.kind, s->key.obj_hash));
	}

	/* The typed record, built only when something will render it. */
	{
		bool line =
		    a->cfg.tail || nh_server_wants(&a->server, h->kind, h->tgid, h->pid, identity);
		bool kafka = a->kafka_on && a->cfg.kafka.activity;

		if (line || kafka) {
			nh_record_activity(&ev, &a->rec_buf, &a->rec);
			if (line)
				emit_line(a, &a->rec);
			if (kafka)
				ship(a, &a->rec, h->ts_ns);
		}
	}
	a->current = &ev;
	nh_findings_event(&a->findings, &ev, series_digest(h, data), emit_finding, a);
	learn(a, &ev);
	a->current = NULL;
	if (h->kind == NH_KIND_EXIT)
		nh_proctable_exit(&a->procs, h->tgid);
}

int nh_pipeline_on_event(void *ctx, void *data, size_t size)
{
	struct nh_agent *a = ctx;

	handle_event(a, data, size);
	/* Every record counts against the drain budget; it is consumed either
	 * way, and a negative return makes libbpf stop after it. */
	return ++a->consumed >= NH_DRAIN_BUDGET ? -EAGAIN : 0;
}

/* One bounded drain of the ring buffer. */
void nh_pipeline_drain(struct nh_agent *a)
{
	a->consumed = 0;
	nh_probes_consume(&a->probes);
}

/* Kernel-side losses become visible records, not only counters. */
static void report_losses(struct nh_agent *a)
{
	for (uint32_t k = 1; k < NH_KIND_MAX; k++) {
		struct nh_kind_stats *ks = &a->kinds[k];
		struct nh_wire_record *r = &a->rec;
		struct nh_counters c;
		uint64_t now;

		if (nh_probes_counters(&a->probes, k, &c) != 0)
			continue;
		/* Lower than announced: rewritten by someone else (the self-watch
		 * reports that); losses after it count from the new value. */
		if (c.lost < ks->lost_reported)
			ks->lost_reported = c.lost;
		if (c.lost <= ks->lost_reported)
			continue;
		nh_warn(&a->log, "ring buffer full: %llu %s events lost (%llu in total)",
			(unsigned long long)(c.lost - ks->lost_reported), nh_kind_name(k),
			(unsigned long long)c.lost);
		now = nh_clock_mono_ns() + (uint64_t)a->wall_offset_ns;
		memset(r, 0, sizeof(*r));
		r->kind = NH_WIRE_LOSS;
		r->time_ns = now;
		r->loss.what = "kernel ring buffer full: events lost before the agent";
		r->loss.source = "kernel";
		r->loss.window_start_ns = r->loss.window_end_ns = now;
		r->loss.counts[r->loss.n_counts++] =
		    (struct nh_wire_counter){nh_kind_name(k), c.lost - ks->lost_reported};
		r->loss.totals[r->loss.n_totals++] =
		    (struct nh_wire_counter){nh_kind_name(k), c.lost};
		emit_line(a, r);
		ship(a, r, 0);
		ks->lost_reported = c.lost;
	}
}

/* Issue 19: the time between the previous run's last sign of life and
 * this start, when nothing on this node was monitored. */
void nh_pipeline_report_gap(struct nh_agent *a)
{
	struct nh_wire_record *r = &a->rec;
	const struct nh_lifecycle_gap *g = &a->gap;

	nh_warn(&a->log, "monitoring gap: %.3f s unmonitored since the previous run %s",
		(double)(g->end_ns - g->start_ns) / 1e9,
		g->clean_stop ? "stopped" : "was last alive (it did not stop cleanly)");
	memset(r, 0, sizeof(*r));
	r->kind = NH_WIRE_MONITORING_GAP;
	r->time_ns = g->end_ns;
	r->monitoring_gap.start_ns = g->start_ns;
	r->monitoring_gap.end_ns = g->end_ns;
	r->monitoring_gap.clean_stop = g->clean_stop;
	r->monitoring_gap.reason = g->clean_stop
				       ? "agent restarted after a clean stop"
				       : "agent restarted after a crash, kill or power loss";
	emit_line(a, r);
	ship(a, r, 0);
}

/* Pod records from the kubelet. A failed fetch keeps the records known
 * so far; it is logged when it starts failing and when it recovers. */
static void pods_result(struct nh_agent *a, int err)
{
	if (err) {
		snprintf(a->pod_list_error, sizeof(a->pod_list_error), "%s", a->kubelet.error);
		if (a->kubelet_errors++ == 0)
			nh_warn(&a->log, "pod list: %s", a->kubelet.error);
	} else {
		if (a->kubelet_errors)
			nh_info(&a->log, "pod list: %zu pods (recovered)", a->kubelet.npods);
		a->kubelet_errors = 0;
	}
}

/* Every this often: a new host credential file or pod volume is matched
 * by inode from then on (by path before). */
#define NH_CREDINODES_SCAN_NS (2ULL * NH_NSEC)

void nh_pipeline_scan_credentials(struct nh_agent *a)
{
	uint64_t now = nh_clock_mono_ns();
	uint64_t errors = a->credinodes.errors;

	if (nh_credinodes_scan(&a->credinodes, &a->findings.cat, now,
			       (int64_t)(nh_clock_wall_ns() / NH_NSEC)) != 0 ||
	    a->credinodes.errors != errors)
		nh_debug(&a->log, "credential files by inode: %llu errors so far",
			 (unsigned long long)a->credinodes.errors);
	a->credinodes_next_ns = now + NH_CREDINODES_SCAN_NS;
}

/* The fetch (HTTP, up to its timeout) runs on the I/O worker with the
 * kubelet's own curl handle and error buffer, which nothing else uses
 * while it is out; the loop parses the answer. */
struct pods_job {
	struct nh_job job;
	struct nh_agent *a;
	char *body;
	size_t len;
	int rc;
};

static void pods_run(struct nh_job *job)
{
	struct pods_job *j = (struct pods_job *)job;

	j->rc = nh_kubelet_fetch(&j->a->kubelet, &j->body, &j->len);
}

static void pods_done(void *owner, struct nh_job *job)
{
	struct pods_job *j = (struct pods_job *)job;
	struct nh_agent *a = owner;
	int rc = job->started_ns ? j->rc : -ECANCELED;

	if (!rc) {
		rc = nh_kubelet_parse(&a->kubelet, j->body, j->len, NULL);
		if (rc == -E2BIG)
			snprintf(a->kubelet.error, sizeof(a->kubelet.error),
				 "response has more than %d pods", NH_KUBELET_MAX_PODS);
	}
	if (rc != -ECANCELED)
		pods_result(a, rc);
	free(j->body);
	free(j);
}

void nh_pipeline_refresh_pods(struct nh_agent *a)
{
	struct pods_job *j;

	a->kubelet_next_ns = nh_clock_mono_ns() + a->cfg.kubelet_refresh_ms * 1000000ULL;
	if (!a->io_on) {
		pods_result(a, nh_kubelet_refresh(&a->kubelet));
		return;
	}
	j = calloc(1, sizeof(*j));
	if (!j)
		return;
	j->job = (struct nh_job){.key = (uint64_t)(uintptr_t)&a->kubelet,
				 .run = pods_run,
				 .done = pods_done,
				 .owner = a};
	j->a = a;
	/* One fetch out at a time: a slow kubelet skips refreshes. */
	if (nh_worker_submit(&a->io, &j->job) != 0)
		free(j);
}

/* The agent's kernel side, checked once a second: a change someone else
 * made is a monitoring_tampered finding (no process: it is about the
 * agent), a link gone is attached again where the kernel lets it. */
static void selfwatch(struct nh_agent *a, uint64_t now)
{
	uint64_t received[NH_KIND_MAX];
	struct nh_tamper t[8];
	int n;

	if (now < a->selfwatch_next_ns)
		return;
	/* less a tenth: the tick that is due a second later may wake a
	 * little early against this reading (timer jitter), and must not
	 * skip a round */
	a->selfwatch_next_ns = now + NH_SELFWATCH_NS - NH_SELFWATCH_NS / 10;
	for (int k = 0; k < NH_KIND_MAX; k++)
		received[k] = a->kinds[k].received;
	n = nh_probes_verify(&a->probes, received, t, 8);
	for (int i = 0; i < n; i++) {
		struct nh_wire_record *r = &a->rec;

		nh_warn(&a->log, "monitoring tampered: %s: %s", t[i].what, t[i].detail);
		memset(r, 0, sizeof(*r));
		r->kind = NH_WIRE_FINDING;
		r->time_ns = now + (uint64_t)a->wall_offset_ns;
		r->identity.key = "agent:nhiscope";
		r->finding = (struct nh_wire_finding){
		    .type = NH_WIRE_FINDING_MONITORING_TAMPERED,
		    .reason = t[i].detail,
		};
		emit_finding(a, r);
	}
}

void nh_pipeline_tick(struct nh_agent *a)
{
	uint64_t now = nh_clock_mono_ns(), dt;
	int err = nh_probes_flush(&a->probes);

	if (a->io_on)
		nh_worker_check(&a->io, now);
	selfwatch(a, now);
	if (a->kubelet_on && now >= a->kubelet_next_ns)
		nh_pipeline_refresh_pods(a);
	if (a->credinodes_on && now >= a->credinodes_next_ns)
		nh_pipeline_scan_credentials(a);
	nh_agent_tick_keys(a, now);
	nh_baseline_tick(&a->baseline, now + (uint64_t)a->wall_offset_ns, emit_finding, a);
	if (a->kafka_on) {
		struct nh_wire_counter c[] = {
		    {"events_received", 0},
		    {"anomalies", a->baseline.anomalies},
		    {"kafka_produced", a->kafka.produced},
		    {"kafka_delivered", a->kafka.delivered},
		    {"kafka_failed", a->kafka.failed},
		    {"spool_pending", nh_spool_pending(&a->kafka.spool)},
		    /* posture: 1 on, 0 off, UINT64_MAX unknown (posture.h) */
		    {"ia32_emulation", (uint64_t)(int64_t)a->posture.ia32_emulation},
		    {"io_uring_disabled", (uint64_t)(int64_t)a->posture.io_uring_disabled},
		    {"compat_monitor", a->cfg.compat_monitor},
		};

		for (int k = 0; k < NH_KIND_MAX; k++)
			c[0].value += a->kinds[k].received;
		a->kafka.probes_missing = (uint32_t)nh_probes_missing(&a->probes);
		a->kafka.monitoring_tampered = a->probes.tampered;
		nh_kafka_tick(&a->kafka, now, now + (uint64_t)a->wall_offset_ns,
			      (uint32_t)a->probes.nprobes - a->kafka.probes_missing, c,
			      sizeof(c) / sizeof(c[0]));
	}
	nh_lifecycle_beat(&a->life, now + (uint64_t)a->wall_offset_ns, now);
	if (a->persist && now >= a->next_snapshot_ns) {
		nh_profilestore_save(&a->store, &a->baseline.models);
		a->next_snapshot_ns = now + a->cfg.snapshot_interval_ms * 1000000ULL;
	}

	if (err && a->flush_errors++ == 0)
		nh_warn(&a->log, "dedup flush failed: %s", strerror(-err));
	/* Summaries from the flush are in the ring now: deliver them. */
	nh_pipeline_drain(a);
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
