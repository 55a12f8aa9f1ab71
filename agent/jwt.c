/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jwt: decode the payload claims of a Kubernetes service-account token
 * (see jwt.h). The signature is NOT verified.
 *
 * Two token forms exist:
 *   - bound (projected, TokenRequest) tokens: iss, sub, aud, exp, iat, nbf,
 *     jti (newer clusters) and a "kubernetes.io" object holding namespace,
 *     pod, node, serviceaccount (and secret when bound to one) with
 *     name/uid pairs, and warnafter for tokens whose expiry was extended;
 *   - legacy secret-based tokens: iss "kubernetes/serviceaccount", sub and
 *     flat "kubernetes.io/serviceaccount/..." claims, and no exp.
 * Namespace and name always come from sub; the other claims must agree
 * with it, since a token whose claims contradict each other was not minted
 * by an API server.
 */
#include "jwt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <json-c/json.h>

#define SUB_PREFIX	  "system:serviceaccount:"
#define LEGACY_ISSUER	  "kubernetes/serviceaccount"
#define LEGACY_PREFIX	  "kubernetes.io/serviceaccount/"
#define K8S_LABEL_MAX	  63
#define K8S_SUBDOMAIN_MAX 253
#define JSON_DEPTH	  16		 /* Kubernetes claims nest 3 deep; room for others */
#define NUMERIC_DATE_MAX  253402300799LL /* 9999-12-31T23:59:59Z */

struct span {
	const char *p;
	size_t n;
};

/* Value of a base64url character, or -1. */
static int b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/*
 * Decode base64url, unpadded or correctly padded, into @out (NULL just
 * validates). Non-zero bits left over in the last character are refused so
 * that each byte string has one encoding. Returns the decoded length, or
 * -EINVAL.
 */
static ssize_t b64url_decode(struct span s, unsigned char *out)
{
	size_t pad = 0, n, i, o = 0;
	uint32_t acc = 0;
	int v, bits = 0;

	while (pad < s.n && s.p[s.n - 1 - pad] == '=')
		pad++;
	if (pad > 2 || (pad && s.n % 4))
		return -EINVAL;
	n = s.n - pad;
	if (n == 0 || n % 4 == 1)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		v = b64url_value((unsigned char)s.p[i]);
		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (out)
				out[o] = (unsigned char)(acc >> bits);
			o++;
			acc &= (1u << bits) - 1;
		}
	}
	if (acc)
		return -EINVAL;
	return (ssize_t)o;
}

ssize_t nh_b64url_decode(const char *p, size_t n, unsigned char *out)
{
	struct span s = {p, n};

	return b64url_decode(s, out);
}

/*
 * Decode one segment into @buf and parse it as a JSON object. Returns 0
 * with *obj set, -EINVAL (*why set), or -ENOMEM.
 */
static int decode_object(struct span s, unsigned char *buf, json_object **obj, const char *not_b64,
			 const char *not_json, const char **why)
{
	struct json_tokener *tok;
	json_object *o;
	ssize_t n;

	*obj = NULL;
	n = b64url_decode(s, buf);
	if (n < 0) {
		*why = not_b64;
		return -EINVAL;
	}
	/* json-c would stop at a raw NUL and call the prefix the document */
	if (memchr(buf, '\0', (size_t)n)) {
		*why = not_json;
		return -EINVAL;
	}
	tok = json_tokener_new_ex(JSON_DEPTH);
	if (!tok) {
		*why = "out of memory";
		return -ENOMEM;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, (const char *)buf, (int)n);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != (size_t)n ||
	    !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		json_tokener_free(tok);
		*why = not_json;
		return -EINVAL;
	}
	json_tokener_free(tok);
	*obj = o;
	return 0;
}

/* A member of @obj; a JSON null counts as absent, as it does for the API server. */
static json_object *member(json_object *obj, const char *key)
{
	json_object *v = NULL;

	if (!obj || !json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

/* No control byte (NUL included, which "\u0000" can smuggle in): the
 * claims end up in logs and events. */
static bool is_clean(struct span s)
{
	size_t i;

	for (i = 0; i < s.n; i++) {
		if ((unsigned char)s.p[i] < 0x20 || s.p[i] == 0x7f)
			return false;
	}
	return true;
}

/* String member: 1 with *s set, 0 when absent, -EINVAL when not a string
 * or not clean. */
static int get_string(json_object *obj, const char *key, struct span *s)
{
	json_object *v = member(obj, key);

	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -EINVAL;
	s->p = json_object_get_string(v);
	s->n = (size_t)json_object_get_string_len(v);
	return is_clean(*s) ? 1 : -EINVAL;
}

static int copy_span(char *dst, size_t cap, struct span s)
{
	if (s.n >= cap)
		return -EINVAL;
	memcpy(dst, s.p, s.n);
	dst[s.n] = '\0';
	return 0;
}

/* Optional string claim copied whole: an over-long value is an error, not
 * a silent truncation. Returns 1 when copied, 0 when absent, or -EINVAL. */
static int copy_claim(json_object *obj, const char *key, char *dst, size_t cap)
{
	struct span s;
	int r = get_string(obj, key, &s);

	if (r <= 0)
		return r;
	return copy_span(dst, cap, s) ? -EINVAL : 1;
}

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/*
 * RFC 1123 names as Kubernetes validates them. A label (namespaces) is
 * [a-z0-9]([-a-z0-9]*[a-z0-9])? of at most 63 bytes; a subdomain (most
 * object names) is labels joined by '.', at most 253 bytes in all, with no
 * limit per label.
 */
static bool is_dns_name(struct span s, bool dots, size_t max)
{
	size_t i;

	if (s.n == 0 || s.n > max)
		return false;
	if (!is_lower_alnum(s.p[0]) || !is_lower_alnum(s.p[s.n - 1]))
		return false;
	/* the ends are alnum, so p[i - 1] and p[i + 1] exist below */
	for (i = 1; i < s.n - 1; i++) {
		if (is_lower_alnum(s.p[i]))
			continue;
		if (s.p[i] == '-' && s.p[i - 1] != '.' && s.p[i + 1] != '.')
			continue;
		if (dots && s.p[i] == '.' && is_lower_alnum(s.p[i - 1]) &&
		    is_lower_alnum(s.p[i + 1]))
			continue;
		return false;
	}
	return true;
}

static bool is_dns_label(struct span s)
{
	return is_dns_name(s, false, K8S_LABEL_MAX);
}

static bool is_dns_subdomain(struct span s)
{
	return is_dns_name(s, true, K8S_SUBDOMAIN_MAX);
}

/* Optional object name claim: absent, or a valid DNS subdomain. Returns
 * 1 when copied, 0 when absent, or -EINVAL. */
static int copy_name(json_object *obj, const char *key, char *dst, size_t cap)
{
	struct span s;
	int r = get_string(obj, key, &s);

	if (r <= 0)
		return r;
	if (!is_dns_subdomain(s) || copy_span(dst, cap, s))
		return -EINVAL;
	return 1;
}

static bool span_eq(struct span a, struct span b)
{
	return a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
}

static bool span_eq_str(struct span s, const char *str)
{
	return strlen(str) == s.n && memcmp(s.p, str, s.n) == 0;
}

/* NumericDate: a JSON integer or double in [0, year 9999]. Returns 1 with
 * *t set, 0 when absent, -EINVAL otherwise. */
static int get_time(json_object *obj, const char *key, int64_t *t)
{
	json_object *v = member(obj, key);
	int64_t i;
	double d;

	if (!v)
		return 0;
	if (json_object_is_type(v, json_type_int)) {
		/* json-c clamps an out-of-range integer to INT64_MIN/MAX: both fail here */
		i = json_object_get_int64(v);
		if (i < 0 || i > NUMERIC_DATE_MAX)
			return -EINVAL;
		*t = i;
		return 1;
	}
	if (json_object_is_type(v, json_type_double)) {
		d = json_object_get_double(v);
		/* written so that NaN fails too */
		if (!(d >= 0 && d <= (double)NUMERIC_DATE_MAX))
			return -EINVAL;
		*t = (int64_t)d;
		return 1;
	}
	return -EINVAL;
}

/* Step back to the start of the UTF-8 sequence at @n, so a cut there
 * leaves only whole characters. */
static size_t utf8_boundary(const char *s, size_t n)
{
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/* Append @s to the NUL-terminated @dst of size @cap, truncating at a UTF-8
 * boundary. Returns true when all of @s fitted. */
static bool append_trunc(char *dst, size_t cap, struct span s)
{
	size_t used = strlen(dst), room = cap - 1 - used;

	if (s.n <= room) {
		memcpy(dst + used, s.p, s.n);
		dst[used + s.n] = '\0';
		return true;
	}
	room = utf8_boundary(s.p, room);
	memcpy(dst + used, s.p, room);
	dst[used + room] = '\0';
	return false;
}

/* aud: a string, or an array of strings joined with ','. Every element
 * is checked even after the joined text stops fitting. */
static int get_audience(json_object *payload, struct nh_sa_claims *c)
{
	static const struct span comma = {",", 1};
	json_object *v = member(payload, "aud");
	struct span s;
	size_t i, n;
	bool full = true;

	if (!v)
		return 0;
	if (json_object_is_type(v, json_type_string)) {
		if (get_string(payload, "aud", &s) < 0)
			return -EINVAL;
		c->audience_truncated = !append_trunc(c->audience, sizeof(c->audience), s);
		return 0;
	}
	if (!json_object_is_type(v, json_type_array))
		return -EINVAL;
	n = json_object_array_length(v);
	for (i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(v, i);

		if (!json_object_is_type(e, json_type_string))
			return -EINVAL;
		s.p = json_object_get_string(e);
		s.n = (size_t)json_object_get_string_len(e);
		if (!is_clean(s))
			return -EINVAL;
		if (full && i > 0)
			full = append_trunc(c->audience, sizeof(c->audience), comma);
		if (full)
			full = append_trunc(c->audience, sizeof(c->audience), s);
	}
	c->audience_truncated = !full;
	return 0;
}

/* sub = "system:serviceaccount:<namespace>:<name>". */
static int parse_subject(json_object *payload, struct nh_sa_claims *c, struct span *ns,
			 struct span *name, const char **why)
{
	const size_t plen = strlen(SUB_PREFIX);
	struct span s;
	const char *colon;
	int r = get_string(payload, "sub", &s);

	if (r == 0) {
		*why = "sub is missing";
		return -EINVAL;
	}
	if (r < 0 || s.n < plen || memcmp(s.p, SUB_PREFIX, plen) != 0) {
		*why = "sub is not system:serviceaccount:<namespace>:<name>";
		return -EINVAL;
	}
	ns->p = s.p + plen;
	colon = memchr(ns->p, ':', s.n - plen);
	if (!colon) {
		*why = "sub is not system:serviceaccount:<namespace>:<name>";
		return -EINVAL;
	}
	ns->n = (size_t)(colon - ns->p);
	name->p = colon + 1;
	name->n = s.n - plen - ns->n - 1;
	if (!is_dns_label(*ns)) {
		*why = "sub namespace is not a valid Kubernetes namespace";
		return -EINVAL;
	}
	if (!is_dns_subdomain(*name)) {
		*why = "sub service account is not a valid Kubernetes name";
		return -EINVAL;
	}
	/* the three checks above bound every part, so these cannot fail */
	if (copy_span(c->subject, sizeof(c->subject), s) ||
	    copy_span(c->namespace_, sizeof(c->namespace_), *ns) ||
	    copy_span(c->service_account, sizeof(c->service_account), *name)) {
		*why = "sub is too long";
		return -EINVAL;
	}
	return 0;
}

/* Set @dst from a uid claim, or check it against the one already set
 * (a token carrying both forms). */
static int merge_uid(json_object *obj, const char *key, char *dst, size_t cap)
{
	struct span s;
	int r;

	if (!dst[0])
		return copy_claim(obj, key, dst, cap);
	r = get_string(obj, key, &s);
	if (r <= 0)
		return r;
	return span_eq_str(s, dst) ? 1 : -EINVAL;
}

/* A {"name":..,"uid":..} reference inside kubernetes.io. */
static int get_ref(json_object *k8s, const char *key, char *name, size_t name_cap, char *uid,
		   size_t uid_cap)
{
	json_object *ref = member(k8s, key);

	if (!ref)
		return 0;
	if (!json_object_is_type(ref, json_type_object))
		return -EINVAL;
	if (name && copy_name(ref, "name", name, name_cap) < 0)
		return -EINVAL;
	if (uid && copy_claim(ref, "uid", uid, uid_cap) < 0)
		return -EINVAL;
	return 0;
}

/* The bound-token "kubernetes.io" object. */
static int parse_bound(json_object *payload, struct nh_sa_claims *c, struct span ns,
		       struct span name, const char **why)
{
	json_object *k8s = member(payload, "kubernetes.io"), *sa;
	struct span s;
	int r;

	if (!k8s)
		return 0;
	if (!json_object_is_type(k8s, json_type_object)) {
		*why = "kubernetes.io is not an object";
		return -EINVAL;
	}
	r = get_string(k8s, "namespace", &s);
	if (r < 0) {
		*why = "kubernetes.io namespace is not a string";
		return -EINVAL;
	}
	if (r > 0 && !span_eq(s, ns)) {
		*why = "namespace claim disagrees with sub";
		return -EINVAL;
	}
	sa = member(k8s, "serviceaccount");
	if (sa) {
		if (!json_object_is_type(sa, json_type_object)) {
			*why = "kubernetes.io serviceaccount is not an object";
			return -EINVAL;
		}
		r = get_string(sa, "name", &s);
		if (r < 0) {
			*why = "kubernetes.io serviceaccount name is not a string";
			return -EINVAL;
		}
		if (r > 0 && !span_eq(s, name)) {
			*why = "service account claim disagrees with sub";
			return -EINVAL;
		}
		if (copy_claim(sa, "uid", c->service_account_uid, sizeof(c->service_account_uid)) <
		    0) {
			*why = "kubernetes.io serviceaccount uid is malformed";
			return -EINVAL;
		}
	}
	if (get_ref(k8s, "pod", c->pod_name, sizeof(c->pod_name), c->pod_uid, sizeof(c->pod_uid))) {
		*why = "kubernetes.io pod is malformed";
		return -EINVAL;
	}
	if (get_ref(k8s, "node", c->node_name, sizeof(c->node_name), c->node_uid,
		    sizeof(c->node_uid))) {
		*why = "kubernetes.io node is malformed";
		return -EINVAL;
	}
	if (get_ref(k8s, "secret", c->secret_name, sizeof(c->secret_name), NULL, 0)) {
		*why = "kubernetes.io secret is malformed";
		return -EINVAL;
	}
	if (get_time(k8s, "warnafter", &c->warn_after) < 0) {
		*why = "kubernetes.io warnafter is not a valid time";
		return -EINVAL;
	}
	return 0;
}

/* The flat claims of secret-based tokens. */
static int parse_legacy(json_object *payload, struct nh_sa_claims *c, struct span ns,
			struct span name, const char **why)
{
	struct span s;
	int r, seen = 0;

	r = get_string(payload, LEGACY_PREFIX "namespace", &s);
	if (r < 0) {
		*why = "serviceaccount/namespace is not a string";
		return -EINVAL;
	}
	if (r > 0 && !span_eq(s, ns)) {
		*why = "namespace claim disagrees with sub";
		return -EINVAL;
	}
	seen |= r;
	r = get_string(payload, LEGACY_PREFIX "service-account.name", &s);
	if (r < 0) {
		*why = "serviceaccount/service-account.name is not a string";
		return -EINVAL;
	}
	if (r > 0 && !span_eq(s, name)) {
		*why = "service account claim disagrees with sub";
		return -EINVAL;
	}
	seen |= r;
	r = copy_name(payload, LEGACY_PREFIX "secret.name", c->secret_name, sizeof(c->secret_name));
	if (r < 0) {
		*why = "secret.name is not a valid Kubernetes name";
		return -EINVAL;
	}
	seen |= r;
	if (member(payload, LEGACY_PREFIX "service-account.uid"))
		seen = 1;
	if (merge_uid(payload, LEGACY_PREFIX "service-account.uid", c->service_account_uid,
		      sizeof(c->service_account_uid)) < 0) {
		*why = "service account uid claims disagree or are malformed";
		return -EINVAL;
	}
	if (seen)
		c->legacy = true;
	return 0;
}

static int parse_claims(json_object *payload, struct nh_sa_claims *c, const char **why)
{
	struct span ns, name;
	int r;

	if (copy_claim(payload, "iss", c->issuer, sizeof(c->issuer)) < 0) {
		*why = "iss is not a string of at most 255 bytes";
		return -EINVAL;
	}
	r = parse_subject(payload, c, &ns, &name, why);
	if (r)
		return r;
	r = parse_bound(payload, c, ns, name, why);
	if (r)
		return r;
	r = parse_legacy(payload, c, ns, name, why);
	if (r)
		return r;
	if (get_audience(payload, c) < 0) {
		*why = "aud is not a string or an array of strings";
		return -EINVAL;
	}
	if (copy_claim(payload, "jti", c->jti, sizeof(c->jti)) < 0) {
		*why = "jti is not a string of at most 127 bytes";
		return -EINVAL;
	}
	r = get_time(payload, "exp", &c->exp);
	if (r < 0) {
		*why = "exp is not a valid time";
		return -EINVAL;
	}
	c->long_lived = r == 0;
	if (get_time(payload, "iat", &c->iat) < 0) {
		*why = "iat is not a valid time";
		return -EINVAL;
	}
	if (get_time(payload, "nbf", &c->nbf) < 0) {
		*why = "nbf is not a valid time";
		return -EINVAL;
	}
	if (strcmp(c->issuer, LEGACY_ISSUER) == 0)
		c->legacy = true;
	return 0;
}

static bool is_trailing_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int nh_jwt_decode_sa(const char *token, size_t len, struct nh_sa_claims *out, const char **why)
{
	const char *dummy, *dot1, *dot2;
	struct span seg[3];
	unsigned char *buf = NULL;
	json_object *obj = NULL;
	size_t bufsize = 0;
	int err;

	if (!why)
		why = &dummy;
	*why = NULL;
	if (!out) {
		*why = "no output";
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	if (!token || len == 0) {
		*why = "token is empty";
		return -EINVAL;
	}
	if (len > NH_JWT_MAX) {
		*why = "token is longer than 64 KiB";
		return -EINVAL;
	}
	while (len > 0 && is_trailing_space(token[len - 1]))
		len--;

	dot1 = memchr(token, '.', len);
	dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token))) {
		*why = "not three dot-separated segments";
		return -EINVAL;
	}
	seg[0] = (struct span){token, (size_t)(dot1 - token)};
	seg[1] = (struct span){dot1 + 1, (size_t)(dot2 - dot1 - 1)};
	seg[2] = (struct span){dot2 + 1, len - (size_t)(dot2 + 1 - token)};
	if (!seg[0].n || !seg[1].n || !seg[2].n) {
		*why = "empty segment";
		return -EINVAL;
	}
	/* the signature is checked in place, never decoded or copied */
	if (b64url_decode(seg[2], NULL) < 0) {
		*why = "signature is not base64url";
		return -EINVAL;
	}

	/* one buffer for header then payload: a segment decodes shorter than it is */
	bufsize = seg[0].n > seg[1].n ? seg[0].n : seg[1].n;
	buf = malloc(bufsize);
	if (!buf) {
		*why = "out of memory";
		return -ENOMEM;
	}
	err = decode_object(seg[0], buf, &obj, "header is not base64url",
			    "header is not a JSON object", why);
	if (err)
		goto cleanup;
	json_object_put(obj);
	obj = NULL;
	explicit_bzero(buf, bufsize);

	err = decode_object(seg[1], buf, &obj, "payload is not base64url",
			    "payload is not a JSON object", why);
	if (err)
		goto cleanup;
	err = parse_claims(obj, out, why);

cleanup:
	json_object_put(obj);
	explicit_bzero(buf, bufsize);
	free(buf);
	if (err)
		memset(out, 0, sizeof(*out));
	return err;
}

int64_t nh_sa_claims_remaining(const struct nh_sa_claims *c, int64_t now)
{
	int64_t r;

	if (c->long_lived)
		return INT64_MAX;
	if (__builtin_sub_overflow(c->exp, now, &r))
		return now < 0 ? INT64_MAX : INT64_MIN;
	return r;
}
