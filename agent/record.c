// SPDX-License-Identifier: Apache-2.0
#include "record.h"

#include <errno.h>
#include <string.h>

static const char *str(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static int64_t num(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

static double dbl(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_double(v) : 0;
}

static void identity(json_object *o, struct nh_wire_identity *id)
{
	json_object *c = NULL;

	id->key = str(o, "identity");
	id->source = str(o, "identity_source");
	id->verified =
	    json_object_object_get_ex(o, "identity_verified", &c) && json_object_get_boolean(c);
	c = NULL;
	if (!json_object_object_get_ex(o, "context", &c))
		return;
	id->pod_uid = str(c, "pod_uid");
	id->pod_name = str(c, "pod");
	id->namespace = str(c, "namespace");
	id->service_account = str(c, "service_account");
	id->container_id = str(c, "container_id");
	id->unit = str(c, "unit");
	id->workload_kind = str(c, "workload_kind");
	id->workload_name = str(c, "workload");
	id->node = str(c, "node");
}

static void process(json_object *o, struct nh_wire_process *p)
{
	p->pid = (uint32_t)num(o, "pid");
	p->ppid = (uint32_t)num(o, "ppid");
	p->uid = (uint32_t)num(o, "uid");
	p->user = str(o, "user");
	p->comm = str(o, "comm");
	p->exe = str(o, "exe");
}

int nh_record_from_json(json_object *o, uint64_t time_ns, const struct nh_wire_id *id,
			const char *activity_json, struct nh_wire_record *r)
{
	const char *kind = str(o, "kind");
	json_object *v;

	memset(r, 0, sizeof(*r));
	if (!kind)
		return -ENOENT;
	r->id = *id;
	r->time_ns = time_ns;
	identity(o, &r->identity);
	process(o, &r->process);
	if (strcmp(kind, "anomaly") == 0) {
		struct nh_wire_anomaly *a = &r->anomaly;
		int c = nh_wire_category_parse(str(o, "category") ?: "");
		int s = nh_wire_severity_parse(str(o, "severity") ?: "");

		r->kind = NH_WIRE_ANOMALY;
		a->category = c > 0 ? c : NH_WIRE_CAT_NONE;
		a->severity = s > 0 ? s : NH_WIRE_SEV_NONE;
		a->rate = json_object_object_get_ex(o, "rate_per_min", NULL);
		a->value = str(o, "value");
		a->technique_id = str(o, "technique");
		a->technique_name = str(o, "technique_name");
		a->explanation = str(o, "explanation");
		a->baseline_age_ns = (uint64_t)num(o, "baseline_age_s") * 1000000000ULL;
		a->baseline_items = (uint64_t)num(o, "baseline_items");
		a->rate_observed = dbl(o, "rate_per_min");
		a->rate_mean = dbl(o, "baseline_mean");
		a->rate_stddev = dbl(o, "baseline_stddev");
	} else if (strcmp(kind, "credential_use") == 0) {
		struct nh_wire_credential_use *u = &r->credential_use;

		r->kind = NH_WIRE_CREDENTIAL_USE;
		u->credential_kind = str(o, "credential_kind");
		u->credential = str(o, "credential");
		u->via = str(o, "via");
		u->result = num(o, "result");
		u->count =
		    json_object_object_get_ex(o, "count", NULL) ? (uint64_t)num(o, "count") : 1;
	} else if (strcmp(kind, "secret_exposure") == 0 || strcmp(kind, "human_use") == 0 ||
		   strcmp(kind, "credential_reuse") == 0 ||
		   strcmp(kind, "identity_conflict") == 0) {
		struct nh_wire_finding *f = &r->finding;

		r->kind = NH_WIRE_FINDING;
		f->type = nh_wire_finding_parse(kind);
		f->secret_kind = str(o, "secret_kind");
		f->fingerprint = str(o, "fingerprint");
		f->fingerprint_previous = str(o, "fingerprint_previous");
		f->reason = str(o, "reason");
		f->argument = str(o, "argument");
		f->credential_kind = str(o, "credential_kind");
		f->credential = str(o, "credential");
		f->path = str(o, "path");
		f->claimed_identity = str(o, "claimed_identity");
		f->believed_identity = str(o, "believed_identity");
		f->arg_index = (int32_t)num(o, "arg_index");
		if (json_object_object_get_ex(o, "identities", &v))
			for (size_t i = 0; i < json_object_array_length(v) &&
					   f->n_identities < NH_WIRE_IDENTITIES_MAX;
			     i++)
				f->identities[f->n_identities++] =
				    json_object_get_string(json_object_array_get_idx(v, i));
	} else if (activity_json && r->identity.key) {
		r->kind = NH_WIRE_ACTIVITY;
		r->activity.kind = kind;
		r->activity.json = activity_json;
	} else {
		return -ENOENT;
	}
	return 0;
}
