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
	struct nh_credinode *e;
	uint64_t k;
	size_t it = 0;

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
	const char *file; /* CRED_VOLUME: the credential's file name */
	int dir;	  /* pod tokens: the volume directory, to read the exp claim */
};

/* Until when (scan clock) the token in volume directory dir is valid: its
 * exp claim, capped; the default when it cannot be read. The token is
 * read into memory only for its claims and wiped. */
static uint64_t token_valid_until(const struct nh_credinodes *c, int dir)
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
	left = nh_sa_claims_remaining(&claims, c->wall_s);
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
	return c->now_ns + keep;
}

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
		e->valid_until_ns = token_valid_until(c, f->dir);
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

/* The key of an open descriptor; closes it. 0 or -errno. */
static int learn(struct nh_credinodes *c, int fd, mode_t type, struct nh_inode_key *key)
{
	struct stat st;
	int err = 0;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) != 0)
		err = -errno;
	else if ((st.st_mode & S_IFMT) != type)
		err = -EINVAL;
	else
		err = c->ops.learn(c->ops.ctx, fd, key);
	close(fd);
	return err;
}

/* A host file a rule names. Not followed when it is a symlink: a user's
 * ~/.ssh/id_x -> /etc/passwd must not make every read of /etc/passwd a
 * credential use (the link itself still matches by path). */
static void host_file(struct nh_credinodes *c, const struct nh_catalogue *cat, const char *path)
{
	struct found f = {.kind = NH_INODE_CRED_FILE, .name = path};
	int err;

	f.cred_kind = nh_catalogue_match_path(cat, path); /* exclusions and order */
	if (!f.cred_kind)
		return;
	err = learn(c, open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC), S_IFREG, &f.key);
	if (err == 0)
		found(c, &f);
	else if (err != -EINVAL && err != -ENOENT && err != -ELOOP)
		c->errors++;
}

static void expand(struct nh_credinodes *c, const struct nh_catalogue *cat, const char *pattern)
{
	glob_t g;

	if (glob(pattern, GLOB_NOSORT, NULL, &g) != 0)
		return;
	for (size_t i = 0; i < g.gl_pathc; i++)
		host_file(c, cat, g.gl_pathv[i]);
	globfree(&g);
}

/* Distinct existing home directories from /etc/passwd, and /root. */
static size_t homes(char (*out)[PATH_MAX], size_t max)
{
	FILE *pw = fopen("/etc/passwd", "re");
	struct passwd *p;
	struct stat st;
	size_t n = 0;

	snprintf(out[n++], PATH_MAX, "/root");
	while (pw && n < max && (p = fgetpwent(pw))) {
		bool dup = false;

		if (!p->pw_dir || p->pw_dir[0] != '/' || !p->pw_dir[1] ||
		    strlen(p->pw_dir) >= PATH_MAX || stat(p->pw_dir, &st) != 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		for (size_t i = 0; i < n && !dup; i++)
			dup = strcmp(out[i], p->pw_dir) == 0;
		if (!dup)
			snprintf(out[n++], PATH_MAX, "%s", p->pw_dir);
	}
	if (pw)
		fclose(pw);
	return n;
}

static void scan_host(struct nh_credinodes *c, const struct nh_catalogue *cat)
{
	char(*home)[PATH_MAX] = malloc(NH_HOMES_MAX * sizeof(*home));
	char pattern[PATH_MAX + NH_CAT_PATTERN_MAX + 2];
	const char *p;
	unsigned int it = 0;
	size_t nhomes;
	bool anchored;

	if (!home) {
		c->errors++;
		return;
	}
	nhomes = homes(home, NH_HOMES_MAX);
	while ((p = nh_catalogue_next_file_pattern(cat, &it, &anchored))) {
		if (anchored) {
			expand(c, cat, p);
			continue;
		}
		for (size_t i = 0; i < nhomes; i++) {
			snprintf(pattern, sizeof(pattern), "%s/%s", home[i], p);
			expand(c, cat, pattern);
		}
	}
	free(home);
}

/* One projected volume of a pod: its directory, its device's marker and
 * its current token. */
static void scan_volume(struct nh_credinodes *c, int projected, const char *pod_uid,
			const char *vol)
{
	struct open_how how = {.flags = O_PATH | O_CLOEXEC,
			       .resolve =
				   RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV};
	char name[PATH_MAX], host[PATH_MAX];
	struct found f = {
	    .cred_kind = "sa_token", .pod_uid = pod_uid, .name = name, .host = host, .dir = -1};
	int dir, fd, err, n;

	/* The service-account volume's token is known by the path pods
	 * read it at; another projected token by the kubelet's path. */
	n = snprintf(host, sizeof(host), "%s/pods/%s/volumes/kubernetes.io~projected/%s/token",
		     c->kubelet_root, pod_uid, vol);
	if (n < 0 || (size_t)n >= sizeof(host))
		return;
	snprintf(name, sizeof(name), "%s",
		 strncmp(vol, "kube-api-access-", 16) == 0 ? c->sa_token_path : host);
	dir = openat(projected, vol, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0)
		return;
	fd = (int)syscall(SYS_openat2, dir, "token", &how, sizeof(how));
	err = learn(c, fd < 0 ? -errno : fd, S_IFREG, &f.key);
	if (err) {
		close(dir);
		return; /* not a token volume */
	}
	f.kind = NH_INODE_CRED_FILE;
	f.dir = dir;
	found(c, &f);
	f.dir = -1;
	err = learn(c, dir, S_IFDIR, &f.key);
	if (err) {
		c->errors++;
		return;
	}
	f.kind = NH_INODE_CRED_VOLUME;
	f.file = "token";
	found(c, &f);
	f = (struct found){
	    .kind = NH_INODE_DEVICE, .key = {.dev = f.key.dev}, .cred_kind = "", .name = ""};
	found(c, &f);
}

static void scan_kubelet(struct nh_credinodes *c)
{
	char path[PATH_MAX];
	DIR *pods, *vols;
	struct dirent *p, *v;
	int projected;

	if (!c->kubelet_root[0] ||
	    snprintf(path, sizeof(path), "%s/pods", c->kubelet_root) >= (int)sizeof(path))
		return;
	pods = opendir(path);
	if (!pods)
		return;
	while ((p = readdir(pods))) {
		if (p->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/pods/%s/volumes/kubernetes.io~projected",
			     c->kubelet_root, p->d_name) >= (int)sizeof(path))
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
				scan_volume(c, projected, p->d_name, v->d_name);
		closedir(vols);
	}
	closedir(pods);
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

int nh_credinodes_scan(struct nh_credinodes *c, const struct nh_catalogue *cat, uint64_t now_ns,
		       int64_t wall_s)
{
	struct nh_credinode *e, **gone = NULL;
	struct nh_u64map volumes = {0};
	size_t it = 0, n = 0;
	uint64_t k;
	int err;

	c->scans++;
	c->now_ns = now_ns;
	c->wall_s = wall_s;
	scan_host(c, cat);
	scan_kubelet(c);
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
	if (c->ops.filter) {
		uint64_t *bits = calloc(NH_CRED_FILTER_WORDS, sizeof(*bits));

		if (!bits) {
			err = -ENOMEM;
			goto cleanup;
		}
		it = 0;
		while (nh_u64map_next(&c->by_key, &it, &k, (void **)&e)) {
			uint32_t b = nh_cred_filter_bit(e->key.ino, e->key.dev);

			bits[b >> 6] |= 1ULL << (b & 63);
		}
		c->ops.filter(c->ops.ctx, bits);
		free(bits);
	}
cleanup:
	free(gone);
	nh_u64map_free(&volumes);
	return err;
}
