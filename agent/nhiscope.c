// SPDX-License-Identifier: Apache-2.0
/* nhiscope: the operator CLI. Talks to the agent's Unix socket. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "agent.h"
#include "jsonw.h"
#include "decode.h"

struct nh_cli {
	const char *socket_path;
	bool json;
	bool color;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nhiscope [-s SOCKET] COMMAND [options]\n\n"
		"commands:\n"
		"  tail [--identity PATTERN] [--kind K[,K...]] [--pid PID] [-o compact|json] "
		"[--no-color]\n"
		"        follow events live; PATTERN is a glob such as 'k8s:pod/*'\n"
		"  status [-o text|json]\n"
		"        probes, event rates, dedup and loss counters, identities\n"
		"  credentials [-o text|json]\n"
		"        credentials seen: which identities used each, first and last use, reuse\n"
		"  profiles [-o text|json] | profiles show KEY [-o json] | profiles reset KEY\n"
		"        behaviour baselines: state, items, anomalies; one profile; relearn one\n\n"
		"  -s, --socket PATH   agent socket (default %s)\n",
		NH_DEFAULT_SOCKET);
}

static int connect_agent(const struct nh_cli *cli)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(cli->socket_path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "nhiscope: socket path too long: %s\n", cli->socket_path);
		return -ENAMETOOLONG;
	}
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", cli->socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		int code = -errno;

		fprintf(stderr, "nhiscope: cannot connect to the agent at %s: %s%s\n",
			cli->socket_path, strerror(-code),
			code == -ENOENT || code == -ECONNREFUSED ? " (is nhiscope-agent running?)"
			: code == -EACCES			 ? " (the socket is root-only)"
								 : "");
		if (fd >= 0)
			close(fd);
		return code;
	}
	return fd;
}

static int send_request(int fd, json_object *req)
{
	const char *s = json_object_to_json_string_ext(req, NH_JSON_FLAGS);
	size_t len = strlen(s);

	if (write(fd, s, len) != (ssize_t)len || write(fd, "\n", 1) != 1)
		return -errno;
	return 0;
}

/* Read lines from fd and hand each to fn until EOF or fn returns < 0. */
static int read_lines(int fd, int (*fn)(const char *line, void *ctx), void *ctx)
{
	static const size_t cap = 1 << 20;
	char *buf = malloc(cap);
	size_t len = 0;
	int code = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		char *start = buf, *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			code = n < 0 ? -errno : 0;
			break;
		}
		len += n;
		buf[len] = '\0';
		while ((nl = strchr(start, '\n'))) {
			*nl = '\0';
			code = fn(start, ctx);
			if (code < 0)
				goto cleanup;
			start = nl + 1;
		}
		len -= start - buf;
		memmove(buf, start, len);
		if (len == cap - 1) {
			fprintf(stderr, "nhiscope: line longer than %zu bytes from the agent\n",
				cap);
			code = -EMSGSIZE;
			break;
		}
	}
cleanup:
	free(buf);
	return code;
}

struct tail_state {
	const struct nh_cli *cli;
	bool started;
};

/* The first line answers the request; then one event per line, already
 * in the format asked for (the agent renders it from the typed record). */
static int tail_line(const char *line, void *ctx)
{
	struct tail_state *st = ctx;
	json_object *o, *v;
	int code = 0;

	if (!st->started) {
		st->started = true;
		o = json_tokener_parse(line);
		if (!o) {
			fprintf(stderr, "nhiscope: undecodable answer from the agent\n");
			return -EBADMSG;
		}
		if (json_object_object_get_ex(o, "error", &v)) {
			fprintf(stderr, "nhiscope: agent refused: %s\n", json_object_get_string(v));
			code = -EINVAL;
		}
		json_object_put(o);
		return code;
	}
	puts(line);
	/* Line-buffered even into a pipe: tail is for watching. */
	fflush(stdout);
	return 0;
}

static int cmd_tail(struct nh_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"identity", required_argument, NULL, 'i'},
	    {"kind", required_argument, NULL, 'k'},
	    {"pid", required_argument, NULL, 'p'},
	    {"output", required_argument, NULL, 'o'},
	    {"no-color", no_argument, NULL, 'C'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	json_object *req = json_object_new_object(), *kinds = NULL;
	struct tail_state st = {.cli = cli};
	int c, fd = -1, code = 0;
	char *end, *tok, *save;

	json_object_object_add(req, "op", json_object_new_string("tail"));
	optind = 1;
	while ((c = getopt_long(argc, argv, "i:k:p:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			json_object_object_add(req, "identity", json_object_new_string(optarg));
			break;
		case 'k':
			if (!kinds)
				kinds = json_object_new_array();
			for (tok = strtok_r(optarg, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save)) {
				if (nh_kind_parse(tok) < 0) {
					fprintf(stderr,
						"nhiscope: --kind: unknown kind \"%s\" (%s)\n", tok,
						nh_kind_list());
					code = -EINVAL;
					goto cleanup;
				}
				json_object_array_add(kinds, json_object_new_string(tok));
			}
			break;
		case 'p': {
			long pid = strtol(optarg, &end, 10);

			if (*end || end == optarg || pid <= 0 || pid > INT32_MAX) {
				fprintf(stderr, "nhiscope: --pid: \"%s\" is not a process id\n",
					optarg);
				code = -EINVAL;
				goto cleanup;
			}
			json_object_object_add(req, "pid", json_object_new_int64(pid));
			break;
		}
		case 'o':
			if (strcmp(optarg, "json") && strcmp(optarg, "compact")) {
				fprintf(stderr, "nhiscope: -o: \"%s\" is not compact or json\n",
					optarg);
				code = -EINVAL;
				goto cleanup;
			}
			cli->json = strcmp(optarg, "json") == 0;
			break;
		case 'C':
			cli->color = false;
			break;
		case 'h':
			usage(stdout);
			goto cleanup;
		default:
			code = -EINVAL;
			goto cleanup;
		}
	}
	if (kinds) {
		json_object_object_add(req, "kinds", kinds);
		kinds = NULL;
	}
	json_object_object_add(req, "format",
			       json_object_new_string(cli->json ? "json" : "compact"));
	json_object_object_add(req, "color", json_object_new_boolean(cli->color));
	fd = connect_agent(cli);
	if (fd < 0) {
		code = fd;
		goto cleanup;
	}
	code = send_request(fd, req);
	if (!code)
		code = read_lines(fd, tail_line, &st);
	if (!code && !st.started)
		fprintf(stderr, "nhiscope: the agent closed the connection\n");
cleanup:
	if (fd >= 0)
		close(fd);
	json_object_put(kinds);
	json_object_put(req);
	return code;
}

static void print_status(json_object *st)
{
	json_object *probes, *kinds, *ids, *top, *dedup, *v;
	int attached = 0, n;

	json_object_object_get_ex(st, "probes", &probes);
	n = probes ? (int)json_object_array_length(probes) : 0;
	for (int i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(probes, i);

		json_object_object_get_ex(p, "attached", &v);
		attached += json_object_get_boolean(v);
	}
	json_object_object_get_ex(st, "version", &v);
	printf("nhiscope-agent %s", json_object_get_string(v));
	json_object_object_get_ex(st, "pid", &v);
	printf("  pid %d", json_object_get_int(v));
	json_object_object_get_ex(st, "uptime_s", &v);
	printf("  up %.0fs\n", json_object_get_double(v));
	printf("probes: %d of %d attached\n", attached, n);
	for (int i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(probes, i), *tp, *at;

		json_object_object_get_ex(p, "tracepoint", &tp);
		json_object_object_get_ex(p, "attached", &at);
		if (!json_object_get_boolean(at))
			printf("  NOT ATTACHED: %s\n", json_object_get_string(tp));
	}
	printf("\n%-14s %12s %10s %12s %12s %10s\n", "KIND", "RECEIVED", "PER_SEC", "OBSERVED",
	       "DEDUPLICATED", "LOST");
	json_object_object_get_ex(st, "kinds", &kinds);
	json_object_object_foreach (kinds, name, k) {
		json_object *r, *ps, *ob, *dd, *lo;

		json_object_object_get_ex(k, "received", &r);
		json_object_object_get_ex(k, "per_sec", &ps);
		json_object_object_get_ex(k, "observed", &ob);
		json_object_object_get_ex(k, "deduplicated", &dd);
		json_object_object_get_ex(k, "lost", &lo);
		printf("%-14s %12lld %10.1f %12lld %12lld %10lld\n", name,
		       (long long)json_object_get_int64(r), json_object_get_double(ps),
		       (long long)json_object_get_int64(ob), (long long)json_object_get_int64(dd),
		       (long long)json_object_get_int64(lo));
	}
	json_object_object_get_ex(st, "dedup", &dedup);
	json_object_object_get_ex(dedup, "window_ms", &v);
	printf("\ndedup: window %lldms", (long long)json_object_get_int64(v));
	json_object_object_get_ex(dedup, "entries", &v);
	printf(", %lld entries", (long long)json_object_get_int64(v));
	json_object_object_get_ex(st, "processes", &v);
	printf("; processes: %lld", (long long)json_object_get_int64(v));
	json_object_object_get_ex(st, "subscribers", &v);
	printf("; subscribers: %d\n", json_object_get_int(v));
	json_object_object_get_ex(st, "identities", &ids);
	json_object_object_get_ex(ids, "count", &v);
	printf("\nidentities seen: %lld\n", (long long)json_object_get_int64(v));
	json_object_object_get_ex(ids, "top", &top);
	for (size_t i = 0; top && i < json_object_array_length(top) && i < 20; i++) {
		json_object *e = json_object_array_get_idx(top, i), *key, *ev;

		json_object_object_get_ex(e, "key", &key);
		json_object_object_get_ex(e, "events", &ev);
		printf("  %-60s %10lld events\n", json_object_get_string(key),
		       (long long)json_object_get_int64(ev));
	}
}

static int status_line(const char *line, void *ctx)
{
	json_object **out = ctx;

	*out = json_tokener_parse(line);
	return -1; /* one line is the whole answer */
}

/* The credential registry: one line per credential, reused ones marked. */
static void print_credentials(json_object *st)
{
	json_object *list = NULL;

	json_object_object_get_ex(st, "credentials", &list);
	printf("%-18s %8s %-6s %-26s %s\n", "KIND", "USES", "REUSED", "LAST_USE",
	       "CREDENTIAL / IDENTITIES");
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		json_object *c = json_object_array_get_idx(list, i), *kind, *uses, *re, *last,
			    *name, *ids;

		json_object_object_get_ex(c, "kind", &kind);
		json_object_object_get_ex(c, "uses", &uses);
		json_object_object_get_ex(c, "reused", &re);
		json_object_object_get_ex(c, "last_use", &last);
		json_object_object_get_ex(c, "credential", &name);
		json_object_object_get_ex(c, "identities", &ids);
		printf("%-18s %8lld %-6s %-26s %s\n", json_object_get_string(kind),
		       (long long)json_object_get_int64(uses),
		       json_object_get_boolean(re) ? "YES" : "no", json_object_get_string(last),
		       json_object_get_string(name));
		for (size_t j = 0; ids && j < json_object_array_length(ids); j++)
			printf("%62s %s\n", "",
			       json_object_get_string(json_object_array_get_idx(ids, j)));
	}
}

static void print_profiles(json_object *st)
{
	json_object *list = NULL;

	json_object_object_get_ex(st, "profiles", &list);
	printf("%-50s %-8s %6s %6s %6s %6s %6s %6s %9s %8s\n", "IDENTITY", "STATE", "EXEC",
	       "EGRESS", "INGR", "FILE", "CRED", "PRIV", "ANOMALIES", "BYTES");
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		json_object *p = json_object_array_get_idx(list, i), *items = NULL;
		static const char *const cats[] = {"exec", "egress",	 "ingress",
						   "file", "credential", "privilege"};

		json_object_object_get_ex(p, "items", &items);
		printf("%-50s %-8s", json_object_get_string(json_object_object_get(p, "identity")),
		       json_object_get_string(json_object_object_get(p, "state")));
		for (size_t c = 0; c < sizeof(cats) / sizeof(cats[0]); c++)
			printf(" %6lld", (long long)json_object_get_int64(
					     json_object_object_get(items, cats[c])));
		printf(" %9lld %8lld\n",
		       (long long)json_object_get_int64(json_object_object_get(p, "anomalies")),
		       (long long)json_object_get_int64(json_object_object_get(p, "bytes")));
	}
}

static void print_profile(json_object *st)
{
	json_object *list = NULL;

	printf("%s: %s since %s\n", json_object_get_string(json_object_object_get(st, "identity")),
	       json_object_get_string(json_object_object_get(st, "state")),
	       json_object_get_string(json_object_object_get(st, "created")));
	json_object_object_get_ex(st, "item_list", &list);
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		json_object *it = json_object_array_get_idx(list, i);

		printf("  %-10s %10lld  %s\n",
		       json_object_get_string(json_object_object_get(it, "category")),
		       (long long)json_object_get_int64(json_object_object_get(it, "count")),
		       json_object_get_string(json_object_object_get(it, "value")));
	}
}

/* status, credentials, profiles: one request, one JSON line back. */
static int cmd_query(struct nh_cli *cli, const char *op, int argc, char **argv)
{
	json_object *req = json_object_new_object(), *st = NULL, *err = NULL;
	int c, fd, code = 0;

	/* profiles [show KEY | reset KEY] */
	if (strcmp(op, "profiles") == 0 && argc >= 2 && argv[1][0] != '-') {
		if ((strcmp(argv[1], "show") && strcmp(argv[1], "reset")) || argc < 3) {
			fprintf(stderr, "nhiscope profiles: expected 'show KEY' or 'reset KEY'\n");
			json_object_put(req);
			return -EINVAL;
		}
		op = strcmp(argv[1], "show") == 0 ? "profile" : "profile_reset";
		json_object_object_add(req, "identity", json_object_new_string(argv[2]));
		argc -= 2;
		argv += 2;
	}
	optind = 1;
	while ((c = getopt(argc, argv, "o:")) != -1) {
		if (c != 'o' || (strcmp(optarg, "json") && strcmp(optarg, "text"))) {
			fprintf(stderr, "nhiscope %s: -o takes text or json\n", op);
			json_object_put(req);
			return -EINVAL;
		}
		cli->json = strcmp(optarg, "json") == 0;
	}
	json_object_object_add(req, "op", json_object_new_string(op));
	fd = connect_agent(cli);
	if (fd < 0) {
		json_object_put(req);
		return fd;
	}
	code = send_request(fd, req);
	if (!code)
		read_lines(fd, status_line, &st);
	close(fd);
	json_object_put(req);
	if (!st) {
		fprintf(stderr, "nhiscope: no %s from the agent\n", op);
		return code ? code : -EPROTO;
	}
	if (json_object_object_get_ex(st, "error", &err)) {
		fprintf(stderr, "nhiscope: %s\n", json_object_get_string(err));
		json_object_put(st);
		return -ENOENT;
	}
	if (cli->json)
		puts(json_object_to_json_string_ext(st, NH_JSON_FLAGS));
	else if (strcmp(op, "credentials") == 0)
		print_credentials(st);
	else if (strcmp(op, "profiles") == 0)
		print_profiles(st);
	else if (strcmp(op, "profile") == 0)
		print_profile(st);
	else if (strcmp(op, "profile_reset") == 0)
		printf("reset: learning again\n");
	else
		print_status(st);
	json_object_put(st);
	return 0;
}

int main(int argc, char **argv)
{
	struct nh_cli cli = {.socket_path = NH_DEFAULT_SOCKET, .color = isatty(STDOUT_FILENO)};
	int i = 1, code;

	signal(SIGPIPE, SIG_DFL);
	while (i < argc && argv[i][0] == '-') {
		if ((!strcmp(argv[i], "-s") || !strcmp(argv[i], "--socket")) && i + 1 < argc) {
			cli.socket_path = argv[i + 1];
			i += 2;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			printf("nhiscope %s\n", NH_VERSION);
			return 0;
		} else {
			fprintf(stderr, "nhiscope: unknown option %s\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[i], "tail"))
		code = cmd_tail(&cli, argc - i, argv + i);
	else if (!strcmp(argv[i], "status") || !strcmp(argv[i], "credentials") ||
		 !strcmp(argv[i], "profiles"))
		code = cmd_query(&cli, argv[i], argc - i, argv + i);
	else {
		fprintf(stderr, "nhiscope: unknown command \"%s\"\n", argv[i]);
		usage(stderr);
		return 2;
	}
	return code == -EINVAL ? 2 : code ? 1 : 0;
}
