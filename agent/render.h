/* SPDX-License-Identifier: Apache-2.0 */
/*
 * render: one decoded, attributed event as a JSON object, the format of
 * `nhiscope tail -o json` and the input of the compact formatter.
 */
#ifndef NH_RENDER_H
#define NH_RENDER_H

#include <stdint.h>

#include <json-c/json.h>

#include "event.h"
#include "jsonw.h"
#include "nhiscope.h"

/* New object owned by the caller (json_object_put), NULL on ENOMEM. */
json_object *nh_render(const struct nh_attributed *ev);
/* The attribution an event carries (time, process, identity, context)
 * under another kind's name, for the findings derived from it. */
json_object *nh_render_as(const struct nh_attributed *ev, uint32_t kind);

/* "2026-11-22T08:00:00.123456Z" */
void nh_render_time(uint64_t mono_ns, int64_t wall_offset_ns, char *buf, size_t len);
/* "10.0.0.1" or "::1"; buf must hold INET6_ADDRSTRLEN. */
void nh_render_addr(const struct nh_sockaddr *sa, char *buf, size_t len);
/* "O_WRONLY|O_CREAT|O_CLOEXEC" */
void nh_render_open_flags(uint32_t flags, char *buf, size_t len);
/* Describe the object of a deduplicated event: path or address:port. */
void nh_render_object(const struct nh_hdr *h, char *buf, size_t len);

#endif
