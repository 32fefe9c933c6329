/*
 * sim/sim_int.h: the simulator's parts, shared by the files of sim/ and their tests
 * (tests/unit/sim_*_test.c): the event heap, the network model and the
 * embedded latency table.
 *
 * The event heap is a binary min-heap ordered by (time_ns, sequence). The
 * sequence is an insertion counter, so two events at the same virtual
 * nanosecond pop in the order they were pushed: ties are deterministic and
 * never depend on the heap's internal layout.
 *
 * The network model decides, for one message from node a to node b, whether
 * it is delivered and after how long. Nodes sit in the cities of the
 * embedded table round-robin (node i in city i % SIM_CITY_COUNT). One-way
 * latency is half the measured average RTT between the two cities, 0.25 ms
 * inside one city, with uniform jitter of +-10 % of that latency; each
 * message is lost independently with probability loss_ppm / 10^6; while a
 * partition is active, a message between two different groups is dropped.
 * All randomness comes from the network's own mesh_rng stream, and every
 * message draws the same number of values whatever the verdict, so that a
 * change in loss does not shift the jitter of the messages after it.
 */
#ifndef SIM_SIM_INT_H
#define SIM_SIM_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "mesh/mesh.h"
#include "sim/sim.h"

/* The latency table (sim/latency_table.c, generated from
 * data/latency-eu-rtt-ms.csv by sim/gen_latency_table.sh). */
#define SIM_CITY_COUNT 12u

typedef struct sim_city {
    const char *name;
    const char *country; /* ISO 3166-1 alpha-2 */
} sim_city;

extern const sim_city sim_cities[SIM_CITY_COUNT];
extern const uint32_t sim_city_rtt_us[SIM_CITY_COUNT][SIM_CITY_COUNT];

/* Events. */
typedef enum sim_event_kind {
    SIM_EVENT_START = 1,   /* a node boots: its first gossip_on_tick */
    SIM_EVENT_TIMER = 2,   /* a node's deadline; stale when generation moved on */
    SIM_EVENT_DELIVER = 3, /* a frame arrives at node_index from from_index */
    SIM_EVENT_CHECK = 4,   /* the scenario looks at every view */
    SIM_EVENT_ATTACK = 5,  /* a hostile member sends one forged or replayed frame */
} sim_event_kind;

typedef struct sim_event {
    uint64_t time_ns;
    uint64_t sequence; /* set by sim_heap_push */
    uint64_t generation;
    uint8_t *payload; /* DELIVER: malloc'ed copy, owned by the event */
    uint32_t payload_size;
    uint32_t kind; /* sim_event_kind */
    uint32_t node_index;
    uint32_t from_index;
} sim_event;

typedef struct sim_heap {
    sim_event *events;
    uint32_t count;
    uint32_t capacity;
    uint32_t count_max;
    uint64_t sequence_next;
} sim_heap;

/* Empties heap; events grow on demand up to count_max. Errors: none (the
 * storage is allocated by the first push). */
void sim_heap_init(sim_heap *heap, uint32_t count_max);
/* Frees the storage and every payload still queued. */
void sim_heap_fini(sim_heap *heap);
/* Copies event in and stamps its sequence. Errors: MESH_EFULL (count_max
 * events queued), MESH_ENOMEM. On error the caller still owns the payload. */
MESH_MUST_USE mesh_err sim_heap_push(sim_heap *heap, const sim_event *event);
/* The earliest event, removed; false when empty. The payload passes to the
 * caller. */
bool sim_heap_pop(sim_heap *heap, sim_event *event_out);
/* The earliest event without removing it; NULL when empty. */
const sim_event *sim_heap_peek(const sim_heap *heap);

/* The network. */
typedef enum sim_verdict {
    SIM_VERDICT_DELIVER = 0,
    SIM_VERDICT_LOSS = 1,
    SIM_VERDICT_PARTITION = 2,
    SIM_VERDICT_DOWN = 3,     /* the destination is crashed or not started */
    SIM_VERDICT_ADDRESS = 4,  /* the endpoint names no node */
    SIM_VERDICT_OVERFLOW = 5, /* the simulator's in-flight bound is reached */
} sim_verdict;

#define SIM_VERDICT_COUNT 6u

#define SIM_SAME_CITY_LATENCY_NS (250u * MESH_NS_PER_US)
#define SIM_PPM                  1000000u

typedef struct sim_net {
    mesh_rng rng;
    uint32_t node_count;
    uint32_t loss_ppm;
    bool partitioned;
    uint8_t *group; /* node_count entries; compared only while partitioned */
    /* NULL: nodes sit in the embedded table's cities (sim_net_latency_ns).
     * Else node_count x node_count round trips in us (a scenario's own
     * table), borrowed; the diagonal means "same site". */
    const uint32_t *rtt_us;
} sim_net;

/* Errors: MESH_EINVAL (node_count 0, loss_ppm over 10^6), MESH_ENOMEM. */
MESH_MUST_USE mesh_err sim_net_init(sim_net *net,
                                    uint32_t node_count,
                                    uint32_t loss_ppm,
                                    uint64_t seed);
void sim_net_fini(sim_net *net);
/* Latency from a scenario's own table instead of the embedded cities:
 * rtt_us (node_count x node_count, borrowed for the net's life) gives
 * one-way latency rtt / 2, SIM_SAME_CITY_LATENCY_NS on the diagonal and
 * for a zero entry. */
void sim_net_set_rtt_table(sim_net *net, const uint32_t *rtt_us);
/* The city a node sits in. */
uint32_t sim_net_city_of(uint32_t node_index);
/* One-way latency before jitter, in ns. */
uint64_t sim_net_latency_ns(uint32_t from_index, uint32_t to_index);
/* Decides one message: SIM_VERDICT_DELIVER with *delay_ns_out set, or
 * SIM_VERDICT_LOSS or SIM_VERDICT_PARTITION. */
sim_verdict
sim_net_route(sim_net *net, uint32_t from_index, uint32_t to_index, uint64_t *delay_ns_out);
/* Puts nodes into groups (group[i] for node i) and starts the partition. */
void sim_net_partition(sim_net *net, const uint8_t *group);
void sim_net_heal(sim_net *net);

/* Adds a two-letter jurisdiction code to a certificate being made,
 * keeping the list sorted (the wire wants it so); room must be left. */
void sim_cert_add_jurisdiction(wire_cert *cert, const char *code);
/* The grid carbon intensity (gCO2/kWh) of a country the simulated cities
 * are in: Ember's 2024 yearly averages. */
uint32_t sim_carbon_of(const char *country);

/* Parses "sim://<index>" with index < node_count, without leading zeros.
 * False for anything else. */
bool sim_endpoint_parse(const char *endpoint, uint32_t node_count, uint32_t *index_out);

/* The result as JSON; with_digest false leaves the "digest" key out (that
 * text is what the digest covers). Errors: MESH_EFULL. */
MESH_MUST_USE mesh_err sim_gossip_json_body(const sim_gossip_result *result,
                                            bool with_digest,
                                            char *buf,
                                            uint32_t buf_size,
                                            uint32_t *size_out);

#endif /* SIM_SIM_INT_H */
