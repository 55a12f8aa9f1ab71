// SPDX-License-Identifier: Apache-2.0
#include "secretfile.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int nh_secretfile_read(const char *path, char *out, size_t cap)
{
	size_t n = 0, start = 0;
	ssize_t r;
	int fd, rc = 0;

	if (cap < 2)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	while ((r = read(fd, out + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	if (r < 0) {
		rc = -errno;
		goto cleanup;
	}
	if (n == cap - 1) {
		char extra;

		if (read(fd, &extra, 1) > 0) {
			rc = -EFBIG;
			goto cleanup;
		}
	}
	while (n && isspace((unsigned char)out[n - 1]))
		n--;
	while (start < n && isspace((unsigned char)out[start]))
		start++;
	memmove(out, out + start, n - start);
	n -= start;
	rc = n ? 0 : -ENODATA;
cleanup:
	out[rc ? 0 : n] = '\0';
	if (rc)
		explicit_bzero(out, cap);
	close(fd);
	return rc;
}

int nh_secretfile_property(const char *spec, char *key, size_t keylen, char **value, size_t cap)
{
	const char *eq = strchr(spec, '=');
	int rc;

	*value = NULL;
	if (!eq || eq == spec || (size_t)(eq - spec) >= keylen)
		return -EINVAL;
	memcpy(key, spec, (size_t)(eq - spec));
	key[eq - spec] = '\0';
	*value = malloc(cap);
	if (!*value)
		return -ENOMEM;
	rc = nh_secretfile_read(eq + 1, *value, cap);
	if (rc) {
		nh_secretfile_free(*value, cap);
		*value = NULL;
	}
	return rc;
}

void nh_secretfile_free(char *value, size_t cap)
{
	if (!value)
		return;
	explicit_bzero(value, cap);
	free(value);
}
