// SPDX-License-Identifier: Apache-2.0
/* The on-disk spool: order, acknowledgement in any order, recovery after
 * a restart and a torn write, checksums, and shedding activity first. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "spool.h"

static struct nh_spool sp;
static struct nh_spool_record rec;

static char *tmpdir(void)
{
	static char t[64];

	snprintf(t, sizeof(t), "/tmp/nh-spool-XXXXXX");
	return mkdtemp(t);
}

static void rmrf(const char *d)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	CHECK(system(cmd) == 0);
}

static int push(enum nh_spool_class c, int i)
{
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "%s-%d", c == NH_SPOOL_ANOMALY ? "anomaly" : "act", i);

	return nh_spool_append(&sp, c,
			       c == NH_SPOOL_ANOMALY ? "nhiscope.anomalies" : "nhiscope.activity",
			       buf, (size_t)n);
}

static int next_str(char *out, size_t len)
{
	int err = nh_spool_next(&sp, &rec);

	if (!err)
		snprintf(out, len, "%.*s", (int)rec.len, (const char *)rec.data);
	return err;
}

static void test_order_and_ack(void)
{
	char *d = tmpdir(), s[64];
	struct nh_spool_pos pos[5];

	CHECK(nh_spool_open(&sp, d, 1 << 20, NH_SPOOL_SYNC_FLUSH) == 0);
	for (int i = 0; i < 3; i++)
		CHECK(push(NH_SPOOL_ACTIVITY, i) == 0);
	for (int i = 0; i < 2; i++)
		CHECK(push(NH_SPOOL_ANOMALY, i) == 0);
	CHECK(nh_spool_pending(&sp) == 5);
	/* anomalies first, each class in order */
	const char *want[] = {"anomaly-0", "anomaly-1", "act-0", "act-1", "act-2"};
	for (int i = 0; i < 5; i++) {
		CHECK(next_str(s, sizeof(s)) == 0);
		CHECK_STR(s, want[i]);
		CHECK_STR(rec.topic, i < 2 ? "nhiscope.anomalies" : "nhiscope.activity");
		pos[i] = rec.pos;
	}
	CHECK(nh_spool_next(&sp, &rec) == -ENOENT);
	/* out-of-order acknowledgement: nothing is forgotten until the prefix is */
	CHECK(nh_spool_ack(&sp, NH_SPOOL_ACTIVITY, pos[3]) == 0);
	CHECK(nh_spool_pending(&sp) == 5);
	CHECK(nh_spool_ack(&sp, NH_SPOOL_ANOMALY, pos[0]) == 0);
	CHECK(nh_spool_ack(&sp, NH_SPOOL_ANOMALY, pos[1]) == 0);
	CHECK(nh_spool_ack(&sp, NH_SPOOL_ACTIVITY, pos[2]) == 0);
	CHECK(nh_spool_pending(&sp) == 1);
	CHECK(nh_spool_ack(&sp, NH_SPOOL_ACTIVITY, pos[2]) == -ENOENT);
	CHECK(nh_spool_flush(&sp) == 0);
	nh_spool_close(&sp);

	/* a restart resends exactly what was not acknowledged */
	CHECK(nh_spool_open(&sp, d, 1 << 20, NH_SPOOL_SYNC_FLUSH) == 0);
	CHECK(nh_spool_pending(&sp) == 1);
	CHECK(next_str(s, sizeof(s)) == 0);
	CHECK_STR(s, "act-2");
	CHECK(nh_spool_next(&sp, &rec) == -ENOENT);
	/* a failed delivery: rewind and send again */
	nh_spool_rewind(&sp);
	CHECK(next_str(s, sizeof(s)) == 0);
	CHECK_STR(s, "act-2");
	CHECK(nh_spool_ack(&sp, NH_SPOOL_ACTIVITY, rec.pos) == 0);
	CHECK(nh_spool_pending(&sp) == 0);
	nh_spool_close(&sp);
	rmrf(d);
}

static void test_torn_and_corrupt(void)
{
	char *d = tmpdir(), s[64], seg[PATH_MAX];
	int fd;

	CHECK(nh_spool_open(&sp, d, 1 << 20, NH_SPOOL_SYNC_ALWAYS) == 0);
	for (int i = 0; i < 3; i++)
		CHECK(push(NH_SPOOL_ANOMALY, i) == 0);
	nh_spool_close(&sp);
	snprintf(seg, sizeof(seg), "%s/anomaly/%016llx.seg", d, 1ULL);
	/* a crash in the middle of a write leaves half a record */
	fd = open(seg, O_WRONLY | O_APPEND);
	CHECK(fd >= 0 && write(fd, "NHSR\x40\x00", 6) == 6);
	close(fd);
	CHECK(nh_spool_open(&sp, d, 1 << 20, NH_SPOOL_SYNC_ALWAYS) == 0);
	CHECK(nh_spool_pending(&sp) == 3);
	CHECK(push(NH_SPOOL_ANOMALY, 3) == 0); /* appended after the cut, readable */
	for (int i = 0; i < 4; i++) {
		char want[32];

		snprintf(want, sizeof(want), "anomaly-%d", i);
		CHECK(next_str(s, sizeof(s)) == 0);
		CHECK_STR(s, want);
	}
	nh_spool_close(&sp);
	/* a flipped byte fails the checksum: counted, skipped, no crash */
	fd = open(seg, O_WRONLY);
	CHECK(fd >= 0 && pwrite(fd, "X", 1, 20) == 1);
	close(fd);
	CHECK(nh_spool_open(&sp, d, 1 << 20, NH_SPOOL_SYNC_ALWAYS) == 0);
	CHECK(nh_spool_pending(&sp) == 3); /* the damaged one is not pending */
	for (int i = 1; i < 4; i++) {
		char want[32];

		snprintf(want, sizeof(want), "anomaly-%d", i);
		CHECK(next_str(s, sizeof(s)) == 0);
		CHECK_STR(s, want);
	}
	CHECK(nh_spool_next(&sp, &rec) == -ENOENT);
	CHECK(sp.corrupt == 1);
	nh_spool_close(&sp);
	rmrf(d);
}

static void test_shedding(void)
{
	char *d = tmpdir(), s[64];
	int act = 0, an = 0, err;

	/* 64 KiB: segments of 8 KiB */
	CHECK(nh_spool_open(&sp, d, 64 << 10, NH_SPOOL_SYNC_NONE) == 0);
	while ((err = push(NH_SPOOL_ACTIVITY, act)) == 0)
		act++;
	CHECK(err == -ENOSPC);
	CHECK(sp.shed[NH_SPOOL_ACTIVITY] == 1);
	CHECK(act > 100);
	/* anomalies still get in: the oldest activity makes room */
	for (an = 0; an < 200; an++)
		CHECK(push(NH_SPOOL_ANOMALY, an) == 0);
	CHECK(sp.shed[NH_SPOOL_ANOMALY] == 0);
	CHECK(sp.shed[NH_SPOOL_ACTIVITY] > 1);
	CHECK(sp.q[0].bytes + sp.q[1].bytes <= 64 << 10);
	/* what is left is in order: anomalies, then the newest activity */
	CHECK(next_str(s, sizeof(s)) == 0);
	CHECK_STR(s, "anomaly-0");
	/* every activity record is either still here or counted as shed */
	CHECK(sp.q[NH_SPOOL_ACTIVITY].records + sp.shed[NH_SPOOL_ACTIVITY] == (uint64_t)act + 1);
	/* anomalies alone past the bound: shed and counted, never a crash */
	while (push(NH_SPOOL_ANOMALY, an) == 0)
		an++;
	CHECK(sp.shed[NH_SPOOL_ANOMALY] == 1);
	CHECK(sp.q[NH_SPOOL_ACTIVITY].records == 0);
	CHECK(nh_spool_append(&sp, NH_SPOOL_ANOMALY, "t", s, NH_SPOOL_RECORD_MAX + 1) == -EMSGSIZE);
	nh_spool_close(&sp);
	rmrf(d);
}

int main(void)
{
	test_order_and_ack();
	test_torn_and_corrupt();
	test_shedding();
	return nh_check_report("spool");
}
