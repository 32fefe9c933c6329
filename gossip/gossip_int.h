/*
 * gossip/gossip_int.h: the machine's internals, shared by the files of
 * gossip/ and its tests. Nothing here is part of the public contract.
 *
 * Memory: everything is allocated in gossip_create, sized from the
 * config's limits: members_max member slots (each with room for its
 * certificate and advert frames), an id-ordered index over them,
 * revocations_max revocations, and fixed scratch areas for one call's
 * output. No call allocates afterwards.
 */
#ifndef GOSSIP_GOSSIP_INT_H
#define GOSSIP_GOSSIP_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "gossip/gossip.h"

#define MEMBER_CERT_FRAME_MAX   512u  /* the largest valid certificate frame is ~420 bytes */
#define MEMBER_ADVERT_FRAME_MAX 2048u /* the largest valid advert frame is ~1,850 bytes */
#define REVOCATION_FRAME_MAX    512u
#define ACCUSERS_MAX            4u  /* Lifeguard's K: confirmations that shrink a suspicion */
#define RELAYS_MAX              16u /* indirect probes this node runs for others at once */
#define FRESH_MAX               64u /* records to forward, per call */
#define SENDS_PER_CALL_MAX      48u /* SEND items per call (the outbox needs room for more) */
#define EVENTS_PER_CALL_MAX     16u
#define OUT_ARENA_SIZE          262140u /* 4 * WIRE_FRAME_SIZE_MAX */
#define SUSPECT_FRAME_MAX       256u
#define LOCAL_HEALTH_MAX        8u
#define DIGEST_ENTRIES_TARGET   512u /* members per digest page the sender aims for */

_Static_assert(OUT_ARENA_SIZE == 4u * WIRE_FRAME_SIZE_MAX, "four full frames per call");
_Static_assert(FRESH_MAX <= WIRE_PUSH_RECORDS_MAX, "one push can carry every fresh record");
_Static_assert(SENDS_PER_CALL_MAX + EVENTS_PER_CALL_MAX <= GOSSIP_OUTBOX_MIN,
               "a call never needs more outbox items than GOSSIP_OUTBOX_MIN");

typedef struct member {
    mesh_node_id id;
    uint8_t public_key[MCRYPTO_PUBLIC_KEY_SIZE];
    uint8_t pair_key[MCRYPTO_PAIR_KEY_SIZE];
    bool has_pair_key;
    bool in_view;  /* counted in the view hash */
    uint8_t state; /* gossip_state */
    uint8_t accuser_count;
    mesh_node_id accusers[ACCUSERS_MAX];
    uint64_t sequence; /* newest advert held; 0 = none yet */
    int64_t advert_timestamp_ns;
    uint64_t state_changed_ns;
    uint64_t suspicion_started_ns;
    uint64_t suspicion_deadline_ns;
    uint64_t notice_sent_ns; /* last "you are down" notice sent to it */
    uint64_t exchange_ns;    /* last anti-entropy exchange started with it */
    uint64_t rate_window_ns; /* start of the current one-second input window */
    uint64_t rate_bytes;     /* bytes received from it in that window */
    /* From its certificate. */
    char name[WIRE_NAME_SIZE_MAX + 1];
    char country[3];
    uint32_t certifications;
    uint32_t jurisdiction_count;
    char jurisdictions[WIRE_JURISDICTIONS_MAX][3];
    int64_t cert_valid_until_ns;
    uint32_t cert_frame_size;
    uint32_t advert_frame_size;
    uint8_t cert_frame[MEMBER_CERT_FRAME_MAX];
    uint8_t advert_frame[MEMBER_ADVERT_FRAME_MAX];
} member;

typedef struct probe {
    bool active;
    bool acked;
    bool indirect_sent;
    mesh_node_id target;
    uint64_t nonce;
    uint64_t direct_deadline_ns;
    uint64_t end_ns;
} probe;

typedef struct relay {
    bool active;
    mesh_node_id origin;
    uint64_t origin_nonce;
    mesh_node_id target;
    uint64_t nonce;
    uint64_t deadline_ns;
} relay;

typedef struct revocation_entry {
    mesh_node_id id;
    uint32_t frame_size;
    uint8_t frame[REVOCATION_FRAME_MAX];
} revocation_entry;

typedef struct fresh_record {
    const uint8_t *frame;
    uint32_t frame_size;
} fresh_record;

struct gossip {
    gossip_config config; /* copy; config.seeds and cert_frame are not kept */
    mesh_node_id self_id;
    uint32_t self_slot;

    /* Members: slots, a free list, and an index of slots in id order. */
    member *members;
    uint32_t *order; /* slot numbers, ascending by id */
    uint32_t member_count;
    uint32_t *free_slots;
    uint32_t free_count;

    revocation_entry *revocations; /* ascending by id */
    uint32_t revocation_count;

    /* The view hash: the sum mod 2^128 of a hash of (id, sequence) over
     * every member in the view, kept as it changes. */
    uint64_t view_sum[2];

    bool started;
    bool leaving;
    bool self_revoked;
    uint64_t next_probe_ns;
    uint64_t next_refresh_ns;
    uint64_t next_rejoin_ns;
    mesh_node_id probe_cursor;
    probe probe;
    probe verify; /* a probe of a member someone else suspects, for a quick second opinion */
    uint64_t reprobe_nonce; /* the last ping sent to a down member */
    relay relays[RELAYS_MAX];
    uint32_t local_health;
    uint32_t suspect_count; /* members in GOSSIP_SUSPECT, so deadlines skip the scan */

    char seeds[GOSSIP_SEEDS_MAX][WIRE_ENDPOINT_SIZE_MAX + 1];
    uint32_t seed_count;

    gossip_stats stats;

    /* Per-call state, reset by every public entry point. */
    mesh_outbox *outbox;
    mesh_rng *rng;
    mesh_now now;
    uint32_t sends;
    uint32_t events;
    uint32_t out_used;
    uint8_t *out_arena;
    fresh_record fresh[FRESH_MAX];
    uint32_t fresh_count;
    mesh_node_id fresh_from; /* do not push fresh records back to their sender */
    bool fresh_from_set;
    uint8_t suspect_frames[FRESH_MAX][SUSPECT_FRAME_MAX];
    uint32_t suspect_frame_count;
    gossip_event event_items[EVENTS_PER_CALL_MAX];
    uint8_t *scratch; /* WIRE_FRAME_SIZE_MAX bytes for encoding bodies */
    wire_digest *digest_in;
    wire_digest *digest_out;
    wire_push push;
    wire_pull pull;
};

/* gossip.c */
member *gossip_member_lookup(const gossip *g, const mesh_node_id *id);
bool gossip_is_revoked(const gossip *g, const mesh_node_id *id);
void gossip_set_state(gossip *g, member *m, gossip_state state);
void gossip_view_update(gossip *g, member *m, uint64_t new_sequence, bool in_view);
MESH_MUST_USE mesh_err gossip_member_insert(gossip *g,
                                            const wire_cert *cert,
                                            const uint8_t *cert_frame,
                                            uint32_t cert_frame_size,
                                            member **member_out);
void gossip_member_remove(gossip *g, member *m);
void gossip_emit_event(gossip *g, gossip_event_kind kind, const member *m, uint32_t previous);
void gossip_count_reject(gossip *g, gossip_reject reject);

/* gossip_records.c: signed records. Each returns true when the record was
 * new and accepted (and so should be forwarded). */
bool gossip_ingest_record(gossip *g, const uint8_t *frame, uint32_t frame_size);
MESH_MUST_USE mesh_err gossip_publish_advert(gossip *g, uint32_t status);
MESH_MUST_USE mesh_err gossip_publish_suspicion(gossip *g, member *target);
/* Signs a fresh suspicion of target (at the sequence we hold) into the
 * call's suspicion frames; NULL when this call has made FRESH_MAX already
 * (or, never expected, when encoding fails). Valid until the next call. */
const uint8_t *gossip_make_suspicion(gossip *g, const member *target, uint32_t *frame_size_out);
void gossip_add_fresh(gossip *g, const uint8_t *frame, uint32_t frame_size);
uint64_t gossip_suspicion_timeout_ns(const gossip *g, uint32_t accuser_count);

/* gossip_protocol.c: probes, anti-entropy, sending. */
void gossip_handle_control(gossip *g, const wire_envelope *envelope, member *from);
void gossip_run_timers(gossip *g);
void gossip_flush_fresh(gossip *g);
void gossip_send_introduction(gossip *g, const member *to, const char *endpoint);
void gossip_verify_start(gossip *g, member *target);
bool gossip_member_endpoint(const gossip *g, const member *m, char *endpoint_out);

#endif /* GOSSIP_GOSSIP_INT_H */
