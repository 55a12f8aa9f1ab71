// SPDX-License-Identifier: Apache-2.0
/* safefile: a workload's file, checked before it is opened (safefile.h). */
#include "safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Where tokens and secrets live: memory-backed, so a read never waits on
 * a device or a server. Not overlay (its lower layers may be FUSE), not
 * ext4/xfs/btrfs (their device may be a loop or network block device
 * backed by anything); a file there is not a kubelet volume anyway. */
static const struct {
	const char *name;
	long magic;
} memory_fs[] = {
    {"tmpfs", TMPFS_MAGIC},
    {"ramfs", (long)RAMFS_MAGIC},
};

int nh_safefile_lookup(int dirfd, const char *path, uint64_t resolve, struct nh_safefile *f)
{
	struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = resolve};
	struct statx stx;
	int err = 0;

	memset(f, 0, sizeof(*f));
	f->pathfd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	if (f->pathfd < 0) {
		err = -errno;
		goto cleanup;
	}
	/* DONT_SYNC: what the inode holds, without asking a remote or FUSE
	 * file system for fresh attributes. */
	if (statx(f->pathfd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC,
		  STATX_TYPE | STATX_MODE | STATX_INO | STATX_SIZE | STATX_MTIME | STATX_MNT_ID,
		  &stx)) {
		err = -errno;
		goto cleanup;
	}
	f->mode = stx.stx_mode;
	f->dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
	f->ino = (ino_t)stx.stx_ino;
	f->size = (off_t)stx.stx_size;
	f->mtime.tv_sec = stx.stx_mtime.tv_sec;
	f->mtime.tv_nsec = stx.stx_mtime.tv_nsec;
	f->mnt_id = (stx.stx_mask & STATX_MNT_ID) ? stx.stx_mnt_id : 0;
cleanup:
	if (err)
		nh_safefile_close(f);
	return err;
}

void nh_safefile_close(struct nh_safefile *f)
{
	if (f->pathfd >= 0)
		close(f->pathfd);
	f->pathfd = -1;
}

int nh_safefile_fstype(int mountinfo, uint64_t mnt_id, char *type, size_t len)
{
	FILE *in = NULL;
	char *line = NULL, *sep;
	size_t cap = 0;
	int fd, err = -ENOENT;

	/* From the start, through a copy the stream may close. */
	if (lseek(mountinfo, 0, SEEK_SET) < 0 || (fd = fcntl(mountinfo, F_DUPFD_CLOEXEC, 0)) < 0)
		return -errno;
	in = fdopen(fd, "r");
	if (!in) {
		close(fd);
		return -ENOMEM;
	}
	while (getline(&line, &cap, in) > 0) {
		char *end;
		unsigned long long id = strtoull(line, &end, 10);

		if (end == line || *end != ' ' || id != mnt_id)
			continue;
		/* Paths are escaped (a space is \040): " - " is the separator. */
		sep = strstr(line, " - ");
		if (!sep)
			break;
		sep += 3;
		sep[strcspn(sep, " \n")] = '\0';
		if (snprintf(type, len, "%s", sep) >= (int)len)
			err = -ENAMETOOLONG;
		else
			err = 0;
		break;
	}
	free(line);
	fclose(in);
	return err;
}

int nh_safefile_open(const struct nh_safefile *f, int mountinfo, off_t max_size, const char **why)
{
	char type[64], self[64];
	struct statfs sfs;
	struct stat st;
	long magic = 0;
	int fd = -1, err = 0;

	if (!S_ISREG(f->mode)) {
		*why = S_ISFIFO(f->mode)   ? "path is a FIFO, not a regular file"
		       : S_ISSOCK(f->mode) ? "path is a socket, not a regular file"
		       : S_ISCHR(f->mode) || S_ISBLK(f->mode)
			   ? "path is a device, not a regular file"
			   : "path is not a regular file";
		err = -EINVAL;
		goto cleanup;
	}
	if (!f->mnt_id || nh_safefile_fstype(mountinfo, f->mnt_id, type, sizeof(type)) != 0) {
		*why = "file system of the file cannot be told from the mount table";
		err = -ENOENT;
		goto cleanup;
	}
	for (size_t i = 0; i < sizeof(memory_fs) / sizeof(memory_fs[0]); i++)
		if (strcmp(type, memory_fs[i].name) == 0)
			magic = memory_fs[i].magic;
	if (!magic) {
		*why = "file is not on a memory-backed volume (tmpfs): not read";
		err = -EXDEV;
		goto cleanup;
	}
	/* Safe now: a tmpfs answers statfs itself. The two must agree. */
	if (fstatfs(f->pathfd, &sfs) != 0 || sfs.f_type != magic) {
		*why = "file system of the file changed while it was checked";
		err = -EXDEV;
		goto cleanup;
	}
	if (f->size > max_size) {
		*why = "file larger than the bound";
		err = -EFBIG;
		goto cleanup;
	}
	snprintf(self, sizeof(self), "/proc/thread-self/fd/%d", f->pathfd);
	fd = open(self, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		*why = "file cannot be opened";
		goto cleanup;
	}
	/* The same inode, still regular: the reopen followed the handle. */
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_ino != f->ino ||
	    st.st_dev != f->dev) {
		*why = "file changed while it was checked";
		err = -ESTALE;
		goto cleanup;
	}
cleanup:
	if (err && fd >= 0)
		close(fd);
	return err ? err : fd;
}
