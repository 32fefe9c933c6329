/*
 * ledger/ledger_int.h: what the files of ledger/ share with each other and
 * with their tests, and nobody else.
 *
 * Store keys (the first byte names the family; numbers are big-endian so
 * that bytewise order is numeric order):
 *
 *     "m"                                   meta: format version (1) || self key (32)
 *     "h"                                   head: seq (8) || hash (32)
 *     "c"                                   checkpoint: seq (8)
 *     "j" seq(8)                            entry bytes || BLAKE2b-256(entry bytes)
 *     "b" peer(32) class(1) len(1) model    lent_milli (8) || borrowed_milli (8)
 *     "r" peer(32)                          score_milli (8, two's complement) || updated_ns (8)
 *     "l" lease_id(16)                      the lease row (LEDGER_LEASE_VALUE_SIZE bytes)
 *     "p" peer(32) lease_id(16)             empty: index by peer
 *     "s" state(1) lease_id(16)             empty: index by state
 *     "k" hash(32)                          a certificate frame, hash = its BLAKE2b-256
 *
 * Certificates ("k") are written with the commit after they were put,
 * never rewritten, never deleted (not even by repair), and derive from
 * nothing: verify checks each against its own key.
 *
 * Every commit writes its entries, the balance rows they change and the
 * head: balances are always current. Leases, their indexes and the
 * scores change with nearly every record but matter only to this node's
 * own bookkeeping, so they are written at a checkpoint (every
 * LEDGER_CHECKPOINT_COMMITS commits, or sooner when many leases changed),
 * in the same atomic batch as that commit's entries, with "c" naming the
 * entry they are current at. Open loads them and replays the journal past
 * the checkpoint (at most that many commits); verify compares them with
 * the journal replayed up to the checkpoint. This keeps a commit of 100
 * records on 16 leases at about 105 keys instead of 125.
 *
 * The state model (ledger_state) is the one piece of logic that turns
 * records into balances, leases and scores. The ledger applies each
 * appended record to it; verify applies every journal entry to a fresh
 * one and compares; repair rebuilds with it. One model, so the three can
 * never disagree about what a record means.
 */
#ifndef LEDGER_LEDGER_INT_H
#define LEDGER_LEDGER_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "ledger/ledger.h"

#define LEDGER_FORMAT_VERSION 1u

#define LEDGER_PREFIX_META        'm'
#define LEDGER_PREFIX_HEAD        'h'
#define LEDGER_PREFIX_JOURNAL     'j'
#define LEDGER_PREFIX_BALANCE     'b'
#define LEDGER_PREFIX_SCORE       'r'
#define LEDGER_PREFIX_LEASE       'l'
#define LEDGER_PREFIX_BY_PEER     'p'
#define LEDGER_PREFIX_BY_STATE    's'
#define LEDGER_PREFIX_CHECKPOINT  'c'
#define LEDGER_PREFIX_CERTIFICATE 'k'
#define LEDGER_CERT_KEY_SIZE      (1u + LEDGER_HASH_SIZE)

#define LEDGER_CHECKPOINT_COMMITS 64u   /* commits between checkpoints, at most */
#define LEDGER_CHECKPOINT_LEASES  1024u /* leases changed that force one sooner */

#define LEDGER_META_VALUE_SIZE    (1u + LEDGER_KEY_SIZE)
#define LEDGER_HEAD_VALUE_SIZE    (8u + LEDGER_HASH_SIZE)
#define LEDGER_BALANCE_VALUE_SIZE 16u
#define LEDGER_SCORE_VALUE_SIZE   16u
#define LEDGER_LEASE_VALUE_SIZE   (LEDGER_KEY_SIZE + 1u + 1u + 4u + 8u + 8u + 8u)
#define LEDGER_SCORE_LIMIT        (INT64_C(1) << 62) /* scores saturate here */

/* The largest record the rules allow, in bytes, counted field by field in
 * MessagePack's smallest forms (entry.c has the schema and asserts that it
 * is under LEDGER_RECORD_SIZE_MAX; a unit test encodes it). It is an
 * OPENED record (number 0: one byte; the other kinds have no terms and
 * stay under 480 bytes) with every list full and every number at its
 * widest form. An amount: fixarray(3), class, str8 model, uint64. */
#define LEDGER_AMOUNT_SIZE_WORST (1u + 1u + 2u + LEDGER_MODEL_SIZE_MAX + 9u)
#define LEDGER_CONSTRAINTS_SIZE_WORST                                    \
    (1u + 7u                              /* fixmap(7) and its keys */   \
     + 3u + 3u * LEDGER_COUNTRIES_MAX     /* array16 of fixstr(2) */     \
     + 1u + 3u * LEDGER_JURISDICTIONS_MAX /* fixarray of fixstr(2) */    \
     + 1u                                 /* certifications: a fixint */ \
     + 1u + LEDGER_DATA_CLASS_SIZE_MAX    /* fixstr */                   \
     + 5u + 9u + 3u)                      /* rtt uint32, cost uint64, carbon uint16 */
#define LEDGER_TERMS_SIZE_WORST                                               \
    (1u + 9u                              /* fixmap(9) and its keys */        \
     + 9u + 9u                            /* start_ns, end_ns: int64 */       \
     + 1u + 9u * LEDGER_AMOUNTS_MAX       /* prices: uint64 each */           \
     + 2u + LEDGER_HASH_SIZE              /* certificate hash: bin8 */        \
     + 3u                                 /* country: fixstr(2) */            \
     + 1u + 3u * LEDGER_JURISDICTIONS_MAX /* jurisdictions */                 \
     + 1u + 3u                            /* certifications, carbon uint16 */ \
     + LEDGER_CONSTRAINTS_SIZE_WORST)
#define LEDGER_RECORD_SIZE_WORST                                    \
    (1u + 9u                          /* fixmap(9) and its keys */  \
     + 1u + 1u                        /* version, kind: fixints */  \
     + 2u + LEDGER_LEASE_ID_SIZE + 1u /* lease id bin8, number 0 */ \
     + 2u * (2u + LEDGER_KEY_SIZE)    /* the two keys: bin8 */      \
     + 9u                             /* time_ns: int64 */          \
     + 1u + LEDGER_AMOUNTS_MAX * LEDGER_AMOUNT_SIZE_WORST + LEDGER_TERMS_SIZE_WORST)
/* An entry around its record bin: fixmap(5) and keys, seq uint64, the
 * previous hash and two signatures as bin8. The record's bin header is
 * at most 3 bytes (bin16). */
#define LEDGER_ENTRY_SIZE_FIXED_MAX \
    (1u + 5u + 9u + (2u + LEDGER_HASH_SIZE) + 2u * (2u + LEDGER_SIGNATURE_SIZE))

typedef struct ledger_row {
    uint8_t peer_key[LEDGER_KEY_SIZE];
    uint32_t resource_class;
    char model[LEDGER_MODEL_SIZE_MAX + 1];
    uint64_t lent_milli;
    uint64_t borrowed_milli;
    bool dirty; /* changed since the last commit */
} ledger_row;

typedef struct ledger_score {
    uint8_t peer_key[LEDGER_KEY_SIZE];
    int64_t score_milli;
    int64_t updated_ns;
    bool dirty;
} ledger_score;

typedef struct ledger_slot {
    bool used;
    bool dirty;
    uint32_t stored_state; /* the state its index key has in the store; 0 = none */
    ledger_lease lease;
} ledger_slot;

typedef struct ledger_state {
    uint8_t self_key[LEDGER_KEY_SIZE];
    uint64_t half_life_ns;
    ledger_row *rows; /* sorted by (peer, class, model) */
    uint32_t row_count;
    uint32_t rows_max;
    ledger_score *scores; /* sorted by peer */
    uint32_t score_count;
    uint32_t scores_max;
    ledger_slot *slots; /* open addressing, slot_count a power of two */
    uint32_t slot_count;
    uint32_t lease_count;
    uint32_t leases_max;
    uint32_t *dirty_slots; /* slot indices dirtied since the last commit */
    uint32_t dirty_slot_count;
    uint32_t dirty_slots_max;
    uint64_t head_seq;
    uint8_t head_hash[LEDGER_HASH_SIZE];
    bool replaying;   /* verify and repair: no dirty tracking, no group limit */
    bool catching_up; /* open: replaying past the checkpoint; balance rows are current */
} ledger_state;

/* Allocates the tables. MESH_EINVAL (a limit of 0), MESH_ENOMEM. */
MESH_MUST_USE mesh_err ledger_state_init(ledger_state *state,
                                         const uint8_t self_key[LEDGER_KEY_SIZE],
                                         uint64_t half_life_ns,
                                         uint32_t leases_max,
                                         uint32_t rows_max,
                                         uint32_t peers_max,
                                         uint32_t dirty_slots_max);
void ledger_state_fini(ledger_state *state);
/* Empties the tables (limits kept). */
void ledger_state_reset(ledger_state *state);

/* Checks that record is a valid next event and applies it as entry seq:
 * all of it or nothing. MESH_EINVAL (self not a party), MESH_ECONSTRAINT
 * (why_out says why; may be NULL), MESH_EFULL (a table limit). */
MESH_MUST_USE mesh_err ledger_state_apply(ledger_state *state,
                                          const ledger_record *record,
                                          uint64_t seq,
                                          const char **why_out);
/* Clears the dirty marks of balance rows (every commit writes them), and
 * of scores and leases (a checkpoint writes them). */
void ledger_state_clean_rows(ledger_state *state);
void ledger_state_clean_checkpoint(ledger_state *state);
/* Lookups; NULL when absent. */
ledger_slot *ledger_state_find_lease(const ledger_state *state,
                                     const uint8_t lease_id[LEDGER_LEASE_ID_SIZE]);
const ledger_row *ledger_state_find_row(const ledger_state *state,
                                        const uint8_t peer_key[LEDGER_KEY_SIZE],
                                        uint32_t resource_class,
                                        const char *model);
const ledger_score *ledger_state_find_score(const ledger_state *state,
                                            const uint8_t peer_key[LEDGER_KEY_SIZE]);
/* Loading from the store (hostile bytes): MESH_ECORRUPT, MESH_EFULL. */
MESH_MUST_USE mesh_err ledger_state_load_row(ledger_state *state,
                                             const uint8_t *key,
                                             uint32_t key_size,
                                             const uint8_t *value,
                                             uint32_t value_size);
MESH_MUST_USE mesh_err ledger_state_load_score(ledger_state *state,
                                               const uint8_t *key,
                                               uint32_t key_size,
                                               const uint8_t *value,
                                               uint32_t value_size);
MESH_MUST_USE mesh_err ledger_state_load_lease(ledger_state *state,
                                               const uint8_t *key,
                                               uint32_t key_size,
                                               const uint8_t *value,
                                               uint32_t value_size);

/* Key and value encodings. Each returns the size written; buffers are at
 * least LEDGER_STORE_KEY_SIZE_MAX (keys) or the named value size. */
uint32_t ledger_key_row(const ledger_row *row, uint8_t *key);
void ledger_value_row(const ledger_row *row, uint8_t value[LEDGER_BALANCE_VALUE_SIZE]);
uint32_t ledger_key_score(const ledger_score *score, uint8_t *key);
void ledger_value_score(const ledger_score *score, uint8_t value[LEDGER_SCORE_VALUE_SIZE]);
uint32_t ledger_key_lease(const ledger_lease *lease, uint8_t *key);
void ledger_value_lease(const ledger_lease *lease, uint8_t value[LEDGER_LEASE_VALUE_SIZE]);
uint32_t ledger_key_by_peer(const ledger_lease *lease, uint8_t *key);
uint32_t ledger_key_by_state(const ledger_lease *lease, uint32_t state, uint8_t *key);
void ledger_value_head(uint64_t seq,
                       const uint8_t hash[LEDGER_HASH_SIZE],
                       uint8_t value[LEDGER_HEAD_VALUE_SIZE]);
/* MESH_ECORRUPT when the value is not a head. */
MESH_MUST_USE mesh_err ledger_parse_head(const uint8_t *value,
                                         uint32_t value_size,
                                         uint64_t *seq_out,
                                         uint8_t hash_out[LEDGER_HASH_SIZE]);
/* Binary search over count sorted items: compare(key, items, i) orders key
 * against item i. Returns the match's index, or where key would be
 * inserted; found_out says which. */
typedef int (*ledger_compare_at)(const void *key, const void *items, uint32_t index);
uint32_t ledger_search(
    const void *key, const void *items, uint32_t count, ledger_compare_at compare, bool *found_out);
/* Where a scan starts: the later of prefix and start (start may be NULL),
 * in bytewise order. */
void ledger_scan_from(const uint8_t *prefix,
                      uint32_t prefix_size,
                      const uint8_t *start,
                      uint32_t start_size,
                      const uint8_t **from_out,
                      uint32_t *from_size_out);
/* Bytewise key order (memcmp, then the shorter first), as RocksDB's. */
int ledger_key_compare(const uint8_t *a, uint32_t a_size, const uint8_t *b, uint32_t b_size);
void ledger_put_u64(uint8_t *out, uint64_t value);
uint64_t ledger_get_u64(const uint8_t *in);

/* Halves value for every half_life_ns in elapsed_ns (fixed point, the
 * same result on every platform); rounds toward zero. */
int64_t ledger_decay(int64_t value, uint64_t elapsed_ns, uint64_t half_life_ns);
/* Weighted sums in milli vCPU-hour equivalents (the weights are in
 * ledger.h), exact: whole parts and the fractions of the divided classes
 * (memory in quarters, storage in 1024ths) add up apart, the fractions in
 * 1024ths, and the total rounds down once. Saturates at UINT64_MAX. */
typedef struct ledger_weight_sum {
    uint64_t whole_milli;
    uint32_t fraction_1024ths; /* < 1024 */
} ledger_weight_sum;
void ledger_weight_add(ledger_weight_sum *sum, uint32_t resource_class, uint64_t milli);
uint64_t ledger_weight_total(const ledger_weight_sum *sum);
/* The weighted sum of a record's amounts (milli vCPU-hour equivalents):
 * at most 8 * 32 * 10^15 < 2^63, so it never saturates. */
uint64_t ledger_weighted_milli(const ledger_record *record);

/* Encodes a whole entry and its hash: value_out gets entry || hash.
 * Errors: MESH_EINVAL (record fails the rules), MESH_EFULL. */
MESH_MUST_USE mesh_err ledger_entry_encode(uint64_t seq,
                                           const uint8_t prev_hash[LEDGER_HASH_SIZE],
                                           const uint8_t *record_bytes,
                                           uint32_t record_size,
                                           const uint8_t *lender_signature,
                                           const uint8_t *borrower_signature,
                                           uint8_t *value_out,
                                           uint32_t value_size_max,
                                           uint32_t *value_size_out);
/* Applies journal entries head_seq+1 .. seq_last (or the end) to state,
 * checking each one's hash, decoding, sequence and link (and signatures
 * when asked). The caller sets the state's flags. MESH_ECORRUPT (report,
 * which may be NULL, names the entry), MESH_ENOMEM (a table limit),
 * MESH_ESTORE. */
MESH_MUST_USE mesh_err ledger_replay(const ledger_store *store,
                                     ledger_state *state,
                                     uint64_t seq_last,
                                     bool check_signatures,
                                     ledger_verify_report *report);
/* Reads the checkpoint seq (0 when absent). MESH_ECORRUPT, MESH_ESTORE. */
MESH_MUST_USE mesh_err ledger_read_checkpoint(const ledger_store *store,
                                              uint64_t *seq_out,
                                              bool *present_out);
/* Rebuilds state (initialised, any content) from the journal up to the
 * stored head, then rewrites every derived key and deletes entries past
 * the head, in one synced batch. MESH_ECORRUPT (the journal up to the
 * head does not replay), MESH_EFULL, MESH_ENOMEM, MESH_ESTORE. */
MESH_MUST_USE mesh_err ledger_repair(const ledger_store *store, ledger_state *state);
/* Writes "j/42", "b/<peer>/gpu_hours/A100" and so on for a store key. */
void ledger_key_text(const uint8_t *key, uint32_t key_size, char *text, uint32_t text_size);
/* Lower-case hex of bytes; text_size >= 2 * size + 1. */
void ledger_hex(const uint8_t *bytes, uint32_t size, char *text, uint32_t text_size);

#endif /* LEDGER_LEDGER_INT_H */
