/* SPDX-License-Identifier: Apache-2.0 */
/*
 * collector: the consume loop. For each Kafka message, in partition
 * order: decode (an undecodable one goes to the dead-letter topic),
 * skip it when its record id is in the dedup window, build the ECS
 * document, have every sink accept it (retrying, with backoff and the
 * partitions paused, the sinks that did not), then store its offset.
 * Every commit interval (and whenever the topic is idle, and before
 * partitions are revoked) the sinks are flushed and only then are the
 * stored offsets committed. So a record is committed only once every
 * sink has it durably: at least once, and exactly once in the sinks while
 * the collector runs (dedup) and in the file sink across restarts.
 */
#ifndef NH_COLLECTOR_H
#define NH_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dedup.h"
#include "jsonw.h"
#include "consumer.h"
#include "telemetry.h"
#include "options.h"
#include "sink.h"

#define NH_SINKS_MAX 4

struct nh_collector {
	const struct nh_copts *o;
	const struct nh_log *lg;
	struct nh_consumer k;
	bool kafka_open;
	struct nh_dedup dedup;
	struct nh_sink sinks[NH_SINKS_MAX];
	size_t nsinks;
	struct nh_telemetry m;
	int sigfd; /* SIGINT, SIGTERM: stop */
	bool stop;
	bool idle;	      /* the last poll returned no record */
	uint64_t uncommitted; /* offsets stored since the last commit */
	uint64_t last_commit_ms, last_lag_ms;
	uint64_t written;	     /* records every sink accepted, for crash tests */
	struct nh_jw doc;	     /* the ECS document of the record being delivered */
	struct nh_wire_arena *arena; /* where the record being delivered is decoded */
	struct nh_kmsg batch[NH_CONSUMER_BATCH_MAX]; /* the messages being delivered */
	bool batch_done[NH_CONSUMER_BATCH_MAX];
};

/* Open sinks, dedup window, metrics and Kafka. SIGINT and SIGTERM must
 * already be blocked in every thread. 0 or -errno (logged). */
int nh_collector_open(struct nh_collector *c, const struct nh_copts *o);
/* Consume until SIGINT or SIGTERM; then flush the sinks and commit. */
int nh_collector_run(struct nh_collector *c);
void nh_collector_close(struct nh_collector *c);

#endif
