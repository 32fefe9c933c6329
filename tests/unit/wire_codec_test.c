/*
 * tests/unit/wire_codec_test.c: the wire codec against its contract in
 * wire/wire.h.
 *
 * What is covered, and how:
 *   - Round trips of every type, and encode(decode(bytes)) == bytes.
 *   - Every rejection path of the decoder with its wire_reason. Invalid
 *     inputs are built with a test-side "raw" writer that mirrors each
 *     schema without validating, so that one table of bad structs serves
 *     twice: the encoder must refuse the struct (MESH_EINVAL) and the
 *     decoder must refuse its raw bytes with the expected reason. Shapes
 *     no struct can hold (overlong strings, wrong MessagePack types,
 *     non-minimal headers) are spliced in as raw bytes for one key.
 *   - msgpack-c's packer picks the minimal forms the reader insists on
 *     (pinned byte for byte at every boundary), and msgpack-c's own
 *     unpacker agrees on the shape of what we encode.
 *   - The vocabularies: countries, certification names, reason names.
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

#define BUF_SIZE 4096u

typedef enum kind {
    KIND_ENVELOPE,
    KIND_ADVERT,
    KIND_CERT,
    KIND_REVOCATION,
} kind;

static const char *const kind_names[] = {"envelope", "advert", "cert", "revocation"};

/* Samples. */

static void set_string(char *array, size_t array_size, const char *text)
{
    size_t size = strlen(text);
    assert_true(size < array_size);
    memset(array, 0, array_size);
    memcpy(array, text, size + 1);
}

static void set_resource(wire_resource *resource,
                         uint32_t resource_class,
                         const char *model,
                         uint64_t total,
                         uint64_t price)
{
    memset(resource, 0, sizeof(*resource));
    resource->resource_class = resource_class;
    set_string(resource->model, sizeof(resource->model), model);
    resource->total = total;
    resource->free = total / 2;
    resource->lendable = total / 4;
    resource->price_microeur_per_unit_hour = price;
}

static void sample_advert(wire_advert *advert)
{
    memset(advert, 0, sizeof(*advert));
    for (uint32_t i = 0; i < MESH_NODE_ID_SIZE; i++) {
        advert->node_id.bytes[i] = (uint8_t) (0xa0 + i);
    }
    advert->sequence = 7;
    advert->timestamp_ns = 1700000000123456789;
    advert->status = WIRE_ADVERT_ALIVE;
    advert->carbon_gco2_per_kwh = 56;
    advert->resource_count = 5;
    set_resource(&advert->resources[0], WIRE_RESOURCE_VCPU, "", 512, 12000);
    set_resource(&advert->resources[1], WIRE_RESOURCE_MEMORY_GIB, "", 2048, 1500);
    set_resource(&advert->resources[2], WIRE_RESOURCE_GPU, "A100-40GB", 8, 2100000);
    set_resource(&advert->resources[3], WIRE_RESOURCE_GPU, "H100-80GB", 16, 3900000);
    set_resource(&advert->resources[4], WIRE_RESOURCE_STORAGE_GIB, "", 500000, 40);
    set_string(advert->endpoint, sizeof(advert->endpoint), "tcp://paris-dc-1.example.eu:7400");
    set_string(advert->api_endpoint, sizeof(advert->api_endpoint),
               "https://paris-dc-1.example.eu/api");
}

static void sample_cert(wire_cert *cert)
{
    memset(cert, 0, sizeof(*cert));
    for (uint32_t i = 0; i < WIRE_PUBLIC_KEY_SIZE; i++) {
        cert->public_key[i] = (uint8_t) (0x30 + i);
    }
    set_string(cert->name, sizeof(cert->name), "paris-dc-1");
    set_string(cert->operator_name, sizeof(cert->operator_name),
               "\xc3\x96ko-Rechenzentrum \xe2\x80\x93 Calcul Souverain SAS");
    set_string(cert->country, sizeof(cert->country), "FR");
    cert->jurisdiction_count = 3;
    set_string(cert->jurisdictions[0], 3, "DE");
    set_string(cert->jurisdictions[1], 3, "EU");
    set_string(cert->jurisdictions[2], 3, "FR");
    cert->certifications =
        WIRE_CERTIFICATION_SECNUMCLOUD | WIRE_CERTIFICATION_HDS | WIRE_CERTIFICATION_ISO27001;
    cert->valid_from_ns = 1700000000000000000;
    cert->valid_until_ns = 1800000000000000000;
    cert->serial = 42;
}

static void sample_revocation(wire_revocation *revocation)
{
    memset(revocation, 0, sizeof(*revocation));
    for (uint32_t i = 0; i < WIRE_PUBLIC_KEY_SIZE; i++) {
        revocation->public_key[i] = (uint8_t) (0x30 + i);
    }
    revocation->revoked_at_ns = 1750000000000000000;
    set_string(revocation->reason, sizeof(revocation->reason), "key compromised");
}

static const uint8_t sample_body[] = {0x80, 0x01, 0x02};

static void sample_envelope(wire_envelope *envelope)
{
    memset(envelope, 0, sizeof(*envelope));
    envelope->version = WIRE_VERSION;
    envelope->type = WIRE_TYPE_ADVERT;
    for (uint32_t i = 0; i < MESH_NODE_ID_SIZE; i++) {
        envelope->signer.bytes[i] = (uint8_t) (0xa0 + i);
    }
    envelope->body = sample_body;
    envelope->body_size = sizeof(sample_body);
    for (uint32_t i = 0; i < WIRE_SIGNATURE_SIZE; i++) {
        envelope->signature[i] = (uint8_t) (0xff - i);
    }
}

/* Decoding by kind, and the rejection check. */

typedef union any_message {
    wire_envelope envelope;
    wire_advert advert;
    wire_cert cert;
    wire_revocation revocation;
} any_message;

static mesh_err
decode_kind(kind which, const uint8_t *bytes, uint32_t size, any_message *out, wire_error *error)
{
    switch (which) {
    case KIND_ENVELOPE:
        return wire_envelope_decode(bytes, size, &out->envelope, error);
    case KIND_ADVERT:
        return wire_advert_decode(bytes, size, &out->advert, error);
    case KIND_CERT:
        return wire_cert_decode(bytes, size, &out->cert, error);
    case KIND_REVOCATION:
        return wire_revocation_decode(bytes, size, &out->revocation, error);
    }
    fail();
    return MESH_EINTERNAL;
}

static mesh_err encode_kind(
    kind which, const any_message *message, uint8_t *buf, uint32_t buf_size, uint32_t *size_out)
{
    switch (which) {
    case KIND_ENVELOPE:
        return wire_envelope_encode(&message->envelope, buf, buf_size, size_out);
    case KIND_ADVERT:
        return wire_advert_encode(&message->advert, buf, buf_size, size_out);
    case KIND_CERT:
        return wire_cert_encode(&message->cert, buf, buf_size, size_out);
    case KIND_REVOCATION:
        return wire_revocation_encode(&message->revocation, buf, buf_size, size_out);
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

// The decoder must refuse bytes with exactly this reason, leave its output
// untouched, and point inside the input.
static void
expect_reject(kind which, const char *what, const uint8_t *bytes, uint32_t size, wire_reason reason)
{
    any_message out;
    memset(&out, 0x5a, sizeof(out));
    wire_error error = {WIRE_REASON_NONE, 0};
    mesh_err err = decode_kind(which, bytes, size, &out, &error);
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
    any_message untouched;
    memset(&untouched, 0x5a, sizeof(untouched));
    assert_memory_equal(&out, &untouched, sizeof(out));
    // error_out is optional.
    assert_int_equal(decode_kind(which, bytes, size, &out, NULL), MESH_EPROTO);
}

/* The raw writers: each schema, without validation, with an optional
 * splice of raw bytes in place of one field's value. */

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

static void raw_str(wire_writer *writer, const char *array, size_t array_size)
{
    wire_write_str(writer, array, wire_string_length(array, (uint32_t) array_size));
}

static uint32_t
raw_envelope(const wire_envelope *envelope, splice sp, uint8_t *buf, uint32_t buf_size)
{
    wire_writer writer;
    wire_writer_init(&writer, buf, buf_size);
    wire_write_array(&writer, 5);
    for (int32_t field = 0; field < 5; field++) {
        if (field == sp.key) {
            raw_append(&writer, sp.bytes, sp.size);
            continue;
        }
        switch (field) {
        case 0:
            wire_write_uint(&writer, envelope->version);
            break;
        case 1:
            wire_write_uint(&writer, (uint64_t) envelope->type);
            break;
        case 2:
            wire_write_bin(&writer, envelope->signer.bytes, MESH_NODE_ID_SIZE);
            break;
        case 3:
            wire_write_bin(&writer, envelope->body, envelope->body_size);
            break;
        default:
            wire_write_bin(&writer, envelope->signature, WIRE_SIGNATURE_SIZE);
            break;
        }
    }
    return raw_finish(&writer);
}

static void raw_resources(wire_writer *writer, const wire_advert *advert)
{
    wire_write_array(writer, advert->resource_count);
    for (uint32_t i = 0; i < advert->resource_count; i++) {
        const wire_resource *resource = &advert->resources[i];
        wire_write_array(writer, 6);
        wire_write_uint(writer, resource->resource_class);
        raw_str(writer, resource->model, sizeof(resource->model));
        wire_write_uint(writer, resource->total);
        wire_write_uint(writer, resource->free);
        wire_write_uint(writer, resource->lendable);
        wire_write_uint(writer, resource->price_microeur_per_unit_hour);
    }
}

static uint32_t raw_advert(const wire_advert *advert, splice sp, uint8_t *buf, uint32_t buf_size)
{
    wire_writer writer;
    wire_writer_init(&writer, buf, buf_size);
    wire_write_map(&writer, 8);
    for (int32_t key = 0; key < 8; key++) {
        wire_write_uint(&writer, (uint64_t) key);
        if (key == sp.key) {
            raw_append(&writer, sp.bytes, sp.size);
            continue;
        }
        switch (key) {
        case 0:
            wire_write_bin(&writer, advert->node_id.bytes, MESH_NODE_ID_SIZE);
            break;
        case 1:
            wire_write_uint(&writer, advert->sequence);
            break;
        case 2:
            wire_write_int64(&writer, advert->timestamp_ns);
            break;
        case 3:
            wire_write_uint(&writer, advert->status);
            break;
        case 4:
            wire_write_uint(&writer, advert->carbon_gco2_per_kwh);
            break;
        case 5:
            raw_resources(&writer, advert);
            break;
        case 6:
            raw_str(&writer, advert->endpoint, sizeof(advert->endpoint));
            break;
        default:
            raw_str(&writer, advert->api_endpoint, sizeof(advert->api_endpoint));
            break;
        }
    }
    return raw_finish(&writer);
}

static uint32_t raw_cert(const wire_cert *cert, splice sp, uint8_t *buf, uint32_t buf_size)
{
    wire_writer writer;
    wire_writer_init(&writer, buf, buf_size);
    wire_write_map(&writer, 9);
    for (int32_t key = 0; key < 9; key++) {
        wire_write_uint(&writer, (uint64_t) key);
        if (key == sp.key) {
            raw_append(&writer, sp.bytes, sp.size);
            continue;
        }
        switch (key) {
        case 0:
            wire_write_bin(&writer, cert->public_key, WIRE_PUBLIC_KEY_SIZE);
            break;
        case 1:
            raw_str(&writer, cert->name, sizeof(cert->name));
            break;
        case 2:
            raw_str(&writer, cert->operator_name, sizeof(cert->operator_name));
            break;
        case 3:
            raw_str(&writer, cert->country, sizeof(cert->country));
            break;
        case 4:
            wire_write_array(&writer, cert->jurisdiction_count);
            for (uint32_t i = 0; i < cert->jurisdiction_count; i++) {
                raw_str(&writer, cert->jurisdictions[i], 3);
            }
            break;
        case 5:
            wire_write_uint(&writer, cert->certifications);
            break;
        case 6:
            wire_write_int64(&writer, cert->valid_from_ns);
            break;
        case 7:
            wire_write_int64(&writer, cert->valid_until_ns);
            break;
        default:
            wire_write_uint(&writer, cert->serial);
            break;
        }
    }
    return raw_finish(&writer);
}

static uint32_t
raw_revocation(const wire_revocation *revocation, splice sp, uint8_t *buf, uint32_t buf_size)
{
    wire_writer writer;
    wire_writer_init(&writer, buf, buf_size);
    wire_write_map(&writer, 3);
    for (int32_t key = 0; key < 3; key++) {
        wire_write_uint(&writer, (uint64_t) key);
        if (key == sp.key) {
            raw_append(&writer, sp.bytes, sp.size);
            continue;
        }
        switch (key) {
        case 0:
            wire_write_bin(&writer, revocation->public_key, WIRE_PUBLIC_KEY_SIZE);
            break;
        case 1:
            wire_write_int64(&writer, revocation->revoked_at_ns);
            break;
        default:
            raw_str(&writer, revocation->reason, sizeof(revocation->reason));
            break;
        }
    }
    return raw_finish(&writer);
}

static uint32_t
raw_kind(kind which, const any_message *message, splice sp, uint8_t *buf, uint32_t buf_size)
{
    switch (which) {
    case KIND_ENVELOPE:
        return raw_envelope(&message->envelope, sp, buf, buf_size);
    case KIND_ADVERT:
        return raw_advert(&message->advert, sp, buf, buf_size);
    case KIND_CERT:
        return raw_cert(&message->cert, sp, buf, buf_size);
    case KIND_REVOCATION:
        return raw_revocation(&message->revocation, sp, buf, buf_size);
    }
    fail();
    return 0;
}

static void sample_kind(kind which, any_message *message)
{
    memset(message, 0, sizeof(*message));
    switch (which) {
    case KIND_ENVELOPE:
        sample_envelope(&message->envelope);
        return;
    case KIND_ADVERT:
        sample_advert(&message->advert);
        return;
    case KIND_CERT:
        sample_cert(&message->cert);
        return;
    case KIND_REVOCATION:
        sample_revocation(&message->revocation);
        return;
    }
    fail();
}

/* Equality of decoded structs, field by field (padding is not compared). */

static void assert_resource_equal(const wire_resource *a, const wire_resource *b)
{
    assert_int_equal(a->resource_class, b->resource_class);
    assert_string_equal(a->model, b->model);
    assert_true(a->total == b->total);
    assert_true(a->free == b->free);
    assert_true(a->lendable == b->lendable);
    assert_true(a->price_microeur_per_unit_hour == b->price_microeur_per_unit_hour);
}

static void assert_advert_equal(const wire_advert *a, const wire_advert *b)
{
    assert_memory_equal(a->node_id.bytes, b->node_id.bytes, MESH_NODE_ID_SIZE);
    assert_true(a->sequence == b->sequence);
    assert_true(a->timestamp_ns == b->timestamp_ns);
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->carbon_gco2_per_kwh, b->carbon_gco2_per_kwh);
    assert_int_equal(a->resource_count, b->resource_count);
    for (uint32_t i = 0; i < a->resource_count; i++) {
        assert_resource_equal(&a->resources[i], &b->resources[i]);
    }
    assert_string_equal(a->endpoint, b->endpoint);
    assert_string_equal(a->api_endpoint, b->api_endpoint);
}

static void assert_cert_equal(const wire_cert *a, const wire_cert *b)
{
    assert_memory_equal(a->public_key, b->public_key, WIRE_PUBLIC_KEY_SIZE);
    assert_string_equal(a->name, b->name);
    assert_string_equal(a->operator_name, b->operator_name);
    assert_string_equal(a->country, b->country);
    assert_int_equal(a->jurisdiction_count, b->jurisdiction_count);
    for (uint32_t i = 0; i < a->jurisdiction_count; i++) {
        assert_string_equal(a->jurisdictions[i], b->jurisdictions[i]);
    }
    assert_int_equal(a->certifications, b->certifications);
    assert_true(a->valid_from_ns == b->valid_from_ns);
    assert_true(a->valid_until_ns == b->valid_until_ns);
    assert_true(a->serial == b->serial);
}

static void assert_revocation_equal(const wire_revocation *a, const wire_revocation *b)
{
    assert_memory_equal(a->public_key, b->public_key, WIRE_PUBLIC_KEY_SIZE);
    assert_true(a->revoked_at_ns == b->revoked_at_ns);
    assert_string_equal(a->reason, b->reason);
}

static void assert_envelope_equal(const wire_envelope *a, const wire_envelope *b)
{
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->type, b->type);
    assert_memory_equal(a->signer.bytes, b->signer.bytes, MESH_NODE_ID_SIZE);
    assert_int_equal(a->body_size, b->body_size);
    assert_memory_equal(a->body, b->body, a->body_size);
    assert_memory_equal(a->signature, b->signature, WIRE_SIGNATURE_SIZE);
}

static void assert_kind_equal(kind which, const any_message *a, const any_message *b)
{
    switch (which) {
    case KIND_ENVELOPE:
        assert_envelope_equal(&a->envelope, &b->envelope);
        return;
    case KIND_ADVERT:
        assert_advert_equal(&a->advert, &b->advert);
        return;
    case KIND_CERT:
        assert_cert_equal(&a->cert, &b->cert);
        return;
    case KIND_REVOCATION:
        assert_revocation_equal(&a->revocation, &b->revocation);
        return;
    }
    fail();
}

// encode -> decode -> equal struct -> re-encode -> equal bytes; and the
// raw writer agrees byte for byte with the real encoder.
static void round_trip(kind which, const any_message *message)
{
    uint8_t buf[BUF_SIZE];
    uint32_t size = 0;
    assert_int_equal(encode_kind(which, message, buf, sizeof(buf), &size), MESH_OK);
    assert_true(size > 0 && size <= sizeof(buf));

    any_message decoded;
    wire_error error = {WIRE_REASON_TRAILING, 99};
    assert_int_equal(decode_kind(which, buf, size, &decoded, &error), MESH_OK);
    assert_int_equal(error.reason, WIRE_REASON_NONE);
    assert_kind_equal(which, message, &decoded);

    uint8_t again[BUF_SIZE];
    uint32_t again_size = 0;
    assert_int_equal(encode_kind(which, &decoded, again, sizeof(again), &again_size), MESH_OK);
    assert_int_equal(again_size, size);
    assert_memory_equal(again, buf, size);

    uint8_t raw[BUF_SIZE];
    uint32_t raw_size = raw_kind(which, message, no_splice, raw, sizeof(raw));
    assert_int_equal(raw_size, size);
    assert_memory_equal(raw, buf, size);
}

/* Round trips. */

static void test_round_trip_samples(void **state)
{
    (void) state;
    for (kind which = KIND_ENVELOPE; which <= KIND_REVOCATION; which++) {
        any_message message;
        sample_kind(which, &message);
        round_trip(which, &message);
    }
}

static void test_round_trip_envelope_types_and_bodies(void **state)
{
    (void) state;
    static uint8_t body[WIRE_BODY_SIZE_MAX];
    for (uint32_t i = 0; i < sizeof(body); i++) {
        body[i] = (uint8_t) (i * 31u);
    }
    // Body sizes at every bin header boundary, and the largest allowed.
    static const uint32_t sizes[] = {1, 255, 256, 4000, 65535 - 96};
    static uint8_t frame[WIRE_FRAME_SIZE_MAX];
    for (uint32_t type = WIRE_TYPE_ADVERT; type <= WIRE_TYPE_REVOCATION; type++) {
        for (uint32_t i = 0; i < MESH_ARRAY_COUNT(sizes); i++) {
            wire_envelope envelope;
            sample_envelope(&envelope);
            envelope.type = (wire_type) type;
            envelope.body = body;
            envelope.body_size = sizes[i];
            uint32_t size = 0;
            assert_int_equal(wire_envelope_encode(&envelope, frame, sizeof(frame), &size), MESH_OK);
            assert_true(size <= WIRE_FRAME_SIZE_MAX);
            assert_true(size <= sizes[i] + WIRE_ENVELOPE_OVERHEAD_MAX);
            wire_envelope decoded;
            assert_int_equal(wire_envelope_decode(frame, size, &decoded, NULL), MESH_OK);
            assert_envelope_equal(&envelope, &decoded);
            // The body points into the frame, as the header promises.
            assert_true(decoded.body > frame && decoded.body + decoded.body_size <= frame + size);
        }
    }
}

static void test_round_trip_advert_shapes(void **state)
{
    (void) state;
    any_message message;
    wire_advert *advert = &message.advert;

    // No resources, a goodbye, no API endpoint, extreme but valid values.
    sample_kind(KIND_ADVERT, &message);
    advert->resource_count = 0;
    advert->status = WIRE_ADVERT_LEAVING;
    advert->sequence = UINT64_MAX;
    advert->timestamp_ns = INT64_MAX;
    advert->carbon_gco2_per_kwh = WIRE_CARBON_MAX;
    advert->api_endpoint[0] = '\0';
    round_trip(KIND_ADVERT, &message);

    // The full set: 16 resources, GPUs with the longest model names.
    sample_kind(KIND_ADVERT, &message);
    advert->resource_count = WIRE_RESOURCES_MAX;
    set_resource(&advert->resources[0], WIRE_RESOURCE_VCPU, "", WIRE_AMOUNT_MAX, WIRE_PRICE_MAX);
    set_resource(&advert->resources[1], WIRE_RESOURCE_MEMORY_GIB, "", 0, 0);
    for (uint32_t i = 2; i < WIRE_RESOURCES_MAX - 1; i++) {
        char model[WIRE_MODEL_SIZE_MAX + 1];
        memset(model, 'M', WIRE_MODEL_SIZE_MAX);
        model[WIRE_MODEL_SIZE_MAX] = '\0';
        model[0] = (char) ('A' + i); // ascending, so the set stays sorted
        set_resource(&advert->resources[i], WIRE_RESOURCE_GPU, model, i, (uint64_t) 1000 * i);
    }
    set_resource(&advert->resources[WIRE_RESOURCES_MAX - 1], WIRE_RESOURCE_STORAGE_GIB, "", 1, 1);
    advert->resources[0].free = WIRE_AMOUNT_MAX;
    advert->resources[0].lendable = WIRE_AMOUNT_MAX;
    memset(advert->endpoint, '~', WIRE_ENDPOINT_SIZE_MAX);
    advert->endpoint[WIRE_ENDPOINT_SIZE_MAX] = '\0';
    memset(advert->api_endpoint, '!', WIRE_ENDPOINT_SIZE_MAX);
    advert->api_endpoint[WIRE_ENDPOINT_SIZE_MAX] = '\0';
    round_trip(KIND_ADVERT, &message);

    // GPU models differing only by length and by case order by strcmp.
    sample_kind(KIND_ADVERT, &message);
    advert->resource_count = 4;
    set_resource(&advert->resources[0], WIRE_RESOURCE_GPU, "H100", 1, 1);
    set_resource(&advert->resources[1], WIRE_RESOURCE_GPU, "H100-80GB", 1, 1);
    set_resource(&advert->resources[2], WIRE_RESOURCE_GPU, "h100", 1, 1);
    set_resource(&advert->resources[3], WIRE_RESOURCE_GPU, "h100.x_y", 1, 1);
    round_trip(KIND_ADVERT, &message);
}

static void test_round_trip_cert_shapes(void **state)
{
    (void) state;
    any_message message;
    wire_cert *cert = &message.cert;

    sample_kind(KIND_CERT, &message);
    cert->jurisdiction_count = 0;
    cert->certifications = 0;
    cert->operator_name[0] = '\0';
    cert->valid_from_ns = INT64_MIN;
    cert->valid_until_ns = INT64_MIN + 1;
    cert->serial = 0;
    round_trip(KIND_CERT, &message);

    sample_kind(KIND_CERT, &message);
    static const char *const codes[WIRE_JURISDICTIONS_MAX] = {"AT", "BE", "CH", "DE",
                                                              "EU", "FR", "NL", "ZW"};
    cert->jurisdiction_count = WIRE_JURISDICTIONS_MAX;
    for (uint32_t i = 0; i < WIRE_JURISDICTIONS_MAX; i++) {
        set_string(cert->jurisdictions[i], 3, codes[i]);
    }
    cert->certifications = WIRE_CERTIFICATION_ALL;
    memset(cert->name, 'z', WIRE_NAME_SIZE_MAX);
    cert->name[WIRE_NAME_SIZE_MAX] = '\0';
    cert->name[10] = '-';
    // 127 bytes of UTF-8: 42 three-byte euro signs and one ASCII letter.
    size_t offset = 0;
    for (uint32_t i = 0; i < 42; i++) {
        memcpy(cert->operator_name + offset, "\xe2\x82\xac", 3);
        offset += 3;
    }
    cert->operator_name[offset++] = 'x';
    cert->operator_name[offset] = '\0';
    assert_int_equal(offset, WIRE_OPERATOR_SIZE_MAX);
    cert->valid_from_ns = -1;
    cert->valid_until_ns = INT64_MAX;
    cert->serial = UINT64_MAX;
    round_trip(KIND_CERT, &message);

    // A four-byte UTF-8 sequence and the largest code point.
    sample_kind(KIND_CERT, &message);
    set_string(cert->operator_name, sizeof(cert->operator_name),
               "\xf0\x9f\x96\xa5 \xf4\x8f\xbf\xbf \xc2\xa0\xef\xbf\xbd");
    round_trip(KIND_CERT, &message);
}

static void test_round_trip_revocation_shapes(void **state)
{
    (void) state;
    any_message message;
    sample_kind(KIND_REVOCATION, &message);
    message.revocation.reason[0] = '\0';
    message.revocation.revoked_at_ns = 1;
    round_trip(KIND_REVOCATION, &message);

    memset(message.revocation.reason, 'r', WIRE_REASON_TEXT_SIZE_MAX);
    message.revocation.reason[WIRE_REASON_TEXT_SIZE_MAX] = '\0';
    message.revocation.revoked_at_ns = INT64_MAX;
    round_trip(KIND_REVOCATION, &message);
}

// Hand-written canonical bytes (not produced by our encoder) survive
// decode and re-encode unchanged.
static void test_canonical_bytes_reencode_identically(void **state)
{
    (void) state;
    uint8_t bytes[64];
    uint32_t size = 0;
    bytes[size++] = 0x83; // map(3)
    bytes[size++] = 0x00;
    bytes[size++] = 0xc4; // bin8(32)
    bytes[size++] = 0x20;
    for (uint32_t i = 0; i < 32; i++) {
        bytes[size++] = 0x11;
    }
    bytes[size++] = 0x01;
    bytes[size++] = 0xcd; // uint16 300
    bytes[size++] = 0x01;
    bytes[size++] = 0x2c;
    bytes[size++] = 0x02;
    bytes[size++] = 0xaa; // fixstr(10)
    memcpy(bytes + size, "key leaked", 10);
    size += 10;

    wire_revocation revocation;
    assert_int_equal(wire_revocation_decode(bytes, size, &revocation, NULL), MESH_OK);
    assert_true(revocation.revoked_at_ns == 300);
    assert_string_equal(revocation.reason, "key leaked");
    uint8_t again[64];
    uint32_t again_size = 0;
    assert_int_equal(wire_revocation_encode(&revocation, again, sizeof(again), &again_size),
                     MESH_OK);
    assert_int_equal(again_size, size);
    assert_memory_equal(again, bytes, size);
}

/* msgpack-c's packer produces the minimal forms the reader requires. */

typedef struct pinned {
    int64_t value;
    uint8_t bytes[9];
    uint32_t size;
} pinned;

static void expect_packed(const wire_writer *writer, const uint8_t *bytes, uint32_t size)
{
    uint32_t used = 0;
    assert_int_equal(wire_writer_finish(writer, &used), MESH_OK);
    assert_int_equal(used, size);
    assert_memory_equal(writer->buf, bytes, size);
}

static void test_packer_integers_minimal(void **state)
{
    (void) state;
    static const pinned negatives[] = {
        {-1, {0xff}, 1},
        {-32, {0xe0}, 1},
        {-33, {0xd0, 0xdf}, 2},
        {-128, {0xd0, 0x80}, 2},
        {-129, {0xd1, 0xff, 0x7f}, 3},
        {-32768, {0xd1, 0x80, 0x00}, 3},
        {-32769, {0xd2, 0xff, 0xff, 0x7f, 0xff}, 5},
        {-2147483648LL, {0xd2, 0x80, 0x00, 0x00, 0x00}, 5},
        {-2147483649LL, {0xd3, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff}, 9},
        {INT64_MIN, {0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0}, 9},
    };
    static const pinned positives[] = {
        {0, {0x00}, 1},
        {127, {0x7f}, 1},
        {128, {0xcc, 0x80}, 2},
        {255, {0xcc, 0xff}, 2},
        {256, {0xcd, 0x01, 0x00}, 3},
        {65535, {0xcd, 0xff, 0xff}, 3},
        {65536, {0xce, 0x00, 0x01, 0x00, 0x00}, 5},
        {4294967295LL, {0xce, 0xff, 0xff, 0xff, 0xff}, 5},
        {4294967296LL, {0xcf, 0, 0, 0, 1, 0, 0, 0, 0}, 9},
        {INT64_MAX, {0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9},
    };
    uint8_t buf[16];
    wire_writer writer;
    for (uint32_t i = 0; i < MESH_ARRAY_COUNT(negatives); i++) {
        const pinned *p = &negatives[i];
        // msgpack-c's own signed packer, and ours through it.
        wire_writer_init(&writer, buf, sizeof(buf));
        (void) msgpack_pack_int64(&writer.packer, p->value);
        expect_packed(&writer, p->bytes, p->size);
        wire_writer_init(&writer, buf, sizeof(buf));
        wire_write_int64(&writer, p->value);
        expect_packed(&writer, p->bytes, p->size);
        // And the reader takes exactly that form back.
        wire_reader reader;
        wire_reader_init(&reader, p->bytes, p->size);
        int64_t value = 0;
        assert_int_equal(wire_read_int64(&reader, &value), MESH_OK);
        assert_true(value == p->value);
        assert_int_equal(reader.offset, p->size);
    }
    for (uint32_t i = 0; i < MESH_ARRAY_COUNT(positives); i++) {
        const pinned *p = &positives[i];
        wire_writer_init(&writer, buf, sizeof(buf));
        (void) msgpack_pack_uint64(&writer.packer, (uint64_t) p->value);
        expect_packed(&writer, p->bytes, p->size);
        // msgpack_pack_int64 also uses uint forms for non-negative values
        // in 4.0.0; wire_write_int64 does not rely on it, but pin it.
        wire_writer_init(&writer, buf, sizeof(buf));
        (void) msgpack_pack_int64(&writer.packer, p->value);
        expect_packed(&writer, p->bytes, p->size);
        wire_writer_init(&writer, buf, sizeof(buf));
        wire_write_int64(&writer, p->value);
        expect_packed(&writer, p->bytes, p->size);
        wire_writer_init(&writer, buf, sizeof(buf));
        wire_write_uint(&writer, (uint64_t) p->value);
        expect_packed(&writer, p->bytes, p->size);
        wire_reader reader;
        wire_reader_init(&reader, p->bytes, p->size);
        uint64_t value = 0;
        assert_int_equal(wire_read_uint(&reader, UINT64_MAX, &value), MESH_OK);
        assert_true(value == (uint64_t) p->value);
    }
    static const uint8_t max[] = {0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    wire_writer_init(&writer, buf, sizeof(buf));
    wire_write_uint(&writer, UINT64_MAX);
    expect_packed(&writer, max, sizeof(max));
}

static void test_packer_headers_minimal(void **state)
{
    (void) state;
    static char text[300];
    memset(text, 's', sizeof(text));
    static const struct {
        uint32_t size;
        uint8_t str[3];
        uint8_t bin[3];
        uint8_t array[3];
        uint32_t str_header;
        uint32_t bin_header;
        uint32_t array_header;
    } cases[] = {
        {0, {0xa0}, {0xc4, 0x00}, {0x90}, 1, 2, 1},
        {15, {0xaf}, {0xc4, 0x0f}, {0x9f}, 1, 2, 1},
        {16, {0xb0}, {0xc4, 0x10}, {0xdc, 0x00, 0x10}, 1, 2, 3},
        {31, {0xbf}, {0xc4, 0x1f}, {0xdc, 0x00, 0x1f}, 1, 2, 3},
        {32, {0xd9, 0x20}, {0xc4, 0x20}, {0xdc, 0x00, 0x20}, 2, 2, 3},
        {255, {0xd9, 0xff}, {0xc4, 0xff}, {0xdc, 0x00, 0xff}, 2, 2, 3},
        {256, {0xda, 0x01, 0x00}, {0xc5, 0x01, 0x00}, {0xdc, 0x01, 0x00}, 3, 3, 3},
    };
    static uint8_t buf[512];
    for (uint32_t i = 0; i < MESH_ARRAY_COUNT(cases); i++) {
        wire_writer writer;
        uint32_t used = 0;
        wire_writer_init(&writer, buf, sizeof(buf));
        wire_write_str(&writer, text, cases[i].size);
        assert_int_equal(wire_writer_finish(&writer, &used), MESH_OK);
        assert_int_equal(used, cases[i].str_header + cases[i].size);
        assert_memory_equal(buf, cases[i].str, cases[i].str_header);

        wire_writer_init(&writer, buf, sizeof(buf));
        wire_write_bin(&writer, (const uint8_t *) text, cases[i].size);
        assert_int_equal(wire_writer_finish(&writer, &used), MESH_OK);
        assert_int_equal(used, cases[i].bin_header + cases[i].size);
        assert_memory_equal(buf, cases[i].bin, cases[i].bin_header);

        wire_writer_init(&writer, buf, sizeof(buf));
        wire_write_array(&writer, cases[i].size);
        assert_int_equal(wire_writer_finish(&writer, &used), MESH_OK);
        assert_int_equal(used, cases[i].array_header);
        assert_memory_equal(buf, cases[i].array, cases[i].array_header);

        // Maps share the array's size classes, with their own first bytes.
        wire_writer_init(&writer, buf, sizeof(buf));
        wire_write_map(&writer, cases[i].size);
        assert_int_equal(wire_writer_finish(&writer, &used), MESH_OK);
        assert_int_equal(used, cases[i].array_header);
        uint8_t map_first = cases[i].array_header == 1 ? (uint8_t) (0x80 | cases[i].size) : 0xde;
        assert_int_equal(buf[0], map_first);

        // The reader accepts each header back.
        wire_reader reader;
        const uint8_t *bytes;
        uint32_t size;
        wire_writer_init(&writer, buf, sizeof(buf));
        wire_write_str(&writer, text, cases[i].size);
        assert_int_equal(wire_writer_finish(&writer, &used), MESH_OK);
        wire_reader_init(&reader, buf, used);
        assert_int_equal(wire_read_str(&reader, 300, &bytes, &size), MESH_OK);
        assert_int_equal(size, cases[i].size);
        assert_int_equal(reader.offset, used);
    }
}

/* The reader's canonical rules, form by form. */

typedef struct raw_case {
    uint8_t bytes[12];
    uint32_t size;
    wire_reason reason; // WIRE_REASON_NONE: accepted
} raw_case;

static void test_reader_integer_forms(void **state)
{
    (void) state;
    static const raw_case cases[] = {
        {{0xcc, 0x05}, 2, WIRE_REASON_NOT_CANONICAL},
        {{0xcc, 0x7f}, 2, WIRE_REASON_NOT_CANONICAL},
        {{0xcc, 0x80}, 2, WIRE_REASON_NONE},
        {{0xcd, 0x00, 0xff}, 3, WIRE_REASON_NOT_CANONICAL},
        {{0xcd, 0x01, 0x00}, 3, WIRE_REASON_NONE},
        {{0xce, 0x00, 0x00, 0xff, 0xff}, 5, WIRE_REASON_NOT_CANONICAL},
        {{0xce, 0x00, 0x01, 0x00, 0x00}, 5, WIRE_REASON_NONE},
        {{0xcf, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, 9, WIRE_REASON_NOT_CANONICAL},
        {{0xcf, 0, 0, 0, 1, 0, 0, 0, 0}, 9, WIRE_REASON_NONE},
        {{0xd0, 0x00}, 2, WIRE_REASON_NOT_CANONICAL},
        {{0xd0, 0x05}, 2, WIRE_REASON_NOT_CANONICAL},
        {{0xd0, 0x7f}, 2, WIRE_REASON_NOT_CANONICAL},
        {{0xd0, 0xff}, 2, WIRE_REASON_NOT_CANONICAL},
        {{0xd0, 0xe0}, 2, WIRE_REASON_NOT_CANONICAL},
        {{0xd0, 0xdf}, 2, WIRE_REASON_NONE},
        {{0xd1, 0x00, 0x05}, 3, WIRE_REASON_NOT_CANONICAL},
        {{0xd1, 0xff, 0x80}, 3, WIRE_REASON_NOT_CANONICAL},
        {{0xd1, 0xff, 0x7f}, 3, WIRE_REASON_NONE},
        {{0xd2, 0xff, 0xff, 0x80, 0x00}, 5, WIRE_REASON_NOT_CANONICAL},
        {{0xd2, 0x00, 0x00, 0x00, 0x01}, 5, WIRE_REASON_NOT_CANONICAL},
        {{0xd2, 0xff, 0xff, 0x7f, 0xff}, 5, WIRE_REASON_NONE},
        {{0xd3, 0xff, 0xff, 0xff, 0xff, 0x80, 0, 0, 0}, 9, WIRE_REASON_NOT_CANONICAL},
        {{0xd3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9, WIRE_REASON_NOT_CANONICAL},
        {{0xd3, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff}, 9, WIRE_REASON_NONE},
        {{0xcc}, 1, WIRE_REASON_TRUNCATED},
        {{0xcd, 0x01}, 2, WIRE_REASON_TRUNCATED},
        {{0xd3, 0xff, 0xff}, 3, WIRE_REASON_TRUNCATED},
        {{0}, 0, WIRE_REASON_TRUNCATED},
        {{0xc0}, 1, WIRE_REASON_TYPE},                               // nil
        {{0xc2}, 1, WIRE_REASON_TYPE},                               // false
        {{0xc3}, 1, WIRE_REASON_TYPE},                               // true
        {{0xca, 0x3f, 0x80, 0, 0}, 5, WIRE_REASON_TYPE},             // float32
        {{0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0}, 9, WIRE_REASON_TYPE}, // float64
        {{0xa1, 0x31}, 2, WIRE_REASON_TYPE},                         // "1"
        {{0xc1}, 1, WIRE_REASON_TYPE},                               // never used
        {{0xd4, 0x01, 0x02}, 3, WIRE_REASON_TYPE},                   // fixext1
    };
    for (uint32_t i = 0; i < MESH_ARRAY_COUNT(cases); i++) {
        wire_reader reader;
        wire_reader_init(&reader, cases[i].bytes, cases[i].size);
        wire_int value;
        mesh_err err = wire_read_int(&reader, &value);
        if (cases[i].reason == WIRE_REASON_NONE) {
            assert_int_equal(err, MESH_OK);
            assert_int_equal(reader.offset, cases[i].size);
        } else {
            if (err != MESH_EPROTO || reader.reason != cases[i].reason) {
                print_message("integer case %u: ", i);
                print_bytes(cases[i].bytes, cases[i].size);
            }
            assert_int_equal(err, MESH_EPROTO);
            assert_int_equal(reader.reason, cases[i].reason);
            assert_int_equal(reader.offset, 0);
        }
    }
}

static void test_reader_length_forms(void **state)
{
    (void) state;
    // Each case is read as the family its first byte names, with limit 300.
    static uint8_t input[80000];
    static const struct {
        uint8_t header[5];
        uint32_t header_size;
        uint32_t payload_size; // bytes present after the header
        wire_reason reason;
    } cases[] = {
        {{0xd9, 0x1f}, 2, 31, WIRE_REASON_NOT_CANONICAL}, // str8 for fixstr
        {{0xd9, 0x20}, 2, 32, WIRE_REASON_NONE},
        {{0xda, 0x00, 0xff}, 3, 255, WIRE_REASON_NOT_CANONICAL}, // str16 for str8
        {{0xda, 0x00, 0x05}, 3, 5, WIRE_REASON_NOT_CANONICAL},
        {{0xda, 0x01, 0x00}, 3, 256, WIRE_REASON_NONE},
        {{0xdb, 0x00, 0x00, 0x00, 0x05}, 5, 5, WIRE_REASON_NOT_CANONICAL},
        {{0xdb, 0x00, 0x01, 0x00, 0x00}, 5, 65536, WIRE_REASON_LENGTH}, // minimal, over limit
        {{0xc4, 0x00}, 2, 0, WIRE_REASON_NONE},
        {{0xc5, 0x00, 0xff}, 3, 255, WIRE_REASON_NOT_CANONICAL},
        {{0xc5, 0x01, 0x00}, 3, 256, WIRE_REASON_NONE},
        {{0xc6, 0x00, 0x00, 0x01, 0x00}, 5, 256, WIRE_REASON_NOT_CANONICAL},
        {{0xdc, 0x00, 0x0f}, 3, 15, WIRE_REASON_NOT_CANONICAL}, // array16 for fixarray
        {{0xdc, 0x00, 0x10}, 3, 16, WIRE_REASON_NONE},
        {{0xdd, 0x00, 0x00, 0x00, 0x10}, 5, 16, WIRE_REASON_NOT_CANONICAL},
        {{0xde, 0x00, 0x03}, 3, 6, WIRE_REASON_NOT_CANONICAL}, // map16 for fixmap
        {{0xdf, 0x00, 0x00, 0x00, 0x03}, 5, 6, WIRE_REASON_NOT_CANONICAL},
        {{0xde, 0x00, 0x10}, 3, 32, WIRE_REASON_NONE},
        {{0xa5}, 1, 4, WIRE_REASON_LENGTH}, // 5 declared, 4 present
        {{0xd9, 0xff}, 2, 254, WIRE_REASON_LENGTH},
        {{0xc4, 0x10}, 2, 15, WIRE_REASON_LENGTH},
        {{0x95}, 1, 4, WIRE_REASON_LENGTH},               // array of 5, 4 bytes left
        {{0x83}, 1, 5, WIRE_REASON_LENGTH},               // map of 3 needs 6 bytes
        {{0xdc, 0x01, 0x2d}, 3, 301, WIRE_REASON_LENGTH}, // 301 > limit 300
        {{0xd9}, 1, 0, WIRE_REASON_TRUNCATED},
        {{0xda, 0x01}, 2, 0, WIRE_REASON_TRUNCATED},
        {{0xdd, 0xd6, 0x2d, 0x3f}, 4, 0, WIRE_REASON_TRUNCATED},
    };
    for (uint32_t i = 0; i < MESH_ARRAY_COUNT(cases); i++) {
        uint32_t size = cases[i].header_size + cases[i].payload_size;
        assert_true(size <= sizeof(input));
        memset(input, 0x01, size);
        memcpy(input, cases[i].header, cases[i].header_size);
        wire_reader reader;
        wire_reader_init(&reader, input, size);
        mesh_err err;
        uint32_t count = 0;
        const uint8_t *bytes = NULL;
        uint8_t first = cases[i].header[0];
        if ((first >= 0xa0 && first <= 0xbf) || (first >= 0xd9 && first <= 0xdb)) {
            err = wire_read_str(&reader, 300, &bytes, &count);
        } else if (first >= 0xc4 && first <= 0xc6) {
            err = wire_read_bin(&reader, 300, &bytes, &count);
        } else if ((first >= 0x90 && first <= 0x9f) || first == 0xdc || first == 0xdd) {
            err = wire_read_array(&reader, 300, &count);
        } else {
            err = wire_read_map(&reader, 300, &count);
        }
        wire_reason want = cases[i].reason;
        if (want == WIRE_REASON_NONE) {
            if (err != MESH_OK) {
                print_message("length case %u: %s\n", i, wire_reason_name(reader.reason));
            }
            assert_int_equal(err, MESH_OK);
        } else {
            if (err != MESH_EPROTO || reader.reason != want) {
                print_message("length case %u: got %s\n", i, wire_reason_name(reader.reason));
            }
            assert_int_equal(err, MESH_EPROTO);
            assert_int_equal(reader.reason, want);
            assert_int_equal(reader.offset, 0);
        }
    }
    // A wrong family is TYPE for each reader.
    static const uint8_t one[] = {0x01};
    wire_reader reader;
    const uint8_t *bytes;
    uint32_t count;
    wire_reader_init(&reader, one, 1);
    assert_int_equal(wire_read_str(&reader, 10, &bytes, &count), MESH_EPROTO);
    assert_int_equal(reader.reason, WIRE_REASON_TYPE);
    wire_reader_init(&reader, one, 1);
    assert_int_equal(wire_read_bin(&reader, 10, &bytes, &count), MESH_EPROTO);
    assert_int_equal(reader.reason, WIRE_REASON_TYPE);
    wire_reader_init(&reader, one, 1);
    assert_int_equal(wire_read_array(&reader, 10, &count), MESH_EPROTO);
    assert_int_equal(reader.reason, WIRE_REASON_TYPE);
    wire_reader_init(&reader, one, 1);
    assert_int_equal(wire_read_map(&reader, 10, &count), MESH_EPROTO);
    assert_int_equal(reader.reason, WIRE_REASON_TYPE);
}

/* Bad structs: the encoder says EINVAL, the decoder names the reason. */

typedef struct bad_case {
    const char *what;
    wire_reason reason;
} bad_case;

// Applies bad case `index` to a fresh sample; false past the last case.
static bool bad_advert(uint32_t index, wire_advert *advert, bad_case *out)
{
    sample_advert(advert);
    wire_resource *r = advert->resources;
    out->reason = WIRE_REASON_RANGE;
    switch (index) {
    case 0:
        out->what = "sequence 0";
        advert->sequence = 0;
        return true;
    case 1:
        out->what = "timestamp 0";
        advert->timestamp_ns = 0;
        return true;
    case 2:
        out->what = "timestamp negative";
        advert->timestamp_ns = -5;
        return true;
    case 3:
        out->what = "status 2";
        advert->status = 2;
        return true;
    case 4:
        out->what = "status huge";
        advert->status = UINT32_MAX;
        return true;
    case 5:
        out->what = "carbon over max";
        advert->carbon_gco2_per_kwh = WIRE_CARBON_MAX + 1;
        return true;
    case 6:
        out->what = "class 0";
        r[0].resource_class = 0;
        return true;
    case 7:
        out->what = "class 5";
        r[4].resource_class = WIRE_RESOURCE_CLASS_MAX + 1;
        return true;
    case 8:
        out->what = "GPU without model";
        r[2].model[0] = '\0';
        return true;
    case 9:
        out->what = "GPU model with a space";
        set_string(r[3].model, sizeof(r[3].model), "H100 80GB");
        return true;
    case 10:
        out->what = "GPU model not ASCII";
        set_string(r[3].model, sizeof(r[3].model), "H100\xc3\xa9");
        return true;
    case 11:
        out->what = "vCPU with a model";
        set_string(r[0].model, sizeof(r[0].model), "x");
        return true;
    case 12:
        out->what = "free over total";
        r[1].free = r[1].total + 1;
        return true;
    case 13:
        out->what = "lendable over total";
        r[1].lendable = r[1].total + 1;
        return true;
    case 14:
        out->what = "total over max";
        r[4].total = WIRE_AMOUNT_MAX + 1;
        return true;
    case 15:
        out->what = "price over max";
        r[2].price_microeur_per_unit_hour = WIRE_PRICE_MAX + 1;
        return true;
    case 16: {
        out->what = "resources unsorted by class";
        wire_resource swap = r[0];
        r[0] = r[1];
        r[1] = swap;
        out->reason = WIRE_REASON_NOT_CANONICAL;
        return true;
    }
    case 17: {
        out->what = "GPU models unsorted";
        wire_resource swap = r[2];
        r[2] = r[3];
        r[3] = swap;
        out->reason = WIRE_REASON_NOT_CANONICAL;
        return true;
    }
    case 18:
        out->what = "duplicate resource";
        r[3] = r[2];
        out->reason = WIRE_REASON_NOT_CANONICAL;
        return true;
    case 19:
        out->what = "endpoint empty";
        advert->endpoint[0] = '\0';
        return true;
    case 20:
        out->what = "endpoint with a space";
        set_string(advert->endpoint, sizeof(advert->endpoint), "tcp://a b:1");
        return true;
    case 21:
        out->what = "endpoint with DEL";
        set_string(advert->endpoint, sizeof(advert->endpoint), "tcp://a\x7f");
        return true;
    case 22:
        out->what = "endpoint not ASCII";
        set_string(advert->endpoint, sizeof(advert->endpoint), "tcp://caf\xc3\xa9");
        return true;
    case 23:
        out->what = "api endpoint with a tab";
        set_string(advert->api_endpoint, sizeof(advert->api_endpoint), "https://x\ty");
        return true;
    default:
        return false;
    }
}

static bool bad_cert(uint32_t index, wire_cert *cert, bad_case *out)
{
    sample_cert(cert);
    out->reason = WIRE_REASON_RANGE;
    static const struct {
        const char *what;
        const char *name;
        const char *operator_name;
        const char *country;
    } texts[] = {
        {"name empty", "", NULL, NULL},
        {"name leading dash", "-paris", NULL, NULL},
        {"name trailing dash", "paris-", NULL, NULL},
        {"name upper case", "Paris", NULL, NULL},
        {"name underscore", "par_is", NULL, NULL},
        {"name dot", "par.is", NULL, NULL},
        {"operator C0", NULL, "\x01 bad", NULL},
        {"operator newline", NULL, "a\nb", NULL},
        {"operator DEL", NULL, "a\x7f", NULL},
        {"operator C1 NEL", NULL, "a\xc2\x85", NULL},
        {"operator C1 first", NULL, "\xc2\x80", NULL},
        {"operator 0xff", NULL, "\xff", NULL},
        {"operator lone continuation", NULL, "\x80", NULL},
        {"operator overlong slash", NULL, "\xc0\xaf", NULL},
        {"operator overlong 3-byte", NULL, "\xe0\x80\xaf", NULL},
        {"operator overlong 4-byte", NULL, "\xf0\x80\x80\xaf", NULL},
        {"operator surrogate", NULL, "\xed\xa0\x80", NULL},
        {"operator cut sequence", NULL, "\xe2\x82", NULL},
        {"operator bad continuation", NULL, "\xe2\x28\xa1", NULL},
        {"operator above U+10FFFF", NULL, "\xf4\x90\x80\x80", NULL},
        {"operator 0xf5", NULL, "\xf5\x80\x80\x80", NULL},
        {"country XX", NULL, NULL, "XX"},
        {"country lower case", NULL, NULL, "fr"},
        {"country empty", NULL, NULL, ""},
        {"country one letter", NULL, NULL, "F"},
        {"country EU", NULL, NULL, "EU"},
        {"country XK", NULL, NULL, "XK"},
        {"country digits", NULL, NULL, "12"},
    };
    if (index < MESH_ARRAY_COUNT(texts)) {
        out->what = texts[index].what;
        if (texts[index].name != NULL) {
            set_string(cert->name, sizeof(cert->name), texts[index].name);
        }
        if (texts[index].operator_name != NULL) {
            set_string(cert->operator_name, sizeof(cert->operator_name),
                       texts[index].operator_name);
        }
        if (texts[index].country != NULL) {
            set_string(cert->country, sizeof(cert->country), texts[index].country);
        }
        return true;
    }
    switch (index - MESH_ARRAY_COUNT(texts)) {
    case 0:
        out->what = "jurisdiction XX";
        set_string(cert->jurisdictions[2], 3, "XX");
        return true;
    case 1:
        out->what = "jurisdiction eu";
        set_string(cert->jurisdictions[2], 3, "eu");
        return true;
    case 2:
        out->what = "jurisdiction one letter";
        set_string(cert->jurisdictions[2], 3, "F");
        return true;
    case 3:
        out->what = "jurisdictions unsorted";
        set_string(cert->jurisdictions[0], 3, "FR");
        set_string(cert->jurisdictions[2], 3, "DE");
        out->reason = WIRE_REASON_NOT_CANONICAL;
        return true;
    case 4:
        out->what = "jurisdictions duplicate";
        set_string(cert->jurisdictions[1], 3, "DE");
        out->reason = WIRE_REASON_NOT_CANONICAL;
        return true;
    case 5:
        out->what = "certification unknown bit";
        cert->certifications = 0x80;
        return true;
    case 6:
        out->what = "certifications all bits";
        cert->certifications = UINT32_MAX;
        return true;
    case 7:
        out->what = "valid_from == valid_until";
        cert->valid_until_ns = cert->valid_from_ns;
        return true;
    case 8:
        out->what = "valid_from > valid_until";
        cert->valid_until_ns = cert->valid_from_ns - 1;
        return true;
    default:
        return false;
    }
}

static bool bad_revocation(uint32_t index, wire_revocation *revocation, bad_case *out)
{
    sample_revocation(revocation);
    out->reason = WIRE_REASON_RANGE;
    switch (index) {
    case 0:
        out->what = "revoked_at 0";
        revocation->revoked_at_ns = 0;
        return true;
    case 1:
        out->what = "revoked_at INT64_MIN";
        revocation->revoked_at_ns = INT64_MIN;
        return true;
    case 2:
        out->what = "reason newline";
        set_string(revocation->reason, sizeof(revocation->reason), "leaked\n");
        return true;
    case 3:
        out->what = "reason invalid UTF-8";
        set_string(revocation->reason, sizeof(revocation->reason), "\xfe");
        return true;
    case 4:
        out->what = "reason DEL";
        set_string(revocation->reason, sizeof(revocation->reason), "\x7f");
        return true;
    case 5:
        out->what = "reason escape sequence";
        set_string(revocation->reason, sizeof(revocation->reason), "\x1b[2J");
        return true;
    default:
        return false;
    }
}

static bool bad_envelope(uint32_t index, wire_envelope *envelope, bad_case *out)
{
    sample_envelope(envelope);
    static const struct {
        const char *what;
        uint32_t version;
        uint32_t type;
        wire_reason reason;
    } cases[] = {
        {"version 0", 0, 1, WIRE_REASON_VERSION},
        {"version 2", 2, 1, WIRE_REASON_VERSION},
        {"version 1000", 1000, 1, WIRE_REASON_VERSION},
        {"type 0", 1, 0, WIRE_REASON_UNKNOWN_TYPE},
        {"type 5 (reserved, records)", 1, 5, WIRE_REASON_UNKNOWN_TYPE},
        {"type 7 (reserved, records)", 1, 7, WIRE_REASON_UNKNOWN_TYPE},
        {"type 14 (reserved, gossip)", 1, 14, WIRE_REASON_UNKNOWN_TYPE},
        {"type 15 (reserved, gossip)", 1, 15, WIRE_REASON_UNKNOWN_TYPE},
        {"type 22 (reserved, leases)", 1, 22, WIRE_REASON_UNKNOWN_TYPE},
        {"type 31 (reserved, leases)", 1, 31, WIRE_REASON_UNKNOWN_TYPE},
        {"type 32", 1, 32, WIRE_REASON_UNKNOWN_TYPE},
        {"type 200", 1, 200, WIRE_REASON_UNKNOWN_TYPE},
    };
    if (index < MESH_ARRAY_COUNT(cases)) {
        out->what = cases[index].what;
        out->reason = cases[index].reason;
        envelope->version = cases[index].version;
        envelope->type = (wire_type) cases[index].type;
        return true;
    }
    if (index == MESH_ARRAY_COUNT(cases)) {
        out->what = "empty body";
        out->reason = WIRE_REASON_RANGE;
        envelope->body_size = 0;
        return true;
    }
    return false;
}

static bool bad_kind(kind which, uint32_t index, any_message *message, bad_case *out)
{
    memset(message, 0, sizeof(*message));
    switch (which) {
    case KIND_ENVELOPE:
        return bad_envelope(index, &message->envelope, out);
    case KIND_ADVERT:
        return bad_advert(index, &message->advert, out);
    case KIND_CERT:
        return bad_cert(index, &message->cert, out);
    case KIND_REVOCATION:
        return bad_revocation(index, &message->revocation, out);
    }
    fail();
    return false;
}

static void test_bad_structs_refused_both_ways(void **state)
{
    (void) state;
    uint32_t total = 0;
    for (kind which = KIND_ENVELOPE; which <= KIND_REVOCATION; which++) {
        any_message message;
        bad_case bad;
        for (uint32_t index = 0; bad_kind(which, index, &message, &bad); index++) {
            uint8_t buf[BUF_SIZE];
            uint32_t size = 0xdeadbeef;
            mesh_err err = encode_kind(which, &message, buf, sizeof(buf), &size);
            if (err != MESH_EINVAL) {
                print_message("%s %s: encode gave %s\n", kind_names[which], bad.what,
                              mesh_err_name(err));
            }
            assert_int_equal(err, MESH_EINVAL);
            assert_int_equal(size, 0xdeadbeef);
            uint32_t raw_size = raw_kind(which, &message, no_splice, buf, sizeof(buf));
            expect_reject(which, bad.what, buf, raw_size, bad.reason);
            total++;
        }
    }
    assert_true(total > 60);
}

// Structs the decoder can never produce: unterminated strings, counts over
// the arrays, a NULL body. The encoder refuses them rather than read past.
static void test_encoder_refuses_unrepresentable(void **state)
{
    (void) state;
    uint8_t buf[BUF_SIZE];
    uint32_t size = 0xdeadbeef;
    wire_advert advert;
    sample_advert(&advert);
    memset(advert.endpoint, 'a', sizeof(advert.endpoint));
    assert_int_equal(wire_advert_encode(&advert, buf, sizeof(buf), &size), MESH_EINVAL);
    sample_advert(&advert);
    memset(advert.api_endpoint, 'a', sizeof(advert.api_endpoint));
    assert_int_equal(wire_advert_encode(&advert, buf, sizeof(buf), &size), MESH_EINVAL);
    sample_advert(&advert);
    memset(advert.resources[2].model, 'A', sizeof(advert.resources[2].model));
    assert_int_equal(wire_advert_encode(&advert, buf, sizeof(buf), &size), MESH_EINVAL);
    sample_advert(&advert);
    advert.resource_count = WIRE_RESOURCES_MAX + 1;
    assert_int_equal(wire_advert_encode(&advert, buf, sizeof(buf), &size), MESH_EINVAL);

    wire_cert cert;
    sample_cert(&cert);
    memset(cert.name, 'a', sizeof(cert.name));
    assert_int_equal(wire_cert_encode(&cert, buf, sizeof(buf), &size), MESH_EINVAL);
    sample_cert(&cert);
    memset(cert.operator_name, 'a', sizeof(cert.operator_name));
    assert_int_equal(wire_cert_encode(&cert, buf, sizeof(buf), &size), MESH_EINVAL);
    sample_cert(&cert);
    memcpy(cert.country, "FRA", 3);
    assert_int_equal(wire_cert_encode(&cert, buf, sizeof(buf), &size), MESH_EINVAL);
    sample_cert(&cert);
    memcpy(cert.jurisdictions[0], "DEU", 3);
    assert_int_equal(wire_cert_encode(&cert, buf, sizeof(buf), &size), MESH_EINVAL);
    sample_cert(&cert);
    cert.jurisdiction_count = WIRE_JURISDICTIONS_MAX + 1;
    assert_int_equal(wire_cert_encode(&cert, buf, sizeof(buf), &size), MESH_EINVAL);

    wire_revocation revocation;
    sample_revocation(&revocation);
    memset(revocation.reason, 'a', sizeof(revocation.reason));
    assert_int_equal(wire_revocation_encode(&revocation, buf, sizeof(buf), &size), MESH_EINVAL);

    wire_envelope envelope;
    sample_envelope(&envelope);
    envelope.body = NULL;
    assert_int_equal(wire_envelope_encode(&envelope, buf, sizeof(buf), &size), MESH_EINVAL);
    sample_envelope(&envelope);
    envelope.body_size = WIRE_BODY_SIZE_MAX + 1;
    static uint8_t big[WIRE_FRAME_SIZE_MAX + 16];
    envelope.body = big;
    assert_int_equal(wire_envelope_encode(&envelope, big, sizeof(big), &size), MESH_EINVAL);
    assert_int_equal(size, 0xdeadbeef);
}

static void test_encoder_full_buffer(void **state)
{
    (void) state;
    for (kind which = KIND_ENVELOPE; which <= KIND_REVOCATION; which++) {
        any_message message;
        sample_kind(which, &message);
        uint8_t buf[BUF_SIZE];
        uint32_t size = 0;
        assert_int_equal(encode_kind(which, &message, buf, sizeof(buf), &size), MESH_OK);
        for (uint32_t buf_size = 0; buf_size < size; buf_size++) {
            uint8_t small[BUF_SIZE];
            uint32_t small_size = 0xdeadbeef;
            assert_int_equal(encode_kind(which, &message, small, buf_size, &small_size),
                             MESH_EFULL);
            assert_int_equal(small_size, 0xdeadbeef);
        }
        uint8_t exact[BUF_SIZE];
        uint32_t exact_size = 0;
        assert_int_equal(encode_kind(which, &message, exact, size, &exact_size), MESH_OK);
        assert_int_equal(exact_size, size);
        assert_memory_equal(exact, buf, size);
    }
    // A zero-sized buffer may be NULL.
    wire_revocation revocation;
    sample_revocation(&revocation);
    uint32_t size = 0xdeadbeef;
    assert_int_equal(wire_revocation_encode(&revocation, NULL, 0, &size), MESH_EFULL);
    assert_int_equal(size, 0xdeadbeef);
}

/* Decoder rejections built from raw bytes. */

static void test_truncated_at_every_prefix(void **state)
{
    (void) state;
    for (kind which = KIND_ENVELOPE; which <= KIND_REVOCATION; which++) {
        any_message message;
        sample_kind(which, &message);
        uint8_t buf[BUF_SIZE];
        uint32_t size = 0;
        assert_int_equal(encode_kind(which, &message, buf, sizeof(buf), &size), MESH_OK);
        for (uint32_t prefix = 0; prefix < size; prefix++) {
            // A copy of exactly prefix bytes, so that ASan sees any overread.
            uint8_t *copy = test_malloc(prefix > 0 ? prefix : 1);
            memcpy(copy, buf, prefix);
            any_message out;
            wire_error error = {WIRE_REASON_NONE, 0};
            assert_int_equal(decode_kind(which, copy, prefix, &out, &error), MESH_EPROTO);
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

static void test_trailing_and_empty(void **state)
{
    (void) state;
    for (kind which = KIND_ENVELOPE; which <= KIND_REVOCATION; which++) {
        any_message message;
        sample_kind(which, &message);
        uint8_t buf[BUF_SIZE];
        uint32_t size = 0;
        assert_int_equal(encode_kind(which, &message, buf, sizeof(buf), &size), MESH_OK);
        buf[size] = 0x00;
        expect_reject(which, "one trailing byte", buf, size + 1, WIRE_REASON_TRAILING);
        memcpy(buf + size, buf, size);
        expect_reject(which, "the message twice", buf, 2 * size, WIRE_REASON_TRAILING);
        wire_error error;
        any_message out;
        assert_int_equal(decode_kind(which, buf, size + 1, &out, &error), MESH_EPROTO);
        assert_int_equal(error.offset, size);
        expect_reject(which, "empty", buf, 0, WIRE_REASON_TRUNCATED);
    }
}

static void test_too_large(void **state)
{
    (void) state;
    static uint8_t big[WIRE_FRAME_SIZE_MAX + 1];
    memset(big, 0, sizeof(big));
    expect_reject(KIND_ENVELOPE, "frame over max", big, WIRE_FRAME_SIZE_MAX + 1,
                  WIRE_REASON_TOO_LARGE);
    expect_reject(KIND_ADVERT, "body over max", big, WIRE_BODY_SIZE_MAX + 1, WIRE_REASON_TOO_LARGE);
    expect_reject(KIND_CERT, "body over max", big, WIRE_BODY_SIZE_MAX + 1, WIRE_REASON_TOO_LARGE);
    expect_reject(KIND_REVOCATION, "body over max", big, WIRE_BODY_SIZE_MAX + 1,
                  WIRE_REASON_TOO_LARGE);
    // At the cap the size is fine and parsing starts (and fails on content).
    expect_reject(KIND_ENVELOPE, "frame at max", big, WIRE_FRAME_SIZE_MAX, WIRE_REASON_TYPE);
    // A UINT32_MAX size is refused before a byte is read.
    expect_reject(KIND_ENVELOPE, "frame at UINT32_MAX", big, UINT32_MAX, WIRE_REASON_TOO_LARGE);
}

// The input that makes msgpack-c's unpacker ask for ~128 GiB.
static void test_msgpack_c_bomb(void **state)
{
    (void) state;
    static const uint8_t bomb[] = {0xdd, 0xd6, 0x2d, 0x3f, 0x31, 0x25};
    any_message out;
    wire_error error = {WIRE_REASON_NONE, 99};
    assert_int_equal(wire_envelope_decode(bomb, sizeof(bomb), &out.envelope, &error), MESH_EPROTO);
    assert_true(error.reason == WIRE_REASON_LENGTH || error.reason == WIRE_REASON_TRUNCATED);
    assert_int_equal(error.reason, WIRE_REASON_LENGTH);
    assert_int_equal(error.offset, 0);
    for (kind which = KIND_ADVERT; which <= KIND_REVOCATION; which++) {
        expect_reject(which, "msgpack-c bomb", bomb, sizeof(bomb), WIRE_REASON_TYPE);
    }
    // The same bomb as a map header and as a nested array.
    static const uint8_t map_bomb[] = {0xdf, 0xd6, 0x2d, 0x3f, 0x31, 0x25};
    expect_reject(KIND_ADVERT, "map32 bomb", map_bomb, sizeof(map_bomb), WIRE_REASON_LENGTH);
    static const uint8_t nested[] = {0x88, 0x00, 0xdd, 0xd6, 0x2d, 0x3f, 0x31, 0x25};
    expect_reject(KIND_ADVERT, "array32 in a field", nested, sizeof(nested), WIRE_REASON_LENGTH);
}

typedef struct splice_case {
    kind which;
    int32_t key;
    const char *what;
    uint8_t bytes[48];
    uint32_t size;
    wire_reason reason;
} splice_case;

static void test_spliced_fields(void **state)
{
    (void) state;
    // Splices that need long payloads are generated below; these fit.
    // One case per entry, wrapped by hand: clang-format 14 puts every
    // member of a long braced initializer on its own line.
    // clang-format off
    static const splice_case cases[] = {
        // Envelope (key = array index).
        {KIND_ENVELOPE, 0, "version as str", {0xa1, 0x31}, 2, WIRE_REASON_TYPE},
        {KIND_ENVELOPE, 0, "version -1", {0xff}, 1, WIRE_REASON_VERSION},
        {KIND_ENVELOPE, 0, "version nil", {0xc0}, 1, WIRE_REASON_TYPE},
        {KIND_ENVELOPE, 0, "version as uint8", {0xcc, 0x01}, 2, WIRE_REASON_NOT_CANONICAL},
        {KIND_ENVELOPE, 1, "type -1", {0xff}, 1, WIRE_REASON_UNKNOWN_TYPE},
        {KIND_ENVELOPE, 1, "type huge", {0xcf, 1, 0, 0, 0, 0, 0, 0, 1}, 9,
         WIRE_REASON_UNKNOWN_TYPE},
        {KIND_ENVELOPE, 1, "type as bin", {0xc4, 0x01, 0x01}, 3, WIRE_REASON_TYPE},
        {KIND_ENVELOPE, 2, "signer 15 bytes", {0xc4, 0x0f}, 2, WIRE_REASON_LENGTH},
        {KIND_ENVELOPE, 2, "signer as str", {0xa2, 0x41, 0x42}, 3, WIRE_REASON_TYPE},
        {KIND_ENVELOPE, 3, "body empty", {0xc4, 0x00}, 2, WIRE_REASON_RANGE},
        {KIND_ENVELOPE, 3, "body in bin16", {0xc5, 0x00, 0x01, 0x80}, 4,
         WIRE_REASON_NOT_CANONICAL},
        {KIND_ENVELOPE, 3, "body as str", {0xa1, 0x80}, 2, WIRE_REASON_TYPE},
        {KIND_ENVELOPE, 4, "signature 63 bytes", {0xc4, 0x3f}, 2, WIRE_REASON_LENGTH},
        {KIND_ENVELOPE, 4, "signature 65 bytes", {0xc4, 0x41}, 2, WIRE_REASON_LENGTH},
        // Advert.
        {KIND_ADVERT, 0, "node id 15 bytes", {0xc4, 0x0f}, 2, WIRE_REASON_LENGTH},
        {KIND_ADVERT, 0, "node id 17 bytes", {0xc4, 0x11}, 2, WIRE_REASON_LENGTH},
        {KIND_ADVERT, 0, "node id in bin16", {0xc5, 0x00, 0x10}, 3, WIRE_REASON_NOT_CANONICAL},
        {KIND_ADVERT, 0, "node id as str", {0xb0}, 1, WIRE_REASON_TYPE},
        {KIND_ADVERT, 1, "sequence as str", {0xa1, 0x37}, 2, WIRE_REASON_TYPE},
        {KIND_ADVERT, 1, "sequence cc 05", {0xcc, 0x05}, 2, WIRE_REASON_NOT_CANONICAL},
        {KIND_ADVERT, 1, "sequence -1", {0xff}, 1, WIRE_REASON_RANGE},
        {KIND_ADVERT, 1, "sequence float", {0xca, 0x40, 0xe0, 0, 0}, 5, WIRE_REASON_TYPE},
        {KIND_ADVERT, 1, "sequence true", {0xc3}, 1, WIRE_REASON_TYPE},
        {KIND_ADVERT, 2, "timestamp over INT64_MAX", {0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0}, 9,
         WIRE_REASON_RANGE},
        {KIND_ADVERT, 2, "timestamp d0 05", {0xd0, 0x05}, 2, WIRE_REASON_NOT_CANONICAL},
        {KIND_ADVERT, 3, "status 2^32", {0xcf, 0, 0, 0, 1, 0, 0, 0, 0}, 9, WIRE_REASON_RANGE},
        {KIND_ADVERT, 3, "status -1", {0xff}, 1, WIRE_REASON_RANGE},
        {KIND_ADVERT, 4, "carbon 5001", {0xcd, 0x13, 0x89}, 3, WIRE_REASON_RANGE},
        {KIND_ADVERT, 5, "resources as map", {0x80}, 1, WIRE_REASON_TYPE},
        {KIND_ADVERT, 5, "17 resources", {0xdc, 0x00, 0x11}, 3, WIRE_REASON_LENGTH},
        {KIND_ADVERT, 5, "resources in array16", {0xdc, 0x00, 0x00}, 3,
         WIRE_REASON_NOT_CANONICAL},
        {KIND_ADVERT, 5, "resource not an array", {0x91, 0x01}, 2, WIRE_REASON_TYPE},
        {KIND_ADVERT, 5, "resource with 5 fields", {0x91, 0x95, 0x01, 0xa0, 0x01, 0x01, 0x01}, 7,
         WIRE_REASON_MISSING_FIELD},
        {KIND_ADVERT, 5, "resource with 7 fields", {0x91, 0x97, 0x01, 0xa0, 1, 1, 1, 1, 1}, 9,
         WIRE_REASON_LENGTH},
        {KIND_ADVERT, 5, "resource class as str", {0x91, 0x96, 0xa1, 0x31, 0xa0, 1, 1, 1, 1}, 9,
         WIRE_REASON_TYPE},
        {KIND_ADVERT, 5, "resource class 0", {0x91, 0x96, 0x00, 0xa0, 1, 1, 1, 1}, 8,
         WIRE_REASON_RANGE},
        {KIND_ADVERT, 5, "resource model as bin", {0x91, 0x96, 0x01, 0xc4, 0x00, 1, 1, 1, 1}, 9,
         WIRE_REASON_TYPE},
        {KIND_ADVERT, 5, "GPU model with NUL", {0x91, 0x96, 0x03, 0xa3, 'A', 0, 'B', 1, 1, 1, 1},
         11, WIRE_REASON_RANGE},
        {KIND_ADVERT, 5, "resource total -1", {0x91, 0x96, 0x01, 0xa0, 0xff, 0, 0, 1}, 8,
         WIRE_REASON_RANGE},
        {KIND_ADVERT, 5, "resource total over max",
         {0x91, 0x96, 0x01, 0xa0, 0xcf, 0, 0, 0, 0xe8, 0xd4, 0xa5, 0x10, 0x01, 0, 0, 1}, 16,
         WIRE_REASON_RANGE},
        {KIND_ADVERT, 6, "endpoint as bin", {0xc4, 0x01, 0x41}, 3, WIRE_REASON_TYPE},
        {KIND_ADVERT, 6, "endpoint with NUL", {0xa3, 'a', 0, 'b'}, 4, WIRE_REASON_RANGE},
        {KIND_ADVERT, 6, "endpoint str8 for 5 bytes", {0xd9, 0x05, 'a', 'b', 'c', 'd', 'e'}, 7,
         WIRE_REASON_NOT_CANONICAL},
        {KIND_ADVERT, 7, "api endpoint with NUL", {0xa2, 'a', 0}, 3, WIRE_REASON_RANGE},
        {KIND_ADVERT, 7, "api endpoint nil", {0xc0}, 1, WIRE_REASON_TYPE},
        // Cert.
        {KIND_CERT, 0, "public key 31 bytes", {0xc4, 0x1f}, 2, WIRE_REASON_LENGTH},
        {KIND_CERT, 0, "public key 33 bytes", {0xc4, 0x21}, 2, WIRE_REASON_LENGTH},
        {KIND_CERT, 1, "name with NUL", {0xa3, 'a', 0, 'b'}, 4, WIRE_REASON_RANGE},
        {KIND_CERT, 1, "name as bin", {0xc4, 0x01, 'a'}, 3, WIRE_REASON_TYPE},
        {KIND_CERT, 2, "operator with NUL", {0xa1, 0}, 2, WIRE_REASON_RANGE},
        {KIND_CERT, 3, "country FRA", {0xa3, 'F', 'R', 'A'}, 4, WIRE_REASON_LENGTH},
        {KIND_CERT, 3, "country F NUL", {0xa2, 'F', 0}, 3, WIRE_REASON_RANGE},
        {KIND_CERT, 3, "country as int", {0x01}, 1, WIRE_REASON_TYPE},
        {KIND_CERT, 4, "9 jurisdictions", {0x99}, 1, WIRE_REASON_LENGTH},
        {KIND_CERT, 4, "jurisdiction DEU", {0x91, 0xa3, 'D', 'E', 'U'}, 5, WIRE_REASON_LENGTH},
        {KIND_CERT, 4, "jurisdiction as int", {0x91, 0x01}, 2, WIRE_REASON_TYPE},
        {KIND_CERT, 4, "jurisdictions as str", {0xa2, 'F', 'R'}, 3, WIRE_REASON_TYPE},
        {KIND_CERT, 5, "certifications -1", {0xff}, 1, WIRE_REASON_RANGE},
        {KIND_CERT, 5, "certifications 2^32", {0xcf, 0, 0, 0, 1, 0, 0, 0, 0}, 9,
         WIRE_REASON_RANGE},
        {KIND_CERT, 6, "valid_from over INT64_MAX", {0xcf, 0xff, 0, 0, 0, 0, 0, 0, 0}, 9,
         WIRE_REASON_RANGE},
        {KIND_CERT, 8, "serial -1", {0xff}, 1, WIRE_REASON_RANGE},
        // Revocation.
        {KIND_REVOCATION, 0, "public key 16 bytes", {0xc4, 0x10}, 2, WIRE_REASON_LENGTH},
        {KIND_REVOCATION, 1, "revoked_at as str", {0xa1, 0x31}, 2, WIRE_REASON_TYPE},
        {KIND_REVOCATION, 1, "revoked_at d1 00 05", {0xd1, 0x00, 0x05}, 3,
         WIRE_REASON_NOT_CANONICAL},
        {KIND_REVOCATION, 2, "reason with NUL", {0xa3, 'a', 0, 'b'}, 4, WIRE_REASON_RANGE},
        {KIND_REVOCATION, 2, "reason str8 for 3 bytes", {0xd9, 0x03, 'a', 'b', 'c'}, 5,
         WIRE_REASON_NOT_CANONICAL},
    };
    // clang-format on
    for (uint32_t i = 0; i < MESH_ARRAY_COUNT(cases); i++) {
        const splice_case *c = &cases[i];
        any_message message;
        sample_kind(c->which, &message);
        splice sp = {c->key, c->bytes, c->size};
        uint8_t buf[BUF_SIZE];
        uint32_t size = raw_kind(c->which, &message, sp, buf, sizeof(buf));
        expect_reject(c->which, c->what, buf, size, c->reason);
    }
}

// Splices with payloads one byte over each string limit.
static void test_strings_over_limit(void **state)
{
    (void) state;
    static const struct {
        kind which;
        int32_t key;
        uint32_t size;
    } cases[] = {
        {KIND_ADVERT, 6, WIRE_ENDPOINT_SIZE_MAX + 1},
        {KIND_ADVERT, 7, WIRE_ENDPOINT_SIZE_MAX + 1},
        {KIND_CERT, 1, WIRE_NAME_SIZE_MAX + 1},
        {KIND_CERT, 2, WIRE_OPERATOR_SIZE_MAX + 1},
        {KIND_REVOCATION, 2, WIRE_REASON_TEXT_SIZE_MAX + 1},
    };
    for (uint32_t i = 0; i < MESH_ARRAY_COUNT(cases); i++) {
        static char text[512];
        memset(text, 'a', sizeof(text));
        uint8_t value[600];
        wire_writer writer;
        wire_writer_init(&writer, value, sizeof(value));
        wire_write_str(&writer, text, cases[i].size);
        uint32_t value_size = raw_finish(&writer);
        any_message message;
        sample_kind(cases[i].which, &message);
        splice sp = {cases[i].key, value, value_size};
        uint8_t buf[BUF_SIZE];
        uint32_t size = raw_kind(cases[i].which, &message, sp, buf, sizeof(buf));
        expect_reject(cases[i].which, "string one over its limit", buf, size, WIRE_REASON_LENGTH);
    }
    // A GPU model one byte over.
    uint8_t value[64];
    wire_writer writer;
    wire_writer_init(&writer, value, sizeof(value));
    wire_write_array(&writer, 1);
    wire_write_array(&writer, 6);
    wire_write_uint(&writer, WIRE_RESOURCE_GPU);
    wire_write_str(&writer, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", WIRE_MODEL_SIZE_MAX + 1);
    for (uint32_t i = 0; i < 4; i++) {
        wire_write_uint(&writer, 1);
    }
    any_message message;
    sample_kind(KIND_ADVERT, &message);
    splice sp = {5, value, raw_finish(&writer)};
    uint8_t buf[BUF_SIZE];
    uint32_t size = raw_advert(&message.advert, sp, buf, sizeof(buf));
    expect_reject(KIND_ADVERT, "model one over its limit", buf, size, WIRE_REASON_LENGTH);
}

// Map structure, on the revocation (3 keys) and the cert (9 keys).
static uint32_t revocation_with_keys(
    const int64_t *keys, uint32_t key_count, uint32_t map_count, uint8_t *buf, uint32_t buf_size)
{
    wire_revocation revocation;
    sample_revocation(&revocation);
    wire_writer writer;
    wire_writer_init(&writer, buf, buf_size);
    wire_write_map(&writer, map_count);
    for (uint32_t i = 0; i < key_count; i++) {
        wire_write_int64(&writer, keys[i]);
        switch (keys[i]) {
        case 0:
            wire_write_bin(&writer, revocation.public_key, WIRE_PUBLIC_KEY_SIZE);
            break;
        case 1:
            wire_write_int64(&writer, revocation.revoked_at_ns);
            break;
        case 2:
            raw_str(&writer, revocation.reason, sizeof(revocation.reason));
            break;
        default:
            wire_write_uint(&writer, 0);
            break;
        }
    }
    return raw_finish(&writer);
}

static void test_map_structure(void **state)
{
    (void) state;
    static const struct {
        const char *what;
        int64_t keys[5];
        uint32_t key_count;
        uint32_t map_count;
        wire_reason reason;
    } cases[] = {
        {"canonical", {0, 1, 2}, 3, 3, WIRE_REASON_NONE},
        {"keys 1, 0, 2", {1, 0, 2}, 3, 3, WIRE_REASON_NOT_CANONICAL},
        {"keys 0, 2, 1", {0, 2, 1}, 3, 3, WIRE_REASON_NOT_CANONICAL},
        {"duplicate key 0", {0, 0, 1, 2}, 4, 4, WIRE_REASON_NOT_CANONICAL},
        {"duplicate last key", {0, 1, 2, 2}, 4, 4, WIRE_REASON_NOT_CANONICAL},
        {"unknown key 3 at the end", {0, 1, 2, 3}, 4, 4, WIRE_REASON_UNKNOWN_FIELD},
        {"unknown key 9 in place of 2", {0, 1, 9}, 3, 3, WIRE_REASON_UNKNOWN_FIELD},
        {"unknown key first", {7}, 1, 1, WIRE_REASON_UNKNOWN_FIELD},
        {"negative key", {-1, 0, 1, 2}, 4, 4, WIRE_REASON_UNKNOWN_FIELD},
        {"missing key 1", {0, 2}, 2, 2, WIRE_REASON_MISSING_FIELD},
        {"missing key 0", {1, 2}, 2, 2, WIRE_REASON_MISSING_FIELD},
        {"missing last key", {0, 1}, 2, 2, WIRE_REASON_MISSING_FIELD},
        {"empty map", {0}, 0, 0, WIRE_REASON_MISSING_FIELD},
        {"map declares more pairs than present", {0, 1, 2}, 3, 4, WIRE_REASON_TRUNCATED},
        {"map declares fewer pairs", {0, 1, 2}, 3, 2, WIRE_REASON_MISSING_FIELD},
    };
    for (uint32_t i = 0; i < MESH_ARRAY_COUNT(cases); i++) {
        uint8_t buf[BUF_SIZE];
        uint32_t size = revocation_with_keys(cases[i].keys, cases[i].key_count, cases[i].map_count,
                                             buf, sizeof(buf));
        if (cases[i].reason == WIRE_REASON_NONE) {
            wire_revocation out;
            assert_int_equal(wire_revocation_decode(buf, size, &out, NULL), MESH_OK);
            continue;
        }
        expect_reject(KIND_REVOCATION, cases[i].what, buf, size, cases[i].reason);
    }

    static const raw_case shapes[] = {
        {{0x93, 0x00, 0x01, 0x02}, 4, WIRE_REASON_TYPE},                      // an array, not a map
        {{0xa0}, 1, WIRE_REASON_TYPE},                                        // a string
        {{0xde, 0x00, 0x03, 0, 0, 0, 0, 0, 0}, 9, WIRE_REASON_NOT_CANONICAL}, // map16 of 3
        {{0xde, 0x00, 0x21, 0, 0, 0, 0}, 7, WIRE_REASON_LENGTH},  // 33 pairs over the cap
        {{0x8f, 0x00}, 2, WIRE_REASON_LENGTH},                    // 15 pairs, 1 byte left
        {{0x81, 0xa1, 0x30, 0x00}, 4, WIRE_REASON_TYPE},          // string key
        {{0x81, 0xcc, 0x00, 0x00}, 4, WIRE_REASON_NOT_CANONICAL}, // key in uint8
        {{0x81, 0xc0, 0x00}, 3, WIRE_REASON_TYPE},                // nil key
    };
    for (uint32_t i = 0; i < MESH_ARRAY_COUNT(shapes); i++) {
        expect_reject(KIND_REVOCATION, "map shape", shapes[i].bytes, shapes[i].size,
                      shapes[i].reason);
    }
    // The same rules hold for the cert's larger map: swap two keys.
    any_message message;
    sample_kind(KIND_CERT, &message);
    uint8_t buf[BUF_SIZE];
    uint32_t size = raw_cert(&message.cert, no_splice, buf, sizeof(buf));
    // Key 8 is the last key; its byte is just before the serial (42).
    assert_int_equal(buf[size - 2], 0x08);
    buf[size - 2] = 0x09;
    expect_reject(KIND_CERT, "key 9", buf, size, WIRE_REASON_UNKNOWN_FIELD);
    buf[size - 2] = 0x07;
    expect_reject(KIND_CERT, "key 7 twice", buf, size, WIRE_REASON_NOT_CANONICAL);
    buf[0] = 0x88; // map(8): the serial pair is now trailing
    buf[size - 2] = 0x08;
    expect_reject(KIND_CERT, "map(8)", buf, size, WIRE_REASON_MISSING_FIELD);
}

static void test_envelope_shapes(void **state)
{
    (void) state;
    any_message message;
    sample_kind(KIND_ENVELOPE, &message);
    uint8_t buf[BUF_SIZE];
    uint32_t size = 0;
    assert_int_equal(wire_envelope_encode(&message.envelope, buf, sizeof(buf), &size), MESH_OK);
    assert_int_equal(buf[0], 0x95);
    buf[0] = 0x94;
    expect_reject(KIND_ENVELOPE, "array(4)", buf, size, WIRE_REASON_MISSING_FIELD);
    buf[0] = 0x96;
    expect_reject(KIND_ENVELOPE, "array(6)", buf, size, WIRE_REASON_LENGTH);
    buf[0] = 0x85;
    expect_reject(KIND_ENVELOPE, "map(5)", buf, size, WIRE_REASON_TYPE);
    buf[0] = 0x90;
    expect_reject(KIND_ENVELOPE, "array(0)", buf, size, WIRE_REASON_MISSING_FIELD);
    static const uint8_t array16[] = {0xdc, 0x00, 0x05, 0x01, 0x01};
    expect_reject(KIND_ENVELOPE, "array16(5)", array16, sizeof(array16), WIRE_REASON_NOT_CANONICAL);
    static const uint8_t scalar[] = {0x01};
    expect_reject(KIND_ENVELOPE, "a scalar", scalar, sizeof(scalar), WIRE_REASON_TYPE);
}

/* Outputs on success and failure. */

static void test_decode_leaves_output_on_late_failure(void **state)
{
    (void) state;
    // A failure after most fields were read must still leave the output
    // untouched: the last key of the cert (serial) is negative.
    any_message message;
    sample_kind(KIND_CERT, &message);
    static const uint8_t minus_one[] = {0xff};
    splice sp = {8, minus_one, 1};
    uint8_t buf[BUF_SIZE];
    uint32_t size = raw_cert(&message.cert, sp, buf, sizeof(buf));
    expect_reject(KIND_CERT, "serial -1 at the very end", buf, size, WIRE_REASON_RANGE);
    wire_error error;
    wire_cert out;
    assert_int_equal(wire_cert_decode(buf, size, &out, &error), MESH_EPROTO);
    assert_int_equal(error.offset, size - 1);
}

/* msgpack-c's unpacker agrees on the shape (safe: bounded, valid bytes). */

static void expect_positive(const msgpack_object *object, uint64_t value)
{
    assert_int_equal(object->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    assert_true(object->via.u64 == value);
}

static void test_differential_msgpack_c(void **state)
{
    (void) state;
    for (kind which = KIND_ENVELOPE; which <= KIND_REVOCATION; which++) {
        any_message message;
        sample_kind(which, &message);
        uint8_t buf[BUF_SIZE];
        uint32_t size = 0;
        assert_int_equal(encode_kind(which, &message, buf, sizeof(buf), &size), MESH_OK);
        msgpack_unpacked unpacked;
        msgpack_unpacked_init(&unpacked);
        size_t offset = 0;
        msgpack_unpack_return ret =
            msgpack_unpack_next(&unpacked, (const char *) buf, size, &offset);
        assert_int_equal(ret, MSGPACK_UNPACK_SUCCESS);
        assert_int_equal(offset, size);
        const msgpack_object *root = &unpacked.data;
        if (which == KIND_ENVELOPE) {
            assert_int_equal(root->type, MSGPACK_OBJECT_ARRAY);
            assert_int_equal(root->via.array.size, 5);
            const msgpack_object *items = root->via.array.ptr;
            expect_positive(&items[0], WIRE_VERSION);
            expect_positive(&items[1], message.envelope.type);
            assert_int_equal(items[2].type, MSGPACK_OBJECT_BIN);
            assert_int_equal(items[2].via.bin.size, MESH_NODE_ID_SIZE);
            assert_int_equal(items[3].type, MSGPACK_OBJECT_BIN);
            assert_int_equal(items[3].via.bin.size, message.envelope.body_size);
            assert_memory_equal(items[3].via.bin.ptr, message.envelope.body,
                                message.envelope.body_size);
            assert_int_equal(items[4].type, MSGPACK_OBJECT_BIN);
            assert_int_equal(items[4].via.bin.size, WIRE_SIGNATURE_SIZE);
        } else {
            static const uint32_t key_counts[] = {0, 8, 9, 3};
            assert_int_equal(root->type, MSGPACK_OBJECT_MAP);
            assert_int_equal(root->via.map.size, key_counts[which]);
            for (uint32_t i = 0; i < root->via.map.size; i++) {
                expect_positive(&root->via.map.ptr[i].key, i);
            }
            const msgpack_object_kv *kv = root->via.map.ptr;
            if (which == KIND_ADVERT) {
                const wire_advert *advert = &message.advert;
                assert_int_equal(kv[0].val.type, MSGPACK_OBJECT_BIN);
                expect_positive(&kv[1].val, advert->sequence);
                expect_positive(&kv[2].val, (uint64_t) advert->timestamp_ns);
                assert_int_equal(kv[5].val.type, MSGPACK_OBJECT_ARRAY);
                assert_int_equal(kv[5].val.via.array.size, advert->resource_count);
                for (uint32_t i = 0; i < advert->resource_count; i++) {
                    const msgpack_object *r = &kv[5].val.via.array.ptr[i];
                    assert_int_equal(r->type, MSGPACK_OBJECT_ARRAY);
                    assert_int_equal(r->via.array.size, 6);
                    expect_positive(&r->via.array.ptr[0], advert->resources[i].resource_class);
                    assert_int_equal(r->via.array.ptr[1].type, MSGPACK_OBJECT_STR);
                    assert_int_equal(r->via.array.ptr[1].via.str.size,
                                     strlen(advert->resources[i].model));
                    expect_positive(&r->via.array.ptr[2], advert->resources[i].total);
                }
                assert_int_equal(kv[6].val.type, MSGPACK_OBJECT_STR);
                assert_memory_equal(kv[6].val.via.str.ptr, advert->endpoint,
                                    strlen(advert->endpoint));
            } else if (which == KIND_CERT) {
                assert_int_equal(kv[1].val.type, MSGPACK_OBJECT_STR);
                assert_int_equal(kv[4].val.type, MSGPACK_OBJECT_ARRAY);
                assert_int_equal(kv[4].val.via.array.size, message.cert.jurisdiction_count);
                expect_positive(&kv[5].val, message.cert.certifications);
                expect_positive(&kv[8].val, message.cert.serial);
            } else {
                assert_int_equal(kv[0].val.type, MSGPACK_OBJECT_BIN);
                assert_int_equal(kv[0].val.via.bin.size, WIRE_PUBLIC_KEY_SIZE);
                assert_int_equal(kv[2].val.type, MSGPACK_OBJECT_STR);
            }
        }
        msgpack_unpacked_destroy(&unpacked);
    }
    // Negative integers too: a cert valid from before the epoch.
    wire_cert cert;
    sample_cert(&cert);
    cert.valid_from_ns = -5000000000;
    uint8_t buf[BUF_SIZE];
    uint32_t size = 0;
    assert_int_equal(wire_cert_encode(&cert, buf, sizeof(buf), &size), MESH_OK);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init(&unpacked);
    size_t offset = 0;
    assert_int_equal(msgpack_unpack_next(&unpacked, (const char *) buf, size, &offset),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(offset, size);
    const msgpack_object *from = &unpacked.data.via.map.ptr[6].val;
    assert_int_equal(from->type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
    assert_true(from->via.i64 == -5000000000);
    msgpack_unpacked_destroy(&unpacked);
}

/* Vocabularies. */

static void test_countries(void **state)
{
    (void) state;
    assert_true(wire_country_valid("FR"));
    assert_true(wire_country_valid("DE"));
    assert_true(wire_country_valid("NL"));
    assert_true(wire_country_valid("AD")); // first
    assert_true(wire_country_valid("ZW")); // last
    assert_true(wire_country_valid("GB"));
    assert_true(wire_country_valid("CH"));
    assert_false(wire_country_valid("XX"));
    assert_false(wire_country_valid("fr"));
    assert_false(wire_country_valid("Fr"));
    assert_false(wire_country_valid(""));
    assert_false(wire_country_valid("F"));
    assert_false(wire_country_valid("FRA"));
    assert_false(wire_country_valid("EU")); // reserved, not assigned
    assert_false(wire_country_valid("UK")); // reserved, not assigned
    assert_false(wire_country_valid("XK")); // user-assigned
    assert_false(wire_country_valid("AA"));
    assert_false(wire_country_valid("ZZ"));
    // The table: 249 codes, strictly ascending (binary search needs it),
    // each two upper-case letters, each found by lookup.
    for (uint32_t i = 0; i < WIRE_COUNTRY_COUNT; i++) {
        const char *code = wire_country_codes[i];
        assert_int_equal(strlen(code), 2);
        assert_true(code[0] >= 'A' && code[0] <= 'Z');
        assert_true(code[1] >= 'A' && code[1] <= 'Z');
        assert_true(wire_country_valid(code));
        if (i > 0) {
            assert_true(strcmp(wire_country_codes[i - 1], code) < 0);
        }
    }
    // Every other pair of letters is refused: exactly 249 valid codes.
    uint32_t valid = 0;
    for (int a = 'A'; a <= 'Z'; a++) {
        for (int b = 'A'; b <= 'Z'; b++) {
            char code[3] = {(char) a, (char) b, '\0'};
            valid += wire_country_valid(code) ? 1u : 0u;
        }
    }
    assert_int_equal(valid, WIRE_COUNTRY_COUNT);
    assert_true(wire_jurisdiction_valid((const uint8_t *) "EU", 2));
    assert_true(wire_jurisdiction_valid((const uint8_t *) "FR", 2));
    assert_false(wire_jurisdiction_valid((const uint8_t *) "XX", 2));
}

static void test_certification_names(void **state)
{
    (void) state;
    static const struct {
        uint32_t bit;
        const char *name;
    } names[] = {
        {WIRE_CERTIFICATION_SECNUMCLOUD, "SecNumCloud"},
        {WIRE_CERTIFICATION_C5, "C5"},
        {WIRE_CERTIFICATION_HDS, "HDS"},
        {WIRE_CERTIFICATION_ISO27001, "ISO27001"},
        {WIRE_CERTIFICATION_EUCS_BASIC, "EUCS-basic"},
        {WIRE_CERTIFICATION_EUCS_SUBSTANTIAL, "EUCS-substantial"},
        {WIRE_CERTIFICATION_EUCS_HIGH, "EUCS-high"},
    };
    assert_int_equal(MESH_ARRAY_COUNT(names), WIRE_CERTIFICATION_COUNT);
    uint32_t all = 0;
    for (uint32_t i = 0; i < MESH_ARRAY_COUNT(names); i++) {
        assert_string_equal(wire_certification_name(names[i].bit), names[i].name);
        uint32_t bit = 0;
        assert_int_equal(wire_certification_parse(names[i].name, &bit), MESH_OK);
        assert_int_equal(bit, names[i].bit);
        all |= names[i].bit;
    }
    assert_int_equal(all, WIRE_CERTIFICATION_ALL);
    assert_null(wire_certification_name(0));
    assert_null(wire_certification_name(3));
    assert_null(wire_certification_name(1u << 7));
    assert_null(wire_certification_name(1u << 31));
    assert_null(wire_certification_name(WIRE_CERTIFICATION_ALL));

    static const struct {
        const char *name;
        uint32_t bit;
    } spellings[] = {
        {"secnumcloud", WIRE_CERTIFICATION_SECNUMCLOUD},
        {"SECNUMCLOUD", WIRE_CERTIFICATION_SECNUMCLOUD},
        {"c5", WIRE_CERTIFICATION_C5},
        {"hds", WIRE_CERTIFICATION_HDS},
        {"iso27001", WIRE_CERTIFICATION_ISO27001},
        {"ISO-27001", WIRE_CERTIFICATION_ISO27001},
        {"iso-27001", WIRE_CERTIFICATION_ISO27001},
        {"ISO 27001", WIRE_CERTIFICATION_ISO27001},
        {"Iso 27001", WIRE_CERTIFICATION_ISO27001},
        {"eucs-HIGH", WIRE_CERTIFICATION_EUCS_HIGH},
        {"EUCS-Substantial", WIRE_CERTIFICATION_EUCS_SUBSTANTIAL},
        {"eucs-basic", WIRE_CERTIFICATION_EUCS_BASIC},
    };
    for (uint32_t i = 0; i < MESH_ARRAY_COUNT(spellings); i++) {
        uint32_t bit = 0;
        assert_int_equal(wire_certification_parse(spellings[i].name, &bit), MESH_OK);
        assert_int_equal(bit, spellings[i].bit);
    }
    static const char *const unknown[] = {
        "",  "ISO27002", "ISO  27001",   "ISO_27001", "EUCS",  "EUCS-",
        "C", "C55",      "SecNumCloud ", " HDS",      "HDS\n", "EUCS high",
    };
    for (uint32_t i = 0; i < MESH_ARRAY_COUNT(unknown); i++) {
        uint32_t bit = 0xdeadbeef;
        assert_int_equal(wire_certification_parse(unknown[i], &bit), MESH_EINVAL);
        assert_int_equal(bit, 0xdeadbeef);
    }
}

static void test_reason_names(void **state)
{
    (void) state;
    static const char *const expected[WIRE_REASON_COUNT] = {
        "none",    "too_large",    "truncated",     "type",          "not_canonical", "length",
        "version", "unknown_type", "missing_field", "unknown_field", "range",         "trailing",
    };
    for (uint32_t i = 0; i < WIRE_REASON_COUNT; i++) {
        assert_string_equal(wire_reason_name((wire_reason) i), expected[i]);
        for (uint32_t j = 0; j < i; j++) {
            assert_true(
                strcmp(wire_reason_name((wire_reason) i), wire_reason_name((wire_reason) j)) != 0);
        }
    }
    assert_non_null(wire_reason_name((wire_reason) WIRE_REASON_COUNT));
    assert_non_null(wire_reason_name((wire_reason) 1000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_samples),
        cmocka_unit_test(test_round_trip_envelope_types_and_bodies),
        cmocka_unit_test(test_round_trip_advert_shapes),
        cmocka_unit_test(test_round_trip_cert_shapes),
        cmocka_unit_test(test_round_trip_revocation_shapes),
        cmocka_unit_test(test_canonical_bytes_reencode_identically),
        cmocka_unit_test(test_packer_integers_minimal),
        cmocka_unit_test(test_packer_headers_minimal),
        cmocka_unit_test(test_reader_integer_forms),
        cmocka_unit_test(test_reader_length_forms),
        cmocka_unit_test(test_bad_structs_refused_both_ways),
        cmocka_unit_test(test_encoder_refuses_unrepresentable),
        cmocka_unit_test(test_encoder_full_buffer),
        cmocka_unit_test(test_truncated_at_every_prefix),
        cmocka_unit_test(test_trailing_and_empty),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_msgpack_c_bomb),
        cmocka_unit_test(test_spliced_fields),
        cmocka_unit_test(test_strings_over_limit),
        cmocka_unit_test(test_map_structure),
        cmocka_unit_test(test_envelope_shapes),
        cmocka_unit_test(test_decode_leaves_output_on_late_failure),
        cmocka_unit_test(test_differential_msgpack_c),
        cmocka_unit_test(test_countries),
        cmocka_unit_test(test_certification_names),
        cmocka_unit_test(test_reason_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
