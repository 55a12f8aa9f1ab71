/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sink: where records go. Every sink takes the same item (the decoded
 * record, its id and its ECS JSON line) and follows the same contract,
 * which is what makes the collector at-least-once:
 *   write  0: accepted, the record will be in the sink once a later flush
 *          succeeds; -errno: not accepted, nothing to undo, call again
 *          later (the collector retries with backoff and holds back the
 *          Kafka offset meanwhile).
 *   flush  0: everything accepted so far is durable in the sink; -errno:
 *          not yet, call again later (nothing accepted is dropped).
 *   close  release everything (after a final flush, or not).
 * A record the sink rejects for good (Elastic's item-level 4xx, HEC's 400:
 * a mapping conflict, a malformed event) must not stop the partition: the
 * sink hands it to its reject hook (the collector sends it to the
 * dead-letter topic with the sink's reason) and counts it as done; the
 * rest of the batch is delivered. A rejection the hook could not take
 * stays in the sink, to be tried again like a failed flush.
 * Sinks log through lg, one line per message, and never log secrets.
 */
#ifndef NH_SINK_H
#define NH_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "wire.h"

struct nh_sink_item {
	const struct nh_wire_record *rec;
	const char *id;	  /* nh_wire_id_str */
	uint64_t id_hash; /* nh_dedup_hash(id) */
	const char *json; /* the ECS document on one line, no newline */
	size_t json_len;
	/* where it came from, as it came (for a rejection) */
	const char *topic;
	int32_t partition;
	int64_t offset;
	const void *payload;
	size_t payload_len;
};

/* A record a sink rejected for good. */
struct nh_sink_reject {
	const char *sink;   /* its name */
	const char *reason; /* the sink's own words, one printable line */
	const char *id;
	const char *topic;
	int32_t partition;
	int64_t offset;
	const void *payload;
	size_t len;
};

/* 0: taken (it is on the dead-letter topic); -errno: keep it and retry. */
typedef int (*nh_sink_reject_fn)(void *ctx, const struct nh_sink_reject *r);

struct nh_sink {
	const char *name; /* "file", "syslog", "splunk", "elastic" */
	void *self;
	int (*write)(void *self, const struct nh_sink_item *it);
	int (*flush)(void *self);
	void (*close)(void *self);
};

/* JSON lines to path ("-": standard output). Opening the file repairs a
 * torn last line and remembers the ids of its last dedup_window records:
 * a record already in the file is accepted without being written again,
 * so a collector killed between writing and committing does not write
 * twice after its restart. */
int nh_sink_file_open(struct nh_sink *s, const char *path, size_t dedup_window,
		      const struct nh_log *lg);

/* RFC 5424 over TCP to "host:port" (octet counting), plain or CEF. */
int nh_sink_syslog_open(struct nh_sink *s, const char *hostport, int format, const char *version,
			const struct nh_log *lg);

enum nh_http_flavour { NH_HTTP_SPLUNK_HEC = 0, NH_HTTP_ELASTIC_BULK };

/* Splunk HEC (url: the .../services/collector/event endpoint; secret_file
 * holds the token) or Elastic _bulk (url: the cluster; index; secret_file,
 * optional, an API key). Records are batched and posted on flush; the
 * server's verdict is read per item: taken, rejected for good (to reject,
 * with ctx), or to be retried. */
int nh_sink_http_open(struct nh_sink *s, enum nh_http_flavour flavour, const char *url,
		      const char *index, const char *secret_file, const char *ca_file,
		      nh_sink_reject_fn reject, void *ctx, const struct nh_log *lg);

#endif
