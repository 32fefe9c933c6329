/*
 * sim/series.h: the simulator's other inputs: a latency table between
 * named sites, and a time series (grid carbon intensity, for one).
 *
 * Pure, like sim/trace.h: the caller hands in the text (node/sim_input.c
 * reads files), errors name the line. Both formats are CSV without
 * quoting; blanks around a value are ignored, blank lines and lines
 * starting with '#' are skipped, a '\r' before the newline is dropped, a
 * line is at most SIM_TRACE_LINE_SIZE_MAX bytes, a text at most
 * SIM_TRACE_SIZE_MAX. Numbers are parsed by hand (no locale).
 *
 * Latency table: the header is exactly `a,b,rtt_ms`; each row names two
 * sites (1 to SIM_LATENCY_NAME_SIZE-1 bytes, no comma, no control
 * character) and their round-trip time in milliseconds, a decimal >= 0 and
 * <= SIM_LATENCY_RTT_MS_MAX with at most 9 fraction digits, kept in whole
 * microseconds (rounded half up). A row a,b also gives b,a: a later row for
 * the same pair, in either order, must agree to the microsecond, or the
 * parse fails naming both lines. A row a,a must say 0. At most
 * SIM_LATENCY_NAMES_MAX names. Pairs without a row stay missing: the
 * lookup says so and the caller decides.
 *
 * Time series: a header of two column names (any names: `time,gco2_per_kwh`,
 * or ENTSO-E's `Time,Carbon Intensity`), then one point per line: a time and
 * a value. The time is either `YYYY-MM-DD HH:MM:SS` (UTC, years 1970 to
 * 2100; a 'T' may stand for the space and a 'Z' may end it) or a number of
 * seconds (a decimal >= 0, at most 9 fraction digits); one file uses one
 * form. Times must strictly increase. The value is a decimal (an optional
 * '-', digits, an optional fraction; no exponent), kept as the double
 * nearest its first 18 significant digits. At most SIM_SERIES_POINTS_MAX
 * points, at least one.
 *
 * Reading a series: times are made relative to the first point. The value
 * at t is the value of the last point at or before t (a step function: the
 * ENTSO-E intensity of an hour holds for that hour). The series repeats:
 * its span is the last point's time plus the last step (the time between
 * the last two points), so a year of hourly points spans exactly its
 * 8,760 (or 8,784) hours, and t is taken modulo the span. So a one-year
 * series serves a run of any length, and a run longer than the series
 * replays it from its first point, calendar drift and all (a series that
 * starts on a Wednesday repeats on a Wednesday only by chance). A single
 * point is a constant.
 */
#ifndef SIM_SERIES_H
#define SIM_SERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/mesh.h"
#include "sim/trace.h"

#define SIM_LATENCY_NAME_SIZE  64u      /* bytes, with the NUL */
#define SIM_LATENCY_NAMES_MAX  1024u    /* rtt_us holds NAMES_MAX^2 entries at most: 4 MiB */
#define SIM_LATENCY_RTT_MS_MAX 1000000u /* 1000 s: anything larger is a unit mistake */
#define SIM_LATENCY_MISSING    UINT32_MAX
#define SIM_SERIES_POINTS_MAX  (1u << 24)

/* Errors of these parsers: the same shape as a trace's. */
typedef sim_trace_error sim_series_error;

typedef struct sim_latency_table {
    char (*names)[SIM_LATENCY_NAME_SIZE]; /* name_count names, in order of first use */
    uint32_t name_count;
    uint32_t *rtt_us; /* name_count * name_count, [a * name_count + b];
                         SIM_LATENCY_MISSING where no row gave the pair; 0 on the diagonal */
    uint32_t row_count;
} sim_latency_table;

/* Parses a latency table. On failure *table_out is zeroed and error_out
 * names the line. Errors: MESH_EPROTO (malformed; the header; two rows
 * that disagree), MESH_EFULL (a bound), MESH_ENOMEM, MESH_EINVAL. */
MESH_MUST_USE mesh_err sim_latency_parse(const char *text,
                                         size_t size,
                                         sim_latency_table *table_out,
                                         sim_series_error *error_out);

/* Frees and zeroes the table; NULL and a zeroed table are no-ops. */
void sim_latency_free(sim_latency_table *table);

/* The index of a name; false when the table does not hold it. */
bool sim_latency_find(const sim_latency_table *table, const char *name, uint32_t *index_out);

/* The RTT between two names, in microseconds. The same name twice gives 0
 * (whether or not the table holds it); false when either name is unknown
 * or no row gave the pair. */
bool sim_latency_rtt_us(const sim_latency_table *table,
                        const char *a,
                        const char *b,
                        uint32_t *rtt_us_out);

typedef struct sim_series_point {
    uint64_t time_ns; /* since the first point */
    double value;
} sim_series_point;

typedef struct sim_series {
    sim_series_point *points; /* malloc'ed, strictly increasing time_ns, points[0].time_ns == 0 */
    uint32_t point_count;
    uint64_t span_ns;     /* the period it repeats with; > 0 */
    int64_t start_unix_s; /* the first point's UTC time; 0 when times are seconds */
} sim_series;

/* Parses a time series. On failure *series_out is zeroed and error_out
 * names the line. Errors as sim_latency_parse's. */
MESH_MUST_USE mesh_err sim_series_parse(const char *text,
                                        size_t size,
                                        sim_series *series_out,
                                        sim_series_error *error_out);

/* Frees and zeroes the series; NULL and a zeroed series are no-ops. */
void sim_series_free(sim_series *series);

/* The value at t_ns after the first point (step function, wrapping
 * around span_ns; see the top of this file). O(log points). */
double sim_series_at_ns(const sim_series *series, uint64_t t_ns);

/* Seconds since 1970-01-01T00:00:00Z of a proleptic Gregorian UTC date and
 * time; false when a field is out of range (month 1..12, day within the
 * month, hour 0..23, minute and second 0..59, year 1970..2100). */
MESH_MUST_USE bool sim_series_unix_s(int64_t year,
                                     int64_t month,
                                     int64_t day,
                                     int64_t hour,
                                     int64_t minute,
                                     int64_t second,
                                     int64_t *unix_s_out);

#endif /* SIM_SERIES_H */
