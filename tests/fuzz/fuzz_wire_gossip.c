/*
 * tests/fuzz/fuzz_wire_gossip.c: libFuzzer target for the six gossip body
 * decoders (suspect, ping, ping-req, digest, pull, push) on raw body bytes.
 *
 * The first input byte picks the decoder (modulo 6: 0 suspect, 1 ping,
 * 2 ping-req, 3 digest, 4 pull, 5 push) and the rest is the body, so that
 * one target and one corpus cover all six, and a mutation of the first
 * byte carries an input across decoders.
 *
 * The oracle is canonicality: every body a decoder accepts must encode back
 * to exactly the same bytes, and the encoder must accept every struct the
 * decoder produced (they share one set of rules). A rejected body must
 * come with a reason and an offset inside the input. Decoded push records
 * must point into the body. Any violation aborts, which libFuzzer and the
 * replay main both report as a failure.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
    SELECT_SUSPECT = 0,
    SELECT_PING = 1,
    SELECT_PING_REQ = 2,
    SELECT_DIGEST = 3,
    SELECT_PULL = 4,
    SELECT_PUSH = 5,
    SELECT_COUNT = 6,
};

static uint8_t reencoded[WIRE_FRAME_SIZE_MAX];

// Static: a digest is 24 KiB, more than a fuzzer's stack should carry.
static union {
    wire_suspect suspect;
    wire_ping ping;
    wire_ping_req ping_req;
    wire_digest digest;
    wire_pull pull;
    wire_push push;
} decoded;

static void fuzz_require(bool ok, const char *what)
{
    if (!ok) {
        (void) fprintf(stderr, "fuzz_wire_gossip: %s\n", what);
        abort();
    }
}

static void fuzz_check_same(mesh_err err, uint32_t out_size, const uint8_t *in, uint32_t in_size)
{
    fuzz_require(err == MESH_OK, "the encoder refused what the decoder accepted");
    fuzz_require(out_size == in_size, "re-encoding changed the size");
    fuzz_require(memcmp(reencoded, in, in_size) == 0, "re-encoding changed the bytes");
}

static mesh_err
fuzz_decode(uint32_t selector, const uint8_t *body, uint32_t size, wire_error *error)
{
    switch (selector) {
    case SELECT_SUSPECT:
        return wire_suspect_decode(body, size, &decoded.suspect, error);
    case SELECT_PING:
        return wire_ping_decode(body, size, &decoded.ping, error);
    case SELECT_PING_REQ:
        return wire_ping_req_decode(body, size, &decoded.ping_req, error);
    case SELECT_DIGEST:
        return wire_digest_decode(body, size, &decoded.digest, error);
    case SELECT_PULL:
        return wire_pull_decode(body, size, &decoded.pull, error);
    default:
        return wire_push_decode(body, size, &decoded.push, error);
    }
}

static mesh_err fuzz_encode(uint32_t selector, uint32_t *size_out)
{
    uint32_t max = sizeof(reencoded);
    switch (selector) {
    case SELECT_SUSPECT:
        return wire_suspect_encode(&decoded.suspect, reencoded, max, size_out);
    case SELECT_PING:
        return wire_ping_encode(&decoded.ping, reencoded, max, size_out);
    case SELECT_PING_REQ:
        return wire_ping_req_encode(&decoded.ping_req, reencoded, max, size_out);
    case SELECT_DIGEST:
        return wire_digest_encode(&decoded.digest, reencoded, max, size_out);
    case SELECT_PULL:
        return wire_pull_encode(&decoded.pull, reencoded, max, size_out);
    default:
        return wire_push_encode(&decoded.push, reencoded, max, size_out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size - 1 > UINT32_MAX) {
        return 0;
    }
    uint32_t selector = data[0] % SELECT_COUNT;
    const uint8_t *body = data + 1;
    uint32_t body_size = (uint32_t) (size - 1);
    wire_error error = {WIRE_REASON_NONE, 0};
    mesh_err err = fuzz_decode(selector, body, body_size, &error);
    if (err != MESH_OK) {
        fuzz_require(err == MESH_EPROTO, "failed with something other than EPROTO");
        fuzz_require(error.reason != WIRE_REASON_NONE && error.reason < WIRE_REASON_COUNT,
                     "a rejection without a reason");
        if (error.reason == WIRE_REASON_TOO_LARGE) {
            fuzz_require(body_size > WIRE_BODY_SIZE_MAX, "too_large for a small body");
        } else {
            fuzz_require(error.offset <= body_size, "a rejection offset outside the input");
        }
        return 0;
    }
    fuzz_require(error.reason == WIRE_REASON_NONE, "success with a reason");
    if (selector == SELECT_PUSH) {
        for (uint32_t i = 0; i < decoded.push.record_count; i++) {
            const wire_record *record = &decoded.push.records[i];
            fuzz_require(record->frame >= body &&
                             record->frame + record->frame_size <= body + body_size,
                         "a push record does not point into the body");
        }
    }
    if (selector == SELECT_DIGEST) {
        for (uint32_t i = 0; i < decoded.digest.entry_count; i++) {
            fuzz_require(wire_digest_page_of(&decoded.digest.entries[i].id,
                                             decoded.digest.page_count) == decoded.digest.page,
                         "a digest entry outside its page");
        }
    }
    uint32_t out_size = 0;
    err = fuzz_encode(selector, &out_size);
    fuzz_check_same(err, out_size, body, body_size);
    return 0;
}
