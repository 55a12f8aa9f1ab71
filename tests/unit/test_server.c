/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for agent/server.c: request parsing and filter matching on
 * their own, then the socket end to end, driven by hand from epoll_wait
 * the way the agent's main loop drives it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "check.h"
#include "decode.h"
#include "nhiscope.h"
#include "server.h"

#define BIT(k) (1ull << (k))

/* Parse @req_text and run nh_filter_parse on it. */
static int parse_filter(const char *req_text, struct nh_filter *f, char *err, size_t errlen)
{
	json_object *req = json_tokener_parse(req_text);
	int rc;

	if (!req) {
		fprintf(stderr, "  (test bug: bad JSON %s)\n", req_text);
		return 1;
	}
	err[0] = '\0';
	rc = nh_filter_parse(req, f, err, errlen);
	json_object_put(req);
	return rc;
}

static void expect_bad(const char *req_text, const char *needle)
{
	struct nh_filter f;
	char err[256];
	int rc = parse_filter(req_text, &f, err, sizeof(err));

	if (rc != -EINVAL || !strstr(err, needle))
		fprintf(stderr, "  (%s -> rc %d, \"%s\")\n", req_text, rc, err);
	CHECK(rc == -EINVAL);
	CHECK(strstr(err, needle) != NULL);
}

static void test_filter_parse(void)
{
	struct nh_filter f;
	char err[256], big[NH_IDENTITY_PATTERN_MAX + 64], small[16];
	uint64_t all = 0;
	json_object *req, *kinds;
	size_t n;

	CHECK(parse_filter("{}", &f, err, sizeof(err)) == 0);
	CHECK_STR(f.identity, "");
	CHECK(f.kinds == 0 && f.pid == 0);

	/* whatever was in the filter before is cleared */
	memset(&f, 0x5a, sizeof(f));
	CHECK(parse_filter("{\"op\":\"tail\"}", &f, err, sizeof(err)) == 0);
	CHECK(f.identity[0] == '\0' && f.kinds == 0 && f.pid == 0);

	CHECK(parse_filter("{\"op\":\"tail\",\"identity\":\"k8s:pod/*\",\"kinds\":[\"open\","
			   "\"exec\"],\"pid\":123}",
			   &f, err, sizeof(err)) == 0);
	CHECK_STR(f.identity, "k8s:pod/*");
	CHECK(f.kinds == (BIT(NH_KIND_OPEN) | BIT(NH_KIND_EXEC)));
	CHECK(f.pid == 123);

	CHECK(parse_filter("{\"kinds\":[\"loss\"]}", &f, err, sizeof(err)) == 0);
	CHECK(f.kinds == BIT(NH_KIND_LOSS));
	CHECK(parse_filter("{\"kinds\":[\"connect\",\"loss\",\"connect\"]}", &f, err,
			   sizeof(err)) == 0);
	CHECK(f.kinds == (BIT(NH_KIND_LOSS) | BIT(NH_KIND_CONNECT)));
	/* an empty list asks for nothing in particular */
	CHECK(parse_filter("{\"kinds\":[]}", &f, err, sizeof(err)) == 0);
	CHECK(f.kinds == 0);

	/* every kind by name */
	req = json_object_new_object();
	kinds = json_object_new_array();
	for (uint32_t k = NH_KIND_NONE + 1; k < NH_KIND_MAX; k++) {
		if (!nh_kind_named(k))
			continue;
		json_object_array_add(kinds, json_object_new_string(nh_kind_name(k)));
		all |= BIT(k);
	}
	json_object_object_add(req, "kinds", kinds);
	CHECK(nh_filter_parse(req, &f, err, sizeof(err)) == 0);
	CHECK(f.kinds == all);
	json_object_put(req);

	/* identity: a string that fits */
	n = sizeof(f.identity) - 1;
	memcpy(big, "{\"identity\":\"", 13);
	memset(big + 13, 'a', n);
	memcpy(big + 13 + n, "\"}", 3);
	CHECK(parse_filter(big, &f, err, sizeof(err)) == 0);
	CHECK(strlen(f.identity) == n);
	memset(big + 13, 'a', n + 1);
	memcpy(big + 13 + n + 1, "\"}", 3);
	expect_bad(big, "\"identity\"");
	expect_bad("{\"identity\":5}", "\"identity\"");
	expect_bad("{\"identity\":null}", "\"identity\"");
	expect_bad("{\"identity\":[\"user:root\"]}", "\"identity\"");

	/* kinds: the unknown name is named */
	expect_bad("{\"kinds\":[\"open\",\"bogus\"]}", "\"bogus\"");
	expect_bad("{\"kinds\":[\"none\"]}", "\"none\"");
	expect_bad("{\"kinds\":[\"OPEN\"]}", "\"OPEN\"");
	expect_bad("{\"kinds\":[null]}", "\"kinds\"");
	expect_bad("{\"kinds\":[6]}", "\"kinds\"");
	expect_bad("{\"kinds\":\"open\"}", "\"kinds\"");
	expect_bad("{\"kinds\":{\"open\":true}}", "\"kinds\"");

	/* pid: a positive 32-bit integer */
	CHECK(parse_filter("{\"pid\":1}", &f, err, sizeof(err)) == 0);
	CHECK(f.pid == 1);
	CHECK(parse_filter("{\"pid\":2147483647}", &f, err, sizeof(err)) == 0);
	CHECK(f.pid == 2147483647u);
	expect_bad("{\"pid\":0}", "\"pid\"");
	expect_bad("{\"pid\":-1}", "\"pid\"");
	expect_bad("{\"pid\":2147483648}", "\"pid\"");
	expect_bad("{\"pid\":99999999999999999999}", "\"pid\"");
	expect_bad("{\"pid\":\"123\"}", "\"pid\"");
	expect_bad("{\"pid\":12.5}", "\"pid\"");
	expect_bad("{\"pid\":true}", "\"pid\"");
	expect_bad("{\"pid\":null}", "\"pid\"");

	/* a short error buffer still gets a terminated message */
	memset(small, 'x', sizeof(small));
	CHECK(parse_filter("{\"kinds\":[\"bogus\"]}", &f, small, sizeof(small)) == -EINVAL);
	CHECK(memchr(small, '\0', sizeof(small)) != NULL);
}

static void test_filter_match(void)
{
	struct nh_filter f;

	memset(&f, 0, sizeof(f));
	/* the empty filter takes everything, loss notices included */
	CHECK(nh_filter_match(&f, NH_KIND_OPEN, 1, 1, "user:root"));
	CHECK(nh_filter_match(&f, NH_KIND_EXEC, 5, 6, NULL));
	CHECK(nh_filter_match(&f, NH_KIND_LOSS, 0, 0, NULL));

	f.kinds = BIT(NH_KIND_OPEN) | BIT(NH_KIND_CONNECT);
	CHECK(nh_filter_match(&f, NH_KIND_OPEN, 1, 1, NULL));
	CHECK(nh_filter_match(&f, NH_KIND_CONNECT, 1, 1, NULL));
	CHECK(!nh_filter_match(&f, NH_KIND_EXEC, 1, 1, NULL));
	CHECK(!nh_filter_match(&f, NH_KIND_SUMMARY, 1, 1, NULL));
	/* kinds out of range match nothing */
	CHECK(!nh_filter_match(&f, NH_KIND_LOSS, 1, 1, NULL));
	CHECK(!nh_filter_match(&f, 0xffffffff, 1, 1, NULL));
	f.kinds = BIT(NH_KIND_LOSS);
	CHECK(nh_filter_match(&f, NH_KIND_LOSS, 1, 1, NULL));
	CHECK(!nh_filter_match(&f, 0xffffffff, 1, 1, NULL));
	f.kinds = BIT(NH_KIND_CREDENTIAL_USE);
	CHECK(nh_filter_match(&f, NH_KIND_CREDENTIAL_USE, 1, 1, NULL));
	CHECK(!nh_filter_match(&f, NH_KIND_LOSS, 1, 1, NULL));
	CHECK(!nh_filter_match(&f, NH_KIND_OPEN, 1, 1, NULL));

	memset(&f, 0, sizeof(f));
	f.pid = 500;
	CHECK(nh_filter_match(&f, NH_KIND_OPEN, 500, 501, NULL));
	CHECK(nh_filter_match(&f, NH_KIND_OPEN, 400, 500, NULL));
	CHECK(!nh_filter_match(&f, NH_KIND_OPEN, 400, 401, NULL));
	CHECK(!nh_filter_match(&f, NH_KIND_OPEN, 0, 0, NULL));

	memset(&f, 0, sizeof(f));
	snprintf(f.identity, sizeof(f.identity), "k8s:pod/*");
	CHECK(nh_filter_match(&f, NH_KIND_OPEN, 1, 1,
			      "k8s:pod/7d5e3e0c-3c1f-4f4b-9a8e-2b1c0d9e8f7a"));
	CHECK(!nh_filter_match(&f, NH_KIND_OPEN, 1, 1, "user:root"));
	CHECK(!nh_filter_match(&f, NH_KIND_OPEN, 1, 1, "k8s:po"));
	CHECK(!nh_filter_match(&f, NH_KIND_OPEN, 1, 1, ""));
	CHECK(!nh_filter_match(&f, NH_KIND_OPEN, 1, 1, NULL));
	snprintf(f.identity, sizeof(f.identity), "user:root");
	CHECK(nh_filter_match(&f, NH_KIND_OPEN, 1, 1, "user:root"));
	CHECK(!nh_filter_match(&f, NH_KIND_OPEN, 1, 1, "user:rootkit"));
	snprintf(f.identity, sizeof(f.identity), "container:[0-9a-f]*");
	CHECK(nh_filter_match(&f, NH_KIND_OPEN, 1, 1, "container:0123456789ab"));
	CHECK(!nh_filter_match(&f, NH_KIND_OPEN, 1, 1, "container:X123456789ab"));

	/* all conditions must hold at once */
	f.kinds = BIT(NH_KIND_EXEC);
	f.pid = 42;
	CHECK(nh_filter_match(&f, NH_KIND_EXEC, 42, 42, "container:abc"));
	CHECK(!nh_filter_match(&f, NH_KIND_OPEN, 42, 42, "container:abc"));
	CHECK(!nh_filter_match(&f, NH_KIND_EXEC, 41, 41, "container:abc"));
	CHECK(!nh_filter_match(&f, NH_KIND_EXEC, 42, 42, "unit:abc"));
}

/* ---- end to end ---- */

static char tmpdir[32];
static int status_calls;

static json_object *status_cb(void *ctx, const char *op, json_object *req)
{
	json_object *o;

	(void)req;
	if (strcmp(op, "status") != 0)
		return NULL;
	o = json_object_new_object();
	status_calls++;
	json_object_object_add(o, "agent", json_object_new_string(ctx));
	json_object_object_add(o, "op", json_object_new_string(op));
	json_object_object_add(o, "events", json_object_new_int64(7));
	return o;
}

/* Serve whatever epoll reports until it has been quiet for a while. */
static void pump(struct nh_server *srv)
{
	struct epoll_event evs[16];

	for (int round = 0; round < 200; round++) {
		int n = epoll_wait(srv->epfd, evs, 16, 20);

		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == srv)
				nh_server_accept(srv);
			else if (nh_server_is_client(srv, evs[i].data.ptr))
				nh_server_client_io(srv, evs[i].data.ptr, evs[i].events);
		}
	}
}

static int client_connect(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool client_send_len(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n <= 0)
			return false;
		s += n;
		len -= (size_t)n;
	}
	return true;
}

#define client_send(fd, s) client_send_len((fd), (s), strlen(s))

/* Everything the server has sent so far, NUL terminated; *eof when closed. */
static size_t client_read(int fd, char *buf, size_t cap, bool *eof)
{
	size_t len = 0;

	*eof = false;
	while (len < cap - 1) {
		ssize_t n = recv(fd, buf + len, cap - 1 - len, MSG_DONTWAIT);

		if (n == 0)
			*eof = true;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return len;
}

/* One request (@len 0: a string), answered by one line and a close;
 * returns the line parsed. */
static json_object *one_shot(struct nh_server *srv, const char *req, size_t len)
{
	char buf[8192];
	bool eof;
	json_object *o;
	int fd = client_connect(srv->path);

	CHECK(fd >= 0);
	if (fd < 0)
		return NULL;
	CHECK(client_send_len(fd, req, len ? len : strlen(req)));
	pump(srv);
	client_read(fd, buf, sizeof(buf), &eof);
	CHECK(eof);
	close(fd);
	/* exactly one line */
	CHECK(strchr(buf, '\n') == buf + strlen(buf) - 1);
	o = json_tokener_parse(buf);
	CHECK(o && json_object_is_type(o, json_type_object));
	return o;
}

static const char *get_str(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static void publish(struct nh_server *srv, uint32_t kind, uint32_t pid, const char *identity,
		    const char *line)
{
	nh_server_publish(srv, NH_LINE_JSON, kind, pid, pid, identity, line, strlen(line));
}

static void test_socket_tail(void)
{
	char path[64], buf[8192];
	struct nh_server srv;
	struct stat st;
	bool eof;
	json_object *o;
	int epfd, c1, c2;

	snprintf(path, sizeof(path), "%s/agent.sock", tmpdir);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	CHECK(epfd >= 0);
	/* a stale socket file is replaced */
	CHECK(nh_server_open(&srv, path, 0600, epfd, 1 << 16, status_cb, "test") == 0);
	nh_server_close(&srv);
	CHECK(nh_server_open(&srv, path, 0600, epfd, 1 << 16, status_cb, "test") == 0);
	CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode));
	CHECK((st.st_mode & 0777) == 0600);

	/* the request may arrive in pieces */
	c1 = client_connect(path);
	CHECK(c1 >= 0);
	CHECK(client_send(c1, "{\"op\":\"ta"));
	{
		pump(&srv);
		CHECK(srv.nclients == 1 && srv.ntail == 0);
		CHECK(client_read(c1, buf, sizeof(buf), &eof) == 0 && !eof);
	}
	CHECK(client_send(c1, "il\",\"kinds\":[\"open\"]}\n"));
	pump(&srv);
	CHECK(srv.nclients == 1 && srv.ntail == 1);
	client_read(c1, buf, sizeof(buf), &eof);
	CHECK_STR(buf, "{\"ok\":true}\n");
	CHECK(!eof);

	/* a second subscriber for one process only */
	c2 = client_connect(path);
	CHECK(c2 >= 0);
	CHECK(client_send(c2, "{\"op\":\"tail\",\"pid\":77,\"identity\":\"user:*\"}\n"));
	pump(&srv);
	CHECK(srv.nclients == 2 && srv.ntail == 2);
	client_read(c2, buf, sizeof(buf), &eof);
	CHECK_STR(buf, "{\"ok\":true}\n");

	CHECK(nh_server_wants(&srv, NH_KIND_OPEN, 1, 1, "unit:x"));
	CHECK(nh_server_wants(&srv, NH_KIND_EXEC, 77, 78, "user:root"));
	CHECK(!nh_server_wants(&srv, NH_KIND_EXEC, 76, 78, "user:root"));
	CHECK(!nh_server_wants(&srv, NH_KIND_EXEC, 77, 77, "unit:x"));

	publish(&srv, NH_KIND_OPEN, 10, "unit:x", "{\"n\":1}");
	publish(&srv, NH_KIND_EXEC, 10, "unit:x", "{\"n\":2}");
	publish(&srv, NH_KIND_OPEN, 77, "user:root", "{\"n\":3}");
	publish(&srv, NH_KIND_EXEC, 77, "user:root", "{\"n\":4}");
	publish(&srv, NH_KIND_MAX, 0, NULL, "{\"n\":5}");
	/* nothing is sent before the flush */
	CHECK(client_read(c1, buf, sizeof(buf), &eof) == 0);
	nh_server_flush(&srv);
	client_read(c1, buf, sizeof(buf), &eof);
	CHECK_STR(buf, "{\"n\":1}\n{\"n\":3}\n");
	/* the loss (n:5) belongs to no pid or identity: c2 filters on both
	 * but takes every kind, so it must hear of it; c1 takes opens only */
	client_read(c2, buf, sizeof(buf), &eof);
	CHECK_STR(buf, "{\"n\":3}\n{\"n\":4}\n{\"n\":5}\n");
	CHECK(srv.dropped_total == 0);

	/* later requests on a tailing connection change nothing */
	CHECK(client_send(c1, "{\"op\":\"status\"}\n"));
	pump(&srv);
	CHECK(status_calls == 0);
	CHECK(srv.ntail == 2);
	CHECK(client_read(c1, buf, sizeof(buf), &eof) == 0 && !eof);

	/* bad requests get one error line, then the door */
	o = one_shot(&srv, "{\"op\":\"bogus\"}\n", 0);
	CHECK(o && get_str(o, "error") && strstr(get_str(o, "error"), "bogus"));
	json_object_put(o);
	o = one_shot(&srv, "hello\n", 0);
	CHECK(o && get_str(o, "error") && strstr(get_str(o, "error"), "\"op\""));
	json_object_put(o);
	o = one_shot(&srv, "[1,2]\n", 0);
	CHECK(o && get_str(o, "error") != NULL);
	json_object_put(o);
	o = one_shot(&srv, "{\"op\":\"tail\",\"kinds\":[\"opne\"]}\n", 0);
	CHECK(o && get_str(o, "error") && strstr(get_str(o, "error"), "\"opne\""));
	json_object_put(o);
	{
		/* no newline within the buffer */
		static char junk[4095];

		memset(junk, 'x', sizeof(junk));
		o = one_shot(&srv, junk, sizeof(junk));
		CHECK(o && get_str(o, "error") && strstr(get_str(o, "error"), "too long"));
		json_object_put(o);
	}
	/* "op" present but not a string: an error, not a crash */
	o = one_shot(&srv, "{\"op\":null}\n", 0);
	CHECK(o && get_str(o, "error") && strstr(get_str(o, "error"), "\"op\""));
	json_object_put(o);
	o = one_shot(&srv, "{\"op\":42}\n", 0);
	CHECK(o && get_str(o, "error") != NULL);
	json_object_put(o);
	CHECK(srv.nclients == 2 && srv.ntail == 2);

	/* status: the callback's object, then the door */
	o = one_shot(&srv, "{\"op\":\"status\"}\n", 0);
	CHECK(status_calls == 1);
	CHECK(o && get_str(o, "agent") && strcmp(get_str(o, "agent"), "test") == 0);
	if (o) {
		json_object *v;

		CHECK(json_object_object_get_ex(o, "events", &v) && json_object_get_int64(v) == 7);
	}
	json_object_put(o);
	CHECK(srv.nclients == 2);

	/* a subscriber that hangs up is forgotten */
	close(c2);
	pump(&srv);
	CHECK(srv.nclients == 1 && srv.ntail == 1);
	CHECK(!nh_server_wants(&srv, NH_KIND_EXEC, 77, 77, "user:root"));
	close(c1);
	pump(&srv);
	CHECK(srv.nclients == 0 && srv.ntail == 0);
	CHECK(!nh_server_wants(&srv, NH_KIND_OPEN, 1, 1, "unit:x"));

	nh_server_close(&srv);
	CHECK(srv.listen_fd == -1);
	CHECK(access(path, F_OK) != 0);
	close(epfd);
}

static void test_socket_drops(void)
{
	/* 39 bytes, 40 with the newline: two fit in 100, three do not */
	static const char line[] = "{\"kind\":\"open\",\"pad\":\"xxxxxxxxxxxxxxx\"}";
	char path[64], buf[8192], *nl;
	struct nh_server srv;
	struct stat st;
	json_object *o, *v;
	bool eof;
	int epfd, c;

	CHECK(strlen(line) == 39);
	snprintf(path, sizeof(path), "%s/slow.sock", tmpdir);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	CHECK(nh_server_open(&srv, path, 0660, epfd, 100, status_cb, "test") == 0);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0660);

	c = client_connect(path);
	CHECK(c >= 0);
	CHECK(client_send(c, "{\"op\":\"tail\",\"kinds\":[\"open\"]}\n"));
	pump(&srv);
	client_read(c, buf, sizeof(buf), &eof);
	CHECK_STR(buf, "{\"ok\":true}\n");

	for (int i = 0; i < 5; i++)
		publish(&srv, NH_KIND_OPEN, 1, "user:root", line);
	CHECK(srv.dropped_total == 3);
	CHECK(srv.nclients == 1 && srv.clients[0]->dropped == 3);
	nh_server_flush(&srv);
	/* the notice follows once there is room, through the writable event */
	pump(&srv);
	client_read(c, buf, sizeof(buf), &eof);
	CHECK(!eof);
	CHECK(strncmp(buf, line, 39) == 0 && buf[39] == '\n');
	CHECK(strncmp(buf + 40, line, 39) == 0 && buf[79] == '\n');
	nl = strchr(buf + 80, '\n');
	CHECK(nl != NULL && nl[1] == '\0');
	o = json_tokener_parse(buf + 80);
	CHECK(o != NULL);
	if (o) {
		CHECK_STR(get_str(o, "kind"), "loss");
		CHECK_STR(get_str(o, "source"), "subscriber");
		CHECK(json_object_object_get_ex(o, "count", &v) && json_object_get_int64(v) == 3);
	}
	json_object_put(o);
	CHECK(srv.clients[0]->dropped == 0);
	CHECK(srv.clients[0]->dropped_total == 3);

	/* back to normal: delivered, and no second notice */
	publish(&srv, NH_KIND_OPEN, 1, "user:root", line);
	nh_server_flush(&srv);
	pump(&srv);
	client_read(c, buf, sizeof(buf), &eof);
	CHECK(strlen(buf) == 40 && strncmp(buf, line, 39) == 0);
	CHECK(srv.dropped_total == 3);

	/* a line and its newline go together: 99 bytes fill the buffer, 100 do not fit */
	{
		char exact[101];

		memset(exact, 'y', sizeof(exact) - 1);
		exact[100] = '\0';
		publish(&srv, NH_KIND_OPEN, 1, "user:root", exact);
		CHECK(srv.dropped_total == 4);
		exact[99] = '\0';
		publish(&srv, NH_KIND_OPEN, 1, "user:root", exact);
		CHECK(srv.dropped_total == 4);
		CHECK(srv.clients[0]->out_len == 100);
		nh_server_flush(&srv);
		pump(&srv);
		client_read(c, buf, sizeof(buf), &eof);
		CHECK(strspn(buf, "y") == 99 && buf[99] == '\n');
		nl = strchr(buf, '\n');
		CHECK(nl != NULL && nl[1] != '\0');
		o = nl ? json_tokener_parse(nl + 1) : NULL;
		CHECK(o && json_object_object_get_ex(o, "count", &v) &&
		      json_object_get_int64(v) == 1);
		json_object_put(o);
	}

	close(c);
	pump(&srv);
	CHECK(srv.nclients == 0);
	nh_server_close(&srv);
	close(epfd);
}

/* A tail request that fills the input buffer exactly, followed by more
 * bytes: the subscriber stays (input after the request is ignored). */
static void test_full_request_then_more(void)
{
	static char req[4095];
	const char *head = "{\"op\":\"tail\",\"identity\":\"";
	struct nh_server srv;
	char path[PATH_MAX], buf[256];
	int epfd = epoll_create1(EPOLL_CLOEXEC), fd;
	bool eof;

	snprintf(path, sizeof(path), "%s/full.sock", tmpdir);
	CHECK(nh_server_open(&srv, path, 0600, epfd, 1 << 16, status_cb, "test") == 0);
	/* {"op":"tail","identity":"xxx...x"}\n with 4095 bytes in all */
	memset(req, 'x', sizeof(req));
	memcpy(req, head, strlen(head));
	memcpy(req + sizeof(req) - 3, "\"}\n", 3);
	fd = client_connect(path);
	CHECK(fd >= 0);
	pump(&srv);
	CHECK(client_send_len(fd, req, sizeof(req)));
	pump(&srv);
	client_read(fd, buf, sizeof(buf), &eof);
	/* the pattern is too long for a filter: an error and a close */
	CHECK(strstr(buf, "identity") != NULL);
	close(fd);
	pump(&srv);

	/* the same with a pattern that fits, padded with spaces to 4095 bytes */
	memset(req, ' ', sizeof(req));
	memcpy(req, "{\"op\":\"tail\"}", 13);
	req[sizeof(req) - 1] = '\n';
	fd = client_connect(path);
	CHECK(fd >= 0);
	pump(&srv);
	CHECK(client_send_len(fd, req, sizeof(req)));
	pump(&srv);
	CHECK(srv.ntail == 1);
	CHECK(client_send(fd, "more"));
	pump(&srv);
	CHECK(srv.ntail == 1 && srv.nclients == 1);
	close(fd);
	pump(&srv);
	CHECK(srv.nclients == 0);
	nh_server_close(&srv);
	close(epfd);
}

/* A live agent's socket and a file that is not a socket are never
 * removed; a stale socket is. */
static void test_socket_path_guard(void)
{
	struct nh_server a, b;
	char path[PATH_MAX];
	int epfd = epoll_create1(EPOLL_CLOEXEC), fd;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};

	CHECK(snprintf(path, sizeof(addr.sun_path), "%s/guard.sock", tmpdir) <
	      (int)sizeof(addr.sun_path));
	CHECK(nh_server_open(&a, path, 0600, epfd, 4096, status_cb, "test") == 0);
	CHECK(nh_server_open(&b, path, 0600, epfd, 4096, status_cb, "test") == -EADDRINUSE);
	CHECK(access(path, F_OK) == 0);
	nh_server_close(&a);

	/* a regular file where the socket should be */
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	CHECK(fd >= 0);
	close(fd);
	CHECK(nh_server_open(&b, path, 0600, epfd, 4096, status_cb, "test") == -ENOTSOCK);
	CHECK(access(path, F_OK) == 0);
	unlink(path);

	/* a stale socket: bound, never listened on, closed */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memcpy(addr.sun_path, path, strlen(path) + 1);
	CHECK(bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
	close(fd);
	CHECK(nh_server_open(&b, path, 0600, epfd, 4096, status_cb, "test") == 0);
	nh_server_close(&b);
	close(epfd);
}

static void test_open_errors(void)
{
	struct nh_server srv;
	char path[200];
	int epfd = epoll_create1(EPOLL_CLOEXEC);

	memset(path, 'p', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	CHECK(nh_server_open(&srv, path, 0600, epfd, 4096, status_cb, "test") == -ENAMETOOLONG);
	CHECK(srv.listen_fd == -1);
	snprintf(path, sizeof(path), "%s/no/such/dir.sock", tmpdir);
	CHECK(nh_server_open(&srv, path, 0600, epfd, 4096, status_cb, "test") == -ENOENT);
	CHECK(srv.listen_fd == -1);
	/* not an epoll fd */
	snprintf(path, sizeof(path), "%s/x.sock", tmpdir);
	CHECK(nh_server_open(&srv, path, 0600, -1, 4096, status_cb, "test") == -EBADF);
	CHECK(srv.listen_fd == -1);
	CHECK(access(path, F_OK) != 0);
	close(epfd);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Which requests only watch (root or socket.group) and which change
 * something (root only): an op not listed is root's. */
static void test_op_classes(void)
{
	CHECK(nh_server_op_watches("tail"));
	CHECK(nh_server_op_watches("status"));
	CHECK(nh_server_op_watches("credentials"));
	CHECK(nh_server_op_watches("profiles"));
	CHECK(nh_server_op_watches("profile"));
	CHECK(!nh_server_op_watches("profile_reset"));
	CHECK(!nh_server_op_watches("reload"));
	CHECK(!nh_server_op_watches(""));
	CHECK(!nh_server_op_watches("tails"));
}

int main(void)
{
	test_op_classes();
	test_filter_parse();
	test_filter_match();

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/nhsrv-XXXXXX");
	CHECK(mkdtemp(tmpdir) != NULL);
	test_socket_tail();
	test_socket_drops();
	test_open_errors();
	test_full_request_then_more();
	test_socket_path_guard();
	nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	CHECK(access(tmpdir, F_OK) != 0);
	return nh_check_report("server");
}
