/* SPDX-License-Identifier: Apache-2.0 */
/*
 * histogram: a fixed-size log-linear histogram of u64 values (the agent
 * records latencies in µs). Values below 2^NH_HISTOGRAM_SUB_BITS are
 * counted exactly; above that every power of two is split into
 * 2^NH_HISTOGRAM_SUB_BITS equal buckets, so a bucket is at most 1/16
 * (6.25%) of its values wide over the whole u64 range, in ~8 KiB and
 * with no allocation. Quantiles are read as the upper bound of the
 * bucket that holds them, never above the largest value seen.
 */
#ifndef NH_HISTOGRAM_H
#define NH_HISTOGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define NH_HISTOGRAM_SUB_BITS 4
#define NH_HISTOGRAM_SUB      (1u << NH_HISTOGRAM_SUB_BITS)
/* The exact buckets, then one group per power of two from 2^SUB_BITS up. */
#define NH_HISTOGRAM_BUCKETS (NH_HISTOGRAM_SUB * (64 - NH_HISTOGRAM_SUB_BITS + 1))

struct nh_histogram {
	uint64_t counts[NH_HISTOGRAM_BUCKETS];
	uint64_t count;
	uint64_t sum; /* saturates instead of wrapping */
	uint64_t max;
};

void nh_histogram_reset(struct nh_histogram *h);
void nh_histogram_add(struct nh_histogram *h, uint64_t v);

uint64_t nh_histogram_count(const struct nh_histogram *h);
/* The value at quantile q (0..1): the upper bound of the bucket holding
 * the ceil(q * count)-th smallest value, capped at the maximum; 0 when
 * empty. */
uint64_t nh_histogram_quantile(const struct nh_histogram *h, double q);

/* Bucket i covers [nh_histogram_lower(i), nh_histogram_upper(i)]. */
size_t nh_histogram_bucket(uint64_t v);
uint64_t nh_histogram_lower(size_t i);
uint64_t nh_histogram_upper(size_t i);
/* The non-empty buckets in increasing order: start with *it = 0; false
 * after the last. For exporters (Prometheus le buckets are the running
 * sums of these counts at each upper bound). */
bool nh_histogram_next(const struct nh_histogram *h, size_t *it, uint64_t *upper, uint64_t *count);

/* {"count", "p50", "p99", "max", "buckets": [[upper, count], ...]} (the
 * non-empty buckets) for status output. */
json_object *nh_histogram_json(const struct nh_histogram *h);

#endif
