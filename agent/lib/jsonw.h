/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jsonw: the small JSON builders (json-c) both daemons write documents
 * with: the agent's tail and status, the collector's ECS documents.
 */
#ifndef NH_JSONW_H
#define NH_JSONW_H

#include <stdint.h>

#include <json-c/json.h>

/* "k": v, also when v is NULL (null) or empty. */
void nh_json_str(json_object *o, const char *k, const char *v);
/* "k": v only when v is a non-empty string: an absent field beats an
 * empty one. */
void nh_json_str_known(json_object *o, const char *k, const char *v);
void nh_json_int(json_object *o, const char *k, int64_t v);
void nh_json_uint(json_object *o, const char *k, uint64_t v);
/* "result": r, and for -errno "error": "ECONNREFUSED". */
void nh_json_result(json_object *o, int64_t result);
/* The object under k, created on first use; o keeps the reference. NULL
 * on ENOMEM. */
json_object *nh_json_sub(json_object *o, const char *k);

#endif
