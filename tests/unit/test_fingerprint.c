/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for agent/fingerprint.c: FIPS 180-4 / NIST SHA-256 vectors,
 * the padding boundaries (digests computed with coreutils sha256sum), the
 * incremental API split at every offset, and the fingerprint format
 * (sha256sum again for the fingerprint digests).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "fingerprint.h"

static void hexify(const uint8_t d[NH_SHA256_LEN], char out[2 * NH_SHA256_LEN + 1])
{
	for (int i = 0; i < NH_SHA256_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void expect_sha(const void *data, size_t len, const char *hex)
{
	uint8_t d[NH_SHA256_LEN];
	char got[2 * NH_SHA256_LEN + 1];

	nh_sha256(data, len, d);
	hexify(d, got);
	CHECK_STR(got, hex);
}

static void test_nist_vectors(void)
{
	static const char msg448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	static const char msg896[] = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijkl"
				     "mnoijklmnopjklmnopqklmnopq"
				     "rlmnopqrsmnopqrstnopqrstu";
	struct nh_sha256_ctx ctx;
	uint8_t d[NH_SHA256_LEN], chunk[1000];
	char got[2 * NH_SHA256_LEN + 1];

	CHECK(strlen(msg448) == 56 && strlen(msg896) == 112);
	expect_sha("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	expect_sha(NULL, 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	expect_sha("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	expect_sha(msg448, 56, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	expect_sha(msg896, 112, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");

	/* one million 'a', fed 1000 at a time */
	memset(chunk, 'a', sizeof(chunk));
	nh_sha256_init(&ctx);
	for (int i = 0; i < 1000; i++)
		nh_sha256_update(&ctx, chunk, sizeof(chunk));
	nh_sha256_final(&ctx, d);
	hexify(d, got);
	CHECK_STR(got, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	/* final clears the context: it held message bytes */
	{
		static const struct nh_sha256_ctx zero;

		CHECK(memcmp(&ctx, &zero, sizeof(ctx)) == 0);
	}
}

/* Prefixes of PAT around the 55/56 (length field no longer fits) and 64
 * (one more block) padding edges; digests from `printf %s ... | sha256sum`. */
#define PAT                                                                                        \
	"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnop" \
	"q"                                                                                        \
	"rstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

static const struct {
	size_t len;
	const char *hex;
} boundary[] = {
    {1, "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"},
    {54, "00967550d37feaaec1d35fd217be4f36898d4fef46dcf3d43d12e7d6b1cf9729"},
    {55, "dd00794e0454db49259b6c426331d5e0cdf642fc0d7353fb85ee89519aafd995"},
    {56, "ecbe4cc6c393d5e47e875e1a1ce7489d4e6d420bc3ec3312f9df475278d77f69"},
    {57, "d40d6b5e4d35b7ffb76daab1b5d5d99ae20601ced48ae44cc4204d09aa610be7"},
    {63, "936205ff10f24ed20302fc82d995f12ddbc411edbe839a30cb5b86f37dab2cc1"},
    {64, "50d3f53102c12e8165dfa48ac947eb9d3750d51887fb6f48f0755a158df2a89c"},
    {65, "1aca9b1a404edb51d1c7009a2329ef8e974fb6c57801d6af6eb03fa7aac9d95b"},
    {119, "e26fe81780cf52612f7fd123a3d0fbfe7468c1fce24dfdebe3280c8152fa5b28"},
    {120, "157c143792eb2cf4de39d9bf6287e3da9e62dd789d9a3908db478870843e1efe"},
    {127, "71c05eab491991c5f6f762489a900885fd2f46d73829d3c8d605bb0e9e057ced"},
    {128, "9a90c9d708820fc3a4d1eeb91d316275db1f9928871545e0266e2ef7e14619e9"},
    {129, "90fec53bb8a251815b1a26afd2292429c586ff075486d147b2165f0f1a905fa6"},
};

static void test_padding_boundaries(void)
{
	uint8_t one[NH_SHA256_LEN], split[NH_SHA256_LEN];
	struct nh_sha256_ctx ctx;
	size_t i, cut, bad = 0;

	CHECK(strlen(PAT) == 134);
	for (i = 0; i < sizeof(boundary) / sizeof(boundary[0]); i++)
		expect_sha(PAT, boundary[i].len, boundary[i].hex);

	/* the incremental API gives the same digest however the input is cut */
	nh_sha256(PAT, strlen(PAT), one);
	for (cut = 0; cut <= strlen(PAT); cut++) {
		nh_sha256_init(&ctx);
		nh_sha256_update(&ctx, PAT, cut);
		nh_sha256_update(&ctx, "", 0);
		nh_sha256_update(&ctx, PAT + cut, strlen(PAT) - cut);
		nh_sha256_final(&ctx, split);
		bad += memcmp(one, split, sizeof(one)) != 0;
	}
	CHECK(bad == 0);
	/* byte by byte */
	nh_sha256_init(&ctx);
	for (i = 0; i < strlen(PAT); i++)
		nh_sha256_update(&ctx, PAT + i, 1);
	nh_sha256_final(&ctx, split);
	CHECK(memcmp(one, split, sizeof(one)) == 0);
}

static void expect_fp(const char *secret, size_t prefix, const char *want)
{
	char out[NH_FINGERPRINT_MAX];

	memset(out, 'x', sizeof(out));
	CHECK(nh_fingerprint(secret, strlen(secret), prefix, out, sizeof(out)) == 0);
	CHECK_STR(out, want);
}

static void test_fingerprint(void)
{
	/* sha256("AKIAIOSFODNN7EXAMPLE") = 1a5d44a2dca1...; 20 bytes: len/4 = 5 */
	expect_fp("AKIAIOSFODNN7EXAMPLE", 4, "AKIA*:sha256:1a5d44a2dca1");
	expect_fp("AKIAIOSFODNN7EXAMPLE", 5, "AKIAI*:sha256:1a5d44a2dca1");
	expect_fp("AKIAIOSFODNN7EXAMPLE", 18, "AKIAI*:sha256:1a5d44a2dca1");
	expect_fp("AKIAIOSFODNN7EXAMPLE", 0, "*:sha256:1a5d44a2dca1");
	expect_fp("ghp_0123456789abcdefghijklmnopqrstuvwxyzAB", 4, "ghp_*:sha256:6ec359a75c2e");
	/* a short secret shows at most a quarter of itself */
	expect_fp("hunter2", 4, "h*:sha256:f52fbd32b2b3");
	expect_fp("abc", 4, "*:sha256:ba7816bf8f01");
	/* the prefix stops at a separator of the fingerprint itself */
	expect_fp("ab:cdefghijklmnop", 8, "ab*:sha256:5a36ff3f86ac");
	expect_fp(PAT, NH_FINGERPRINT_PREFIX_MAX, "abcdefghijklmnopqr*:sha256:be10142df987");
	CHECK(strlen("abcdefghijklmnopqr*:sha256:be10142df987") + 1 == NH_FINGERPRINT_MAX);
}

static void test_fingerprint_cuts(void)
{
	static const char *const cut[] = {"ab cdefghijklmnop",
					  "ab*cdefghijklmnop",
					  "ab\ncdefghijklmnop",
					  "ab\x7f"
					  "cdefghijklmnop",
					  "ab\xc3\xa9"
					  "cdefghijklmnop",
					  "ab\tcdefghijklmnop"};
	char out[NH_FINGERPRINT_MAX];

	for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
		CHECK(nh_fingerprint(cut[i], strlen(cut[i]), 8, out, sizeof(out)) == 0);
		CHECK(strncmp(out, "ab*:sha256:", 11) == 0 && strlen(out) == 23);
	}
	/* a NUL in the secret is hashed but cuts the prefix */
	CHECK(nh_fingerprint("ab\0cdefghijklmnop", 17, 8, out, sizeof(out)) == 0);
	CHECK(strncmp(out, "ab*:sha256:", 11) == 0 && strlen(out) == 23);
	/* a leading separator: no prefix at all */
	CHECK(nh_fingerprint(":abcdefghijklmnop", 17, 8, out, sizeof(out)) == 0);
	CHECK(strncmp(out, "*:sha256:", 9) == 0 && strlen(out) == 21);
}

static void test_fingerprint_errors(void)
{
	char out[NH_FINGERPRINT_MAX];
	char small[25];

	/* "AKIA*:sha256:" + 12 hex = 25 bytes + NUL */
	memset(small, 'x', sizeof(small));
	CHECK(nh_fingerprint("AKIAIOSFODNN7EXAMPLE", 20, 4, small, 25) == -ENOSPC);
	CHECK(small[0] == '\0');
	CHECK(nh_fingerprint("AKIAIOSFODNN7EXAMPLE", 20, 4, out, 26) == 0);
	CHECK_STR(out, "AKIA*:sha256:1a5d44a2dca1");
	CHECK(nh_fingerprint("AKIAIOSFODNN7EXAMPLE", 20, 0, out, 21) == -ENOSPC);
	CHECK(nh_fingerprint("AKIAIOSFODNN7EXAMPLE", 20, 0, out, 22) == 0);
	CHECK(nh_fingerprint("AKIAIOSFODNN7EXAMPLE", 20, 0, out, 0) == -ENOSPC);
	/* a long prefix can outgrow NH_FINGERPRINT_MAX: refused, not cut */
	CHECK(nh_fingerprint(PAT, strlen(PAT), 19, out, sizeof(out)) == -ENOSPC);
	CHECK(out[0] == '\0');

	CHECK(nh_fingerprint("abc", 3, 4, NULL, 40) == -EINVAL);
	CHECK(nh_fingerprint(NULL, 3, 4, out, sizeof(out)) == -EINVAL);
	out[0] = 'x';
	CHECK(nh_fingerprint("", 0, 4, out, sizeof(out)) == -EINVAL);
	CHECK(out[0] == '\0');
}

int main(void)
{
	test_nist_vectors();
	test_padding_boundaries();
	test_fingerprint();
	test_fingerprint_cuts();
	test_fingerprint_errors();
	return nh_check_report("fingerprint");
}
