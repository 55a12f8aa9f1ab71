// SPDX-License-Identifier: Apache-2.0
#include "httpd.h"
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

/* A one-line plain-text answer, cut to fit rather than read past. */
static enum MHD_Result say(struct MHD_Connection *c, unsigned code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum MHD_Result say(struct MHD_Connection *c, unsigned code, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	return (enum MHD_Result)nh_http_reply(c, code, "text/plain; charset=utf-8", msg, (size_t)n);
}

/* Called from MHD_run, that is from the agent's loop: the callbacks read
 * the agent's state directly. HEAD gets the same headers and no body
 * (libmicrohttpd leaves it out). */
static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_len, void **state)
{
	struct nh_httpd *h = cls;
	char *body = NULL;
	const char *why;
	size_t len = 0;
	int err;

	(void)version;
	(void)upload;
	/* Refused at once, body unread; the connection closes after. */
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return say(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
	/* The first call only sees the headers: answering then makes
	 * libmicrohttpd close the connection after the reply. Answered on
	 * the last, a scraper keeps its connection. A body is ignored. */
	if (!*state || *upload_len) {
		*state = h;
		*upload_len = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/metrics") == 0) {
		err = h->ops->metrics(h->ctx, &body, &len);
		if (!err)
			return (enum MHD_Result)nh_http_reply_owned(
			    c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len);
		return say(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render the metrics: %s\n",
			   strerror(-err));
	}
	if (strcmp(url, "/healthz") == 0)
		return say(c, MHD_HTTP_OK, "ok\n"); /* answered at all: the loop turns */
	if (strcmp(url, "/readyz") == 0) {
		why = h->ops->not_ready(h->ctx);
		if (why)
			return say(c, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready: %s\n", why);
		return say(c, MHD_HTTP_OK, "ok\n");
	}
	return say(c, MHD_HTTP_NOT_FOUND, "not found: /metrics, /healthz and /readyz are served\n");
}

int nh_httpd_open(struct nh_httpd *h, const char *addrport, int epfd,
		  const struct nh_httpd_ops *ops, void *ctx, const struct nh_log *log)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = h};
	int code;

	memset(h, 0, sizeof(*h));
	h->ops = ops;
	h->ctx = ctx;
	h->log = log;
	code = nh_http_server_open(&h->srv, addrport, "metrics.listen", answer, h, log);
	if (code)
		return code;
	h->daemon = h->srv.daemon;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, h->srv.epoll_fd, &ev)) {
		code = -errno;
		nh_err(log, "cannot serve HTTP on %s: %s", addrport, strerror(-code));
		nh_httpd_close(h);
		return code;
	}
	nh_info(log, "metrics on http://%s/metrics, health on /healthz and /readyz", addrport);
	return 0;
}

void nh_httpd_close(struct nh_httpd *h)
{
	/* The daemon's epoll fd leaves the agent's set as it closes. */
	nh_http_server_close(&h->srv);
	h->daemon = NULL;
}

int nh_httpd_wait_ms(struct nh_httpd *h, int wait_ms)
{
	return nh_http_server_wait_ms(&h->srv, wait_ms);
}

void nh_httpd_run(struct nh_httpd *h, bool ready)
{
	nh_http_server_run(&h->srv, ready);
}
