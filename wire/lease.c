/*
 * wire/lease.c: the lease bodies (types 16..20: request, offer, refuse,
 * record, end) and the lease-id peek that routes a lease frame before any
 * of this runs. docs/leases.md has the protocol; wire.h has each schema.
 *
 * Same shape as codec.c and gossip.c, with the same shared steps
 * (wire_int.h): a body is a map with small unsigned keys, strictly
 * ascending, all required; each field is validated as soon as it is read,
 * so that an error points at it; the decoder writes into a local struct
 * that reaches the caller only on success; the encoder validates the whole
 * struct with the very rules the decoder applies before it writes a byte.
 * Decoded bodies therefore re-encode to the same bytes (the signatures are
 * over those bytes), and fuzz_wire_lease.c holds the code to that.
 *
 * Why key 0 is always the lease id: a node routes a frame to its lease, or
 * refuses it as malformed, with wire_lease_id_peek alone, before it spends
 * a signature check or a full decode. The peek reads the canonical map
 * header, key 0 and a bin(16) that is not all zero, nothing more; every
 * body the decoders accept passes it, and the full decode still follows.
 * An all-zero lease id is RANGE everywhere: it is what a zeroed struct
 * holds, never what a borrower's PRNG draws.
 *
 * The rules, and the reason each one gets:
 *   - a resource line is array(3) [class, model, amount]; fewer fields is
 *     MISSING_FIELD, more is LENGTH (as an advert's resources); a model
 *     that does not fit its class (GPU needs one, nothing else may have
 *     one), class 0 or amount 0 is RANGE at the line; lines are a set,
 *     strictly ascending by (class, model): NOT_CANONICAL otherwise, which
 *     also refuses duplicates.
 *   - countries and jurisdictions are sets of str(2): strictly ascending
 *     (NOT_CANONICAL), countries assigned ISO 3166-1 codes, jurisdictions
 *     the same or "EU" (RANGE), the validators of tables.c that the
 *     certificate uses, so that the two compare like for like.
 *   - empty resources is RANGE (as an empty pull); lists over their limit
 *     are LENGTH, refused at the header.
 *   - a signature in RECORD is bin(0) (absent) or bin(64); any other
 *     length is LENGTH, as for a fixed-size bin. At least one must be
 *     present: RANGE, reported at the borrower signature, the later of
 *     the two (key order puts it last, so the rule is checked in place).
 *   - text (a refusal's detail) is UTF-8 without control characters, the
 *     revocation reason's rule (wire_text_valid), and never holds a NUL.
 *
 * The whole-struct validators live here, static, rather than in
 * validate.c: no other file needs them, and each is the encoder's gate
 * for exactly one decoder in this file. The per-field rules they call
 * (country, jurisdiction, model, text) are the shared ones.
 *
 * Bounds: every body is capped at WIRE_BODY_SIZE_MAX before parsing, and
 * no valid lease body is longer than LEASE_BODY_SIZE_MAX (below; the
 * encoders assert it). The structs are at most about 1 KiB and live on
 * the stack for one call. Decoded ledger records point into the body and
 * are valid as long as the body is; this codec never looks inside them.
 */
#include <string.h>

#include "wire/wire_int.h"

enum request_key {
    REQUEST_KEY_LEASE_ID = 0,
    REQUEST_KEY_LENDER = 1,
    REQUEST_KEY_RESOURCES = 2,
    REQUEST_KEY_START = 3,
    REQUEST_KEY_DURATION = 4,
    REQUEST_KEY_CONSTRAINTS = 5,
    REQUEST_KEY_EXPIRES = 6,
    REQUEST_KEY_COUNT = 7,
};

enum constraints_key {
    CONSTRAINTS_KEY_COUNTRIES = 0,
    CONSTRAINTS_KEY_JURISDICTIONS = 1,
    CONSTRAINTS_KEY_CERTIFICATIONS = 2,
    CONSTRAINTS_KEY_DATA_CLASS = 3,
    CONSTRAINTS_KEY_RTT = 4,
    CONSTRAINTS_KEY_COST = 5,
    CONSTRAINTS_KEY_CARBON = 6,
    CONSTRAINTS_KEY_COUNT = 7,
};

enum offer_key {
    OFFER_KEY_LEASE_ID = 0,
    OFFER_KEY_RECORD = 1,
    OFFER_KEY_LENDER_SIGNATURE = 2,
    OFFER_KEY_EXPIRES = 3,
    OFFER_KEY_COUNT = 4,
};

enum refuse_key {
    REFUSE_KEY_LEASE_ID = 0,
    REFUSE_KEY_REASON = 1,
    REFUSE_KEY_DETAIL = 2,
    REFUSE_KEY_COUNT = 3,
};

enum record_key {
    RECORD_KEY_LEASE_ID = 0,
    RECORD_KEY_RECORD = 1,
    RECORD_KEY_LENDER_SIGNATURE = 2,
    RECORD_KEY_BORROWER_SIGNATURE = 3,
    RECORD_KEY_COUNT = 4,
};

enum end_key {
    END_KEY_LEASE_ID = 0,
    END_KEY_WHAT = 1,
    END_KEY_AT = 2,
    END_KEY_COUNT = 3,
};

enum {
    RESOURCE_FIELD_COUNT = 3,
    LEASE_KEY_LEASE_ID = 0, // every lease body's first key
};

/* The documented limit on a borrower's round-trip constraint (wire.h). */
#define LEASE_RTT_US_MAX 60000000u

/* The longest valid body of any lease type. RECORD is the largest: map
 * (1), key and bin8(16) (1 + 18), key and bin16(1024) (1 + 3 + 1024), two
 * keys and bin8(64) (2 x (1 + 2 + 64)): 1182 bytes. A REQUEST is at most
 * about 610 (8 lines of 44 bytes, 32 countries, 8 jurisdictions). */
#define LEASE_BODY_SIZE_MAX 1182u

_Static_assert(REQUEST_KEY_COUNT <= WIRE_MAP_COUNT_MAX, "every body map fits the map limit");
_Static_assert(CONSTRAINTS_KEY_COUNT <= WIRE_MAP_COUNT_MAX, "every body map fits the map limit");
_Static_assert(LEASE_BODY_SIZE_MAX <= WIRE_BODY_SIZE_MAX, "a lease body fits any envelope");
_Static_assert(WIRE_LEASE_RECORD_SIZE_MAX <= WIRE_BODY_SIZE_MAX, "a record fits a body");
_Static_assert(WIRE_LEASE_COUNTRIES_MAX < 65536u && WIRE_LEASE_RESOURCES_MAX < 16u,
               "list headers stay within array16 and fixarray");
_Static_assert(WIRE_LEASE_DURATION_NS_MAX < (uint64_t) INT64_MAX, "a duration fits realtime");

static mesh_err decode_fail(wire_reader *reader, wire_reason reason, uint32_t offset)
{
    return wire_reader_fail(reader, reason, offset);
}

/* Field rules, shared by the decoders (per field) and the encoders
 * (whole struct). */

static bool lease_id_valid(const uint8_t *lease_id)
{
    MESH_ASSERT(lease_id != NULL);
    uint8_t any = 0;
    for (uint32_t i = 0; i < WIRE_LEASE_ID_SIZE; i++) {
        any |= lease_id[i];
    }
    return any != 0;
}

static bool data_class_valid(const uint8_t *text, uint32_t size)
{
    MESH_ASSERT(text != NULL || size == 0);
    if (size > WIRE_DATA_CLASS_SIZE_MAX) {
        return false;
    }
    for (uint32_t i = 0; i < size; i++) {
        uint8_t c = text[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return false;
        }
    }
    return true;
}

// One resource line alone: class, model against class, amount.
static bool lease_resource_valid(const wire_lease_resource *resource)
{
    MESH_ASSERT(resource != NULL);
    if (resource->resource_class < WIRE_RESOURCE_VCPU ||
        resource->resource_class > WIRE_RESOURCE_CLASS_MAX) {
        return false;
    }
    uint32_t model_size = wire_string_length(resource->model, sizeof(resource->model));
    if (model_size == sizeof(resource->model)) {
        return false; // no terminating NUL
    }
    // The advert's rule: a GPU is meaningless without its model, and a
    // model on a fungible class would only split equal requests.
    if (resource->resource_class == WIRE_RESOURCE_GPU) {
        if (!wire_model_valid((const uint8_t *) resource->model, model_size)) {
            return false;
        }
    } else if (model_size != 0) {
        return false;
    }
    return resource->amount >= 1 && resource->amount <= WIRE_AMOUNT_MAX;
}

// The set order of resource lines: (class, model), models compared as
// strcmp would but bounded by their arrays.
static int lease_resource_compare(const wire_lease_resource *a, const wire_lease_resource *b)
{
    MESH_ASSERT(a != NULL);
    MESH_ASSERT(b != NULL);
    if (a->resource_class != b->resource_class) {
        return a->resource_class < b->resource_class ? -1 : 1;
    }
    uint32_t a_size = wire_string_length(a->model, sizeof(a->model));
    uint32_t b_size = wire_string_length(b->model, sizeof(b->model));
    uint32_t common = a_size < b_size ? a_size : b_size;
    int order = memcmp(a->model, b->model, common);
    if (order != 0) {
        return order < 0 ? -1 : 1;
    }
    if (a_size != b_size) {
        return a_size < b_size ? -1 : 1;
    }
    return 0;
}

typedef bool (*code_rule)(const uint8_t *text, uint32_t size);

// A set of two-letter codes in char[n][3] arrays: each passes rule (which
// demands exactly two bytes, so each array holds its NUL), strictly
// ascending.
static bool
code_set_valid(const char (*codes)[3], uint32_t count, uint32_t count_max, code_rule rule)
{
    MESH_ASSERT(codes != NULL);
    MESH_ASSERT(rule != NULL);
    if (count > count_max) {
        return false;
    }
    for (uint32_t i = 0; i < count; i++) {
        uint32_t size = wire_string_length(codes[i], sizeof(codes[i]));
        if (!rule((const uint8_t *) codes[i], size)) {
            return false;
        }
        if (i > 0 && memcmp(codes[i - 1], codes[i], 2) >= 0) {
            return false;
        }
    }
    return true;
}

static bool lease_constraints_valid(const wire_lease_constraints *constraints)
{
    MESH_ASSERT(constraints != NULL);
    if (!code_set_valid(constraints->countries, constraints->country_count,
                        WIRE_LEASE_COUNTRIES_MAX, wire_country_bytes_valid)) {
        return false;
    }
    if (!code_set_valid(constraints->jurisdictions, constraints->jurisdiction_count,
                        WIRE_JURISDICTIONS_MAX, wire_jurisdiction_valid)) {
        return false;
    }
    if ((constraints->certifications & ~WIRE_CERTIFICATION_ALL) != 0) {
        return false;
    }
    uint32_t class_size =
        wire_string_length(constraints->data_class, sizeof(constraints->data_class));
    if (class_size == sizeof(constraints->data_class) ||
        !data_class_valid((const uint8_t *) constraints->data_class, class_size)) {
        return false;
    }
    if (constraints->rtt_us_max > LEASE_RTT_US_MAX) {
        return false;
    }
    if (constraints->cost_microeur_per_hour_max > WIRE_PRICE_MAX) {
        return false;
    }
    return constraints->carbon_gco2_per_kwh_max <= WIRE_CARBON_MAX;
}

static bool lease_request_valid(const wire_lease_request *request)
{
    MESH_ASSERT(request != NULL);
    if (!lease_id_valid(request->lease_id)) {
        return false;
    }
    if (request->resource_count < 1 || request->resource_count > WIRE_LEASE_RESOURCES_MAX) {
        return false;
    }
    for (uint32_t i = 0; i < request->resource_count; i++) {
        if (!lease_resource_valid(&request->resources[i])) {
            return false;
        }
        // A set: strictly ascending, which also rules out duplicates.
        if (i > 0 &&
            lease_resource_compare(&request->resources[i - 1], &request->resources[i]) >= 0) {
            return false;
        }
    }
    if (request->start_ns <= 0 || request->expires_ns <= 0) {
        return false;
    }
    if (request->duration_ns < 1 || request->duration_ns > WIRE_LEASE_DURATION_NS_MAX) {
        return false;
    }
    return lease_constraints_valid(&request->constraints);
}

static bool lease_ledger_record_valid(const uint8_t *record, uint32_t record_size)
{
    return record != NULL && record_size >= 1 && record_size <= WIRE_LEASE_RECORD_SIZE_MAX;
}

static bool lease_offer_valid(const wire_lease_offer *offer)
{
    MESH_ASSERT(offer != NULL);
    if (!lease_id_valid(offer->lease_id)) {
        return false;
    }
    if (!lease_ledger_record_valid(offer->record, offer->record_size)) {
        return false;
    }
    return offer->expires_ns > 0;
}

static bool lease_refuse_valid(const wire_lease_refuse *refuse)
{
    MESH_ASSERT(refuse != NULL);
    if (!lease_id_valid(refuse->lease_id)) {
        return false;
    }
    if (refuse->reason < 1 || refuse->reason > WIRE_LEASE_REFUSAL_MAX) {
        return false;
    }
    uint32_t detail_size = wire_string_length(refuse->detail, sizeof(refuse->detail));
    return detail_size < sizeof(refuse->detail) &&
           wire_text_valid((const uint8_t *) refuse->detail, detail_size);
}

static bool lease_record_valid(const wire_lease_record *record)
{
    MESH_ASSERT(record != NULL);
    if (!lease_id_valid(record->lease_id)) {
        return false;
    }
    if (!lease_ledger_record_valid(record->record, record->record_size)) {
        return false;
    }
    return record->has_lender_signature || record->has_borrower_signature;
}

static bool lease_end_valid(const wire_lease_end *end)
{
    MESH_ASSERT(end != NULL);
    if (!lease_id_valid(end->lease_id)) {
        return false;
    }
    if (end->what < WIRE_LEASE_END_DECLINE || end->what > WIRE_LEASE_END_MAX) {
        return false;
    }
    return end->at_ns > 0;
}

/* Shared decoding steps. */

// A str of at most size_max bytes that passes rule, copied NUL-terminated
// into out (out_size > size_max); RANGE otherwise, at the string. An
// embedded NUL is refused first: it would cut the string short in every C
// consumer, and the re-encoded body would differ. (codec.c's decode_str,
// which is static there.)
static mesh_err
decode_str(wire_reader *reader, uint32_t size_max, code_rule rule, char *out, uint32_t out_size)
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

// The lease id: bin(16) (LENGTH otherwise), not all zero (RANGE).
static mesh_err decode_lease_id(wire_reader *reader, uint8_t *lease_id)
{
    MESH_ASSERT(lease_id != NULL);
    uint32_t start = reader->offset;
    mesh_err err = wire_decode_bin_fixed(reader, lease_id, WIRE_LEASE_ID_SIZE);
    if (err != MESH_OK) {
        return err;
    }
    if (!lease_id_valid(lease_id)) {
        return decode_fail(reader, WIRE_REASON_RANGE, start);
    }
    return MESH_OK;
}

// A realtime instant that must be positive.
static mesh_err decode_positive_ns(wire_reader *reader, int64_t *value_out)
{
    MESH_ASSERT(value_out != NULL);
    uint32_t start = reader->offset;
    mesh_err err = wire_read_int64(reader, value_out);
    if (err == MESH_OK && *value_out <= 0) {
        return decode_fail(reader, WIRE_REASON_RANGE, start);
    }
    return err;
}

// An embedded ledger record: bin(1..WIRE_LEASE_RECORD_SIZE_MAX), pointing
// into the body.
static mesh_err
decode_ledger_record(wire_reader *reader, const uint8_t **record_out, uint32_t *size_out)
{
    MESH_ASSERT(record_out != NULL);
    MESH_ASSERT(size_out != NULL);
    uint32_t start = reader->offset;
    mesh_err err = wire_read_bin(reader, WIRE_LEASE_RECORD_SIZE_MAX, record_out, size_out);
    if (err != MESH_OK) {
        return err;
    }
    if (*size_out < 1) {
        return decode_fail(reader, WIRE_REASON_RANGE, start);
    }
    MESH_ASSERT(lease_ledger_record_valid(*record_out, *size_out));
    return MESH_OK;
}

// A set of str(2) codes: at most count_max (LENGTH), each passing rule
// (RANGE), strictly ascending (NOT_CANONICAL).
static mesh_err decode_code_set(
    wire_reader *reader, uint32_t count_max, code_rule rule, char (*codes)[3], uint32_t *count_out)
{
    MESH_ASSERT(codes != NULL);
    MESH_ASSERT(count_out != NULL);
    uint32_t count;
    mesh_err err = wire_read_array(reader, count_max, &count);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(count <= count_max);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t start = reader->offset;
        err = decode_str(reader, 2, rule, codes[i], sizeof(codes[i]));
        if (err != MESH_OK) {
            return err;
        }
        // Every accepted code is exactly two bytes, so two bytes order it.
        if (i > 0 && memcmp(codes[i - 1], codes[i], 2) >= 0) {
            return decode_fail(reader, WIRE_REASON_NOT_CANONICAL, start);
        }
    }
    *count_out = count;
    return MESH_OK;
}

/* The request. */

static mesh_err lease_resource_decode(wire_reader *reader, wire_lease_resource *resource)
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
    // The model's charset depends on the class: the whole-line rule below
    // checks it, so here only NULs and the size are refused.
    err =
        decode_str(reader, WIRE_MODEL_SIZE_MAX, rule_any, resource->model, sizeof(resource->model));
    if (err != MESH_OK) {
        return err;
    }
    err = wire_read_uint(reader, WIRE_AMOUNT_MAX, &resource->amount);
    if (err != MESH_OK) {
        return err;
    }
    if (!lease_resource_valid(resource)) {
        return decode_fail(reader, WIRE_REASON_RANGE, start);
    }
    return MESH_OK;
}

static mesh_err request_decode_resources(wire_reader *reader, wire_lease_request *request)
{
    uint32_t start = reader->offset;
    uint32_t count;
    mesh_err err = wire_read_array(reader, WIRE_LEASE_RESOURCES_MAX, &count);
    if (err != MESH_OK) {
        return err;
    }
    if (count < 1) {
        return decode_fail(reader, WIRE_REASON_RANGE, start);
    }
    MESH_ASSERT(count <= WIRE_LEASE_RESOURCES_MAX);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t line = reader->offset;
        err = lease_resource_decode(reader, &request->resources[i]);
        if (err != MESH_OK) {
            return err;
        }
        if (i > 0 &&
            lease_resource_compare(&request->resources[i - 1], &request->resources[i]) >= 0) {
            return decode_fail(reader, WIRE_REASON_NOT_CANONICAL, line);
        }
    }
    request->resource_count = count;
    return MESH_OK;
}

static mesh_err constraints_decode_field(wire_reader *reader,
                                         const wire_body_map *map,
                                         uint32_t key,
                                         void *value_out)
{
    wire_lease_constraints *constraints = value_out;
    MESH_ASSERT(constraints != NULL);
    MESH_ASSERT(wire_map_seen(map, key));
    uint32_t start = reader->offset;
    uint64_t value = 0;
    mesh_err err;
    switch ((enum constraints_key) key) {
    case CONSTRAINTS_KEY_COUNTRIES:
        return decode_code_set(reader, WIRE_LEASE_COUNTRIES_MAX, wire_country_bytes_valid,
                               constraints->countries, &constraints->country_count);
    case CONSTRAINTS_KEY_JURISDICTIONS:
        return decode_code_set(reader, WIRE_JURISDICTIONS_MAX, wire_jurisdiction_valid,
                               constraints->jurisdictions, &constraints->jurisdiction_count);
    case CONSTRAINTS_KEY_CERTIFICATIONS:
        err = wire_read_uint(reader, UINT32_MAX, &value);
        if (err == MESH_OK && (value & ~(uint64_t) WIRE_CERTIFICATION_ALL) != 0) {
            return decode_fail(reader, WIRE_REASON_RANGE, start);
        }
        constraints->certifications = (uint32_t) value;
        return err;
    case CONSTRAINTS_KEY_DATA_CLASS:
        return decode_str(reader, WIRE_DATA_CLASS_SIZE_MAX, data_class_valid,
                          constraints->data_class, sizeof(constraints->data_class));
    case CONSTRAINTS_KEY_RTT:
        err = wire_read_uint(reader, LEASE_RTT_US_MAX, &value);
        constraints->rtt_us_max = (uint32_t) value;
        return err;
    case CONSTRAINTS_KEY_COST:
        return wire_read_uint(reader, WIRE_PRICE_MAX, &constraints->cost_microeur_per_hour_max);
    case CONSTRAINTS_KEY_CARBON:
        err = wire_read_uint(reader, WIRE_CARBON_MAX, &value);
        constraints->carbon_gco2_per_kwh_max = (uint32_t) value;
        return err;
    case CONSTRAINTS_KEY_COUNT:
        break;
    }
    MESH_ASSERT(false && "wire_map_next_key returns known keys only");
    return MESH_EINTERNAL;
}

static mesh_err
request_decode_field(wire_reader *reader, const wire_body_map *map, uint32_t key, void *value_out)
{
    wire_lease_request *request = value_out;
    MESH_ASSERT(request != NULL);
    MESH_ASSERT(wire_map_seen(map, key));
    uint32_t start = reader->offset;
    mesh_err err;
    switch ((enum request_key) key) {
    case REQUEST_KEY_LEASE_ID:
        return decode_lease_id(reader, request->lease_id);
    case REQUEST_KEY_LENDER:
        return wire_decode_bin_fixed(reader, request->lender.bytes, MESH_NODE_ID_SIZE);
    case REQUEST_KEY_RESOURCES:
        return request_decode_resources(reader, request);
    case REQUEST_KEY_START:
        return decode_positive_ns(reader, &request->start_ns);
    case REQUEST_KEY_DURATION:
        err = wire_read_uint(reader, WIRE_LEASE_DURATION_NS_MAX, &request->duration_ns);
        if (err == MESH_OK && request->duration_ns < 1) {
            return decode_fail(reader, WIRE_REASON_RANGE, start);
        }
        return err;
    case REQUEST_KEY_CONSTRAINTS:
        // A nested body map: the same rules (ascending, known, all present).
        return wire_decode_map(reader, CONSTRAINTS_KEY_COUNT, constraints_decode_field,
                               &request->constraints);
    case REQUEST_KEY_EXPIRES:
        return decode_positive_ns(reader, &request->expires_ns);
    case REQUEST_KEY_COUNT:
        break;
    }
    MESH_ASSERT(false && "wire_map_next_key returns known keys only");
    return MESH_EINTERNAL;
}

static mesh_err request_decode_fields(wire_reader *reader, void *value_out)
{
    return wire_decode_map(reader, REQUEST_KEY_COUNT, request_decode_field, value_out);
}

mesh_err wire_lease_request_decode(const uint8_t *body,
                                   uint32_t body_size,
                                   wire_lease_request *request_out,
                                   wire_error *error_out)
{
    MESH_ASSERT(body != NULL || body_size == 0);
    MESH_ASSERT(request_out != NULL);
    wire_lease_request request;
    memset(&request, 0, sizeof(request));
    mesh_err err = wire_decode_top(body, body_size, WIRE_BODY_SIZE_MAX, request_decode_fields,
                                   &request, error_out);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(lease_request_valid(&request));
    *request_out = request;
    return MESH_OK;
}

static void write_code_set(wire_writer *writer, const char (*codes)[3], uint32_t count)
{
    wire_write_array(writer, count);
    for (uint32_t i = 0; i < count; i++) {
        wire_write_str(writer, codes[i], 2);
    }
}

static void constraints_write(wire_writer *writer, const wire_lease_constraints *constraints)
{
    wire_write_map(writer, CONSTRAINTS_KEY_COUNT);
    wire_write_uint(writer, CONSTRAINTS_KEY_COUNTRIES);
    write_code_set(writer, constraints->countries, constraints->country_count);
    wire_write_uint(writer, CONSTRAINTS_KEY_JURISDICTIONS);
    write_code_set(writer, constraints->jurisdictions, constraints->jurisdiction_count);
    wire_write_uint(writer, CONSTRAINTS_KEY_CERTIFICATIONS);
    wire_write_uint(writer, constraints->certifications);
    wire_write_uint(writer, CONSTRAINTS_KEY_DATA_CLASS);
    wire_write_str(writer, constraints->data_class,
                   wire_string_length(constraints->data_class, sizeof(constraints->data_class)));
    wire_write_uint(writer, CONSTRAINTS_KEY_RTT);
    wire_write_uint(writer, constraints->rtt_us_max);
    wire_write_uint(writer, CONSTRAINTS_KEY_COST);
    wire_write_uint(writer, constraints->cost_microeur_per_hour_max);
    wire_write_uint(writer, CONSTRAINTS_KEY_CARBON);
    wire_write_uint(writer, constraints->carbon_gco2_per_kwh_max);
}

static void request_write(wire_writer *writer, const wire_lease_request *request)
{
    wire_write_map(writer, REQUEST_KEY_COUNT);
    wire_write_uint(writer, REQUEST_KEY_LEASE_ID);
    wire_write_bin(writer, request->lease_id, WIRE_LEASE_ID_SIZE);
    wire_write_uint(writer, REQUEST_KEY_LENDER);
    wire_write_bin(writer, request->lender.bytes, MESH_NODE_ID_SIZE);
    wire_write_uint(writer, REQUEST_KEY_RESOURCES);
    wire_write_array(writer, request->resource_count);
    for (uint32_t i = 0; i < request->resource_count; i++) {
        const wire_lease_resource *resource = &request->resources[i];
        wire_write_array(writer, RESOURCE_FIELD_COUNT);
        wire_write_uint(writer, resource->resource_class);
        wire_write_str(writer, resource->model,
                       wire_string_length(resource->model, sizeof(resource->model)));
        wire_write_uint(writer, resource->amount);
    }
    wire_write_uint(writer, REQUEST_KEY_START);
    wire_write_int64(writer, request->start_ns);
    wire_write_uint(writer, REQUEST_KEY_DURATION);
    wire_write_uint(writer, request->duration_ns);
    wire_write_uint(writer, REQUEST_KEY_CONSTRAINTS);
    constraints_write(writer, &request->constraints);
    wire_write_uint(writer, REQUEST_KEY_EXPIRES);
    wire_write_int64(writer, request->expires_ns);
}

mesh_err wire_lease_request_encode(const wire_lease_request *request,
                                   uint8_t *buf,
                                   uint32_t buf_size,
                                   uint32_t *size_out)
{
    MESH_ASSERT(request != NULL);
    MESH_ASSERT(buf != NULL || buf_size == 0);
    MESH_ASSERT(size_out != NULL);
    if (!lease_request_valid(request)) {
        return MESH_EINVAL;
    }
    wire_writer writer;
    wire_writer_init(&writer, buf, buf_size);
    request_write(&writer, request);
    uint32_t size;
    mesh_err err = wire_writer_finish(&writer, &size);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(size <= LEASE_BODY_SIZE_MAX);
    WIRE_DEBUG_REDECODE(wire_lease_request_decode, wire_lease_request, buf, size);
    *size_out = size;
    return MESH_OK;
}

/* The offer. */

static mesh_err
offer_decode_field(wire_reader *reader, const wire_body_map *map, uint32_t key, void *value_out)
{
    wire_lease_offer *offer = value_out;
    MESH_ASSERT(offer != NULL);
    MESH_ASSERT(wire_map_seen(map, key));
    switch ((enum offer_key) key) {
    case OFFER_KEY_LEASE_ID:
        return decode_lease_id(reader, offer->lease_id);
    case OFFER_KEY_RECORD:
        return decode_ledger_record(reader, &offer->record, &offer->record_size);
    case OFFER_KEY_LENDER_SIGNATURE:
        return wire_decode_bin_fixed(reader, offer->lender_signature, WIRE_SIGNATURE_SIZE);
    case OFFER_KEY_EXPIRES:
        return decode_positive_ns(reader, &offer->expires_ns);
    case OFFER_KEY_COUNT:
        break;
    }
    MESH_ASSERT(false && "wire_map_next_key returns known keys only");
    return MESH_EINTERNAL;
}

static mesh_err offer_decode_fields(wire_reader *reader, void *value_out)
{
    return wire_decode_map(reader, OFFER_KEY_COUNT, offer_decode_field, value_out);
}

mesh_err wire_lease_offer_decode(const uint8_t *body,
                                 uint32_t body_size,
                                 wire_lease_offer *offer_out,
                                 wire_error *error_out)
{
    MESH_ASSERT(body != NULL || body_size == 0);
    MESH_ASSERT(offer_out != NULL);
    wire_lease_offer offer;
    memset(&offer, 0, sizeof(offer));
    mesh_err err = wire_decode_top(body, body_size, WIRE_BODY_SIZE_MAX, offer_decode_fields, &offer,
                                   error_out);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(lease_offer_valid(&offer));
    MESH_ASSERT(offer.record > body && offer.record + offer.record_size <= body + body_size);
    *offer_out = offer;
    return MESH_OK;
}

static void offer_write(wire_writer *writer, const wire_lease_offer *offer)
{
    wire_write_map(writer, OFFER_KEY_COUNT);
    wire_write_uint(writer, OFFER_KEY_LEASE_ID);
    wire_write_bin(writer, offer->lease_id, WIRE_LEASE_ID_SIZE);
    wire_write_uint(writer, OFFER_KEY_RECORD);
    wire_write_bin(writer, offer->record, offer->record_size);
    wire_write_uint(writer, OFFER_KEY_LENDER_SIGNATURE);
    wire_write_bin(writer, offer->lender_signature, WIRE_SIGNATURE_SIZE);
    wire_write_uint(writer, OFFER_KEY_EXPIRES);
    wire_write_int64(writer, offer->expires_ns);
}

mesh_err wire_lease_offer_encode(const wire_lease_offer *offer,
                                 uint8_t *buf,
                                 uint32_t buf_size,
                                 uint32_t *size_out)
{
    MESH_ASSERT(offer != NULL);
    MESH_ASSERT(buf != NULL || buf_size == 0);
    MESH_ASSERT(size_out != NULL);
    if (!lease_offer_valid(offer)) {
        return MESH_EINVAL;
    }
    wire_writer writer;
    wire_writer_init(&writer, buf, buf_size);
    offer_write(&writer, offer);
    uint32_t size;
    mesh_err err = wire_writer_finish(&writer, &size);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(size <= LEASE_BODY_SIZE_MAX);
    WIRE_DEBUG_REDECODE(wire_lease_offer_decode, wire_lease_offer, buf, size);
    *size_out = size;
    return MESH_OK;
}

/* The refusal. */

static const char *const refusal_names[WIRE_LEASE_REFUSAL_MAX + 1u] = {
    [WIRE_LEASE_REFUSAL_CAPACITY] = "capacity",
    [WIRE_LEASE_REFUSAL_COUNTRY] = "country",
    [WIRE_LEASE_REFUSAL_JURISDICTION] = "jurisdiction",
    [WIRE_LEASE_REFUSAL_CERTIFICATION] = "certification",
    [WIRE_LEASE_REFUSAL_PRICE] = "price",
    [WIRE_LEASE_REFUSAL_CARBON] = "carbon",
    [WIRE_LEASE_REFUSAL_LATENCY] = "latency",
    [WIRE_LEASE_REFUSAL_PEER_LIMIT] = "peer_limit",
    [WIRE_LEASE_REFUSAL_CLASS] = "class",
    [WIRE_LEASE_REFUSAL_WINDOW] = "window",
    [WIRE_LEASE_REFUSAL_EXPIRED] = "expired",
    [WIRE_LEASE_REFUSAL_DUPLICATE] = "duplicate",
    [WIRE_LEASE_REFUSAL_STARTING] = "starting",
    [WIRE_LEASE_REFUSAL_BUSY] = "busy",
    [WIRE_LEASE_REFUSAL_HOOK] = "hook",
    [WIRE_LEASE_REFUSAL_RECIPROCITY] = "reciprocity",
    [WIRE_LEASE_REFUSAL_LEAVING] = "leaving",
};

_Static_assert(WIRE_LEASE_REFUSAL_LEAVING == WIRE_LEASE_REFUSAL_MAX, "the last refusal is MAX");

const char *wire_lease_refusal_name(uint32_t reason)
{
    // Like wire_reason_name: a name for every value, so that a counter or
    // a log line never crashes on a number a peer sent.
    if (reason > WIRE_LEASE_REFUSAL_MAX || refusal_names[reason] == NULL) {
        return "unknown";
    }
    return refusal_names[reason];
}

static mesh_err
refuse_decode_field(wire_reader *reader, const wire_body_map *map, uint32_t key, void *value_out)
{
    wire_lease_refuse *refuse = value_out;
    MESH_ASSERT(refuse != NULL);
    MESH_ASSERT(wire_map_seen(map, key));
    uint32_t start = reader->offset;
    uint64_t value = 0;
    mesh_err err;
    switch ((enum refuse_key) key) {
    case REFUSE_KEY_LEASE_ID:
        return decode_lease_id(reader, refuse->lease_id);
    case REFUSE_KEY_REASON:
        // An unknown reason is refused rather than carried: a new reason
        // needs a new protocol version, like a new message type.
        err = wire_read_uint(reader, WIRE_LEASE_REFUSAL_MAX, &value);
        if (err == MESH_OK && value < 1) {
            return decode_fail(reader, WIRE_REASON_RANGE, start);
        }
        refuse->reason = (uint32_t) value;
        return err;
    case REFUSE_KEY_DETAIL:
        return decode_str(reader, WIRE_REASON_TEXT_SIZE_MAX, wire_text_valid, refuse->detail,
                          sizeof(refuse->detail));
    case REFUSE_KEY_COUNT:
        break;
    }
    MESH_ASSERT(false && "wire_map_next_key returns known keys only");
    return MESH_EINTERNAL;
}

static mesh_err refuse_decode_fields(wire_reader *reader, void *value_out)
{
    return wire_decode_map(reader, REFUSE_KEY_COUNT, refuse_decode_field, value_out);
}

mesh_err wire_lease_refuse_decode(const uint8_t *body,
                                  uint32_t body_size,
                                  wire_lease_refuse *refuse_out,
                                  wire_error *error_out)
{
    MESH_ASSERT(body != NULL || body_size == 0);
    MESH_ASSERT(refuse_out != NULL);
    wire_lease_refuse refuse;
    memset(&refuse, 0, sizeof(refuse));
    mesh_err err = wire_decode_top(body, body_size, WIRE_BODY_SIZE_MAX, refuse_decode_fields,
                                   &refuse, error_out);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(lease_refuse_valid(&refuse));
    *refuse_out = refuse;
    return MESH_OK;
}

static void refuse_write(wire_writer *writer, const wire_lease_refuse *refuse)
{
    wire_write_map(writer, REFUSE_KEY_COUNT);
    wire_write_uint(writer, REFUSE_KEY_LEASE_ID);
    wire_write_bin(writer, refuse->lease_id, WIRE_LEASE_ID_SIZE);
    wire_write_uint(writer, REFUSE_KEY_REASON);
    wire_write_uint(writer, refuse->reason);
    wire_write_uint(writer, REFUSE_KEY_DETAIL);
    wire_write_str(writer, refuse->detail,
                   wire_string_length(refuse->detail, sizeof(refuse->detail)));
}

mesh_err wire_lease_refuse_encode(const wire_lease_refuse *refuse,
                                  uint8_t *buf,
                                  uint32_t buf_size,
                                  uint32_t *size_out)
{
    MESH_ASSERT(refuse != NULL);
    MESH_ASSERT(buf != NULL || buf_size == 0);
    MESH_ASSERT(size_out != NULL);
    if (!lease_refuse_valid(refuse)) {
        return MESH_EINVAL;
    }
    wire_writer writer;
    wire_writer_init(&writer, buf, buf_size);
    refuse_write(&writer, refuse);
    uint32_t size;
    mesh_err err = wire_writer_finish(&writer, &size);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(size <= LEASE_BODY_SIZE_MAX);
    WIRE_DEBUG_REDECODE(wire_lease_refuse_decode, wire_lease_refuse, buf, size);
    *size_out = size;
    return MESH_OK;
}

/* The record message. */

// A signature that may be absent: bin(0) or bin(64), LENGTH for any other
// declared size. signature is left zero when absent (the caller zeroed it).
static mesh_err
decode_optional_signature(wire_reader *reader, uint8_t *signature, bool *present_out)
{
    MESH_ASSERT(signature != NULL);
    MESH_ASSERT(present_out != NULL);
    uint32_t start = reader->offset;
    const uint8_t *bytes;
    uint32_t size;
    mesh_err err = wire_read_bin(reader, WIRE_SIGNATURE_SIZE, &bytes, &size);
    if (err != MESH_OK) {
        return err;
    }
    if (size != 0 && size != WIRE_SIGNATURE_SIZE) {
        reader->offset = start;
        return decode_fail(reader, WIRE_REASON_LENGTH, start);
    }
    if (size == WIRE_SIGNATURE_SIZE) {
        memcpy(signature, bytes, WIRE_SIGNATURE_SIZE);
    }
    *present_out = size == WIRE_SIGNATURE_SIZE;
    return MESH_OK;
}

static mesh_err
record_decode_field(wire_reader *reader, const wire_body_map *map, uint32_t key, void *value_out)
{
    wire_lease_record *record = value_out;
    MESH_ASSERT(record != NULL);
    MESH_ASSERT(wire_map_seen(map, key));
    uint32_t start = reader->offset;
    mesh_err err;
    switch ((enum record_key) key) {
    case RECORD_KEY_LEASE_ID:
        return decode_lease_id(reader, record->lease_id);
    case RECORD_KEY_RECORD:
        return decode_ledger_record(reader, &record->record, &record->record_size);
    case RECORD_KEY_LENDER_SIGNATURE:
        return decode_optional_signature(reader, record->lender_signature,
                                         &record->has_lender_signature);
    case RECORD_KEY_BORROWER_SIGNATURE:
        err = decode_optional_signature(reader, record->borrower_signature,
                                        &record->has_borrower_signature);
        if (err != MESH_OK) {
            return err;
        }
        // The rule across the two signatures, at the later one. Without
        // key 2 the map ends in MISSING_FIELD instead.
        if (wire_map_seen(map, RECORD_KEY_LENDER_SIGNATURE) && !record->has_lender_signature &&
            !record->has_borrower_signature) {
            return decode_fail(reader, WIRE_REASON_RANGE, start);
        }
        return MESH_OK;
    case RECORD_KEY_COUNT:
        break;
    }
    MESH_ASSERT(false && "wire_map_next_key returns known keys only");
    return MESH_EINTERNAL;
}

static mesh_err record_decode_fields(wire_reader *reader, void *value_out)
{
    return wire_decode_map(reader, RECORD_KEY_COUNT, record_decode_field, value_out);
}

mesh_err wire_lease_record_decode(const uint8_t *body,
                                  uint32_t body_size,
                                  wire_lease_record *record_out,
                                  wire_error *error_out)
{
    MESH_ASSERT(body != NULL || body_size == 0);
    MESH_ASSERT(record_out != NULL);
    wire_lease_record record;
    memset(&record, 0, sizeof(record));
    mesh_err err = wire_decode_top(body, body_size, WIRE_BODY_SIZE_MAX, record_decode_fields,
                                   &record, error_out);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(lease_record_valid(&record));
    MESH_ASSERT(record.record > body && record.record + record.record_size <= body + body_size);
    *record_out = record;
    return MESH_OK;
}

static void record_write(wire_writer *writer, const wire_lease_record *record)
{
    // An absent signature is bin(0); whatever the caller left in its array
    // is not sent, so that it cannot leak into the canonical bytes.
    uint32_t lender_size = record->has_lender_signature ? WIRE_SIGNATURE_SIZE : 0u;
    uint32_t borrower_size = record->has_borrower_signature ? WIRE_SIGNATURE_SIZE : 0u;
    wire_write_map(writer, RECORD_KEY_COUNT);
    wire_write_uint(writer, RECORD_KEY_LEASE_ID);
    wire_write_bin(writer, record->lease_id, WIRE_LEASE_ID_SIZE);
    wire_write_uint(writer, RECORD_KEY_RECORD);
    wire_write_bin(writer, record->record, record->record_size);
    wire_write_uint(writer, RECORD_KEY_LENDER_SIGNATURE);
    wire_write_bin(writer, record->lender_signature, lender_size);
    wire_write_uint(writer, RECORD_KEY_BORROWER_SIGNATURE);
    wire_write_bin(writer, record->borrower_signature, borrower_size);
}

mesh_err wire_lease_record_encode(const wire_lease_record *record,
                                  uint8_t *buf,
                                  uint32_t buf_size,
                                  uint32_t *size_out)
{
    MESH_ASSERT(record != NULL);
    MESH_ASSERT(buf != NULL || buf_size == 0);
    MESH_ASSERT(size_out != NULL);
    if (!lease_record_valid(record)) {
        return MESH_EINVAL;
    }
    wire_writer writer;
    wire_writer_init(&writer, buf, buf_size);
    record_write(&writer, record);
    uint32_t size;
    mesh_err err = wire_writer_finish(&writer, &size);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(size <= LEASE_BODY_SIZE_MAX);
    WIRE_DEBUG_REDECODE(wire_lease_record_decode, wire_lease_record, buf, size);
    *size_out = size;
    return MESH_OK;
}

/* The end. */

static mesh_err
end_decode_field(wire_reader *reader, const wire_body_map *map, uint32_t key, void *value_out)
{
    wire_lease_end *end = value_out;
    MESH_ASSERT(end != NULL);
    MESH_ASSERT(wire_map_seen(map, key));
    uint32_t start = reader->offset;
    uint64_t value = 0;
    mesh_err err;
    switch ((enum end_key) key) {
    case END_KEY_LEASE_ID:
        return decode_lease_id(reader, end->lease_id);
    case END_KEY_WHAT:
        err = wire_read_uint(reader, WIRE_LEASE_END_MAX, &value);
        if (err == MESH_OK && value < WIRE_LEASE_END_DECLINE) {
            return decode_fail(reader, WIRE_REASON_RANGE, start);
        }
        end->what = (uint32_t) value;
        return err;
    case END_KEY_AT:
        return decode_positive_ns(reader, &end->at_ns);
    case END_KEY_COUNT:
        break;
    }
    MESH_ASSERT(false && "wire_map_next_key returns known keys only");
    return MESH_EINTERNAL;
}

static mesh_err end_decode_fields(wire_reader *reader, void *value_out)
{
    return wire_decode_map(reader, END_KEY_COUNT, end_decode_field, value_out);
}

mesh_err wire_lease_end_decode(const uint8_t *body,
                               uint32_t body_size,
                               wire_lease_end *end_out,
                               wire_error *error_out)
{
    MESH_ASSERT(body != NULL || body_size == 0);
    MESH_ASSERT(end_out != NULL);
    wire_lease_end end;
    memset(&end, 0, sizeof(end));
    mesh_err err =
        wire_decode_top(body, body_size, WIRE_BODY_SIZE_MAX, end_decode_fields, &end, error_out);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(lease_end_valid(&end));
    *end_out = end;
    return MESH_OK;
}

static void end_write(wire_writer *writer, const wire_lease_end *end)
{
    wire_write_map(writer, END_KEY_COUNT);
    wire_write_uint(writer, END_KEY_LEASE_ID);
    wire_write_bin(writer, end->lease_id, WIRE_LEASE_ID_SIZE);
    wire_write_uint(writer, END_KEY_WHAT);
    wire_write_uint(writer, end->what);
    wire_write_uint(writer, END_KEY_AT);
    wire_write_int64(writer, end->at_ns);
}

mesh_err wire_lease_end_encode(const wire_lease_end *end,
                               uint8_t *buf,
                               uint32_t buf_size,
                               uint32_t *size_out)
{
    MESH_ASSERT(end != NULL);
    MESH_ASSERT(buf != NULL || buf_size == 0);
    MESH_ASSERT(size_out != NULL);
    if (!lease_end_valid(end)) {
        return MESH_EINVAL;
    }
    wire_writer writer;
    wire_writer_init(&writer, buf, buf_size);
    end_write(&writer, end);
    uint32_t size;
    mesh_err err = wire_writer_finish(&writer, &size);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(size <= LEASE_BODY_SIZE_MAX);
    WIRE_DEBUG_REDECODE(wire_lease_end_decode, wire_lease_end, buf, size);
    *size_out = size;
    return MESH_OK;
}

/* The peek. */

mesh_err wire_lease_id_peek(const uint8_t *body,
                            uint32_t body_size,
                            uint8_t lease_id_out[WIRE_LEASE_ID_SIZE])
{
    MESH_ASSERT(body != NULL || body_size == 0);
    MESH_ASSERT(lease_id_out != NULL);
    // The same cap and the same canonical reader as the decoders, so that
    // the peek never accepts a prefix that no decoder could: a map header
    // with at least one pair, key 0 first, then the id.
    if (body_size > WIRE_BODY_SIZE_MAX) {
        return MESH_EPROTO;
    }
    wire_reader reader;
    wire_reader_init(&reader, body, body_size);
    uint32_t count = 0;
    if (wire_read_map(&reader, WIRE_MAP_COUNT_MAX, &count) != MESH_OK || count < 1) {
        return MESH_EPROTO;
    }
    wire_int key;
    if (wire_read_int(&reader, &key) != MESH_OK || key.negative ||
        key.value != LEASE_KEY_LEASE_ID) {
        return MESH_EPROTO;
    }
    uint8_t lease_id[WIRE_LEASE_ID_SIZE];
    if (decode_lease_id(&reader, lease_id) != MESH_OK) {
        return MESH_EPROTO;
    }
    MESH_ASSERT(reader.offset <= body_size);
    MESH_ASSERT(lease_id_valid(lease_id));
    memcpy(lease_id_out, lease_id, WIRE_LEASE_ID_SIZE);
    return MESH_OK;
}
