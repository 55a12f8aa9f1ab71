// SPDX-License-Identifier: Apache-2.0
#include "httpd.h"
#include "clock.h"
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

/* Our own listening socket, so a failed bind says why (libmicrohttpd
 * would only fail to start). IPv6 only for an IPv6 address: "[::]:P"
 * means IPv6, not both. */
static int listen_on(const struct sockaddr_storage *ss, socklen_t len, int *code)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	*code = 0;
	if (fd < 0) {
		*code = -errno;
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (ss->ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    bind(fd, (const struct sockaddr *)ss, len) || listen(fd, 64)) {
		*code = -errno;
		close(fd);
		return -1;
	}
	return fd;
}

/* libmicrohttpd's own messages: at start-up they explain a failure; once
 * serving they are about single connections (a client that went away,
 * the connection limit), which must not flood the log. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct nh_httpd *h = cls;
	char line[512];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	nh_log(h->log, h->serving ? NH_LOG_DEBUG : NH_LOG_WARN, "http %s: %s", h->addr, line);
}

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

/* Each connection's socket and start, for the deadline. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct nh_httpd *h = cls;

	(void)socket_context;
	if (!info)
		return;
	if (code == MHD_CONNECTION_NOTIFY_STARTED && h->nconns < NH_HTTPD_MAX_CONNECTIONS) {
		h->conns[h->nconns].fd = info->connect_fd;
		h->conns[h->nconns++].start_ns = nh_clock_mono_ns();
		return;
	}
	for (size_t i = 0; code == MHD_CONNECTION_NOTIFY_CLOSED && i < h->nconns; i++)
		if (h->conns[i].fd == info->connect_fd) {
			h->conns[i] = h->conns[--h->nconns];
			break;
		}
}

int nh_httpd_open(struct nh_httpd *h, const char *addrport, int epfd,
		  const struct nh_httpd_ops *ops, void *ctx, const struct nh_log *log)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = h};
	const union MHD_DaemonInfo *info;
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	int fd = -1, code;

	memset(h, 0, sizeof(*h));
	h->epoll_fd = -1;
	h->ops = ops;
	h->ctx = ctx;
	h->log = log;
	snprintf(h->addr, sizeof(h->addr), "%s", addrport);
	code = nh_http_parse_addr(addrport, &ss, &sl);
	if (code) {
		nh_err(log,
		       "metrics.listen: \"%s\" is not ADDR:PORT (an IPv4 address, or an IPv6 "
		       "address in brackets, and a port)",
		       addrport);
		goto cleanup;
	}
	fd = listen_on(&ss, sl, &code);
	if (code) {
		nh_err(log, "cannot listen on %s for metrics: %s", addrport, strerror(-code));
		goto cleanup;
	}
	/* External epoll mode: no thread; MHD_run does the work when asked. */
	h->daemon = MHD_start_daemon(
	    MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, answer, h, MHD_OPTION_EXTERNAL_LOGGER,
	    mhd_log, h, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)NH_HTTPD_MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned)NH_HTTPD_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)NH_HTTPD_TIMEOUT_S,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_END);
	if (!h->daemon) {
		nh_err(log, "cannot serve HTTP on %s: libmicrohttpd did not start", addrport);
		code = -EIO;
		goto cleanup;
	}
	fd = -1; /* MHD_stop_daemon closes it from here */
	info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	h->epoll_fd = info ? info->epoll_fd : -1;
	if (h->epoll_fd < 0)
		code = -EIO;
	else
		code = epoll_ctl(epfd, EPOLL_CTL_ADD, h->epoll_fd, &ev) ? -errno : 0;
	if (code) {
		nh_err(log, "cannot serve HTTP on %s: %s", addrport, strerror(-code));
		goto cleanup;
	}
	h->serving = true;
	nh_info(log, "metrics on http://%s/metrics, health on /healthz and /readyz", addrport);
cleanup:
	/* Whether a daemon that did not start closed the socket is not
	 * documented; nothing else can have reused the number. */
	if (fd >= 0 && fcntl(fd, F_GETFD) >= 0)
		close(fd);
	if (code)
		nh_httpd_close(h);
	return code;
}

void nh_httpd_close(struct nh_httpd *h)
{
	/* Closes the listening socket, the connections and the epoll fd,
	 * which leaves the agent's set with it. */
	if (h->daemon)
		MHD_stop_daemon(h->daemon);
	h->daemon = NULL;
	h->epoll_fd = -1;
	h->serving = false;
}

int nh_httpd_wait_ms(struct nh_httpd *h, int wait_ms)
{
	MHD_UNSIGNED_LONG_LONG t = 0;

	h->due = h->daemon && MHD_get_timeout(h->daemon, &t) == MHD_YES;
	if (!h->due)
		return wait_ms;
	if (t > INT_MAX)
		t = INT_MAX;
	return wait_ms < 0 || (int)t < wait_ms ? (int)t : wait_ms;
}

void nh_httpd_run(struct nh_httpd *h, bool ready)
{
	uint64_t now;

	if (!h->daemon)
		return;
	/* Past the deadline: shut, and libmicrohttpd closes it on this run. */
	now = h->nconns ? nh_clock_mono_ns() : 0;
	for (size_t i = 0; i < h->nconns; i++)
		if (now - h->conns[i].start_ns > NH_HTTPD_DEADLINE_NS &&
		    shutdown(h->conns[i].fd, SHUT_RDWR) == 0) {
			h->conns[i].start_ns = now; /* once */
			h->cut++;
			ready = true;
		}
	/* With a timeout pending, libmicrohttpd must run after every wait,
	 * whatever epoll reported. */
	if (ready || h->due)
		MHD_run(h->daemon);
}
