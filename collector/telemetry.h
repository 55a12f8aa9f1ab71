/* SPDX-License-Identifier: Apache-2.0 */
/*
 * telemetry: the collector's counters, and /metrics (Prometheus text
 * format) and /healthz over HTTP (libmicrohttpd, its own thread). The
 * counters are atomics: the consuming thread bumps them, the HTTP thread
 * reads them.
 */
#ifndef NH_TELEMETRY_H
#define NH_TELEMETRY_H

#include <stdatomic.h>
#include <stdint.h>

#include "log.h"

struct nh_telemetry {
	_Atomic uint64_t consumed;	/* messages read from Kafka */
	_Atomic uint64_t delivered;	/* records every sink accepted */
	_Atomic uint64_t deduplicated;	/* redelivered records not written again */
	_Atomic uint64_t dead_lettered; /* undecodable records sent to the dead-letter topic */
	_Atomic uint64_t sink_failures; /* failed sink writes and flushes (each retried) */
	_Atomic uint64_t commits;
	_Atomic int64_t lag; /* messages behind the partitions' ends, -1 unknown */
	void *daemon;
};

/* Serve on "ADDR:PORT" (IPv4 or [IPv6]). 0 or -errno. */
int nh_telemetry_start(struct nh_telemetry *m, const char *addrport, const struct nh_log *lg);
void nh_telemetry_stop(struct nh_telemetry *m);

#endif
