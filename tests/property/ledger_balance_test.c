/*
 * tests/property/ledger_balance_test.c: for many seeds, a random sequence
 * of lease events among four parties, each keeping its own ledger on its
 * own memory store (both parties of a lease record every event, with both
 * signatures on some), must keep:
 *   - every balance row equal to the sum of the journal's usage and
 *     credit amounts for that (peer, class, model), and no other row;
 *   - lent equal to borrowed for every pair of ledgers, class by class;
 *   - every pair of ledgers reconciled: no record only on one side, none
 *     different, and the same totals seen from both sides, equal to the
 *     totals the balances give (both weigh exactly, storage at 1/1024);
 *   - every journaled record re-encoding to the bytes stored, and every
 *     OPENED one carrying one price per amount;
 *   - every ledger passing verify.
 * A failing seed is printed with the event that failed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/property/ledger_model.h"

#define PARTIES 4u
#define SEEDS   200u
#define EVENTS  300u

typedef struct node {
    ledger_mem_store *mem;
    ledger_store store;
    ledger *ledger;
} node;

typedef struct sum_row {
    uint8_t peer[LEDGER_KEY_SIZE];
    uint32_t resource_class;
    char model[LEDGER_MODEL_SIZE_MAX + 1];
    uint64_t lent;
    uint64_t borrowed;
} sum_row;

typedef struct sums {
    const uint8_t *self;
    sum_row rows[256];
    uint32_t count;
} sums;

static bool sum_visit(void *arg, const ledger_entry *entry)
{
    sums *s = arg;
    const ledger_record *r = &entry->record;
    uint8_t bytes[LEDGER_RECORD_SIZE_MAX];
    uint32_t size = 0;
    assert_int_equal(ledger_record_encode(r, bytes, sizeof(bytes), &size), MESH_OK);
    assert_int_equal(size, entry->record_size);
    assert_memory_equal(bytes, entry->record_bytes, size);
    assert_int_equal(r->version, LEDGER_RECORD_VERSION);
    if (r->kind == LEDGER_KIND_OPENED) {
        assert_int_equal(r->terms.price_count, r->amount_count);
        assert_true(r->terms.end_ns > r->terms.start_ns);
    }
    if (r->kind != LEDGER_KIND_USAGE && r->kind != LEDGER_KIND_CREDIT) {
        return true;
    }
    bool lends = memcmp(r->lender_key, s->self, LEDGER_KEY_SIZE) == 0;
    const uint8_t *peer = lends ? r->borrower_key : r->lender_key;
    for (uint32_t i = 0; i < r->amount_count; i++) {
        const ledger_amount *a = &r->amounts[i];
        sum_row *row = NULL;
        for (uint32_t k = 0; k < s->count; k++) {
            if (memcmp(s->rows[k].peer, peer, LEDGER_KEY_SIZE) == 0 &&
                s->rows[k].resource_class == a->resource_class &&
                strcmp(s->rows[k].model, a->model) == 0) {
                row = &s->rows[k];
            }
        }
        if (row == NULL) {
            assert_true(s->count < 256);
            row = &s->rows[s->count++];
            memset(row, 0, sizeof(*row));
            memcpy(row->peer, peer, LEDGER_KEY_SIZE);
            row->resource_class = a->resource_class;
            memcpy(row->model, a->model, sizeof(a->model));
        }
        if (lends) {
            row->lent += a->amount_milli;
        } else {
            row->borrowed += a->amount_milli;
        }
    }
    return true;
}

static const ledger_balance *find_balance(const ledger_balance *rows,
                                          uint32_t count,
                                          const uint8_t *peer,
                                          uint32_t resource_class,
                                          const char *model_name)
{
    for (uint32_t i = 0; i < count; i++) {
        if (memcmp(rows[i].peer_key, peer, LEDGER_KEY_SIZE) == 0 &&
            rows[i].resource_class == resource_class && strcmp(rows[i].model, model_name) == 0) {
            return &rows[i];
        }
    }
    return NULL;
}

static void check_node(const model *m, node *nodes, uint32_t index, uint64_t seed)
{
    node *n = &nodes[index];
    static sums s;
    memset(&s, 0, sizeof(s));
    s.self = m->parties[index].keys.public_key;
    assert_int_equal(ledger_journal_walk(&n->store, 1, sum_visit, &s), MESH_OK);
    uint32_t count = ledger_balance_count(n->ledger);
    if (count != s.count) {
        print_error("seed %llu: node %u has %u rows, journal implies %u\n",
                    (unsigned long long) seed, index, count, s.count);
        fail();
    }
    static ledger_balance rows[256];
    for (uint32_t i = 0; i < count; i++) {
        ledger_balance_at(n->ledger, i, &rows[i]);
    }
    for (uint32_t k = 0; k < s.count; k++) {
        const ledger_balance *b =
            find_balance(rows, count, s.rows[k].peer, s.rows[k].resource_class, s.rows[k].model);
        if (b == NULL || b->lent_milli != s.rows[k].lent ||
            b->borrowed_milli != s.rows[k].borrowed) {
            print_error("seed %llu: node %u balance differs from the journal's sum\n",
                        (unsigned long long) seed, index);
            fail();
        }
    }
    ledger_verify_report report;
    mesh_err err = ledger_verify(&n->store, 86400ull * MESH_NS_PER_S, &report);
    if (err != MESH_OK) {
        print_error("seed %llu: node %u verify: %s (%s)\n", (unsigned long long) seed, index,
                    report.bad_key, report.reason);
        fail();
    }
}

static void check_pair(const model *m, node *nodes, uint32_t i, uint32_t j, uint64_t seed)
{
    const uint8_t *key_i = m->parties[i].keys.public_key;
    const uint8_t *key_j = m->parties[j].keys.public_key;
    // Lent equals borrowed, row by row, both ways.
    for (uint32_t r = 0; r < ledger_balance_count(nodes[i].ledger); r++) {
        ledger_balance mine;
        ledger_balance_at(nodes[i].ledger, r, &mine);
        if (memcmp(mine.peer_key, key_j, LEDGER_KEY_SIZE) != 0) {
            continue;
        }
        bool found = false;
        for (uint32_t q = 0; q < ledger_balance_count(nodes[j].ledger); q++) {
            ledger_balance theirs;
            ledger_balance_at(nodes[j].ledger, q, &theirs);
            if (memcmp(theirs.peer_key, key_i, LEDGER_KEY_SIZE) == 0 &&
                theirs.resource_class == mine.resource_class &&
                strcmp(theirs.model, mine.model) == 0) {
                found = true;
                if (theirs.borrowed_milli != mine.lent_milli ||
                    theirs.lent_milli != mine.borrowed_milli) {
                    print_error("seed %llu: %u and %u disagree on %s\n", (unsigned long long) seed,
                                i, j, ledger_class_name(mine.resource_class));
                    fail();
                }
            }
        }
        assert_true(found);
    }
    uint64_t lent_i = 0;
    uint64_t borrowed_i = 0;
    uint64_t lent_j = 0;
    uint64_t borrowed_j = 0;
    ledger_peer_totals(nodes[i].ledger, key_j, &lent_i, &borrowed_i);
    ledger_peer_totals(nodes[j].ledger, key_i, &lent_j, &borrowed_j);
    assert_int_equal(lent_i, borrowed_j);
    assert_int_equal(borrowed_i, lent_j);
    ledger_reconcile_report report;
    assert_int_equal(ledger_reconcile(&nodes[i].store, &nodes[j].store, &report), MESH_OK);
    if (report.only_a_count + report.only_b_count + report.differ_count != 0) {
        print_error("seed %llu: reconcile %u/%u: %llu only a, %llu only b, %llu differ\n",
                    (unsigned long long) seed, i, j, (unsigned long long) report.only_a_count,
                    (unsigned long long) report.only_b_count,
                    (unsigned long long) report.differ_count);
        fail();
    }
    assert_int_equal(report.a_lent_milli, report.b_borrowed_milli);
    assert_int_equal(report.a_borrowed_milli, report.b_lent_milli);
    assert_int_equal(report.a_lent_milli, lent_i);
    assert_int_equal(report.a_borrowed_milli, borrowed_i);
}

static void run_seed(uint64_t seed)
{
    static model m;
    model_init(&m, PARTIES, seed << 20);
    node nodes[PARTIES];
    for (uint32_t i = 0; i < PARTIES; i++) {
        assert_int_equal(ledger_mem_store_create(100000, 64u << 20, &nodes[i].mem), MESH_OK);
        nodes[i].store = ledger_mem_store_interface(nodes[i].mem);
        ledger_config config = fixture_config(&m.parties[i]);
        assert_int_equal(ledger_open(&config, &nodes[i].store, &nodes[i].ledger), MESH_OK);
    }
    mesh_rng rng;
    mesh_rng_seed(&rng, seed);
    for (uint32_t e = 0; e < EVENTS; e++) {
        ledger_record record;
        uint32_t index = 0;
        model_next(&m, &rng, UINT32_MAX, &record, &index);
        const model_lease *lease = &m.leases[index];
        uint8_t lender_signature[LEDGER_SIGNATURE_SIZE];
        uint8_t borrower_signature[LEDGER_SIGNATURE_SIZE];
        bool signed_record = mesh_rng_below(&rng, 8) == 0;
        if (signed_record) {
            assert_int_equal(ledger_record_sign(&record, m.parties[lease->lender].keys.secret_key,
                                                lender_signature),
                             MESH_OK);
            assert_int_equal(ledger_record_sign(&record, m.parties[lease->borrower].keys.secret_key,
                                                borrower_signature),
                             MESH_OK);
        }
        uint32_t parties[2] = {lease->lender, lease->borrower};
        for (uint32_t p = 0; p < 2; p++) {
            node *n = &nodes[parties[p]];
            mesh_err err =
                ledger_append(n->ledger, &record, signed_record ? lender_signature : NULL,
                              signed_record ? borrower_signature : NULL, e, NULL);
            if (err == MESH_EFULL) {
                assert_int_equal(ledger_commit(n->ledger, true, NULL, NULL), MESH_OK);
                err = ledger_append(n->ledger, &record, signed_record ? lender_signature : NULL,
                                    signed_record ? borrower_signature : NULL, e, NULL);
            }
            if (err != MESH_OK) {
                print_error("seed %llu event %u: %s\n", (unsigned long long) seed, e,
                            mesh_err_name(err));
                fail();
            }
            if (mesh_rng_below(&rng, 10) == 0) {
                assert_int_equal(ledger_commit(n->ledger, mesh_rng_below(&rng, 2) == 0, NULL, NULL),
                                 MESH_OK);
            }
        }
        // A hostile replay of the same event is refused by both sides.
        if (mesh_rng_below(&rng, 20) == 0) {
            for (uint32_t p = 0; p < 2; p++) {
                ledger *l = nodes[parties[p]].ledger;
                assert_int_equal(ledger_commit(l, false, NULL, NULL), MESH_OK);
                assert_int_equal(ledger_append(l, &record, NULL, NULL, e, NULL), MESH_ECONSTRAINT);
            }
        }
    }
    for (uint32_t i = 0; i < PARTIES; i++) {
        assert_int_equal(ledger_commit(nodes[i].ledger, true, NULL, NULL), MESH_OK);
    }
    for (uint32_t i = 0; i < PARTIES; i++) {
        check_node(&m, nodes, i, seed);
        for (uint32_t j = i + 1; j < PARTIES; j++) {
            check_pair(&m, nodes, i, j, seed);
        }
    }
    for (uint32_t i = 0; i < PARTIES; i++) {
        ledger_close(nodes[i].ledger);
        ledger_mem_store_destroy(nodes[i].mem);
    }
}

static void test_balances_follow_the_journal(void **state)
{
    (void) state;
    assert_int_equal(mcrypto_init(), MESH_OK);
    for (uint64_t seed = 1; seed <= SEEDS; seed++) {
        run_seed(seed);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_balances_follow_the_journal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
