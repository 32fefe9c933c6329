/*
 * gossip/gossip_int.h: the machine's internals, shared by the files of
 * gossip/ and its tests. Nothing here is part of the public contract.
 *
 * Memory: everything is allocated in gossip_create, sized from the
 * config's limits: members_max member slots of about 100 bytes and a
 * 4-byte round-trip estimate beside each, an id-ordered index over them,
 * revocations_max revocations, fixed scratch areas for one call's
 * output and, unless the config brings shared ones, a frame store with
 * room for members_max certificates and adverts and a pair-key cache.
 * No call allocates afterwards.
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
#define DIGEST_ENTRIES_TARGET   512u  /* members per digest page the sender aims for */
#define SUSPECT_LIST_MAX        32u   /* suspects whose slots are listed (see suspect_list) */
#define ANSWERS_MAX             1024u /* own adverts sent straight back to accusers per interval */

_Static_assert(OUT_ARENA_SIZE == 4u * WIRE_FRAME_SIZE_MAX, "four full frames per call");
_Static_assert(FRESH_MAX <= WIRE_PUSH_RECORDS_MAX, "one push can carry every fresh record");
_Static_assert(SENDS_PER_CALL_MAX + EVENTS_PER_CALL_MAX <= GOSSIP_OUTBOX_MIN,
               "a call never needs more outbox items than GOSSIP_OUTBOX_MIN");

/* A member as this machine sees it: about 100 bytes. Its certificate
 * (with the public key and the fields decoded from it) and its newest
 * advert are frames in the store, by handle; its pair key is in the pair
 * cache; its round-trip estimate is in gossip.rtt_x8_us, by slot. Times
 * are monotonic nanoseconds. */
typedef struct member {
    mesh_node_id id;
    uint64_t sequence; /* newest advert held; 0 = none yet */
    uint64_t state_changed_ns;
    uint64_t suspicion_started_ns;
    uint64_t suspicion_deadline_ns;
    uint64_t notice_sent_ns; /* last "you are down" notice sent to it */
    uint64_t exchange_ns;    /* last anti-entropy exchange started with it */
    uint64_t rate_window_ns; /* start of the current one-second input window */
    uint32_t rate_bytes;     /* bytes received from it in that window, saturating */
    uint32_t cert;           /* store handle of its certificate frame */
    uint32_t advert;         /* store handle of its newest advert frame; 0 = none */
    /* Slots of the members whose suspicions were counted. A slot outlives
     * a suspicion (members are forgotten after down_forget_ns); a reused
     * slot can only make a confirmation count as a duplicate. */
    uint32_t accusers[ACCUSERS_MAX];
    uint8_t state; /* gossip_state */
    uint8_t accuser_count;
    bool in_view; /* counted in the view hash */
} member;

/* The simulator holds N^2 members (10^8 at N = 10,000): every byte here
 * costs 100 MB there. The record has one spare byte, so a 4-byte field
 * would pad it to 112 bytes: such state goes beside it, by slot. */
_Static_assert(sizeof(member) <= 104, "a member record stays at 104 bytes");

/* The store (store.c). */
typedef enum store_kind { STORE_CERT = 0, STORE_ADVERT = 1 } store_kind;

typedef struct store_slot {
    uint32_t refs; /* member records pointing here; 0 = free */
    uint32_t next; /* next handle in the bucket chain, or in the free list */
    uint32_t hash;
    uint32_t frame_size;
} store_slot;

typedef struct store_pool {
    uint32_t count_max;
    uint32_t frame_max;
    uint32_t used;
    uint32_t peak;
    uint64_t refused;
    uint32_t bucket_mask;
    uint32_t free_head;
    uint32_t *buckets; /* handle of the first slot of each chain */
    store_slot *slots;
    uint8_t *frames; /* count_max * frame_max bytes */
} store_pool;

/* What the machine reads of a certificate, decoded once per store. */
typedef struct store_cert_info {
    uint8_t public_key[MCRYPTO_PUBLIC_KEY_SIZE];
    char name[WIRE_NAME_SIZE_MAX + 1];
    char country[3];
    uint32_t certifications;
    uint32_t jurisdiction_count;
    char jurisdictions[WIRE_JURISDICTIONS_MAX][3];
    int64_t valid_until_ns;
    int64_t valid_from_ns;
    /* The root whose signature on the frame was checked when it was
     * stored: a machine under the same root need not check it again. */
    uint8_t root_public_key[MCRYPTO_PUBLIC_KEY_SIZE];
    mesh_node_id id;
    bool curve_valid; /* the key converts to X25519: pair keys are possible */
    uint8_t curve_public[MCRYPTO_CURVE_KEY_SIZE];
    /* BLAKE2b-256 of the frame, set by gossip_store_put when the frame is
     * stored: the store, not its callers, owns this field. */
    uint8_t frame_hash[GOSSIP_CERT_HASH_SIZE];
} store_cert_info;

/* What the machine reads of an advert, decoded once per store. */
typedef struct store_advert_info {
    int64_t timestamp_ns;
    char endpoint[WIRE_ENDPOINT_SIZE_MAX + 1];
} store_advert_info;

struct gossip_store {
    store_pool pools[2]; /* by store_kind */
    store_cert_info *cert_info;
    store_advert_info *advert_info;
};

/* The handle of a slot holding exactly this frame, with one more
 * reference; 0 when the pool is full. *added_out tells whether the slot
 * is new, so that the caller fills in its decoded fields (a new
 * certificate slot has its frame_hash set already). */
uint32_t gossip_store_put(gossip_store *store,
                          store_kind kind,
                          const uint8_t *frame,
                          uint32_t frame_size,
                          bool *added_out);
/* Drops one reference; handle 0 is a no-op. */
void gossip_store_release(gossip_store *store, store_kind kind, uint32_t handle);
const uint8_t *gossip_store_frame(const gossip_store *store,
                                  store_kind kind,
                                  uint32_t handle,
                                  uint32_t *frame_size_out);
/* The handle of the slot holding exactly this frame, or 0; no reference
 * is taken. */
uint32_t gossip_store_find(const gossip_store *store,
                           store_kind kind,
                           const uint8_t *frame,
                           uint32_t frame_size);
store_cert_info *gossip_store_cert(const gossip_store *store, uint32_t handle);
store_advert_info *gossip_store_advert(const gossip_store *store, uint32_t handle);

/* The member index in id order (order.c): blocks of up to
 * ORDER_BLOCK_MAX slot numbers, listed by a directory; a compaction
 * refills them to ORDER_BLOCK_FILL. */
#define ORDER_BLOCK_MAX  128u
#define ORDER_BLOCK_FILL 96u

typedef struct gossip_order {
    uint32_t count;       /* entries (members) */
    uint32_t block_count; /* blocks in the directory */
    uint32_t block_max;
    uint32_t free_count;
    uint64_t compactions;
    uint32_t *directory;   /* physical block numbers, in id order */
    uint32_t *counts;      /* entries per block, by directory index */
    uint32_t *starts;      /* position of each block's first entry */
    uint64_t *firsts;      /* each block's first key: its first id's first 8 bytes */
    uint32_t *free_blocks; /* a stack of free physical blocks */
    uint32_t *slots;       /* block_max * ORDER_BLOCK_MAX slot numbers */
} gossip_order;

typedef struct gossip_order_iter {
    uint32_t block; /* directory index; block_count at the end */
    uint32_t offset;
    uint32_t position;
} gossip_order_iter;

typedef struct probe {
    bool active;
    bool acked;
    bool indirect_sent;
    bool rtt_sampled; /* the target's own ack came: later copies are no sample */
    mesh_node_id target;
    uint64_t nonce;
    uint64_t sent_ns; /* when the direct ping left */
    uint64_t direct_deadline_ns;
    uint64_t end_ns;
} probe;

typedef struct relay {
    bool active;
    mesh_node_id origin;
    uint64_t origin_nonce;
    mesh_node_id target;
    uint64_t nonce;
    uint64_t sent_ns; /* when our ping to the target left */
    uint64_t deadline_ns;
} relay;

typedef struct revocation_entry {
    mesh_node_id id;
    uint32_t frame_size;
    bool told;                  /* told_ns is set */
    uint64_t told_ns;           /* when the revocation last went back to the revoked key */
    wire_revocation revocation; /* decoded from frame */
    char endpoint[WIRE_ENDPOINT_SIZE_MAX + 1]; /* last known; "" unknown */
    uint8_t frame[REVOCATION_FRAME_MAX];
} revocation_entry;

typedef struct fresh_record {
    const uint8_t *frame;
    uint32_t frame_size;
} fresh_record;

struct gossip {
    gossip_config config; /* copy; config.seeds and cert_frame are not kept */
    gossip_store *store;  /* config.store, or own_store */
    gossip_store *own_store;
    mcrypto_pair_cache *pair_cache; /* config.pair_cache, or own_pair_cache */
    mcrypto_pair_cache *own_pair_cache;
    uint8_t curve_secret[MCRYPTO_CURVE_KEY_SIZE]; /* the keypair's X25519 half; wiped */
    mesh_node_id self_id;
    uint32_t self_slot;

    /* Members: slots, a free list, and an index of slots in id order. */
    member *members;
    /* By slot, beside members (see the size note there): 8 times the
     * member's smoothed round trip in microseconds (RFC 6298's SRTT, kept
     * scaled as TCP stacks do so that its 1/8 steps are not truncated
     * away); 0 = not measured. Reset when a slot is taken. */
    uint32_t *rtt_x8_us;
    gossip_order order; /* slot numbers, ascending by id */
    /* A hash index over the slots, for lookups by id in one probe or two:
     * open addressing, linear probing, slot + 1 per entry (0 = empty),
     * 2 * members_max entries or more (a power of two). The hash is keyed
     * with a secret of this machine, so that no member can choose ids that
     * collide. */
    uint32_t *id_table;
    uint32_t id_table_mask;
    uint8_t id_hash_key[16];
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
    bool telling_revoked; /* the one send a revoked endpoint may get is under way */
    uint64_t next_probe_ns;
    uint64_t next_refresh_ns;
    uint64_t next_rejoin_ns;
    mesh_node_id probe_cursor;
    probe probe;
    probe verify; /* a probe of a member someone else suspects, for a quick second opinion */
    uint64_t reprobe_nonce; /* the last ping sent to a down member */
    mesh_node_id reprobe_target;
    uint64_t reprobe_sent_ns;
    bool reprobe_pending; /* that ping is out and its ack not yet in */
    relay relays[RELAYS_MAX];
    uint32_t local_health;
    uint32_t suspect_count; /* members in GOSSIP_SUSPECT, so deadlines skip the scan */
    /* Their slots, in no order, while there are at most SUSPECT_LIST_MAX
     * (suspect_list_valid): the earliest suspicion deadline is then a
     * minimum over the list, not a scan of members_max slots, which cost
     * O(N) in every call that ended a suspicion. Past the bound the list
     * is dropped, and the next scan rebuilds it once it fits again. */
    uint32_t suspect_list[SUSPECT_LIST_MAX];
    uint32_t suspect_list_count;
    bool suspect_list_valid;
    uint32_t gone_count; /* members in GOSSIP_DOWN or GOSSIP_LEFT, likewise for the sweep */
    /* The earliest suspicion deadline (UINT64_MAX: none), kept exact
     * between calls: lowered when a suspicion starts or shortens, and
     * recomputed at the end of a call in which a suspect left suspicion
     * (suspicion_next_stale). gossip_deadline_ns and the timers read it
     * instead of scanning every member. */
    uint64_t suspicion_next_ns;
    bool suspicion_next_stale;
    /* Adverts sent straight back to accusers in the current window (one
     * probe interval from answer_window_ns). */
    uint64_t answer_window_ns;
    uint32_t answer_count;

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

/* order.c: the id-ordered index over member slots. */
/* Allocates room for members_max entries. Errors: MESH_ENOMEM. */
MESH_MUST_USE mesh_err gossip_order_init(gossip_order *order, uint32_t members_max);
/* Frees it; a zeroed order is a no-op. */
void gossip_order_fini(gossip_order *order);
/* Indexes slot, whose member id is set and not indexed yet; O(block +
 * blocks), amortized over rare O(N) compactions. */
void gossip_order_insert(gossip *g, uint32_t slot);
/* Drops slot, which is indexed, with its member id unchanged since. */
void gossip_order_remove(gossip *g, uint32_t slot);
/* The position of the first member with id >= *id (member_count if none). */
uint32_t gossip_order_lower_bound(const gossip *g, const mesh_node_id *id);
/* The slot at position (< member_count); O(log blocks). */
uint32_t gossip_order_slot_at(const gossip *g, uint32_t position);
/* An iterator at position (at the end when position >= member_count);
 * it stays valid until the next insert or remove. */
void gossip_order_seek(const gossip *g, uint32_t position, gossip_order_iter *iter_out);
/* The slot under iter, then advances it; false at the end. */
bool gossip_order_next(const gossip *g, gossip_order_iter *iter, uint32_t *slot_out);
/* The slot at position (< member_count), moving iter there: O(1) when
 * position is iter's own or the next one (a scan), else O(log blocks). */
uint32_t gossip_order_slot_follow(const gossip *g, gossip_order_iter *iter, uint32_t position);
/* Panics unless the index's invariants hold; O(N), for tests. */
void gossip_order_check(const gossip *g);

/* gossip.c */
member *gossip_member_lookup(const gossip *g, const mesh_node_id *id);
bool gossip_is_revoked(const gossip *g, const mesh_node_id *id);
/* The revocation of id held, or NULL. */
revocation_entry *gossip_revocation_find(const gossip *g, const mesh_node_id *id);
void gossip_set_state(gossip *g, member *m, gossip_state state);
void gossip_view_update(gossip *g, member *m, uint64_t new_sequence, bool in_view);
MESH_MUST_USE mesh_err gossip_member_insert(gossip *g,
                                            const wire_cert *cert,
                                            const uint8_t *cert_frame,
                                            uint32_t cert_frame_size,
                                            member **member_out);
/* The same for a certificate frame already in the store, checked under
 * this machine's root (handle from gossip_store_find). */
MESH_MUST_USE mesh_err gossip_member_insert_stored(gossip *g, uint32_t handle, member **member_out);
void gossip_member_remove(gossip *g, member *m);
/* The store handle of this certificate frame (stored, and decoded fields
 * filled in, if new), with one reference for the caller; 0 when full. */
uint32_t gossip_store_cert_put(gossip *g,
                               const wire_cert *cert,
                               const uint8_t *cert_frame,
                               uint32_t cert_frame_size);
const store_cert_info *gossip_member_cert(const gossip *g, const member *m);
/* Stores frame as m's newest advert and lets the older one go; false
 * when the store is full (m is unchanged then). */
bool gossip_member_set_advert(
    gossip *g, member *m, const uint8_t *frame, uint32_t frame_size, const wire_advert *advert);
/* The member's certificate or advert frame; NULL (size 0) when none. */
const uint8_t *
gossip_member_frame(const gossip *g, const member *m, store_kind kind, uint32_t *frame_size_out);
void gossip_emit_event(gossip *g, gossip_event_kind kind, const member *m, uint32_t previous);
void gossip_count_reject(gossip *g, gossip_reject reject);
/* m's suspicion deadline was set or shortened: keeps suspicion_next_ns. */
void gossip_suspicion_deadline_set(gossip *g, const member *m);

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
/* How long a suspicion with accuser_count confirmations lasts: between
 * suspicion_min_ns and suspicion_max_ns, each times
 * gossip_suspicion_scale(live members), stretched by local health. */
uint64_t gossip_suspicion_timeout_ns(const gossip *g, uint32_t accuser_count);
/* max(1, log10(live_count)). */
double gossip_suspicion_scale(uint32_t live_count);

/* gossip_protocol.c: probes, anti-entropy, sending. */
/* Authenticates a control frame from `from` (its MAC), charges its rate
 * budget (bytes_per_s_per_peer_max, frame_size bytes) only then, and
 * handles it; every refusal is counted. */
void gossip_handle_control(gossip *g,
                           const wire_envelope *envelope,
                           member *from,
                           uint32_t frame_size);
/* True, and frame_size charged to from's budget for this second, when it
 * fits under bytes_per_s_per_peer_max. Call it for authenticated frames
 * only. */
bool gossip_rate_allows(gossip *g, member *from, uint32_t frame_size);
/* A frame from a revoked key: tells its sender why (gossip.h). */
void gossip_tell_revoked(gossip *g, const wire_envelope *envelope);
void gossip_run_timers(gossip *g);
void gossip_flush_fresh(gossip *g);
void gossip_send_introduction(gossip *g, const member *to, const char *endpoint);
/* Pushes our newest advert to one member (an accuser that told us). */
void gossip_send_own_advert(gossip *g, const member *to);
void gossip_verify_start(gossip *g, member *target);
bool gossip_member_endpoint(const gossip *g, const member *m, char *endpoint_out);
/* RFC 6298's smoothing on 8 * SRTT in microseconds: the first sample
 * (rtt_x8_us == 0) as is, then 7/8 old + 1/8 sample. A sample under 1 us
 * counts as 1 us, so that a measured value never reads 0; the result
 * saturates. */
uint32_t gossip_rtt_smooth(uint32_t rtt_x8_us, uint64_t sample_ns);
/* The pair key shared with m, through the pair cache; false when m's key
 * gives none (never for a key that passed its certificate check). */
bool gossip_pair_key(gossip *g, const member *m, uint8_t key_out[MCRYPTO_PAIR_KEY_SIZE]);

#endif /* GOSSIP_GOSSIP_INT_H */
