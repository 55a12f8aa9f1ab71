/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kafkaconf: the librdkafka configuration both Kafka clients share (the
 * agent's producer, the collector's consumer and dead-letter producer):
 * properties set with errors logged without their values, properties read
 * from secret files, librdkafka's log levels as ours.
 */
#ifndef NH_KAFKACONF_H
#define NH_KAFKACONF_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "log.h"

/* Largest secret a property file may hold: a PEM key and its chain. */
#define NH_KAFKACONF_SECRET_MAX (64 * 1024)

/* Set key=val; a refusal is logged naming the key, never the value (it
 * may be a password). 0 or -EINVAL. */
int nh_kafkaconf_set(rd_kafka_conf_t *conf, const char *key, const char *val,
		     const struct nh_log *log);

/* "key=path": a property whose value is a file's content (a mounted
 * Secret). The value and librdkafka's message about it are never logged.
 * 0 or -errno (-EINVAL: not key=path or refused). */
int nh_kafkaconf_set_from_file(rd_kafka_conf_t *conf, const char *spec, const struct nh_log *log);

/* librdkafka's syslog-style level as ours. */
enum nh_log_level nh_kafkaconf_level(int level);

#endif
