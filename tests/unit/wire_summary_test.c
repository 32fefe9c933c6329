/*
 * tests/unit/wire_summary_test.c: the ledger summary body (type 21)
 * against its contract in wire/wire.h.
 *
 * Round trips (a request, an empty answer, a full page of 256 entries)
 * with encode(decode(bytes)) == bytes and the size bound; a table of bad
 * structs that the encoder refuses; hand-placed bad bytes the decoder
 * refuses with the expected reason (a request that carries a page, a
 * lease count or entries; page past page_count; entries out of order, with
 * a zero id, a zero record count, two fields or four; an unknown key, a
 * missing key, trailing bytes); truncation at every prefix; every
 * single-byte substitution of a valid body, where whatever decodes must
 * re-encode to the same bytes; and the type's place in the envelope.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "wire/wire.h"

#define BUF_SIZE 65536u

static uint8_t buf_a[BUF_SIZE];
static uint8_t buf_b[BUF_SIZE];
static wire_summary summary_a;
static wire_summary summary_b;

static void sample_request(wire_summary *s)
{
    memset(s, 0, sizeof(*s));
    s->request_id = 5;
    for (uint32_t i = 0; i < MESH_NODE_ID_SIZE; i++) {
        s->to.bytes[i] = (uint8_t) (0x40 + i);
    }
    s->reply = 0;
    s->page = 0;
    s->page_count = 1;
}

// An answer page with `count` entries: ids 1, 2, ... in the last byte
// (and the first, so that ids are large), counts 1..
static void sample_answer(wire_summary *s, uint32_t count)
{
    sample_request(s);
    s->reply = 1;
    s->page = 1;
    s->page_count = 3;
    s->lease_count = 600;
    s->entry_count = count;
    for (uint32_t i = 0; i < count; i++) {
        wire_summary_entry *e = &s->entries[i];
        memset(e, 0, sizeof(*e));
        e->lease_id[0] = (uint8_t) (i >> 8);
        e->lease_id[15] = (uint8_t) (i & 0xff);
        e->lease_id[7] = 0x99;
        e->record_count = 1 + (i % 5);
        memset(e->digest, (int) (i & 0xff), sizeof(e->digest));
    }
}

static uint32_t encode_ok(const wire_summary *s, uint8_t *buf)
{
    uint32_t size = 0;
    assert_int_equal(wire_summary_encode(s, buf, BUF_SIZE, &size), MESH_OK);
    return size;
}

static void assert_round_trip(const wire_summary *s)
{
    uint32_t size = encode_ok(s, buf_a);
    wire_error error;
    assert_int_equal(wire_summary_decode(buf_a, size, &summary_b, &error), MESH_OK);
    assert_int_equal(error.reason, WIRE_REASON_NONE);
    assert_int_equal(summary_b.request_id, s->request_id);
    assert_memory_equal(summary_b.to.bytes, s->to.bytes, MESH_NODE_ID_SIZE);
    assert_int_equal(summary_b.reply, s->reply);
    assert_int_equal(summary_b.page, s->page);
    assert_int_equal(summary_b.page_count, s->page_count);
    assert_int_equal(summary_b.lease_count, s->lease_count);
    assert_int_equal(summary_b.entry_count, s->entry_count);
    assert_memory_equal(summary_b.entries, s->entries, s->entry_count * sizeof(wire_summary_entry));
    uint32_t again = encode_ok(&summary_b, buf_b);
    assert_int_equal(again, size);
    assert_memory_equal(buf_a, buf_b, size);
}

static void test_round_trips(void **state)
{
    (void) state;
    sample_request(&summary_a);
    assert_round_trip(&summary_a);
    sample_answer(&summary_a, 0);
    assert_round_trip(&summary_a);
    sample_answer(&summary_a, 1);
    assert_round_trip(&summary_a);
    sample_answer(&summary_a, WIRE_SUMMARY_ENTRIES_MAX);
    summary_a.request_id = UINT64_MAX;
    summary_a.lease_count = UINT32_MAX;
    summary_a.entries[0].record_count = UINT32_MAX;
    summary_a.page = WIRE_SUMMARY_PAGES_MAX - 1;
    summary_a.page_count = WIRE_SUMMARY_PAGES_MAX;
    assert_round_trip(&summary_a);
    // The largest body stays within what wire/summary.c promises.
    for (uint32_t i = 0; i < WIRE_SUMMARY_ENTRIES_MAX; i++) {
        summary_a.entries[i].record_count = UINT32_MAX;
    }
    uint32_t size = encode_ok(&summary_a, buf_a);
    assert_true(size <= 10800u);
    assert_true(size + 96u <= WIRE_FRAME_SIZE_MAX);
}

static void test_encoder_refuses(void **state)
{
    (void) state;
    static const char *const cases[] = {
        "request id 0",         "reply 2",        "page count 0",    "page count 65",
        "page past the count",  "request page 1", "request 2 pages", "request lease count",
        "request with entries", "257 entries",    "zero lease id",   "record count 0",
        "ids out of order",     "duplicate ids",
    };
    for (uint32_t c = 0; c < MESH_ARRAY_COUNT(cases); c++) {
        sample_answer(&summary_a, 3);
        wire_summary *s = &summary_a;
        switch (c) {
        case 0:
            s->request_id = 0;
            break;
        case 1:
            s->reply = 2;
            break;
        case 2:
            s->page_count = 0;
            break;
        case 3:
            s->page_count = WIRE_SUMMARY_PAGES_MAX + 1;
            break;
        case 4:
            s->page = 3;
            break;
        case 5:
            sample_request(s);
            s->page = 1;
            s->page_count = 2;
            break;
        case 6:
            sample_request(s);
            s->page_count = 2;
            break;
        case 7:
            sample_request(s);
            s->lease_count = 1;
            break;
        case 8:
            s->reply = 0;
            s->page = 0;
            s->page_count = 1;
            s->lease_count = 0;
            break;
        case 9:
            s->entry_count = WIRE_SUMMARY_ENTRIES_MAX + 1;
            break;
        case 10:
            memset(s->entries[1].lease_id, 0, WIRE_LEASE_ID_SIZE);
            memset(s->entries[0].lease_id, 0, WIRE_LEASE_ID_SIZE);
            break;
        case 11:
            s->entries[2].record_count = 0;
            break;
        case 12:
            s->entries[0].lease_id[0] = 0xff;
            break;
        default:
            memcpy(s->entries[2].lease_id, s->entries[1].lease_id, WIRE_LEASE_ID_SIZE);
            break;
        }
        uint32_t size = 0xdeadbeef;
        if (wire_summary_encode(s, buf_a, BUF_SIZE, &size) != MESH_EINVAL) {
            fail_msg("the encoder took: %s", cases[c]);
        }
        assert_int_equal(size, 0xdeadbeef);
    }
    // Too small a buffer: EFULL at every size below the body's.
    sample_answer(&summary_a, 4);
    uint32_t size = encode_ok(&summary_a, buf_a);
    for (uint32_t small = 0; small < size; small++) {
        uint32_t out = 0xdeadbeef;
        assert_int_equal(wire_summary_encode(&summary_a, buf_b, small, &out), MESH_EFULL);
        assert_int_equal(out, 0xdeadbeef);
    }
}

static void expect_reject(const char *what, const uint8_t *bytes, uint32_t size, wire_reason reason)
{
    wire_error error = {WIRE_REASON_NONE, 0};
    summary_b.request_id = 77;
    mesh_err err = wire_summary_decode(bytes, size, &summary_b, &error);
    if (err != MESH_EPROTO || error.reason != reason) {
        fail_msg("%s: got %d (%s at %u), wanted EPROTO %s", what, err,
                 wire_reason_name(error.reason), error.offset, wire_reason_name(reason));
    }
    assert_int_equal(summary_b.request_id, 77); // the header is untouched on failure
}

/* Offsets in the encoding of sample_request / sample_answer with small
 * numbers (request id 5, fixints everywhere): map, key 0, id, key 1, bin8
 * header and 16 bytes, then key/value pairs of one byte each. */
enum {
    AT_REPLY = 23,
    AT_PAGE = 25,
    AT_PAGE_COUNT = 27,
    AT_LEASE_COUNT = 29,
    AT_ENTRIES = 31,
    ENTRY_SIZE = 38, /* fixarray, bin8(16), fixint count, bin8(16) */
};

static void test_decoder_refuses(void **state)
{
    (void) state;
    // The layout the offsets above assume.
    sample_answer(&summary_a, 3);
    summary_a.lease_count = 3;
    uint32_t size = encode_ok(&summary_a, buf_a);
    assert_int_equal(size, AT_ENTRIES + 1 + 3 * ENTRY_SIZE);
    assert_int_equal(buf_a[AT_REPLY - 1], 0x02);
    assert_int_equal(buf_a[AT_ENTRIES - 1], 0x06);
    assert_int_equal(buf_a[AT_ENTRIES], 0x93);

    // A request that carries what only an answer may.
    memcpy(buf_b, buf_a, size);
    buf_b[AT_REPLY] = 0;
    expect_reject("request with page 1", buf_b, size, WIRE_REASON_RANGE);
    buf_b[AT_PAGE] = 0;
    expect_reject("request with 3 pages", buf_b, size, WIRE_REASON_RANGE);
    buf_b[AT_PAGE_COUNT] = 1;
    expect_reject("request with a lease count", buf_b, size, WIRE_REASON_RANGE);
    buf_b[AT_LEASE_COUNT] = 0;
    expect_reject("request with entries", buf_b, size, WIRE_REASON_LENGTH);
    // With no entries it is a valid request, and trailing entries are not.
    buf_b[AT_ENTRIES] = 0x90;
    expect_reject("request, entries after the end", buf_b, size, WIRE_REASON_TRAILING);
    assert_int_equal(wire_summary_decode(buf_b, AT_ENTRIES + 1, &summary_b, NULL), MESH_OK);
    assert_int_equal(summary_b.reply, 0);
    assert_int_equal(summary_b.entry_count, 0);
}

static void test_decoder_refuses_answers(void **state)
{
    (void) state;
    sample_answer(&summary_a, 3);
    summary_a.lease_count = 3;
    uint32_t size = encode_ok(&summary_a, buf_a);
    // page >= page_count, reported at page_count.
    memcpy(buf_b, buf_a, size);
    buf_b[AT_PAGE] = 3;
    expect_reject("page 3 of 3", buf_b, size, WIRE_REASON_RANGE);
    memcpy(buf_b, buf_a, size);
    buf_b[AT_PAGE_COUNT] = 0;
    expect_reject("page count 0", buf_b, size, WIRE_REASON_RANGE);
    memcpy(buf_b, buf_a, size);
    buf_b[AT_PAGE_COUNT] = 65;
    expect_reject("page count 65", buf_b, size, WIRE_REASON_RANGE);
    memcpy(buf_b, buf_a, size);
    buf_b[AT_REPLY] = 2;
    expect_reject("reply 2", buf_b, size, WIRE_REASON_RANGE);
    memcpy(buf_b, buf_a, size);
    buf_b[2] = 0; // request id 0
    expect_reject("request id 0", buf_b, size, WIRE_REASON_RANGE);
    // Entries: the second one's id equal to the first's, then below it.
    uint32_t second = AT_ENTRIES + 1 + ENTRY_SIZE;
    memcpy(buf_b, buf_a, size);
    memcpy(buf_b + second + 3, buf_b + AT_ENTRIES + 1 + 3, WIRE_LEASE_ID_SIZE);
    expect_reject("duplicate ids", buf_b, size, WIRE_REASON_NOT_CANONICAL);
    memcpy(buf_b, buf_a, size);
    buf_b[second + 3 + 7] = 0x01; // below the first id's 0x99 at byte 7
    expect_reject("ids descending", buf_b, size, WIRE_REASON_NOT_CANONICAL);
    memcpy(buf_b, buf_a, size);
    memset(buf_b + AT_ENTRIES + 1 + 3, 0, WIRE_LEASE_ID_SIZE);
    expect_reject("zero id", buf_b, size, WIRE_REASON_RANGE);
    memcpy(buf_b, buf_a, size);
    buf_b[AT_ENTRIES + 1 + 19] = 0;
    expect_reject("record count 0", buf_b, size, WIRE_REASON_RANGE);
    memcpy(buf_b, buf_a, size);
    buf_b[AT_ENTRIES + 1] = 0x92;
    expect_reject("an entry of two fields", buf_b, size, WIRE_REASON_MISSING_FIELD);
    memcpy(buf_b, buf_a, size);
    buf_b[AT_ENTRIES + 1] = 0x94;
    expect_reject("an entry of four fields", buf_b, size, WIRE_REASON_LENGTH);
    memcpy(buf_b, buf_a, size);
    buf_b[AT_ENTRIES + 1 + 20] = 0xc4;
    buf_b[AT_ENTRIES + 1 + 21] = 15;
    expect_reject("a digest of 15 bytes", buf_b, size, WIRE_REASON_LENGTH);
    // Map structure.
    memcpy(buf_b, buf_a, size);
    buf_b[0] = 0x86;
    expect_reject("six keys declared", buf_b, size, WIRE_REASON_MISSING_FIELD);
    memcpy(buf_b, buf_a, size);
    buf_b[0] = 0x88;
    buf_b[size] = 0x07;
    buf_b[size + 1] = 0x00;
    expect_reject("unknown key 7", buf_b, size + 2, WIRE_REASON_UNKNOWN_FIELD);
    memcpy(buf_b, buf_a, size);
    buf_b[size] = 0x00;
    expect_reject("trailing byte", buf_b, size + 1, WIRE_REASON_TRAILING);
    // Without the entries key: MISSING_FIELD at the map's end.
    memcpy(buf_b, buf_a, AT_ENTRIES - 1);
    buf_b[0] = 0x86;
    expect_reject("no entries key", buf_b, AT_ENTRIES - 1, WIRE_REASON_MISSING_FIELD);
    // Keys out of order: page count before page.
    memcpy(buf_b, buf_a, size);
    buf_b[AT_PAGE - 1] = 0x04;
    buf_b[AT_PAGE_COUNT - 1] = 0x03;
    expect_reject("keys out of order", buf_b, size, WIRE_REASON_NOT_CANONICAL);
    // The size cap comes first.
    expect_reject("over the body cap", buf_a, WIRE_BODY_SIZE_MAX + 1, WIRE_REASON_TOO_LARGE);
}

static void test_truncation_and_substitution(void **state)
{
    (void) state;
    sample_answer(&summary_a, 5);
    uint32_t size = encode_ok(&summary_a, buf_a);
    for (uint32_t cut = 0; cut < size; cut++) {
        wire_error error;
        assert_int_equal(wire_summary_decode(buf_a, cut, &summary_b, &error), MESH_EPROTO);
        assert_true(error.offset <= cut);
    }
    // Every single-byte substitution: what decodes re-encodes identically.
    static const uint8_t values[] = {0x00, 0x01, 0x7f, 0x80, 0x90, 0xc0, 0xc4, 0xcc, 0xff};
    uint32_t accepted = 0;
    for (uint32_t at = 0; at < size; at++) {
        for (uint32_t v = 0; v < sizeof(values); v++) {
            memcpy(buf_b, buf_a, size);
            buf_b[at] = values[v];
            wire_error error;
            if (wire_summary_decode(buf_b, size, &summary_b, &error) != MESH_OK) {
                assert_int_not_equal(error.reason, WIRE_REASON_NONE);
                assert_true(error.offset <= size);
                continue;
            }
            accepted++;
            uint8_t again[BUF_SIZE / 4];
            uint32_t again_size = 0;
            assert_int_equal(wire_summary_encode(&summary_b, again, sizeof(again), &again_size),
                             MESH_OK);
            assert_int_equal(again_size, size);
            assert_memory_equal(again, buf_b, size);
        }
    }
    assert_true(accepted > size); // digests and ids take any byte
}

static void test_envelope_type(void **state)
{
    (void) state;
    assert_int_equal(WIRE_TYPE_LEDGER_SUMMARY, 21);
    assert_int_equal(wire_type_auth_size(WIRE_TYPE_LEDGER_SUMMARY), WIRE_SIGNATURE_SIZE);
    assert_false(wire_type_is_mac(WIRE_TYPE_LEDGER_SUMMARY));
    sample_answer(&summary_a, 2);
    uint32_t body_size = encode_ok(&summary_a, buf_a);
    wire_envelope envelope;
    memset(&envelope, 0, sizeof(envelope));
    envelope.version = WIRE_VERSION;
    envelope.type = WIRE_TYPE_LEDGER_SUMMARY;
    envelope.body = buf_a;
    envelope.body_size = body_size;
    memset(envelope.signature, 0x5a, sizeof(envelope.signature));
    uint32_t frame_size = 0;
    assert_int_equal(wire_envelope_encode(&envelope, buf_b, BUF_SIZE, &frame_size), MESH_OK);
    wire_envelope decoded;
    assert_int_equal(wire_envelope_decode(buf_b, frame_size, &decoded, NULL), MESH_OK);
    assert_int_equal(decoded.type, WIRE_TYPE_LEDGER_SUMMARY);
    assert_int_equal(wire_summary_decode(decoded.body, decoded.body_size, &summary_b, NULL),
                     MESH_OK);
    // Not a lease body: it does not start with a lease id.
    uint8_t lease_id[WIRE_LEASE_ID_SIZE];
    assert_int_equal(wire_lease_id_peek(decoded.body, decoded.body_size, lease_id), MESH_EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_encoder_refuses),
        cmocka_unit_test(test_decoder_refuses),
        cmocka_unit_test(test_decoder_refuses_answers),
        cmocka_unit_test(test_truncation_and_substitution),
        cmocka_unit_test(test_envelope_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
