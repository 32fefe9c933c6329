/*
 * sim/replay.h: replaying a recorded agent (fedmesh agent --record)
 * through the same member code, and the output digest both sides compute.
 *
 * A recording (node/record_int.h has its file format) holds every input
 * the agent's member received: the ledger store as it was at start, the
 * ledger's opening, the member's creation (its config, the PRNG state),
 * then each frame, tick, flush and local command with the time it was
 * given, and, for every call that reached the ledger store, what the store
 * answered. This module rebuilds the member on an in-memory store loaded
 * with that snapshot and feeds it the same inputs in the same order; the
 * store answers writes and syncs as the recording says (a write that
 * failed on the node fails here too, without being applied), so the
 * machines see exactly what they saw live.
 *
 * Outputs are compared through a digest: for each input, BLAKE2b-256 over
 * every output the member produced while handling it, in order (frames
 * sent with their destination, events, ledger batches written and syncs),
 * each encoded as below. The agent computes the same digest with the same
 * functions (sim_replay_digest_*) while it records, so the first input
 * whose digest or output count differs is where replay and reality part.
 *
 *   send:  'S' || peer id (16) || u32 endpoint size || endpoint
 *          || u32 frame size || frame
 *   event: 'E' || u32 source || the event's fields, little-endian, in
 *          declaration order (gossip: kind, member, state, previous,
 *          sequence; lease: kind, self_is_lender, lease id, peer,
 *          borrow id, tag, amounts, start, end, end kind, status, lease
 *          count, refusal, candidate count, data class; reconcile:
 *          request id, peer, status, the five counts, incomplete)
 *   write: 'W' || u8 sync || u32 op count || per op: u8 delete
 *          || u32 key size || key || u32 value size || value
 *   sync:  'Y'
 * Integers are little-endian. Struct bytes are never hashed (padding).
 *
 * Which core runs: this file is part of mesh_sim, so a replay runs the
 * checked copy of the core (MESH_NEVER and the debug assertions on; see
 * sim/CMakeLists.txt), while the agent that recorded ran the release
 * copy. Both are built from the same sources; a check that fires during a
 * replay is a bug the live run only got past.
 *
 * The digest functions are also called by the agent (node/record.c): they
 * touch no simulator state and are safe from any one thread at a time per
 * digest.
 *
 * Bounds: SIM_REPLAY_STORE_CALLS_MAX store calls per input; the memory
 * store holds at most SIM_REPLAY_KEYS_MAX keys and SIM_REPLAY_BYTES_MAX
 * bytes (a ledger beyond that cannot be replayed: MESH_EFULL).
 */
#ifndef SIM_REPLAY_H
#define SIM_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include <sodium.h>

#include "lease/lease.h"
#include "ledger/ledger.h"
#include "member/member.h"
#include "mesh/mesh.h"
#include "wire/wire.h"

#define SIM_REPLAY_DIGEST_SIZE     32u
#define SIM_REPLAY_STORE_CALLS_MAX 1024u
#define SIM_REPLAY_KEYS_MAX        (1u << 22)
#define SIM_REPLAY_BYTES_MAX       (4ull << 30) /* 4 GiB */

/* The inputs, numbered as in the recording. Append only. */
typedef enum sim_replay_kind {
    SIM_REPLAY_LEDGER_OPEN = 1,          /* ledger_open on the store */
    SIM_REPLAY_CREATE = 2,               /* member_create */
    SIM_REPLAY_FRAME = 3,                /* member_on_frame */
    SIM_REPLAY_TICK = 4,                 /* member_on_tick */
    SIM_REPLAY_FLUSH = 5,                /* member_flush */
    SIM_REPLAY_BORROW = 6,               /* member_borrow */
    SIM_REPLAY_RELEASE = 7,              /* member_release */
    SIM_REPLAY_RECLAIM = 8,              /* member_reclaim */
    SIM_REPLAY_SET_LOAD = 9,             /* member_set_load */
    SIM_REPLAY_SET_CAPACITY = 10,        /* member_set_capacity */
    SIM_REPLAY_UPDATE_ADVERT = 11,       /* member_update_advert */
    SIM_REPLAY_ADD_REVOCATION = 12,      /* member_add_revocation */
    SIM_REPLAY_LEAVE = 13,               /* member_leave */
    SIM_REPLAY_LEDGER_SYNC = 14,         /* ledger_sync, by the shell at stop */
    SIM_REPLAY_RECONCILE = 15,           /* member_reconcile_start */
    SIM_REPLAY_REVOCATION_ENDPOINT = 16, /* member_revocation_set_endpoint */
} sim_replay_kind;
#define SIM_REPLAY_KIND_MAX 16u

/* "frame", "tick", ...; "unknown" otherwise. Never NULL. */
const char *sim_replay_kind_name(uint32_t kind);

/* What the ledger store answered, call by call. */
typedef enum sim_replay_store_op {
    SIM_REPLAY_STORE_WRITE = 1,
    SIM_REPLAY_STORE_SYNC = 2,
} sim_replay_store_op;

typedef struct sim_replay_store_call {
    uint32_t op;     /* sim_replay_store_op */
    uint32_t result; /* mesh_err */
} sim_replay_store_call;

/* One input. Only the fields of its kind are read; pointers are borrowed
 * for the call. */
typedef struct sim_replay_input {
    uint32_t kind; /* sim_replay_kind */
    mesh_now now;  /* unused by LEDGER_OPEN, SET_CAPACITY, LEDGER_SYNC */
    /* LEDGER_OPEN */
    const ledger_config *ledger;
    /* CREATE: the config with the node's keypair set (the recording holds
     * no secret: the caller adds it); io, ledger_handle and store are the
     * replay's own and ignored. rng is the state the agent passed. */
    const member_config *config;
    mesh_rng rng;
    /* FRAME, ADD_REVOCATION */
    const uint8_t *bytes;
    uint32_t size;
    /* BORROW */
    const lease_borrow_request *borrow;
    /* RELEASE, RECLAIM (notice_ns) */
    uint8_t lease_id[LEDGER_LEASE_ID_SIZE];
    uint64_t notice_ns;
    /* SET_LOAD (first = queued, second = running), SET_CAPACITY (first =
     * total, second = lendable) */
    uint32_t resource_class;
    char model[WIRE_MODEL_SIZE_MAX + 1];
    uint64_t first;
    uint64_t second;
    /* UPDATE_ADVERT */
    const wire_advert *advert;
    /* RECONCILE, REVOCATION_ENDPOINT (peer is the revoked key) */
    mesh_node_id peer;
    uint64_t timeout_ns;
    char endpoint[WIRE_ENDPOINT_SIZE_MAX + 1]; /* REVOCATION_ENDPOINT */
    /* What the store answered while the agent handled this input. */
    uint32_t store_call_count; /* 0..SIM_REPLAY_STORE_CALLS_MAX */
    const sim_replay_store_call *store_calls;
} sim_replay_input;

/* What the replayed member did with one input. */
typedef struct sim_replay_outcome {
    uint32_t result;       /* the call's mesh_err */
    uint32_t output_count; /* sends + events + writes + syncs */
    uint8_t digest[SIM_REPLAY_DIGEST_SIZE];
    /* The store was called otherwise than the recording says: more calls
     * than recorded, another kind of call, or fewer (store_calls_used <
     * store_call_count), or the memory store refused a write that
     * succeeded live. */
    bool store_mismatch;
    uint32_t store_calls_used;
} sim_replay_outcome;

typedef struct sim_replay sim_replay;

/* Errors: MESH_ENOMEM. */
MESH_MUST_USE mesh_err sim_replay_create(sim_replay **replay_out);
/* Destroys the member, the ledger and the store. NULL is a no-op. */
void sim_replay_destroy(sim_replay *replay);

/* Loads one key/value pair of the snapshot (durably), before the first
 * input. Errors: MESH_EINVAL (sizes out of the store's bounds, or inputs
 * have begun), MESH_EFULL, MESH_ENOMEM. */
MESH_MUST_USE mesh_err sim_replay_load(sim_replay *replay,
                                       const uint8_t *key,
                                       uint32_t key_size,
                                       const uint8_t *value,
                                       uint32_t value_size);

/* Feeds one input. MESH_OK when it was fed (outcome says what happened,
 * the member call's own error included). Errors: MESH_EINVAL (an input
 * out of order: CREATE twice, LEDGER_OPEN after CREATE, a member input
 * before CREATE, an unknown kind, a field out of range), MESH_ENOMEM. */
MESH_MUST_USE mesh_err sim_replay_step(sim_replay *replay,
                                       const sim_replay_input *input,
                                       sim_replay_outcome *outcome_out);

/* The output digest (above). */
typedef struct sim_replay_digest {
    crypto_generichash_state state;
    uint32_t count;
} sim_replay_digest;

void sim_replay_digest_init(sim_replay_digest *digest);
void sim_replay_digest_send(sim_replay_digest *digest,
                            const mesh_node_id *peer,
                            const char *endpoint,
                            const uint8_t *frame,
                            uint32_t frame_size);
void sim_replay_digest_event(sim_replay_digest *digest, member_source source, const void *event);
void sim_replay_digest_write(sim_replay_digest *digest, const ledger_batch *batch, bool sync);
void sim_replay_digest_sync(sim_replay_digest *digest);
void sim_replay_digest_final(sim_replay_digest *digest, uint8_t out[SIM_REPLAY_DIGEST_SIZE]);

#endif /* SIM_REPLAY_H */
