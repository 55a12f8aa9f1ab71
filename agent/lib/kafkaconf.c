// SPDX-License-Identifier: Apache-2.0
#include "kafkaconf.h"

#include <errno.h>
#include <string.h>

#include "secretfile.h"

int nh_kafkaconf_set(rd_kafka_conf_t *conf, const char *key, const char *val,
		     const struct nh_log *log)
{
	char errstr[512];

	if (rd_kafka_conf_set(conf, key, val, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
		nh_err(log, "kafka: property %s: %s", key, errstr);
		return -EINVAL;
	}
	return 0;
}

int nh_kafkaconf_set_from_file(rd_kafka_conf_t *conf, const char *spec, const struct nh_log *log)
{
	char key[256], errstr[512] = "", *value = NULL;
	int err;

	err = nh_secretfile_property(spec, key, sizeof(key), &value, NH_KAFKACONF_SECRET_MAX);
	if (err) {
		if (err == -EINVAL)
			nh_err(log, "kafka.propertyFiles: expected key=path");
		else
			nh_err(log, "kafka.propertyFiles: %s: cannot read %s: %s", key,
			       strchr(spec, '=') + 1, strerror(-err));
		return err;
	}
	/* librdkafka's message may quote the value: not shown. */
	if (rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
		nh_err(log, "kafka.propertyFiles: %s: librdkafka refused the value", key);
		err = -EINVAL;
	}
	explicit_bzero(errstr, sizeof(errstr));
	nh_secretfile_free(value, NH_KAFKACONF_SECRET_MAX);
	return err;
}

enum nh_log_level nh_kafkaconf_level(int level)
{
	return level <= 3   ? NH_LOG_ERROR
	       : level == 4 ? NH_LOG_WARN
	       : level <= 6 ? NH_LOG_INFO
			    : NH_LOG_DEBUG;
}
