/*
 * sim/gossip_run.c: the gossip scenario: N unchanged gossip machines on a
 * simulated network, driven from one event heap (sim/sim.h has the
 * scenario and what each figure means).
 *
 * The loop. Pop the earliest event, set the virtual clock to its time, and
 * make the one call it stands for (gossip_on_tick for START and TIMER,
 * gossip_on_message for DELIVER). After every call on a node, execute its
 * outbox in order (a SEND is routed by the network model and becomes a
 * DELIVER event, or is dropped and counted), then re-read the node's
 * gossip_deadline_ns: when it moved, push a TIMER event with a new
 * generation; older TIMER events of that node are skipped when they pop
 * (lazy deletion, cheaper than searching the heap). CHECK events recur
 * every check_ns and evaluate the condition the current phase waits for.
 *
 * Randomness, one mesh_rng stream per purpose, all derived from the seed:
 * setup (keys, start times, adverts, crash choice), the network, and one
 * stream per node handed to its machine. A node's machine therefore sees
 * the same random numbers whatever the other nodes do.
 *
 * Checking conditions cheaply. Comparing N views costs O(N) hash reads,
 * and "every member ALIVE everywhere" costs O(N^2) lookups. Both start at a
 * witness: the node (and member) that failed the last check. Before a
 * condition holds, the witness almost always still fails, so a check is
 * O(1); the full sweep runs only when the condition is about to hold.
 *
 * Time: monotonic_ns is the virtual time (all nodes share it); realtime is
 * 2026-01-01T00:00:00Z plus the virtual time plus the node's clock skew.
 *
 * Bounds: events_max queued events, inflight_bytes_max bytes of frames in
 * flight, SIM_NODES_MAX nodes; every phase has a virtual-time limit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/crypto.h"
#include "gossip/gossip.h"
#include "member/member.h"
#include "sim/sim_int.h"
#include "wire/wire.h"

#define SIM_EPOCH_NS       (1767225600ll * (int64_t) MESH_NS_PER_S) /* 2026-01-01T00:00:00Z */
#define SIM_DAY_NS         (86400ll * (int64_t) MESH_NS_PER_S)
#define SIM_SEED_COUNT_MAX 3u
#define SIM_ENDPOINT_SIZE  24u

_Static_assert(sizeof(((sim_gossip_result *) NULL)->dropped) / sizeof(uint64_t) ==
                   SIM_VERDICT_COUNT,
               "one drop counter per verdict");

/* Stream ids mixed into the seed, one per purpose. */
#define STREAM_SETUP   0x5e7u
#define STREAM_NETWORK 0x4e7u
#define STREAM_NODE    0x40de0000u
#define STREAM_HOSTILE 0x4057u
#define HOSTILE_FIRST  3u /* hostile members are 3..3+K-1: never a seed */

/* Grid carbon intensity, gCO2/kWh: Ember's 2024 yearly country averages,
 * transcribed (rounded) from ../shared/data/carbon-ember-yearly-average-
 * intensities.json (co2.js; CC BY-SA 4.0); see data/PROVENANCE.md. */
static const struct {
    char country[3];
    uint32_t carbon_gco2_per_kwh;
} carbon_table[] = {
    {"AT", 103}, {"BE", 118}, {"DE", 342}, {"ES", 146}, {"FR", 44},
    {"IE", 280}, {"IT", 288}, {"NL", 253}, {"PL", 615}, {"SE", 36},
};

typedef struct sim_node {
    member_node *member;   /* a member without a ledger: gossip through the one executor */
    const gossip *machine; /* member_gossip(member), for queries */
    mesh_rng rng;
    mesh_node_id id;
    uint64_t start_ns;
    int64_t skew_ns;
    uint64_t timer_ns; /* the deadline a live TIMER event stands for */
    uint64_t timer_generation;
    bool timer_armed;
    bool started;
    bool crashed;
    bool has_news;        /* holds node 0's new advert */
    bool false_down_seen; /* as a member: counted in false_down already */
    char endpoint[SIM_ENDPOINT_SIZE];
} sim_node;

typedef struct id_entry {
    mesh_node_id id;
    uint32_t index;
} id_entry;

typedef enum phase {
    PHASE_JOIN = 0,
    PHASE_IDLE = 1,
    PHASE_ADVERT = 2,
    PHASE_CRASH = 3,
    PHASE_PARTITION = 4,
    PHASE_HEAL = 5,
    PHASE_TAIL = 6,
} phase;

typedef struct sim_run {
    const sim_gossip_config *config;
    sim_gossip_result result;
    sim_node *nodes;
    uint32_t node_count;
    uint32_t live_count;
    sim_heap heap;
    sim_net net;
    mesh_rng setup_rng;
    uint64_t now_ns;
    uint64_t inflight_bytes;
    crypto_generichash_state digest;
    struct sim_io {
        struct sim_run *run;
        uint32_t index;
    } * io;            /* one per node: the member_io context */
    mesh_err io_error; /* the first error a member_io callback met in a call */

    phase phase;
    bool false_down_counting;
    uint32_t witness_node;
    uint32_t witness_member;
    uint32_t news_count;
    uint32_t news_99_count;
    uint64_t advert_at_ns;
    uint8_t *crashed_flags;             /* node_count entries */
    id_entry *id_order;                 /* every node's id, sorted, for lookups */
    mcrypto_verify_cache *verify_cache; /* shared by every machine; NULL when off */
    gossip_store *store;                /* every machine's frames, each kept once */
    mcrypto_pair_cache *pair_cache;     /* pair keys, shared: both sides derive the same */
    /* Hostile members: their keys, a key no root admitted, and a
     * certificate for it from another root. */
    mesh_rng hostile_rng;
    mcrypto_keypair *hostile_keys;
    mcrypto_keypair stranger;
    uint8_t stranger_cert[WIRE_RECORD_SIZE_MAX];
    uint32_t stranger_cert_size;
} sim_run;

static const char *const phase_names[] = {"join",      "idle", "advert", "crash",
                                          "partition", "heal", "tail"};

static void report(const sim_run *run, const char *name)
{
    if (run->config->progress != NULL) {
        run->config->progress(run->config->progress_context, name, run->now_ns, run->result.events);
    }
}

static void enter_phase(sim_run *run, phase next)
{
    run->phase = next;
    report(run, phase_names[next]);
}

/* The run whose panic hook prints seed and time; one at a time. */
static const sim_run *panic_run;

static void panic_hook(void)
{
    if (panic_run != NULL) {
        (void) fprintf(stderr, "sim: panic at seed %llu, virtual time %llu ns\n",
                       (unsigned long long) panic_run->config->seed,
                       (unsigned long long) panic_run->now_ns);
    }
}

void sim_gossip_config_default(sim_gossip_config *config)
{
    MESH_ASSERT(config != NULL);
    memset(config, 0, sizeof(*config));
    config->node_count = 50;
    config->seed = 1;
    config->fanout = 3;
    config->interval_ns = MESH_NS_PER_S;
    config->members_slack = 16;
    config->join_limit_ns = 300 * MESH_NS_PER_S;
    config->idle_window_ns = 60 * MESH_NS_PER_S;
    config->phase_limit_ns = 300 * MESH_NS_PER_S;
    config->tail_ns = 10 * MESH_NS_PER_S;
    config->check_ns = 10 * MESH_NS_PER_MS;
    config->inflight_bytes_max = 1ull << 30;
    config->events_max = 1u << 24;
}

static uint64_t stream_seed(uint64_t seed, uint64_t stream)
{
    // splitmix64 inside mesh_rng_seed spreads neighbouring values apart.
    return seed ^ (stream * 0x9e3779b97f4a7c15ull);
}

static bool node_live(const sim_node *node)
{
    return node->started && !node->crashed;
}

static mesh_now node_now(const sim_run *run, const sim_node *node)
{
    mesh_now now = {
        .monotonic_ns = run->now_ns,
        .realtime_ns = SIM_EPOCH_NS + (int64_t) run->now_ns + node->skew_ns,
    };
    return now;
}

/* The digest: every message's fate, in the order the simulator decides it. */
static void digest_message(sim_run *run,
                           uint32_t from,
                           uint32_t to,
                           sim_verdict verdict,
                           const uint8_t *payload,
                           uint32_t size)
{
    uint8_t head[21];
    for (uint32_t i = 0; i < 8; i++) {
        head[i] = (uint8_t) (run->now_ns >> (8 * i));
    }
    for (uint32_t i = 0; i < 4; i++) {
        head[8 + i] = (uint8_t) (from >> (8 * i));
        head[12 + i] = (uint8_t) (to >> (8 * i));
        head[17 + i] = (uint8_t) (size >> (8 * i));
    }
    head[16] = (uint8_t) verdict;
    MESH_ASSERT(crypto_generichash_update(&run->digest, head, sizeof(head)) == 0);
    if (size > 0) {
        MESH_ASSERT(crypto_generichash_update(&run->digest, payload, size) == 0);
    }
    if (verdict == SIM_VERDICT_DELIVER) {
        run->result.delivered++;
    } else {
        run->result.dropped[verdict]++;
    }
}

static mesh_err push_event(sim_run *run, const sim_event *event)
{
    MESH_ASSERT(event->time_ns >= run->now_ns);
    mesh_err err = sim_heap_push(&run->heap, event);
    if (err != MESH_OK) {
        (void) fprintf(stderr, "sim: cannot queue an event: %s\n", mesh_strerror(err));
    }
    return err;
}

static mesh_err schedule_timer(sim_run *run, uint32_t index, bool after_tick)
{
    sim_node *node = &run->nodes[index];
    uint64_t deadline_ns = member_deadline_ns(node->member);
    if (deadline_ns == UINT64_MAX) {
        node->timer_armed = false;
        return MESH_OK;
    }
    if (node->timer_armed && node->timer_ns == deadline_ns) {
        return MESH_OK;
    }
    uint64_t at_ns = deadline_ns;
    if (at_ns <= run->now_ns) {
        // A machine that is still due right after its own tick would spin
        // at one instant; give it the next microsecond, and count it.
        if (after_tick) {
            run->result.late_ticks++;
            at_ns = run->now_ns + MESH_NS_PER_US;
        } else {
            at_ns = run->now_ns;
        }
    }
    node->timer_generation++;
    node->timer_ns = deadline_ns;
    node->timer_armed = true;
    sim_event event = {
        .time_ns = at_ns,
        .kind = SIM_EVENT_TIMER,
        .node_index = index,
        .generation = node->timer_generation,
    };
    return push_event(run, &event);
}

static mesh_err send_frame(sim_run *run, uint32_t from, const mesh_output *item)
{
    uint32_t to = UINT32_MAX;
    run->result.sends++;
    run->result.sent_bytes += item->payload_size;
    if (!sim_endpoint_parse(item->endpoint, run->node_count, &to)) {
        digest_message(run, from, UINT32_MAX, SIM_VERDICT_ADDRESS, item->payload,
                       item->payload_size);
        return MESH_OK;
    }
    uint64_t delay_ns = 0;
    sim_verdict verdict = sim_net_route(&run->net, from, to, &delay_ns);
    if (verdict == SIM_VERDICT_DELIVER && run->nodes[to].crashed) {
        verdict = SIM_VERDICT_DOWN;
    }
    if (verdict == SIM_VERDICT_DELIVER &&
        run->inflight_bytes + item->payload_size > run->config->inflight_bytes_max) {
        verdict = SIM_VERDICT_OVERFLOW;
    }
    if (verdict != SIM_VERDICT_DELIVER) {
        digest_message(run, from, to, verdict, item->payload, item->payload_size);
        return MESH_OK;
    }
    uint8_t *copy = malloc(item->payload_size == 0 ? 1u : item->payload_size);
    if (copy == NULL) {
        return MESH_ENOMEM;
    }
    if (item->payload_size > 0) {
        memcpy(copy, item->payload, item->payload_size);
    }
    sim_event event = {
        .time_ns = run->now_ns + delay_ns,
        .kind = SIM_EVENT_DELIVER,
        .node_index = to,
        .from_index = from,
        .payload = copy,
        .payload_size = item->payload_size,
    };
    mesh_err err = push_event(run, &event);
    if (err != MESH_OK) {
        free(copy);
        return err;
    }
    run->inflight_bytes += item->payload_size;
    return MESH_OK;
}

/* Node lookups by id, for false downs. */
static int compare_by_id(const void *a, const void *b)
{
    return mesh_node_id_compare(&((const id_entry *) a)->id, &((const id_entry *) b)->id);
}

static uint32_t index_of_id(const sim_run *run, const mesh_node_id *id)
{
    uint32_t low = 0;
    uint32_t high = run->node_count;
    while (low < high) {
        uint32_t mid = low + (high - low) / 2;
        int order = mesh_node_id_compare(&run->id_order[mid].id, id);
        if (order == 0) {
            return run->id_order[mid].index;
        }
        if (order < 0) {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    return UINT32_MAX;
}

/* A machine's event: a healthy member turning DOWN, while false downs are
 * counted, is a false down. Events are exact, where a periodic scan of the
 * views could miss a DOWN that a refutation undoes within the scan period. */
static void on_gossip_event(sim_run *run, const mesh_output *item)
{
    if (item->payload_size != sizeof(gossip_event)) {
        run->result.events_malformed++;
        return;
    }
    gossip_event event;
    memcpy(&event, item->payload, sizeof(event));
    if (event.kind != GOSSIP_EVENT_STATE || event.state != GOSSIP_DOWN) {
        return;
    }
    run->result.down_events++;
    uint32_t member = index_of_id(run, &event.member);
    if (!run->false_down_counting || member == UINT32_MAX || run->nodes[member].crashed ||
        run->nodes[member].false_down_seen) {
        return;
    }
    run->nodes[member].false_down_seen = true;
    run->result.false_down++;
}

/* member_io: the member's executor hands each frame and event here, in
 * order, as the agent's and the unit tests' shells get them. */
static void sim_io_send(void *ctx,
                        const mesh_node_id *peer,
                        const char *endpoint,
                        const uint8_t *frame,
                        uint32_t frame_size)
{
    struct sim_io *io = ctx;
    sim_run *run = io->run;
    if (run->io_error != MESH_OK) {
        return;
    }
    mesh_output item = {.kind = MESH_OUTPUT_SEND,
                        .peer = *peer,
                        .endpoint = endpoint,
                        .payload = frame,
                        .payload_size = frame_size};
    run->io_error = send_frame(run, io->index, &item);
}

static void sim_io_event(void *ctx, mesh_now now, member_source source, const void *event)
{
    struct sim_io *io = ctx;
    (void) now;
    if (source != MEMBER_SOURCE_GOSSIP) {
        return;
    }
    io->run->result.outputs_event++;
    mesh_output item = {.kind = MESH_OUTPUT_EVENT,
                        .payload = event,
                        .payload_size = (uint32_t) sizeof(gossip_event)};
    on_gossip_event(io->run, &item);
}

/* After a call on a node's member: its executor has run the outputs
 * (member_flush, as every shell calls it after an input; without a ledger
 * nothing waits for a sync); then re-reads its deadline. */
static mesh_err after_call(sim_run *run, uint32_t index, mesh_err call_err, bool after_tick)
{
    if (call_err == MESH_EFULL) {
        run->result.outbox_full++;
    } else if (call_err != MESH_OK) {
        run->result.call_errors++;
    }
    sim_node *node = &run->nodes[index];
    mesh_err flushed = member_flush(node->member, node_now(run, node), &node->rng);
    if (flushed != MESH_OK) {
        run->result.call_errors++;
    }
    mesh_err err = run->io_error;
    run->io_error = MESH_OK;
    if (err != MESH_OK) {
        return err;
    }
    return schedule_timer(run, index, after_tick);
}

static mesh_err tick_node(sim_run *run, uint32_t index)
{
    sim_node *node = &run->nodes[index];
    mesh_err call_err = member_on_tick(node->member, node_now(run, node), &node->rng);
    return after_call(run, index, call_err, true);
}

/* Phase 3's per-delivery check: only the node that just received. */
static void check_news(sim_run *run, uint32_t index)
{
    sim_node *node = &run->nodes[index];
    if (node->has_news || !node_live(node)) {
        return;
    }
    gossip_member_info info;
    if (gossip_member_find(node->machine, &run->nodes[0].id, &info) != MESH_OK ||
        info.sequence < run->result.advert_sequence) {
        return;
    }
    node->has_news = true;
    run->news_count++;
    uint64_t elapsed_ns = run->now_ns - run->advert_at_ns;
    if (run->news_count >= run->news_99_count && run->result.time_to_99_ns == SIM_TIME_NONE) {
        run->result.time_to_99_ns = elapsed_ns;
    }
    if (run->news_count == run->live_count) {
        run->result.time_to_all_ns = elapsed_ns;
    }
}

static mesh_err deliver(sim_run *run, sim_event *event)
{
    MESH_ASSERT(run->inflight_bytes >= event->payload_size);
    run->inflight_bytes -= event->payload_size;
    sim_node *node = &run->nodes[event->node_index];
    if (!node_live(node)) {
        digest_message(run, event->from_index, event->node_index, SIM_VERDICT_DOWN, event->payload,
                       event->payload_size);
        free(event->payload);
        return MESH_OK;
    }
    digest_message(run, event->from_index, event->node_index, SIM_VERDICT_DELIVER, event->payload,
                   event->payload_size);
    mesh_err call_err = member_on_frame(node->member, node_now(run, node), event->payload,
                                        event->payload_size, &node->rng);
    free(event->payload);
    event->payload = NULL;
    mesh_err err = after_call(run, event->node_index, call_err, false);
    if (run->phase == PHASE_ADVERT) {
        check_news(run, event->node_index);
    }
    return err;
}

/* True when every live node has the same view hash; starts at the witness. */
static bool views_equal(sim_run *run)
{
    uint8_t reference[WIRE_VIEW_HASH_SIZE];
    uint32_t first = UINT32_MAX;
    for (uint32_t i = 0; i < run->node_count && first == UINT32_MAX; i++) {
        if (node_live(&run->nodes[i])) {
            first = i;
        }
    }
    if (first == UINT32_MAX) {
        return true;
    }
    gossip_view_hash(run->nodes[first].machine, reference);
    for (uint32_t k = 0; k < run->node_count; k++) {
        uint32_t i = (run->witness_node + k) % run->node_count;
        if (!node_live(&run->nodes[i])) {
            continue;
        }
        uint8_t hash[WIRE_VIEW_HASH_SIZE];
        gossip_view_hash(run->nodes[i].machine, hash);
        if (memcmp(hash, reference, sizeof(hash)) != 0) {
            run->witness_node = i;
            return false;
        }
    }
    return true;
}

/* True when, in every live node's view, every live node is ALIVE and (when
 * crashed_down) every crashed node is DOWN. Starts at the witness pair. */
static bool views_complete(sim_run *run, bool crashed_down)
{
    for (uint32_t k = 0; k < run->node_count; k++) {
        uint32_t i = (run->witness_node + k) % run->node_count;
        const sim_node *node = &run->nodes[i];
        if (!node_live(node)) {
            continue;
        }
        for (uint32_t l = 0; l < run->node_count; l++) {
            uint32_t m = (run->witness_member + l) % run->node_count;
            const sim_node *member = &run->nodes[m];
            gossip_member_info info;
            mesh_err err = gossip_member_find(node->machine, &member->id, &info);
            bool ok = true;
            if (node_live(member)) {
                ok = err == MESH_OK && info.state == GOSSIP_ALIVE;
            } else if (member->crashed && crashed_down) {
                // A crashed member forgotten after down_forget_ns is down too.
                ok = err == MESH_ENOTFOUND || (err == MESH_OK && info.state == GOSSIP_DOWN);
            }
            if (!ok) {
                run->witness_node = i;
                run->witness_member = m;
                return false;
            }
        }
    }
    return true;
}

/* Only the crashed members: every live node holds every one as DOWN. */
static bool crashes_detected(sim_run *run)
{
    for (uint32_t k = 0; k < run->node_count; k++) {
        uint32_t i = (run->witness_node + k) % run->node_count;
        const sim_node *node = &run->nodes[i];
        if (!node_live(node)) {
            continue;
        }
        for (uint32_t c = 0; c < run->node_count; c++) {
            if (!run->crashed_flags[c]) {
                continue;
            }
            gossip_member_info info;
            mesh_err err = gossip_member_find(node->machine, &run->nodes[c].id, &info);
            if (err == MESH_OK && info.state != GOSSIP_DOWN) {
                run->witness_node = i;
                return false;
            }
        }
    }
    return true;
}

/* The condition the current phase waits for; false for timed phases. */
static bool phase_done(sim_run *run)
{
    switch (run->phase) {
    case PHASE_JOIN:
        return run->live_count == run->node_count && views_equal(run) && views_complete(run, false);
    case PHASE_ADVERT:
        return run->news_count == run->live_count;
    case PHASE_CRASH:
        return crashes_detected(run);
    case PHASE_HEAL:
        return views_equal(run) && views_complete(run, true);
    case PHASE_IDLE:
    case PHASE_PARTITION:
    case PHASE_TAIL:
        return false;
    }
    return false;
}

static void set_resource(wire_resource *resource,
                         uint32_t resource_class,
                         const char *model,
                         uint64_t total,
                         uint64_t free_amount,
                         uint64_t price);

/* Hostile members.
 *
 * Members 3..3+K-1 run the honest machine, and every probe interval each
 * also sends one random live node a frame that the protocol must refuse,
 * counted under its reason and changing nothing: an advert of another
 * member with a forged signature, a replay of its own advert with an older
 * sequence, its own advert stamped an hour ahead, an advert naming another
 * member as its node, an advert from a key no root admitted, the same with
 * a certificate from another root, or random bytes. The scenario's other
 * figures (convergence, detection, heal, false downs) are measured while
 * this goes on. */
static mesh_err hostile_setup(sim_run *run)
{
    const sim_gossip_config *config = run->config;
    mesh_rng_seed(&run->hostile_rng, stream_seed(config->seed, STREAM_HOSTILE));
    run->hostile_keys = calloc(config->hostile_count, sizeof(mcrypto_keypair));
    if (run->hostile_keys == NULL) {
        return MESH_ENOMEM;
    }
    uint8_t seed[MCRYPTO_SEED_SIZE];
    mcrypto_keypair other_root;
    for (uint32_t k = 0; k < 2; k++) {
        for (uint32_t i = 0; i < MCRYPTO_SEED_SIZE; i += 8) {
            uint64_t value = mesh_rng_next(&run->hostile_rng);
            memcpy(seed + i, &value, 8);
        }
        mesh_err err = mcrypto_keypair_from_seed(seed, k == 0 ? &run->stranger : &other_root);
        if (err != MESH_OK) {
            return err;
        }
    }
    sodium_memzero(seed, sizeof(seed));
    wire_cert cert;
    memset(&cert, 0, sizeof(cert));
    memcpy(cert.public_key, run->stranger.public_key, sizeof(cert.public_key));
    memcpy(cert.name, "intruder-1", sizeof("intruder-1"));
    memcpy(cert.country, "FR", 3);
    cert.valid_from_ns = SIM_EPOCH_NS - SIM_DAY_NS;
    cert.valid_until_ns = SIM_EPOCH_NS + 365 * SIM_DAY_NS;
    cert.serial = 1;
    mesh_err err = mcrypto_cert_issue(&other_root, &cert, run->stranger_cert,
                                      sizeof(run->stranger_cert), &run->stranger_cert_size);
    mcrypto_keypair_wipe(&other_root);
    return err;
}

/* Signs an advert naming node_id with key into record. The endpoint is
 * always the true one of the member named: an advert that lies about its
 * own endpoint only cuts its signer off (its traffic goes elsewhere, and it
 * is declared down), which is not the attack measured here. */
static mesh_err hostile_advert(const mcrypto_keypair *key,
                               const char *endpoint,
                               const mesh_node_id *node_id,
                               uint64_t sequence,
                               int64_t timestamp_ns,
                               uint8_t *record,
                               uint32_t *record_size)
{
    wire_advert advert;
    memset(&advert, 0, sizeof(advert));
    advert.resource_count = 1;
    set_resource(&advert.resources[0], WIRE_RESOURCE_VCPU, "", 4096, 4096, 1u);
    (void) snprintf(advert.endpoint, sizeof(advert.endpoint), "%s", endpoint);
    advert.node_id = *node_id;
    advert.sequence = sequence;
    advert.timestamp_ns = timestamp_ns;
    uint8_t body[WIRE_RECORD_SIZE_MAX];
    uint32_t body_size = 0;
    mesh_err err = wire_advert_encode(&advert, body, sizeof(body), &body_size);
    if (err != MESH_OK) {
        return err;
    }
    return mcrypto_envelope_seal(key, WIRE_TYPE_ADVERT, body, body_size, record,
                                 WIRE_RECORD_SIZE_MAX, record_size);
}

static mesh_err attack(sim_run *run, uint32_t index)
{
    sim_node *node = &run->nodes[index];
    if (!node_live(node)) {
        return MESH_OK; // A crashed attacker stops attacking.
    }
    const mcrypto_keypair *key = &run->hostile_keys[index - HOSTILE_FIRST];
    uint32_t target = (uint32_t) mesh_rng_below(&run->hostile_rng, run->node_count);
    // The victim is another member: an advert "of another member" signed
    // by the attacker about itself would simply be genuine.
    uint32_t victim = (uint32_t) mesh_rng_below(&run->hostile_rng, run->node_count - 1);
    victim += victim >= index;
    uint64_t kind = mesh_rng_below(&run->hostile_rng, 7);
    mesh_now now = node_now(run, node);
    gossip_member_info self;
    mesh_err err = gossip_member_find(node->machine, &node->id, &self);
    if (err != MESH_OK) {
        return MESH_EINTERNAL;
    }
    mesh_node_id stranger_id;
    mcrypto_node_id(run->stranger.public_key, &stranger_id);
    static uint8_t records[2][WIRE_RECORD_SIZE_MAX];
    uint32_t sizes[2] = {0, 0};
    uint32_t count = 1;
    static uint8_t frame[WIRE_FRAME_SIZE_MAX];
    uint32_t frame_size = 0;
    int64_t hour_ns = 3600 * (int64_t) MESH_NS_PER_S;
    switch (kind) {
    case 0: // another member's advert, signed with our key: bad signature
        err = hostile_advert(key, run->nodes[victim].endpoint, &run->nodes[victim].id,
                             UINT64_MAX / 2, now.realtime_ns, records[0], &sizes[0]);
        if (err == MESH_OK) {
            // The signer field names the victim too, so that receivers check
            // the victim's key and find the signature wrong.
            wire_envelope envelope;
            err = wire_envelope_decode(records[0], sizes[0], &envelope, NULL);
            if (err == MESH_OK) {
                envelope.signer = run->nodes[victim].id;
                uint8_t body[WIRE_RECORD_SIZE_MAX];
                memcpy(body, envelope.body, envelope.body_size);
                envelope.body = body;
                err = wire_envelope_encode(&envelope, records[0], WIRE_RECORD_SIZE_MAX, &sizes[0]);
            }
        }
        break;
    case 1: // a replay: our own advert with an older sequence
        err = hostile_advert(key, node->endpoint, &node->id,
                             self.sequence > 1 ? self.sequence - 1 : 1, now.realtime_ns, records[0],
                             &sizes[0]);
        break;
    case 2: // our own advert from an hour ahead
        err = hostile_advert(key, node->endpoint, &node->id, self.sequence + 1,
                             now.realtime_ns + hour_ns, records[0], &sizes[0]);
        break;
    case 3: // an advert naming another member, signed by us: mismatch
        err = hostile_advert(key, node->endpoint, &run->nodes[victim].id, UINT64_MAX / 2,
                             now.realtime_ns, records[0], &sizes[0]);
        if (err == MESH_OK) {
            wire_envelope envelope;
            err = wire_envelope_decode(records[0], sizes[0], &envelope, NULL);
            if (err == MESH_OK && !mesh_node_id_equal(&envelope.signer, &node->id)) {
                err = MESH_EINTERNAL;
            }
        }
        break;
    case 4: // an advert from a key no root admitted
        err = hostile_advert(&run->stranger, node->endpoint, &stranger_id, 1, now.realtime_ns,
                             records[0], &sizes[0]);
        break;
    case 5: // the same, introduced by a certificate from another root
        memcpy(records[0], run->stranger_cert, run->stranger_cert_size);
        sizes[0] = run->stranger_cert_size;
        err = hostile_advert(&run->stranger, node->endpoint, &stranger_id, 1, now.realtime_ns,
                             records[1], &sizes[1]);
        count = 2;
        break;
    default: // random bytes
        frame_size = 1 + (uint32_t) mesh_rng_below(&run->hostile_rng, 300);
        for (uint32_t i = 0; i < frame_size; i++) {
            frame[i] = (uint8_t) mesh_rng_next(&run->hostile_rng);
        }
        count = 0;
        break;
    }
    if (err != MESH_OK) {
        return MESH_EINTERNAL;
    }
    if (count > 0) {
        static wire_push push;
        static uint8_t body[WIRE_FRAME_SIZE_MAX];
        push.record_count = count;
        for (uint32_t i = 0; i < count; i++) {
            push.records[i].frame = records[i];
            push.records[i].frame_size = sizes[i];
        }
        uint32_t body_size = 0;
        wire_envelope envelope;
        memset(&envelope, 0, sizeof(envelope));
        envelope.version = WIRE_VERSION;
        envelope.type = WIRE_TYPE_PUSH;
        envelope.signer = node->id;
        envelope.body = body;
        if (wire_push_encode(&push, body, sizeof(body), &body_size) != MESH_OK) {
            return MESH_EINTERNAL;
        }
        envelope.body_size = body_size;
        if (wire_envelope_encode(&envelope, frame, sizeof(frame), &frame_size) != MESH_OK) {
            return MESH_EINTERNAL;
        }
    }
    run->result.attacks++;
    mesh_output item;
    memset(&item, 0, sizeof(item));
    item.kind = MESH_OUTPUT_SEND;
    item.endpoint = run->nodes[target].endpoint;
    item.payload = frame;
    item.payload_size = frame_size;
    err = send_frame(run, index, &item);
    if (err != MESH_OK) {
        return err;
    }
    sim_event next = {.time_ns = run->now_ns + run->config->interval_ns,
                      .kind = SIM_EVENT_ATTACK,
                      .node_index = index};
    return push_event(run, &next);
}

static mesh_err on_event(sim_run *run, sim_event *event, bool *done_out)
{
    sim_node *node = &run->nodes[event->node_index];
    switch ((sim_event_kind) event->kind) {
    case SIM_EVENT_START:
        node->started = true;
        run->live_count++;
        return tick_node(run, event->node_index);
    case SIM_EVENT_TIMER:
        if (!node_live(node) || !node->timer_armed || event->generation != node->timer_generation) {
            return MESH_OK; // Stale: the deadline moved since.
        }
        node->timer_armed = false;
        return tick_node(run, event->node_index);
    case SIM_EVENT_DELIVER:
        return deliver(run, event);
    case SIM_EVENT_ATTACK:
        return attack(run, event->node_index);
    case SIM_EVENT_CHECK: {
        // Progress once per virtual second.
        if (run->now_ns / MESH_NS_PER_S != (run->now_ns - run->config->check_ns) / MESH_NS_PER_S) {
            report(run, phase_names[run->phase]);
        }
        *done_out = phase_done(run);
        sim_event next = {.time_ns = run->now_ns + run->config->check_ns, .kind = SIM_EVENT_CHECK};
        return push_event(run, &next);
    }
    }
    MESH_ASSERT(false && "unknown event kind");
    return MESH_EINTERNAL;
}

/* Runs events up to limit_ns, or until the phase's condition holds at a
 * CHECK (*met_ns_out is then the time, else SIM_TIME_NONE). The clock ends
 * at the time of the last event run, or at limit_ns. */
static mesh_err run_until(sim_run *run, uint64_t limit_ns, uint64_t *met_ns_out)
{
    *met_ns_out = SIM_TIME_NONE;
    for (;;) {
        const sim_event *next = sim_heap_peek(&run->heap);
        if (next == NULL || next->time_ns > limit_ns) {
            run->now_ns = limit_ns;
            return MESH_OK;
        }
        sim_event event;
        MESH_ASSERT(sim_heap_pop(&run->heap, &event));
        MESH_ASSERT(event.time_ns >= run->now_ns);
        run->now_ns = event.time_ns;
        run->result.events++;
        bool done = false;
        mesh_err err = on_event(run, &event, &done);
        if (err != MESH_OK) {
            free(event.payload);
            return err;
        }
        if (done) {
            *met_ns_out = run->now_ns;
            return MESH_OK;
        }
    }
}

static void add_jurisdiction(wire_cert *cert, const char *code)
{
    MESH_ASSERT(cert->jurisdiction_count < WIRE_JURISDICTIONS_MAX);
    // Insertion keeps the set sorted, as the wire format requires.
    uint32_t at = cert->jurisdiction_count;
    while (at > 0 && strcmp(cert->jurisdictions[at - 1], code) > 0) {
        memcpy(cert->jurisdictions[at], cert->jurisdictions[at - 1], 3);
        at--;
    }
    memcpy(cert->jurisdictions[at], code, 3);
    cert->jurisdiction_count++;
}

static uint32_t carbon_of(const char *country)
{
    for (uint32_t i = 0; i < MESH_ARRAY_COUNT(carbon_table); i++) {
        if (strcmp(carbon_table[i].country, country) == 0) {
            return carbon_table[i].carbon_gco2_per_kwh;
        }
    }
    MESH_ASSERT(false && "every city's country has a carbon figure");
    return 0;
}

static void set_resource(wire_resource *resource,
                         uint32_t resource_class,
                         const char *model,
                         uint64_t total,
                         uint64_t free_amount,
                         uint64_t price)
{
    memset(resource, 0, sizeof(*resource));
    resource->resource_class = resource_class;
    (void) snprintf(resource->model, sizeof(resource->model), "%s", model);
    resource->total = total;
    resource->free = free_amount;
    resource->lendable = free_amount / 2u;
    resource->price_microeur_per_unit_hour = price;
}

/* A plausible datacenter: sizes drawn from the setup stream. */
static void make_advert(sim_run *run, uint32_t index, wire_advert *advert_out)
{
    mesh_rng *rng = &run->setup_rng;
    const sim_city *city = &sim_cities[sim_net_city_of(index)];
    wire_advert *advert = advert_out;
    memset(advert, 0, sizeof(*advert));
    advert->status = WIRE_ADVERT_ALIVE;
    advert->carbon_gco2_per_kwh = carbon_of(city->country);
    uint64_t vcpu = 512u * (1u + mesh_rng_below(rng, 32));
    uint64_t gpu = 8u * mesh_rng_below(rng, 17);
    uint64_t storage_gib = 1024u * (64u + mesh_rng_below(rng, 1024));
    // Resources sorted by (class, model), as the wire format requires.
    set_resource(&advert->resources[advert->resource_count++], WIRE_RESOURCE_VCPU, "", vcpu,
                 vcpu * (20u + mesh_rng_below(rng, 60)) / 100u, 40000u);
    set_resource(&advert->resources[advert->resource_count++], WIRE_RESOURCE_MEMORY_GIB, "",
                 vcpu * 4u, vcpu * 2u, 5000u);
    if (gpu > 0) {
        set_resource(&advert->resources[advert->resource_count++], WIRE_RESOURCE_GPU, "H100-80GB",
                     gpu, gpu * mesh_rng_below(rng, 101) / 100u, 2500000u);
    }
    set_resource(&advert->resources[advert->resource_count++], WIRE_RESOURCE_STORAGE_GIB, "",
                 storage_gib, storage_gib / 2u, 10u);
    (void) snprintf(advert->endpoint, sizeof(advert->endpoint), "%s", run->nodes[index].endpoint);
}

static mesh_err make_node(sim_run *run,
                          uint32_t index,
                          const mcrypto_keypair *root,
                          const char *const *seeds,
                          uint32_t seed_count)
{
    sim_node *node = &run->nodes[index];
    const sim_gossip_config *config = run->config;
    const sim_city *city = &sim_cities[sim_net_city_of(index)];
    (void) snprintf(node->endpoint, sizeof(node->endpoint), "sim://%u", index);
    mesh_rng_seed(&node->rng, stream_seed(config->seed, STREAM_NODE + (uint64_t) index));

    uint8_t key_seed[MCRYPTO_SEED_SIZE];
    for (uint32_t i = 0; i < MCRYPTO_SEED_SIZE; i += 8) {
        uint64_t value = mesh_rng_next(&run->setup_rng);
        memcpy(key_seed + i, &value, 8);
    }
    gossip_config machine_config;
    gossip_config_default(&machine_config);
    mesh_err err = mcrypto_keypair_from_seed(key_seed, &machine_config.keypair);
    sodium_memzero(key_seed, sizeof(key_seed));
    if (err != MESH_OK) {
        return err;
    }
    mcrypto_node_id(machine_config.keypair.public_key, &node->id);

    wire_cert cert;
    memset(&cert, 0, sizeof(cert));
    memcpy(cert.public_key, machine_config.keypair.public_key, sizeof(cert.public_key));
    (void) snprintf(cert.name, sizeof(cert.name), "sim-%u", index);
    (void) snprintf(cert.operator_name, sizeof(cert.operator_name), "fedmesh simulator");
    memcpy(cert.country, city->country, 3);
    add_jurisdiction(&cert, city->country);
    add_jurisdiction(&cert, "EU");
    cert.certifications = WIRE_CERTIFICATION_ISO27001;
    if (mesh_rng_below(&run->setup_rng, 2) == 0) {
        cert.certifications |= strcmp(city->country, "FR") == 0 ? WIRE_CERTIFICATION_SECNUMCLOUD
                                                                : WIRE_CERTIFICATION_C5;
    }
    // Valid from a day before the epoch for a year: longer than any run.
    cert.valid_from_ns = SIM_EPOCH_NS - SIM_DAY_NS;
    cert.valid_until_ns = SIM_EPOCH_NS + 365 * SIM_DAY_NS;
    cert.serial = (uint64_t) index + 1u;
    uint8_t cert_frame[WIRE_RECORD_SIZE_MAX];
    uint32_t cert_frame_size = 0;
    err = mcrypto_cert_issue(root, &cert, cert_frame, sizeof(cert_frame), &cert_frame_size);
    if (err != MESH_OK) {
        mcrypto_keypair_wipe(&machine_config.keypair);
        return MESH_EINTERNAL;
    }

    memcpy(machine_config.root_public_key, root->public_key, MCRYPTO_PUBLIC_KEY_SIZE);
    machine_config.cert_frame = cert_frame;
    machine_config.cert_frame_size = cert_frame_size;
    make_advert(run, index, &machine_config.advert);
    machine_config.seeds = seeds;
    machine_config.seed_count = seed_count;
    machine_config.members_max = config->node_count + config->members_slack;
    // The scenario revokes no one; the default room for 256 revocations
    // (136 KB a machine) would be a third of a machine's memory at N = 10,000.
    machine_config.revocations_max = 16;
    machine_config.fanout = config->fanout;
    machine_config.probe_interval_ns = config->interval_ns;
    machine_config.verify_cache = run->verify_cache;
    machine_config.store = run->store;
    machine_config.pair_cache = run->pair_cache;
    // Shorter intervals than the default scale the probe timeout along
    // (30 % of the interval), so that every --interval-ms is a valid run.
    if (machine_config.probe_timeout_ns * 10 > config->interval_ns * 3) {
        machine_config.probe_timeout_ns = config->interval_ns * 3 / 10;
    }
    if (machine_config.suspicion_min_ns < 3 * machine_config.probe_timeout_ns) {
        machine_config.suspicion_min_ns = 3 * machine_config.probe_timeout_ns;
    }

    node->start_ns = mesh_rng_below(&run->setup_rng, MESH_NS_PER_S);
    if (config->clock_skew_ns_max > 0) {
        uint64_t span = 2u * (uint64_t) config->clock_skew_ns_max + 1u;
        node->skew_ns = (int64_t) mesh_rng_below(&run->setup_rng, span) - config->clock_skew_ns_max;
    }
    if (config->hostile_count > 0 && index >= HOSTILE_FIRST &&
        index < HOSTILE_FIRST + config->hostile_count) {
        run->hostile_keys[index - HOSTILE_FIRST] = machine_config.keypair;
    }
    member_config member_settings;
    member_config_default(&member_settings);
    member_settings.gossip = machine_config;
    run->io[index] = (struct sim_io){.run = run, .index = index};
    member_settings.io =
        (member_io){.ctx = &run->io[index], .send = sim_io_send, .event = sim_io_event};
    err = member_create(&member_settings, node_now(run, node), &node->rng, &node->member);
    mcrypto_keypair_wipe(&machine_config.keypair);
    mcrypto_keypair_wipe(&member_settings.gossip.keypair);
    if (err == MESH_OK) {
        node->machine = member_gossip(node->member);
    }
    if (err == MESH_ENOMEM) {
        return err;
    }
    if (err != MESH_OK) {
        (void) fprintf(stderr, "sim: node %u: member_create: %s\n", index, mesh_strerror(err));
        return MESH_EINTERNAL;
    }
    sim_event start = {.time_ns = node->start_ns, .kind = SIM_EVENT_START, .node_index = index};
    err = push_event(run, &start);
    if (err != MESH_OK || config->hostile_count == 0 || index < HOSTILE_FIRST ||
        index >= HOSTILE_FIRST + config->hostile_count) {
        return err;
    }
    sim_event attack = {.time_ns = node->start_ns + config->interval_ns,
                        .kind = SIM_EVENT_ATTACK,
                        .node_index = index};
    return push_event(run, &attack);
}

static mesh_err setup(sim_run *run)
{
    const sim_gossip_config *config = run->config;
    mesh_rng_seed(&run->setup_rng, stream_seed(config->seed, STREAM_SETUP));
    mesh_err err = sim_net_init(&run->net, config->node_count, config->loss_ppm,
                                stream_seed(config->seed, STREAM_NETWORK));
    if (err != MESH_OK) {
        return err;
    }
    sim_heap_init(&run->heap, config->events_max);
    MESH_ASSERT(crypto_generichash_init(&run->digest, NULL, 0, SIM_DIGEST_SIZE) == 0);
    run->nodes = calloc(config->node_count, sizeof(sim_node));
    run->io = calloc(config->node_count, sizeof(*run->io));
    run->crashed_flags = calloc(config->node_count, 1);
    run->id_order = calloc(config->node_count, sizeof(id_entry));
    if (run->nodes == NULL || run->crashed_flags == NULL || run->id_order == NULL ||
        run->io == NULL) {
        return MESH_ENOMEM;
    }
    run->node_count = config->node_count;
    if (!config->no_verify_cache) {
        // Every machine checks the same records: one shared memo of valid
        // signatures makes the join cost hashing instead of 2 N^2 Ed25519
        // checks, without changing any result (see crypto/verify_cache.c).
        // 256 slots a node: some 12 records a node to remember, so slot
        // collisions (each a fresh check, in every machine) stay under 1 %.
        uint64_t slots = 256ull * config->node_count;
        slots = slots < (1u << 16) ? (1u << 16) : slots > (1u << 24) ? (1u << 24) : slots;
        err = mcrypto_verify_cache_create((uint32_t) slots, &run->verify_cache);
        if (err != MESH_OK) {
            return err;
        }
    }

    // One store and one pair-key cache for every machine: the same frames
    // and keys once instead of N times, with no change to any result. The
    // store has room for every certificate and for eight live versions of
    // every advert (a partition keeps two sides' versions alive; a
    // refutation makes one more), and counts what it must refuse.
    uint64_t certs = (uint64_t) config->node_count + config->members_slack + 16u;
    uint64_t adverts = 8u * certs + 1024u;
    uint64_t pair_slots = 64u * (uint64_t) config->node_count;
    pair_slots = pair_slots < (1u << 12)   ? (1u << 12)
                 : pair_slots > (1u << 23) ? (1u << 23)
                                           : pair_slots;
    if (adverts > (1u << 26)) {
        return MESH_EINVAL;
    }
    err = gossip_store_create((uint32_t) certs, (uint32_t) adverts, &run->store);
    if (err == MESH_OK) {
        err = mcrypto_pair_cache_create((uint32_t) pair_slots, &run->pair_cache);
    }
    if (err != MESH_OK) {
        return err;
    }

    if (config->hostile_count > 0) {
        err = hostile_setup(run);
        if (err != MESH_OK) {
            return err;
        }
    }

    uint8_t root_seed[MCRYPTO_SEED_SIZE];
    for (uint32_t i = 0; i < MCRYPTO_SEED_SIZE; i += 8) {
        uint64_t value = mesh_rng_next(&run->setup_rng);
        memcpy(root_seed + i, &value, 8);
    }
    mcrypto_keypair root;
    err = mcrypto_keypair_from_seed(root_seed, &root);
    sodium_memzero(root_seed, sizeof(root_seed));
    if (err != MESH_OK) {
        return err;
    }
    static const char *const seed_endpoints[SIM_SEED_COUNT_MAX] = {"sim://0", "sim://1", "sim://2"};
    uint32_t seed_count =
        config->node_count < SIM_SEED_COUNT_MAX ? config->node_count : SIM_SEED_COUNT_MAX;
    if (config->node_created != NULL && !config->node_created(config->node_created_context, 0)) {
        mcrypto_keypair_wipe(&root);
        return MESH_ENOMEM;
    }
    for (uint32_t i = 0; i < config->node_count; i++) {
        err = make_node(run, i, &root, seed_endpoints, seed_count);
        if (err != MESH_OK) {
            break;
        }
        if (config->node_created != NULL &&
            !config->node_created(config->node_created_context, i + 1)) {
            err = MESH_ENOMEM;
            break;
        }
    }
    mcrypto_keypair_wipe(&root);
    if (err != MESH_OK) {
        return err;
    }
    for (uint32_t i = 0; i < config->node_count; i++) {
        run->id_order[i].id = run->nodes[i].id;
        run->id_order[i].index = i;
    }
    qsort(run->id_order, config->node_count, sizeof(id_entry), compare_by_id);
    sim_event check = {.time_ns = config->check_ns, .kind = SIM_EVENT_CHECK};
    return push_event(run, &check);
}

static void teardown(sim_run *run)
{
    if (run->nodes != NULL) {
        for (uint32_t i = 0; i < run->node_count; i++) {
            member_destroy(run->nodes[i].member);
        }
    }
    free(run->nodes);
    free(run->io);
    free(run->crashed_flags);
    free(run->id_order);
    mcrypto_verify_cache_destroy(run->verify_cache);
    if (run->store != NULL) {
        gossip_store_usage usage;
        gossip_store_usage_get(run->store, &usage);
        if (usage.refused > 0) {
            // A refusal changes the run: the store was sized too small.
            (void) fprintf(stderr,
                           "sim: warning: the shared frame store refused %llu frames "
                           "(adverts peak %u of %u): results are not those of unbounded "
                           "machines\n",
                           (unsigned long long) usage.refused, usage.adverts_peak,
                           usage.adverts_max);
        }
    }
    gossip_store_destroy(run->store);
    mcrypto_pair_cache_destroy(run->pair_cache);
    if (run->hostile_keys != NULL) {
        sodium_memzero(run->hostile_keys, run->config->hostile_count * sizeof(mcrypto_keypair));
    }
    free(run->hostile_keys);
    mcrypto_keypair_wipe(&run->stranger);
    sim_heap_fini(&run->heap);
    sim_net_fini(&run->net);
}

static mesh_err phase_advert(sim_run *run)
{
    sim_node *node = &run->nodes[0];
    wire_advert advert;
    if (gossip_member_advert(node->machine, &node->id, &advert) != MESH_OK) {
        return MESH_EINTERNAL;
    }
    // New capacity: a quarter of the vCPUs were just taken by local jobs.
    MESH_ASSERT(advert.resource_count > 0 &&
                advert.resources[0].resource_class == WIRE_RESOURCE_VCPU);
    advert.resources[0].free = advert.resources[0].free * 3u / 4u;
    advert.resources[0].lendable = advert.resources[0].free / 2u;
    enter_phase(run, PHASE_ADVERT);
    run->advert_at_ns = run->now_ns;
    mesh_err call_err =
        member_update_advert(node->member, node_now(run, node), &advert, &node->rng);
    if (call_err != MESH_OK) {
        (void) fprintf(stderr, "sim: gossip_update_advert: %s\n", mesh_strerror(call_err));
        return MESH_EINTERNAL;
    }
    gossip_member_info info;
    if (gossip_member_find(node->machine, &node->id, &info) != MESH_OK) {
        return MESH_EINTERNAL;
    }
    run->result.advert_sequence = info.sequence;
    // ceil(0.99 * live): the 99th percentile node.
    run->news_99_count = (run->live_count * 99u + 99u) / 100u;
    mesh_err err = after_call(run, 0, call_err, false);
    if (err != MESH_OK) {
        return err;
    }
    for (uint32_t i = 0; i < run->node_count; i++) {
        check_news(run, i);
    }
    uint64_t met_ns = SIM_TIME_NONE;
    if (run->news_count == run->live_count) {
        return MESH_OK;
    }
    return run_until(run, run->now_ns + run->config->phase_limit_ns, &met_ns);
}

/* At the end of the crash phase: the (live node, crashed member) pairs
 * where the member is not DOWN, by the state it is held in. */
static void count_undetected(sim_run *run)
{
    for (uint32_t i = 0; i < run->node_count; i++) {
        if (!node_live(&run->nodes[i])) {
            continue;
        }
        for (uint32_t c = 0; c < run->node_count; c++) {
            if (!run->crashed_flags[c]) {
                continue;
            }
            gossip_member_info info;
            mesh_err err = gossip_member_find(run->nodes[i].machine, &run->nodes[c].id, &info);
            if (err == MESH_OK && info.state == GOSSIP_ALIVE) {
                run->result.undetected_alive++;
            } else if (err == MESH_OK && info.state == GOSSIP_SUSPECT) {
                run->result.undetected_suspect++;
            } else if (err == MESH_OK && info.state != GOSSIP_DOWN) {
                run->result.undetected_other++;
            }
        }
    }
}

static mesh_err phase_crash(sim_run *run)
{
    const sim_gossip_config *config = run->config;
    uint32_t chosen = 0;
    while (chosen < config->crash_count) {
        uint32_t index = 3u + (uint32_t) mesh_rng_below(&run->setup_rng, run->node_count - 3u);
        if (run->crashed_flags[index]) {
            continue;
        }
        run->crashed_flags[index] = 1;
        run->nodes[index].crashed = true;
        run->live_count--;
        chosen++;
    }
    uint32_t listed = 0;
    for (uint32_t i = 0; i < run->node_count && listed < MESH_ARRAY_COUNT(run->result.crashed);
         i++) {
        if (run->crashed_flags[i]) {
            run->result.crashed[listed++] = i;
        }
    }
    uint64_t crash_ns = run->now_ns;
    enter_phase(run, PHASE_CRASH);
    run->witness_node = 0;
    uint64_t met_ns = SIM_TIME_NONE;
    mesh_err err = run_until(run, crash_ns + config->phase_limit_ns, &met_ns);
    if (err == MESH_OK && met_ns != SIM_TIME_NONE) {
        run->result.detect_ns = met_ns - crash_ns;
    }
    count_undetected(run);
    return err;
}

static mesh_err phase_partition(sim_run *run)
{
    const sim_gossip_config *config = run->config;
    uint8_t *group = calloc(run->node_count, 1);
    if (group == NULL) {
        return MESH_ENOMEM;
    }
    for (uint32_t i = 0; i < run->node_count; i++) {
        group[i] = (uint8_t) (i % 2u);
    }
    sim_net_partition(&run->net, group);
    free(group);
    enter_phase(run, PHASE_PARTITION);
    run->false_down_counting = false;
    uint64_t met_ns = SIM_TIME_NONE;
    mesh_err err = run_until(run, run->now_ns + config->partition_ns, &met_ns);
    if (err != MESH_OK) {
        return err;
    }
    sim_net_heal(&run->net);
    uint64_t heal_ns = run->now_ns;
    enter_phase(run, PHASE_HEAL);
    run->witness_node = 0;
    run->witness_member = 0;
    err = run_until(run, heal_ns + config->phase_limit_ns, &met_ns);
    if (err == MESH_OK && met_ns != SIM_TIME_NONE) {
        run->result.heal_ns = met_ns - heal_ns;
        run->false_down_counting = true;
    }
    return err;
}

static mesh_err run_scenario(sim_run *run)
{
    const sim_gossip_config *config = run->config;
    uint64_t met_ns = SIM_TIME_NONE;
    enter_phase(run, PHASE_JOIN);
    run->false_down_counting = true;
    mesh_err err = run_until(run, config->join_limit_ns, &met_ns);
    if (err != MESH_OK || met_ns == SIM_TIME_NONE) {
        return err;
    }
    run->result.converged = true;
    run->result.converged_ns = met_ns;

    enter_phase(run, PHASE_IDLE);
    uint64_t frames_before = run->result.sends;
    uint64_t bytes_before = run->result.sent_bytes;
    err = run_until(run, run->now_ns + config->idle_window_ns, &met_ns);
    if (err != MESH_OK) {
        return err;
    }
    run->result.idle_frames = run->result.sends - frames_before;
    run->result.idle_bytes = run->result.sent_bytes - bytes_before;

    err = phase_advert(run);
    if (err != MESH_OK) {
        return err;
    }
    if (config->crash_count > 0) {
        err = phase_crash(run);
        if (err != MESH_OK) {
            return err;
        }
    }
    if (config->partition_ns > 0) {
        err = phase_partition(run);
        if (err != MESH_OK) {
            return err;
        }
    }
    enter_phase(run, PHASE_TAIL);
    return run_until(run, run->now_ns + config->tail_ns, &met_ns);
}

static mesh_err config_check(const sim_gossip_config *config)
{
    if (config->node_count == 0 || config->node_count > SIM_NODES_MAX ||
        config->loss_ppm > SIM_PPM || config->fanout == 0 || config->interval_ns == 0 ||
        config->check_ns == 0 || config->events_max == 0 || config->clock_skew_ns_max < 0) {
        return MESH_EINVAL;
    }
    if (config->crash_count > 0 &&
        (config->node_count < 4 || config->crash_count > config->node_count - 3)) {
        return MESH_EINVAL;
    }
    if (config->hostile_count > 0 &&
        (config->node_count < 4 || config->hostile_count > config->node_count - HOSTILE_FIRST)) {
        return MESH_EINVAL;
    }
    if ((uint64_t) config->node_count + config->members_slack > UINT32_MAX) {
        return MESH_EINVAL;
    }
    return MESH_OK;
}

static void sum_stats(const sim_run *run, gossip_stats *sum)
{
    memset(sum, 0, sizeof(*sum));
    for (uint32_t i = 0; i < run->node_count; i++) {
        gossip_stats stats;
        gossip_stats_get(run->nodes[i].machine, &stats);
        sum->frames_in += stats.frames_in;
        sum->frames_out += stats.frames_out;
        sum->bytes_in += stats.bytes_in;
        sum->bytes_out += stats.bytes_out;
        sum->adverts_in += stats.adverts_in;
        sum->adverts_out += stats.adverts_out;
        sum->probes_sent += stats.probes_sent;
        sum->probes_failed += stats.probes_failed;
        sum->suspicions_raised += stats.suspicions_raised;
        sum->refutations += stats.refutations;
        sum->anti_entropy_rounds += stats.anti_entropy_rounds;
        sum->duplicates += stats.duplicates;
        sum->frames_dropped += stats.frames_dropped;
        if (stats.local_health > sum->local_health) {
            sum->local_health = stats.local_health; // The worst node's.
        }
        for (uint32_t r = 0; r < GOSSIP_REJECT_COUNT; r++) {
            sum->rejected[r] += stats.rejected[r];
        }
    }
}

mesh_err sim_gossip_run(const sim_gossip_config *config, sim_gossip_result *result_out)
{
    MESH_ASSERT(config != NULL && result_out != NULL);
    mesh_err err = config_check(config);
    if (err != MESH_OK) {
        return err;
    }
    sim_run *run = calloc(1, sizeof(sim_run));
    if (run == NULL) {
        return MESH_ENOMEM;
    }
    run->config = config;
    run->result.config = *config;
    run->result.config.node_created = NULL;
    run->result.config.node_created_context = NULL;
    run->result.config.progress = NULL;
    run->result.config.progress_context = NULL;
    run->result.converged_ns = SIM_TIME_NONE;
    run->result.time_to_all_ns = SIM_TIME_NONE;
    run->result.time_to_99_ns = SIM_TIME_NONE;
    run->result.detect_ns = SIM_TIME_NONE;
    run->result.heal_ns = SIM_TIME_NONE;
    panic_run = run;
    mesh_panic_set_hook(panic_hook);

    err = setup(run);
    if (err == MESH_OK) {
        err = run_scenario(run);
    }
    if (err == MESH_OK) {
        report(run, "end");
        run->result.end_ns = run->now_ns;
        sum_stats(run, &run->result.stats);
        char text[SIM_JSON_SIZE_MAX];
        uint32_t text_size = 0;
        err = sim_gossip_json_body(&run->result, false, text, sizeof(text), &text_size);
        if (err == MESH_OK) {
            MESH_ASSERT(
                crypto_generichash_update(&run->digest, (const uint8_t *) text, text_size) == 0);
            MESH_ASSERT(
                crypto_generichash_final(&run->digest, run->result.digest, SIM_DIGEST_SIZE) == 0);
            *result_out = run->result;
        }
    }
    mesh_panic_set_hook(NULL);
    panic_run = NULL;
    teardown(run);
    free(run);
    return err;
}
