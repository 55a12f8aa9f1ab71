/* SPDX-License-Identifier: Apache-2.0 */
/*
 * quotamap: a bounded map from a non-zero u64 key to an owned value, where
 * every entry belongs to an owner (an identity, a cgroup) and no owner may
 * hold more than a quota. A new entry of an owner at its quota replaces
 * that owner's oldest; a new entry in a full map replaces the oldest entry
 * of the owner holding the most. So one workload flooding the map only
 * ever evicts its own entries, never another's, and every eviction is
 * counted.
 */
#ifndef NH_QUOTAMAP_H
#define NH_QUOTAMAP_H

#include <stddef.h>
#include <stdint.h>

#include "u64map.h"

struct nh_quota_entry;
struct nh_quota_owner;

struct nh_quotamap {
	struct nh_u64map entries; /* key -> struct nh_quota_entry */
	struct nh_u64map owners;  /* owner -> struct nh_quota_owner */
	size_t max, quota;
	uint64_t evicted;	     /* entries pushed out, whoever owned them */
	uint64_t evicted_quota;	     /* of those, by their own owner's quota */
	void (*free_val)(void *val); /* frees replaced and evicted values */
};

/* quota 0: max / 8 (at least 1). */
int nh_quotamap_init(struct nh_quotamap *m, size_t max, size_t quota, void (*free_val)(void *));
void nh_quotamap_free(struct nh_quotamap *m);
void *nh_quotamap_get(const struct nh_quotamap *m, uint64_t key);
/* Insert (owned by owner) or replace the value of key, which keeps its
 * first owner. The map takes val, also on failure. 0 or -errno. */
int nh_quotamap_put(struct nh_quotamap *m, uint64_t owner, uint64_t key, void *val);
/* Entries held by owner. */
size_t nh_quotamap_owned(const struct nh_quotamap *m, uint64_t owner);
static inline size_t nh_quotamap_len(const struct nh_quotamap *m)
{
	return m->entries.len;
}
/* Iteration over values, as nh_u64map_next; no mutation meanwhile. */
void *nh_quotamap_next(const struct nh_quotamap *m, size_t *iter);

#endif
