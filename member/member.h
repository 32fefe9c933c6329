/*
 * member/member.h: one federation member as one sans-I/O object: gossip,
 * leases and the ledger composed, and the one executor of their outputs.
 *
 * DESIGN.md's "one member, one executor". The daemon (node/), the
 * simulator (sim/) and the unit tests' little clusters all drive this
 * object and nothing below it: frames come in and are routed by type
 * (1..15 to gossip, 16..31 to leases), local commands come in from the
 * API, ledger acknowledgements are fed back in, and everything the
 * machines ask for goes out through the shell's member_io.
 *
 * The executor's rules, in one place:
 *   - Outputs are executed in the order the machines produced them.
 *   - Durable before visible: a ledger write is appended (staged) at
 *     once; a SEND that comes after a staged write, in this call or an
 *     earlier one, is held until member_flush has synced the ledger, and
 *     then leaves in order. Sends with nothing staged before them leave at
 *     once. (The lease machine never emits a message that depends on a
 *     record before that record's acknowledgement; this rule makes the
 *     guarantee independent of that.)
 *   - Group commit: every write staged since the last flush is made
 *     durable by one synced commit in member_flush, then acknowledged to
 *     the lease machine, whose answers are executed by the same rules.
 *     A shell calls member_flush after each batch of inputs (the agent:
 *     after draining its queue; the simulator and the tests: after each
 *     input), so batching is the shell's choice and safety is not.
 *   - The advert follows capacity: after each flush, when what this node
 *     can lend changed, a new advert is published, at most once every
 *     advert_interval_ns.
 *
 * The lease directory (lease.h) is answered from gossip's view (the
 * certificate facts, public keys and probe round trips) and the ledger
 * (reciprocity, leases and records already held).
 *
 * Audits: when the member writes a lease's OPENED record it also keeps
 * the lender's and the borrower's certificate frames (from gossip) in the
 * ledger (ledger_put_certificate), in the same commit, so that an audit
 * can show the certified facts with nothing but the root key.
 *
 * Reconciling over the network (member/reconcile.c, docs/leases.md):
 * frames of type 21 (the ledger summary) go to the member itself, which
 * answers a member's request with its summary of the leases it shares
 * with that member, and compares the answer to its own request
 * (member_reconcile_start) with its own summary.
 *
 * Ownership: the config is borrowed for create (the gossip config's
 * borrowed parts must outlive the member, as gossip.h says); the ledger
 * and its store are borrowed for the member's lifetime. One thread owns a
 * member. Bounds: MEMBER_OUTBOX_ITEMS outputs per machine call,
 * MEMBER_HELD_SENDS_MAX held sends (MEMBER_HELD_BYTES_MAX bytes) between
 * flushes (past that a flush happens early, never a drop), and
 * MEMBER_ACK_ROUNDS_MAX rounds of acknowledgements per flush.
 */
#ifndef MEMBER_MEMBER_H
#define MEMBER_MEMBER_H

#include <stdbool.h>
#include <stdint.h>

#include "gossip/gossip.h"
#include "lease/lease.h"
#include "ledger/ledger.h"
#include "mesh/mesh.h"

typedef struct member_node member_node;

#define MEMBER_OUTBOX_ITEMS   256u
#define MEMBER_HELD_SENDS_MAX 1024u
#define MEMBER_HELD_BYTES_MAX 1048576u /* 1 MiB */
#define MEMBER_ACK_ROUNDS_MAX 64u

typedef enum member_source {
    MEMBER_SOURCE_GOSSIP = 1,    /* event points to a gossip_event */
    MEMBER_SOURCE_LEASE = 2,     /* event points to a lease_event */
    MEMBER_SOURCE_RECONCILE = 3, /* event points to a member_reconcile_result */
} member_source;

/* What the member asks of its shell. Every pointer is borrowed for the
 * call. */
typedef struct member_io {
    void *ctx;
    /* A frame for a member (or a seed, peer all zero) at endpoint. The
     * shell may drop it (counted there): every protocol resends. */
    void (*send)(void *ctx,
                 const mesh_node_id *peer,
                 const char *endpoint,
                 const uint8_t *frame,
                 uint32_t frame_size);
    /* An event from one of the machines. May be NULL. */
    void (*event)(void *ctx, mesh_now now, member_source source, const void *event);
} member_io;

/* Bursting (DESIGN "Leases and bursting"): from the scheduler's load
 * reports, the member borrows the overflow by itself and gives it back
 * when demand falls. Per resource class that the node has:
 *   overflow = queued + running - total - borrowed (held or being asked);
 *   when overflow >= threshold, borrow it (one borrow in flight per class,
 *   lease_duration_ns long, under `constraints`); after a borrow that got
 *   less than asked, wait retry_ns before asking again (after 2, 3 ...
 *   borrows in a row that got nothing, 2 x, then 4 x retry_ns);
 *   when total + borrowed - (queued + running) has stayed at least
 *   release_margin above the newest borrowed lease's size for
 *   release_delay_ns, release that lease (hysteresis: no flapping). */
typedef struct member_burst_config {
    bool enabled;
    uint64_t threshold;                 /* units of overflow; default 1 */
    uint64_t release_margin;            /* units; default 0 */
    uint64_t release_delay_ns;          /* default 60 s */
    uint64_t lease_duration_ns;         /* default 1 h */
    uint64_t retry_ns;                  /* default 30 s */
    wire_lease_constraints constraints; /* for burst leases (operator defaults) */
} member_burst_config;

typedef struct member_config {
    /* The gossip machine's config: identity, certificate, root, seeds,
     * timings. Its advert's resources are replaced by what the lease
     * policy below says (total, free, lendable, price per class). */
    gossip_config gossip;
    /* The lease machine's config. The member fills its identity, its
     * certificate facts (decoded from gossip.cert_frame), its carbon (from
     * gossip.advert) and its directory; the shell sets policy, limits and
     * timings (lease_config_default first). */
    lease_config lease;
    /* Borrowed for the member's lifetime. The ledger must be open on this
     * store, for this node's key. NULL ledger: the member runs gossip only
     * and refuses lease frames (counted as lease rejects). */
    ledger *ledger_handle;
    const ledger_store *store;
    member_io io;
    uint64_t advert_interval_ns; /* republish capacity at most this often; default 1 s */
    member_burst_config burst;
} member_config;

void member_config_default(member_config *config);

/* Creates gossip and lease machines and restores every unsettled lease
 * the ledger holds. Errors: MESH_EINVAL (a config the machines refuse, a
 * certificate that does not decode, a ledger of another key), MESH_ENOMEM,
 * MESH_ECORRUPT/MESH_ESTORE (the ledger could not be read). */
MESH_MUST_USE mesh_err member_create(const member_config *config,
                                     mesh_now now,
                                     mesh_rng *rng,
                                     member_node **member_out);
/* Frees both machines; staged, unflushed writes are not acknowledged.
 * NULL is a no-op. */
void member_destroy(member_node *member);

/* A frame from the network, routed by its envelope type. MESH_OK also when
 * it was refused (the machines count why). */
MESH_MUST_USE mesh_err member_on_frame(
    member_node *member, mesh_now now, const uint8_t *frame, uint32_t frame_size, mesh_rng *rng);
/* Runs every due timer of both machines. */
MESH_MUST_USE mesh_err member_on_tick(member_node *member, mesh_now now, mesh_rng *rng);
/* Syncs staged ledger writes, sends what waited for them, feeds the
 * acknowledgements back, and republishes capacity when it changed.
 * MESH_ESTORE when the ledger failed (the writes are refused back to the
 * lease machine, which resends or gives up; nothing held is sent). */
MESH_MUST_USE mesh_err member_flush(member_node *member, mesh_now now, mesh_rng *rng);
/* The earliest monotonic time at which member_on_tick must run. */
uint64_t member_deadline_ns(const member_node *member);

/* Local commands: the lease machine's, executed at once (call
 * member_flush after them like after any input). */
MESH_MUST_USE mesh_err member_borrow(member_node *member,
                                     mesh_now now,
                                     const lease_borrow_request *request,
                                     mesh_rng *rng,
                                     uint32_t *borrow_id_out);
MESH_MUST_USE mesh_err member_release(member_node *member,
                                      mesh_now now,
                                      const uint8_t lease_id[LEDGER_LEASE_ID_SIZE],
                                      mesh_rng *rng);
MESH_MUST_USE mesh_err member_reclaim(member_node *member,
                                      mesh_now now,
                                      const uint8_t lease_id[LEDGER_LEASE_ID_SIZE],
                                      uint64_t notice_ns,
                                      mesh_rng *rng);
/* The scheduler's load of one class (POST /v1/load), whole units: it
 * takes capacity before lending does (queued + running), may reclaim lent
 * leases (lease_set_local_demand), and drives bursting. MESH_ENOTFOUND for
 * a class this node does not have. */
MESH_MUST_USE mesh_err member_set_load(member_node *member,
                                       mesh_now now,
                                       uint32_t resource_class,
                                       const char *model,
                                       uint64_t queued,
                                       uint64_t running,
                                       mesh_rng *rng);
MESH_MUST_USE mesh_err member_set_capacity(member_node *member,
                                           uint32_t resource_class,
                                           const char *model,
                                           uint64_t total,
                                           uint64_t lendable);
/* Publishes the leaving advert (gossip_leave). */
MESH_MUST_USE mesh_err member_leave(member_node *member, mesh_now now, mesh_rng *rng);
/* A revocation the operator gives this node (gossip_add_revocation). */
MESH_MUST_USE mesh_err member_add_revocation(
    member_node *member, mesh_now now, const uint8_t *frame, uint32_t frame_size, mesh_rng *rng);
/* The endpoint last known for a revoked key, from the shell's data
 * directory (gossip_revocation_set_endpoint). */
MESH_MUST_USE mesh_err member_revocation_set_endpoint(member_node *member,
                                                      const mesh_node_id *id,
                                                      const char *endpoint);
/* New advert content from the operator (SIGHUP): endpoints and carbon;
 * resources still follow the lease policy when it has classes. */
MESH_MUST_USE mesh_err member_update_advert(member_node *member,
                                            mesh_now now,
                                            const wire_advert *advert,
                                            mesh_rng *rng);

/* Reconciling with a peer over the network (docs/leases.md "Reconciling
 * over the network"). The member sends the peer a signed summary request
 * (wire type 21); the peer answers with its summary of the leases the two
 * share (per lease: the record count and a digest of the records' bytes
 * and signatures), in pages; when every page is in, the member compares
 * it with its own summary of the same leases and reports the outcome as
 * an event (MEMBER_SOURCE_RECONCILE, a member_reconcile_result), also
 * when the answer does not come within timeout_ns (status TIMEOUT).
 *
 * Leases still running can differ for a moment (a record one side has
 * countersigned and the other not yet received); settled leases agree or
 * have been tampered with.
 *
 * Bounds: one reconcile in flight per member; at most
 * MEMBER_RECONCILE_LEASES_MAX shared leases compared (beyond that the
 * result says incomplete); the first MEMBER_RECONCILE_MISMATCHES_MAX
 * mismatches are listed (all are counted). Answering: a peer gets at most
 * MEMBER_RECONCILE_ANSWERS_MAX answers per MEMBER_RECONCILE_WINDOW_NS,
 * and all peers together at most 4 times that (more requests are dropped
 * and counted; the asker times out). An answer walks the journal once,
 * from the first record of the oldest lease shared with the asker. The
 * tables (about 400 KiB) are allocated on first use and kept until
 * destroy, so that members that never reconcile (the simulator's
 * thousands) pay nothing. */
#define MEMBER_RECONCILE_LEASES_MAX     4096u
#define MEMBER_RECONCILE_MISMATCHES_MAX 16u
#define MEMBER_RECONCILE_ANSWERS_MAX    4u
#define MEMBER_RECONCILE_WINDOW_NS      (10ull * 1000000000ull)

typedef enum member_reconcile_status {
    MEMBER_RECONCILE_DONE = 1,    /* both summaries in and compared */
    MEMBER_RECONCILE_TIMEOUT = 2, /* the peer's whole answer did not arrive in time */
    MEMBER_RECONCILE_FAILED = 3,  /* this node's own ledger could not be read */
} member_reconcile_status;

typedef enum member_mismatch_kind {
    MEMBER_MISMATCH_ONLY_HERE = 1,  /* this node holds the lease, the peer does not */
    MEMBER_MISMATCH_ONLY_THERE = 2, /* the peer holds it, this node does not */
    MEMBER_MISMATCH_COUNT = 3,      /* both hold it, with different numbers of records */
    MEMBER_MISMATCH_RECORDS = 4,    /* as many records, other bytes or signatures */
} member_mismatch_kind;

typedef struct member_reconcile_mismatch {
    uint8_t lease_id[LEDGER_LEASE_ID_SIZE];
    uint32_t kind;        /* member_mismatch_kind */
    uint32_t here_count;  /* records this node holds; 0 when none */
    uint32_t there_count; /* records the peer holds; 0 when none */
} member_reconcile_mismatch;

typedef struct member_reconcile_result {
    uint64_t request_id;
    mesh_node_id peer;
    uint32_t status;           /* member_reconcile_status */
    uint32_t shared_count;     /* leases both hold, identical */
    uint32_t only_here_count;  /* leases only this node holds */
    uint32_t only_there_count; /* leases only the peer holds */
    uint32_t differ_count;     /* leases both hold, not identical */
    bool incomplete;           /* a side shares more leases than a summary carries */
    uint32_t mismatch_count;   /* listed below: the first ones, in lease id order */
    member_reconcile_mismatch mismatches[MEMBER_RECONCILE_MISMATCHES_MAX];
} member_reconcile_result;

/* Asks peer for its summary; the result comes as an event (above).
 * request_id_out gets the id the event will carry. Errors: MESH_ENOTFOUND
 * (no ledger here; or peer is self, unknown, revoked, without a valid
 * certificate or without an endpoint), MESH_EFULL (a reconcile is already
 * in flight), MESH_EINVAL (timeout_ns 0), MESH_ENOMEM (the first call
 * allocates the tables). */
MESH_MUST_USE mesh_err member_reconcile_start(member_node *member,
                                              mesh_now now,
                                              const mesh_node_id *peer,
                                              uint64_t timeout_ns,
                                              mesh_rng *rng,
                                              uint64_t *request_id_out);

/* The machines, for queries (member info, stats, leases, capacity). Never
 * call their inputs directly: that would bypass the executor. */
const gossip *member_gossip(const member_node *member);
const lease_machine *member_lease(const member_node *member);

typedef struct member_stats {
    uint64_t frames_gossip;
    uint64_t frames_lease;
    uint64_t frames_unknown; /* a type neither machine takes, or no ledger for leases */
    uint64_t sends;
    uint64_t sends_held; /* held until a sync */
    uint64_t ledger_writes;
    uint64_t ledger_refused; /* ledger_append said no (counted by reason at the lease machine) */
    uint64_t commits;
    uint64_t commit_failures;
    uint64_t early_flushes; /* the held queue filled before the shell flushed */
    uint64_t outbox_full;   /* a machine call ran out of outbox */
    uint64_t adverts_published;
    uint64_t burst_borrows;        /* borrows the burst policy started */
    uint64_t burst_releases;       /* leases it gave back */
    uint64_t certificates_kept;    /* certificate frames put in the ledger with an OPENED record */
    uint64_t certificates_missing; /* a party's certificate was not in gossip's view */
    uint64_t summaries_in;         /* ledger summary frames (type 21) received */
    uint64_t summaries_refused;    /* malformed, not a member, bad signature, not for us */
    uint64_t summaries_unexpected; /* an answer to no reconcile in flight */
    uint64_t summaries_answered;   /* requests answered */
    uint64_t summaries_limited;    /* requests dropped by the rate limit */
    uint64_t reconciles_done;
    uint64_t reconciles_timed_out;
    uint64_t sends_self_revoked; /* sends dropped: this node's own key is revoked */
} member_stats;
void member_stats_get(const member_node *member, member_stats *stats_out);

#endif /* MEMBER_MEMBER_H */
