/*
 * tests/bench/simgrid_compare/workload.h: the scenario that the SimGrid
 * comparison runs on both sides, so that both run the very same workload.
 *
 * N sites in a star. Site s has one link to the centre with latency
 * link_ns[s]; a message from a to b crosses two links and arrives after
 * link_ns[a] + link_ns[b]. Every round of CMP_ROUND_NS (1 s) each site
 * sends one message of CMP_PAYLOAD_SIZE bytes to a random other site, at
 * exactly r * CMP_ROUND_NS, until M messages are sent in all: site s sends
 * in round r when r * N + s < M, so there are ceil(M / N) rounds.
 *
 * Same schedule on both sides: site s draws its destinations from its own
 * mesh_rng stream (seeded from the run's seed through one master stream),
 * so the n-th destination of site s is the same whatever order a simulator
 * runs the sites in. The payload is a pure function of (sender, round,
 * destination). The receiver's work is the same on both sides: it counts
 * the message and adds cmp_payload_sum() to a 64-bit checksum (a wrapping
 * sum, so the total does not depend on delivery order). Two simulators that
 * deliver the same messages therefore report the same count and checksum,
 * and the same virtual end time up to the network model's rounding.
 *
 * Latencies: a constant L (each link L / 2) or, by default, the European
 * table of sim/ (data/latency-eu-rtt-ms.csv): a star centred at Frankfurt,
 * site s sits in city s % 12 as in sim_net, and its link has the one-way
 * latency between its city and Frankfurt (sim_net_latency_ns); a site in
 * Frankfurt has half of sim's same-city latency.
 *
 * Both sides include this header: the SimGrid side from C++, hence the
 * extern "C".
 */
#ifndef SIMGRID_COMPARE_WORKLOAD_H
#define SIMGRID_COMPARE_WORKLOAD_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stdint.h>

#include "mesh/mesh.h"

#define CMP_PAYLOAD_SIZE   512u
#define CMP_ROUND_NS       MESH_NS_PER_S
#define CMP_NODES_MAX      100000u
#define CMP_MESSAGES_MAX   1000000000ull
/* A constant latency above this is refused (10 s, ten rounds). */
#define CMP_LATENCY_NS_MAX (10ull * MESH_NS_PER_S)

typedef struct cmp_config {
    uint32_t node_count;    /* 2..CMP_NODES_MAX */
    uint64_t message_count; /* 1..CMP_MESSAGES_MAX */
    uint64_t seed;
    uint64_t latency_ns; /* a constant path latency; 0 for the European table */
} cmp_config;

typedef struct cmp_workload {
    cmp_config config;
    uint64_t round_count;
    uint64_t *link_ns; /* node_count entries */
    mesh_rng *rng;     /* node_count streams, one per sending site */
} cmp_workload;

/* What a side reports. */
typedef struct cmp_result {
    uint64_t delivered;
    uint64_t checksum;
    uint64_t end_ns;         /* virtual time of the last delivery */
    uint64_t latency_sum_ns; /* sum over deliveries of (arrival - send time) */
} cmp_result;

/* Parses the command line both sides take (--nodes N --messages M --seed
 * S --latency-ms L; no --latency-ms, or 0, for the European table) over
 * the defaults (100 sites, 100,000 messages, seed 1, the European table).
 * Errors: MESH_EINVAL (an unknown option, or a value out of range or not
 * a number; a message naming it is on stderr). */
MESH_MUST_USE mesh_err cmp_parse_args(int argc, char **argv, cmp_config *config_out);

/* Errors: MESH_EINVAL (config out of range), MESH_ENOMEM. */
MESH_MUST_USE mesh_err cmp_workload_init(cmp_workload *workload, const cmp_config *config);
void cmp_workload_fini(cmp_workload *workload);

/* Whether site sends in round. */
bool cmp_sends(const cmp_workload *workload, uint32_t site, uint64_t round);
/* The next destination of site (never site itself); advances its stream. */
uint32_t cmp_next_destination(cmp_workload *workload, uint32_t site);
/* Fills payload (CMP_PAYLOAD_SIZE bytes) for one message. */
void cmp_payload_fill(uint8_t *payload, uint32_t from, uint64_t round, uint32_t to);
/* The receiver's work: what one message adds to the checksum. */
uint64_t cmp_payload_sum(const uint8_t *payload);
/* The receiver's bookkeeping, the same on both sides: count, checksum,
 * end time and the message's latency (its send time is in the payload). */
void cmp_deliver(cmp_result *result, const uint8_t *payload, uint64_t now_ns);

/* One side's result as one JSON object on stdout (no newline inside). */
void cmp_print_result(const char *side,
                      const cmp_workload *workload,
                      const cmp_result *result,
                      double setup_s,
                      double wall_s,
                      const char *model);
/* Seconds of the monotonic clock. */
double cmp_wall_s(void);

#ifdef __cplusplus
}
#endif

#endif /* SIMGRID_COMPARE_WORKLOAD_H */
