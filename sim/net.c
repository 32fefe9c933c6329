/*
 * sim/net.c: the simulated network: latency from real European RTTs,
 * jitter, independent loss, partitions, and "sim://<index>" endpoints.
 *
 * Design: the model is a pure function of (its rng stream, from, to, the
 * partition state), so the event loop stays free of network policy. Every
 * call to sim_net_route draws exactly two values from the rng (one for
 * loss, one for jitter), whatever the verdict: a change in the loss rate or
 * a partition therefore does not shift the jitter drawn for later messages,
 * and runs that differ in one knob stay comparable message by message.
 *
 * Integer arithmetic only: the loss is in parts per million and jitter is
 * drawn in whole nanoseconds, so a run is the same on every platform.
 */
#include <stdlib.h>
#include <string.h>

#include "sim/sim_int.h"

mesh_err sim_net_init(sim_net *net, uint32_t node_count, uint32_t loss_ppm, uint64_t seed)
{
    MESH_ASSERT(net != NULL);
    if (node_count == 0 || loss_ppm > SIM_PPM) {
        return MESH_EINVAL;
    }
    memset(net, 0, sizeof(*net));
    net->group = calloc(node_count, 1);
    if (net->group == NULL) {
        return MESH_ENOMEM;
    }
    mesh_rng_seed(&net->rng, seed);
    net->node_count = node_count;
    net->loss_ppm = loss_ppm;
    return MESH_OK;
}

void sim_net_fini(sim_net *net)
{
    if (net == NULL) {
        return;
    }
    free(net->group);
    memset(net, 0, sizeof(*net));
}

uint32_t sim_net_city_of(uint32_t node_index)
{
    return node_index % SIM_CITY_COUNT;
}

uint64_t sim_net_latency_ns(uint32_t from_index, uint32_t to_index)
{
    uint32_t a = sim_net_city_of(from_index);
    uint32_t b = sim_net_city_of(to_index);
    if (a == b) {
        return SIM_SAME_CITY_LATENCY_NS;
    }
    uint32_t rtt_us = sim_city_rtt_us[a][b];
    MESH_ASSERT(rtt_us > 0);
    // One way is half the round trip.
    return (uint64_t) rtt_us * MESH_NS_PER_US / 2u;
}

void sim_net_set_rtt_table(sim_net *net, const uint32_t *rtt_us)
{
    MESH_ASSERT(net != NULL);
    net->rtt_us = rtt_us;
}

static uint64_t route_latency_ns(const sim_net *net, uint32_t from_index, uint32_t to_index)
{
    if (net->rtt_us == NULL) {
        return sim_net_latency_ns(from_index, to_index);
    }
    uint32_t rtt_us = net->rtt_us[(size_t) from_index * net->node_count + to_index];
    if (from_index == to_index || rtt_us == 0) {
        return SIM_SAME_CITY_LATENCY_NS;
    }
    return (uint64_t) rtt_us * MESH_NS_PER_US / 2u;
}

sim_verdict
sim_net_route(sim_net *net, uint32_t from_index, uint32_t to_index, uint64_t *delay_ns_out)
{
    MESH_ASSERT(net != NULL && delay_ns_out != NULL);
    MESH_ASSERT(from_index < net->node_count && to_index < net->node_count);
    uint64_t loss_draw = mesh_rng_below(&net->rng, SIM_PPM);
    uint64_t latency_ns = route_latency_ns(net, from_index, to_index);
    uint64_t jitter_ns = latency_ns / 10u;
    uint64_t jitter_draw = mesh_rng_below(&net->rng, 2u * jitter_ns + 1u);
    if (loss_draw < net->loss_ppm) {
        return SIM_VERDICT_LOSS;
    }
    if (net->partitioned && net->group[from_index] != net->group[to_index]) {
        return SIM_VERDICT_PARTITION;
    }
    *delay_ns_out = latency_ns - jitter_ns + jitter_draw;
    MESH_ASSERT(*delay_ns_out > 0);
    return SIM_VERDICT_DELIVER;
}

void sim_net_partition(sim_net *net, const uint8_t *group)
{
    MESH_ASSERT(net != NULL && group != NULL);
    memcpy(net->group, group, net->node_count);
    net->partitioned = true;
}

void sim_net_heal(sim_net *net)
{
    MESH_ASSERT(net != NULL);
    net->partitioned = false;
}

bool sim_endpoint_parse(const char *endpoint, uint32_t node_count, uint32_t *index_out)
{
    MESH_ASSERT(index_out != NULL);
    static const char scheme[] = "sim://";
    if (endpoint == NULL || strncmp(endpoint, scheme, sizeof(scheme) - 1) != 0) {
        return false;
    }
    const char *digits = endpoint + sizeof(scheme) - 1;
    if (digits[0] == '\0' || (digits[0] == '0' && digits[1] != '\0')) {
        return false;
    }
    uint64_t value = 0;
    for (const char *c = digits; *c != '\0'; c++) {
        if (*c < '0' || *c > '9' || value >= node_count) {
            return false;
        }
        value = value * 10u + (uint64_t) (*c - '0');
    }
    if (value >= node_count) {
        return false;
    }
    *index_out = (uint32_t) value;
    return true;
}
