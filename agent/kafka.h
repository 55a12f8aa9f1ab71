/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kafka: the agent's producer, the only agent module that knows about
 * librdkafka. Every record goes through the spool first (spool.h) and is
 * dropped from it only once the broker acknowledged it (idempotent
 * producer, acks=all), so outages, a full queue and restarts lose
 * nothing that was accepted; what the spool had to shed is announced in
 * loss reports.
 */
#ifndef NH_KAFKA_H
#define NH_KAFKA_H

#include <stdbool.h>
#include <stdint.h>

#include "histogram.h"
#include "log.h"
#include "spool.h"
#include "wire.h"

#define NH_KAFKA_PROPS_MAX 32

/* Why records were lost, in loss reports. */
enum {
	NH_KAFKA_LOSS_SPOOL_FULL = 0, /* shed by the spool's bound */
	NH_KAFKA_LOSS_DISK,	      /* a write the disk refused, after retries */
	NH_KAFKA_LOSS_REFUSED,	      /* Kafka refused for good (too large) */
	NH_KAFKA_LOSS_TIMEOUT,	      /* refused (ACL, topic) for longer than message.timeout.ms */
	NH_KAFKA_LOSS_CAUSES
};

struct nh_kafka_config {
	const char *brokers; /* NULL: no Kafka, the agent runs tail-only */
	const char *topic_anomalies;
	const char *topic_activity;
	const char *topic_heartbeats;
	const char *props[NH_KAFKA_PROPS_MAX]; /* "key=value" passed to librdkafka (TLS, SASL) */
	size_t nprops;
	/* "key=path": the value is the file's content (a mounted Secret) */
	const char *prop_files[NH_KAFKA_PROPS_MAX];
	size_t nprop_files;
	const char *spool_dir;
	uint64_t spool_bytes;
	int spool_sync;			 /* enum nh_spool_sync */
	bool activity;			 /* also stream every activity event */
	const char *version;		 /* the agent's, for heartbeats */
	const struct nh_wire_site *site; /* on the agent's own records; may be NULL */
};

struct nh_kafka {
	void *rk; /* rd_kafka_t *, kept opaque so only kafka.c includes librdkafka */
	const struct nh_kafka_config *cfg;
	const struct nh_log *log;
	struct nh_spool spool;
	struct nh_spool_record *rec; /* scratch for one spooled record */
	char node[256];
	char boot_id[96];
	uint64_t seq;
	uint64_t produced, delivered, failed, queue_full, pack_errors;
	uint64_t dropped[NH_SPOOL_CLASSES];	    /* refused by Kafka for good */
	uint64_t refused_timeout[NH_SPOOL_CLASSES]; /* of which after message.timeout.ms */
	/* since when records of a class are refused with a mendable error
	 * (authorisation, unknown topic); 0: not now */
	uint64_t refused_since_ns[NH_SPOOL_CLASSES];
	uint64_t message_timeout_ns;
	uint64_t loss_reported[NH_KAFKA_LOSS_CAUSES][NH_SPOOL_CLASSES];
	uint64_t rewind_at_ns; /* after a failed delivery: resend from here */
	uint64_t last_heartbeat_ns, last_loss_ns;
	/* For the heartbeat, set by the owner (issue 15: coverage, tampering). */
	uint32_t probes_missing;
	uint64_t monitoring_tampered;
	uint64_t loss_since_wall_ns; /* start of the window the next loss report covers */
	bool broker_up;
	/* The producer failed for good (librdkafka's fatal error): replaced
	 * from the loop; renewed counts replacements. */
	bool fatal;
	uint64_t renewed;
	uint64_t drain_since_ns; /* since when a due rewind waits for the producer */
	char last_error[256];
	/* µs from a record's kernel event to its delivery report (acks=all),
	 * as seen in the agent's loop; records without an event (heartbeats,
	 * loss reports) and records of an earlier run are not in it. */
	struct nh_histogram delivery_latency_us;
};

/* -errno with a one-line reason logged (a bad property names itself). */
int nh_kafka_open(struct nh_kafka *k, const struct nh_kafka_config *cfg, const struct nh_log *log);
/* Flush what the broker will take within timeout_ms; the rest stays
 * spooled for the next start. */
void nh_kafka_close(struct nh_kafka *k, int timeout_ms);

/* The next record id. */
void nh_kafka_next_id(struct nh_kafka *k, struct nh_wire_id *id);

/* Pack and spool a record for its topic (by kind). 0, or -ENOSPC when the
 * spool shed it (counted), or another -errno. */
int nh_kafka_send(struct nh_kafka *k, const struct nh_wire_record *r);
/* The same for a record about a kernel event at event_ns (CLOCK_MONOTONIC,
 * 0 for none): its delivery is timed into delivery_latency_us. */
int nh_kafka_send_event(struct nh_kafka *k, const struct nh_wire_record *r, uint64_t event_ns);

/* Serve delivery reports and move spooled records to the producer;
 * called from the agent's loop. now_ns: CLOCK_MONOTONIC. */
void nh_kafka_poll(struct nh_kafka *k, uint64_t now_ns);

/* Messages in the producer: sent or waiting to be, and delivery reports
 * not yet served. */
uint64_t nh_kafka_queued(const struct nh_kafka *k);

/* Heartbeat and loss reports, every so often; counters for the heartbeat. */
void nh_kafka_tick(struct nh_kafka *k, uint64_t now_ns, uint64_t wall_ns, uint32_t probes,
		   const struct nh_wire_counter *counters, size_t ncounters);

#endif
