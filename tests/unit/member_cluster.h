/*
 * tests/unit/member_cluster.h: a handful of whole members (gossip, leases,
 * an in-memory ledger each) over an in-memory network, driven through
 * member_node and its executor exactly as the agent and the simulator
 * drive it. Deterministic: one virtual clock, seeded PRNGs, messages
 * delivered in (time, order).
 *
 * Faults: loss and duplication (per message, from the network's PRNG),
 * a per-node "deaf" switch, and crash/restart: a crash drops the member
 * and loses the ledger store's unsynced batches; a restart opens the
 * ledger again on what survived and creates a new member, which restores
 * its leases from the ledger.
 */
#ifndef TESTS_UNIT_MEMBER_CLUSTER_H
#define TESTS_UNIT_MEMBER_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "lease/lease.h"
#include "ledger/ledger.h"
#include "member/member.h"
#include "mesh/mesh.h"
#include "wire/wire.h"

#define MC_NODES_MAX  8u
#define MC_MSGS_MAX   100000u
#define MC_EVENTS_MAX 4096u
#define MC_EPOCH_NS   1798761600000000000ll /* 2027-01-01T00:00:00Z */

typedef struct mc_msg {
    uint64_t at_ns;
    uint64_t order;
    uint32_t to;
    uint32_t size;
    uint8_t *bytes;
} mc_msg;

typedef struct mc_event {
    uint32_t node;
    uint64_t at_ns;
    lease_event event;
} mc_event;

typedef struct mc_cluster mc_cluster;

typedef struct mc_io_ctx {
    mc_cluster *cluster;
    uint32_t node;
} mc_io_ctx;

struct mc_cluster {
    uint32_t count;
    mcrypto_keypair root;
    mcrypto_keypair keys[MC_NODES_MAX];
    uint8_t certs[MC_NODES_MAX][1024];
    uint32_t cert_sizes[MC_NODES_MAX];
    mesh_node_id ids[MC_NODES_MAX];
    member_config configs[MC_NODES_MAX];
    member_node *nodes[MC_NODES_MAX];
    ledger_mem_store *stores[MC_NODES_MAX];
    ledger_store store_vtables[MC_NODES_MAX];
    ledger *ledgers[MC_NODES_MAX];
    mesh_rng rngs[MC_NODES_MAX];
    mc_io_ctx io[MC_NODES_MAX];
    bool crashed[MC_NODES_MAX];
    bool deaf[MC_NODES_MAX];
    const char *seeds[1];
    mesh_rng net_rng;
    double loss;
    double duplicate;
    uint64_t latency_ns;
    uint64_t now_ns;
    uint64_t order;
    mc_msg *msgs;
    uint32_t msg_count;
    mc_event *events;
    uint32_t event_count;
    uint64_t commit_failures;
};

static inline mesh_now mc_now(const mc_cluster *c)
{
    mesh_now now = {.monotonic_ns = c->now_ns + 1000,
                    .realtime_ns = MC_EPOCH_NS + (int64_t) c->now_ns};
    return now;
}

static inline void mc_enqueue(mc_cluster *c, uint32_t to, const uint8_t *bytes, uint32_t size)
{
    if (c->msg_count == MC_MSGS_MAX) {
        abort();
    }
    mc_msg *m = &c->msgs[c->msg_count++];
    m->at_ns = c->now_ns + c->latency_ns;
    m->order = c->order++;
    m->to = to;
    m->size = size;
    m->bytes = malloc(size);
    memcpy(m->bytes, bytes, size);
}

static inline void mc_send(void *ctx,
                           const mesh_node_id *peer,
                           const char *endpoint,
                           const uint8_t *frame,
                           uint32_t frame_size)
{
    mc_io_ctx *io = ctx;
    mc_cluster *c = io->cluster;
    (void) peer;
    char *end = NULL;
    long parsed = strncmp(endpoint, "sim://", 6) == 0 ? strtol(endpoint + 6, &end, 10) : -1;
    if (parsed < 0 || end == NULL || *end != '\0') {
        return;
    }
    uint32_t to = (uint32_t) parsed;
    if (to >= c->count || c->crashed[to] || c->deaf[to] || mesh_rng_unit(&c->net_rng) < c->loss) {
        return;
    }
    mc_enqueue(c, to, frame, frame_size);
    if (mesh_rng_unit(&c->net_rng) < c->duplicate) {
        mc_enqueue(c, to, frame, frame_size);
    }
}

static inline void mc_on_event(void *ctx, mesh_now now, member_source source, const void *event)
{
    mc_io_ctx *io = ctx;
    mc_cluster *c = io->cluster;
    (void) now;
    if (source != MEMBER_SOURCE_LEASE || c->event_count == MC_EVENTS_MAX) {
        return;
    }
    mc_event *e = &c->events[c->event_count++];
    e->node = io->node;
    e->at_ns = c->now_ns;
    memcpy(&e->event, event, sizeof(e->event));
}

/* Lending policy of node i: `lendable` vCPUs of 1,024, at a price. */
static inline void mc_policy(lease_config *lease, uint64_t lendable, uint64_t price)
{
    lease->class_count = 1;
    memset(&lease->classes[0], 0, sizeof(lease->classes[0]));
    lease->classes[0].resource_class = WIRE_RESOURCE_VCPU;
    lease->classes[0].total = 1024;
    lease->classes[0].lendable = lendable;
    lease->classes[0].price_microeur_per_unit_hour = price;
}

static inline void mc_open(mc_cluster *c, uint32_t i)
{
    ledger_config config;
    ledger_config_default(&config);
    memcpy(config.self_key, c->keys[i].public_key, LEDGER_KEY_SIZE);
    if (ledger_open(&config, &c->store_vtables[i], &c->ledgers[i]) != MESH_OK) {
        abort();
    }
    c->configs[i].ledger_handle = c->ledgers[i];
    c->configs[i].store = &c->store_vtables[i];
    if (member_create(&c->configs[i], mc_now(c), &c->rngs[i], &c->nodes[i]) != MESH_OK) {
        abort();
    }
}

/* countries[i]: the certified country of node i ("FR", "DE", ...). */
static inline void
mc_init(mc_cluster *c, uint32_t count, uint64_t seed, const char *const *countries)
{
    memset(c, 0, sizeof(*c));
    if (mcrypto_init() != MESH_OK || count > MC_NODES_MAX) {
        abort();
    }
    c->count = count;
    c->latency_ns = MESH_NS_PER_MS;
    c->msgs = calloc(MC_MSGS_MAX, sizeof(mc_msg));
    c->events = calloc(MC_EVENTS_MAX, sizeof(mc_event));
    mesh_rng_seed(&c->net_rng, seed);
    uint8_t key_seed[MCRYPTO_SEED_SIZE];
    memset(key_seed, 0xee, sizeof(key_seed));
    if (mcrypto_keypair_from_seed(key_seed, &c->root) != MESH_OK) {
        abort();
    }
    c->seeds[0] = "sim://0";
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
        memcpy(cert.country, countries[i], 3);
        cert.jurisdiction_count = 2;
        // Jurisdictions sorted: "EU" before any country code after it.
        if (strcmp(countries[i], "EU") < 0) {
            memcpy(cert.jurisdictions[0], countries[i], 3);
            memcpy(cert.jurisdictions[1], "EU", 3);
        } else {
            memcpy(cert.jurisdictions[0], "EU", 3);
            memcpy(cert.jurisdictions[1], countries[i], 3);
        }
        cert.certifications = i % 2 == 0 ? WIRE_CERTIFICATION_HDS | WIRE_CERTIFICATION_ISO27001
                                         : WIRE_CERTIFICATION_C5 | WIRE_CERTIFICATION_ISO27001;
        cert.valid_from_ns = MC_EPOCH_NS - 86400ll * 1000000000ll;
        cert.valid_until_ns = MC_EPOCH_NS + 30ll * 86400ll * 1000000000ll;
        cert.serial = i + 1;
        if (mcrypto_cert_issue(&c->root, &cert, c->certs[i], sizeof(c->certs[i]),
                               &c->cert_sizes[i]) != MESH_OK) {
            abort();
        }
        member_config *config = &c->configs[i];
        member_config_default(config);
        config->gossip.keypair = c->keys[i];
        memcpy(config->gossip.root_public_key, c->root.public_key, MCRYPTO_PUBLIC_KEY_SIZE);
        config->gossip.cert_frame = c->certs[i];
        config->gossip.cert_frame_size = c->cert_sizes[i];
        config->gossip.advert.carbon_gco2_per_kwh = 50 + 100 * i;
        (void) snprintf(config->gossip.advert.endpoint, sizeof(config->gossip.advert.endpoint),
                        "sim://%u", i);
        config->gossip.seeds = c->seeds;
        config->gossip.seed_count = 1;
        mc_policy(&config->lease, 256, 30000 + 1000 * i);
        c->io[i] = (mc_io_ctx){.cluster = c, .node = i};
        config->io = (member_io){.ctx = &c->io[i], .send = mc_send, .event = mc_on_event};
        mesh_rng_seed(&c->rngs[i], seed * 1000 + i);
        if (ledger_mem_store_create(1u << 20, 1ull << 30, &c->stores[i]) != MESH_OK) {
            abort();
        }
        c->store_vtables[i] = ledger_mem_store_interface(c->stores[i]);
    }
}

/* Creates every member (call after changing configs[i]). */
static inline void mc_start(mc_cluster *c)
{
    for (uint32_t i = 0; i < c->count; i++) {
        mc_open(c, i);
    }
}

static inline void mc_crash(mc_cluster *c, uint32_t i)
{
    member_destroy(c->nodes[i]);
    c->nodes[i] = NULL;
    ledger_close(c->ledgers[i]);
    c->ledgers[i] = NULL;
    ledger_mem_store_crash(c->stores[i], LEDGER_CRASH_LOSE, &c->net_rng);
    c->crashed[i] = true;
}

static inline void mc_restart(mc_cluster *c, uint32_t i)
{
    c->crashed[i] = false;
    mc_open(c, i);
}

static inline void mc_fini(mc_cluster *c)
{
    for (uint32_t i = 0; i < c->count; i++) {
        member_destroy(c->nodes[i]);
        ledger_close(c->ledgers[i]);
        ledger_mem_store_destroy(c->stores[i]);
    }
    for (uint32_t i = 0; i < c->msg_count; i++) {
        free(c->msgs[i].bytes);
    }
    free(c->msgs);
    free(c->events);
}

/* A failed commit (a store fault a test injected) is the member's to
 * handle: the lease machine writes the records again. */
static inline void mc_flush(mc_cluster *c, uint32_t i)
{
    mesh_err err = member_flush(c->nodes[i], mc_now(c), &c->rngs[i]);
    if (err == MESH_ESTORE) {
        c->commit_failures++;
    } else if (err != MESH_OK) {
        abort();
    }
}

/* Runs until virtual time until_ns (relative to the start). */
static inline void mc_run(mc_cluster *c, uint64_t until_ns)
{
    for (;;) {
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
            uint64_t deadline = member_deadline_ns(c->nodes[n]);
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
            if (member_on_tick(c->nodes[timer_node], mc_now(c), &c->rngs[timer_node]) != MESH_OK) {
                abort();
            }
            mc_flush(c, timer_node);
            continue;
        }
        mc_msg m = c->msgs[best];
        c->msgs[best] = c->msgs[--c->msg_count];
        if (!c->crashed[m.to]) {
            if (member_on_frame(c->nodes[m.to], mc_now(c), m.bytes, m.size, &c->rngs[m.to]) !=
                MESH_OK) {
                abort();
            }
            mc_flush(c, m.to);
        }
        free(m.bytes);
    }
}

/* Runs until every member holds every other alive (or until limit_ns). */
static inline bool mc_converge(mc_cluster *c, uint64_t limit_ns)
{
    while (c->now_ns < limit_ns) {
        mc_run(c, c->now_ns + 100 * MESH_NS_PER_MS);
        bool all = true;
        for (uint32_t o = 0; o < c->count && all; o++) {
            for (uint32_t s = 0; s < c->count && all; s++) {
                gossip_member_info info;
                all =
                    c->crashed[o] || c->crashed[s] ||
                    (gossip_member_find(member_gossip(c->nodes[o]), &c->ids[s], &info) == MESH_OK &&
                     info.state == GOSSIP_ALIVE && (o == s || info.rtt_us > 0));
            }
        }
        if (all) {
            return true;
        }
    }
    return false;
}

/* The first event of a kind at a node after index `from`; NULL if none. */
static inline const mc_event *
mc_find_event(const mc_cluster *c, uint32_t node, lease_event_kind kind, uint32_t from)
{
    for (uint32_t i = from; i < c->event_count; i++) {
        if (c->events[i].node == node && c->events[i].event.kind == kind) {
            return &c->events[i];
        }
    }
    return NULL;
}

static inline uint32_t mc_count_events(const mc_cluster *c, uint32_t node, lease_event_kind kind)
{
    uint32_t count = 0;
    for (uint32_t i = 0; i < c->event_count; i++) {
        count += c->events[i].node == node && c->events[i].event.kind == kind;
    }
    return count;
}

static inline void mc_borrow_vcpu(mc_cluster *c,
                                  uint32_t node,
                                  uint64_t vcpu,
                                  uint64_t duration_ns,
                                  const wire_lease_constraints *constraints,
                                  uint32_t *borrow_id_out)
{
    lease_borrow_request request;
    memset(&request, 0, sizeof(request));
    request.resource_count = 1;
    request.resources[0].resource_class = WIRE_RESOURCE_VCPU;
    request.resources[0].amount = vcpu;
    request.duration_ns = duration_ns;
    if (constraints != NULL) {
        request.constraints = *constraints;
    }
    if (member_borrow(c->nodes[node], mc_now(c), &request, &c->rngs[node], borrow_id_out) !=
        MESH_OK) {
        abort();
    }
    mc_flush(c, node);
}

/* Reconciles the ledgers of a and b (their stores). */
static inline ledger_reconcile_report mc_reconcile(const mc_cluster *c, uint32_t a, uint32_t b)
{
    ledger_reconcile_report report;
    memset(&report, 0, sizeof(report));
    if (ledger_reconcile(&c->store_vtables[a], &c->store_vtables[b], &report) != MESH_OK) {
        abort();
    }
    return report;
}

#endif
