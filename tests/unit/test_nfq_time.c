/*
 * Unit tests of nfq's time handling (nfq/timefmt.c): -t windows in
 * nfdump's and ISO 8601 form, relative windows, errors that point at the
 * spot, and the printing of times and durations as nfdump prints them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <time.h>

#include "../../nfq/timefmt.c"

/* 2026-11-27 10:00:00 UTC in ms */
#define T10 1795773600000ull

static struct nfq_window win(const char *s)
{
	struct nfq_window w;
	char err[NFQ_ERR_MAX];
	int r = nfq_window_parse(s, false, &w, err, sizeof(err));

	if (r)
		fail_msg("'%s': %s", s, err);
	return w;
}

static void assert_window_err(const char *s, const char *what)
{
	struct nfq_window w;
	char err[NFQ_ERR_MAX] = "";

	assert_int_equal(nfq_window_parse(s, false, &w, err, sizeof(err)),
			 -EINVAL);
	if (strstr(err, what) == NULL)
		fail_msg("'%s': message '%s' lacks '%s'", s, err, what);
}

static void test_nfdump_form(void **state)
{
	struct nfq_window w;

	(void)state;
	w = win("2026/11/27.10:00:00-2026/11/27.11:00:00");
	assert_true(w.set);
	assert_int_equal(w.from_ms, T10);
	assert_int_equal(w.to_ms, T10 + 3600000);
	/* parts may be left out: they are zero */
	w = win("2026/11/27.10");
	assert_int_equal(w.from_ms, T10);
	assert_int_equal(w.to_ms, UINT64_MAX); /* no end: open */
	w = win("2026/11/27");
	assert_int_equal(w.from_ms, T10 - 10 * 3600000ull);
	w = win("2026/11/27.10:05-2026/11/27.10:10:30");
	assert_int_equal(w.from_ms, T10 + 300000);
	assert_int_equal(w.to_ms, T10 + 630000);
	/* one-digit month and day */
	w = win("2026/1/2.03:04:05");
	assert_int_equal(w.from_ms, 1767323045000ull);
}

static void test_iso_form(void **state)
{
	struct nfq_window w;

	(void)state;
	w = win("2026-11-27T10:00");
	assert_int_equal(w.from_ms, T10);
	w = win("2026-11-27T10:00:00Z");
	assert_int_equal(w.from_ms, T10);
	w = win("2026-11-27T10:00:01.250");
	assert_int_equal(w.from_ms, T10 + 1250);
	/* an offset: 12:00+02:00 is 10:00Z */
	w = win("2026-11-27T12:00+02:00");
	assert_int_equal(w.from_ms, T10);
	w = win("2026-11-27T05:30-04:30");
	assert_int_equal(w.from_ms, T10);
	/* intervals: '/', '--' and '-' */
	w = win("2026-11-27T10:00/2026-11-27T10:30");
	assert_int_equal(w.to_ms, T10 + 1800000);
	w = win("2026-11-27T10:00Z--2026-11-27T10:30Z");
	assert_int_equal(w.to_ms, T10 + 1800000);
	w = win("2026-11-27T10:00-2026-11-27T10:30");
	assert_int_equal(w.from_ms, T10);
	assert_int_equal(w.to_ms, T10 + 1800000);
	/* an offset and then an end */
	w = win("2026-11-27T11:00+01:00/2026-11-27T10:30Z");
	assert_int_equal(w.from_ms, T10);
	assert_int_equal(w.to_ms, T10 + 1800000);
	/* dates alone */
	w = win("2026-11-27-2026-11-28");
	assert_int_equal(w.from_ms, T10 - 36000000);
	assert_int_equal(w.to_ms, T10 - 36000000 + 86400000);
	/* a space instead of T */
	w = win("2026-11-27 10:00:00");
	assert_int_equal(w.from_ms, T10);
}

static void test_relative(void **state)
{
	struct nfq_window w;

	(void)state;
	w = win("+10");
	assert_int_equal(w.rel, '+');
	assert_true(nfq_window_overlaps(&w, 0, 1)); /* unresolved: all */
	nfq_window_resolve(&w, T10, T10 + 3600000);
	assert_int_equal(w.rel, 0);
	assert_int_equal(w.from_ms, T10);
	assert_int_equal(w.to_ms, T10 + 10000);
	w = win("-60");
	nfq_window_resolve(&w, T10, T10 + 3600000);
	assert_int_equal(w.from_ms, T10 + 3540000);
	assert_int_equal(w.to_ms, T10 + 3600000);
	/* more than the data: from the epoch */
	w = win("-99999999999");
	nfq_window_resolve(&w, 5, 1000);
	assert_int_equal(w.from_ms, 0);
}

static void test_localtime(void **state)
{
	struct nfq_window w;
	char err[NFQ_ERR_MAX];

	(void)state;
	setenv("TZ", "Europe/Berlin", 1);
	tzset();
	/* 11:00 in Berlin (CET, +1) is 10:00Z */
	assert_int_equal(nfq_window_parse("2026/11/27.11:00", true, &w, err,
					  sizeof(err)),
			 0);
	assert_int_equal(w.from_ms, T10);
	/* an explicit zone wins over --localtime */
	assert_int_equal(nfq_window_parse("2026-11-27T10:00Z", true, &w, err,
					  sizeof(err)),
			 0);
	assert_int_equal(w.from_ms, T10);
	/* and without --localtime the time is UTC */
	assert_int_equal(nfq_window_parse("2026/11/27.10:00", false, &w, err,
					  sizeof(err)),
			 0);
	assert_int_equal(w.from_ms, T10);
	setenv("TZ", "UTC", 1);
	tzset();
}

static void test_errors(void **state)
{
	(void)state;
	assert_window_err("", "year");
	assert_window_err("26/11/27", "4-digit year");
	assert_window_err("2026/13/01", "month");
	assert_window_err("2026/00/01", "month");
	assert_window_err("2026/11/32", "day");
	assert_window_err("2026/02/30", "no such date");
	assert_window_err("2026/11/27.24", "hour");
	assert_window_err("2026/11/27.10:60", "minutes");
	assert_window_err("2026/11/27.10:00:61", "seconds");
	assert_window_err("2026-11-27T10", "minutes");
	assert_window_err("2026/11/27x", "between");
	assert_window_err("2026/11/27-2026/11/26", "before the start");
	assert_window_err("2026/11/27-2026/11/28junk", "after the end");
	assert_window_err("+10s", "seconds after");
	assert_window_err("1969/12/31", "no such date");
	/* the column points at the problem */
	assert_window_err("2026/11/27.10:99", "column 15");
}

static void test_match_and_overlap(void **state)
{
	struct nfq_window w = win("2026/11/27.10:00-2026/11/27.10:01");
	struct fy_flow f = {0};

	(void)state;
	/* nfdump: the flow must lie wholly inside; the end is inclusive */
	f.first_ms = T10;
	f.last_ms = T10 + 60000;
	assert_true(nfq_window_match(&w, &f));
	f.last_ms = T10 + 60001;
	assert_false(nfq_window_match(&w, &f));
	f.first_ms = T10 - 1;
	f.last_ms = T10 + 10;
	assert_false(nfq_window_match(&w, &f));
	assert_true(nfq_window_overlaps(&w, T10 - 5000, T10));
	assert_true(nfq_window_overlaps(&w, T10 + 60000, T10 + 99999));
	assert_false(nfq_window_overlaps(&w, T10 - 5000, T10 - 1));
	assert_false(nfq_window_overlaps(&w, T10 + 60001, T10 + 99999));
	/* no window: everything */
	memset(&w, 0, sizeof(w));
	assert_true(nfq_window_match(&w, &f));
}

static void test_time_str(void **state)
{
	struct nfq_timefmt tf;
	char b[40];

	(void)state;
	nfq_timefmt_init(&tf, false);
	assert_int_equal(nfq_time_str(&tf, b, T10 + 60, true, ' '), 23);
	assert_string_equal(b, "2026-11-27 10:00:00.060");
	/* the cached second, another ms */
	nfq_time_str(&tf, b, T10 + 999, true, ' ');
	assert_string_equal(b, "2026-11-27 10:00:00.999");
	nfq_time_str(&tf, b, T10 + 1000, false, ' ');
	assert_string_equal(b, "2026-11-27 10:00:01");
	nfq_time_str(&tf, b, T10 + 1000, true, 'T');
	assert_string_equal(b, "2026-11-27T10:00:01.000");
	nfq_time_str(&tf, b, 0, true, ' ');
	assert_string_equal(b, "1970-01-01 00:00:00.000");
	setenv("TZ", "Europe/Berlin", 1);
	tzset();
	nfq_timefmt_init(&tf, true);
	nfq_time_str(&tf, b, T10, false, ' ');
	assert_string_equal(b, "2026-11-27 11:00:00");
	setenv("TZ", "UTC", 1);
	tzset();
}

static void test_duration_str(void **state)
{
	char b[40];

	(void)state;
	/* nfdump's: hh:mm:ss.mmm, with days "18d 21:50:12.554" */
	nfq_duration_str(b, sizeof(b), 41, false);
	assert_string_equal(b, "00:00:00.041");
	nfq_duration_str(b, sizeof(b), 59000, false);
	assert_string_equal(b, "00:00:59.000");
	nfq_duration_str(b, sizeof(b), 1633812554, false);
	assert_string_equal(b, "18d 21:50:12.554");
	nfq_duration_str(b, sizeof(b), 578712975, false);
	assert_string_equal(b, "6d 16:45:12.975");
	/* -N: seconds */
	nfq_duration_str(b, sizeof(b), 1633812554, true);
	assert_string_equal(b, "1633812.554");
	nfq_duration_str(b, sizeof(b), 0, true);
	assert_string_equal(b, "0.000");
	/* a short buffer is cut, never overrun */
	assert_int_equal(nfq_duration_str(b, 5, 1633812554, false), 4);
	assert_int_equal(strlen(b), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nfdump_form),
		cmocka_unit_test(test_iso_form),
		cmocka_unit_test(test_relative),
		cmocka_unit_test(test_localtime),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_match_and_overlap),
		cmocka_unit_test(test_time_str),
		cmocka_unit_test(test_duration_str),
	};

	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests_name("nfq_time", tests, NULL, NULL);
}
