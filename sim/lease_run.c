/*
 * sim/lease_run.c: the lease scenario: N whole members (gossip, leases and
 * a ledger each, through member_node's executor) and K hostile ones, with
 * a seeded workload, loss, crashes and adversaries, every invariant checked
 * as the run goes (sim/sim.h has the scenario; sim/lease_check.c the
 * invariants).
 *
 * The loop. The event heap of the gossip scenario, ordered by (virtual
 * time, sequence). An event is one input to one member (a boot or a timer:
 * member_on_tick; a frame: member_on_frame; a load report, a borrow or a
 * release: the member's local commands), and after each the shell does
 * what the agent does after each batch: member_flush, which syncs the
 * ledger, lets the held frames leave and feeds the acknowledgements back.
 * Then the member's deadline is re-read and a TIMER event pushed when it
 * moved (older ones are skipped when they pop: lazy deletion, as in the
 * gossip scenario). Frames a member sends are routed by the network model
 * (each member sits in a city of the latency table, drawn from the seed;
 * one-way delay is half the cities' round trip with +-10 % jitter; loss is
 * independent) and come back as DELIVER events, or are dropped and
 * counted; a hostile member's frames pass its adversary first.
 *
 * After every event, each honest ledger written during it is checked for
 * capacity (lease_check.c), and all of them once more at the end; a ledger
 * changes only by writes, so nothing is missed between events. Journal
 * entries are checked as they are written (the store wrapper below hands
 * them over), so a lease breaking its constraints is seen at the write that
 * records it. Every check_ns, the gap between what hostile members promise
 * and what they have is measured, and progress reported.
 *
 * Randomness, one mesh_rng stream per purpose, all from the seed: setup
 * (keys, cities, capacities, certificates), the network, the workload
 * (loads, borrows, releases), faults (crash times, what a crash keeps), the
 * adversary, and one stream per member handed to its machines. A crash
 * keeps the member's stream, so its next life goes on with it.
 *
 * Time: monotonic_ns is the virtual time, shared; realtime is 2026-01-01
 * plus the virtual time plus the member's clock skew (up to
 * clock_skew_ns_max either way, drawn at setup).
 *
 * Bounds: the config's (events_max, inflight_bytes_max, records_max) and
 * the members' own (leases_max 1024 lease slots, 64 borrows each).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sim/lease_int.h"

#define STREAM_SETUP    0x1ea5e5e7u
#define STREAM_NETWORK  0x1ea5e4e7u
#define STREAM_WORKLOAD 0x1ea5e10du
#define STREAM_FAULT    0x1ea5efa1u
#define STREAM_NODE     0x1ea50000u

#define MIN_NS (60ull * MESH_NS_PER_S)
#define DAY_NS (86400ll * (int64_t) MESH_NS_PER_S)

static const char *const invariant_names[SIM_LEASE_INVARIANT_COUNT] = {
    "constraints", "capacity", "agree", "balance", "end", "ledger"};

const char *sim_lease_invariant_name(uint32_t invariant)
{
    return invariant < SIM_LEASE_INVARIANT_COUNT ? invariant_names[invariant] : "unknown";
}

static const char *const phase_names[] = {"join", "workload", "drain"};

void sim_lease_config_default(sim_lease_config *config)
{
    MESH_ASSERT(config != NULL);
    memset(config, 0, sizeof(*config));
    config->node_count = 8;
    config->seed = 1;
    config->clock_skew_ns_max = 100 * (int64_t) MESH_NS_PER_MS;
    config->join_ns = 20 * MESH_NS_PER_S;
    config->workload_ns = 30 * MIN_NS;
    config->drain_ns = 20 * MIN_NS;
    config->usage_interval_ns = 60 * MESH_NS_PER_S;
    config->duration_ns_min = 2 * MIN_NS;
    config->duration_ns_max = 10 * MIN_NS;
    config->borrow_interval_ns = 3 * MIN_NS;
    config->load_interval_ns = 20 * MESH_NS_PER_S;
    config->attack_interval_ns = 5 * MESH_NS_PER_S;
    config->check_ns = MESH_NS_PER_S;
    config->verify_ledgers = true;
    config->resource_class = WIRE_RESOURCE_VCPU;
    config->events_max = 1u << 24;
    config->inflight_bytes_max = 1ull << 30;
    config->records_max = 1u << 22;
}

static mesh_err config_check(const sim_lease_config *c, const sim_lease_plugin *plugin)
{
    uint64_t workload_ns_max = plugin != NULL ? plugin->workload_ns_max : SIM_LEASE_WORKLOAD_NS_MAX;
    if (c->node_count < 2 || c->node_count > SIM_LEASE_NODES_MAX ||
        c->hostile_count > SIM_LEASE_HOSTILE_MAX || c->loss_ppm > SIM_PPM ||
        c->crash_count > 4u * c->node_count || c->clock_skew_ns_max < 0 ||
        c->clock_skew_ns_max > 10 * (int64_t) MESH_NS_PER_S) {
        return MESH_EINVAL;
    }
    if (c->workload_ns < MESH_NS_PER_S || c->workload_ns > workload_ns_max ||
        c->join_ns < 5 * MESH_NS_PER_S || c->join_ns > 3600 * MESH_NS_PER_S ||
        c->drain_ns > workload_ns_max) {
        return MESH_EINVAL;
    }
    if (c->usage_interval_ns < MESH_NS_PER_S || c->duration_ns_min < MESH_NS_PER_S ||
        c->duration_ns_max < c->duration_ns_min || c->duration_ns_max > 7u * (uint64_t) DAY_NS ||
        c->borrow_interval_ns < MESH_NS_PER_S || c->load_interval_ns < MESH_NS_PER_S ||
        c->attack_interval_ns < 10 * MESH_NS_PER_MS || c->check_ns < MESH_NS_PER_MS) {
        return MESH_EINVAL;
    }
    // Every lease must be able to end within the drain: the longest lease,
    // and a minute for its last records.
    if (c->drain_ns < c->duration_ns_max + 60 * MESH_NS_PER_S) {
        return MESH_EINVAL;
    }
    if (c->events_max == 0 || c->records_max < 1024 || c->records_max > (1u << 28)) {
        return MESH_EINVAL;
    }
    bool gpu = c->resource_class == WIRE_RESOURCE_GPU && c->model[0] != '\0';
    bool vcpu = c->resource_class == WIRE_RESOURCE_VCPU && c->model[0] == '\0';
    if ((!gpu && !vcpu) || memchr(c->model, '\0', sizeof(c->model)) == NULL) {
        return MESH_EINVAL;
    }
    return MESH_OK;
}

static uint64_t stream_seed(uint64_t seed, uint64_t stream)
{
    return seed ^ (stream * 0x9e3779b97f4a7c15ull);
}

/* Uniform in [low, high]. */
static uint64_t draw(mesh_rng *rng, uint64_t low, uint64_t high)
{
    MESH_ASSERT(high >= low);
    return low + mesh_rng_below(rng, high - low + 1u);
}

/* The run whose panic hook prints seed and time; one at a time. */
static const sim_lease_world *panic_world;

static void panic_hook(void)
{
    if (panic_world != NULL) {
        (void) fprintf(stderr,
                       "sim leases: panic at seed %llu, virtual time %llu ns; replay with "
                       "'fedmesh sim leases --seed %llu' and the same options\n",
                       (unsigned long long) panic_world->config->seed,
                       (unsigned long long) panic_world->now_ns,
                       (unsigned long long) panic_world->config->seed);
    }
}

static void report(const sim_lease_world *world, const char *name)
{
    if (world->config->progress != NULL) {
        world->config->progress(world->config->progress_context, name, world->now_ns,
                                world->result.events);
    }
}

mesh_now sim_lease_now(const sim_lease_world *world, const sim_lease_node *node)
{
    mesh_now now = {
        .monotonic_ns = world->now_ns,
        .realtime_ns = SIM_LEASE_EPOCH_NS + (int64_t) world->now_ns + node->skew_ns,
    };
    return now;
}

void sim_lease_hex_id(const uint8_t id[LEDGER_LEASE_ID_SIZE], char text_out[33])
{
    static const char digits[] = "0123456789abcdef";
    char *out = text_out;
    for (uint32_t i = 0; i < LEDGER_LEASE_ID_SIZE; i++) {
        *out++ = digits[id[i] >> 4];
        *out++ = digits[id[i] & 15u];
    }
    *out = '\0';
}

__attribute__((format(printf, 3, 0))) static void
keep_violation(sim_lease_world *world, uint32_t invariant, const char *format, va_list args)
{
    sim_lease_result *r = &world->result;
    if (r->violation_count >= SIM_LEASE_VIOLATIONS_KEPT) {
        return;
    }
    sim_lease_violation *v = &r->violations[r->violation_count++];
    v->invariant = invariant;
    v->at_ns = world->now_ns;
    int written = vsnprintf(v->what, sizeof(v->what), format, args);
    if (written < 0) {
        v->what[0] = '\0';
    }
}

void sim_lease_violate(sim_lease_world *world,
                       sim_lease_invariant invariant,
                       const char *format,
                       ...)
{
    MESH_ASSERT((uint32_t) invariant < SIM_LEASE_INVARIANT_COUNT);
    world->result.invariant[invariant]++;
    world->result.invariant_violations++;
    va_list args;
    va_start(args, format);
    keep_violation(world, invariant, format, args);
    va_end(args);
}

void sim_lease_policy_violate(sim_lease_world *world, const char *format, ...)
{
    world->result.policy_violations++;
    va_list args;
    va_start(args, format);
    keep_violation(world, SIM_LEASE_INVARIANT_COUNT, format, args);
    va_end(args);
}

/* ---------------------------------------------------------------- */
/* The network and the digest.                                       */
/* ---------------------------------------------------------------- */

static void digest_u64(sim_lease_world *world, uint64_t value)
{
    uint8_t bytes[8];
    for (uint32_t i = 0; i < 8; i++) {
        bytes[i] = (uint8_t) (value >> (8 * i));
    }
    MESH_ASSERT(crypto_generichash_update(&world->digest, bytes, sizeof(bytes)) == 0);
}

/* Several values in one update (little-endian, as digest_u64 writes them). */
static void digest_words(sim_lease_world *world, const uint64_t *values, uint32_t count)
{
    uint8_t bytes[8 * 8];
    MESH_ASSERT(count <= 8);
    for (uint32_t k = 0; k < count; k++) {
        for (uint32_t i = 0; i < 8; i++) {
            bytes[8 * k + i] = (uint8_t) (values[k] >> (8 * i));
        }
    }
    MESH_ASSERT(crypto_generichash_update(&world->digest, bytes, 8ull * count) == 0);
}

static void digest_bytes(sim_lease_world *world, const uint8_t *bytes, uint32_t size)
{
    digest_u64(world, size);
    if (size > 0) {
        MESH_ASSERT(crypto_generichash_update(&world->digest, bytes, size) == 0);
    }
}

/* A message's fate: time, from, to, verdict, bytes. */
static void digest_message(sim_lease_world *world,
                           uint32_t from,
                           uint32_t to,
                           sim_verdict verdict,
                           const uint8_t *frame,
                           uint32_t size)
{
    // The bytes go in through SipHash-2-4 under a fixed key: eight bytes
    // that tell two runs' messages apart (the digest guards against
    // nondeterminism, not against an adversary) for a fraction of what
    // feeding every byte to BLAKE2b cost, and messages are most events.
    static const uint8_t key[crypto_shorthash_KEYBYTES] = {0};
    uint8_t hash[crypto_shorthash_BYTES];
    MESH_ASSERT(crypto_shorthash(hash, frame, size, key) == 0);
    uint64_t bytes_hash = 0;
    for (uint32_t i = 0; i < sizeof(hash); i++) {
        bytes_hash |= (uint64_t) hash[i] << (8 * i);
    }
    uint64_t record[6] = {1, world->now_ns, (uint64_t) from << 32 | to, verdict, size, bytes_hash};
    digest_words(world, record, MESH_ARRAY_COUNT(record)); // kind 1: a message
    if (verdict == SIM_VERDICT_DELIVER) {
        world->result.delivered++;
    } else {
        world->result.dropped[verdict]++;
    }
}

void sim_lease_digest_u64(sim_lease_world *world, uint64_t value)
{
    digest_u64(world, value);
}

static mesh_err push_event(sim_lease_world *world, const sim_event *event)
{
    MESH_ASSERT(event->time_ns >= world->now_ns);
    mesh_err err = sim_heap_push(&world->heap, event);
    if (err != MESH_OK && world->fatal == MESH_OK) {
        world->fatal = err;
    }
    return err;
}

void sim_lease_route(sim_lease_world *world,
                     uint32_t from,
                     uint32_t to,
                     const uint8_t *frame,
                     uint32_t frame_size,
                     uint64_t extra_ns)
{
    MESH_ASSERT(from < world->node_count && to < world->node_count);
    world->result.sends++;
    if (from < world->config->node_count) {
        bool lease_frame = frame_size >= 3 && frame[2] >= WIRE_TYPE_LEASE_REQUEST;
        *(lease_frame ? &world->result.lease_bytes : &world->result.gossip_bytes) += frame_size;
    }
    uint64_t delay_ns = 0;
    sim_verdict verdict =
        sim_net_route(&world->net, world->nodes[from].city, world->nodes[to].city, &delay_ns);
    if (verdict == SIM_VERDICT_DELIVER && world->nodes[to].crashed) {
        verdict = SIM_VERDICT_DOWN;
    }
    if (verdict == SIM_VERDICT_DELIVER &&
        world->inflight_bytes + frame_size > world->config->inflight_bytes_max) {
        verdict = SIM_VERDICT_OVERFLOW;
    }
    if (verdict != SIM_VERDICT_DELIVER) {
        digest_message(world, from, to, verdict, frame, frame_size);
        return;
    }
    uint8_t *copy = malloc(frame_size == 0 ? 1u : frame_size);
    if (copy == NULL) {
        world->fatal = MESH_ENOMEM;
        return;
    }
    if (frame_size > 0) {
        memcpy(copy, frame, frame_size);
    }
    sim_event event = {.time_ns = world->now_ns + delay_ns + extra_ns,
                       .kind = SIM_EVENT_DELIVER,
                       .node_index = to,
                       .from_index = from,
                       .payload = copy,
                       .payload_size = frame_size};
    if (push_event(world, &event) != MESH_OK) {
        free(copy);
        return;
    }
    world->inflight_bytes += frame_size;
    // An on-path attacker copies some of what honest members send each other.
    if (world->config->hostile_count > 0 && !world->nodes[from].hostile &&
        !world->nodes[to].hostile) {
        sim_lease_adversary_sniff(world, to, frame, frame_size);
    }
}

/* ---------------------------------------------------------------- */
/* What a member asks of its shell.                                  */
/* ---------------------------------------------------------------- */

static void on_send(void *ctx,
                    const mesh_node_id *peer,
                    const char *endpoint,
                    const uint8_t *frame,
                    uint32_t frame_size)
{
    const sim_lease_io *io = ctx;
    sim_lease_world *world = io->world;
    (void) peer;
    uint32_t to = UINT32_MAX;
    if (!sim_endpoint_parse(endpoint, world->node_count, &to)) {
        world->result.sends++;
        digest_message(world, io->index, UINT32_MAX, SIM_VERDICT_ADDRESS, frame, frame_size);
        return;
    }
    if (world->nodes[io->index].hostile) {
        sim_lease_adversary_send(world, io->index, to, frame, frame_size);
        return;
    }
    sim_lease_route(world, io->index, to, frame, frame_size, 0);
}

static void schedule_release(sim_lease_world *world, uint32_t index, const lease_event *event)
{
    mesh_rng *rng = &world->workload_rng;
    if (world->phase != SIM_LEASE_PHASE_WORKLOAD || mesh_rng_below(rng, 2) == 0) {
        return; // half of the direct leases run to their end
    }
    const sim_lease_node *node = &world->nodes[index];
    int64_t left_ns = event->end_ns - sim_lease_now(world, node).realtime_ns;
    if (left_ns < 2 * (int64_t) MESH_NS_PER_S) {
        return;
    }
    uint8_t *id = malloc(LEDGER_LEASE_ID_SIZE);
    if (id == NULL) {
        world->fatal = MESH_ENOMEM;
        return;
    }
    memcpy(id, event->lease_id, LEDGER_LEASE_ID_SIZE);
    sim_event release = {.time_ns = world->now_ns + draw(rng, MESH_NS_PER_S, (uint64_t) left_ns),
                         .kind = SIM_LEASE_EVENT_RELEASE,
                         .node_index = index,
                         .payload = id,
                         .payload_size = LEDGER_LEASE_ID_SIZE};
    if (push_event(world, &release) != MESH_OK) {
        free(id);
    }
}

static void on_member_event(void *ctx, mesh_now now, member_source source, const void *payload)
{
    const sim_lease_io *io = ctx;
    sim_lease_world *world = io->world;
    (void) now;
    if (source != MEMBER_SOURCE_LEASE) {
        return;
    }
    const lease_event *event = payload;
    bool honest = !world->nodes[io->index].hostile;
    if (honest && world->plugin != NULL && world->plugin->member_event != NULL) {
        world->plugin->member_event(world->plugin->context, world, io->index, event);
    }
    switch (event->kind) {
    case LEASE_EVENT_BORROW_DONE:
        if (honest && event->status >= 1 && event->status <= 3) {
            world->result.borrows[event->status]++;
        }
        break;
    case LEASE_EVENT_GRANTED:
        if (!event->self_is_lender && (event->tag & SIM_LEASE_DIRECT_TAG) != 0) {
            schedule_release(world, io->index, event);
        }
        break;
    default:
        break;
    }
}

/* ---------------------------------------------------------------- */
/* The observing store: digest and checker, then the memory store.   */
/* ---------------------------------------------------------------- */

static mesh_err store_get(void *ctx,
                          const uint8_t *key,
                          uint32_t key_size,
                          uint8_t *value_out,
                          uint32_t value_size_max,
                          uint32_t *value_size_out)
{
    const sim_lease_io *io = ctx;
    const ledger_store *inner = &io->world->nodes[io->index].mem_vtable;
    return inner->get(inner->ctx, key, key_size, value_out, value_size_max, value_size_out);
}

static mesh_err store_scan(void *ctx,
                           const uint8_t *prefix,
                           uint32_t prefix_size,
                           const uint8_t *start,
                           uint32_t start_size,
                           ledger_store_visit visit,
                           void *arg)
{
    const sim_lease_io *io = ctx;
    const ledger_store *inner = &io->world->nodes[io->index].mem_vtable;
    return inner->scan(inner->ctx, prefix, prefix_size, start, start_size, visit, arg);
}

static mesh_err store_sync(void *ctx)
{
    const sim_lease_io *io = ctx;
    const ledger_store *inner = &io->world->nodes[io->index].mem_vtable;
    return inner->sync(inner->ctx);
}

static mesh_err store_write(void *ctx, const ledger_batch *batch, bool sync)
{
    const sim_lease_io *io = ctx;
    sim_lease_world *world = io->world;
    sim_lease_node *node = &world->nodes[io->index];
    mesh_err err = node->mem_vtable.write(node->mem_vtable.ctx, batch, sync);
    if (err != MESH_OK) {
        return err;
    }
    world->result.ledger_writes++;
    digest_u64(world, 2); // the record kind: a ledger batch
    digest_u64(world, world->now_ns);
    digest_u64(world, (uint64_t) io->index << 1 | (sync ? 1u : 0u));
    digest_u64(world, batch->count);
    uint8_t journal_key[LEDGER_JOURNAL_KEY_SIZE];
    (void) ledger_key_journal(0, journal_key);
    for (uint32_t i = 0; i < batch->count; i++) {
        const ledger_op *op = &batch->ops[i];
        digest_u64(world, op->is_delete ? 1u : 0u);
        digest_bytes(world, op->key, op->key_size);
        if (op->is_delete) {
            continue;
        }
        digest_bytes(world, op->value, op->value_size);
        if (op->key_size != LEDGER_JOURNAL_KEY_SIZE || op->key[0] != journal_key[0]) {
            continue;
        }
        ledger_entry entry;
        if (ledger_entry_decode(op->value, op->value_size, &entry) != MESH_OK) {
            if (!node->hostile) {
                sim_lease_violate(world, SIM_LEASE_INV_LEDGER,
                                  "member %u wrote a journal entry that does not decode",
                                  io->index);
            }
            continue;
        }
        world->result.records_written++;
        node->ledger_dirty = true;
        if (!node->hostile) {
            sim_lease_check_entry(world, io->index, &entry);
        }
    }
    return MESH_OK;
}

/* ---------------------------------------------------------------- */
/* Members: creation, crash, restart.                                */
/* ---------------------------------------------------------------- */

/* Random constraints over the federation's countries and certificates;
 * each kind of constraint is set in a minority of requests. */
static void draw_constraints(mesh_rng *rng, uint64_t vcpu, wire_lease_constraints *c)
{
    static const char *const countries[] = {"AT", "BE", "DE", "ES", "FR",
                                            "IE", "IT", "NL", "PL", "SE"};
    static const uint32_t certifications[] = {WIRE_CERTIFICATION_SECNUMCLOUD, WIRE_CERTIFICATION_C5,
                                              WIRE_CERTIFICATION_HDS, WIRE_CERTIFICATION_ISO27001,
                                              WIRE_CERTIFICATION_EUCS_BASIC};
    memset(c, 0, sizeof(*c));
    if (mesh_rng_below(rng, 100) < 35) {
        // A sorted set: walk the sorted list, taking each with a chance.
        uint64_t want = draw(rng, 1, 4);
        for (uint32_t i = 0; i < MESH_ARRAY_COUNT(countries) && c->country_count < want; i++) {
            if (mesh_rng_below(rng, MESH_ARRAY_COUNT(countries) - i) < want - c->country_count) {
                memcpy(c->countries[c->country_count++], countries[i], 3);
            }
        }
    }
    uint64_t jurisdiction = mesh_rng_below(rng, 100);
    if (jurisdiction < 15) {
        c->jurisdiction_count = 1;
        memcpy(c->jurisdictions[0], "EU", 3);
    } else if (jurisdiction < 22) {
        c->jurisdiction_count = 1;
        memcpy(c->jurisdictions[0], countries[mesh_rng_below(rng, MESH_ARRAY_COUNT(countries))], 3);
    }
    if (mesh_rng_below(rng, 100) < 20) {
        c->certifications = certifications[mesh_rng_below(rng, MESH_ARRAY_COUNT(certifications))];
        if (c->certifications == WIRE_CERTIFICATION_HDS) {
            memcpy(c->data_class, "health", sizeof("health"));
        }
    }
    if (mesh_rng_below(rng, 100) < 20) {
        c->rtt_us_max = (uint32_t) draw(rng, 8000, 40000);
    }
    if (mesh_rng_below(rng, 100) < 20) {
        c->cost_microeur_per_hour_max = vcpu * draw(rng, 20000, 70000);
    }
    if (mesh_rng_below(rng, 100) < 15) {
        c->carbon_gco2_per_kwh_max = (uint32_t) draw(rng, 50, 400);
    }
}

/* Keys, city, certificate, capacity and the member's config. */
static mesh_err make_node(sim_lease_world *world, uint32_t index)
{
    const sim_lease_config *config = world->config;
    sim_lease_node *node = &world->nodes[index];
    mesh_rng *rng = &world->setup_rng;
    node->hostile = index >= config->node_count;
    node->city = (uint32_t) mesh_rng_below(rng, SIM_CITY_COUNT);
    (void) snprintf(node->endpoint, sizeof(node->endpoint), "sim://%u", index);
    mesh_rng_seed(&node->rng, stream_seed(config->seed, STREAM_NODE + (uint64_t) index));
    uint8_t key_seed[MCRYPTO_SEED_SIZE];
    for (uint32_t i = 0; i < MCRYPTO_SEED_SIZE; i += 8) {
        uint64_t value = mesh_rng_next(rng);
        memcpy(key_seed + i, &value, 8);
    }
    mesh_err err = mcrypto_keypair_from_seed(key_seed, &node->keypair);
    sodium_memzero(key_seed, sizeof(key_seed));
    if (err != MESH_OK) {
        return err;
    }
    mcrypto_node_id(node->keypair.public_key, &node->id);

    const sim_city *city = &sim_cities[node->city];
    wire_cert *cert = &node->cert;
    memset(cert, 0, sizeof(*cert));
    memcpy(cert->public_key, node->keypair.public_key, sizeof(cert->public_key));
    (void) snprintf(cert->name, sizeof(cert->name), "%s-%u", node->hostile ? "hostile" : "dc",
                    index);
    (void) snprintf(cert->operator_name, sizeof(cert->operator_name), "fedmesh simulator");
    memcpy(cert->country, city->country, 3);
    sim_cert_add_jurisdiction(cert, city->country);
    sim_cert_add_jurisdiction(cert, "EU");
    cert->certifications = WIRE_CERTIFICATION_ISO27001;
    if (mesh_rng_below(rng, 2) == 0) {
        cert->certifications |= strcmp(city->country, "FR") == 0 ? WIRE_CERTIFICATION_SECNUMCLOUD
                                                                 : WIRE_CERTIFICATION_C5;
    }
    if (mesh_rng_below(rng, 3) == 0) {
        cert->certifications |= WIRE_CERTIFICATION_HDS;
    }
    if (mesh_rng_below(rng, 3) == 0) {
        cert->certifications |= WIRE_CERTIFICATION_EUCS_BASIC;
    }
    cert->valid_from_ns = SIM_LEASE_EPOCH_NS - DAY_NS;
    cert->valid_until_ns = SIM_LEASE_EPOCH_NS + 365 * DAY_NS;
    cert->serial = (uint64_t) index + 1u;
    err = mcrypto_cert_issue(&world->root, cert, node->cert_frame, sizeof(node->cert_frame),
                             &node->cert_frame_size);
    if (err != MESH_OK) {
        return MESH_EINTERNAL;
    }
    MESH_ASSERT(crypto_generichash(node->cert_hash, sizeof(node->cert_hash), node->cert_frame,
                                   node->cert_frame_size, NULL, 0) == 0);
    node->carbon_gco2_per_kwh = sim_carbon_of(city->country);

    // Capacity: 64..512 vCPUs, 30..70 % lendable, 10 % kept for peaks, half
    // of lendable at most to one borrower. A hostile member's policy says
    // 4096 vCPUs (its adverts, and its offers, follow it) on 16 real ones.
    node->true_vcpu = 64u * draw(rng, 1, 8);
    node->total_vcpu = node->true_vcpu;
    node->lendable_vcpu = node->total_vcpu * draw(rng, 30, 70) / 100u;
    node->per_peer_max = node->lendable_vcpu / 2u;
    uint64_t price = 1000u * draw(rng, 20, 60);
    if (node->hostile) {
        node->true_vcpu = 16;
        node->total_vcpu = 4096;
        node->lendable_vcpu = 4096;
        node->per_peer_max = 0;
        price = 1000u * draw(rng, 5, 15); // cheap, to attract borrowers
    }
    node->base_load = node->true_vcpu * draw(rng, 20, 60) / 100u;
    if (config->clock_skew_ns_max > 0) {
        uint64_t span = 2u * (uint64_t) config->clock_skew_ns_max + 1u;
        node->skew_ns = (int64_t) mesh_rng_below(rng, span) - config->clock_skew_ns_max;
    }
    node->keep_vcpu = node->hostile ? 0 : node->total_vcpu / 10u;
    if (world->plugin != NULL) {
        // The scenario's site, after the draws (which keep their order):
        // its facts, then its certificate issued afresh.
        node->city = index % world->plugin->site_count;
        if (world->plugin->node_facts != NULL) {
            world->plugin->node_facts(world->plugin->context, index, node, &price);
        }
        err = mcrypto_cert_issue(&world->root, cert, node->cert_frame, sizeof(node->cert_frame),
                                 &node->cert_frame_size);
        if (err != MESH_OK) {
            return MESH_EINTERNAL;
        }
        MESH_ASSERT(crypto_generichash(node->cert_hash, sizeof(node->cert_hash), node->cert_frame,
                                       node->cert_frame_size, NULL, 0) == 0);
    }

    member_config *mc = &node->config;
    member_config_default(mc);
    mc->gossip.keypair = node->keypair;
    memcpy(mc->gossip.root_public_key, world->root.public_key, MCRYPTO_PUBLIC_KEY_SIZE);
    mc->gossip.cert_frame = node->cert_frame;
    mc->gossip.cert_frame_size = node->cert_frame_size;
    mc->gossip.advert.carbon_gco2_per_kwh = node->carbon_gco2_per_kwh;
    (void) snprintf(mc->gossip.advert.endpoint, sizeof(mc->gossip.advert.endpoint), "%s",
                    node->endpoint);
    mc->gossip.seeds = world->seeds;
    mc->gossip.seed_count = world->seed_count;
    mc->gossip.members_max = world->node_count + 16u;
    mc->gossip.revocations_max = 16;
    mc->gossip.verify_cache = world->verify_cache;
    mc->gossip.mac_memo = world->mac_memo;

    lease_config *lc = &mc->lease;
    lc->class_count = 1;
    memset(&lc->classes[0], 0, sizeof(lc->classes[0]));
    lc->classes[0].resource_class = config->resource_class;
    memcpy(lc->classes[0].model, config->model, sizeof(lc->classes[0].model));
    lc->classes[0].total = node->total_vcpu;
    lc->classes[0].lendable = node->lendable_vcpu;
    lc->classes[0].keep = node->keep_vcpu;
    lc->classes[0].per_peer_max = node->per_peer_max;
    lc->classes[0].price_microeur_per_unit_hour = price;
    lc->usage_interval_ns = config->usage_interval_ns;
    lc->reclaim_notice_ns = 30 * MESH_NS_PER_S;
    lc->leases_max = 1024;
    lc->borrows_max = 64;
    lc->verify_cache = world->verify_cache;
    mc->advert_interval_ns = 5 * MESH_NS_PER_S;

    member_burst_config *burst = &mc->burst;
    burst->enabled = true;
    burst->lease_duration_ns = MESH_NS_PER_S * draw(rng, config->duration_ns_min / MESH_NS_PER_S,
                                                    config->duration_ns_max / MESH_NS_PER_S);
    burst->release_delay_ns = 60 * MESH_NS_PER_S;
    burst->retry_ns = 30 * MESH_NS_PER_S;
    if (mesh_rng_below(rng, 3) == 0) {
        draw_constraints(rng, 16, &burst->constraints);
        burst->constraints.rtt_us_max = 0; // operators rarely cap latency for bursts
        burst->constraints.cost_microeur_per_hour_max = 0;
    }
    if (world->plugin != NULL && world->plugin->node_config != NULL) {
        world->plugin->node_config(world->plugin->context, index, node);
    }
    node->io = (sim_lease_io){.world = world, .index = index};
    mc->io = (member_io){.ctx = &node->io, .send = on_send, .event = on_member_event};

    err = ledger_mem_store_create(1u << 20, 1ull << 30, &node->mem_store);
    if (err != MESH_OK) {
        return err;
    }
    node->mem_vtable = ledger_mem_store_interface(node->mem_store);
    node->store = (ledger_store){.ctx = &node->io,
                                 .get = store_get,
                                 .write = store_write,
                                 .scan = store_scan,
                                 .sync = store_sync};
    return MESH_OK;
}

/* Opens the ledger on what the store holds and creates the member, which
 * restores its leases from it. */
static mesh_err open_member(sim_lease_world *world, uint32_t index)
{
    sim_lease_node *node = &world->nodes[index];
    ledger_config lc;
    ledger_config_default(&lc);
    memcpy(lc.self_key, node->keypair.public_key, LEDGER_KEY_SIZE);
    lc.leases_max = 16384;
    lc.peers_max = 512;
    mesh_err err = ledger_open(&lc, &node->store, &node->ledger_handle);
    if (err != MESH_OK) {
        (void) fprintf(stderr, "sim leases: member %u: ledger_open: %s\n", index,
                       mesh_strerror(err));
        return MESH_EINTERNAL;
    }
    node->config.ledger_handle = node->ledger_handle;
    node->config.store = &node->store;
    err = member_create(&node->config, sim_lease_now(world, node), &node->rng, &node->member);
    if (err != MESH_OK) {
        (void) fprintf(stderr, "sim leases: member %u: member_create: %s\n", index,
                       mesh_strerror(err));
        ledger_close(node->ledger_handle);
        node->ledger_handle = NULL;
        return err == MESH_ENOMEM ? err : MESH_EINTERNAL;
    }
    return MESH_OK;
}

/* The counters of a member's machines, added to those of its earlier lives. */
static void member_totals(const sim_lease_node *node, sim_lease_totals *out)
{
    *out = node->totals;
    if (node->member == NULL) {
        return;
    }
    lease_stats stats;
    lease_stats_get(member_lease(node->member), &stats);
    for (uint32_t r = 0; r <= WIRE_LEASE_REFUSAL_MAX; r++) {
        out->refusals[r] += stats.refusals_out_by[r];
    }
    for (uint32_t r = 0; r < LEASE_REJECT_COUNT; r++) {
        out->rejected[r] += stats.rejected[r];
    }
    out->reclaims += stats.reclaims;
    out->late_acceptances += stats.late_acceptances;
    member_stats member;
    member_stats_get(node->member, &member);
    out->burst_borrows += member.burst_borrows;
    out->burst_releases += member.burst_releases;
}

static void crash_member(sim_lease_world *world, uint32_t index, ledger_crash_mode mode)
{
    sim_lease_node *node = &world->nodes[index];
    MESH_ASSERT(!node->crashed && node->member != NULL);
    member_totals(node, &node->totals);
    member_destroy(node->member);
    node->member = NULL;
    ledger_close(node->ledger_handle);
    node->ledger_handle = NULL;
    ledger_mem_store_crash(node->mem_store, mode, &world->fault_rng);
    node->crashed = true;
    node->ever_crashed = true;
    node->timer_armed = false;
    node->timer_generation++;
    node->ledger_dirty = false;
    digest_u64(world, 3); // the record kind: a crash
    digest_u64(world, world->now_ns);
    digest_u64(world, index);
}

/* ---------------------------------------------------------------- */
/* After each input: flush, deadline, checks.                        */
/* ---------------------------------------------------------------- */

static void schedule_timer(sim_lease_world *world, uint32_t index, bool after_tick)
{
    sim_lease_node *node = &world->nodes[index];
    uint64_t deadline_ns = member_deadline_ns(node->member);
    if (deadline_ns == UINT64_MAX) {
        node->timer_armed = false;
        return;
    }
    if (node->timer_armed && node->timer_ns == deadline_ns) {
        return;
    }
    uint64_t at_ns = deadline_ns;
    if (at_ns > world->now_ns) {
        node->late_streak = 0;
    } else if (!after_tick) {
        at_ns = world->now_ns;
    } else {
        // Still due right after its own tick. Once, a machine that did
        // bounded work and has more: the next microsecond. The same past
        // deadline tick after tick is a tick that does nothing, which would
        // spin a real shell: counted once per episode (stuck_deadlines),
        // and backed off (doubling to a second) so that the run goes on.
        world->result.late_ticks++;
        if (node->late_streak > 0 && node->late_deadline_ns == deadline_ns) {
            node->late_streak++;
        } else {
            node->late_streak = 1;
            node->late_deadline_ns = deadline_ns;
        }
        if (node->late_streak == SIM_LEASE_STUCK_TICKS) {
            world->result.stuck_deadlines++;
            if (world->result.stuck_first_ns == 0) {
                world->result.stuck_first_ns = world->now_ns;
                world->result.stuck_first_member = index;
            }
        }
        uint32_t shift = node->late_streak < 31u ? node->late_streak - 1u : 30u;
        uint64_t backoff_ns = MESH_NS_PER_US << shift;
        at_ns = world->now_ns + (backoff_ns < MESH_NS_PER_S ? backoff_ns : MESH_NS_PER_S);
    }
    node->timer_generation++;
    node->timer_ns = deadline_ns;
    node->timer_armed = true;
    sim_event event = {.time_ns = at_ns,
                       .kind = SIM_EVENT_TIMER,
                       .node_index = index,
                       .generation = node->timer_generation};
    (void) push_event(world, &event);
}

static void after_call(sim_lease_world *world, uint32_t index, mesh_err call_err, bool after_tick)
{
    sim_lease_node *node = &world->nodes[index];
    if (call_err != MESH_OK) {
        world->result.call_errors++;
    }
    mesh_err err = member_flush(node->member, sim_lease_now(world, node), &node->rng);
    if (err != MESH_OK) {
        world->result.call_errors++;
    }
    schedule_timer(world, index, after_tick);
}

/* Capacity checks of the honest ledgers written during the last event. */
static void check_dirty(sim_lease_world *world)
{
    for (uint32_t i = 0; i < world->config->node_count; i++) {
        sim_lease_node *node = &world->nodes[i];
        if (node->ledger_dirty && !node->crashed) {
            node->ledger_dirty = false;
            sim_lease_check_capacity(world, i);
        }
    }
}

static void tick(sim_lease_world *world, uint32_t index)
{
    sim_lease_node *node = &world->nodes[index];
    mesh_err err = member_on_tick(node->member, sim_lease_now(world, node), &node->rng);
    after_call(world, index, err, true);
}

/* ---------------------------------------------------------------- */
/* The workload.                                                     */
/* ---------------------------------------------------------------- */

static uint64_t workload_end_ns(const sim_lease_world *world)
{
    return world->config->join_ns + world->config->workload_ns;
}

static void schedule_next(sim_lease_world *world, uint32_t index, uint32_t kind, uint64_t mean_ns)
{
    uint64_t at_ns = world->now_ns + draw(&world->workload_rng, mean_ns / 2u, mean_ns * 3u / 2u);
    if (at_ns >= workload_end_ns(world)) {
        return;
    }
    sim_event event = {.time_ns = at_ns, .kind = kind, .node_index = index};
    (void) push_event(world, &event);
}

static void set_load(sim_lease_world *world, uint32_t index, uint64_t load)
{
    sim_lease_node *node = &world->nodes[index];
    uint64_t running = load < node->total_vcpu ? load : node->total_vcpu;
    mesh_err err =
        member_set_load(node->member, sim_lease_now(world, node), world->config->resource_class,
                        world->config->model, load - running, running, &node->rng);
    after_call(world, index, err, false);
}

/* A load that idles around its base and now and then peaks over what the
 * member has: the burst policy borrows the overflow, and the member's
 * own lent leases are reclaimed. */
static void load_step(sim_lease_world *world, uint32_t index)
{
    sim_lease_node *node = &world->nodes[index];
    mesh_rng *rng = &world->workload_rng;
    uint64_t load = 0;
    if (world->now_ns < node->peak_until_ns) {
        load = node->peak_load;
    } else if (mesh_rng_below(rng, 100) < 8) {
        node->peak_load = node->true_vcpu * draw(rng, 90, 160) / 100u;
        node->peak_until_ns = world->now_ns + draw(rng, MIN_NS, 6 * MIN_NS);
        load = node->peak_load;
    } else {
        load = node->base_load * draw(rng, 80, 120) / 100u;
    }
    if (!node->crashed) {
        set_load(world, index, load);
    }
    schedule_next(world, index, SIM_LEASE_EVENT_LOAD, world->config->load_interval_ns);
}

static void borrow_step(sim_lease_world *world, uint32_t index)
{
    const sim_lease_config *config = world->config;
    sim_lease_node *node = &world->nodes[index];
    mesh_rng *rng = &world->workload_rng;
    lease_borrow_request request;
    memset(&request, 0, sizeof(request));
    request.resource_count = 1;
    request.resources[0].resource_class = WIRE_RESOURCE_VCPU;
    request.resources[0].amount = draw(rng, 1, 24);
    request.duration_ns = MESH_NS_PER_S * draw(rng, config->duration_ns_min / MESH_NS_PER_S,
                                               config->duration_ns_max / MESH_NS_PER_S);
    draw_constraints(rng, request.resources[0].amount, &request.constraints);
    request.tag = SIM_LEASE_DIRECT_TAG | world->result.direct_borrows;
    if (!node->crashed) {
        uint32_t borrow_id = 0;
        if (!node->hostile) {
            world->result.direct_borrows++;
        }
        mesh_err err = member_borrow(node->member, sim_lease_now(world, node), &request, &node->rng,
                                     &borrow_id);
        after_call(world, index, err == MESH_EFULL ? MESH_OK : err, false);
    }
    schedule_next(world, index, SIM_LEASE_EVENT_BORROW, config->borrow_interval_ns);
}

/* ---------------------------------------------------------------- */
/* Faults and the debug injection.                                   */
/* ---------------------------------------------------------------- */

static void crash_step(sim_lease_world *world, uint32_t index)
{
    sim_lease_node *node = &world->nodes[index];
    if (node->crashed || !node->started) {
        return; // already down: this crash is lost in the other one
    }
    mesh_rng *rng = &world->fault_rng;
    bool hostile = node->hostile;
    crash_member(world, index, hostile ? LEDGER_CRASH_TEAR : LEDGER_CRASH_LOSE);
    if (hostile) {
        world->result.attacks[SIM_LEASE_ATTACK_CRASH]++;
    } else {
        world->result.crashes++;
    }
    uint64_t down_ns = hostile ? draw(rng, 5 * MESH_NS_PER_S, 60 * MESH_NS_PER_S)
                               : draw(rng, 5 * MESH_NS_PER_S, 120 * MESH_NS_PER_S);
    sim_event restart = {
        .time_ns = world->now_ns + down_ns, .kind = SIM_LEASE_EVENT_RESTART, .node_index = index};
    (void) push_event(world, &restart);
}

static void restart_step(sim_lease_world *world, uint32_t index)
{
    sim_lease_node *node = &world->nodes[index];
    MESH_ASSERT(node->crashed);
    mesh_err err = open_member(world, index);
    if (err != MESH_OK) {
        world->fatal = err;
        return;
    }
    node->crashed = false;
    digest_u64(world, 4); // the record kind: a restart
    digest_u64(world, world->now_ns);
    digest_u64(world, index);
    tick(world, index);
}

/* Builds an OPENED record from the first honest member up to the next
 * honest one that breaks its constraints (only a country the lender is not
 * in) and the lender's capacity (lendable + 1 vCPUs), signs it with both
 * keys (the simulator holds them) and writes it into the lender's ledger,
 * as a buggy lease machine would. */
static void inject_step(sim_lease_world *world)
{
    uint32_t n = world->config->node_count;
    uint32_t index = 0;
    while (index < n && world->nodes[index].crashed) {
        index++;
    }
    if (index == n) {
        return; // every honest member is down: try nothing
    }
    sim_lease_node *lender = &world->nodes[index];
    sim_lease_node *borrower = &world->nodes[(index + 1u) % n];
    mesh_now now = sim_lease_now(world, lender);
    ledger_record record;
    memset(&record, 0, sizeof(record));
    record.version = LEDGER_RECORD_VERSION;
    record.kind = LEDGER_KIND_OPENED;
    for (uint32_t i = 0; i < LEDGER_LEASE_ID_SIZE; i++) {
        record.lease_id[i] = (uint8_t) (0xe0u + i);
    }
    memcpy(record.lender_key, lender->keypair.public_key, LEDGER_KEY_SIZE);
    memcpy(record.borrower_key, borrower->keypair.public_key, LEDGER_KEY_SIZE);
    record.time_ns = now.realtime_ns;
    record.amount_count = 1;
    record.amounts[0].resource_class = LEDGER_CLASS_VCPU;
    record.amounts[0].amount_milli = (lender->lendable_vcpu + 1u) * 1000u;
    ledger_terms *terms = &record.terms;
    terms->start_ns = now.realtime_ns;
    terms->end_ns = now.realtime_ns + 3600 * (int64_t) MESH_NS_PER_S;
    terms->price_count = 1;
    terms->prices[0] = lender->config.lease.classes[0].price_microeur_per_unit_hour;
    memcpy(terms->lender_cert_hash, lender->cert_hash, LEDGER_HASH_SIZE);
    memcpy(terms->lender_country, lender->cert.country, 3);
    terms->lender_jurisdiction_count = lender->cert.jurisdiction_count;
    memcpy(terms->lender_jurisdictions, lender->cert.jurisdictions,
           sizeof(terms->lender_jurisdictions));
    terms->lender_certifications = lender->cert.certifications;
    terms->carbon_gco2_per_kwh = lender->carbon_gco2_per_kwh;
    terms->constraints.country_count = 1;
    memcpy(terms->constraints.countries[0], strcmp(lender->cert.country, "PL") == 0 ? "SE" : "PL",
           3);
    uint8_t lender_signature[LEDGER_SIGNATURE_SIZE];
    uint8_t borrower_signature[LEDGER_SIGNATURE_SIZE];
    if (ledger_record_sign(&record, lender->keypair.secret_key, lender_signature) != MESH_OK ||
        ledger_record_sign(&record, borrower->keypair.secret_key, borrower_signature) != MESH_OK ||
        ledger_append(lender->ledger_handle, &record, lender_signature, borrower_signature, 0,
                      NULL) != MESH_OK ||
        ledger_commit(lender->ledger_handle, true, NULL, NULL) != MESH_OK) {
        world->fatal = MESH_EINTERNAL;
    }
}

/* ---------------------------------------------------------------- */
/* The loop.                                                         */
/* ---------------------------------------------------------------- */

static void deliver(sim_lease_world *world, sim_event *event)
{
    MESH_ASSERT(world->inflight_bytes >= event->payload_size);
    world->inflight_bytes -= event->payload_size;
    uint32_t index = event->node_index;
    sim_lease_node *node = &world->nodes[index];
    if (node->crashed || !node->started) {
        digest_message(world, event->from_index, index, SIM_VERDICT_DOWN, event->payload,
                       event->payload_size);
        return;
    }
    digest_message(world, event->from_index, index, SIM_VERDICT_DELIVER, event->payload,
                   event->payload_size);
    if (node->hostile) {
        sim_lease_adversary_deliver(world, index, event->from_index, event->payload,
                                    event->payload_size);
    }
    mesh_err err = member_on_frame(node->member, sim_lease_now(world, node), event->payload,
                                   event->payload_size, &node->rng);
    after_call(world, index, err, false);
}

/* Every check_ns: how far hostile members promise beyond what they have.
 * (The honest ledgers need no periodic sweep: a ledger changes only by
 * writes, and check_dirty looks at each one after the event that wrote it.
 * `all` sweeps them anyway, once at the end.) */
static void sweep(sim_lease_world *world, bool all)
{
    for (uint32_t i = 0; i < world->node_count; i++) {
        sim_lease_node *node = &world->nodes[i];
        if (node->crashed || node->member == NULL) {
            continue;
        }
        if (!node->hostile) {
            if (all) {
                node->ledger_dirty = false;
                sim_lease_check_capacity(world, i);
            }
            continue;
        }
        lease_capacity capacity;
        lease_capacity_at(member_lease(node->member), 0, &capacity);
        uint64_t over = capacity.lent > node->true_vcpu ? capacity.lent - node->true_vcpu : 0;
        if (over > world->result.hostile_overpromised_vcpu_max) {
            world->result.hostile_overpromised_vcpu_max = over;
        }
    }
}

static void on_event(sim_lease_world *world, sim_event *event)
{
    uint32_t index = event->node_index;
    sim_lease_node *node = index < world->node_count ? &world->nodes[index] : NULL;
    switch (event->kind) {
    case SIM_EVENT_START:
        node->started = true;
        tick(world, index);
        break;
    case SIM_EVENT_TIMER:
        if (!node->crashed && node->timer_armed && event->generation == node->timer_generation) {
            node->timer_armed = false;
            tick(world, index);
        }
        break;
    case SIM_EVENT_DELIVER:
        deliver(world, event);
        break;
    case SIM_EVENT_CHECK:
        sweep(world, false);
        if (world->now_ns / MIN_NS != (world->now_ns - world->config->check_ns) / MIN_NS) {
            report(world, phase_names[world->phase]);
        }
        event->time_ns = world->now_ns + world->config->check_ns;
        (void) push_event(world, event);
        break;
    case SIM_EVENT_ATTACK:
        if (!node->crashed && node->started) {
            sim_lease_adversary_attack(world, index);
        }
        event->time_ns = world->now_ns + world->config->attack_interval_ns;
        (void) push_event(world, event);
        break;
    case SIM_LEASE_EVENT_LOAD:
        load_step(world, index);
        break;
    case SIM_LEASE_EVENT_BORROW:
        borrow_step(world, index);
        break;
    case SIM_LEASE_EVENT_RELEASE:
        if (!node->crashed) {
            world->result.releases += node->hostile ? 0u : 1u;
            mesh_err err = member_release(node->member, sim_lease_now(world, node), event->payload,
                                          &node->rng);
            after_call(world, index, err == MESH_ENOTFOUND ? MESH_OK : err, false);
        }
        break;
    case SIM_LEASE_EVENT_CRASH:
        crash_step(world, index);
        break;
    case SIM_LEASE_EVENT_RESTART:
        restart_step(world, index);
        break;
    case SIM_LEASE_EVENT_INJECT:
        inject_step(world);
        break;
    default:
        MESH_ASSERT(world->plugin != NULL && event->kind >= SIM_LEASE_EVENT_PLUGIN &&
                    "unknown event kind");
        if (world->plugin->on_event != NULL) {
            world->plugin->on_event(world->plugin->context, world, event);
        }
    }
}

static const char *event_kind_name(uint32_t kind)
{
    static const char *const names[] = {
        [SIM_EVENT_START] = "start",         [SIM_EVENT_TIMER] = "timer",
        [SIM_EVENT_DELIVER] = "deliver",     [SIM_EVENT_CHECK] = "check",
        [SIM_EVENT_ATTACK] = "attack",       [SIM_LEASE_EVENT_LOAD] = "load",
        [SIM_LEASE_EVENT_BORROW] = "borrow", [SIM_LEASE_EVENT_RELEASE] = "release",
        [SIM_LEASE_EVENT_CRASH] = "crash",   [SIM_LEASE_EVENT_RESTART] = "restart",
        [SIM_LEASE_EVENT_INJECT] = "inject",
    };
    if (kind >= SIM_LEASE_EVENT_PLUGIN) {
        return "workload";
    }
    return kind < MESH_ARRAY_COUNT(names) && names[kind] != NULL ? names[kind] : "unknown";
}

/* stop_on_violation: the event after which the first violation stood. */
static void stop_after(sim_lease_world *world, const sim_event *event)
{
    sim_lease_result *r = &world->result;
    r->stopped = true;
    r->stopped_at_ns = world->now_ns;
    int written = 0;
    if (event->kind == SIM_EVENT_DELIVER) {
        written =
            snprintf(r->stopped_event, sizeof(r->stopped_event),
                     "deliver to member %u from member %u", event->node_index, event->from_index);
    } else if (event->kind >= SIM_LEASE_EVENT_PLUGIN) {
        written = snprintf(r->stopped_event, sizeof(r->stopped_event), "workload %u at site %u",
                           event->kind - SIM_LEASE_EVENT_PLUGIN, event->node_index);
    } else {
        written = snprintf(r->stopped_event, sizeof(r->stopped_event), "%s of member %u",
                           event_kind_name(event->kind), event->node_index);
    }
    MESH_ASSERT(written > 0 && (size_t) written < sizeof(r->stopped_event));
}

static mesh_err run_until(sim_lease_world *world, uint64_t limit_ns)
{
    for (;;) {
        if (world->fatal != MESH_OK) {
            return world->fatal;
        }
        const sim_event *next = sim_heap_peek(&world->heap);
        if (next == NULL || next->time_ns > limit_ns) {
            world->now_ns = limit_ns;
            return MESH_OK;
        }
        sim_event event;
        MESH_ASSERT(sim_heap_pop(&world->heap, &event));
        MESH_ASSERT(event.time_ns >= world->now_ns);
        world->now_ns = event.time_ns;
        world->result.events++;
        // The payload (a frame, a lease id) is the loop's to free; events
        // that recur (CHECK, ATTACK) carry none.
        uint8_t *payload = event.payload;
        uint32_t member = event.kind < SIM_LEASE_EVENT_PLUGIN ? event.node_index : UINT32_MAX;
        sim_event seen = event; // on_event may reuse it (recurring events)
        on_event(world, &event);
        free(payload);
        check_dirty(world);
        if (world->plugin != NULL && world->plugin->after_event != NULL) {
            world->plugin->after_event(world->plugin->context, world, member);
            check_dirty(world);
        }
        if (world->config->stop_on_violation &&
            world->result.invariant_violations + world->result.policy_violations > 0) {
            stop_after(world, &seen);
            return MESH_OK;
        }
    }
}

/* ---------------------------------------------------------------- */
/* Setup and teardown.                                               */
/* ---------------------------------------------------------------- */

static int compare_keys(const void *a, const void *b, void *context)
{
    const sim_lease_world *world = context;
    return memcmp(world->nodes[*(const uint32_t *) a].keypair.public_key,
                  world->nodes[*(const uint32_t *) b].keypair.public_key, LEDGER_KEY_SIZE);
}

uint32_t sim_lease_index_of_key(const sim_lease_world *world, const uint8_t key[LEDGER_KEY_SIZE])
{
    uint32_t low = 0;
    uint32_t high = world->node_count;
    while (low < high) {
        uint32_t mid = low + (high - low) / 2;
        uint32_t index = world->key_order[mid];
        int order = memcmp(world->nodes[index].keypair.public_key, key, LEDGER_KEY_SIZE);
        if (order == 0) {
            return index;
        }
        if (order < 0) {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    return UINT32_MAX;
}

static void sort_keys(sim_lease_world *world)
{
    // Insertion sort: a few hundred members at most, and qsort_r is not C11.
    for (uint32_t i = 0; i < world->node_count; i++) {
        world->key_order[i] = i;
    }
    for (uint32_t i = 1; i < world->node_count; i++) {
        uint32_t value = world->key_order[i];
        uint32_t at = i;
        while (at > 0 && compare_keys(&world->key_order[at - 1], &value, world) > 0) {
            world->key_order[at] = world->key_order[at - 1];
            at--;
        }
        world->key_order[at] = value;
    }
}

static mesh_err schedule_start(sim_lease_world *world)
{
    const sim_lease_config *config = world->config;
    mesh_rng *rng = &world->workload_rng;
    for (uint32_t i = 0; i < world->node_count; i++) {
        sim_event start = {.time_ns = mesh_rng_below(&world->setup_rng, MESH_NS_PER_S),
                           .kind = SIM_EVENT_START,
                           .node_index = i};
        if (push_event(world, &start) != MESH_OK) {
            return world->fatal;
        }
        if (world->plugin != NULL) {
            continue; // the plugin's workload, not the random one
        }
        sim_event load = {.time_ns =
                              config->join_ns + mesh_rng_below(rng, config->load_interval_ns),
                          .kind = SIM_LEASE_EVENT_LOAD,
                          .node_index = i};
        sim_event borrow = {.time_ns =
                                config->join_ns + mesh_rng_below(rng, config->borrow_interval_ns),
                            .kind = SIM_LEASE_EVENT_BORROW,
                            .node_index = i};
        if (push_event(world, &load) != MESH_OK ||
            (borrow.time_ns < workload_end_ns(world) && push_event(world, &borrow) != MESH_OK)) {
            return world->fatal;
        }
    }
    // Honest crashes land in the workload, far enough from its end for the
    // restart (at most 2 min later) to come before the drain.
    mesh_rng *faults = &world->fault_rng;
    uint64_t first_ns = config->join_ns + config->workload_ns / 10u;
    uint64_t last_ns = workload_end_ns(world) > first_ns + 3 * MIN_NS
                           ? workload_end_ns(world) - 3 * MIN_NS
                           : first_ns;
    for (uint32_t k = 0; k < config->crash_count; k++) {
        sim_event crash = {.time_ns = draw(faults, first_ns, last_ns),
                           .kind = SIM_LEASE_EVENT_CRASH,
                           .node_index = (uint32_t) mesh_rng_below(faults, config->node_count)};
        if (push_event(world, &crash) != MESH_OK) {
            return world->fatal;
        }
    }
    for (uint32_t h = config->node_count; h < world->node_count; h++) {
        sim_event crash = {.time_ns = draw(faults, first_ns, last_ns),
                           .kind = SIM_LEASE_EVENT_CRASH,
                           .node_index = h};
        sim_event attack = {.time_ns = config->join_ns +
                                       mesh_rng_below(faults, config->attack_interval_ns),
                            .kind = SIM_EVENT_ATTACK,
                            .node_index = h};
        if (push_event(world, &crash) != MESH_OK || push_event(world, &attack) != MESH_OK) {
            return world->fatal;
        }
    }
    sim_event check = {.time_ns = config->check_ns, .kind = SIM_EVENT_CHECK};
    if (push_event(world, &check) != MESH_OK) {
        return world->fatal;
    }
    if (world->plugin != NULL) {
        mesh_err err = world->plugin->start(world->plugin->context, world);
        if (err != MESH_OK) {
            return err;
        }
    }
    if (config->inject_violation) {
        sim_event inject = {.time_ns = config->join_ns + config->workload_ns / 2u,
                            .kind = SIM_LEASE_EVENT_INJECT};
        if (push_event(world, &inject) != MESH_OK) {
            return world->fatal;
        }
    }
    return MESH_OK;
}

static mesh_err setup(sim_lease_world *world)
{
    const sim_lease_config *config = world->config;
    if (mcrypto_init() != MESH_OK) {
        return MESH_EINTERNAL;
    }
    mesh_rng_seed(&world->setup_rng, stream_seed(config->seed, STREAM_SETUP));
    mesh_rng_seed(&world->workload_rng, stream_seed(config->seed, STREAM_WORKLOAD));
    mesh_rng_seed(&world->fault_rng, stream_seed(config->seed, STREAM_FAULT));
    // The network routes city to city: sim_net is given the cities as its
    // nodes, and each member's city stands in for its index.
    uint32_t net_nodes = world->plugin != NULL ? world->plugin->site_count : SIM_CITY_COUNT;
    mesh_err err = sim_net_init(&world->net, net_nodes, config->loss_ppm,
                                stream_seed(config->seed, STREAM_NETWORK));
    if (err != MESH_OK) {
        return err;
    }
    if (world->plugin != NULL) {
        sim_net_set_rtt_table(&world->net, world->plugin->rtt_us);
    }
    sim_heap_init(&world->heap, config->events_max);
    MESH_ASSERT(crypto_generichash_init(&world->digest, NULL, 0, SIM_DIGEST_SIZE) == 0);
    world->node_count = config->node_count + config->hostile_count;
    world->nodes = calloc(world->node_count, sizeof(sim_lease_node));
    world->key_order = calloc(world->node_count, sizeof(uint32_t));
    if (world->nodes == NULL || world->key_order == NULL) {
        return MESH_ENOMEM;
    }
    err = mcrypto_verify_cache_create(1u << 16, &world->verify_cache);
    if (err == MESH_OK) {
        err = mcrypto_mac_memo_create(1u << 12, &world->mac_memo);
    }
    if (err == MESH_OK) {
        err = sim_lease_check_init(&world->checker);
    }
    if (err == MESH_OK) {
        err = sim_lease_adversary_init(world);
    }
    if (err != MESH_OK) {
        return err;
    }
    uint8_t root_seed[MCRYPTO_SEED_SIZE];
    for (uint32_t i = 0; i < MCRYPTO_SEED_SIZE; i += 8) {
        uint64_t value = mesh_rng_next(&world->setup_rng);
        memcpy(root_seed + i, &value, 8);
    }
    err = mcrypto_keypair_from_seed(root_seed, &world->root);
    sodium_memzero(root_seed, sizeof(root_seed));
    if (err != MESH_OK) {
        return err;
    }
    static const char *const seed_endpoints[3] = {"sim://0", "sim://1", "sim://2"};
    world->seed_count = config->node_count < 3 ? config->node_count : 3;
    for (uint32_t i = 0; i < world->seed_count; i++) {
        world->seeds[i] = seed_endpoints[i];
    }
    for (uint32_t i = 0; i < world->node_count; i++) {
        err = make_node(world, i);
        if (err != MESH_OK) {
            return err;
        }
    }
    sort_keys(world);
    for (uint32_t i = 0; i < world->node_count; i++) {
        err = open_member(world, i);
        if (err != MESH_OK) {
            return err;
        }
    }
    return schedule_start(world);
}

static void teardown(sim_lease_world *world)
{
    if (world->nodes != NULL) {
        for (uint32_t i = 0; i < world->node_count; i++) {
            sim_lease_node *node = &world->nodes[i];
            member_destroy(node->member);
            ledger_close(node->ledger_handle);
            ledger_mem_store_destroy(node->mem_store);
            mcrypto_keypair_wipe(&node->keypair);
            sodium_memzero(&node->config.gossip.keypair, sizeof(node->config.gossip.keypair));
        }
    }
    sim_lease_adversary_fini(world);
    sim_lease_check_fini(&world->checker);
    mcrypto_verify_cache_destroy(world->verify_cache);
    mcrypto_mac_memo_destroy(world->mac_memo);
    mcrypto_keypair_wipe(&world->root);
    free(world->nodes);
    free(world->key_order);
    sim_heap_fini(&world->heap);
    sim_net_fini(&world->net);
}

/* ---------------------------------------------------------------- */
/* The scenario.                                                     */
/* ---------------------------------------------------------------- */

static void collect(sim_lease_world *world)
{
    sim_lease_result *r = &world->result;
    for (uint32_t i = 0; i < world->config->node_count; i++) {
        sim_lease_totals totals;
        member_totals(&world->nodes[i], &totals);
        for (uint32_t k = 0; k <= WIRE_LEASE_REFUSAL_MAX; k++) {
            r->refusals[k] += totals.refusals[k];
        }
        for (uint32_t k = 0; k < LEASE_REJECT_COUNT; k++) {
            r->rejected[k] += totals.rejected[k];
        }
        r->reclaims += totals.reclaims;
        r->late_acceptances += totals.late_acceptances;
        r->burst_borrows += totals.burst_borrows;
        r->burst_releases += totals.burst_releases;
    }
}

static mesh_err run_scenario(sim_lease_world *world)
{
    const sim_lease_config *config = world->config;
    world->phase = SIM_LEASE_PHASE_JOIN;
    report(world, phase_names[world->phase]);
    mesh_err err = run_until(world, config->join_ns);
    if (err != MESH_OK || world->result.stopped) {
        return err;
    }
    world->phase = SIM_LEASE_PHASE_WORKLOAD;
    report(world, phase_names[world->phase]);
    err = run_until(world, workload_end_ns(world));
    if (err != MESH_OK || world->result.stopped) {
        return err;
    }
    // The drain: loads fall to zero, so that the burst policy gives back
    // what it borrowed; nobody borrows any more; every lease can end.
    world->phase = SIM_LEASE_PHASE_DRAIN;
    report(world, phase_names[world->phase]);
    if (world->plugin != NULL) {
        if (world->plugin->drain != NULL) {
            world->plugin->drain(world->plugin->context, world);
        }
    } else {
        for (uint32_t i = 0; i < world->node_count; i++) {
            if (!world->nodes[i].crashed) {
                set_load(world, i, 0);
            }
        }
    }
    check_dirty(world);
    err = run_until(world, workload_end_ns(world) + config->drain_ns);
    if (err != MESH_OK || world->result.stopped) {
        return err;
    }
    sweep(world, true);
    collect(world);
    return sim_lease_check_end(world);
}

mesh_err sim_lease_run(const sim_lease_config *config, sim_lease_result *result_out)
{
    return sim_lease_run_plugin(config, NULL, result_out);
}

mesh_err sim_lease_run_plugin(const sim_lease_config *config,
                              const sim_lease_plugin *plugin,
                              sim_lease_result *result_out)
{
    MESH_ASSERT(config != NULL && result_out != NULL);
    MESH_ASSERT(plugin == NULL ||
                (plugin->start != NULL && plugin->site_count > 0 && plugin->rtt_us != NULL));
    mesh_err err = config_check(config, plugin);
    if (err != MESH_OK) {
        return err;
    }
    sim_lease_world *world = calloc(1, sizeof(*world));
    if (world == NULL) {
        return MESH_ENOMEM;
    }
    world->config = config;
    world->plugin = plugin;
    world->result.config = *config;
    world->result.config.progress = NULL;
    world->result.config.progress_context = NULL;
    panic_world = world;
    mesh_panic_set_hook(panic_hook);

    err = setup(world);
    if (err == MESH_OK) {
        err = run_scenario(world);
    }
    if (err == MESH_OK) {
        report(world, "end");
        world->result.end_ns = world->now_ns;
        char *text = malloc(SIM_LEASE_JSON_SIZE_MAX);
        uint32_t text_size = 0;
        err = text == NULL ? MESH_ENOMEM
                           : sim_lease_json_body(&world->result, false, text,
                                                 SIM_LEASE_JSON_SIZE_MAX, &text_size);
        if (err == MESH_OK) {
            digest_bytes(world, (const uint8_t *) text, text_size);
            MESH_ASSERT(crypto_generichash_final(&world->digest, world->result.digest,
                                                 SIM_DIGEST_SIZE) == 0);
            *result_out = world->result;
        }
        free(text);
    }
    mesh_panic_set_hook(NULL);
    panic_world = NULL;
    teardown(world);
    free(world);
    return err;
}

mesh_err sim_lease_result_json(const sim_lease_result *result,
                               char *buf,
                               uint32_t buf_size,
                               uint32_t *size_out)
{
    return sim_lease_json_body(result, true, buf, buf_size, size_out);
}

/* ---------------------------------------------------------------- */
/* What a plugin drives (lease_int.h).                               */
/* ---------------------------------------------------------------- */

mesh_err sim_lease_push(sim_lease_world *world, const sim_event *event)
{
    return push_event(world, event);
}

void sim_lease_set_load(sim_lease_world *world, uint32_t index, uint64_t queued, uint64_t running)
{
    sim_lease_node *node = &world->nodes[index];
    if (node->crashed || !node->started) {
        return;
    }
    mesh_err err =
        member_set_load(node->member, sim_lease_now(world, node), world->config->resource_class,
                        world->config->model, queued, running, &node->rng);
    after_call(world, index, err, false);
}

void sim_lease_crash(sim_lease_world *world, uint32_t index)
{
    sim_lease_node *node = &world->nodes[index];
    if (node->crashed || !node->started) {
        return;
    }
    crash_member(world, index, LEDGER_CRASH_LOSE);
    world->result.crashes++;
}

void sim_lease_restart(sim_lease_world *world, uint32_t index)
{
    if (world->nodes[index].crashed) {
        restart_step(world, index);
    }
}
