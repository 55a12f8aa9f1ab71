/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the argv redactor. Besides memory safety (ASan/UBSan): the output
 * is terminated, the result is deterministic, and every reported
 * redaction wrote its marker while nothing else made one. Redacting the output again is not a
 * fixpoint by design: a marker can lengthen a value past a matcher's
 * minimum ("token o://:u@" -> "token o://:[REDACTED:...]@").
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "secrets.h"

static size_t markers(const char *s, size_t len)
{
	const char *p = s, *end = s + len;
	size_t n = 0;

	while ((p = memmem(p, end - p, "[REDACTED:", 10))) {
		n++;
		p += 10;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Large enough that 1024 bytes cannot be truncated however they expand. */
	static char out[32768], again[32768];
	/* the first byte picks what the previous argument was */
	enum nh_secret_next prev = size ? (enum nh_secret_next)(data[0] % 3) : NH_NEXT_PLAIN;
	const char *arg = (const char *)data + (size ? 1 : 0);
	size_t len = size ? size - 1 : 0;
	int n, m;

	/* argv strings hold no NUL and are at most NH_ARGS_MAX long */
	if (len > 1024 || memchr(arg, '\0', len))
		return 0;
	n = nh_secrets_redact(arg, len, prev, out, sizeof(out), NULL);
	if (n < 0 || !memchr(out, '\0', sizeof(out)))
		abort();
	m = nh_secrets_redact(arg, len, prev, again, sizeof(again), NULL);
	if (m != n || strcmp(out, again) != 0)
		abort();
	/* each redaction wrote its marker; nothing else made one (a
	 * redaction may swallow marker-like text that was in the input) */
	if (prev == NH_NEXT_PLAIN && (markers(out, strlen(out)) < (size_t)n ||
				      markers(out, strlen(out)) > markers(arg, len) + (size_t)n))
		abort();
	return 0;
}
