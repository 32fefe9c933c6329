/*
 * tests/unit/sim_sched_test.c: the site scheduler model (sim/sched.h).
 * Hand-made cases for each rule: FCFS order, EASY backfilling that does not
 * delay the head and refusing one that would, the extra processors, pools
 * with start delays, until_ns and class masks, pool removal and preemption
 * requeueing at the original place, an oversize job that does not block
 * the queue, starts_max continuation and the error paths. Then two seeded
 * randomized runs: FCFS (depth 0) against a reference model written here,
 * decision for decision; and EASY, where jobs run exactly their request,
 * checking that the head never starts after its first reservation, that
 * pools are never over-committed, and that a step cut into starts_max = 1
 * pieces decides exactly what one whole step decides.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim/sched.h"

#define STARTS_MAX 64u
#define NEVER      UINT64_MAX
#define ALL        0xFFFFFFFFu

static sim_sched *make(uint32_t jobs_max, uint32_t pools_max, uint32_t depth)
{
    sim_sched *s = NULL;
    assert_int_equal(sim_sched_create(jobs_max, pools_max, depth, &s), MESH_OK);
    assert_non_null(s);
    return s;
}

static void pool_set(sim_sched *s,
                     uint32_t id,
                     uint64_t capacity,
                     uint64_t until_ns,
                     uint64_t delay_ns,
                     uint32_t mask)
{
    sim_sched_pool pool = {
        .capacity = capacity, .until_ns = until_ns, .start_delay_ns = delay_ns, .class_mask = mask};
    assert_int_equal(sim_sched_pool_set(s, id, &pool), MESH_OK);
}

static void submit(sim_sched *s,
                   uint64_t key,
                   uint64_t submit_ns,
                   uint64_t request_ns,
                   uint32_t procs,
                   uint32_t class_bit)
{
    sim_sched_job job = {.key = key,
                         .submit_ns = submit_ns,
                         .request_ns = request_ns,
                         .procs = procs,
                         .class_bit = class_bit};
    assert_int_equal(sim_sched_submit(s, &job), MESH_OK);
}

/* One step that must not be cut by starts_max. */
static uint32_t step(sim_sched *s, uint64_t now_ns, sim_sched_start *starts)
{
    uint32_t count = sim_sched_step(s, now_ns, starts, STARTS_MAX);
    assert_false(sim_sched_step_more(s));
    return count;
}

static void assert_start(const sim_sched_start *start, uint64_t key, uint32_t pool, uint64_t at)
{
    assert_int_equal(start->key, key);
    assert_int_equal(start->pool, pool);
    assert_int_equal(start->start_ns, at);
}

/* Field by field: the struct has padding. */
static void
assert_starts_equal(const sim_sched_start *got, const sim_sched_start *expected, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        assert_start(&got[i], expected[i].key, expected[i].pool, expected[i].start_ns);
    }
}

static void test_fcfs_order(void **state)
{
    (void) state;
    sim_sched *s = make(16, 1, 0);
    pool_set(s, 0, 10, NEVER, 0, ALL);
    // Submitted out of order: the queue is (submit_ns, key).
    submit(s, 3, 0, 50, 4, 0);
    submit(s, 2, 5, 10, 4, 0);
    submit(s, 1, 0, 100, 4, 0);
    submit(s, 4, 6, 10, 1, 0);
    sim_sched_start starts[STARTS_MAX];
    assert_int_equal(step(s, 10, starts), 2);
    assert_start(&starts[0], 1, 0, 10);
    assert_start(&starts[1], 3, 0, 10);
    // Job 4 would fit (2 free), but depth 0 is plain FCFS: it waits behind 2.
    assert_int_equal(sim_sched_queued_jobs(s), 2);
    assert_int_equal(sim_sched_queued_procs(s), 5);
    assert_int_equal(sim_sched_pool_busy_procs(s, 0), 8);
    assert_int_equal(sim_sched_pool_free_procs(s, 0), 2);
    sim_sched_reservation reservation;
    assert_true(sim_sched_reservation_get(s, &reservation));
    assert_int_equal(reservation.key, 2);
    assert_int_equal(reservation.pool, 0);
    assert_int_equal(reservation.time_ns, 60); // job 3 ends at 10 + 50
    assert_int_equal(reservation.extra_procs, 2);

    assert_int_equal(sim_sched_finish(s, 3, 60), MESH_OK);
    assert_int_equal(step(s, 60, starts), 2);
    assert_start(&starts[0], 2, 0, 60);
    assert_start(&starts[1], 4, 0, 60);
    assert_false(sim_sched_reservation_get(s, NULL));
    assert_int_equal(sim_sched_running_jobs(s), 3);
    assert_int_equal(sim_sched_running_procs(s), 9);
    sim_sched_stats stats;
    sim_sched_stats_get(s, &stats);
    assert_int_equal(stats.started, 4);
    assert_int_equal(stats.backfilled, 0);
    assert_int_equal(stats.finished, 1);
    sim_sched_destroy(s);
}

/* Pool 0 of 10 with A (6 procs) running until 100, and B (8 procs) at the
 * head: B's reservation is 100 with 2 extra processors. */
static sim_sched *easy_setup(uint32_t depth)
{
    sim_sched *s = make(16, 2, depth);
    pool_set(s, 0, 10, NEVER, 0, ALL);
    submit(s, 1, 0, 100, 6, 0); // A
    sim_sched_start starts[STARTS_MAX];
    assert_int_equal(step(s, 0, starts), 1);
    submit(s, 2, 1, 50, 8, 0); // B, the head
    return s;
}

static void test_easy_backfills_without_delaying_the_head(void **state)
{
    (void) state;
    sim_sched *s = easy_setup(8);
    submit(s, 3, 2, 99, 4, 0); // ends at 1 + 99 = 100: by B's reservation
    sim_sched_start starts[STARTS_MAX];
    assert_int_equal(step(s, 1, starts), 1);
    assert_start(&starts[0], 3, 0, 1);
    sim_sched_reservation reservation;
    assert_true(sim_sched_reservation_get(s, &reservation));
    assert_int_equal(reservation.key, 2);
    assert_int_equal(reservation.time_ns, 100);
    assert_int_equal(reservation.extra_procs, 2);
    // Both end at 100 and B starts then, as reserved.
    assert_int_equal(sim_sched_finish(s, 1, 100), MESH_OK);
    assert_int_equal(sim_sched_finish(s, 3, 100), MESH_OK);
    assert_int_equal(step(s, 100, starts), 1);
    assert_start(&starts[0], 2, 0, 100);
    sim_sched_stats stats;
    sim_sched_stats_get(s, &stats);
    assert_int_equal(stats.backfilled, 1);
    sim_sched_destroy(s);

    // Without backfilling the same job waits.
    s = easy_setup(0);
    submit(s, 3, 2, 99, 4, 0);
    assert_int_equal(step(s, 1, starts), 0);
    sim_sched_destroy(s);
}

static void test_easy_refuses_a_job_that_would_delay_the_head(void **state)
{
    (void) state;
    sim_sched *s = easy_setup(8);
    submit(s, 3, 2, 100, 4, 0); // fits now, ends at 101 > 100, 4 > 2 extra
    sim_sched_start starts[STARTS_MAX];
    assert_int_equal(step(s, 1, starts), 0);
    assert_int_equal(sim_sched_job_state(s, 3, NULL), SIM_SCHED_QUEUED);
    // One tick later it would end at 101 still: it waits for B.
    assert_int_equal(step(s, 2, starts), 0);
    assert_int_equal(sim_sched_finish(s, 1, 100), MESH_OK);
    assert_int_equal(step(s, 100, starts), 1);
    assert_start(&starts[0], 2, 0, 100);
    sim_sched_destroy(s);
}

static void test_extra_processors(void **state)
{
    (void) state;
    sim_sched *s = easy_setup(8);
    submit(s, 3, 2, 1000, 2, 0); // long, but within the 2 extra: starts
    submit(s, 4, 3, 1000, 1, 0); // long, extra used up: waits
    submit(s, 5, 4, 50, 1, 0);   // ends by 100: starts
    sim_sched_start starts[STARTS_MAX];
    assert_int_equal(step(s, 1, starts), 2);
    assert_start(&starts[0], 3, 0, 1);
    assert_start(&starts[1], 5, 0, 1);
    assert_int_equal(sim_sched_job_state(s, 4, NULL), SIM_SCHED_QUEUED);
    sim_sched_reservation reservation;
    assert_true(sim_sched_reservation_get(s, &reservation));
    assert_int_equal(reservation.extra_procs, 2); // as computed, before backfilling
    // A fresh step sees the extra taken by job 3.
    assert_int_equal(step(s, 1, starts), 0);
    assert_true(sim_sched_reservation_get(s, &reservation));
    assert_int_equal(reservation.time_ns, 100);
    assert_int_equal(reservation.extra_procs, 0);
    sim_sched_destroy(s);
}

/* The extra counts every job ending at the reservation's time, and of two
 * pools free at the same time the lower id gets the reservation. */
static void test_reservation_ties(void **state)
{
    (void) state;
    sim_sched *s = make(16, 2, 0);
    pool_set(s, 0, 10, NEVER, 0, ALL);
    pool_set(s, 1, 10, NEVER, 0, ALL);
    submit(s, 1, 1, 100, 4, 0);
    submit(s, 2, 2, 100, 2, 0);
    submit(s, 3, 3, 100, 4, 0);
    submit(s, 4, 4, 100, 10, 0); // fills pool 1
    submit(s, 5, 5, 100, 6, 0);  // the head
    sim_sched_start starts[STARTS_MAX];
    assert_int_equal(step(s, 0, starts), 4);
    assert_int_equal(starts[3].pool, 1);
    sim_sched_reservation reservation;
    assert_true(sim_sched_reservation_get(s, &reservation));
    assert_int_equal(reservation.key, 5);
    assert_int_equal(reservation.time_ns, 100);
    assert_int_equal(reservation.pool, 0);
    assert_int_equal(reservation.extra_procs, 4); // jobs 1, 2 and 3 all end at 100
    sim_sched_destroy(s);
}

static void test_pools_with_delay_and_until(void **state)
{
    (void) state;
    sim_sched *s = make(16, 4, 8);
    pool_set(s, 0, 4, NEVER, 0, ALL);
    pool_set(s, 2, 8, 1000, 10, ALL); // a lease to 1000, 10 ns away
    submit(s, 1, 0, 1000, 4, 0);
    submit(s, 2, 1, 500, 2, 0);
    submit(s, 3, 2, 991, 2, 0); // 0 + 10 + 991 > 1000: not on the lease
    submit(s, 4, 3, 990, 2, 0); // 0 + 10 + 990 = 1000: on the lease
    sim_sched_start starts[STARTS_MAX];
    assert_int_equal(step(s, 0, starts), 3);
    assert_start(&starts[0], 1, 0, 0);
    assert_start(&starts[1], 2, 2, 10);
    assert_start(&starts[2], 4, 2, 10); // backfilled on the other pool
    sim_sched_reservation reservation;
    assert_true(sim_sched_reservation_get(s, &reservation));
    assert_int_equal(reservation.key, 3);
    assert_int_equal(reservation.pool, 0);
    assert_int_equal(reservation.time_ns, 1000);
    assert_int_equal(sim_sched_pool_running_jobs(s, 2), 2);
    assert_int_equal(sim_sched_pool_busy_procs(s, 2), 4);
    // The lease is renewed: job 3 fits on it now, 10 ns away.
    pool_set(s, 2, 8, 2000, 10, ALL);
    assert_int_equal(step(s, 5, starts), 1);
    assert_start(&starts[0], 3, 2, 15);
    uint32_t pool = 99;
    assert_int_equal(sim_sched_job_state(s, 3, &pool), SIM_SCHED_RUNNING);
    assert_int_equal(pool, 2);
    sim_sched_destroy(s);
}

static void test_class_masks(void **state)
{
    (void) state;
    sim_sched *s = make(16, 2, 8);
    pool_set(s, 0, 2, NEVER, 0, ALL);
    pool_set(s, 1, 8, NEVER, 0, 0x1);
    submit(s, 1, 0, 100, 2, 0);
    submit(s, 2, 1, 100, 2, 0x2); // only pool 0 admits class 0x2
    submit(s, 3, 2, 100, 2, 0x1);
    submit(s, 4, 3, 100, 2, 0);
    sim_sched_start starts[STARTS_MAX];
    assert_int_equal(step(s, 0, starts), 3);
    assert_start(&starts[0], 1, 0, 0);
    assert_start(&starts[1], 3, 1, 0);
    assert_start(&starts[2], 4, 1, 0);
    sim_sched_reservation reservation;
    assert_true(sim_sched_reservation_get(s, &reservation));
    assert_int_equal(reservation.key, 2);
    assert_int_equal(reservation.pool, 0);
    assert_int_equal(sim_sched_queued_procs_class(s, 0x2), 2);
    assert_int_equal(sim_sched_queued_procs_class(s, 0x1), 0);
    assert_int_equal(sim_sched_queued_procs_class(s, 0), 0);
    assert_int_equal(sim_sched_queued_procs_class(s, 0x3), 0);
    sim_sched_job bad = {.key = 9, .procs = 1, .class_bit = 0x3};
    assert_int_equal(sim_sched_submit(s, &bad), MESH_EINVAL);
    sim_sched_destroy(s);
}

static void test_pool_remove_requeues_at_the_original_place(void **state)
{
    (void) state;
    sim_sched *s = make(16, 2, 0);
    pool_set(s, 0, 3, NEVER, 0, ALL);
    pool_set(s, 1, 10, NEVER, 5, ALL);
    submit(s, 1, 1, 100, 3, 0);
    submit(s, 2, 2, 30, 3, 0);
    submit(s, 3, 3, 20, 3, 0);
    submit(s, 4, 4, 10, 3, 0);
    submit(s, 5, 5, 10, 3, 0);
    sim_sched_start starts[STARTS_MAX];
    assert_int_equal(step(s, 0, starts), 4);
    assert_int_equal(sim_sched_pool_running_jobs(s, 1), 3);

    uint64_t keys[8] = {0};
    uint32_t count = 0;
    assert_int_equal(sim_sched_pool_remove(s, 1, keys, 2, &count), MESH_EFULL);
    assert_int_equal(count, 3);
    assert_int_equal(sim_sched_pool_running_jobs(s, 1), 3); // nothing changed
    assert_int_equal(sim_sched_pool_remove(s, 1, keys, 8, &count), MESH_OK);
    assert_int_equal(count, 3);
    assert_int_equal(keys[0], 4); // by expected end: 15, 25, 35
    assert_int_equal(keys[1], 3);
    assert_int_equal(keys[2], 2);
    assert_false(sim_sched_pool_get(s, 1, NULL));
    assert_int_equal(sim_sched_pool_remove(s, 1, keys, 8, &count), MESH_ENOTFOUND);
    assert_int_equal(sim_sched_queued_jobs(s), 4);
    assert_int_equal(sim_sched_job_state(s, 2, NULL), SIM_SCHED_QUEUED);
    sim_sched_stats stats;
    sim_sched_stats_get(s, &stats);
    assert_int_equal(stats.preemptions, 3);

    // They come back ahead of job 5, in their order.
    assert_int_equal(sim_sched_finish(s, 1, 100), MESH_OK);
    for (uint64_t key = 2; key <= 5; key++) {
        assert_int_equal(step(s, 100 * key, starts), 1);
        assert_start(&starts[0], key, 0, 100 * key);
        assert_int_equal(sim_sched_finish(s, key, 100 * key + 1), MESH_OK);
    }
    sim_sched_destroy(s);
}

static void test_preempt_takes_the_most_recent(void **state)
{
    (void) state;
    sim_sched *s = make(16, 1, 0);
    pool_set(s, 0, 10, NEVER, 0, ALL);
    submit(s, 1, 1, 100, 4, 0);
    submit(s, 2, 2, 100, 3, 0);
    sim_sched_start starts[STARTS_MAX];
    assert_int_equal(step(s, 0, starts), 2);
    submit(s, 3, 3, 10, 3, 0);
    assert_int_equal(step(s, 1, starts), 1);
    // The site lends half its machine: nothing stops, the pool is over-committed.
    pool_set(s, 0, 5, NEVER, 0, ALL);
    assert_int_equal(sim_sched_pool_busy_procs(s, 0), 10);
    assert_int_equal(sim_sched_pool_free_procs(s, 0), 0);
    assert_int_equal(sim_sched_running_jobs(s), 3);

    uint64_t keys[4] = {0};
    uint32_t count = 0;
    assert_int_equal(sim_sched_preempt(s, 0, 0, keys, 1, &count), MESH_EFULL);
    assert_int_equal(count, 2);
    assert_int_equal(sim_sched_running_jobs(s), 3);
    assert_int_equal(sim_sched_preempt(s, 0, 0, keys, 4, &count), MESH_OK);
    assert_int_equal(count, 2);
    assert_int_equal(keys[0], 3); // started last
    assert_int_equal(keys[1], 2);
    assert_int_equal(sim_sched_pool_busy_procs(s, 0), 4);
    assert_int_equal(sim_sched_queued_jobs(s), 2);
    // Already fits, and room for 1 more: nothing to do.
    assert_int_equal(sim_sched_preempt(s, 0, 1, keys, 4, &count), MESH_OK);
    assert_int_equal(count, 0);
    // Room for 5 needs job 1 gone too.
    assert_int_equal(sim_sched_preempt(s, 0, 5, keys, 4, &count), MESH_OK);
    assert_int_equal(count, 1);
    assert_int_equal(keys[0], 1);
    assert_int_equal(step(s, 2, starts), 1);
    assert_start(&starts[0], 1, 0, 2); // the queue's head again
    sim_sched_destroy(s);
}

static void test_oversize_job_does_not_block(void **state)
{
    (void) state;
    sim_sched *s = make(16, 2, 0);
    pool_set(s, 0, 10, NEVER, 0, ALL);
    submit(s, 1, 1, 100, 20, 0); // more than any pool
    submit(s, 2, 2, 100, 5, 0);
    submit(s, 3, 3, 100, 8, 0);
    sim_sched_start starts[STARTS_MAX];
    assert_int_equal(step(s, 0, starts), 1);
    assert_start(&starts[0], 2, 0, 0);
    uint64_t keys[4] = {0};
    assert_int_equal(sim_sched_stuck(s, keys, 4), 1);
    assert_int_equal(keys[0], 1);
    sim_sched_reservation reservation;
    assert_true(sim_sched_reservation_get(s, &reservation));
    assert_int_equal(reservation.key, 3); // the head is the job behind it
    assert_int_equal(reservation.time_ns, 100);

    // A lease large enough appears: it starts there.
    pool_set(s, 1, 30, NEVER, 7, ALL);
    assert_int_equal(step(s, 1, starts), 2);
    assert_start(&starts[0], 1, 1, 8);
    assert_start(&starts[1], 3, 1, 8);
    assert_int_equal(sim_sched_stuck(s, NULL, 0), 0);

    // Only stuck jobs left: no reservation, the caller may cancel them.
    submit(s, 4, 4, 100, 31, 0);
    assert_int_equal(step(s, 2, starts), 0);
    assert_false(sim_sched_reservation_get(s, NULL));
    assert_int_equal(sim_sched_stuck(s, keys, 4), 1);
    assert_int_equal(sim_sched_cancel(s, 4), MESH_OK);
    assert_int_equal(sim_sched_cancel(s, 4), MESH_ENOTFOUND);
    assert_int_equal(sim_sched_queued_jobs(s), 0);
    sim_sched_destroy(s);
}

/* A lease that ends too early to hold a job for its request is no pool for
 * it: a class that only that lease admits is stuck, not reserved. */
static void test_until_makes_a_job_stuck(void **state)
{
    (void) state;
    sim_sched *s = make(16, 2, 4);
    pool_set(s, 0, 4, NEVER, 0, 0x1);
    pool_set(s, 1, 4, 100, 0, 0x2);
    submit(s, 1, 1, 200, 1, 0x2);
    submit(s, 2, 2, 50, 1, 0x2);
    sim_sched_start starts[STARTS_MAX];
    assert_int_equal(step(s, 0, starts), 1);
    assert_start(&starts[0], 2, 1, 0);
    uint64_t key = 0;
    assert_int_equal(sim_sched_stuck(s, &key, 1), 1);
    assert_int_equal(key, 1);
    sim_sched_destroy(s);
}

static void test_starts_max_continuation(void **state)
{
    (void) state;
    // Two identical schedulers: one steps whole, one a start at a time.
    sim_sched *whole = easy_setup(6);
    sim_sched *cut = easy_setup(6);
    for (uint64_t key = 3; key < 16; key++) {
        // Alternate backfillable (short, 1 proc) and blocked (long, 3 procs) jobs.
        bool is_short = key % 2 == 1;
        uint32_t procs = is_short ? 1 : 3;
        uint64_t request = is_short ? 10 : 1000;
        submit(whole, key, key, request, procs, 0);
        submit(cut, key, key, request, procs, 0);
    }
    sim_sched_start expected[STARTS_MAX];
    uint32_t expected_count = step(whole, 1, expected);
    assert_int_equal(expected_count, 3); // within depth 6: keys 3, 5, 7 (4 free)
    sim_sched_start got[STARTS_MAX];
    uint32_t got_count = 0;
    for (uint32_t call = 0; call < 10; call++) {
        uint32_t count = sim_sched_step(cut, 1, &got[got_count], 1);
        got_count += count;
        if (!sim_sched_step_more(cut)) {
            break;
        }
        assert_int_equal(count, 1);
    }
    assert_false(sim_sched_step_more(cut));
    assert_int_equal(got_count, expected_count);
    assert_starts_equal(got, expected, expected_count);
    sim_sched_stats stats;
    sim_sched_stats_get(cut, &stats);
    assert_int_equal(stats.steps_truncated, 2);

    // starts_max 0 only asks whether anything would start.
    for (uint64_t key = 1; key <= 7; key += 2) {
        assert_int_equal(sim_sched_finish(whole, key, 100), MESH_OK);
    }
    assert_int_equal(sim_sched_step(whole, 100, NULL, 0), 0);
    assert_true(sim_sched_step_more(whole));
    // B, then the short jobs 9 and 11 within the depth behind the new head 4.
    assert_int_equal(sim_sched_step(whole, 100, expected, STARTS_MAX), 3);
    assert_false(sim_sched_step_more(whole));
    assert_start(&expected[0], 2, 0, 100);
    assert_start(&expected[1], 9, 0, 100);
    assert_start(&expected[2], 11, 0, 100);
    sim_sched_destroy(whole);
    sim_sched_destroy(cut);
}

static void test_errors(void **state)
{
    (void) state;
    sim_sched *s = NULL;
    assert_int_equal(sim_sched_create(0, 1, 0, &s), MESH_EINVAL);
    assert_int_equal(sim_sched_create(1, 0, 0, &s), MESH_EINVAL);
    assert_int_equal(sim_sched_create(SIM_SCHED_JOBS_MAX + 1, 1, 0, &s), MESH_EINVAL);
    assert_int_equal(sim_sched_create(1, SIM_SCHED_POOLS_MAX + 1, 0, &s), MESH_EINVAL);
    assert_int_equal(sim_sched_create(1, 1, 0, NULL), MESH_EINVAL);
    sim_sched_destroy(NULL);

    s = make(2, 2, 0);
    sim_sched_pool pool = {.capacity = 1, .until_ns = NEVER, .class_mask = ALL};
    assert_int_equal(sim_sched_pool_set(s, 2, &pool), MESH_EINVAL);
    assert_int_equal(sim_sched_pool_set(s, 0, NULL), MESH_EINVAL);
    assert_int_equal(sim_sched_pool_set(s, 0, &pool), MESH_OK);
    sim_sched_job job = {.key = 1, .procs = 0};
    assert_int_equal(sim_sched_submit(s, &job), MESH_EINVAL);
    assert_int_equal(sim_sched_submit(s, NULL), MESH_EINVAL);
    job.procs = 1;
    assert_int_equal(sim_sched_submit(s, &job), MESH_OK);
    assert_int_equal(sim_sched_submit(s, &job), MESH_EEXIST);
    assert_int_equal(sim_sched_finish(s, 1, 0), MESH_EINVAL); // queued, not running
    job.key = 2;
    assert_int_equal(sim_sched_submit(s, &job), MESH_OK);
    job.key = 3;
    assert_int_equal(sim_sched_submit(s, &job), MESH_EFULL);
    sim_sched_start starts[2];
    assert_int_equal(sim_sched_step(s, 0, starts, 2), 1);
    assert_int_equal(sim_sched_cancel(s, 1), MESH_EINVAL); // running
    assert_int_equal(sim_sched_finish(s, 7, 0), MESH_ENOTFOUND);
    uint32_t count = 0;
    assert_int_equal(sim_sched_pool_remove(s, 1, NULL, 0, &count), MESH_ENOTFOUND);
    assert_int_equal(sim_sched_pool_remove(s, 5, NULL, 0, &count), MESH_EINVAL);
    assert_int_equal(sim_sched_preempt(s, 0, 0, NULL, 0, NULL), MESH_EINVAL);
    assert_int_equal(sim_sched_pool_busy_procs(s, 9), 0);
    sim_sched_stats stats;
    sim_sched_stats_get(s, &stats);
    assert_int_equal(stats.refused, 12);
    // The slot freed by a finish is reused; the index forgets the old key.
    assert_int_equal(sim_sched_finish(s, 1, 5), MESH_OK);
    assert_int_equal(sim_sched_job_state(s, 1, NULL), SIM_SCHED_ABSENT);
    assert_int_equal(sim_sched_submit(s, &job), MESH_OK);
    assert_int_equal(sim_sched_job_state(s, 3, NULL), SIM_SCHED_QUEUED);
    sim_sched_destroy(s);
}

/* The key index under churn: a table nearly full of keys that collide,
 * submitted and cancelled in random order, against a plain list. */
static void test_index_churn(void **state)
{
    (void) state;
    enum { CHURN_JOBS = 64, CHURN_KEYS = 200 };
    sim_sched *s = make(CHURN_JOBS, 1, 0);
    mesh_rng rng;
    mesh_rng_seed(&rng, 7);
    bool present[CHURN_KEYS] = {false};
    uint32_t count = 0;
    for (uint32_t round = 0; round < 20000; round++) {
        uint32_t i = (uint32_t) mesh_rng_below(&rng, CHURN_KEYS);
        uint64_t key = (uint64_t) i << 40; // differ in high bits only
        if (present[i]) {
            assert_int_equal(sim_sched_cancel(s, key), MESH_OK);
            present[i] = false;
            count--;
        } else {
            sim_sched_job job = {.key = key, .submit_ns = round, .procs = 1};
            mesh_err err = sim_sched_submit(s, &job);
            if (count == CHURN_JOBS) {
                assert_int_equal(err, MESH_EFULL);
                continue;
            }
            assert_int_equal(err, MESH_OK);
            assert_int_equal(sim_sched_submit(s, &job), MESH_EEXIST);
            present[i] = true;
            count++;
        }
        if (round % 64 == 0) {
            for (uint32_t k = 0; k < CHURN_KEYS; k++) {
                sim_sched_state expected = present[k] ? SIM_SCHED_QUEUED : SIM_SCHED_ABSENT;
                assert_int_equal(sim_sched_job_state(s, (uint64_t) k << 40, NULL), expected);
            }
        }
    }
    assert_int_equal(sim_sched_queued_jobs(s), count);
    sim_sched_destroy(s);
}

/* The randomized runs. */

#define RUN_JOBS  300u
#define RUN_POOLS 3u

typedef struct run_job {
    sim_sched_job job;
    uint64_t runtime_ns;
    uint64_t end_ns; /* while running */
    uint32_t pool;
    bool running;
    bool done;
    uint64_t reserved_ns; /* the first reservation it got as head; NEVER: none */
} run_job;

typedef struct run {
    mesh_rng rng;
    sim_sched_pool pools[RUN_POOLS];
    run_job jobs[RUN_JOBS];
    /* The reference FCFS model: its queue (job indices in order) and busy procs. */
    uint32_t ref_queue[RUN_JOBS];
    uint32_t ref_queued;
    uint64_t ref_busy[RUN_POOLS];
} run;

static uint64_t below(run *r, uint64_t bound)
{
    return mesh_rng_below(&r->rng, bound);
}

static void run_init(run *r, uint64_t seed, bool exact)
{
    memset(r, 0, sizeof(*r));
    mesh_rng_seed(&r->rng, seed);
    r->pools[0] = (sim_sched_pool){
        .capacity = 4 + below(r, 13), .until_ns = NEVER, .start_delay_ns = 0, .class_mask = ALL};
    for (uint32_t p = 1; p < RUN_POOLS; p++) {
        r->pools[p] = (sim_sched_pool){.capacity = 1 + below(r, 16),
                                       .until_ns = NEVER,
                                       .start_delay_ns = below(r, 21),
                                       .class_mask = 1u + (uint32_t) below(r, 3)};
    }
    uint64_t submit_ns = 0;
    for (uint32_t i = 0; i < RUN_JOBS; i++) {
        run_job *job = &r->jobs[i];
        submit_ns += below(r, 31);
        uint64_t class_draw = below(r, 10);
        job->job = (sim_sched_job){
            .key = 1000 + i,
            .submit_ns = submit_ns,
            .request_ns = 1 + below(r, 200),
            .procs = 1 + (uint32_t) below(r, 18), // some larger than every pool
            .class_bit = class_draw < 6 ? 0 : (class_draw < 8 ? 0x1u : 0x2u),
        };
        job->runtime_ns = exact ? job->job.request_ns : 1 + below(r, job->job.request_ns);
        job->reserved_ns = NEVER;
    }
}

static bool admits(const sim_sched_pool *pool, const sim_sched_job *job)
{
    return job->class_bit == 0 || (pool->class_mask & job->class_bit) != 0;
}

/* The reference: FCFS without backfilling, written as plainly as can be. */
static uint32_t ref_step(run *r, uint64_t now_ns, sim_sched_start *starts)
{
    uint32_t count = 0;
    uint32_t at = 0;
    while (at < r->ref_queued) {
        const sim_sched_job *job = &r->jobs[r->ref_queue[at]].job;
        uint32_t chosen = RUN_POOLS;
        bool ever = false;
        for (uint32_t p = 0; p < RUN_POOLS; p++) {
            if (!admits(&r->pools[p], job) || r->pools[p].capacity < job->procs) {
                continue;
            }
            ever = true;
            if (r->pools[p].capacity - r->ref_busy[p] >= job->procs) {
                chosen = p;
                break;
            }
        }
        if (chosen < RUN_POOLS) {
            r->ref_busy[chosen] += job->procs;
            starts[count] = (sim_sched_start){.key = job->key,
                                              .pool = chosen,
                                              .start_ns = now_ns + r->pools[chosen].start_delay_ns};
            count++;
            memmove(&r->ref_queue[at], &r->ref_queue[at + 1],
                    (r->ref_queued - at - 1) * sizeof(r->ref_queue[0]));
            r->ref_queued--;
        } else if (ever) {
            break; // the head waits, and so does everything behind it
        } else {
            at++; // no pool could ever hold it: passed over
        }
    }
    return count;
}

/* One step of the scheduler, cut into pieces of random size. */
static uint32_t sched_step_cut(run *r, sim_sched *s, uint64_t now_ns, sim_sched_start *starts)
{
    uint32_t count = 0;
    for (uint32_t call = 0; call <= RUN_JOBS; call++) {
        uint32_t piece = 1 + (uint32_t) below(r, 4);
        if (piece > RUN_JOBS - count) {
            piece = RUN_JOBS - count;
        }
        count += sim_sched_step(s, now_ns, &starts[count], piece);
        if (!sim_sched_step_more(s)) {
            return count;
        }
    }
    fail_msg("a step did not finish");
    return count;
}

static void check_counts(const run *r, const sim_sched *s)
{
    uint32_t queued = 0;
    uint32_t running = 0;
    uint64_t queued_procs = 0;
    uint64_t busy[RUN_POOLS] = {0};
    for (uint32_t i = 0; i < RUN_JOBS; i++) {
        const run_job *job = &r->jobs[i];
        sim_sched_state state = sim_sched_job_state(s, job->job.key, NULL);
        if (job->running) {
            assert_int_equal(state, SIM_SCHED_RUNNING);
            running++;
            busy[job->pool] += job->job.procs;
        } else if (state == SIM_SCHED_QUEUED) {
            queued++;
            queued_procs += job->job.procs;
        }
    }
    assert_int_equal(sim_sched_queued_jobs(s), queued);
    assert_int_equal(sim_sched_queued_procs(s), queued_procs);
    assert_int_equal(sim_sched_running_jobs(s), running);
    for (uint32_t p = 0; p < RUN_POOLS; p++) {
        assert_int_equal(sim_sched_pool_busy_procs(s, p), busy[p]);
        assert_true(busy[p] <= r->pools[p].capacity);
    }
}

/* Drives s (and, for FCFS, the reference) through every job; with
 * whole != NULL, a second scheduler steps whole while s steps cut. */
static void run_jobs(run *r, sim_sched *s, sim_sched *whole, bool reference)
{
    for (uint32_t p = 0; p < RUN_POOLS; p++) {
        assert_int_equal(sim_sched_pool_set(s, p, &r->pools[p]), MESH_OK);
        if (whole != NULL) {
            assert_int_equal(sim_sched_pool_set(whole, p, &r->pools[p]), MESH_OK);
        }
    }
    static sim_sched_start starts[RUN_JOBS];
    static sim_sched_start expected[RUN_JOBS];
    uint32_t next_submit = 0;
    uint64_t steps = 0;
    for (uint32_t round = 0; round < 4 * RUN_JOBS; round++) {
        uint64_t now_ns = NEVER;
        if (next_submit < RUN_JOBS) {
            now_ns = r->jobs[next_submit].job.submit_ns;
        }
        for (uint32_t i = 0; i < RUN_JOBS; i++) {
            if (r->jobs[i].running && r->jobs[i].end_ns < now_ns) {
                now_ns = r->jobs[i].end_ns;
            }
        }
        if (now_ns == NEVER) {
            break; // nothing runs and nothing comes: only stuck jobs are left
        }
        for (uint32_t i = 0; i < RUN_JOBS; i++) {
            run_job *job = &r->jobs[i];
            if (job->running && job->end_ns == now_ns) {
                job->running = false;
                job->done = true;
                assert_int_equal(sim_sched_finish(s, job->job.key, now_ns), MESH_OK);
                if (whole != NULL) {
                    assert_int_equal(sim_sched_finish(whole, job->job.key, now_ns), MESH_OK);
                }
                if (reference) {
                    r->ref_busy[job->pool] -= job->job.procs;
                }
            }
        }
        while (next_submit < RUN_JOBS && r->jobs[next_submit].job.submit_ns == now_ns) {
            assert_int_equal(sim_sched_submit(s, &r->jobs[next_submit].job), MESH_OK);
            if (whole != NULL) {
                assert_int_equal(sim_sched_submit(whole, &r->jobs[next_submit].job), MESH_OK);
            }
            r->ref_queue[r->ref_queued] = next_submit;
            r->ref_queued++;
            next_submit++;
        }
        uint32_t count = sched_step_cut(r, s, now_ns, starts);
        steps++;
        if (reference) {
            uint32_t expected_count = ref_step(r, now_ns, expected);
            assert_int_equal(count, expected_count);
            assert_starts_equal(starts, expected, count);
        }
        if (whole != NULL) {
            uint32_t expected_count = sim_sched_step(whole, now_ns, expected, RUN_JOBS);
            assert_false(sim_sched_step_more(whole));
            assert_int_equal(count, expected_count);
            assert_starts_equal(starts, expected, count);
        }
        for (uint32_t k = 0; k < count; k++) {
            uint32_t i = (uint32_t) (starts[k].key - 1000);
            run_job *job = &r->jobs[i];
            assert_false(job->running || job->done);
            // The EASY guarantee: never later than the first reservation.
            assert_true(now_ns <= job->reserved_ns);
            job->running = true;
            job->pool = starts[k].pool;
            job->end_ns = starts[k].start_ns + job->runtime_ns;
        }
        sim_sched_reservation reservation;
        if (sim_sched_reservation_get(s, &reservation)) {
            run_job *head = &r->jobs[reservation.key - 1000];
            assert_true(reservation.time_ns >= now_ns);
            if (head->reserved_ns == NEVER) {
                head->reserved_ns = reservation.time_ns;
            }
        }
        check_counts(r, s);
    }
    assert_int_equal(next_submit, RUN_JOBS);
    assert_true(steps > RUN_JOBS / 2);
    // Every job that some pool could hold has run.
    uint32_t done = 0;
    for (uint32_t i = 0; i < RUN_JOBS; i++) {
        done += r->jobs[i].done ? 1u : 0u;
    }
    uint64_t stuck[RUN_JOBS];
    uint32_t stuck_count = sim_sched_stuck(s, stuck, RUN_JOBS);
    assert_int_equal(done + stuck_count, RUN_JOBS);
    assert_int_equal(sim_sched_queued_jobs(s), stuck_count);
}

static void test_random_fcfs_matches_reference(void **state)
{
    (void) state;
    static run r;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        run_init(&r, seed, false);
        sim_sched *s = make(RUN_JOBS, RUN_POOLS, 0);
        run_jobs(&r, s, NULL, true);
        sim_sched_destroy(s);
    }
}

static void test_random_easy_keeps_reservations(void **state)
{
    (void) state;
    static run r;
    uint64_t backfilled = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        run_init(&r, 1000 + seed, true);
        uint32_t depth = 1 + (uint32_t) (seed % 16);
        sim_sched *s = make(RUN_JOBS, RUN_POOLS, depth);
        sim_sched *whole = make(RUN_JOBS, RUN_POOLS, depth);
        run_jobs(&r, s, whole, false);
        sim_sched_stats stats;
        sim_sched_stats_get(s, &stats);
        backfilled += stats.backfilled;
        sim_sched_destroy(s);
        sim_sched_destroy(whole);
    }
    // The runs exercise backfilling, else the guarantee was checked on nothing.
    assert_true(backfilled > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fcfs_order),
        cmocka_unit_test(test_easy_backfills_without_delaying_the_head),
        cmocka_unit_test(test_easy_refuses_a_job_that_would_delay_the_head),
        cmocka_unit_test(test_extra_processors),
        cmocka_unit_test(test_reservation_ties),
        cmocka_unit_test(test_pools_with_delay_and_until),
        cmocka_unit_test(test_class_masks),
        cmocka_unit_test(test_pool_remove_requeues_at_the_original_place),
        cmocka_unit_test(test_preempt_takes_the_most_recent),
        cmocka_unit_test(test_oversize_job_does_not_block),
        cmocka_unit_test(test_until_makes_a_job_stuck),
        cmocka_unit_test(test_starts_max_continuation),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_index_churn),
        cmocka_unit_test(test_random_fcfs_matches_reference),
        cmocka_unit_test(test_random_easy_keeps_reservations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
