/* SPDX-License-Identifier: Apache-2.0 */
/*
 * baseline: the agent's side of the behaviour models — turns attributed
 * events and credential uses into observations for models/, and the
 * anomalies it returns into anomaly records with their explanation.
 */
#ifndef NH_BASELINE_H
#define NH_BASELINE_H

#include <stdbool.h>

#include "findings.h"
#include "models.h"
#include "render.h"

#define NH_BASELINE_BATCH 16

struct nh_baseline {
	struct nh_models models;
	struct nh_anomaly out[NH_BASELINE_BATCH];
	uint64_t anomalies, observe_errors;
	uint64_t anomalies_by[NH_CAT_MAX][NH_SEV_CRITICAL + 1]; /* by category and severity */
	struct nh_wire_record rec;				/* the anomaly being reported */
	struct nh_record_buf buf;
	char why[NH_MODEL_VALUE_MAX + 256];
};

int nh_baseline_init(struct nh_baseline *b, const struct nh_model_config *cfg, size_t max_profiles);
void nh_baseline_free(struct nh_baseline *b);

/*
 * Learn from one event, emitting anomalies through emit. *known is set
 * when the event is already part of a stable profile (the agent then
 * keeps that object in the kernel).
 */
void nh_baseline_event(struct nh_baseline *b, const struct nh_attributed *ev, nh_finding_fn emit,
		       void *ctx, bool *known);
/* A credential_use the findings reported (count: repeats it stands for). */
void nh_baseline_credential(struct nh_baseline *b, const struct nh_attributed *ev, const char *kind,
			    const char *credential, uint64_t count, nh_finding_fn emit, void *ctx);
/* Rates and state changes; now_wall_ns is CLOCK_REALTIME. */
void nh_baseline_tick(struct nh_baseline *b, uint64_t now_wall_ns, nh_finding_fn emit, void *ctx);

#endif
