/*
 * gossip/gossip_records.c: signed records, the only inputs that change
 * what a node believes about others.
 *
 *   certificate  root-signed; admits a member (its key, name, country,
 *                jurisdictions, certifications, validity)
 *   advert       member-signed; capacity and endpoint, with a sequence
 *                number: a newer sequence supersedes, an older one is a
 *                replay, an equal one a duplicate
 *   suspicion    member-signed "target at sequence S looks dead"; the
 *                target refutes by publishing sequence S + 1
 *   revocation   root-signed; the member is dropped everywhere for good
 *
 * Checks run cheapest first, and the expensive signature check comes only
 * once a record would change something: a duplicate or a replay never
 * costs a verification, so a flood of old records is cheap to refuse.
 * A refused record changes nothing but its counter.
 *
 * Sequence numbers survive restarts without storage: a node starts at its
 * wall-clock time in microseconds, which is above anything it published
 * before unless its clock went back by more than its update count.
 */
#include <math.h>
#include <string.h>

#include <sodium.h>

#include "gossip/gossip_int.h"

void gossip_add_fresh(gossip *g, const uint8_t *frame, uint32_t frame_size)
{
    MESH_ASSERT(frame != NULL && frame_size > 0);
    if (g->fresh_count == FRESH_MAX) {
        g->stats.frames_dropped++; // anti-entropy repairs what a push misses
        return;
    }
    g->fresh[g->fresh_count].frame = frame;
    g->fresh[g->fresh_count].frame_size = frame_size;
    g->fresh_count++;
}

double gossip_suspicion_scale(uint32_t live_count)
{
    // log10 of the view, as memberlist scales its suspicion timeout, never
    // below 1: views of up to 10 members keep the configured timeouts.
    return live_count > 10 ? log10((double) live_count) : 1.0;
}

uint64_t gossip_suspicion_timeout_ns(const gossip *g, uint32_t accuser_count)
{
    MESH_ASSERT(accuser_count >= 1 && accuser_count <= ACCUSERS_MAX);
    // The view's size scales both ends: a refutation needs about log N
    // push hops, and more anti-entropy rounds, to reach every member that
    // holds the suspicion. With the defaults: 1..3 s up to 10 members,
    // 1.7..5.1 s at 50, 3..9 s at 1,000, 4..12 s at 10,000.
    MESH_ASSERT(g->member_count >= g->gone_count);
    double scale = gossip_suspicion_scale(g->member_count - g->gone_count);
    uint64_t min_ns = (uint64_t) (scale * (double) g->config.suspicion_min_ns);
    uint64_t max_ns = (uint64_t) (scale * (double) g->config.suspicion_max_ns);
    max_ns = max_ns < min_ns ? min_ns : max_ns;
    // Lifeguard's dynamic suspicion: the timeout starts at the maximum and
    // falls logarithmically to the minimum as independent accusers confirm
    // the suspicion, so one slow accuser cannot take a member down fast,
    // but many agreeing ones can.
    double fraction = log((double) accuser_count) / log((double) ACCUSERS_MAX);
    uint64_t timeout = max_ns - (uint64_t) (fraction * (double) (max_ns - min_ns));
    MESH_ASSERT(timeout >= min_ns);
    // A node that is itself unhealthy waits longer before it believes.
    return timeout + timeout * g->local_health / LOCAL_HEALTH_MAX;
}

/* The member that signed a record, if it may sign records: known, with a
 * certificate, and not revoked. Otherwise counts the refusal and returns
 * NULL. */
static member *signing_member(gossip *g, const mesh_node_id *signer)
{
    member *m = gossip_member_lookup(g, signer);
    if (m == NULL) {
        gossip_count_reject(g, gossip_is_revoked(g, signer) ? GOSSIP_REJECT_REVOKED
                                                            : GOSSIP_REJECT_UNKNOWN_KEY);
        return NULL;
    }
    if (m->state == GOSSIP_REVOKED) {
        gossip_count_reject(g, GOSSIP_REJECT_REVOKED);
        return NULL;
    }
    return m;
}

/* A new member whose certificate is in the store already, checked under
 * our root: the checks of ingest_cert's slow path that depend on this
 * machine, in the same order, with the same counters. */
static bool ingest_stored_cert(gossip *g, uint32_t handle, const store_cert_info *info)
{
    if (gossip_is_revoked(g, &info->id)) {
        gossip_count_reject(g, GOSSIP_REJECT_REVOKED);
        return false;
    }
    if (g->now.realtime_ns < info->valid_from_ns || g->now.realtime_ns >= info->valid_until_ns) {
        gossip_count_reject(g, GOSSIP_REJECT_CERT_INVALID);
        return false;
    }
    member *m = NULL;
    if (gossip_member_insert_stored(g, handle, &m) != MESH_OK) {
        gossip_count_reject(g, GOSSIP_REJECT_FULL);
        return false;
    }
    gossip_emit_event(g, GOSSIP_EVENT_STATE, m, 0);
    return true;
}

static bool ingest_cert(gossip *g, const uint8_t *frame, uint32_t frame_size)
{
    if (frame_size > MEMBER_CERT_FRAME_MAX) {
        gossip_count_reject(g, GOSSIP_REJECT_OVERSIZE);
        return false;
    }
    // Fast path: the very certificate we hold, found by its bytes.
    uint32_t held_handle = gossip_store_find(g->store, STORE_CERT, frame, frame_size);
    if (held_handle != 0) {
        const member *holder =
            gossip_member_lookup(g, &gossip_store_cert(g->store, held_handle)->id);
        if (holder != NULL && holder->cert == held_handle) {
            g->stats.duplicates++;
            return false;
        }
        // Stored by a machine under our root, so its signature checked
        // out; what depends on us (revocation, time) is checked here.
        const store_cert_info *info = gossip_store_cert(g->store, held_handle);
        if (holder == NULL && sodium_memcmp(info->root_public_key, g->config.root_public_key,
                                            MCRYPTO_PUBLIC_KEY_SIZE) == 0) {
            return ingest_stored_cert(g, held_handle, info);
        }
    }
    wire_envelope envelope;
    if (wire_envelope_decode(frame, frame_size, &envelope, NULL) != MESH_OK) {
        gossip_count_reject(g, GOSSIP_REJECT_MALFORMED);
        return false;
    }
    wire_cert cert;
    if (wire_cert_decode(envelope.body, envelope.body_size, &cert, NULL) != MESH_OK) {
        gossip_count_reject(g, GOSSIP_REJECT_MALFORMED);
        return false;
    }
    mesh_node_id id;
    mcrypto_node_id(cert.public_key, &id);
    member *m = gossip_member_lookup(g, &id);
    if (gossip_is_revoked(g, &id)) {
        gossip_count_reject(g, GOSSIP_REJECT_REVOKED);
        return false;
    }
    if (m != NULL && cert.valid_until_ns <= gossip_member_cert(g, m)->valid_until_ns) {
        g->stats.duplicates++; // an older or equal certificate of a known member
        return false;
    }
    mcrypto_cert_status status = MCRYPTO_CERT_MALFORMED;
    if (mcrypto_cert_check_cached(g->config.verify_cache, g->config.root_public_key, frame,
                                  frame_size, g->now.realtime_ns, NULL, 0, &cert,
                                  &status) != MESH_OK) {
        gossip_count_reject(g, status == MCRYPTO_CERT_BAD_SIGNATURE ? GOSSIP_REJECT_BAD_SIGNATURE
                               : status == MCRYPTO_CERT_MALFORMED   ? GOSSIP_REJECT_MALFORMED
                                                                    : GOSSIP_REJECT_CERT_INVALID);
        return false;
    }
    if (m != NULL) {
        // A renewal: same key, later expiry.
        MESH_ASSERT(memcmp(gossip_member_cert(g, m)->public_key, cert.public_key,
                           MCRYPTO_PUBLIC_KEY_SIZE) == 0);
        uint32_t handle = gossip_store_cert_put(g, &cert, frame, frame_size);
        if (handle == 0) {
            gossip_count_reject(g, GOSSIP_REJECT_FULL);
            return false;
        }
        gossip_store_release(g->store, STORE_CERT, m->cert);
        m->cert = handle;
        return true;
    }
    if (gossip_member_insert(g, &cert, frame, frame_size, &m) != MESH_OK) {
        gossip_count_reject(g, GOSSIP_REJECT_FULL);
        return false;
    }
    gossip_emit_event(g, GOSSIP_EVENT_STATE, m, 0);
    return true;
}

/* Answers a newer-than-ours advert of our own (a previous incarnation's)
 * or a suspicion of us: publish a sequence above it. */
static void refute(gossip *g, uint64_t above_sequence)
{
    member *self = &g->members[g->self_slot];
    if (g->leaving || !g->started) {
        return;
    }
    if (self->sequence <= above_sequence) {
        gossip_view_update(g, self, above_sequence, true);
    }
    g->stats.refutations++;
    if (gossip_publish_advert(g, WIRE_ADVERT_ALIVE) != MESH_OK) {
        g->stats.frames_dropped++;
    }
}

static bool
ingest_advert(gossip *g, const wire_envelope *envelope, const uint8_t *frame, uint32_t frame_size)
{
    if (frame_size > MEMBER_ADVERT_FRAME_MAX) {
        gossip_count_reject(g, GOSSIP_REJECT_OVERSIZE);
        return false;
    }
    member *m = signing_member(g, &envelope->signer);
    if (m == NULL) {
        return false;
    }
    // Fast path: the very advert we hold, found by its bytes.
    if (m->advert != 0 &&
        gossip_store_find(g->store, STORE_ADVERT, frame, frame_size) == m->advert) {
        g->stats.duplicates++;
        return false;
    }
    wire_advert advert;
    if (wire_advert_decode(envelope->body, envelope->body_size, &advert, NULL) != MESH_OK) {
        gossip_count_reject(g, GOSSIP_REJECT_MALFORMED);
        return false;
    }
    if (!mesh_node_id_equal(&advert.node_id, &envelope->signer)) {
        gossip_count_reject(g, GOSSIP_REJECT_MISMATCH);
        return false;
    }
    if (advert.sequence == m->sequence) {
        g->stats.duplicates++;
        return false;
    }
    if (advert.sequence < m->sequence) {
        gossip_count_reject(g, GOSSIP_REJECT_REPLAY);
        return false;
    }
    if (advert.timestamp_ns > g->now.realtime_ns + g->config.clock_skew_max_ns) {
        gossip_count_reject(g, GOSSIP_REJECT_FUTURE);
        return false;
    }
    // An advert much older than the refresh period is a replay of a member
    // long gone, not news.
    int64_t age_max_ns = 4 * (int64_t) g->config.advert_refresh_ns + g->config.clock_skew_max_ns;
    if (advert.timestamp_ns < g->now.realtime_ns - age_max_ns) {
        gossip_count_reject(g, GOSSIP_REJECT_REPLAY);
        return false;
    }
    const store_cert_info *cert = gossip_member_cert(g, m);
    if (cert->valid_until_ns <= g->now.realtime_ns) {
        gossip_count_reject(g, GOSSIP_REJECT_CERT_INVALID);
        return false;
    }
    if (mcrypto_verify_cached(g->config.verify_cache, cert->public_key, WIRE_TYPE_ADVERT,
                              envelope->body, envelope->body_size,
                              envelope->signature) != MESH_OK) {
        gossip_count_reject(g, GOSSIP_REJECT_BAD_SIGNATURE);
        return false;
    }
    if (m == &g->members[g->self_slot]) {
        // Our own advert from an earlier run, newer than what we hold.
        refute(g, advert.sequence);
        return false;
    }
    if (!gossip_member_set_advert(g, m, frame, frame_size, &advert)) {
        gossip_count_reject(g, GOSSIP_REJECT_FULL);
        return false;
    }
    // A newer advert is proof of life: it refutes a suspicion and brings a
    // member back from down; a leaving advert says goodbye.
    bool alive = advert.status == WIRE_ADVERT_ALIVE;
    g->stats.adverts_in++;
    gossip_set_state(g, m, alive ? GOSSIP_ALIVE : GOSSIP_LEFT);
    gossip_view_update(g, m, advert.sequence, alive);
    gossip_emit_event(g, GOSSIP_EVENT_ADVERT, m, m->state);
    return true;
}

/* Direct answers to accusers: at most ANSWERS_MAX per probe
 * interval, so that replayed notices cannot make this node send without
 * bound. */
static bool answer_budget_allows(gossip *g)
{
    if (g->now.monotonic_ns - g->answer_window_ns >= g->config.probe_interval_ns) {
        g->answer_window_ns = g->now.monotonic_ns;
        g->answer_count = 0;
    }
    return g->answer_count < ANSWERS_MAX;
}

static bool ingest_suspicion(gossip *g, const wire_envelope *envelope)
{
    member *accuser = signing_member(g, &envelope->signer);
    if (accuser == NULL) {
        return false;
    }
    wire_suspect suspect;
    if (wire_suspect_decode(envelope->body, envelope->body_size, &suspect, NULL) != MESH_OK) {
        gossip_count_reject(g, GOSSIP_REJECT_MALFORMED);
        return false;
    }
    if (suspect.at_ns > g->now.realtime_ns + g->config.clock_skew_max_ns) {
        gossip_count_reject(g, GOSSIP_REJECT_FUTURE);
        return false;
    }
    member *target = gossip_member_lookup(g, &suspect.target);
    bool about_self = target == &g->members[g->self_slot];
    bool stale = target != NULL && suspect.target_sequence < target->sequence;
    // An accusation of us that its accuser hands us itself (a notice): it
    // still holds us suspect, so it gets our advert straight back, even
    // when we refuted already; our pushes and anti-entropy may take longer
    // to reach it than its suspicion lasts.
    bool answer = about_self && g->fresh_from_set &&
                  mesh_node_id_equal(&g->fresh_from, &envelope->signer) && answer_budget_allows(g);
    // Cheap relevance checks before the signature: an accusation about an
    // unknown member, one already refuted (unless we answer it), or one
    // already counted changes nothing.
    if (target == NULL || (stale && !answer) ||
        (!about_self && target->state != GOSSIP_ALIVE && target->state != GOSSIP_SUSPECT)) {
        g->stats.duplicates++;
        return false;
    }
    if (!about_self && target->state == GOSSIP_SUSPECT) {
        uint32_t accuser_slot = (uint32_t) (accuser - g->members);
        for (uint32_t i = 0; i < target->accuser_count; i++) {
            if (target->accusers[i] == accuser_slot) {
                g->stats.duplicates++;
                return false;
            }
        }
        if (target->accuser_count == ACCUSERS_MAX) {
            g->stats.duplicates++;
            return false;
        }
    }
    if (mcrypto_verify_cached(g->config.verify_cache, gossip_member_cert(g, accuser)->public_key,
                              WIRE_TYPE_SUSPECT, envelope->body, envelope->body_size,
                              envelope->signature) != MESH_OK) {
        gossip_count_reject(g, GOSSIP_REJECT_BAD_SIGNATURE);
        return false;
    }
    if (about_self) {
        if (!stale) {
            // Lifeguard: being suspected hints that we may be the slow one.
            if (g->local_health < LOCAL_HEALTH_MAX) {
                g->local_health++;
            }
            refute(g, suspect.target_sequence);
        }
        if (answer && !g->leaving && g->started) {
            g->answer_count++;
            g->stats.refutation_answers++;
            gossip_send_own_advert(g, accuser);
        }
        return false;
    }
    if (target->state == GOSSIP_ALIVE) {
        gossip_set_state(g, target, GOSSIP_SUSPECT);
        target->suspicion_started_ns = g->now.monotonic_ns;
        target->accuser_count = 0;
        // Check for ourselves at once: a live target answers and is told to
        // refute; a dead one gets an independent accusation within one
        // probe, which shortens everyone's suspicion (Lifeguard's
        // confirmations) instead of waiting for round-robin probes.
        if (!mesh_node_id_equal(&accuser->id, &g->self_id)) {
            gossip_verify_start(g, target);
        }
    }
    target->accusers[target->accuser_count++] = (uint32_t) (accuser - g->members);
    target->suspicion_deadline_ns =
        target->suspicion_started_ns + gossip_suspicion_timeout_ns(g, target->accuser_count);
    gossip_suspicion_deadline_set(g, target);
    return true;
}

static bool ingest_revocation(gossip *g, const uint8_t *frame, uint32_t frame_size)
{
    if (frame_size > REVOCATION_FRAME_MAX) {
        gossip_count_reject(g, GOSSIP_REJECT_OVERSIZE);
        return false;
    }
    wire_revocation revocation;
    mesh_err err = mcrypto_revocation_check_cached(
        g->config.verify_cache, g->config.root_public_key, frame, frame_size, &revocation);
    if (err != MESH_OK) {
        gossip_count_reject(g, err == MESH_EAUTH ? GOSSIP_REJECT_BAD_SIGNATURE
                                                 : GOSSIP_REJECT_MALFORMED);
        return false;
    }
    mesh_node_id id;
    mcrypto_node_id(revocation.public_key, &id);
    if (gossip_is_revoked(g, &id)) {
        g->stats.duplicates++;
        return false;
    }
    if (g->revocation_count == g->config.revocations_max) {
        gossip_count_reject(g, GOSSIP_REJECT_FULL);
        return false;
    }
    uint32_t at = 0;
    while (at < g->revocation_count && mesh_node_id_compare(&g->revocations[at].id, &id) < 0) {
        at++;
    }
    memmove(&g->revocations[at + 1], &g->revocations[at],
            (g->revocation_count - at) * sizeof(revocation_entry));
    revocation_entry *entry = &g->revocations[at];
    memset(entry, 0, sizeof(*entry));
    entry->id = id;
    entry->revocation = revocation;
    memcpy(entry->frame, frame, frame_size);
    entry->frame_size = frame_size;
    g->revocation_count++;
    g->stats.revocation_updates++;

    member *m = gossip_member_lookup(g, &id);
    // The endpoint it advertised: seeds pointing there are not dialled,
    // and a frame it still sends can be answered with this revocation.
    if (m != NULL && m != &g->members[g->self_slot]) {
        (void) gossip_member_endpoint(g, m, entry->endpoint);
    }
    if (m == &g->members[g->self_slot]) {
        // This node was revoked: it goes quiet, and says so in its state.
        g->self_revoked = true;
        gossip_set_state(g, m, GOSSIP_REVOKED);
    } else if (m != NULL) {
        gossip_set_state(g, m, GOSSIP_REVOKED);
        gossip_store_release(g->store, STORE_ADVERT, m->advert);
        m->advert = 0;
    }
    return true;
}

bool gossip_ingest_record(gossip *g, const uint8_t *frame, uint32_t frame_size)
{
    MESH_ASSERT(g != NULL && frame != NULL);
    if (frame_size > WIRE_RECORD_SIZE_MAX) {
        gossip_count_reject(g, GOSSIP_REJECT_OVERSIZE);
        return false;
    }
    wire_envelope envelope;
    if (wire_envelope_decode(frame, frame_size, &envelope, NULL) != MESH_OK) {
        gossip_count_reject(g, GOSSIP_REJECT_MALFORMED);
        return false;
    }
    switch (envelope.type) {
    case WIRE_TYPE_CERT:
        return ingest_cert(g, frame, frame_size);
    case WIRE_TYPE_ADVERT:
        return ingest_advert(g, &envelope, frame, frame_size);
    case WIRE_TYPE_SUSPECT:
        return ingest_suspicion(g, &envelope);
    case WIRE_TYPE_REVOCATION:
        return ingest_revocation(g, frame, frame_size);
    default:
        gossip_count_reject(g, GOSSIP_REJECT_UNEXPECTED);
        return false;
    }
}

mesh_err gossip_publish_advert(gossip *g, uint32_t status)
{
    MESH_ASSERT(status == WIRE_ADVERT_ALIVE || status == WIRE_ADVERT_LEAVING);
    member *self = &g->members[g->self_slot];
    wire_advert advert = g->config.advert;
    advert.node_id = g->self_id;
    uint64_t from_clock =
        g->now.realtime_ns > 0 ? (uint64_t) g->now.realtime_ns / MESH_NS_PER_US : 0;
    advert.sequence = self->sequence + 1 > from_clock ? self->sequence + 1 : from_clock;
    advert.timestamp_ns = g->now.realtime_ns > 0 ? g->now.realtime_ns : 1;
    advert.status = status;
    uint32_t body_size = 0;
    mesh_err err = wire_advert_encode(&advert, g->scratch, WIRE_FRAME_SIZE_MAX, &body_size);
    if (err != MESH_OK) {
        return err;
    }
    uint8_t frame[MEMBER_ADVERT_FRAME_MAX];
    uint32_t frame_size = 0;
    err = mcrypto_envelope_seal(&g->config.keypair, WIRE_TYPE_ADVERT, g->scratch, body_size, frame,
                                sizeof(frame), &frame_size);
    if (err != MESH_OK) {
        return err;
    }
    // An own advert superseded within this call is not pushed: its frame
    // is about to be let go, and the newer one says more.
    uint32_t old_size = 0;
    const uint8_t *old = gossip_member_frame(g, self, STORE_ADVERT, &old_size);
    for (uint32_t i = 0; old != NULL && i < g->fresh_count; i++) {
        if (g->fresh[i].frame == old) {
            g->fresh[i] = g->fresh[--g->fresh_count];
            break;
        }
    }
    if (!gossip_member_set_advert(g, self, frame, frame_size, &advert)) {
        return MESH_EFULL; // never with our own store: it has a spare slot
    }
    gossip_view_update(g, self, advert.sequence, status == WIRE_ADVERT_ALIVE);
    // Up to 10 % early, at random: members started together must not all
    // re-sign, and flood the federation, at the same moment.
    g->next_refresh_ns = g->now.monotonic_ns + g->config.advert_refresh_ns -
                         mesh_rng_below(g->rng, g->config.advert_refresh_ns / 10 + 1);
    gossip_emit_event(g, GOSSIP_EVENT_ADVERT, self, self->state);
    uint32_t stored_size = 0;
    const uint8_t *stored = gossip_member_frame(g, self, STORE_ADVERT, &stored_size);
    gossip_add_fresh(g, stored, stored_size);
    return MESH_OK;
}

const uint8_t *gossip_make_suspicion(gossip *g, const member *target, uint32_t *frame_size_out)
{
    MESH_ASSERT(target != NULL && frame_size_out != NULL);
    if (g->suspect_frame_count == FRESH_MAX) {
        return NULL;
    }
    wire_suspect suspect;
    memset(&suspect, 0, sizeof(suspect));
    suspect.target = target->id;
    suspect.target_sequence = target->sequence;
    suspect.at_ns = g->now.realtime_ns > 0 ? g->now.realtime_ns : 1;
    uint32_t body_size = 0;
    uint8_t *frame = g->suspect_frames[g->suspect_frame_count];
    if (wire_suspect_encode(&suspect, g->scratch, WIRE_FRAME_SIZE_MAX, &body_size) != MESH_OK ||
        mcrypto_envelope_seal(&g->config.keypair, WIRE_TYPE_SUSPECT, g->scratch, body_size, frame,
                              SUSPECT_FRAME_MAX, frame_size_out) != MESH_OK) {
        return NULL;
    }
    g->suspect_frame_count++;
    return frame;
}

mesh_err gossip_publish_suspicion(gossip *g, member *target)
{
    MESH_ASSERT(target != NULL && target != &g->members[g->self_slot]);
    uint32_t frame_size = 0;
    const uint8_t *frame = gossip_make_suspicion(g, target, &frame_size);
    if (frame == NULL) {
        return MESH_EFULL;
    }
    // Count our own accusation as a confirmation, as every receiver will.
    if (gossip_ingest_record(g, frame, frame_size)) {
        g->stats.suspicions_raised++;
        gossip_add_fresh(g, frame, frame_size);
    }
    return MESH_OK;
}
