/*
 * tests/unit/gossip_info_test.c (gossip.info): what a member query tells
 * about each member beyond its advert: the public key and the hash of the
 * certificate frame (what leases check a lender against), and the
 * smoothed round trip that this node's own pings measured (what a lease's
 * latency bound is checked against). The round trips run over the
 * cluster harness with a distinct latency on every directed link, so a
 * value read for one member cannot have come from another's link.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sodium.h>

#include "gossip/gossip_int.h"
#include "tests/unit/gossip_cluster.h"

#define MS (MESH_NS_PER_MS)
#define S  (MESH_NS_PER_S)
#define US (MESH_NS_PER_US)

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

static cluster *new_cluster(uint32_t count, uint64_t seed, const gossip_config *config)
{
    cluster *c = malloc(sizeof(*c));
    assert_non_null(c);
    cluster_init(c, count, seed, config);
    return c;
}

static void free_cluster(cluster *c)
{
    cluster_fini(c);
    free(c);
}

/* One-way latency of the directed link a -> b: 1 to 12 ms, different in
 * each direction and from link to link. */
static uint64_t link_latency_ns(uint32_t a, uint32_t b)
{
    return (1 + (3 * a + 7 * b) % 12) * MS;
}

static uint32_t expected_rtt_us(uint32_t a, uint32_t b)
{
    return (uint32_t) ((link_latency_ns(a, b) + link_latency_ns(b, a)) / US);
}

static gossip_member_info find(const cluster *c, uint32_t observer, uint32_t subject)
{
    gossip_member_info info;
    assert_int_equal(gossip_member_find(c->nodes[observer], &c->ids[subject], &info), MESH_OK);
    return info;
}

static uint32_t rtt_us(const cluster *c, uint32_t observer, uint32_t subject)
{
    return find(c, observer, subject).rtt_us;
}

/* Runs in 1 ms steps until no frame is in flight (a latency change then
 * applies to whole round trips only). */
static void run_until_quiet(cluster *c)
{
    for (uint32_t step = 0; c->msg_count != 0; step++) {
        assert_true(step < 10000);
        cluster_run(c, c->now_ns + MS);
    }
}

/* Every member's key and certificate hash, seen by every member, and the
 * round trip of every pair, from each side's own probes. */
static void test_keys_hashes_and_round_trips(void **state)
{
    (void) state;
    gossip_config config = fast_config();
    cluster *c = new_cluster(6, 11, &config);
    for (uint32_t a = 0; a < c->count; a++) {
        for (uint32_t b = 0; b < c->count; b++) {
            c->link_latency_ns[a][b] = link_latency_ns(a, b);
        }
    }
    assert_true(cluster_run_until_converged(c, 100 * MS, 10 * S) != UINT64_MAX);
    // Five members to probe round-robin, one every 200 ms: each is probed
    // at least twice more, whatever the order.
    cluster_run(c, c->now_ns + 3 * S);
    assert_true(cluster_converged(c));

    uint8_t hashes[CLUSTER_NODES_MAX][GOSSIP_CERT_HASH_SIZE];
    for (uint32_t s = 0; s < c->count; s++) {
        assert_int_equal(crypto_generichash(hashes[s], GOSSIP_CERT_HASH_SIZE, c->certs[s],
                                            c->cert_sizes[s], NULL, 0),
                         0);
    }
    bool rtts_differ = false;
    for (uint32_t o = 0; o < c->count; o++) {
        assert_int_equal(gossip_member_count(c->nodes[o]), c->count);
        // Through gossip_member_at, in id order, as the lease machine reads.
        for (uint32_t index = 0; index < c->count; index++) {
            gossip_member_info info;
            assert_int_equal(gossip_member_at(c->nodes[o], index, &info), MESH_OK);
            uint32_t s = 0;
            while (s < c->count && !mesh_node_id_equal(&c->ids[s], &info.id)) {
                s++;
            }
            assert_true(s < c->count);
            assert_memory_equal(info.public_key, c->keys[s].public_key, MCRYPTO_PUBLIC_KEY_SIZE);
            assert_memory_equal(info.cert_hash, hashes[s], GOSSIP_CERT_HASH_SIZE);
            if (s == o) {
                assert_true(info.self);
                assert_int_equal(info.rtt_us, 0);
                continue;
            }
            // Delivery is instant once the latency has passed, so every
            // sample is the round trip itself; allow 2 % all the same.
            uint32_t expected = expected_rtt_us(o, s);
            assert_in_range(info.rtt_us, expected - expected / 50, expected + expected / 50);
            rtts_differ = rtts_differ || info.rtt_us != rtt_us(c, 0, 1);
        }
    }
    assert_true(rtts_differ);
    // Keys differ between members, and so do hashes: no field is shared.
    gossip_member_info one = find(c, 2, 3);
    gossip_member_info other = find(c, 2, 4);
    assert_memory_not_equal(one.public_key, other.public_key, MCRYPTO_PUBLIC_KEY_SIZE);
    assert_memory_not_equal(one.cert_hash, other.cert_hash, GOSSIP_CERT_HASH_SIZE);
    free_cluster(c);
}

/* A member this node has not probed reads 0, even once it is known and
 * alive (others' probes of it do not count); its first probe measures it. */
static void test_unprobed_member_reads_zero(void **state)
{
    (void) state;
    gossip_config config = fast_config();
    config.probe_interval_ns = 5 * S;
    config.rejoin_interval_ns = 10 * S;
    cluster *c = new_cluster(4, 3, &config);
    gossip_stats stats;
    // Node 0 is the seed: it learns every member from its introduction,
    // well before its first probe (drawn within the first 5 s).
    bool all_known = false;
    for (uint32_t step = 0; step < 100 && !all_known; step++) {
        cluster_run(c, c->now_ns + MS);
        all_known = true;
        for (uint32_t s = 1; s < c->count; s++) {
            gossip_member_info info;
            all_known = all_known &&
                        gossip_member_find(c->nodes[0], &c->ids[s], &info) == MESH_OK &&
                        info.sequence > 0 && info.state == GOSSIP_ALIVE;
        }
    }
    assert_true(all_known);
    gossip_stats_get(c->nodes[0], &stats);
    assert_int_equal(stats.probes_sent, 0);
    for (uint32_t s = 0; s < c->count; s++) {
        assert_int_equal(rtt_us(c, 0, s), 0);
    }

    // Run to node 0's first probe, and past its ack: exactly one member
    // is measured, at the harness's 1 ms each way.
    for (uint32_t step = 0; stats.probes_sent == 0; step++) {
        assert_true(step < 6000);
        cluster_run(c, c->now_ns + MS);
        gossip_stats_get(c->nodes[0], &stats);
    }
    cluster_run(c, c->now_ns + 10 * MS);
    gossip_stats_get(c->nodes[0], &stats);
    assert_int_equal(stats.probes_sent, 1);
    uint32_t measured = 0;
    for (uint32_t s = 1; s < c->count; s++) {
        uint32_t rtt = rtt_us(c, 0, s);
        assert_true(rtt == 0 || rtt == 2000);
        measured += rtt != 0;
    }
    assert_int_equal(measured, 1);
    assert_int_equal(rtt_us(c, 0, 0), 0);
    free_cluster(c);
}

/* A member forgotten (down for down_forget_ns) and met again starts
 * unmeasured: its slot's old estimate is gone with it. */
static void test_forgotten_member_comes_back_unmeasured(void **state)
{
    (void) state;
    gossip_config config = fast_config();
    config.down_forget_ns = 2 * S;
    cluster *c = new_cluster(4, 13, &config);
    c->link_latency_ns[0][3] = 4 * MS;
    c->link_latency_ns[3][0] = 4 * MS;
    assert_true(cluster_run_until_converged(c, 100 * MS, 10 * S) != UINT64_MAX);
    cluster_run(c, c->now_ns + 1 * S);
    assert_int_equal(rtt_us(c, 0, 3), 8000);
    c->crashed[3] = true;
    gossip_member_info info;
    for (uint32_t step = 0; gossip_member_find(c->nodes[0], &c->ids[3], &info) != MESH_ENOTFOUND;
         step++) {
        assert_true(step < 200);
        cluster_run(c, c->now_ns + 100 * MS);
    }
    // Back at 1 ms each way; node 0 meets it again before it probes it.
    c->crashed[3] = false;
    c->link_latency_ns[0][3] = 0;
    c->link_latency_ns[3][0] = 0;
    for (uint32_t step = 0; gossip_member_find(c->nodes[0], &c->ids[3], &info) != MESH_OK; step++) {
        assert_true(step < 30000);
        cluster_run(c, c->now_ns + MS);
    }
    assert_int_equal(info.rtt_us, 0);
    assert_memory_equal(info.public_key, c->keys[3].public_key, MCRYPTO_PUBLIC_KEY_SIZE);
    assert_true(cluster_run_until_converged(c, 100 * MS, c->now_ns + 20 * S) != UINT64_MAX);
    cluster_run(c, c->now_ns + 1 * S);
    assert_int_equal(rtt_us(c, 0, 3), 2000);
    free_cluster(c);
}

/* An ack relayed by a ping-req helper is no sample of the direct round
 * trip. Once the pair has measured 2 ms, the link 0 <-> 1 slows to
 * 100 ms each way: every probe of one by the other now ends through node
 * 2 (1 ms links) about 54 ms after the ping, before the direct ack comes
 * back (at 200 ms, after the probe ended). Both keep reading 2 ms; a
 * relayed ack taken as a sample would have moved it by an eighth of
 * 52 ms at once. */
static void test_relayed_ack_is_no_sample(void **state)
{
    (void) state;
    gossip_config config = fast_config();
    cluster *c = new_cluster(3, 5, &config);
    assert_true(cluster_run_until_converged(c, 100 * MS, 10 * S) != UINT64_MAX);
    cluster_run(c, c->now_ns + 1 * S);
    assert_int_equal(rtt_us(c, 0, 1), 2000);
    assert_int_equal(rtt_us(c, 1, 0), 2000);
    run_until_quiet(c);
    c->link_latency_ns[0][1] = 100 * MS;
    c->link_latency_ns[1][0] = 100 * MS;
    gossip_stats before[2];
    gossip_stats after[2];
    for (uint32_t n = 0; n < 2; n++) {
        gossip_stats_get(c->nodes[n], &before[n]);
    }
    cluster_run(c, c->now_ns + 3 * S);
    for (uint32_t n = 0; n < 2; n++) {
        gossip_stats_get(c->nodes[n], &after[n]);
        // Probed the other some seven times, never in vain...
        assert_true(after[n].probes_sent - before[n].probes_sent >= 10);
        assert_int_equal(after[n].probes_failed, before[n].probes_failed);
        // ...and the direct acks did come, after their probes had ended.
        assert_true(after[n].rejected[GOSSIP_REJECT_UNEXPECTED] >
                    before[n].rejected[GOSSIP_REJECT_UNEXPECTED]);
        gossip_member_info info = find(c, n, 1 - n);
        assert_int_equal(info.state, GOSSIP_ALIVE);
        assert_int_equal(info.rtt_us, 2000);
    }
    // Nor was a relayed ack taken for the helper's round trip; and the
    // helper's relayed pings are its own direct round trips.
    assert_int_equal(rtt_us(c, 0, 2), 2000);
    assert_int_equal(rtt_us(c, 1, 2), 2000);
    assert_int_equal(rtt_us(c, 2, 0), 2000);
    assert_int_equal(rtt_us(c, 2, 1), 2000);
    free_cluster(c);
}

/* The estimate moves by an eighth of each new sample's distance (RFC
 * 6298), here when the link slows from 1 ms to 5 ms each way. */
static void test_round_trip_is_smoothed(void **state)
{
    (void) state;
    gossip_config config = fast_config();
    cluster *c = new_cluster(2, 9, &config);
    assert_true(cluster_run_until_converged(c, 100 * MS, 10 * S) != UINT64_MAX);
    cluster_run(c, c->now_ns + 1 * S);
    assert_int_equal(rtt_us(c, 0, 1), 2000);
    run_until_quiet(c);
    c->latency_ns = 5 * MS;
    // Each step lets at most one sample in (node 0 probes node 1 every
    // 200 ms); read the estimate after each of the first two.
    uint32_t seen[2] = {0, 0};
    for (uint32_t i = 0; i < 2; i++) {
        uint32_t before = rtt_us(c, 0, 1);
        for (uint32_t step = 0; rtt_us(c, 0, 1) == before; step++) {
            assert_true(step < 1000);
            cluster_run(c, c->now_ns + MS);
        }
        seen[i] = rtt_us(c, 0, 1);
    }
    assert_int_equal(seen[0], 3000); // 7/8 * 2000 + 1/8 * 10000
    assert_int_equal(seen[1], 3875); // 7/8 * 3000 + 1/8 * 10000
    // A hundred samples later it reads the new round trip exactly: the
    // eighths are kept, not truncated away.
    cluster_run(c, c->now_ns + 20 * S);
    assert_int_equal(rtt_us(c, 0, 1), 10000);
    assert_int_equal(rtt_us(c, 1, 0), 10000);
    free_cluster(c);
}

/* The smoothing itself on a controlled sequence of samples (8 * SRTT in
 * microseconds in, out). */
static void test_smoothing_sequence(void **state)
{
    (void) state;
    uint32_t x8 = gossip_rtt_smooth(0, 2000 * US);
    assert_int_equal(x8, 8 * 2000); // the first sample as is
    x8 = gossip_rtt_smooth(x8, 2000 * US + 999);
    assert_int_equal(x8 >> 3, 2000); // sub-microseconds are dropped
    x8 = gossip_rtt_smooth(x8, 10000 * US);
    assert_int_equal(x8 >> 3, 3000);
    x8 = gossip_rtt_smooth(x8, 10000 * US);
    assert_int_equal(x8 >> 3, 3875);
    x8 = gossip_rtt_smooth(x8, 1000 * US);
    assert_int_equal(x8, 7 * 3875 + 1000); // 8 * (7/8 * 3875 + 1/8 * 1000)
    for (uint32_t i = 0; i < 200; i++) {
        x8 = gossip_rtt_smooth(x8, 1000 * US);
    }
    assert_int_equal(x8 >> 3, 1000);
    // A round trip under a microsecond still reads as measured.
    uint32_t fast = gossip_rtt_smooth(0, 200);
    assert_int_equal(fast >> 3, 1);
    for (uint32_t i = 0; i < 200; i++) {
        fast = gossip_rtt_smooth(fast, 0);
        assert_true(fast >> 3 >= 1);
    }
    // Absurd round trips saturate instead of wrapping.
    uint32_t slow = gossip_rtt_smooth(0, UINT64_MAX);
    assert_int_equal(slow >> 3, UINT32_MAX / 8);
    for (uint32_t i = 0; i < 20; i++) {
        slow = gossip_rtt_smooth(slow, UINT64_MAX);
        assert_true(slow >> 3 >= UINT32_MAX / 8 - 1);
    }
    assert_int_equal(gossip_rtt_smooth(slow, 1000 * US) >> 3, (slow - slow / 8 + 1000) >> 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_hashes_and_round_trips),
        cmocka_unit_test(test_unprobed_member_reads_zero),
        cmocka_unit_test(test_forgotten_member_comes_back_unmeasured),
        cmocka_unit_test(test_relayed_ack_is_no_sample),
        cmocka_unit_test(test_round_trip_is_smoothed),
        cmocka_unit_test(test_smoothing_sequence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
