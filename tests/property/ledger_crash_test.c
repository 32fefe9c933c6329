/*
 * tests/property/ledger_crash_test.c: for many seeds, one ledger on the
 * memory store takes random lease events in groups committed with or
 * without sync, and crashes at random points: a plain crash that loses a
 * random suffix of the unsynced batches, a crash that also tears the
 * first lost batch, or a write that tears as it happens. After every
 * crash the ledger reopens (repairing a torn tail), verify passes, and
 * every record acknowledged before the crash is in the journal at the
 * sequence number its acknowledgement gave, with its lease id and number.
 * Only unacknowledged (unsynced) records may be lost.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/property/ledger_model.h"

#define SEEDS      100u
#define STEPS      400u
#define TOKENS_MAX (STEPS + 1u)

typedef struct expected {
    uint8_t lease_id[LEDGER_LEASE_ID_SIZE];
    uint32_t number;
} expected;

typedef struct run {
    model m;
    ledger_mem_store *mem;
    ledger_store store;
    ledger *ledger;
    expected by_token[TOKENS_MAX];
    fixture_acks acks;
    uint64_t seed;
    uint32_t crashes;
} run;

typedef struct find_context {
    const run *r;
    uint32_t ack_index;
    uint32_t checked;
    bool ok;
} find_context;

// Walks the journal once, matching acknowledgements by sequence number.
static bool check_visit(void *arg, const ledger_entry *entry)
{
    find_context *context = arg;
    const run *r = context->r;
    for (uint32_t i = 0; i < r->acks.count; i++) {
        if (r->acks.seqs[i] != entry->seq) {
            continue;
        }
        const expected *want = &r->by_token[r->acks.tokens[i]];
        if (memcmp(want->lease_id, entry->record.lease_id, LEDGER_LEASE_ID_SIZE) != 0 ||
            want->number != entry->record.number) {
            context->ok = false;
            return false;
        }
        context->checked++;
    }
    return true;
}

static void check_after_crash(run *r)
{
    ledger_verify_report report;
    mesh_err err = ledger_verify(&r->store, 86400ull * MESH_NS_PER_S, &report);
    if (err != MESH_OK) {
        print_error("seed %llu crash %u: verify %s at %s: %s\n", (unsigned long long) r->seed,
                    r->crashes, mesh_err_name(err), report.bad_key, report.reason);
        fail();
    }
    uint64_t head = 0;
    ledger_head(r->ledger, &head, NULL);
    find_context context = {.r = r, .ok = true};
    assert_int_equal(ledger_journal_walk(&r->store, 1, check_visit, &context), MESH_OK);
    if (!context.ok || context.checked != r->acks.count) {
        print_error("seed %llu crash %u: %u of %u acknowledged records found (head %llu)\n",
                    (unsigned long long) r->seed, r->crashes, context.checked, r->acks.count,
                    (unsigned long long) head);
        fail();
    }
}

// After a crash, the model follows what the ledger kept.
static void resync_model(run *r)
{
    for (uint32_t i = 0; i < r->m.lease_count; i++) {
        model_lease *lease = &r->m.leases[i];
        if (!lease->used) {
            continue;
        }
        ledger_lease kept;
        if (ledger_lease_get(r->ledger, lease->id, &kept) != MESH_OK) {
            lease->used = false;
            continue;
        }
        lease->state = kept.state;
        lease->next_number = kept.record_count;
    }
}

static void crash(run *r, mesh_rng *rng)
{
    ledger_close(r->ledger); /* staged records vanish with the process */
    r->ledger = NULL;
    ledger_crash_mode mode = mesh_rng_below(rng, 2) == 0 ? LEDGER_CRASH_LOSE : LEDGER_CRASH_TEAR;
    ledger_mem_store_crash(r->mem, mode, rng);
    ledger_config config = fixture_config(&r->m.parties[0]);
    mesh_err err = ledger_open(&config, &r->store, &r->ledger);
    if (err != MESH_OK) {
        print_error("seed %llu: reopen after crash %u: %s\n", (unsigned long long) r->seed,
                    r->crashes, mesh_err_name(err));
        fail();
    }
    r->crashes++;
    check_after_crash(r);
    resync_model(r);
}

static void run_seed(run *r, uint64_t seed)
{
    memset(&r->acks, 0, sizeof(r->acks));
    r->seed = seed;
    r->crashes = 0;
    model_init(&r->m, 3, seed << 20);
    assert_int_equal(ledger_mem_store_create(200000, 64u << 20, &r->mem), MESH_OK);
    r->store = ledger_mem_store_interface(r->mem);
    ledger_config config = fixture_config(&r->m.parties[0]);
    assert_int_equal(ledger_open(&config, &r->store, &r->ledger), MESH_OK);
    mesh_rng rng;
    mesh_rng_seed(&rng, seed);
    for (uint32_t step = 0; step < STEPS; step++) {
        ledger_record record;
        uint32_t index = 0;
        model_next(&r->m, &rng, 0, &record, &index);
        uint64_t token = step;
        memcpy(r->by_token[token].lease_id, record.lease_id, LEDGER_LEASE_ID_SIZE);
        r->by_token[token].number = record.number;
        mesh_err err = ledger_append(r->ledger, &record, NULL, NULL, token, NULL);
        if (err == MESH_EFULL) {
            assert_int_equal(ledger_commit(r->ledger, true, fixture_on_ack, &r->acks), MESH_OK);
            err = ledger_append(r->ledger, &record, NULL, NULL, token, NULL);
        }
        if (err != MESH_OK) {
            print_error("seed %llu step %u: append %s\n", (unsigned long long) seed, step,
                        mesh_err_name(err));
            fail();
        }
        uint64_t roll = mesh_rng_below(&rng, 100);
        if (roll < 20) {
            assert_int_equal(ledger_commit(r->ledger, roll < 12, fixture_on_ack, &r->acks),
                             MESH_OK);
        } else if (roll < 23) {
            assert_int_equal(ledger_sync(r->ledger, fixture_on_ack, &r->acks), MESH_OK);
        } else if (roll < 27) {
            crash(r, &rng);
        } else if (roll < 30) {
            // The commit's write tears part-way and fails: nothing acked.
            uint32_t before = r->acks.count;
            ledger_mem_store_fail_next_write(r->mem, (uint32_t) mesh_rng_below(&rng, 40));
            assert_int_equal(ledger_commit(r->ledger, true, fixture_on_ack, &r->acks), MESH_ESTORE);
            assert_int_equal(r->acks.count, before);
            crash(r, &rng);
        }
    }
    crash(r, &rng);
    assert_true(r->acks.count > 0);
    ledger_close(r->ledger);
    ledger_mem_store_destroy(r->mem);
}

static void test_crashes_lose_only_unacknowledged(void **state)
{
    (void) state;
    assert_int_equal(mcrypto_init(), MESH_OK);
    static run r;
    for (uint64_t seed = 1; seed <= SEEDS; seed++) {
        run_seed(&r, seed);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crashes_lose_only_unacknowledged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
