/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kubelet: the pod records of this node, fetched from the kubelet
 * (https://<node>:10250/pods) or the API server
 * (https://<host>:<port>/api/v1/pods?fieldSelector=spec.nodeName=<node>).
 * Both answer a v1 PodList; the agent looks a pod up by the UID its
 * cgroup path carries and gets its name, namespace, service account,
 * owner, workload and containers.
 *
 * Only this module knows libcurl. The agent calls nh_kubelet_global_init
 * once at start, before it starts threads, and nh_kubelet_global_cleanup
 * once at exit. A struct nh_kubelet is used by one thread at a time.
 */
#ifndef NH_KUBELET_H
#define NH_KUBELET_H

#include <stdbool.h>
#include <stddef.h>

#define NH_KUBELET_MAX_PODS	  1024 /* more in one list is -E2BIG */
#define NH_POD_MAX_CONTAINERS	  16   /* more are dropped, the record is marked truncated */
#define NH_KUBELET_TIMEOUT_MS	  2000
#define NH_KUBELET_MAX_BYTES	  (16u << 20)
#define NH_KUBELET_TOKEN_MAX	  16384 /* longest bearer token file accepted */
#define NH_KUBELET_ERROR_MAX	  512
#define NH_KUBELET_CURL_ERROR_MAX 256 /* CURL_ERROR_SIZE */

struct nh_kubelet_conf {
	const char *url;	/* full URL of the pod list, http:// or https:// */
	const char *token_path; /* bearer token file (the agent's own service-account
				 * token), NULL: none. Re-read on every fetch, since
				 * projected tokens are rotated. A token is never sent
				 * over http:// except to a loopback address. */
	const char *ca_path;	/* CA bundle for https, NULL: the system default */
	bool insecure;		/* skip TLS verification: for tests and labs only, it
				 * hands the token to whoever answers */
	long timeout_ms;	/* whole request; <= 0: NH_KUBELET_TIMEOUT_MS */
	size_t max_bytes;	/* response cap after decompression; 0: NH_KUBELET_MAX_BYTES.
				 * A larger response is an error, never a truncated parse */
};

enum nh_pod_container_role {
	NH_CTR_APP = 0,	 /* spec.containers */
	NH_CTR_INIT,	 /* spec.initContainers (sidecars included) */
	NH_CTR_EPHEMERAL /* spec.ephemeralContainers (kubectl debug) */
};

struct nh_pod_container {
	char name[254];
	char image[512];  /* as written in the spec, else as the status reports it */
	char runtime[16]; /* "containerd", "cri-o", "docker"... from containerID; "" unknown */
	char id[80];	  /* "<64 hex>" from "containerd://<64 hex>"; "" not started */
	enum nh_pod_container_role role;
};

/*
 * Every string is NUL-terminated; absent or non-string fields are "".
 * Control bytes in values are replaced by '?'; a value too long for its
 * field is cut (at a UTF-8 boundary) and sets truncated.
 */
struct nh_pod_record {
	char uid[64]; /* the UID the kubelet and the cgroup path use: for a mirror
		       * pod from the API server, its kubernetes.io/config.mirror
		       * hash, else metadata.uid */
	char name[254];
	char namespace_[254];
	char service_account[254];
	char node[254];
	char owner_kind[64];	/* direct controller, e.g. ReplicaSet */
	char owner_name[254];	/* e.g. web-7d4b9c8f6d */
	char workload_kind[64]; /* top workload, e.g. Deployment; else the owner; "" for
				 * a bare pod */
	char workload_name[254];
	bool static_pod; /* a kubelet static pod (or its mirror pod) */
	bool truncated;	 /* a value was cut or containers were dropped */
	size_t ncontainers;
	struct nh_pod_container containers[NH_POD_MAX_CONTAINERS];
};

/*
 * Set up with nh_kubelet_init. A zeroed struct (= {0}) is also valid for
 * nh_kubelet_parse, the lookups and nh_kubelet_free, which is what the
 * unit tests and the fuzz target use.
 */
struct nh_kubelet {
	void *curl; /* CURL *: kept between fetches so connections are reused */
	char *url;
	char *token_path;
	char *ca_path;
	bool insecure;
	long timeout_ms;
	size_t max_bytes;

	struct nh_pod_record *pods; /* the table, rebuilt whole on each refresh */
	size_t npods;
	size_t skipped; /* items of the last list accepted that had no usable uid */

	char curl_error[NH_KUBELET_CURL_ERROR_MAX];
	char error[NH_KUBELET_ERROR_MAX]; /* why the last call failed; never holds the token */
};

/* Once per process, before any thread starts; 0 or -EIO. */
int nh_kubelet_global_init(void);
void nh_kubelet_global_cleanup(void);

/*
 * Copy conf and make the curl handle. 0, or -EINVAL (bad URL, scheme other
 * than http/https, a token over http:// to a non-loopback host, a bad
 * limit), -ENOMEM, -EIO; k->error says which. Fetches nothing.
 */
int nh_kubelet_init(struct nh_kubelet *k, const struct nh_kubelet_conf *conf);
void nh_kubelet_free(struct nh_kubelet *k);

/*
 * Fetch the pod list now and replace the table. 0 or -errno with k->error
 * set: curl's message, "HTTP 403 from <url>" (-EACCES for 401/403,
 * -ENOENT for 404, -EIO for any other non-2xx: redirects are not
 * followed), "response from <url> is larger than N bytes" (-EFBIG),
 * "response is not a PodList: ..." (-EINVAL), -E2BIG for too many pods,
 * -ETIMEDOUT, -ECONNREFUSED, or the token file's errno. On error the
 * previous table is kept, so nothing already known is lost.
 */
int nh_kubelet_refresh(struct nh_kubelet *k);

/* GET the configured URL with the same rules (token, TLS, limits, no
 * redirects) and hand back the body (malloc'ed, *body owned by the caller;
 * it may be NULL when *len is 0) instead of parsing a PodList: the JWKS
 * fetcher uses it. 0 or -errno with k->error set, as nh_kubelet_refresh. */
int nh_kubelet_fetch(struct nh_kubelet *k, char **body, size_t *len);

/* The record of a pod by UID; NULL when unknown. Valid until the next
 * successful refresh or parse. */
const struct nh_pod_record *nh_kubelet_pod(const struct nh_kubelet *k, const char *uid);

/* The pod running a container, by runtime container ID (the bare id, as in
 * a cgroup path); *ctr (may be NULL) receives the container. NULL when
 * unknown. */
const struct nh_pod_record *nh_kubelet_container(const struct nh_kubelet *k, const char *id,
						 const struct nh_pod_container **ctr);

/*
 * Parse a PodList body and, on success, replace the table with it. 0;
 * -EINVAL when the body is not a PodList (not JSON, not an object, kind
 * is not "PodList", items is not an array, a NUL byte, trailing data),
 * with *why (may be NULL) set to a static reason; -E2BIG beyond
 * NH_KUBELET_MAX_PODS items; -ENOMEM. Items without a usable metadata.uid
 * are skipped and counted in k->skipped; the first of duplicate UIDs wins.
 * On error the table is unchanged.
 */
int nh_kubelet_parse(struct nh_kubelet *k, const char *body, size_t len, const char **why);

const char *nh_pod_container_role_name(enum nh_pod_container_role role);

#endif
