/*
 * tests/unit/wire_gossip_test.c: the gossip bodies (suspect, ping and ack,
 * ping-req, digest, pull, push), MAC'd envelopes and the per-type
 * authentication sizes, against their contract in wire/wire.h.
 *
 * Same method as wire_codec_test.c:
 *   - Round trips of every type, and encode(decode(bytes)) == bytes; a
 *     test-side "raw" writer mirrors each schema without validating and
 *     must agree byte for byte with the real encoder.
 *   - Every rejection path with its wire_reason. One table of bad structs
 *     serves twice: the encoder refuses the struct (MESH_EINVAL) and the
 *     decoder refuses its raw bytes with the expected reason. Shapes no
 *     struct can hold (wrong MessagePack types, lists over their limit,
 *     non-minimal forms) are spliced in as raw bytes for one key.
 *   - Truncation at every prefix, every too-small buffer, trailing bytes,
 *     the size cap, and outputs left untouched on failure.
 *   - The digest's page function against the ranges wire.h documents.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "wire/wire.h"
#include "wire/wire_int.h"

#define BUF_SIZE 65536u

typedef enum kind {
    KIND_SUSPECT,
    KIND_PING,
    KIND_PING_REQ,
    KIND_DIGEST,
    KIND_PULL,
    KIND_PUSH,
} kind;

#define KIND_FIRST KIND_SUSPECT
#define KIND_LAST  KIND_PUSH

static const char *const kind_names[] = {"suspect", "ping", "ping_req", "digest", "pull", "push"};

typedef union any_message {
    wire_suspect suspect;
    wire_ping ping;
    wire_ping_req ping_req;
    wire_digest digest;
    wire_pull pull;
    wire_push push;
} any_message;

// Large buffers live in static storage: a digest is 24 KiB and the cmocka
// runner's stack is shared by every test.
static uint8_t buf_a[BUF_SIZE];
static uint8_t buf_b[BUF_SIZE];
static any_message message_a;
static any_message message_b;

/* Samples. */

static void id_with_prefix(mesh_node_id *id, uint32_t prefix, uint8_t fill)
{
    memset(id->bytes, fill, sizeof(id->bytes));
    id->bytes[0] = (uint8_t) (prefix >> 8);
    id->bytes[1] = (uint8_t) (prefix & 0xffu);
}

static void sample_suspect(wire_suspect *suspect)
{
    memset(suspect, 0, sizeof(*suspect));
    for (uint32_t i = 0; i < MESH_NODE_ID_SIZE; i++) {
        suspect->target.bytes[i] = (uint8_t) (0xb0 + i);
    }
    suspect->target_sequence = 42;
    suspect->at_ns = 1750000000123456789;
}

static void sample_ping(wire_ping *ping)
{
    memset(ping, 0, sizeof(*ping));
    ping->nonce = 0x0123456789abcdefull;
    for (uint32_t i = 0; i < WIRE_VIEW_HASH_SIZE; i++) {
        ping->view_hash[i] = (uint8_t) (0x10 * i + 1);
    }
}

static void sample_ping_req(wire_ping_req *ping_req)
{
    memset(ping_req, 0, sizeof(*ping_req));
    ping_req->nonce = 77;
    for (uint32_t i = 0; i < MESH_NODE_ID_SIZE; i++) {
        ping_req->target.bytes[i] = (uint8_t) (0xc0 + i);
    }
}

// Page 2 of 4: prefixes 0x8000..0xbfff. Three entries, ascending, the
// first and last at the page's edges.
static void sample_digest(wire_digest *digest)
{
    memset(digest, 0, sizeof(*digest));
    for (uint32_t i = 0; i < WIRE_VIEW_HASH_SIZE; i++) {
        digest->view_hash[i] = (uint8_t) (0xf0 - i);
    }
    digest->page = 2;
    digest->page_count = 4;
    digest->reply = 1;
    digest->entry_count = 3;
    id_with_prefix(&digest->entries[0].id, 0x8000, 0x00);
    digest->entries[0].sequence = 1;
    id_with_prefix(&digest->entries[1].id, 0x9abc, 0x55);
    digest->entries[1].sequence = 300;
    id_with_prefix(&digest->entries[2].id, 0xbfff, 0xff);
    digest->entries[2].sequence = UINT64_MAX;
}

static void sample_pull(wire_pull *pull)
{
    memset(pull, 0, sizeof(*pull));
    pull->id_count = 3;
    id_with_prefix(&pull->ids[0], 0x0001, 0x11);
    id_with_prefix(&pull->ids[1], 0x0001, 0x12);
    id_with_prefix(&pull->ids[2], 0xfffe, 0x00);
}

static const uint8_t record_one[] = {0x95, 0x01, 0x01};
static const uint8_t record_two[] = {0x01};
static uint8_t record_big[WIRE_RECORD_SIZE_MAX + 1];

static void sample_push(wire_push *push)
{
    memset(push, 0, sizeof(*push));
    push->record_count = 3;
    // Not sorted, on purpose: a push keeps the sender's order.
    push->records[0].frame = record_one;
    push->records[0].frame_size = sizeof(record_one);
    push->records[1].frame = record_two;
    push->records[1].frame_size = sizeof(record_two);
    push->records[2].frame = record_big;
    push->records[2].frame_size = 300;
}

static void sample_kind(kind which, any_message *message)
{
    switch (which) {
    case KIND_SUSPECT:
        sample_suspect(&message->suspect);
        return;
    case KIND_PING:
        sample_ping(&message->ping);
        return;
    case KIND_PING_REQ:
        sample_ping_req(&message->ping_req);
        return;
    case KIND_DIGEST:
        sample_digest(&message->digest);
        return;
    case KIND_PULL:
        sample_pull(&message->pull);
        return;
    case KIND_PUSH:
        sample_push(&message->push);
        return;
    }
    fail();
}

/* Decoding and encoding by kind. */

static mesh_err
decode_kind(kind which, const uint8_t *bytes, uint32_t size, any_message *out, wire_error *error)
{
    switch (which) {
    case KIND_SUSPECT:
        return wire_suspect_decode(bytes, size, &out->suspect, error);
    case KIND_PING:
        return wire_ping_decode(bytes, size, &out->ping, error);
    case KIND_PING_REQ:
        return wire_ping_req_decode(bytes, size, &out->ping_req, error);
    case KIND_DIGEST:
        return wire_digest_decode(bytes, size, &out->digest, error);
    case KIND_PULL:
        return wire_pull_decode(bytes, size, &out->pull, error);
    case KIND_PUSH:
        return wire_push_decode(bytes, size, &out->push, error);
    }
    fail();
    return MESH_EINTERNAL;
}

static mesh_err encode_kind(
    kind which, const any_message *message, uint8_t *buf, uint32_t buf_size, uint32_t *size_out)
{
    switch (which) {
    case KIND_SUSPECT:
        return wire_suspect_encode(&message->suspect, buf, buf_size, size_out);
    case KIND_PING:
        return wire_ping_encode(&message->ping, buf, buf_size, size_out);
    case KIND_PING_REQ:
        return wire_ping_req_encode(&message->ping_req, buf, buf_size, size_out);
    case KIND_DIGEST:
        return wire_digest_encode(&message->digest, buf, buf_size, size_out);
    case KIND_PULL:
        return wire_pull_encode(&message->pull, buf, buf_size, size_out);
    case KIND_PUSH:
        return wire_push_encode(&message->push, buf, buf_size, size_out);
    }
    fail();
    return MESH_EINTERNAL;
}

static void print_bytes(const uint8_t *bytes, uint32_t size)
{
    uint32_t shown = size < 48 ? size : 48;
    for (uint32_t i = 0; i < shown; i++) {
        print_message("%02x ", bytes[i]);
    }
    print_message("%s(%u bytes)\n", shown < size ? "... " : "", size);
}

static any_message reject_out;
static any_message reject_untouched;

// The decoder must refuse bytes with exactly this reason, leave its output
// untouched, and point inside the input.
static void
expect_reject(kind which, const char *what, const uint8_t *bytes, uint32_t size, wire_reason reason)
{
    memset(&reject_out, 0x5a, sizeof(reject_out));
    wire_error error = {WIRE_REASON_NONE, 0};
    mesh_err err = decode_kind(which, bytes, size, &reject_out, &error);
    if (err != MESH_EPROTO || error.reason != reason) {
        print_message("%s %s: got %s/%s at %u, want %s: ", kind_names[which], what,
                      mesh_err_name(err), wire_reason_name(error.reason), error.offset,
                      wire_reason_name(reason));
        print_bytes(bytes, size);
    }
    assert_int_equal(err, MESH_EPROTO);
    assert_string_equal(wire_reason_name(error.reason), wire_reason_name(reason));
    if (reason != WIRE_REASON_TOO_LARGE) {
        assert_true(error.offset <= size);
    }
    memset(&reject_untouched, 0x5a, sizeof(reject_untouched));
    assert_memory_equal(&reject_out, &reject_untouched, sizeof(reject_out));
    // error_out is optional.
    assert_int_equal(decode_kind(which, bytes, size, &reject_out, NULL), MESH_EPROTO);
}

/* The raw writers: each schema, without validation, with an optional
 * splice of raw bytes in place of one key's value. */

typedef struct splice {
    int32_t key; // -1: none
    const uint8_t *bytes;
    uint32_t size;
} splice;

static const splice no_splice = {-1, NULL, 0};

static void raw_append(wire_writer *writer, const uint8_t *bytes, uint32_t size)
{
    (void) writer->packer.callback(writer->packer.data, (const char *) bytes, size);
}

static uint32_t raw_finish(const wire_writer *writer)
{
    uint32_t size = 0;
    assert_int_equal(wire_writer_finish(writer, &size), MESH_OK);
    return size;
}

// Writes key and reports whether the caller should write the value (false
// when the splice took its place).
static bool raw_key(wire_writer *writer, int32_t key, splice sp)
{
    wire_write_uint(writer, (uint64_t) key);
    if (key == sp.key) {
        raw_append(writer, sp.bytes, sp.size);
        return false;
    }
    return true;
}

static void raw_suspect(wire_writer *writer, const wire_suspect *suspect, splice sp)
{
    wire_write_map(writer, 3);
    if (raw_key(writer, 0, sp)) {
        wire_write_bin(writer, suspect->target.bytes, MESH_NODE_ID_SIZE);
    }
    if (raw_key(writer, 1, sp)) {
        wire_write_uint(writer, suspect->target_sequence);
    }
    if (raw_key(writer, 2, sp)) {
        wire_write_int64(writer, suspect->at_ns);
    }
}

static void raw_ping(wire_writer *writer, const wire_ping *ping, splice sp)
{
    wire_write_map(writer, 2);
    if (raw_key(writer, 0, sp)) {
        wire_write_uint(writer, ping->nonce);
    }
    if (raw_key(writer, 1, sp)) {
        wire_write_bin(writer, ping->view_hash, WIRE_VIEW_HASH_SIZE);
    }
}

static void raw_ping_req(wire_writer *writer, const wire_ping_req *ping_req, splice sp)
{
    wire_write_map(writer, 2);
    if (raw_key(writer, 0, sp)) {
        wire_write_uint(writer, ping_req->nonce);
    }
    if (raw_key(writer, 1, sp)) {
        wire_write_bin(writer, ping_req->target.bytes, MESH_NODE_ID_SIZE);
    }
}

static void raw_digest(wire_writer *writer, const wire_digest *digest, splice sp)
{
    wire_write_map(writer, 5);
    if (raw_key(writer, 0, sp)) {
        wire_write_bin(writer, digest->view_hash, WIRE_VIEW_HASH_SIZE);
    }
    if (raw_key(writer, 1, sp)) {
        wire_write_uint(writer, digest->page);
    }
    if (raw_key(writer, 2, sp)) {
        wire_write_uint(writer, digest->page_count);
    }
    if (raw_key(writer, 3, sp)) {
        wire_write_uint(writer, digest->reply);
    }
    if (raw_key(writer, 4, sp)) {
        wire_write_array(writer, digest->entry_count);
        for (uint32_t i = 0; i < digest->entry_count; i++) {
            wire_write_array(writer, 2);
            wire_write_bin(writer, digest->entries[i].id.bytes, MESH_NODE_ID_SIZE);
            wire_write_uint(writer, digest->entries[i].sequence);
        }
    }
}

static void raw_pull(wire_writer *writer, const wire_pull *pull, splice sp)
{
    wire_write_map(writer, 1);
    if (raw_key(writer, 0, sp)) {
        wire_write_array(writer, pull->id_count);
        for (uint32_t i = 0; i < pull->id_count; i++) {
            wire_write_bin(writer, pull->ids[i].bytes, MESH_NODE_ID_SIZE);
        }
    }
}

static void raw_push(wire_writer *writer, const wire_push *push, splice sp)
{
    wire_write_map(writer, 1);
    if (raw_key(writer, 0, sp)) {
        wire_write_array(writer, push->record_count);
        for (uint32_t i = 0; i < push->record_count; i++) {
            wire_write_bin(writer, push->records[i].frame, push->records[i].frame_size);
        }
    }
}

static uint32_t
raw_kind(kind which, const any_message *message, splice sp, uint8_t *buf, uint32_t buf_size)
{
    wire_writer writer;
    wire_writer_init(&writer, buf, buf_size);
    switch (which) {
    case KIND_SUSPECT:
        raw_suspect(&writer, &message->suspect, sp);
        break;
    case KIND_PING:
        raw_ping(&writer, &message->ping, sp);
        break;
    case KIND_PING_REQ:
        raw_ping_req(&writer, &message->ping_req, sp);
        break;
    case KIND_DIGEST:
        raw_digest(&writer, &message->digest, sp);
        break;
    case KIND_PULL:
        raw_pull(&writer, &message->pull, sp);
        break;
    case KIND_PUSH:
        raw_push(&writer, &message->push, sp);
        break;
    }
    return raw_finish(&writer);
}

/* Equality of decoded structs, field by field, in-use entries only. */

static void assert_kind_equal(kind which, const any_message *a, const any_message *b)
{
    switch (which) {
    case KIND_SUSPECT:
        assert_memory_equal(a->suspect.target.bytes, b->suspect.target.bytes, MESH_NODE_ID_SIZE);
        assert_true(a->suspect.target_sequence == b->suspect.target_sequence);
        assert_true(a->suspect.at_ns == b->suspect.at_ns);
        return;
    case KIND_PING:
        assert_true(a->ping.nonce == b->ping.nonce);
        assert_memory_equal(a->ping.view_hash, b->ping.view_hash, WIRE_VIEW_HASH_SIZE);
        return;
    case KIND_PING_REQ:
        assert_true(a->ping_req.nonce == b->ping_req.nonce);
        assert_memory_equal(a->ping_req.target.bytes, b->ping_req.target.bytes, MESH_NODE_ID_SIZE);
        return;
    case KIND_DIGEST:
        assert_memory_equal(a->digest.view_hash, b->digest.view_hash, WIRE_VIEW_HASH_SIZE);
        assert_int_equal(a->digest.page, b->digest.page);
        assert_int_equal(a->digest.page_count, b->digest.page_count);
        assert_int_equal(a->digest.reply, b->digest.reply);
        assert_int_equal(a->digest.entry_count, b->digest.entry_count);
        for (uint32_t i = 0; i < a->digest.entry_count; i++) {
            assert_memory_equal(a->digest.entries[i].id.bytes, b->digest.entries[i].id.bytes,
                                MESH_NODE_ID_SIZE);
            assert_true(a->digest.entries[i].sequence == b->digest.entries[i].sequence);
        }
        return;
    case KIND_PULL:
        assert_int_equal(a->pull.id_count, b->pull.id_count);
        assert_memory_equal(a->pull.ids, b->pull.ids, a->pull.id_count * sizeof(a->pull.ids[0]));
        return;
    case KIND_PUSH:
        assert_int_equal(a->push.record_count, b->push.record_count);
        for (uint32_t i = 0; i < a->push.record_count; i++) {
            assert_int_equal(a->push.records[i].frame_size, b->push.records[i].frame_size);
            assert_memory_equal(a->push.records[i].frame, b->push.records[i].frame,
                                a->push.records[i].frame_size);
        }
        return;
    }
    fail();
}

// encode -> decode -> equal struct -> re-encode -> equal bytes; and the
// raw writer agrees byte for byte with the real encoder.
static void round_trip(kind which, const any_message *message)
{
    uint32_t size = 0;
    assert_int_equal(encode_kind(which, message, buf_a, BUF_SIZE, &size), MESH_OK);
    assert_true(size > 0 && size <= WIRE_BODY_SIZE_MAX);

    wire_error error = {WIRE_REASON_TRAILING, 99};
    assert_int_equal(decode_kind(which, buf_a, size, &message_b, &error), MESH_OK);
    assert_int_equal(error.reason, WIRE_REASON_NONE);
    assert_kind_equal(which, message, &message_b);

    static uint8_t again[BUF_SIZE];
    uint32_t again_size = 0;
    assert_int_equal(encode_kind(which, &message_b, again, BUF_SIZE, &again_size), MESH_OK);
    assert_int_equal(again_size, size);
    assert_memory_equal(again, buf_a, size);

    uint32_t raw_size = raw_kind(which, message, no_splice, buf_b, BUF_SIZE);
    assert_int_equal(raw_size, size);
    assert_memory_equal(buf_b, buf_a, size);
}

/* Types and their authentication. */

static void test_type_auth_sizes(void **state)
{
    (void) state;
    for (uint32_t number = 0; number <= 300; number++) {
        wire_type type = (wire_type) number;
        bool mac = number >= 8 && number <= 13;
        bool signed_record = number >= 1 && number <= 4;
        bool lease = number >= 16 && number <= 21; // signed by their sender (21: the summary)
        assert_int_equal(wire_type_is_mac(type), mac);
        uint32_t expected =
            mac ? WIRE_MAC_SIZE : (signed_record || lease ? WIRE_SIGNATURE_SIZE : 0u);
        assert_int_equal(wire_type_auth_size(type), expected);
    }
    assert_int_equal(wire_type_auth_size(WIRE_TYPE_SUSPECT), 64);
    assert_int_equal(wire_type_auth_size(WIRE_TYPE_PING), 16);
    assert_int_equal(wire_type_auth_size(WIRE_TYPE_PUSH), 16);
    assert_int_equal(wire_type_auth_size(WIRE_TYPE_LEASE_REQUEST), 64);
    assert_int_equal(wire_type_auth_size(WIRE_TYPE_LEASE_END), 64);
    assert_false(wire_type_is_mac(WIRE_TYPE_LEASE_RECORD));
    assert_int_equal(wire_type_auth_size(WIRE_TYPE_LEDGER_SUMMARY), 64);
    assert_int_equal(wire_type_auth_size((wire_type) 22), 0); // 22..31: reserved
    assert_false(wire_type_is_mac((wire_type) 0xffffffffu));
    assert_int_equal(wire_type_auth_size((wire_type) 0xffffffffu), 0);
}

/* The envelope with every known type. */

static const wire_type known_types[] = {
    WIRE_TYPE_ADVERT,         WIRE_TYPE_CERT,          WIRE_TYPE_REVOCATION,
    WIRE_TYPE_SUSPECT,        WIRE_TYPE_PING,          WIRE_TYPE_ACK,
    WIRE_TYPE_PING_REQ,       WIRE_TYPE_DIGEST,        WIRE_TYPE_PULL,
    WIRE_TYPE_PUSH,           WIRE_TYPE_LEASE_REQUEST, WIRE_TYPE_LEASE_OFFER,
    WIRE_TYPE_LEASE_REFUSE,   WIRE_TYPE_LEASE_RECORD,  WIRE_TYPE_LEASE_END,
    WIRE_TYPE_LEDGER_SUMMARY,
};

static const uint8_t envelope_body[] = {0x82, 0x00, 0x07, 0x01, 0xc4, 0x00};

static void sample_envelope(wire_envelope *envelope, wire_type type)
{
    memset(envelope, 0, sizeof(*envelope));
    envelope->version = WIRE_VERSION;
    envelope->type = type;
    for (uint32_t i = 0; i < MESH_NODE_ID_SIZE; i++) {
        envelope->signer.bytes[i] = (uint8_t) (0xa0 + i);
    }
    envelope->body = envelope_body;
    envelope->body_size = sizeof(envelope_body);
    for (uint32_t i = 0; i < WIRE_SIGNATURE_SIZE; i++) {
        envelope->signature[i] = (uint8_t) (0xff - i);
    }
}

// The envelope with an authentication field of auth_size bytes, whatever
// the type says.
static uint32_t raw_envelope(const wire_envelope *envelope, uint32_t auth_size, uint8_t *buf)
{
    wire_writer writer;
    wire_writer_init(&writer, buf, BUF_SIZE);
    wire_write_array(&writer, 5);
    wire_write_uint(&writer, envelope->version);
    wire_write_uint(&writer, (uint64_t) envelope->type);
    wire_write_bin(&writer, envelope->signer.bytes, MESH_NODE_ID_SIZE);
    wire_write_bin(&writer, envelope->body, envelope->body_size);
    wire_write_bin(&writer, envelope->signature, auth_size);
    return raw_finish(&writer);
}

static void expect_envelope_reject(
    const char *what, const uint8_t *bytes, uint32_t size, wire_reason reason, uint32_t offset)
{
    wire_envelope out;
    memset(&out, 0x5a, sizeof(out));
    wire_error error = {WIRE_REASON_NONE, 0};
    mesh_err err = wire_envelope_decode(bytes, size, &out, &error);
    if (err != MESH_EPROTO || error.reason != reason || error.offset != offset) {
        print_message("envelope %s: got %s/%s at %u, want %s at %u\n", what, mesh_err_name(err),
                      wire_reason_name(error.reason), error.offset, wire_reason_name(reason),
                      offset);
    }
    assert_int_equal(err, MESH_EPROTO);
    assert_int_equal(error.reason, reason);
    assert_int_equal(error.offset, offset);
    wire_envelope untouched;
    memset(&untouched, 0x5a, sizeof(untouched));
    assert_memory_equal(&out, &untouched, sizeof(out));
}

static void test_envelope_every_type(void **state)
{
    (void) state;
    for (uint32_t t = 0; t < MESH_ARRAY_COUNT(known_types); t++) {
        wire_type type = known_types[t];
        wire_envelope envelope;
        sample_envelope(&envelope, type);
        uint32_t size = 0;
        assert_int_equal(wire_envelope_encode(&envelope, buf_a, BUF_SIZE, &size), MESH_OK);
        uint32_t auth_size = wire_type_auth_size(type);
        // The last field is bin8(auth_size), at the very end.
        assert_int_equal(buf_a[size - auth_size - 2], 0xc4);
        assert_int_equal(buf_a[size - auth_size - 1], auth_size);
        assert_memory_equal(buf_a + size - auth_size, envelope.signature, auth_size);
        // The raw writer agrees.
        assert_int_equal(raw_envelope(&envelope, auth_size, buf_b), size);
        assert_memory_equal(buf_a, buf_b, size);

        wire_envelope decoded;
        memset(&decoded, 0x77, sizeof(decoded));
        assert_int_equal(wire_envelope_decode(buf_a, size, &decoded, NULL), MESH_OK);
        assert_int_equal(decoded.type, type);
        assert_int_equal(decoded.body_size, sizeof(envelope_body));
        assert_memory_equal(decoded.body, envelope_body, sizeof(envelope_body));
        assert_memory_equal(decoded.signature, envelope.signature, auth_size);
        // A MAC'd envelope's signature array is zero past the MAC.
        for (uint32_t i = auth_size; i < WIRE_SIGNATURE_SIZE; i++) {
            assert_int_equal(decoded.signature[i], 0);
        }
        uint32_t again_size = 0;
        assert_int_equal(wire_envelope_encode(&decoded, buf_b, BUF_SIZE, &again_size), MESH_OK);
        assert_int_equal(again_size, size);
        assert_memory_equal(buf_a, buf_b, size);

        // The MAC'd frame is exactly 48 bytes shorter than a signed one.
        if (wire_type_is_mac(type)) {
            wire_envelope signed_envelope;
            sample_envelope(&signed_envelope, WIRE_TYPE_ADVERT);
            uint32_t signed_size = 0;
            assert_int_equal(wire_envelope_encode(&signed_envelope, buf_b, BUF_SIZE, &signed_size),
                             MESH_OK);
            assert_int_equal(signed_size - size, WIRE_SIGNATURE_SIZE - WIRE_MAC_SIZE);
        }

        // Truncated at every prefix: TRUNCATED or LENGTH, never success.
        for (uint32_t prefix = 0; prefix < size; prefix++) {
            uint8_t *copy = test_malloc(prefix > 0 ? prefix : 1);
            memcpy(copy, buf_a, prefix);
            wire_error error = {WIRE_REASON_NONE, 0};
            assert_int_equal(wire_envelope_decode(copy, prefix, &decoded, &error), MESH_EPROTO);
            assert_true(error.reason == WIRE_REASON_TRUNCATED ||
                        error.reason == WIRE_REASON_LENGTH);
            assert_true(error.offset <= prefix);
            test_free(copy);
        }
        // Every buffer too small is MESH_EFULL, size_out untouched.
        for (uint32_t small = 0; small < size; small++) {
            uint32_t small_size = 0xdeadbeef;
            assert_int_equal(wire_envelope_encode(&envelope, buf_b, small, &small_size),
                             MESH_EFULL);
            assert_int_equal(small_size, 0xdeadbeef);
        }
    }
}

static void test_envelope_wrong_auth_size(void **state)
{
    (void) state;
    static const uint32_t sizes[] = {0, 1, 15, 16, 17, 32, 63, 64};
    for (uint32_t t = 0; t < MESH_ARRAY_COUNT(known_types); t++) {
        wire_envelope envelope;
        sample_envelope(&envelope, known_types[t]);
        uint32_t want = wire_type_auth_size(known_types[t]);
        for (uint32_t s = 0; s < MESH_ARRAY_COUNT(sizes); s++) {
            uint32_t size = raw_envelope(&envelope, sizes[s], buf_a);
            if (sizes[s] == want) {
                wire_envelope decoded;
                assert_int_equal(wire_envelope_decode(buf_a, size, &decoded, NULL), MESH_OK);
                continue;
            }
            // The field starts right after the body; the declared length is
            // over the type's limit or short of it: LENGTH either way.
            uint32_t offset = size - sizes[s] - 2;
            expect_envelope_reject("wrong auth size", buf_a, size, WIRE_REASON_LENGTH, offset);
        }
    }
    // The two named in the brief, spelled out.
    wire_envelope envelope;
    sample_envelope(&envelope, WIRE_TYPE_PING);
    uint32_t size = raw_envelope(&envelope, WIRE_SIGNATURE_SIZE, buf_a);
    expect_envelope_reject("bin(64) on a PING", buf_a, size, WIRE_REASON_LENGTH, size - 66);
    sample_envelope(&envelope, WIRE_TYPE_ADVERT);
    size = raw_envelope(&envelope, WIRE_MAC_SIZE, buf_a);
    expect_envelope_reject("bin(16) on an ADVERT", buf_a, size, WIRE_REASON_LENGTH, size - 18);
    sample_envelope(&envelope, WIRE_TYPE_SUSPECT);
    size = raw_envelope(&envelope, WIRE_MAC_SIZE, buf_a);
    expect_envelope_reject("bin(16) on a SUSPECT", buf_a, size, WIRE_REASON_LENGTH, size - 18);
}

static void test_envelope_unknown_types(void **state)
{
    (void) state;
    static const uint32_t unknown[] = {0,  5,  6,  7,  14, 15,  23,  22,         25,
                                       24, 30, 31, 32, 33, 127, 255, 0xffffffffu};
    for (uint32_t u = 0; u < MESH_ARRAY_COUNT(unknown); u++) {
        wire_envelope envelope;
        sample_envelope(&envelope, (wire_type) unknown[u]);
        // The encoder refuses the type whatever the auth size.
        uint32_t size = 0xdeadbeef;
        assert_int_equal(wire_envelope_encode(&envelope, buf_a, BUF_SIZE, &size), MESH_EINVAL);
        assert_int_equal(size, 0xdeadbeef);
        // The decoder refuses it at the type field (offset 2), with either
        // authentication size after it.
        size = raw_envelope(&envelope, WIRE_SIGNATURE_SIZE, buf_a);
        expect_envelope_reject("unknown type, bin(64)", buf_a, size, WIRE_REASON_UNKNOWN_TYPE, 2);
        size = raw_envelope(&envelope, WIRE_MAC_SIZE, buf_a);
        expect_envelope_reject("unknown type, bin(16)", buf_a, size, WIRE_REASON_UNKNOWN_TYPE, 2);
    }
}

static void test_envelope_mac_tail_not_sent(void **state)
{
    (void) state;
    // Whatever the caller leaves past the MAC is neither sent nor part of
    // the canonical bytes.
    wire_envelope a;
    wire_envelope b;
    sample_envelope(&a, WIRE_TYPE_DIGEST);
    sample_envelope(&b, WIRE_TYPE_DIGEST);
    memset(b.signature + WIRE_MAC_SIZE, 0, WIRE_SIGNATURE_SIZE - WIRE_MAC_SIZE);
    uint32_t a_size = 0;
    uint32_t b_size = 0;
    assert_int_equal(wire_envelope_encode(&a, buf_a, BUF_SIZE, &a_size), MESH_OK);
    assert_int_equal(wire_envelope_encode(&b, buf_b, BUF_SIZE, &b_size), MESH_OK);
    assert_int_equal(a_size, b_size);
    assert_memory_equal(buf_a, buf_b, a_size);
    // The frame ends with bin8(16) and the MAC's bytes, nothing after.
    assert_int_equal(buf_a[a_size - WIRE_MAC_SIZE - 2], 0xc4);
    assert_int_equal(buf_a[a_size - WIRE_MAC_SIZE - 1], WIRE_MAC_SIZE);
    assert_memory_equal(buf_a + a_size - WIRE_MAC_SIZE, a.signature, WIRE_MAC_SIZE);
}

/* Round trips. */

static void test_round_trip_samples(void **state)
{
    (void) state;
    memset(record_big, 0xab, sizeof(record_big));
    for (kind which = KIND_FIRST; which <= KIND_LAST; which++) {
        sample_kind(which, &message_a);
        round_trip(which, &message_a);
    }
}

static void test_round_trip_suspect_and_pings(void **state)
{
    (void) state;
    // Every integer form boundary of the free-range fields.
    static const uint64_t values[] = {0,          1,           0x7f,      0x80,
                                      0xff,       0x100,       0xffff,    0x10000,
                                      0xffffffff, 0x100000000, INT64_MAX, 0x8000000000000000ull,
                                      UINT64_MAX};
    for (uint32_t i = 0; i < MESH_ARRAY_COUNT(values); i++) {
        sample_kind(KIND_PING, &message_a);
        message_a.ping.nonce = values[i];
        round_trip(KIND_PING, &message_a);
        sample_kind(KIND_PING_REQ, &message_a);
        message_a.ping_req.nonce = values[i];
        round_trip(KIND_PING_REQ, &message_a);
        if (values[i] >= 1) {
            sample_kind(KIND_SUSPECT, &message_a);
            message_a.suspect.target_sequence = values[i];
            round_trip(KIND_SUSPECT, &message_a);
        }
        if (values[i] >= 1 && values[i] <= INT64_MAX) {
            sample_kind(KIND_SUSPECT, &message_a);
            message_a.suspect.at_ns = (int64_t) values[i];
            round_trip(KIND_SUSPECT, &message_a);
        }
    }
    // All-zero and all-ones hashes and ids.
    sample_kind(KIND_PING, &message_a);
    memset(message_a.ping.view_hash, 0, WIRE_VIEW_HASH_SIZE);
    round_trip(KIND_PING, &message_a);
    memset(message_a.ping.view_hash, 0xff, WIRE_VIEW_HASH_SIZE);
    round_trip(KIND_PING, &message_a);
    sample_kind(KIND_PING_REQ, &message_a);
    memset(message_a.ping_req.target.bytes, 0, MESH_NODE_ID_SIZE);
    round_trip(KIND_PING_REQ, &message_a);
}

static void test_round_trip_digest_shapes(void **state)
{
    (void) state;
    wire_digest *digest = &message_a.digest;
    // No entries; page 0 of 1; reply 0.
    sample_kind(KIND_DIGEST, &message_a);
    digest->entry_count = 0;
    digest->page = 0;
    digest->page_count = 1;
    digest->reply = 0;
    round_trip(KIND_DIGEST, &message_a);

    // The largest page: WIRE_DIGEST_ENTRIES_MAX entries in page 255 of 256
    // (prefixes 0xff00..0xffff), sequences across every integer form.
    sample_kind(KIND_DIGEST, &message_a);
    digest->page = WIRE_DIGEST_PAGES_MAX - 1;
    digest->page_count = WIRE_DIGEST_PAGES_MAX;
    digest->entry_count = WIRE_DIGEST_ENTRIES_MAX;
    for (uint32_t i = 0; i < WIRE_DIGEST_ENTRIES_MAX; i++) {
        id_with_prefix(&digest->entries[i].id, 0xff00u + i / 4u, (uint8_t) (i % 4u));
        digest->entries[i].sequence = 1ull << (i % 64u);
    }
    round_trip(KIND_DIGEST, &message_a);

    // A page count that does not divide 65536: each page's first and last
    // prefix, for every page of 3 and of 255.
    static const uint32_t counts[] = {3, 255};
    for (uint32_t c = 0; c < MESH_ARRAY_COUNT(counts); c++) {
        uint32_t page_count = counts[c];
        for (uint32_t page = 0; page < page_count; page++) {
            sample_kind(KIND_DIGEST, &message_a);
            digest->page = page;
            digest->page_count = page_count;
            digest->entry_count = 2;
            uint32_t first = page * 65536u / page_count;
            uint32_t last = (page + 1u) * 65536u / page_count - 1u;
            id_with_prefix(&digest->entries[0].id, first, 0x00);
            id_with_prefix(&digest->entries[1].id, last, 0xff);
            digest->entries[0].sequence = 5;
            digest->entries[1].sequence = 6;
            round_trip(KIND_DIGEST, &message_a);
        }
    }
}

static void test_round_trip_pull_and_push_shapes(void **state)
{
    (void) state;
    // One id; the most ids (array16 header).
    sample_kind(KIND_PULL, &message_a);
    message_a.pull.id_count = 1;
    round_trip(KIND_PULL, &message_a);
    message_a.pull.id_count = WIRE_PULL_IDS_MAX;
    for (uint32_t i = 0; i < WIRE_PULL_IDS_MAX; i++) {
        id_with_prefix(&message_a.pull.ids[i], i * 200u, (uint8_t) i);
    }
    round_trip(KIND_PULL, &message_a);
    message_a.pull.id_count = 15; // fixarray's last count
    round_trip(KIND_PULL, &message_a);
    message_a.pull.id_count = 16; // array16's first
    round_trip(KIND_PULL, &message_a);

    // Records at every bin header boundary, the largest record, the most
    // records, duplicates and any order.
    memset(record_big, 0xab, sizeof(record_big));
    static const uint32_t sizes[] = {1, 255, 256, WIRE_RECORD_SIZE_MAX};
    sample_kind(KIND_PUSH, &message_a);
    message_a.push.record_count = MESH_ARRAY_COUNT(sizes);
    for (uint32_t i = 0; i < MESH_ARRAY_COUNT(sizes); i++) {
        message_a.push.records[i].frame = record_big;
        message_a.push.records[i].frame_size = sizes[MESH_ARRAY_COUNT(sizes) - 1 - i];
    }
    round_trip(KIND_PUSH, &message_a);
    message_a.push.record_count = WIRE_PUSH_RECORDS_MAX;
    for (uint32_t i = 0; i < WIRE_PUSH_RECORDS_MAX; i++) {
        message_a.push.records[i].frame = record_one;
        message_a.push.records[i].frame_size = sizeof(record_one);
    }
    round_trip(KIND_PUSH, &message_a);
}

static void test_push_records_point_into_body(void **state)
{
    (void) state;
    memset(record_big, 0xab, sizeof(record_big));
    sample_kind(KIND_PUSH, &message_a);
    uint32_t size = 0;
    assert_int_equal(wire_push_encode(&message_a.push, buf_a, BUF_SIZE, &size), MESH_OK);
    assert_int_equal(wire_push_decode(buf_a, size, &message_b.push, NULL), MESH_OK);
    for (uint32_t i = 0; i < message_b.push.record_count; i++) {
        const wire_record *record = &message_b.push.records[i];
        assert_true(record->frame > buf_a);
        assert_true(record->frame + record->frame_size <= buf_a + size);
    }
    // The last record ends the body.
    const wire_record *last = &message_b.push.records[message_b.push.record_count - 1];
    assert_ptr_equal(last->frame + last->frame_size, buf_a + size);
}

// A push whose records add up to more than a body may carry is valid as a
// struct but cannot be one body: MESH_EFULL even with a huge buffer.
static void test_push_over_body_size(void **state)
{
    (void) state;
    static uint8_t big_record[WIRE_RECORD_SIZE_MAX];
    memset(big_record, 0xcd, sizeof(big_record));
    static uint8_t huge[WIRE_PUSH_RECORDS_MAX * (WIRE_RECORD_SIZE_MAX + 3u) + 16u];
    wire_push *push = &message_a.push;
    memset(push, 0, sizeof(*push));
    push->record_count = WIRE_PUSH_RECORDS_MAX;
    for (uint32_t i = 0; i < WIRE_PUSH_RECORDS_MAX; i++) {
        push->records[i].frame = big_record;
        push->records[i].frame_size = WIRE_RECORD_SIZE_MAX;
    }
    uint32_t size = 0xdeadbeef;
    assert_int_equal(wire_push_encode(push, huge, sizeof(huge), &size), MESH_EFULL);
    assert_int_equal(size, 0xdeadbeef);
    // The most 4 KiB records that fit: 15 (map, key and array header take
    // 3 bytes, each record 3 + 4096).
    uint32_t fit = (WIRE_BODY_SIZE_MAX - 4u) / (WIRE_RECORD_SIZE_MAX + 3u);
    push->record_count = fit;
    assert_int_equal(wire_push_encode(push, huge, sizeof(huge), &size), MESH_OK);
    assert_true(size <= WIRE_BODY_SIZE_MAX);
    assert_int_equal(wire_push_decode(huge, size, &message_b.push, NULL), MESH_OK);
    assert_int_equal(message_b.push.record_count, fit);
    push->record_count = fit + 1u;
    assert_int_equal(wire_push_encode(push, huge, sizeof(huge), &size), MESH_EFULL);
}

/* The digest's pages. */

static void test_digest_page_of(void **state)
{
    (void) state;
    // Against the documented ranges: page p holds the prefixes in
    // [p * 65536 / page_count, (p + 1) * 65536 / page_count), for every
    // page count and every page's first and last prefix.
    for (uint32_t page_count = 1; page_count <= WIRE_DIGEST_PAGES_MAX; page_count++) {
        for (uint32_t page = 0; page < page_count; page++) {
            uint32_t first = page * 65536u / page_count;
            uint32_t end = (page + 1u) * 65536u / page_count;
            assert_true(first < end);
            mesh_node_id id;
            id_with_prefix(&id, first, 0x00);
            assert_int_equal(wire_digest_page_of(&id, page_count), page);
            id_with_prefix(&id, end - 1u, 0xff);
            assert_int_equal(wire_digest_page_of(&id, page_count), page);
        }
    }
    // Every prefix, for page counts that divide 65536 and some that do not.
    static const uint32_t counts[] = {1, 2, 3, 7, 100, 128, 255, 256};
    for (uint32_t c = 0; c < MESH_ARRAY_COUNT(counts); c++) {
        uint32_t page_count = counts[c];
        uint32_t page = 0;
        for (uint32_t prefix = 0; prefix < 65536u; prefix++) {
            while ((page + 1u) * 65536u / page_count <= prefix) {
                page++;
            }
            mesh_node_id id;
            id_with_prefix(&id, prefix, (uint8_t) prefix);
            assert_int_equal(wire_digest_page_of(&id, page_count), page);
        }
        assert_int_equal(page, page_count - 1u);
    }
    // Only the first two bytes matter.
    mesh_node_id a;
    mesh_node_id b;
    id_with_prefix(&a, 0x1234, 0x00);
    id_with_prefix(&b, 0x1234, 0xff);
    assert_int_equal(wire_digest_page_of(&a, 17), wire_digest_page_of(&b, 17));
    assert_int_equal(wire_digest_page_of(&a, 256), 0x12);
}

/* Bad structs: the encoder refuses them, the decoder refuses their bytes. */

typedef struct bad_case {
    const char *what;
    wire_reason reason;
} bad_case;

static bool bad_suspect(uint32_t index, wire_suspect *suspect, bad_case *out)
{
    sample_suspect(suspect);
    switch (index) {
    case 0:
        out->what = "target_sequence 0";
        out->reason = WIRE_REASON_RANGE;
        suspect->target_sequence = 0;
        return true;
    case 1:
        out->what = "at_ns 0";
        out->reason = WIRE_REASON_RANGE;
        suspect->at_ns = 0;
        return true;
    case 2:
        out->what = "at_ns -1";
        out->reason = WIRE_REASON_RANGE;
        suspect->at_ns = -1;
        return true;
    case 3:
        out->what = "at_ns INT64_MIN";
        out->reason = WIRE_REASON_RANGE;
        suspect->at_ns = INT64_MIN;
        return true;
    default:
        return false;
    }
}

static bool bad_digest(uint32_t index, wire_digest *digest, bad_case *out)
{
    sample_digest(digest);
    out->reason = WIRE_REASON_RANGE;
    switch (index) {
    case 0:
        out->what = "page == page_count";
        digest->page = 4;
        return true;
    case 1:
        out->what = "page > page_count";
        digest->page = 200;
        digest->page_count = 100;
        digest->entry_count = 0;
        return true;
    case 2:
        out->what = "page_count 0";
        digest->page = 0;
        digest->page_count = 0;
        digest->entry_count = 0;
        return true;
    case 3:
        out->what = "page_count 257";
        digest->page_count = WIRE_DIGEST_PAGES_MAX + 1;
        digest->entry_count = 0;
        return true;
    case 4:
        out->what = "page 256";
        digest->page = WIRE_DIGEST_PAGES_MAX;
        digest->page_count = WIRE_DIGEST_PAGES_MAX;
        digest->entry_count = 0;
        return true;
    case 5:
        out->what = "reply 2";
        digest->reply = 2;
        return true;
    case 6:
        out->what = "sequence 0";
        digest->entries[1].sequence = 0;
        return true;
    case 7:
        out->what = "first id below the page";
        id_with_prefix(&digest->entries[0].id, 0x7fff, 0xff);
        return true;
    case 8:
        out->what = "last id above the page";
        id_with_prefix(&digest->entries[2].id, 0xc000, 0x00);
        return true;
    case 9:
        out->what = "an id in another page, ascending";
        digest->page = 0;
        digest->page_count = 2;
        id_with_prefix(&digest->entries[0].id, 0x0000, 0x00);
        id_with_prefix(&digest->entries[1].id, 0x7fff, 0xff);
        id_with_prefix(&digest->entries[2].id, 0x8000, 0x00);
        return true;
    case 10:
        // Page 1 of 3 is [21845, 43690): 21844 is in page 0.
        out->what = "page 1 of 3, prefix one below";
        digest->page = 1;
        digest->page_count = 3;
        digest->entry_count = 1;
        id_with_prefix(&digest->entries[0].id, 21844, 0xff);
        return true;
    case 11:
        out->what = "page 1 of 3, prefix at the next page";
        digest->page = 1;
        digest->page_count = 3;
        digest->entry_count = 1;
        id_with_prefix(&digest->entries[0].id, 43690, 0x00);
        return true;
    case 12:
        out->what = "ids descending";
        out->reason = WIRE_REASON_NOT_CANONICAL;
        digest->entries[1].id = digest->entries[2].id;
        id_with_prefix(&digest->entries[2].id, 0x9000, 0x00);
        return true;
    case 13:
        out->what = "ids duplicate";
        out->reason = WIRE_REASON_NOT_CANONICAL;
        digest->entries[2].id = digest->entries[1].id;
        return true;
    case 14:
        out->what = "ids differ in the last byte only, descending";
        out->reason = WIRE_REASON_NOT_CANONICAL;
        digest->entries[2].id = digest->entries[1].id;
        digest->entries[2].id.bytes[MESH_NODE_ID_SIZE - 1]--;
        return true;
    default:
        return false;
    }
}

static bool bad_pull(uint32_t index, wire_pull *pull, bad_case *out)
{
    sample_pull(pull);
    switch (index) {
    case 0:
        out->what = "no ids";
        out->reason = WIRE_REASON_RANGE;
        pull->id_count = 0;
        return true;
    case 1:
        out->what = "ids descending";
        out->reason = WIRE_REASON_NOT_CANONICAL;
        pull->ids[0] = pull->ids[2];
        id_with_prefix(&pull->ids[2], 0x0001, 0x10);
        return true;
    case 2:
        out->what = "ids duplicate";
        out->reason = WIRE_REASON_NOT_CANONICAL;
        pull->ids[1] = pull->ids[0];
        return true;
    default:
        return false;
    }
}

static bool bad_push(uint32_t index, wire_push *push, bad_case *out)
{
    sample_push(push);
    switch (index) {
    case 0:
        out->what = "no records";
        out->reason = WIRE_REASON_RANGE;
        push->record_count = 0;
        return true;
    case 1:
        out->what = "an empty record";
        out->reason = WIRE_REASON_RANGE;
        push->records[1].frame_size = 0;
        return true;
    case 2:
        out->what = "a record of 4097 bytes";
        out->reason = WIRE_REASON_LENGTH;
        push->records[2].frame_size = WIRE_RECORD_SIZE_MAX + 1;
        return true;
    default:
        return false;
    }
}

static bool bad_kind(kind which, uint32_t index, any_message *message, bad_case *out)
{
    switch (which) {
    case KIND_SUSPECT:
        return bad_suspect(index, &message->suspect, out);
    case KIND_PING:
    case KIND_PING_REQ:
        return false; // every value of every field is valid
    case KIND_DIGEST:
        return bad_digest(index, &message->digest, out);
    case KIND_PULL:
        return bad_pull(index, &message->pull, out);
    case KIND_PUSH:
        return bad_push(index, &message->push, out);
    }
    fail();
    return false;
}

static void test_bad_structs_refused_both_ways(void **state)
{
    (void) state;
    memset(record_big, 0xab, sizeof(record_big));
    uint32_t total = 0;
    for (kind which = KIND_FIRST; which <= KIND_LAST; which++) {
        bad_case bad;
        for (uint32_t index = 0; bad_kind(which, index, &message_a, &bad); index++) {
            uint32_t size = 0xdeadbeef;
            mesh_err err = encode_kind(which, &message_a, buf_a, BUF_SIZE, &size);
            if (err != MESH_EINVAL) {
                print_message("%s %s: encode gave %s\n", kind_names[which], bad.what,
                              mesh_err_name(err));
            }
            assert_int_equal(err, MESH_EINVAL);
            assert_int_equal(size, 0xdeadbeef);
            uint32_t raw_size = raw_kind(which, &message_a, no_splice, buf_a, BUF_SIZE);
            expect_reject(which, bad.what, buf_a, raw_size, bad.reason);
            total++;
        }
    }
    assert_true(total >= 25);
}

// Structs the decoder can never produce: counts over the arrays, NULL
// records. The encoder refuses them rather than read past.
static void test_encoder_refuses_unrepresentable(void **state)
{
    (void) state;
    uint32_t size = 0xdeadbeef;
    sample_digest(&message_a.digest);
    message_a.digest.entry_count = WIRE_DIGEST_ENTRIES_MAX + 1;
    assert_int_equal(wire_digest_encode(&message_a.digest, buf_a, BUF_SIZE, &size), MESH_EINVAL);
    sample_pull(&message_a.pull);
    message_a.pull.id_count = WIRE_PULL_IDS_MAX + 1;
    assert_int_equal(wire_pull_encode(&message_a.pull, buf_a, BUF_SIZE, &size), MESH_EINVAL);
    sample_push(&message_a.push);
    message_a.push.record_count = WIRE_PUSH_RECORDS_MAX + 1;
    assert_int_equal(wire_push_encode(&message_a.push, buf_a, BUF_SIZE, &size), MESH_EINVAL);
    sample_push(&message_a.push);
    message_a.push.records[0].frame = NULL;
    assert_int_equal(wire_push_encode(&message_a.push, buf_a, BUF_SIZE, &size), MESH_EINVAL);
    assert_int_equal(size, 0xdeadbeef);
}

/* Shapes no struct can hold, spliced in as raw bytes. */

typedef struct splice_case {
    kind which;
    int32_t key;
    const char *what;
    uint8_t bytes[24];
    uint32_t size;
    wire_reason reason;
} splice_case;

static void test_spliced_fields(void **state)
{
    (void) state;
    static const splice_case cases[] = {
        {KIND_SUSPECT, 0, "target 15 bytes", {0xc4, 15}, 17, WIRE_REASON_LENGTH},
        {KIND_SUSPECT, 0, "target 17 bytes", {0xc4, 17}, 19, WIRE_REASON_LENGTH},
        {KIND_SUSPECT, 0, "target as str", {0xb0}, 17, WIRE_REASON_TYPE},
        {KIND_SUSPECT, 1, "target_sequence -1", {0xff}, 1, WIRE_REASON_RANGE},
        {KIND_SUSPECT, 1, "target_sequence cc 05", {0xcc, 0x05}, 2, WIRE_REASON_NOT_CANONICAL},
        {KIND_SUSPECT, 1, "target_sequence nil", {0xc0}, 1, WIRE_REASON_TYPE},
        {KIND_SUSPECT,
         2,
         "at_ns over INT64_MAX",
         {0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0},
         9,
         WIRE_REASON_RANGE},
        {KIND_SUSPECT, 2, "at_ns signed form for 5", {0xd0, 0x05}, 2, WIRE_REASON_NOT_CANONICAL},
        {KIND_SUSPECT, 2, "at_ns truncated", {0xcf, 0x01}, 2, WIRE_REASON_TRUNCATED},
        {KIND_PING, 0, "nonce -1", {0xff}, 1, WIRE_REASON_RANGE},
        {KIND_PING, 0, "nonce d3 min", {0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0}, 9, WIRE_REASON_RANGE},
        {KIND_PING, 0, "nonce cd 00 7f", {0xcd, 0x00, 0x7f}, 3, WIRE_REASON_NOT_CANONICAL},
        {KIND_PING, 0, "nonce as float", {0xca, 0, 0, 0, 0}, 5, WIRE_REASON_TYPE},
        {KIND_PING, 1, "view_hash 15 bytes", {0xc4, 15}, 17, WIRE_REASON_LENGTH},
        {KIND_PING, 1, "view_hash bin16 header", {0xc5, 0x00, 0x10}, 19, WIRE_REASON_NOT_CANONICAL},
        {KIND_PING, 1, "view_hash as array", {0x9f}, 1, WIRE_REASON_TYPE},
        {KIND_PING_REQ, 0, "nonce true", {0xc3}, 1, WIRE_REASON_TYPE},
        {KIND_PING_REQ, 1, "target 0 bytes", {0xc4, 0x00}, 2, WIRE_REASON_LENGTH},
        {KIND_PING_REQ, 1, "target 32 bytes", {0xc4, 32}, 2, WIRE_REASON_LENGTH},
        {KIND_DIGEST, 0, "view_hash 17 bytes", {0xc4, 17}, 19, WIRE_REASON_LENGTH},
        {KIND_DIGEST, 1, "page -1", {0xff}, 1, WIRE_REASON_RANGE},
        {KIND_DIGEST, 1, "page 2^32", {0xcf, 0, 0, 0, 1, 0, 0, 0, 0}, 9, WIRE_REASON_RANGE},
        {KIND_DIGEST, 2, "page_count cd 00 04", {0xcd, 0x00, 0x04}, 3, WIRE_REASON_NOT_CANONICAL},
        {KIND_DIGEST, 3, "reply true", {0xc3}, 1, WIRE_REASON_TYPE},
        {KIND_DIGEST, 3, "reply 255", {0xcc, 0xff}, 2, WIRE_REASON_RANGE},
        {KIND_DIGEST, 4, "entries as map", {0x80}, 1, WIRE_REASON_TYPE},
        {KIND_DIGEST, 4, "entries array16(0)", {0xdc, 0x00, 0x00}, 3, WIRE_REASON_NOT_CANONICAL},
        {KIND_DIGEST,
         4,
         "entries array32 bomb",
         {0xdd, 0xd6, 0x2d, 0x3f, 0x31},
         5,
         WIRE_REASON_LENGTH},
        {KIND_DIGEST, 4, "entries 1025", {0xdc, 0x04, 0x01}, 3, WIRE_REASON_LENGTH},
        {KIND_DIGEST, 4, "entry array(1)", {0x91, 0x91, 0xc4, 16}, 20, WIRE_REASON_MISSING_FIELD},
        {KIND_DIGEST, 4, "entry array(3)", {0x91, 0x93}, 2, WIRE_REASON_LENGTH},
        {KIND_DIGEST, 4, "entry as map", {0x91, 0x82}, 2, WIRE_REASON_TYPE},
        {KIND_DIGEST, 4, "entry id 15 bytes", {0x91, 0x92, 0xc4, 15}, 19, WIRE_REASON_LENGTH},
        {KIND_DIGEST,
         4,
         "entry sequence -1",
         {0x91, 0x92, 0xc4, 16, 0x80, [20] = 0xff},
         21,
         WIRE_REASON_RANGE},
        {KIND_PULL, 0, "ids as bin", {0xc4, 0x00}, 2, WIRE_REASON_TYPE},
        {KIND_PULL, 0, "ids 257", {0xdc, 0x01, 0x01}, 3, WIRE_REASON_LENGTH},
        {KIND_PULL, 0, "ids array16(1)", {0xdc, 0x00, 0x01}, 3, WIRE_REASON_NOT_CANONICAL},
        {KIND_PULL, 0, "id 15 bytes", {0x91, 0xc4, 15}, 18, WIRE_REASON_LENGTH},
        {KIND_PULL, 0, "id as str", {0x91, 0xb0}, 18, WIRE_REASON_TYPE},
        {KIND_PUSH, 0, "records 65", {0xdc, 0x00, 0x41}, 3, WIRE_REASON_LENGTH},
        {KIND_PUSH, 0, "record as str", {0x91, 0xa1, 0x01}, 3, WIRE_REASON_TYPE},
        {KIND_PUSH,
         0,
         "record bin16 for 1 byte",
         {0x91, 0xc5, 0x00, 0x01, 0x01},
         5,
         WIRE_REASON_NOT_CANONICAL},
        {KIND_PUSH, 0, "record 4097 (header)", {0x91, 0xc5, 0x10, 0x01}, 4, WIRE_REASON_LENGTH},
        {KIND_PUSH, 0, "record past the end", {0x91, 0xc4, 0x09, 0x01}, 4, WIRE_REASON_LENGTH},
    };
    memset(record_big, 0xab, sizeof(record_big));
    for (uint32_t i = 0; i < MESH_ARRAY_COUNT(cases); i++) {
        const splice_case *c = &cases[i];
        // Splices longer than their explicit bytes are padded with zeros:
        // a bin(16) whose payload is zero, say.
        sample_kind(c->which, &message_a);
        splice sp = {c->key, c->bytes, c->size};
        uint32_t size = raw_kind(c->which, &message_a, sp, buf_a, BUF_SIZE);
        expect_reject(c->which, c->what, buf_a, size, c->reason);
    }
}

// Lists over their limits, written out in full (not just the header), so
// that the limit and not the bytes remaining is what refuses them.
static void test_lists_over_limit(void **state)
{
    (void) state;
    wire_writer writer;

    // 257 ascending ids.
    wire_writer_init(&writer, buf_a, BUF_SIZE);
    wire_write_map(&writer, 1);
    wire_write_uint(&writer, 0);
    wire_write_array(&writer, WIRE_PULL_IDS_MAX + 1);
    for (uint32_t i = 0; i <= WIRE_PULL_IDS_MAX; i++) {
        mesh_node_id id;
        id_with_prefix(&id, i, 0);
        wire_write_bin(&writer, id.bytes, MESH_NODE_ID_SIZE);
    }
    uint32_t size = raw_finish(&writer);
    expect_reject(KIND_PULL, "257 ids", buf_a, size, WIRE_REASON_LENGTH);
    wire_error error;
    assert_int_equal(wire_pull_decode(buf_a, size, &message_b.pull, &error), MESH_EPROTO);
    assert_int_equal(error.offset, 2); // the array header

    // 65 records.
    wire_writer_init(&writer, buf_a, BUF_SIZE);
    wire_write_map(&writer, 1);
    wire_write_uint(&writer, 0);
    wire_write_array(&writer, WIRE_PUSH_RECORDS_MAX + 1);
    for (uint32_t i = 0; i <= WIRE_PUSH_RECORDS_MAX; i++) {
        wire_write_bin(&writer, record_one, sizeof(record_one));
    }
    size = raw_finish(&writer);
    expect_reject(KIND_PUSH, "65 records", buf_a, size, WIRE_REASON_LENGTH);

    // A record of 4097 bytes, all present.
    static uint8_t big[WIRE_RECORD_SIZE_MAX + 1];
    memset(big, 0x42, sizeof(big));
    wire_writer_init(&writer, buf_a, BUF_SIZE);
    wire_write_map(&writer, 1);
    wire_write_uint(&writer, 0);
    wire_write_array(&writer, 1);
    wire_write_bin(&writer, big, sizeof(big));
    size = raw_finish(&writer);
    expect_reject(KIND_PUSH, "a record of 4097 bytes", buf_a, size, WIRE_REASON_LENGTH);
    assert_int_equal(wire_push_decode(buf_a, size, &message_b.push, &error), MESH_EPROTO);
    assert_int_equal(error.offset, 3); // the bin header

    // 1025 entries, all in page 0 of 1 and ascending.
    wire_writer_init(&writer, buf_a, BUF_SIZE);
    sample_digest(&message_a.digest);
    wire_write_map(&writer, 5);
    wire_write_uint(&writer, 0);
    wire_write_bin(&writer, message_a.digest.view_hash, WIRE_VIEW_HASH_SIZE);
    wire_write_uint(&writer, 1);
    wire_write_uint(&writer, 0);
    wire_write_uint(&writer, 2);
    wire_write_uint(&writer, 1);
    wire_write_uint(&writer, 3);
    wire_write_uint(&writer, 0);
    wire_write_uint(&writer, 4);
    wire_write_array(&writer, WIRE_DIGEST_ENTRIES_MAX + 1);
    for (uint32_t i = 0; i <= WIRE_DIGEST_ENTRIES_MAX; i++) {
        mesh_node_id id;
        id_with_prefix(&id, i, 0);
        wire_write_array(&writer, 2);
        wire_write_bin(&writer, id.bytes, MESH_NODE_ID_SIZE);
        wire_write_uint(&writer, 1);
    }
    size = raw_finish(&writer);
    expect_reject(KIND_DIGEST, "1025 entries", buf_a, size, WIRE_REASON_LENGTH);
}

/* Map structure: order, duplicates, unknown and missing keys. */

static void test_map_structure(void **state)
{
    (void) state;
    for (kind which = KIND_FIRST; which <= KIND_LAST; which++) {
        sample_kind(which, &message_a);
        uint32_t size = 0;
        assert_int_equal(encode_kind(which, &message_a, buf_a, BUF_SIZE, &size), MESH_OK);
        uint8_t header = buf_a[0];
        assert_true(header >= 0x81 && header <= 0x85);
        uint32_t key_count = header - 0x80u;

        // One more pair than declared: the extra pair is trailing.
        memcpy(buf_b, buf_a, size);
        buf_b[size] = (uint8_t) key_count; // the next key
        buf_b[size + 1] = 0x00;
        expect_reject(which, "extra pair undeclared", buf_b, size + 2, WIRE_REASON_TRAILING);
        // Declared and present: an unknown key.
        buf_b[0] = (uint8_t) (header + 1u);
        expect_reject(which, "unknown key", buf_b, size + 2, WIRE_REASON_UNKNOWN_FIELD);
        // A key that repeats the last one: not canonical (order first).
        buf_b[size] = (uint8_t) (key_count - 1u);
        expect_reject(which, "last key twice", buf_b, size + 2, WIRE_REASON_NOT_CANONICAL);
        // A negative key.
        buf_b[size] = 0xff;
        expect_reject(which, "negative key", buf_b, size + 2, WIRE_REASON_UNKNOWN_FIELD);
        // One pair fewer declared: the last pair is trailing.
        memcpy(buf_b, buf_a, size);
        buf_b[0] = (uint8_t) (header - 1u);
        wire_error error;
        assert_int_equal(decode_kind(which, buf_b, size, &message_b, &error), MESH_EPROTO);
        assert_true(error.reason == WIRE_REASON_TRAILING ||
                    error.reason == WIRE_REASON_MISSING_FIELD);
        // An empty map: every key missing.
        static const uint8_t empty_map[] = {0x80};
        expect_reject(which, "empty map", empty_map, 1, WIRE_REASON_MISSING_FIELD);
        // Not a map.
        static const uint8_t array[] = {0x90};
        expect_reject(which, "array", array, 1, WIRE_REASON_TYPE);
        // A map16 header for a small map.
        static const uint8_t map16[] = {0xde, 0x00, 0x01, 0x00, 0x00};
        expect_reject(which, "map16", map16, sizeof(map16), WIRE_REASON_NOT_CANONICAL);
    }

    // Keys out of order: the suspect with keys 1 and 0 swapped.
    sample_suspect(&message_a.suspect);
    wire_writer writer;
    wire_writer_init(&writer, buf_a, BUF_SIZE);
    wire_write_map(&writer, 3);
    wire_write_uint(&writer, 1);
    wire_write_uint(&writer, 5);
    wire_write_uint(&writer, 0);
    wire_write_bin(&writer, message_a.suspect.target.bytes, MESH_NODE_ID_SIZE);
    wire_write_uint(&writer, 2);
    wire_write_uint(&writer, 5);
    uint32_t size = raw_finish(&writer);
    expect_reject(KIND_SUSPECT, "keys 1, 0, 2", buf_a, size, WIRE_REASON_NOT_CANONICAL);

    // A digest without page and page_count: the entries cannot be range
    // checked, and the map ends in MISSING_FIELD rather than anything else.
    sample_digest(&message_a.digest);
    wire_writer_init(&writer, buf_a, BUF_SIZE);
    wire_write_map(&writer, 3);
    wire_write_uint(&writer, 0);
    wire_write_bin(&writer, message_a.digest.view_hash, WIRE_VIEW_HASH_SIZE);
    wire_write_uint(&writer, 3);
    wire_write_uint(&writer, 0);
    wire_write_uint(&writer, 4);
    wire_write_array(&writer, 1);
    wire_write_array(&writer, 2);
    wire_write_bin(&writer, message_a.digest.entries[0].id.bytes, MESH_NODE_ID_SIZE);
    wire_write_uint(&writer, 1);
    size = raw_finish(&writer);
    expect_reject(KIND_DIGEST, "no page, no page_count", buf_a, size, WIRE_REASON_MISSING_FIELD);
    wire_error error;
    assert_int_equal(wire_digest_decode(buf_a, size, &message_b.digest, &error), MESH_EPROTO);
    assert_int_equal(error.offset, size);
}

// Where each digest rule reports: at the field that breaks it.
static void test_digest_error_offsets(void **state)
{
    (void) state;
    sample_digest(&message_a.digest);
    uint32_t good_size = 0;
    assert_int_equal(wire_digest_encode(&message_a.digest, buf_a, BUF_SIZE, &good_size), MESH_OK);
    // map(1) + key(1) + bin8 16 (18) + key(1) + page(1) + key(1): the
    // page_count value starts at offset 23.
    message_a.digest.page = 4;
    uint32_t size = raw_kind(KIND_DIGEST, &message_a, no_splice, buf_a, BUF_SIZE);
    wire_error error;
    assert_int_equal(wire_digest_decode(buf_a, size, &message_b.digest, &error), MESH_EPROTO);
    assert_int_equal(error.reason, WIRE_REASON_RANGE);
    assert_int_equal(error.offset, 23);

    // The second entry's id out of the page: at that id. Entries start at
    // 23 + page_count(1) + key(1) + reply(1) + key(1) + array(1) = 28; each
    // entry is array(1) + bin(18) + sequence.
    sample_digest(&message_a.digest);
    id_with_prefix(&message_a.digest.entries[1].id, 0xc000, 0x00);
    id_with_prefix(&message_a.digest.entries[2].id, 0xc001, 0x00);
    size = raw_kind(KIND_DIGEST, &message_a, no_splice, buf_a, BUF_SIZE);
    assert_int_equal(wire_digest_decode(buf_a, size, &message_b.digest, &error), MESH_EPROTO);
    assert_int_equal(error.reason, WIRE_REASON_RANGE);
    assert_int_equal(error.offset, 28 + 20 + 1); // entry 0 has sequence 1 (1 byte)
}

/* Sizes, truncation, trailing bytes. */

static void test_encoder_full_buffer(void **state)
{
    (void) state;
    memset(record_big, 0xab, sizeof(record_big));
    for (kind which = KIND_FIRST; which <= KIND_LAST; which++) {
        sample_kind(which, &message_a);
        uint32_t size = 0;
        assert_int_equal(encode_kind(which, &message_a, buf_a, BUF_SIZE, &size), MESH_OK);
        for (uint32_t buf_size = 0; buf_size < size; buf_size++) {
            uint32_t small_size = 0xdeadbeef;
            assert_int_equal(encode_kind(which, &message_a, buf_b, buf_size, &small_size),
                             MESH_EFULL);
            assert_int_equal(small_size, 0xdeadbeef);
        }
        uint32_t exact_size = 0;
        assert_int_equal(encode_kind(which, &message_a, buf_b, size, &exact_size), MESH_OK);
        assert_int_equal(exact_size, size);
        assert_memory_equal(buf_b, buf_a, size);
        // A zero-sized buffer may be NULL.
        uint32_t none = 0xdeadbeef;
        assert_int_equal(encode_kind(which, &message_a, NULL, 0, &none), MESH_EFULL);
        assert_int_equal(none, 0xdeadbeef);
    }
}

static void test_truncated_at_every_prefix(void **state)
{
    (void) state;
    memset(record_big, 0xab, sizeof(record_big));
    for (kind which = KIND_FIRST; which <= KIND_LAST; which++) {
        sample_kind(which, &message_a);
        uint32_t size = 0;
        assert_int_equal(encode_kind(which, &message_a, buf_a, BUF_SIZE, &size), MESH_OK);
        for (uint32_t prefix = 0; prefix < size; prefix++) {
            // A copy of exactly prefix bytes, so that ASan sees any overread.
            uint8_t *copy = test_malloc(prefix > 0 ? prefix : 1);
            memcpy(copy, buf_a, prefix);
            wire_error error = {WIRE_REASON_NONE, 0};
            assert_int_equal(decode_kind(which, copy, prefix, &message_b, &error), MESH_EPROTO);
            // Cut inside a header or integer: TRUNCATED; cut inside a
            // declared payload or element list: LENGTH, caught at the
            // header before anything past the end is read.
            if (error.reason != WIRE_REASON_TRUNCATED && error.reason != WIRE_REASON_LENGTH) {
                print_message("%s prefix %u: %s\n", kind_names[which], prefix,
                              wire_reason_name(error.reason));
                fail();
            }
            assert_true(error.offset <= prefix);
            test_free(copy);
        }
    }
}

static void test_trailing_empty_and_too_large(void **state)
{
    (void) state;
    memset(record_big, 0xab, sizeof(record_big));
    for (kind which = KIND_FIRST; which <= KIND_LAST; which++) {
        sample_kind(which, &message_a);
        uint32_t size = 0;
        assert_int_equal(encode_kind(which, &message_a, buf_a, BUF_SIZE, &size), MESH_OK);
        buf_a[size] = 0x00;
        expect_reject(which, "one trailing byte", buf_a, size + 1, WIRE_REASON_TRAILING);
        wire_error error;
        assert_int_equal(decode_kind(which, buf_a, size + 1, &message_b, &error), MESH_EPROTO);
        assert_int_equal(error.offset, size);
        memcpy(buf_a + size, buf_a, size);
        expect_reject(which, "the message twice", buf_a, 2 * size, WIRE_REASON_TRAILING);
        expect_reject(which, "empty", buf_a, 0, WIRE_REASON_TRUNCATED);
        expect_reject(which, "NULL and empty", NULL, 0, WIRE_REASON_TRUNCATED);
        static uint8_t big[WIRE_BODY_SIZE_MAX + 1];
        expect_reject(which, "body over max", big, WIRE_BODY_SIZE_MAX + 1, WIRE_REASON_TOO_LARGE);
        expect_reject(which, "body at UINT32_MAX", big, UINT32_MAX, WIRE_REASON_TOO_LARGE);
        // At the cap, parsing starts (and fails on content: 0x00 is no map).
        expect_reject(which, "body at max", big, WIRE_BODY_SIZE_MAX, WIRE_REASON_TYPE);
    }
}

/* msgpack-c's unpacker agrees on the shape (safe: bounded, valid bytes). */

static void test_differential_msgpack_c(void **state)
{
    (void) state;
    memset(record_big, 0xab, sizeof(record_big));
    for (kind which = KIND_FIRST; which <= KIND_LAST; which++) {
        sample_kind(which, &message_a);
        uint32_t size = 0;
        assert_int_equal(encode_kind(which, &message_a, buf_a, BUF_SIZE, &size), MESH_OK);
        msgpack_unpacked unpacked;
        msgpack_unpacked_init(&unpacked);
        size_t offset = 0;
        assert_int_equal(msgpack_unpack_next(&unpacked, (const char *) buf_a, size, &offset),
                         MSGPACK_UNPACK_SUCCESS);
        assert_int_equal(offset, size);
        const msgpack_object *root = &unpacked.data;
        assert_int_equal(root->type, MSGPACK_OBJECT_MAP);
        const msgpack_object_kv *kv = root->via.map.ptr;
        for (uint32_t k = 0; k < root->via.map.size; k++) {
            assert_int_equal(kv[k].key.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
            assert_true(kv[k].key.via.u64 == k);
        }
        switch (which) {
        case KIND_DIGEST: {
            assert_int_equal(root->via.map.size, 5);
            assert_int_equal(kv[4].val.type, MSGPACK_OBJECT_ARRAY);
            assert_int_equal(kv[4].val.via.array.size, message_a.digest.entry_count);
            const msgpack_object *entry = &kv[4].val.via.array.ptr[2];
            assert_int_equal(entry->via.array.size, 2);
            assert_int_equal(entry->via.array.ptr[0].type, MSGPACK_OBJECT_BIN);
            assert_true(entry->via.array.ptr[1].via.u64 == UINT64_MAX);
            break;
        }
        case KIND_PUSH:
            assert_int_equal(kv[0].val.via.array.size, 3);
            assert_int_equal(kv[0].val.via.array.ptr[2].via.bin.size, 300);
            break;
        case KIND_SUSPECT:
            assert_true(kv[2].val.via.u64 == (uint64_t) message_a.suspect.at_ns);
            break;
        case KIND_PING:
        case KIND_PING_REQ:
        case KIND_PULL:
            assert_int_equal(root->via.map.size, 2 - (which == KIND_PULL));
            break;
        }
        msgpack_unpacked_destroy(&unpacked);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_auth_sizes),
        cmocka_unit_test(test_envelope_every_type),
        cmocka_unit_test(test_envelope_wrong_auth_size),
        cmocka_unit_test(test_envelope_unknown_types),
        cmocka_unit_test(test_envelope_mac_tail_not_sent),
        cmocka_unit_test(test_round_trip_samples),
        cmocka_unit_test(test_round_trip_suspect_and_pings),
        cmocka_unit_test(test_round_trip_digest_shapes),
        cmocka_unit_test(test_round_trip_pull_and_push_shapes),
        cmocka_unit_test(test_push_records_point_into_body),
        cmocka_unit_test(test_push_over_body_size),
        cmocka_unit_test(test_digest_page_of),
        cmocka_unit_test(test_bad_structs_refused_both_ways),
        cmocka_unit_test(test_encoder_refuses_unrepresentable),
        cmocka_unit_test(test_spliced_fields),
        cmocka_unit_test(test_lists_over_limit),
        cmocka_unit_test(test_map_structure),
        cmocka_unit_test(test_digest_error_offsets),
        cmocka_unit_test(test_encoder_full_buffer),
        cmocka_unit_test(test_truncated_at_every_prefix),
        cmocka_unit_test(test_trailing_empty_and_too_large),
        cmocka_unit_test(test_differential_msgpack_c),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
