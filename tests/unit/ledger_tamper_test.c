/*
 * tests/unit/ledger_tamper_test.c: changing one byte of any stored entry is
 * caught by verify, which names that entry; so is changing any derived key
 * (balance, score, lease, head), and a missing or reordered entry.
 *
 * Byte by byte: for every entry of a small ledger, every byte of its
 * stored value is flipped (two different masks), verify must fail and
 * name exactly "j/<seq>" with bad_seq == seq, and flipping back must make
 * it pass again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/ledger_fixture.h"

#define T0     1795000000000000000ll
#define DAY_NS (86400ull * MESH_NS_PER_S)

typedef struct world {
    fixture_party a;
    fixture_party b;
    ledger_mem_store *mem;
    ledger_store store;
} world;

static int setup(void **state)
{
    static world w;
    memset(&w, 0, sizeof(w));
    assert_int_equal(mcrypto_init(), MESH_OK);
    fixture_party_make(&w.a, 0);
    fixture_party_make(&w.b, 1);
    assert_int_equal(ledger_mem_store_create(10000, 16u << 20, &w.mem), MESH_OK);
    w.store = ledger_mem_store_interface(w.mem);
    ledger_config config = fixture_config(&w.a);
    ledger *l = NULL;
    assert_int_equal(ledger_open(&config, &w.store, &l), MESH_OK);
    // Two leases, one each way; signed by both, by one, and by none.
    for (uint64_t lease = 1; lease <= 2; lease++) {
        const fixture_party *lender = lease == 1 ? &w.a : &w.b;
        const fixture_party *borrower = lease == 1 ? &w.b : &w.a;
        uint8_t id[LEDGER_LEASE_ID_SIZE];
        fixture_lease_id(id, lease);
        ledger_record r;
        fixture_record(&r, LEDGER_KIND_OPENED, id, 0, lender, borrower, T0, 4000, 0);
        assert_int_equal(fixture_append_signed(l, &r, lender, borrower, 0, NULL), MESH_OK);
        fixture_record(&r, LEDGER_KIND_USAGE, id, 1, lender, borrower, T0 + 1, 4000, 1000);
        uint8_t signature[LEDGER_SIGNATURE_SIZE];
        assert_int_equal(ledger_record_sign(&r, lender->keys.secret_key, signature), MESH_OK);
        assert_int_equal(ledger_append(l, &r, signature, NULL, 0, NULL), MESH_OK);
        fixture_record(&r, LEDGER_KIND_EXPIRED, id, 2, lender, borrower, T0 + 2, 0, 0);
        assert_int_equal(ledger_append(l, &r, NULL, NULL, 0, NULL), MESH_OK);
        assert_int_equal(ledger_commit(l, true, NULL, NULL), MESH_OK);
    }
    // A checkpoint, so that leases and scores are stored too.
    assert_int_equal(ledger_flush(l, NULL, NULL), MESH_OK);
    ledger_close(l);
    *state = &w;
    return 0;
}

static int teardown(void **state)
{
    world *w = *state;
    ledger_mem_store_destroy(w->mem);
    return 0;
}

typedef struct value_size_result {
    uint32_t size;
} value_size_result;

static bool value_size_visit(
    void *arg, const uint8_t *key, uint32_t key_size, const uint8_t *value, uint32_t value_size)
{
    (void) key;
    (void) key_size;
    (void) value;
    value_size_result *result = arg;
    result->size = value_size;
    return false;
}

static uint32_t stored_size(world *w, const uint8_t *key, uint32_t key_size)
{
    value_size_result result = {0};
    assert_int_equal(w->store.scan(w->store.ctx, key, key_size, NULL, 0, value_size_visit, &result),
                     MESH_OK);
    return result.size;
}

static void test_clean_ledger_verifies(void **state)
{
    world *w = *state;
    ledger_verify_report report;
    assert_int_equal(ledger_verify(&w->store, DAY_NS, &report), MESH_OK);
    assert_int_equal(report.entry_count, 6);
    assert_int_equal(report.signature_count, 6); /* 2 + 1 + 0, twice */
    assert_int_equal(report.lease_count, 2);
    assert_int_equal(report.balance_count, 2); /* vCPU and GPU with B */
}

static void test_every_byte_of_every_entry(void **state)
{
    world *w = *state;
    static const uint8_t masks[] = {0x01, 0x80};
    uint32_t flips = 0;
    for (uint64_t seq = 1; seq <= 6; seq++) {
        uint8_t key[LEDGER_JOURNAL_KEY_SIZE];
        uint32_t key_size = ledger_key_journal(seq, key);
        uint32_t size = stored_size(w, key, key_size);
        assert_true(size > LEDGER_HASH_SIZE);
        char expected_key[32];
        (void) snprintf(expected_key, sizeof(expected_key), "j/%llu", (unsigned long long) seq);
        for (uint32_t index = 0; index < size; index++) {
            for (uint32_t m = 0; m < MESH_ARRAY_COUNT(masks); m++) {
                assert_int_equal(ledger_mem_store_flip(w->mem, key, key_size, index, masks[m]),
                                 MESH_OK);
                ledger_verify_report report;
                mesh_err err = ledger_verify(&w->store, DAY_NS, &report);
                if (err != MESH_ECORRUPT || report.bad_seq != seq ||
                    strcmp(report.bad_key, expected_key) != 0) {
                    print_error("seq %llu byte %u mask %02x: %s, named %llu %s (%s)\n",
                                (unsigned long long) seq, index, masks[m], mesh_err_name(err),
                                (unsigned long long) report.bad_seq, report.bad_key, report.reason);
                    fail();
                }
                assert_int_equal(ledger_mem_store_flip(w->mem, key, key_size, index, masks[m]),
                                 MESH_OK);
                flips++;
            }
        }
    }
    ledger_verify_report report;
    assert_int_equal(ledger_verify(&w->store, DAY_NS, &report), MESH_OK);
    assert_true(flips > 6 * 2 * 200);
}

typedef struct key_list {
    uint8_t keys[64][LEDGER_STORE_KEY_SIZE_MAX];
    uint32_t sizes[64];
    uint32_t value_sizes[64];
    uint32_t count;
} key_list;

static bool collect_derived(
    void *arg, const uint8_t *key, uint32_t key_size, const uint8_t *value, uint32_t value_size)
{
    (void) value;
    key_list *list = arg;
    if (key[0] != LEDGER_PREFIX_JOURNAL && key[0] != LEDGER_PREFIX_META && value_size > 0 &&
        list->count < 64) {
        memcpy(list->keys[list->count], key, key_size);
        list->sizes[list->count] = key_size;
        list->value_sizes[list->count] = value_size;
        list->count++;
    }
    return true;
}

static void test_every_derived_value(void **state)
{
    world *w = *state;
    static key_list list;
    memset(&list, 0, sizeof(list));
    assert_int_equal(w->store.scan(w->store.ctx, NULL, 0, NULL, 0, collect_derived, &list),
                     MESH_OK);
    assert_int_equal(list.count, 2 + 1 + 2 + 1 + 1); /* rows, score, leases, head, checkpoint */
    for (uint32_t k = 0; k < list.count; k++) {
        for (uint32_t index = 0; index < list.value_sizes[k]; index++) {
            assert_int_equal(ledger_mem_store_flip(w->mem, list.keys[k], list.sizes[k], index, 4),
                             MESH_OK);
            ledger_verify_report report;
            assert_int_equal(ledger_verify(&w->store, DAY_NS, &report), MESH_ECORRUPT);
            // A changed checkpoint shows up in what it points at.
            assert_true(report.bad_key[0] == (char) list.keys[k][0] ||
                        list.keys[k][0] == LEDGER_PREFIX_CHECKPOINT);
            assert_int_equal(ledger_mem_store_flip(w->mem, list.keys[k], list.sizes[k], index, 4),
                             MESH_OK);
        }
    }
}

static void test_missing_entry_and_extra_key(void **state)
{
    world *w = *state;
    uint8_t key[LEDGER_JOURNAL_KEY_SIZE];
    uint32_t key_size = ledger_key_journal(3, key);
    ledger_op op = {.is_delete = true, .key = key, .key_size = key_size};
    ledger_batch batch = {.ops = &op, .count = 1};
    assert_int_equal(w->store.write(w->store.ctx, &batch, true), MESH_OK);
    ledger_verify_report report;
    assert_int_equal(ledger_verify(&w->store, DAY_NS, &report), MESH_ECORRUPT);
    assert_int_equal(report.bad_seq, 3);
    // An unknown family.
    uint8_t stray[] = {'z', 1, 2};
    op = (ledger_op){.key = stray, .key_size = sizeof(stray), .value = stray, .value_size = 1};
    assert_int_equal(w->store.write(w->store.ctx, &batch, true), MESH_OK);
    assert_int_equal(ledger_verify(&w->store, DAY_NS, &report), MESH_ECORRUPT);
    assert_string_equal(report.bad_key, "z/0102");
}

static void test_decoder_refuses_garbage(void **state)
{
    (void) state;
    ledger_entry entry;
    uint8_t junk[64];
    memset(junk, 0xc1, sizeof(junk));
    assert_int_not_equal(ledger_entry_decode(junk, sizeof(junk), &entry), MESH_OK);
    assert_int_not_equal(ledger_entry_decode(junk, 0, &entry), MESH_OK);
    ledger_record record;
    // msgpack-c's 128 GiB input.
    static const uint8_t bomb[] = {0xdd, 0xd6, 0x2d, 0x3f, 0x31, 0x25};
    assert_int_equal(ledger_record_decode(bomb, sizeof(bomb), &record), MESH_EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_clean_ledger_verifies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_byte_of_every_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_derived_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_entry_and_extra_key, setup, teardown),
        cmocka_unit_test(test_decoder_refuses_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
