// SPDX-License-Identifier: Apache-2.0
#include "quotamap.h"

#include <errno.h>
#include <stdlib.h>

/* Each owner keeps its entries oldest first in a doubly linked list, so
 * its oldest goes in O(1) and any entry can leave its list in O(1). */
struct nh_quota_entry {
	uint64_t key, owner;
	void *val;
	struct nh_quota_entry *prev, *next;
};

struct nh_quota_owner {
	size_t n;
	struct nh_quota_entry *head, *tail;
};

int nh_quotamap_init(struct nh_quotamap *m, size_t max, size_t quota, void (*free_val)(void *))
{
	int code;

	m->max = max ? max : 1;
	m->quota = quota ? quota : (m->max / 8 ? m->max / 8 : 1);
	m->evicted = m->evicted_quota = 0;
	m->free_val = free_val;
	code = nh_u64map_init(&m->entries, m->max);
	if (code)
		return code;
	code = nh_u64map_init(&m->owners, m->max);
	if (code)
		nh_u64map_free(&m->entries);
	return code;
}

static void drop_val(struct nh_quotamap *m, void *val)
{
	if (m->free_val)
		m->free_val(val);
}

void nh_quotamap_free(struct nh_quotamap *m)
{
	size_t it = 0;
	uint64_t k;
	void *v;

	while (nh_u64map_next(&m->entries, &it, &k, &v)) {
		struct nh_quota_entry *e = v;

		drop_val(m, e->val);
		free(e);
	}
	it = 0;
	while (nh_u64map_next(&m->owners, &it, &k, &v))
		free(v);
	nh_u64map_free(&m->entries);
	nh_u64map_free(&m->owners);
}

void *nh_quotamap_get(const struct nh_quotamap *m, uint64_t key)
{
	struct nh_quota_entry *e = nh_u64map_get(&m->entries, key);

	return e ? e->val : NULL;
}

size_t nh_quotamap_owned(const struct nh_quotamap *m, uint64_t owner)
{
	struct nh_quota_owner *o = nh_u64map_get(&m->owners, owner);

	return o ? o->n : 0;
}

/* Remove e from the map and its owner's list; forget an owner left empty. */
static void remove_entry(struct nh_quotamap *m, struct nh_quota_entry *e)
{
	struct nh_quota_owner *o = nh_u64map_get(&m->owners, e->owner);

	if (o) {
		if (e->prev)
			e->prev->next = e->next;
		else
			o->head = e->next;
		if (e->next)
			e->next->prev = e->prev;
		else
			o->tail = e->prev;
		if (--o->n == 0)
			free(nh_u64map_del(&m->owners, e->owner));
	}
	nh_u64map_del(&m->entries, e->key);
	drop_val(m, e->val);
	free(e);
}

/* The owner holding the most entries: the one a full map takes from. */
static struct nh_quota_owner *largest_owner(const struct nh_quotamap *m)
{
	struct nh_quota_owner *best = NULL;
	size_t it = 0;
	uint64_t k;
	void *v;

	while (nh_u64map_next(&m->owners, &it, &k, &v)) {
		struct nh_quota_owner *o = v;

		if (!best || o->n > best->n)
			best = o;
	}
	return best;
}

int nh_quotamap_put(struct nh_quotamap *m, uint64_t owner, uint64_t key, void *val)
{
	struct nh_quota_entry *e = nh_u64map_get(&m->entries, key);
	struct nh_quota_owner *o;
	void *old = NULL;
	int code = 0;

	if (!key || !owner) {
		code = -EINVAL;
		goto cleanup;
	}
	if (e) {
		drop_val(m, e->val);
		e->val = val;
		return 0;
	}
	o = nh_u64map_get(&m->owners, owner);
	if (o && o->n >= m->quota) {
		/* The owner's oldest makes room, and its entry is reused for the
		 * new one: a flood of novelty at its quota allocates nothing. */
		e = o->head;
		o->head = e->next;
		if (o->head)
			o->head->prev = NULL;
		else
			o->tail = NULL;
		o->n--;
		nh_u64map_del(&m->entries, e->key);
		drop_val(m, e->val);
		m->evicted++;
		m->evicted_quota++;
		goto insert;
	} else if (m->entries.len >= m->max) {
		struct nh_quota_owner *big = largest_owner(m);

		if (big) {
			remove_entry(m, big->head);
			m->evicted++;
		}
		o = nh_u64map_get(&m->owners, owner);
	}
	if (!o) {
		o = calloc(1, sizeof(*o));
		if (!o) {
			code = -ENOMEM;
			goto cleanup;
		}
		code = nh_u64map_put(&m->owners, owner, o, &old);
		if (code) {
			free(o);
			goto cleanup;
		}
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		code = -ENOMEM;
		goto owner_cleanup;
	}
insert:
	*e = (struct nh_quota_entry){.key = key, .owner = owner, .val = val, .prev = o->tail};
	code = nh_u64map_put(&m->entries, key, e, &old);
	if (code) {
		free(e);
		goto owner_cleanup;
	}
	if (o->tail)
		o->tail->next = e;
	else
		o->head = e;
	o->tail = e;
	o->n++;
	return 0;
owner_cleanup:
	if (o->n == 0)
		free(nh_u64map_del(&m->owners, owner));
cleanup:
	drop_val(m, val);
	return code;
}

void *nh_quotamap_next(const struct nh_quotamap *m, size_t *iter)
{
	uint64_t k;
	void *v;

	if (!nh_u64map_next(&m->entries, iter, &k, &v))
		return NULL;
	return ((struct nh_quota_entry *)v)->val;
}
