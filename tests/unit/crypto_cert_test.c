/*
 * tests/unit/crypto_cert_test.c: member certificates and revocations:
 * issue, check in the documented order, tampering, revocation lists, and
 * armored files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/crypto.h"

#define NOW_NS         1750000000000000000ll /* June 2025 */
#define VALID_FROM_NS  (NOW_NS - 86400ll * 1000000000ll)
#define VALID_UNTIL_NS (NOW_NS + 365ll * 86400ll * 1000000000ll)

typedef struct fixture {
    mcrypto_keypair root;
    mcrypto_keypair other_root;
    mcrypto_keypair member;
    wire_cert cert;
    uint8_t frame[1024];
    uint32_t frame_size;
} fixture;

static void keypair_from_byte(uint8_t value, mcrypto_keypair *keypair_out)
{
    uint8_t seed[MCRYPTO_SEED_SIZE];
    memset(seed, value, sizeof(seed));
    assert_int_equal(mcrypto_keypair_from_seed(seed, keypair_out), MESH_OK);
}

static void cert_make(const mcrypto_keypair *member, wire_cert *cert_out)
{
    memset(cert_out, 0, sizeof(*cert_out));
    memcpy(cert_out->public_key, member->public_key, MCRYPTO_PUBLIC_KEY_SIZE);
    memcpy(cert_out->name, "paris-dc-1", sizeof("paris-dc-1"));
    memcpy(cert_out->operator_name, "Exemple SAS", sizeof("Exemple SAS"));
    memcpy(cert_out->country, "FR", 3);
    cert_out->jurisdiction_count = 2;
    memcpy(cert_out->jurisdictions[0], "EU", 3);
    memcpy(cert_out->jurisdictions[1], "FR", 3);
    cert_out->certifications = WIRE_CERTIFICATION_SECNUMCLOUD | WIRE_CERTIFICATION_HDS;
    cert_out->valid_from_ns = VALID_FROM_NS;
    cert_out->valid_until_ns = VALID_UNTIL_NS;
    cert_out->serial = 17;
}

static int fixture_setup(void **state)
{
    if (mcrypto_init() != MESH_OK) {
        return -1;
    }
    static fixture f;
    memset(&f, 0, sizeof(f));
    keypair_from_byte(0x01, &f.root);
    keypair_from_byte(0x02, &f.other_root);
    keypair_from_byte(0x03, &f.member);
    cert_make(&f.member, &f.cert);
    if (mcrypto_cert_issue(&f.root, &f.cert, f.frame, sizeof(f.frame), &f.frame_size) != MESH_OK) {
        return -1;
    }
    *state = &f;
    return 0;
}

static int fixture_teardown(void **state)
{
    fixture *f = *state;
    mcrypto_keypair_wipe(&f->root);
    mcrypto_keypair_wipe(&f->other_root);
    mcrypto_keypair_wipe(&f->member);
    return 0;
}

// Checks frame and expects status and error; cert_out must stay untouched
// unless the result is VALID.
static void cert_expect(const fixture *f,
                        const uint8_t *frame,
                        uint32_t frame_size,
                        int64_t now_ns,
                        const mesh_node_id *revoked,
                        uint32_t revoked_count,
                        mcrypto_cert_status status_expected,
                        mesh_err err_expected)
{
    wire_cert cert;
    memset(&cert, 0xab, sizeof(cert));
    wire_cert before = cert;
    mcrypto_cert_status status = (mcrypto_cert_status) 99;
    mesh_err err = mcrypto_cert_check(f->root.public_key, frame, frame_size, now_ns, revoked,
                                      revoked_count, &cert, &status);
    assert_int_equal(status, status_expected);
    assert_int_equal(err, err_expected);
    if (status_expected == MCRYPTO_CERT_VALID) {
        assert_memory_equal(&cert, &f->cert, sizeof(cert));
    } else {
        assert_memory_equal(&cert, &before, sizeof(cert));
    }
}

static void test_issue_and_check_valid(void **state)
{
    fixture *f = *state;
    cert_expect(f, f->frame, f->frame_size, NOW_NS, NULL, 0, MCRYPTO_CERT_VALID, MESH_OK);
    // The frame is an ordinary envelope of type CERT signed by the root.
    wire_envelope envelope;
    assert_int_equal(mcrypto_envelope_open(f->root.public_key, WIRE_TYPE_CERT, f->frame,
                                           f->frame_size, &envelope, NULL),
                     MESH_OK);
    // cert_out and status_out may be NULL.
    assert_int_equal(mcrypto_cert_check(f->root.public_key, f->frame, f->frame_size, NOW_NS, NULL,
                                        0, NULL, NULL),
                     MESH_OK);
    // Issuing is deterministic.
    uint8_t again[1024];
    uint32_t again_size = 0;
    assert_int_equal(mcrypto_cert_issue(&f->root, &f->cert, again, sizeof(again), &again_size),
                     MESH_OK);
    assert_int_equal(again_size, f->frame_size);
    assert_memory_equal(again, f->frame, f->frame_size);
}

static void test_validity_window(void **state)
{
    fixture *f = *state;
    cert_expect(f, f->frame, f->frame_size, VALID_FROM_NS, NULL, 0, MCRYPTO_CERT_VALID, MESH_OK);
    cert_expect(f, f->frame, f->frame_size, VALID_UNTIL_NS - 1, NULL, 0, MCRYPTO_CERT_VALID,
                MESH_OK);
    cert_expect(f, f->frame, f->frame_size, VALID_FROM_NS - 1, NULL, 0, MCRYPTO_CERT_NOT_YET_VALID,
                MESH_ESTALE);
    cert_expect(f, f->frame, f->frame_size, INT64_MIN, NULL, 0, MCRYPTO_CERT_NOT_YET_VALID,
                MESH_ESTALE);
    cert_expect(f, f->frame, f->frame_size, VALID_UNTIL_NS, NULL, 0, MCRYPTO_CERT_EXPIRED,
                MESH_ESTALE);
    cert_expect(f, f->frame, f->frame_size, VALID_UNTIL_NS + 1, NULL, 0, MCRYPTO_CERT_EXPIRED,
                MESH_ESTALE);
    cert_expect(f, f->frame, f->frame_size, INT64_MAX, NULL, 0, MCRYPTO_CERT_EXPIRED, MESH_ESTALE);
}

static void test_other_root(void **state)
{
    fixture *f = *state;
    uint8_t frame[1024];
    uint32_t frame_size = 0;
    assert_int_equal(
        mcrypto_cert_issue(&f->other_root, &f->cert, frame, sizeof(frame), &frame_size), MESH_OK);
    cert_expect(f, frame, frame_size, NOW_NS, NULL, 0, MCRYPTO_CERT_OTHER_ROOT, MESH_EAUTH);
    // Other root comes before the time checks.
    cert_expect(f, frame, frame_size, INT64_MAX, NULL, 0, MCRYPTO_CERT_OTHER_ROOT, MESH_EAUTH);
    // And a self-signed member certificate is another root too.
    assert_int_equal(mcrypto_cert_issue(&f->member, &f->cert, frame, sizeof(frame), &frame_size),
                     MESH_OK);
    cert_expect(f, frame, frame_size, NOW_NS, NULL, 0, MCRYPTO_CERT_OTHER_ROOT, MESH_EAUTH);
}

// Returns the offset of the body and of the signature inside the frame.
static void frame_layout(const fixture *f, uint32_t *body_at, uint32_t *signature_at)
{
    wire_envelope envelope;
    assert_int_equal(wire_envelope_decode(f->frame, f->frame_size, &envelope, NULL), MESH_OK);
    *body_at = (uint32_t) (envelope.body - f->frame);
    *signature_at = UINT32_MAX;
    for (uint32_t i = 0; i + WIRE_SIGNATURE_SIZE <= f->frame_size; i++) {
        if (memcmp(f->frame + i, envelope.signature, WIRE_SIGNATURE_SIZE) == 0) {
            *signature_at = i;
        }
    }
    assert_true(*signature_at != UINT32_MAX);
    assert_true(*body_at + envelope.body_size <= *signature_at);
}

static void test_tampered_body(void **state)
{
    fixture *f = *state;
    uint32_t body_at = 0;
    uint32_t signature_at = 0;
    frame_layout(f, &body_at, &signature_at);
    wire_envelope envelope;
    assert_int_equal(wire_envelope_decode(f->frame, f->frame_size, &envelope, NULL), MESH_OK);
    uint8_t frame[1024];
    static const uint8_t flips[] = {0x01, 0x80, 0xff};
    uint32_t malformed_count = 0;
    uint32_t bad_signature_count = 0;
    for (uint32_t i = body_at; i < body_at + envelope.body_size; i++) {
        for (size_t k = 0; k < sizeof(flips); k++) {
            memcpy(frame, f->frame, f->frame_size);
            frame[i] ^= flips[k];
            wire_cert cert;
            memset(&cert, 0xab, sizeof(cert));
            wire_cert before = cert;
            mcrypto_cert_status status = MCRYPTO_CERT_VALID;
            mesh_err err = mcrypto_cert_check(f->root.public_key, frame, f->frame_size, NOW_NS,
                                              NULL, 0, &cert, &status);
            assert_int_not_equal(err, MESH_OK);
            assert_true(status == MCRYPTO_CERT_MALFORMED || status == MCRYPTO_CERT_BAD_SIGNATURE);
            malformed_count += status == MCRYPTO_CERT_MALFORMED;
            bad_signature_count += status == MCRYPTO_CERT_BAD_SIGNATURE;
            assert_memory_equal(&cert, &before, sizeof(cert));
        }
    }
    // Both paths were exercised (strings change under a flip and stay
    // well-formed; headers do not).
    assert_true(malformed_count > 0);
    assert_true(bad_signature_count > 0);
}

static void test_tampered_signature_and_frame(void **state)
{
    fixture *f = *state;
    uint32_t body_at = 0;
    uint32_t signature_at = 0;
    frame_layout(f, &body_at, &signature_at);
    uint8_t frame[1024];
    for (uint32_t i = signature_at; i < signature_at + WIRE_SIGNATURE_SIZE; i++) {
        memcpy(frame, f->frame, f->frame_size);
        frame[i] ^= 0x01;
        cert_expect(f, frame, f->frame_size, NOW_NS, NULL, 0, MCRYPTO_CERT_BAD_SIGNATURE,
                    MESH_EAUTH);
    }
    // Every byte of the whole frame: never valid.
    for (uint32_t i = 0; i < f->frame_size; i++) {
        memcpy(frame, f->frame, f->frame_size);
        frame[i] ^= 0x20;
        mcrypto_cert_status status = MCRYPTO_CERT_VALID;
        assert_int_not_equal(mcrypto_cert_check(f->root.public_key, frame, f->frame_size, NOW_NS,
                                                NULL, 0, NULL, &status),
                             MESH_OK);
        assert_int_not_equal(status, MCRYPTO_CERT_VALID);
    }
    // Truncated, extended, empty.
    for (uint32_t size = 0; size < f->frame_size; size++) {
        cert_expect(f, f->frame, size, NOW_NS, NULL, 0, MCRYPTO_CERT_MALFORMED, MESH_EPROTO);
    }
    memcpy(frame, f->frame, f->frame_size);
    frame[f->frame_size] = 0x00;
    cert_expect(f, frame, f->frame_size + 1, NOW_NS, NULL, 0, MCRYPTO_CERT_MALFORMED, MESH_EPROTO);
}

static void test_wrong_type_is_malformed(void **state)
{
    fixture *f = *state;
    // A well-formed certificate body sealed as an advert.
    uint8_t body[1024];
    uint32_t body_size = 0;
    assert_int_equal(wire_cert_encode(&f->cert, body, sizeof(body), &body_size), MESH_OK);
    uint8_t frame[1024];
    uint32_t frame_size = 0;
    assert_int_equal(mcrypto_envelope_seal(&f->root, WIRE_TYPE_ADVERT, body, body_size, frame,
                                           sizeof(frame), &frame_size),
                     MESH_OK);
    cert_expect(f, frame, frame_size, NOW_NS, NULL, 0, MCRYPTO_CERT_MALFORMED, MESH_EPROTO);
    // A revocation is not a certificate.
    wire_revocation revocation;
    memset(&revocation, 0, sizeof(revocation));
    memcpy(revocation.public_key, f->member.public_key, MCRYPTO_PUBLIC_KEY_SIZE);
    revocation.revoked_at_ns = NOW_NS;
    assert_int_equal(
        mcrypto_revocation_issue(&f->root, &revocation, frame, sizeof(frame), &frame_size),
        MESH_OK);
    cert_expect(f, frame, frame_size, NOW_NS, NULL, 0, MCRYPTO_CERT_MALFORMED, MESH_EPROTO);
    // A non-certificate body sealed as CERT by the root.
    static const uint8_t not_cert[] = {0x80};
    assert_int_equal(mcrypto_envelope_seal(&f->root, WIRE_TYPE_CERT, not_cert, sizeof(not_cert),
                                           frame, sizeof(frame), &frame_size),
                     MESH_OK);
    cert_expect(f, frame, frame_size, NOW_NS, NULL, 0, MCRYPTO_CERT_MALFORMED, MESH_EPROTO);
}

static void test_revoked(void **state)
{
    fixture *f = *state;
    mesh_node_id list[3];
    mcrypto_node_id(f->root.public_key, &list[0]);
    mcrypto_node_id(f->member.public_key, &list[1]);
    mcrypto_node_id(f->other_root.public_key, &list[2]);
    cert_expect(f, f->frame, f->frame_size, NOW_NS, list, 3, MCRYPTO_CERT_REVOKED, MESH_EAUTH);
    cert_expect(f, f->frame, f->frame_size, NOW_NS, &list[1], 1, MCRYPTO_CERT_REVOKED, MESH_EAUTH);
    // Others in the list do not affect this member.
    cert_expect(f, f->frame, f->frame_size, NOW_NS, list, 1, MCRYPTO_CERT_VALID, MESH_OK);
    cert_expect(f, f->frame, f->frame_size, NOW_NS, &list[2], 1, MCRYPTO_CERT_VALID, MESH_OK);
    mesh_node_id swapped[2] = {list[0], list[2]};
    cert_expect(f, f->frame, f->frame_size, NOW_NS, swapped, 2, MCRYPTO_CERT_VALID, MESH_OK);
    // Expiry is reported before revocation.
    cert_expect(f, f->frame, f->frame_size, VALID_UNTIL_NS, list, 3, MCRYPTO_CERT_EXPIRED,
                MESH_ESTALE);
}

static void test_issue_errors(void **state)
{
    fixture *f = *state;
    uint8_t frame[1024];
    uint32_t frame_size = 4242;
    wire_cert cert = f->cert;
    cert.valid_until_ns = cert.valid_from_ns;
    assert_int_equal(mcrypto_cert_issue(&f->root, &cert, frame, sizeof(frame), &frame_size),
                     MESH_EINVAL);
    cert = f->cert;
    memcpy(cert.name, "Not A Name", sizeof("Not A Name"));
    assert_int_equal(mcrypto_cert_issue(&f->root, &cert, frame, sizeof(frame), &frame_size),
                     MESH_EINVAL);
    assert_int_equal(mcrypto_cert_issue(&f->root, &f->cert, frame, f->frame_size - 1, &frame_size),
                     MESH_EFULL);
    assert_int_equal(frame_size, 4242);
    assert_int_equal(mcrypto_cert_issue(&f->root, &f->cert, frame, f->frame_size, &frame_size),
                     MESH_OK);
    assert_int_equal(frame_size, f->frame_size);

    // The largest certificate the wire rules allow fits the body buffer.
    cert = f->cert;
    memset(cert.name, 'n', WIRE_NAME_SIZE_MAX);
    cert.name[WIRE_NAME_SIZE_MAX] = '\0';
    memset(cert.operator_name, 'o', WIRE_OPERATOR_SIZE_MAX);
    cert.operator_name[WIRE_OPERATOR_SIZE_MAX] = '\0';
    static const char *const codes[] = {"AT", "BE", "DE", "ES", "EU", "FR", "IT", "NL"};
    cert.jurisdiction_count = WIRE_JURISDICTIONS_MAX;
    for (uint32_t i = 0; i < WIRE_JURISDICTIONS_MAX; i++) {
        memcpy(cert.jurisdictions[i], codes[i], 3);
    }
    cert.certifications = WIRE_CERTIFICATION_ALL;
    cert.valid_from_ns = INT64_MIN;
    cert.valid_until_ns = INT64_MAX;
    cert.serial = UINT64_MAX;
    assert_int_equal(mcrypto_cert_issue(&f->root, &cert, frame, sizeof(frame), &frame_size),
                     MESH_OK);
    wire_cert out;
    mcrypto_cert_status status;
    assert_int_equal(
        mcrypto_cert_check(f->root.public_key, frame, frame_size, 0, NULL, 0, &out, &status),
        MESH_OK);
    assert_memory_equal(&out, &cert, sizeof(cert));
}

static void test_status_texts(void **state)
{
    (void) state;
    const char *texts[MCRYPTO_CERT_REVOKED + 1];
    for (int s = MCRYPTO_CERT_VALID; s <= MCRYPTO_CERT_REVOKED; s++) {
        texts[s] = mcrypto_cert_status_text((mcrypto_cert_status) s);
        assert_non_null(texts[s]);
        assert_true(strlen(texts[s]) > 0);
        for (int t = 0; t < s; t++) {
            assert_string_not_equal(texts[s], texts[t]);
        }
    }
    assert_non_null(mcrypto_cert_status_text((mcrypto_cert_status) 7));
    assert_non_null(mcrypto_cert_status_text((mcrypto_cert_status) -1));
    assert_string_equal(mcrypto_cert_status_text(MCRYPTO_CERT_EXPIRED), "expired");
}

static void test_revocation(void **state)
{
    fixture *f = *state;
    wire_revocation revocation;
    memset(&revocation, 0, sizeof(revocation));
    memcpy(revocation.public_key, f->member.public_key, MCRYPTO_PUBLIC_KEY_SIZE);
    revocation.revoked_at_ns = NOW_NS;
    memcpy(revocation.reason, "key compromised", sizeof("key compromised"));
    uint8_t frame[1024];
    uint32_t frame_size = 0;
    assert_int_equal(
        mcrypto_revocation_issue(&f->root, &revocation, frame, sizeof(frame), &frame_size),
        MESH_OK);
    wire_revocation out;
    assert_int_equal(mcrypto_revocation_check(f->root.public_key, frame, frame_size, &out),
                     MESH_OK);
    assert_memory_equal(&out, &revocation, sizeof(out));

    memset(&out, 0xcd, sizeof(out));
    wire_revocation before = out;
    // Checked against another root: EAUTH.
    assert_int_equal(mcrypto_revocation_check(f->other_root.public_key, frame, frame_size, &out),
                     MESH_EAUTH);
    // Issued by another root: EAUTH.
    uint8_t other[1024];
    uint32_t other_size = 0;
    assert_int_equal(
        mcrypto_revocation_issue(&f->other_root, &revocation, other, sizeof(other), &other_size),
        MESH_OK);
    assert_int_equal(mcrypto_revocation_check(f->root.public_key, other, other_size, &out),
                     MESH_EAUTH);
    // A tampered signature: EAUTH; any flipped byte: never OK.
    for (uint32_t i = 0; i < frame_size; i++) {
        frame[i] ^= 0x04;
        mesh_err err = mcrypto_revocation_check(f->root.public_key, frame, frame_size, &out);
        assert_true(err == MESH_EAUTH || err == MESH_EPROTO);
        if (i >= frame_size - WIRE_SIGNATURE_SIZE) {
            assert_int_equal(err, MESH_EAUTH);
        }
        frame[i] ^= 0x04;
    }
    // A certificate is not a revocation; truncated frames are malformed.
    assert_int_equal(mcrypto_revocation_check(f->root.public_key, f->frame, f->frame_size, &out),
                     MESH_EPROTO);
    for (uint32_t size = 0; size < frame_size; size++) {
        assert_int_equal(mcrypto_revocation_check(f->root.public_key, frame, size, &out),
                         MESH_EPROTO);
    }
    assert_memory_equal(&out, &before, sizeof(out));

    // Issue errors.
    wire_revocation bad = revocation;
    bad.revoked_at_ns = 0;
    assert_int_equal(mcrypto_revocation_issue(&f->root, &bad, frame, sizeof(frame), &frame_size),
                     MESH_EINVAL);
    assert_int_equal(mcrypto_revocation_issue(&f->root, &revocation, frame, 10, &frame_size),
                     MESH_EFULL);
}

static void test_armor_round_trip(void **state)
{
    fixture *f = *state;
    char text[2048];
    uint32_t text_size = 0;
    assert_int_equal(mcrypto_armor_encode("CERTIFICATE", f->frame, f->frame_size, text,
                                          sizeof(text), &text_size),
                     MESH_OK);
    uint8_t frame[1024];
    uint32_t frame_size = 0;
    assert_int_equal(
        mcrypto_armor_decode("CERTIFICATE", text, text_size, frame, sizeof(frame), &frame_size),
        MESH_OK);
    assert_int_equal(frame_size, f->frame_size);
    assert_memory_equal(frame, f->frame, frame_size);
    cert_expect(f, frame, frame_size, NOW_NS, NULL, 0, MCRYPTO_CERT_VALID, MESH_OK);
    assert_int_equal(
        mcrypto_armor_decode("REVOCATION", text, text_size, frame, sizeof(frame), &frame_size),
        MESH_EPROTO);
    assert_int_equal(
        mcrypto_armor_decode("CERTIFICATE", text, text_size, frame, f->frame_size - 1, &frame_size),
        MESH_EFULL);

    wire_revocation revocation;
    memset(&revocation, 0, sizeof(revocation));
    memcpy(revocation.public_key, f->member.public_key, MCRYPTO_PUBLIC_KEY_SIZE);
    revocation.revoked_at_ns = NOW_NS;
    uint8_t revocation_frame[1024];
    uint32_t revocation_size = 0;
    assert_int_equal(mcrypto_revocation_issue(&f->root, &revocation, revocation_frame,
                                              sizeof(revocation_frame), &revocation_size),
                     MESH_OK);
    assert_int_equal(mcrypto_armor_encode("REVOCATION", revocation_frame, revocation_size, text,
                                          sizeof(text), &text_size),
                     MESH_OK);
    assert_true(strncmp(text, "-----BEGIN FEDMESH REVOCATION-----\n", 35) == 0);
    assert_int_equal(
        mcrypto_armor_decode("REVOCATION", text, text_size, frame, sizeof(frame), &frame_size),
        MESH_OK);
    assert_int_equal(frame_size, revocation_size);
    wire_revocation out;
    assert_int_equal(mcrypto_revocation_check(f->root.public_key, frame, frame_size, &out),
                     MESH_OK);
    assert_memory_equal(&out, &revocation, sizeof(out));
    assert_int_equal(
        mcrypto_armor_decode("CERTIFICATE", text, text_size, frame, sizeof(frame), &frame_size),
        MESH_EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_and_check_valid),
        cmocka_unit_test(test_validity_window),
        cmocka_unit_test(test_other_root),
        cmocka_unit_test(test_tampered_body),
        cmocka_unit_test(test_tampered_signature_and_frame),
        cmocka_unit_test(test_wrong_type_is_malformed),
        cmocka_unit_test(test_revoked),
        cmocka_unit_test(test_issue_errors),
        cmocka_unit_test(test_status_texts),
        cmocka_unit_test(test_revocation),
        cmocka_unit_test(test_armor_round_trip),
    };
    return cmocka_run_group_tests(tests, fixture_setup, fixture_teardown);
}
