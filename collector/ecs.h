/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ecs: a wire record as an Elastic Common Schema document (ECS 8.x), the
 * one shape every sink writes. Standard fields where ECS has one
 * (@timestamp, event.*, host.*, process.*, user.*, orchestrator.*,
 * container.id, service.name, threat.technique.*); everything else under
 * the custom field set "nhiscope" and, for the identity key, a label.
 * Pure: no I/O.
 */
#ifndef NH_ECS_H
#define NH_ECS_H

#include <stddef.h>

#include <json-c/json.h>

#include "wire.h"

#define NH_ECS_VERSION "8.11.0"

struct nh_jw;

/* The document appended to w as one JSON object, straight from the typed
 * record (no DOM). id is the record id as nh_wire_id_str formats it.
 * 0, or -ENOMEM (w->failed). */
int nh_ecs_write(const struct nh_wire_record *r, const char *id, struct nh_jw *w);

/* The same document as a json-c object (json_object_put), NULL on ENOMEM:
 * for tests and tools, made by parsing what nh_ecs_write wrote. */
json_object *nh_ecs_record(const struct nh_wire_record *r, const char *id);

/* One human line for event.message, syslog and CEF names. Returns the
 * length written (truncated to cap - 1). */
size_t nh_ecs_message(const struct nh_wire_record *r, char *buf, size_t cap);

/* ECS event.severity (0-100; 0 when the record has none). */
int nh_ecs_severity(const struct nh_wire_record *r);

/* "2023-11-14T22:13:20.123456789Z"; buf needs 32 bytes. */
void nh_ecs_timestamp(uint64_t unix_ns, char *buf, size_t cap);

#endif
