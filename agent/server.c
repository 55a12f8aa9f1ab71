// SPDX-License-Identifier: Apache-2.0
#include "server.h"
#include "jsonw.h"

#include <errno.h>
#include <fnmatch.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "decode.h"
#include "nhiscope.h"

/* A socket left by a crashed agent would make bind fail, so it goes; but
 * never a file that is not a socket, nor the socket of a live agent. */
static int remove_stale(const char *path, const struct sockaddr_un *addr)
{
	struct stat st;
	int fd, live;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	live = connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0;
	close(fd);
	if (live)
		return -EADDRINUSE;
	return unlink(path) ? -errno : 0;
}

int nh_server_open(struct nh_server *srv, const char *path, mode_t mode, int epfd, size_t max_out,
		   nh_status_fn status, void *status_ctx)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct epoll_event ev = {.events = EPOLLIN};
	mode_t old_mask;
	int code = 0;

	memset(srv, 0, sizeof(*srv));
	srv->listen_fd = -1;
	srv->epfd = epfd;
	srv->max_out = max_out;
	srv->status = status;
	srv->status_ctx = status_ctx;
	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	snprintf(srv->path, sizeof(srv->path), "%s", path);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);

	srv->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->listen_fd < 0) {
		code = -errno;
		goto cleanup;
	}
	code = remove_stale(path, &addr);
	if (code)
		goto cleanup;
	/* Bind under a umask so the socket is never briefly world-usable. */
	old_mask = umask(~mode & 0777);
	if (bind(srv->listen_fd, (struct sockaddr *)&addr, sizeof(addr)))
		code = -errno;
	else
		srv->bound = true;
	umask(old_mask);
	if (code)
		goto cleanup;
	/* No chmod: the umask above set the mode, and chmod would follow a
	 * symlink swapped in after bind. */
	if (listen(srv->listen_fd, 16)) {
		code = -errno;
		goto cleanup;
	}
	ev.data.ptr = srv;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, srv->listen_fd, &ev))
		code = -errno;
cleanup:
	if (code)
		nh_server_close(srv);
	return code;
}

static void client_free(struct nh_server *srv, struct nh_client *c)
{
	for (int i = 0; i < srv->nclients; i++) {
		if (srv->clients[i] != c)
			continue;
		srv->clients[i] = srv->clients[--srv->nclients];
		break;
	}
	if (c->state == NH_CLIENT_TAIL)
		srv->ntail--;
	epoll_ctl(srv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->out);
	free(c);
}

void nh_server_close(struct nh_server *srv)
{
	while (srv->nclients)
		client_free(srv, srv->clients[0]);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	/* Only our own socket: a failed open must not remove another's. */
	if (srv->bound)
		unlink(srv->path);
	srv->bound = false;
	srv->listen_fd = -1;
}

int nh_server_set_watch_group(struct nh_server *srv, gid_t gid)
{
	srv->have_watch_gid = true;
	srv->watch_gid = gid;
	/* lchown: the directory is root's, and a symlink swapped in for the
	 * socket must not hand another file to the group. */
	if (srv->bound && lchown(srv->path, (uid_t)-1, gid))
		return -errno;
	return 0;
}

bool nh_server_op_watches(const char *op)
{
	static const char *const watch[] = {"tail", "status", "credentials", "profiles", "profile"};

	for (size_t i = 0; i < sizeof(watch) / sizeof(watch[0]); i++)
		if (strcmp(op, watch[i]) == 0)
			return true;
	return false;
}

/* Root always; otherwise the watch group as the peer's primary or one of
 * its supplementary groups (SO_PEERGROUPS, as they were at connect). */
static bool peer_may_watch(const struct nh_server *srv, int fd, const struct ucred *cred)
{
	gid_t groups[256];
	socklen_t len = sizeof(groups);

	if (cred->uid == 0)
		return true;
	if (!srv->have_watch_gid)
		return false;
	if (cred->gid == srv->watch_gid)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len))
		return false; /* more groups than fit, or an old kernel: not proven */
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == srv->watch_gid)
			return true;
	return false;
}

bool nh_server_is_client(const struct nh_server *srv, const void *ptr)
{
	for (int i = 0; i < srv->nclients; i++)
		if (srv->clients[i] == ptr)
			return true;
	return false;
}

void nh_server_accept(struct nh_server *srv)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct nh_client *c;
	int fd;

	while ((fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct ucred cred;
		socklen_t len = sizeof(cred);

		if (srv->nclients >= NH_SERVER_MAX_CLIENTS || !(c = calloc(1, sizeof(*c)))) {
			close(fd);
			continue;
		}
		/* No credentials, no access: such a peer is treated as nobody. */
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
			cred = (struct ucred){.pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1};
		c->uid = cred.uid;
		c->pid = cred.pid;
		c->may_watch = peer_may_watch(srv, fd, &cred);
		c->fd = fd;
		c->state = NH_CLIENT_REQUEST;
		ev.data.ptr = c;
		if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			free(c);
			continue;
		}
		srv->clients[srv->nclients++] = c;
	}
}

/* Append to the client's buffer; false when over the bound. */
static bool client_queue(struct nh_server *srv, struct nh_client *c, const char *data, size_t len)
{
	size_t need = c->out_len + len;

	if (need > srv->max_out)
		return false;
	if (need > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *p;

		while (cap < need)
			cap *= 2;
		p = realloc(c->out, cap);
		if (!p)
			return false;
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
	return true;
}

/* Write what the socket takes; returns -errno when the peer is gone. */
static int client_flush(struct nh_server *srv, struct nh_client *c)
{
	struct epoll_event ev = {.data.ptr = c};
	size_t off = 0;

	while (off < c->out_len) {
		ssize_t n = send(c->fd, c->out + off, c->out_len - off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return -errno;
		}
		off += n;
	}
	if (off) {
		memmove(c->out, c->out + off, c->out_len - off);
		c->out_len -= off;
	}
	/* Tell the subscriber what it missed once there is room again. */
	if (c->dropped && c->out_len < srv->max_out / 2) {
		char notice[160];
		int n =
		    c->filter.format == NH_LINE_JSON
			? snprintf(notice, sizeof(notice),
				   "{\"kind\":\"loss\",\"source\":\"subscriber\",\"count\":%llu}\n",
				   (unsigned long long)c->dropped)
			: snprintf(notice, sizeof(notice),
				   "loss     %llu events lost (subscriber)\n",
				   (unsigned long long)c->dropped);

		if (client_queue(srv, c, notice, n))
			c->dropped = 0;
	}
	ev.events = EPOLLIN | (c->out_len ? EPOLLOUT : 0);
	epoll_ctl(srv->epfd, EPOLL_CTL_MOD, c->fd, &ev);
	return 0;
}

static void reply_error(struct nh_server *srv, struct nh_client *c, const char *msg)
{
	json_object *o = json_object_new_object();
	const char *s;

	json_object_object_add(o, "error", json_object_new_string(msg));
	s = json_object_to_json_string_ext(o, NH_JSON_FLAGS);
	client_queue(srv, c, s, strlen(s));
	client_queue(srv, c, "\n", 1);
	json_object_put(o);
	c->state = NH_CLIENT_DONE;
}

int nh_filter_parse(json_object *req, struct nh_filter *f, char *err, size_t errlen)
{
	json_object *v;

	memset(f, 0, sizeof(*f));
	if (json_object_object_get_ex(req, "identity", &v)) {
		const char *s = json_object_get_string(v);

		if (!json_object_is_type(v, json_type_string) || strlen(s) >= sizeof(f->identity)) {
			snprintf(err, errlen, "\"identity\" must be a string under %zu bytes",
				 sizeof(f->identity));
			return -EINVAL;
		}
		snprintf(f->identity, sizeof(f->identity), "%s", s);
	}
	if (json_object_object_get_ex(req, "kinds", &v)) {
		if (!json_object_is_type(v, json_type_array)) {
			snprintf(err, errlen, "\"kinds\" must be an array of kind names");
			return -EINVAL;
		}
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			const char *name = json_object_get_string(json_object_array_get_idx(v, i));
			int k = name ? nh_kind_parse(name) : -EINVAL;

			if (k < 0) {
				snprintf(err, errlen, "unknown kind \"%s\" in \"kinds\"",
					 name ? name : "");
				return -EINVAL;
			}
			f->kinds |= 1ull << k;
		}
	}
	if (json_object_object_get_ex(req, "pid", &v)) {
		int64_t pid = json_object_get_int64(v);

		if (!json_object_is_type(v, json_type_int) || pid <= 0 || pid > INT32_MAX) {
			snprintf(err, errlen, "\"pid\" must be a positive integer");
			return -EINVAL;
		}
		f->pid = pid;
	}
	if (json_object_object_get_ex(req, "format", &v)) {
		const char *fmt = json_object_get_string(v);

		if (!json_object_is_type(v, json_type_string) ||
		    (strcmp(fmt, "json") && strcmp(fmt, "compact"))) {
			snprintf(err, errlen, "\"format\" must be \"json\" or \"compact\"");
			return -EINVAL;
		}
		f->format = strcmp(fmt, "json") ? NH_LINE_COMPACT : NH_LINE_JSON;
	}
	if (json_object_object_get_ex(req, "color", &v)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			snprintf(err, errlen, "\"color\" must be true or false");
			return -EINVAL;
		}
		if (json_object_get_boolean(v) && f->format == NH_LINE_COMPACT)
			f->format = NH_LINE_COLOR;
	}
	return 0;
}

/* Whether c's peer may make request op; a refusal is counted and logged
 * (who and which op, never the request's other fields). */
static bool peer_allowed(struct nh_server *srv, struct nh_client *c, const char *op)
{
	bool watch = nh_server_op_watches(op);

	if (c->uid == 0 || (watch && c->may_watch))
		return true;
	srv->refused++;
	/* The op is the client's text: named only when it is a known one. */
	if (srv->log)
		nh_warn(srv->log, "socket: refused %s%s%s from uid %d (pid %d): %s",
			watch || strcmp(op, "profile_reset") == 0 ? "\"" : "",
			watch || strcmp(op, "profile_reset") == 0 ? op : "a request",
			watch || strcmp(op, "profile_reset") == 0 ? "\"" : "", (int)c->uid,
			(int)c->pid, watch ? "not root nor in the socket group" : "not root");
	return false;
}

static void handle_request(struct nh_server *srv, struct nh_client *c, const char *line)
{
	json_object *req = json_tokener_parse(line), *op = NULL;
	const char *name = NULL;
	char err[256];

	if (req && json_object_is_type(req, json_type_object) &&
	    json_object_object_get_ex(req, "op", &op) && json_object_is_type(op, json_type_string))
		name = json_object_get_string(op);
	if (!name) {
		reply_error(srv, c, "request must be a JSON object with a string \"op\"");
	} else if (!peer_allowed(srv, c, name)) {
		snprintf(err, sizeof(err), "permission denied: %s",
			 nh_server_op_watches(name)
			     ? "watching needs root or the socket group (socket.group)"
			     : "this request needs root");
		reply_error(srv, c, err);
	} else if (strcmp(name, "tail") == 0) {
		if (nh_filter_parse(req, &c->filter, err, sizeof(err)) == 0) {
			c->state = NH_CLIENT_TAIL;
			srv->ntail++;
			client_queue(srv, c, "{\"ok\":true}\n", 12);
		} else {
			reply_error(srv, c, err);
		}
	} else if (srv->status) {
		/* Every other op is a query the agent answers in one line; it
		 * returns NULL for an op it does not know and an object with
		 * "error" for a bad request. */
		json_object *st = srv->status(srv->status_ctx, name, req);
		const char *s = st ? json_object_to_json_string_ext(st, NH_JSON_FLAGS) : NULL;

		if (!s) {
			snprintf(
			    err, sizeof(err),
			    "unknown op \"%.64s\" (expected tail, status, credentials, profiles, "
			    "profile or profile_reset)",
			    name);
			reply_error(srv, c, err);
		} else {
			client_queue(srv, c, s, strlen(s));
			client_queue(srv, c, "\n", 1);
			c->state = NH_CLIENT_DONE;
		}
		json_object_put(st);
	} else {
		snprintf(err, sizeof(err), "unknown op \"%.64s\" (expected tail)", name);
		reply_error(srv, c, err);
	}
	json_object_put(req);
}

void nh_server_client_io(struct nh_server *srv, struct nh_client *c, uint32_t events)
{
	if (events & EPOLLIN) {
		char discard[512], *nl;
		ssize_t n;

		/* After the request line, input is read and ignored: a zero-length
		 * recv into a full buffer would look like a hang-up. */
		if (c->state == NH_CLIENT_REQUEST)
			n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len, 0);
		else
			n = recv(c->fd, discard, sizeof(discard), 0);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			client_free(srv, c);
			return;
		}
		if (n > 0 && c->state == NH_CLIENT_REQUEST) {
			c->in_len += n;
			c->in[c->in_len] = '\0';
			nl = strchr(c->in, '\n');
			if (nl) {
				*nl = '\0';
				handle_request(srv, c, c->in);
			} else if (c->in_len == sizeof(c->in) - 1) {
				reply_error(srv, c, "request line too long");
			}
		}
	}
	if ((events & (EPOLLHUP | EPOLLERR)) || client_flush(srv, c) < 0 ||
	    (c->state == NH_CLIENT_DONE && c->out_len == 0))
		client_free(srv, c);
}

bool nh_filter_match(const struct nh_filter *f, uint32_t kind, uint32_t pid, uint32_t tid,
		     const char *identity)
{
	if (kind >= NH_KIND_ALL || (f->kinds && !(f->kinds & (1ull << kind))))
		return false;
	/* A loss belongs to no process or identity: every subscriber that
	 * takes losses must hear of it, whatever else it filters on. */
	if (kind == NH_KIND_LOSS)
		return true;
	if (f->pid && f->pid != pid && f->pid != tid)
		return false;
	if (f->identity[0] && (!identity || fnmatch(f->identity, identity, 0) != 0))
		return false;
	return true;
}

bool nh_server_wants(const struct nh_server *srv, uint32_t kind, uint32_t pid, uint32_t tid,
		     const char *identity)
{
	for (int i = 0; i < srv->nclients; i++) {
		const struct nh_client *c = srv->clients[i];

		if (c->state == NH_CLIENT_TAIL &&
		    nh_filter_match(&c->filter, kind, pid, tid, identity))
			return true;
	}
	return false;
}

uint32_t nh_server_formats(const struct nh_server *srv, uint32_t kind, uint32_t pid, uint32_t tid,
			   const char *identity)
{
	uint32_t fmts = 0;

	for (int i = 0; i < srv->nclients; i++) {
		const struct nh_client *c = srv->clients[i];

		if (c->state == NH_CLIENT_TAIL &&
		    nh_filter_match(&c->filter, kind, pid, tid, identity))
			fmts |= 1u << c->filter.format;
	}
	return fmts;
}

void nh_server_publish(struct nh_server *srv, enum nh_line_format fmt, uint32_t kind, uint32_t pid,
		       uint32_t tid, const char *identity, const char *line, size_t len)
{
	for (int i = 0; i < srv->nclients; i++) {
		struct nh_client *c = srv->clients[i];

		if (c->state != NH_CLIENT_TAIL || c->filter.format != fmt ||
		    !nh_filter_match(&c->filter, kind, pid, tid, identity))
			continue;
		/* Line and newline go in together or not at all. */
		if (c->out_len + len + 1 > srv->max_out || !client_queue(srv, c, line, len)) {
			c->dropped++;
			c->dropped_total++;
			srv->dropped_total++;
			continue;
		}
		client_queue(srv, c, "\n", 1);
	}
}

void nh_server_flush(struct nh_server *srv)
{
	/* Backwards: client_free moves the last client into the hole. */
	for (int i = srv->nclients - 1; i >= 0; i--) {
		struct nh_client *c = srv->clients[i];

		if ((c->out_len || c->dropped) && client_flush(srv, c) < 0)
			client_free(srv, c);
	}
}
