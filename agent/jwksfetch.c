// SPDX-License-Identifier: Apache-2.0
#include "jwksfetch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One fetch and parse, outside the lock. */
static void fetch(struct nh_jwksfetch *f)
{
	struct nh_jwks keys = {0};
	const char *why = NULL;
	char error[NH_KUBELET_ERROR_MAX] = "";
	char *body = NULL;
	size_t len = 0;
	int err;

	err = nh_kubelet_fetch(&f->http, &body, &len);
	if (err) {
		snprintf(error, sizeof(error), "%s", f->http.error);
	} else {
		err = nh_jwks_parse(body ? body : "", len, &keys, &why);
		if (err)
			snprintf(error, sizeof(error), "%s: %s", f->http.url, why);
	}
	free(body);
	pthread_mutex_lock(&f->mu);
	f->fetches++;
	if (err) {
		f->failures++;
		f->err = err;
		memcpy(f->error, error, sizeof(error));
	} else {
		nh_jwks_free(&f->result);
		f->result = keys;
		f->ready = true;
		f->err = 0;
	}
	pthread_mutex_unlock(&f->mu);
}

static void *run(void *arg)
{
	struct nh_jwksfetch *f = arg;

	pthread_mutex_lock(&f->mu);
	for (;;) {
		while (!f->want && !f->stop)
			pthread_cond_wait(&f->cv, &f->mu);
		if (f->stop)
			break;
		f->want = false;
		pthread_mutex_unlock(&f->mu);
		fetch(f);
		pthread_mutex_lock(&f->mu);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

int nh_jwksfetch_start(struct nh_jwksfetch *f, const struct nh_kubelet_conf *conf)
{
	int err;

	memset(f, 0, sizeof(*f));
	err = nh_kubelet_init(&f->http, conf);
	if (err) {
		snprintf(f->error, sizeof(f->error), "%s", f->http.error);
		return err;
	}
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	err = -pthread_create(&f->thread, NULL, run, f);
	if (err) {
		snprintf(f->error, sizeof(f->error), "cannot start the key fetcher: %s",
			 strerror(-err));
		pthread_cond_destroy(&f->cv);
		pthread_mutex_destroy(&f->mu);
		nh_kubelet_free(&f->http);
		return err;
	}
	f->started = true;
	return 0;
}

void nh_jwksfetch_request(struct nh_jwksfetch *f)
{
	if (!f->started)
		return;
	pthread_mutex_lock(&f->mu);
	f->want = true;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

int nh_jwksfetch_take(struct nh_jwksfetch *f, struct nh_jwks *out, char *why, size_t len)
{
	int r = 0;

	if (!f->started)
		return 0;
	pthread_mutex_lock(&f->mu);
	if (f->ready) {
		*out = f->result;
		memset(&f->result, 0, sizeof(f->result));
		f->ready = false;
		r = 1;
	} else if (f->err) {
		snprintf(why, len, "%s", f->error);
		r = f->err;
		f->err = 0;
	}
	pthread_mutex_unlock(&f->mu);
	return r;
}

void nh_jwksfetch_stop(struct nh_jwksfetch *f)
{
	if (!f->started)
		return;
	pthread_mutex_lock(&f->mu);
	f->stop = true;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->thread, NULL);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	nh_jwks_free(&f->result);
	nh_kubelet_free(&f->http);
	f->started = false;
}
