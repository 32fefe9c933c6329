/*
 * tests/bench/bench_main.c: fedmesh-bench, the benchmark driver.
 *
 *     fedmesh-bench crypto [--json] [--rounds N] [--round-ms MS]
 *     fedmesh-bench ledger [--json] [--rounds N] [--round-ms MS] [--dir DIR]
 *
 * Prints one JSON object with --json, a short table otherwise.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/bench/bench.h"

uint64_t bench_clock_ns(void)
{
    struct timespec ts;
    (void) clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *) a;
    double y = *(const double *) b;
    return (x > y) - (x < y);
}

double bench_median(double *values, uint32_t count)
{
    qsort(values, count, sizeof(double), compare_double);
    if (count % 2 == 1) {
        return values[count / 2];
    }
    return (values[count / 2 - 1] + values[count / 2]) / 2.0;
}

static const char usage[] =
    "usage: fedmesh-bench crypto|ledger [--json] [--rounds N] [--round-ms MS]\n"
    "       (ledger: [--dir DIR], a directory on a real disk)\n";

static int parse_u32(const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
    errno = 0;
    char *end = NULL;
    unsigned long value = strtoul(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < min || value > max) {
        return -1;
    }
    *out = (uint32_t) value;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        (void) fputs(usage, stderr);
        return 2;
    }
    bench_options options = {.json = false, .rounds = 11, .round_ns = 200000000ull};
    for (int i = 2; i < argc; i++) {
        uint32_t value = 0;
        if (strcmp(argv[i], "--json") == 0) {
            options.json = true;
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc &&
                   parse_u32(argv[i + 1], 1, BENCH_ROUNDS_MAX, &value) == 0) {
            options.rounds = value;
            i++;
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            options.dir = argv[++i];
        } else if (strcmp(argv[i], "--round-ms") == 0 && i + 1 < argc &&
                   parse_u32(argv[i + 1], 1, 60000, &value) == 0) {
            options.round_ns = (uint64_t) value * 1000000ull;
            i++;
        } else {
            (void) fputs(usage, stderr);
            return 2;
        }
    }
    if (strcmp(argv[1], "crypto") == 0) {
        return bench_crypto(&options);
    }
    if (strcmp(argv[1], "ledger") == 0) {
        return bench_ledger(&options);
    }
    (void) fputs(usage, stderr);
    return 2;
}
