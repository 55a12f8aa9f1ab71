/* SPDX-License-Identifier: Apache-2.0 */
/* dirs: the agent's state directories (profiles, spool). */
#ifndef NH_DIRS_H
#define NH_DIRS_H

#include <sys/types.h>

/* mkdir -p: every missing component with mode; 0 or -errno. */
int nh_dirs_make(const char *dir, mode_t mode);

#endif
