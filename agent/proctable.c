// SPDX-License-Identifier: Apache-2.0
#include "proctable.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int nh_proctable_init(struct nh_proctable *pt, const struct nh_cgroupfs *fs, size_t max_procs)
{
	memset(pt, 0, sizeof(*pt));
	pt->fs = fs;
	return nh_u64map_init(&pt->procs, max_procs);
}

void nh_proctable_free(struct nh_proctable *pt)
{
	size_t it = 0;
	uint64_t k;
	void *v;

	while (nh_u64map_next(&pt->procs, &it, &k, &v))
		free(v);
	nh_u64map_free(&pt->procs);
}

struct nh_proc *nh_proctable_get(struct nh_proctable *pt, uint32_t tgid)
{
	return nh_u64map_get(&pt->procs, tgid);
}

static int insert(struct nh_proctable *pt, struct nh_proc *p)
{
	void *old = NULL, *victim;
	int err;

	/* Full (lost exit events, or a huge host): an arbitrary entry makes
	 * room; it is re-read from /proc if its process shows up again. */
	err = nh_u64map_put_evict(&pt->procs, p->tgid, p, &old, &victim);
	if (victim) {
		free(victim);
		pt->full++;
	}
	free(old);
	if (err)
		free(p);
	return err;
}

/* A tick in ms: /proc counts process start times in these. */
static uint64_t tick_ms(void)
{
	long hz = sysconf(_SC_CLK_TCK);

	return hz > 0 && hz <= 1000 ? 1000 / (uint64_t)hz : 10;
}

/* ms since boot, cut to a whole tick, so that a start learned from a fork
 * event and one read from /proc later agree. */
static uint64_t start_of(uint64_t ns)
{
	uint64_t ms = ns / 1000000, t = tick_ms();

	return ms - ms % t;
}

/* starttime, stat's 22nd field, from the text after comm's ')'. */
static uint64_t stat_start_ms(const char *after_comm)
{
	unsigned long long ticks = 0;
	const char *p = after_comm;

	/* from field 2's end to field 22: 20 spaces on */
	for (int i = 0; i < 20 && p; i++) {
		p = strchr(p, ' ');
		p = p ? p + 1 : NULL;
	}
	if (!p || sscanf(p, "%llu", &ticks) != 1)
		return 0;
	return (uint64_t)ticks * tick_ms();
}

/* Fill p from /proc/<tgid>: ppid, comm and start from stat, uid from
 * status, binary from the exe link, cgroup id from the v2 path. */
static int read_proc(const struct nh_proctable *pt, uint32_t tgid, struct nh_proc *p)
{
	char file[128], buf[1024], cgpath[1024];
	char *open_paren, *close_paren;
	ssize_t n;
	FILE *f;

	memset(p, 0, sizeof(*p));
	p->tgid = tgid;
	snprintf(file, sizeof(file), "%s/%u/stat", pt->fs->proc, tgid);
	f = fopen(file, "re");
	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n > 0 ? n : 0] = '\0';
	/* comm may hold spaces and parentheses: take the last ')'. */
	open_paren = strchr(buf, '(');
	close_paren = strrchr(buf, ')');
	if (!open_paren || !close_paren || close_paren < open_paren)
		return -EBADMSG;
	snprintf(p->comm, sizeof(p->comm), "%.*s", (int)(close_paren - open_paren - 1),
		 open_paren + 1);
	if (sscanf(close_paren + 2, "%*c %u", &p->ppid) != 1)
		return -EBADMSG;
	p->start_ms = stat_start_ms(close_paren + 1);

	snprintf(file, sizeof(file), "%s/%u/status", pt->fs->proc, tgid);
	f = fopen(file, "re");
	if (f) {
		while (fgets(buf, sizeof(buf), f))
			if (sscanf(buf, "Uid: %u", &p->uid) == 1)
				break;
		fclose(f);
	}
	snprintf(file, sizeof(file), "%s/%u/exe", pt->fs->proc, tgid);
	n = readlink(file, p->exe, sizeof(p->exe) - 1);
	p->exe[n > 0 ? n : 0] = '\0';
	if (nh_cgroupfs_pid_path(pt->fs, tgid, cgpath, sizeof(cgpath)) == 0)
		nh_cgroupfs_path_id(pt->fs, cgpath, &p->cgroup_id);
	return 0;
}

/* An exec of a process the table missed: its start from /proc (0 when
 * it is gone). */
static uint64_t proc_start_ms(const struct nh_proctable *pt, uint32_t tgid)
{
	char file[128], buf[1024];
	const char *close_paren;
	ssize_t n;
	FILE *f;

	snprintf(file, sizeof(file), "%s/%u/stat", pt->fs->proc, tgid);
	f = fopen(file, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n > 0 ? n : 0] = '\0';
	close_paren = strrchr(buf, ')');
	return close_paren ? stat_start_ms(close_paren + 1) : 0;
}

int nh_proctable_seed(struct nh_proctable *pt)
{
	struct dirent *de;
	int added = 0;
	DIR *d;

	d = opendir(pt->fs->proc);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		struct nh_proc *p;
		char *end;
		unsigned long tgid = strtoul(de->d_name, &end, 10);

		if (!isdigit((unsigned char)de->d_name[0]) || *end || tgid == 0 ||
		    tgid > UINT32_MAX)
			continue;
		p = malloc(sizeof(*p));
		if (!p)
			break;
		if (read_proc(pt, tgid, p) != 0) {
			free(p); /* it exited while we looked */
			continue;
		}
		if (insert(pt, p) == 0)
			added++;
	}
	closedir(d);
	return added;
}

struct nh_proc *nh_proctable_find(struct nh_proctable *pt, uint32_t tgid)
{
	struct nh_proc *p = nh_proctable_get(pt, tgid);

	if (p || tgid == 0)
		return p;
	p = malloc(sizeof(*p));
	if (!p)
		return NULL;
	if (read_proc(pt, tgid, p) != 0) {
		free(p);
		return NULL;
	}
	return insert(pt, p) == 0 ? p : NULL; /* insert frees p on failure */
}

int nh_proctable_exec(struct nh_proctable *pt, const struct nh_exec_event *e)
{
	const struct nh_proc *old = nh_proctable_get(pt, e->h.tgid);
	struct nh_proc *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	/* The session comes from the fork (or an earlier exec); a terminal
	 * or an entered namespace begins a new one unless the process is
	 * already in a session of this same cgroup. */
	if (old) {
		p->session = old->session;
		p->session_cgroup = old->session_cgroup;
		p->start_ms = old->start_ms; /* the same process, a new image */
	} else {
		p->start_ms = proc_start_ms(pt, e->h.tgid);
	}
	if ((e->h.flags & (NH_F_TTY | NH_F_NS_ENTERED)) &&
	    (!p->session || p->session_cgroup != e->h.cgroup_id)) {
		p->session = e->h.tgid;
		p->session_cgroup = e->h.cgroup_id;
		p->session_new = true;
	}
	p->tgid = e->h.tgid;
	p->ppid = e->h.ppid;
	p->uid = e->h.uid;
	p->cgroup_id = e->h.cgroup_id;
	memcpy(p->comm, e->h.comm, sizeof(p->comm));
	p->comm[sizeof(p->comm) - 1] = '\0';
	memcpy(p->exe, e->path, e->path_len);
	p->exe[e->path_len] = '\0';
	return insert(pt, p);
}

int nh_proctable_fork(struct nh_proctable *pt, const struct nh_fork_event *e)
{
	const struct nh_proc *parent = nh_proctable_get(pt, e->h.tgid);
	struct nh_proc *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	/* A fork runs the parent's binary until it execs. */
	if (parent)
		*p = *parent;
	p->session_new = false;
	p->tgid = e->child_tgid;
	p->ppid = e->h.tgid;
	p->uid = e->h.uid;
	p->cgroup_id = e->h.cgroup_id;
	p->start_ms = start_of(e->h.ts_ns);
	memcpy(p->comm, e->h.comm, sizeof(p->comm));
	p->comm[sizeof(p->comm) - 1] = '\0';
	return insert(pt, p);
}

void nh_proctable_exit(struct nh_proctable *pt, uint32_t tgid)
{
	free(nh_u64map_del(&pt->procs, tgid));
}
