/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics: the agent's numbers at one moment, and their rendering in the
 * Prometheus text exposition format (0.0.4). The agent fills a struct
 * nh_metrics from its own state (agent.c); `nhiscope status` and /metrics
 * both read that one snapshot, so the two can never disagree about where
 * a value comes from. Pure: no I/O, no BPF, so the rendering is unit-tested.
 *
 * Labels come only from fixed vocabularies (event kinds, categories,
 * severities, probe names, spool classes): never an identity, a path or
 * a credential, which would leak and explode the series count.
 */
#ifndef NH_METRICS_H
#define NH_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "histogram.h"

#include "decode.h"
#include "models.h"

#define NH_METRICS_PROBES_MAX 64
#define NH_METRICS_CLASSES    2 /* spool classes: anomaly, activity (spool.h) */

struct nh_metrics_kind {
	uint64_t received;     /* records that reached user space */
	uint64_t observed;     /* received plus the repeats summaries stand for */
	uint64_t emitted;      /* kernel: records reserved in the ring buffer */
	uint64_t deduplicated; /* kernel: repeats folded into a dedup entry */
	uint64_t lost;	       /* kernel: ring-buffer reservation failures */
	uint64_t flooded;      /* kernel: beyond the identity's budget, counted */
};

struct nh_metrics_probe {
	const char *program;
	const char *tracepoint;
	bool attached;
};

struct nh_metrics {
	const char *version;
	double start_time_s; /* wall clock, seconds since the epoch */
	double uptime_s;

	struct nh_metrics_probe probes[NH_METRICS_PROBES_MAX];
	size_t nprobes;
	int probes_attached;
	int ia32_emulation, io_uring_disabled; /* posture.h; -1 unknown */
	bool compat_monitor;		       /* kernel.compatMonitor */

	struct nh_metrics_kind kinds[NH_KIND_MAX]; /* by kernel kind; 0 unused */
	uint64_t decode_errors;
	uint64_t flush_errors; /* dedup window flushes that failed */
	uint64_t dedup_window_ms;
	int64_t dedup_entries; /* -1: could not be read */
	uint64_t dedup_max_entries;
	uint64_t dedup_evicted; /* pushed out of the full map (LRU) */
	uint64_t dedup_purged;	/* entries of removed cgroups, pinned ones included */
	uint64_t dedup_quota;	/* entries per identity; 0: none */
	uint64_t dedup_refused; /* first reports not remembered: identity at quota */
	uint64_t dedup_identities_refused;
	uint64_t objects_evicted; /* dedup object descriptions pushed out (quota or bound) */
	uint64_t series_evicted;  /* credential series pushed out (quota or bound) */
	uint64_t ringbuf_bytes;

	uint64_t processes;
	uint64_t cgroups_cached;
	uint64_t identities; /* identities seen since start */
	uint64_t flood_budget, flood_window_ms;
	uint64_t lost_attributed;    /* ring-buffer losses named to an identity */
	uint64_t identities_flooded; /* identities with flooded or lost events */

	uint64_t credentials; /* in the registry */
	uint64_t credentials_reused;
	uint64_t credentials_evicted; /* pushed out of the registry (quota or bound) */
	uint64_t sa_token_reads, sa_token_rotations, sa_token_failures;
	uint64_t sa_tokens_verified, sa_tokens_rejected, sa_token_keys;
	uint64_t findings[NH_KIND_ALL - NH_KIND_MAX]; /* by agent kind - NH_KIND_MAX */
	bool kubelet;				      /* pod list configured */
	uint64_t pod_records;
	uint64_t pod_list_failures; /* consecutive, 0 after a success */

	uint64_t profiles[NH_PROFILE_STABLE + 1]; /* by state */
	uint64_t profile_bytes;
	uint64_t profiles_dropped; /* observations for identities beyond the bound */
	uint64_t observe_errors;
	uint64_t anomalies; /* emitted, all categories */
	uint64_t anomalies_by[NH_CAT_MAX][NH_SEV_CRITICAL + 1];
	uint64_t pinned, pin_errors;
	bool persist; /* profile snapshots on disk */
	uint64_t snapshots_loaded, snapshots_corrupt, snapshots_saved;

	bool kafka; /* brokers configured and the producer created */
	bool kafka_broker_up;
	uint64_t kafka_produced, kafka_delivered, kafka_failed, kafka_queue_full;
	uint64_t kafka_queued; /* in the producer, not yet acknowledged */
	uint64_t kafka_send_errors;
	uint64_t kafka_dropped[NH_METRICS_CLASSES]; /* refused by Kafka for good */
	uint64_t spool_records[NH_METRICS_CLASSES];
	uint64_t spool_bytes[NH_METRICS_CLASSES];
	uint64_t spool_shed[NH_METRICS_CLASSES];
	uint64_t spool_corrupt;
	uint64_t spool_lost[NH_METRICS_CLASSES]; /* a failing disk would not keep them */
	uint64_t spool_write_errors[3];		 /* by cause: nospc, io, other */
	uint64_t spool_max_bytes;
	uint64_t spool_unsynced; /* full segments whose fsync is not done yet */
	/* event to acknowledgement, µs; NULL: not measured */
	const struct nh_histogram *kafka_latency_us;

	uint64_t subscribers;
	uint64_t subscriber_drops;

	/* Self-protection (issue 15): the socket's refusals, workload file
	 * reads off the loop, and the agent's kernel side. */
	uint64_t socket_refused;
	uint64_t io_threads, io_stuck; /* now */
	uint64_t io_stuck_total, io_late, io_refused;
	uint64_t sa_token_stalled;
	uint64_t probes_missing; /* hooks that could not attach at start */
	uint64_t tampered;	 /* monitoring_tampered findings */
	uint64_t reattached;	 /* links the agent attached again */
};

/* Spool class names, the label values of the spool and drop metrics. */
const char *nh_metrics_class_name(int cls);

/* The exposition text, in a malloc'd NUL-terminated buffer (*text, its
 * length in *len) the caller frees. 0 or -ENOMEM. */
int nh_metrics_render(const struct nh_metrics *m, char **text, size_t *len);

#endif
