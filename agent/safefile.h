/* SPDX-License-Identifier: Apache-2.0 */
/*
 * safefile: open a workload's file for reading only once it is known to
 * be a regular file on a file system that answers, asking neither the
 * file nor its file system anything first:
 *   1. an O_PATH handle (no open of the file itself: a FIFO, socket or
 *      device is never opened, a FUSE file's server never asked to open);
 *   2. its type from the inode the lookup left (statx with
 *      AT_STATX_DONT_SYNC: a FUSE or NFS file is not asked for fresh
 *      attributes);
 *   3. its file system from the mount table, by the handle's mount id
 *      (fstatfs would ask a FUSE server, and hang with it); only then
 *      fstatfs, which must agree;
 *   4. a reopen of that same inode through /proc/thread-self/fd, so the
 *      path cannot be swapped between the checks and the open.
 * The lookup itself still walks the workload's directories, which a FUSE
 * mount can stall: callers run this on a worker thread (worker.h).
 */
#ifndef NH_SAFEFILE_H
#define NH_SAFEFILE_H

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

/* A file as its lookup found it. */
struct nh_safefile {
	int pathfd; /* O_PATH, or -1 */
	mode_t mode;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	uint64_t mnt_id;
};

/* Look path up below dirfd with openat2's resolve flags; the handle and
 * what the inode says. -errno (ENOENT: no such file). */
int nh_safefile_lookup(int dirfd, const char *path, uint64_t resolve, struct nh_safefile *f);
void nh_safefile_close(struct nh_safefile *f);

/*
 * Open f for reading when it is a regular file of at most max_size bytes
 * on a memory-backed file system (tmpfs, ramfs: where the kubelet keeps
 * projected, secret and service-account volumes), as mountinfo (an fd
 * on the mount table of the namespace the lookup went through, e.g.
 * /proc/<pid>/mountinfo opened before the lookup: the open file keeps
 * that namespace even when the process exits meanwhile) says. An fd, or -errno with *why a static
 * reason naming the problem.
 */
int nh_safefile_open(const struct nh_safefile *f, int mountinfo, off_t max_size, const char **why);

/* The type of the file system mount mnt_id in the mount table open at
 * fd mountinfo ("tmpfs", "fuse.sshfs"), copied into type. -ENOENT when
 * the mount is not listed. */
int nh_safefile_fstype(int mountinfo, uint64_t mnt_id, char *type, size_t len);

#endif
