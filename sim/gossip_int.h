/*
 * sim/gossip_int.h: the parts of the gossip scenario (`fedmesh sim gossip`)
 * shared by its three files; nothing outside sim/gossip_*.c includes it.
 *
 *   sim/gossip_world.c      the federation the run fabricates: the root key,
 *                           each member's key, certificate, city, advert and
 *                           member_node; the shared caches; lookups by id.
 *   sim/gossip_adversary.c  the hostile members and the frames they forge.
 *   sim/gossip_run.c        the event loop, the phases, the conditions they
 *                           wait for, the digest and the result.
 *
 * One state object (sim_gossip_state) holds all three parts' state; each
 * file writes only its own fields (grouped below), and reads the others.
 * Determinism: every random draw comes from a stream named here
 * (SIM_GOSSIP_STREAM_*), and the order in which the files draw from the
 * setup stream and push events is part of the digest: world creation
 * draws the root, then each member in index order.
 */
#ifndef SIM_GOSSIP_INT_H
#define SIM_GOSSIP_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <sodium.h>

#include "crypto/crypto.h"
#include "gossip/gossip.h"
#include "member/member.h"
#include "sim/sim_int.h"
#include "wire/wire.h"

#define SIM_EPOCH_NS       (1767225600ll * (int64_t) MESH_NS_PER_S) /* 2026-01-01T00:00:00Z */
#define SIM_DAY_NS         (86400ll * (int64_t) MESH_NS_PER_S)
#define SIM_SEED_COUNT_MAX 3u
#define SIM_ENDPOINT_SIZE  24u

/* Stream ids mixed into the seed, one per purpose. */
#define SIM_GOSSIP_STREAM_SETUP   0x5e7u
#define SIM_GOSSIP_STREAM_NETWORK 0x4e7u
#define SIM_GOSSIP_STREAM_NODE    0x40de0000u
#define SIM_GOSSIP_STREAM_HOSTILE 0x4057u
#define SIM_GOSSIP_HOSTILE_FIRST  3u /* hostile members are 3..3+K-1: never a seed */

typedef struct sim_gossip_state sim_gossip_state;

/* The member_io context of one node: the run and the node's index. */
typedef struct sim_gossip_io {
    sim_gossip_state *run;
    uint32_t index;
} sim_gossip_io;

typedef struct sim_gossip_node {
    member_node *member;   /* a member without a ledger: gossip through the one executor */
    const gossip *machine; /* member_gossip(member), for queries */
    mesh_rng rng;
    mesh_node_id id;
    uint64_t start_ns;
    int64_t skew_ns;
    uint64_t timer_ns; /* the deadline a live TIMER event stands for */
    uint64_t timer_generation;
    bool timer_armed;
    bool started;
    bool crashed;
    bool has_news;        /* holds node 0's new advert */
    bool false_down_seen; /* as a member: counted in false_down already */
    char endpoint[SIM_ENDPOINT_SIZE];
} sim_gossip_node;

typedef struct sim_gossip_id_entry {
    mesh_node_id id;
    uint32_t index;
} sim_gossip_id_entry;

typedef enum sim_gossip_phase {
    SIM_GOSSIP_PHASE_JOIN = 0,
    SIM_GOSSIP_PHASE_IDLE = 1,
    SIM_GOSSIP_PHASE_ADVERT = 2,
    SIM_GOSSIP_PHASE_CRASH = 3,
    SIM_GOSSIP_PHASE_PARTITION = 4,
    SIM_GOSSIP_PHASE_HEAL = 5,
    SIM_GOSSIP_PHASE_TAIL = 6,
} sim_gossip_phase;

struct sim_gossip_state {
    /* The loop's (gossip_run.c): the clock, the heap, the network, the
     * digest, the result, and the phase's conditions. */
    const sim_gossip_config *config;
    sim_gossip_result result;
    uint32_t live_count;
    sim_heap heap;
    sim_net net;
    uint64_t now_ns;
    uint64_t inflight_bytes;
    crypto_generichash_state digest;
    mesh_err io_error; /* the first error a member_io callback met in a call */
    sim_gossip_phase phase;
    bool false_down_counting;
    uint32_t witness_node;
    uint32_t witness_member;
    uint32_t news_count;
    uint32_t news_99_count;
    uint64_t advert_at_ns;
    uint8_t *crashed_flags; /* node_count entries */

    /* The world's (gossip_world.c), made once; the loop sets the nodes'
     * run-time flags (started, crashed, timers, has_news). */
    sim_gossip_node *nodes;
    uint32_t node_count;
    mesh_rng setup_rng;                 /* seeded by the loop; also draws the crashes */
    sim_gossip_io *io;                  /* one per node: the member_io context */
    sim_gossip_id_entry *id_order;      /* every node's id, sorted, for lookups */
    mcrypto_verify_cache *verify_cache; /* shared by every machine; NULL when off */
    gossip_store *store;                /* every machine's frames, each kept once */
    mcrypto_pair_cache *pair_cache;     /* pair keys, shared: both sides derive the same */

    /* The adversary's (gossip_adversary.c): the hostile members' keys, a
     * key no root admitted, and a certificate for it from another root. */
    mesh_rng hostile_rng;
    mcrypto_keypair *hostile_keys;
    mcrypto_keypair stranger;
    uint8_t stranger_cert[WIRE_RECORD_SIZE_MAX];
    uint32_t stranger_cert_size;
};

static inline uint64_t sim_gossip_stream_seed(uint64_t seed, uint64_t stream)
{
    // splitmix64 inside mesh_rng_seed spreads neighbouring values apart.
    return seed ^ (stream * 0x9e3779b97f4a7c15ull);
}

static inline bool sim_gossip_node_live(const sim_gossip_node *node)
{
    return node->started && !node->crashed;
}

static inline mesh_now sim_gossip_node_now(const sim_gossip_state *run, const sim_gossip_node *node)
{
    mesh_now now = {
        .monotonic_ns = run->now_ns,
        .realtime_ns = SIM_EPOCH_NS + (int64_t) run->now_ns + node->skew_ns,
    };
    return now;
}

/* gossip_run.c: the loop's services to the other two files. */

/* Queues event (its time not before now). Errors: those of sim_heap_push,
 * printed; the caller still owns a payload on error. */
MESH_MUST_USE mesh_err sim_gossip_push_event(sim_gossip_state *run, const sim_event *event);
/* Routes one frame from node `from` through the network model (copied on
 * delivery) and digests its fate. Errors: MESH_ENOMEM, heap errors. */
MESH_MUST_USE mesh_err sim_gossip_send_frame(sim_gossip_state *run,
                                             uint32_t from,
                                             const mesh_output *item);
/* member_io callbacks; ctx is the node's sim_gossip_io. */
void sim_gossip_io_send(void *ctx,
                        const mesh_node_id *peer,
                        const char *endpoint,
                        const uint8_t *frame,
                        uint32_t frame_size);
void sim_gossip_io_event(void *ctx, mesh_now now, member_source source, const void *event);

/* gossip_world.c: the federation. */

/* Allocates nodes, io and id_order, the shared caches (verify cache, frame
 * store, pair-key cache) and the hostile members' keys, then makes every
 * member in index order, pushing its START (and ATTACK) events. Reads the
 * setup stream, which the caller has seeded. Errors: MESH_ENOMEM (also when
 * node_created refuses), MESH_EINVAL (a store too large), MESH_EINTERNAL.
 * On error, sim_gossip_world_destroy frees what was made. */
MESH_MUST_USE mesh_err sim_gossip_world_create(sim_gossip_state *run);
/* MESH_EFULL, with the store's counts in one line on stderr, when the
 * shared frame store refused any frame during the run; MESH_OK otherwise.
 * sim_gossip_run fails a run on it (sim.verify_cache tests it). */
MESH_MUST_USE mesh_err sim_gossip_world_check_store(const sim_gossip_state *run);
/* Frees what sim_gossip_world_create made (also after its failure). */
void sim_gossip_world_destroy(sim_gossip_state *run);
/* The index of the node with this id, or UINT32_MAX; O(log N). */
uint32_t sim_gossip_index_of_id(const sim_gossip_state *run, const mesh_node_id *id);
/* Fills one advert resource: lendable is half of free. */
void sim_gossip_set_resource(wire_resource *resource,
                             uint32_t resource_class,
                             const char *model,
                             uint64_t total,
                             uint64_t free_amount,
                             uint64_t price);

/* gossip_adversary.c: the hostile members. */

/* Seeds the hostile stream, allocates hostile_keys, and makes the stranger
 * key with its certificate from another root. Errors: MESH_ENOMEM, those
 * of mcrypto. */
MESH_MUST_USE mesh_err sim_gossip_hostile_setup(sim_gossip_state *run);
/* Wipes and frees the hostile keys (NULL-safe). */
void sim_gossip_hostile_destroy(sim_gossip_state *run);
/* An ATTACK event of hostile node index: sends one frame the protocol
 * must refuse, and queues the next attack an interval later. Errors:
 * MESH_EINTERNAL (a forgery could not be built), those of the loop. */
MESH_MUST_USE mesh_err sim_gossip_attack(sim_gossip_state *run, uint32_t index);

#endif /* SIM_GOSSIP_INT_H */
