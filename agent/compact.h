/* SPDX-License-Identifier: Apache-2.0 */
/* compact: one typed record as one human line, optionally coloured, for
 * the tail (the agent's foreground tail and `nhiscope tail`). Everything
 * the monitored workload chose (paths, argv, comm) is escaped so that it
 * cannot drive the terminal. */
#ifndef NH_COMPACT_H
#define NH_COMPACT_H

#include <stdbool.h>
#include <stddef.h>

#include "wire.h"

void nh_compact_format(const struct nh_wire_record *r, bool color, char *buf, size_t len);

#endif
