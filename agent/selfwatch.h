/* SPDX-License-Identifier: Apache-2.0 */
/*
 * selfwatch: the agent's record of what it wrote into the BPF maps that
 * only it writes (identities, inodes). Another root process can add,
 * change or remove entries with bpftool (steering attribution or
 * budgets, hiding a credential file); the check compares the kernel map
 * with this record, says what differs and writes the agent's entries
 * back.
 */
#ifndef NH_SELFWATCH_H
#define NH_SELFWATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "u64map.h"

#define NH_SHADOW_KEY_MAX   32
#define NH_SHADOW_VALUE_MAX 32

struct nh_shadow {
	const char *name; /* the map's name, for reports */
	uint32_t key_size, value_size;
	uint32_t max_entries; /* the kernel map's */
	bool lru;	      /* the kernel may push entries out when full */
	struct nh_u64map map; /* hash of key -> chain of entries */
	size_t len;
	bool overflow; /* more written than recorded: extra entries are not foreign */
	uint64_t checks, foreign, changed, removed; /* since start */
};

/* What one check found (first difference described). */
struct nh_shadow_diff {
	uint64_t foreign, changed, removed;
	char detail[160];
};

int nh_shadow_init(struct nh_shadow *s, const char *name, uint32_t key_size, uint32_t value_size,
		   uint32_t max_entries, bool lru);
void nh_shadow_free(struct nh_shadow *s);
/* The agent wrote (or replaced) key's value. */
int nh_shadow_put(struct nh_shadow *s, const void *key, const void *value);
/* The agent removed key. */
void nh_shadow_del(struct nh_shadow *s, const void *key);
/*
 * Compare the kernel map behind fd with the record: entries the agent
 * never wrote are deleted, changed ones and removed ones written back.
 * Returns 0 (diff says what was found and repaired) or -errno when the
 * map could not be read.
 */
int nh_shadow_check(struct nh_shadow *s, int fd, struct nh_shadow_diff *diff);

#endif
