/*
 * tests/fuzz/fuzz_wire_envelope.c: libFuzzer target for wire_envelope_decode,
 * and through it for the body decoders.
 *
 * The oracle is canonicality: every frame the decoder accepts must encode
 * back to exactly the same bytes (the signature covers bytes both sides
 * must reproduce), and the encoder must accept every struct the decoder
 * produced. A rejected frame must come with a reason and an offset inside
 * the input (signed types carry bin(64), MAC'd types bin(16)). When the
 * envelope decodes, its body goes through the decoder its type names,
 * under the same oracle, because that is the path peer bytes take in the
 * node. Any violation aborts, which libFuzzer and the replay main both
 * report as a failure.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t reencoded[WIRE_FRAME_SIZE_MAX];

static void fuzz_require(bool ok, const char *what)
{
    if (!ok) {
        (void) fprintf(stderr, "fuzz_wire_envelope: %s\n", what);
        abort();
    }
}

static void fuzz_check_rejection(mesh_err err, const wire_error *error, uint32_t size)
{
    fuzz_require(err == MESH_EPROTO, "a decoder failed with something other than EPROTO");
    fuzz_require(error->reason != WIRE_REASON_NONE && error->reason < WIRE_REASON_COUNT,
                 "a rejection without a reason");
    fuzz_require(error->offset <= size, "a rejection offset outside the input");
}

static void fuzz_check_same(mesh_err err, uint32_t out_size, const uint8_t *in, uint32_t in_size)
{
    fuzz_require(err == MESH_OK, "the encoder refused what the decoder accepted");
    fuzz_require(out_size == in_size, "re-encoding changed the size");
    fuzz_require(memcmp(reencoded, in, in_size) == 0, "re-encoding changed the bytes");
}

// One body type under the oracle: decode, and on success re-encode to the
// same bytes. Static storage: a digest is 24 KiB.
#define FUZZ_BODY(type, decode, encode)                                     \
    {                                                                       \
        static type value_;                                                 \
        err = decode(body, body_size, &value_, &error);                     \
        if (err == MESH_OK) {                                               \
            err = encode(&value_, reencoded, sizeof(reencoded), &out_size); \
            fuzz_check_same(err, out_size, body, body_size);                \
            return;                                                         \
        }                                                                   \
        break;                                                              \
    }

static void fuzz_body(wire_type type, const uint8_t *body, uint32_t body_size)
{
    wire_error error;
    uint32_t out_size = 0;
    mesh_err err;
    switch (type) {
    case WIRE_TYPE_ADVERT: {
        wire_advert advert;
        err = wire_advert_decode(body, body_size, &advert, &error);
        if (err == MESH_OK) {
            err = wire_advert_encode(&advert, reencoded, sizeof(reencoded), &out_size);
            fuzz_check_same(err, out_size, body, body_size);
            return;
        }
        break;
    }
    case WIRE_TYPE_CERT: {
        wire_cert cert;
        err = wire_cert_decode(body, body_size, &cert, &error);
        if (err == MESH_OK) {
            err = wire_cert_encode(&cert, reencoded, sizeof(reencoded), &out_size);
            fuzz_check_same(err, out_size, body, body_size);
            return;
        }
        break;
    }
    case WIRE_TYPE_REVOCATION: {
        wire_revocation revocation;
        err = wire_revocation_decode(body, body_size, &revocation, &error);
        if (err == MESH_OK) {
            err = wire_revocation_encode(&revocation, reencoded, sizeof(reencoded), &out_size);
            fuzz_check_same(err, out_size, body, body_size);
            return;
        }
        break;
    }
    case WIRE_TYPE_SUSPECT:
        FUZZ_BODY(wire_suspect, wire_suspect_decode, wire_suspect_encode);
    case WIRE_TYPE_PING:
    case WIRE_TYPE_ACK:
        FUZZ_BODY(wire_ping, wire_ping_decode, wire_ping_encode);
    case WIRE_TYPE_PING_REQ:
        FUZZ_BODY(wire_ping_req, wire_ping_req_decode, wire_ping_req_encode);
    case WIRE_TYPE_DIGEST:
        FUZZ_BODY(wire_digest, wire_digest_decode, wire_digest_encode);
    case WIRE_TYPE_PULL:
        FUZZ_BODY(wire_pull, wire_pull_decode, wire_pull_encode);
    case WIRE_TYPE_PUSH:
        FUZZ_BODY(wire_push, wire_push_decode, wire_push_encode);
    case WIRE_TYPE_LEASE_REQUEST:
        FUZZ_BODY(wire_lease_request, wire_lease_request_decode, wire_lease_request_encode);
    case WIRE_TYPE_LEASE_OFFER:
        FUZZ_BODY(wire_lease_offer, wire_lease_offer_decode, wire_lease_offer_encode);
    case WIRE_TYPE_LEASE_REFUSE:
        FUZZ_BODY(wire_lease_refuse, wire_lease_refuse_decode, wire_lease_refuse_encode);
    case WIRE_TYPE_LEASE_RECORD:
        FUZZ_BODY(wire_lease_record, wire_lease_record_decode, wire_lease_record_encode);
    case WIRE_TYPE_LEASE_END:
        FUZZ_BODY(wire_lease_end, wire_lease_end_decode, wire_lease_end_encode);
    case WIRE_TYPE_LEDGER_SUMMARY:
        FUZZ_BODY(wire_summary, wire_summary_decode, wire_summary_encode);
    default:
        fuzz_require(false, "the envelope decoder let an unknown type through");
        return;
    }
    fuzz_check_rejection(err, &error, body_size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > UINT32_MAX) {
        return 0;
    }
    uint32_t frame_size = (uint32_t) size;
    wire_envelope envelope;
    wire_error error = {WIRE_REASON_NONE, 0};
    mesh_err err = wire_envelope_decode(data, frame_size, &envelope, &error);
    if (err != MESH_OK) {
        if (error.reason == WIRE_REASON_TOO_LARGE) {
            fuzz_require(frame_size > WIRE_FRAME_SIZE_MAX, "too_large for a small frame");
            return 0;
        }
        fuzz_check_rejection(err, &error, frame_size);
        return 0;
    }
    fuzz_require(error.reason == WIRE_REASON_NONE, "success with a reason");
    fuzz_require(envelope.body >= data && envelope.body + envelope.body_size <= data + size,
                 "the body does not point into the frame");
    uint32_t out_size = 0;
    err = wire_envelope_encode(&envelope, reencoded, sizeof(reencoded), &out_size);
    fuzz_check_same(err, out_size, data, frame_size);
    fuzz_body(envelope.type, envelope.body, envelope.body_size);
    return 0;
}
