// SPDX-License-Identifier: Apache-2.0
#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing text buffer; the first failed allocation sticks. */
struct out {
	char *p;
	size_t len, cap;
	int err;
};

struct label {
	const char *name, *value;
};

static void reserve(struct out *o, size_t more)
{
	size_t cap = o->cap ? o->cap : 16384;
	char *p;

	if (o->err || o->len + more < o->cap)
		return;
	while (cap <= o->len + more)
		cap *= 2;
	p = realloc(o->p, cap);
	if (!p) {
		o->err = -ENOMEM;
		return;
	}
	o->p = p;
	o->cap = cap;
}

static void put(struct out *o, const char *s, size_t n)
{
	reserve(o, n);
	if (o->err)
		return;
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void printf_(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		o->err = -EINVAL;
		return;
	}
	reserve(o, (size_t)n + 1);
	if (o->err)
		return;
	va_start(ap, fmt);
	vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	o->len += (size_t)n;
}

/* The format's escapes: backslash and newline everywhere, and the
 * double quote inside label values. */
static void escaped(struct out *o, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			puts_(o, "\\\\");
		else if (*s == '\n')
			puts_(o, "\\n");
		else if (*s == '"' && quote)
			puts_(o, "\\\"");
		else
			put(o, s, 1);
	}
}

static void family(struct out *o, const char *name, const char *type, const char *help)
{
	printf_(o, "# HELP %s ", name);
	escaped(o, help, false);
	printf_(o, "\n# TYPE %s %s\n", name, type);
}

static void sample(struct out *o, const char *name, const struct label *l, size_t nl,
		   const char *value)
{
	puts_(o, name);
	for (size_t i = 0; i < nl; i++) {
		printf_(o, "%c%s=\"", i ? ',' : '{', l[i].name);
		escaped(o, l[i].value ? l[i].value : "", true);
		puts_(o, "\"");
	}
	printf_(o, "%s %s\n", nl ? "}" : "", value);
}

static void sample_u(struct out *o, const char *name, const struct label *l, size_t nl, uint64_t v)
{
	char s[32];

	snprintf(s, sizeof(s), "%" PRIu64, v);
	sample(o, name, l, nl, s);
}

/* A family with one unlabelled sample. */
static void single(struct out *o, const char *name, const char *type, const char *help, uint64_t v)
{
	family(o, name, type, help);
	sample_u(o, name, NULL, 0, v);
}

const char *nh_metrics_class_name(int cls)
{
	return cls == 0 ? "anomaly" : cls == 1 ? "activity" : "unknown";
}

/* One counter per kernel kind, from the field at offset off. */
static void per_kind(struct out *o, const struct nh_metrics *m, const char *name, const char *help,
		     size_t off)
{
	family(o, name, "counter", help);
	for (uint32_t k = 1; k < NH_KIND_MAX; k++) {
		struct label l = {"kind", nh_kind_name(k)};

		if (!nh_kind_named(k))
			continue;
		sample_u(o, name, &l, 1, *(const uint64_t *)((const char *)&m->kinds[k] + off));
	}
}

static void per_class(struct out *o, const char *name, const char *type, const char *help,
		      const uint64_t *v)
{
	family(o, name, type, help);
	for (int c = 0; c < NH_METRICS_CLASSES; c++) {
		struct label l = {"class", nh_metrics_class_name(c)};

		sample_u(o, name, &l, 1, v[c]);
	}
}

static void spool_write_errors(struct out *o, const struct nh_metrics *m)
{
	static const char *const cause[] = {"nospc", "io", "other"};
	const char *name = "nhiscope_spool_write_errors_total";

	family(o, name, "counter",
	       "Failed spool writes by cause (nospc: disk full or quota); each is retried, "
	       "then the record is counted lost.");
	for (int i = 0; i < 3; i++) {
		struct label l = {"cause", cause[i]};

		sample_u(o, name, &l, 1, m->spool_write_errors[i]);
	}
}

static void process(struct out *o, const struct nh_metrics *m)
{
	struct label l = {"version", m->version};
	char v[64];

	family(o, "nhiscope_build_info", "gauge", "The agent's version, as a label; always 1.");
	sample(o, "nhiscope_build_info", &l, 1, "1");
	family(o, "nhiscope_start_time_seconds", "gauge",
	       "When the agent started, in seconds since the Unix epoch.");
	snprintf(v, sizeof(v), "%.3f", m->start_time_s);
	sample(o, "nhiscope_start_time_seconds", NULL, 0, v);
	family(o, "nhiscope_node_ia32_emulation", "gauge",
	       "Whether 32-bit syscalls, which the probes do not see, are possible on the node "
	       "(1), not (0), or unknown (-1).");
	snprintf(v, sizeof(v), "%d", m->ia32_emulation);
	sample(o, "nhiscope_node_ia32_emulation", NULL, 0, v);
	family(
	    o, "nhiscope_node_io_uring_disabled", "gauge",
	    "kernel.io_uring_disabled (0: io_uring, which the probes do not see, allowed for all; "
	    "2: disabled; -1: no such setting).");
	snprintf(v, sizeof(v), "%d", m->io_uring_disabled);
	sample(o, "nhiscope_node_io_uring_disabled", NULL, 0, v);
	family(o, "nhiscope_compat_monitor", "gauge",
	       "Whether the compat monitor (kernel.compatMonitor) watches 32-bit syscalls (1) or "
	       "not (0).");
	sample_u(o, "nhiscope_compat_monitor", NULL, 0, m->compat_monitor);
	family(o, "nhiscope_probe_attached", "gauge",
	       "Whether each BPF program is attached to its tracepoint (1) or not (0).");
	for (size_t i = 0; i < m->nprobes; i++) {
		struct label pl[] = {{"probe", m->probes[i].program},
				     {"tracepoint", m->probes[i].tracepoint}};

		sample_u(o, "nhiscope_probe_attached", pl, 2, m->probes[i].attached);
	}
}

static void events(struct out *o, const struct nh_metrics *m)
{
	per_kind(o, m, "nhiscope_events_received_total", "Records that reached the agent, by kind.",
		 offsetof(struct nh_metrics_kind, received));
	per_kind(o, m, "nhiscope_events_observed_total",
		 "Events the agent accounted for, by kind: records received plus the repeats "
		 "their dedup summaries stand for.",
		 offsetof(struct nh_metrics_kind, observed));
	per_kind(o, m, "nhiscope_kernel_events_emitted_total",
		 "Records the kernel wrote to the ring buffer, by kind.",
		 offsetof(struct nh_metrics_kind, emitted));
	per_kind(o, m, "nhiscope_kernel_events_deduplicated_total",
		 "Repeats the kernel folded into a dedup entry instead of sending, by kind.",
		 offsetof(struct nh_metrics_kind, deduplicated));
	per_kind(o, m, "nhiscope_kernel_events_lost_total",
		 "Records lost because the ring buffer was full, by kind.",
		 offsetof(struct nh_metrics_kind, lost));
	per_kind(o, m, "nhiscope_kernel_events_flooded_total",
		 "Events beyond their identity's budget, counted in the kernel instead of sent "
		 "(reported in flood records), by kind.",
		 offsetof(struct nh_metrics_kind, flooded));
	single(o, "nhiscope_kernel_events_lost_attributed_total", "counter",
	       "Ring-buffer losses attributed to the identity whose event was lost (loss records "
	       "and `nhiscope status` name it).",
	       m->lost_attributed);
	single(o, "nhiscope_identities_flooded", "gauge",
	       "Identities with events beyond their budget or lost since the agent started.",
	       m->identities_flooded);
	single(o, "nhiscope_flood_budget", "gauge",
	       "Events one identity may send per flood window; 0: unlimited.", m->flood_budget);
	single(o, "nhiscope_decode_errors_total", "counter",
	       "Ring-buffer records that failed validation.", m->decode_errors);
	single(o, "nhiscope_dedup_flush_errors_total", "counter",
	       "Failed runs of the in-kernel dedup window flush.", m->flush_errors);
	if (m->dedup_entries >= 0)
		single(o, "nhiscope_dedup_entries", "gauge", "Entries in the in-kernel dedup map.",
		       (uint64_t)m->dedup_entries);
	single(o, "nhiscope_dedup_entries_max", "gauge",
	       "Capacity of the in-kernel dedup map; beyond it the least recently used entry is "
	       "evicted.",
	       m->dedup_max_entries);
	single(o, "nhiscope_dedup_evicted_total", "counter",
	       "Dedup entries the full in-kernel map evicted (their objects report in full again).",
	       m->dedup_evicted);
	single(o, "nhiscope_dedup_quota", "gauge",
	       "Entries one identity may hold in the in-kernel dedup map; 0: no quota.",
	       m->dedup_quota);
	single(o, "nhiscope_dedup_refused_total", "counter",
	       "First reports the kernel sent but did not remember: their identity held its "
	       "quota of dedup entries (`nhiscope status` names the identities).",
	       m->dedup_refused);
	single(o, "nhiscope_dedup_identities_refused", "gauge",
	       "Identities with first reports refused at their dedup quota.",
	       m->dedup_identities_refused);
	single(o, "nhiscope_dedup_purged_total", "counter",
	       "Dedup entries of removed cgroups purged from the kernel, pinned ones included.",
	       m->dedup_purged);
	single(o, "nhiscope_objects_evicted_total", "counter",
	       "Descriptions of deduplicated objects pushed out (a cgroup past its quota loses its "
	       "own oldest); their summaries then name no object.",
	       m->objects_evicted);
	single(o, "nhiscope_series_evicted_total", "counter",
	       "Credential series pushed out (an identity past its quota loses its own oldest); "
	       "their summaries then count no use.",
	       m->series_evicted);
	{
		char v[32];

		family(o, "nhiscope_dedup_window_seconds", "gauge",
		       "The in-kernel dedup window; 0 when dedup is off.");
		snprintf(v, sizeof(v), "%.3f", (double)m->dedup_window_ms / 1000.0);
		sample(o, "nhiscope_dedup_window_seconds", NULL, 0, v);
	}
	single(o, "nhiscope_ringbuf_bytes", "gauge", "Size of the kernel ring buffer.",
	       m->ringbuf_bytes);
}

static void tables(struct out *o, const struct nh_metrics *m)
{
	single(o, "nhiscope_processes", "gauge", "Processes in the agent's process table.",
	       m->processes);
	single(o, "nhiscope_cgroups_cached", "gauge", "Cgroups whose identity is cached.",
	       m->cgroups_cached);
	single(o, "nhiscope_identities", "gauge", "Identities seen since the agent started.",
	       m->identities);
	single(o, "nhiscope_subscribers", "gauge", "Tail subscribers connected to the socket.",
	       m->subscribers);
	single(o, "nhiscope_subscriber_dropped_total", "counter",
	       "Events dropped for tail subscribers that read too slowly.", m->subscriber_drops);
}

static void credentials(struct out *o, const struct nh_metrics *m)
{
	single(o, "nhiscope_credentials", "gauge", "Credentials in the registry.", m->credentials);
	single(o, "nhiscope_credentials_reused", "gauge",
	       "Credentials used by more than one identity.", m->credentials_reused);
	single(o, "nhiscope_credentials_evicted_total", "counter",
	       "Registry entries pushed out: an identity past its quota loses its own oldest.",
	       m->credentials_evicted);
	single(o, "nhiscope_sa_token_reads_total", "counter",
	       "Service-account tokens read from pods.", m->sa_token_reads);
	single(o, "nhiscope_sa_token_rotations_total", "counter",
	       "Service-account token rotations noticed.", m->sa_token_rotations);
	single(o, "nhiscope_sa_token_failures_total", "counter",
	       "Service-account tokens that could not be read or decoded.", m->sa_token_failures);
	single(o, "nhiscope_sa_tokens_verified_total", "counter",
	       "Service-account tokens whose signature verified against the cluster's keys.",
	       m->sa_tokens_verified);
	single(
	    o, "nhiscope_sa_tokens_rejected_total", "counter",
	    "Service-account tokens not believed (signature, expiry, issuer, audience, no keys).",
	    m->sa_tokens_rejected);
	single(o, "nhiscope_sa_token_keys", "gauge",
	       "Service-account signing keys known (from --jwks-file or the API server).",
	       m->sa_token_keys);
	family(o, "nhiscope_findings_total", "counter",
	       "Findings emitted, by kind (credential_use, credential_reuse, secret_exposure, "
	       "human_use, identity_conflict).");
	for (uint32_t k = NH_KIND_CREDENTIAL_USE; k <= NH_KIND_IDENTITY_CONFLICT; k++) {
		struct label l = {"kind", nh_kind_name(k)};

		sample_u(o, "nhiscope_findings_total", &l, 1, m->findings[k - NH_KIND_MAX]);
	}
	if (m->kubelet) {
		single(o, "nhiscope_pod_records", "gauge",
		       "Pods known from the kubelet's pod list.", m->pod_records);
		single(o, "nhiscope_pod_list_failures", "gauge",
		       "Consecutive failed fetches of the pod list; 0 after a success.",
		       m->pod_list_failures);
	}
}

static void baselines(struct out *o, const struct nh_metrics *m)
{
	family(o, "nhiscope_profiles", "gauge", "Behaviour profiles, by state.");
	for (int s = NH_PROFILE_LEARNING; s <= NH_PROFILE_STABLE; s++) {
		struct label l = {"state", nh_profile_state_name(s)};

		sample_u(o, "nhiscope_profiles", &l, 1, m->profiles[s]);
	}
	single(o, "nhiscope_profile_bytes", "gauge", "Memory the behaviour profiles hold.",
	       m->profile_bytes);
	single(o, "nhiscope_profile_observations_dropped_total", "counter",
	       "Observations for new identities not learned: the profile table was full.",
	       m->profiles_dropped);
	single(o, "nhiscope_baseline_errors_total", "counter",
	       "Observations the behaviour models rejected.", m->observe_errors);
	family(o, "nhiscope_anomalies_total", "counter",
	       "Anomalies emitted (deviations from a stable baseline), by category and severity.");
	for (int c = 0; c < NH_CAT_MAX; c++)
		for (int s = NH_SEV_LOW; s <= NH_SEV_CRITICAL; s++) {
			struct label l[] = {{"category", nh_category_name(c)},
					    {"severity", nh_severity_name(s)}};

			sample_u(o, "nhiscope_anomalies_total", l, 2, m->anomalies_by[c][s]);
		}
	single(o, "nhiscope_pinned_total", "counter",
	       "Known behaviour pinned in the kernel's dedup map so it stops coming up.",
	       m->pinned);
	single(o, "nhiscope_pin_errors_total", "counter",
	       "Pins that failed (the dedup entry was already gone).", m->pin_errors);
	if (m->persist) {
		single(o, "nhiscope_snapshots_loaded_total", "counter",
		       "Profile snapshots loaded at start.", m->snapshots_loaded);
		single(o, "nhiscope_snapshots_corrupt_total", "counter",
		       "Profile snapshots skipped because they were corrupt.",
		       m->snapshots_corrupt);
		single(o, "nhiscope_snapshots_saved_total", "counter", "Profile snapshots written.",
		       m->snapshots_saved);
	}
}

/* The agent keeps ~1000 fine buckets; Prometheus gets these bounds
 * (seconds), each the running count of the fine buckets that end at or
 * below it, so a bound can undercount by one fine bucket (6.25%). */
static void latency(struct out *o, const struct nh_histogram *h)
{
	static const char *const le[] = {"0.001", "0.0025", "0.005", "0.01", "0.025",
					 "0.05",  "0.1",    "0.25",  "0.5",  "1",
					 "2.5",	  "5",	    "10",    "30",   "60"};
	static const uint64_t le_us[] = {1000,	  2500,	   5000,     10000,    25000,
					 50000,	  100000,  250000,   500000,   1000000,
					 2500000, 5000000, 10000000, 30000000, 60000000};
	const char *name = "nhiscope_kafka_delivery_latency_seconds";
	uint64_t upper, count, running = 0;
	size_t it = 0, b = 0;
	bool more;
	char v[48];

	family(o, name, "histogram",
	       "From the kernel event to Kafka's acknowledgement of its record (acks=all).");
	more = nh_histogram_next(h, &it, &upper, &count);
	for (b = 0; b < sizeof(le_us) / sizeof(le_us[0]); b++) {
		struct label l = {"le", le[b]};

		while (more && upper <= le_us[b]) {
			running += count;
			more = nh_histogram_next(h, &it, &upper, &count);
		}
		sample_u(o, "nhiscope_kafka_delivery_latency_seconds_bucket", &l, 1, running);
	}
	{
		struct label l = {"le", "+Inf"};

		sample_u(o, "nhiscope_kafka_delivery_latency_seconds_bucket", &l, 1, h->count);
	}
	snprintf(v, sizeof(v), "%.6f", (double)h->sum / 1e6);
	sample(o, "nhiscope_kafka_delivery_latency_seconds_sum", NULL, 0, v);
	sample_u(o, "nhiscope_kafka_delivery_latency_seconds_count", NULL, 0, h->count);
}

static void kafka(struct out *o, const struct nh_metrics *m)
{
	if (!m->kafka)
		return;
	single(o, "nhiscope_kafka_broker_up", "gauge",
	       "1 when the last delivery report was a success, 0 after a failure or before any.",
	       m->kafka_broker_up);
	single(o, "nhiscope_kafka_produced_total", "counter",
	       "Records handed to the Kafka producer (resends after a failure count again).",
	       m->kafka_produced);
	single(o, "nhiscope_kafka_delivered_total", "counter", "Records Kafka acknowledged.",
	       m->kafka_delivered);
	single(o, "nhiscope_kafka_delivery_failures_total", "counter",
	       "Failed delivery reports; the records stay spooled and are sent again unless "
	       "Kafka refused them for good.",
	       m->kafka_failed);
	single(o, "nhiscope_kafka_queue_full_total", "counter",
	       "Times the producer queue was full; the record waited in the spool.",
	       m->kafka_queue_full);
	single(o, "nhiscope_kafka_queued", "gauge",
	       "Records in the producer waiting for an acknowledgement.", m->kafka_queued);
	single(o, "nhiscope_kafka_send_errors_total", "counter",
	       "Records the agent could not spool (shed for room, or a disk error).",
	       m->kafka_send_errors);
	per_class(o, "nhiscope_kafka_dropped_total", "counter",
		  "Records Kafka refused for good (unknown topic, too large), by class; lost.",
		  m->kafka_dropped);
	per_class(o, "nhiscope_spool_records", "gauge",
		  "Records in the spool not yet acknowledged by Kafka, by class.",
		  m->spool_records);
	per_class(o, "nhiscope_spool_bytes", "gauge", "Bytes the spool holds on disk, by class.",
		  m->spool_bytes);
	single(o, "nhiscope_spool_bytes_max", "gauge",
	       "The spool's bound; when it is reached activity is shed first.", m->spool_max_bytes);
	per_class(o, "nhiscope_spool_shed_total", "counter",
		  "Records the full spool refused or dropped to make room, by class; lost.",
		  m->spool_shed);
	single(o, "nhiscope_spool_unsynced_segments", "gauge",
	       "Full spool segments whose fsync is not done yet (a slow or hung disk).",
	       m->spool_unsynced);
	single(o, "nhiscope_spool_corrupt_total", "counter",
	       "Damaged spooled records (or stretches) skipped; reading goes on at the next "
	       "whole record.",
	       m->spool_corrupt);
	per_class(o, "nhiscope_spool_lost_total", "counter",
		  "Records the disk would not keep (full, I/O errors) after retries, by class; "
		  "lost and reported.",
		  m->spool_lost);
	spool_write_errors(o, m);
	if (m->kafka_latency_us)
		latency(o, m->kafka_latency_us);
}

static void selfwatch(struct out *o, const struct nh_metrics *m)
{
	single(o, "nhiscope_socket_refused_total", "counter",
	       "Socket requests refused for their peer (not root, not in socket.group).",
	       m->socket_refused);
	single(o, "nhiscope_io_threads", "gauge",
	       "Threads reading workload files off the event loop, stuck ones included.",
	       m->io_threads);
	single(o, "nhiscope_io_stuck", "gauge",
	       "Workload file reads running past their deadline now (a file system that does "
	       "not answer).",
	       m->io_stuck);
	single(o, "nhiscope_io_stuck_total", "counter",
	       "Workload file reads that ran past their deadline.", m->io_stuck_total);
	single(o, "nhiscope_io_refused_total", "counter",
	       "Workload file reads not handed out: the queue was full.", m->io_refused);
	single(o, "nhiscope_sa_token_stalled_total", "counter",
	       "Service-account token reads that did not finish in time.", m->sa_token_stalled);
	single(o, "nhiscope_probes_missing", "gauge",
	       "Hooks that could not be attached at start (reduced coverage).", m->probes_missing);
	single(o, "nhiscope_monitoring_tampered_total", "counter",
	       "Changes to the agent's BPF links, programs, maps or counters made by someone else.",
	       m->tampered);
	single(o, "nhiscope_probes_reattached_total", "counter",
	       "Links the agent attached again after finding them gone.", m->reattached);
}

int nh_metrics_render(const struct nh_metrics *m, char **text, size_t *len)
{
	struct out o = {0};

	process(&o, m);
	events(&o, m);
	tables(&o, m);
	credentials(&o, m);
	baselines(&o, m);
	kafka(&o, m);
	selfwatch(&o, m);
	if (o.err) {
		free(o.p);
		return o.err;
	}
	*text = o.p;
	*len = o.len;
	return 0;
}
