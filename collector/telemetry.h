/* SPDX-License-Identifier: Apache-2.0 */
/*
 * telemetry: the collector's counters, and /metrics (Prometheus text
 * format), /healthz and /readyz over HTTP (libmicrohttpd in its own
 * thread, with the connection cap, per-address cap and deadline of
 * agent/lib/httpserver.h, so slow clients cannot starve the probes). The
 * counters are atomics: the consuming thread bumps them, the HTTP thread
 * reads them. /healthz is liveness: the HTTP thread answers. /readyz is
 * false while a sink cannot take records (their offsets are held back,
 * nothing is lost): a reason to page, not to restart.
 */
#ifndef NH_TELEMETRY_H
#define NH_TELEMETRY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "log.h"

struct nh_telemetry {
	_Atomic uint64_t consumed;	/* messages read from Kafka */
	_Atomic uint64_t delivered;	/* records every sink accepted */
	_Atomic uint64_t deduplicated;	/* redelivered records not written again */
	_Atomic uint64_t dead_lettered; /* undecodable records sent to the dead-letter topic */
	_Atomic uint64_t sink_failures; /* failed sink writes and flushes (each retried) */
	_Atomic uint64_t sink_rejected; /* records a sink rejected for good, dead-lettered */
	_Atomic uint64_t commits;
	_Atomic int64_t lag;	   /* messages behind the partitions' ends, -1 unknown */
	_Atomic bool sinks_down;   /* a sink cannot take what it holds: not ready */
	_Atomic uint64_t http_cut; /* connections shut at their deadline */
	_Atomic bool stop;
	void *srv;    /* struct nh_http_server * */
	int wake_fd;  /* eventfd: stop */
	void *thread; /* pthread_t * */
};

/* Serve on "ADDR:PORT" (IPv4 or [IPv6]). 0 or -errno. */
int nh_telemetry_start(struct nh_telemetry *m, const char *addrport, const struct nh_log *lg);
void nh_telemetry_stop(struct nh_telemetry *m);

#endif
