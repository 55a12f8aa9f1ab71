// SPDX-License-Identifier: Apache-2.0
/*
 * sink_http: batches of records POSTed to Splunk's HTTP Event Collector or
 * to Elastic's _bulk API (libcurl). A batch stays until the server took
 * all of it; a failed post is retried whole by the next flush. Elastic
 * documents are created with the record id as _id, so a retried batch
 * cannot index a record twice (409 means "already there"). The token or
 * API key is read from a file and never logged.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "jsonw.h"
#include "secretfile.h"
#include "sink.h"

#define BATCH_RECORDS 500
#define BATCH_BYTES   (4u << 20)
#define RESPONSE_MAX  (1u << 20)

struct http_sink {
	enum nh_http_flavour flavour;
	const char *name;
	char *url;
	char *index;
	CURL *curl;
	struct curl_slist *headers; /* holds the credential */
	char *batch;
	size_t len, cap, count;
	char *resp;
	size_t resp_len;
	const struct nh_log *lg;
};

static int append(struct http_sink *h, const char *s, size_t n)
{
	if (h->len + n + 1 > h->cap) {
		size_t cap = h->cap ? h->cap : 65536;
		char *p;

		while (cap < h->len + n + 1)
			cap *= 2;
		p = realloc(h->batch, cap);
		if (!p)
			return -ENOMEM;
		h->batch = p;
		h->cap = cap;
	}
	memcpy(h->batch + h->len, s, n);
	h->len += n;
	h->batch[h->len] = '\0';
	return 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
	struct http_sink *h = ctx;
	size_t len = size * n, room = RESPONSE_MAX - h->resp_len;
	char *p;

	if (len > room)
		len = room; /* the rest is not needed to judge the answer */
	p = realloc(h->resp, h->resp_len + len + 1);
	if (!p)
		return 0;
	h->resp = p;
	memcpy(h->resp + h->resp_len, data, len);
	h->resp_len += len;
	h->resp[h->resp_len] = '\0';
	return size * n;
}

/* Elastic answers 200 even when items failed: every item must be created
 * (201) or already exist (409). */
static bool bulk_ok(const char *resp, const char **why)
{
	json_object *doc = json_tokener_parse(resp), *errors, *items;
	bool ok = false;

	*why = "unreadable _bulk response";
	if (!doc)
		return false;
	if (!json_object_object_get_ex(doc, "errors", &errors))
		goto out;
	if (!json_object_get_boolean(errors)) {
		ok = true;
		goto out;
	}
	*why = "an item failed";
	if (!json_object_object_get_ex(doc, "items", &items) ||
	    !json_object_is_type(items, json_type_array))
		goto out;
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		json_object *it = json_object_array_get_idx(items, i), *op, *status;
		int st;

		if (!json_object_object_get_ex(it, "create", &op) ||
		    !json_object_object_get_ex(op, "status", &status))
			goto out;
		st = json_object_get_int(status);
		if (st != 200 && st != 201 && st != 409)
			goto out;
	}
	ok = true;
out:
	json_object_put(doc);
	return ok;
}

/* The start of a server's answer on one line, for the log. */
static void excerpt(const char *s, char *out, size_t cap)
{
	size_t n = 0;

	for (; s && *s && n + 1 < cap && n < 200; s++)
		out[n++] = isprint((unsigned char)*s) ? *s : ' ';
	out[n] = '\0';
}

static int http_flush(void *self)
{
	struct http_sink *h = self;
	long status = 0;
	const char *why = NULL;
	char ex[256];
	CURLcode cc;

	if (!h->count)
		return 0;
	h->resp_len = 0;
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, h->batch);
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)h->len);
	cc = curl_easy_perform(h->curl);
	if (cc != CURLE_OK) {
		nh_warn(h->lg, "%s sink: %s", h->name, curl_easy_strerror(cc));
		return -EIO;
	}
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status / 100 != 2)
		why = "rejected";
	else if (h->flavour == NH_HTTP_ELASTIC_BULK && bulk_ok(h->resp ? h->resp : "", &why))
		why = NULL;
	if (why) {
		excerpt(h->resp, ex, sizeof(ex));
		nh_warn(h->lg, "%s sink: HTTP %ld, %s: %s", h->name, status, why, ex);
		return -EIO;
	}
	h->len = h->count = 0;
	return 0;
}

/* The JSON encoding of a string, quotes included (json-c escapes it). */
static const char *quoted(json_object **holder, const char *s)
{
	*holder = json_object_new_string(s);
	return *holder ? json_object_to_json_string_ext(*holder, NH_JSON_FLAGS) : "\"\"";
}

static int http_write(void *self, const struct nh_sink_item *it)
{
	struct http_sink *h = self;
	json_object *a = NULL, *b = NULL;
	char head[1024];
	size_t mark = h->len;
	int n, rc;

	if (h->count >= BATCH_RECORDS || h->len >= BATCH_BYTES) {
		rc = http_flush(h);
		if (rc)
			return rc;
		mark = 0;
	}
	if (h->flavour == NH_HTTP_SPLUNK_HEC) {
		const struct nh_wire_record *r = it->rec;

		n = snprintf(head, sizeof(head),
			     "{\"time\":%" PRIu64 ".%06" PRIu64 ",\"host\":%s,\"source\":"
			     "\"nhiscope\",\"sourcetype\":\"nhiscope:ecs\",\"event\":",
			     r->time_ns / UINT64_C(1000000000),
			     (r->time_ns % UINT64_C(1000000000)) / 1000,
			     quoted(&a, r->identity.node[0] ? r->identity.node : r->id.node));
	} else {
		n = snprintf(head, sizeof(head), "{\"create\":{\"_index\":%s,\"_id\":%s}}\n",
			     quoted(&a, h->index), quoted(&b, it->id));
	}
	json_object_put(a);
	json_object_put(b);
	if (n < 0 || (size_t)n >= sizeof(head))
		return -ENAMETOOLONG;
	rc = append(h, head, n);
	if (!rc)
		rc = append(h, it->json, it->json_len);
	if (!rc && h->flavour == NH_HTTP_SPLUNK_HEC)
		rc = append(h, "}", 1);
	if (!rc)
		rc = append(h, "\n", 1);
	if (rc) {
		h->len = mark;
		return rc;
	}
	h->count++;
	return 0;
}

static void http_close(void *self)
{
	struct http_sink *h = self;

	if (!h)
		return;
	if (h->curl)
		curl_easy_cleanup(h->curl);
	/* the credential is in a header: wipe it before freeing */
	for (struct curl_slist *l = h->headers; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(h->headers);
	free(h->batch);
	free(h->resp);
	free(h->url);
	free(h->index);
	free(h);
}

int nh_sink_http_open(struct nh_sink *s, enum nh_http_flavour flavour, const char *url,
		      const char *index, const char *secret_file, const char *ca_file,
		      const struct nh_log *lg)
{
	struct http_sink *h = calloc(1, sizeof(*h));
	char secret[4096], header[4200];
	struct curl_slist *l;
	int rc = -ENOMEM;

	if (!h)
		return -ENOMEM;
	h->flavour = flavour;
	h->name = flavour == NH_HTTP_SPLUNK_HEC ? "splunk" : "elastic";
	h->lg = lg;
	if (flavour == NH_HTTP_ELASTIC_BULK) {
		size_t n = strlen(url);

		if (asprintf(&h->url, "%.*s/_bulk", (int)(n && url[n - 1] == '/' ? n - 1 : n),
			     url) < 0) {
			h->url = NULL;
			goto cleanup;
		}
		h->index = strdup(index ? index : "nhiscope");
	} else {
		h->url = strdup(url);
		h->index = strdup("");
	}
	h->curl = curl_easy_init();
	if (!h->url || !h->index || !h->curl)
		goto cleanup;

	l = curl_slist_append(NULL, flavour == NH_HTTP_SPLUNK_HEC
					? "Content-Type: application/json"
					: "Content-Type: application/x-ndjson");
	if (!l)
		goto cleanup;
	h->headers = l;
	if (secret_file) {
		rc = nh_secretfile_read(secret_file, secret, sizeof(secret));
		/* One line: anything else would inject headers. */
		if (!rc && strpbrk(secret, "\r\n"))
			rc = -EINVAL;
		if (rc) {
			explicit_bzero(secret, sizeof(secret));
			nh_err(lg, "%s sink: cannot read the credential file %s: %s", h->name,
			       secret_file, strerror(-rc));
			goto cleanup;
		}
		snprintf(header, sizeof(header), "Authorization: %s %s",
			 flavour == NH_HTTP_SPLUNK_HEC ? "Splunk" : "ApiKey", secret);
		l = curl_slist_append(h->headers, header);
		explicit_bzero(secret, sizeof(secret));
		explicit_bzero(header, sizeof(header));
		rc = -ENOMEM;
		if (!l)
			goto cleanup;
		h->headers = l;
	} else if (flavour == NH_HTTP_SPLUNK_HEC) {
		nh_err(lg, "splunk sink: --splunk-token-file is required");
		rc = -EINVAL;
		goto cleanup;
	}

	curl_easy_setopt(h->curl, CURLOPT_URL, h->url);
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, h->headers);
	curl_easy_setopt(h->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
	curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, 15000L);
	curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, h);
	/* never resend the credential to another host */
	curl_easy_setopt(h->curl, CURLOPT_FOLLOWLOCATION, 0L);
	if (ca_file)
		curl_easy_setopt(h->curl, CURLOPT_CAINFO, ca_file);

	*s = (struct nh_sink){.name = h->name,
			      .self = h,
			      .write = http_write,
			      .flush = http_flush,
			      .close = http_close};
	return 0;
cleanup:
	http_close(h);
	return rc;
}
