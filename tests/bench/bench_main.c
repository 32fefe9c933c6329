/*
 * tests/bench/bench_main.c: fedmesh-bench, the benchmark driver.
 *
 *     fedmesh-bench crypto [--json] [--rounds N] [--round-ms MS]
 *     fedmesh-bench ledger [--json] [--rounds N] [--round-ms MS] [--dir DIR]
 *     fedmesh-bench lease [--json] [--leases N] [--seconds S] [--concurrency C]
 *                         [--leases-max M] [--dir DIR] [--fedmesh PATH] [--keep]
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
    "       (ledger: [--dir DIR], a directory on a real disk)\n"
    "       fedmesh-bench lease [--json] [--leases N] [--seconds S] [--concurrency C]\n"
    "                           [--leases-max M] [--dir DIR] [--fedmesh PATH] [--keep]\n"
    "       (lease: two agents on 127.0.0.1; N sequential leases measured (1000),\n"
    "        then C connections (32, at most 64) borrowing for S seconds (5); the\n"
    "        agents' [lease] leases_max M (default: sized for the run); their\n"
    "        ledgers in DIR/bench-lease.XXXXXX (DIR: the current directory), kept\n"
    "        with --keep, which also prints the agents' pids and phase times;\n"
    "        fedmesh: next to fedmesh-bench)\n";

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
    bench_options options = {.json = false,
                             .rounds = 11,
                             .round_ns = 200000000ull,
                             .lease_count = 1000,
                             .seconds = 5,
                             .concurrency = 32};
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
        } else if (strcmp(argv[i], "--fedmesh") == 0 && i + 1 < argc) {
            options.fedmesh = argv[++i];
        } else if (strcmp(argv[i], "--keep") == 0) {
            options.keep = true;
        } else if (strcmp(argv[i], "--leases") == 0 && i + 1 < argc &&
                   parse_u32(argv[i + 1], 1, 1000000, &value) == 0) {
            options.lease_count = value;
            i++;
        } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc &&
                   parse_u32(argv[i + 1], 1, 600, &value) == 0) {
            options.seconds = value;
            i++;
        } else if (strcmp(argv[i], "--leases-max") == 0 && i + 1 < argc &&
                   parse_u32(argv[i + 1], 2, 1048576, &value) == 0) {
            options.leases_max = value;
            i++;
        } else if (strcmp(argv[i], "--concurrency") == 0 && i + 1 < argc &&
                   parse_u32(argv[i + 1], 1, 64, &value) == 0) {
            options.concurrency = value;
            i++;
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
    if (strcmp(argv[1], "lease") == 0) {
        return bench_lease(&options);
    }
    (void) fputs(usage, stderr);
    return 2;
}
