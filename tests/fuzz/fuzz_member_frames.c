/*
 * tests/fuzz/fuzz_member_frames.c: a stateful libFuzzer target. One whole
 * member (gossip + lease machine + in-memory ledger, through member_node
 * and its executor, as the agent and the simulator drive it) is fed an
 * arbitrary sequence of frames, clock advances and local commands; the
 * machines' own MESH_ASSERTs are the first oracle, on in every build.
 *
 * The member is node 0 of tests/unit/member_cluster.h's three-node
 * federation (FR, DE, FR; fixed keys from seed 1, certificates from one
 * root), so frames recorded from nodes 1 and 2 of that cluster carry
 * valid signatures here: the seed corpus is such a recording (see
 * "Generating the corpus" below), and the fuzzer mutates from real
 * certificates, adverts, probes, digests and lease messages inward.
 *
 * Input: a sequence of operations, each one byte OP and its operands:
 *   OP % 4 == 0  frame: u16 little-endian length L, then L bytes (cut to
 *                what is left), given to member_on_frame
 *   OP % 4 == 1  time: u16 little-endian D; the clock moves D ms forward
 *                and member_on_tick runs
 *   OP % 4 == 2  borrow: one byte A; member_borrow of A + 1 vCPUs for an
 *                hour (the lender side is driven by the peers' frames)
 *   OP % 4 == 3  load: one byte Q; member_set_load of vCPU, Q * 4 queued
 * member_flush follows every operation, as in the agent.
 *
 * The oracle: no crash, no MESH_ASSERT, nothing read past the input;
 * member_on_frame and member_on_tick return MESH_OK whatever the frame
 * (hostile input is counted, never an error), member_flush never fails
 * (the memory store does not); every frame the member sends fits
 * WIRE_FRAME_SIZE_MAX; the lease machine never books more than it may
 * lend, and its deadline never lies in the past after a tick. Any
 * violation aborts.
 *
 * Generating the corpus: built with -DFUZZ_MEMBER_GENERATE (the CMake
 * target fuzz_member_frames_generate), this file is a program that runs
 * the cluster (nodes 1 and 2 borrow from node 0, node 0 from them),
 * records every frame delivered to node 0 and every command node 0 got,
 * and writes them in the input format above, one file per phase:
 *   build/tests/fuzz/fuzz_member_frames_generate tests/fuzz/corpus/member_frames
 */
#define _POSIX_C_SOURCE 200809L

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/member_cluster.h"

#define FUZZ_NODES    3u
#define FUZZ_SEED     1u
#define FUZZ_HOUR_NS  (3600ull * MESH_NS_PER_S)
#define FUZZ_LENDABLE 256u
#define FUZZ_OPS_MAX  100000u

static const char *const fuzz_countries[MC_NODES_MAX] = {"FR", "DE", "FR", "NL",
                                                         "DE", "FR", "IT", "ES"};

static void fuzz_require(bool ok, const char *what)
{
    if (!ok) {
        (void) fprintf(stderr, "fuzz_member_frames: %s\n", what);
        abort();
    }
}

static void fuzz_borrow(mc_cluster *c, uint32_t node, uint64_t vcpu)
{
    lease_borrow_request request;
    memset(&request, 0, sizeof(request));
    request.resource_count = 1;
    request.resources[0].resource_class = WIRE_RESOURCE_VCPU;
    request.resources[0].amount = vcpu;
    request.duration_ns = FUZZ_HOUR_NS;
    uint32_t borrow_id = 0;
    mesh_err err = member_borrow(c->nodes[node], mc_now(c), &request, &c->rngs[node], &borrow_id);
    // A borrow can be refused (too many in flight, nobody known yet); it
    // never fails inside.
    fuzz_require(err != MESH_EINTERNAL && err != MESH_ECORRUPT, "member_borrow failed inside");
}

#ifndef FUZZ_MEMBER_GENERATE

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static mc_cluster cluster;

static uint64_t frames_sent;

/* The member's sends: checked and counted, not delivered (no peer runs). */
static void fuzz_send(void *ctx,
                      const mesh_node_id *peer,
                      const char *endpoint,
                      const uint8_t *frame,
                      uint32_t frame_size)
{
    (void) ctx;
    (void) peer;
    fuzz_require(endpoint != NULL, "a send without an endpoint");
    fuzz_require(frame != NULL && frame_size > 0, "an empty frame sent");
    fuzz_require(frame_size <= WIRE_FRAME_SIZE_MAX, "a frame over WIRE_FRAME_SIZE_MAX sent");
    frames_sent++;
}

static void check_invariants(mc_cluster *c)
{
    lease_capacity capacity;
    lease_capacity_at(member_lease(c->nodes[0]), 0, &capacity);
    fuzz_require(capacity.total == 1024 && capacity.lendable == FUZZ_LENDABLE,
                 "the lending policy changed");
    fuzz_require(capacity.lent <= capacity.lendable, "booked more than lendable");
    fuzz_require(capacity.free_to_lend <= capacity.lendable, "free to lend over lendable");
}

static uint32_t read_u16(const uint8_t *data, size_t size, size_t *at)
{
    uint32_t value = 0;
    for (uint32_t shift = 0; shift < 16 && *at < size; shift += 8) {
        value |= (uint32_t) data[(*at)++] << shift;
    }
    return value;
}

/* The federation's keys, certificates and configs are made once; each
 * input gets a fresh node 0: a small empty store, its ledger, its member,
 * its PRNG seeded as mc_init seeds it, the clock at 0. */
static void fresh_member(mc_cluster *c)
{
    static bool made;
    if (!made) {
        mc_init(c, FUZZ_NODES, FUZZ_SEED, fuzz_countries);
        c->configs[0].io.send = fuzz_send;
        // Tables sized for a federation of three, not the agent's
        // defaults (1,024 members, 4,096 leases): each input creates a
        // member, and memset of large tables would be most of the run.
        c->configs[0].gossip.members_max = 64;
        c->configs[0].lease.leases_max = 256;
        c->configs[0].lease.borrows_max = 16;
        // The simulator's memo of signatures found valid, kept across
        // inputs: it changes no result (sim.verify_cache shows it), and
        // most of an input's time was Ed25519 checks of the same frames.
        static mcrypto_verify_cache *verify_cache;
        fuzz_require(mcrypto_verify_cache_create(1u << 12, &verify_cache) == MESH_OK,
                     "cannot create the verify cache");
        c->configs[0].gossip.verify_cache = verify_cache;
        c->configs[0].lease.verify_cache = verify_cache;
        made = true;
    }
    ledger_mem_store_destroy(c->stores[0]);
    c->stores[0] = NULL;
    fuzz_require(ledger_mem_store_create(1u << 14, 1ull << 26, &c->stores[0]) == MESH_OK,
                 "cannot create the store");
    c->store_vtables[0] = ledger_mem_store_interface(c->stores[0]);
    c->now_ns = 0;
    c->order = 0;
    c->event_count = 0;
    mesh_rng_seed(&c->rngs[0], FUZZ_SEED * 1000u);
    // mc_open, with a ledger sized like the member.
    ledger_config config;
    ledger_config_default(&config);
    memcpy(config.self_key, c->keys[0].public_key, LEDGER_KEY_SIZE);
    config.leases_max = 512;
    config.balance_rows_max = 64;
    config.peers_max = 16;
    config.group_records_max = 64;
    fuzz_require(ledger_open(&config, &c->store_vtables[0], &c->ledgers[0]) == MESH_OK,
                 "cannot open the ledger");
    c->configs[0].ledger_handle = c->ledgers[0];
    c->configs[0].store = &c->store_vtables[0];
    fuzz_require(member_create(&c->configs[0], mc_now(c), &c->rngs[0], &c->nodes[0]) == MESH_OK,
                 "cannot create the member");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mc_cluster *c = &cluster;
    fresh_member(c);
    frames_sent = 0;
    size_t at = 0;
    for (uint32_t op_count = 0; at < size && op_count < FUZZ_OPS_MAX; op_count++) {
        uint8_t op = data[at++];
        mesh_err err = MESH_OK;
        switch (op % 4u) {
        case 0: {
            uint32_t length = read_u16(data, size, &at);
            if (length > size - at) {
                length = (uint32_t) (size - at);
            }
            err = member_on_frame(c->nodes[0], mc_now(c), data + at, length, &c->rngs[0]);
            fuzz_require(err == MESH_OK, "member_on_frame refused with an error");
            at += length;
            break;
        }
        case 1: {
            uint32_t delta_ms = read_u16(data, size, &at);
            c->now_ns += (uint64_t) delta_ms * MESH_NS_PER_MS;
            err = member_on_tick(c->nodes[0], mc_now(c), &c->rngs[0]);
            fuzz_require(err == MESH_OK, "member_on_tick failed");
            break;
        }
        case 2:
            fuzz_borrow(c, 0, (uint64_t) (at < size ? data[at++] : 0) + 1u);
            break;
        default: {
            uint64_t queued = (uint64_t) (at < size ? data[at++] : 0) * 4u;
            err = member_set_load(c->nodes[0], mc_now(c), WIRE_RESOURCE_VCPU, "", queued, 0,
                                  &c->rngs[0]);
            fuzz_require(err == MESH_OK, "member_set_load failed");
            break;
        }
        }
        fuzz_require(member_flush(c->nodes[0], mc_now(c), &c->rngs[0]) == MESH_OK,
                     "member_flush failed on the memory store");
        check_invariants(c);
    }
    // The clock moves on an hour: every lease and hold ends or is ended
    // by its timers, and the machines stay consistent.
    c->now_ns += FUZZ_HOUR_NS + 1;
    fuzz_require(member_on_tick(c->nodes[0], mc_now(c), &c->rngs[0]) == MESH_OK,
                 "the last tick failed");
    fuzz_require(member_flush(c->nodes[0], mc_now(c), &c->rngs[0]) == MESH_OK,
                 "the last flush failed");
    check_invariants(c);
    fuzz_require(member_deadline_ns(c->nodes[0]) >= mc_now(c).monotonic_ns,
                 "a deadline in the past after a tick");
    fuzz_require(c->msg_count == 0, "a message queued for a peer");
    member_destroy(c->nodes[0]);
    c->nodes[0] = NULL;
    ledger_close(c->ledgers[0]);
    c->ledgers[0] = NULL;
    return 0;
}

#else /* FUZZ_MEMBER_GENERATE */

/* The recording: node 0's inputs, in the input format, one buffer per
 * phase. */
#define RECORD_SIZE_MAX (60u * 1024u)

typedef struct recording {
    uint8_t bytes[RECORD_SIZE_MAX];
    uint32_t size;
    uint64_t clock_ns; /* the time node 0 has been told about */
    bool full;
} recording;

static recording record;
static mc_cluster generator;

static void record_bytes(const uint8_t *bytes, uint32_t size)
{
    if (record.full || record.size + size > RECORD_SIZE_MAX) {
        record.full = true;
        return;
    }
    memcpy(record.bytes + record.size, bytes, size);
    record.size += size;
}

/* Moves the recorded clock to at_ns, in steps of at most 65,535 ms. */
static void record_time(uint64_t at_ns)
{
    while (record.clock_ns + MESH_NS_PER_MS <= at_ns) {
        uint64_t step_ms = (at_ns - record.clock_ns) / MESH_NS_PER_MS;
        if (step_ms > 0xffffu) {
            step_ms = 0xffffu;
        }
        uint8_t op[3] = {1, (uint8_t) (step_ms & 0xffu), (uint8_t) (step_ms >> 8)};
        record_bytes(op, sizeof(op));
        record.clock_ns += step_ms * MESH_NS_PER_MS;
    }
}

/* Nodes 1 and 2 send through here: frames for node 0 are recorded at
 * their delivery time, then everything goes on as mc_send does. */
static void generate_send(void *ctx,
                          const mesh_node_id *peer,
                          const char *endpoint,
                          const uint8_t *frame,
                          uint32_t frame_size)
{
    mc_io_ctx *io = ctx;
    if (strcmp(endpoint, "sim://0") == 0 && frame_size <= 0xffffu) {
        record_time(io->cluster->now_ns + io->cluster->latency_ns);
        uint8_t op[3] = {0, (uint8_t) (frame_size & 0xffu), (uint8_t) (frame_size >> 8)};
        record_bytes(op, sizeof(op));
        record_bytes(frame, frame_size);
    }
    mc_send(ctx, peer, endpoint, frame, frame_size);
}

static int write_phase(const char *dir, const char *name)
{
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (n < 0 || (size_t) n >= sizeof(path)) {
        return -1;
    }
    FILE *file = fopen(path, "wb");
    if (file == NULL) {
        (void) fprintf(stderr, "cannot write %s\n", path);
        return -1;
    }
    size_t written = fwrite(record.bytes, 1, record.size, file);
    int closed = fclose(file);
    (void) printf("%s: %u bytes%s\n", path, record.size, record.full ? " (cut at the bound)" : "");
    return written == record.size && closed == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        (void) fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    mc_cluster *c = &generator;
    mc_init(c, FUZZ_NODES, FUZZ_SEED, fuzz_countries);
    for (uint32_t i = 1; i < FUZZ_NODES; i++) {
        c->configs[i].io.send = generate_send;
    }
    mc_start(c);
    int failed = 0;

    // Phase 1: the join, until every member holds every other alive.
    if (!mc_converge(c, 30 * MESH_NS_PER_S)) {
        (void) fprintf(stderr, "the cluster did not converge\n");
        return 1;
    }
    record_time(c->now_ns);
    failed |= write_phase(argv[1], "join");

    // Phase 2: past the lenders' quiet time, node 1 borrows from node 0
    // (FR-only, which only nodes 0 and 2 are), and the lease runs.
    mc_run(c, c->now_ns + 6 * MESH_NS_PER_S);
    wire_lease_constraints fr_only;
    memset(&fr_only, 0, sizeof(fr_only));
    fr_only.country_count = 1;
    memcpy(fr_only.countries[0], "FR", 3);
    uint32_t borrow_id = 0;
    mc_borrow_vcpu(c, 1, 300, FUZZ_HOUR_NS, &fr_only, &borrow_id);
    mc_run(c, c->now_ns + 3 * MESH_NS_PER_S);
    record_time(c->now_ns);
    failed |= write_phase(argv[1], "join-lend");

    // Phase 3: node 0 borrows; its command is recorded as an operation.
    record_time(c->now_ns);
    uint8_t borrow_op[2] = {2, 15};
    record_bytes(borrow_op, sizeof(borrow_op));
    fuzz_borrow(c, 0, 16);
    mc_flush(c, 0);
    mc_run(c, c->now_ns + 3 * MESH_NS_PER_S);
    record_time(c->now_ns);
    failed |= write_phase(argv[1], "join-lend-borrow");

    // Phase 4: local demand at node 0 reclaims what it lent (the target
    // itself then moves the clock an hour on, when every lease ends).
    uint8_t load_op[2] = {3, 250};
    record_bytes(load_op, sizeof(load_op));
    if (member_set_load(c->nodes[0], mc_now(c), WIRE_RESOURCE_VCPU, "", 1000, 0, &c->rngs[0]) !=
        MESH_OK) {
        return 1;
    }
    mc_flush(c, 0);
    mc_run(c, c->now_ns + 10 * MESH_NS_PER_S);
    record_time(c->now_ns);
    failed |= write_phase(argv[1], "join-lend-borrow-reclaim");
    mc_fini(c);
    return failed != 0;
}

#endif /* FUZZ_MEMBER_GENERATE */
