/* SPDX-License-Identifier: Apache-2.0 */
/*
 * record: one agent output (an anomaly, a credential use, a finding, an
 * activity event, as rendered JSON) as a wire record for Kafka. The JSON
 * keeps the strings: the record borrows them, so it is packed before the
 * object is released.
 */
#ifndef NH_RECORD_H
#define NH_RECORD_H

#include <json-c/json.h>

#include "wire.h"

/* Fill r from o, whose "kind" is one of the agent's output kinds. Returns
 * 0, or -ENOENT for a kind that does not go to Kafka. activity_json, when
 * not NULL, is the event's JSON text for an activity record. */
int nh_record_from_json(json_object *o, uint64_t time_ns, const struct nh_wire_id *id,
			const char *activity_json, struct nh_wire_record *r);

#endif
