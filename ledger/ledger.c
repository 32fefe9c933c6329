/*
 * ledger/ledger.c: the ledger: open, append, group commit, queries.
 *
 * The hot path is append then commit, and it never reads the store: the
 * head hash, the balances, the scores and the leases live in memory
 * (ledger_state), loaded once at open. An append encodes the record and
 * the entry straight into the group arena, hashes it, and applies the
 * record to the state, which marks what it changed. A commit turns the
 * group into one batch, in this order:
 *
 *     entries (ascending seq), the balance rows they changed, at a
 *     checkpoint the scores, leases and index keys changed since the last
 *     one and the checkpoint key, and last the head
 *
 * and writes it, synced or not. Only after a synced write returns are
 * acknowledgements delivered, so an acknowledged record is on disk. The
 * head goes last so that a backend which tears a batch (the memory store's
 * fault injection; RocksDB's batches are atomic) leaves either the whole
 * batch or entries past the head, which open detects and repairs.
 *
 * A commit is begin (build the batch from the group, copying every derived
 * value, and start the next group), the store's write, and end (deliver
 * the acknowledgements). ledger_commit does the three in a row; a shell
 * with a spare core can run the write on a thread while appends fill the
 * next group (two arenas, one batch in flight at a time).
 *
 * When a write fails, the in-memory state is ahead of the store: it is
 * reloaded from the store, and the staged records are dropped without
 * acknowledgement; if the reload fails too, the ledger refuses appends.
 *
 * Memory: every table, both arenas and the commit's scratch are allocated
 * in ledger_open from the config's limits.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ledger/ledger_int.h"
#include "wire/wire.h"

typedef struct staged {
    uint64_t seq;
    uint64_t token;
    uint32_t offset; /* of the stored value in the arena */
    uint32_t size;
} staged;

typedef struct pending_ack {
    uint64_t seq;
    uint64_t token;
} pending_ack;

typedef struct staged_cert {
    uint8_t key[LEDGER_CERT_KEY_SIZE]; /* "k" || hash */
    uint32_t size;                     /* its frame is at cert_arena + index * FRAME_SIZE_MAX */
} staged_cert;

/* A group of staged records: their stored values, back to back; and the
 * certificates put since the last commit. */
typedef struct group {
    uint8_t *arena; /* group_records_max * LEDGER_VALUE_SIZE_MAX */
    uint32_t arena_used;
    staged *staged;
    uint32_t staged_count;
    uint8_t *cert_arena; /* LEDGER_GROUP_CERTS_MAX * LEDGER_CERT_FRAME_SIZE_MAX */
    staged_cert *certs;  /* LEDGER_GROUP_CERTS_MAX */
    uint32_t cert_count;
} group;

struct ledger {
    ledger_config config;
    ledger_store store;
    ledger_state state;
    bool failed;
    /* Appends fill groups[current]; a begun commit's group is the other
     * one until its end, so that the next group fills meanwhile. */
    group groups[2];
    uint32_t current;
    bool in_flight;
    bool flight_sync;
    pending_ack *pending;
    uint32_t pending_count;
    uint32_t pending_max;
    uint32_t commits_since_checkpoint;
    ledger_op *ops;
    uint32_t ops_max;
    uint8_t *scratch; /* keys and values of derived ops */
    uint32_t scratch_size;
};

#define PENDING_GROUPS         4u /* commits without sync that may wait for a sync */
#define SCRATCH_VALUE_SIZE_MAX 64u
#define SCRATCH_PER_OP         (LEDGER_STORE_KEY_SIZE_MAX + SCRATCH_VALUE_SIZE_MAX)

_Static_assert(LEDGER_LEASE_VALUE_SIZE <= SCRATCH_VALUE_SIZE_MAX, "scratch fits a lease row");
_Static_assert(LEDGER_HEAD_VALUE_SIZE <= SCRATCH_VALUE_SIZE_MAX, "scratch fits the head");

void ledger_config_default(ledger_config *config)
{
    MESH_ASSERT(config != NULL);
    memset(config, 0, sizeof(*config));
    config->half_life_ns = 86400ull * MESH_NS_PER_S;
    config->leases_max = 65536;
    config->balance_rows_max = 4096;
    config->peers_max = 1024;
    config->group_records_max = 1024;
}

static bool key_is_zero(const uint8_t *key)
{
    uint8_t zero[LEDGER_KEY_SIZE] = {0};
    return sodium_memcmp(key, zero, LEDGER_KEY_SIZE) == 0;
}

mesh_err ledger_store_self_key(const ledger_store *store, uint8_t key_out[LEDGER_KEY_SIZE])
{
    MESH_ASSERT(store != NULL && key_out != NULL);
    uint8_t key = LEDGER_PREFIX_META;
    uint8_t value[LEDGER_META_VALUE_SIZE + 1];
    uint32_t size = 0;
    mesh_err err = store->get(store->ctx, &key, 1, value, sizeof(value), &size);
    if (err == MESH_EFULL) {
        return MESH_ECORRUPT;
    }
    if (err != MESH_OK) {
        return err;
    }
    if (size != LEDGER_META_VALUE_SIZE || value[0] != LEDGER_FORMAT_VERSION) {
        return MESH_ECORRUPT;
    }
    memcpy(key_out, value + 1, LEDGER_KEY_SIZE);
    return MESH_OK;
}

// A new ledger: its owner's key and an empty checkpoint.
static mesh_err write_meta(const ledger_store *store, const uint8_t *self_key)
{
    uint8_t meta_key = LEDGER_PREFIX_META;
    uint8_t checkpoint_key = LEDGER_PREFIX_CHECKPOINT;
    uint8_t value[LEDGER_META_VALUE_SIZE];
    uint8_t zero[8] = {0};
    value[0] = LEDGER_FORMAT_VERSION;
    memcpy(value + 1, self_key, LEDGER_KEY_SIZE);
    ledger_op ops[2] = {
        {.key = &checkpoint_key, .key_size = 1, .value = zero, .value_size = sizeof(zero)},
        {.key = &meta_key, .key_size = 1, .value = value, .value_size = sizeof(value)},
    };
    ledger_batch batch = {.ops = ops, .count = 2};
    return store->write(store->ctx, &batch, true);
}

/* Loading the derived state. */

/* A loader of one family of keys into the state (ledger_state_load_*). */
typedef mesh_err (*state_loader)(ledger_state *state,
                                 const uint8_t *key,
                                 uint32_t key_size,
                                 const uint8_t *value,
                                 uint32_t value_size);

typedef struct load_context {
    ledger_state *state;
    state_loader load;
    mesh_err err;
    bool any;
} load_context;

static bool load_visit(
    void *arg, const uint8_t *key, uint32_t key_size, const uint8_t *value, uint32_t value_size)
{
    load_context *context = arg;
    context->err = context->load(context->state, key, key_size, value, value_size);
    return context->err == MESH_OK;
}

static bool any_visit(
    void *arg, const uint8_t *key, uint32_t key_size, const uint8_t *value, uint32_t value_size)
{
    (void) key;
    (void) key_size;
    (void) value;
    (void) value_size;
    load_context *context = arg;
    context->any = true;
    return false;
}

static mesh_err scan_family(const ledger_store *store,
                            uint8_t prefix,
                            ledger_store_visit visit,
                            load_context *context)
{
    context->err = MESH_OK;
    mesh_err err = store->scan(store->ctx, &prefix, 1, NULL, 0, visit, context);
    return err != MESH_OK ? err : context->err;
}

static mesh_err load_head(const ledger_store *store, ledger_state *state)
{
    uint8_t key = LEDGER_PREFIX_HEAD;
    uint8_t value[LEDGER_HEAD_VALUE_SIZE + 1];
    uint32_t size = 0;
    mesh_err err = store->get(store->ctx, &key, 1, value, sizeof(value), &size);
    if (err == MESH_ENOTFOUND) {
        state->head_seq = 0;
        memset(state->head_hash, 0, LEDGER_HASH_SIZE);
        return MESH_OK;
    }
    if (err == MESH_EFULL) {
        return MESH_ECORRUPT;
    }
    if (err != MESH_OK) {
        return err;
    }
    return ledger_parse_head(value, size, &state->head_seq, state->head_hash);
}

// The hash of entry seq (zeros for 0), from its stored value's tail.
static mesh_err entry_hash_at(const ledger_store *store, uint64_t seq, uint8_t *hash_out)
{
    memset(hash_out, 0, LEDGER_HASH_SIZE);
    if (seq == 0) {
        return MESH_OK;
    }
    uint8_t key[LEDGER_JOURNAL_KEY_SIZE];
    uint8_t value[LEDGER_VALUE_SIZE_MAX];
    uint32_t size = 0;
    mesh_err err =
        store->get(store->ctx, key, ledger_key_journal(seq, key), value, sizeof(value), &size);
    if (err == MESH_ENOTFOUND || err == MESH_EFULL ||
        (err == MESH_OK && size <= LEDGER_HASH_SIZE)) {
        return MESH_ECORRUPT;
    }
    if (err == MESH_OK) {
        memcpy(hash_out, value + size - LEDGER_HASH_SIZE, LEDGER_HASH_SIZE);
    }
    return err;
}

// Leases and scores are stored as of the checkpoint: replay the journal
// from there to the head for them (balance rows are already current).
static mesh_err catch_up(const ledger_store *store, ledger_state *state)
{
    uint64_t head_seq = state->head_seq;
    uint8_t head_hash[LEDGER_HASH_SIZE];
    memcpy(head_hash, state->head_hash, LEDGER_HASH_SIZE);
    uint64_t checkpoint = 0;
    bool present = false;
    mesh_err err = ledger_read_checkpoint(store, &checkpoint, &present);
    if (err != MESH_OK) {
        return err;
    }
    if (!present || checkpoint > head_seq) {
        return MESH_ECORRUPT;
    }
    if (checkpoint == head_seq) {
        return MESH_OK;
    }
    state->head_seq = checkpoint;
    err = entry_hash_at(store, checkpoint, state->head_hash);
    if (err == MESH_OK) {
        state->catching_up = true;
        err = ledger_replay(store, state, head_seq, false, NULL);
        state->catching_up = false;
    }
    if (err == MESH_ENOMEM) {
        return MESH_EFULL;
    }
    if (err == MESH_OK && (state->head_seq != head_seq ||
                           memcmp(state->head_hash, head_hash, LEDGER_HASH_SIZE) != 0)) {
        return MESH_ECORRUPT;
    }
    return err;
}

// Loads head, rows, scores and leases; *torn_out when entries exist past
// the head.
static mesh_err state_load(const ledger_store *store, ledger_state *state, bool *torn_out)
{
    ledger_state_reset(state);
    mesh_err err = load_head(store, state);
    if (err != MESH_OK) {
        return err;
    }
    if (state->head_seq == UINT64_MAX) {
        return MESH_ECORRUPT;
    }
    load_context context = {.state = state, .load = NULL, .err = MESH_OK, .any = false};
    uint8_t start[LEDGER_JOURNAL_KEY_SIZE];
    uint32_t start_size = ledger_key_journal(state->head_seq + 1, start);
    uint8_t prefix = LEDGER_PREFIX_JOURNAL;
    err = store->scan(store->ctx, &prefix, 1, start, start_size, any_visit, &context);
    if (err != MESH_OK) {
        return err;
    }
    *torn_out = context.any;
    static const struct {
        uint8_t prefix;
        state_loader load;
    } families[] = {{LEDGER_PREFIX_BALANCE, ledger_state_load_row},
                    {LEDGER_PREFIX_SCORE, ledger_state_load_score},
                    {LEDGER_PREFIX_LEASE, ledger_state_load_lease}};
    for (uint32_t i = 0; err == MESH_OK && i < MESH_ARRAY_COUNT(families); i++) {
        context.load = families[i].load;
        err = scan_family(store, families[i].prefix, load_visit, &context);
    }
    if (err == MESH_OK && !*torn_out) {
        err = catch_up(store, state);
    }
    return err;
}

static mesh_err ledger_load(ledger *l)
{
    bool torn = false;
    mesh_err err = state_load(&l->store, &l->state, &torn);
    if (err == MESH_OK && torn) {
        err = ledger_repair(&l->store, &l->state);
    }
    return err;
}

mesh_err ledger_open(const ledger_config *config, const ledger_store *store, ledger **ledger_out)
{
    MESH_ASSERT(config != NULL && store != NULL);
    MESH_ASSERT(ledger_out != NULL);
    if (config->half_life_ns == 0 || config->group_records_max == 0 ||
        config->group_records_max > (1u << 20) || config->balance_rows_max > (1u << 24) ||
        config->peers_max > (1u << 24)) {
        return MESH_EINVAL;
    }
    uint8_t self_key[LEDGER_KEY_SIZE];
    mesh_err err = ledger_store_self_key(store, self_key);
    if (err == MESH_ENOTFOUND) {
        if (key_is_zero(config->self_key)) {
            return MESH_ENOTFOUND;
        }
        memcpy(self_key, config->self_key, LEDGER_KEY_SIZE);
        err = write_meta(store, self_key);
    } else if (err == MESH_OK && !key_is_zero(config->self_key) &&
               sodium_memcmp(self_key, config->self_key, LEDGER_KEY_SIZE) != 0) {
        err = MESH_EINVAL;
    }
    if (err != MESH_OK) {
        return err;
    }
    ledger *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        return MESH_ENOMEM;
    }
    l->config = *config;
    memcpy(l->config.self_key, self_key, LEDGER_KEY_SIZE);
    l->store = *store;
    uint32_t group_max = config->group_records_max;
    l->pending_max = group_max * PENDING_GROUPS;
    // Derived ops per commit: every balance row and score at most once;
    // per lease changed since the checkpoint (fewer than
    // LEDGER_CHECKPOINT_LEASES before this group) a row, a peer index, a
    // state index put and a state index delete; the head and checkpoint;
    // and the certificates put since the last commit.
    uint32_t derived = config->balance_rows_max + config->peers_max +
                       4u * (LEDGER_CHECKPOINT_LEASES + group_max) + 2u + LEDGER_GROUP_CERTS_MAX;
    l->ops_max = group_max + derived;
    l->scratch_size = derived * SCRATCH_PER_OP;
    bool allocated = true;
    for (uint32_t g = 0; g < 2; g++) {
        l->groups[g].arena = malloc((size_t) group_max * LEDGER_VALUE_SIZE_MAX);
        l->groups[g].staged = calloc(group_max, sizeof(staged));
        l->groups[g].cert_arena =
            malloc((size_t) LEDGER_GROUP_CERTS_MAX * LEDGER_CERT_FRAME_SIZE_MAX);
        l->groups[g].certs = calloc(LEDGER_GROUP_CERTS_MAX, sizeof(staged_cert));
        allocated = allocated && l->groups[g].arena != NULL && l->groups[g].staged != NULL &&
                    l->groups[g].cert_arena != NULL && l->groups[g].certs != NULL;
    }
    l->pending = calloc(l->pending_max, sizeof(pending_ack));
    l->ops = calloc(l->ops_max, sizeof(ledger_op));
    l->scratch = malloc(l->scratch_size);
    if (!allocated || l->pending == NULL || l->ops == NULL || l->scratch == NULL) {
        ledger_close(l);
        return MESH_ENOMEM;
    }
    err = ledger_state_init(&l->state, self_key, config->half_life_ns, config->leases_max,
                            config->balance_rows_max, config->peers_max, config->leases_max);
    if (err == MESH_OK) {
        err = ledger_load(l);
    }
    if (err != MESH_OK) {
        ledger_close(l);
        return err;
    }
    *ledger_out = l;
    return MESH_OK;
}

void ledger_close(ledger *l)
{
    if (l == NULL) {
        return;
    }
    ledger_state_fini(&l->state);
    for (uint32_t g = 0; g < 2; g++) {
        free(l->groups[g].arena);
        free(l->groups[g].staged);
        free(l->groups[g].cert_arena);
        free(l->groups[g].certs);
    }
    free(l->pending);
    free(l->ops);
    free(l->scratch);
    free(l);
}

mesh_err ledger_append(ledger *l,
                       const ledger_record *record,
                       const uint8_t *lender_signature,
                       const uint8_t *borrower_signature,
                       uint64_t token,
                       uint64_t *seq_out)
{
    MESH_ASSERT(l != NULL && record != NULL);
    group *g = &l->groups[l->current];
    MESH_ASSERT(g->staged_count <= l->config.group_records_max);
    if (l->failed) {
        return MESH_ESTORE;
    }
    uint32_t flying = l->in_flight ? l->groups[1 - l->current].staged_count : 0;
    if (g->staged_count == l->config.group_records_max ||
        l->pending_count + flying + g->staged_count >= l->pending_max) {
        return MESH_EFULL;
    }
    uint8_t record_bytes[LEDGER_RECORD_SIZE_MAX];
    uint32_t record_size = 0;
    mesh_err err = ledger_record_encode(record, record_bytes, sizeof(record_bytes), &record_size);
    if (err != MESH_OK) {
        return MESH_EINVAL;
    }
    uint64_t seq = l->state.head_seq + 1;
    uint8_t *value = g->arena + g->arena_used;
    uint32_t size = 0;
    err = ledger_entry_encode(seq, l->state.head_hash, record_bytes, record_size, lender_signature,
                              borrower_signature, value, LEDGER_VALUE_SIZE_MAX, &size);
    MESH_ASSERT(err == MESH_OK); /* sizes are bounded by construction */
    err = ledger_state_apply(&l->state, record, seq, NULL);
    if (err != MESH_OK) {
        return err;
    }
    l->state.head_seq = seq;
    memcpy(l->state.head_hash, value + size - LEDGER_HASH_SIZE, LEDGER_HASH_SIZE);
    g->staged[g->staged_count++] =
        (staged){.seq = seq, .token = token, .offset = g->arena_used, .size = size};
    g->arena_used += size;
    if (seq_out != NULL) {
        *seq_out = seq;
    }
    return MESH_OK;
}

/* Certificates. */

static bool group_has_cert(const group *g, const uint8_t *key)
{
    for (uint32_t i = 0; i < g->cert_count; i++) {
        if (memcmp(g->certs[i].key, key, LEDGER_CERT_KEY_SIZE) == 0) {
            return true;
        }
    }
    return false;
}

// A frame the certificate family accepts: a certificate envelope of at
// most LEDGER_CERT_FRAME_SIZE_MAX bytes whose BLAKE2b-256 is hash. The
// root signature is not checked here: the ledger has no root key; the
// audit checks it.
static bool certificate_frame_valid(const uint8_t *hash, const uint8_t *frame, uint32_t size)
{
    if (frame == NULL || size == 0 || size > LEDGER_CERT_FRAME_SIZE_MAX) {
        return false;
    }
    wire_envelope envelope;
    if (wire_envelope_decode(frame, size, &envelope, NULL) != MESH_OK ||
        envelope.type != WIRE_TYPE_CERT) {
        return false;
    }
    uint8_t computed[LEDGER_HASH_SIZE];
    MESH_ASSERT(crypto_generichash(computed, sizeof(computed), frame, size, NULL, 0) == 0);
    return memcmp(computed, hash, LEDGER_HASH_SIZE) == 0;
}

mesh_err ledger_put_certificate(ledger *l,
                                const uint8_t hash[LEDGER_HASH_SIZE],
                                const uint8_t *frame,
                                uint32_t frame_size)
{
    MESH_ASSERT(l != NULL && hash != NULL);
    if (l->failed) {
        return MESH_ESTORE;
    }
    if (!certificate_frame_valid(hash, frame, frame_size)) {
        return MESH_EINVAL;
    }
    uint8_t key[LEDGER_CERT_KEY_SIZE];
    key[0] = LEDGER_PREFIX_CERTIFICATE;
    memcpy(key + 1, hash, LEDGER_HASH_SIZE);
    group *g = &l->groups[l->current];
    MESH_ASSERT(g->cert_count <= LEDGER_GROUP_CERTS_MAX);
    // Staged here or in the batch in flight: nothing to do. Stored: the
    // same bytes (a hash names them), never written again.
    if (group_has_cert(g, key) ||
        (l->in_flight && group_has_cert(&l->groups[1 - l->current], key))) {
        return MESH_OK;
    }
    uint8_t value[LEDGER_CERT_FRAME_SIZE_MAX];
    uint32_t size = 0;
    mesh_err err = l->store.get(l->store.ctx, key, sizeof(key), value, sizeof(value), &size);
    if (err == MESH_OK || err == MESH_EFULL) {
        return MESH_OK;
    }
    if (err != MESH_ENOTFOUND) {
        return MESH_ESTORE;
    }
    if (g->cert_count == LEDGER_GROUP_CERTS_MAX) {
        return MESH_EFULL;
    }
    staged_cert *cert = &g->certs[g->cert_count];
    memcpy(cert->key, key, sizeof(key));
    cert->size = frame_size;
    memcpy(g->cert_arena + (size_t) g->cert_count * LEDGER_CERT_FRAME_SIZE_MAX, frame, frame_size);
    g->cert_count++;
    return MESH_OK;
}

/* Building the batch. */

typedef struct batch_builder {
    ledger *ledger;
    uint32_t count;
    uint32_t scratch_used;
} batch_builder;

static uint8_t *builder_scratch(batch_builder *b)
{
    MESH_ASSERT(b->scratch_used + SCRATCH_PER_OP <= b->ledger->scratch_size);
    uint8_t *at = b->ledger->scratch + b->scratch_used;
    b->scratch_used += SCRATCH_PER_OP;
    return at;
}

static void builder_push(batch_builder *b,
                         bool is_delete,
                         const uint8_t *key,
                         uint32_t key_size,
                         const uint8_t *value,
                         uint32_t value_size)
{
    MESH_ASSERT(b->count < b->ledger->ops_max);
    MESH_ASSERT(key_size <= LEDGER_STORE_KEY_SIZE_MAX);
    b->ledger->ops[b->count++] = (ledger_op){.is_delete = is_delete,
                                             .key = key,
                                             .key_size = key_size,
                                             .value = value,
                                             .value_size = value_size};
}

static void build_lease_ops(batch_builder *b, const ledger_slot *slot)
{
    const ledger_lease *lease = &slot->lease;
    uint8_t *at = builder_scratch(b);
    uint32_t key_size = ledger_key_lease(lease, at);
    ledger_value_lease(lease, at + LEDGER_STORE_KEY_SIZE_MAX);
    builder_push(b, false, at, key_size, at + LEDGER_STORE_KEY_SIZE_MAX, LEDGER_LEASE_VALUE_SIZE);
    if (slot->stored_state == 0) {
        at = builder_scratch(b);
        builder_push(b, false, at, ledger_key_by_peer(lease, at), NULL, 0);
    }
    if (slot->stored_state != lease->state) {
        if (slot->stored_state != 0) {
            at = builder_scratch(b);
            builder_push(b, true, at, ledger_key_by_state(lease, slot->stored_state, at), NULL, 0);
        }
        at = builder_scratch(b);
        builder_push(b, false, at, ledger_key_by_state(lease, lease->state, at), NULL, 0);
    }
}

static uint32_t build_batch(ledger *l, const group *g, bool checkpoint)
{
    batch_builder b = {.ledger = l, .count = 0, .scratch_used = 0};
    for (uint32_t i = 0; i < g->staged_count; i++) {
        const staged *s = &g->staged[i];
        uint8_t *at = builder_scratch(&b);
        uint32_t key_size = ledger_key_journal(s->seq, at);
        builder_push(&b, false, at, key_size, g->arena + s->offset, s->size);
    }
    MESH_ASSERT(g->cert_count <= LEDGER_GROUP_CERTS_MAX);
    for (uint32_t i = 0; i < g->cert_count; i++) {
        builder_push(&b, false, g->certs[i].key, LEDGER_CERT_KEY_SIZE,
                     g->cert_arena + (size_t) i * LEDGER_CERT_FRAME_SIZE_MAX, g->certs[i].size);
    }
    ledger_state *state = &l->state;
    for (uint32_t i = 0; i < state->row_count; i++) {
        if (!state->rows[i].dirty) {
            continue;
        }
        uint8_t *at = builder_scratch(&b);
        uint32_t key_size = ledger_key_row(&state->rows[i], at);
        ledger_value_row(&state->rows[i], at + LEDGER_STORE_KEY_SIZE_MAX);
        builder_push(&b, false, at, key_size, at + LEDGER_STORE_KEY_SIZE_MAX,
                     LEDGER_BALANCE_VALUE_SIZE);
    }
    for (uint32_t i = 0; checkpoint && i < state->score_count; i++) {
        if (!state->scores[i].dirty) {
            continue;
        }
        uint8_t *at = builder_scratch(&b);
        uint32_t key_size = ledger_key_score(&state->scores[i], at);
        ledger_value_score(&state->scores[i], at + LEDGER_STORE_KEY_SIZE_MAX);
        builder_push(&b, false, at, key_size, at + LEDGER_STORE_KEY_SIZE_MAX,
                     LEDGER_SCORE_VALUE_SIZE);
    }
    for (uint32_t i = 0; checkpoint && i < state->dirty_slot_count; i++) {
        build_lease_ops(&b, &state->slots[state->dirty_slots[i]]);
    }
    uint8_t *at = NULL;
    if (checkpoint) {
        at = builder_scratch(&b);
        at[0] = LEDGER_PREFIX_CHECKPOINT;
        ledger_put_u64(at + LEDGER_STORE_KEY_SIZE_MAX, state->head_seq);
        builder_push(&b, false, at, 1, at + LEDGER_STORE_KEY_SIZE_MAX, 8);
    }
    at = builder_scratch(&b);
    at[0] = LEDGER_PREFIX_HEAD;
    ledger_value_head(state->head_seq, state->head_hash, at + LEDGER_STORE_KEY_SIZE_MAX);
    builder_push(&b, false, at, 1, at + LEDGER_STORE_KEY_SIZE_MAX, LEDGER_HEAD_VALUE_SIZE);
    return b.count;
}

static void deliver_acks(ledger *l, ledger_ack_fn on_ack, void *arg)
{
    uint32_t count = l->pending_count;
    l->pending_count = 0;
    for (uint32_t i = 0; on_ack != NULL && i < count; i++) {
        on_ack(arg, l->pending[i].token, l->pending[i].seq);
    }
}

static void group_clear(group *g)
{
    g->staged_count = 0;
    g->arena_used = 0;
    g->cert_count = 0;
}

static mesh_err begin(ledger *l, bool sync, bool force_checkpoint, ledger_batch *batch_out)
{
    MESH_ASSERT(l != NULL && batch_out != NULL);
    if (l->failed) {
        return MESH_ESTORE;
    }
    if (l->in_flight) {
        return MESH_EFULL;
    }
    group *g = &l->groups[l->current];
    if (g->staged_count == 0 && g->cert_count == 0 && !force_checkpoint) {
        return MESH_ENOTFOUND;
    }
    bool checkpoint = force_checkpoint ||
                      l->commits_since_checkpoint + 1 >= LEDGER_CHECKPOINT_COMMITS ||
                      l->state.dirty_slot_count >= LEDGER_CHECKPOINT_LEASES;
    *batch_out = (ledger_batch){.ops = l->ops, .count = build_batch(l, g, checkpoint)};
    // The batch holds copies of the derived values: later appends may
    // change the state, and mark what they change, at once.
    ledger_state_clean_rows(&l->state);
    if (checkpoint) {
        ledger_state_clean_checkpoint(&l->state);
        l->commits_since_checkpoint = 0;
    } else {
        l->commits_since_checkpoint++;
    }
    l->in_flight = true;
    l->flight_sync = sync;
    l->current = 1 - l->current;
    MESH_ASSERT(l->groups[l->current].staged_count == 0);
    return MESH_OK;
}

mesh_err ledger_commit_begin(ledger *l, bool sync, ledger_batch *batch_out)
{
    return begin(l, sync, false, batch_out);
}

mesh_err ledger_commit_end(ledger *l, mesh_err write_result, ledger_ack_fn on_ack, void *arg)
{
    MESH_ASSERT(l != NULL);
    MESH_ASSERT(l->in_flight);
    group *flight = &l->groups[1 - l->current];
    l->in_flight = false;
    if (write_result != MESH_OK) {
        // The state is ahead of the store: forget both groups and reload.
        group_clear(flight);
        group_clear(&l->groups[l->current]);
        if (ledger_load(l) != MESH_OK) {
            l->failed = true;
        }
        return MESH_ESTORE;
    }
    MESH_ASSERT(l->pending_count + flight->staged_count <= l->pending_max);
    for (uint32_t i = 0; i < flight->staged_count; i++) {
        l->pending[l->pending_count++] =
            (pending_ack){.seq = flight->staged[i].seq, .token = flight->staged[i].token};
    }
    group_clear(flight);
    if (l->flight_sync) {
        deliver_acks(l, on_ack, arg);
    }
    return MESH_OK;
}

static mesh_err commit(ledger *l, bool sync, bool force_checkpoint, ledger_ack_fn on_ack, void *arg)
{
    MESH_ASSERT(l != NULL);
    ledger_batch batch;
    mesh_err err = begin(l, sync, force_checkpoint, &batch);
    if (err == MESH_ENOTFOUND) {
        return sync ? ledger_sync(l, on_ack, arg) : MESH_OK;
    }
    if (err != MESH_OK) {
        return err;
    }
    err = l->store.write(l->store.ctx, &batch, sync);
    return ledger_commit_end(l, err, on_ack, arg);
}

mesh_err ledger_commit(ledger *l, bool sync, ledger_ack_fn on_ack, void *arg)
{
    return commit(l, sync, false, on_ack, arg);
}

mesh_err ledger_flush(ledger *l, ledger_ack_fn on_ack, void *arg)
{
    return commit(l, true, true, on_ack, arg);
}

mesh_err ledger_sync(ledger *l, ledger_ack_fn on_ack, void *arg)
{
    MESH_ASSERT(l != NULL);
    if (l->failed) {
        return MESH_ESTORE;
    }
    mesh_err err = l->store.sync(l->store.ctx);
    if (err != MESH_OK) {
        return MESH_ESTORE;
    }
    deliver_acks(l, on_ack, arg);
    return MESH_OK;
}

/* Queries. */

void ledger_head(const ledger *l, uint64_t *seq_out, uint8_t hash_out[LEDGER_HASH_SIZE])
{
    MESH_ASSERT(l != NULL);
    if (seq_out != NULL) {
        *seq_out = l->state.head_seq;
    }
    if (hash_out != NULL) {
        memcpy(hash_out, l->state.head_hash, LEDGER_HASH_SIZE);
    }
}

const uint8_t *ledger_self_key(const ledger *l)
{
    MESH_ASSERT(l != NULL);
    return l->state.self_key;
}

uint32_t ledger_balance_count(const ledger *l)
{
    MESH_ASSERT(l != NULL);
    return l->state.row_count;
}

void ledger_balance_at(const ledger *l, uint32_t index, ledger_balance *balance_out)
{
    MESH_ASSERT(l != NULL && balance_out != NULL);
    MESH_ASSERT(index < l->state.row_count);
    const ledger_row *row = &l->state.rows[index];
    memset(balance_out, 0, sizeof(*balance_out));
    memcpy(balance_out->peer_key, row->peer_key, LEDGER_KEY_SIZE);
    balance_out->resource_class = row->resource_class;
    memcpy(balance_out->model, row->model, sizeof(row->model));
    balance_out->lent_milli = row->lent_milli;
    balance_out->borrowed_milli = row->borrowed_milli;
}

void ledger_peer_totals(const ledger *l,
                        const uint8_t peer_key[LEDGER_KEY_SIZE],
                        uint64_t *lent_out,
                        uint64_t *borrowed_out)
{
    MESH_ASSERT(l != NULL && peer_key != NULL);
    MESH_ASSERT(lent_out != NULL && borrowed_out != NULL);
    // One rounding per peer and side, so that a peer's storage and memory
    // fractions add up before they are dropped.
    ledger_weight_sum lent = {0};
    ledger_weight_sum borrowed = {0};
    for (uint32_t i = 0; i < l->state.row_count; i++) {
        const ledger_row *row = &l->state.rows[i];
        if (memcmp(row->peer_key, peer_key, LEDGER_KEY_SIZE) == 0) {
            ledger_weight_add(&lent, row->resource_class, row->lent_milli);
            ledger_weight_add(&borrowed, row->resource_class, row->borrowed_milli);
        }
    }
    *lent_out = ledger_weight_total(&lent);
    *borrowed_out = ledger_weight_total(&borrowed);
}

int64_t ledger_reciprocity(const ledger *l, const uint8_t peer_key[LEDGER_KEY_SIZE], int64_t now_ns)
{
    MESH_ASSERT(l != NULL && peer_key != NULL);
    const ledger_score *score = ledger_state_find_score(&l->state, peer_key);
    if (score == NULL) {
        return 0;
    }
    uint64_t elapsed = now_ns > score->updated_ns ? (uint64_t) (now_ns - score->updated_ns) : 0;
    return ledger_decay(score->score_milli, elapsed, l->state.half_life_ns);
}

const char *ledger_lease_state_name(uint32_t state)
{
    static const char *const names[] = {"unknown", "open",    "reclaimed", "released",
                                        "expired", "settled", "credit"};
    return state <= LEDGER_LEASE_STATE_MAX ? names[state] : names[0];
}

mesh_err ledger_lease_get(const ledger *l,
                          const uint8_t lease_id[LEDGER_LEASE_ID_SIZE],
                          ledger_lease *lease_out)
{
    MESH_ASSERT(l != NULL && lease_id != NULL);
    MESH_ASSERT(lease_out != NULL);
    const ledger_slot *slot = ledger_state_find_lease(&l->state, lease_id);
    if (slot == NULL) {
        return MESH_ENOTFOUND;
    }
    *lease_out = slot->lease;
    return MESH_OK;
}

static int lease_id_compare(const void *a, const void *b)
{
    return memcmp(a, b, LEDGER_LEASE_ID_SIZE);
}

mesh_err ledger_lease_list(const ledger *l, uint32_t state, ledger_lease_visit visit, void *arg)
{
    MESH_ASSERT(l != NULL && visit != NULL);
    if (state < 1 || state > LEDGER_LEASE_STATE_MAX) {
        return MESH_EINVAL;
    }
    // The table, not the store: the store's indexes are as of the last
    // checkpoint. Ids are collected and sorted so that the order is
    // defined; allocated for the call.
    const ledger_state *s = &l->state;
    uint8_t(*ids)[LEDGER_LEASE_ID_SIZE] = calloc(s->lease_count + 1u, LEDGER_LEASE_ID_SIZE);
    if (ids == NULL) {
        return MESH_ENOMEM;
    }
    uint32_t count = 0;
    for (uint32_t i = 0; i < s->slot_count; i++) {
        if (s->slots[i].used && s->slots[i].lease.state == state) {
            MESH_ASSERT(count < s->lease_count);
            memcpy(ids[count++], s->slots[i].lease.lease_id, LEDGER_LEASE_ID_SIZE);
        }
    }
    qsort(ids, count, LEDGER_LEASE_ID_SIZE, lease_id_compare);
    for (uint32_t i = 0; i < count; i++) {
        const ledger_slot *slot = ledger_state_find_lease(s, ids[i]);
        MESH_ASSERT(slot != NULL);
        if (!visit(arg, &slot->lease)) {
            break;
        }
    }
    free(ids);
    return MESH_OK;
}
