// SPDX-License-Identifier: Apache-2.0
#include "telemetry.h"
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

static const struct {
	const char *name, *help;
	size_t offset;
} counters[] = {
    {"consumed", "Messages read from Kafka.", offsetof(struct nh_telemetry, consumed)},
    {"delivered", "Records accepted by every sink.", offsetof(struct nh_telemetry, delivered)},
    {"deduplicated", "Redelivered records not written again.",
     offsetof(struct nh_telemetry, deduplicated)},
    {"dead_lettered", "Undecodable records sent to the dead-letter topic.",
     offsetof(struct nh_telemetry, dead_lettered)},
    {"sink_failures", "Failed sink writes and flushes, each retried.",
     offsetof(struct nh_telemetry, sink_failures)},
    {"commits", "Offset commits.", offsetof(struct nh_telemetry, commits)},
};

static int render(struct nh_telemetry *m, char *buf, size_t cap)
{
	size_t n = 0;
	int w;

	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		_Atomic uint64_t *c = (_Atomic uint64_t *)((char *)m + counters[i].offset);

		w = snprintf(buf + n, cap - n,
			     "# HELP nhiscope_collector_%s_total %s\n"
			     "# TYPE nhiscope_collector_%s_total counter\n"
			     "nhiscope_collector_%s_total %" PRIu64 "\n",
			     counters[i].name, counters[i].help, counters[i].name, counters[i].name,
			     atomic_load(c));
		if (w < 0 || (size_t)w >= cap - n)
			return -ENOSPC;
		n += w;
	}
	w = snprintf(buf + n, cap - n,
		     "# HELP nhiscope_collector_lag Messages behind the end of the assigned "
		     "partitions (-1: unknown).\n"
		     "# TYPE nhiscope_collector_lag gauge\n"
		     "nhiscope_collector_lag %" PRId64 "\n",
		     atomic_load(&m->lag));
	if (w < 0 || (size_t)w >= cap - n)
		return -ENOSPC;
	return (int)(n + w);
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_len, void **state)
{
	struct nh_telemetry *m = cls;
	unsigned code = MHD_HTTP_OK;
	char body[4096];
	const char *type = "text/plain; version=0.0.4";
	int n;

	(void)version;
	(void)upload;
	(void)upload_len;
	(void)state;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		code = MHD_HTTP_METHOD_NOT_ALLOWED;
		n = snprintf(body, sizeof(body), "GET or HEAD only\n");
	} else if (strcmp(url, "/metrics") == 0) {
		n = render(m, body, sizeof(body));
		if (n < 0) {
			code = MHD_HTTP_INTERNAL_SERVER_ERROR;
			n = snprintf(body, sizeof(body), "metrics too long\n");
		}
	} else if (strcmp(url, "/healthz") == 0) {
		n = snprintf(body, sizeof(body), "ok\n");
		type = "text/plain";
	} else {
		code = MHD_HTTP_NOT_FOUND;
		n = snprintf(body, sizeof(body), "not found\n");
	}
	return (enum MHD_Result)nh_http_reply(c, code, type, body, (size_t)n);
}

int nh_telemetry_start(struct nh_telemetry *m, const char *addrport, const struct nh_log *lg)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	uint16_t port;

	if (nh_http_parse_addr(addrport, &ss, &sl) != 0)
		goto bad;
	if (ss.ss_family == AF_INET6) {
		flags |= MHD_USE_IPv6;
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	} else {
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	m->daemon = MHD_start_daemon(flags, port, NULL, NULL, answer, m, MHD_OPTION_SOCK_ADDR,
				     (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
				     MHD_OPTION_END);
	if (!m->daemon) {
		nh_err(lg, "metrics: cannot listen on %s", addrport);
		return -EADDRNOTAVAIL;
	}
	nh_info(lg, "metrics on http://%s/metrics", addrport);
	return 0;
bad:
	nh_err(lg, "metrics: %s is not ADDR:PORT (an IP address and a port)", addrport);
	return -EINVAL;
}

void nh_telemetry_stop(struct nh_telemetry *m)
{
	if (m->daemon)
		MHD_stop_daemon(m->daemon);
	m->daemon = NULL;
}
