/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rate: EWMA of events per minute (see rate.h). The variance update is the
 * usual incremental form: d = x - mean; mean += a d; var = (1 - a)(var +
 * d a d). The first closed minute seeds the mean instead, so a profile
 * does not start from zero and spend its warm-up climbing.
 */
#include "rate.h"

#include <string.h>

double nh_rate_sqrt(double x)
{
	double r, next;

	if (!(x > 0))
		return 0;
	/* Newton from above decreases monotonically to the root; stop when
	 * it no longer does. The cap bounds pathological inputs (inf). */
	r = x > 1 ? x : 1;
	for (int i = 0; i < 2100; i++) {
		next = 0.5 * (r + x / r);
		if (!(next < r))
			break;
		r = next;
	}
	return r;
}

void nh_rate_init(struct nh_rate *r, uint64_t now_ns)
{
	memset(r, 0, sizeof(*r));
	r->minute = now_ns / NH_NS_PER_MIN;
}

static void update(struct nh_rate *r, int c, double x, double alpha)
{
	double d, inc;

	if (r->minutes == 0) {
		r->mean[c] = x;
		r->var[c] = 0;
		return;
	}
	d = x - r->mean[c];
	inc = alpha * d;
	r->mean[c] += inc;
	r->var[c] = (1 - alpha) * (r->var[c] + d * inc);
	if (r->mean[c] < 0)
		r->mean[c] = 0;
	if (r->var[c] < 0)
		r->var[c] = 0;
}

static void close_minute(struct nh_rate *r, const struct nh_model_config *cfg, bool judge)
{
	for (int c = 0; c < NH_CAT_MAX; c++) {
		double x = (double)r->open[c];

		if (judge && r->minutes >= cfg->rate_warmup && !(r->pending & (1u << c))) {
			double sd = nh_rate_sqrt(r->var[c]), floor = nh_rate_sqrt(r->mean[c]);

			if (sd < floor)
				sd = floor;
			if (x > r->mean[c] + cfg->rate_sigmas * sd && x >= cfg->rate_min) {
				r->pending |= (uint8_t)(1u << c);
				r->report[c] = (struct nh_rate_report){x, r->mean[c], sd};
			}
		}
		update(r, c, x, cfg->ewma_alpha);
		r->open[c] = 0;
	}
	if (r->minutes < UINT32_MAX)
		r->minutes++;
}

void nh_rate_advance(struct nh_rate *r, uint64_t now_ns, const struct nh_model_config *cfg,
		     bool judge)
{
	uint64_t now = now_ns / NH_NS_PER_MIN, gap, k;

	if (now <= r->minute)
		return;
	gap = now - r->minute;
	close_minute(r, cfg, judge);
	/* the empty minutes of a gap: a zero count is never a burst */
	k = gap - 1 < NH_RATE_GAP_MAX ? gap - 1 : NH_RATE_GAP_MAX;
	for (uint64_t i = 0; i < k; i++)
		close_minute(r, cfg, false);
	if (gap - 1 > k)
		r->minutes = r->minutes + (gap - 1 - k) > UINT32_MAX
				 ? UINT32_MAX
				 : (uint32_t)(r->minutes + (gap - 1 - k));
	r->minute = now;
}
