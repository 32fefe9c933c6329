/*
 * tests/sim/bug_lender_restart_test.c (a fixed bug): a lender that crashed
 * after it proposed a record, which the borrower countersigned and made
 * durable, proposed a different record under the same number once
 * restarted, and the lease deadlocked (lease/lender.c, lease/borrower.c).
 *
 * The proposal lived in the lender's memory only; the borrower's
 * countersignature was on its way when the lender went down. Restored from
 * its ledger, the lender proposes record n again, stamped with the new
 * time: other bytes. The borrower, which holds an agreed record n, counts
 * it as a replay and answers nothing (it answers a resend only when the
 * bytes are those of its last record), and the lender resends it every
 * retry_max for good: the lease never ends, both ledgers disagree (the
 * borrower holds one record more), the lender's capacity stays booked.
 * docs/leases.md has the repair ("a record with both valid signatures is
 * agreed by definition; either side may send its copy to repair the
 * other, and the receiver appends it if it is the next record of that
 * lease"), but neither side implements it here.
 *
 * Found by `fedmesh sim leases --nodes 6 --loss 0.1 --crash 12 --hostile 4
 * --seed 100` on a build with the other lease bugs of tests/sim/bug_*
 * fixed (invariants (c), (d) and (e) on members 0 and 5). This test makes
 * it happen with two members: the lender crashes half a link latency after
 * its first usage proposal reached the borrower. It failed until e4a6c31
 * (the restarted lender adopts the borrower's agreed copy); it guards the
 * fix.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/unit/member_cluster.h"

#define MIN_NS (60ull * MESH_NS_PER_S)

static const char *const countries[MC_NODES_MAX] = {"FR", "DE", "FR", "NL", "DE", "FR", "IT", "ES"};

static void test_lender_restart_after_a_countersigned_proposal(void **state)
{
    (void) state;
    mc_cluster *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    mc_init(c, 2, 6, countries);
    mc_start(c);
    assert_true(mc_converge(c, 30 * MESH_NS_PER_S));
    mc_run(c, c->now_ns + 6 * MESH_NS_PER_S);
    uint32_t mark = c->event_count;
    mc_borrow_vcpu(c, 0, 8, 20 * MIN_NS, NULL, NULL);
    mc_run(c, c->now_ns + MESH_NS_PER_S);
    const mc_event *granted = mc_find_event(c, 0, LEASE_EVENT_GRANTED, mark);
    assert_non_null(granted);
    uint8_t lease_id[LEDGER_LEASE_ID_SIZE];
    memcpy(lease_id, granted->event.lease_id, sizeof(lease_id));
    // The first usage proposal leaves the lender at start + 15 min, reaches
    // the borrower 1 ms later; the countersignature is back 1 ms after.
    int64_t usage_realtime_ns = granted->event.start_ns + (int64_t) (15 * MIN_NS);
    mc_run(c, (uint64_t) (usage_realtime_ns - MC_EPOCH_NS) + 1500 * MESH_NS_PER_US);
    ledger_lease lease;
    assert_int_equal(ledger_lease_get(c->ledgers[0], lease_id, &lease), MESH_OK);
    assert_int_equal(lease.record_count, 2); // the borrower holds USAGE 1
    mc_crash(c, 1);                          // before the countersignature arrives
    mc_run(c, c->now_ns + MESH_NS_PER_S);
    mc_restart(c, 1);
    mc_run(c, c->now_ns + 30 * MIN_NS); // past the window's end
    assert_int_equal(ledger_lease_get(c->ledgers[1], lease_id, &lease), MESH_OK);
    assert_int_equal(lease.state, LEDGER_LEASE_SETTLED);
    assert_int_equal(ledger_lease_get(c->ledgers[0], lease_id, &lease), MESH_OK);
    assert_int_equal(lease.state, LEDGER_LEASE_SETTLED);
    ledger_reconcile_report report = mc_reconcile(c, 0, 1);
    assert_int_equal(report.only_a_count + report.only_b_count + report.differ_count, 0);
    mc_fini(c);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lender_restart_after_a_countersigned_proposal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
