// SPDX-License-Identifier: Apache-2.0
#include "profilestore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirs.h"
#include "u64map.h"

/* Snapshots are small (a few KiB); anything this large is not one. */
#define NH_SNAPSHOT_MAX (8u << 20)

int nh_profilestore_open(struct nh_profilestore *s, const char *dir, const struct nh_log *log)
{
	struct stat st;
	int n;

	memset(s, 0, sizeof(*s));
	s->log = log;
	n = snprintf(s->dir, sizeof(s->dir), "%s", dir);
	if (n < 0 || (size_t)n >= sizeof(s->dir))
		return -ENAMETOOLONG;
	n = nh_dirs_make(dir, 0700);
	if (n) {
		nh_err(log, "profile directory %s cannot be created: %s", dir, strerror(-n));
		return n;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		nh_err(log, "profile directory %s is not a directory", dir);
		return -ENOTDIR;
	}
	return 0;
}

/* The file of an identity: keys hold '/' and ':', so the name is a hash;
 * the identity itself is inside the snapshot. */
static void file_name(const struct nh_profilestore *s, const char *identity, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%016llx%s", s->dir, (unsigned long long)nh_hash_str(identity),
		 NH_SNAPSHOT_SUFFIX);
}

static int read_file(const char *path, uint8_t **out, size_t *len)
{
	uint8_t *buf = NULL;
	struct stat st;
	size_t n = 0;
	ssize_t r = 0;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > NH_SNAPSHOT_MAX) {
		err = -EINVAL;
		goto cleanup;
	}
	buf = malloc(st.st_size ? st.st_size : 1);
	if (!buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	while (n < (size_t)st.st_size && (r = read(fd, buf + n, st.st_size - n)) > 0)
		n += r;
	if (n < (size_t)st.st_size) {
		err = r < 0 ? -errno : -EIO;
		goto cleanup;
	}
	*out = buf;
	*len = n;
	buf = NULL;
cleanup:
	free(buf);
	close(fd);
	return err;
}

int nh_profilestore_load(struct nh_profilestore *s, struct nh_models *m)
{
	char path[PATH_MAX + 256], aside[PATH_MAX + 300];
	struct dirent *de;
	int loaded = 0;
	DIR *d;

	d = opendir(s->dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		size_t nlen = strlen(de->d_name), slen = strlen(NH_SNAPSHOT_SUFFIX);
		const char *why = NULL;
		uint8_t *buf = NULL;
		size_t len = 0;
		int err;

		if (nlen <= slen || strcmp(de->d_name + nlen - slen, NH_SNAPSHOT_SUFFIX) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", s->dir, de->d_name);
		err = read_file(path, &buf, &len);
		if (!err)
			err = nh_models_decode(m, buf, len, &why);
		free(buf);
		if (err && err != -EINVAL && err != -EBADMSG) {
			/* Not the snapshot's fault (a full table, memory, a
			 * read error): keep it for the next start. */
			nh_warn(s->log, "profile %s not loaded: %s", path,
				err == -ENOSPC ? "the profile table is full" : strerror(-err));
			continue;
		}
		if (err) {
			/* Keep the evidence, out of the way of the next load. */
			snprintf(aside, sizeof(aside), "%s.corrupt", path);
			rename(path, aside);
			s->corrupt++;
			nh_warn(s->log,
				"profile snapshot %s is unusable (%s): moved to %s; that "
				"identity learns again",
				path, why ? why : strerror(-err), aside);
			continue;
		}
		loaded++;
	}
	closedir(d);
	s->loaded += loaded;
	return loaded;
}

/* One snapshot: temporary file, fsync, rename over the old one. */
static int write_one(const char *path, const uint8_t *buf, size_t len)
{
	char tmp[PATH_MAX + 80];
	size_t off = 0;
	int fd, err = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t w = write(fd, buf + off, len - off);

		if (w < 0) {
			err = -errno;
			goto cleanup;
		}
		off += w;
	}
	if (fsync(fd) != 0 || rename(tmp, path) != 0)
		err = -errno;
cleanup:
	close(fd);
	if (err)
		unlink(tmp);
	return err;
}

/* A save handed to the worker: every snapshot already encoded. */
struct save_item {
	char path[PATH_MAX + 64];
	uint8_t *buf;
	size_t len;
};

struct save_job {
	struct nh_job job;
	struct save_item *items;
	size_t n;
	int saved, failed, first; /* out */
};

static void save_run(struct nh_job *job)
{
	struct save_job *j = (struct save_job *)job;

	for (size_t i = 0; i < j->n; i++) {
		int err = write_one(j->items[i].path, j->items[i].buf, j->items[i].len);

		if (err) {
			j->failed++;
			if (!j->first)
				j->first = err;
		} else {
			j->saved++;
		}
	}
}

static void save_report(struct nh_profilestore *s, int saved, int failed, int first)
{
	s->saved += (uint64_t)saved;
	s->save_errors += (uint64_t)failed;
	if (first)
		nh_warn(s->log, "profile snapshots: %llu not written to %s (last: %s)",
			(unsigned long long)s->save_errors, s->dir, strerror(-first));
}

static void save_job_free(struct save_job *j)
{
	for (size_t i = 0; i < j->n; i++)
		free(j->items[i].buf);
	free(j->items);
	free(j);
}

static void save_done(void *owner, struct nh_job *job)
{
	struct save_job *j = (struct save_job *)job;

	/* started_ns 0: never ran (the worker stopped first). */
	if (job->started_ns)
		save_report(owner, j->saved, j->failed, j->first);
	save_job_free(j);
}

int nh_profilestore_save(struct nh_profilestore *s, const struct nh_models *m)
{
	struct nh_profile_info info;
	struct save_job *j = calloc(1, sizeof(*j));
	size_t it = 0, cap = 0;
	int err = 0, encode_failed = 0, first = 0, count;

	if (!j)
		return -ENOMEM;
	j->job = (struct nh_job){
	    .key = (uint64_t)(uintptr_t)s, .run = save_run, .done = save_done, .owner = s};
	while (nh_models_next(m, &it, &info)) {
		struct save_item *item;

		if (j->n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct save_item *grown = realloc(j->items, ncap * sizeof(*grown));

			if (!grown) {
				err = -ENOMEM;
				goto cleanup;
			}
			j->items = grown;
			cap = ncap;
		}
		item = &j->items[j->n];
		err = nh_models_encode(m, info.identity, &item->buf, &item->len);
		if (err) {
			encode_failed++;
			if (!first)
				first = err;
			err = 0;
			continue;
		}
		file_name(s, info.identity, item->path, sizeof(item->path));
		j->n++;
	}
	count = (int)j->n;
	if (encode_failed)
		save_report(s, 0, encode_failed, first);
	if (s->worker) {
		err = nh_worker_submit(s->worker, &j->job);
		if (err == 0)
			return count; /* the worker owns j */
		/* The last save is still being written (a slow disk): this one
		 * is skipped, the next takes its place. */
		s->saves_skipped++;
		err = 0;
		count = 0;
		goto cleanup;
	}
	save_run(&j->job);
	save_report(s, j->saved, j->failed, j->first);
	count = j->saved;
cleanup:
	save_job_free(j);
	return err ? err : count;
}
