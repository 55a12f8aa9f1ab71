/* SPDX-License-Identifier: Apache-2.0 */
/*
 * catalogue: which files and network endpoints are credentials, and of
 * which kind, so that opening such a file or connecting to such an
 * endpoint becomes a credential_use event. Pure code, no I/O, no
 * allocation: the agent passes paths and addresses.
 *
 * Kinds are strings matching [a-z0-9_]{1,31}, so configuration can add its
 * own. Built-in kinds: sa_token, aws_credentials, gcp_credentials,
 * azure_credentials, kubeconfig, ssh_private_key, tls_private_key, netrc,
 * pgpass, docker_config, vault_token, container_runtime_socket,
 * kubelet_socket (paths; sockets also by inode, sockets.h), cloud_metadata (endpoints:
 * 169.254.169.254 and fd00:ec2::254, any port) and kube_apiserver (no
 * default endpoint: the agent adds it from its environment).
 *
 * Path rules, written "KIND=PATTERN" ("KIND:PATTERN" is accepted too:
 * a kind can hold neither character, so the first one ends it):
 *   - the path is first normalised lexically: "//" collapses, "."
 *     segments and a trailing '/' go, ".." stays as it is (nothing is
 *     resolved; the kernel saw what the process asked for);
 *   - a pattern starting with '/' must match the whole path;
 *   - any other pattern matches the last segments of the path, as many as
 *     the pattern has, so ".aws/credentials" matches "/root/.aws/credentials"
 *     and the relative ".aws/credentials" but not "/x/my.aws/credentials";
 *   - '*', '?' and '[...]' match within one segment (fnmatch(3) with
 *     FNM_PATHNAME and without FNM_PERIOD, so "..?*" matches the kubelet's
 *     "..data" and "..2024_01_01_..." directories); '\' escapes;
 *   - an absolute pattern ending in '/' matches everything below it:
 *     "/usr/share/" matches "/usr/share/a/b.key" but not "/usr/share";
 *     "**" is refused, since '*' never crosses a '/'.
 * A leading '!' makes an exclusion, "!KIND=PATTERN": a path it matches is
 * no longer of that KIND for the rules after it. "!*=PATTERN" silences
 * every kind. Rules are tried in order, configured ones (in the order they
 * were added) before the built-in ones; the first rule that matches and is
 * not silenced by an earlier exclusion gives the kind. So
 * "!tls_private_key=/opt/app/testdata/" silences a built-in match below
 * that directory, and "vault_token=/etc/vault/token" is reported even
 * where a built-in rule would say something else.
 *
 * Endpoint rules, written "KIND=ADDR", "KIND=ADDR:PORT", "KIND=V6",
 * "KIND=[V6]" or "KIND=[V6]:PORT" ('=' only: IPv6 holds ':'); ADDR is an
 * IPv4 or IPv6 literal (inet_pton, no names, no "%scope"), no port means
 * any port. An IPv4-mapped IPv6 address (::ffff:a.b.c.d), in a rule or in
 * a lookup, is taken as the IPv4 address. Configured endpoints are tried
 * before built-in ones; there are no endpoint exclusions, use
 * nh_catalogue_clear_endpoints instead.
 *
 * The matchers only read the catalogue: one catalogue may be shared by
 * threads once it is built.
 */
#ifndef NH_CATALOGUE_H
#define NH_CATALOGUE_H

#include <stdbool.h>
#include <stdint.h>

#define NH_CAT_KIND_MAX	     31	  /* longest kind name */
#define NH_CAT_PATTERN_MAX   255  /* longest path pattern, in bytes */
#define NH_CAT_PATH_MAX	     4096 /* longer paths never match */
#define NH_CAT_MAX_RULES     256  /* configured path rules */
#define NH_CAT_BUILTIN_RULES 96	  /* room for the built-in path rules */
#define NH_CAT_MAX_ENDPOINTS 64	  /* endpoints, built-in ones included */
#define NH_CAT_MAX_KINDS     64	  /* distinct kinds, built-in ones included */
#define NH_CAT_ANY_KIND	     0xff /* kind of a "!*=..." exclusion */

struct nh_cat_rule {
	char pattern[NH_CAT_PATTERN_MAX + 1]; /* without the subtree's final '/' */
	uint8_t kind;			      /* index in kinds[], or NH_CAT_ANY_KIND */
	bool exclude;			      /* "!KIND=..." */
	bool anchored;			      /* starts with '/' */
	bool subtree;			      /* absolute, ended in '/' */
	uint16_t len;			      /* strlen(pattern) */
	uint16_t nseg;			      /* segments the pattern spans */
	/* literal head and tail of the last segment, to skip fnmatch cheaply */
	uint8_t head_len;
	uint8_t tail_len;
	bool last_literal; /* the last segment has no wildcard at all */
	uint16_t last_off; /* where the last segment starts in pattern */
	uint16_t lit_len;  /* the pattern's literal prefix, before any glob character */
};

struct nh_cat_endpoint {
	uint8_t kind;
	bool builtin;
	int family; /* AF_INET or AF_INET6; mapped addresses are stored as AF_INET */
	uint8_t addr[16];
	uint16_t port; /* host order; 0: any */
};

/*
 * About 120 KiB: allocate it statically or on the heap, not on a small
 * thread stack. Fields are internal; use the functions.
 */
/* Rule bits: configured rule i is bit i, built-in rule j bit
 * NH_CAT_MAX_RULES + j, so ascending bits are the order rules are tried. */
#define NH_CAT_INDEX_WORDS ((NH_CAT_MAX_RULES + NH_CAT_BUILTIN_RULES + 63) / 64)

struct nh_catalogue {
	/* The rules that can match a path whose last segment starts (first)
	 * and ends (last) with a byte: a path is tried against the few rules
	 * in first[b] & last[e], not all of them. */
	uint64_t first[256][NH_CAT_INDEX_WORDS];
	uint64_t last[256][NH_CAT_INDEX_WORDS];
	unsigned int nkinds;
	char kinds[NH_CAT_MAX_KINDS][NH_CAT_KIND_MAX + 1];
	unsigned int nuser;
	struct nh_cat_rule user[NH_CAT_MAX_RULES];
	unsigned int nbuiltin;
	struct nh_cat_rule builtin[NH_CAT_BUILTIN_RULES];
	unsigned int nendpoints;
	struct nh_cat_endpoint endpoints[NH_CAT_MAX_ENDPOINTS];
};

/* Fill *c with the built-in rules and endpoints. 0, or -EINVAL if the
 * built-in table itself is broken (a bug, caught by the unit test). */
int nh_catalogue_init(struct nh_catalogue *c);
/* Nothing is allocated; this zeroes *c so a stale catalogue matches nothing.
 * A zeroed catalogue is valid: empty, no built-in rules or endpoints. */
void nh_catalogue_free(struct nh_catalogue *c);

/*
 * Add a configured path rule (see above), tried after the configured rules
 * already added and before every built-in one. Adding a rule that is
 * already there is a no-op. 0, -EINVAL or -ENOSPC (too many rules or
 * kinds); on error *why (may be NULL) names the problem, e.g. "kind must
 * be [a-z0-9_]{1,31}" or "pattern is empty".
 */
int nh_catalogue_add_path(struct nh_catalogue *c, const char *spec, const char **why);

/* Add a configured endpoint (see above). 0, -EINVAL or -ENOSPC with *why. */
int nh_catalogue_add_endpoint(struct nh_catalogue *c, const char *spec, const char **why);

/* Drop every endpoint (built-in and configured) of @kind, or all endpoints
 * when @kind is NULL, e.g. before --metadata-endpoint adds its own. */
void nh_catalogue_clear_endpoints(struct nh_catalogue *c, const char *kind);

/* Kind of a path, NULL when it is not a credential. The string lives as
 * long as the catalogue. */
const char *nh_catalogue_match_path(const struct nh_catalogue *c, const char *path);

/* The path rules that name files (neither exclusions nor "DIR/" subtree
 * rules), configured ones first, for finding the files they name
 * (credinodes.h). *iter starts at 0; NULL at the end. *anchored: the
 * pattern is absolute, else it matches the last segments of a path. */
const char *nh_catalogue_next_file_pattern(const struct nh_catalogue *c, unsigned int *iter,
					   bool *anchored);

/*
 * Kind of an endpoint, NULL when it is not a credential. family is AF_INET
 * (addr: 4 bytes) or AF_INET6 (addr: 16 bytes), network order; port is in
 * host order.
 */
const char *nh_catalogue_match_endpoint(const struct nh_catalogue *c, int family, const void *addr,
					uint16_t port);

#endif
