/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spool: the agent's bounded on-disk queue of records for Kafka. Every
 * record is written here before it is produced and forgotten only once
 * Kafka acknowledged it, so a broker outage, a full producer queue or a
 * kill -9 loses nothing that was accepted: after a restart the
 * unacknowledged records are sent again (the collector drops duplicates
 * by record id).
 *
 * Two classes, each an ordered log of segment files with checksummed
 * records: anomalies (and findings, losses) and activity. When the bound
 * is reached, segments Kafka acknowledged but not deleted yet go first
 * (a flush on a slow disk may not have persisted the cursor past them),
 * then activity is shed: a new activity record is refused, and a new
 * anomaly makes room by dropping the oldest activity segment.
 * Every shed record is counted for the next loss report.
 *
 * A record may carry the CLOCK_MONOTONIC time of the event it reports, for
 * the producer's event-to-acknowledgement latency. It is stored inside
 * the checksummed topic field, after the topic and a NUL, so a spool
 * written with it is still read right by an agent that predates it.
 *
 * Every record carries its format in its header (NH_SPOOL_FORMAT; the
 * payload, a wire record, carries its own): an upgraded agent drains the
 * spool the previous release left (tests/fixtures/v1/spool).
 *
 * Damage never costs more than the damaged record: a reader that meets a
 * bad header or checksum finds the next whole record of the segment
 * (format 3 checksums are keyed with a per-spool secret, so a record
 * forged inside a workload's path cannot be taken for one). A failed
 * write (a full disk, an I/O error) is retried, an anomaly making room
 * by shedding activity first; a record that still cannot be kept is
 * counted by cause and reported as lost.
 */
#ifndef NH_SPOOL_H
#define NH_SPOOL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "worker.h"

#define NH_SPOOL_FORMAT	    3 /* what this release writes; it reads 1 (release 1) and 2 too */
#define NH_SPOOL_TOPIC_MAX  250
#define NH_SPOOL_RECORD_MAX (1u << 20)
#define NH_SPOOL_INFLIGHT   65536 /* records sent but not yet acknowledged, per class */

enum nh_spool_class { NH_SPOOL_ANOMALY = 0, NH_SPOOL_ACTIVITY, NH_SPOOL_CLASSES };

/* Why a write to the spool failed. */
enum nh_spool_werr {
	NH_SPOOL_WERR_NOSPC = 0,
	NH_SPOOL_WERR_IO,
	NH_SPOOL_WERR_OTHER,
	NH_SPOOL_WERRS
};

enum nh_spool_sync {
	NH_SPOOL_SYNC_NONE = 0, /* leave it to the kernel */
	/* fsync on nh_spool_flush (the agent calls it every tick): the tail and
	 * the segments that filled since the last one */
	NH_SPOOL_SYNC_FLUSH,
	NH_SPOOL_SYNC_ALWAYS, /* fsync every record */
};

/* Where a record sits: segment and offset of its header. */
struct nh_spool_pos {
	uint64_t seg;
	uint64_t off;
};

struct nh_spool_shared; /* spool.c: what a flush on the worker shares with the loop */

struct nh_spool_queue {
	char dir[PATH_MAX];
	struct nh_spool_pos head; /* oldest unacknowledged record (persisted in "cursor") */
	struct nh_spool_pos send; /* next record to hand out */
	struct nh_spool_pos tail; /* where the next record is appended */
	int tail_fd;
	uint64_t first_seg; /* oldest segment on disk */
	uint64_t bytes;	    /* on disk, from head's segment to the tail */
	uint64_t records;   /* not yet acknowledged */
	/* acknowledgements that arrived out of order, by send order */
	struct nh_spool_pos inflight[NH_SPOOL_INFLIGHT];
	bool acked[NH_SPOOL_INFLIGHT];
	size_t inflight_first, inflight_len;
	/* acknowledged records past head when the queue was rewound, in
	 * order: stepped over, not sent again (they are on Kafka; sent
	 * again they could be refused and counted lost) */
	struct nh_spool_pos delivered[NH_SPOOL_INFLIGHT];
	size_t delivered_first, delivered_len;
	/* records before this were written by an earlier run */
	struct nh_spool_pos recovered;
	bool dirty; /* the tail written since the last fsync */
	/* full segments written since the last fsync, from unsynced_first:
	 * the next flush syncs them by path */
	uint64_t unsynced_first, unsynced;
	struct nh_spool_shared *flushing; /* shared with the flush on the worker, or NULL */
	uint32_t seed;			  /* the spool's checksum key (format 3) */
};

struct nh_spool {
	char dir[PATH_MAX];
	uint64_t max_bytes;
	uint64_t segment_bytes;
	enum nh_spool_sync sync;
	struct nh_spool_queue q[NH_SPOOL_CLASSES];
	uint64_t shed[NH_SPOOL_CLASSES];       /* records refused or dropped for room */
	uint64_t lost[NH_SPOOL_CLASSES];       /* records a failing disk would not keep */
	uint64_t write_errors[NH_SPOOL_WERRS]; /* failed writes, each retried or counted lost */
	uint64_t corrupt;		       /* damaged records (or damaged stretches) skipped */
	/* When set, nh_spool_flush's fsyncs and cursor write run there (a
	 * slow disk never holds the event loop); segments are deleted once
	 * the cursor past them is on disk, or sooner for room. */
	struct nh_worker *worker;
	uint64_t flushes_skipped; /* the previous flush was still running */
	uint64_t syncing;	  /* full segments the flush on the worker is syncing */
	int flush_err;		  /* of the last flush that ran: 0 or -errno */
};

/* A record handed out by nh_spool_next; data points into rec's buffer. */
struct nh_spool_record {
	enum nh_spool_class cls;
	struct nh_spool_pos pos;
	char topic[NH_SPOOL_TOPIC_MAX + 1];
	/* The event's CLOCK_MONOTONIC time as appended; 0 for none and for
	 * records from an earlier run (their clock may be another boot's). */
	uint64_t event_ns;
	unsigned format; /* the record's spool format: 1 (release 1) or NH_SPOOL_FORMAT */
	uint8_t *data;
	size_t len;
	uint8_t buf[NH_SPOOL_RECORD_MAX];
};

/* Open (creating) dir and recover: a torn record at a segment's end is
 * cut off, the cursor says what was acknowledged. */
int nh_spool_open(struct nh_spool *s, const char *dir, uint64_t max_bytes, enum nh_spool_sync sync);
void nh_spool_close(struct nh_spool *s);

/* Append a record. 0, or -ENOSPC when it was shed (counted in shed),
 * -EMSGSIZE, or another -errno from the disk once retries failed (counted
 * in lost and write_errors). */
int nh_spool_append(struct nh_spool *s, enum nh_spool_class cls, const char *topic,
		    const void *data, size_t len);
/* The same with the event's CLOCK_MONOTONIC time (0: none). Topics longer
 * than NH_SPOOL_TOPIC_MAX - 9 leave no room for it: stored without. */
int nh_spool_append_timed(struct nh_spool *s, enum nh_spool_class cls, const char *topic,
			  const void *data, size_t len, uint64_t event_ns);

/* The next record to send, anomalies first; -ENOENT when all are out,
 * -EBUSY when too many are in flight. */
int nh_spool_next(struct nh_spool *s, struct nh_spool_record *rec);

/* Kafka acknowledged the record at pos (any order). 0 the first time;
 * -EALREADY for a second acknowledgement of a record sent twice; -ENOENT
 * when it is no longer in flight. */
int nh_spool_ack(struct nh_spool *s, enum nh_spool_class cls, struct nh_spool_pos pos);

/* The record nh_spool_next just handed out could not be sent (a full
 * producer queue): hand it out again next time. */
void nh_spool_unsend(struct nh_spool *s, enum nh_spool_class cls);

/* A delivery failed: send everything unacknowledged again, in order. */
void nh_spool_rewind(struct nh_spool *s);

/* fsync what was written (per the sync policy) and persist the cursors. */
int nh_spool_flush(struct nh_spool *s);
/* The same, on the caller's thread whatever s->worker is. */
int nh_spool_flush_now(struct nh_spool *s);
/* Wait (at most 2 s) for a flush still on the worker, then flush on the
 * caller's thread from now on: before the worker stops. */
void nh_spool_detach_worker(struct nh_spool *s);

uint64_t nh_spool_pending(const struct nh_spool *s);
/* Full segments whose fsync is not done yet: waiting for the next flush
 * or on the worker. Grows while the disk does not answer (a flush is
 * skipped while the last one runs): bounded by the spool's size, not by
 * how often segments fill. */
uint64_t nh_spool_unsynced(const struct nh_spool *s);

#endif
