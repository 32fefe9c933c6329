/*
 * sim/lease_adversary.c: what hostile members do in the lease scenario.
 *
 * A hostile member is admitted like any other (a valid certificate from
 * the federation's root) and runs the unchanged member code, so that it
 * gossips, lends and borrows; the simulator wraps what it sends and adds
 * frames of its own, signed with its key (it holds the key, as a rogue
 * operator would). What it does, each counted under sim_lease_attack:
 *
 *   - capacity it does not have: its lease policy says 4096 vCPUs, which
 *     its adverts and offers follow, on 16 real ones (hostile_overpromised
 *     measures the gap; no honest member can see it, by design: a lender's
 *     capacity is its word, and the lease records what it promised);
 *   - offers it never confirms (withheld): for 30 % of its offers it lets
 *     the offer go and then withholds every later frame of that lease (the
 *     confirmation, every proposal), so the borrower's ledger holds an
 *     OPENED record that only the lender could end;
 *   - terms its certificate does not back (false_terms): for 25 % of the
 *     requests it receives, it answers itself with an OFFER whose OPENED
 *     record, validly signed with its own key, claims the country, the
 *     jurisdictions and the certifications the request wants (or names a
 *     certificate hash that is not its own), and withholds its machine's
 *     true answer;
 *   - overcharging: 30 % of its usage proposals ask twice what the lease
 *     held, re-signed;
 *   - late or twice: 20 % of its lease frames are held back 0.5..15 s
 *     (past an offer's hold, an acceptance takes the lender's late path),
 *     15 % are sent twice;
 *   - replays: it keeps the lease frames it sends and receives, and 2 % of
 *     those honest members send each other (an on-path attacker), and every
 *     attack interval may send one again, to its first destination or to
 *     another member;
 *   - forged signatures: a REQUEST whose envelope names another member but
 *     carries its own signature; an acceptance of an offer a lender never
 *     made, the lender's signature made with its own key; a record seen on
 *     the way, re-signed with its key in the lender's place;
 *   - a crash and restart mid-lease, losing unsynced batches and tearing
 *     the next one (LEDGER_CRASH_TEAR; lease_run.c schedules it).
 *
 * Every draw comes from the member's own adversary stream, so that the
 * attacks replay with the seed.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sim/lease_int.h"

#define FRAME_BUFFER_SIZE 4096u

static sim_lease_hostile *hostile_of(sim_lease_world *world, uint32_t index)
{
    MESH_ASSERT(index >= world->config->node_count && index < world->node_count);
    return &world->hostiles[index - world->config->node_count];
}

mesh_err sim_lease_adversary_init(sim_lease_world *world)
{
    uint32_t count = world->config->hostile_count;
    if (count == 0) {
        return MESH_OK;
    }
    world->hostiles = calloc(count, sizeof(sim_lease_hostile));
    if (world->hostiles == NULL) {
        return MESH_ENOMEM;
    }
    for (uint32_t k = 0; k < count; k++) {
        mesh_rng_seed(&world->hostiles[k].rng,
                      world->config->seed ^ ((0x40571e00ull + k) * 0x9e3779b97f4a7c15ull));
    }
    return MESH_OK;
}

void sim_lease_adversary_fini(sim_lease_world *world)
{
    if (world->hostiles == NULL) {
        return;
    }
    for (uint32_t k = 0; k < world->config->hostile_count; k++) {
        for (uint32_t i = 0; i < SIM_LEASE_REPLAY_MAX; i++) {
            free(world->hostiles[k].replay[i].bytes);
        }
    }
    free(world->hostiles);
    world->hostiles = NULL;
}

static bool percent(mesh_rng *rng, uint32_t chance)
{
    return mesh_rng_below(rng, 100) < chance;
}

/* A lease frame (types 16..20): its envelope and lease id. */
static bool lease_frame(const uint8_t *frame,
                        uint32_t size,
                        wire_envelope *envelope_out,
                        uint8_t lease_id_out[LEDGER_LEASE_ID_SIZE])
{
    return wire_envelope_decode(frame, size, envelope_out, NULL) == MESH_OK &&
           envelope_out->type >= WIRE_TYPE_LEASE_REQUEST &&
           envelope_out->type <= WIRE_TYPE_LEASE_END &&
           wire_lease_id_peek(envelope_out->body, envelope_out->body_size, lease_id_out) == MESH_OK;
}

static bool hidden_has(const sim_lease_hostile *h, const uint8_t id[LEDGER_LEASE_ID_SIZE])
{
    for (uint32_t i = 0; i < h->hidden_count; i++) {
        if (memcmp(h->hidden[i], id, LEDGER_LEASE_ID_SIZE) == 0) {
            return true;
        }
    }
    return false;
}

static void hidden_add(sim_lease_hostile *h, const uint8_t id[LEDGER_LEASE_ID_SIZE])
{
    if (hidden_has(h, id)) {
        return;
    }
    // A ring: the oldest withheld lease is forgotten first.
    memcpy(h->hidden[h->hidden_next], id, LEDGER_LEASE_ID_SIZE);
    h->hidden_next = (h->hidden_next + 1u) % SIM_LEASE_HIDDEN_MAX;
    if (h->hidden_count < SIM_LEASE_HIDDEN_MAX) {
        h->hidden_count++;
    }
}

static void remember(
    sim_lease_world *world, sim_lease_hostile *h, uint32_t to, const uint8_t *frame, uint32_t size)
{
    uint8_t *copy = malloc(size);
    if (copy == NULL) {
        world->fatal = MESH_ENOMEM;
        return;
    }
    memcpy(copy, frame, size);
    sim_lease_replay *slot = &h->replay[h->replay_next];
    free(slot->bytes);
    *slot = (sim_lease_replay){.to = to, .size = size, .bytes = copy};
    h->replay_next = (h->replay_next + 1u) % SIM_LEASE_REPLAY_MAX;
    if (h->replay_count < SIM_LEASE_REPLAY_MAX) {
        h->replay_count++;
    }
}

/* When the acceptance of a lease may leave: 0 when it is not held back. */
static uint64_t late_until(const sim_lease_hostile *h, const uint8_t id[LEDGER_LEASE_ID_SIZE])
{
    for (uint32_t i = 0; i < h->late_count; i++) {
        if (memcmp(h->late[i], id, LEDGER_LEASE_ID_SIZE) == 0) {
            return h->late_until_ns[i];
        }
    }
    return 0;
}

static void
late_add(sim_lease_hostile *h, const uint8_t id[LEDGER_LEASE_ID_SIZE], uint64_t until_ns)
{
    memcpy(h->late[h->late_next], id, LEDGER_LEASE_ID_SIZE);
    h->late_until_ns[h->late_next] = until_ns;
    h->late_next = (h->late_next + 1u) % SIM_LEASE_HIDDEN_MAX;
    if (h->late_count < SIM_LEASE_HIDDEN_MAX) {
        h->late_count++;
    }
}

/* An acceptance (an OPENED record with both signatures) it sends. */
static bool is_acceptance(const wire_envelope *envelope)
{
    wire_lease_record message;
    ledger_record record;
    return envelope->type == WIRE_TYPE_LEASE_RECORD &&
           wire_lease_record_decode(envelope->body, envelope->body_size, &message, NULL) ==
               MESH_OK &&
           message.has_lender_signature && message.has_borrower_signature &&
           ledger_record_decode(message.record, message.record_size, &record) == MESH_OK &&
           record.kind == LEDGER_KIND_OPENED;
}

/* Signs body as type with the hostile member's key and routes it. */
static void seal_and_route(sim_lease_world *world,
                           uint32_t from,
                           uint32_t to,
                           wire_type type,
                           const uint8_t *body,
                           uint32_t body_size)
{
    uint8_t frame[FRAME_BUFFER_SIZE];
    uint32_t frame_size = 0;
    if (mcrypto_envelope_seal(&world->nodes[from].keypair, type, body, body_size, frame,
                              sizeof(frame), &frame_size) != MESH_OK) {
        world->fatal = MESH_EINTERNAL;
        return;
    }
    sim_lease_route(world, from, to, frame, frame_size, 0);
}

/* ---------------------------------------------------------------- */
/* Hand-built OPENED records.                                        */
/* ---------------------------------------------------------------- */

static void add_code(char (*list)[3], uint32_t *count, uint32_t count_max, const char *code)
{
    for (uint32_t i = 0; i < *count; i++) {
        if (strcmp(list[i], code) == 0) {
            return;
        }
    }
    if (*count >= count_max) {
        return;
    }
    uint32_t at = *count;
    while (at > 0 && strcmp(list[at - 1], code) > 0) {
        memcpy(list[at], list[at - 1], 3);
        at--;
    }
    memcpy(list[at], code, 3);
    (*count)++;
}

static void constraints_to_ledger(const wire_lease_constraints *w, ledger_constraints *l)
{
    memset(l, 0, sizeof(*l));
    l->country_count = w->country_count;
    memcpy(l->countries, w->countries, sizeof(l->countries));
    l->jurisdiction_count = w->jurisdiction_count;
    memcpy(l->jurisdictions, w->jurisdictions, sizeof(l->jurisdictions));
    l->certifications = w->certifications;
    memcpy(l->data_class, w->data_class, sizeof(l->data_class));
    l->rtt_us_max = w->rtt_us_max;
    l->cost_microeur_per_hour_max = w->cost_microeur_per_hour_max;
    l->carbon_gco2_per_kwh_max = w->carbon_gco2_per_kwh_max;
}

/* An OPENED record for a request, lent by `lender` (its true facts), to
 * `borrower`, starting at start_ns. */
static void build_opened(const sim_lease_world *world,
                         uint32_t lender,
                         uint32_t borrower,
                         const wire_lease_request *request,
                         int64_t start_ns,
                         ledger_record *record)
{
    const sim_lease_node *node = &world->nodes[lender];
    memset(record, 0, sizeof(*record));
    record->version = LEDGER_RECORD_VERSION;
    record->kind = LEDGER_KIND_OPENED;
    memcpy(record->lease_id, request->lease_id, LEDGER_LEASE_ID_SIZE);
    memcpy(record->lender_key, node->keypair.public_key, LEDGER_KEY_SIZE);
    memcpy(record->borrower_key, world->nodes[borrower].keypair.public_key, LEDGER_KEY_SIZE);
    record->time_ns = start_ns;
    record->amount_count = request->resource_count;
    ledger_terms *terms = &record->terms;
    terms->start_ns = start_ns;
    terms->end_ns = start_ns + (int64_t) request->duration_ns;
    terms->price_count = request->resource_count;
    for (uint32_t i = 0; i < request->resource_count; i++) {
        record->amounts[i].resource_class = request->resources[i].resource_class;
        memcpy(record->amounts[i].model, request->resources[i].model,
               sizeof(record->amounts[i].model));
        record->amounts[i].amount_milli = request->resources[i].amount * 1000u;
        terms->prices[i] = 1;
    }
    memcpy(terms->lender_cert_hash, node->cert_hash, LEDGER_HASH_SIZE);
    memcpy(terms->lender_country, node->cert.country, 3);
    terms->lender_jurisdiction_count = node->cert.jurisdiction_count;
    memcpy(terms->lender_jurisdictions, node->cert.jurisdictions,
           sizeof(terms->lender_jurisdictions));
    terms->lender_certifications = node->cert.certifications;
    terms->carbon_gco2_per_kwh = node->carbon_gco2_per_kwh;
    constraints_to_ledger(&request->constraints, &terms->constraints);
}

/* The lie: facts that satisfy the request's constraints, whatever the
 * certificate says; or the true facts under another certificate's hash. */
static void falsify(const sim_lease_world *world,
                    uint32_t lender,
                    mesh_rng *rng,
                    const wire_lease_request *request,
                    ledger_record *record)
{
    ledger_terms *terms = &record->terms;
    const wire_lease_constraints *c = &request->constraints;
    if (percent(rng, 25)) {
        for (uint32_t i = 0; i < LEDGER_HASH_SIZE; i++) {
            terms->lender_cert_hash[i] = (uint8_t) mesh_rng_next(rng);
        }
        return;
    }
    const char *country = strcmp(world->nodes[lender].cert.country, "SE") == 0 ? "PL" : "SE";
    for (uint32_t i = 0; i < c->country_count; i++) {
        if (strcmp(c->countries[i], world->nodes[lender].cert.country) != 0) {
            country = c->countries[i];
            break;
        }
    }
    memcpy(terms->lender_country, country, 3);
    terms->lender_jurisdiction_count = 0;
    add_code(terms->lender_jurisdictions, &terms->lender_jurisdiction_count,
             LEDGER_JURISDICTIONS_MAX, country);
    add_code(terms->lender_jurisdictions, &terms->lender_jurisdiction_count,
             LEDGER_JURISDICTIONS_MAX, "EU");
    for (uint32_t i = 0; i < c->jurisdiction_count; i++) {
        add_code(terms->lender_jurisdictions, &terms->lender_jurisdiction_count,
                 LEDGER_JURISDICTIONS_MAX, c->jurisdictions[i]);
    }
    terms->lender_certifications = WIRE_CERTIFICATION_ALL;
    if (c->carbon_gco2_per_kwh_max != 0 &&
        terms->carbon_gco2_per_kwh > c->carbon_gco2_per_kwh_max) {
        terms->carbon_gco2_per_kwh = c->carbon_gco2_per_kwh_max;
    }
}

/* A false offer in answer to a request the hostile member received. */
static void false_terms(sim_lease_world *world,
                        uint32_t hostile,
                        uint32_t borrower,
                        const wire_envelope *envelope)
{
    sim_lease_hostile *h = hostile_of(world, hostile);
    wire_lease_request request;
    if (wire_lease_request_decode(envelope->body, envelope->body_size, &request, NULL) != MESH_OK ||
        !mesh_node_id_equal(&request.lender, &world->nodes[hostile].id) ||
        !mesh_node_id_equal(&envelope->signer, &world->nodes[borrower].id)) {
        return;
    }
    mesh_now now = sim_lease_now(world, &world->nodes[hostile]);
    int64_t start_ns = request.start_ns > now.realtime_ns ? request.start_ns : now.realtime_ns;
    ledger_record record;
    build_opened(world, hostile, borrower, &request, start_ns, &record);
    falsify(world, hostile, &h->rng, &request, &record);
    uint8_t record_bytes[LEDGER_RECORD_SIZE_MAX];
    uint32_t record_size = 0;
    wire_lease_offer offer;
    memset(&offer, 0, sizeof(offer));
    if (ledger_record_encode(&record, record_bytes, sizeof(record_bytes), &record_size) !=
            MESH_OK ||
        ledger_record_sign(&record, world->nodes[hostile].keypair.secret_key,
                           offer.lender_signature) != MESH_OK) {
        return; // a lie the encoder refuses: not sent
    }
    memcpy(offer.lease_id, request.lease_id, sizeof(offer.lease_id));
    offer.record = record_bytes;
    offer.record_size = record_size;
    offer.expires_ns = now.realtime_ns + 5 * (int64_t) MESH_NS_PER_S;
    uint8_t body[WIRE_LEASE_RECORD_SIZE_MAX + 256];
    uint32_t body_size = 0;
    if (wire_lease_offer_encode(&offer, body, sizeof(body), &body_size) != MESH_OK) {
        return;
    }
    hidden_add(h, request.lease_id); // its machine's true answer stays home
    world->result.attacks[SIM_LEASE_ATTACK_FALSE_TERMS]++;
    seal_and_route(world, hostile, borrower, WIRE_TYPE_LEASE_OFFER, body, body_size);
}

/* A usage proposal asking twice what the lease held, re-signed. */
static bool
overcharge(sim_lease_world *world, uint32_t hostile, uint32_t to, const wire_envelope *envelope)
{
    wire_lease_record message;
    ledger_record record;
    if (wire_lease_record_decode(envelope->body, envelope->body_size, &message, NULL) != MESH_OK ||
        !message.has_lender_signature || message.has_borrower_signature ||
        ledger_record_decode(message.record, message.record_size, &record) != MESH_OK ||
        record.kind != LEDGER_KIND_USAGE) {
        return false;
    }
    for (uint32_t i = 0; i < record.amount_count; i++) {
        record.amounts[i].amount_milli = record.amounts[i].amount_milli * 2u + 1000u;
    }
    uint8_t record_bytes[LEDGER_RECORD_SIZE_MAX];
    uint32_t record_size = 0;
    if (ledger_record_encode(&record, record_bytes, sizeof(record_bytes), &record_size) !=
            MESH_OK ||
        ledger_record_sign(&record, world->nodes[hostile].keypair.secret_key,
                           message.lender_signature) != MESH_OK) {
        return false;
    }
    message.record = record_bytes;
    message.record_size = record_size;
    uint8_t body[WIRE_LEASE_RECORD_SIZE_MAX + 256];
    uint32_t body_size = 0;
    if (wire_lease_record_encode(&message, body, sizeof(body), &body_size) != MESH_OK) {
        return false;
    }
    world->result.attacks[SIM_LEASE_ATTACK_OVERCHARGE]++;
    seal_and_route(world, hostile, to, WIRE_TYPE_LEASE_RECORD, body, body_size);
    return true;
}

/* ---------------------------------------------------------------- */
/* The wrappers.                                                     */
/* ---------------------------------------------------------------- */

void sim_lease_adversary_send(
    sim_lease_world *world, uint32_t from, uint32_t to, const uint8_t *frame, uint32_t frame_size)
{
    sim_lease_hostile *h = hostile_of(world, from);
    wire_envelope envelope;
    uint8_t lease_id[LEDGER_LEASE_ID_SIZE];
    if (!lease_frame(frame, frame_size, &envelope, lease_id)) {
        sim_lease_route(world, from, to, frame, frame_size, 0); // gossip: untouched
        return;
    }
    if (hidden_has(h, lease_id)) {
        world->result.attacks[SIM_LEASE_ATTACK_WITHHELD]++;
        return; // and never replayed either
    }
    remember(world, h, to, frame, frame_size);
    if (envelope.type == WIRE_TYPE_LEASE_OFFER && percent(&h->rng, 30)) {
        hidden_add(h, lease_id); // this offer goes; nothing after it will
    }
    if (envelope.type == WIRE_TYPE_LEASE_RECORD && percent(&h->rng, 30) &&
        overcharge(world, from, to, &envelope)) {
        return;
    }
    uint64_t extra_ns = 0;
    if (is_acceptance(&envelope)) {
        // Accepting late: 30 % of its acceptances (every resend of them)
        // are held back 6..20 s, past the lender's hold of the offer.
        uint64_t until_ns = late_until(h, lease_id);
        if (until_ns == 0 && percent(&h->rng, 30)) {
            until_ns = world->now_ns + MESH_NS_PER_MS * (6000u + mesh_rng_below(&h->rng, 14000));
            late_add(h, lease_id, until_ns);
        }
        extra_ns = until_ns > world->now_ns ? until_ns - world->now_ns : 0;
    }
    if (extra_ns > 0) {
        world->result.attacks[SIM_LEASE_ATTACK_LATE]++;
    } else if (percent(&h->rng, 20)) {
        extra_ns = MESH_NS_PER_MS * (500u + mesh_rng_below(&h->rng, 14500));
        world->result.attacks[SIM_LEASE_ATTACK_LATE]++;
    }
    sim_lease_route(world, from, to, frame, frame_size, extra_ns);
    if (percent(&h->rng, 15)) {
        world->result.attacks[SIM_LEASE_ATTACK_TWICE]++;
        sim_lease_route(world, from, to, frame, frame_size,
                        extra_ns + MESH_NS_PER_MS * mesh_rng_below(&h->rng, 3000));
    }
}

void sim_lease_adversary_deliver(
    sim_lease_world *world, uint32_t to, uint32_t from, const uint8_t *frame, uint32_t frame_size)
{
    sim_lease_hostile *h = hostile_of(world, to);
    wire_envelope envelope;
    uint8_t lease_id[LEDGER_LEASE_ID_SIZE];
    if (!lease_frame(frame, frame_size, &envelope, lease_id)) {
        return;
    }
    remember(world, h, to, frame, frame_size);
    if (envelope.type == WIRE_TYPE_LEASE_REQUEST && from < world->config->node_count &&
        percent(&h->rng, 25)) {
        false_terms(world, to, from, &envelope);
    }
}

void sim_lease_adversary_sniff(sim_lease_world *world,
                               uint32_t to,
                               const uint8_t *frame,
                               uint32_t frame_size)
{
    wire_envelope envelope;
    uint8_t lease_id[LEDGER_LEASE_ID_SIZE];
    if (!lease_frame(frame, frame_size, &envelope, lease_id)) {
        return;
    }
    mesh_rng *rng = &world->hostiles[0].rng;
    if (!percent(rng, 2)) {
        return;
    }
    uint32_t k = (uint32_t) mesh_rng_below(rng, world->config->hostile_count);
    remember(world, &world->hostiles[k], to, frame, frame_size);
}

/* ---------------------------------------------------------------- */
/* Attacks of its own.                                               */
/* ---------------------------------------------------------------- */

static uint32_t honest_other_than(sim_lease_world *world, mesh_rng *rng, uint32_t not_this)
{
    uint32_t n = world->config->node_count;
    uint32_t pick = (uint32_t) mesh_rng_below(rng, n - 1u);
    return not_this < n && pick >= not_this ? pick + 1u : pick;
}

static void
random_request(sim_lease_world *world, mesh_rng *rng, uint32_t lender, wire_lease_request *request)
{
    memset(request, 0, sizeof(*request));
    for (uint32_t i = 0; i < LEDGER_LEASE_ID_SIZE; i += 8) {
        uint64_t value = mesh_rng_next(rng) | 1u;
        memcpy(&request->lease_id[i], &value, 8);
    }
    mesh_now now = sim_lease_now(world, &world->nodes[lender]);
    request->lender = world->nodes[lender].id;
    request->resource_count = 1;
    request->resources[0].resource_class = WIRE_RESOURCE_VCPU;
    request->resources[0].amount = 1u + mesh_rng_below(rng, 16);
    request->start_ns = now.realtime_ns;
    request->duration_ns = 300ull * MESH_NS_PER_S;
    request->expires_ns = now.realtime_ns + 2 * (int64_t) MESH_NS_PER_S;
}

/* A REQUEST whose envelope names an honest member, signed by the attacker. */
static void forge_signer(sim_lease_world *world, uint32_t index, mesh_rng *rng)
{
    uint32_t lender = honest_other_than(world, rng, UINT32_MAX);
    uint32_t victim = honest_other_than(world, rng, lender);
    wire_lease_request request;
    random_request(world, rng, lender, &request);
    uint8_t body[2048];
    uint32_t body_size = 0;
    uint8_t frame[FRAME_BUFFER_SIZE];
    uint32_t frame_size = 0;
    wire_envelope envelope;
    if (wire_lease_request_encode(&request, body, sizeof(body), &body_size) != MESH_OK ||
        mcrypto_envelope_seal(&world->nodes[index].keypair, WIRE_TYPE_LEASE_REQUEST, body,
                              body_size, frame, sizeof(frame), &frame_size) != MESH_OK ||
        wire_envelope_decode(frame, frame_size, &envelope, NULL) != MESH_OK) {
        world->fatal = MESH_EINTERNAL;
        return;
    }
    envelope.signer = world->nodes[victim].id;
    uint8_t forged[FRAME_BUFFER_SIZE];
    uint32_t forged_size = 0;
    if (wire_envelope_encode(&envelope, forged, sizeof(forged), &forged_size) != MESH_OK) {
        world->fatal = MESH_EINTERNAL;
        return;
    }
    world->result.attacks[SIM_LEASE_ATTACK_FORGED_SIGNER]++;
    sim_lease_route(world, index, lender, forged, forged_size, 0);
}

/* Sends a RECORD message carrying record with the given signatures. */
static void send_record(sim_lease_world *world,
                        uint32_t from,
                        uint32_t to,
                        const ledger_record *record,
                        const uint8_t *lender_signature,
                        const uint8_t *borrower_signature)
{
    uint8_t record_bytes[LEDGER_RECORD_SIZE_MAX];
    wire_lease_record message;
    memset(&message, 0, sizeof(message));
    if (ledger_record_encode(record, record_bytes, sizeof(record_bytes), &message.record_size) !=
        MESH_OK) {
        return;
    }
    memcpy(message.lease_id, record->lease_id, sizeof(message.lease_id));
    message.record = record_bytes;
    message.has_lender_signature = lender_signature != NULL;
    message.has_borrower_signature = borrower_signature != NULL;
    if (lender_signature != NULL) {
        memcpy(message.lender_signature, lender_signature, LEDGER_SIGNATURE_SIZE);
    }
    if (borrower_signature != NULL) {
        memcpy(message.borrower_signature, borrower_signature, LEDGER_SIGNATURE_SIZE);
    }
    uint8_t body[WIRE_LEASE_RECORD_SIZE_MAX + 256];
    uint32_t body_size = 0;
    if (wire_lease_record_encode(&message, body, sizeof(body), &body_size) != MESH_OK) {
        return;
    }
    world->result.attacks[SIM_LEASE_ATTACK_FORGED_RECORD]++;
    seal_and_route(world, from, to, WIRE_TYPE_LEASE_RECORD, body, body_size);
}

/* An acceptance of an offer an honest lender never made: the lender's
 * signature on the OPENED record is made with the attacker's key. */
static void forge_acceptance(sim_lease_world *world, uint32_t index, mesh_rng *rng)
{
    uint32_t lender = honest_other_than(world, rng, UINT32_MAX);
    wire_lease_request request;
    random_request(world, rng, lender, &request);
    ledger_record record;
    build_opened(world, lender, index, &request, request.start_ns, &record);
    record.terms.prices[0] =
        world->nodes[lender].config.lease.classes[0].price_microeur_per_unit_hour;
    uint8_t lender_signature[LEDGER_SIGNATURE_SIZE];
    uint8_t borrower_signature[LEDGER_SIGNATURE_SIZE];
    const uint8_t *secret = world->nodes[index].keypair.secret_key;
    if (ledger_record_sign(&record, secret, lender_signature) != MESH_OK ||
        ledger_record_sign(&record, secret, borrower_signature) != MESH_OK) {
        return;
    }
    send_record(world, index, lender, &record, lender_signature, borrower_signature);
}

/* A record seen on the way, its lender's signature replaced by one made
 * with the attacker's key, sent to either party. */
static bool forge_seen_record(sim_lease_world *world, uint32_t index, mesh_rng *rng)
{
    sim_lease_hostile *h = hostile_of(world, index);
    for (uint32_t tries = 0; tries < 8 && h->replay_count > 0; tries++) {
        const sim_lease_replay *seen = &h->replay[mesh_rng_below(rng, h->replay_count)];
        wire_envelope envelope;
        wire_lease_record message;
        ledger_record record;
        if (wire_envelope_decode(seen->bytes, seen->size, &envelope, NULL) != MESH_OK ||
            envelope.type != WIRE_TYPE_LEASE_RECORD ||
            wire_lease_record_decode(envelope.body, envelope.body_size, &message, NULL) !=
                MESH_OK ||
            ledger_record_decode(message.record, message.record_size, &record) != MESH_OK) {
            continue;
        }
        uint32_t lender = sim_lease_index_of_key(world, record.lender_key);
        uint32_t borrower = sim_lease_index_of_key(world, record.borrower_key);
        uint32_t to = percent(rng, 50) ? lender : borrower;
        if (to >= world->config->node_count) {
            to = to == lender ? borrower : lender;
        }
        if (to >= world->config->node_count) {
            continue;
        }
        uint8_t lender_signature[LEDGER_SIGNATURE_SIZE];
        if (ledger_record_sign(&record, world->nodes[index].keypair.secret_key, lender_signature) !=
            MESH_OK) {
            continue;
        }
        send_record(world, index, to, &record, lender_signature,
                    message.has_borrower_signature ? message.borrower_signature : NULL);
        return true;
    }
    return false;
}

void sim_lease_adversary_attack(sim_lease_world *world, uint32_t index)
{
    sim_lease_hostile *h = hostile_of(world, index);
    mesh_rng *rng = &h->rng;
    switch (mesh_rng_below(rng, 4)) {
    case 0:
        if (h->replay_count > 0) {
            const sim_lease_replay *old = &h->replay[mesh_rng_below(rng, h->replay_count)];
            uint32_t to = percent(rng, 60) && old->to < world->node_count && old->to != index
                              ? old->to
                              : honest_other_than(world, rng, UINT32_MAX);
            world->result.attacks[SIM_LEASE_ATTACK_REPLAY]++;
            sim_lease_route(world, index, to, old->bytes, old->size, 0);
        }
        break;
    case 1:
        forge_signer(world, index, rng);
        break;
    case 2:
        forge_acceptance(world, index, rng);
        break;
    default:
        if (!forge_seen_record(world, index, rng)) {
            forge_acceptance(world, index, rng);
        }
        break;
    }
}
