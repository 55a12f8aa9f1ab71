/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for agent/catalogue.c: built-in kinds, rule semantics, specs, endpoints. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "catalogue.h"
#include "check.h"

/* ~100 KiB each: static, as the header asks */
static struct nh_catalogue cat, cat2;

static void expect_kind(int line, const struct nh_catalogue *c, const char *path, const char *kind)
{
	const char *got = nh_catalogue_match_path(c, path);

	if (kind ? !got || strcmp(got, kind) != 0 : got != NULL) {
		nh_tally.failed++;
		fprintf(stderr, "FAIL line %d: %s -> %s, want %s\n", line, path, got ? got : "NULL",
			kind ? kind : "NULL");
	} else {
		nh_tally.passed++;
	}
}

#define KIND(path, kind) expect_kind(__LINE__, &cat, path, kind)
#define NOT(path)	 expect_kind(__LINE__, &cat, path, NULL)

/* -EINVAL (or @err) with a reason that contains @sub. */
static void expect_bad(int line, int (*add)(struct nh_catalogue *, const char *, const char **),
		       const char *spec, int err, const char *sub)
{
	const char *why = NULL;
	int rc = add(&cat2, spec, &why);

	if (rc != err || !why || !strstr(why, sub)) {
		nh_tally.failed++;
		fprintf(stderr, "FAIL line %d: \"%s\" -> %d (%s), want %d (%s)\n", line,
			spec ? spec : "(null)", rc, why ? why : "no why", err, sub);
	} else {
		nh_tally.passed++;
	}
}

#define BAD_PATH(spec, sub) expect_bad(__LINE__, nh_catalogue_add_path, spec, -EINVAL, sub)
#define BAD_EP(spec, sub)   expect_bad(__LINE__, nh_catalogue_add_endpoint, spec, -EINVAL, sub)

static const char *ep4(const struct nh_catalogue *c, const char *a, uint16_t port)
{
	uint8_t addr[4];

	if (inet_pton(AF_INET, a, addr) != 1)
		return "bad test address";
	return nh_catalogue_match_endpoint(c, AF_INET, addr, port);
}

static const char *ep6(const struct nh_catalogue *c, const char *a, uint16_t port)
{
	uint8_t addr[16];

	if (inet_pton(AF_INET6, a, addr) != 1)
		return "bad test address";
	return nh_catalogue_match_endpoint(c, AF_INET6, addr, port);
}

static int add(struct nh_catalogue *c, const char *spec)
{
	const char *why = "unset";
	int rc = nh_catalogue_add_path(c, spec, &why);

	if (rc)
		fprintf(stderr, "  add_path(%s): %d %s\n", spec, rc, why ? why : "");
	return rc;
}

static int add_ep(struct nh_catalogue *c, const char *spec)
{
	const char *why = "unset";
	int rc = nh_catalogue_add_endpoint(c, spec, &why);

	if (rc)
		fprintf(stderr, "  add_endpoint(%s): %d %s\n", spec, rc, why ? why : "");
	return rc;
}

static void test_sa_token(void)
{
	KIND("/var/run/secrets/kubernetes.io/serviceaccount/token", "sa_token");
	KIND("/run/secrets/kubernetes.io/serviceaccount/token", "sa_token");
	KIND("/var/run/secrets/kubernetes.io/serviceaccount/..data/token", "sa_token");
	KIND("/var/run/secrets/kubernetes.io/serviceaccount/..2024_01_15_10_30_00.123456789/token",
	     "sa_token");
	KIND("/run/secrets/kubernetes.io/serviceaccount/..data/token", "sa_token");
	KIND("//var/run/secrets//kubernetes.io/./serviceaccount/token", "sa_token");
	KIND("/var/run/./secrets/kubernetes.io/serviceaccount/./..data//token", "sa_token");
	KIND("/var/run/secrets/tokens/vault-token", "sa_token");
	KIND("/run/secrets/tokens/istio-token", "sa_token");
	KIND("/var/run/secrets/tokens/..data/vault-token", "sa_token");
	KIND("/var/run/secrets/tokens/..2024_01_15_10_30_00.1/vault-token", "sa_token");
	/* the rest of the service-account volume is not a credential */
	NOT("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
	NOT("/var/run/secrets/kubernetes.io/serviceaccount/namespace");
	NOT("/var/run/secrets/kubernetes.io/serviceaccount");
	NOT("/var/run/secrets/kubernetes.io/serviceaccount/..data");
	/* ".." is not resolved, and is not one of the kubelet's ".." directories */
	NOT("/var/run/secrets/kubernetes.io/serviceaccount/../token");
	NOT("/var/run/secrets/kubernetes.io/serviceaccount/token/..");
	/* the projected volume's own directories */
	NOT("/var/run/secrets/tokens/..data");
	NOT("/var/run/secrets/tokens/..2024_01_15_10_30_00.1");
	NOT("/var/run/secrets/tokens/..");
	NOT("/var/run/secrets/tokens");
	/* absolute patterns need absolute paths */
	NOT("var/run/secrets/kubernetes.io/serviceaccount/token");
	NOT("/host/var/run/secrets/kubernetes.io/serviceaccount/token");
	NOT("token");
}

static void test_cloud(void)
{
	KIND("/root/.aws/credentials", "aws_credentials");
	KIND(".aws/credentials", "aws_credentials");
	KIND("./.aws/credentials", "aws_credentials");
	KIND("/home/app//.aws/./credentials", "aws_credentials");
	KIND("/root/.aws/credentials/", "aws_credentials");
	KIND("/root/.aws/../.aws/credentials", "aws_credentials");
	KIND("/home/app/.aws/config", "aws_credentials");
	KIND("/home/app/.aws/sso/cache/0a1b2c3d4e5f.json", "aws_credentials");
	KIND("/home/app/.aws/cli/cache/5b1c.json", "aws_credentials");
	KIND("/var/run/secrets/eks.amazonaws.com/serviceaccount/token", "aws_credentials");
	KIND("/var/run/secrets/eks.amazonaws.com/serviceaccount/..data/token", "aws_credentials");
	KIND("/run/secrets/eks.amazonaws.com/serviceaccount/token", "aws_credentials");
	NOT("/x/my.aws/credentials");
	NOT("my.aws/credentials");
	NOT("credentials");
	NOT("/root/credentials");
	NOT("/root/.aws");
	NOT("/root/.aws/credentials.bak");
	NOT("/root/.aws/credentials/..");
	NOT("/home/app/.aws/sso/cache/x.txt");
	NOT("/home/app/.aws/sso/cache/sub/x.json");
	NOT("/home/app/.aws/cli/cache");
	NOT("/var/run/secrets/eks.amazonaws.com/serviceaccount/ca.crt");

	KIND("/root/.config/gcloud/application_default_credentials.json", "gcp_credentials");
	KIND(".config/gcloud/application_default_credentials.json", "gcp_credentials");
	KIND("/home/ci/.config/gcloud/credentials.db", "gcp_credentials");
	KIND("/home/ci/.config/gcloud/access_tokens.db", "gcp_credentials");
	KIND("/home/ci/.config/gcloud/legacy_credentials/ci@proj.iam.gserviceaccount.com/adc.json",
	     "gcp_credentials");
	NOT("/home/ci/.config/gcloud/configurations/config_default");
	NOT("/home/ci/.config/gcloud/legacy_credentials/adc.json");
	NOT("/home/ci/gcloud/credentials.db");

	KIND("/home/az/.azure/accessTokens.json", "azure_credentials");
	KIND("/home/az/.azure/msal_token_cache.json", "azure_credentials");
	KIND("/home/az/.azure/msal_token_cache.bin", "azure_credentials");
	KIND(".azure/service_principal_entries.json", "azure_credentials");
	NOT("/home/az/.azure/azureProfile.json");
	NOT("/home/az/.azure/accesstokens.json"); /* case matters */
}

static void test_kube_ssh_tls(void)
{
	KIND("/root/.kube/config", "kubeconfig");
	KIND(".kube/config", "kubeconfig");
	KIND("/etc/kubernetes/admin.conf", "kubeconfig");
	KIND("/etc/kubernetes/super-admin.conf", "kubeconfig");
	KIND("/etc/kubernetes/kubelet.conf", "kubeconfig");
	KIND("/etc/kubernetes/controller-manager.conf", "kubeconfig");
	KIND("/etc/kubernetes/scheduler.conf", "kubeconfig");
	KIND("/etc/kubernetes/bootstrap-kubelet.conf", "kubeconfig");
	KIND("/var/lib/kubelet/kubeconfig", "kubeconfig");
	KIND("/srv/ci/prod.kubeconfig", "kubeconfig");
	KIND("prod.kubeconfig", "kubeconfig");
	NOT("/etc/kubernetes/admin.conf.bak");
	NOT("/etc/kubernetes/manifests/kube-apiserver.yaml");
	NOT("/root/.kube/cache/discovery/x.json");
	NOT("/root/kube/config");
	NOT("/root/.kube");
	NOT("kubeconfig");

	KIND("/root/.ssh/id_rsa", "ssh_private_key");
	KIND("/home/git/.ssh/id_ed25519", "ssh_private_key");
	KIND(".ssh/id_ecdsa", "ssh_private_key");
	KIND("/home/git//.ssh/./id_ed25519_sk", "ssh_private_key");
	KIND("/etc/ssh/ssh_host_ed25519_key", "ssh_private_key");
	KIND("/etc/ssh/ssh_host_rsa_key", "ssh_private_key");
	NOT("/root/.ssh/id_rsa.pub");
	NOT(".ssh/id_ed25519.pub");
	NOT("/root/.ssh/id_rsa-cert.pub");
	NOT("/root/.ssh/known_hosts");
	NOT("/root/.ssh/authorized_keys");
	NOT("/root/.ssh/config");
	NOT("/etc/ssh/ssh_host_rsa_key.pub");
	NOT("/etc/ssh/sshd_config");
	NOT("/root/ssh/id_rsa");

	KIND("/etc/ssl/private/ssl-cert-snakeoil.key", "tls_private_key");
	KIND("/etc/ssl/private/server.pem", "tls_private_key");
	KIND("/etc/pki/tls/private/localhost.key", "tls_private_key");
	KIND("/etc/kubernetes/pki/apiserver.key", "tls_private_key");
	KIND("/etc/kubernetes/pki/etcd/server.key", "tls_private_key");
	KIND("/var/lib/kubelet/pki/kubelet.key", "tls_private_key");
	KIND("/var/lib/kubelet/pki/kubelet-client-current.pem", "tls_private_key");
	KIND("server.key", "tls_private_key");
	KIND("/srv/app/tls/tls-key.pem", "tls_private_key");
	KIND("/srv/app/tls/server_key.pem", "tls_private_key");
	KIND("/etc/letsencrypt/archive/example.org/privkey3.pem", "tls_private_key");
	KIND("/etc/letsencrypt/live/example.org/privkey.pem", "tls_private_key");
	KIND("//etc//ssl/./private//x", "tls_private_key");
	NOT("/etc/ssl/certs/ca.pem");
	NOT("/etc/ssl/certs/ca-certificates.crt");
	NOT("/etc/kubernetes/pki/ca.crt");
	NOT("/var/lib/kubelet/pki/kubelet.crt");
	NOT("/srv/app/tls/cert.pem");
	NOT("/srv/app/keyring.pem");
	NOT("/srv/app/x.key.bak");
	NOT("/etc/ssl/private");
	NOT("/etc/ssl/private/");
	NOT("/etc/letsencrypt/live/example.org/fullchain.pem");
}

static void test_misc_files(void)
{
	KIND("/root/.netrc", "netrc");
	KIND(".netrc", "netrc");
	KIND("C/Users/x/_netrc", "netrc");
	KIND("/var/lib/postgresql/.pgpass", "pgpass");
	KIND(".pgpass", "pgpass");
	KIND("/root/.docker/config.json", "docker_config");
	KIND(".docker/config.json", "docker_config");
	KIND("/root/.vault-token", "vault_token");
	KIND(".vault-token", "vault_token");
	NOT("/root/.netrc.bak");
	NOT("/root/netrc");
	NOT("/root/.docker/daemon.json");
	NOT("/etc/docker/config.json");
	NOT("/root/config.json");
	NOT("/root/vault-token");

	/* things that are not paths at all */
	NOT("");
	NOT("/");
	NOT(".");
	NOT("//");
	NOT("/./.");
	CHECK(nh_catalogue_match_path(&cat, NULL) == NULL);
	CHECK(nh_catalogue_match_path(NULL, "/root/.netrc") == NULL);
}

static void test_long_paths(void)
{
	static char buf[NH_CAT_PATH_MAX + 64];
	const char *tail = "/.aws/credentials";
	size_t n = NH_CAT_PATH_MAX - strlen(tail);

	/* exactly NH_CAT_PATH_MAX bytes: matched */
	memset(buf, 'a', n);
	buf[0] = '/';
	strcpy(buf + n, tail);
	CHECK(strlen(buf) == NH_CAT_PATH_MAX);
	KIND(buf, "aws_credentials");
	/* one more: never matched (the kernel side flags such paths as truncated) */
	memset(buf, 'a', n + 1);
	buf[0] = '/';
	strcpy(buf + n + 1, tail);
	NOT(buf);
	/* many short segments */
	for (n = 0; n + 2 < NH_CAT_PATH_MAX - 20; n += 2)
		memcpy(buf + n, "/a", 2);
	strcpy(buf + n, "/.ssh/id_rsa");
	KIND(buf, "ssh_private_key");
	/* all slashes and dots collapse to nothing */
	for (n = 0; n < NH_CAT_PATH_MAX; n++)
		buf[n] = n % 2 ? '.' : '/';
	buf[n] = '\0';
	NOT(buf);
}

static void test_user_rules(void)
{
	struct nh_catalogue *c = &cat2;

	CHECK(nh_catalogue_init(c) == 0);
	/* a new kind, both separators */
	CHECK(add(c, "vault_token=/etc/vault/token") == 0);
	CHECK(add(c, "app_secret:/srv/app/secret.bin") == 0);
	expect_kind(__LINE__, c, "/etc/vault/token", "vault_token");
	expect_kind(__LINE__, c, "/srv/app/secret.bin", "app_secret");
	expect_kind(__LINE__, c, "/srv/app/secret.bin.old", NULL);
	/* configured rules precede built-in ones */
	expect_kind(__LINE__, c, "/root/.aws/credentials", "aws_credentials");
	CHECK(add(c, "localstack_creds=/root/.aws/credentials") == 0);
	expect_kind(__LINE__, c, "/root/.aws/credentials", "localstack_creds");
	expect_kind(__LINE__, c, "/home/u/.aws/credentials", "aws_credentials");
	/* ... and one another in the order added */
	CHECK(add(c, "first=*.secret") == 0);
	CHECK(add(c, "second=/data/*.secret") == 0);
	expect_kind(__LINE__, c, "/data/x.secret", "first");
	/* adding the same rule again changes nothing */
	CHECK(add(c, "first=*.secret") == 0);
	CHECK(c->nuser == 5);

	/* wildcards: ?, [...], classes, negation, escapes */
	CHECK(add(c, "bin_key=/etc/app/key[0-9].bin") == 0);
	CHECK(add(c, "tok=token?") == 0);
	CHECK(add(c, "cls=/opt/[[:digit:]][!a]x") == 0);
	CHECK(add(c, "lit=/opt/star\\*") == 0);
	expect_kind(__LINE__, c, "/etc/app/key5.bin", "bin_key");
	expect_kind(__LINE__, c, "/etc/app/keyx.bin", NULL);
	expect_kind(__LINE__, c, "/a/token1", "tok");
	expect_kind(__LINE__, c, "token1", "tok");
	expect_kind(__LINE__, c, "/a/token", NULL);
	expect_kind(__LINE__, c, "/a/token12", NULL);
	expect_kind(__LINE__, c, "/opt/7bx", "cls");
	expect_kind(__LINE__, c, "/opt/7ax", NULL);
	expect_kind(__LINE__, c, "/opt/star*", "lit");
	expect_kind(__LINE__, c, "/opt/starx", NULL);
	/* '*' never crosses '/' */
	CHECK(add(c, "one=/srv/keys/*") == 0);
	expect_kind(__LINE__, c, "/srv/keys/a", "one");
	expect_kind(__LINE__, c, "/srv/keys/a/b", NULL);
	/* DIR/ is the whole subtree, not DIR itself */
	CHECK(add(c, "tree=/srv/vault/") == 0);
	expect_kind(__LINE__, c, "/srv/vault/a", "tree");
	expect_kind(__LINE__, c, "/srv/vault/a/b/c", "tree");
	expect_kind(__LINE__, c, "/srv/vault//a/./b", "tree");
	expect_kind(__LINE__, c, "/srv/vault", NULL);
	expect_kind(__LINE__, c, "/srv/vaultx/a", NULL);
	expect_kind(__LINE__, c, "srv/vault/a", NULL);
	CHECK(add(c, "wtree=/home/*/.secrets/") == 0);
	expect_kind(__LINE__, c, "/home/bob/.secrets/x/y", "wtree");
	expect_kind(__LINE__, c, "/home/bob/x/.secrets/y", NULL);
	nh_catalogue_free(c);
	expect_kind(__LINE__, c, "/etc/vault/token", NULL);
	expect_kind(__LINE__, c, "/root/.aws/credentials", NULL);
}

static void test_exclusions(void)
{
	struct nh_catalogue *c = &cat2;

	CHECK(nh_catalogue_init(c) == 0);
	/* silence a built-in kind below a directory */
	CHECK(add(c, "!tls_private_key=/opt/app/testdata/") == 0);
	expect_kind(__LINE__, c, "/opt/app/testdata/server.key", NULL);
	expect_kind(__LINE__, c, "/opt/app/testdata/a/b/server.key", NULL);
	expect_kind(__LINE__, c, "/opt/app/other/server.key", "tls_private_key");
	/* the same with ':' and a wildcard */
	CHECK(add(c, "!kubeconfig:/usr/share/*/*.kubeconfig") == 0);
	expect_kind(__LINE__, c, "/usr/share/doc/x.kubeconfig", NULL);
	expect_kind(__LINE__, c, "/usr/share/x.kubeconfig", "kubeconfig");
	/* an exclusion silences its kind only: a later rule of another kind still matches */
	CHECK(add(c, "!tls_private_key=*.key") == 0);
	expect_kind(__LINE__, c, "/srv/a.key", NULL);
	CHECK(add(c, "custom_key=*.key") == 0);
	expect_kind(__LINE__, c, "/srv/a.key", "custom_key");
	/* ... and only the rules after it: an earlier positive rule wins */
	CHECK(add(c, "mine=/x/secret") == 0);
	CHECK(add(c, "!mine=/x/secret") == 0);
	expect_kind(__LINE__, c, "/x/secret", "mine");
	/* a path silenced for its first kind falls through to nothing */
	CHECK(add(c, "!ssh_private_key=/root/.ssh/id_test") == 0);
	expect_kind(__LINE__, c, "/root/.ssh/id_test", NULL);
	expect_kind(__LINE__, c, "/root/.ssh/id_rsa", "ssh_private_key");
	/* "!*" silences every kind */
	CHECK(add(c, "!*=/usr/local/share/") == 0);
	expect_kind(__LINE__, c, "/usr/local/share/a/.aws/credentials", NULL);
	expect_kind(__LINE__, c, "/usr/local/share/x.kubeconfig", NULL);
	expect_kind(__LINE__, c, "/usr/local/x.kubeconfig", "kubeconfig");
	/* an exclusion of a kind nobody uses yet is accepted (rules may come later) */
	CHECK(add(c, "!not_yet_used=/x") == 0);
	/* "!*=/" silences every absolute path, relative ones still match */
	CHECK(add(c, "!*=/") == 0);
	expect_kind(__LINE__, c, "/root/.aws/credentials", NULL);
	expect_kind(__LINE__, c, ".aws/credentials", "aws_credentials");
	nh_catalogue_free(c);
}

static void test_bad_path_specs(void)
{
	char longp[NH_CAT_PATTERN_MAX + 16];

	CHECK(nh_catalogue_init(&cat2) == 0);
	BAD_PATH(NULL, "missing");
	BAD_PATH("", "expected KIND=PATTERN");
	BAD_PATH("vault_token", "expected KIND=PATTERN");
	BAD_PATH("/etc/vault/token", "expected KIND=PATTERN");
	BAD_PATH("=x", "kind must be");
	BAD_PATH(":x", "kind must be");
	BAD_PATH("Vault=/x", "kind must be");
	BAD_PATH("vault-token=/x", "kind must be");
	BAD_PATH("vault token=/x", "kind must be");
	BAD_PATH("abcdefghijklmnopqrstuvwxyz_01234=/x", "kind must be");
	BAD_PATH("!=x", "kind must be");
	BAD_PATH("!Foo=x", "kind must be");
	BAD_PATH("*=/x", "only allowed in an exclusion");
	BAD_PATH("!*", "only allowed in an exclusion");
	BAD_PATH("!**=x", "only allowed in an exclusion");
	BAD_PATH("k=", "pattern is empty");
	BAD_PATH("!k=", "pattern is empty");
	BAD_PATH("k=a//b", "empty segment");
	BAD_PATH("k=/a//", "empty segment");
	BAD_PATH("k=//", "empty segment");
	BAD_PATH("k=./a", "'.' segment");
	BAD_PATH("k=a/./b", "'.' segment");
	BAD_PATH("k=/a/.", "'.' segment");
	BAD_PATH("k=a/", "must be absolute");
	BAD_PATH("k=**/x", "'**' is not supported");
	BAD_PATH("k=/a/**", "'**' is not supported");
	BAD_PATH("k=/a/b**c", "'**' is not supported");
	BAD_PATH("k=[abc", "unterminated '['");
	BAD_PATH("k=/a/[]", "unterminated '['");
	BAD_PATH("k=[[:alpha:]", "unterminated '['");
	BAD_PATH("k=[[:alpha]", "unterminated '['");
	BAD_PATH("k=a[b/c]d", "'/' inside [...]");
	BAD_PATH("k=a\\", "ends with '\\'");
	BAD_PATH("k=a\\/b", "cannot be escaped");
	BAD_PATH("k=/a\tb", "control character");
	BAD_PATH("k=/a\x7f", "control character");
	memset(longp, 0, sizeof(longp));
	memcpy(longp, "k=/", 3);
	memset(longp + 3, 'a', NH_CAT_PATTERN_MAX);
	BAD_PATH(longp, "longer than 255");
	/* 255 bytes is fine */
	longp[2 + NH_CAT_PATTERN_MAX] = '\0';
	CHECK(add(&cat2, longp) == 0);
	/* brackets that are fine: a leading ']' is a member, escapes inside */
	CHECK(add(&cat2, "k=/a/[]x]") == 0);
	CHECK(add(&cat2, "k=/a/[!]]") == 0);
	CHECK(add(&cat2, "k=/a/[\\]]y") == 0);
	expect_kind(__LINE__, &cat2, "/a/]", "k");
	expect_kind(__LINE__, &cat2, "/a/]y", "k");
	/* the why is optional */
	CHECK(nh_catalogue_add_path(&cat2, "bad kind=x", NULL) == -EINVAL);
	CHECK(nh_catalogue_add_path(NULL, "k=x", NULL) == -EINVAL);
	nh_catalogue_free(&cat2);
}

static void test_capacity(void)
{
	char spec[64];
	const char *why;
	unsigned int i, base;
	int rc;

	/* rules */
	CHECK(nh_catalogue_init(&cat2) == 0);
	for (i = 0; i < NH_CAT_MAX_RULES; i++) {
		snprintf(spec, sizeof(spec), "k=/r/%u", i);
		if (add(&cat2, spec))
			break;
	}
	CHECK(i == NH_CAT_MAX_RULES);
	why = NULL;
	CHECK(nh_catalogue_add_path(&cat2, "k=/r/full", &why) == -ENOSPC);
	CHECK(why && strstr(why, "too many path rules"));
	/* a full table does not take a new kind either */
	base = cat2.nkinds;
	CHECK(nh_catalogue_add_path(&cat2, "newkind=/r/full", &why) == -ENOSPC);
	CHECK(cat2.nkinds == base);
	/* a duplicate is still fine */
	CHECK(nh_catalogue_add_path(&cat2, "k=/r/7", &why) == 0);
	/* everything still matches */
	expect_kind(__LINE__, &cat2, "/r/255", "k");
	expect_kind(__LINE__, &cat2, "/root/.netrc", "netrc");

	/* kinds */
	CHECK(nh_catalogue_init(&cat2) == 0);
	base = cat2.nkinds;
	for (i = base; i < NH_CAT_MAX_KINDS; i++) {
		snprintf(spec, sizeof(spec), "kind_%u=/k/%u", i, i);
		if (add(&cat2, spec))
			break;
	}
	CHECK(i == NH_CAT_MAX_KINDS);
	why = NULL;
	CHECK(nh_catalogue_add_path(&cat2, "one_too_many=/k/x", &why) == -ENOSPC);
	CHECK(why && strstr(why, "too many kinds"));
	CHECK(nh_catalogue_add_endpoint(&cat2, "one_too_many=10.0.0.1", &why) == -ENOSPC);
	CHECK(why && strstr(why, "too many kinds"));
	/* existing kinds still take rules */
	CHECK(add(&cat2, "kind_20=/k/more") == 0);
	expect_kind(__LINE__, &cat2, "/k/more", "kind_20");
	snprintf(spec, sizeof(spec), "/k/%u", NH_CAT_MAX_KINDS - 1);
	snprintf(spec + 32, 32, "kind_%u", NH_CAT_MAX_KINDS - 1);
	expect_kind(__LINE__, &cat2, spec, spec + 32);

	/* endpoints */
	CHECK(nh_catalogue_init(&cat2) == 0);
	base = cat2.nendpoints;
	CHECK(base == 2);
	for (i = base; i < NH_CAT_MAX_ENDPOINTS; i++) {
		snprintf(spec, sizeof(spec), "kube_apiserver=10.0.0.%u:443", i);
		if (add_ep(&cat2, spec))
			break;
	}
	CHECK(i == NH_CAT_MAX_ENDPOINTS);
	why = NULL;
	rc = nh_catalogue_add_endpoint(&cat2, "kube_apiserver=10.0.1.1", &why);
	CHECK(rc == -ENOSPC);
	CHECK(why && strstr(why, "too many endpoints"));
	CHECK(nh_catalogue_add_endpoint(&cat2, "kube_apiserver=10.0.0.9:443", &why) == 0);
	CHECK_STR(ep4(&cat2, "10.0.0.63", 443), "kube_apiserver");
	/* clearing makes room again */
	nh_catalogue_clear_endpoints(&cat2, "kube_apiserver");
	CHECK(cat2.nendpoints == 2);
	CHECK(add_ep(&cat2, "kube_apiserver=10.0.1.1") == 0);
	nh_catalogue_free(&cat2);
}

static void test_endpoints(void)
{
	static const uint8_t v4[4] = {169, 254, 169, 254};
	static const uint8_t mapped[16] = {0, 0, 0,    0,    0,	  0,   0,   0,
					   0, 0, 0xff, 0xff, 169, 254, 169, 254};
	struct nh_catalogue *c = &cat2;

	/* built-in: any port, both families, mapped form */
	CHECK_STR(ep4(&cat, "169.254.169.254", 80), "cloud_metadata");
	CHECK_STR(ep4(&cat, "169.254.169.254", 443), "cloud_metadata");
	CHECK_STR(ep4(&cat, "169.254.169.254", 0), "cloud_metadata");
	CHECK_STR(ep6(&cat, "fd00:ec2::254", 80), "cloud_metadata");
	CHECK_STR(ep6(&cat, "::ffff:169.254.169.254", 80), "cloud_metadata");
	CHECK_STR(nh_catalogue_match_endpoint(&cat, AF_INET6, mapped, 80), "cloud_metadata");
	CHECK(ep4(&cat, "169.254.169.253", 80) == NULL);
	CHECK(ep4(&cat, "10.96.0.1", 443) == NULL); /* no kube_apiserver by default */
	CHECK(ep6(&cat, "fd00:ec2::253", 80) == NULL);
	CHECK(ep6(&cat, "::169.254.169.254", 80) == NULL); /* IPv4-compatible is not mapped */
	CHECK(ep6(&cat, "::ffff:169.254.169.253", 80) == NULL);
	CHECK(nh_catalogue_match_endpoint(&cat, AF_UNIX, v4, 80) == NULL);
	CHECK(nh_catalogue_match_endpoint(&cat, AF_INET, NULL, 80) == NULL);
	CHECK(nh_catalogue_match_endpoint(NULL, AF_INET, v4, 80) == NULL);

	CHECK(nh_catalogue_init(c) == 0);
	/* port-specific v4, v6 bare, v6 bracketed with and without a port */
	CHECK(add_ep(c, "kube_apiserver=10.96.0.1:443") == 0);
	CHECK(add_ep(c, "kube_apiserver=2001:db8::1") == 0);
	CHECK(add_ep(c, "kube_apiserver=[fd00::10]:6443") == 0);
	CHECK(add_ep(c, "kube_apiserver=[fd00::11]") == 0);
	CHECK(add_ep(c, "vault=192.0.2.7") == 0);
	/* a mapped address in a spec is the IPv4 address */
	CHECK(add_ep(c, "legacy_db=[::ffff:198.51.100.9]:5432") == 0);
	CHECK_STR(ep4(c, "10.96.0.1", 443), "kube_apiserver");
	CHECK(ep4(c, "10.96.0.1", 80) == NULL);
	CHECK_STR(ep6(c, "::ffff:10.96.0.1", 443), "kube_apiserver");
	CHECK_STR(ep6(c, "2001:db8::1", 1), "kube_apiserver");
	CHECK_STR(ep6(c, "2001:db8::1", 65535), "kube_apiserver");
	CHECK(ep6(c, "2001:db8::2", 443) == NULL);
	CHECK_STR(ep6(c, "fd00::10", 6443), "kube_apiserver");
	CHECK(ep6(c, "fd00::10", 443) == NULL);
	CHECK_STR(ep6(c, "fd00::11", 12345), "kube_apiserver");
	CHECK_STR(ep4(c, "192.0.2.7", 8200), "vault");
	CHECK_STR(ep4(c, "198.51.100.9", 5432), "legacy_db");
	CHECK_STR(ep6(c, "::ffff:198.51.100.9", 5432), "legacy_db");
	CHECK(ep4(c, "198.51.100.9", 5433) == NULL);
	/* the IPv4 address does not match as an IPv6 one that merely contains it */
	CHECK(ep6(c, "::192.0.2.7", 8200) == NULL);
	/* duplicates are not stored twice */
	CHECK(add_ep(c, "vault=192.0.2.7") == 0);
	CHECK(add_ep(c, "vault=::ffff:192.0.2.7") == 0);
	CHECK(c->nendpoints == 8);

	/* configured endpoints come before built-in ones */
	CHECK(add_ep(c, "imds_http=169.254.169.254:80") == 0);
	CHECK_STR(ep4(c, "169.254.169.254", 80), "imds_http");
	CHECK_STR(ep4(c, "169.254.169.254", 443), "cloud_metadata");

	/* clear one kind: built-in and configured alike, nothing else */
	nh_catalogue_clear_endpoints(c, "cloud_metadata");
	CHECK(ep4(c, "169.254.169.254", 443) == NULL);
	CHECK(ep6(c, "fd00:ec2::254", 80) == NULL);
	CHECK_STR(ep4(c, "169.254.169.254", 80), "imds_http");
	CHECK_STR(ep4(c, "10.96.0.1", 443), "kube_apiserver");
	/* then replace it, as --metadata-endpoint does */
	CHECK(add_ep(c, "cloud_metadata=169.254.170.2") == 0);
	CHECK_STR(ep4(c, "169.254.170.2", 80), "cloud_metadata");
	/* unknown kind and NULL catalogue: no-ops */
	nh_catalogue_clear_endpoints(c, "no_such_kind");
	nh_catalogue_clear_endpoints(NULL, "cloud_metadata");
	CHECK_STR(ep4(c, "169.254.170.2", 80), "cloud_metadata");
	/* NULL clears every endpoint */
	nh_catalogue_clear_endpoints(c, NULL);
	CHECK(c->nendpoints == 0);
	CHECK(ep4(c, "10.96.0.1", 443) == NULL);
	CHECK(ep4(c, "169.254.169.254", 80) == NULL);
	/* path rules are untouched */
	expect_kind(__LINE__, c, "/root/.netrc", "netrc");
	nh_catalogue_free(c);
}

static void test_bad_endpoint_specs(void)
{
	CHECK(nh_catalogue_init(&cat2) == 0);
	BAD_EP(NULL, "missing");
	BAD_EP("", "expected KIND=ADDR");
	BAD_EP("x", "expected KIND=ADDR");
	BAD_EP("cloud_metadata:169.254.169.254", "expected KIND=ADDR");
	BAD_EP("Bad=1.2.3.4", "kind must be");
	BAD_EP("=1.2.3.4", "kind must be");
	BAD_EP("!x=1.2.3.4", "path rules only");
	BAD_EP("*=1.2.3.4", "only allowed in an exclusion");
	BAD_EP("x=", "address is empty");
	BAD_EP("x=:80", "address is empty");
	BAD_EP("x=[]:80", "address is empty");
	BAD_EP("x=localhost", "not an IPv4 or IPv6 address");
	BAD_EP("x=metadata.google.internal:80", "not an IPv4 or IPv6 address");
	BAD_EP("x=1.2.3", "not an IPv4 or IPv6 address");
	BAD_EP("x=1.2.3.256", "not an IPv4 or IPv6 address");
	BAD_EP("x=01.2.3.4", "not an IPv4 or IPv6 address");
	BAD_EP("x= 1.2.3.4", "not an IPv4 or IPv6 address");
	BAD_EP("x=fe80::1%eth0", "not an IPv4 or IPv6 address");
	BAD_EP("x=1:2:3:4:5:6:7:8:9", "not an IPv4 or IPv6 address");
	/* an IPv6 address with a port needs brackets */
	BAD_EP("x=::ffff:198.51.100.9:5432", "not an IPv4 or IPv6 address");
	BAD_EP("x=0000000000000000000000000000000000000000000000000001.2.3.4",
	       "not an IPv4 or IPv6 address");
	BAD_EP("x=[::1", "unterminated '['");
	BAD_EP("x=[::1]x", "expected ':PORT'");
	BAD_EP("x=[::1]80", "expected ':PORT'");
	BAD_EP("x=[1.2.3.4]:80", "must hold an IPv6 address");
	BAD_EP("x=1.2.3.4:", "port must be 1-65535");
	BAD_EP("x=1.2.3.4:0", "port must be 1-65535");
	BAD_EP("x=1.2.3.4:65536", "port must be 1-65535");
	BAD_EP("x=1.2.3.4:080", "port must be 1-65535");
	BAD_EP("x=1.2.3.4:-1", "port must be 1-65535");
	BAD_EP("x=1.2.3.4:+80", "port must be 1-65535");
	BAD_EP("x=1.2.3.4:http", "port must be 1-65535");
	BAD_EP("x=1.2.3.4:99999999999999999999", "port must be 1-65535");
	BAD_EP("x=[::1]:", "port must be 1-65535");
	BAD_EP("x=[::1]:70000", "port must be 1-65535");
	CHECK(cat2.nendpoints == 2);
	/* the limits themselves are fine */
	CHECK(add_ep(&cat2, "x=1.2.3.4:1") == 0);
	CHECK(add_ep(&cat2, "x=1.2.3.4:65535") == 0);
	CHECK(add_ep(&cat2, "x=[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535") == 0);
	CHECK(nh_catalogue_add_endpoint(&cat2, "x=nope", NULL) == -EINVAL);
	CHECK(nh_catalogue_add_endpoint(NULL, "x=1.2.3.4", NULL) == -EINVAL);
	nh_catalogue_free(&cat2);
}

static void test_init(void)
{
	CHECK(nh_catalogue_init(NULL) == -EINVAL);
	nh_catalogue_free(NULL);
	/* the built-in kinds are all there, kube_apiserver without an endpoint */
	CHECK(cat.nkinds == 15);
	CHECK(cat.nuser == 0);
	CHECK(cat.nbuiltin > 40);
	/* a zeroed catalogue works: no built-ins, configured rules only */
	nh_catalogue_free(&cat2);
	CHECK(add(&cat2, "zero=/z") == 0);
	expect_kind(__LINE__, &cat2, "/z", "zero");
	expect_kind(__LINE__, &cat2, "/root/.netrc", NULL);
	nh_catalogue_free(&cat2);
}

/*
 * The first/last-byte index only narrows which rules are tried: against
 * the same catalogue with every rule a candidate for every path (the
 * linear scan it replaced), every path gets the same kind. Paths are
 * drawn from segments the rules name, their near misses and storm-like
 * names, with user rules, exclusions and a subtree in the mix.
 */
static struct nh_catalogue linear;

static void test_index_equals_linear_scan(void)
{
	static const char *const segs[] = {"var",
					   "run",
					   "secrets",
					   "kubernetes.io",
					   "serviceaccount",
					   "token",
					   "..data",
					   "..2024_01_15",
					   "tokens",
					   "..x",
					   ".aws",
					   "credentials",
					   "config",
					   "sso",
					   "cache",
					   "a.json",
					   ".kube",
					   "etc",
					   "kubernetes",
					   "admin.conf",
					   "pki",
					   "ca.key",
					   "ssl",
					   "private",
					   "x",
					   ".ssh",
					   "id_rsa",
					   "id_rsa.pub",
					   "ssh",
					   "ssh_host_rsa_key",
					   "a-key.pem",
					   "a_key.pem",
					   "privkey1.pem",
					   "y.kubeconfig",
					   ".netrc",
					   "_netrc",
					   "docker.sock",
					   "containerd.sock.ttrpc",
					   "opt",
					   "app",
					   "s123-0-45",
					   "tmp",
					   "home",
					   "u",
					   "..",
					   "."};
	static const char *const rules[] = {
	    "mine=/opt/app/", "!aws_credentials=/home/*/.aws/config", "pem=*.pem",
	    "!*=/tmp/*",      "!tls_private_key=a-key.pem",	      "app_token=/opt/*/token",
	    "k=[ab]*x"};
	char path[512];
	unsigned int seed = 12345, bad = 0;
	size_t i, n;

	CHECK(nh_catalogue_init(&cat2) == 0);
	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		CHECK(nh_catalogue_add_path(&cat2, rules[i], NULL) == 0);
	linear = cat2;
	memset(linear.first, 0, sizeof(linear.first));
	memset(linear.last, 0, sizeof(linear.last));
	for (unsigned int b = 0; b < 256; b++) {
		for (unsigned int r = 0; r < linear.nuser; r++) {
			linear.first[b][r / 64] |= 1ull << (r % 64);
			linear.last[b][r / 64] |= 1ull << (r % 64);
		}
		for (unsigned int r = NH_CAT_MAX_RULES; r < NH_CAT_MAX_RULES + linear.nbuiltin;
		     r++) {
			linear.first[b][r / 64] |= 1ull << (r % 64);
			linear.last[b][r / 64] |= 1ull << (r % 64);
		}
	}
	for (int t = 0; t < 200000; t++) {
		const char *a, *b;

		seed = seed * 1103515245u + 12345u;
		n = (seed >> 8) % 7 + 1; /* segments */
		strcpy(path, (seed >> 16) % 2 ? "/" : "");
		for (size_t k = 0; k < n; k++) {
			seed = seed * 1103515245u + 12345u;
			if (k)
				strcat(path, "/");
			strcat(path, segs[(seed >> 16) % (sizeof(segs) / sizeof(segs[0]))]);
		}
		a = nh_catalogue_match_path(&cat2, path);
		b = nh_catalogue_match_path(&linear, path);
		if ((a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0)) {
			if (bad++ < 5)
				fprintf(stderr, "FAIL index: %s -> %s, the linear scan says %s\n",
					path, a ? a : "NULL", b ? b : "NULL");
		}
	}
	CHECK(bad == 0);
}

int main(void)
{
	if (nh_catalogue_init(&cat) != 0) {
		fprintf(stderr, "FAIL: nh_catalogue_init\n");
		return 1;
	}
	test_init();
	test_sa_token();
	test_cloud();
	test_kube_ssh_tls();
	test_misc_files();
	test_long_paths();
	test_user_rules();
	test_exclusions();
	test_bad_path_specs();
	test_capacity();
	test_endpoints();
	test_bad_endpoint_specs();
	test_index_equals_linear_scan();
	nh_catalogue_free(&cat);
	return nh_check_report("catalogue");
}
