/*
 * tests/bench/simgrid_compare/fedmesh_side.c: the comparison's scenario
 * (workload.h) on fedmesh's simulator engine, the way sim/ runs a
 * federation: one thread, virtual nanoseconds, the sim_heap event queue
 * with its deterministic ties, a message as a SIM_EVENT_DELIVER carrying a
 * malloc'ed copy of its payload.
 *
 *   simgrid-compare-fedmesh [--nodes N] [--messages M] [--seed S]
 *                           [--latency-ms L]
 *
 * Each site has one SIM_EVENT_TIMER per round; when it fires the site draws
 * a destination, builds the payload and pushes its delivery at now +
 * link_ns[from] + link_ns[to], then arms its next round. A delivery is the
 * receiver's work (cmp_deliver, then free). An event in events_per_s is a
 * message delivered, as on the SimGrid side; the timers are the engine's
 * cost, not events.
 *
 * Prints one JSON line (cmp_print_result); wall_s covers the event loop,
 * setup_s the workload and the first timers. Exit 0, or 1 with a message
 * on stderr (bad option, out of memory, the heap's bound reached).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_int.h"
#include "tests/bench/simgrid_compare/workload.h"

/* The heap holds one timer per site and the messages in flight: at most a
 * site's messages of the rounds its slowest path spans (latency below 10
 * rounds, CMP_LATENCY_NS_MAX and the table's 60 ms). */
#define HEAP_ROUNDS_IN_FLIGHT_MAX 12u

static mesh_err push_timer(sim_heap *heap, uint32_t site, uint64_t round)
{
    sim_event event;
    memset(&event, 0, sizeof(event));
    event.time_ns = round * CMP_ROUND_NS;
    event.kind = SIM_EVENT_TIMER;
    event.node_index = site;
    event.generation = round;
    return sim_heap_push(heap, &event);
}

/* A site's round: one message out, the next round armed. */
static mesh_err on_timer(sim_heap *heap, cmp_workload *workload, const sim_event *timer)
{
    uint32_t from = timer->node_index;
    uint64_t round = timer->generation;
    uint32_t to = cmp_next_destination(workload, from);
    sim_event delivery;
    memset(&delivery, 0, sizeof(delivery));
    delivery.payload = malloc(CMP_PAYLOAD_SIZE);
    if (delivery.payload == NULL) {
        return MESH_ENOMEM;
    }
    cmp_payload_fill(delivery.payload, from, round, to);
    delivery.payload_size = CMP_PAYLOAD_SIZE;
    delivery.time_ns = timer->time_ns + workload->link_ns[from] + workload->link_ns[to];
    delivery.kind = SIM_EVENT_DELIVER;
    delivery.node_index = to;
    delivery.from_index = from;
    mesh_err err = sim_heap_push(heap, &delivery);
    if (err != MESH_OK) {
        free(delivery.payload);
        return err;
    }
    if (cmp_sends(workload, from, round + 1u)) {
        return push_timer(heap, from, round + 1u);
    }
    return MESH_OK;
}

static mesh_err run(cmp_workload *workload, sim_heap *heap, cmp_result *result)
{
    sim_event event;
    while (sim_heap_pop(heap, &event)) {
        if (event.kind == SIM_EVENT_TIMER) {
            mesh_err err = on_timer(heap, workload, &event);
            if (err != MESH_OK) {
                return err;
            }
            continue;
        }
        MESH_ASSERT(event.kind == SIM_EVENT_DELIVER);
        MESH_ASSERT(event.payload_size == CMP_PAYLOAD_SIZE);
        cmp_deliver(result, event.payload, event.time_ns);
        free(event.payload);
    }
    return MESH_OK;
}

int main(int argc, char **argv)
{
    cmp_config config;
    if (cmp_parse_args(argc, argv, &config) != MESH_OK) {
        return 1;
    }
    double setup_start_s = cmp_wall_s();
    cmp_workload workload;
    mesh_err err = cmp_workload_init(&workload, &config);
    if (err != MESH_OK) {
        (void) fprintf(stderr, "fedmesh side: %s\n", mesh_strerror(err));
        return 1;
    }
    sim_heap heap;
    uint64_t heap_max = (uint64_t) config.node_count * HEAP_ROUNDS_IN_FLIGHT_MAX + 1024u;
    sim_heap_init(&heap, heap_max > UINT32_MAX ? UINT32_MAX : (uint32_t) heap_max);
    for (uint32_t site = 0; site < config.node_count && err == MESH_OK; site++) {
        if (cmp_sends(&workload, site, 0)) {
            err = push_timer(&heap, site, 0);
        }
    }
    cmp_result result;
    memset(&result, 0, sizeof(result));
    double start_s = cmp_wall_s();
    if (err == MESH_OK) {
        err = run(&workload, &heap, &result);
    }
    double end_s = cmp_wall_s();
    sim_heap_fini(&heap);
    if (err != MESH_OK) {
        (void) fprintf(stderr, "fedmesh side: %s after %llu deliveries\n", mesh_strerror(err),
                       (unsigned long long) result.delivered);
        cmp_workload_fini(&workload);
        return 1;
    }
    cmp_print_result("fedmesh", &workload, &result, start_s - setup_start_s, end_s - start_s,
                     "sim_heap");
    cmp_workload_fini(&workload);
    return 0;
}
