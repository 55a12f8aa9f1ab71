// SPDX-License-Identifier: Apache-2.0
/* nhiscope-agent: option parsing over the agent module. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

/* The binary's one context struct: libbpf's print callback has no user
 * pointer, so it reaches the log settings through here. */
static struct nh_agent agent;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	enum nh_log_level lvl = level == LIBBPF_WARN ? NH_LOG_WARN : NH_LOG_DEBUG;

	/* libbpf is chatty about probing features; its warnings matter only
	 * when something fails, and the agent reports that itself. */
	if (agent.log.level < NH_LOG_DEBUG)
		return 0;
	nh_logv(&agent.log, lvl, fmt, ap);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: nhiscope-agent [options]\n"
	    "Attach the nhiscope probes and serve identity-attributed events.\n\n"
	    "  -s, --socket PATH          subscriber socket (default %s)\n"
	    "      --socket-mode MODE     octal permissions of the socket (default 0600)\n"
	    "      --tail                 also print every event on stdout\n"
	    "  -o, --output FORMAT        --tail format: compact (default) or json\n"
	    "      --no-color             no colours in compact output\n"
	    "      --ringbuf-size BYTES   kernel ring buffer, power of two >= 4096 (default 8M)\n"
	    "      --dedup-window MS      in-kernel dedup window, 0 disables (default 10000)\n"
	    "      --dedup-entries N      dedup map entries (default 65536)\n"
	    "      --batch-ms MS          deliver events at most MS late, waking once per batch\n"
	    "                             instead of per event; 0: per event (default 20)\n"
	    "      --scope-cgroup PATH    trace only this cgroup v2 subtree (path below the "
	    "mount)\n"
	    "      --max-processes N      process table bound (default 1048576)\n"
	    "      --subscriber-buffer BYTES  per-subscriber backlog before dropping (default "
	    "16M)\n"
	    "Service accounts and credentials:\n"
	    "      --sa-token-path PATH   token path inside pods (default %s)\n"
	    "      --token-recheck MS     re-check a pod's token for rotation at most every MS\n"
	    "                             (default 10000)\n"
	    "      --credential KIND:PATTERN  add a credential file rule, before the built-in\n"
	    "                             ones; '!KIND:PATTERN' excludes (repeatable)\n"
	    "      --metadata-endpoint ADDR[:PORT]  cloud metadata service, replacing the\n"
	    "                             defaults 169.254.169.254 and fd00:ec2::254 (repeatable)\n"
	    "      --apiserver ADDR:PORT  Kubernetes API server endpoint (default: from\n"
	    "                             KUBERNETES_SERVICE_HOST/PORT)\n"
	    "      --max-credentials N    credential registry bound (default 4096)\n"
	    "      --kubelet-url URL      pod list for names and owners: https://NODE:10250/pods\n"
	    "                             or the API server's /api/v1/pods?fieldSelector=...\n"
	    "      --kubelet-token PATH   bearer token file for it (re-read on every fetch)\n"
	    "      --kubelet-ca PATH      CA bundle for it\n"
	    "      --kubelet-insecure     do not verify its certificate (labs only)\n"
	    "      --kubelet-refresh MS   pod list refresh interval (default 30000)\n"
	    "Behaviour baselines:\n"
	    "      --learn-window MS      learn each identity at least this long (default 24h)\n"
	    "      --quiet-period MS      and until nothing new for this long (default 1h)\n"
	    "      --profile-dir DIR      profile snapshots (default %s; \"\" keeps none)\n"
	    "      --snapshot-interval MS write snapshots this often (default 300000)\n"
	    "      --max-profiles N       profile table bound (default 65536)\n"
	    "Kafka (off unless --kafka-brokers is given):\n"
	    "      --kafka-brokers LIST   bootstrap servers, host:port[,host:port]\n"
	    "      --kafka-topic-anomalies T, --kafka-topic-activity T, --kafka-topic-heartbeats "
	    "T\n"
	    "                             (defaults nhiscope.anomalies, .activity, .heartbeats)\n"
	    "      --kafka-activity       also stream every activity event\n"
	    "  -X KEY=VALUE               librdkafka property (TLS, SASL, ...), repeatable\n"
	    "      --spool-dir DIR        records wait here until acknowledged\n"
	    "                             (default /var/lib/nhiscope/spool)\n"
	    "      --spool-size BYTES     spool bound; activity is shed first (default 256M)\n"
	    "      --spool-sync POLICY    none, flush (every tick, default) or always\n"
	    "HTTP:\n"
	    "      --metrics-listen ADDR:PORT  serve /metrics, /healthz and /readyz, e.g.\n"
	    "                             127.0.0.1:9464 or [::1]:9464 (default: off)\n"
	    "Logging:\n"
	    "      --log-format FORMAT    text (default) or json\n"
	    "  -v, --verbose              debug logging (libbpf and verifier output)\n"
	    "  -h, --help                 this text\n"
	    "      --version              print the version\n",
	    NH_DEFAULT_SOCKET, NH_SA_DEFAULT_PATH, NH_PROFILE_DIR);
}

/* "8M", "4096", "64k" -> bytes. */
static int parse_size(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		goto bad;
	if (*end == 'k' || *end == 'K')
		v <<= 10, end++;
	else if (*end == 'm' || *end == 'M')
		v <<= 20, end++;
	else if (*end == 'g' || *end == 'G')
		v <<= 30, end++;
	if (*end || v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	fprintf(stderr, "nhiscope-agent: %s: \"%s\" is not a number between %llu and %llu\n", opt,
		s, (unsigned long long)min, (unsigned long long)max);
	return -EINVAL;
}

enum {
	OPT_SOCKET_MODE = 256,
	OPT_TAIL,
	OPT_NO_COLOR,
	OPT_RINGBUF,
	OPT_DEDUP_WINDOW,
	OPT_DEDUP_ENTRIES,
	OPT_BATCH,
	OPT_SCOPE,
	OPT_MAX_PROCS,
	OPT_SUB_BUFFER,
	OPT_LOG_FORMAT,
	OPT_VERSION,
	OPT_SA_PATH,
	OPT_TOKEN_RECHECK,
	OPT_CREDENTIAL,
	OPT_METADATA,
	OPT_APISERVER,
	OPT_MAX_CREDS,
	OPT_KUBELET_URL,
	OPT_KUBELET_TOKEN,
	OPT_KUBELET_CA,
	OPT_KUBELET_INSECURE,
	OPT_KUBELET_REFRESH,
	OPT_LEARN,
	OPT_QUIET,
	OPT_PROFILE_DIR,
	OPT_SNAPSHOT,
	OPT_MAX_PROFILES,
	OPT_KAFKA_BROKERS,
	OPT_KAFKA_TOPIC_ANOMALIES,
	OPT_KAFKA_TOPIC_ACTIVITY,
	OPT_KAFKA_TOPIC_HEARTBEATS,
	OPT_KAFKA_ACTIVITY,
	OPT_SPOOL_DIR,
	OPT_SPOOL_SIZE,
	OPT_SPOOL_SYNC,
	OPT_METRICS_LISTEN,
};

static int parse_args(int argc, char **argv, struct nh_agent *a)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"socket-mode", required_argument, NULL, OPT_SOCKET_MODE},
	    {"tail", no_argument, NULL, OPT_TAIL},
	    {"output", required_argument, NULL, 'o'},
	    {"no-color", no_argument, NULL, OPT_NO_COLOR},
	    {"ringbuf-size", required_argument, NULL, OPT_RINGBUF},
	    {"dedup-window", required_argument, NULL, OPT_DEDUP_WINDOW},
	    {"dedup-entries", required_argument, NULL, OPT_DEDUP_ENTRIES},
	    {"batch-ms", required_argument, NULL, OPT_BATCH},
	    {"scope-cgroup", required_argument, NULL, OPT_SCOPE},
	    {"max-processes", required_argument, NULL, OPT_MAX_PROCS},
	    {"subscriber-buffer", required_argument, NULL, OPT_SUB_BUFFER},
	    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {"sa-token-path", required_argument, NULL, OPT_SA_PATH},
	    {"token-recheck", required_argument, NULL, OPT_TOKEN_RECHECK},
	    {"credential", required_argument, NULL, OPT_CREDENTIAL},
	    {"metadata-endpoint", required_argument, NULL, OPT_METADATA},
	    {"apiserver", required_argument, NULL, OPT_APISERVER},
	    {"max-credentials", required_argument, NULL, OPT_MAX_CREDS},
	    {"kubelet-url", required_argument, NULL, OPT_KUBELET_URL},
	    {"kubelet-token", required_argument, NULL, OPT_KUBELET_TOKEN},
	    {"kubelet-ca", required_argument, NULL, OPT_KUBELET_CA},
	    {"kubelet-insecure", no_argument, NULL, OPT_KUBELET_INSECURE},
	    {"kubelet-refresh", required_argument, NULL, OPT_KUBELET_REFRESH},
	    {"learn-window", required_argument, NULL, OPT_LEARN},
	    {"quiet-period", required_argument, NULL, OPT_QUIET},
	    {"profile-dir", required_argument, NULL, OPT_PROFILE_DIR},
	    {"snapshot-interval", required_argument, NULL, OPT_SNAPSHOT},
	    {"max-profiles", required_argument, NULL, OPT_MAX_PROFILES},
	    {"kafka-brokers", required_argument, NULL, OPT_KAFKA_BROKERS},
	    {"kafka-topic-anomalies", required_argument, NULL, OPT_KAFKA_TOPIC_ANOMALIES},
	    {"kafka-topic-activity", required_argument, NULL, OPT_KAFKA_TOPIC_ACTIVITY},
	    {"kafka-topic-heartbeats", required_argument, NULL, OPT_KAFKA_TOPIC_HEARTBEATS},
	    {"kafka-activity", no_argument, NULL, OPT_KAFKA_ACTIVITY},
	    {"spool-dir", required_argument, NULL, OPT_SPOOL_DIR},
	    {"spool-size", required_argument, NULL, OPT_SPOOL_SIZE},
	    {"spool-sync", required_argument, NULL, OPT_SPOOL_SYNC},
	    {"metrics-listen", required_argument, NULL, OPT_METRICS_LISTEN},
	    {0},
	};
	struct nh_agent_config *cfg = &a->cfg;
	long page = sysconf(_SC_PAGESIZE);
	uint64_t v;
	char *end;
	int c;

	cfg->color = isatty(STDOUT_FILENO);
	while ((c = getopt_long(argc, argv, "s:o:vhX:", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			cfg->socket_path = optarg;
			break;
		case OPT_SOCKET_MODE:
			errno = 0;
			v = strtoul(optarg, &end, 8);
			if (errno || *end || end == optarg || v > 0777) {
				fprintf(
				    stderr,
				    "nhiscope-agent: --socket-mode: \"%s\" is not an octal mode\n",
				    optarg);
				return -EINVAL;
			}
			cfg->socket_mode = v;
			break;
		case OPT_TAIL:
			cfg->tail = true;
			break;
		case 'o':
			if (strcmp(optarg, "json") && strcmp(optarg, "compact")) {
				fprintf(stderr,
					"nhiscope-agent: --output: \"%s\" is not compact or json\n",
					optarg);
				return -EINVAL;
			}
			cfg->tail_json = strcmp(optarg, "json") == 0;
			break;
		case OPT_NO_COLOR:
			cfg->color = false;
			break;
		case OPT_RINGBUF:
			if (parse_size("--ringbuf-size", optarg, page, 1u << 30, &v))
				return -EINVAL;
			if (v & (v - 1)) {
				fprintf(
				    stderr,
				    "nhiscope-agent: --ringbuf-size: %s is not a power of two\n",
				    optarg);
				return -EINVAL;
			}
			cfg->ringbuf_bytes = v;
			break;
		case OPT_DEDUP_WINDOW:
			if (parse_size("--dedup-window", optarg, 0, 3600000, &v))
				return -EINVAL;
			cfg->dedup_window_ms = v;
			break;
		case OPT_DEDUP_ENTRIES:
			if (parse_size("--dedup-entries", optarg, 16, 1u << 24, &v))
				return -EINVAL;
			cfg->dedup_entries = v;
			break;
		case OPT_BATCH:
			if (parse_size("--batch-ms", optarg, 0, 1000, &v))
				return -EINVAL;
			cfg->batch_ms = v;
			break;
		case OPT_SCOPE:
			cfg->scope_cgroup = optarg;
			break;
		case OPT_MAX_PROCS:
			if (parse_size("--max-processes", optarg, 64, 1u << 24, &v))
				return -EINVAL;
			cfg->max_procs = v;
			break;
		case OPT_SUB_BUFFER:
			if (parse_size("--subscriber-buffer", optarg, 4096, 1u << 30, &v))
				return -EINVAL;
			cfg->subscriber_buffer = v;
			break;
		case OPT_LOG_FORMAT:
			if (strcmp(optarg, "json") && strcmp(optarg, "text")) {
				fprintf(
				    stderr,
				    "nhiscope-agent: --log-format: \"%s\" is not text or json\n",
				    optarg);
				return -EINVAL;
			}
			a->log.json = strcmp(optarg, "json") == 0;
			break;
		case OPT_SA_PATH:
			if (optarg[0] != '/') {
				fprintf(
				    stderr,
				    "nhiscope-agent: --sa-token-path: \"%s\" is not an absolute "
				    "path\n",
				    optarg);
				return -EINVAL;
			}
			cfg->sa_token_path = optarg;
			break;
		case OPT_TOKEN_RECHECK:
			if (parse_size("--token-recheck", optarg, 0, 86400000, &v))
				return -EINVAL;
			cfg->token_recheck_ms = v;
			break;
		case OPT_CREDENTIAL:
			if (cfg->ncredential_rules == NH_MAX_CRED_RULES) {
				fprintf(stderr,
					"nhiscope-agent: --credential: more than %d rules\n",
					NH_MAX_CRED_RULES);
				return -EINVAL;
			}
			cfg->credential_rules[cfg->ncredential_rules++] = optarg;
			break;
		case OPT_METADATA:
			if (cfg->nmetadata_endpoints == 16) {
				fprintf(
				    stderr,
				    "nhiscope-agent: --metadata-endpoint: more than 16 given\n");
				return -EINVAL;
			}
			cfg->metadata_endpoints[cfg->nmetadata_endpoints++] = optarg;
			break;
		case OPT_APISERVER:
			cfg->apiserver = optarg;
			break;
		case OPT_MAX_CREDS:
			if (parse_size("--max-credentials", optarg, 16, 1u << 20, &v))
				return -EINVAL;
			cfg->max_credentials = v;
			break;
		case OPT_KUBELET_URL:
			cfg->kubelet_url = optarg;
			break;
		case OPT_KUBELET_TOKEN:
			cfg->kubelet_token = optarg;
			break;
		case OPT_KUBELET_CA:
			cfg->kubelet_ca = optarg;
			break;
		case OPT_KUBELET_INSECURE:
			cfg->kubelet_insecure = true;
			break;
		case OPT_KUBELET_REFRESH:
			if (parse_size("--kubelet-refresh", optarg, 100, 86400000, &v))
				return -EINVAL;
			cfg->kubelet_refresh_ms = v;
			break;
		case OPT_LEARN:
			if (parse_size("--learn-window", optarg, 0, 365ULL * 86400000, &v))
				return -EINVAL;
			cfg->model.learn_ns = v * 1000000ULL;
			break;
		case OPT_QUIET:
			if (parse_size("--quiet-period", optarg, 0, 365ULL * 86400000, &v))
				return -EINVAL;
			cfg->model.quiet_ns = v * 1000000ULL;
			break;
		case OPT_PROFILE_DIR:
			if (optarg[0] && optarg[0] != '/') {
				fprintf(stderr,
					"nhiscope-agent: --profile-dir: \"%s\" is not an absolute "
					"path\n",
					optarg);
				return -EINVAL;
			}
			cfg->profile_dir = optarg;
			break;
		case OPT_SNAPSHOT:
			if (parse_size("--snapshot-interval", optarg, 100, 86400000, &v))
				return -EINVAL;
			cfg->snapshot_interval_ms = v;
			break;
		case OPT_MAX_PROFILES:
			if (parse_size("--max-profiles", optarg, 16, 1u << 24, &v))
				return -EINVAL;
			cfg->max_profiles = v;
			break;
		case OPT_KAFKA_BROKERS:
			cfg->kafka.brokers = optarg;
			break;
		case OPT_KAFKA_TOPIC_ANOMALIES:
			cfg->kafka.topic_anomalies = optarg;
			break;
		case OPT_KAFKA_TOPIC_ACTIVITY:
			cfg->kafka.topic_activity = optarg;
			break;
		case OPT_KAFKA_TOPIC_HEARTBEATS:
			cfg->kafka.topic_heartbeats = optarg;
			break;
		case OPT_KAFKA_ACTIVITY:
			cfg->kafka.activity = true;
			break;
		case 'X':
			if (cfg->kafka.nprops == NH_KAFKA_PROPS_MAX || !strchr(optarg, '=')) {
				fprintf(
				    stderr,
				    "nhiscope-agent: -X \"%s\": expected KEY=VALUE (at most %d)\n",
				    optarg, NH_KAFKA_PROPS_MAX);
				return -EINVAL;
			}
			cfg->kafka.props[cfg->kafka.nprops++] = optarg;
			break;
		case OPT_SPOOL_DIR:
			if (optarg[0] != '/') {
				fprintf(
				    stderr,
				    "nhiscope-agent: --spool-dir: \"%s\" is not an absolute path\n",
				    optarg);
				return -EINVAL;
			}
			cfg->kafka.spool_dir = optarg;
			break;
		case OPT_SPOOL_SIZE:
			if (parse_size("--spool-size", optarg, 1u << 20, 1ULL << 40, &v))
				return -EINVAL;
			cfg->kafka.spool_bytes = v;
			break;
		case OPT_SPOOL_SYNC:
			if (!strcmp(optarg, "none"))
				cfg->kafka.spool_sync = NH_SPOOL_SYNC_NONE;
			else if (!strcmp(optarg, "flush"))
				cfg->kafka.spool_sync = NH_SPOOL_SYNC_FLUSH;
			else if (!strcmp(optarg, "always"))
				cfg->kafka.spool_sync = NH_SPOOL_SYNC_ALWAYS;
			else {
				fprintf(
				    stderr,
				    "nhiscope-agent: --spool-sync: \"%s\" is not none, flush or "
				    "always\n",
				    optarg);
				return -EINVAL;
			}
			break;
		case OPT_METRICS_LISTEN:
			cfg->metrics_listen = optarg; /* checked when it is bound */
			break;
		case 'v':
			a->log.level = NH_LOG_DEBUG;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case OPT_VERSION:
			printf("nhiscope-agent %s\n", NH_VERSION);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "nhiscope-agent: unexpected argument \"%s\"\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int code;

	nh_agent_defaults(&agent.cfg);
	agent.log.level = NH_LOG_INFO;
	if (parse_args(argc, argv, &agent))
		return 2;
	libbpf_set_print(libbpf_print);
	code = nh_agent_start(&agent);
	if (code)
		return 1;
	code = nh_agent_run(&agent);
	nh_agent_stop(&agent);
	nh_info(&agent.log, "stopped");
	return code ? 1 : 0;
}
