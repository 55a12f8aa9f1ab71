/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for agent/identity.c and agent/cgroupfs.c against a fake
 * cgroup2 hierarchy: a temporary directory tree whose directory inodes
 * play the part of cgroup ids, and a fake procfs next to it.
 */
#include <errno.h>
#include <ftw.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroupfs.h"
#include "check.h"
#include "identity.h"

#define CID    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define CID2   "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define UID    "7d5e3e0c-3c1f-4f4b-9a8e-2b1c0d9e8f7a"
#define UID_US "7d5e3e0c_3c1f_4f4b_9a8e_2b1c0d9e8f7a"

#define P_POD                                                                                      \
	"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_US ".slice"          \
	"/cri-containerd-" CID ".scope"
#define P_NGINX	   "/system.slice/nginx.service"
#define P_DOCKER   "/docker/" CID2
#define P_SESSION  "/user.slice/user-1000.slice/session-3.scope"
#define P_USERUNIT "/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service"
#define P_BADPOD   "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podNOTAUUID.slice"

static char base[32];	  /* the temporary directory */
static char cgroot[48];	  /* <base>/cg: the fake cgroup2 mount */
static char procroot[48]; /* <base>/proc: the fake procfs */
static struct nh_cgroupfs fs;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* mkdir -p for a path below @root. */
static int mkdirs(const char *root, const char *rel)
{
	char path[PATH_MAX * 2];
	size_t n = (size_t)snprintf(path, sizeof(path), "%s%s", root, rel);

	for (size_t i = strlen(root) + 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			return -errno;
		if (i < n)
			path[i] = '/';
	}
	return 0;
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int err = 0;

	if (!f)
		return -errno;
	if (fputs(text, f) < 0)
		err = -EIO;
	if (fclose(f))
		err = -errno;
	return err;
}

/* The cgroup id of a directory below the fake mount: its inode. */
static uint64_t ino_of(const char *rel)
{
	char path[PATH_MAX * 2];
	struct stat st;

	snprintf(path, sizeof(path), "%s%s", cgroot, rel);
	if (stat(path, &st))
		return 0;
	return st.st_ino;
}

/* A fake /proc/<pid>/cgroup. */
static int fake_proc(int pid, const char *content)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%d", procroot, pid);
	if (mkdir(path, 0755) && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/%d/cgroup", procroot, pid);
	return write_file(path, content);
}

/* A uid with no passwd entry, starting at 54321. */
static uint32_t nameless_uid(void)
{
	uint32_t uid = 54321;

	while (getpwuid(uid))
		uid++;
	return uid;
}

static bool setup(void)
{
	static const char *const dirs[] = {P_POD,     P_NGINX,	  P_DOCKER,
					   P_SESSION, P_USERUNIT, P_BADPOD};
	char path[PATH_MAX];
	bool ok = true;

	snprintf(base, sizeof(base), "/tmp/nhid-XXXXXX");
	if (!mkdtemp(base))
		return false;
	snprintf(cgroot, sizeof(cgroot), "%s/cg", base);
	snprintf(procroot, sizeof(procroot), "%s/proc", base);
	ok &= mkdir(cgroot, 0755) == 0;
	ok &= mkdir(procroot, 0755) == 0;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		ok &= mkdirs(cgroot, dirs[i]) == 0;
	/* a plain file: its inode can never be a cgroup id */
	snprintf(path, sizeof(path), "%s/cgroup.procs", cgroot);
	ok &= write_file(path, "") == 0;
	return ok;
}

static void test_cgroupfs_init_at(void)
{
	struct nh_cgroupfs f;
	char path[PATH_MAX], proc_long[80];

	CHECK(nh_cgroupfs_init_at(&f, cgroot, procroot) == 0);
	CHECK_STR(f.mount, cgroot);
	CHECK_STR(f.proc, procroot);

	snprintf(path, sizeof(path), "%s/cgroup.procs", cgroot);
	CHECK(nh_cgroupfs_init_at(&f, path, "/proc") == -ENOTDIR);
	snprintf(path, sizeof(path), "%s/missing", cgroot);
	CHECK(nh_cgroupfs_init_at(&f, path, "/proc") == -ENOENT);
	memset(proc_long, 'p', sizeof(proc_long) - 1);
	proc_long[sizeof(proc_long) - 1] = '\0';
	CHECK(nh_cgroupfs_init_at(&f, cgroot, proc_long) == -ENAMETOOLONG);
}

static void test_cgroupfs_init_mountinfo(void)
{
	char mi[PATH_MAX], text[4 * PATH_MAX];
	struct nh_cgroupfs f;

	/* hybrid host: v1 controllers, then the v2 hierarchy on its own */
	snprintf(mi, sizeof(mi), "%s/mountinfo", base);
	snprintf(text, sizeof(text),
		 "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
		 "24 22 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:4 - tmpfs tmpfs "
		 "ro,mode=755\n"
		 "25 24 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:5 - "
		 "cgroup cgroup rw,xattr,name=systemd\n"
		 "26 24 0:24 / /sys/fs/cgroup/cgroup2 rw,relatime shared:6 - cgroup cgroup "
		 "rw,memory\n"
		 "27 24 0:25 / %s rw,nosuid,nodev,noexec,relatime shared:7 master:1 - cgroup2 "
		 "cgroup2 rw,nsdelegate\n"
		 "28 24 0:26 / /sys/fs/cgroup/other rw shared:8 - cgroup2 cgroup2 rw\n",
		 cgroot);
	CHECK(write_file(mi, text) == 0);
	memset(&f, 0, sizeof(f));
	CHECK(nh_cgroupfs_init(&f, mi, "/proc") == 0);
	CHECK_STR(f.mount, cgroot);
	CHECK_STR(f.proc, "/proc");

	/* cgroup v1 only: no v2 hierarchy to read */
	snprintf(text, sizeof(text),
		 "24 22 0:22 / /sys/fs/cgroup ro shared:4 - tmpfs tmpfs ro,mode=755\n"
		 "25 24 0:23 / /sys/fs/cgroup/systemd rw shared:5 - cgroup cgroup rw,name=systemd\n"
		 "26 24 0:24 / /sys/fs/cgroup/unified rw shared:6 - cgroup cgroup rw,memory\n");
	CHECK(write_file(mi, text) == 0);
	CHECK(nh_cgroupfs_init(&f, mi, "/proc") == -ENOENT);

	CHECK(write_file(mi, "") == 0);
	CHECK(nh_cgroupfs_init(&f, mi, "/proc") == -ENOENT);

	/* the v2 line names a mount point that is not there */
	snprintf(text, sizeof(text), "27 24 0:25 / %s/absent rw shared:7 - cgroup2 cgroup2 rw\n",
		 base);
	CHECK(write_file(mi, text) == 0);
	CHECK(nh_cgroupfs_init(&f, mi, "/proc") == -ENOENT);

	/* mountinfo escapes a space in the mount point as \\040 */
	{
		char spaced[PATH_MAX], escaped[PATH_MAX];

		snprintf(spaced, sizeof(spaced), "%s/my cg", base);
		snprintf(escaped, sizeof(escaped), "%s/my\\040cg", base);
		CHECK(mkdir(spaced, 0755) == 0);
		snprintf(text, sizeof(text), "27 24 0:25 / %s rw shared:7 - cgroup2 cgroup2 rw\n",
			 escaped);
		CHECK(write_file(mi, text) == 0);
		CHECK(nh_cgroupfs_init(&f, mi, "/proc") == 0);
		CHECK_STR(f.mount, spaced);
		rmdir(spaced);
	}

	snprintf(mi, sizeof(mi), "%s/no-such-mountinfo", base);
	CHECK(nh_cgroupfs_init(&f, mi, "/proc") == -ENOENT);
}

static void test_cgroupfs_pid_path(void)
{
	char path[NH_CGROUP_PATH_MAX];
	struct nh_cgroup_info info;

	CHECK(fake_proc(777, "12:memory:/kubepods/burstable/pod" UID "/" CID "\n"
			     "11:cpu,cpuacct:/kubepods/burstable/pod" UID "/" CID "\n"
			     "1:name=systemd:/kubepods/burstable/pod" UID "/" CID "\n"
			     "0::/kubepods/burstable/pod" UID "/" CID "\n") == 0);
	CHECK(nh_cgroupfs_pid_path(&fs, 777, path, sizeof(path)) == 0);
	CHECK_STR(path, "/kubepods/burstable/pod" UID "/" CID);
	CHECK(nh_cgpath_parse(path, &info) == 0);
	CHECK(info.kind == NH_CG_K8S_POD);
	CHECK_STR(info.pod_uid, UID);
	CHECK_STR(info.container_id, CID);

	/* the v2 line need not be last, nor end in a newline */
	CHECK(fake_proc(778, "0::/system.slice/cron.service\n5:pids:/system.slice\n") == 0);
	CHECK(nh_cgroupfs_pid_path(&fs, 778, path, sizeof(path)) == 0);
	CHECK_STR(path, "/system.slice/cron.service");
	CHECK(fake_proc(779, "3:cpu:/x\n0::/") == 0);
	CHECK(nh_cgroupfs_pid_path(&fs, 779, path, sizeof(path)) == 0);
	CHECK_STR(path, "/");

	/* v1 only: nothing to report */
	CHECK(fake_proc(780, "12:memory:/a\n1:name=systemd:/a\n") == 0);
	CHECK(nh_cgroupfs_pid_path(&fs, 780, path, sizeof(path)) == -ENOENT);
	/* gone */
	CHECK(nh_cgroupfs_pid_path(&fs, 781, path, sizeof(path)) == -ENOENT);
	/* does not fit */
	CHECK(nh_cgroupfs_pid_path(&fs, 778, path, 8) == -ENAMETOOLONG);

	/* In a cgroup namespace: paths relative to its root, resolved. */
	CHECK(fake_proc(782, "0::/../../kubepods/burstable/pod" UID "/" CID "\n") == 0);
	snprintf(fs.nsroot, sizeof(fs.nsroot), "/system.slice/containerd.service/agent");
	CHECK(nh_cgroupfs_pid_path(&fs, 782, path, sizeof(path)) == 0);
	CHECK_STR(path, "/system.slice/kubepods/burstable/pod" UID "/" CID);
	CHECK(nh_cgroupfs_pid_path(&fs, 779, path, sizeof(path)) == 0);
	CHECK_STR(path, "/system.slice/containerd.service/agent");
	fs.nsroot[0] = '\0';
	CHECK(nh_cgroupfs_join("/a/b", "../../../../x/./y", path, sizeof(path)) == 0);
	CHECK_STR(path, "/x/y"); /* never above the root */
	CHECK(nh_cgroupfs_join("/", "/", path, sizeof(path)) == 0);
	CHECK_STR(path, "/");
	CHECK(nh_cgroupfs_join("/a", "..", path, sizeof(path)) == 0);
	CHECK_STR(path, "/");
	CHECK(nh_cgroupfs_join("/abc", "/def", path, 6) == -ENAMETOOLONG);
}

static void test_cgroupfs_ids(void)
{
	char path[NH_CGROUP_PATH_MAX], chain[NH_CGROUP_PATH_MAX];
	uint64_t id = 0;
	size_t n = 0;

	CHECK(nh_cgroupfs_path_id(&fs, P_NGINX, &id) == 0);
	CHECK(id != 0 && id == ino_of(P_NGINX));
	CHECK(nh_cgroupfs_path_id(&fs, "/system.slice/absent.service", &id) == -ENOENT);

	CHECK(nh_cgroupfs_find_id(&fs, ino_of(P_DOCKER), path, sizeof(path)) == 0);
	CHECK_STR(path, P_DOCKER);
	CHECK(nh_cgroupfs_find_id(&fs, ino_of(""), path, sizeof(path)) == 0);
	CHECK_STR(path, "/");
	CHECK(nh_cgroupfs_find_id(&fs, ino_of("/cgroup.procs"), path, sizeof(path)) == -ENOENT);
	CHECK_STR(path, "");
	/* the path of the match does not fit */
	CHECK(nh_cgroupfs_find_id(&fs, ino_of(P_DOCKER), path, 12) == -ENOENT);

	/* depth: 16 levels are searched, 40 are not */
	for (int d = 0; d < 40; d++)
		n += (size_t)snprintf(chain + n, sizeof(chain) - n, "/d%d", d);
	CHECK(mkdirs(cgroot, chain) == 0);
	n = 0;
	for (int d = 0; d < 16; d++)
		n += (size_t)snprintf(path + n, sizeof(path) - n, "/d%d", d);
	CHECK(nh_cgroupfs_find_id(&fs, ino_of(path), chain, sizeof(chain)) == 0);
	CHECK_STR(chain, path);
	n = 0;
	for (int d = 0; d < 40; d++)
		n += (size_t)snprintf(path + n, sizeof(path) - n, "/d%d", d);
	CHECK(ino_of(path) != 0);
	CHECK(nh_cgroupfs_find_id(&fs, ino_of(path), chain, sizeof(chain)) == -ENOENT);
}

/* Look up by id with no process, expecting a walk. */
static const struct nh_cgroup_ctx *walk_lookup(struct nh_identities *ids, const char *rel)
{
	uint64_t walked = ids->walked, resolved = ids->resolved;
	const struct nh_cgroup_ctx *cg = nh_identity_cgroup(ids, ino_of(rel), 0);

	CHECK(cg != NULL);
	CHECK(ids->walked == walked + 1);
	CHECK(ids->resolved == resolved);
	if (!cg)
		return NULL;
	CHECK(cg->found);
	CHECK(cg->id == ino_of(rel));
	CHECK_STR(cg->path, rel);
	return cg;
}

static void expect_key(struct nh_identities *ids, const struct nh_cgroup_ctx *cg, uint32_t uid,
		       const char *want)
{
	char key[NH_IDENTITY_KEY_MAX];

	memset(key, 'x', sizeof(key));
	CHECK(nh_identity_key(ids, cg, uid, key, sizeof(key)) == 0);
	CHECK_STR(key, want);
}

static void test_lookup_kinds(void)
{
	char want[NH_IDENTITY_KEY_MAX], key[8];
	const uint32_t nobody = nameless_uid();
	const struct nh_cgroup_ctx *cg;
	struct nh_identities ids;

	CHECK(nh_identities_init(&ids, &fs, 64) == 0);

	cg = walk_lookup(&ids, P_POD);
	if (cg) {
		CHECK(cg->info.kind == NH_CG_K8S_POD);
		CHECK(cg->info.qos == NH_QOS_BURSTABLE);
		CHECK(cg->info.runtime == NH_RT_CONTAINERD);
		CHECK_STR(cg->info.pod_uid, UID);
		CHECK_STR(cg->info.container_id, CID);
		expect_key(&ids, cg, 0, "k8s:pod/" UID);
		/* the pod wins over the uid */
		expect_key(&ids, cg, nobody, "k8s:pod/" UID);
		CHECK(nh_identity_key(&ids, cg, 0, key, sizeof(key)) == -ENAMETOOLONG);
	}

	cg = walk_lookup(&ids, P_DOCKER);
	if (cg) {
		CHECK(cg->info.kind == NH_CG_CONTAINER);
		CHECK(cg->info.runtime == NH_RT_DOCKER);
		CHECK_STR(cg->info.container_id, CID2);
		expect_key(&ids, cg, 1000, "container:fedcba987654");
	}

	cg = walk_lookup(&ids, P_NGINX);
	if (cg) {
		CHECK(cg->info.kind == NH_CG_UNIT);
		CHECK(!cg->info.user_unit);
		CHECK_STR(cg->info.unit, "nginx.service");
		expect_key(&ids, cg, 33, "unit:nginx.service");
	}

	cg = walk_lookup(&ids, P_USERUNIT);
	if (cg) {
		CHECK(cg->info.kind == NH_CG_UNIT);
		CHECK(cg->info.user_unit);
		CHECK_STR(cg->info.unit, "foo.service");
		expect_key(&ids, cg, 1000, "unit:user@1000/foo.service");
	}

	/* a login session says nothing: the uid is the identity */
	cg = walk_lookup(&ids, P_SESSION);
	if (cg) {
		CHECK(cg->info.kind == NH_CG_NONE);
		expect_key(&ids, cg, 0, "user:root");
		snprintf(want, sizeof(want), "user:%u", nobody);
		expect_key(&ids, cg, nobody, want);
	}

	/* found, but the name does not parse: no context, still an identity */
	cg = walk_lookup(&ids, P_BADPOD);
	if (cg) {
		CHECK(cg->info.kind == NH_CG_NONE);
		CHECK_STR(cg->info.pod_uid, "");
		expect_key(&ids, cg, 0, "user:root");
	}

	/* the root of the hierarchy */
	cg = walk_lookup(&ids, "/");
	if (cg)
		CHECK(cg->info.kind == NH_CG_NONE);

	CHECK(ids.cgroups.len == 7);
	CHECK(ids.unresolved == 0);
	nh_identities_free(&ids);
}

static void test_cache(void)
{
	const uint64_t pod = ino_of(P_POD), ghost = ino_of("/cgroup.procs");
	const uint32_t nobody = nameless_uid();
	const struct nh_cgroup_ctx *cg, *again;
	struct nh_identities ids;
	char want[NH_IDENTITY_KEY_MAX];

	CHECK(nh_identities_init(&ids, &fs, 64) == 0);
	cg = walk_lookup(&ids, P_POD);
	again = nh_identity_cgroup(&ids, pod, 0);
	CHECK(again == cg);
	CHECK(ids.walked == 1 && ids.resolved == 0 && ids.unresolved == 0);
	CHECK(ids.cgroups.len == 1);
	/* a hit does not look at the process either */
	again = nh_identity_cgroup(&ids, pod, 781);
	CHECK(again == cg);
	CHECK(ids.walked == 1 && ids.resolved == 0 && ids.unresolved == 0);

	CHECK(nh_identity_forget(&ids, pod));
	CHECK(ids.evicted == 1);
	CHECK(ids.cgroups.len == 0);
	CHECK(!nh_identity_forget(&ids, pod));
	CHECK(ids.evicted == 1);
	/* forgotten means resolved afresh */
	cg = walk_lookup(&ids, P_POD);
	if (cg)
		CHECK_STR(cg->info.pod_uid, UID);

	/* an id that is no cgroup: cached as not found, keyed by uid */
	cg = nh_identity_cgroup(&ids, ghost, 0);
	CHECK(cg != NULL);
	CHECK(ids.unresolved == 1);
	CHECK(ids.walked == 2);
	if (cg) {
		CHECK(!cg->found);
		CHECK(cg->id == ghost);
		CHECK_STR(cg->path, "");
		CHECK(cg->info.kind == NH_CG_NONE);
		expect_key(&ids, cg, 0, "user:root");
		snprintf(want, sizeof(want), "user:%u", nobody);
		expect_key(&ids, cg, nobody, want);
	}
	again = nh_identity_cgroup(&ids, ghost, 0);
	CHECK(again == cg);
	CHECK(ids.unresolved == 1 && ids.walked == 2);
	CHECK(nh_identity_forget(&ids, ghost));

	/* a removed cgroup: cached until forgotten, then not found */
	CHECK(mkdirs(cgroot, "/system.slice/gone.service") == 0);
	cg = walk_lookup(&ids, "/system.slice/gone.service");
	{
		char path[PATH_MAX * 2];
		uint64_t gone = ino_of("/system.slice/gone.service");

		snprintf(path, sizeof(path), "%s/system.slice/gone.service", cgroot);
		CHECK(rmdir(path) == 0);
		again = nh_identity_cgroup(&ids, gone, 0);
		CHECK(again == cg);
		if (again)
			CHECK(again->found && again->info.kind == NH_CG_UNIT);
		CHECK(nh_identity_forget(&ids, gone));
		again = nh_identity_cgroup(&ids, gone, 0);
		CHECK(again != NULL && !again->found);
		CHECK(ids.unresolved == 2);
	}
	nh_identities_free(&ids);
}

static void test_proc_fast_path(void)
{
	const uint64_t nginx = ino_of(P_NGINX);
	const struct nh_cgroup_ctx *cg;
	struct nh_identities ids;

	/* the process is still in its cgroup: no walk */
	CHECK(fake_proc(4242, "1:name=systemd:/system.slice/nginx.service\n"
			      "0::" P_NGINX "\n") == 0);
	CHECK(nh_identities_init(&ids, &fs, 64) == 0);
	cg = nh_identity_cgroup(&ids, nginx, 4242);
	CHECK(cg != NULL);
	CHECK(ids.resolved == 1 && ids.walked == 0 && ids.unresolved == 0);
	if (cg) {
		CHECK(cg->found);
		CHECK_STR(cg->path, P_NGINX);
		CHECK(cg->info.kind == NH_CG_UNIT);
	}
	nh_identities_free(&ids);

	/* the process moved on: its current cgroup is not the event's */
	CHECK(fake_proc(4243, "0::" P_DOCKER "\n") == 0);
	CHECK(nh_identities_init(&ids, &fs, 64) == 0);
	cg = nh_identity_cgroup(&ids, nginx, 4243);
	CHECK(cg != NULL);
	CHECK(ids.resolved == 0 && ids.walked == 1);
	if (cg) {
		CHECK_STR(cg->path, P_NGINX);
		CHECK(cg->info.kind == NH_CG_UNIT);
	}
	nh_identities_free(&ids);

	/* the process is gone, or names a cgroup that is gone */
	CHECK(fake_proc(4244, "0::/system.slice/vanished.service (deleted)\n") == 0);
	CHECK(nh_identities_init(&ids, &fs, 64) == 0);
	cg = nh_identity_cgroup(&ids, nginx, 4299);
	CHECK(cg != NULL && cg->found);
	cg = nh_identity_cgroup(&ids, ino_of(P_DOCKER), 4244);
	CHECK(cg != NULL && cg->found);
	if (cg)
		CHECK_STR(cg->path, P_DOCKER);
	CHECK(ids.resolved == 0 && ids.walked == 2);
	nh_identities_free(&ids);
}

static void test_bounded(void)
{
	static const char *const order[] = {P_POD, P_NGINX, P_DOCKER, P_POD, P_SESSION, P_NGINX};
	const struct nh_cgroup_ctx *cg;
	struct nh_identities ids;
	bool len_ok = true;

	CHECK(nh_identities_init(&ids, &fs, 2) == 0);
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		cg = nh_identity_cgroup(&ids, ino_of(order[i]), 0);
		len_ok &= ids.cgroups.len <= 2;
		CHECK(cg != NULL);
		if (!cg)
			continue;
		CHECK(cg->found);
		CHECK(cg->id == ino_of(order[i]));
		CHECK_STR(cg->path, order[i]);
	}
	CHECK(len_ok);
	CHECK(ids.cgroups.len == 2);
	CHECK(ids.evicted >= 1);
	/* the newest entry is cached: looking it up again is free */
	{
		uint64_t walked = ids.walked;

		cg = nh_identity_cgroup(&ids, ino_of(P_NGINX), 0);
		CHECK(cg != NULL && cg->info.kind == NH_CG_UNIT);
		CHECK(ids.walked == walked);
	}
	nh_identities_free(&ids);
}

static void test_users_and_note(void)
{
	const uint32_t nobody = nameless_uid();
	const struct nh_identity_seen *s;
	struct nh_identities ids;
	const char *root;

	CHECK(nh_identities_init(&ids, &fs, 64) == 0);
	root = nh_identity_user(&ids, 0);
	CHECK_STR(root, "root");
	CHECK(nh_identity_user(&ids, 0) == root);
	CHECK(nh_identity_user(&ids, nobody) == NULL);
	CHECK(nh_identity_user(&ids, nobody) == NULL);
	CHECK(ids.users.len == 2);

	nh_identity_note(&ids, "user:root", 10);
	nh_identity_note(&ids, "unit:nginx.service", 15);
	nh_identity_note(&ids, "user:root", 20);
	nh_identity_note(&ids, "user:root", 30);
	CHECK(ids.seen.len == 2);

	s = nh_u64map_get(&ids.seen, nh_hash_str("user:root"));
	CHECK(s != NULL);
	if (s) {
		CHECK_STR(s->key, "user:root");
		CHECK(s->events == 3);
		CHECK(s->first_ns == 10);
		CHECK(s->last_ns == 30);
	}
	s = nh_u64map_get(&ids.seen, nh_hash_str("unit:nginx.service"));
	CHECK(s != NULL);
	if (s) {
		CHECK_STR(s->key, "unit:nginx.service");
		CHECK(s->events == 1);
		CHECK(s->first_ns == 15 && s->last_ns == 15);
	}
	CHECK(nh_u64map_get(&ids.seen, nh_hash_str("user:nobody")) == NULL);
	nh_identities_free(&ids);
}

/* A pod-shaped path inside a subtree delegated to a user (a directory not
 * owned by root) is not trusted: the identity falls back to the uid. */
static void test_delegated_subtree(void)
{
	char dir[PATH_MAX * 2];
	const struct nh_cgroup_ctx *cg;
	struct nh_identities ids;
	const char *rel = "/user.slice/delegated" P_POD;

	CHECK(mkdirs(cgroot, rel) == 0);
	snprintf(dir, sizeof(dir), "%s/user.slice/delegated", cgroot);
	CHECK(chown(dir, 65534, 65534) == 0);
	CHECK(nh_cgroupfs_root_owned(&fs, rel) == 0);
	CHECK(nh_cgroupfs_root_owned(&fs, P_POD) == 1);
	CHECK(nh_identities_init(&ids, &fs, 64) == 0);
	cg = walk_lookup(&ids, rel);
	if (cg) {
		CHECK(cg->delegated);
		CHECK(cg->info.kind == NH_CG_NONE);
		CHECK(cg->info.pod_uid[0] == '\0');
		expect_key(&ids, cg, 0, "user:root");
	}
	/* the same shape owned by root all the way is a pod */
	cg = walk_lookup(&ids, P_POD);
	if (cg) {
		CHECK(!cg->delegated);
		CHECK(cg->info.kind == NH_CG_K8S_POD);
	}
	nh_identities_free(&ids);
}

int main(void)
{
	if (!setup()) {
		fprintf(stderr, "cannot build the fake cgroup tree under %s\n", base);
		rm_rf(base);
		CHECK(0);
		return nh_check_report("identity");
	}
	CHECK(nh_cgroupfs_init_at(&fs, cgroot, procroot) == 0);

	test_cgroupfs_init_at();
	test_cgroupfs_init_mountinfo();
	test_cgroupfs_pid_path();
	test_cgroupfs_ids();
	test_lookup_kinds();
	test_cache();
	test_proc_fast_path();
	test_bounded();
	test_users_and_note();
	test_delegated_subtree();

	rm_rf(base);
	CHECK(access(base, F_OK) != 0);
	return nh_check_report("identity");
}
