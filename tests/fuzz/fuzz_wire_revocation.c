/*
 * tests/fuzz/fuzz_wire_revocation.c: libFuzzer target for wire_revocation_decode on raw
 * body bytes (no envelope around them, so that the fuzzer spends its
 * effort on the body's schema).
 *
 * The oracle is canonicality: every body the decoder accepts must encode
 * back to exactly the same bytes, and the encoder must accept every struct
 * the decoder produced (they share one set of rules). A rejected body must
 * come with a reason and an offset inside the input. Any violation aborts,
 * which libFuzzer and the replay main both report as a failure.
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
        (void) fprintf(stderr, "fuzz_wire_revocation: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > UINT32_MAX) {
        return 0;
    }
    uint32_t body_size = (uint32_t) size;
    wire_revocation decoded;
    wire_error error = {WIRE_REASON_NONE, 0};
    mesh_err err = wire_revocation_decode(data, body_size, &decoded, &error);
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
    uint32_t out_size = 0;
    err = wire_revocation_encode(&decoded, reencoded, sizeof(reencoded), &out_size);
    fuzz_require(err == MESH_OK, "the encoder refused what the decoder accepted");
    fuzz_require(out_size == body_size, "re-encoding changed the size");
    fuzz_require(memcmp(reencoded, data, body_size) == 0, "re-encoding changed the bytes");
    return 0;
}
