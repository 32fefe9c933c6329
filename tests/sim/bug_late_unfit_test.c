/*
 * tests/sim/bug_late_unfit_test.c (a fixed bug): a late acceptance that
 * did not fit was charged usage (lease/lender.c), where docs/leases.md says "the lender
 * records the lease and ends it at once (OPENED, then RECLAIMED with no
 * usage, SETTLED at zero), so that ... nothing was lent twice".
 *
 * on_late_acceptance marks the lease to end at the acceptance's arrival
 * (reclaim_at_ns = now), and the lender then proposes usage from the
 * offer's start to that time before the RECLAIMED record: the borrower pays
 * for capacity the lender had given to someone else, and the lender's
 * ledger accounts for more than it can lend (here 16 vCPUs over the
 * window's first seconds with a lendable of 8). The lease simulator counts
 * it under (b) (a lease recorded to end at once that is charged usage).
 * Related: a lender that crashes before the RECLAIMED record restores the
 * lease without its reclaim time (lease_restore) and lets it run its whole
 * window, booked over capacity.
 *
 * This test makes it happen with three members: A's acceptances to the
 * lender are held back 10 s (past the offer's 5 s hold), B takes the
 * lender's whole lendable meanwhile, then A's acceptance arrives. It
 * failed until e4a6c31 (such a lease is ended at once and charged
 * nothing); it guards the fix.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/unit/member_cluster.h"

#define HOUR_NS (3600ull * MESH_NS_PER_S)

static const char *const countries[MC_NODES_MAX] = {"FR", "DE", "FR", "NL", "DE", "FR", "IT", "ES"};

/* Holds back every lease frame to member `to` until until_ns. */
static void hold_lease_frames(mc_cluster *c, uint32_t to, uint64_t until_ns)
{
    for (uint32_t i = 0; i < c->msg_count; i++) {
        wire_envelope envelope;
        if (c->msgs[i].to == to && c->msgs[i].at_ns < until_ns &&
            wire_envelope_decode(c->msgs[i].bytes, c->msgs[i].size, &envelope, NULL) == MESH_OK &&
            envelope.type >= WIRE_TYPE_LEASE_REQUEST) {
            c->msgs[i].at_ns = until_ns;
        }
    }
}

typedef struct usage_walk {
    const uint8_t *lease_id;
    uint64_t usage_milli;
    uint32_t records;
} usage_walk;

static bool usage_visit(void *arg, const ledger_entry *entry)
{
    usage_walk *walk = arg;
    if (memcmp(entry->record.lease_id, walk->lease_id, LEDGER_LEASE_ID_SIZE) != 0) {
        return true;
    }
    walk->records++;
    if (entry->record.kind == LEDGER_KIND_USAGE) {
        walk->usage_milli += entry->record.amounts[0].amount_milli;
    }
    return true;
}

static void test_late_acceptance_without_capacity(void **state)
{
    (void) state;
    mc_cluster *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    mc_init(c, 3, 4, countries);
    mc_policy(&c->configs[0].lease, 0, 30000);
    mc_policy(&c->configs[1].lease, 8, 30000); // the only lender: 8 vCPUs
    mc_policy(&c->configs[2].lease, 0, 30000);
    mc_start(c);
    assert_true(mc_converge(c, 30 * MESH_NS_PER_S));
    mc_run(c, c->now_ns + 6 * MESH_NS_PER_S);
    uint32_t mark = c->event_count;
    mc_borrow_vcpu(c, 0, 8, HOUR_NS, NULL, NULL); // A
    mc_run(c, c->now_ns + 1500 * MESH_NS_PER_US); // the request arrived; the offer is on its way
    uint64_t release_ns = c->now_ns + 10 * MESH_NS_PER_S;
    for (uint32_t step = 0; step < 12000; step++) { // A's acceptances wait 10 s
        hold_lease_frames(c, 1, release_ns);
        mc_run(c, c->now_ns + 500 * MESH_NS_PER_US);
    }
    mc_borrow_vcpu(c, 2, 8, HOUR_NS, NULL, NULL); // B, after the hold of A's offer expired
    mc_run(c, c->now_ns + MESH_NS_PER_S);
    const mc_event *granted = mc_find_event(c, 2, LEASE_EVENT_GRANTED, mark);
    assert_non_null(granted);
    mc_run(c, c->now_ns + 60 * MESH_NS_PER_S); // A's acceptance arrives: late, no room
    lease_stats lender;
    lease_stats_get(member_lease(c->nodes[1]), &lender);
    assert_int_equal(lender.late_acceptances, 1);
    const mc_event *ended = mc_find_event(c, 0, LEASE_EVENT_ENDED, mark);
    assert_non_null(ended);
    assert_int_equal(ended->event.end_kind, LEDGER_KIND_RECLAIMED);
    // OPENED, RECLAIMED, SETTLED at zero: no usage.
    usage_walk walk = {.lease_id = ended->event.lease_id};
    assert_int_equal(ledger_journal_walk(&c->store_vtables[1], 1, usage_visit, &walk), MESH_OK);
    assert_int_equal(walk.usage_milli, 0);
    assert_int_equal(ended->event.amounts[0].amount_milli, 0);
    assert_int_equal(walk.records, 3);
    mc_fini(c);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_late_acceptance_without_capacity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
