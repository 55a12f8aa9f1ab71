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
#include "safefile.h"

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

/*
 * The I/O half runs on a worker thread (worker.h) when the agent has
 * one: a job looks both copies up and reads their bytes, with nothing of
 * the loop's state but read-only settings; the loop decodes and judges
 * what it brings back (sa_job_done). A token path on a file system that
 * never answers then stalls one worker, never the loop.
 */
enum nh_sa_outcome {
	NH_SAR_NONE = 0, /* not looked at (no process of the pod could serve) */
	NH_SAR_MISSING,	 /* no such file */
	NH_SAR_ERROR,	 /* there, but not read: why */
	NH_SAR_SAME,	 /* the file read before, unchanged */
	NH_SAR_DATA,	 /* read: buf, len */
};

/* One copy as the job found it. */
struct nh_sa_found {
	enum nh_sa_outcome outcome;
	const char *why;
	struct stat st; /* dev, ino, size, mtime of the file read */
	char *buf;
	size_t len;
};

/* The copy read before: not read again while it is unchanged. */
struct nh_sa_prev {
	bool valid;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct nh_sa_job {
	struct nh_job job;
	/* in: copies, so the loop may change its own meanwhile */
	const struct nh_cgroupfs *fs; /* read-only after start */
	char pod_uid[40];
	char rel_path[256];
	char kubelet_root[PATH_MAX];
	char cgroup_path[NH_CGROUP_PATH_MAX];
	uint32_t pids[2];
	struct nh_sa_prev host_prev, own_prev;
	/* out */
	struct nh_sa_found host, own;
	uint32_t served_pid;
};

static void found_clear(struct nh_sa_found *f)
{
	if (f->buf) {
		explicit_bzero(f->buf, f->len);
		free(f->buf);
	}
	f->buf = NULL;
	f->len = 0;
}

/* On the worker: read the looked-up file f unless it is the one read
 * before; the checks of safefile.h first. */
static void read_found(struct nh_safefile *f, int mountinfo, const struct nh_sa_prev *prev,
		       struct nh_sa_found *out)
{
	static const size_t cap = NH_SA_TOKEN_MAX;
	const char *why = NULL;
	ssize_t n;
	int fd;

	out->st.st_dev = f->dev;
	out->st.st_ino = f->ino;
	out->st.st_size = f->size;
	out->st.st_mtim = f->mtime;
	if (prev->valid && S_ISREG(f->mode) && prev->dev == f->dev && prev->ino == f->ino &&
	    prev->size == f->size && prev->mtime.tv_sec == f->mtime.tv_sec &&
	    prev->mtime.tv_nsec == f->mtime.tv_nsec) {
		out->outcome = NH_SAR_SAME;
		return;
	}
	fd = nh_safefile_open(f, mountinfo, (off_t)cap, &why);
	if (fd < 0) {
		out->outcome = NH_SAR_ERROR;
		out->why = why;
		return;
	}
	out->buf = malloc(cap + 1);
	if (!out->buf) {
		out->outcome = NH_SAR_ERROR;
		out->why = "out of memory";
		close(fd);
		return;
	}
	while (out->len < cap && (n = read(fd, out->buf + out->len, cap - out->len)) > 0)
		out->len += (size_t)n;
	close(fd);
	out->outcome = NH_SAR_DATA;
}

/* On the worker: the token in pid's root (procroot.h: resolved inside
 * it). The pid's cgroup is checked once its root is held, so a reused
 * pid cannot hand over another pod's token. -ESRCH: the pid cannot
 * serve. */
static int job_own(struct nh_sa_job *j, uint32_t pid)
{
	char cg[NH_CGROUP_PATH_MAX], path[96];
	struct nh_safefile f = {.pathfd = -1};
	struct nh_cgroup_info info;
	const char *rel = j->rel_path;
	int root, mounts = -1, err = 0;

	root = nh_procroot_open(j->fs->proc, pid);
	if (root < 0) {
		err = -ESRCH;
		goto cleanup;
	}
	/* The mount table of the namespace the lookup goes through, held
	 * open: it stays readable if the process exits meanwhile. */
	snprintf(path, sizeof(path), "%s/%u/mountinfo", j->fs->proc, pid);
	mounts = open(path, O_RDONLY | O_CLOEXEC);
	if (mounts < 0) {
		err = -ESRCH;
		goto cleanup;
	}
	if (nh_cgroupfs_pid_path(j->fs, (pid_t)pid, cg, sizeof(cg)) != 0 ||
	    nh_cgpath_parse(cg, &info) != 0 || info.kind != NH_CG_K8S_POD ||
	    strcmp(info.pod_uid, j->pod_uid) != 0) {
		err = -ESRCH;
		goto cleanup;
	}
	j->served_pid = pid;
	err = nh_safefile_lookup(root, rel, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, &f);
	if (err) {
		j->own.outcome = err == -ENOENT ? NH_SAR_MISSING : NH_SAR_ERROR;
		j->own.why = err == -ENOENT ? "no token file in the pod (automount disabled?)"
					    : "token file cannot be looked up";
		err = 0;
		goto cleanup;
	}
	read_found(&f, mounts, &j->own_prev, &j->own);
cleanup:
	nh_safefile_close(&f);
	if (mounts >= 0)
		close(mounts);
	if (root >= 0)
		close(root);
	return err;
}

static int job_member(void *ctx, uint32_t pid)
{
	struct nh_sa_job *j = ctx;

	return pid != j->pids[0] && job_own(j, pid) != -ESRCH;
}

/* On the worker: the kubelet's copy, <root>/pods/<uid>/volumes/
 * kubernetes.io~projected/<vol>/token, preferring the service-account
 * volume kube-api-access-*, followed only inside its volume (the
 * kubelet's atomic writer links token -> ..data/token). */
static void job_host(struct nh_sa_job *j)
{
	char path[PATH_MAX], best[NAME_MAX + 1] = "";
	struct nh_safefile f = {.pathfd = -1}, probe;
	struct dirent *d;
	DIR *dir = NULL;
	int mounts = -1;

	j->host.outcome = NH_SAR_MISSING;
	j->host.why = "no kubelet copy";
	if (!j->kubelet_root[0])
		goto cleanup;
	if (snprintf(path, sizeof(path), "%s/pods/%s/volumes/kubernetes.io~projected",
		     j->kubelet_root, j->pod_uid) >= (int)sizeof(path))
		goto cleanup;
	dir = opendir(path);
	if (!dir)
		goto cleanup;
	while ((d = readdir(dir))) {
		bool api = strncmp(d->d_name, "kube-api-access-", 16) == 0;
		bool best_api = strncmp(best, "kube-api-access-", 16) == 0;
		int vol;

		if (d->d_name[0] == '.')
			continue;
		if (best[0] && (best_api > api || (best_api == api && strcmp(best, d->d_name) < 0)))
			continue;
		vol = openat(dirfd(dir), d->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (vol < 0)
			continue;
		if (nh_safefile_lookup(vol, "token",
				       RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
				       &probe) == 0) {
			nh_safefile_close(&f);
			f = probe;
			snprintf(best, sizeof(best), "%s", d->d_name);
		}
		close(vol);
	}
	if (f.pathfd < 0)
		goto cleanup;
	j->host.why = NULL;
	mounts = open("/proc/thread-self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (mounts < 0) {
		j->host.outcome = NH_SAR_ERROR;
		j->host.why = "mount table cannot be read";
		goto cleanup;
	}
	read_found(&f, mounts, &j->host_prev, &j->host);
cleanup:
	if (mounts >= 0)
		close(mounts);
	nh_safefile_close(&f);
	if (dir)
		closedir(dir);
}

/* On the worker: both copies. The pod's own view through the first live
 * process of: the event's, the last one that served, the cgroup's
 * members (short-lived processes are often gone by the time their event
 * is read, the container's others are not). */
static void sa_job_run(struct nh_job *job)
{
	struct nh_sa_job *j = (struct nh_sa_job *)job;

	job_host(j);
	if (job_own(j, j->pids[0]) != -ESRCH)
		return;
	if (j->pids[1] && j->pids[1] != j->pids[0] && job_own(j, j->pids[1]) != -ESRCH)
		return;
	j->served_pid = 0;
	if (j->cgroup_path[0])
		nh_cgroupfs_members(j->fs, j->cgroup_path, job_member, j);
}

/* On the loop: decode and judge a token read by a job; the bytes are
 * wiped by the job's owner afterwards. */
static void read_token(struct nh_satokens *t, struct nh_sa *sa, struct nh_sa_copy *c,
		       const char *buf, size_t len, const struct stat *st)
{
	struct nh_sa_claims claims;
	char key[NH_SA_KEY_MAX];
	const char *why = NULL, *distrust;
	bool verified;

	if (len == 0) {
		set_state(t, sa, c, NH_SA_MALFORMED, "token file is empty");
		return;
	}
	if (nh_jwt_decode_sa(buf, len, &claims, &why) != 0) {
		set_state(t, sa, c, NH_SA_MALFORMED, why ? why : "not a service-account JWT");
		return;
	}
	/* A bound token names its pod: a token of another pod planted in
	 * this one must not lend it that identity. */
	if (claims.pod_uid[0] && strcmp(claims.pod_uid, sa->pod_uid) != 0) {
		set_state(t, sa, c, NH_SA_MALFORMED, "token was issued for another pod");
		return;
	}
	if (snprintf(key, sizeof(key), "k8s:sa/%s/%s", claims.namespace_, claims.service_account) >=
	    (int)sizeof(key)) {
		set_state(t, sa, c, NH_SA_MALFORMED, "service-account name too long");
		return;
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
}

static void prev_of(const struct nh_satokens *t, const struct nh_sa_copy *c, struct nh_sa_prev *p)
{
	p->valid = c->state == NH_SA_OK && c->keys_gen == t->keys_gen;
	p->dev = c->dev;
	p->ino = c->ino;
	p->size = c->size;
	p->mtime = c->mtime;
}

/* On the loop: what the job found for one copy. */
static void take(struct nh_satokens *t, struct nh_sa *sa, struct nh_sa_copy *c,
		 struct nh_sa_found *f, enum nh_sa_state missing)
{
	switch (f->outcome) {
	case NH_SAR_NONE:
	case NH_SAR_SAME:
		break;
	case NH_SAR_MISSING:
		set_state(t, sa, c, missing, f->why);
		break;
	case NH_SAR_ERROR:
		set_state(t, sa, c, NH_SA_UNREADABLE, f->why);
		break;
	case NH_SAR_DATA:
		read_token(t, sa, c, f->buf, f->len, &f->st);
		break;
	}
	found_clear(f);
}

static void decide(struct nh_satokens *t, struct nh_sa *sa);

static void sa_job_done(void *owner, struct nh_job *job)
{
	struct nh_satokens *t = owner;
	struct nh_sa_job *j = (struct nh_sa_job *)job;
	struct nh_sa *sa = nh_u64map_get(&t->pods, j->job.key);

	/* The pod may have gone (or its slot gone to another) meanwhile. */
	if (sa && strcmp(sa->pod_uid, j->pod_uid) == 0) {
		if (j->host.outcome != NH_SAR_MISSING && j->host.outcome != NH_SAR_NONE)
			t->host_reads++;
		take(t, sa, &sa->host, &j->host, NH_SA_MISSING);
		take(t, sa, &sa->own, &j->own, NH_SA_MISSING);
		if (j->served_pid && sa->own.state == NH_SA_OK)
			sa->last_pid = j->served_pid;
		decide(t, sa);
	}
	found_clear(&j->host);
	found_clear(&j->own);
	free(j);
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

/* A job for the pod's copies, with what it needs copied in. */
static struct nh_sa_job *new_job(struct nh_satokens *t, struct nh_sa *sa, uint64_t k, uint32_t tgid,
				 const char *cgroup_path)
{
	struct nh_sa_job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->job = (struct nh_job){.key = k, .run = sa_job_run, .done = sa_job_done, .owner = t};
	j->fs = t->fs;
	memcpy(j->pod_uid, sa->pod_uid, sizeof(j->pod_uid));
	memcpy(j->rel_path, t->rel_path, sizeof(j->rel_path));
	memcpy(j->kubelet_root, t->kubelet_root, sizeof(j->kubelet_root));
	if (cgroup_path)
		snprintf(j->cgroup_path, sizeof(j->cgroup_path), "%s", cgroup_path);
	j->pids[0] = tgid;
	j->pids[1] = sa->last_pid;
	prev_of(t, &sa->host, &j->host_prev);
	prev_of(t, &sa->own, &j->own_prev);
	return j;
}

struct nh_sa *nh_satokens_get(struct nh_satokens *t, const char *pod_uid, uint32_t tgid,
			      const char *cgroup_path, uint64_t now_ns)
{
	static const char stalled[] = NH_SA_STALLED;
	uint64_t k = pod_key(pod_uid);
	struct nh_sa *sa = nh_u64map_get(&t->pods, k);
	struct nh_sa_job *j;
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
	/* A read still out: its answer comes back on the loop. One stuck past
	 * its deadline is said so, and never waited for again. */
	if (t->worker) {
		enum nh_job_state js = nh_worker_state(t->worker, k);

		if (js == NH_JOB_STUCK && sa->own.why != stalled) {
			t->stalled++;
			/* Said whatever the kubelet's copy is: a pod stalling the
			 * agent's reads is news in itself. */
			nh_warn(t->log, "pod %s: service-account token read stuck: %s", sa->pod_uid,
				stalled);
			set_state(t, sa, &sa->own, NH_SA_UNREADABLE, stalled);
			decide(t, sa);
		}
		if (js != NH_JOB_NONE)
			return sa;
	}
	sa->checked_ns = now_ns;
	sa->judged_gen = t->keys_gen;
	j = new_job(t, sa, k, tgid, cgroup_path);
	if (!j)
		return sa;
	if (!t->worker) {
		sa_job_run(&j->job);
		sa_job_done(t, &j->job);
		return sa;
	}
	if (nh_worker_submit(t->worker, &j->job) != 0) {
		t->busy++;
		free(j);
		return sa;
	}
	/* The answer is usually back in microseconds: a short, bounded wait
	 * keeps this event attributed as of now (a first token, a rotation).
	 * A read that hangs costs this wait once; then it is out (and later
	 * stuck) and never waited for again. */
	nh_worker_wait(t->worker, k, t->wait_ns);
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
