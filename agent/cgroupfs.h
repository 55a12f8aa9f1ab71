/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroupfs: where the cgroup v2 hierarchy is mounted and how a cgroup id
 * (the inode of its directory) maps back to a path. Pure v2 hosts mount
 * it at /sys/fs/cgroup, hybrid ones at /sys/fs/cgroup/unified: never
 * assume, read mountinfo.
 */
#ifndef NH_CGROUPFS_H
#define NH_CGROUPFS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct nh_cgroupfs {
	char mount[PATH_MAX];
	char proc[64]; /* procfs root, "/proc" outside tests */
	/* In a private cgroup namespace: the host path (below the mount) of
	 * its root, which /proc/<pid>/cgroup paths are relative to; "" when
	 * the agent sees the host's cgroup tree as it is. */
	char nsroot[PATH_MAX];
};

/* Find the first cgroup2 mount listed in mountinfo. -ENOENT if none. */
int nh_cgroupfs_init(struct nh_cgroupfs *fs, const char *mountinfo, const char *proc);
/* Use a given directory as the hierarchy root (tests, or an override). */
int nh_cgroupfs_init_at(struct nh_cgroupfs *fs, const char *mount, const char *proc);

/* Given the agent's own cgroup id (from the kernel), find whether it runs
 * in a private cgroup namespace and where that is on the host. */
int nh_cgroupfs_set_self(struct nh_cgroupfs *fs, pid_t self, uint64_t self_id);
/* root + "/" + rel with "." and ".." resolved, never above "/". */
int nh_cgroupfs_join(const char *root, const char *rel, char *out, size_t len);

/* The v2 path ("0::<path>") of a process, relative to the mount (the
 * host's tree, also from inside a cgroup namespace). */
int nh_cgroupfs_pid_path(const struct nh_cgroupfs *fs, pid_t pid, char *path, size_t len);
/* The id of a path relative to the mount. */
int nh_cgroupfs_path_id(const struct nh_cgroupfs *fs, const char *path, uint64_t *id);
/* The path of cgroup id: by file handle when the mount is cgroup2, else a
 * bounded search of the hierarchy for the directory whose inode is id.
 * Used when the process that carried the id is already gone. */
int nh_cgroupfs_find_id(const struct nh_cgroupfs *fs, uint64_t id, char *path, size_t len);

/* 1 when every directory from the cgroup up to the mount is owned by root,
 * 0 when one is not (a delegated subtree), -errno on error. */
int nh_cgroupfs_root_owned(const struct nh_cgroupfs *fs, const char *path);

/* Call fn for each process of the cgroup at path (below the mount) until
 * it returns non-zero; returns that value, 0 when none did, or -errno
 * when the members cannot be read. */
int nh_cgroupfs_members(const struct nh_cgroupfs *fs, const char *path,
			int (*fn)(void *ctx, uint32_t pid), void *ctx);

#endif
