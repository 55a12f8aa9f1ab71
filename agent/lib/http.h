/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http: the glue both daemons' HTTP endpoints share over libmicrohttpd:
 * the listen address syntax and a plain answer.
 */
#ifndef NH_HTTP_H
#define NH_HTTP_H

#include <stddef.h>
#include <sys/socket.h>

struct MHD_Connection;

/* "127.0.0.1:9464" or "[::1]:9464"; a port of 1..65535 in digits only.
 * 0 or -EINVAL. */
int nh_http_parse_addr(const char *addrport, struct sockaddr_storage *ss, socklen_t *len);

/* Queue body (copied) with code and content type; GET/HEAD are named in
 * Allow on a 405. Returns libmicrohttpd's MHD_YES/MHD_NO. */
int nh_http_reply(struct MHD_Connection *c, unsigned code, const char *type, const char *body,
		  size_t len);

/* The same, handing over body (malloc'd): freed by libmicrohttpd once
 * sent, or here when it cannot be queued. Saves copying a large body. */
int nh_http_reply_owned(struct MHD_Connection *c, unsigned code, const char *type, char *body,
			size_t len);

#endif
