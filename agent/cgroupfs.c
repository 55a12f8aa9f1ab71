// SPDX-License-Identifier: Apache-2.0
#include "cgroupfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NH_CGROUP_MAX_DEPTH 16

static int set_str(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(dst, src, n + 1);
	return 0;
}

int nh_cgroupfs_init_at(struct nh_cgroupfs *fs, const char *mount, const char *proc)
{
	struct stat st;
	int err;

	err = set_str(fs->mount, sizeof(fs->mount), mount);
	if (!err)
		err = set_str(fs->proc, sizeof(fs->proc), proc);
	if (err)
		return err;
	if (stat(fs->mount, &st))
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo octal. */
static void unescape_octal(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

int nh_cgroupfs_init(struct nh_cgroupfs *fs, const char *mountinfo, const char *proc)
{
	char line[4096], mnt[PATH_MAX];
	int err = -ENOENT;
	FILE *f;

	f = fopen(mountinfo, "re");
	if (!f)
		return -errno;
	/* mountinfo: id parent maj:min root mountpoint opts [optional...] - fstype src opts */
	while (fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - ");
		char fstype[32];

		if (!sep || sscanf(sep, " - %31s", fstype) != 1 || strcmp(fstype, "cgroup2") != 0)
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		unescape_octal(mnt);
		err = nh_cgroupfs_init_at(fs, mnt, proc);
		break;
	}
	fclose(f);
	return err;
}

int nh_cgroupfs_pid_path(const struct nh_cgroupfs *fs, pid_t pid, char *path, size_t len)
{
	char file[128], line[4096];
	int err = -ENOENT;
	FILE *f;

	snprintf(file, sizeof(file), "%s/%d/cgroup", fs->proc, (int)pid);
	f = fopen(file, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		line[strcspn(line, "\n")] = '\0';
		/* Resolved even without a namespace: "/../x" must not climb
		 * out of the mount. */
		err = nh_cgroupfs_join(fs->nsroot[0] ? fs->nsroot : "/", line + 3, path, len);
		break;
	}
	fclose(f);
	return err;
}

int nh_cgroupfs_join(const char *root, const char *rel, char *out, size_t len)
{
	char buf[PATH_MAX * 2];
	size_t n = 0;

	if ((size_t)snprintf(buf, sizeof(buf), "%s/%s", root, rel) >= sizeof(buf))
		return -ENAMETOOLONG;
	/* Segment by segment into out, "/" first; ".." drops the last. */
	if (len < 2)
		return -ENAMETOOLONG;
	for (char *save = NULL, *seg = strtok_r(buf, "/", &save); seg;
	     seg = strtok_r(NULL, "/", &save)) {
		size_t sl = strlen(seg);

		if (!strcmp(seg, "."))
			continue;
		if (!strcmp(seg, "..")) {
			while (n > 0 && out[--n] != '/')
				; /* back to the '/' that starts the last segment */
			continue;
		}
		if (n + 1 + sl + 1 > len)
			return -ENAMETOOLONG;
		out[n] = '/';
		memcpy(out + n + 1, seg, sl);
		n += 1 + sl;
	}
	if (!n)
		out[n++] = '/';
	out[n] = '\0';
	return 0;
}

int nh_cgroupfs_set_self(struct nh_cgroupfs *fs, pid_t self, uint64_t self_id)
{
	char host[PATH_MAX], seen[PATH_MAX];
	size_t hl, sl;
	int err;

	fs->nsroot[0] = '\0';
	err = nh_cgroupfs_pid_path(fs, self, seen, sizeof(seen));
	if (!err)
		err = nh_cgroupfs_find_id(fs, self_id, host, sizeof(host));
	if (err)
		return err;
	if (!strcmp(host, seen))
		return 0; /* the host's view */
	/* seen is host's tail below the namespace root: "/" when the agent
	 * sits at the root of its namespace, as in a container. */
	hl = strlen(host);
	sl = strcmp(seen, "/") ? strlen(seen) : 0;
	if (sl > hl || (sl && strcmp(host + hl - sl, seen)))
		return -EPROTO;
	if (hl - sl >= sizeof(fs->nsroot))
		return -ENAMETOOLONG;
	memcpy(fs->nsroot, host, hl - sl);
	fs->nsroot[hl - sl] = '\0';
	if (!fs->nsroot[0])
		return set_str(fs->nsroot, sizeof(fs->nsroot), "/");
	return 0;
}

int nh_cgroupfs_path_id(const struct nh_cgroupfs *fs, const char *path, uint64_t *id)
{
	char full[PATH_MAX * 2];
	struct stat st;

	snprintf(full, sizeof(full), "%s%s", fs->mount, path);
	if (stat(full, &st))
		return -errno;
	*id = st.st_ino;
	return 0;
}

/* Depth-first walk; path holds the relative path of dirfd's directory. */
static int walk(int dirfd, uint64_t id, char *path, size_t len, int depth)
{
	size_t base = strlen(path);
	int err = -ENOENT;
	struct dirent *de;
	DIR *d;

	d = fdopendir(dirfd);
	if (!d) {
		close(dirfd);
		return -errno;
	}
	while (err == -ENOENT && (de = readdir(d))) {
		struct stat st;
		int sub;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW))
			continue;
		if (snprintf(path + base, len - base, "/%s", de->d_name) >= (int)(len - base))
			continue;
		if (st.st_ino == id) {
			err = 0;
			break;
		}
		if (depth + 1 >= NH_CGROUP_MAX_DEPTH)
			continue;
		sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub >= 0)
			err = walk(sub, id, path, len, depth + 1);
	}
	if (err)
		path[base] = '\0';
	closedir(d);
	return err;
}

#define NH_FILEID_KERNFS 0xfe

/* On cgroup2 the id is the kernfs file handle of the directory: open it
 * by handle and read the path back. O(1), where a walk costs a stat per
 * cgroup and could be driven by anyone creating cgroups in a loop. */
static int find_by_handle(const struct nh_cgroupfs *fs, uint64_t id, char *path, size_t len)
{
	union {
		struct file_handle fh;
		char raw[sizeof(struct file_handle) + sizeof(uint64_t)];
	} h;
	char link[64], full[PATH_MAX];
	size_t mlen = strlen(fs->mount);
	int mfd, fd, code = 0;
	ssize_t n;

	memset(&h, 0, sizeof(h));
	h.fh.handle_bytes = sizeof(uint64_t);
	h.fh.handle_type = NH_FILEID_KERNFS;
	memcpy(h.fh.f_handle, &id, sizeof(id));
	mfd = open(fs->mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return -errno;
	fd = open_by_handle_at(mfd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		code = -errno;
		goto cleanup;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, full, sizeof(full) - 1);
	if (n < 0) {
		code = -errno;
		goto cleanup;
	}
	full[n] = '\0';
	/* The link names the directory as this process sees it, below the mount. */
	if (strncmp(full, fs->mount, mlen) != 0 || (full[mlen] != '/' && full[mlen] != '\0')) {
		code = -ENOENT;
		goto cleanup;
	}
	code = set_str(path, len, full[mlen] ? full + mlen : "/");
cleanup:
	if (fd >= 0)
		close(fd);
	close(mfd);
	return code;
}

int nh_cgroupfs_find_id(const struct nh_cgroupfs *fs, uint64_t id, char *path, size_t len)
{
	struct stat st;
	int dirfd;

	if (len < 2)
		return -ENAMETOOLONG;
	if (stat(fs->mount, &st))
		return -errno;
	if (st.st_ino == id)
		return set_str(path, len, "/");
	if (find_by_handle(fs, id, path, len) == 0)
		return 0;
	/* Not a cgroup2 mount (tests use a plain directory tree), or no
	 * CAP_DAC_READ_SEARCH: walk. */
	dirfd = open(fs->mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	path[0] = '\0';
	return walk(dirfd, id, path, len, 0);
}

int nh_cgroupfs_root_owned(const struct nh_cgroupfs *fs, const char *path)
{
	char full[PATH_MAX * 2], *slash;
	size_t mlen = strlen(fs->mount);
	struct stat st;

	if (snprintf(full, sizeof(full), "%s%s", fs->mount, path) >= (int)sizeof(full))
		return -ENAMETOOLONG;
	/* From the cgroup up to (not including) the mount: a directory owned
	 * by anyone but root is a delegated subtree, whose names its owner
	 * chose freely. */
	while (strlen(full) > mlen) {
		if (lstat(full, &st))
			return -errno;
		if (st.st_uid != 0)
			return 0;
		slash = strrchr(full, '/');
		if (!slash)
			break;
		*slash = '\0';
	}
	return 1;
}

int nh_cgroupfs_members(const struct nh_cgroupfs *fs, const char *path,
			int (*fn)(void *ctx, uint32_t pid), void *ctx)
{
	char p[PATH_MAX + 64];
	unsigned int pid;
	int ret = 0;
	FILE *f;

	if (snprintf(p, sizeof(p), "%s/%s/cgroup.procs", fs->mount, path) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	f = fopen(p, "re");
	if (!f)
		return -errno;
	while (!ret && fscanf(f, "%u", &pid) == 1)
		ret = fn(ctx, pid);
	fclose(f);
	return ret;
}
