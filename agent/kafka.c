// SPDX-License-Identifier: Apache-2.0
#include "kafka.h"
#include "clock.h"
#include "kafkaconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#define NH_KAFKA_PUMP	      4096	    /* records moved to the producer per poll */
#define NH_KAFKA_RETRY_NS     1000000000ULL /* wait before resending after a failure */
#define NH_KAFKA_HEARTBEAT_NS (30 * 1000000000ULL)
#define NH_KAFKA_LOSS_NS      (10 * 1000000000ULL)
/* beyond message.timeout.ms, for a request in flight */
#define NH_KAFKA_STUCK_NS (30 * 1000000000ULL)

/* What a produced message carries back in its delivery report. */
struct inflight {
	enum nh_spool_class cls;
	struct nh_spool_pos pos;
	uint64_t event_ns; /* 0: not timed */
};

/* A record Kafka will never take: out of the spool, counted for the
 * next loss report, logged. */
static void drop(struct nh_kafka *k, enum nh_spool_class cls, struct nh_spool_pos pos, int err,
		 bool timed_out)
{
	nh_spool_ack(&k->spool, cls, pos);
	k->dropped[cls]++;
	if (timed_out) {
		k->refused_timeout[cls]++;
		nh_warn(k->log,
			"kafka: a record was refused (%s) for longer than message.timeout.ms: "
			"dropped and reported as lost",
			rd_kafka_err2str(err));
	} else {
		nh_warn(k->log,
			"kafka: a record was refused for good (%s): dropped and reported as lost",
			rd_kafka_err2str(err));
	}
	snprintf(k->last_error, sizeof(k->last_error), "%s", rd_kafka_err2str(err));
}

/* Errors no retry will mend. */
static bool permanent(rd_kafka_resp_err_t e)
{
	switch (e) {
	case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_INVALID_MSG:
	case RD_KAFKA_RESP_ERR__INVALID_ARG:
		return true;
	default:
		return false;
	}
}

/* Errors an operator mends (an ACL, a topic being created or moved):
 * retried, but for message.timeout.ms at most, then the record is lost. */
static bool refused(rd_kafka_resp_err_t e)
{
	switch (e) {
	case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
	case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
	case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
		return true;
	default:
		return false;
	}
}

/* A record of cls was refused with a mendable error now: true when that
 * has lasted longer than message.timeout.ms (the record is to be
 * dropped), false when it is to be retried. */
static bool refused_too_long(struct nh_kafka *k, enum nh_spool_class cls, uint64_t now)
{
	if (!k->refused_since_ns[cls])
		k->refused_since_ns[cls] = now;
	return now - k->refused_since_ns[cls] >= k->message_timeout_ns;
}

static void retry_later(struct nh_kafka *k, rd_kafka_resp_err_t err)
{
	if (k->broker_up || !k->last_error[0] || strcmp(k->last_error, rd_kafka_err2str(err)) != 0)
		nh_warn(k->log,
			"kafka: delivery failed (%s); records stay spooled and are sent again",
			rd_kafka_err2str(err));
	snprintf(k->last_error, sizeof(k->last_error), "%s", rd_kafka_err2str(err));
	k->broker_up = false;
	if (!k->rewind_at_ns)
		k->rewind_at_ns = nh_clock_mono_ns() + NH_KAFKA_RETRY_NS;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	struct nh_kafka *k = opaque;
	struct inflight *in = msg->_private;

	(void)rk;
	if (!in)
		return;
	if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		uint64_t now = nh_clock_mono_ns();

		/* Only the first acknowledgement: one after a rewind or a shed
		 * is no longer in flight. */
		if (nh_spool_ack(&k->spool, in->cls, in->pos) == 0) {
			if (in->event_ns && now >= in->event_ns)
				nh_histogram_add(&k->delivery_latency_us,
						 (now - in->event_ns) / 1000);
			k->delivered++;
		}
		k->refused_since_ns[in->cls] = 0;
		k->broker_up = true;
	} else if (permanent(msg->err)) {
		k->failed++;
		drop(k, in->cls, in->pos, msg->err, false);
	} else if (refused(msg->err) && refused_too_long(k, in->cls, nh_clock_mono_ns())) {
		k->failed++;
		drop(k, in->cls, in->pos, msg->err, true);
	} else {
		k->failed++;
		retry_later(k, msg->err);
	}
	free(in);
}

static void node_identity(struct nh_kafka *k)
{
	const char *node = getenv("NODE_NAME");
	char boot[64] = "unknown";
	FILE *f;

	if (node && node[0])
		snprintf(k->node, sizeof(k->node), "%s", node);
	else if (gethostname(k->node, sizeof(k->node) - 1) != 0)
		snprintf(k->node, sizeof(k->node), "unknown");
	f = fopen("/proc/sys/kernel/random/boot_id", "re");
	if (f) {
		if (fscanf(f, "%63s", boot) != 1)
			snprintf(boot, sizeof(boot), "unknown");
		fclose(f);
	}
	/* Sequence numbers restart with the agent: the start time (ns) and
	 * pid keep the ids of two runs in one boot apart. */
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(k->boot_id, sizeof(k->boot_id), "%s-%llx%08lx-%x", boot,
			 (unsigned long long)ts.tv_sec, ts.tv_nsec, (unsigned)getpid());
	}
}

/* librdkafka's own messages through the agent's log, so that they are
 * lines of its format (JSON too) at its levels. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	const struct nh_kafka *k = rd_kafka_opaque(rk);
	enum nh_log_level lvl = nh_kafkaconf_level(level);

	nh_log(k->log, lvl, "kafka %s: %s", fac, buf);
}

/* An error librdkafka raises outside a delivery report. A fatal one (the
 * idempotent producer lost track of its sequence) leaves the handle
 * refusing every record: it is renewed from the agent's loop. */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct nh_kafka *k = opaque;
	char why[256];

	if (err != RD_KAFKA_RESP_ERR__FATAL)
		return; /* transient: librdkafka retries, delivery reports tell the rest */
	if (rd_kafka_fatal_error(rk, why, sizeof(why)) == RD_KAFKA_RESP_ERR_NO_ERROR)
		snprintf(why, sizeof(why), "%s", reason);
	if (!k->fatal)
		nh_err(k->log, "kafka: the producer failed for good (%s): a new one takes over",
		       why);
	k->fatal = true;
}

/* A producer with the agent's settings, then the operator's (-X,
 * --kafka-property-file). */
static int producer_new(struct nh_kafka *k)
{
	const struct nh_kafka_config *cfg = k->cfg;
	const struct nh_log *log = k->log;
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char errstr[512];
	int err = 0;

	if (!conf)
		return -ENOMEM;
	if (nh_kafkaconf_set(conf, "bootstrap.servers", cfg->brokers, log) ||
	    nh_kafkaconf_set(conf, "enable.idempotence", "true", log) ||
	    nh_kafkaconf_set(conf, "acks", "all", log) ||
	    nh_kafkaconf_set(conf, "compression.type", "lz4", log) ||
	    nh_kafkaconf_set(conf, "linger.ms", "20", log) ||
	    /* A message the broker does not take within this time is handed
	     * back; it is still spooled and is sent again. */
	    nh_kafkaconf_set(conf, "message.timeout.ms", "30000", log) ||
	    /* A topic refused (ACL, topic gone) stays refused in the
	     * producer until its metadata is refreshed (librdkafka's
	     * default: 5 min): as often as refusals are retried for. */
	    nh_kafkaconf_set(conf, "topic.metadata.refresh.interval.ms", "30000", log) ||
	    nh_kafkaconf_set(conf, "client.id", "nhiscope-agent", log)) {
		err = -EINVAL;
		goto cleanup;
	}
	for (size_t i = 0; i < cfg->nprops; i++) {
		char key[256];
		const char *eq = strchr(cfg->props[i], '=');

		if (!eq || eq == cfg->props[i] || (size_t)(eq - cfg->props[i]) >= sizeof(key)) {
			nh_err(log, "kafka: -X: expected key=value");
			err = -EINVAL;
			goto cleanup;
		}
		memcpy(key, cfg->props[i], eq - cfg->props[i]);
		key[eq - cfg->props[i]] = '\0';
		if (nh_kafkaconf_set(conf, key, eq + 1, log)) {
			err = -EINVAL;
			goto cleanup;
		}
	}
	for (size_t i = 0; i < cfg->nprop_files; i++) {
		err = nh_kafkaconf_set_from_file(conf, cfg->prop_files[i], log);
		if (err)
			goto cleanup;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_error_cb(conf, on_error);
	/* Logged from the agent's loop (rd_kafka_poll), not librdkafka's
	 * threads, which must not read the log settings SIGHUP changes. */
	if (nh_kafkaconf_set(conf, "log.queue", "true", log)) {
		err = -EINVAL;
		goto cleanup;
	}
	rd_kafka_conf_set_log_cb(conf, on_log);
	rd_kafka_conf_set_opaque(conf, k);
	k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!k->rk) {
		nh_err(log, "kafka: cannot create the producer: %s", errstr);
		err = -EINVAL;
		goto cleanup;
	}
	conf = NULL; /* owned by the producer now */
	rd_kafka_set_log_queue(k->rk, NULL);
	{
		char v[32];
		size_t vlen = sizeof(v);

		/* -X may have changed it: refusals are retried for as long */
		k->message_timeout_ns = 0;
		if (rd_kafka_conf_get(rd_kafka_conf(k->rk), "message.timeout.ms", v, &vlen) ==
		    RD_KAFKA_CONF_OK)
			k->message_timeout_ns = strtoull(v, NULL, 10) * 1000000ULL;
		if (!k->message_timeout_ns)
			k->message_timeout_ns = 30000 * 1000000ULL;
	}
cleanup:
	if (conf)
		rd_kafka_conf_destroy(conf);
	return err;
}

int nh_kafka_open(struct nh_kafka *k, const struct nh_kafka_config *cfg, const struct nh_log *log)
{
	int err = 0;

	memset(k, 0, sizeof(*k));
	k->cfg = cfg;
	k->log = log;
	node_identity(k);
	k->rec = malloc(sizeof(*k->rec));
	if (!k->rec) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = producer_new(k);
	if (err)
		goto cleanup;
	err = nh_spool_open(&k->spool, cfg->spool_dir, cfg->spool_bytes, cfg->spool_sync);
	if (err) {
		nh_err(log, "kafka: spool %s: %s", cfg->spool_dir, strerror(-err));
		goto cleanup;
	}
	nh_info(log, "kafka: producing to %s as %s; spool %s holds %llu records", cfg->brokers,
		k->node, cfg->spool_dir, (unsigned long long)nh_spool_pending(&k->spool));
cleanup:
	if (err) {
		if (k->rk)
			rd_kafka_destroy(k->rk);
		k->rk = NULL;
		free(k->rec);
		k->rec = NULL;
	}
	return err;
}

/* A producer that cannot go on (a fatal error, or records it holds past
 * every timeout) is replaced. The spool still has every record not
 * acknowledged: after the rewind the new producer sends them again, so
 * nothing is lost; a record the old one did deliver may arrive twice
 * (its id tells). */
static void producer_renew(struct nh_kafka *k, uint64_t now_ns, const char *why)
{
	rd_kafka_t *old = k->rk;

	if (producer_new(k) != 0) {
		k->rk = old; /* tried again at the next retry */
		k->rewind_at_ns = now_ns + NH_KAFKA_RETRY_NS;
		return;
	}
	k->renewed++;
	k->fatal = false;
	k->drain_since_ns = 0;
	nh_warn(k->log,
		"kafka: producer replaced (%s); %llu records stay spooled and are sent again", why,
		(unsigned long long)nh_spool_pending(&k->spool));
	/* The old one's queued and in-flight records come back as purged
	 * (their reports free what they carry) before it goes. */
	rd_kafka_purge(old, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_poll(old, 0);
	rd_kafka_destroy(old);
	k->rewind_at_ns = now_ns; /* resend once the reports above are in */
}

void nh_kafka_close(struct nh_kafka *k, int timeout_ms)
{
	if (!k->rk)
		return;
	nh_kafka_poll(k, nh_clock_mono_ns());
	rd_kafka_flush(k->rk, timeout_ms);
	rd_kafka_poll(k->rk, 0);
	nh_spool_flush(&k->spool);
	if (nh_spool_pending(&k->spool))
		nh_info(k->log, "kafka: %llu records stay spooled for the next start",
			(unsigned long long)nh_spool_pending(&k->spool));
	/* Messages still queued are dropped by destroy without a report:
	 * they are in the spool and go out after the restart. */
	rd_kafka_destroy(k->rk);
	k->rk = NULL;
	nh_spool_close(&k->spool);
	free(k->rec);
	k->rec = NULL;
}

void nh_kafka_next_id(struct nh_kafka *k, struct nh_wire_id *id)
{
	id->node = k->node;
	id->boot_id = k->boot_id;
	id->seq = ++k->seq;
}

int nh_kafka_send(struct nh_kafka *k, const struct nh_wire_record *r)
{
	return nh_kafka_send_event(k, r, 0);
}

int nh_kafka_send_event(struct nh_kafka *k, const struct nh_wire_record *r, uint64_t event_ns)
{
	static const size_t cap = NH_WIRE_MAX;
	enum nh_spool_class cls =
	    r->kind == NH_WIRE_ACTIVITY ? NH_SPOOL_ACTIVITY : NH_SPOOL_ANOMALY;
	const char *topic = r->kind == NH_WIRE_ACTIVITY	   ? k->cfg->topic_activity
			    : r->kind == NH_WIRE_HEARTBEAT ? k->cfg->topic_heartbeats
							   : k->cfg->topic_anomalies;
	uint8_t *buf = malloc(cap);
	size_t len = 0;
	int err;

	if (!buf)
		return -ENOMEM;
	err = nh_wire_pack(r, buf, cap, &len);
	if (err) {
		k->pack_errors++;
		goto cleanup;
	}
	err = nh_spool_append_timed(&k->spool, cls, topic, buf, len, event_ns);
cleanup:
	free(buf);
	return err;
}

void nh_kafka_poll(struct nh_kafka *k, uint64_t now_ns)
{
	rd_kafka_t *rk = k->rk;
	char why[256];

	if (!rk)
		return;
	rd_kafka_poll(rk, 0);
	if (k->fatal || rd_kafka_fatal_error(rk, why, sizeof(why)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		producer_renew(k, now_ns, "a fatal error");
		return;
	}
	if (k->rewind_at_ns) {
		/* Resend once what failed has come back from the producer. */
		if (now_ns < k->rewind_at_ns)
			return;
		if (rd_kafka_outq_len(rk) > 0) {
			/* Every record comes back within message.timeout.ms
			 * (plus a request in flight): one that does not never
			 * will, and would hold every record behind it. */
			if (!k->drain_since_ns)
				k->drain_since_ns = now_ns;
			else if (now_ns - k->drain_since_ns >
				 k->message_timeout_ns + NH_KAFKA_STUCK_NS)
				producer_renew(k, now_ns, "records held past message.timeout.ms");
			return;
		}
		k->drain_since_ns = 0;
		nh_spool_rewind(&k->spool);
		k->rewind_at_ns = 0;
	}
	for (int i = 0; i < NH_KAFKA_PUMP; i++) {
		struct inflight *in;
		rd_kafka_resp_err_t e;

		if (nh_spool_next(&k->spool, k->rec) != 0)
			break;
		in = malloc(sizeof(*in));
		if (!in) {
			nh_spool_unsend(&k->spool, k->rec->cls);
			break;
		}
		in->cls = k->rec->cls;
		in->pos = k->rec->pos;
		in->event_ns = k->rec->event_ns;
		e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(k->rec->topic),
				      RD_KAFKA_V_VALUE(k->rec->data, k->rec->len),
				      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				      RD_KAFKA_V_OPAQUE(in), RD_KAFKA_V_END);
		if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			free(in);
			nh_spool_unsend(&k->spool, k->rec->cls);
			k->queue_full++;
			break;
		}
		if (e == RD_KAFKA_RESP_ERR__FATAL) {
			/* not the record's fault: kept for the next producer */
			free(in);
			nh_spool_unsend(&k->spool, k->rec->cls);
			k->fatal = true;
			break;
		}
		if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
			free(in);
			/* A topic not there (yet): wait and send again, for
			 * message.timeout.ms at most, as a delivery failure. */
			if (refused(e) && !refused_too_long(k, k->rec->cls, now_ns)) {
				nh_spool_unsend(&k->spool, k->rec->cls);
				k->failed++;
				retry_later(k, e);
				break;
			}
			/* Refused for good (too large...): a record that can
			 * never go must not block the rest. */
			drop(k, k->rec->cls, k->rec->pos, e, refused(e));
			continue;
		}
		k->produced++;
	}
}

/* Records lost since the start, by cause and class. */
static void losses(const struct nh_kafka *k, uint64_t out[NH_KAFKA_LOSS_CAUSES][NH_SPOOL_CLASSES])
{
	for (int c = 0; c < NH_SPOOL_CLASSES; c++) {
		out[NH_KAFKA_LOSS_SPOOL_FULL][c] = k->spool.shed[c];
		out[NH_KAFKA_LOSS_DISK][c] = k->spool.lost[c];
		out[NH_KAFKA_LOSS_REFUSED][c] = k->dropped[c] - k->refused_timeout[c];
		out[NH_KAFKA_LOSS_TIMEOUT][c] = k->refused_timeout[c];
	}
}

static void send_loss(struct nh_kafka *k, uint64_t wall_ns)
{
	static const char *const cause[NH_KAFKA_LOSS_CAUSES] = {"spool_full", "disk_error",
								"kafka_refused", "kafka_timeout"};
	uint64_t now[NH_KAFKA_LOSS_CAUSES][NH_SPOOL_CLASSES], by_class[NH_SPOOL_CLASSES] = {0};
	struct nh_wire_record r = {0};

	losses(k, now);
	for (int i = 0; i < NH_KAFKA_LOSS_CAUSES; i++)
		for (int c = 0; c < NH_SPOOL_CLASSES; c++)
			by_class[c] += now[i][c] - k->loss_reported[i][c];
	if (!by_class[NH_SPOOL_ANOMALY] && !by_class[NH_SPOOL_ACTIVITY])
		return;
	nh_kafka_next_id(k, &r.id);
	if (k->cfg->site)
		r.site = *k->cfg->site;
	r.kind = NH_WIRE_LOSS;
	r.time_ns = wall_ns;
	r.loss.what = "records shed by a full spool, lost to disk errors or refused by Kafka";
	r.loss.source = "spool";
	r.loss.window_start_ns = k->loss_since_wall_ns ? k->loss_since_wall_ns : wall_ns;
	r.loss.window_end_ns = wall_ns;
	r.loss.counts[r.loss.n_counts++] =
	    (struct nh_wire_counter){"anomaly", by_class[NH_SPOOL_ANOMALY]};
	r.loss.counts[r.loss.n_counts++] =
	    (struct nh_wire_counter){"activity", by_class[NH_SPOOL_ACTIVITY]};
	/* and the same records by cause, for the operator */
	for (int i = 0; i < NH_KAFKA_LOSS_CAUSES; i++) {
		uint64_t n =
		    now[i][0] - k->loss_reported[i][0] + now[i][1] - k->loss_reported[i][1];

		if (n)
			r.loss.counts[r.loss.n_counts++] = (struct nh_wire_counter){cause[i], n};
	}
	/* Counted as reported once it is in the spool; if the spool refuses
	 * it too, the next report carries these counts as well. */
	if (nh_kafka_send(k, &r) == 0) {
		memcpy(k->loss_reported, now, sizeof(now));
		k->loss_since_wall_ns = wall_ns;
		nh_warn(k->log, "kafka: %llu anomaly and %llu activity records lost (reported)",
			(unsigned long long)by_class[NH_SPOOL_ANOMALY],
			(unsigned long long)by_class[NH_SPOOL_ACTIVITY]);
	}
}

void nh_kafka_tick(struct nh_kafka *k, uint64_t now_ns, uint64_t wall_ns, uint32_t probes,
		   const struct nh_wire_counter *counters, size_t ncounters)
{
	if (!k->rk)
		return;
	nh_spool_flush(&k->spool);
	if (now_ns - k->last_loss_ns >= NH_KAFKA_LOSS_NS) {
		send_loss(k, wall_ns);
		k->last_loss_ns = now_ns;
	}
	if (!k->last_heartbeat_ns || now_ns - k->last_heartbeat_ns >= NH_KAFKA_HEARTBEAT_NS) {
		struct nh_wire_record r = {0};

		nh_kafka_next_id(k, &r.id);
		if (k->cfg->site)
			r.site = *k->cfg->site;
		r.kind = NH_WIRE_HEARTBEAT;
		r.time_ns = wall_ns;
		r.heartbeat.agent_version = k->cfg->version;
		r.heartbeat.probes_attached = probes;
		r.heartbeat.probes_missing = k->probes_missing;
		r.heartbeat.monitoring_tampered = k->monitoring_tampered;
		for (size_t i = 0; i < ncounters && i < NH_WIRE_COUNTERS_MAX; i++)
			r.heartbeat.counters[r.heartbeat.n_counters++] = counters[i];
		nh_kafka_send(k, &r);
		k->last_heartbeat_ns = now_ns;
	}
	nh_kafka_poll(k, now_ns);
}

uint64_t nh_kafka_queued(const struct nh_kafka *k)
{
	int n = k->rk ? rd_kafka_outq_len(k->rk) : 0;

	return n > 0 ? (uint64_t)n : 0;
}
