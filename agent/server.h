/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server: the agent's Unix socket. A client sends one JSON request line:
 *   {"op":"tail","identity":"k8s:pod/<glob>","kinds":["open"],"pid":123,
 *    "format":"json"|"compact","color":false}
 *   {"op":"status"}
 *   {"op":"credentials"}
 *   {"op":"profiles"}  {"op":"profile","identity":K}  {"op":"profile_reset","identity":K}
 * and receives JSON lines (a compact tail: its lines, rendered by the
 * agent from the typed record). Filters run in the agent, so a narrow tail
 * costs nothing for unrelated events. A slow subscriber gets a bounded
 * buffer; what does not fit is dropped, counted, and announced to it.
 */
#ifndef NH_SERVER_H
#define NH_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#define NH_SERVER_MAX_CLIENTS	64
#define NH_IDENTITY_PATTERN_MAX 320

/* How a subscriber gets its events. */
enum nh_line_format {
	NH_LINE_JSON = 0, /* recordjson.h */
	NH_LINE_COMPACT,  /* compact.h */
	NH_LINE_COLOR,	  /* compact.h, coloured */
	NH_LINE_FORMATS,
};

struct nh_filter {
	char identity[NH_IDENTITY_PATTERN_MAX]; /* fnmatch(3) pattern, "" = any */
	uint64_t kinds;				/* bit per kind (decode.h); 0 = any */
	uint32_t pid;				/* process or thread id, 0 = any */
	enum nh_line_format format;
};

enum nh_client_state { NH_CLIENT_REQUEST, NH_CLIENT_TAIL, NH_CLIENT_DONE };

struct nh_client {
	int fd;
	enum nh_client_state state;
	struct nh_filter filter;
	char in[4096];
	size_t in_len;
	char *out;
	size_t out_len, out_cap;
	uint64_t dropped; /* events dropped since the last notice */
	uint64_t dropped_total;
};

/* Answers a query (any op but "tail"): a new object, or NULL when the op
 * is unknown. req is the whole request. */
typedef json_object *(*nh_status_fn)(void *ctx, const char *op, json_object *req);

struct nh_server {
	int listen_fd;
	int epfd;
	char path[108];
	bool bound;	/* path is ours to unlink */
	size_t max_out; /* per-client buffered bytes before dropping */
	struct nh_client *clients[NH_SERVER_MAX_CLIENTS];
	int nclients;
	int ntail; /* clients in the tail state */
	nh_status_fn status;
	void *status_ctx;
	uint64_t dropped_total;
};

/* Create the socket with mode (0600: root only) and register it in epfd
 * with data.ptr = srv. */
int nh_server_open(struct nh_server *srv, const char *path, mode_t mode, int epfd, size_t max_out,
		   nh_status_fn status, void *status_ctx);
void nh_server_close(struct nh_server *srv);

/* Called when epoll reports the listening socket ready. */
void nh_server_accept(struct nh_server *srv);
/* Called when epoll reports a client ready (data.ptr == client). */
void nh_server_client_io(struct nh_server *srv, struct nh_client *c, uint32_t events);
bool nh_server_is_client(const struct nh_server *srv, const void *ptr);

/* Whether any tail subscriber would take this event. */
bool nh_filter_match(const struct nh_filter *f, uint32_t kind, uint32_t pid, uint32_t tid,
		     const char *identity);
/* Parse a tail request object into a filter; on error writes a message
 * naming the bad field into err and returns -EINVAL. */
int nh_filter_parse(json_object *req, struct nh_filter *f, char *err, size_t errlen);

/* Deliver one line (without newline) to every matching subscriber that
 * takes format fmt. */
void nh_server_publish(struct nh_server *srv, enum nh_line_format fmt, uint32_t kind, uint32_t pid,
		       uint32_t tid, const char *identity, const char *line, size_t len);
/* Push queued output to subscribers; called once per batch of events. */
void nh_server_flush(struct nh_server *srv);
bool nh_server_wants(const struct nh_server *srv, uint32_t kind, uint32_t pid, uint32_t tid,
		     const char *identity);
/* The formats (bit 1 << enum nh_line_format) matching subscribers take. */
uint32_t nh_server_formats(const struct nh_server *srv, uint32_t kind, uint32_t pid, uint32_t tid,
			   const char *identity);

#endif
