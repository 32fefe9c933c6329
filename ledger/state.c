/*
 * ledger/state.c: the state model (what a record means for balances,
 * leases and scores), the store key layout, and the reciprocity decay.
 *
 * Tables are allocated once in ledger_state_init. Balance rows and scores
 * are sorted arrays (a few thousand rows: a binary search and, for a new
 * row, one memmove); leases live in an open-addressing table keyed by a
 * keyed BLAKE2b of the lease id (ids come from peers, so the key is not
 * guessable from outside: it is derived from this node's public key and
 * never leaves the process) so that a lease's slot never moves and the
 * commit can name dirty leases by slot index.
 *
 * The lease state machine, as records drive it:
 *
 *     OPENED (number 0, new id)          -> OPEN
 *     USAGE  (next number)               OPEN, RECLAIMED, RELEASED, EXPIRED (late usage)
 *     RECLAIMED / RELEASED / EXPIRED     OPEN -> that state
 *     SETTLED                            RECLAIMED, RELEASED, EXPIRED -> SETTLED
 *     CREDIT (number 0, new id)          -> CREDIT (final)
 *
 * and a record must name the same two parties, in the same roles, as the
 * lease's first record. USAGE and CREDIT add to the balance rows and to
 * the peer's score; the others change only the lease.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ledger/ledger_int.h"

int ledger_key_compare(const uint8_t *a, uint32_t a_size, const uint8_t *b, uint32_t b_size)
{
    uint32_t n = a_size < b_size ? a_size : b_size;
    int c = n == 0 ? 0 : memcmp(a, b, n);
    if (c != 0) {
        return c;
    }
    return (a_size > b_size) - (a_size < b_size);
}

void ledger_scan_from(const uint8_t *prefix,
                      uint32_t prefix_size,
                      const uint8_t *start,
                      uint32_t start_size,
                      const uint8_t **from_out,
                      uint32_t *from_size_out)
{
    MESH_ASSERT(prefix != NULL || prefix_size == 0);
    MESH_ASSERT(from_out != NULL && from_size_out != NULL);
    bool later = start != NULL && ledger_key_compare(start, start_size, prefix, prefix_size) > 0;
    *from_out = later ? start : prefix;
    *from_size_out = later ? start_size : prefix_size;
}

uint32_t ledger_search(
    const void *key, const void *items, uint32_t count, ledger_compare_at compare, bool *found_out)
{
    MESH_ASSERT(key != NULL && compare != NULL);
    MESH_ASSERT(items != NULL || count == 0);
    uint32_t low = 0;
    uint32_t high = count;
    while (low < high) {
        uint32_t mid = low + (high - low) / 2;
        int c = compare(key, items, mid);
        if (c == 0) {
            *found_out = true;
            return mid;
        }
        if (c < 0) {
            high = mid;
        } else {
            low = mid + 1;
        }
    }
    *found_out = false;
    return low;
}

void ledger_put_u64(uint8_t *out, uint64_t value)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t) (value & 0xff);
        value >>= 8;
    }
}

uint64_t ledger_get_u64(const uint8_t *in)
{
    uint64_t value = 0;
    for (int i = 0; i < 8; i++) {
        value = (value << 8) | in[i];
    }
    return value;
}

static void put_u32(uint8_t *out, uint32_t value)
{
    out[0] = (uint8_t) (value >> 24);
    out[1] = (uint8_t) (value >> 16);
    out[2] = (uint8_t) (value >> 8);
    out[3] = (uint8_t) value;
}

static uint32_t get_u32(const uint8_t *in)
{
    return ((uint32_t) in[0] << 24) | ((uint32_t) in[1] << 16) | ((uint32_t) in[2] << 8) | in[3];
}

/* 2^(-k/16) in Q32 for k = 0..16. */
static const uint64_t decay_table[17] = {
    4294967296u, 4112874773u, 3938502376u, 3771522796u, 3611622603u, 3458501653u,
    3311872529u, 3171459999u, 3037000500u, 2908241642u, 2784941738u, 2666869345u,
    2553802834u, 2445529972u, 2341847524u, 2242560872u, 2147483648u};

// magnitude * factor / 2^32 without overflow (factor <= 2^32, magnitude < 2^63).
static uint64_t mul_q32(uint64_t magnitude, uint64_t factor)
{
    MESH_ASSERT(factor <= (1ull << 32));
    return (magnitude >> 32) * factor + (((magnitude & 0xffffffffull) * factor) >> 32);
}

int64_t ledger_decay(int64_t value, uint64_t elapsed_ns, uint64_t half_life_ns)
{
    MESH_ASSERT(half_life_ns > 0);
    MESH_ASSERT(value > INT64_MIN);
    uint64_t halvings = elapsed_ns / half_life_ns;
    if (value == 0 || halvings >= 63) {
        return 0;
    }
    bool negative = value < 0;
    uint64_t magnitude = (uint64_t) (negative ? -value : value);
    magnitude >>= halvings;
    // The fractional part in 1/65536 of a half-life, then the table with
    // linear interpolation between its 17 points.
    uint64_t step = half_life_ns >> 16;
    uint64_t fraction = step == 0 ? 0 : (elapsed_ns % half_life_ns) / step;
    if (fraction > 65535) {
        fraction = 65535;
    }
    uint64_t index = fraction >> 12;
    uint64_t low = fraction & 0xfff;
    uint64_t factor =
        decay_table[index] - (((decay_table[index] - decay_table[index + 1]) * low) >> 12);
    magnitude = mul_q32(magnitude, factor);
    return negative ? -(int64_t) magnitude : (int64_t) magnitude;
}

_Static_assert(LEDGER_WEIGHT_STORAGE_DIVISOR == 1024u, "fractions are counted in 1024ths");
_Static_assert(LEDGER_WEIGHT_STORAGE_DIVISOR % LEDGER_WEIGHT_MEMORY_DIVISOR == 0,
               "a quarter is a whole number of 1024ths");

static uint64_t add_saturating(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

void ledger_weight_add(ledger_weight_sum *sum, uint32_t resource_class, uint64_t milli)
{
    MESH_ASSERT(sum != NULL);
    MESH_ASSERT(sum->fraction_1024ths < LEDGER_WEIGHT_STORAGE_DIVISOR);
    uint64_t whole = milli;
    uint64_t fraction = 0; /* in 1024ths of a milli */
    switch (resource_class) {
    case LEDGER_CLASS_GPU:
        whole = milli > UINT64_MAX / LEDGER_WEIGHT_GPU ? UINT64_MAX : milli * LEDGER_WEIGHT_GPU;
        break;
    case LEDGER_CLASS_MEMORY_GIB:
        whole = milli / LEDGER_WEIGHT_MEMORY_DIVISOR;
        fraction = (milli % LEDGER_WEIGHT_MEMORY_DIVISOR) *
                   (LEDGER_WEIGHT_STORAGE_DIVISOR / LEDGER_WEIGHT_MEMORY_DIVISOR);
        break;
    case LEDGER_CLASS_STORAGE_GIB:
        whole = milli / LEDGER_WEIGHT_STORAGE_DIVISOR;
        fraction = milli % LEDGER_WEIGHT_STORAGE_DIVISOR;
        break;
    default:
        break;
    }
    // Both below 1024, so the carry is 0 or 1 and nothing overflows.
    fraction += sum->fraction_1024ths;
    sum->whole_milli = add_saturating(sum->whole_milli, whole);
    sum->whole_milli = add_saturating(sum->whole_milli, fraction / LEDGER_WEIGHT_STORAGE_DIVISOR);
    sum->fraction_1024ths = (uint32_t) (fraction % LEDGER_WEIGHT_STORAGE_DIVISOR);
}

uint64_t ledger_weight_total(const ledger_weight_sum *sum)
{
    MESH_ASSERT(sum != NULL);
    MESH_ASSERT(sum->fraction_1024ths < LEDGER_WEIGHT_STORAGE_DIVISOR);
    return sum->whole_milli; /* rounded down: the fraction is dropped once, here */
}

uint64_t ledger_weighted_milli(const ledger_record *record)
{
    MESH_ASSERT(record != NULL);
    MESH_ASSERT(record->amount_count <= LEDGER_AMOUNTS_MAX);
    ledger_weight_sum sum = {0};
    for (uint32_t i = 0; i < record->amount_count; i++) {
        const ledger_amount *amount = &record->amounts[i];
        MESH_ASSERT(amount->amount_milli <= LEDGER_AMOUNT_MILLI_MAX);
        ledger_weight_add(&sum, amount->resource_class, amount->amount_milli);
    }
    uint64_t total = ledger_weight_total(&sum);
    MESH_ASSERT(total <= (uint64_t) INT64_MAX); /* <= 8 * 32 * 10^15 */
    return total;
}

mesh_err ledger_state_init(ledger_state *state,
                           const uint8_t self_key[LEDGER_KEY_SIZE],
                           uint64_t half_life_ns,
                           uint32_t leases_max,
                           uint32_t rows_max,
                           uint32_t peers_max,
                           uint32_t dirty_slots_max)
{
    MESH_ASSERT(state != NULL && self_key != NULL);
    memset(state, 0, sizeof(*state));
    if (half_life_ns == 0 || leases_max == 0 || rows_max == 0 || peers_max == 0 ||
        dirty_slots_max == 0 || leases_max > (1u << 28)) {
        return MESH_EINVAL;
    }
    uint32_t slot_count = 16;
    while (slot_count < leases_max * 2u) {
        slot_count *= 2;
    }
    memcpy(state->self_key, self_key, LEDGER_KEY_SIZE);
    state->half_life_ns = half_life_ns;
    state->rows = calloc(rows_max, sizeof(ledger_row));
    state->scores = calloc(peers_max, sizeof(ledger_score));
    state->slots = calloc(slot_count, sizeof(ledger_slot));
    state->dirty_slots = calloc(dirty_slots_max, sizeof(uint32_t));
    if (state->rows == NULL || state->scores == NULL || state->slots == NULL ||
        state->dirty_slots == NULL) {
        ledger_state_fini(state);
        return MESH_ENOMEM;
    }
    state->rows_max = rows_max;
    state->scores_max = peers_max;
    state->slot_count = slot_count;
    state->leases_max = leases_max;
    state->dirty_slots_max = dirty_slots_max;
    return MESH_OK;
}

void ledger_state_fini(ledger_state *state)
{
    if (state == NULL) {
        return;
    }
    free(state->rows);
    free(state->scores);
    free(state->slots);
    free(state->dirty_slots);
    memset(state, 0, sizeof(*state));
}

void ledger_state_reset(ledger_state *state)
{
    MESH_ASSERT(state != NULL);
    MESH_ASSERT(state->slots != NULL);
    // A slot is written only when a lease is counted in, so with no lease
    // every slot is still calloc's zero: skip the memset, which would make
    // the whole table (12 MB at the default leases_max) resident in an
    // agent that has lent nothing.
    if (state->lease_count > 0) {
        memset(state->slots, 0, (size_t) state->slot_count * sizeof(ledger_slot));
    }
    state->row_count = 0;
    state->score_count = 0;
    state->lease_count = 0;
    state->dirty_slot_count = 0;
    state->head_seq = 0;
    memset(state->head_hash, 0, LEDGER_HASH_SIZE);
}

void ledger_state_clean_rows(ledger_state *state)
{
    MESH_ASSERT(state != NULL);
    MESH_ASSERT(state->row_count <= state->rows_max);
    for (uint32_t i = 0; i < state->row_count; i++) {
        state->rows[i].dirty = false;
    }
}

void ledger_state_clean_checkpoint(ledger_state *state)
{
    MESH_ASSERT(state != NULL);
    MESH_ASSERT(state->dirty_slot_count <= state->dirty_slots_max);
    for (uint32_t i = 0; i < state->score_count; i++) {
        state->scores[i].dirty = false;
    }
    for (uint32_t i = 0; i < state->dirty_slot_count; i++) {
        ledger_slot *slot = &state->slots[state->dirty_slots[i]];
        slot->dirty = false;
        slot->stored_state = slot->lease.state;
    }
    state->dirty_slot_count = 0;
}

/* Lease table. */

static uint32_t lease_hash(const ledger_state *state, const uint8_t *lease_id)
{
    uint8_t out[crypto_shorthash_BYTES];
    uint8_t key[crypto_shorthash_KEYBYTES];
    memcpy(key, state->self_key, sizeof(key));
    (void) crypto_shorthash(out, lease_id, LEDGER_LEASE_ID_SIZE, key);
    return (uint32_t) out[0] | ((uint32_t) out[1] << 8) | ((uint32_t) out[2] << 16) |
           ((uint32_t) out[3] << 24);
}

// The slot holding lease_id, or the empty slot where it would go.
static uint32_t lease_probe(const ledger_state *state, const uint8_t *lease_id)
{
    uint32_t mask = state->slot_count - 1;
    uint32_t index = lease_hash(state, lease_id) & mask;
    // At most half the slots are used, so the probe ends within slot_count steps.
    for (uint32_t step = 0; step < state->slot_count; step++) {
        const ledger_slot *slot = &state->slots[index];
        if (!slot->used || memcmp(slot->lease.lease_id, lease_id, LEDGER_LEASE_ID_SIZE) == 0) {
            return index;
        }
        index = (index + 1) & mask;
    }
    MESH_ASSERT(false && "lease table never fills past half");
    return 0;
}

ledger_slot *ledger_state_find_lease(const ledger_state *state,
                                     const uint8_t lease_id[LEDGER_LEASE_ID_SIZE])
{
    MESH_ASSERT(state != NULL && lease_id != NULL);
    ledger_slot *slot = &state->slots[lease_probe(state, lease_id)];
    return slot->used ? slot : NULL;
}

/* Rows and scores: sorted arrays. */

static int row_compare(const uint8_t *peer_key,
                       uint32_t resource_class,
                       const char *model,
                       const ledger_row *row)
{
    int c = memcmp(peer_key, row->peer_key, LEDGER_KEY_SIZE);
    if (c != 0) {
        return c;
    }
    if (resource_class != row->resource_class) {
        return resource_class < row->resource_class ? -1 : 1;
    }
    // The store key orders models by length, then bytes; so does this.
    size_t a = strlen(model);
    size_t b = strlen(row->model);
    if (a != b) {
        return a < b ? -1 : 1;
    }
    return memcmp(model, row->model, a);
}

typedef struct row_key {
    const uint8_t *peer_key;
    uint32_t resource_class;
    const char *model;
} row_key;

static int row_compare_at(const void *key, const void *items, uint32_t index)
{
    const row_key *k = key;
    return row_compare(k->peer_key, k->resource_class, k->model,
                       &((const ledger_row *) items)[index]);
}

// Index of the row, or where it would be inserted; found_out says which.
static uint32_t row_search(const ledger_state *state,
                           const uint8_t *peer_key,
                           uint32_t resource_class,
                           const char *model,
                           bool *found_out)
{
    row_key key = {.peer_key = peer_key, .resource_class = resource_class, .model = model};
    return ledger_search(&key, state->rows, state->row_count, row_compare_at, found_out);
}

const ledger_row *ledger_state_find_row(const ledger_state *state,
                                        const uint8_t peer_key[LEDGER_KEY_SIZE],
                                        uint32_t resource_class,
                                        const char *model)
{
    bool found = false;
    uint32_t index = row_search(state, peer_key, resource_class, model, &found);
    return found ? &state->rows[index] : NULL;
}

static ledger_row *
row_insert(ledger_state *state, const uint8_t *peer_key, uint32_t resource_class, const char *model)
{
    bool found = false;
    uint32_t index = row_search(state, peer_key, resource_class, model, &found);
    if (found) {
        return &state->rows[index];
    }
    MESH_ASSERT(state->row_count < state->rows_max);
    memmove(&state->rows[index + 1], &state->rows[index],
            (size_t) (state->row_count - index) * sizeof(ledger_row));
    state->row_count++;
    ledger_row *row = &state->rows[index];
    memset(row, 0, sizeof(*row));
    memcpy(row->peer_key, peer_key, LEDGER_KEY_SIZE);
    row->resource_class = resource_class;
    size_t size = strlen(model);
    MESH_ASSERT(size <= LEDGER_MODEL_SIZE_MAX);
    memcpy(row->model, model, size + 1);
    return row;
}

static int score_compare_at(const void *key, const void *items, uint32_t index)
{
    return memcmp(key, ((const ledger_score *) items)[index].peer_key, LEDGER_KEY_SIZE);
}

static uint32_t score_search(const ledger_state *state, const uint8_t *peer_key, bool *found_out)
{
    return ledger_search(peer_key, state->scores, state->score_count, score_compare_at, found_out);
}

const ledger_score *ledger_state_find_score(const ledger_state *state,
                                            const uint8_t peer_key[LEDGER_KEY_SIZE])
{
    bool found = false;
    uint32_t index = score_search(state, peer_key, &found);
    return found ? &state->scores[index] : NULL;
}

static ledger_score *score_insert(ledger_state *state, const uint8_t *peer_key)
{
    bool found = false;
    uint32_t index = score_search(state, peer_key, &found);
    if (found) {
        return &state->scores[index];
    }
    MESH_ASSERT(state->score_count < state->scores_max);
    memmove(&state->scores[index + 1], &state->scores[index],
            (size_t) (state->score_count - index) * sizeof(ledger_score));
    state->score_count++;
    ledger_score *score = &state->scores[index];
    memset(score, 0, sizeof(*score));
    memcpy(score->peer_key, peer_key, LEDGER_KEY_SIZE);
    return score;
}

static int64_t saturate(int64_t value)
{
    if (value > LEDGER_SCORE_LIMIT) {
        return LEDGER_SCORE_LIMIT;
    }
    if (value < -LEDGER_SCORE_LIMIT) {
        return -LEDGER_SCORE_LIMIT;
    }
    return value;
}

/* Applying a record. */

static bool counts_in_balances(uint32_t kind)
{
    return kind == LEDGER_KIND_USAGE || kind == LEDGER_KIND_CREDIT;
}

// Checks the lease transition; *slot_out is the lease's slot (existing, or
// the empty one a new lease takes).
static mesh_err check_transition(const ledger_state *state,
                                 const ledger_record *record,
                                 const uint8_t *peer_key,
                                 bool self_is_lender,
                                 uint32_t *slot_out,
                                 const char **why)
{
    uint32_t index = lease_probe(state, record->lease_id);
    const ledger_slot *slot = &state->slots[index];
    *slot_out = index;
    if (record->kind == LEDGER_KIND_OPENED || record->kind == LEDGER_KIND_CREDIT) {
        if (slot->used) {
            *why = "lease id already used";
            return MESH_ECONSTRAINT;
        }
        if (state->lease_count >= state->leases_max) {
            *why = "lease table full";
            return MESH_EFULL;
        }
        return MESH_OK;
    }
    if (!slot->used) {
        *why = "unknown lease";
        return MESH_ECONSTRAINT;
    }
    const ledger_lease *lease = &slot->lease;
    if (memcmp(lease->peer_key, peer_key, LEDGER_KEY_SIZE) != 0 ||
        lease->self_is_lender != self_is_lender) {
        *why = "parties differ from the lease's";
        return MESH_ECONSTRAINT;
    }
    if (record->number != lease->record_count) {
        *why = "record number out of order";
        return MESH_ECONSTRAINT;
    }
    bool ended = lease->state == LEDGER_LEASE_RECLAIMED || lease->state == LEDGER_LEASE_RELEASED ||
                 lease->state == LEDGER_LEASE_EXPIRED;
    bool ok = false;
    switch (record->kind) {
    case LEDGER_KIND_USAGE:
        ok = lease->state == LEDGER_LEASE_OPEN || ended;
        break;
    case LEDGER_KIND_RECLAIMED:
    case LEDGER_KIND_RELEASED:
    case LEDGER_KIND_EXPIRED:
        ok = lease->state == LEDGER_LEASE_OPEN;
        break;
    default:
        MESH_ASSERT(record->kind == LEDGER_KIND_SETTLED);
        ok = ended;
        break;
    }
    if (!ok) {
        *why = "not a valid next event in the lease's state";
        return MESH_ECONSTRAINT;
    }
    return MESH_OK;
}

static uint32_t state_after(uint32_t kind, uint32_t state)
{
    switch (kind) {
    case LEDGER_KIND_OPENED:
        return LEDGER_LEASE_OPEN;
    case LEDGER_KIND_RECLAIMED:
        return LEDGER_LEASE_RECLAIMED;
    case LEDGER_KIND_RELEASED:
        return LEDGER_LEASE_RELEASED;
    case LEDGER_KIND_EXPIRED:
        return LEDGER_LEASE_EXPIRED;
    case LEDGER_KIND_SETTLED:
        return LEDGER_LEASE_SETTLED;
    case LEDGER_KIND_CREDIT:
        return LEDGER_LEASE_CREDIT;
    default:
        return state;
    }
}

// Checks that the balance rows can take the record: room for new rows, no
// overflow.
static mesh_err check_balances(const ledger_state *state,
                               const ledger_record *record,
                               const uint8_t *peer_key,
                               bool self_is_lender,
                               const char **why)
{
    uint32_t new_rows = 0;
    for (uint32_t i = 0; i < record->amount_count; i++) {
        const ledger_amount *amount = &record->amounts[i];
        const ledger_row *row =
            ledger_state_find_row(state, peer_key, amount->resource_class, amount->model);
        if (row == NULL) {
            new_rows++;
            continue;
        }
        uint64_t current = self_is_lender ? row->lent_milli : row->borrowed_milli;
        if (current > UINT64_MAX - amount->amount_milli) {
            *why = "balance would overflow";
            return MESH_ECONSTRAINT;
        }
    }
    if (new_rows > state->rows_max - state->row_count) {
        *why = "balance table full";
        return MESH_EFULL;
    }
    if (ledger_state_find_score(state, peer_key) == NULL &&
        state->score_count >= state->scores_max) {
        *why = "peer table full";
        return MESH_EFULL;
    }
    return MESH_OK;
}

static void apply_rows(ledger_state *state,
                       const ledger_record *record,
                       const uint8_t *peer_key,
                       bool self_is_lender)
{
    for (uint32_t i = 0; i < record->amount_count; i++) {
        const ledger_amount *amount = &record->amounts[i];
        ledger_row *row = row_insert(state, peer_key, amount->resource_class, amount->model);
        if (self_is_lender) {
            row->lent_milli += amount->amount_milli;
        } else {
            row->borrowed_milli += amount->amount_milli;
        }
        row->dirty = true;
    }
}

static void apply_score(ledger_state *state,
                        const ledger_record *record,
                        const uint8_t *peer_key,
                        bool self_is_lender)
{
    // The peer's score: what it lent us counts for it, what it borrowed
    // from us against it; older usage weighs less.
    ledger_score *score = score_insert(state, peer_key);
    uint64_t elapsed =
        record->time_ns > score->updated_ns ? (uint64_t) (record->time_ns - score->updated_ns) : 0;
    int64_t value = score->updated_ns == 0 && score->score_milli == 0
                        ? 0
                        : ledger_decay(score->score_milli, elapsed, state->half_life_ns);
    int64_t delta = (int64_t) ledger_weighted_milli(record);
    value = saturate(self_is_lender ? value - delta : value + delta);
    score->score_milli = value;
    if (record->time_ns > score->updated_ns) {
        score->updated_ns = record->time_ns;
    }
    score->dirty = true;
}

mesh_err ledger_state_apply(ledger_state *state,
                            const ledger_record *record,
                            uint64_t seq,
                            const char **why_out)
{
    MESH_ASSERT(state != NULL && record != NULL);
    MESH_ASSERT(seq > 0);
    const char *why_local = NULL;
    const char **why = why_out != NULL ? why_out : &why_local;
    bool self_is_lender = memcmp(record->lender_key, state->self_key, LEDGER_KEY_SIZE) == 0;
    bool self_is_borrower = memcmp(record->borrower_key, state->self_key, LEDGER_KEY_SIZE) == 0;
    if (self_is_lender == self_is_borrower) {
        *why = "this ledger's key is not a party";
        return MESH_EINVAL;
    }
    const uint8_t *peer_key = self_is_lender ? record->borrower_key : record->lender_key;
    uint32_t index = 0;
    mesh_err err = check_transition(state, record, peer_key, self_is_lender, &index, why);
    if (err != MESH_OK) {
        return err;
    }
    bool counts = counts_in_balances(record->kind);
    if (counts) {
        err = check_balances(state, record, peer_key, self_is_lender, why);
        if (err != MESH_OK) {
            return err;
        }
    }
    ledger_slot *slot = &state->slots[index];
    if (!state->replaying && !slot->dirty && state->dirty_slot_count >= state->dirty_slots_max) {
        *why = "group full";
        return MESH_EFULL;
    }
    // Every check passed: from here on nothing fails.
    if (!slot->used) {
        memset(slot, 0, sizeof(*slot));
        slot->used = true;
        memcpy(slot->lease.lease_id, record->lease_id, LEDGER_LEASE_ID_SIZE);
        memcpy(slot->lease.peer_key, peer_key, LEDGER_KEY_SIZE);
        slot->lease.self_is_lender = self_is_lender;
        slot->lease.opened_ns = record->time_ns;
        slot->lease.first_seq = seq;
        state->lease_count++;
    }
    slot->lease.state = state_after(record->kind, slot->lease.state);
    slot->lease.record_count++;
    slot->lease.last_seq = seq;
    if (!state->replaying && !slot->dirty) {
        slot->dirty = true;
        state->dirty_slots[state->dirty_slot_count++] = index;
    }
    if (counts && !state->catching_up) {
        apply_rows(state, record, peer_key, self_is_lender);
    }
    if (counts) {
        apply_score(state, record, peer_key, self_is_lender);
    }
    MESH_ASSERT(slot->lease.state >= 1 && slot->lease.state <= LEDGER_LEASE_STATE_MAX);
    return MESH_OK;
}

/* Keys and values. */

uint32_t ledger_key_journal(uint64_t seq, uint8_t key[LEDGER_JOURNAL_KEY_SIZE])
{
    key[0] = LEDGER_PREFIX_JOURNAL;
    ledger_put_u64(key + 1, seq);
    return LEDGER_JOURNAL_KEY_SIZE;
}

// The longest key of all: a balance row of a GPU model of the longest name
// (64 bytes were too few for it, and a 32-byte model, which the record
// rules allow, overran the batch builder's key slot).
_Static_assert(3u + LEDGER_KEY_SIZE + LEDGER_MODEL_SIZE_MAX <= LEDGER_STORE_KEY_SIZE_MAX,
               "every balance key fits a store key");

uint32_t ledger_key_row(const ledger_row *row, uint8_t *key)
{
    size_t model_size = strlen(row->model);
    MESH_ASSERT(model_size <= LEDGER_MODEL_SIZE_MAX);
    key[0] = LEDGER_PREFIX_BALANCE;
    memcpy(key + 1, row->peer_key, LEDGER_KEY_SIZE);
    key[1 + LEDGER_KEY_SIZE] = (uint8_t) row->resource_class;
    key[2 + LEDGER_KEY_SIZE] = (uint8_t) model_size;
    memcpy(key + 3 + LEDGER_KEY_SIZE, row->model, model_size);
    return 3u + LEDGER_KEY_SIZE + (uint32_t) model_size;
}

void ledger_value_row(const ledger_row *row, uint8_t value[LEDGER_BALANCE_VALUE_SIZE])
{
    ledger_put_u64(value, row->lent_milli);
    ledger_put_u64(value + 8, row->borrowed_milli);
}

uint32_t ledger_key_score(const ledger_score *score, uint8_t *key)
{
    key[0] = LEDGER_PREFIX_SCORE;
    memcpy(key + 1, score->peer_key, LEDGER_KEY_SIZE);
    return 1u + LEDGER_KEY_SIZE;
}

void ledger_value_score(const ledger_score *score, uint8_t value[LEDGER_SCORE_VALUE_SIZE])
{
    ledger_put_u64(value, (uint64_t) score->score_milli);
    ledger_put_u64(value + 8, (uint64_t) score->updated_ns);
}

uint32_t ledger_key_lease(const ledger_lease *lease, uint8_t *key)
{
    key[0] = LEDGER_PREFIX_LEASE;
    memcpy(key + 1, lease->lease_id, LEDGER_LEASE_ID_SIZE);
    return 1u + LEDGER_LEASE_ID_SIZE;
}

void ledger_value_lease(const ledger_lease *lease, uint8_t value[LEDGER_LEASE_VALUE_SIZE])
{
    memcpy(value, lease->peer_key, LEDGER_KEY_SIZE);
    uint8_t *at = value + LEDGER_KEY_SIZE;
    at[0] = (uint8_t) lease->state;
    at[1] = lease->self_is_lender ? 1 : 0;
    put_u32(at + 2, lease->record_count);
    ledger_put_u64(at + 6, (uint64_t) lease->opened_ns);
    ledger_put_u64(at + 14, lease->first_seq);
    ledger_put_u64(at + 22, lease->last_seq);
}

uint32_t ledger_key_by_peer(const ledger_lease *lease, uint8_t *key)
{
    key[0] = LEDGER_PREFIX_BY_PEER;
    memcpy(key + 1, lease->peer_key, LEDGER_KEY_SIZE);
    memcpy(key + 1 + LEDGER_KEY_SIZE, lease->lease_id, LEDGER_LEASE_ID_SIZE);
    return 1u + LEDGER_KEY_SIZE + LEDGER_LEASE_ID_SIZE;
}

uint32_t ledger_key_by_state(const ledger_lease *lease, uint32_t state, uint8_t *key)
{
    key[0] = LEDGER_PREFIX_BY_STATE;
    key[1] = (uint8_t) state;
    memcpy(key + 2, lease->lease_id, LEDGER_LEASE_ID_SIZE);
    return 2u + LEDGER_LEASE_ID_SIZE;
}

void ledger_value_head(uint64_t seq,
                       const uint8_t hash[LEDGER_HASH_SIZE],
                       uint8_t value[LEDGER_HEAD_VALUE_SIZE])
{
    ledger_put_u64(value, seq);
    memcpy(value + 8, hash, LEDGER_HASH_SIZE);
}

mesh_err ledger_parse_head(const uint8_t *value,
                           uint32_t value_size,
                           uint64_t *seq_out,
                           uint8_t hash_out[LEDGER_HASH_SIZE])
{
    if (value_size != LEDGER_HEAD_VALUE_SIZE) {
        return MESH_ECORRUPT;
    }
    *seq_out = ledger_get_u64(value);
    memcpy(hash_out, value + 8, LEDGER_HASH_SIZE);
    return MESH_OK;
}

/* Loading (hostile bytes from the store). */

mesh_err ledger_state_load_row(ledger_state *state,
                               const uint8_t *key,
                               uint32_t key_size,
                               const uint8_t *value,
                               uint32_t value_size)
{
    if (key_size < 3u + LEDGER_KEY_SIZE || value_size != LEDGER_BALANCE_VALUE_SIZE) {
        return MESH_ECORRUPT;
    }
    uint32_t model_size = key[2 + LEDGER_KEY_SIZE];
    uint32_t resource_class = key[1 + LEDGER_KEY_SIZE];
    if (model_size > LEDGER_MODEL_SIZE_MAX || key_size != 3u + LEDGER_KEY_SIZE + model_size ||
        resource_class < 1 || resource_class > LEDGER_CLASS_MAX) {
        return MESH_ECORRUPT;
    }
    char model[LEDGER_MODEL_SIZE_MAX + 1];
    memcpy(model, key + 3 + LEDGER_KEY_SIZE, model_size);
    model[model_size] = '\0';
    if (strlen(model) != model_size ||
        ledger_state_find_row(state, key + 1, resource_class, model)) {
        return MESH_ECORRUPT;
    }
    if (state->row_count >= state->rows_max) {
        return MESH_EFULL;
    }
    ledger_row *row = row_insert(state, key + 1, resource_class, model);
    row->lent_milli = ledger_get_u64(value);
    row->borrowed_milli = ledger_get_u64(value + 8);
    return MESH_OK;
}

mesh_err ledger_state_load_score(ledger_state *state,
                                 const uint8_t *key,
                                 uint32_t key_size,
                                 const uint8_t *value,
                                 uint32_t value_size)
{
    if (key_size != 1u + LEDGER_KEY_SIZE || value_size != LEDGER_SCORE_VALUE_SIZE) {
        return MESH_ECORRUPT;
    }
    int64_t score_milli = (int64_t) ledger_get_u64(value);
    if (score_milli > LEDGER_SCORE_LIMIT || score_milli < -LEDGER_SCORE_LIMIT ||
        ledger_state_find_score(state, key + 1) != NULL) {
        return MESH_ECORRUPT;
    }
    if (state->score_count >= state->scores_max) {
        return MESH_EFULL;
    }
    ledger_score *score = score_insert(state, key + 1);
    score->score_milli = score_milli;
    score->updated_ns = (int64_t) ledger_get_u64(value + 8);
    return MESH_OK;
}

mesh_err ledger_state_load_lease(ledger_state *state,
                                 const uint8_t *key,
                                 uint32_t key_size,
                                 const uint8_t *value,
                                 uint32_t value_size)
{
    if (key_size != 1u + LEDGER_LEASE_ID_SIZE || value_size != LEDGER_LEASE_VALUE_SIZE) {
        return MESH_ECORRUPT;
    }
    const uint8_t *at = value + LEDGER_KEY_SIZE;
    if (at[0] < 1 || at[0] > LEDGER_LEASE_STATE_MAX || at[1] > 1) {
        return MESH_ECORRUPT;
    }
    uint32_t index = lease_probe(state, key + 1);
    ledger_slot *slot = &state->slots[index];
    if (slot->used) {
        return MESH_ECORRUPT;
    }
    if (state->lease_count >= state->leases_max) {
        return MESH_EFULL;
    }
    memset(slot, 0, sizeof(*slot));
    slot->used = true;
    ledger_lease *lease = &slot->lease;
    memcpy(lease->lease_id, key + 1, LEDGER_LEASE_ID_SIZE);
    memcpy(lease->peer_key, value, LEDGER_KEY_SIZE);
    lease->state = at[0];
    lease->self_is_lender = at[1] == 1;
    lease->record_count = get_u32(at + 2);
    lease->opened_ns = (int64_t) ledger_get_u64(at + 6);
    lease->first_seq = ledger_get_u64(at + 14);
    lease->last_seq = ledger_get_u64(at + 22);
    slot->stored_state = lease->state;
    state->lease_count++;
    return MESH_OK;
}

void ledger_key_text(const uint8_t *key, uint32_t key_size, char *text, uint32_t text_size)
{
    MESH_ASSERT(text != NULL && text_size >= 32);
    char hex[2 * LEDGER_STORE_KEY_SIZE_MAX + 1];
    if (key_size == 0) {
        (void) snprintf(text, text_size, "(empty key)");
        return;
    }
    if (key[0] == LEDGER_PREFIX_JOURNAL && key_size == LEDGER_JOURNAL_KEY_SIZE) {
        (void) snprintf(text, text_size, "j/%llu", (unsigned long long) ledger_get_u64(key + 1));
        return;
    }
    uint32_t size =
        key_size - 1 < LEDGER_STORE_KEY_SIZE_MAX ? key_size - 1 : LEDGER_STORE_KEY_SIZE_MAX;
    ledger_hex(key + 1, size, hex, sizeof(hex));
    if (key[0] >= 0x21 && key[0] <= 0x7e) {
        (void) snprintf(text, text_size, "%c/%s", key[0], hex);
    } else {
        (void) snprintf(text, text_size, "0x%02x/%s", key[0], hex);
    }
}
