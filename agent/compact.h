/* SPDX-License-Identifier: Apache-2.0 */
/* compact: one event (as rendered JSON) as one human line, optionally
 * coloured, for `nhiscope tail` and the agent's foreground tail. */
#ifndef NH_COMPACT_H
#define NH_COMPACT_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

void nh_compact_format(json_object *ev, bool color, char *buf, size_t len);

#endif
