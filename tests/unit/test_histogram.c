// SPDX-License-Identifier: Apache-2.0
/* The log-linear histogram: bucket bounds tile the u64 range, every value
 * lands in the bucket that covers it, quantiles against a sorted copy of
 * the same samples, and bucket iteration adds up to the count. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "histogram.h"

static struct nh_histogram h;

static void test_bounds(void)
{
	int gaps = 0, wide = 0;

	CHECK(nh_histogram_lower(0) == 0);
	CHECK(nh_histogram_upper(NH_HISTOGRAM_BUCKETS - 1) == UINT64_MAX);
	for (size_t i = 0; i < NH_HISTOGRAM_BUCKETS; i++) {
		uint64_t lo = nh_histogram_lower(i), up = nh_histogram_upper(i);

		/* contiguous, in order, and no wider than 1/16 of the bucket's values */
		if (i && lo != nh_histogram_upper(i - 1) + 1)
			gaps++;
		if (up - lo > lo / NH_HISTOGRAM_SUB)
			wide++;
		CHECK(nh_histogram_bucket(lo) == i);
		CHECK(nh_histogram_bucket(up) == i);
	}
	CHECK(gaps == 0);
	CHECK(wide == 0);
	/* small values are exact */
	for (uint64_t v = 0; v < NH_HISTOGRAM_SUB; v++)
		CHECK(nh_histogram_lower(nh_histogram_bucket(v)) == v &&
		      nh_histogram_upper(nh_histogram_bucket(v)) == v);
	CHECK(nh_histogram_bucket(UINT64_MAX) == NH_HISTOGRAM_BUCKETS - 1);
	CHECK(nh_histogram_bucket(1000) != nh_histogram_bucket(1100));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The quantile must be in the same bucket as the exact one, and not below it. */
static int same_bucket(uint64_t got, uint64_t exact)
{
	return nh_histogram_bucket(got) == nh_histogram_bucket(exact) && got >= exact;
}

static void test_quantiles(void)
{
	enum { N = 20000 };
	static uint64_t v[N];
	uint64_t seed = 42, up, cnt, total = 0, prev = 0;
	int ordered = 1;
	size_t it = 0;

	nh_histogram_reset(&h);
	CHECK(nh_histogram_count(&h) == 0);
	CHECK(nh_histogram_quantile(&h, 0.5) == 0);
	/* a skewed latency-like spread: mostly 1-5 ms, a tail to seconds */
	for (int i = 0; i < N; i++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		v[i] = 1000 + (seed >> 33) % 4000;
		if (i % 50 == 7) /* 2% */
			v[i] *= 300;
		nh_histogram_add(&h, v[i]);
	}
	qsort(v, N, sizeof(v[0]), cmp_u64);
	CHECK(nh_histogram_count(&h) == N);
	CHECK(h.max == v[N - 1]);
	/* rank ceil(q * N): the 10000th and 19800th smallest */
	CHECK(same_bucket(nh_histogram_quantile(&h, 0.50), v[N / 2 - 1]));
	CHECK(same_bucket(nh_histogram_quantile(&h, 0.99), v[N * 99 / 100 - 1]));
	CHECK(nh_histogram_quantile(&h, 0.99) > 100000); /* the tail shows */
	CHECK(nh_histogram_quantile(&h, 1.0) == v[N - 1]);
	CHECK(nh_histogram_quantile(&h, 0.0) >= v[0] &&
	      nh_histogram_quantile(&h, 0.0) <= nh_histogram_upper(nh_histogram_bucket(v[0])));
	CHECK(nh_histogram_quantile(&h, 2.0) == h.max);
	/* iteration: increasing bounds, counts add up */
	while (nh_histogram_next(&h, &it, &up, &cnt)) {
		ordered &= up > prev && cnt > 0;
		prev = up;
		total += cnt;
	}
	CHECK(ordered);
	CHECK(total == N);
	CHECK(prev >= h.max);
}

static void test_edges(void)
{
	size_t it = 0;
	uint64_t up, cnt;

	nh_histogram_reset(&h);
	nh_histogram_add(&h, 7);
	CHECK(nh_histogram_quantile(&h, 0.5) == 7 && nh_histogram_quantile(&h, 0.99) == 7);
	/* the maximum caps a quantile whose bucket reaches higher */
	nh_histogram_reset(&h);
	nh_histogram_add(&h, 1000);
	CHECK(nh_histogram_upper(nh_histogram_bucket(1000)) > 1000);
	CHECK(nh_histogram_quantile(&h, 0.99) == 1000);
	nh_histogram_add(&h, UINT64_MAX);
	nh_histogram_add(&h, UINT64_MAX);
	CHECK(h.sum == UINT64_MAX); /* saturated, not wrapped */
	CHECK(nh_histogram_quantile(&h, 0.99) == UINT64_MAX);
	CHECK(nh_histogram_quantile(&h, 0.2) == nh_histogram_upper(nh_histogram_bucket(1000)));
	CHECK(nh_histogram_next(&h, &it, &up, &cnt) && cnt == 1 && up >= 1000);
	CHECK(nh_histogram_next(&h, &it, &up, &cnt) && cnt == 2 && up == UINT64_MAX);
	CHECK(!nh_histogram_next(&h, &it, &up, &cnt));
}

static void test_json(void)
{
	json_object *o, *v;

	nh_histogram_reset(&h);
	for (uint64_t i = 1; i <= 100; i++)
		nh_histogram_add(&h, i * 10);
	o = nh_histogram_json(&h);
	CHECK(json_object_object_get_ex(o, "count", &v) && json_object_get_int64(v) == 100);
	CHECK(json_object_object_get_ex(o, "max", &v) && json_object_get_int64(v) == 1000);
	CHECK(json_object_object_get_ex(o, "p50", &v) &&
	      same_bucket((uint64_t)json_object_get_int64(v), 500));
	CHECK(json_object_object_get_ex(o, "p99", &v) &&
	      same_bucket((uint64_t)json_object_get_int64(v), 990));
	/* the buckets: increasing bounds, counts adding up to the count */
	CHECK(json_object_object_get_ex(o, "buckets", &v) && json_object_array_length(v) > 10);
	{
		int64_t total = 0, prev = -1;
		int ordered = 1;

		for (size_t i = 0; v && i < json_object_array_length(v); i++) {
			json_object *e = json_object_array_get_idx(v, i);
			int64_t up = json_object_get_int64(json_object_array_get_idx(e, 0));

			ordered &= up > prev;
			prev = up;
			total += json_object_get_int64(json_object_array_get_idx(e, 1));
		}
		CHECK(ordered && total == 100 && prev >= 1000);
	}
	json_object_put(o);
}

int main(void)
{
	test_bounds();
	test_quantiles();
	test_edges();
	test_json();
	return nh_check_report("histogram");
}
