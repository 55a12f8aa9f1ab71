/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for models/: normalisation, novelty and severity, rates,
 * bounds, lifecycle, the registry and snapshots.
 *
 * With NH_WRITE_SEEDS=DIR set it also writes the fuzz seeds of
 * tests/fuzz/fuzz_snapshot.c into DIR (a first byte 0: a snapshot as is;
 * 1: the protobuf body the fuzzer wraps itself).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <zlib.h>

#include "check.h"
#include "models.h"
#include "normalise.h"
#include "profile.pb-c.h"

#define SEC 1000000000ull
#define MIN (60 * SEC)
#define T0  (1700000000ull * SEC) /* a minute boundary */

static struct nh_anomaly out[8];

static struct nh_model_config fast_cfg(void)
{
	struct nh_model_config c;

	nh_model_config_defaults(&c);
	c.learn_ns = 10 * SEC;
	c.quiet_ns = 5 * SEC;
	return c;
}

static struct nh_observation ob(enum nh_category cat, const char *value, uint64_t ts)
{
	struct nh_observation o = {.cat = cat, .ts_ns = ts, .count = 1, .value = value};

	return o;
}

static struct nh_observation ob_exec(const char *bin, const char *parent, uint64_t ts)
{
	struct nh_observation o = ob(NH_CAT_EXEC, bin, ts);

	o.parent = parent;
	return o;
}

static struct nh_observation ob_v4(const char *addr, uint16_t port, uint64_t ts)
{
	struct nh_observation o = ob(NH_CAT_EGRESS, NULL, ts);

	o.family = AF_INET;
	inet_pton(AF_INET, addr, o.addr);
	o.port = port;
	return o;
}

static struct nh_observation ob_v6(const char *addr, uint16_t port, uint64_t ts)
{
	struct nh_observation o = ob(NH_CAT_EGRESS, NULL, ts);

	o.family = AF_INET6;
	inet_pton(AF_INET6, addr, o.addr);
	o.port = port;
	return o;
}

static struct nh_observation ob_in(uint16_t port, uint64_t ts)
{
	struct nh_observation o = ob(NH_CAT_INGRESS, NULL, ts);

	o.family = AF_INET;
	o.port = port;
	return o;
}

static struct nh_observation ob_cred(const char *kind, const char *value, uint64_t ts)
{
	struct nh_observation o = ob(NH_CAT_CREDENTIAL, value, ts);

	o.credential_kind = kind;
	return o;
}

static int see(struct nh_models *m, const char *id, struct nh_observation o)
{
	memset(out, 0, sizeof(out));
	return nh_models_observe(m, id, &o, out, 8);
}

static bool known(struct nh_models *m, const char *id, struct nh_observation o)
{
	return nh_models_known(m, id, &o);
}

static enum nh_profile_state state_of(struct nh_models *m, const char *id)
{
	struct nh_profile_info info;

	return nh_models_info(m, id, &info) == 0 ? info.state : (enum nh_profile_state) - 1;
}

/* ---- items ---- */

struct item {
	enum nh_category cat;
	char value[NH_MODEL_VALUE_MAX];
	uint64_t count, first, last;
};

struct items {
	struct item v[1024];
	size_t n;
};

static void collect(void *ctx, enum nh_category cat, const char *value, uint64_t count,
		    uint64_t first, uint64_t last)
{
	struct items *it = ctx;

	if (it->n < sizeof(it->v) / sizeof(it->v[0])) {
		it->v[it->n].cat = cat;
		snprintf(it->v[it->n].value, sizeof(it->v[it->n].value), "%s", value);
		it->v[it->n].count = count;
		it->v[it->n].first = first;
		it->v[it->n].last = last;
	}
	it->n++;
}

static struct items *items_of(struct nh_models *m, const char *id)
{
	static struct items it;

	memset(&it, 0, sizeof(it));
	nh_models_items(m, id, collect, &it);
	return &it;
}

static const struct item *item_find(const struct items *it, enum nh_category cat, const char *v)
{
	for (size_t i = 0; i < it->n; i++)
		if (it->v[i].cat == cat && strcmp(it->v[i].value, v) == 0)
			return &it->v[i];
	return NULL;
}

/* ---- normalisation ---- */

static void expect_path(const char *in, const char *want)
{
	char buf[NH_MODEL_VALUE_MAX], again[NH_MODEL_VALUE_MAX];
	int n = nh_norm_path(in, buf);

	CHECK(n == (int)strlen(want));
	CHECK_STR(buf, want);
	/* idempotent: a stored item normalises to itself */
	CHECK(nh_norm_path(buf, again) == n);
	CHECK_STR(again, buf);
}

static void test_paths(void)
{
	char buf[NH_MODEL_VALUE_MAX], big[2000], again[NH_MODEL_VALUE_MAX];

	expect_path("/proc/1234/status", "/proc/*/status");
	expect_path("/proc/1/task/77/fd/3", "/proc/*/task/*/fd/*");
	expect_path("/var/lib/kubelet/pods/7d5e3e0c-3c1f-4f4b-9a8e-2b1c0d9e8f7a/volumes",
		    "/var/lib/kubelet/pods/*/volumes");
	expect_path("/var/lib/docker/overlay2/"
		    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/merged",
		    "/var/lib/docker/overlay2/*/merged");
	expect_path("/tmp/deadbeef", "/tmp/*");
	expect_path("/tmp/DEADBEEF01", "/tmp/*");
	expect_path("/tmp/cafe", "/tmp/cafe");
	expect_path("/tmp/abc1234", "/tmp/abc1234"); /* 7 hex: kept */
	expect_path("/tmp/12ab-x", "/tmp/12ab-x");
	expect_path("/usr/lib/libc.so.6", "/usr/lib/libc.so.6");
	expect_path("//etc///./passwd", "/etc/passwd");
	expect_path("/etc/../etc/shadow", "/etc/shadow");
	expect_path("/etc/ssl/", "/etc/ssl");
	expect_path("/..", "/");
	expect_path("/../../x", "/x");
	expect_path("/", "/");
	expect_path("a/../../b", "../b");
	expect_path("../a/..", "..");
	expect_path("./x", "x");
	expect_path(".", ".");
	expect_path("x/./y//", "x/y");
	expect_path("/memfd:payload (deleted)", "/memfd:payload (deleted)");
	CHECK(nh_norm_path("", buf) == -EINVAL);
	CHECK(nh_norm_path(NULL, buf) == -EINVAL);
	CHECK(nh_norm_volatile("1234", 4));
	CHECK(!nh_norm_volatile("12a", 3));
	CHECK(!nh_norm_volatile("", 0));

	/* too long: cut to 319 bytes ending in '*', and stable */
	memset(big, 'g', sizeof(big));
	for (size_t i = 0; i < sizeof(big) - 1; i += 50)
		big[i] = '/';
	big[sizeof(big) - 1] = '\0';
	CHECK(nh_norm_path(big, buf) == NH_MODEL_VALUE_MAX - 1);
	CHECK(buf[NH_MODEL_VALUE_MAX - 2] == '*' && strlen(buf) == NH_MODEL_VALUE_MAX - 1);
	CHECK(nh_norm_path(buf, again) == NH_MODEL_VALUE_MAX - 1);
	CHECK_STR(again, buf);
	/* a cut lands exactly on a separator */
	memset(big, 'x', sizeof(big));
	big[0] = '/';
	big[NH_MODEL_VALUE_MAX - 1] = '/';
	big[NH_MODEL_VALUE_MAX + 20] = '\0';
	CHECK(nh_norm_path(big, buf) == NH_MODEL_VALUE_MAX - 1);
	CHECK(nh_norm_path(buf, again) == NH_MODEL_VALUE_MAX - 1);
	CHECK_STR(again, buf);

	CHECK(nh_norm_text("setuid 1000->0", buf) == 14);
	CHECK_STR(buf, "setuid 1000->0");
	CHECK(nh_norm_text(big, buf) == NH_MODEL_VALUE_MAX - 1);
	CHECK(nh_norm_text("", buf) == -EINVAL);
	CHECK(nh_norm_port(8080, buf) == 4);
	CHECK_STR(buf, "8080");
	CHECK(nh_norm_port(0, buf) == 1);
	CHECK(nh_norm_port(65535, buf) == 5);
}

static void expect_ep(int family, const char *addr, uint16_t port, enum nh_ep_kind kind,
		      const char *want)
{
	uint8_t a[16] = {0};
	char buf[NH_MODEL_VALUE_MAX];
	struct nh_endpoint e, w, back;

	inet_pton(family, addr, a);
	CHECK(nh_endpoint_from(family, a, port, &e) == 0);
	nh_endpoint_widen(&e, kind, &w);
	CHECK(nh_endpoint_format(&w, buf) == (int)strlen(want));
	CHECK_STR(buf, want);
	CHECK(nh_endpoint_parse(buf, &back) == 0);
	CHECK(back.kind == w.kind && back.family == w.family && back.port == w.port &&
	      memcmp(back.addr, w.addr, 16) == 0);
}

static void test_endpoints(void)
{
	static const char *const bad[] = {
	    "10.0.0.05:443",
	    "10.0.0.1:0443",
	    "10.0.0.1/24:443",
	    "[::ffff:10.0.0.1]:80",
	    "[2001:DB8::1]:443",
	    "x:1",
	    "10.0.0.1:65536",
	    "*:",
	    ":80",
	    "10.0.0.1",
	    "[2001:db8::1]/64:1",
	    "[2001:db8::]:1x",
	    "[]:1",
	    "2001:db8::1:443",
	    "10.0.0.0/64:1",
	    "[2001:db8::]/24:1",
	    "*:0080",
	    "[2001:0db8::1]:443",
	    "10.0.0.1:",
	    "",
	};
	uint8_t a[16] = {0};
	struct nh_endpoint e;
	char buf[NH_MODEL_VALUE_MAX], want[64];
	uint32_t seed = 12345;

	expect_ep(AF_INET, "10.0.0.5", 443, NH_EP_EXACT, "10.0.0.5:443");
	expect_ep(AF_INET, "10.0.0.5", 443, NH_EP_PREFIX, "10.0.0.0/24:443");
	expect_ep(AF_INET, "10.0.0.5", 443, NH_EP_PORT, "*:443");
	expect_ep(AF_INET, "255.255.255.255", 65535, NH_EP_EXACT, "255.255.255.255:65535");
	expect_ep(AF_INET, "0.0.0.0", 0, NH_EP_EXACT, "0.0.0.0:0");
	expect_ep(AF_INET6, "2001:db8::1", 443, NH_EP_EXACT, "[2001:db8::1]:443");
	expect_ep(AF_INET6, "2001:db8:1:2:3:4:5:6", 443, NH_EP_PREFIX, "[2001:db8:1:2::]/64:443");
	expect_ep(AF_INET6, "::1", 53, NH_EP_EXACT, "[::1]:53");
	expect_ep(AF_INET6, "::", 1, NH_EP_EXACT, "[::]:1");
	expect_ep(AF_INET6, "fd00:ec2::254", 80, NH_EP_EXACT, "[fd00:ec2::254]:80");
	/* dual-stack sockets: an IPv4-mapped address is the IPv4 one */
	expect_ep(AF_INET6, "::ffff:10.0.0.5", 443, NH_EP_EXACT, "10.0.0.5:443");
	CHECK(nh_endpoint_from(AF_UNIX, a, 1, &e) == -EINVAL);
	CHECK(nh_endpoint_from(0, a, 1, &e) == -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (nh_endpoint_parse(bad[i], &e) == 0)
			fprintf(stderr, "  accepted %s\n", bad[i]);
		CHECK(nh_endpoint_parse(bad[i], &e) == -EINVAL);
	}
	CHECK(nh_endpoint_parse(NULL, &e) == -EINVAL);

	/* RFC 5952 text agrees with inet_ntop (except embedded IPv4) */
	for (int i = 0; i < 5000; i++) {
		bool v4ish;

		for (int g = 0; g < 8; g++) {
			seed = seed * 1103515245 + 12345;
			uint16_t v = (seed >> 16) % 3 ? 0 : (uint16_t)(seed >> 8);

			a[2 * g] = (uint8_t)(v >> 8);
			a[2 * g + 1] = (uint8_t)v;
		}
		v4ish = memcmp(a, "\0\0\0\0\0\0\0\0\0\0", 10) == 0 &&
			((a[10] == 0 && a[11] == 0) || (a[10] == 0xff && a[11] == 0xff));
		if (v4ish)
			continue;
		CHECK(nh_endpoint_from(AF_INET6, a, 7, &e) == 0);
		nh_endpoint_format(&e, buf);
		want[0] = '[';
		inet_ntop(AF_INET6, a, want + 1, sizeof(want) - 1);
		strcat(want, "]:7");
		if (strcmp(buf, want) != 0) {
			CHECK_STR(buf, want);
			break;
		}
		CHECK(nh_endpoint_parse(buf, &e) == 0);
	}
}

/* ---- novelty and severity ---- */

static const char *ID = "k8s:sa/shop/cart";

/* A profile that learned a few things, then turned stable at T0 + 20 s. */
static void learn_basic(struct nh_models *m)
{
	CHECK(see(m, ID, ob_exec("/usr/bin/app", "/usr/bin/containerd-shim", T0)) == 0);
	CHECK(see(m, ID, ob_exec("/usr/bin/curl", "/usr/bin/app", T0 + 1)) == 0);
	CHECK(see(m, ID, ob_v4("10.0.0.5", 443, T0 + 2)) == 0);
	CHECK(see(m, ID, ob_v6("2001:db8::1", 443, T0 + 3)) == 0);
	CHECK(see(m, ID, ob_in(8443, T0 + 4)) == 0);
	CHECK(see(m, ID, ob(NH_CAT_FILE, "/etc/hosts", T0 + 5)) == 0);
	CHECK(see(m, ID, ob(NH_CAT_FILE, "/proc/77/status", T0 + 6)) == 0);
	CHECK(see(m, ID,
		  ob_cred("sa_token", "/var/run/secrets/kubernetes.io/serviceaccount/token",
			  T0 + 7)) == 0);
	CHECK(see(m, ID, ob(NH_CAT_PRIVILEGE, "setgid 0->1000", T0 + 8)) == 0);
	CHECK(state_of(m, ID) == NH_PROFILE_LEARNING);
	CHECK(nh_models_tick(m, T0 + 20 * SEC, out, 8) == 0);
	CHECK(state_of(m, ID) == NH_PROFILE_STABLE);
}

static void expect_novel(struct nh_models *m, struct nh_observation o, enum nh_severity sev,
			 const char *technique, const char *value)
{
	struct nh_profile_info before, after;
	int n;

	nh_models_info(m, ID, &before);
	n = see(m, ID, o);
	if (n != 1)
		fprintf(stderr, "  no anomaly for %s\n", value);
	CHECK(n == 1);
	CHECK(out[0].cat == o.cat);
	CHECK(!out[0].rate);
	CHECK(out[0].severity == sev);
	CHECK_STR(out[0].identity, ID);
	CHECK_STR(out[0].value, value);
	if (technique) {
		CHECK_STR(out[0].technique, technique);
		CHECK(out[0].technique_name && *out[0].technique_name);
	} else {
		CHECK(out[0].technique == NULL && out[0].technique_name == NULL);
	}
	CHECK(out[0].baseline_items == before.items[o.cat]);
	CHECK(out[0].baseline_age_ns == o.ts_ns - before.created_ns);
	nh_models_info(m, ID, &after);
	CHECK(after.anomalies == before.anomalies + 1);
	CHECK(after.last_new_ns == o.ts_ns);
	/* once: the item is now part of the profile */
	CHECK(see(m, ID, o) == 0);
	o.ts_ns += SEC;
	CHECK(see(m, ID, o) == 0);
	CHECK(known(m, ID, o));
}

static void test_novelty(void)
{
	struct nh_model_config c = fast_cfg();
	struct nh_models m;
	struct nh_profile_info info;
	uint64_t t = T0 + 30 * SEC;

	CHECK(nh_models_init(&m, &c, 16) == 0);
	learn_basic(&m);

	/* known things, however spelled, are quiet */
	CHECK(see(&m, ID, ob_exec("/usr/bin/curl", "/usr/bin/app", t)) == 0);
	CHECK(see(&m, ID, ob_exec("/usr/bin/curl", "/bin/sh", t)) == 0); /* new parent */
	CHECK(see(&m, ID, ob_exec("//usr/bin/./curl", NULL, t)) == 0);
	CHECK(see(&m, ID, ob_v4("10.0.0.5", 443, t)) == 0);
	CHECK(see(&m, ID, ob_v6("::ffff:10.0.0.5", 443, t)) == 0);
	CHECK(see(&m, ID, ob_v6("2001:db8:0::1", 443, t)) == 0);
	CHECK(see(&m, ID, ob_in(8443, t)) == 0);
	CHECK(see(&m, ID, ob(NH_CAT_FILE, "/proc/12345/status", t)) == 0);
	CHECK(see(&m, ID, ob(NH_CAT_FILE, "/etc/./hosts", t)) == 0);
	CHECK(see(&m, ID,
		  ob_cred("sa_token", "/var/run/secrets/kubernetes.io/serviceaccount/token", t)) ==
	      0);
	CHECK(see(&m, ID, ob(NH_CAT_PRIVILEGE, "setgid 0->1000", t)) == 0);
	nh_models_info(&m, ID, &info);
	CHECK(info.anomalies == 0);

	expect_novel(&m, ob_exec("/bin/sh", "/usr/bin/app", t += SEC), NH_SEV_HIGH, "T1059.004",
		     "/bin/sh");
	expect_novel(&m, ob_exec("/usr/bin/busybox", NULL, t += SEC), NH_SEV_HIGH, "T1059.004",
		     "/usr/bin/busybox");
	expect_novel(&m, ob_exec("/usr/bin/python3.11", NULL, t += SEC), NH_SEV_HIGH, "T1059.006",
		     "/usr/bin/python3.11");
	expect_novel(&m, ob_exec("/usr/bin/node", NULL, t += SEC), NH_SEV_HIGH, "T1059.007",
		     "/usr/bin/node");
	expect_novel(&m, ob_exec("/usr/bin/perl5.36", NULL, t += SEC), NH_SEV_HIGH, "T1059",
		     "/usr/bin/perl5.36");
	expect_novel(&m, ob_exec("/tmp/x1/payload", NULL, t += SEC), NH_SEV_HIGH, "T1105",
		     "/tmp/x1/payload");
	expect_novel(&m, ob_exec("/memfd:x (deleted)", NULL, t += SEC), NH_SEV_HIGH, "T1620",
		     "/memfd:x (deleted)");
	expect_novel(&m, ob_exec("/usr/local/bin/tool", NULL, t += SEC), NH_SEV_MEDIUM, NULL,
		     "/usr/local/bin/tool");
	expect_novel(&m, ob_v4("10.0.0.9", 443, t += SEC), NH_SEV_MEDIUM, "T1071", "10.0.0.9:443");
	expect_novel(&m, ob_v4("10.0.0.5", 80, t += SEC), NH_SEV_MEDIUM, "T1071", "10.0.0.5:80");
	expect_novel(&m, ob_v6("2001:db8::2", 443, t += SEC), NH_SEV_MEDIUM, "T1071",
		     "[2001:db8::2]:443");
	expect_novel(&m, ob_in(8080, t += SEC), NH_SEV_MEDIUM, NULL, "8080");
	expect_novel(&m, ob(NH_CAT_FILE, "/var/log/app/1.log", t += SEC), NH_SEV_LOW, NULL,
		     "/var/log/app/1.log");
	expect_novel(&m, ob(NH_CAT_FILE, "/proc/99/environ", t += SEC), NH_SEV_LOW, NULL,
		     "/proc/*/environ");
	expect_novel(&m, ob(NH_CAT_FILE, "/etc/passwd", t += SEC), NH_SEV_MEDIUM, NULL,
		     "/etc/passwd");
	expect_novel(&m, ob(NH_CAT_FILE, "/root/.bash_history", t += SEC), NH_SEV_MEDIUM, NULL,
		     "/root/.bash_history");
	expect_novel(&m, ob(NH_CAT_FILE, "/etc/shadow", t += SEC), NH_SEV_HIGH, "T1003.008",
		     "/etc/shadow");
	expect_novel(&m, ob_cred("sa_token", "/run/secrets/tokens/vault-token", t += SEC),
		     NH_SEV_CRITICAL, "T1528", "sa_token:/run/secrets/tokens/vault-token");
	expect_novel(&m, ob_cred("cloud_metadata", "169.254.169.254:80", t += SEC), NH_SEV_CRITICAL,
		     "T1552.005", "cloud_metadata:169.254.169.254:80");
	expect_novel(&m, ob_cred("ssh_private_key", "/root/.ssh/id_ed25519", t += SEC), NH_SEV_HIGH,
		     "T1552.004", "ssh_private_key:/root/.ssh/id_ed25519");
	expect_novel(&m, ob_cred("tls_private_key", "/etc/tls/tls.key", t += SEC), NH_SEV_HIGH,
		     "T1552.004", "tls_private_key:/etc/tls/tls.key");
	expect_novel(&m, ob_cred("kube_apiserver", "10.96.0.1:443", t += SEC), NH_SEV_HIGH, "T1613",
		     "kube_apiserver:10.96.0.1:443");
	expect_novel(&m, ob_cred("aws_credentials", "/root/.aws/credentials", t += SEC),
		     NH_SEV_HIGH, "T1552.001", "aws_credentials:/root/.aws/credentials");
	expect_novel(&m, ob_cred("vault_token", "/home/app/.vault-token", t += SEC),
		     NH_SEV_CRITICAL, "T1552.001", "vault_token:/home/app/.vault-token");
	expect_novel(&m, ob_cred(NULL, "/x/7/key", t += SEC), NH_SEV_HIGH, "T1552.001",
		     "unknown:/x/*/key");
	expect_novel(&m, ob(NH_CAT_PRIVILEGE, "setuid 1000->0", t += SEC), NH_SEV_HIGH, "T1548.001",
		     "setuid 1000->0");
	expect_novel(&m, ob(NH_CAT_PRIVILEGE, "capset +0x200000", t += SEC), NH_SEV_HIGH, "T1548",
		     "capset +0x200000");

	/* no room in out: counted, not returned, still learned */
	{
		struct nh_observation o = ob(NH_CAT_FILE, "/srv/new", t += SEC);

		nh_models_info(&m, ID, &info);
		CHECK(nh_models_observe(&m, ID, &o, NULL, 0) == 0);
		CHECK(nh_models_observe(&m, ID, &o, out, 0) == 0);
		CHECK(known(&m, ID, o));
		uint64_t before = info.anomalies;

		nh_models_info(&m, ID, &info);
		CHECK(info.anomalies == before + 1);
	}

	/* bad observations */
	{
		struct nh_observation o = ob(NH_CAT_FILE, NULL, t);
		const char *longid = "x";
		char idbuf[NH_MODEL_IDENTITY_MAX + 8];

		CHECK(see(&m, ID, o) == -EINVAL);
		o.value = "";
		CHECK(see(&m, ID, o) == -EINVAL);
		o = ob_v4("10.0.0.1", 1, t);
		o.family = AF_UNIX;
		CHECK(see(&m, ID, o) == -EINVAL);
		o = ob(NH_CAT_MAX, "/x", t);
		CHECK(see(&m, ID, o) == -EINVAL);
		o = ob((enum nh_category) - 1, "/x", t);
		CHECK(see(&m, ID, o) == -EINVAL);
		o = ob_cred("a:b", "/x", t);
		CHECK(see(&m, ID, o) == -EINVAL);
		o = ob(NH_CAT_FILE, "/x", t);
		CHECK(see(&m, "", o) == -EINVAL);
		CHECK(nh_models_observe(&m, NULL, &o, out, 8) == -EINVAL);
		CHECK(nh_models_observe(&m, ID, NULL, out, 8) == -EINVAL);
		memset(idbuf, 'i', sizeof(idbuf));
		idbuf[NH_MODEL_IDENTITY_MAX - 1] = '\0'; /* 335 bytes: the longest */
		CHECK(see(&m, idbuf, o) == 0);
		idbuf[NH_MODEL_IDENTITY_MAX - 1] = 'i';
		idbuf[NH_MODEL_IDENTITY_MAX] = '\0';
		CHECK(see(&m, idbuf, o) == -EINVAL);
		/* a bad observation of a new identity creates nothing */
		o = ob(NH_CAT_EXEC, "", t);
		CHECK(see(&m, "user:nobody", o) == -EINVAL);
		CHECK(nh_models_info(&m, "user:nobody", &info) == -ENOENT);
		(void)longid;
	}
	nh_models_free(&m);
}

static void test_lifecycle(void)
{
	struct nh_model_config c = fast_cfg();
	struct nh_models m;
	struct nh_profile_info info;
	const char *id = "unit:web.service";

	CHECK(nh_models_init(&m, &c, 16) == 0);
	/* learning: new items are silent however many */
	for (int i = 0; i < 50; i++) {
		char p[64];

		snprintf(p, sizeof(p), "/srv/data/f%d.txt", i);
		CHECK(see(&m, id, ob(NH_CAT_FILE, p, T0 + (uint64_t)i * SEC / 10)) == 0);
	}
	CHECK(nh_models_info(&m, id, &info) == 0);
	CHECK(info.state == NH_PROFILE_LEARNING && info.stable_ns == 0);
	CHECK(info.created_ns == T0);
	CHECK(info.anomalies == 0 && info.events == 50);
	/* the learning window passed, but a new item 3 s ago: still quiet */
	CHECK(see(&m, id, ob(NH_CAT_FILE, "/srv/late", T0 + 9 * SEC)) == 0);
	CHECK(nh_models_tick(&m, T0 + 11 * SEC, out, 8) == 0);
	CHECK(state_of(&m, id) == NH_PROFILE_LEARNING);
	CHECK(!known(&m, id, ob(NH_CAT_FILE, "/srv/late", T0 + 11 * SEC)));
	/* an observation's own time also moves it on */
	CHECK(see(&m, id, ob(NH_CAT_FILE, "/srv/brand-new", T0 + 14 * SEC)) == 1);
	CHECK(out[0].cat == NH_CAT_FILE && out[0].severity == NH_SEV_LOW);
	CHECK(nh_models_info(&m, id, &info) == 0);
	CHECK(info.state == NH_PROFILE_STABLE && info.stable_ns == T0 + 14 * SEC);
	CHECK(info.last_new_ns == T0 + 14 * SEC);

	/* reset: learning again, empty */
	CHECK(nh_models_reset(&m, id, T0 + 100 * SEC) == 0);
	CHECK(nh_models_info(&m, id, &info) == 0);
	CHECK(info.state == NH_PROFILE_LEARNING && info.created_ns == T0 + 100 * SEC);
	CHECK(info.stable_ns == 0 && info.events == 0 && info.anomalies == 0);
	for (int i = 0; i < NH_CAT_MAX; i++)
		CHECK(info.items[i] == 0 && !info.bounded[i]);
	CHECK(items_of(&m, id)->n == 0);
	CHECK(see(&m, id, ob(NH_CAT_FILE, "/srv/brand-new", T0 + 101 * SEC)) == 0);
	CHECK(nh_models_reset(&m, "nobody", T0) == -ENOENT);
	CHECK(nh_models_reset(&m, NULL, T0) == -EINVAL);
	nh_models_free(&m);
}

static void test_known(void)
{
	struct nh_model_config c = fast_cfg();
	struct nh_models m;
	struct nh_profile_info a, b;

	CHECK(nh_models_init(&m, &c, 16) == 0);
	CHECK(see(&m, ID, ob_exec("/usr/bin/app", NULL, T0)) == 0);
	/* learning: nothing is known yet, the kernel must keep reporting */
	CHECK(!known(&m, ID, ob_exec("/usr/bin/app", NULL, T0)));
	nh_models_reset(&m, ID, T0);
	learn_basic(&m);
	nh_models_info(&m, ID, &a);
	CHECK(known(&m, ID, ob_exec("/usr/bin/app", "/whatever", T0)));
	CHECK(known(&m, ID, ob_exec("/usr/bin/../bin/app", NULL, T0)));
	CHECK(known(&m, ID, ob_v4("10.0.0.5", 443, T0)));
	CHECK(known(&m, ID, ob_v6("::ffff:10.0.0.5", 443, T0)));
	CHECK(known(&m, ID, ob_in(8443, T0)));
	CHECK(known(&m, ID, ob(NH_CAT_FILE, "/proc/5/status", T0)));
	CHECK(
	    known(&m, ID,
		  ob_cred("sa_token", "/var/run/secrets/kubernetes.io/serviceaccount/token", T0)));
	CHECK(known(&m, ID, ob(NH_CAT_PRIVILEGE, "setgid 0->1000", T0)));
	CHECK(!known(&m, ID, ob_exec("/bin/sh", NULL, T0)));
	CHECK(!known(&m, ID, ob_v4("10.0.0.6", 443, T0)));
	CHECK(!known(&m, ID, ob_v4("10.0.0.5", 444, T0)));
	CHECK(!known(&m, ID, ob_in(8444, T0)));
	CHECK(!known(&m, ID, ob(NH_CAT_FILE, "/proc/5/environ", T0)));
	CHECK(!known(
	    &m, ID,
	    ob_cred("vault_token", "/var/run/secrets/kubernetes.io/serviceaccount/token", T0)));
	CHECK(!known(&m, ID, ob(NH_CAT_PRIVILEGE, "setuid 0->1000", T0)));
	CHECK(!known(&m, "other", ob_exec("/usr/bin/app", NULL, T0)));
	CHECK(!known(&m, ID, ob(NH_CAT_FILE, NULL, T0)));
	CHECK(!nh_models_known(&m, ID, NULL));
	/* known changes nothing */
	nh_models_info(&m, ID, &b);
	CHECK(a.events == b.events && a.anomalies == b.anomalies && a.bytes == b.bytes);
	nh_models_free(&m);
}

/* ---- rates ---- */

static int minute_of(struct nh_models *m, const char *id, int minute, uint64_t count)
{
	struct nh_observation o = ob(NH_CAT_FILE, "/data/db", T0 + (uint64_t)minute * MIN + SEC);

	o.count = count;
	CHECK(see(m, id, o) == 0);
	memset(out, 0, sizeof(out));
	return nh_models_tick(m, T0 + (uint64_t)(minute + 1) * MIN, out, 8);
}

static void test_rates(void)
{
	struct nh_model_config c = fast_cfg();
	struct nh_models m;
	struct nh_profile_info info;
	const char *id = "container:db";
	int n = 0, minute = 0;

	CHECK(nh_models_init(&m, &c, 16) == 0);
	/* a burst while learning and before the warm-up is no anomaly */
	CHECK(minute_of(&m, id, minute++, 200) == 0);
	CHECK(minute_of(&m, id, minute++, 5000) == 0);
	CHECK(state_of(&m, id) == NH_PROFILE_STABLE);
	for (; minute < 40; minute++)
		n += minute_of(&m, id, minute, 200 + (uint64_t)(minute % 5) * 10);
	CHECK(n == 0);
	/* a burst: exactly one rate anomaly */
	CHECK(minute_of(&m, id, minute++, 5000) == 1);
	CHECK(out[0].rate && out[0].cat == NH_CAT_FILE);
	CHECK_STR(out[0].value, "file");
	CHECK_STR(out[0].identity, id);
	CHECK(out[0].per_min == 5000);
	CHECK(out[0].mean > 180 && out[0].mean < 400);
	/* the learning-time burst still weighs in the variance */
	CHECK(out[0].stddev >= 14 && out[0].per_min > out[0].mean + 6 * out[0].stddev);
	CHECK(out[0].severity == NH_SEV_MEDIUM && out[0].technique == NULL);
	CHECK(out[0].baseline_items == 1);
	/* back to normal: quiet */
	for (n = 0; minute < 60; minute++)
		n += minute_of(&m, id, minute, 210);
	CHECK(n == 0);
	/* above the sigma test but under rate_min: quiet */
	{
		struct nh_observation o = ob_in(5432, T0 + (uint64_t)minute * MIN);

		o.count = 90;
		CHECK(see(&m, id, o) == 1); /* a novel port, not a rate */
		CHECK(nh_models_tick(&m, T0 + (uint64_t)++minute * MIN, out, 8) == 0);
	}
	/* a gap of a week: bounded work, no anomaly, rates decayed */
	CHECK(nh_models_tick(&m, T0 + (uint64_t)(minute + 7 * 24 * 60) * MIN, out, 8) == 0);
	minute += 7 * 24 * 60;
	/* a report waits when out is full, and comes with the next tick */
	{
		struct nh_observation o = ob(NH_CAT_FILE, "/data/db", T0 + (uint64_t)minute * MIN);

		o.count = 1000;
		CHECK(see(&m, id, o) == 0);
		CHECK(nh_models_tick(&m, T0 + (uint64_t)(minute + 1) * MIN, out, 0) == 0);
		CHECK(nh_models_tick(&m, T0 + (uint64_t)(minute + 1) * MIN, NULL, 8) == 0);
		CHECK(nh_models_tick(&m, T0 + (uint64_t)(minute + 1) * MIN, out, 8) == 1);
		CHECK(out[0].rate && out[0].per_min == 1000 && out[0].mean < 1);
		CHECK(nh_models_tick(&m, T0 + (uint64_t)(minute + 1) * MIN, out, 8) == 0);
	}
	nh_models_info(&m, id, &info);
	CHECK(info.anomalies == 3);
	/* time going backwards closes nothing */
	CHECK(nh_models_tick(&m, T0, out, 8) == 0);
	CHECK(nh_models_tick(NULL, T0, out, 8) == -EINVAL);
	nh_models_free(&m);
}

/* ---- bounds ---- */

static void test_bounds(void)
{
	struct nh_model_config c = fast_cfg();
	struct nh_models m;
	struct nh_profile_info info;
	struct items *it;
	char v[128];
	uint64_t t = T0;
	const char *id = "user:ci";

	c.max_items[NH_CAT_EXEC] = 4;
	c.max_items[NH_CAT_EGRESS] = 16;
	c.max_items[NH_CAT_FILE] = 8;
	c.max_hosts = 4;
	c.max_children = 4;
	CHECK(nh_models_init(&m, &c, 16) == 0);

	/* exec: no generalisation, dropped past the bound */
	for (int i = 0; i < 10; i++) {
		snprintf(v, sizeof(v), "/opt/bin/tool%d", i);
		CHECK(see(&m, id, ob_exec(v, NULL, t++)) == 0);
	}
	nh_models_info(&m, id, &info);
	CHECK(info.items[NH_CAT_EXEC] == 4 && info.bounded[NH_CAT_EXEC] && info.dropped == 6);
	CHECK(!info.bounded[NH_CAT_FILE]);

	/* egress: 16 hosts in one /24 fill the bound, the 17th collapses them */
	for (int i = 1; i <= 16; i++) {
		snprintf(v, sizeof(v), "10.0.0.%d", i);
		CHECK(see(&m, id, ob_v4(v, 443, t++)) == 0);
	}
	nh_models_info(&m, id, &info);
	CHECK(info.items[NH_CAT_EGRESS] == 16 && !info.bounded[NH_CAT_EGRESS]);
	CHECK(see(&m, id, ob_v4("10.0.0.17", 443, t++)) == 0);
	nh_models_info(&m, id, &info);
	CHECK(info.items[NH_CAT_EGRESS] == 1 && info.bounded[NH_CAT_EGRESS]);
	it = items_of(&m, id);
	{
		const struct item *p = item_find(it, NH_CAT_EGRESS, "10.0.0.0/24:443");

		CHECK(p && p->count == 17 && p->first == T0 + 10 && p->last == t - 1);
	}
	/* fill again with one host per /24 on port 80: port-only */
	for (int i = 0; i < 15; i++) {
		snprintf(v, sizeof(v), "10.1.%d.1", i);
		CHECK(see(&m, id, ob_v4(v, 80, t++)) == 0);
	}
	CHECK(see(&m, id, ob_v4("10.1.99.1", 80, t++)) == 0);
	nh_models_info(&m, id, &info);
	CHECK(info.items[NH_CAT_EGRESS] == 2);
	it = items_of(&m, id);
	CHECK(item_find(it, NH_CAT_EGRESS, "*:80") &&
	      item_find(it, NH_CAT_EGRESS, "10.0.0.0/24:443"));
	/* IPv6 /64 */
	for (int i = 1; i <= 14; i++) {
		snprintf(v, sizeof(v), "2001:db8:0:7::%x", i);
		CHECK(see(&m, id, ob_v6(v, 443, t++)) == 0);
	}
	CHECK(see(&m, id, ob_v6("2001:db8:0:7::ff", 443, t++)) == 0);
	it = items_of(&m, id);
	CHECK(item_find(it, NH_CAT_EGRESS, "[2001:db8:0:7::]/64:443") != NULL);
	/* all distinct ports: nothing to merge, dropped */
	nh_models_info(&m, id, &info);
	for (int i = 0; info.items[NH_CAT_EGRESS] < 16; i++) {
		CHECK(see(&m, id, ob_v4("192.168.1.1", (uint16_t)(1000 + i), t++)) == 0);
		nh_models_info(&m, id, &info);
	}
	uint64_t dropped = info.dropped;

	/* the two prefixes on 443 are the busiest port: "*:443" */
	CHECK(see(&m, id, ob_v4("172.16.0.1", 5000, t++)) == 0);
	nh_models_info(&m, id, &info);
	CHECK(info.items[NH_CAT_EGRESS] == 16 && info.dropped == dropped);
	it = items_of(&m, id);
	CHECK(item_find(it, NH_CAT_EGRESS, "*:443") &&
	      item_find(it, NH_CAT_EGRESS, "172.16.0.1:5000"));
	CHECK(!item_find(it, NH_CAT_EGRESS, "10.0.0.0/24:443"));
	/* now every port has one item: nothing to merge, dropped */
	CHECK(see(&m, id, ob_v4("172.16.0.1", 5001, t++)) == 0);
	nh_models_info(&m, id, &info);
	CHECK(info.items[NH_CAT_EGRESS] == 16 && info.dropped == dropped + 1);

	/* files: a directory past max_children folds new children */
	for (int i = 1; i <= 4; i++) {
		snprintf(v, sizeof(v), "/data/f%c", 'a' + i);
		CHECK(see(&m, id, ob(NH_CAT_FILE, v, t++)) == 0);
	}
	CHECK(see(&m, id, ob(NH_CAT_FILE, "/data/fz", t++)) == 0);
	CHECK(see(&m, id, ob(NH_CAT_FILE, "/data/fy/deep", t++)) == 0);
	it = items_of(&m, id);
	CHECK(item_find(it, NH_CAT_FILE, "/data/fb") && item_find(it, NH_CAT_FILE, "/data/*"));
	CHECK(item_find(it, NH_CAT_FILE, "/data/*/deep") != NULL);
	nh_models_info(&m, id, &info);
	CHECK(info.items[NH_CAT_FILE] == 6 && !info.bounded[NH_CAT_FILE]);

	/* stable: folded and generalised values are known */
	CHECK(nh_models_tick(&m, t + 60 * SEC, out, 8) == 0);
	t += 60 * SEC;
	CHECK(state_of(&m, id) == NH_PROFILE_STABLE);
	CHECK(known(&m, id, ob(NH_CAT_FILE, "/data/anything", t)));
	CHECK(known(&m, id, ob(NH_CAT_FILE, "/data/fb", t)));
	CHECK(!known(&m, id, ob(NH_CAT_FILE, "/data/fb/x", t)));
	CHECK(known(&m, id, ob(NH_CAT_FILE, "/data/q/deep", t)));
	CHECK(known(&m, id, ob_v4("10.0.0.250", 443, t)));
	CHECK(known(&m, id, ob_v4("8.8.8.8", 80, t)));
	CHECK(known(&m, id, ob_v6("2001:db8:0:7::1234", 443, t)));
	CHECK(known(&m, id, ob_v6("2001:db8:0:8::1", 443, t)));
	CHECK(!known(&m, id, ob_v6("2001:db8:0:8::1", 444, t)));
	CHECK(!known(&m, id, ob_v4("10.0.1.1", 444, t)));
	CHECK(!known(&m, id, ob_v4("172.16.0.1", 5001, t)));

	/* files at their bound: the widest directory is merged into dir/\* */
	CHECK(see(&m, id, ob(NH_CAT_FILE, "/b/one", t++)) == 1);
	CHECK(see(&m, id, ob(NH_CAT_FILE, "/b/two", t++)) == 1);
	nh_models_info(&m, id, &info);
	CHECK(info.items[NH_CAT_FILE] == 8);
	CHECK(see(&m, id, ob(NH_CAT_FILE, "/c/three", t++)) == 1);
	nh_models_info(&m, id, &info);
	CHECK(info.bounded[NH_CAT_FILE] && info.items[NH_CAT_FILE] <= 8);
	it = items_of(&m, id);
	CHECK(item_find(it, NH_CAT_FILE, "/c/three") != NULL);
	CHECK(item_find(it, NH_CAT_FILE, "/data/fb") == NULL); /* merged */
	CHECK(known(&m, id, ob(NH_CAT_FILE, "/data/fb", t)));
	CHECK(known(&m, id, ob(NH_CAT_FILE, "/b/one", t)));
	CHECK(known(&m, id, ob(NH_CAT_FILE, "/data/q/deep", t)));

	/* past the final bound in stable: one alert per value, not stored */
	nh_models_info(&m, id, &info);
	dropped = info.dropped;
	CHECK(see(&m, id, ob_exec("/opt/evil", NULL, t++)) == 1);
	CHECK(out[0].cat == NH_CAT_EXEC);
	CHECK(see(&m, id, ob_exec("/opt/evil", NULL, t++)) == 0);
	CHECK(!known(&m, id, ob_exec("/opt/evil", NULL, t)));
	nh_models_info(&m, id, &info);
	CHECK(info.items[NH_CAT_EXEC] == 4 && info.dropped == dropped + 2);
	nh_models_free(&m);
}

/* Default bounds: a flood of novel items stays bounded and fast. */
static void test_flood(void)
{
	struct nh_model_config c = fast_cfg();
	struct nh_models m;
	struct nh_profile_info info;
	char v[128];
	uint64_t t = T0;
	const char *id = "k8s:sa/x/flood";
	size_t stable_bytes;

	CHECK(nh_models_init(&m, &c, 4) == 0);
	CHECK(see(&m, id, ob_exec("/app", NULL, t)) == 0);
	CHECK(nh_models_tick(&m, t + 60 * SEC, out, 8) == 0);
	t += 60 * SEC;
	nh_models_info(&m, id, &info);
	stable_bytes = info.bytes;
	int alerts = 0;

	for (int i = 0; i < 20000; i++) {
		struct nh_observation o;

		switch (i % 7) {
		case 0:
			snprintf(v, sizeof(v), "/bin/t%d", i);
			o = ob_exec(v, "/app", t);
			break;
		case 1:
			snprintf(v, sizeof(v), "%d.%d.%d.%d", 1 + i % 200, i / 7 % 256, i % 256,
				 i % 251);
			o = ob_v4(v, (uint16_t)(i % 4000), t);
			break;
		case 2:
			o = ob_in((uint16_t)i, t);
			break;
		case 3:
			snprintf(v, sizeof(v), "/d%d/e%d/f%d", i % 37, i % 101, i);
			o = ob(NH_CAT_FILE, v, t);
			break;
		case 4:
			snprintf(v, sizeof(v), "/k/%dz", i);
			o = ob_cred("kubeconfig", v, t);
			break;
		case 5:
			snprintf(v, sizeof(v), "setuid %d->0", i);
			o = ob(NH_CAT_PRIVILEGE, v, t);
			break;
		default:
			snprintf(v, sizeof(v), "ptrace attach %d", i);
			o = ob(NH_CAT_ISOLATION, v, t);
			break;
		}
		int n = see(&m, id, o);

		CHECK(n == 0 || n == 1);
		alerts += n;
		t++;
	}
	nh_models_info(&m, id, &info);
	for (int i = 0; i < NH_CAT_MAX; i++)
		CHECK(info.items[i] <= c.max_items[i] && info.bounded[i]);
	CHECK(alerts > 3000);
	CHECK(info.dropped > 0);
	/* max_items x (32-byte record + 320-byte value) x 1.5 with tables */
	CHECK(info.bytes < 400000);
	CHECK(info.bytes > stable_bytes);
	printf("flood: %zu bytes, %llu dropped, %d alerts\n", info.bytes,
	       (unsigned long long)info.dropped, alerts);
	nh_models_free(&m);
}

/* The brief's typical stable profile must stay under 16 KiB. */
static size_t typical_profile(struct nh_models *m, const char *id, uint64_t t)
{
	static const char *const dirs[] = {"/usr/lib/x86_64-linux-gnu",
					   "/etc",
					   "/etc/ssl/certs",
					   "/app/config",
					   "/var/lib/app/data",
					   "/proc/self",
					   "/usr/share/zoneinfo/Europe"};
	struct nh_profile_info info;
	char v[128];

	for (int i = 0; i < 20; i++) {
		snprintf(v, sizeof(v), "/usr/bin/tool-%02d", i);
		see(m, id, ob_exec(v, i % 3 ? "/usr/bin/app" : "/bin/sh", t));
	}
	for (int i = 0; i < 30; i++) {
		snprintf(v, sizeof(v), "10.%d.%d.%d", i % 3, i * 7 % 256, 10 + i);
		see(m, id, ob_v4(v, i % 4 ? 443 : 5432, t));
	}
	for (int i = 0; i < 5; i++)
		see(m, id, ob_in((uint16_t)(8080 + i), t));
	for (int i = 0; i < 80; i++) {
		snprintf(v, sizeof(v), "%s/file-%d.conf", dirs[i % 7], i);
		see(m, id, ob(NH_CAT_FILE, v, t));
	}
	for (int i = 0; i < 5; i++) {
		snprintf(v, sizeof(v), "/var/run/secrets/tokens/t%d", i);
		see(m, id, ob_cred("sa_token", v, t));
	}
	see(m, id, ob(NH_CAT_PRIVILEGE, "setuid 0->1000", t));
	see(m, id, ob(NH_CAT_PRIVILEGE, "setgid 0->1000", t));
	nh_models_tick(m, t + 60 * SEC, NULL, 0);
	nh_models_info(m, id, &info);
	CHECK(info.state == NH_PROFILE_STABLE);
	CHECK(info.items[NH_CAT_EXEC] == 20 && info.items[NH_CAT_EGRESS] == 30 &&
	      info.items[NH_CAT_INGRESS] == 5 && info.items[NH_CAT_FILE] == 80 &&
	      info.items[NH_CAT_CREDENTIAL] == 5 && info.items[NH_CAT_PRIVILEGE] == 2);
	return info.bytes;
}

static void test_memory(void)
{
	struct nh_model_config c = fast_cfg();
	struct nh_models m;
	size_t bytes;

	CHECK(nh_models_init(&m, &c, 4) == 0);
	bytes = typical_profile(&m, "k8s:sa/shop/typical", T0);
	printf("typical stable profile: %zu bytes\n", bytes);
	CHECK(bytes < 16384);
	nh_models_free(&m);
}

/* ---- registry ---- */

static void test_registry(void)
{
	struct nh_models m;
	struct nh_profile_info info;
	struct nh_model_config bad;
	char id[64];
	size_t n = 0, it = 0;
	bool seen[300] = {false};

	CHECK(nh_models_init(&m, NULL, 300) == 0);
	CHECK(m.cfg.max_items[NH_CAT_FILE] == 256 && m.cfg.max_children == 32);
	for (int i = 0; i < 300; i++) {
		snprintf(id, sizeof(id), "user:u%d", i);
		CHECK(see(&m, id, ob(NH_CAT_FILE, "/etc/hosts", T0)) == 0);
	}
	CHECK(m.len == 300);
	snprintf(id, sizeof(id), "user:u%d", 300);
	CHECK(see(&m, id, ob(NH_CAT_FILE, "/etc/hosts", T0)) == -ENOSPC);
	CHECK(see(&m, id, ob(NH_CAT_FILE, "/etc/hosts", T0)) == -ENOSPC);
	CHECK(m.dropped == 2 && m.len == 300);
	CHECK(nh_models_info(&m, id, &info) == -ENOENT);
	CHECK(see(&m, "user:u7", ob(NH_CAT_FILE, "/etc/group", T0)) == 0);
	while (nh_models_next(&m, &it, &info)) {
		int k = atoi(info.identity + 6);

		CHECK(k >= 0 && k < 300 && !seen[k]);
		if (k >= 0 && k < 300)
			seen[k] = true;
		CHECK(info.items[NH_CAT_FILE] == (k == 7 ? 2u : 1u));
		n++;
	}
	CHECK(n == 300);
	CHECK(!nh_models_next(&m, &it, &info));
	CHECK(nh_models_info(&m, "user:u299", &info) == 0 && info.events == 1);
	CHECK(nh_models_info(&m, NULL, &info) == -EINVAL);
	CHECK(nh_models_items(&m, "nobody", collect, NULL) == -ENOENT);
	nh_models_free(&m);
	CHECK(m.slots == NULL && m.len == 0);
	nh_models_free(&m);

	nh_model_config_defaults(&bad);
	CHECK(nh_models_init(&m, &bad, 0) == -EINVAL);
	bad.max_items[NH_CAT_EGRESS] = 0;
	CHECK(nh_models_init(&m, &bad, 1) == -EINVAL);
	nh_model_config_defaults(&bad);
	bad.ewma_alpha = 0;
	CHECK(nh_models_init(&m, &bad, 1) == -EINVAL);
	nh_model_config_defaults(&bad);
	bad.max_children = 0;
	CHECK(nh_models_init(&m, &bad, 1) == -EINVAL);
	CHECK(nh_models_init(NULL, NULL, 1) == -EINVAL);

	CHECK_STR(nh_category_name(NH_CAT_CREDENTIAL), "credential");
	CHECK_STR(nh_category_name(NH_CAT_MAX), "unknown");
	for (int c = 0; c < NH_CAT_MAX; c++)
		CHECK(nh_category_parse(nh_category_name((enum nh_category)c)) == c);
	CHECK(nh_category_parse("nope") == -EINVAL);
	CHECK(nh_category_parse(NULL) == -EINVAL);
	CHECK_STR(nh_severity_name(NH_SEV_CRITICAL), "critical");
	CHECK_STR(nh_severity_name(NH_SEV_LOW), "low");
	CHECK_STR(nh_severity_name((enum nh_severity)0), "unknown");
	CHECK_STR(nh_profile_state_name(NH_PROFILE_STABLE), "stable");
	CHECK_STR(nh_profile_state_name(NH_PROFILE_LEARNING), "learning");
}

/* ---- snapshots ---- */

/* Everything: parents, generalised egress, folded files, rates. */
static void rich_profile(struct nh_models *m, const char *id)
{
	char v[64];
	uint64_t t = T0;

	see(m, id, ob_exec("/usr/bin/app", "/usr/bin/containerd-shim", t));
	see(m, id, ob_exec("/usr/bin/app", "/bin/sh", t));
	see(m, id, ob_exec("/bin/sh", NULL, t));
	see(m, id, ob_exec("/usr/bin/curl", "/bin/sh", t));
	for (int i = 0; i < 40; i++) {
		snprintf(v, sizeof(v), "10.9.0.%d", i);
		see(m, id, ob_v4(v, 443, t + (uint64_t)i));
		snprintf(v, sizeof(v), "/var/cache/x/e%d", i);
		see(m, id, ob(NH_CAT_FILE, v, t + (uint64_t)i));
	}
	see(m, id, ob_v6("2001:db8::5", 53, t));
	see(m, id, ob_in(8080, t));
	see(m, id, ob(NH_CAT_FILE, "/proc/1/status", t));
	see(m, id, ob_cred("cloud_metadata", "169.254.169.254:80", t));
	see(m, id, ob(NH_CAT_PRIVILEGE, "capset +0x400", t));
	for (int i = 0; i < 3; i++) {
		struct nh_observation o = ob(NH_CAT_FILE, "/proc/1/status", t + (uint64_t)i * MIN);

		o.count = 150;
		see(m, id, o);
		nh_models_tick(m, t + (uint64_t)(i + 1) * MIN, NULL, 0);
	}
	see(m, id, ob(NH_CAT_FILE, "/proc/1/status", t + 3 * MIN + 1)); /* open minute */
}

static bool same_info(const struct nh_profile_info *a, const struct nh_profile_info *b, bool bytes)
{
	return strcmp(a->identity, b->identity) == 0 && a->state == b->state &&
	       a->created_ns == b->created_ns && a->stable_ns == b->stable_ns &&
	       a->last_new_ns == b->last_new_ns &&
	       memcmp(a->items, b->items, sizeof(a->items)) == 0 &&
	       memcmp(a->bounded, b->bounded, sizeof(a->bounded)) == 0 && a->events == b->events &&
	       a->anomalies == b->anomalies && a->dropped == b->dropped &&
	       (!bytes || a->bytes == b->bytes);
}

static bool same_items(struct nh_models *a, struct nh_models *b, const char *id)
{
	static struct items x;
	struct items *y;

	memcpy(&x, items_of(a, id), sizeof(x));
	y = items_of(b, id);
	if (x.n != y->n)
		return false;
	for (size_t i = 0; i < x.n; i++)
		if (x.v[i].cat != y->v[i].cat || strcmp(x.v[i].value, y->v[i].value) ||
		    x.v[i].count != y->v[i].count || x.v[i].first != y->v[i].first ||
		    x.v[i].last != y->v[i].last)
			return false;
	return true;
}

static void test_snapshot_roundtrip(void)
{
	struct nh_model_config c = fast_cfg();
	struct nh_models a, b;
	struct nh_profile_info ia, ib;
	uint8_t *buf = NULL, *again = NULL;
	size_t len = 0, alen = 0;
	const char *why = "x";
	const char *id = "k8s:sa/prod/api";
	uint64_t t = T0 + 10 * MIN;

	c.max_hosts = 4;
	c.max_items[NH_CAT_EGRESS] = 32;
	c.max_children = 16;
	CHECK(nh_models_init(&a, &c, 8) == 0);
	CHECK(nh_models_init(&b, &c, 8) == 0);
	rich_profile(&a, id);

	/* learning profile */
	CHECK(nh_models_encode(&a, id, &buf, &len) == 0);
	CHECK(len > 20 && memcmp(buf, "NHPF", 4) == 0);
	CHECK(nh_models_decode(&b, buf, len, &why) == 0);
	CHECK(why == NULL);
	nh_models_info(&a, id, &ia);
	nh_models_info(&b, id, &ib);
	CHECK(same_info(&ia, &ib, false));
	CHECK(same_items(&a, &b, id));
	CHECK(ia.bounded[NH_CAT_EGRESS] && ia.items[NH_CAT_EGRESS] < 32);
	CHECK(item_find(items_of(&a, id), NH_CAT_FILE, "/var/cache/x/*") != NULL);
	CHECK(nh_models_encode(&b, id, &again, &alen) == 0);
	CHECK(alen == len && memcmp(again, buf, len) == 0);
	free(buf);
	free(again);
	buf = again = NULL;

	/* stable profile: same bytes too, and the same behaviour */
	nh_models_tick(&a, t, NULL, 0);
	CHECK(state_of(&a, id) == NH_PROFILE_STABLE);
	CHECK(nh_models_encode(&a, id, &buf, &len) == 0);
	CHECK(nh_models_decode(&b, buf, len, &why) == 0); /* replaces */
	CHECK(b.len == 1);
	nh_models_info(&a, id, &ia);
	nh_models_info(&b, id, &ib);
	CHECK(same_info(&ia, &ib, true));
	CHECK(same_items(&a, &b, id));
	CHECK(nh_models_encode(&b, id, &again, &alen) == 0);
	CHECK(alen == len && memcmp(again, buf, len) == 0);
	{
		struct nh_observation probes[] = {
		    ob_exec("/usr/bin/app", "/bin/sh", t),
		    ob_exec("/usr/bin/wget", "/bin/sh", t),
		    ob_v4("10.9.0.200", 443, t),
		    ob_v4("10.9.1.200", 443, t),
		    ob_v6("2001:db8::5", 53, t),
		    ob_in(8080, t),
		    ob_in(9090, t),
		    ob(NH_CAT_FILE, "/var/cache/x/new-one", t),
		    ob(NH_CAT_FILE, "/var/cache/y", t),
		    ob(NH_CAT_FILE, "/proc/42/status", t),
		    ob_cred("cloud_metadata", "169.254.169.254:80", t),
		    ob_cred("sa_token", "/t", t),
		    ob(NH_CAT_PRIVILEGE, "capset +0x400", t),
		};
		for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
			int na, nb;

			CHECK(known(&a, id, probes[i]) == known(&b, id, probes[i]));
			na = see(&a, id, probes[i]);
			struct nh_anomaly oa = out[0];

			nb = see(&b, id, probes[i]);
			CHECK(na == nb);
			if (na == 1 && nb == 1)
				CHECK(strcmp(oa.value, out[0].value) == 0 &&
				      oa.severity == out[0].severity);
		}
		/* the rate state came along: the same minute closes the same */
		CHECK(nh_models_tick(&a, t + MIN, out, 8) == nh_models_tick(&b, t + MIN, out, 8));
		nh_models_info(&a, id, &ia);
		nh_models_info(&b, id, &ib);
		CHECK(same_info(&ia, &ib, false));
	}
	free(buf);
	free(again);
	buf = NULL;
	CHECK(nh_models_encode(&a, "nobody", &buf, &len) == -ENOENT);
	CHECK(nh_models_encode(&a, NULL, &buf, &len) == -EINVAL);
	CHECK(nh_models_decode(&a, NULL, 0, &why) == -EBADMSG);
	CHECK(nh_models_decode(NULL, NULL, 0, &why) == -EINVAL);
	nh_models_free(&a);
	nh_models_free(&b);
}

/* header + zlib + CRC around any body, as encode would. */
static size_t wrap(const uint8_t *raw, size_t rlen, uint8_t *dst, size_t cap)
{
	uLongf clen = cap - 20;
	uint32_t crc;

	if (compress(dst + 20, &clen, raw, rlen) != Z_OK)
		return 0;
	memcpy(dst, "NHPF\x01\x00\x00\x00", 8);
	crc = (uint32_t)crc32(0L, dst + 20, (uInt)clen);
	for (int i = 0; i < 4; i++) {
		dst[8 + i] = (uint8_t)(clen >> (8 * i));
		dst[12 + i] = (uint8_t)(crc >> (8 * i));
		dst[16 + i] = (uint8_t)(rlen >> (8 * i));
	}
	return 20 + clen;
}

/* A hand-made Profile message; fields set by the caller through hooks. */
struct forge {
	Nhiscope__Profile p;
	Nhiscope__ProfileCategory c[2], *cp[2];
	Nhiscope__ProfileItem it[3], *ip[3];
	ProtobufCBinaryData par[10];
};

static void forge_init(struct forge *f)
{
	nhiscope__profile__init(&f->p);
	f->p.identity.data = (uint8_t *)"user:forged";
	f->p.identity.len = 11;
	f->p.created_ns = f->p.last_new_ns = T0;
	f->p.rate_minute = T0 / MIN;
	for (int i = 0; i < 2; i++) {
		nhiscope__profile_category__init(&f->c[i]);
		f->cp[i] = &f->c[i];
	}
	for (int i = 0; i < 3; i++) {
		nhiscope__profile_item__init(&f->it[i]);
		f->ip[i] = &f->it[i];
		f->it[i].first_ns = f->it[i].last_ns = T0;
		f->it[i].count = 1;
	}
	f->c[0].category = NH_CAT_EXEC;
	f->c[0].n_items = 2;
	f->c[0].items = &f->ip[0];
	f->it[0].value.data = (uint8_t *)"/bin/a";
	f->it[0].value.len = 6;
	f->it[1].value.data = (uint8_t *)"/bin/b";
	f->it[1].value.len = 6;
	f->c[1].category = NH_CAT_EGRESS;
	f->c[1].n_items = 1;
	f->c[1].items = &f->ip[2];
	f->it[2].value.data = (uint8_t *)"10.0.0.1:443";
	f->it[2].value.len = 12;
	f->p.n_categories = 2;
	f->p.categories = f->cp;
	for (int i = 0; i < 10; i++) {
		f->par[i].data = (uint8_t *)"/bin/parent0123456789";
		f->par[i].len = 12 + (size_t)i;
	}
}

static int forge_decode(struct nh_models *m, struct forge *f, const char **why)
{
	static uint8_t raw[65536], snap[70000];
	size_t rlen = nhiscope__profile__get_packed_size(&f->p), slen;

	if (rlen > sizeof(raw))
		return -E2BIG;
	nhiscope__profile__pack(&f->p, raw);
	slen = wrap(raw, rlen, snap, sizeof(snap));
	return nh_models_decode(m, snap, slen, why);
}

static void expect_forged(struct nh_models *m, struct forge *f, int err, const char *why_want)
{
	const char *why = NULL;
	int rc = forge_decode(m, f, &why);

	if (rc != err || (why_want && (!why || strcmp(why, why_want))))
		fprintf(stderr, "  forged: %d %s, wanted %d %s\n", rc, why ? why : "(null)", err,
			why_want ? why_want : "");
	CHECK(rc == err);
	if (why_want)
		CHECK(why && strcmp(why, why_want) == 0);
	forge_init(f);
}

static void test_snapshot_forged(void)
{
	struct nh_model_config c = fast_cfg();
	struct nh_models m;
	struct forge f;
	struct nh_profile_info info;
	const char *why;
	static uint8_t raw[4096], snap[8192];
	size_t n;

	CHECK(nh_models_init(&m, &c, 2) == 0);
	forge_init(&f);
	expect_forged(&m, &f, 0, NULL);
	CHECK(nh_models_info(&m, "user:forged", &info) == 0 && info.items[NH_CAT_EXEC] == 2);
	CHECK(nh_models_reset(&m, "user:forged", T0) == 0);

	f.p.state = 2;
	expect_forged(&m, &f, -EINVAL, "bad state");
	f.p.identity.len = 0;
	expect_forged(&m, &f, -EINVAL, "bad identity");
	f.p.identity.data = (uint8_t *)"user:\0nul";
	f.p.identity.len = 9;
	expect_forged(&m, &f, -EINVAL, "bad identity");
	f.p.last_new_ns = T0 - 1;
	expect_forged(&m, &f, -EINVAL, "bad timestamps");
	f.p.rate_minute = T0 / MIN - 1;
	expect_forged(&m, &f, -EINVAL, "bad timestamps");
	f.p.stable_ns = T0;
	expect_forged(&m, &f, -EINVAL, "bad timestamps");
	f.p.state = NH_PROFILE_STABLE;
	f.p.stable_ns = T0 - 1;
	expect_forged(&m, &f, -EINVAL, "bad timestamps");
	f.c[1].category = 9;
	expect_forged(&m, &f, -EINVAL, "bad category");
	f.c[1].category = NH_CAT_EXEC;
	expect_forged(&m, &f, -EINVAL, "duplicate category");
	f.it[1].value = f.it[0].value;
	expect_forged(&m, &f, -EINVAL, "duplicate item");
	f.it[1].value.len = 0;
	expect_forged(&m, &f, -EINVAL, "bad item value");
	f.it[1].value.data = (uint8_t *)"/bin/\0b";
	f.it[1].value.len = 7;
	expect_forged(&m, &f, -EINVAL, "bad item value");
	f.it[2].value.data = (uint8_t *)"10.0.0.01:443";
	f.it[2].value.len = 13;
	expect_forged(&m, &f, -EINVAL, "bad item value");
	f.c[1].category = NH_CAT_INGRESS;
	f.it[2].value.data = (uint8_t *)"080";
	f.it[2].value.len = 3;
	expect_forged(&m, &f, -EINVAL, "bad item value");
	f.c[1].category = NH_CAT_INGRESS;
	f.it[2].value.data = (uint8_t *)"65536";
	f.it[2].value.len = 5;
	expect_forged(&m, &f, -EINVAL, "bad item value");
	f.c[1].category = NH_CAT_CREDENTIAL;
	f.it[2].value.data = (uint8_t *)":x";
	f.it[2].value.len = 2;
	expect_forged(&m, &f, -EINVAL, "bad item value");
	f.it[0].first_ns = T0 + 1;
	expect_forged(&m, &f, -EINVAL, "bad item counters");
	f.it[0].count = 0;
	expect_forged(&m, &f, -EINVAL, "bad item counters");
	f.it[2].n_parents = 1;
	f.it[2].parents = f.par;
	expect_forged(&m, &f, -EINVAL, "parents on a non-exec item");
	f.it[0].n_parents = 9;
	f.it[0].parents = f.par;
	expect_forged(&m, &f, -EINVAL, "too many parents");
	f.it[0].n_parents = 2;
	f.it[0].parents = f.par;
	f.par[1] = f.par[0];
	expect_forged(&m, &f, -EINVAL, "duplicate parent");
	f.it[0].n_parents = 1;
	f.it[0].parents = f.par;
	f.par[0].len = 0;
	expect_forged(&m, &f, -EINVAL, "bad parent");
	f.c[0].rate_mean = -1;
	expect_forged(&m, &f, -EINVAL, "bad rate state");
	f.c[0].rate_var = 1.0 / 0.0;
	expect_forged(&m, &f, -EINVAL, "bad rate state");
	{
		static Nhiscope__ProfileItem many[300], *mp[300];
		static char names[300][16];

		for (int i = 0; i < 300; i++) {
			nhiscope__profile_item__init(&many[i]);
			snprintf(names[i], sizeof(names[i]), "/b/%d", i);
			many[i].value.data = (uint8_t *)names[i];
			many[i].value.len = strlen(names[i]);
			many[i].count = 1;
			mp[i] = &many[i];
		}
		f.c[0].n_items = 129;
		f.c[0].items = mp;
		expect_forged(&m, &f, -EINVAL, "too many items");
		f.c[0].n_items = 128;
		f.c[0].items = mp;
		expect_forged(&m, &f, 0, NULL);
	}
	/* a valid profile that passes max_profiles */
	f.p.identity.data = (uint8_t *)"user:second";
	expect_forged(&m, &f, 0, NULL);
	f.p.identity.data = (uint8_t *)"user:third!";
	expect_forged(&m, &f, -ENOSPC, "no room for another profile");
	CHECK(m.len == 2);

	/* framing: good CRC over bad contents */
	memset(raw, 0xff, 64);
	n = wrap(raw, 64, snap, sizeof(snap));
	CHECK(nh_models_decode(&m, snap, n, &why) == -EBADMSG);
	CHECK_STR(why, "bad protobuf");
	n = wrap(raw, 64, snap, sizeof(snap));
	snap[16] = 63; /* raw length one short */
	CHECK(nh_models_decode(&m, snap, n, &why) == -EBADMSG);
	CHECK_STR(why, "length mismatch");
	snap[16] = 65;
	CHECK(nh_models_decode(&m, snap, n, &why) == -EBADMSG);
	CHECK_STR(why, "length mismatch");
	{
		/* not zlib at all, checksummed */
		uint32_t crc;

		memcpy(snap, "NHPF\x01\x00\x00\x00", 8);
		memset(snap + 20, 0x42, 32);
		crc = (uint32_t)crc32(0L, snap + 20, 32);
		for (int i = 0; i < 4; i++) {
			snap[8 + i] = (uint8_t)(32 >> (8 * i));
			snap[12 + i] = (uint8_t)(crc >> (8 * i));
			snap[16 + i] = (uint8_t)(100 >> (8 * i));
		}
		CHECK(nh_models_decode(&m, snap, 52, &why) == -EBADMSG);
		CHECK_STR(why, "corrupt body");
		snap[18] = 0x80; /* 8 MiB */
		CHECK(nh_models_decode(&m, snap, 52, &why) == -EBADMSG);
		CHECK_STR(why, "body too large");
	}
	{
		/* a zlib stream followed by more bytes inside the body */
		uLongf cl = sizeof(snap) - 20;
		uint32_t crc;

		compress(snap + 20, &cl, raw, 64);
		snap[20 + cl] = 0;
		cl++;
		crc = (uint32_t)crc32(0L, snap + 20, (uInt)cl);
		for (int i = 0; i < 4; i++) {
			snap[8 + i] = (uint8_t)(cl >> (8 * i));
			snap[12 + i] = (uint8_t)(crc >> (8 * i));
			snap[16 + i] = (uint8_t)(64 >> (8 * i));
		}
		CHECK(nh_models_decode(&m, snap, 20 + cl, &why) == -EBADMSG);
		CHECK_STR(why, "trailing bytes in body");
	}
	nh_models_free(&m);
}

static void test_snapshot_corrupt(void)
{
	struct nh_model_config c = fast_cfg();
	struct nh_models m, mm;
	struct nh_profile_info before, after;
	uint8_t *buf = NULL, *bad;
	size_t len = 0, errors = 0, ok = 0;
	const char *why;
	uint32_t seed = 99;

	CHECK(nh_models_init(&m, &c, 8) == 0);
	CHECK(nh_models_init(&mm, &c, 8) == 0);
	learn_basic(&m);
	CHECK(see(&mm, "user:bystander", ob_exec("/bin/true", NULL, T0)) == 0);
	nh_models_info(&mm, "user:bystander", &before);
	CHECK(nh_models_encode(&m, ID, &buf, &len) == 0);
	bad = malloc(len + 16);

	/* every byte flipped, each bit in turn: an error or a valid profile */
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			int rc;

			memcpy(bad, buf, len);
			bad[i] ^= (uint8_t)(1u << bit);
			why = NULL;
			rc = nh_models_decode(&mm, bad, len, &why);
			if (rc == 0) {
				ok++;
			} else {
				errors++;
				CHECK(why != NULL);
			}
		}
	}
	CHECK(errors == len * 8 && ok == 0);
	CHECK(mm.len == 1);
	nh_models_info(&mm, "user:bystander", &after);
	CHECK(same_info(&before, &after, true));
	/* truncated at every length, and extended */
	for (size_t i = 0; i < len; i++) {
		why = NULL;
		CHECK(nh_models_decode(&mm, buf, i, &why) < 0 && why);
	}
	memcpy(bad, buf, len);
	bad[len] = 0;
	CHECK(nh_models_decode(&mm, bad, len + 1, &why) == -EBADMSG);
	CHECK_STR(why, "trailing bytes");
	CHECK(nh_models_decode(&mm, buf, 10, &why) == -EBADMSG);
	CHECK_STR(why, "truncated");
	memcpy(bad, buf, len);
	bad[0] = 'X';
	CHECK(nh_models_decode(&mm, bad, len, &why) == -EBADMSG);
	CHECK_STR(why, "bad magic");
	memcpy(bad, buf, len);
	bad[4] = 2;
	CHECK(nh_models_decode(&mm, bad, len, &why) == -EBADMSG);
	CHECK_STR(why, "unsupported version");
	memcpy(bad, buf, len);
	bad[6] = 1;
	CHECK(nh_models_decode(&mm, bad, len, &why) == -EBADMSG);
	CHECK_STR(why, "unknown flags");
	memcpy(bad, buf, len);
	bad[len - 1] ^= 0x10;
	CHECK(nh_models_decode(&mm, bad, len, &why) == -EBADMSG);
	CHECK_STR(why, "checksum mismatch");
	memcpy(bad, buf, len);
	memset(bad + 16, 0, 4);
	CHECK(nh_models_decode(&mm, bad, len, &why) == -EBADMSG);
	CHECK_STR(why, "empty body");
	/* garbage */
	for (int r = 0; r < 2000; r++) {
		size_t n = (size_t)(r % 200);

		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245 + 12345;
			bad[i % (len + 16)] = (uint8_t)(seed >> 16);
		}
		if (r % 2 && n >= 4)
			memcpy(bad, "NHPF", 4);
		CHECK(nh_models_decode(&mm, bad, n < len + 16 ? n : len + 16, &why) < 0);
	}
	CHECK(mm.len == 1);
	/* and the intact one still decodes */
	CHECK(nh_models_decode(&mm, buf, len, &why) == 0 && mm.len == 2);
	free(buf);
	free(bad);
	nh_models_free(&m);
	nh_models_free(&mm);
}

/* ---- fuzz seeds ---- */

static void write_file(const char *dir, const char *name, uint8_t mode, const uint8_t *b, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f)
		return;
	fputc(mode, f);
	fwrite(b, 1, n, f);
	fclose(f);
}

static void write_seed(struct nh_models *m, const char *id, const char *dir, const char *name)
{
	uint8_t *buf = NULL, *raw;
	size_t len = 0;
	uLongf rlen;
	char n2[128];

	if (nh_models_encode(m, id, &buf, &len))
		return;
	write_file(dir, name, 0, buf, len);
	rlen = (uLongf)(buf[16] | buf[17] << 8 | buf[18] << 16 | (uint32_t)buf[19] << 24);
	raw = malloc(rlen);
	if (raw && uncompress(raw, &rlen, buf + 20, len - 20) == Z_OK) {
		snprintf(n2, sizeof(n2), "%s-body", name);
		write_file(dir, n2, 1, raw, rlen);
	}
	free(raw);
	free(buf);
}

static void write_seeds(const char *dir)
{
	struct nh_model_config c = fast_cfg();
	struct nh_models m;

	c.max_hosts = 4;
	c.max_items[NH_CAT_EGRESS] = 32;
	c.max_children = 16;
	nh_models_init(&m, &c, 8);
	see(&m, "user:tiny", ob_exec("/bin/true", NULL, T0));
	write_seed(&m, "user:tiny", dir, "tiny");
	learn_basic(&m);
	write_seed(&m, ID, dir, "basic");
	rich_profile(&m, "k8s:sa/prod/api");
	write_seed(&m, "k8s:sa/prod/api", dir, "rich");
	nh_models_tick(&m, T0 + 20 * MIN, NULL, 0);
	write_seed(&m, "k8s:sa/prod/api", dir, "rich-stable");
	nh_models_free(&m);

	/* files past their bound: a wide "dir/\*" */
	c.max_items[NH_CAT_FILE] = 4;
	nh_models_init(&m, &c, 8);
	for (int i = 0; i < 6; i++) {
		char v[32];

		snprintf(v, sizeof(v), "/srv/f%c", 'g' + i);
		see(&m, "user:wide", ob(NH_CAT_FILE, v, T0 + (uint64_t)i));
	}
	write_seed(&m, "user:wide", dir, "wide");
	nh_models_free(&m);
}

int main(void)
{
	const char *seeds = getenv("NH_WRITE_SEEDS");

	if (seeds) {
		write_seeds(seeds);
		return 0;
	}
	test_paths();
	test_endpoints();
	test_novelty();
	test_lifecycle();
	test_known();
	test_rates();
	test_bounds();
	test_flood();
	test_memory();
	test_registry();
	test_snapshot_roundtrip();
	test_snapshot_forged();
	test_snapshot_corrupt();
	return nh_check_report("test_models");
}
