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
 *
 * The federation this file runs is made in sim/gossip_world.c, and the
 * hostile members live in sim/gossip_adversary.c (sim/gossip_int.h has
 * their contracts); the heap and the network model are sim/heap.c and
 * sim/net.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/gossip_int.h"

_Static_assert(sizeof(((sim_gossip_result *) NULL)->dropped) / sizeof(uint64_t) ==
                   SIM_VERDICT_COUNT,
               "one drop counter per verdict");

static const char *const phase_names[] = {"join",      "idle", "advert", "crash",
                                          "partition", "heal", "tail"};

static void report(const sim_gossip_state *run, const char *name)
{
    if (run->config->progress != NULL) {
        run->config->progress(run->config->progress_context, name, run->now_ns, run->result.events);
    }
}

static void enter_phase(sim_gossip_state *run, sim_gossip_phase next)
{
    run->phase = next;
    report(run, phase_names[next]);
}

/* The run whose panic hook prints seed and time; one at a time. */
static const sim_gossip_state *panic_run;

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

/* A 64-bit hash of a payload, for the digest. BLAKE2b over every byte of
 * every frame cost a sixth of a run (at N = 10,000 some 200 GB of frames
 * pass), and the digest only has to change when a run changes: four lanes
 * of multiply-xorshift over little-endian words, each step a bijection of
 * its lane, so a change in any one word always changes the result. Not a
 * defence against anyone choosing frames; nothing here needs one. */
static uint64_t payload_mix(uint64_t lane, uint64_t word)
{
    lane = (lane ^ word) * 0x9e3779b97f4a7c15ull;
    return lane ^ (lane >> 29);
}

static uint64_t payload_word(const uint8_t *bytes)
{
    uint64_t word = 0;
    for (uint32_t i = 0; i < 8; i++) {
        word |= (uint64_t) bytes[i] << (8 * i);
    }
    return word;
}

static uint64_t payload_hash(const uint8_t *payload, uint32_t size)
{
    uint64_t lanes[4] = {0x243f6a8885a308d3ull, 0x13198a2e03707344ull, 0xa4093822299f31d0ull,
                         0x082efa98ec4e6c89ull};
    uint32_t at = 0;
    for (; size - at >= 32u; at += 32u) {
        for (uint32_t l = 0; l < 4; l++) {
            lanes[l] = payload_mix(lanes[l], payload_word(payload + at + (size_t) 8u * l));
        }
    }
    uint8_t tail[32];
    memset(tail, 0, sizeof(tail));
    memcpy(tail, payload + at, size - at);
    for (uint32_t l = 0; l < 4; l++) {
        lanes[l] = payload_mix(lanes[l], payload_word(tail + (size_t) 8u * l));
    }
    uint64_t hash = size;
    for (uint32_t l = 0; l < 4; l++) {
        hash = payload_mix(hash, lanes[l]);
    }
    return hash;
}

/* The digest: every message's fate, in the order the simulator decides it
 * (time, from, to, verdict, size, and the payload's 64-bit hash). */
static void digest_message(sim_gossip_state *run,
                           uint32_t from,
                           uint32_t to,
                           sim_verdict verdict,
                           const uint8_t *payload,
                           uint32_t size)
{
    uint8_t head[29];
    uint64_t hash = size > 0 ? payload_hash(payload, size) : 0;
    for (uint32_t i = 0; i < 8; i++) {
        head[i] = (uint8_t) (run->now_ns >> (8 * i));
        head[21 + i] = (uint8_t) (hash >> (8 * i));
    }
    for (uint32_t i = 0; i < 4; i++) {
        head[8 + i] = (uint8_t) (from >> (8 * i));
        head[12 + i] = (uint8_t) (to >> (8 * i));
        head[17 + i] = (uint8_t) (size >> (8 * i));
    }
    head[16] = (uint8_t) verdict;
    MESH_ASSERT(crypto_generichash_update(&run->digest, head, sizeof(head)) == 0);
    if (verdict == SIM_VERDICT_DELIVER) {
        run->result.delivered++;
    } else {
        run->result.dropped[verdict]++;
    }
}

mesh_err sim_gossip_push_event(sim_gossip_state *run, const sim_event *event)
{
    MESH_ASSERT(event->time_ns >= run->now_ns);
    mesh_err err = sim_heap_push(&run->heap, event);
    if (err != MESH_OK) {
        (void) fprintf(stderr, "sim: cannot queue an event: %s\n", mesh_strerror(err));
    }
    return err;
}

static mesh_err schedule_timer(sim_gossip_state *run, uint32_t index, bool after_tick)
{
    sim_gossip_node *node = &run->nodes[index];
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
    return sim_gossip_push_event(run, &event);
}

mesh_err sim_gossip_send_frame(sim_gossip_state *run, uint32_t from, const mesh_output *item)
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
    mesh_err err = sim_gossip_push_event(run, &event);
    if (err != MESH_OK) {
        free(copy);
        return err;
    }
    run->inflight_bytes += item->payload_size;
    return MESH_OK;
}

/* A machine's event: a healthy member turning DOWN, while false downs are
 * counted, is a false down. Events are exact, where a periodic scan of the
 * views could miss a DOWN that a refutation undoes within the scan period. */
static void on_gossip_event(sim_gossip_state *run, const mesh_output *item)
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
    uint32_t member = sim_gossip_index_of_id(run, &event.member);
    if (!run->false_down_counting || member == UINT32_MAX || run->nodes[member].crashed) {
        return;
    }
    gossip_member_info self;
    if (gossip_member_find(run->nodes[member].machine, &event.member, &self) == MESH_OK &&
        self.sequence > event.sequence) {
        run->result.false_down_refuted_unseen++;
    } else {
        run->result.false_down_unrefuted++;
    }
    if (run->nodes[member].false_down_seen) {
        return;
    }
    run->nodes[member].false_down_seen = true;
    run->result.false_down++;
}

/* member_io: the member's executor hands each frame and event here, in
 * order, as the agent's and the unit tests' shells get them. */
void sim_gossip_io_send(void *ctx,
                        const mesh_node_id *peer,
                        const char *endpoint,
                        const uint8_t *frame,
                        uint32_t frame_size)
{
    struct sim_gossip_io *io = ctx;
    sim_gossip_state *run = io->run;
    if (run->io_error != MESH_OK) {
        return;
    }
    mesh_output item = {.kind = MESH_OUTPUT_SEND,
                        .peer = *peer,
                        .endpoint = endpoint,
                        .payload = frame,
                        .payload_size = frame_size};
    run->io_error = sim_gossip_send_frame(run, io->index, &item);
}

void sim_gossip_io_event(void *ctx, mesh_now now, member_source source, const void *event)
{
    struct sim_gossip_io *io = ctx;
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
static mesh_err
after_call(sim_gossip_state *run, uint32_t index, mesh_err call_err, bool after_tick)
{
    if (call_err == MESH_EFULL) {
        run->result.outbox_full++;
    } else if (call_err != MESH_OK) {
        run->result.call_errors++;
    }
    sim_gossip_node *node = &run->nodes[index];
    mesh_err flushed = member_flush(node->member, sim_gossip_node_now(run, node), &node->rng);
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

static mesh_err tick_node(sim_gossip_state *run, uint32_t index)
{
    sim_gossip_node *node = &run->nodes[index];
    mesh_err call_err = member_on_tick(node->member, sim_gossip_node_now(run, node), &node->rng);
    return after_call(run, index, call_err, true);
}

/* Phase 3's per-delivery check: only the node that just received. */
static void check_news(sim_gossip_state *run, uint32_t index)
{
    sim_gossip_node *node = &run->nodes[index];
    if (node->has_news || !sim_gossip_node_live(node)) {
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

static mesh_err deliver(sim_gossip_state *run, sim_event *event)
{
    MESH_ASSERT(run->inflight_bytes >= event->payload_size);
    run->inflight_bytes -= event->payload_size;
    sim_gossip_node *node = &run->nodes[event->node_index];
    if (!sim_gossip_node_live(node)) {
        digest_message(run, event->from_index, event->node_index, SIM_VERDICT_DOWN, event->payload,
                       event->payload_size);
        free(event->payload);
        return MESH_OK;
    }
    digest_message(run, event->from_index, event->node_index, SIM_VERDICT_DELIVER, event->payload,
                   event->payload_size);
    mesh_err call_err = member_on_frame(node->member, sim_gossip_node_now(run, node),
                                        event->payload, event->payload_size, &node->rng);
    free(event->payload);
    event->payload = NULL;
    mesh_err err = after_call(run, event->node_index, call_err, false);
    if (run->phase == SIM_GOSSIP_PHASE_ADVERT) {
        check_news(run, event->node_index);
    }
    return err;
}

/* True when every live node has the same view hash; starts at the witness. */
static bool views_equal(sim_gossip_state *run)
{
    uint8_t reference[WIRE_VIEW_HASH_SIZE];
    uint32_t first = UINT32_MAX;
    for (uint32_t i = 0; i < run->node_count && first == UINT32_MAX; i++) {
        if (sim_gossip_node_live(&run->nodes[i])) {
            first = i;
        }
    }
    if (first == UINT32_MAX) {
        return true;
    }
    gossip_view_hash(run->nodes[first].machine, reference);
    for (uint32_t k = 0; k < run->node_count; k++) {
        uint32_t i = (run->witness_node + k) % run->node_count;
        if (!sim_gossip_node_live(&run->nodes[i])) {
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
static bool views_complete(sim_gossip_state *run, bool crashed_down)
{
    for (uint32_t k = 0; k < run->node_count; k++) {
        uint32_t i = (run->witness_node + k) % run->node_count;
        const sim_gossip_node *node = &run->nodes[i];
        if (!sim_gossip_node_live(node)) {
            continue;
        }
        for (uint32_t l = 0; l < run->node_count; l++) {
            uint32_t m = (run->witness_member + l) % run->node_count;
            const sim_gossip_node *member = &run->nodes[m];
            gossip_member_info info;
            mesh_err err = gossip_member_find(node->machine, &member->id, &info);
            bool ok = true;
            if (sim_gossip_node_live(member)) {
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
static bool crashes_detected(sim_gossip_state *run)
{
    for (uint32_t k = 0; k < run->node_count; k++) {
        uint32_t i = (run->witness_node + k) % run->node_count;
        const sim_gossip_node *node = &run->nodes[i];
        if (!sim_gossip_node_live(node)) {
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
static bool phase_done(sim_gossip_state *run)
{
    switch (run->phase) {
    case SIM_GOSSIP_PHASE_JOIN:
        return run->live_count == run->node_count && views_equal(run) && views_complete(run, false);
    case SIM_GOSSIP_PHASE_ADVERT:
        return run->news_count == run->live_count;
    case SIM_GOSSIP_PHASE_CRASH:
        return crashes_detected(run);
    case SIM_GOSSIP_PHASE_HEAL:
        return views_equal(run) && views_complete(run, true);
    case SIM_GOSSIP_PHASE_IDLE:
    case SIM_GOSSIP_PHASE_PARTITION:
    case SIM_GOSSIP_PHASE_TAIL:
        return false;
    }
    return false;
}

static mesh_err on_event(sim_gossip_state *run, sim_event *event, bool *done_out)
{
    sim_gossip_node *node = &run->nodes[event->node_index];
    switch ((sim_event_kind) event->kind) {
    case SIM_EVENT_START:
        node->started = true;
        run->live_count++;
        return tick_node(run, event->node_index);
    case SIM_EVENT_TIMER:
        if (!sim_gossip_node_live(node) || !node->timer_armed ||
            event->generation != node->timer_generation) {
            return MESH_OK; // Stale: the deadline moved since.
        }
        node->timer_armed = false;
        return tick_node(run, event->node_index);
    case SIM_EVENT_DELIVER:
        return deliver(run, event);
    case SIM_EVENT_ATTACK:
        return sim_gossip_attack(run, event->node_index);
    case SIM_EVENT_CHECK: {
        // A frame the shared store refused ends the run at once: nothing
        // after it is what unbounded machines would do.
        mesh_err store_err = sim_gossip_world_check_store(run);
        if (store_err != MESH_OK) {
            return store_err;
        }
        // Progress once per virtual second.
        if (run->now_ns / MESH_NS_PER_S != (run->now_ns - run->config->check_ns) / MESH_NS_PER_S) {
            report(run, phase_names[run->phase]);
        }
        *done_out = phase_done(run);
        sim_event next = {.time_ns = run->now_ns + run->config->check_ns, .kind = SIM_EVENT_CHECK};
        return sim_gossip_push_event(run, &next);
    }
    }
    MESH_ASSERT(false && "unknown event kind");
    return MESH_EINTERNAL;
}

/* Runs events up to limit_ns, or until the phase's condition holds at a
 * CHECK (*met_ns_out is then the time, else SIM_TIME_NONE). The clock ends
 * at the time of the last event run, or at limit_ns. */
static mesh_err run_until(sim_gossip_state *run, uint64_t limit_ns, uint64_t *met_ns_out)
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

static mesh_err setup(sim_gossip_state *run)
{
    const sim_gossip_config *config = run->config;
    mesh_rng_seed(&run->setup_rng, sim_gossip_stream_seed(config->seed, SIM_GOSSIP_STREAM_SETUP));
    mesh_err err = sim_net_init(&run->net, config->node_count, config->loss_ppm,
                                sim_gossip_stream_seed(config->seed, SIM_GOSSIP_STREAM_NETWORK));
    if (err != MESH_OK) {
        return err;
    }
    sim_heap_init(&run->heap, config->events_max);
    MESH_ASSERT(crypto_generichash_init(&run->digest, NULL, 0, SIM_DIGEST_SIZE) == 0);
    run->crashed_flags = calloc(config->node_count, 1);
    if (run->crashed_flags == NULL) {
        return MESH_ENOMEM;
    }
    err = sim_gossip_world_create(run);
    if (err != MESH_OK) {
        return err;
    }
    sim_event check = {.time_ns = config->check_ns, .kind = SIM_EVENT_CHECK};
    return sim_gossip_push_event(run, &check);
}

static void teardown(sim_gossip_state *run)
{
    sim_gossip_world_destroy(run);
    free(run->crashed_flags);
    sim_heap_fini(&run->heap);
    sim_net_fini(&run->net);
}

static mesh_err phase_advert(sim_gossip_state *run)
{
    sim_gossip_node *node = &run->nodes[0];
    wire_advert advert;
    if (gossip_member_advert(node->machine, &node->id, &advert) != MESH_OK) {
        return MESH_EINTERNAL;
    }
    // New capacity: a quarter of the vCPUs were just taken by local jobs.
    MESH_ASSERT(advert.resource_count > 0 &&
                advert.resources[0].resource_class == WIRE_RESOURCE_VCPU);
    advert.resources[0].free = advert.resources[0].free * 3u / 4u;
    advert.resources[0].lendable = advert.resources[0].free / 2u;
    enter_phase(run, SIM_GOSSIP_PHASE_ADVERT);
    run->advert_at_ns = run->now_ns;
    mesh_err call_err =
        member_update_advert(node->member, sim_gossip_node_now(run, node), &advert, &node->rng);
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
static void count_undetected(sim_gossip_state *run)
{
    for (uint32_t i = 0; i < run->node_count; i++) {
        if (!sim_gossip_node_live(&run->nodes[i])) {
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

static mesh_err phase_crash(sim_gossip_state *run)
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
    enter_phase(run, SIM_GOSSIP_PHASE_CRASH);
    run->witness_node = 0;
    uint64_t met_ns = SIM_TIME_NONE;
    mesh_err err = run_until(run, crash_ns + config->phase_limit_ns, &met_ns);
    if (err == MESH_OK && met_ns != SIM_TIME_NONE) {
        run->result.detect_ns = met_ns - crash_ns;
    }
    count_undetected(run);
    return err;
}

static mesh_err phase_partition(sim_gossip_state *run)
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
    enter_phase(run, SIM_GOSSIP_PHASE_PARTITION);
    run->false_down_counting = false;
    uint64_t met_ns = SIM_TIME_NONE;
    mesh_err err = run_until(run, run->now_ns + config->partition_ns, &met_ns);
    if (err != MESH_OK) {
        return err;
    }
    sim_net_heal(&run->net);
    uint64_t heal_ns = run->now_ns;
    enter_phase(run, SIM_GOSSIP_PHASE_HEAL);
    run->witness_node = 0;
    run->witness_member = 0;
    err = run_until(run, heal_ns + config->phase_limit_ns, &met_ns);
    if (err == MESH_OK && met_ns != SIM_TIME_NONE) {
        run->result.heal_ns = met_ns - heal_ns;
        run->false_down_counting = true;
    }
    return err;
}

static mesh_err run_scenario(sim_gossip_state *run)
{
    const sim_gossip_config *config = run->config;
    uint64_t met_ns = SIM_TIME_NONE;
    enter_phase(run, SIM_GOSSIP_PHASE_JOIN);
    run->false_down_counting = true;
    mesh_err err = run_until(run, config->join_limit_ns, &met_ns);
    if (err != MESH_OK || met_ns == SIM_TIME_NONE) {
        return err;
    }
    run->result.converged = true;
    run->result.converged_ns = met_ns;

    enter_phase(run, SIM_GOSSIP_PHASE_IDLE);
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
    enter_phase(run, SIM_GOSSIP_PHASE_TAIL);
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
        (config->node_count < 4 ||
         config->hostile_count > config->node_count - SIM_GOSSIP_HOSTILE_FIRST)) {
        return MESH_EINVAL;
    }
    if ((uint64_t) config->node_count + config->members_slack > UINT32_MAX) {
        return MESH_EINVAL;
    }
    return MESH_OK;
}

static void sum_stats(const sim_gossip_state *run, gossip_stats *sum)
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
        sum->refutation_answers += stats.refutation_answers;
        sum->late_wakeups += stats.late_wakeups;
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
    sim_gossip_state *run = calloc(1, sizeof(sim_gossip_state));
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
        err = sim_gossip_world_check_store(run);
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
