/*
 * tests/unit/member_lease_test.c: leases end to end between whole members
 * (gossip + lease machine + in-memory ledger, through member_node's
 * executor): borrow, offer, accept, confirm, usage, the end, settlement;
 * constraints; splitting; no double booking; release and reclaim; loss,
 * duplication and a crashed lender; hostile frames. Every lease's two
 * ledgers are reconciled record for record at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/unit/member_cluster.h"

#define HOUR_NS (3600ull * MESH_NS_PER_S)
#define MIN_NS  (60ull * MESH_NS_PER_S)

static const char *const countries[MC_NODES_MAX] = {"FR", "DE", "FR", "NL", "DE", "FR", "IT", "ES"};

static mc_cluster *setup(uint32_t count, uint64_t seed)
{
    mc_cluster *c = calloc(1, sizeof(*c));
    mc_init(c, count, seed, countries);
    return c;
}

static void teardown(mc_cluster *c)
{
    mc_fini(c);
    free(c);
}

// Past every lender's start-up quiet time (offer_ttl): no offers before.
static void mc_settle(mc_cluster *c)
{
    mc_run(c, c->now_ns + 6 * MESH_NS_PER_S);
}

static void assert_ledgers_agree(const mc_cluster *c, uint32_t a, uint32_t b)
{
    ledger_reconcile_report report = mc_reconcile(c, a, b);
    assert_int_equal(report.only_a_count, 0);
    assert_int_equal(report.only_b_count, 0);
    assert_int_equal(report.differ_count, 0);
    assert_int_equal(report.a_lent_milli, report.b_borrowed_milli);
    assert_int_equal(report.b_lent_milli, report.a_borrowed_milli);
}

static uint64_t booked_vcpu(const mc_cluster *c, uint32_t node)
{
    lease_capacity capacity;
    lease_capacity_at(member_lease(c->nodes[node]), 0, &capacity);
    return capacity.lent;
}

static void test_borrow_use_settle(void **state)
{
    (void) state;
    mc_cluster *c = setup(3, 1);
    mc_start(c);
    assert_true(mc_converge(c, 30 * MESH_NS_PER_S));
    mc_settle(c);
    uint32_t borrow_id = 0;
    uint32_t mark = c->event_count;
    mc_borrow_vcpu(c, 0, 8, HOUR_NS, NULL, &borrow_id);
    mc_run(c, c->now_ns + MESH_NS_PER_S);
    const mc_event *done = mc_find_event(c, 0, LEASE_EVENT_BORROW_DONE, mark);
    assert_non_null(done);
    assert_int_equal(done->event.status, LEASE_BORROW_GRANTED);
    assert_int_equal(done->event.lease_count, 1);
    assert_int_equal(done->event.amounts[0].amount_milli, 8000);
    const mc_event *granted = mc_find_event(c, 0, LEASE_EVENT_GRANTED, mark);
    assert_non_null(granted);
    assert_false(granted->event.self_is_lender);
    uint32_t lender = UINT32_MAX;
    for (uint32_t i = 1; i < c->count; i++) {
        if (mesh_node_id_equal(&c->ids[i], &granted->event.peer)) {
            lender = i;
        }
    }
    assert_true(lender != UINT32_MAX);
    assert_non_null(mc_find_event(c, lender, LEASE_EVENT_GRANTED, mark));
    assert_int_equal(booked_vcpu(c, lender), 8);
    // Both sides hold the OPENED record, with both signatures.
    assert_ledgers_agree(c, 0, lender);
    // Past the window: usage, expiry and settlement on both sides.
    mc_run(c, c->now_ns + HOUR_NS + 5 * MESH_NS_PER_S);
    const mc_event *ended = mc_find_event(c, 0, LEASE_EVENT_ENDED, mark);
    assert_non_null(ended);
    assert_int_equal(ended->event.end_kind, LEDGER_KIND_EXPIRED);
    assert_int_equal(ended->event.amounts[0].amount_milli, 8000); // 8 vCPU x 1 h, exactly
    assert_non_null(mc_find_event(c, lender, LEASE_EVENT_ENDED, mark));
    assert_int_equal(booked_vcpu(c, lender), 0);
    assert_ledgers_agree(c, 0, lender);
    uint64_t lent = 0;
    uint64_t borrowed = 0;
    ledger_peer_totals(c->ledgers[lender], c->keys[0].public_key, &lent, &borrowed);
    assert_int_equal(lent, 8000);
    ledger_lease lease;
    assert_int_equal(ledger_lease_get(c->ledgers[0], granted->event.lease_id, &lease), MESH_OK);
    assert_int_equal(lease.state, LEDGER_LEASE_SETTLED);
    assert_int_equal(lease_count(member_lease(c->nodes[0])), 0);
    assert_int_equal(lease_count(member_lease(c->nodes[lender])), 0);
    teardown(c);
}

static void test_constraints_refuse_and_narrow(void **state)
{
    (void) state;
    mc_cluster *c = setup(4, 2); // FR, DE, FR, NL
    mc_start(c);
    assert_true(mc_converge(c, 30 * MESH_NS_PER_S));
    mc_settle(c);
    wire_lease_constraints only_it;
    memset(&only_it, 0, sizeof(only_it));
    only_it.country_count = 1;
    memcpy(only_it.countries[0], "IT", 3);
    uint32_t mark = c->event_count;
    mc_borrow_vcpu(c, 0, 4, HOUR_NS, &only_it, NULL);
    mc_run(c, c->now_ns + MESH_NS_PER_S);
    const mc_event *done = mc_find_event(c, 0, LEASE_EVENT_BORROW_DONE, mark);
    assert_non_null(done);
    assert_int_equal(done->event.status, LEASE_BORROW_REFUSED);
    assert_int_equal(done->event.candidate_count, 0);
    assert_int_equal(done->event.refusal, WIRE_LEASE_REFUSAL_COUNTRY);
    assert_int_equal(done->event.refusal_counts[WIRE_LEASE_REFUSAL_COUNTRY], 3);
    // HDS, certified only at the even nodes (FR here): only node 2 fits.
    wire_lease_constraints health;
    memset(&health, 0, sizeof(health));
    health.country_count = 1;
    memcpy(health.countries[0], "FR", 3);
    health.certifications = WIRE_CERTIFICATION_HDS;
    memcpy(health.data_class, "health", 7);
    mark = c->event_count;
    mc_borrow_vcpu(c, 0, 4, HOUR_NS, &health, NULL);
    mc_run(c, c->now_ns + MESH_NS_PER_S);
    done = mc_find_event(c, 0, LEASE_EVENT_BORROW_DONE, mark);
    assert_non_null(done);
    assert_int_equal(done->event.status, LEASE_BORROW_GRANTED);
    const mc_event *granted = mc_find_event(c, 0, LEASE_EVENT_GRANTED, mark);
    assert_non_null(granted);
    assert_true(mesh_node_id_equal(&granted->event.peer, &c->ids[2]));
    // The OPENED record carries the constraints and the lender's certified facts.
    lease_info info;
    assert_int_equal(lease_find(member_lease(c->nodes[0]), granted->event.lease_id, &info),
                     MESH_OK);
    assert_int_equal(info.phase, LEASE_PHASE_ACTIVE);
    // A cost limit under every lender's price: each lender refuses it, naming the price.
    wire_lease_constraints cheap;
    memset(&cheap, 0, sizeof(cheap));
    cheap.cost_microeur_per_hour_max = 1000; // 4 vCPUs at 30,000+ per vCPU-hour cost 120,000+
    mark = c->event_count;
    mc_borrow_vcpu(c, 0, 4, HOUR_NS, &cheap, NULL);
    mc_run(c, c->now_ns + MESH_NS_PER_S);
    done = mc_find_event(c, 0, LEASE_EVENT_BORROW_DONE, mark);
    assert_non_null(done);
    assert_int_equal(done->event.status, LEASE_BORROW_REFUSED);
    assert_int_equal(done->event.refusal, WIRE_LEASE_REFUSAL_PRICE);
    assert_int_equal(done->event.refusal_counts[WIRE_LEASE_REFUSAL_PRICE], 3);
    // A latency bound below what gossip measured (2 ms round trip) finds no one.
    wire_lease_constraints near;
    memset(&near, 0, sizeof(near));
    near.rtt_us_max = 500;
    mark = c->event_count;
    mc_borrow_vcpu(c, 0, 4, HOUR_NS, &near, NULL);
    mc_run(c, c->now_ns + MESH_NS_PER_S);
    done = mc_find_event(c, 0, LEASE_EVENT_BORROW_DONE, mark);
    assert_non_null(done);
    assert_int_equal(done->event.status, LEASE_BORROW_REFUSED);
    assert_int_equal(done->event.refusal, WIRE_LEASE_REFUSAL_LATENCY);
    teardown(c);
}

static void test_split_across_lenders(void **state)
{
    (void) state;
    mc_cluster *c = setup(4, 3);
    mc_start(c);
    assert_true(mc_converge(c, 30 * MESH_NS_PER_S));
    mc_settle(c);
    uint32_t mark = c->event_count;
    mc_borrow_vcpu(c, 0, 600, HOUR_NS, NULL, NULL); // each lender lends at most 256
    mc_run(c, c->now_ns + 2 * MESH_NS_PER_S);
    const mc_event *done = mc_find_event(c, 0, LEASE_EVENT_BORROW_DONE, mark);
    assert_non_null(done);
    assert_int_equal(done->event.status, LEASE_BORROW_GRANTED);
    assert_int_equal(done->event.lease_count, 3);
    assert_int_equal(done->event.amounts[0].amount_milli, 600000);
    uint64_t total = 0;
    for (uint32_t i = 1; i < c->count; i++) {
        assert_true(booked_vcpu(c, i) <= 256);
        total += booked_vcpu(c, i);
    }
    assert_int_equal(total, 600);
    teardown(c);
}

static void test_no_double_booking(void **state)
{
    (void) state;
    mc_cluster *c = setup(3, 4);
    // Only node 2 lends: 256 vCPUs; nodes 0 and 1 both ask for 200 at once.
    mc_policy(&c->configs[0].lease, 0, 30000);
    mc_policy(&c->configs[1].lease, 0, 30000);
    mc_start(c);
    assert_true(mc_converge(c, 30 * MESH_NS_PER_S));
    mc_settle(c);
    uint32_t mark = c->event_count;
    mc_borrow_vcpu(c, 0, 200, HOUR_NS, NULL, NULL);
    mc_borrow_vcpu(c, 1, 200, HOUR_NS, NULL, NULL);
    mc_run(c, c->now_ns + 3 * MESH_NS_PER_S);
    assert_true(booked_vcpu(c, 2) <= 256);
    const mc_event *a = mc_find_event(c, 0, LEASE_EVENT_BORROW_DONE, mark);
    const mc_event *b = mc_find_event(c, 1, LEASE_EVENT_BORROW_DONE, mark);
    assert_non_null(a);
    assert_non_null(b);
    uint64_t granted = a->event.amounts[0].amount_milli + b->event.amounts[0].amount_milli;
    assert_true(granted <= 256000);
    assert_true(granted >= 200000); // one of them got its 200
    assert_int_equal(granted / 1000, booked_vcpu(c, 2));
    teardown(c);
}

static void test_release_and_reclaim(void **state)
{
    (void) state;
    mc_cluster *c = setup(2, 5);
    mc_start(c);
    assert_true(mc_converge(c, 30 * MESH_NS_PER_S));
    mc_settle(c);
    uint32_t mark = c->event_count;
    mc_borrow_vcpu(c, 0, 10, HOUR_NS, NULL, NULL);
    mc_run(c, c->now_ns + MESH_NS_PER_S);
    const mc_event *granted = mc_find_event(c, 0, LEASE_EVENT_GRANTED, mark);
    assert_non_null(granted);
    uint8_t lease_id[LEDGER_LEASE_ID_SIZE];
    memcpy(lease_id, granted->event.lease_id, sizeof(lease_id));
    // Released after six minutes: usage is 10 vCPU x 0.1 h = 1 vCPU-hour.
    mc_run(c, c->now_ns + 6 * MIN_NS - MESH_NS_PER_S);
    int64_t start_ns = granted->event.start_ns;
    assert_int_equal(member_release(c->nodes[0], mc_now(c), lease_id, &c->rngs[0]), MESH_OK);
    int64_t released_ns = mc_now(c).realtime_ns;
    mc_flush(c, 0);
    mc_run(c, c->now_ns + 5 * MESH_NS_PER_S);
    const mc_event *ended = mc_find_event(c, 0, LEASE_EVENT_ENDED, mark);
    assert_non_null(ended);
    assert_int_equal(ended->event.end_kind, LEDGER_KIND_RELEASED);
    uint64_t expected = 10000u * (uint64_t) (released_ns - start_ns) / HOUR_NS;
    assert_int_equal(ended->event.amounts[0].amount_milli, expected);
    assert_true(expected > 990 && expected <= 1000);
    assert_ledgers_agree(c, 0, 1);
    assert_int_equal(member_release(c->nodes[0], mc_now(c), lease_id, &c->rngs[0]), MESH_ENOTFOUND);
    // The lender's own demand rises over what is not lent: reclaim with notice.
    mark = c->event_count;
    mc_borrow_vcpu(c, 0, 100, HOUR_NS, NULL, NULL);
    mc_run(c, c->now_ns + MESH_NS_PER_S);
    assert_non_null(mc_find_event(c, 0, LEASE_EVENT_GRANTED, mark));
    assert_int_equal(
        member_set_load(c->nodes[1], mc_now(c), WIRE_RESOURCE_VCPU, "", 200, 800, &c->rngs[1]),
        MESH_OK);
    mc_flush(c, 1);
    mc_run(c, c->now_ns + MESH_NS_PER_S);
    const mc_event *notice = mc_find_event(c, 0, LEASE_EVENT_RECLAIM_NOTICE, mark);
    assert_non_null(notice);
    assert_non_null(mc_find_event(c, 1, LEASE_EVENT_RECLAIM_NOTICE, mark));
    mc_run(c, c->now_ns + 2 * MIN_NS);
    ended = mc_find_event(c, 0, LEASE_EVENT_ENDED, mark);
    assert_non_null(ended);
    assert_int_equal(ended->event.end_kind, LEDGER_KIND_RECLAIMED);
    assert_int_equal(booked_vcpu(c, 1), 0);
    assert_ledgers_agree(c, 0, 1);
    teardown(c);
}

// Many leases under 20 % loss and 10 % duplication: every lease ends and
// both ledgers agree record for record.
static void test_loss_and_duplicates(void **state)
{
    (void) state;
    mc_cluster *c = setup(3, 6);
    mc_start(c);
    assert_true(mc_converge(c, 30 * MESH_NS_PER_S));
    mc_settle(c);
    c->loss = 0.2;
    c->duplicate = 0.1;
    uint32_t mark = c->event_count;
    for (uint32_t i = 0; i < 6; i++) {
        mc_borrow_vcpu(c, i % 3, 4 + i, 20 * MIN_NS, NULL, NULL);
        mc_run(c, c->now_ns + 10 * MESH_NS_PER_S);
    }
    mc_run(c, c->now_ns + 30 * MIN_NS);
    c->loss = 0;
    c->duplicate = 0;
    mc_run(c, c->now_ns + 2 * MIN_NS); // the resends settle what loss delayed
    uint32_t granted = 0;
    for (uint32_t n = 0; n < 3; n++) {
        granted += mc_count_events(c, n, LEASE_EVENT_GRANTED);
        assert_int_equal(lease_count(member_lease(c->nodes[n])), 0);
        assert_int_equal(booked_vcpu(c, n), 0);
    }
    assert_true(granted >= 2);
    // Every GRANTED on one side has an ENDED on both sides.
    uint32_t ended = 0;
    for (uint32_t n = 0; n < 3; n++) {
        ended += mc_count_events(c, n, LEASE_EVENT_ENDED);
    }
    assert_int_equal(ended, granted);
    (void) mark;
    for (uint32_t a = 0; a < 3; a++) {
        for (uint32_t b = a + 1; b < 3; b++) {
            assert_ledgers_agree(c, a, b);
        }
    }
    teardown(c);
}

// The lender crashes mid-lease, losing what was not synced, and restarts:
// the lease resumes from its ledger and settles; nothing acknowledged is
// lost; both ledgers agree.
static void test_lender_crash_restart(void **state)
{
    (void) state;
    mc_cluster *c = setup(2, 7);
    mc_start(c);
    assert_true(mc_converge(c, 30 * MESH_NS_PER_S));
    mc_settle(c);
    uint32_t mark = c->event_count;
    mc_borrow_vcpu(c, 0, 16, 30 * MIN_NS, NULL, NULL);
    mc_run(c, c->now_ns + MESH_NS_PER_S);
    const mc_event *granted = mc_find_event(c, 0, LEASE_EVENT_GRANTED, mark);
    assert_non_null(granted);
    mc_run(c, c->now_ns + 16 * MIN_NS); // one usage record
    mc_crash(c, 1);
    mc_run(c, c->now_ns + 10 * MESH_NS_PER_S);
    mc_restart(c, 1);
    assert_int_equal(lease_count(member_lease(c->nodes[1])), 1); // restored from the ledger
    // A request right after the restart is refused: holds made before the
    // crash may still be out there.
    mc_run(c, c->now_ns + 20 * MIN_NS);
    assert_non_null(mc_find_event(c, 0, LEASE_EVENT_ENDED, mark));
    assert_non_null(mc_find_event(c, 1, LEASE_EVENT_ENDED, mark));
    assert_ledgers_agree(c, 0, 1);
    ledger_verify_report report;
    assert_int_equal(ledger_verify(&c->store_vtables[1], 86400ull * MESH_NS_PER_S, &report),
                     MESH_OK);
    teardown(c);
}

static void test_restarted_lender_refuses_offers_for_a_while(void **state)
{
    (void) state;
    mc_cluster *c = setup(2, 8);
    mc_start(c);
    assert_true(mc_converge(c, 30 * MESH_NS_PER_S));
    mc_settle(c);
    mc_crash(c, 1);
    mc_restart(c, 1);
    mc_run(c, c->now_ns + 10 * MESH_NS_PER_MS);
    uint32_t mark = c->event_count;
    mc_borrow_vcpu(c, 0, 4, HOUR_NS, NULL, NULL);
    mc_run(c, c->now_ns + MESH_NS_PER_S);
    const mc_event *refused = mc_find_event(c, 0, LEASE_EVENT_REFUSED, mark);
    assert_non_null(refused);
    assert_int_equal(refused->event.refusal, WIRE_LEASE_REFUSAL_STARTING);
    mc_run(c, c->now_ns + 10 * MESH_NS_PER_S);
    mark = c->event_count;
    mc_borrow_vcpu(c, 0, 4, HOUR_NS, NULL, NULL);
    mc_run(c, c->now_ns + MESH_NS_PER_S);
    assert_non_null(mc_find_event(c, 0, LEASE_EVENT_GRANTED, mark));
    teardown(c);
}

// Frames that must change nothing: garbage, a request from a stranger, a
// forged signature, a request meant for another lender, a replayed offer.
static void test_hostile_frames(void **state)
{
    (void) state;
    mc_cluster *c = setup(3, 9);
    mc_start(c);
    assert_true(mc_converge(c, 30 * MESH_NS_PER_S));
    mc_settle(c);
    lease_stats before;
    lease_stats_get(member_lease(c->nodes[1]), &before);
    // A request signed by a key without a certificate.
    mcrypto_keypair stranger;
    uint8_t seed[MCRYPTO_SEED_SIZE];
    memset(seed, 0x77, sizeof(seed));
    assert_int_equal(mcrypto_keypair_from_seed(seed, &stranger), MESH_OK);
    wire_lease_request request;
    memset(&request, 0, sizeof(request));
    memset(request.lease_id, 0x42, sizeof(request.lease_id));
    request.lender = c->ids[1];
    request.resource_count = 1;
    request.resources[0].resource_class = WIRE_RESOURCE_VCPU;
    request.resources[0].amount = 4;
    request.start_ns = mc_now(c).realtime_ns;
    request.duration_ns = HOUR_NS;
    request.expires_ns = mc_now(c).realtime_ns + (int64_t) MESH_NS_PER_S;
    uint8_t body[2048];
    uint32_t body_size = 0;
    assert_int_equal(wire_lease_request_encode(&request, body, sizeof(body), &body_size), MESH_OK);
    uint8_t frame[4096];
    uint32_t frame_size = 0;
    assert_int_equal(mcrypto_envelope_seal(&stranger, WIRE_TYPE_LEASE_REQUEST, body, body_size,
                                           frame, sizeof(frame), &frame_size),
                     MESH_OK);
    assert_int_equal(member_on_frame(c->nodes[1], mc_now(c), frame, frame_size, &c->rngs[1]),
                     MESH_OK);
    // The same request signed by member 0, then one bit of the signature flipped.
    assert_int_equal(mcrypto_envelope_seal(&c->keys[0], WIRE_TYPE_LEASE_REQUEST, body, body_size,
                                           frame, sizeof(frame), &frame_size),
                     MESH_OK);
    frame[frame_size - 1] ^= 1;
    assert_int_equal(member_on_frame(c->nodes[1], mc_now(c), frame, frame_size, &c->rngs[1]),
                     MESH_OK);
    // Meant for member 2, delivered to member 1.
    request.lender = c->ids[2];
    assert_int_equal(wire_lease_request_encode(&request, body, sizeof(body), &body_size), MESH_OK);
    assert_int_equal(mcrypto_envelope_seal(&c->keys[0], WIRE_TYPE_LEASE_REQUEST, body, body_size,
                                           frame, sizeof(frame), &frame_size),
                     MESH_OK);
    assert_int_equal(member_on_frame(c->nodes[1], mc_now(c), frame, frame_size, &c->rngs[1]),
                     MESH_OK);
    // Garbage with a lease type.
    uint8_t junk[64];
    memset(junk, 0xc1, sizeof(junk));
    assert_int_equal(member_on_frame(c->nodes[1], mc_now(c), junk, sizeof(junk), &c->rngs[1]),
                     MESH_OK);
    mc_flush(c, 1);
    lease_stats after;
    lease_stats_get(member_lease(c->nodes[1]), &after);
    assert_int_equal(
        after.rejected[LEASE_REJECT_NOT_MEMBER] - before.rejected[LEASE_REJECT_NOT_MEMBER], 1);
    assert_int_equal(after.rejected[LEASE_REJECT_BAD_SIGNATURE] -
                         before.rejected[LEASE_REJECT_BAD_SIGNATURE],
                     1);
    assert_int_equal(after.rejected[LEASE_REJECT_MISMATCH] - before.rejected[LEASE_REJECT_MISMATCH],
                     1);
    assert_int_equal(after.offers_out, before.offers_out);
    assert_int_equal(booked_vcpu(c, 1), 0);
    assert_int_equal(lease_count(member_lease(c->nodes[1])), 0);
    teardown(c);
}

// Node 0's scheduler reports its vCPU demand; then the cluster runs for
// run_ns.
static void report_vcpu_load(mc_cluster *c, uint64_t queued, uint64_t running, uint64_t run_ns)
{
    assert_int_equal(member_set_load(c->nodes[0], mc_now(c), WIRE_RESOURCE_VCPU, "", queued,
                                     running, &c->rngs[0]),
                     MESH_OK);
    mc_flush(c, 0);
    mc_run(c, c->now_ns + run_ns);
}

// The burst policy: demand past capacity borrows the overflow by itself;
// when demand falls it gives the lease back, only after the surplus has
// lasted release_delay (no flapping on a short dip).
static void test_burst_borrows_and_releases(void **state)
{
    (void) state;
    mc_cluster *c = setup(3, 10);
    c->configs[0].burst.enabled = true;
    c->configs[0].burst.threshold = 8;
    c->configs[0].burst.release_delay_ns = 30 * MESH_NS_PER_S;
    c->configs[0].burst.lease_duration_ns = HOUR_NS;
    mc_start(c);
    assert_true(mc_converge(c, 30 * MESH_NS_PER_S));
    mc_settle(c);
    // 1,024 own vCPUs; 1,024 running and 4 queued: under the threshold.
    report_vcpu_load(c, 4, 1024, MESH_NS_PER_S);
    assert_int_equal(mc_count_events(c, 0, LEASE_EVENT_GRANTED), 0);
    // 100 queued: it borrows 100.
    report_vcpu_load(c, 100, 1024, MESH_NS_PER_S);
    lease_capacity capacity;
    lease_capacity_at(member_lease(c->nodes[0]), 0, &capacity);
    assert_int_equal(capacity.borrowed, 100);
    assert_int_equal(capacity.free_to_lend, 0); // busy past its own capacity: it lends nothing
    member_stats stats;
    member_stats_get(c->nodes[0], &stats);
    assert_int_equal(stats.burst_borrows, 1);
    // The same report again: nothing more to borrow.
    report_vcpu_load(c, 100, 1024, MESH_NS_PER_S);
    member_stats_get(c->nodes[0], &stats);
    assert_int_equal(stats.burst_borrows, 1);
    // Demand falls, but comes back within the delay: nothing is released.
    report_vcpu_load(c, 0, 500, 10 * MESH_NS_PER_S);
    report_vcpu_load(c, 100, 1024, 40 * MESH_NS_PER_S);
    member_stats_get(c->nodes[0], &stats);
    assert_int_equal(stats.burst_releases, 0);
    // Demand falls for good: after the delay the lease goes back and settles.
    uint32_t mark = c->event_count;
    report_vcpu_load(c, 0, 500, 20 * MESH_NS_PER_S);
    member_stats_get(c->nodes[0], &stats);
    assert_int_equal(stats.burst_releases, 0);
    mc_run(c, c->now_ns + 20 * MESH_NS_PER_S);
    member_stats_get(c->nodes[0], &stats);
    assert_int_equal(stats.burst_releases, 1);
    const mc_event *ended = mc_find_event(c, 0, LEASE_EVENT_ENDED, mark);
    assert_non_null(ended);
    assert_int_equal(ended->event.end_kind, LEDGER_KIND_RELEASED);
    lease_capacity_at(member_lease(c->nodes[0]), 0, &capacity);
    assert_int_equal(capacity.borrowed, 0);
    for (uint32_t n = 1; n < c->count; n++) {
        assert_ledgers_agree(c, 0, n);
    }
    teardown(c);
}

// Demand that falls once, in one last report, gives every burst lease back,
// one release_delay after the other: the end of one lease starts the clock
// for the next (found by integration.netns_partition, where the last
// report left all but the newest lease open for good).
static void test_burst_releases_every_lease_after_one_report(void **state)
{
    (void) state;
    mc_cluster *c = setup(3, 10);
    c->configs[0].burst.enabled = true;
    c->configs[0].burst.release_delay_ns = 5 * MESH_NS_PER_S;
    c->configs[0].burst.lease_duration_ns = HOUR_NS;
    mc_start(c);
    assert_true(mc_converge(c, 30 * MESH_NS_PER_S));
    mc_settle(c);
    // Two reports, two overflows: two leases.
    report_vcpu_load(c, 40, 1024, MESH_NS_PER_S);
    report_vcpu_load(c, 100, 1024, MESH_NS_PER_S);
    lease_capacity capacity;
    lease_capacity_at(member_lease(c->nodes[0]), 0, &capacity);
    assert_int_equal(capacity.borrowed, 100);
    member_stats stats;
    member_stats_get(c->nodes[0], &stats);
    assert_int_equal(stats.burst_borrows, 2);
    // One report: no demand. Nothing else is reported afterwards.
    report_vcpu_load(c, 0, 0, 60 * MESH_NS_PER_S);
    member_stats_get(c->nodes[0], &stats);
    assert_int_equal(stats.burst_releases, 2);
    lease_capacity_at(member_lease(c->nodes[0]), 0, &capacity);
    assert_int_equal(capacity.borrowed, 0);
    for (uint32_t n = 1; n < c->count; n++) {
        assert_ledgers_agree(c, 0, n);
    }
    teardown(c);
}

// A burst borrow that gets nothing (here: no member is in the country the
// burst constraints want) is asked again after retry, then after 2 x and
// 4 x retry, and no less often than that; a demand that falls under
// capacity ends the streak, so the next overflow is asked for at once.
static void test_burst_backs_off_when_refused(void **state)
{
    (void) state;
    mc_cluster *c = setup(3, 12);
    c->configs[0].burst.enabled = true;
    c->configs[0].burst.retry_ns = 30 * MESH_NS_PER_S;
    c->configs[0].burst.constraints.country_count = 1;
    memcpy(c->configs[0].burst.constraints.countries[0], "PT", 3);
    mc_start(c);
    assert_true(mc_converge(c, 30 * MESH_NS_PER_S));
    mc_settle(c);
    member_stats stats;
    uint64_t start_ns = c->now_ns;
    assert_int_equal(
        member_set_load(c->nodes[0], mc_now(c), WIRE_RESOURCE_VCPU, "", 100, 1024, &c->rngs[0]),
        MESH_OK);
    mc_flush(c, 0);
    // Asked at 0, then 30 s, 90 s (30 + 60), 210 s (+ 120), 330 s (+ 120).
    static const struct {
        uint64_t at_s;
        uint64_t borrows;
    } expect[] = {{1, 1},   {29, 1},  {31, 2},  {89, 2}, {91, 3},
                  {209, 3}, {211, 4}, {329, 4}, {331, 5}};
    for (uint32_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
        mc_run(c, start_ns + expect[i].at_s * MESH_NS_PER_S);
        member_stats_get(c->nodes[0], &stats);
        assert_int_equal(stats.burst_borrows, expect[i].borrows);
    }
    assert_int_equal(mc_count_events(c, 0, LEASE_EVENT_GRANTED), 0);
    // Demand falls under capacity, then overflows again: asked at once.
    report_vcpu_load(c, 0, 100, MESH_NS_PER_S);
    assert_int_equal(
        member_set_load(c->nodes[0], mc_now(c), WIRE_RESOURCE_VCPU, "", 100, 1024, &c->rngs[0]),
        MESH_OK);
    mc_flush(c, 0);
    member_stats_get(c->nodes[0], &stats);
    assert_int_equal(stats.burst_borrows, 6);
    // And the streak starts over: the next ask after retry_ns, not 4 x.
    uint64_t again_ns = c->now_ns;
    mc_run(c, again_ns + 31 * MESH_NS_PER_S);
    member_stats_get(c->nodes[0], &stats);
    assert_int_equal(stats.burst_borrows, 7);
    teardown(c);
}

// A lender that refused for want of capacity is not asked again, by any
// borrow, for refused_cooldown (each ask would be a signed request and a
// signed refusal); the borrow that skips it says why; after the cooldown
// it is asked again. The lender's own demand has taken its capacity while
// its advert (republished at most hourly here) still offers 8 vCPUs.
static void test_refused_lender_cools_down(void **state)
{
    (void) state;
    mc_cluster *c = setup(2, 13);
    c->configs[0].lease.refused_cooldown_ns = 60 * MESH_NS_PER_S;
    mc_policy(&c->configs[1].lease, 8, 30000);
    c->configs[1].advert_interval_ns = 3600 * MESH_NS_PER_S;
    mc_start(c);
    assert_true(mc_converge(c, 30 * MESH_NS_PER_S));
    mc_settle(c);
    lease_capacity capacity;
    lease_capacity_at(member_lease(c->nodes[1]), 0, &capacity);
    assert_int_equal(member_set_load(c->nodes[1], mc_now(c), WIRE_RESOURCE_VCPU, "", 0,
                                     capacity.total, &c->rngs[1]),
                     MESH_OK);
    mc_flush(c, 1);
    lease_stats lender;
    for (uint32_t round = 0; round < 3; round++) {
        uint32_t mark = c->event_count;
        mc_borrow_vcpu(c, 0, 4, 20 * MIN_NS, NULL, NULL);
        mc_run(c, c->now_ns + 5 * MESH_NS_PER_S);
        const mc_event *done = mc_find_event(c, 0, LEASE_EVENT_BORROW_DONE, mark);
        assert_non_null(done);
        assert_int_equal(done->event.status, LEASE_BORROW_REFUSED);
        assert_int_equal(done->event.refusal, WIRE_LEASE_REFUSAL_CAPACITY);
        lease_stats_get(member_lease(c->nodes[1]), &lender);
        // Asked in round 0; skipped 5 s later (round 1); asked again in
        // round 2, past the cooldown.
        assert_int_equal(lender.requests_in, round < 2 ? 1u : 2u);
        mc_run(c, c->now_ns + (round == 0 ? 0 : 60) * MESH_NS_PER_S);
    }
    teardown(c);
}

// The ledger fails a write (a store error): nothing that depends on it
// leaves, the same record is written again, and the lease completes with
// both ledgers agreeing. Both sides, in turn.
static void test_ledger_write_failure(void **state)
{
    (void) state;
    for (uint32_t failing = 0; failing < 2; failing++) {
        mc_cluster *c = setup(2, 11 + failing);
        mc_start(c);
        assert_true(mc_converge(c, 30 * MESH_NS_PER_S));
        mc_settle(c);
        ledger_mem_store_fail_next_write(c->stores[failing], 0);
        uint32_t mark = c->event_count;
        mc_borrow_vcpu(c, 0, 4, 20 * MIN_NS, NULL, NULL);
        mc_run(c, c->now_ns + 5 * MESH_NS_PER_S);
        assert_non_null(mc_find_event(c, 0, LEASE_EVENT_GRANTED, mark));
        assert_non_null(mc_find_event(c, 1, LEASE_EVENT_GRANTED, mark));
        lease_stats stats;
        lease_stats_get(member_lease(c->nodes[failing]), &stats);
        assert_true(stats.rejected[LEASE_REJECT_LEDGER] >= 1);
        assert_int_equal(c->commit_failures, 1);
        mc_run(c, c->now_ns + 25 * MIN_NS);
        assert_non_null(mc_find_event(c, 0, LEASE_EVENT_ENDED, mark));
        assert_non_null(mc_find_event(c, 1, LEASE_EVENT_ENDED, mark));
        assert_ledgers_agree(c, 0, 1);
        teardown(c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_borrow_use_settle),
        cmocka_unit_test(test_constraints_refuse_and_narrow),
        cmocka_unit_test(test_split_across_lenders),
        cmocka_unit_test(test_no_double_booking),
        cmocka_unit_test(test_release_and_reclaim),
        cmocka_unit_test(test_loss_and_duplicates),
        cmocka_unit_test(test_lender_crash_restart),
        cmocka_unit_test(test_restarted_lender_refuses_offers_for_a_while),
        cmocka_unit_test(test_hostile_frames),
        cmocka_unit_test(test_burst_borrows_and_releases),
        cmocka_unit_test(test_burst_releases_every_lease_after_one_report),
        cmocka_unit_test(test_burst_backs_off_when_refused),
        cmocka_unit_test(test_refused_lender_cools_down),
        cmocka_unit_test(test_ledger_write_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
