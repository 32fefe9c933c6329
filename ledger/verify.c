/*
 * ledger/verify.c: replaying the journal (verify, repair), walking it, and
 * reconciling two ledgers.
 *
 * Verify trusts nothing but the journal's first principles: it reads every
 * stored key once, refuses families it does not know, replays each entry
 * into a fresh state model (own hash, decoding, sequence, link to the
 * previous entry, signatures, lease transition), and then compares every
 * derived key (head, balances, scores, leases, both indexes) with what the
 * replay computed, both ways: a stored key the journal does not explain
 * and a computed key the store lacks are both faults. The first fault is
 * reported with the entry's sequence number when it lies in one entry,
 * and always with the store key, so that an operator knows where to look.
 *
 * Verify allocates a state sized from the journal (one lease per entry at
 * most), for the call only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ledger/ledger_int.h"
#include "wire/wire.h"

typedef struct replay_context {
    ledger_state *state;
    uint64_t seq_last;
    bool check_signatures;
    ledger_verify_report *report;
    mesh_err err;
} replay_context;

static void report_fault(ledger_verify_report *report,
                         uint64_t seq,
                         const uint8_t *key,
                         uint32_t key_size,
                         const char *reason)
{
    if (report == NULL) {
        return;
    }
    report->bad_seq = seq;
    ledger_key_text(key, key_size, report->bad_key, sizeof(report->bad_key));
    (void) snprintf(report->reason, sizeof(report->reason), "%s", reason);
}

static bool replay_fail(replay_context *context,
                        uint64_t seq,
                        const uint8_t *key,
                        uint32_t key_size,
                        const char *reason)
{
    report_fault(context->report, seq, key, key_size, reason);
    context->err = MESH_ECORRUPT;
    return false;
}

static bool replay_visit(
    void *arg, const uint8_t *key, uint32_t key_size, const uint8_t *value, uint32_t value_size)
{
    replay_context *context = arg;
    ledger_state *state = context->state;
    uint64_t expected = state->head_seq + 1;
    if (key_size != LEDGER_JOURNAL_KEY_SIZE) {
        return replay_fail(context, expected, key, key_size, "journal key of the wrong size");
    }
    uint64_t seq = ledger_get_u64(key + 1);
    if (seq > context->seq_last) {
        return false;
    }
    if (seq != expected) {
        return replay_fail(context, expected, key, key_size,
                           "entry missing: the journal skips this sequence number");
    }
    ledger_entry entry;
    mesh_err err = ledger_entry_decode(value, value_size, &entry);
    if (err == MESH_ECORRUPT) {
        return replay_fail(context, seq, key, key_size, "entry hash does not match its contents");
    }
    if (err != MESH_OK) {
        return replay_fail(context, seq, key, key_size, "entry is malformed");
    }
    if (entry.seq != seq) {
        return replay_fail(context, seq, key, key_size, "entry's sequence differs from its key");
    }
    if (sodium_memcmp(entry.prev_hash, state->head_hash, LEDGER_HASH_SIZE) != 0) {
        return replay_fail(context, seq, key, key_size,
                           "prev_hash does not link to the entry before it");
    }
    if (context->check_signatures) {
        if (ledger_entry_check_signatures(&entry) != MESH_OK) {
            return replay_fail(context, seq, key, key_size, "a signature does not verify");
        }
        if (context->report != NULL) {
            context->report->signature_count +=
                (uint64_t) entry.has_lender_signature + (uint64_t) entry.has_borrower_signature;
        }
    }
    const char *why = "";
    err = ledger_state_apply(state, &entry.record, seq, &why);
    if (err == MESH_EFULL) {
        context->err = MESH_ENOMEM;
        report_fault(context->report, seq, key, key_size, "too large to replay in memory");
        return false;
    }
    if (err != MESH_OK) {
        char reason[128];
        (void) snprintf(reason, sizeof(reason), "not a valid next event: %s", why);
        return replay_fail(context, seq, key, key_size, reason);
    }
    state->head_seq = seq;
    memcpy(state->head_hash, entry.hash, LEDGER_HASH_SIZE);
    return true;
}

mesh_err ledger_replay(const ledger_store *store,
                       ledger_state *state,
                       uint64_t seq_last,
                       bool check_signatures,
                       ledger_verify_report *report)
{
    MESH_ASSERT(store != NULL && state != NULL);
    MESH_ASSERT(state->head_seq < UINT64_MAX);
    if (state->head_seq >= seq_last) {
        return MESH_OK;
    }
    replay_context context = {.state = state,
                              .seq_last = seq_last,
                              .check_signatures = check_signatures,
                              .report = report,
                              .err = MESH_OK};
    uint8_t prefix = LEDGER_PREFIX_JOURNAL;
    uint8_t start[LEDGER_JOURNAL_KEY_SIZE];
    uint32_t start_size = ledger_key_journal(state->head_seq + 1, start);
    mesh_err err = store->scan(store->ctx, &prefix, 1, start, start_size, replay_visit, &context);
    return err != MESH_OK ? err : context.err;
}

mesh_err ledger_read_checkpoint(const ledger_store *store, uint64_t *seq_out, bool *present_out)
{
    MESH_ASSERT(store != NULL && seq_out != NULL);
    MESH_ASSERT(present_out != NULL);
    uint8_t key = LEDGER_PREFIX_CHECKPOINT;
    uint8_t value[9];
    uint32_t size = 0;
    mesh_err err = store->get(store->ctx, &key, 1, value, sizeof(value), &size);
    *seq_out = 0;
    *present_out = false;
    if (err == MESH_ENOTFOUND) {
        return MESH_OK;
    }
    if (err == MESH_EFULL || (err == MESH_OK && size != 8)) {
        return MESH_ECORRUPT;
    }
    if (err != MESH_OK) {
        return err;
    }
    *seq_out = ledger_get_u64(value);
    *present_out = true;
    return MESH_OK;
}

/* The journal walk for reading tools. */

typedef struct walk_context {
    ledger_entry_visit visit;
    void *arg;
    mesh_err err;
} walk_context;

static bool walk_visit(
    void *arg, const uint8_t *key, uint32_t key_size, const uint8_t *value, uint32_t value_size)
{
    walk_context *context = arg;
    ledger_entry entry;
    if (key_size != LEDGER_JOURNAL_KEY_SIZE ||
        ledger_entry_decode(value, value_size, &entry) != MESH_OK ||
        entry.seq != ledger_get_u64(key + 1)) {
        context->err = MESH_ECORRUPT;
        return false;
    }
    return context->visit(context->arg, &entry);
}

mesh_err ledger_journal_walk(const ledger_store *store,
                             uint64_t seq_first,
                             ledger_entry_visit visit,
                             void *arg)
{
    MESH_ASSERT(store != NULL && visit != NULL);
    uint8_t prefix = LEDGER_PREFIX_JOURNAL;
    uint8_t start[LEDGER_JOURNAL_KEY_SIZE];
    uint32_t start_size = ledger_key_journal(seq_first, start);
    walk_context context = {.visit = visit, .arg = arg, .err = MESH_OK};
    mesh_err err = store->scan(store->ctx, &prefix, 1, start, start_size, walk_visit, &context);
    return err != MESH_OK ? err : context.err;
}

/* Certificates (ledger_put_certificate), for reading tools. */

// A stored certificate: key "k" || hash, value a certificate envelope of
// at most LEDGER_CERT_FRAME_SIZE_MAX bytes whose BLAKE2b-256 is hash.
static bool
certificate_valid(const uint8_t *key, uint32_t key_size, const uint8_t *value, uint32_t value_size)
{
    if (key_size != LEDGER_CERT_KEY_SIZE || value_size == 0 ||
        value_size > LEDGER_CERT_FRAME_SIZE_MAX) {
        return false;
    }
    uint8_t hash[LEDGER_HASH_SIZE];
    MESH_ASSERT(crypto_generichash(hash, sizeof(hash), value, value_size, NULL, 0) == 0);
    if (memcmp(hash, key + 1, LEDGER_HASH_SIZE) != 0) {
        return false;
    }
    wire_envelope envelope;
    return wire_envelope_decode(value, value_size, &envelope, NULL) == MESH_OK &&
           envelope.type == WIRE_TYPE_CERT;
}

mesh_err ledger_store_certificate(const ledger_store *store,
                                  const uint8_t hash[LEDGER_HASH_SIZE],
                                  uint8_t *frame_out,
                                  uint32_t size_max,
                                  uint32_t *size_out)
{
    MESH_ASSERT(store != NULL && hash != NULL);
    MESH_ASSERT(frame_out != NULL && size_out != NULL);
    uint8_t key[LEDGER_CERT_KEY_SIZE];
    key[0] = LEDGER_PREFIX_CERTIFICATE;
    memcpy(key + 1, hash, LEDGER_HASH_SIZE);
    uint8_t value[LEDGER_CERT_FRAME_SIZE_MAX + 1];
    uint32_t size = 0;
    mesh_err err = store->get(store->ctx, key, sizeof(key), value, sizeof(value), &size);
    if (err == MESH_EFULL) {
        return MESH_ECORRUPT; // larger than any certificate put
    }
    if (err != MESH_OK) {
        return err;
    }
    if (!certificate_valid(key, sizeof(key), value, size)) {
        return MESH_ECORRUPT;
    }
    if (size > size_max) {
        return MESH_EFULL;
    }
    memcpy(frame_out, value, size);
    *size_out = size;
    return MESH_OK;
}

typedef struct certificate_walk_context {
    ledger_certificate_visit visit;
    void *arg;
} certificate_walk_context;

static bool certificate_walk_visit(
    void *arg, const uint8_t *key, uint32_t key_size, const uint8_t *value, uint32_t value_size)
{
    certificate_walk_context *context = arg;
    if (!certificate_valid(key, key_size, value, value_size)) {
        return true;
    }
    return context->visit(context->arg, key + 1, value, value_size);
}

mesh_err
ledger_certificate_walk(const ledger_store *store, ledger_certificate_visit visit, void *arg)
{
    MESH_ASSERT(store != NULL && visit != NULL);
    uint8_t prefix = LEDGER_PREFIX_CERTIFICATE;
    certificate_walk_context context = {.visit = visit, .arg = arg};
    return store->scan(store->ctx, &prefix, 1, NULL, 0, certificate_walk_visit, &context);
}

/* Verify: the census of keys, then the comparison of derived keys. */

typedef struct census {
    uint64_t journal_count;
    uint64_t derived_count;
    uint64_t certificate_count;
    bool bad_certificate;
    bool unknown;
    uint8_t unknown_key[LEDGER_STORE_KEY_SIZE_MAX];
    uint32_t unknown_key_size;
} census;

static bool census_visit(
    void *arg, const uint8_t *key, uint32_t key_size, const uint8_t *value, uint32_t value_size)
{
    census *c = arg;
    static const char known[] = {LEDGER_PREFIX_META,     LEDGER_PREFIX_HEAD,
                                 LEDGER_PREFIX_BALANCE,  LEDGER_PREFIX_SCORE,
                                 LEDGER_PREFIX_LEASE,    LEDGER_PREFIX_BY_PEER,
                                 LEDGER_PREFIX_BY_STATE, LEDGER_PREFIX_CHECKPOINT};
    if (key_size > 0 && key[0] == LEDGER_PREFIX_JOURNAL) {
        c->journal_count++;
        return true;
    }
    if (key_size > 0 && key[0] == LEDGER_PREFIX_CERTIFICATE) {
        // Derived from nothing: its own key is the check.
        if (!certificate_valid(key, key_size, value, value_size)) {
            c->bad_certificate = true;
            c->unknown_key_size =
                key_size < LEDGER_STORE_KEY_SIZE_MAX ? key_size : LEDGER_STORE_KEY_SIZE_MAX;
            memcpy(c->unknown_key, key, c->unknown_key_size);
            return false;
        }
        c->certificate_count++;
        return true;
    }
    for (uint32_t i = 0; key_size > 0 && i < sizeof(known); i++) {
        if (key[0] == (uint8_t) known[i]) {
            c->derived_count++;
            return true;
        }
    }
    c->unknown = true;
    c->unknown_key_size =
        key_size < LEDGER_STORE_KEY_SIZE_MAX ? key_size : LEDGER_STORE_KEY_SIZE_MAX;
    memcpy(c->unknown_key, key, c->unknown_key_size);
    return false;
}

typedef struct compare_context {
    const ledger_state *state;
    ledger_verify_report *report;
    uint64_t matched;
    mesh_err err;
} compare_context;

static bool
compare_fail(compare_context *context, const uint8_t *key, uint32_t key_size, const char *reason)
{
    report_fault(context->report, 0, key, key_size, reason);
    context->err = MESH_ECORRUPT;
    return false;
}

static bool compare_row(
    void *arg, const uint8_t *key, uint32_t key_size, const uint8_t *value, uint32_t value_size)
{
    compare_context *context = arg;
    uint32_t model_size = key_size >= 3u + LEDGER_KEY_SIZE ? key[2 + LEDGER_KEY_SIZE] : 0;
    if (key_size < 3u + LEDGER_KEY_SIZE || model_size > LEDGER_MODEL_SIZE_MAX ||
        key_size != 3u + LEDGER_KEY_SIZE + model_size) {
        return compare_fail(context, key, key_size, "balance key is malformed");
    }
    char model[LEDGER_MODEL_SIZE_MAX + 1];
    memcpy(model, key + 3 + LEDGER_KEY_SIZE, model_size);
    model[model_size] = '\0';
    const ledger_row *row =
        ledger_state_find_row(context->state, key + 1, key[1 + LEDGER_KEY_SIZE], model);
    uint8_t expected[LEDGER_BALANCE_VALUE_SIZE];
    if (row == NULL || strlen(model) != model_size) {
        return compare_fail(context, key, key_size, "balance row that no entry explains");
    }
    ledger_value_row(row, expected);
    if (value_size != sizeof(expected) || memcmp(value, expected, sizeof(expected)) != 0) {
        return compare_fail(context, key, key_size, "balance differs from the journal's sum");
    }
    context->matched++;
    return true;
}

static bool compare_score(
    void *arg, const uint8_t *key, uint32_t key_size, const uint8_t *value, uint32_t value_size)
{
    compare_context *context = arg;
    const ledger_score *score =
        key_size == 1u + LEDGER_KEY_SIZE ? ledger_state_find_score(context->state, key + 1) : NULL;
    if (score == NULL) {
        return compare_fail(context, key, key_size, "reciprocity score that no entry explains");
    }
    uint8_t expected[LEDGER_SCORE_VALUE_SIZE];
    ledger_value_score(score, expected);
    if (value_size != sizeof(expected) || memcmp(value, expected, sizeof(expected)) != 0) {
        return compare_fail(context, key, key_size, "reciprocity score differs from the journal");
    }
    context->matched++;
    return true;
}

static bool compare_lease(
    void *arg, const uint8_t *key, uint32_t key_size, const uint8_t *value, uint32_t value_size)
{
    compare_context *context = arg;
    const ledger_slot *slot = key_size == 1u + LEDGER_LEASE_ID_SIZE
                                  ? ledger_state_find_lease(context->state, key + 1)
                                  : NULL;
    if (slot == NULL) {
        return compare_fail(context, key, key_size, "lease that no entry opened");
    }
    uint8_t expected[LEDGER_LEASE_VALUE_SIZE];
    ledger_value_lease(&slot->lease, expected);
    if (value_size != sizeof(expected) || memcmp(value, expected, sizeof(expected)) != 0) {
        report_fault(context->report, slot->lease.last_seq, key, key_size,
                     "lease row differs from the journal");
        context->err = MESH_ECORRUPT;
        return false;
    }
    context->matched++;
    return true;
}

static bool compare_by_peer(
    void *arg, const uint8_t *key, uint32_t key_size, const uint8_t *value, uint32_t value_size)
{
    (void) value;
    compare_context *context = arg;
    const ledger_slot *slot =
        key_size == 1u + LEDGER_KEY_SIZE + LEDGER_LEASE_ID_SIZE
            ? ledger_state_find_lease(context->state, key + 1 + LEDGER_KEY_SIZE)
            : NULL;
    if (slot == NULL || value_size != 0 ||
        memcmp(slot->lease.peer_key, key + 1, LEDGER_KEY_SIZE) != 0) {
        return compare_fail(context, key, key_size,
                            "peer index entry the journal does not explain");
    }
    context->matched++;
    return true;
}

static bool compare_by_state(
    void *arg, const uint8_t *key, uint32_t key_size, const uint8_t *value, uint32_t value_size)
{
    (void) value;
    compare_context *context = arg;
    const ledger_slot *slot = key_size == 2u + LEDGER_LEASE_ID_SIZE
                                  ? ledger_state_find_lease(context->state, key + 2)
                                  : NULL;
    if (slot == NULL || value_size != 0 || slot->lease.state != key[1]) {
        return compare_fail(context, key, key_size,
                            "state index entry the journal does not explain");
    }
    context->matched++;
    return true;
}

// Scans one family, comparing each stored key; then the count must match
// what the replay computed, or a computed key is missing from the store.
static mesh_err compare_family(const ledger_store *store,
                               const ledger_state *state,
                               uint8_t prefix,
                               ledger_store_visit visit,
                               uint64_t expected_count,
                               const char *missing_reason,
                               ledger_verify_report *report)
{
    compare_context context = {.state = state, .report = report, .matched = 0, .err = MESH_OK};
    mesh_err err = store->scan(store->ctx, &prefix, 1, NULL, 0, visit, &context);
    if (err != MESH_OK) {
        return err;
    }
    if (context.err != MESH_OK) {
        return context.err;
    }
    report->key_count += context.matched;
    if (context.matched != expected_count) {
        report_fault(report, 0, &prefix, 1, missing_reason);
        return MESH_ECORRUPT;
    }
    return MESH_OK;
}

// What the checkpoint holds: leases, their indexes, scores.
static mesh_err compare_checkpointed(const ledger_store *store,
                                     const ledger_state *state,
                                     ledger_verify_report *report)
{
    uint64_t leases = state->lease_count;
    mesh_err err =
        compare_family(store, state, LEDGER_PREFIX_SCORE, compare_score, state->score_count,
                       "a reciprocity score the journal implies is missing", report);
    if (err == MESH_OK) {
        err = compare_family(store, state, LEDGER_PREFIX_LEASE, compare_lease, leases,
                             "a lease the journal opened is missing", report);
    }
    if (err == MESH_OK) {
        err = compare_family(store, state, LEDGER_PREFIX_BY_PEER, compare_by_peer, leases,
                             "a peer index entry is missing", report);
    }
    if (err == MESH_OK) {
        err = compare_family(store, state, LEDGER_PREFIX_BY_STATE, compare_by_state, leases,
                             "a state index entry is missing", report);
    }
    return err;
}

// What every commit keeps current: the head and the balances.
static mesh_err
compare_current(const ledger_store *store, const ledger_state *state, ledger_verify_report *report)
{
    uint8_t key = LEDGER_PREFIX_HEAD;
    uint8_t value[LEDGER_HEAD_VALUE_SIZE + 1];
    uint32_t size = 0;
    uint64_t head_seq = 0;
    uint8_t head_hash[LEDGER_HASH_SIZE] = {0};
    mesh_err err = store->get(store->ctx, &key, 1, value, sizeof(value), &size);
    if (err == MESH_OK) {
        err = ledger_parse_head(value, size, &head_seq, head_hash);
    } else if (err == MESH_ENOTFOUND) {
        err = MESH_OK;
    } else if (err == MESH_EFULL) {
        err = MESH_ECORRUPT;
    }
    if (err == MESH_ESTORE) {
        return err;
    }
    if (err != MESH_OK || head_seq != state->head_seq ||
        sodium_memcmp(head_hash, state->head_hash, LEDGER_HASH_SIZE) != 0) {
        report_fault(report, head_seq > state->head_seq ? state->head_seq + 1 : state->head_seq,
                     &key, 1,
                     head_seq > state->head_seq ? "head names entries the journal does not have"
                                                : "head does not match the last entry");
        return MESH_ECORRUPT;
    }
    return compare_family(store, state, LEDGER_PREFIX_BALANCE, compare_row, state->row_count,
                          "a balance row the journal implies is missing", report);
}

// A state sized for a journal of entry_count entries: a lease per entry at
// most (about 200 bytes each with the table's slack), balance rows and
// peers up to 2^20 (a node with more needs more than this tool offers).
static mesh_err state_for_journal(ledger_state *state,
                                  const uint8_t *self_key,
                                  uint64_t half_life_ns,
                                  uint64_t entry_count)
{
    uint64_t leases = entry_count + 16;
    uint64_t rows = entry_count * LEDGER_AMOUNTS_MAX + 16;
    uint64_t lease_cap = 1u << 24;
    uint64_t row_cap = 1u << 20;
    uint32_t leases_max = (uint32_t) (leases < lease_cap ? leases : lease_cap);
    uint32_t rows_max = (uint32_t) (rows < row_cap ? rows : row_cap);
    uint32_t peers_max = (uint32_t) (leases < row_cap ? leases : row_cap);
    return ledger_state_init(state, self_key, half_life_ns, leases_max, rows_max, peers_max, 1);
}

mesh_err
ledger_verify(const ledger_store *store, uint64_t half_life_ns, ledger_verify_report *report_out)
{
    MESH_ASSERT(store != NULL && report_out != NULL);
    ledger_verify_report *report = report_out;
    memset(report, 0, sizeof(*report));
    if (half_life_ns == 0) {
        return MESH_EINVAL;
    }
    uint8_t self_key[LEDGER_KEY_SIZE];
    uint8_t meta = LEDGER_PREFIX_META;
    mesh_err err = ledger_store_self_key(store, self_key);
    if (err == MESH_ENOTFOUND || err == MESH_ECORRUPT) {
        report_fault(report, 0, &meta, 1,
                     err == MESH_ENOTFOUND ? "no ledger here (meta key missing)"
                                           : "meta key is malformed");
        return err;
    }
    if (err != MESH_OK) {
        return err;
    }
    census c;
    memset(&c, 0, sizeof(c));
    err = store->scan(store->ctx, NULL, 0, NULL, 0, census_visit, &c);
    if (err != MESH_OK) {
        return err;
    }
    if (c.bad_certificate) {
        report_fault(report, 0, c.unknown_key, c.unknown_key_size,
                     "certificate whose bytes do not match its hash, or not a certificate");
        return MESH_ECORRUPT;
    }
    if (c.unknown) {
        report_fault(report, 0, c.unknown_key, c.unknown_key_size, "key of an unknown family");
        return MESH_ECORRUPT;
    }
    report->certificate_count = c.certificate_count;
    ledger_state state;
    err = state_for_journal(&state, self_key, half_life_ns, c.journal_count);
    if (err != MESH_OK) {
        return err;
    }
    // Replay up to the checkpoint and compare what it holds; then on to
    // the end, and compare the head and the balances.
    uint64_t checkpoint = 0;
    bool present = false;
    uint8_t checkpoint_key = LEDGER_PREFIX_CHECKPOINT;
    err = ledger_read_checkpoint(store, &checkpoint, &present);
    if (err == MESH_ECORRUPT || (err == MESH_OK && !present)) {
        report_fault(report, 0, &checkpoint_key, 1,
                     present ? "checkpoint key is malformed" : "checkpoint key is missing");
        err = MESH_ECORRUPT;
    }
    ledger_state_reset(&state);
    state.replaying = true;
    if (err == MESH_OK) {
        err = ledger_replay(store, &state, checkpoint, true, report);
    }
    if (err == MESH_OK && state.head_seq != checkpoint) {
        report_fault(report, state.head_seq + 1, &checkpoint_key, 1,
                     "checkpoint names entries the journal does not have");
        err = MESH_ECORRUPT;
    }
    if (err == MESH_OK) {
        err = compare_checkpointed(store, &state, report);
    }
    if (err == MESH_OK) {
        err = ledger_replay(store, &state, UINT64_MAX, true, report);
    }
    if (err == MESH_OK) {
        err = compare_current(store, &state, report);
    }
    report->entry_count = state.head_seq;
    report->head_seq = state.head_seq;
    memcpy(report->head_hash, state.head_hash, LEDGER_HASH_SIZE);
    report->lease_count = state.lease_count;
    report->balance_count = state.row_count;
    ledger_state_fini(&state);
    return err;
}

/* Repair: rebuild from the journal up to the head. */

typedef struct op_list {
    ledger_op *ops;
    uint8_t *bytes;
    uint32_t count;
    uint32_t count_max;
    uint32_t used;
    uint32_t size;
    mesh_err err;
} op_list;

static void op_list_push(op_list *list,
                         bool is_delete,
                         const uint8_t *key,
                         uint32_t key_size,
                         const uint8_t *value,
                         uint32_t value_size)
{
    if (list->err != MESH_OK) {
        return;
    }
    if (list->count == list->count_max || list->size - list->used < key_size + value_size) {
        list->err = MESH_EFULL;
        return;
    }
    uint8_t *at = list->bytes + list->used;
    memcpy(at, key, key_size);
    if (value_size > 0) {
        memcpy(at + key_size, value, value_size);
    }
    list->ops[list->count++] = (ledger_op){.is_delete = is_delete,
                                           .key = at,
                                           .key_size = key_size,
                                           .value = at + key_size,
                                           .value_size = value_size};
    list->used += key_size + value_size;
}

static bool delete_visit(
    void *arg, const uint8_t *key, uint32_t key_size, const uint8_t *value, uint32_t value_size)
{
    (void) value;
    (void) value_size;
    op_list *list = arg;
    op_list_push(list, true, key, key_size, NULL, 0);
    return list->err == MESH_OK;
}

static void push_state(op_list *list, const ledger_state *state)
{
    uint8_t key[LEDGER_STORE_KEY_SIZE_MAX];
    uint8_t value[LEDGER_LEASE_VALUE_SIZE];
    for (uint32_t i = 0; i < state->row_count; i++) {
        uint32_t key_size = ledger_key_row(&state->rows[i], key);
        ledger_value_row(&state->rows[i], value);
        op_list_push(list, false, key, key_size, value, LEDGER_BALANCE_VALUE_SIZE);
    }
    for (uint32_t i = 0; i < state->score_count; i++) {
        uint32_t key_size = ledger_key_score(&state->scores[i], key);
        ledger_value_score(&state->scores[i], value);
        op_list_push(list, false, key, key_size, value, LEDGER_SCORE_VALUE_SIZE);
    }
    for (uint32_t i = 0; i < state->slot_count; i++) {
        const ledger_slot *slot = &state->slots[i];
        if (!slot->used) {
            continue;
        }
        uint32_t key_size = ledger_key_lease(&slot->lease, key);
        ledger_value_lease(&slot->lease, value);
        op_list_push(list, false, key, key_size, value, LEDGER_LEASE_VALUE_SIZE);
        op_list_push(list, false, key, ledger_key_by_peer(&slot->lease, key), NULL, 0);
        op_list_push(list, false, key, ledger_key_by_state(&slot->lease, slot->lease.state, key),
                     NULL, 0);
    }
    ledger_value_head(state->head_seq, state->head_hash, value);
    key[0] = LEDGER_PREFIX_HEAD;
    op_list_push(list, false, key, 1, value, LEDGER_HEAD_VALUE_SIZE);
    key[0] = LEDGER_PREFIX_CHECKPOINT;
    ledger_put_u64(value, state->head_seq);
    op_list_push(list, false, key, 1, value, 8);
}

mesh_err ledger_repair(const ledger_store *store, ledger_state *state)
{
    MESH_ASSERT(store != NULL && state != NULL);
    uint64_t head_seq = state->head_seq;
    ledger_state_reset(state);
    state->replaying = true;
    mesh_err err = ledger_replay(store, state, head_seq, false, NULL);
    state->replaying = false;
    if (err != MESH_OK) {
        return err == MESH_ENOMEM ? MESH_EFULL : err;
    }
    if (state->head_seq != head_seq) {
        return MESH_ECORRUPT;
    }
    // Deletes of every derived key and of the torn tail, then the rebuilt
    // state: one batch, so that a crash during repair repeats it.
    uint64_t ops_max =
        2ull * (state->row_count + state->score_count + 3ull * state->lease_count) + 4096u;
    if (ops_max > (1u << 24)) {
        return MESH_EFULL;
    }
    op_list list = {.count_max = (uint32_t) ops_max,
                    .size =
                        (uint32_t) ops_max * (LEDGER_STORE_KEY_SIZE_MAX + LEDGER_LEASE_VALUE_SIZE),
                    .err = MESH_OK};
    list.ops = calloc(list.count_max, sizeof(ledger_op));
    list.bytes = malloc(list.size);
    if (list.ops == NULL || list.bytes == NULL) {
        free(list.ops);
        free(list.bytes);
        return MESH_ENOMEM;
    }
    static const uint8_t families[] = {LEDGER_PREFIX_BALANCE,  LEDGER_PREFIX_SCORE,
                                       LEDGER_PREFIX_LEASE,    LEDGER_PREFIX_BY_PEER,
                                       LEDGER_PREFIX_BY_STATE, LEDGER_PREFIX_CHECKPOINT};
    for (uint32_t i = 0; err == MESH_OK && i < sizeof(families); i++) {
        err = store->scan(store->ctx, &families[i], 1, NULL, 0, delete_visit, &list);
    }
    uint8_t prefix = LEDGER_PREFIX_JOURNAL;
    uint8_t start[LEDGER_JOURNAL_KEY_SIZE];
    uint32_t start_size = ledger_key_journal(head_seq + 1, start);
    if (err == MESH_OK) {
        err = store->scan(store->ctx, &prefix, 1, start, start_size, delete_visit, &list);
    }
    push_state(&list, state);
    if (err == MESH_OK) {
        err = list.err;
    }
    if (err == MESH_OK) {
        ledger_batch batch = {.ops = list.ops, .count = list.count};
        err = store->write(store->ctx, &batch, true);
    }
    free(list.ops);
    free(list.bytes);
    for (uint32_t i = 0; err == MESH_OK && i < state->slot_count; i++) {
        state->slots[i].stored_state = state->slots[i].used ? state->slots[i].lease.state : 0;
        state->slots[i].dirty = false;
    }
    state->dirty_slot_count = 0;
    ledger_state_clean_rows(state);
    ledger_state_clean_checkpoint(state);
    return err;
}

/* Reconcile. */

typedef struct shared_record {
    uint8_t lease_id[LEDGER_LEASE_ID_SIZE];
    uint32_t number;
    uint8_t digest[16]; /* of record bytes and signatures */
} shared_record;

typedef struct collect_context {
    const uint8_t *self_key;
    const uint8_t *other_key;
    shared_record *records;
    uint64_t count;
    uint64_t count_max;
    ledger_weight_sum lent; /* usage and credit, weighted, rounded once at the end */
    ledger_weight_sum borrowed;
    mesh_err err;
} collect_context;

static bool collect_visit(void *arg, const ledger_entry *entry)
{
    collect_context *context = arg;
    const ledger_record *record = &entry->record;
    bool self_lends = memcmp(record->lender_key, context->self_key, LEDGER_KEY_SIZE) == 0 &&
                      memcmp(record->borrower_key, context->other_key, LEDGER_KEY_SIZE) == 0;
    bool self_borrows = memcmp(record->borrower_key, context->self_key, LEDGER_KEY_SIZE) == 0 &&
                        memcmp(record->lender_key, context->other_key, LEDGER_KEY_SIZE) == 0;
    if (!self_lends && !self_borrows) {
        return true;
    }
    if (context->count == context->count_max) {
        uint64_t grown = context->count_max == 0 ? 256 : context->count_max * 2;
        shared_record *records =
            grown > (1ull << 28) ? NULL : realloc(context->records, grown * sizeof(shared_record));
        if (records == NULL) {
            context->err = MESH_ENOMEM;
            return false;
        }
        context->records = records;
        context->count_max = grown;
    }
    shared_record *out = &context->records[context->count++];
    memcpy(out->lease_id, record->lease_id, LEDGER_LEASE_ID_SIZE);
    out->number = record->number;
    crypto_generichash_state hash;
    (void) crypto_generichash_init(&hash, NULL, 0, sizeof(out->digest));
    (void) crypto_generichash_update(&hash, entry->record_bytes, entry->record_size);
    uint8_t flags[2] = {entry->has_lender_signature, entry->has_borrower_signature};
    (void) crypto_generichash_update(&hash, flags, sizeof(flags));
    (void) crypto_generichash_update(&hash, entry->lender_signature, LEDGER_SIGNATURE_SIZE);
    (void) crypto_generichash_update(&hash, entry->borrower_signature, LEDGER_SIGNATURE_SIZE);
    (void) crypto_generichash_final(&hash, out->digest, sizeof(out->digest));
    if (record->kind == LEDGER_KIND_USAGE || record->kind == LEDGER_KIND_CREDIT) {
        // Amount by amount into one exact sum, as ledger_peer_totals weighs
        // the balance rows: the two agree to the milli.
        ledger_weight_sum *sum = self_lends ? &context->lent : &context->borrowed;
        for (uint32_t i = 0; i < record->amount_count; i++) {
            ledger_weight_add(sum, record->amounts[i].resource_class,
                              record->amounts[i].amount_milli);
        }
    }
    return true;
}

static int shared_compare(const void *a, const void *b)
{
    const shared_record *x = a;
    const shared_record *y = b;
    int c = memcmp(x->lease_id, y->lease_id, LEDGER_LEASE_ID_SIZE);
    if (c != 0) {
        return c;
    }
    return (x->number > y->number) - (x->number < y->number);
}

static mesh_err collect(const ledger_store *store,
                        const uint8_t *self_key,
                        const uint8_t *other_key,
                        collect_context *context)
{
    memset(context, 0, sizeof(*context));
    context->self_key = self_key;
    context->other_key = other_key;
    mesh_err err = ledger_journal_walk(store, 1, collect_visit, context);
    if (err == MESH_OK) {
        err = context->err;
    }
    if (err == MESH_OK && context->count > 1) {
        qsort(context->records, context->count, sizeof(shared_record), shared_compare);
    }
    return err;
}

static void
note_first(ledger_reconcile_report *report, const shared_record *record, const char *what)
{
    if (report->has_first) {
        return;
    }
    report->has_first = true;
    memcpy(report->first_lease_id, record->lease_id, LEDGER_LEASE_ID_SIZE);
    report->first_number = record->number;
    (void) snprintf(report->first_what, sizeof(report->first_what), "%s", what);
}

mesh_err ledger_reconcile(const ledger_store *store_a,
                          const ledger_store *store_b,
                          ledger_reconcile_report *report_out)
{
    MESH_ASSERT(store_a != NULL && store_b != NULL);
    MESH_ASSERT(report_out != NULL);
    ledger_reconcile_report report;
    memset(&report, 0, sizeof(report));
    uint8_t key_a[LEDGER_KEY_SIZE];
    uint8_t key_b[LEDGER_KEY_SIZE];
    mesh_err err = ledger_store_self_key(store_a, key_a);
    if (err == MESH_OK) {
        err = ledger_store_self_key(store_b, key_b);
    }
    if (err != MESH_OK) {
        return err;
    }
    collect_context a;
    collect_context b;
    err = collect(store_a, key_a, key_b, &a);
    if (err == MESH_OK) {
        err = collect(store_b, key_b, key_a, &b);
    } else {
        memset(&b, 0, sizeof(b));
    }
    uint64_t i = 0;
    uint64_t j = 0;
    while (err == MESH_OK && (i < a.count || j < b.count)) {
        int c = i == a.count ? 1 : j == b.count ? -1 : shared_compare(&a.records[i], &b.records[j]);
        if (c < 0) {
            report.only_a_count++;
            note_first(&report, &a.records[i++], "only in a");
        } else if (c > 0) {
            report.only_b_count++;
            note_first(&report, &b.records[j++], "only in b");
        } else {
            if (memcmp(a.records[i].digest, b.records[j].digest, sizeof(a.records[i].digest)) ==
                0) {
                report.shared_count++;
            } else {
                report.differ_count++;
                note_first(&report, &a.records[i], "differ");
            }
            i++;
            j++;
        }
    }
    report.a_lent_milli = ledger_weight_total(&a.lent);
    report.a_borrowed_milli = ledger_weight_total(&a.borrowed);
    report.b_lent_milli = ledger_weight_total(&b.lent);
    report.b_borrowed_milli = ledger_weight_total(&b.borrowed);
    free(a.records);
    free(b.records);
    if (err == MESH_OK) {
        *report_out = report;
    }
    return err;
}
