// SPDX-License-Identifier: Apache-2.0
/* The lifecycle state file (issue 19): a first start finds no gap, a
 * clean stop gives a gap from the stop, a run that never stopped gives
 * one from its last sign of life, a broken file still says a run was
 * there; and the flood and gap records survive the wire. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "lifecycle.h"
#include "wire.h"

static char dir[] = "/tmp/nh-lifecycle-XXXXXX";

static void test_cycle(void)
{
	struct nh_lifecycle l;
	struct nh_lifecycle_gap g;
	char path[256];
	FILE *f;

	CHECK(nh_lifecycle_start(&l, dir, 1000, 1, &g) == 0);
	CHECK(!g.found);
	CHECK(nh_lifecycle_stop(&l, 2000) == 0);
	CHECK(nh_lifecycle_start(&l, dir, 5000, 1, &g) == 0);
	CHECK(g.found && g.clean_stop && g.start_ns == 2000 && g.end_ns == 5000);
	/* no stop: the gap starts at the last beat */
	nh_lifecycle_beat(&l, 6000, 1); /* too early: not written */
	nh_lifecycle_beat(&l, 7000, 1 + NH_LIFECYCLE_BEAT_NS);
	CHECK(nh_lifecycle_start(&l, dir, 9000, 1, &g) == 0);
	CHECK(g.found && !g.clean_stop && g.start_ns == 7000 && g.end_ns == 9000);
	/* garbage, or a time after now: a run was there, when is unknown */
	snprintf(path, sizeof(path), "%s/%s", dir, NH_LIFECYCLE_FILE);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("not a state file\n", f);
		fclose(f);
	}
	CHECK(nh_lifecycle_start(&l, dir, 10000, 1, &g) == 0);
	CHECK(g.found && !g.clean_stop && g.start_ns == 10000 && g.end_ns == 10000);
	CHECK(nh_lifecycle_stop(&l, 99999) == 0);
	CHECK(nh_lifecycle_start(&l, dir, 11000, 1, &g) == 0);
	CHECK(g.found && g.start_ns == 11000);
	unlink(path);
}

static void test_parse(void)
{
	uint64_t t;
	bool c;

	CHECK(nh_lifecycle_parse("nhiscope-state 1\nalive_ns 5\nclean 1\n", &t, &c) == 0 &&
	      t == 5 && c);
	CHECK(nh_lifecycle_parse("nhiscope-state 1\nalive_ns 5\nclean 2\n", &t, &c) != 0);
	CHECK(nh_lifecycle_parse("nhiscope-state 1\nalive_ns 0\nclean 0\n", &t, &c) != 0);
	CHECK(nh_lifecycle_parse("", &t, &c) != 0);
}

static struct nh_wire_record r, o;

static void test_wire(void)
{
	uint8_t buf[4096];
	size_t len = 0;
	const char *why = NULL;

	memset(&r, 0, sizeof(r));
	r.id = (struct nh_wire_id){"node-1", "boot", 7};
	r.time_ns = 1;
	r.kind = NH_WIRE_FLOOD;
	CHECK(nh_wire_check(&r, &why) != 0); /* a flood names its identity */
	r.identity.key = "k8s:sa/ns/flooder";
	r.flood.window_start_ns = 10;
	r.flood.window_end_ns = 20;
	r.flood.budget = 2000;
	r.flood.budget_window_ns = 1000000000;
	r.flood.identity_cgroup_id = 42;
	r.flood.counts[r.flood.n_counts++] = (struct nh_wire_counter){"open", 123456};
	r.flood.counts[r.flood.n_counts++] = (struct nh_wire_counter){"exec", 3};
	CHECK(nh_wire_pack(&r, buf, sizeof(buf), &len) == 0);
	CHECK(nh_wire_unpack(buf, len, &o, &why) == 0);
	CHECK(o.kind == NH_WIRE_FLOOD && o.flood.n_counts == 2 &&
	      o.flood.counts[0].value == 123456 && o.flood.budget == 2000 &&
	      o.flood.identity_cgroup_id == 42 && o.flood.window_end_ns == 20);
	CHECK_STR(o.flood.counts[1].name, "exec");
	nh_wire_free(&o);
	r.flood.window_start_ns = 30;
	CHECK(nh_wire_check(&r, &why) != 0);

	memset(&r, 0, sizeof(r));
	r.id = (struct nh_wire_id){"node-1", "boot", 8};
	r.time_ns = 1;
	r.kind = NH_WIRE_MONITORING_GAP;
	r.monitoring_gap = (struct nh_wire_gap){100, 300, true, "restart"};
	CHECK(nh_wire_pack(&r, buf, sizeof(buf), &len) == 0);
	CHECK(nh_wire_unpack(buf, len, &o, &why) == 0);
	CHECK(o.kind == NH_WIRE_MONITORING_GAP && o.monitoring_gap.start_ns == 100 &&
	      o.monitoring_gap.end_ns == 300 && o.monitoring_gap.clean_stop);
	CHECK_STR(o.monitoring_gap.reason, "restart");
	CHECK_STR(nh_wire_kind_name(o.kind), "monitoring_gap");
	nh_wire_free(&o);
	r.monitoring_gap.start_ns = 400;
	CHECK(nh_wire_check(&r, &why) != 0);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_cycle();
	test_parse();
	test_wire();
	rmdir(dir);
	return nh_check_report("lifecycle");
}
