/*
 * tests/fuzz/fuzz_sim_series.c: libFuzzer target for the latency-table and
 * time-series readers (sim/series.h). Every input goes through both.
 *
 * The oracle. A latency table that parses is symmetric with a zero
 * diagonal, its names are distinct, non-empty and found by
 * sim_latency_find at their own index, and the lookup by name agrees with
 * the matrix. A series that parses starts at time 0 with strictly
 * increasing times, spans past its last point, and reads back each
 * point's own value at the point's time, also one span later. A failure
 * leaves nothing allocated and says why.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/series.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_require(bool ok, const char *what)
{
    if (!ok) {
        (void) fprintf(stderr, "fuzz_sim_series: %s\n", what);
        abort();
    }
}

static void fuzz_latency(const uint8_t *data, size_t size)
{
    sim_latency_table table;
    sim_series_error error;
    if (sim_latency_parse((const char *) data, size, &table, &error) != MESH_OK) {
        fuzz_require(table.names == NULL && table.rtt_us == NULL, "a failure left a table");
        fuzz_require(error.message[0] != '\0', "a failure without a message");
        return;
    }
    uint32_t n = table.name_count;
    for (uint32_t a = 0; a < n; a++) {
        fuzz_require(table.names[a][0] != '\0', "an empty name");
        uint32_t index = UINT32_MAX;
        fuzz_require(sim_latency_find(&table, table.names[a], &index) && index == a,
                     "a name not found at its index");
        fuzz_require(table.rtt_us[(size_t) a * n + a] == 0, "a non-zero diagonal");
        for (uint32_t b = 0; b < n; b++) {
            uint32_t ab = table.rtt_us[(size_t) a * n + b];
            fuzz_require(ab == table.rtt_us[(size_t) b * n + a], "an asymmetric table");
            uint32_t rtt_us = 0;
            bool found = sim_latency_rtt_us(&table, table.names[a], table.names[b], &rtt_us);
            fuzz_require(found == (ab != SIM_LATENCY_MISSING), "lookup and matrix disagree");
            fuzz_require(!found || rtt_us == ab, "lookup and matrix disagree on the value");
        }
    }
    sim_latency_free(&table);
}

static void fuzz_series(const uint8_t *data, size_t size)
{
    sim_series series;
    sim_series_error error;
    if (sim_series_parse((const char *) data, size, &series, &error) != MESH_OK) {
        fuzz_require(series.points == NULL, "a failure left points");
        fuzz_require(error.message[0] != '\0', "a failure without a message");
        return;
    }
    fuzz_require(series.point_count > 0 && series.points[0].time_ns == 0, "no first point at 0");
    uint64_t last = series.points[series.point_count - 1].time_ns;
    fuzz_require(series.span_ns > last, "a span that does not cover the last point");
    for (uint32_t i = 0; i < series.point_count; i++) {
        const sim_series_point *point = &series.points[i];
        fuzz_require(i == 0 || point->time_ns > series.points[i - 1].time_ns,
                     "times not increasing");
        double value = point->value;
        double at = sim_series_at_ns(&series, point->time_ns);
        fuzz_require(memcmp(&at, &value, sizeof(at)) == 0, "a point does not read back");
        if (UINT64_MAX - point->time_ns >= series.span_ns) {
            at = sim_series_at_ns(&series, point->time_ns + series.span_ns);
            fuzz_require(memcmp(&at, &value, sizeof(at)) == 0, "a point does not wrap around");
        }
    }
    sim_series_free(&series);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_latency(data, size);
    fuzz_series(data, size);
    return 0;
}
