/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent: the node daemon's one context struct, and the jobs that share it:
 *   agent.c     the event loop (epoll: ring buffer, signals, timer, socket,
 *               HTTP)
 *   pipeline.c  one kernel record's way: decode -> process table ->
 *               identity -> outputs (tail, socket, Kafka), findings,
 *               baseline; the periodic tick
 *   status.c    `nhiscope status`, profile queries, /metrics, /readyz
 *   startup.c   start-up, SIGHUP reload, stop
 */
#ifndef NH_AGENT_H
#define NH_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "quotamap.h"
#include "baseline.h"
#include "config.h"
#include "credinodes.h"
#include "settings.h"
#include "decode.h"
#include "findings.h"
#include "httpd.h"
#include "identity.h"
#include "fingerprint.h"
#include "jwksfetch.h"
#include "jsonw.h"
#include "kafka.h"
#include "kubelet.h"
#include "lifecycle.h"
#include "log.h"
#include "metrics.h"
#include "posture.h"
#include "probes.h"
#include "proctable.h"
#include "record.h"
#include "profilestore.h"
#include "satoken.h"
#include "server.h"
#include "u64map.h"
#include "worker.h"
#include "workload.h"

#define NH_VERSION "0.1.0"
/* Fetches of the key set asked by unknown kids are at least this far apart. */
#define NH_KEYFETCH_MIN_NS (2ULL * 1000000000ULL)
#define NH_NSEC		   1000000000ULL
/* Workload file reads off the loop (worker.h): threads, a read's
 * deadline before it counts as stuck, and how long the loop waits for a
 * token read it just handed out. */
#define NH_IO_THREADS	    2
#define NH_IO_DEADLINE_NS   (3000ULL * 1000000ULL) /* > the kubelet fetch's 2 s */
#define NH_IO_QUEUE	    256
#define NH_IO_FIRST_WAIT_NS (200ULL * 1000000ULL)
/* How often the kernel side is checked for tampering. */
#define NH_SELFWATCH_NS (1000ULL * 1000000ULL)

/* epoll data for the fixed sources; clients and the listener use ptrs. */
enum { NH_SRC_RING = 1, NH_SRC_SIGNAL, NH_SRC_TIMER, NH_SRC_WORKER };

struct nh_kind_stats {
	uint64_t received; /* records that reached user space */
	uint64_t observed; /* received plus repeats folded by dedup */
	uint64_t prev_received, prev_observed;
	double received_per_sec;
	double observed_per_sec;
	uint64_t lost_reported; /* kernel losses already announced */
};

struct nh_agent {
	struct nh_agent_config cfg;
	struct nh_config config; /* where cfg came from, for SIGHUP */
	struct nh_log log;
	struct nh_cgroupfs cgfs;
	struct nh_probes probes;
	struct nh_proctable procs;
	struct nh_identities ids;
	struct nh_server server;
	struct nh_fingerprinter fp; /* keyed fingerprints of secrets and tokens */
	struct nh_satokens tokens;
	struct nh_worker io; /* workload file reads, off the loop */
	uint64_t selfwatch_next_ns;
	bool io_on;
	struct nh_jwksfetch keyfetch; /* the API server's key set */
	bool keyfetch_on;
	uint64_t keyfetch_next_ns;
	uint64_t keyfetch_errors; /* failed fetches since the last good one */
	struct nh_findings findings;
	struct nh_credinodes credinodes; /* credential files by inode */
	bool credinodes_on;
	uint64_t credinodes_next_ns; /* next scan */
	struct nh_kubelet kubelet;
	bool kubelet_on;
	uint64_t kubelet_next_ns; /* next refresh */
	uint64_t kubelet_errors;
	char pod_list_error[NH_KUBELET_ERROR_MAX]; /* the last fetch's, for status */
	struct nh_workload workload;		   /* scratch for the event being attributed */
	struct nh_baseline baseline;
	struct nh_profilestore store;
	bool persist;
	struct nh_lifecycle life;    /* when this node was last monitored */
	struct nh_lifecycle_gap gap; /* what this start found */
	uint64_t next_snapshot_ns;
	uint64_t pinned, pin_errors;
	uint64_t flooded_total;		     /* events the kernel counted beyond budgets */
	uint64_t lost_attributed;	     /* ring-buffer losses named to an identity */
	uint64_t identity_errors;	     /* identity cgroups the kernel could not be told */
	const struct nh_attributed *current; /* the event findings come from */
	struct nh_wire_record rec;	     /* the event being reported, or a loss */
	struct nh_record_buf rec_buf;
	struct nh_jw line_json; /* the tail's JSON of one record, reused */
	struct nh_kafka kafka;
	bool kafka_on;
	uint64_t kafka_errors;
	uint64_t findings_emitted[NH_KIND_ALL - NH_KIND_MAX];
	struct nh_quotamap objects; /* dedup key digest -> object description, quota per cgroup */
	int epfd, sigfd, timerfd;
	int64_t wall_offset_ns;
	uint64_t start_ns;
	struct nh_posture posture; /* read at start */
	uint64_t last_rate_ns;
	uint64_t flush_interval_ns;
	struct nh_kind_stats kinds[NH_KIND_MAX];
	uint64_t decode_errors;
	uint32_t consumed; /* records in the current drain, for its budget */
	uint64_t flush_errors;
	uint64_t caps; /* effective capabilities after the start */
	struct nh_httpd httpd;
	char not_ready[160]; /* the reason /readyz gives */
	bool stopping;
};

/* The option table (options.c): defaults, file keys and flags. */
extern const struct nh_config_spec nh_agent_spec;
/* What the table does not set; after nh_config_load. */
void nh_agent_derive(struct nh_agent_config *cfg);
/* cfg->site again from cfg's cluster.name and labels (after a reload). */
void nh_agent_derive_site(struct nh_agent_config *cfg);
/* Probes attached and socket listening, or -errno with a reason logged. */
int nh_agent_start(struct nh_agent *a);
/* Until SIGINT/SIGTERM; returns 0 on a clean stop. */
int nh_agent_run(struct nh_agent *a);
void nh_agent_stop(struct nh_agent *a);
/* SIGHUP: read the file and the flags again; an invalid file changes
 * nothing (startup.c). */
void nh_agent_reload(struct nh_agent *a);

/* pipeline.c: the ring buffer's callback, one bounded drain, the timer's
 * work, and a pod-list refresh. */
int nh_pipeline_on_event(void *ctx, void *data, size_t size);
void nh_pipeline_drain(struct nh_agent *a);
void nh_pipeline_tick(struct nh_agent *a);
void nh_pipeline_refresh_pods(struct nh_agent *a);
/* Find the credential files again for the kernel's inode map. */
void nh_pipeline_scan_credentials(struct nh_agent *a);
/* The monitoring gap this start found (a->gap), as a record. */
void nh_pipeline_report_gap(struct nh_agent *a);

/* startup.c: the service-account key fetcher's tick (a new key set, or
 * another fetch when a token named an unknown kid). */
void nh_agent_tick_keys(struct nh_agent *a, uint64_t now);

/* status.c: the socket's queries (status, profiles) and the HTTP ops. */
json_object *nh_status_query(void *ctx, const char *op, json_object *req);
extern const struct nh_httpd_ops nh_status_http_ops;

#endif
