/*
 * member/member_int.h: the member's insides, shared by member.c (the
 * composition and the executor) and burst.c (the burst policy).
 */
#ifndef MEMBER_MEMBER_INT_H
#define MEMBER_MEMBER_INT_H

#include "member/member.h"

/* Borrows the burst policy makes carry this bit in their tag, and the
 * class index in the low bits, so that their end is recognised. */
#define MEMBER_BURST_TAG (1ull << 63)

typedef struct member_burst_class {
    bool load_known;
    uint64_t queued;
    uint64_t running;
    uint32_t borrow_id;        /* a burst borrow in flight; 0 when none */
    uint64_t asked;            /* units it asks for */
    uint64_t retry_after_ns;   /* monotonic: no new borrow before */
    uint32_t refused_in_row;   /* borrows in a row that got nothing: the wait doubles */
    uint64_t surplus_since_ns; /* monotonic: surplus seen since; 0 when none */
} member_burst_class;

#define MEMBER_ACKS_MAX 8192u

typedef struct member_reconcile member_reconcile; /* reconcile.c */

typedef struct member_held_send {
    mesh_node_id peer;
    uint32_t offset; /* into held_bytes: endpoint (NUL-terminated), then frame */
    uint32_t endpoint_size;
    uint32_t frame_size;
} member_held_send;

typedef struct member_ack {
    uint64_t token;
    mesh_err result;
} member_ack;

struct member_node {
    gossip *gossip_machine;
    lease_machine *lease;
    ledger *ledger_handle;
    const ledger_store *store;
    member_io io;
    uint64_t advert_interval_ns;

    mesh_output items[MEMBER_OUTBOX_ITEMS];
    mesh_outbox outbox;
    mesh_now now; /* of the input being handled, for the directory */

    bool staged; /* writes appended, not yet synced */
    uint32_t staged_count;
    uint64_t *staged_tokens; /* MEMBER_ACKS_MAX */
    member_held_send *held;  /* MEMBER_HELD_SENDS_MAX */
    uint32_t held_count;
    uint8_t *held_bytes; /* MEMBER_HELD_BYTES_MAX */
    uint32_t held_used;
    member_ack *acks; /* MEMBER_ACKS_MAX */
    uint32_t ack_count;

    wire_advert advert; /* what this node publishes, resources from the lease policy */
    bool advert_dirty;
    uint64_t advert_published_ns;
    char find_endpoint[WIRE_ENDPOINT_SIZE_MAX + 1];

    member_burst_config burst;
    member_burst_class burst_classes[LEASE_CLASSES_MAX];

    /* Reconciling: this node's key pair (it signs ledger summaries; wiped
     * by destroy) and the tables, allocated on first use. */
    mcrypto_keypair keypair;
    mesh_node_id self_id;
    member_reconcile *reconcile;

    member_stats stats;
};

/* member.c */
void member_execute(member_node *m, member_source source, mesh_err call_result);
/* Syncs what is staged now (an early flush: acknowledgements wait for the
 * next member_flush), for a caller whose ledger group is full. */
mesh_err member_commit_early(member_node *m);

/* certificates.c */
/* Keeps the certificate frames of both parties of an OPENED record in the
 * ledger, staged with it (ledger_put_certificate). Never fails the write:
 * a certificate it cannot keep is counted. */
void member_keep_certificates(member_node *m, const ledger_record *record);

/* reconcile.c */
/* A frame of type WIRE_TYPE_LEDGER_SUMMARY. */
void member_reconcile_on_frame(member_node *m,
                               mesh_now now,
                               const uint8_t *frame,
                               uint32_t frame_size);
/* The timeout of the reconcile in flight. */
void member_reconcile_on_tick(member_node *m, mesh_now now);
/* When on_tick must run for reconciling; UINT64_MAX when nothing waits. */
uint64_t member_reconcile_deadline_ns(const member_node *m);
void member_reconcile_destroy(member_node *m);

/* burst.c */
/* Borrows or releases as the loads say; executes what it asks for. */
void member_burst_step(member_node *m, mesh_now now, mesh_rng *rng);
/* A lease event passing through the executor: the end of a burst borrow. */
void member_burst_on_event(member_node *m, mesh_now now, const lease_event *event);
/* When the burst policy wants to look again; UINT64_MAX when it does not. */
uint64_t member_burst_deadline_ns(const member_node *m);

#endif /* MEMBER_MEMBER_INT_H */
