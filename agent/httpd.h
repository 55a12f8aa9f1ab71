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

#include "log.h"

#define NH_HTTPD_MAX_CONNECTIONS 64
#define NH_HTTPD_PER_IP		 4  /* one client cannot take every slot */
#define NH_HTTPD_TIMEOUT_S	 10 /* idle */
/* A whole connection, however busy: libmicrohttpd's timeout counts idle
 * time only, so a byte every few seconds would hold a slot for ever. */
#define NH_HTTPD_DEADLINE_NS (5 * 1000000000ULL)

struct nh_httpd_ops {
	/* /metrics: the exposition text in a malloc'd buffer (freed here);
	 * 0 or -errno. */
	int (*metrics)(void *ctx, char **text, size_t *len);
	/* /readyz: NULL when ready, else why not (one line). */
	const char *(*not_ready)(void *ctx);
};

struct nh_httpd {
	void *daemon; /* struct MHD_Daemon *, opaque outside httpd.c */
	int epoll_fd; /* the daemon's, registered in the agent's set */
	bool due;     /* libmicrohttpd has a timeout pending: run it after every wait */
	const struct nh_httpd_ops *ops;
	void *ctx;
	const struct nh_log *log;
	bool serving; /* started: libmicrohttpd's messages are per-connection now */
	char addr[128];
	struct {
		int fd;
		uint64_t start_ns; /* CLOCK_MONOTONIC */
	} conns[NH_HTTPD_MAX_CONNECTIONS];
	size_t nconns;
	uint64_t cut; /* connections shut for outliving the deadline */
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
