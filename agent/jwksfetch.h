/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jwksfetch: the cluster's service-account keys, fetched from the API
 * server (/openid/v1/jwks) on a thread of its own, so the event loop never
 * waits on the network. The loop asks (at start, and when a token names a
 * kid the cached set lacks) and later takes the parsed set. The HTTP rules
 * are the kubelet client's (kubelet.h): bearer token, TLS, size and time
 * limits, no redirects.
 */
#ifndef NH_JWKSFETCH_H
#define NH_JWKSFETCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "jwks.h"
#include "kubelet.h"

struct nh_jwksfetch {
	struct nh_kubelet http; /* used by the fetch thread only */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool started;
	/* under mu */
	bool want, stop, ready;
	struct nh_jwks result; /* when ready */
	int err;	       /* of the last fetch, 0 when it gave a key set */
	char error[NH_KUBELET_ERROR_MAX];
	uint64_t fetches, failures;
};

/* Start the thread; conf as for the kubelet client (url: the JWKS URL).
 * nh_kubelet_global_init must have been called. -errno with f->error. */
int nh_jwksfetch_start(struct nh_jwksfetch *f, const struct nh_kubelet_conf *conf);
/* Ask for a fetch; returns at once. */
void nh_jwksfetch_request(struct nh_jwksfetch *f);
/*
 * 1 with *out filled (ownership passes) when a fetch gave a key set since
 * the last call; -errno with why (copied, up to len) when the last fetch
 * failed and was not reported yet; 0 when there is nothing new.
 */
int nh_jwksfetch_take(struct nh_jwksfetch *f, struct nh_jwks *out, char *why, size_t len);
void nh_jwksfetch_stop(struct nh_jwksfetch *f);

#endif
