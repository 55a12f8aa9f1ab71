// SPDX-License-Identifier: Apache-2.0
#include "options.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "version.h"

#define F(field)		offsetof(struct nh_copts, field)
#define LIST(field, count, cap) .off = F(field), .count_off = F(count), .max = (cap)

static_assert(sizeof(enum nh_log_level) == sizeof(int), "enums are written as int");
static_assert(sizeof(enum nh_log_format) == sizeof(int), "enums are written as int");

static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const log_formats[] = {"text", "json", NULL};
static const char *const syslog_formats[] = {"rfc5424", "cef", NULL};

static const struct nh_opt opts[] = {
    {.flag = "verbose",
     .short_flag = 'v',
     .type = NH_OPT_ENUM,
     .off = F(log.level),
     .choices = log_levels,
     .flag_value = "debug",
     .def = "info",
     .help = "debug logging (log.level: debug)"},
    {.flag = "test-crash-after-write",
     .type = NH_OPT_UINT,
     .off = F(crash_after_write),
     .min = 0,
     .max = UINT64_MAX,
     .def = "0",
     .flags = NH_OPT_HIDDEN,
     .help = "tests: die after this many records reached the sinks, before their offsets"},

    {.key = "kafka.brokers",
     .flag = "brokers",
     .type = NH_OPT_STRING,
     .off = F(brokers),
     .arg = "HOST:PORT,...",
     .def = "",
     .help = "bootstrap servers (required)"},
    {.key = "kafka.group",
     .flag = "group",
     .type = NH_OPT_STRING,
     .off = F(group),
     .arg = "ID",
     .def = "nhiscope-collector",
     .help = "consumer group; replicas in one group share the partitions"},
    {.key = "kafka.topics",
     .flag = "topic",
     .type = NH_OPT_LIST,
     LIST(topics, ntopics, NH_COPT_TOPICS_MAX),
     .arg = "TOPIC",
     .def = "nhiscope.anomalies",
     .help = "topics to consume (the flag is repeatable)"},
    {.key = "kafka.deadLetterTopic",
     .flag = "dead-letter-topic",
     .type = NH_OPT_STRING,
     .off = F(dead_letter_topic),
     .arg = "TOPIC",
     .def = "nhiscope.deadletter",
     .help = "where undecodable records go, with the reason"},
    {.key = "kafka.properties",
     .flag = "kafka-property",
     .short_flag = 'X',
     .type = NH_OPT_MAP,
     LIST(kafka, nkafka, NH_COPT_KAFKA_MAX),
     .arg = "KEY=VALUE",
     .flags = NH_OPT_SECRET,
     .help = "librdkafka properties for the consumer and the dead-letter producer (TLS, "
	     "SASL, timeouts); put secrets in propertyFiles"},
    {.key = "kafka.propertyFiles",
     .flag = "kafka-property-file",
     .type = NH_OPT_MAP,
     LIST(kafka_files, nkafka_files, NH_COPT_KAFKA_MAX),
     .arg = "KEY=PATH",
     .help = "librdkafka properties whose value is a file's content, such as "
	     "sasl.password from a mounted Secret; never logged"},

    {.key = "sinks.ecs.file",
     .flag = "ecs-file",
     .type = NH_OPT_STRING,
     .off = F(ecs_file),
     .arg = "PATH",
     .def = "",
     .help = "ECS JSON lines appended to this file ('-': stdout)"},
    {.key = "sinks.syslog.address",
     .flag = "syslog",
     .type = NH_OPT_STRING,
     .off = F(syslog),
     .arg = "HOST:PORT",
     .def = "",
     .help = "syslog over TCP, RFC 5424 octet-counting framing"},
    {.key = "sinks.syslog.format",
     .flag = "syslog-format",
     .type = NH_OPT_ENUM,
     .off = F(syslog_format),
     .choices = syslog_formats,
     .arg = "FORMAT",
     .def = "rfc5424",
     .help = "rfc5424 (the ECS JSON as message) or cef"},
    {.key = "sinks.splunk.url",
     .flag = "splunk-hec",
     .type = NH_OPT_STRING,
     .off = F(splunk_hec),
     .arg = "URL",
     .def = "",
     .help = "Splunk HTTP Event Collector"},
    {.key = "sinks.splunk.tokenFile",
     .flag = "splunk-token-file",
     .type = NH_OPT_PATH,
     .off = F(splunk_token_file),
     .arg = "FILE",
     .def = "",
     .help = "file holding the HEC token (never logged)"},
    {.key = "sinks.elastic.url",
     .flag = "elastic",
     .type = NH_OPT_STRING,
     .off = F(elastic),
     .arg = "URL",
     .def = "",
     .help = "Elasticsearch; documents created through _bulk"},
    {.key = "sinks.elastic.index",
     .flag = "elastic-index",
     .type = NH_OPT_STRING,
     .off = F(elastic_index),
     .arg = "NAME",
     .def = "nhiscope",
     .help = "index or data stream"},
    {.key = "sinks.elastic.apiKeyFile",
     .flag = "elastic-api-key-file",
     .type = NH_OPT_PATH,
     .off = F(elastic_api_key_file),
     .arg = "FILE",
     .def = "",
     .help = "file holding an Elasticsearch API key (never logged)"},
    {.key = "sinks.caFile",
     .flag = "ca-file",
     .type = NH_OPT_PATH,
     .off = F(ca_file),
     .arg = "FILE",
     .def = "",
     .help = "CA bundle for the HTTPS sinks; empty: the system's"},

    {.key = "delivery.dedupWindow",
     .flag = "dedup-window",
     .type = NH_OPT_UINT,
     .off = F(dedup_window),
     .min = 1,
     .max = 1u << 24,
     .arg = "N",
     .def = "100000",
     .help = "record ids remembered to drop redeliveries"},
    {.key = "delivery.commitInterval",
     .flag = "commit-interval",
     .type = NH_OPT_DURATION,
     .off = F(commit_interval_ms),
     .min = 10,
     .max = 600000,
     .arg = "DURATION",
     .def = "1s",
     .help = "how often delivered offsets are committed"},

    {.key = "metrics.listen",
     .flag = "metrics",
     .type = NH_OPT_STRING,
     .off = F(metrics),
     .arg = "ADDR:PORT",
     .def = "",
     .help = "serve /metrics, /healthz and /readyz; empty: off"},

    {.key = "log.level",
     .flag = "log-level",
     .type = NH_OPT_ENUM,
     .off = F(log.level),
     .choices = log_levels,
     .arg = "LEVEL",
     .def = "info",
     .help = "error, warn, info or debug"},
    {.key = "log.format",
     .flag = "log-format",
     .type = NH_OPT_ENUM,
     .off = F(log.format),
     .choices = log_formats,
     .arg = "FORMAT",
     .def = "text",
     .help = "one line per message on stderr: text or json"},
};

static int fail(FILE *err, const char *msg, const char *arg)
{
	fprintf(err, "nhiscope-collector: ");
	fprintf(err, msg, arg);
	fputc('\n', err);
	return -EINVAL;
}

static int validate(const void *p, FILE *err)
{
	const struct nh_copts *o = p;
	int rc = 0;

	if (!o->brokers)
		rc = fail(err, "kafka.brokers (--brokers) is required%s", "");
	if (!o->ecs_file && !o->syslog && !o->splunk_hec && !o->elastic)
		rc = fail(err,
			  "no sink: set sinks.ecs.file, sinks.syslog.address, sinks.splunk.url "
			  "or sinks.elastic.url (--ecs-file, --syslog, --splunk-hec, --elastic)%s",
			  "");
	if (o->splunk_hec && !o->splunk_token_file)
		rc = fail(err, "sinks.splunk.url needs sinks.splunk.tokenFile%s", "");
	if (!o->splunk_hec && o->splunk_token_file)
		rc = fail(err, "sinks.splunk.tokenFile without sinks.splunk.url%s", "");
	if (!o->ntopics)
		rc = fail(err, "kafka.topics: at least one topic%s", "");
	if (!o->group)
		rc = fail(err, "kafka.group: must not be empty%s", "");
	if (!o->dead_letter_topic)
		rc = fail(err, "kafka.deadLetterTopic: must not be empty%s", "");
	for (size_t i = 0; o->dead_letter_topic && i < o->ntopics; i++)
		if (strcmp(o->topics[i], o->dead_letter_topic) == 0)
			rc = fail(err, "kafka.deadLetterTopic %s is also in kafka.topics",
				  o->dead_letter_topic);
	return rc;
}

const struct nh_config_spec nh_collector_spec = {
    .prog = "nhiscope-collector",
    .summary = "Consume nhiscope records from Kafka and deliver them to SIEM sinks, at least\n"
	       "once, deduplicated by record id.",
    .version = NH_COLLECTOR_VERSION,
    .opts = opts,
    .nopts = sizeof(opts) / sizeof(opts[0]),
    .size = sizeof(struct nh_copts),
    .validate = validate,
};

int nh_copts_parse(struct nh_copts *o, struct nh_config *src, int argc, char **argv)
{
	return nh_config_load(src, &nh_collector_spec, o, argc, argv, stdout, stderr);
}
