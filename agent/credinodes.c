// SPDX-License-Identifier: Apache-2.0
#include "credinodes.h"
#include "jwt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <linux/openat2.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "clock.h"

#define NH_HOMES_MAX 256 /* home directories searched for relative rules */

static uint64_t key_hash(const struct nh_inode_key *k)
{
	uint64_t h = nh_hash64(k->ino ^ nh_hash64((uint64_t)k->dev + 1));

	return h ? h : 1;
}

int nh_credinodes_init(struct nh_credinodes *c, const struct nh_credinodes_ops *ops,
		       const char *kubelet_root, const char *sa_token_path)
{
	int err;

	memset(c, 0, sizeof(*c));
	c->ops = *ops;
	c->sa_token_path = sa_token_path;
	snprintf(c->kubelet_root, sizeof(c->kubelet_root), "%s", kubelet_root ? kubelet_root : "");
	/* gone entries wait in by_id a while: room for a full turnover */
	err = nh_u64map_init(&c->by_id, 2 * NH_CREDINODES_MAX);
	if (!err)
		err = nh_u64map_init(&c->by_key, NH_CREDINODES_MAX);
	if (err)
		nh_credinodes_free(c);
	return err;
}

void nh_credinodes_free(struct nh_credinodes *c)
{
	uint64_t key = (uint64_t)(uintptr_t)c;
	struct nh_credinode *e;
	uint64_t k;
	size_t it = 0;

	/* a walk still out: its answer is not wanted any more (bounded
	 * wait: one that hangs is left behind, and learns nothing) */
	if (c->worker && nh_worker_state(c->worker, key) == NH_JOB_PENDING)
		nh_worker_wait(c->worker, key, 2000000000ULL);
	atomic_store(&c->closed, true);
	c->worker = NULL;

	while (c->by_id.slots && nh_u64map_next(&c->by_id, &it, &k, (void **)&e)) {
		if (!e->gone_ns && c->ops.del)
			c->ops.del(c->ops.ctx, &e->key);
		free(e);
	}
	nh_u64map_free(&c->by_id);
	nh_u64map_free(&c->by_key);
}

const struct nh_credinode *nh_credinodes_get(const struct nh_credinodes *c, uint32_t id)
{
	return id ? nh_u64map_get(&c->by_id, id) : NULL;
}

struct found {
	uint32_t kind;
	struct nh_inode_key key;
	const char *cred_kind, *name, *pod_uid, *host;
	const char *file;      /* CRED_VOLUME: the credential's file name */
	uint64_t valid_for_ns; /* pod tokens: how long from this scan */
};

static void to_val(const struct nh_credinode *e, const char *file, struct nh_inode_val *v)
{
	memset(v, 0, sizeof(*v));
	v->id = e->id;
	v->kind = e->kind;
	if (file)
		memcpy(v->name, file, strlen(file)); /* shorter than NH_INODE_NAME */
}

/* One file or directory found by this scan. */
static void found(struct nh_credinodes *c, const struct found *f)
{
	uint64_t h = key_hash(&f->key);
	struct nh_credinode *e = nh_u64map_get(&c->by_key, h);
	struct nh_inode_val v;
	bool changed;

	if (e) {
		if (memcmp(&e->key, &f->key, sizeof(f->key)) != 0) {
			c->errors++; /* two keys, one hash: the first one stays */
			return;
		}
		if (e->seen == c->scans)
			return; /* found by an earlier rule of this scan: it gives the kind */
		changed = e->kind != f->kind || strcmp(e->name, f->name) != 0 ||
			  (f->host && strcmp(e->host, f->host) != 0) ||
			  strcmp(e->cred_kind, f->cred_kind) != 0;
		e->seen = c->scans;
		e->rotated_ns = 0; /* current again */
		if (!changed)
			return;
		/* A new id, so an event already in the ring keeps the old name. */
		nh_u64map_del(&c->by_key, h);
		c->ops.del(c->ops.ctx, &e->key);
		e->gone_ns = 1; /* retired below with the others */
		e->seen = 0;
	}
	if (c->by_key.len >= NH_CREDINODES_MAX) {
		c->overflows++;
		return;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		c->errors++;
		return;
	}
	if (++c->next_id == 0)
		c->next_id = 1;
	e->id = c->next_id;
	e->kind = f->kind;
	e->key = f->key;
	e->seen = c->scans;
	snprintf(e->cred_kind, sizeof(e->cred_kind), "%s", f->cred_kind);
	snprintf(e->name, sizeof(e->name), "%s", f->name);
	snprintf(e->pod_uid, sizeof(e->pod_uid), "%s", f->pod_uid ? f->pod_uid : "");
	snprintf(e->host, sizeof(e->host), "%s", f->host ? f->host : f->name);
	if (f->kind == NH_INODE_CRED_FILE && f->pod_uid)
		e->valid_until_ns = c->now_ns + f->valid_for_ns;
	to_val(e, f->file, &v);
	if (nh_u64map_put(&c->by_id, e->id, e, NULL) != 0) {
		c->errors++;
		free(e);
		return;
	}
	if (nh_u64map_put(&c->by_key, h, e, NULL) != 0 || c->ops.put(c->ops.ctx, &e->key, &v)) {
		c->errors++;
		nh_u64map_del(&c->by_key, h);
		e->gone_ns = 1;
	}
}

/* What a scan found, gathered off the loop (worker.h) and applied on it:
 * file keys learned, names copied; the catalogue's exclusions and the
 * table are the loop's. */
struct cand {
	uint32_t kind;
	struct nh_inode_key key;
	bool host_file; /* kind from the catalogue, on the loop */
	char name[NH_CREDINODE_NAME_MAX];
	char host[NH_CREDINODE_NAME_MAX];
	char pod_uid[64];
	const char *file; /* CRED_VOLUME: "token" */
	uint64_t valid_for_ns;
};

struct scan {
	struct nh_job job;
	struct nh_credinodes *c;
	const struct nh_catalogue *cat;
	struct nh_credinodes_ops ops;
	char kubelet_root[PATH_MAX];
	char sa_token_path[NH_CREDINODE_NAME_MAX];
	int64_t wall_s; /* when handed out, for exp claims */
	/* the catalogue's file rules, copied when the scan is handed out */
	char (*pattern)[NH_CAT_PATTERN_MAX + 1];
	bool *anchored;
	size_t npatterns;
	struct cand *cand;
	size_t n, cap;
	uint64_t errors;
};

static struct cand *add(struct scan *sc)
{
	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? sc->cap * 2 : 64;
		struct cand *grown = realloc(sc->cand, cap * sizeof(*grown));

		if (!grown) {
			sc->errors++;
			return NULL;
		}
		sc->cand = grown;
		sc->cap = cap;
	}
	memset(&sc->cand[sc->n], 0, sizeof(sc->cand[0]));
	return &sc->cand[sc->n++];
}

/* The key of an open descriptor; closes it. 0 or -errno. */
static int learn(struct scan *sc, int fd, mode_t type, struct nh_inode_key *key)
{
	struct stat st;
	int err = 0;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) != 0)
		err = -errno;
	else if ((st.st_mode & S_IFMT) != type)
		err = -EINVAL;
	else if (atomic_load(&sc->c->closed))
		err = -ECANCELED;
	else
		err = sc->ops.learn(sc->ops.ctx, fd, key);
	close(fd);
	return err;
}

/* A host file a rule names. Not followed when it is a symlink: a user's
 * ~/.ssh/id_x -> /etc/passwd must not make every read of /etc/passwd a
 * credential use (the link itself still matches by path). */
static void host_file(struct scan *sc, const char *path)
{
	struct nh_inode_key key;
	struct cand *f;
	int err;

	if (strlen(path) >= NH_CREDINODE_NAME_MAX)
		return;
	err = learn(sc, open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC), S_IFREG, &key);
	if (err) {
		if (err != -EINVAL && err != -ENOENT && err != -ELOOP)
			sc->errors++;
		return;
	}
	f = add(sc);
	if (!f)
		return;
	f->kind = NH_INODE_CRED_FILE;
	f->key = key;
	f->host_file = true;
	snprintf(f->name, sizeof(f->name), "%s", path);
}

static void expand(struct scan *sc, const char *pattern)
{
	glob_t g;

	if (glob(pattern, GLOB_NOSORT, NULL, &g) != 0)
		return;
	for (size_t i = 0; i < g.gl_pathc; i++)
		host_file(sc, g.gl_pathv[i]);
	globfree(&g);
}

/* Distinct existing home directories from /etc/passwd, and /root. */
static size_t homes(char (*out)[PATH_MAX], size_t max)
{
	FILE *pw = fopen("/etc/passwd", "re");
	struct passwd p, *r;
	char buf[4096];
	struct stat st;
	size_t n = 0;

	snprintf(out[n++], PATH_MAX, "/root");
	/* fgetpwent_r: this may run on a worker thread */
	while (pw && n < max && fgetpwent_r(pw, &p, buf, sizeof(buf), &r) == 0 && r) {
		bool dup = false;

		if (!p.pw_dir || p.pw_dir[0] != '/' || !p.pw_dir[1] ||
		    strlen(p.pw_dir) >= PATH_MAX || stat(p.pw_dir, &st) != 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		for (size_t i = 0; i < n && !dup; i++)
			dup = strcmp(out[i], p.pw_dir) == 0;
		if (!dup)
			snprintf(out[n++], PATH_MAX, "%s", p.pw_dir);
	}
	if (pw)
		fclose(pw);
	return n;
}

static void scan_host(struct scan *sc)
{
	char(*home)[PATH_MAX] = malloc(NH_HOMES_MAX * sizeof(*home));
	char pattern[PATH_MAX + NH_CAT_PATTERN_MAX + 2];
	size_t nhomes;

	if (!home) {
		sc->errors++;
		return;
	}
	nhomes = homes(home, NH_HOMES_MAX);
	for (size_t p = 0; p < sc->npatterns; p++) {
		if (sc->anchored[p]) {
			expand(sc, sc->pattern[p]);
			continue;
		}
		for (size_t i = 0; i < nhomes; i++) {
			snprintf(pattern, sizeof(pattern), "%s/%s", home[i], sc->pattern[p]);
			expand(sc, pattern);
		}
	}
	free(home);
}

/* How long from now the token in volume directory dir is valid: its exp
 * claim, capped; the default when it cannot be read. The token is read
 * into memory only for its claims and wiped. On the walk: a token file
 * that hangs holds a worker. */
static uint64_t token_valid_for(int dir, int64_t wall_s)
{
	struct open_how how = {.flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC,
			       .resolve =
				   RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV};
	uint64_t keep = NH_CREDINODES_ROTATED_DEFAULT_NS;
	struct nh_sa_claims claims;
	char *buf = NULL;
	struct stat st;
	ssize_t n = -1;
	int64_t left;
	int fd;

	fd = (int)syscall(SYS_openat2, dir, "token", &how, sizeof(how));
	if (fd < 0)
		goto cleanup;
	buf = malloc(NH_JWT_MAX);
	if (buf && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		n = read(fd, buf, NH_JWT_MAX);
	close(fd);
	if (n <= 0 || nh_jwt_decode_sa(buf, (size_t)n, &claims, NULL) != 0)
		goto cleanup;
	left = nh_sa_claims_remaining(&claims, wall_s);
	if (left <= 0)
		keep = 0;
	else if ((uint64_t)left < NH_CREDINODES_ROTATED_MAX_NS / 1000000000ULL)
		keep = (uint64_t)left * 1000000000ULL;
	else
		keep = NH_CREDINODES_ROTATED_MAX_NS;
cleanup:
	if (buf) {
		explicit_bzero(buf, NH_JWT_MAX);
		free(buf);
	}
	return keep;
}

/* One projected volume of a pod: its directory, its device's marker and
 * its current token. */
static void scan_volume(struct scan *sc, int projected, const char *pod_uid, const char *vol)
{
	struct open_how how = {.flags = O_PATH | O_CLOEXEC,
			       .resolve =
				   RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV};
	char name[NH_CREDINODE_NAME_MAX], host[NH_CREDINODE_NAME_MAX];
	struct nh_inode_key token, volume;
	uint64_t valid_for;
	struct cand *f;
	int dir, fd, err, n;

	/* The service-account volume's token is known by the path pods
	 * read it at; another projected token by the kubelet's path. */
	n = snprintf(host, sizeof(host), "%s/pods/%s/volumes/kubernetes.io~projected/%s/token",
		     sc->kubelet_root, pod_uid, vol);
	if (n < 0 || (size_t)n >= sizeof(host) || strlen(pod_uid) >= sizeof(f->pod_uid))
		return;
	snprintf(name, sizeof(name), "%s",
		 strncmp(vol, "kube-api-access-", 16) == 0 ? sc->sa_token_path : host);
	dir = openat(projected, vol, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0)
		return;
	fd = (int)syscall(SYS_openat2, dir, "token", &how, sizeof(how));
	err = learn(sc, fd < 0 ? -errno : fd, S_IFREG, &token);
	if (err) {
		close(dir);
		return; /* not a token volume */
	}
	valid_for = token_valid_for(dir, sc->wall_s);
	err = learn(sc, dir, S_IFDIR, &volume);
	for (int i = 0; i < (err ? 1 : 3); i++) {
		f = add(sc);
		if (!f)
			return;
		f->kind = i == 0   ? NH_INODE_CRED_FILE
			  : i == 1 ? NH_INODE_CRED_VOLUME
				   : NH_INODE_DEVICE;
		f->key = i == 0	  ? token
			 : i == 1 ? volume
				  : (struct nh_inode_key){.dev = volume.dev};
		if (i == 2)
			break; /* the device marker: no name */
		snprintf(f->name, sizeof(f->name), "%s", name);
		snprintf(f->host, sizeof(f->host), "%s", host);
		memcpy(f->pod_uid, pod_uid, strlen(pod_uid) + 1); /* checked above */
		f->file = i == 1 ? "token" : NULL;
		f->valid_for_ns = valid_for;
	}
	if (err)
		sc->errors++;
}

static void scan_kubelet(struct scan *sc)
{
	char path[PATH_MAX];
	DIR *pods, *vols;
	struct dirent *p, *v;
	int projected;

	if (!sc->kubelet_root[0] ||
	    snprintf(path, sizeof(path), "%s/pods", sc->kubelet_root) >= (int)sizeof(path))
		return;
	pods = opendir(path);
	if (!pods)
		return;
	while ((p = readdir(pods))) {
		if (p->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/pods/%s/volumes/kubernetes.io~projected",
			     sc->kubelet_root, p->d_name) >= (int)sizeof(path))
			continue;
		projected = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (projected < 0)
			continue;
		vols = fdopendir(projected);
		if (!vols) {
			close(projected);
			continue;
		}
		while ((v = readdir(vols)))
			if (v->d_name[0] != '.')
				scan_volume(sc, projected, p->d_name, v->d_name);
		closedir(vols);
	}
	closedir(pods);
}

/* On a worker (or inline without one): the file system walk. */
static void scan_run(struct nh_job *job)
{
	struct scan *sc = (struct scan *)job;

	scan_host(sc);
	scan_kubelet(sc);
}

static void scan_free(struct scan *sc)
{
	free(sc->cand);
	free(sc->pattern);
	free(sc->anchored);
	free(sc);
}

/* A pod token this scan did not find whose volume it did: rotated out by
 * the kubelet. Still valid until it expires, so its inode (a hard link
 * may keep it) stays matched until then. */
static bool keep_rotated(struct nh_credinodes *c, struct nh_credinode *e,
			 const struct nh_u64map *volumes)
{
	if (e->kind != NH_INODE_CRED_FILE || !e->pod_uid[0] ||
	    !nh_u64map_get(volumes, nh_hash_str(e->host)) ||
	    (int64_t)(c->now_ns - e->valid_until_ns) >= 0)
		return false;
	if (!e->rotated_ns)
		e->rotated_ns = c->now_ns;
	c->rotated++;
	return true;
}

/* The filter bits of every key now in the kernel map, so a gone key's
 * bit clears. */
static int publish_filter(struct nh_credinodes *c)
{
	uint64_t *bits, k;
	struct nh_credinode *e;
	size_t it = 0;

	if (!c->ops.filter)
		return 0;
	bits = calloc(NH_CRED_FILTER_WORDS, sizeof(*bits));
	if (!bits)
		return -ENOMEM;
	while (nh_u64map_next(&c->by_key, &it, &k, (void **)&e)) {
		uint32_t b = nh_cred_filter_bit(e->key.ino, e->key.dev);

		bits[b >> 6] |= 1ULL << (b & 63);
	}
	c->ops.filter(c->ops.ctx, bits);
	free(bits);
	return 0;
}

/* On the loop: bring the table and the kernel map in line with what the
 * walk found. 0 or -ENOMEM. */
static int apply(struct nh_credinodes *c, struct scan *sc, uint64_t now_ns)
{
	struct nh_credinode *e, **gone = NULL;
	struct nh_u64map volumes = {0};
	size_t it = 0, n = 0;
	uint64_t k;
	int err;

	c->scans++;
	c->now_ns = now_ns;
	c->errors += sc->errors;
	for (size_t i = 0; i < sc->n; i++) {
		const struct cand *cd = &sc->cand[i];
		struct found f = {.kind = cd->kind,
				  .key = cd->key,
				  .name = cd->name,
				  .file = cd->file,
				  .valid_for_ns = cd->valid_for_ns,
				  .cred_kind = cd->kind == NH_INODE_DEVICE ? "" : "sa_token"};

		if (cd->host_file) {
			/* exclusions and order: the catalogue's word */
			f.cred_kind = nh_catalogue_match_path(sc->cat, cd->name);
			if (!f.cred_kind)
				continue;
		} else if (cd->kind != NH_INODE_DEVICE) {
			f.pod_uid = cd->pod_uid;
			f.host = cd->host;
		}
		found(c, &f);
	}
	c->files = c->volumes = c->rotated = 0;
	/* Whatever this scan did not find leaves the kernel map now. */
	gone = calloc(c->by_id.len + 1, sizeof(*gone));
	err = nh_u64map_init(&volumes, c->by_id.len + 1);
	if (!gone || err) {
		err = -ENOMEM;
		goto cleanup;
	}
	while (nh_u64map_next(&c->by_id, &it, &k, (void **)&e)) {
		gone[n++] = e;
		if (e->kind == NH_INODE_CRED_VOLUME && !e->gone_ns && e->seen == c->scans)
			nh_u64map_put(&volumes, nh_hash_str(e->host), e, NULL);
	}
	for (size_t i = 0; i < n; i++) {
		e = gone[i];
		if (!e->gone_ns && e->seen != c->scans && !keep_rotated(c, e, &volumes)) {
			nh_u64map_del(&c->by_key, key_hash(&e->key));
			c->ops.del(c->ops.ctx, &e->key);
			e->gone_ns = now_ns;
		} else if (e->gone_ns == 1) {
			e->gone_ns = now_ns;
		}
		if (e->gone_ns && now_ns - e->gone_ns > NH_CREDINODES_KEEP_NS) {
			nh_u64map_del(&c->by_id, e->id);
			free(e);
		} else if (!e->gone_ns && !e->rotated_ns) {
			c->files += e->kind == NH_INODE_CRED_FILE;
			c->volumes += e->kind == NH_INODE_CRED_VOLUME;
		}
	}
	err = publish_filter(c);
cleanup:
	if (err)
		c->errors++;
	free(gone);
	nh_u64map_free(&volumes);
	return err;
}

static void scan_done(void *owner, struct nh_job *job)
{
	struct scan *sc = (struct scan *)job;
	struct nh_credinodes *c = owner;

	/* started_ns 0: never ran (the worker stopped first) */
	if (job->started_ns && c->worker)
		apply(c, sc, nh_clock_mono_ns());
	scan_free(sc);
}

static struct scan *new_scan(struct nh_credinodes *c, const struct nh_catalogue *cat,
			     int64_t wall_s)
{
	struct scan *sc = calloc(1, sizeof(*sc));
	unsigned int it = 0;
	const char *p;
	bool anchored;
	size_t n = 0;

	if (!sc)
		return NULL;
	while (nh_catalogue_next_file_pattern(cat, &it, &anchored))
		n++;
	sc->pattern = calloc(n + 1, sizeof(*sc->pattern));
	sc->anchored = calloc(n + 1, sizeof(*sc->anchored));
	if (!sc->pattern || !sc->anchored) {
		scan_free(sc);
		return NULL;
	}
	it = 0;
	while (sc->npatterns < n && (p = nh_catalogue_next_file_pattern(cat, &it, &anchored))) {
		snprintf(sc->pattern[sc->npatterns], sizeof(sc->pattern[0]), "%s", p);
		sc->anchored[sc->npatterns++] = anchored;
	}
	sc->job = (struct nh_job){
	    .key = (uint64_t)(uintptr_t)c, .run = scan_run, .done = scan_done, .owner = c};
	sc->c = c;
	sc->cat = cat;
	sc->wall_s = wall_s;
	sc->ops = c->ops;
	snprintf(sc->kubelet_root, sizeof(sc->kubelet_root), "%s", c->kubelet_root);
	snprintf(sc->sa_token_path, sizeof(sc->sa_token_path), "%s", c->sa_token_path);
	return sc;
}

int nh_credinodes_scan(struct nh_credinodes *c, const struct nh_catalogue *cat, uint64_t now_ns,
		       int64_t wall_s)
{
	struct scan *sc;
	int err;

	if (c->worker && nh_worker_state(c->worker, (uint64_t)(uintptr_t)c) != NH_JOB_NONE) {
		c->scans_skipped++; /* the last walk is not back (a file system that hangs) */
		return 0;
	}
	sc = new_scan(c, cat, wall_s);
	if (!sc)
		return -ENOMEM;
	if (c->worker) {
		if (nh_worker_submit(c->worker, &sc->job) == 0)
			return 0;
		c->scans_skipped++;
		scan_free(sc);
		return 0;
	}
	scan_run(&sc->job);
	err = apply(c, sc, now_ns);
	scan_free(sc);
	return err;
}
