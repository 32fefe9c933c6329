/*
 * tests/unit/gossip_protocol_test.c: the gossip machine among a few peers:
 * joining through a seed, a fresh advert reaching everyone, a crashed
 * member declared down by all and nobody else, a false suspicion refuted,
 * a graceful leave, a revocation, a partition that heals, and the same
 * seed giving the same run; suspicion timeouts that grow with log10 of the
 * view, an accuser answered straight back by the member it accused, and a
 * node that was paused blaming nobody for its own lateness.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gossip/gossip_int.h"
#include "tests/unit/gossip_cluster.h"

#define MS (MESH_NS_PER_MS)
#define S  (MESH_NS_PER_S)

static gossip_config fast_config(void)
{
    gossip_config config;
    gossip_config_default(&config);
    config.members_max = 64;
    config.probe_interval_ns = 200 * MS;
    config.probe_timeout_ns = 50 * MS;
    config.suspicion_min_ns = 400 * MS;
    config.suspicion_max_ns = 1200 * MS;
    config.rejoin_interval_ns = 2 * S;
    return config;
}

static cluster *new_cluster(uint32_t count, uint64_t seed)
{
    cluster *c = malloc(sizeof(*c));
    assert_non_null(c);
    gossip_config config = fast_config();
    cluster_init(c, count, seed, &config);
    return c;
}

static void free_cluster(cluster *c)
{
    cluster_fini(c);
    free(c);
}

static void test_join_converges(void **state)
{
    (void) state;
    cluster *c = new_cluster(8, 1);
    uint64_t t = cluster_run_until_converged(c, 100 * MS, 10 * S);
    assert_true(t != UINT64_MAX);
    for (uint32_t n = 0; n < c->count; n++) {
        assert_int_equal(gossip_member_count(c->nodes[n]), 8);
        assert_int_equal(c->down_events[n], 0);
    }
    // Queries agree with what the certificates say.
    gossip_member_info info;
    assert_int_equal(gossip_member_find(c->nodes[3], &c->ids[5], &info), MESH_OK);
    assert_string_equal(info.name, "node-5");
    assert_string_equal(info.country, "FR");
    wire_advert advert;
    assert_int_equal(gossip_member_advert(c->nodes[3], &c->ids[5], &advert), MESH_OK);
    assert_string_equal(advert.endpoint, "sim://5");
    free_cluster(c);
}

static void test_fresh_advert_reaches_all(void **state)
{
    (void) state;
    cluster *c = new_cluster(10, 2);
    assert_true(cluster_run_until_converged(c, 100 * MS, 10 * S) != UINT64_MAX);
    wire_advert advert;
    cluster_make_advert(4, &advert);
    advert.resources[0].free = 100;
    assert_int_equal(member_update_advert(c->members[4], cluster_now(c), &advert, &c->rngs[4]),
                     MESH_OK);
    cluster_flush(c, 4);
    gossip_member_info mine;
    assert_int_equal(gossip_member_find(c->nodes[4], &c->ids[4], &mine), MESH_OK);
    // Within two probe intervals every member holds the new sequence.
    cluster_run(c, c->now_ns + 400 * MS);
    for (uint32_t n = 0; n < c->count; n++) {
        gossip_member_info info;
        assert_int_equal(gossip_member_find(c->nodes[n], &c->ids[4], &info), MESH_OK);
        assert_int_equal(info.sequence, mine.sequence);
        wire_advert seen;
        assert_int_equal(gossip_member_advert(c->nodes[n], &c->ids[4], &seen), MESH_OK);
        assert_int_equal(seen.resources[0].free, 100);
    }
    free_cluster(c);
}

static void test_crash_is_detected_without_false_downs(void **state)
{
    (void) state;
    cluster *c = new_cluster(10, 3);
    assert_true(cluster_run_until_converged(c, 100 * MS, 10 * S) != UINT64_MAX);
    c->crashed[7] = true;
    uint64_t crashed_at = c->now_ns;
    uint64_t detected_at = 0;
    while (c->now_ns < crashed_at + 10 * S && detected_at == 0) {
        cluster_run(c, c->now_ns + 50 * MS);
        bool all = true;
        for (uint32_t n = 0; n < c->count; n++) {
            all = all && (c->crashed[n] || cluster_state(c, n, 7) == GOSSIP_DOWN);
        }
        detected_at = all ? c->now_ns : 0;
    }
    assert_true(detected_at != 0);
    // Bounded by a few probe intervals plus the longest suspicion.
    assert_true(detected_at - crashed_at <= 3 * S);
    for (uint32_t n = 0; n < c->count; n++) {
        if (n != 7) {
            assert_int_equal(c->down_events[n], 0);
        }
    }
    free_cluster(c);
}

static void test_missed_suspicion_is_repaired(void **state)
{
    (void) state;
    // Node 9 hears none of the pushes that spread the news of node 20's
    // death. Anti-entropy must still tell it, well before its own
    // round-robin probing (30 members, 200 ms each) would reach node 20.
    cluster *c = new_cluster(30, 12);
    assert_true(cluster_run_until_converged(c, 100 * MS, 20 * S) != UINT64_MAX);
    c->crashed[20] = true;
    c->deaf_to_push[9] = true;
    uint64_t others_at = 0;
    while (c->now_ns < 60 * S && others_at == 0) {
        cluster_run(c, c->now_ns + 50 * MS);
        bool all = true;
        for (uint32_t n = 0; n < c->count; n++) {
            all = all && (n == 9 || n == 20 || cluster_state(c, n, 20) == GOSSIP_DOWN);
        }
        others_at = all ? c->now_ns : 0;
    }
    assert_true(others_at != 0);
    assert_int_not_equal(cluster_state(c, 9, 20), GOSSIP_DOWN);
    c->deaf_to_push[9] = false;
    uint64_t learned_at = 0;
    while (c->now_ns < others_at + 5 * S && learned_at == 0) {
        cluster_run(c, c->now_ns + 50 * MS);
        learned_at = cluster_state(c, 9, 20) == GOSSIP_DOWN ? c->now_ns : 0;
    }
    assert_true(learned_at != 0);
    assert_true(learned_at - others_at <= 3 * S);
    for (uint32_t n = 0; n < c->count; n++) {
        if (n != 20) {
            assert_int_equal(c->down_events[n], 0);
        }
    }
    free_cluster(c);
}

static void test_no_false_down_under_loss(void **state)
{
    (void) state;
    cluster *c = new_cluster(12, 4);
    assert_true(cluster_run_until_converged(c, 100 * MS, 10 * S) != UINT64_MAX);
    c->loss = 0.05;
    cluster_run(c, c->now_ns + 30 * S);
    for (uint32_t n = 0; n < c->count; n++) {
        assert_int_equal(c->down_events[n], 0);
    }
    // The loss was real: messages were dropped, and none of it turned
    // into a down.
    assert_true(c->dropped > 100);
    c->loss = 0;
    assert_true(cluster_run_until_converged(c, 100 * MS, c->now_ns + 10 * S) != UINT64_MAX);
    free_cluster(c);
}

static void test_false_suspicion_is_refuted(void **state)
{
    (void) state;
    cluster *c = new_cluster(6, 5);
    assert_true(cluster_run_until_converged(c, 100 * MS, 10 * S) != UINT64_MAX);
    // Node 1 falsely accuses node 2, and the accusation reaches node 3.
    gossip_member_info info;
    assert_int_equal(gossip_member_find(c->nodes[3], &c->ids[2], &info), MESH_OK);
    wire_suspect suspect = {
        .target = c->ids[2], .target_sequence = info.sequence, .at_ns = cluster_now(c).realtime_ns};
    uint8_t body[256];
    uint32_t body_size = 0;
    assert_int_equal(wire_suspect_encode(&suspect, body, sizeof(body), &body_size), MESH_OK);
    uint8_t record[512];
    uint32_t record_size = 0;
    assert_int_equal(mcrypto_envelope_seal(&c->keys[1], WIRE_TYPE_SUSPECT, body, body_size, record,
                                           sizeof(record), &record_size),
                     MESH_OK);
    const uint8_t *records[1] = {record};
    uint8_t frame[2048];
    uint32_t frame_size = cluster_push_frame(c, 1, records, &record_size, 1, frame, sizeof(frame));
    cluster_deliver(c, 3, frame, frame_size);
    assert_int_equal(cluster_state(c, 3, 2), GOSSIP_SUSPECT);
    // The suspicion spreads, reaches node 2, and node 2 refutes it.
    cluster_run(c, c->now_ns + 3 * S);
    for (uint32_t n = 0; n < c->count; n++) {
        assert_int_equal(cluster_state(c, n, 2), GOSSIP_ALIVE);
        assert_int_equal(c->down_events[n], 0);
    }
    gossip_stats stats;
    gossip_stats_get(c->nodes[2], &stats);
    assert_true(stats.refutations >= 1);
    free_cluster(c);
}

static void test_leave_is_seen_by_all(void **state)
{
    (void) state;
    cluster *c = new_cluster(6, 6);
    assert_true(cluster_run_until_converged(c, 100 * MS, 10 * S) != UINT64_MAX);
    assert_int_equal(member_leave(c->members[5], cluster_now(c), &c->rngs[5]), MESH_OK);
    cluster_flush(c, 5);
    cluster_run(c, c->now_ns + 2 * S);
    for (uint32_t n = 0; n < 5; n++) {
        assert_int_equal(cluster_state(c, n, 5), GOSSIP_LEFT);
    }
    free_cluster(c);
}

static void test_revocation_spreads_and_drops_member(void **state)
{
    (void) state;
    cluster *c = new_cluster(6, 7);
    assert_true(cluster_run_until_converged(c, 100 * MS, 10 * S) != UINT64_MAX);
    wire_revocation revocation;
    memset(&revocation, 0, sizeof(revocation));
    memcpy(revocation.public_key, c->keys[4].public_key, MCRYPTO_PUBLIC_KEY_SIZE);
    revocation.revoked_at_ns = cluster_now(c).realtime_ns;
    uint8_t frame[1024];
    uint32_t frame_size = 0;
    assert_int_equal(
        mcrypto_revocation_issue(&c->root, &revocation, frame, sizeof(frame), &frame_size),
        MESH_OK);
    assert_int_equal(
        member_add_revocation(c->members[0], cluster_now(c), frame, frame_size, &c->rngs[0]),
        MESH_OK);
    cluster_flush(c, 0);
    cluster_run(c, c->now_ns + 3 * S);
    for (uint32_t n = 0; n < c->count; n++) {
        if (n != 4) {
            assert_int_equal(cluster_state(c, n, 4), GOSSIP_REVOKED);
        }
    }
    // A revocation not signed by the root is refused.
    revocation.public_key[0] ^= 1;
    assert_int_equal(
        mcrypto_revocation_issue(&c->keys[1], &revocation, frame, sizeof(frame), &frame_size),
        MESH_OK);
    assert_int_equal(
        member_add_revocation(c->members[0], cluster_now(c), frame, frame_size, &c->rngs[0]),
        MESH_EAUTH);
    free_cluster(c);
}

static void test_partition_heals(void **state)
{
    (void) state;
    cluster *c = new_cluster(10, 8);
    assert_true(cluster_run_until_converged(c, 100 * MS, 10 * S) != UINT64_MAX);
    for (uint32_t n = 0; n < c->count; n++) {
        c->group[n] = n % 2;
    }
    c->partitioned = true;
    cluster_run(c, c->now_ns + 20 * S);
    // Each side declared the other down.
    assert_int_equal(cluster_state(c, 0, 1), GOSSIP_DOWN);
    assert_int_equal(cluster_state(c, 1, 0), GOSSIP_DOWN);
    c->partitioned = false;
    uint64_t healed_at = c->now_ns;
    uint64_t t = cluster_run_until_converged(c, 100 * MS, c->now_ns + 10 * S);
    assert_true(t != UINT64_MAX);
    // Within ten probe intervals of the partition's end.
    assert_true(t - healed_at <= 10 * 200 * MS);
    free_cluster(c);
}

static void run_digest(uint64_t seed, uint8_t hash_out[WIRE_VIEW_HASH_SIZE], uint64_t *delivered)
{
    cluster *c = new_cluster(8, seed);
    c->loss = 0.02;
    cluster_run(c, 5 * S);
    gossip_view_hash(c->nodes[0], hash_out);
    *delivered = c->delivered;
    free_cluster(c);
}

static void test_same_seed_same_run(void **state)
{
    (void) state;
    uint8_t a[WIRE_VIEW_HASH_SIZE];
    uint8_t b[WIRE_VIEW_HASH_SIZE];
    uint64_t delivered_a = 0;
    uint64_t delivered_b = 0;
    run_digest(9, a, &delivered_a);
    run_digest(9, b, &delivered_b);
    assert_memory_equal(a, b, sizeof(a));
    assert_int_equal(delivered_a, delivered_b);
}

static void test_suspicion_scales_with_view(void **state)
{
    (void) state;
    // max(1, log10 N): the configured timeouts up to 10 members.
    assert_true(gossip_suspicion_scale(0) == 1.0);
    assert_true(gossip_suspicion_scale(10) == 1.0);
    assert_true(gossip_suspicion_scale(100) > 1.999 && gossip_suspicion_scale(100) < 2.001);
    assert_true(gossip_suspicion_scale(10000) > 3.999 && gossip_suspicion_scale(10000) < 4.001);
    assert_true(gossip_suspicion_scale(50) > gossip_suspicion_scale(20));
}

/* A suspicion of `target` at `sequence`, signed by `accuser`, in a push
 * from the accuser: the notice an accuser sends its suspect. */
static uint32_t notice_frame(
    cluster *c, uint32_t accuser, uint32_t target, uint64_t sequence, uint8_t *frame, uint32_t size)
{
    wire_suspect suspect = {
        .target = c->ids[target], .target_sequence = sequence, .at_ns = cluster_now(c).realtime_ns};
    uint8_t body[256];
    uint32_t body_size = 0;
    assert_int_equal(wire_suspect_encode(&suspect, body, sizeof(body), &body_size), MESH_OK);
    uint8_t record[512];
    uint32_t record_size = 0;
    assert_int_equal(mcrypto_envelope_seal(&c->keys[accuser], WIRE_TYPE_SUSPECT, body, body_size,
                                           record, sizeof(record), &record_size),
                     MESH_OK);
    const uint8_t *records[1] = {record};
    return cluster_push_frame(c, accuser, records, &record_size, 1, frame, size);
}

static void test_accuser_is_answered_directly(void **state)
{
    (void) state;
    cluster *c = new_cluster(12, 11);
    assert_true(cluster_run_until_converged(c, 100 * MS, 10 * S) != UINT64_MAX);
    gossip_member_info before;
    assert_int_equal(gossip_member_find(c->nodes[2], &c->ids[2], &before), MESH_OK);
    uint8_t frame[2048];
    uint32_t frame_size = notice_frame(c, 1, 2, before.sequence, frame, sizeof(frame));
    cluster_deliver(c, 2, frame, frame_size);
    gossip_member_info now;
    assert_int_equal(gossip_member_find(c->nodes[2], &c->ids[2], &now), MESH_OK);
    assert_true(now.sequence > before.sequence);
    // The accuser holds the refutation after one hop (1 ms), not after the
    // pushes' second hop or an anti-entropy round: the random fanout
    // leaves the push's sender out.
    cluster_run(c, c->now_ns + 1500 * MESH_NS_PER_US);
    gossip_member_info seen;
    assert_int_equal(gossip_member_find(c->nodes[1], &c->ids[2], &seen), MESH_OK);
    assert_int_equal(seen.sequence, now.sequence);
    gossip_stats stats;
    gossip_stats_get(c->nodes[2], &stats);
    assert_int_equal(stats.refutations, 1);
    assert_int_equal(stats.refutation_answers, 1);
    // An accuser still holding the refuted sequence is answered again,
    // without another refutation.
    frame_size = notice_frame(c, 5, 2, before.sequence, frame, sizeof(frame));
    cluster_deliver(c, 2, frame, frame_size);
    gossip_stats_get(c->nodes[2], &stats);
    assert_int_equal(stats.refutations, 1);
    assert_int_equal(stats.refutation_answers, 2);
    free_cluster(c);
}

/* The node paused (SIGSTOP) with a probe in flight: once it runs again,
 * the probe's lapsed timeout is its own lateness, not evidence. */
static void test_paused_node_blames_nobody(void **state)
{
    (void) state;
    cluster *c = new_cluster(6, 12);
    assert_true(cluster_run_until_converged(c, 100 * MS, 10 * S) != UINT64_MAX);
    const uint32_t paused = 2;
    const gossip *g = c->nodes[paused];
    uint64_t limit_ns = c->now_ns + 2 * S;
    while (!(g->probe.active && !g->probe.acked) && c->now_ns < limit_ns) {
        cluster_run(c, c->now_ns + 100 * MESH_NS_PER_US);
    }
    assert_true(g->probe.active && !g->probe.acked);
    gossip_stats before;
    gossip_stats_get(g, &before);
    // Stopped for 3 s, ten times the longest suspicion: whatever is sent
    // to it meanwhile is lost (its socket buffer overflowed).
    c->crashed[paused] = true;
    cluster_run(c, c->now_ns + 3 * S);
    c->crashed[paused] = false;
    uint64_t resumed_ns = c->now_ns;
    while (c->now_ns < resumed_ns + 5 * S) {
        cluster_run(c, c->now_ns + 10 * MS);
        for (uint32_t n = 0; n < c->count; n++) {
            uint32_t held = cluster_state(c, paused, n);
            assert_true(held == GOSSIP_ALIVE);
        }
    }
    gossip_stats after;
    gossip_stats_get(g, &after);
    assert_int_equal(after.suspicions_raised, before.suspicions_raised);
    assert_int_equal(after.late_wakeups, before.late_wakeups + 1);
    // The others declared it down meanwhile, rightly; it refuted and is
    // back in every view.
    assert_true(cluster_converged(c));
    free_cluster(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_converges),
        cmocka_unit_test(test_fresh_advert_reaches_all),
        cmocka_unit_test(test_crash_is_detected_without_false_downs),
        cmocka_unit_test(test_missed_suspicion_is_repaired),
        cmocka_unit_test(test_no_false_down_under_loss),
        cmocka_unit_test(test_false_suspicion_is_refuted),
        cmocka_unit_test(test_leave_is_seen_by_all),
        cmocka_unit_test(test_revocation_spreads_and_drops_member),
        cmocka_unit_test(test_partition_heals),
        cmocka_unit_test(test_same_seed_same_run),
        cmocka_unit_test(test_suspicion_scales_with_view),
        cmocka_unit_test(test_accuser_is_answered_directly),
        cmocka_unit_test(test_paused_node_blames_nobody),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
