// SPDX-License-Identifier: Apache-2.0
/* sink_file: ECS JSON lines appended to a file (or standard output). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <json-c/json.h>

#include "dedup.h"
#include "sink.h"

/* How much of an existing file start-up reads back for record ids. */
#define TAIL_MAX    (64u << 20)
#define CHUNK	    (1u << 20)
#define BATCH_BYTES (256u << 10) /* lines gathered before a write */

struct file_sink {
	int fd;
	bool regular; /* a regular file: can be repaired and fsync'd */
	off_t size;   /* bytes known to be whole lines */
	bool have_seen;
	struct nh_dedup seen; /* ids already in the file at start-up */
	uint64_t skipped;
	const struct nh_log *lg;
	char *path;
	char *buf; /* lines not written yet */
	size_t len, cap;
};

/* Cut a last line that has no newline: a write torn by a crash. Its
 * record was not committed, so Kafka delivers it again. */
static int repair(struct file_sink *f)
{
	char buf[4096];
	off_t end = f->size;

	while (end > 0) {
		size_t n = end < (off_t)sizeof(buf) ? (size_t)end : sizeof(buf);
		ssize_t got = pread(f->fd, buf, n, end - n);

		if (got != (ssize_t)n)
			return got < 0 ? -errno : -EIO;
		for (size_t i = n; i > 0; i--) {
			if (buf[i - 1] != '\n')
				continue;
			end = end - n + i;
			goto found;
		}
		end -= n;
	}
found:
	if (end == f->size)
		return 0;
	nh_warn(f->lg, "file sink %s: removing a torn last line (%lld bytes)", f->path,
		(long long)(f->size - end));
	if (ftruncate(f->fd, end))
		return -errno;
	f->size = end;
	return 0;
}

static void remember(struct file_sink *f, const char *line)
{
	json_object *doc = json_tokener_parse(line), *ev, *id;

	if (doc && json_object_object_get_ex(doc, "event", &ev) &&
	    json_object_object_get_ex(ev, "id", &id) && json_object_is_type(id, json_type_string))
		nh_dedup_add(&f->seen, json_object_get_string(id));
	json_object_put(doc);
}

/* Remember the ids of the last lines of the file, oldest first, so the
 * window keeps the newest. */
static int read_back(struct file_sink *f, size_t window)
{
	off_t start = f->size > (off_t)TAIL_MAX ? f->size - TAIL_MAX : 0;
	size_t len = (size_t)(f->size - start), lines = 0;
	char *buf, *p, *nl;
	int rc = 0;

	if (!len)
		return 0;
	buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	for (size_t done = 0; done < len;) {
		size_t n = len - done < CHUNK ? len - done : CHUNK;
		ssize_t got = pread(f->fd, buf + done, n, start + done);

		if (got <= 0) {
			rc = got < 0 ? -errno : -EIO;
			goto cleanup;
		}
		done += got;
	}
	buf[len] = '\0';
	p = buf;
	/* a window that started mid-line skips to the next whole line */
	if (start > 0 && (nl = strchr(p, '\n')))
		p = nl + 1;
	/* only the last `window` lines matter */
	for (char *q = buf + len; q > p && lines <= window; q--)
		if (q[-1] == '\n' && ++lines > window)
			p = q;
	while (*p) {
		nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		remember(f, p);
		if (!nl)
			break;
		p = nl + 1;
	}
	nh_info(f->lg, "file sink %s: %zu record ids already in the file", f->path, f->seen.len);
cleanup:
	free(buf);
	return rc;
}

/* Write out the batch. A failure cuts what part of it reached the file
 * (no half line left behind) and keeps it all for the next try. */
static int drain(struct file_sink *f)
{
	size_t done = 0;

	while (done < f->len) {
		ssize_t n = write(f->fd, f->buf + done, f->len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? errno : EIO;

			if (f->regular && f->fd != STDOUT_FILENO && done &&
			    ftruncate(f->fd, f->size))
				nh_err(f->lg, "file sink %s: cannot cut a partial batch: %s",
				       f->path, strerror(errno));
			nh_warn(f->lg, "file sink %s: write: %s", f->path, strerror(err));
			return -err;
		}
		done += (size_t)n;
	}
	f->size += (off_t)f->len;
	f->len = 0;
	return 0;
}

/* Lines are gathered and written a batch at a time (flush writes the
 * rest): the collector commits offsets only after flush, so a crash
 * loses nothing a commit covered. */
static int file_write(void *self, const struct nh_sink_item *it)
{
	struct file_sink *f = self;
	size_t need = it->json_len + 1;

	if (f->have_seen && nh_dedup_seen_h(&f->seen, it->id, it->id_hash)) {
		f->skipped++;
		return 0;
	}
	if (f->len && f->len + need > BATCH_BYTES) {
		int rc = drain(f);

		if (rc)
			return rc;
	}
	if (f->cap - f->len < need) {
		size_t cap = f->cap ? f->cap : BATCH_BYTES;
		char *b;

		while (cap - f->len < need)
			cap *= 2;
		b = realloc(f->buf, cap);
		if (!b)
			return -ENOMEM;
		f->buf = b;
		f->cap = cap;
	}
	memcpy(f->buf + f->len, it->json, it->json_len);
	f->buf[f->len + it->json_len] = '\n';
	f->len += need;
	return 0;
}

static int file_flush(void *self)
{
	struct file_sink *f = self;
	int rc = drain(f);

	if (rc)
		return rc;
	if (fsync(f->fd) == 0 || (!f->regular && (errno == EINVAL || errno == EROFS)))
		return 0;
	nh_warn(f->lg, "file sink %s: fsync: %s", f->path, strerror(errno));
	return -errno;
}

static void file_close(void *self)
{
	struct file_sink *f = self;

	if (!f)
		return;
	if (f->skipped)
		nh_info(f->lg, "file sink %s: %llu records were already in the file", f->path,
			(unsigned long long)f->skipped);
	if (f->len)
		nh_warn(f->lg,
			"file sink %s: closed with %zu bytes not written (not committed: "
			"delivered again)",
			f->path, f->len);
	free(f->buf);
	if (f->fd > 2)
		close(f->fd);
	if (f->have_seen)
		nh_dedup_free(&f->seen);
	free(f->path);
	free(f);
}

int nh_sink_file_open(struct nh_sink *s, const char *path, size_t dedup_window,
		      const struct nh_log *lg)
{
	struct file_sink *f = calloc(1, sizeof(*f));
	struct stat st;
	int rc;

	if (!f)
		return -ENOMEM;
	f->lg = lg;
	f->fd = -1;
	f->path = strdup(strcmp(path, "-") == 0 ? "(stdout)" : path);
	if (!f->path) {
		rc = -ENOMEM;
		goto cleanup;
	}
	if (strcmp(path, "-") == 0) {
		f->fd = STDOUT_FILENO;
	} else {
		f->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (f->fd < 0) {
			rc = -errno;
			nh_err(lg, "file sink %s: %s", path, strerror(errno));
			goto cleanup;
		}
	}
	if (fstat(f->fd, &st)) {
		rc = -errno;
		goto cleanup;
	}
	f->regular = S_ISREG(st.st_mode);
	/* standard output may be a regular file, but not ours to repair */
	if (f->regular && f->fd != STDOUT_FILENO) {
		/* reading back needs a readable descriptor of its own */
		int rfd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);

		if (rfd < 0) {
			rc = -errno;
			nh_err(lg, "file sink %s: %s", path, strerror(errno));
			goto cleanup;
		}
		close(f->fd);
		f->fd = rfd;
		f->size = st.st_size;
		rc = repair(f);
		if (rc)
			goto cleanup;
		rc = nh_dedup_init(&f->seen, dedup_window ? dedup_window : 1);
		if (rc)
			goto cleanup;
		f->have_seen = true;
		rc = read_back(f, dedup_window);
		if (rc)
			goto cleanup;
	}
	*s = (struct nh_sink){.name = "file",
			      .self = f,
			      .write = file_write,
			      .flush = file_flush,
			      .close = file_close};
	return 0;
cleanup:
	if (rc)
		nh_err(lg, "file sink %s: cannot open: %s", f->path ? f->path : path,
		       strerror(-rc));
	file_close(f);
	return rc;
}
