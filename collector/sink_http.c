// SPDX-License-Identifier: Apache-2.0
/*
 * sink_http: batches of records POSTed to Splunk's HTTP Event Collector or
 * to Elastic's _bulk API (libcurl). The answer is read per item: an item
 * taken leaves the batch; one rejected for good (Elastic: an item status
 * 4xx other than 409 and 429; HEC: a 400, which names the first bad
 * event) goes to the reject hook with the server's reason and leaves it;
 * the rest (429, 5xx, a failed post) stays for the next flush. A sink
 * that is down thus holds the offsets, and one bad record never does.
 * Elastic documents are created with the record id as _id, so a retried
 * batch cannot index a record twice (409 means "already there"). The
 * token or API key is read from a file and never logged.
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
#define REASON_MAX    300

/* One record in the batch: its bytes there, and what a rejection needs. */
struct bitem {
	size_t off, len; /* in batch */
	char *id, *topic;
	int32_t partition;
	int64_t offset;
	void *payload;
	size_t plen;
};

enum verdict { V_TAKEN = 0, V_RETRY, V_REJECT };

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
	struct bitem *items; /* count of them */
	size_t items_cap;
	nh_sink_reject_fn reject;
	void *reject_ctx;
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

/* A server's words as one printable line of at most REASON_MAX bytes. */
static void clean_reason(char *out, const char *in)
{
	size_t n = 0;

	for (; in && *in && n < REASON_MAX; in++)
		out[n++] = isprint((unsigned char)*in) ? *in : ' ';
	out[n] = '\0';
}

/* Elastic answers 200 even when items failed: each item is judged on its
 * own (201 created, 409 already there; 429 and 5xx later; other 4xx are
 * the document's fault). v[i] and, for a rejection, why[i] (malloc'd).
 * -EPROTO when the answer does not say, item by item. */
static int bulk_verdicts(const char *resp, size_t count, enum verdict *v, char **why)
{
	json_object *doc = json_tokener_parse(resp), *errors, *items;
	int err = -EPROTO;

	if (!doc)
		return -EPROTO;
	if (!json_object_object_get_ex(doc, "errors", &errors))
		goto out;
	if (!json_object_get_boolean(errors)) {
		memset(v, 0, count * sizeof(*v));
		err = 0;
		goto out;
	}
	if (!json_object_object_get_ex(doc, "items", &items) ||
	    !json_object_is_type(items, json_type_array) ||
	    json_object_array_length(items) != count)
		goto out;
	for (size_t i = 0; i < count; i++) {
		json_object *it = json_object_array_get_idx(items, i), *op, *status, *e, *f;
		char line[2 * REASON_MAX + 64];
		int st;

		if (!json_object_object_get_ex(it, "create", &op) ||
		    !json_object_object_get_ex(op, "status", &status))
			goto out;
		st = json_object_get_int(status);
		if (st == 200 || st == 201 || st == 409) {
			v[i] = V_TAKEN;
			continue;
		}
		if (st == 429 || st >= 500 || st < 400) {
			v[i] = V_RETRY;
			continue;
		}
		v[i] = V_REJECT;
		snprintf(line, sizeof(line), "HTTP %d", st);
		if (json_object_object_get_ex(op, "error", &e)) {
			char type[REASON_MAX + 1], reason[REASON_MAX + 1];

			clean_reason(type, json_object_object_get_ex(e, "type", &f)
					       ? json_object_get_string(f)
					       : "");
			clean_reason(reason, json_object_object_get_ex(e, "reason", &f)
						 ? json_object_get_string(f)
						 : "");
			snprintf(line, sizeof(line), "HTTP %d %s: %s", st, type, reason);
		}
		why[i] = strdup(line);
	}
	err = 0;
out:
	json_object_put(doc);
	return err;
}

/* HEC's 400 names the first event it could not take
 * ("invalid-event-number"); the ones before it were indexed. -1: not said. */
static long hec_invalid_event(const char *resp, char *reason, size_t cap)
{
	json_object *doc = json_tokener_parse(resp), *f;
	long n = -1;
	char text[REASON_MAX + 1];

	clean_reason(text, doc && json_object_object_get_ex(doc, "text", &f)
			       ? json_object_get_string(f)
			       : "rejected");
	snprintf(reason, cap, "HTTP 400: %s", text);
	if (doc && json_object_object_get_ex(doc, "invalid-event-number", &f))
		n = json_object_get_int64(f);
	json_object_put(doc);
	return n;
}

/* The start of a server's answer on one line, for the log. */
static void excerpt(const char *s, char *out, size_t cap)
{
	size_t n = 0;

	for (; s && *s && n + 1 < cap && n < 200; s++)
		out[n++] = isprint((unsigned char)*s) ? *s : ' ';
	out[n] = '\0';
}

/* POST len bytes at body; the status in *status, 0 when none came. */
static int post(struct http_sink *h, const char *body, size_t len, long *status)
{
	CURLcode cc;

	h->resp_len = 0;
	if (h->resp)
		h->resp[0] = '\0';
	*status = 0;
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	cc = curl_easy_perform(h->curl);
	if (cc != CURLE_OK) {
		nh_warn(h->lg, "%s sink: %s", h->name, curl_easy_strerror(cc));
		return -EIO;
	}
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, status);
	return 0;
}

static void item_free(struct bitem *it)
{
	free(it->id);
	free(it->topic);
	free(it->payload);
	memset(it, 0, sizeof(*it));
}

/* Hand a rejected item to the hook: V_TAKEN when it took it. */
static enum verdict reject_item(struct http_sink *h, const struct bitem *it, const char *why)
{
	struct nh_sink_reject r = {.sink = h->name,
				   .reason = why ? why : "rejected",
				   .id = it->id,
				   .topic = it->topic,
				   .partition = it->partition,
				   .offset = it->offset,
				   .payload = it->payload,
				   .len = it->plen};

	nh_warn(h->lg, "%s sink: record %s rejected for good (%s): to the dead-letter topic",
		h->name, it->id, r.reason);
	if (!h->reject || h->reject(h->reject_ctx, &r) != 0)
		return V_RETRY;
	return V_TAKEN;
}

/* Keep only the items to retry, in order. */
static void keep_retries(struct http_sink *h, const enum verdict *v)
{
	size_t n = 0, len = 0;

	for (size_t i = 0; i < h->count; i++) {
		struct bitem it = h->items[i];

		if (v[i] != V_RETRY) {
			item_free(&h->items[i]);
			continue;
		}
		memmove(h->batch + len, h->batch + it.off, it.len);
		it.off = len;
		len += it.len;
		h->items[n++] = it;
	}
	h->count = n;
	h->len = len;
	if (h->batch)
		h->batch[len] = '\0';
}

/* HEC without a position for the bad event: each event alone. */
static void hec_one_by_one(struct http_sink *h, enum verdict *v, char **why)
{
	for (size_t i = 0; i < h->count; i++) {
		long status;
		char reason[REASON_MAX + 64];

		if (post(h, h->batch + h->items[i].off, h->items[i].len, &status) != 0) {
			v[i] = V_RETRY;
			continue;
		}
		if (status / 100 == 2) {
			v[i] = V_TAKEN;
		} else if (status == 400) {
			hec_invalid_event(h->resp ? h->resp : "", reason, sizeof(reason));
			v[i] = V_REJECT;
			why[i] = strdup(reason);
		} else {
			v[i] = V_RETRY;
		}
	}
}

static int http_flush(void *self)
{
	struct http_sink *h = self;
	enum verdict *v = NULL;
	char **why = NULL, ex[256], reason[REASON_MAX + 64];
	bool left = false;
	long status = 0;
	int rc = -EIO;

	if (!h->count)
		return 0;
	v = calloc(h->count, sizeof(*v));
	why = calloc(h->count, sizeof(*why));
	if (!v || !why) {
		rc = -ENOMEM;
		goto cleanup;
	}
	if (post(h, h->batch, h->len, &status) != 0)
		goto cleanup;
	if (h->flavour == NH_HTTP_ELASTIC_BULK && status / 100 == 2) {
		if (bulk_verdicts(h->resp ? h->resp : "", h->count, v, why) != 0) {
			excerpt(h->resp, ex, sizeof(ex));
			nh_warn(h->lg, "%s sink: HTTP %ld, unreadable _bulk response: %s", h->name,
				status, ex);
			goto cleanup;
		}
	} else if (h->flavour == NH_HTTP_SPLUNK_HEC && status == 400) {
		long bad = hec_invalid_event(h->resp ? h->resp : "", reason, sizeof(reason));

		if (bad >= 0 && (size_t)bad < h->count) {
			for (size_t i = 0; i < h->count; i++)
				v[i] = i < (size_t)bad ? V_TAKEN : V_RETRY;
			v[bad] = V_REJECT;
			why[bad] = strdup(reason);
		} else if (h->count == 1) {
			v[0] = V_REJECT;
			why[0] = strdup(reason);
		} else {
			hec_one_by_one(h, v, why);
		}
	} else if (status / 100 != 2) {
		/* the server as a whole: down, overloaded, or refusing us */
		excerpt(h->resp, ex, sizeof(ex));
		nh_warn(h->lg, "%s sink: HTTP %ld, rejected: %s", h->name, status, ex);
		goto cleanup;
	}
	for (size_t i = 0; i < h->count; i++) {
		if (v[i] == V_REJECT)
			v[i] = reject_item(h, &h->items[i], why[i]);
		left |= v[i] == V_RETRY;
	}
	keep_retries(h, v);
	rc = left ? -EAGAIN : 0;
	if (left)
		nh_warn(h->lg, "%s sink: an item failed for now, %zu records to send again",
			h->name, h->count);
cleanup:
	for (size_t i = 0; why && i < h->count; i++)
		free(why[i]);
	free(why);
	free(v);
	return rc;
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
		mark = h->len;
	}
	if (h->count == h->items_cap) {
		size_t cap = h->items_cap ? 2 * h->items_cap : 64;
		struct bitem *p = realloc(h->items, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		h->items = p;
		h->items_cap = cap;
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
	if (!rc) {
		struct bitem *bi = &h->items[h->count];

		*bi = (struct bitem){.off = mark,
				     .len = h->len - mark,
				     .id = strdup(it->id),
				     .topic = strdup(it->topic ? it->topic : ""),
				     .partition = it->partition,
				     .offset = it->offset,
				     .payload = malloc(it->payload_len ? it->payload_len : 1),
				     .plen = it->payload_len};
		if (!bi->id || !bi->topic || !bi->payload) {
			item_free(bi);
			rc = -ENOMEM;
		} else if (it->payload_len) {
			memcpy(bi->payload, it->payload, it->payload_len);
		}
	}
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
	for (size_t i = 0; i < h->count; i++)
		item_free(&h->items[i]);
	free(h->items);
	free(h->batch);
	free(h->resp);
	free(h->url);
	free(h->index);
	free(h);
}

int nh_sink_http_open(struct nh_sink *s, enum nh_http_flavour flavour, const char *url,
		      const char *index, const char *secret_file, const char *ca_file,
		      nh_sink_reject_fn reject, void *ctx, const struct nh_log *lg)
{
	struct http_sink *h = calloc(1, sizeof(*h));
	char secret[4096], header[4200];
	struct curl_slist *l;
	int rc = -ENOMEM;

	if (!h)
		return -ENOMEM;
	h->flavour = flavour;
	h->reject = reject;
	h->reject_ctx = ctx;
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
