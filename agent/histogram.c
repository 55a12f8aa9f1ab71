// SPDX-License-Identifier: Apache-2.0
#include "histogram.h"

#include <string.h>

void nh_histogram_reset(struct nh_histogram *h)
{
	memset(h, 0, sizeof(*h));
}

size_t nh_histogram_bucket(uint64_t v)
{
	unsigned shift;

	if (v < NH_HISTOGRAM_SUB)
		return (size_t)v;
	/* v has its top bit at 63 - clz; keep SUB_BITS bits below it. */
	shift = 63 - (unsigned)__builtin_clzll(v) - NH_HISTOGRAM_SUB_BITS;
	return (size_t)(shift + 1) * NH_HISTOGRAM_SUB + (size_t)((v >> shift) - NH_HISTOGRAM_SUB);
}

uint64_t nh_histogram_lower(size_t i)
{
	unsigned shift;

	if (i < NH_HISTOGRAM_SUB)
		return i;
	shift = (unsigned)(i / NH_HISTOGRAM_SUB) - 1;
	return (uint64_t)(NH_HISTOGRAM_SUB + i % NH_HISTOGRAM_SUB) << shift;
}

uint64_t nh_histogram_upper(size_t i)
{
	if (i < NH_HISTOGRAM_SUB)
		return i;
	/* Written so the last bucket ends at UINT64_MAX without overflowing. */
	return nh_histogram_lower(i) + ((1ULL << (i / NH_HISTOGRAM_SUB - 1)) - 1);
}

void nh_histogram_add(struct nh_histogram *h, uint64_t v)
{
	h->counts[nh_histogram_bucket(v)]++;
	h->count++;
	h->sum = h->sum + v < h->sum ? UINT64_MAX : h->sum + v;
	if (v > h->max)
		h->max = v;
}

uint64_t nh_histogram_count(const struct nh_histogram *h)
{
	return h->count;
}

uint64_t nh_histogram_quantile(const struct nh_histogram *h, double q)
{
	uint64_t rank, seen = 0;
	double want;

	if (!h->count)
		return 0;
	if (!(q > 0))
		q = 0; /* NaN too */
	if (q > 1)
		q = 1;
	want = q * (double)h->count;
	rank = (uint64_t)want;
	rank += (double)rank < want; /* ceil, without libm */
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	for (size_t i = 0; i < NH_HISTOGRAM_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			uint64_t up = nh_histogram_upper(i);

			return up < h->max ? up : h->max;
		}
	}
	return h->max; /* not reached: the counts add up to count */
}

bool nh_histogram_next(const struct nh_histogram *h, size_t *it, uint64_t *upper, uint64_t *count)
{
	for (; *it < NH_HISTOGRAM_BUCKETS; (*it)++) {
		if (h->counts[*it]) {
			*upper = nh_histogram_upper(*it);
			*count = h->counts[*it];
			(*it)++;
			return true;
		}
	}
	return false;
}

json_object *nh_histogram_json(const struct nh_histogram *h)
{
	json_object *o = json_object_new_object(), *b = json_object_new_array();
	uint64_t up, n;
	size_t it = 0;

	json_object_object_add(o, "count", json_object_new_uint64(h->count));
	json_object_object_add(o, "p50", json_object_new_uint64(nh_histogram_quantile(h, 0.50)));
	json_object_object_add(o, "p99", json_object_new_uint64(nh_histogram_quantile(h, 0.99)));
	json_object_object_add(o, "max", json_object_new_uint64(h->max));
	/* [upper bound, count] of the non-empty buckets: two snapshots give
	 * the quantiles of the time between them (make bench does that). */
	while (nh_histogram_next(h, &it, &up, &n)) {
		json_object *e = json_object_new_array();

		json_object_array_add(e, json_object_new_uint64(up));
		json_object_array_add(e, json_object_new_uint64(n));
		json_object_array_add(b, e);
	}
	json_object_object_add(o, "buckets", b);
	return o;
}
