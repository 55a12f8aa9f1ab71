/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for agent/kubelet.c: PodList parsing and lookups on JSON
 * written here, then real HTTP against a loopback server this binary
 * forks (127.0.0.1 only), and HTTPS against `openssl s_server` with a
 * certificate made at test time in a temp dir when the openssl CLI is
 * there.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "kubelet.h"

#define UID1   "7d5e3e0c-3c1f-4f4b-9a8e-2b1c0d9e8f7a"
#define UID2   "0f1e2d3c-4b5a-4697-8877-665544332211"
#define UID3   "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
#define HASH32 "0123456789abcdef0123456789abcdef"
#define CID1   "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define CID2   "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define CID3   "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define CID4   "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

#define API_PATH "/api/v1/pods?fieldSelector=spec.nodeName=node-1"
#define TOKEN1	 "tok-eyJhbGciOi.first-token"
#define TOKEN2	 "tok-eyJhbGciOi.rotated-token"

/* JSON is written with ' for " to stay readable; this swaps them. */
static char *J(const char *s)
{
	char *out = strdup(s), *p;

	if (!out)
		abort();
	for (p = out; *p; p++)
		if (*p == '\'')
			*p = '"';
	return out;
}

/* Parse a PodList written with single quotes. */
static int parse(struct nh_kubelet *k, const char *json, const char **why)
{
	char *body = J(json);
	int rc = nh_kubelet_parse(k, body, strlen(body), why);

	free(body);
	return rc;
}

#define POD_DEPLOY                                                                                 \
	"{'metadata':{'name':'web-7d4b9c8f6d-x2x9q','namespace':'shop','uid':'" UID1 "',"          \
	"'labels':{'app':'web','pod-template-hash':'7d4b9c8f6d'},"                                 \
	"'ownerReferences':[{'apiVersion':'v1','kind':'Thing','name':'t','controller':false},"     \
	"{'apiVersion':'apps/v1','kind':'ReplicaSet','name':'web-7d4b9c8f6d','uid':'x',"           \
	"'controller':true,'blockOwnerDeletion':true}]},"                                          \
	"'spec':{'serviceAccountName':'web-sa','nodeName':'node-1',"                               \
	"'containers':[{'name':'web','image':'nginx:1.25','ports':[{'containerPort':80}]}]},"      \
	"'status':{'phase':'Running','containerStatuses':[{'name':'web',"                          \
	"'image':'docker.io/library/nginx:1.25','containerID':'containerd://" CID1 "',"            \
	"'ready':true}]}}"

#define POD_STS                                                                                    \
	"{'metadata':{'name':'db-0','namespace':'data','uid':'" UID2 "',"                          \
	"'ownerReferences':[{'apiVersion':'apps/v1','kind':'StatefulSet','name':'db',"             \
	"'controller':true}]},"                                                                    \
	"'spec':{'serviceAccountName':'db','nodeName':'node-1',"                                   \
	"'containers':[{'name':'postgres','image':'postgres:16'}]},"                               \
	"'status':{'containerStatuses':[{'name':'postgres','containerID':'cri-o://" CID2 "'}]}}"

#define POD_BARE                                                                                   \
	"{'metadata':{'name':'debug','namespace':'default','uid':'" UID3 "'},"                     \
	"'spec':{'serviceAccountName':'default','nodeName':'node-1',"                              \
	"'containers':[{'name':'sh','image':'busybox'}]},'status':{}}"

static void test_deployment(void)
{
	struct nh_kubelet k = {0};
	const struct nh_pod_record *r;
	const char *why = "x";

	CHECK(parse(&k,
		    "{'kind':'PodList','apiVersion':'v1','metadata':{},'items':[" POD_DEPLOY "]}",
		    &why) == 0);
	CHECK(why == NULL);
	CHECK(k.npods == 1);
	r = nh_kubelet_pod(&k, UID1);
	CHECK(r != NULL);
	if (!r)
		goto out;
	CHECK_STR(r->uid, UID1);
	CHECK_STR(r->name, "web-7d4b9c8f6d-x2x9q");
	CHECK_STR(r->namespace_, "shop");
	CHECK_STR(r->service_account, "web-sa");
	CHECK_STR(r->node, "node-1");
	CHECK_STR(r->owner_kind, "ReplicaSet");
	CHECK_STR(r->owner_name, "web-7d4b9c8f6d");
	CHECK_STR(r->workload_kind, "Deployment");
	CHECK_STR(r->workload_name, "web");
	CHECK(!r->static_pod);
	CHECK(!r->truncated);
	CHECK(r->ncontainers == 1);
	CHECK_STR(r->containers[0].name, "web");
	CHECK_STR(r->containers[0].image, "nginx:1.25"); /* the spec's, not the resolved one */
	CHECK_STR(r->containers[0].runtime, "containerd");
	CHECK_STR(r->containers[0].id, CID1);
	CHECK(r->containers[0].role == NH_CTR_APP);
out:
	nh_kubelet_free(&k);
}

static void test_statefulset_and_bare(void)
{
	struct nh_kubelet k = {0};
	const struct nh_pod_record *r;

	CHECK(parse(&k, "{'kind':'PodList','items':[" POD_STS "," POD_BARE "]}", NULL) == 0);
	CHECK(k.npods == 2);
	r = nh_kubelet_pod(&k, UID2);
	CHECK(r != NULL);
	if (r) {
		CHECK_STR(r->name, "db-0");
		CHECK_STR(r->owner_kind, "StatefulSet");
		CHECK_STR(r->owner_name, "db");
		CHECK_STR(r->workload_kind, "StatefulSet");
		CHECK_STR(r->workload_name, "db");
		CHECK_STR(r->containers[0].runtime, "cri-o");
		CHECK_STR(r->containers[0].id, CID2);
		CHECK_STR(r->containers[0].image, "postgres:16");
	}
	r = nh_kubelet_pod(&k, UID3);
	CHECK(r != NULL);
	if (r) {
		CHECK_STR(r->name, "debug");
		CHECK_STR(r->owner_kind, "");
		CHECK_STR(r->owner_name, "");
		CHECK_STR(r->workload_kind, "");
		CHECK_STR(r->workload_name, "");
		CHECK(r->ncontainers == 1);
		CHECK_STR(r->containers[0].id, ""); /* no status for it */
		CHECK_STR(r->containers[0].runtime, "");
	}
	nh_kubelet_free(&k);
}

static void test_containers(void)
{
	struct nh_kubelet k = {0};
	const struct nh_pod_record *r, *p;
	const struct nh_pod_container *c = NULL;

	CHECK(parse(&k,
		    "{'kind':'PodList','items':[{'metadata':{'name':'multi','namespace':'ns',"
		    "'uid':'" UID1 "'},'spec':{'containers':[{'name':'app','image':'app:1'},"
		    "{'name':'proxy','image':'envoy:1.29'},{'name':'waiting','image':'w:1'}],"
		    "'initContainers':[{'name':'init','image':'init:1'}],"
		    "'ephemeralContainers':[{'name':'debugger','image':'busybox'}]},"
		    "'status':{'containerStatuses':["
		    "{'name':'proxy','containerID':'docker://" CID2 "'},"
		    "{'name':'app','containerID':'containerd://" CID1 "'},"
		    "{'name':'waiting','image':'w:1','containerID':''}],"
		    "'initContainerStatuses':[{'name':'init','containerID':'cri-o://" CID3 "'}],"
		    "'ephemeralContainerStatuses':[{'name':'debugger','containerID':'" CID4 "'}]"
		    "}}]}",
		    NULL) == 0);
	r = nh_kubelet_pod(&k, UID1);
	CHECK(r != NULL);
	if (!r)
		goto out;
	CHECK(r->ncontainers == 5);
	CHECK_STR(r->containers[0].name, "app");
	CHECK_STR(r->containers[0].runtime, "containerd");
	CHECK_STR(r->containers[0].id, CID1);
	CHECK_STR(r->containers[1].name, "proxy");
	CHECK_STR(r->containers[1].image, "envoy:1.29");
	CHECK_STR(r->containers[1].runtime, "docker");
	CHECK_STR(r->containers[1].id, CID2);
	CHECK_STR(r->containers[2].name, "waiting");
	CHECK_STR(r->containers[2].id, "");
	CHECK(r->containers[2].role == NH_CTR_APP);
	CHECK_STR(r->containers[3].name, "init");
	CHECK_STR(r->containers[3].runtime, "cri-o");
	CHECK_STR(r->containers[3].id, CID3);
	CHECK(r->containers[3].role == NH_CTR_INIT);
	CHECK_STR(r->containers[4].name, "debugger");
	CHECK_STR(r->containers[4].runtime, ""); /* no scheme: all of it is the id */
	CHECK_STR(r->containers[4].id, CID4);
	CHECK(r->containers[4].role == NH_CTR_EPHEMERAL);
	CHECK_STR(nh_pod_container_role_name(NH_CTR_INIT), "init");

	p = nh_kubelet_container(&k, CID2, &c);
	CHECK(p == r);
	CHECK(c == &r->containers[1]);
	CHECK(nh_kubelet_container(&k, CID3, NULL) == r);
	CHECK(nh_kubelet_container(&k, "", &c) == NULL);
	CHECK(c == NULL);
	CHECK(nh_kubelet_container(&k, "0000", &c) == NULL);
out:
	nh_kubelet_free(&k);
}

static void test_missing_fields(void)
{
	struct nh_kubelet k = {0};
	const struct nh_pod_record *r;

	/* uid only; wrong types; no uid; bad uid; not an object; no metadata */
	CHECK(parse(&k,
		    "{'kind':'PodList','items':["
		    "{'metadata':{'uid':'" UID1 "'}},"
		    "{'metadata':{'uid':'" UID2 "','name':42,'namespace':null,"
		    "'ownerReferences':{'kind':'ReplicaSet'}},'spec':[],'status':'x'},"
		    "{'metadata':{'name':'no-uid'}},"
		    "{'metadata':{'uid':'../../etc'}},"
		    "{'metadata':{'uid':''}},"
		    "{'metadata':{'uid':7}},"
		    "'pod',null,[],"
		    "{'spec':{}},"
		    "{'metadata':{'uid':'" UID3 "','ownerReferences':[1,{'kind':'Job','name':'j',"
		    "'controller':'true'},{'kind':'Job','name':'k','controller':true}]},"
		    "'spec':{'containers':[{'image':'noname:1'},7,{'name':'x','image':['a']}]},"
		    "'status':{'containerStatuses':[{'name':'x','containerID':3}]}}"
		    "]}",
		    NULL) == 0);
	CHECK(k.npods == 3);
	CHECK(k.skipped == 8);
	r = nh_kubelet_pod(&k, UID1);
	CHECK(r != NULL);
	if (r) {
		CHECK_STR(r->name, "");
		CHECK_STR(r->namespace_, "");
		CHECK_STR(r->service_account, "");
		CHECK_STR(r->node, "");
		CHECK_STR(r->workload_kind, "");
		CHECK(r->ncontainers == 0);
	}
	r = nh_kubelet_pod(&k, UID2);
	CHECK(r != NULL);
	if (r) {
		CHECK_STR(r->name, "");
		CHECK_STR(r->owner_kind, "");
		CHECK(r->ncontainers == 0);
	}
	r = nh_kubelet_pod(&k, UID3);
	CHECK(r != NULL);
	if (r) {
		/* "controller": "true" is not true; the first real one wins */
		CHECK_STR(r->owner_kind, "Job");
		CHECK_STR(r->owner_name, "k");
		CHECK_STR(r->workload_kind, "Job");
		CHECK_STR(r->workload_name, "k");
		CHECK(r->ncontainers == 2);
		CHECK_STR(r->containers[0].name, "");
		CHECK_STR(r->containers[0].image, "noname:1");
		CHECK_STR(r->containers[1].name, "x");
		CHECK_STR(r->containers[1].image, "");
		CHECK_STR(r->containers[1].id, "");
	}
	CHECK(nh_kubelet_pod(&k, "") == NULL);
	CHECK(nh_kubelet_pod(&k, NULL) == NULL);
	CHECK(nh_kubelet_pod(&k, "../../etc") == NULL);
	CHECK(nh_kubelet_pod(&k, "ffffffff-3c1f-4f4b-9a8e-2b1c0d9e8f7a") == NULL);

	/* an empty node: items [] or null or absent */
	CHECK(parse(&k, "{'kind':'PodList','items':null}", NULL) == 0);
	CHECK(k.npods == 0);
	CHECK(nh_kubelet_pod(&k, UID1) == NULL);
	CHECK(parse(&k, "{'kind':'PodList'}", NULL) == 0);
	CHECK(parse(&k, " {'kind':'PodList','items':[]}\n", NULL) == 0);
	CHECK(k.npods == 0);
	nh_kubelet_free(&k);
}

static void expect_owner(const char *labels, const char *api, const char *rs, const char *wkind,
			 const char *wname)
{
	struct nh_kubelet k = {0};
	char json[1024];
	const struct nh_pod_record *r;

	snprintf(json, sizeof(json),
		 "{'kind':'PodList','items':[{'metadata':{'uid':'" UID1 "',%s"
		 "'ownerReferences':[{%s'kind':'ReplicaSet','name':'%s','controller':true}]}}]}",
		 labels, api, rs);
	CHECK(parse(&k, json, NULL) == 0);
	r = nh_kubelet_pod(&k, UID1);
	CHECK(r != NULL);
	if (r) {
		CHECK_STR(r->owner_kind, "ReplicaSet");
		CHECK_STR(r->owner_name, rs);
		CHECK_STR(r->workload_kind, wkind);
		CHECK_STR(r->workload_name, wname);
	}
	nh_kubelet_free(&k);
}

static void test_workload_inference(void)
{
	const char *apps = "'apiVersion':'apps/v1',";
	const char *hash = "'labels':{'pod-template-hash':'5f6b7c8d9'},";

	expect_owner(hash, apps, "api-5f6b7c8d9", "Deployment", "api");
	/* dashes in the Deployment name stay */
	expect_owner("'labels':{'pod-template-hash':'58fd6c9b7'},", apps, "my-api-v2-58fd6c9b7",
		     "Deployment", "my-api-v2");
	/* the label disagrees with the name: not inferred */
	expect_owner(hash, apps, "api-6c7d8f9b5", "ReplicaSet", "api-6c7d8f9b5");
	/* no label: the suffix must look like a hash */
	expect_owner("", apps, "api-5f6b7c8d9", "Deployment", "api");
	expect_owner("", "", "api-5f6b7c8d9", "Deployment", "api");
	expect_owner("", apps, "frontend", "ReplicaSet", "frontend");
	expect_owner("", apps, "my-rs", "ReplicaSet", "my-rs");
	expect_owner("", apps, "api-abcde", "ReplicaSet", "api-abcde"); /* vowels: not a hash */
	expect_owner("", apps, "api-5f6b", "ReplicaSet", "api-5f6b");	/* too short */
	expect_owner("", apps, "-5f6b7c8d9", "ReplicaSet", "-5f6b7c8d9");
	expect_owner("", apps, "api-", "ReplicaSet", "api-");
	/* a ReplicaSet kind from another API group is not the built-in one */
	expect_owner(hash, "'apiVersion':'example.com/v1',", "api-5f6b7c8d9", "ReplicaSet",
		     "api-5f6b7c8d9");
	expect_owner(hash, "'apiVersion':'extensions/v1beta1',", "api-5f6b7c8d9", "Deployment",
		     "api");
}

static void test_static_pods(void)
{
	struct nh_kubelet k = {0};
	const struct nh_pod_record *r;

	/* the API server's mirror pod: its own uid, the kubelet's hash annotated */
	CHECK(parse(&k,
		    "{'kind':'PodList','items':[{'metadata':{'name':'kube-apiserver-node-1',"
		    "'namespace':'kube-system','uid':'" UID1 "','annotations':{"
		    "'kubernetes.io/config.hash':'" HASH32
		    "','kubernetes.io/config.mirror':'" HASH32
		    "','kubernetes.io/config.source':'file'},'ownerReferences':[{'apiVersion':'v1',"
		    "'kind':'Node','name':'node-1','controller':true}]}},"
		    /* the kubelet's own view of a static pod */
		    "{'metadata':{'name':'etcd-node-1','uid':'" CID1 "'," /* too long for a uid */
		    "'annotations':{'kubernetes.io/config.source':'file'}}},"
		    /* a second item with the mirror's hash as uid */
		    "{'metadata':{'name':'etcd-node-1','uid':'" HASH32 "',"
		    "'annotations':{'kubernetes.io/config.source':'api'}}},"
		    "{'metadata':{'name':'sched','uid':'" UID3 "',"
		    "'annotations':{'kubernetes.io/config.source':'file'}}}]}",
		    NULL) == 0);
	/* the mirror's hash came first, so the later item with that uid is shadowed */
	r = nh_kubelet_pod(&k, HASH32);
	CHECK(r != NULL);
	if (r) {
		CHECK_STR(r->name, "kube-apiserver-node-1");
		CHECK_STR(r->uid, HASH32);
		CHECK(r->static_pod);
		CHECK_STR(r->workload_kind, "Node");
	}
	CHECK(nh_kubelet_pod(&k, UID1) == NULL);
	CHECK(k.npods == 3);
	CHECK(k.skipped == 1);
	r = nh_kubelet_pod(&k, UID3);
	CHECK(r != NULL && r->static_pod);
	CHECK(k.pods[1].uid[0] && !k.pods[1].static_pod); /* source "api" */
	nh_kubelet_free(&k);
}

static void test_truncation(void)
{
	struct nh_kubelet k = {0};
	const struct nh_pod_record *r;
	char name[400], json[8192], *body;
	size_t i, n;

	/* 300 bytes: cut to 253 */
	memset(name, 'a', 300);
	name[300] = '\0';
	snprintf(json, sizeof(json),
		 "{'kind':'PodList','items':[{'metadata':{'uid':'" UID1 "','name':'%s',"
		 "'namespace':'ctl\\u0001\\n\\u007fx'}}]}",
		 name);
	CHECK(parse(&k, json, NULL) == 0);
	r = nh_kubelet_pod(&k, UID1);
	CHECK(r && r->truncated);
	CHECK(r && strlen(r->name) == sizeof(r->name) - 1);
	CHECK_STR(r ? r->namespace_ : NULL, "ctl???x"); /* no control bytes */

	/* a multi-byte character across the cut is dropped whole: 252 'a' + é */
	memset(name, 'a', 252);
	strcpy(name + 252, "\xc3\xa9zz");
	snprintf(json, sizeof(json),
		 "{'kind':'PodList','items':[{'metadata':{'uid':'" UID1 "','name':'%s'}}]}", name);
	CHECK(parse(&k, json, NULL) == 0);
	r = nh_kubelet_pod(&k, UID1);
	CHECK(r && r->truncated && strlen(r->name) == 252);

	/* a \u0000 in a value is not an end of string */
	CHECK(parse(&k,
		    "{'kind':'PodList','items':[{'metadata':{'uid':'" UID1
		    "','name':'a\\u0000b'}}]}",
		    NULL) == 0);
	r = nh_kubelet_pod(&k, UID1);
	CHECK_STR(r ? r->name : NULL, "a?b");
	CHECK(r && !r->truncated);

	/* 20 containers: 16 kept */
	n = (size_t)snprintf(json, sizeof(json),
			     "{'kind':'PodList','items':[{'metadata':{'uid':'" UID1
			     "'},'spec':{'containers':[");
	for (i = 0; i < 20; i++)
		n += (size_t)snprintf(json + n, sizeof(json) - n, "%s{'name':'c%zu','image':'i'}",
				      i ? "," : "", i);
	snprintf(json + n, sizeof(json) - n, "]}}]}");
	CHECK(parse(&k, json, NULL) == 0);
	r = nh_kubelet_pod(&k, UID1);
	CHECK(r && r->ncontainers == NH_POD_MAX_CONTAINERS && r->truncated);
	CHECK_STR(r ? r->containers[15].name : NULL, "c15");

	/* a 70-byte runtime id does not fit with room to spare: still terminated */
	body = J("{'kind':'PodList','items':[{'metadata':{'uid':'" UID1 "'},'spec':{'containers':"
		 "[{'name':'c'}]},'status':{'containerStatuses':[{'name':'c','containerID':"
		 "'averyveryverylongruntimename://" CID1 CID1 "'}]}}]}");
	CHECK(nh_kubelet_parse(&k, body, strlen(body), NULL) == 0);
	free(body);
	r = nh_kubelet_pod(&k, UID1);
	CHECK(r && r->truncated);
	CHECK(r && strlen(r->containers[0].runtime) == 15);
	CHECK(r && strlen(r->containers[0].id) == 79);
	nh_kubelet_free(&k);
}

static void test_duplicates(void)
{
	struct nh_kubelet k = {0};
	const struct nh_pod_record *r;

	CHECK(parse(&k,
		    "{'kind':'PodList','items':[{'metadata':{'uid':'" UID1 "','name':'first'}},"
		    "{'metadata':{'uid':'" UID1 "','name':'second'}}]}",
		    NULL) == 0);
	r = nh_kubelet_pod(&k, UID1);
	CHECK_STR(r ? r->name : NULL, "first");
	nh_kubelet_free(&k);
}

/* Each bad body fails with -EINVAL and a reason, and the table stays. */
static void expect_bad(struct nh_kubelet *k, const char *body, size_t len, const char *reason)
{
	const struct nh_pod_record *before = k->pods;
	size_t n = k->npods;
	const char *why = NULL;
	int rc = nh_kubelet_parse(k, body, len, &why);

	if (rc != -EINVAL)
		fprintf(stderr, "  (body %.60s: rc %d)\n", body ? body : "(null)", rc);
	CHECK(rc == -EINVAL);
	CHECK_STR(why, reason);
	CHECK(strstr(k->error, "response is not a PodList: ") == k->error);
	CHECK(k->pods == before && k->npods == n);
	CHECK(nh_kubelet_pod(k, UID1) != NULL);
}

static void expect_bad_j(struct nh_kubelet *k, const char *json, const char *reason)
{
	char *body = J(json);

	expect_bad(k, body, strlen(body), reason);
	free(body);
}

static void test_errors(void)
{
	struct nh_kubelet k = {0};
	const char nul[] = "{\"kind\":\"PodList\",\0\"items\":[]}";
	const char *bad_utf8 = "{\"kind\":\"PodList\",\"items\":[],\"x\":\"\xff\"}";
	char *body, *p;
	const char *why = NULL;
	size_t i;

	CHECK(parse(&k, "{'kind':'PodList','items':[" POD_DEPLOY "]}", NULL) == 0);

	expect_bad(&k, "", 0, "empty body");
	expect_bad(&k, NULL, 0, "empty body");
	expect_bad(&k, "not json", 8, "invalid JSON");
	expect_bad(&k, "<html>403</html>", 16, "invalid JSON");
	expect_bad_j(&k, "{'kind':'PodList','items':[" POD_DEPLOY, "truncated JSON");
	expect_bad_j(&k, "{'kind':'PodList','ite", "truncated JSON");
	expect_bad_j(&k, "[{'kind':'PodList'}]", "not a JSON object");
	expect_bad_j(&k, "'PodList'", "not a JSON object");
	expect_bad_j(&k, "42", "not a JSON object");
	expect_bad_j(&k, "null", "not a JSON object");
	expect_bad_j(&k, "{'kind':'Pod','items':[]}", "kind is not PodList");
	expect_bad_j(&k, "{'kind':'Status','status':'Failure','code':403}", "kind is not PodList");
	expect_bad_j(&k, "{'items':[]}", "kind is not PodList");
	expect_bad_j(&k, "{'kind':7,'items':[]}", "kind is not PodList");
	expect_bad_j(&k, "{'kind':'PodList','items':{}}", "items is not an array");
	expect_bad_j(&k, "{'kind':'PodList','items':'x'}", "items is not an array");
	expect_bad_j(&k, "{'kind':'PodList','items':[]} {}", "trailing data after the JSON value");
	expect_bad_j(&k, "{'kind':'PodList','items':[]}x", "trailing data after the JSON value");
	expect_bad(&k, nul, sizeof(nul) - 1, "NUL byte in body");
	expect_bad(&k, bad_utf8, strlen(bad_utf8), "invalid JSON");
	/* nesting deeper than the tokener allows */
	body = malloc(4096);
	if (body) {
		p = body + sprintf(body, "{\"kind\":\"PodList\",\"items\":");
		for (i = 0; i < 100; i++)
			*p++ = '[';
		for (i = 0; i < 100; i++)
			*p++ = ']';
		*p++ = '}';
		expect_bad(&k, body, (size_t)(p - body), "invalid JSON");
		free(body);
	}

	/* 1025 pods is too many; 1024 is fine */
	body = malloc(64 * 1100 + 64);
	if (!body)
		abort();
	p = body + sprintf(body, "{\"kind\":\"PodList\",\"items\":[");
	for (i = 0; i < NH_KUBELET_MAX_PODS + 1; i++)
		p += sprintf(p, "%s{\"metadata\":{\"uid\":\"pod-%04zu\"}}", i ? "," : "", i);
	strcpy(p, "]}");
	CHECK(nh_kubelet_parse(&k, body, strlen(body), &why) == -E2BIG);
	CHECK_STR(why, "more than 1024 pods");
	CHECK(k.npods == 1 && nh_kubelet_pod(&k, UID1) != NULL);
	/* drop the last item */
	p = strrchr(body, ',');
	strcpy(p, "]}");
	CHECK(nh_kubelet_parse(&k, body, strlen(body), &why) == 0);
	CHECK(k.npods == NH_KUBELET_MAX_PODS);
	CHECK(nh_kubelet_pod(&k, "pod-1023") == &k.pods[1023]);
	CHECK(nh_kubelet_pod(&k, "pod-0000") == &k.pods[0]);
	CHECK(nh_kubelet_pod(&k, UID1) == NULL);
	free(body);
	nh_kubelet_free(&k);
}

/* ---- a loopback HTTP server, forked ---- */

/*
 * Scenarios, one per connection, sent on a pipe before each request:
 *   o  200 with a two-pod list      O  200 with a one-pod list
 *   a  as o, on the API server path  f  403
 *   b  200, body over the cap, no Content-Length
 *   B  200, body over the cap, with Content-Length
 *   z  200, gzip-encoded list       Z  200, gzip bomb (small on the wire)
 *   n  200, not a PodList           r  302 to the same server
 *   s  read the request and never answer
 * The server reports on a second pipe whether the request had the right
 * path and exactly "Authorization: Bearer <the token file's content>".
 */
struct server {
	pid_t pid;
	int port;
	int ctl;
	int res;
};

static const char *ok_body;
static const char *one_body;

static bool send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static void respond(int fd, const char *status, const char *extra, const void *body, size_t len,
		    bool content_length)
{
	char head[512];
	int n;

	if (content_length)
		n = snprintf(head, sizeof(head),
			     "HTTP/1.1 %s\r\nContent-Type: application/json\r\n%s"
			     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			     status, extra, len);
	else
		n = snprintf(head, sizeof(head),
			     "HTTP/1.1 %s\r\nContent-Type: application/json\r\n%s"
			     "Connection: close\r\n\r\n",
			     status, extra);
	if (send_all(fd, head, (size_t)n))
		send_all(fd, body, len);
}

static size_t gzip(const char *in, size_t len, unsigned char *out, size_t cap)
{
	z_stream z;
	size_t n;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return 0;
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	n = deflate(&z, Z_FINISH) == Z_STREAM_END ? cap - z.avail_out : 0;
	deflateEnd(&z);
	return n;
}

/* Pad a PodList with spaces to size bytes: valid JSON, only too big. */
static char *padded(size_t size)
{
	const char *head = "{\"kind\":\"PodList\",\"items\":[]}";
	char *b = malloc(size);

	if (!b)
		_exit(3);
	memset(b, ' ', size);
	memcpy(b, head, strlen(head));
	return b;
}

static bool request_ok(const char *req, const char *path, const char *token_path)
{
	char want[512], tok[256];
	ssize_t n;
	int fd = open(token_path, O_RDONLY);

	if (fd < 0)
		return false;
	n = read(fd, tok, sizeof(tok) - 1);
	close(fd);
	if (n <= 0)
		return false;
	tok[n] = '\0';
	tok[strcspn(tok, "\r\n")] = '\0';
	snprintf(want, sizeof(want), "GET %s HTTP/1.1\r\n", path);
	if (strncmp(req, want, strlen(want)) != 0)
		return false;
	snprintf(want, sizeof(want), "\r\nAuthorization: Bearer %s\r\n", tok);
	return strstr(req, want) != NULL && strstr(req, "Accept-Encoding: ") != NULL;
}

static void serve_one(int fd, char sc, int ctl, int res, const char *token_path)
{
	char req[8192];
	size_t len = 0;
	unsigned char *z;
	char *big;
	size_t zn;
	bool ok;

	while (len < sizeof(req) - 1) {
		ssize_t n = recv(fd, req + len, sizeof(req) - 1 - len, 0);

		if (n <= 0)
			break;
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	req[len] = '\0';
	ok = request_ok(req, sc == 'a' ? API_PATH : "/pods", token_path);
	if (write(res, ok ? "+" : "-", 1) != 1)
		_exit(2);
	if (!ok && sc != 's') {
		respond(fd, "400 Bad Request", "", "{}", 2, true);
		return;
	}
	switch (sc) {
	case 'o':
	case 'a':
		respond(fd, "200 OK", "", ok_body, strlen(ok_body), true);
		break;
	case 'O':
		respond(fd, "200 OK", "", one_body, strlen(one_body), true);
		break;
	case 'f':
		respond(fd, "403 Forbidden", "",
			"{\"kind\":\"Status\",\"status\":\"Failure\",\"code\":403}", 47, true);
		break;
	case 'b':
	case 'B':
		big = padded(64 << 10);
		respond(fd, "200 OK", "", big, 64 << 10, sc == 'B');
		free(big);
		break;
	case 'z':
	case 'Z':
		big = padded(1 << 20);
		z = malloc(1 << 20);
		if (!z)
			_exit(3);
		zn = sc == 'z' ? gzip(ok_body, strlen(ok_body), z, 1 << 20)
			       : gzip(big, 1 << 20, z, 1 << 20);
		respond(fd, "200 OK", "Content-Encoding: gzip\r\n", z, zn, true);
		free(z);
		free(big);
		break;
	case 'n':
		respond(fd, "200 OK", "", "{\"kind\":\"Pod\"}", 14, true);
		break;
	case 'r':
		respond(fd, "302 Found", "Location: /pods\r\n", "", 0, true);
		break;
	case 's': {
		struct pollfd p = {.fd = ctl, .events = POLLIN};

		poll(&p, 1, 20000); /* until the parent moves on */
		break;
	}
	default:
		break;
	}
}

static struct server start_server(const char *token_path)
{
	struct server s = {.pid = -1};
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t slen = sizeof(sa);
	int lfd, ctl[2], res[2];

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 8) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &slen) < 0 || pipe(ctl) || pipe(res)) {
		perror("server");
		return s;
	}
	s.port = ntohs(sa.sin_port);
	fflush(NULL);
	s.pid = fork();
	if (s.pid == 0) {
		char sc;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(120); /* never outlive a stuck test */
		close(ctl[1]);
		close(res[0]);
		while (read(ctl[0], &sc, 1) == 1 && sc != 'q') {
			int fd = accept(lfd, NULL, NULL);

			if (fd < 0)
				_exit(1);
			serve_one(fd, sc, ctl[0], res[1], token_path);
			close(fd);
		}
		_exit(0);
	}
	close(lfd);
	close(ctl[0]);
	close(res[1]);
	s.ctl = ctl[1];
	s.res = res[0];
	return s;
}

static void stop_server(struct server *s)
{
	if (s->pid <= 0)
		return;
	if (write(s->ctl, "q", 1) != 1)
		kill(s->pid, SIGKILL);
	close(s->ctl);
	close(s->res);
	waitpid(s->pid, NULL, 0);
	s->pid = -1;
}

/* Run one refresh against scenario sc; *seen gets the server's verdict
 * on the request ('+', '-', or 0 when it saw none). */
static int refresh_with(struct nh_kubelet *k, struct server *s, char sc, char *seen)
{
	struct pollfd p = {.fd = s->res, .events = POLLIN};
	int rc;

	*seen = 0;
	if (write(s->ctl, &sc, 1) != 1)
		return -EPIPE;
	rc = nh_kubelet_refresh(k);
	if (poll(&p, 1, 2000) == 1 && read(s->res, seen, 1) != 1)
		*seen = 0;
	return rc;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static bool no_token(const struct nh_kubelet *k)
{
	return !strstr(k->error, "tok-") && !strstr(k->curl_error, "tok-");
}

static void test_http(const char *dir)
{
	char token_path[512], url[256], missing[512];
	struct nh_kubelet k, k2;
	struct nh_kubelet_conf conf = {0};
	struct server s;
	struct timespec t0;
	long ms;
	char seen;
	int rc;

	snprintf(token_path, sizeof(token_path), "%s/token", dir);
	snprintf(missing, sizeof(missing), "%s/no-such-token", dir);
	write_file(token_path, TOKEN1 "\n");
	s = start_server(token_path);
	CHECK(s.pid > 0);
	if (s.pid <= 0)
		return;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/pods", s.port);
	conf.url = url;
	conf.token_path = token_path;
	conf.max_bytes = 16 << 10;
	rc = nh_kubelet_init(&k, &conf);
	CHECK(rc == 0);
	if (rc) {
		fprintf(stderr, "  init: %s\n", k.error);
		stop_server(&s);
		return;
	}

	/* success, and the token was sent */
	CHECK(refresh_with(&k, &s, 'o', &seen) == 0);
	CHECK(seen == '+');
	CHECK(k.npods == 2);
	CHECK(nh_kubelet_pod(&k, UID1) != NULL);
	CHECK(nh_kubelet_pod(&k, UID2) != NULL);

	/* the token is re-read: rotate it, the next request carries the new one */
	write_file(token_path, TOKEN2 "\n");
	CHECK(refresh_with(&k, &s, 'O', &seen) == 0);
	CHECK(seen == '+');
	CHECK(k.npods == 1);
	CHECK(nh_kubelet_pod(&k, UID1) == NULL); /* the table was rebuilt */
	CHECK(nh_kubelet_pod(&k, UID2) != NULL);
	CHECK(refresh_with(&k, &s, 'o', &seen) == 0);
	CHECK(k.npods == 2);

	/* 403: the error names it, the table is kept */
	rc = refresh_with(&k, &s, 'f', &seen);
	CHECK(rc == -EACCES);
	CHECK(seen == '+');
	CHECK(strstr(k.error, "HTTP 403 from ") == k.error && strstr(k.error, url));
	CHECK(k.npods == 2 && nh_kubelet_pod(&k, UID1) != NULL);
	CHECK(no_token(&k));

	/* too big, streamed or announced, or after gunzip */
	CHECK(refresh_with(&k, &s, 'b', &seen) == -EFBIG);
	CHECK(strstr(k.error, "larger than 16384 bytes") != NULL);
	CHECK(refresh_with(&k, &s, 'B', &seen) == -EFBIG);
	CHECK(strstr(k.error, "larger than 16384 bytes") != NULL);
	CHECK(refresh_with(&k, &s, 'Z', &seen) == -EFBIG);
	CHECK(k.npods == 2 && nh_kubelet_pod(&k, UID1) != NULL);
	CHECK(no_token(&k));
	CHECK(refresh_with(&k, &s, 'z', &seen) == 0);
	CHECK(k.npods == 2);

	/* not a PodList, a redirect (not followed) */
	CHECK(refresh_with(&k, &s, 'n', &seen) == -EINVAL);
	CHECK_STR(k.error, "response is not a PodList: kind is not PodList");
	CHECK(refresh_with(&k, &s, 'r', &seen) == -EIO);
	CHECK(strstr(k.error, "HTTP 302 from ") == k.error);
	CHECK(k.npods == 2);

	/* the token file is gone: no request, the error names the file */
	CHECK(unlink(token_path) == 0);
	rc = nh_kubelet_refresh(&k);
	CHECK(rc == -ENOENT);
	CHECK(strstr(k.error, token_path) != NULL);
	write_file(token_path, "\n \n");
	CHECK(nh_kubelet_refresh(&k) == -EINVAL);
	write_file(token_path, "tok-with space\n");
	CHECK(nh_kubelet_refresh(&k) == -EINVAL);
	CHECK(unlink(token_path) == 0);
	CHECK(mkfifo(token_path, 0600) == 0); /* would block a plain open */
	CHECK(nh_kubelet_refresh(&k) == -EINVAL);
	CHECK(unlink(token_path) == 0);
	CHECK(no_token(&k));
	CHECK(k.npods == 2);
	write_file(token_path, TOKEN1);
	nh_kubelet_free(&k);

	/* the API server's URL */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d" API_PATH, s.port);
	conf.max_bytes = 0;
	CHECK(nh_kubelet_init(&k, &conf) == 0);
	CHECK(refresh_with(&k, &s, 'a', &seen) == 0);
	CHECK(seen == '+');
	CHECK(k.npods == 2);
	nh_kubelet_free(&k);

	/* a server that never answers: a timeout, on time */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/pods", s.port);
	conf.timeout_ms = 400;
	CHECK(nh_kubelet_init(&k2, &conf) == 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = refresh_with(&k2, &s, 's', &seen);
	ms = ms_since(&t0);
	CHECK(rc == -ETIMEDOUT);
	CHECK(seen == '+');
	CHECK(ms >= 350 && ms < 400 + 1500);
	CHECK(strstr(k2.error, url) != NULL);
	CHECK(no_token(&k2));
	if (rc != -ETIMEDOUT || ms >= 1900)
		fprintf(stderr, "  timeout: rc %d after %ld ms: %s\n", rc, ms, k2.error);
	nh_kubelet_free(&k2);
	stop_server(&s);

	/* nobody listens now: refused (the port was ours until a moment ago) */
	conf.timeout_ms = 0;
	CHECK(nh_kubelet_init(&k2, &conf) == 0);
	rc = nh_kubelet_refresh(&k2);
	CHECK(rc == -ECONNREFUSED || rc == -ETIMEDOUT);
	nh_kubelet_free(&k2);

	/* init refusals, all before any connection */
	conf.url = "http://node.invalid:10255/pods";
	CHECK(nh_kubelet_init(&k2, &conf) == -EINVAL); /* token in clear text */
	CHECK(strstr(k2.error, "refusing to send a bearer token") != NULL);
	conf.token_path = NULL;
	CHECK(nh_kubelet_init(&k2, &conf) == 0); /* no token: allowed */
	nh_kubelet_free(&k2);
	conf.token_path = token_path;
	conf.url = "http://[::1]:1/pods";
	CHECK(nh_kubelet_init(&k2, &conf) == 0);
	nh_kubelet_free(&k2);
	conf.url = "http://localhost:1/pods";
	CHECK(nh_kubelet_init(&k2, &conf) == 0);
	nh_kubelet_free(&k2);
	conf.url = "ftp://127.0.0.1/pods";
	CHECK(nh_kubelet_init(&k2, &conf) == -EINVAL);
	conf.url = "https://user:secret@127.0.0.1/pods";
	CHECK(nh_kubelet_init(&k2, &conf) == -EINVAL);
	CHECK(strstr(k2.error, "secret") == NULL);
	conf.url = "not a url";
	CHECK(nh_kubelet_init(&k2, &conf) == -EINVAL);
	conf.url = NULL;
	CHECK(nh_kubelet_init(&k2, &conf) == -EINVAL);
	memset(&k2, 0, sizeof(k2));
	CHECK(nh_kubelet_refresh(&k2) == -EINVAL); /* never initialised */
	nh_kubelet_free(&k2);
}

/* ---- HTTPS against openssl s_server ---- */

static int run(const char *dir, const char *cmd)
{
	char line[2048];

	snprintf(line, sizeof(line), "cd '%s' && { %s; } >/dev/null 2>&1", dir, cmd);
	return system(line);
}

/* Start `openssl s_server -HTTP` in dir; its port, or 0. */
static int start_tls_server(const char *dir, pid_t *pid)
{
	int out[2], port = 0;
	char buf[4096];
	size_t len = 0;
	struct pollfd p;
	char *a;

	if (pipe(out))
		return 0;
	fflush(NULL);
	*pid = fork();
	if (*pid == 0) {
		int null = open("/dev/null", O_RDWR);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(120);
		if (chdir(dir) != 0)
			_exit(1);
		dup2(null, 0);
		dup2(out[1], 1);
		dup2(null, 2);
		execlp("openssl", "openssl", "s_server", "-HTTP", "-accept", "127.0.0.1:0", "-cert",
		       "server.pem", "-key", "server.key", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	p.fd = out[0];
	p.events = POLLIN;
	while (len < sizeof(buf) - 1 && poll(&p, 1, 5000) == 1) {
		ssize_t n = read(out[0], buf + len, sizeof(buf) - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		a = strstr(buf, "ACCEPT 127.0.0.1:");
		if (a && strchr(a, '\n')) {
			port = atoi(a + strlen("ACCEPT 127.0.0.1:"));
			break;
		}
	}
	close(out[0]); /* s_server's later output goes nowhere; it ignores SIGPIPE */
	return port;
}

static void test_https(const char *dir)
{
	char url[128], path[512], ca[512], token_path[512], resp[4096];
	struct nh_kubelet k;
	struct nh_kubelet_conf conf = {0};
	pid_t pid = -1;
	int port, rc;

	if (run(dir, "command -v openssl") != 0) {
		printf("test_kubelet: openssl CLI not found, HTTPS tests skipped\n");
		return;
	}
	/* a throwaway CA and a server certificate for 127.0.0.1, made now */
	rc = run(dir, "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		      "-keyout ca.key -out ca.pem -days 1 -subj /CN=nhiscope-test-ca && "
		      "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		      "-keyout server.key -out server.csr -subj /CN=127.0.0.1 && "
		      "printf 'subjectAltName=IP:127.0.0.1\\n' > ext.cnf && "
		      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
		      "-days 1 -extfile ext.cnf -out server.pem");
	CHECK(rc == 0);
	if (rc)
		return;
	snprintf(path, sizeof(path), "%s/pods", dir);
	snprintf(
	    resp, sizeof(resp),
	    "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
	    strlen(ok_body), ok_body);
	write_file(path, resp);
	snprintf(token_path, sizeof(token_path), "%s/token", dir);
	write_file(token_path, TOKEN1 "\n");
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);

	port = start_tls_server(dir, &pid);
	CHECK(port > 0);
	if (port <= 0)
		goto out;
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/pods", port);
	conf.url = url;
	conf.token_path = token_path;

	/* verified against the CA */
	conf.ca_path = ca;
	CHECK(nh_kubelet_init(&k, &conf) == 0);
	rc = nh_kubelet_refresh(&k);
	CHECK(rc == 0);
	if (rc)
		fprintf(stderr, "  https: %s\n", k.error);
	CHECK(k.npods == 2);
	nh_kubelet_free(&k);

	/* the system CAs do not know it: refused, nothing learnt */
	conf.ca_path = NULL;
	CHECK(nh_kubelet_init(&k, &conf) == 0);
	rc = nh_kubelet_refresh(&k);
	CHECK(rc == -EPROTO);
	CHECK(k.npods == 0);
	CHECK(strstr(k.error, url) != NULL && no_token(&k));
	nh_kubelet_free(&k);

	/* insecure: accepted */
	conf.insecure = true;
	CHECK(nh_kubelet_init(&k, &conf) == 0);
	CHECK(nh_kubelet_refresh(&k) == 0);
	CHECK(k.npods == 2);
	nh_kubelet_free(&k);
out:
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int main(void)
{
	char dir[] = "/tmp/nh-kubelet-test-XXXXXX";
	char *ok, *one;

	if (nh_kubelet_global_init() != 0) {
		fprintf(stderr, "curl_global_init failed\n");
		return 1;
	}
	ok = J("{'kind':'PodList','apiVersion':'v1','metadata':{},'items':[" POD_DEPLOY "," POD_STS
	       "]}");
	one = J("{'kind':'PodList','items':[" POD_STS "]}");
	ok_body = ok;
	one_body = one;

	test_deployment();
	test_statefulset_and_bare();
	test_containers();
	test_missing_fields();
	test_workload_inference();
	test_static_pods();
	test_truncation();
	test_duplicates();
	test_errors();
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		CHECK(0);
	} else {
		test_http(dir);
		test_https(dir);
		nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	}
	free(ok);
	free(one);
	nh_kubelet_global_cleanup();
	return nh_check_report("test_kubelet");
}
