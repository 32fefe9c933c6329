/*
 * tests/unit/crypto_sign_test.c: key pairs, node ids, signatures with
 * domain separation, and envelopes.
 *
 * Known answers come from outside this code: RFC 8032's first Ed25519 test
 * vector for the key pair, and Python's hashlib.blake2b and base64.b32encode
 * for the node id of that key, so that a bug shared by the encoder and the
 * decoder cannot hide.
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

static const uint8_t rfc8032_seed[32] = {
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
};
static const uint8_t rfc8032_public_key[32] = {
    0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a,
    0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a,
};
// BLAKE2b-128("fedmesh/v1/node-id" || rfc8032_public_key), from Python.
static const uint8_t rfc8032_node_id[16] = {
    0xfc, 0xcc, 0xb2, 0xf5, 0xd6, 0x69, 0x36, 0x30, 0x5f, 0x62, 0x4e, 0x4b, 0xac, 0x87, 0xf8, 0xc8,
};
static const char rfc8032_node_id_text[] = "fm7tglf5owne3dax3cjzf2zb7yza";

static const wire_type all_types[] = {
    WIRE_TYPE_ADVERT,         WIRE_TYPE_CERT,          WIRE_TYPE_REVOCATION,
    WIRE_TYPE_SUSPECT,        WIRE_TYPE_LEASE_REQUEST, WIRE_TYPE_LEASE_OFFER,
    WIRE_TYPE_LEASE_REFUSE,   WIRE_TYPE_LEASE_RECORD,  WIRE_TYPE_LEASE_END,
    WIRE_TYPE_LEDGER_SUMMARY,
};
// Type 19 is "lease-record-msg", not "lease-record": that domain belongs
// to ledger/'s record signatures (test_lease_record_domains).
static const char *const all_type_names[] = {
    "advert",      "cert",         "revocation",       "suspect",   "lease-request",
    "lease-offer", "lease-refuse", "lease-record-msg", "lease-end", "ledger-summary",
};
_Static_assert(sizeof(all_types) / sizeof(all_types[0]) ==
                   sizeof(all_type_names) / sizeof(all_type_names[0]),
               "one name per type");

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

static void test_init_twice(void **state)
{
    (void) state;
    assert_int_equal(mcrypto_init(), MESH_OK);
    assert_int_equal(mcrypto_init(), MESH_OK);
}

static void test_keypair_deterministic(void **state)
{
    (void) state;
    mcrypto_keypair a;
    mcrypto_keypair b;
    assert_int_equal(mcrypto_keypair_from_seed(rfc8032_seed, &a), MESH_OK);
    assert_int_equal(mcrypto_keypair_from_seed(rfc8032_seed, &b), MESH_OK);
    assert_memory_equal(a.public_key, rfc8032_public_key, sizeof(rfc8032_public_key));
    assert_memory_equal(&a, &b, sizeof(a));
    // libsodium's secret key is seed || public key.
    assert_memory_equal(a.secret_key, rfc8032_seed, 32);
    assert_memory_equal(a.secret_key + 32, rfc8032_public_key, 32);

    mcrypto_keypair c;
    keypair_from_byte(1, &c);
    assert_memory_not_equal(c.public_key, a.public_key, MCRYPTO_PUBLIC_KEY_SIZE);
    mcrypto_keypair_wipe(&a);
    static const uint8_t zero[sizeof(a)];
    assert_memory_equal(&a, zero, sizeof(a));
    mcrypto_keypair_wipe(&b);
    mcrypto_keypair_wipe(&c);
}

static void test_node_id_known_answer(void **state)
{
    (void) state;
    mesh_node_id id;
    mcrypto_node_id(rfc8032_public_key, &id);
    assert_memory_equal(id.bytes, rfc8032_node_id, sizeof(rfc8032_node_id));

    // The same hash computed the other way: one buffer, one call.
    static const uint8_t context[18] = {'f', 'e', 'd', 'm', 'e', 's', 'h', '/', 'v',
                                        '1', '/', 'n', 'o', 'd', 'e', '-', 'i', 'd'};
    uint8_t input[18 + 32];
    memcpy(input, context, sizeof(context));
    memcpy(input + 18, rfc8032_public_key, 32);
    uint8_t hash[16];
    assert_int_equal(crypto_generichash(hash, sizeof(hash), input, sizeof(input), NULL, 0), 0);
    assert_memory_equal(hash, id.bytes, sizeof(hash));

    char text[MCRYPTO_NODE_ID_TEXT_SIZE];
    mcrypto_node_id_format(&id, text);
    assert_string_equal(text, rfc8032_node_id_text);
    mesh_node_id parsed;
    assert_int_equal(mcrypto_node_id_parse(text, &parsed), MESH_OK);
    assert_true(mesh_node_id_equal(&parsed, &id));

    mesh_node_id again;
    mcrypto_node_id(rfc8032_public_key, &again);
    assert_true(mesh_node_id_equal(&again, &id));
}

static void test_node_id_text_round_trip(void **state)
{
    (void) state;
    mesh_node_id id;
    char text[MCRYPTO_NODE_ID_TEXT_SIZE];
    memset(&id, 0, sizeof(id));
    mcrypto_node_id_format(&id, text);
    assert_string_equal(text, "fmaaaaaaaaaaaaaaaaaaaaaaaaaa");
    memset(&id, 0xff, sizeof(id));
    mcrypto_node_id_format(&id, text);
    assert_string_equal(text, "fm77777777777777777777777774");

    mesh_rng rng;
    mesh_rng_seed(&rng, 42);
    for (uint32_t round = 0; round < 2000; round++) {
        for (uint32_t i = 0; i < MESH_NODE_ID_SIZE; i++) {
            id.bytes[i] = (uint8_t) mesh_rng_next(&rng);
        }
        mcrypto_node_id_format(&id, text);
        assert_int_equal(strlen(text), MCRYPTO_NODE_ID_TEXT_SIZE - 1);
        mesh_node_id parsed;
        assert_int_equal(mcrypto_node_id_parse(text, &parsed), MESH_OK);
        assert_true(mesh_node_id_equal(&parsed, &id));
    }
}

static void test_node_id_parse_rejects(void **state)
{
    (void) state;
    static const char *const bad[] = {
        "",
        "fm",
        "fmaaaaaaaaaaaaaaaaaaaaaaaaa",   // 25 letters
        "fmaaaaaaaaaaaaaaaaaaaaaaaaaaa", // 27 letters
        "fnaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "FMaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "mfaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "fmAaaaaaaaaaaaaaaaaaaaaaaaaa", // upper case
        "fma0aaaaaaaaaaaaaaaaaaaaaaaa", // '0' is not base32
        "fma1aaaaaaaaaaaaaaaaaaaaaaaa",
        "fma8aaaaaaaaaaaaaaaaaaaaaaaa",
        "fma9aaaaaaaaaaaaaaaaaaaaaaaa",
        "fma=aaaaaaaaaaaaaaaaaaaaaaaa",
        "fma aaaaaaaaaaaaaaaaaaaaaaaa",
        "fmaaaaaaaaaaaaaaaaaaaaaaaaab", // padding bits 01
        "fmaaaaaaaaaaaaaaaaaaaaaaaaac", // padding bits 10
        "fmaaaaaaaaaaaaaaaaaaaaaaaaad", // padding bits 11
        "fm77777777777777777777777777",
        "fm7tglf5owne3dax3cjzf2zb7yza ",
        " fm7tglf5owne3dax3cjzf2zb7yza",
        "fm7tglf5owne3dax3cjzf2zb7yza\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        mesh_node_id id;
        memset(&id, 0x5a, sizeof(id));
        assert_int_equal(mcrypto_node_id_parse(bad[i], &id), MESH_EINVAL);
        for (uint32_t k = 0; k < MESH_NODE_ID_SIZE; k++) {
            assert_int_equal(id.bytes[k], 0x5a); // untouched on failure
        }
    }
    // The last letter's high 3 bits are data: 'e' (00100) is fine.
    mesh_node_id id;
    assert_int_equal(mcrypto_node_id_parse("fmaaaaaaaaaaaaaaaaaaaaaaaaae", &id), MESH_OK);
    assert_int_equal(id.bytes[15], 0x01);
}

static void test_sign_verify(void **state)
{
    (void) state;
    mcrypto_keypair keypair;
    keypair_from_byte(3, &keypair);
    static const uint8_t body[] = "a body of some bytes";
    for (size_t t = 0; t < sizeof(all_types) / sizeof(all_types[0]); t++) {
        uint8_t signature[MCRYPTO_SIGNATURE_SIZE];
        assert_int_equal(mcrypto_sign(&keypair, all_types[t], body, sizeof(body), signature),
                         MESH_OK);
        assert_int_equal(
            mcrypto_verify(keypair.public_key, all_types[t], body, sizeof(body), signature),
            MESH_OK);
        // Deterministic: the same signature twice.
        uint8_t again[MCRYPTO_SIGNATURE_SIZE];
        assert_int_equal(mcrypto_sign(&keypair, all_types[t], body, sizeof(body), again), MESH_OK);
        assert_memory_equal(signature, again, sizeof(again));

        // The documented message, checked with libsodium directly.
        uint8_t message[64];
        size_t prefix = strlen("fedmesh/v1/") + strlen(all_type_names[t]) + 1;
        int n = snprintf((char *) message, sizeof(message), "fedmesh/v1/%s", all_type_names[t]);
        assert_true(n > 0 && (size_t) n + 1 == prefix);
        message[prefix - 1] = 0x00;
        memcpy(message + prefix, body, sizeof(body));
        assert_int_equal(crypto_sign_verify_detached(signature, message, prefix + sizeof(body),
                                                     keypair.public_key),
                         0);

        // An empty body signs too.
        assert_int_equal(mcrypto_sign(&keypair, all_types[t], NULL, 0, signature), MESH_OK);
        assert_int_equal(mcrypto_verify(keypair.public_key, all_types[t], NULL, 0, signature),
                         MESH_OK);
        assert_int_equal(mcrypto_verify(keypair.public_key, all_types[t], body, 1, signature),
                         MESH_EAUTH);
    }
    mcrypto_keypair_wipe(&keypair);
}

static void test_domain_separation(void **state)
{
    (void) state;
    mcrypto_keypair keypair;
    keypair_from_byte(4, &keypair);
    static const uint8_t body[] = {0x83, 0x00, 0x01, 0x01, 0x02, 0x02, 0xa1, 0x78};
    for (size_t s = 0; s < sizeof(all_types) / sizeof(all_types[0]); s++) {
        uint8_t signature[MCRYPTO_SIGNATURE_SIZE];
        assert_int_equal(mcrypto_sign(&keypair, all_types[s], body, sizeof(body), signature),
                         MESH_OK);
        for (size_t v = 0; v < sizeof(all_types) / sizeof(all_types[0]); v++) {
            mesh_err expected = s == v ? MESH_OK : MESH_EAUTH;
            assert_int_equal(
                mcrypto_verify(keypair.public_key, all_types[v], body, sizeof(body), signature),
                expected);
        }
    }
    mcrypto_keypair_wipe(&keypair);
}

// ledger/entry.c signs a bare record under "fedmesh/v1/lease-record" NUL
// record; the RECORD message (type 19) is signed under its own domain, so
// neither signature verifies as the other, even over the same bytes.
static void test_lease_record_domains(void **state)
{
    (void) state;
    mcrypto_keypair keypair;
    keypair_from_byte(9, &keypair);
    static const uint8_t record[] = {0x89, 0x00, 0x02, 0x01, 0x01, 0x02, 0xc4, 0x01, 0x7f};
    static const char ledger_domain[] = "fedmesh/v1/lease-record";
    uint8_t message[sizeof(ledger_domain) + sizeof(record)];
    memcpy(message, ledger_domain, sizeof(ledger_domain)); // with its NUL
    memcpy(message + sizeof(ledger_domain), record, sizeof(record));
    uint8_t ledger_signature[MCRYPTO_SIGNATURE_SIZE];
    assert_int_equal(
        crypto_sign_detached(ledger_signature, NULL, message, sizeof(message), keypair.secret_key),
        0);
    assert_int_equal(mcrypto_verify(keypair.public_key, WIRE_TYPE_LEASE_RECORD, record,
                                    sizeof(record), ledger_signature),
                     MESH_EAUTH);

    uint8_t message_signature[MCRYPTO_SIGNATURE_SIZE];
    assert_int_equal(
        mcrypto_sign(&keypair, WIRE_TYPE_LEASE_RECORD, record, sizeof(record), message_signature),
        MESH_OK);
    assert_memory_not_equal(message_signature, ledger_signature, MCRYPTO_SIGNATURE_SIZE);
    assert_int_equal(crypto_sign_verify_detached(message_signature, message, sizeof(message),
                                                 keypair.public_key),
                     -1);
    // No lease type, whatever its name, signs under the ledger's domain.
    for (uint32_t type = WIRE_TYPE_LEASE_REQUEST; type <= WIRE_TYPE_LEDGER_SUMMARY; type++) {
        assert_int_equal(mcrypto_verify(keypair.public_key, (wire_type) type, record,
                                        sizeof(record), ledger_signature),
                         MESH_EAUTH);
    }
    mcrypto_keypair_wipe(&keypair);
}

static void test_bit_flips_fail(void **state)
{
    (void) state;
    mcrypto_keypair keypair;
    keypair_from_byte(5, &keypair);
    uint8_t body[40];
    for (uint32_t i = 0; i < sizeof(body); i++) {
        body[i] = (uint8_t) (i * 13u + 1u);
    }
    uint8_t signature[MCRYPTO_SIGNATURE_SIZE];
    assert_int_equal(mcrypto_sign(&keypair, WIRE_TYPE_ADVERT, body, sizeof(body), signature),
                     MESH_OK);
    for (uint32_t bit = 0; bit < sizeof(body) * 8u; bit++) {
        body[bit / 8] ^= (uint8_t) (1u << (bit % 8));
        assert_int_equal(
            mcrypto_verify(keypair.public_key, WIRE_TYPE_ADVERT, body, sizeof(body), signature),
            MESH_EAUTH);
        body[bit / 8] ^= (uint8_t) (1u << (bit % 8));
    }
    for (uint32_t bit = 0; bit < sizeof(signature) * 8u; bit++) {
        signature[bit / 8] ^= (uint8_t) (1u << (bit % 8));
        assert_int_equal(
            mcrypto_verify(keypair.public_key, WIRE_TYPE_ADVERT, body, sizeof(body), signature),
            MESH_EAUTH);
        signature[bit / 8] ^= (uint8_t) (1u << (bit % 8));
    }
    assert_int_equal(
        mcrypto_verify(keypair.public_key, WIRE_TYPE_ADVERT, body, sizeof(body), signature),
        MESH_OK);
    // Another key does not verify.
    mcrypto_keypair other;
    keypair_from_byte(6, &other);
    assert_int_equal(
        mcrypto_verify(other.public_key, WIRE_TYPE_ADVERT, body, sizeof(body), signature),
        MESH_EAUTH);
    mcrypto_keypair_wipe(&keypair);
    mcrypto_keypair_wipe(&other);
}

static void test_sign_invalid_arguments(void **state)
{
    (void) state;
    mcrypto_keypair keypair;
    keypair_from_byte(7, &keypair);
    static uint8_t big[WIRE_BODY_SIZE_MAX + 1];
    memset(big, 0x42, sizeof(big));
    uint8_t signature[MCRYPTO_SIGNATURE_SIZE];
    memset(signature, 0x11, sizeof(signature));
    // Unknown and reserved numbers, and every MAC'd type: a control
    // message must never get a signature (mcrypto_mac is its only form).
    static const int bad_types[] = {0, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 22, 31, 32, 1000};
    for (size_t i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++) {
        wire_type type = (wire_type) bad_types[i];
        assert_int_equal(mcrypto_sign(&keypair, type, big, 10, signature), MESH_EINVAL);
        assert_int_equal(mcrypto_verify(keypair.public_key, type, big, 10, signature), MESH_EINVAL);
    }
    for (uint32_t i = 0; i < sizeof(signature); i++) {
        assert_int_equal(signature[i], 0x11); // untouched on failure
    }
    assert_int_equal(mcrypto_sign(&keypair, WIRE_TYPE_ADVERT, big, sizeof(big), signature),
                     MESH_EINVAL);
    assert_int_equal(
        mcrypto_verify(keypair.public_key, WIRE_TYPE_ADVERT, big, sizeof(big), signature),
        MESH_EINVAL);
    // Exactly the largest body is fine.
    assert_int_equal(mcrypto_sign(&keypair, WIRE_TYPE_ADVERT, big, WIRE_BODY_SIZE_MAX, signature),
                     MESH_OK);
    assert_int_equal(
        mcrypto_verify(keypair.public_key, WIRE_TYPE_ADVERT, big, WIRE_BODY_SIZE_MAX, signature),
        MESH_OK);
    mcrypto_keypair_wipe(&keypair);
}

// Finds needle in frame; returns its offset or -1.
static long
find_bytes(const uint8_t *frame, uint32_t frame_size, const uint8_t *needle, uint32_t needle_size)
{
    for (uint32_t i = 0; i + needle_size <= frame_size; i++) {
        if (memcmp(frame + i, needle, needle_size) == 0) {
            return (long) i;
        }
    }
    return -1;
}

static void test_envelope_seal_open(void **state)
{
    (void) state;
    mcrypto_keypair keypair;
    keypair_from_byte(8, &keypair);
    static const uint8_t body[] = {0x81, 0x00, 0xa3, 'a', 'b', 'c'};
    uint8_t frame[WIRE_FRAME_SIZE_MAX];
    uint32_t frame_size = 0;
    for (size_t t = 0; t < sizeof(all_types) / sizeof(all_types[0]); t++) {
        assert_int_equal(mcrypto_envelope_seal(&keypair, all_types[t], body, sizeof(body), frame,
                                               sizeof(frame), &frame_size),
                         MESH_OK);
        assert_true(frame_size > sizeof(body) + MCRYPTO_SIGNATURE_SIZE + MESH_NODE_ID_SIZE);
        assert_true(frame_size <= sizeof(body) + WIRE_ENVELOPE_OVERHEAD_MAX);
        wire_envelope envelope;
        wire_error error = {WIRE_REASON_NONE, 0};
        assert_int_equal(mcrypto_envelope_open(keypair.public_key, all_types[t], frame, frame_size,
                                               &envelope, &error),
                         MESH_OK);
        assert_int_equal(envelope.version, WIRE_VERSION);
        assert_int_equal(envelope.type, all_types[t]);
        mesh_node_id signer;
        mcrypto_node_id(keypair.public_key, &signer);
        assert_true(mesh_node_id_equal(&envelope.signer, &signer));
        assert_int_equal(envelope.body_size, sizeof(body));
        assert_memory_equal(envelope.body, body, sizeof(body));
        assert_true(envelope.body >= frame &&
                    envelope.body + envelope.body_size <= frame + frame_size);
        assert_int_equal(mcrypto_verify(keypair.public_key, all_types[t], envelope.body,
                                        envelope.body_size, envelope.signature),
                         MESH_OK);
        // Deterministic frames.
        uint8_t again[WIRE_FRAME_SIZE_MAX];
        uint32_t again_size = 0;
        assert_int_equal(mcrypto_envelope_seal(&keypair, all_types[t], body, sizeof(body), again,
                                               sizeof(again), &again_size),
                         MESH_OK);
        assert_int_equal(again_size, frame_size);
        assert_memory_equal(again, frame, frame_size);
        // NULL error_out is allowed.
        assert_int_equal(mcrypto_envelope_open(keypair.public_key, all_types[t], frame, frame_size,
                                               &envelope, NULL),
                         MESH_OK);
    }
    mcrypto_keypair_wipe(&keypair);
}

static void test_envelope_open_refuses(void **state)
{
    (void) state;
    mcrypto_keypair keypair;
    keypair_from_byte(9, &keypair);
    mcrypto_keypair other;
    keypair_from_byte(10, &other);
    static const uint8_t body[] = {0x81, 0x00, 0xa3, 'x', 'y', 'z'};
    uint8_t frame[512];
    uint32_t frame_size = 0;
    assert_int_equal(mcrypto_envelope_seal(&keypair, WIRE_TYPE_ADVERT, body, sizeof(body), frame,
                                           sizeof(frame), &frame_size),
                     MESH_OK);
    wire_envelope envelope;
    memset(&envelope, 0x77, sizeof(envelope));
    wire_envelope before = envelope;
    wire_error error = {WIRE_REASON_NONE, 0};

    // Wrong public key: the signer is not its node id.
    assert_int_equal(mcrypto_envelope_open(other.public_key, WIRE_TYPE_ADVERT, frame, frame_size,
                                           &envelope, &error),
                     MESH_EAUTH);
    assert_memory_equal(&envelope, &before, sizeof(envelope));

    // Wrong expected type.
    assert_int_equal(mcrypto_envelope_open(keypair.public_key, WIRE_TYPE_CERT, frame, frame_size,
                                           &envelope, &error),
                     MESH_EPROTO);
    assert_int_equal(error.reason, WIRE_REASON_UNKNOWN_TYPE);
    assert_int_equal(mcrypto_envelope_open(keypair.public_key, WIRE_TYPE_REVOCATION, frame,
                                           frame_size, &envelope, NULL),
                     MESH_EPROTO);
    assert_memory_equal(&envelope, &before, sizeof(envelope));

    // Truncated and empty frames.
    for (uint32_t size = 0; size < frame_size; size++) {
        assert_int_equal(mcrypto_envelope_open(keypair.public_key, WIRE_TYPE_ADVERT, frame, size,
                                               &envelope, &error),
                         MESH_EPROTO);
    }
    assert_memory_equal(&envelope, &before, sizeof(envelope));

    // The signature or the body tampered with: EAUTH (or EPROTO if the
    // flip breaks the framing), never OK.
    long body_at = find_bytes(frame, frame_size, body, sizeof(body));
    assert_true(body_at > 0);
    for (uint32_t i = 0; i < frame_size; i++) {
        frame[i] ^= 0x01;
        mesh_err err = mcrypto_envelope_open(keypair.public_key, WIRE_TYPE_ADVERT, frame,
                                             frame_size, &envelope, &error);
        assert_int_not_equal(err, MESH_OK);
        if (i >= (uint32_t) body_at && i < (uint32_t) body_at + sizeof(body)) {
            assert_int_equal(err, MESH_EAUTH);
        }
        frame[i] ^= 0x01;
    }
    assert_memory_equal(&envelope, &before, sizeof(envelope));

    // A swapped signer field: claims to be `other`, signed by keypair.
    mesh_node_id signer;
    mcrypto_node_id(keypair.public_key, &signer);
    mesh_node_id other_id;
    mcrypto_node_id(other.public_key, &other_id);
    long signer_at = find_bytes(frame, frame_size, signer.bytes, MESH_NODE_ID_SIZE);
    assert_true(signer_at > 0);
    memcpy(frame + signer_at, other_id.bytes, MESH_NODE_ID_SIZE);
    assert_int_equal(mcrypto_envelope_open(other.public_key, WIRE_TYPE_ADVERT, frame, frame_size,
                                           &envelope, &error),
                     MESH_EAUTH);
    assert_memory_equal(&envelope, &before, sizeof(envelope));
    mcrypto_keypair_wipe(&keypair);
    mcrypto_keypair_wipe(&other);
}

static void test_envelope_seal_errors(void **state)
{
    (void) state;
    mcrypto_keypair keypair;
    keypair_from_byte(11, &keypair);
    static const uint8_t body[] = {0x80};
    uint8_t frame[256];
    uint32_t frame_size = 4242;
    assert_int_equal(mcrypto_envelope_seal(&keypair, WIRE_TYPE_ADVERT, body, sizeof(body), frame,
                                           sizeof(frame), &frame_size),
                     MESH_OK);
    uint32_t needed = frame_size;
    frame_size = 4242;
    assert_int_equal(mcrypto_envelope_seal(&keypair, WIRE_TYPE_ADVERT, body, sizeof(body), frame,
                                           needed - 1, &frame_size),
                     MESH_EFULL);
    assert_int_equal(frame_size, 4242);
    assert_int_equal(mcrypto_envelope_seal(&keypair, (wire_type) 9, body, sizeof(body), frame,
                                           sizeof(frame), &frame_size),
                     MESH_EINVAL);
    assert_int_equal(mcrypto_envelope_seal(&keypair, WIRE_TYPE_ADVERT, body, 0, frame,
                                           sizeof(frame), &frame_size),
                     MESH_EINVAL);
    assert_int_equal(frame_size, 4242);

    // The largest body fits the largest frame.
    static uint8_t big_body[WIRE_BODY_SIZE_MAX];
    memset(big_body, 0xc3, sizeof(big_body));
    static uint8_t big_frame[WIRE_FRAME_SIZE_MAX];
    assert_int_equal(mcrypto_envelope_seal(&keypair, WIRE_TYPE_ADVERT, big_body, sizeof(big_body),
                                           big_frame, sizeof(big_frame), &frame_size),
                     MESH_OK);
    wire_envelope envelope;
    assert_int_equal(mcrypto_envelope_open(keypair.public_key, WIRE_TYPE_ADVERT, big_frame,
                                           frame_size, &envelope, NULL),
                     MESH_OK);
    assert_int_equal(envelope.body_size, WIRE_BODY_SIZE_MAX);
    mcrypto_keypair_wipe(&keypair);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_twice),
        cmocka_unit_test(test_keypair_deterministic),
        cmocka_unit_test(test_node_id_known_answer),
        cmocka_unit_test(test_node_id_text_round_trip),
        cmocka_unit_test(test_node_id_parse_rejects),
        cmocka_unit_test(test_sign_verify),
        cmocka_unit_test(test_domain_separation),
        cmocka_unit_test(test_lease_record_domains),
        cmocka_unit_test(test_bit_flips_fail),
        cmocka_unit_test(test_sign_invalid_arguments),
        cmocka_unit_test(test_envelope_seal_open),
        cmocka_unit_test(test_envelope_open_refuses),
        cmocka_unit_test(test_envelope_seal_errors),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
