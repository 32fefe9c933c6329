/*
 * tests/unit/sim_heap_test.c: the simulator's event heap pops in
 * (time_ns, sequence) order: earliest first, and events at the same time
 * in the order they were pushed, whatever the heap's layout; it grows to
 * its bound and refuses to go past it; fini frees queued payloads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim/sim_int.h"

static void test_pops_in_time_then_insertion_order(void **state)
{
    (void) state;
    sim_heap heap;
    sim_heap_init(&heap, 100000);
    mesh_rng rng;
    mesh_rng_seed(&rng, 42);
    // Many events on few distinct times, so ties are the common case.
    const uint32_t count = 20000;
    for (uint32_t i = 0; i < count; i++) {
        sim_event event = {
            .time_ns = mesh_rng_below(&rng, 50),
            .kind = SIM_EVENT_TIMER,
            .node_index = i, // Records the push order.
        };
        assert_int_equal(sim_heap_push(&heap, &event), MESH_OK);
    }
    assert_int_equal(heap.count, count);
    sim_event previous;
    assert_true(sim_heap_pop(&heap, &previous));
    for (uint32_t i = 1; i < count; i++) {
        const sim_event *peeked = sim_heap_peek(&heap);
        assert_non_null(peeked);
        uint64_t peeked_sequence = peeked->sequence;
        sim_event event;
        assert_true(sim_heap_pop(&heap, &event));
        assert_int_equal(event.sequence, peeked_sequence);
        assert_true(event.time_ns >= previous.time_ns);
        if (event.time_ns == previous.time_ns) {
            assert_true(event.sequence > previous.sequence);
            assert_true(event.node_index > previous.node_index);
        }
        previous = event;
    }
    sim_event none;
    assert_false(sim_heap_pop(&heap, &none));
    assert_null(sim_heap_peek(&heap));
    sim_heap_fini(&heap);
}

static void test_interleaved_push_and_pop(void **state)
{
    (void) state;
    // The simulator pushes while it pops: events scheduled "now" go after
    // every event already queued for now.
    sim_heap heap;
    sim_heap_init(&heap, 16);
    sim_event a = {.time_ns = 10, .node_index = 1};
    sim_event b = {.time_ns = 10, .node_index = 2};
    sim_event c = {.time_ns = 5, .node_index = 3};
    assert_int_equal(sim_heap_push(&heap, &a), MESH_OK);
    assert_int_equal(sim_heap_push(&heap, &b), MESH_OK);
    sim_event out;
    assert_true(sim_heap_pop(&heap, &out));
    assert_int_equal(out.node_index, 1);
    sim_event d = {.time_ns = 10, .node_index = 4};
    assert_int_equal(sim_heap_push(&heap, &d), MESH_OK);
    assert_int_equal(sim_heap_push(&heap, &c), MESH_OK);
    uint32_t expected[] = {3, 2, 4};
    for (uint32_t i = 0; i < 3; i++) {
        assert_true(sim_heap_pop(&heap, &out));
        assert_int_equal(out.node_index, expected[i]);
    }
    sim_heap_fini(&heap);
}

static void test_bounded_and_frees_payloads(void **state)
{
    (void) state;
    sim_heap heap;
    sim_heap_init(&heap, 3);
    for (uint32_t i = 0; i < 3; i++) {
        sim_event event = {
            .time_ns = i, .kind = SIM_EVENT_DELIVER, .payload = malloc(8), .payload_size = 8};
        assert_non_null(event.payload);
        assert_int_equal(sim_heap_push(&heap, &event), MESH_OK);
    }
    sim_event extra = {.time_ns = 1};
    assert_int_equal(sim_heap_push(&heap, &extra), MESH_EFULL);
    assert_int_equal(heap.count, 3);
    // fini frees the three payloads (valgrind and ASan check it).
    sim_heap_fini(&heap);
    sim_heap_fini(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pops_in_time_then_insertion_order),
        cmocka_unit_test(test_interleaved_push_and_pop),
        cmocka_unit_test(test_bounded_and_frees_payloads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
