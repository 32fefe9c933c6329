/*
 * lease/lease.c: the lease machine's skeleton: creation, the slot table
 * and its hash index, the timer heap, outputs, and the dispatch of frames,
 * acknowledgements and timers to the two roles (lender.c, borrower.c).
 *
 * Dispatch does the cheap checks first: envelope, lease id, membership of
 * the signer, body, and the slot's state, and only then the signature, so
 * that junk, strangers and frames for no lease cost no Ed25519 check.
 */
#include <string.h>

#include <sodium.h>

#include "lease/lease_int.h"

const char *lease_reject_name(lease_reject reject)
{
    static const char *const names[LEASE_REJECT_COUNT] = {
        "malformed", "not_member", "bad_signature", "unexpected", "replay", "mismatch",
        "expired",   "constraint", "overcharge",    "full",       "ledger"};
    return (uint32_t) reject < LEASE_REJECT_COUNT ? names[reject] : "unknown";
}

const char *lease_phase_name(uint32_t phase)
{
    static const char *const names[] = {"unknown",   "requested", "offered",
                                        "accepting", "active",    "ending"};
    return phase < MESH_ARRAY_COUNT(names) ? names[phase] : names[0];
}

void lease_config_default(lease_config *config)
{
    MESH_ASSERT(config != NULL);
    memset(config, 0, sizeof(*config));
    config->reciprocity_share_permille = 250;
    config->duration_max_ns = 7ull * 24u * LEASE_HOUR_NS;
    config->start_ahead_max_ns = 24ull * LEASE_HOUR_NS;
    config->reclaim_notice_ns = 60ull * MESH_NS_PER_S;
    config->weights.reciprocity = 10;
    config->weights.rtt = 1;
    config->weights.price = 1;
    config->weights.carbon = 1;
    config->in_flight_max = 3;
    config->candidates_max = 64;
    config->refused_cooldown_ns = 60ull * MESH_NS_PER_S;
    config->leases_max = 4096;
    config->borrows_max = 256;
    config->request_timeout_ns = 2ull * MESH_NS_PER_S;
    config->offer_ttl_ns = 5ull * MESH_NS_PER_S;
    config->retry_interval_ns = 200ull * MESH_NS_PER_MS;
    config->retry_max_ns = 30ull * MESH_NS_PER_S;
    config->usage_interval_ns = 15ull * 60u * MESH_NS_PER_S;
    config->clock_skew_max_ns = 60ll * (int64_t) MESH_NS_PER_S;
}

static bool config_valid(const lease_config *c)
{
    if (c->directory.find == NULL || c->directory.count == NULL || c->directory.at == NULL) {
        return false;
    }
    if (c->leases_max < 2 || c->leases_max > (1u << 22) || c->borrows_max < 1 ||
        c->borrows_max > 65536 || c->in_flight_max < 1 || c->in_flight_max > 64 ||
        c->candidates_max < 1 || c->candidates_max > 1024) {
        return false;
    }
    if (c->request_timeout_ns == 0 || c->offer_ttl_ns == 0 || c->retry_interval_ns == 0 ||
        c->retry_max_ns < c->retry_interval_ns || c->usage_interval_ns < MESH_NS_PER_S ||
        c->clock_skew_max_ns < 0 || c->reciprocity_share_permille > 1000 ||
        c->duration_max_ns == 0 || c->class_count > LEASE_CLASSES_MAX) {
        return false;
    }
    for (uint32_t i = 0; i < c->class_count; i++) {
        const lease_class_policy *p = &c->classes[i];
        if (p->resource_class < 1 || p->resource_class > WIRE_RESOURCE_CLASS_MAX ||
            p->lendable > p->total || p->keep > p->total || p->total > WIRE_AMOUNT_MAX ||
            p->price_microeur_per_unit_hour > WIRE_PRICE_MAX) {
            return false;
        }
        if ((p->resource_class == WIRE_RESOURCE_GPU) != (p->model[0] != '\0')) {
            return false;
        }
        for (uint32_t j = 0; j < i; j++) {
            if (c->classes[j].resource_class == p->resource_class &&
                strcmp(c->classes[j].model, p->model) == 0) {
                return false;
            }
        }
    }
    return true;
}

mesh_err lease_create(const lease_config *config, mesh_now now, lease_machine **machine_out)
{
    MESH_ASSERT(config != NULL);
    MESH_ASSERT(machine_out != NULL);
    if (!config_valid(config)) {
        return MESH_EINVAL;
    }
    lease_machine *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        return MESH_ENOMEM;
    }
    m->config = *config;
    m->created_ns = now.monotonic_ns;
    m->next_borrow_id = 1;
    m->slot_count = config->leases_max;
    m->bucket_count = 1;
    while (m->bucket_count < 2 * m->slot_count) {
        m->bucket_count <<= 1;
    }
    m->slots = calloc(m->slot_count, sizeof(*m->slots));
    m->buckets = malloc((size_t) m->bucket_count * sizeof(*m->buckets));
    m->heap = malloc((size_t) m->slot_count * sizeof(*m->heap));
    m->borrows = calloc(config->borrows_max, sizeof(*m->borrows));
    m->candidate_pool =
        calloc((size_t) config->borrows_max * config->candidates_max, sizeof(*m->candidate_pool));
    m->send_buffer = malloc(LEASE_SEND_BUFFER_SIZE);
    if (m->slots == NULL || m->buckets == NULL || m->heap == NULL || m->borrows == NULL ||
        m->candidate_pool == NULL || m->send_buffer == NULL) {
        lease_destroy(m);
        return MESH_ENOMEM;
    }
    for (uint32_t i = 0; i < m->bucket_count; i++) {
        m->buckets[i] = LEASE_NO_SLOT;
    }
    for (uint32_t i = 0; i < m->slot_count; i++) {
        m->slots[i].hash_next = i + 1 < m->slot_count ? i + 1 : LEASE_NO_SLOT;
        m->slots[i].heap_index = LEASE_NO_SLOT;
    }
    m->free_head = 0;
    for (uint32_t i = 0; i < config->borrows_max; i++) {
        m->borrows[i].candidates = &m->candidate_pool[(size_t) i * config->candidates_max];
    }
    for (uint32_t i = 0; i < config->class_count; i++) {
        m->classes[i].policy = config->classes[i];
    }
    // The bucket key: secret (a borrower picks lease ids), deterministic
    // (the simulator replays), and derived without a random source.
    static const char context[] = "fedmesh/v1/lease-buckets";
    crypto_generichash_state state;
    MESH_ASSERT(crypto_generichash_init(&state, NULL, 0, sizeof(m->hash_key)) == 0);
    MESH_ASSERT(crypto_generichash_update(&state, (const uint8_t *) context, sizeof(context)) == 0);
    MESH_ASSERT(crypto_generichash_update(&state, config->keypair.secret_key,
                                          sizeof(config->keypair.secret_key)) == 0);
    MESH_ASSERT(crypto_generichash_final(&state, m->hash_key, sizeof(m->hash_key)) == 0);
    sodium_memzero(&state, sizeof(state));
    *machine_out = m;
    return MESH_OK;
}

void lease_destroy(lease_machine *m)
{
    if (m == NULL) {
        return;
    }
    sodium_memzero(&m->config.keypair, sizeof(m->config.keypair));
    sodium_memzero(m->hash_key, sizeof(m->hash_key));
    free(m->slots);
    free(m->buckets);
    free(m->heap);
    free(m->borrows);
    free(m->candidate_pool);
    free(m->send_buffer);
    free(m);
}

/* ---------------------------------------------------------------- */
/* Slots and their index.                                            */
/* ---------------------------------------------------------------- */

static uint32_t bucket_of(const lease_machine *m, const uint8_t lease_id[LEDGER_LEASE_ID_SIZE])
{
    uint8_t hash[crypto_shorthash_BYTES];
    MESH_ASSERT(crypto_shorthash(hash, lease_id, LEDGER_LEASE_ID_SIZE, m->hash_key) == 0);
    uint32_t value = (uint32_t) hash[0] | (uint32_t) hash[1] << 8 | (uint32_t) hash[2] << 16 |
                     (uint32_t) hash[3] << 24;
    return value & (m->bucket_count - 1);
}

uint32_t lease_slot_index(const lease_machine *m, const lease_slot *slot)
{
    MESH_ASSERT(slot >= m->slots && slot < m->slots + m->slot_count);
    return (uint32_t) (slot - m->slots);
}

lease_slot *lease_slot_find(lease_machine *m, const uint8_t lease_id[LEDGER_LEASE_ID_SIZE])
{
    uint32_t index = m->buckets[bucket_of(m, lease_id)];
    for (uint32_t steps = 0; index != LEASE_NO_SLOT; steps++) {
        MESH_ASSERT(steps < m->slot_count);
        lease_slot *slot = &m->slots[index];
        MESH_ASSERT(slot->used);
        if (memcmp(slot->lease_id, lease_id, LEDGER_LEASE_ID_SIZE) == 0) {
            return slot;
        }
        index = slot->hash_next;
    }
    return NULL;
}

lease_slot *lease_slot_new(lease_machine *m, const uint8_t lease_id[LEDGER_LEASE_ID_SIZE])
{
    MESH_ASSERT(lease_slot_find(m, lease_id) == NULL);
    if (m->free_head == LEASE_NO_SLOT) {
        return NULL;
    }
    uint32_t index = m->free_head;
    lease_slot *slot = &m->slots[index];
    MESH_ASSERT(!slot->used);
    m->free_head = slot->hash_next;
    uint32_t generation = slot->generation;
    memset(slot, 0, sizeof(*slot));
    slot->generation = generation;
    slot->used = true;
    slot->heap_index = LEASE_NO_SLOT;
    memcpy(slot->lease_id, lease_id, LEDGER_LEASE_ID_SIZE);
    uint32_t bucket = bucket_of(m, lease_id);
    slot->hash_next = m->buckets[bucket];
    m->buckets[bucket] = index;
    m->stats.leases_open++;
    return slot;
}

void lease_slot_free(lease_machine *m, lease_slot *slot)
{
    MESH_ASSERT(slot->used);
    MESH_ASSERT(!slot->booked);
    lease_slot_disarm(m, slot);
    uint32_t index = lease_slot_index(m, slot);
    uint32_t *link = &m->buckets[bucket_of(m, slot->lease_id)];
    while (*link != index) {
        MESH_ASSERT(*link != LEASE_NO_SLOT);
        link = &m->slots[*link].hash_next;
    }
    *link = slot->hash_next;
    slot->used = false;
    slot->generation++;
    slot->hash_next = m->free_head;
    m->free_head = index;
    MESH_ASSERT(m->stats.leases_open > 0);
    m->stats.leases_open--;
}

/* ---------------------------------------------------------------- */
/* The timer heap.                                                   */
/* ---------------------------------------------------------------- */

static bool heap_less(const lease_machine *m, uint32_t a, uint32_t b)
{
    const lease_slot *x = &m->slots[m->heap[a]];
    const lease_slot *y = &m->slots[m->heap[b]];
    if (x->deadline_ns != y->deadline_ns) {
        return x->deadline_ns < y->deadline_ns;
    }
    return m->heap[a] < m->heap[b]; // a defined order for equal deadlines
}

static void heap_swap(lease_machine *m, uint32_t a, uint32_t b)
{
    uint32_t t = m->heap[a];
    m->heap[a] = m->heap[b];
    m->heap[b] = t;
    m->slots[m->heap[a]].heap_index = a;
    m->slots[m->heap[b]].heap_index = b;
}

static void heap_up(lease_machine *m, uint32_t i)
{
    while (i > 0 && heap_less(m, i, (i - 1) / 2)) {
        heap_swap(m, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_down(lease_machine *m, uint32_t i)
{
    for (;;) {
        uint32_t smallest = i;
        uint32_t left = 2 * i + 1;
        uint32_t right = left + 1;
        if (left < m->heap_count && heap_less(m, left, smallest)) {
            smallest = left;
        }
        if (right < m->heap_count && heap_less(m, right, smallest)) {
            smallest = right;
        }
        if (smallest == i) {
            return;
        }
        heap_swap(m, i, smallest);
        i = smallest;
    }
}

void lease_slot_disarm(lease_machine *m, lease_slot *slot)
{
    uint32_t i = slot->heap_index;
    if (i == LEASE_NO_SLOT) {
        return;
    }
    MESH_ASSERT(i < m->heap_count);
    MESH_ASSERT(m->heap[i] == lease_slot_index(m, slot));
    m->heap_count--;
    if (i != m->heap_count) {
        heap_swap(m, i, m->heap_count);
        heap_down(m, i);
        heap_up(m, i);
    }
    slot->heap_index = LEASE_NO_SLOT;
}

void lease_slot_arm(lease_machine *m, lease_slot *slot, uint64_t deadline_ns)
{
    lease_slot_disarm(m, slot);
    MESH_ASSERT(m->heap_count < m->slot_count);
    slot->deadline_ns = deadline_ns;
    slot->heap_index = m->heap_count;
    m->heap[m->heap_count++] = lease_slot_index(m, slot);
    heap_up(m, slot->heap_index);
}

uint64_t lease_deadline_ns(const lease_machine *m)
{
    uint64_t deadline = lease_borrows_deadline(m);
    if (m->heap_count > 0 && m->slots[m->heap[0]].deadline_ns < deadline) {
        deadline = m->slots[m->heap[0]].deadline_ns;
    }
    return deadline;
}

/* ---------------------------------------------------------------- */
/* Outputs.                                                          */
/* ---------------------------------------------------------------- */

void lease_reject_count(lease_machine *m, lease_reject reject)
{
    MESH_ASSERT((uint32_t) reject < LEASE_REJECT_COUNT);
    m->stats.rejected[reject]++;
}

bool lease_room(const lease_machine *m, const mesh_outbox *outbox)
{
    return outbox->count + 4 <= outbox->count_max && m->event_count + 2 <= LEASE_EVENTS_MAX &&
           m->write_count + 1 <= LEASE_WRITES_MAX &&
           m->send_used + 2 * LEASE_FRAME_SLACK <= LEASE_SEND_BUFFER_SIZE;
}

mesh_err lease_send(lease_machine *m,
                    const lease_peer *peer,
                    wire_type type,
                    const uint8_t *body,
                    uint32_t body_size,
                    mesh_outbox *outbox)
{
    if (outbox->count >= outbox->count_max || peer->endpoint == NULL) {
        lease_reject_count(m, LEASE_REJECT_FULL);
        return MESH_EFULL;
    }
    // The endpoint is copied next to the frame: the directory's string is
    // only valid for the call that returned it.
    size_t endpoint_size = strlen(peer->endpoint) + 1;
    if (endpoint_size > WIRE_ENDPOINT_SIZE_MAX + 1 ||
        m->send_used + endpoint_size >= LEASE_SEND_BUFFER_SIZE) {
        lease_reject_count(m, LEASE_REJECT_FULL);
        return MESH_EFULL;
    }
    char *endpoint = (char *) m->send_buffer + m->send_used;
    memcpy(endpoint, peer->endpoint, endpoint_size);
    uint32_t used = m->send_used + (uint32_t) endpoint_size;
    uint8_t *frame = m->send_buffer + used;
    uint32_t frame_size = 0;
    mesh_err err = mcrypto_envelope_seal(&m->config.keypair, type, body, body_size, frame,
                                         LEASE_SEND_BUFFER_SIZE - used, &frame_size);
    if (err != MESH_OK) {
        lease_reject_count(m, LEASE_REJECT_FULL);
        return err;
    }
    mesh_output output = {.kind = MESH_OUTPUT_SEND,
                          .peer = peer->id,
                          .endpoint = endpoint,
                          .payload = frame,
                          .payload_size = frame_size};
    MESH_ASSERT(mesh_outbox_push(outbox, &output) == MESH_OK);
    m->send_used = used + frame_size;
    m->stats.frames_out++;
    return MESH_OK;
}

mesh_err lease_send_record(lease_machine *m,
                           const lease_peer *peer,
                           const uint8_t lease_id[LEDGER_LEASE_ID_SIZE],
                           const ledger_record *record,
                           const uint8_t *lender_signature,
                           const uint8_t *borrower_signature,
                           mesh_outbox *outbox)
{
    uint8_t record_bytes[LEDGER_RECORD_SIZE_MAX];
    uint32_t record_size = 0;
    mesh_err err = ledger_record_encode(record, record_bytes, sizeof(record_bytes), &record_size);
    MESH_ASSERT(err == MESH_OK); // records here were checked when they were built or decoded
    wire_lease_record message;
    memset(&message, 0, sizeof(message));
    memcpy(message.lease_id, lease_id, sizeof(message.lease_id));
    message.record = record_bytes;
    message.record_size = record_size;
    if (lender_signature != NULL) {
        message.has_lender_signature = true;
        memcpy(message.lender_signature, lender_signature, WIRE_SIGNATURE_SIZE);
    }
    if (borrower_signature != NULL) {
        message.has_borrower_signature = true;
        memcpy(message.borrower_signature, borrower_signature, WIRE_SIGNATURE_SIZE);
    }
    uint8_t body[WIRE_LEASE_RECORD_SIZE_MAX + 256];
    uint32_t body_size = 0;
    err = wire_lease_record_encode(&message, body, sizeof(body), &body_size);
    MESH_ASSERT(err == MESH_OK);
    return lease_send(m, peer, WIRE_TYPE_LEASE_RECORD, body, body_size, outbox);
}

mesh_err lease_send_end(lease_machine *m,
                        const lease_peer *peer,
                        const uint8_t lease_id[LEDGER_LEASE_ID_SIZE],
                        uint32_t what,
                        int64_t at_ns,
                        mesh_outbox *outbox)
{
    wire_lease_end end;
    memset(&end, 0, sizeof(end));
    memcpy(end.lease_id, lease_id, sizeof(end.lease_id));
    end.what = what;
    end.at_ns = at_ns > 0 ? at_ns : 1;
    uint8_t body[128];
    uint32_t body_size = 0;
    mesh_err err = wire_lease_end_encode(&end, body, sizeof(body), &body_size);
    MESH_ASSERT(err == MESH_OK);
    return lease_send(m, peer, WIRE_TYPE_LEASE_END, body, body_size, outbox);
}

mesh_err lease_emit(lease_machine *m, const lease_event *event, mesh_outbox *outbox)
{
    if (outbox->count >= outbox->count_max || m->event_count >= LEASE_EVENTS_MAX) {
        lease_reject_count(m, LEASE_REJECT_FULL);
        return MESH_EFULL;
    }
    lease_event *stored = &m->events[m->event_count++];
    *stored = *event;
    mesh_output output = {.kind = MESH_OUTPUT_EVENT,
                          .payload = (const uint8_t *) stored,
                          .payload_size = sizeof(*stored)};
    MESH_ASSERT(mesh_outbox_push(outbox, &output) == MESH_OK);
    return MESH_OK;
}

mesh_err lease_write_pending(lease_machine *m, lease_slot *slot, mesh_outbox *outbox)
{
    MESH_ASSERT(slot->has_pending);
    MESH_ASSERT(slot->pending_has_lender && slot->pending_has_borrower);
    if (outbox->count >= outbox->count_max || m->write_count >= LEASE_WRITES_MAX) {
        lease_reject_count(m, LEASE_REJECT_FULL);
        return MESH_EFULL;
    }
    lease_ledger_write *write = &m->writes[m->write_count++];
    write->token = (uint64_t) slot->generation << 32 | lease_slot_index(m, slot);
    write->record = &slot->pending;
    write->lender_signature = slot->pending_lender_signature;
    write->borrower_signature = slot->pending_borrower_signature;
    mesh_output output = {.kind = MESH_OUTPUT_LEDGER_WRITE,
                          .payload = (const uint8_t *) write,
                          .payload_size = sizeof(*write)};
    MESH_ASSERT(mesh_outbox_push(outbox, &output) == MESH_OK);
    slot->pending_in_ledger = true;
    m->stats.ledger_writes++;
    return MESH_OK;
}

void lease_event_from_slot(const lease_slot *slot, lease_event_kind kind, lease_event *event_out)
{
    memset(event_out, 0, sizeof(*event_out));
    event_out->kind = kind;
    event_out->self_is_lender = slot->self_is_lender;
    memcpy(event_out->lease_id, slot->lease_id, sizeof(event_out->lease_id));
    event_out->peer = slot->peer_id;
    event_out->borrow_id = slot->borrow_index;
    if (slot->has_opened) {
        event_out->amount_count = slot->opened.amount_count;
        memcpy(event_out->amounts, slot->opened.amounts, sizeof(event_out->amounts));
        event_out->start_ns = slot->opened.terms.start_ns;
        event_out->end_ns = slot->opened.terms.end_ns;
        memcpy(event_out->data_class, slot->opened.terms.constraints.data_class,
               sizeof(event_out->data_class));
    }
}

void lease_settled(lease_machine *m,
                   lease_slot *slot,
                   const ledger_record *settled,
                   mesh_outbox *outbox)
{
    MESH_ASSERT(settled->kind == LEDGER_KIND_SETTLED);
    MESH_ASSERT(settled->amount_count <= LEDGER_AMOUNTS_MAX);
    lease_event event;
    lease_event_from_slot(slot, LEASE_EVENT_ENDED, &event);
    event.end_ns = settled->time_ns;
    event.end_kind = slot->end_kind;
    for (uint32_t i = 0; i < settled->amount_count; i++) {
        event.amounts[i] = settled->amounts[i];
    }
    (void) lease_emit(m, &event, outbox);
    lease_slot_free(m, slot);
}

/* ---------------------------------------------------------------- */
/* Inputs.                                                           */
/* ---------------------------------------------------------------- */

void lease_begin_call(lease_machine *m)
{
    m->send_used = 0;
    m->event_count = 0;
    m->write_count = 0;
}

// Decodes the body of a lease frame by type; MESH_EPROTO when it does not.
typedef union lease_body {
    wire_lease_request request;
    wire_lease_offer offer;
    wire_lease_refuse refuse;
    wire_lease_record record;
    wire_lease_end end;
} lease_body;

static mesh_err decode_body(const wire_envelope *envelope, lease_body *body)
{
    switch (envelope->type) {
    case WIRE_TYPE_LEASE_REQUEST:
        return wire_lease_request_decode(envelope->body, envelope->body_size, &body->request, NULL);
    case WIRE_TYPE_LEASE_OFFER:
        return wire_lease_offer_decode(envelope->body, envelope->body_size, &body->offer, NULL);
    case WIRE_TYPE_LEASE_REFUSE:
        return wire_lease_refuse_decode(envelope->body, envelope->body_size, &body->refuse, NULL);
    case WIRE_TYPE_LEASE_RECORD:
        return wire_lease_record_decode(envelope->body, envelope->body_size, &body->record, NULL);
    case WIRE_TYPE_LEASE_END:
        return wire_lease_end_decode(envelope->body, envelope->body_size, &body->end, NULL);
    default:
        return MESH_EPROTO;
    }
}

// The state checks that need no signature: does this frame fit a slot?
static bool frame_expected(const lease_machine *m,
                           wire_type type,
                           const lease_slot *slot,
                           const mesh_node_id *signer)
{
    if (type == WIRE_TYPE_LEASE_REQUEST) {
        return slot == NULL || (slot->self_is_lender && mesh_node_id_equal(&slot->peer_id, signer));
    }
    if (type == WIRE_TYPE_LEASE_RECORD && slot == NULL) {
        return true; // a late acceptance, checked by the lender's own signature on it
    }
    if (slot == NULL || !mesh_node_id_equal(&slot->peer_id, signer)) {
        return false;
    }
    switch (type) {
    case WIRE_TYPE_LEASE_OFFER:
    case WIRE_TYPE_LEASE_REFUSE:
        return !slot->self_is_lender;
    case WIRE_TYPE_LEASE_END:
        return true; // decline and release go to lenders, reclaim to borrowers: checked later
    default:
        (void) m;
        return true;
    }
}

// A proposal for a lease this borrower has settled and forgotten: the
// lender lost our countersignature, or restarted and proposed the number
// anew. Answer with the ledger's agreed copy (the lender adopts it: it
// carries the lender's own signature); the lender's retries stop there.
static void answer_from_ledger(lease_machine *m,
                               const lease_peer *peer,
                               const wire_lease_record *message,
                               const ledger_record *record,
                               mesh_outbox *outbox)
{
    const lease_directory *d = &m->config.directory;
    ledger_record held;
    uint8_t lender_signature[LEDGER_SIGNATURE_SIZE];
    uint8_t borrower_signature[LEDGER_SIGNATURE_SIZE];
    if (d->ledger_record == NULL || !message->has_lender_signature ||
        memcmp(record->lender_key, peer->public_key, LEDGER_KEY_SIZE) != 0 ||
        memcmp(record->borrower_key, m->config.keypair.public_key, LEDGER_KEY_SIZE) != 0 ||
        d->ledger_record(d->ctx, record->lease_id, record->number, &held, lender_signature,
                         borrower_signature) != MESH_OK) {
        lease_reject_count(m, LEASE_REJECT_UNEXPECTED);
        return;
    }
    lease_reject_count(m, LEASE_REJECT_REPLAY);
    (void) lease_send_record(m, peer, record->lease_id, &held, lender_signature, borrower_signature,
                             outbox);
}

mesh_err lease_on_message(lease_machine *m,
                          mesh_now now,
                          const uint8_t *frame,
                          uint32_t frame_size,
                          mesh_rng *rng,
                          mesh_outbox *outbox)
{
    MESH_ASSERT(m != NULL && outbox != NULL && rng != NULL);
    lease_begin_call(m);
    m->stats.frames_in++;
    if (outbox->count_max - outbox->count < LEASE_OUTBOX_MIN / 2) {
        return MESH_EFULL;
    }
    wire_envelope envelope;
    if (frame_size > WIRE_FRAME_SIZE_MAX ||
        wire_envelope_decode(frame, frame_size, &envelope, NULL) != MESH_OK ||
        envelope.type < WIRE_TYPE_LEASE_REQUEST || envelope.type > WIRE_TYPE_LEASE_END) {
        lease_reject_count(m, LEASE_REJECT_MALFORMED);
        return MESH_OK;
    }
    uint8_t lease_id[WIRE_LEASE_ID_SIZE];
    if (wire_lease_id_peek(envelope.body, envelope.body_size, lease_id) != MESH_OK) {
        lease_reject_count(m, LEASE_REJECT_MALFORMED);
        return MESH_OK;
    }
    lease_peer peer;
    if (mesh_node_id_equal(&envelope.signer, &m->config.self_id) ||
        m->config.directory.find(m->config.directory.ctx, &envelope.signer, &peer) != MESH_OK) {
        lease_reject_count(m, LEASE_REJECT_NOT_MEMBER);
        return MESH_OK;
    }
    lease_body body;
    if (decode_body(&envelope, &body) != MESH_OK) {
        lease_reject_count(m, LEASE_REJECT_MALFORMED);
        return MESH_OK;
    }
    lease_slot *slot = lease_slot_find(m, lease_id);
    if (!frame_expected(m, envelope.type, slot, &envelope.signer)) {
        lease_reject_count(m, LEASE_REJECT_UNEXPECTED);
        return MESH_OK;
    }
    if (mcrypto_verify_cached(m->config.verify_cache, peer.public_key, envelope.type, envelope.body,
                              envelope.body_size, envelope.signature) != MESH_OK) {
        lease_reject_count(m, LEASE_REJECT_BAD_SIGNATURE);
        return MESH_OK;
    }
    switch (envelope.type) {
    case WIRE_TYPE_LEASE_REQUEST:
        m->stats.requests_in++;
        lease_lender_on_request(m, now, &peer, &body.request, outbox);
        break;
    case WIRE_TYPE_LEASE_OFFER:
        lease_borrower_on_offer(m, now, &peer, slot, &body.offer, outbox);
        break;
    case WIRE_TYPE_LEASE_REFUSE:
        lease_borrower_on_refuse(m, now, slot, &body.refuse, rng, outbox);
        break;
    case WIRE_TYPE_LEASE_RECORD: {
        ledger_record record;
        if (ledger_record_decode(body.record.record, body.record.record_size, &record) != MESH_OK ||
            memcmp(record.lease_id, lease_id, LEDGER_LEASE_ID_SIZE) != 0) {
            lease_reject_count(m, LEASE_REJECT_MALFORMED);
            break;
        }
        bool to_lender =
            memcmp(record.lender_key, m->config.keypair.public_key, LEDGER_KEY_SIZE) == 0;
        if (slot != NULL && slot->self_is_lender != to_lender) {
            lease_reject_count(m, LEASE_REJECT_MISMATCH);
            break;
        }
        if (to_lender) {
            lease_lender_on_record(m, now, &peer, slot, &body.record, &record, outbox);
        } else if (slot != NULL) {
            lease_borrower_on_record(m, now, &peer, slot, &body.record, &record, rng, outbox);
        } else {
            answer_from_ledger(m, &peer, &body.record, &record, outbox);
        }
        break;
    }
    case WIRE_TYPE_LEASE_END:
        if (slot->self_is_lender) {
            lease_lender_on_end(m, now, slot, &body.end, outbox);
        } else {
            lease_borrower_on_end(m, now, slot, &body.end, outbox);
        }
        break;
    default:
        MESH_ASSERT(false);
    }
    return lease_borrows_step(m, now, rng, outbox);
}

mesh_err lease_on_ledger_ack(lease_machine *m,
                             mesh_now now,
                             uint64_t token,
                             mesh_err result,
                             mesh_rng *rng,
                             mesh_outbox *outbox)
{
    MESH_ASSERT(m != NULL && outbox != NULL);
    lease_begin_call(m);
    uint32_t index = (uint32_t) (token & 0xffffffffu);
    uint32_t generation = (uint32_t) (token >> 32);
    if (index >= m->slot_count || !m->slots[index].used ||
        m->slots[index].generation != generation || !m->slots[index].pending_in_ledger) {
        lease_reject_count(m, LEASE_REJECT_UNEXPECTED);
        return MESH_OK;
    }
    lease_slot *slot = &m->slots[index];
    slot->pending_in_ledger = false;
    if (result != MESH_OK) {
        // The ledger failed the write (a store error), or refused it. Nothing
        // that depends on it was sent. The record is agreed (it carries
        // both signatures, and the peer may already hold it), so it must
        // not be replaced by another one under its number: the same record
        // is handed to the ledger again at the next timer, backing off.
        lease_reject_count(m, LEASE_REJECT_LEDGER);
        slot->pending_rewrite = true;
        slot->retry_ns = slot->retry_ns * 2 < m->config.retry_max_ns ? slot->retry_ns * 2
                                                                     : m->config.retry_max_ns;
        lease_slot_arm(m, slot, now.monotonic_ns + slot->retry_ns);
        return MESH_OK;
    }
    slot->record_count++;
    if (slot->self_is_lender) {
        lease_lender_after_write(m, now, slot, outbox);
    } else {
        lease_borrower_after_write(m, now, slot, rng, outbox);
    }
    return lease_borrows_step(m, now, rng, outbox);
}

mesh_err lease_on_tick(lease_machine *m, mesh_now now, mesh_rng *rng, mesh_outbox *outbox)
{
    MESH_ASSERT(m != NULL && outbox != NULL);
    lease_begin_call(m);
    // Bounded: at most one pass over the slots that are due, and only
    // while there is room for their outputs; the rest stays due.
    for (uint32_t steps = 0; steps < m->slot_count && m->heap_count > 0; steps++) {
        lease_slot *slot = &m->slots[m->heap[0]];
        if (slot->deadline_ns > now.monotonic_ns || !lease_room(m, outbox)) {
            break;
        }
        lease_slot_disarm(m, slot);
        mesh_err err = MESH_OK;
        if (slot->has_pending && slot->pending_rewrite) {
            slot->pending_rewrite = false;
            err = lease_write_pending(m, slot, outbox);
            if (err != MESH_OK) {
                slot->pending_rewrite = true;
            }
        } else if (slot->self_is_lender) {
            err = lease_lender_on_timer(m, now, slot, outbox);
        } else {
            err = lease_borrower_on_timer(m, now, slot, rng, outbox);
        }
        if (err == MESH_EFULL) {
            if (slot->used && slot->heap_index == LEASE_NO_SLOT) {
                lease_slot_arm(m, slot, now.monotonic_ns);
            }
            break;
        }
    }
    return lease_borrows_step(m, now, rng, outbox);
}

/* ---------------------------------------------------------------- */
/* Queries.                                                          */
/* ---------------------------------------------------------------- */

void lease_stats_get(const lease_machine *m, lease_stats *stats_out)
{
    *stats_out = m->stats;
}

uint32_t lease_capacity_count(const lease_machine *m)
{
    return m->config.class_count;
}

void lease_capacity_at(const lease_machine *m, uint32_t index, lease_capacity *capacity_out)
{
    MESH_ASSERT(index < m->config.class_count);
    const lease_class_state *state = &m->classes[index];
    memset(capacity_out, 0, sizeof(*capacity_out));
    capacity_out->resource_class = state->policy.resource_class;
    memcpy(capacity_out->model, state->policy.model, sizeof(capacity_out->model));
    capacity_out->total = state->policy.total;
    capacity_out->lendable = state->policy.lendable;
    capacity_out->lent = state->booked;
    capacity_out->free_to_lend = lease_class_free_to_lend(state);
    capacity_out->local_demand = state->local_demand;
    capacity_out->borrowed = state->borrowed;
    capacity_out->price_microeur_per_unit_hour = state->policy.price_microeur_per_unit_hour;
    capacity_out->keep = state->policy.keep;
}

static void info_from_slot(const lease_slot *slot, lease_info *info)
{
    memset(info, 0, sizeof(*info));
    memcpy(info->lease_id, slot->lease_id, sizeof(info->lease_id));
    info->self_is_lender = slot->self_is_lender;
    info->peer = slot->peer_id;
    info->phase = slot->phase;
    info->borrow_id = slot->borrow_index;
    info->record_count = slot->record_count;
    info->reclaim_at_ns = slot->reclaim_at_ns;
    if (slot->has_opened) {
        info->amount_count = slot->opened.amount_count;
        memcpy(info->amounts, slot->opened.amounts, sizeof(info->amounts));
        info->start_ns = slot->opened.terms.start_ns;
        info->end_ns = slot->opened.terms.end_ns;
        memcpy(info->data_class, slot->opened.terms.constraints.data_class,
               sizeof(info->data_class));
    }
}

void lease_visit(const lease_machine *m, lease_visit_fn visit, void *arg)
{
    MESH_ASSERT(m != NULL && visit != NULL);
    for (uint32_t i = 0; i < m->slot_count; i++) {
        if (!m->slots[i].used) {
            continue;
        }
        lease_info info;
        info_from_slot(&m->slots[i], &info);
        if (!visit(arg, &info)) {
            return;
        }
    }
}

uint32_t lease_count(const lease_machine *m)
{
    return m->stats.leases_open;
}

mesh_err lease_at(const lease_machine *m, uint32_t index, lease_info *info_out)
{
    uint32_t seen = 0;
    for (uint32_t i = 0; i < m->slot_count; i++) {
        if (!m->slots[i].used) {
            continue;
        }
        if (seen == index) {
            info_from_slot(&m->slots[i], info_out);
            return MESH_OK;
        }
        seen++;
    }
    return MESH_ENOTFOUND;
}

mesh_err lease_find(const lease_machine *m,
                    const uint8_t lease_id[LEDGER_LEASE_ID_SIZE],
                    lease_info *info_out)
{
    const lease_slot *slot = lease_slot_find((lease_machine *) m, lease_id);
    if (slot == NULL) {
        return MESH_ENOTFOUND;
    }
    info_from_slot(slot, info_out);
    return MESH_OK;
}
