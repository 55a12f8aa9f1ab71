/* SPDX-License-Identifier: Apache-2.0 */
/*
 * technique: how bad an anomaly is and which MITRE ATT&CK technique it
 * looks like. A fixed table over the normalised value; no state.
 */
#ifndef NH_MODELS_TECHNIQUE_H
#define NH_MODELS_TECHNIQUE_H

#include "models.h"

struct nh_verdict {
	enum nh_severity severity;
	const char *technique;	    /* "T1552.001", or NULL where none fits */
	const char *technique_name; /* NULL with technique */
};

/* A novel item of cat whose normalised value is value (credentials:
 * "kind:credential"). */
void nh_technique_novel(enum nh_category cat, const char *value, struct nh_verdict *v);

/* A rate anomaly in cat. */
void nh_technique_rate(enum nh_category cat, struct nh_verdict *v);

#endif
