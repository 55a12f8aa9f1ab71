// SPDX-License-Identifier: Apache-2.0
#include "satoken.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "identity.h"
#include "procroot.h"

/* Projected tokens are ~1 KiB; anything this large is not one. */
#define NH_SA_TOKEN_MAX (64 * 1024)

const char *nh_sa_state_name(enum nh_sa_state s)
{
	switch (s) {
	case NH_SA_OK:
		return "ok";
	case NH_SA_MISSING:
		return "missing";
	case NH_SA_UNREADABLE:
		return "unreadable";
	case NH_SA_MALFORMED:
		return "malformed";
	case NH_SA_REJECTED:
		return "rejected";
	default:
		return "unknown";
	}
}

int nh_satokens_init(struct nh_satokens *t, const struct nh_cgroupfs *fs, const struct nh_log *log,
		     const char *path, uint64_t recheck_ns, size_t max_pods)
{
	const char *rel = path ? path : NH_SA_DEFAULT_PATH;
	int n;

	memset(t, 0, sizeof(*t));
	t->fs = fs;
	t->log = log;
	t->recheck_ns = recheck_ns;
	t->verify.leeway_s = 60;
	while (*rel == '/')
		rel++;
	n = snprintf(t->rel_path, sizeof(t->rel_path), "%s", rel);
	if (!*rel || n < 0 || (size_t)n >= sizeof(t->rel_path))
		return -EINVAL;
	return nh_u64map_init(&t->pods, max_pods);
}

void nh_satokens_free(struct nh_satokens *t)
{
	size_t it = 0;
	uint64_t k;
	void *v;

	while (nh_u64map_next(&t->pods, &it, &k, &v))
		free(v);
	nh_u64map_free(&t->pods);
	nh_jwks_free(&t->keys);
}

static int copy_setting(char *dst, size_t cap, const char *src)
{
	int n = snprintf(dst, cap, "%s", src ? src : "");

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* (Re)load the key file when it changed; true when the set changed. */
static bool reload_keys(struct nh_satokens *t, const char **why)
{
	struct nh_jwks fresh = {0};
	struct stat st;
	const char *w = NULL;

	if (!t->jwks_file[0] || stat(t->jwks_file, &st) != 0)
		return false;
	if (t->keys_gen && st.st_mtim.tv_sec == t->jwks_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == t->jwks_mtime.tv_nsec)
		return false;
	t->jwks_mtime = st.st_mtim;
	if (nh_jwks_load(t->jwks_file, &fresh, &w) != 0) {
		if (why)
			*why = w;
		nh_warn(t->log, "--jwks-file %s: %s (keeping %zu keys)", t->jwks_file, w,
			t->keys.n);
		return false;
	}
	nh_satokens_set_keys(t, &fresh);
	nh_info(t->log, "service-account keys: %zu from %s", t->keys.n, t->jwks_file);
	return true;
}

void nh_satokens_set_keys(struct nh_satokens *t, struct nh_jwks *keys)
{
	nh_jwks_free(&t->keys);
	t->keys = *keys;
	memset(keys, 0, sizeof(*keys));
	t->keys_gen++;
}

int nh_satokens_set_trust(struct nh_satokens *t, const struct nh_satoken_trust *tr,
			  const char **why)
{
	const char *w = NULL;
	int err;

	*why = NULL;
	t->mode = tr->mode;
	t->verify.leeway_s = tr->verify.leeway_s;
	if (copy_setting(t->kubelet_root, sizeof(t->kubelet_root), tr->kubelet_root) ||
	    copy_setting(t->jwks_file, sizeof(t->jwks_file), tr->jwks_file) ||
	    copy_setting(t->issuer, sizeof(t->issuer), tr->verify.issuer) ||
	    copy_setting(t->audience, sizeof(t->audience), tr->verify.audience)) {
		*why = "setting too long";
		return -ENAMETOOLONG;
	}
	t->verify.issuer = t->issuer[0] ? t->issuer : NULL;
	t->verify.audience = t->audience[0] ? t->audience : NULL;
	if (!t->jwks_file[0])
		return 0;
	err = nh_jwks_load(t->jwks_file, &t->keys, &w);
	if (err) {
		*why = w;
		return err;
	}
	{
		struct stat st;

		if (stat(t->jwks_file, &st) == 0)
			t->jwks_mtime = st.st_mtim;
	}
	t->keys_gen++;
	return 0;
}

static uint64_t pod_key(const char *pod_uid)
{
	uint64_t k = nh_hash_str(pod_uid);

	return k ? k : 1;
}

/*
 * Open the token in pid's root (procroot.h: resolved inside it). The
 * pid's cgroup is checked once its root is held, so a reused pid cannot
 * hand over another pod's token. -ESRCH: the pid cannot be used.
 */
static int open_token(struct nh_satokens *t, uint32_t pid, const char *pod_uid, int *out,
		      const char **why)
{
	char cg[NH_CGROUP_PATH_MAX];
	struct nh_cgroup_info info;
	int root, fd, err = 0;

	root = nh_procroot_open(t->fs->proc, pid);
	if (root < 0) {
		err = -ESRCH;
		goto cleanup;
	}
	if (nh_cgroupfs_pid_path(t->fs, (pid_t)pid, cg, sizeof(cg)) != 0 ||
	    nh_cgpath_parse(cg, &info) != 0 || info.kind != NH_CG_K8S_POD ||
	    strcmp(info.pod_uid, pod_uid) != 0) {
		err = -ESRCH;
		goto cleanup;
	}
	fd = nh_procroot_openat(root, t->rel_path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		err = fd;
		*why = err == -ENOENT ? "no token file in the pod (automount disabled?)"
				      : "token file cannot be opened";
		goto cleanup;
	}
	*out = fd;
cleanup:
	if (root >= 0)
		close(root);
	return err;
}

static bool same_file(const struct nh_sa_copy *c, const struct stat *st)
{
	return c->dev == st->st_dev && c->ino == st->st_ino && c->size == st->st_size &&
	       c->mtime.tv_sec == st->st_mtim.tv_sec && c->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

static const char *copy_name(const struct nh_sa *sa, const struct nh_sa_copy *c)
{
	return c == &sa->host ? "the kubelet's copy" : "the pod's own view";
}

/* Failures are logged for the copy that matters: the kubelet's whenever it
 * exists, the pod's own view only while it is the fallback. */
static void set_state(struct nh_satokens *t, struct nh_sa *sa, struct nh_sa_copy *c,
		      enum nh_sa_state st, const char *why)
{
	bool matters = c == &sa->host ? st != NH_SA_MISSING : sa->host.state == NH_SA_MISSING;

	if (st != NH_SA_OK && (c->state != st || c->why != why)) {
		t->failures++;
		if (matters)
			nh_warn(t->log, "pod %s: service-account token %s: %s%s%s", sa->pod_uid,
				nh_sa_state_name(st), why,
				c == &sa->host ? " (kubelet's copy)" : "",
				c->have ? " (keeping the service account read before)" : "");
	}
	c->state = st;
	c->why = st == NH_SA_OK ? NULL : why;
}

/* Whether the decoded token is believed: its signature and validity when
 * keys are known; *verified when they were checked. */
static const char *judge(struct nh_satokens *t, const char *buf, size_t len,
			 const struct nh_sa_claims *claims, bool *verified)
{
	const char *why = NULL;
	int err;

	*verified = false;
	if (t->mode == NH_VERIFY_OFF)
		return NULL;
	if (t->keys.n == 0 && !reload_keys(t, NULL)) {
		t->want_keys = true;
		return t->mode == NH_VERIFY_REQUIRED
			   ? "no keys to verify it with (verifyTokens: required)"
			   : NULL;
	}
	err = nh_token_verify(buf, len, claims, &t->keys, &t->verify, (int64_t)time(NULL), &why);
	/* A key the set does not have: the cluster may have rotated its keys. */
	if (err == -ENOKEY && reload_keys(t, NULL))
		err = nh_token_verify(buf, len, claims, &t->keys, &t->verify, (int64_t)time(NULL),
				      &why);
	if (err == -ENOKEY)
		t->want_keys = true;
	if (err)
		return why ? why : "token does not verify";
	*verified = true;
	return NULL;
}

/* Read, decode and judge an open token; the bytes are wiped before
 * returning. */
static void read_token(struct nh_satokens *t, struct nh_sa *sa, struct nh_sa_copy *c, int fd,
		       const struct stat *st)
{
	static const size_t cap = NH_SA_TOKEN_MAX;
	struct nh_sa_claims claims;
	struct statfs sfs;
	char key[NH_SA_KEY_MAX];
	const char *why = NULL, *distrust;
	bool verified;
	size_t len = 0;
	char *buf = NULL;
	ssize_t n;

	if (!S_ISREG(st->st_mode)) {
		set_state(t, sa, c, NH_SA_UNREADABLE, "token path is not a regular file");
		goto cleanup;
	}
	/* Projected and secret volumes are tmpfs; anything else (a FUSE
	 * mount could stall the agent's only thread) is not read. */
	if (fstatfs(fd, &sfs) != 0 || sfs.f_type != TMPFS_MAGIC) {
		set_state(t, sa, c, NH_SA_UNREADABLE, "token is not on a tmpfs volume");
		goto cleanup;
	}
	if (st->st_size > (off_t)cap) {
		set_state(t, sa, c, NH_SA_UNREADABLE, "token file larger than 64 KiB");
		goto cleanup;
	}
	buf = malloc(cap + 1);
	if (!buf)
		goto cleanup;
	while (len < cap && (n = read(fd, buf + len, cap - len)) > 0)
		len += (size_t)n;
	if (len == 0) {
		set_state(t, sa, c, NH_SA_MALFORMED, "token file is empty");
		goto cleanup;
	}
	if (nh_jwt_decode_sa(buf, len, &claims, &why) != 0) {
		set_state(t, sa, c, NH_SA_MALFORMED, why ? why : "not a service-account JWT");
		goto cleanup;
	}
	/* A bound token names its pod: a token of another pod planted in
	 * this one must not lend it that identity. */
	if (claims.pod_uid[0] && strcmp(claims.pod_uid, sa->pod_uid) != 0) {
		set_state(t, sa, c, NH_SA_MALFORMED, "token was issued for another pod");
		goto cleanup;
	}
	if (snprintf(key, sizeof(key), "k8s:sa/%s/%s", claims.namespace_, claims.service_account) >=
	    (int)sizeof(key)) {
		set_state(t, sa, c, NH_SA_MALFORMED, "service-account name too long");
		goto cleanup;
	}
	distrust = judge(t, buf, len, &claims, &verified);
	/* A genuine token bound to no pod (legacy) in the pod's own view may
	 * have been copied from anywhere: believed, not verified as this pod's. */
	if (c == &sa->own && !claims.pod_uid[0])
		verified = false;
	{
		char fp[NH_FINGERPRINT_MAX];
		size_t m = len;

		/* The token, not the file: a trailing newline is not part of it. */
		while (m && (buf[m - 1] == '\n' || buf[m - 1] == '\r' || buf[m - 1] == ' ' ||
			     buf[m - 1] == '\t'))
			m--;
		if (nh_fingerprint(t->fp, false, buf, m, 0, fp, sizeof(fp)) != 0)
			fp[0] = '\0';
		if (c->reads && strcmp(fp, c->fingerprint) != 0 && strcmp(key, c->key) == 0) {
			t->rotations++;
			nh_info(t->log, "pod %s: service-account token rotated (%s)", sa->pod_uid,
				fp);
		}
		memcpy(c->fingerprint, fp, sizeof(fp));
	}
	if (distrust && (!c->distrust || strcmp(distrust, c->distrust) != 0 || !c->have ||
			 strcmp(key, c->key) != 0)) {
		t->rejected++;
		nh_warn(t->log, "pod %s: service-account token in %s not believed: %s", sa->pod_uid,
			copy_name(sa, c), distrust);
	}
	if (verified)
		t->verified++;
	memcpy(c->key, key, sizeof(key));
	c->claims = claims;
	c->have = true;
	c->verified = verified;
	c->distrust = distrust;
	c->keys_gen = t->keys_gen;
	c->dev = st->st_dev;
	c->ino = st->st_ino;
	c->size = st->st_size;
	c->mtime = st->st_mtim;
	c->reads++;
	t->reads++;
	set_state(t, sa, c, NH_SA_OK, NULL);
cleanup:
	if (buf) {
		explicit_bzero(buf, len);
		free(buf);
	}
}

/* Examine an open token: read it when it is new, changed, or was judged
 * with another key set. */
static void examine(struct nh_satokens *t, struct nh_sa *sa, struct nh_sa_copy *c, int fd)
{
	struct stat st;

	if (fstat(fd, &st) != 0) {
		set_state(t, sa, c, NH_SA_UNREADABLE, "token file cannot be examined");
		return;
	}
	if (c->state != NH_SA_OK || !same_file(c, &st) || c->keys_gen != t->keys_gen)
		read_token(t, sa, c, fd, &st);
}

/* Check the token through one process; -ESRCH when it cannot serve. */
static int check(struct nh_satokens *t, struct nh_sa *sa, uint32_t pid)
{
	const char *why = NULL;
	int fd = -1, err;

	err = open_token(t, pid, sa->pod_uid, &fd, &why);
	if (err == -ESRCH)
		goto cleanup;
	if (err) {
		set_state(t, sa, &sa->own, err == -ENOENT ? NH_SA_MISSING : NH_SA_UNREADABLE, why);
		err = 0;
		goto cleanup;
	}
	examine(t, sa, &sa->own, fd);
	if (sa->own.state == NH_SA_OK)
		sa->last_pid = pid;
cleanup:
	if (fd >= 0)
		close(fd);
	return err;
}

struct member_ctx {
	struct nh_satokens *t;
	struct nh_sa *sa;
	uint32_t skip;
};

/* 1 once a member could serve (whatever it found), 0 to try the next. */
static int check_member(void *ctx, uint32_t pid)
{
	struct member_ctx *mc = ctx;

	return pid != mc->skip && check(mc->t, mc->sa, pid) != -ESRCH;
}

/* Another live member of the event's cgroup (same container, same
 * mounts): short-lived processes are often gone by the time their event
 * is read, the container's others are not. */
static void check_members(struct nh_satokens *t, struct nh_sa *sa, const char *cgroup_path,
			  uint32_t skip)
{
	struct member_ctx mc = {t, sa, skip};

	if (cgroup_path && cgroup_path[0])
		nh_cgroupfs_members(t->fs, cgroup_path, check_member, &mc);
}

/* The token file of one projected volume, followed only inside it (the
 * kubelet's atomic writer links token -> ..data/token). */
static int open_volume_token(int projected, const char *vol)
{
	struct open_how how = {.flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
			       .resolve =
				   RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV};
	int dir, fd;

	dir = openat(projected, vol, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0)
		return -errno;
	fd = (int)syscall(SYS_openat2, dir, "token", &how, sizeof(how));
	if (fd < 0)
		fd = -errno;
	close(dir);
	return fd;
}

/* The kubelet's copy: <root>/pods/<uid>/volumes/kubernetes.io~projected/
 * <vol>/token, preferring the service-account volume kube-api-access-*. */
static void check_host(struct nh_satokens *t, struct nh_sa *sa)
{
	char path[PATH_MAX], best[NAME_MAX + 1] = "";
	struct dirent *d;
	DIR *dir = NULL;
	int fd = -1, probe;

	if (!t->kubelet_root[0])
		goto missing;
	if (snprintf(path, sizeof(path), "%s/pods/%s/volumes/kubernetes.io~projected",
		     t->kubelet_root, sa->pod_uid) >= (int)sizeof(path))
		goto missing;
	dir = opendir(path);
	if (!dir)
		goto missing;
	while ((d = readdir(dir))) {
		bool api = strncmp(d->d_name, "kube-api-access-", 16) == 0;
		bool best_api = strncmp(best, "kube-api-access-", 16) == 0;

		if (d->d_name[0] == '.')
			continue;
		if (best[0] && (best_api > api || (best_api == api && strcmp(best, d->d_name) < 0)))
			continue;
		probe = open_volume_token(dirfd(dir), d->d_name);
		if (probe < 0)
			continue;
		if (fd >= 0)
			close(fd);
		fd = probe;
		snprintf(best, sizeof(best), "%s", d->d_name);
	}
	if (fd < 0)
		goto missing;
	t->host_reads++;
	examine(t, sa, &sa->host, fd);
	close(fd);
	closedir(dir);
	return;
missing:
	if (dir)
		closedir(dir);
	set_state(t, sa, &sa->host, NH_SA_MISSING, "no kubelet copy");
}

static void conflict(struct nh_satokens *t, struct nh_sa *sa, const char *claim,
		     const char *believed, const char *reason)
{
	for (uint32_t i = 0; i < sa->nreported; i++)
		if (strcmp(claim, sa->reported[i]) == 0)
			return;
	if (sa->conflict && strcmp(claim, sa->conflict_claim) == 0)
		return;
	t->conflicts++;
	if (sa->nreported >= NH_SA_CONFLICTS_MAX || sa->conflict)
		return; /* counted, not reported again */
	nh_warn(t->log, "pod %s: identity conflict: %s claimed, %s believed (%s)", sa->pod_uid,
		claim, believed, reason);
	sa->conflict = true;
	snprintf(sa->conflict_claim, sizeof(sa->conflict_claim), "%s", claim);
	snprintf(sa->conflict_believed, sizeof(sa->conflict_believed), "%s", believed);
	sa->conflict_reason = reason;
}

static void adopt(struct nh_sa *sa, const struct nh_sa_copy *c, enum nh_identity_source src)
{
	sa->claims = c->claims;
	memcpy(sa->key, c->key, sizeof(sa->key));
	memcpy(sa->fingerprint, c->fingerprint, sizeof(sa->fingerprint));
	sa->source = src;
	sa->verified = c->verified;
	sa->reads = c->reads;
	sa->have_claims = true;
	sa->state = NH_SA_OK;
	sa->why = NULL;
}

/*
 * What is believed: the kubelet's copy whenever one exists, the pod's own
 * view otherwise; only a copy that is not distrusted. A believed service
 * account never changes to another during the pod's life, except to the
 * kubelet's word over the pod's own view or a verified token over an
 * unverified one; either way the other claim is a conflict.
 */
static void decide(struct nh_satokens *t, struct nh_sa *sa)
{
	bool host_exists = sa->host.have || sa->host.state != NH_SA_MISSING;
	const struct nh_sa_copy *c = host_exists ? &sa->host : &sa->own;
	enum nh_identity_source src =
	    host_exists ? NH_IDSRC_KUBELET_VOLUME : NH_IDSRC_CONTAINER_ROOT;

	if (!c->have) {
		sa->have_claims = false;
		sa->state = c->state;
		sa->why = c->why;
	} else if (c->distrust) {
		sa->have_claims = false;
		sa->state = NH_SA_REJECTED;
		sa->why = c->distrust;
	} else if (sa->have_claims && strcmp(sa->key, c->key) != 0) {
		bool stronger = src > sa->source || (c->verified && !sa->verified);

		if (stronger) {
			conflict(t, sa, sa->key, c->key,
				 "the token in the pod's own root contradicts the kubelet's copy");
			adopt(sa, c, src);
		} else {
			conflict(t, sa, c->key, sa->key,
				 "service account changed during the pod's life");
		}
	} else {
		adopt(sa, c, src);
	}
	if (sa->have_claims && sa->source == NH_IDSRC_KUBELET_VOLUME && sa->own.have &&
	    sa->own.state == NH_SA_OK && strcmp(sa->own.key, sa->key) != 0)
		conflict(t, sa, sa->own.key, sa->key,
			 "the token in the pod's own root contradicts the kubelet's copy");
}

struct nh_sa *nh_satokens_get(struct nh_satokens *t, const char *pod_uid, uint32_t tgid,
			      const char *cgroup_path, uint64_t now_ns)
{
	uint64_t k = pod_key(pod_uid);
	struct nh_sa *sa = nh_u64map_get(&t->pods, k);
	void *victim = NULL;

	if (sa && strcmp(sa->pod_uid, pod_uid) != 0) {
		/* Another pod with the same hash: start over for this one. */
		memset(sa, 0, sizeof(*sa));
		snprintf(sa->pod_uid, sizeof(sa->pod_uid), "%s", pod_uid);
	}
	if (!sa) {
		sa = calloc(1, sizeof(*sa));
		if (!sa)
			return NULL;
		snprintf(sa->pod_uid, sizeof(sa->pod_uid), "%s", pod_uid);
		if (nh_u64map_put_evict(&t->pods, k, sa, NULL, &victim) != 0) {
			free(sa);
			return NULL;
		}
		free(victim);
	}
	/* Known: re-check for rotation at most every interval. No token yet:
	 * try again on each event, since it may appear at any moment (a
	 * container's first processes run before its volumes are visible). */
	if (sa->state != NH_SA_UNKNOWN && sa->state != NH_SA_MISSING &&
	    now_ns - sa->checked_ns < t->recheck_ns && sa->judged_gen == t->keys_gen)
		return sa;
	sa->checked_ns = now_ns;
	sa->judged_gen = t->keys_gen;
	check_host(t, sa);
	if (check(t, sa, tgid) == -ESRCH &&
	    (!sa->last_pid || sa->last_pid == tgid || check(t, sa, sa->last_pid) == -ESRCH))
		check_members(t, sa, cgroup_path, tgid);
	decide(t, sa);
	return sa;
}

const struct nh_sa *nh_satokens_peek(const struct nh_satokens *t, const char *pod_uid)
{
	const struct nh_sa *sa = nh_u64map_get(&t->pods, pod_key(pod_uid));

	return sa && strcmp(sa->pod_uid, pod_uid) == 0 ? sa : NULL;
}

void nh_satokens_conflict_done(struct nh_satokens *t, struct nh_sa *sa)
{
	(void)t;
	if (sa->nreported < NH_SA_CONFLICTS_MAX)
		memcpy(sa->reported[sa->nreported++], sa->conflict_claim, NH_SA_KEY_MAX);
	sa->conflict = false;
}

void nh_satokens_forget(struct nh_satokens *t, const char *pod_uid)
{
	struct nh_sa *sa = nh_u64map_del(&t->pods, pod_key(pod_uid));

	free(sa);
}
