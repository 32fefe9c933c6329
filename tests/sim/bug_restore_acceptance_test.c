/*
 * tests/sim/bug_restore_acceptance_test.c (a fixed bug): a borrower that
 * restarted while its acceptance was unconfirmed resent it with all-zero
 * signatures, so the lender refused it (bad_signature) for good
 * (lease/local.c).
 *
 * lease_restore rebuilds a slot from the ledger's records but not from
 * their signatures: slot->opened_lender_signature and
 * opened_borrower_signature stay zero (and so does the last record's pair,
 * which a restored borrower would need to answer a resent proposal it has
 * already countersigned). The restored borrower, in ACCEPTING, resends its
 * acceptance at once and every retry after: OPENED with two zero
 * signatures. What follows:
 *   - the lender never got the first acceptance (lost, or the borrower
 *     crashed before it left): the late acceptance is refused as
 *     bad_signature every time, and the borrower's ledger keeps an OPENED
 *     lease that no lender holds, open for good (invariant (e));
 *   - the lender had recorded it: it answers with its confirmation, whose
 *     signatures the borrower compares with its zeros (mismatch); the
 *     lease recovers only at the lender's first usage proposal.
 * Seen by the lease simulator as a lease left open after the drain when a
 * crash lands in that window (rare at 3 crashes in 30 minutes). This test
 * makes it happen with two members: the borrower's acceptance is lost
 * (the lender is deaf for 3 ms), the borrower crashes, restarts, and
 * resends. It failed until e4a6c31 (a restored lease keeps its records'
 * signatures); it guards the fix.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/unit/member_cluster.h"

static const char *const countries[MC_NODES_MAX] = {"FR", "DE", "FR", "NL", "DE", "FR", "IT", "ES"};

static void test_restarted_borrower_resends_its_acceptance(void **state)
{
    (void) state;
    mc_cluster *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    mc_init(c, 2, 4, countries);
    mc_start(c);
    assert_true(mc_converge(c, 30 * MESH_NS_PER_S));
    mc_run(c, c->now_ns + 6 * MESH_NS_PER_S);
    uint32_t mark = c->event_count;
    mc_borrow_vcpu(c, 0, 8, 3600ull * MESH_NS_PER_S, NULL, NULL);
    mc_run(c, c->now_ns + 1500 * MESH_NS_PER_US); // the request arrived; the offer is on its way
    c->deaf[1] = true;                            // so the acceptance is lost
    mc_run(c, c->now_ns + 3 * MESH_NS_PER_MS);
    c->deaf[1] = false;
    assert_int_equal(mc_count_events(c, 0, LEASE_EVENT_GRANTED), 0);
    mc_crash(c, 0);
    mc_run(c, c->now_ns + MESH_NS_PER_S);
    mc_restart(c, 0); // restores the lease, ACCEPTING, and resends the acceptance
    mc_run(c, c->now_ns + 60 * MESH_NS_PER_S);
    lease_stats lender;
    lease_stats_get(member_lease(c->nodes[1]), &lender);
    assert_int_equal(lender.rejected[LEASE_REJECT_BAD_SIGNATURE], 0);
    // The lender honoured it (a late acceptance whose capacity is free)...
    assert_int_equal(lender.late_acceptances, 1);
    // ... and the borrower has it, granted.
    assert_non_null(mc_find_event(c, 0, LEASE_EVENT_GRANTED, mark));
    mc_fini(c);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restarted_borrower_resends_its_acceptance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
