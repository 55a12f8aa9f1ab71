// SPDX-License-Identifier: Apache-2.0
#include "sockets.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

/* Where runtimes put their API sockets (the kubelet's come from its root). */
static const char *const runtime_paths[] = {
    "/run/docker.sock",
    "/var/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/run/containerd/containerd.sock.ttrpc",
    "/run/k3s/containerd/containerd.sock",
    "/run/crio/crio.sock",
    "/var/run/crio/crio.sock",
    "/run/podman/podman.sock",
    "/run/cri-dockerd.sock",
    "/run/dockershim.sock",
};

static const char *const kubelet_paths[] = {
    "pod-resources/kubelet.sock",
    "device-plugins/kubelet.sock",
    "plugins_registry/kubelet.sock",
};

void nh_sockets_init(struct nh_sockets *s, const char *kubelet_root)
{
	memset(s, 0, sizeof(*s));
	if (kubelet_root)
		snprintf(s->kubelet_root, sizeof(s->kubelet_root), "%s", kubelet_root);
}

static void add(struct nh_sockets *s, const char *path, const char *kind)
{
	struct nh_socket_entry *e;
	struct stat st;

	/* lstat: a symlink at a well-known path is not the runtime's socket */
	if (s->n >= NH_SOCKETS_MAX || lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode))
		return;
	for (unsigned int i = 0; i < s->n; i++)
		if (s->e[i].ino == st.st_ino &&
		    s->e[i].dev == ((uint64_t)major(st.st_dev) << 20 | minor(st.st_dev)))
			return; /* /var/run is /run: one socket */
	e = &s->e[s->n++];
	e->dev = (uint64_t)major(st.st_dev) << 20 | minor(st.st_dev);
	e->ino = st.st_ino;
	e->kind = kind;
	snprintf(e->path, sizeof(e->path), "%s", path);
}

void nh_sockets_refresh(struct nh_sockets *s, uint64_t now_ns, uint64_t max_age_ns)
{
	char path[PATH_MAX];

	if (s->refreshed_ns && max_age_ns && now_ns - s->refreshed_ns < max_age_ns)
		return;
	s->refreshed_ns = now_ns ? now_ns : 1;
	s->n = 0;
	for (size_t i = 0; i < sizeof(runtime_paths) / sizeof(runtime_paths[0]); i++)
		add(s, runtime_paths[i], "container_runtime_socket");
	if (!s->kubelet_root[0])
		return;
	for (size_t i = 0; i < sizeof(kubelet_paths) / sizeof(kubelet_paths[0]); i++)
		if (snprintf(path, sizeof(path), "%s/%s", s->kubelet_root, kubelet_paths[i]) <
		    (int)sizeof(path))
			add(s, path, "kubelet_socket");
}

const struct nh_socket_entry *nh_sockets_match(const struct nh_sockets *s, uint64_t dev,
					       uint64_t ino)
{
	if (!ino)
		return NULL;
	for (unsigned int i = 0; i < s->n; i++)
		if (s->e[i].ino == ino && s->e[i].dev == dev)
			return &s->e[i];
	return NULL;
}
