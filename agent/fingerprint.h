/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fingerprint: SHA-256 (FIPS 180-4) and the redacted fingerprint under
 * which a secret found on a node is reported. The project has no crypto
 * library and needs only this one hash, so it is written here; pure code,
 * no I/O, no allocation.
 *
 * A fingerprint lets two findings of the same secret be matched without
 * the secret leaving the agent. It is an unkeyed hash prefix: it hides a
 * high-entropy secret (cloud keys, tokens) but someone who can guess a
 * low-entropy one (a short password) can confirm the guess from it.
 */
#ifndef NH_FINGERPRINT_H
#define NH_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>

#define NH_SHA256_LEN	    32
#define NH_SHA256_BLOCK_LEN 64

struct nh_sha256_ctx {
	uint32_t h[8];
	uint64_t bytes;			  /* message length so far */
	uint8_t buf[NH_SHA256_BLOCK_LEN]; /* partial block */
	size_t nbuf;
};

/* One-shot digest of @len bytes at @data (@data may be NULL when @len is 0). */
void nh_sha256(const void *data, size_t len, uint8_t out[NH_SHA256_LEN]);

/* Incremental form: init, any number of updates, final. Final writes the
 * digest and clears the context, since it held message bytes. */
void nh_sha256_init(struct nh_sha256_ctx *ctx);
void nh_sha256_update(struct nh_sha256_ctx *ctx, const void *data, size_t len);
void nh_sha256_final(struct nh_sha256_ctx *ctx, uint8_t out[NH_SHA256_LEN]);

#define NH_FINGERPRINT_HEX	  12 /* hex digits of the digest shown */
#define NH_FINGERPRINT_PREFIX_MAX 18 /* longest prefix that fits NH_FINGERPRINT_MAX */
#define NH_FINGERPRINT_MAX	  40 /* prefix + "*:sha256:" + 12 hex + NUL */

/*
 * A redacted fingerprint of a secret: a short printable prefix, then the
 * first 12 hex digits of its SHA-256, e.g. "AKIA*:sha256:7c1e0f3a9b2d", or
 * "*:sha256:7c1e0f3a9b2d" with no prefix. The prefix is at most @prefix
 * bytes and never more than len/4 (a short secret reveals almost nothing),
 * and ends before the first byte that is not printable ASCII, or is a
 * space, ':' or '*' (so the result always parses back unambiguously).
 * An @outlen of NH_FINGERPRINT_MAX holds any prefix up to
 * NH_FINGERPRINT_PREFIX_MAX. Returns 0; -EINVAL for a NULL @out, a NULL
 * @secret or an empty one; -ENOSPC when @outlen is too small. On error
 * @out (when non-NULL and @outlen > 0) is set to "".
 */
int nh_fingerprint(const void *secret, size_t len, size_t prefix, char *out, size_t outlen);

#endif
