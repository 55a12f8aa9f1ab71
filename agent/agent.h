/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent: the node daemon's one context struct and its event loop.
 * kernel ring buffer -> decode -> process table -> identity -> render ->
 * subscribers (Unix socket) and the optional foreground tail.
 */
#ifndef NH_AGENT_H
#define NH_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Fetches of the key set asked by unknown kids are at least this far apart. */
#define NH_KEYFETCH_MIN_NS (2ULL * 1000000000ULL)

#include "quotamap.h"
#include "baseline.h"
#include "config.h"
#include "decode.h"
#include "findings.h"
#include "httpd.h"
#include "identity.h"
#include "kafka.h"
#include "jwksfetch.h"
#include "kubelet.h"
#include "log.h"
#include "metrics.h"
#include "probes.h"
#include "proctable.h"
#include "profilestore.h"
#include "satoken.h"
#include "server.h"
#include "u64map.h"
#include "workload.h"

#define NH_VERSION	  "0.1.0"
#define NH_DEFAULT_SOCKET "/run/nhiscope/agent.sock"
#define NH_MAX_CRED_RULES 256

/* Every field an option sets has the type config.h gives its kind:
 * uint64_t numbers, bool, int enums, const char * (NULL when empty). */
struct nh_agent_config {
	const char *socket_path;
	uint64_t socket_mode;
	uint64_t ringbuf_bytes;
	uint64_t argv_max;	  /* argv bytes copied per exec for the secret scanner */
	uint64_t dedup_window_ms; /* 0 disables in-kernel dedup */
	uint64_t batch_ms;	  /* deliver at most this late; 0: wake per event */
	uint64_t dedup_entries;
	const char *scope_cgroup; /* cgroup v2 path below the mount, or NULL */
	uint64_t max_procs;
	size_t max_cgroups;
	size_t max_objects;
	uint64_t subscriber_buffer;
	bool tail;	 /* print events on stdout */
	int tail_format; /* enum nh_tail_format */
	bool no_color;
	bool color; /* no_color unset and stdout a terminal */

	/* service accounts and credentials */
	const char *sa_token_path; /* inside pods */
	uint64_t token_recheck_ms;
	const char *kubelet_root; /* the kubelet's copies of pod tokens; NULL: none */
	const char *jwks_file;	  /* the cluster's service-account keys */
	const char *jwks_url;	  /* ... fetched from the API server; "none": never */
	int verify_tokens;	  /* enum nh_verify_mode */
	const char *token_issuer, *token_audience;
	uint64_t max_credentials;
	const char *credential_rules[NH_MAX_CRED_RULES]; /* "KIND:PATTERN" */
	size_t ncredential_rules;
	const char *metadata_endpoints[16]; /* replace the built-in ones when given */
	size_t nmetadata_endpoints;
	const char *apiserver; /* "ADDR:PORT"; NULL: from KUBERNETES_SERVICE_HOST/PORT */
	/* pod records (optional): kubelet /pods or the API server's pod list */
	const char *kubelet_url;
	const char *kubelet_token; /* bearer token file */
	const char *kubelet_ca;
	bool kubelet_insecure;
	/* secret fingerprints: the cluster key, and the previous one of a rotation */
	const char *fingerprint_key_file; /* NULL: a random node-local key */
	const char *fingerprint_previous_key_file;
	uint64_t kubelet_refresh_ms;

	/* behaviour baselines */
	uint64_t learn_window_ms, quiet_period_ms;
	struct nh_model_config model; /* from the two above */
	uint64_t max_profiles;
	const char *profile_dir; /* NULL: keep no snapshots */
	uint64_t snapshot_interval_ms;

	/* Kafka (off without brokers) */
	struct nh_kafka_config kafka;

	int log_level;	/* enum nh_log_level */
	int log_format; /* enum nh_log_format */
	/* /metrics, /healthz, /readyz: "ADDR:PORT" (IPv4 or [IPv6]); NULL or "": off */
	const char *metrics_listen;
};

enum nh_tail_format { NH_TAIL_COMPACT = 0, NH_TAIL_JSON };

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
	struct nh_jwksfetch keyfetch; /* the API server's key set */
	bool keyfetch_on;
	uint64_t keyfetch_next_ns;
	uint64_t keyfetch_errors; /* failed fetches since the last good one */
	struct nh_findings findings;
	struct nh_kubelet kubelet;
	bool kubelet_on;
	uint64_t kubelet_next_ns; /* next refresh */
	uint64_t kubelet_errors;
	struct nh_workload workload; /* scratch for the event being attributed */
	struct nh_baseline baseline;
	struct nh_profilestore store;
	bool persist;
	uint64_t next_snapshot_ns;
	uint64_t pinned, pin_errors;
	const struct nh_attributed *current; /* the event findings come from */
	struct nh_kafka kafka;
	bool kafka_on;
	uint64_t kafka_errors;
	uint64_t findings_emitted[NH_KIND_ALL - NH_KIND_MAX];
	struct nh_quotamap objects; /* dedup key digest -> object description, quota per cgroup */
	int epfd, sigfd, timerfd;
	int64_t wall_offset_ns;
	uint64_t start_ns;
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
/* Probes attached and socket listening, or -errno with a reason logged. */
int nh_agent_start(struct nh_agent *a);
/* Until SIGINT/SIGTERM; returns 0 on a clean stop. */
int nh_agent_run(struct nh_agent *a);
void nh_agent_stop(struct nh_agent *a);

#endif
