/*
 * tests/bench/simgrid_compare/workload.c: the shared scenario (workload.h):
 * options, latencies, the per-site destination streams, the payload and
 * the receiver's checksum, and the JSON line each side prints.
 *
 * Everything a side does per message that is not its engine lives here,
 * compiled once and linked into both programs, so that the two sides
 * differ only in the simulator that schedules the messages.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "tests/bench/simgrid_compare/workload.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim/sim_int.h"

/* The hub of the European star: Frankfurt (DE-CIX), city 1 of sim's table. */
#define CMP_HUB_CITY 1u

static mesh_err parse_u64(const char *option, const char *text, uint64_t max, uint64_t *value_out)
{
    if (text == NULL || text[0] < '0' || text[0] > '9') {
        (void) fprintf(stderr, "%s: expected a number, got '%s'\n", option,
                       text ? text : "(nothing)");
        return MESH_EINVAL;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || end == NULL || *end != '\0' || value > max) {
        (void) fprintf(stderr, "%s: '%s' is not a number in 0..%" PRIu64 "\n", option, text, max);
        return MESH_EINVAL;
    }
    *value_out = (uint64_t) value;
    return MESH_OK;
}

/* One option at argv[at]: *used_out argv entries consumed. MESH_ENOTFOUND
 * for an option it does not know. */
static mesh_err parse_option(int argc, char **argv, int at, cmp_config *config_out, int *used_out)
{
    MESH_ASSERT(argv != NULL && config_out != NULL && used_out != NULL);
    MESH_ASSERT(at >= 0 && at < argc);
    *used_out = 0;
    const char *option = argv[at];
    const char *text = at + 1 < argc ? argv[at + 1] : NULL;
    uint64_t value = 0;
    mesh_err err = MESH_OK;
    if (strcmp(option, "--nodes") == 0) {
        err = parse_u64(option, text, CMP_NODES_MAX, &value);
        if (err == MESH_OK && value < 2) {
            (void) fprintf(stderr, "--nodes: at least 2 sites\n");
            err = MESH_EINVAL;
        }
        config_out->node_count = (uint32_t) value;
    } else if (strcmp(option, "--messages") == 0) {
        err = parse_u64(option, text, CMP_MESSAGES_MAX, &value);
        if (err == MESH_OK && value == 0) {
            (void) fprintf(stderr, "--messages: at least 1\n");
            err = MESH_EINVAL;
        }
        config_out->message_count = value;
    } else if (strcmp(option, "--seed") == 0) {
        err = parse_u64(option, text, UINT64_MAX, &value);
        config_out->seed = value;
    } else if (strcmp(option, "--latency-ms") == 0) {
        err = parse_u64(option, text, CMP_LATENCY_NS_MAX / MESH_NS_PER_MS, &value);
        config_out->latency_ns = value * MESH_NS_PER_MS;
    } else {
        return MESH_ENOTFOUND;
    }
    if (err == MESH_OK) {
        *used_out = 2;
    }
    return err;
}

mesh_err cmp_parse_args(int argc, char **argv, cmp_config *config_out)
{
    MESH_ASSERT(argv != NULL && config_out != NULL);
    memset(config_out, 0, sizeof(*config_out));
    config_out->node_count = 100;
    config_out->message_count = 100000;
    config_out->seed = 1;
    for (int at = 1; at < argc;) {
        int used = 0;
        mesh_err err = parse_option(argc, argv, at, config_out, &used);
        if (err == MESH_ENOTFOUND) {
            (void) fprintf(stderr, "%s: unknown option %s\n", argv[0], argv[at]);
            return MESH_EINVAL;
        }
        if (err != MESH_OK) {
            return err;
        }
        at += used;
    }
    return MESH_OK;
}

mesh_err cmp_workload_init(cmp_workload *workload, const cmp_config *config)
{
    MESH_ASSERT(workload != NULL && config != NULL);
    memset(workload, 0, sizeof(*workload));
    if (config->node_count < 2 || config->node_count > CMP_NODES_MAX ||
        config->message_count == 0 || config->message_count > CMP_MESSAGES_MAX ||
        config->latency_ns > CMP_LATENCY_NS_MAX) {
        return MESH_EINVAL;
    }
    workload->config = *config;
    workload->round_count = (config->message_count + config->node_count - 1) / config->node_count;
    workload->link_ns = calloc(config->node_count, sizeof(uint64_t));
    workload->rng = calloc(config->node_count, sizeof(mesh_rng));
    if (workload->link_ns == NULL || workload->rng == NULL) {
        cmp_workload_fini(workload);
        return MESH_ENOMEM;
    }
    mesh_rng master;
    mesh_rng_seed(&master, config->seed);
    for (uint32_t site = 0; site < config->node_count; site++) {
        mesh_rng_seed(&workload->rng[site], mesh_rng_next(&master));
        if (config->latency_ns != 0) {
            workload->link_ns[site] = config->latency_ns / 2u;
        } else if (sim_net_city_of(site) == CMP_HUB_CITY) {
            workload->link_ns[site] = SIM_SAME_CITY_LATENCY_NS / 2u;
        } else {
            workload->link_ns[site] = sim_net_latency_ns(site, CMP_HUB_CITY);
        }
    }
    return MESH_OK;
}

void cmp_workload_fini(cmp_workload *workload)
{
    if (workload == NULL) {
        return;
    }
    free(workload->link_ns);
    free(workload->rng);
    memset(workload, 0, sizeof(*workload));
}

bool cmp_sends(const cmp_workload *workload, uint32_t site, uint64_t round)
{
    MESH_ASSERT(workload != NULL && site < workload->config.node_count);
    return round < workload->round_count &&
           round * workload->config.node_count + site < workload->config.message_count;
}

uint32_t cmp_next_destination(cmp_workload *workload, uint32_t site)
{
    MESH_ASSERT(workload != NULL && site < workload->config.node_count);
    uint32_t to = (uint32_t) mesh_rng_below(&workload->rng[site], workload->config.node_count - 1u);
    // Uniform over the other sites: skip over the sender.
    return to >= site ? to + 1u : to;
}

void cmp_payload_fill(uint8_t *payload, uint32_t from, uint64_t round, uint32_t to)
{
    MESH_ASSERT(payload != NULL);
    memset(payload, (int) ((from * 131u + to * 7u + (uint32_t) round) & 0xffu), CMP_PAYLOAD_SIZE);
    memcpy(payload, &from, sizeof(from));
    memcpy(payload + 4, &to, sizeof(to));
    memcpy(payload + 8, &round, sizeof(round));
}

uint64_t cmp_payload_sum(const uint8_t *payload)
{
    MESH_ASSERT(payload != NULL);
    uint64_t sum = 0;
    for (uint32_t at = 0; at < CMP_PAYLOAD_SIZE; at += 8u) {
        uint64_t word;
        memcpy(&word, payload + at, sizeof(word));
        sum += word;
    }
    return sum * 0x9e3779b97f4a7c15ull;
}

void cmp_deliver(cmp_result *result, const uint8_t *payload, uint64_t now_ns)
{
    MESH_ASSERT(result != NULL && payload != NULL);
    uint64_t round;
    memcpy(&round, payload + 8, sizeof(round));
    uint64_t sent_ns = round * CMP_ROUND_NS;
    result->delivered++;
    result->checksum += cmp_payload_sum(payload);
    result->latency_sum_ns += now_ns > sent_ns ? now_ns - sent_ns : 0u;
    if (now_ns > result->end_ns) {
        result->end_ns = now_ns;
    }
}

void cmp_print_result(const char *side,
                      const cmp_workload *workload,
                      const cmp_result *result,
                      double setup_s,
                      double wall_s,
                      const char *model)
{
    MESH_ASSERT(side != NULL && workload != NULL && result != NULL && model != NULL);
    double events_per_s = wall_s > 0 ? (double) result->delivered / wall_s : 0.0;
    double latency_mean_ns =
        result->delivered > 0 ? (double) result->latency_sum_ns / (double) result->delivered : 0.0;
    (void) printf(
        "{\"side\": \"%s\", \"model\": \"%s\", \"nodes\": %" PRIu32 ", \"messages\": %" PRIu64
        ", \"seed\": %" PRIu64 ", \"latency\": \"%s\", \"delivered\": %" PRIu64
        ", \"checksum\": \"%016" PRIx64 "\", \"virtual_end_ns\": %" PRIu64
        ", \"latency_mean_ns\": %.1f, \"setup_s\": %.6f, \"wall_s\": %.6f, \"events_per_s\": "
        "%.0f}\n",
        side, model, workload->config.node_count, workload->config.message_count,
        workload->config.seed, workload->config.latency_ns == 0 ? "eu-star" : "constant",
        result->delivered, result->checksum, result->end_ns, latency_mean_ns, setup_s, wall_s,
        events_per_s);
    (void) fflush(stdout);
}

double cmp_wall_s(void)
{
    struct timespec now;
    if (clock_gettime(CLOCK_MONOTONIC, &now) != 0) {
        return 0.0;
    }
    return (double) now.tv_sec + (double) now.tv_nsec / 1e9;
}
