/*
 * gossip.order: the id-ordered member index (gossip/order.c) against a
 * plain sorted array, under seeded random inserts and removals: the same
 * sequence by iteration and by position, the same lower bounds, ids that
 * share their first 8 bytes (the key) and so compare by the whole id, and
 * compactions forced by a sparse index.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gossip/gossip_int.h"

#define MEMBERS_MAX 2000u

typedef struct fixture {
    gossip g;
    bool used[MEMBERS_MAX];
    uint32_t reference[MEMBERS_MAX]; /* slots sorted by id */
    uint32_t reference_count;
    mesh_rng rng;
} fixture;

static fixture *fixture_new(uint64_t seed)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->g.config.members_max = MEMBERS_MAX;
    f->g.members = calloc(MEMBERS_MAX, sizeof(member));
    assert_non_null(f->g.members);
    assert_int_equal(gossip_order_init(&f->g.order, MEMBERS_MAX), MESH_OK);
    mesh_rng_seed(&f->rng, seed);
    return f;
}

static void fixture_free(fixture *f)
{
    gossip_order_fini(&f->g.order);
    gossip_order_fini(&f->g.order); // twice: fini leaves a zeroed order
    free(f->g.members);
    free(f);
}

/* A random id; with share_key, its first 8 bytes copy another member's. */
static void random_id(fixture *f, mesh_node_id *id, bool share_key)
{
    for (uint32_t i = 0; i < MESH_NODE_ID_SIZE; i++) {
        id->bytes[i] = (uint8_t) mesh_rng_next(&f->rng);
    }
    if (share_key && f->reference_count > 0) {
        uint32_t other = f->reference[mesh_rng_below(&f->rng, f->reference_count)];
        memcpy(id->bytes, f->g.members[other].id.bytes, 8);
    }
}

static uint32_t reference_lower_bound(const fixture *f, const mesh_node_id *id)
{
    uint32_t at = 0;
    while (at < f->reference_count &&
           mesh_node_id_compare(&f->g.members[f->reference[at]].id, id) < 0) {
        at++;
    }
    return at;
}

static void insert_one(fixture *f, bool share_key)
{
    uint32_t slot = (uint32_t) mesh_rng_below(&f->rng, MEMBERS_MAX);
    while (f->used[slot]) {
        slot = (slot + 1) % MEMBERS_MAX;
    }
    mesh_node_id id;
    do {
        random_id(f, &id, share_key);
    } while (
        reference_lower_bound(f, &id) < f->reference_count &&
        mesh_node_id_equal(&f->g.members[f->reference[reference_lower_bound(f, &id)]].id, &id));
    f->g.members[slot].id = id;
    f->used[slot] = true;
    uint32_t at = reference_lower_bound(f, &id);
    memmove(&f->reference[at + 1], &f->reference[at], (f->reference_count - at) * sizeof(uint32_t));
    f->reference[at] = slot;
    f->reference_count++;
    gossip_order_insert(&f->g, slot);
    f->g.member_count++;
}

static void remove_at(fixture *f, uint32_t at)
{
    uint32_t slot = f->reference[at];
    gossip_order_remove(&f->g, slot);
    f->g.member_count--;
    memmove(&f->reference[at], &f->reference[at + 1],
            (f->reference_count - at - 1) * sizeof(uint32_t));
    f->reference_count--;
    f->used[slot] = false;
}

static void remove_one(fixture *f)
{
    remove_at(f, (uint32_t) mesh_rng_below(&f->rng, f->reference_count));
}

static void check_same(fixture *f)
{
    gossip_order_check(&f->g);
    assert_int_equal(f->g.order.count, f->reference_count);
    gossip_order_iter iter;
    gossip_order_seek(&f->g, 0, &iter);
    uint32_t slot = 0;
    for (uint32_t i = 0; i < f->reference_count; i++) {
        assert_true(gossip_order_next(&f->g, &iter, &slot));
        assert_int_equal(slot, f->reference[i]);
        assert_int_equal(gossip_order_slot_at(&f->g, i), f->reference[i]);
    }
    assert_false(gossip_order_next(&f->g, &iter, &slot));
    // Following positions: step by step, and with jumps both ways.
    gossip_order_seek(&f->g, 0, &iter);
    for (uint32_t i = 0; i < f->reference_count; i++) {
        assert_int_equal(gossip_order_slot_follow(&f->g, &iter, i), f->reference[i]);
    }
    for (uint32_t k = 0; k < 16 && f->reference_count > 0; k++) {
        uint32_t at = (uint32_t) mesh_rng_below(&f->rng, f->reference_count);
        assert_int_equal(gossip_order_slot_follow(&f->g, &iter, at), f->reference[at]);
    }
    // Lower bounds: of every member (exact hits), and of random ids.
    for (uint32_t i = 0; i < f->reference_count; i += 7) {
        const mesh_node_id *id = &f->g.members[f->reference[i]].id;
        assert_int_equal(gossip_order_lower_bound(&f->g, id), i);
    }
    for (uint32_t k = 0; k < 32; k++) {
        mesh_node_id id;
        random_id(f, &id, k % 2 == 0);
        assert_int_equal(gossip_order_lower_bound(&f->g, &id), reference_lower_bound(f, &id));
    }
    // A seek into the middle iterates the rest.
    if (f->reference_count > 0) {
        uint32_t from = (uint32_t) mesh_rng_below(&f->rng, f->reference_count);
        gossip_order_seek(&f->g, from, &iter);
        for (uint32_t i = from; i < f->reference_count; i++) {
            assert_true(gossip_order_next(&f->g, &iter, &slot));
            assert_int_equal(slot, f->reference[i]);
        }
    }
}

static void test_order_matches_sorted_array(void **state)
{
    (void) state;
    for (uint64_t seed = 1; seed <= 4; seed++) {
        fixture *f = fixture_new(seed);
        check_same(f); // empty
        for (uint32_t round = 0; round < 6000; round++) {
            bool insert = f->reference_count == 0 ||
                          (f->reference_count < MEMBERS_MAX && mesh_rng_below(&f->rng, 10) < 7);
            if (insert) {
                insert_one(f, mesh_rng_below(&f->rng, 8) == 0);
            } else {
                remove_one(f);
            }
            if (round % 500 == 0) {
                check_same(f);
            }
        }
        check_same(f);
        fixture_free(f);
    }
}

static void insert_id(fixture *f, const mesh_node_id *id)
{
    uint32_t slot = 0;
    while (f->used[slot]) {
        slot++;
    }
    f->g.members[slot].id = *id;
    f->used[slot] = true;
    uint32_t at = reference_lower_bound(f, id);
    memmove(&f->reference[at + 1], &f->reference[at], (f->reference_count - at) * sizeof(uint32_t));
    f->reference[at] = slot;
    f->reference_count++;
    gossip_order_insert(&f->g, slot);
    f->g.member_count++;
}

static void counter_id(uint64_t counter, mesh_node_id *id)
{
    memset(id, 0x77, sizeof(*id));
    for (uint32_t i = 0; i < 8; i++) {
        id->bytes[i] = (uint8_t) (counter >> (56 - 8 * i));
    }
}

/* Ascending inserts leave half-full blocks behind every split, so filling
 * the index compacts it; thinning each block to one member keeps every
 * block in use; then more ascending inserts split the last block until no
 * block is free again. Compactions must make room without losing or
 * reordering anyone. */
static void test_order_compacts_when_sparse(void **state)
{
    (void) state;
    fixture *f = fixture_new(99);
    uint64_t counter = 1;
    while (f->reference_count < MEMBERS_MAX) {
        mesh_node_id id;
        counter_id(counter++, &id);
        insert_id(f, &id);
    }
    check_same(f);
    // Ascending inserts leave half-full blocks: more than the index has.
    uint64_t compactions = f->g.order.compactions;
    assert_true(compactions > 0);
    uint32_t blocks = f->g.order.block_count;
    // Keep the first member of each block.
    for (uint32_t i = f->reference_count; i-- > 0;) {
        bool first = false;
        for (uint32_t b = 0; b < f->g.order.block_count; b++) {
            first = first || f->g.order.starts[b] == i;
        }
        if (!first) {
            remove_at(f, i);
        }
    }
    check_same(f);
    assert_int_equal(f->g.order.block_count, blocks);
    assert_int_equal(f->reference_count, blocks);
    while (f->reference_count < MEMBERS_MAX) {
        mesh_node_id id;
        counter_id(counter++, &id);
        insert_id(f, &id);
    }
    check_same(f);
    assert_true(f->g.order.compactions > compactions);
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_matches_sorted_array),
        cmocka_unit_test(test_order_compacts_when_sparse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
