/*
 * tests/unit/node_record_test.c: the recording format (node/record_int.h)
 * and its rotation.
 *
 * A recording made through the recorder's own entry points reads back
 * field for field, with the digest sim/replay.h defines and no byte of
 * the secret key; a cut-off file, a flipped byte, another format version
 * and bytes that are not a recording each give their own clear error;
 * a small bound rotates FILE into FILE.1, FILE.2, ... keeping at most
 * `keep`, the segments follow each other, and `fedmesh sim replay`
 * refuses segments without the first one, saying so.
 */
#define _GNU_SOURCE

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "node/node.h"
#include "node/record_int.h"

static char dir[512];
static node_record_item *item;

static int setup(void **state)
{
    (void) state;
    const char *base = getenv("MESH_TEST_TMPDIR");
    (void) snprintf(dir, sizeof(dir), "%s/node_record.XXXXXX", base != NULL ? base : "/tmp");
    (void) mkdir(base != NULL ? base : "/tmp", 0700);
    if (mkdtemp(dir) == NULL || sodium_init() < 0) {
        return -1;
    }
    item = calloc(1, sizeof(*item));
    return item != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void) state;
    free(item);
    char command[600];
    (void) snprintf(command, sizeof(command), "rm -rf '%s'", dir);
    return system(command) == 0 ? 0 : -1;
}

static uint8_t *slurp(const char *path, uint64_t *size_out)
{
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    assert_int_equal(fseek(file, 0, SEEK_END), 0);
    long size = ftell(file);
    assert_true(size >= 0);
    rewind(file);
    uint8_t *bytes = malloc((size_t) size + 1);
    assert_non_null(bytes);
    assert_int_equal(fread(bytes, 1, (size_t) size, file), (size_t) size);
    (void) fclose(file);
    *size_out = (uint64_t) size;
    return bytes;
}

static const uint8_t cert[] = {0x93, 0x01, 0x02, 0x03, 0xc4, 0x02, 0xaa, 0xbb};
static uint8_t secret_pattern[64];

/* A recording of: create, a frame (one send and one event out), a tick. */
static void make_recording(const char *path, mesh_now now, const uint8_t *frame, uint32_t size)
{
    char error[256];
    assert_int_equal(
        node_record_start(path, NODE_RECORD_BYTES_MIN, 2, "fr-par-1", error, sizeof(error)),
        MESH_OK);
    assert_true(node_record_active());
    member_config config;
    member_config_default(&config);
    for (uint32_t i = 0; i < sizeof(secret_pattern); i++) {
        secret_pattern[i] = (uint8_t) (0xa5 ^ (i * 7u));
    }
    memcpy(config.gossip.keypair.secret_key, secret_pattern, sizeof(secret_pattern));
    memset(config.gossip.keypair.public_key, 0x11, sizeof(config.gossip.keypair.public_key));
    memset(config.gossip.root_public_key, 0x22, sizeof(config.gossip.root_public_key));
    config.gossip.cert_frame = cert;
    config.gossip.cert_frame_size = sizeof(cert);
    const char *seeds[] = {"tcp://127.0.0.1:7400", "tcp://127.0.0.1:7401"};
    config.gossip.seeds = seeds;
    config.gossip.seed_count = 2;
    (void) snprintf(config.gossip.advert.endpoint, sizeof(config.gossip.advert.endpoint),
                    "tcp://127.0.0.1:7402");
    config.lease.class_count = 1;
    config.lease.classes[0].resource_class = WIRE_RESOURCE_VCPU;
    config.lease.classes[0].total = 128;
    config.lease.classes[0].lendable = 64;
    config.burst.enabled = true;
    config.burst.constraints.country_count = 1;
    memcpy(config.burst.constraints.countries[0], "FR", 3);
    mesh_rng rng;
    mesh_rng_seed(&rng, 42);
    node_record_create(now, &config, &rng);
    node_record_frame(now, frame, size);
    mesh_node_id peer;
    memset(peer.bytes, 0x33, sizeof(peer.bytes));
    node_record_send(&peer, "tcp://127.0.0.1:7401", frame, size);
    gossip_event event;
    memset(&event, 0, sizeof(event));
    event.kind = GOSSIP_EVENT_ADVERT;
    event.sequence = 7;
    node_record_event(MEMBER_SOURCE_GOSSIP, &event);
    now.monotonic_ns += 1000;
    node_record_tick(now);
    node_record_stop();
    assert_false(node_record_active());
}

static mesh_err next(node_record_cursor *cursor, char *error, size_t size)
{
    return node_record_cursor_next(cursor, item, error, size);
}

static void test_round_trip(void **state)
{
    (void) state;
    char path[600];
    (void) snprintf(path, sizeof(path), "%s/rt.rec", dir);
    uint8_t frame[300];
    for (uint32_t i = 0; i < sizeof(frame); i++) {
        frame[i] = (uint8_t) i;
    }
    mesh_now now = {.monotonic_ns = 5000000000ull, .realtime_ns = 1700000000000000000ll};
    make_recording(path, now, frame, sizeof(frame));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    uint64_t size = 0;
    uint8_t *bytes = slurp(path, &size);
    node_record_cursor cursor;
    node_record_cursor_init(&cursor, bytes, size);
    char error[256] = "";
    assert_int_equal(next(&cursor, error, sizeof(error)), MESH_OK);
    assert_int_equal(item->type, NODE_RECORD_SEGMENT);
    assert_int_equal(item->version, NODE_RECORD_VERSION);
    assert_int_equal(item->segment_index, 0);
    assert_int_equal(next(&cursor, error, sizeof(error)), MESH_OK);
    assert_int_equal(item->type, NODE_RECORD_META);
    assert_string_equal(item->name, "fr-par-1");

    assert_int_equal(next(&cursor, error, sizeof(error)), MESH_OK);
    assert_int_equal(item->type, NODE_RECORD_INPUT);
    assert_int_equal(item->number, 0);
    assert_int_equal(item->input.kind, SIM_REPLAY_CREATE);
    assert_int_equal(item->input.now.realtime_ns, now.realtime_ns);
    const member_config *config = item->input.config;
    assert_non_null(config);
    assert_int_equal(item->public_key[0], 0x11);
    assert_int_equal(config->gossip.root_public_key[31], 0x22);
    assert_int_equal(config->gossip.cert_frame_size, sizeof(cert));
    assert_memory_equal(config->gossip.cert_frame, cert, sizeof(cert));
    assert_int_equal(config->gossip.seed_count, 2);
    assert_string_equal(config->gossip.seeds[1], "tcp://127.0.0.1:7401");
    assert_string_equal(config->gossip.advert.endpoint, "tcp://127.0.0.1:7402");
    assert_int_equal(config->lease.classes[0].lendable, 64);
    assert_true(config->burst.enabled);
    assert_string_equal(config->burst.constraints.countries[0], "FR");
    uint8_t zero[64] = {0};
    assert_memory_equal(config->gossip.keypair.secret_key, zero, sizeof(zero));
    mesh_rng rng;
    mesh_rng_seed(&rng, 42);
    assert_memory_equal(&item->input.rng, &rng, sizeof(rng));
    assert_int_equal(item->output_count, 0);

    assert_int_equal(next(&cursor, error, sizeof(error)), MESH_OK);
    assert_int_equal(item->input.kind, SIM_REPLAY_FRAME);
    assert_int_equal(item->number, 1);
    assert_int_equal(item->input.size, sizeof(frame));
    assert_memory_equal(item->input.bytes, frame, sizeof(frame));
    assert_int_equal(item->output_count, 2);
    // The digest is sim/replay.h's, computed here the same way.
    sim_replay_digest digest;
    sim_replay_digest_init(&digest);
    mesh_node_id peer;
    memset(peer.bytes, 0x33, sizeof(peer.bytes));
    sim_replay_digest_send(&digest, &peer, "tcp://127.0.0.1:7401", frame, sizeof(frame));
    gossip_event event;
    memset(&event, 0, sizeof(event));
    event.kind = GOSSIP_EVENT_ADVERT;
    event.sequence = 7;
    sim_replay_digest_event(&digest, MEMBER_SOURCE_GOSSIP, &event);
    uint8_t want[SIM_REPLAY_DIGEST_SIZE];
    sim_replay_digest_final(&digest, want);
    assert_memory_equal(item->digest, want, sizeof(want));

    assert_int_equal(next(&cursor, error, sizeof(error)), MESH_OK);
    assert_int_equal(item->input.kind, SIM_REPLAY_TICK);
    assert_int_equal(item->input.now.monotonic_ns, now.monotonic_ns + 1000);
    assert_int_equal(item->output_count, 0);
    assert_int_equal(next(&cursor, error, sizeof(error)), MESH_OK);
    assert_int_equal(item->type, NODE_RECORD_END);
    assert_int_equal(item->total_inputs, 3);
    assert_int_equal(item->total_outputs, 2);
    assert_int_equal(next(&cursor, error, sizeof(error)), MESH_ENOTFOUND);

    // No secret: the key's bytes appear nowhere in the file.
    for (uint64_t i = 0; i + 16 <= size; i++) {
        assert_true(memcmp(bytes + i, secret_pattern, 16) != 0);
    }
    free(bytes);
}

/* The endpoint a restarted agent restores for a revoked key is an input
 * like any other: it reads back with the key and the text. */
static void test_revocation_endpoint(void **state)
{
    (void) state;
    char path[600];
    (void) snprintf(path, sizeof(path), "%s/endpoint.rec", dir);
    char error[256] = "";
    assert_int_equal(
        node_record_start(path, NODE_RECORD_BYTES_MIN, 2, "fr-par-1", error, sizeof(error)),
        MESH_OK);
    mesh_now now = {.monotonic_ns = 7000, .realtime_ns = 1700000000000000000ll};
    mesh_node_id revoked;
    memset(revoked.bytes, 0x5a, sizeof(revoked.bytes));
    node_record_revocation_endpoint(now, &revoked, "tcp://192.0.2.7:7946");
    node_record_stop();
    uint64_t size = 0;
    uint8_t *bytes = slurp(path, &size);
    node_record_cursor cursor;
    node_record_cursor_init(&cursor, bytes, size);
    assert_int_equal(next(&cursor, error, sizeof(error)), MESH_OK); // segment
    assert_int_equal(next(&cursor, error, sizeof(error)), MESH_OK); // meta
    assert_int_equal(next(&cursor, error, sizeof(error)), MESH_OK);
    assert_int_equal(item->type, NODE_RECORD_INPUT);
    assert_int_equal(item->input.kind, SIM_REPLAY_REVOCATION_ENDPOINT);
    assert_string_equal(sim_replay_kind_name(item->input.kind), "revoked_endpoint");
    assert_memory_equal(item->input.peer.bytes, revoked.bytes, sizeof(revoked.bytes));
    assert_string_equal(item->input.endpoint, "tcp://192.0.2.7:7946");
    assert_int_equal(item->input.now.monotonic_ns, 7000);
    assert_int_equal(next(&cursor, error, sizeof(error)), MESH_OK);
    assert_int_equal(item->type, NODE_RECORD_END);
    free(bytes);
}

/* Reads records until one fails; returns that error. */
static mesh_err read_all(const uint8_t *bytes, uint64_t size, char *error, size_t error_size)
{
    node_record_cursor cursor;
    node_record_cursor_init(&cursor, bytes, size);
    for (uint32_t i = 0; i < 100; i++) {
        mesh_err err = next(&cursor, error, error_size);
        if (err != MESH_OK) {
            return err;
        }
    }
    fail_msg("more records than written");
    return MESH_EINTERNAL;
}

static void test_errors(void **state)
{
    (void) state;
    char path[600];
    (void) snprintf(path, sizeof(path), "%s/bad.rec", dir);
    uint8_t frame[200];
    memset(frame, 0x5c, sizeof(frame));
    mesh_now now = {.monotonic_ns = 1, .realtime_ns = 2};
    make_recording(path, now, frame, sizeof(frame));
    uint64_t size = 0;
    uint8_t *bytes = slurp(path, &size);
    char error[256] = "";
    assert_int_equal(read_all(bytes, size, error, sizeof(error)), MESH_ENOTFOUND);

    // Cut off: the last record (END) is incomplete.
    assert_int_equal(read_all(bytes, size - 3, error, sizeof(error)), MESH_EPROTO);
    assert_non_null(strstr(error, "cut off"));
    assert_non_null(strstr(error, "record 5 at byte"));
    // Cut inside a record's header.
    assert_int_equal(read_all(bytes, NODE_RECORD_MAGIC_SIZE + 10, error, sizeof(error)),
                     MESH_EPROTO);
    assert_non_null(strstr(error, "record 0 at byte 8: cut off"));

    // One flipped byte inside the frame: the checksum says so.
    uint8_t *found = memmem(bytes, size, frame, sizeof(frame));
    assert_non_null(found);
    found[100] ^= 0x01;
    assert_int_equal(read_all(bytes, size, error, sizeof(error)), MESH_ECORRUPT);
    assert_non_null(strstr(error, "record 3 at byte"));
    assert_non_null(strstr(error, "checksum mismatch"));
    found[100] ^= 0x01;

    // Another format version (checksum made right): refused by version.
    uint8_t *body = bytes + NODE_RECORD_MAGIC_SIZE + 4 + NODE_RECORD_CHECKSUM_SIZE;
    assert_int_equal(body[0], NODE_RECORD_SEGMENT);
    body[1] = 99;
    uint32_t body_size = (uint32_t) bytes[NODE_RECORD_MAGIC_SIZE] |
                         (uint32_t) bytes[NODE_RECORD_MAGIC_SIZE + 1] << 8;
    assert_int_equal(crypto_generichash(bytes + NODE_RECORD_MAGIC_SIZE + 4,
                                        NODE_RECORD_CHECKSUM_SIZE, body, body_size, NULL, 0),
                     0);
    assert_int_equal(read_all(bytes, size, error, sizeof(error)), MESH_EINVAL);
    assert_non_null(strstr(error, "format version 99"));

    // Not a recording at all.
    static const uint8_t text[] = "[node]\nname = x\n";
    assert_int_equal(read_all(text, sizeof(text), error, sizeof(error)), MESH_EPROTO);
    assert_non_null(strstr(error, "not a fedmesh recording"));
    assert_int_equal(read_all(text, 0, error, sizeof(error)), MESH_EPROTO);
    free(bytes);
}

/* A bound of 1 MiB and keep 2: 5 MiB of frames make segments 0..4 and
 * keep the newest three files. */
static void test_rotation(void **state)
{
    (void) state;
    char path[600];
    (void) snprintf(path, sizeof(path), "%s/rot.rec", dir);
    char error[256];
    assert_int_equal(
        node_record_start(path, NODE_RECORD_BYTES_MIN, 2, "fr-par-1", error, sizeof(error)),
        MESH_OK);
    static uint8_t frame[60000];
    memset(frame, 0x42, sizeof(frame));
    mesh_now now = {.monotonic_ns = 1, .realtime_ns = 1};
    uint32_t inputs = 90;
    for (uint32_t i = 0; i < inputs; i++) {
        node_record_frame(now, frame, sizeof(frame));
    }
    node_record_stop();
    node_record_stats stats;
    node_record_stats_get(&stats);
    assert_int_equal(stats.inputs, inputs);
    assert_int_equal(stats.write_errors, 0);
    assert_true(stats.rotations >= 4);

    char segment[640];
    struct stat st;
    (void) snprintf(segment, sizeof(segment), "%s.3", path);
    assert_int_not_equal(stat(segment, &st), 0); // past keep: deleted
    uint64_t next_input = 0;
    uint32_t expected_index = (uint32_t) stats.rotations - 2;
    for (int32_t k = 2; k >= 0; k--) {
        if (k == 0) {
            (void) snprintf(segment, sizeof(segment), "%s", path);
        } else {
            (void) snprintf(segment, sizeof(segment), "%s.%d", path, k);
        }
        uint64_t size = 0;
        uint8_t *bytes = slurp(segment, &size);
        assert_true(size <= NODE_RECORD_BYTES_MIN + 70000u);
        node_record_cursor cursor;
        node_record_cursor_init(&cursor, bytes, size);
        assert_int_equal(next(&cursor, error, sizeof(error)), MESH_OK);
        assert_int_equal(item->type, NODE_RECORD_SEGMENT);
        assert_int_equal(item->segment_index, expected_index);
        if (k < 2) {
            assert_int_equal(item->first_input, next_input);
        }
        next_input = item->first_input;
        mesh_err err;
        while ((err = next(&cursor, error, sizeof(error))) == MESH_OK) {
            if (item->type == NODE_RECORD_INPUT) {
                assert_int_equal(item->number, next_input);
                next_input++;
            }
        }
        assert_int_equal(err, MESH_ENOTFOUND);
        free(bytes);
        expected_index++;
    }
    assert_int_equal(next_input, inputs);

    // The replay refuses segments without the first one, and says why.
    char arg0[] = "replay";
    char *argv[] = {arg0, path, NULL};
    assert_int_equal(node_cmd_sim_replay(2, argv), NODE_EXIT_INPUT);
}

static void test_bounds(void **state)
{
    (void) state;
    char path[600];
    (void) snprintf(path, sizeof(path), "%s/bounds.rec", dir);
    char error[256];
    assert_int_equal(node_record_start(path, 1024, 2, "x", error, sizeof(error)), MESH_EINVAL);
    assert_int_equal(node_record_start(path, NODE_RECORD_BYTES_MIN, 0, "x", error, sizeof(error)),
                     MESH_EINVAL);
    assert_int_equal(node_record_start("/nonexistent-dir/x.rec", NODE_RECORD_BYTES_MIN, 2, "x",
                                       error, sizeof(error)),
                     MESH_EIO);
    assert_non_null(strstr(error, "cannot create the recording"));
    assert_false(node_record_active());
    // Not recording: every entry point is a no-op.
    mesh_now now = {0, 0};
    node_record_tick(now);
    node_record_send(NULL, "", NULL, 0);
    node_record_stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip), cmocka_unit_test(test_revocation_endpoint),
        cmocka_unit_test(test_errors),     cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
