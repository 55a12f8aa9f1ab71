/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jsonw's writer: valid JSON whatever the bytes (checked by parsing it
 * back with json-c), '/' never escaped, one type per field, empty groups
 * dropped; and the clock's timestamp against gmtime_r.
 */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "clock.h"
#include "jsonw.h"

/* w's text as a C string, parsed back. */
static json_object *parse(struct nh_jw *w)
{
	CHECK(!w->failed);
	CHECK(nh_jw_reserve(w, 1));
	w->buf[w->len] = '\0';
	return json_tokener_parse(w->buf);
}

static void test_strings(void)
{
	static const char *const cases[] = {
	    "/etc/shadow",
	    "plain ascii and longer than eight bytes",
	    "",
	    "q\"uote",
	    "back\\slash",
	    "ctl\x01\x1f\n\r\t\b\f",
	    "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x94\x91",
	    /* not UTF-8: a stray byte, a cut sequence, an overlong, a surrogate */
	    "bad\xff",
	    "cut\xe6\x97",
	    "over\xc0\xaf",
	    "sur\xed\xa0\x80",
	    "12345678\"2345678\\",
	    /* around the 64 plain bytes copied in one pass with the length */
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
	    "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\xc3\xa9\n",
	};
	static const char *const want[] = {
	    "/etc/shadow",
	    "plain ascii and longer than eight bytes",
	    "",
	    "q\"uote",
	    "back\\slash",
	    "ctl\x01\x1f\n\r\t\b\f",
	    "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x94\x91",
	    "bad\xef\xbf\xbd",
	    "cut\xef\xbf\xbd\xef\xbf\xbd",
	    "over\xef\xbf\xbd\xef\xbf\xbd",
	    "sur\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd",
	    "12345678\"2345678\\",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
	    "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\xc3\xa9\n",
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nh_jw w = {0};
		json_object *o, *v;

		nh_jw_reset(&w);
		nh_jw_object(&w, NULL);
		nh_jw_str(&w, cases[i], cases[i]); /* keys are escaped too */
		nh_jw_end(&w);
		o = parse(&w);
		CHECK(o != NULL);
		CHECK(o && json_object_object_get_ex(o, want[i], &v));
		CHECK_STR(o && v ? json_object_get_string(v) : NULL, want[i]);
		/* a slash is written as itself */
		CHECK(memmem(w.buf, w.len, "\\/", 2) == NULL);
		json_object_put(o);
		nh_jw_free(&w);
	}
}

static void test_shapes(void)
{
	struct nh_jw w = {0};
	const char *parts[] = {"/bin/sh", "-c", "echo \"hi\""};
	json_object *o, *v;

	nh_jw_reset(&w);
	nh_jw_object(&w, NULL);
	nh_jw_object(&w, "empty"); /* dropped, with its comma */
	nh_jw_end_or_drop(&w);
	nh_jw_int(&w, "a", INT64_MIN);
	nh_jw_object(&w, "gone");
	nh_jw_object(&w, "inner");
	nh_jw_end_or_drop(&w);
	nh_jw_end_or_drop(&w);
	nh_jw_uint(&w, "b", UINT64_MAX);
	nh_jw_double(&w, "d", 2);
	nh_jw_double(&w, "nan", 0.0 / 0.0);
	nh_jw_bool(&w, "t", true);
	nh_jw_str(&w, "null", NULL);
	nh_jw_str_known(&w, "absent", "");
	nh_jw_str_join(&w, "cmd", parts, 3, ' ');
	nh_jw_array(&w, "arr");
	nh_jw_str(&w, NULL, "x");
	nh_jw_int(&w, NULL, -1);
	nh_jw_end(&w);
	nh_jw_object(&w, "kept");
	nh_jw_end(&w);
	nh_jw_end(&w);
	o = parse(&w);
	CHECK(o != NULL);
	CHECK_STR(w.buf,
		  "{\"a\":-9223372036854775808,\"b\":18446744073709551615,\"d\":2.0,"
		  "\"nan\":0.0,\"t\":true,\"null\":null,\"cmd\":\"/bin/sh -c echo \\\"hi\\\"\","
		  "\"arr\":[\"x\",-1],\"kept\":{}}");
	/* a float stays a float for a SIEM's mapping */
	CHECK(o && json_object_object_get_ex(o, "d", &v) &&
	      json_object_is_type(v, json_type_double));
	json_object_put(o);

	/* reuse: reset starts a new text */
	nh_jw_reset(&w);
	nh_jw_array(&w, NULL);
	nh_jw_end(&w);
	CHECK(w.len == 2 && memcmp(w.buf, "[]", 2) == 0);

	/* too deep: failed, never a buffer overrun */
	nh_jw_reset(&w);
	for (int i = 0; i < NH_JW_DEPTH + 4; i++)
		nh_jw_object(&w, i ? "x" : NULL);
	CHECK(w.failed);
	nh_jw_free(&w);
}

static void test_big(void)
{
	struct nh_jw w = {0};
	size_t n = 1 << 20;
	char *s = malloc(n + 1);
	json_object *o;

	CHECK(s != NULL);
	if (!s)
		return;
	for (size_t i = 0; i < n; i++)
		s[i] = (char)(i % 7 == 0 ? '"' : 'a' + i % 26);
	s[n] = '\0';
	nh_jw_reset(&w);
	nh_jw_str(&w, NULL, s);
	o = parse(&w);
	CHECK(o && json_object_get_string_len(o) == (int)n &&
	      memcmp(json_object_get_string(o), s, n) == 0);
	json_object_put(o);
	nh_jw_free(&w);
	free(s);
}

static void test_clock(void)
{
	/* the calendar arithmetic against the C library, over leap years,
	 * century rules and month ends */
	uint64_t t = 0;
	char got[48], want[64];

	for (int i = 0; i < 200000; i++) {
		time_t sec;
		struct tm tm;

		t = t * 6364136223846793005ull + 1442695040888963407ull;
		sec = (time_t)((t >> 20) % 18446744073ull); /* all of uint64_t ns: to 2554 */
		gmtime_r(&sec, &tm);
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(want + strlen(want), 20, ".%06uZ", (unsigned)(i % 1000000));
		nh_clock_format((uint64_t)sec * 1000000000ull + (uint64_t)(i % 1000000) * 1000, 6,
				got, sizeof(got));
		if (strcmp(got, want) != 0) {
			CHECK_STR(got, want);
			break;
		}
	}
	nh_clock_format(1700000000123456789ull, 9, got, sizeof(got));
	CHECK_STR(got, "2023-11-14T22:13:20.123456789Z");
	nh_clock_format(951782400ull * 1000000000ull, 0, got, sizeof(got));
	CHECK_STR(got, "2000-02-29T00:00:00Z");
	nh_clock_format(1700000000123456789ull, 9, got, 8);
	CHECK_STR(got, "2023-11");
}

int main(void)
{
	test_strings();
	test_shapes();
	test_big();
	test_clock();
	return nh_check_report("jsonw");
}
