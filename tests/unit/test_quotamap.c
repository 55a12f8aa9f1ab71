/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for agent/quotamap.c: an owner at its quota replaces its own
 * oldest entry, a full map takes from the largest owner, a flood by one
 * owner never evicts another's entries, values are freed exactly once
 * (ASan build), and a randomised run keeps the counts consistent.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "quotamap.h"

static int freed;

static void count_free(void *v)
{
	freed++;
	free(v);
}

static void *val(void)
{
	return malloc(8);
}

static void test_quota_own_oldest(void)
{
	struct nh_quotamap m;

	freed = 0;
	CHECK(nh_quotamap_init(&m, 100, 3, count_free) == 0);
	for (uint64_t k = 1; k <= 5; k++)
		CHECK(nh_quotamap_put(&m, 7, k, val()) == 0);
	CHECK(nh_quotamap_owned(&m, 7) == 3);
	CHECK(nh_quotamap_get(&m, 1) == NULL && nh_quotamap_get(&m, 2) == NULL);
	CHECK(nh_quotamap_get(&m, 3) && nh_quotamap_get(&m, 4) && nh_quotamap_get(&m, 5));
	CHECK(m.evicted == 2 && m.evicted_quota == 2 && freed == 2);
	/* a replaced value is freed, the entry keeps its owner */
	CHECK(nh_quotamap_put(&m, 8, 3, val()) == 0);
	CHECK(freed == 3 && nh_quotamap_owned(&m, 7) == 3 && nh_quotamap_owned(&m, 8) == 0);
	CHECK(nh_quotamap_put(&m, 0, 9, val()) == -EINVAL && freed == 4);
	CHECK(nh_quotamap_put(&m, 1, 0, val()) == -EINVAL && freed == 5);
	nh_quotamap_free(&m);
	CHECK(freed == 8);
}

static void test_flood_spares_others(void)
{
	struct nh_quotamap m;

	freed = 0;
	/* 4,096 entries, default quota 512: a victim's 100 entries, then
	 * 5,000 of a flooder, then a third owner fills the rest */
	CHECK(nh_quotamap_init(&m, 4096, 0, count_free) == 0);
	CHECK(m.quota == 512);
	for (uint64_t k = 1; k <= 100; k++)
		CHECK(nh_quotamap_put(&m, 1, k, val()) == 0);
	for (uint64_t k = 1000; k < 6000; k++)
		CHECK(nh_quotamap_put(&m, 2, k, val()) == 0);
	CHECK(nh_quotamap_owned(&m, 2) == 512);
	for (uint64_t k = 1; k <= 100; k++)
		CHECK(nh_quotamap_get(&m, k) != NULL);
	CHECK(m.evicted == 5000 - 512 && m.evicted_quota == m.evicted);
	nh_quotamap_free(&m);
	CHECK(freed == 5100);
}

static void test_full_takes_from_largest(void)
{
	struct nh_quotamap m;
	size_t it = 0, n = 0;

	freed = 0;
	CHECK(nh_quotamap_init(&m, 10, 8, count_free) == 0);
	for (uint64_t k = 1; k <= 8; k++)
		CHECK(nh_quotamap_put(&m, 1, k, val()) == 0);
	CHECK(nh_quotamap_put(&m, 2, 100, val()) == 0);
	CHECK(nh_quotamap_put(&m, 2, 101, val()) == 0);
	CHECK(nh_quotamap_len(&m) == 10);
	/* full: owner 3's entry pushes out owner 1's oldest (owner 1 holds most) */
	CHECK(nh_quotamap_put(&m, 3, 200, val()) == 0);
	CHECK(nh_quotamap_get(&m, 1) == NULL && nh_quotamap_get(&m, 100) != NULL);
	CHECK(m.evicted == 1 && m.evicted_quota == 0 && nh_quotamap_len(&m) == 10);
	while (nh_quotamap_next(&m, &it))
		n++;
	CHECK(n == 10);
	nh_quotamap_free(&m);
	CHECK(freed == 11);
}

static void test_random(void)
{
	struct nh_quotamap m;
	uint64_t s = 12345;

	freed = 0;
	CHECK(nh_quotamap_init(&m, 257, 40, count_free) == 0);
	for (int i = 0; i < 100000; i++) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		if (nh_quotamap_put(&m, 1 + (s >> 60), 1 + ((s >> 20) & 2047), val()) != 0)
			break;
	}
	{
		size_t total = 0;

		for (uint64_t o = 1; o <= 16; o++) {
			CHECK(nh_quotamap_owned(&m, o) <= 40);
			total += nh_quotamap_owned(&m, o);
		}
		CHECK(total == nh_quotamap_len(&m) && total <= 257);
	}
	nh_quotamap_free(&m);
	CHECK(freed == 100000);
}

int main(void)
{
	test_quota_own_oldest();
	test_flood_spares_others();
	test_full_takes_from_largest();
	test_random();
	return nh_check_report("quotamap");
}
