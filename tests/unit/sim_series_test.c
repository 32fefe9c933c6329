/*
 * tests/unit/sim_series_test.c: the latency-table and time-series readers
 * (sim/series.h): parsing, symmetry and its conflicts, lookups, the step
 * function and its wrap-around, the calendar, and every error with its
 * line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim/series.h"

#define S 1000000000ull

static void
check_latency_error(const char *text, mesh_err want_err, uint32_t line, const char *want)
{
    sim_latency_table table;
    sim_series_error error;
    assert_int_equal(sim_latency_parse(text, strlen(text), &table, &error), want_err);
    assert_int_equal(error.line, line);
    if (strstr(error.message, want) == NULL) {
        fail_msg("error '%s' does not say '%s'", error.message, want);
    }
    assert_null(table.names);
    assert_null(table.rtt_us);
}

static void check_series_error(const char *text, uint32_t line, const char *want)
{
    sim_series series;
    sim_series_error error;
    assert_int_equal(sim_series_parse(text, strlen(text), &series, &error), MESH_EPROTO);
    assert_int_equal(error.line, line);
    if (strstr(error.message, want) == NULL) {
        fail_msg("error '%s' does not say '%s'", error.message, want);
    }
    assert_null(series.points);
}

static void test_latency_table(void **state)
{
    (void) state;
    const char *text = "# RTT between sites\r\n"
                       "a,b,rtt_ms\r\n"
                       "Paris,Frankfurt,10.68\r\n"
                       "\r\n"
                       " Frankfurt , Amsterdam , 13.86 \r\n"
                       "Frankfurt,Paris,10.680\r\n" // the reverse, agreeing
                       "Paris,Paris,0\r\n"
                       "fr-par-1,de-fra-1,0.0004\r\n"; // rounds to 0 us
    sim_latency_table table;
    sim_series_error error;
    assert_int_equal(sim_latency_parse(text, strlen(text), &table, &error), MESH_OK);
    assert_int_equal(table.name_count, 5);
    assert_int_equal(table.row_count, 5);
    assert_string_equal(table.names[0], "Paris");
    assert_string_equal(table.names[2], "Amsterdam");
    uint32_t rtt_us = 0;
    assert_true(sim_latency_rtt_us(&table, "Paris", "Frankfurt", &rtt_us));
    assert_int_equal(rtt_us, 10680);
    assert_true(sim_latency_rtt_us(&table, "Frankfurt", "Paris", &rtt_us));
    assert_int_equal(rtt_us, 10680);
    assert_true(sim_latency_rtt_us(&table, "Amsterdam", "Frankfurt", &rtt_us));
    assert_int_equal(rtt_us, 13860);
    assert_true(sim_latency_rtt_us(&table, "de-fra-1", "fr-par-1", &rtt_us));
    assert_int_equal(rtt_us, 0);
    // No row for Paris-Amsterdam: missing, and the caller decides.
    rtt_us = 77;
    assert_false(sim_latency_rtt_us(&table, "Paris", "Amsterdam", &rtt_us));
    assert_int_equal(rtt_us, 77);
    assert_int_equal(table.rtt_us[0 * table.name_count + 2], SIM_LATENCY_MISSING);
    // Unknown names; the same name is 0 whether known or not.
    assert_false(sim_latency_rtt_us(&table, "Paris", "Lyon", &rtt_us));
    assert_true(sim_latency_rtt_us(&table, "Lyon", "Lyon", &rtt_us));
    assert_int_equal(rtt_us, 0);
    assert_true(sim_latency_rtt_us(&table, "Amsterdam", "Amsterdam", &rtt_us));
    assert_int_equal(rtt_us, 0);
    uint32_t index = 99;
    assert_true(sim_latency_find(&table, "Amsterdam", &index));
    assert_int_equal(index, 2);
    assert_false(sim_latency_find(&table, "amsterdam", &index));
    sim_latency_free(&table);
    assert_null(table.names);
    sim_latency_free(&table);
    sim_latency_free(NULL);
}

static void test_latency_errors(void **state)
{
    (void) state;
    check_latency_error("a,b,rtt_ms\nParis,Frankfurt,10.68\nFrankfurt,Paris,10.7\n", MESH_EPROTO, 3,
                        "line 2");
    check_latency_error("a,b,rtt_ms\nParis,Frankfurt,10\nParis,Frankfurt,11\n", MESH_EPROTO, 3,
                        "symmetric");
    check_latency_error("a,b,rtt\nParis,Frankfurt,10\n", MESH_EPROTO, 1, "a,b,rtt_ms");
    check_latency_error("b,a,rtt_ms\n", MESH_EPROTO, 1, "a,b,rtt_ms");
    check_latency_error("# nothing\n\n", MESH_EPROTO, 0, "no header");
    check_latency_error("a,b,rtt_ms\nParis,Frankfurt\n", MESH_EPROTO, 2, "three");
    check_latency_error("a,b,rtt_ms\nParis,Frankfurt,1,2\n", MESH_EPROTO, 2, "three");
    check_latency_error("a,b,rtt_ms\nParis,Frankfurt,-1\n", MESH_EPROTO, 2, "rtt_ms is '-1'");
    check_latency_error("a,b,rtt_ms\nParis,Frankfurt,ten\n", MESH_EPROTO, 2, "rtt_ms");
    check_latency_error("a,b,rtt_ms\nParis,Frankfurt,1000000.001\n", MESH_EPROTO, 2, "rtt_ms");
    check_latency_error("a,b,rtt_ms\nParis,Frankfurt,1.0000000001\n", MESH_EPROTO, 2, "rtt_ms");
    check_latency_error("a,b,rtt_ms\n,Frankfurt,1\n", MESH_EPROTO, 2, "0 bytes");
    check_latency_error("a,b,rtt_ms\nParis,Paris,3\n", MESH_EPROTO, 2, "itself");
    check_latency_error("a,b,rtt_ms\nPa\001ris,Frankfurt,1\n", MESH_EPROTO, 2, "control");
    char name[SIM_LATENCY_NAME_SIZE + 1];
    memset(name, 'x', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    char text[256];
    (void) snprintf(text, sizeof(text), "a,b,rtt_ms\n%s,y,1\n", name);
    check_latency_error(text, MESH_EPROTO, 2, "64 bytes");
    // The largest name fits.
    name[SIM_LATENCY_NAME_SIZE - 1] = '\0';
    (void) snprintf(text, sizeof(text), "a,b,rtt_ms\n%s,y,1\n", name);
    sim_latency_table table;
    sim_series_error error;
    assert_int_equal(sim_latency_parse(text, strlen(text), &table, &error), MESH_OK);
    sim_latency_free(&table);
}

static void test_latency_names_bound(void **state)
{
    (void) state;
    // A chain s0-s1, s1-s2, ...: one name past the bound fails with EFULL.
    size_t capacity = 64u * (SIM_LATENCY_NAMES_MAX + 2);
    char *text = malloc(capacity);
    assert_non_null(text);
    size_t used = (size_t) snprintf(text, capacity, "a,b,rtt_ms\n");
    for (uint32_t i = 0; i + 1 < SIM_LATENCY_NAMES_MAX; i++) {
        used += (size_t) snprintf(text + used, capacity - used, "s%u,s%u,%u.5\n", i, i + 1, i);
    }
    sim_latency_table table;
    sim_series_error error;
    assert_int_equal(sim_latency_parse(text, used, &table, &error), MESH_OK);
    assert_int_equal(table.name_count, SIM_LATENCY_NAMES_MAX);
    uint32_t rtt_us = 0;
    assert_true(sim_latency_rtt_us(&table, "s1001", "s1000", &rtt_us));
    assert_int_equal(rtt_us, 1000500);
    sim_latency_free(&table);
    used += (size_t) snprintf(text + used, capacity - used, "s0,extra,1\n");
    assert_int_equal(sim_latency_parse(text, used, &table, &error), MESH_EFULL);
    assert_int_equal(error.line, SIM_LATENCY_NAMES_MAX + 1);
    free(text);
}

static void test_series_calendar(void **state)
{
    (void) state;
    const char *text = "Time,Carbon Intensity\n"
                       "2020-01-01 00:00:00,100.5\n"
                       "2020-01-01 01:00:00,200\n"
                       "2020-01-01T02:00:00Z,-3.25\n";
    sim_series series;
    sim_series_error error;
    assert_int_equal(sim_series_parse(text, strlen(text), &series, &error), MESH_OK);
    assert_int_equal(series.point_count, 3);
    assert_int_equal(series.start_unix_s, 1577836800);
    assert_int_equal(series.points[0].time_ns, 0);
    assert_int_equal(series.points[2].time_ns, 7200 * S);
    assert_int_equal(series.span_ns, 3 * 3600 * S); // the last hour holds for an hour
    assert_true(sim_series_at_ns(&series, 0) == 100.5);
    assert_true(sim_series_at_ns(&series, 3599 * S) == 100.5);
    assert_true(sim_series_at_ns(&series, 3600 * S) == 200.0);
    assert_true(sim_series_at_ns(&series, 10799 * S) == -3.25);
    // Wraps: hour 3 is hour 0 again, hour 25 is hour 1.
    assert_true(sim_series_at_ns(&series, 10800 * S) == 100.5);
    assert_true(sim_series_at_ns(&series, 25 * 3600 * S) == 200.0);
    assert_true(sim_series_at_ns(&series, UINT64_MAX) ==
                sim_series_at_ns(&series, UINT64_MAX % series.span_ns));
    sim_series_free(&series);
    assert_null(series.points);
    sim_series_free(&series);
    sim_series_free(NULL);
}

static void test_series_seconds(void **state)
{
    (void) state;
    const char *text = "# relative\nt_s,value\n\n10,1\n10.5,2\n40,3\n";
    sim_series series;
    sim_series_error error;
    assert_int_equal(sim_series_parse(text, strlen(text), &series, &error), MESH_OK);
    assert_int_equal(series.start_unix_s, 0);
    assert_int_equal(series.points[1].time_ns, S / 2);
    assert_int_equal(series.span_ns, 30 * S + 29500000000ull);
    assert_true(sim_series_at_ns(&series, S / 2 - 1) == 1.0);
    assert_true(sim_series_at_ns(&series, S / 2) == 2.0);
    assert_true(sim_series_at_ns(&series, 30 * S) == 3.0);
    assert_true(sim_series_at_ns(&series, series.span_ns + S) == 2.0);
    sim_series_free(&series);
    // One point: a constant.
    const char *one = "t,v\n5,42\n";
    assert_int_equal(sim_series_parse(one, strlen(one), &series, &error), MESH_OK);
    assert_true(series.span_ns > 0);
    assert_true(sim_series_at_ns(&series, 0) == 42.0);
    assert_true(sim_series_at_ns(&series, 123456789 * S) == 42.0);
    sim_series_free(&series);
}

static void test_series_many_points(void **state)
{
    (void) state;
    // A leap year of hourly points, the shape of data/carbon-*-2020-hourly.csv.
    size_t capacity = 8784u * 40u + 64u;
    char *text = malloc(capacity);
    assert_non_null(text);
    size_t used = (size_t) snprintf(text, capacity, "time,gco2_per_kwh\n");
    static const int month_days[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    uint32_t hour_index = 0;
    for (int month = 1; month <= 12; month++) {
        for (int day = 1; day <= month_days[month - 1]; day++) {
            for (int hour = 0; hour < 24; hour++, hour_index++) {
                used += (size_t) snprintf(text + used, capacity - used,
                                          "2020-%02d-%02d %02d:00:00,%u\n", month, day, hour,
                                          hour_index);
            }
        }
    }
    sim_series series;
    sim_series_error error;
    assert_int_equal(sim_series_parse(text, used, &series, &error), MESH_OK);
    assert_int_equal(series.point_count, 8784);
    assert_int_equal(series.span_ns, 8784ull * 3600 * S);
    for (uint64_t h = 0; h < 3 * 8784; h += 97) {
        assert_true(sim_series_at_ns(&series, h * 3600 * S + 1800 * S) == (double) (h % 8784));
    }
    sim_series_free(&series);
    free(text);
}

static void test_series_errors(void **state)
{
    (void) state;
    check_series_error("", 0, "no header");
    check_series_error("time,value\n", 0, "no points");
    check_series_error("time\n1,2\n", 1, "two columns");
    check_series_error("time,value,extra\n", 1, "two columns");
    check_series_error("time,value\n1,2,3\n", 2, "two comma");
    check_series_error("time,value\n5,1\n5,2\n", 3, "not after line 2");
    check_series_error("time,value\n5,1\n4,2\n", 3, "not after line 2");
    check_series_error("time,value\n2020-01-01 00:00:00,1\n3600,2\n", 3, "YYYY-MM-DD");
    check_series_error("time,value\n3600,1\n2020-01-01 00:00:00,2\n", 3, "seconds");
    check_series_error("time,value\n2020-02-30 00:00:00,1\n", 2, "YYYY-MM-DD");
    check_series_error("time,value\n2019-02-29 00:00:00,1\n", 2, "YYYY-MM-DD");
    check_series_error("time,value\n2020-01-01 24:00:00,1\n", 2, "YYYY-MM-DD");
    check_series_error("time,value\n2020-01-01 00:00,1\n", 2, "YYYY-MM-DD");
    check_series_error("time,value\n1969-12-31 23:59:59,1\n", 2, "YYYY-MM-DD");
    check_series_error("time,value\n-5,1\n", 2, "seconds");
    check_series_error("time,value\n1,abc\n", 2, "value 'abc'");
    check_series_error("time,value\n1,1e3\n", 2, "value");
    check_series_error("time,value\n1,\n", 2, "value");
    check_series_error("time,value\n1,2\n\0031,2\n", 3, "control");
}

static void test_unix_seconds(void **state)
{
    (void) state;
    int64_t s = 0;
    assert_true(sim_series_unix_s(1970, 1, 1, 0, 0, 0, &s));
    assert_int_equal(s, 0);
    assert_true(sim_series_unix_s(2000, 3, 1, 0, 0, 0, &s));
    assert_int_equal(s, 951868800);
    assert_true(sim_series_unix_s(2020, 12, 31, 23, 0, 0, &s));
    assert_int_equal(s, 1609455600);
    assert_true(sim_series_unix_s(2023, 11, 16, 18, 17, 3, &s));
    assert_int_equal(s, 1700158623);
    assert_true(sim_series_unix_s(2100, 12, 31, 23, 59, 59, &s));
    assert_int_equal(s, 4133980799);
    assert_true(sim_series_unix_s(2000, 2, 29, 0, 0, 0, &s));
    assert_false(sim_series_unix_s(2100, 2, 29, 0, 0, 0, &s)); // not a leap year
    assert_false(sim_series_unix_s(2101, 1, 1, 0, 0, 0, &s));
    assert_false(sim_series_unix_s(2020, 13, 1, 0, 0, 0, &s));
    assert_false(sim_series_unix_s(2020, 4, 31, 0, 0, 0, &s));
    assert_false(sim_series_unix_s(2020, 1, 0, 0, 0, 0, &s));
    assert_false(sim_series_unix_s(2020, 1, 1, 0, 60, 0, &s));
    assert_false(sim_series_unix_s(2020, 1, 1, 0, 0, 60, &s));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_latency_table),       cmocka_unit_test(test_latency_errors),
        cmocka_unit_test(test_latency_names_bound), cmocka_unit_test(test_series_calendar),
        cmocka_unit_test(test_series_seconds),      cmocka_unit_test(test_series_many_points),
        cmocka_unit_test(test_series_errors),       cmocka_unit_test(test_unix_seconds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
