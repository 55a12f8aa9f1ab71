/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for agent/u64map.c: the basic contract, growth, the hard
 * bound, backward-shift deletion inside collision clusters (including one
 * that wraps around the end of the table), iteration, and a randomised
 * differential run against a plain array.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "u64map.h"

/* Values are small integers disguised as pointers; 0 stays NULL. */
#define V(x) ((void *)(uintptr_t)(x))
#define N(p) ((uintptr_t)(p))

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

/* xorshift64*: fixed seed, so a failure reproduces. */
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static bool pow2(size_t x)
{
	return x && !(x & (x - 1));
}

static void test_basic(void)
{
	struct nh_u64map m;
	void *old = V(99);

	CHECK(nh_u64map_init(&m, 100) == 0);
	CHECK(m.len == 0 && pow2(m.cap));
	CHECK(nh_u64map_get(&m, 1) == NULL);
	CHECK(nh_u64map_del(&m, 1) == NULL);

	CHECK(nh_u64map_put(&m, 1, V(10), &old) == 0);
	CHECK(old == NULL);
	CHECK(nh_u64map_put(&m, 2, V(20), NULL) == 0);
	CHECK(nh_u64map_put(&m, UINT64_MAX, V(30), NULL) == 0);
	CHECK(m.len == 3);
	CHECK(N(nh_u64map_get(&m, 1)) == 10);
	CHECK(N(nh_u64map_get(&m, 2)) == 20);
	CHECK(N(nh_u64map_get(&m, UINT64_MAX)) == 30);
	CHECK(nh_u64map_get(&m, 3) == NULL);

	/* replace hands back the old value and does not grow len */
	CHECK(nh_u64map_put(&m, 2, V(21), &old) == 0);
	CHECK(N(old) == 20);
	CHECK(m.len == 3);
	CHECK(N(nh_u64map_get(&m, 2)) == 21);
	/* a NULL value is stored as such */
	CHECK(nh_u64map_put(&m, 2, NULL, &old) == 0);
	CHECK(N(old) == 21);
	CHECK(nh_u64map_get(&m, 2) == NULL);
	CHECK(m.len == 3);
	CHECK(nh_u64map_put(&m, 2, V(22), NULL) == 0);

	/* key 0 marks empty slots and is refused everywhere */
	old = V(99);
	CHECK(nh_u64map_put(&m, 0, V(1), &old) == -EINVAL);
	CHECK(old == NULL);
	CHECK(m.len == 3);
	CHECK(nh_u64map_get(&m, 0) == NULL);
	CHECK(nh_u64map_del(&m, 0) == NULL);
	CHECK(m.len == 3);

	CHECK(N(nh_u64map_del(&m, 1)) == 10);
	CHECK(nh_u64map_get(&m, 1) == NULL);
	CHECK(nh_u64map_del(&m, 1) == NULL);
	CHECK(m.len == 2);
	CHECK(N(nh_u64map_get(&m, 2)) == 22);
	CHECK(N(nh_u64map_get(&m, UINT64_MAX)) == 30);

	nh_u64map_free(&m);
	CHECK(m.slots == NULL && m.len == 0);
	/* a freed map is empty, not a crash */
	CHECK(nh_u64map_get(&m, 2) == NULL);
	CHECK(nh_u64map_del(&m, 2) == NULL);
}

static void test_growth(void)
{
	const uint64_t n = 50000;
	struct nh_u64map m;
	bool ok = true;

	CHECK(nh_u64map_init(&m, SIZE_MAX) == 0);
	for (uint64_t i = 1; i <= n && ok; i++) {
		/* sequential keys and the same keys shifted into the high bits */
		ok = nh_u64map_put(&m, i, V(i), NULL) == 0 &&
		     nh_u64map_put(&m, i << 40, V(i + n), NULL) == 0;
	}
	CHECK(ok);
	CHECK(m.len == 2 * n);
	CHECK(pow2(m.cap));
	CHECK(m.len * 2 <= m.cap); /* load factor stays at most 1/2 */
	for (uint64_t i = 1; i <= n && ok; i++)
		ok = N(nh_u64map_get(&m, i)) == i && N(nh_u64map_get(&m, i << 40)) == i + n;
	CHECK(ok);
	CHECK(nh_u64map_get(&m, n + 1) == NULL);
	CHECK(nh_u64map_get(&m, (n + 1) << 40) == NULL);
	nh_u64map_free(&m);
}

static void test_bound(void)
{
	struct nh_u64map m;
	bool ok = true;
	void *old;

	CHECK(nh_u64map_init(&m, 10) == 0);
	for (uint64_t k = 1; k <= 10; k++)
		ok &= nh_u64map_put(&m, k * 7919, V(k), NULL) == 0;
	CHECK(ok);
	CHECK(m.len == 10);
	old = V(99);
	CHECK(nh_u64map_put(&m, 11 * 7919, V(11), &old) == -ENOSPC);
	CHECK(old == NULL);
	CHECK(m.len == 10);
	CHECK(nh_u64map_get(&m, 11 * 7919) == NULL);
	/* replacing at the bound is not an insert */
	CHECK(nh_u64map_put(&m, 5 * 7919, V(55), &old) == 0);
	CHECK(N(old) == 5);
	CHECK(m.len == 10);
	/* room again after a delete */
	CHECK(N(nh_u64map_del(&m, 3 * 7919)) == 3);
	CHECK(nh_u64map_put(&m, 11 * 7919, V(11), NULL) == 0);
	CHECK(nh_u64map_put(&m, 12 * 7919, V(12), NULL) == -ENOSPC);
	CHECK(N(nh_u64map_get(&m, 11 * 7919)) == 11);
	nh_u64map_free(&m);

	/* a zero bound takes nothing */
	CHECK(nh_u64map_init(&m, 0) == 0);
	CHECK(nh_u64map_put(&m, 1, V(1), NULL) == -ENOSPC);
	CHECK(m.len == 0);
	CHECK(nh_u64map_get(&m, 1) == NULL);
	nh_u64map_free(&m);
}

/* Keys whose home slot in a table of @cap slots is @home. */
static size_t keys_homed_at(size_t cap, size_t home, uint64_t *out, size_t n, uint64_t start)
{
	size_t got = 0;

	for (uint64_t k = start; got < n; k++)
		if ((nh_hash64(k) & (cap - 1)) == home)
			out[got++] = k;
	return got;
}

/*
 * Fill a 64-slot table with three overlapping clusters that wrap past the
 * last slot, then delete in several orders; every survivor must stay
 * reachable after each single delete.
 */
static void test_collisions_wrap(void)
{
	enum { CAP = 64, PER = 8, NK = 3 * PER };
	static const unsigned int orders[][3] = {{0, 1, 2}, {2, 1, 0}, {1, 0, 2}};
	uint64_t keys[NK];
	struct nh_u64map m;

	keys_homed_at(CAP, 62, keys, PER, 1);
	keys_homed_at(CAP, 63, keys + PER, PER, 1);
	keys_homed_at(CAP, 0, keys + 2 * PER, PER, 1);

	for (size_t o = 0; o < sizeof(orders) / sizeof(orders[0]); o++) {
		bool present[NK];
		bool ok = true;

		CHECK(nh_u64map_init(&m, 1000) == 0);
		for (size_t i = 0; i < NK; i++) {
			ok &= nh_u64map_put(&m, keys[i], V(i + 1), NULL) == 0;
			present[i] = true;
		}
		CHECK(ok);
		/* the test only means something if the table did not grow */
		CHECK(m.cap == CAP);
		CHECK(m.len == NK);
		/* slot 63 and 0 are part of one long run that wraps around */
		CHECK(m.slots[CAP - 1].key != 0 && m.slots[0].key != 0);

		/* delete cluster by cluster in the given order, every other key first */
		for (size_t pass = 0; pass < 2; pass++) {
			for (size_t c = 0; c < 3; c++) {
				size_t base = orders[o][c] * PER;

				for (size_t i = pass; i < PER; i += 2) {
					size_t idx = base + i;

					ok &= N(nh_u64map_del(&m, keys[idx])) == idx + 1;
					present[idx] = false;
					for (size_t j = 0; j < NK; j++) {
						void *v = nh_u64map_get(&m, keys[j]);

						ok &= present[j] ? N(v) == j + 1 : v == NULL;
					}
				}
			}
		}
		CHECK(ok);
		CHECK(m.len == 0);
		for (size_t i = 0; i < CAP; i++)
			ok &= m.slots[i].key == 0 && m.slots[i].val == NULL;
		CHECK(ok);
		nh_u64map_free(&m);
	}
}

static void test_delete_every_other(void)
{
	const uint64_t n = 20000;
	struct nh_u64map m;
	bool ok = true;

	CHECK(nh_u64map_init(&m, n) == 0);
	for (uint64_t i = 1; i <= n; i++)
		ok &= nh_u64map_put(&m, i * 64, V(i), NULL) == 0;
	CHECK(ok);
	CHECK(m.len == n);
	for (uint64_t i = 2; i <= n; i += 2)
		ok &= N(nh_u64map_del(&m, i * 64)) == i;
	CHECK(ok);
	CHECK(m.len == n / 2);
	for (uint64_t i = 1; i <= n; i++) {
		void *v = nh_u64map_get(&m, i * 64);

		ok &= (i & 1) ? N(v) == i : v == NULL;
	}
	CHECK(ok);
	/* deleted keys can come back */
	for (uint64_t i = 2; i <= n; i += 2)
		ok &= nh_u64map_put(&m, i * 64, V(i + 1), NULL) == 0;
	CHECK(ok);
	CHECK(m.len == n);
	for (uint64_t i = 1; i <= n; i++)
		ok &= N(nh_u64map_get(&m, i * 64)) == ((i & 1) ? i : i + 1);
	CHECK(ok);
	nh_u64map_free(&m);
}

static void test_iterate(void)
{
	enum { NKEYS = 3000 };
	static unsigned int seen[NKEYS + 1];
	struct nh_u64map m;
	size_t it = 0, visits = 0;
	uint64_t k;
	void *v;
	bool ok = true;

	CHECK(nh_u64map_init(&m, NKEYS) == 0);
	/* empty map: nothing to visit */
	CHECK(nh_u64map_next(&m, &it, &k, &v) == 0);
	for (uint64_t i = 1; i <= NKEYS; i++)
		ok &= nh_u64map_put(&m, i * 1000003, V(i), NULL) == 0;
	for (uint64_t i = 3; i <= NKEYS; i += 3)
		ok &= N(nh_u64map_del(&m, i * 1000003)) == i;
	CHECK(ok);

	it = 0;
	while (nh_u64map_next(&m, &it, &k, &v)) {
		uintptr_t i = N(v);

		visits++;
		if (i == 0 || i > NKEYS || k != i * 1000003) {
			ok = false;
			continue;
		}
		seen[i]++;
	}
	CHECK(ok);
	CHECK(visits == m.len);
	CHECK(visits == NKEYS - NKEYS / 3);
	for (size_t i = 1; i <= NKEYS; i++)
		ok &= seen[i] == (i % 3 ? 1u : 0u);
	CHECK(ok);
	/* once exhausted it stays exhausted */
	CHECK(nh_u64map_next(&m, &it, &k, &v) == 0);
	nh_u64map_free(&m);
}

static void test_hashes(void)
{
	/* FNV-1a of "" is the offset basis; 0 is reserved for "no key" */
	CHECK(nh_hash_str("") == 0xcbf29ce484222325ULL);
	CHECK(nh_hash_str("a") == 0xaf63dc4c8601ec8cULL);
	CHECK(nh_hash_str("user:root") != nh_hash_str("user:roo"));
	CHECK(nh_hash_str("user:root") != 0);
	CHECK(nh_hash64(1) != nh_hash64(2));
}

/*
 * Differential run: the same random puts, gets and deletes against the map
 * and a flat array over a fixed universe of keys (sequential, sparse and
 * high-bit ones), with a bound below the universe so -ENOSPC happens too.
 */
static void test_differential(void)
{
	enum { UNIVERSE = 4096, BOUND = 1500, OPS = 100000 };
	static uint64_t keys[UNIVERSE];
	static uintptr_t ref[UNIVERSE]; /* 0 = absent, else value + 1 */
	struct nh_u64map m;
	size_t ref_len = 0, mismatches = 0, enospc = 0, deletes = 0;

	rng_state = 0x243f6a8885a308d3ULL;
	for (size_t i = 0; i < UNIVERSE; i++) {
		if (i < UNIVERSE / 2)
			keys[i] = i + 1;
		else if (i < 3 * UNIVERSE / 4)
			keys[i] = (uint64_t)(i + 1) << 48;
		else
			keys[i] = rnd() | 1u << 20; /* non-zero; duplicates are improbable */
	}

	CHECK(nh_u64map_init(&m, BOUND) == 0);
	for (size_t op = 0; op < OPS; op++) {
		size_t i = rnd() % UNIVERSE;
		unsigned int what = rnd() % 10;

		if (what < 5) {
			uintptr_t val = (uintptr_t)(rnd() % 1000000) + 1;
			void *old = V(7);
			int rc = nh_u64map_put(&m, keys[i], V(val), &old);

			if (ref[i]) {
				mismatches += rc != 0 || N(old) != ref[i] - 1;
				ref[i] = val + 1;
			} else if (ref_len >= BOUND) {
				mismatches += rc != -ENOSPC || old != NULL;
				enospc++;
			} else {
				mismatches += rc != 0 || old != NULL;
				ref[i] = val + 1;
				ref_len++;
			}
		} else if (what < 8) {
			void *v = nh_u64map_del(&m, keys[i]);

			mismatches += ref[i] ? N(v) != ref[i] - 1 : v != NULL;
			if (ref[i]) {
				ref[i] = 0;
				ref_len--;
				deletes++;
			}
		} else {
			void *v = nh_u64map_get(&m, keys[i]);

			mismatches += ref[i] ? N(v) != ref[i] - 1 : v != NULL;
		}
		mismatches += m.len != ref_len;

		if (op % 10000 == 9999) {
			size_t it = 0, visits = 0;
			uint64_t k;
			void *v;

			while (nh_u64map_next(&m, &it, &k, &v)) {
				size_t j;

				visits++;
				for (j = 0; j < UNIVERSE && keys[j] != k; j++)
					;
				mismatches += j == UNIVERSE || !ref[j] || N(v) != ref[j] - 1;
			}
			mismatches += visits != ref_len;
		}
	}
	if (mismatches)
		fprintf(stderr, "  (differential: %zu mismatches)\n", mismatches);
	CHECK(mismatches == 0);
	/* the run exercised the bound and deletion, not just inserts */
	CHECK(enospc > 0);
	CHECK(deletes > 1000);
	CHECK(m.len * 2 <= m.cap);
	nh_u64map_free(&m);
}

/* Evicting from a full map returns every key exactly once; a long churn
 * of put-with-evict at the bound keeps the map exact. */
static void test_evict(void)
{
	enum { N = 5000, CHURN = 200000 };
	static unsigned char seen[N + CHURN + 1];
	struct nh_u64map m;
	uint64_t key;
	void *val;
	int ok = 1;

	CHECK(nh_u64map_init(&m, N) == 0);
	CHECK(nh_u64map_evict(&m, &key, &val) == 0); /* empty */
	for (uint64_t k = 1; k <= N; k++)
		nh_u64map_put(&m, k, (void *)(uintptr_t)(k * 3), NULL);
	for (int i = 0; i < N; i++) {
		if (!nh_u64map_evict(&m, &key, &val) || key < 1 || key > N || seen[key] ||
		    (uintptr_t)val != key * 3) {
			ok = 0;
			break;
		}
		seen[key] = 1;
	}
	CHECK(ok);
	CHECK(m.len == 0);
	CHECK(nh_u64map_evict(&m, &key, &val) == 0);

	/* churn: the map stays full, every victim was present, and what
	 * remains is exactly what was put and not evicted */
	memset(seen, 0, sizeof(seen));
	for (uint64_t k = 1; k <= N; k++) {
		nh_u64map_put(&m, k, (void *)(uintptr_t)k, NULL);
		seen[k] = 1;
	}
	for (uint64_t k = N + 1; k <= N + CHURN && ok; k++) {
		ok = nh_u64map_evict(&m, &key, &val) && seen[key] == 1;
		seen[key] = 2;
		ok = ok && nh_u64map_put(&m, k, (void *)(uintptr_t)k, NULL) == 0 && m.len == N;
		seen[k] = 1;
	}
	CHECK(ok);
	for (uint64_t k = 1; k <= N + CHURN && ok; k++)
		ok = (nh_u64map_get(&m, k) != NULL || seen[k] != 1) &&
		     !(seen[k] == 2 && nh_u64map_get(&m, k) != NULL);
	CHECK(ok);
	nh_u64map_free(&m);
}

/* At the bound a new key evicts one entry and hands it back; replacing
 * an existing key evicts nothing. */
static void test_put_evict(void)
{
	struct nh_u64map m;
	void *old, *victim;

	CHECK(nh_u64map_init(&m, 3) == 0);
	for (uint64_t k = 1; k <= 3; k++) {
		CHECK(nh_u64map_put_evict(&m, k, (void *)(uintptr_t)(k * 10), &old, &victim) == 0);
		CHECK(victim == NULL && old == NULL);
	}
	CHECK(nh_u64map_put_evict(&m, 2, (void *)(uintptr_t)21, &old, &victim) == 0);
	CHECK(victim == NULL && (uintptr_t)old == 20 && m.len == 3);
	CHECK(nh_u64map_put_evict(&m, 4, (void *)(uintptr_t)40, &old, &victim) == 0);
	CHECK(old == NULL && victim != NULL && m.len == 3);
	CHECK((uintptr_t)nh_u64map_get(&m, 4) == 40);
	/* the victim's key is gone, the other two stay */
	CHECK((nh_u64map_get(&m, 1) != NULL) + (nh_u64map_get(&m, 2) != NULL) +
		  (nh_u64map_get(&m, 3) != NULL) ==
	      2);
	CHECK(nh_u64map_put_evict(&m, 0, (void *)1, &old, &victim) == -EINVAL && victim == NULL);
	nh_u64map_free(&m);
}

int main(void)
{
	test_basic();
	test_growth();
	test_bound();
	test_collisions_wrap();
	test_delete_every_other();
	test_iterate();
	test_hashes();
	test_differential();
	test_evict();
	test_put_evict();
	return nh_check_report("u64map");
}
