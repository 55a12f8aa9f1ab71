// SPDX-License-Identifier: Apache-2.0
/* The on-disk spool: order, acknowledgement in any order, recovery after
 * a restart and a torn write, checksums, and shedding activity first. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "spool.h"
#include "worker.h"

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
	/* a second report for a record sent twice counts once */
	CHECK(nh_spool_ack(&sp, NH_SPOOL_ACTIVITY, pos[3]) == -EALREADY);
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

/* A rewind sends again what was not acknowledged, and only that: a record
 * delivered after one that failed is stepped over (sent again it could be
 * refused and counted lost although it is on Kafka), also across two
 * rewinds. */
static void test_rewind_skips_acknowledged(void)
{
	char *d = tmpdir(), s[64];
	struct nh_spool_pos pos[4];

	CHECK(nh_spool_open(&sp, d, 1 << 20, NH_SPOOL_SYNC_FLUSH) == 0);
	for (int i = 0; i < 4; i++)
		CHECK(push(NH_SPOOL_ACTIVITY, i) == 0);
	for (int i = 0; i < 4; i++) {
		CHECK(next_str(s, sizeof(s)) == 0);
		pos[i] = rec.pos;
	}
	CHECK(nh_spool_ack(&sp, NH_SPOOL_ACTIVITY, pos[1]) == 0);
	CHECK(nh_spool_ack(&sp, NH_SPOOL_ACTIVITY, pos[3]) == 0);
	nh_spool_rewind(&sp); /* act-0 and act-2 failed */
	CHECK(next_str(s, sizeof(s)) == 0);
	CHECK_STR(s, "act-0");
	nh_spool_rewind(&sp); /* act-0 failed again, before act-2 was resent */
	CHECK(next_str(s, sizeof(s)) == 0);
	CHECK_STR(s, "act-0");
	pos[0] = rec.pos;
	CHECK(next_str(s, sizeof(s)) == 0);
	CHECK_STR(s, "act-2");
	pos[2] = rec.pos;
	CHECK(nh_spool_next(&sp, &rec) == -ENOENT);
	CHECK(nh_spool_pending(&sp) == 4);
	CHECK(nh_spool_ack(&sp, NH_SPOOL_ACTIVITY, pos[0]) == 0);
	CHECK(nh_spool_pending(&sp) == 2); /* act-1 stays acknowledged */
	CHECK(nh_spool_ack(&sp, NH_SPOOL_ACTIVITY, pos[2]) == 0);
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

/* The event time rides in the checksummed topic field: read back as
 * appended, invisible to a reader that predates it (topic up to the NUL,
 * the same checksum), dropped for records of an earlier run. */
static void test_event_time(void)
{
	char *d = tmpdir(), s[64], seg[PATH_MAX], longt[NH_SPOOL_TOPIC_MAX + 1];
	const uint64_t t0 = 0x0102030405060708ULL;
	uint8_t raw[512];
	uint16_t tl, flags;
	uint32_t len, crc;
	int fd;

	memset(longt, 't', NH_SPOOL_TOPIC_MAX - 5);
	longt[NH_SPOOL_TOPIC_MAX - 5] = '\0';
	CHECK(nh_spool_open(&sp, d, 1 << 20, NH_SPOOL_SYNC_FLUSH) == 0);
	CHECK(nh_spool_append_timed(&sp, NH_SPOOL_ANOMALY, "nhiscope.anomalies", "a-0", 3, t0) ==
	      0);
	CHECK(nh_spool_append(&sp, NH_SPOOL_ANOMALY, "nhiscope.anomalies", "a-1", 3) == 0);
	/* no room for the time after a topic this long: stored without */
	CHECK(nh_spool_append_timed(&sp, NH_SPOOL_ANOMALY, longt, "a-2", 3, t0) == 0);
	CHECK(next_str(s, sizeof(s)) == 0);
	CHECK_STR(s, "a-0");
	CHECK_STR(rec.topic, "nhiscope.anomalies");
	CHECK(rec.event_ns == t0);
	CHECK(next_str(s, sizeof(s)) == 0);
	CHECK_STR(s, "a-1");
	CHECK(rec.event_ns == 0);
	CHECK(next_str(s, sizeof(s)) == 0);
	CHECK_STR(s, "a-2");
	CHECK_STR(rec.topic, longt);
	CHECK(rec.event_ns == 0);
	/* a rewind hands the time out again */
	nh_spool_rewind(&sp);
	CHECK(next_str(s, sizeof(s)) == 0 && rec.event_ns == t0);
	nh_spool_close(&sp);

	/* the first record as an older agent reads it */
	snprintf(seg, sizeof(seg), "%s/anomaly/%016llx.seg", d, 1ULL);
	fd = open(seg, O_RDONLY);
	CHECK(fd >= 0 && pread(fd, raw, sizeof(raw), 0) > 16 + 18 + 9 + 3);
	close(fd);
	memcpy(&len, raw + 4, 4);
	memcpy(&crc, raw + 8, 4);
	memcpy(&tl, raw + 12, 2);
	memcpy(&flags, raw + 14, 2);
	CHECK(len == 3 && tl == 18 + 9 && flags == (1 | NH_SPOOL_FORMAT << 8));
	CHECK(strnlen((const char *)raw + 16, tl) == 18); /* the topic ends at the NUL */
	CHECK(memcmp(raw + 16, "nhiscope.anomalies", 18) == 0);
	/* keyed: seeded with the spool's secret */
	CHECK(crc == (uint32_t)crc32(sp.q[0].seed, raw + 16, tl + len));
	CHECK(crc != (uint32_t)crc32(0, raw + 16, tl + len));
	CHECK(memcmp(raw + 16 + tl, "a-0", 3) == 0);

	/* after a restart the data is intact but the time is not trusted */
	CHECK(nh_spool_open(&sp, d, 1 << 20, NH_SPOOL_SYNC_FLUSH) == 0);
	CHECK(nh_spool_append_timed(&sp, NH_SPOOL_ANOMALY, "nhiscope.anomalies", "a-3", 3, 77) ==
	      0);
	CHECK(next_str(s, sizeof(s)) == 0);
	CHECK_STR(s, "a-0");
	CHECK_STR(rec.topic, "nhiscope.anomalies");
	CHECK(rec.event_ns == 0);
	CHECK(next_str(s, sizeof(s)) == 0 && next_str(s, sizeof(s)) == 0);
	CHECK(next_str(s, sizeof(s)) == 0);
	CHECK_STR(s, "a-3");
	CHECK(rec.event_ns == 77);
	nh_spool_close(&sp);

	/* the time is under the checksum: a flipped byte there skips the record */
	fd = open(seg, O_WRONLY);
	CHECK(fd >= 0 && pwrite(fd, "\xff", 1, 16 + 18 + 3) == 1);
	close(fd);
	CHECK(nh_spool_open(&sp, d, 1 << 20, NH_SPOOL_SYNC_FLUSH) == 0);
	CHECK(nh_spool_pending(&sp) == 3);
	CHECK(next_str(s, sizeof(s)) == 0);
	CHECK_STR(s, "a-1");
	CHECK(sp.corrupt == 1);
	nh_spool_close(&sp);
	rmrf(d);
}

/* A record in a format newer than this release reads (a downgrade) is
 * skipped and counted, never misread; the current one is said to be. */
static void test_format(void)
{
	char *d = tmpdir(), s[64], seg[PATH_MAX];
	uint16_t flags = (NH_SPOOL_FORMAT + 1) << 8;
	int fd;

	CHECK(nh_spool_open(&sp, d, 1 << 20, NH_SPOOL_SYNC_ALWAYS) == 0);
	for (int i = 0; i < 2; i++)
		CHECK(push(NH_SPOOL_ANOMALY, i) == 0);
	nh_spool_close(&sp);
	snprintf(seg, sizeof(seg), "%s/anomaly/%016llx.seg", d, 1ULL);
	fd = open(seg, O_WRONLY);
	CHECK(fd >= 0 && pwrite(fd, &flags, 2, 14) == 2);
	close(fd);
	CHECK(nh_spool_open(&sp, d, 1 << 20, NH_SPOOL_SYNC_ALWAYS) == 0);
	CHECK(nh_spool_pending(&sp) == 1);
	CHECK(next_str(s, sizeof(s)) == 0);
	CHECK_STR(s, "anomaly-1");
	CHECK(rec.format == NH_SPOOL_FORMAT);
	CHECK(nh_spool_next(&sp, &rec) == -ENOENT);
	CHECK(sp.corrupt == 1);
	nh_spool_close(&sp);
	rmrf(d);
}

/* A record damaged in the middle of a segment costs that record only,
 * whatever was hit: its checksum, its magic, its length (claiming more or
 * less than it has). Also in the tail segment after a restart, which
 * recovery must not cut at the damage. */
static void test_resync(void)
{
	static const struct {
		off_t off;
		const char *bytes;
		size_t n;
	} hits[] = {
	    {0, "XXXX", 4},		/* magic */
	    {4, "\x00\x01\x00\x00", 4}, /* length: far too long */
	    {4, "\x01\x00\x00\x00", 4}, /* length: too short */
	    {12, "\x00\x00", 2},	/* topic length */
	    {30, "Z", 1},		/* payload */
	};
	char s[64], seg[PATH_MAX];

	for (size_t h = 0; h < sizeof(hits) / sizeof(hits[0]); h++) {
		char *d = tmpdir();
		off_t rec_off[6];
		int fd;

		CHECK(nh_spool_open(&sp, d, 1 << 20, NH_SPOOL_SYNC_ALWAYS) == 0);
		for (int i = 0; i < 6; i++) {
			rec_off[i] = (off_t)sp.q[0].tail.off;
			CHECK(push(NH_SPOOL_ANOMALY, i) == 0);
		}
		nh_spool_close(&sp);
		snprintf(seg, sizeof(seg), "%s/anomaly/%016llx.seg", d, 1ULL);
		fd = open(seg, O_WRONLY);
		CHECK(fd >= 0 && pwrite(fd, hits[h].bytes, hits[h].n, rec_off[2] + hits[h].off) ==
				     (ssize_t)hits[h].n);
		close(fd);
		CHECK(nh_spool_open(&sp, d, 1 << 20, NH_SPOOL_SYNC_ALWAYS) == 0);
		CHECK(nh_spool_pending(&sp) == 5);
		CHECK(push(NH_SPOOL_ANOMALY, 6) == 0); /* appended after, not over, the rest */
		for (int i = 0; i < 7; i++) {
			char want[32];

			if (i == 2)
				continue;
			snprintf(want, sizeof(want), "anomaly-%d", i);
			CHECK(next_str(s, sizeof(s)) == 0);
			CHECK_STR(s, want);
		}
		CHECK(nh_spool_next(&sp, &rec) == -ENOENT);
		CHECK(sp.corrupt == 1);
		nh_spool_close(&sp);
		rmrf(d);
	}
}

/* A workload controls bytes inside payloads (paths, argv): a whole record
 * image with a valid unkeyed checksum planted in a payload is not taken
 * for a record when the reader resynchronises after damage. */
static void test_forged_header(void)
{
	char *d = tmpdir(), s[64], seg[PATH_MAX];
	uint8_t forged[64], payload[128];
	const char *topic = "nhiscope.anomalies", *body = "forged";
	uint32_t magic = 0x5253484eu, len = 6, crc;
	uint16_t tl = 18, flags = NH_SPOOL_FORMAT << 8;
	off_t first;
	int fd;

	crc = (uint32_t)crc32(crc32(0, (const uint8_t *)topic, tl), (const uint8_t *)body, len);
	memcpy(forged, &magic, 4);
	memcpy(forged + 4, &len, 4);
	memcpy(forged + 8, &crc, 4);
	memcpy(forged + 12, &tl, 2);
	memcpy(forged + 14, &flags, 2);
	memcpy(forged + 16, topic, tl);
	memcpy(forged + 16 + tl, body, len);
	memset(payload, 'p', sizeof(payload));
	memcpy(payload + 8, forged, 16 + tl + len);
	CHECK(nh_spool_open(&sp, d, 1 << 20, NH_SPOOL_SYNC_ALWAYS) == 0);
	first = (off_t)sp.q[0].tail.off;
	CHECK(nh_spool_append(&sp, NH_SPOOL_ANOMALY, topic, payload, sizeof(payload)) == 0);
	CHECK(push(NH_SPOOL_ANOMALY, 1) == 0);
	nh_spool_close(&sp);
	snprintf(seg, sizeof(seg), "%s/anomaly/%016llx.seg", d, 1ULL);
	fd = open(seg, O_WRONLY);
	CHECK(fd >= 0 && pwrite(fd, "XXXX", 4, first) == 4); /* damage before the forgery */
	close(fd);
	CHECK(nh_spool_open(&sp, d, 1 << 20, NH_SPOOL_SYNC_ALWAYS) == 0);
	CHECK(next_str(s, sizeof(s)) == 0);
	CHECK_STR(s, "anomaly-1");
	CHECK(nh_spool_next(&sp, &rec) == -ENOENT);
	nh_spool_close(&sp);
	rmrf(d);
}

/* A write the file system refuses (here: past RLIMIT_FSIZE, EFBIG) is
 * tried again in a new segment and the record kept; one that can never
 * be written is counted by cause and as lost, and nothing else is hurt. */
static void test_write_errors(void)
{
	char *d = tmpdir(), s[64], big[12000];
	struct rlimit old, lim;
	int n = 0;

	CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
	signal(SIGXFSZ, SIG_IGN);
	CHECK(nh_spool_open(&sp, d, 1 << 20, NH_SPOOL_SYNC_NONE) == 0);
	lim = old;
	lim.rlim_cur = 4096;
	CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	/* a few hundred bytes of records: the first segment hits the limit */
	for (n = 0; n < 300; n++)
		CHECK(push(NH_SPOOL_ANOMALY, n) == 0);
	/* the write that crossed the limit was short: counted as a full disk */
	CHECK(sp.write_errors[NH_SPOOL_WERR_NOSPC] + sp.write_errors[NH_SPOOL_WERR_OTHER] >= 1);
	CHECK(sp.lost[NH_SPOOL_ANOMALY] == 0);
	memset(big, 'b', sizeof(big));
	CHECK(nh_spool_append(&sp, NH_SPOOL_ANOMALY, "t", big, sizeof(big)) != 0);
	CHECK(sp.lost[NH_SPOOL_ANOMALY] == 1);
	CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
	CHECK(nh_spool_pending(&sp) == 300);
	for (int i = 0; i < 300; i++) {
		char want[32];

		snprintf(want, sizeof(want), "anomaly-%d", i);
		CHECK(next_str(s, sizeof(s)) == 0);
		CHECK_STR(s, want);
	}
	CHECK(nh_spool_next(&sp, &rec) == -ENOENT);
	nh_spool_close(&sp);
	signal(SIGXFSZ, SIG_DFL);
	rmrf(d);
}

/* The spool's disk full long before its bound (a pod filled the node's
 * disk): new activity is refused and counted, an anomaly sheds the oldest
 * activity and gets in, and what is left reads back in order. Needs root
 * for the small tmpfs; skipped (said so) otherwise. */
static void test_disk_full(void)
{
	char *d = tmpdir(), s[64], pad[600];
	int act = 0, err;
	uint64_t act_lost;

	if (mount("tmpfs", d, "tmpfs", 0, "size=256k,mode=0700") != 0) {
		printf("skip test_disk_full: cannot mount a tmpfs (%s)\n", strerror(errno));
		rmdir(d);
		return;
	}
	memset(pad, 'p', sizeof(pad));
	/* the bound (64 MiB) is far above the disk (256 KiB) */
	CHECK(nh_spool_open(&sp, d, 64 << 20, NH_SPOOL_SYNC_NONE) == 0);
	while ((err = nh_spool_append(&sp, NH_SPOOL_ACTIVITY, "nhiscope.activity", pad,
				      sizeof(pad))) == 0)
		act++;
	CHECK(err == -ENOSPC);
	CHECK(act > 100);
	CHECK(sp.write_errors[NH_SPOOL_WERR_NOSPC] >= 1);
	CHECK(sp.lost[NH_SPOOL_ACTIVITY] == 1);
	CHECK(sp.lost[NH_SPOOL_ANOMALY] == 0);
	/* anomalies are never refused while activity can be shed */
	for (int i = 0; i < 50; i++)
		CHECK(push(NH_SPOOL_ANOMALY, i) == 0);
	CHECK(sp.lost[NH_SPOOL_ANOMALY] == 0 && sp.shed[NH_SPOOL_ANOMALY] == 0);
	CHECK(sp.shed[NH_SPOOL_ACTIVITY] >= 1);
	/* every activity record is still here or counted once */
	act_lost = sp.shed[NH_SPOOL_ACTIVITY] + sp.lost[NH_SPOOL_ACTIVITY];
	CHECK(sp.q[NH_SPOOL_ACTIVITY].records + act_lost == (uint64_t)act + 1);
	for (int i = 0; i < 50; i++) {
		char want[32];

		snprintf(want, sizeof(want), "anomaly-%d", i);
		CHECK(next_str(s, sizeof(s)) == 0);
		CHECK_STR(s, want);
	}
	nh_spool_close(&sp);
	CHECK(umount(d) == 0);
	rmdir(d);
}

/* A job that holds the worker's only thread until its pipe is written. */
struct gate {
	struct nh_job job;
	int rd;
};

static void gate_run(struct nh_job *j)
{
	char c;

	CHECK(read(((struct gate *)j)->rd, &c, 1) == 1);
}

static void gate_done(void *owner, struct nh_job *j)
{
	(void)owner;
	(void)j;
}

static void read_cursor(const char *d, char *out, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/activity/cursor", d);
	out[0] = '\0';
	f = fopen(path, "r");
	if (!f)
		return;
	if (!fgets(out, (int)len, f))
		out[0] = '\0';
	fclose(f);
}

/* With a worker, the flush hands its fsyncs and the cursor write out and
 * returns: a worker busy elsewhere (a slow disk) holds nothing up. The
 * acknowledged segments go once the cursor past them is on disk. */
static void test_flush_on_worker(void)
{
	char *d = tmpdir(), before[64], after[64];
	struct nh_worker w;
	struct gate g = {.job = {.key = 1, .run = gate_run, .done = gate_done}};
	uint64_t first;
	int pfd[2];

	CHECK(pipe(pfd) == 0);
	g.rd = pfd[0];
	CHECK(nh_worker_init(&w, 1, 60000000000ULL, 8) == 0);
	CHECK(nh_spool_open(&sp, d, 64 << 10, NH_SPOOL_SYNC_FLUSH) == 0);
	sp.worker = &w;
	/* enough to fill a few 8 KiB segments */
	for (int i = 0; i < 1000; i++)
		CHECK(push(NH_SPOOL_ACTIVITY, i) == 0);
	for (int i = 0; i < 1000; i++) {
		CHECK(nh_spool_next(&sp, &rec) == 0);
		CHECK(nh_spool_ack(&sp, NH_SPOOL_ACTIVITY, rec.pos) == 0);
	}
	read_cursor(d, before, sizeof(before));
	first = sp.q[NH_SPOOL_ACTIVITY].first_seg;
	CHECK(sp.q[NH_SPOOL_ACTIVITY].head.seg > first + 1); /* segments to drop */
	CHECK(nh_worker_submit(&w, &g.job) == 0);	     /* the only thread is busy */
	CHECK(nh_spool_flush(&sp) == 0);		     /* returns at once */
	read_cursor(d, after, sizeof(after));
	CHECK_STR(after, before); /* not written yet: on the worker */
	CHECK(sp.q[NH_SPOOL_ACTIVITY].first_seg == first);
	/* a second flush while the first is out is skipped, not queued */
	CHECK(nh_spool_flush(&sp) == 0);
	CHECK(sp.flushes_skipped == 1);
	CHECK(write(pfd[1], "x", 1) == 1);
	CHECK(nh_worker_wait(&w, (uint64_t)(uintptr_t)&sp, 10000000000ULL));
	read_cursor(d, after, sizeof(after));
	CHECK(strcmp(after, before) != 0);
	CHECK(sp.q[NH_SPOOL_ACTIVITY].first_seg == sp.q[NH_SPOOL_ACTIVITY].head.seg);
	nh_spool_close(&sp);
	CHECK(sp.worker == NULL);
	nh_worker_free(&w);
	close(pfd[0]);
	close(pfd[1]);
	rmrf(d);
}

static int open_fds(void)
{
	struct dirent *de;
	DIR *dir = opendir("/proc/self/fd");
	int n = 0;

	CHECK(dir != NULL);
	while ((de = readdir(dir)))
		n += de->d_name[0] != '.';
	closedir(dir);
	return n;
}

/* A segment that fills is synced by the next flush, by path, on the
 * worker: the append that rolls over neither syncs nor keeps its
 * descriptor, however many segments fill while the worker is held (a
 * hung disk), and a segment dropped before its sync is skipped. Without
 * a worker the flush syncs them on the caller's thread. */
static void test_rollover_sync_on_worker(void)
{
	char *d = tmpdir(), path[512];
	struct nh_spool_queue *q = &sp.q[NH_SPOOL_ACTIVITY];
	struct nh_worker w;
	struct gate g = {.job = {.key = 1, .run = gate_run, .done = gate_done}};
	int pfd[2], fds, i = 0;
	uint64_t full;

	CHECK(pipe(pfd) == 0);
	g.rd = pfd[0];
	CHECK(nh_worker_init(&w, 1, 60000000000ULL, 8) == 0);
	CHECK(nh_spool_open(&sp, d, 256 << 10, NH_SPOOL_SYNC_FLUSH) == 0); /* 32 KiB segments */
	/* no worker: the flush syncs on the caller's thread */
	while (q->tail.seg < q->first_seg + 2)
		CHECK(push(NH_SPOOL_ACTIVITY, i++) == 0);
	CHECK(q->unsynced == 2 && q->unsynced_first == q->first_seg);
	CHECK(nh_spool_flush(&sp) == 0);
	CHECK(nh_spool_unsynced(&sp) == 0);
	sp.worker = &w;
	CHECK(nh_worker_submit(&w, &g.job) == 0); /* the only thread is busy: a hung disk */
	fds = open_fds();
	while (q->tail.seg < q->first_seg + 5)
		CHECK(push(NH_SPOOL_ACTIVITY, i++) == 0);
	CHECK(open_fds() == fds); /* no descriptor kept per full segment */
	CHECK(q->unsynced == 3 && nh_spool_unsynced(&sp) == 3);
	CHECK(nh_spool_flush(&sp) == 0); /* hands them out, returns at once */
	CHECK(q->unsynced == 0 && sp.syncing == 3 && nh_spool_unsynced(&sp) == 3);
	while (q->tail.seg < q->first_seg + 6)
		CHECK(push(NH_SPOOL_ACTIVITY, i++) == 0);
	CHECK(nh_spool_flush(&sp) == 0); /* skipped: the first is still out */
	CHECK(sp.flushes_skipped == 1 && nh_spool_unsynced(&sp) == 4);
	CHECK(open_fds() == fds + 1); /* the first flush's tail duplicate, none else */
	/* one handed out is gone before its sync (as if shed): skipped */
	snprintf(path, sizeof(path), "%s/activity/%016llx.seg", d,
		 (unsigned long long)(q->first_seg + 3));
	CHECK(unlink(path) == 0);
	/* everything acknowledged: the next flushes drop what they would sync */
	while (nh_spool_next(&sp, &rec) == 0)
		CHECK(nh_spool_ack(&sp, NH_SPOOL_ACTIVITY, rec.pos) == 0);
	CHECK(write(pfd[1], "x", 1) == 1);
	CHECK(nh_worker_wait(&w, (uint64_t)(uintptr_t)&sp, 10000000000ULL));
	CHECK(sp.flush_err == 0 && sp.syncing == 0);
	CHECK(open_fds() == fds);
	full = q->unsynced;
	CHECK(full == 1); /* the one that filled while the first flush was out */
	CHECK(nh_spool_flush(&sp) == 0);
	CHECK(nh_worker_wait(&w, (uint64_t)(uintptr_t)&sp, 10000000000ULL));
	CHECK(sp.flush_err == 0 && nh_spool_unsynced(&sp) == 0);
	nh_spool_close(&sp);
	nh_worker_free(&w);
	close(pfd[0]);
	close(pfd[1]);
	rmrf(d);
}

/* A spool full of records Kafka acknowledged, not deleted yet (no flush
 * finished: a hung disk), makes room from them: nothing is refused or
 * shed, and a restart goes on after the last acknowledged record. */
static void test_full_of_acknowledged(void)
{
	char *d = tmpdir();
	struct nh_spool_queue *q = &sp.q[NH_SPOOL_ACTIVITY];
	int i;

	CHECK(nh_spool_open(&sp, d, 64 << 10, NH_SPOOL_SYNC_FLUSH) == 0);
	for (i = 0; i < 5000; i++) { /* about four times the bound */
		CHECK(push(i % 10 ? NH_SPOOL_ACTIVITY : NH_SPOOL_ANOMALY, i) == 0);
		CHECK(nh_spool_next(&sp, &rec) == 0);
		CHECK(nh_spool_ack(&sp, rec.cls, rec.pos) == 0);
	}
	CHECK(sp.shed[0] + sp.shed[1] + sp.lost[0] + sp.lost[1] == 0);
	CHECK(q->first_seg > 1 && q->bytes <= 64 << 10);
	CHECK(push(NH_SPOOL_ACTIVITY, i) == 0);
	nh_spool_close(&sp);
	CHECK(nh_spool_open(&sp, d, 64 << 10, NH_SPOOL_SYNC_FLUSH) == 0);
	CHECK(nh_spool_pending(&sp) == 1);
	nh_spool_close(&sp);
	rmrf(d);
}

int main(void)
{
	test_full_of_acknowledged();
	test_rollover_sync_on_worker();
	test_flush_on_worker();
	test_disk_full();
	test_write_errors();
	test_resync();
	test_forged_header();
	test_format();
	test_order_and_ack();
	test_rewind_skips_acknowledged();
	test_torn_and_corrupt();
	test_shedding();
	test_event_time();
	return nh_check_report("spool");
}
