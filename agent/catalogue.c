/* SPDX-License-Identifier: Apache-2.0 */
/*
 * catalogue: the credential catalogue (see catalogue.h).
 *
 * Every rule is checked once, when it is added, and reduced to what makes
 * matching cheap: how many path segments it spans (so a relative pattern
 * is tried at exactly one place in the path, never at every '/') and the
 * literal head and tail of its last segment (so most rules are rejected
 * by two memcmp calls before fnmatch runs). A path is normalised once per
 * lookup, into a buffer on the stack, with its segment offsets.
 */
#include "catalogue.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define KIND_CHARS "abcdefghijklmnopqrstuvwxyz0123456789_"
/* Characters that end a literal run in a pattern (']' too, conservatively). */
#define GLOB_META "*?[]\\"

/*
 * Built-in path rules, in the order they are tried (after the configured
 * ones). Exclusions come right before the rules they narrow. Patterns
 * under /var/run are repeated under /run: the kernel reports the path the
 * process asked for, and either spelling reaches the same file.
 * "..?*" is the kubelet's atomic-writer layout for projected volumes:
 * DIR/token -> DIR/..data/token -> DIR/..2024_01_15_10_30_00.123/token.
 */
static const char *const builtin_paths[] = {
    /* Kubernetes service-account tokens */
    "sa_token=/var/run/secrets/kubernetes.io/serviceaccount/token",
    "sa_token=/var/run/secrets/kubernetes.io/serviceaccount/..?*/token",
    "sa_token=/run/secrets/kubernetes.io/serviceaccount/token",
    "sa_token=/run/secrets/kubernetes.io/serviceaccount/..?*/token",
    /* projected tokens: the ".." directories themselves are not tokens */
    "!sa_token=/var/run/secrets/tokens/..*",
    "sa_token=/var/run/secrets/tokens/*",
    "sa_token=/var/run/secrets/tokens/..?*/*",
    "!sa_token=/run/secrets/tokens/..*",
    "sa_token=/run/secrets/tokens/*",
    "sa_token=/run/secrets/tokens/..?*/*",

    /* AWS: shared files, SSO and CLI caches, EKS (IRSA) web-identity token */
    "aws_credentials=.aws/credentials",
    "aws_credentials=.aws/config",
    "aws_credentials=.aws/sso/cache/*.json",
    "aws_credentials=.aws/cli/cache/*.json",
    "aws_credentials=/var/run/secrets/eks.amazonaws.com/serviceaccount/token",
    "aws_credentials=/var/run/secrets/eks.amazonaws.com/serviceaccount/..?*/token",
    "aws_credentials=/run/secrets/eks.amazonaws.com/serviceaccount/token",
    "aws_credentials=/run/secrets/eks.amazonaws.com/serviceaccount/..?*/token",

    /* Google Cloud SDK */
    "gcp_credentials=.config/gcloud/application_default_credentials.json",
    "gcp_credentials=.config/gcloud/credentials.db",
    "gcp_credentials=.config/gcloud/access_tokens.db",
    "gcp_credentials=.config/gcloud/legacy_credentials/*/adc.json",

    /* Azure CLI */
    "azure_credentials=.azure/accessTokens.json",
    "azure_credentials=.azure/msal_token_cache.json",
    "azure_credentials=.azure/msal_token_cache.bin",
    "azure_credentials=.azure/service_principal_entries.json",

    /* kubeconfigs: user, kubeadm control plane, kubelet */
    "kubeconfig=.kube/config",
    "kubeconfig=/etc/kubernetes/admin.conf",
    "kubeconfig=/etc/kubernetes/super-admin.conf",
    "kubeconfig=/etc/kubernetes/kubelet.conf",
    "kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
    "kubeconfig=/etc/kubernetes/controller-manager.conf",
    "kubeconfig=/etc/kubernetes/scheduler.conf",
    "kubeconfig=/var/lib/kubelet/kubeconfig",
    "kubeconfig=*.kubeconfig",

    /* SSH: user keys (not their .pub halves), host keys */
    "!ssh_private_key=.ssh/*.pub",
    "ssh_private_key=.ssh/id_*",
    "ssh_private_key=/etc/ssh/ssh_host_*_key",

    /* TLS private keys: well-known directories, then common file names */
    "tls_private_key=/etc/ssl/private/*",
    "tls_private_key=/etc/pki/tls/private/*",
    "tls_private_key=/etc/kubernetes/pki/*.key",
    "tls_private_key=/var/lib/kubelet/pki/*.key",
    "tls_private_key=/var/lib/kubelet/pki/kubelet-client-*.pem", /* key + cert in one */
    "tls_private_key=*.key",
    "tls_private_key=*-key.pem",
    "tls_private_key=*_key.pem",
    "tls_private_key=privkey*.pem",

    /* password and token files */
    "netrc=.netrc",
    "netrc=_netrc",
    "pgpass=.pgpass",
    "docker_config=.docker/config.json",
    "vault_token=.vault-token",

    /* container-runtime and kubelet API sockets, by the name the server
     * bound (the kernel's copy: a client cannot rename it); by inode in
     * sockets.c */
    "container_runtime_socket=docker.sock",
    "container_runtime_socket=containerd.sock",
    "container_runtime_socket=containerd.sock.ttrpc",
    "container_runtime_socket=crio.sock",
    "container_runtime_socket=podman.sock",
    "container_runtime_socket=cri-dockerd.sock",
    "kubelet_socket=/var/lib/kubelet/pod-resources/kubelet.sock",
    "kubelet_socket=/var/lib/kubelet/device-plugins/kubelet.sock",
};

/* Built-in endpoints: AWS, GCP, Azure, OpenStack... metadata services. */
static const char *const builtin_endpoints[] = {
    "cloud_metadata=169.254.169.254",
    "cloud_metadata=fd00:ec2::254", /* AWS IMDS over IPv6 (Nitro) */
};

/* Kinds that exist even without a rule, so configuration can refer to them. */
static const char *const builtin_kinds[] = {
    "kube_apiserver",
};

_Static_assert(ARRAY_SIZE(builtin_paths) <= NH_CAT_BUILTIN_RULES,
	       "raise NH_CAT_BUILTIN_RULES in catalogue.h");
_Static_assert(NH_CAT_MAX_KINDS <= 64, "kinds are tracked in a 64-bit mask while matching");
_Static_assert(NH_CAT_MAX_KINDS < NH_CAT_ANY_KIND, "kind indexes fit in a byte");

/* A normalised path and where each of its segments starts. */
struct npath {
	char buf[NH_CAT_PATH_MAX + 1];
	uint16_t seg[NH_CAT_PATH_MAX / 2 + 1];
	size_t len;
	unsigned int nseg;
};

static void set_why(const char **why, const char *msg)
{
	if (why)
		*why = msg;
}

static int find_kind(const struct nh_catalogue *c, const char *name, size_t len)
{
	unsigned int i;

	for (i = 0; i < c->nkinds; i++) {
		if (strlen(c->kinds[i]) == len && memcmp(c->kinds[i], name, len) == 0)
			return (int)i;
	}
	return -1;
}

/* Index of kind @name, added if new. -ENOSPC when the table is full. */
static int intern_kind(struct nh_catalogue *c, const char *name, size_t len)
{
	int k = find_kind(c, name, len);

	if (k >= 0)
		return k;
	if (c->nkinds >= NH_CAT_MAX_KINDS)
		return -ENOSPC;
	memcpy(c->kinds[c->nkinds], name, len);
	c->kinds[c->nkinds][len] = '\0';
	return (int)c->nkinds++;
}

/*
 * Read "[!]KIND" followed by one of @seps. Sets *klen and *excl; a kind
 * of "*" (only after '!') gives *klen 1. Returns the separator's offset
 * or -EINVAL with *why.
 */
static int parse_kind(const char *spec, const char *seps, bool allow_excl, bool *excl, size_t *klen,
		      const char **why)
{
	const char *p = spec;
	size_t n;

	*excl = false;
	if (*p == '!') {
		if (!allow_excl) {
			set_why(why, "exclusions ('!') apply to path rules only");
			return -EINVAL;
		}
		*excl = true;
		p++;
	}
	n = strspn(p, KIND_CHARS);
	if (n == 0 && *p == '*') {
		if (!*excl || !p[1] || !strchr(seps, p[1])) {
			set_why(why, "kind '*' is only allowed in an exclusion (\"!*=PATTERN\")");
			return -EINVAL;
		}
		*klen = 1;
		return (int)(p + 1 - spec);
	}
	if (!p[n] || !strchr(seps, p[n])) {
		/* a separator further on means the kind itself is bad */
		if (strpbrk(p, seps))
			set_why(why, "kind must be [a-z0-9_]{1,31}");
		else
			set_why(why, strchr(seps, ':') ? "expected KIND=PATTERN"
						       : "expected KIND=ADDR[:PORT]");
		return -EINVAL;
	}
	if (n == 0 || n > NH_CAT_KIND_MAX) {
		set_why(why, "kind must be [a-z0-9_]{1,31}");
		return -EINVAL;
	}
	*klen = n;
	return (int)(p + n - spec);
}

/*
 * Skip the bracket expression opening at p[i] == '['. Returns the index
 * of its closing ']', or -EINVAL with *why. A '/' inside one never matches
 * under FNM_PATHNAME, and an unterminated '[' would silently be a literal:
 * both are refused rather than guessed at.
 */
static int skip_bracket(const char *p, size_t n, size_t i, const char **why)
{
	size_t j = i + 1;
	char close;

	if (j < n && (p[j] == '!' || p[j] == '^'))
		j++;
	if (j < n && p[j] == ']')
		j++; /* a leading ']' is a member */
	while (j < n && p[j] != ']') {
		if (p[j] == '/') {
			set_why(why, "'/' inside [...] never matches");
			return -EINVAL;
		}
		if (p[j] == '[' && j + 1 < n &&
		    (p[j + 1] == ':' || p[j + 1] == '.' || p[j + 1] == '=')) {
			/* [:class:], [.coll.], [=equiv=] */
			close = p[j + 1];
			for (j += 2; j + 1 < n && !(p[j] == close && p[j + 1] == ']'); j++) {
				if (p[j] == '/')
					break;
			}
			if (j + 1 >= n || p[j] != close) {
				set_why(why, "unterminated '[' in pattern");
				return -EINVAL;
			}
			j += 2;
			continue;
		}
		if (p[j] == '\\')
			j++;
		j++;
	}
	if (j >= n) {
		set_why(why, "unterminated '[' in pattern");
		return -EINVAL;
	}
	return (int)j;
}

/*
 * Check a pattern and fill the match-time fields of @r. The pattern is
 * p[0..n), not NUL-terminated.
 */
static int analyse_pattern(const char *p, size_t n, struct nh_cat_rule *r, const char **why)
{
	size_t i, seg_start, seps = 0;
	char *q = r->pattern;
	int end;

	if (n == 0) {
		set_why(why, "pattern is empty");
		return -EINVAL;
	}
	if (n > NH_CAT_PATTERN_MAX) {
		set_why(why, "pattern is longer than 255 bytes");
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) {
			set_why(why, "pattern has a control character");
			return -EINVAL;
		}
	}
	r->anchored = p[0] == '/';
	if (p[n - 1] == '/') {
		/* "DIR/": everything below DIR; "/" alone: every absolute path */
		if (!r->anchored) {
			set_why(why, "a pattern ending in '/' must be absolute");
			return -EINVAL;
		}
		if (n >= 2 && p[n - 2] == '/') {
			set_why(why, "pattern has an empty segment ('//')");
			return -EINVAL;
		}
		r->subtree = true;
		if (n > 1)
			n--;
	}
	memcpy(q, p, n);
	q[n] = '\0';
	r->len = (uint16_t)n;

	/* walk the segments: none empty, none ".", brackets closed, no "**" */
	seg_start = r->anchored ? 1 : 0;
	r->last_off = (uint16_t)seg_start;
	for (i = seg_start; i <= n; i++) {
		if (i == n || q[i] == '/') {
			if (i == seg_start && !(r->anchored && n == 1)) {
				set_why(why, "pattern has an empty segment ('//')");
				return -EINVAL;
			}
			if (i - seg_start == 1 && q[seg_start] == '.') {
				set_why(why, "pattern has a '.' segment (paths are normalised: it "
					     "never matches)");
				return -EINVAL;
			}
			if (i < n) {
				seps++;
				seg_start = i + 1;
				r->last_off = (uint16_t)seg_start;
			}
			continue;
		}
		if (q[i] == '\\') {
			if (i + 1 >= n) {
				set_why(why, "pattern ends with '\\'");
				return -EINVAL;
			}
			if (q[i + 1] == '/') {
				set_why(why, "'/' cannot be escaped");
				return -EINVAL;
			}
			i++;
		} else if (q[i] == '[') {
			end = skip_bracket(q, n, i, why);
			if (end < 0)
				return end;
			i = (size_t)end;
		} else if (q[i] == '*' && i + 1 < n && q[i + 1] == '*') {
			set_why(why, "'**' is not supported: '*' stops at '/'; end an absolute "
				     "pattern with '/' to match everything below it");
			return -EINVAL;
		}
	}
	if (r->anchored)
		r->nseg = (uint16_t)(n == 1 ? 0 : seps + 1);
	else
		r->nseg = (uint16_t)(seps + 1);

	r->lit_len = (uint16_t)strcspn(q, GLOB_META);
	/* literal head and tail of the last segment */
	r->head_len = (uint8_t)strcspn(q + r->last_off, GLOB_META);
	r->last_literal = r->head_len == n - r->last_off;
	if (r->last_literal) {
		r->tail_len = r->head_len;
	} else {
		for (i = n; i > r->last_off && !strchr(GLOB_META, q[i - 1]); i--)
			;
		r->tail_len = (uint8_t)(n - i);
	}
	return 0;
}

static bool same_rule(const struct nh_cat_rule *a, const struct nh_cat_rule *b)
{
	return a->kind == b->kind && a->exclude == b->exclude && a->subtree == b->subtree &&
	       strcmp(a->pattern, b->pattern) == 0;
}

static void index_bytes(uint64_t (*by)[NH_CAT_INDEX_WORDS], int byte, unsigned int bit)
{
	for (int b = 0; b < 256; b++)
		if (byte < 0 || b == byte)
			by[b][bit / 64] |= 1ull << (bit % 64);
}

/* Which last-segment first and last bytes rule r can match (-1: any), as
 * last_segment_fits checks them: a necessary condition only. A subtree
 * rule checks an inner segment, so it is tried on every path. */
static void index_rule(struct nh_catalogue *c, const struct nh_cat_rule *r, unsigned int bit)
{
	bool whole = r->subtree || r->nseg == 0;
	int first = -1, last = -1;

	if (!whole && r->head_len > 0)
		first = (unsigned char)r->pattern[r->last_off];
	if (!whole && (r->last_literal || r->tail_len > 0))
		last = (unsigned char)r->pattern[r->len - 1u];
	index_bytes(c->first, first, bit);
	index_bytes(c->last, last, bit);
}

static int add_rule(struct nh_catalogue *c, const char *spec, bool builtin, const char **why)
{
	struct nh_cat_rule r, *table;
	unsigned int *count, cap, i;
	const char *pat;
	size_t klen;
	bool excl;
	int off, k, err;

	if (!c || !spec) {
		set_why(why, "spec is missing");
		return -EINVAL;
	}
	memset(&r, 0, sizeof(r));
	off = parse_kind(spec, "=:", true, &excl, &klen, why);
	if (off < 0)
		return off;
	pat = spec + off + 1;
	err = analyse_pattern(pat, strnlen(pat, NH_CAT_PATTERN_MAX + 1), &r, why);
	if (err)
		return err;
	r.exclude = excl;

	table = builtin ? c->builtin : c->user;
	count = builtin ? &c->nbuiltin : &c->nuser;
	cap = builtin ? NH_CAT_BUILTIN_RULES : NH_CAT_MAX_RULES;
	if (spec[off - 1] == '*') {
		r.kind = NH_CAT_ANY_KIND;
	} else {
		/* no new kind for a rule that could not be stored anyway */
		k = find_kind(c, spec + off - klen, klen);
		if (k < 0 && *count >= cap) {
			set_why(why, "too many path rules");
			return -ENOSPC;
		}
		k = intern_kind(c, spec + off - klen, klen);
		if (k < 0) {
			set_why(why, "too many kinds");
			return k;
		}
		r.kind = (uint8_t)k;
	}
	for (i = 0; i < *count; i++) {
		if (same_rule(&table[i], &r))
			goto done;
	}
	if (*count >= cap) {
		set_why(why, "too many path rules");
		return -ENOSPC;
	}
	index_rule(c, &r, (builtin ? NH_CAT_MAX_RULES : 0) + *count);
	table[(*count)++] = r;
done:
	set_why(why, NULL);
	return 0;
}

int nh_catalogue_add_path(struct nh_catalogue *c, const char *spec, const char **why)
{
	return add_rule(c, spec, false, why);
}

/* "65535" at most, no sign, no leading zero, not 0. */
static int parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;
	size_t i;

	if (!s[0] || s[0] == '0' || strlen(s) > 5)
		return -EINVAL;
	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

/* An IPv4-mapped IPv6 address becomes the IPv4 one, so both spellings match alike. */
static void unmap(int *family, uint8_t addr[16])
{
	static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (*family == AF_INET6 && memcmp(addr, prefix, sizeof(prefix)) == 0) {
		memmove(addr, addr + 12, 4);
		memset(addr + 4, 0, 12);
		*family = AF_INET;
	}
}

static int parse_endpoint(const char *s, struct nh_cat_endpoint *ep, const char **why)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *end, *port = NULL, *colon;
	bool v6, bracketed = *s == '[';
	size_t hlen;

	if (!*s) {
		set_why(why, "address is empty");
		return -EINVAL;
	}
	if (bracketed) {
		end = strchr(s, ']');
		if (!end) {
			set_why(why, "unterminated '[' in address");
			return -EINVAL;
		}
		if (end[1] == ':')
			port = end + 2;
		else if (end[1]) {
			set_why(why, "expected ':PORT' after ']'");
			return -EINVAL;
		}
		s++;
		v6 = true;
	} else {
		colon = strchr(s, ':');
		v6 = colon && strchr(colon + 1, ':');
		end = v6 || !colon ? s + strlen(s) : colon;
		if (!v6 && colon)
			port = colon + 1;
	}
	hlen = (size_t)(end - s);
	if (hlen == 0) {
		set_why(why, "address is empty");
		return -EINVAL;
	}
	if (hlen >= sizeof(host)) {
		set_why(why, "not an IPv4 or IPv6 address");
		return -EINVAL;
	}
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	memset(ep->addr, 0, sizeof(ep->addr));
	ep->family = v6 ? AF_INET6 : AF_INET;
	if (inet_pton(ep->family, host, ep->addr) != 1) {
		set_why(why, bracketed ? "[...] must hold an IPv6 address"
				       : "not an IPv4 or IPv6 address");
		return -EINVAL;
	}
	unmap(&ep->family, ep->addr);
	ep->port = 0;
	if (port && parse_port(port, &ep->port)) {
		set_why(why, "port must be 1-65535");
		return -EINVAL;
	}
	return 0;
}

static int add_endpoint(struct nh_catalogue *c, const char *spec, bool builtin, const char **why)
{
	struct nh_cat_endpoint ep;
	unsigned int i;
	size_t klen;
	bool excl;
	int off, k, err;

	if (!c || !spec) {
		set_why(why, "spec is missing");
		return -EINVAL;
	}
	memset(&ep, 0, sizeof(ep));
	off = parse_kind(spec, "=", false, &excl, &klen, why);
	if (off < 0)
		return off;
	err = parse_endpoint(spec + off + 1, &ep, why);
	if (err)
		return err;
	ep.builtin = builtin;
	k = find_kind(c, spec + off - klen, klen);
	if (k < 0 && c->nendpoints >= NH_CAT_MAX_ENDPOINTS) {
		set_why(why, "too many endpoints");
		return -ENOSPC;
	}
	k = intern_kind(c, spec + off - klen, klen);
	if (k < 0) {
		set_why(why, "too many kinds");
		return k;
	}
	ep.kind = (uint8_t)k;
	for (i = 0; i < c->nendpoints; i++) {
		const struct nh_cat_endpoint *e = &c->endpoints[i];

		if (e->kind == ep.kind && e->family == ep.family && e->port == ep.port &&
		    memcmp(e->addr, ep.addr, sizeof(ep.addr)) == 0)
			goto done;
	}
	if (c->nendpoints >= NH_CAT_MAX_ENDPOINTS) {
		set_why(why, "too many endpoints");
		return -ENOSPC;
	}
	c->endpoints[c->nendpoints++] = ep;
done:
	set_why(why, NULL);
	return 0;
}

int nh_catalogue_add_endpoint(struct nh_catalogue *c, const char *spec, const char **why)
{
	return add_endpoint(c, spec, false, why);
}

int nh_catalogue_init(struct nh_catalogue *c)
{
	size_t i;
	int err;

	if (!c)
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	for (i = 0; i < ARRAY_SIZE(builtin_kinds); i++) {
		err = intern_kind(c, builtin_kinds[i], strlen(builtin_kinds[i]));
		if (err < 0)
			goto fail;
	}
	for (i = 0; i < ARRAY_SIZE(builtin_paths); i++) {
		err = add_rule(c, builtin_paths[i], true, NULL);
		if (err)
			goto fail;
	}
	for (i = 0; i < ARRAY_SIZE(builtin_endpoints); i++) {
		err = add_endpoint(c, builtin_endpoints[i], true, NULL);
		if (err)
			goto fail;
	}
	return 0;
fail:
	memset(c, 0, sizeof(*c));
	return -EINVAL;
}

void nh_catalogue_free(struct nh_catalogue *c)
{
	if (c)
		memset(c, 0, sizeof(*c));
}

void nh_catalogue_clear_endpoints(struct nh_catalogue *c, const char *kind)
{
	unsigned int i, kept = 0;
	int k = -1;

	if (!c)
		return;
	if (kind) {
		k = find_kind(c, kind, strlen(kind));
		if (k < 0)
			return;
	}
	for (i = 0; i < c->nendpoints; i++) {
		if (k >= 0 && c->endpoints[i].kind != k)
			c->endpoints[kept++] = c->endpoints[i];
	}
	c->nendpoints = kept;
}

/*
 * Lexical normalisation: collapse "//", drop "." segments and a trailing
 * '/'; ".." is kept. -ENAMETOOLONG past NH_CAT_PATH_MAX.
 */
static int normalise(const char *path, struct npath *np)
{
	size_t len = strnlen(path, NH_CAT_PATH_MAX + 1), i = 0, start, n, o = 0;

	if (len > NH_CAT_PATH_MAX)
		return -ENAMETOOLONG;
	np->nseg = 0;
	if (path[0] == '/')
		np->buf[o++] = '/';
	while (i < len) {
		while (i < len && path[i] == '/')
			i++;
		start = i;
		while (i < len && path[i] != '/')
			i++;
		n = i - start;
		if (n == 0 || (n == 1 && path[start] == '.'))
			continue;
		if (np->nseg > 0)
			np->buf[o++] = '/';
		np->seg[np->nseg++] = (uint16_t)o;
		memcpy(np->buf + o, path + start, n);
		o += n;
	}
	np->buf[o] = '\0';
	np->len = o;
	return 0;
}

/* Cheap necessary condition: the literal head and tail of the pattern's
 * last segment against path segment @idx. */
static bool last_segment_fits(const struct nh_cat_rule *r, const struct npath *np, unsigned int idx)
{
	const char *s = np->buf + np->seg[idx];
	size_t n = (idx + 1 < np->nseg ? np->seg[idx + 1] - 1u : np->len) - np->seg[idx];
	const char *last = r->pattern + r->last_off;

	if (r->last_literal)
		return n == r->head_len && memcmp(s, last, n) == 0;
	return n >= (size_t)r->head_len + r->tail_len && memcmp(s, last, r->head_len) == 0 &&
	       memcmp(s + n - r->tail_len, r->pattern + r->len - r->tail_len, r->tail_len) == 0;
}

/* fnmatch, after the cheap necessary condition that s starts with the
 * pattern's literal prefix (most anchored rules fail there). */
static bool glob_fits(const struct nh_cat_rule *r, const char *s)
{
	return strncmp(s, r->pattern, r->lit_len) == 0 && fnmatch(r->pattern, s, FNM_PATHNAME) == 0;
}

static bool rule_matches(const struct nh_cat_rule *r, struct npath *np)
{
	size_t cut;
	char saved;
	int rc;

	if (r->anchored) {
		if (np->buf[0] != '/')
			return false;
		if (r->subtree) {
			if (np->nseg <= r->nseg)
				return false;
			if (r->nseg == 0)
				return true; /* "/" */
		} else if (np->nseg != r->nseg) {
			return false;
		}
		if (r->nseg > 0 && !last_segment_fits(r, np, r->nseg - 1u))
			return false;
		if (!r->subtree)
			return glob_fits(r, np->buf);
		/* match the first nseg segments only: end the string there for a moment */
		cut = np->seg[r->nseg] - 1u;
		saved = np->buf[cut];
		np->buf[cut] = '\0';
		rc = glob_fits(r, np->buf) ? 0 : FNM_NOMATCH;
		np->buf[cut] = saved;
		return rc == 0;
	}
	if (np->nseg < r->nseg || !last_segment_fits(r, np, np->nseg - 1u))
		return false;
	return glob_fits(r, np->buf + np->seg[np->nseg - r->nseg]);
}

/*
 * The rules of the index that may match np, in the order they are tried:
 * the first that matches and is not an exclusion gives the kind; a
 * "!KIND=" exclusion that matches silences KIND's later rules, a "!*="
 * one ends the search.
 */
const char *nh_catalogue_match_path(const struct nh_catalogue *c, const char *path)
{
	const struct nh_cat_rule *r;
	uint64_t silenced = 0, cand;
	struct npath np;
	unsigned int w, bit;
	unsigned char b0, b1;

	if (!c || !path || normalise(path, &np) || np.nseg == 0)
		return NULL;
	b0 = (unsigned char)np.buf[np.seg[np.nseg - 1]];
	b1 = (unsigned char)np.buf[np.len - 1];
	for (w = 0; w < NH_CAT_INDEX_WORDS; w++) {
		cand = c->first[b0][w] & c->last[b1][w];
		while (cand) {
			bit = w * 64 + (unsigned int)__builtin_ctzll(cand);
			cand &= cand - 1;
			r = bit < NH_CAT_MAX_RULES ? &c->user[bit]
						   : &c->builtin[bit - NH_CAT_MAX_RULES];
			if (r->kind != NH_CAT_ANY_KIND && (silenced & (1ull << r->kind)))
				continue;
			if (!rule_matches(r, &np))
				continue;
			if (!r->exclude)
				return c->kinds[r->kind];
			if (r->kind == NH_CAT_ANY_KIND)
				return NULL;
			silenced |= 1ull << r->kind;
		}
	}
	return NULL;
}

const char *nh_catalogue_next_file_pattern(const struct nh_catalogue *c, unsigned int *iter,
					   bool *anchored)
{
	while (c && *iter < c->nuser + c->nbuiltin) {
		unsigned int i = (*iter)++;
		const struct nh_cat_rule *r =
		    i < c->nuser ? &c->user[i] : &c->builtin[i - c->nuser];

		if (r->exclude || r->subtree)
			continue;
		*anchored = r->anchored;
		return r->pattern;
	}
	return NULL;
}

const char *nh_catalogue_match_endpoint(const struct nh_catalogue *c, int family, const void *addr,
					uint16_t port)
{
	const struct nh_cat_endpoint *e;
	uint8_t a[16] = {0};
	unsigned int i, pass;

	if (!c || !addr)
		return NULL;
	if (family == AF_INET)
		memcpy(a, addr, 4);
	else if (family == AF_INET6)
		memcpy(a, addr, 16);
	else
		return NULL;
	unmap(&family, a);
	/* configured endpoints first, then the built-in ones */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < c->nendpoints; i++) {
			e = &c->endpoints[i];
			if (e->builtin != (pass == 1) || e->family != family ||
			    (e->port && e->port != port))
				continue;
			if (memcmp(e->addr, a, family == AF_INET ? 4 : 16) == 0)
				return c->kinds[e->kind];
		}
	}
	return NULL;
}
