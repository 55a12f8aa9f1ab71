// SPDX-License-Identifier: Apache-2.0
#include "selfwatch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

/* Entries read from the kernel per batch call, and foreign keys removed
 * per check (more wait for the next check, a second later). */
#define NH_SHADOW_BATCH	  1024
#define NH_SHADOW_FOREIGN 64

struct node {
	struct node *next; /* same key hash */
	bool seen;	   /* found in the kernel map by the current check */
	unsigned char key[NH_SHADOW_KEY_MAX];
	unsigned char value[NH_SHADOW_VALUE_MAX];
};

static uint64_t key_hash(const struct nh_shadow *s, const void *key)
{
	const unsigned char *b = key;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (uint32_t i = 0; i < s->key_size; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h | 1; /* u64map keys are non-zero */
}

static struct node *find(const struct nh_shadow *s, const void *key)
{
	for (struct node *n = nh_u64map_get(&s->map, key_hash(s, key)); n; n = n->next)
		if (!memcmp(n->key, key, s->key_size))
			return n;
	return NULL;
}

int nh_shadow_init(struct nh_shadow *s, const char *name, uint32_t key_size, uint32_t value_size,
		   uint32_t max_entries, bool lru)
{
	memset(s, 0, sizeof(*s));
	if (key_size > NH_SHADOW_KEY_MAX || value_size > NH_SHADOW_VALUE_MAX)
		return -E2BIG;
	s->name = name;
	s->key_size = key_size;
	s->value_size = value_size;
	s->max_entries = max_entries;
	s->lru = lru;
	return nh_u64map_init(&s->map, (size_t)max_entries + 1);
}

void nh_shadow_free(struct nh_shadow *s)
{
	uint64_t k;
	void *v;

	for (size_t i = 0; s->map.slots && nh_u64map_next(&s->map, &i, &k, &v);)
		for (struct node *n = v, *next; n; n = next) {
			next = n->next;
			free(n);
		}
	nh_u64map_free(&s->map);
}

int nh_shadow_put(struct nh_shadow *s, const void *key, const void *value)
{
	struct node *n = find(s, key), *head;
	uint64_t h;
	int code;

	if (n) {
		memcpy(n->value, value, s->value_size);
		return 0;
	}
	if (s->len >= s->max_entries) {
		/* the kernel map is full too (LRU pushes out): what is there
		 * can no longer be told from a foreign entry */
		s->overflow = true;
		return -ENOSPC;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	memcpy(n->key, key, s->key_size);
	memcpy(n->value, value, s->value_size);
	h = key_hash(s, key);
	head = nh_u64map_get(&s->map, h);
	n->next = head;
	code = nh_u64map_put(&s->map, h, n, NULL);
	if (code) {
		free(n);
		s->overflow = true;
		return code;
	}
	s->len++;
	return 0;
}

void nh_shadow_del(struct nh_shadow *s, const void *key)
{
	uint64_t h = key_hash(s, key);
	struct node *head = nh_u64map_get(&s->map, h), **pp = &head, *n;

	for (; (n = *pp); pp = &n->next)
		if (!memcmp(n->key, key, s->key_size))
			break;
	if (!n)
		return;
	*pp = n->next;
	free(n);
	s->len--;
	if (head)
		nh_u64map_put(&s->map, h, head, NULL);
	else
		nh_u64map_del(&s->map, h);
}

static void describe(struct nh_shadow_diff *d, const char *fmt, const char *name, const void *key,
		     uint32_t key_size)
{
	char hex[2 * NH_SHADOW_KEY_MAX + 1];
	const unsigned char *b = key;

	if (d->detail[0])
		return; /* the first difference is named; the counts say the rest */
	for (uint32_t i = 0; i < key_size; i++)
		snprintf(hex + 2 * i, 3, "%02x", b[i]);
	snprintf(d->detail, sizeof(d->detail), fmt, name, hex);
}

/* Walk the kernel map in batches: mark what is recorded, fix changed
 * values, collect keys the agent never wrote. */
static int walk(struct nh_shadow *s, int fd, struct nh_shadow_diff *d, unsigned char *keys,
		unsigned char *values, unsigned char *foreign, uint32_t *nforeign)
{
	uint64_t in[4], out[4]; /* the batch position: a bucket index for hash maps */
	bool first = true;
	int code = 0;

	for (;;) {
		uint32_t count = NH_SHADOW_BATCH;
		bool done;

		code = bpf_map_lookup_batch(fd, first ? NULL : in, out, keys, values, &count, NULL);
		done = code && errno == ENOENT;
		if (code && !done)
			return -errno;
		for (uint32_t i = 0; i < count; i++) {
			const unsigned char *k = keys + (size_t)i * s->key_size;
			const unsigned char *v = values + (size_t)i * s->value_size;
			struct node *n = find(s, k);

			if (!n) {
				if (s->overflow)
					continue;
				d->foreign++;
				describe(d, "%s: entry %s was not written by the agent (removed)",
					 s->name, k, s->key_size);
				if (*nforeign < NH_SHADOW_FOREIGN)
					memcpy(foreign + (size_t)(*nforeign)++ * s->key_size, k,
					       s->key_size);
				continue;
			}
			n->seen = true;
			if (memcmp(n->value, v, s->value_size)) {
				d->changed++;
				describe(d, "%s: entry %s was changed (written back)", s->name, k,
					 s->key_size);
				bpf_map_update_elem(fd, n->key, n->value, BPF_ANY);
			}
		}
		if (done)
			return 0;
		memcpy(in, out, sizeof(in));
		first = false;
	}
}

int nh_shadow_check(struct nh_shadow *s, int fd, struct nh_shadow_diff *d)
{
	unsigned char *keys = malloc((size_t)NH_SHADOW_BATCH * s->key_size);
	unsigned char *values = malloc((size_t)NH_SHADOW_BATCH * s->value_size);
	unsigned char *foreign = malloc((size_t)NH_SHADOW_FOREIGN * s->key_size);
	uint32_t nforeign = 0;
	uint64_t hk;
	void *v;
	int code = -ENOMEM;

	memset(d, 0, sizeof(*d));
	if (!keys || !values || !foreign)
		goto cleanup;
	for (size_t i = 0; nh_u64map_next(&s->map, &i, &hk, &v);)
		for (struct node *n = v; n; n = n->next)
			n->seen = false;
	code = walk(s, fd, d, keys, values, foreign, &nforeign);
	if (code)
		goto cleanup;
	for (uint32_t i = 0; i < nforeign; i++)
		bpf_map_delete_elem(fd, foreign + (size_t)i * s->key_size);
	for (size_t i = 0; nh_u64map_next(&s->map, &i, &hk, &v);)
		for (struct node *n = v; n; n = n->next) {
			if (n->seen)
				continue;
			/* An LRU map near full pushes entries out by itself: not
			 * a removal by someone else. */
			if (s->lru && s->len >= s->max_entries / 2)
				continue;
			d->removed++;
			describe(d, "%s: entry %s was removed (written back)", s->name, n->key,
				 s->key_size);
			bpf_map_update_elem(fd, n->key, n->value, BPF_NOEXIST);
		}
	s->checks++;
	s->foreign += d->foreign;
	s->changed += d->changed;
	s->removed += d->removed;
cleanup:
	free(keys);
	free(values);
	free(foreign);
	return code;
}
