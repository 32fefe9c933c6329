/*
 * tests/unit/sim_net_test.c: the simulated network: latencies come from the
 * embedded city table (half the RTT, 0.25 ms inside a city) with jitter
 * inside +-10 %; the loss rate over many draws is within bounds; a
 * partition drops exactly the messages across groups and a heal ends it;
 * the same seed gives the same verdicts; endpoints parse strictly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sim/sim_int.h"

static uint32_t city_named(const char *name)
{
    for (uint32_t i = 0; i < SIM_CITY_COUNT; i++) {
        if (strcmp(sim_cities[i].name, name) == 0) {
            return i;
        }
    }
    fail_msg("no city %s", name);
    return 0;
}

static void test_latency_table(void **state)
{
    (void) state;
    // The table is symmetric, positive off the diagonal, and plausible for
    // Europe (under 100 ms RTT).
    for (uint32_t a = 0; a < SIM_CITY_COUNT; a++) {
        assert_int_equal(strlen(sim_cities[a].country), 2);
        for (uint32_t b = 0; b < SIM_CITY_COUNT; b++) {
            assert_int_equal(sim_city_rtt_us[a][b], sim_city_rtt_us[b][a]);
            if (a != b) {
                assert_true(sim_city_rtt_us[a][b] > 1000u && sim_city_rtt_us[a][b] < 100000u);
            }
        }
    }
    // Known pairs from data/latency-eu-rtt-ms.csv.
    assert_int_equal(sim_city_rtt_us[city_named("Paris")][city_named("Frankfurt")], 10680u);
    assert_int_equal(sim_city_rtt_us[city_named("Madrid")][city_named("Milan")], 59810u);
    // Node i sits in city i % 12; one way is half the RTT.
    uint32_t paris = city_named("Paris");
    uint32_t frankfurt = city_named("Frankfurt");
    assert_int_equal(sim_net_city_of(paris + SIM_CITY_COUNT), paris);
    assert_int_equal(sim_net_latency_ns(paris, frankfurt + 2 * SIM_CITY_COUNT), 5340000u);
    assert_int_equal(sim_net_latency_ns(paris, paris + SIM_CITY_COUNT), SIM_SAME_CITY_LATENCY_NS);
}

static void test_jitter_within_ten_percent(void **state)
{
    (void) state;
    sim_net net;
    assert_int_equal(sim_net_init(&net, 24, 0, 9), MESH_OK);
    uint64_t base = sim_net_latency_ns(0, 1);
    uint64_t low = UINT64_MAX;
    uint64_t high = 0;
    for (uint32_t i = 0; i < 20000; i++) {
        uint64_t delay = 0;
        assert_int_equal(sim_net_route(&net, 0, 1, &delay), SIM_VERDICT_DELIVER);
        assert_true(delay >= base - base / 10 && delay <= base + base / 10);
        low = delay < low ? delay : low;
        high = delay > high ? delay : high;
    }
    // The jitter really spreads over the band.
    assert_true(low < base - base / 20);
    assert_true(high > base + base / 20);
    sim_net_fini(&net);
}

static void test_loss_rate_within_bounds(void **state)
{
    (void) state;
    static const uint32_t loss_ppm[] = {0, 10000, 50000, 300000, SIM_PPM};
    const uint32_t draws = 200000;
    for (uint32_t k = 0; k < MESH_ARRAY_COUNT(loss_ppm); k++) {
        sim_net net;
        assert_int_equal(sim_net_init(&net, 12, loss_ppm[k], 1234 + k), MESH_OK);
        uint32_t lost = 0;
        for (uint32_t i = 0; i < draws; i++) {
            uint64_t delay = 0;
            sim_verdict verdict = sim_net_route(&net, i % 12, (i + 5) % 12, &delay);
            assert_true(verdict == SIM_VERDICT_DELIVER || verdict == SIM_VERDICT_LOSS);
            lost += verdict == SIM_VERDICT_LOSS;
        }
        // Binomial: mean draws * p, sd sqrt(draws p (1 - p)) <= 224; allow 5 sd.
        double expected = (double) draws * loss_ppm[k] / SIM_PPM;
        assert_true((double) lost >= expected - 1120.0 && (double) lost <= expected + 1120.0);
        if (loss_ppm[k] == 0) {
            assert_int_equal(lost, 0);
        }
        if (loss_ppm[k] == SIM_PPM) {
            assert_int_equal(lost, draws);
        }
        sim_net_fini(&net);
    }
    sim_net net;
    assert_int_equal(sim_net_init(&net, 12, SIM_PPM + 1, 1), MESH_EINVAL);
    assert_int_equal(sim_net_init(&net, 0, 0, 1), MESH_EINVAL);
}

static void test_partition_drops_across_groups_only(void **state)
{
    (void) state;
    const uint32_t nodes = 10;
    sim_net net;
    assert_int_equal(sim_net_init(&net, nodes, 0, 5), MESH_OK);
    uint8_t group[10];
    for (uint32_t i = 0; i < nodes; i++) {
        group[i] = (uint8_t) (i % 2);
    }
    sim_net_partition(&net, group);
    for (uint32_t a = 0; a < nodes; a++) {
        for (uint32_t b = 0; b < nodes; b++) {
            uint64_t delay = 0;
            sim_verdict verdict = sim_net_route(&net, a, b, &delay);
            assert_int_equal(verdict,
                             group[a] == group[b] ? SIM_VERDICT_DELIVER : SIM_VERDICT_PARTITION);
        }
    }
    sim_net_heal(&net);
    for (uint32_t a = 0; a < nodes; a++) {
        uint64_t delay = 0;
        assert_int_equal(sim_net_route(&net, a, (a + 1) % nodes, &delay), SIM_VERDICT_DELIVER);
    }
    sim_net_fini(&net);
}

static void test_same_seed_same_verdicts(void **state)
{
    (void) state;
    sim_net a;
    sim_net b;
    assert_int_equal(sim_net_init(&a, 30, 100000, 77), MESH_OK);
    assert_int_equal(sim_net_init(&b, 30, 100000, 77), MESH_OK);
    for (uint32_t i = 0; i < 5000; i++) {
        uint64_t delay_a = 0;
        uint64_t delay_b = 0;
        assert_int_equal(sim_net_route(&a, i % 30, (i * 7) % 30, &delay_a),
                         sim_net_route(&b, i % 30, (i * 7) % 30, &delay_b));
        assert_int_equal(delay_a, delay_b);
    }
    sim_net_fini(&a);
    sim_net_fini(&b);
}

static void test_endpoint_parse(void **state)
{
    (void) state;
    uint32_t index = 99;
    assert_true(sim_endpoint_parse("sim://0", 5, &index));
    assert_int_equal(index, 0);
    assert_true(sim_endpoint_parse("sim://4", 5, &index));
    assert_int_equal(index, 4);
    assert_true(sim_endpoint_parse("sim://99999", 100000, &index));
    assert_int_equal(index, 99999);
    static const char *const bad[] = {
        "sim://5",  "sim://",  "sim://01", "sim://-1",
        "sim://1x", "tcp://1", "sim:/1",   "sim://99999999999999999999999",
        "",         "SIM://1",
    };
    for (uint32_t i = 0; i < MESH_ARRAY_COUNT(bad); i++) {
        index = 77;
        assert_false(sim_endpoint_parse(bad[i], 5, &index));
        assert_int_equal(index, 77);
    }
    assert_false(sim_endpoint_parse(NULL, 5, &index));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_latency_table),
        cmocka_unit_test(test_jitter_within_ten_percent),
        cmocka_unit_test(test_loss_rate_within_bounds),
        cmocka_unit_test(test_partition_drops_across_groups_only),
        cmocka_unit_test(test_same_seed_same_verdicts),
        cmocka_unit_test(test_endpoint_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
