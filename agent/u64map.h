/* SPDX-License-Identifier: Apache-2.0 */
/*
 * u64map: open-addressing hash map from a non-zero u64 key to a pointer.
 * Linear probing with backward-shift deletion, so there are no tombstones
 * and lookups stay short under churn (exec/exit, cgroup create/remove).
 */
#ifndef NH_U64MAP_H
#define NH_U64MAP_H

#include <stddef.h>
#include <stdint.h>

struct nh_u64map_slot {
	uint64_t key; /* 0 marks an empty slot */
	void *val;
};

struct nh_u64map {
	struct nh_u64map_slot *slots;
	size_t cap; /* power of two */
	size_t len;
	size_t max_len;	 /* hard bound: puts beyond it fail with -ENOSPC */
	size_t evict_at; /* where the next eviction starts looking */
};

int nh_u64map_init(struct nh_u64map *m, size_t max_len);
void nh_u64map_free(struct nh_u64map *m);
void *nh_u64map_get(const struct nh_u64map *m, uint64_t key);
/* Insert or replace; *old receives a replaced value (or NULL). */
int nh_u64map_put(struct nh_u64map *m, uint64_t key, void *val, void **old);
/* As put, but at the bound a new key evicts some other entry instead of
 * failing; *victim receives its value (NULL when none was evicted) for
 * the caller to free. */
int nh_u64map_put_evict(struct nh_u64map *m, uint64_t key, void *val, void **old, void **victim);
/* Remove and return the value, or NULL when absent. */
void *nh_u64map_del(struct nh_u64map *m, uint64_t key);

/* Remove some entry to make room, returning it in *key and *val; 0 when the
 * map is empty. A cursor that moves on from the last victim makes this
 * O(1) amortised (restarting at slot 0 would walk an ever longer run of
 * emptied slots) and spreads evictions over the whole table. */
int nh_u64map_evict(struct nh_u64map *m, uint64_t *key, void **val);

/* Iteration: for (i = 0; nh_u64map_next(m, &i, &k, &v);) ... Must not
 * mutate the map while iterating. */
int nh_u64map_next(const struct nh_u64map *m, size_t *iter, uint64_t *key, void **val);

uint64_t nh_hash64(uint64_t x);
uint64_t nh_hash_str(const char *s);

#endif
