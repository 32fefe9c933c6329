/*
 * tests/unit/node_http_metrics_test.c: the Prometheus text behind GET
 * /metrics (node/metrics.c), rendered from made-up inputs: every family
 * has HELP and TYPE before its samples, histogram buckets are cumulative
 * and end in +Inf == count, optional parts (API, load, ledger) appear only
 * with their input, and the bucket bounds sort observations right.
 * (integration.metrics_promtool runs Prometheus's own linter on a live
 * agent's page.)
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/metrics_int.h"

static gossip_stats gossip_part;
static node_transport_stats transport_part;
static node_metrics_histogram ticks;
static node_metrics_histogram messages;

static node_metrics_input base_input(void)
{
    memset(&gossip_part, 0, sizeof(gossip_part));
    memset(&transport_part, 0, sizeof(transport_part));
    gossip_part.adverts_in = 7;
    gossip_part.rejected[GOSSIP_REJECT_BAD_SIGNATURE] = 3;
    node_metrics_input input = {
        .name = "fr-par-1",
        .id = "fmabc",
        .version = "0.1.0",
        .uptime_s = 12.5,
        .advert_sequence = 42,
        .gossip = &gossip_part,
        .transport = &transport_part,
        .tick_rounds = &ticks,
        .message_rounds = &messages,
    };
    input.members_by_state[GOSSIP_ALIVE] = 4;
    input.members_by_state[GOSSIP_DOWN] = 1;
    return input;
}

static char *render(const node_metrics_input *input)
{
    char *text = NULL;
    size_t size = 0;
    assert_int_equal(node_metrics_render(input, &text, &size), MESH_OK);
    assert_non_null(text);
    assert_int_equal(strlen(text), size);
    return text;
}

static void expect_line(const char *text, const char *line)
{
    const char *at = text;
    size_t size = strlen(line);
    while ((at = strstr(at, line)) != NULL) {
        if ((at == text || at[-1] == '\n') && at[size] == '\n') {
            return;
        }
        at += size;
    }
    print_error("no line '%s' in:\n%s\n", line, text);
    fail();
}

/* Every sample's family was announced with HELP and TYPE before it. */
static void expect_well_formed(const char *text)
{
    char announced[8192] = "";
    const char *line = text;
    while (*line != '\0') {
        const char *end = strchr(line, '\n');
        assert_non_null(end);
        char buf[512];
        size_t size = (size_t) (end - line);
        assert_true(size < sizeof(buf));
        memcpy(buf, line, size);
        buf[size] = '\0';
        if (strncmp(buf, "# TYPE ", 7) == 0) {
            char *name = buf + 7;
            *strchr(name, ' ') = '\0';
            size_t used = strlen(announced);
            int more = snprintf(announced + used, sizeof(announced) - used, " %s ", name);
            assert_true(more > 0 && (size_t) more < sizeof(announced) - used);
        } else if (buf[0] != '#') {
            char name[256];
            size_t n = strcspn(buf, "{ ");
            assert_true(n < sizeof(name));
            memcpy(name, buf, n);
            name[n] = '\0';
            // Histogram samples belong to the family without their suffix.
            static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
            char family[260];
            (void) snprintf(family, sizeof(family), " %s ", name);
            for (size_t i = 0; i < 3 && strstr(announced, family) == NULL; i++) {
                size_t s = strlen(suffixes[i]);
                if (n > s && strcmp(name + n - s, suffixes[i]) == 0) {
                    (void) snprintf(family, sizeof(family), " %.*s ", (int) (n - s), name);
                }
            }
            if (strstr(announced, family) == NULL) {
                print_error("sample before its TYPE: %s\n", buf);
                fail();
            }
        }
        line = end + 1;
    }
}

static void test_minimal(void **state)
{
    (void) state;
    memset(&ticks, 0, sizeof(ticks));
    memset(&messages, 0, sizeof(messages));
    node_metrics_input input = base_input();
    char *text = render(&input);
    expect_well_formed(text);
    expect_line(text, "fedmesh_members{state=\"alive\"} 4");
    expect_line(text, "fedmesh_members{state=\"down\"} 1");
    expect_line(text, "fedmesh_members{state=\"revoked\"} 0");
    expect_line(text, "fedmesh_gossip_adverts_received_total 7");
    expect_line(text, "fedmesh_gossip_rejected_total{reason=\"bad_signature\"} 3");
    expect_line(text, "fedmesh_build_info{version=\"0.1.0\",name=\"fr-par-1\",id=\"fmabc\"} 1");
    expect_line(text, "fedmesh_gossip_round_duration_seconds_count{call=\"tick\"} 0");
    expect_line(text, "fedmesh_load_reports_total 0");
    expect_line(text, "fedmesh_ledger_open 0");
    assert_null(strstr(text, "fedmesh_http_responses_total"));
    assert_null(strstr(text, "fedmesh_load_queued"));
    assert_null(strstr(text, "fedmesh_leases"));
    free(text);
}

/* The counters peers --stats shows beyond gossip's: each with its value. */
static void test_transport_and_agent(void **state)
{
    (void) state;
    node_metrics_input input = base_input();
    transport_part.frames_received = 11;
    transport_part.frames_sent = 12;
    transport_part.udp_received = 13;
    transport_part.udp_sent = 14;
    transport_part.udp_oversize = 15;
    input.outbox_full = 21;
    input.call_errors = 22;
    input.frames_oversize_in = 23;
    input.outputs_ignored = 24;
    input.seeds_unreachable = 25;
    char *text = render(&input);
    expect_well_formed(text);
    expect_line(text, "fedmesh_transport_frames_received_total 11");
    expect_line(text, "fedmesh_transport_frames_sent_total 12");
    expect_line(text, "fedmesh_transport_udp_received_total 13");
    expect_line(text, "fedmesh_transport_udp_sent_total 14");
    expect_line(text, "fedmesh_transport_udp_oversize_total 15");
    expect_line(text, "fedmesh_agent_outbox_full_total 21");
    expect_line(text, "fedmesh_agent_call_errors_total 22");
    expect_line(text, "fedmesh_agent_frames_oversize_in_total 23");
    expect_line(text, "fedmesh_agent_outputs_ignored_total 24");
    expect_line(text, "fedmesh_seeds_unreachable_total 25");
    free(text);
}

static void test_histogram(void **state)
{
    (void) state;
    memset(&ticks, 0, sizeof(ticks));
    memset(&messages, 0, sizeof(messages));
    node_metrics_observe(&ticks, 5000);          // 5 us: first bucket
    node_metrics_observe(&ticks, 10000);         // exactly 10 us: still the first (le)
    node_metrics_observe(&ticks, 2000000);       // 2 ms: the 2.5 ms bucket
    node_metrics_observe(&ticks, 3000000000ull); // 3 s: over every bound
    assert_int_equal(ticks.count, 4);
    assert_int_equal(ticks.over, 1);
    node_metrics_input input = base_input();
    char *text = render(&input);
    expect_well_formed(text);
    expect_line(text, "fedmesh_gossip_round_duration_seconds_bucket{call=\"tick\",le=\"1e-05\"} 2");
    expect_line(text, "fedmesh_gossip_round_duration_seconds_bucket{call=\"tick\",le=\"0.001\"} 2");
    expect_line(text,
                "fedmesh_gossip_round_duration_seconds_bucket{call=\"tick\",le=\"0.0025\"} 3");
    expect_line(text, "fedmesh_gossip_round_duration_seconds_bucket{call=\"tick\",le=\"1\"} 3");
    expect_line(text, "fedmesh_gossip_round_duration_seconds_bucket{call=\"tick\",le=\"+Inf\"} 4");
    expect_line(text, "fedmesh_gossip_round_duration_seconds_count{call=\"tick\"} 4");
    expect_line(text, "fedmesh_gossip_round_duration_seconds_sum{call=\"tick\"} 3.002015000");
    free(text);
}

static void test_http_and_load(void **state)
{
    (void) state;
    memset(&ticks, 0, sizeof(ticks));
    node_http_stats http_part;
    memset(&http_part, 0, sizeof(http_part));
    http_part.responses[2] = 5;                      // 401
    http_part.responses[NODE_HTTP_STATUS_COUNT] = 1; // other
    node_load_report load;
    memset(&load, 0, sizeof(load));
    load.item_count = 2;
    load.items[0].resource_class = WIRE_RESOURCE_VCPU;
    load.items[0].queued = 12;
    load.items[0].running = 800;
    load.items[1].resource_class = WIRE_RESOURCE_GPU;
    memcpy(load.items[1].model, "H100-80GB", 10);
    load.items[1].running = 16;
    node_metrics_input input = base_input();
    input.http = &http_part;
    input.load = &load;
    input.load_reports = 3;
    input.load_realtime_ns = 1700000000000000000;
    char *text = render(&input);
    expect_well_formed(text);
    expect_line(text, "fedmesh_http_responses_total{code=\"401\"} 5");
    expect_line(text, "fedmesh_http_responses_total{code=\"other\"} 1");
    expect_line(text, "fedmesh_load_reports_total 3");
    expect_line(text, "fedmesh_load_queued{class=\"vcpu\",model=\"\"} 12");
    expect_line(text, "fedmesh_load_running{class=\"gpu\",model=\"H100-80GB\"} 16");
    expect_line(text, "fedmesh_load_report_timestamp_seconds 1700000000");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal),
        cmocka_unit_test(test_transport_and_agent),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_http_and_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
