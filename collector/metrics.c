// SPDX-License-Identifier: Apache-2.0
#include "metrics.h"

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
    {"consumed", "Messages read from Kafka.", offsetof(struct nh_metrics, consumed)},
    {"delivered", "Records accepted by every sink.", offsetof(struct nh_metrics, delivered)},
    {"deduplicated", "Redelivered records not written again.",
     offsetof(struct nh_metrics, deduplicated)},
    {"dead_lettered", "Undecodable records sent to the dead-letter topic.",
     offsetof(struct nh_metrics, dead_lettered)},
    {"sink_failures", "Failed sink writes and flushes, each retried.",
     offsetof(struct nh_metrics, sink_failures)},
    {"commits", "Offset commits.", offsetof(struct nh_metrics, commits)},
};

static int render(struct nh_metrics *m, char *buf, size_t cap)
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
	struct nh_metrics *m = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	unsigned code = MHD_HTTP_OK;
	char body[4096];
	const char *type = "text/plain; version=0.0.4";
	int n;

	(void)version;
	(void)upload;
	(void)upload_len;
	(void)state;
	if (strcmp(method, "GET") != 0) {
		code = MHD_HTTP_METHOD_NOT_ALLOWED;
		n = snprintf(body, sizeof(body), "GET only\n");
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
	r = MHD_create_response_from_buffer(n, body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

int nh_metrics_start(struct nh_metrics *m, const char *addrport, const struct nh_log *lg)
{
	struct sockaddr_storage ss = {0};
	char host[128];
	const char *colon = strrchr(addrport, ':');
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	long port;
	char *end;
	size_t hl;

	if (!colon || colon == addrport)
		goto bad;
	port = strtol(colon + 1, &end, 10);
	hl = colon - addrport;
	if (*end || port < 1 || port > 65535 || hl >= sizeof(host))
		goto bad;
	memcpy(host, addrport, hl);
	host[hl] = '\0';
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		host[hl - 1] = '\0';
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
			goto bad;
		flags |= MHD_USE_IPv6;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			goto bad;
	}
	m->daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, answer, m,
				     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				     MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
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

void nh_metrics_stop(struct nh_metrics *m)
{
	if (m->daemon)
		MHD_stop_daemon(m->daemon);
	m->daemon = NULL;
}
