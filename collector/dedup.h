/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dedup: the last N record ids seen, in arrival order. A record id that is
 * still in the window was already delivered and is not written again; the
 * oldest id leaves the window when a new one arrives at the bound. Ids are
 * kept whole (a hash collision must never drop a record).
 */
#ifndef NH_DEDUP_H
#define NH_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nh_dedup {
	size_t max;	  /* the window, ids */
	size_t head, len; /* ring[head] is the oldest of len ids */
	char **ring;
	uint64_t *hashes; /* parallel to ring */
	uint32_t *index;  /* open addressing: ring position + 1, 0 when empty */
	size_t cap;	  /* index slots, a power of two >= 2 * max */
};

/* max >= 1. Returns 0 or -EINVAL, -ENOMEM. */
int nh_dedup_init(struct nh_dedup *d, size_t max);
void nh_dedup_free(struct nh_dedup *d);
bool nh_dedup_seen(const struct nh_dedup *d, const char *id);
/* Remember id (a no-op when already in the window). 0 or -ENOMEM. */
int nh_dedup_add(struct nh_dedup *d, const char *id);

/* The same with id's hash computed once (nh_dedup_hash) for every window
 * it is looked up in: once per record instead of once per look. */
uint64_t nh_dedup_hash(const char *id);
bool nh_dedup_seen_h(const struct nh_dedup *d, const char *id, uint64_t h);
int nh_dedup_add_h(struct nh_dedup *d, const char *id, uint64_t h);

#endif
