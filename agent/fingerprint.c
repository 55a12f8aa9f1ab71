/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fingerprint: SHA-256 as specified in FIPS 180-4 (sections 4.1.2, 4.2.2,
 * 5.1.1, 5.3.3 and 6.2), and redacted secret fingerprints (see
 * fingerprint.h). Straightforward, portable, unoptimised: the agent hashes
 * a handful of short secrets, not bulk data.
 */
#include "fingerprint.h"

#include <errno.h>
#include <string.h>

/* FIPS 180-4 4.2.2: first 32 bits of the fractional parts of the cube
 * roots of the first 64 primes. */
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* FIPS 180-4 5.3.3: first 32 bits of the fractional parts of the square
 * roots of the first 8 primes. */
static const uint32_t H0[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

static uint32_t rotr(uint32_t x, unsigned int n)
{
	return (x >> n) | (x << (32 - n));
}

static uint32_t load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* FIPS 180-4 6.2.2: one 512-bit block into the hash state. */
static void compress(uint32_t h[8], const uint8_t block[NH_SHA256_BLOCK_LEN])
{
	uint32_t w[64], a, b, c, d, e, f, g, hh, t1, t2, s0, s1;
	unsigned int t;

	for (t = 0; t < 16; t++)
		w[t] = load_be32(block + 4 * t);
	for (t = 16; t < 64; t++) {
		s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
		s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
		w[t] = s1 + w[t - 7] + s0 + w[t - 16];
	}
	a = h[0];
	b = h[1];
	c = h[2];
	d = h[3];
	e = h[4];
	f = h[5];
	g = h[6];
	hh = h[7];
	for (t = 0; t < 64; t++) {
		t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[t] +
		     w[t];
		t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		hh = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
	h[5] += f;
	h[6] += g;
	h[7] += hh;
	/* the schedule is derived from message bytes, which may be a secret */
	explicit_bzero(w, sizeof(w));
}

void nh_sha256_init(struct nh_sha256_ctx *ctx)
{
	memcpy(ctx->h, H0, sizeof(H0));
	ctx->bytes = 0;
	ctx->nbuf = 0;
}

void nh_sha256_update(struct nh_sha256_ctx *ctx, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t n;

	ctx->bytes += len;
	if (ctx->nbuf) {
		n = NH_SHA256_BLOCK_LEN - ctx->nbuf;
		if (n > len)
			n = len;
		memcpy(ctx->buf + ctx->nbuf, p, n);
		ctx->nbuf += n;
		p += n;
		len -= n;
		if (ctx->nbuf < NH_SHA256_BLOCK_LEN)
			return;
		compress(ctx->h, ctx->buf);
		ctx->nbuf = 0;
	}
	for (; len >= NH_SHA256_BLOCK_LEN; p += NH_SHA256_BLOCK_LEN, len -= NH_SHA256_BLOCK_LEN)
		compress(ctx->h, p);
	if (len) {
		memcpy(ctx->buf, p, len);
		ctx->nbuf = len;
	}
}

/* FIPS 180-4 5.1.1: a 1 bit, zeros to 56 mod 64 bytes, the bit length. */
void nh_sha256_final(struct nh_sha256_ctx *ctx, uint8_t out[NH_SHA256_LEN])
{
	uint64_t bits = ctx->bytes * 8;
	unsigned int i;

	ctx->buf[ctx->nbuf++] = 0x80;
	if (ctx->nbuf > NH_SHA256_BLOCK_LEN - 8) {
		memset(ctx->buf + ctx->nbuf, 0, NH_SHA256_BLOCK_LEN - ctx->nbuf);
		compress(ctx->h, ctx->buf);
		ctx->nbuf = 0;
	}
	memset(ctx->buf + ctx->nbuf, 0, NH_SHA256_BLOCK_LEN - 8 - ctx->nbuf);
	for (i = 0; i < 8; i++)
		ctx->buf[NH_SHA256_BLOCK_LEN - 1 - i] = (uint8_t)(bits >> (8 * i));
	compress(ctx->h, ctx->buf);
	for (i = 0; i < 8; i++)
		store_be32(out + 4 * i, ctx->h[i]);
	explicit_bzero(ctx, sizeof(*ctx));
}

void nh_sha256(const void *data, size_t len, uint8_t out[NH_SHA256_LEN])
{
	struct nh_sha256_ctx ctx;

	nh_sha256_init(&ctx);
	nh_sha256_update(&ctx, data, len);
	nh_sha256_final(&ctx, out);
}

/* Bytes that may appear in a prefix: printable ASCII other than the
 * separators of the fingerprint itself. */
static int prefix_byte(uint8_t c)
{
	return c > ' ' && c < 0x7f && c != ':' && c != '*';
}

int nh_fingerprint(const void *secret, size_t len, size_t prefix, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	static const char tag[] = "*:sha256:";
	const uint8_t *s = secret;
	uint8_t digest[NH_SHA256_LEN];
	size_t n, i, need;

	if (!out)
		return -EINVAL;
	if (outlen)
		out[0] = '\0';
	if (!secret || len == 0)
		return -EINVAL;

	if (prefix > len / 4)
		prefix = len / 4;
	for (n = 0; n < prefix && prefix_byte(s[n]); n++)
		;
	need = n + strlen(tag) + NH_FINGERPRINT_HEX + 1;
	if (outlen < need)
		return -ENOSPC;

	nh_sha256(secret, len, digest);
	memcpy(out, s, n);
	memcpy(out + n, tag, strlen(tag));
	n += strlen(tag);
	for (i = 0; i < NH_FINGERPRINT_HEX / 2; i++) {
		out[n++] = hex[digest[i] >> 4];
		out[n++] = hex[digest[i] & 0xf];
	}
	out[n] = '\0';
	explicit_bzero(digest, sizeof(digest));
	return 0;
}
