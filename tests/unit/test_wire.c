/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for models/wire.c: every record kind round-trips, the rules
 * and caps hold on both sides, and garbage is refused without a crash. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "wire.pb-c.h"
#include "wire.h"

static uint8_t buf[NH_WIRE_MAX + 4096];

static void base(struct nh_wire_record *r, enum nh_wire_kind kind)
{
	memset(r, 0, sizeof(*r));
	r->id.node = "node-a";
	r->id.boot_id = "0f1e2d3c-4b5a-4697-8877-665544332211";
	r->id.seq = 42;
	r->kind = kind;
	r->time_ns = 1700000000123456789ull;
	r->identity.key = "k8s:sa/payments/api";
	r->identity.pod_uid = "7d5e3e0c-3c1f-4f4b-9a8e-2b1c0d9e8f7a";
	r->identity.pod_name = "api-7c9f8-abcde";
	r->identity.namespace = "payments";
	r->identity.service_account = "api";
	r->identity.container_id = "0123456789abcdef";
	r->identity.unit = "";
	r->identity.workload_kind = "Deployment";
	r->identity.workload_name = "api";
	r->identity.node = "node-a";
	r->process.pid = 4242;
	r->process.ppid = 1;
	r->process.uid = 65534;
	r->process.user = "nobody";
	r->process.comm = "curl";
	r->process.exe = "/usr/bin/curl";
}

/* pack then unpack; the caller nh_wire_free()s *out */
static int round_trip(const struct nh_wire_record *in, struct nh_wire_record *out)
{
	const char *why = NULL;
	size_t len = 0;
	int rc = nh_wire_pack(in, buf, sizeof(buf), &len);

	if (rc)
		return rc;
	if (len != nh_wire_packed_size(in))
		return -EPROTO;
	rc = nh_wire_unpack(buf, len, out, &why);
	if (rc)
		fprintf(stderr, "  unpack: %s\n", why ? why : "?");
	return rc;
}

static void expect_common(const struct nh_wire_record *a, const struct nh_wire_record *b)
{
	CHECK_STR(b->id.node, a->id.node);
	CHECK_STR(b->id.boot_id, a->id.boot_id);
	CHECK(b->id.seq == a->id.seq);
	CHECK(b->kind == a->kind);
	CHECK(b->time_ns == a->time_ns);
	CHECK_STR(b->identity.key, a->identity.key);
	CHECK_STR(b->identity.pod_uid, a->identity.pod_uid);
	CHECK_STR(b->identity.pod_name, a->identity.pod_name);
	CHECK_STR(b->identity.namespace, a->identity.namespace);
	CHECK_STR(b->identity.service_account, a->identity.service_account);
	CHECK_STR(b->identity.container_id, a->identity.container_id);
	CHECK_STR(b->identity.unit, a->identity.unit);
	CHECK_STR(b->identity.workload_kind, a->identity.workload_kind);
	CHECK_STR(b->identity.workload_name, a->identity.workload_name);
	CHECK_STR(b->identity.node, a->identity.node);
	CHECK(b->process.pid == a->process.pid);
	CHECK(b->process.ppid == a->process.ppid);
	CHECK(b->process.uid == a->process.uid);
	CHECK_STR(b->process.user, a->process.user);
	CHECK_STR(b->process.comm, a->process.comm);
	CHECK_STR(b->process.exe, a->process.exe);
	CHECK(b->priv != NULL);
}

static void test_anomaly(void)
{
	struct nh_wire_record r, o;

	base(&r, NH_WIRE_ANOMALY);
	r.anomaly.category = NH_WIRE_CAT_CREDENTIAL;
	r.anomaly.severity = NH_WIRE_SEV_HIGH;
	r.anomaly.rate = false;
	r.anomaly.value = "/var/run/secrets/kubernetes.io/serviceaccount/token";
	r.anomaly.technique_id = "T1528";
	r.anomaly.technique_name = "Steal Application Access Token";
	r.anomaly.explanation = "first use of this credential by k8s:sa/payments/api";
	r.anomaly.baseline_age_ns = 86400ull * 1000000000ull;
	r.anomaly.baseline_items = 17;
	r.anomaly.rate_observed = 512.5;
	r.anomaly.rate_mean = 3.25;
	r.anomaly.rate_stddev = 1.5;
	CHECK(nh_wire_check(&r, NULL) == 0);
	CHECK(round_trip(&r, &o) == 0);
	expect_common(&r, &o);
	CHECK(o.anomaly.category == NH_WIRE_CAT_CREDENTIAL);
	CHECK(o.anomaly.severity == NH_WIRE_SEV_HIGH);
	CHECK(!o.anomaly.rate);
	CHECK_STR(o.anomaly.value, r.anomaly.value);
	CHECK_STR(o.anomaly.technique_id, "T1528");
	CHECK_STR(o.anomaly.technique_name, r.anomaly.technique_name);
	CHECK_STR(o.anomaly.explanation, r.anomaly.explanation);
	CHECK(o.anomaly.baseline_age_ns == r.anomaly.baseline_age_ns);
	CHECK(o.anomaly.baseline_items == 17);
	CHECK(o.anomaly.rate_observed == 512.5);
	CHECK(o.anomaly.rate_mean == 3.25);
	CHECK(o.anomaly.rate_stddev == 1.5);
	nh_wire_free(&o);
	CHECK(o.priv == NULL && o.kind == NH_WIRE_NONE);
	nh_wire_free(&o); /* idempotent */

	/* a rate anomaly; non-finite rates are written as 0 */
	r.anomaly.rate = true;
	r.anomaly.value = "file";
	r.anomaly.rate_observed = NAN;
	r.anomaly.rate_stddev = INFINITY;
	CHECK(round_trip(&r, &o) == 0);
	CHECK(o.anomaly.rate);
	CHECK(o.anomaly.rate_observed == 0 && o.anomaly.rate_stddev == 0);
	CHECK(o.anomaly.rate_mean == 3.25);
	nh_wire_free(&o);
}

static void test_credential_use(void)
{
	struct nh_wire_record r, o;

	base(&r, NH_WIRE_CREDENTIAL_USE);
	r.credential_use.credential_kind = "cloud_metadata";
	r.credential_use.credential = "169.254.169.254:80";
	r.credential_use.via = "connect";
	r.credential_use.result = -111;
	r.credential_use.count = 501;
	CHECK(round_trip(&r, &o) == 0);
	expect_common(&r, &o);
	CHECK_STR(o.credential_use.credential_kind, "cloud_metadata");
	CHECK_STR(o.credential_use.credential, "169.254.169.254:80");
	CHECK_STR(o.credential_use.via, "connect");
	CHECK(o.credential_use.result == -111);
	CHECK(o.credential_use.count == 501);
	nh_wire_free(&o);

	/* an open's path as written, truncation, how it was recognised */
	r.credential_use.path = "/proc/self/root/var/run/x";
	r.credential_use.path_truncated = true;
	r.credential_use.matched_by = "inode";
	CHECK(round_trip(&r, &o) == 0);
	CHECK_STR(o.credential_use.path, "/proc/self/root/var/run/x");
	CHECK(o.credential_use.path_truncated);
	CHECK_STR(o.credential_use.matched_by, "inode");
	nh_wire_free(&o);
	r.credential_use.path = r.credential_use.matched_by = NULL;
	r.credential_use.path_truncated = false;

	/* count 0 is written as 1 */
	r.credential_use.count = 0;
	r.credential_use.result = 3;
	CHECK(round_trip(&r, &o) == 0);
	CHECK(o.credential_use.count == 1);
	CHECK(o.credential_use.result == 3);
	nh_wire_free(&o);
}

static void test_findings(void)
{
	struct nh_wire_record r, o;

	base(&r, NH_WIRE_FINDING);
	r.finding.type = NH_WIRE_FINDING_SECRET_EXPOSURE;
	r.finding.secret_kind = "aws_access_key";
	r.finding.fingerprint = "AKIA…MPLE#3f2a";
	r.finding.argument = "--key=[REDACTED:aws_access_key]";
	r.finding.path = "/usr/bin/aws";
	r.finding.arg_index = 3;
	r.finding.fingerprint_previous = "hmac-sha256:0badc0de:0123456789abcdef01234567";
	r.identity.source = "kubelet-volume";
	r.identity.verified = true;
	CHECK(round_trip(&r, &o) == 0);
	expect_common(&r, &o);
	CHECK_STR(o.identity.source, "kubelet-volume");
	CHECK(o.identity.verified);
	CHECK_STR(o.finding.fingerprint_previous, r.finding.fingerprint_previous);
	CHECK(o.finding.type == NH_WIRE_FINDING_SECRET_EXPOSURE);
	CHECK_STR(o.finding.secret_kind, "aws_access_key");
	CHECK_STR(o.finding.fingerprint, r.finding.fingerprint);
	CHECK_STR(o.finding.argument, r.finding.argument);
	CHECK_STR(o.finding.path, "/usr/bin/aws");
	CHECK(o.finding.arg_index == 3);
	CHECK(o.finding.n_identities == 0);
	CHECK_STR(o.finding.reason, "");
	nh_wire_free(&o);

	memset(&r.finding, 0, sizeof(r.finding));
	r.finding.type = NH_WIRE_FINDING_HUMAN_USE;
	r.finding.reason = "entered_namespace";
	r.finding.path = "/bin/sh";
	CHECK(round_trip(&r, &o) == 0);
	CHECK(o.finding.type == NH_WIRE_FINDING_HUMAN_USE);
	CHECK_STR(o.finding.reason, "entered_namespace");
	nh_wire_free(&o);

	memset(&r.finding, 0, sizeof(r.finding));
	r.finding.type = NH_WIRE_FINDING_CREDENTIAL_REUSE;
	r.finding.credential_kind = "ssh_key";
	r.finding.credential = "/root/.ssh/id_ed25519";
	r.finding.n_identities = NH_WIRE_IDENTITIES_MAX;
	for (size_t i = 0; i < NH_WIRE_IDENTITIES_MAX; i++)
		r.finding.identities[i] = i % 2 ? "unit:backup.service" : "user:deploy";
	CHECK(round_trip(&r, &o) == 0);
	CHECK(o.finding.type == NH_WIRE_FINDING_CREDENTIAL_REUSE);
	CHECK_STR(o.finding.credential, "/root/.ssh/id_ed25519");
	CHECK_STR(o.finding.credential_kind, "ssh_key");
	CHECK(o.finding.n_identities == NH_WIRE_IDENTITIES_MAX);
	CHECK_STR(o.finding.identities[0], "user:deploy");
	CHECK_STR(o.finding.identities[NH_WIRE_IDENTITIES_MAX - 1], "unit:backup.service");
	nh_wire_free(&o);

	/* identity_conflict: both claims, and neither may be missing */
	memset(&r.finding, 0, sizeof(r.finding));
	r.finding.type = NH_WIRE_FINDING_IDENTITY_CONFLICT;
	r.finding.claimed_identity = "k8s:sa/kube-system/admin";
	r.finding.believed_identity = "k8s:sa/shop/web";
	r.finding.reason = "service account changed during the pod's life";
	CHECK(round_trip(&r, &o) == 0);
	CHECK(o.finding.type == NH_WIRE_FINDING_IDENTITY_CONFLICT);
	CHECK_STR(o.finding.claimed_identity, "k8s:sa/kube-system/admin");
	CHECK_STR(o.finding.believed_identity, "k8s:sa/shop/web");
	CHECK_STR(o.finding.reason, r.finding.reason);
	nh_wire_free(&o);
	r.finding.believed_identity = NULL;
	CHECK(round_trip(&r, &o) != 0);
}

static void test_activity_loss_heartbeat(void)
{
	struct nh_wire_record r, o;

	/* typed activity: every field of every kind survives, and so do
	 * the context, the token facts and the process extras */
	base(&r, NH_WIRE_ACTIVITY);
	r.identity.context = (struct nh_wire_context){
	    .cgroup = "/kubepods/burstable/pod7d5e/0123",
	    .cgroup_kind = "pod",
	    .delegated = true,
	    .qos = "burstable",
	    .runtime = "containerd",
	    .token_state = "valid",
	    .has_token = true,
	    .token = {"fp:1234", 1700000000, 1700003600, false, true},
	};
	r.process.tid = 4243;
	r.process.start_ms = 123456780;
	r.process.gid = 65533;
	r.process.mntns = 4026531840ull;
	r.process.cgroup_id = 987654321987ull;
	r.process.interactive = true;
	r.activity.event = NH_WIRE_EV_EXEC;
	r.activity.path = "/usr/bin/curl";
	r.activity.args[0] = "curl";
	r.activity.args[1] = "-H";
	r.activity.args[2] = "Authorization: Bearer ***";
	r.activity.n_args = 3;
	r.activity.secrets_redacted = 1;
	r.activity.ns_pid = 7;
	r.activity.tty = true;
	r.activity.args_truncated = true;
	r.activity.args_bytes = 40000;
	CHECK(round_trip(&r, &o) == 0);
	expect_common(&r, &o);
	CHECK(o.format == NH_WIRE_FORMAT);
	CHECK(o.activity.event == NH_WIRE_EV_EXEC);
	CHECK_STR(o.activity.kind, "exec");
	CHECK(o.activity.legacy_json == NULL);
	CHECK_STR(o.activity.path, "/usr/bin/curl");
	CHECK(o.activity.n_args == 3);
	CHECK_STR(o.activity.args[2], "Authorization: Bearer ***");
	CHECK(o.activity.secrets_redacted == 1 && o.activity.ns_pid == 7);
	CHECK(o.activity.tty && !o.activity.entered_namespace && o.activity.args_truncated);
	CHECK(o.activity.args_bytes == 40000);
	CHECK_STR(o.identity.context.cgroup, "/kubepods/burstable/pod7d5e/0123");
	CHECK_STR(o.identity.context.cgroup_kind, "pod");
	CHECK(o.identity.context.delegated && !o.identity.context.user_unit);
	CHECK_STR(o.identity.context.qos, "burstable");
	CHECK_STR(o.identity.context.runtime, "containerd");
	CHECK_STR(o.identity.context.token_state, "valid");
	CHECK(o.identity.context.has_token);
	CHECK_STR(o.identity.context.token.fingerprint, "fp:1234");
	CHECK(o.identity.context.token.issued_at == 1700000000);
	CHECK(o.identity.context.token.expires_at == 1700003600);
	CHECK(!o.identity.context.token.long_lived && o.identity.context.token.legacy);
	CHECK(o.process.tid == 4243 && o.process.gid == 65533);
	CHECK(o.process.start_ms == 123456780);
	CHECK(o.process.mntns == 4026531840ull && o.process.cgroup_id == 987654321987ull);
	CHECK(o.process.interactive && !o.process.repeat);
	nh_wire_free(&o);

	base(&r, NH_WIRE_ACTIVITY);
	r.activity.event = NH_WIRE_EV_CONNECT;
	r.activity.ipv6 = true;
	r.activity.address = "fd00::1";
	r.activity.port = 443;
	r.activity.fd = -1;
	r.activity.result = -111;
	CHECK(round_trip(&r, &o) == 0);
	CHECK(o.activity.event == NH_WIRE_EV_CONNECT && o.activity.ipv6);
	CHECK_STR(o.activity.address, "fd00::1");
	CHECK(o.activity.port == 443 && o.activity.fd == -1 && o.activity.result == -111);
	/* no context sent: all of it empty, never NULL */
	CHECK_STR(o.identity.context.cgroup_kind, "");
	CHECK_STR(o.identity.context.token.fingerprint, "");
	CHECK(!o.identity.context.has_token);
	nh_wire_free(&o);

	base(&r, NH_WIRE_ACTIVITY);
	r.activity.event = NH_WIRE_EV_OPEN;
	r.activity.syscall = "openat";
	r.activity.path = "rel/x";
	r.activity.flags = 0101;
	r.activity.mode = 0600;
	r.activity.dirfd = 3;
	r.activity.result = 5;
	r.activity.deduplicated = r.activity.path_truncated = true;
	r.activity.credential = "/root/.ssh/id_rsa";
	r.activity.credential_kind = "ssh_private_key";
	CHECK(round_trip(&r, &o) == 0);
	CHECK_STR(o.activity.syscall, "openat");
	CHECK_STR(o.activity.credential, "/root/.ssh/id_rsa");
	CHECK_STR(o.activity.credential_kind, "ssh_private_key");
	CHECK(o.activity.flags == 0101 && o.activity.mode == 0600 && o.activity.dirfd == 3);
	CHECK(o.activity.result == 5 && o.activity.deduplicated && o.activity.path_truncated);
	nh_wire_free(&o);

	base(&r, NH_WIRE_ACTIVITY);
	r.activity.event = NH_WIRE_EV_SETUID;
	r.activity.syscall = "setresuid";
	r.activity.old_ids = (struct nh_wire_ids){1000, 1000, 1000};
	r.activity.new_ids = (struct nh_wire_ids){0, 0, 4294967295u};
	CHECK(round_trip(&r, &o) == 0);
	CHECK(o.activity.old_ids.saved == 1000 && o.activity.new_ids.effective == 0);
	CHECK(o.activity.new_ids.saved == 4294967295u);
	nh_wire_free(&o);

	base(&r, NH_WIRE_ACTIVITY);
	r.activity.event = NH_WIRE_EV_CAPSET;
	r.activity.old_caps = (struct nh_wire_caps){1, 2, 3};
	r.activity.new_caps = (struct nh_wire_caps){~0ull, 0, 1ull << 40};
	CHECK(round_trip(&r, &o) == 0);
	CHECK(o.activity.old_caps.inheritable == 3 && o.activity.new_caps.effective == ~0ull);
	CHECK(o.activity.new_caps.inheritable == 1ull << 40);
	nh_wire_free(&o);

	base(&r, NH_WIRE_ACTIVITY);
	r.process.repeat = true;
	r.activity.event = NH_WIRE_EV_SUMMARY;
	r.activity.of = NH_WIRE_EV_OPEN;
	r.activity.count = 12345;
	r.activity.object = "/etc/passwd";
	r.activity.window_start_ns = 1700000000000000001ull;
	CHECK(round_trip(&r, &o) == 0);
	CHECK(o.process.repeat && o.activity.of == NH_WIRE_EV_OPEN && o.activity.count == 12345);
	CHECK_STR(o.activity.object, "/etc/passwd");
	CHECK(o.activity.window_start_ns == 1700000000000000001ull);
	nh_wire_free(&o);

	base(&r, NH_WIRE_ACTIVITY);
	r.activity.event = NH_WIRE_EV_FORK;
	r.activity.child_pid = 99;
	CHECK(round_trip(&r, &o) == 0);
	CHECK(o.activity.child_pid == 99);
	nh_wire_free(&o);
	base(&r, NH_WIRE_ACTIVITY);
	r.activity.event = NH_WIRE_EV_EXIT;
	r.activity.exit_code = 1;
	r.activity.signal = 9;
	CHECK(round_trip(&r, &o) == 0);
	CHECK(o.activity.exit_code == 1 && o.activity.signal == 9);
	nh_wire_free(&o);

	/* loss reports and heartbeats need no identity or process */
	memset(&r, 0, sizeof(r));
	r.id.node = "node-b";
	r.id.boot_id = "b";
	r.id.seq = 0;
	r.time_ns = 1;
	r.kind = NH_WIRE_LOSS;
	r.loss.what = "spool_shed";
	r.loss.window_start_ns = 10;
	r.loss.window_end_ns = 20;
	r.loss.n_counts = 2;
	r.loss.counts[0] = (struct nh_wire_counter){"activity", 1000};
	r.loss.counts[1] = (struct nh_wire_counter){"anomaly", 0};
	CHECK(round_trip(&r, &o) == 0);
	CHECK(o.kind == NH_WIRE_LOSS);
	CHECK_STR(o.identity.key, "");
	CHECK_STR(o.process.exe, "");
	CHECK(o.process.pid == 0);
	CHECK(o.id.seq == 0);
	CHECK_STR(o.loss.what, "spool_shed");
	CHECK(o.loss.window_start_ns == 10 && o.loss.window_end_ns == 20);
	CHECK(o.loss.n_counts == 2);
	CHECK_STR(o.loss.counts[0].name, "activity");
	CHECK(o.loss.counts[0].value == 1000);
	CHECK_STR(o.loss.counts[1].name, "anomaly");
	CHECK(o.loss.counts[1].value == 0);
	nh_wire_free(&o);

	memset(&r.loss, 0, sizeof(r.loss));
	r.kind = NH_WIRE_HEARTBEAT;
	r.heartbeat.agent_version = "0.1.0";
	r.heartbeat.probes_attached = 14;
	r.heartbeat.n_counters = NH_WIRE_COUNTERS_MAX;
	for (size_t i = 0; i < NH_WIRE_COUNTERS_MAX; i++)
		r.heartbeat.counters[i] = (struct nh_wire_counter){"events", i * 1000};
	CHECK(round_trip(&r, &o) == 0);
	CHECK(o.kind == NH_WIRE_HEARTBEAT);
	CHECK_STR(o.heartbeat.agent_version, "0.1.0");
	CHECK(o.heartbeat.probes_attached == 14);
	CHECK(o.heartbeat.n_counters == NH_WIRE_COUNTERS_MAX);
	CHECK(o.heartbeat.counters[NH_WIRE_COUNTERS_MAX - 1].value ==
	      (NH_WIRE_COUNTERS_MAX - 1) * 1000);
	nh_wire_free(&o);
}

/* Each broken rule is refused by check and pack, with a reason. */
static void expect_invalid(const struct nh_wire_record *r, const char *because)
{
	const char *why = NULL;
	size_t len = 0;
	int rc = nh_wire_check(r, &why);

	if (rc != -EINVAL)
		fprintf(stderr, "  accepted: %s\n", because);
	CHECK(rc == -EINVAL);
	CHECK(why != NULL && *why);
	CHECK(nh_wire_pack(r, buf, sizeof(buf), &len) == -EINVAL);
	CHECK(nh_wire_packed_size(r) == 0);
}

static void test_rules(void)
{
	static char longer[NH_WIRE_STR_MAX + 2];
	static char longname[NH_WIRE_NAME_MAX + 2];
	struct nh_wire_record r;

	memset(longer, 'a', sizeof(longer) - 1);
	memset(longname, 'n', sizeof(longname) - 1);

	base(&r, NH_WIRE_CREDENTIAL_USE);
	r.credential_use.credential_kind = "sa_token";
	r.credential_use.credential = "/t";
	CHECK(nh_wire_check(&r, NULL) == 0);

	r.id.node = NULL;
	expect_invalid(&r, "no node");
	r.id.node = "";
	expect_invalid(&r, "empty node");
	r.id.node = longname;
	expect_invalid(&r, "node too long");
	r.id.node = "n";
	r.id.boot_id = NULL;
	expect_invalid(&r, "no boot id");
	r.id.boot_id = "b";
	r.time_ns = 0;
	expect_invalid(&r, "no time");
	r.time_ns = 1;
	r.identity.key = "";
	expect_invalid(&r, "no identity key");
	r.identity.key = "user:x";
	r.process.exe = longer;
	expect_invalid(&r, "exe too long");
	r.process.exe = NULL;
	r.credential_use.credential = NULL;
	expect_invalid(&r, "no credential");
	r.credential_use.credential = longer;
	expect_invalid(&r, "credential too long");
	r.credential_use.credential = "/t";
	r.kind = NH_WIRE_NONE;
	expect_invalid(&r, "no kind");
	r.kind = NH_WIRE_KIND_MAX;
	expect_invalid(&r, "kind out of range");

	base(&r, NH_WIRE_ANOMALY);
	r.anomaly.category = NH_WIRE_CAT_EXEC;
	r.anomaly.severity = NH_WIRE_SEV_LOW;
	r.anomaly.value = "/bin/sh";
	CHECK(nh_wire_check(&r, NULL) == 0);
	r.anomaly.category = NH_WIRE_CAT_NONE;
	expect_invalid(&r, "no category");
	r.anomaly.category = NH_WIRE_CAT_MAX;
	expect_invalid(&r, "category out of range");
	r.anomaly.category = NH_WIRE_CAT_PRIVILEGE;
	r.anomaly.severity = NH_WIRE_SEV_MAX;
	expect_invalid(&r, "severity out of range");
	r.anomaly.severity = NH_WIRE_SEV_CRITICAL;
	r.anomaly.value = "";
	expect_invalid(&r, "no value");
	r.anomaly.value = "x";
	r.anomaly.explanation = longer;
	expect_invalid(&r, "explanation too long");

	base(&r, NH_WIRE_FINDING);
	r.finding.type = NH_WIRE_FINDING_SECRET_EXPOSURE;
	r.finding.secret_kind = "jwt";
	expect_invalid(&r, "secret exposure without fingerprint");
	r.finding.fingerprint = "fp";
	CHECK(nh_wire_check(&r, NULL) == 0);
	r.finding.n_identities = NH_WIRE_IDENTITIES_MAX + 1;
	expect_invalid(&r, "too many identities");
	r.finding.n_identities = 1;
	r.finding.identities[0] = "";
	expect_invalid(&r, "empty identity");
	r.finding.n_identities = 0;
	r.finding.type = NH_WIRE_FINDING_HUMAN_USE;
	expect_invalid(&r, "human use without reason");
	r.finding.type = NH_WIRE_FINDING_CREDENTIAL_REUSE;
	expect_invalid(&r, "reuse without credential");
	r.finding.type = NH_WIRE_FINDING_MAX;
	expect_invalid(&r, "finding type out of range");

	base(&r, NH_WIRE_ACTIVITY);
	r.activity.kind = "open";
	expect_invalid(&r, "activity without an event kind");
	r.activity.event = NH_WIRE_EV_MAX;
	expect_invalid(&r, "activity event out of range");
	r.activity.event = NH_WIRE_EV_SUMMARY;
	expect_invalid(&r, "summary of nothing");
	r.activity.of = NH_WIRE_EV_SUMMARY;
	expect_invalid(&r, "summary of summaries");
	r.activity.of = NH_WIRE_EV_OPEN;
	CHECK(nh_wire_check(&r, NULL) == 0);
	r.activity.n_args = NH_WIRE_ARGS_MAX + 1;
	expect_invalid(&r, "too many args");

	base(&r, NH_WIRE_LOSS);
	r.identity.key = NULL;
	r.loss.what = "ringbuf";
	CHECK(nh_wire_check(&r, NULL) == 0);
	r.loss.window_start_ns = 5;
	expect_invalid(&r, "window backwards");
	r.loss.window_end_ns = 5;
	r.loss.n_counts = 1;
	expect_invalid(&r, "count without name");
	r.loss.n_counts = NH_WIRE_COUNTERS_MAX + 1;
	expect_invalid(&r, "too many counts");
	r.loss.n_counts = 0;
	r.loss.n_totals = 1;
	expect_invalid(&r, "total without name");

	base(&r, NH_WIRE_HEARTBEAT);
	expect_invalid(&r, "heartbeat without version");
	r.heartbeat.agent_version = "1";
	r.heartbeat.n_counters = NH_WIRE_COUNTERS_MAX + 1;
	expect_invalid(&r, "too many counters");
}

static void test_caps(void)
{
	struct nh_wire_record r, o;
	const char *why = NULL;
	size_t len = 0, need;
	char *json;

	base(&r, NH_WIRE_ACTIVITY);
	r.activity.event = NH_WIRE_EV_EXEC;
	need = nh_wire_packed_size(&r);
	CHECK(need > 0);
	CHECK(nh_wire_pack(&r, buf, need - 1, &len) == -EMSGSIZE);
	CHECK(nh_wire_pack(&r, buf, need, &len) == 0 && len == need);

	/* args are capped one by one and together by the record cap */
	json = malloc(NH_WIRE_STR_MAX + 1);
	memset(json, 'a', NH_WIRE_STR_MAX);
	json[NH_WIRE_STR_MAX] = '\0';
	for (size_t i = 0; i < 15; i++)
		r.activity.args[i] = json;
	r.activity.n_args = 15;
	CHECK(round_trip(&r, &o) == 0);
	CHECK(o.activity.n_args == 15 && strlen(o.activity.args[14]) == NH_WIRE_STR_MAX);
	nh_wire_free(&o);
	for (size_t i = 15; i < 17; i++)
		r.activity.args[i] = json;
	r.activity.n_args = 17;
	CHECK(nh_wire_pack(&r, buf, sizeof(buf), &len) == -EMSGSIZE);
	free(json);

	/* unpack refuses oversized input before decoding it */
	memset(buf, 0, NH_WIRE_MAX + 1);
	CHECK(nh_wire_unpack(buf, NH_WIRE_MAX + 1, &o, &why) == -EMSGSIZE);
	CHECK(why != NULL);
	CHECK(o.priv == NULL);
}

static void test_utf8(void)
{
	struct nh_wire_record r, o;
	const char *why = NULL;
	size_t len = 0;
	uint8_t *p;

	/* pack repairs: a stray byte and a truncated sequence become '?' */
	base(&r, NH_WIRE_ANOMALY);
	r.anomaly.category = NH_WIRE_CAT_FILE;
	r.anomaly.severity = NH_WIRE_SEV_MEDIUM;
	r.anomaly.value = "/tmp/a\xff"
			  "b/caf\xc3\xa9/\xe2\x82";
	r.process.comm = "\xc0\xafx";			   /* overlong '/' */
	r.identity.pod_name = "\xed\xa0\x80";		   /* a surrogate */
	r.identity.workload_name = "\xf0\x9f\x94\x91 key"; /* valid 4 bytes */
	CHECK(round_trip(&r, &o) == 0);
	CHECK_STR(o.anomaly.value, "/tmp/a?b/caf\xc3\xa9/??");
	CHECK_STR(o.process.comm, "??x");
	CHECK_STR(o.identity.pod_name, "???");
	CHECK_STR(o.identity.workload_name, "\xf0\x9f\x94\x91 key");
	nh_wire_free(&o);

	/* unpack rejects: corrupt a packed string in place */
	r.anomaly.value = "/tmp/MARK";
	CHECK(nh_wire_pack(&r, buf, sizeof(buf), &len) == 0);
	p = memmem(buf, len, "MARK", 4);
	CHECK(p != NULL);
	if (p) {
		p[0] = 0xfe;
		CHECK(nh_wire_unpack(buf, len, &o, &why) == -EBADMSG);
		CHECK_STR(why, "string not valid UTF-8");
		CHECK(o.priv == NULL);
	}
}

/* Bytes another producer could write: valid protobuf, invalid record. */
static int raw_unpack(Nhiscope__Wire__Record *m, const char **why)
{
	struct nh_wire_record o;
	size_t n = protobuf_c_message_get_packed_size(&m->base);
	int rc;

	protobuf_c_message_pack(&m->base, buf);
	rc = nh_wire_unpack(buf, n, &o, why);
	nh_wire_free(&o);
	return rc;
}

static void test_raw(void)
{
	Nhiscope__Wire__Record m = NHISCOPE__WIRE__RECORD__INIT;
	Nhiscope__Wire__RecordId id = NHISCOPE__WIRE__RECORD_ID__INIT;
	Nhiscope__Wire__Identity ident = NHISCOPE__WIRE__IDENTITY__INIT;
	Nhiscope__Wire__Anomaly a = NHISCOPE__WIRE__ANOMALY__INIT;
	Nhiscope__Wire__CredentialUse c = NHISCOPE__WIRE__CREDENTIAL_USE__INIT;
	Nhiscope__Wire__Finding f = NHISCOPE__WIRE__FINDING__INIT;
	char *ids[NH_WIRE_IDENTITIES_MAX + 1];
	const char *why = NULL;

	CHECK(raw_unpack(&m, &why) == -EBADMSG);
	CHECK_STR(why, "no record id");
	id.node = "n";
	id.boot_id = "b";
	m.id = &id;
	m.time_ns = 5;
	CHECK(raw_unpack(&m, &why) == -EBADMSG);
	CHECK_STR(why, "no body");

	/* no identity message at all: the key is "" and required */
	a.category = NHISCOPE__WIRE__CATEGORY__CATEGORY_EXEC;
	a.severity = NHISCOPE__WIRE__SEVERITY__SEVERITY_LOW;
	a.value = "/bin/x";
	m.body_case = NHISCOPE__WIRE__RECORD__BODY_ANOMALY;
	m.anomaly = &a;
	CHECK(raw_unpack(&m, &why) == -EBADMSG);
	CHECK_STR(why, "no identity key");
	ident.key = "user:x";
	m.identity = &ident;
	CHECK(raw_unpack(&m, &why) == 0);

	/* open enums: a value from a newer schema is refused, not guessed */
	a.category = (Nhiscope__Wire__Category)99;
	CHECK(raw_unpack(&m, &why) == -EBADMSG);
	a.category = NHISCOPE__WIRE__CATEGORY__CATEGORY_EXEC;
	a.severity = (Nhiscope__Wire__Severity)-1;
	CHECK(raw_unpack(&m, &why) == -EBADMSG);
	a.severity = NHISCOPE__WIRE__SEVERITY__SEVERITY_LOW;
	a.rate_mean = NAN;
	CHECK(raw_unpack(&m, &why) == -EBADMSG);
	CHECK_STR(why, "anomaly: rate not finite");
	a.rate_mean = 0;

	c.credential_kind = "k";
	c.credential = "c";
	c.count = 0;
	m.body_case = NHISCOPE__WIRE__RECORD__BODY_CREDENTIAL_USE;
	m.credential_use = &c;
	CHECK(raw_unpack(&m, &why) == -EBADMSG);
	CHECK_STR(why, "credential use: count 0");
	c.count = 1;
	CHECK(raw_unpack(&m, &why) == 0);

	for (size_t i = 0; i <= NH_WIRE_IDENTITIES_MAX; i++)
		ids[i] = "user:x";
	f.type = NHISCOPE__WIRE__FINDING_TYPE__FINDING_CREDENTIAL_REUSE;
	f.credential = "/k";
	f.identities = ids;
	f.n_identities = NH_WIRE_IDENTITIES_MAX + 1;
	m.body_case = NHISCOPE__WIRE__RECORD__BODY_FINDING;
	m.finding = &f;
	CHECK(raw_unpack(&m, &why) == -EBADMSG);
	f.n_identities = NH_WIRE_IDENTITIES_MAX;
	CHECK(raw_unpack(&m, &why) == 0);

	/* formats: absent is release 1, the current one is read, a newer
	 * one is refused with a reason rather than half understood */
	m.format = NH_WIRE_FORMAT + 1;
	CHECK(raw_unpack(&m, &why) == -EBADMSG);
	CHECK_STR(why, "record of a newer format than this release reads");
	m.format = NH_WIRE_FORMAT;
	CHECK(raw_unpack(&m, &why) == 0);
	m.format = 0;
	CHECK(raw_unpack(&m, &why) == 0);

	/* format 1 activity: kind and the JSON text in field 2 */
	{
		Nhiscope__Wire__Activity act = NHISCOPE__WIRE__ACTIVITY__INIT;
		/* field 2 as protobuf-c keeps an unknown one: the bytes after
		 * the tag, length prefix included ("{}") */
		uint8_t extra[] = {0x02, '{', '}'};
		ProtobufCMessageUnknownField u = {2, PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED, 3,
						  extra};
		struct nh_wire_record o;
		size_t len;

		act.kind = "open";
		act.base.n_unknown_fields = 1;
		act.base.unknown_fields = &u;
		m.body_case = NHISCOPE__WIRE__RECORD__BODY_ACTIVITY;
		m.activity = &act;
		m.format = 0;
		len = nhiscope__wire__record__pack(&m, buf);
		CHECK(nh_wire_unpack(buf, len, &o, &why) == 0);
		CHECK(o.format == 1 && o.activity.event == NH_WIRE_EV_OPEN);
		CHECK_STR(o.activity.legacy_json, "{}");
		nh_wire_free(&o);
		/* the same from a release-2 sender is not believed */
		m.format = NH_WIRE_FORMAT;
		len = nhiscope__wire__record__pack(&m, buf);
		CHECK(nh_wire_unpack(buf, len, &o, &why) == -EBADMSG);
		CHECK_STR(why, "activity: no or unknown event kind");
		/* format 1 without its JSON is refused */
		m.format = 0;
		act.base.n_unknown_fields = 0;
		len = nhiscope__wire__record__pack(&m, buf);
		CHECK(nh_wire_unpack(buf, len, &o, &why) == -EBADMSG);
		CHECK_STR(why, "activity (format 1): no kind or json");
		m.body_case = NHISCOPE__WIRE__RECORD__BODY_FINDING;
	}
}

static void test_garbage(void)
{
	struct nh_wire_record r, o;
	const char *why;
	size_t len = 0;
	unsigned seed = 12345;
	int ok = 0, bad = 0;
	uint8_t good[4096];

	CHECK(nh_wire_unpack(NULL, 0, &o, &why) == -EBADMSG);
	CHECK(nh_wire_unpack((const uint8_t *)"\xff\xff\xff\xff", 4, &o, &why) == -EBADMSG);
	CHECK_STR(why, "not a protobuf nhiscope.wire.Record");
	CHECK(nh_wire_unpack((const uint8_t *)"hello, world", 12, &o, &why) == -EBADMSG);

	/* every proper prefix of a record fails cleanly or decodes to a valid one */
	base(&r, NH_WIRE_CREDENTIAL_USE);
	r.credential_use.credential_kind = "sa_token";
	r.credential_use.credential = "/var/run/secrets/token";
	CHECK(nh_wire_pack(&r, good, sizeof(good), &len) == 0);
	for (size_t n = 0; n < len; n++) {
		int rc = nh_wire_unpack(good, n, &o, &why);

		if (rc == 0)
			ok++;
		else if (rc == -EBADMSG && why)
			bad++;
		nh_wire_free(&o);
	}
	CHECK(bad > 0 && (size_t)(ok + bad) == len);

	/* random bit flips: never a crash, always 0 (and then a valid
	 * record) or -EBADMSG with a reason */
	ok = bad = 0;
	for (int i = 0; i < 20000; i++) {
		uint8_t m[4096];
		int rc;

		memcpy(m, good, len);
		for (int k = 0; k < 3; k++) {
			seed = seed * 1103515245u + 12345u;
			m[(seed >> 8) % len] ^= (uint8_t)(1u << ((seed >> 4) % 8));
		}
		why = NULL;
		rc = nh_wire_unpack(m, len, &o, &why);
		if (rc == 0 && nh_wire_check(&o, NULL) == 0)
			ok++;
		else if (rc == -EBADMSG && why)
			bad++;
		nh_wire_free(&o);
	}
	CHECK(ok + bad == 20000);
	CHECK(bad > 0);
}

static void test_names(void)
{
	struct nh_wire_id id = {"node-a", "boot", 18446744073709551615ull};
	char s[NH_WIRE_ID_STR_MAX];

	CHECK(nh_wire_id_str(&id, s, sizeof(s)) == (int)strlen("node-a/boot/18446744073709551615"));
	CHECK_STR(s, "node-a/boot/18446744073709551615");
	CHECK(nh_wire_id_str(&id, s, 5) == -ENOSPC);
	CHECK_STR(nh_wire_kind_name(NH_WIRE_CREDENTIAL_USE), "credential_use");
	CHECK_STR(nh_wire_kind_name(NH_WIRE_KIND_MAX), "unknown");
	CHECK_STR(nh_wire_category_name(NH_WIRE_CAT_EGRESS), "egress");
	CHECK_STR(nh_wire_severity_name(NH_WIRE_SEV_CRITICAL), "critical");
	CHECK_STR(nh_wire_finding_name(NH_WIRE_FINDING_HUMAN_USE), "human_use");
	CHECK(nh_wire_kind_parse("heartbeat") == NH_WIRE_HEARTBEAT);
	CHECK(nh_wire_kind_parse("none") == -EINVAL);
	CHECK(nh_wire_category_parse("privilege") == NH_WIRE_CAT_PRIVILEGE);
	CHECK(nh_wire_severity_parse("low") == NH_WIRE_SEV_LOW);
	CHECK(nh_wire_finding_parse("credential_reuse") == NH_WIRE_FINDING_CREDENTIAL_REUSE);
	CHECK(nh_wire_finding_parse(NULL) == -EINVAL);
	CHECK(nh_wire_category_parse("EXEC") == -EINVAL);
	CHECK_STR(nh_wire_event_name(NH_WIRE_EV_SUMMARY), "summary");
	CHECK_STR(nh_wire_event_name(NH_WIRE_EV_MAX), "unknown");
	CHECK(nh_wire_event_parse("capset") == NH_WIRE_EV_CAPSET);
	CHECK(nh_wire_event_parse("anomaly") == -EINVAL);
}

/* The site (cluster, labels) round-trips and its rules hold; unpacking
 * into an arena gives the same record, over and over, also when a record
 * is larger than the arena's block. */
static void test_site_and_arena(void)
{
	static uint8_t buf[NH_WIRE_MAX];
	static struct nh_wire_record r, out;
	static char big[NH_WIRE_STR_MAX];
	struct nh_wire_arena *a = nh_wire_arena_new();
	const char *why = NULL;
	size_t len = 0;

	CHECK(a != NULL);
	memset(&r, 0, sizeof(r));
	r.kind = NH_WIRE_HEARTBEAT;
	r.id.node = "n";
	r.id.boot_id = "b";
	r.time_ns = 1;
	r.heartbeat.agent_version = "1";
	r.site.cluster = "prod-eu-1";
	r.site.n_labels = 2;
	r.site.labels[0] = (struct nh_wire_label){"env", "prod"};
	r.site.labels[1] = (struct nh_wire_label){"team", "sec/ops"};
	CHECK(nh_wire_pack(&r, buf, sizeof(buf), &len) == 0);
	for (int i = 0; i < 3; i++) {
		CHECK(nh_wire_unpack_in(buf, len, &out, &why, a) == 0);
		CHECK_STR(out.site.cluster, "prod-eu-1");
		CHECK(out.site.n_labels == 2);
		CHECK_STR(out.site.labels[1].key, "team");
		CHECK_STR(out.site.labels[1].value, "sec/ops");
		nh_wire_free(&out);
	}
	/* larger than the arena's first block: spilled, then grown */
	memset(big, 'x', sizeof(big) - 1);
	r.heartbeat.agent_version = big;
	r.heartbeat.n_counters = NH_WIRE_COUNTERS_MAX;
	for (size_t i = 0; i < NH_WIRE_COUNTERS_MAX; i++)
		r.heartbeat.counters[i] = (struct nh_wire_counter){big + sizeof(big) - 201, i};
	CHECK(nh_wire_pack(&r, buf, sizeof(buf), &len) == 0);
	for (int i = 0; i < 2; i++) {
		CHECK(nh_wire_unpack_in(buf, len, &out, &why, a) == 0);
		CHECK(strlen(out.heartbeat.agent_version) == sizeof(big) - 1);
		CHECK(out.heartbeat.n_counters == NH_WIRE_COUNTERS_MAX);
		nh_wire_free(&out);
	}
	r.heartbeat.agent_version = "1";
	r.heartbeat.n_counters = 0;
	/* the rules: key charset, reserved prefix, duplicates, lengths */
	r.site.labels[1].key = "bad.key";
	CHECK(nh_wire_check(&r, &why) == -EINVAL);
	r.site.labels[1].key = "nhiscope_identity";
	CHECK(nh_wire_check(&r, &why) == -EINVAL);
	r.site.labels[1].key = "env";
	CHECK(nh_wire_check(&r, &why) == -EINVAL);
	r.site.labels[1].key = "team";
	CHECK(nh_wire_check(&r, &why) == 0);
	r.site.cluster = big;
	CHECK(nh_wire_check(&r, &why) == -EINVAL);
	nh_wire_arena_free(a);
}

int main(void)
{
	test_site_and_arena();
	test_anomaly();
	test_credential_use();
	test_findings();
	test_activity_loss_heartbeat();
	test_rules();
	test_caps();
	test_utf8();
	test_raw();
	test_garbage();
	test_names();
	return nh_check_report("test_wire");
}
