// SPDX-License-Identifier: Apache-2.0
#include "dedup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

uint64_t nh_dedup_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	/* FNV's low bits are weak: mix before masking */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

int nh_dedup_init(struct nh_dedup *d, size_t max)
{
	memset(d, 0, sizeof(*d));
	if (!max || max > (1u << 30))
		return -EINVAL;
	d->max = max;
	for (d->cap = 16; d->cap < 2 * max; d->cap *= 2)
		;
	d->ring = calloc(max, sizeof(*d->ring));
	d->hashes = calloc(max, sizeof(*d->hashes));
	d->index = calloc(d->cap, sizeof(*d->index));
	if (!d->ring || !d->hashes || !d->index) {
		nh_dedup_free(d);
		return -ENOMEM;
	}
	return 0;
}

void nh_dedup_free(struct nh_dedup *d)
{
	for (size_t i = 0; d->ring && i < d->len; i++)
		free(d->ring[(d->head + i) % d->max]);
	free(d->ring);
	free(d->hashes);
	free(d->index);
	memset(d, 0, sizeof(*d));
}

/* The index slot holding id, or the empty slot where it would go. */
static size_t find(const struct nh_dedup *d, const char *id, uint64_t h)
{
	size_t mask = d->cap - 1, i;

	for (i = h & mask; d->index[i]; i = (i + 1) & mask) {
		size_t pos = d->index[i] - 1;

		if (d->hashes[pos] == h && strcmp(d->ring[pos], id) == 0)
			break;
	}
	return i;
}

/* The index slot of ring position pos (which is indexed): by position,
 * without comparing strings (the oldest id is cold in the cache). */
static size_t find_pos(const struct nh_dedup *d, size_t pos)
{
	size_t mask = d->cap - 1, i;

	for (i = d->hashes[pos] & mask; d->index[i] != (uint32_t)pos + 1; i = (i + 1) & mask)
		;
	return i;
}

bool nh_dedup_seen_h(const struct nh_dedup *d, const char *id, uint64_t h)
{
	/* empty (a file sink's window when the file was new): no probe */
	if (!d->index || !d->len)
		return false;
	return d->index[find(d, id, h)] != 0;
}

bool nh_dedup_seen(const struct nh_dedup *d, const char *id)
{
	return nh_dedup_seen_h(d, id, nh_dedup_hash(id));
}

/* Backward-shift deletion keeps every probe run unbroken without
 * tombstones. */
static void unindex(struct nh_dedup *d, size_t slot)
{
	size_t mask = d->cap - 1, hole = slot, i = slot;

	for (;;) {
		size_t home;

		i = (i + 1) & mask;
		if (!d->index[i])
			break;
		home = d->hashes[d->index[i] - 1] & mask;
		/* move i into the hole unless its home lies cyclically in (hole, i] */
		if ((i > hole && (home <= hole || home > i)) ||
		    (i < hole && home <= hole && home > i)) {
			d->index[hole] = d->index[i];
			hole = i;
		}
	}
	d->index[hole] = 0;
}

int nh_dedup_add(struct nh_dedup *d, const char *id)
{
	return nh_dedup_add_h(d, id, nh_dedup_hash(id));
}

int nh_dedup_add_h(struct nh_dedup *d, const char *id, uint64_t h)
{
	size_t slot = find(d, id, h), pos;
	char *copy;

	if (d->index[slot])
		return 0;
	copy = strdup(id);
	if (!copy)
		return -ENOMEM;
	if (d->len == d->max) {
		/* the oldest leaves the window */
		size_t old = d->head;

		unindex(d, find_pos(d, old));
		free(d->ring[old]);
		d->ring[old] = NULL;
		d->head = (d->head + 1) % d->max;
		d->len--;
		slot = find(d, id, h); /* the shift may have moved the hole */
	}
	pos = (d->head + d->len) % d->max;
	d->ring[pos] = copy;
	d->hashes[pos] = h;
	d->index[slot] = (uint32_t)pos + 1;
	d->len++;
	return 0;
}
