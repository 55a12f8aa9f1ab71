/* SPDX-License-Identifier: Apache-2.0 */
/* clock: the clocks both daemons read, and one way to print a time. */
#ifndef NH_CLOCK_H
#define NH_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#define NH_NSEC_PER_SEC 1000000000ULL

/* CLOCK_MONOTONIC in nanoseconds (what BPF's ktime and timeouts use). */
uint64_t nh_clock_mono_ns(void);
/* CLOCK_MONOTONIC in milliseconds. */
uint64_t nh_clock_mono_ms(void);
/* CLOCK_REALTIME in nanoseconds since the epoch. */
uint64_t nh_clock_wall_ns(void);
/* CLOCK_REALTIME - CLOCK_MONOTONIC: adds to a kernel timestamp to make it
 * a unix time. */
int64_t nh_clock_wall_offset_ns(void);

/* RFC 3339 in UTC with digits (0..9) of fractional seconds:
 * "2026-11-22T08:00:00.123456Z" for 6. buf needs 32 bytes. */
void nh_clock_format(uint64_t unix_ns, int digits, char *buf, size_t cap);

#endif
