/*
 * tests/unit/gossip_hostile_test.c: what a hostile peer can send a member:
 * forged signatures, adverts from unadmitted or revoked keys, replays,
 * timestamps from the future, oversized digests, bad MACs and garbage, and
 * frames in a member's name that must not spend its rate budget.
 * Each must be refused, counted under its reason, and change nothing: the
 * victim's view hash and member table stay as they were.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/unit/gossip_cluster.h"

#define MS (MESH_NS_PER_MS)
#define S  (MESH_NS_PER_S)

typedef struct fixture {
    cluster c;
    uint8_t view_before[WIRE_VIEW_HASH_SIZE];
    uint32_t members_before;
    gossip_stats stats_before;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    gossip_config config;
    gossip_config_default(&config);
    config.members_max = 16;
    config.probe_interval_ns = 200 * MS;
    config.probe_timeout_ns = 50 * MS;
    config.suspicion_min_ns = 400 * MS;
    config.suspicion_max_ns = 1200 * MS;
    cluster_init(&f->c, 3, 11, &config);
    if (cluster_run_until_converged(&f->c, 100 * MS, 10 * S) == UINT64_MAX) {
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cluster_fini(&f->c);
    free(f);
    return 0;
}

/* Remembers node 0's state before an attack. */
static void snapshot(fixture *f)
{
    gossip_view_hash(f->c.nodes[0], f->view_before);
    f->members_before = gossip_member_count(f->c.nodes[0]);
    gossip_stats_get(f->c.nodes[0], &f->stats_before);
}

/* Asserts that node 0 counted exactly one more `reason` and changed nothing. */
static void assert_refused(fixture *f, gossip_reject reason)
{
    uint8_t view[WIRE_VIEW_HASH_SIZE];
    gossip_view_hash(f->c.nodes[0], view);
    assert_memory_equal(view, f->view_before, sizeof(view));
    assert_int_equal(gossip_member_count(f->c.nodes[0]), f->members_before);
    gossip_stats stats;
    gossip_stats_get(f->c.nodes[0], &stats);
    for (uint32_t r = 0; r < GOSSIP_REJECT_COUNT; r++) {
        uint64_t want = f->stats_before.rejected[r] + (r == (uint32_t) reason ? 1 : 0);
        if (stats.rejected[r] != want) {
            print_error("reason %s: %llu, wanted %llu\n", gossip_reject_name((gossip_reject) r),
                        (unsigned long long) stats.rejected[r], (unsigned long long) want);
        }
        assert_int_equal(stats.rejected[r], want);
    }
}

/* Signs an advert of `signer_key` naming `node_id`, wrapped in a PUSH
 * from node 1, and delivers it to node 0. */
static void deliver_advert(fixture *f,
                           const mcrypto_keypair *signer_key,
                           const mesh_node_id *node_id,
                           uint64_t sequence,
                           int64_t timestamp_ns,
                           bool corrupt_signature,
                           const uint8_t *cert,
                           uint32_t cert_size)
{
    wire_advert advert;
    cluster_make_advert(1, &advert);
    advert.node_id = *node_id;
    advert.sequence = sequence;
    advert.timestamp_ns = timestamp_ns;
    uint8_t body[4096];
    uint32_t body_size = 0;
    assert_int_equal(wire_advert_encode(&advert, body, sizeof(body), &body_size), MESH_OK);
    uint8_t record[4096];
    uint32_t record_size = 0;
    assert_int_equal(mcrypto_envelope_seal(signer_key, WIRE_TYPE_ADVERT, body, body_size, record,
                                           sizeof(record), &record_size),
                     MESH_OK);
    if (corrupt_signature) {
        record[record_size - 5] ^= 0x40;
    }
    const uint8_t *records[2] = {cert, record};
    uint32_t sizes[2] = {cert_size, record_size};
    uint32_t skip = cert == NULL ? 1 : 0;
    uint8_t frame[8192];
    uint32_t frame_size =
        cluster_push_frame(&f->c, 1, records + skip, sizes + skip, 2 - skip, frame, sizeof(frame));
    cluster_deliver(&f->c, 0, frame, frame_size);
}

static uint64_t held_sequence(fixture *f, uint32_t subject)
{
    gossip_member_info info;
    assert_int_equal(gossip_member_find(f->c.nodes[0], &f->c.ids[subject], &info), MESH_OK);
    return info.sequence;
}

static void test_forged_signature(void **state)
{
    fixture *f = *state;
    snapshot(f);
    deliver_advert(f, &f->c.keys[1], &f->c.ids[1], held_sequence(f, 1) + 1,
                   cluster_now(&f->c).realtime_ns, true, NULL, 0);
    assert_refused(f, GOSSIP_REJECT_BAD_SIGNATURE);
}

static void test_advert_from_unadmitted_key(void **state)
{
    fixture *f = *state;
    uint8_t seed[MCRYPTO_SEED_SIZE];
    memset(seed, 0x5a, sizeof(seed));
    mcrypto_keypair stranger;
    assert_int_equal(mcrypto_keypair_from_seed(seed, &stranger), MESH_OK);
    mesh_node_id id;
    mcrypto_node_id(stranger.public_key, &id);
    snapshot(f);
    deliver_advert(f, &stranger, &id, 1, cluster_now(&f->c).realtime_ns, false, NULL, 0);
    assert_refused(f, GOSSIP_REJECT_UNKNOWN_KEY);
}

static void test_cert_from_another_root(void **state)
{
    fixture *f = *state;
    uint8_t seed[MCRYPTO_SEED_SIZE];
    memset(seed, 0x6b, sizeof(seed));
    mcrypto_keypair other_root;
    mcrypto_keypair stranger;
    assert_int_equal(mcrypto_keypair_from_seed(seed, &other_root), MESH_OK);
    seed[0] = 1;
    assert_int_equal(mcrypto_keypair_from_seed(seed, &stranger), MESH_OK);
    wire_cert cert;
    memset(&cert, 0, sizeof(cert));
    memcpy(cert.public_key, stranger.public_key, MCRYPTO_PUBLIC_KEY_SIZE);
    memcpy(cert.name, "intruder-1", sizeof("intruder-1"));
    memcpy(cert.country, "FR", 3);
    cert.valid_from_ns = 1;
    cert.valid_until_ns = CLUSTER_EPOCH_NS * 2;
    cert.serial = 9;
    uint8_t cert_frame[1024];
    uint32_t cert_size = 0;
    assert_int_equal(
        mcrypto_cert_issue(&other_root, &cert, cert_frame, sizeof(cert_frame), &cert_size),
        MESH_OK);
    mesh_node_id id;
    mcrypto_node_id(stranger.public_key, &id);
    snapshot(f);
    // The certificate is refused, so the advert after it has no key to
    // check against: two refusals, one of each.
    deliver_advert(f, &stranger, &id, 1, cluster_now(&f->c).realtime_ns, false, cert_frame,
                   cert_size);
    f->stats_before.rejected[GOSSIP_REJECT_CERT_INVALID]++;
    assert_refused(f, GOSSIP_REJECT_UNKNOWN_KEY);
}

static void test_replayed_older_sequence(void **state)
{
    fixture *f = *state;
    snapshot(f);
    deliver_advert(f, &f->c.keys[1], &f->c.ids[1], held_sequence(f, 1) - 1,
                   cluster_now(&f->c).realtime_ns, false, NULL, 0);
    assert_refused(f, GOSSIP_REJECT_REPLAY);
    // A newer sequence with a timestamp from long ago is a replay too.
    snapshot(f);
    deliver_advert(f, &f->c.keys[1], &f->c.ids[1], held_sequence(f, 1) + 1,
                   cluster_now(&f->c).realtime_ns - 3600 * (int64_t) S, false, NULL, 0);
    assert_refused(f, GOSSIP_REJECT_REPLAY);
}

static void test_timestamp_far_in_future(void **state)
{
    fixture *f = *state;
    snapshot(f);
    deliver_advert(f, &f->c.keys[1], &f->c.ids[1], held_sequence(f, 1) + 1,
                   cluster_now(&f->c).realtime_ns + 3600 * (int64_t) S, false, NULL, 0);
    assert_refused(f, GOSSIP_REJECT_FUTURE);
}

static void test_advert_naming_another_node(void **state)
{
    fixture *f = *state;
    snapshot(f);
    deliver_advert(f, &f->c.keys[1], &f->c.ids[2], held_sequence(f, 2) + 1,
                   cluster_now(&f->c).realtime_ns, false, NULL, 0);
    assert_refused(f, GOSSIP_REJECT_MISMATCH);
}

static void test_revoked_member(void **state)
{
    fixture *f = *state;
    wire_revocation revocation;
    memset(&revocation, 0, sizeof(revocation));
    memcpy(revocation.public_key, f->c.keys[2].public_key, MCRYPTO_PUBLIC_KEY_SIZE);
    revocation.revoked_at_ns = cluster_now(&f->c).realtime_ns;
    uint8_t frame[1024];
    uint32_t frame_size = 0;
    assert_int_equal(
        mcrypto_revocation_issue(&f->c.root, &revocation, frame, sizeof(frame), &frame_size),
        MESH_OK);
    assert_int_equal(member_add_revocation(f->c.members[0], cluster_now(&f->c), frame, frame_size,
                                           &f->c.rngs[0]),
                     MESH_OK);
    cluster_flush(&f->c, 0);
    uint64_t sequence = held_sequence(f, 2);
    snapshot(f);
    deliver_advert(f, &f->c.keys[2], &f->c.ids[2], sequence + 1, cluster_now(&f->c).realtime_ns,
                   false, NULL, 0);
    assert_refused(f, GOSSIP_REJECT_REVOKED);
}

/* A MAC'd control message from node 1 to node 0 with an arbitrary body. */
static void deliver_control(
    fixture *f, wire_type type, const uint8_t *body, uint32_t body_size, bool corrupt_mac)
{
    uint8_t key[MCRYPTO_PAIR_KEY_SIZE];
    assert_int_equal(mcrypto_pair_key(&f->c.keys[1], f->c.keys[0].public_key, key), MESH_OK);
    static uint8_t frame[WIRE_FRAME_SIZE_MAX];
    uint32_t frame_size = 0;
    assert_int_equal(mcrypto_envelope_seal_mac(&f->c.ids[1], key, type, body, body_size, frame,
                                               sizeof(frame), &frame_size),
                     MESH_OK);
    if (corrupt_mac) {
        frame[frame_size - 1] ^= 1;
    }
    cluster_deliver(&f->c, 0, frame, frame_size);
}

static void test_oversized_digest(void **state)
{
    fixture *f = *state;
    // A digest whose entries array claims 1,025 entries, one over the limit:
    // map(5) {0: view hash, 1: page 0, 2: page_count 1, 3: reply 0, 4: array32(1025)}.
    static uint8_t body[64];
    uint32_t n = 0;
    body[n++] = 0x85;
    body[n++] = 0x00;
    body[n++] = 0xc4;
    body[n++] = 16;
    n += 16;
    body[n++] = 0x01;
    body[n++] = 0x00;
    body[n++] = 0x02;
    body[n++] = 0x01;
    body[n++] = 0x03;
    body[n++] = 0x00;
    body[n++] = 0x04;
    body[n++] = 0xdd;
    body[n++] = 0x00;
    body[n++] = 0x00;
    body[n++] = 0x04;
    body[n++] = 0x01;
    snapshot(f);
    deliver_control(f, WIRE_TYPE_DIGEST, body, n, false);
    assert_refused(f, GOSSIP_REJECT_MALFORMED);
}

static void test_bad_mac(void **state)
{
    fixture *f = *state;
    wire_ping ping;
    memset(&ping, 0, sizeof(ping));
    ping.nonce = 42;
    uint8_t body[128];
    uint32_t body_size = 0;
    assert_int_equal(wire_ping_encode(&ping, body, sizeof(body), &body_size), MESH_OK);
    snapshot(f);
    deliver_control(f, WIRE_TYPE_PING, body, body_size, true);
    assert_refused(f, GOSSIP_REJECT_BAD_SIGNATURE);
}

static void test_control_from_stranger(void **state)
{
    fixture *f = *state;
    uint8_t seed[MCRYPTO_SEED_SIZE];
    memset(seed, 0x7c, sizeof(seed));
    mcrypto_keypair stranger;
    assert_int_equal(mcrypto_keypair_from_seed(seed, &stranger), MESH_OK);
    mesh_node_id id;
    mcrypto_node_id(stranger.public_key, &id);
    uint8_t key[MCRYPTO_PAIR_KEY_SIZE];
    assert_int_equal(mcrypto_pair_key(&stranger, f->c.keys[0].public_key, key), MESH_OK);
    wire_ping ping;
    memset(&ping, 0, sizeof(ping));
    uint8_t body[128];
    uint32_t body_size = 0;
    assert_int_equal(wire_ping_encode(&ping, body, sizeof(body), &body_size), MESH_OK);
    uint8_t frame[512];
    uint32_t frame_size = 0;
    assert_int_equal(mcrypto_envelope_seal_mac(&id, key, WIRE_TYPE_PING, body, body_size, frame,
                                               sizeof(frame), &frame_size),
                     MESH_OK);
    snapshot(f);
    cluster_deliver(&f->c, 0, frame, frame_size);
    assert_refused(f, GOSSIP_REJECT_UNKNOWN_KEY);
}

/* Frames in node 1's name that nothing authenticates as node 1's (pushes,
 * whose sender field is unchecked; pings with a wrong MAC) must not spend
 * node 1's rate budget at node 0: 2.4 MB of each, over the 1 MiB/s
 * default, and node 1's genuine ping after them is still taken. */
static void test_forged_frames_spend_no_budget(void **state)
{
    fixture *f = *state;
    static uint8_t junk[15][4000];
    const uint8_t *records[15];
    uint32_t sizes[15];
    for (uint32_t i = 0; i < 15; i++) {
        memset(junk[i], (int) (0x11 * i), sizeof(junk[i]));
        junk[i][0] = 0x94; // not an envelope
        records[i] = junk[i];
        sizes[i] = sizeof(junk[i]);
    }
    static uint8_t frame[WIRE_FRAME_SIZE_MAX];
    uint32_t frame_size = cluster_push_frame(&f->c, 1, records, sizes, 15, frame, sizeof(frame));
    assert_true(frame_size > 60000);
    wire_ping ping;
    memset(&ping, 0, sizeof(ping));
    uint8_t body[128];
    uint32_t body_size = 0;
    assert_int_equal(wire_ping_encode(&ping, body, sizeof(body), &body_size), MESH_OK);
    gossip_stats before;
    gossip_stats_get(f->c.nodes[0], &before);
    for (uint32_t i = 0; i < 40; i++) {
        cluster_deliver(&f->c, 0, frame, frame_size);
    }
    // Forged pings as large as a ping gets are small: many more of them.
    for (uint32_t i = 0; i < 40000; i++) {
        deliver_control(f, WIRE_TYPE_PING, body, body_size, true);
    }
    gossip_stats after;
    gossip_stats_get(f->c.nodes[0], &after);
    assert_int_equal(after.rejected[GOSSIP_REJECT_MALFORMED] -
                         before.rejected[GOSSIP_REJECT_MALFORMED],
                     40 * 15);
    assert_int_equal(after.rejected[GOSSIP_REJECT_BAD_SIGNATURE] -
                         before.rejected[GOSSIP_REJECT_BAD_SIGNATURE],
                     40000);
    snapshot(f);
    deliver_control(f, WIRE_TYPE_PING, body, body_size, false);
    gossip_stats_get(f->c.nodes[0], &after);
    assert_int_equal(after.rejected[GOSSIP_REJECT_RATE],
                     f->stats_before.rejected[GOSSIP_REJECT_RATE]);
    assert_int_equal(after.rejected[GOSSIP_REJECT_BAD_SIGNATURE],
                     f->stats_before.rejected[GOSSIP_REJECT_BAD_SIGNATURE]);
}

static void test_garbage_frames(void **state)
{
    fixture *f = *state;
    mesh_rng rng;
    mesh_rng_seed(&rng, 77);
    static uint8_t junk[WIRE_FRAME_SIZE_MAX + 16];
    for (uint32_t round = 0; round < 200; round++) {
        uint32_t size = (uint32_t) mesh_rng_below(&rng, 300);
        for (uint32_t i = 0; i < size; i++) {
            junk[i] = (uint8_t) mesh_rng_next(&rng);
        }
        snapshot(f);
        cluster_deliver(&f->c, 0, junk, size);
        assert_refused(f, GOSSIP_REJECT_MALFORMED);
    }
    snapshot(f);
    cluster_deliver(&f->c, 0, junk, WIRE_FRAME_SIZE_MAX + 1);
    assert_refused(f, GOSSIP_REJECT_OVERSIZE);
    // The msgpack-c allocation bomb is just malformed here.
    static const uint8_t bomb[] = {0xdd, 0xd6, 0x2d, 0x3f, 0x31, 0x25};
    snapshot(f);
    cluster_deliver(&f->c, 0, bomb, sizeof(bomb));
    assert_refused(f, GOSSIP_REJECT_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_forged_signature, setup, teardown),
        cmocka_unit_test_setup_teardown(test_advert_from_unadmitted_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cert_from_another_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replayed_older_sequence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timestamp_far_in_future, setup, teardown),
        cmocka_unit_test_setup_teardown(test_advert_naming_another_node, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoked_member, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_digest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_mac, setup, teardown),
        cmocka_unit_test_setup_teardown(test_control_from_stranger, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_frames_spend_no_budget, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
