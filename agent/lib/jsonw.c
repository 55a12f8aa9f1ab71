// SPDX-License-Identifier: Apache-2.0
#include "jsonw.h"

#include <string.h>

void nh_json_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

void nh_json_str_known(json_object *o, const char *k, const char *v)
{
	if (v && *v)
		json_object_object_add(o, k, json_object_new_string(v));
}

void nh_json_int(json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

void nh_json_uint(json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

void nh_json_result(json_object *o, int64_t result)
{
	nh_json_int(o, "result", result);
	if (result < 0) {
		const char *name = strerrorname_np((int)-result);

		nh_json_str(o, "error", name ? name : "unknown");
	}
}

json_object *nh_json_sub(json_object *o, const char *k)
{
	json_object *s;

	if (json_object_object_get_ex(o, k, &s))
		return s;
	s = json_object_new_object();
	if (s)
		json_object_object_add(o, k, s);
	return s;
}
