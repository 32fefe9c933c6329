/*
 * crypto/cert.c: member certificates and revocations, both signed by the
 * federation root.
 *
 * A certificate is a wire_cert body in an envelope of type
 * WIRE_TYPE_CERT whose signer is the root's node id. Checking runs the
 * steps in the order crypto.h documents (malformed, other root, bad
 * signature, not yet valid, expired, revoked) so that the status names the
 * first failure, and an operator reading "expired" knows the signature was
 * good. The body is decoded before the signature is checked: the wire
 * decoder is built for hostile input (bounded, allocation-free), and a
 * malformed certificate is reported as such whoever signed it.
 *
 * Validity is the half-open window [valid_from_ns, valid_until_ns): a
 * certificate is expired at valid_until_ns exactly. Time comes in as a
 * parameter; nothing here reads a clock.
 *
 * Bodies are encoded into a local buffer of MCRYPTO_CERT_BODY_SIZE_MAX
 * bytes, comfortably above the largest body the wire rules allow.
 */
#include <string.h>

#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

static const char *const cert_status_texts[] = {
    [MCRYPTO_CERT_VALID] = "valid",
    [MCRYPTO_CERT_MALFORMED] = "malformed",
    [MCRYPTO_CERT_OTHER_ROOT] = "other root",
    [MCRYPTO_CERT_BAD_SIGNATURE] = "bad signature",
    [MCRYPTO_CERT_NOT_YET_VALID] = "not yet valid",
    [MCRYPTO_CERT_EXPIRED] = "expired",
    [MCRYPTO_CERT_REVOKED] = "revoked",
};

_Static_assert(MESH_ARRAY_COUNT(cert_status_texts) == MCRYPTO_CERT_REVOKED + 1u,
               "one text per status");

const char *mcrypto_cert_status_text(mcrypto_cert_status status)
{
    if ((unsigned) status >= MESH_ARRAY_COUNT(cert_status_texts) ||
        cert_status_texts[status] == NULL) {
        return "unknown certificate status";
    }
    return cert_status_texts[status];
}

mesh_err mcrypto_cert_issue(const mcrypto_keypair *root,
                            const wire_cert *cert,
                            uint8_t *frame,
                            uint32_t frame_size_max,
                            uint32_t *frame_size_out)
{
    MESH_ASSERT(root != NULL && cert != NULL);
    MESH_ASSERT(frame != NULL || frame_size_max == 0);
    MESH_ASSERT(frame_size_out != NULL);
    uint8_t body[MCRYPTO_CERT_BODY_SIZE_MAX];
    uint32_t body_size = 0;
    mesh_err err = wire_cert_encode(cert, body, sizeof(body), &body_size);
    if (err == MESH_EFULL) {
        // The buffer is sized above the largest valid body (crypto_int.h).
        return MESH_EINTERNAL;
    }
    if (err != MESH_OK) {
        return MESH_EINVAL;
    }
    MESH_ASSERT(body_size > 0 && body_size <= sizeof(body));
    return mcrypto_envelope_seal(root, WIRE_TYPE_CERT, body, body_size, frame, frame_size_max,
                                 frame_size_out);
}

static mesh_err
cert_check_finish(mcrypto_cert_status status, mcrypto_cert_status *status_out, mesh_err err)
{
    if (status_out != NULL) {
        *status_out = status;
    }
    return err;
}

static bool node_id_listed(const mesh_node_id *id, const mesh_node_id *list, uint32_t count)
{
    MESH_ASSERT(id != NULL);
    MESH_ASSERT(list != NULL || count == 0);
    for (uint32_t i = 0; i < count; i++) {
        if (mesh_node_id_equal(id, &list[i])) {
            return true;
        }
    }
    return false;
}

mesh_err mcrypto_cert_check(const uint8_t root_public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                            const uint8_t *frame,
                            uint32_t frame_size,
                            int64_t now_realtime_ns,
                            const mesh_node_id *revoked,
                            uint32_t revoked_count,
                            wire_cert *cert_out,
                            mcrypto_cert_status *status_out)
{
    return mcrypto_cert_check_cached(NULL, root_public_key, frame, frame_size, now_realtime_ns,
                                     revoked, revoked_count, cert_out, status_out);
}

mesh_err mcrypto_cert_check_cached(mcrypto_verify_cache *cache,
                                   const uint8_t root_public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                                   const uint8_t *frame,
                                   uint32_t frame_size,
                                   int64_t now_realtime_ns,
                                   const mesh_node_id *revoked,
                                   uint32_t revoked_count,
                                   wire_cert *cert_out,
                                   mcrypto_cert_status *status_out)
{
    MESH_ASSERT(root_public_key != NULL);
    MESH_ASSERT(frame != NULL || frame_size == 0);
    MESH_ASSERT(revoked != NULL || revoked_count == 0);

    wire_envelope envelope;
    if (wire_envelope_decode(frame, frame_size, &envelope, NULL) != MESH_OK) {
        return cert_check_finish(MCRYPTO_CERT_MALFORMED, status_out, MESH_EPROTO);
    }
    if (envelope.type != WIRE_TYPE_CERT) {
        return cert_check_finish(MCRYPTO_CERT_MALFORMED, status_out, MESH_EPROTO);
    }
    wire_cert cert;
    if (wire_cert_decode(envelope.body, envelope.body_size, &cert, NULL) != MESH_OK) {
        return cert_check_finish(MCRYPTO_CERT_MALFORMED, status_out, MESH_EPROTO);
    }

    mesh_node_id root_id;
    mcrypto_node_id(root_public_key, &root_id);
    if (!mesh_node_id_equal(&root_id, &envelope.signer)) {
        return cert_check_finish(MCRYPTO_CERT_OTHER_ROOT, status_out, MESH_EAUTH);
    }
    if (mcrypto_verify_cached(cache, root_public_key, WIRE_TYPE_CERT, envelope.body,
                              envelope.body_size, envelope.signature) != MESH_OK) {
        return cert_check_finish(MCRYPTO_CERT_BAD_SIGNATURE, status_out, MESH_EAUTH);
    }

    if (now_realtime_ns < cert.valid_from_ns) {
        return cert_check_finish(MCRYPTO_CERT_NOT_YET_VALID, status_out, MESH_ESTALE);
    }
    if (now_realtime_ns >= cert.valid_until_ns) {
        return cert_check_finish(MCRYPTO_CERT_EXPIRED, status_out, MESH_ESTALE);
    }

    mesh_node_id member_id;
    mcrypto_node_id(cert.public_key, &member_id);
    if (node_id_listed(&member_id, revoked, revoked_count)) {
        return cert_check_finish(MCRYPTO_CERT_REVOKED, status_out, MESH_EAUTH);
    }

    if (cert_out != NULL) {
        *cert_out = cert;
    }
    return cert_check_finish(MCRYPTO_CERT_VALID, status_out, MESH_OK);
}

mesh_err mcrypto_revocation_issue(const mcrypto_keypair *root,
                                  const wire_revocation *revocation,
                                  uint8_t *frame,
                                  uint32_t frame_size_max,
                                  uint32_t *frame_size_out)
{
    MESH_ASSERT(root != NULL && revocation != NULL);
    MESH_ASSERT(frame != NULL || frame_size_max == 0);
    MESH_ASSERT(frame_size_out != NULL);
    uint8_t body[MCRYPTO_CERT_BODY_SIZE_MAX];
    uint32_t body_size = 0;
    mesh_err err = wire_revocation_encode(revocation, body, sizeof(body), &body_size);
    if (err == MESH_EFULL) {
        return MESH_EINTERNAL;
    }
    if (err != MESH_OK) {
        return MESH_EINVAL;
    }
    MESH_ASSERT(body_size > 0 && body_size <= sizeof(body));
    return mcrypto_envelope_seal(root, WIRE_TYPE_REVOCATION, body, body_size, frame, frame_size_max,
                                 frame_size_out);
}

mesh_err mcrypto_revocation_check(const uint8_t root_public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                                  const uint8_t *frame,
                                  uint32_t frame_size,
                                  wire_revocation *revocation_out)
{
    return mcrypto_revocation_check_cached(NULL, root_public_key, frame, frame_size,
                                           revocation_out);
}

mesh_err mcrypto_revocation_check_cached(mcrypto_verify_cache *cache,
                                         const uint8_t root_public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                                         const uint8_t *frame,
                                         uint32_t frame_size,
                                         wire_revocation *revocation_out)
{
    MESH_ASSERT(root_public_key != NULL);
    MESH_ASSERT(frame != NULL || frame_size == 0);
    MESH_ASSERT(revocation_out != NULL);
    // Same order as certificates: malformed first, then who signed it.
    wire_envelope envelope;
    if (wire_envelope_decode(frame, frame_size, &envelope, NULL) != MESH_OK) {
        return MESH_EPROTO;
    }
    if (envelope.type != WIRE_TYPE_REVOCATION) {
        return MESH_EPROTO;
    }
    wire_revocation revocation;
    if (wire_revocation_decode(envelope.body, envelope.body_size, &revocation, NULL) != MESH_OK) {
        return MESH_EPROTO;
    }
    mesh_node_id root_id;
    mcrypto_node_id(root_public_key, &root_id);
    if (!mesh_node_id_equal(&root_id, &envelope.signer)) {
        return MESH_EAUTH;
    }
    if (mcrypto_verify_cached(cache, root_public_key, WIRE_TYPE_REVOCATION, envelope.body,
                              envelope.body_size, envelope.signature) != MESH_OK) {
        return MESH_EAUTH;
    }
    *revocation_out = revocation;
    return MESH_OK;
}
