/* SPDX-License-Identifier: Apache-2.0 */
/*
 * workload: guess a pod's owner from its generated name (see workload.h).
 *
 * The name is split at its last '-' (the suffix) and, for generated
 * names, at the '-' before that. Each piece is held to exactly what the
 * controllers produce, so a claim is only made when the name could not
 * easily have been written by hand.
 */
#include "workload.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define POD_NAME_MAX	253
#define SUFFIX_LEN	5  /* generateName's random part */
#define GEN_NAME_MAX	63 /* generateName output is cut to this */
#define HASH_MIN_LEN	7  /* pod-template-hash: >= 10^6 */
#define HASH_MAX_LEN	10 /* digits of UINT32_MAX */
#define CRON_MIN_LEN	8  /* minutes since the epoch: 1989 ... */
#define CRON_MAX_LEN	9  /* ... to 3871 */
#define ORDINAL_MAX_LEN 10 /* an int32 */

/* Kubernetes' "safe" alphabet: no vowels, no 0/1/3, so no words. */
static const char safe_alphabet[] = "bcdfghjklmnpqrstvwxz2456789";

struct span {
	const char *p;
	size_t n;
};

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool in_alphabet(char c)
{
	return c != '\0' && strchr(safe_alphabet, c) != NULL;
}

/* A lowercase RFC 1123 subdomain: labels of [a-z0-9-] that start and end
 * alphanumeric, joined by single dots. */
static bool valid_pod_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > POD_NAME_MAX || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (i = 1; i < n; i++) {
		if (s[i] == '.') {
			if (!is_alnum(s[i - 1]) || !is_alnum(s[i + 1]))
				return false;
		} else if (s[i] != '-' && !is_alnum(s[i])) {
			return false;
		}
	}
	return true;
}

/* An object name in front of a generated part: non-empty, ends alphanumeric. */
static bool valid_owner(struct span s)
{
	return s.n > 0 && is_alnum(s.p[s.n - 1]);
}

static bool all(struct span s, bool (*pred)(char))
{
	size_t i;

	for (i = 0; i < s.n; i++) {
		if (!pred(s.p[i]))
			return false;
	}
	return true;
}

static bool is_random_suffix(struct span s)
{
	return s.n == SUFFIX_LEN && all(s, in_alphabet);
}

/* Decimal digit of a pod-template-hash character, -1 if none: digit d
 * is rendered as alphabet[(d + '0') % 27]. */
static int hash_digit(char c)
{
	if (c >= '4' && c <= '9')
		return c - '4';
	switch (c) {
	case 'b':
		return 6;
	case 'c':
		return 7;
	case 'd':
		return 8;
	case 'f':
		return 9;
	default:
		return -1;
	}
}

/* fmt.Sprint of a uint32, encoded: no leading zero, at most UINT32_MAX. */
static bool is_template_hash(struct span s)
{
	uint64_t v = 0;
	size_t i;
	int d;

	if (s.n < HASH_MIN_LEN || s.n > HASH_MAX_LEN)
		return false;
	for (i = 0; i < s.n; i++) {
		d = hash_digit(s.p[i]);
		if (d < 0 || (i == 0 && d == 0))
			return false;
		v = v * 10 + (uint64_t)d;
	}
	return v <= UINT32_MAX;
}

static bool is_decimal(struct span s, size_t min, size_t max)
{
	return s.n >= min && s.n <= max && all(s, is_digit) && (s.p[0] != '0' || s.n == 1);
}

static bool is_cron_time(struct span s)
{
	return is_decimal(s, CRON_MIN_LEN, CRON_MAX_LEN);
}

static bool is_ordinal(struct span s)
{
	uint64_t v = 0;
	size_t i;

	if (!is_decimal(s, 1, ORDINAL_MAX_LEN))
		return false;
	for (i = 0; i < s.n; i++)
		v = v * 10 + (uint64_t)(s.p[i] - '0');
	return v <= INT32_MAX;
}

/* Split s at its last '-': head before, tail after. false without one. */
static bool split_last(struct span s, struct span *head, struct span *tail)
{
	size_t i = s.n;

	while (i > 0 && s.p[i - 1] != '-')
		i--;
	if (i == 0)
		return false;
	head->p = s.p;
	head->n = i - 1;
	tail->p = s.p + i;
	tail->n = s.n - i;
	return true;
}

static int fill(struct nh_workload *out, const char *kind, struct span name)
{
	strcpy(out->kind, kind);
	memcpy(out->name, name.p, name.n);
	out->name[name.n] = '\0';
	return 0;
}

/* <base>-S: what the generateName base says. */
static int from_generated_base(struct span base, struct nh_workload *out)
{
	struct span owner, mid;

	if (split_last(base, &owner, &mid) && valid_owner(owner)) {
		if (is_template_hash(mid))
			return fill(out, "Deployment", owner);
		if (is_cron_time(mid))
			return fill(out, "CronJob", owner);
	}
	if (!valid_owner(base))
		return -ENOENT;
	return fill(out, "DaemonSet/Job", base);
}

static int from_name(struct span pod, struct nh_workload *out)
{
	struct span head, last;

	/* a 63-byte generated name whose base was cut: the owner is not all there */
	if (pod.n == GEN_NAME_MAX && pod.p[GEN_NAME_MAX - SUFFIX_LEN - 1] != '-') {
		last.p = pod.p + pod.n - SUFFIX_LEN;
		last.n = SUFFIX_LEN;
		if (is_random_suffix(last))
			return -ENOENT;
	}
	if (!split_last(pod, &head, &last))
		return -ENOENT;
	/* five alphabet digits are far likelier a random suffix than ordinal 24567 */
	if (is_random_suffix(last))
		return from_generated_base(head, out);
	if (is_ordinal(last) && valid_owner(head))
		return fill(out, "StatefulSet", head);
	return -ENOENT;
}

int nh_workload_from_pod(const char *pod, const char *node, struct nh_workload *out)
{
	struct span s, owner;
	size_t nlen;
	int err;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!pod)
		return -EINVAL;
	s.p = pod;
	s.n = strnlen(pod, POD_NAME_MAX + 1);
	if (!valid_pod_name(s.p, s.n))
		return -EINVAL;

	/* mirror pods of static pods are "<name>-<node>" */
	nlen = node ? strnlen(node, POD_NAME_MAX + 1) : 0;
	owner.p = s.p;
	owner.n = s.n - nlen - 1;
	if (nlen > 0 && nlen + 2 <= s.n && s.p[owner.n] == '-' && valid_owner(owner) &&
	    memcmp(s.p + s.n - nlen, node, nlen) == 0) {
		owner.p = s.p + s.n - nlen;
		owner.n = nlen;
		return fill(out, "Node", owner);
	}
	err = from_name(s, out);
	if (err)
		memset(out, 0, sizeof(*out));
	return err;
}

int nh_workload_from_pod_name(const char *pod, struct nh_workload *out)
{
	return nh_workload_from_pod(pod, NULL, out);
}
