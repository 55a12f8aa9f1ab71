/* SPDX-License-Identifier: Apache-2.0 */
/*
 * httpserver: one libmicrohttpd daemon with the limits both daemons'
 * endpoints need against clients that hold connections open (a slow or
 * hostile scraper must not starve the kubelet's probes): a connection
 * cap, a cap per client address, an idle timeout and a deadline for a
 * whole connection however busy it keeps itself. Run in external epoll
 * mode: the owner waits on epoll_fd (the agent in its loop, the
 * collector in its telemetry thread) and calls nh_http_server_run.
 */
#ifndef NH_HTTPSERVER_H
#define NH_HTTPSERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "log.h"

#define NH_HTTP_MAX_CONNECTIONS 64
#define NH_HTTP_PER_IP		4  /* one client cannot take every slot */
#define NH_HTTP_TIMEOUT_S	10 /* idle */
/* A whole connection, however busy: libmicrohttpd's timeout counts idle
 * time only, so a byte every few seconds would hold a slot for ever. */
#define NH_HTTP_DEADLINE_NS (5 * 1000000000ULL)

struct nh_http_server {
	void *daemon; /* struct MHD_Daemon * */
	int epoll_fd; /* the daemon's: readable when it has work */
	bool due;     /* libmicrohttpd has a timeout pending: run it after every wait */
	bool serving; /* started: libmicrohttpd's messages are per-connection now */
	const struct nh_log *log;
	char addr[128];
	struct {
		int fd;
		uint64_t start_ns; /* CLOCK_MONOTONIC */
	} conns[NH_HTTP_MAX_CONNECTIONS];
	size_t nconns;
	uint64_t cut; /* connections shut for outliving the deadline */
};

/* Listen on "ADDR:PORT" (IPv4, or [IPv6] in brackets) and serve answer
 * (called with cls). what names the setting in errors ("metrics.listen").
 * A bad address or a failed bind is logged naming the address; -errno. */
int nh_http_server_open(struct nh_http_server *h, const char *addrport, const char *what,
			MHD_AccessHandlerCallback answer, void *cls, const struct nh_log *log);
void nh_http_server_close(struct nh_http_server *h);

/* The longest the owner may wait (ms, -1 forever) given that it wants to
 * wait at most wait_ms: timeouts and pending work must not wait. */
int nh_http_server_wait_ms(struct nh_http_server *h, int wait_ms);
/* After the wait: serve what is ready (ready: epoll_fd was readable),
 * expire idle connections and shut those past the deadline. */
void nh_http_server_run(struct nh_http_server *h, bool ready);

#endif
