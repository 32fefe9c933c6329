/*
 * member/member.c: gossip, leases and the ledger as one member, and the
 * executor of their outputs (member.h has the rules).
 *
 * Held sends. A SEND that follows a staged ledger write is copied (frame
 * and endpoint) into a bounded queue and leaves after the synced commit,
 * in order. The queue is MEMBER_HELD_SENDS_MAX frames and
 * MEMBER_HELD_BYTES_MAX bytes; when it fills, the member commits early
 * (a flush without acknowledgements, which are queued for the next flush)
 * rather than drop anything.
 *
 * Acknowledgements. ledger_commit delivers (token, seq) through a callback
 * into a queue; member_flush hands them to the lease machine afterwards,
 * never from inside the ledger's call. A write the ledger refused
 * (ledger_append's MESH_ECONSTRAINT, say) is acknowledged with the error
 * through the same queue. The queue is bounded by what the ledger may
 * stage between syncs (4 x group_records_max); a full queue forces a
 * flush first.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "member/member_int.h"
#include "wire/wire.h"

void member_config_default(member_config *config)
{
    MESH_ASSERT(config != NULL);
    memset(config, 0, sizeof(*config));
    gossip_config_default(&config->gossip);
    lease_config_default(&config->lease);
    config->advert_interval_ns = MESH_NS_PER_S;
    config->burst.threshold = 1;
    config->burst.release_delay_ns = 60ull * MESH_NS_PER_S;
    config->burst.lease_duration_ns = 3600ull * MESH_NS_PER_S;
    config->burst.retry_ns = 30ull * MESH_NS_PER_S;
}

/* ---------------------------------------------------------------- */
/* The lease directory, from gossip's view and the ledger.           */
/* ---------------------------------------------------------------- */

static mesh_err peer_from_info(member_node *m, const gossip_member_info *info, lease_peer *peer)
{
    if (info->self || info->state == GOSSIP_REVOKED ||
        info->cert_valid_until_ns <= m->now.realtime_ns) {
        return MESH_ENOTFOUND;
    }
    memset(peer, 0, sizeof(*peer));
    peer->id = info->id;
    memcpy(peer->public_key, info->public_key, sizeof(peer->public_key));
    memcpy(peer->name, info->name, sizeof(peer->name));
    memcpy(peer->country, info->country, sizeof(peer->country));
    peer->jurisdiction_count = info->jurisdiction_count;
    memcpy(peer->jurisdictions, info->jurisdictions, sizeof(peer->jurisdictions));
    peer->certifications = info->certifications;
    memcpy(peer->cert_hash, info->cert_hash, sizeof(peer->cert_hash));
    peer->alive = info->state == GOSSIP_ALIVE || info->state == GOSSIP_SUSPECT;
    peer->rtt_us = info->rtt_us;
    wire_advert advert;
    if (gossip_member_advert(m->gossip_machine, &info->id, &advert) == MESH_OK) {
        memcpy(m->find_endpoint, advert.endpoint, sizeof(m->find_endpoint));
        peer->endpoint = m->find_endpoint;
        peer->carbon_gco2_per_kwh = advert.carbon_gco2_per_kwh;
        peer->resource_count = advert.resource_count;
        memcpy(peer->resources, advert.resources, sizeof(peer->resources));
    }
    return peer->endpoint != NULL ? MESH_OK : MESH_ENOTFOUND;
}

static mesh_err directory_find(void *ctx, const mesh_node_id *id, lease_peer *peer_out)
{
    member_node *m = ctx;
    gossip_member_info info;
    if (gossip_member_find(m->gossip_machine, id, &info) != MESH_OK) {
        return MESH_ENOTFOUND;
    }
    return peer_from_info(m, &info, peer_out);
}

static uint32_t directory_count(void *ctx)
{
    member_node *m = ctx;
    return gossip_member_count(m->gossip_machine);
}

static mesh_err directory_at(void *ctx, uint32_t index, lease_peer *peer_out)
{
    member_node *m = ctx;
    gossip_member_info info;
    if (gossip_member_at(m->gossip_machine, index, &info) != MESH_OK) {
        return MESH_ENOTFOUND;
    }
    return peer_from_info(m, &info, peer_out);
}

static int64_t directory_reciprocity(void *ctx, const uint8_t key[LEDGER_KEY_SIZE], int64_t now_ns)
{
    member_node *m = ctx;
    return ledger_reciprocity(m->ledger_handle, key, now_ns);
}

static bool directory_has_lease(void *ctx, const uint8_t lease_id[LEDGER_LEASE_ID_SIZE])
{
    member_node *m = ctx;
    ledger_lease lease;
    return ledger_lease_get(m->ledger_handle, lease_id, &lease) == MESH_OK;
}

typedef struct record_search {
    const uint8_t *lease_id;
    uint32_t number;
    uint64_t last_seq;
    bool found;
    ledger_record *record;
    uint8_t *lender_signature;
    uint8_t *borrower_signature;
} record_search;

static bool record_search_visit(void *arg, const ledger_entry *entry)
{
    record_search *search = arg;
    if (entry->seq > search->last_seq) {
        return false;
    }
    if (memcmp(entry->record.lease_id, search->lease_id, LEDGER_LEASE_ID_SIZE) != 0 ||
        entry->record.number != search->number) {
        return true;
    }
    if (!entry->has_lender_signature || !entry->has_borrower_signature) {
        return false;
    }
    *search->record = entry->record;
    memcpy(search->lender_signature, entry->lender_signature, LEDGER_SIGNATURE_SIZE);
    memcpy(search->borrower_signature, entry->borrower_signature, LEDGER_SIGNATURE_SIZE);
    search->found = true;
    return false;
}

static mesh_err directory_record(void *ctx,
                                 const uint8_t lease_id[LEDGER_LEASE_ID_SIZE],
                                 uint32_t number,
                                 ledger_record *record_out,
                                 uint8_t lender_signature_out[LEDGER_SIGNATURE_SIZE],
                                 uint8_t borrower_signature_out[LEDGER_SIGNATURE_SIZE])
{
    member_node *m = ctx;
    ledger_lease lease;
    if (ledger_lease_get(m->ledger_handle, lease_id, &lease) != MESH_OK ||
        number >= lease.record_count) {
        return MESH_ENOTFOUND;
    }
    record_search search = {.lease_id = lease_id,
                            .number = number,
                            .last_seq = lease.last_seq,
                            .record = record_out,
                            .lender_signature = lender_signature_out,
                            .borrower_signature = borrower_signature_out};
    mesh_err err = ledger_journal_walk(m->store, lease.first_seq, record_search_visit, &search);
    if (err != MESH_OK) {
        return err;
    }
    return search.found ? MESH_OK : MESH_ENOTFOUND;
}

/* ---------------------------------------------------------------- */
/* The executor.                                                     */
/* ---------------------------------------------------------------- */

static void on_commit_ack(void *arg, uint64_t token, uint64_t seq)
{
    member_node *m = arg;
    (void) seq;
    MESH_ASSERT(m->ack_count < MEMBER_ACKS_MAX);
    m->acks[m->ack_count++] = (member_ack){.token = token, .result = MESH_OK};
}

static void send_now(member_node *m,
                     const mesh_node_id *peer,
                     const char *endpoint,
                     const uint8_t *frame,
                     uint32_t frame_size)
{
    // A revoked node stops trying: leases and reconciles included, not
    // only gossip, so that its peers see no retry storm.
    if (gossip_self_revoked(m->gossip_machine)) {
        m->stats.sends_self_revoked++;
        return;
    }
    m->stats.sends++;
    m->io.send(m->io.ctx, peer, endpoint, frame, frame_size);
}

// Syncs every staged write; then the held sends leave in order. On a
// failed commit nothing held leaves, and every staged write is refused
// back to the lease machine.
static mesh_err commit(member_node *m)
{
    mesh_err err = MESH_OK;
    if (m->staged) {
        m->stats.commits++;
        err = ledger_commit(m->ledger_handle, true, on_commit_ack, m);
        if (err != MESH_OK) {
            m->stats.commit_failures++;
            for (uint32_t i = 0; i < m->staged_count && m->ack_count < MEMBER_ACKS_MAX; i++) {
                m->acks[m->ack_count++] = (member_ack){.token = m->staged_tokens[i], .result = err};
            }
        }
    }
    if (err == MESH_OK) {
        for (uint32_t i = 0; i < m->held_count; i++) {
            const member_held_send *h = &m->held[i];
            send_now(m, &h->peer, (const char *) m->held_bytes + h->offset,
                     m->held_bytes + h->offset + h->endpoint_size, h->frame_size);
        }
    }
    m->held_count = 0;
    m->held_used = 0;
    m->staged = false;
    m->staged_count = 0;
    return err;
}

static void hold(member_node *m, const mesh_output *output)
{
    const char *endpoint = output->endpoint != NULL ? output->endpoint : "";
    uint32_t endpoint_size = (uint32_t) strlen(endpoint) + 1;
    uint32_t size = endpoint_size + output->payload_size;
    if (m->held_count >= MEMBER_HELD_SENDS_MAX || m->held_used + size > MEMBER_HELD_BYTES_MAX) {
        m->stats.early_flushes++;
        (void) commit(m); // a failure refuses the writes; this send then goes out alone
        send_now(m, &output->peer, endpoint, output->payload, output->payload_size);
        return;
    }
    member_held_send *h = &m->held[m->held_count++];
    h->peer = output->peer;
    h->offset = m->held_used;
    h->endpoint_size = endpoint_size;
    h->frame_size = output->payload_size;
    memcpy(m->held_bytes + m->held_used, endpoint, endpoint_size);
    memcpy(m->held_bytes + m->held_used + endpoint_size, output->payload, output->payload_size);
    m->held_used += size;
    m->stats.sends_held++;
}

mesh_err member_commit_early(member_node *m)
{
    m->stats.early_flushes++;
    return commit(m);
}

static void write_record(member_node *m, const mesh_output *output)
{
    MESH_ASSERT(output->payload_size == sizeof(lease_ledger_write));
    lease_ledger_write write;
    memcpy(&write, output->payload, sizeof(write));
    if (m->ack_count + m->staged_count + 1 >= MEMBER_ACKS_MAX) {
        m->stats.early_flushes++;
        (void) commit(m);
    }
    if (write.record->kind == LEDGER_KIND_OPENED) {
        member_keep_certificates(m, write.record); // staged with the record
    }
    mesh_err err = ledger_append(m->ledger_handle, write.record, write.lender_signature,
                                 write.borrower_signature, write.token, NULL);
    if (err == MESH_EFULL) {
        // The ledger's group is full: make it durable, then stage again.
        m->stats.early_flushes++;
        (void) commit(m);
        err = ledger_append(m->ledger_handle, write.record, write.lender_signature,
                            write.borrower_signature, write.token, NULL);
    }
    if (err != MESH_OK) {
        m->stats.ledger_refused++;
        MESH_ASSERT(m->ack_count < MEMBER_ACKS_MAX);
        m->acks[m->ack_count++] = (member_ack){.token = write.token, .result = err};
        return;
    }
    m->stats.ledger_writes++;
    m->staged = true;
    m->staged_tokens[m->staged_count++] = write.token;
}

// Executes one machine call's outbox, in order, then empties it.
void member_execute(member_node *m, member_source source, mesh_err call_result)
{
    if (call_result == MESH_EFULL) {
        m->stats.outbox_full++;
    }
    for (uint32_t i = 0; i < m->outbox.count; i++) {
        const mesh_output *output = &m->outbox.items[i];
        switch (output->kind) {
        case MESH_OUTPUT_SEND:
            if (m->staged) {
                hold(m, output);
            } else {
                send_now(m, &output->peer, output->endpoint, output->payload, output->payload_size);
            }
            break;
        case MESH_OUTPUT_LEDGER_WRITE:
            MESH_ASSERT(source == MEMBER_SOURCE_LEASE && m->ledger_handle != NULL);
            write_record(m, output);
            break;
        case MESH_OUTPUT_EVENT:
            if (source == MEMBER_SOURCE_LEASE) {
                member_burst_on_event(m, m->now, (const lease_event *) output->payload);
            }
            if (m->io.event != NULL) {
                m->io.event(m->io.ctx, m->now, source, output->payload);
            }
            break;
        default:
            MESH_ASSERT(false);
        }
    }
    mesh_outbox_clear(&m->outbox);
}

/* ---------------------------------------------------------------- */
/* Capacity in the advert.                                           */
/* ---------------------------------------------------------------- */

// The advert's resources from the lease machine's capacity: total, free
// (what neither local demand nor leases take) and lendable (what an offer
// could take now). Borrowed capacity never appears here.
static void advert_from_capacity(const member_node *m, wire_advert *advert)
{
    uint32_t count = lease_capacity_count(m->lease);
    if (count == 0) {
        return; // no lending policy: the configured advert stands
    }
    advert->resource_count = 0;
    for (uint32_t i = 0; i < count && i < WIRE_RESOURCES_MAX; i++) {
        lease_capacity capacity;
        lease_capacity_at(m->lease, i, &capacity);
        wire_resource *r = &advert->resources[advert->resource_count++];
        memset(r, 0, sizeof(*r));
        r->resource_class = capacity.resource_class;
        memcpy(r->model, capacity.model, sizeof(r->model));
        r->total = capacity.total;
        uint64_t taken = capacity.local_demand + capacity.lent;
        r->free = taken >= capacity.total ? 0 : capacity.total - taken;
        r->lendable = capacity.free_to_lend;
        r->price_microeur_per_unit_hour = capacity.price_microeur_per_unit_hour;
    }
}

static bool resources_equal(const wire_advert *a, const wire_advert *b)
{
    if (a->resource_count != b->resource_count) {
        return false;
    }
    for (uint32_t i = 0; i < a->resource_count; i++) {
        const wire_resource *x = &a->resources[i];
        const wire_resource *y = &b->resources[i];
        if (x->resource_class != y->resource_class || strcmp(x->model, y->model) != 0 ||
            x->total != y->total || x->free != y->free || x->lendable != y->lendable ||
            x->price_microeur_per_unit_hour != y->price_microeur_per_unit_hour) {
            return false;
        }
    }
    return true;
}

static void publish_if_due(member_node *m, mesh_now now, mesh_rng *rng)
{
    if (m->lease == NULL) {
        return;
    }
    wire_advert next = m->advert;
    advert_from_capacity(m, &next);
    if (!resources_equal(&next, &m->advert)) {
        m->advert = next;
        m->advert_dirty = true;
    }
    if (!m->advert_dirty || now.monotonic_ns < m->advert_published_ns + m->advert_interval_ns) {
        return;
    }
    mesh_err err = gossip_update_advert(m->gossip_machine, now, &m->advert, rng, &m->outbox);
    member_execute(m, MEMBER_SOURCE_GOSSIP, err);
    if (err == MESH_OK) {
        m->advert_dirty = false;
        m->advert_published_ns = now.monotonic_ns;
        m->stats.adverts_published++;
    }
}

/* ---------------------------------------------------------------- */
/* Creation and restore.                                             */
/* ---------------------------------------------------------------- */

static mesh_err fill_lease_identity(member_node *m, const member_config *config, lease_config *lc)
{
    const gossip_config *gc = &config->gossip;
    wire_envelope envelope;
    wire_cert cert;
    if (gc->cert_frame == NULL ||
        wire_envelope_decode(gc->cert_frame, gc->cert_frame_size, &envelope, NULL) != MESH_OK ||
        envelope.type != WIRE_TYPE_CERT ||
        wire_cert_decode(envelope.body, envelope.body_size, &cert, NULL) != MESH_OK) {
        return MESH_EINVAL;
    }
    lc->keypair = gc->keypair;
    mcrypto_node_id(gc->keypair.public_key, &lc->self_id);
    memcpy(lc->country, cert.country, sizeof(lc->country));
    lc->jurisdiction_count = cert.jurisdiction_count;
    memcpy(lc->jurisdictions, cert.jurisdictions, sizeof(lc->jurisdictions));
    lc->certifications = cert.certifications;
    MESH_ASSERT(crypto_generichash(lc->cert_hash, sizeof(lc->cert_hash), gc->cert_frame,
                                   gc->cert_frame_size, NULL, 0) == 0);
    lc->carbon_gco2_per_kwh = gc->advert.carbon_gco2_per_kwh;
    lc->directory = (lease_directory){.ctx = m,
                                      .find = directory_find,
                                      .count = directory_count,
                                      .at = directory_at,
                                      .reciprocity = directory_reciprocity,
                                      .ledger_has_lease = directory_has_lease,
                                      .ledger_record = directory_record};
    return MESH_OK;
}

typedef struct restore_walk {
    const uint8_t *lease_id;
    uint64_t last_seq;
    uint32_t count;
    lease_signed_record opened;
    lease_signed_record last;
    uint64_t usage_milli[LEDGER_AMOUNTS_MAX];
} restore_walk;

static void signed_from_entry(const ledger_entry *entry, lease_signed_record *out)
{
    out->record = entry->record;
    memset(out->lender_signature, 0, sizeof(out->lender_signature));
    memset(out->borrower_signature, 0, sizeof(out->borrower_signature));
    if (entry->has_lender_signature) {
        memcpy(out->lender_signature, entry->lender_signature, LEDGER_SIGNATURE_SIZE);
    }
    if (entry->has_borrower_signature) {
        memcpy(out->borrower_signature, entry->borrower_signature, LEDGER_SIGNATURE_SIZE);
    }
}

static bool restore_visit(void *arg, const ledger_entry *entry)
{
    restore_walk *walk = arg;
    if (entry->seq > walk->last_seq) {
        return false;
    }
    const ledger_record *record = &entry->record;
    if (memcmp(record->lease_id, walk->lease_id, LEDGER_LEASE_ID_SIZE) != 0) {
        return true;
    }
    if (record->kind == LEDGER_KIND_OPENED) {
        signed_from_entry(entry, &walk->opened);
    }
    if (record->kind == LEDGER_KIND_USAGE) {
        for (uint32_t i = 0; i < record->amount_count && i < LEDGER_AMOUNTS_MAX; i++) {
            walk->usage_milli[i] += record->amounts[i].amount_milli;
        }
    }
    signed_from_entry(entry, &walk->last);
    walk->count++;
    return true;
}

typedef struct restore_context {
    member_node *member;
    mesh_now now;
    mesh_err err;
    uint32_t restored;
} restore_context;

static bool restore_lease(void *arg, const ledger_lease *lease)
{
    restore_context *context = arg;
    member_node *m = context->member;
    restore_walk walk;
    memset(&walk, 0, sizeof(walk));
    walk.lease_id = lease->lease_id;
    walk.last_seq = lease->last_seq;
    mesh_err err = ledger_journal_walk(m->store, lease->first_seq, restore_visit, &walk);
    if (err == MESH_OK && (walk.count != lease->record_count || walk.opened.record.kind == 0)) {
        err = MESH_ECORRUPT;
    }
    if (err == MESH_OK) {
        err = lease_restore(m->lease, context->now, &walk.opened, &walk.last, walk.count,
                            walk.usage_milli);
    }
    if (err != MESH_OK) {
        context->err = err;
        return false;
    }
    context->restored++;
    return true;
}

static mesh_err restore_leases(member_node *m, mesh_now now)
{
    static const uint32_t states[] = {LEDGER_LEASE_OPEN, LEDGER_LEASE_RECLAIMED,
                                      LEDGER_LEASE_RELEASED, LEDGER_LEASE_EXPIRED};
    restore_context context = {.member = m, .now = now, .err = MESH_OK};
    for (uint32_t i = 0; i < MESH_ARRAY_COUNT(states); i++) {
        mesh_err err = ledger_lease_list(m->ledger_handle, states[i], restore_lease, &context);
        if (err != MESH_OK) {
            return err;
        }
        if (context.err != MESH_OK) {
            return context.err;
        }
    }
    return MESH_OK;
}

mesh_err
member_create(const member_config *config, mesh_now now, mesh_rng *rng, member_node **member_out)
{
    MESH_ASSERT(config != NULL && member_out != NULL && rng != NULL);
    if (config->io.send == NULL || (config->ledger_handle == NULL) != (config->store == NULL)) {
        return MESH_EINVAL;
    }
    member_node *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        return MESH_ENOMEM;
    }
    m->now = now;
    m->io = config->io;
    m->ledger_handle = config->ledger_handle;
    m->store = config->store;
    m->advert_interval_ns =
        config->advert_interval_ns != 0 ? config->advert_interval_ns : MESH_NS_PER_S;
    m->burst = config->burst;
    m->keypair = config->gossip.keypair;
    mcrypto_node_id(m->keypair.public_key, &m->self_id);
    mesh_outbox_init(&m->outbox, m->items, MEMBER_OUTBOX_ITEMS);
    mesh_err err = MESH_ENOMEM;
    // The write queues only a member with a ledger can need (a gossip-only
    // member never stages a write, so it never holds a send): the
    // simulator's thousands of members pay nothing for them.
    if (config->ledger_handle != NULL) {
        m->staged_tokens = calloc(MEMBER_ACKS_MAX, sizeof(*m->staged_tokens));
        m->acks = calloc(MEMBER_ACKS_MAX, sizeof(*m->acks));
        m->held = calloc(MEMBER_HELD_SENDS_MAX, sizeof(*m->held));
        m->held_bytes = malloc(MEMBER_HELD_BYTES_MAX);
        if (m->staged_tokens == NULL || m->acks == NULL || m->held == NULL ||
            m->held_bytes == NULL) {
            goto out_destroy;
        }
    }
    if (m->ledger_handle != NULL &&
        memcmp(ledger_self_key(m->ledger_handle), config->gossip.keypair.public_key,
               LEDGER_KEY_SIZE) != 0) {
        err = MESH_EINVAL;
        goto out_destroy;
    }
    if (m->ledger_handle != NULL) {
        lease_config lease_settings = config->lease;
        err = fill_lease_identity(m, config, &lease_settings);
        if (err != MESH_OK) {
            goto out_destroy;
        }
        err = lease_create(&lease_settings, now, &m->lease);
        sodium_memzero(&lease_settings.keypair, sizeof(lease_settings.keypair));
        if (err != MESH_OK) {
            goto out_destroy;
        }
    }
    gossip_config gossip_settings = config->gossip;
    m->advert = config->gossip.advert;
    if (m->lease != NULL) {
        advert_from_capacity(m, &m->advert);
        gossip_settings.advert = m->advert;
    }
    err = gossip_create(&gossip_settings, now, &m->gossip_machine);
    sodium_memzero(&gossip_settings.keypair, sizeof(gossip_settings.keypair));
    if (err != MESH_OK) {
        goto out_destroy;
    }
    if (m->lease != NULL) {
        err = restore_leases(m, now);
        if (err != MESH_OK) {
            goto out_destroy;
        }
    }
    *member_out = m;
    return MESH_OK;

out_destroy:
    member_destroy(m);
    return err;
}

void member_destroy(member_node *m)
{
    if (m == NULL) {
        return;
    }
    gossip_destroy(m->gossip_machine);
    lease_destroy(m->lease);
    member_reconcile_destroy(m);
    sodium_memzero(&m->keypair, sizeof(m->keypair));
    free(m->staged_tokens);
    free(m->acks);
    free(m->held);
    free(m->held_bytes);
    free(m);
}

/* ---------------------------------------------------------------- */
/* Inputs.                                                           */
/* ---------------------------------------------------------------- */

/* The envelope's type, read from its first bytes without decoding the
 * frame (the machine it goes to decodes it in full): a canonical envelope
 * starts with fixarray(5) 0x95, the version as a positive fixint, and the
 * type as a positive fixint (types are at most WIRE_TYPE_MAX, 31). 0 for
 * anything else; such a frame goes to gossip, which refuses and counts it. */
static uint32_t peek_type(const uint8_t *frame, uint32_t frame_size)
{
    _Static_assert(WIRE_TYPE_MAX < 0x80, "a type is a positive fixint");
    _Static_assert(WIRE_VERSION < 0x80, "the version is a positive fixint");
    if (frame_size < 3 || frame[0] != 0x95 || frame[1] != WIRE_VERSION ||
        frame[2] > WIRE_TYPE_MAX) {
        return 0;
    }
    return frame[2];
}

mesh_err member_on_frame(
    member_node *m, mesh_now now, const uint8_t *frame, uint32_t frame_size, mesh_rng *rng)
{
    MESH_ASSERT(m != NULL && rng != NULL);
    m->now = now;
    // The type is the envelope's second field; the machines decode the
    // frame in full themselves. A frame too short to say is gossip's to
    // refuse and count.
    uint32_t type = peek_type(frame, frame_size);
    if (type == WIRE_TYPE_LEDGER_SUMMARY) {
        member_reconcile_on_frame(m, now, frame, frame_size); // the member's own (reconcile.c)
        return MESH_OK;
    }
    bool lease_frame = type >= WIRE_TYPE_LEASE_REQUEST;
    if (!lease_frame) {
        m->stats.frames_gossip++;
        mesh_err err =
            gossip_on_message(m->gossip_machine, now, frame, frame_size, rng, &m->outbox);
        member_execute(m, MEMBER_SOURCE_GOSSIP, err);
        return err == MESH_EFULL ? MESH_OK : err;
    }
    if (m->lease == NULL) {
        m->stats.frames_unknown++;
        return MESH_OK;
    }
    m->stats.frames_lease++;
    mesh_err err = lease_on_message(m->lease, now, frame, frame_size, rng, &m->outbox);
    member_execute(m, MEMBER_SOURCE_LEASE, err);
    return err == MESH_EFULL ? MESH_OK : err;
}

mesh_err member_on_tick(member_node *m, mesh_now now, mesh_rng *rng)
{
    MESH_ASSERT(m != NULL && rng != NULL);
    m->now = now;
    mesh_err err = MESH_OK;
    if (gossip_deadline_ns(m->gossip_machine) <= now.monotonic_ns) {
        err = gossip_on_tick(m->gossip_machine, now, rng, &m->outbox);
        member_execute(m, MEMBER_SOURCE_GOSSIP, err);
    }
    if (m->lease != NULL && lease_deadline_ns(m->lease) <= now.monotonic_ns) {
        mesh_err lease_err = lease_on_tick(m->lease, now, rng, &m->outbox);
        member_execute(m, MEMBER_SOURCE_LEASE, lease_err);
        err = err != MESH_OK ? err : lease_err;
    }
    if (m->lease != NULL && member_burst_deadline_ns(m) <= now.monotonic_ns) {
        member_burst_step(m, now, rng);
    }
    if (m->advert_dirty && now.monotonic_ns >= m->advert_published_ns + m->advert_interval_ns) {
        publish_if_due(m, now, rng);
    }
    if (member_reconcile_deadline_ns(m) <= now.monotonic_ns) {
        member_reconcile_on_tick(m, now);
    }
    return err == MESH_EFULL ? MESH_OK : err;
}

mesh_err member_flush(member_node *m, mesh_now now, mesh_rng *rng)
{
    MESH_ASSERT(m != NULL && rng != NULL);
    m->now = now;
    mesh_err result = MESH_OK;
    for (uint32_t round = 0; round < MEMBER_ACK_ROUNDS_MAX; round++) {
        if (!m->staged && m->ack_count == 0 && m->held_count == 0) {
            break;
        }
        mesh_err err = commit(m);
        result = result != MESH_OK ? result : err;
        // The acknowledgements of this round; the lease machine's answers
        // may stage more writes, committed by the next round.
        uint32_t count = m->ack_count;
        member_ack batch[256];
        for (uint32_t start = 0; start < count; start += MESH_ARRAY_COUNT(batch)) {
            uint32_t n =
                count - start < MESH_ARRAY_COUNT(batch) ? count - start : MESH_ARRAY_COUNT(batch);
            memcpy(batch, &m->acks[start], n * sizeof(member_ack));
            for (uint32_t i = 0; i < n; i++) {
                MESH_ASSERT(m->lease != NULL);
                mesh_err err_ack = lease_on_ledger_ack(m->lease, now, batch[i].token,
                                                       batch[i].result, rng, &m->outbox);
                member_execute(m, MEMBER_SOURCE_LEASE, err_ack);
            }
        }
        // Acknowledgements that arrived while handling these (an early
        // commit) stay for the next round.
        memmove(m->acks, &m->acks[count], (m->ack_count - count) * sizeof(member_ack));
        m->ack_count -= count;
    }
    publish_if_due(m, now, rng);
    if (m->staged || m->held_count > 0) {
        mesh_err err = commit(m); // what the advert or the last round staged
        result = result != MESH_OK ? result : err;
    }
    return result;
}

uint64_t member_deadline_ns(const member_node *m)
{
    uint64_t deadline = gossip_deadline_ns(m->gossip_machine);
    if (m->lease != NULL) {
        uint64_t lease_deadline = lease_deadline_ns(m->lease);
        deadline = lease_deadline < deadline ? lease_deadline : deadline;
    }
    uint64_t burst_deadline = member_burst_deadline_ns(m);
    deadline = burst_deadline < deadline ? burst_deadline : deadline;
    uint64_t reconcile_deadline = member_reconcile_deadline_ns(m);
    deadline = reconcile_deadline < deadline ? reconcile_deadline : deadline;
    if (m->advert_dirty) {
        uint64_t advert_deadline = m->advert_published_ns + m->advert_interval_ns;
        deadline = advert_deadline < deadline ? advert_deadline : deadline;
    }
    return deadline;
}

/* ---------------------------------------------------------------- */
/* Local commands.                                                   */
/* ---------------------------------------------------------------- */

mesh_err member_borrow(member_node *m,
                       mesh_now now,
                       const lease_borrow_request *request,
                       mesh_rng *rng,
                       uint32_t *borrow_id_out)
{
    if (m->lease == NULL) {
        return MESH_ENOTFOUND;
    }
    m->now = now;
    mesh_err err = lease_borrow(m->lease, now, request, rng, &m->outbox, borrow_id_out);
    member_execute(m, MEMBER_SOURCE_LEASE, err);
    return err;
}

mesh_err member_release(member_node *m,
                        mesh_now now,
                        const uint8_t lease_id[LEDGER_LEASE_ID_SIZE],
                        mesh_rng *rng)
{
    if (m->lease == NULL) {
        return MESH_ENOTFOUND;
    }
    m->now = now;
    mesh_err err = lease_release(m->lease, now, lease_id, rng, &m->outbox);
    member_execute(m, MEMBER_SOURCE_LEASE, err);
    return err;
}

mesh_err member_reclaim(member_node *m,
                        mesh_now now,
                        const uint8_t lease_id[LEDGER_LEASE_ID_SIZE],
                        uint64_t notice_ns,
                        mesh_rng *rng)
{
    if (m->lease == NULL) {
        return MESH_ENOTFOUND;
    }
    m->now = now;
    mesh_err err = lease_reclaim(m->lease, now, lease_id, notice_ns, rng, &m->outbox);
    member_execute(m, MEMBER_SOURCE_LEASE, err);
    return err;
}

mesh_err member_set_capacity(
    member_node *m, uint32_t resource_class, const char *model, uint64_t total, uint64_t lendable)
{
    if (m->lease == NULL) {
        return MESH_ENOTFOUND;
    }
    return lease_set_capacity(m->lease, resource_class, model, total, lendable);
}

mesh_err member_leave(member_node *m, mesh_now now, mesh_rng *rng)
{
    m->now = now;
    mesh_err err = gossip_leave(m->gossip_machine, now, rng, &m->outbox);
    member_execute(m, MEMBER_SOURCE_GOSSIP, err);
    return err;
}

mesh_err
member_revocation_set_endpoint(member_node *m, const mesh_node_id *id, const char *endpoint)
{
    MESH_ASSERT(m != NULL);
    return gossip_revocation_set_endpoint(m->gossip_machine, id, endpoint);
}

mesh_err member_add_revocation(
    member_node *m, mesh_now now, const uint8_t *frame, uint32_t frame_size, mesh_rng *rng)
{
    m->now = now;
    mesh_err err =
        gossip_add_revocation(m->gossip_machine, now, frame, frame_size, rng, &m->outbox);
    member_execute(m, MEMBER_SOURCE_GOSSIP, err);
    return err;
}

mesh_err
member_update_advert(member_node *m, mesh_now now, const wire_advert *advert, mesh_rng *rng)
{
    m->now = now;
    m->advert = *advert;
    if (m->lease != NULL) {
        advert_from_capacity(m, &m->advert);
    }
    mesh_err err = gossip_update_advert(m->gossip_machine, now, &m->advert, rng, &m->outbox);
    member_execute(m, MEMBER_SOURCE_GOSSIP, err);
    if (err == MESH_OK) {
        m->advert_dirty = false;
        m->advert_published_ns = now.monotonic_ns;
    }
    return err;
}

/* ---------------------------------------------------------------- */
/* Queries.                                                          */
/* ---------------------------------------------------------------- */

const gossip *member_gossip(const member_node *m)
{
    return m->gossip_machine;
}

const lease_machine *member_lease(const member_node *m)
{
    return m->lease;
}

void member_stats_get(const member_node *m, member_stats *stats_out)
{
    *stats_out = m->stats;
}
