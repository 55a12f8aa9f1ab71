// SPDX-License-Identifier: Apache-2.0
/*
 * sink_syslog: RFC 5424 messages over TCP with octet-counting framing.
 *
 * TCP syslog has no acknowledgement, so "the kernel took the bytes" is not
 * "the receiver has them": a reset loses whatever was in flight. The sink
 * therefore keeps every frame sent since the last successful flush, and
 * flush waits until the peer's TCP stack has acknowledged all of them
 * (SIOCOUTQ drains to zero). When the connection breaks first, the next
 * connection sends the kept frames again: the receiver may see a record
 * twice, never zero times.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sink.h"
#include "clock.h"
#include "syslogfmt.h"

#define CONNECT_TIMEOUT_MS 2000
#define DRAIN_TIMEOUT_MS   5000
/* Frames kept for resending; past this a write flushes first. */
#define KEEP_MAX (32u << 20)
/* Frames gathered before a send: one send per batch, not per record. */
#define SEND_BATCH (64u << 10)

struct syslog_sink {
	char *host, *port;
	int fd;
	enum nh_syslog_format format;
	const char *version;
	const struct nh_log *lg;
	char *kept; /* frames accepted since the last confirmed flush */
	size_t kept_len, kept_cap;
	size_t sent; /* how much of kept went to this connection */
	bool was_up; /* connected since the last drop: log transitions once */
};

static void drop(struct syslog_sink *s, const char *why, int err)
{
	if (s->fd < 0)
		return;
	close(s->fd);
	s->fd = -1;
	s->was_up = false;
	nh_warn(s->lg, "syslog sink %s:%s: %s%s%s", s->host, s->port, why, err ? ": " : "",
		err ? strerror(err) : "");
}

/* Send all of buf; 0 or -errno (the connection is then dropped). */
static int send_all(struct syslog_sink *s, const char *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(s->fd, buf + done, len - done, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p = {.fd = s->fd, .events = POLLOUT};

			if (poll(&p, 1, DRAIN_TIMEOUT_MS) <= 0) {
				drop(s, "send timed out", 0);
				return -ETIMEDOUT;
			}
			continue;
		}
		if (n <= 0) {
			int err = n < 0 ? errno : EIO;

			drop(s, "send", err);
			return -err;
		}
		done += n;
	}
	return 0;
}

static int try_connect(const struct addrinfo *ai)
{
	struct pollfd p;
	socklen_t sl = sizeof(int);
	int fd, err = 0;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS) {
		err = errno;
		goto fail;
	}
	p = (struct pollfd){.fd = fd, .events = POLLOUT};
	if (poll(&p, 1, CONNECT_TIMEOUT_MS) <= 0) {
		err = ETIMEDOUT;
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) || err)
		goto fail;
	return fd;
fail:
	close(fd);
	return -(err ? err : EIO);
}

/* Connect, then send again what the previous connection may have lost. */
static int ensure(struct syslog_sink *s)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	int rc, fd = -ECONNREFUSED;

	if (s->fd >= 0)
		return 0;
	rc = getaddrinfo(s->host, s->port, &hints, &res);
	if (rc) {
		nh_warn(s->lg, "syslog sink %s:%s: %s", s->host, s->port, gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = try_connect(ai);
		if (fd >= 0)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return fd;
	s->fd = fd;
	if (s->kept_len) {
		nh_info(s->lg, "syslog sink %s:%s: resending %zu unconfirmed bytes", s->host,
			s->port, s->kept_len);
		rc = send_all(s, s->kept, s->kept_len);
		if (rc)
			return rc;
	}
	s->sent = s->kept_len;
	if (!s->was_up)
		nh_info(s->lg, "syslog sink %s:%s: connected", s->host, s->port);
	s->was_up = true;
	return 0;
}

/* Wait until the peer acknowledged every byte sent. */
static int drain(struct syslog_sink *s)
{
	uint64_t deadline = nh_clock_mono_ms() + DRAIN_TIMEOUT_MS;

	for (;;) {
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		int queued = 0;

		if (ioctl(s->fd, SIOCOUTQ, &queued)) {
			drop(s, "SIOCOUTQ", errno);
			return -EIO;
		}
		if (!queued)
			return 0;
		/* the receiver never talks: readable means closed or reset */
		if (poll(&p, 1, 10) > 0) {
			char c;

			if (p.revents & (POLLERR | POLLHUP) ||
			    recv(s->fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) <= 0) {
				drop(s, "connection closed by the receiver", 0);
				return -ECONNRESET;
			}
		}
		if (nh_clock_mono_ms() > deadline) {
			drop(s, "receiver stopped acknowledging", 0);
			return -ETIMEDOUT;
		}
	}
}

/* Send what of kept this connection has not had yet. */
static int send_rest(struct syslog_sink *s)
{
	int rc = 0;

	if (s->sent < s->kept_len) {
		rc = send_all(s, s->kept + s->sent, s->kept_len - s->sent);
		if (!rc)
			s->sent = s->kept_len;
	}
	return rc;
}

static int syslog_flush(void *self)
{
	struct syslog_sink *s = self;
	int rc;

	if (!s->kept_len)
		return 0;
	rc = ensure(s);
	if (!rc)
		rc = send_rest(s);
	if (!rc)
		rc = drain(s);
	if (!rc)
		s->kept_len = s->sent = 0;
	return rc;
}

static int keep(struct syslog_sink *s, const char *frame, size_t len)
{
	if (s->kept_len + len > s->kept_cap) {
		size_t cap = s->kept_cap ? s->kept_cap : 65536;
		char *p;

		while (cap < s->kept_len + len)
			cap *= 2;
		p = realloc(s->kept, cap);
		if (!p)
			return -ENOMEM;
		s->kept = p;
		s->kept_cap = cap;
	}
	memcpy(s->kept + s->kept_len, frame, len);
	s->kept_len += len;
	return 0;
}

static int syslog_write(void *self, const struct nh_sink_item *it)
{
	struct syslog_sink *s = self;
	char *frame = NULL;
	size_t len = 0;
	int rc;

	if (s->kept_len >= KEEP_MAX) {
		rc = syslog_flush(s);
		if (rc)
			return rc;
	}
	rc = nh_syslog_frame(it->rec, it->id, it->json, s->format, s->version, &frame, &len);
	if (rc)
		return rc;
	rc = keep(s, frame, len);
	free(frame);
	if (rc)
		return rc;
	/* Kept: accepted. Sent a batch at a time (flush sends the rest);
	 * if the connection is down, the next one sends it all again. */
	if (s->kept_len - s->sent >= SEND_BATCH && ensure(s) == 0)
		send_rest(s);
	return 0;
}

static void syslog_close(void *self)
{
	struct syslog_sink *s = self;

	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s->kept);
	free(s->host);
	free(s);
}

int nh_sink_syslog_open(struct nh_sink *sk, const char *hostport, int format, const char *version,
			const struct nh_log *lg)
{
	struct syslog_sink *s;
	char *colon;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = -1;
	s->lg = lg;
	s->format = format == NH_SYSLOG_CEF ? NH_SYSLOG_CEF : NH_SYSLOG_RFC5424;
	s->version = version;
	/* "host:port", "[v6]:port" */
	s->host = strdup(hostport[0] == '[' ? hostport + 1 : hostport);
	if (!s->host) {
		free(s);
		return -ENOMEM;
	}
	colon = strrchr(s->host, ':');
	if (!colon || !colon[1] || colon == s->host) {
		nh_err(lg, "syslog sink: %s is not HOST:PORT", hostport);
		syslog_close(s);
		return -EINVAL;
	}
	*colon = '\0';
	s->port = colon + 1;
	if (hostport[0] == '[') {
		char *rb = strchr(s->host, ']');

		if (!rb || rb[1]) {
			nh_err(lg, "syslog sink: %s is not [HOST]:PORT", hostport);
			syslog_close(s);
			return -EINVAL;
		}
		*rb = '\0';
	}
	*sk = (struct nh_sink){.name = "syslog",
			       .self = s,
			       .write = syslog_write,
			       .flush = syslog_flush,
			       .close = syslog_close};
	/* not connecting yet: a receiver that is down now is retried on write */
	return 0;
}
