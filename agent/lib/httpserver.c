// SPDX-License-Identifier: Apache-2.0
#include "httpserver.h"
#include "clock.h"
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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
	struct nh_http_server *h = cls;
	char line[512];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	nh_log(h->log, h->serving ? NH_LOG_DEBUG : NH_LOG_WARN, "http %s: %s", h->addr, line);
}

/* Each connection's socket and start, for the deadline. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct nh_http_server *h = cls;

	(void)socket_context;
	if (!info)
		return;
	if (code == MHD_CONNECTION_NOTIFY_STARTED && h->nconns < NH_HTTP_MAX_CONNECTIONS) {
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

int nh_http_server_open(struct nh_http_server *h, const char *addrport, const char *what,
			MHD_AccessHandlerCallback answer, void *cls, const struct nh_log *log)
{
	const union MHD_DaemonInfo *info;
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	int fd = -1, code;

	memset(h, 0, sizeof(*h));
	h->epoll_fd = -1;
	h->log = log;
	snprintf(h->addr, sizeof(h->addr), "%s", addrport);
	code = nh_http_parse_addr(addrport, &ss, &sl);
	if (code) {
		nh_err(log,
		       "%s: \"%s\" is not ADDR:PORT (an IPv4 address, or an IPv6 "
		       "address in brackets, and a port)",
		       what, addrport);
		goto cleanup;
	}
	fd = listen_on(&ss, sl, &code);
	if (code) {
		nh_err(log, "%s: cannot listen on %s: %s", what, addrport, strerror(-code));
		goto cleanup;
	}
	/* External epoll mode: no thread; MHD_run does the work when asked. */
	h->daemon =
	    MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, answer, cls,
			     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h, MHD_OPTION_LISTEN_SOCKET, fd,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned)NH_HTTP_MAX_CONNECTIONS,
			     MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)NH_HTTP_PER_IP,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)NH_HTTP_TIMEOUT_S,
			     MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_END);
	if (!h->daemon) {
		nh_err(log, "%s: cannot serve HTTP on %s: libmicrohttpd did not start", what,
		       addrport);
		code = -EIO;
		goto cleanup;
	}
	fd = -1; /* MHD_stop_daemon closes it from here */
	info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	h->epoll_fd = info ? info->epoll_fd : -1;
	if (h->epoll_fd < 0) {
		code = -EIO;
		nh_err(log, "%s: cannot serve HTTP on %s: no epoll descriptor", what, addrport);
		goto cleanup;
	}
	h->serving = true;
cleanup:
	/* Whether a daemon that did not start closed the socket is not
	 * documented; nothing else can have reused the number. */
	if (fd >= 0 && fcntl(fd, F_GETFD) >= 0)
		close(fd);
	if (code)
		nh_http_server_close(h);
	return code;
}

void nh_http_server_close(struct nh_http_server *h)
{
	/* Closes the listening socket, the connections and the epoll fd. */
	if (h->daemon)
		MHD_stop_daemon(h->daemon);
	h->daemon = NULL;
	h->epoll_fd = -1;
	h->serving = false;
}

int nh_http_server_wait_ms(struct nh_http_server *h, int wait_ms)
{
	MHD_UNSIGNED_LONG_LONG t = 0;

	h->due = h->daemon && MHD_get_timeout(h->daemon, &t) == MHD_YES;
	if (!h->due)
		return wait_ms;
	if (t > INT_MAX)
		t = INT_MAX;
	return wait_ms < 0 || (int)t < wait_ms ? (int)t : wait_ms;
}

void nh_http_server_run(struct nh_http_server *h, bool ready)
{
	uint64_t now;

	if (!h->daemon)
		return;
	/* Past the deadline: shut, and libmicrohttpd closes it on this run. */
	now = h->nconns ? nh_clock_mono_ns() : 0;
	for (size_t i = 0; i < h->nconns; i++)
		if (now - h->conns[i].start_ns > NH_HTTP_DEADLINE_NS &&
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
