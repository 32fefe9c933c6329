/*
 * lease/local.c: what the node itself tells the machine: leases restored
 * from the ledger at start, local demand, and capacity.
 *
 * Restoring. The ledger is the truth after a crash: every lease it holds
 * unsettled gets a slot back, in the phase its last record implies. A
 * lender resumes proposing (usage, the end, the settlement); a borrower
 * whose only record is the OPENED one cannot know whether the lender
 * confirmed, so it resends its acceptance, which the lender answers
 * idempotently (or, having lost its hold, as a late acceptance).
 *
 * Local demand. The scheduler's reported demand takes capacity before
 * lending does. When it grows past what is not lent, the newest leases of
 * that class are reclaimed, with notice, until demand and what stays lent
 * fit in the total again.
 */
#include <string.h>

#include "lease/lease_int.h"

mesh_err lease_restore(lease_machine *m,
                       mesh_now now,
                       const lease_signed_record *opened_signed,
                       const lease_signed_record *last_signed,
                       uint32_t record_count,
                       const uint64_t usage_milli[LEDGER_AMOUNTS_MAX])
{
    MESH_ASSERT(m != NULL && opened_signed != NULL && last_signed != NULL);
    const ledger_record *opened = &opened_signed->record;
    const ledger_record *last = &last_signed->record;
    const uint8_t *self_key = m->config.keypair.public_key;
    bool lender = memcmp(opened->lender_key, self_key, LEDGER_KEY_SIZE) == 0;
    bool borrower = memcmp(opened->borrower_key, self_key, LEDGER_KEY_SIZE) == 0;
    if (opened->kind != LEDGER_KIND_OPENED || lender == borrower || record_count < 1 ||
        last->number + 1 != record_count || last->kind == LEDGER_KIND_SETTLED ||
        memcmp(opened->lease_id, last->lease_id, LEDGER_LEASE_ID_SIZE) != 0 ||
        lease_slot_find(m, opened->lease_id) != NULL) {
        return MESH_EINVAL;
    }
    const uint8_t *peer_key = lender ? opened->borrower_key : opened->lender_key;
    lease_slot *slot = lease_slot_new(m, opened->lease_id);
    if (slot == NULL) {
        return MESH_EFULL;
    }
    slot->self_is_lender = lender;
    mcrypto_node_id(peer_key, &slot->peer_id);
    memcpy(slot->peer_key, peer_key, LEDGER_KEY_SIZE);
    slot->opened = *opened;
    slot->has_opened = true;
    memcpy(slot->opened_lender_signature, opened_signed->lender_signature, LEDGER_SIGNATURE_SIZE);
    memcpy(slot->opened_borrower_signature, opened_signed->borrower_signature,
           LEDGER_SIGNATURE_SIZE);
    // The last durable record, to answer a resend of it byte for byte.
    slot->pending = *last;
    memcpy(slot->pending_lender_signature, last_signed->lender_signature, LEDGER_SIGNATURE_SIZE);
    memcpy(slot->pending_borrower_signature, last_signed->borrower_signature,
           LEDGER_SIGNATURE_SIZE);
    slot->pending_has_lender = true;
    slot->pending_has_borrower = true;
    slot->has_last = true;
    slot->record_count = record_count;
    slot->resource_count = opened->amount_count;
    for (uint32_t i = 0; i < opened->amount_count; i++) {
        slot->usage_milli[i] = usage_milli[i];
        slot->resources[i].resource_class = opened->amounts[i].resource_class;
        memcpy(slot->resources[i].model, opened->amounts[i].model,
               sizeof(slot->resources[i].model));
        slot->resources[i].amount = opened->amounts[i].amount_milli / 1000u;
    }
    slot->usage_time_ns = last->kind == LEDGER_KIND_USAGE ? last->time_ns : opened->terms.start_ns;
    slot->end_at_ns = opened->terms.end_ns;
    slot->end_kind = LEDGER_KIND_EXPIRED;
    slot->retry_ns = m->config.retry_interval_ns;
    bool ended = last->kind == LEDGER_KIND_RELEASED || last->kind == LEDGER_KIND_RECLAIMED ||
                 last->kind == LEDGER_KIND_EXPIRED;
    if (ended) {
        slot->phase = LEASE_PHASE_ENDING;
        slot->end_kind = last->kind;
        slot->end_at_ns = last->time_ns;
    } else if (!lender && record_count == 1) {
        slot->phase = LEASE_PHASE_ACCEPTING; // confirmed? resend the acceptance to find out
    } else {
        slot->phase = LEASE_PHASE_ACTIVE;
    }
    if (!ended) {
        if (lender) {
            // Booked even when over capacity now: it was lent, and stays
            // lent until the lender ends it.
            lease_book(m, slot, true);
        } else {
            lease_borrowed_add(m, slot, true);
        }
    }
    // Lenders resume proposing at once; borrowers resend an unconfirmed
    // acceptance at once; otherwise the lender drives.
    if (lender || slot->phase == LEASE_PHASE_ACCEPTING) {
        lease_slot_arm(m, slot, now.monotonic_ns);
    }
    return MESH_OK;
}

mesh_err lease_set_capacity(
    lease_machine *m, uint32_t resource_class, const char *model, uint64_t total, uint64_t lendable)
{
    MESH_ASSERT(m != NULL && model != NULL);
    lease_class_state *state = lease_class_find(m, resource_class, model);
    if (state == NULL) {
        return MESH_ENOTFOUND;
    }
    if (lendable > total || total > WIRE_AMOUNT_MAX || state->policy.keep > total) {
        return MESH_EINVAL;
    }
    state->policy.total = total;
    state->policy.lendable = lendable;
    return MESH_OK;
}

// The newest open lease lent of this class that is not being ended yet.
static lease_slot *newest_lent(lease_machine *m, const lease_class_state *state)
{
    lease_slot *newest = NULL;
    for (uint32_t i = 0; i < m->slot_count; i++) {
        lease_slot *slot = &m->slots[i];
        if (!slot->used || !slot->self_is_lender || slot->phase != LEASE_PHASE_ACTIVE ||
            slot->reclaim_at_ns != 0) {
            continue;
        }
        bool has_class = false;
        for (uint32_t j = 0; j < slot->opened.amount_count; j++) {
            has_class = has_class ||
                        (slot->opened.amounts[j].resource_class == state->policy.resource_class &&
                         strcmp(slot->opened.amounts[j].model, state->policy.model) == 0);
        }
        if (has_class &&
            (newest == NULL || slot->opened.terms.start_ns > newest->opened.terms.start_ns ||
             (slot->opened.terms.start_ns == newest->opened.terms.start_ns &&
              memcmp(slot->lease_id, newest->lease_id, LEDGER_LEASE_ID_SIZE) > 0))) {
            newest = slot;
        }
    }
    return newest;
}

static uint64_t units_of(const lease_slot *slot, const lease_class_state *state)
{
    for (uint32_t j = 0; j < slot->opened.amount_count; j++) {
        if (slot->opened.amounts[j].resource_class == state->policy.resource_class &&
            strcmp(slot->opened.amounts[j].model, state->policy.model) == 0) {
            return (slot->opened.amounts[j].amount_milli + 999u) / 1000u;
        }
    }
    return 0;
}

mesh_err lease_set_local_demand(lease_machine *m,
                                mesh_now now,
                                uint32_t resource_class,
                                const char *model,
                                uint64_t demand,
                                mesh_rng *rng,
                                mesh_outbox *outbox)
{
    MESH_ASSERT(m != NULL && model != NULL && rng != NULL && outbox != NULL);
    lease_class_state *state = lease_class_find(m, resource_class, model);
    if (state == NULL) {
        return MESH_ENOTFOUND;
    }
    lease_begin_call(m);
    state->local_demand = demand;
    // What stays lent once the leases under notice end.
    uint64_t staying = 0;
    for (uint32_t i = 0; i < m->slot_count; i++) {
        const lease_slot *slot = &m->slots[i];
        if (slot->used && slot->booked && slot->reclaim_at_ns == 0) {
            staying += units_of(slot, state);
        }
    }
    // Bounded: each pass puts one more lease under notice.
    for (uint32_t passes = 0; passes < m->slot_count; passes++) {
        if (demand + staying <= state->policy.total || !lease_room(m, outbox)) {
            break;
        }
        lease_slot *slot = newest_lent(m, state);
        if (slot == NULL) {
            break;
        }
        uint64_t units = units_of(slot, state);
        mesh_err err =
            lease_reclaim_one(m, now, slot->lease_id, m->config.reclaim_notice_ns, outbox);
        MESH_ASSERT(err == MESH_OK);
        staying = staying >= units ? staying - units : 0;
    }
    return MESH_OK;
}
