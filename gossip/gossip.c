/*
 * gossip/gossip.c: the machine's life cycle, its member table, the view
 * hash, queries and the public entry points. The protocol itself lives in
 * gossip_records.c (signed records: what is believed) and
 * gossip_protocol.c (probes, anti-entropy and sending: how news travels).
 *
 * The member table: members_max fixed slots (a member with room for its
 * certificate and advert frames), a hash index by id for lookups, and an
 * index of slot numbers in ascending id order (order.c: blocks, so that an
 * insert moves one block, not half the members). An insert moves index
 * entries, never member slots, so a slot pointer stays valid until its
 * member is removed. Iteration is always in
 * id order, so a run is a pure function of its inputs.
 *
 * Every entry point first checks that the caller's outbox has room for
 * GOSSIP_OUTBOX_MIN items: a call never fails half-way for lack of room.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gossip/gossip_int.h"

static const char *const state_names[] = {
    [0] = "unknown",        [GOSSIP_ALIVE] = "alive", [GOSSIP_SUSPECT] = "suspect",
    [GOSSIP_DOWN] = "down", [GOSSIP_LEFT] = "left",   [GOSSIP_REVOKED] = "revoked",
};

const char *gossip_state_name(gossip_state state)
{
    if ((unsigned) state >= MESH_ARRAY_COUNT(state_names)) {
        return "unknown";
    }
    return state_names[state];
}

static const char *const reject_names[GOSSIP_REJECT_COUNT] = {
    [GOSSIP_REJECT_MALFORMED] = "malformed",
    [GOSSIP_REJECT_BAD_SIGNATURE] = "bad_signature",
    [GOSSIP_REJECT_UNKNOWN_KEY] = "unknown_key",
    [GOSSIP_REJECT_REVOKED] = "revoked",
    [GOSSIP_REJECT_REPLAY] = "replay",
    [GOSSIP_REJECT_FUTURE] = "future_timestamp",
    [GOSSIP_REJECT_CERT_INVALID] = "cert_invalid",
    [GOSSIP_REJECT_FULL] = "full",
    [GOSSIP_REJECT_OVERSIZE] = "oversize",
    [GOSSIP_REJECT_RATE] = "rate_limited",
    [GOSSIP_REJECT_MISMATCH] = "mismatch",
    [GOSSIP_REJECT_UNEXPECTED] = "unexpected",
};

const char *gossip_reject_name(gossip_reject reject)
{
    if ((unsigned) reject >= GOSSIP_REJECT_COUNT) {
        return "unknown";
    }
    return reject_names[reject];
}

void gossip_config_default(gossip_config *config)
{
    MESH_ASSERT(config != NULL);
    memset(config, 0, sizeof(*config));
    config->members_max = 1024;
    config->revocations_max = 256;
    config->fanout = 5;
    config->indirect_probes = 3;
    config->digest_pages_per_round = 4;
    config->bytes_per_s_per_peer_max = (uint64_t) 1024 * 1024;
    config->probe_interval_ns = 1500 * MESH_NS_PER_MS;
    config->probe_timeout_ns = 300 * MESH_NS_PER_MS;
    config->suspicion_min_ns = 1000 * MESH_NS_PER_MS;
    config->suspicion_max_ns = 3000 * MESH_NS_PER_MS;
    config->advert_refresh_ns = 600 * MESH_NS_PER_S;
    config->rejoin_interval_ns = 30 * MESH_NS_PER_S;
    config->down_forget_ns = 3600 * MESH_NS_PER_S;
    config->clock_skew_max_ns = 60 * (int64_t) MESH_NS_PER_S;
}

static bool config_valid(const gossip_config *config)
{
    return config->members_max >= 2 && config->members_max <= 1000000 &&
           config->revocations_max >= 1 && config->revocations_max <= 100000 &&
           config->fanout >= 1 && config->fanout <= 16 && config->indirect_probes <= 16 &&
           config->digest_pages_per_round >= 1 &&
           config->digest_pages_per_round <= WIRE_DIGEST_PAGES_MAX &&
           config->bytes_per_s_per_peer_max >= WIRE_FRAME_SIZE_MAX &&
           config->bytes_per_s_per_peer_max <= UINT32_MAX &&
           config->probe_interval_ns >= MESH_NS_PER_MS &&
           config->probe_timeout_ns >= MESH_NS_PER_MS / 10 &&
           config->probe_timeout_ns < config->probe_interval_ns &&
           config->suspicion_min_ns >= 3 * config->probe_timeout_ns &&
           config->suspicion_max_ns >= config->suspicion_min_ns &&
           config->advert_refresh_ns >= config->probe_interval_ns &&
           config->rejoin_interval_ns >= config->probe_interval_ns &&
           config->down_forget_ns >= config->suspicion_max_ns && config->clock_skew_max_ns >= 0 &&
           config->seed_count <= GOSSIP_SEEDS_MAX &&
           (config->seed_count == 0 || config->seeds != NULL) && config->cert_frame != NULL &&
           config->cert_frame_size > 0 && config->cert_frame_size <= MEMBER_CERT_FRAME_MAX;
}

/* Our own pair-key cache: twice members_max slots, a power of two, so that
 * slot collisions are rare. */
static uint32_t pair_cache_slots(uint32_t members_max)
{
    uint32_t slots = 64;
    while (slots < 2 * members_max) {
        slots <<= 1;
    }
    return slots;
}

/* The advert content the config brings must pass the wire rules once the
 * machine fills in its own fields. */
static bool advert_content_valid(const gossip *g, const wire_advert *content)
{
    wire_advert probe_advert = *content;
    probe_advert.node_id = g->self_id;
    probe_advert.sequence = 1;
    probe_advert.timestamp_ns = 1;
    probe_advert.status = WIRE_ADVERT_ALIVE;
    uint32_t size = 0;
    return wire_advert_encode(&probe_advert, g->scratch, WIRE_FRAME_SIZE_MAX, &size) == MESH_OK &&
           size + WIRE_ENVELOPE_OVERHEAD_MAX <= MEMBER_ADVERT_FRAME_MAX;
}

mesh_err gossip_create(const gossip_config *config, mesh_now now, gossip **gossip_out)
{
    MESH_ASSERT(config != NULL);
    MESH_ASSERT(gossip_out != NULL);
    if (!config_valid(config)) {
        return MESH_EINVAL;
    }
    wire_cert cert;
    mcrypto_cert_status status = MCRYPTO_CERT_MALFORMED;
    if (mcrypto_cert_check(config->root_public_key, config->cert_frame, config->cert_frame_size,
                           now.realtime_ns, NULL, 0, &cert, &status) != MESH_OK ||
        sodium_memcmp(cert.public_key, config->keypair.public_key, MCRYPTO_PUBLIC_KEY_SIZE) != 0) {
        return MESH_EINVAL;
    }
    gossip *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        return MESH_ENOMEM;
    }
    g->config = *config;
    g->config.seeds = NULL;
    g->config.cert_frame = NULL;
    g->members = calloc(config->members_max, sizeof(member));
    g->rtt_x8_us = calloc(config->members_max, sizeof(uint32_t));
    uint32_t table_size = 64;
    while (table_size < 2 * config->members_max) {
        table_size <<= 1;
    }
    g->id_table = calloc(table_size, sizeof(uint32_t));
    g->id_table_mask = table_size - 1;
    g->free_slots = calloc(config->members_max, sizeof(uint32_t));
    g->revocations = calloc(config->revocations_max, sizeof(revocation_entry));
    g->out_arena = malloc(OUT_ARENA_SIZE);
    g->scratch = malloc(WIRE_FRAME_SIZE_MAX);
    g->digest_in = malloc(sizeof(wire_digest));
    g->digest_out = malloc(sizeof(wire_digest));
    if (g->members == NULL || g->rtt_x8_us == NULL || g->id_table == NULL ||
        g->free_slots == NULL || g->revocations == NULL || g->out_arena == NULL ||
        g->scratch == NULL || g->digest_in == NULL || g->digest_out == NULL) {
        gossip_destroy(g);
        return MESH_ENOMEM;
    }
    if (gossip_order_init(&g->order, config->members_max) != MESH_OK) {
        gossip_destroy(g);
        return MESH_ENOMEM;
    }
    g->store = config->store;
    g->pair_cache = config->pair_cache;
    // Our own store: room for every member's certificate and advert, and
    // one more of each, since a newer frame is stored before the older is
    // let go.
    if ((g->store == NULL && gossip_store_create(config->members_max + 1, config->members_max + 1,
                                                 &g->own_store) != MESH_OK) ||
        (g->pair_cache == NULL && mcrypto_pair_cache_create(pair_cache_slots(config->members_max),
                                                            &g->own_pair_cache) != MESH_OK)) {
        gossip_destroy(g);
        return MESH_ENOMEM;
    }
    g->store = g->store != NULL ? g->store : g->own_store;
    if (mcrypto_curve_secret(&config->keypair, g->curve_secret) != MESH_OK) {
        gossip_destroy(g);
        return MESH_EINVAL;
    }
    g->pair_cache = g->pair_cache != NULL ? g->pair_cache : g->own_pair_cache;
    for (uint32_t i = 0; i < config->members_max; i++) {
        g->free_slots[i] = config->members_max - 1 - i;
    }
    g->suspicion_next_ns = UINT64_MAX;
    g->suspect_list_valid = true;
    g->free_count = config->members_max;
    mcrypto_node_id(config->keypair.public_key, &g->self_id);
    // The id table's hash key: derived from our secret, so unknown to others.
    MESH_ASSERT(crypto_generichash(g->id_hash_key, sizeof(g->id_hash_key),
                                   config->keypair.secret_key, MCRYPTO_SEED_SIZE,
                                   (const uint8_t *) "fedmesh/v1/id-table", 19) == 0);
    if (!advert_content_valid(g, &config->advert)) {
        gossip_destroy(g);
        return MESH_EINVAL;
    }
    for (uint32_t i = 0; i < config->seed_count; i++) {
        size_t length = config->seeds[i] != NULL ? strlen(config->seeds[i]) : 0;
        if (length == 0 || length > WIRE_ENDPOINT_SIZE_MAX) {
            gossip_destroy(g);
            return MESH_EINVAL;
        }
        memcpy(g->seeds[i], config->seeds[i], length + 1);
    }
    g->seed_count = config->seed_count;
    member *self = NULL;
    mesh_err err =
        gossip_member_insert(g, &cert, config->cert_frame, config->cert_frame_size, &self);
    if (err != MESH_OK) {
        gossip_destroy(g);
        return err;
    }
    g->self_slot = (uint32_t) (self - g->members);
    // The machine's clock starts at the first call; this node's own state
    // (alive) dates from its creation, not from the clock's zero.
    self->state_changed_ns = now.monotonic_ns;
    g->probe_cursor = g->self_id;
    *gossip_out = g;
    return MESH_OK;
}

void gossip_destroy(gossip *g)
{
    if (g == NULL) {
        return;
    }
    sodium_memzero(&g->config.keypair, sizeof(g->config.keypair));
    sodium_memzero(g->curve_secret, sizeof(g->curve_secret));
    if (g->members != NULL && g->store != NULL) {
        gossip_order_iter iter;
        uint32_t slot = 0;
        gossip_order_seek(g, 0, &iter);
        while (gossip_order_next(g, &iter, &slot)) {
            member *m = &g->members[slot];
            gossip_store_release(g->store, STORE_CERT, m->cert);
            gossip_store_release(g->store, STORE_ADVERT, m->advert);
        }
    }
    gossip_store_destroy(g->own_store);
    mcrypto_pair_cache_destroy(g->own_pair_cache);
    free(g->members);
    free(g->rtt_x8_us);
    gossip_order_fini(&g->order);
    free(g->id_table);
    free(g->free_slots);
    free(g->revocations);
    free(g->out_arena);
    free(g->scratch);
    free(g->digest_in);
    free(g->digest_out);
    free(g);
}

static uint32_t id_table_home(const gossip *g, const mesh_node_id *id)
{
    uint8_t hash[crypto_shorthash_BYTES];
    (void) crypto_shorthash(hash, id->bytes, MESH_NODE_ID_SIZE, g->id_hash_key);
    uint32_t value = (uint32_t) hash[0] | (uint32_t) hash[1] << 8 | (uint32_t) hash[2] << 16 |
                     (uint32_t) hash[3] << 24;
    return value & g->id_table_mask;
}

member *gossip_member_lookup(const gossip *g, const mesh_node_id *id)
{
    MESH_ASSERT(g != NULL && id != NULL);
    // At most half full, so an empty entry ends every probe sequence.
    for (uint32_t at = id_table_home(g, id);; at = (at + 1) & g->id_table_mask) {
        uint32_t entry = g->id_table[at];
        if (entry == 0) {
            return NULL;
        }
        if (mesh_node_id_equal(&g->members[entry - 1].id, id)) {
            return &g->members[entry - 1];
        }
    }
}

static void id_table_insert(gossip *g, const mesh_node_id *id, uint32_t slot)
{
    uint32_t at = id_table_home(g, id);
    while (g->id_table[at] != 0) {
        at = (at + 1) & g->id_table_mask;
    }
    g->id_table[at] = slot + 1;
}

/* Linear probing's deletion: empty the entry, then move back every later
 * entry of the run that the hole now cuts off from its home. */
static void id_table_remove(gossip *g, const mesh_node_id *id, uint32_t slot)
{
    uint32_t hole = id_table_home(g, id);
    while (g->id_table[hole] != slot + 1) {
        MESH_ASSERT(g->id_table[hole] != 0);
        hole = (hole + 1) & g->id_table_mask;
    }
    g->id_table[hole] = 0;
    for (uint32_t at = (hole + 1) & g->id_table_mask; g->id_table[at] != 0;
         at = (at + 1) & g->id_table_mask) {
        uint32_t home = id_table_home(g, &g->members[g->id_table[at] - 1].id);
        // The entry may stay when its home lies cyclically in (hole, at].
        bool stays = hole < at ? (home > hole && home <= at) : (home > hole || home <= at);
        if (!stays) {
            g->id_table[hole] = g->id_table[at];
            g->id_table[at] = 0;
            hole = at;
        }
    }
}

/* The suspect list (gossip.suspect_list): a member entered or left
 * GOSSIP_SUSPECT. */
static void suspect_list_add(gossip *g, uint32_t slot)
{
    if (!g->suspect_list_valid) {
        return;
    }
    if (g->suspect_list_count == SUSPECT_LIST_MAX) {
        g->suspect_list_valid = false;
        return;
    }
    g->suspect_list[g->suspect_list_count++] = slot;
}

static void suspect_list_drop(gossip *g, uint32_t slot)
{
    if (!g->suspect_list_valid) {
        return;
    }
    for (uint32_t i = 0; i < g->suspect_list_count; i++) {
        if (g->suspect_list[i] == slot) {
            g->suspect_list[i] = g->suspect_list[--g->suspect_list_count];
            return;
        }
    }
    MESH_ASSERT(false && "a suspect is on the valid list");
}

uint32_t gossip_store_cert_put(gossip *g,
                               const wire_cert *cert,
                               const uint8_t *cert_frame,
                               uint32_t cert_frame_size)
{
    bool added = false;
    uint32_t handle = gossip_store_put(g->store, STORE_CERT, cert_frame, cert_frame_size, &added);
    if (added) {
        store_cert_info *info = gossip_store_cert(g->store, handle);
        memcpy(info->public_key, cert->public_key, MCRYPTO_PUBLIC_KEY_SIZE);
        memcpy(info->name, cert->name, sizeof(info->name));
        memcpy(info->country, cert->country, sizeof(info->country));
        info->certifications = cert->certifications;
        info->jurisdiction_count = cert->jurisdiction_count;
        memcpy(info->jurisdictions, cert->jurisdictions, sizeof(info->jurisdictions));
        info->valid_until_ns = cert->valid_until_ns;
        info->valid_from_ns = cert->valid_from_ns;
        memcpy(info->root_public_key, g->config.root_public_key, MCRYPTO_PUBLIC_KEY_SIZE);
        mcrypto_node_id(cert->public_key, &info->id);
        info->curve_valid = mcrypto_curve_public(cert->public_key, info->curve_public) == MESH_OK;
    }
    return handle;
}

const store_cert_info *gossip_member_cert(const gossip *g, const member *m)
{
    return gossip_store_cert(g->store, m->cert);
}

const uint8_t *
gossip_member_frame(const gossip *g, const member *m, store_kind kind, uint32_t *frame_size_out)
{
    uint32_t handle = kind == STORE_CERT ? m->cert : m->advert;
    if (handle == 0) {
        *frame_size_out = 0;
        return NULL;
    }
    return gossip_store_frame(g->store, kind, handle, frame_size_out);
}

bool gossip_member_set_advert(
    gossip *g, member *m, const uint8_t *frame, uint32_t frame_size, const wire_advert *advert)
{
    bool added = false;
    uint32_t handle = gossip_store_put(g->store, STORE_ADVERT, frame, frame_size, &added);
    if (handle == 0) {
        return false;
    }
    if (added) {
        store_advert_info *info = gossip_store_advert(g->store, handle);
        info->timestamp_ns = advert->timestamp_ns;
        memcpy(info->endpoint, advert->endpoint, sizeof(info->endpoint));
    }
    gossip_store_release(g->store, STORE_ADVERT, m->advert);
    m->advert = handle;
    return true;
}

/* Fills a free slot for the member whose certificate is at handle (one
 * reference already taken for it) and indexes it. */
static member *member_add(gossip *g, uint32_t handle)
{
    MESH_ASSERT(g->free_count > 0);
    const mesh_node_id *id = &gossip_store_cert(g->store, handle)->id;
    MESH_ASSERT(gossip_member_lookup(g, id) == NULL);
    uint32_t slot = g->free_slots[--g->free_count];
    member *m = &g->members[slot];
    memset(m, 0, sizeof(*m));
    g->rtt_x8_us[slot] = 0; // the slot's last member was measured, not this one
    m->id = *id;
    m->cert = handle;
    m->state = GOSSIP_ALIVE;
    m->state_changed_ns = g->now.monotonic_ns;

    gossip_order_insert(g, slot);
    id_table_insert(g, &m->id, slot);
    g->member_count++;
    MESH_ASSERT(g->member_count + g->free_count == g->config.members_max);
    return m;
}

mesh_err gossip_member_insert(gossip *g,
                              const wire_cert *cert,
                              const uint8_t *cert_frame,
                              uint32_t cert_frame_size,
                              member **member_out)
{
    MESH_ASSERT(g != NULL && cert != NULL && cert_frame != NULL && member_out != NULL);
    MESH_ASSERT(cert_frame_size <= MEMBER_CERT_FRAME_MAX);
    if (g->free_count == 0) {
        return MESH_EFULL;
    }
    uint32_t handle = gossip_store_cert_put(g, cert, cert_frame, cert_frame_size);
    if (handle == 0) {
        return MESH_EFULL;
    }
    *member_out = member_add(g, handle);
    return MESH_OK;
}

mesh_err gossip_member_insert_stored(gossip *g, uint32_t handle, member **member_out)
{
    MESH_ASSERT(g != NULL && member_out != NULL);
    if (g->free_count == 0) {
        return MESH_EFULL;
    }
    uint32_t frame_size = 0;
    const uint8_t *frame = gossip_store_frame(g->store, STORE_CERT, handle, &frame_size);
    bool added = true;
    // The same bytes: the same slot, one more reference.
    uint32_t again = gossip_store_put(g->store, STORE_CERT, frame, frame_size, &added);
    MESH_ASSERT(again == handle && !added);
    *member_out = member_add(g, handle);
    return MESH_OK;
}

void gossip_member_remove(gossip *g, member *m)
{
    MESH_ASSERT(g != NULL && m != NULL);
    uint32_t slot = (uint32_t) (m - g->members);
    MESH_ASSERT(slot < g->config.members_max && slot != g->self_slot);
    gossip_view_update(g, m, m->sequence, false);
    g->suspect_count -= m->state == GOSSIP_SUSPECT;
    g->suspicion_next_stale = g->suspicion_next_stale || m->state == GOSSIP_SUSPECT;
    if (m->state == GOSSIP_SUSPECT) {
        suspect_list_drop(g, slot);
    }
    g->gone_count -= m->state == GOSSIP_DOWN || m->state == GOSSIP_LEFT;
    gossip_order_remove(g, slot);
    id_table_remove(g, &m->id, slot);
    g->member_count--;
    gossip_store_release(g->store, STORE_CERT, m->cert);
    gossip_store_release(g->store, STORE_ADVERT, m->advert);
    memset(m, 0, sizeof(*m));
    g->free_slots[g->free_count++] = slot;
}

revocation_entry *gossip_revocation_find(const gossip *g, const mesh_node_id *id)
{
    MESH_ASSERT(g != NULL && id != NULL);
    uint32_t low = 0;
    uint32_t high = g->revocation_count;
    while (low < high) {
        uint32_t mid = low + (high - low) / 2;
        int c = mesh_node_id_compare(&g->revocations[mid].id, id);
        if (c == 0) {
            return &g->revocations[mid];
        }
        if (c < 0) {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    MESH_ASSERT(low <= g->revocation_count);
    return NULL;
}

bool gossip_is_revoked(const gossip *g, const mesh_node_id *id)
{
    return gossip_revocation_find(g, id) != NULL;
}

static void view_entry_hash(const mesh_node_id *id, uint64_t sequence, uint64_t out[2])
{
    uint8_t input[MESH_NODE_ID_SIZE + 8];
    memcpy(input, id->bytes, MESH_NODE_ID_SIZE);
    for (uint32_t i = 0; i < 8; i++) {
        input[MESH_NODE_ID_SIZE + i] = (uint8_t) (sequence >> (8 * i));
    }
    uint8_t hash[16];
    (void) crypto_generichash(hash, sizeof(hash), input, sizeof(input), NULL, 0);
    out[0] = 0;
    out[1] = 0;
    for (uint32_t i = 0; i < 8; i++) {
        out[0] |= (uint64_t) hash[i] << (8 * i);
        out[1] |= (uint64_t) hash[8 + i] << (8 * i);
    }
}

void gossip_view_update(gossip *g, member *m, uint64_t new_sequence, bool in_view)
{
    MESH_ASSERT(g != NULL && m != NULL);
    uint64_t h[2];
    if (m->in_view) {
        view_entry_hash(&m->id, m->sequence, h);
        uint64_t low = g->view_sum[0] - h[0];
        uint64_t borrow = g->view_sum[0] < h[0];
        g->view_sum[0] = low;
        g->view_sum[1] -= h[1] + borrow;
    }
    m->sequence = new_sequence;
    m->in_view = in_view && new_sequence > 0;
    if (m->in_view) {
        view_entry_hash(&m->id, m->sequence, h);
        uint64_t low = g->view_sum[0] + h[0];
        uint64_t carry = low < h[0];
        g->view_sum[0] = low;
        g->view_sum[1] += h[1] + carry;
    }
}

void gossip_view_hash(const gossip *g, uint8_t hash_out[WIRE_VIEW_HASH_SIZE])
{
    MESH_ASSERT(g != NULL && hash_out != NULL);
    for (uint32_t i = 0; i < 8; i++) {
        hash_out[i] = (uint8_t) (g->view_sum[0] >> (8 * i));
        hash_out[8 + i] = (uint8_t) (g->view_sum[1] >> (8 * i));
    }
}

void gossip_emit_event(gossip *g, gossip_event_kind kind, const member *m, uint32_t previous)
{
    MESH_ASSERT(g != NULL && m != NULL && g->outbox != NULL);
    if (g->events == EVENTS_PER_CALL_MAX) {
        return; // Bounded per call; the state itself is always queryable.
    }
    gossip_event *event = &g->event_items[g->events++];
    memset(event, 0, sizeof(*event));
    event->kind = kind;
    event->member = m->id;
    event->state = m->state;
    event->previous = previous;
    event->sequence = m->sequence;
    mesh_output output;
    memset(&output, 0, sizeof(output));
    output.kind = MESH_OUTPUT_EVENT;
    output.peer = m->id;
    output.payload = (const uint8_t *) event;
    output.payload_size = (uint32_t) sizeof(*event);
    // Room was checked at the entry point: SENDS_PER_CALL_MAX +
    // EVENTS_PER_CALL_MAX <= GOSSIP_OUTBOX_MIN.
    MESH_ASSERT(mesh_outbox_push(g->outbox, &output) == MESH_OK);
}

void gossip_set_state(gossip *g, member *m, gossip_state state)
{
    MESH_ASSERT(g != NULL && m != NULL);
    MESH_ASSERT(state >= GOSSIP_ALIVE && state <= GOSSIP_REVOKED);
    if (m->state == state) {
        return;
    }
    uint32_t previous = m->state;
    g->suspect_count -= previous == GOSSIP_SUSPECT;
    g->suspect_count += state == GOSSIP_SUSPECT;
    uint32_t slot = (uint32_t) (m - g->members);
    if (previous == GOSSIP_SUSPECT) {
        suspect_list_drop(g, slot);
    }
    if (state == GOSSIP_SUSPECT) {
        suspect_list_add(g, slot);
    }
    g->suspicion_next_stale = g->suspicion_next_stale || previous == GOSSIP_SUSPECT;
    g->gone_count -= previous == GOSSIP_DOWN || previous == GOSSIP_LEFT;
    g->gone_count += state == GOSSIP_DOWN || state == GOSSIP_LEFT;
    m->state = (uint8_t) state;
    m->state_changed_ns = g->now.monotonic_ns;
    if (state != GOSSIP_SUSPECT) {
        m->accuser_count = 0;
        m->suspicion_deadline_ns = 0;
    }
    bool in_view = state == GOSSIP_ALIVE || state == GOSSIP_SUSPECT;
    gossip_view_update(g, m, m->sequence, in_view);
    gossip_emit_event(g, GOSSIP_EVENT_STATE, m, previous);
}

void gossip_count_reject(gossip *g, gossip_reject reject)
{
    MESH_ASSERT((unsigned) reject < GOSSIP_REJECT_COUNT);
    g->stats.rejected[reject]++;
}

/* A call that comes more than a probe timeout past the deadline: this
 * node was stopped (SIGSTOP, a paused VM, a starved loop) for late_ns.
 * What timed out meanwhile is its own lateness, not news about others:
 * an ack may be waiting in its socket, a refutation may have been sent
 * to it. So the probes in flight end without a verdict (no failure, no
 * suspicion), the suspicions it holds get back the time it lost, it
 * counts the lateness against its own health (Lifeguard's local health:
 * its timeouts stretch while it recovers) and probes afresh at once. */
static void late_wakeup(gossip *g, uint64_t late_ns)
{
    g->stats.late_wakeups++;
    if (g->local_health < LOCAL_HEALTH_MAX) {
        g->local_health++;
    }
    g->probe.active = false;
    g->verify.active = false;
    if (g->next_probe_ns != UINT64_MAX) {
        g->next_probe_ns = g->now.monotonic_ns;
    }
    if (g->suspect_count == 0) {
        return;
    }
    for (uint32_t i = 0, seen = 0; seen < g->suspect_count && i < g->config.members_max; i++) {
        member *m = &g->members[i];
        if (m->state == GOSSIP_SUSPECT) {
            seen++;
            m->suspicion_started_ns += late_ns;
            m->suspicion_deadline_ns += late_ns;
        }
    }
    MESH_ASSERT(g->suspicion_next_ns != UINT64_MAX);
    g->suspicion_next_ns += late_ns;
}

/* Starts a call: binds the per-call state and checks the outbox's room. */
static mesh_err call_begin(gossip *g, mesh_now now, mesh_rng *rng, mesh_outbox *outbox)
{
    MESH_ASSERT(g != NULL && rng != NULL && outbox != NULL);
    MESH_ASSERT(outbox->count <= outbox->count_max);
    if (outbox->count_max - outbox->count < GOSSIP_OUTBOX_MIN) {
        return MESH_EFULL;
    }
    // Monotonic time never goes back; a shell that breaks this has a bug.
    MESH_ASSERT(now.monotonic_ns >= g->now.monotonic_ns);
    uint64_t due_ns = gossip_deadline_ns(g);
    g->now = now;
    g->rng = rng;
    g->outbox = outbox;
    g->sends = 0;
    g->events = 0;
    g->out_used = 0;
    g->fresh_count = 0;
    g->fresh_from_set = false;
    g->suspect_frame_count = 0;
    if (g->started && now.monotonic_ns > due_ns &&
        now.monotonic_ns - due_ns > g->config.probe_timeout_ns) {
        late_wakeup(g, now.monotonic_ns - due_ns);
    }
    return MESH_OK;
}

void gossip_suspicion_deadline_set(gossip *g, const member *m)
{
    MESH_ASSERT(m->state == GOSSIP_SUSPECT);
    if (m->suspicion_deadline_ns < g->suspicion_next_ns) {
        g->suspicion_next_ns = m->suspicion_deadline_ns;
    }
}

/* The earliest deadline over the suspects, from the suspect list or by a
 * scan of the slots (their order does not matter for a minimum); only
 * after a suspect left. */
static void suspicion_next_recompute(gossip *g)
{
    uint64_t next = UINT64_MAX;
    if (g->suspect_list_valid) {
        MESH_ASSERT(g->suspect_list_count == g->suspect_count);
        for (uint32_t i = 0; i < g->suspect_list_count; i++) {
            const member *m = &g->members[g->suspect_list[i]];
            MESH_ASSERT(m->state == GOSSIP_SUSPECT);
            next = m->suspicion_deadline_ns < next ? m->suspicion_deadline_ns : next;
        }
    } else {
        // The scan rebuilds the list when the suspects fit in it again.
        bool rebuild = g->suspect_count <= SUSPECT_LIST_MAX;
        g->suspect_list_count = 0;
        for (uint32_t i = 0, seen = 0; seen < g->suspect_count && i < g->config.members_max; i++) {
            const member *m = &g->members[i];
            if (m->state == GOSSIP_SUSPECT) {
                seen++;
                next = m->suspicion_deadline_ns < next ? m->suspicion_deadline_ns : next;
                if (rebuild) {
                    g->suspect_list[g->suspect_list_count++] = i;
                }
            }
        }
        g->suspect_list_valid = rebuild;
        MESH_ASSERT(!rebuild || g->suspect_list_count == g->suspect_count);
    }
    g->suspicion_next_ns = next;
    g->suspicion_next_stale = false;
}

static void call_end(gossip *g)
{
    gossip_flush_fresh(g);
    if (g->suspicion_next_stale) {
        suspicion_next_recompute(g);
    }
    g->outbox = NULL;
    g->rng = NULL;
}

/* Input rate limit per sender: bytes_per_s_per_peer_max in one-second
 * windows. */
bool gossip_rate_allows(gossip *g, member *from, uint32_t frame_size)
{
    if (g->now.monotonic_ns - from->rate_window_ns >= MESH_NS_PER_S) {
        from->rate_window_ns = g->now.monotonic_ns;
        from->rate_bytes = 0;
    }
    if (from->rate_bytes + (uint64_t) frame_size > g->config.bytes_per_s_per_peer_max) {
        return false;
    }
    from->rate_bytes += frame_size; // below the limit, so below 2^32 (config_valid)
    return true;
}

/* True when a pushed record is the sender's own advert. The envelope
 * decodes: ingest took it. */
static bool push_record_own_advert(const wire_record *record, const mesh_node_id *sender)
{
    wire_envelope inner;
    return wire_envelope_decode(record->frame, record->frame_size, &inner, NULL) == MESH_OK &&
           inner.type == WIRE_TYPE_ADVERT && mesh_node_id_equal(&inner.signer, sender);
}

/* True when a pushed record is the sender's own certificate. */
static bool push_record_own_cert(const wire_record *record, const mesh_node_id *sender)
{
    wire_envelope inner;
    wire_cert cert;
    if (wire_envelope_decode(record->frame, record->frame_size, &inner, NULL) != MESH_OK ||
        inner.type != WIRE_TYPE_CERT ||
        wire_cert_decode(inner.body, inner.body_size, &cert, NULL) != MESH_OK) {
        return false;
    }
    mesh_node_id subject;
    mcrypto_node_id(cert.public_key, &subject);
    return mesh_node_id_equal(&subject, sender);
}

static void handle_push(gossip *g, const wire_envelope *envelope)
{
    wire_push *push = &g->push;
    if (wire_push_decode(envelope->body, envelope->body_size, push, NULL) != MESH_OK) {
        gossip_count_reject(g, GOSSIP_REJECT_MALFORMED);
        return;
    }
    MESH_ASSERT(push->record_count <= WIRE_PUSH_RECORDS_MAX);
    bool sender_known = gossip_member_lookup(g, &envelope->signer) != NULL;
    bool own_advert_fresh = false;
    for (uint32_t i = 0; i < push->record_count; i++) {
        const wire_record *record = &push->records[i];
        bool fresh = gossip_ingest_record(g, record->frame, record->frame_size);
        if (fresh) {
            gossip_add_fresh(g, record->frame, record->frame_size);
            own_advert_fresh = own_advert_fresh ||
                               (sender_known && push_record_own_advert(record, &envelope->signer));
        }
    }
    // Whether the push also holds the sender's own certificate matters only
    // with its own advert fresh here, which is rare (once per restart or
    // heal), so the certificates are decoded only then: a join pushes
    // certificates by the thousand, and decoding each and hashing its key
    // cost more than ingesting it. The records are the call's input, so
    // the answer is the same whenever it is taken.
    bool own_cert = false;
    for (uint32_t i = 0; own_advert_fresh && !own_cert && i < push->record_count; i++) {
        own_cert = push_record_own_cert(&push->records[i], &envelope->signer);
    }
    // A member we did not know introduced itself, or a known one pushed its
    // own certificate with a newer advert, as a member joining through its
    // seeds does (it restarted, or healed from a partition, and may know
    // nobody):
    // answer with our own certificate and advert so that it can
    // authenticate us, and so that the pair can start anti-entropy at its
    // next probe.
    member *sender = gossip_member_lookup(g, &envelope->signer);
    bool back = own_cert && own_advert_fresh;
    if ((!sender_known || back) && sender != NULL && sender->sequence > 0) {
        char endpoint[WIRE_ENDPOINT_SIZE_MAX + 1];
        if (gossip_member_endpoint(g, sender, endpoint)) {
            gossip_send_introduction(g, sender, endpoint);
        }
    }
}

/* Routes one frame; every refusal is counted and changes nothing. */
static void dispatch_frame(gossip *g, const uint8_t *frame, uint32_t frame_size)
{
    wire_envelope envelope;
    if (frame_size > WIRE_FRAME_SIZE_MAX) {
        gossip_count_reject(g, GOSSIP_REJECT_OVERSIZE);
        return;
    }
    if (wire_envelope_decode(frame, frame_size, &envelope, NULL) != MESH_OK) {
        gossip_count_reject(g, GOSSIP_REJECT_MALFORMED);
        return;
    }
    if (gossip_is_revoked(g, &envelope.signer)) {
        gossip_count_reject(g, GOSSIP_REJECT_REVOKED);
        if (!g->self_revoked) {
            gossip_tell_revoked(g, &envelope);
        }
        return;
    }
    // Our own frames coming back, anything while we are revoked, and
    // signed records outside a push (they travel inside pushes only).
    if (mesh_node_id_equal(&envelope.signer, &g->self_id) || g->self_revoked ||
        !wire_type_is_mac(envelope.type)) {
        gossip_count_reject(g, GOSSIP_REJECT_UNEXPECTED);
        return;
    }
    member *from = gossip_member_lookup(g, &envelope.signer);
    if (envelope.type == WIRE_TYPE_PUSH) {
        // A push carries signed records, each authenticated on its own; it
        // is how a new member introduces itself, before anyone can check a
        // MAC from it. Its MAC is therefore not checked, and nor is its
        // sender's rate budget charged: anyone can name any sender here,
        // and a flood of pushes in a member's name would otherwise spend
        // that member's budget and have its genuine frames refused
        // (fedmesh-hostile's spoofed kind). Each record costs what it
        // costs to refuse it, whoever sent the push.
        g->fresh_from = envelope.signer;
        g->fresh_from_set = true;
        handle_push(g, &envelope);
        return;
    }
    if (from == NULL || from->sequence == 0) {
        gossip_count_reject(g, GOSSIP_REJECT_UNKNOWN_KEY);
        return;
    }
    gossip_handle_control(g, &envelope, from, frame_size);
}

mesh_err gossip_on_message(gossip *g,
                           mesh_now now,
                           const uint8_t *frame,
                           uint32_t frame_size,
                           mesh_rng *rng,
                           mesh_outbox *outbox)
{
    MESH_ASSERT(frame != NULL || frame_size == 0);
    mesh_err err = call_begin(g, now, rng, outbox);
    if (err != MESH_OK) {
        return err;
    }
    g->stats.frames_in++;
    g->stats.bytes_in += frame_size;
    dispatch_frame(g, frame, frame_size);
    call_end(g);
    return MESH_OK;
}

mesh_err gossip_on_tick(gossip *g, mesh_now now, mesh_rng *rng, mesh_outbox *outbox)
{
    mesh_err err = call_begin(g, now, rng, outbox);
    if (err != MESH_OK) {
        return err;
    }
    gossip_run_timers(g);
    call_end(g);
    return MESH_OK;
}

mesh_err gossip_update_advert(
    gossip *g, mesh_now now, const wire_advert *advert, mesh_rng *rng, mesh_outbox *outbox)
{
    MESH_ASSERT(advert != NULL);
    if (!advert_content_valid(g, advert)) {
        return MESH_EINVAL;
    }
    mesh_err err = call_begin(g, now, rng, outbox);
    if (err != MESH_OK) {
        return err;
    }
    g->config.advert = *advert;
    if (g->started && !g->leaving) {
        err = gossip_publish_advert(g, WIRE_ADVERT_ALIVE);
    }
    call_end(g);
    return err;
}

mesh_err gossip_leave(gossip *g, mesh_now now, mesh_rng *rng, mesh_outbox *outbox)
{
    mesh_err err = call_begin(g, now, rng, outbox);
    if (err != MESH_OK) {
        return err;
    }
    if (g->started && !g->leaving) {
        g->leaving = true;
        err = gossip_publish_advert(g, WIRE_ADVERT_LEAVING);
    }
    g->leaving = true;
    call_end(g);
    return err;
}

mesh_err gossip_add_revocation(gossip *g,
                               mesh_now now,
                               const uint8_t *frame,
                               uint32_t frame_size,
                               mesh_rng *rng,
                               mesh_outbox *outbox)
{
    MESH_ASSERT(frame != NULL);
    wire_revocation revocation;
    mesh_err err =
        mcrypto_revocation_check(g->config.root_public_key, frame, frame_size, &revocation);
    if (err != MESH_OK) {
        return err;
    }
    mesh_node_id id;
    mcrypto_node_id(revocation.public_key, &id);
    if (!gossip_is_revoked(g, &id) && g->revocation_count == g->config.revocations_max) {
        return MESH_EFULL;
    }
    err = call_begin(g, now, rng, outbox);
    if (err != MESH_OK) {
        return err;
    }
    if (gossip_ingest_record(g, frame, frame_size)) {
        gossip_add_fresh(g, frame, frame_size);
    }
    call_end(g);
    return MESH_OK;
}

mesh_err gossip_revocation_set_endpoint(gossip *g, const mesh_node_id *id, const char *endpoint)
{
    MESH_ASSERT(g != NULL && id != NULL && endpoint != NULL);
    size_t length = strlen(endpoint);
    if (length == 0 || length > WIRE_ENDPOINT_SIZE_MAX) {
        return MESH_EINVAL;
    }
    revocation_entry *r = gossip_revocation_find(g, id);
    if (r == NULL) {
        return MESH_ENOTFOUND;
    }
    if (strcmp(r->endpoint, endpoint) != 0) {
        memcpy(r->endpoint, endpoint, length + 1);
        g->stats.revocation_updates++;
    }
    MESH_ASSERT(r->endpoint[length] == '\0');
    return MESH_OK;
}

uint32_t gossip_revocation_count(const gossip *g)
{
    MESH_ASSERT(g != NULL);
    MESH_ASSERT(g->revocation_count <= g->config.revocations_max);
    return g->revocation_count;
}

mesh_err gossip_revocation_at(const gossip *g, uint32_t index, gossip_revocation_info *info_out)
{
    MESH_ASSERT(g != NULL && info_out != NULL);
    if (index >= g->revocation_count) {
        return MESH_ENOTFOUND;
    }
    const revocation_entry *r = &g->revocations[index];
    MESH_ASSERT(r->frame_size > 0 && r->frame_size <= REVOCATION_FRAME_MAX);
    memset(info_out, 0, sizeof(*info_out));
    info_out->id = r->id;
    memcpy(info_out->public_key, r->revocation.public_key, sizeof(info_out->public_key));
    info_out->revoked_at_ns = r->revocation.revoked_at_ns;
    memcpy(info_out->reason, r->revocation.reason, sizeof(info_out->reason));
    memcpy(info_out->endpoint, r->endpoint, sizeof(info_out->endpoint));
    info_out->frame = r->frame;
    info_out->frame_size = r->frame_size;
    return MESH_OK;
}

bool gossip_self_revoked(const gossip *g)
{
    MESH_ASSERT(g != NULL);
    return g->self_revoked;
}

uint32_t gossip_member_count(const gossip *g)
{
    MESH_ASSERT(g != NULL);
    return g->member_count;
}

static void fill_info(const gossip *g, const member *m, gossip_member_info *info)
{
    memset(info, 0, sizeof(*info));
    info->id = m->id;
    info->state = (gossip_state) m->state;
    info->self = mesh_node_id_equal(&m->id, &g->self_id);
    info->sequence = m->sequence;
    info->advert_timestamp_ns =
        m->advert != 0 ? gossip_store_advert(g->store, m->advert)->timestamp_ns : 0;
    info->state_changed_ns = m->state_changed_ns;
    const store_cert_info *cert = gossip_member_cert(g, m);
    memcpy(info->name, cert->name, sizeof(info->name));
    memcpy(info->country, cert->country, sizeof(info->country));
    info->certifications = cert->certifications;
    info->jurisdiction_count = cert->jurisdiction_count;
    memcpy(info->jurisdictions, cert->jurisdictions, sizeof(info->jurisdictions));
    info->cert_valid_until_ns = cert->valid_until_ns;
    memcpy(info->public_key, cert->public_key, sizeof(info->public_key));
    memcpy(info->cert_hash, cert->frame_hash, sizeof(info->cert_hash));
    // Nobody pings itself, so self reads 0 without a special case.
    info->rtt_us = g->rtt_x8_us[m - g->members] >> 3;
    MESH_ASSERT(!info->self || info->rtt_us == 0);
}

mesh_err gossip_member_at(const gossip *g, uint32_t index, gossip_member_info *info_out)
{
    MESH_ASSERT(g != NULL && info_out != NULL);
    if (index >= g->member_count) {
        return MESH_ENOTFOUND;
    }
    fill_info(g, &g->members[gossip_order_slot_at(g, index)], info_out);
    return MESH_OK;
}

mesh_err gossip_member_find(const gossip *g, const mesh_node_id *id, gossip_member_info *info_out)
{
    MESH_ASSERT(info_out != NULL);
    const member *m = gossip_member_lookup(g, id);
    if (m == NULL) {
        return MESH_ENOTFOUND;
    }
    fill_info(g, m, info_out);
    return MESH_OK;
}

mesh_err gossip_member_advert(const gossip *g, const mesh_node_id *id, wire_advert *advert_out)
{
    MESH_ASSERT(advert_out != NULL);
    const member *m = gossip_member_lookup(g, id);
    if (m == NULL || m->advert == 0) {
        return MESH_ENOTFOUND;
    }
    uint32_t frame_size = 0;
    const uint8_t *frame = gossip_member_frame(g, m, STORE_ADVERT, &frame_size);
    wire_envelope envelope;
    // The frame was checked when it was accepted; a failure here is a bug.
    if (MESH_NEVER(wire_envelope_decode(frame, frame_size, &envelope, NULL) != MESH_OK) ||
        MESH_NEVER(wire_advert_decode(envelope.body, envelope.body_size, advert_out, NULL) !=
                   MESH_OK)) {
        return MESH_EINTERNAL;
    }
    return MESH_OK;
}

mesh_err gossip_member_cert_frame(const gossip *g,
                                  const mesh_node_id *id,
                                  uint8_t *frame_out,
                                  uint32_t size_max,
                                  uint32_t *size_out)
{
    MESH_ASSERT(g != NULL && id != NULL);
    MESH_ASSERT(frame_out != NULL && size_out != NULL);
    const member *m = gossip_member_lookup(g, id);
    if (m == NULL || m->cert == 0) {
        return MESH_ENOTFOUND;
    }
    uint32_t frame_size = 0;
    const uint8_t *frame = gossip_member_frame(g, m, STORE_CERT, &frame_size);
    MESH_ASSERT(frame != NULL && frame_size > 0);
    if (frame_size > size_max) {
        return MESH_EFULL;
    }
    memcpy(frame_out, frame, frame_size);
    *size_out = frame_size;
    return MESH_OK;
}

void gossip_stats_get(const gossip *g, gossip_stats *stats_out)
{
    MESH_ASSERT(g != NULL && stats_out != NULL);
    *stats_out = g->stats;
    stats_out->local_health = g->local_health;
}

uint64_t gossip_deadline_ns(const gossip *g)
{
    MESH_ASSERT(g != NULL);
    // A revoked node has nothing left to time: a probe or a suspicion
    // still pending must not make the shell call it again and again.
    if (g->self_revoked) {
        return UINT64_MAX;
    }
    if (!g->started) {
        return 0;
    }
    uint64_t deadline = g->next_probe_ns;
    if (g->next_refresh_ns < deadline) {
        deadline = g->next_refresh_ns;
    }
    if (g->next_rejoin_ns < deadline) {
        deadline = g->next_rejoin_ns;
    }
    const probe *probes[2] = {&g->probe, &g->verify};
    for (uint32_t i = 0; i < 2; i++) {
        const probe *p = probes[i];
        if (p->active) {
            uint64_t probe_deadline =
                p->indirect_sent || p->acked ? p->end_ns : p->direct_deadline_ns;
            if (probe_deadline < deadline) {
                deadline = probe_deadline;
            }
        }
    }
    MESH_ASSERT(!g->suspicion_next_stale);
    return g->suspicion_next_ns < deadline ? g->suspicion_next_ns : deadline;
}
