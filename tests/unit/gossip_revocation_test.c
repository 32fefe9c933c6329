/*
 * tests/unit/gossip_revocation_test.c: a revocation, end to end inside the
 * core. Four members converge; the root revokes one through another. Then:
 *   - every member holds the revocation (spread by gossip) and the
 *     revoked member in state revoked;
 *   - the revoked member is told why (the root-signed revocation comes
 *     back when it sends), knows it (gossip_self_revoked, the reason) and
 *     goes quiet: after that, nothing reaches it and it sends nothing;
 *   - a seed whose member is revoked is not dialled any more (the seed of
 *     this harness is node 0, so revoking node 0 tests it);
 *   - a revoked member that never hears (deaf to pushes) is told at most
 *     once per GOSSIP_TELL_REVOKED_INTERVAL_NS by each member: no storm;
 *   - a revocation the root did not sign is refused and counted;
 *   - an endpoint restored from disk is kept and refused like a learned one;
 *   - a node that never saw the revoked member learns its endpoint from the
 *     advert the revoked key pushes (a forged one is ignored);
 *   - a revoked member restarted with its own revocation sends nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/unit/gossip_cluster.h"

#define MS (MESH_NS_PER_MS)
#define S  (MESH_NS_PER_S)

static int setup(void **state)
{
    cluster *c = calloc(1, sizeof(*c));
    gossip_config config;
    gossip_config_default(&config);
    config.members_max = 16;
    config.probe_interval_ns = 200 * MS;
    config.probe_timeout_ns = 50 * MS;
    config.suspicion_min_ns = 400 * MS;
    config.suspicion_max_ns = 1200 * MS;
    config.rejoin_interval_ns = 2 * S;
    cluster_init(c, 4, 23, &config);
    if (cluster_run_until_converged(c, 100 * MS, 10 * S) == UINT64_MAX) {
        return -1;
    }
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    cluster *c = *state;
    cluster_fini(c);
    free(c);
    return 0;
}

static uint32_t revocation_of(const mcrypto_keypair *signer,
                              const mcrypto_keypair *revoked,
                              int64_t at_ns,
                              const char *reason,
                              uint8_t *frame,
                              uint32_t frame_size_max)
{
    wire_revocation revocation;
    memset(&revocation, 0, sizeof(revocation));
    memcpy(revocation.public_key, revoked->public_key, MCRYPTO_PUBLIC_KEY_SIZE);
    revocation.revoked_at_ns = at_ns;
    (void) snprintf(revocation.reason, sizeof(revocation.reason), "%s", reason);
    uint32_t size = 0;
    assert_int_equal(mcrypto_revocation_issue(signer, &revocation, frame, frame_size_max, &size),
                     MESH_OK);
    return size;
}

static void publish(cluster *c, uint32_t through, uint32_t revoked, const char *reason)
{
    uint8_t frame[1024];
    uint32_t size = revocation_of(&c->root, &c->keys[revoked], cluster_now(c).realtime_ns, reason,
                                  frame, sizeof(frame));
    assert_int_equal(
        member_add_revocation(c->members[through], cluster_now(c), frame, size, &c->rngs[through]),
        MESH_OK);
    cluster_flush(c, through);
}

static uint64_t frames_in(const cluster *c, uint32_t node)
{
    gossip_stats stats;
    gossip_stats_get(c->nodes[node], &stats);
    return stats.frames_in;
}

static uint64_t frames_out(const cluster *c, uint32_t node)
{
    gossip_stats stats;
    gossip_stats_get(c->nodes[node], &stats);
    return stats.frames_out;
}

static void assert_held_everywhere(const cluster *c, uint32_t revoked, const char *reason)
{
    for (uint32_t n = 0; n < c->count; n++) {
        assert_int_equal(gossip_revocation_count(c->nodes[n]), 1);
        gossip_revocation_info info;
        assert_int_equal(gossip_revocation_at(c->nodes[n], 0, &info), MESH_OK);
        assert_true(mesh_node_id_equal(&info.id, &c->ids[revoked]));
        assert_string_equal(info.reason, reason);
        assert_true(info.frame_size > 0);
        assert_int_equal(cluster_state(c, n, revoked), GOSSIP_REVOKED);
        assert_int_equal(gossip_self_revoked(c->nodes[n]), n == revoked);
    }
    gossip_revocation_info info;
    assert_int_equal(gossip_revocation_at(c->nodes[0], 1, &info), MESH_ENOTFOUND);
}

static void test_revoked_member_is_told_and_shunned(void **state)
{
    cluster *c = *state;
    publish(c, 0, 3, "key leaked");
    cluster_run(c, c->now_ns + 10 * S);
    assert_held_everywhere(c, 3, "key leaked");
    // Node 0 held node 3's advert when the revocation came: it knows the
    // endpoint the revoked key advertised.
    gossip_revocation_info info;
    assert_int_equal(gossip_revocation_at(c->nodes[0], 0, &info), MESH_OK);
    assert_string_equal(info.endpoint, "sim://3");
    // Node 3 was told: some member answered one of its frames with the
    // revocation.
    uint64_t told = 0;
    for (uint32_t n = 0; n < 3; n++) {
        gossip_stats stats;
        gossip_stats_get(c->nodes[n], &stats);
        told += stats.revoked_told;
    }
    assert_true(told >= 1);
    // From now on node 3 sends nothing and nothing reaches it.
    uint64_t in_before = frames_in(c, 3);
    uint64_t out_before = frames_out(c, 3);
    member_stats before;
    member_stats_get(c->members[3], &before);
    cluster_run(c, c->now_ns + 60 * S);
    assert_int_equal(frames_in(c, 3), in_before);
    assert_int_equal(frames_out(c, 3), out_before);
    member_stats after;
    member_stats_get(c->members[3], &after);
    assert_int_equal(after.sends, before.sends);
    // The other three still hold each other alive.
    for (uint32_t o = 0; o < 3; o++) {
        for (uint32_t s = 0; s < 3; s++) {
            assert_int_equal(cluster_state(c, o, s), GOSSIP_ALIVE);
        }
    }
}

static void test_revoked_seed_is_not_dialled(void **state)
{
    cluster *c = *state;
    // Node 0 is every member's seed.
    publish(c, 1, 0, "decommissioned");
    cluster_run(c, c->now_ns + 10 * S);
    assert_held_everywhere(c, 0, "decommissioned");
    uint64_t in_before = frames_in(c, 0);
    // Seed 0 is no longer alive in anyone's view, so rejoins (every 2 s
    // here) would dial it: each is refused instead.
    uint64_t refused_before = 0;
    for (uint32_t n = 1; n < 4; n++) {
        gossip_stats stats;
        gossip_stats_get(c->nodes[n], &stats);
        refused_before += stats.sends_refused_revoked;
    }
    cluster_run(c, c->now_ns + 20 * S);
    assert_int_equal(frames_in(c, 0), in_before);
    uint64_t refused_after = 0;
    for (uint32_t n = 1; n < 4; n++) {
        gossip_stats stats;
        gossip_stats_get(c->nodes[n], &stats);
        refused_after += stats.sends_refused_revoked;
    }
    assert_true(refused_after >= refused_before + 3 * 5);
}

static void test_deaf_revoked_member_is_told_at_a_bounded_rate(void **state)
{
    cluster *c = *state;
    c->deaf_to_push[3] = true; // it never hears the revocation, and keeps probing
    publish(c, 0, 3, "");
    cluster_run(c, c->now_ns + 5 * S);
    assert_false(gossip_self_revoked(c->nodes[3]));
    uint64_t told_before[3];
    for (uint32_t n = 0; n < 3; n++) {
        gossip_stats stats;
        gossip_stats_get(c->nodes[n], &stats);
        told_before[n] = stats.revoked_told;
    }
    uint64_t window_ns = 60 * S;
    cluster_run(c, c->now_ns + window_ns);
    uint64_t told = 0;
    for (uint32_t n = 0; n < 3; n++) {
        gossip_stats stats;
        gossip_stats_get(c->nodes[n], &stats);
        uint64_t delta = stats.revoked_told - told_before[n];
        assert_true(delta <= window_ns / GOSSIP_TELL_REVOKED_INTERVAL_NS + 1);
        told += delta;
        // It still probes them: they refuse every frame, counted.
        assert_true(stats.rejected[GOSSIP_REJECT_REVOKED] > 0);
    }
    assert_true(told >= 3); // and keeps being told, slowly
    // Once it can hear again, the next answer ends it.
    c->deaf_to_push[3] = false;
    cluster_run(c, c->now_ns + 2 * GOSSIP_TELL_REVOKED_INTERVAL_NS);
    assert_true(gossip_self_revoked(c->nodes[3]));
}

static void test_forged_revocation_is_refused(void **state)
{
    cluster *c = *state;
    uint8_t frame[1024];
    // Signed by a member, not by the root.
    uint32_t size = revocation_of(&c->keys[1], &c->keys[2], cluster_now(c).realtime_ns, "forged",
                                  frame, sizeof(frame));
    assert_int_equal(member_add_revocation(c->members[0], cluster_now(c), frame, size, &c->rngs[0]),
                     MESH_EAUTH);
    assert_int_equal(gossip_revocation_count(c->nodes[0]), 0);
    // The same inside a push from node 1: refused and counted.
    gossip_stats before;
    gossip_stats_get(c->nodes[0], &before);
    const uint8_t *records[1] = {frame};
    uint32_t sizes[1] = {size};
    static uint8_t push[WIRE_FRAME_SIZE_MAX];
    uint32_t push_size = cluster_push_frame(c, 1, records, sizes, 1, push, sizeof(push));
    cluster_deliver(c, 0, push, push_size);
    gossip_stats after;
    gossip_stats_get(c->nodes[0], &after);
    assert_int_equal(after.rejected[GOSSIP_REJECT_BAD_SIGNATURE],
                     before.rejected[GOSSIP_REJECT_BAD_SIGNATURE] + 1);
    assert_int_equal(gossip_revocation_count(c->nodes[0]), 0);
    assert_int_equal(cluster_state(c, 0, 2), GOSSIP_ALIVE);
}

static void test_restored_endpoint(void **state)
{
    cluster *c = *state;
    assert_int_equal(member_revocation_set_endpoint(c->members[0], &c->ids[2], "sim://2"),
                     MESH_ENOTFOUND);
    publish(c, 0, 2, "restored");
    assert_int_equal(member_revocation_set_endpoint(c->members[0], &c->ids[2], ""), MESH_EINVAL);
    gossip_stats before;
    gossip_stats_get(c->nodes[0], &before);
    assert_int_equal(member_revocation_set_endpoint(c->members[0], &c->ids[2], "sim://9"), MESH_OK);
    gossip_stats after;
    gossip_stats_get(c->nodes[0], &after);
    assert_int_equal(after.revocation_updates, before.revocation_updates + 1);
    // The same endpoint again changes nothing.
    assert_int_equal(member_revocation_set_endpoint(c->members[0], &c->ids[2], "sim://9"), MESH_OK);
    gossip_stats again;
    gossip_stats_get(c->nodes[0], &again);
    assert_int_equal(again.revocation_updates, after.revocation_updates);
    gossip_revocation_info info;
    assert_int_equal(gossip_revocation_at(c->nodes[0], 0, &info), MESH_OK);
    assert_string_equal(info.endpoint, "sim://9");
}

/* A standalone machine with node `index`'s identity and the given seeds,
 * knowing nobody yet (as after a restart). */
static gossip *make_machine(cluster *c, uint32_t index, const char *const *seeds, uint32_t count)
{
    gossip_config config;
    gossip_config_default(&config);
    config.members_max = 16;
    config.keypair = c->keys[index];
    memcpy(config.root_public_key, c->root.public_key, MCRYPTO_PUBLIC_KEY_SIZE);
    config.cert_frame = c->certs[index];
    config.cert_frame_size = c->cert_sizes[index];
    cluster_make_advert(index, &config.advert);
    config.seeds = seeds;
    config.seed_count = count;
    gossip *g = NULL;
    assert_int_equal(gossip_create(&config, cluster_now(c), &g), MESH_OK);
    return g;
}

/* A push from `from` holding an advert naming node `subject` at
 * `endpoint`, signed with `signer`'s key. */
static uint32_t advert_push(cluster *c,
                            uint32_t from,
                            uint32_t subject,
                            const mcrypto_keypair *signer,
                            const char *endpoint,
                            uint8_t *frame,
                            uint32_t frame_size_max)
{
    wire_advert advert;
    cluster_make_advert(subject, &advert);
    advert.node_id = c->ids[subject];
    advert.sequence = 1000;
    advert.timestamp_ns = cluster_now(c).realtime_ns;
    (void) snprintf(advert.endpoint, sizeof(advert.endpoint), "%s", endpoint);
    uint8_t body[4096];
    uint32_t body_size = 0;
    assert_int_equal(wire_advert_encode(&advert, body, sizeof(body), &body_size), MESH_OK);
    uint8_t record[4096];
    uint32_t record_size = 0;
    assert_int_equal(mcrypto_envelope_seal(signer, WIRE_TYPE_ADVERT, body, body_size, record,
                                           sizeof(record), &record_size),
                     MESH_OK);
    const uint8_t *records[1] = {record};
    uint32_t sizes[1] = {record_size};
    return cluster_push_frame(c, from, records, sizes, 1, frame, frame_size_max);
}

static uint32_t sends_to(const mesh_outbox *outbox, const char *endpoint)
{
    uint32_t count = 0;
    for (uint32_t i = 0; i < outbox->count; i++) {
        count += outbox->items[i].kind == MESH_OUTPUT_SEND &&
                 strcmp(outbox->items[i].endpoint, endpoint) == 0;
    }
    return count;
}

/* A node that holds a revocation but never saw the revoked member learns
 * its endpoint from the advert the revoked key itself pushes (checked
 * against the key the revocation names; a forged one is ignored), tells
 * it why, and from then on refuses to dial that endpoint as a seed. */
static void test_endpoint_learned_from_the_revoked_push(void **state)
{
    cluster *c = *state;
    const char *seeds[1] = {"sim://7"};
    gossip *g = make_machine(c, 1, seeds, 1);
    static mesh_output items[GOSSIP_OUTBOX_MIN];
    mesh_outbox outbox = {.items = items, .count = 0, .count_max = GOSSIP_OUTBOX_MIN};
    uint8_t revocation[1024];
    uint32_t revocation_size = revocation_of(&c->root, &c->keys[3], cluster_now(c).realtime_ns,
                                             "moved", revocation, sizeof(revocation));
    assert_int_equal(
        gossip_add_revocation(g, cluster_now(c), revocation, revocation_size, &c->rngs[1], &outbox),
        MESH_OK);
    gossip_revocation_info info;
    assert_int_equal(gossip_revocation_at(g, 0, &info), MESH_OK);
    assert_string_equal(info.endpoint, "");
    static uint8_t frame[WIRE_FRAME_SIZE_MAX];
    // Forged: node 2 signs an advert naming node 3 at its own endpoint.
    uint32_t size = advert_push(c, 3, 3, &c->keys[2], "sim://2", frame, sizeof(frame));
    outbox.count = 0;
    assert_int_equal(gossip_on_message(g, cluster_now(c), frame, size, &c->rngs[1], &outbox),
                     MESH_OK);
    assert_int_equal(gossip_revocation_at(g, 0, &info), MESH_OK);
    assert_string_equal(info.endpoint, "");
    assert_int_equal(sends_to(&outbox, "sim://2"), 0);
    // The revoked key's own advert, within the same interval: not even
    // looked at (one attempt per interval, so a flood costs no signature
    // checks).
    size = advert_push(c, 3, 3, &c->keys[3], "sim://7", frame, sizeof(frame));
    outbox.count = 0;
    assert_int_equal(gossip_on_message(g, cluster_now(c), frame, size, &c->rngs[1], &outbox),
                     MESH_OK);
    assert_int_equal(gossip_revocation_at(g, 0, &info), MESH_OK);
    assert_string_equal(info.endpoint, "");
    // One interval later: learned, and told.
    mesh_now later = cluster_now(c);
    later.monotonic_ns += GOSSIP_TELL_REVOKED_INTERVAL_NS;
    outbox.count = 0;
    assert_int_equal(gossip_on_message(g, later, frame, size, &c->rngs[1], &outbox), MESH_OK);
    assert_int_equal(gossip_revocation_at(g, 0, &info), MESH_OK);
    assert_string_equal(info.endpoint, "sim://7");
    assert_int_equal(sends_to(&outbox, "sim://7"), 1);
    gossip_stats stats;
    gossip_stats_get(g, &stats);
    assert_int_equal(stats.revoked_told, 1);
    assert_int_equal(stats.rejected[GOSSIP_REJECT_REVOKED], 3);
    // It cannot move the endpoint afterwards.
    size = advert_push(c, 3, 3, &c->keys[3], "sim://2", frame, sizeof(frame));
    later.monotonic_ns += 2 * GOSSIP_TELL_REVOKED_INTERVAL_NS;
    outbox.count = 0;
    assert_int_equal(gossip_on_message(g, later, frame, size, &c->rngs[1], &outbox), MESH_OK);
    assert_int_equal(gossip_revocation_at(g, 0, &info), MESH_OK);
    assert_string_equal(info.endpoint, "sim://7");
    assert_int_equal(sends_to(&outbox, "sim://2"), 0);
    // Its first tick joins through the seeds: the only seed is refused.
    outbox.count = 0;
    assert_int_equal(gossip_on_tick(g, later, &c->rngs[1], &outbox), MESH_OK);
    assert_int_equal(sends_to(&outbox, "sim://7"), 0);
    gossip_stats_get(g, &stats);
    assert_int_equal(stats.sends_refused_revoked, 1);
    gossip_destroy(g);
}

/* A revoked member restarted with its own revocation (the agent restores
 * it from its data directory before the first tick) sends nothing at all:
 * no advert, no join to its seeds. */
static void test_restarted_revoked_member_stays_quiet(void **state)
{
    cluster *c = *state;
    const char *seeds[2] = {"sim://0", "sim://1"};
    gossip *g = make_machine(c, 3, seeds, 2);
    static mesh_output items[GOSSIP_OUTBOX_MIN];
    mesh_outbox outbox = {.items = items, .count = 0, .count_max = GOSSIP_OUTBOX_MIN};
    uint8_t frame[1024];
    uint32_t size = revocation_of(&c->root, &c->keys[3], cluster_now(c).realtime_ns, "gone", frame,
                                  sizeof(frame));
    assert_int_equal(gossip_add_revocation(g, cluster_now(c), frame, size, &c->rngs[3], &outbox),
                     MESH_OK);
    assert_true(gossip_self_revoked(g));
    for (uint32_t step = 0; step < 20; step++) {
        mesh_now now = cluster_now(c);
        now.monotonic_ns += (uint64_t) step * S;
        outbox.count = 0;
        assert_int_equal(gossip_on_tick(g, now, &c->rngs[3], &outbox), MESH_OK);
        for (uint32_t i = 0; i < outbox.count; i++) {
            assert_int_not_equal(items[i].kind, MESH_OUTPUT_SEND);
        }
    }
    gossip_stats stats;
    gossip_stats_get(g, &stats);
    assert_int_equal(stats.frames_out, 0);
    assert_int_equal(gossip_deadline_ns(g), UINT64_MAX);
    gossip_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_revoked_member_is_told_and_shunned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoked_seed_is_not_dialled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deaf_revoked_member_is_told_at_a_bounded_rate, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_forged_revocation_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restored_endpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restarted_revoked_member_stays_quiet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_endpoint_learned_from_the_revoked_push, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
