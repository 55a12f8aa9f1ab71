// SPDX-License-Identifier: Apache-2.0
#include "clock.h"

#include <stdio.h>
#include <time.h>

static uint64_t read_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * NH_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t nh_clock_mono_ns(void)
{
	return read_ns(CLOCK_MONOTONIC);
}

uint64_t nh_clock_mono_ms(void)
{
	return read_ns(CLOCK_MONOTONIC) / 1000000ULL;
}

uint64_t nh_clock_wall_ns(void)
{
	return read_ns(CLOCK_REALTIME);
}

int64_t nh_clock_wall_offset_ns(void)
{
	struct timespec rt, mono;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	return (int64_t)(rt.tv_sec - mono.tv_sec) * (int64_t)NH_NSEC_PER_SEC +
	       (rt.tv_nsec - mono.tv_nsec);
}

void nh_clock_format(uint64_t unix_ns, int digits, char *buf, size_t cap)
{
	time_t sec = (time_t)(unix_ns / NH_NSEC_PER_SEC);
	uint64_t frac = unix_ns % NH_NSEC_PER_SEC;
	struct tm tm;
	size_t n;

	if (!cap)
		return;
	gmtime_r(&sec, &tm);
	n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	if (digits <= 0) {
		snprintf(buf + n, cap - n, "Z");
		return;
	}
	if (digits > 9)
		digits = 9;
	for (int i = digits; i < 9; i++)
		frac /= 10;
	snprintf(buf + n, cap - n, ".%0*lluZ", digits, (unsigned long long)frac);
}
