// SPDX-License-Identifier: Apache-2.0
/*
 * kafka_mock: a Kafka cluster for tests and the demo, from librdkafka's
 * mock cluster (the real Kafka protocol on 127.0.0.1, in memory).
 *
 *   kafka_mock [--brokers N] [--topic NAME[:PARTITIONS]]...
 *
 * Prints one line "bootstrap=HOST:PORT,..." on stdout once the cluster is
 * up, then reads commands on stdin, one per line:
 *   down [BROKER_ID]   disconnect the broker (all when no id) and refuse
 *                      new connections
 *   up [BROKER_ID]     accept connections again
 *   produce-errors N CODE
 *                      fail the next N produce requests with the Kafka
 *                      error CODE (a number: 29 TOPIC_AUTHORIZATION_FAILED,
 *                      3 UNKNOWN_TOPIC_OR_PART)
 *   produce-errors-clear
 *                      forget the produce errors not used yet
 *   topic-error TOPIC CODE
 *                      metadata answers CODE for TOPIC (0: clears it)
 *   quit
 * Answers each command with "ok" or "error: ..." on stdout. Exits 0 on
 * quit, end of input, SIGTERM or SIGINT.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define TOPICS_MAX 32

static int usage(void)
{
	fprintf(stderr, "usage: kafka_mock [--brokers N] [--topic NAME[:PARTITIONS]]...\n");
	return 2;
}

static int parse_int(const char *s, int min, int max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

static int create_topic(rd_kafka_mock_cluster_t *mc, char *spec, int brokers)
{
	char *colon = strrchr(spec, ':');
	int partitions = 1;
	rd_kafka_resp_err_t err;

	if (colon) {
		*colon = '\0';
		if (parse_int(colon + 1, 1, 1000, &partitions))
			return -EINVAL;
	}
	if (!*spec)
		return -EINVAL;
	err = rd_kafka_mock_topic_create(mc, spec, partitions, brokers < 3 ? brokers : 3);
	if (err) {
		fprintf(stderr, "kafka_mock: topic %s: %s\n", spec, rd_kafka_err2str(err));
		return -EIO;
	}
	return 0;
}

/* One command line; returns 1 on quit. */
static int command(rd_kafka_mock_cluster_t *mc, char *line, int brokers)
{
	char *verb = strtok(line, " \t\r\n"), *arg = strtok(NULL, " \t\r\n");
	rd_kafka_resp_err_t err;
	int id = -1;

	if (!verb)
		return 0;
	if (strcmp(verb, "quit") == 0)
		return 1;
	if (strcmp(verb, "produce-errors-clear") == 0) {
		rd_kafka_mock_clear_request_errors(mc, 0 /* Produce */);
		printf("ok\n");
		goto out;
	}
	if (strcmp(verb, "produce-errors") == 0 || strcmp(verb, "topic-error") == 0) {
		char *third = strtok(NULL, " \t\r\n");
		int n = 0, code = 0;

		if (!arg || !third || parse_int(third, 0, 32767, &code) ||
		    (verb[0] == 'p' && parse_int(arg, 1, 100000, &n))) {
			printf("error: usage: %s\n",
			       verb[0] == 'p' ? "produce-errors N CODE" : "topic-error TOPIC CODE");
			goto out;
		}
		if (verb[0] == 'p') {
			rd_kafka_resp_err_t *errs = calloc((size_t)n, sizeof(*errs));

			if (!errs) {
				printf("error: out of memory\n");
				goto out;
			}
			for (int i = 0; i < n; i++)
				errs[i] = (rd_kafka_resp_err_t)code;
			rd_kafka_mock_push_request_errors_array(mc, 0 /* Produce */, (size_t)n,
								errs);
			free(errs);
		} else {
			rd_kafka_mock_topic_set_error(mc, arg, (rd_kafka_resp_err_t)code);
		}
		printf("ok\n");
		goto out;
	}
	if (strcmp(verb, "down") != 0 && strcmp(verb, "up") != 0) {
		printf("error: unknown command %s\n", verb);
		goto out;
	}
	if (arg && parse_int(arg, 1, brokers, &id)) {
		printf("error: no broker %s\n", arg);
		goto out;
	}
	err = strcmp(verb, "down") == 0 ? rd_kafka_mock_broker_set_down(mc, id)
					: rd_kafka_mock_broker_set_up(mc, id);
	if (err)
		printf("error: %s\n", rd_kafka_err2str(err));
	else
		printf("ok\n");
out:
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	char errstr[512], line[256], *topics[TOPICS_MAX];
	rd_kafka_mock_cluster_t *mc = NULL;
	int ntopics = 0, brokers = 1, sigfd = -1, rc = 1;
	size_t have = 0;
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk = NULL;
	sigset_t mask;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc) {
			if (parse_int(argv[++i], 1, 16, &brokers))
				return usage();
		} else if (strcmp(argv[i], "--topic") == 0 && i + 1 < argc) {
			if (ntopics == TOPICS_MAX)
				return usage();
			topics[ntopics++] = argv[++i];
		} else {
			return usage();
		}
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGPIPE);
	/* blocked before librdkafka starts its threads, so they inherit it */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sigfd < 0) {
		perror("kafka_mock: signalfd");
		return 1;
	}

	/* The handle only hosts the cluster: no bootstrap servers of its own. */
	conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "kafka_mock: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		goto cleanup;
	}
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		fprintf(stderr, "kafka_mock: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		goto cleanup;
	}
	mc = rd_kafka_mock_cluster_new(rk, brokers);
	if (!mc) {
		fprintf(stderr, "kafka_mock: cannot create the mock cluster\n");
		goto cleanup;
	}
	for (int i = 0; i < ntopics; i++)
		if (create_topic(mc, topics[i], brokers)) {
			fprintf(stderr, "kafka_mock: bad topic %s\n", topics[i]);
			goto cleanup;
		}
	printf("bootstrap=%s\n", rd_kafka_mock_cluster_bootstraps(mc));
	fflush(stdout);

	for (;;) {
		struct pollfd p[2] = {{.fd = 0, .events = POLLIN}, {.fd = sigfd, .events = POLLIN}};
		ssize_t n;
		char *nl;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("kafka_mock: poll");
			goto cleanup;
		}
		if (p[1].revents)
			break;
		if (!p[0].revents)
			continue;
		n = read(0, line + have, sizeof(line) - 1 - have);
		if (n <= 0)
			break;
		have += n;
		line[have] = '\0';
		while ((nl = strchr(line, '\n'))) {
			size_t used = nl - line + 1;
			int quit;

			*nl = '\0';
			quit = command(mc, line, brokers);
			memmove(line, line + used, have - used + 1);
			have -= used;
			if (quit)
				goto done;
		}
		if (have == sizeof(line) - 1)
			have = 0; /* an overlong line: drop it */
	}
done:
	rc = 0;
cleanup:
	if (mc)
		rd_kafka_mock_cluster_destroy(mc);
	if (rk)
		rd_kafka_destroy(rk);
	if (sigfd >= 0)
		close(sigfd);
	return rc;
}
