/*
 * gossip/gossip.h: membership, capacity adverts and failure detection, as
 * a sans-I/O state machine.
 *
 * The machine is fed the time, received frames and a PRNG, and answers in
 * the caller's outbox with frames to send (destination id and endpoint).
 * It never reads a clock, opens a socket or allocates after gossip_create.
 * node/ drives it with NNG and the wall clock; sim/ drives the very same
 * code with a virtual clock and a simulated network.
 *
 * The protocol (docs: README "Gossip"):
 *
 *   - Records. What members learn about each other travels as signed
 *     records: certificates (root-signed), adverts (member-signed, with a
 *     sequence number; a newer sequence supersedes an older one),
 *     suspicions (an accuser-signed "target at sequence S looks dead") and
 *     revocations (root-signed). Nothing from a key without a valid,
 *     unexpired, unrevoked certificate changes any state.
 *   - Failure detection, after SWIM with Lifeguard's refinements. Every
 *     probe interval a member pings the next member of a shuffled
 *     round-robin order; with no ack within the probe timeout it asks
 *     `indirect_probes` others to ping the target for it; with no ack by
 *     the end of the interval it signs a suspicion and spreads it. Every
 *     member that holds a suspicion starts a timer, between suspicion_min
 *     and suspicion_max (each times max(1, log10 N) for N live members, as
 *     memberlist scales it), that shrinks as independent accusers confirm
 *     it (Lifeguard's dynamic suspicion); when it fires with no refutation
 *     the target is down. The target refutes by publishing a newer advert,
 *     and sends it straight back to each accuser that tells it. A call far
 *     past the deadline (this node was stopped) ends the probes in flight
 *     without a verdict and gives the suspicions held the time lost.
 *     A member that misses its own acks, or runs late, raises its "local
 *     health" score and stretches its timeouts (Lifeguard's local health
 *     awareness), so a starved node does not accuse healthy ones. The
 *     probes also measure: a member's ack to this node's own ping is a
 *     round-trip sample, smoothed per member (gossip_member_info.rtt_us).
 *   - Dissemination. A fresh record is pushed at once to `fanout` random
 *     members, and each receiver that finds it new pushes it on once
 *     (infect-and-forward). Probes carry a 16-byte hash of the sender's
 *     view (member id and sequence of every live member); a mismatch starts
 *     push-pull anti-entropy with paged digests, which repairs whatever
 *     the pushes missed, and heals partitions.
 *   - Joining and partitions. Until it knows other members, and then every
 *     rejoin interval, a member sends its own certificate and advert, and
 *     a digest, to the configured seeds, so that a long partition heals
 *     even when every member on the other side was declared down.
 *   - Bounds. Frames are at most WIRE_FRAME_SIZE_MAX bytes; a node tracks
 *     at most members_max members and revocations_max revocations; it
 *     sends to at most fanout + indirect_probes + 2 members per interval,
 *     at most digest_pages_per_round digest pages, and at most
 *     bytes_per_s_per_peer_max bytes per second to any one member.
 *
 * Ownership: the config and every input are borrowed for the call. Output
 * payloads and endpoints point into the machine and stay valid until the
 * next call on it. Not thread-safe: one thread owns a machine.
 */
#ifndef GOSSIP_GOSSIP_H
#define GOSSIP_GOSSIP_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "mesh/mesh.h"
#include "wire/wire.h"

typedef struct gossip gossip;

/* A store of the signed frames machines hold (certificates and adverts),
 * each kept once however many members point at it. A machine makes its
 * own unless its config brings one; machines driven from one thread may
 * share one (the simulator does), which changes no result. Fixed capacity,
 * allocated at create: a frame that finds the store full is refused like
 * a member over members_max (GOSSIP_REJECT_FULL). Errors: MESH_EINVAL (a
 * capacity of 0 or over 2^26), MESH_ENOMEM. */
typedef struct gossip_store gossip_store;
MESH_MUST_USE mesh_err gossip_store_create(uint32_t certs_max,
                                           uint32_t adverts_max,
                                           gossip_store **store_out);
/* Frees the store; every machine using it must be destroyed first. */
void gossip_store_destroy(gossip_store *store);

typedef struct gossip_store_usage {
    uint32_t certs, certs_peak, certs_max;
    uint32_t adverts, adverts_peak, adverts_max;
    uint64_t refused; /* frames that found their pool full */
} gossip_store_usage;
void gossip_store_usage_get(const gossip_store *store, gossip_store_usage *usage_out);

/* Where a member stands in this node's view. Append only. */
typedef enum gossip_state {
    GOSSIP_ALIVE = 1,
    GOSSIP_SUSPECT = 2,
    GOSSIP_DOWN = 3,
    GOSSIP_LEFT = 4,    /* said goodbye with a leaving advert */
    GOSSIP_REVOKED = 5, /* its key was revoked; dropped from every view */
} gossip_state;

const char *gossip_state_name(gossip_state state);

/* Why an input was refused; each has a counter. Append only. */
typedef enum gossip_reject {
    GOSSIP_REJECT_MALFORMED = 0,     /* the frame or a record does not decode */
    GOSSIP_REJECT_BAD_SIGNATURE = 1, /* signature or MAC does not verify */
    GOSSIP_REJECT_UNKNOWN_KEY = 2,   /* from a key with no valid certificate here */
    GOSSIP_REJECT_REVOKED = 3,       /* from or about a revoked key */
    GOSSIP_REJECT_REPLAY = 4,        /* an advert no newer than the one held */
    GOSSIP_REJECT_FUTURE = 5,        /* timestamp beyond the allowed clock skew */
    GOSSIP_REJECT_CERT_INVALID = 6,  /* certificate expired, not yet valid or other root */
    GOSSIP_REJECT_FULL = 7,          /* members_max or revocations_max reached */
    GOSSIP_REJECT_OVERSIZE = 8,      /* frame or record over its size limit */
    GOSSIP_REJECT_RATE = 9,          /* over bytes_per_s_per_peer_max (authenticated frames) */
    GOSSIP_REJECT_MISMATCH = 10,     /* advert names another node than its signer, etc. */
    GOSSIP_REJECT_UNEXPECTED = 11,   /* an ack nobody waits for, a type not for gossip */
} gossip_reject;

#define GOSSIP_REJECT_COUNT 12u

const char *gossip_reject_name(gossip_reject reject);

typedef struct gossip_config {
    /* Identity. Copied; the secret is wiped by gossip_destroy. */
    mcrypto_keypair keypair;
    uint8_t root_public_key[MCRYPTO_PUBLIC_KEY_SIZE];
    const uint8_t *cert_frame; /* this node's certificate frame; borrowed */
    uint32_t cert_frame_size;

    /* This node's advert content: resources, carbon, endpoint, api
     * endpoint. node_id, sequence, timestamp and status are the machine's. */
    wire_advert advert;

    /* Optional: a cache of valid signatures, borrowed for the machine's
     * lifetime; machines driven from one thread may share one (the
     * simulator does). NULL: every signature is checked afresh. */
    mcrypto_verify_cache *verify_cache;

    /* Optional, borrowed for the machine's lifetime, shareable between
     * machines driven from one thread: the frame store (see above) and a
     * pair-key cache (crypto.h). NULL: the machine makes its own, with
     * room for members_max members (certificates, adverts and keys). */
    gossip_store *store;
    mcrypto_pair_cache *pair_cache;
    /* Optional, borrowed, shareable like the above: a memo of the MACs of
     * control messages (crypto.h), so that a receiver in the same process
     * checks a sender's MAC without computing it again. NULL: none. */
    mcrypto_mac_memo *mac_memo;

    /* Seeds: endpoints contacted to join and to heal partitions. Borrowed
     * for create; at most GOSSIP_SEEDS_MAX. */
    const char *const *seeds;
    uint32_t seed_count;

    /* Limits. */
    uint32_t members_max;              /* including self; default 1024 */
    uint32_t revocations_max;          /* default 256 */
    uint32_t fanout;                   /* members a fresh record is pushed to; default 5 */
    uint32_t indirect_probes;          /* default 3 */
    uint32_t digest_pages_per_round;   /* default 4 */
    uint64_t bytes_per_s_per_peer_max; /* default 1 MiB/s */

    /* Timings, in nanoseconds. */
    uint64_t probe_interval_ns;  /* default 1.5 s */
    uint64_t probe_timeout_ns;   /* direct ack wait; default 300 ms */
    uint64_t suspicion_min_ns;   /* default 1 s; times max(1, log10 live members) */
    uint64_t suspicion_max_ns;   /* default 3 s; likewise */
    uint64_t advert_refresh_ns;  /* re-sign the advert at least this often; default 10 min */
    uint64_t rejoin_interval_ns; /* contact seeds this often; default 30 s */
    uint64_t down_forget_ns;     /* forget down and left members after; default 1 h */
    int64_t clock_skew_max_ns;   /* refuse timestamps further ahead; default 60 s */
} gossip_config;

#define GOSSIP_SEEDS_MAX 16u

/* Fills every field with its default and zeroes identity and advert. */
void gossip_config_default(gossip_config *config);

/* Creates a machine. Errors: MESH_EINVAL (a limit out of range, no
 * certificate, a certificate that does not check against the root at
 * now, a key that does not match the certificate), MESH_ENOMEM.
 * *gossip_out is set only on MESH_OK. The machine publishes its first
 * advert at the first gossip_on_tick. */
MESH_MUST_USE mesh_err gossip_create(const gossip_config *config,
                                     mesh_now now,
                                     gossip **gossip_out);
/* Wipes the secret key and frees everything. NULL is a no-op. */
void gossip_destroy(gossip *g);

/* A frame from the network. The sender is named inside the frame and
 * authenticated there. Returns MESH_OK when the frame was processed, also
 * when it was refused (refusals are counted, see gossip_stats), and
 * MESH_EFULL only when the outbox is too small (give it at least
 * GOSSIP_OUTBOX_MIN items). */
MESH_MUST_USE mesh_err gossip_on_message(gossip *g,
                                         mesh_now now,
                                         const uint8_t *frame,
                                         uint32_t frame_size,
                                         mesh_rng *rng,
                                         mesh_outbox *outbox);
/* Runs every timer that is due. Errors: MESH_EFULL as above. */
MESH_MUST_USE mesh_err gossip_on_tick(gossip *g, mesh_now now, mesh_rng *rng, mesh_outbox *outbox);
/* The monotonic time at which gossip_on_tick must be called next. */
uint64_t gossip_deadline_ns(const gossip *g);

#define GOSSIP_OUTBOX_MIN 64u

/* Events: MESH_OUTPUT_EVENT items whose payload points to one
 * gossip_event (payload_size == sizeof(gossip_event)), valid until the next
 * call on the machine. The shell logs them; the simulator measures with
 * them. */
typedef enum gossip_event_kind {
    GOSSIP_EVENT_STATE = 1,  /* a member changed state (joined: previous == 0) */
    GOSSIP_EVENT_ADVERT = 2, /* a newer advert of a member was accepted */
} gossip_event_kind;

typedef struct gossip_event {
    gossip_event_kind kind;
    mesh_node_id member;
    uint32_t state;    /* gossip_state after the change */
    uint32_t previous; /* gossip_state before; 0 when the member is new */
    uint64_t sequence; /* the member's advert sequence now */
} gossip_event;

/* Local commands. */

/* Publishes new capacity (resources, carbon, endpoints of `advert`; the
 * machine sets node_id, sequence, timestamp) at once. Errors: MESH_EINVAL
 * (the content fails the wire rules), MESH_EFULL. */
MESH_MUST_USE mesh_err gossip_update_advert(
    gossip *g, mesh_now now, const wire_advert *advert, mesh_rng *rng, mesh_outbox *outbox);
/* Publishes a signed leaving advert and stops probing. */
MESH_MUST_USE mesh_err gossip_leave(gossip *g, mesh_now now, mesh_rng *rng, mesh_outbox *outbox);
/* A revocation the operator gives this node (a file, at start or on
 * reload; a publish through the control socket or the HTTP API). It is
 * gossiped on. Errors: MESH_EPROTO, MESH_EAUTH (not signed by the root),
 * MESH_EFULL (revocations_max), MESH_EFULL (outbox). Adding one already
 * held is MESH_OK and changes nothing. */
MESH_MUST_USE mesh_err gossip_add_revocation(gossip *g,
                                             mesh_now now,
                                             const uint8_t *frame,
                                             uint32_t frame_size,
                                             mesh_rng *rng,
                                             mesh_outbox *outbox);

/* The gossip endpoint last known for a revoked key (the shell restores
 * it from its data directory at start, so that a restarted node never
 * dials it, seeds included). Borrowed for the call. Errors:
 * MESH_ENOTFOUND (no revocation of id held), MESH_EINVAL (endpoint empty
 * or over WIRE_ENDPOINT_SIZE_MAX bytes). */
MESH_MUST_USE mesh_err gossip_revocation_set_endpoint(gossip *g,
                                                      const mesh_node_id *id,
                                                      const char *endpoint);

/* Revoked keys and what the machine does about them:
 *   - nothing is sent to a revoked member; an anonymous send (a seed) to
 *     the endpoint a revoked key last advertised is dropped too, unless a
 *     live member advertises that endpoint now (counted:
 *     sends_refused_revoked);
 *   - the endpoint is learned from the member's advert when the
 *     revocation arrives, or, when still unknown, from an advert the
 *     revoked key pushes (checked against the key in the revocation);
 *     once known it never moves. Limit, admitted: a leaked key may have
 *     advertised another member's endpoint; that endpoint is then skipped
 *     as a seed while no live member advertises it (the operator removes
 *     the "# endpoint" line of the kept file, node/agent_revoke.c);
 *   - every frame from a revoked key is refused (GOSSIP_REJECT_REVOKED),
 *     and the sender is told why: a push holding the root-signed
 *     revocation goes to its endpoint, at most once per
 *     GOSSIP_TELL_REVOKED_INTERVAL_NS per revoked key (revoked_told), the
 *     only frame that ever goes there;
 *   - a node that learns its own revocation (checked against the root
 *     like any other) goes quiet for good: gossip_self_revoked. */
#define GOSSIP_TELL_REVOKED_INTERVAL_NS (10ull * 1000000000ull)

typedef struct gossip_revocation_info {
    mesh_node_id id;
    uint8_t public_key[MCRYPTO_PUBLIC_KEY_SIZE];
    int64_t revoked_at_ns; /* realtime, as the root signed it */
    char reason[WIRE_REASON_TEXT_SIZE_MAX + 1];
    char endpoint[WIRE_ENDPOINT_SIZE_MAX + 1]; /* last known gossip endpoint; "" unknown */
    const uint8_t *frame;                      /* the root-signed frame; valid until the */
    uint32_t frame_size;                       /* next call on the machine */
} gossip_revocation_info;

/* Number of revocations held (at most revocations_max). */
uint32_t gossip_revocation_count(const gossip *g);
/* The index-th revocation, in ascending id order. Errors: MESH_ENOTFOUND. */
MESH_MUST_USE mesh_err gossip_revocation_at(const gossip *g,
                                            uint32_t index,
                                            gossip_revocation_info *info_out);
/* True once this node holds a revocation of its own key. */
bool gossip_self_revoked(const gossip *g);

/* Queries. */

#define GOSSIP_CERT_HASH_SIZE 32u

typedef struct gossip_member_info {
    mesh_node_id id;
    gossip_state state;
    bool self;
    uint64_t sequence;           /* of the newest advert held; 0 if none yet */
    int64_t advert_timestamp_ns; /* as signed by the member */
    uint64_t state_changed_ns;   /* monotonic time of the last state change; for self,
                                  * gossip_create's now until it changes (leaving) */
    char name[WIRE_NAME_SIZE_MAX + 1];
    char country[3];
    uint32_t certifications;
    uint32_t jurisdiction_count;
    char jurisdictions[WIRE_JURISDICTIONS_MAX][3];
    int64_t cert_valid_until_ns;
    uint8_t public_key[MCRYPTO_PUBLIC_KEY_SIZE]; /* from its certificate */
    /* BLAKE2b-256 of the certificate's envelope frame (the exact bytes
     * that travel, root signature included), computed once per distinct
     * frame when it is stored. */
    uint8_t cert_hash[GOSSIP_CERT_HASH_SIZE];
    /* The smoothed round trip to the member, in microseconds, as this
     * node's own pings measure it: each ACK the member sends straight back
     * to a PING this node sent it is a sample (an ack relayed through a
     * ping-req helper is not: its path is longer), smoothed like TCP's
     * SRTT (RFC 6298: 7/8 old + 1/8 sample; the first sample as is). 0:
     * not measured yet (always for self); at least 1 once measured;
     * saturates near 536 s. Kept while the member is held, also when it
     * goes down; forgotten with it. */
    uint32_t rtt_us;
} gossip_member_info;

/* Number of members held (self included), in every state. */
uint32_t gossip_member_count(const gossip *g);
/* The index-th member, in ascending id order (0 <= index < count).
 * Errors: MESH_ENOTFOUND. */
MESH_MUST_USE mesh_err gossip_member_at(const gossip *g,
                                        uint32_t index,
                                        gossip_member_info *info_out);
/* The member with this id. Errors: MESH_ENOTFOUND. */
MESH_MUST_USE mesh_err gossip_member_find(const gossip *g,
                                          const mesh_node_id *id,
                                          gossip_member_info *info_out);
/* The newest advert held for id, decoded. Errors: MESH_ENOTFOUND (no such
 * member, or no advert yet). */
MESH_MUST_USE mesh_err gossip_member_advert(const gossip *g,
                                            const mesh_node_id *id,
                                            wire_advert *advert_out);

/* The certificate frame held for id (the exact root-signed envelope bytes
 * that travel; BLAKE2b-256 of them is gossip_member_info.cert_hash),
 * copied into frame_out. Read-only. For self, this node's own. Errors:
 * MESH_ENOTFOUND (no such member), MESH_EFULL (the frame is larger than
 * size_max: nothing copied). */
MESH_MUST_USE mesh_err gossip_member_cert_frame(const gossip *g,
                                                const mesh_node_id *id,
                                                uint8_t *frame_out,
                                                uint32_t size_max,
                                                uint32_t *size_out);

typedef struct gossip_stats {
    uint64_t frames_in;
    uint64_t frames_out;
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t adverts_in;  /* adverts accepted as new */
    uint64_t adverts_out; /* adverts (own or forwarded) sent in pushes */
    uint64_t probes_sent;
    uint64_t probes_failed;      /* probes that ended without an ack */
    uint64_t suspicions_raised;  /* by this node */
    uint64_t refutations;        /* newer own adverts sent because of a suspicion */
    uint64_t refutation_answers; /* own adverts sent straight back to an accuser that told us */
    uint64_t late_wakeups;       /* calls that came far past the deadline (this node was paused) */
    uint64_t anti_entropy_rounds;
    uint64_t duplicates;     /* records already held (normal in g) */
    uint64_t frames_dropped; /* output dropped at a per-call bound; anti-entropy repairs */
    uint32_t local_health;   /* 0 = healthy; higher stretches timeouts */
    uint64_t rejected[GOSSIP_REJECT_COUNT];
    uint64_t sends_refused_revoked; /* sends to a revoked key or its endpoint, dropped */
    uint64_t revoked_told;          /* revocations sent back to the revoked key's sender */
    uint64_t revocation_updates;    /* revocations added or endpoints learned: persist again */
} gossip_stats;

void gossip_stats_get(const gossip *g, gossip_stats *stats_out);

/* A 16-byte summary of the live view (member id and advert sequence of
 * every alive or suspect member). Equal hashes mean equal views. */
void gossip_view_hash(const gossip *g, uint8_t hash_out[WIRE_VIEW_HASH_SIZE]);

#endif /* GOSSIP_GOSSIP_H */
