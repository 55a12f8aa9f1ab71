/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kubelet: fetch this node's PodList over HTTP(S) and keep it as a table
 * of pod records (see kubelet.h).
 *
 * The table is a plain array searched linearly: a node runs a few hundred
 * pods at most, and the agent only asks when it meets a new cgroup, which
 * it then caches. A refresh builds a whole new array and swaps it in only
 * when the fetch and the parse both succeeded.
 *
 * The bearer token is read with read(2) into a stack buffer, sent as one
 * header, and wiped (with curl's copy of the header list) right after the
 * request. It is never put in an error message. libcurl's own request
 * buffer is outside our reach; it is freed after the request.
 */
#include "kubelet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

_Static_assert(NH_KUBELET_CURL_ERROR_MAX >= CURL_ERROR_SIZE, "curl error buffer too small");

#define AUTH_PREFIX	"Authorization: Bearer "
#define AUTH_PREFIX_LEN (sizeof(AUTH_PREFIX) - 1)
#define BODY_MIN_ALLOC	(64u << 10)
#define NH_XSTR(x)	#x
#define NH_STR(x)	NH_XSTR(x)

/* Where kubelet and API server mark static pods and their mirror pods. */
#define ANN_MIRROR "kubernetes.io/config.mirror"
#define ANN_SOURCE "kubernetes.io/config.source"
#define LABEL_HASH "pod-template-hash"

static void set_error(struct nh_kubelet *k, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_error(struct nh_kubelet *k, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(k->error, sizeof(k->error), fmt, ap);
	va_end(ap);
}

/* ---- PodList parsing ---- */

/* A string member of an object, or NULL when absent or not a string. */
static const char *jstr(struct json_object *o, const char *key, size_t *len)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

static struct json_object *jmember(struct json_object *o, const char *key, enum json_type type)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, type))
		return NULL;
	return v;
}

static bool jstr_eq(struct json_object *o, const char *key, const char *want)
{
	size_t len;
	const char *s = jstr(o, key, &len);

	return s && len == strlen(want) && memcmp(s, want, len) == 0;
}

/*
 * Copy a value into a fixed field. Control bytes become '?' so a value
 * cannot forge log lines; a value that does not fit is cut before the
 * UTF-8 sequence it would split. Returns true when it was cut.
 */
static bool put_str(char *dst, size_t size, const char *src, size_t len)
{
	bool cut = false;
	size_t i;

	if (len >= size) {
		len = size - 1;
		while (len > 0 && ((unsigned char)src[len] & 0xc0) == 0x80)
			len--;
		cut = true;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	dst[len] = '\0';
	return cut;
}

/* Copy member key of o (if it is a string) into a record field. */
static void put_member(struct nh_pod_record *r, char *dst, size_t size, struct json_object *o,
		       const char *key)
{
	size_t len;
	const char *s = jstr(o, key, &len);

	if (s && put_str(dst, size, s, len))
		r->truncated = true;
}

#define PUT(r, field, o, key) put_member((r), (field), sizeof(field), (o), (key))

/* Pod UIDs are UUIDs, or a static pod's 32-hex hash: anything else cannot
 * be in a cgroup path, so it is not a key. */
static bool uid_ok(const char *s, size_t len)
{
	size_t i;

	if (!s || len == 0 || len >= sizeof(((struct nh_pod_record *)0)->uid))
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      c == '-'))
			return false;
	}
	return true;
}

/* The alphabet of the pod-template-hash (vowels and look-alikes removed). */
static bool hash_char(char c)
{
	return c && strchr("bcdfghjklmnpqrstvwxz2456789", c);
}

/*
 * A ReplicaSet "<deploy>-<hash>" made by a Deployment: the Deployment is
 * inferred from the name, as pods carry no reference to it. When the pod
 * has a pod-template-hash label the suffix must equal it; without the
 * label the suffix must look like such a hash (5 to 10 characters of its
 * alphabet). Returns the length of the Deployment name, 0 when none.
 */
static size_t deployment_of(const char *rs, const char *hash, size_t hash_len)
{
	size_t len = strlen(rs), i;
	const char *dash = strrchr(rs, '-');
	size_t suffix;

	if (!dash || dash == rs)
		return 0;
	suffix = len - (size_t)(dash + 1 - rs);
	if (hash) {
		if (suffix != hash_len || memcmp(dash + 1, hash, hash_len) != 0)
			return 0;
	} else {
		if (suffix < 5 || suffix > 10)
			return 0;
		for (i = 0; i < suffix; i++)
			if (!hash_char(dash[1 + i]))
				return 0;
	}
	return (size_t)(dash - rs);
}

static void parse_owner(struct nh_pod_record *r, struct json_object *meta)
{
	struct json_object *refs = jmember(meta, "ownerReferences", json_type_array);
	struct json_object *labels = jmember(meta, "labels", json_type_object);
	struct json_object *ref = NULL, *ctl;
	size_t i, n = refs ? json_object_array_length(refs) : 0, hash_len = 0, dlen;
	const char *hash = labels ? jstr(labels, LABEL_HASH, &hash_len) : NULL;
	const char *api;
	size_t api_len;

	for (i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(refs, i);

		if (json_object_is_type(o, json_type_object) &&
		    (ctl = jmember(o, "controller", json_type_boolean)) &&
		    json_object_get_boolean(ctl)) {
			ref = o;
			break;
		}
	}
	if (!ref)
		return;
	PUT(r, r->owner_kind, ref, "kind");
	PUT(r, r->owner_name, ref, "name");
	memcpy(r->workload_kind, r->owner_kind, sizeof(r->workload_kind));
	memcpy(r->workload_name, r->owner_name, sizeof(r->owner_name));

	/* only the built-in ReplicaSet, not a CRD of the same kind name */
	api = jstr(ref, "apiVersion", &api_len);
	if (strcmp(r->owner_kind, "ReplicaSet") != 0 ||
	    (api && !(api_len > 5 && memcmp(api, "apps/", 5) == 0) &&
	     !(api_len > 11 && memcmp(api, "extensions/", 11) == 0)))
		return;
	/* a label too odd to be a hash (NUL, control bytes) never matches */
	if (hash && (hash_len == 0 || memchr(hash, '\0', hash_len)))
		return;
	dlen = deployment_of(r->owner_name, hash, hash_len);
	if (!dlen)
		return;
	snprintf(r->workload_kind, sizeof(r->workload_kind), "Deployment");
	memset(r->workload_name, 0, sizeof(r->workload_name));
	memcpy(r->workload_name, r->owner_name, dlen);
}

/* "containerd://<id>" -> runtime "containerd", id "<id>"; no scheme: all id. */
static void put_container_id(struct nh_pod_record *r, struct nh_pod_container *c, const char *s,
			     size_t len)
{
	const char *sep = memmem(s, len, "://", 3);

	if (sep && sep > s) {
		if (put_str(c->runtime, sizeof(c->runtime), s, (size_t)(sep - s)))
			r->truncated = true;
		len -= (size_t)(sep + 3 - s);
		s = sep + 3;
	}
	if (put_str(c->id, sizeof(c->id), s, len))
		r->truncated = true;
}

/* The status entry of the container called name, or NULL. */
static struct json_object *status_of(struct json_object *statuses, const char *name,
				     size_t name_len)
{
	size_t i, n = statuses ? json_object_array_length(statuses) : 0;

	for (i = 0; i < n; i++) {
		struct json_object *st = json_object_array_get_idx(statuses, i);
		size_t len;
		const char *s = jstr(st, "name", &len);

		if (s && len == name_len && memcmp(s, name, len) == 0)
			return st;
	}
	return NULL;
}

static void parse_containers(struct nh_pod_record *r, struct json_object *spec,
			     struct json_object *status, const char *spec_key,
			     const char *status_key, enum nh_pod_container_role role)
{
	struct json_object *list = jmember(spec, spec_key, json_type_array);
	struct json_object *statuses = jmember(status, status_key, json_type_array);
	size_t i, n = list ? json_object_array_length(list) : 0;

	for (i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(list, i), *st;
		struct nh_pod_container *c;
		const char *name, *id;
		size_t name_len = 0, id_len;

		if (!json_object_is_type(o, json_type_object))
			continue;
		if (r->ncontainers == NH_POD_MAX_CONTAINERS) {
			r->truncated = true;
			return;
		}
		c = &r->containers[r->ncontainers++];
		c->role = role;
		PUT(r, c->name, o, "name");
		PUT(r, c->image, o, "image");
		name = jstr(o, "name", &name_len);
		st = name ? status_of(statuses, name, name_len) : NULL;
		if (!st)
			continue;
		if (!c->image[0])
			PUT(r, c->image, st, "image");
		id = jstr(st, "containerID", &id_len);
		if (id)
			put_container_id(r, c, id, id_len);
	}
}

/* Fill r from one PodList item; false (r left zeroed) when it has no usable UID. */
static bool parse_pod(struct nh_pod_record *r, struct json_object *item)
{
	struct json_object *meta = jmember(item, "metadata", json_type_object);
	struct json_object *spec = jmember(item, "spec", json_type_object);
	struct json_object *status = jmember(item, "status", json_type_object);
	struct json_object *ann = meta ? jmember(meta, "annotations", json_type_object) : NULL;
	const char *uid = NULL;
	size_t uid_len = 0;

	if (!meta)
		return false;
	/* The API server lists a static pod as a mirror pod with a UID of its
	 * own; the kubelet and the cgroup path use the hash it annotates. */
	if (ann)
		uid = jstr(ann, ANN_MIRROR, &uid_len);
	if (uid && uid_ok(uid, uid_len)) {
		r->static_pod = true;
	} else {
		uid = jstr(meta, "uid", &uid_len);
		if (!uid_ok(uid, uid_len)) {
			memset(r, 0, sizeof(*r));
			return false;
		}
		if (ann && (jstr_eq(ann, ANN_SOURCE, "file") || jstr_eq(ann, ANN_SOURCE, "http")))
			r->static_pod = true;
	}
	put_str(r->uid, sizeof(r->uid), uid, uid_len);
	PUT(r, r->name, meta, "name");
	PUT(r, r->namespace_, meta, "namespace");
	PUT(r, r->service_account, spec, "serviceAccountName");
	PUT(r, r->node, spec, "nodeName");
	parse_owner(r, meta);
	parse_containers(r, spec, status, "containers", "containerStatuses", NH_CTR_APP);
	parse_containers(r, spec, status, "initContainers", "initContainerStatuses", NH_CTR_INIT);
	parse_containers(r, spec, status, "ephemeralContainers", "ephemeralContainerStatuses",
			 NH_CTR_EPHEMERAL);
	return true;
}

static bool only_space(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return false;
	return true;
}

/*
 * Why json-c gave no object for a whole body. A top-level number only ends
 * at a terminator and "null" is a NULL object, so feed the end of input
 * to tell a scalar (not a PodList) from a body that was cut short.
 */
static const char *scalar_or_truncated(struct json_tokener *tok)
{
	struct json_object *o;
	enum json_tokener_error err = json_tokener_get_error(tok);

	if (err == json_tokener_success)
		return "not a JSON object";
	if (err != json_tokener_continue)
		return "invalid JSON";
	o = json_tokener_parse_ex(tok, "", 1);
	err = json_tokener_get_error(tok);
	json_object_put(o);
	return err == json_tokener_success ? "not a JSON object" : "truncated JSON";
}

int nh_kubelet_parse(struct nh_kubelet *k, const char *body, size_t len, const char **why)
{
	struct json_tokener *tok = NULL;
	struct json_object *root = NULL, *items = NULL;
	struct nh_pod_record *pods = NULL;
	const char *reason = NULL;
	size_t nitems = 0, n = 0, skipped = 0, i;
	int rc = -EINVAL;

	if (!body || len == 0) {
		reason = "empty body";
		goto cleanup;
	}
	if (len > INT_MAX) {
		reason = "body larger than 2 GiB";
		goto cleanup;
	}
	/* json-c would stop at a NUL and leave the rest unread */
	if (memchr(body, '\0', len)) {
		reason = "NUL byte in body";
		goto cleanup;
	}
	tok = json_tokener_new();
	if (!tok) {
		rc = -ENOMEM;
		reason = "out of memory";
		goto cleanup;
	}
	/* trailing data is checked below, for a clearer reason */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
					JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, body, (int)len);
	if (!root) {
		reason = scalar_or_truncated(tok);
		goto cleanup;
	}
	if (!only_space(body + json_tokener_get_parse_end(tok),
			len - json_tokener_get_parse_end(tok))) {
		reason = "trailing data after the JSON value";
		goto cleanup;
	}
	if (!json_object_is_type(root, json_type_object)) {
		reason = "not a JSON object";
		goto cleanup;
	}
	if (!jstr_eq(root, "kind", "PodList")) {
		reason = "kind is not PodList";
		goto cleanup;
	}
	/* an empty list may come as "items": null */
	if (json_object_object_get_ex(root, "items", &items) && items &&
	    !json_object_is_type(items, json_type_array)) {
		reason = "items is not an array";
		goto cleanup;
	}
	nitems = items ? json_object_array_length(items) : 0;
	if (nitems > NH_KUBELET_MAX_PODS) {
		rc = -E2BIG;
		reason = "more than " NH_STR(NH_KUBELET_MAX_PODS) " pods";
		goto cleanup;
	}
	pods = calloc(nitems ? nitems : 1, sizeof(*pods));
	if (!pods) {
		rc = -ENOMEM;
		reason = "out of memory";
		goto cleanup;
	}
	for (i = 0; i < nitems; i++) {
		struct json_object *item = json_object_array_get_idx(items, i);

		if (json_object_is_type(item, json_type_object) && parse_pod(&pods[n], item))
			n++;
		else
			skipped++;
	}
	free(k->pods);
	k->pods = pods;
	k->npods = n;
	k->skipped = skipped;
	pods = NULL;
	rc = 0;
cleanup:
	if (rc == -EINVAL)
		set_error(k, "response is not a PodList: %s", reason);
	else if (rc)
		set_error(k, "%s", reason);
	if (why)
		*why = reason;
	free(pods);
	json_object_put(root);
	if (tok)
		json_tokener_free(tok);
	return rc;
}

/* ---- lookups ---- */

const struct nh_pod_record *nh_kubelet_pod(const struct nh_kubelet *k, const char *uid)
{
	size_t i;

	if (!k || !uid || !uid[0])
		return NULL;
	for (i = 0; i < k->npods; i++)
		if (strcmp(k->pods[i].uid, uid) == 0)
			return &k->pods[i];
	return NULL;
}

const struct nh_pod_record *nh_kubelet_container(const struct nh_kubelet *k, const char *id,
						 const struct nh_pod_container **ctr)
{
	size_t i, j;

	if (ctr)
		*ctr = NULL;
	if (!k || !id || !id[0])
		return NULL;
	for (i = 0; i < k->npods; i++) {
		for (j = 0; j < k->pods[i].ncontainers; j++) {
			if (strcmp(k->pods[i].containers[j].id, id) == 0) {
				if (ctr)
					*ctr = &k->pods[i].containers[j];
				return &k->pods[i];
			}
		}
	}
	return NULL;
}

const char *nh_pod_container_role_name(enum nh_pod_container_role role)
{
	switch (role) {
	case NH_CTR_APP:
		return "app";
	case NH_CTR_INIT:
		return "init";
	case NH_CTR_EPHEMERAL:
		return "ephemeral";
	default:
		return "unknown";
	}
}

/* ---- HTTP ---- */

int nh_kubelet_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

void nh_kubelet_global_cleanup(void)
{
	curl_global_cleanup();
}

/* The response body, growing up to max bytes. */
struct body {
	char *buf;
	size_t len;
	size_t cap;
	size_t max;
	bool too_big;
	bool oom;
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb, cap;
	char *p;

	if (n > b->max - b->len) {
		b->too_big = true;
		return CURL_WRITEFUNC_ERROR;
	}
	if (n > b->cap - b->len) {
		cap = b->cap ? b->cap : BODY_MIN_ALLOC;
		while (cap - b->len < n)
			cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
		if (cap > b->max)
			cap = b->max;
		p = realloc(b->buf, cap);
		if (!p) {
			b->oom = true;
			return CURL_WRITEFUNC_ERROR;
		}
		b->buf = p;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, data, n);
	b->len += n;
	return n;
}

static int curl_errno(CURLcode cc)
{
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EPROTONOSUPPORT;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
		return -EPROTO;
	default:
		return -EIO;
	}
}

static int http_errno(long status)
{
	switch (status) {
	case 401:
	case 403:
		return -EACCES;
	case 404:
		return -ENOENT;
	default:
		return -EIO;
	}
}

/*
 * Read the token file into buf (size bytes, NUL-terminated), without the
 * surrounding whitespace. read(2), not stdio, so no library buffer keeps
 * a copy. -EFBIG when it does not fit, -EINVAL when empty or when it holds
 * a byte that has no place in an HTTP header.
 */
static int read_token(const char *path, char *buf, size_t size)
{
	size_t len = 0, start = 0, i;
	struct stat st;
	ssize_t got;
	int fd, rc = 0;

	/* O_NONBLOCK and a regular file only: a FIFO there must not hang us */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	for (;;) {
		if (len == size - 1) {
			char probe;

			got = read(fd, &probe, 1);
			if (got > 0)
				rc = -EFBIG;
			else if (got < 0)
				rc = -errno;
			explicit_bzero(&probe, sizeof(probe));
			break;
		}
		got = read(fd, buf + len, size - 1 - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = -errno;
			break;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	close(fd);
	if (rc)
		goto cleanup;
	while (len > 0 && strchr(" \t\r\n", buf[len - 1]))
		len--;
	while (start < len && strchr(" \t\r\n", buf[start]))
		start++;
	if (start == len) {
		rc = -EINVAL;
		goto cleanup;
	}
	for (i = start; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c <= 0x20 || c >= 0x7f) {
			rc = -EINVAL;
			goto cleanup;
		}
	}
	memmove(buf, buf + start, len - start);
	len -= start;
	buf[len] = '\0';
cleanup:
	if (rc)
		explicit_bzero(buf, size);
	else
		explicit_bzero(buf + len, size - len);
	return rc;
}

/* Every curl_easy_setopt is checked; the first refusal fails init. */
#define SETOPT(k, opt, val)                                                                        \
	do {                                                                                       \
		CURLcode cc_ = curl_easy_setopt((k)->curl, (opt), (val));                          \
		if (cc_ != CURLE_OK) {                                                             \
			set_error((k), "curl refused %s: %s", #opt, curl_easy_strerror(cc_));      \
			return cc_ == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EIO;                        \
		}                                                                                  \
	} while (0)

static int set_options(struct nh_kubelet *k)
{
	SETOPT(k, CURLOPT_ERRORBUFFER, k->curl_error);
	SETOPT(k, CURLOPT_NOSIGNAL, 1L);
	SETOPT(k, CURLOPT_URL, k->url);
	SETOPT(k, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(k, CURLOPT_FOLLOWLOCATION, 0L);
	/* The token goes to the configured host only, never to a proxy from
	 * the environment. */
	SETOPT(k, CURLOPT_PROXY, "");
	SETOPT(k, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
	SETOPT(k, CURLOPT_TIMEOUT_MS, k->timeout_ms);
	SETOPT(k, CURLOPT_CONNECTTIMEOUT_MS, k->timeout_ms);
	/* refuses early when Content-Length is known; on_data enforces it
	 * otherwise, and on decompressed bytes */
	SETOPT(k, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)k->max_bytes);
	SETOPT(k, CURLOPT_WRITEFUNCTION, on_data);
	SETOPT(k, CURLOPT_ACCEPT_ENCODING, "");
	SETOPT(k, CURLOPT_USERAGENT, "nhiscope-agent");
	SETOPT(k, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SETOPT(k, CURLOPT_SSL_VERIFYPEER, k->insecure ? 0L : 1L);
	SETOPT(k, CURLOPT_SSL_VERIFYHOST, k->insecure ? 0L : 2L);
	if (k->ca_path)
		SETOPT(k, CURLOPT_CAINFO, k->ca_path);
	return 0;
}

static bool loopback_host(const char *host)
{
	char addr[64];
	size_t len = strlen(host);
	struct in_addr a4;
	struct in6_addr a6;

	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (len >= 2 && len < sizeof(addr) && host[0] == '[' && host[len - 1] == ']') {
		memcpy(addr, host + 1, len - 2);
		addr[len - 2] = '\0';
		return inet_pton(AF_INET6, addr, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
	}
	return false;
}

/* Refuse URLs that would leak a secret: credentials in the URL (they would
 * be in every error message) or a token in clear text off the host. */
static int check_url(struct nh_kubelet *k, const char *url, bool token)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *user = NULL;
	int rc = 0;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		set_error(k, "invalid URL %s", url);
		rc = -EINVAL;
		goto cleanup;
	}
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
		set_error(k, "URL scheme %s not supported: http or https", scheme);
		rc = -EINVAL;
		goto cleanup;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
		set_error(k, "credentials in the URL are not supported: use a token file");
		rc = -EINVAL;
		goto cleanup;
	}
	if (token && strcmp(scheme, "http") == 0 && !loopback_host(host)) {
		set_error(k, "refusing to send a bearer token over http:// to %s: use https", host);
		rc = -EINVAL;
		goto cleanup;
	}
cleanup:
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_url_cleanup(u);
	return rc;
}

int nh_kubelet_init(struct nh_kubelet *k, const struct nh_kubelet_conf *conf)
{
	int rc;

	memset(k, 0, sizeof(*k));
	if (!conf || !conf->url || !conf->url[0]) {
		set_error(k, "no pod list URL");
		return -EINVAL;
	}
	k->insecure = conf->insecure;
	k->timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms : NH_KUBELET_TIMEOUT_MS;
	k->max_bytes = conf->max_bytes ? conf->max_bytes : NH_KUBELET_MAX_BYTES;
	if (k->max_bytes > INT_MAX) {
		set_error(k, "max_bytes %zu is over the parser's limit of %d", k->max_bytes,
			  INT_MAX);
		return -EINVAL;
	}
	rc = check_url(k, conf->url, conf->token_path != NULL);
	if (rc)
		goto cleanup;
	k->url = strdup(conf->url);
	k->token_path = conf->token_path ? strdup(conf->token_path) : NULL;
	k->ca_path = conf->ca_path ? strdup(conf->ca_path) : NULL;
	if (!k->url || (conf->token_path && !k->token_path) || (conf->ca_path && !k->ca_path)) {
		set_error(k, "out of memory");
		rc = -ENOMEM;
		goto cleanup;
	}
	k->curl = curl_easy_init();
	if (!k->curl) {
		set_error(k, "curl_easy_init failed");
		rc = -ENOMEM;
		goto cleanup;
	}
	rc = set_options(k);
cleanup:
	if (rc) {
		char error[sizeof(k->error)];

		memcpy(error, k->error, sizeof(error));
		nh_kubelet_free(k);
		memcpy(k->error, error, sizeof(error));
	}
	return rc;
}

void nh_kubelet_free(struct nh_kubelet *k)
{
	if (!k)
		return;
	curl_easy_cleanup(k->curl);
	free(k->url);
	free(k->token_path);
	free(k->ca_path);
	free(k->pods);
	memset(k, 0, sizeof(*k));
}

/* Wipe and free a header list: curl_slist_append copied the token. */
static void free_headers(struct curl_slist *hdrs)
{
	struct curl_slist *h;

	for (h = hdrs; h; h = h->next)
		explicit_bzero(h->data, strlen(h->data));
	curl_slist_free_all(hdrs);
}

int nh_kubelet_refresh(struct nh_kubelet *k)
{
	char *body = NULL;
	size_t len = 0;
	int rc;

	rc = nh_kubelet_fetch(k, &body, &len);
	if (rc)
		return rc;
	rc = nh_kubelet_parse(k, body, len, NULL);
	if (rc == -E2BIG)
		set_error(k, "response from %s has more than %d pods", k->url, NH_KUBELET_MAX_PODS);
	free(body);
	return rc;
}

int nh_kubelet_fetch(struct nh_kubelet *k, char **body, size_t *len)
{
	char auth[AUTH_PREFIX_LEN + NH_KUBELET_TOKEN_MAX + 1];
	struct curl_slist *hdrs = NULL, *h;
	struct body b = {0};
	CURLcode cc;
	long status = 0;
	int rc;

	if (!k->curl) {
		set_error(k, "not initialised");
		return -EINVAL;
	}
	b.max = k->max_bytes;
	k->curl_error[0] = '\0';
	hdrs = curl_slist_append(NULL, "Accept: application/json");
	if (!hdrs) {
		rc = -ENOMEM;
		set_error(k, "out of memory");
		goto cleanup;
	}
	if (k->token_path) {
		memcpy(auth, AUTH_PREFIX, AUTH_PREFIX_LEN);
		rc = read_token(k->token_path, auth + AUTH_PREFIX_LEN,
				sizeof(auth) - AUTH_PREFIX_LEN);
		if (rc) {
			set_error(k, "cannot use token file %s: %s", k->token_path,
				  rc == -EINVAL ? "not a regular file holding one token"
						: strerror(-rc));
			goto cleanup;
		}
		h = curl_slist_append(hdrs, auth);
		if (!h) {
			rc = -ENOMEM;
			set_error(k, "out of memory");
			goto cleanup;
		}
		hdrs = h;
	}
	/* the error buffer again, in case the struct was moved since init */
	cc = curl_easy_setopt(k->curl, CURLOPT_ERRORBUFFER, k->curl_error);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(k->curl, CURLOPT_HTTPHEADER, hdrs);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(k->curl, CURLOPT_WRITEDATA, &b);
	if (cc != CURLE_OK) {
		rc = -EIO;
		set_error(k, "curl refused the request options: %s", curl_easy_strerror(cc));
		goto cleanup;
	}
	cc = curl_easy_perform(k->curl);
	if (cc != CURLE_OK) {
		if (b.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
			rc = -EFBIG;
			set_error(k, "response from %s is larger than %zu bytes", k->url,
				  k->max_bytes);
		} else if (b.oom) {
			rc = -ENOMEM;
			set_error(k, "out of memory reading %s", k->url);
		} else {
			rc = curl_errno(cc);
			set_error(k, "%s: %s", k->url,
				  k->curl_error[0] ? k->curl_error : curl_easy_strerror(cc));
		}
		goto cleanup;
	}
	cc = curl_easy_getinfo(k->curl, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK || status < 200 || status > 299) {
		rc = http_errno(status);
		set_error(k, "HTTP %ld from %s", status, k->url);
		goto cleanup;
	}
	*body = b.buf;
	*len = b.len;
	b.buf = NULL;
	rc = 0;
cleanup:
	/* no stale pointers into this frame stay in the handle */
	if (curl_easy_setopt(k->curl, CURLOPT_HTTPHEADER, NULL) != CURLE_OK ||
	    curl_easy_setopt(k->curl, CURLOPT_WRITEDATA, NULL) != CURLE_OK) {
		if (!rc) {
			rc = -EIO;
			set_error(k, "curl refused to clear the request options");
		}
	}
	free_headers(hdrs);
	explicit_bzero(auth, sizeof(auth));
	free(b.buf);
	return rc;
}
