/* SPDX-License-Identifier: Apache-2.0 */
/*
 * syslogfmt: a record as one syslog message, RFC 5424 with octet-counting
 * framing (RFC 6587: "LEN SP MSG", no trailer), the MSG being either the
 * ECS JSON document or an ArcSight CEF:0 line. Pure: no I/O.
 *
 *   <PRI>1 TIMESTAMP HOST nhiscope - KIND - MSG
 *
 * PRI is facility local0 with a severity from the record (critical
 * anomaly: crit ... heartbeat: info); HOST is the node, reduced to
 * printable ASCII.
 */
#ifndef NH_SYSLOGFMT_H
#define NH_SYSLOGFMT_H

#include <stddef.h>

#include "wire.h"

enum nh_syslog_format { NH_SYSLOG_RFC5424 = 0, NH_SYSLOG_CEF };

/* One framed message in a malloc'd *out of *len bytes (not terminated).
 * version goes into the CEF header. 0 or -ENOMEM. */
int nh_syslog_frame(const struct nh_wire_record *r, const char *id, const char *ecs_json,
		    enum nh_syslog_format fmt, const char *version, char **out, size_t *len);

/* The CEF line alone ("CEF:0|nhiscope|nhiscope|..."), malloc'd and
 * NUL-terminated. NULL on ENOMEM. */
char *nh_cef_line(const struct nh_wire_record *r, const char *id, const char *version);

/* CEF severity 0-10 and syslog severity 0-7 of a record. */
int nh_cef_severity(const struct nh_wire_record *r);
int nh_syslog_severity(const struct nh_wire_record *r);

#endif
