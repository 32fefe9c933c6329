/*
 * tests/unit/ledger_journal_test.c: the ledger on the memory store: a
 * lease's life, balances, the state machine's refusals, group commit and
 * its acknowledgements, reopening, indexes, reciprocity, and repair of a
 * torn write.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/ledger_fixture.h"

#define T0      1795000000000000000ll
#define HOUR_NS 3600000000000ll

typedef struct world {
    fixture_party a; /* self */
    fixture_party b;
    fixture_party c;
    ledger_mem_store *mem;
    ledger_store store;
    ledger *ledger;
    fixture_acks acks;
} world;

static int setup(void **state)
{
    static world w;
    memset(&w, 0, sizeof(w));
    assert_int_equal(mcrypto_init(), MESH_OK);
    fixture_party_make(&w.a, 0);
    fixture_party_make(&w.b, 1);
    fixture_party_make(&w.c, 2);
    assert_int_equal(ledger_mem_store_create(100000, 64u << 20, &w.mem), MESH_OK);
    w.store = ledger_mem_store_interface(w.mem);
    ledger_config config = fixture_config(&w.a);
    assert_int_equal(ledger_open(&config, &w.store, &w.ledger), MESH_OK);
    *state = &w;
    return 0;
}

static int teardown(void **state)
{
    world *w = *state;
    ledger_close(w->ledger);
    ledger_mem_store_destroy(w->mem);
    return 0;
}

static void reopen(world *w)
{
    ledger_close(w->ledger);
    ledger_config config = fixture_config(&w->a);
    assert_int_equal(ledger_open(&config, &w->store, &w->ledger), MESH_OK);
}

static void assert_verifies(world *w)
{
    ledger_verify_report report;
    mesh_err err = ledger_verify(&w->store, 86400ull * MESH_NS_PER_S, &report);
    if (err != MESH_OK) {
        print_error("verify: %s at %s: %s\n", mesh_err_name(err), report.bad_key, report.reason);
    }
    assert_int_equal(err, MESH_OK);
}

// A lends to B: opened, two usages, released, settled.
static void
lease_life(world *w, uint64_t lease, const fixture_party *lender, const fixture_party *borrower)
{
    uint8_t id[LEDGER_LEASE_ID_SIZE];
    fixture_lease_id(id, lease);
    ledger_record r;
    fixture_record(&r, LEDGER_KIND_OPENED, id, 0, lender, borrower, T0, 16000, 0);
    assert_int_equal(fixture_append_signed(w->ledger, &r, lender, borrower, 1, NULL), MESH_OK);
    fixture_record(&r, LEDGER_KIND_USAGE, id, 1, lender, borrower, T0 + HOUR_NS, 16000, 2000);
    assert_int_equal(fixture_append_signed(w->ledger, &r, lender, borrower, 2, NULL), MESH_OK);
    fixture_record(&r, LEDGER_KIND_USAGE, id, 2, lender, borrower, T0 + 2 * HOUR_NS, 8000, 0);
    assert_int_equal(fixture_append_signed(w->ledger, &r, lender, borrower, 3, NULL), MESH_OK);
    fixture_record(&r, LEDGER_KIND_RELEASED, id, 3, lender, borrower, T0 + 3 * HOUR_NS, 0, 0);
    assert_int_equal(fixture_append_signed(w->ledger, &r, lender, borrower, 4, NULL), MESH_OK);
    fixture_record(&r, LEDGER_KIND_SETTLED, id, 4, lender, borrower, T0 + 3 * HOUR_NS, 24000, 2000);
    assert_int_equal(fixture_append_signed(w->ledger, &r, lender, borrower, 5, NULL), MESH_OK);
}

static void test_lease_life_and_balances(void **state)
{
    world *w = *state;
    lease_life(w, 1, &w->a, &w->b);
    assert_int_equal(w->acks.count, 0);
    assert_int_equal(ledger_commit(w->ledger, true, fixture_on_ack, &w->acks), MESH_OK);
    // Acknowledged in append order, only now.
    assert_int_equal(w->acks.count, 5);
    for (uint32_t i = 0; i < 5; i++) {
        assert_int_equal(w->acks.tokens[i], i + 1);
        assert_int_equal(w->acks.seqs[i], i + 1);
    }
    assert_int_equal(ledger_balance_count(w->ledger), 2);
    ledger_balance balance;
    ledger_balance_at(w->ledger, 0, &balance);
    assert_memory_equal(balance.peer_key, w->b.keys.public_key, LEDGER_KEY_SIZE);
    assert_int_equal(balance.resource_class, LEDGER_CLASS_VCPU);
    assert_int_equal(balance.lent_milli, 24000);
    assert_int_equal(balance.borrowed_milli, 0);
    ledger_balance_at(w->ledger, 1, &balance);
    assert_int_equal(balance.resource_class, LEDGER_CLASS_GPU);
    assert_string_equal(balance.model, "A100-80GB");
    assert_int_equal(balance.lent_milli, 2000);
    uint64_t lent = 0;
    uint64_t borrowed = 0;
    ledger_peer_totals(w->ledger, w->b.keys.public_key, &lent, &borrowed);
    assert_int_equal(lent, 24000 + 2000 * LEDGER_WEIGHT_GPU);
    assert_int_equal(borrowed, 0);
    ledger_lease lease;
    uint8_t id[LEDGER_LEASE_ID_SIZE];
    fixture_lease_id(id, 1);
    assert_int_equal(ledger_lease_get(w->ledger, id, &lease), MESH_OK);
    assert_int_equal(lease.state, LEDGER_LEASE_SETTLED);
    assert_int_equal(lease.record_count, 5);
    assert_true(lease.self_is_lender);
    assert_int_equal(lease.first_seq, 1);
    assert_int_equal(lease.last_seq, 5);
    assert_verifies(w);
}

static void test_refusals(void **state)
{
    world *w = *state;
    uint8_t id[LEDGER_LEASE_ID_SIZE];
    fixture_lease_id(id, 7);
    ledger_record r;
    // Usage on an unknown lease.
    fixture_record(&r, LEDGER_KIND_USAGE, id, 1, &w->a, &w->b, T0, 1000, 0);
    assert_int_equal(ledger_append(w->ledger, &r, NULL, NULL, 0, NULL), MESH_ECONSTRAINT);
    // Not a party.
    fixture_record(&r, LEDGER_KIND_OPENED, id, 0, &w->b, &w->c, T0, 1000, 0);
    assert_int_equal(ledger_append(w->ledger, &r, NULL, NULL, 0, NULL), MESH_EINVAL);
    // Malformed: number 1 for an opening.
    fixture_record(&r, LEDGER_KIND_OPENED, id, 1, &w->a, &w->b, T0, 1000, 0);
    assert_int_equal(ledger_append(w->ledger, &r, NULL, NULL, 0, NULL), MESH_EINVAL);
    fixture_record(&r, LEDGER_KIND_OPENED, id, 0, &w->a, &w->b, T0, 1000, 0);
    assert_int_equal(ledger_append(w->ledger, &r, NULL, NULL, 0, NULL), MESH_OK);
    // Reused id.
    assert_int_equal(ledger_append(w->ledger, &r, NULL, NULL, 0, NULL), MESH_ECONSTRAINT);
    // Number out of order.
    fixture_record(&r, LEDGER_KIND_USAGE, id, 2, &w->a, &w->b, T0, 1000, 0);
    assert_int_equal(ledger_append(w->ledger, &r, NULL, NULL, 0, NULL), MESH_ECONSTRAINT);
    // Other parties on the same lease.
    fixture_record(&r, LEDGER_KIND_USAGE, id, 1, &w->a, &w->c, T0, 1000, 0);
    assert_int_equal(ledger_append(w->ledger, &r, NULL, NULL, 0, NULL), MESH_ECONSTRAINT);
    // Roles swapped.
    fixture_record(&r, LEDGER_KIND_USAGE, id, 1, &w->b, &w->a, T0, 1000, 0);
    assert_int_equal(ledger_append(w->ledger, &r, NULL, NULL, 0, NULL), MESH_ECONSTRAINT);
    // Settling an open lease.
    fixture_record(&r, LEDGER_KIND_SETTLED, id, 1, &w->a, &w->b, T0, 1000, 0);
    assert_int_equal(ledger_append(w->ledger, &r, NULL, NULL, 0, NULL), MESH_ECONSTRAINT);
    fixture_record(&r, LEDGER_KIND_EXPIRED, id, 1, &w->a, &w->b, T0, 0, 0);
    assert_int_equal(ledger_append(w->ledger, &r, NULL, NULL, 0, NULL), MESH_OK);
    // Ending twice.
    fixture_record(&r, LEDGER_KIND_RELEASED, id, 2, &w->a, &w->b, T0, 0, 0);
    assert_int_equal(ledger_append(w->ledger, &r, NULL, NULL, 0, NULL), MESH_ECONSTRAINT);
    // Late usage is fine, then settle, then nothing more.
    fixture_record(&r, LEDGER_KIND_USAGE, id, 2, &w->a, &w->b, T0, 500, 0);
    assert_int_equal(ledger_append(w->ledger, &r, NULL, NULL, 0, NULL), MESH_OK);
    fixture_record(&r, LEDGER_KIND_SETTLED, id, 3, &w->a, &w->b, T0, 500, 0);
    assert_int_equal(ledger_append(w->ledger, &r, NULL, NULL, 0, NULL), MESH_OK);
    fixture_record(&r, LEDGER_KIND_USAGE, id, 4, &w->a, &w->b, T0, 500, 0);
    assert_int_equal(ledger_append(w->ledger, &r, NULL, NULL, 0, NULL), MESH_ECONSTRAINT);
    uint64_t seq = 0;
    ledger_head(w->ledger, &seq, NULL);
    assert_int_equal(seq, 4);
    assert_int_equal(ledger_commit(w->ledger, true, NULL, NULL), MESH_OK);
    assert_verifies(w);
}

static void test_group_commit_without_sync(void **state)
{
    world *w = *state;
    uint8_t id[LEDGER_LEASE_ID_SIZE];
    fixture_lease_id(id, 3);
    ledger_record r;
    fixture_record(&r, LEDGER_KIND_OPENED, id, 0, &w->b, &w->a, T0, 1000, 0);
    assert_int_equal(ledger_append(w->ledger, &r, NULL, NULL, 10, NULL), MESH_OK);
    assert_int_equal(ledger_commit(w->ledger, false, fixture_on_ack, &w->acks), MESH_OK);
    assert_int_equal(w->acks.count, 0);
    assert_int_equal(ledger_mem_store_unsynced_count(w->mem), 1);
    fixture_record(&r, LEDGER_KIND_USAGE, id, 1, &w->b, &w->a, T0, 1000, 0);
    assert_int_equal(ledger_append(w->ledger, &r, NULL, NULL, 11, NULL), MESH_OK);
    assert_int_equal(ledger_commit(w->ledger, false, fixture_on_ack, &w->acks), MESH_OK);
    assert_int_equal(w->acks.count, 0);
    assert_int_equal(ledger_sync(w->ledger, fixture_on_ack, &w->acks), MESH_OK);
    assert_int_equal(w->acks.count, 2);
    assert_int_equal(w->acks.tokens[0], 10);
    assert_int_equal(w->acks.tokens[1], 11);
    assert_int_equal(ledger_mem_store_unsynced_count(w->mem), 0);
    // B lent to A: A borrowed, and B's score rises.
    uint64_t lent = 0;
    uint64_t borrowed = 0;
    ledger_peer_totals(w->ledger, w->b.keys.public_key, &lent, &borrowed);
    assert_int_equal(lent, 0);
    assert_int_equal(borrowed, 1000);
    assert_int_equal(ledger_reciprocity(w->ledger, w->b.keys.public_key, T0), 1000);
    assert_verifies(w);
}

static void test_reopen_keeps_state(void **state)
{
    world *w = *state;
    lease_life(w, 1, &w->a, &w->b);
    lease_life(w, 2, &w->c, &w->a);
    assert_int_equal(ledger_commit(w->ledger, true, NULL, NULL), MESH_OK);
    uint64_t seq = 0;
    uint8_t hash[LEDGER_HASH_SIZE];
    ledger_head(w->ledger, &seq, hash);
    uint32_t rows = ledger_balance_count(w->ledger);
    int64_t score = ledger_reciprocity(w->ledger, w->c.keys.public_key, T0 + 5 * HOUR_NS);
    reopen(w);
    uint64_t seq2 = 0;
    uint8_t hash2[LEDGER_HASH_SIZE];
    ledger_head(w->ledger, &seq2, hash2);
    assert_int_equal(seq, seq2);
    assert_memory_equal(hash, hash2, LEDGER_HASH_SIZE);
    assert_int_equal(rows, ledger_balance_count(w->ledger));
    assert_int_equal(score, ledger_reciprocity(w->ledger, w->c.keys.public_key, T0 + 5 * HOUR_NS));
    // Appending continues the chain after a reopen.
    lease_life(w, 3, &w->a, &w->c);
    assert_int_equal(ledger_commit(w->ledger, true, NULL, NULL), MESH_OK);
    assert_verifies(w);
    // Another key is refused on this store.
    ledger_config config = fixture_config(&w->b);
    ledger *other = NULL;
    assert_int_equal(ledger_open(&config, &w->store, &other), MESH_EINVAL);
    // A reading tool adopts the stored key.
    memset(config.self_key, 0, LEDGER_KEY_SIZE);
    assert_int_equal(ledger_open(&config, &w->store, &other), MESH_OK);
    assert_memory_equal(ledger_self_key(other), w->a.keys.public_key, LEDGER_KEY_SIZE);
    ledger_close(other);
}

typedef struct list_result {
    uint32_t count;
    uint8_t last_id[LEDGER_LEASE_ID_SIZE];
} list_result;

static bool count_leases(void *arg, const ledger_lease *lease)
{
    list_result *result = arg;
    if (result->count > 0) {
        assert_true(memcmp(result->last_id, lease->lease_id, LEDGER_LEASE_ID_SIZE) < 0);
    }
    memcpy(result->last_id, lease->lease_id, LEDGER_LEASE_ID_SIZE);
    result->count++;
    return true;
}

static void test_lease_index_by_state(void **state)
{
    world *w = *state;
    ledger_record r;
    for (uint64_t i = 1; i <= 6; i++) {
        uint8_t id[LEDGER_LEASE_ID_SIZE];
        fixture_lease_id(id, 100 - i);
        fixture_record(&r, LEDGER_KIND_OPENED, id, 0, &w->a, &w->b, T0, 1000, 0);
        assert_int_equal(ledger_append(w->ledger, &r, NULL, NULL, i, NULL), MESH_OK);
        if (i % 2 == 0) {
            fixture_record(&r, LEDGER_KIND_RECLAIMED, id, 1, &w->a, &w->b, T0, 0, 0);
            assert_int_equal(ledger_append(w->ledger, &r, NULL, NULL, i, NULL), MESH_OK);
        }
    }
    assert_int_equal(ledger_commit(w->ledger, true, NULL, NULL), MESH_OK);
    list_result open = {0};
    list_result reclaimed = {0};
    assert_int_equal(ledger_lease_list(w->ledger, LEDGER_LEASE_OPEN, count_leases, &open), MESH_OK);
    assert_int_equal(ledger_lease_list(w->ledger, LEDGER_LEASE_RECLAIMED, count_leases, &reclaimed),
                     MESH_OK);
    assert_int_equal(open.count, 3);
    assert_int_equal(reclaimed.count, 3);
    // A state change moves the index key in a later commit.
    uint8_t id[LEDGER_LEASE_ID_SIZE];
    fixture_lease_id(id, 99);
    fixture_record(&r, LEDGER_KIND_RELEASED, id, 1, &w->a, &w->b, T0, 0, 0);
    assert_int_equal(ledger_append(w->ledger, &r, NULL, NULL, 9, NULL), MESH_OK);
    assert_int_equal(ledger_commit(w->ledger, true, NULL, NULL), MESH_OK);
    memset(&open, 0, sizeof(open));
    assert_int_equal(ledger_lease_list(w->ledger, LEDGER_LEASE_OPEN, count_leases, &open), MESH_OK);
    assert_int_equal(open.count, 2);
    assert_verifies(w);
}

static void test_reciprocity_decays(void **state)
{
    world *w = *state;
    uint64_t day = 86400ull * MESH_NS_PER_S;
    assert_int_equal(ledger_decay(1000000, 0, day), 1000000);
    assert_int_equal(ledger_decay(1000000, day, day), 500000);
    assert_int_equal(ledger_decay(1000000, 2 * day, day), 250000);
    assert_int_equal(ledger_decay(-1000000, day, day), -500000);
    int64_t half_day = ledger_decay(1000000, day / 2, day);
    assert_true(half_day > 707000 && half_day < 707200); /* 2^-0.5 = 0.70711 */
    assert_int_equal(ledger_decay(1000000, 70 * day, day), 0);
    // A credit from C to A counts for C, and fades.
    uint8_t id[LEDGER_LEASE_ID_SIZE];
    fixture_lease_id(id, 42);
    ledger_record r;
    fixture_record(&r, LEDGER_KIND_CREDIT, id, 0, &w->c, &w->a, T0, 8000, 0);
    assert_int_equal(ledger_append(w->ledger, &r, NULL, NULL, 0, NULL), MESH_OK);
    assert_int_equal(ledger_commit(w->ledger, true, NULL, NULL), MESH_OK);
    assert_int_equal(ledger_reciprocity(w->ledger, w->c.keys.public_key, T0), 8000);
    assert_int_equal(ledger_reciprocity(w->ledger, w->c.keys.public_key, T0 + (int64_t) day), 4000);
    assert_int_equal(ledger_reciprocity(w->ledger, w->b.keys.public_key, T0), 0);
    assert_verifies(w);
}

static void test_torn_write_is_repaired(void **state)
{
    world *w = *state;
    lease_life(w, 1, &w->a, &w->b);
    assert_int_equal(ledger_commit(w->ledger, true, fixture_on_ack, &w->acks), MESH_OK);
    assert_int_equal(w->acks.count, 5);
    lease_life(w, 2, &w->a, &w->c);
    // The write tears after 3 ops (three entries) and fails: nothing acked.
    ledger_mem_store_fail_next_write(w->mem, 3);
    assert_int_equal(ledger_commit(w->ledger, true, fixture_on_ack, &w->acks), MESH_ESTORE);
    assert_int_equal(w->acks.count, 5);
    // The ledger reloaded (and repaired): head back at 5, store verifies.
    uint64_t seq = 0;
    ledger_head(w->ledger, &seq, NULL);
    assert_int_equal(seq, 5);
    assert_verifies(w);
    lease_life(w, 2, &w->a, &w->c);
    assert_int_equal(ledger_commit(w->ledger, true, fixture_on_ack, &w->acks), MESH_OK);
    assert_int_equal(w->acks.count, 10);
    assert_verifies(w);
}

static void test_group_limit(void **state)
{
    world *w = *state;
    ledger_record r;
    for (uint32_t i = 0; i < 64; i++) {
        uint8_t id[LEDGER_LEASE_ID_SIZE];
        fixture_lease_id(id, 1000 + i);
        fixture_record(&r, LEDGER_KIND_OPENED, id, 0, &w->a, &w->b, T0, 1000, 0);
        assert_int_equal(ledger_append(w->ledger, &r, NULL, NULL, i, NULL), MESH_OK);
    }
    uint8_t id[LEDGER_LEASE_ID_SIZE];
    fixture_lease_id(id, 2000);
    fixture_record(&r, LEDGER_KIND_OPENED, id, 0, &w->a, &w->b, T0, 1000, 0);
    assert_int_equal(ledger_append(w->ledger, &r, NULL, NULL, 64, NULL), MESH_EFULL);
    assert_int_equal(ledger_commit(w->ledger, true, fixture_on_ack, &w->acks), MESH_OK);
    assert_int_equal(w->acks.count, 64);
    assert_int_equal(ledger_append(w->ledger, &r, NULL, NULL, 64, NULL), MESH_OK);
    ledger_close(w->ledger); /* staged, never acknowledged */
    w->ledger = NULL;
    reopen(w);
    uint64_t seq = 0;
    ledger_head(w->ledger, &seq, NULL);
    assert_int_equal(seq, 64);
    assert_verifies(w);
}

// The pipelined commit: group N is written while group N+1 fills.
static void test_commit_in_two_steps(void **state)
{
    world *w = *state;
    uint8_t id[LEDGER_LEASE_ID_SIZE];
    fixture_lease_id(id, 5);
    ledger_record r;
    ledger_batch batch;
    assert_int_equal(ledger_commit_begin(w->ledger, true, &batch), MESH_ENOTFOUND);
    fixture_record(&r, LEDGER_KIND_OPENED, id, 0, &w->a, &w->b, T0, 1000, 0);
    assert_int_equal(ledger_append(w->ledger, &r, NULL, NULL, 1, NULL), MESH_OK);
    assert_int_equal(ledger_commit_begin(w->ledger, true, &batch), MESH_OK);
    assert_int_equal(batch.count, 2); /* the entry and the head (an opening moves no balance) */
    assert_int_equal(ledger_commit_begin(w->ledger, true, &batch), MESH_EFULL);
    // Appends go on while the batch is in flight.
    fixture_record(&r, LEDGER_KIND_USAGE, id, 1, &w->a, &w->b, T0, 2000, 0);
    assert_int_equal(ledger_append(w->ledger, &r, NULL, NULL, 2, NULL), MESH_OK);
    assert_int_equal(w->store.write(w->store.ctx, &batch, true), MESH_OK);
    assert_int_equal(ledger_commit_end(w->ledger, MESH_OK, fixture_on_ack, &w->acks), MESH_OK);
    assert_int_equal(w->acks.count, 1);
    assert_int_equal(w->acks.tokens[0], 1);
    assert_int_equal(ledger_commit(w->ledger, true, fixture_on_ack, &w->acks), MESH_OK);
    assert_int_equal(w->acks.count, 2);
    assert_verifies(w);
    // A failed write acknowledges nothing and drops what was staged since.
    fixture_record(&r, LEDGER_KIND_USAGE, id, 2, &w->a, &w->b, T0, 2000, 0);
    assert_int_equal(ledger_append(w->ledger, &r, NULL, NULL, 3, NULL), MESH_OK);
    assert_int_equal(ledger_commit_begin(w->ledger, true, &batch), MESH_OK);
    fixture_record(&r, LEDGER_KIND_USAGE, id, 3, &w->a, &w->b, T0, 2000, 0);
    assert_int_equal(ledger_append(w->ledger, &r, NULL, NULL, 4, NULL), MESH_OK);
    assert_int_equal(ledger_commit_end(w->ledger, MESH_ESTORE, fixture_on_ack, &w->acks),
                     MESH_ESTORE);
    assert_int_equal(w->acks.count, 2);
    uint64_t seq = 0;
    ledger_head(w->ledger, &seq, NULL);
    assert_int_equal(seq, 2);
    ledger_lease lease;
    assert_int_equal(ledger_lease_get(w->ledger, id, &lease), MESH_OK);
    assert_int_equal(lease.record_count, 2);
    assert_verifies(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lease_life_and_balances, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit_without_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease_index_by_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reciprocity_decays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_write_is_repaired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_in_two_steps, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
