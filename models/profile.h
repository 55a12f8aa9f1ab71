/* SPDX-License-Identifier: Apache-2.0 */
/*
 * profile: what one identity was seen doing (internal to models/).
 *
 * Memory layout, chosen so a stable profile stays small and a known
 * observation costs a hash and one or two cache lines:
 *   - arena: one allocation holding every item as a record (header,
 *     first/last seen, count, then the value and its NUL, padded to 8
 *     bytes) and every parent binary of an exec item as a smaller edge
 *     record (header, value). Records are appended; merging items (the
 *     egress and file bounds) rewrites the arena without them.
 *   - index: open addressing over (kind, value) -> arena offset, each slot
 *     a 32-bit hash tag and the offset, so probes rarely touch the arena.
 *   - dirs: one entry per distinct prefix of a file item ("", "/var",
 *     "/var/lib", ..., the item itself) with its number of distinct
 *     children and whether a merge collapsed it, for folding wide
 *     directories into "dir/\*". A 32-bit hash tag stands for the prefix:
 *     a collision only miscounts children.
 * Tables are sized as a function of what they hold when the profile turns
 * stable (and after a snapshot is restored), and grow by 1.5x while
 * learning and by 1/8 once stable, so one novel item in a stable profile
 * does not double its memory.
 */
#ifndef NH_MODELS_PROFILE_H
#define NH_MODELS_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models.h"
#include "normalise.h"
#include "rate.h"

#define NH_EXEC_PARENTS_MAX 8	       /* parents kept per binary; more are not recorded */
#define NH_MEMO_SLOTS	    16	       /* dropped novel items remembered, see memo */
#define NH_REC_EDGE	    NH_CAT_MAX /* record kind of an exec item's parent */
#define NH_VALUE_LEN_MAX    (NH_MODEL_VALUE_MAX - 1)
#define NH_CRED_KIND_MAX    63 /* longest credential kind; it holds no ':' */

struct nh_rec {
	uint32_t aux;  /* exec item: parents recorded, the last parent's tag << 8;
			* edge: offset of its item */
	uint16_t len;  /* value bytes, without the NUL */
	uint8_t kind;  /* enum nh_category, or NH_REC_EDGE */
	uint8_t flags; /* NH_REC_* */
};

#define NH_REC_NPARENTS(r) ((r)->aux & 0xff)
#define NH_REC_DEAD	   1 /* being merged away */
#define NH_REC_WIDE	   2 /* file "dir/\*" from a merge: dir folds every new child */

struct nh_item {
	struct nh_rec h;
	uint64_t first_ns, last_ns, count;
	char value[];
};

struct nh_dirs {
	uint64_t *e; /* (tag | 1) << 32 | children; 0 is empty */
	uint32_t cap, n;
	uint32_t full; /* prefixes with max_children children: folding needed */
};

struct nh_profile {
	/* touched by every observation */
	uint64_t hash;
	uint64_t *index; /* tag << 32 | (offset + 1); 0 is empty */
	char *arena;
	uint32_t index_cap, index_n;
	uint32_t arena_len, arena_cap;
	uint64_t events;
	uint16_t idlen;
	uint8_t state;				/* enum nh_profile_state */
	uint32_t egress_prefixes, egress_ports; /* generalised egress items held */
	struct nh_rate rate;
	/* the rest */
	uint32_t nitems[NH_CAT_MAX];
	bool bounded[NH_CAT_MAX];
	uint64_t created_ns, stable_ns, last_new_ns, anomalies, dropped;
	struct nh_dirs dirs;
	/* Hashes of novel items that were dropped at a full bound in stable:
	 * each alerts once while it is remembered here (the last 16), instead
	 * of at every sighting. Not part of snapshots. */
	uint64_t memo[NH_MEMO_SLOTS];
	uint32_t memo_next;
	char identity[];
};

/* An observation as this profile's key: the normalised value (in the
 * caller's buffer or the observation itself) and, for egress, the
 * endpoint it came from. */
struct nh_key {
	enum nh_category cat;
	const char *value;
	size_t len;
	struct nh_endpoint ep;
};

enum nh_add { NH_ADD_STORED = 0, NH_ADD_ABSORBED, NH_ADD_DROPPED };

static inline struct nh_rec *nh_rec_at(const struct nh_profile *p, uint32_t off)
{
	return (struct nh_rec *)(void *)(p->arena + off);
}

static inline char *nh_rec_value(struct nh_rec *r)
{
	return (char *)r +
	       (r->kind == NH_REC_EDGE ? sizeof(struct nh_rec) : sizeof(struct nh_item));
}

static inline uint32_t nh_rec_size(const struct nh_rec *r)
{
	size_t head = r->kind == NH_REC_EDGE ? sizeof(struct nh_rec) : sizeof(struct nh_item);

	return (uint32_t)((head + r->len + 1 + 7) & ~(size_t)7);
}

struct nh_profile *nh_profile_new(const char *identity, size_t len, uint64_t hash, uint64_t now_ns);
void nh_profile_free(struct nh_profile *p);
/* Forget everything learned: learning again from now_ns. */
void nh_profile_clear(struct nh_profile *p, uint64_t now_ns);
size_t nh_profile_bytes(const struct nh_profile *p);

/* Whether a learning profile has learned long enough at now_ns. */
bool nh_profile_ready(const struct nh_profile *p, const struct nh_model_config *cfg,
		      uint64_t now_ns);
/* Learning -> stable at now_ns; the tables shrink to what they hold. */
void nh_profile_stabilise(struct nh_profile *p, uint64_t now_ns);

/*
 * The item of p that covers o: its arena offset, or -ENOENT when o is
 * novel (*k then holds its normalised value, in buf when not o->value),
 * or -EINVAL for an observation that is not well-formed. Changes nothing.
 */
int64_t nh_profile_match(const struct nh_profile *p, const struct nh_model_config *cfg,
			 const struct nh_observation *o, char buf[NH_MODEL_VALUE_MAX],
			 struct nh_key *k);

/* One more sighting of the item at off. */
void nh_profile_touch(struct nh_profile *p, int64_t off, uint64_t ts_ns, uint64_t count);

/* Record parent (raw) as a parent of the exec item at off, if there is
 * room. 0 or -ENOMEM. */
int nh_profile_parent(struct nh_profile *p, int64_t off, const char *parent);

/*
 * Add the novel k. Below the bound it is stored. At the bound egress and
 * files generalise (see profile.c) and k may be absorbed into a wider
 * item; otherwise it is dropped (p->dropped counts it). Returns enum
 * nh_add, with *off the item now covering k unless dropped, or -ENOMEM.
 */
int nh_profile_add(struct nh_profile *p, const struct nh_model_config *cfg, const struct nh_key *k,
		   uint64_t ts_ns, uint64_t count, int64_t *off);

/* Whether hash h is in the memo; adds it when not. */
bool nh_profile_memo(struct nh_profile *p, uint64_t h);

/* For snapshots: store an item as is (no bound, no normalisation),
 * -EEXIST for a duplicate; and a parent of the exec item at owner. */
int nh_profile_insert(struct nh_profile *p, const struct nh_model_config *cfg, enum nh_category cat,
		      const char *value, size_t len, uint64_t first_ns, uint64_t last_ns,
		      uint64_t count, bool wide, int64_t *off);
int nh_profile_insert_parent(struct nh_profile *p, int64_t owner, const char *value, size_t len);
/* Shrink every table to the size it would have after nh_profile_stabilise. */
int nh_profile_trim(struct nh_profile *p);

/* The hash the memo and anomaly dedup use for a normalised value. */
uint64_t nh_profile_value_hash(enum nh_category cat, const char *value, size_t len);

#endif
