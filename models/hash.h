/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hash: the one string hash of models/ (registry keys, item index,
 * directory nodes). A word-at-a-time multiply-xorshift mix rather than
 * byte-wise FNV-1a: every observation hashes its identity and its value,
 * and eight bytes per step is several times faster on paths.
 *
 * Not keyed: tables that hold attacker-influenced strings are bounded
 * (max_items), so a crafted collision costs a longer probe, never memory.
 * Values are native-endian and never persisted.
 */
#ifndef NH_MODELS_HASH_H
#define NH_MODELS_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define NH_HASH_SEED 0x6e686973636f7065ull /* "nhiscope" */

static inline uint64_t nh_mhash(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h = seed ^ ((uint64_t)len * 0x9e3779b97f4a7c15ull);
	uint64_t w;

	while (len >= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
		h ^= h >> 31;
		p += 8;
		len -= 8;
	}
	w = 0;
	for (size_t i = 0; i < len; i++)
		w |= (uint64_t)p[i] << (8 * i);
	h = (h ^ w) * 0x94d049bb133111ebull;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	return h;
}

/* A distinct seed per use, so equal strings in two roles do not collide. */
static inline uint64_t nh_mhash_seed(uint64_t role)
{
	return NH_HASH_SEED ^ ((role + 1) * 0xd6e8feb86659fd93ull);
}

#endif
