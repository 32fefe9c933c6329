/*
 * sim/lease_int.h: the lease scenario's parts, shared by sim/lease_run.c
 * (the world and its event loop), sim/lease_adversary.c (what hostile
 * members do), sim/lease_check.c (the invariant checker) and
 * sim/lease_json.c (the result as JSON).
 *
 * The world. Members 0..N-1 are honest, N..N+K-1 hostile; each is a whole
 * member_node with its own in-memory ledger store. Every store is reached
 * through an observing wrapper (a ledger_store vtable around the memory
 * store's): each batch is hashed into the run's digest, and each journal
 * entry it carries is handed to the checker as it is written. Frames go
 * through the member's io.send into the network model and come back as
 * DELIVER events; a hostile member's frames pass its adversary first.
 *
 * Bounds: SIM_LEASE_NODES_MAX + SIM_LEASE_HOSTILE_MAX members; the
 * checker's tables grow by doubling up to records_max; events_max queued
 * events; inflight_bytes_max bytes of frames in flight; the adversary
 * keeps SIM_LEASE_REPLAY_MAX frames to replay and SIM_LEASE_HIDDEN_MAX
 * lease ids it withholds, per hostile member.
 */
#ifndef SIM_LEASE_INT_H
#define SIM_LEASE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <sodium.h>

#include "crypto/crypto.h"
#include "lease/lease.h"
#include "ledger/ledger.h"
#include "member/member.h"
#include "sim/sim_int.h"
#include "wire/wire.h"

/* Event kinds of the lease scenario, after sim_event_kind's. */
#define SIM_LEASE_EVENT_LOAD    16u /* a member's next load report */
#define SIM_LEASE_EVENT_BORROW  17u /* a member's next direct borrow */
#define SIM_LEASE_EVENT_RELEASE 18u /* a borrower gives a lease back (payload: lease id) */
#define SIM_LEASE_EVENT_CRASH   19u /* a member crashes */
#define SIM_LEASE_EVENT_RESTART 20u /* and comes back */
#define SIM_LEASE_EVENT_INJECT  21u /* --inject-violation */
#define SIM_LEASE_EVENT_PLUGIN  32u /* and above: a plugin's own events */

#define SIM_LEASE_ENDPOINT_SIZE 24u
#define SIM_LEASE_REPLAY_MAX    64u
#define SIM_LEASE_HIDDEN_MAX    64u
#define SIM_LEASE_EPOCH_NS      (1767225600ll * (int64_t) MESH_NS_PER_S) /* 2026-01-01 */
#define SIM_LEASE_STUCK_TICKS   16u          /* ticks that change no past deadline: stuck */
#define SIM_LEASE_DIRECT_TAG    (1ull << 62) /* the tag of direct borrows */

typedef struct sim_lease_world sim_lease_world;
typedef struct sim_lease_node sim_lease_node;

/* A plugin replaces the lease scenario's fabricated federation and random
 * workload with its own (sim/fed_run.c: scenario sites and job traces),
 * and keeps the rest: members, network, adversaries, faults' mechanics,
 * the invariant checker and the digest. With a plugin:
 *   - the network routes between the plugin's sites with its rtt_us table
 *     (site_count x site_count); member i sits at site i (hostile member
 *     h at site h mod site_count);
 *   - node_facts sets each member's certificate facts (cert.country,
 *     jurisdictions, certifications), capacities, keep, price and carbon
 *     after the default draws (the certificate is issued after it), and
 *     node_config adjusts its member_config (burst, timings);
 *   - no random load, direct borrow or crash is scheduled: start pushes
 *     the plugin's first events; kinds >= SIM_LEASE_EVENT_PLUGIN go to
 *     on_event; every lease event of an honest member goes to
 *     member_event (inside the member's executor: it must only take note);
 *     after_event runs after every event, outside any member, and may
 *     drive members (sim_lease_set_load); drain runs at the drain's
 *     start instead of setting every load to zero.
 * Every callback may be NULL but start. */
typedef struct sim_lease_plugin {
    void *context;
    uint32_t site_count;
    const uint32_t *rtt_us;
    uint64_t workload_ns_max; /* replaces SIM_LEASE_WORKLOAD_NS_MAX */
    void (*node_facts)(void *context, uint32_t index, sim_lease_node *node, uint64_t *price);
    void (*node_config)(void *context, uint32_t index, sim_lease_node *node);
    mesh_err (*start)(void *context, sim_lease_world *world);
    void (*on_event)(void *context, sim_lease_world *world, sim_event *event);
    void (*member_event)(void *context,
                         sim_lease_world *world,
                         uint32_t index,
                         const lease_event *event);
    /* member: the member the event was an input to (UINT32_MAX: none). */
    void (*after_event)(void *context, sim_lease_world *world, uint32_t member);
    void (*drain)(void *context, sim_lease_world *world);
} sim_lease_plugin;

typedef struct sim_lease_io {
    sim_lease_world *world;
    uint32_t index;
} sim_lease_io;

/* Lease counters of a member's earlier lives (machines die at a crash). */
typedef struct sim_lease_totals {
    uint64_t refusals[WIRE_LEASE_REFUSAL_MAX + 1];
    uint64_t rejected[LEASE_REJECT_COUNT];
    uint64_t reclaims;
    uint64_t late_acceptances;
    uint64_t burst_borrows;
    uint64_t burst_releases;
} sim_lease_totals;

struct sim_lease_node {
    bool hostile;
    bool started;
    bool crashed;
    bool ever_crashed;
    uint32_t city;
    char endpoint[SIM_LEASE_ENDPOINT_SIZE];
    mesh_node_id id;
    mcrypto_keypair keypair; /* kept for restarts, and to sign as the adversary */
    wire_cert cert;          /* the true certificate */
    uint8_t cert_frame[WIRE_RECORD_SIZE_MAX];
    uint32_t cert_frame_size;
    uint8_t cert_hash[LEDGER_HASH_SIZE];
    uint32_t carbon_gco2_per_kwh;
    uint64_t total_vcpu;    /* the lease policy's */
    uint64_t lendable_vcpu; /* the lease policy's */
    uint64_t per_peer_max;  /* the lease policy's */
    uint64_t keep_vcpu;     /* the lease policy's */
    uint64_t true_vcpu;     /* what it really has (hostile members lie about it) */
    member_config config;
    member_node *member;
    ledger_mem_store *mem_store;
    ledger_store mem_vtable; /* the memory store's own interface */
    ledger_store store;      /* the observing wrapper: what the ledger writes through */
    ledger *ledger_handle;
    sim_lease_io io;
    mesh_rng rng;
    int64_t skew_ns;
    uint64_t timer_ns;
    uint64_t timer_generation;
    bool timer_armed;
    uint32_t late_streak;      /* ticks in a row after which the same past deadline stood */
    uint64_t late_deadline_ns; /* that deadline */
    bool ledger_dirty;         /* written since the last capacity check */
    bool over_capacity;        /* (b) is broken now: counted once per episode */
    bool over_peer;            /* the per-peer policy likewise */
    uint64_t base_load;        /* vCPU its own jobs take, before peaks */
    uint64_t peak_load;        /* during a peak */
    uint64_t peak_until_ns;
    sim_lease_totals totals; /* of earlier lives */
};

/* A hostile member's memory (sim/lease_adversary.c). */
typedef struct sim_lease_replay {
    uint32_t to;
    uint32_t size;
    uint8_t *bytes; /* malloc'ed */
} sim_lease_replay;

typedef struct sim_lease_hostile {
    mesh_rng rng;
    uint32_t hidden_count;
    uint32_t hidden_next;
    uint8_t hidden[SIM_LEASE_HIDDEN_MAX][LEDGER_LEASE_ID_SIZE]; /* leases it withholds */
    uint32_t late_count;
    uint32_t late_next;
    uint8_t late[SIM_LEASE_HIDDEN_MAX][LEDGER_LEASE_ID_SIZE]; /* acceptances it holds back */
    uint64_t late_until_ns[SIM_LEASE_HIDDEN_MAX];             /* until then */
    uint32_t replay_count;
    uint32_t replay_next;
    sim_lease_replay replay[SIM_LEASE_REPLAY_MAX];
} sim_lease_hostile;

/* The checker's memory: one row per record copy pair, one per lease. */
typedef struct sim_lease_copy {
    bool present;
    uint8_t hash[16]; /* BLAKE2b-128 of record bytes and both signatures */
} sim_lease_copy;

typedef struct sim_lease_record_row {
    bool used;
    uint8_t lease_id[LEDGER_LEASE_ID_SIZE];
    uint32_t number;
    sim_lease_copy lender_copy;
    sim_lease_copy borrower_copy;
} sim_lease_record_row;

typedef struct sim_lease_row {
    bool used;
    uint8_t lease_id[LEDGER_LEASE_ID_SIZE];
    uint32_t lender;   /* node index; UINT32_MAX: no member */
    uint32_t borrower; /* node index; UINT32_MAX: no member */
    uint64_t vcpu_milli;
    bool in_lender;   /* some OPENED copy written by the lender's ledger */
    bool in_borrower; /* and by the borrower's */
    /* Recorded by an honest lender with its end already decided: a late
     * acceptance it had no capacity for, which docs/leases.md says it
     * records and ends at once, with no usage. Outside (b)'s sum; any
     * usage charged for it breaks (b). */
    bool ended_at_once;
    bool charged; /* that usage was counted */
} sim_lease_row;

typedef struct sim_lease_checker {
    sim_lease_record_row *records;
    uint32_t record_slots; /* power of two */
    uint32_t record_count;
    sim_lease_row *leases;
    uint32_t lease_slots; /* power of two */
    uint32_t lease_count;
} sim_lease_checker;

typedef enum sim_lease_phase {
    SIM_LEASE_PHASE_JOIN = 0,
    SIM_LEASE_PHASE_WORKLOAD = 1,
    SIM_LEASE_PHASE_DRAIN = 2,
} sim_lease_phase;

struct sim_lease_world {
    const sim_lease_config *config;
    const sim_lease_plugin *plugin; /* NULL: the lease scenario's own workload */
    sim_lease_result result;
    sim_lease_node *nodes;
    uint32_t node_count; /* honest + hostile */
    sim_lease_hostile *hostiles;
    sim_heap heap;
    sim_net net; /* over cities: routes are asked city to city */
    mesh_rng setup_rng;
    mesh_rng workload_rng;
    mesh_rng fault_rng;
    uint64_t now_ns;
    uint64_t inflight_bytes;
    sim_lease_phase phase;
    crypto_generichash_state digest;
    mcrypto_keypair root;
    mcrypto_verify_cache *verify_cache;
    mcrypto_mac_memo *mac_memo; /* every member's gossip: the receiver finds the sender's MAC */
    const char *seeds[3];
    uint32_t seed_count;
    uint32_t *key_order; /* node indexes by public key, for lookups */
    sim_lease_checker checker;
    mesh_err fatal; /* a failure inside a callback, reported by the loop */
};

/* lease_run.c */
mesh_now sim_lease_now(const sim_lease_world *world, const sim_lease_node *node);
/* Routes one frame from member `from` to member `to` after extra_ns more
 * than the network's delay: digested, maybe lost, queued as DELIVER. */
void sim_lease_route(sim_lease_world *world,
                     uint32_t from,
                     uint32_t to,
                     const uint8_t *frame,
                     uint32_t frame_size,
                     uint64_t extra_ns);
/* Runs the scenario with a plugin (NULL: sim_lease_run). */
MESH_MUST_USE mesh_err sim_lease_run_plugin(const sim_lease_config *config,
                                            const sim_lease_plugin *plugin,
                                            sim_lease_result *result_out);
/* Queues an event (time >= now); MESH_EFULL/ENOMEM also stop the run. */
mesh_err sim_lease_push(sim_lease_world *world, const sim_event *event);
/* The load of member `index` (member_set_load of its vCPU class), then the
 * shell's flush and deadline; nothing when it is down. */
void sim_lease_set_load(sim_lease_world *world, uint32_t index, uint64_t queued, uint64_t running);
/* A crash (LEDGER_CRASH_LOSE: unsynced writes lost) and a restart. */
void sim_lease_crash(sim_lease_world *world, uint32_t index);
void sim_lease_restart(sim_lease_world *world, uint32_t index);
/* Adds a value to the run's digest. */
void sim_lease_digest_u64(sim_lease_world *world, uint64_t value);
/* The member whose public key this is; UINT32_MAX when none. */
uint32_t sim_lease_index_of_key(const sim_lease_world *world, const uint8_t key[LEDGER_KEY_SIZE]);
/* Counts a violation and keeps its description (the first ten). */
__attribute__((format(printf, 3, 4))) void
sim_lease_violate(sim_lease_world *world, sim_lease_invariant invariant, const char *format, ...);
__attribute__((format(printf, 2, 3))) void
sim_lease_policy_violate(sim_lease_world *world, const char *format, ...);
/* 32 lowercase hex digits and a NUL. */
void sim_lease_hex_id(const uint8_t id[LEDGER_LEASE_ID_SIZE], char text_out[33]);

/* lease_adversary.c */
mesh_err sim_lease_adversary_init(sim_lease_world *world);
void sim_lease_adversary_fini(sim_lease_world *world);
/* A hostile member's frame on its way out: passed on, held back, sent
 * twice, withheld or replaced. */
void sim_lease_adversary_send(
    sim_lease_world *world, uint32_t from, uint32_t to, const uint8_t *frame, uint32_t frame_size);
/* A frame arriving at a hostile member, before its member sees it. */
void sim_lease_adversary_deliver(
    sim_lease_world *world, uint32_t to, uint32_t from, const uint8_t *frame, uint32_t frame_size);
/* A frame between two honest members that an on-path hostile one copies. */
void sim_lease_adversary_sniff(sim_lease_world *world,
                               uint32_t to,
                               const uint8_t *frame,
                               uint32_t frame_size);
/* One forged or replayed frame from hostile member `index`. */
void sim_lease_adversary_attack(sim_lease_world *world, uint32_t index);

/* lease_check.c */
mesh_err sim_lease_check_init(sim_lease_checker *checker);
void sim_lease_check_fini(sim_lease_checker *checker);
/* A journal entry written to member `index`'s ledger: (a) for OPENED
 * records, and the record-for-record part of (c). */
void sim_lease_check_entry(sim_lease_world *world, uint32_t index, const ledger_entry *entry);
/* (b) and the per-peer policy of one honest lender, from its ledger. */
void sim_lease_check_capacity(sim_lease_world *world, uint32_t index);
/* (c), (d), (e) and ledger verification, once the run has drained. */
mesh_err sim_lease_check_end(sim_lease_world *world);

/* lease_json.c */
mesh_err sim_lease_json_body(const sim_lease_result *result,
                             bool with_digest,
                             char *buf,
                             uint32_t buf_size,
                             uint32_t *size_out);

#endif /* SIM_LEASE_INT_H */
