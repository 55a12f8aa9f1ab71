/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Minimal unit-test harness: each CHECK is one assertion; a test binary
 * prints "N passed, N failed" and exits non-zero on any failure, which the
 * suite runner adds up.
 */
#ifndef NH_TEST_CHECK_H
#define NH_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

struct nh_check_tally {
	int passed;
	int failed;
};

static struct nh_check_tally nh_tally;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (cond) {                                                                        \
			nh_tally.passed++;                                                         \
		} else {                                                                           \
			nh_tally.failed++;                                                         \
			fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);            \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		if (a_ && b_ && strcmp(a_, b_) == 0) {                                             \
			nh_tally.passed++;                                                         \
		} else {                                                                           \
			nh_tally.failed++;                                                         \
			fprintf(stderr, "FAIL %s:%d: %s == %s (\"%s\" vs \"%s\")\n", __FILE__,     \
				__LINE__, #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");         \
		}                                                                                  \
	} while (0)

static inline int nh_check_report(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, nh_tally.passed, nh_tally.failed);
	return nh_tally.failed ? 1 : 0;
}

#endif
