// SPDX-License-Identifier: Apache-2.0
#include "clock.h"

#include <stdio.h>
#include <string.h>
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

/* Two digits of v (< 100) at p. */
static char *two(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
	return p + 2;
}

void nh_clock_format(uint64_t unix_ns, int digits, char *buf, size_t cap)
{
	/* Every record carries one or more of these: the calendar date is
	 * computed from the day number (proleptic Gregorian, days since
	 * 1970-01-01, in 400-year eras) rather than by gmtime_r and
	 * strftime, which were a tenth of a collector's time. */
	uint64_t sec = unix_ns / NH_NSEC_PER_SEC, frac = unix_ns % NH_NSEC_PER_SEC;
	uint64_t days = sec / 86400, s = sec % 86400;
	uint64_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
	uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
	unsigned day = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	unsigned month = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	uint64_t year = yoe + era * 400 + (month <= 2);
	char tmp[48], *p = tmp;
	size_t n;

	if (!cap)
		return;
	if (year > 9999) {
		snprintf(buf, cap, "9999-12-31T23:59:59Z");
		return;
	}
	p = two(p, (unsigned)(year / 100));
	p = two(p, (unsigned)(year % 100));
	*p++ = '-';
	p = two(p, month);
	*p++ = '-';
	p = two(p, day);
	*p++ = 'T';
	p = two(p, (unsigned)(s / 3600));
	*p++ = ':';
	p = two(p, (unsigned)(s / 60 % 60));
	*p++ = ':';
	p = two(p, (unsigned)(s % 60));
	if (digits > 9)
		digits = 9;
	if (digits > 0) {
		*p++ = '.';
		for (int i = digits; i < 9; i++)
			frac /= 10;
		for (int i = digits - 1; i >= 0; i--) {
			p[i] = (char)('0' + frac % 10);
			frac /= 10;
		}
		p += digits;
	}
	*p++ = 'Z';
	n = (size_t)(p - tmp) < cap ? (size_t)(p - tmp) : cap - 1;
	memcpy(buf, tmp, n);
	buf[n] = '\0';
}
