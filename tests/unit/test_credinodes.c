// SPDX-License-Identifier: Apache-2.0
/* credinodes against real files in a temporary directory, with the kernel
 * map replaced by a table here (the integration tests use the real one). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "credinodes.h"
#include "worker.h"

#define MAP_MAX 64

struct fake_map {
	struct nh_inode_key key[MAP_MAX];
	struct nh_inode_val val[MAP_MAX];
	int n;
	int learns;
	uint64_t bits[NH_CRED_FILTER_WORDS];
	int filters;
};

static void fake_filter(void *ctx, const uint64_t *bits)
{
	struct fake_map *m = ctx;

	memcpy(m->bits, bits, sizeof(m->bits));
	m->filters++;
}

/* The kernel's filter after a scan: every key's bit, and no other. */
static int filter_exact(const struct fake_map *m)
{
	uint64_t want[NH_CRED_FILTER_WORDS] = {0};

	for (int i = 0; i < m->n; i++) {
		uint32_t b = nh_cred_filter_bit(m->key[i].ino, m->key[i].dev);

		want[b >> 6] |= 1ULL << (b & 63);
	}
	return m->filters > 0 && memcmp(want, m->bits, sizeof(want)) == 0;
}

static int fake_learn(void *ctx, int fd, struct nh_inode_key *key)
{
	struct fake_map *m = ctx;
	struct stat st;

	if (fstat(fd, &st) != 0)
		return -errno;
	m->learns++;
	memset(key, 0, sizeof(*key));
	key->dev = (uint32_t)st.st_dev;
	key->ino = st.st_ino;
	return 0;
}

static int find(const struct fake_map *m, const struct nh_inode_key *key)
{
	for (int i = 0; i < m->n; i++)
		if (memcmp(&m->key[i], key, sizeof(*key)) == 0)
			return i;
	return -1;
}

static int fake_put(void *ctx, const struct nh_inode_key *key, const struct nh_inode_val *val)
{
	struct fake_map *m = ctx;
	int i = find(m, key);

	if (i < 0) {
		if (m->n >= MAP_MAX)
			return -E2BIG;
		i = m->n++;
	}
	m->key[i] = *key;
	m->val[i] = *val;
	return 0;
}

static int fake_del(void *ctx, const struct nh_inode_key *key)
{
	struct fake_map *m = ctx;
	int i = find(m, key);

	if (i < 0)
		return 0;
	m->key[i] = m->key[m->n - 1];
	m->val[i] = m->val[m->n - 1];
	m->n--;
	return 0;
}

static const struct nh_inode_val *lookup(const struct fake_map *m, const char *path)
{
	struct nh_inode_key k = {0};
	struct stat st;
	int i;

	if (stat(path, &st) != 0)
		return NULL;
	k.dev = (uint32_t)st.st_dev;
	k.ino = st.st_ino;
	i = find(m, &k);
	return i < 0 ? NULL : &m->val[i];
}

static void put_file(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs("not a secret\n", f);
		fclose(f);
	}
}

static void test_scan(void)
{
	char dir[] = "/tmp/nh-credinodes-XXXXXX", p[512], q[512], rule[600];
	struct fake_map m = {0};
	struct nh_credinodes_ops ops = {fake_learn, fake_put, fake_del, &m, fake_filter};
	struct nh_catalogue *cat = calloc(1, sizeof(*cat));
	struct nh_credinodes c;
	const struct nh_inode_val *v;
	const struct nh_credinode *e;
	uint32_t old_id;
	uint64_t files;
	int n;

	if (!cat || !mkdtemp(dir)) {
		CHECK(0);
		free(cat);
		return;
	}
	CHECK(nh_catalogue_init(cat) == 0);
	snprintf(rule, sizeof(rule), "!ssh_private_key=%s/keys/id_*.pub", dir);
	CHECK(nh_catalogue_add_path(cat, rule, NULL) == 0);
	snprintf(rule, sizeof(rule), "ssh_private_key=%s/keys/id_*", dir);
	CHECK(nh_catalogue_add_path(cat, rule, NULL) == 0);
	snprintf(p, sizeof(p), "%s/keys", dir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/keys/id_a", dir);
	put_file(p);
	snprintf(q, sizeof(q), "%s/keys/id_a.pub", dir); /* excluded */
	put_file(q);
	snprintf(q, sizeof(q), "%s/keys/id_link", dir); /* a symlink is not followed */
	CHECK(symlink("/etc/passwd", q) == 0);

	/* a kubelet root with one pod's service-account volume */
	snprintf(q, sizeof(q), "%s/kubelet/pods/uid-1/volumes/kubernetes.io~projected", dir);
	CHECK(system(NULL) != 0);
	{
		char cmd[2048];

		snprintf(
		    cmd, sizeof(cmd),
		    "mkdir -p %s/kube-api-access-x/..2026 %s/other && cd %s/kube-api-access-x "
		    "&& echo t > ..2026/token && ln -s ..2026 ..data && ln -s ..data/token token",
		    q, q, q);
		CHECK(system(cmd) == 0);
	}
	snprintf(rule, sizeof(rule), "%s/kubelet", dir);
	CHECK(nh_credinodes_init(&c, &ops, rule,
				 "/var/run/secrets/kubernetes.io/serviceaccount/token") == 0);
	CHECK(nh_credinodes_scan(&c, cat, 1000, 1700000000) == 0);
	CHECK(filter_exact(&m));

	/* the host key, by its canonical name */
	v = lookup(&m, p);
	CHECK(v && v->kind == NH_INODE_CRED_FILE);
	e = v ? nh_credinodes_get(&c, v->id) : NULL;
	CHECK(e && strcmp(e->name, p) == 0 && strcmp(e->cred_kind, "ssh_private_key") == 0);
	CHECK(e && !e->pod_uid[0]);
	snprintf(q, sizeof(q), "%s/keys/id_a.pub", dir);
	CHECK(lookup(&m, q) == NULL);
	CHECK(lookup(&m, "/etc/passwd") == NULL);

	/* the token, its volume (by name) and the volume's device marker */
	snprintf(q, sizeof(q),
		 "%s/kubelet/pods/uid-1/volumes/kubernetes.io~projected/"
		 "kube-api-access-x/..2026/token",
		 dir);
	v = lookup(&m, q);
	CHECK(v && v->kind == NH_INODE_CRED_FILE);
	e = v ? nh_credinodes_get(&c, v->id) : NULL;
	CHECK(e && strcmp(e->pod_uid, "uid-1") == 0);
	CHECK(e && strcmp(e->name, "/var/run/secrets/kubernetes.io/serviceaccount/token") == 0);
	CHECK(e && strstr(e->host, "/pods/uid-1/volumes/kubernetes.io~projected/kube-api-access-x/"
				   "token") != NULL);
	CHECK(e && strcmp(nh_credinode_name(e, "uid-1"), e->name) == 0);
	CHECK(e && strcmp(nh_credinode_name(e, "uid-2"), e->host) == 0);
	CHECK(e && strcmp(nh_credinode_name(e, NULL), e->host) == 0);
	snprintf(q, sizeof(q),
		 "%s/kubelet/pods/uid-1/volumes/kubernetes.io~projected/"
		 "kube-api-access-x",
		 dir);
	v = lookup(&m, q);
	CHECK(v && v->kind == NH_INODE_CRED_VOLUME && strcmp(v->name, "token") == 0);
	{
		struct stat st;
		struct nh_inode_key k = {0};

		CHECK(stat(q, &st) == 0);
		k.dev = (uint32_t)st.st_dev;
		CHECK(find(&m, &k) >= 0 && m.val[find(&m, &k)].kind == NH_INODE_DEVICE);
	}
	snprintf(q, sizeof(q), "%s/kubelet/pods/uid-1/volumes/kubernetes.io~projected/other", dir);
	CHECK(lookup(&m, q) == NULL); /* no token: not a token volume */
	/* (this machine's own keys are found too) */
	CHECK(c.files >= 2 && c.volumes == 1);
	files = c.files;
	n = m.n;

	/* a second scan changes nothing, ids stay */
	v = lookup(&m, p);
	old_id = v ? v->id : 0;
	CHECK(nh_credinodes_scan(&c, cat, 2000, 1700000000) == 0);
	v = lookup(&m, p);
	CHECK(v && v->id == old_id);
	CHECK(m.n == n && c.files == files);

	/* the key goes: out of the map at once, its entry kept a while for
	 * events still in flight, then freed */
	unlink(p);
	CHECK(nh_credinodes_scan(&c, cat, 3000, 1700000000) == 0);
	CHECK(m.n == n - 1);
	CHECK(filter_exact(&m)); /* the gone key's bit is cleared */
	e = nh_credinodes_get(&c, old_id);
	CHECK(e && e->gone_ns == 3000);
	CHECK(nh_credinodes_scan(&c, cat, 3000 + NH_CREDINODES_KEEP_NS + 1, 1700000000) == 0);
	CHECK(nh_credinodes_get(&c, old_id) == NULL);
	CHECK(c.files == files - 1);

	/* The kubelet rotates the token (new directory, ..data swapped, the
	 * old directory removed) while a hard link keeps the old inode: the
	 * old token stays matched until it expires (no readable exp claim
	 * here: the default window), the new one is matched too. */
	snprintf(q, sizeof(q), "%s/kubelet/pods/uid-1/volumes/kubernetes.io~projected", dir);
	{
		char cmd[2048], old[600], tok[1100];

		snprintf(old, sizeof(old), "%s/old-token-link", dir);
		snprintf(
		    cmd, sizeof(cmd),
		    "cd %s/kube-api-access-x && ln ..2026/token %s && mkdir ..2027 && "
		    "echo u > ..2027/token && ln -s ..2027 ..data_tmp && mv -T ..data_tmp ..data "
		    "&& rm -r ..2026",
		    q, old);
		CHECK(system(cmd) == 0);
		CHECK(nh_credinodes_scan(&c, cat, 4000, 1700000000) == 0);
		v = lookup(&m, old);
		CHECK(v && v->kind == NH_INODE_CRED_FILE);
		e = v ? nh_credinodes_get(&c, v->id) : NULL;
		CHECK(e && e->rotated_ns == 4000 && strcmp(e->pod_uid, "uid-1") == 0);
		CHECK(c.rotated == 1 && c.volumes == 1);
		CHECK(filter_exact(&m));
		snprintf(tok, sizeof(tok), "%s/kube-api-access-x/..2027/token", q);
		v = lookup(&m, tok);
		CHECK(v && v->kind == NH_INODE_CRED_FILE);
		/* expired: out */
		CHECK(nh_credinodes_scan(&c, cat, 4000 + NH_CREDINODES_ROTATED_DEFAULT_NS,
					 1700000000) == 0);
		CHECK(lookup(&m, old) == NULL && c.rotated == 0);
		CHECK(lookup(&m, tok) != NULL);
		unlink(old);
	}

	nh_credinodes_free(&c);
	CHECK(m.n == 0); /* free empties the kernel map */
	nh_catalogue_free(cat);
	free(cat);
	snprintf(rule, sizeof(rule), "rm -rf %s", dir);
	CHECK(system(rule) == 0);
}

static void test_patterns(void)
{
	struct nh_catalogue *cat = calloc(1, sizeof(*cat));
	unsigned int it = 0, n = 0, rel = 0;
	const char *p;
	bool anchored;

	if (!cat) {
		CHECK(0);
		return;
	}
	CHECK(nh_catalogue_init(cat) == 0);
	CHECK(nh_catalogue_add_path(cat, "vault_token=/etc/vault/token", NULL) == 0);
	CHECK(nh_catalogue_add_path(cat, "!tls_private_key=/opt/app/testdata/", NULL) == 0);
	CHECK(nh_catalogue_add_path(cat, "tls_private_key=/srv/keys/", NULL) == 0);
	p = nh_catalogue_next_file_pattern(cat, &it, &anchored);
	CHECK_STR(p, "/etc/vault/token"); /* configured first; exclusions and subtrees skipped */
	CHECK(anchored);
	while ((p = nh_catalogue_next_file_pattern(cat, &it, &anchored))) {
		n++;
		rel += !anchored;
		CHECK(p[0] != '!' && strcmp(p, "/srv/keys") != 0);
	}
	CHECK(n > 20 && rel > 10);
	free(cat);
}

/* A job that holds the worker's only thread until its pipe is written. */
struct gate {
	struct nh_job job;
	int rd;
};

static void gate_run(struct nh_job *j)
{
	char ch;

	CHECK(read(((struct gate *)j)->rd, &ch, 1) == 1);
}

static void gate_done(void *owner, struct nh_job *j)
{
	(void)owner;
	(void)j;
}

/* With a worker the walk is handed out: the scan returns at once, a scan
 * while one is out is skipped, and the table and map change when the walk
 * is back. */
static void test_scan_on_worker(void)
{
	char dir[] = "/tmp/nh-credinodes-XXXXXX", p[512], rule[600];
	struct fake_map m = {0};
	struct nh_credinodes_ops ops = {fake_learn, fake_put, fake_del, &m, fake_filter};
	struct nh_catalogue *cat = calloc(1, sizeof(*cat));
	struct gate g = {.job = {.key = 1, .run = gate_run, .done = gate_done}};
	struct nh_credinodes c;
	struct nh_worker w;
	int pfd[2];

	if (!cat || !mkdtemp(dir) || pipe(pfd) != 0) {
		CHECK(0);
		free(cat);
		return;
	}
	g.rd = pfd[0];
	CHECK(nh_catalogue_init(cat) == 0);
	snprintf(rule, sizeof(rule), "vault_token=%s/token", dir);
	CHECK(nh_catalogue_add_path(cat, rule, NULL) == 0);
	snprintf(p, sizeof(p), "%s/token", dir);
	put_file(p);
	CHECK(nh_worker_init(&w, 1, 60000000000ULL, 8) == 0);
	CHECK(nh_credinodes_init(&c, &ops, "",
				 "/var/run/secrets/kubernetes.io/serviceaccount/token") == 0);
	c.worker = &w;
	CHECK(nh_worker_submit(&w, &g.job) == 0); /* the only thread is busy */
	CHECK(nh_credinodes_scan(&c, cat, 1000, 1700000000) == 0);
	CHECK(m.n == 0 && c.scans == 0); /* out, not applied */
	CHECK(nh_credinodes_scan(&c, cat, 1000, 1700000000) == 0);
	CHECK(c.scans_skipped == 1);
	CHECK(write(pfd[1], "x", 1) == 1);
	CHECK(nh_worker_wait(&w, (uint64_t)(uintptr_t)&c, 10000000000ULL));
	CHECK(c.scans == 1 && c.files == 1);
	CHECK(lookup(&m, p) != NULL);
	nh_worker_free(&w);
	c.worker = NULL;
	nh_credinodes_free(&c);
	nh_catalogue_free(cat);
	free(cat);
	close(pfd[0]);
	close(pfd[1]);
	snprintf(rule, sizeof(rule), "rm -rf %s", dir);
	CHECK(system(rule) == 0);
}

int main(void)
{
	test_scan_on_worker();
	test_patterns();
	test_scan();
	return nh_check_report("credinodes");
}
