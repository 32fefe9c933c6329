/*
 * lease/lease_int.h: the machine's insides, shared by the files of lease/
 * and its tests.
 *
 * Layout. A fixed table of slots (leases_max), each one lease in one role:
 * a borrower's request in flight, a lender's hold, a lease being accepted,
 * an open lease, or one being ended. Slots are found by lease id through a
 * chained hash table keyed with a secret derived from the node's key (a
 * borrower picks lease ids, so a hostile one must not be able to aim them
 * at one bucket). Timers live in a binary min-heap of slots by deadline, so
 * that the earliest deadline is O(1) and a timer change O(log n). Borrows
 * (a local request, possibly split over several lenders) sit in their own
 * small table and are scanned: borrows_max is small.
 *
 * Each slot holds at most one record in flight (`pending`): the lender
 * proposes records one at a time and the borrower countersigns them in
 * order, so record numbers never fork. After its acknowledgement the
 * pending record stays as the last durable one (`last_*`), so that a resent
 * proposal or acceptance is answered byte for byte.
 */
#ifndef LEASE_LEASE_INT_H
#define LEASE_LEASE_INT_H

#include "lease/lease.h"

#define LEASE_EVENTS_MAX    64u /* events per call */
#define LEASE_COOLDOWNS_MAX 64u /* lenders remembered as having refused (lease.h) */
#define LEASE_WRITES_MAX    64u /* ledger writes per call */
#define LEASE_NO_SLOT       UINT32_MAX
#define LEASE_HOUR_NS       3600000000000ull
#define LEASE_FRAME_SLACK   2048u /* room one handler needs in the send buffer */

/* What an acknowledged write leads to. */
typedef enum lease_after {
    LEASE_AFTER_NONE = 0,
    LEASE_AFTER_ACCEPTED = 1,    /* borrower: OPENED durable; send the acceptance */
    LEASE_AFTER_CONFIRMED = 2,   /* lender: OPENED durable; send the confirmation */
    LEASE_AFTER_COUNTERSIGN = 3, /* borrower: a later record durable; send it back */
    LEASE_AFTER_AGREED = 4,      /* lender: a countersigned proposal durable; next step */
} lease_after;

typedef struct lease_slot {
    bool used;
    bool self_is_lender;
    uint32_t generation; /* bumped when freed: stale tokens are ignored */
    uint32_t phase;      /* lease_phase */
    uint8_t lease_id[LEDGER_LEASE_ID_SIZE];
    mesh_node_id peer_id;
    uint8_t peer_key[LEDGER_KEY_SIZE];
    uint32_t borrow_index; /* borrower: index + 1 of its borrow, 0 when none */
    uint32_t borrow_id;    /* and its id, since borrow entries are reused */
    uint32_t hash_next;    /* next slot in the bucket's chain */
    uint32_t heap_index;   /* position in the timer heap, LEASE_NO_SLOT when not armed */
    uint64_t deadline_ns;  /* monotonic */
    uint64_t retry_ns;     /* current resend interval (backs off) */

    /* The request: what the borrower asked (both sides keep it; a resent
     * identical request is answered again, another one is a duplicate). */
    uint8_t request_hash[16];
    uint32_t resource_count;
    wire_lease_resource resources[WIRE_LEASE_RESOURCES_MAX];
    int64_t offer_expires_ns; /* realtime */

    /* The agreed OPENED record and both signatures (once offered). */
    bool has_opened;
    ledger_record opened;
    uint8_t opened_lender_signature[LEDGER_SIGNATURE_SIZE];
    uint8_t opened_borrower_signature[LEDGER_SIGNATURE_SIZE];

    /* Accounting of records durable on this side. */
    uint32_t record_count;
    int64_t usage_time_ns; /* the time of the last usage record (the start at first) */
    uint64_t usage_milli[LEDGER_AMOUNTS_MAX];
    bool booked;        /* lender: counts in booked capacity */
    bool void_lease;    /* lender: a late acceptance that did not fit: ended at once, no usage */
    bool release_asked; /* borrower asked to release (lender: an END release arrived) */
    int64_t end_at_ns;  /* realtime: when it ends (window end, release, reclaim) */
    uint32_t end_kind;  /* ledger_kind of the end to record */
    int64_t reclaim_at_ns;

    /* The one record in flight, then the last durable one (has_last). */
    bool has_pending;
    bool has_last;
    bool pending_in_ledger; /* handed to the shell, waiting for the acknowledgement */
    bool pending_rewrite;   /* the ledger failed it: hand it again at the next timer */
    uint32_t pending_after; /* lease_after */
    ledger_record pending;
    bool pending_has_lender;
    bool pending_has_borrower;
    uint8_t pending_lender_signature[LEDGER_SIGNATURE_SIZE];
    uint8_t pending_borrower_signature[LEDGER_SIGNATURE_SIZE];
} lease_slot;

typedef struct lease_borrow_state {
    bool used;
    uint32_t id;
    lease_borrow_request request;
    int64_t start_ns;
    uint64_t deadline_ns;                         /* monotonic */
    uint64_t remaining[WIRE_LEASE_RESOURCES_MAX]; /* not granted yet */
    uint64_t in_flight[WIRE_LEASE_RESOURCES_MAX]; /* asked, not answered */
    uint64_t granted[WIRE_LEASE_RESOURCES_MAX];
    uint32_t in_flight_count;
    uint32_t lease_count;
    uint32_t candidate_count;
    uint32_t candidate_next;
    mesh_node_id *candidates;                            /* candidates_max, in score order */
    uint32_t refusal_counts[WIRE_LEASE_REFUSAL_MAX + 1]; /* [0]: no answer */
} lease_borrow_state;

typedef struct lease_class_state {
    lease_class_policy policy;
    uint64_t booked;       /* holds and open leases lent */
    uint64_t local_demand; /* last reported */
    uint64_t borrowed;     /* open leases borrowed */
} lease_class_state;

struct lease_machine {
    lease_config config;
    uint8_t hash_key[16]; /* for lease id buckets; derived from the secret key */
    uint64_t created_ns;  /* monotonic; no offers for offer_ttl after it */
    uint32_t next_borrow_id;

    lease_class_state classes[LEASE_CLASSES_MAX];

    lease_slot *slots; /* leases_max */
    uint32_t slot_count;
    uint32_t free_head; /* chain of free slots through hash_next */
    uint32_t *buckets;  /* bucket_count heads */
    uint32_t bucket_count;
    uint32_t *heap; /* slot indexes, by deadline */
    uint32_t heap_count;

    lease_borrow_state *borrows; /* borrows_max */
    mesh_node_id *candidate_pool;
    struct {
        mesh_node_id lender;
        uint64_t until_ns; /* monotonic; 0: a free entry */
        uint32_t reason;   /* wire_lease_refusal */
    } cooldowns[LEASE_COOLDOWNS_MAX];

    /* Per-call output storage. */
    uint8_t *send_buffer;
    uint32_t send_used;
    lease_event events[LEASE_EVENTS_MAX];
    uint32_t event_count;
    lease_ledger_write writes[LEASE_WRITES_MAX];
    uint32_t write_count;

    lease_stats stats;
};

/* lease.c: slots, timers, outputs. */
/* Empties the per-call output storage: at the start of every public call
 * that may produce outputs (they are valid until the next call). */
void lease_begin_call(lease_machine *m);
lease_slot *lease_slot_find(lease_machine *m, const uint8_t lease_id[LEDGER_LEASE_ID_SIZE]);
lease_slot *lease_slot_new(lease_machine *m, const uint8_t lease_id[LEDGER_LEASE_ID_SIZE]);
void lease_slot_free(lease_machine *m, lease_slot *slot);
void lease_slot_arm(lease_machine *m, lease_slot *slot, uint64_t deadline_ns);
void lease_slot_disarm(lease_machine *m, lease_slot *slot);
uint32_t lease_slot_index(const lease_machine *m, const lease_slot *slot);
void lease_reject_count(lease_machine *m, lease_reject reject);
/* Outputs. MESH_EFULL when the outbox or the send buffer is full; the
 * failure is counted (LEASE_REJECT_FULL) and every message that matters is
 * resent by a timer, so callers that need not know ignore the result (no
 * MESH_MUST_USE here, deliberately). */
mesh_err lease_send(lease_machine *m,
                    const lease_peer *peer,
                    wire_type type,
                    const uint8_t *body,
                    uint32_t body_size,
                    mesh_outbox *outbox);
mesh_err lease_send_record(lease_machine *m,
                           const lease_peer *peer,
                           const uint8_t lease_id[LEDGER_LEASE_ID_SIZE],
                           const ledger_record *record,
                           const uint8_t *lender_signature,
                           const uint8_t *borrower_signature,
                           mesh_outbox *outbox);
mesh_err lease_send_end(lease_machine *m,
                        const lease_peer *peer,
                        const uint8_t lease_id[LEDGER_LEASE_ID_SIZE],
                        uint32_t what,
                        int64_t at_ns,
                        mesh_outbox *outbox);
mesh_err lease_emit(lease_machine *m, const lease_event *event, mesh_outbox *outbox);
/* Hands the slot's pending record to the ledger. */
MESH_MUST_USE mesh_err lease_write_pending(lease_machine *m, lease_slot *slot, mesh_outbox *outbox);
/* Room for one more handler's outputs. */
bool lease_room(const lease_machine *m, const mesh_outbox *outbox);
void lease_event_from_slot(const lease_slot *slot, lease_event_kind kind, lease_event *event_out);
/* Both sides, once the SETTLED record is durable: the ENDED event with the
 * totals, and the slot is freed. */
void lease_settled(lease_machine *m,
                   lease_slot *slot,
                   const ledger_record *settled,
                   mesh_outbox *outbox);

/* policy.c: constraints, capacity, usage. */
/* 0 when the facts satisfy the constraints, else the wire_lease_refusal. */
uint32_t lease_constraints_check(const wire_lease_constraints *constraints,
                                 const char *country,
                                 uint32_t jurisdiction_count,
                                 const char (*jurisdictions)[3],
                                 uint32_t certifications);
/* The whole lease's price per hour, micro-euros (saturating). */
uint64_t lease_cost_per_hour(const ledger_record *opened);
lease_class_state *lease_class_find(lease_machine *m, uint32_t resource_class, const char *model);
uint64_t lease_class_free_to_lend(const lease_class_state *state);
/* Usage in milli unit-hours of reserved_milli over [from_ns, to_ns). */
uint64_t lease_usage_milli(uint64_t reserved_milli, int64_t from_ns, int64_t to_ns);
void lease_book(lease_machine *m, lease_slot *slot, bool book);
void lease_borrowed_add(lease_machine *m, const lease_slot *slot, bool add);
bool lease_constraints_equal(const wire_lease_constraints *w, const ledger_constraints *l);
void lease_constraints_to_ledger(const wire_lease_constraints *w, ledger_constraints *l_out);
/* The certificate facts in an offer's terms are the peer's, as the
 * directory knows them from its root-signed certificate. */
bool lease_facts_equal(const ledger_terms *terms, const lease_peer *peer);
/* The signature of a record, over its encoding (ledger/'s domain). */
MESH_MUST_USE mesh_err lease_record_verify(const ledger_record *record,
                                           const uint8_t key[LEDGER_KEY_SIZE],
                                           const uint8_t signature[LEDGER_SIGNATURE_SIZE]);
/* Byte equality of two records' encodings. */
bool lease_record_same(const ledger_record *a, const ledger_record *b);
void lease_request_hash(const wire_lease_request *request, uint8_t hash_out[16]);

/* lender.c */
void lease_lender_on_request(lease_machine *m,
                             mesh_now now,
                             const lease_peer *peer,
                             const wire_lease_request *request,
                             mesh_outbox *outbox);
void lease_lender_on_record(lease_machine *m,
                            mesh_now now,
                            const lease_peer *peer,
                            lease_slot *slot,
                            const wire_lease_record *message,
                            const ledger_record *record,
                            mesh_outbox *outbox);
void lease_lender_on_end(lease_machine *m,
                         mesh_now now,
                         lease_slot *slot,
                         const wire_lease_end *end,
                         mesh_outbox *outbox);
MESH_MUST_USE mesh_err lease_lender_on_timer(lease_machine *m,
                                             mesh_now now,
                                             lease_slot *slot,
                                             mesh_outbox *outbox);
/* Puts one lease under notice (no reset of the call's outputs). */
MESH_MUST_USE mesh_err lease_reclaim_one(lease_machine *m,
                                         mesh_now now,
                                         const uint8_t lease_id[LEDGER_LEASE_ID_SIZE],
                                         uint64_t notice_ns,
                                         mesh_outbox *outbox);
void lease_lender_after_write(lease_machine *m,
                              mesh_now now,
                              lease_slot *slot,
                              mesh_outbox *outbox);

/* borrower.c */
void lease_borrower_on_offer(lease_machine *m,
                             mesh_now now,
                             const lease_peer *peer,
                             lease_slot *slot,
                             const wire_lease_offer *offer,
                             mesh_outbox *outbox);
void lease_borrower_on_refuse(lease_machine *m,
                              mesh_now now,
                              lease_slot *slot,
                              const wire_lease_refuse *refuse,
                              mesh_rng *rng,
                              mesh_outbox *outbox);
void lease_borrower_on_record(lease_machine *m,
                              mesh_now now,
                              const lease_peer *peer,
                              lease_slot *slot,
                              const wire_lease_record *message,
                              const ledger_record *record,
                              mesh_rng *rng,
                              mesh_outbox *outbox);
void lease_borrower_on_end(lease_machine *m,
                           mesh_now now,
                           lease_slot *slot,
                           const wire_lease_end *end,
                           mesh_outbox *outbox);
MESH_MUST_USE mesh_err lease_borrower_on_timer(
    lease_machine *m, mesh_now now, lease_slot *slot, mesh_rng *rng, mesh_outbox *outbox);
void lease_borrower_after_write(
    lease_machine *m, mesh_now now, lease_slot *slot, mesh_rng *rng, mesh_outbox *outbox);
/* Sends the next requests of every borrow that has room; ends borrows
 * that are done or out of time. */
MESH_MUST_USE mesh_err lease_borrows_step(lease_machine *m,
                                          mesh_now now,
                                          mesh_rng *rng,
                                          mesh_outbox *outbox);
uint64_t lease_borrows_deadline(const lease_machine *m);

#endif /* LEASE_LEASE_INT_H */
