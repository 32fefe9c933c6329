/*
 * ledger/ledger.h: the ledger of compute lent and borrowed, its storage
 * interface and its in-memory backend.
 *
 * The journal. Every change is an entry appended to a journal. An entry
 * wraps one lease record (what both parties agree on: the record format's
 * version, the kind of event, the lease id, the record's number within the
 * lease, both parties' public keys, the time, the amounts and, in the
 * record that opens a lease, its terms) together with the ledger's own sequence
 * number, the hash of the entry before it, and up to two Ed25519
 * signatures over the record (lender's and borrower's). Both sides of a
 * lease store the same record bytes and signatures, so two ledgers can be
 * reconciled record by record, and either side can prove its account.
 *
 * Encoding. Records and entries are canonical MessagePack maps with small
 * integer keys (the wire/ conventions: smallest forms, ascending keys, all
 * keys required, nothing else). Stored entry values are the entry bytes
 * followed by their BLAKE2b-256 hash; the next entry holds that hash as its
 * prev_hash. A single changed byte therefore fails either the entry's own
 * hash, its decoding or its link, and verify names that entry exactly.
 * Signatures cover "fedmesh/v1/lease-record" || 0x00 || record bytes (the
 * same domain separation as crypto/; see entry.c for why it lives here).
 *
 * Derived state. Balances per (peer, resource class, GPU model), the lease
 * table (by id, with indexes by peer and by state) and the reciprocity
 * score per peer are kept in memory. Balances are written in the very
 * same atomic batch as the entries that change them; leases, indexes and
 * scores at a checkpoint (every 64 commits at most, also in a commit's
 * batch), past which ledger_open replays the journal. `ledger_verify`
 * recomputes all of it from the journal and compares it key by key with
 * what is stored (the checkpointed part as of its checkpoint).
 *
 * Group commit. ledger_append stages records (checked against the state,
 * encoded, hashed, applied to the in-memory state); ledger_commit writes
 * every staged entry with the derived keys they changed in one batch, and
 * only after a synced write returns are the acknowledgements delivered,
 * in append order, through the caller's callback. A commit without sync
 * holds its acknowledgements until a later synced commit or ledger_sync.
 *
 * Units. One per class, as on the wire and in adverts: vCPUs, GiB of
 * memory, GPUs of one model, GiB of storage. Amounts are integer
 * milli-units: usage and credit in milli unit-hours (vCPU-hours,
 * GPU-hours, memory GiB-hours, storage GiB-hours); a lease opening in
 * milli-units reserved. Never floats. Time is realtime nanoseconds, passed in by the caller; the
 * ledger never reads a clock.
 *
 * Bounds. Limits come from ledger_config and are allocated in
 * ledger_open; nothing is allocated after it on the append and commit
 * path. Every lease ever opened stays in the in-memory table
 * (leases_max), a limit admitted here: an operator raises it, or a later
 * version evicts settled leases to the store.
 *
 * Threads: a ledger, and a store, are used by one thread at a time; the
 * two-step commit (ledger_commit_begin/end) lets the store's write run on
 * another thread while this one appends.
 */
#ifndef LEDGER_LEDGER_H
#define LEDGER_LEDGER_H

#include <stdbool.h>
#include <stdint.h>

#include "mesh/mesh.h"

#define LEDGER_KEY_SIZE           32u /* Ed25519 public key */
#define LEDGER_SIGNATURE_SIZE     64u
#define LEDGER_HASH_SIZE          32u /* BLAKE2b-256 */
#define LEDGER_LEASE_ID_SIZE      16u
#define LEDGER_MODEL_SIZE_MAX     32u                 /* GPU model, [A-Za-z0-9._-] */
#define LEDGER_AMOUNTS_MAX        8u                  /* amounts in one record */
#define LEDGER_AMOUNT_MILLI_MAX   1000000000000000ull /* 10^12 unit-hours */
#define LEDGER_RECORD_SIZE_MAX    1024u               /* == WIRE_LEASE_RECORD_SIZE_MAX */
#define LEDGER_ENTRY_SIZE_MAX     1280u
#define LEDGER_VALUE_SIZE_MAX     (LEDGER_ENTRY_SIZE_MAX + LEDGER_HASH_SIZE)
#define LEDGER_STORE_KEY_SIZE_MAX 72u /* a balance key with a 32-byte model is 67 */

/* ------------------------------------------------------------------ */
/* Storage interface (SQLite-VFS style): a vtable and two backends.    */
/* ------------------------------------------------------------------ */

typedef struct ledger_op {
    bool is_delete;
    const uint8_t *key;
    uint32_t key_size; /* 1..LEDGER_STORE_KEY_SIZE_MAX */
    const uint8_t *value;
    uint32_t value_size; /* 0..LEDGER_VALUE_SIZE_MAX; ignored for deletes */
} ledger_op;

/* Applied atomically and in order: all of it or none of it (a backend that
 * cannot promise that, like the memory store with a torn-write fault, is
 * repaired by ledger_open). Borrowed for the call. */
typedef struct ledger_batch {
    const ledger_op *ops;
    uint32_t count;
} ledger_batch;

/* Called for each key in order; return false to stop. The bytes are valid
 * for the call only. */
typedef bool (*ledger_store_visit)(
    void *arg, const uint8_t *key, uint32_t key_size, const uint8_t *value, uint32_t value_size);

typedef struct ledger_store {
    void *ctx;
    /* Copies the value into value_out. MESH_ENOTFOUND, MESH_EFULL (value
     * larger than value_size_max), MESH_ESTORE. */
    mesh_err (*get)(void *ctx,
                    const uint8_t *key,
                    uint32_t key_size,
                    uint8_t *value_out,
                    uint32_t value_size_max,
                    uint32_t *value_size_out);
    /* Atomic batch. With sync, durable when it returns MESH_OK, and so is
     * every batch written before it. MESH_EFULL, MESH_ESTORE. */
    mesh_err (*write)(void *ctx, const ledger_batch *batch, bool sync);
    /* Visits the keys that start with prefix and are >= start (start may
     * be NULL), in bytewise order. MESH_ESTORE. */
    mesh_err (*scan)(void *ctx,
                     const uint8_t *prefix,
                     uint32_t prefix_size,
                     const uint8_t *start,
                     uint32_t start_size,
                     ledger_store_visit visit,
                     void *arg);
    /* Makes every batch written so far durable. MESH_ESTORE. */
    mesh_err (*sync)(void *ctx);
} ledger_store;

/* The in-memory store, for the simulator and the tests. It keeps what a
 * crash would keep (durable) apart from what was written (visible) and
 * the unsynced batches in between. */
typedef struct ledger_mem_store ledger_mem_store;

/* Errors: MESH_EINVAL (a limit of 0), MESH_ENOMEM. */
MESH_MUST_USE mesh_err ledger_mem_store_create(uint32_t keys_max,
                                               uint64_t bytes_max,
                                               ledger_mem_store **store_out);
void ledger_mem_store_destroy(ledger_mem_store *store); /* NULL is a no-op */
/* The vtable; valid as long as the store. */
ledger_store ledger_mem_store_interface(ledger_mem_store *store);

typedef enum ledger_crash_mode {
    LEDGER_CRASH_LOSE = 1, /* a random prefix of the unsynced batches survives */
    LEDGER_CRASH_TEAR = 2, /* and a random prefix of the ops of the next one */
} ledger_crash_mode;

/* A simulated crash: everything synced survives, the rest as the mode
 * says, chosen with rng. What survives becomes durable. */
void ledger_mem_store_crash(ledger_mem_store *store, ledger_crash_mode mode, mesh_rng *rng);
/* Fault injection: the next write applies only its first op_count ops
 * (durably, as a torn write would) and fails with MESH_ESTORE. */
void ledger_mem_store_fail_next_write(ledger_mem_store *store, uint32_t op_count);
/* Counts for tests: keys visible, batches written, unsynced batches. */
uint32_t ledger_mem_store_key_count(const ledger_mem_store *store);
uint32_t ledger_mem_store_unsynced_count(const ledger_mem_store *store);
/* Test hook: flips one bit of the stored (visible and durable) value of
 * key at byte index. MESH_ENOTFOUND, MESH_EINVAL (index past the value). */
MESH_MUST_USE mesh_err ledger_mem_store_flip(
    ledger_mem_store *store, const uint8_t *key, uint32_t key_size, uint32_t index, uint8_t mask);

/* ------------------------------------------------------------------ */
/* Records and entries.                                                 */
/* ------------------------------------------------------------------ */

/* What happened. Append only. */
typedef enum ledger_kind {
    LEDGER_KIND_OPENED = 1,    /* amounts: milli-units reserved */
    LEDGER_KIND_USAGE = 2,     /* amounts: milli unit-hours used; counts in balances */
    LEDGER_KIND_RECLAIMED = 3, /* the lender ended it early; no amounts */
    LEDGER_KIND_RELEASED = 4,  /* the borrower gave it back; no amounts */
    LEDGER_KIND_EXPIRED = 5,   /* its window ended; no amounts */
    LEDGER_KIND_SETTLED = 6,   /* both agree the totals; amounts: the totals */
    LEDGER_KIND_CREDIT = 7,    /* a credit of unit-hours; counts in balances */
} ledger_kind;
#define LEDGER_KIND_MAX 7u

/* Resource classes (numbered as wire_resource_class). */
typedef enum ledger_class {
    LEDGER_CLASS_VCPU = 1,        /* vCPU-hours */
    LEDGER_CLASS_MEMORY_GIB = 2,  /* GiB-hours */
    LEDGER_CLASS_GPU = 3,         /* GPU-hours of one model */
    LEDGER_CLASS_STORAGE_GIB = 4, /* GiB-hours (GiB on the wire, in adverts and here alike) */
} ledger_class;
#define LEDGER_CLASS_MAX 4u

typedef struct ledger_amount {
    uint32_t resource_class;               /* ledger_class */
    char model[LEDGER_MODEL_SIZE_MAX + 1]; /* GPU only; "" otherwise; NUL-terminated */
    uint64_t amount_milli;                 /* 0..LEDGER_AMOUNT_MILLI_MAX */
} ledger_amount;

/* The terms of a lease, carried by its OPENED record (and only there), so
 * that an audit shows on which certified facts the placement rested.
 * Constraints are the ones the borrower set (wire_lease_constraints, same
 * rules and limits); the lender's country, jurisdictions and
 * certifications are copied from its certificate at the time, whose
 * BLAKE2b-256 hash (of the certificate's whole envelope frame) is
 * lender_cert_hash. prices[i] is the price of amounts[i] in micro-euros
 * per unit-hour (price_count == amount_count). */
#define LEDGER_COUNTRIES_MAX       32u              /* == WIRE_LEASE_COUNTRIES_MAX */
#define LEDGER_JURISDICTIONS_MAX   8u               /* == WIRE_JURISDICTIONS_MAX */
#define LEDGER_DATA_CLASS_SIZE_MAX 31u              /* == WIRE_DATA_CLASS_SIZE_MAX */
#define LEDGER_PRICE_MAX           1000000000000ull /* == WIRE_PRICE_MAX: prices, cost_..._max */
#define LEDGER_CARBON_MAX          5000u            /* == WIRE_CARBON_MAX: gCO2/kWh */
#define LEDGER_RTT_US_MAX          60000000u        /* rtt_us_max: one minute */

typedef struct ledger_constraints {
    uint32_t country_count;
    char countries[LEDGER_COUNTRIES_MAX][3];
    uint32_t jurisdiction_count;
    char jurisdictions[LEDGER_JURISDICTIONS_MAX][3];
    uint32_t certifications;
    char data_class[LEDGER_DATA_CLASS_SIZE_MAX + 1];
    uint32_t rtt_us_max;
    uint64_t cost_microeur_per_hour_max;
    uint32_t carbon_gco2_per_kwh_max;
} ledger_constraints;

typedef struct ledger_terms {
    int64_t start_ns; /* realtime; the window is [start_ns, end_ns) */
    int64_t end_ns;   /* > start_ns */
    uint32_t price_count;
    uint64_t prices[LEDGER_AMOUNTS_MAX]; /* micro-euros per unit-hour, 0..10^12 */
    uint8_t lender_cert_hash[LEDGER_HASH_SIZE];
    char lender_country[3];
    uint32_t lender_jurisdiction_count;
    char lender_jurisdictions[LEDGER_JURISDICTIONS_MAX][3];
    uint32_t lender_certifications;
    uint32_t carbon_gco2_per_kwh; /* the lender's grid when it offered */
    ledger_constraints constraints;
} ledger_terms;

/* The record format's version; the decoder refuses any other. Version 1
 * (no terms, storage in TiB) was never written by a lease. */
#define LEDGER_RECORD_VERSION 2u

/* The record both parties sign. Zero it before filling it. Amounts are a
 * set sorted by (class, model) without duplicates. */
typedef struct ledger_record {
    uint32_t version; /* LEDGER_RECORD_VERSION */
    uint32_t kind;    /* ledger_kind */
    uint8_t lease_id[LEDGER_LEASE_ID_SIZE];
    uint32_t number; /* 0 for OPENED and CREDIT, then 1, 2, ... within the lease */
    uint8_t lender_key[LEDGER_KEY_SIZE];
    uint8_t borrower_key[LEDGER_KEY_SIZE]; /* differs from lender_key */
    int64_t time_ns;                       /* realtime */
    uint32_t amount_count;
    ledger_amount amounts[LEDGER_AMOUNTS_MAX];
    ledger_terms terms; /* OPENED only; all zero for every other kind */
} ledger_record;

/* A journal entry, decoded. record_bytes points into the decoded input. */
typedef struct ledger_entry {
    uint64_t seq; /* 1, 2, ... */
    uint8_t prev_hash[LEDGER_HASH_SIZE];
    ledger_record record;
    const uint8_t *record_bytes;
    uint32_t record_size;
    bool has_lender_signature;
    bool has_borrower_signature;
    uint8_t lender_signature[LEDGER_SIGNATURE_SIZE];
    uint8_t borrower_signature[LEDGER_SIGNATURE_SIZE];
    uint8_t hash[LEDGER_HASH_SIZE]; /* of the entry bytes: the next prev_hash */
} ledger_entry;

/* Encodes a record canonically (entry.c has the schema; at most
 * LEDGER_RECORD_SIZE_MAX bytes whatever the fields). MESH_EINVAL (fails
 * the rules the decoder applies: a version other than
 * LEDGER_RECORD_VERSION, an OPENED record without valid terms, terms on
 * any other kind, ...), MESH_EFULL (buf too small). */
MESH_MUST_USE mesh_err ledger_record_encode(const ledger_record *record,
                                            uint8_t *buf,
                                            uint32_t buf_size,
                                            uint32_t *size_out);
/* Hostile bytes in. MESH_EPROTO (malformed, not canonical, out of range,
 * another version). */
MESH_MUST_USE mesh_err ledger_record_decode(const uint8_t *bytes,
                                            uint32_t size,
                                            ledger_record *record_out);
/* Decodes a stored entry value (entry bytes || hash): checks the hash,
 * then decodes the entry and its record. Hostile bytes in. MESH_ECORRUPT
 * (hash mismatch), MESH_EPROTO (malformed). Signatures are not checked
 * here (ledger_entry_check_signatures). record_bytes points into value. */
MESH_MUST_USE mesh_err ledger_entry_decode(const uint8_t *value,
                                           uint32_t value_size,
                                           ledger_entry *entry_out);
/* MESH_EAUTH when a present signature does not verify. */
MESH_MUST_USE mesh_err ledger_entry_check_signatures(const ledger_entry *entry);
/* Signs a record with a secret key (64 bytes, libsodium layout).
 * MESH_EINVAL (record fails the rules), MESH_EINTERNAL. */
MESH_MUST_USE mesh_err ledger_record_sign(const ledger_record *record,
                                          const uint8_t secret_key[64],
                                          uint8_t signature_out[LEDGER_SIGNATURE_SIZE]);
/* Checks one party's signature over a record's encoding (the lease
 * machine checks each signature as it arrives). MESH_EAUTH when it does
 * not verify, MESH_EINVAL when the record fails the encoding rules. */
MESH_MUST_USE mesh_err ledger_record_verify(const ledger_record *record,
                                            const uint8_t public_key[LEDGER_KEY_SIZE],
                                            const uint8_t signature[LEDGER_SIGNATURE_SIZE]);
/* "opened", "usage", ...; "unknown" otherwise. Never NULL. */
const char *ledger_kind_name(uint32_t kind);
/* "vcpu_hours", "memory_gib_hours", "gpu_hours", "storage_gib_hours". */
const char *ledger_class_name(uint32_t resource_class);

/* ------------------------------------------------------------------ */
/* The ledger.                                                          */
/* ------------------------------------------------------------------ */

typedef struct ledger ledger;

typedef struct ledger_config {
    /* This node's public key. All zero: adopt the key stored in the ledger
     * (reading tools); an empty store then gives MESH_ENOTFOUND. */
    uint8_t self_key[LEDGER_KEY_SIZE];
    uint64_t half_life_ns;      /* reciprocity decay; default 1 day */
    uint32_t leases_max;        /* default 65536 */
    uint32_t balance_rows_max;  /* (peer, class, model) rows; default 4096 */
    uint32_t peers_max;         /* default 1024 */
    uint32_t group_records_max; /* records staged before a commit; default 1024 */
} ledger_config;

void ledger_config_default(ledger_config *config);

/* Opens the ledger on a store (borrowed; must outlive the ledger). A new
 * store gets the self key (synced); an existing one must hold the same
 * key. Loads the derived state; repairs a torn tail (entries past the
 * head, possible only on a backend without atomic batches) by rebuilding
 * the derived state from the journal. Errors: MESH_EINVAL (bad config, or
 * the store belongs to another key), MESH_ENOTFOUND (empty store and no
 * key), MESH_ECORRUPT (stored state unreadable: run verify), MESH_EFULL
 * (a limit is too small for the stored state), MESH_ENOMEM, MESH_ESTORE. */
MESH_MUST_USE mesh_err ledger_open(const ledger_config *config,
                                   const ledger_store *store,
                                   ledger **ledger_out);
/* Staged, uncommitted records are dropped (never acknowledged). Not while
 * a two-step commit is in flight (its batch points into the ledger).
 * NULL is a no-op. */
void ledger_close(ledger *ledger_handle);

/* An acknowledgement: the record with this token is durable at seq. */
typedef void (*ledger_ack_fn)(void *arg, uint64_t token, uint64_t seq);

/* Stages one record. Signatures are borrowed and may be NULL (not signed
 * yet by that party); the caller has checked the peer's signature when it
 * received it (verify checks every one). Errors, with nothing staged:
 * MESH_EINVAL (record fails the encoding rules, or this node is not a
 * party), MESH_ECONSTRAINT (not a valid next event for its lease: unknown
 * or reused lease id, number out of order, usage after the end, settling
 * an open lease, a balance that would overflow), MESH_EFULL (group full:
 * commit first; or a table limit), MESH_ESTORE (the ledger failed a
 * write and is closed for writing). seq_out (may be NULL) gets the entry's
 * sequence number, not yet durable. */
MESH_MUST_USE mesh_err ledger_append(ledger *ledger_handle,
                                     const ledger_record *record,
                                     const uint8_t *lender_signature,
                                     const uint8_t *borrower_signature,
                                     uint64_t token,
                                     uint64_t *seq_out);
/* Certificates. An audit (fedmesh ledger audit) must show, with nothing
 * but the federation's root key, the certified facts a lease rested on;
 * the OPENED record names the lender's certificate by its BLAKE2b-256
 * (terms.lender_cert_hash), and this keeps the certificates themselves:
 * whole envelope frames (type WIRE_TYPE_CERT, root-signed), under
 * "k" || hash, content-addressed and never overwritten. The member stores
 * the lender's and the borrower's when it writes an OPENED record.
 *
 * Staged like a record: written in the next commit's batch (with the
 * records staged meanwhile, before the head), acknowledged with nothing.
 * A hash already stored or staged is a no-op (MESH_OK): the bytes are
 * the same by construction. verify checks every stored one (its key is
 * the hash of its bytes, and it decodes as a certificate envelope); the
 * other readers ignore them. Bounded: LEDGER_CERT_FRAME_SIZE_MAX bytes
 * each, LEDGER_GROUP_CERTS_MAX per commit.
 *
 * Errors, with nothing staged: MESH_EINVAL (size 0 or over the maximum,
 * not a certificate envelope, or hash is not the frame's BLAKE2b-256),
 * MESH_EFULL (LEDGER_GROUP_CERTS_MAX staged: commit first), MESH_ESTORE (the store's read failed,
 * or the ledger failed a write). frame is borrowed for the call. */
#define LEDGER_CERT_FRAME_SIZE_MAX 1024u
#define LEDGER_GROUP_CERTS_MAX     64u
MESH_MUST_USE mesh_err ledger_put_certificate(ledger *ledger_handle,
                                              const uint8_t hash[LEDGER_HASH_SIZE],
                                              const uint8_t *frame,
                                              uint32_t frame_size);

/* Writes every staged record in one batch with the derived keys. With
 * sync, then delivers every pending acknowledgement (also from earlier
 * commits without sync) in order through on_ack (may be NULL). Without
 * sync, acknowledgements wait (at most 4 * group_records_max records may
 * wait: past that, ledger_append returns MESH_EFULL until a sync).
 * Nothing staged: the same as ledger_sync (with sync) or nothing.
 * Errors: MESH_ESTORE (nothing acknowledged; the in-memory state is
 * reloaded from the store, and if that fails too the ledger refuses
 * further appends with MESH_ESTORE), MESH_EFULL (a two-step commit is in
 * flight: see ledger_commit_begin). */
MESH_MUST_USE mesh_err ledger_commit(ledger *ledger_handle,
                                     bool sync,
                                     ledger_ack_fn on_ack,
                                     void *arg);
/* The same commit in two steps, for a shell that writes on another thread
 * and keeps appending meanwhile (group commit with a pipeline: group N+1
 * fills while group N syncs). begin builds the batch of the staged group
 * (ops, keys and values owned by the ledger, valid until end) and starts
 * a new group; the caller writes it with the store (synced when sync) and
 * passes the result to end, which delivers the acknowledgements as
 * ledger_commit does. One batch at a time: begin returns MESH_EFULL while
 * one is in flight, MESH_ENOTFOUND when nothing is staged, MESH_ESTORE on
 * a failed ledger. No ledger call but append, head and the queries may
 * come between begin and end, and none concurrently with begin or end.
 * end with a failed write returns MESH_ESTORE, acknowledges nothing, and
 * drops the records staged since begin too (the state is reloaded). */
MESH_MUST_USE mesh_err ledger_commit_begin(ledger *ledger_handle,
                                           bool sync,
                                           ledger_batch *batch_out);
MESH_MUST_USE mesh_err ledger_commit_end(ledger *ledger_handle,
                                         mesh_err write_result,
                                         ledger_ack_fn on_ack,
                                         void *arg);
/* A synced commit that also writes a checkpoint (leases, their indexes
 * and scores), so that the next open has nothing to replay: call it
 * before a clean shutdown. Errors as ledger_commit. */
MESH_MUST_USE mesh_err ledger_flush(ledger *ledger_handle, ledger_ack_fn on_ack, void *arg);
/* Syncs the store and delivers pending acknowledgements. MESH_ESTORE. */
MESH_MUST_USE mesh_err ledger_sync(ledger *ledger_handle, ledger_ack_fn on_ack, void *arg);

/* The last entry appended (staged ones included): 0 and zeros when empty. */
void ledger_head(const ledger *ledger_handle,
                 uint64_t *seq_out,
                 uint8_t hash_out[LEDGER_HASH_SIZE]);
const uint8_t *ledger_self_key(const ledger *ledger_handle); /* 32 bytes */

/* One balance row: what this node lent to and borrowed from one peer in
 * one resource class (and GPU model), in milli unit-hours. */
typedef struct ledger_balance {
    uint8_t peer_key[LEDGER_KEY_SIZE];
    uint32_t resource_class;
    char model[LEDGER_MODEL_SIZE_MAX + 1];
    uint64_t lent_milli;
    uint64_t borrowed_milli;
} ledger_balance;

/* Rows in (peer key, class, model) order. index in 0..count-1. */
uint32_t ledger_balance_count(const ledger *ledger_handle);
void ledger_balance_at(const ledger *ledger_handle, uint32_t index, ledger_balance *balance_out);

/* Reciprocity weights: scores and totals are in milli vCPU-hour
 * equivalents: a vCPU-hour 1, a GiB-hour of memory 1/4, a GPU-hour 32, a
 * GiB-hour of storage 1/1024 (a TiB-hour 1). Integer math, rounded down
 * once per sum (per record for scores, per peer for totals), never per
 * amount: the fractions are summed exactly in 1024ths first. */
#define LEDGER_WEIGHT_GPU             32u
#define LEDGER_WEIGHT_MEMORY_DIVISOR  4u
#define LEDGER_WEIGHT_STORAGE_DIVISOR 1024u

/* Totals with one peer in milli vCPU-hour equivalents (see weights). */
void ledger_peer_totals(const ledger *ledger_handle,
                        const uint8_t peer_key[LEDGER_KEY_SIZE],
                        uint64_t *lent_out,
                        uint64_t *borrowed_out);
/* The peer's reciprocity score at now_ns: what it lent us minus what it
 * borrowed from us, each usage decayed by half every half_life_ns since
 * it was recorded; milli vCPU-hour equivalents. Lenders rank borrowers
 * by it, highest first. 0 for a peer never seen. */
int64_t ledger_reciprocity(const ledger *ledger_handle,
                           const uint8_t peer_key[LEDGER_KEY_SIZE],
                           int64_t now_ns);

/* Lease states. Append only. */
typedef enum ledger_lease_state {
    LEDGER_LEASE_OPEN = 1,
    LEDGER_LEASE_RECLAIMED = 2,
    LEDGER_LEASE_RELEASED = 3,
    LEDGER_LEASE_EXPIRED = 4,
    LEDGER_LEASE_SETTLED = 5,
    LEDGER_LEASE_CREDIT = 6, /* a credit: one record, final */
} ledger_lease_state;
#define LEDGER_LEASE_STATE_MAX 6u
const char *ledger_lease_state_name(uint32_t state); /* never NULL */

typedef struct ledger_lease {
    uint8_t lease_id[LEDGER_LEASE_ID_SIZE];
    uint8_t peer_key[LEDGER_KEY_SIZE];
    bool self_is_lender;
    uint32_t state;        /* ledger_lease_state */
    uint32_t record_count; /* records so far; the next number is this */
    int64_t opened_ns;
    uint64_t first_seq;
    uint64_t last_seq;
} ledger_lease;

/* MESH_ENOTFOUND. */
MESH_MUST_USE mesh_err ledger_lease_get(const ledger *ledger_handle,
                                        const uint8_t lease_id[LEDGER_LEASE_ID_SIZE],
                                        ledger_lease *lease_out);
/* Visits the leases in one state (staged records included), in lease id
 * order. visit returns false to stop. MESH_EINVAL (no such state),
 * MESH_ENOMEM (allocates a list of ids for the call). */
typedef bool (*ledger_lease_visit)(void *arg, const ledger_lease *lease);
MESH_MUST_USE mesh_err ledger_lease_list(const ledger *ledger_handle,
                                         uint32_t state,
                                         ledger_lease_visit visit,
                                         void *arg);

/* ------------------------------------------------------------------ */
/* Reading tools: journal, verify, reconcile (on a store, no ledger).    */
/* ------------------------------------------------------------------ */

/* The store key of journal entry seq ("j" || seq, big-endian), for tools
 * that read or test one entry. Returns LEDGER_JOURNAL_KEY_SIZE. */
#define LEDGER_JOURNAL_KEY_SIZE 9u
uint32_t ledger_key_journal(uint64_t seq, uint8_t key[LEDGER_JOURNAL_KEY_SIZE]);

/* The self key stored in a ledger. MESH_ENOTFOUND (empty store),
 * MESH_ECORRUPT, MESH_ESTORE. */
MESH_MUST_USE mesh_err ledger_store_self_key(const ledger_store *store,
                                             uint8_t key_out[LEDGER_KEY_SIZE]);

/* Visits journal entries from seq_first on, in order. The entry is valid
 * for the call. An entry that does not decode stops the walk with
 * MESH_ECORRUPT (run verify). MESH_ESTORE. */
typedef bool (*ledger_entry_visit)(void *arg, const ledger_entry *entry);
MESH_MUST_USE mesh_err ledger_journal_walk(const ledger_store *store,
                                           uint64_t seq_first,
                                           ledger_entry_visit visit,
                                           void *arg);

/* The certificate stored under hash (ledger_put_certificate), copied
 * into frame_out. MESH_ENOTFOUND, MESH_EFULL (larger than size_max),
 * MESH_ECORRUPT (its bytes do not hash to its key: run verify),
 * MESH_ESTORE. */
MESH_MUST_USE mesh_err ledger_store_certificate(const ledger_store *store,
                                                const uint8_t hash[LEDGER_HASH_SIZE],
                                                uint8_t *frame_out,
                                                uint32_t size_max,
                                                uint32_t *size_out);
/* Visits every stored certificate in hash order; the bytes are valid for
 * the call; visit returns false to stop. Certificates whose bytes do not
 * hash to their key are skipped (verify reports them). MESH_ESTORE. */
typedef bool (*ledger_certificate_visit)(void *arg,
                                         const uint8_t hash[LEDGER_HASH_SIZE],
                                         const uint8_t *frame,
                                         uint32_t frame_size);
MESH_MUST_USE mesh_err ledger_certificate_walk(const ledger_store *store,
                                               ledger_certificate_visit visit,
                                               void *arg);

typedef struct ledger_verify_report {
    uint64_t entry_count;
    uint64_t signature_count; /* signatures checked */
    uint64_t key_count;       /* derived keys compared */
    uint64_t lease_count;
    uint32_t balance_count;
    uint64_t head_seq;
    uint8_t head_hash[LEDGER_HASH_SIZE];
    /* When not OK: the first bad entry (0 when the fault is not in one
     * entry), the store key at fault as text ("j/42", "b/<peer>/..."),
     * and why. */
    uint64_t bad_seq;
    char bad_key[96];
    char reason[128];
    uint64_t certificate_count; /* certificates checked (ledger_put_certificate) */
} ledger_verify_report;

/* Recomputes the chain, every signature, balance, lease, index and score
 * from the journal and compares them with the store. MESH_OK when all
 * agree; MESH_ECORRUPT with the report naming the first fault;
 * MESH_ENOMEM, MESH_ESTORE. half_life_ns: the one the ledger uses. */
MESH_MUST_USE mesh_err ledger_verify(const ledger_store *store,
                                     uint64_t half_life_ns,
                                     ledger_verify_report *report_out);

typedef struct ledger_reconcile_report {
    uint64_t shared_count; /* records both hold, identical */
    uint64_t only_a_count; /* records only in A */
    uint64_t only_b_count; /* records only in B */
    uint64_t differ_count; /* same (lease, number), other bytes or signatures */
    uint64_t a_lent_milli; /* A lent to B: usage+credit, vCPU-hour equivalents */
    uint64_t a_borrowed_milli;
    uint64_t b_lent_milli;
    uint64_t b_borrowed_milli;
    /* The first difference, when any: lease id (hex) and number. */
    bool has_first;
    uint8_t first_lease_id[LEDGER_LEASE_ID_SIZE];
    uint32_t first_number;
    char first_what[32]; /* "only in a", "only in b", "differ" */
} ledger_reconcile_report;

/* Compares the records A holds with B's owner and those B holds with A's
 * owner. MESH_OK when computed (read the counts: agreement is only_a ==
 * only_b == differ == 0); MESH_ENOTFOUND (a store is empty),
 * MESH_ECORRUPT, MESH_ENOMEM, MESH_ESTORE. Allocates for the call. */
MESH_MUST_USE mesh_err ledger_reconcile(const ledger_store *store_a,
                                        const ledger_store *store_b,
                                        ledger_reconcile_report *report_out);

#endif /* LEDGER_LEDGER_H */
