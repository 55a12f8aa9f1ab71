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

/* A property given as "key=path": key into key[keylen], the file's
 * content into *value, malloc'd with room for cap bytes. 0 or -errno
 * (-EINVAL: not key=path). Release *value with nh_secretfile_free. */
int nh_secretfile_property(const char *spec, char *key, size_t keylen, char **value, size_t cap);
/* Wipe and free what nh_secretfile_property returned (NULL is fine). */
void nh_secretfile_free(char *value, size_t cap);

#endif
