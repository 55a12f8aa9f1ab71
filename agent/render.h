/* SPDX-License-Identifier: Apache-2.0 */
/*
 * render: the small text forms of kernel values the agent needs before
 * or besides a record: times, addresses and the object a deduplicated
 * series is about. Events themselves are rendered from their typed
 * record (record.h -> recordjson.h, compact.h).
 */
#ifndef NH_RENDER_H
#define NH_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "nhiscope.h"

/* s[0..n) up to its first NUL, cut to fit buf, NUL-terminated: what
 * snprintf "%.*s" gives, without its format parsing (per event). */
void nh_render_bytes(char *buf, size_t len, const char *s, size_t n);
/* "2026-11-22T08:00:00.123456Z" */
void nh_render_time(uint64_t mono_ns, int64_t wall_offset_ns, char *buf, size_t len);
/* "10.0.0.1" or "::1"; buf must hold INET6_ADDRSTRLEN. */
void nh_render_addr(const struct nh_sockaddr *sa, char *buf, size_t len);
/* Describe the object of a deduplicated event: path or address:port. */
void nh_render_object(const struct nh_hdr *h, char *buf, size_t len);
/* An AF_UNIX address as shown: the path, or "@name" for an abstract one. */
void nh_render_unix_path(const struct nh_unix_event *e, char *buf, size_t len);
/* "stream", "dgram", "seqpacket" or "other". */
const char *nh_render_sock_type(uint32_t type);

#endif
