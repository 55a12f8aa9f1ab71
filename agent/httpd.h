/* SPDX-License-Identifier: Apache-2.0 */
/*
 * httpd: the agent's HTTP endpoints, /metrics, /healthz and /readyz, served
 * by libmicrohttpd inside the agent's own epoll loop (no thread): the
 * daemon's epoll fd sits in the agent's set and requests are answered
 * between two batches of events, from the agent's state as it is, with no
 * locks. A stuck loop therefore answers nothing, which is what a liveness
 * probe must see. The only agent module that knows about libmicrohttpd.
 */
#ifndef NH_HTTPD_H
#define NH_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "httpserver.h"
#include "log.h"

struct nh_httpd_ops {
	/* /metrics: the exposition text in a malloc'd buffer (freed here);
	 * 0 or -errno. */
	int (*metrics)(void *ctx, char **text, size_t *len);
	/* /readyz: NULL when ready, else why not (one line). */
	const char *(*not_ready)(void *ctx);
};

struct nh_httpd {
	struct nh_http_server srv; /* limits and deadline: agent/lib/httpserver.h */
	void *daemon;		   /* srv's, NULL when not serving */
	const struct nh_httpd_ops *ops;
	void *ctx;
	const struct nh_log *log;
};

/*
 * Listen on "ADDR:PORT" (IPv4, or [IPv6] in brackets) and register the
 * daemon in epfd with data.ptr = h. A bad address or a failed bind is
 * logged naming the address; returns -errno.
 */
int nh_httpd_open(struct nh_httpd *h, const char *addrport, int epfd,
		  const struct nh_httpd_ops *ops, void *ctx, const struct nh_log *log);
void nh_httpd_close(struct nh_httpd *h);

/* The longest the loop may wait (ms, -1 forever) given that it wants to
 * wait at most wait_ms: libmicrohttpd's connection timeouts and pending
 * work must not wait for the next event. */
int nh_httpd_wait_ms(struct nh_httpd *h, int wait_ms);
/* After the wait: serve what is ready (ready: epoll reported the
 * daemon's fd), expire idle connections and shut those past the
 * deadline. */
void nh_httpd_run(struct nh_httpd *h, bool ready);

#endif
