// SPDX-License-Identifier: Apache-2.0
#include "u64map.h"

#include <errno.h>
#include <stdlib.h>

#define NH_U64MAP_MIN_CAP 64

uint64_t nh_hash64(uint64_t x)
{
	/* splitmix64 finaliser: keys are often sequential (pids, inodes). */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

uint64_t nh_hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h ? h : 1;
}

int nh_u64map_init(struct nh_u64map *m, size_t max_len)
{
	m->cap = NH_U64MAP_MIN_CAP;
	m->len = 0;
	m->max_len = max_len;
	m->evict_at = 0;
	m->slots = calloc(m->cap, sizeof(*m->slots));
	return m->slots ? 0 : -ENOMEM;
}

void nh_u64map_free(struct nh_u64map *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->len = 0;
}

static size_t probe_start(const struct nh_u64map *m, uint64_t key)
{
	return nh_hash64(key) & (m->cap - 1);
}

void *nh_u64map_get(const struct nh_u64map *m, uint64_t key)
{
	size_t i;

	if (!key || !m->slots)
		return NULL;
	for (i = probe_start(m, key);; i = (i + 1) & (m->cap - 1)) {
		if (m->slots[i].key == key)
			return m->slots[i].val;
		if (!m->slots[i].key)
			return NULL;
	}
}

static int grow(struct nh_u64map *m)
{
	struct nh_u64map_slot *old = m->slots;
	size_t old_cap = m->cap, i, j;

	m->slots = calloc(old_cap * 2, sizeof(*m->slots));
	if (!m->slots) {
		m->slots = old;
		return -ENOMEM;
	}
	m->cap = old_cap * 2;
	for (i = 0; i < old_cap; i++) {
		if (!old[i].key)
			continue;
		for (j = probe_start(m, old[i].key); m->slots[j].key; j = (j + 1) & (m->cap - 1))
			;
		m->slots[j] = old[i];
	}
	free(old);
	return 0;
}

int nh_u64map_put(struct nh_u64map *m, uint64_t key, void *val, void **old)
{
	size_t i;
	int err;

	if (old)
		*old = NULL;
	if (!key)
		return -EINVAL;
	/* Keep the load factor under 1/2 so probes stay short. */
	if ((m->len + 1) * 2 > m->cap) {
		err = grow(m);
		if (err)
			return err;
	}
	for (i = probe_start(m, key);; i = (i + 1) & (m->cap - 1)) {
		if (m->slots[i].key == key) {
			if (old)
				*old = m->slots[i].val;
			m->slots[i].val = val;
			return 0;
		}
		if (!m->slots[i].key)
			break;
	}
	if (m->len >= m->max_len)
		return -ENOSPC;
	m->slots[i].key = key;
	m->slots[i].val = val;
	m->len++;
	return 0;
}

void *nh_u64map_del(struct nh_u64map *m, uint64_t key)
{
	size_t mask = m->cap - 1, i, j, home;
	void *val;

	if (!key || !m->slots)
		return NULL;
	for (i = probe_start(m, key);; i = (i + 1) & mask) {
		if (!m->slots[i].key)
			return NULL;
		if (m->slots[i].key == key)
			break;
	}
	val = m->slots[i].val;
	/* Backward shift: pull later members of the cluster into the hole
	 * when the hole lies between their home slot and where they sit. */
	for (j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
		home = probe_start(m, m->slots[j].key);
		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i].key = 0;
	m->slots[i].val = NULL;
	m->len--;
	return val;
}

int nh_u64map_next(const struct nh_u64map *m, size_t *iter, uint64_t *key, void **val)
{
	for (; *iter < m->cap; (*iter)++) {
		if (m->slots[*iter].key) {
			*key = m->slots[*iter].key;
			*val = m->slots[*iter].val;
			(*iter)++;
			return 1;
		}
	}
	return 0;
}

int nh_u64map_evict(struct nh_u64map *m, uint64_t *key, void **val)
{
	size_t mask = m->cap - 1, i;

	if (!m->len)
		return 0;
	/* The load factor is at most 1/2, so an occupied slot is near. */
	for (i = m->evict_at & mask; !m->slots[i].key; i = (i + 1) & mask)
		;
	*key = m->slots[i].key;
	*val = nh_u64map_del(m, *key);
	/* Backward shift may have pulled a later entry into slot i: look
	 * there first next time. */
	m->evict_at = i;
	return 1;
}

int nh_u64map_put_evict(struct nh_u64map *m, uint64_t key, void *val, void **old, void **victim)
{
	uint64_t vkey;

	*victim = NULL;
	if (key && m->len >= m->max_len && !nh_u64map_get(m, key))
		nh_u64map_evict(m, &vkey, victim);
	return nh_u64map_put(m, key, val, old);
}
