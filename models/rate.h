/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rate: per-category events per minute of one profile, as an EWMA of the
 * mean and variance over closed minutes, and the minutes that were far
 * above it.
 */
#ifndef NH_MODELS_RATE_H
#define NH_MODELS_RATE_H

#include <stdbool.h>
#include <stdint.h>

#include "models.h"

#define NH_NS_PER_MIN 60000000000ull
/* Empty minutes applied one by one after a gap; past this many the EWMA
 * has long decayed to nothing (0.9^512 ~ 1e-23 at the default alpha). */
#define NH_RATE_GAP_MAX 512

struct nh_rate_report {
	double rate, mean, stddev;
};

struct nh_rate {
	uint64_t open[NH_CAT_MAX]; /* events counted in the open minute */
	uint64_t minute;	   /* the open minute: wall ns / 60 s */
	uint32_t minutes;	   /* minutes closed so far (saturating) */
	uint8_t pending;	   /* bit per category: a report not yet handed out */
	double mean[NH_CAT_MAX], var[NH_CAT_MAX];
	struct nh_rate_report report[NH_CAT_MAX];
};

void nh_rate_init(struct nh_rate *r, uint64_t now_ns);

static inline void nh_rate_count(struct nh_rate *r, enum nh_category cat, uint64_t n)
{
	r->open[cat] = r->open[cat] + n < r->open[cat] ? UINT64_MAX : r->open[cat] + n;
}

/*
 * Close every minute before now_ns's: the open one with its counts, then
 * the empty ones of a gap. With judge (a stable profile) and after
 * cfg->rate_warmup closed minutes, a minute whose count exceeds mean +
 * rate_sigmas * stddev and reaches rate_min sets its category's pending
 * bit and report (the first such minute is kept until it is handed out).
 * stddev is floored at sqrt(mean), the spread of a Poisson count: an
 * exactly regular baseline (variance 0) would otherwise flag one extra
 * event. Clock steps backwards close nothing.
 */
void nh_rate_advance(struct nh_rate *r, uint64_t now_ns, const struct nh_model_config *cfg,
		     bool judge);

/* sqrt(3) without libm (Newton's method; 0 for x <= 0 or NaN). */
double nh_rate_sqrt(double x);

#endif
