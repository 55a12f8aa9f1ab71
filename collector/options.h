/* SPDX-License-Identifier: Apache-2.0 */
/* options: every setting of nhiscope-collector, its YAML key (the Helm
 * value under collector.config), its flag, type and default. */
#ifndef NH_OPTIONS_H
#define NH_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "log.h"
#include "syslogfmt.h"

#define NH_COPT_TOPICS_MAX 16
#define NH_COPT_KAFKA_MAX  64

/* Field types as config.h gives them: uint64_t, bool, int enums, and
 * const char * that is NULL when empty. */
struct nh_copts {
	const char *brokers;
	const char *group;
	const char *topics[NH_COPT_TOPICS_MAX];
	size_t ntopics;
	const char *dead_letter_topic;
	const char *kafka[NH_COPT_KAFKA_MAX]; /* "key=value" librdkafka properties */
	size_t nkafka;
	const char *kafka_files[NH_COPT_KAFKA_MAX]; /* "key=path": the value is the file */
	size_t nkafka_files;
	const char *ecs_file; /* path or "-" */
	const char *syslog;   /* host:port */
	int syslog_format;    /* enum nh_syslog_format */
	const char *splunk_hec, *splunk_token_file;
	const char *elastic, *elastic_index, *elastic_api_key_file;
	const char *ca_file; /* for the HTTP sinks */
	uint64_t dedup_window;
	uint64_t commit_interval_ms;
	const char *metrics; /* addr:port */
	struct nh_log log;
	/* tests: SIGKILL itself once this many records were written to every
	 * sink, before their offsets are stored (0: never) */
	uint64_t crash_after_write;
};

extern const struct nh_config_spec nh_collector_spec;

/* Defaults, --config FILE, flags. Returns 0 to run, 1 when --help,
 * --version, --check-config or --print-config was answered, -EINVAL
 * after printing every error on stderr. src keeps the strings. */
int nh_copts_parse(struct nh_copts *o, struct nh_config *src, int argc, char **argv);

#endif
