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
static int save_one(struct nh_profilestore *s, const struct nh_models *m, const char *identity)
{
	char path[PATH_MAX + 64], tmp[PATH_MAX + 80];
	uint8_t *buf = NULL;
	size_t len = 0, off = 0;
	int fd = -1, err;

	err = nh_models_encode(m, identity, &buf, &len);
	if (err)
		goto cleanup;
	file_name(s, identity, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		err = -errno;
		goto cleanup;
	}
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
	if (fd >= 0) {
		close(fd);
		if (err)
			unlink(tmp);
	}
	free(buf);
	return err;
}

int nh_profilestore_save(struct nh_profilestore *s, const struct nh_models *m)
{
	struct nh_profile_info info;
	size_t it = 0;
	int saved = 0, err, first = 0;

	while (nh_models_next(m, &it, &info)) {
		err = save_one(s, m, info.identity);
		if (err) {
			s->save_errors++;
			if (!first)
				first = err;
			continue;
		}
		saved++;
	}
	s->saved += saved;
	if (first)
		nh_warn(s->log, "profile snapshots: %llu not written to %s (last: %s)",
			(unsigned long long)s->save_errors, s->dir, strerror(-first));
	return saved;
}
