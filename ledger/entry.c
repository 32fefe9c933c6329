/*
 * ledger/entry.c: the canonical encoding of lease records (version 2) and
 * journal entries, their hashes and their signatures.
 *
 *     record = map(9 if OPENED, else 8) {
 *                  0: version uint == 2, 1: kind uint 1..7,
 *                  2: lease_id bin(16), 3: number uint 0..2^32-1,
 *                  4: lender_key bin(32), 5: borrower_key bin(32),
 *                  6: time_ns int64,
 *                  7: amounts array(0..8) of
 *                     array(3) [class uint 1..4, model str(0..32),
 *                               amount_milli uint 0..10^15],
 *                  8: terms (OPENED only) }
 *     terms  = map(9) { 0: start_ns int64 > 0, 1: end_ns int64 > start_ns,
 *                  2: prices array of uint 0..10^12, one per amount,
 *                  3: lender_cert_hash bin(32), 4: lender_country str(2),
 *                  5: lender_jurisdictions array(0..8) of str(2),
 *                  6: lender_certifications uint (WIRE_CERTIFICATION_ALL bits),
 *                  7: carbon_gco2_per_kwh uint 0..5000,
 *                  8: constraints map(7) {
 *                     0: countries array(0..32) of str(2),
 *                     1: jurisdictions array(0..8) of str(2),
 *                     2: certifications uint (bits), 3: data_class str(0..31),
 *                     4: rtt_us_max uint 0..60,000,000,
 *                     5: cost_microeur_per_hour_max uint 0..10^12,
 *                     6: carbon_gco2_per_kwh_max uint 0..5000 } }
 *     entry  = map(5) { 0: seq uint >= 1, 1: prev_hash bin(32),
 *                       2: record bin(<= 1024), 3: lender_signature bin(0|64),
 *                       4: borrower_signature bin(0|64) }
 *     stored value = entry bytes || BLAKE2b-256(entry bytes)
 *
 * The record travels as bin inside the entry, so the signed bytes are
 * stored exactly as signed, and both parties' ledgers hold them
 * byte-identical. Amounts are a set sorted by (class, model) without
 * duplicates; a model is present for GPUs only. Country codes are
 * assigned ISO 3166-1 alpha-2 codes, jurisdictions the same or "EU"; both
 * lists are sorted and distinct (one byte string per set, so one
 * encoding). A data class is [a-z0-9-].
 *
 * Why the version is a field of the record and not of the entry: the
 * record is what both parties sign and what the lease protocol carries
 * (docs/leases.md), so a signature covers the version too and a record
 * can never be read under another version's schema. The decoder refuses
 * every version but LEDGER_RECORD_VERSION; a version 1 record (no version
 * key: its key 0 was the kind) fails the same way, or on its key 1's type.
 *
 * Why the terms live in the OPENED record only, and the record's key 8 is
 * absent elsewhere rather than empty: the terms are fixed when a lease
 * opens, an audit reads them once, and the records that follow stay as
 * small as before (a usage record grew by the 2 bytes of its version).
 * The struct's terms of any other kind must be all zero, so that no
 * field can be set that no byte records.
 *
 * Bounds. The largest record the rules allow is LEDGER_RECORD_SIZE_WORST
 * bytes (ledger_int.h counts it field by field; a unit test encodes it),
 * which the static assertion below holds under LEDGER_RECORD_SIZE_MAX: a
 * valid record can never be too large to store or to sign.
 *
 * Why the bounded reader of wire/ (wire_int.h) is included from here: it
 * is the project's one MessagePack reader that never allocates and checks
 * every declared length before reading; a second copy in ledger/ would be
 * the duplication the house style forbids. The country and jurisdiction
 * rules are wire/'s too. The data-class rule is a local equivalent
 * (data_class_valid): wire/ has no shared validator for it yet. Moving the
 * reader's declarations to wire.h is the tidy follow-up.
 *
 * Why signatures are made here rather than with mcrypto_sign: crypto/
 * names its domains by wire_type, and a ledger record is not a message
 * (the lease messages that carry one have their own types and domains).
 * The domain string has the same shape,
 * "fedmesh/v1/lease-record" || 0x00 || record, and no wire type can ever
 * be named "lease-record", so no signature crosses between the two.
 *
 * Every decoder takes hostile bytes: sizes are capped first, and any
 * decoded value is checked by the same rules the encoder applies, so that
 * encode(decode(b)) == b for every accepted b (the fuzz target checks it).
 */
#include <string.h>

#include <sodium.h>

#include "ledger/ledger_int.h"
#include "wire/wire_int.h"

enum {
    RECORD_KEY_VERSION = 0,
    RECORD_KEY_KIND = 1,
    RECORD_KEY_LEASE_ID = 2,
    RECORD_KEY_NUMBER = 3,
    RECORD_KEY_LENDER = 4,
    RECORD_KEY_BORROWER = 5,
    RECORD_KEY_TIME = 6,
    RECORD_KEY_AMOUNTS = 7,
    RECORD_KEY_TERMS = 8,
    RECORD_KEY_COUNT = 9, /* the schema's keys; only OPENED has the last */
};

enum {
    TERMS_KEY_START = 0,
    TERMS_KEY_END = 1,
    TERMS_KEY_PRICES = 2,
    TERMS_KEY_CERT_HASH = 3,
    TERMS_KEY_COUNTRY = 4,
    TERMS_KEY_JURISDICTIONS = 5,
    TERMS_KEY_CERTIFICATIONS = 6,
    TERMS_KEY_CARBON = 7,
    TERMS_KEY_CONSTRAINTS = 8,
    TERMS_KEY_COUNT = 9,
};

enum {
    CONSTRAINTS_KEY_COUNTRIES = 0,
    CONSTRAINTS_KEY_JURISDICTIONS = 1,
    CONSTRAINTS_KEY_CERTIFICATIONS = 2,
    CONSTRAINTS_KEY_DATA_CLASS = 3,
    CONSTRAINTS_KEY_RTT = 4,
    CONSTRAINTS_KEY_COST = 5,
    CONSTRAINTS_KEY_CARBON = 6,
    CONSTRAINTS_KEY_COUNT = 7,
};

enum {
    ENTRY_KEY_SEQ = 0,
    ENTRY_KEY_PREV = 1,
    ENTRY_KEY_RECORD = 2,
    ENTRY_KEY_LENDER_SIGNATURE = 3,
    ENTRY_KEY_BORROWER_SIGNATURE = 4,
    ENTRY_KEY_COUNT = 5,
};

static const char sign_domain[] = "fedmesh/v1/lease-record"; /* and its NUL */
static const char hash_context[] = "fedmesh/v1/ledger-entry";

_Static_assert(LEDGER_MODEL_SIZE_MAX == WIRE_MODEL_SIZE_MAX, "one model length");
_Static_assert(LEDGER_SIGNATURE_SIZE == crypto_sign_BYTES, "Ed25519 signature");
_Static_assert(LEDGER_KEY_SIZE == crypto_sign_PUBLICKEYBYTES, "Ed25519 public key");
_Static_assert(LEDGER_COUNTRIES_MAX == WIRE_LEASE_COUNTRIES_MAX, "one countries limit");
_Static_assert(LEDGER_JURISDICTIONS_MAX == WIRE_JURISDICTIONS_MAX, "one jurisdictions limit");
_Static_assert(LEDGER_DATA_CLASS_SIZE_MAX == WIRE_DATA_CLASS_SIZE_MAX, "one data class length");
_Static_assert(LEDGER_PRICE_MAX == WIRE_PRICE_MAX, "one price limit");
_Static_assert(LEDGER_CARBON_MAX == WIRE_CARBON_MAX, "one carbon limit");
_Static_assert(LEDGER_RECORD_SIZE_MAX == WIRE_LEASE_RECORD_SIZE_MAX, "a record fits a lease frame");
_Static_assert(LEDGER_RECORD_SIZE_WORST <= LEDGER_RECORD_SIZE_MAX, "every valid record fits");
_Static_assert(LEDGER_RECORD_SIZE_MAX + 3u + LEDGER_ENTRY_SIZE_FIXED_MAX <= LEDGER_ENTRY_SIZE_MAX,
               "every entry of a record that fits the record limit fits the entry limit");
// The forms LEDGER_RECORD_SIZE_WORST counts: fixmaps, fixarrays of amounts,
// prices and jurisdictions, an array16 of countries, a fixstr data class
// and str8 models.
_Static_assert(RECORD_KEY_COUNT < 16 && TERMS_KEY_COUNT < 16 && CONSTRAINTS_KEY_COUNT < 16,
               "fixmaps");
_Static_assert(LEDGER_AMOUNTS_MAX < 16 && LEDGER_JURISDICTIONS_MAX < 16, "fixarrays");
_Static_assert(LEDGER_COUNTRIES_MAX >= 16 && LEDGER_COUNTRIES_MAX <= UINT16_MAX, "an array16");
_Static_assert(LEDGER_DATA_CLASS_SIZE_MAX < 32, "a fixstr data class");
_Static_assert(LEDGER_MODEL_SIZE_MAX >= 32 && LEDGER_MODEL_SIZE_MAX < 256, "str8 models");

const char *ledger_kind_name(uint32_t kind)
{
    static const char *const names[] = {"unknown",  "opened",  "usage",   "reclaimed",
                                        "released", "expired", "settled", "credit"};
    return kind <= LEDGER_KIND_MAX ? names[kind] : names[0];
}

const char *ledger_class_name(uint32_t resource_class)
{
    static const char *const names[] = {"unknown", "vcpu_hours", "memory_gib_hours", "gpu_hours",
                                        "storage_gib_hours"};
    return resource_class <= LEDGER_CLASS_MAX ? names[resource_class] : names[0];
}

static int amount_compare(const ledger_amount *a, const ledger_amount *b)
{
    if (a->resource_class != b->resource_class) {
        return a->resource_class < b->resource_class ? -1 : 1;
    }
    return strcmp(a->model, b->model);
}

static bool amount_valid(const ledger_amount *amount)
{
    if (amount->resource_class < 1 || amount->resource_class > LEDGER_CLASS_MAX ||
        amount->amount_milli > LEDGER_AMOUNT_MILLI_MAX) {
        return false;
    }
    uint32_t size = wire_string_length(amount->model, sizeof(amount->model));
    if (amount->resource_class == LEDGER_CLASS_GPU) {
        return wire_model_valid((const uint8_t *) amount->model, size);
    }
    return size == 0;
}

// [a-z0-9-], 0..LEDGER_DATA_CLASS_SIZE_MAX bytes: the rule docs/leases.md
// gives a request's data class. A local equivalent because wire/ exports
// no validator for it (wire_name_valid also refuses empty names and edge
// dashes, which a data class may have).
static bool data_class_valid(const uint8_t *text, uint32_t size)
{
    MESH_ASSERT(text != NULL || size == 0);
    if (size > LEDGER_DATA_CLASS_SIZE_MAX) {
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

typedef bool (*code_rule)(const uint8_t *text, uint32_t size);

// A set of two-letter codes: count_max at most, each NUL-terminated in its
// three bytes and passing rule, strictly ascending.
static bool codes_valid(const char (*codes)[3], uint32_t count, uint32_t count_max, code_rule rule)
{
    MESH_ASSERT(rule != NULL);
    MESH_ASSERT(count_max <= LEDGER_COUNTRIES_MAX);
    if (count > count_max) {
        return false;
    }
    for (uint32_t i = 0; i < count; i++) {
        if (codes[i][2] != '\0' || !rule((const uint8_t *) codes[i], 2)) {
            return false;
        }
        if (i > 0 && memcmp(codes[i - 1], codes[i], 2) >= 0) {
            return false;
        }
    }
    return true;
}

static bool constraints_valid(const ledger_constraints *c)
{
    if (!codes_valid(c->countries, c->country_count, LEDGER_COUNTRIES_MAX,
                     wire_country_bytes_valid) ||
        !codes_valid(c->jurisdictions, c->jurisdiction_count, LEDGER_JURISDICTIONS_MAX,
                     wire_jurisdiction_valid)) {
        return false;
    }
    uint32_t data_class_size = wire_string_length(c->data_class, sizeof(c->data_class));
    if (data_class_size == sizeof(c->data_class) ||
        !data_class_valid((const uint8_t *) c->data_class, data_class_size)) {
        return false;
    }
    return (c->certifications & ~WIRE_CERTIFICATION_ALL) == 0 &&
           c->rtt_us_max <= LEDGER_RTT_US_MAX &&
           c->cost_microeur_per_hour_max <= LEDGER_PRICE_MAX &&
           c->carbon_gco2_per_kwh_max <= LEDGER_CARBON_MAX;
}

static bool terms_valid(const ledger_terms *terms, uint32_t amount_count)
{
    if (terms->start_ns <= 0 || terms->end_ns <= terms->start_ns ||
        terms->price_count != amount_count) {
        return false;
    }
    for (uint32_t i = 0; i < terms->price_count; i++) {
        if (terms->prices[i] > LEDGER_PRICE_MAX) {
            return false;
        }
    }
    if (terms->lender_country[2] != '\0' ||
        !wire_country_bytes_valid((const uint8_t *) terms->lender_country, 2)) {
        return false;
    }
    if (!codes_valid(terms->lender_jurisdictions, terms->lender_jurisdiction_count,
                     LEDGER_JURISDICTIONS_MAX, wire_jurisdiction_valid)) {
        return false;
    }
    return (terms->lender_certifications & ~WIRE_CERTIFICATION_ALL) == 0 &&
           terms->carbon_gco2_per_kwh <= LEDGER_CARBON_MAX &&
           constraints_valid(&terms->constraints);
}

static bool bytes_zero(const void *bytes, uint32_t size)
{
    const uint8_t *p = bytes;
    uint8_t any = 0;
    for (uint32_t i = 0; i < size; i++) {
        any |= p[i];
    }
    return any == 0;
}

// Every field zero. The struct's padding need not be (a copy by
// assignment may leave it anything), so all-zero bytes are only the fast
// path, for the zeroed struct every record but an opening
// has; when it fails, field by field decides, scalars first.
static bool terms_zero(const ledger_terms *terms)
{
    // A byte view of the whole struct: all zero is the common case.
    if (bytes_zero((const uint8_t *) terms, sizeof(*terms))) {
        return true;
    }
    const ledger_constraints *c = &terms->constraints;
    bool scalars_zero = terms->start_ns == 0 && terms->end_ns == 0 && terms->price_count == 0 &&
                        terms->lender_jurisdiction_count == 0 &&
                        terms->lender_certifications == 0 && terms->carbon_gco2_per_kwh == 0 &&
                        c->country_count == 0 && c->jurisdiction_count == 0 &&
                        c->certifications == 0 && c->rtt_us_max == 0 &&
                        c->cost_microeur_per_hour_max == 0 && c->carbon_gco2_per_kwh_max == 0;
    return scalars_zero && bytes_zero(terms->prices, sizeof(terms->prices)) &&
           bytes_zero(terms->lender_cert_hash, sizeof(terms->lender_cert_hash)) &&
           bytes_zero(terms->lender_country, sizeof(terms->lender_country)) &&
           bytes_zero(terms->lender_jurisdictions, sizeof(terms->lender_jurisdictions)) &&
           bytes_zero(c->countries, sizeof(c->countries)) &&
           bytes_zero(c->jurisdictions, sizeof(c->jurisdictions)) &&
           bytes_zero(c->data_class, sizeof(c->data_class));
}

// The encoder's gate, and the decoder's last check.
static bool record_valid(const ledger_record *record)
{
    if (record->version != LEDGER_RECORD_VERSION || record->kind < 1 ||
        record->kind > LEDGER_KIND_MAX || record->amount_count > LEDGER_AMOUNTS_MAX) {
        return false;
    }
    // Public keys: no need for a constant-time comparison.
    if (memcmp(record->lender_key, record->borrower_key, LEDGER_KEY_SIZE) == 0) {
        return false;
    }
    bool no_amounts = record->kind == LEDGER_KIND_RECLAIMED ||
                      record->kind == LEDGER_KIND_RELEASED || record->kind == LEDGER_KIND_EXPIRED;
    if (no_amounts && record->amount_count != 0) {
        return false;
    }
    bool first = record->kind == LEDGER_KIND_OPENED || record->kind == LEDGER_KIND_CREDIT;
    if (first != (record->number == 0)) {
        return false;
    }
    for (uint32_t i = 0; i < record->amount_count; i++) {
        if (!amount_valid(&record->amounts[i])) {
            return false;
        }
        if (i > 0 && amount_compare(&record->amounts[i - 1], &record->amounts[i]) >= 0) {
            return false;
        }
    }
    if (record->kind == LEDGER_KIND_OPENED) {
        return terms_valid(&record->terms, record->amount_count);
    }
    return terms_zero(&record->terms);
}

static void write_codes(wire_writer *writer, const char (*codes)[3], uint32_t count)
{
    wire_write_array(writer, count);
    for (uint32_t i = 0; i < count; i++) {
        wire_write_str(writer, codes[i], 2);
    }
}

static void write_terms(wire_writer *writer, const ledger_terms *terms)
{
    const ledger_constraints *c = &terms->constraints;
    wire_write_map(writer, TERMS_KEY_COUNT);
    wire_write_uint(writer, TERMS_KEY_START);
    wire_write_int64(writer, terms->start_ns);
    wire_write_uint(writer, TERMS_KEY_END);
    wire_write_int64(writer, terms->end_ns);
    wire_write_uint(writer, TERMS_KEY_PRICES);
    wire_write_array(writer, terms->price_count);
    for (uint32_t i = 0; i < terms->price_count; i++) {
        wire_write_uint(writer, terms->prices[i]);
    }
    wire_write_uint(writer, TERMS_KEY_CERT_HASH);
    wire_write_bin(writer, terms->lender_cert_hash, LEDGER_HASH_SIZE);
    wire_write_uint(writer, TERMS_KEY_COUNTRY);
    wire_write_str(writer, terms->lender_country, 2);
    wire_write_uint(writer, TERMS_KEY_JURISDICTIONS);
    write_codes(writer, terms->lender_jurisdictions, terms->lender_jurisdiction_count);
    wire_write_uint(writer, TERMS_KEY_CERTIFICATIONS);
    wire_write_uint(writer, terms->lender_certifications);
    wire_write_uint(writer, TERMS_KEY_CARBON);
    wire_write_uint(writer, terms->carbon_gco2_per_kwh);
    wire_write_uint(writer, TERMS_KEY_CONSTRAINTS);
    wire_write_map(writer, CONSTRAINTS_KEY_COUNT);
    wire_write_uint(writer, CONSTRAINTS_KEY_COUNTRIES);
    write_codes(writer, c->countries, c->country_count);
    wire_write_uint(writer, CONSTRAINTS_KEY_JURISDICTIONS);
    write_codes(writer, c->jurisdictions, c->jurisdiction_count);
    wire_write_uint(writer, CONSTRAINTS_KEY_CERTIFICATIONS);
    wire_write_uint(writer, c->certifications);
    wire_write_uint(writer, CONSTRAINTS_KEY_DATA_CLASS);
    wire_write_str(writer, c->data_class, wire_string_length(c->data_class, sizeof(c->data_class)));
    wire_write_uint(writer, CONSTRAINTS_KEY_RTT);
    wire_write_uint(writer, c->rtt_us_max);
    wire_write_uint(writer, CONSTRAINTS_KEY_COST);
    wire_write_uint(writer, c->cost_microeur_per_hour_max);
    wire_write_uint(writer, CONSTRAINTS_KEY_CARBON);
    wire_write_uint(writer, c->carbon_gco2_per_kwh_max);
}

mesh_err ledger_record_encode(const ledger_record *record,
                              uint8_t *buf,
                              uint32_t buf_size,
                              uint32_t *size_out)
{
    MESH_ASSERT(record != NULL && buf != NULL);
    MESH_ASSERT(size_out != NULL);
    if (!record_valid(record)) {
        return MESH_EINVAL;
    }
    bool opened = record->kind == LEDGER_KIND_OPENED;
    wire_writer writer;
    wire_writer_init(&writer, buf, buf_size);
    wire_write_map(&writer, opened ? RECORD_KEY_COUNT : RECORD_KEY_COUNT - 1);
    wire_write_uint(&writer, RECORD_KEY_VERSION);
    wire_write_uint(&writer, record->version);
    wire_write_uint(&writer, RECORD_KEY_KIND);
    wire_write_uint(&writer, record->kind);
    wire_write_uint(&writer, RECORD_KEY_LEASE_ID);
    wire_write_bin(&writer, record->lease_id, LEDGER_LEASE_ID_SIZE);
    wire_write_uint(&writer, RECORD_KEY_NUMBER);
    wire_write_uint(&writer, record->number);
    wire_write_uint(&writer, RECORD_KEY_LENDER);
    wire_write_bin(&writer, record->lender_key, LEDGER_KEY_SIZE);
    wire_write_uint(&writer, RECORD_KEY_BORROWER);
    wire_write_bin(&writer, record->borrower_key, LEDGER_KEY_SIZE);
    wire_write_uint(&writer, RECORD_KEY_TIME);
    wire_write_int64(&writer, record->time_ns);
    wire_write_uint(&writer, RECORD_KEY_AMOUNTS);
    wire_write_array(&writer, record->amount_count);
    for (uint32_t i = 0; i < record->amount_count; i++) {
        const ledger_amount *amount = &record->amounts[i];
        wire_write_array(&writer, 3);
        wire_write_uint(&writer, amount->resource_class);
        wire_write_str(&writer, amount->model,
                       wire_string_length(amount->model, sizeof(amount->model)));
        wire_write_uint(&writer, amount->amount_milli);
    }
    if (opened) {
        wire_write_uint(&writer, RECORD_KEY_TERMS);
        write_terms(&writer, &record->terms);
    }
    mesh_err err = wire_writer_finish(&writer, size_out);
    MESH_ASSERT(err != MESH_OK || *size_out <= LEDGER_RECORD_SIZE_WORST);
    return err;
}

static mesh_err read_amount(wire_reader *reader, ledger_amount *amount)
{
    uint32_t start = reader->offset;
    uint32_t count = 0;
    mesh_err err = wire_read_array(reader, 3, &count);
    if (err == MESH_OK && count != 3) {
        return wire_reader_fail(reader, WIRE_REASON_LENGTH, start);
    }
    uint64_t value = 0;
    if (err == MESH_OK) {
        err = wire_read_uint(reader, LEDGER_CLASS_MAX, &value);
    }
    const uint8_t *model = NULL;
    uint32_t model_size = 0;
    if (err == MESH_OK) {
        amount->resource_class = (uint32_t) value;
        err = wire_read_str(reader, LEDGER_MODEL_SIZE_MAX, &model, &model_size);
    }
    // The model's rules hold on the bytes as they came: a NUL inside
    // would otherwise cut the copy short and re-encode shorter (the fuzz
    // target found that).
    bool model_ok = amount->resource_class == LEDGER_CLASS_GPU
                        ? model != NULL && wire_model_valid(model, model_size)
                        : model_size == 0;
    if (err == MESH_OK && !model_ok) {
        return wire_reader_fail(reader, WIRE_REASON_RANGE, start);
    }
    if (err == MESH_OK) {
        memcpy(amount->model, model, model_size);
        amount->model[model_size] = '\0';
        err = wire_read_uint(reader, LEDGER_AMOUNT_MILLI_MAX, &amount->amount_milli);
    }
    if (err == MESH_OK && !amount_valid(amount)) {
        return wire_reader_fail(reader, WIRE_REASON_RANGE, start);
    }
    return err;
}

// A set of codes (codes_valid's rules, checked on the bytes as they come),
// copied NUL-terminated.
static mesh_err read_codes(
    wire_reader *reader, uint32_t count_max, code_rule rule, char (*codes)[3], uint32_t *count_out)
{
    MESH_ASSERT(count_max <= LEDGER_COUNTRIES_MAX);
    uint32_t count = 0;
    mesh_err err = wire_read_array(reader, count_max, &count);
    for (uint32_t i = 0; err == MESH_OK && i < count; i++) {
        uint32_t start = reader->offset;
        const uint8_t *code = NULL;
        uint32_t size = 0;
        err = wire_read_str(reader, 2, &code, &size);
        if (err != MESH_OK) {
            break;
        }
        if (!rule(code, size) || (i > 0 && memcmp(codes[i - 1], code, 2) >= 0)) {
            return wire_reader_fail(reader, WIRE_REASON_RANGE, start);
        }
        memcpy(codes[i], code, 2);
        codes[i][2] = '\0';
    }
    *count_out = count;
    return err;
}

static mesh_err read_uint32(wire_reader *reader, uint32_t value_max, uint32_t *value_out)
{
    uint64_t value = 0;
    mesh_err err = wire_read_uint(reader, value_max, &value);
    *value_out = (uint32_t) value;
    return err;
}

static mesh_err read_constraints_field(wire_reader *reader, uint32_t key, ledger_constraints *c)
{
    switch (key) {
    case CONSTRAINTS_KEY_COUNTRIES:
        return read_codes(reader, LEDGER_COUNTRIES_MAX, wire_country_bytes_valid, c->countries,
                          &c->country_count);
    case CONSTRAINTS_KEY_JURISDICTIONS:
        return read_codes(reader, LEDGER_JURISDICTIONS_MAX, wire_jurisdiction_valid,
                          c->jurisdictions, &c->jurisdiction_count);
    case CONSTRAINTS_KEY_CERTIFICATIONS:
        return read_uint32(reader, WIRE_CERTIFICATION_ALL, &c->certifications);
    case CONSTRAINTS_KEY_DATA_CLASS: {
        uint32_t start = reader->offset;
        const uint8_t *text = NULL;
        uint32_t size = 0;
        mesh_err err = wire_read_str(reader, LEDGER_DATA_CLASS_SIZE_MAX, &text, &size);
        if (err != MESH_OK) {
            return err;
        }
        if (!data_class_valid(text, size)) {
            return wire_reader_fail(reader, WIRE_REASON_RANGE, start);
        }
        memcpy(c->data_class, text, size);
        c->data_class[size] = '\0';
        return MESH_OK;
    }
    case CONSTRAINTS_KEY_RTT:
        return read_uint32(reader, LEDGER_RTT_US_MAX, &c->rtt_us_max);
    case CONSTRAINTS_KEY_COST:
        return wire_read_uint(reader, LEDGER_PRICE_MAX, &c->cost_microeur_per_hour_max);
    default:
        MESH_ASSERT(key == CONSTRAINTS_KEY_CARBON);
        return read_uint32(reader, LEDGER_CARBON_MAX, &c->carbon_gco2_per_kwh_max);
    }
}

static mesh_err read_constraints(wire_reader *reader, ledger_constraints *c)
{
    wire_body_map map;
    mesh_err err = wire_map_begin(reader, CONSTRAINTS_KEY_COUNT, &map);
    for (uint32_t i = 0; err == MESH_OK && i < map.count; i++) {
        uint32_t key = 0;
        err = wire_map_next_key(reader, &map, &key);
        if (err == MESH_OK) {
            err = read_constraints_field(reader, key, c);
        }
    }
    return err == MESH_OK ? wire_map_end(reader, &map) : err;
}

static mesh_err read_terms_field(wire_reader *reader, uint32_t key, ledger_terms *terms)
{
    switch (key) {
    case TERMS_KEY_START:
        return wire_read_int64(reader, &terms->start_ns);
    case TERMS_KEY_END:
        return wire_read_int64(reader, &terms->end_ns);
    case TERMS_KEY_PRICES: {
        uint32_t count = 0;
        mesh_err err = wire_read_array(reader, LEDGER_AMOUNTS_MAX, &count);
        for (uint32_t i = 0; err == MESH_OK && i < count; i++) {
            err = wire_read_uint(reader, LEDGER_PRICE_MAX, &terms->prices[i]);
        }
        terms->price_count = count;
        return err;
    }
    case TERMS_KEY_CERT_HASH:
        return wire_decode_bin_fixed(reader, terms->lender_cert_hash, LEDGER_HASH_SIZE);
    case TERMS_KEY_COUNTRY: {
        uint32_t start = reader->offset;
        const uint8_t *code = NULL;
        uint32_t size = 0;
        mesh_err err = wire_read_str(reader, 2, &code, &size);
        if (err == MESH_OK && !wire_country_bytes_valid(code, size)) {
            return wire_reader_fail(reader, WIRE_REASON_RANGE, start);
        }
        if (err == MESH_OK) {
            memcpy(terms->lender_country, code, 2);
            terms->lender_country[2] = '\0';
        }
        return err;
    }
    case TERMS_KEY_JURISDICTIONS:
        return read_codes(reader, LEDGER_JURISDICTIONS_MAX, wire_jurisdiction_valid,
                          terms->lender_jurisdictions, &terms->lender_jurisdiction_count);
    case TERMS_KEY_CERTIFICATIONS:
        return read_uint32(reader, WIRE_CERTIFICATION_ALL, &terms->lender_certifications);
    case TERMS_KEY_CARBON:
        return read_uint32(reader, LEDGER_CARBON_MAX, &terms->carbon_gco2_per_kwh);
    default:
        MESH_ASSERT(key == TERMS_KEY_CONSTRAINTS);
        return read_constraints(reader, &terms->constraints);
    }
}

static mesh_err read_terms(wire_reader *reader, ledger_terms *terms)
{
    wire_body_map map;
    mesh_err err = wire_map_begin(reader, TERMS_KEY_COUNT, &map);
    for (uint32_t i = 0; err == MESH_OK && i < map.count; i++) {
        uint32_t key = 0;
        err = wire_map_next_key(reader, &map, &key);
        if (err == MESH_OK) {
            err = read_terms_field(reader, key, terms);
        }
    }
    return err == MESH_OK ? wire_map_end(reader, &map) : err;
}

static mesh_err read_record_field(wire_reader *reader, uint32_t key, ledger_record *record)
{
    uint32_t start = reader->offset;
    uint64_t value = 0;
    mesh_err err = MESH_OK;
    switch (key) {
    case RECORD_KEY_VERSION:
        // Refused here, before any other field is read under a schema
        // that may not be the record's.
        err = wire_read_uint(reader, UINT32_MAX, &value);
        if (err == MESH_OK && value != LEDGER_RECORD_VERSION) {
            return wire_reader_fail(reader, WIRE_REASON_VERSION, start);
        }
        record->version = (uint32_t) value;
        return err;
    case RECORD_KEY_KIND:
        return read_uint32(reader, LEDGER_KIND_MAX, &record->kind);
    case RECORD_KEY_LEASE_ID:
        return wire_decode_bin_fixed(reader, record->lease_id, LEDGER_LEASE_ID_SIZE);
    case RECORD_KEY_NUMBER:
        return read_uint32(reader, UINT32_MAX, &record->number);
    case RECORD_KEY_LENDER:
        return wire_decode_bin_fixed(reader, record->lender_key, LEDGER_KEY_SIZE);
    case RECORD_KEY_BORROWER:
        return wire_decode_bin_fixed(reader, record->borrower_key, LEDGER_KEY_SIZE);
    case RECORD_KEY_TIME:
        return wire_read_int64(reader, &record->time_ns);
    case RECORD_KEY_AMOUNTS: {
        uint32_t count = 0;
        err = wire_read_array(reader, LEDGER_AMOUNTS_MAX, &count);
        for (uint32_t i = 0; err == MESH_OK && i < count; i++) {
            err = read_amount(reader, &record->amounts[i]);
        }
        record->amount_count = count;
        return err;
    }
    default:
        MESH_ASSERT(key == RECORD_KEY_TERMS);
        // Keys ascend, so the kind (key 1) is known: terms on any other
        // kind are refused before they are read.
        if (record->kind != LEDGER_KIND_OPENED) {
            return wire_reader_fail(reader, WIRE_REASON_UNKNOWN_FIELD, start);
        }
        return read_terms(reader, &record->terms);
    }
}

static mesh_err record_decode_fields(wire_reader *reader, void *value_out)
{
    ledger_record *record = value_out;
    uint32_t start = reader->offset;
    wire_body_map map;
    mesh_err err = wire_map_begin(reader, RECORD_KEY_COUNT, &map);
    for (uint32_t i = 0; err == MESH_OK && i < map.count; i++) {
        uint32_t key = 0;
        err = wire_map_next_key(reader, &map, &key);
        if (err == MESH_OK) {
            err = read_record_field(reader, key, record);
        }
    }
    if (err != MESH_OK) {
        return err;
    }
    // Every key but the terms is required; the terms are required of an
    // OPENED record (and refused elsewhere, above).
    uint32_t required = (1u << RECORD_KEY_TERMS) - 1u;
    if (record->kind == LEDGER_KIND_OPENED) {
        required |= 1u << RECORD_KEY_TERMS;
    }
    if (map.seen_mask != required) {
        return wire_reader_fail(reader, WIRE_REASON_MISSING_FIELD, reader->offset);
    }
    // Rules across fields (order of amounts, kind against number, two
    // distinct parties, one price per amount, the window) once every
    // field is in.
    if (!record_valid(record)) {
        return wire_reader_fail(reader, WIRE_REASON_RANGE, start);
    }
    return MESH_OK;
}

mesh_err ledger_record_decode(const uint8_t *bytes, uint32_t size, ledger_record *record_out)
{
    MESH_ASSERT(bytes != NULL || size == 0);
    MESH_ASSERT(record_out != NULL);
    ledger_record record;
    memset(&record, 0, sizeof(record));
    mesh_err err =
        wire_decode_top(bytes, size, LEDGER_RECORD_SIZE_MAX, record_decode_fields, &record, NULL);
    if (err != MESH_OK) {
        return err;
    }
    *record_out = record;
    return MESH_OK;
}

static void entry_hash(const uint8_t *bytes, uint32_t size, uint8_t hash_out[LEDGER_HASH_SIZE])
{
    crypto_generichash_state state;
    (void) crypto_generichash_init(&state, NULL, 0, LEDGER_HASH_SIZE);
    (void) crypto_generichash_update(&state, (const uint8_t *) hash_context, sizeof(hash_context));
    (void) crypto_generichash_update(&state, bytes, size);
    (void) crypto_generichash_final(&state, hash_out, LEDGER_HASH_SIZE);
}

mesh_err ledger_entry_encode(uint64_t seq,
                             const uint8_t prev_hash[LEDGER_HASH_SIZE],
                             const uint8_t *record_bytes,
                             uint32_t record_size,
                             const uint8_t *lender_signature,
                             const uint8_t *borrower_signature,
                             uint8_t *value_out,
                             uint32_t value_size_max,
                             uint32_t *value_size_out)
{
    MESH_ASSERT(prev_hash != NULL && record_bytes != NULL);
    MESH_ASSERT(value_out != NULL && value_size_out != NULL);
    if (seq == 0 || record_size == 0 || record_size > LEDGER_RECORD_SIZE_MAX ||
        value_size_max < LEDGER_HASH_SIZE) {
        return MESH_EINVAL;
    }
    wire_writer writer;
    wire_writer_init(&writer, value_out, value_size_max - LEDGER_HASH_SIZE);
    wire_write_map(&writer, ENTRY_KEY_COUNT);
    wire_write_uint(&writer, ENTRY_KEY_SEQ);
    wire_write_uint(&writer, seq);
    wire_write_uint(&writer, ENTRY_KEY_PREV);
    wire_write_bin(&writer, prev_hash, LEDGER_HASH_SIZE);
    wire_write_uint(&writer, ENTRY_KEY_RECORD);
    wire_write_bin(&writer, record_bytes, record_size);
    wire_write_uint(&writer, ENTRY_KEY_LENDER_SIGNATURE);
    wire_write_bin(&writer, lender_signature, lender_signature ? LEDGER_SIGNATURE_SIZE : 0);
    wire_write_uint(&writer, ENTRY_KEY_BORROWER_SIGNATURE);
    wire_write_bin(&writer, borrower_signature, borrower_signature ? LEDGER_SIGNATURE_SIZE : 0);
    uint32_t size = 0;
    mesh_err err = wire_writer_finish(&writer, &size);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(size <= LEDGER_ENTRY_SIZE_MAX);
    entry_hash(value_out, size, value_out + size);
    *value_size_out = size + LEDGER_HASH_SIZE;
    return MESH_OK;
}

static mesh_err read_signature(wire_reader *reader, bool *present_out, uint8_t *signature)
{
    uint32_t start = reader->offset;
    const uint8_t *bytes = NULL;
    uint32_t size = 0;
    mesh_err err = wire_read_bin(reader, LEDGER_SIGNATURE_SIZE, &bytes, &size);
    if (err != MESH_OK) {
        return err;
    }
    if (size != 0 && size != LEDGER_SIGNATURE_SIZE) {
        return wire_reader_fail(reader, WIRE_REASON_LENGTH, start);
    }
    *present_out = size != 0;
    if (size != 0) {
        memcpy(signature, bytes, size);
    }
    return MESH_OK;
}

static mesh_err read_entry_field(wire_reader *reader, uint32_t key, ledger_entry *entry)
{
    switch (key) {
    case ENTRY_KEY_SEQ:
        return wire_read_uint(reader, UINT64_MAX, &entry->seq);
    case ENTRY_KEY_PREV:
        return wire_decode_bin_fixed(reader, entry->prev_hash, LEDGER_HASH_SIZE);
    case ENTRY_KEY_RECORD: {
        uint32_t start = reader->offset;
        mesh_err err = wire_read_bin(reader, LEDGER_RECORD_SIZE_MAX, &entry->record_bytes,
                                     &entry->record_size);
        if (err == MESH_OK && ledger_record_decode(entry->record_bytes, entry->record_size,
                                                   &entry->record) != MESH_OK) {
            return wire_reader_fail(reader, WIRE_REASON_RANGE, start);
        }
        return err;
    }
    case ENTRY_KEY_LENDER_SIGNATURE:
        return read_signature(reader, &entry->has_lender_signature, entry->lender_signature);
    default:
        MESH_ASSERT(key == ENTRY_KEY_BORROWER_SIGNATURE);
        return read_signature(reader, &entry->has_borrower_signature, entry->borrower_signature);
    }
}

static mesh_err entry_decode_fields(wire_reader *reader, void *value_out)
{
    ledger_entry *entry = value_out;
    uint32_t start = reader->offset;
    wire_body_map map;
    mesh_err err = wire_map_begin(reader, ENTRY_KEY_COUNT, &map);
    for (uint32_t i = 0; err == MESH_OK && i < map.count; i++) {
        uint32_t key = 0;
        err = wire_map_next_key(reader, &map, &key);
        if (err == MESH_OK) {
            err = read_entry_field(reader, key, entry);
        }
    }
    if (err == MESH_OK) {
        err = wire_map_end(reader, &map);
    }
    if (err == MESH_OK && entry->seq == 0) {
        return wire_reader_fail(reader, WIRE_REASON_RANGE, start);
    }
    return err;
}

mesh_err ledger_entry_decode(const uint8_t *value, uint32_t value_size, ledger_entry *entry_out)
{
    MESH_ASSERT(value != NULL || value_size == 0);
    MESH_ASSERT(entry_out != NULL);
    if (value_size <= LEDGER_HASH_SIZE || value_size > LEDGER_VALUE_SIZE_MAX) {
        return MESH_EPROTO;
    }
    uint32_t size = value_size - LEDGER_HASH_SIZE;
    ledger_entry entry;
    memset(&entry, 0, sizeof(entry));
    entry_hash(value, size, entry.hash);
    if (sodium_memcmp(entry.hash, value + size, LEDGER_HASH_SIZE) != 0) {
        return MESH_ECORRUPT;
    }
    mesh_err err =
        wire_decode_top(value, size, LEDGER_ENTRY_SIZE_MAX, entry_decode_fields, &entry, NULL);
    if (err != MESH_OK) {
        return err;
    }
    *entry_out = entry;
    return MESH_OK;
}

// "fedmesh/v1/lease-record" NUL record: at most 24 + LEDGER_RECORD_SIZE_MAX bytes.
static uint32_t sign_message(const uint8_t *record_bytes, uint32_t record_size, uint8_t *message)
{
    MESH_ASSERT(record_size <= LEDGER_RECORD_SIZE_MAX);
    memcpy(message, sign_domain, sizeof(sign_domain));
    memcpy(message + sizeof(sign_domain), record_bytes, record_size);
    return (uint32_t) sizeof(sign_domain) + record_size;
}

mesh_err ledger_entry_check_signatures(const ledger_entry *entry)
{
    MESH_ASSERT(entry != NULL);
    MESH_ASSERT(entry->record_bytes != NULL);
    uint8_t message[sizeof(sign_domain) + LEDGER_RECORD_SIZE_MAX];
    uint32_t size = sign_message(entry->record_bytes, entry->record_size, message);
    if (entry->has_lender_signature &&
        crypto_sign_verify_detached(entry->lender_signature, message, size,
                                    entry->record.lender_key) != 0) {
        return MESH_EAUTH;
    }
    if (entry->has_borrower_signature &&
        crypto_sign_verify_detached(entry->borrower_signature, message, size,
                                    entry->record.borrower_key) != 0) {
        return MESH_EAUTH;
    }
    return MESH_OK;
}

mesh_err ledger_record_sign(const ledger_record *record,
                            const uint8_t secret_key[64],
                            uint8_t signature_out[LEDGER_SIGNATURE_SIZE])
{
    MESH_ASSERT(record != NULL && secret_key != NULL);
    MESH_ASSERT(signature_out != NULL);
    uint8_t bytes[LEDGER_RECORD_SIZE_MAX];
    uint32_t size = 0;
    mesh_err err = ledger_record_encode(record, bytes, sizeof(bytes), &size);
    if (err != MESH_OK) {
        return err == MESH_EFULL ? MESH_EINVAL : err;
    }
    uint8_t message[sizeof(sign_domain) + LEDGER_RECORD_SIZE_MAX];
    uint32_t message_size = sign_message(bytes, size, message);
    if (crypto_sign_detached(signature_out, NULL, message, message_size, secret_key) != 0) {
        return MESH_EINTERNAL;
    }
    return MESH_OK;
}

mesh_err ledger_record_verify(const ledger_record *record,
                              const uint8_t public_key[LEDGER_KEY_SIZE],
                              const uint8_t signature[LEDGER_SIGNATURE_SIZE])
{
    MESH_ASSERT(record != NULL && public_key != NULL);
    MESH_ASSERT(signature != NULL);
    uint8_t bytes[LEDGER_RECORD_SIZE_MAX];
    uint32_t size = 0;
    if (ledger_record_encode(record, bytes, sizeof(bytes), &size) != MESH_OK) {
        return MESH_EINVAL;
    }
    uint8_t message[sizeof(sign_domain) + LEDGER_RECORD_SIZE_MAX];
    uint32_t message_size = sign_message(bytes, size, message);
    return crypto_sign_verify_detached(signature, message, message_size, public_key) == 0
               ? MESH_OK
               : MESH_EAUTH;
}

void ledger_hex(const uint8_t *bytes, uint32_t size, char *text, uint32_t text_size)
{
    MESH_ASSERT(text != NULL && text_size >= 1);
    static const char digits[] = "0123456789abcdef";
    uint32_t at = 0;
    for (uint32_t i = 0; i < size && at + 2 < text_size; i++) {
        text[at++] = digits[bytes[i] >> 4];
        text[at++] = digits[bytes[i] & 15];
    }
    text[at] = '\0';
}
