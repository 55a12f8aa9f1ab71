// SPDX-License-Identifier: Apache-2.0
#include "secrets.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const kind_names[NH_SECRET_KIND_MAX] = {
    [NH_SECRET_NONE] = "none",
    [NH_SECRET_AWS_KEY] = "aws-access-key",
    [NH_SECRET_GITHUB_TOKEN] = "github-token",
    [NH_SECRET_GITLAB_TOKEN] = "gitlab-token",
    [NH_SECRET_SLACK_TOKEN] = "slack-token",
    [NH_SECRET_JWT] = "jwt",
    [NH_SECRET_PRIVATE_KEY] = "private-key",
    [NH_SECRET_URL_PASSWORD] = "url-password",
    [NH_SECRET_NAMED_VALUE] = "named-value",
    [NH_SECRET_USER_PASSWORD] = "user-password",
};

/* Words that make an option or variable name secret. Over-redacting a
 * harmless value is cheap; leaking a password is not. */
static const char *const secret_words[] = {
    "password",	  "passwd",	 "passphrase",	"pwd",	      "secret",	    "token",
    "apikey",	  "api_key",	 "api-key",	"accesskey",  "access_key", "access-key",
    "privatekey", "private_key", "private-key", "credential",
};

const char *nh_secret_kind_name(enum nh_secret_kind kind)
{
	return kind < NH_SECRET_KIND_MAX ? kind_names[kind] : "unknown";
}

/* A secret found: bytes [start, start + len) of the argument. */
struct match {
	size_t start, len;
	enum nh_secret_kind kind;
};

struct writer {
	char *out;
	size_t cap, n;
};

static void put(struct writer *w, const char *s, size_t len)
{
	size_t room = w->n + 1 < w->cap ? w->cap - 1 - w->n : 0;

	if (len > room)
		len = room;
	memcpy(w->out + w->n, s, len);
	w->n += len;
	w->out[w->n] = '\0';
}

static void put_marker(struct writer *w, enum nh_secret_kind kind)
{
	char m[48];
	int n = snprintf(m, sizeof(m), "[REDACTED:%s]", nh_secret_kind_name(kind));

	put(w, m, (size_t)n);
}

static bool is_upper_digit(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return isalnum((unsigned char)c) != 0;
}

/* base64url and the token alphabets of GitLab and Slack */
static bool is_token(char c)
{
	return is_alnum(c) || c == '-' || c == '_';
}

static bool is_word(char c)
{
	return is_alnum(c) || c == '_';
}

/* option, variable and key names: [A-Za-z0-9_.-] */
static bool is_name(char c)
{
	return is_word(c) || c == '-' || c == '.';
}

/* strchr without its match on the terminating NUL */
static bool is_one_of(char c, const char *set)
{
	return c != '\0' && strchr(set, c) != NULL;
}

static size_t run(const char *s, size_t len, size_t i, bool (*cls)(char))
{
	size_t j = i;

	while (j < len && cls(s[j]))
		j++;
	return j - i;
}

static bool has_prefix(const char *s, size_t len, size_t i, const char *p)
{
	size_t n = strlen(p);

	return len - i >= n && memcmp(s + i, p, n) == 0;
}

static bool has_prefix_nocase(const char *s, size_t len, size_t i, const char *p)
{
	size_t n = strlen(p);

	return len - i >= n && strncasecmp(s + i, p, n) == 0;
}

/* AKIA/ASIA + 16 upper-case letters or digits, as a whole word. */
static bool match_aws(const char *s, size_t len, size_t i, struct match *m)
{
	if (!has_prefix(s, len, i, "AKIA") && !has_prefix(s, len, i, "ASIA"))
		return false;
	if (run(s, len, i + 4, is_upper_digit) != 16 || (i + 20 < len && is_alnum(s[i + 20])))
		return false;
	*m = (struct match){i, 20, NH_SECRET_AWS_KEY};
	return true;
}

static bool match_prefixed(const char *s, size_t len, size_t i, struct match *m)
{
	static const struct {
		const char *prefix;
		size_t min;
		bool (*cls)(char);
		enum nh_secret_kind kind;
	} forms[] = {
	    {"ghp_", 30, is_alnum, NH_SECRET_GITHUB_TOKEN},
	    {"gho_", 30, is_alnum, NH_SECRET_GITHUB_TOKEN},
	    {"ghu_", 30, is_alnum, NH_SECRET_GITHUB_TOKEN},
	    {"ghs_", 30, is_alnum, NH_SECRET_GITHUB_TOKEN},
	    {"ghr_", 30, is_alnum, NH_SECRET_GITHUB_TOKEN},
	    {"github_pat_", 22, is_word, NH_SECRET_GITHUB_TOKEN},
	    {"glpat-", 20, is_token, NH_SECRET_GITLAB_TOKEN},
	    {"xoxb-", 10, is_token, NH_SECRET_SLACK_TOKEN},
	    {"xoxp-", 10, is_token, NH_SECRET_SLACK_TOKEN},
	    {"xoxa-", 10, is_token, NH_SECRET_SLACK_TOKEN},
	    {"xoxr-", 10, is_token, NH_SECRET_SLACK_TOKEN},
	    {"xoxs-", 10, is_token, NH_SECRET_SLACK_TOKEN},
	};

	for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
		size_t plen = strlen(forms[f].prefix), body;

		if (!has_prefix(s, len, i, forms[f].prefix))
			continue;
		body = run(s, len, i + plen, forms[f].cls);
		if (body < forms[f].min)
			continue;
		*m = (struct match){i, plen + body, forms[f].kind};
		return true;
	}
	return false;
}

/* header.payload.signature, both first parts base64url JSON ("eyJ"). */
static bool match_jwt(const char *s, size_t len, size_t i, struct match *m)
{
	size_t a, b, c;

	if (!has_prefix(s, len, i, "eyJ"))
		return false;
	a = run(s, len, i, is_token);
	if (a < 10 || i + a >= len || s[i + a] != '.')
		return false;
	b = run(s, len, i + a + 1, is_token);
	if (b < 10 || i + a + 1 + b >= len || s[i + a + 1 + b] != '.')
		return false;
	c = run(s, len, i + a + b + 2, is_token);
	*m = (struct match){i, a + b + 2 + c, NH_SECRET_JWT};
	return true;
}

/* "-----BEGIN ... PRIVATE KEY-----": everything from there on. */
static bool match_private_key(const char *s, size_t len, size_t i, struct match *m)
{
	const char *end;

	if (!has_prefix(s, len, i, "-----BEGIN "))
		return false;
	end = memmem(s + i, len - i < 64 ? len - i : 64, "PRIVATE KEY-----", 16);
	if (!end)
		return false;
	*m = (struct match){i, len - i, NH_SECRET_PRIVATE_KEY};
	return true;
}

/*
 * scheme://user:PASSWORD@host: only the password goes. Matched at the
 * password's first byte so that the user part is scanned like any other
 * text (it may be a token). Passwords hold raw '@' often enough that the
 * password runs to the last '@' before the path.
 */
static bool match_url_password(const char *s, size_t len, size_t i, struct match *m)
{
	size_t u, at = 0;

	if (i < 4 || s[i - 1] != ':')
		return false;
	u = i - 1;
	/* userinfo never holds a raw '[' or ']' (RFC 3986), which also keeps
	 * a redaction marker from reading as "user:" */
	while (u > 0 && !is_one_of(s[u - 1], ":@/ []"))
		u--;
	if (u < 3 || memcmp(s + u - 3, "://", 3) != 0)
		return false;
	for (size_t p = i; p < len && s[p] != '/'; p++)
		if (s[p] == '@')
			at = p;
	if (at <= i)
		return false;
	*m = (struct match){i, at - i, NH_SECRET_URL_PASSWORD};
	return true;
}

/* "Authorization: Bearer TOKEN", "Basic CREDS": the credential goes. */
static bool match_auth_scheme(const char *s, size_t len, size_t i, struct match *m)
{
	static const char *const schemes[] = {"bearer ", "basic ", "token "};

	for (size_t k = 0; k < sizeof(schemes) / sizeof(schemes[0]); k++) {
		size_t n = strlen(schemes[k]), body;

		/* Only where an auth scheme stands: the whole argument, or after a
		 * header's colon ("Authorization: Bearer X", also inside a quoted
		 * -H or sh -c string). A path ending in "token" before a space is
		 * not one. */
		bool header = i >= 2 && s[i - 1] == ' ' && s[i - 2] == ':';

		if ((i > 0 && !header) || !has_prefix_nocase(s, len, i, schemes[k]))
			continue;
		body = 0;
		while (i + n + body < len && s[i + n + body] != ' ' && s[i + n + body] != '"')
			body++;
		if (body < 8)
			continue;
		*m = (struct match){i + n, body, NH_SECRET_NAMED_VALUE};
		return true;
	}
	return false;
}

/* Whether a name holds a secret word, in any case and at any length. */
static bool name_is_secret(const char *name, size_t len)
{
	for (size_t w = 0; w < sizeof(secret_words) / sizeof(secret_words[0]); w++) {
		size_t n = strlen(secret_words[w]);

		for (size_t i = 0; i + n <= len; i++)
			if (strncasecmp(name + i, secret_words[w], n) == 0)
				return true;
	}
	return len == 4 && strncasecmp(name, "pass", 4) == 0;
}

/*
 * [-[-]]NAME=VALUE with a secret NAME, at i: the start of the argument
 * (the value is all the rest) or just after '=', ',', ';', ' ', '&' or
 * '?', inside a list or query (--env=DB_PASSWORD=V, a,token=V,
 * ?token=V&x), where the value ends at the next ',', ';', '&' or ' '.
 */
static bool match_named_value(const char *s, size_t len, size_t i, struct match *m)
{
	size_t start = i, eq, end;

	if (i > 0 && !is_one_of(s[i - 1], "=,; &?"))
		return false;
	while (start < len && start - i < 2 && s[start] == '-')
		start++;
	eq = start + run(s, len, start, is_name);
	/* "-p=..." is too ambiguous; only long names count. */
	if (eq >= len || s[eq] != '=' || eq + 1 >= len || eq - start < 3)
		return false;
	if (!name_is_secret(s + start, eq - start))
		return false;
	end = i == 0 ? len : eq + 1;
	while (end < len && !is_one_of(s[end], ",;& "))
		end++;
	*m = (struct match){eq + 1, end - eq - 1, NH_SECRET_NAMED_VALUE};
	return true;
}

enum nh_secret_next nh_secrets_named_option(const char *arg, size_t len)
{
	/* curl's user:password, given to its user and proxy-user options */
	static const char *const user_opts[] = {"-u", "--user", "-U", "--proxy-user"};
	size_t dashes = 0;

	for (size_t k = 0; k < sizeof(user_opts) / sizeof(user_opts[0]); k++)
		if (len == strlen(user_opts[k]) && memcmp(arg, user_opts[k], len) == 0)
			return NH_NEXT_USER_PASSWORD;
	if (len == 0 || memchr(arg, '=', len))
		return NH_NEXT_PLAIN; /* the value, if any, is inline */
	while (dashes < len && dashes < 2 && arg[dashes] == '-')
		dashes++;
	/* "-p" is a port as often as a password: one dash takes a long
	 * name (Go's -token); a bare word must be one identifier-like word
	 * (aws configure set aws_secret_access_key V), not a sentence. */
	if (dashes == 1 && len - 1 < 3)
		return NH_NEXT_PLAIN;
	if (dashes == 0 && run(arg, len, 0, is_name) != len)
		return NH_NEXT_PLAIN;
	return name_is_secret(arg + dashes, len - dashes) ? NH_NEXT_SECRET : NH_NEXT_PLAIN;
}

/* Word-start token shapes only: all that can hide in a name. */
static bool match_token(const char *s, size_t len, size_t i, struct match *m)
{
	if (i > 0 && is_token(s[i - 1]))
		return false;
	return match_aws(s, len, i, m) || match_prefixed(s, len, i, m) || match_jwt(s, len, i, m);
}

static bool match_at(const char *s, size_t len, size_t i, struct match *m)
{
	/* A named value first: its name may start with a token shape whose
	 * match would end inside the name and hide the value. */
	return match_named_value(s, len, i, m) || match_token(s, len, i, m) ||
	       match_private_key(s, len, i, m) || match_url_password(s, len, i, m) ||
	       match_auth_scheme(s, len, i, m);
}

struct tally {
	int found;
	enum nh_secret_kind first;
	struct nh_secret_span *spans; /* may be NULL */
	size_t max_spans, nspans;
};

static void mark(struct writer *w, struct tally *t, enum nh_secret_kind kind, size_t start,
		 size_t len)
{
	put_marker(w, kind);
	if (!t->found++)
		t->first = kind;
	if (t->spans && t->nspans < t->max_spans)
		t->spans[t->nspans++] = (struct nh_secret_span){start, len, kind};
}

/*
 * Copy s[i, len) with every secret redacted. The lead-in of a match (the
 * NAME= of a named value, "Bearer ") is scanned for token shapes alone;
 * those match from their first byte, so this nests once at most.
 */
static void scan(const char *s, size_t i, size_t len, bool tokens_only, struct writer *w,
		 struct tally *t)
{
	size_t copied = i;
	struct match m;

	while (i < len) {
		bool hit = tokens_only ? match_token(s, len, i, &m) : match_at(s, len, i, &m);

		if (!hit || m.len == 0) {
			i++;
			continue;
		}
		put(w, s + copied, i - copied);
		scan(s, i, m.start, true, w, t);
		mark(w, t, m.kind, m.start, m.len);
		i = copied = m.start + m.len;
	}
	put(w, s + copied, len - copied);
}

/*
 * The ':' of curl's user:password, in an argument after -u, --user, -U or
 * --proxy-user, or attached to one of them (-uUSER:PASS,
 * --user=USER:PASS).
 */
static bool user_password_colon(const char *s, size_t len, enum nh_secret_next prev, size_t *colon)
{
	static const char *const attached[] = {"--user=", "--proxy-user=", "-u", "-U"};
	size_t from = 0;
	const char *c;

	if (prev != NH_NEXT_USER_PASSWORD) {
		for (size_t k = 0; !from && k < sizeof(attached) / sizeof(attached[0]); k++)
			if (has_prefix(s, len, 0, attached[k]))
				from = strlen(attached[k]);
		if (!from)
			return false;
	}
	c = memchr(s + from, ':', len - from);
	if (!c)
		return false;
	*colon = (size_t)(c - s);
	return true;
}

int nh_secrets_find(const char *in, size_t len, enum nh_secret_next prev_named, char *out,
		    size_t outlen, struct nh_secret_span *spans, size_t max_spans, size_t *nspans)
{
	struct writer w = {out, outlen, 0};
	struct tally t = {0, NH_SECRET_NONE, spans, max_spans, 0};
	size_t colon;

	if (nspans)
		*nspans = 0;
	if (outlen == 0)
		return 0;
	out[0] = '\0';
	/* anything but the two known values (a bool's true) is "secret" */
	if (prev_named != NH_NEXT_PLAIN && prev_named != NH_NEXT_USER_PASSWORD && len > 0) {
		mark(&w, &t, NH_SECRET_NAMED_VALUE, 0, len);
	} else if (user_password_colon(in, len, prev_named, &colon)) {
		/* the user name stays, scanned: it may itself be a token */
		scan(in, 0, colon, false, &w, &t);
		put(&w, ":", 1);
		if (colon + 1 < len)
			mark(&w, &t, NH_SECRET_USER_PASSWORD, colon + 1, len - colon - 1);
	} else {
		scan(in, 0, len, false, &w, &t);
	}
	if (nspans)
		*nspans = t.nspans;
	return t.found;
}

int nh_secrets_redact(const char *in, size_t len, enum nh_secret_next prev_named, char *out,
		      size_t outlen, enum nh_secret_kind *kind)
{
	struct nh_secret_span first;
	size_t n = 0;
	int found = nh_secrets_find(in, len, prev_named, out, outlen, &first, 1, &n);

	if (kind)
		*kind = n ? first.kind : NH_SECRET_NONE;
	return found;
}
