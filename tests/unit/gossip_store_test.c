/*
 * gossip.store: the frame store that member records point into, the id
 * table that finds them, and a store shared by two machines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "gossip/gossip_int.h"
#include "gossip_cluster.h"

#define FRAME_SIZE 300u

static void make_frame(uint8_t *frame, uint32_t tag)
{
    memset(frame, 0x5a, FRAME_SIZE);
    // The tag sits in the first bytes; the bucket hash reads only the last
    // 32, so every such frame collides in the hash table, on purpose.
    frame[0] = (uint8_t) tag;
    frame[1] = (uint8_t) (tag >> 8);
}

static void test_store_counts_and_shares(void **state)
{
    (void) state;
    gossip_store *store = NULL;
    assert_int_equal(gossip_store_create(0, 4, &store), MESH_EINVAL);
    assert_int_equal(gossip_store_create(4, 0, &store), MESH_EINVAL);
    assert_int_equal(gossip_store_create(4, 4, &store), MESH_OK);
    uint8_t frames[5][FRAME_SIZE];
    uint32_t handles[5];
    bool added = false;
    for (uint32_t i = 0; i < 4; i++) {
        make_frame(frames[i], i);
        handles[i] = gossip_store_put(store, STORE_CERT, frames[i], FRAME_SIZE, &added);
        assert_true(added);
        assert_int_not_equal(handles[i], 0);
        for (uint32_t j = 0; j < i; j++) {
            assert_int_not_equal(handles[i], handles[j]); // colliding hashes, distinct frames
        }
    }
    // The same bytes again: the same slot, one more reference, nothing new.
    uint32_t again = gossip_store_put(store, STORE_CERT, frames[2], FRAME_SIZE, &added);
    assert_false(added);
    assert_int_equal(again, handles[2]);
    assert_int_equal(gossip_store_find(store, STORE_CERT, frames[3], FRAME_SIZE), handles[3]);
    // One byte off is another frame; a full pool refuses it and counts.
    make_frame(frames[4], 4);
    assert_int_equal(gossip_store_find(store, STORE_CERT, frames[4], FRAME_SIZE), 0);
    assert_int_equal(gossip_store_put(store, STORE_CERT, frames[4], FRAME_SIZE, &added), 0);
    gossip_store_usage usage;
    gossip_store_usage_get(store, &usage);
    assert_int_equal(usage.certs, 4);
    assert_int_equal(usage.certs_peak, 4);
    assert_int_equal(usage.refused, 1);
    assert_int_equal(usage.adverts, 0);
    // The kinds are separate pools.
    assert_int_equal(gossip_store_find(store, STORE_ADVERT, frames[0], FRAME_SIZE), 0);

    // Two references on frame 2: the first release keeps it.
    gossip_store_release(store, STORE_CERT, handles[2]);
    assert_int_equal(gossip_store_find(store, STORE_CERT, frames[2], FRAME_SIZE), handles[2]);
    gossip_store_release(store, STORE_CERT, handles[2]);
    assert_int_equal(gossip_store_find(store, STORE_CERT, frames[2], FRAME_SIZE), 0);
    // Its neighbours in the chain are still found, and the slot is reused.
    for (uint32_t i = 0; i < 4; i++) {
        if (i != 2) {
            assert_int_equal(gossip_store_find(store, STORE_CERT, frames[i], FRAME_SIZE),
                             handles[i]);
        }
    }
    uint32_t handle = gossip_store_put(store, STORE_CERT, frames[4], FRAME_SIZE, &added);
    assert_true(added);
    assert_int_equal(handle, handles[2]);
    uint32_t size = 0;
    const uint8_t *stored = gossip_store_frame(store, STORE_CERT, handle, &size);
    assert_int_equal(size, FRAME_SIZE);
    assert_memory_equal(stored, frames[4], FRAME_SIZE);
    // The reused slot's certificate hash is the new frame's, not frame 2's.
    uint8_t hash[GOSSIP_CERT_HASH_SIZE];
    assert_int_equal(crypto_generichash(hash, sizeof(hash), frames[4], FRAME_SIZE, NULL, 0), 0);
    assert_memory_equal(gossip_store_cert(store, handle)->frame_hash, hash, sizeof(hash));
    gossip_store_release(store, STORE_CERT, 0); // a no-op
    gossip_store_usage_get(store, &usage);
    assert_int_equal(usage.certs, 4);
    gossip_store_destroy(store);
    gossip_store_destroy(NULL);
}

/* A certificate for a member numbered n, issued by the cluster's root. */
static void
issue_member(const cluster *c, uint32_t n, wire_cert *cert, uint8_t *frame, uint32_t *frame_size)
{
    uint8_t seed[MCRYPTO_SEED_SIZE];
    memset(seed, 0x77, sizeof(seed));
    seed[0] = (uint8_t) n;
    seed[1] = (uint8_t) (n >> 8);
    mcrypto_keypair key;
    assert_int_equal(mcrypto_keypair_from_seed(seed, &key), MESH_OK);
    memset(cert, 0, sizeof(*cert));
    memcpy(cert->public_key, key.public_key, sizeof(cert->public_key));
    (void) snprintf(cert->name, sizeof(cert->name), "member-%u", n);
    memcpy(cert->country, "DE", 3);
    cert->jurisdiction_count = 1;
    memcpy(cert->jurisdictions[0], "DE", 3);
    cert->valid_from_ns = CLUSTER_EPOCH_NS - 86400ll * 1000000000ll;
    cert->valid_until_ns = CLUSTER_EPOCH_NS + 86400ll * 1000000000ll;
    cert->serial = 1000u + n;
    assert_int_equal(mcrypto_cert_issue(&c->root, cert, frame, MEMBER_CERT_FRAME_MAX, frame_size),
                     MESH_OK);
    mcrypto_keypair_wipe(&key);
}

#define CHURN_MEMBERS 600u

/* Members come and go in random order; after every step each member held
 * is found by id, each one gone is not, and the id order is intact. */
static void test_id_table_churn(void **state)
{
    (void) state;
    static cluster c;
    gossip_config base;
    gossip_config_default(&base);
    cluster_init(&c, 1, 11, &base);
    gossip *g = (gossip *) c.nodes[0]; // white-box: the store test reaches inside
    static wire_cert certs[CHURN_MEMBERS];
    static uint8_t frames[CHURN_MEMBERS][MEMBER_CERT_FRAME_MAX];
    static uint32_t sizes[CHURN_MEMBERS];
    static mesh_node_id ids[CHURN_MEMBERS];
    bool held[CHURN_MEMBERS] = {false};
    for (uint32_t n = 0; n < CHURN_MEMBERS; n++) {
        issue_member(&c, n, &certs[n], frames[n], &sizes[n]);
        mcrypto_node_id(certs[n].public_key, &ids[n]);
    }
    mesh_rng rng;
    mesh_rng_seed(&rng, 5);
    uint32_t count = 1; // self
    for (uint32_t step = 0; step < 4000; step++) {
        uint32_t n = (uint32_t) mesh_rng_below(&rng, CHURN_MEMBERS);
        member *m = gossip_member_lookup(g, &ids[n]);
        assert_int_equal(m != NULL, held[n]);
        if (held[n]) {
            gossip_member_remove(g, m);
            count--;
        } else {
            assert_int_equal(gossip_member_insert(g, &certs[n], frames[n], sizes[n], &m), MESH_OK);
            assert_memory_equal(&m->id, &ids[n], sizeof(ids[n]));
            count++;
        }
        held[n] = !held[n];
        if (step % 97 != 0) {
            continue;
        }
        assert_int_equal(gossip_member_count(g), count);
        for (uint32_t k = 0; k < CHURN_MEMBERS; k++) {
            const member *found = gossip_member_lookup(g, &ids[k]);
            assert_int_equal(found != NULL, held[k]);
            if (found != NULL) {
                assert_string_equal(gossip_member_cert(g, found)->name, certs[k].name);
            }
        }
        gossip_member_info previous;
        for (uint32_t i = 0; i < count; i++) {
            gossip_member_info info;
            assert_int_equal(gossip_member_at(g, i, &info), MESH_OK);
            if (i > 0) {
                assert_true(mesh_node_id_compare(&previous.id, &info.id) < 0);
            }
            previous = info;
        }
    }
    cluster_fini(&c);
}

/* Two machines on one store hold one copy of each frame, and let go of
 * it when both are gone. */
static void test_shared_store(void **state)
{
    (void) state;
    gossip_store *store = NULL;
    assert_int_equal(gossip_store_create(8, 8, &store), MESH_OK);
    static cluster c;
    gossip_config base;
    gossip_config_default(&base);
    base.store = store;
    cluster_init(&c, 2, 3, &base);
    gossip_store_usage usage;
    gossip_store_usage_get(store, &usage);
    assert_int_equal(usage.certs, 2); // each machine's own certificate
    wire_cert cert;
    uint8_t frame[MEMBER_CERT_FRAME_MAX];
    uint32_t size = 0;
    issue_member(&c, 1, &cert, frame, &size);
    member *m0 = NULL;
    member *m1 = NULL;
    assert_int_equal(gossip_member_insert((gossip *) c.nodes[0], &cert, frame, size, &m0), MESH_OK);
    assert_int_equal(gossip_member_insert((gossip *) c.nodes[1], &cert, frame, size, &m1), MESH_OK);
    assert_int_equal(m0->cert, m1->cert);
    gossip_store_usage_get(store, &usage);
    assert_int_equal(usage.certs, 3);
    gossip_member_remove((gossip *) c.nodes[0], m0);
    gossip_store_usage_get(store, &usage);
    assert_int_equal(usage.certs, 3);
    cluster_fini(&c);
    gossip_store_usage_get(store, &usage);
    assert_int_equal(usage.certs, 0);
    assert_int_equal(usage.adverts, 0);
    gossip_store_destroy(store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_counts_and_shares),
        cmocka_unit_test(test_id_table_churn),
        cmocka_unit_test(test_shared_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
