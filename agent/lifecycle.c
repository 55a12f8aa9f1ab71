// SPDX-License-Identifier: Apache-2.0
#include "lifecycle.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int nh_lifecycle_parse(const char *text, uint64_t *alive_ns, bool *clean)
{
	unsigned long long t;
	int c, n = 0;

	if (sscanf(text, "nhiscope-state 1\nalive_ns %llu\nclean %d\n%n", &t, &c, &n) != 2 ||
	    n == 0 || (c != 0 && c != 1) || t == 0)
		return -EINVAL;
	*alive_ns = t;
	*clean = c == 1;
	return 0;
}

static int write_state(struct nh_lifecycle *l, uint64_t alive_ns, bool clean)
{
	char tmp[PATH_MAX + 8], text[96];
	int fd, n, code = 0;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp", l->path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	n = snprintf(text, sizeof(text), "nhiscope-state 1\nalive_ns %" PRIu64 "\nclean %d\n",
		     alive_ns, clean ? 1 : 0);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, text, (size_t)n) != n)
		code = errno ? -errno : -EIO;
	/* A clean stop must survive a power cut right after it. */
	if (!code && clean && fsync(fd))
		code = -errno;
	if (close(fd) && !code)
		code = -errno;
	if (!code && rename(tmp, l->path))
		code = -errno;
	if (code) {
		unlink(tmp);
		l->write_errors++;
	}
	return code;
}

int nh_lifecycle_start(struct nh_lifecycle *l, const char *dir, uint64_t now_unix_ns,
		       uint64_t now_mono_ns, struct nh_lifecycle_gap *gap)
{
	char text[128];
	uint64_t alive;
	bool clean;
	ssize_t len;
	int fd, n;

	memset(l, 0, sizeof(*l));
	memset(gap, 0, sizeof(*gap));
	n = snprintf(l->path, sizeof(l->path), "%s/%s", dir, NH_LIFECYCLE_FILE);
	if (n < 0 || (size_t)n >= sizeof(l->path))
		return -ENAMETOOLONG;
	fd = open(l->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		len = read(fd, text, sizeof(text) - 1);
		close(fd);
		text[len > 0 ? len : 0] = '\0';
		/* A file that does not parse still says a run was here, not when. */
		gap->found = true;
		gap->end_ns = now_unix_ns;
		if (nh_lifecycle_parse(text, &alive, &clean) == 0 && alive <= now_unix_ns) {
			gap->start_ns = alive;
			gap->clean_stop = clean;
		} else {
			gap->start_ns = now_unix_ns;
		}
	}
	l->on = true;
	l->next_beat_ns = now_mono_ns + NH_LIFECYCLE_BEAT_NS;
	return write_state(l, now_unix_ns, false);
}

void nh_lifecycle_beat(struct nh_lifecycle *l, uint64_t now_unix_ns, uint64_t now_mono_ns)
{
	if (!l->on || now_mono_ns < l->next_beat_ns)
		return;
	l->next_beat_ns = now_mono_ns + NH_LIFECYCLE_BEAT_NS;
	write_state(l, now_unix_ns, false);
}

int nh_lifecycle_stop(struct nh_lifecycle *l, uint64_t now_unix_ns)
{
	if (!l->on)
		return 0;
	l->on = false;
	return write_state(l, now_unix_ns, true);
}
