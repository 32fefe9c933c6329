/*
 * tests/unit/gossip_certframe_test.c (gossip.certframe): the read-only
 * query for a member's certificate frame (gossip_member_cert_frame),
 * which the member uses to keep the certificates a lease rests on in its
 * ledger. Every member, seen by every member (self included), gets the
 * exact root-signed bytes that member was issued, whose BLAKE2b-256 is
 * the cert_hash the member info reports; an unknown id is
 * MESH_ENOTFOUND, a buffer too small MESH_EFULL with nothing written;
 * and the query changes nothing in the machine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sodium.h>

#include "gossip/gossip_int.h"
#include "tests/unit/gossip_cluster.h"

static void test_every_member_every_frame(void **state)
{
    (void) state;
    gossip_config config;
    gossip_config_default(&config);
    config.members_max = 64;
    config.probe_interval_ns = 200 * MESH_NS_PER_MS;
    config.probe_timeout_ns = 50 * MESH_NS_PER_MS;
    config.suspicion_min_ns = 400 * MESH_NS_PER_MS;
    config.suspicion_max_ns = 1200 * MESH_NS_PER_MS;
    cluster *c = malloc(sizeof(*c));
    assert_non_null(c);
    cluster_init(c, 4, 21, &config);
    assert_true(cluster_run_until_converged(c, 100 * MESH_NS_PER_MS, 10 * MESH_NS_PER_S) !=
                UINT64_MAX);
    for (uint32_t o = 0; o < c->count; o++) {
        gossip_stats before;
        gossip_stats_get(c->nodes[o], &before);
        for (uint32_t s = 0; s < c->count; s++) {
            uint8_t frame[1024];
            uint32_t size = 0;
            assert_int_equal(
                gossip_member_cert_frame(c->nodes[o], &c->ids[s], frame, sizeof(frame), &size),
                MESH_OK);
            assert_int_equal(size, c->cert_sizes[s]);
            assert_memory_equal(frame, c->certs[s], size);
            gossip_member_info info;
            assert_int_equal(gossip_member_find(c->nodes[o], &c->ids[s], &info), MESH_OK);
            uint8_t hash[GOSSIP_CERT_HASH_SIZE];
            assert_int_equal(crypto_generichash(hash, sizeof(hash), frame, size, NULL, 0), 0);
            assert_memory_equal(hash, info.cert_hash, sizeof(hash));
            // Too small: EFULL, nothing written.
            uint8_t small[64];
            memset(small, 0xa5, sizeof(small));
            uint32_t small_size = 77;
            assert_int_equal(gossip_member_cert_frame(c->nodes[o], &c->ids[s], small, sizeof(small),
                                                      &small_size),
                             MESH_EFULL);
            assert_int_equal(small_size, 77);
            for (uint32_t i = 0; i < sizeof(small); i++) {
                assert_int_equal(small[i], 0xa5);
            }
            // Exactly the size is enough.
            assert_int_equal(
                gossip_member_cert_frame(c->nodes[o], &c->ids[s], frame, c->cert_sizes[s], &size),
                MESH_OK);
        }
        // An id nobody holds.
        mesh_node_id unknown;
        memset(unknown.bytes, 0x5c, sizeof(unknown.bytes));
        uint8_t frame[1024];
        uint32_t size = 0;
        assert_int_equal(
            gossip_member_cert_frame(c->nodes[o], &unknown, frame, sizeof(frame), &size),
            MESH_ENOTFOUND);
        // Read-only: no counter moved.
        gossip_stats after;
        gossip_stats_get(c->nodes[o], &after);
        assert_memory_equal(&before, &after, sizeof(before));
    }
    cluster_fini(c);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_member_every_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
