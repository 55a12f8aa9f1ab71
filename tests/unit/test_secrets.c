/* SPDX-License-Identifier: Apache-2.0 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "secrets.h"

/* Redact one argument; the secret must be gone and the marker present. */
static void expect_redacted(const char *arg, const char *secret, enum nh_secret_kind want,
			    const char *want_out)
{
	enum nh_secret_kind kind = NH_SECRET_NONE;
	char out[4096];
	int n = nh_secrets_redact(arg, strlen(arg), false, out, sizeof(out), &kind);

	if (n < 1 || strstr(out, secret))
		fprintf(stderr, "  (%s -> %s)\n", arg, out);
	CHECK(n >= 1);
	CHECK(kind == want);
	CHECK(strstr(out, secret) == NULL);
	CHECK(strstr(out, "[REDACTED:") != NULL);
	if (want_out)
		CHECK_STR(out, want_out);
}

static void expect_clean(const char *arg)
{
	char out[4096];
	int n = nh_secrets_redact(arg, strlen(arg), false, out, sizeof(out), NULL);

	if (n != 0)
		fprintf(stderr, "  (false positive: %s -> %s)\n", arg, out);
	CHECK(n == 0);
	CHECK_STR(out, arg);
}

static void test_token_shapes(void)
{
	expect_redacted("AKIAIOSFODNN7EXAMPLE", "IOSFODNN7EXAMPLE", NH_SECRET_AWS_KEY,
			"[REDACTED:aws-access-key]");
	expect_redacted("key=ASIAY34FZKBOKMUTVV7A,x", "Y34FZKBOKMUTVV7A", NH_SECRET_AWS_KEY,
			"key=[REDACTED:aws-access-key],x");
	expect_redacted("id:AKIAIOSFODNN7EXAMPLE.", "IOSFODNN7EXAMPLE", NH_SECRET_AWS_KEY,
			"id:[REDACTED:aws-access-key].");
	expect_redacted("ghp_0123456789abcdefghijABCDEFGHIJ012345", "0123456789abcdefghij",
			NH_SECRET_GITHUB_TOKEN, "[REDACTED:github-token]");
	expect_redacted("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
			"11ABCDEFG0123456789", NH_SECRET_GITHUB_TOKEN, NULL);
	expect_redacted("glpat-xxxxxxxxxxxxxxxxxxxx", "xxxxxxxxxxxxxxxxxxxx",
			NH_SECRET_GITLAB_TOKEN, NULL);
	expect_redacted("xoxb-1234567890-abcdefghij", "1234567890-abcdefghij",
			NH_SECRET_SLACK_TOKEN, NULL);
	expect_redacted("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJlLXZhbHVl",
			"eyJzdWIiOiJzeXN0ZW06c2EifQ", NH_SECRET_JWT, "[REDACTED:jwt]");
	/* two in one argument, text between kept */
	expect_redacted("a=1 AKIAIOSFODNN7EXAMPLE and ghp_0123456789abcdefghijABCDEFGHIJ012345 end",
			"ghp_0123", NH_SECRET_AWS_KEY,
			"a=1 [REDACTED:aws-access-key] and [REDACTED:github-token] end");
}

static void test_contexts(void)
{
	expect_redacted("https://deploy:hunter2@git.example.com/repo.git", "hunter2",
			NH_SECRET_URL_PASSWORD,
			"https://deploy:[REDACTED:url-password]@git.example.com/repo.git");
	expect_redacted("postgres://app:s3cr3t!@db:5432/x", "s3cr3t!", NH_SECRET_URL_PASSWORD,
			NULL);
	expect_redacted("--password=hunter2", "hunter2", NH_SECRET_NAMED_VALUE,
			"--password=[REDACTED:named-value]");
	expect_redacted("DB_PASSWORD=hunter2", "hunter2", NH_SECRET_NAMED_VALUE, NULL);
	expect_redacted("--api-key=abc123", "abc123", NH_SECRET_NAMED_VALUE, NULL);
	expect_redacted("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG", "wJalrXUtnFEMI",
			NH_SECRET_NAMED_VALUE, NULL);
	expect_redacted("Bearer abcdefgh12345678", "abcdefgh12345678", NH_SECRET_NAMED_VALUE,
			"Bearer [REDACTED:named-value]");
	expect_redacted("curl -H 'Authorization: token ghx0123456789abcdef' x",
			"ghx0123456789abcdef", NH_SECRET_NAMED_VALUE, NULL);
	expect_redacted("Authorization: Bearer abcdefgh12345678", "abcdefgh12345678",
			NH_SECRET_NAMED_VALUE, "Authorization: Bearer [REDACTED:named-value]");
	expect_redacted("-----BEGIN RSA PRIVATE KEY-----\nMIIEow", "MIIEow", NH_SECRET_PRIVATE_KEY,
			"[REDACTED:private-key]");
}

static void test_named_option(void)
{
	char out[256];
	int n;

	CHECK(nh_secrets_named_option("--password", 10));
	CHECK(nh_secrets_named_option("--token", 7));
	CHECK(nh_secrets_named_option("--client-secret", 15));
	CHECK(!nh_secrets_named_option("--password=x", 12)); /* value inline */
	CHECK(!nh_secrets_named_option("-p", 2));	     /* a port as often as not */
	CHECK(!nh_secrets_named_option("--verbose", 9));
	/* was false: a bare secret word now names the next argument */
	CHECK(nh_secrets_named_option("password", 8));
	n = nh_secrets_redact("hunter2", 7, true, out, sizeof(out), NULL);
	CHECK(n == 1);
	CHECK_STR(out, "[REDACTED:named-value]");
}

static enum nh_secret_next next_of(const char *arg)
{
	return nh_secrets_named_option(arg, strlen(arg));
}

/*
 * Redact a whole argv as the renderer does, each output joined by ' '.
 * as_bool keeps what nh_secrets_named_option said in a bool, as a caller
 * written before enum nh_secret_next does.
 */
static void expect_argv(const char *const *argv, bool as_bool, const char *want)
{
	enum nh_secret_next prev = NH_NEXT_PLAIN;
	char out[4096], joined[4096] = "";

	for (size_t i = 0; argv[i]; i++) {
		nh_secrets_redact(argv[i], strlen(argv[i]), prev, out, sizeof(out), NULL);
		if (i)
			strcat(joined, " ");
		strcat(joined, out);
		prev = next_of(argv[i]);
		if (as_bool)
			prev = (bool)prev;
	}
	CHECK_STR(joined, want);
}

/* NAME=VALUE inside an argument, after '=', ',', ';', ' ', '&' or '?' */
static void test_embedded_named_value(void)
{
	char name[300];

	expect_redacted("--from-literal=password=hunter2", "hunter2", NH_SECRET_NAMED_VALUE,
			"--from-literal=password=[REDACTED:named-value]");
	expect_redacted("--env=DB_PASSWORD=dbpw1", "dbpw1", NH_SECRET_NAMED_VALUE,
			"--env=DB_PASSWORD=[REDACTED:named-value]");
	expect_redacted("-e=DB_PASSWORD=dbpw1", "dbpw1", NH_SECRET_NAMED_VALUE,
			"-e=DB_PASSWORD=[REDACTED:named-value]");
	expect_redacted("--set=auth.password=pw2", "pw2", NH_SECRET_NAMED_VALUE,
			"--set=auth.password=[REDACTED:named-value]");
	/* in a list the value ends at the separator, the rest is kept */
	expect_redacted("image.tag=1,auth.password=pw2,replicas=2", "pw2", NH_SECRET_NAMED_VALUE,
			"image.tag=1,auth.password=[REDACTED:named-value],replicas=2");
	expect_redacted("foo,token=abc123", "abc123", NH_SECRET_NAMED_VALUE,
			"foo,token=[REDACTED:named-value]");
	expect_redacted("a=1;api_key=k3y9;b=2", "k3y9", NH_SECRET_NAMED_VALUE,
			"a=1;api_key=[REDACTED:named-value];b=2");
	expect_redacted("https://h/x?token=abc&y=1", "abc", NH_SECRET_NAMED_VALUE,
			"https://h/x?token=[REDACTED:named-value]&y=1");
	expect_redacted("https://h/x?y=1&client_secret=cs9&z=2", "cs9", NH_SECRET_NAMED_VALUE,
			"https://h/x?y=1&client_secret=[REDACTED:named-value]&z=2");
	/* a command line in one argument (sh -c) */
	expect_redacted("mysql --password=pw3 -h db", "pw3", NH_SECRET_NAMED_VALUE,
			"mysql --password=[REDACTED:named-value] -h db");
	/* two in one argument */
	expect_redacted("a,token=t1,b,secret=s2", "s2", NH_SECRET_NAMED_VALUE,
			"a,token=[REDACTED:named-value],b,secret=[REDACTED:named-value]");
	/* at the start the value is still the rest of the argument */
	expect_redacted("PASSWORD=a,b c", "a,b c", NH_SECRET_NAMED_VALUE,
			"PASSWORD=[REDACTED:named-value]");
	/* a token shape starting a name must not hide the value after it */
	expect_redacted("a,ghp_0123456789abcdefghijABCDEFGHIJ012345_token=val9", "val9",
			NH_SECRET_GITHUB_TOKEN,
			"a,[REDACTED:github-token]_token=[REDACTED:named-value]");
	expect_redacted("ghp_0123456789abcdefghijABCDEFGHIJ012345_token=val9", "val9",
			NH_SECRET_GITHUB_TOKEN,
			"[REDACTED:github-token]_token=[REDACTED:named-value]");
	/* names of any length are checked */
	memset(name, 'a', 200);
	strcpy(name + 200, "_password=longpw");
	expect_redacted(name, "longpw", NH_SECRET_NAMED_VALUE, NULL);
}

/* Options and words whose value is the next argument */
static void test_next_argument(void)
{
	/* Go flag style: one dash, a long name */
	CHECK(next_of("-token") == NH_NEXT_SECRET);
	CHECK(next_of("-password") == NH_NEXT_SECRET);
	CHECK(next_of("-api-key") == NH_NEXT_SECRET);
	CHECK(next_of("-pwd") == NH_NEXT_SECRET);
	CHECK(next_of("-p") == NH_NEXT_PLAIN);
	CHECK(next_of("-n") == NH_NEXT_PLAIN);
	CHECK(next_of("-sSL") == NH_NEXT_PLAIN);
	CHECK(next_of("-token=x") == NH_NEXT_PLAIN); /* value inline */
	expect_redacted("-token=t0k", "t0k", NH_SECRET_NAMED_VALUE,
			"-token=[REDACTED:named-value]");
	/* a bare identifier-like word */
	CHECK(next_of("aws_secret_access_key") == NH_NEXT_SECRET);
	CHECK(next_of("db.password") == NH_NEXT_SECRET);
	CHECK(next_of("set") == NH_NEXT_PLAIN);
	CHECK(next_of("my password") == NH_NEXT_PLAIN);	    /* a sentence */
	CHECK(next_of("/run/secrets/db") == NH_NEXT_PLAIN); /* a path */
	CHECK(next_of("") == NH_NEXT_PLAIN);
	CHECK(next_of("-") == NH_NEXT_PLAIN);
	CHECK(next_of("--") == NH_NEXT_PLAIN);

	expect_argv((const char *const[]){"aws", "configure", "set", "aws_secret_access_key",
					  "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NULL},
		    false, "aws configure set aws_secret_access_key [REDACTED:named-value]");
	expect_argv((const char *const[]){"app", "-token", "t0k3nV4lue", "-v", NULL}, false,
		    "app -token [REDACTED:named-value] -v");
	expect_argv((const char *const[]){"app", "-api-key", "k3yV4lue", NULL}, false,
		    "app -api-key [REDACTED:named-value]");
	/* docker -e: the variable starts its argument, already redacted */
	expect_argv((const char *const[]){"docker", "run", "-e", "DB_PASSWORD=dbpw1", "img", NULL},
		    false, "docker run -e DB_PASSWORD=[REDACTED:named-value] img");
	expect_argv(
	    (const char *const[]){"helm", "install", "x", "--set", "auth.password=pw2", NULL},
	    false, "helm install x --set auth.password=[REDACTED:named-value]");
	/* over-redacted, accepted: "secret" is a bare secret word */
	expect_argv((const char *const[]){"kubectl", "create", "secret", "generic", "db",
					  "--from-literal=password=hunter2", NULL},
		    false,
		    "kubectl create secret [REDACTED:named-value] db "
		    "--from-literal=password=[REDACTED:named-value]");
}

/* curl -u user:password: the user name stays, the password goes */
static void test_user_password(void)
{
	char out[256];
	enum nh_secret_kind kind = NH_SECRET_NONE;
	int n;

	CHECK(next_of("-u") == NH_NEXT_USER_PASSWORD);
	CHECK(next_of("--user") == NH_NEXT_USER_PASSWORD);
	CHECK(next_of("-U") == NH_NEXT_USER_PASSWORD);
	CHECK(next_of("--proxy-user") == NH_NEXT_USER_PASSWORD);
	CHECK(next_of("--username") == NH_NEXT_PLAIN);
	CHECK_STR(nh_secret_kind_name(NH_SECRET_USER_PASSWORD), "user-password");

	n = nh_secrets_redact("admin:hunter2", 13, NH_NEXT_USER_PASSWORD, out, sizeof(out), &kind);
	CHECK(n == 1);
	CHECK(kind == NH_SECRET_USER_PASSWORD);
	CHECK_STR(out, "admin:[REDACTED:user-password]");
	/* everything after the first ':' goes, ':' and '@' included */
	n = nh_secrets_redact("admin:p@ss:w0rd", 15, NH_NEXT_USER_PASSWORD, out, sizeof(out), NULL);
	CHECK(n == 1);
	CHECK_STR(out, "admin:[REDACTED:user-password]");
	n = nh_secrets_redact(":t0ken", 6, NH_NEXT_USER_PASSWORD, out, sizeof(out), NULL);
	CHECK(n == 1);
	CHECK_STR(out, ":[REDACTED:user-password]");
	/* the user name is scanned too: a token is often passed as one */
	n = nh_secrets_redact("ghp_0123456789abcdefghijABCDEFGHIJ012345:x-oauth-basic", 54,
			      NH_NEXT_USER_PASSWORD, out, sizeof(out), &kind);
	CHECK(n == 2);
	CHECK(kind == NH_SECRET_GITHUB_TOKEN);
	CHECK_STR(out, "[REDACTED:github-token]:[REDACTED:user-password]");
	/* no password given: curl prompts for it, nothing to redact */
	n = nh_secrets_redact("www-data", 8, NH_NEXT_USER_PASSWORD, out, sizeof(out), NULL);
	CHECK(n == 0);
	CHECK_STR(out, "www-data");
	n = nh_secrets_redact("admin:", 6, NH_NEXT_USER_PASSWORD, out, sizeof(out), NULL);
	CHECK(n == 0);
	CHECK_STR(out, "admin:");
	/* over-redacted, accepted: docker -u uid:gid reads the same */
	n = nh_secrets_redact("1000:1000", 9, NH_NEXT_USER_PASSWORD, out, sizeof(out), NULL);
	CHECK(n == 1);
	CHECK_STR(out, "1000:[REDACTED:user-password]");

	/* attached to the option */
	expect_redacted("-uadmin:hunter2", "hunter2", NH_SECRET_USER_PASSWORD,
			"-uadmin:[REDACTED:user-password]");
	expect_redacted("--user=admin:hunter2", "hunter2", NH_SECRET_USER_PASSWORD,
			"--user=admin:[REDACTED:user-password]");
	expect_redacted("-Uproxy:pr0xypw", "pr0xypw", NH_SECRET_USER_PASSWORD,
			"-Uproxy:[REDACTED:user-password]");
	expect_redacted("--proxy-user=proxy:pr0xypw", "pr0xypw", NH_SECRET_USER_PASSWORD,
			"--proxy-user=proxy:[REDACTED:user-password]");
	expect_clean("-uroot");

	expect_argv((const char *const[]){"curl", "-u", "admin:hunter2", "https://x", NULL}, false,
		    "curl -u admin:[REDACTED:user-password] https://x");
	expect_argv((const char *const[]){"curl", "--user", "admin:hunter2", NULL}, false,
		    "curl --user admin:[REDACTED:user-password]");
	expect_argv((const char *const[]){"sudo", "-u", "www-data", "id", NULL}, false,
		    "sudo -u www-data id");
	expect_argv((const char *const[]){"sort", "-u", "file", NULL}, false, "sort -u file");
	/* a caller keeping a bool redacts the whole argument: safe, coarser */
	expect_argv((const char *const[]){"curl", "-u", "admin:hunter2", NULL}, true,
		    "curl -u [REDACTED:named-value]");
	n = nh_secrets_redact("x", 1, (enum nh_secret_next)7, out, sizeof(out), NULL);
	CHECK(n == 1);
	CHECK_STR(out, "[REDACTED:named-value]");
}

/* passwords in URLs */
static void test_url_password(void)
{
	expect_redacted("redis://user:p@ssw0rd@host/0", "ssw0rd", NH_SECRET_URL_PASSWORD,
			"redis://user:[REDACTED:url-password]@host/0");
	expect_redacted("https://u:a@b@c@h", "a@b@c", NH_SECRET_URL_PASSWORD,
			"https://u:[REDACTED:url-password]@h");
	/* an '@' in the path is not part of the password */
	expect_redacted("https://u:pw9@h/p@x", "pw9", NH_SECRET_URL_PASSWORD,
			"https://u:[REDACTED:url-password]@h/p@x");
	/* a token as user name is found too */
	expect_redacted(
	    "https://ghp_0123456789abcdefghijABCDEFGHIJ012345:x-oauth-basic@github.com/o",
	    "ghp_0123", NH_SECRET_GITHUB_TOKEN,
	    "https://[REDACTED:github-token]:[REDACTED:url-password]@github.com/o");
	expect_redacted(
	    "--urls=redis://u:p1x@h1,redis://u:p2x@h2/0", "p2x", NH_SECRET_URL_PASSWORD,
	    "--urls=redis://u:[REDACTED:url-password]@h1,redis://u:[REDACTED:url-password]@h2/0");
	expect_redacted("https://u:pw9@h/x?token=abc&y=1", "abc", NH_SECRET_URL_PASSWORD,
			"https://u:[REDACTED:url-password]@h/x?token=[REDACTED:named-value]&y=1");
}

static void test_no_false_positives(void)
{
	/* a path ending in "token" then a space is not an auth header */
	expect_clean("/var/run/token open-loop /tmp/x");
	expect_clean("cat /secrets/token basic-auth-disabled");
	expect_clean("/usr/bin/curl");
	expect_clean("-sSL");
	expect_clean("https://example.com/path?q=1");
	expect_clean("user@host");
	expect_clean("http://host:8080/x"); /* a port is not a password */
	expect_clean("--passive=true");
	expect_clean("AKIA");
	expect_clean("AKIAIOSFODNN7EXAMPLEX"); /* 17 chars: not an access key id */
	expect_clean("xAKIAIOSFODNN7EXAMPLE"); /* inside a word */
	expect_clean("ghp_short");
	expect_clean("eyJhbGciOiJIUzI1NiJ9"); /* one part only */
	expect_clean("--port=8080");
	/* a marker's own colon is not a user:password separator */
	expect_clean("://appx*[REDACTED:slack-token]@host");
	expect_clean("Bearer x");
	expect_clean("");
	expect_clean("-n");
	expect_clean("https://example.com/?q=1&page=2");
	expect_clean("key=value");
	expect_clean("a=1,b=2;c=3&d=4 e=5");
	expect_clean("--from-literal=username=admin");
	expect_clean("http://host:8080/x@y"); /* a port, then an '@' in the path */
	expect_clean("ssh://git@host:22/repo.git");
	expect_clean("git@github.com:org/repo.git");
	expect_clean("nginx:1.25");
	expect_clean("?token=");
	/*
	 * Over-redacted, accepted: "tokenizer" holds "token", and telling
	 * the harmless words that contain a secret word from the secret ones
	 * would need a list that a new tool's flag would escape.
	 */
	expect_redacted("--tokenizer=bpe", "bpe", NH_SECRET_NAMED_VALUE,
			"--tokenizer=[REDACTED:named-value]");
}

/*
 * Real command lines, each with one planted secret (a secret may occur
 * twice). The whole argv goes through the argv reader as the agent reads
 * it: the secret must be gone from every argument, and each redaction
 * covering it must be a reportable kind (a finding), not a cut. On a
 * failure the line's number and the tool are printed, never the secret.
 */
struct cmdline {
	const char *argv[14];
	const char *secret;
};

static const struct cmdline cmdlines[] = {
    {{"mysql", "-uroot", "-pMyR00tPw1", "-h", "db", NULL}, "MyR00tPw1"},
    {{"/usr/bin/mysql", "-h", "db", "-u", "app", "-pMyS3cr3t2", "shop", NULL}, "MyS3cr3t2"},
    {{"mysqldump", "-uroot", "-pDumpPw_3!", "--all-databases", NULL}, "DumpPw_3!"},
    {{"mariadb", "--user=root", "--password=MariaPw4", NULL}, "MariaPw4"},
    {{"mysqladmin", "-uroot", "-pAdm1nPw5", "status", NULL}, "Adm1nPw5"},
    {{"sudo", "mysql", "-uroot", "-pSud0MyPw6", NULL}, "Sud0MyPw6"},
    {{"kubectl", "exec", "db-0", "--", "mysql", "-uroot", "-pKexecPw7", NULL}, "KexecPw7"},
    {{"sshpass", "-p", "SshP4ss_8", "ssh", "user@host", NULL}, "SshP4ss_8"},
    {{"sshpass", "-pSshP4ss_9", "scp", "f", "user@host:/tmp", NULL}, "SshP4ss_9"},
    {{"docker", "login", "-u", "bot", "-p", "D0ckerPw10", "registry.example", NULL}, "D0ckerPw10"},
    {{"docker", "login", "registry.example", "--username", "bot", "--password", "D0ckerPw11", NULL},
     "D0ckerPw11"},
    {{"podman", "login", "-u", "bot", "-p", "P0dmanPw12", "quay.example", NULL}, "P0dmanPw12"},
    {{"nerdctl", "login", "-pNerdPw13", "-u", "bot", "reg", NULL}, "NerdPw13"},
    {{"skopeo", "login", "-u", "bot", "-p", "Sk0peoPw14", "reg", NULL}, "Sk0peoPw14"},
    {{"helm", "registry", "login", "reg", "-u", "bot", "-p", "H3lmPw15", NULL}, "H3lmPw15"},
    {{"redis-cli", "-h", "cache", "-a", "R3disPw16", "ping", NULL}, "R3disPw16"},
    {{"redis-cli", "-u", "redis://default:R3disPw17@cache:6379/0", "ping", NULL}, "R3disPw17"},
    {{"redis-cli", "--pass", "R3disPw18", "info", NULL}, "R3disPw18"},
    {{"openssl", "pkcs12", "-in", "a.p12", "-passin", "pass:P12Pass19", "-nodes", NULL},
     "P12Pass19"},
    {{"openssl", "rsa", "-in", "k.pem", "-passout", "pass:0utPass20", NULL}, "0utPass20"},
    {{"openssl", "enc", "-aes-256-cbc", "-k", "EncKey21x", "-in", "f", NULL}, "EncKey21x"},
    {{"openssl", "enc", "-d", "-aes256", "-pass", "pass:EncPw22", NULL}, "EncPw22"},
    {{"htpasswd", "-b", "/etc/nginx/.htpasswd", "bob", "HtPw23abc", NULL}, "HtPw23abc"},
    {{"htpasswd", "-bc", "users", "alice", "HtPw24abc", NULL}, "HtPw24abc"},
    {{"htpasswd", "-nb", "carol", "HtPw25abc", NULL}, "HtPw25abc"},
    {{"htpasswd", "-b", "/etc/nginx/htpasswd", "erin", "HtPw25xyz", NULL}, "HtPw25xyz"},
    {{"htpasswd", "-bB", "-C", "10", "f", "dave", "HtPw26abc", NULL}, "HtPw26abc"},
    {{"env", "DB_PASS=EnvPass27", "./app", NULL}, "EnvPass27"},
    {{"env", "MYSQL_PASSWD=EnvPass28", "./app", NULL}, "EnvPass28"},
    {{"env", "MYSQL_PWD=EnvPass29", "mysql", "-uroot", NULL}, "EnvPass29"},
    {{"docker", "run", "-e", "POSTGRES_PASSWORD=PgPass30", "postgres", NULL}, "PgPass30"},
    {{"docker", "run", "--env", "REDIS_PASS=RdPass31", "redis", NULL}, "RdPass31"},
    {{"sh", "-c", "DB_PASS=ShPass32 ./migrate", NULL}, "ShPass32"},
    {{"sh", "-c", "export APP_PWD=ShPass33; exec app", NULL}, "ShPass33"},
    {{"curl", "-H", "X-API-Key: ApiKey34abcdef", "https://api.example", NULL}, "ApiKey34abcdef"},
    {{"curl", "-H", "x-api-key:ApiKey35abcdef", "https://api.example", NULL}, "ApiKey35abcdef"},
    {{"curl", "-H", "Cookie: session=Sess36abcdef; theme=dark", "https://x", NULL}, "Sess36abcdef"},
    {{"curl", "--cookie", "session=Sess37abcdef", "https://x", NULL}, "Sess37abcdef"},
    {{"curl", "-H", "Authorization:Bearer Bear38abcdefgh", "https://x", NULL}, "Bear38abcdefgh"},
    {{"curl", "-H", "Authorization: Bearer Bear39abcdefgh", "https://x", NULL}, "Bear39abcdefgh"},
    {{"curl", "-H", "authorization:basic YmFzaWM6cGFzczQw", "https://x", NULL}, "YmFzaWM6cGFzczQw"},
    {{"curl", "-HAuthorization:Bearer Bear39attached", "https://x", NULL}, "Bear39attached"},
    {{"curl", "--header=X-API-Key: ApiKey39header", "https://x", NULL}, "ApiKey39header"},
    {{"curl", "-H", "X-Vault-Token: hvs.Vault41abcdefgh", "https://vault:8200", NULL},
     "hvs.Vault41abcdefgh"},
    {{"curl", "-H", "PRIVATE-TOKEN: Gl42abcdefghijkl", "https://gitlab", NULL}, "Gl42abcdefghijkl"},
    {{"curl", "-d", "{\"username\":\"bob\",\"password\":\"Json43Pw\"}", "https://x/login", NULL},
     "Json43Pw"},
    {{"curl", "--data", "{\"client_secret\": \"Json44Secret\", \"a\": 1}", "https://x", NULL},
     "Json44Secret"},
    {{"curl", "-d", "{'api_key': 'Json45Key'}", "https://x", NULL}, "Json45Key"},
    {{"sh", "-c", "curl -d {\\\"token\\\":\\\"Json46Tok\\\"} https://x", NULL}, "Json46Tok"},
    {{"python3", "-c", "login({\"password\": \"Json47Pw\"})", NULL}, "Json47Pw"},
    {{"git", "clone", "https://deploy:Url/48Pw@git.example/repo.git", NULL}, "Url/48Pw"},
    {{"psql", "postgres://app:p/a@ss49@db:5432/app", NULL}, "p/a@ss49"},
    {{"mongosh", "mongodb://root:Mongo50Pw@mongo:27017/admin", NULL}, "Mongo50Pw"},
    {{"ssh-add", "-", "-----BEGIN OPENSSH PRIVATE KEY-----",
      "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZWQyNTUxOQAAACBKey51",
      "-----END OPENSSH PRIVATE KEY-----", NULL},
     "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZWQyNTUxOQAAACBKey51"},
    {{"app", "--key",
      "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7Key52abcdefghijklmnopqrstuvwxyz0123456"
      "789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWX"
      "YZabcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ",
      NULL},
     "Key52abcdefghij"},
    {{"app", "--ssh-key", "-----BEGIN RSA PRIVATE KEY-----\nMIIEowKey53body\n-----END RSA", NULL},
     "MIIEowKey53body"},
    {{"aws", "configure", "set", "aws_secret_access_key", "wJalrXUtnFEMI/Key54/bPxRfiCY", NULL},
     "wJalrXUtnFEMI/Key54/bPxRfiCY"},
    {{"aws", "s3", "ls", "--profile", "x", NULL, NULL}, NULL},
    {{"terraform", "apply", "-var", "db_password=Tf55Pass", NULL}, "Tf55Pass"},
    {{"helm", "install", "x", "--set", "auth.rootPassword=Helm56Pw", NULL}, "Helm56Pw"},
    {{"kubectl", "create", "secret", "generic", "db", "--from-literal=password=Kc57Pw", NULL},
     "Kc57Pw"},
    {{"vault", "login", "-method=userpass", "username=bob", "password=Vault58Pw", NULL},
     "Vault58Pw"},
    {{"vault", "login", "hvs.CAESIVault59Token", NULL}, NULL},
    {{"gh", "auth", "login", "--with-token", NULL}, NULL},
    {{"app", "-token", "GoTok60abc", NULL}, "GoTok60abc"},
    {{"app", "--client-secret", "Cs61abcdef", NULL}, "Cs61abcdef"},
    {{"curl", "-u", "admin:CurlPw62", "https://x", NULL}, "CurlPw62"},
    {{"curl", "https://api.example/v1?api_key=Qk63abcdef&x=1", NULL}, "Qk63abcdef"},
    {{"wget", "--password=Wget64Pw", "https://x/f", NULL}, "Wget64Pw"},
    {{"lftp", "-u", "bob,Lftp65Pw", "sftp://host", NULL}, NULL},
    {{"sh", "-c", "mysql -uroot -pSh66MyPw -e 'show databases'", NULL}, "Sh66MyPw"},
    {{"bash", "-c", "sshpass -p Sh67SshPw ssh host && echo ok", NULL}, "Sh67SshPw"},
    {{"sh", "-c", "echo x | docker login -u bot -p Sh68Dk reg", NULL}, "Sh68Dk"},
    {{"sh", "-c", "redis-cli -a Sh69Redis ping", NULL}, "Sh69Redis"},
    {{"sh", "-c", "app --password Sh70Pass --verbose", NULL}, "Sh70Pass"},
    {{"sh", "-c", "curl -u admin:Sh71Curl https://x", NULL}, "Sh71Curl"},
    {{"sh", "-c", "curl -H 'Cookie: sid=Sh72Cookie' https://x", NULL}, "Sh72Cookie"},
    {{"java", "-Djavax.net.ssl.keyStorePassword=Jks73Pw", "-jar", "app.jar", NULL}, "Jks73Pw"},
    {{"psql", "-h", "db", "-U", "app", "password=Pg74Pw", NULL}, "Pg74Pw"},
    {{"rclone", "config", "create", "s3", "secret_access_key=Rc75abcdef", NULL}, "Rc75abcdef"},
    {{"argocd", "login", "cd.example", "--username", "admin", "--password", "Argo76Pw", NULL},
     "Argo76Pw"},
    {{"mc", "alias", "set", "s3", "https://s3", "AKIAIOSFODNN7EXAMPL7", "Mc77SecretKeyValue", NULL},
     "AKIAIOSFODNN7EXAMPL7"},
    {{"git", "-c", "http.extraHeader=Authorization: Bearer Git78Bearer1", "fetch", NULL},
     "Git78Bearer1"},
};

static bool in_reported_span(const struct nh_secret_span *sp, size_t n, size_t at, size_t len)
{
	for (size_t k = 0; k < n; k++)
		if (sp[k].kind != NH_SECRET_CUT && sp[k].start <= at &&
		    at + len <= sp[k].start + sp[k].len)
			return true;
	return false;
}

static void test_cmdlines(void)
{
	size_t planted = 0;

	for (size_t c = 0; c < sizeof(cmdlines) / sizeof(cmdlines[0]); c++) {
		const struct cmdline *l = &cmdlines[c];
		struct nh_secrets_argv st;
		bool leaked = false, reported = !l->secret;

		nh_secrets_argv_init(&st);
		for (size_t i = 0; l->argv[i]; i++) {
			struct nh_secret_span sp[16];
			char out[4096];
			size_t n = 0, len = strlen(l->argv[i]);
			const char *at;

			nh_secrets_argv_next(&st, l->argv[i], len, false, out, sizeof(out), sp, 16,
					     &n);
			if (!l->secret)
				continue;
			leaked |= strstr(out, l->secret) != NULL;
			at = strstr(l->argv[i], l->secret);
			if (at)
				reported |= in_reported_span(sp, n, (size_t)(at - l->argv[i]),
							     strlen(l->secret));
		}
		planted += l->secret != NULL;
		if (leaked || !reported)
			fprintf(stderr, "  command line %zu (%s): %s\n", c, l->argv[0],
				leaked ? "secret left in the output" : "secret not reported");
		CHECK(!leaked);
		CHECK(reported);
	}
	CHECK(planted >= 60);
}

static void test_bounds(void)
{
	char out[8], big[300];
	int n;

	/* output is truncated, never overrun, and never holds secret bytes */
	n = nh_secrets_redact("--password=hunter2", 18, false, out, sizeof(out), NULL);
	CHECK(n == 1);
	CHECK(strlen(out) == sizeof(out) - 1);
	CHECK(strstr(out, "hunter") == NULL);
	CHECK(nh_secrets_redact("abc", 3, false, out, 0, NULL) == 0);
	/* len is honoured: bytes past it are not read as part of the argument */
	n = nh_secrets_redact("AKIAIOSFODNN7EXAMPLE", 10, false, big, sizeof(big), NULL);
	CHECK(n == 0);
	CHECK_STR(big, "AKIAIOSFOD");
	CHECK_STR(nh_secret_kind_name(NH_SECRET_JWT), "jwt");
	CHECK_STR(nh_secret_kind_name((enum nh_secret_kind)99), "unknown");
}

int main(void)
{
	test_token_shapes();
	test_contexts();
	test_named_option();
	test_embedded_named_value();
	test_next_argument();
	test_user_password();
	test_url_password();
	test_no_false_positives();
	test_bounds();
	test_cmdlines();
	return nh_check_report("secrets");
}
