/*
 * lease/lease.h: lease negotiation, as a sans-I/O state machine that plays
 * both roles (borrower and lender). docs/leases.md is the protocol.
 *
 * The machine is fed the time, lease frames (wire types 16..20), ledger
 * acknowledgements and local commands (borrow, release, reclaim, local
 * demand), and answers in the caller's outbox with frames to send, ledger
 * writes to make and events to report. It never reads a clock, opens a
 * socket or file, or allocates after lease_create.
 *
 * What it asks of its shell:
 *   - a directory of members (lease_directory), which the member that
 *     composes gossip, leases and the ledger implements from gossip's
 *     view: certificate facts, public keys, smoothed round trips, advert
 *     hints, and the ledger's reciprocity scores;
 *   - that every MESH_OUTPUT_LEDGER_WRITE be appended to the ledger and
 *     synced, and its outcome handed back through lease_on_ledger_ack
 *     (in any order, any batching). Messages that depend on a record are
 *     produced only by that call: durable before visible, by construction.
 *
 * Bounds: leases_max lease slots (holds, leases in flight and open
 * leases), borrows_max borrow requests, in_flight_max requests in flight
 * per borrow, candidates_max lenders considered per borrow. Frames are at
 * most WIRE_FRAME_SIZE_MAX bytes; the machine's send buffer is
 * LEASE_SEND_BUFFER_SIZE bytes per call, and what does not fit waits for
 * the next timer (every wait is retried).
 *
 * Ownership: the config, every input and the directory's answers are
 * borrowed for the call. Output payloads and endpoints point into the
 * machine (or into the directory's storage, for endpoints) and stay valid
 * until the next call on the machine. One thread owns a machine.
 */
#ifndef LEASE_LEASE_H
#define LEASE_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "ledger/ledger.h"
#include "mesh/mesh.h"
#include "wire/wire.h"

typedef struct lease_machine lease_machine;

/* What the machine knows of a member, from its root-signed certificate
 * (the facts constraints are checked against), from gossip's probes (the
 * round trip) and from its advert (hints for placement only). */
typedef struct lease_peer {
    mesh_node_id id;
    uint8_t public_key[MCRYPTO_PUBLIC_KEY_SIZE];
    char name[WIRE_NAME_SIZE_MAX + 1];
    char country[3];
    uint32_t jurisdiction_count;
    char jurisdictions[WIRE_JURISDICTIONS_MAX][3];
    uint32_t certifications;
    uint8_t cert_hash[LEDGER_HASH_SIZE]; /* BLAKE2b-256 of its certificate frame */
    bool alive;                          /* alive (or suspect) in the view */
    uint32_t rtt_us;                     /* smoothed probe round trip; 0 = not measured */
    const char *endpoint;                /* where frames go; valid until the next directory call */
    /* Advert hints: what it says it can lend, and its grid. */
    uint32_t carbon_gco2_per_kwh;
    uint32_t resource_count;
    wire_resource resources[WIRE_RESOURCES_MAX];
} lease_peer;

typedef struct lease_directory {
    void *ctx;
    /* The member with this id, when it holds a valid, unrevoked
     * certificate here; MESH_ENOTFOUND otherwise. */
    mesh_err (*find)(void *ctx, const mesh_node_id *id, lease_peer *peer_out);
    /* Members in id order, self excluded: count, then each by index. */
    uint32_t (*count)(void *ctx);
    mesh_err (*at)(void *ctx, uint32_t index, lease_peer *peer_out);
    /* The ledger's reciprocity score of a peer (ledger_reciprocity). */
    int64_t (*reciprocity)(void *ctx, const uint8_t key[LEDGER_KEY_SIZE], int64_t now_ns);
    /* True when the ledger holds any record of this lease (settled
     * leases included): a replayed acceptance of an old lease. */
    bool (*ledger_has_lease)(void *ctx, const uint8_t lease_id[LEDGER_LEASE_ID_SIZE]);
    /* Optional: record `number` of a lease as the ledger holds it, with
     * both signatures; MESH_ENOTFOUND when it holds no such record. Used to
     * answer a lender that resends a proposal this node already settled
     * (its countersignature was lost). NULL: such resends go unanswered. */
    mesh_err (*ledger_record)(void *ctx,
                              const uint8_t lease_id[LEDGER_LEASE_ID_SIZE],
                              uint32_t number,
                              ledger_record *record_out,
                              uint8_t lender_signature_out[LEDGER_SIGNATURE_SIZE],
                              uint8_t borrower_signature_out[LEDGER_SIGNATURE_SIZE]);
} lease_directory;

/* What a lender lends of one resource class (and GPU model). Whole units. */
typedef struct lease_class_policy {
    uint32_t resource_class;             /* wire_resource_class */
    char model[WIRE_MODEL_SIZE_MAX + 1]; /* GPU only */
    uint64_t total;                      /* own capacity; never includes borrowed capacity */
    uint64_t lendable;                   /* the most lent at once */
    uint64_t keep;                       /* kept free for own peaks when local demand rises */
    uint64_t per_peer_max;               /* the most one borrower holds; 0 = lendable */
    uint64_t price_microeur_per_unit_hour;
} lease_class_policy;

#define LEASE_CLASSES_MAX WIRE_RESOURCES_MAX

/* Placement weights (operator settings): a candidate lender's score is
 * reciprocity x w_reciprocity (per vCPU-hour it lent us, net) - rtt_ms x
 * w_rtt - cost in euro-cents per hour x w_price - gCO2/kWh x w_carbon. */
typedef struct lease_weights {
    uint32_t reciprocity; /* default 10 */
    uint32_t rtt;         /* default 1 */
    uint32_t price;       /* default 1 */
    uint32_t carbon;      /* default 1 */
} lease_weights;

typedef struct lease_config {
    /* Identity and certified facts of this node (from its certificate).
     * The keypair is copied and wiped by lease_destroy. */
    mcrypto_keypair keypair;
    mesh_node_id self_id;
    char country[3];
    uint32_t jurisdiction_count;
    char jurisdictions[WIRE_JURISDICTIONS_MAX][3];
    uint32_t certifications;
    uint8_t cert_hash[LEDGER_HASH_SIZE];
    uint32_t carbon_gco2_per_kwh;

    lease_directory directory;
    mcrypto_verify_cache *verify_cache; /* optional, borrowed, shareable (sim) */

    /* Lender policy. */
    uint32_t class_count;
    lease_class_policy classes[LEASE_CLASSES_MAX];
    /* When what is left to lend of a class falls under this share of its
     * lendable (per mille), only peers whose reciprocity score is >= 0 are
     * served: whoever lent to us comes first. Default 250. */
    uint32_t reciprocity_share_permille;
    uint64_t duration_max_ns;    /* longest lease lent; default 7 days */
    uint64_t start_ahead_max_ns; /* latest start lent, from now; default 1 day */
    uint64_t reclaim_notice_ns;  /* notice given when local demand takes capacity back; 60 s */

    /* Borrower. */
    lease_weights weights;
    uint32_t in_flight_max;  /* requests in flight per borrow; default 3 */
    uint32_t candidates_max; /* lenders considered per borrow; default 64 */
    /* A lender that refused for want of capacity, for its per-peer limit or
     * for reciprocity is not asked again, by any borrow, for this long
     * (counted under that reason in the borrow's refusals): it would
     * refuse again, and each ask is a signed request and a signed refusal.
     * Default 60 s; 0: always asked. At most LEASE_COOLDOWNS_MAX lenders
     * are remembered (the soonest to expire is forgotten first). */
    uint64_t refused_cooldown_ns;

    /* Limits. */
    uint32_t leases_max;  /* default 4096 */
    uint32_t borrows_max; /* default 256 */

    /* Timings. */
    uint64_t request_timeout_ns; /* an unanswered request; default 2 s */
    uint64_t offer_ttl_ns;       /* how long an offer holds capacity; default 5 s */
    uint64_t retry_interval_ns;  /* first resend of an unanswered record; default 200 ms */
    uint64_t retry_max_ns;       /* resends back off up to this; default 30 s */
    uint64_t usage_interval_ns;  /* usage records of an open lease; default 15 min */
    int64_t clock_skew_max_ns;   /* tolerated between members; default 60 s */
} lease_config;

void lease_config_default(lease_config *config);

/* Errors: MESH_EINVAL (a limit out of range, a policy that does not hold
 * together: lendable > total, keep > total, duplicate classes; a
 * directory without find, count or at), MESH_ENOMEM. The machine refuses
 * to offer for offer_ttl_ns after create (refusal "starting"): holds made
 * before a restart have all expired by then, so no capacity is promised
 * twice. */
MESH_MUST_USE mesh_err lease_create(const lease_config *config,
                                    mesh_now now,
                                    lease_machine **machine_out);
void lease_destroy(lease_machine *machine); /* NULL is a no-op */

/* One durable record with its two signatures, as the ledger holds it. */
typedef struct lease_signed_record {
    ledger_record record;
    uint8_t lender_signature[LEDGER_SIGNATURE_SIZE];
    uint8_t borrower_signature[LEDGER_SIGNATURE_SIZE];
} lease_signed_record;

/* Restores one lease that the ledger holds and has not settled, at start,
 * before any other input: opened is its OPENED record, last its latest
 * record (the same as opened when it has one record), both with their
 * signatures (a restored borrower resends its acceptance, and answers a
 * resent proposal, with them); record_count its number of records,
 * usage_milli the sum of its USAGE amounts per amount of opened (in
 * opened's amount order). Errors: MESH_EINVAL (not a lease of this node,
 * inconsistent records), MESH_EFULL (leases_max). */
MESH_MUST_USE mesh_err lease_restore(lease_machine *machine,
                                     mesh_now now,
                                     const lease_signed_record *opened,
                                     const lease_signed_record *last,
                                     uint32_t record_count,
                                     const uint64_t usage_milli[LEDGER_AMOUNTS_MAX]);

/* A lease frame from the network (wire types 16..20). MESH_OK when it was
 * processed, refused ones included (see lease_stats); MESH_EFULL only when
 * the outbox is too small (give it at least LEASE_OUTBOX_MIN items). */
MESH_MUST_USE mesh_err lease_on_message(lease_machine *machine,
                                        mesh_now now,
                                        const uint8_t *frame,
                                        uint32_t frame_size,
                                        mesh_rng *rng,
                                        mesh_outbox *outbox);
/* Runs every timer that is due. */
MESH_MUST_USE mesh_err lease_on_tick(lease_machine *machine,
                                     mesh_now now,
                                     mesh_rng *rng,
                                     mesh_outbox *outbox);
/* The monotonic time at which lease_on_tick must be called next;
 * UINT64_MAX when nothing waits. */
uint64_t lease_deadline_ns(const lease_machine *machine);

#define LEASE_OUTBOX_MIN       64u
#define LEASE_SEND_BUFFER_SIZE 262144u /* 256 KiB */

/* Ledger writes: MESH_OUTPUT_LEDGER_WRITE items whose payload points to
 * one lease_ledger_write (payload_size == sizeof(lease_ledger_write)),
 * valid until the next call on the machine. The shell appends the record
 * with its signatures (ledger_append), syncs, and calls
 * lease_on_ledger_ack with the token and the outcome. */
typedef struct lease_ledger_write {
    uint64_t token;
    const ledger_record *record;
    const uint8_t *lender_signature;   /* 64 bytes */
    const uint8_t *borrower_signature; /* 64 bytes */
} lease_ledger_write;

/* The outcome of a ledger write: MESH_OK once the record is durable, or
 * the error ledger_append or the commit returned. An unknown or stale
 * token is ignored (counted). */
MESH_MUST_USE mesh_err lease_on_ledger_ack(lease_machine *machine,
                                           mesh_now now,
                                           uint64_t token,
                                           mesh_err result,
                                           mesh_rng *rng,
                                           mesh_outbox *outbox);

/* Local commands. */

#define LEASE_PREFER_MAX 8u

typedef struct lease_borrow_request {
    uint32_t resource_count; /* 1..WIRE_LEASE_RESOURCES_MAX, sorted as the wire wants */
    wire_lease_resource resources[WIRE_LEASE_RESOURCES_MAX];
    int64_t start_ns;     /* realtime; 0 = now */
    uint64_t duration_ns; /* 1..WIRE_LEASE_DURATION_NS_MAX */
    /* Constraints, data class already expanded into them by the shell
     * (the operator's mapping); the data class name is kept for audits. */
    wire_lease_constraints constraints;
    /* Preferred lenders, in order; pin: only prefer[0]. Preferences order
     * the lenders that pass the constraints; they never add one. */
    uint32_t prefer_count;
    mesh_node_id prefer[LEASE_PREFER_MAX];
    bool pin;
    bool no_split;       /* one lender must serve it whole */
    uint64_t timeout_ns; /* give up after; 0 = request_timeout x 4 */
    uint64_t tag;        /* the caller's, echoed in events */
} lease_borrow_request;

/* Starts a borrow: asks lenders in score order, at most in_flight_max at
 * a time, splitting across several unless no_split. Its end is reported
 * by a LEASE_EVENT_BORROW_DONE event. Errors: MESH_EINVAL (a field out of
 * range: the request is not made), MESH_EFULL (borrows_max, or outbox). */
MESH_MUST_USE mesh_err lease_borrow(lease_machine *machine,
                                    mesh_now now,
                                    const lease_borrow_request *request,
                                    mesh_rng *rng,
                                    mesh_outbox *outbox,
                                    uint32_t *borrow_id_out);

/* The borrower gives a lease back; the lender settles it. Errors:
 * MESH_ENOTFOUND (no open lease borrowed under this id). */
MESH_MUST_USE mesh_err lease_release(lease_machine *machine,
                                     mesh_now now,
                                     const uint8_t lease_id[LEDGER_LEASE_ID_SIZE],
                                     mesh_rng *rng,
                                     mesh_outbox *outbox);
/* The lender takes a lease back at now + notice_ns (notice sent now).
 * Errors: MESH_ENOTFOUND (no open lease lent under this id). */
MESH_MUST_USE mesh_err lease_reclaim(lease_machine *machine,
                                     mesh_now now,
                                     const uint8_t lease_id[LEDGER_LEASE_ID_SIZE],
                                     uint64_t notice_ns,
                                     mesh_rng *rng,
                                     mesh_outbox *outbox);
/* Local demand of one class (running + queued, whole units), from the
 * scheduler's load report: it takes capacity before lending does, and
 * when it rises over what is not lent, the newest leases of that class are
 * reclaimed with reclaim_notice_ns of notice. MESH_ENOTFOUND for a class
 * this node does not have. */
MESH_MUST_USE mesh_err lease_set_local_demand(lease_machine *machine,
                                              mesh_now now,
                                              uint32_t resource_class,
                                              const char *model,
                                              uint64_t demand,
                                              mesh_rng *rng,
                                              mesh_outbox *outbox);
/* Replaces the lender's total and lendable capacity of a class (an
 * inventory system changed it). MESH_EINVAL (lendable > total),
 * MESH_ENOTFOUND. Leases already made stay; lending resumes when it fits. */
MESH_MUST_USE mesh_err lease_set_capacity(lease_machine *machine,
                                          uint32_t resource_class,
                                          const char *model,
                                          uint64_t total,
                                          uint64_t lendable);

/* Events: MESH_OUTPUT_EVENT items whose payload points to one lease_event
 * (payload_size == sizeof(lease_event)). */
typedef enum lease_event_kind {
    LEASE_EVENT_GRANTED = 1,        /* active on this side, durably */
    LEASE_EVENT_RECLAIM_NOTICE = 2, /* the lender will take it back at end_ns */
    LEASE_EVENT_ENDED = 3,          /* settled: both signed the totals */
    LEASE_EVENT_BORROW_DONE = 4,    /* a borrow request finished */
    LEASE_EVENT_REFUSED = 5,        /* a lender refused one request of a borrow */
} lease_event_kind;

typedef enum lease_borrow_status {
    LEASE_BORROW_GRANTED = 1, /* all of it */
    LEASE_BORROW_PARTIAL = 2, /* some of it; the rest found no lender in time */
    LEASE_BORROW_REFUSED = 3, /* none */
} lease_borrow_status;

typedef struct lease_event {
    lease_event_kind kind;
    bool self_is_lender;
    uint8_t lease_id[LEDGER_LEASE_ID_SIZE];
    mesh_node_id peer;
    uint32_t borrow_id; /* borrower side: the borrow it served (0: none) */
    uint64_t tag;
    uint32_t amount_count; /* reserved (GRANTED), used (ENDED), granted (BORROW_DONE) */
    ledger_amount amounts[LEDGER_AMOUNTS_MAX];
    int64_t start_ns;
    int64_t end_ns;       /* the window's end, or the reclaim time */
    uint32_t end_kind;    /* ENDED: ledger_kind of the end record */
    uint32_t status;      /* BORROW_DONE: lease_borrow_status */
    uint32_t lease_count; /* BORROW_DONE: leases granted */
    uint32_t refusal;     /* REFUSED, or BORROW_DONE's most common: wire_lease_refusal */
    uint32_t refusal_counts[WIRE_LEASE_REFUSAL_MAX + 1]; /* BORROW_DONE, by reason */
    uint32_t candidate_count; /* BORROW_DONE: lenders that passed the constraints */
    char data_class[WIRE_DATA_CLASS_SIZE_MAX + 1]; /* of the lease's constraints */
} lease_event;

/* Why a frame or an input was refused; each has a counter. Append only. */
typedef enum lease_reject {
    LEASE_REJECT_MALFORMED = 0,     /* envelope, body or record does not decode */
    LEASE_REJECT_NOT_MEMBER = 1,    /* signer without a valid certificate here */
    LEASE_REJECT_BAD_SIGNATURE = 2, /* envelope or record signature does not verify */
    LEASE_REJECT_UNEXPECTED = 3,    /* no such lease, or not in a state for it */
    LEASE_REJECT_REPLAY = 4,        /* already handled: answered again, applied once */
    LEASE_REJECT_MISMATCH = 5,      /* other parties, number, terms or lease than expected */
    LEASE_REJECT_EXPIRED = 6,       /* a request or offer past its time */
    LEASE_REJECT_CONSTRAINT = 7,    /* an offer that breaks the borrower's constraints */
    LEASE_REJECT_OVERCHARGE = 8,    /* usage beyond reserved x time, totals that do not add up */
    LEASE_REJECT_FULL = 9,          /* no slot, buffer or outbox room: retried later */
    LEASE_REJECT_LEDGER = 10,       /* the ledger refused a write */
} lease_reject;
#define LEASE_REJECT_COUNT 11u
const char *lease_reject_name(lease_reject reject); /* never NULL */

typedef struct lease_stats {
    uint64_t frames_in;
    uint64_t frames_out;
    uint64_t requests_in;  /* lender: requests received */
    uint64_t offers_out;   /* lender */
    uint64_t refusals_out; /* lender: by reason below */
    uint64_t refusals_out_by[WIRE_LEASE_REFUSAL_MAX + 1];
    uint64_t refusals_in; /* borrower */
    uint64_t granted_lent;
    uint64_t granted_borrowed;
    uint64_t ended_lent;
    uint64_t ended_borrowed;
    uint64_t late_acceptances; /* honoured after the offer's hold */
    uint64_t repairs;          /* agreed records adopted from the peer's copy (after a restart) */
    uint64_t reclaims;
    uint64_t retries;
    uint64_t ledger_writes;
    uint64_t rejected[LEASE_REJECT_COUNT];
    uint32_t leases_open; /* slots in use */
    uint32_t borrows_open;
} lease_stats;
void lease_stats_get(const lease_machine *machine, lease_stats *stats_out);

/* What this node can lend of a class now (lendable - booked, within what
 * local demand leaves), what it has booked (holds and open leases), and
 * what it borrowed and holds: for the advert and the API. */
typedef struct lease_capacity {
    uint32_t resource_class;
    char model[WIRE_MODEL_SIZE_MAX + 1];
    uint64_t total;
    uint64_t lendable;
    uint64_t lent;         /* booked: holds and open leases */
    uint64_t free_to_lend; /* what an offer could take now */
    uint64_t local_demand; /* last reported */
    uint64_t borrowed;     /* open leases borrowed; never lendable */
    uint64_t price_microeur_per_unit_hour;
    uint64_t keep; /* kept for own peaks (policy) */
} lease_capacity;
uint32_t lease_capacity_count(const lease_machine *machine);
void lease_capacity_at(const lease_machine *machine, uint32_t index, lease_capacity *capacity_out);

/* Leases in slots (offers, in flight and open), for the API. */
typedef enum lease_phase {
    LEASE_PHASE_REQUESTED = 1, /* borrower: request sent */
    LEASE_PHASE_OFFERED = 2,   /* lender: offer sent, capacity held */
    LEASE_PHASE_ACCEPTING = 3, /* acceptance being written or waiting for confirmation */
    LEASE_PHASE_ACTIVE = 4,
    LEASE_PHASE_ENDING = 5, /* end records being exchanged */
} lease_phase;
const char *lease_phase_name(uint32_t phase); /* never NULL */

typedef struct lease_info {
    uint8_t lease_id[LEDGER_LEASE_ID_SIZE];
    bool self_is_lender;
    mesh_node_id peer;
    uint32_t phase; /* lease_phase */
    uint32_t borrow_id;
    uint32_t amount_count;
    ledger_amount amounts[LEDGER_AMOUNTS_MAX]; /* reserved, milli-units */
    int64_t start_ns;
    int64_t end_ns;
    int64_t reclaim_at_ns; /* 0: none */
    uint32_t record_count;
    char data_class[WIRE_DATA_CLASS_SIZE_MAX + 1]; /* of the lease's constraints */
} lease_info;
uint32_t lease_count(const lease_machine *machine);
/* The index-th slot in use, in slot order (not lease id order). O(slots):
 * to walk them all, use lease_visit. */
MESH_MUST_USE mesh_err lease_at(const lease_machine *machine, uint32_t index, lease_info *info_out);
/* Every slot in use, once, in slot order; visit returns false to stop. */
typedef bool (*lease_visit_fn)(void *arg, const lease_info *info);
void lease_visit(const lease_machine *machine, lease_visit_fn visit, void *arg);
MESH_MUST_USE mesh_err lease_find(const lease_machine *machine,
                                  const uint8_t lease_id[LEDGER_LEASE_ID_SIZE],
                                  lease_info *info_out);

#endif /* LEASE_LEASE_H */
