/* SPDX-License-Identifier: Apache-2.0 */
/* options: the collector's command line. Every bad flag or value is an
 * error that names it. */
#ifndef NH_OPTIONS_H
#define NH_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "syslogfmt.h"

#define NH_COPT_TOPICS_MAX 16
#define NH_COPT_KAFKA_MAX  64

struct nh_copts {
	const char *brokers;
	const char *group;
	const char *topics[NH_COPT_TOPICS_MAX];
	size_t ntopics;
	const char *dead_letter_topic;
	const char *kafka[NH_COPT_KAFKA_MAX]; /* -X key=value, librdkafka properties */
	size_t nkafka;
	const char *ecs_file; /* path or "-" */
	const char *syslog;   /* host:port */
	enum nh_syslog_format syslog_format;
	const char *splunk_hec, *splunk_token_file;
	const char *elastic, *elastic_index, *elastic_api_key_file;
	const char *ca_file; /* for the HTTP sinks */
	size_t dedup_window;
	unsigned commit_interval_ms;
	const char *metrics; /* addr:port */
	struct nh_log log;
	/* tests: SIGKILL itself once this many records were written to every
	 * sink, before their offsets are stored (0: never) */
	uint64_t crash_after_write;
};

/* Returns 0 to run, 1 when --help or --version was answered, -EINVAL
 * after printing the error on stderr. */
int nh_copts_parse(struct nh_copts *o, int argc, char **argv);

#endif
