/* SPDX-License-Identifier: Apache-2.0 */
/* secretfile: a secret read from a file (a mounted Kubernetes Secret), so
 * that it never has to appear on a command line or in a config file. */
#ifndef NH_SECRETFILE_H
#define NH_SECRETFILE_H

#include <stddef.h>

/* The file's content without surrounding blanks, NUL-terminated in out.
 * 0; -EFBIG when it does not fit in cap; -ENODATA when empty; -errno. The
 * caller wipes out (explicit_bzero) when done. */
int nh_secretfile_read(const char *path, char *out, size_t cap);

#endif
