// SPDX-License-Identifier: Apache-2.0
/* options: every setting of nhiscope-agent, its YAML key (the Helm value
 * under agent.config), its flag, type, range and default. */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

#define F(field)		 offsetof(struct nh_agent_config, field)
#define LIST(field, cap)	 .off = F(field), .count_off = F(n##field), .max = (cap)
#define KLIST(field, count, cap) .off = F(kafka.field), .count_off = F(kafka.count), .max = (cap)
#define DAY_MS			 86400000ULL
#define YEAR_MS			 (365 * DAY_MS)

static_assert(sizeof(enum nh_log_level) == sizeof(int), "enums are written as int");
static_assert(sizeof(enum nh_spool_sync) == sizeof(int), "enums are written as int");

static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const log_formats[] = {"text", "json", NULL};
static const char *const tail_formats[] = {"compact", "json", NULL};
static const char *const spool_syncs[] = {"none", "flush", "always", NULL};
/* In the order of enum nh_verify_mode. */
static const char *const verify_modes[] = {"auto", "required", "off", NULL};

static const struct nh_opt opts[] = {
    /* Command line only: the foreground view. */
    {.flag = "tail",
     .type = NH_OPT_BOOL,
     .off = F(tail),
     .flag_value = "true",
     .def = "false",
     .help = "also print every event on stdout"},
    {.flag = "output",
     .short_flag = 'o',
     .type = NH_OPT_ENUM,
     .off = F(tail_format),
     .choices = tail_formats,
     .arg = "FORMAT",
     .def = "compact",
     .help = "--tail format: compact or json"},
    {.flag = "no-color",
     .type = NH_OPT_BOOL,
     .off = F(no_color),
     .flag_value = "true",
     .def = "false",
     .help = "no colours in compact output"},
    {.flag = "verbose",
     .short_flag = 'v',
     .type = NH_OPT_ENUM,
     .off = F(log_level),
     .choices = log_levels,
     .flag_value = "debug",
     .def = "info",
     .help = "debug logging, with libbpf and verifier output (log.level: debug)"},

    {.key = "socket.path",
     .flag = "socket",
     .short_flag = 's',
     .type = NH_OPT_PATH,
     .off = F(socket_path),
     .arg = "PATH",
     .def = NH_DEFAULT_SOCKET,
     .help = "subscriber socket for nhiscope tail, status and profiles"},
    {.key = "socket.mode",
     .flag = "socket-mode",
     .type = NH_OPT_MODE,
     .off = F(socket_mode),
     .max = 0777,
     .arg = "MODE",
     .def = "0600",
     .help = "permissions of the socket: who may watch every identity"},
    {.key = "socket.group",
     .flag = "socket-group",
     .type = NH_OPT_STRING,
     .off = F(socket_group),
     .arg = "GROUP",
     .help = "group (name or number) whose members may watch (tail, status, credentials, "
	     "profiles); changes such as profile resets stay root's"},

    {.key = "cluster.name",
     .flag = "cluster-name",
     .type = NH_OPT_STRING,
     .off = F(cluster_name),
     .flags = NH_OPT_RELOAD,
     .arg = "NAME",
     .def = "",
     .help = "the cluster's name, on every record (ECS orchestrator.cluster.name), so a SIEM "
	     "tells one cluster's node-1 from another's"},
    {.key = "labels",
     .flag = "label",
     .type = NH_OPT_MAP,
     LIST(labels, NH_WIRE_LABELS_MAX),
     .flags = NH_OPT_RELOAD,
     .arg = "KEY=VALUE",
     .help = "static labels on every record (ECS labels.KEY): keys of [A-Za-z0-9_-], at most "
	     "63 bytes, not starting with nhiscope; values at most 255 bytes"},

    {.key = "kernel.ringbufSize",
     .flag = "ringbuf-size",
     .type = NH_OPT_SIZE,
     .off = F(ringbuf_bytes),
     .min = 4096,
     .max = 1ULL << 30,
     .flags = NH_OPT_POW2,
     .arg = "BYTES",
     .def = "8Mi",
     .help = "kernel ring buffer shared by all CPUs"},
    {.key = "kernel.argvMax",
     .flag = "argv-max",
     .type = NH_OPT_SIZE,
     .off = F(argv_max),
     .min = 1024,
     .max = NH_ARGS_MAX,
     .arg = "BYTES",
     .def = "32Ki",
     .help = "argv bytes of each exec copied for the secret scanner; events show the first "
	     "1Ki and flag the rest"},
    {.key = "kernel.dedupWindow",
     .flag = "dedup-window",
     .type = NH_OPT_DURATION,
     .off = F(dedup_window_ms),
     .max = 3600000,
     .arg = "DURATION",
     .def = "10s",
     .help = "in-kernel dedup window: repeats within it are counted, not sent; 0 disables"},
    {.key = "kernel.dedupEntries",
     .flag = "dedup-entries",
     .type = NH_OPT_UINT,
     .off = F(dedup_entries),
     .min = 16,
     .max = 1u << 24,
     .arg = "N",
     .def = "65536",
     .help = "dedup map entries"},
    {.key = "kernel.dedupQuota",
     .flag = "dedup-quota",
     .type = NH_OPT_UINT,
     .off = F(dedup_quota),
     .max = 1u << 24,
     .arg = "N",
     .def = "0",
     .help = "dedup map entries one identity (pod, container, unit) may hold; beyond it its "
	     "new objects are sent but not remembered, so it cannot evict another identity's "
	     "entries; 0: an eighth of kernel.dedupEntries"},
    {.key = "kernel.floodBudget",
     .flag = "flood-budget",
     .type = NH_OPT_UINT,
     .off = F(flood_budget),
     .max = 1ull << 32,
     .arg = "N",
     .def = "20000",
     .help = "events one identity (pod, container, unit) may send per flood window; beyond "
	     "it they are counted per kind and reported as a flood record; 0: unlimited"},
    {.key = "kernel.floodWindow",
     .flag = "flood-window",
     .type = NH_OPT_DURATION,
     .off = F(flood_window_ms),
     .min = 10,
     .max = 3600000,
     .arg = "DURATION",
     .def = "1s",
     .help = "the window of the flood budget"},
    {.key = "kernel.batchDelay",
     .flag = "batch-ms",
     .type = NH_OPT_DURATION,
     .off = F(batch_ms),
     .max = 1000,
     .arg = "DURATION",
     .def = "20ms",
     .help = "deliver events at most this late, waking once per batch; 0: per event"},
    {.key = "kernel.compatMonitor",
     .flag = "compat-monitor",
     .type = NH_OPT_BOOL,
     .off = F(compat_monitor),
     .flag_value = "true",
     .def = "false",
     .help = "also watch 32-bit (int $0x80) syscalls, which the other probes do not see; "
	     "costs a check on every syscall of the node (docs/coverage.md)"},
    {.key = "kernel.scopeCgroup",
     .flag = "scope-cgroup",
     .type = NH_OPT_STRING,
     .off = F(scope_cgroup),
     .arg = "PATH",
     .def = "",
     .help = "trace only this cgroup v2 subtree (path below the mount); empty: all"},

    {.key = "limits.processes",
     .flag = "max-processes",
     .type = NH_OPT_UINT,
     .off = F(max_procs),
     .min = 64,
     .max = 1u << 24,
     .arg = "N",
     .def = "1048576",
     .help = "process table bound"},
    {.key = "limits.subscriberBuffer",
     .flag = "subscriber-buffer",
     .type = NH_OPT_SIZE,
     .off = F(subscriber_buffer),
     .min = 4096,
     .max = 1ULL << 30,
     .arg = "BYTES",
     .def = "16Mi",
     .flags = NH_OPT_RELOAD,
     .help = "backlog per subscriber before its events are dropped (and counted)"},
    {.key = "limits.credentials",
     .flag = "max-credentials",
     .type = NH_OPT_UINT,
     .off = F(max_credentials),
     .min = 16,
     .max = 1u << 20,
     .arg = "N",
     .def = "4096",
     .help = "credential registry bound"},
    {.key = "limits.profiles",
     .flag = "max-profiles",
     .type = NH_OPT_UINT,
     .off = F(max_profiles),
     .min = 16,
     .max = 1u << 24,
     .arg = "N",
     .def = "65536",
     .help = "behaviour profile bound"},

    {.key = "kubernetes.tokenPath",
     .flag = "sa-token-path",
     .type = NH_OPT_PATH,
     .off = F(sa_token_path),
     .arg = "PATH",
     .def = "/var/run/secrets/kubernetes.io/serviceaccount/token",
     .help = "service-account token path inside pods"},
    {.key = "kubernetes.tokenRecheck",
     .flag = "token-recheck",
     .type = NH_OPT_DURATION,
     .off = F(token_recheck_ms),
     .max = DAY_MS,
     .arg = "DURATION",
     .def = "10s",
     .help = "re-check a pod's token for rotation at most this often"},
    {.key = "kubernetes.kubeletRoot",
     .flag = "kubelet-root",
     .type = NH_OPT_PATH,
     .off = F(kubelet_root),
     .arg = "DIR",
     .def = "/var/lib/kubelet",
     .help = "the kubelet's directory on the host: a pod's service account is read from its "
	     "copy of the projected token (pods/UID/volumes/kubernetes.io~projected/*/token); "
	     "empty: only the pod's own view"},
    {.key = "kubernetes.jwksFile",
     .flag = "jwks-file",
     .type = NH_OPT_PATH,
     .off = F(jwks_file),
     .arg = "FILE",
     .def = "",
     .help = "the cluster's service-account signing keys (the API server's /openid/v1/jwks), "
	     "re-read when a token names an unknown kid"},
    {.key = "kubernetes.jwksUrl",
     .flag = "jwks-url",
     .type = NH_OPT_STRING,
     .off = F(jwks_url),
     .arg = "URL",
     .def = "",
     .help = "the API server's key set, fetched off the event loop at start and when a token "
	     "names an unknown kid, with the agent's own service-account token and CA; empty: "
	     "https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/openid/v1/jwks in a pod; "
	     "none: never"},
    {.key = "kubernetes.verifyTokens",
     .flag = "verify-tokens",
     .type = NH_OPT_ENUM,
     .off = F(verify_tokens),
     .choices = verify_modes,
     .arg = "MODE",
     .def = "auto",
     .help = "auto: verify token signatures whenever keys are known, a token that fails is "
	     "not believed; required: no keys, no belief; off: believe claims as read"},
    {.key = "kubernetes.tokenIssuer",
     .flag = "token-issuer",
     .type = NH_OPT_STRING,
     .off = F(token_issuer),
     .arg = "ISS",
     .def = "",
     .help = "verified tokens must have this issuer; empty: any"},
    {.key = "kubernetes.tokenAudience",
     .flag = "token-audience",
     .type = NH_OPT_STRING,
     .off = F(token_audience),
     .arg = "AUD",
     .def = "",
     .help = "verified tokens must name this audience; empty: any"},
    {.key = "kubernetes.apiserver",
     .flag = "apiserver",
     .type = NH_OPT_STRING,
     .off = F(apiserver),
     .arg = "ADDR:PORT",
     .def = "",
     .flags = NH_OPT_RELOAD,
     .help = "API server endpoint, a credential; empty: from KUBERNETES_SERVICE_HOST/PORT"},
    {.key = "kubernetes.kubelet.url",
     .flag = "kubelet-url",
     .type = NH_OPT_STRING,
     .off = F(kubelet_url),
     .arg = "URL",
     .def = "",
     .help = "pod list for names and owners: https://NODE:10250/pods or the API server's "
	     "/api/v1/pods?fieldSelector=spec.nodeName=NODE; empty: off"},
    {.key = "kubernetes.kubelet.tokenFile",
     .flag = "kubelet-token",
     .type = NH_OPT_PATH,
     .off = F(kubelet_token),
     .arg = "PATH",
     .def = "",
     .help = "bearer token file for it, re-read on every fetch; empty: the agent's own"},
    {.key = "kubernetes.kubelet.caFile",
     .flag = "kubelet-ca",
     .type = NH_OPT_PATH,
     .off = F(kubelet_ca),
     .arg = "PATH",
     .def = "",
     .help = "CA bundle for it"},
    {.key = "kubernetes.kubelet.insecure",
     .flag = "kubelet-insecure",
     .type = NH_OPT_BOOL,
     .off = F(kubelet_insecure),
     .flag_value = "true",
     .def = "false",
     .help = "do not verify its certificate (labs only)"},
    {.key = "kubernetes.kubelet.refresh",
     .flag = "kubelet-refresh",
     .type = NH_OPT_DURATION,
     .off = F(kubelet_refresh_ms),
     .min = 100,
     .max = DAY_MS,
     .arg = "DURATION",
     .def = "30s",
     .help = "pod list refresh interval"},

    {.key = "credentials.rules",
     .flag = "credential",
     .type = NH_OPT_LIST,
     LIST(credential_rules, NH_MAX_CRED_RULES),
     .arg = "KIND:PATTERN",
     .flags = NH_OPT_RELOAD,
     .help = "credential file rules, checked before the built-in ones; '!KIND:PATTERN' "
	     "excludes"},
    {.key = "credentials.metadataEndpoints",
     .flag = "metadata-endpoint",
     .type = NH_OPT_LIST,
     LIST(metadata_endpoints, 16),
     .arg = "ADDR[:PORT]",
     .flags = NH_OPT_RELOAD,
     .help = "cloud metadata service addresses, replacing 169.254.169.254 and fd00:ec2::254"},

    {.key = "fingerprint.keyFile",
     .flag = "fingerprint-key-file",
     .type = NH_OPT_PATH,
     .off = F(fingerprint_key_file),
     .arg = "PATH",
     .def = "",
     .help = "cluster key for the HMAC-SHA-256 fingerprints of secrets (a mounted Secret, at "
	     "least 16 bytes); empty: a random key of this run, fingerprints match on no other "
	     "node"},
    {.key = "fingerprint.previousKeyFile",
     .flag = "fingerprint-previous-key-file",
     .type = NH_OPT_PATH,
     .off = F(fingerprint_previous_key_file),
     .arg = "PATH",
     .def = "",
     .help = "the key being rotated out: while set, findings carry its fingerprint too"},

    {.key = "baseline.learnWindow",
     .flag = "learn-window",
     .type = NH_OPT_DURATION,
     .off = F(learn_window_ms),
     .max = YEAR_MS,
     .arg = "DURATION",
     .def = "1d",
     .flags = NH_OPT_RELOAD,
     .help = "learn each identity at least this long"},
    {.key = "baseline.quietPeriod",
     .flag = "quiet-period",
     .type = NH_OPT_DURATION,
     .off = F(quiet_period_ms),
     .max = YEAR_MS,
     .arg = "DURATION",
     .def = "1h",
     .flags = NH_OPT_RELOAD,
     .help = "and until nothing new was seen for this long"},
    {.key = "baseline.profileDir",
     .flag = "profile-dir",
     .type = NH_OPT_PATH,
     .off = F(profile_dir),
     .arg = "DIR",
     .def = NH_PROFILE_DIR,
     .help = "profile snapshots, restored on start; empty: keep none"},
    {.key = "baseline.snapshotInterval",
     .flag = "snapshot-interval",
     .type = NH_OPT_DURATION,
     .off = F(snapshot_interval_ms),
     .min = 100,
     .max = DAY_MS,
     .arg = "DURATION",
     .def = "5m",
     .flags = NH_OPT_RELOAD,
     .help = "write snapshots this often"},

    {.key = "kafka.brokers",
     .flag = "kafka-brokers",
     .type = NH_OPT_STRING,
     .off = F(kafka.brokers),
     .arg = "HOST:PORT,...",
     .def = "",
     .help = "bootstrap servers; empty: no Kafka, tail and status only"},
    {.key = "kafka.topics.anomalies",
     .flag = "kafka-topic-anomalies",
     .type = NH_OPT_STRING,
     .off = F(kafka.topic_anomalies),
     .arg = "TOPIC",
     .def = "nhiscope.anomalies",
     .help = "anomalies, credential use, findings and loss reports"},
    {.key = "kafka.topics.activity",
     .flag = "kafka-topic-activity",
     .type = NH_OPT_STRING,
     .off = F(kafka.topic_activity),
     .arg = "TOPIC",
     .def = "nhiscope.activity",
     .help = "every event, when kafka.activity is on"},
    {.key = "kafka.topics.heartbeats",
     .flag = "kafka-topic-heartbeats",
     .type = NH_OPT_STRING,
     .off = F(kafka.topic_heartbeats),
     .arg = "TOPIC",
     .def = "nhiscope.heartbeats",
     .help = "heartbeats"},
    {.key = "kafka.activity",
     .flag = "kafka-activity",
     .type = NH_OPT_BOOL,
     .off = F(kafka.activity),
     .flag_value = "true",
     .def = "false",
     .flags = NH_OPT_RELOAD,
     .help = "also stream every activity event"},
    {.key = "kafka.properties",
     .flag = "kafka-property",
     .short_flag = 'X',
     .type = NH_OPT_MAP,
     KLIST(props, nprops, NH_KAFKA_PROPS_MAX),
     .arg = "KEY=VALUE",
     .flags = NH_OPT_SECRET,
     .help = "librdkafka properties (TLS, SASL, timeouts); put secrets in propertyFiles"},
    {.key = "kafka.propertyFiles",
     .flag = "kafka-property-file",
     .type = NH_OPT_MAP,
     KLIST(prop_files, nprop_files, NH_KAFKA_PROPS_MAX),
     .arg = "KEY=PATH",
     .help = "librdkafka properties whose value is a file's content, such as "
	     "sasl.password from a mounted Secret; never logged"},

    {.key = "spool.dir",
     .flag = "spool-dir",
     .type = NH_OPT_PATH,
     .off = F(kafka.spool_dir),
     .arg = "DIR",
     .def = "/var/lib/nhiscope/spool",
     .help = "records wait here until Kafka acknowledged them"},
    {.key = "spool.size",
     .flag = "spool-size",
     .type = NH_OPT_SIZE,
     .off = F(kafka.spool_bytes),
     .min = 1u << 20,
     .max = 1ULL << 40,
     .arg = "BYTES",
     .def = "256Mi",
     .help = "spool bound; activity is shed before anything else"},
    {.key = "spool.sync",
     .flag = "spool-sync",
     .type = NH_OPT_ENUM,
     .off = F(kafka.spool_sync),
     .choices = spool_syncs,
     .arg = "POLICY",
     .def = "flush",
     .help = "fsync: none, flush (once per tick) or always (every record)"},

    {.key = "metrics.listen",
     .flag = "metrics-listen",
     .type = NH_OPT_STRING,
     .off = F(metrics_listen),
     .arg = "ADDR:PORT",
     .def = "",
     .help = "serve /metrics, /healthz and /readyz, e.g. 0.0.0.0:9750 or [::1]:9750; "
	     "empty: off"},

    {.key = "log.level",
     .flag = "log-level",
     .type = NH_OPT_ENUM,
     .off = F(log_level),
     .choices = log_levels,
     .arg = "LEVEL",
     .def = "info",
     .flags = NH_OPT_RELOAD,
     .help = "error, warn, info or debug"},
    {.key = "log.format",
     .flag = "log-format",
     .type = NH_OPT_ENUM,
     .off = F(log_format),
     .choices = log_formats,
     .arg = "FORMAT",
     .def = "text",
     .flags = NH_OPT_RELOAD,
     .help = "one line per message on stderr: text or json"},
};

static int validate(const void *p, FILE *err)
{
	const struct nh_agent_config *cfg = p;
	int rc = 0;

	if (cfg->kafka.brokers && (!cfg->kafka.topic_anomalies || !cfg->kafka.topic_activity ||
				   !cfg->kafka.topic_heartbeats)) {
		fprintf(err, "nhiscope-agent: kafka.topics: every topic needs a name\n");
		rc = -EINVAL;
	}
	if (cfg->kafka.brokers && !cfg->kafka.spool_dir) {
		fprintf(err, "nhiscope-agent: spool.dir: Kafka needs a spool directory\n");
		rc = -EINVAL;
	}
	if (!cfg->socket_path) {
		fprintf(err, "nhiscope-agent: socket.path: must not be empty\n");
		rc = -EINVAL;
	}
	if (cfg->cluster_name && strlen(cfg->cluster_name) > NH_WIRE_NAME_MAX) {
		fprintf(err, "nhiscope-agent: cluster.name: longer than %d bytes\n",
			NH_WIRE_NAME_MAX);
		rc = -EINVAL;
	}
	for (size_t i = 0; i < cfg->nlabels; i++) {
		const char *l = cfg->labels[i], *eq = strchr(l, '=');
		size_t klen = eq ? (size_t)(eq - l) : strlen(l);
		char key[NH_WIRE_LABEL_KEY_MAX + 1];

		snprintf(key, sizeof(key), "%.*s", (int)klen, l);
		if (klen > NH_WIRE_LABEL_KEY_MAX || !nh_wire_label_key_ok(key)) {
			fprintf(err,
				"nhiscope-agent: labels: key \"%.*s\" must be 1..%d bytes of "
				"[A-Za-z0-9_-], not starting with nhiscope\n",
				(int)(klen > 80 ? 80 : klen), l, NH_WIRE_LABEL_KEY_MAX);
			rc = -EINVAL;
		} else if (eq && strlen(eq + 1) > NH_WIRE_NAME_MAX) {
			fprintf(err, "nhiscope-agent: labels: %s: value longer than %d bytes\n",
				key, NH_WIRE_NAME_MAX);
			rc = -EINVAL;
		}
		for (size_t j = 0; j < i; j++)
			if (strncmp(cfg->labels[j], l, klen + 1) == 0 ||
			    (!eq && strncmp(cfg->labels[j], l, klen) == 0 &&
			     cfg->labels[j][klen] == '=')) {
				fprintf(err, "nhiscope-agent: labels: key %s given twice\n", key);
				rc = -EINVAL;
			}
	}
	return rc;
}

const struct nh_config_spec nh_agent_spec = {
    .prog = "nhiscope-agent",
    .summary = "Attach the nhiscope probes, attribute every event to the identity behind it,\n"
	       "learn each identity's behaviour and report what deviates.",
    .version = NH_VERSION,
    .opts = opts,
    .nopts = sizeof(opts) / sizeof(opts[0]),
    .size = sizeof(struct nh_agent_config),
    .validate = validate,
};

/* cfg->site from cluster.name and labels (validated), keys sorted so that
 * every record of every agent lists them in one order. */
void nh_agent_derive_site(struct nh_agent_config *cfg)
{
	struct nh_wire_site *s = &cfg->site;

	memset(s, 0, sizeof(*s));
	s->cluster = cfg->cluster_name;
	for (size_t i = 0; i < cfg->nlabels && i < NH_WIRE_LABELS_MAX; i++) {
		const char *l = cfg->labels[i], *eq = strchr(l, '=');
		size_t klen = eq ? (size_t)(eq - l) : strlen(l), at;
		struct nh_wire_label lab;

		snprintf(cfg->label_keys[i], sizeof(cfg->label_keys[i]), "%.*s", (int)klen, l);
		lab.key = cfg->label_keys[i];
		lab.value = eq ? eq + 1 : "";
		for (at = s->n_labels; at > 0 && strcmp(s->labels[at - 1].key, lab.key) > 0; at--)
			s->labels[at] = s->labels[at - 1];
		s->labels[at] = lab;
		s->n_labels++;
	}
}

void nh_agent_derive(struct nh_agent_config *cfg)
{
	cfg->max_cgroups = 65536;
	cfg->max_objects = 65536;
	cfg->color = !cfg->no_color && isatty(STDOUT_FILENO);
	nh_model_config_defaults(&cfg->model);
	cfg->model.learn_ns = cfg->learn_window_ms * 1000000ULL;
	cfg->model.quiet_ns = cfg->quiet_period_ms * 1000000ULL;
	cfg->kafka.version = NH_VERSION;
	nh_agent_derive_site(cfg);
	cfg->kafka.site = &cfg->site;
}
