/*
 * tests/sim/bug_release_race_test.c (a fixed bug): a release that crossed
 * the lender's usage proposal on the wire deadlocked the lease
 * (lease/lender.c).
 *
 * Found by `fedmesh sim leases --nodes 8 --seed 7 --loss 0.02 --crash 3
 * --hostile 2` (invariant (e): lease 7cf22e7f... between members 2 and 5
 * still open after the drain; seed 96 too). What happens:
 *   1. the lender proposes USAGE n for [last, t_l] and sends it;
 *   2. the borrower, which had not seen it, releases at t_b < t_l: its END
 *      crosses the proposal; the lender sets the lease's end to t_b, which
 *      is not before the usage time it has durable (the proposal is not
 *      countersigned yet), so end_at() keeps it;
 *   3. the borrower countersigns USAGE n (nothing wrong with it); the
 *      lender makes it durable and moves its usage time to t_l > t_b;
 *   4. the lender proposes RELEASED at t_b, before the usage it just
 *      recorded; the borrower refuses it (mismatch: time before the last
 *      usage), the lender resends the same record every retry_max, and
 *      the lease never ends: both ledgers keep it OPEN, the lender's
 *      capacity stays booked.
 * This test makes it happen deterministically with two members: the
 * borrower releases half a link latency before the lender's first usage
 * record is due. It failed until e4a6c31 (an end that crossed a usage
 * proposal is never before that usage); it guards the fix.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/unit/member_cluster.h"

#define MIN_NS (60ull * MESH_NS_PER_S)

static const char *const countries[MC_NODES_MAX] = {"FR", "DE", "FR", "NL", "DE", "FR", "IT", "ES"};

static void test_release_crossing_a_usage_proposal(void **state)
{
    (void) state;
    mc_cluster *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    mc_init(c, 2, 3, countries);
    mc_start(c);
    assert_true(mc_converge(c, 30 * MESH_NS_PER_S));
    mc_run(c, c->now_ns + 6 * MESH_NS_PER_S); // past the lender's start-up quiet time
    uint32_t mark = c->event_count;
    mc_borrow_vcpu(c, 0, 8, 60 * MIN_NS, NULL, NULL);
    mc_run(c, c->now_ns + MESH_NS_PER_S);
    const mc_event *granted = mc_find_event(c, 0, LEASE_EVENT_GRANTED, mark);
    assert_non_null(granted);
    uint8_t lease_id[LEDGER_LEASE_ID_SIZE];
    memcpy(lease_id, granted->event.lease_id, sizeof(lease_id));
    // The lender proposes its first usage record at start + usage_interval
    // (15 min by default); the link takes 1 ms each way.
    int64_t usage_realtime_ns = granted->event.start_ns + (int64_t) (15 * MIN_NS);
    uint64_t usage_virtual_ns = (uint64_t) (usage_realtime_ns - MC_EPOCH_NS);
    mc_run(c, usage_virtual_ns - 500 * MESH_NS_PER_US);
    assert_int_equal(member_release(c->nodes[0], mc_now(c), lease_id, &c->rngs[0]), MESH_OK);
    mc_flush(c, 0);
    mc_run(c, c->now_ns + 10 * MIN_NS);
    // Released and settled on both sides, as after any release.
    ledger_lease lease;
    assert_int_equal(ledger_lease_get(c->ledgers[1], lease_id, &lease), MESH_OK);
    assert_int_equal(lease.state, LEDGER_LEASE_SETTLED);
    assert_int_equal(ledger_lease_get(c->ledgers[0], lease_id, &lease), MESH_OK);
    assert_int_equal(lease.state, LEDGER_LEASE_SETTLED);
    mc_fini(c);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_release_crossing_a_usage_proposal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
