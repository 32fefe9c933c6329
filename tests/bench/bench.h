/*
 * tests/bench/bench.h: the benchmark harness. Each benchmark compares
 * fedmesh with the raw library it stands on, in the same process, in
 * interleaved rounds, and reports medians and their ratio: absolute times
 * on a shared two-core machine mean little, ratios measured side by side
 * mean much more.
 */
#ifndef TESTS_BENCH_BENCH_H
#define TESTS_BENCH_BENCH_H

#include <stdbool.h>
#include <stdint.h>

#define BENCH_ROUNDS_MAX 101u

typedef struct bench_options {
    bool json;
    uint32_t rounds;   /* interleaved rounds; the median is reported */
    uint64_t round_ns; /* target duration of one round of one side */
    const char *dir;   /* ledger, lease: where the databases go; NULL: the current directory */
    /* lease only: */
    const char *fedmesh;  /* the fedmesh binary; NULL: next to fedmesh-bench */
    uint32_t lease_count; /* sequential leases measured */
    uint32_t seconds;     /* duration of the concurrent phase */
    uint32_t concurrency; /* HTTP connections in flight at once in that phase */
    uint32_t leases_max;  /* the agents' [lease] leases_max; 0: sized for the run */
    bool keep;            /* keep the temporary directory (logs, ledgers) */
} bench_options;

uint64_t bench_clock_ns(void);
double bench_median(double *values, uint32_t count);

int bench_crypto(const bench_options *options);
int bench_ledger(const bench_options *options);
int bench_lease(const bench_options *options);

#endif
