// SPDX-License-Identifier: Apache-2.0
#include "collector.h"
#include "clock.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "ecs.h"
#include "jsonw.h"
#include "version.h"
#include "wire.h"

#define POLL_MS	       100
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define COMMIT_RECORDS 1000 /* commit at least this often, whatever the interval */
#define LAG_EVERY_MS   2000

static bool stopping(struct nh_collector *c)
{
	struct signalfd_siginfo si;

	while (!c->stop && read(c->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			/* What a daemon is sent on log rotation: it must not
			 * die of it. The ECS file is appended to by path, so
			 * use logrotate's copytruncate. */
			nh_info(c->lg, "SIGHUP: nothing to reload; restart the collector to change "
				       "its configuration");
			continue;
		}
		nh_info(c->lg, "signal %u: stopping", si.ssi_signo);
		c->stop = true;
	}
	return c->stop;
}

/* Wait out one retry: partitions paused, group membership kept alive,
 * signals noticed within POLL_MS. false when the collector is stopping. */
static bool wait_retry(struct nh_collector *c, unsigned *attempt)
{
	unsigned shift = *attempt < 6 ? *attempt : 6;
	uint64_t delay = (uint64_t)BACKOFF_MIN_MS << shift, end;

	if (delay > BACKOFF_MAX_MS)
		delay = BACKOFF_MAX_MS;
	(*attempt)++;
	nh_consumer_pause(&c->k);
	for (end = nh_clock_mono_ms() + delay; !stopping(c) && nh_clock_mono_ms() < end;)
		nh_consumer_idle(&c->k, POLL_MS);
	return !c->stop;
}

/* One attempt at flushing every sink. A sink that cannot take what it
 * holds makes the collector not ready (it is still alive). */
static bool flush_all(struct nh_collector *c)
{
	bool ok = true;

	for (size_t i = 0; i < c->nsinks; i++)
		if (c->sinks[i].flush(c->sinks[i].self)) {
			atomic_fetch_add(&c->m.sink_failures, 1);
			ok = false;
		}
	atomic_store(&c->m.sinks_down, !ok);
	return ok;
}

/* A sink's reject hook (sink.h): the record to the dead-letter topic. */
static int on_reject(void *ctx, const struct nh_sink_reject *r)
{
	struct nh_collector *c = ctx;
	char why[512];
	int rc;

	snprintf(why, sizeof(why), "%s sink: %s", r->sink, r->reason);
	rc = nh_consumer_dead_letter_rejected(&c->k,
					      &(struct nh_sink_reject){.sink = r->sink,
								       .reason = why,
								       .id = r->id,
								       .topic = r->topic,
								       .partition = r->partition,
								       .offset = r->offset,
								       .payload = r->payload,
								       .len = r->len});
	if (rc == 0) {
		atomic_fetch_add(&c->m.sink_rejected, 1);
		nh_info(c->lg, "record %s from %s[%" PRId32 "]@%" PRId64 " sent to %s", r->id,
			r->topic, r->partition, r->offset, c->o->dead_letter_topic);
	}
	return rc;
}

/* Flush until every sink has what it accepted, then commit. */
static void commit(struct nh_collector *c, bool sync)
{
	unsigned attempt = 0;

	if (!c->uncommitted)
		return;
	while (!flush_all(c)) {
		if (attempt == 0)
			nh_warn(c->lg, "a sink cannot flush: offsets held back, retrying");
		if (!wait_retry(c, &attempt))
			return;
	}
	if (attempt)
		nh_info(c->lg, "sinks accept records again");
	nh_consumer_resume(&c->k);
	if (nh_consumer_commit(&c->k, sync) == 0)
		atomic_fetch_add(&c->m.commits, 1);
	c->uncommitted = 0;
	c->last_commit_ms = nh_clock_mono_ms();
}

/* Partitions are being taken away: what was done with them is committed
 * now (one flush attempt: a sink that cannot flush holds the commit back,
 * and the next owner reads those records again). */
static void on_revoke(void *ctx)
{
	struct nh_collector *c = ctx;

	if (c->uncommitted && flush_all(c) && nh_consumer_commit(&c->k, true) == 0) {
		atomic_fetch_add(&c->m.commits, 1);
		c->uncommitted = 0;
		c->last_commit_ms = nh_clock_mono_ms();
	}
}

/* msg is done: its offset is stored with its batch's (nh_consumer_store). */
static bool done(struct nh_collector *c)
{
	c->uncommitted++;
	return true;
}

/* true: done; false: not (stopping, or the partition went away). */
static bool dead_letter(struct nh_collector *c, const struct nh_kmsg *msg, const char *why)
{
	unsigned attempt = 0;

	nh_warn(c->lg, "undecodable record %s[%" PRId32 "]@%" PRId64 " (%zu bytes): %s", msg->topic,
		msg->partition, msg->offset, msg->len, why);
	while (nh_consumer_dead_letter(&c->k, msg, why)) {
		if (!wait_retry(c, &attempt) || !nh_consumer_owns(&c->k, msg))
			return false;
	}
	nh_consumer_resume(&c->k);
	atomic_fetch_add(&c->m.dead_lettered, 1);
	nh_info(c->lg, "record %s[%" PRId32 "]@%" PRId64 " sent to %s", msg->topic, msg->partition,
		msg->offset, c->o->dead_letter_topic);
	return done(c);
}

/* One message to every sink. true when it is done (delivered, a
 * duplicate skipped, or dead-lettered); false when not: it is read again
 * after a restart or by the partition's next owner. */
static bool deliver(struct nh_collector *c, const struct nh_kmsg *msg)
{
	struct nh_wire_record rec;
	const char *why = "unknown";
	struct nh_sink_item item;
	unsigned attempt = 0, accepted = 0, all = (1u << c->nsinks) - 1;
	char id[NH_WIRE_ID_STR_MAX];
	bool ok = false;
	int rc;

	while ((rc = nh_wire_unpack_in(msg->payload, msg->len, &rec, &why, c->arena)) == -ENOMEM) {
		if (!wait_retry(c, &attempt))
			return false;
	}
	if (rc)
		return dead_letter(c, msg, why);
	nh_wire_id_str(&rec.id, id, sizeof(id));
	item.id_hash = nh_dedup_hash(id);
	if (nh_dedup_seen_h(&c->dedup, id, item.id_hash)) {
		nh_debug(c->lg, "record %s delivered before: skipped", id);
		atomic_fetch_add(&c->m.deduplicated, 1);
		ok = done(c);
		goto cleanup;
	}
	/* out of memory is retried like a sink that does not accept: a
	 * record not done holds back its partition's offset */
	for (;;) {
		nh_jw_reset(&c->doc);
		if (nh_ecs_write(&rec, id, &c->doc) == 0 && nh_jw_reserve(&c->doc, 1))
			break;
		if (attempt == 0)
			nh_err(c->lg, "record %s: out of memory building its document, retrying",
			       id);
		if (!wait_retry(c, &attempt) || !nh_consumer_owns(&c->k, msg))
			goto cleanup;
	}
	attempt = 0;
	c->doc.buf[c->doc.len] = '\0'; /* a C string too, for the sinks that want one */
	item.rec = &rec;
	item.id = id;
	item.json = c->doc.buf;
	item.json_len = c->doc.len;
	item.topic = msg->topic;
	item.partition = msg->partition;
	item.offset = msg->offset;
	item.payload = msg->payload;
	item.payload_len = msg->len;

	for (;;) {
		for (size_t i = 0; i < c->nsinks; i++) {
			if (accepted & (1u << i))
				continue;
			rc = c->sinks[i].write(c->sinks[i].self, &item);
			if (!rc) {
				accepted |= 1u << i;
				continue;
			}
			atomic_fetch_add(&c->m.sink_failures, 1);
			atomic_store(&c->m.sinks_down, true);
			if (attempt == 0)
				nh_warn(c->lg,
					"%s sink did not accept record %s (%s): offset held back, "
					"retrying",
					c->sinks[i].name, id, strerror(-rc));
		}
		if (accepted == all)
			break;
		/* stopping, or the partition went to another consumer: the
		 * record is not done and will be read again */
		if (!wait_retry(c, &attempt) || !nh_consumer_owns(&c->k, msg))
			goto cleanup;
	}
	if (attempt) {
		nh_info(c->lg, "sinks accept records again");
		atomic_store(&c->m.sinks_down, false);
	}
	nh_consumer_resume(&c->k);
	if (c->o->crash_after_write && ++c->written >= c->o->crash_after_write) {
		/* tests: die between the sink write and the offset store,
		 * with what the sinks batched written out */
		flush_all(c);
		nh_warn(c->lg, "--test-crash-after-write: SIGKILL");
		kill(getpid(), SIGKILL);
	}
	if (nh_dedup_add_h(&c->dedup, id, item.id_hash))
		nh_warn(c->lg, "dedup: out of memory, record %s not remembered", id);
	atomic_fetch_add(&c->m.delivered, 1);
	ok = done(c);
cleanup:
	nh_wire_free(&rec);
	return ok;
}

/* Whether the sinks are due a flush and the stored offsets a commit:
 * looked at after every record, with the coarse clock (a few ns), so a
 * batch does not run past a sink that went away unnoticed (its writes
 * are buffered; the flush is what finds out). */
static bool commit_due(struct nh_collector *c)
{
	struct timespec ts;
	uint64_t now;

	if (c->uncommitted >= COMMIT_RECORDS)
		return true;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	/* a tick behind the fine clock at most: never "before" the last commit */
	now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	return now > c->last_commit_ms && now - c->last_commit_ms >= c->o->commit_interval_ms;
}

/* A batch, in order. After a message that is not done, the rest of its
 * partition is not delivered either (the next owner or the next run
 * reads them again from there); when stopping, nothing more is. Offsets
 * are stored once for the batch, or for the part of it done when a
 * commit falls due in the middle; then the messages are released. */
static void deliver_batch(struct nh_collector *c, struct nh_kmsg *batch, size_t n)
{
	bool *ok = c->batch_done;
	size_t held[8], nheld = 0, from = 0; /* not done (their partitions wait) */
	bool all_held = false;		     /* more of them than held[] keeps */

	for (size_t i = 0; i < n; i++) {
		ok[i] = false;
		if (c->stop || all_held)
			continue;
		for (size_t j = 0; j < nheld; j++)
			if (batch[held[j]].partition == batch[i].partition &&
			    strcmp(batch[held[j]].topic, batch[i].topic) == 0)
				goto next;
		atomic_fetch_add(&c->m.consumed, 1);
		ok[i] = deliver(c, &batch[i]);
		if (!ok[i] && nheld < sizeof(held) / sizeof(held[0]))
			held[nheld++] = i;
		else if (!ok[i])
			all_held = true; /* rare: the rest of the batch is read again */
		if (i + 1 < n && !c->stop && commit_due(c)) {
			nh_consumer_store(&c->k, batch + from, ok + from, i + 1 - from);
			from = i + 1;
			commit(c, false);
		}
	next:;
	}
	nh_consumer_store(&c->k, batch + from, ok + from, n - from);
	for (size_t i = 0; i < n; i++)
		nh_consumer_release(&batch[i]);
}

int nh_collector_run(struct nh_collector *c)
{
	nh_info(c->lg, "nhiscope-collector %s: consuming from %s as group %s", NH_COLLECTOR_VERSION,
		c->o->brokers, c->o->group);
	c->last_commit_ms = c->last_lag_ms = nh_clock_mono_ms();
	for (;;) {
		size_t got;
		uint64_t now;

		/* a signal is looked for (a read of the signalfd) once a batch */
		if (stopping(c))
			break;
		got = nh_consumer_poll_batch(&c->k, POLL_MS, c->batch, NH_CONSUMER_BATCH_MAX);
		c->idle = got == 0;
		deliver_batch(c, c->batch, got);
		now = nh_clock_mono_ms();
		/* idle: commit at once, so a restart re-reads as little as possible */
		if (got == 0 || c->uncommitted >= COMMIT_RECORDS ||
		    now - c->last_commit_ms >= c->o->commit_interval_ms)
			commit(c, false);
		if (now - c->last_lag_ms >= LAG_EVERY_MS) {
			atomic_store(&c->m.lag, nh_consumer_lag(&c->k));
			c->last_lag_ms = now;
		}
	}
	/* one last flush: a sink that cannot flush now keeps its records
	 * uncommitted, and they are delivered again after the restart */
	if (c->uncommitted) {
		if (flush_all(c) && nh_consumer_commit(&c->k, true) == 0)
			nh_info(c->lg, "stopped: sinks flushed, offsets committed");
		else
			nh_warn(c->lg,
				"stopped without committing the last %" PRIu64
				" records: they will be delivered again",
				c->uncommitted);
	} else {
		nh_info(c->lg, "stopped");
	}
	return 0;
}

static int open_sinks(struct nh_collector *c)
{
	const struct nh_copts *o = c->o;
	int rc = 0;

	if (o->ecs_file)
		rc = nh_sink_file_open(&c->sinks[c->nsinks++], o->ecs_file, o->dedup_window, c->lg);
	if (!rc && o->syslog)
		rc = nh_sink_syslog_open(&c->sinks[c->nsinks++], o->syslog, o->syslog_format,
					 NH_COLLECTOR_VERSION, c->lg);
	if (!rc && o->splunk_hec)
		rc = nh_sink_http_open(&c->sinks[c->nsinks++], NH_HTTP_SPLUNK_HEC, o->splunk_hec,
				       NULL, o->splunk_token_file, o->ca_file, on_reject, c, c->lg);
	if (!rc && o->elastic)
		rc = nh_sink_http_open(&c->sinks[c->nsinks++], NH_HTTP_ELASTIC_BULK, o->elastic,
				       o->elastic_index, o->elastic_api_key_file, o->ca_file,
				       on_reject, c, c->lg);
	if (rc)
		c->nsinks--; /* the one that failed left nothing to close */
	return rc;
}

int nh_collector_open(struct nh_collector *c, const struct nh_copts *o)
{
	sigset_t mask;
	int rc;

	memset(c, 0, sizeof(*c));
	c->o = o;
	c->lg = &o->log;
	atomic_store(&c->m.lag, -1);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	c->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (c->sigfd < 0) {
		rc = -errno;
		nh_err(c->lg, "signalfd: %s", strerror(errno));
		return rc;
	}
	rc = nh_dedup_init(&c->dedup, o->dedup_window);
	if (rc)
		goto fail;
	c->arena = nh_wire_arena_new();
	if (!c->arena) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = open_sinks(c);
	if (rc)
		goto fail;
	if (o->metrics) {
		rc = nh_telemetry_start(&c->m, o->metrics, c->lg);
		if (rc)
			goto fail;
	}
	rc = nh_consumer_open(&c->k, o, c->lg, on_revoke, c);
	if (rc)
		goto fail;
	c->kafka_open = true;
	return 0;
fail:
	nh_collector_close(c);
	return rc;
}

void nh_collector_close(struct nh_collector *c)
{
	if (c->kafka_open)
		nh_consumer_close(&c->k);
	c->kafka_open = false;
	nh_telemetry_stop(&c->m);
	for (size_t i = 0; i < c->nsinks; i++)
		c->sinks[i].close(c->sinks[i].self);
	c->nsinks = 0;
	nh_dedup_free(&c->dedup);
	nh_jw_free(&c->doc);
	nh_wire_arena_free(c->arena);
	c->arena = NULL;
	if (c->sigfd >= 0)
		close(c->sigfd);
	c->sigfd = -1;
}
