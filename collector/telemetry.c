// SPDX-License-Identifier: Apache-2.0
#include "telemetry.h"
#include "http.h"
#include "httpserver.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <microhttpd.h>

#define WAIT_MAX_MS 1000

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
    {"sink_rejected", "Records a sink rejected for good, sent to the dead-letter topic.",
     offsetof(struct nh_telemetry, sink_rejected)},
    {"http_deadline_cut", "HTTP connections shut for outliving their deadline.",
     offsetof(struct nh_telemetry, http_cut)},
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
		     "nhiscope_collector_lag %" PRId64 "\n"
		     "# HELP nhiscope_collector_ready 1 when every sink takes records (/readyz).\n"
		     "# TYPE nhiscope_collector_ready gauge\n"
		     "nhiscope_collector_ready %d\n",
		     atomic_load(&m->lag), !atomic_load(&m->sinks_down));
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
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		code = MHD_HTTP_METHOD_NOT_ALLOWED;
		n = snprintf(body, sizeof(body), "GET or HEAD only\n");
	} else if (!*state || *upload_len) {
		/* answered on the last call, so a scraper keeps its connection */
		*state = m;
		*upload_len = 0;
		return MHD_YES;
	} else if (strcmp(url, "/readyz") == 0) {
		type = "text/plain";
		if (atomic_load(&m->sinks_down)) {
			code = MHD_HTTP_SERVICE_UNAVAILABLE;
			n = snprintf(body, sizeof(body),
				     "not ready: a sink cannot take records (offsets held back)\n");
		} else {
			n = snprintf(body, sizeof(body), "ok\n");
		}
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

/* The HTTP thread: libmicrohttpd's work, and the deadlines. */
static void *serve(void *arg)
{
	struct nh_telemetry *m = arg;
	struct nh_http_server *h = m->srv;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = h->epoll_fd};

	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, h->epoll_fd, &ev))
		goto cleanup;
	ev.data.fd = m->wake_fd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, m->wake_fd, &ev))
		goto cleanup;
	while (!atomic_load(&m->stop)) {
		struct epoll_event got[2];
		/* at most a second: the deadlines are checked that often */
		int n = epoll_wait(ep, got, 2, nh_http_server_wait_ms(h, WAIT_MAX_MS));
		bool ready = false;

		for (int i = 0; i < n; i++)
			ready |= got[i].data.fd == h->epoll_fd;
		nh_http_server_run(h, ready);
		atomic_store(&m->http_cut, h->cut);
	}
cleanup:
	if (ep >= 0)
		close(ep);
	return NULL;
}

int nh_telemetry_start(struct nh_telemetry *m, const char *addrport, const struct nh_log *lg)
{
	struct nh_http_server *h = calloc(1, sizeof(*h));
	pthread_t *t = calloc(1, sizeof(*t));
	int rc;

	m->wake_fd = -1;
	if (!h || !t) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = nh_http_server_open(h, addrport, "--metrics", answer, m, lg);
	if (rc)
		goto fail;
	m->srv = h;
	m->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->wake_fd < 0) {
		rc = -errno;
		goto fail;
	}
	atomic_store(&m->stop, false);
	rc = -pthread_create(t, NULL, serve, m);
	if (rc)
		goto fail;
	m->thread = t;
	nh_info(lg, "metrics on http://%s/metrics, health on /healthz and /readyz", addrport);
	return 0;
fail:
	if (m->srv)
		nh_http_server_close(h);
	if (m->wake_fd >= 0)
		close(m->wake_fd);
	m->wake_fd = -1;
	m->srv = NULL;
	free(h);
	free(t);
	if (rc == -ENOMEM || rc == -EAGAIN)
		nh_err(lg, "metrics: cannot start serving %s: %s", addrport, strerror(-rc));
	return rc;
}

void nh_telemetry_stop(struct nh_telemetry *m)
{
	uint64_t one = 1;

	if (m->thread) {
		atomic_store(&m->stop, true);
		/* a failed write only delays the stop by one wait (WAIT_MAX_MS) */
		if (write(m->wake_fd, &one, sizeof(one)) != sizeof(one)) {
		}
		pthread_join(*(pthread_t *)m->thread, NULL);
		free(m->thread);
		m->thread = NULL;
	}
	if (m->srv) {
		nh_http_server_close(m->srv);
		free(m->srv);
		m->srv = NULL;
		if (m->wake_fd >= 0)
			close(m->wake_fd);
		m->wake_fd = -1;
	}
}
