/*
 * gossip/gossip_protocol.c: how news travels: probes (SWIM with
 * Lifeguard's local health), anti-entropy with paged digests, pushes of
 * fresh records, joining through seeds, and the timers that drive them.
 *
 * Control messages (PING, ACK, PING_REQ, DIGEST, PULL) go between two
 * members only and carry a MAC under their pair key, derived once per
 * pair. PUSH carries signed records that authenticate themselves, and is
 * how a newcomer introduces itself before anyone holds its key, so its
 * MAC field is zero and never checked.
 *
 * Every frame built during a call goes into the out arena, whose size
 * bounds the call's output together with SENDS_PER_CALL_MAX; what does
 * not fit is counted in frames_dropped, and the next anti-entropy
 * exchange repairs it.
 *
 * Round trips: every PING this node sends straight to a member (its
 * probes, verifications, re-probes of down members, and the pings it
 * relays for others) notes when it left, and the first ACK that the
 * member itself sends back with that nonce is a sample of the round trip
 * to it (gossip_member_info.rtt_us). An ACK relayed by a ping-req helper
 * is no sample: it crossed two more links. Measuring only reads what the
 * protocol does already: it sends nothing and decides nothing.
 */
#include <string.h>

#include <sodium.h>

#include "gossip/gossip_int.h"

static bool probeable(const gossip *g, const member *m)
{
    return m != &g->members[g->self_slot] && m->sequence > 0 &&
           (m->state == GOSSIP_ALIVE || m->state == GOSSIP_SUSPECT);
}

bool gossip_member_endpoint(const gossip *g, const member *m, char *endpoint_out)
{
    MESH_ASSERT(g != NULL && m != NULL && endpoint_out != NULL);
    if (m->advert == 0) {
        return false;
    }
    const store_advert_info *info = gossip_store_advert(g->store, m->advert);
    memcpy(endpoint_out, info->endpoint, sizeof(info->endpoint));
    return true;
}

/* Reserves room in the out arena and a SEND item; false (counted) when
 * this call has used its output budget. */
static uint8_t *out_reserve(gossip *g, uint32_t size)
{
    if (g->sends == SENDS_PER_CALL_MAX || OUT_ARENA_SIZE - g->out_used < size) {
        g->stats.frames_dropped++;
        return NULL;
    }
    return g->out_arena + g->out_used;
}

static bool seed_is_alive_member(const gossip *g, const char *endpoint);

/* True when a send must not leave: to a revoked member, or anonymous (a
 * seed) to the endpoint a revoked key last advertised while no live
 * member advertises it. The one exception is the revocation itself, sent
 * back to the revoked key (gossip_tell_revoked). */
static bool send_refused_revoked(const gossip *g, const member *to, const char *endpoint)
{
    MESH_ASSERT(endpoint != NULL);
    MESH_ASSERT(g->revocation_count <= g->config.revocations_max);
    if (g->telling_revoked || g->revocation_count == 0) {
        return false;
    }
    if (to != NULL) {
        return gossip_is_revoked(g, &to->id);
    }
    for (uint32_t i = 0; i < g->revocation_count; i++) {
        const revocation_entry *r = &g->revocations[i];
        if (r->endpoint[0] != '\0' && strcmp(r->endpoint, endpoint) == 0) {
            return !seed_is_alive_member(g, endpoint);
        }
    }
    return false;
}

/* Appends the endpoint after a frame in the arena and queues the SEND. */
static void out_commit(gossip *g, const member *to, const char *endpoint, uint32_t frame_size)
{
    if (send_refused_revoked(g, to, endpoint)) {
        g->stats.sends_refused_revoked++; // the frame's room in the arena is reused
        return;
    }
    size_t endpoint_length = strlen(endpoint);
    MESH_ASSERT(g->out_used + frame_size + endpoint_length + 1 <= OUT_ARENA_SIZE);
    uint8_t *frame = g->out_arena + g->out_used;
    char *endpoint_copy = (char *) frame + frame_size;
    memcpy(endpoint_copy, endpoint, endpoint_length + 1);
    g->out_used += frame_size + (uint32_t) endpoint_length + 1;
    mesh_output output;
    memset(&output, 0, sizeof(output));
    output.kind = MESH_OUTPUT_SEND;
    if (to != NULL) {
        output.peer = to->id;
    }
    output.endpoint = endpoint_copy;
    output.payload = frame;
    output.payload_size = frame_size;
    MESH_ASSERT(mesh_outbox_push(g->outbox, &output) == MESH_OK);
    g->sends++;
    g->stats.frames_out++;
    g->stats.bytes_out += frame_size;
}

bool gossip_pair_key(gossip *g, const member *m, uint8_t key_out[MCRYPTO_PAIR_KEY_SIZE])
{
    const store_cert_info *cert = gossip_member_cert(g, m);
    return cert->curve_valid &&
           mcrypto_pair_key_cached(g->pair_cache, g->config.keypair.public_key, g->curve_secret,
                                   cert->public_key, cert->curve_public, key_out) == MESH_OK;
}

uint32_t gossip_rtt_smooth(uint32_t rtt_x8_us, uint64_t sample_ns)
{
    uint64_t sample_us = sample_ns / MESH_NS_PER_US;
    sample_us = sample_us < 1 ? 1 : sample_us;
    sample_us = sample_us > UINT32_MAX / 8 ? UINT32_MAX / 8 : sample_us;
    if (rtt_x8_us == 0) {
        return (uint32_t) (sample_us * 8);
    }
    // srtt += (sample - srtt) / 8, on 8 * srtt: x8 += sample - x8 / 8.
    // With sample >= 1 and x8 >= 8 the result stays >= 8 (reads >= 1 us).
    uint64_t next = (uint64_t) rtt_x8_us - rtt_x8_us / 8 + sample_us;
    next = next > UINT32_MAX ? UINT32_MAX : next;
    MESH_ASSERT(next >= 8);
    return (uint32_t) next;
}

/* A round trip to m, measured by our own ping to it, sent at sent_ns. */
static void rtt_sample(gossip *g, const member *m, uint64_t sent_ns)
{
    MESH_ASSERT(sent_ns <= g->now.monotonic_ns);
    uint32_t slot = (uint32_t) (m - g->members);
    MESH_ASSERT(slot < g->config.members_max);
    MESH_ASSERT(slot != g->self_slot);
    g->rtt_x8_us[slot] = gossip_rtt_smooth(g->rtt_x8_us[slot], g->now.monotonic_ns - sent_ns);
}

/* Sends a MAC'd control message whose body is in g->scratch. */
static void send_control(gossip *g, member *to, wire_type type, uint32_t body_size)
{
    char endpoint[WIRE_ENDPOINT_SIZE_MAX + 1];
    uint8_t key[MCRYPTO_PAIR_KEY_SIZE];
    if (!gossip_member_endpoint(g, to, endpoint) || !gossip_pair_key(g, to, key)) {
        return;
    }
    uint32_t need = body_size + WIRE_ENVELOPE_OVERHEAD_MAX + (uint32_t) strlen(endpoint) + 1;
    uint8_t *frame = out_reserve(g, need);
    if (frame == NULL) {
        return;
    }
    uint32_t frame_size = 0;
    mesh_err err = mcrypto_envelope_seal_mac_memo(
        g->config.mac_memo, &g->self_id, key, type, g->scratch, body_size, frame,
        need - (uint32_t) strlen(endpoint) - 1, &frame_size);
    sodium_memzero(key, sizeof(key));
    if (MESH_NEVER(err != MESH_OK)) {
        return;
    }
    out_commit(g, to, endpoint, frame_size);
}

static void send_ping(gossip *g, member *to, wire_type type, uint64_t nonce)
{
    wire_ping ping;
    memset(&ping, 0, sizeof(ping));
    ping.nonce = nonce;
    gossip_view_hash(g, ping.view_hash);
    uint32_t body_size = 0;
    if (MESH_NEVER(wire_ping_encode(&ping, g->scratch, WIRE_FRAME_SIZE_MAX, &body_size) !=
                   MESH_OK)) {
        return;
    }
    send_control(g, to, type, body_size);
}

/* A batch of records for one destination, sent as one or more PUSH
 * frames. */
typedef struct push_batch {
    const member *to;
    const char *endpoint;
    uint32_t count;
    uint32_t bytes;
    wire_record records[WIRE_PUSH_RECORDS_MAX];
} push_batch;

static void batch_init(push_batch *batch, const member *to, const char *endpoint)
{
    MESH_ASSERT(batch != NULL && endpoint != NULL);
    batch->to = to;
    batch->endpoint = endpoint;
    batch->count = 0;
    batch->bytes = 0;
}

static void batch_flush(gossip *g, push_batch *batch)
{
    if (batch->count == 0) {
        return;
    }
    wire_push *push = &g->push;
    push->record_count = batch->count;
    memcpy(push->records, batch->records, batch->count * sizeof(wire_record));
    batch->count = 0;
    batch->bytes = 0;
    uint32_t body_size = 0;
    if (MESH_NEVER(wire_push_encode(push, g->scratch, WIRE_FRAME_SIZE_MAX, &body_size) !=
                   MESH_OK)) {
        return;
    }
    size_t endpoint_length = strlen(batch->endpoint);
    uint32_t need = body_size + WIRE_ENVELOPE_OVERHEAD_MAX + (uint32_t) endpoint_length + 1;
    uint8_t *frame = out_reserve(g, need);
    if (frame == NULL) {
        return;
    }
    wire_envelope envelope;
    memset(&envelope, 0, sizeof(envelope));
    envelope.version = WIRE_VERSION;
    envelope.type = WIRE_TYPE_PUSH;
    envelope.signer = g->self_id;
    envelope.body = g->scratch;
    envelope.body_size = body_size;
    uint32_t frame_size = 0;
    if (MESH_NEVER(wire_envelope_encode(&envelope, frame, need - (uint32_t) endpoint_length - 1,
                                        &frame_size) != MESH_OK)) {
        return;
    }
    out_commit(g, batch->to, batch->endpoint, frame_size);
}

static void batch_add(gossip *g, push_batch *batch, const uint8_t *frame, uint32_t size)
{
    if (size == 0) {
        return;
    }
    // Room for the record, its bin header and the array header.
    uint32_t cost = size + 8;
    if (batch->count == WIRE_PUSH_RECORDS_MAX ||
        batch->bytes + cost + 16 > WIRE_BODY_SIZE_MAX - 64) {
        batch_flush(g, batch);
    }
    batch->records[batch->count].frame = frame;
    batch->records[batch->count].frame_size = size;
    batch->count++;
    batch->bytes += cost;
}

static void batch_add_member(gossip *g, push_batch *batch, const member *m, bool with_cert)
{
    uint32_t size = 0;
    const uint8_t *frame = NULL;
    if (with_cert) {
        frame = gossip_member_frame(g, m, STORE_CERT, &size);
        batch_add(g, batch, frame, size);
    }
    frame = gossip_member_frame(g, m, STORE_ADVERT, &size);
    batch_add(g, batch, frame, size);
    g->stats.adverts_out += size > 0;
}

void gossip_send_introduction(gossip *g, const member *to, const char *endpoint)
{
    const member *self = &g->members[g->self_slot];
    push_batch batch;
    batch_init(&batch, to, endpoint);
    batch_add_member(g, &batch, self, true);
    batch_flush(g, &batch);
}

/* The endpoint a revoked key advertises in the push it sent, when the
 * push holds its advert signed by the key the revocation names. Only an
 * unknown endpoint is filled in: once known, what the (perhaps leaked)
 * key says later cannot move it, so it cannot point members' refusals at
 * another member's endpoint. */
static void learn_revoked_endpoint(gossip *g, revocation_entry *r, const wire_envelope *envelope)
{
    MESH_ASSERT(r->endpoint[0] == '\0');
    wire_push *push = &g->push;
    if (wire_push_decode(envelope->body, envelope->body_size, push, NULL) != MESH_OK) {
        return;
    }
    MESH_ASSERT(push->record_count <= WIRE_PUSH_RECORDS_MAX);
    for (uint32_t i = 0; i < push->record_count; i++) {
        wire_envelope record;
        wire_advert advert;
        if (mcrypto_envelope_open(r->revocation.public_key, WIRE_TYPE_ADVERT,
                                  push->records[i].frame, push->records[i].frame_size, &record,
                                  NULL) != MESH_OK ||
            wire_advert_decode(record.body, record.body_size, &advert, NULL) != MESH_OK ||
            !mesh_node_id_equal(&advert.node_id, &r->id)) {
            continue;
        }
        MESH_ASSERT(strlen(advert.endpoint) <= WIRE_ENDPOINT_SIZE_MAX);
        if (advert.endpoint[0] != '\0') {
            memcpy(r->endpoint, advert.endpoint, sizeof(r->endpoint));
            g->stats.revocation_updates++;
        }
        return;
    }
}

void gossip_tell_revoked(gossip *g, const wire_envelope *envelope)
{
    MESH_ASSERT(g != NULL && envelope != NULL);
    revocation_entry *r = gossip_revocation_find(g, &envelope->signer);
    if (MESH_NEVER(r == NULL)) {
        return;
    }
    // At most one attempt per interval per revoked key, successful or not:
    // a revoked key flooding this node costs a lookup per frame, never a
    // signature check or an answer per frame.
    uint64_t now = g->now.monotonic_ns;
    if (r->told && now - r->told_ns < GOSSIP_TELL_REVOKED_INTERVAL_NS) {
        return;
    }
    r->told = true;
    r->told_ns = now;
    if (r->endpoint[0] == '\0' && envelope->type == WIRE_TYPE_PUSH) {
        learn_revoked_endpoint(g, r, envelope);
    }
    if (r->endpoint[0] == '\0') {
        return; // nowhere to answer yet
    }
    push_batch batch;
    batch_init(&batch, NULL, r->endpoint);
    batch_add(g, &batch, r->frame, r->frame_size);
    g->telling_revoked = true;
    uint64_t sent_before = g->stats.frames_out;
    batch_flush(g, &batch);
    g->telling_revoked = false;
    g->stats.revoked_told += g->stats.frames_out - sent_before;
}

void gossip_send_own_advert(gossip *g, const member *to)
{
    char endpoint[WIRE_ENDPOINT_SIZE_MAX + 1];
    if (!gossip_member_endpoint(g, to, endpoint)) {
        return;
    }
    push_batch batch;
    batch_init(&batch, to, endpoint);
    batch_add_member(g, &batch, &g->members[g->self_slot], false);
    batch_flush(g, &batch);
}

/* Picks up to count_max distinct members that probeable() accepts, other
 * than `except`, uniformly at random. */
static uint32_t
pick_random(gossip *g, const mesh_node_id *except, uint32_t count_max, member **picked)
{
    uint32_t count = 0;
    // Bounded tries: in a view of mostly dead members we may pick fewer.
    for (uint32_t attempt = 0; attempt < 8 * count_max + 8 && count < count_max; attempt++) {
        uint32_t index = (uint32_t) mesh_rng_below(g->rng, g->member_count);
        member *m = &g->members[gossip_order_slot_at(g, index)];
        if (!probeable(g, m) || (except != NULL && mesh_node_id_equal(&m->id, except))) {
            continue;
        }
        bool duplicate = false;
        for (uint32_t i = 0; i < count; i++) {
            duplicate = duplicate || picked[i] == m;
        }
        if (!duplicate) {
            picked[count++] = m;
        }
    }
    return count;
}

void gossip_flush_fresh(gossip *g)
{
    if (g->fresh_count == 0 || g->self_revoked) {
        return;
    }
    member *targets[16];
    uint32_t fanout = g->config.fanout;
    MESH_ASSERT(fanout <= MESH_ARRAY_COUNT(targets));
    // A suspicion goes to twice as many members. It is not in the view
    // hash, so anti-entropy never repairs a member it missed; that member
    // would start its own timer only when later accusations reach it, and
    // declare the member down a probe round after everyone else. Suspicions
    // are rare and small: the extra pushes cost little.
    for (uint32_t i = 0; i < g->fresh_count; i++) {
        wire_envelope envelope;
        if (wire_envelope_decode(g->fresh[i].frame, g->fresh[i].frame_size, &envelope, NULL) ==
                MESH_OK &&
            envelope.type == WIRE_TYPE_SUSPECT) {
            uint32_t targets_max = (uint32_t) MESH_ARRAY_COUNT(targets);
            fanout = fanout > targets_max / 2 ? targets_max : 2 * fanout;
            break;
        }
    }
    uint32_t count = pick_random(g, g->fresh_from_set ? &g->fresh_from : NULL, fanout, targets);
    for (uint32_t t = 0; t < count; t++) {
        char endpoint[WIRE_ENDPOINT_SIZE_MAX + 1];
        if (!gossip_member_endpoint(g, targets[t], endpoint)) {
            continue;
        }
        push_batch batch;
        batch_init(&batch, targets[t], endpoint);
        for (uint32_t i = 0; i < g->fresh_count; i++) {
            batch_add(g, &batch, g->fresh[i].frame, g->fresh[i].frame_size);
        }
        batch_flush(g, &batch);
    }
    g->fresh_count = 0;
}

/* Tells a member we hold as suspect or down that we do, with a signed
 * suspicion of it: a live member refutes with a newer advert, which clears
 * the suspicion, or brings it back, in every view. SWIM sends suspicions
 * to their target for the same reason: a suspicion that never reaches its
 * target cannot be refuted, and turns into a false "down" under loss.
 * Rate-limited to once per probe interval per member. */
static void send_state_notice(gossip *g, member *m)
{
    if ((m->state != GOSSIP_DOWN && m->state != GOSSIP_SUSPECT) ||
        (m->notice_sent_ns != 0 &&
         g->now.monotonic_ns - m->notice_sent_ns < g->config.probe_interval_ns)) {
        return;
    }
    char endpoint[WIRE_ENDPOINT_SIZE_MAX + 1];
    if (!gossip_member_endpoint(g, m, endpoint)) {
        return;
    }
    uint32_t frame_size = 0;
    const uint8_t *frame = gossip_make_suspicion(g, m, &frame_size);
    if (frame == NULL) {
        return;
    }
    m->notice_sent_ns = g->now.monotonic_ns;
    push_batch batch;
    batch_init(&batch, m, endpoint);
    batch_add(g, &batch, frame, frame_size);
    batch_flush(g, &batch);
}

/* Digest pages: the id space cut by the ids' first two bytes. */
static uint32_t page_prefix_low(uint32_t page, uint32_t page_count)
{
    return (uint32_t) (((uint64_t) page * 65536u) / page_count);
}

static uint32_t id_prefix(const mesh_node_id *id)
{
    return ((uint32_t) id->bytes[0] << 8) | id->bytes[1];
}

/* The index position of the first member whose prefix is >= prefix. */
static uint32_t order_from_prefix(const gossip *g, uint32_t prefix)
{
    MESH_ASSERT(prefix <= UINT16_MAX);
    mesh_node_id low;
    memset(&low, 0, sizeof(low));
    low.bytes[0] = (uint8_t) (prefix >> 8);
    low.bytes[1] = (uint8_t) prefix;
    return gossip_order_lower_bound(g, &low);
}

static uint32_t view_page_count(const gossip *g)
{
    uint32_t pages = (g->member_count + DIGEST_ENTRIES_TARGET - 1) / DIGEST_ENTRIES_TARGET;
    if (pages < 1) {
        pages = 1;
    }
    return pages > WIRE_DIGEST_PAGES_MAX ? WIRE_DIGEST_PAGES_MAX : pages;
}

static void
send_digest_page(gossip *g, member *to, uint32_t page, uint32_t page_count, uint32_t reply)
{
    wire_digest *digest = g->digest_out;
    memset(digest->view_hash, 0, sizeof(digest->view_hash));
    gossip_view_hash(g, digest->view_hash);
    digest->page = page;
    digest->page_count = page_count;
    digest->reply = reply;
    digest->entry_count = 0;
    uint32_t high = page_prefix_low(page + 1, page_count);
    uint32_t first = order_from_prefix(g, page_prefix_low(page, page_count));
    gossip_order_iter iter;
    gossip_order_seek(g, first, &iter);
    for (uint32_t i = first; i < g->member_count && digest->entry_count < WIRE_DIGEST_ENTRIES_MAX;
         i++) {
        const member *m = &g->members[gossip_order_slot_follow(g, &iter, i)];
        if (id_prefix(&m->id) >= high) {
            break;
        }
        if (m->in_view) {
            digest->entries[digest->entry_count].id = m->id;
            digest->entries[digest->entry_count].sequence = m->sequence;
            digest->entry_count++;
        }
    }
    uint32_t body_size = 0;
    if (MESH_NEVER(wire_digest_encode(digest, g->scratch, WIRE_FRAME_SIZE_MAX, &body_size) !=
                   MESH_OK)) {
        return;
    }
    send_control(g, to, WIRE_TYPE_DIGEST, body_size);
}

/* Starts push-pull anti-entropy with a member whose view hash differs. */
static void maybe_exchange(gossip *g, member *with, const uint8_t *their_hash)
{
    uint8_t mine[WIRE_VIEW_HASH_SIZE];
    gossip_view_hash(g, mine);
    if (memcmp(mine, their_hash, WIRE_VIEW_HASH_SIZE) == 0 ||
        (with->exchange_ns != 0 &&
         g->now.monotonic_ns - with->exchange_ns < g->config.probe_interval_ns)) {
        return;
    }
    with->exchange_ns = g->now.monotonic_ns;
    g->stats.anti_entropy_rounds++;
    uint32_t page_count = view_page_count(g);
    uint32_t pages = g->config.digest_pages_per_round;
    if (pages > page_count) {
        pages = page_count;
    }
    uint32_t first = (uint32_t) mesh_rng_below(g->rng, page_count);
    for (uint32_t i = 0; i < pages; i++) {
        send_digest_page(g, with, (first + i) % page_count, page_count, 1);
    }
}

static void pull_flush(gossip *g, member *to)
{
    if (g->pull.id_count == 0) {
        return;
    }
    uint32_t body_size = 0;
    if (MESH_NEVER(wire_pull_encode(&g->pull, g->scratch, WIRE_FRAME_SIZE_MAX, &body_size) !=
                   MESH_OK)) {
        return;
    }
    g->pull.id_count = 0;
    send_control(g, to, WIRE_TYPE_PULL, body_size);
}

static void pull_add(gossip *g, member *to, const mesh_node_id *id)
{
    if (g->pull.id_count == WIRE_PULL_IDS_MAX) {
        pull_flush(g, to);
    }
    g->pull.ids[g->pull.id_count++] = *id;
}

static const revocation_entry *find_revocation(const gossip *g, const mesh_node_id *id)
{
    for (uint32_t i = 0; i < g->revocation_count; i++) {
        if (mesh_node_id_equal(&g->revocations[i].id, id)) {
            return &g->revocations[i];
        }
    }
    return NULL;
}

/* Merges one page of a peer's digest with ours: push what it lacks, pull
 * what we lack, tell it about revocations it has not heard of. */
static void handle_digest(gossip *g, member *from, const wire_digest *digest)
{
    char endpoint[WIRE_ENDPOINT_SIZE_MAX + 1];
    if (!gossip_member_endpoint(g, from, endpoint)) {
        return;
    }
    push_batch batch;
    batch_init(&batch, from, endpoint);
    g->pull.id_count = 0;
    uint32_t high = page_prefix_low(digest->page + 1, digest->page_count);
    uint32_t mine = order_from_prefix(g, page_prefix_low(digest->page, digest->page_count));
    uint32_t theirs = 0;
    gossip_order_iter iter; // the walk only moves forward: O(1) a step
    gossip_order_seek(g, mine, &iter);
    for (;;) {
        member *m = NULL;
        while (mine < g->member_count) {
            m = &g->members[gossip_order_slot_follow(g, &iter, mine)];
            if (id_prefix(&m->id) >= high || m->in_view) {
                break;
            }
            mine++;
        }
        if (mine < g->member_count && id_prefix(&m->id) >= high) {
            mine = g->member_count; // past the page
        }
        bool have_mine = mine < g->member_count;
        bool have_theirs = theirs < digest->entry_count;
        if (!have_mine && !have_theirs) {
            break;
        }
        const wire_digest_entry *entry = have_theirs ? &digest->entries[theirs] : NULL;
        int c = !have_mine ? 1 : !have_theirs ? -1 : mesh_node_id_compare(&m->id, &entry->id);
        if (c < 0) {
            batch_add_member(g, &batch, m, true); // they lack it
            mine++;
        } else if (c > 0) {
            const revocation_entry *r = find_revocation(g, &entry->id);
            const member *known = gossip_member_lookup(g, &entry->id);
            if (r != NULL) {
                batch_add(g, &batch, r->frame, r->frame_size);
            } else if (known == NULL || known->sequence < entry->sequence) {
                pull_add(g, from, &entry->id);
            } else if (known->state == GOSSIP_DOWN) {
                // They hold alive a member we declared down at an advert
                // no older than theirs: a node that missed the suspicion would otherwise
                // never learn it (down members are not in digests). Our
                // signed suspicion makes it check for itself.
                uint32_t size = 0;
                const uint8_t *frame = gossip_make_suspicion(g, known, &size);
                if (frame != NULL) {
                    batch_add(g, &batch, frame, size);
                }
            }
            theirs++;
        } else {
            if (m->sequence > entry->sequence) {
                batch_add_member(g, &batch, m, false);
            } else if (m->sequence < entry->sequence) {
                pull_add(g, from, &entry->id);
            }
            mine++;
            theirs++;
        }
    }
    batch_flush(g, &batch);
    pull_flush(g, from);
    if (digest->reply != 0) {
        send_digest_page(g, from, digest->page, digest->page_count, 0);
    }
}

static void handle_pull(gossip *g, member *from, const wire_pull *pull)
{
    char endpoint[WIRE_ENDPOINT_SIZE_MAX + 1];
    if (!gossip_member_endpoint(g, from, endpoint)) {
        return;
    }
    push_batch batch;
    batch_init(&batch, from, endpoint);
    for (uint32_t i = 0; i < pull->id_count; i++) {
        const revocation_entry *r = find_revocation(g, &pull->ids[i]);
        const member *m = gossip_member_lookup(g, &pull->ids[i]);
        if (r != NULL) {
            batch_add(g, &batch, r->frame, r->frame_size);
        } else if (m != NULL && m->in_view) {
            batch_add_member(g, &batch, m, true);
        }
    }
    batch_flush(g, &batch);
}

/* An ack for one of our probes (the round-robin one or a verification).
 * From the target itself it answers our direct ping: a round-trip sample,
 * the first time only, since a copy the network duplicated or delayed
 * would measure that instead. From anyone else it is a helper relaying
 * the target's ack to our ping-req, over a longer path: no sample. */
static void probe_acked(gossip *g, probe *p, const member *from)
{
    MESH_ASSERT(p->active);
    p->acked = true;
    if (!p->rtt_sampled && mesh_node_id_equal(&from->id, &p->target)) {
        p->rtt_sampled = true;
        rtt_sample(g, from, p->sent_ns);
    }
}

static void handle_ack(gossip *g, member *from, const wire_ping *ack)
{
    probe *p = &g->probe;
    if (p->active && ack->nonce == p->nonce) {
        probe_acked(g, p, from);
        return;
    }
    if (g->verify.active && ack->nonce == g->verify.nonce) {
        probe_acked(g, &g->verify, from);
        return;
    }
    for (uint32_t i = 0; i < RELAYS_MAX; i++) {
        relay *r = &g->relays[i];
        if (r->active && r->nonce == ack->nonce && mesh_node_id_equal(&r->target, &from->id)) {
            r->active = false;
            rtt_sample(g, from, r->sent_ns); // our own ping, straight to the target
            member *origin = gossip_member_lookup(g, &r->origin);
            if (origin != NULL) {
                send_ping(g, origin, WIRE_TYPE_ACK, r->origin_nonce);
            }
            return;
        }
    }
    if (ack->nonce != g->reprobe_nonce) {
        gossip_count_reject(g, GOSSIP_REJECT_UNEXPECTED);
        return;
    }
    if (g->reprobe_pending && mesh_node_id_equal(&from->id, &g->reprobe_target)) {
        g->reprobe_pending = false;
        rtt_sample(g, from, g->reprobe_sent_ns);
    }
}

static void handle_ping_req(gossip *g, const member *from, const wire_ping_req *request)
{
    member *target = gossip_member_lookup(g, &request->target);
    if (target == NULL || !probeable(g, target)) {
        return;
    }
    for (uint32_t i = 0; i < RELAYS_MAX; i++) {
        relay *r = &g->relays[i];
        if (!r->active || r->deadline_ns <= g->now.monotonic_ns) {
            r->active = true;
            r->origin = from->id;
            r->origin_nonce = request->nonce;
            r->target = target->id;
            r->nonce = mesh_rng_next(g->rng);
            r->sent_ns = g->now.monotonic_ns;
            r->deadline_ns = g->now.monotonic_ns + g->config.probe_interval_ns;
            send_ping(g, target, WIRE_TYPE_PING, r->nonce);
            return;
        }
    }
    g->stats.frames_dropped++; // every relay slot busy: the origin asks others too
}

void gossip_handle_control(gossip *g,
                           const wire_envelope *envelope,
                           member *from,
                           uint32_t frame_size)
{
    MESH_ASSERT(wire_type_is_mac(envelope->type) && envelope->type != WIRE_TYPE_PUSH);
    uint8_t key[MCRYPTO_PAIR_KEY_SIZE];
    bool authentic =
        gossip_pair_key(g, from, key) &&
        mcrypto_mac_verify_memo(g->config.mac_memo, key, envelope->type, envelope->body,
                                envelope->body_size, envelope->signature) == MESH_OK;
    sodium_memzero(key, sizeof(key));
    if (!authentic) {
        gossip_count_reject(g, GOSSIP_REJECT_BAD_SIGNATURE);
        return;
    }
    // Only now is the sender known to be `from`: a forged frame in its
    // name must not spend its rate budget.
    if (!gossip_rate_allows(g, from, frame_size)) {
        gossip_count_reject(g, GOSSIP_REJECT_RATE);
        return;
    }
    // An authenticated word from a member we hold as suspect or down: tell
    // it, so that it refutes and stays, or comes back, in every view.
    send_state_notice(g, from);
    wire_ping ping;
    wire_ping_req ping_req;
    switch (envelope->type) {
    case WIRE_TYPE_PING:
        if (wire_ping_decode(envelope->body, envelope->body_size, &ping, NULL) != MESH_OK) {
            break;
        }
        send_ping(g, from, WIRE_TYPE_ACK, ping.nonce);
        maybe_exchange(g, from, ping.view_hash);
        return;
    case WIRE_TYPE_ACK:
        if (wire_ping_decode(envelope->body, envelope->body_size, &ping, NULL) != MESH_OK) {
            break;
        }
        handle_ack(g, from, &ping);
        maybe_exchange(g, from, ping.view_hash);
        return;
    case WIRE_TYPE_PING_REQ:
        if (wire_ping_req_decode(envelope->body, envelope->body_size, &ping_req, NULL) != MESH_OK) {
            break;
        }
        handle_ping_req(g, from, &ping_req);
        return;
    case WIRE_TYPE_DIGEST:
        if (wire_digest_decode(envelope->body, envelope->body_size, g->digest_in, NULL) !=
            MESH_OK) {
            break;
        }
        handle_digest(g, from, g->digest_in);
        return;
    case WIRE_TYPE_PULL:
        if (wire_pull_decode(envelope->body, envelope->body_size, &g->pull, NULL) != MESH_OK) {
            break;
        }
        handle_pull(g, from, &g->pull);
        return;
    default:
        gossip_count_reject(g, GOSSIP_REJECT_UNEXPECTED);
        return;
    }
    gossip_count_reject(g, GOSSIP_REJECT_MALFORMED);
}

/* True when a member alive in our view advertises this endpoint: that seed
 * and we are already in one federation, and knocking again would only
 * cost bytes. */
static bool seed_is_alive_member(const gossip *g, const char *endpoint)
{
    gossip_order_iter iter;
    gossip_order_seek(g, 0, &iter);
    for (uint32_t i = 0; i < g->member_count; i++) {
        const member *m = &g->members[gossip_order_slot_follow(g, &iter, i)];
        char advertised[WIRE_ENDPOINT_SIZE_MAX + 1];
        if (m->state == GOSSIP_ALIVE && probeable(g, m) &&
            gossip_member_endpoint(g, m, advertised) && strcmp(advertised, endpoint) == 0) {
            return true;
        }
    }
    return false;
}

/* Sends our certificate and advert to the seeds: all of them at the
 * start, and later only those not alive in our view (after a partition
 * long enough for both sides to forget each other, the seeds are how the
 * halves find each other again). */
static void join(gossip *g, bool all)
{
    const member *self = &g->members[g->self_slot];
    for (uint32_t i = 0; i < g->seed_count; i++) {
        if (strcmp(g->seeds[i], g->config.advert.endpoint) == 0 ||
            (!all && seed_is_alive_member(g, g->seeds[i]))) {
            continue;
        }
        push_batch batch;
        batch_init(&batch, NULL, g->seeds[i]);
        batch_add_member(g, &batch, self, true);
        batch_flush(g, &batch);
    }
}

static uint64_t health_scaled(const gossip *g, uint64_t duration_ns)
{
    return duration_ns + duration_ns * g->local_health;
}

/* Ends a probe. Only the round-robin probe moves local health: a
 * verification probe targets a member already suspected, so its failure
 * says nothing about this node's own health. */
static void probe_finish(gossip *g, probe *p, bool moves_health)
{
    p->active = false;
    if (p->acked) {
        if (moves_health && g->local_health > 0) {
            g->local_health--;
        }
        return;
    }
    g->stats.probes_failed++;
    if (moves_health && g->local_health < LOCAL_HEALTH_MAX) {
        g->local_health++;
    }
    member *target = gossip_member_lookup(g, &p->target);
    if (target != NULL && probeable(g, target)) {
        if (gossip_publish_suspicion(g, target) != MESH_OK) {
            g->stats.frames_dropped++;
        }
        send_state_notice(g, target);
    }
}

/* The next member after the cursor in id order that can be probed. */
static member *next_probe_target(gossip *g)
{
    if (g->member_count < 2) {
        return NULL;
    }
    // The first member after the cursor: the lower bound, past the cursor
    // itself when it is still a member.
    uint32_t start = gossip_order_lower_bound(g, &g->probe_cursor);
    if (start < g->member_count &&
        mesh_node_id_equal(&g->members[gossip_order_slot_at(g, start)].id, &g->probe_cursor)) {
        start++;
    }
    for (uint32_t step = 0; step < g->member_count; step++) {
        member *m = &g->members[gossip_order_slot_at(g, (start + step) % g->member_count)];
        if (probeable(g, m)) {
            return m;
        }
    }
    return NULL;
}

/* Once per probe interval: forget long-dead members, and ping one random
 * down member, so that a partition heals without waiting for seeds. */
static void sweep_down(gossip *g)
{
    if (g->gone_count == 0) {
        return;
    }
    uint32_t down_count = 0;
    for (uint32_t i = 0; i < g->member_count;) {
        member *m = &g->members[gossip_order_slot_at(g, i)];
        bool gone = m->state == GOSSIP_DOWN || m->state == GOSSIP_LEFT;
        if (gone && g->now.monotonic_ns - m->state_changed_ns >= g->config.down_forget_ns) {
            gossip_member_remove(g, m);
            continue; // the index shifted down
        }
        down_count += m->state == GOSSIP_DOWN && m->sequence > 0;
        i++;
    }
    if (down_count == 0) {
        return;
    }
    uint64_t pick = mesh_rng_below(g->rng, down_count);
    for (uint32_t i = 0; i < g->member_count; i++) {
        member *m = &g->members[gossip_order_slot_at(g, i)];
        if (m->state == GOSSIP_DOWN && m->sequence > 0 && pick-- == 0) {
            g->reprobe_nonce = mesh_rng_next(g->rng);
            g->reprobe_target = m->id;
            g->reprobe_sent_ns = g->now.monotonic_ns;
            g->reprobe_pending = true;
            send_ping(g, m, WIRE_TYPE_PING, g->reprobe_nonce);
            return;
        }
    }
}

static void probe_arm(gossip *g, probe *p, member *target)
{
    p->active = true;
    p->acked = false;
    p->indirect_sent = false;
    p->rtt_sampled = false;
    p->target = target->id;
    p->nonce = mesh_rng_next(g->rng);
    p->sent_ns = g->now.monotonic_ns;
    // The direct ping gets one timeout; the indirect pings get two more
    // (a relay's ping and its forwarded ack), capped by the interval. The
    // verdict does not wait for the end of the interval, so a longer
    // interval, which costs fewer bytes, delays detection less.
    uint64_t timeout_ns = health_scaled(g, g->config.probe_timeout_ns);
    uint64_t end_ns = 3 * timeout_ns;
    if (end_ns > health_scaled(g, g->config.probe_interval_ns)) {
        end_ns = health_scaled(g, g->config.probe_interval_ns);
    }
    p->direct_deadline_ns = g->now.monotonic_ns + timeout_ns;
    p->end_ns = g->now.monotonic_ns + end_ns;
    g->stats.probes_sent++;
    send_ping(g, target, WIRE_TYPE_PING, p->nonce);
}

static void probe_start(gossip *g)
{
    member *target = next_probe_target(g);
    sweep_down(g);
    if (target == NULL) {
        // Alone: knock on the seeds' doors every interval, not every
        // rejoin interval.
        join(g, true);
        return;
    }
    g->probe_cursor = target->id;
    probe_arm(g, &g->probe, target);
}

void gossip_verify_start(gossip *g, member *target)
{
    if (g->verify.active || !probeable(g, target) || g->leaving || !g->started) {
        return;
    }
    probe_arm(g, &g->verify, target);
}

static void probe_indirect(gossip *g, probe *p)
{
    p->indirect_sent = true;
    member *helpers[16];
    uint32_t count = pick_random(g, &p->target, g->config.indirect_probes, helpers);
    wire_ping_req request;
    memset(&request, 0, sizeof(request));
    request.nonce = p->nonce;
    request.target = p->target;
    uint32_t body_size = 0;
    if (MESH_NEVER(wire_ping_req_encode(&request, g->scratch, WIRE_FRAME_SIZE_MAX, &body_size) !=
                   MESH_OK)) {
        return;
    }
    for (uint32_t i = 0; i < count; i++) {
        // send_control reuses scratch only after sealing, so the body
        // survives for the next helper.
        send_control(g, helpers[i], WIRE_TYPE_PING_REQ, body_size);
    }
}

void gossip_run_timers(gossip *g)
{
    uint64_t now = g->now.monotonic_ns;
    // A node that holds its own revocation before its first tick (restored
    // from disk at a restart) never starts: no advert, no seeds.
    if (!g->started && !g->self_revoked) {
        g->started = true;
        if (gossip_publish_advert(g, WIRE_ADVERT_ALIVE) != MESH_OK) {
            g->stats.frames_dropped++;
        }
        join(g, true);
        // Spread the first probes over one interval so that nodes started
        // together do not probe in lockstep.
        g->next_probe_ns = now + mesh_rng_below(g->rng, g->config.probe_interval_ns) + 1;
        g->next_rejoin_ns = now + g->config.rejoin_interval_ns;
        return;
    }
    if (g->self_revoked || g->leaving) {
        g->next_probe_ns = UINT64_MAX;
        g->next_refresh_ns = UINT64_MAX;
        g->next_rejoin_ns = UINT64_MAX;
        g->probe.active = false;
        return;
    }
    if (now >= g->next_refresh_ns) {
        if (gossip_publish_advert(g, WIRE_ADVERT_ALIVE) != MESH_OK) {
            g->stats.frames_dropped++;
        }
    }
    probe *p = &g->probe;
    if (p->active && !p->acked && !p->indirect_sent && now >= p->direct_deadline_ns) {
        probe_indirect(g, p);
    }
    if (p->active && now >= p->end_ns) {
        probe_finish(g, p, true);
    }
    probe *v = &g->verify;
    if (v->active && !v->acked && !v->indirect_sent && now >= v->direct_deadline_ns) {
        probe_indirect(g, v);
    }
    if (v->active && now >= v->end_ns) {
        probe_finish(g, v, false);
    }
    if (!p->active && now >= g->next_probe_ns) {
        probe_start(g);
        g->next_probe_ns = now + health_scaled(g, g->config.probe_interval_ns);
    }
    // In id order (events come out in it), up to the last suspect; only
    // when one is due.
    uint32_t suspects = now >= g->suspicion_next_ns ? g->suspect_count : 0;
    gossip_order_iter iter; // state changes only: the index stays as it is
    gossip_order_seek(g, 0, &iter);
    for (uint32_t i = 0, seen = 0; seen < suspects && i < g->member_count; i++) {
        member *m = &g->members[gossip_order_slot_follow(g, &iter, i)];
        if (m->state == GOSSIP_SUSPECT) {
            seen++;
            if (now >= m->suspicion_deadline_ns) {
                gossip_set_state(g, m, GOSSIP_DOWN);
            }
        }
    }
    if (now >= g->next_rejoin_ns) {
        join(g, false);
        g->next_rejoin_ns = now + g->config.rejoin_interval_ns;
    }
}
