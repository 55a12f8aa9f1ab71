/* SPDX-License-Identifier: Apache-2.0 */
/*
 * recordjson: a typed record (models/wire.h) as the project's event JSON,
 * the format of `nhiscope tail -o json`, the agent's --tail json and the
 * "event" the collector's documents carry (docs/events.md). One function
 * of the struct: nothing here reads JSON back.
 *
 * The interface takes the record and nothing else, so a faster writer
 * (straight into a caller's buffer, no DOM) can replace the body without
 * touching the callers.
 */
#ifndef NH_RECORDJSON_H
#define NH_RECORDJSON_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "wire.h"

struct nh_jw;

/* The record as one JSON object appended to w, as the value of key (NULL:
 * at the top or in an array); no DOM: the tail's and the collector's
 * per-record path. 0; -EINVAL for a record of format 1 (its
 * JSON is legacy_json, as that release wrote it), nothing written;
 * -ENOMEM (w->failed). */
int nh_recordjson_write(const struct nh_wire_record *r, const char *key, struct nh_jw *w);

/* What nh_recordjson_write_rest leaves out because the caller wrote it
 * in a field of its own. */
enum nh_rj_omit {
	NH_RJ_OMIT_PATH = 1u << 0,    /* the activity's path */
	NH_RJ_OMIT_ARGS = 1u << 1,    /* an exec's args */
	NH_RJ_OMIT_ADDRESS = 1u << 2, /* a connect/accept/send peer's address and port */
};

/* Of an activity record (format 2), only what an ECS document has no
 * field for: the kernel's attribution beyond pid, parent, user, name and
 * executable (gid, mntns, cgroup id, the cgroup context and token), and
 * the event's own details less what omit names. Time, kind, identity,
 * site and the pod/container context are the document's own fields, so
 * they are not repeated here. -EINVAL for other records or format 1. */
int nh_recordjson_write_rest(const struct nh_wire_record *r, const char *key, unsigned omit,
			     struct nh_jw *w);

/* The same as a json-c object (json_object_put), NULL on ENOMEM or for
 * format 1: for callers that need a DOM (tests), made by parsing what
 * nh_recordjson_write wrote. */
json_object *nh_recordjson(const struct nh_wire_record *r);

/* The name a record goes by in the tail's "kind": the event's for
 * activity, the finding type's for findings, else the record kind's. */
const char *nh_recordjson_kind(const struct nh_wire_record *r);

/* "O_WRONLY|O_CREAT|O_CLOEXEC" */
void nh_recordjson_open_flags(uint32_t flags, char *buf, size_t len);

#endif
