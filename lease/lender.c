/*
 * lease/lender.c: the lender's side of a lease.
 *
 * A request passes the lender's checks (its own certificate against the
 * borrower's constraints, its policy, its free capacity), then the lender
 * holds the capacity, signs an OPENED record and offers it. The hold lasts
 * offer_ttl; an acceptance (the record countersigned, which the borrower
 * has already made durable) is written, and once the ledger acknowledges
 * it the confirmation leaves. From then on the lender proposes every
 * record, one at a time: usage every usage_interval, the last usage and
 * the end (released, reclaimed or expired), then the settlement.
 *
 * Capacity is booked from the offer until the end record is durable;
 * booked units never exceed lendable, because an offer is made only when
 * free_to_lend covers it and free_to_lend never counts borrowed capacity.
 */
#include <string.h>

#include <sodium.h>

#include "lease/lease_int.h"

static void refuse(lease_machine *m,
                   const lease_peer *peer,
                   const uint8_t lease_id[LEDGER_LEASE_ID_SIZE],
                   uint32_t reason,
                   const char *detail,
                   mesh_outbox *outbox)
{
    MESH_ASSERT(reason >= 1 && reason <= WIRE_LEASE_REFUSAL_MAX);
    wire_lease_refuse message;
    memset(&message, 0, sizeof(message));
    memcpy(message.lease_id, lease_id, sizeof(message.lease_id));
    message.reason = reason;
    size_t size = strlen(detail);
    MESH_ASSERT(size <= WIRE_REASON_TEXT_SIZE_MAX);
    memcpy(message.detail, detail, size + 1);
    uint8_t body[256];
    uint32_t body_size = 0;
    MESH_ASSERT(wire_lease_refuse_encode(&message, body, sizeof(body), &body_size) == MESH_OK);
    m->stats.refusals_out++;
    m->stats.refusals_out_by[reason]++;
    (void) lease_send(m, peer, WIRE_TYPE_LEASE_REFUSE, body, body_size, outbox);
}

// Units of one class that this lender holds booked for one peer.
static uint64_t peer_booked(const lease_machine *m,
                            const mesh_node_id *peer,
                            uint32_t resource_class,
                            const char *model)
{
    uint64_t units = 0;
    for (uint32_t i = 0; i < m->slot_count; i++) {
        const lease_slot *slot = &m->slots[i];
        if (!slot->used || !slot->booked || !mesh_node_id_equal(&slot->peer_id, peer)) {
            continue;
        }
        for (uint32_t j = 0; j < slot->opened.amount_count; j++) {
            const ledger_amount *amount = &slot->opened.amounts[j];
            if (amount->resource_class == resource_class && strcmp(amount->model, model) == 0) {
                units += (amount->amount_milli + 999u) / 1000u;
            }
        }
    }
    return units;
}

static uint32_t check_classes(lease_machine *m,
                              mesh_now now,
                              const lease_peer *peer,
                              const wire_lease_request *request)
{
    for (uint32_t i = 0; i < request->resource_count; i++) {
        const wire_lease_resource *resource = &request->resources[i];
        lease_class_state *state = lease_class_find(m, resource->resource_class, resource->model);
        if (state == NULL || state->policy.lendable == 0) {
            return WIRE_LEASE_REFUSAL_CLASS;
        }
        uint64_t free_units = lease_class_free_to_lend(state);
        if (free_units < resource->amount) {
            return WIRE_LEASE_REFUSAL_CAPACITY;
        }
        // Without a per-peer limit, lendable bounds one peer as it bounds
        // all (free_units above), so the scan of the slots is spared.
        if (state->policy.per_peer_max != 0 &&
            peer_booked(m, &peer->id, resource->resource_class, resource->model) +
                    resource->amount >
                state->policy.per_peer_max) {
            return WIRE_LEASE_REFUSAL_PEER_LIMIT;
        }
        // The last share of what can be lent goes only to peers that lent
        // to us at least as much as they borrowed: reciprocity first.
        uint64_t left = free_units - resource->amount;
        uint64_t share = state->policy.lendable * m->config.reciprocity_share_permille / 1000u;
        if (left < share && m->config.directory.reciprocity != NULL &&
            m->config.directory.reciprocity(m->config.directory.ctx, peer->public_key,
                                            now.realtime_ns) < 0) {
            return WIRE_LEASE_REFUSAL_RECIPROCITY;
        }
    }
    return 0;
}

// The lender's own checks of a request; 0 or the refusal.
static uint32_t check_request(lease_machine *m,
                              mesh_now now,
                              const lease_peer *peer,
                              const wire_lease_request *request,
                              int64_t start_ns)
{
    const lease_config *c = &m->config;
    if (now.monotonic_ns < m->created_ns + c->offer_ttl_ns) {
        return WIRE_LEASE_REFUSAL_STARTING;
    }
    if (request->duration_ns > c->duration_max_ns ||
        start_ns > now.realtime_ns + (int64_t) c->start_ahead_max_ns) {
        return WIRE_LEASE_REFUSAL_WINDOW;
    }
    uint32_t reason =
        lease_constraints_check(&request->constraints, c->country, c->jurisdiction_count,
                                c->jurisdictions, c->certifications);
    if (reason != 0) {
        return reason;
    }
    const wire_lease_constraints *constraints = &request->constraints;
    if (constraints->carbon_gco2_per_kwh_max != 0 &&
        c->carbon_gco2_per_kwh > constraints->carbon_gco2_per_kwh_max) {
        return WIRE_LEASE_REFUSAL_CARBON;
    }
    if (constraints->rtt_us_max != 0 &&
        (peer->rtt_us == 0 || peer->rtt_us > constraints->rtt_us_max)) {
        return WIRE_LEASE_REFUSAL_LATENCY;
    }
    if (constraints->cost_microeur_per_hour_max != 0) {
        // The whole lease's price per hour at this lender's prices, as the
        // OPENED record will state it (lease_cost_per_hour's arithmetic).
        __extension__ typedef unsigned __int128 u128;
        u128 cost = 0;
        for (uint32_t i = 0; i < request->resource_count; i++) {
            const wire_lease_resource *resource = &request->resources[i];
            const lease_class_state *state =
                lease_class_find(m, resource->resource_class, resource->model);
            if (state != NULL) {
                cost += (u128) resource->amount * state->policy.price_microeur_per_unit_hour;
            }
        }
        if (cost > constraints->cost_microeur_per_hour_max) {
            return WIRE_LEASE_REFUSAL_PRICE;
        }
    }
    return check_classes(m, now, peer, request);
}

static void build_opened(const lease_machine *m,
                         const lease_peer *peer,
                         const wire_lease_request *request,
                         int64_t start_ns,
                         ledger_record *record)
{
    const lease_config *c = &m->config;
    memset(record, 0, sizeof(*record));
    record->version = LEDGER_RECORD_VERSION;
    record->kind = LEDGER_KIND_OPENED;
    memcpy(record->lease_id, request->lease_id, LEDGER_LEASE_ID_SIZE);
    record->number = 0;
    memcpy(record->lender_key, c->keypair.public_key, LEDGER_KEY_SIZE);
    memcpy(record->borrower_key, peer->public_key, LEDGER_KEY_SIZE);
    record->time_ns = start_ns;
    record->amount_count = request->resource_count;
    ledger_terms *terms = &record->terms;
    terms->start_ns = start_ns;
    terms->end_ns = start_ns + (int64_t) request->duration_ns;
    terms->price_count = request->resource_count;
    for (uint32_t i = 0; i < request->resource_count; i++) {
        const wire_lease_resource *resource = &request->resources[i];
        record->amounts[i].resource_class = resource->resource_class;
        memcpy(record->amounts[i].model, resource->model, sizeof(record->amounts[i].model));
        record->amounts[i].amount_milli = resource->amount * 1000u;
        const lease_class_state *state =
            lease_class_find((lease_machine *) m, resource->resource_class, resource->model);
        MESH_ASSERT(state != NULL);
        terms->prices[i] = state->policy.price_microeur_per_unit_hour;
    }
    memcpy(terms->lender_cert_hash, c->cert_hash, LEDGER_HASH_SIZE);
    memcpy(terms->lender_country, c->country, sizeof(terms->lender_country));
    terms->lender_jurisdiction_count = c->jurisdiction_count;
    memcpy(terms->lender_jurisdictions, c->jurisdictions, sizeof(terms->lender_jurisdictions));
    terms->lender_certifications = c->certifications;
    terms->carbon_gco2_per_kwh = c->carbon_gco2_per_kwh;
    lease_constraints_to_ledger(&request->constraints, &terms->constraints);
}

static void
send_offer(lease_machine *m, const lease_peer *peer, const lease_slot *slot, mesh_outbox *outbox)
{
    uint8_t record_bytes[LEDGER_RECORD_SIZE_MAX];
    uint32_t record_size = 0;
    MESH_ASSERT(ledger_record_encode(&slot->opened, record_bytes, sizeof(record_bytes),
                                     &record_size) == MESH_OK);
    wire_lease_offer offer;
    memset(&offer, 0, sizeof(offer));
    memcpy(offer.lease_id, slot->lease_id, sizeof(offer.lease_id));
    offer.record = record_bytes;
    offer.record_size = record_size;
    memcpy(offer.lender_signature, slot->opened_lender_signature, WIRE_SIGNATURE_SIZE);
    offer.expires_ns = slot->offer_expires_ns;
    uint8_t body[WIRE_LEASE_RECORD_SIZE_MAX + 128];
    uint32_t body_size = 0;
    MESH_ASSERT(wire_lease_offer_encode(&offer, body, sizeof(body), &body_size) == MESH_OK);
    if (lease_send(m, peer, WIRE_TYPE_LEASE_OFFER, body, body_size, outbox) == MESH_OK) {
        m->stats.offers_out++;
    }
}

void lease_lender_on_request(lease_machine *m,
                             mesh_now now,
                             const lease_peer *peer,
                             const wire_lease_request *request,
                             mesh_outbox *outbox)
{
    if (!mesh_node_id_equal(&request->lender, &m->config.self_id)) {
        lease_reject_count(m, LEASE_REJECT_MISMATCH); // meant for another lender
        return;
    }
    uint8_t hash[16];
    lease_request_hash(request, hash);
    lease_slot *slot = lease_slot_find(m, request->lease_id);
    if (slot != NULL) {
        lease_reject_count(m, LEASE_REJECT_REPLAY);
        if (sodium_memcmp(slot->request_hash, hash, sizeof(hash)) != 0) {
            refuse(m, peer, request->lease_id, WIRE_LEASE_REFUSAL_DUPLICATE,
                   "this lease id is in use with other terms", outbox);
        } else if (slot->phase == LEASE_PHASE_OFFERED) {
            send_offer(m, peer, slot, outbox); // the offer was lost: the same one again
        }
        return;
    }
    if (request->expires_ns <= now.realtime_ns) {
        lease_reject_count(m, LEASE_REJECT_EXPIRED);
        refuse(m, peer, request->lease_id, WIRE_LEASE_REFUSAL_EXPIRED,
               "the request expired before it arrived", outbox);
        return;
    }
    if (m->config.directory.ledger_has_lease != NULL &&
        m->config.directory.ledger_has_lease(m->config.directory.ctx, request->lease_id)) {
        lease_reject_count(m, LEASE_REJECT_REPLAY);
        refuse(m, peer, request->lease_id, WIRE_LEASE_REFUSAL_DUPLICATE,
               "this lease id was used before", outbox);
        return;
    }
    int64_t start_ns = request->start_ns > now.realtime_ns ? request->start_ns : now.realtime_ns;
    uint32_t reason = check_request(m, now, peer, request, start_ns);
    if (reason != 0) {
        refuse(m, peer, request->lease_id, reason, wire_lease_refusal_name(reason), outbox);
        return;
    }
    slot = lease_slot_new(m, request->lease_id);
    if (slot == NULL) {
        lease_reject_count(m, LEASE_REJECT_FULL);
        refuse(m, peer, request->lease_id, WIRE_LEASE_REFUSAL_BUSY, "the lease table is full",
               outbox);
        return;
    }
    slot->self_is_lender = true;
    slot->phase = LEASE_PHASE_OFFERED;
    slot->peer_id = peer->id;
    memcpy(slot->peer_key, peer->public_key, LEDGER_KEY_SIZE);
    memcpy(slot->request_hash, hash, sizeof(hash));
    slot->resource_count = request->resource_count;
    memcpy(slot->resources, request->resources, sizeof(slot->resources));
    build_opened(m, peer, request, start_ns, &slot->opened);
    MESH_ASSERT(ledger_record_sign(&slot->opened, m->config.keypair.secret_key,
                                   slot->opened_lender_signature) == MESH_OK);
    slot->has_opened = true;
    lease_book(m, slot, true);
    slot->offer_expires_ns = now.realtime_ns + (int64_t) m->config.offer_ttl_ns;
    slot->retry_ns = m->config.retry_interval_ns;
    // The hold outlives the offer by a little, so that an acceptance that
    // left the borrower just before the expiry still finds it.
    lease_slot_arm(m, slot,
                   now.monotonic_ns + m->config.offer_ttl_ns + m->config.retry_interval_ns);
    send_offer(m, peer, slot, outbox);
}

// Is a late acceptance's capacity free now? Its window not over?
static bool late_fits(lease_machine *m, mesh_now now, const ledger_record *opened)
{
    if (opened->terms.end_ns <= now.realtime_ns) {
        return false;
    }
    for (uint32_t i = 0; i < opened->amount_count; i++) {
        const ledger_amount *amount = &opened->amounts[i];
        lease_class_state *state = lease_class_find(m, amount->resource_class, amount->model);
        if (state == NULL || lease_class_free_to_lend(state) * 1000u < amount->amount_milli) {
            return false;
        }
    }
    return true;
}

// An acceptance for an offer whose hold is gone (it expired, or this node
// restarted). It is ours if it carries our signature; it is honoured when
// the capacity is free, and otherwise recorded and ended at once, so that
// both ledgers agree and nothing is lent twice.
static void on_late_acceptance(lease_machine *m,
                               mesh_now now,
                               const lease_peer *peer,
                               const wire_lease_record *message,
                               const ledger_record *record,
                               mesh_outbox *outbox)
{
    if (record->kind != LEDGER_KIND_OPENED || !message->has_borrower_signature ||
        !message->has_lender_signature) {
        lease_reject_count(m, LEASE_REJECT_UNEXPECTED);
        return;
    }
    if (lease_record_verify(record, m->config.keypair.public_key, message->lender_signature) !=
            MESH_OK ||
        lease_record_verify(record, peer->public_key, message->borrower_signature) != MESH_OK) {
        lease_reject_count(m, LEASE_REJECT_BAD_SIGNATURE);
        return;
    }
    if (m->config.directory.ledger_has_lease != NULL &&
        m->config.directory.ledger_has_lease(m->config.directory.ctx, record->lease_id)) {
        lease_reject_count(m, LEASE_REJECT_REPLAY); // settled long ago
        return;
    }
    lease_slot *slot = lease_slot_new(m, record->lease_id);
    if (slot == NULL) {
        lease_reject_count(m, LEASE_REJECT_FULL); // the borrower resends
        return;
    }
    m->stats.late_acceptances++;
    slot->self_is_lender = true;
    slot->phase = LEASE_PHASE_ACCEPTING;
    slot->peer_id = peer->id;
    memcpy(slot->peer_key, peer->public_key, LEDGER_KEY_SIZE);
    slot->opened = *record;
    memcpy(slot->opened_lender_signature, message->lender_signature, LEDGER_SIGNATURE_SIZE);
    memcpy(slot->opened_borrower_signature, message->borrower_signature, LEDGER_SIGNATURE_SIZE);
    slot->has_opened = true;
    slot->retry_ns = m->config.retry_interval_ns;
    if (late_fits(m, now, record)) {
        lease_book(m, slot, true);
    } else {
        // Recorded, then ended at once and charged nothing: the capacity
        // went to someone else (docs/leases.md).
        slot->reclaim_at_ns = now.realtime_ns;
        slot->void_lease = true;
    }
    slot->has_pending = true;
    slot->pending = *record;
    slot->pending_has_lender = true;
    slot->pending_has_borrower = true;
    memcpy(slot->pending_lender_signature, message->lender_signature, LEDGER_SIGNATURE_SIZE);
    memcpy(slot->pending_borrower_signature, message->borrower_signature, LEDGER_SIGNATURE_SIZE);
    slot->pending_after = LEASE_AFTER_CONFIRMED;
    if (lease_write_pending(m, slot, outbox) != MESH_OK) {
        if (slot->booked) {
            lease_book(m, slot, false);
        }
        lease_slot_free(m, slot); // the borrower resends
    }
}

void lease_lender_on_record(lease_machine *m,
                            mesh_now now,
                            const lease_peer *peer,
                            lease_slot *slot,
                            const wire_lease_record *message,
                            const ledger_record *record,
                            mesh_outbox *outbox)
{
    if (memcmp(record->borrower_key, peer->public_key, LEDGER_KEY_SIZE) != 0) {
        lease_reject_count(m, LEASE_REJECT_MISMATCH);
        return;
    }
    if (slot == NULL) {
        on_late_acceptance(m, now, peer, message, record, outbox);
        return;
    }
    if (!message->has_lender_signature || !message->has_borrower_signature) {
        lease_reject_count(m, LEASE_REJECT_UNEXPECTED); // the lender only gets agreed records
        return;
    }
    if (record->number < slot->record_count) {
        // Already durable here: an acceptance whose confirmation was lost
        // gets it again; anything else needs no answer.
        lease_reject_count(m, LEASE_REJECT_REPLAY);
        if (record->number == 0 && slot->has_opened && lease_record_same(record, &slot->opened)) {
            (void) lease_send_record(m, peer, slot->lease_id, &slot->opened,
                                     slot->opened_lender_signature, slot->opened_borrower_signature,
                                     outbox);
        }
        return;
    }
    if (record->kind == LEDGER_KIND_OPENED) {
        if (slot->phase != LEASE_PHASE_OFFERED) {
            lease_reject_count(m, LEASE_REJECT_REPLAY); // being written already
            return;
        }
        if (!lease_record_same(record, &slot->opened) ||
            sodium_memcmp(message->lender_signature, slot->opened_lender_signature,
                          LEDGER_SIGNATURE_SIZE) != 0) {
            lease_reject_count(m, LEASE_REJECT_MISMATCH);
            return;
        }
        if (lease_record_verify(record, peer->public_key, message->borrower_signature) != MESH_OK) {
            lease_reject_count(m, LEASE_REJECT_BAD_SIGNATURE);
            return;
        }
        memcpy(slot->opened_borrower_signature, message->borrower_signature, LEDGER_SIGNATURE_SIZE);
        slot->phase = LEASE_PHASE_ACCEPTING;
        slot->has_pending = true;
        slot->pending = slot->opened;
        slot->pending_has_lender = true;
        slot->pending_has_borrower = true;
        memcpy(slot->pending_lender_signature, slot->opened_lender_signature,
               LEDGER_SIGNATURE_SIZE);
        memcpy(slot->pending_borrower_signature, message->borrower_signature,
               LEDGER_SIGNATURE_SIZE);
        slot->pending_after = LEASE_AFTER_CONFIRMED;
        lease_slot_disarm(m, slot);
        if (lease_write_pending(m, slot, outbox) != MESH_OK) {
            // No room this call: back to the offer; the borrower resends.
            slot->has_pending = false;
            slot->phase = LEASE_PHASE_OFFERED;
            lease_slot_arm(m, slot, now.monotonic_ns + m->config.retry_interval_ns);
        }
        return;
    }
    // The next record: the countersignature of the proposal in flight, or
    // the borrower's copy of one this node proposed before it restarted
    // (the proposal was lost with the crash; the borrower had made it
    // durable). Both carry this node's own signature, which is what makes
    // the copy agreed: adopting it is how the two ledgers stay one.
    if (record->number != slot->record_count || slot->pending_in_ledger || slot->pending_rewrite ||
        (slot->has_pending && slot->pending_has_borrower)) {
        lease_reject_count(m, LEASE_REJECT_UNEXPECTED);
        return;
    }
    bool in_flight = slot->has_pending && lease_record_same(record, &slot->pending) &&
                     sodium_memcmp(message->lender_signature, slot->pending_lender_signature,
                                   LEDGER_SIGNATURE_SIZE) == 0;
    if (!in_flight && lease_record_verify(record, m->config.keypair.public_key,
                                          message->lender_signature) != MESH_OK) {
        lease_reject_count(m, LEASE_REJECT_MISMATCH);
        return;
    }
    if (lease_record_verify(record, peer->public_key, message->borrower_signature) != MESH_OK) {
        lease_reject_count(m, LEASE_REJECT_BAD_SIGNATURE);
        return;
    }
    if (!in_flight) {
        m->stats.repairs++;
        slot->pending = *record;
        memcpy(slot->pending_lender_signature, message->lender_signature, LEDGER_SIGNATURE_SIZE);
        slot->has_pending = true;
        slot->has_last = false;
        slot->pending_has_lender = true;
    }
    memcpy(slot->pending_borrower_signature, message->borrower_signature, LEDGER_SIGNATURE_SIZE);
    slot->pending_has_borrower = true;
    slot->pending_after = LEASE_AFTER_AGREED;
    if (lease_write_pending(m, slot, outbox) != MESH_OK) {
        slot->pending_has_borrower = false; // the borrower resends on our resend
    }
}

static void end_at(lease_slot *slot, int64_t at_ns, uint32_t kind)
{
    if (at_ns < slot->usage_time_ns) {
        at_ns = slot->usage_time_ns;
    }
    if (at_ns < slot->end_at_ns) {
        slot->end_at_ns = at_ns;
        slot->end_kind = kind;
    }
}

void lease_lender_on_end(lease_machine *m,
                         mesh_now now,
                         lease_slot *slot,
                         const wire_lease_end *end,
                         mesh_outbox *outbox)
{
    (void) outbox;
    if (end->what == WIRE_LEASE_END_DECLINE) {
        if (slot->phase != LEASE_PHASE_OFFERED) {
            lease_reject_count(m, LEASE_REJECT_UNEXPECTED);
            return;
        }
        lease_book(m, slot, false);
        lease_slot_free(m, slot);
        return;
    }
    if (end->what != WIRE_LEASE_END_RELEASE) {
        lease_reject_count(m, LEASE_REJECT_MISMATCH); // a reclaim is the lender's to give
        return;
    }
    if (slot->phase != LEASE_PHASE_ACTIVE || slot->release_asked) {
        lease_reject_count(m, slot->release_asked ? LEASE_REJECT_REPLAY : LEASE_REJECT_UNEXPECTED);
        return;
    }
    slot->release_asked = true;
    // The borrower says when it stopped; never later than now here, never
    // before what was already accounted.
    int64_t at_ns = end->at_ns < now.realtime_ns ? end->at_ns : now.realtime_ns;
    end_at(slot, at_ns, LEDGER_KIND_RELEASED);
    if (!slot->has_pending) {
        lease_slot_arm(m, slot, now.monotonic_ns);
    }
}

mesh_err lease_reclaim(lease_machine *m,
                       mesh_now now,
                       const uint8_t lease_id[LEDGER_LEASE_ID_SIZE],
                       uint64_t notice_ns,
                       mesh_rng *rng,
                       mesh_outbox *outbox)
{
    MESH_ASSERT(m != NULL && rng != NULL && outbox != NULL);
    lease_begin_call(m);
    return lease_reclaim_one(m, now, lease_id, notice_ns, outbox);
}

mesh_err lease_reclaim_one(lease_machine *m,
                           mesh_now now,
                           const uint8_t lease_id[LEDGER_LEASE_ID_SIZE],
                           uint64_t notice_ns,
                           mesh_outbox *outbox)
{
    lease_slot *slot = lease_slot_find(m, lease_id);
    if (slot == NULL || !slot->self_is_lender || slot->phase != LEASE_PHASE_ACTIVE) {
        return MESH_ENOTFOUND;
    }
    int64_t at_ns = now.realtime_ns + (int64_t) notice_ns;
    if (slot->reclaim_at_ns != 0 && slot->reclaim_at_ns <= at_ns) {
        return MESH_OK; // an earlier notice stands
    }
    slot->reclaim_at_ns = at_ns;
    end_at(slot, at_ns, LEDGER_KIND_RECLAIMED);
    m->stats.reclaims++;
    lease_peer peer;
    if (m->config.directory.find(m->config.directory.ctx, &slot->peer_id, &peer) == MESH_OK) {
        (void) lease_send_end(m, &peer, lease_id, WIRE_LEASE_END_RECLAIM, at_ns, outbox);
    }
    lease_event event;
    lease_event_from_slot(slot, LEASE_EVENT_RECLAIM_NOTICE, &event);
    event.end_ns = at_ns;
    (void) lease_emit(m, &event, outbox);
    if (!slot->has_pending) {
        lease_slot_arm(m, slot, now.monotonic_ns + notice_ns);
    }
    return MESH_OK;
}

// When the next proposal is due, as a monotonic deadline.
static void schedule(lease_machine *m, mesh_now now, lease_slot *slot)
{
    int64_t next_ns = slot->usage_time_ns + (int64_t) m->config.usage_interval_ns;
    if (slot->phase == LEASE_PHASE_ENDING || slot->end_at_ns < next_ns) {
        next_ns = slot->phase == LEASE_PHASE_ENDING ? now.realtime_ns : slot->end_at_ns;
    }
    uint64_t delay_ns = next_ns > now.realtime_ns ? (uint64_t) (next_ns - now.realtime_ns) : 0;
    lease_slot_arm(m, slot, now.monotonic_ns + delay_ns);
}

// Builds, signs and sends the next record; false when none is due yet.
static bool propose_next(lease_machine *m, mesh_now now, lease_slot *slot, ledger_record *record)
{
    const ledger_record *opened = &slot->opened;
    memset(record, 0, sizeof(*record));
    record->version = LEDGER_RECORD_VERSION;
    memcpy(record->lease_id, slot->lease_id, LEDGER_LEASE_ID_SIZE);
    record->number = slot->record_count;
    memcpy(record->lender_key, opened->lender_key, LEDGER_KEY_SIZE);
    memcpy(record->borrower_key, opened->borrower_key, LEDGER_KEY_SIZE);
    if (slot->phase == LEASE_PHASE_ENDING) {
        record->kind = LEDGER_KIND_SETTLED;
        record->time_ns = slot->end_at_ns;
        record->amount_count = opened->amount_count;
        for (uint32_t i = 0; i < opened->amount_count; i++) {
            record->amounts[i] = opened->amounts[i];
            record->amounts[i].amount_milli = slot->usage_milli[i];
        }
        return true;
    }
    // A release or reclaim that crossed a usage proposal on the wire may
    // name a time before the usage recorded since: the end is then that
    // usage's time (the borrower countersigned the usage up to it).
    if (slot->end_at_ns < slot->usage_time_ns) {
        slot->end_at_ns = slot->usage_time_ns;
    }
    bool over = now.realtime_ns >= slot->end_at_ns;
    int64_t until_ns = over ? slot->end_at_ns : now.realtime_ns;
    bool usage_due =
        over ? slot->usage_time_ns < until_ns
             : now.realtime_ns >= slot->usage_time_ns + (int64_t) m->config.usage_interval_ns;
    if (usage_due) {
        record->kind = LEDGER_KIND_USAGE;
        record->time_ns = until_ns;
        record->amount_count = opened->amount_count;
        for (uint32_t i = 0; i < opened->amount_count; i++) {
            record->amounts[i] = opened->amounts[i];
            record->amounts[i].amount_milli =
                lease_usage_milli(opened->amounts[i].amount_milli, slot->usage_time_ns, until_ns);
        }
        return true;
    }
    if (!over) {
        return false;
    }
    record->kind = slot->end_kind;
    record->time_ns = slot->end_at_ns;
    return true;
}

mesh_err
lease_lender_on_timer(lease_machine *m, mesh_now now, lease_slot *slot, mesh_outbox *outbox)
{
    if (slot->phase == LEASE_PHASE_OFFERED) {
        lease_book(m, slot, false); // the hold expired unaccepted
        lease_slot_free(m, slot);
        return MESH_OK;
    }
    if (slot->phase != LEASE_PHASE_ACTIVE && slot->phase != LEASE_PHASE_ENDING) {
        return MESH_OK; // waiting for the ledger: its acknowledgement moves on
    }
    if (slot->has_pending && slot->pending_in_ledger) {
        return MESH_OK;
    }
    lease_peer peer;
    bool reachable =
        m->config.directory.find(m->config.directory.ctx, &slot->peer_id, &peer) == MESH_OK;
    if (!slot->has_pending) {
        ledger_record record;
        if (!propose_next(m, now, slot, &record)) {
            schedule(m, now, slot);
            return MESH_OK;
        }
        slot->pending = record;
        MESH_ASSERT(ledger_record_sign(&slot->pending, m->config.keypair.secret_key,
                                       slot->pending_lender_signature) == MESH_OK);
        slot->has_pending = true;
        slot->has_last = false;
        slot->pending_has_lender = true;
        slot->pending_has_borrower = false;
        slot->retry_ns = m->config.retry_interval_ns;
    } else {
        m->stats.retries++;
        slot->retry_ns = slot->retry_ns * 2 < m->config.retry_max_ns ? slot->retry_ns * 2
                                                                     : m->config.retry_max_ns;
    }
    lease_slot_arm(m, slot, now.monotonic_ns + slot->retry_ns);
    if (!reachable) {
        return MESH_OK; // a member we cannot name now: resent when it is back
    }
    return lease_send_record(m, &peer, slot->lease_id, &slot->pending,
                             slot->pending_lender_signature, NULL, outbox);
}

void lease_lender_after_write(lease_machine *m, mesh_now now, lease_slot *slot, mesh_outbox *outbox)
{
    MESH_ASSERT(slot->has_pending);
    const ledger_record *record = &slot->pending;
    slot->has_pending = false;
    slot->has_last = true;
    lease_peer peer;
    bool reachable =
        m->config.directory.find(m->config.directory.ctx, &slot->peer_id, &peer) == MESH_OK;
    if (slot->pending_after == LEASE_AFTER_CONFIRMED) {
        MESH_ASSERT(record->kind == LEDGER_KIND_OPENED);
        slot->phase = LEASE_PHASE_ACTIVE;
        slot->usage_time_ns = slot->opened.terms.start_ns;
        slot->end_at_ns = slot->opened.terms.end_ns;
        slot->end_kind = LEDGER_KIND_EXPIRED;
        if (slot->reclaim_at_ns != 0) {
            end_at(slot, slot->reclaim_at_ns, LEDGER_KIND_RECLAIMED);
        }
        if (slot->void_lease) {
            // No usage: the end record comes at once, dated the window's
            // start (never before it, never after the arrival).
            slot->end_at_ns = slot->opened.terms.start_ns;
            slot->end_kind = LEDGER_KIND_RECLAIMED;
            slot->usage_time_ns = slot->end_at_ns;
        }
        if (reachable) {
            (void) lease_send_record(m, &peer, slot->lease_id, &slot->opened,
                                     slot->opened_lender_signature, slot->opened_borrower_signature,
                                     outbox);
        }
        m->stats.granted_lent++;
        lease_event event;
        lease_event_from_slot(slot, LEASE_EVENT_GRANTED, &event);
        (void) lease_emit(m, &event, outbox);
        schedule(m, now, slot);
        return;
    }
    MESH_ASSERT(slot->pending_after == LEASE_AFTER_AGREED);
    switch (record->kind) {
    case LEDGER_KIND_USAGE:
        for (uint32_t i = 0; i < record->amount_count; i++) {
            slot->usage_milli[i] += record->amounts[i].amount_milli;
        }
        slot->usage_time_ns = record->time_ns;
        break;
    case LEDGER_KIND_RELEASED:
    case LEDGER_KIND_RECLAIMED:
    case LEDGER_KIND_EXPIRED:
        slot->phase = LEASE_PHASE_ENDING;
        if (slot->booked) {
            lease_book(m, slot, false);
        }
        break;
    case LEDGER_KIND_SETTLED:
        m->stats.ended_lent++;
        lease_settled(m, slot, record, outbox);
        return;
    default:
        MESH_ASSERT(false);
    }
    lease_slot_arm(m, slot, now.monotonic_ns); // the next record, if one is due
}
