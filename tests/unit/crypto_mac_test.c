/*
 * tests/unit/crypto_mac_test.c: pair keys, MACs with domain separation,
 * and MAC'd envelopes.
 *
 * Known answers come from outside this code: Python's `cryptography`
 * (Ed25519 public keys, X25519), the Ed25519 to X25519 conversion written
 * out from RFC 7748 (u = (1 + y) / (1 - y), secret = clamped first half of
 * SHA-512(seed)), and hashlib.blake2b for the pair key and the keyed MAC,
 * so that a bug shared by both sides of the pair cannot hide.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/crypto.h"

// Seeds 32 x 0x01 and 32 x 0x02.
static const uint8_t a_public_key[32] = {
    0x8a, 0x88, 0xe3, 0xdd, 0x74, 0x09, 0xf1, 0x95, 0xfd, 0x52, 0xdb, 0x2d, 0x3c, 0xba, 0x5d, 0x72,
    0xca, 0x67, 0x09, 0xbf, 0x1d, 0x94, 0x12, 0x1b, 0xf3, 0x74, 0x88, 0x01, 0xb4, 0x0f, 0x6f, 0x5c,
};
static const uint8_t b_public_key[32] = {
    0x81, 0x39, 0x77, 0x0e, 0xa8, 0x7d, 0x17, 0x5f, 0x56, 0xa3, 0x54, 0x66, 0xc3, 0x4c, 0x7e, 0xcc,
    0xcb, 0x8d, 0x8a, 0x91, 0xb4, 0xee, 0x37, 0xa2, 0x5d, 0xf6, 0x0f, 0x5b, 0x8f, 0xc9, 0xb3, 0x94,
};
// BLAKE2b-256("fedmesh/v1/pair-key" || X25519 shared || b_pk || a_pk), from Python.
static const uint8_t ab_pair_key[32] = {
    0xa7, 0x4b, 0x50, 0x37, 0x98, 0x81, 0xd0, 0x41, 0x8f, 0x79, 0xe5, 0x79, 0x50, 0x20, 0x28, 0x5f,
    0xdc, 0x0f, 0xcb, 0x08, 0x88, 0x6a, 0x0a, 0x90, 0xe9, 0xa6, 0x09, 0x4e, 0x4c, 0xa8, 0x58, 0x84,
};
// A ping body: {0: 7, 1: bin(16) 00..0f}.
static const uint8_t ping_body[] = {
    0x82, 0x00, 0x07, 0x01, 0xc4, 0x10, 0x00, 0x01, 0x02, 0x03, 0x04,
    0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
};
// Keyed BLAKE2b-128 over "fedmesh/v1/ping\0" || ping_body, from Python.
static const uint8_t ping_mac[16] = {
    0x05, 0x33, 0xce, 0xa3, 0xc1, 0xf2, 0x91, 0xba, 0x16, 0x99, 0xc7, 0x5b, 0x0c, 0x23, 0x10, 0x6e,
};
// The same body as a ping-req.
static const uint8_t ping_req_mac[16] = {
    0x9c, 0xca, 0x28, 0xf7, 0x0a, 0x94, 0xe1, 0x3d, 0xea, 0xa1, 0xa6, 0xcc, 0x99, 0xfb, 0x92, 0xf5,
};

static const wire_type mac_types[] = {WIRE_TYPE_PING,   WIRE_TYPE_ACK,  WIRE_TYPE_PING_REQ,
                                      WIRE_TYPE_DIGEST, WIRE_TYPE_PULL, WIRE_TYPE_PUSH};
static const char *const mac_type_names[] = {"ping", "ack", "ping-req", "digest", "pull", "push"};
static const wire_type signed_types[] = {WIRE_TYPE_ADVERT, WIRE_TYPE_CERT, WIRE_TYPE_REVOCATION,
                                         WIRE_TYPE_SUSPECT};

static int group_setup(void **state)
{
    (void) state;
    return mcrypto_init() == MESH_OK ? 0 : -1;
}

static void keypair_from_byte(uint8_t value, mcrypto_keypair *keypair_out)
{
    uint8_t seed[MCRYPTO_SEED_SIZE];
    memset(seed, value, sizeof(seed));
    assert_int_equal(mcrypto_keypair_from_seed(seed, keypair_out), MESH_OK);
}

/* Pair keys. */

static void test_pair_key_known_answer(void **state)
{
    (void) state;
    mcrypto_keypair a;
    mcrypto_keypair b;
    keypair_from_byte(1, &a);
    keypair_from_byte(2, &b);
    assert_memory_equal(a.public_key, a_public_key, sizeof(a_public_key));
    assert_memory_equal(b.public_key, b_public_key, sizeof(b_public_key));
    uint8_t ab[MCRYPTO_PAIR_KEY_SIZE];
    uint8_t ba[MCRYPTO_PAIR_KEY_SIZE];
    assert_int_equal(mcrypto_pair_key(&a, b.public_key, ab), MESH_OK);
    assert_int_equal(mcrypto_pair_key(&b, a.public_key, ba), MESH_OK);
    assert_memory_equal(ab, ab_pair_key, sizeof(ab));
    assert_memory_equal(ba, ab_pair_key, sizeof(ba));
    mcrypto_keypair_wipe(&a);
    mcrypto_keypair_wipe(&b);
}

static void test_pair_key_symmetric_distinct_deterministic(void **state)
{
    (void) state;
    enum { MEMBERS = 6 };
    mcrypto_keypair members[MEMBERS];
    for (uint32_t i = 0; i < MEMBERS; i++) {
        keypair_from_byte((uint8_t) (10 + i), &members[i]);
    }
    uint8_t keys[MEMBERS][MEMBERS][MCRYPTO_PAIR_KEY_SIZE];
    for (uint32_t i = 0; i < MEMBERS; i++) {
        for (uint32_t j = 0; j < MEMBERS; j++) {
            assert_int_equal(mcrypto_pair_key(&members[i], members[j].public_key, keys[i][j]),
                             MESH_OK);
            // Deterministic: the same key again.
            uint8_t again[MCRYPTO_PAIR_KEY_SIZE];
            assert_int_equal(mcrypto_pair_key(&members[i], members[j].public_key, again), MESH_OK);
            assert_memory_equal(again, keys[i][j], sizeof(again));
            assert_false(sodium_is_zero(keys[i][j], MCRYPTO_PAIR_KEY_SIZE));
        }
    }
    for (uint32_t i = 0; i < MEMBERS; i++) {
        for (uint32_t j = 0; j < MEMBERS; j++) {
            // Symmetric: (A, B) == (B, A).
            assert_memory_equal(keys[i][j], keys[j][i], MCRYPTO_PAIR_KEY_SIZE);
            // Every other pair has another key.
            for (uint32_t k = 0; k < MEMBERS; k++) {
                for (uint32_t l = k; l < MEMBERS; l++) {
                    bool same_pair = (i == k && j == l) || (i == l && j == k);
                    if (!same_pair) {
                        assert_memory_not_equal(keys[i][j], keys[k][l], MCRYPTO_PAIR_KEY_SIZE);
                    }
                }
            }
        }
    }
    for (uint32_t i = 0; i < MEMBERS; i++) {
        mcrypto_keypair_wipe(&members[i]);
    }
}

// The stepwise derivation and the cache give exactly mcrypto_pair_key's
// keys, from either side, through hits, misses and slot collisions.
static void test_pair_key_cached(void **state)
{
    (void) state;
    enum { MEMBERS = 5 };
    mcrypto_keypair members[MEMBERS];
    uint8_t curve_public[MEMBERS][MCRYPTO_CURVE_KEY_SIZE];
    uint8_t curve_secret[MEMBERS][MCRYPTO_CURVE_KEY_SIZE];
    for (uint32_t i = 0; i < MEMBERS; i++) {
        keypair_from_byte((uint8_t) (40 + i), &members[i]);
        assert_int_equal(mcrypto_curve_public(members[i].public_key, curve_public[i]), MESH_OK);
        assert_int_equal(mcrypto_curve_secret(&members[i], curve_secret[i]), MESH_OK);
    }
    mcrypto_pair_cache *refused = NULL;
    assert_int_equal(mcrypto_pair_cache_create(0, &refused), MESH_EINVAL);
    assert_null(refused);
    // One slot: every other pair evicts the last; three: some share.
    static const uint32_t slot_counts[] = {1, 3, 64};
    for (uint32_t s = 0; s < sizeof(slot_counts) / sizeof(slot_counts[0]); s++) {
        mcrypto_pair_cache *cache = NULL;
        assert_int_equal(mcrypto_pair_cache_create(slot_counts[s], &cache), MESH_OK);
        for (uint32_t round = 0; round < 3; round++) {
            for (uint32_t i = 0; i < MEMBERS; i++) {
                for (uint32_t j = 0; j < MEMBERS; j++) {
                    uint8_t expected[MCRYPTO_PAIR_KEY_SIZE];
                    uint8_t got[MCRYPTO_PAIR_KEY_SIZE];
                    uint8_t uncached[MCRYPTO_PAIR_KEY_SIZE];
                    assert_int_equal(mcrypto_pair_key(&members[i], members[j].public_key, expected),
                                     MESH_OK);
                    assert_int_equal(mcrypto_pair_key_cached(cache, members[i].public_key,
                                                             curve_secret[i], members[j].public_key,
                                                             curve_public[j], got),
                                     MESH_OK);
                    assert_memory_equal(got, expected, sizeof(got));
                    assert_int_equal(mcrypto_pair_key_cached(NULL, members[i].public_key,
                                                             curve_secret[i], members[j].public_key,
                                                             curve_public[j], uncached),
                                     MESH_OK);
                    assert_memory_equal(uncached, expected, sizeof(uncached));
                }
            }
        }
        uint64_t hits = 0;
        uint64_t misses = 0;
        mcrypto_pair_cache_counts(cache, &hits, &misses);
        assert_int_equal(hits + misses, 3u * MEMBERS * MEMBERS);
        // 15 distinct pairs: at least one miss each; with room, (A, B)
        // and (B, A) share an entry, so the later rounds all hit.
        assert_true(misses >= 15);
        if (slot_counts[s] == 64) {
            assert_true(hits >= 2u * MEMBERS * MEMBERS);
        }
        mcrypto_pair_cache_destroy(cache);
    }
    mcrypto_pair_cache_destroy(NULL);
    // The identity (y = 1, order 1) has no usable X25519 form.
    static const uint8_t identity[32] = {0x01};
    uint8_t curve[MCRYPTO_CURVE_KEY_SIZE];
    assert_int_equal(mcrypto_curve_public(identity, curve), MESH_EAUTH);
    for (uint32_t i = 0; i < MEMBERS; i++) {
        mcrypto_keypair_wipe(&members[i]);
    }
}

// The documented construction, rebuilt with libsodium's one-shot calls
// over one explicit buffer (mac.c streams instead).
static void test_pair_key_construction(void **state)
{
    (void) state;
    mcrypto_keypair a;
    mcrypto_keypair b;
    keypair_from_byte(21, &a);
    keypair_from_byte(22, &b);
    uint8_t a_curve_secret[32];
    uint8_t b_curve[32];
    uint8_t shared[32];
    assert_int_equal(crypto_sign_ed25519_sk_to_curve25519(a_curve_secret, a.secret_key), 0);
    assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(b_curve, b.public_key), 0);
    assert_int_equal(crypto_scalarmult(shared, a_curve_secret, b_curve), 0);
    uint8_t message[19 + 32 + 32 + 32];
    static const uint8_t context[19] = {'f', 'e', 'd', 'm', 'e', 's', 'h', '/', 'v', '1',
                                        '/', 'p', 'a', 'i', 'r', '-', 'k', 'e', 'y'};
    memcpy(message, context, sizeof(context));
    memcpy(message + 19, shared, 32);
    bool a_first = memcmp(a.public_key, b.public_key, 32) < 0;
    memcpy(message + 51, a_first ? a.public_key : b.public_key, 32);
    memcpy(message + 83, a_first ? b.public_key : a.public_key, 32);
    uint8_t expected[32];
    assert_int_equal(crypto_generichash(expected, 32, message, sizeof(message), NULL, 0), 0);
    uint8_t key[MCRYPTO_PAIR_KEY_SIZE];
    assert_int_equal(mcrypto_pair_key(&a, b.public_key, key), MESH_OK);
    assert_memory_equal(key, expected, sizeof(key));
    mcrypto_keypair_wipe(&a);
    mcrypto_keypair_wipe(&b);
}

static void expect_pair_key_refused(const mcrypto_keypair *self, const uint8_t peer[32])
{
    uint8_t key[MCRYPTO_PAIR_KEY_SIZE];
    memset(key, 0x5a, sizeof(key));
    assert_int_equal(mcrypto_pair_key(self, peer, key), MESH_EAUTH);
    for (uint32_t i = 0; i < sizeof(key); i++) {
        assert_int_equal(key[i], 0x5a); // untouched on failure
    }
}

static void test_pair_key_refuses_bad_points(void **state)
{
    (void) state;
    mcrypto_keypair self;
    keypair_from_byte(5, &self);
    // All zeros (y = 0: a point of order 4).
    static const uint8_t zeros[32] = {0};
    expect_pair_key_refused(&self, zeros);
    // The identity (y = 1), order 1.
    static const uint8_t identity[32] = {0x01};
    expect_pair_key_refused(&self, identity);
    // y = -1 (p - 1), order 2.
    static const uint8_t order_two[32] = {
        0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
    };
    expect_pair_key_refused(&self, order_two);
    // A point of order 8 (from the well-known list of Ed25519's small-order
    // points; its negation too).
    static const uint8_t order_eight[32] = {
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4,
        0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6,
        0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05,
    };
    static const uint8_t order_eight_negated[32] = {
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b,
        0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39,
        0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a,
    };
    assert_int_equal(crypto_core_ed25519_is_valid_point(order_eight), 0);
    expect_pair_key_refused(&self, order_eight);
    expect_pair_key_refused(&self, order_eight_negated);
    // Bytes that are no point at all: the first small y whose x^2 has no
    // square root (found with libsodium's own point check).
    uint8_t not_a_point[32] = {0};
    bool found = false;
    for (uint8_t y = 2; y < 100 && !found; y++) {
        not_a_point[0] = y;
        uint8_t curve[32];
        found = crypto_sign_ed25519_pk_to_curve25519(curve, not_a_point) != 0 &&
                crypto_core_ed25519_is_valid_point(not_a_point) == 0;
    }
    assert_true(found);
    expect_pair_key_refused(&self, not_a_point);
    // A valid key with one bit flipped is usually not a point either; if
    // it is one, it gives another key, never the original.
    mcrypto_keypair peer;
    keypair_from_byte(6, &peer);
    uint8_t good[MCRYPTO_PAIR_KEY_SIZE];
    assert_int_equal(mcrypto_pair_key(&self, peer.public_key, good), MESH_OK);
    for (uint32_t bit = 0; bit < 256; bit += 7) {
        uint8_t flipped[32];
        memcpy(flipped, peer.public_key, sizeof(flipped));
        flipped[bit / 8] ^= (uint8_t) (1u << (bit % 8));
        uint8_t key[MCRYPTO_PAIR_KEY_SIZE];
        mesh_err err = mcrypto_pair_key(&self, flipped, key);
        assert_true(err == MESH_OK || err == MESH_EAUTH);
        if (err == MESH_OK) {
            assert_memory_not_equal(key, good, sizeof(key));
        }
    }
    mcrypto_keypair_wipe(&self);
    mcrypto_keypair_wipe(&peer);
}

/* MACs. */

static void test_mac_known_answer(void **state)
{
    (void) state;
    uint8_t mac[WIRE_MAC_SIZE];
    assert_int_equal(mcrypto_mac(ab_pair_key, WIRE_TYPE_PING, ping_body, sizeof(ping_body), mac),
                     MESH_OK);
    assert_memory_equal(mac, ping_mac, sizeof(mac));
    assert_int_equal(
        mcrypto_mac(ab_pair_key, WIRE_TYPE_PING_REQ, ping_body, sizeof(ping_body), mac), MESH_OK);
    assert_memory_equal(mac, ping_req_mac, sizeof(mac));
    assert_int_equal(
        mcrypto_mac_verify(ab_pair_key, WIRE_TYPE_PING, ping_body, sizeof(ping_body), ping_mac),
        MESH_OK);
}

// The documented message for every MAC'd type, checked with libsodium's
// one-shot keyed hash over an explicit buffer.
static void test_mac_documented_message(void **state)
{
    (void) state;
    uint8_t key[MCRYPTO_PAIR_KEY_SIZE];
    for (uint32_t i = 0; i < sizeof(key); i++) {
        key[i] = (uint8_t) (3 * i + 1);
    }
    static const uint8_t body[] = "a control message body";
    for (size_t t = 0; t < MESH_ARRAY_COUNT(mac_types); t++) {
        uint8_t message[64];
        int n = snprintf((char *) message, sizeof(message), "fedmesh/v1/%s", mac_type_names[t]);
        assert_true(n > 0 && (size_t) n + 1 + sizeof(body) <= sizeof(message));
        size_t prefix = (size_t) n + 1;
        message[prefix - 1] = 0x00;
        memcpy(message + prefix, body, sizeof(body));
        uint8_t expected[WIRE_MAC_SIZE];
        assert_int_equal(crypto_generichash(expected, sizeof(expected), message,
                                            prefix + sizeof(body), key, sizeof(key)),
                         0);
        uint8_t mac[WIRE_MAC_SIZE];
        assert_int_equal(mcrypto_mac(key, mac_types[t], body, sizeof(body), mac), MESH_OK);
        assert_memory_equal(mac, expected, sizeof(mac));
        assert_int_equal(mcrypto_mac_verify(key, mac_types[t], body, sizeof(body), mac), MESH_OK);
        // An empty body MACs too, and differs.
        uint8_t empty_mac[WIRE_MAC_SIZE];
        assert_int_equal(mcrypto_mac(key, mac_types[t], NULL, 0, empty_mac), MESH_OK);
        assert_int_equal(mcrypto_mac_verify(key, mac_types[t], NULL, 0, empty_mac), MESH_OK);
        assert_memory_not_equal(mac, empty_mac, sizeof(mac));
        assert_int_equal(mcrypto_mac_verify(key, mac_types[t], body, 1, empty_mac), MESH_EAUTH);
    }
}

static void test_mac_bit_flips_fail(void **state)
{
    (void) state;
    uint8_t key[MCRYPTO_PAIR_KEY_SIZE];
    memcpy(key, ab_pair_key, sizeof(key));
    uint8_t body[sizeof(ping_body)];
    memcpy(body, ping_body, sizeof(body));
    uint8_t mac[WIRE_MAC_SIZE];
    memcpy(mac, ping_mac, sizeof(mac));
    for (uint32_t bit = 0; bit < sizeof(body) * 8; bit++) {
        body[bit / 8] ^= (uint8_t) (1u << (bit % 8));
        assert_int_equal(mcrypto_mac_verify(key, WIRE_TYPE_PING, body, sizeof(body), mac),
                         MESH_EAUTH);
        body[bit / 8] ^= (uint8_t) (1u << (bit % 8));
    }
    for (uint32_t bit = 0; bit < sizeof(mac) * 8; bit++) {
        mac[bit / 8] ^= (uint8_t) (1u << (bit % 8));
        assert_int_equal(mcrypto_mac_verify(key, WIRE_TYPE_PING, body, sizeof(body), mac),
                         MESH_EAUTH);
        mac[bit / 8] ^= (uint8_t) (1u << (bit % 8));
    }
    for (uint32_t bit = 0; bit < sizeof(key) * 8; bit++) {
        key[bit / 8] ^= (uint8_t) (1u << (bit % 8));
        assert_int_equal(mcrypto_mac_verify(key, WIRE_TYPE_PING, body, sizeof(body), mac),
                         MESH_EAUTH);
        key[bit / 8] ^= (uint8_t) (1u << (bit % 8));
    }
    // Truncated and extended bodies fail too.
    assert_int_equal(mcrypto_mac_verify(key, WIRE_TYPE_PING, body, sizeof(body) - 1, mac),
                     MESH_EAUTH);
    assert_int_equal(mcrypto_mac_verify(key, WIRE_TYPE_PING, body, sizeof(body), mac), MESH_OK);
}

static void test_mac_domain_separation(void **state)
{
    (void) state;
    uint8_t key[MCRYPTO_PAIR_KEY_SIZE];
    memcpy(key, ab_pair_key, sizeof(key));
    for (size_t s = 0; s < MESH_ARRAY_COUNT(mac_types); s++) {
        uint8_t mac[WIRE_MAC_SIZE];
        assert_int_equal(mcrypto_mac(key, mac_types[s], ping_body, sizeof(ping_body), mac),
                         MESH_OK);
        for (size_t v = 0; v < MESH_ARRAY_COUNT(mac_types); v++) {
            mesh_err expected = s == v ? MESH_OK : MESH_EAUTH;
            assert_int_equal(
                mcrypto_mac_verify(key, mac_types[v], ping_body, sizeof(ping_body), mac), expected);
        }
    }
    // Spelled out: a PING's MAC is no ACK's.
    assert_int_equal(mcrypto_mac_verify(key, WIRE_TYPE_ACK, ping_body, sizeof(ping_body), ping_mac),
                     MESH_EAUTH);
    // And another pair's key does not verify it.
    mcrypto_keypair a;
    mcrypto_keypair c;
    keypair_from_byte(1, &a);
    keypair_from_byte(3, &c);
    uint8_t ac[MCRYPTO_PAIR_KEY_SIZE];
    assert_int_equal(mcrypto_pair_key(&a, c.public_key, ac), MESH_OK);
    assert_int_equal(mcrypto_mac_verify(ac, WIRE_TYPE_PING, ping_body, sizeof(ping_body), ping_mac),
                     MESH_EAUTH);
    mcrypto_keypair_wipe(&a);
    mcrypto_keypair_wipe(&c);
}

static void test_mac_and_sign_refuse_each_others_types(void **state)
{
    (void) state;
    uint8_t key[MCRYPTO_PAIR_KEY_SIZE];
    memcpy(key, ab_pair_key, sizeof(key));
    uint8_t mac[WIRE_MAC_SIZE];
    memset(mac, 0x11, sizeof(mac));
    // Signed types, reserved and unknown numbers: no MAC.
    static const uint32_t not_mac[] = {0, 1, 2, 3, 4, 5, 7, 14, 15, 16, 31, 32, 1000};
    for (size_t i = 0; i < MESH_ARRAY_COUNT(not_mac); i++) {
        wire_type type = (wire_type) not_mac[i];
        assert_int_equal(mcrypto_mac(key, type, ping_body, sizeof(ping_body), mac), MESH_EINVAL);
        assert_int_equal(mcrypto_mac_verify(key, type, ping_body, sizeof(ping_body), mac),
                         MESH_EINVAL);
    }
    for (uint32_t i = 0; i < sizeof(mac); i++) {
        assert_int_equal(mac[i], 0x11); // untouched on failure
    }
    // MAC'd types: no signature; signed types sign.
    mcrypto_keypair keypair;
    keypair_from_byte(7, &keypair);
    uint8_t signature[MCRYPTO_SIGNATURE_SIZE];
    for (size_t t = 0; t < MESH_ARRAY_COUNT(mac_types); t++) {
        assert_int_equal(
            mcrypto_sign(&keypair, mac_types[t], ping_body, sizeof(ping_body), signature),
            MESH_EINVAL);
        assert_int_equal(mcrypto_verify(keypair.public_key, mac_types[t], ping_body,
                                        sizeof(ping_body), signature),
                         MESH_EINVAL);
    }
    for (size_t t = 0; t < MESH_ARRAY_COUNT(signed_types); t++) {
        assert_int_equal(
            mcrypto_sign(&keypair, signed_types[t], ping_body, sizeof(ping_body), signature),
            MESH_OK);
        assert_int_equal(mcrypto_verify(keypair.public_key, signed_types[t], ping_body,
                                        sizeof(ping_body), signature),
                         MESH_OK);
    }
    // A SUSPECT's signature is no advert's (its own domain).
    assert_int_equal(
        mcrypto_sign(&keypair, WIRE_TYPE_SUSPECT, ping_body, sizeof(ping_body), signature),
        MESH_OK);
    assert_int_equal(mcrypto_verify(keypair.public_key, WIRE_TYPE_ADVERT, ping_body,
                                    sizeof(ping_body), signature),
                     MESH_EAUTH);
    mcrypto_keypair_wipe(&keypair);
}

static void test_mac_body_sizes(void **state)
{
    (void) state;
    static uint8_t big[WIRE_BODY_SIZE_MAX + 1];
    memset(big, 0x42, sizeof(big));
    uint8_t mac[WIRE_MAC_SIZE];
    assert_int_equal(mcrypto_mac(ab_pair_key, WIRE_TYPE_PUSH, big, sizeof(big), mac), MESH_EINVAL);
    assert_int_equal(mcrypto_mac_verify(ab_pair_key, WIRE_TYPE_PUSH, big, sizeof(big), mac),
                     MESH_EINVAL);
    // Exactly the largest body is fine, and every byte counts.
    assert_int_equal(mcrypto_mac(ab_pair_key, WIRE_TYPE_PUSH, big, WIRE_BODY_SIZE_MAX, mac),
                     MESH_OK);
    assert_int_equal(mcrypto_mac_verify(ab_pair_key, WIRE_TYPE_PUSH, big, WIRE_BODY_SIZE_MAX, mac),
                     MESH_OK);
    big[WIRE_BODY_SIZE_MAX - 1] ^= 1;
    assert_int_equal(mcrypto_mac_verify(ab_pair_key, WIRE_TYPE_PUSH, big, WIRE_BODY_SIZE_MAX, mac),
                     MESH_EAUTH);
}

/* MAC'd envelopes. */

static void test_envelope_seal_mac(void **state)
{
    (void) state;
    mcrypto_keypair a;
    keypair_from_byte(1, &a);
    mesh_node_id a_id;
    mcrypto_node_id(a.public_key, &a_id);
    for (size_t t = 0; t < MESH_ARRAY_COUNT(mac_types); t++) {
        uint8_t frame[256];
        uint32_t frame_size = 0;
        assert_int_equal(mcrypto_envelope_seal_mac(&a_id, ab_pair_key, mac_types[t], ping_body,
                                                   sizeof(ping_body), frame, sizeof(frame),
                                                   &frame_size),
                         MESH_OK);
        wire_envelope envelope;
        assert_int_equal(wire_envelope_decode(frame, frame_size, &envelope, NULL), MESH_OK);
        assert_int_equal(envelope.type, mac_types[t]);
        assert_memory_equal(envelope.signer.bytes, a_id.bytes, MESH_NODE_ID_SIZE);
        assert_int_equal(envelope.body_size, sizeof(ping_body));
        assert_memory_equal(envelope.body, ping_body, sizeof(ping_body));
        assert_int_equal(mcrypto_mac_verify(ab_pair_key, envelope.type, envelope.body,
                                            envelope.body_size, envelope.signature),
                         MESH_OK);
        // The frame ends in the MAC, as a bin(16).
        assert_int_equal(frame[frame_size - WIRE_MAC_SIZE - 2], 0xc4);
        assert_int_equal(frame[frame_size - WIRE_MAC_SIZE - 1], WIRE_MAC_SIZE);
        // Deterministic.
        uint8_t again[256];
        uint32_t again_size = 0;
        assert_int_equal(mcrypto_envelope_seal_mac(&a_id, ab_pair_key, mac_types[t], ping_body,
                                                   sizeof(ping_body), again, sizeof(again),
                                                   &again_size),
                         MESH_OK);
        assert_int_equal(again_size, frame_size);
        assert_memory_equal(again, frame, frame_size);
        // A signed open refuses a MAC'd type: it has no signature.
        assert_int_equal(
            mcrypto_envelope_open(a.public_key, mac_types[t], frame, frame_size, &envelope, NULL),
            MESH_EPROTO);
    }
    // The known ping: the frame carries the Python MAC. A ping frame is
    // small: 5 header bytes + signer 18 + body 24 + MAC 18.
    uint8_t frame[128];
    uint32_t frame_size = 0;
    assert_int_equal(mcrypto_envelope_seal_mac(&a_id, ab_pair_key, WIRE_TYPE_PING, ping_body,
                                               sizeof(ping_body), frame, sizeof(frame),
                                               &frame_size),
                     MESH_OK);
    assert_int_equal(frame_size, 3 + 18 + 2 + sizeof(ping_body) + 2 + WIRE_MAC_SIZE);
    assert_memory_equal(frame + frame_size - WIRE_MAC_SIZE, ping_mac, WIRE_MAC_SIZE);
    mcrypto_keypair_wipe(&a);
}

static void test_envelope_seal_mac_errors(void **state)
{
    (void) state;
    mesh_node_id id;
    memset(id.bytes, 0x33, sizeof(id.bytes));
    uint8_t frame[256];
    uint32_t frame_size = 4242;
    assert_int_equal(mcrypto_envelope_seal_mac(&id, ab_pair_key, WIRE_TYPE_ACK, ping_body,
                                               sizeof(ping_body), frame, sizeof(frame),
                                               &frame_size),
                     MESH_OK);
    uint32_t needed = frame_size;
    for (uint32_t small = 0; small < needed; small++) {
        frame_size = 4242;
        assert_int_equal(mcrypto_envelope_seal_mac(&id, ab_pair_key, WIRE_TYPE_ACK, ping_body,
                                                   sizeof(ping_body), frame, small, &frame_size),
                         MESH_EFULL);
        assert_int_equal(frame_size, 4242);
    }
    // Signed and unknown types, an empty body, an oversized body.
    static const uint32_t bad_types[] = {0, 1, 4, 5, 14, 16, 32};
    for (size_t i = 0; i < MESH_ARRAY_COUNT(bad_types); i++) {
        assert_int_equal(mcrypto_envelope_seal_mac(&id, ab_pair_key, (wire_type) bad_types[i],
                                                   ping_body, sizeof(ping_body), frame,
                                                   sizeof(frame), &frame_size),
                         MESH_EINVAL);
    }
    assert_int_equal(mcrypto_envelope_seal_mac(&id, ab_pair_key, WIRE_TYPE_ACK, ping_body, 0, frame,
                                               sizeof(frame), &frame_size),
                     MESH_EINVAL);
    static uint8_t big_body[WIRE_BODY_SIZE_MAX + 1];
    static uint8_t big_frame[WIRE_FRAME_SIZE_MAX];
    assert_int_equal(mcrypto_envelope_seal_mac(&id, ab_pair_key, WIRE_TYPE_PUSH, big_body,
                                               sizeof(big_body), big_frame, sizeof(big_frame),
                                               &frame_size),
                     MESH_EINVAL);
    assert_int_equal(frame_size, 4242);
    // The largest body fits the largest frame.
    assert_int_equal(mcrypto_envelope_seal_mac(&id, ab_pair_key, WIRE_TYPE_PUSH, big_body,
                                               WIRE_BODY_SIZE_MAX, big_frame, sizeof(big_frame),
                                               &frame_size),
                     MESH_OK);
    assert_true(frame_size <= WIRE_FRAME_SIZE_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pair_key_known_answer),
        cmocka_unit_test(test_pair_key_symmetric_distinct_deterministic),
        cmocka_unit_test(test_pair_key_construction),
        cmocka_unit_test(test_pair_key_refuses_bad_points),
        cmocka_unit_test(test_pair_key_cached),
        cmocka_unit_test(test_mac_known_answer),
        cmocka_unit_test(test_mac_documented_message),
        cmocka_unit_test(test_mac_bit_flips_fail),
        cmocka_unit_test(test_mac_domain_separation),
        cmocka_unit_test(test_mac_and_sign_refuse_each_others_types),
        cmocka_unit_test(test_mac_body_sizes),
        cmocka_unit_test(test_envelope_seal_mac),
        cmocka_unit_test(test_envelope_seal_mac_errors),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
