// SPDX-License-Identifier: Apache-2.0
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include "dirs.h"

#define NH_SPOOL_MAGIC	  0x5253484eu /* "NHSR" little-endian */
#define NH_SPOOL_SEGMENT  (4u << 20)
#define NH_SPOOL_SEG_NAME "%016llx.seg"
/* flags: the topic field is the topic, a NUL and the event time (8 bytes,
 * little-endian). Readers that ignore flags stop the topic at the NUL. */
#define NH_SPOOL_F_EVENT_TIME 0x1
#define NH_SPOOL_TIME_BYTES   9
/* flags bits 8..15: the record's format. Release 1 wrote 0 there (its
 * format 1); a newer format than this one is skipped and counted as
 * corrupt, never misread. */
#define NH_SPOOL_FORMAT_SHIFT 8
/* From format 3 on, a record's checksum starts from the spool's secret
 * seed ("key" in the spool directory, root-only): bytes a workload put
 * in a payload (a path, argv) cannot pose as a record when a reader
 * resynchronises after damage, since it cannot compute their checksum. */
#define NH_SPOOL_KEYED_FORMAT 3
#define NH_SPOOL_SCAN_CHUNK   (64u << 10)
/* A write that failed is tried this many times more (a new segment after
 * an I/O error) before the record is given up and reported as lost. */
#define NH_SPOOL_WRITE_RETRIES 2

/* On disk before each record: then the topic, then the payload. */
struct rec_hdr {
	uint32_t magic;
	uint32_t len;	    /* payload bytes */
	uint32_t crc;	    /* crc32 of topic and payload */
	uint16_t topic_len; /* topic bytes */
	uint16_t flags;
};

_Static_assert(sizeof(struct rec_hdr) == 16, "spool record header");

static const char *const class_dir[NH_SPOOL_CLASSES] = {"anomaly", "activity"};

static void seg_path(const struct nh_spool_queue *q, uint64_t seg, char *buf, size_t len)
{
	snprintf(buf, len, "%s/" NH_SPOOL_SEG_NAME, q->dir, (unsigned long long)seg);
}

static int pos_cmp(struct nh_spool_pos a, struct nh_spool_pos b)
{
	if (a.seg != b.seg)
		return a.seg < b.seg ? -1 : 1;
	return a.off < b.off ? -1 : a.off > b.off;
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Read the record at pos into rec (when not NULL); its size on disk in
 * *size. -ENOENT at the end of the segment; -ENODATA when it is cut
 * short (a torn write); -EPROTO when its header is not one (nothing after
 * it can be found); -EBADMSG when whole but failing its checksum (*size
 * is set: the next record can still be read). */
static int read_rec(const struct nh_spool_queue *q, struct nh_spool_pos pos,
		    struct nh_spool_record *rec, size_t *size, bool keyed_only)
{
	char path[PATH_MAX + 32];
	struct rec_hdr h;
	uint8_t *body = NULL;
	unsigned fmt;
	size_t blen;
	int fd, err = 0;
	ssize_t n;

	seg_path(q, pos.seg, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, &h, sizeof(h), (off_t)pos.off);
	if (n == 0) {
		err = -ENOENT;
		goto cleanup;
	}
	if (n != sizeof(h)) {
		err = -ENODATA;
		goto cleanup;
	}
	if (h.magic != NH_SPOOL_MAGIC || h.len > NH_SPOOL_RECORD_MAX ||
	    h.topic_len > NH_SPOOL_TOPIC_MAX) {
		err = -EPROTO;
		goto cleanup;
	}
	blen = (size_t)h.topic_len + h.len;
	*size = sizeof(h) + blen;
	body = rec ? rec->buf : malloc(blen ? blen : 1);
	if (rec && blen > sizeof(rec->buf)) {
		err = -EBADMSG;
		goto cleanup;
	}
	if (!body) {
		err = -ENOMEM;
		goto cleanup;
	}
	if (pread(fd, body, blen, (off_t)(pos.off + sizeof(h))) != (ssize_t)blen) {
		err = -ENODATA;
		goto cleanup;
	}
	fmt = h.flags >> NH_SPOOL_FORMAT_SHIFT;
	if ((keyed_only && fmt != NH_SPOOL_KEYED_FORMAT) || fmt > NH_SPOOL_FORMAT ||
	    crc32(fmt >= NH_SPOOL_KEYED_FORMAT ? q->seed : 0, body, blen) != h.crc) {
		err = -EBADMSG;
		goto cleanup;
	}
	if (rec) {
		size_t tlen = h.topic_len;

		rec->event_ns = 0;
		rec->format = h.flags >> NH_SPOOL_FORMAT_SHIFT ?: 1;
		if ((h.flags & NH_SPOOL_F_EVENT_TIME) && tlen >= NH_SPOOL_TIME_BYTES &&
		    body[tlen - NH_SPOOL_TIME_BYTES] == '\0') {
			tlen -= NH_SPOOL_TIME_BYTES;
			for (int i = 7; i >= 0; i--)
				rec->event_ns = rec->event_ns << 8 | body[tlen + 1 + i];
		}
		memmove(rec->topic, body, tlen);
		rec->topic[tlen] = '\0';
		rec->data = body + h.topic_len;
		rec->len = h.len;
		rec->pos = pos;
	}
cleanup:
	if (!rec)
		free(body);
	close(fd);
	return err;
}

static int read_at(const struct nh_spool_queue *q, struct nh_spool_pos pos,
		   struct nh_spool_record *rec, size_t *size)
{
	return read_rec(q, pos, rec, size, false);
}

/* The first whole keyed record after the damaged bytes at pos in its
 * segment, or -ENOENT. Only a keyed record counts (see
 * NH_SPOOL_KEYED_FORMAT): a forged header inside a payload fails. */
static int resync(const struct nh_spool_queue *q, struct nh_spool_pos pos,
		  struct nh_spool_pos *found)
{
	char path[PATH_MAX + 32];
	const uint32_t magic = NH_SPOOL_MAGIC;
	uint8_t *buf = malloc(NH_SPOOL_SCAN_CHUNK);
	uint64_t off = pos.off + 1;
	int fd, err = -ENOENT;

	seg_path(q, pos.seg, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !buf) {
		err = fd < 0 ? -errno : -ENOMEM;
		goto cleanup;
	}
	for (;;) {
		ssize_t n = pread(fd, buf, NH_SPOOL_SCAN_CHUNK, (off_t)off);

		if (n < (ssize_t)sizeof(magic))
			break;
		for (ssize_t i = 0; i + (ssize_t)sizeof(magic) <= n; i++) {
			struct nh_spool_pos p = {pos.seg, off + (uint64_t)i};
			size_t size;

			if (memcmp(buf + i, &magic, sizeof(magic)) == 0 &&
			    read_rec(q, p, NULL, &size, true) == 0) {
				*found = p;
				err = 0;
				goto cleanup;
			}
		}
		/* the last bytes again: a magic may straddle two chunks */
		off += (uint64_t)n - (sizeof(magic) - 1);
	}
cleanup:
	if (fd >= 0)
		close(fd);
	free(buf);
	return err;
}

/* Where reading goes on after the damaged record at pos (read_at said
 * -EBADMSG, -EPROTO or -ENODATA; size is what its header claims, or 0):
 * just after it when its header still leads to a record or to the
 * segment's end, else the next keyed record found by scanning.
 * -ENOENT: nothing readable follows in this segment. */
static int skip_damaged(const struct nh_spool_queue *q, struct nh_spool_pos pos, size_t size,
			struct nh_spool_pos *next)
{
	char path[PATH_MAX + 32];
	struct nh_spool_pos after = {pos.seg, pos.off + size};
	size_t n;
	int err;

	if (size) {
		seg_path(q, pos.seg, path, sizeof(path));
		err = read_at(q, after, NULL, &n);
		if (err == 0 || (err == -ENOENT && file_size(path) == (off_t)after.off)) {
			*next = after;
			return err;
		}
	}
	return resync(q, pos, next);
}

/* On the loop or on a worker: touches nothing but dir's files. */
static int write_cursor_at(const char *dir, struct nh_spool_pos head, bool sync)
{
	char path[PATH_MAX + 16], tmp[PATH_MAX + 16], line[64];
	int fd, n, err = 0;

	snprintf(path, sizeof(path), "%s/cursor", dir);
	snprintf(tmp, sizeof(tmp), "%s/cursor.tmp", dir);
	n = snprintf(line, sizeof(line), "%llu %llu\n", (unsigned long long)head.seg,
		     (unsigned long long)head.off);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, line, n) != n || (sync && fsync(fd) != 0))
		err = -errno ? -errno : -EIO;
	close(fd);
	if (!err && rename(tmp, path) != 0)
		err = -errno;
	return err;
}

static int write_cursor(const struct nh_spool_queue *q, bool sync)
{
	return write_cursor_at(q->dir, q->head, sync);
}

/* Full segments not synced yet that are now dropped need no sync. */
static void clamp_unsynced(struct nh_spool_queue *q)
{
	uint64_t end = q->unsynced_first + q->unsynced;

	if (q->unsynced && q->unsynced_first < q->first_seg) {
		q->unsynced_first = q->first_seg;
		q->unsynced = end > q->first_seg ? end - q->first_seg : 0;
	}
}

/* The flush on the worker and the loop share two numbers per class (the
 * one exception to worker.h's rule that a job's state is its own): the
 * segment it is syncing now (+1; 0: none) and the first segment not
 * dropped. A sync holds its file (on FUSE an unlink waits for it, and a
 * file open anywhere keeps its space): the loop never unlinks the segment
 * being synced but leaves it to the worker, which unlinks it when its
 * sync returns, and the worker skips a segment dropped before its turn.
 * Each side stores its number, then loads the other's (sequentially
 * consistent), so at least one of them sees the other: no segment is
 * left behind, none synced after its unlink. */
struct nh_spool_shared {
	_Atomic uint64_t busy;
	_Atomic uint64_t floor;
};

/* On the loop: may seg be unlinked now? (Call with seg being dropped.) */
static bool sync_lets_go(struct nh_spool_queue *q, uint64_t seg)
{
	if (!q->flushing)
		return true;
	atomic_store(&q->flushing->floor, seg + 1);
	return atomic_load(&q->flushing->busy) != seg + 1;
}

/* On the worker, before syncing seg at path: false when it was dropped
 * (unlinked here, in case the loop left that to us). */
static bool sync_begin(struct nh_spool_shared *sh, uint64_t seg, const char *path)
{
	atomic_store(&sh->busy, seg + 1);
	if (atomic_load(&sh->floor) <= seg)
		return true;
	atomic_store(&sh->busy, 0);
	unlink(path);
	return false;
}

/* On the worker, once seg's sync returned and its descriptor is closed. */
static void sync_end(struct nh_spool_shared *sh, uint64_t seg, const char *path)
{
	atomic_store(&sh->busy, 0);
	if (atomic_load(&sh->floor) > seg)
		unlink(path);
}

/* Segments wholly before seg are acknowledged (the cursor on disk is
 * past them): delete them. */
static void drop_acked_before(struct nh_spool_queue *q, uint64_t seg)
{
	char path[PATH_MAX + 32];

	if (seg > q->head.seg)
		seg = q->head.seg;
	while (q->first_seg < seg) {
		off_t sz;

		seg_path(q, q->first_seg, path, sizeof(path));
		sz = file_size(path);
		if (sz > 0)
			q->bytes -= (uint64_t)sz < q->bytes ? (uint64_t)sz : q->bytes;
		if (sync_lets_go(q, q->first_seg))
			unlink(path);
		q->first_seg++;
	}
	clamp_unsynced(q);
}

static void drop_acked(struct nh_spool_queue *q)
{
	drop_acked_before(q, q->head.seg);
}

/* fdatasync n segments of dir from first on, each opened by its path (a
 * segment dropped or shed meanwhile needs no sync). On a worker with sh
 * (see struct nh_spool_shared), or on the loop with NULL. */
static int sync_segments(const char *dir, uint64_t first, uint64_t n, struct nh_spool_shared *sh)
{
	char path[PATH_MAX + 32];
	int err = 0;

	for (uint64_t seg = first; seg < first + n; seg++) {
		int fd;

		snprintf(path, sizeof(path), "%s/" NH_SPOOL_SEG_NAME, dir, (unsigned long long)seg);
		if (sh && !sync_begin(sh, seg, path))
			continue;
		/* Read-only is enough for fdatasync, and can never truncate. */
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0 && errno != ENOENT && !err)
			err = -errno;
		if (fd >= 0) {
			if (fdatasync(fd) != 0 && !err)
				err = -errno;
			close(fd);
		}
		if (sh)
			sync_end(sh, seg, path);
	}
	return err;
}

static int open_tail(struct nh_spool_queue *q)
{
	char path[PATH_MAX + 32];

	if (q->tail_fd >= 0)
		close(q->tail_fd);
	seg_path(q, q->tail.seg, path, sizeof(path));
	q->tail_fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	return q->tail_fd < 0 ? -errno : 0;
}

/* Find segments, cut a torn tail, read the cursor, count what is left. */
static int recover(struct nh_spool_queue *q)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	struct nh_spool_pos p;
	unsigned long long a, b;
	char path[PATH_MAX + 32];
	struct dirent *de;
	size_t size;
	FILE *f;
	DIR *d;
	int err;

	d = opendir(q->dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		unsigned long long seg;
		char extra;

		if (sscanf(de->d_name, "%16llx.se%c", &seg, &extra) == 2 && extra == 'g') {
			lo = seg < lo ? seg : lo;
			hi = seg > hi ? seg : hi;
		}
	}
	closedir(d);
	if (lo == UINT64_MAX)
		lo = hi = 1;
	q->first_seg = lo;
	q->tail = (struct nh_spool_pos){hi, 0};
	/* The tail ends at its last whole record: a crash may have torn it.
	 * Damage with whole records after it stays, to be skipped. */
	for (;;) {
		size = 0;
		err = read_at(q, q->tail, NULL, &size);
		if (err == 0) {
			q->tail.off += size;
			continue;
		}
		if (err == -ENOENT || skip_damaged(q, q->tail, size, &p) != 0)
			break;
		q->tail = p;
	}
	seg_path(q, q->tail.seg, path, sizeof(path));
	if (err != -ENOENT && err != 0 && truncate(path, (off_t)q->tail.off) != 0)
		return -errno;
	q->recovered = q->tail;
	q->head = (struct nh_spool_pos){lo, 0};
	snprintf(path, sizeof(path), "%s/cursor", q->dir);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%llu %llu", &a, &b) == 2) {
			p = (struct nh_spool_pos){a, b};
			if (pos_cmp(p, q->head) > 0 && pos_cmp(p, q->tail) <= 0)
				q->head = p;
		}
		fclose(f);
	}
	drop_acked(q);
	/* Count what is still to be sent and the bytes it holds. */
	q->bytes = 0;
	for (uint64_t s = q->first_seg; s <= q->tail.seg; s++) {
		off_t sz;

		seg_path(q, s, path, sizeof(path));
		sz = file_size(path);
		q->bytes += sz > 0 ? (uint64_t)sz : 0;
	}
	q->records = 0;
	for (p = q->head; pos_cmp(p, q->tail) < 0;) {
		struct nh_spool_pos next;

		size = 0;
		err = read_at(q, p, NULL, &size);
		if (err == 0) {
			q->records++;
			p.off += size;
		} else if (err != -ENOENT && skip_damaged(q, p, size, &next) == 0) {
			p = next;
		} else {
			p = (struct nh_spool_pos){p.seg + 1, 0};
		}
	}
	q->send = q->head;
	return open_tail(q);
}

/* The spool's checksum seed: made once, kept in dir/key (0600). */
static int load_seed(const char *dir, uint32_t *seed)
{
	char path[PATH_MAX + 16], tmp[PATH_MAX + 16];
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/key", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		ssize_t n = read(fd, seed, sizeof(*seed));

		close(fd);
		if (n == sizeof(*seed))
			return 0;
	}
	if (getrandom(seed, sizeof(*seed), 0) != sizeof(*seed))
		return -errno ? -errno : -EIO;
	snprintf(tmp, sizeof(tmp), "%s/key.tmp", dir);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, seed, sizeof(*seed)) != sizeof(*seed) || fsync(fd) != 0)
		err = -errno ? -errno : -EIO;
	close(fd);
	if (!err && rename(tmp, path) != 0)
		err = -errno;
	return err;
}

int nh_spool_open(struct nh_spool *s, const char *dir, uint64_t max_bytes, enum nh_spool_sync sync)
{
	uint32_t seed = 0;
	int err = 0;

	memset(s, 0, sizeof(*s));
	for (int c = 0; c < NH_SPOOL_CLASSES; c++)
		s->q[c].tail_fd = -1;
	if (snprintf(s->dir, sizeof(s->dir), "%s", dir) >= (int)sizeof(s->dir))
		return -ENAMETOOLONG;
	s->max_bytes = max_bytes;
	s->segment_bytes = max_bytes / 8 < NH_SPOOL_SEGMENT ? max_bytes / 8 : NH_SPOOL_SEGMENT;
	if (s->segment_bytes < 4096)
		s->segment_bytes = 4096;
	s->sync = sync;
	err = nh_dirs_make(dir, 0700);
	if (!err)
		err = load_seed(dir, &seed);
	if (err)
		return err;
	for (int c = 0; c < NH_SPOOL_CLASSES && !err; c++) {
		struct nh_spool_queue *q = &s->q[c];

		q->seed = seed;
		snprintf(q->dir, sizeof(q->dir), "%s/%s", dir, class_dir[c]);
		if (mkdir(q->dir, 0700) != 0 && errno != EEXIST)
			err = -errno;
		else
			err = recover(q);
	}
	if (err)
		nh_spool_close(s);
	return err;
}

void nh_spool_detach_worker(struct nh_spool *s)
{
	/* A flush still on the worker would race the next cursor write
	 * (bounded: a disk that never answers leaves it behind). */
	if (s->worker && nh_worker_state(s->worker, (uint64_t)(uintptr_t)s) != NH_JOB_NONE)
		nh_worker_wait(s->worker, (uint64_t)(uintptr_t)s, 2000000000ULL);
	s->worker = NULL;
}

void nh_spool_close(struct nh_spool *s)
{
	nh_spool_detach_worker(s);
	nh_spool_flush(s);
	for (int c = 0; c < NH_SPOOL_CLASSES; c++) {
		if (s->q[c].tail_fd >= 0)
			close(s->q[c].tail_fd);
		s->q[c].tail_fd = -1;
	}
}

/* Shed the oldest activity segment (all of activity when only the tail
 * is left) to make room for an anomaly. Returns bytes freed. */
static uint64_t shed_activity(struct nh_spool *s)
{
	struct nh_spool_queue *q = &s->q[NH_SPOOL_ACTIVITY];
	uint64_t before = q->bytes, n = 0;
	struct nh_spool_pos p;
	size_t size;

	if (!q->records)
		return 0;
	/* Count the records being dropped: from the head to the end of the
	 * head's segment. */
	for (p = q->head; p.seg == q->head.seg;) {
		struct nh_spool_pos next;
		int err;

		size = 0;
		err = read_at(q, p, NULL, &size);
		if (err == 0) {
			n++; /* damaged records are not pending */
			p.off += size;
		} else if (err == -ENOENT || skip_damaged(q, p, size, &next) != 0) {
			break;
		} else {
			p = next;
		}
	}
	s->shed[NH_SPOOL_ACTIVITY] += n;
	q->records -= n < q->records ? n : q->records;
	q->head = (struct nh_spool_pos){q->head.seg + 1, 0};
	if (q->head.seg > q->tail.seg) {
		q->tail = q->head;
		open_tail(q);
	}
	drop_acked(q);
	/* What was in flight there is gone: send from the new head. */
	q->send = q->head;
	q->inflight_len = 0;
	/* Not synced here (the next flush does, off the loop): a cursor lost
	 * in a crash only costs resending, as the shed segments are gone. */
	write_cursor(q, false);
	return before - q->bytes;
}

/* Room first from segments Kafka acknowledged whole but not deleted yet
 * (that waits for the cursor past them on disk, and a flush on a slow
 * disk may take long): deleting them first loses nothing, as a cursor on
 * disk behind the first segment left only means resending from there.
 * True when something was deleted. */
static bool reclaim_acked(struct nh_spool *s)
{
	bool freed = false;

	for (int c = 0; c < NH_SPOOL_CLASSES; c++) {
		uint64_t first = s->q[c].first_seg;

		drop_acked(&s->q[c]);
		freed |= s->q[c].first_seg != first;
	}
	return freed;
}

int nh_spool_append(struct nh_spool *s, enum nh_spool_class cls, const char *topic,
		    const void *data, size_t len)
{
	return nh_spool_append_timed(s, cls, topic, data, len, 0);
}

static enum nh_spool_werr werr_cause(int err)
{
	return err == -ENOSPC || err == -EDQUOT ? NH_SPOOL_WERR_NOSPC
	       : err == -EIO			? NH_SPOOL_WERR_IO
						: NH_SPOOL_WERR_OTHER;
}

/* One write at the known end: a failed or short one is cut off again, so
 * the segment never holds half a record before a whole one. */
static int write_tail(struct nh_spool *s, struct nh_spool_queue *q, const struct iovec *iov, int n,
		      uint64_t need)
{
	ssize_t w;
	int err;

	if (q->tail.off >= s->segment_bytes || q->tail_fd < 0) {
		if (q->tail.off) {
			/* What the last tick did not sync is in the full segment: the
			 * next flush syncs it by path, on the worker when there is
			 * one. Its descriptor is closed now: rollovers, however many,
			 * hold no descriptors, and dropping the segment frees its
			 * space at once (unless a sync runs on it right then: struct
			 * nh_spool_shared). */
			if (q->dirty && s->sync != NH_SPOOL_SYNC_NONE) {
				if (!q->unsynced)
					q->unsynced_first = q->tail.seg;
				q->unsynced = q->tail.seg - q->unsynced_first + 1;
			}
			q->dirty = false;
			q->tail = (struct nh_spool_pos){q->tail.seg + 1, 0};
		}
		err = open_tail(q);
		if (err)
			return err;
	}
	w = pwritev(q->tail_fd, iov, n, (off_t)q->tail.off);
	if (w == (ssize_t)need)
		return 0;
	/* A short write is the disk filling up. */
	err = w < 0 ? -errno : -ENOSPC;
	if (ftruncate(q->tail_fd, (off_t)q->tail.off) != 0 && err != -ENOSPC)
		err = -EIO;
	return err;
}

int nh_spool_append_timed(struct nh_spool *s, enum nh_spool_class cls, const char *topic,
			  const void *data, size_t len, uint64_t event_ns)
{
	struct nh_spool_queue *q = &s->q[cls];
	size_t tlen = strlen(topic);
	struct rec_hdr h = {NH_SPOOL_MAGIC, (uint32_t)len, 0, (uint16_t)tlen,
			    NH_SPOOL_FORMAT << NH_SPOOL_FORMAT_SHIFT};
	uint8_t when[NH_SPOOL_TIME_BYTES] = {0};
	struct iovec iov[4] = {
	    {&h, sizeof(h)}, {(void *)topic, tlen}, {when, 0}, {(void *)data, len}};
	unsigned retries = 0;
	uint64_t need;
	int err;

	if (len > NH_SPOOL_RECORD_MAX || tlen > NH_SPOOL_TOPIC_MAX)
		return -EMSGSIZE;
	if (event_ns && tlen + NH_SPOOL_TIME_BYTES <= NH_SPOOL_TOPIC_MAX) {
		for (int i = 0; i < 8; i++)
			when[1 + i] = (uint8_t)(event_ns >> (8 * i));
		iov[2].iov_len = NH_SPOOL_TIME_BYTES;
		h.topic_len = (uint16_t)(tlen + NH_SPOOL_TIME_BYTES);
		h.flags |= NH_SPOOL_F_EVENT_TIME;
	}
	need = sizeof(h) + h.topic_len + len;
	while (s->q[0].bytes + s->q[1].bytes + need > s->max_bytes) {
		if (reclaim_acked(s))
			continue;
		if (cls == NH_SPOOL_ACTIVITY || !shed_activity(s)) {
			s->shed[cls]++;
			return -ENOSPC;
		}
	}
	h.crc = crc32(crc32(crc32(q->seed, (const uint8_t *)topic, tlen), when, iov[2].iov_len),
		      data, len);
	while ((err = write_tail(s, q, iov, 4, need)) != 0) {
		s->write_errors[werr_cause(err)]++;
		/* A full disk: an anomaly takes the room of the oldest activity
		 * (and may try again as long as there is some); otherwise a
		 * new segment, in case one file or block went bad (or the file
		 * reached a size limit). */
		if (werr_cause(err) == NH_SPOOL_WERR_NOSPC &&
		    (reclaim_acked(s) || (cls == NH_SPOOL_ANOMALY && shed_activity(s))))
			continue;
		if (retries++ == NH_SPOOL_WRITE_RETRIES) {
			s->lost[cls]++;
			return err;
		}
		/* The next try in a new segment, unless this one is still
		 * empty (a full disk must not leave a trail of empty files). */
		if (q->tail.off)
			q->tail.off = s->segment_bytes;
	}
	q->tail.off += need;
	q->bytes += need;
	q->records++;
	q->dirty = true;
	/* The record is written and will be sent; a failed sync only weakens
	 * what survives a crash, so it is counted, not returned. */
	if (s->sync == NH_SPOOL_SYNC_ALWAYS && fdatasync(q->tail_fd) != 0)
		s->write_errors[werr_cause(-errno)]++;
	return 0;
}

/* The head moves over the acknowledged prefix only. */
static void head_over_acked(struct nh_spool_queue *q)
{
	while (q->inflight_len && q->acked[q->inflight_first]) {
		q->inflight_first = (q->inflight_first + 1) % NH_SPOOL_INFLIGHT;
		q->inflight_len--;
		q->records -= q->records ? 1 : 0;
		q->head = q->inflight_len ? q->inflight[q->inflight_first] : q->send;
	}
}

int nh_spool_next(struct nh_spool *s, struct nh_spool_record *rec)
{
	for (int c = 0; c < NH_SPOOL_CLASSES; c++) {
		struct nh_spool_queue *q = &s->q[c];

		while (pos_cmp(q->send, q->tail) < 0) {
			size_t size, slot;
			int err;

			if (q->inflight_len == NH_SPOOL_INFLIGHT)
				return -EBUSY;
			size = 0;
			err = read_at(q, q->send, rec, &size);
			if (err == -EBADMSG || err == -ENODATA || err == -EPROTO) {
				struct nh_spool_pos next;

				/* Damaged: counted and stepped over to the next whole
				 * record; it was pending if appended in this run. */
				s->corrupt++;
				if (skip_damaged(q, q->send, size, &next) == 0)
					q->send = next;
				else if (q->send.seg >= q->tail.seg)
					q->send = q->tail;
				else
					q->send = (struct nh_spool_pos){q->send.seg + 1, 0};
				if (pos_cmp(q->send, q->head) > 0 && !q->inflight_len)
					q->head = q->send;
				continue;
			}
			if (err == -ENOENT) {
				if (q->send.seg >= q->tail.seg)
					break;
				q->send = (struct nh_spool_pos){q->send.seg + 1, 0};
				continue;
			}
			if (err)
				return err;
			while (q->delivered_len &&
			       pos_cmp(q->delivered[q->delivered_first], q->send) < 0) {
				q->delivered_first++;
				q->delivered_len--;
			}
			if (q->delivered_len &&
			    pos_cmp(q->delivered[q->delivered_first], q->send) == 0) {
				/* acknowledged before the rewind */
				q->delivered_first++;
				q->delivered_len--;
				slot = (q->inflight_first + q->inflight_len++) % NH_SPOOL_INFLIGHT;
				q->inflight[slot] = q->send;
				q->acked[slot] = true;
				q->send.off += size;
				head_over_acked(q);
				continue;
			}
			if (pos_cmp(q->send, q->recovered) < 0)
				rec->event_ns = 0;
			slot = (q->inflight_first + q->inflight_len++) % NH_SPOOL_INFLIGHT;
			q->inflight[slot] = q->send;
			q->acked[slot] = false;
			q->send.off += size;
			rec->cls = c;
			return 0;
		}
	}
	return -ENOENT;
}

int nh_spool_ack(struct nh_spool *s, enum nh_spool_class cls, struct nh_spool_pos pos)
{
	struct nh_spool_queue *q = &s->q[cls];
	size_t i, slot;

	for (i = 0; i < q->inflight_len; i++) {
		slot = (q->inflight_first + i) % NH_SPOOL_INFLIGHT;
		if (pos_cmp(q->inflight[slot], pos) == 0)
			break;
	}
	if (i == q->inflight_len)
		return -ENOENT; /* rewound or shed meanwhile */
	if (q->acked[slot])
		return -EALREADY; /* sent twice (a resend after a shed) */
	q->acked[slot] = true;
	head_over_acked(q);
	return 0;
}

void nh_spool_unsend(struct nh_spool *s, enum nh_spool_class cls)
{
	struct nh_spool_queue *q = &s->q[cls];
	size_t last;

	if (!q->inflight_len)
		return;
	last = (q->inflight_first + q->inflight_len - 1) % NH_SPOOL_INFLIGHT;
	q->send = q->inflight[last];
	q->inflight_len--;
}

void nh_spool_rewind(struct nh_spool *s)
{
	for (int c = 0; c < NH_SPOOL_CLASSES; c++) {
		struct nh_spool_queue *q = &s->q[c];
		size_t n = 0, later;

		for (size_t i = 0; i < q->inflight_len; i++)
			n += q->acked[(q->inflight_first + i) % NH_SPOOL_INFLIGHT];
		/* acknowledged past head: those in flight now, then those of an
		 * earlier rewind not reached again yet (all later); more than
		 * fit are sent again, as before */
		later = q->delivered_len < NH_SPOOL_INFLIGHT - n ? q->delivered_len
								 : NH_SPOOL_INFLIGHT - n;
		memmove(q->delivered + n, q->delivered + q->delivered_first,
			later * sizeof(q->delivered[0]));
		n = 0;
		for (size_t i = 0; i < q->inflight_len; i++) {
			size_t slot = (q->inflight_first + i) % NH_SPOOL_INFLIGHT;

			if (q->acked[slot])
				q->delivered[n++] = q->inflight[slot];
		}
		q->delivered_first = 0;
		q->delivered_len = n + later;
		q->send = q->head;
		q->inflight_len = 0;
	}
}

/* One flush handed to the worker: per class, a duplicate of the tail
 * descriptor to sync (-1: nothing written since the last) and its
 * segment, the full segments to sync by path, and the head to persist,
 * copied when it was handed out; and what it shares with the loop. */
struct flush_job {
	struct nh_job job;
	struct {
		bool on;
		int fd;
		uint64_t tail_seg, seg_first, segs;
		struct nh_spool_shared sh;
		struct nh_spool_pos head;
		char dir[PATH_MAX];
	} q[NH_SPOOL_CLASSES];
	int err;
};

static void flush_run(struct nh_job *job)
{
	struct flush_job *j = (struct flush_job *)job;

	for (int c = 0; c < NH_SPOOL_CLASSES; c++) {
		if (!j->q[c].on)
			continue;
		if (j->q[c].fd >= 0) {
			char path[PATH_MAX + 32];
			bool live;

			snprintf(path, sizeof(path), "%s/" NH_SPOOL_SEG_NAME, j->q[c].dir,
				 (unsigned long long)j->q[c].tail_seg);
			live = sync_begin(&j->q[c].sh, j->q[c].tail_seg, path);
			if (live && fdatasync(j->q[c].fd) != 0 && !j->err)
				j->err = -errno;
			/* Closed here, not when the loop collects the job: the
			 * segment's space comes back as soon as it can. */
			close(j->q[c].fd);
			j->q[c].fd = -1;
			if (live)
				sync_end(&j->q[c].sh, j->q[c].tail_seg, path);
		}
		if (sync_segments(j->q[c].dir, j->q[c].seg_first, j->q[c].segs, &j->q[c].sh) != 0 &&
		    !j->err)
			j->err = -EIO;
		if (write_cursor_at(j->q[c].dir, j->q[c].head, true) != 0 && !j->err)
			j->err = -EIO;
	}
}

static void flush_done(void *owner, struct nh_job *job)
{
	struct flush_job *j = (struct flush_job *)job;
	struct nh_spool *s = owner;

	s->syncing = 0;
	for (int c = 0; c < NH_SPOOL_CLASSES; c++) {
		struct nh_spool_queue *q = &s->q[c];

		if (q->flushing == &j->q[c].sh)
			q->flushing = NULL; /* its syncs are over: the loop unlinks alone */
		if (j->q[c].fd >= 0)
			close(j->q[c].fd);
		if (!j->q[c].on)
			continue;
		/* started_ns 0: it never ran (the worker stopped first); what
		 * it would have synced is the next flush's again. Its segments
		 * come before any that filled since. */
		if (!job->started_ns) {
			if (j->q[c].fd >= 0)
				q->dirty = true;
			if (j->q[c].segs) {
				uint64_t end = q->unsynced ? q->unsynced_first + q->unsynced
							   : j->q[c].seg_first + j->q[c].segs;

				q->unsynced_first = j->q[c].seg_first;
				q->unsynced = end - q->unsynced_first;
				clamp_unsynced(q);
			}
			continue;
		}
		if (q->tail_fd >= 0)
			drop_acked_before(q, j->q[c].head.seg);
	}
	if (job->started_ns)
		s->flush_err = j->err;
	free(j);
}

int nh_spool_flush(struct nh_spool *s)
{
	struct flush_job *j;
	int err;

	if (!s->worker)
		return nh_spool_flush_now(s);
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->job = (struct nh_job){
	    .key = (uint64_t)(uintptr_t)s, .run = flush_run, .done = flush_done, .owner = s};
	for (int c = 0; c < NH_SPOOL_CLASSES; c++) {
		struct nh_spool_queue *q = &s->q[c];

		j->q[c].fd = -1;
		if (q->tail_fd < 0)
			continue;
		j->q[c].on = true;
		j->q[c].head = q->head;
		snprintf(j->q[c].dir, sizeof(j->q[c].dir), "%s", q->dir);
		if (q->dirty && s->sync != NH_SPOOL_SYNC_NONE)
			j->q[c].fd = fcntl(q->tail_fd, F_DUPFD_CLOEXEC, 0);
		j->q[c].tail_seg = q->tail.seg;
		j->q[c].seg_first = q->unsynced_first;
		j->q[c].segs = q->unsynced;
		atomic_init(&j->q[c].sh.busy, 0);
		atomic_init(&j->q[c].sh.floor, q->first_seg);
	}
	err = nh_worker_submit(s->worker, &j->job);
	if (err) {
		/* The last flush is still running (a slow disk): this one is
		 * skipped, what it would have synced stays dirty for the next. */
		s->flushes_skipped++;
		for (int c = 0; c < NH_SPOOL_CLASSES; c++)
			if (j->q[c].fd >= 0)
				close(j->q[c].fd);
		free(j);
		return 0;
	}
	for (int c = 0; c < NH_SPOOL_CLASSES; c++) {
		if (j->q[c].fd >= 0)
			s->q[c].dirty = false;
		if (j->q[c].on) {
			s->q[c].unsynced = 0;
			s->q[c].flushing = &j->q[c].sh;
		}
		s->syncing += j->q[c].segs;
	}
	return s->flush_err;
}

int nh_spool_flush_now(struct nh_spool *s)
{
	int err = 0;

	for (int c = 0; c < NH_SPOOL_CLASSES; c++) {
		struct nh_spool_queue *q = &s->q[c];

		if (q->tail_fd < 0)
			continue;
		if (q->dirty && s->sync != NH_SPOOL_SYNC_NONE && fdatasync(q->tail_fd) != 0)
			err = -errno;
		q->dirty = false;
		if (sync_segments(q->dir, q->unsynced_first, q->unsynced, NULL) != 0 && !err)
			err = -EIO;
		q->unsynced = 0;
		if (write_cursor(q, true) != 0 && !err)
			err = -EIO;
		drop_acked(q);
	}
	return err;
}

uint64_t nh_spool_pending(const struct nh_spool *s)
{
	return s->q[0].records + s->q[1].records;
}

uint64_t nh_spool_unsynced(const struct nh_spool *s)
{
	return s->q[0].unsynced + s->q[1].unsynced + s->syncing;
}
