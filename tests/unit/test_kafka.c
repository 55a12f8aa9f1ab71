// SPDX-License-Identifier: Apache-2.0
/* The agent's producer against librdkafka's mock cluster (real protocol
 * on loopback): a producer that fails for good is replaced and the spool
 * sends what it had not delivered; nothing is counted lost. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "check.h"
#include "clock.h"
#include "kafka.h"

static const struct nh_log quiet = {.level = NH_LOG_ERROR};

/* Polls k until cond holds (true) or 20 s pass (false). */
#define POLL_UNTIL(k, cond)                                                                        \
	({                                                                                         \
		uint64_t end_ = nh_clock_mono_ns() + 20000000000ULL;                               \
		while (!(cond) && nh_clock_mono_ns() < end_) {                                     \
			nh_kafka_poll((k), nh_clock_mono_ns());                                    \
			usleep(10000);                                                             \
		}                                                                                  \
		(bool)(cond);                                                                      \
	})

static int heartbeat(struct nh_kafka *k)
{
	struct nh_wire_record r = {0};

	nh_kafka_next_id(k, &r.id);
	r.kind = NH_WIRE_HEARTBEAT;
	r.time_ns = 1;
	r.heartbeat.agent_version = "test";
	return nh_kafka_send(k, &r);
}

static void fatal_error_renews_the_producer(const char *brokers, const char *dir)
{
	static struct nh_kafka k;
	struct nh_kafka_config cfg = {
	    .brokers = brokers,
	    .topic_anomalies = "nh.anomalies",
	    .topic_activity = "nh.activity",
	    .topic_heartbeats = "nh.heartbeats",
	    .spool_dir = dir,
	    .spool_bytes = 8 << 20,
	    .version = "test",
	};

	CHECK(nh_kafka_open(&k, &cfg, &quiet) == 0);
	for (int i = 0; i < 3; i++)
		CHECK(heartbeat(&k) == 0);
	CHECK(POLL_UNTIL(&k, k.delivered == 3 && nh_spool_pending(&k.spool) == 0));

	/* as when the idempotent producer loses its sequence */
	CHECK(rd_kafka_test_fatal_error(k.rk, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
					"unit test") == RD_KAFKA_RESP_ERR_NO_ERROR);
	for (int i = 0; i < 3; i++)
		CHECK(heartbeat(&k) == 0);
	CHECK(POLL_UNTIL(&k, k.delivered == 6 && nh_spool_pending(&k.spool) == 0));
	CHECK(k.renewed == 1);
	CHECK(k.dropped[NH_SPOOL_ANOMALY] == 0 && k.dropped[NH_SPOOL_ACTIVITY] == 0);
	CHECK(rd_kafka_fatal_error(k.rk, NULL, 0) == RD_KAFKA_RESP_ERR_NO_ERROR);
	/* and it goes on */
	CHECK(heartbeat(&k) == 0);
	CHECK(POLL_UNTIL(&k, k.delivered == 7));
	nh_kafka_close(&k, 5000);
}

int main(void)
{
	char errstr[256], dir[] = "/tmp/nh-kafka-XXXXXX", cmd[64];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_t *host;

	/* the handle only hosts the mock cluster */
	CHECK(rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof(errstr)) ==
	      RD_KAFKA_CONF_OK);
	host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	CHECK(host != NULL);
	if (!host)
		return 1;
	mc = rd_kafka_mock_cluster_new(host, 1);
	CHECK(mc != NULL);
	CHECK(mkdtemp(dir) != NULL);
	if (mc) {
		CHECK(rd_kafka_mock_topic_create(mc, "nh.heartbeats", 1, 1) == 0);
		fatal_error_renews_the_producer(rd_kafka_mock_cluster_bootstraps(mc), dir);
		rd_kafka_mock_cluster_destroy(mc);
	}
	rd_kafka_destroy(host);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	return nh_check_report("kafka");
}
