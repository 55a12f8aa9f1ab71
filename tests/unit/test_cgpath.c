/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for agent/cgpath.c: one block per cgroup layout we must read. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cgpath.h"
#include "check.h"

#define CID	  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define CID2	  "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define CID_UPPER "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"
#define CID_SHORT "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde"
#define UID	  "7d5e3e0c-3c1f-4f4b-9a8e-2b1c0d9e8f7a"
#define UID2	  "0f1e2d3c-4b5a-4697-8877-665544332211"
#define UID_US	  "7d5e3e0c_3c1f_4f4b_9a8e_2b1c0d9e8f7a"
#define UID_UPPER "7D5E3E0C-3c1f-4f4b-9a8e-2b1c0d9e8f7a"

static struct nh_cgroup_info ci;

/* Parse into a struct pre-filled with junk, so "left zeroed" is tested. */
static int parse(const char *path)
{
	memset(&ci, 0xa5, sizeof(ci));
	return nh_cgpath_parse(path, &ci);
}

static bool is_none(const struct nh_cgroup_info *c)
{
	return c->kind == NH_CG_NONE && c->runtime == NH_RT_UNKNOWN && c->qos == NH_QOS_NONE &&
	       !c->user_unit && !c->pod_uid[0] && !c->container_id[0] && !c->unit[0];
}

static void expect_pod(int line, const char *path, enum nh_qos qos, enum nh_runtime rt,
		       const char *cid)
{
	int rc = parse(path);

	if (rc != 0 || ci.kind != NH_CG_K8S_POD)
		fprintf(stderr, "  (line %d: %s -> rc %d kind %d)\n", line, path, rc, ci.kind);
	CHECK(rc == 0);
	CHECK(ci.kind == NH_CG_K8S_POD);
	CHECK(ci.qos == qos);
	CHECK(ci.runtime == rt);
	CHECK_STR(ci.pod_uid, UID);
	CHECK_STR(ci.container_id, cid);
	CHECK_STR(ci.unit, "");
	CHECK(!ci.user_unit);
}

static void expect_ctr(int line, const char *path, enum nh_runtime rt, const char *cid)
{
	int rc = parse(path);

	if (rc != 0 || ci.kind != NH_CG_CONTAINER)
		fprintf(stderr, "  (line %d: %s -> rc %d kind %d)\n", line, path, rc, ci.kind);
	CHECK(rc == 0);
	CHECK(ci.kind == NH_CG_CONTAINER);
	CHECK(ci.runtime == rt);
	CHECK(ci.qos == NH_QOS_NONE);
	CHECK_STR(ci.container_id, cid);
	CHECK_STR(ci.pod_uid, "");
	CHECK_STR(ci.unit, "");
}

static void expect_unit(int line, const char *path, const char *unit, bool user)
{
	int rc = parse(path);

	if (rc != 0 || ci.kind != NH_CG_UNIT)
		fprintf(stderr, "  (line %d: %s -> rc %d kind %d)\n", line, path, rc, ci.kind);
	CHECK(rc == 0);
	CHECK(ci.kind == NH_CG_UNIT);
	CHECK_STR(ci.unit, unit);
	CHECK(ci.user_unit == user);
	CHECK(ci.runtime == NH_RT_UNKNOWN && ci.qos == NH_QOS_NONE);
	CHECK(!ci.pod_uid[0] && !ci.container_id[0]);
}

/* Well-formed but says nothing. */
static void expect_none(int line, const char *path)
{
	int rc = parse(path);

	if (rc != 0 || !is_none(&ci))
		fprintf(stderr, "  (line %d: %s -> rc %d kind %d)\n", line, path, rc, ci.kind);
	CHECK(rc == 0);
	CHECK(is_none(&ci));
}

static void expect_einval(int line, const char *path)
{
	int rc = parse(path);

	if (rc != -EINVAL)
		fprintf(stderr, "  (line %d: %s -> rc %d kind %d)\n", line, path ? path : "(null)",
			rc, ci.kind);
	CHECK(rc == -EINVAL);
	CHECK(is_none(&ci));
}

#define POD(p, q, r, c)	 expect_pod(__LINE__, p, q, r, c)
#define CTR(p, r, c)	 expect_ctr(__LINE__, p, r, c)
#define UNIT(p, u, user) expect_unit(__LINE__, p, u, user)
#define NONE(p)		 expect_none(__LINE__, p)
#define EINVAL_(p)	 expect_einval(__LINE__, p)

static void test_k8s_cgroupfs(void)
{
	POD("/kubepods/pod" UID "/" CID, NH_QOS_GUARANTEED, NH_RT_UNKNOWN, CID);
	POD("/kubepods/burstable/pod" UID "/" CID, NH_QOS_BURSTABLE, NH_RT_UNKNOWN, CID);
	POD("/kubepods/besteffort/pod" UID "/" CID, NH_QOS_BESTEFFORT, NH_RT_UNKNOWN, CID);
	POD("/kubepods/burstable/pod" UID "/crio-" CID, NH_QOS_BURSTABLE, NH_RT_CRIO, CID);
	POD("/kubepods/pod" UID "/crio-conmon-" CID, NH_QOS_GUARANTEED, NH_RT_CRIO, CID);
	/* pod level, no container */
	POD("/kubepods/burstable/pod" UID, NH_QOS_BURSTABLE, NH_RT_UNKNOWN, "");
	POD("/kubepods/burstable/pod" UID "/", NH_QOS_BURSTABLE, NH_RT_UNKNOWN, "");
	/* a bare child that is not 64 hex is just not a container */
	POD("/kubepods/burstable/pod" UID "/" CID_SHORT, NH_QOS_BURSTABLE, NH_RT_UNKNOWN, "");
	POD("/kubepods/pod" UID "/other", NH_QOS_GUARANTEED, NH_RT_UNKNOWN, "");
	/* below the container: still that container */
	POD("/kubepods/pod" UID "/" CID "/sub/" CID2, NH_QOS_GUARANTEED, NH_RT_UNKNOWN, CID);
	/* only the direct child of the pod is its container */
	POD("/kubepods/pod" UID "/x/" CID, NH_QOS_GUARANTEED, NH_RT_UNKNOWN, "");
	/* a runtime-named component deeper down is not the pod's container */
	POD("/kubepods/pod" UID "/x/crio-" CID, NH_QOS_GUARANTEED, NH_RT_UNKNOWN, "");
	/* pod in a pod: the outer one is what the host scheduled */
	POD("/kubepods/pod" UID "/" CID "/kubepods/pod" UID2 "/" CID2, NH_QOS_GUARANTEED,
	    NH_RT_UNKNOWN, CID);
	/* nested under a prefix (kind with cgroupfs) */
	POD("/kubelet/kubepods/besteffort/pod" UID "/" CID, NH_QOS_BESTEFFORT, NH_RT_UNKNOWN, CID);
	/* QoS level alone and the root are not pods */
	NONE("/kubepods");
	NONE("/kubepods/burstable");
	/* "pod*" is only a pod directly under kubepods or kubepods/<qos> */
	NONE("/kubepods/other/podxyz");
	NONE("/other/burstable/pod" UID);
	NONE("/kubepods/x/besteffort/pod" UID);
	NONE("/srv/podxyz");
	EINVAL_("/kubepods/burstable/podxyz");
	EINVAL_("/kubepods/podxyz/" CID);
	EINVAL_("/kubepods/besteffort/pod");
	EINVAL_("/kubepods/pod" UID_UPPER);
	EINVAL_("/kubepods/pod" UID_US "/" CID);
	EINVAL_("/kubepods/pod" UID "x");
	/* a runtime-named child must carry a full id */
	EINVAL_("/kubepods/pod" UID "/crio-zzz");
	EINVAL_("/kubepods/pod" UID "/crio-" CID_SHORT);
}

static void test_k8s_systemd(void)
{
	POD("/kubepods.slice/kubepods-pod" UID_US ".slice/cri-containerd-" CID ".scope",
	    NH_QOS_GUARANTEED, NH_RT_CONTAINERD, CID);
	POD("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_US
	    ".slice/crio-" CID ".scope",
	    NH_QOS_BURSTABLE, NH_RT_CRIO, CID);
	POD("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_US
	    ".slice/crio-conmon-" CID ".scope",
	    NH_QOS_BESTEFFORT, NH_RT_CRIO, CID);
	POD("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_US
	    ".slice/docker-" CID ".scope",
	    NH_QOS_BESTEFFORT, NH_RT_DOCKER, CID);
	POD("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_US ".slice",
	    NH_QOS_BURSTABLE, NH_RT_UNKNOWN, "");
	/* kubelet in a container (kind) */
	POD("/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
	    "kubelet-kubepods-besteffort-pod" UID_US ".slice/cri-containerd-" CID ".scope",
	    NH_QOS_BESTEFFORT, NH_RT_CONTAINERD, CID);
	POD("/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod" UID_US ".slice",
	    NH_QOS_GUARANTEED, NH_RT_UNKNOWN, "");
	/* a pod below a container is that container's (trust model: a kind
	 * node seen from the host, or a container forging a victim pod) */
	CTR("/system.slice/docker-" CID2 ".scope/kubelet.slice/kubelet-kubepods.slice/"
	    "kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-pod" UID_US
	    ".slice/cri-containerd-" CID ".scope",
	    NH_RT_DOCKER, CID2);
	CTR("/system.slice/docker-" CID2 ".scope/kubepods/burstable/pod" UID "/" CID, NH_RT_DOCKER,
	    CID2);
	/* a pod's container naming another pod below itself: still the first pod */
	POD("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_US
	    ".slice/cri-containerd-" CID ".scope/kubepods.slice/kubepods-pod"
	    "0f1e2d3c_4b5a_4697_8877_665544332211.slice/sshd.service",
	    NH_QOS_BURSTABLE, NH_RT_CONTAINERD, CID);
	/* nor is a pod or a container below a delegated unit */
	UNIT("/system.slice/app.service/kubepods-burstable-pod" UID_US ".slice", "app.service",
	     false);
	UNIT("/system.slice/app.service/containerd.service/kubepods-pod" UID_US ".slice:crio:" CID,
	     "app.service", false);
	UNIT("/system.slice/app.service/docker-" CID ".scope", "app.service", false);
	/* containerd's unexpanded slice:prefix:name form */
	POD("/system.slice/containerd.service/kubepods-burstable-pod" UID_US
	    ".slice:cri-containerd:" CID,
	    NH_QOS_BURSTABLE, NH_RT_CONTAINERD, CID);
	POD("/system.slice/containerd.service/kubepods-pod" UID_US ".slice:crio:" CID,
	    NH_QOS_GUARANTEED, NH_RT_CRIO, CID);
	POD("/kubepods-besteffort-pod" UID_US ".slice:other:" CID, NH_QOS_BESTEFFORT, NH_RT_UNKNOWN,
	    CID);
	EINVAL_("/system.slice/containerd.service/kubepods-burstable-pod" UID_US
		".slice:cri-containerd:zzz");
	EINVAL_("/system.slice/containerd.service/kubepods-burstable-pod" UID_US
		".slice:cri-containerd");
	/* a colon in a non-pod name means nothing */
	UNIT("/system.slice/containerd.service/system.slice:docker:" CID, "containerd.service",
	     false);
	/* QoS slices and lookalikes are not pods */
	NONE("/kubepods.slice");
	NONE("/kubepods.slice/kubepods-burstable.slice");
	NONE("/kubepods.slice/kubepods-besteffort.slice/");
	NONE("/system.slice/notkubepods-podxyz.slice");
	NONE("/system.slice/foo-podman.slice");
	/* bad pod UIDs in a pod slice */
	EINVAL_("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podxyz.slice");
	EINVAL_("/kubepods.slice/kubepods-pod.slice");
	EINVAL_("/kubepods.slice/kubepods-pod" UID ".slice"); /* dashes, not underscores */
	EINVAL_("/kubepods.slice/kubepods-pod" UID_US "0.slice");
	EINVAL_("/kubepods.slice/kubepods-pod" UID_US ".slice/docker-zzz.scope");
	EINVAL_("/kubepods.slice/kubepods-pod" UID_US ".slice/cri-containerd-" CID_UPPER ".scope");
}

static void test_plain_containers(void)
{
	CTR("/docker/" CID, NH_RT_DOCKER, CID);
	CTR("/system.slice/docker-" CID ".scope", NH_RT_DOCKER, CID);
	CTR("/machine.slice/libpod-" CID ".scope", NH_RT_PODMAN, CID);
	CTR("/machine.slice/libpod-conmon-" CID ".scope", NH_RT_PODMAN, CID);
	CTR("/machine.slice/libpod-" CID ".scope/container", NH_RT_PODMAN, CID);
	CTR("/machine.slice/machine-libpod_pod_abc.slice/libpod-" CID ".scope", NH_RT_PODMAN, CID);
	/* rootless podman: a container, not a user unit */
	CTR("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" CID ".scope",
	    NH_RT_PODMAN, CID);
	CHECK(!ci.user_unit);
	CTR("/libpod_parent/libpod-" CID, NH_RT_PODMAN, CID);
	/* quadlet / --cgroups=split: below a (delegated) service, the service's */
	UNIT("/system.slice/web.service/libpod-payload-" CID, "web.service", false);
	CTR("/system.slice/nerdctl-" CID ".scope", NH_RT_CONTAINERD, CID);
	CTR("/system.slice/cri-containerd-" CID ".scope", NH_RT_CONTAINERD, CID);
	/* containerd cgroupfs: /<namespace>/<id>, exactly two components */
	CTR("/default/" CID, NH_RT_CONTAINERD, CID);
	CTR("/k8s.io/" CID, NH_RT_CONTAINERD, CID);
	CTR("/default/" CID "/", NH_RT_CONTAINERD, CID);
	NONE("/default/" CID "/sub");
	NONE("/a/default/" CID);
	NONE("/system.slice/" CID);
	NONE("/kubepods/" CID);
	NONE("/bad..ns/" CID);
	NONE("/default/" CID_SHORT);
	NONE("/" CID);
	/* outermost container wins (docker-in-docker, systemd in a container) */
	CTR("/docker/" CID "/docker/" CID2, NH_RT_DOCKER, CID);
	CTR("/system.slice/docker-" CID ".scope/system.slice/nginx.service", NH_RT_DOCKER, CID);
	/* bare segments that are not 64 lowercase hex are not containers */
	NONE("/docker/zzz");
	NONE("/docker/" CID_UPPER);
	NONE("/docker/" CID_SHORT);
	/* a runtime-named component must carry a full id, wherever it is */
	EINVAL_("/system.slice/docker-zzz.scope");
	EINVAL_("/system.slice/docker-" CID_UPPER ".scope");
	EINVAL_("/system.slice/docker-" CID_SHORT ".scope");
	EINVAL_("/system.slice/docker-" CID "0.scope");
	EINVAL_("/system.slice/docker-.scope");
	EINVAL_("/machine.slice/libpod-abc.scope");
	EINVAL_("/libpod_parent/libpod-abc");
	EINVAL_("/system.slice/nerdctl-abc.scope");
	EINVAL_("/system.slice/docker-" CID ".scope/crio-zzz");
	/* names that only resemble runtime forms are left alone */
	UNIT("/system.slice/docker.service", "docker.service", false);
	NONE("/system.slice/docker-compose.slice");
	NONE("/libpod_parent");
}

static void test_units(void)
{
	UNIT("/system.slice/nginx.service", "nginx.service", false);
	UNIT("/system.slice/nginx.service/", "nginx.service", false);
	UNIT("/system.slice/system-getty.slice/getty@tty1.service", "getty@tty1.service", false);
	UNIT("/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service", "foo.service",
	     true);
	UNIT("/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service/sub",
	     "foo.service", true);
	/* the outermost service wins: a delegated unit names its children */
	UNIT("/system.slice/outer.service/inner.service", "outer.service", false);
	UNIT("/system.slice/app.service/sshd.service", "app.service", false);
	UNIT("/system.slice/app.service/x/user@0.service/sshd.service", "app.service", false);
	/* a delegated sub-cgroup still belongs to its service */
	UNIT("/system.slice/outer.service/worker", "outer.service", false);
	/* systemd's escapes are valid unit characters */
	UNIT("/system.slice/system-foo.slice/foo@a\\x2db.service", "foo@a\\x2db.service", false);
	NONE("/user.slice/user-1000.slice/user@1000.service");
	NONE("/user.slice/user-1000.slice/user@1000.service/init.scope");
	NONE("/user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox-12.scope");
	NONE("/user.slice/user-1000.slice/session-3.scope");
	NONE("/user.slice/user-1000.slice");
	NONE("/user.slice");
	NONE("/init.scope");
	NONE("/");
	NONE("/system.slice");
	NONE("/system.slice/run-r1234.scope");
	/* not something systemd would name a service */
	NONE("/system.slice/.service");
	NONE("/system.slice/foo bar.service");
	NONE("/system.slice/a@b@c.service");
	NONE("/system.slice/caf\xc3\xa9.service");
	/* user@ needs a numeric uid to be a user manager */
	UNIT("/user.slice/user@me.service", "user@me.service", false);
	UNIT("/user.slice/user@.service", "user@.service", false);
	UNIT("/user.slice/user@1000.service/x/user@12a.service", "user@12a.service", true);
	/* a user manager inside a service (nspawn machine): the service, and
	 * so are the machine's own units */
	UNIT("/machine.slice/systemd-nspawn@c1.service/payload/user.slice/user-1000.slice/"
	     "user@1000.service",
	     "systemd-nspawn@c1.service", false);
	UNIT("/machine.slice/systemd-nspawn@c1.service/payload/user.slice/user-1000.slice/"
	     "user@1000.service/app.slice/foo.service",
	     "systemd-nspawn@c1.service", false);
}

/* Fill @buf with a valid "/aaa/aaa..." path of exactly @len bytes. */
static void make_long_path(char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (i % 200 == 0) ? '/' : 'a';
	if (buf[len - 1] == '/')
		buf[len - 1] = 'a';
	buf[len] = '\0';
}

static void test_malformed(void)
{
	char buf[8192];
	struct nh_cgroup_info junk;
	int i;

	EINVAL_(NULL);
	EINVAL_("");
	EINVAL_("kubepods/pod" UID);
	EINVAL_("0::/system.slice/nginx.service");
	EINVAL_("/..");
	EINVAL_("/.");
	EINVAL_("/system.slice/../nginx.service");
	EINVAL_("/system.slice/./nginx.service");
	EINVAL_("/system.slice/nginx.service/..");
	EINVAL_("//");
	EINVAL_("//system.slice");
	EINVAL_("/system.slice//nginx.service");
	EINVAL_("/system.slice/nginx.service//");
	EINVAL_("/system.slice/nginx.service\n");
	EINVAL_("/system.slice/ngi\tnx.service");
	EINVAL_("/system.slice/nginx\x7f.service");
	EINVAL_("/\x1b[31m");
	/* dots inside a name are fine */
	NONE("/...");
	NONE("/.hidden");

	/* component length: 255 ok, 256 not */
	buf[0] = '/';
	memset(buf + 1, 'a', 255);
	buf[256] = '\0';
	NONE(buf);
	memset(buf + 1, 'a', 256);
	buf[257] = '\0';
	EINVAL_(buf);
	memset(buf + 1, 'a', 247);
	strcpy(buf + 248, ".service");
	UNIT(buf, buf + 1, false);

	/* total length: 4096 ok, 4097 not */
	make_long_path(buf, 4096);
	CHECK(strlen(buf) == 4096);
	NONE(buf);
	make_long_path(buf, 4097);
	EINVAL_(buf);
	make_long_path(buf, 8000);
	EINVAL_(buf);

	/* a NULL out is refused, not dereferenced */
	CHECK(nh_cgpath_parse("/", NULL) == -EINVAL);

	/* a failed parse zeroes what an earlier success left behind */
	CHECK(nh_cgpath_parse("/kubepods/pod" UID "/" CID, &junk) == 0);
	CHECK(nh_cgpath_parse("/kubepods/pod" UID "/../x", &junk) == -EINVAL);
	CHECK(is_none(&junk));
	/* and a success replaces every field */
	memset(&junk, 0x5a, sizeof(junk));
	CHECK(nh_cgpath_parse("/system.slice/nginx.service", &junk) == 0);
	CHECK(junk.kind == NH_CG_UNIT && !junk.pod_uid[0] && !junk.container_id[0] &&
	      junk.runtime == NH_RT_UNKNOWN && junk.qos == NH_QOS_NONE && !junk.user_unit);

	/* every control byte is refused */
	for (i = 1; i < 0x20; i++) {
		snprintf(buf, sizeof(buf), "/a%cb", i);
		if (nh_cgpath_parse(buf, &junk) != -EINVAL)
			break;
	}
	CHECK(i == 0x20);
}

/* Static pods (kubeadm control plane) carry the kubelet's 32-hex hash of
 * their manifest as UID, in both drivers. */
static void test_static_pods(void)
{
	static const char *const paths[] = {
	    "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
	    "7f3a0b1c2d3e4f5061728394a5b6c7d8.slice/cri-containerd-" CID ".scope",
	    "/kubepods/burstable/pod7f3a0b1c2d3e4f5061728394a5b6c7d8/" CID,
	};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		CHECK(parse(paths[i]) == 0);
		CHECK(ci.kind == NH_CG_K8S_POD);
		CHECK_STR(ci.pod_uid, "7f3a0b1c2d3e4f5061728394a5b6c7d8");
		CHECK_STR(ci.container_id, CID);
		CHECK(ci.qos == NH_QOS_BURSTABLE);
	}
	/* 31 or 33 hex, or uppercase, is neither form. */
	expect_einval(__LINE__, "/kubepods/burstable/pod7f3a0b1c2d3e4f5061728394a5b6c7d/" CID);
	expect_einval(__LINE__, "/kubepods/burstable/pod7f3a0b1c2d3e4f5061728394a5b6c7d8a/" CID);
	expect_einval(__LINE__, "/kubepods/burstable/pod7F3A0B1C2D3E4F5061728394A5B6C7D8/" CID);
}

static void test_deleted_suffix(void)
{
	POD("/kubepods/pod" UID "/" CID " (deleted)", NH_QOS_GUARANTEED, NH_RT_UNKNOWN, CID);
	CTR("/system.slice/docker-" CID ".scope (deleted)", NH_RT_DOCKER, CID);
	UNIT("/system.slice/nginx.service (deleted)", "nginx.service", false);
	/* only as a suffix */
	NONE("/system.slice/nginx.service (deleted)/x");
	/* the suffix does not hide an otherwise bad path */
	EINVAL_("/a//b (deleted)");
}

static void test_names(void)
{
	CHECK_STR(nh_runtime_name(NH_RT_CONTAINERD), "containerd");
	CHECK_STR(nh_runtime_name(NH_RT_CRIO), "cri-o");
	CHECK_STR(nh_runtime_name(NH_RT_DOCKER), "docker");
	CHECK_STR(nh_runtime_name(NH_RT_PODMAN), "podman");
	CHECK_STR(nh_runtime_name(NH_RT_UNKNOWN), "unknown");
	CHECK_STR(nh_runtime_name((enum nh_runtime)99), "unknown");
	CHECK_STR(nh_qos_name(NH_QOS_GUARANTEED), "guaranteed");
	CHECK_STR(nh_qos_name(NH_QOS_BURSTABLE), "burstable");
	CHECK_STR(nh_qos_name(NH_QOS_BESTEFFORT), "besteffort");
	CHECK_STR(nh_qos_name(NH_QOS_NONE), "");
	CHECK_STR(nh_qos_name((enum nh_qos)99), "");
	CHECK_STR(nh_cg_kind_name(NH_CG_NONE), "none");
	CHECK_STR(nh_cg_kind_name(NH_CG_K8S_POD), "pod");
	CHECK_STR(nh_cg_kind_name(NH_CG_CONTAINER), "container");
	CHECK_STR(nh_cg_kind_name(NH_CG_UNIT), "unit");
	CHECK_STR(nh_cg_kind_name((enum nh_cg_kind)99), "unknown");
}

int main(void)
{
	test_k8s_cgroupfs();
	test_k8s_systemd();
	test_plain_containers();
	test_units();
	test_malformed();
	test_static_pods();
	test_deleted_suffix();
	test_names();
	return nh_check_report("cgpath");
}
