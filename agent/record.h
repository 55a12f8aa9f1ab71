/* SPDX-License-Identifier: Apache-2.0 */
/*
 * record: where an attributed kernel event becomes the typed record of
 * models/wire.h, the one form everything the agent reports takes: the
 * tail (JSON and compact), the socket's subscribers and Kafka are all
 * renderers of it. Findings and anomalies start from the attribution of
 * the event they come from and add their own body.
 *
 * The record borrows: strings point into the attributed event and its
 * tables, or into the caller's nh_record_buf; it lives for one turn of the
 * pipeline. Its id is left for the Kafka producer to number.
 */
#ifndef NH_RECORD_H
#define NH_RECORD_H

#include <arpa/inet.h>
#include <stdint.h>

#include "event.h"
#include "wire.h"

/* Storage for what the record cannot borrow as it is. */
struct nh_record_buf {
	char comm[NH_COMM_LEN + 1];
	char path[NH_PATH_MAX + 1];
	char address[INET6_ADDRSTRLEN];
	char op_name[128]; /* namespace/ptrace/bpf/module operations */
	/* argv as shown (the first NH_ARGS_SHOW bytes), redacted: a secret
	 * may grow when masked */
	char args[NH_ARGS_SHOW * 3 + NH_WIRE_ARGS_MAX];
};

/* Time, process, identity and context of ev, with kind and body zeroed. */
void nh_record_attribution(const struct nh_attributed *ev, struct nh_record_buf *buf,
			   struct nh_wire_record *r);

/* The whole event as an activity record (attribution included). */
void nh_record_activity(const struct nh_attributed *ev, struct nh_record_buf *buf,
			struct nh_wire_record *r);

/* The agent's kind of a record (decode.h: NH_KIND_OPEN ...
 * NH_KIND_ANOMALY), for filters and counters; 0 for none. */
uint32_t nh_record_agent_kind(const struct nh_wire_record *r);

#endif
