/*
 * sim/replay.c: rebuilds a recorded member and feeds it its inputs again
 * (sim/replay.h has the contract and the digest's encoding).
 *
 * The store the replayed ledger sees is a ledger_mem_store behind a thin
 * vtable of our own: reads pass through; each write or sync takes the
 * next answer the recording holds for the current input. A recorded
 * failure is returned without touching the memory store (RocksDB applies
 * a failed batch not at all), a recorded success is applied, and any call
 * the recording does not have (one too many, or a write where a sync was
 * recorded) is applied as a success and flagged: the outcome says the
 * store was used otherwise, and the caller reports that input.
 *
 * Nothing here reads a clock or a file: the caller hands every input in.
 */
#define _POSIX_C_SOURCE 200809L

#include "sim/replay.h"

#include <stdlib.h>
#include <string.h>

struct sim_replay {
    ledger_mem_store *mem;
    ledger_store mem_vtable;
    ledger_store store; /* the replay's vtable, ctx = this */
    ledger *ledger_handle;
    member_node *member;
    mesh_rng rng;
    bool started; /* an input was fed: no more snapshot */
    sim_replay_digest digest;
    /* The current input's recorded store answers. */
    const sim_replay_store_call *calls;
    uint32_t call_count;
    uint32_t calls_used;
    bool store_mismatch;
};

static const char *const kind_names[SIM_REPLAY_KIND_MAX + 1] = {
    "unknown",      "ledger_open",      "create",         "frame",   "tick",
    "flush",        "borrow",           "release",        "reclaim", "set_load",
    "set_capacity", "update_advert",    "add_revocation", "leave",   "ledger_sync",
    "reconcile",    "revoked_endpoint",
};

const char *sim_replay_kind_name(uint32_t kind)
{
    return kind <= SIM_REPLAY_KIND_MAX ? kind_names[kind] : kind_names[0];
}

/* ------------------------------------------------------------------ */
/* The digest.                                                          */
/* ------------------------------------------------------------------ */

static void put(sim_replay_digest *d, const void *bytes, size_t size)
{
    (void) crypto_generichash_update(&d->state, bytes, size);
}

static void put_u8(sim_replay_digest *d, uint8_t v)
{
    put(d, &v, 1);
}

static void put_u32(sim_replay_digest *d, uint32_t v)
{
    uint8_t b[4];
    for (uint32_t i = 0; i < 4; i++) {
        b[i] = (uint8_t) (v >> (8u * i));
    }
    put(d, b, sizeof(b));
}

static void put_u64(sim_replay_digest *d, uint64_t v)
{
    uint8_t b[8];
    for (uint32_t i = 0; i < 8; i++) {
        b[i] = (uint8_t) (v >> (8u * i));
    }
    put(d, b, sizeof(b));
}

static void put_text(sim_replay_digest *d, const char *text, size_t size_max)
{
    size_t size = text != NULL ? strnlen(text, size_max) : 0;
    put_u32(d, (uint32_t) size);
    put(d, text, size);
}

void sim_replay_digest_init(sim_replay_digest *digest)
{
    MESH_ASSERT(digest != NULL);
    (void) crypto_generichash_init(&digest->state, NULL, 0, SIM_REPLAY_DIGEST_SIZE);
    digest->count = 0;
}

void sim_replay_digest_send(sim_replay_digest *digest,
                            const mesh_node_id *peer,
                            const char *endpoint,
                            const uint8_t *frame,
                            uint32_t frame_size)
{
    static const mesh_node_id zero;
    put_u8(digest, 'S');
    put(digest, (peer != NULL ? peer : &zero)->bytes, MESH_NODE_ID_SIZE);
    put_text(digest, endpoint, WIRE_ENDPOINT_SIZE_MAX);
    put_u32(digest, frame_size);
    put(digest, frame, frame_size);
    digest->count++;
}

static void digest_amounts(sim_replay_digest *d, uint32_t count, const ledger_amount *amounts)
{
    uint32_t n = count <= LEDGER_AMOUNTS_MAX ? count : LEDGER_AMOUNTS_MAX;
    put_u32(d, count);
    for (uint32_t i = 0; i < n; i++) {
        put_u32(d, amounts[i].resource_class);
        put_text(d, amounts[i].model, sizeof(amounts[i].model));
        put_u64(d, amounts[i].amount_milli);
    }
}

void sim_replay_digest_event(sim_replay_digest *digest, member_source source, const void *event)
{
    put_u8(digest, 'E');
    put_u32(digest, (uint32_t) source);
    digest->count++;
    if (source == MEMBER_SOURCE_GOSSIP) {
        const gossip_event *e = event;
        put_u32(digest, (uint32_t) e->kind);
        put(digest, e->member.bytes, MESH_NODE_ID_SIZE);
        put_u32(digest, e->state);
        put_u32(digest, e->previous);
        put_u64(digest, e->sequence);
    } else if (source == MEMBER_SOURCE_LEASE) {
        const lease_event *e = event;
        put_u32(digest, (uint32_t) e->kind);
        put_u8(digest, e->self_is_lender ? 1 : 0);
        put(digest, e->lease_id, LEDGER_LEASE_ID_SIZE);
        put(digest, e->peer.bytes, MESH_NODE_ID_SIZE);
        put_u32(digest, e->borrow_id);
        put_u64(digest, e->tag);
        digest_amounts(digest, e->amount_count, e->amounts);
        put_u64(digest, (uint64_t) e->start_ns);
        put_u64(digest, (uint64_t) e->end_ns);
        put_u32(digest, e->end_kind);
        put_u32(digest, e->status);
        put_u32(digest, e->lease_count);
        put_u32(digest, e->refusal);
        put_u32(digest, e->candidate_count);
        put_text(digest, e->data_class, sizeof(e->data_class));
    } else if (source == MEMBER_SOURCE_RECONCILE) {
        const member_reconcile_result *e = event;
        put_u64(digest, e->request_id);
        put(digest, e->peer.bytes, MESH_NODE_ID_SIZE);
        put_u32(digest, e->status);
        put_u32(digest, e->shared_count);
        put_u32(digest, e->only_here_count);
        put_u32(digest, e->only_there_count);
        put_u32(digest, e->differ_count);
        put_u32(digest, e->mismatch_count);
        put_u8(digest, e->incomplete ? 1 : 0);
    }
}

void sim_replay_digest_write(sim_replay_digest *digest, const ledger_batch *batch, bool sync)
{
    put_u8(digest, 'W');
    put_u8(digest, sync ? 1 : 0);
    put_u32(digest, batch->count);
    for (uint32_t i = 0; i < batch->count; i++) {
        const ledger_op *op = &batch->ops[i];
        put_u8(digest, op->is_delete ? 1 : 0);
        put_u32(digest, op->key_size);
        put(digest, op->key, op->key_size);
        uint32_t value_size = op->is_delete ? 0 : op->value_size;
        put_u32(digest, value_size);
        put(digest, op->value, value_size);
    }
    digest->count++;
}

void sim_replay_digest_sync(sim_replay_digest *digest)
{
    put_u8(digest, 'Y');
    digest->count++;
}

void sim_replay_digest_final(sim_replay_digest *digest, uint8_t out[SIM_REPLAY_DIGEST_SIZE])
{
    (void) crypto_generichash_final(&digest->state, out, SIM_REPLAY_DIGEST_SIZE);
}

/* ------------------------------------------------------------------ */
/* The store the replayed ledger sees.                                  */
/* ------------------------------------------------------------------ */

/* The next recorded answer for a call of kind op, or MESH_OK and a flag
 * when the recording has none (or another kind). */
static bool next_answer(sim_replay *r, uint32_t op, mesh_err *answer_out)
{
    *answer_out = MESH_OK;
    if (r->calls_used >= r->call_count) {
        r->store_mismatch = true;
        return false;
    }
    const sim_replay_store_call *call = &r->calls[r->calls_used++];
    if (call->op != op) {
        r->store_mismatch = true;
        return false;
    }
    *answer_out = call->result < MESH_ERR_COUNT ? (mesh_err) call->result : MESH_ESTORE;
    return true;
}

static mesh_err replay_get(void *ctx,
                           const uint8_t *key,
                           uint32_t key_size,
                           uint8_t *value_out,
                           uint32_t value_size_max,
                           uint32_t *value_size_out)
{
    sim_replay *r = ctx;
    return r->mem_vtable.get(r->mem_vtable.ctx, key, key_size, value_out, value_size_max,
                             value_size_out);
}

static mesh_err replay_scan(void *ctx,
                            const uint8_t *prefix,
                            uint32_t prefix_size,
                            const uint8_t *start,
                            uint32_t start_size,
                            ledger_store_visit visit,
                            void *arg)
{
    sim_replay *r = ctx;
    return r->mem_vtable.scan(r->mem_vtable.ctx, prefix, prefix_size, start, start_size, visit,
                              arg);
}

static mesh_err replay_write(void *ctx, const ledger_batch *batch, bool sync)
{
    sim_replay *r = ctx;
    sim_replay_digest_write(&r->digest, batch, sync);
    mesh_err answer = MESH_OK;
    (void) next_answer(r, SIM_REPLAY_STORE_WRITE, &answer);
    if (answer != MESH_OK) {
        return answer; // failed live, before anything was applied
    }
    mesh_err err = r->mem_vtable.write(r->mem_vtable.ctx, batch, sync);
    if (err != MESH_OK) {
        r->store_mismatch = true; // succeeded live, refused here
    }
    return err;
}

static mesh_err replay_sync(void *ctx)
{
    sim_replay *r = ctx;
    sim_replay_digest_sync(&r->digest);
    mesh_err answer = MESH_OK;
    (void) next_answer(r, SIM_REPLAY_STORE_SYNC, &answer);
    if (answer != MESH_OK) {
        return answer;
    }
    return r->mem_vtable.sync(r->mem_vtable.ctx);
}

/* ------------------------------------------------------------------ */
/* The member's io.                                                     */
/* ------------------------------------------------------------------ */

static void replay_send(void *ctx,
                        const mesh_node_id *peer,
                        const char *endpoint,
                        const uint8_t *frame,
                        uint32_t frame_size)
{
    sim_replay *r = ctx;
    sim_replay_digest_send(&r->digest, peer, endpoint, frame, frame_size);
}

static void replay_event(void *ctx, mesh_now now, member_source source, const void *event)
{
    (void) now;
    sim_replay *r = ctx;
    sim_replay_digest_event(&r->digest, source, event);
}

mesh_err sim_replay_create(sim_replay **replay_out)
{
    MESH_ASSERT(replay_out != NULL);
    sim_replay *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return MESH_ENOMEM;
    }
    mesh_err err = ledger_mem_store_create(SIM_REPLAY_KEYS_MAX, SIM_REPLAY_BYTES_MAX, &r->mem);
    if (err != MESH_OK) {
        free(r);
        return err;
    }
    r->mem_vtable = ledger_mem_store_interface(r->mem);
    r->store = (ledger_store){.ctx = r,
                              .get = replay_get,
                              .write = replay_write,
                              .scan = replay_scan,
                              .sync = replay_sync};
    *replay_out = r;
    return MESH_OK;
}

void sim_replay_destroy(sim_replay *replay)
{
    if (replay == NULL) {
        return;
    }
    member_destroy(replay->member);
    ledger_close(replay->ledger_handle);
    ledger_mem_store_destroy(replay->mem);
    free(replay);
}

mesh_err sim_replay_load(sim_replay *replay,
                         const uint8_t *key,
                         uint32_t key_size,
                         const uint8_t *value,
                         uint32_t value_size)
{
    MESH_ASSERT(replay != NULL);
    if (replay->started || key_size == 0 || key_size > LEDGER_STORE_KEY_SIZE_MAX ||
        value_size > LEDGER_VALUE_SIZE_MAX) {
        return MESH_EINVAL;
    }
    ledger_op op = {.is_delete = false,
                    .key = key,
                    .key_size = key_size,
                    .value = value,
                    .value_size = value_size};
    ledger_batch batch = {.ops = &op, .count = 1};
    return replay->mem_vtable.write(replay->mem_vtable.ctx, &batch, true);
}

static mesh_err open_ledger(sim_replay *r, const ledger_config *config, uint32_t *result_out)
{
    if (r->member != NULL || r->ledger_handle != NULL || config == NULL) {
        return MESH_EINVAL;
    }
    *result_out = (uint32_t) ledger_open(config, &r->store, &r->ledger_handle);
    return MESH_OK;
}

static mesh_err create_member(sim_replay *r, const sim_replay_input *in, uint32_t *result_out)
{
    if (r->member != NULL || in->config == NULL) {
        return MESH_EINVAL;
    }
    member_config config = *in->config;
    config.ledger_handle = r->ledger_handle;
    config.store = r->ledger_handle != NULL ? &r->store : NULL;
    config.io = (member_io){.ctx = r, .send = replay_send, .event = replay_event};
    r->rng = in->rng;
    mesh_err err = member_create(&config, in->now, &r->rng, &r->member);
    mcrypto_keypair_wipe(&config.gossip.keypair);
    mcrypto_keypair_wipe(&config.lease.keypair);
    *result_out = (uint32_t) err;
    return MESH_OK;
}

/* A member input: MESH_EINVAL before the member exists. */
static mesh_err feed_member(sim_replay *r, const sim_replay_input *in, uint32_t *result_out)
{
    if (r->member == NULL) {
        return MESH_EINVAL;
    }
    member_node *m = r->member;
    mesh_err err = MESH_OK;
    uint32_t borrow_id = 0;
    uint64_t request_id = 0;
    switch (in->kind) {
    case SIM_REPLAY_FRAME:
        if (in->bytes == NULL || in->size == 0 || in->size > WIRE_FRAME_SIZE_MAX) {
            return MESH_EINVAL;
        }
        err = member_on_frame(m, in->now, in->bytes, in->size, &r->rng);
        break;
    case SIM_REPLAY_TICK:
        err = member_on_tick(m, in->now, &r->rng);
        break;
    case SIM_REPLAY_FLUSH:
        err = member_flush(m, in->now, &r->rng);
        break;
    case SIM_REPLAY_BORROW:
        if (in->borrow == NULL) {
            return MESH_EINVAL;
        }
        err = member_borrow(m, in->now, in->borrow, &r->rng, &borrow_id);
        break;
    case SIM_REPLAY_RELEASE:
        err = member_release(m, in->now, in->lease_id, &r->rng);
        break;
    case SIM_REPLAY_RECLAIM:
        err = member_reclaim(m, in->now, in->lease_id, in->notice_ns, &r->rng);
        break;
    case SIM_REPLAY_SET_LOAD:
        err = member_set_load(m, in->now, in->resource_class, in->model, in->first, in->second,
                              &r->rng);
        break;
    case SIM_REPLAY_SET_CAPACITY:
        err = member_set_capacity(m, in->resource_class, in->model, in->first, in->second);
        break;
    case SIM_REPLAY_UPDATE_ADVERT:
        if (in->advert == NULL) {
            return MESH_EINVAL;
        }
        err = member_update_advert(m, in->now, in->advert, &r->rng);
        break;
    case SIM_REPLAY_ADD_REVOCATION:
        if (in->bytes == NULL || in->size == 0 || in->size > WIRE_FRAME_SIZE_MAX) {
            return MESH_EINVAL;
        }
        err = member_add_revocation(m, in->now, in->bytes, in->size, &r->rng);
        break;
    case SIM_REPLAY_LEAVE:
        err = member_leave(m, in->now, &r->rng);
        break;
    case SIM_REPLAY_RECONCILE:
        err = member_reconcile_start(m, in->now, &in->peer, in->timeout_ns, &r->rng, &request_id);
        break;
    case SIM_REPLAY_REVOCATION_ENDPOINT:
        if (memchr(in->endpoint, '\0', sizeof(in->endpoint)) == NULL) {
            return MESH_EINVAL;
        }
        err = member_revocation_set_endpoint(m, &in->peer, in->endpoint);
        break;
    default:
        return MESH_EINVAL;
    }
    *result_out = (uint32_t) err;
    return MESH_OK;
}

mesh_err
sim_replay_step(sim_replay *replay, const sim_replay_input *input, sim_replay_outcome *outcome_out)
{
    MESH_ASSERT(replay != NULL && input != NULL && outcome_out != NULL);
    if (input->store_call_count > SIM_REPLAY_STORE_CALLS_MAX ||
        (input->store_call_count > 0 && input->store_calls == NULL)) {
        return MESH_EINVAL;
    }
    sim_replay *r = replay;
    r->started = true;
    memset(outcome_out, 0, sizeof(*outcome_out));
    sim_replay_digest_init(&r->digest);
    r->calls = input->store_calls;
    r->call_count = input->store_call_count;
    r->calls_used = 0;
    r->store_mismatch = false;
    uint32_t result = MESH_OK;
    mesh_err err = MESH_OK;
    switch (input->kind) {
    case SIM_REPLAY_LEDGER_OPEN:
        err = open_ledger(r, input->ledger, &result);
        break;
    case SIM_REPLAY_CREATE:
        err = create_member(r, input, &result);
        break;
    case SIM_REPLAY_LEDGER_SYNC:
        if (r->ledger_handle == NULL) {
            err = MESH_EINVAL;
            break;
        }
        result = (uint32_t) ledger_sync(r->ledger_handle, NULL, NULL);
        break;
    default:
        err = feed_member(r, input, &result);
        break;
    }
    r->calls = NULL;
    if (err != MESH_OK) {
        return err;
    }
    outcome_out->result = result;
    outcome_out->output_count = r->digest.count;
    sim_replay_digest_final(&r->digest, outcome_out->digest);
    outcome_out->store_calls_used = r->calls_used;
    outcome_out->store_mismatch = r->store_mismatch || r->calls_used != r->call_count;
    return MESH_OK;
}
