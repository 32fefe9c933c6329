/*
 * tests/sim/bug_burst_deadline_test.c (a fixed bug): after a burst borrow
 * that got nothing, once demand fell back under capacity, the member's
 * deadline stayed in the past for good (member/burst.c), so a shell that waits for
 * member_deadline_ns spins: the agent's loop at 100 % CPU, the simulator's
 * at one tick a microsecond.
 *
 * Found by `fedmesh sim leases --nodes 8 --seed 1` (stuck_deadlines in the
 * JSON; the run's events went from ~1,000 to ~1,000,000 a virtual second at
 * 237 s, member 0). What happens: the refused borrow sets retry_after_ns;
 * member_burst_deadline_ns returns retry_after_ns whenever the load is not
 * zero, even when there is no overflow left to borrow, so once that time
 * has passed the deadline is in the past, and member_burst_step, finding
 * nothing to do, never moves it. It failed until e4a6c31 (no retry
 * deadline left in the past without overflow); it guards the fix.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/unit/member_cluster.h"

static const char *const countries[MC_NODES_MAX] = {"FR", "DE", "FR", "NL", "DE", "FR", "IT", "ES"};

static void test_deadline_after_a_refused_burst(void **state)
{
    (void) state;
    mc_cluster *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    mc_init(c, 1, 5, countries);
    c->configs[0].burst.enabled = true;
    mc_start(c);
    mc_run(c, 2 * MESH_NS_PER_S);
    member_node *m = c->nodes[0];
    // Demand over the 1,024 vCPUs: the burst policy asks, and with no other
    // member the borrow ends at once, refused; it will retry in 30 s.
    assert_int_equal(member_set_load(m, mc_now(c), WIRE_RESOURCE_VCPU, "", 0, 2000, &c->rngs[0]),
                     MESH_OK);
    mc_flush(c, 0);
    assert_int_equal(mc_count_events(c, 0, LEASE_EVENT_BORROW_DONE), 1);
    // Demand falls back under capacity: nothing left to borrow.
    assert_int_equal(member_set_load(m, mc_now(c), WIRE_RESOURCE_VCPU, "", 0, 100, &c->rngs[0]),
                     MESH_OK);
    mc_flush(c, 0);
    // Past the retry time, one tick: every machine's deadline should then
    // be in the future. (mc_run is not used here: it would spin.)
    c->now_ns += 40 * MESH_NS_PER_S;
    assert_int_equal(member_on_tick(m, mc_now(c), &c->rngs[0]), MESH_OK);
    mc_flush(c, 0);
    assert_true(member_deadline_ns(m) > mc_now(c).monotonic_ns);
    mc_fini(c);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deadline_after_a_refused_burst),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
