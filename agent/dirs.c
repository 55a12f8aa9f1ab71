// SPDX-License-Identifier: Apache-2.0
#include "dirs.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

int nh_dirs_make(const char *dir, mode_t mode)
{
	char p[PATH_MAX];

	if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	for (char *c = p + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = '\0';
		if (mkdir(p, mode) != 0 && errno != EEXIST)
			return -errno;
		*c = '/';
	}
	return mkdir(p, mode) != 0 && errno != EEXIST ? -errno : 0;
}
