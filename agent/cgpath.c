/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgpath: classify a cgroup v2 path (see cgpath.h).
 *
 * The path is validated, then walked once, component by component, with a
 * little state (parent, grandparent, what was seen so far). The verdict is
 * taken at the end with a fixed precedence:
 *
 *   1. Kubernetes pod    - the outermost pod cgroup anywhere in the path, so
 *                          kind/k3s/kubelet-in-container prefixes and pods seen
 *                          through a node container still resolve to the pod.
 *   2. plain container   - the outermost container cgroup.
 *   3. systemd unit      - the innermost valid *.service component other
 *                          than a user@UID.service manager.
 *   4. none.
 *
 * Outermost wins for pods and containers because that is the boundary the
 * host manages; anything nested below (systemd inside a container,
 * docker-in-docker) is under the workload's own control.
 *
 * Malformed vs. "not a container": a component is only held to the id rules
 * when its own shape commits it to carrying an id, i.e.
 *   - a runtime-named component: cri-containerd-X.scope, crio-X.scope,
 *     crio-conmon-X.scope, docker-X.scope, libpod-X.scope,
 *     libpod-conmon-X.scope, nerdctl-X.scope, and the cgroupfs spellings
 *     crio-X, crio-conmon-X, libpod-X, libpod-conmon-X, libpod-payload-X:
 *     X must be 64 lowercase hex;
 *   - a pod cgroup: "pod*" directly under kubepods[/burstable|/besteffort]
 *     or a slice named [...-]kubepods[-burstable|-besteffort]-pod*.slice:
 *     the rest must be a lowercase UUID (dashes for cgroupfs, underscores
 *     for systemd) or a static pod's 32-hex UID;
 *   - containerd's literal "<pod slice>:<prefix>:<name>": name is 64 hex.
 * These are checked wherever they appear, even below the component that
 * decides the verdict. Bare components (the child of a pod, "/docker/X",
 * "/<ns>/X") are only containers when they are exactly 64 lowercase hex;
 * anything else there is not a container and is not an error.
 *
 * Trust: the parser can't tell a real kubepods tree from one built inside a
 * delegated subtree; callers should confirm pod UIDs with the kubelet.
 */
#include "cgpath.h"

#include <errno.h>
#include <string.h>

#define NH_CGPATH_MAX  4096 /* longest accepted path, in bytes */
#define NH_CGNAME_MAX  255  /* kernel limit for one cgroup name */
#define NH_CTRD_NS_MAX 76   /* containerd's namespace length limit */

/* What the kernel appends in /proc/PID/cgroup for a removed cgroup. */
#define NH_DELETED_SUFFIX " (deleted)"

struct span {
	const char *p;
	size_t n;
};

struct scan {
	struct span parent;
	struct span gparent;
	struct span first;
	unsigned int ncomp;

	bool pod;
	unsigned int pod_idx;
	enum nh_qos qos;
	char pod_uid[NH_POD_UID_LEN + 1];
	bool pod_ctr;
	enum nh_runtime pod_rt;
	char pod_cid[NH_CONTAINER_ID_LEN + 1];

	bool ctr;
	enum nh_runtime ctr_rt;
	char ctr_cid[NH_CONTAINER_ID_LEN + 1];

	/* "/<namespace>/<64 hex>": only a container if nothing else follows */
	bool ns_ctr;
	char ns_cid[NH_CONTAINER_ID_LEN + 1];

	struct span unit;
	bool unit_user;
	bool user_mgr_seen;
};

struct ctr_form {
	const char *prefix;
	const char *suffix;
	enum nh_runtime rt;
};

/* Longer prefixes first: "crio-" would otherwise swallow "crio-conmon-". */
static const struct ctr_form ctr_forms[] = {
    {"cri-containerd-", ".scope", NH_RT_CONTAINERD},
    {"nerdctl-", ".scope", NH_RT_CONTAINERD},
    {"crio-conmon-", ".scope", NH_RT_CRIO},
    {"crio-", ".scope", NH_RT_CRIO},
    {"crio-conmon-", "", NH_RT_CRIO},
    {"crio-", "", NH_RT_CRIO},
    {"docker-", ".scope", NH_RT_DOCKER},
    {"libpod-conmon-", ".scope", NH_RT_PODMAN},
    {"libpod-", ".scope", NH_RT_PODMAN},
    {"libpod-conmon-", "", NH_RT_PODMAN},
    {"libpod-payload-", "", NH_RT_PODMAN},
    {"libpod-", "", NH_RT_PODMAN},
};

static bool span_eq(struct span s, const char *lit)
{
	size_t n = strlen(lit);

	return s.n == n && memcmp(s.p, lit, n) == 0;
}

static bool span_has_prefix(struct span s, const char *lit)
{
	size_t n = strlen(lit);

	return s.n >= n && memcmp(s.p, lit, n) == 0;
}

static bool span_has_suffix(struct span s, const char *lit)
{
	size_t n = strlen(lit);

	return s.n >= n && memcmp(s.p + s.n - n, lit, n) == 0;
}

/* @lit is the whole of @s or its last dash-separated words. */
static bool span_ends_with_words(struct span s, const char *lit)
{
	size_t n = strlen(lit);

	if (!span_has_suffix(s, lit))
		return false;
	return s.n == n || s.p[s.n - n - 1] == '-';
}

static bool is_lhex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool is_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_hex64(struct span s)
{
	size_t i;

	if (s.n != NH_CONTAINER_ID_LEN)
		return false;
	for (i = 0; i < s.n; i++) {
		if (!is_lhex(s.p[i]))
			return false;
	}
	return true;
}

static int copy_cid(struct span s, char *out)
{
	if (!is_hex64(s))
		return -EINVAL;
	memcpy(out, s.p, NH_CONTAINER_ID_LEN);
	out[NH_CONTAINER_ID_LEN] = '\0';
	return 0;
}

/*
 * A pod UID: a lowercase 8-4-4-4-12 UUID with @sep between groups, written
 * to @out with dashes; or 32 lowercase hex, which is what static pods
 * (kubeadm's etcd, kube-apiserver...) get from the kubelet's hash of their
 * manifest. Uppercase is rejected: the kubelet never writes it, so it is
 * more likely a forged or mangled name than a real pod.
 */
#define NH_STATIC_POD_UID_LEN 32

static int parse_uuid(struct span s, char sep, char *out)
{
	size_t i;

	if (s.n == NH_STATIC_POD_UID_LEN) {
		for (i = 0; i < s.n; i++) {
			if (!is_lhex(s.p[i]))
				return -EINVAL;
			out[i] = s.p[i];
		}
		out[s.n] = '\0';
		return 0;
	}
	if (s.n != NH_POD_UID_LEN)
		return -EINVAL;
	for (i = 0; i < s.n; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s.p[i] != sep)
				return -EINVAL;
			out[i] = '-';
		} else {
			if (!is_lhex(s.p[i]))
				return -EINVAL;
			out[i] = s.p[i];
		}
	}
	out[NH_POD_UID_LEN] = '\0';
	return 0;
}

/* Returns 1 with *rt/cid set, 0 if @c is not runtime-named, or -EINVAL. */
static int match_ctr_named(struct span c, enum nh_runtime *rt, char *cid)
{
	const struct ctr_form *f;
	struct span id;
	size_t i, plen, slen;
	int err;

	for (i = 0; i < sizeof(ctr_forms) / sizeof(ctr_forms[0]); i++) {
		f = &ctr_forms[i];
		plen = strlen(f->prefix);
		slen = strlen(f->suffix);
		/* the length test keeps "x-.scope"-style overlaps from underflowing */
		if (!span_has_prefix(c, f->prefix) || !span_has_suffix(c, f->suffix) ||
		    c.n < plen + slen)
			continue;
		id.p = c.p + plen;
		id.n = c.n - plen - slen;
		err = copy_cid(id, cid);
		if (err)
			return err;
		*rt = f->rt;
		return 1;
	}
	return 0;
}

/* cgroupfs driver: pod<uuid> under kubepods, kubepods/burstable or /besteffort. */
static int match_pod_cgroupfs(struct span c, struct span parent, struct span gparent,
			      enum nh_qos *qos, char *uid)
{
	struct span rest;
	int err;

	if (!span_has_prefix(c, "pod"))
		return 0;
	if (span_eq(parent, "kubepods"))
		*qos = NH_QOS_GUARANTEED;
	else if (span_eq(parent, "burstable") && span_eq(gparent, "kubepods"))
		*qos = NH_QOS_BURSTABLE;
	else if (span_eq(parent, "besteffort") && span_eq(gparent, "kubepods"))
		*qos = NH_QOS_BESTEFFORT;
	else
		return 0;
	rest.p = c.p + 3;
	rest.n = c.n - 3;
	err = parse_uuid(rest, '-', uid);
	return err ? err : 1;
}

static enum nh_runtime runtime_from_prefix(struct span s)
{
	if (span_eq(s, "cri-containerd"))
		return NH_RT_CONTAINERD;
	if (span_eq(s, "crio"))
		return NH_RT_CRIO;
	if (span_eq(s, "docker"))
		return NH_RT_DOCKER;
	return NH_RT_UNKNOWN;
}

/*
 * systemd driver: [<prefix>-]kubepods[-<qos>]-pod<uuid_>.slice. systemd
 * encodes the slice tree in dash-separated words, so the pod is the first
 * "pod*" word whose preceding words end in kubepods[-<qos>]; everything
 * after "pod" is the UID, so a dashed UID is caught as malformed rather
 * than skipped. containerd's unexpanded "<pod slice>:<prefix>:<id>" form
 * also carries the container, reported through @has_ctr/@rt/@cid.
 */
static int match_pod_slice(struct span c, enum nh_qos *qos, char *uid, bool *has_ctr,
			   enum nh_runtime *rt, char *cid)
{
	const char *colon = memchr(c.p, ':', c.n);
	struct span s = {c.p, colon ? (size_t)(colon - c.p) : c.n};
	struct span head, word, prefix, id;
	const char *sep;
	size_t i;
	int err;

	if (!span_has_suffix(s, ".slice"))
		return 0;
	s.n -= strlen(".slice");
	for (i = 1; i < s.n; i++) {
		if (s.p[i - 1] != '-')
			continue;
		head.p = s.p;
		head.n = i - 1;
		word.p = s.p + i;
		word.n = s.n - i;
		if (!span_has_prefix(word, "pod"))
			continue;
		if (span_ends_with_words(head, "kubepods"))
			*qos = NH_QOS_GUARANTEED;
		else if (span_ends_with_words(head, "kubepods-burstable"))
			*qos = NH_QOS_BURSTABLE;
		else if (span_ends_with_words(head, "kubepods-besteffort"))
			*qos = NH_QOS_BESTEFFORT;
		else
			continue;
		break;
	}
	if (i >= s.n)
		return 0;
	word.p += 3;
	word.n -= 3;
	err = parse_uuid(word, '_', uid);
	if (err)
		return err;

	*has_ctr = false;
	if (!colon)
		return 1;
	prefix.p = colon + 1;
	prefix.n = c.n - s.n - strlen(".slice") - 1;
	sep = memchr(prefix.p, ':', prefix.n);
	if (!sep)
		return -EINVAL;
	id.p = sep + 1;
	id.n = prefix.n - (size_t)(id.p - prefix.p);
	prefix.n = (size_t)(sep - prefix.p);
	err = copy_cid(id, cid);
	if (err)
		return err;
	*rt = runtime_from_prefix(prefix);
	*has_ctr = true;
	return 1;
}

/* containerd namespace: alnum words joined by single '.', '_' or '-'. */
static bool is_ctrd_namespace(struct span s)
{
	size_t i;

	if (s.n == 0 || s.n > NH_CTRD_NS_MAX)
		return false;
	if (!is_alnum(s.p[0]) || !is_alnum(s.p[s.n - 1]))
		return false;
	for (i = 1; i < s.n; i++) {
		if (is_alnum(s.p[i]))
			continue;
		if (s.p[i] != '.' && s.p[i] != '_' && s.p[i] != '-')
			return false;
		if (!is_alnum(s.p[i - 1]))
			return false;
	}
	/* systemd units and the kubepods root look alike but are not namespaces */
	return !span_has_suffix(s, ".slice") && !span_has_suffix(s, ".scope") &&
	       !span_has_suffix(s, ".service") && !span_eq(s, "kubepods");
}

/* A name systemd could have given a service: its charset, one '@' at most. */
static bool is_service_name(struct span s)
{
	size_t i, ats = 0;
	char c;

	if (!span_has_suffix(s, ".service") || s.n == strlen(".service"))
		return false;
	for (i = 0; i < s.n; i++) {
		c = s.p[i];
		if (c == '@')
			ats++;
		else if (!is_alnum(c) && c != ':' && c != '-' && c != '_' && c != '.' && c != '\\')
			return false;
	}
	return ats <= 1 && s.p[0] != '@';
}

/* user@<uid>.service: a per-user systemd manager. */
static bool is_user_manager(struct span s)
{
	size_t i, n = strlen("user@"), end;

	if (!span_has_prefix(s, "user@") || !span_has_suffix(s, ".service"))
		return false;
	end = s.n - strlen(".service");
	if (end <= n)
		return false;
	for (i = n; i < end; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
	}
	return true;
}

static int check_component(struct span c)
{
	if (c.n == 0 || c.n > NH_CGNAME_MAX)
		return -EINVAL;
	if (span_eq(c, ".") || span_eq(c, ".."))
		return -EINVAL;
	return 0;
}

/* The container runtimes' own units: what they create below themselves
 * (containerd's unexpanded pod slices) is the runtime's doing. */
static bool is_runtime_unit(struct span s)
{
	return span_eq(s, "containerd.service") || span_eq(s, "crio.service") ||
	       span_eq(s, "docker.service");
}

/* Pod and container names are believed outside any unit, or below a
 * runtime's own unit; below any other unit they are the unit's children. */
static bool owner_trusted(const struct scan *st)
{
	return !st->unit.n || is_runtime_unit(st->unit);
}

static int scan_component(struct scan *st, struct span c)
{
	char uid[NH_POD_UID_LEN + 1];
	char cid[NH_CONTAINER_ID_LEN + 1];
	enum nh_runtime rt = NH_RT_UNKNOWN;
	enum nh_qos qos = NH_QOS_NONE;
	bool slice_ctr = false;
	unsigned int idx = st->ncomp;
	int r;

	r = match_pod_cgroupfs(c, st->parent, st->gparent, &qos, uid);
	if (r == 0)
		r = match_pod_slice(c, &qos, uid, &slice_ctr, &rt, cid);
	if (r < 0)
		return r;
	/* Below a container or a delegated unit, names are the owner's
	 * choice: that workload, not a pod it named, owns the subtree. */
	if (r > 0 && !st->pod && !st->ctr && owner_trusted(st)) {
		st->pod = true;
		st->pod_idx = idx;
		st->qos = qos;
		memcpy(st->pod_uid, uid, sizeof(uid));
		if (slice_ctr) {
			st->pod_ctr = true;
			st->pod_rt = rt;
			memcpy(st->pod_cid, cid, sizeof(cid));
		}
	}

	r = match_ctr_named(c, &rt, cid);
	if (r < 0)
		return r;
	if (r == 0 && is_hex64(c)) {
		/* bare id: a container only below a pod, "docker" or a namespace */
		memcpy(cid, c.p, NH_CONTAINER_ID_LEN);
		cid[NH_CONTAINER_ID_LEN] = '\0';
		rt = NH_RT_UNKNOWN;
		if (st->pod && idx == st->pod_idx + 1) {
			r = 1;
		} else if (span_eq(st->parent, "docker")) {
			r = 1;
			rt = NH_RT_DOCKER;
		} else if (idx == 1 && is_ctrd_namespace(st->first)) {
			st->ns_ctr = true;
			memcpy(st->ns_cid, cid, sizeof(cid));
		}
	}
	if (r > 0) {
		if (st->pod && idx == st->pod_idx + 1 && !st->pod_ctr) {
			st->pod_ctr = true;
			st->pod_rt = rt;
			memcpy(st->pod_cid, cid, sizeof(cid));
		}
		if (!st->ctr && (st->pod || owner_trusted(st))) {
			st->ctr = true;
			st->ctr_rt = rt;
			memcpy(st->ctr_cid, cid, sizeof(cid));
		}
	}

	if (is_service_name(c)) {
		/*
		 * The user manager hosts a human's session, so it is never the
		 * unit itself; what it runs (user_unit) or what encloses it is.
		 */
		if (st->unit.n) {
			/* below a unit: the unit's own children, whatever
			 * their names (Delegate=yes lets it make them) */
		} else if (is_user_manager(c)) {
			st->user_mgr_seen = true;
		} else {
			st->unit = c;
			st->unit_user = st->user_mgr_seen;
		}
	}

	if (idx == 0)
		st->first = c;
	st->gparent = st->parent;
	st->parent = c;
	st->ncomp++;
	return 0;
}

static void fill(const struct scan *st, struct nh_cgroup_info *out)
{
	if (st->pod) {
		out->kind = NH_CG_K8S_POD;
		out->qos = st->qos;
		memcpy(out->pod_uid, st->pod_uid, sizeof(out->pod_uid));
		if (st->pod_ctr) {
			out->runtime = st->pod_rt;
			memcpy(out->container_id, st->pod_cid, sizeof(out->container_id));
		}
	} else if (st->ctr) {
		out->kind = NH_CG_CONTAINER;
		out->runtime = st->ctr_rt;
		memcpy(out->container_id, st->ctr_cid, sizeof(out->container_id));
	} else if (st->ns_ctr && st->ncomp == 2) {
		out->kind = NH_CG_CONTAINER;
		out->runtime = NH_RT_CONTAINERD;
		memcpy(out->container_id, st->ns_cid, sizeof(out->container_id));
	} else if (st->unit.n) {
		out->kind = NH_CG_UNIT;
		out->user_unit = st->unit_user;
		memcpy(out->unit, st->unit.p, st->unit.n);
		out->unit[st->unit.n] = '\0';
	}
}

/*
 * Accepted: '/' then components separated by single '/', one optional
 * trailing '/', at most NH_CGPATH_MAX bytes, no control bytes. Non-ASCII
 * bytes are allowed (cgroup names may be UTF-8) but match nothing. A
 * trailing " (deleted)", as /proc shows for a removed cgroup, is ignored.
 */
int nh_cgpath_parse(const char *path, struct nh_cgroup_info *out)
{
	struct scan st;
	struct span c;
	size_t len, i, end;
	unsigned char ch;
	int err;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!path)
		return -EINVAL;
	len = strnlen(path, NH_CGPATH_MAX + 1);
	if (len == 0 || len > NH_CGPATH_MAX || path[0] != '/')
		return -EINVAL;
	c.p = path;
	c.n = len;
	if (span_has_suffix(c, NH_DELETED_SUFFIX))
		len -= strlen(NH_DELETED_SUFFIX);

	for (i = 0; i < len; i++) {
		ch = (unsigned char)path[i];
		if (ch < 0x20 || ch == 0x7f)
			return -EINVAL;
	}

	memset(&st, 0, sizeof(st));
	/* "//" yields an empty component; one trailing '/' just ends the loop */
	for (i = 1; i < len; i = end + 1) {
		for (end = i; end < len && path[end] != '/'; end++)
			;
		c.p = path + i;
		c.n = end - i;
		err = check_component(c);
		if (err)
			return err;
		err = scan_component(&st, c);
		if (err)
			return err;
	}
	/* *out is only written here, so every error above leaves it zeroed */
	fill(&st, out);
	return 0;
}

const char *nh_runtime_name(enum nh_runtime rt)
{
	switch (rt) {
	case NH_RT_CONTAINERD:
		return "containerd";
	case NH_RT_CRIO:
		return "cri-o";
	case NH_RT_DOCKER:
		return "docker";
	case NH_RT_PODMAN:
		return "podman";
	case NH_RT_UNKNOWN:
	default:
		return "unknown";
	}
}

const char *nh_qos_name(enum nh_qos qos)
{
	switch (qos) {
	case NH_QOS_GUARANTEED:
		return "guaranteed";
	case NH_QOS_BURSTABLE:
		return "burstable";
	case NH_QOS_BESTEFFORT:
		return "besteffort";
	case NH_QOS_NONE:
	default:
		return "";
	}
}

const char *nh_cg_kind_name(enum nh_cg_kind kind)
{
	switch (kind) {
	case NH_CG_NONE:
		return "none";
	case NH_CG_K8S_POD:
		return "pod";
	case NH_CG_CONTAINER:
		return "container";
	case NH_CG_UNIT:
		return "unit";
	default:
		return "unknown";
	}
}
