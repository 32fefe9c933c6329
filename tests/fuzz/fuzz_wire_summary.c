/*
 * tests/fuzz/fuzz_wire_summary.c: libFuzzer target for the ledger summary
 * body (type 21) and the envelope that carries it.
 *
 * Every input goes through the decoder twice: as a body, and as a whole
 * frame whose body, when the envelope is of type 21, goes through the
 * decoder (the path peer bytes take in the node).
 *
 * The oracle is canonicality: every body the decoder accepts must encode
 * back to exactly the same bytes (the sender's signature covers them),
 * and the encoder must accept every struct the decoder produced; an
 * accepted body obeys the rules a receiver leans on (a request carries
 * nothing, entries ascend, counts are positive). A rejection must come
 * with a reason and an offset inside the input, and leave the header
 * fields of the output untouched. Any violation aborts, which libFuzzer
 * and the replay main both report.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t reencoded[WIRE_FRAME_SIZE_MAX];
static wire_summary decoded;

static void fuzz_require(bool ok, const char *what)
{
    if (!ok) {
        (void) fprintf(stderr, "fuzz_wire_summary: %s\n", what);
        abort();
    }
}

static void fuzz_check_rejection(mesh_err err, const wire_error *error, uint32_t size, uint32_t max)
{
    fuzz_require(err == MESH_EPROTO, "failed with something other than EPROTO");
    fuzz_require(error->reason != WIRE_REASON_NONE && error->reason < WIRE_REASON_COUNT,
                 "a rejection without a reason");
    if (error->reason == WIRE_REASON_TOO_LARGE) {
        fuzz_require(size > max, "too_large for a small input");
    } else {
        fuzz_require(error->offset <= size, "a rejection offset outside the input");
    }
}

static void fuzz_check_rules(const wire_summary *s)
{
    fuzz_require(s->request_id >= 1, "request id 0 accepted");
    fuzz_require(s->reply <= 1, "reply above 1 accepted");
    fuzz_require(s->page_count >= 1 && s->page_count <= WIRE_SUMMARY_PAGES_MAX,
                 "page count out of range accepted");
    fuzz_require(s->page < s->page_count, "page past page_count accepted");
    fuzz_require(s->entry_count <= WIRE_SUMMARY_ENTRIES_MAX, "too many entries accepted");
    if (s->reply == 0) {
        fuzz_require(s->page == 0 && s->page_count == 1 && s->lease_count == 0 &&
                         s->entry_count == 0,
                     "a request carrying an answer's fields accepted");
    }
    for (uint32_t i = 0; i < s->entry_count; i++) {
        fuzz_require(s->entries[i].record_count >= 1, "record count 0 accepted");
        if (i > 0) {
            fuzz_require(
                memcmp(s->entries[i - 1].lease_id, s->entries[i].lease_id, WIRE_LEASE_ID_SIZE) < 0,
                "entries out of order accepted");
        }
    }
}

static void fuzz_body(const uint8_t *body, uint32_t size)
{
    wire_error error = {WIRE_REASON_NONE, 0};
    decoded.request_id = 0xfeedu;
    decoded.page_count = 0xbeefu;
    mesh_err err = wire_summary_decode(body, size, &decoded, &error);
    if (err != MESH_OK) {
        fuzz_check_rejection(err, &error, size, WIRE_BODY_SIZE_MAX);
        fuzz_require(decoded.request_id == 0xfeedu && decoded.page_count == 0xbeefu,
                     "a failed decode wrote the header");
        return;
    }
    fuzz_require(error.reason == WIRE_REASON_NONE, "success with a reason");
    fuzz_check_rules(&decoded);
    uint32_t out_size = 0;
    err = wire_summary_encode(&decoded, reencoded, sizeof(reencoded), &out_size);
    fuzz_require(err == MESH_OK, "the encoder refused what the decoder accepted");
    fuzz_require(out_size == size, "re-encoding changed the size");
    fuzz_require(memcmp(reencoded, body, size) == 0, "re-encoding changed the bytes");
}

static void fuzz_envelope(const uint8_t *frame, uint32_t frame_size)
{
    wire_envelope envelope;
    wire_error error = {WIRE_REASON_NONE, 0};
    mesh_err err = wire_envelope_decode(frame, frame_size, &envelope, &error);
    if (err != MESH_OK) {
        fuzz_check_rejection(err, &error, frame_size, WIRE_FRAME_SIZE_MAX);
        return;
    }
    if (envelope.type != WIRE_TYPE_LEDGER_SUMMARY) {
        return;
    }
    fuzz_require(wire_type_auth_size(envelope.type) == WIRE_SIGNATURE_SIZE,
                 "the summary is not signed");
    fuzz_body(envelope.body, envelope.body_size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > UINT32_MAX) {
        return 0;
    }
    fuzz_body(data, (uint32_t) size);
    fuzz_envelope(data, (uint32_t) size);
    return 0;
}
