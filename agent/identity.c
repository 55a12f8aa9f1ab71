// SPDX-License-Identifier: Apache-2.0
#include "identity.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NH_USERS_MAX 65536
#define NH_SEEN_MAX  65536

const char *nh_identity_source_name(enum nh_identity_source s)
{
	switch (s) {
	case NH_IDSRC_CGROUP:
		return "cgroup";
	case NH_IDSRC_POD_RECORD:
		return "pod-record";
	case NH_IDSRC_CONTAINER_ROOT:
		return "container-root";
	case NH_IDSRC_KUBELET_VOLUME:
		return "kubelet-volume";
	case NH_IDSRC_UID:
	default:
		return "uid";
	}
}

int nh_identities_init(struct nh_identities *ids, const struct nh_cgroupfs *fs, size_t max_cgroups)
{
	int err;

	memset(ids, 0, sizeof(*ids));
	ids->fs = fs;
	err = nh_u64map_init(&ids->cgroups, max_cgroups);
	if (!err)
		err = nh_u64map_init(&ids->users, NH_USERS_MAX);
	if (!err)
		err = nh_u64map_init(&ids->seen, NH_SEEN_MAX);
	if (err)
		nh_identities_free(ids);
	return err;
}

static void free_values(struct nh_u64map *m)
{
	size_t it = 0;
	uint64_t k;
	void *v;

	while (nh_u64map_next(m, &it, &k, &v))
		free(v);
	nh_u64map_free(m);
}

void nh_identities_free(struct nh_identities *ids)
{
	free_values(&ids->cgroups);
	free_values(&ids->users);
	free_values(&ids->seen);
}

/* Whether prefix (a path) names the same identity as cg does. */
static bool same_identity(const struct nh_cgroup_ctx *cg, const char *prefix)
{
	const struct nh_cgroup_info *in = &cg->info;
	struct nh_cgroup_info p;
	const char *last = strrchr(prefix, '/');

	if (in->kind == NH_CG_UNIT && in->user_unit)
		return last && strncmp(last + 1, "user@", 5) == 0 &&
		       strcmp(prefix + strlen(prefix) - 8, ".service") == 0;
	if (nh_cgpath_parse(prefix, &p) != 0 || p.kind != in->kind)
		return false;
	switch (in->kind) {
	case NH_CG_K8S_POD:
		return strcmp(p.pod_uid, in->pod_uid) == 0;
	case NH_CG_CONTAINER:
		return strcmp(p.container_id, in->container_id) == 0;
	case NH_CG_UNIT:
		return strcmp(p.unit, in->unit) == 0;
	default:
		return false;
	}
}

/* struct nh_cgroup_ctx.identity_cgroup: the shortest prefix of the path
 * that names the same identity; above a delegated subtree, the last
 * root-owned directory. */
static void find_identity_cgroup(struct nh_identities *ids, struct nh_cgroup_ctx *cg)
{
	char prefix[NH_CGROUP_PATH_MAX];
	uint64_t id, owned = 0;
	size_t len = strlen(cg->path);

	cg->identity_cgroup = cg->id;
	if (!cg->found || (cg->info.kind == NH_CG_NONE && !cg->delegated))
		return;
	for (size_t i = 1; i <= len; i++) {
		if (i < len && cg->path[i] != '/')
			continue;
		memcpy(prefix, cg->path, i);
		prefix[i] = '\0';
		if (cg->delegated) {
			if (nh_cgroupfs_root_owned(ids->fs, prefix) != 1)
				break;
			if (nh_cgroupfs_path_id(ids->fs, prefix, &id) == 0)
				owned = id;
		} else if (same_identity(cg, prefix)) {
			if (nh_cgroupfs_path_id(ids->fs, prefix, &id) == 0)
				cg->identity_cgroup = id;
			return;
		}
	}
	if (owned)
		cg->identity_cgroup = owned;
}

void nh_identity_budget_set(struct nh_identities *ids, uint64_t cgroup_id)
{
	struct nh_cgroup_ctx *cg = nh_u64map_get(&ids->cgroups, cgroup_id);

	if (cg)
		cg->budget_set = true;
}

static void resolve(struct nh_identities *ids, struct nh_cgroup_ctx *cg, pid_t tgid)
{
	uint64_t id = 0;

	/* Fast path: the event's process is still there and still in the
	 * cgroup (checked by inode, since it may have moved). */
	if (tgid > 0 && nh_cgroupfs_pid_path(ids->fs, tgid, cg->path, sizeof(cg->path)) == 0 &&
	    nh_cgroupfs_path_id(ids->fs, cg->path, &id) == 0 && id == cg->id) {
		cg->found = true;
		ids->resolved++;
	} else if (nh_cgroupfs_find_id(ids->fs, cg->id, cg->path, sizeof(cg->path)) == 0) {
		cg->found = true;
		ids->walked++;
	} else {
		cg->path[0] = '\0';
		ids->unresolved++;
	}
	if (!cg->found || nh_cgpath_parse(cg->path, &cg->info) != 0)
		memset(&cg->info, 0, sizeof(cg->info));
	/* A user may create kubepods- or docker-looking cgroups in a subtree
	 * delegated to it: such claims fall back to the uid's identity. */
	if ((cg->info.kind == NH_CG_K8S_POD || cg->info.kind == NH_CG_CONTAINER) &&
	    nh_cgroupfs_root_owned(ids->fs, cg->path) != 1) {
		memset(&cg->info, 0, sizeof(cg->info));
		cg->delegated = true;
	}
	find_identity_cgroup(ids, cg);
}

const struct nh_cgroup_ctx *nh_identity_cgroup(struct nh_identities *ids, uint64_t cgroup_id,
					       pid_t tgid)
{
	struct nh_cgroup_ctx *cg = nh_u64map_get(&ids->cgroups, cgroup_id);
	void *victim;

	if (cg)
		return cg;
	cg = calloc(1, sizeof(*cg));
	if (!cg)
		return NULL;
	cg->id = cgroup_id;
	resolve(ids, cg, tgid);
	/* An unresolved cgroup is cached too: the removal event or the next
	 * restart clears it, and a miss must not walk the tree per event.
	 * At the bound, an arbitrary entry makes room: it is re-resolved if
	 * it shows up again. */
	if (nh_u64map_put_evict(&ids->cgroups, cgroup_id, cg, NULL, &victim) != 0) {
		free(cg);
		return NULL;
	}
	if (victim) {
		free(victim);
		ids->evicted++;
	}
	return cg;
}

bool nh_identity_forget(struct nh_identities *ids, uint64_t cgroup_id)
{
	struct nh_cgroup_ctx *cg = nh_u64map_del(&ids->cgroups, cgroup_id);

	if (!cg)
		return false;
	free(cg);
	ids->evicted++;
	return true;
}

const char *nh_identity_user(struct nh_identities *ids, uint32_t uid)
{
	uint64_t key = (uint64_t)uid + 1;
	struct passwd pw, *res = NULL;
	char buf[4096], *name;

	name = nh_u64map_get(&ids->users, key);
	if (name)
		return name[0] ? name : NULL;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || !res)
		name = strdup("");
	else
		name = strdup(res->pw_name);
	if (!name)
		return NULL;
	if (nh_u64map_put(&ids->users, key, name, NULL) != 0) {
		free(name);
		return NULL;
	}
	return name[0] ? name : NULL;
}

/* prefix then at most max bytes of s: once per event, so no snprintf. */
static int join(char *buf, size_t len, const char *prefix, const char *s, size_t max)
{
	size_t np = strlen(prefix), ns = strnlen(s, max);

	if (np + ns >= len)
		return -ENAMETOOLONG;
	memcpy(buf, prefix, np);
	memcpy(buf + np, s, ns);
	buf[np + ns] = '\0';
	return 0;
}

int nh_identity_key(struct nh_identities *ids, const struct nh_cgroup_ctx *cg, uint32_t uid,
		    char *buf, size_t len)
{
	const struct nh_cgroup_info *in = &cg->info;
	const char *user;
	int n;

	switch (in->kind) {
	case NH_CG_K8S_POD:
		return join(buf, len, "k8s:pod/", in->pod_uid, sizeof(in->pod_uid));
	case NH_CG_CONTAINER:
		return join(buf, len, "container:", in->container_id, 12);
	case NH_CG_UNIT:
		if (!in->user_unit)
			return join(buf, len, "unit:", in->unit, sizeof(in->unit));
		n = snprintf(buf, len, "unit:user@%u/%s", uid, in->unit);
		break;
	default:
		user = nh_identity_user(ids, uid);
		if (user)
			return join(buf, len, "user:", user, len);
		n = snprintf(buf, len, "user:%u", uid);
		break;
	}
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static struct nh_identity_seen *seen_get(struct nh_identities *ids, const char *key, uint64_t ts_ns)
{
	uint64_t h = nh_hash_str(key);
	struct nh_identity_seen *s = nh_u64map_get(&ids->seen, h);

	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return NULL;
		snprintf(s->key, sizeof(s->key), "%s", key);
		s->first_ns = ts_ns;
		if (nh_u64map_put(&ids->seen, h, s, NULL) != 0) {
			free(s);
			return NULL;
		}
	}
	return s;
}

void nh_identity_note(struct nh_identities *ids, const char *key, uint64_t ts_ns)
{
	struct nh_identity_seen *s = seen_get(ids, key, ts_ns);

	if (!s)
		return;
	s->events++;
	s->last_ns = ts_ns;
}

void nh_identity_note_flood(struct nh_identities *ids, const char *key, uint64_t ts_ns,
			    uint64_t flooded, uint64_t lost)
{
	struct nh_identity_seen *s = seen_get(ids, key, ts_ns);

	if (!s)
		return;
	s->flooded += flooded;
	s->lost += lost;
	s->last_ns = ts_ns;
}
