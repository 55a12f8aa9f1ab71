/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for agent/workload.c: pod names as controllers generate them, and near misses. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "workload.h"

static void expect(int line, const char *pod, const char *node, int rc, const char *kind,
		   const char *name)
{
	struct nh_workload w;
	int got;

	memset(&w, 0x5a, sizeof(w)); /* junk, so "zeroed on failure" is tested */
	got = node ? nh_workload_from_pod(pod, node, &w) : nh_workload_from_pod_name(pod, &w);
	if (got != rc || (rc == 0 && (strcmp(w.kind, kind) || strcmp(w.name, name))) ||
	    (rc != 0 && (w.kind[0] || w.name[0]))) {
		nh_tally.failed++;
		fprintf(stderr, "FAIL line %d: %s (node %s) -> %d %.16s/%.254s, want %d %s/%s\n",
			line, pod ? pod : "(null)", node ? node : "-", got, rc ? "" : w.kind,
			rc ? "" : w.name, rc, kind ? kind : "", name ? name : "");
	} else {
		nh_tally.passed++;
	}
}

#define OWNER(pod, kind, name)	     expect(__LINE__, pod, NULL, 0, kind, name)
#define NO_OWNER(pod)		     expect(__LINE__, pod, NULL, -ENOENT, NULL, NULL)
#define INVALID(pod)		     expect(__LINE__, pod, NULL, -EINVAL, NULL, NULL)
#define ON_NODE(pod, node, kind, nm) expect(__LINE__, pod, node, 0, kind, nm)

static void test_deployments(void)
{
	OWNER("coredns-5d78c9869d-8x4q2", "Deployment", "coredns");
	OWNER("nginx-deployment-66b6c48dd5-4jw2p", "Deployment", "nginx-deployment");
	OWNER("metrics-server-6d94bc8694-lwlzt", "Deployment", "metrics-server");
	OWNER("local-path-provisioner-6c86858495-9vhb5", "Deployment", "local-path-provisioner");
	OWNER("argocd-repo-server-7d4b9c8f5f-2xk9z", "Deployment", "argocd-repo-server");
	OWNER("ingress-nginx-controller-7d9f8c6b4d-zq8wn", "Deployment",
	      "ingress-nginx-controller");
	OWNER("api-v2-5d78c9869d-8x4q2", "Deployment", "api-v2");
	OWNER("my.app-5d78c9869d-8x4q2", "Deployment", "my.app");
	OWNER("a-5d78c9869d-8x4q2", "Deployment", "a");
	/* 9, 8 and 7 characters: hashes below 10^9, 10^8, 10^7 */
	OWNER("web-55b8f5b6c-x2k4p", "Deployment", "web");
	OWNER("web-7c8b9f5d-x2k4p", "Deployment", "web");
	OWNER("web-5c8b9f5-x2k4p", "Deployment", "web");
	/* the largest hash, 4294967295 */
	OWNER("web-86f8fbc6f9-x2k4p", "Deployment", "web");
	/* all-digit hashes are hashes too */
	OWNER("web-5998776688-x2k4p", "Deployment", "web");

	/* not a pod-template-hash: the pod is only "generated" */
	OWNER("web-86f8fbc6fb-x2k4p", "DaemonSet/Job", "web-86f8fbc6fb");   /* 4294967296 */
	OWNER("web-ffffffffff-x2k4p", "DaemonSet/Job", "web-ffffffffff");   /* > UINT32_MAX */
	OWNER("web-45b8f5b6c-x2k4p", "DaemonSet/Job", "web-45b8f5b6c");	    /* leading zero */
	OWNER("web-5d78c9-x2k4p", "DaemonSet/Job", "web-5d78c9");	    /* too short */
	OWNER("web-5d78c9869dd-x2k4p", "DaemonSet/Job", "web-5d78c9869dd"); /* too long */
	OWNER("web-5d78c9869g-x2k4p", "DaemonSet/Job", "web-5d78c9869g");   /* 'g' */
	OWNER("web-5d78c9869d2-x2k4p", "DaemonSet/Job", "web-5d78c9869d2"); /* '2' */
	OWNER("web-db-x2k4p", "DaemonSet/Job", "web-db");
	OWNER("5d78c9869d-x2k4p", "DaemonSet/Job", "5d78c9869d");
}

static void test_cronjobs(void)
{
	OWNER("backup-28391040-xk2lp", "CronJob", "backup");
	OWNER("db-backup-nightly-29012345-q8x7z", "CronJob", "db-backup-nightly");
	OWNER("report-10000000-q8x7z", "CronJob", "report");
	OWNER("report-300000000-q8x7z", "CronJob", "report");
	/* digits that also read as a hash are a hash (no such minute before 2065) */
	OWNER("report-999999999-q8x7z", "Deployment", "report");
	OWNER("report-49999999-q8x7z", "CronJob", "report");
	OWNER("etl.v2-29012345-q8x7z", "CronJob", "etl.v2");
	/* too few or too many digits, or a leading zero: the Job's own name */
	OWNER("backup-2839104-xk2lp", "DaemonSet/Job", "backup-2839104");
	OWNER("backup-2839104012-xk2lp", "DaemonSet/Job", "backup-2839104012");
	OWNER("backup-02839104-xk2lp", "DaemonSet/Job", "backup-02839104");
	/* an Indexed Job's pod keeps its index in the name */
	OWNER("train-3-x2k4p", "DaemonSet/Job", "train-3");
	/* the Job itself, if anything runs as "<cronjob>-<minutes>" without a suffix */
	OWNER("backup-28391040", "StatefulSet", "backup");
}

static void test_statefulsets(void)
{
	OWNER("web-0", "StatefulSet", "web");
	OWNER("web-12", "StatefulSet", "web");
	OWNER("postgres-postgresql-0", "StatefulSet", "postgres-postgresql");
	OWNER("kafka-controller-2", "StatefulSet", "kafka-controller");
	OWNER("es.cluster-3", "StatefulSet", "es.cluster");
	OWNER("web-0-0", "StatefulSet", "web-0");
	OWNER("web-2147483647", "StatefulSet", "web");
	OWNER("web-13579", "StatefulSet", "web"); /* has 1 and 3: not a suffix */
	OWNER("web-10000", "StatefulSet", "web");
	/* five alphabet digits read as a random suffix */
	OWNER("web-24567", "DaemonSet/Job", "web");
	NO_OWNER("web-01");
	NO_OWNER("web-00");
	NO_OWNER("web-2147483648");
	NO_OWNER("web-99999999999");
	NO_OWNER("0");
}

static void test_daemonsets_jobs(void)
{
	OWNER("kube-proxy-7vx2k", "DaemonSet/Job", "kube-proxy");
	OWNER("calico-node-x8z4q", "DaemonSet/Job", "calico-node");
	OWNER("fluent-bit-q2w9z", "DaemonSet/Job", "fluent-bit");
	OWNER("pi-x2k4p", "DaemonSet/Job", "pi");
	OWNER("node-exporter-prometheus-node-exporter-bz7qd", "DaemonSet/Job",
	      "node-exporter-prometheus-node-exporter");
	OWNER("kube-flannel-ds-22222", "DaemonSet/Job", "kube-flannel-ds");
	OWNER("a.b-c-x2k4p", "DaemonSet/Job", "a.b-c");
	/* a hand-named pod whose last word has no vowel looks generated: documented */
	OWNER("web-https", "DaemonSet/Job", "web");
}

static void test_no_owner(void)
{
	NO_OWNER("nginx");
	NO_OWNER("x2k4p");
	NO_OWNER("debug");
	NO_OWNER("my-pod");
	NO_OWNER("web-abc-def");
	NO_OWNER("web-abcde"); /* vowels */
	NO_OWNER("web-xak2l"); /* one vowel */
	NO_OWNER("web-x0k2l"); /* 0, 1, 3 are not in the alphabet */
	NO_OWNER("web-x1k2l");
	NO_OWNER("web-x3k2l");
	NO_OWNER("web-xyk2l");	/* nor y */
	NO_OWNER("web-xk2l");	/* 4 */
	NO_OWNER("web-xk2lpq"); /* 6 */
	NO_OWNER("web.x2k4p");
	NO_OWNER("web--x2k4p");
	NO_OWNER("busybox-sleep");
	NO_OWNER("test-pod-1a");
	/* static pods, without the node's name: no owner */
	NO_OWNER("kube-apiserver-node1");
	NO_OWNER("etcd-control-plane");
	NO_OWNER("kube-scheduler-ip-10-0-1-23.ec2.internal");
}

static void test_static_pods(void)
{
	ON_NODE("kube-apiserver-node1", "node1", "Node", "node1");
	ON_NODE("etcd-control-plane", "control-plane", "Node", "control-plane");
	ON_NODE("kube-scheduler-ip-10-0-1-23.ec2.internal", "ip-10-0-1-23.ec2.internal", "Node",
		"ip-10-0-1-23.ec2.internal");
	/* a node name that has a generated shape: only the node's name tells */
	ON_NODE("etcd-worker-2", "worker-2", "Node", "worker-2");
	OWNER("etcd-worker-2", "StatefulSet", "etcd-worker");
	/* other pods on that node are unaffected */
	ON_NODE("coredns-5d78c9869d-8x4q2", "node1", "Deployment", "coredns");
	ON_NODE("web-0", "node1", "StatefulSet", "web");
	ON_NODE("web-0", "", "StatefulSet", "web");
	/* the node name alone, or after a bad owner, is not a static pod */
	expect(__LINE__, "node1", "node1", -ENOENT, NULL, NULL);
	expect(__LINE__, "a--node1", "node1", -ENOENT, NULL, NULL);
	expect(__LINE__, "xnode1", "node1", -ENOENT, NULL, NULL);
	expect(__LINE__, "kube-apiserver-node1", "node2", -ENOENT, NULL, NULL);
	expect(__LINE__, "kube-apiserver-node1", "de1", -ENOENT, NULL, NULL);
}

/* Names at and around the 63-byte limit of generateName. */
static void test_lengths(void)
{
	char buf[300], want[300];
	struct nh_workload w;

	/* deployment of 46: "<46>-<hash10>-" is exactly 58, nothing was cut */
	memset(buf, 'd', 46);
	strcpy(buf + 46, "-5d78c9869d-x2k4p");
	CHECK(strlen(buf) == 63);
	memset(want, 'd', 46);
	want[46] = '\0';
	OWNER(buf, "Deployment", want);
	/* deployment of 47: the base was cut to 58, the suffix glued to the hash */
	memset(buf, 'd', 47);
	strcpy(buf + 47, "-5d78c9869dx2k4p");
	CHECK(strlen(buf) == 63);
	NO_OWNER(buf);
	/* daemonset of 57: "<57>-" is exactly 58 */
	memset(buf, 's', 57);
	strcpy(buf + 57, "-x2k4p");
	memset(want, 's', 57);
	want[57] = '\0';
	OWNER(buf, "DaemonSet/Job", want);
	/* daemonset of 60: cut inside the name */
	memset(buf, 's', 58);
	strcpy(buf + 58, "x2k4p");
	NO_OWNER(buf);
	/* 63 bytes that do not end in a suffix are judged as usual */
	memset(buf, 's', 61);
	strcpy(buf + 61, "-0");
	want[61 - 4] = '\0';
	memset(want, 's', 61);
	want[61] = '\0';
	OWNER(buf, "StatefulSet", want);
	/* 64+ bytes are not generated: judged as usual too */
	memset(buf, 'j', 60);
	strcpy(buf + 60, "-x2k4p");
	memset(want, 'j', 60);
	want[60] = '\0';
	OWNER(buf, "DaemonSet/Job", want);
	/* the longest pod name, 253 bytes, and one more */
	memset(buf, 'j', 247);
	strcpy(buf + 247, "-x2k4p");
	CHECK(strlen(buf) == 253);
	memset(want, 'j', 247);
	want[247] = '\0';
	OWNER(buf, "DaemonSet/Job", want);
	memset(buf, 'j', 248);
	strcpy(buf + 248, "-x2k4p");
	INVALID(buf);
	/* a node name longer than any pod name is harmless */
	memset(buf, 'n', 299);
	buf[299] = '\0';
	CHECK(nh_workload_from_pod("web-0", buf, &w) == 0);
	CHECK_STR(w.kind, "StatefulSet");
}

static void test_invalid(void)
{
	struct nh_workload w;

	INVALID(NULL);
	INVALID("");
	INVALID("Web-0");
	INVALID("web_0");
	INVALID("web-0.");
	INVALID(".web-0");
	INVALID("-x2k4p");
	INVALID("web-");
	INVALID("web-5d78c9869d-");
	INVALID("web..x2k4p");
	INVALID("web.-x2k4p");
	INVALID("web-.x2k4p");
	INVALID("web 0");
	INVALID("web-\xc3\xa9-0");
	INVALID("coredns-5d78c9869d-8X4Q2");
	CHECK(nh_workload_from_pod_name("web-0", NULL) == -EINVAL);
	CHECK(nh_workload_from_pod("web-0", "node1", NULL) == -EINVAL);
	memset(&w, 0x5a, sizeof(w));
	CHECK(nh_workload_from_pod(NULL, "node1", &w) == -EINVAL);
	CHECK(w.kind[0] == '\0' && w.name[0] == '\0');
}

int main(void)
{
	test_deployments();
	test_cronjobs();
	test_statefulsets();
	test_daemonsets_jobs();
	test_no_owner();
	test_static_pods();
	test_lengths();
	test_invalid();
	return nh_check_report("workload");
}
