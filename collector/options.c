// SPDX-License-Identifier: Apache-2.0
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "version.h"

enum {
	OPT_BROKERS = 256,
	OPT_GROUP,
	OPT_TOPIC,
	OPT_DLQ,
	OPT_ECS_FILE,
	OPT_SYSLOG,
	OPT_SYSLOG_FORMAT,
	OPT_SPLUNK,
	OPT_SPLUNK_TOKEN,
	OPT_ELASTIC,
	OPT_ELASTIC_INDEX,
	OPT_ELASTIC_KEY,
	OPT_CA_FILE,
	OPT_DEDUP,
	OPT_COMMIT,
	OPT_METRICS,
	OPT_LOG_FORMAT,
	OPT_CRASH,
	OPT_VERSION,
};

static const struct option longopts[] = {
    {"brokers", required_argument, NULL, OPT_BROKERS},
    {"group", required_argument, NULL, OPT_GROUP},
    {"topic", required_argument, NULL, OPT_TOPIC},
    {"dead-letter-topic", required_argument, NULL, OPT_DLQ},
    {"ecs-file", required_argument, NULL, OPT_ECS_FILE},
    {"syslog", required_argument, NULL, OPT_SYSLOG},
    {"syslog-format", required_argument, NULL, OPT_SYSLOG_FORMAT},
    {"splunk-hec", required_argument, NULL, OPT_SPLUNK},
    {"splunk-token-file", required_argument, NULL, OPT_SPLUNK_TOKEN},
    {"elastic", required_argument, NULL, OPT_ELASTIC},
    {"elastic-index", required_argument, NULL, OPT_ELASTIC_INDEX},
    {"elastic-api-key-file", required_argument, NULL, OPT_ELASTIC_KEY},
    {"ca-file", required_argument, NULL, OPT_CA_FILE},
    {"dedup-window", required_argument, NULL, OPT_DEDUP},
    {"commit-interval", required_argument, NULL, OPT_COMMIT},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"test-crash-after-write", required_argument, NULL, OPT_CRASH},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
	fputs("usage: nhiscope-collector --brokers HOST:PORT[,...] SINK... [OPTION]...\n"
	      "Consumes nhiscope records from Kafka and delivers them to SIEM sinks,\n"
	      "at least once, deduplicated by record id.\n"
	      "\n"
	      "Kafka:\n"
	      "  --brokers LIST            bootstrap servers (required)\n"
	      "  --group ID                consumer group (nhiscope-collector); replicas in\n"
	      "                            one group share the partitions\n"
	      "  --topic NAME              topic to consume, repeatable (nhiscope.anomalies)\n"
	      "  --dead-letter-topic NAME  where undecodable records go (nhiscope.deadletter)\n"
	      "  -X KEY=VALUE              librdkafka property for the consumer and the\n"
	      "                            dead-letter producer (TLS, SASL, timeouts), repeatable\n"
	      "Sinks (at least one):\n"
	      "  --ecs-file PATH           ECS JSON lines appended to PATH ('-': stdout)\n"
	      "  --syslog HOST:PORT        RFC 5424 over TCP, octet-counting framing\n"
	      "  --syslog-format FMT       rfc5424 (ECS JSON message, default) or cef\n"
	      "  --splunk-hec URL          Splunk HTTP Event Collector endpoint\n"
	      "  --splunk-token-file FILE  the HEC token (never logged)\n"
	      "  --elastic URL             Elasticsearch; documents created via _bulk\n"
	      "  --elastic-index NAME      index or data stream (nhiscope)\n"
	      "  --elastic-api-key-file F  an Elasticsearch API key (never logged)\n"
	      "  --ca-file FILE            CA bundle for the HTTPS sinks\n"
	      "Delivery:\n"
	      "  --dedup-window N          record ids remembered for deduplication (100000)\n"
	      "  --commit-interval MS      how often offsets are committed (1000)\n"
	      "Operations:\n"
	      "  --metrics ADDR:PORT       serve /metrics and /healthz\n"
	      "  --log-format text|json    log lines on stderr (text)\n"
	      "  -v, --verbose             debug logging\n"
	      "  -h, --help, --version\n",
	      f);
}

static int number(const char *flag, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max) {
		fprintf(stderr, "nhiscope-collector: %s: '%s' is not a number in [%llu, %llu]\n",
			flag, s, (unsigned long long)min, (unsigned long long)max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("nhiscope-collector: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see --help)\n", stderr);
	return -EINVAL;
}

int nh_copts_parse(struct nh_copts *o, int argc, char **argv)
{
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	o->group = "nhiscope-collector";
	o->dead_letter_topic = "nhiscope.deadletter";
	o->dedup_window = 100000;
	o->commit_interval_ms = 1000;
	o->elastic_index = "nhiscope";
	o->log.level = NH_LOG_INFO;
	optind = 1;
	while ((c = getopt_long(argc, argv, "X:vh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_BROKERS:
			o->brokers = optarg;
			break;
		case OPT_GROUP:
			o->group = optarg;
			break;
		case OPT_TOPIC:
			if (o->ntopics == NH_COPT_TOPICS_MAX)
				return fail("--topic: more than %d topics", NH_COPT_TOPICS_MAX);
			if (!*optarg)
				return fail("--topic: empty name");
			o->topics[o->ntopics++] = optarg;
			break;
		case OPT_DLQ:
			if (!*optarg)
				return fail("--dead-letter-topic: empty name");
			o->dead_letter_topic = optarg;
			break;
		case 'X':
			if (!strchr(optarg, '=') || optarg[0] == '=')
				return fail("-X %s: expected KEY=VALUE", optarg);
			if (o->nkafka == NH_COPT_KAFKA_MAX)
				return fail("-X: more than %d properties", NH_COPT_KAFKA_MAX);
			o->kafka[o->nkafka++] = optarg;
			break;
		case OPT_ECS_FILE:
			o->ecs_file = optarg;
			break;
		case OPT_SYSLOG:
			o->syslog = optarg;
			break;
		case OPT_SYSLOG_FORMAT:
			if (strcmp(optarg, "rfc5424") == 0)
				o->syslog_format = NH_SYSLOG_RFC5424;
			else if (strcmp(optarg, "cef") == 0)
				o->syslog_format = NH_SYSLOG_CEF;
			else
				return fail("--syslog-format %s: expected rfc5424 or cef", optarg);
			break;
		case OPT_SPLUNK:
			o->splunk_hec = optarg;
			break;
		case OPT_SPLUNK_TOKEN:
			o->splunk_token_file = optarg;
			break;
		case OPT_ELASTIC:
			o->elastic = optarg;
			break;
		case OPT_ELASTIC_INDEX:
			o->elastic_index = optarg;
			break;
		case OPT_ELASTIC_KEY:
			o->elastic_api_key_file = optarg;
			break;
		case OPT_CA_FILE:
			o->ca_file = optarg;
			break;
		case OPT_DEDUP:
			if (number("--dedup-window", optarg, 1, 1u << 24, &v))
				return -EINVAL;
			o->dedup_window = v;
			break;
		case OPT_COMMIT:
			if (number("--commit-interval", optarg, 10, 600000, &v))
				return -EINVAL;
			o->commit_interval_ms = (unsigned)v;
			break;
		case OPT_METRICS:
			o->metrics = optarg;
			break;
		case OPT_LOG_FORMAT:
			if (strcmp(optarg, "json") == 0)
				o->log.json = true;
			else if (strcmp(optarg, "text") != 0)
				return fail("--log-format %s: expected text or json", optarg);
			break;
		case OPT_CRASH:
			if (number("--test-crash-after-write", optarg, 1, UINT64_MAX, &v))
				return -EINVAL;
			o->crash_after_write = v;
			break;
		case 'v':
			o->log.level = NH_LOG_DEBUG;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case OPT_VERSION:
			printf("nhiscope-collector %s\n", NH_COLLECTOR_VERSION);
			return 1;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc)
		return fail("unexpected argument '%s'", argv[optind]);
	if (!o->brokers || !*o->brokers)
		return fail("--brokers is required");
	if (!o->ecs_file && !o->syslog && !o->splunk_hec && !o->elastic)
		return fail("no sink: give --ecs-file, --syslog, --splunk-hec or --elastic");
	if (o->splunk_hec && !o->splunk_token_file)
		return fail("--splunk-hec needs --splunk-token-file");
	if (!o->splunk_hec && o->splunk_token_file)
		return fail("--splunk-token-file without --splunk-hec");
	if (!o->ntopics)
		o->topics[o->ntopics++] = "nhiscope.anomalies";
	for (size_t i = 0; i < o->ntopics; i++)
		if (strcmp(o->topics[i], o->dead_letter_topic) == 0)
			return fail("the dead-letter topic %s is also consumed",
				    o->dead_letter_topic);
	return 0;
}
