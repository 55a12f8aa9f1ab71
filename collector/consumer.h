/* SPDX-License-Identifier: Apache-2.0 */
/*
 * consumer: the collector's side of Kafka (librdkafka). A consumer in a
 * group with automatic commits and automatic offset storing both off: an
 * offset is stored only when the caller says the record is done, and
 * stored offsets are committed only when the caller asks (after its sinks
 * flushed). Plus a small idempotent producer for the dead-letter topic.
 */
#ifndef NH_CONSUMER_H
#define NH_CONSUMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "options.h"
#include "sink.h"

struct nh_kmsg {
	const uint8_t *payload;
	size_t len;
	const char *topic;
	int32_t partition;
	int64_t offset;
	void *rkm; /* rd_kafka_message_t */
};

/* Called from inside a poll when partitions are about to be taken away:
 * the last chance to flush and commit what was done with them. */
typedef void (*nh_revoke_fn)(void *ctx);

#define NH_CONSUMER_BATCH_MAX 512 /* messages a poll returns at most */

struct nh_consumer {
	void *consumer; /* rd_kafka_t */
	void *queue;	/* rd_kafka_queue_t: the consumer's, for batches */
	void *producer; /* rd_kafka_t, the dead-letter topic */
	const struct nh_copts *o;
	const struct nh_log *lg;
	nh_revoke_fn on_revoke;
	void *ctx;
	bool paused;
	uint64_t last_error_ms; /* error callbacks are rate-limited in the log */
};

int nh_consumer_open(struct nh_consumer *k, const struct nh_copts *o, const struct nh_log *lg,
		     nh_revoke_fn on_revoke, void *ctx);
/* Stop consuming: no commit (the caller commits first if it wants to). */
void nh_consumer_close(struct nh_consumer *k);

/* Up to max messages into m[]: those already fetched, without waiting;
 * when there are none, waits up to timeout_ms for the first. Returns how
 * many (0 for none). Each is released with nh_consumer_release. */
size_t nh_consumer_poll_batch(struct nh_consumer *k, int timeout_ms, struct nh_kmsg *m, size_t max);
/* Store offset + 1 of each partition's last done message for the next
 * commit: m[] is a batch in consumption order and done[i] says whether
 * m[i] is done; a partition's offset goes only as far as its messages
 * are done without a gap (the first one not done holds it back). One
 * store for the whole batch, not one per message. */
void nh_consumer_store(struct nh_consumer *k, const struct nh_kmsg *m, const bool *done, size_t n);
/* Release m (its offset not stored unless nh_consumer_store did). */
void nh_consumer_release(struct nh_kmsg *m);
/* Whether m's partition is still assigned to this consumer. */
bool nh_consumer_owns(struct nh_consumer *k, const struct nh_kmsg *m);

/* Hold back the assigned partitions while a record is retried, keep the
 * group membership alive meanwhile (nh_consumer_idle), and go on. */
void nh_consumer_pause(struct nh_consumer *k);
void nh_consumer_resume(struct nh_consumer *k);
void nh_consumer_idle(struct nh_consumer *k, int ms);

/* Send m, as it came, to the dead-letter topic with headers naming why
 * and where it came from; waits for the broker's acknowledgement.
 * 0 or -errno. */
int nh_consumer_dead_letter(struct nh_consumer *k, const struct nh_kmsg *m, const char *why);

/* A record a sink rejected for good (sink.h), as it came from Kafka, to
 * the dead-letter topic with headers naming the sink, its reason, the
 * record id and where it came from; waits for the acknowledgement.
 * 0 or -errno. */
int nh_consumer_dead_letter_rejected(struct nh_consumer *k, const struct nh_sink_reject *r);

/* Commit the stored offsets. 0 (also when nothing was stored) or -errno. */
int nh_consumer_commit(struct nh_consumer *k, bool sync);

/* Messages between the consumed position and the end of the assigned
 * partitions, from cached watermarks; -1 when unknown. */
int64_t nh_consumer_lag(struct nh_consumer *k);

#endif
