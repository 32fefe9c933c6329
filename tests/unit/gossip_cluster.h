/*
 * tests/unit/gossip_cluster.h: a tiny deterministic harness that runs a
 * handful of gossip machines over an in-memory network with a fixed
 * latency (or one per directed link), optional loss and crashed nodes.
 * It is deliberately simpler than sim/ (no latency matrix, no metrics):
 * unit tests of the protocol use it so that they depend on the gossip
 * machine alone.
 */
#ifndef TESTS_UNIT_GOSSIP_CLUSTER_H
#define TESTS_UNIT_GOSSIP_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "gossip/gossip.h"
#include "member/member.h"
#include "mesh/mesh.h"
#include "wire/wire.h"

#define CLUSTER_NODES_MAX 32u
#define CLUSTER_MSGS_MAX  200000u
#define CLUSTER_EPOCH_NS  1798761600000000000ll /* 2027-01-01T00:00:00Z */

typedef struct cluster_msg {
    uint64_t at_ns;
    uint64_t order;
    uint32_t to;
    uint32_t size;
    uint8_t *bytes;
} cluster_msg;

typedef struct cluster {
    uint32_t count;
    mcrypto_keypair root;
    mcrypto_keypair keys[CLUSTER_NODES_MAX];
    uint8_t certs[CLUSTER_NODES_MAX][1024];
    uint32_t cert_sizes[CLUSTER_NODES_MAX];
    mesh_node_id ids[CLUSTER_NODES_MAX];
    /* Each node is a member without a ledger (gossip only), driven through
     * member_node's executor like the agent and the simulator drive it;
     * nodes[i] is its gossip machine, for queries. */
    member_node *members[CLUSTER_NODES_MAX];
    const gossip *nodes[CLUSTER_NODES_MAX];
    struct cluster_io {
        struct cluster *c;
        uint32_t from;
    } io[CLUSTER_NODES_MAX];
    mesh_rng rngs[CLUSTER_NODES_MAX];
    bool crashed[CLUSTER_NODES_MAX];
    uint32_t group[CLUSTER_NODES_MAX]; /* partition group; messages cross only within one */
    bool partitioned;
    bool deaf_to_push[CLUSTER_NODES_MAX]; /* drop PUSH frames to this node */
    mesh_rng net_rng;
    double loss;
    uint64_t latency_ns;
    /* One-way latency from -> to, when not 0; else latency_ns. Read when a
     * frame is sent, so a change applies to frames sent afterwards. */
    uint64_t link_latency_ns[CLUSTER_NODES_MAX][CLUSTER_NODES_MAX];
    uint64_t now_ns;
    uint64_t order;
    cluster_msg *msgs;
    uint32_t msg_count;
    uint64_t delivered;
    uint64_t dropped;
    uint64_t down_events[CLUSTER_NODES_MAX]; /* times node i was seen DOWN by anyone */
} cluster;

static inline mesh_now cluster_now(const cluster *c)
{
    mesh_now now = {.monotonic_ns = c->now_ns + 1000,
                    .realtime_ns = CLUSTER_EPOCH_NS + (int64_t) c->now_ns};
    return now;
}

static inline void cluster_make_advert(uint32_t index, wire_advert *advert)
{
    memset(advert, 0, sizeof(*advert));
    advert->carbon_gco2_per_kwh = 44 + index;
    advert->resource_count = 1;
    advert->resources[0].resource_class = WIRE_RESOURCE_VCPU;
    advert->resources[0].total = 1024;
    advert->resources[0].free = 512;
    advert->resources[0].lendable = 256;
    advert->resources[0].price_microeur_per_unit_hour = 30000;
    (void) snprintf(advert->endpoint, sizeof(advert->endpoint), "sim://%u", index);
}

static inline int cluster_index_of(const char *endpoint)
{
    if (strncmp(endpoint, "sim://", 6) != 0) {
        return -1;
    }
    char *end = NULL;
    long value = strtol(endpoint + 6, &end, 10);
    if (end == NULL || *end != '\0' || value < 0 || value >= (long) CLUSTER_NODES_MAX) {
        return -1;
    }
    return (int) value;
}

static inline void
cluster_enqueue(cluster *c, uint32_t from, uint32_t to, const uint8_t *bytes, uint32_t size)
{
    if (c->msg_count == CLUSTER_MSGS_MAX) {
        c->dropped++;
        return;
    }
    uint64_t latency_ns = c->link_latency_ns[from][to];
    cluster_msg *m = &c->msgs[c->msg_count++];
    m->at_ns = c->now_ns + (latency_ns != 0 ? latency_ns : c->latency_ns);
    m->order = c->order++;
    m->to = to;
    m->size = size;
    m->bytes = malloc(size);
    memcpy(m->bytes, bytes, size);
}

/* member_io, send: the network, with loss, partitions and crashes. */
static inline void cluster_send(void *ctx,
                                const mesh_node_id *peer,
                                const char *endpoint,
                                const uint8_t *frame,
                                uint32_t frame_size)
{
    struct cluster_io *io = ctx;
    cluster *c = io->c;
    uint32_t from = io->from;
    (void) peer;
    int to = cluster_index_of(endpoint);
    if (to < 0 || (uint32_t) to >= c->count || c->crashed[to] ||
        (c->partitioned && c->group[to] != c->group[from]) ||
        mesh_rng_unit(&c->net_rng) < c->loss) {
        c->dropped++;
        return;
    }
    wire_envelope envelope;
    if (c->deaf_to_push[to] &&
        wire_envelope_decode(frame, frame_size, &envelope, NULL) == MESH_OK &&
        envelope.type == WIRE_TYPE_PUSH) {
        c->dropped++;
        return;
    }
    cluster_enqueue(c, from, (uint32_t) to, frame, frame_size);
}

/* member_io, event: DOWN events, for the false-down count. */
static inline void cluster_event(void *ctx, mesh_now now, member_source source, const void *payload)
{
    struct cluster_io *io = ctx;
    cluster *c = io->c;
    (void) now;
    if (source != MEMBER_SOURCE_GOSSIP) {
        return;
    }
    const gossip_event *event = payload;
    if (event->kind == GOSSIP_EVENT_STATE && event->state == GOSSIP_DOWN) {
        for (uint32_t n = 0; n < c->count; n++) {
            if (mesh_node_id_equal(&c->ids[n], &event->member)) {
                c->down_events[n]++;
            }
        }
    }
}

/* After a local command on a member (member_update_advert, member_leave,
 * member_add_revocation): what it staged goes out, as after any input. */
static inline void cluster_flush(cluster *c, uint32_t node)
{
    if (member_flush(c->members[node], cluster_now(c), &c->rngs[node]) != MESH_OK) {
        abort();
    }
}

static inline void
cluster_init(cluster *c, uint32_t count, uint64_t seed, const gossip_config *base)
{
    memset(c, 0, sizeof(*c));
    if (mcrypto_init() != MESH_OK) {
        abort();
    }
    c->count = count;
    c->latency_ns = MESH_NS_PER_MS;
    c->msgs = calloc(CLUSTER_MSGS_MAX, sizeof(cluster_msg));
    mesh_rng_seed(&c->net_rng, seed);
    uint8_t key_seed[MCRYPTO_SEED_SIZE];
    memset(key_seed, 0xee, sizeof(key_seed));
    if (mcrypto_keypair_from_seed(key_seed, &c->root) != MESH_OK) {
        abort();
    }
    const char *seeds[1] = {"sim://0"};
    for (uint32_t i = 0; i < count; i++) {
        memset(key_seed, 0, sizeof(key_seed));
        key_seed[0] = (uint8_t) i;
        key_seed[1] = (uint8_t) (seed & 0xff);
        if (mcrypto_keypair_from_seed(key_seed, &c->keys[i]) != MESH_OK) {
            abort();
        }
        mcrypto_node_id(c->keys[i].public_key, &c->ids[i]);
        wire_cert cert;
        memset(&cert, 0, sizeof(cert));
        memcpy(cert.public_key, c->keys[i].public_key, sizeof(cert.public_key));
        (void) snprintf(cert.name, sizeof(cert.name), "node-%u", i);
        memcpy(cert.country, "FR", 3);
        cert.jurisdiction_count = 1;
        memcpy(cert.jurisdictions[0], "FR", 3);
        cert.valid_from_ns = CLUSTER_EPOCH_NS - 86400ll * 1000000000ll;
        cert.valid_until_ns = CLUSTER_EPOCH_NS + 30ll * 86400ll * 1000000000ll;
        cert.serial = i + 1;
        if (mcrypto_cert_issue(&c->root, &cert, c->certs[i], sizeof(c->certs[i]),
                               &c->cert_sizes[i]) != MESH_OK) {
            abort();
        }
        gossip_config config = *base;
        config.keypair = c->keys[i];
        memcpy(config.root_public_key, c->root.public_key, MCRYPTO_PUBLIC_KEY_SIZE);
        config.cert_frame = c->certs[i];
        config.cert_frame_size = c->cert_sizes[i];
        cluster_make_advert(i, &config.advert);
        config.seeds = seeds;
        config.seed_count = 1;
        mesh_rng_seed(&c->rngs[i], seed * 1000 + i);
        member_config member_settings;
        member_config_default(&member_settings);
        member_settings.gossip = config;
        c->io[i].c = c;
        c->io[i].from = i;
        member_settings.io =
            (member_io){.ctx = &c->io[i], .send = cluster_send, .event = cluster_event};
        if (member_create(&member_settings, cluster_now(c), &c->rngs[i], &c->members[i]) !=
            MESH_OK) {
            abort();
        }
        c->nodes[i] = member_gossip(c->members[i]);
    }
}

static inline void cluster_fini(cluster *c)
{
    for (uint32_t i = 0; i < c->count; i++) {
        member_destroy(c->members[i]);
    }
    for (uint32_t i = 0; i < c->msg_count; i++) {
        free(c->msgs[i].bytes);
    }
    free(c->msgs);
}

/* Delivers a frame to node `to` now, as if it came from the network. */
static inline void cluster_deliver(cluster *c, uint32_t to, const uint8_t *bytes, uint32_t size)
{
    if (member_on_frame(c->members[to], cluster_now(c), bytes, size, &c->rngs[to]) != MESH_OK) {
        abort();
    }
    cluster_flush(c, to);
}

/* Runs until virtual time `until_ns` (relative to the cluster's start). */
static inline void cluster_run(cluster *c, uint64_t until_ns)
{
    for (;;) {
        // The earliest message, in (time, order).
        uint32_t best = UINT32_MAX;
        for (uint32_t i = 0; i < c->msg_count; i++) {
            if (best == UINT32_MAX || c->msgs[i].at_ns < c->msgs[best].at_ns ||
                (c->msgs[i].at_ns == c->msgs[best].at_ns &&
                 c->msgs[i].order < c->msgs[best].order)) {
                best = i;
            }
        }
        uint64_t next = best == UINT32_MAX ? UINT64_MAX : c->msgs[best].at_ns;
        uint32_t timer_node = UINT32_MAX;
        for (uint32_t n = 0; n < c->count; n++) {
            if (c->crashed[n]) {
                continue;
            }
            uint64_t deadline = member_deadline_ns(c->members[n]);
            uint64_t relative = deadline > 1000 ? deadline - 1000 : 0;
            if (relative < c->now_ns) {
                relative = c->now_ns;
            }
            if (relative < next) {
                next = relative;
                timer_node = n;
            }
        }
        if (next > until_ns) {
            c->now_ns = until_ns;
            return;
        }
        c->now_ns = next;
        if (timer_node != UINT32_MAX) {
            if (member_on_tick(c->members[timer_node], cluster_now(c), &c->rngs[timer_node]) !=
                MESH_OK) {
                abort();
            }
            cluster_flush(c, timer_node);
            continue;
        }
        cluster_msg m = c->msgs[best];
        c->msgs[best] = c->msgs[--c->msg_count];
        if (!c->crashed[m.to]) {
            c->delivered++;
            cluster_deliver(c, m.to, m.bytes, m.size);
        }
        free(m.bytes);
    }
}

/* The state node `observer` holds for node `subject`; 0 when unknown. */
static inline uint32_t cluster_state(const cluster *c, uint32_t observer, uint32_t subject)
{
    gossip_member_info info;
    if (gossip_member_find(c->nodes[observer], &c->ids[subject], &info) != MESH_OK) {
        return 0;
    }
    return info.state;
}

/* True when every live node holds every live node alive with the same view. */
static inline bool cluster_converged(const cluster *c)
{
    uint8_t first[WIRE_VIEW_HASH_SIZE];
    bool have_first = false;
    for (uint32_t o = 0; o < c->count; o++) {
        if (c->crashed[o]) {
            continue;
        }
        for (uint32_t s = 0; s < c->count; s++) {
            if (!c->crashed[s] && cluster_state(c, o, s) != GOSSIP_ALIVE) {
                return false;
            }
        }
        uint8_t hash[WIRE_VIEW_HASH_SIZE];
        gossip_view_hash(c->nodes[o], hash);
        if (have_first && memcmp(hash, first, sizeof(hash)) != 0) {
            return false;
        }
        memcpy(first, hash, sizeof(hash));
        have_first = true;
    }
    return true;
}

/* Runs in steps of step_ns until converged or limit_ns; returns the time. */
static inline uint64_t cluster_run_until_converged(cluster *c, uint64_t step_ns, uint64_t limit_ns)
{
    while (c->now_ns < limit_ns) {
        cluster_run(c, c->now_ns + step_ns);
        if (cluster_converged(c)) {
            return c->now_ns;
        }
    }
    return UINT64_MAX;
}

/* Wraps signed records in a PUSH frame from `from` (MAC zero: not checked). */
static inline uint32_t cluster_push_frame(const cluster *c,
                                          uint32_t from,
                                          const uint8_t *const *records,
                                          const uint32_t *sizes,
                                          uint32_t count,
                                          uint8_t *frame,
                                          uint32_t frame_size_max)
{
    static wire_push push;
    static uint8_t body[WIRE_FRAME_SIZE_MAX];
    push.record_count = count;
    for (uint32_t i = 0; i < count; i++) {
        push.records[i].frame = records[i];
        push.records[i].frame_size = sizes[i];
    }
    uint32_t body_size = 0;
    if (wire_push_encode(&push, body, sizeof(body), &body_size) != MESH_OK) {
        abort();
    }
    wire_envelope envelope;
    memset(&envelope, 0, sizeof(envelope));
    envelope.version = WIRE_VERSION;
    envelope.type = WIRE_TYPE_PUSH;
    envelope.signer = c->ids[from];
    envelope.body = body;
    envelope.body_size = body_size;
    uint32_t size = 0;
    if (wire_envelope_encode(&envelope, frame, frame_size_max, &size) != MESH_OK) {
        abort();
    }
    return size;
}

#endif
