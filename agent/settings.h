/* SPDX-License-Identifier: Apache-2.0 */
/*
 * settings: the agent's configuration as the option table (options.c)
 * fills it, apart from the context struct so that modules and tests can
 * use it without the whole agent.
 */
#ifndef NH_SETTINGS_H
#define NH_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafka.h"
#include "models.h"

#define NH_DEFAULT_SOCKET "/run/nhiscope/agent.sock"
#define NH_MAX_CRED_RULES 256

/* Every field an option sets has the type config.h gives its kind:
 * uint64_t numbers, bool, int enums, const char * (NULL when empty). */
struct nh_agent_config {
	const char *socket_path;
	uint64_t socket_mode;
	const char *socket_group; /* may watch (tail, status...); NULL: root only */
	uint64_t ringbuf_bytes;
	uint64_t argv_max;	  /* argv bytes copied per exec for the secret scanner */
	uint64_t dedup_window_ms; /* 0 disables in-kernel dedup */
	uint64_t batch_ms;	  /* deliver at most this late; 0: wake per event */
	uint64_t dedup_entries;
	uint64_t dedup_quota;  /* dedup entries per identity; 0: dedup_entries / 8 */
	uint64_t flood_budget; /* events per identity per flood window; 0: unlimited */
	uint64_t flood_window_ms;
	const char *scope_cgroup; /* cgroup v2 path below the mount, or NULL */
	bool compat_monitor;	  /* raw sys_enter for compat (int $0x80) syscalls */
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

	/* the site on every record: operator-set, never from a workload */
	const char *cluster_name;
	const char *labels[NH_WIRE_LABELS_MAX]; /* "key=value" */
	size_t nlabels;
	struct nh_wire_site site; /* derived: cluster_name and labels, keys sorted */
	char label_keys[NH_WIRE_LABELS_MAX][NH_WIRE_LABEL_KEY_MAX + 1];

	/* Kafka (off without brokers) */
	struct nh_kafka_config kafka;

	int log_level;	/* enum nh_log_level */
	int log_format; /* enum nh_log_format */
	/* /metrics, /healthz, /readyz: "ADDR:PORT" (IPv4 or [IPv6]); NULL or "": off */
	const char *metrics_listen;
};

enum nh_tail_format { NH_TAIL_COMPACT = 0, NH_TAIL_JSON };

#endif
