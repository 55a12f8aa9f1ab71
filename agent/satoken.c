// SPDX-License-Identifier: Apache-2.0
#include "satoken.h"

#include <errno.h>
#include <fcntl.h>
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

static bool same_file(const struct nh_sa *sa, const struct stat *st)
{
	return sa->dev == st->st_dev && sa->ino == st->st_ino && sa->size == st->st_size &&
	       sa->mtime.tv_sec == st->st_mtim.tv_sec && sa->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

static void set_state(struct nh_satokens *t, struct nh_sa *sa, enum nh_sa_state st, const char *why)
{
	if (st != NH_SA_OK && (sa->state != st || sa->why != why)) {
		t->failures++;
		nh_warn(t->log, "pod %s: service-account token %s: %s%s", sa->pod_uid,
			nh_sa_state_name(st), why,
			sa->have_claims ? " (keeping the service account read before)" : "");
	}
	sa->state = st;
	sa->why = st == NH_SA_OK ? NULL : why;
}

/* Read and decode an open token; the bytes are wiped before returning. */
static void read_token(struct nh_satokens *t, struct nh_sa *sa, int fd, const struct stat *st)
{
	static const size_t cap = NH_SA_TOKEN_MAX;
	struct nh_sa_claims claims;
	struct statfs sfs;
	char key[NH_SA_KEY_MAX];
	const char *why = NULL;
	size_t len = 0;
	char *buf = NULL;
	ssize_t n;

	if (!S_ISREG(st->st_mode)) {
		set_state(t, sa, NH_SA_UNREADABLE, "token path is not a regular file");
		goto cleanup;
	}
	/* Projected and secret volumes are tmpfs; anything else (a FUSE
	 * mount could stall the agent's only thread) is not read. */
	if (fstatfs(fd, &sfs) != 0 || sfs.f_type != TMPFS_MAGIC) {
		set_state(t, sa, NH_SA_UNREADABLE, "token is not on a tmpfs volume");
		goto cleanup;
	}
	if (st->st_size > (off_t)cap) {
		set_state(t, sa, NH_SA_UNREADABLE, "token file larger than 64 KiB");
		goto cleanup;
	}
	buf = malloc(cap + 1);
	if (!buf)
		goto cleanup;
	while (len < cap && (n = read(fd, buf + len, cap - len)) > 0)
		len += (size_t)n;
	if (len == 0) {
		set_state(t, sa, NH_SA_MALFORMED, "token file is empty");
		goto cleanup;
	}
	if (nh_jwt_decode_sa(buf, len, &claims, &why) != 0) {
		set_state(t, sa, NH_SA_MALFORMED, why ? why : "not a service-account JWT");
		goto cleanup;
	}
	/* A bound token names its pod: a token of another pod planted in
	 * this one must not lend it that identity. */
	if (claims.pod_uid[0] && strcmp(claims.pod_uid, sa->pod_uid) != 0) {
		set_state(t, sa, NH_SA_MALFORMED, "token was issued for another pod");
		goto cleanup;
	}
	{
		char fp[NH_FINGERPRINT_MAX];
		size_t n = len;

		/* The token, not the file: a trailing newline is not part of it. */
		while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
			     buf[n - 1] == '\t'))
			n--;
		if (nh_fingerprint(t->fp, false, buf, n, 0, fp, sizeof(fp)) != 0)
			fp[0] = '\0';
		if (sa->reads && strcmp(fp, sa->fingerprint) != 0) {
			t->rotations++;
			nh_info(t->log, "pod %s: service-account token rotated (%s)", sa->pod_uid,
				fp);
		}
		memcpy(sa->fingerprint, fp, sizeof(fp));
	}
	if (snprintf(key, sizeof(key), "k8s:sa/%s/%s", claims.namespace_, claims.service_account) >=
	    (int)sizeof(key)) {
		set_state(t, sa, NH_SA_MALFORMED, "service-account name too long");
		goto cleanup;
	}
	memcpy(sa->key, key, sizeof(key));
	sa->claims = claims;
	sa->have_claims = true;
	sa->dev = st->st_dev;
	sa->ino = st->st_ino;
	sa->size = st->st_size;
	sa->mtime = st->st_mtim;
	sa->reads++;
	t->reads++;
	set_state(t, sa, NH_SA_OK, NULL);
cleanup:
	if (buf) {
		explicit_bzero(buf, len);
		free(buf);
	}
}

/* Check the token through one process; -ESRCH when it cannot serve. */
static int check(struct nh_satokens *t, struct nh_sa *sa, uint32_t pid)
{
	const char *why = NULL;
	struct stat st;
	int fd = -1, err;

	err = open_token(t, pid, sa->pod_uid, &fd, &why);
	if (err == -ESRCH)
		goto cleanup;
	if (err) {
		set_state(t, sa, err == -ENOENT ? NH_SA_MISSING : NH_SA_UNREADABLE, why);
		err = 0;
		goto cleanup;
	}
	if (fstat(fd, &st) != 0) {
		set_state(t, sa, NH_SA_UNREADABLE, "token file cannot be examined");
		goto cleanup;
	}
	if (sa->state != NH_SA_OK || !same_file(sa, &st))
		read_token(t, sa, fd, &st);
	if (sa->state == NH_SA_OK)
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

const struct nh_sa *nh_satokens_get(struct nh_satokens *t, const char *pod_uid, uint32_t tgid,
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
	/* Known: re-check for rotation at most every interval. Unknown: try
	 * again on each event, since no process could be asked yet. */
	if (sa->state != NH_SA_UNKNOWN && now_ns - sa->checked_ns < t->recheck_ns)
		return sa;
	sa->checked_ns = now_ns;
	if (check(t, sa, tgid) == -ESRCH &&
	    (!sa->last_pid || sa->last_pid == tgid || check(t, sa, sa->last_pid) == -ESRCH))
		check_members(t, sa, cgroup_path, tgid);
	return sa;
}

void nh_satokens_forget(struct nh_satokens *t, const char *pod_uid)
{
	struct nh_sa *sa = nh_u64map_del(&t->pods, pod_key(pod_uid));

	free(sa);
}
