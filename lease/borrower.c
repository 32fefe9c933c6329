/*
 * lease/borrower.c: the borrower's side of a lease, and placement.
 *
 * A borrow (lease_borrow) is one local request. Placement picks the
 * members whose root-signed certificates satisfy its constraints and whose
 * measured round trip and advertised carbon fit, orders them (preferred
 * lenders first, in the caller's order, then by score: reciprocity,
 * latency, price, carbon, ties by id), and asks them in that order, at
 * most in_flight_max at a time, never all at once. Each request asks for
 * what is still needed, cut to what the lender's advert says it can lend
 * (a hint: the lender decides), so a request no single lender can serve
 * is split across several.
 *
 * An offer is checked against the request and against the lender's
 * certificate as the directory knows it (never against what the lender
 * says of itself): the amounts, the window, the constraints recorded, the
 * certificate facts and hash, the price, the carbon and the round trip.
 * Then the borrower countersigns the OPENED record, makes it durable, and
 * only then sends its acceptance. Every later record is the lender's
 * proposal; the borrower countersigns only usage within reserved x time,
 * an end it can account for, and totals that add up.
 */
#include <string.h>

#include <sodium.h>

#include "lease/lease_int.h"

/* ---------------------------------------------------------------- */
/* Borrows.                                                          */
/* ---------------------------------------------------------------- */

static lease_borrow_state *borrow_of(lease_machine *m, const lease_slot *slot)
{
    if (slot->borrow_index == 0) {
        return NULL;
    }
    MESH_ASSERT(slot->borrow_index <= m->config.borrows_max);
    lease_borrow_state *borrow = &m->borrows[slot->borrow_index - 1];
    return borrow->used && borrow->id == slot->borrow_id ? borrow : NULL;
}

// The request of a slot is over (refused, unanswered, declined, or
// granted): it no longer counts as in flight for its borrow.
static void borrow_settle_slot(lease_machine *m, lease_slot *slot, bool granted)
{
    lease_borrow_state *borrow = borrow_of(m, slot);
    slot->borrow_index = 0;
    if (borrow == NULL) {
        return;
    }
    MESH_ASSERT(borrow->in_flight_count > 0);
    borrow->in_flight_count--;
    for (uint32_t i = 0; i < borrow->request.resource_count; i++) {
        uint64_t units = slot->resources[i].amount;
        MESH_ASSERT(borrow->in_flight[i] >= units);
        borrow->in_flight[i] -= units;
        if (granted) {
            MESH_ASSERT(borrow->remaining[i] >= units);
            borrow->remaining[i] -= units;
            borrow->granted[i] += units;
        }
    }
    if (granted) {
        borrow->lease_count++;
    }
}

static void slot_give_up(lease_machine *m, lease_slot *slot)
{
    borrow_settle_slot(m, slot, false);
    lease_slot_free(m, slot);
}

static int64_t score_of(lease_machine *m, mesh_now now, const lease_peer *peer)
{
    const lease_weights *w = &m->config.weights;
    int64_t score = 0;
    if (m->config.directory.reciprocity != NULL) {
        int64_t reciprocity = m->config.directory.reciprocity(m->config.directory.ctx,
                                                              peer->public_key, now.realtime_ns);
        score += reciprocity / 1000 * (int64_t) w->reciprocity;
    }
    score -= (int64_t) (peer->rtt_us / 1000u) * (int64_t) w->rtt;
    score -= (int64_t) peer->carbon_gco2_per_kwh * (int64_t) w->carbon;
    // Price: the advertised vCPU price (or the first class's), in euro
    // cents per unit-hour.
    if (peer->resource_count > 0) {
        uint64_t cents = peer->resources[0].price_microeur_per_unit_hour / 10000u;
        score -= (int64_t) (cents > 1000000000u ? 1000000000u : cents) * (int64_t) w->price;
    }
    return score;
}

static const wire_resource *
advert_resource(const lease_peer *peer, uint32_t resource_class, const char *model)
{
    for (uint32_t i = 0; i < peer->resource_count; i++) {
        if (peer->resources[i].resource_class == resource_class &&
            strcmp(peer->resources[i].model, model) == 0) {
            return &peer->resources[i];
        }
    }
    return NULL;
}

// 0 when a member may be asked, else the refusal it would earn.
static uint32_t candidate_check(const lease_borrow_request *request, const lease_peer *peer)
{
    const wire_lease_constraints *c = &request->constraints;
    uint32_t reason = lease_constraints_check(c, peer->country, peer->jurisdiction_count,
                                              peer->jurisdictions, peer->certifications);
    if (reason != 0) {
        return reason;
    }
    if (c->rtt_us_max != 0 && (peer->rtt_us == 0 || peer->rtt_us > c->rtt_us_max)) {
        return WIRE_LEASE_REFUSAL_LATENCY;
    }
    if (c->carbon_gco2_per_kwh_max != 0 && peer->carbon_gco2_per_kwh > c->carbon_gco2_per_kwh_max) {
        return WIRE_LEASE_REFUSAL_CARBON;
    }
    for (uint32_t i = 0; i < request->resource_count; i++) {
        const wire_resource *resource = advert_resource(peer, request->resources[i].resource_class,
                                                        request->resources[i].model);
        if (resource == NULL || resource->lendable == 0) {
            return WIRE_LEASE_REFUSAL_CLASS;
        }
    }
    return 0;
}

static uint32_t prefer_rank(const lease_borrow_request *request, const mesh_node_id *id)
{
    for (uint32_t i = 0; i < request->prefer_count; i++) {
        if (mesh_node_id_equal(&request->prefer[i], id)) {
            return i;
        }
    }
    return LEASE_PREFER_MAX;
}

typedef struct candidate_key {
    uint32_t rank;
    int64_t score;
} candidate_key;

static bool
key_before(candidate_key a, const mesh_node_id *a_id, candidate_key b, const mesh_node_id *b_id)
{
    if (a.rank != b.rank) {
        return a.rank < b.rank;
    }
    if (a.score != b.score) {
        return a.score > b.score;
    }
    return mesh_node_id_compare(a_id, b_id) < 0;
}

// Fills the borrow's candidates, best first. Bounded by the directory's
// size and candidates_max; a candidate list is sorted by insertion.
/* The refusal a lender gave within refused_cooldown_ns (lease.h), or 0. */
static uint32_t cooled_reason(const lease_machine *m, mesh_now now, const mesh_node_id *lender)
{
    for (uint32_t i = 0; i < LEASE_COOLDOWNS_MAX; i++) {
        if (m->cooldowns[i].until_ns > now.monotonic_ns &&
            mesh_node_id_equal(&m->cooldowns[i].lender, lender)) {
            return m->cooldowns[i].reason;
        }
    }
    return 0;
}

/* Remembers a refusal that says "not now": the lender's entry, else a
 * free or expired one, else the one that expires first. */
static void cool_down(lease_machine *m, mesh_now now, const mesh_node_id *lender, uint32_t reason)
{
    if (m->config.refused_cooldown_ns == 0 ||
        (reason != WIRE_LEASE_REFUSAL_CAPACITY && reason != WIRE_LEASE_REFUSAL_PEER_LIMIT &&
         reason != WIRE_LEASE_REFUSAL_RECIPROCITY)) {
        return;
    }
    uint32_t at = 0;
    for (uint32_t i = 0; i < LEASE_COOLDOWNS_MAX; i++) {
        if (mesh_node_id_equal(&m->cooldowns[i].lender, lender) && m->cooldowns[i].until_ns != 0) {
            at = i;
            break;
        }
        if (m->cooldowns[i].until_ns < m->cooldowns[at].until_ns) {
            at = i; // free (0), expired, or the soonest to expire
        }
    }
    m->cooldowns[at].lender = *lender;
    m->cooldowns[at].until_ns = now.monotonic_ns + m->config.refused_cooldown_ns;
    m->cooldowns[at].reason = reason;
}

static void borrow_pick_candidates(lease_machine *m, mesh_now now, lease_borrow_state *borrow)
{
    const lease_directory *d = &m->config.directory;
    candidate_key keys[1024];
    MESH_ASSERT(m->config.candidates_max <= MESH_ARRAY_COUNT(keys));
    uint32_t count = d->count(d->ctx);
    for (uint32_t index = 0; index < count; index++) {
        lease_peer peer;
        if (d->at(d->ctx, index, &peer) != MESH_OK || !peer.alive ||
            mesh_node_id_equal(&peer.id, &m->config.self_id)) {
            continue;
        }
        const lease_borrow_request *request = &borrow->request;
        uint32_t rank = prefer_rank(request, &peer.id);
        if (request->pin && rank != 0) {
            continue;
        }
        uint32_t reason = candidate_check(request, &peer);
        if (reason == 0 && !request->pin) {
            reason = cooled_reason(m, now, &peer.id); // a pinned lender is asked anyway
        }
        if (reason != 0) {
            borrow->refusal_counts[reason]++;
            continue;
        }
        candidate_key key = {.rank = rank, .score = score_of(m, now, &peer)};
        uint32_t at = borrow->candidate_count;
        while (at > 0 && key_before(key, &peer.id, keys[at - 1], &borrow->candidates[at - 1])) {
            at--;
        }
        if (at >= m->config.candidates_max) {
            continue;
        }
        uint32_t last = borrow->candidate_count < m->config.candidates_max
                            ? borrow->candidate_count
                            : m->config.candidates_max - 1;
        for (uint32_t i = last; i > at; i--) {
            keys[i] = keys[i - 1];
            borrow->candidates[i] = borrow->candidates[i - 1];
        }
        keys[at] = key;
        borrow->candidates[at] = peer.id;
        if (borrow->candidate_count < m->config.candidates_max) {
            borrow->candidate_count++;
        }
    }
}

static bool request_valid(const lease_machine *m, const lease_borrow_request *request)
{
    if (request->resource_count < 1 || request->resource_count > WIRE_LEASE_RESOURCES_MAX ||
        request->prefer_count > LEASE_PREFER_MAX || (request->pin && request->prefer_count == 0) ||
        request->duration_ns < 1 || request->duration_ns > WIRE_LEASE_DURATION_NS_MAX ||
        request->start_ns < 0) {
        return false;
    }
    // The wire's own rules decide the rest: encode a request with these
    // fields and see whether the encoder takes it.
    wire_lease_request probe;
    memset(&probe, 0, sizeof(probe));
    memset(probe.lease_id, 1, sizeof(probe.lease_id));
    probe.lender = m->config.self_id;
    probe.resource_count = request->resource_count;
    memcpy(probe.resources, request->resources, sizeof(probe.resources));
    probe.start_ns = request->start_ns > 0 ? request->start_ns : 1;
    probe.duration_ns = request->duration_ns;
    probe.constraints = request->constraints;
    probe.expires_ns = 1;
    uint8_t body[2048];
    uint32_t size = 0;
    return wire_lease_request_encode(&probe, body, sizeof(body), &size) == MESH_OK;
}

mesh_err lease_borrow(lease_machine *m,
                      mesh_now now,
                      const lease_borrow_request *request,
                      mesh_rng *rng,
                      mesh_outbox *outbox,
                      uint32_t *borrow_id_out)
{
    MESH_ASSERT(m != NULL && request != NULL && rng != NULL && outbox != NULL);
    lease_begin_call(m);
    if (!request_valid(m, request)) {
        return MESH_EINVAL;
    }
    lease_borrow_state *borrow = NULL;
    for (uint32_t i = 0; i < m->config.borrows_max && borrow == NULL; i++) {
        if (!m->borrows[i].used) {
            borrow = &m->borrows[i];
        }
    }
    if (borrow == NULL) {
        return MESH_EFULL;
    }
    mesh_node_id *candidates = borrow->candidates;
    memset(borrow, 0, sizeof(*borrow));
    borrow->candidates = candidates;
    borrow->used = true;
    borrow->id = m->next_borrow_id++;
    if (m->next_borrow_id == 0) {
        m->next_borrow_id = 1;
    }
    borrow->request = *request;
    borrow->start_ns = request->start_ns > 0 ? request->start_ns : now.realtime_ns;
    uint64_t timeout_ns =
        request->timeout_ns != 0 ? request->timeout_ns : 4 * m->config.request_timeout_ns;
    borrow->deadline_ns = now.monotonic_ns + timeout_ns;
    for (uint32_t i = 0; i < request->resource_count; i++) {
        borrow->remaining[i] = request->resources[i].amount;
    }
    borrow_pick_candidates(m, now, borrow);
    m->stats.borrows_open++;
    if (borrow_id_out != NULL) {
        *borrow_id_out = borrow->id;
    }
    return lease_borrows_step(m, now, rng, outbox);
}

// What to ask one lender for: what is still needed and not in flight, cut
// to the lender's advertised lendable capacity, keeping the request's
// proportions. False when nothing useful can be asked of it.
static bool chunk_for(const lease_borrow_state *borrow,
                      const lease_peer *peer,
                      wire_lease_resource chunk[WIRE_LEASE_RESOURCES_MAX])
{
    const lease_borrow_request *request = &borrow->request;
    uint64_t need[WIRE_LEASE_RESOURCES_MAX] = {0};
    for (uint32_t i = 0; i < request->resource_count; i++) {
        need[i] = borrow->remaining[i] - borrow->in_flight[i];
    }
    __extension__ typedef unsigned __int128 u128;
    // The leading class's units that this lender can take, given every
    // class's hint: units0 / need0 of each class must fit.
    uint64_t units0 = need[0];
    for (uint32_t i = 0; i < request->resource_count; i++) {
        if (need[i] == 0) {
            continue;
        }
        const wire_resource *advert = advert_resource(peer, request->resources[i].resource_class,
                                                      request->resources[i].model);
        uint64_t hint = advert == NULL ? 0 : advert->lendable;
        uint64_t fits = (uint64_t) ((u128) hint * need[0] / need[i]);
        units0 = fits < units0 ? fits : units0;
    }
    if (units0 == 0 || (request->no_split && units0 < need[0])) {
        return false;
    }
    for (uint32_t i = 0; i < request->resource_count; i++) {
        chunk[i] = request->resources[i];
        // Round up, so the last piece takes what is left.
        chunk[i].amount = (uint64_t) (((u128) need[i] * units0 + need[0] - 1) / need[0]);
        if (chunk[i].amount == 0) {
            return false; // the wire wants at least one unit of each line
        }
    }
    return true;
}

static mesh_err borrow_ask(lease_machine *m,
                           mesh_now now,
                           lease_borrow_state *borrow,
                           const lease_peer *peer,
                           const wire_lease_resource chunk[WIRE_LEASE_RESOURCES_MAX],
                           mesh_rng *rng,
                           mesh_outbox *outbox)
{
    wire_lease_request request;
    memset(&request, 0, sizeof(request));
    do {
        for (uint32_t i = 0; i < WIRE_LEASE_ID_SIZE; i += 8) {
            uint64_t r = mesh_rng_next(rng);
            memcpy(&request.lease_id[i], &r, 8);
        }
    } while (lease_slot_find(m, request.lease_id) != NULL);
    request.lender = peer->id;
    request.resource_count = borrow->request.resource_count;
    memcpy(request.resources, chunk, sizeof(request.resources));
    request.start_ns = borrow->start_ns;
    request.duration_ns = borrow->request.duration_ns;
    request.constraints = borrow->request.constraints;
    request.expires_ns = now.realtime_ns + (int64_t) m->config.request_timeout_ns;
    lease_slot *slot = lease_slot_new(m, request.lease_id);
    if (slot == NULL) {
        lease_reject_count(m, LEASE_REJECT_FULL);
        return MESH_EFULL;
    }
    uint8_t body[2048];
    uint32_t body_size = 0;
    MESH_ASSERT(wire_lease_request_encode(&request, body, sizeof(body), &body_size) == MESH_OK);
    if (lease_send(m, peer, WIRE_TYPE_LEASE_REQUEST, body, body_size, outbox) != MESH_OK) {
        lease_slot_free(m, slot);
        return MESH_EFULL;
    }
    slot->self_is_lender = false;
    slot->phase = LEASE_PHASE_REQUESTED;
    slot->peer_id = peer->id;
    memcpy(slot->peer_key, peer->public_key, LEDGER_KEY_SIZE);
    lease_request_hash(&request, slot->request_hash);
    slot->resource_count = request.resource_count;
    memcpy(slot->resources, chunk, sizeof(slot->resources));
    slot->borrow_index = (uint32_t) (borrow - m->borrows) + 1;
    slot->borrow_id = borrow->id;
    slot->retry_ns = m->config.retry_interval_ns;
    lease_slot_arm(m, slot, now.monotonic_ns + m->config.request_timeout_ns);
    borrow->in_flight_count++;
    for (uint32_t i = 0; i < request.resource_count; i++) {
        borrow->in_flight[i] += chunk[i].amount;
    }
    return MESH_OK;
}

static uint32_t most_common_refusal(const lease_borrow_state *borrow)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i <= WIRE_LEASE_REFUSAL_MAX; i++) {
        if (borrow->refusal_counts[i] > borrow->refusal_counts[best]) {
            best = i;
        }
    }
    return best;
}

static mesh_err borrow_finish(lease_machine *m, lease_borrow_state *borrow, mesh_outbox *outbox)
{
    lease_event event;
    memset(&event, 0, sizeof(event));
    event.kind = LEASE_EVENT_BORROW_DONE;
    event.borrow_id = borrow->id;
    event.tag = borrow->request.tag;
    bool all = true;
    bool some = false;
    for (uint32_t i = 0; i < borrow->request.resource_count; i++) {
        all = all && borrow->remaining[i] == 0;
        some = some || borrow->granted[i] > 0;
        event.amounts[i].resource_class = borrow->request.resources[i].resource_class;
        memcpy(event.amounts[i].model, borrow->request.resources[i].model,
               sizeof(event.amounts[i].model));
        event.amounts[i].amount_milli = borrow->granted[i] * 1000u;
    }
    event.amount_count = borrow->request.resource_count;
    event.status = all ? LEASE_BORROW_GRANTED : some ? LEASE_BORROW_PARTIAL : LEASE_BORROW_REFUSED;
    event.lease_count = borrow->lease_count;
    event.candidate_count = borrow->candidate_count;
    memcpy(event.refusal_counts, borrow->refusal_counts, sizeof(event.refusal_counts));
    event.refusal = most_common_refusal(borrow);
    mesh_err err = lease_emit(m, &event, outbox);
    if (err != MESH_OK) {
        return err;
    }
    borrow->used = false;
    MESH_ASSERT(m->stats.borrows_open > 0);
    m->stats.borrows_open--;
    return MESH_OK;
}

static bool borrow_needs_more(const lease_borrow_state *borrow)
{
    for (uint32_t i = 0; i < borrow->request.resource_count; i++) {
        if (borrow->remaining[i] > borrow->in_flight[i]) {
            return true;
        }
    }
    return false;
}

static bool borrow_all_granted(const lease_borrow_state *borrow)
{
    for (uint32_t i = 0; i < borrow->request.resource_count; i++) {
        if (borrow->remaining[i] != 0) {
            return false;
        }
    }
    return true;
}

mesh_err lease_borrows_step(lease_machine *m, mesh_now now, mesh_rng *rng, mesh_outbox *outbox)
{
    for (uint32_t b = 0; b < m->config.borrows_max; b++) {
        lease_borrow_state *borrow = &m->borrows[b];
        if (!borrow->used) {
            continue;
        }
        bool late = now.monotonic_ns >= borrow->deadline_ns;
        while (!late && borrow_needs_more(borrow) &&
               borrow->in_flight_count < m->config.in_flight_max &&
               borrow->candidate_next < borrow->candidate_count && lease_room(m, outbox)) {
            const mesh_node_id *id = &borrow->candidates[borrow->candidate_next++];
            lease_peer peer;
            wire_lease_resource chunk[WIRE_LEASE_RESOURCES_MAX];
            memset(chunk, 0, sizeof(chunk));
            if (m->config.directory.find(m->config.directory.ctx, id, &peer) != MESH_OK ||
                !peer.alive || !chunk_for(borrow, &peer, chunk)) {
                continue;
            }
            mesh_err err = borrow_ask(m, now, borrow, &peer, chunk, rng, outbox);
            if (err != MESH_OK) {
                borrow->candidate_next--; // asked again at the next call
                break;
            }
        }
        bool exhausted = borrow->candidate_next >= borrow->candidate_count;
        bool abandoned = now.monotonic_ns >= borrow->deadline_ns + m->config.request_timeout_ns;
        if (borrow_all_granted(borrow) || ((late || exhausted) && borrow->in_flight_count == 0) ||
            abandoned) {
            if (!lease_room(m, outbox)) {
                return MESH_OK; // reported at the next call
            }
            mesh_err err = borrow_finish(m, borrow, outbox);
            if (err != MESH_OK) {
                return MESH_OK;
            }
        }
    }
    return MESH_OK;
}

uint64_t lease_borrows_deadline(const lease_machine *m)
{
    // Asked after every input: stop at the last open borrow (most of the
    // time there is none) instead of walking every slot.
    uint64_t deadline = UINT64_MAX;
    uint64_t left = m->stats.borrows_open;
    for (uint32_t b = 0; b < m->config.borrows_max && left > 0; b++) {
        const lease_borrow_state *borrow = &m->borrows[b];
        if (!borrow->used) {
            continue;
        }
        left--;
        uint64_t at = borrow->in_flight_count == 0
                          ? borrow->deadline_ns
                          : borrow->deadline_ns + m->config.request_timeout_ns;
        deadline = at < deadline ? at : deadline;
    }
    return deadline;
}

/* ---------------------------------------------------------------- */
/* A lease, borrower's side.                                         */
/* ---------------------------------------------------------------- */

static void decline(
    lease_machine *m, mesh_now now, const lease_peer *peer, lease_slot *slot, mesh_outbox *outbox)
{
    (void) lease_send_end(m, peer, slot->lease_id, WIRE_LEASE_END_DECLINE, now.realtime_ns, outbox);
    slot_give_up(m, slot);
}

// 0 when the offer's record is what was asked, from whom it was asked,
// within every constraint; else the reject reason + 1.
static uint32_t offer_check(lease_machine *m,
                            mesh_now now,
                            const lease_peer *peer,
                            const lease_slot *slot,
                            const lease_borrow_state *borrow,
                            const ledger_record *record)
{
    const lease_borrow_request *request = &borrow->request;
    if (record->kind != LEDGER_KIND_OPENED || record->number != 0 ||
        memcmp(record->lease_id, slot->lease_id, LEDGER_LEASE_ID_SIZE) != 0 ||
        memcmp(record->lender_key, peer->public_key, LEDGER_KEY_SIZE) != 0 ||
        memcmp(record->borrower_key, m->config.keypair.public_key, LEDGER_KEY_SIZE) != 0 ||
        record->amount_count != slot->resource_count) {
        return LEASE_REJECT_MISMATCH + 1;
    }
    for (uint32_t i = 0; i < record->amount_count; i++) {
        const ledger_amount *amount = &record->amounts[i];
        if (amount->resource_class != slot->resources[i].resource_class ||
            strcmp(amount->model, slot->resources[i].model) != 0 ||
            amount->amount_milli != slot->resources[i].amount * 1000u) {
            return LEASE_REJECT_MISMATCH + 1;
        }
    }
    const ledger_terms *terms = &record->terms;
    int64_t latest_start = borrow->start_ns > now.realtime_ns ? borrow->start_ns : now.realtime_ns;
    if (terms->start_ns < borrow->start_ns ||
        terms->start_ns > latest_start + m->config.clock_skew_max_ns ||
        terms->end_ns - terms->start_ns != (int64_t) request->duration_ns ||
        record->time_ns != terms->start_ns) {
        return LEASE_REJECT_MISMATCH + 1;
    }
    if (!lease_constraints_equal(&request->constraints, &terms->constraints) ||
        !lease_facts_equal(terms, peer)) {
        return LEASE_REJECT_MISMATCH + 1;
    }
    // The constraints again, on the certificate's facts, and on what the
    // lender signed (price, carbon) and what gossip measured (round trip).
    const wire_lease_constraints *c = &request->constraints;
    if (lease_constraints_check(c, peer->country, peer->jurisdiction_count, peer->jurisdictions,
                                peer->certifications) != 0 ||
        (c->cost_microeur_per_hour_max != 0 &&
         lease_cost_per_hour(record) > c->cost_microeur_per_hour_max) ||
        (c->carbon_gco2_per_kwh_max != 0 &&
         terms->carbon_gco2_per_kwh > c->carbon_gco2_per_kwh_max) ||
        (c->rtt_us_max != 0 && (peer->rtt_us == 0 || peer->rtt_us > c->rtt_us_max))) {
        return LEASE_REJECT_CONSTRAINT + 1;
    }
    return 0;
}

void lease_borrower_on_offer(lease_machine *m,
                             mesh_now now,
                             const lease_peer *peer,
                             lease_slot *slot,
                             const wire_lease_offer *offer,
                             mesh_outbox *outbox)
{
    if (slot->phase != LEASE_PHASE_REQUESTED) {
        lease_reject_count(m, LEASE_REJECT_REPLAY); // already accepted (or being)
        return;
    }
    ledger_record record;
    if (ledger_record_decode(offer->record, offer->record_size, &record) != MESH_OK) {
        lease_reject_count(m, LEASE_REJECT_MALFORMED);
        return;
    }
    if (lease_record_verify(&record, peer->public_key, offer->lender_signature) != MESH_OK) {
        lease_reject_count(m, LEASE_REJECT_BAD_SIGNATURE);
        return;
    }
    lease_borrow_state *borrow = borrow_of(m, slot);
    if (borrow == NULL) {
        decline(m, now, peer, slot, outbox); // the borrow ended meanwhile
        return;
    }
    uint32_t bad = offer_check(m, now, peer, slot, borrow, &record);
    if (bad != 0) {
        lease_reject_count(m, (lease_reject) (bad - 1));
        borrow->refusal_counts[0]++;
        decline(m, now, peer, slot, outbox);
        return;
    }
    if (offer->expires_ns <= now.realtime_ns) {
        lease_reject_count(m, LEASE_REJECT_EXPIRED);
        borrow->refusal_counts[WIRE_LEASE_REFUSAL_EXPIRED]++;
        decline(m, now, peer, slot, outbox);
        return;
    }
    slot->opened = record;
    slot->has_opened = true;
    memcpy(slot->opened_lender_signature, offer->lender_signature, LEDGER_SIGNATURE_SIZE);
    MESH_ASSERT(ledger_record_sign(&record, m->config.keypair.secret_key,
                                   slot->opened_borrower_signature) == MESH_OK);
    slot->offer_expires_ns = offer->expires_ns;
    slot->phase = LEASE_PHASE_ACCEPTING;
    slot->has_pending = true;
    slot->pending = record;
    slot->pending_has_lender = true;
    slot->pending_has_borrower = true;
    memcpy(slot->pending_lender_signature, slot->opened_lender_signature, LEDGER_SIGNATURE_SIZE);
    memcpy(slot->pending_borrower_signature, slot->opened_borrower_signature,
           LEDGER_SIGNATURE_SIZE);
    slot->pending_after = LEASE_AFTER_ACCEPTED;
    lease_slot_disarm(m, slot);
    if (lease_write_pending(m, slot, outbox) != MESH_OK) {
        // No room: forget the offer; the lender's hold expires.
        slot->has_pending = false;
        slot->has_opened = false;
        slot->phase = LEASE_PHASE_REQUESTED;
        lease_slot_arm(m, slot, now.monotonic_ns);
    }
}

void lease_borrower_on_refuse(lease_machine *m,
                              mesh_now now,
                              lease_slot *slot,
                              const wire_lease_refuse *refuse,
                              mesh_rng *rng,
                              mesh_outbox *outbox)
{
    (void) rng;
    if (slot->phase != LEASE_PHASE_REQUESTED) {
        lease_reject_count(m, LEASE_REJECT_UNEXPECTED);
        return;
    }
    m->stats.refusals_in++;
    lease_borrow_state *borrow = borrow_of(m, slot);
    if (borrow != NULL) {
        borrow->refusal_counts[refuse->reason]++;
    }
    cool_down(m, now, &slot->peer_id, refuse->reason);
    lease_event event;
    lease_event_from_slot(slot, LEASE_EVENT_REFUSED, &event);
    event.refusal = refuse->reason;
    (void) lease_emit(m, &event, outbox);
    slot_give_up(m, slot);
}

// 0 when the proposal may be countersigned, else the reject reason + 1.
static uint32_t
proposal_check(lease_machine *m, mesh_now now, const lease_slot *slot, const ledger_record *record)
{
    const ledger_record *opened = &slot->opened;
    int64_t skew = m->config.clock_skew_max_ns;
    if (memcmp(record->lender_key, opened->lender_key, LEDGER_KEY_SIZE) != 0 ||
        memcmp(record->borrower_key, opened->borrower_key, LEDGER_KEY_SIZE) != 0 ||
        record->time_ns < slot->usage_time_ns || record->time_ns > now.realtime_ns + skew) {
        return LEASE_REJECT_MISMATCH + 1;
    }
    switch (record->kind) {
    case LEDGER_KIND_USAGE:
        if (slot->phase != LEASE_PHASE_ACTIVE || record->time_ns <= slot->usage_time_ns ||
            record->time_ns > opened->terms.end_ns ||
            record->amount_count != opened->amount_count) {
            return LEASE_REJECT_MISMATCH + 1;
        }
        for (uint32_t i = 0; i < record->amount_count; i++) {
            const ledger_amount *used = &record->amounts[i];
            const ledger_amount *held = &opened->amounts[i];
            if (used->resource_class != held->resource_class ||
                strcmp(used->model, held->model) != 0) {
                return LEASE_REJECT_MISMATCH + 1;
            }
            uint64_t most =
                lease_usage_milli(held->amount_milli, slot->usage_time_ns, record->time_ns);
            if (used->amount_milli > most) {
                return LEASE_REJECT_OVERCHARGE + 1;
            }
        }
        return 0;
    case LEDGER_KIND_RELEASED:
    case LEDGER_KIND_RECLAIMED:
    case LEDGER_KIND_EXPIRED:
        if (slot->phase != LEASE_PHASE_ACTIVE || record->amount_count != 0 ||
            record->time_ns > opened->terms.end_ns) {
            return LEASE_REJECT_MISMATCH + 1;
        }
        if (record->kind == LEDGER_KIND_RELEASED && !slot->release_asked) {
            return LEASE_REJECT_MISMATCH + 1;
        }
        if (record->kind == LEDGER_KIND_EXPIRED && record->time_ns != opened->terms.end_ns) {
            return LEASE_REJECT_MISMATCH + 1;
        }
        return 0;
    case LEDGER_KIND_SETTLED:
        if (slot->phase != LEASE_PHASE_ENDING || record->amount_count != opened->amount_count) {
            return LEASE_REJECT_MISMATCH + 1;
        }
        for (uint32_t i = 0; i < record->amount_count; i++) {
            if (record->amounts[i].resource_class != opened->amounts[i].resource_class ||
                strcmp(record->amounts[i].model, opened->amounts[i].model) != 0 ||
                record->amounts[i].amount_milli != slot->usage_milli[i]) {
                return LEASE_REJECT_OVERCHARGE + 1;
            }
        }
        return 0;
    default:
        return LEASE_REJECT_MISMATCH + 1;
    }
}

static void become_active(lease_machine *m, lease_slot *slot, mesh_outbox *outbox)
{
    MESH_ASSERT(slot->phase == LEASE_PHASE_ACCEPTING);
    slot->phase = LEASE_PHASE_ACTIVE;
    slot->usage_time_ns = slot->opened.terms.start_ns;
    lease_slot_disarm(m, slot);
    lease_borrowed_add(m, slot, true);
    m->stats.granted_borrowed++;
    lease_event event;
    lease_event_from_slot(slot, LEASE_EVENT_GRANTED, &event);
    event.borrow_id = slot->borrow_id;
    lease_borrow_state *borrow = borrow_of(m, slot);
    event.tag = borrow != NULL ? borrow->request.tag : 0;
    (void) lease_emit(m, &event, outbox);
    borrow_settle_slot(m, slot, true);
}

void lease_borrower_on_record(lease_machine *m,
                              mesh_now now,
                              const lease_peer *peer,
                              lease_slot *slot,
                              const wire_lease_record *message,
                              const ledger_record *record,
                              mesh_rng *rng,
                              mesh_outbox *outbox)
{
    (void) rng;
    if (memcmp(record->lender_key, peer->public_key, LEDGER_KEY_SIZE) != 0 ||
        memcmp(record->borrower_key, m->config.keypair.public_key, LEDGER_KEY_SIZE) != 0 ||
        !message->has_lender_signature || !slot->has_opened) {
        lease_reject_count(m, LEASE_REJECT_MISMATCH);
        return;
    }
    if (slot->phase == LEASE_PHASE_ACCEPTING && slot->record_count == 0) {
        lease_reject_count(m, LEASE_REJECT_UNEXPECTED); // our acceptance is not durable yet
        return;
    }
    if (record->number == 0) {
        // The confirmation: our own OPENED record, both signatures as ours.
        if (slot->phase != LEASE_PHASE_ACCEPTING) {
            lease_reject_count(m, LEASE_REJECT_REPLAY);
            return;
        }
        if (!message->has_borrower_signature || !lease_record_same(record, &slot->opened) ||
            sodium_memcmp(message->lender_signature, slot->opened_lender_signature,
                          LEDGER_SIGNATURE_SIZE) != 0 ||
            sodium_memcmp(message->borrower_signature, slot->opened_borrower_signature,
                          LEDGER_SIGNATURE_SIZE) != 0) {
            lease_reject_count(m, LEASE_REJECT_MISMATCH);
            return;
        }
        become_active(m, slot, outbox);
        return;
    }
    if (record->number < slot->record_count) {
        // A proposal we already countersigned: the lender lost our answer,
        // or restarted and proposed the same number anew (other bytes).
        // Either way our agreed copy is the answer: the lender adopts it,
        // since it carries the lender's own signature.
        lease_reject_count(m, LEASE_REJECT_REPLAY);
        if (slot->has_last && record->number == slot->pending.number) {
            (void) lease_send_record(m, peer, slot->lease_id, &slot->pending,
                                     slot->pending_lender_signature,
                                     slot->pending_borrower_signature, outbox);
            return;
        }
        const lease_directory *d = &m->config.directory;
        ledger_record held;
        uint8_t lender_signature[LEDGER_SIGNATURE_SIZE];
        uint8_t borrower_signature[LEDGER_SIGNATURE_SIZE];
        if (d->ledger_record != NULL &&
            d->ledger_record(d->ctx, slot->lease_id, record->number, &held, lender_signature,
                             borrower_signature) == MESH_OK) {
            (void) lease_send_record(m, peer, slot->lease_id, &held, lender_signature,
                                     borrower_signature, outbox);
        }
        return;
    }
    if (record->number > slot->record_count ||
        (slot->has_pending && (slot->pending_in_ledger || slot->pending_rewrite))) {
        lease_reject_count(m, LEASE_REJECT_UNEXPECTED); // out of order, or being written
        return;
    }
    if (lease_record_verify(record, peer->public_key, message->lender_signature) != MESH_OK) {
        lease_reject_count(m, LEASE_REJECT_BAD_SIGNATURE);
        return;
    }
    if (slot->phase == LEASE_PHASE_ACCEPTING) {
        // A later record proves the lender holds the lease: the
        // confirmation was lost on the way.
        become_active(m, slot, outbox);
    }
    uint32_t bad = proposal_check(m, now, slot, record);
    if (bad != 0) {
        lease_reject_count(m, (lease_reject) (bad - 1));
        return;
    }
    slot->pending = *record;
    slot->has_pending = true;
    slot->has_last = false;
    slot->pending_has_lender = true;
    slot->pending_has_borrower = true;
    memcpy(slot->pending_lender_signature, message->lender_signature, LEDGER_SIGNATURE_SIZE);
    MESH_ASSERT(ledger_record_sign(record, m->config.keypair.secret_key,
                                   slot->pending_borrower_signature) == MESH_OK);
    slot->pending_after = LEASE_AFTER_COUNTERSIGN;
    if (lease_write_pending(m, slot, outbox) != MESH_OK) {
        slot->has_pending = false; // the lender resends
    }
}

void lease_borrower_on_end(lease_machine *m,
                           mesh_now now,
                           lease_slot *slot,
                           const wire_lease_end *end,
                           mesh_outbox *outbox)
{
    (void) now;
    if (end->what != WIRE_LEASE_END_RECLAIM) {
        lease_reject_count(m, LEASE_REJECT_MISMATCH); // decline and release are ours to send
        return;
    }
    if (slot->phase != LEASE_PHASE_ACTIVE && slot->phase != LEASE_PHASE_ACCEPTING) {
        lease_reject_count(m, LEASE_REJECT_UNEXPECTED);
        return;
    }
    if (slot->reclaim_at_ns != 0 && slot->reclaim_at_ns <= end->at_ns) {
        lease_reject_count(m, LEASE_REJECT_REPLAY);
        return;
    }
    slot->reclaim_at_ns = end->at_ns;
    lease_event event;
    lease_event_from_slot(slot, LEASE_EVENT_RECLAIM_NOTICE, &event);
    event.end_ns = end->at_ns;
    (void) lease_emit(m, &event, outbox);
}

mesh_err lease_release(lease_machine *m,
                       mesh_now now,
                       const uint8_t lease_id[LEDGER_LEASE_ID_SIZE],
                       mesh_rng *rng,
                       mesh_outbox *outbox)
{
    MESH_ASSERT(m != NULL && rng != NULL && outbox != NULL);
    lease_begin_call(m);
    lease_slot *slot = lease_slot_find(m, lease_id);
    if (slot == NULL || slot->self_is_lender ||
        (slot->phase != LEASE_PHASE_ACTIVE && slot->phase != LEASE_PHASE_ACCEPTING)) {
        return MESH_ENOTFOUND;
    }
    slot->release_asked = true;
    lease_peer peer;
    if (m->config.directory.find(m->config.directory.ctx, &slot->peer_id, &peer) == MESH_OK) {
        (void) lease_send_end(m, &peer, lease_id, WIRE_LEASE_END_RELEASE, now.realtime_ns, outbox);
    }
    // Resent until the lender's end record arrives.
    lease_slot_arm(m, slot, now.monotonic_ns + m->config.retry_interval_ns);
    return MESH_OK;
}

mesh_err lease_borrower_on_timer(
    lease_machine *m, mesh_now now, lease_slot *slot, mesh_rng *rng, mesh_outbox *outbox)
{
    (void) rng;
    lease_peer peer;
    bool reachable =
        m->config.directory.find(m->config.directory.ctx, &slot->peer_id, &peer) == MESH_OK;
    switch (slot->phase) {
    case LEASE_PHASE_REQUESTED: {
        // No answer in time: the lender is slow, gone or lost the frame.
        lease_borrow_state *borrow = borrow_of(m, slot);
        if (borrow != NULL) {
            borrow->refusal_counts[0]++;
        }
        slot_give_up(m, slot);
        return MESH_OK;
    }
    case LEASE_PHASE_ACCEPTING:
        if (slot->record_count == 0) {
            return MESH_OK; // the ledger's acknowledgement moves on
        }
        // Our acceptance is durable; resend it until it is confirmed.
        m->stats.retries++;
        slot->retry_ns = slot->retry_ns * 2 < m->config.retry_max_ns ? slot->retry_ns * 2
                                                                     : m->config.retry_max_ns;
        lease_slot_arm(m, slot, now.monotonic_ns + slot->retry_ns);
        if (!reachable) {
            return MESH_OK;
        }
        if (slot->release_asked) {
            mesh_err err = lease_send_end(m, &peer, slot->lease_id, WIRE_LEASE_END_RELEASE,
                                          now.realtime_ns, outbox);
            if (err != MESH_OK) {
                return err;
            }
        }
        return lease_send_record(m, &peer, slot->lease_id, &slot->opened,
                                 slot->opened_lender_signature, slot->opened_borrower_signature,
                                 outbox);
    case LEASE_PHASE_ACTIVE:
        if (!slot->release_asked) {
            return MESH_OK;
        }
        m->stats.retries++;
        slot->retry_ns = slot->retry_ns * 2 < m->config.retry_max_ns ? slot->retry_ns * 2
                                                                     : m->config.retry_max_ns;
        lease_slot_arm(m, slot, now.monotonic_ns + slot->retry_ns);
        if (!reachable) {
            return MESH_OK;
        }
        return lease_send_end(m, &peer, slot->lease_id, WIRE_LEASE_END_RELEASE, now.realtime_ns,
                              outbox);
    default:
        return MESH_OK;
    }
}

void lease_borrower_after_write(
    lease_machine *m, mesh_now now, lease_slot *slot, mesh_rng *rng, mesh_outbox *outbox)
{
    (void) rng;
    MESH_ASSERT(slot->has_pending);
    slot->has_pending = false;
    slot->has_last = true;
    const ledger_record *record = &slot->pending;
    lease_peer peer;
    bool reachable =
        m->config.directory.find(m->config.directory.ctx, &slot->peer_id, &peer) == MESH_OK;
    if (slot->pending_after == LEASE_AFTER_ACCEPTED) {
        // Durable: now the acceptance may leave.
        MESH_ASSERT(record->kind == LEDGER_KIND_OPENED);
        slot->retry_ns = m->config.retry_interval_ns;
        lease_slot_arm(m, slot, now.monotonic_ns + slot->retry_ns);
        if (reachable) {
            (void) lease_send_record(m, &peer, slot->lease_id, &slot->opened,
                                     slot->opened_lender_signature, slot->opened_borrower_signature,
                                     outbox);
        }
        return;
    }
    MESH_ASSERT(slot->pending_after == LEASE_AFTER_COUNTERSIGN);
    if (reachable) {
        (void) lease_send_record(m, &peer, slot->lease_id, record, slot->pending_lender_signature,
                                 slot->pending_borrower_signature, outbox);
    }
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
        slot->end_kind = record->kind;
        slot->end_at_ns = record->time_ns;
        lease_slot_disarm(m, slot);
        lease_borrowed_add(m, slot, false);
        break;
    case LEDGER_KIND_SETTLED:
        m->stats.ended_borrowed++;
        lease_settled(m, slot, record, outbox);
        return;
    default:
        MESH_ASSERT(false);
    }
}
