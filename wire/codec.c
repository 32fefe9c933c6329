/*
 * wire/codec.c: the envelope and the three record bodies (advert,
 * certificate, revocation), decoded with the bounded reader and encoded
 * with msgpack-c's packer; the shared body-map steps that gossip.c also
 * uses for the gossip bodies.
 *
 * Decoding is schema-driven and single-pass: each decoder reads exactly the
 * shape its type documents in wire.h, validates each field as soon as it
 * has it (so that an error points at the field), and decodes into a local
 * struct that reaches the caller only on success. A body is a map with
 * small unsigned keys: keys must be strictly ascending (NOT_CANONICAL
 * otherwise, which also catches duplicates), each key must be one the
 * schema has (UNKNOWN_FIELD), and all of them must be present
 * (MISSING_FIELD, reported at the end of the map because only then is a
 * key known to be absent rather than out of order). Rules that tie two
 * fields together (valid_from < valid_until) run after the map.
 *
 * Encoding validates the whole struct with the decoder's own rules
 * (validate.c) before writing a byte, then writes the schema straight
 * through the sticky writer. Because both sides share the rules and the
 * reader refuses every non-minimal form the packer never produces, a
 * decoded message re-encodes to the same bytes; the fuzz targets hold the
 * code to that. In MESH_DEBUG builds every encode decodes its own output
 * as a paired assertion.
 *
 * Bounds: frames are capped at WIRE_FRAME_SIZE_MAX and bodies at
 * WIRE_BODY_SIZE_MAX before any parsing; the largest struct here (an
 * advert, about 2 KiB) lives on the stack for the duration of one call.
 */
#include <string.h>

#include "wire/wire_int.h"

enum {
    ENVELOPE_FIELD_COUNT = 5,
    RESOURCE_FIELD_COUNT = 6,
};

enum advert_key {
    ADVERT_KEY_NODE_ID = 0,
    ADVERT_KEY_SEQUENCE = 1,
    ADVERT_KEY_TIMESTAMP = 2,
    ADVERT_KEY_STATUS = 3,
    ADVERT_KEY_CARBON = 4,
    ADVERT_KEY_RESOURCES = 5,
    ADVERT_KEY_ENDPOINT = 6,
    ADVERT_KEY_API_ENDPOINT = 7,
    ADVERT_KEY_COUNT = 8,
};

enum cert_key {
    CERT_KEY_PUBLIC_KEY = 0,
    CERT_KEY_NAME = 1,
    CERT_KEY_OPERATOR = 2,
    CERT_KEY_COUNTRY = 3,
    CERT_KEY_JURISDICTIONS = 4,
    CERT_KEY_CERTIFICATIONS = 5,
    CERT_KEY_VALID_FROM = 6,
    CERT_KEY_VALID_UNTIL = 7,
    CERT_KEY_SERIAL = 8,
    CERT_KEY_COUNT = 9,
};

enum revocation_key {
    REVOCATION_KEY_PUBLIC_KEY = 0,
    REVOCATION_KEY_REVOKED_AT = 1,
    REVOCATION_KEY_REASON = 2,
    REVOCATION_KEY_COUNT = 3,
};

_Static_assert(CERT_KEY_COUNT <= WIRE_MAP_COUNT_MAX, "every body map fits the map limit");
_Static_assert(CERT_KEY_COUNT < 32, "seen-key masks fit a uint32_t");

/* Shared decoding steps (declared in wire_int.h; gossip.c uses them too). */

static mesh_err decode_fail(wire_reader *reader, wire_reason reason, uint32_t offset)
{
    return wire_reader_fail(reader, reason, offset);
}

// A bin of exactly size bytes, copied to out. Any other size is LENGTH:
// the declared length does not match the schema's.
mesh_err wire_decode_bin_fixed(wire_reader *reader, uint8_t *out, uint32_t size)
{
    MESH_ASSERT(out != NULL);
    MESH_ASSERT(size > 0);
    uint32_t start = reader->offset;
    const uint8_t *bytes;
    uint32_t bytes_size;
    mesh_err err = wire_read_bin(reader, size, &bytes, &bytes_size);
    if (err != MESH_OK) {
        return err;
    }
    if (bytes_size != size) {
        reader->offset = start;
        return decode_fail(reader, WIRE_REASON_LENGTH, start);
    }
    memcpy(out, bytes, size);
    return MESH_OK;
}

typedef bool (*text_rule)(const uint8_t *text, uint32_t size);

// A str of at most size_max bytes that passes rule, copied NUL-terminated
// into out (out_size > size_max). An embedded NUL is refused first: it
// would silently cut the string short in every C consumer.
static mesh_err
decode_str(wire_reader *reader, uint32_t size_max, text_rule rule, char *out, uint32_t out_size)
{
    MESH_ASSERT(rule != NULL);
    MESH_ASSERT(out_size > size_max);
    uint32_t start = reader->offset;
    const uint8_t *bytes;
    uint32_t size;
    mesh_err err = wire_read_str(reader, size_max, &bytes, &size);
    if (err != MESH_OK) {
        return err;
    }
    if (memchr(bytes, 0, size) != NULL || !rule(bytes, size)) {
        reader->offset = start;
        return decode_fail(reader, WIRE_REASON_RANGE, start);
    }
    memcpy(out, bytes, size);
    out[size] = '\0';
    return MESH_OK;
}

static bool rule_any(const uint8_t *text, uint32_t size)
{
    (void) text;
    (void) size;
    return true;
}

static bool rule_api_endpoint(const uint8_t *text, uint32_t size)
{
    return size == 0 || wire_endpoint_valid(text, size);
}

mesh_err wire_map_begin(wire_reader *reader, uint32_t key_count, wire_body_map *map)
{
    MESH_ASSERT(key_count > 0 && key_count < 32);
    MESH_ASSERT(map != NULL);
    uint32_t count;
    mesh_err err = wire_read_map(reader, WIRE_MAP_COUNT_MAX, &count);
    if (err != MESH_OK) {
        return err;
    }
    map->count = count;
    map->key_count = key_count;
    map->seen_mask = 0;
    map->key_previous = -1;
    return MESH_OK;
}

mesh_err wire_map_next_key(wire_reader *reader, wire_body_map *map, uint32_t *key_out)
{
    MESH_ASSERT(map != NULL);
    MESH_ASSERT(key_out != NULL);
    uint32_t start = reader->offset;
    wire_int key;
    mesh_err err = wire_read_int(reader, &key);
    if (err != MESH_OK) {
        return err;
    }
    if (key.negative) {
        return decode_fail(reader, WIRE_REASON_UNKNOWN_FIELD, start);
    }
    // Order first: a repeated or descending key is a non-canonical map
    // whether or not the key is known.
    if (map->key_previous >= 0 && key.value <= (uint64_t) map->key_previous) {
        return decode_fail(reader, WIRE_REASON_NOT_CANONICAL, start);
    }
    if (key.value >= map->key_count) {
        return decode_fail(reader, WIRE_REASON_UNKNOWN_FIELD, start);
    }
    map->key_previous = (int64_t) key.value;
    map->seen_mask |= 1u << key.value;
    *key_out = (uint32_t) key.value;
    return MESH_OK;
}

bool wire_map_seen(const wire_body_map *map, uint32_t key)
{
    MESH_ASSERT(map != NULL);
    MESH_ASSERT(key < map->key_count);
    return (map->seen_mask & (1u << key)) != 0;
}

mesh_err wire_map_end(wire_reader *reader, const wire_body_map *map)
{
    MESH_ASSERT(map != NULL);
    uint32_t all = (1u << map->key_count) - 1u;
    MESH_ASSERT((map->seen_mask & ~all) == 0);
    if (map->seen_mask != all) {
        return decode_fail(reader, WIRE_REASON_MISSING_FIELD, reader->offset);
    }
    return MESH_OK;
}

mesh_err wire_decode_map(wire_reader *reader,
                         uint32_t key_count,
                         wire_field_decoder decode_field,
                         void *value_out)
{
    MESH_ASSERT(decode_field != NULL);
    MESH_ASSERT(value_out != NULL);
    wire_body_map map;
    mesh_err err = wire_map_begin(reader, key_count, &map);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(map.count <= WIRE_MAP_COUNT_MAX);
    for (uint32_t i = 0; i < map.count; i++) {
        uint32_t key = 0;
        err = wire_map_next_key(reader, &map, &key);
        if (err != MESH_OK) {
            return err;
        }
        err = decode_field(reader, &map, key, value_out);
        if (err != MESH_OK) {
            return err;
        }
    }
    return wire_map_end(reader, &map);
}

mesh_err wire_decode_top(const uint8_t *bytes,
                         uint32_t size,
                         uint32_t size_max,
                         wire_top_decoder decoder,
                         void *value_out,
                         wire_error *error_out)
{
    MESH_ASSERT(bytes != NULL || size == 0);
    MESH_ASSERT(decoder != NULL);
    wire_reader reader;
    wire_reader_init(&reader, bytes, size);
    mesh_err err;
    // The cap comes before anything else looks at the bytes.
    if (size > size_max) {
        err = decode_fail(&reader, WIRE_REASON_TOO_LARGE, size_max);
    } else {
        err = decoder(&reader, value_out);
        if (err == MESH_OK) {
            err = wire_read_end(&reader);
        }
    }
    if (err != MESH_OK) {
        MESH_ASSERT(err == MESH_EPROTO);
        MESH_ASSERT(reader.reason != WIRE_REASON_NONE);
        wire_reader_error(&reader, error_out);
        return MESH_EPROTO;
    }
    MESH_ASSERT(reader.reason == WIRE_REASON_NONE);
    wire_reader_error(&reader, error_out);
    return MESH_OK;
}

/* The envelope. */

static mesh_err envelope_decode_fields(wire_reader *reader, void *value_out)
{
    wire_envelope *envelope = value_out;
    MESH_ASSERT(envelope != NULL);
    uint32_t start = reader->offset;
    uint32_t count;
    mesh_err err = wire_read_array(reader, ENVELOPE_FIELD_COUNT, &count);
    if (err != MESH_OK) {
        return err;
    }
    if (count != ENVELOPE_FIELD_COUNT) {
        return decode_fail(reader, WIRE_REASON_MISSING_FIELD, start);
    }

    // The version comes first so that a future version can change
    // everything after it and still be told apart.
    uint32_t field = reader->offset;
    wire_int number;
    err = wire_read_int(reader, &number);
    if (err != MESH_OK) {
        return err;
    }
    if (number.negative || number.value != WIRE_VERSION) {
        return decode_fail(reader, WIRE_REASON_VERSION, field);
    }
    envelope->version = WIRE_VERSION;

    field = reader->offset;
    err = wire_read_int(reader, &number);
    if (err != MESH_OK) {
        return err;
    }
    // Reserved numbers are as unknown as numbers past WIRE_TYPE_MAX: only
    // a type with an authentication size has a meaning in this version.
    if (number.negative || number.value > WIRE_TYPE_MAX ||
        wire_type_auth_size((wire_type) number.value) == 0) {
        return decode_fail(reader, WIRE_REASON_UNKNOWN_TYPE, field);
    }
    envelope->type = (wire_type) number.value;

    err = wire_decode_bin_fixed(reader, envelope->signer.bytes, MESH_NODE_ID_SIZE);
    if (err != MESH_OK) {
        return err;
    }

    field = reader->offset;
    const uint8_t *body;
    uint32_t body_size;
    err = wire_read_bin(reader, WIRE_BODY_SIZE_MAX, &body, &body_size);
    if (err != MESH_OK) {
        return err;
    }
    if (body_size == 0) {
        return decode_fail(reader, WIRE_REASON_RANGE, field);
    }
    envelope->body = body;
    envelope->body_size = body_size;

    // The last field's size follows from the type: bin(64) for a signature,
    // bin(16) for a MAC. The rest of a MAC'd envelope's signature array
    // stays zero (the caller's struct was zeroed), as wire.h promises.
    uint32_t auth_size = wire_type_auth_size(envelope->type);
    MESH_ASSERT(auth_size == WIRE_SIGNATURE_SIZE || auth_size == WIRE_MAC_SIZE);
    return wire_decode_bin_fixed(reader, envelope->signature, auth_size);
}

static bool envelope_mac_tail_is_zero(const wire_envelope *envelope)
{
    for (uint32_t i = WIRE_MAC_SIZE; i < WIRE_SIGNATURE_SIZE; i++) {
        if (envelope->signature[i] != 0) {
            return false;
        }
    }
    return true;
}

mesh_err wire_envelope_decode(const uint8_t *frame,
                              uint32_t frame_size,
                              wire_envelope *envelope_out,
                              wire_error *error_out)
{
    MESH_ASSERT(frame != NULL || frame_size == 0);
    MESH_ASSERT(envelope_out != NULL);
    wire_envelope envelope;
    memset(&envelope, 0, sizeof(envelope));
    mesh_err err = wire_decode_top(frame, frame_size, WIRE_FRAME_SIZE_MAX, envelope_decode_fields,
                                   &envelope, error_out);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(wire_envelope_valid(&envelope));
    MESH_ASSERT(!wire_type_is_mac(envelope.type) || envelope_mac_tail_is_zero(&envelope));
    *envelope_out = envelope;
    return MESH_OK;
}

static void envelope_write(wire_writer *writer, const wire_envelope *envelope)
{
    wire_write_array(writer, ENVELOPE_FIELD_COUNT);
    wire_write_uint(writer, envelope->version);
    wire_write_uint(writer, (uint64_t) envelope->type);
    wire_write_bin(writer, envelope->signer.bytes, MESH_NODE_ID_SIZE);
    wire_write_bin(writer, envelope->body, envelope->body_size);
    // Only the MAC's bytes for a MAC'd type; whatever the caller left in
    // the rest of the array is not sent, so that it cannot leak.
    wire_write_bin(writer, envelope->signature, wire_type_auth_size(envelope->type));
}

mesh_err wire_envelope_encode(const wire_envelope *envelope,
                              uint8_t *buf,
                              uint32_t buf_size,
                              uint32_t *size_out)
{
    MESH_ASSERT(envelope != NULL);
    MESH_ASSERT(buf != NULL || buf_size == 0);
    MESH_ASSERT(size_out != NULL);
    if (!wire_envelope_valid(envelope)) {
        return MESH_EINVAL;
    }
    wire_writer writer;
    wire_writer_init(&writer, buf, buf_size);
    envelope_write(&writer, envelope);
    uint32_t size;
    mesh_err err = wire_writer_finish(&writer, &size);
    if (err != MESH_OK) {
        return err;
    }
    // WIRE_ENVELOPE_OVERHEAD_MAX is what makes this hold for every valid
    // body size.
    MESH_ASSERT(size <= WIRE_FRAME_SIZE_MAX);
    MESH_ASSERT(size <= envelope->body_size + WIRE_ENVELOPE_OVERHEAD_MAX);
    WIRE_DEBUG_REDECODE(wire_envelope_decode, wire_envelope, buf, size);
    *size_out = size;
    return MESH_OK;
}

/* The advert. */

static mesh_err resource_decode(wire_reader *reader, wire_resource *resource)
{
    MESH_ASSERT(resource != NULL);
    uint32_t start = reader->offset;
    uint32_t count;
    mesh_err err = wire_read_array(reader, RESOURCE_FIELD_COUNT, &count);
    if (err != MESH_OK) {
        return err;
    }
    if (count != RESOURCE_FIELD_COUNT) {
        return decode_fail(reader, WIRE_REASON_MISSING_FIELD, start);
    }
    uint64_t value;
    err = wire_read_uint(reader, WIRE_RESOURCE_CLASS_MAX, &value);
    if (err != MESH_OK) {
        return err;
    }
    resource->resource_class = (uint32_t) value;
    // The model's charset depends on the class; the whole-resource rule
    // below checks it, so here only NULs and the size are refused.
    err =
        decode_str(reader, WIRE_MODEL_SIZE_MAX, rule_any, resource->model, sizeof(resource->model));
    if (err != MESH_OK) {
        return err;
    }
    uint64_t *amounts[3] = {&resource->total, &resource->free, &resource->lendable};
    for (uint32_t i = 0; i < 3; i++) {
        err = wire_read_uint(reader, WIRE_AMOUNT_MAX, amounts[i]);
        if (err != MESH_OK) {
            return err;
        }
    }
    err = wire_read_uint(reader, WIRE_PRICE_MAX, &resource->price_microeur_per_unit_hour);
    if (err != MESH_OK) {
        return err;
    }
    if (!wire_resource_valid(resource)) {
        return decode_fail(reader, WIRE_REASON_RANGE, start);
    }
    return MESH_OK;
}

static mesh_err advert_decode_resources(wire_reader *reader, wire_advert *advert)
{
    uint32_t count;
    mesh_err err = wire_read_array(reader, WIRE_RESOURCES_MAX, &count);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(count <= WIRE_RESOURCES_MAX);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t start = reader->offset;
        err = resource_decode(reader, &advert->resources[i]);
        if (err != MESH_OK) {
            return err;
        }
        if (i > 0 && wire_resource_compare(&advert->resources[i - 1], &advert->resources[i]) >= 0) {
            return decode_fail(reader, WIRE_REASON_NOT_CANONICAL, start);
        }
    }
    advert->resource_count = count;
    return MESH_OK;
}

static mesh_err advert_decode_field(wire_reader *reader, uint32_t key, wire_advert *advert)
{
    uint32_t start = reader->offset;
    uint64_t value = 0;
    mesh_err err;
    switch ((enum advert_key) key) {
    case ADVERT_KEY_NODE_ID:
        return wire_decode_bin_fixed(reader, advert->node_id.bytes, MESH_NODE_ID_SIZE);
    case ADVERT_KEY_SEQUENCE:
        err = wire_read_uint(reader, UINT64_MAX, &advert->sequence);
        if (err == MESH_OK && advert->sequence < 1) {
            return decode_fail(reader, WIRE_REASON_RANGE, start);
        }
        return err;
    case ADVERT_KEY_TIMESTAMP:
        err = wire_read_int64(reader, &advert->timestamp_ns);
        if (err == MESH_OK && advert->timestamp_ns <= 0) {
            return decode_fail(reader, WIRE_REASON_RANGE, start);
        }
        return err;
    case ADVERT_KEY_STATUS:
        err = wire_read_uint(reader, WIRE_ADVERT_LEAVING, &value);
        advert->status = (uint32_t) value;
        return err;
    case ADVERT_KEY_CARBON:
        err = wire_read_uint(reader, WIRE_CARBON_MAX, &value);
        advert->carbon_gco2_per_kwh = (uint32_t) value;
        return err;
    case ADVERT_KEY_RESOURCES:
        return advert_decode_resources(reader, advert);
    case ADVERT_KEY_ENDPOINT:
        return decode_str(reader, WIRE_ENDPOINT_SIZE_MAX, wire_endpoint_valid, advert->endpoint,
                          sizeof(advert->endpoint));
    case ADVERT_KEY_API_ENDPOINT:
        return decode_str(reader, WIRE_ENDPOINT_SIZE_MAX, rule_api_endpoint, advert->api_endpoint,
                          sizeof(advert->api_endpoint));
    case ADVERT_KEY_COUNT:
        break;
    }
    MESH_ASSERT(false && "wire_map_next_key returns known keys only");
    return MESH_EINTERNAL;
}

static mesh_err advert_decode_fields(wire_reader *reader, void *value_out)
{
    wire_advert *advert = value_out;
    MESH_ASSERT(advert != NULL);
    wire_body_map map;
    mesh_err err = wire_map_begin(reader, ADVERT_KEY_COUNT, &map);
    if (err != MESH_OK) {
        return err;
    }
    for (uint32_t i = 0; i < map.count; i++) {
        uint32_t key = 0;
        err = wire_map_next_key(reader, &map, &key);
        if (err != MESH_OK) {
            return err;
        }
        err = advert_decode_field(reader, key, advert);
        if (err != MESH_OK) {
            return err;
        }
    }
    return wire_map_end(reader, &map);
}

mesh_err wire_advert_decode(const uint8_t *body,
                            uint32_t body_size,
                            wire_advert *advert_out,
                            wire_error *error_out)
{
    MESH_ASSERT(body != NULL || body_size == 0);
    MESH_ASSERT(advert_out != NULL);
    wire_advert advert;
    memset(&advert, 0, sizeof(advert));
    mesh_err err = wire_decode_top(body, body_size, WIRE_BODY_SIZE_MAX, advert_decode_fields,
                                   &advert, error_out);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(wire_advert_valid(&advert));
    *advert_out = advert;
    return MESH_OK;
}

static void advert_write(wire_writer *writer, const wire_advert *advert)
{
    wire_write_map(writer, ADVERT_KEY_COUNT);
    wire_write_uint(writer, ADVERT_KEY_NODE_ID);
    wire_write_bin(writer, advert->node_id.bytes, MESH_NODE_ID_SIZE);
    wire_write_uint(writer, ADVERT_KEY_SEQUENCE);
    wire_write_uint(writer, advert->sequence);
    wire_write_uint(writer, ADVERT_KEY_TIMESTAMP);
    wire_write_int64(writer, advert->timestamp_ns);
    wire_write_uint(writer, ADVERT_KEY_STATUS);
    wire_write_uint(writer, advert->status);
    wire_write_uint(writer, ADVERT_KEY_CARBON);
    wire_write_uint(writer, advert->carbon_gco2_per_kwh);
    wire_write_uint(writer, ADVERT_KEY_RESOURCES);
    wire_write_array(writer, advert->resource_count);
    for (uint32_t i = 0; i < advert->resource_count; i++) {
        const wire_resource *resource = &advert->resources[i];
        wire_write_array(writer, RESOURCE_FIELD_COUNT);
        wire_write_uint(writer, resource->resource_class);
        wire_write_str(writer, resource->model,
                       wire_string_length(resource->model, sizeof(resource->model)));
        wire_write_uint(writer, resource->total);
        wire_write_uint(writer, resource->free);
        wire_write_uint(writer, resource->lendable);
        wire_write_uint(writer, resource->price_microeur_per_unit_hour);
    }
    wire_write_uint(writer, ADVERT_KEY_ENDPOINT);
    wire_write_str(writer, advert->endpoint,
                   wire_string_length(advert->endpoint, sizeof(advert->endpoint)));
    wire_write_uint(writer, ADVERT_KEY_API_ENDPOINT);
    wire_write_str(writer, advert->api_endpoint,
                   wire_string_length(advert->api_endpoint, sizeof(advert->api_endpoint)));
}

mesh_err
wire_advert_encode(const wire_advert *advert, uint8_t *buf, uint32_t buf_size, uint32_t *size_out)
{
    MESH_ASSERT(advert != NULL);
    MESH_ASSERT(buf != NULL || buf_size == 0);
    MESH_ASSERT(size_out != NULL);
    if (!wire_advert_valid(advert)) {
        return MESH_EINVAL;
    }
    wire_writer writer;
    wire_writer_init(&writer, buf, buf_size);
    advert_write(&writer, advert);
    uint32_t size;
    mesh_err err = wire_writer_finish(&writer, &size);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(size <= WIRE_BODY_SIZE_MAX);
    WIRE_DEBUG_REDECODE(wire_advert_decode, wire_advert, buf, size);
    *size_out = size;
    return MESH_OK;
}

/* The certificate. */

static mesh_err cert_decode_jurisdictions(wire_reader *reader, wire_cert *cert)
{
    uint32_t count;
    mesh_err err = wire_read_array(reader, WIRE_JURISDICTIONS_MAX, &count);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(count <= WIRE_JURISDICTIONS_MAX);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t start = reader->offset;
        err = decode_str(reader, 2, wire_jurisdiction_valid, cert->jurisdictions[i],
                         sizeof(cert->jurisdictions[i]));
        if (err != MESH_OK) {
            return err;
        }
        // A set: strictly ascending (every code is exactly two bytes here).
        if (i > 0 && memcmp(cert->jurisdictions[i - 1], cert->jurisdictions[i], 2) >= 0) {
            return decode_fail(reader, WIRE_REASON_NOT_CANONICAL, start);
        }
    }
    cert->jurisdiction_count = count;
    return MESH_OK;
}

static bool rule_name(const uint8_t *text, uint32_t size)
{
    return wire_name_valid(text, size);
}

static mesh_err
cert_decode_field(wire_reader *reader, uint32_t key, wire_cert *cert, uint32_t *valid_until_offset)
{
    uint32_t start = reader->offset;
    uint64_t value = 0;
    mesh_err err;
    switch ((enum cert_key) key) {
    case CERT_KEY_PUBLIC_KEY:
        return wire_decode_bin_fixed(reader, cert->public_key, WIRE_PUBLIC_KEY_SIZE);
    case CERT_KEY_NAME:
        return decode_str(reader, WIRE_NAME_SIZE_MAX, rule_name, cert->name, sizeof(cert->name));
    case CERT_KEY_OPERATOR:
        return decode_str(reader, WIRE_OPERATOR_SIZE_MAX, wire_text_valid, cert->operator_name,
                          sizeof(cert->operator_name));
    case CERT_KEY_COUNTRY:
        return decode_str(reader, 2, wire_country_bytes_valid, cert->country,
                          sizeof(cert->country));
    case CERT_KEY_JURISDICTIONS:
        return cert_decode_jurisdictions(reader, cert);
    case CERT_KEY_CERTIFICATIONS:
        err = wire_read_uint(reader, UINT32_MAX, &value);
        if (err == MESH_OK && (value & ~(uint64_t) WIRE_CERTIFICATION_ALL) != 0) {
            return decode_fail(reader, WIRE_REASON_RANGE, start);
        }
        cert->certifications = (uint32_t) value;
        return err;
    case CERT_KEY_VALID_FROM:
        return wire_read_int64(reader, &cert->valid_from_ns);
    case CERT_KEY_VALID_UNTIL:
        *valid_until_offset = start;
        return wire_read_int64(reader, &cert->valid_until_ns);
    case CERT_KEY_SERIAL:
        return wire_read_uint(reader, UINT64_MAX, &cert->serial);
    case CERT_KEY_COUNT:
        break;
    }
    MESH_ASSERT(false && "wire_map_next_key returns known keys only");
    return MESH_EINTERNAL;
}

static mesh_err cert_decode_fields(wire_reader *reader, void *value_out)
{
    wire_cert *cert = value_out;
    MESH_ASSERT(cert != NULL);
    wire_body_map map;
    mesh_err err = wire_map_begin(reader, CERT_KEY_COUNT, &map);
    if (err != MESH_OK) {
        return err;
    }
    uint32_t valid_until_offset = 0;
    for (uint32_t i = 0; i < map.count; i++) {
        uint32_t key = 0;
        err = wire_map_next_key(reader, &map, &key);
        if (err != MESH_OK) {
            return err;
        }
        err = cert_decode_field(reader, key, cert, &valid_until_offset);
        if (err != MESH_OK) {
            return err;
        }
    }
    err = wire_map_end(reader, &map);
    if (err != MESH_OK) {
        return err;
    }
    // The one rule across fields; both are known to be present now.
    if (cert->valid_from_ns >= cert->valid_until_ns) {
        return decode_fail(reader, WIRE_REASON_RANGE, valid_until_offset);
    }
    return MESH_OK;
}

mesh_err wire_cert_decode(const uint8_t *body,
                          uint32_t body_size,
                          wire_cert *cert_out,
                          wire_error *error_out)
{
    MESH_ASSERT(body != NULL || body_size == 0);
    MESH_ASSERT(cert_out != NULL);
    wire_cert cert;
    memset(&cert, 0, sizeof(cert));
    mesh_err err =
        wire_decode_top(body, body_size, WIRE_BODY_SIZE_MAX, cert_decode_fields, &cert, error_out);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(wire_cert_valid(&cert));
    *cert_out = cert;
    return MESH_OK;
}

static void cert_write(wire_writer *writer, const wire_cert *cert)
{
    wire_write_map(writer, CERT_KEY_COUNT);
    wire_write_uint(writer, CERT_KEY_PUBLIC_KEY);
    wire_write_bin(writer, cert->public_key, WIRE_PUBLIC_KEY_SIZE);
    wire_write_uint(writer, CERT_KEY_NAME);
    wire_write_str(writer, cert->name, wire_string_length(cert->name, sizeof(cert->name)));
    wire_write_uint(writer, CERT_KEY_OPERATOR);
    wire_write_str(writer, cert->operator_name,
                   wire_string_length(cert->operator_name, sizeof(cert->operator_name)));
    wire_write_uint(writer, CERT_KEY_COUNTRY);
    wire_write_str(writer, cert->country, 2);
    wire_write_uint(writer, CERT_KEY_JURISDICTIONS);
    wire_write_array(writer, cert->jurisdiction_count);
    for (uint32_t i = 0; i < cert->jurisdiction_count; i++) {
        wire_write_str(writer, cert->jurisdictions[i], 2);
    }
    wire_write_uint(writer, CERT_KEY_CERTIFICATIONS);
    wire_write_uint(writer, cert->certifications);
    wire_write_uint(writer, CERT_KEY_VALID_FROM);
    wire_write_int64(writer, cert->valid_from_ns);
    wire_write_uint(writer, CERT_KEY_VALID_UNTIL);
    wire_write_int64(writer, cert->valid_until_ns);
    wire_write_uint(writer, CERT_KEY_SERIAL);
    wire_write_uint(writer, cert->serial);
}

mesh_err
wire_cert_encode(const wire_cert *cert, uint8_t *buf, uint32_t buf_size, uint32_t *size_out)
{
    MESH_ASSERT(cert != NULL);
    MESH_ASSERT(buf != NULL || buf_size == 0);
    MESH_ASSERT(size_out != NULL);
    if (!wire_cert_valid(cert)) {
        return MESH_EINVAL;
    }
    wire_writer writer;
    wire_writer_init(&writer, buf, buf_size);
    cert_write(&writer, cert);
    uint32_t size;
    mesh_err err = wire_writer_finish(&writer, &size);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(size <= WIRE_BODY_SIZE_MAX);
    WIRE_DEBUG_REDECODE(wire_cert_decode, wire_cert, buf, size);
    *size_out = size;
    return MESH_OK;
}

/* The revocation. */

static mesh_err revocation_decode_fields(wire_reader *reader, void *value_out)
{
    wire_revocation *revocation = value_out;
    MESH_ASSERT(revocation != NULL);
    wire_body_map map;
    mesh_err err = wire_map_begin(reader, REVOCATION_KEY_COUNT, &map);
    if (err != MESH_OK) {
        return err;
    }
    for (uint32_t i = 0; i < map.count; i++) {
        uint32_t key = 0;
        err = wire_map_next_key(reader, &map, &key);
        if (err != MESH_OK) {
            return err;
        }
        uint32_t start = reader->offset;
        switch ((enum revocation_key) key) {
        case REVOCATION_KEY_PUBLIC_KEY:
            err = wire_decode_bin_fixed(reader, revocation->public_key, WIRE_PUBLIC_KEY_SIZE);
            break;
        case REVOCATION_KEY_REVOKED_AT:
            err = wire_read_int64(reader, &revocation->revoked_at_ns);
            if (err == MESH_OK && revocation->revoked_at_ns <= 0) {
                err = decode_fail(reader, WIRE_REASON_RANGE, start);
            }
            break;
        case REVOCATION_KEY_REASON:
            err = decode_str(reader, WIRE_REASON_TEXT_SIZE_MAX, wire_text_valid, revocation->reason,
                             sizeof(revocation->reason));
            break;
        case REVOCATION_KEY_COUNT:
            MESH_ASSERT(false && "wire_map_next_key returns known keys only");
            break;
        }
        if (err != MESH_OK) {
            return err;
        }
    }
    return wire_map_end(reader, &map);
}

mesh_err wire_revocation_decode(const uint8_t *body,
                                uint32_t body_size,
                                wire_revocation *revocation_out,
                                wire_error *error_out)
{
    MESH_ASSERT(body != NULL || body_size == 0);
    MESH_ASSERT(revocation_out != NULL);
    wire_revocation revocation;
    memset(&revocation, 0, sizeof(revocation));
    mesh_err err = wire_decode_top(body, body_size, WIRE_BODY_SIZE_MAX, revocation_decode_fields,
                                   &revocation, error_out);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(wire_revocation_valid(&revocation));
    *revocation_out = revocation;
    return MESH_OK;
}

static void revocation_write(wire_writer *writer, const wire_revocation *revocation)
{
    wire_write_map(writer, REVOCATION_KEY_COUNT);
    wire_write_uint(writer, REVOCATION_KEY_PUBLIC_KEY);
    wire_write_bin(writer, revocation->public_key, WIRE_PUBLIC_KEY_SIZE);
    wire_write_uint(writer, REVOCATION_KEY_REVOKED_AT);
    wire_write_int64(writer, revocation->revoked_at_ns);
    wire_write_uint(writer, REVOCATION_KEY_REASON);
    wire_write_str(writer, revocation->reason,
                   wire_string_length(revocation->reason, sizeof(revocation->reason)));
}

mesh_err wire_revocation_encode(const wire_revocation *revocation,
                                uint8_t *buf,
                                uint32_t buf_size,
                                uint32_t *size_out)
{
    MESH_ASSERT(revocation != NULL);
    MESH_ASSERT(buf != NULL || buf_size == 0);
    MESH_ASSERT(size_out != NULL);
    if (!wire_revocation_valid(revocation)) {
        return MESH_EINVAL;
    }
    wire_writer writer;
    wire_writer_init(&writer, buf, buf_size);
    revocation_write(&writer, revocation);
    uint32_t size;
    mesh_err err = wire_writer_finish(&writer, &size);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(size <= WIRE_BODY_SIZE_MAX);
    WIRE_DEBUG_REDECODE(wire_revocation_decode, wire_revocation, buf, size);
    *size_out = size;
    return MESH_OK;
}
