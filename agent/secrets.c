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
    [NH_SECRET_PASSWORD] = "password",
    [NH_SECRET_HEADER] = "header",
    [NH_SECRET_CUT] = "cut",
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

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
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
 * text (it may be a token). Passwords hold raw '@' and '/' often enough
 * that the password runs to the last '@' before the first '/' that
 * follows an '@' (the path); a port (digits before a '/') is not one.
 */
static bool match_url_password(const char *s, size_t len, size_t i, struct match *m)
{
	size_t u, p, at = 0;

	if (i < 4 || s[i - 1] != ':')
		return false;
	u = i - 1;
	/* userinfo never holds a raw '[' or ']' (RFC 3986), which also keeps
	 * a redaction marker from reading as "user:" */
	while (u > 0 && !is_one_of(s[u - 1], ":@/ []"))
		u--;
	if (u < 3 || memcmp(s + u - 3, "://", 3) != 0)
		return false;
	for (p = i; p < len && !is_one_of(s[p], " \t\n\"'") && !(at && s[p] == '/'); p++)
		if (s[p] == '@')
			at = p;
	if (at <= i)
		return false;
	p = i + run(s, len, i, is_digit);
	if (p > i && p < at && s[p] == '/')
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
	/* short words only as a whole component of the name: DB_PASS,
	 * redis.pw, not "passive" or "pwm" */
	for (size_t i = 0; i < len;) {
		size_t n = 0;

		while (i + n < len && is_alnum(name[i + n]))
			n++;
		if ((n == 4 && strncasecmp(name + i, "pass", 4) == 0) ||
		    (n == 2 && strncasecmp(name + i, "pw", 2) == 0))
			return true;
		i += n ? n : 1;
	}
	return false;
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

/* Where a header or a JSON/YAML key may start: the argument's start or
 * after a separator that a shell string, a list or a body puts there. */
static bool key_start(const char *s, size_t i)
{
	return i == 0 || is_one_of(s[i - 1], " \t\n\r\"'{,;\\");
}

/* The value of a header from v: to the end of the line or of a quoted
 * string. */
static size_t header_end(const char *s, size_t len, size_t v)
{
	while (v < len && !is_one_of(s[v], "\n\r\"'"))
		v++;
	return v;
}

/*
 * "Name: value" with a credential for a value: Authorization and
 * Proxy-Authorization (the scheme word stays, with or without spaces
 * around it), Cookie and Set-Cookie (every cookie: a session id is a
 * credential), and any secret-named header (X-API-Key, X-Vault-Token).
 */
static bool match_header(const char *s, size_t len, size_t i, struct match *m)
{
	static const char *const schemes[] = {"bearer",	   "basic",  "token",  "digest",
					      "negotiate", "apikey", "sso-key"};
	size_t n, v, end;
	bool auth;

	/* curl's header option attached: --header=Name: v, -HName: v */
	if (!key_start(s, i) && !(i == 9 && has_prefix(s, len, 0, "--header=")))
		return false;
	if (i == 0 && has_prefix(s, len, 0, "-H"))
		i = 2;
	n = run(s, len, i, is_name);
	if (n < 3 || i + n >= len || s[i + n] != ':')
		return false;
	auth = (n == 13 && strncasecmp(s + i, "authorization", 13) == 0) ||
	       (n == 19 && strncasecmp(s + i, "proxy-authorization", 19) == 0);
	if (!auth &&
	    !((n == 6 && strncasecmp(s + i, "cookie", 6) == 0) ||
	      (n == 10 && strncasecmp(s + i, "set-cookie", 10) == 0) || name_is_secret(s + i, n)))
		return false;
	v = i + n + 1;
	/* "token:abc" is a header; "name://" is a URL */
	if (v < len && s[v] == '/')
		return false;
	while (v < len && (s[v] == ' ' || s[v] == '\t'))
		v++;
	if (auth) {
		for (size_t k = 0; k < sizeof(schemes) / sizeof(schemes[0]); k++) {
			size_t w = strlen(schemes[k]);

			if (has_prefix_nocase(s, len, v, schemes[k]) &&
			    (v + w == len || s[v + w] == ' ' || s[v + w] == '\t')) {
				v += w;
				while (v < len && (s[v] == ' ' || s[v] == '\t'))
					v++;
				break;
			}
		}
	}
	end = header_end(s, len, v);
	if (end == v)
		return false;
	*m = (struct match){v, end - v, auth ? NH_SECRET_NAMED_VALUE : NH_SECRET_HEADER};
	return true;
}

/*
 * A JSON or Python-dict member with a secret key: "password": "V",
 * 'token':'V', \"secret\":\"V\" (escaped inside a shell string), or an
 * unquoted value ("pin_password": 1234) up to ',', '}' or a space.
 */
static bool match_json_value(const char *s, size_t len, size_t i, struct match *m)
{
	size_t k = i + 1, n, v, end;
	char q;

	if (i >= len || (s[i] != '"' && s[i] != '\'') || !key_start(s, i))
		return false;
	q = s[i];
	n = run(s, len, k, is_name);
	if (n < 3 || !name_is_secret(s + k, n))
		return false;
	v = k + n;
	if (v < len && s[v] == '\\')
		v++;
	if (v >= len || s[v] != q)
		return false;
	v++;
	while (v < len && (s[v] == ' ' || s[v] == '\t'))
		v++;
	if (v >= len || s[v] != ':')
		return false;
	v++;
	while (v < len && (s[v] == ' ' || s[v] == '\t'))
		v++;
	if (v < len && s[v] == '\\' && v + 1 < len && s[v + 1] == q)
		v++;
	if (v < len && s[v] == q) {
		v++;
		/* to the closing quote, past escaped ones; a backslash before
		 * the closing quote belongs to the shell, not the value */
		for (end = v; end < len && s[end] != q; end++)
			if (s[end] == '\\' && end + 1 < len && s[end + 1] != q)
				end++;
		if (end > v && s[end - 1] == '\\' && end < len)
			end--;
	} else {
		end = v;
		while (end < len && !is_one_of(s[end], ",} \t\n"))
			end++;
	}
	if (end <= v)
		return false;
	*m = (struct match){v, end - v, NH_SECRET_NAMED_VALUE};
	return true;
}

static bool is_base64(char c)
{
	return is_alnum(c) || c == '+' || c == '/' || c == '=' || c == '\n' || c == '\r';
}

/*
 * A private key's base64 body without its PEM armour: DER PKCS#1/PKCS#8
 * ("MII" + a length, not a certificate's "MII...CC"), a short EC or
 * Ed25519 one, or an OpenSSH key ("openssh-key-v1").
 */
static bool match_key_body(const char *s, size_t len, size_t i, struct match *m)
{
	static const struct {
		const char *prefix;
		size_t min;
	} forms[] = {
	    {"MII", 200},
	    {"MHcCAQEE", 100},
	    {"MC4CAQAw", 40},
	    {"b3BlbnNzaC1rZXktdjE", 100},
	};
	size_t n;

	if (i > 0 && is_base64(s[i - 1]) && s[i - 1] != '\n')
		return false;
	n = run(s, len, i, is_base64);
	for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
		if (!has_prefix(s, len, i, forms[f].prefix) || n < forms[f].min)
			continue;
		if (f == 0 && s[i + 6] == 'C' && s[i + 7] == 'C')
			return false; /* a certificate: public */
		*m = (struct match){i, n, NH_SECRET_PRIVATE_KEY};
		return true;
	}
	return false;
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
	/* curl --cookie NAME=V: a session cookie is a credential */
	if ((len == 8 && memcmp(arg, "--cookie", 8) == 0))
		return NH_NEXT_SECRET;
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
	return match_named_value(s, len, i, m) || match_header(s, len, i, m) ||
	       match_json_value(s, len, i, m) || match_token(s, len, i, m) ||
	       match_private_key(s, len, i, m) || match_key_body(s, len, i, m) ||
	       match_url_password(s, len, i, m) || match_auth_scheme(s, len, i, m);
}

/* Spans the argv reader found (tool options, words after a secret-named
 * option): sorted, not overlapping. */
struct forced {
	const struct match *m;
	size_t n;
};

struct tally {
	const struct forced *forced; /* may be NULL */
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

/* A forced span covering i: the match runs from i to its end, also when
 * an earlier match ended inside it. */
static bool forced_at(const struct forced *f, size_t i, struct match *m)
{
	for (size_t k = 0; f && k < f->n; k++)
		if (f->m[k].start <= i && i < f->m[k].start + f->m[k].len) {
			*m = (struct match){i, f->m[k].start + f->m[k].len - i, f->m[k].kind};
			return true;
		}
	return false;
}

/* A match that overlaps a forced span takes it in whole, so that one
 * secret is one redaction (one fingerprint), not two halves. */
static void merge_forced(const struct forced *f, struct match *m)
{
	for (size_t k = 0; f && k < f->n; k++) {
		size_t fs = f->m[k].start, fe = fs + f->m[k].len, me = m->start + m->len;

		if (fe <= m->start || fs >= me)
			continue;
		if (fs < m->start) {
			m->kind = f->m[k].kind;
			m->start = fs;
		}
		if (fe > me)
			me = fe;
		m->len = me - m->start;
	}
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
		bool hit = forced_at(t->forced, i, &m) ||
			   (tokens_only ? match_token(s, len, i, &m) : match_at(s, len, i, &m));

		if (hit)
			merge_forced(t->forced, &m);
		/* a forced span may run past a lead-in: the rest is the caller's */
		if (hit && m.start + m.len > len)
			m.len = m.start < len ? len - m.start : 0;
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

static int find(const char *in, size_t len, enum nh_secret_next prev_named,
		const struct forced *forced, char *out, size_t outlen, struct nh_secret_span *spans,
		size_t max_spans, size_t *nspans)
{
	struct writer w = {out, outlen, 0};
	struct tally t = {forced, 0, NH_SECRET_NONE, spans, max_spans, 0};
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

int nh_secrets_find(const char *in, size_t len, enum nh_secret_next prev_named, char *out,
		    size_t outlen, struct nh_secret_span *spans, size_t max_spans, size_t *nspans)
{
	return find(in, len, prev_named, NULL, out, outlen, spans, max_spans, nspans);
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

/* Tools whose password options have no secret-sounding name. */
enum tool {
	TOOL_NONE = 0,
	TOOL_MYSQL,    /* -pPASS attached */
	TOOL_SSHPASS,  /* -p PASS, -pPASS */
	TOOL_REGISTRY, /* docker/podman/... login -p PASS */
	TOOL_REDIS,    /* -a PASS */
	TOOL_OPENSSL,  /* -k PASS; pass:PASS is read for any tool */
	TOOL_HTPASSWD, /* -b [-n] FILE USER PASS */
};

static int tool_of(const char *w, size_t n)
{
	static const struct {
		const char *name;
		enum tool tool;
	} tools[] = {
	    {"mysql", TOOL_MYSQL},	  {"mysqldump", TOOL_MYSQL},	 {"mysqladmin", TOOL_MYSQL},
	    {"mysqlimport", TOOL_MYSQL},  {"mysqlshow", TOOL_MYSQL},	 {"mysqlcheck", TOOL_MYSQL},
	    {"mysqlpump", TOOL_MYSQL},	  {"mysqlsh", TOOL_MYSQL},	 {"mariadb", TOOL_MYSQL},
	    {"mariadb-dump", TOOL_MYSQL}, {"mariadb-admin", TOOL_MYSQL}, {"sshpass", TOOL_SSHPASS},
	    {"docker", TOOL_REGISTRY},	  {"podman", TOOL_REGISTRY},	 {"nerdctl", TOOL_REGISTRY},
	    {"buildah", TOOL_REGISTRY},	  {"skopeo", TOOL_REGISTRY},	 {"crane", TOOL_REGISTRY},
	    {"oras", TOOL_REGISTRY},	  {"helm", TOOL_REGISTRY},	 {"redis-cli", TOOL_REDIS},
	    {"valkey-cli", TOOL_REDIS},	  {"keydb-cli", TOOL_REDIS},	 {"openssl", TOOL_OPENSSL},
	    {"htpasswd", TOOL_HTPASSWD},
	};
	const char *slash = memrchr(w, '/', n);

	if (slash) {
		n -= (size_t)(slash + 1 - w);
		w = slash + 1;
	}
	for (size_t k = 0; k < sizeof(tools) / sizeof(tools[0]); k++)
		if (n == strlen(tools[k].name) && memcmp(w, tools[k].name, n) == 0)
			return tools[k].tool;
	return TOOL_NONE;
}

void nh_secrets_argv_init(struct nh_secrets_argv *st)
{
	memset(st, 0, sizeof(*st));
}

static bool word_is(const char *w, size_t n, const char *lit)
{
	return n == strlen(lit) && memcmp(w, lit, n) == 0;
}

/*
 * One word of a command line: a tool's password option found in it
 * (*m, relative to w), and what it says of the next word. Updates the
 * tool state; the caller applies st->prev to this word beforehand.
 */
static bool word_step(struct nh_secrets_argv *st, const char *w, size_t n, struct match *m,
		      enum nh_secret_next *next)
{
	int tool = tool_of(w, n);
	bool hit = false;

	*next = st->index == 0 ? NH_NEXT_PLAIN : nh_secrets_named_option(w, n);
	/* a word naming a tool (argv[0], or after sudo, env, --); a path to a
	 * file named like the tool that runs is its argument (htpasswd -b
	 * /etc/nginx/htpasswd bob V) */
	if (tool != TOOL_NONE && !(tool == st->tool && st->index > 0 && memchr(w, '/', n))) {
		st->tool = tool;
		st->login = st->ht_batch = st->ht_stdout = false;
		st->ht_pos = 0;
		*next = NH_NEXT_PLAIN;
		return false;
	}
	if (has_prefix(w, n, 0, "pass:") && n > 5) {
		*m = (struct match){5, n - 5, NH_SECRET_PASSWORD}; /* openssl -passin pass:V */
		return true;
	}
	switch (st->tool) {
	case TOOL_MYSQL:
		/* -pPASS; a bare -p prompts, and -p's separate word is a database */
		hit = n > 2 && w[0] == '-' && w[1] == 'p';
		break;
	case TOOL_SSHPASS:
		if (word_is(w, n, "-p"))
			*next = NH_NEXT_SECRET;
		hit = n > 2 && w[0] == '-' && w[1] == 'p';
		break;
	case TOOL_REGISTRY:
		if (word_is(w, n, "login"))
			st->login = true;
		else if (st->login && word_is(w, n, "-p"))
			*next = NH_NEXT_SECRET;
		else if (st->login)
			hit = n > 2 && w[0] == '-' && w[1] == 'p' && w[2] != '-';
		break;
	case TOOL_REDIS:
		if (word_is(w, n, "-a"))
			*next = NH_NEXT_SECRET;
		break;
	case TOOL_OPENSSL:
		if (word_is(w, n, "-k"))
			*next = NH_NEXT_SECRET;
		break;
	case TOOL_HTPASSWD:
		if (st->ht_value) {
			st->ht_value = false; /* -C COST, -r ROUNDS */
		} else if (st->ht_pos == 0 && n > 1 && w[0] == '-') {
			st->ht_batch |= memchr(w, 'b', n) != NULL;
			st->ht_stdout |= memchr(w, 'n', n) != NULL;
			st->ht_value = w[n - 1] == 'C' || w[n - 1] == 'r';
		} else if (++st->ht_pos == (st->ht_stdout ? 2u : 3u) && st->ht_batch) {
			*m = (struct match){0, n, NH_SECRET_PASSWORD};
			return true;
		}
		break;
	default:
		break;
	}
	if (hit)
		*m = (struct match){2, n - 2, NH_SECRET_PASSWORD};
	return hit;
}

#define NH_FORCED_MAX 32

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Quotes around a word of a shell string are not part of it. */
static void unquote(const char *s, size_t *a, size_t *b)
{
	while (*a < *b && (s[*a] == '"' || s[*a] == '\''))
		(*a)++;
	while (*b > *a && (s[*b - 1] == '"' || s[*b - 1] == '\'' || s[*b - 1] == ';'))
		(*b)--;
}

static void add_forced(struct match *f, size_t *n, size_t start, size_t len,
		       enum nh_secret_kind kind)
{
	if (len == 0 || *n >= NH_FORCED_MAX)
		return;
	/* keep them sorted and apart: a later one inside an earlier is dropped */
	if (*n && start < f[*n - 1].start + f[*n - 1].len)
		return;
	f[(*n)++] = (struct match){start, len, kind};
}

/* The words of an argument that holds a command line (sh -c "..."). */
static void shell_words(const char *s, size_t len, struct match *f, size_t *nf)
{
	struct nh_secrets_argv sub = {.index = 1};
	size_t i = 0;

	while (i < len) {
		size_t a, b, colon;
		enum nh_secret_next next;
		struct match m;

		while (i < len && is_space(s[i]))
			i++;
		a = i;
		while (i < len && !is_space(s[i]))
			i++;
		b = i;
		unquote(s, &a, &b);
		if (a >= b)
			continue;
		if (sub.prev == NH_NEXT_USER_PASSWORD) {
			const char *c = memchr(s + a, ':', b - a);

			colon = c ? (size_t)(c - s) : b;
			add_forced(f, nf, colon + 1, colon < b ? b - colon - 1 : 0,
				   NH_SECRET_USER_PASSWORD);
		} else if (sub.prev != NH_NEXT_PLAIN) {
			add_forced(f, nf, a, b - a, NH_SECRET_NAMED_VALUE);
		}
		if (word_step(&sub, s + a, b - a, &m, &next))
			add_forced(f, nf, a + m.start, m.len, m.kind);
		sub.prev = next;
		/* a shell separator ends the command, and its tool */
		if (word_is(s + a, b - a, "&&") || word_is(s + a, b - a, "||") ||
		    word_is(s + a, b - a, "|") || (i > 0 && s[i - 1] == ';'))
			sub.tool = TOOL_NONE;
	}
}

int nh_secrets_argv_next(struct nh_secrets_argv *st, const char *arg, size_t len, bool cut,
			 char *out, size_t outlen, struct nh_secret_span *spans, size_t max_spans,
			 size_t *nspans)
{
	struct match f[NH_FORCED_MAX], m;
	struct forced forced = {f, 0};
	enum nh_secret_next prev = st->prev, next;
	const char *begin, *end;
	int found;

	if (st->in_key) {
		/* a PEM block spread over arguments: all of it up to END */
		end = memmem(arg, len, "-----END", 8);
		add_forced(f, &forced.n, 0, end ? (size_t)(end - arg) : len, NH_SECRET_PRIVATE_KEY);
		st->in_key = end == NULL;
		next = NH_NEXT_PLAIN;
	} else {
		if (word_step(st, arg, len, &m, &next))
			add_forced(f, &forced.n, m.start, m.len, m.kind);
		if (memchr(arg, ' ', len) || memchr(arg, '\n', len))
			shell_words(arg, len, f, &forced.n);
		begin = memmem(arg, len, "PRIVATE KEY-----", 16);
		if (begin && !memmem(begin, len - (size_t)(begin - arg), "-----END", 8))
			st->in_key = true;
	}
	if (cut && len > 0 && !is_one_of(arg[len - 1], " \t\n=:@,;&?\"'")) {
		/* the last word, which may be a secret's head */
		size_t a = len;

		while (a > 0 && !is_one_of(arg[a - 1], " \t\n=:@,;&?\"'"))
			a--;
		if (!forced.n || f[forced.n - 1].start + f[forced.n - 1].len <= a)
			add_forced(f, &forced.n, a, len - a, NH_SECRET_CUT);
		else
			f[forced.n - 1].len = len - f[forced.n - 1].start;
	}
	found = find(arg, len, prev, &forced, out, outlen, spans, max_spans, nspans);
	st->prev = next;
	st->index++;
	return found;
}
