// SPDX-License-Identifier: Apache-2.0
#include "consumer.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "clock.h"
#include "kafkaconf.h"

#define NH_CONSUMER_CLOSE_MS 10000

/* A dead letter's delivery: the producer gets this long, and the wait
 * outlasts it, so a delivery report always arrives before we go on. */
#define DLQ_TIMEOUT_MS "10000"
#define DLQ_WAIT_MS    30000
#define ERROR_LOG_MS   5000

/* Properties the collector's guarantees depend on. */
static const char *const managed[] = {"enable.auto.commit", "enable.auto.offset.store", "group.id",
				      "bootstrap.servers", "enable.idempotence"};

/* -X KEY=VALUE properties, after ours so they can tune anything else. */
static int passthrough(rd_kafka_conf_t *conf, const struct nh_copts *o, const struct nh_log *lg)
{
	for (size_t i = 0; i < o->nkafka; i++) {
		const char *eq = strchr(o->kafka[i], '=');
		char key[256];
		size_t n = eq - o->kafka[i];

		if (n >= sizeof(key)) {
			nh_err(lg, "kafka: -X property name too long");
			return -EINVAL;
		}
		memcpy(key, o->kafka[i], n);
		key[n] = '\0';
		for (size_t j = 0; j < sizeof(managed) / sizeof(managed[0]); j++)
			if (strcmp(key, managed[j]) == 0) {
				nh_err(lg, "kafka: -X %s: set by the collector (or its own flag)",
				       key);
				return -EINVAL;
			}
		if (nh_kafkaconf_set(conf, key, eq + 1, lg))
			return -EINVAL;
	}
	for (size_t i = 0; i < o->nkafka_files; i++) {
		const char *eq = strchr(o->kafka_files[i], '=');
		size_t n = eq ? (size_t)(eq - o->kafka_files[i]) : 0;
		int rc;

		for (size_t j = 0; j < sizeof(managed) / sizeof(managed[0]); j++)
			if (strlen(managed[j]) == n && !strncmp(o->kafka_files[i], managed[j], n)) {
				nh_err(lg, "kafka.propertyFiles: %s: set by the collector",
				       managed[j]);
				return -EINVAL;
			}
		rc = nh_kafkaconf_set_from_file(conf, o->kafka_files[i], lg);
		if (rc)
			return rc;
	}
	return 0;
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	struct nh_consumer *k = rd_kafka_opaque(rk);
	enum nh_log_level lvl = nh_kafkaconf_level(level);

	/* -X applies to the dead-letter producer too, which ignores the
	 * consumer's properties: nothing to warn about */
	if (strcmp(fac, "CONFWARN") == 0 && strstr(buf, "is a consumer property"))
		lvl = NH_LOG_DEBUG;
	nh_log(k->lg, lvl, "kafka %s: %s", fac, buf);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct nh_consumer *k = opaque;
	uint64_t now = nh_clock_mono_ms();

	(void)rk;
	/* brokers down repeat this every reconnect: one line per few seconds */
	if (now - k->last_error_ms < ERROR_LOG_MS && err != RD_KAFKA_RESP_ERR__FATAL)
		return;
	k->last_error_ms = now;
	nh_warn(k->lg, "kafka: %s: %s", rd_kafka_err2name(err), reason);
}

static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
		      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
	struct nh_consumer *k = opaque;

	(void)rk;
	(void)offsets;
	if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
		nh_warn(k->lg,
			"kafka: commit failed (the records will be delivered again "
			"and deduplicated): %s",
			rd_kafka_err2str(err));
}

static void log_parts(struct nh_consumer *k, const char *what,
		      const rd_kafka_topic_partition_list_t *parts)
{
	char buf[512];
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < parts->cnt && n < sizeof(buf) - 64; i++)
		n += snprintf(buf + n, sizeof(buf) - n, "%s%s[%" PRId32 "]", i ? " " : "",
			      parts->elems[i].topic, parts->elems[i].partition);
	nh_info(k->lg, "kafka: %s %d partition(s): %s", what, parts->cnt, buf);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct nh_consumer *k = opaque;
	bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
	rd_kafka_error_t *e = NULL;

	switch (err) {
	case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
		log_parts(k, "assigned", parts);
		if (coop)
			e = rd_kafka_incremental_assign(rk, parts);
		else
			rd_kafka_assign(rk, parts);
		/* a collector waiting for a sink takes on no new work */
		if (k->paused)
			rd_kafka_pause_partitions(rk, parts);
		break;
	case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
		log_parts(k, "revoked", parts);
		/* what was done with them is committed before another consumer starts */
		if (!rd_kafka_assignment_lost(rk) && k->on_revoke)
			k->on_revoke(k->ctx);
		if (coop)
			e = rd_kafka_incremental_unassign(rk, parts);
		else
			rd_kafka_assign(rk, NULL);
		break;
	default:
		nh_err(k->lg, "kafka: rebalance failed: %s", rd_kafka_err2str(err));
		rd_kafka_assign(rk, NULL);
		break;
	}
	if (e) {
		nh_err(k->lg, "kafka: rebalance: %s", rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
	}
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	int *result = m->_private;

	(void)rk;
	(void)opaque;
	/* 0 delivered, > 0 the librdkafka error + 1: never 0 for a failure */
	if (result)
		*result = m->err ? (int)(m->err < 0 ? -m->err : m->err) + 1 : 0;
}

static int open_consumer(struct nh_consumer *k)
{
	const struct nh_copts *o = k->o;
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *topics;
	rd_kafka_resp_err_t err;
	char errstr[512];
	rd_kafka_t *rk;

	if (nh_kafkaconf_set(conf, "bootstrap.servers", o->brokers, k->lg) ||
	    nh_kafkaconf_set(conf, "group.id", o->group, k->lg) ||
	    nh_kafkaconf_set(conf, "client.id", "nhiscope-collector", k->lg) ||
	    nh_kafkaconf_set(conf, "enable.auto.commit", "false", k->lg) ||
	    nh_kafkaconf_set(conf, "enable.auto.offset.store", "false", k->lg) ||
	    /* a new group starts from the oldest record, not the newest: no loss */
	    nh_kafkaconf_set(conf, "auto.offset.reset", "earliest", k->lg) ||
	    nh_kafkaconf_set(conf, "enable.partition.eof", "false", k->lg) ||
	    /* A consumer that cannot reach the coordinator waits out its
	     * session before it can stop: keep that within a pod's grace
	     * period (the default is 45 s). -X overrides. */
	    nh_kafkaconf_set(conf, "session.timeout.ms", "10000", k->lg) ||
	    nh_kafkaconf_set(conf, "heartbeat.interval.ms", "3000", k->lg) ||
	    passthrough(conf, o, k->lg)) {
		rd_kafka_conf_destroy(conf);
		return -EINVAL;
	}
	rd_kafka_conf_set_opaque(conf, k);
	rd_kafka_conf_set_log_cb(conf, on_log);
	rd_kafka_conf_set_error_cb(conf, on_error);
	rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
	rd_kafka_conf_set_offset_commit_cb(conf, on_commit);
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (!rk) {
		nh_err(k->lg, "kafka: consumer: %s", errstr);
		rd_kafka_conf_destroy(conf);
		return -EINVAL;
	}
	k->consumer = rk;
	rd_kafka_poll_set_consumer(rk);
	k->queue = rd_kafka_queue_get_consumer(rk);
	topics = rd_kafka_topic_partition_list_new((int)o->ntopics);
	for (size_t i = 0; i < o->ntopics; i++)
		rd_kafka_topic_partition_list_add(topics, o->topics[i], RD_KAFKA_PARTITION_UA);
	err = rd_kafka_subscribe(rk, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (err) {
		nh_err(k->lg, "kafka: subscribe: %s", rd_kafka_err2str(err));
		return -EINVAL;
	}
	return 0;
}

static int open_producer(struct nh_consumer *k)
{
	const struct nh_copts *o = k->o;
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char errstr[512];
	rd_kafka_t *rk;

	if (nh_kafkaconf_set(conf, "bootstrap.servers", o->brokers, k->lg) ||
	    nh_kafkaconf_set(conf, "client.id", "nhiscope-collector-deadletter", k->lg) ||
	    nh_kafkaconf_set(conf, "enable.idempotence", "true", k->lg) ||
	    nh_kafkaconf_set(conf, "acks", "all", k->lg) ||
	    nh_kafkaconf_set(conf, "message.timeout.ms", DLQ_TIMEOUT_MS, k->lg) ||
	    nh_kafkaconf_set(conf, "linger.ms", "0", k->lg) || passthrough(conf, o, k->lg)) {
		rd_kafka_conf_destroy(conf);
		return -EINVAL;
	}
	rd_kafka_conf_set_opaque(conf, k);
	rd_kafka_conf_set_log_cb(conf, on_log);
	rd_kafka_conf_set_error_cb(conf, on_error);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		nh_err(k->lg, "kafka: dead-letter producer: %s", errstr);
		rd_kafka_conf_destroy(conf);
		return -EINVAL;
	}
	k->producer = rk;
	return 0;
}

int nh_consumer_open(struct nh_consumer *k, const struct nh_copts *o, const struct nh_log *lg,
		     nh_revoke_fn on_revoke, void *ctx)
{
	int rc;

	memset(k, 0, sizeof(*k));
	k->o = o;
	k->lg = lg;
	k->on_revoke = on_revoke;
	k->ctx = ctx;
	rc = open_producer(k);
	if (!rc)
		rc = open_consumer(k);
	if (rc)
		nh_consumer_close(k);
	return rc;
}

/* Leave the group, but not forever: rd_kafka_consumer_close waits for
 * the group coordinator, which a broker outage can make unbounded, and a
 * stopping collector must stop. Rebalance events of the close are served
 * as the callback would (commit on revoke). */
static void close_consumer(struct nh_consumer *k)
{
	rd_kafka_queue_t *q = rd_kafka_queue_new(k->consumer);
	rd_kafka_error_t *e = q ? rd_kafka_consumer_close_queue(k->consumer, q) : NULL;
	uint64_t end;

	end = nh_clock_mono_ms() + NH_CONSUMER_CLOSE_MS;
	if (e) {
		nh_warn(k->lg, "kafka: leaving the group: %s", rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
	}
	while (q && !e && !rd_kafka_consumer_closed(k->consumer)) {
		rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 100);

		if (ev && rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
			on_rebalance(k->consumer, rd_kafka_event_error(ev),
				     rd_kafka_event_topic_partition_list(ev), k);
		if (ev)
			rd_kafka_event_destroy(ev);
		if (nh_clock_mono_ms() >= end) {
			nh_warn(k->lg,
				"kafka: the group could not be left within %d ms (broker "
				"unreachable?): stopping anyway, uncommitted records are "
				"delivered again",
				NH_CONSUMER_CLOSE_MS);
			break;
		}
	}
	if (q)
		rd_kafka_queue_destroy(q);
}

void nh_consumer_close(struct nh_consumer *k)
{
	if (k->queue)
		rd_kafka_queue_destroy(k->queue);
	k->queue = NULL;
	if (k->consumer) {
		close_consumer(k);
		rd_kafka_destroy_flags(k->consumer, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	}
	if (k->producer) {
		rd_kafka_flush(k->producer, 2000);
		rd_kafka_destroy(k->producer);
	}
	k->consumer = k->producer = NULL;
}

/* A message as the collector sees it; false (and released) for an error. */
static bool take(struct nh_consumer *k, rd_kafka_message_t *rkm, struct nh_kmsg *m)
{
	if (rkm->err) {
		if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
			on_error(k->consumer, rkm->err, rd_kafka_message_errstr(rkm), k);
		rd_kafka_message_destroy(rkm);
		return false;
	}
	m->payload = rkm->payload;
	m->len = rkm->len;
	m->topic = rd_kafka_topic_name(rkm->rkt);
	m->partition = rkm->partition;
	m->offset = rkm->offset;
	m->rkm = rkm;
	return true;
}

size_t nh_consumer_poll_batch(struct nh_consumer *k, int timeout_ms, struct nh_kmsg *m, size_t max)
{
	rd_kafka_message_t *rkms[NH_CONSUMER_BATCH_MAX];
	ssize_t got;
	size_t n = 0;

	if (max > NH_CONSUMER_BATCH_MAX)
		max = NH_CONSUMER_BATCH_MAX;
	if (!max)
		return 0;
	/* What is queued, at once: the batch call with a timeout would wait
	 * for a full batch, delaying a trickle of records. */
	got = rd_kafka_consume_batch_queue(k->queue, 0, rkms, max);
	if (got <= 0) {
		rd_kafka_message_t *first = rd_kafka_consumer_poll(k->consumer, timeout_ms);

		if (!first)
			return 0;
		rkms[0] = first;
		got = rd_kafka_consume_batch_queue(k->queue, 0, rkms + 1, max - 1);
		got = got < 0 ? 1 : got + 1;
	}
	for (ssize_t i = 0; i < got; i++)
		if (take(k, rkms[i], &m[n]))
			n++;
	return n;
}

void nh_consumer_release(struct nh_kmsg *m)
{
	if (m->rkm)
		rd_kafka_message_destroy(m->rkm);
	m->rkm = NULL;
}

void nh_consumer_store(struct nh_consumer *k, const struct nh_kmsg *m, const bool *done, size_t n)
{
	rd_kafka_topic_partition_list_t *l = NULL;
	rd_kafka_topic_partition_t *p = NULL;
	rd_kafka_resp_err_t err;

	for (size_t i = 0; i < n; i++) {
		if (!l)
			l = rd_kafka_topic_partition_list_new(8);
		/* messages come in runs of one partition: the last one first */
		if (!p || p->partition != m[i].partition || strcmp(p->topic, m[i].topic))
			p = rd_kafka_topic_partition_list_find(l, m[i].topic, m[i].partition);
		if (!p) {
			p = rd_kafka_topic_partition_list_add(l, m[i].topic, m[i].partition);
			p->offset = RD_KAFKA_OFFSET_INVALID;
			p->opaque = NULL; /* not held back */
		}
		if (p->opaque)
			continue;
		if (!done[i])
			p->opaque = p; /* a gap: nothing after it in this partition */
		else
			p->offset = m[i].offset + 1;
	}
	if (!l)
		return;
	/* partitions whose first message was not done store nothing */
	for (int i = l->cnt - 1; i >= 0; i--)
		if (l->elems[i].offset == RD_KAFKA_OFFSET_INVALID)
			rd_kafka_topic_partition_list_del_by_idx(l, i);
	if (l->cnt) {
		err = rd_kafka_offsets_store(k->consumer, l);
		/* a partition taken away meanwhile: its new owner reads the
		 * records again */
		if (err)
			nh_debug(k->lg, "kafka: store offsets of %d partition(s): %s", l->cnt,
				 rd_kafka_err2str(err));
	}
	rd_kafka_topic_partition_list_destroy(l);
}

bool nh_consumer_owns(struct nh_consumer *k, const struct nh_kmsg *m)
{
	rd_kafka_topic_partition_list_t *l = NULL;
	bool owns = false;

	if (rd_kafka_assignment(k->consumer, &l))
		return false;
	owns = rd_kafka_topic_partition_list_find(l, m->topic, m->partition) != NULL;
	rd_kafka_topic_partition_list_destroy(l);
	return owns;
}

static void pause_resume(struct nh_consumer *k, bool pause)
{
	rd_kafka_topic_partition_list_t *l = NULL;

	k->paused = pause;
	if (rd_kafka_assignment(k->consumer, &l))
		return;
	if (pause)
		rd_kafka_pause_partitions(k->consumer, l);
	else
		rd_kafka_resume_partitions(k->consumer, l);
	rd_kafka_topic_partition_list_destroy(l);
}

void nh_consumer_pause(struct nh_consumer *k)
{
	if (!k->paused)
		pause_resume(k, true);
}

void nh_consumer_resume(struct nh_consumer *k)
{
	if (k->paused)
		pause_resume(k, false);
}

void nh_consumer_idle(struct nh_consumer *k, int ms)
{
	uint64_t end = nh_clock_mono_ms() + ms;

	for (;;) {
		uint64_t now = nh_clock_mono_ms();
		rd_kafka_message_t *rkm;

		if (now >= end)
			return;
		rkm = rd_kafka_consumer_poll(k->consumer, (int)(end - now));
		if (!rkm)
			continue;
		if (!rkm->err) {
			/* fetched before the pause took hold: read it again later */
			rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
			rd_kafka_error_t *e;

			rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(rkm->rkt),
							  rkm->partition)
			    ->offset = rkm->offset;
			e = rd_kafka_seek_partitions(k->consumer, l, 2000);
			if (e)
				rd_kafka_error_destroy(e);
			rd_kafka_topic_partition_list_destroy(l);
		}
		rd_kafka_message_destroy(rkm);
	}
}

/* Produce one dead letter with its headers (taken over) and wait for the
 * broker's acknowledgement. */
static int produce_dead_letter(struct nh_consumer *k, const void *payload, size_t len,
			       const void *key, size_t key_len, rd_kafka_headers_t *h)
{
	rd_kafka_resp_err_t err;
	int result = -1;

	err =
	    rd_kafka_producev(k->producer, RD_KAFKA_V_TOPIC(k->o->dead_letter_topic),
			      RD_KAFKA_V_VALUE((void *)payload, len), RD_KAFKA_V_KEY(key, key_len),
			      RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			      RD_KAFKA_V_OPAQUE(&result), RD_KAFKA_V_END);
	if (err) {
		rd_kafka_headers_destroy(h);
		nh_warn(k->lg, "kafka: dead letter: %s", rd_kafka_err2str(err));
		return -EIO;
	}
	rd_kafka_flush(k->producer, DLQ_WAIT_MS);
	if (result < 0) {
		/* the report must arrive before result goes out of scope */
		rd_kafka_purge(k->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		while (result < 0)
			rd_kafka_poll(k->producer, 100);
	}
	if (result) {
		nh_warn(k->lg, "kafka: dead letter to %s not delivered: %s",
			k->o->dead_letter_topic, rd_kafka_err2str(result - 1));
		return -EIO;
	}
	return 0;
}

static rd_kafka_headers_t *source_headers(const char *why, const char *topic, int32_t partition,
					  int64_t offset)
{
	rd_kafka_headers_t *h = rd_kafka_headers_new(6);
	char part[16], off[24];

	snprintf(part, sizeof(part), "%" PRId32, partition);
	snprintf(off, sizeof(off), "%" PRId64, offset);
	rd_kafka_header_add(h, "nhiscope.reason", -1, why, -1);
	rd_kafka_header_add(h, "nhiscope.source.topic", -1, topic, -1);
	rd_kafka_header_add(h, "nhiscope.source.partition", -1, part, -1);
	rd_kafka_header_add(h, "nhiscope.source.offset", -1, off, -1);
	return h;
}

int nh_consumer_dead_letter(struct nh_consumer *k, const struct nh_kmsg *m, const char *why)
{
	const rd_kafka_message_t *rkm = m->rkm;

	return produce_dead_letter(k, rkm->payload, rkm->len, rkm->key, rkm->key_len,
				   source_headers(why, m->topic, m->partition, m->offset));
}

int nh_consumer_dead_letter_rejected(struct nh_consumer *k, const struct nh_sink_reject *r)
{
	rd_kafka_headers_t *h = source_headers(r->reason, r->topic, r->partition, r->offset);

	rd_kafka_header_add(h, "nhiscope.sink", -1, r->sink, -1);
	rd_kafka_header_add(h, "nhiscope.record.id", -1, r->id, -1);
	/* keyed by record id: a record rejected twice (a redelivery) is
	 * recognisable as one */
	return produce_dead_letter(k, r->payload, r->len, r->id, strlen(r->id), h);
}

int nh_consumer_commit(struct nh_consumer *k, bool sync)
{
	rd_kafka_resp_err_t err = rd_kafka_commit(k->consumer, NULL, !sync);

	if (!err || err == RD_KAFKA_RESP_ERR__NO_OFFSET)
		return 0;
	nh_warn(k->lg, "kafka: commit: %s", rd_kafka_err2str(err));
	return -EIO;
}

int64_t nh_consumer_lag(struct nh_consumer *k)
{
	rd_kafka_topic_partition_list_t *l = NULL;
	int64_t lag = 0;

	if (rd_kafka_assignment(k->consumer, &l))
		return -1;
	if (!l->cnt || rd_kafka_position(k->consumer, l)) {
		rd_kafka_topic_partition_list_destroy(l);
		return -1;
	}
	for (int i = 0; i < l->cnt; i++) {
		int64_t lo = -1, hi = -1;

		if (rd_kafka_get_watermark_offsets(k->consumer, l->elems[i].topic,
						   l->elems[i].partition, &lo, &hi) ||
		    hi < 0) {
			lag = -1;
			break;
		}
		/* nothing consumed yet: everything from the low watermark is behind */
		lag += hi - (l->elems[i].offset >= 0 ? l->elems[i].offset : lo);
	}
	rd_kafka_topic_partition_list_destroy(l);
	return lag;
}
