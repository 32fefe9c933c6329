/*
 * tests/unit/ledger_record_test.c: the lease record, version 2: its
 * canonical encoding with every field at its limits, what the encoder and
 * the decoder refuse (each refusal checked on both sides, so that the
 * encoder never writes what the decoder refuses), the size bound, and the
 * ledger's reading tools (verify, reconcile, walk) on ledgers of the
 * largest records. Also the storage weight: a GiB-hour of storage is
 * 1/1024 vCPU-hour equivalent, summed exactly.
 *
 * Decoder refusals are made by splicing bytes of a valid encoding: the
 * test names the bytes it replaces (a unique pattern in the encoding), so
 * each case reads as the change it makes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/ledger_fixture.h"

#define T0      1795000000000000000ll
#define DAY_NS  (86400ull * MESH_NS_PER_S)
#define BUF_MAX (LEDGER_RECORD_SIZE_MAX + 64u)

typedef struct world {
    fixture_party a;
    fixture_party b;
    fixture_party c;
} world;

static int setup(void **state)
{
    static world w;
    memset(&w, 0, sizeof(w));
    assert_int_equal(mcrypto_init(), MESH_OK);
    fixture_party_make(&w.a, 0);
    fixture_party_make(&w.b, 1);
    fixture_party_make(&w.c, 2);
    *state = &w;
    return 0;
}

// Thirty-two assigned codes in order: the EU's 27 and CH GB IS LI NO.
static const char *const europe[LEDGER_COUNTRIES_MAX] = {
    "AT", "BE", "BG", "CH", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GB", "GR", "HR", "HU",
    "IE", "IS", "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK"};
static const char *const jurisdictions8[LEDGER_JURISDICTIONS_MAX] = {"AT", "BE", "DE", "EU",
                                                                     "FR", "IT", "NL", "PL"};

// An OPENED record with every field at its widest: eight GPU amounts with
// 32-byte models and the largest amounts and prices, every list full, the
// longest data class, every number at its limit.
static void make_limits_record(const world *w, ledger_record *r)
{
    uint8_t id[LEDGER_LEASE_ID_SIZE];
    memset(id, 0xff, sizeof(id));
    fixture_record(r, LEDGER_KIND_OPENED, id, 0, &w->a, &w->b, INT64_MIN, 0, 0);
    r->amount_count = LEDGER_AMOUNTS_MAX;
    for (uint32_t i = 0; i < LEDGER_AMOUNTS_MAX; i++) {
        ledger_amount *a = &r->amounts[i];
        a->resource_class = LEDGER_CLASS_GPU;
        memset(a->model, 'Z', LEDGER_MODEL_SIZE_MAX);
        a->model[LEDGER_MODEL_SIZE_MAX - 1] = (char) ('0' + i);
        a->model[LEDGER_MODEL_SIZE_MAX] = '\0';
        a->amount_milli = LEDGER_AMOUNT_MILLI_MAX;
    }
    ledger_terms *t = &r->terms;
    t->start_ns = INT64_MAX - 1;
    t->end_ns = INT64_MAX;
    t->price_count = LEDGER_AMOUNTS_MAX;
    for (uint32_t i = 0; i < LEDGER_AMOUNTS_MAX; i++) {
        t->prices[i] = LEDGER_PRICE_MAX;
    }
    memset(t->lender_cert_hash, 0xee, LEDGER_HASH_SIZE);
    fixture_code(t->lender_country, "ZW");
    t->lender_jurisdiction_count = LEDGER_JURISDICTIONS_MAX;
    for (uint32_t i = 0; i < LEDGER_JURISDICTIONS_MAX; i++) {
        fixture_code(t->lender_jurisdictions[i], jurisdictions8[i]);
    }
    t->lender_certifications = WIRE_CERTIFICATION_ALL;
    t->carbon_gco2_per_kwh = LEDGER_CARBON_MAX;
    ledger_constraints *c = &t->constraints;
    c->country_count = LEDGER_COUNTRIES_MAX;
    for (uint32_t i = 0; i < LEDGER_COUNTRIES_MAX; i++) {
        fixture_code(c->countries[i], europe[i]);
    }
    c->jurisdiction_count = LEDGER_JURISDICTIONS_MAX;
    for (uint32_t i = 0; i < LEDGER_JURISDICTIONS_MAX; i++) {
        fixture_code(c->jurisdictions[i], jurisdictions8[i]);
    }
    c->certifications = WIRE_CERTIFICATION_ALL;
    memset(c->data_class, 'z', LEDGER_DATA_CLASS_SIZE_MAX);
    c->data_class[3] = '-';
    c->data_class[LEDGER_DATA_CLASS_SIZE_MAX - 1] = '9';
    c->data_class[LEDGER_DATA_CLASS_SIZE_MAX] = '\0';
    c->rtt_us_max = LEDGER_RTT_US_MAX;
    c->cost_microeur_per_hour_max = LEDGER_PRICE_MAX;
    c->carbon_gco2_per_kwh_max = LEDGER_CARBON_MAX;
}

// A small OPENED record whose bytes the splice cases below know: vCPU and
// GPU amounts priced 40,000 (cd 9c 40) and 2,500,000 (ce 00 26 25 a0), a
// window 1000 (cd 03 e8) .. 2000 (cd 07 d0), constraints on BE DE FR NL
// and the data class "health-data".
static void make_small_opened(const world *w, ledger_record *r)
{
    uint8_t id[LEDGER_LEASE_ID_SIZE];
    fixture_lease_id(id, 1);
    fixture_record(r, LEDGER_KIND_OPENED, id, 0, &w->a, &w->b, T0, 16000, 2000);
    r->terms.start_ns = 1000;
    r->terms.end_ns = 2000;
}

static void encode_ok(const ledger_record *r, uint8_t *buf, uint32_t *size)
{
    mesh_err err = ledger_record_encode(r, buf, BUF_MAX, size);
    assert_int_equal(err, MESH_OK);
}

// Replaces the one occurrence of find (find_size bytes) in buf with
// replace; the pattern must occur exactly once.
static void splice(uint8_t *buf,
                   uint32_t *size,
                   const uint8_t *find,
                   uint32_t find_size,
                   const uint8_t *replace,
                   uint32_t replace_size)
{
    uint32_t at = UINT32_MAX;
    for (uint32_t i = 0; i + find_size <= *size; i++) {
        if (memcmp(buf + i, find, find_size) == 0) {
            assert_int_equal(at, UINT32_MAX); /* unique */
            at = i;
        }
    }
    assert_int_not_equal(at, UINT32_MAX);
    uint32_t tail = *size - at - find_size;
    assert_true(*size - find_size + replace_size <= BUF_MAX);
    memmove(buf + at + replace_size, buf + at + find_size, tail);
    memcpy(buf + at, replace, replace_size);
    *size = *size - find_size + replace_size;
}

#define SPLICE(buf, size, find, replace) \
    splice((buf), (size), (find), sizeof(find), (replace), sizeof(replace))

static void assert_refused(const uint8_t *buf, uint32_t size)
{
    ledger_record out;
    assert_int_equal(ledger_record_decode(buf, size, &out), MESH_EPROTO);
}

static void assert_round_trip(const ledger_record *r, uint32_t size_expected)
{
    uint8_t buf[BUF_MAX];
    uint32_t size = 0;
    encode_ok(r, buf, &size);
    if (size_expected != 0) {
        assert_int_equal(size, size_expected);
    }
    ledger_record decoded;
    assert_int_equal(ledger_record_decode(buf, size, &decoded), MESH_OK);
    uint8_t again[BUF_MAX];
    uint32_t again_size = 0;
    encode_ok(&decoded, again, &again_size);
    assert_int_equal(again_size, size);
    assert_memory_equal(again, buf, size);
    assert_int_equal(decoded.version, LEDGER_RECORD_VERSION);
    assert_int_equal(decoded.kind, r->kind);
    assert_int_equal(decoded.amount_count, r->amount_count);
    assert_int_equal(decoded.terms.price_count, r->terms.price_count);
    assert_int_equal(decoded.terms.start_ns, r->terms.start_ns);
    assert_int_equal(decoded.terms.end_ns, r->terms.end_ns);
    assert_memory_equal(decoded.terms.lender_cert_hash, r->terms.lender_cert_hash,
                        LEDGER_HASH_SIZE);
    assert_string_equal(decoded.terms.lender_country, r->terms.lender_country);
    assert_int_equal(decoded.terms.constraints.country_count, r->terms.constraints.country_count);
    for (uint32_t i = 0; i < r->terms.constraints.country_count; i++) {
        assert_string_equal(decoded.terms.constraints.countries[i],
                            r->terms.constraints.countries[i]);
    }
    assert_string_equal(decoded.terms.constraints.data_class, r->terms.constraints.data_class);
    assert_int_equal(decoded.terms.constraints.rtt_us_max, r->terms.constraints.rtt_us_max);
    assert_int_equal(decoded.terms.constraints.cost_microeur_per_hour_max,
                     r->terms.constraints.cost_microeur_per_hour_max);
    for (uint32_t i = 0; i < r->terms.price_count; i++) {
        assert_int_equal(decoded.terms.prices[i], r->terms.prices[i]);
    }
}

static void test_round_trip_at_the_limits(void **state)
{
    world *w = *state;
    ledger_record r;
    // The largest record the rules allow is exactly the size counted in
    // ledger_int.h, which is under the limit: a larger one cannot exist.
    make_limits_record(w, &r);
    assert_round_trip(&r, LEDGER_RECORD_SIZE_WORST);
    assert_true(LEDGER_RECORD_SIZE_WORST <= LEDGER_RECORD_SIZE_MAX);
    // And it signs, and its entry (with both signatures) fits too.
    uint8_t signature[LEDGER_SIGNATURE_SIZE];
    assert_int_equal(ledger_record_sign(&r, w->a.keys.secret_key, signature), MESH_OK);
    uint8_t buf[BUF_MAX];
    uint32_t size = 0;
    encode_ok(&r, buf, &size);
    uint8_t value[LEDGER_VALUE_SIZE_MAX];
    uint32_t value_size = 0;
    uint8_t prev[LEDGER_HASH_SIZE] = {0};
    assert_int_equal(ledger_entry_encode(UINT64_MAX, prev, buf, size, signature, signature, value,
                                         sizeof(value), &value_size),
                     MESH_OK);
    ledger_entry entry;
    assert_int_equal(ledger_entry_decode(value, value_size, &entry), MESH_OK);
    assert_int_equal(entry.record_size, size);
    assert_int_equal(entry.record.terms.constraints.carbon_gco2_per_kwh_max, LEDGER_CARBON_MAX);
    // One byte short of room: MESH_EFULL, not a truncated record.
    assert_int_equal(ledger_record_encode(&r, buf, size - 1, &size), MESH_EFULL);

    // The smallest terms: no amounts, no prices, empty lists and data
    // class, a window of one nanosecond at 1.
    uint8_t id[LEDGER_LEASE_ID_SIZE];
    fixture_lease_id(id, 2);
    fixture_record(&r, LEDGER_KIND_OPENED, id, 0, &w->a, &w->b, 0, 0, 0);
    memset(&r.terms, 0, sizeof(r.terms));
    r.terms.start_ns = 1;
    r.terms.end_ns = 2;
    fixture_code(r.terms.lender_country, "AD");
    assert_round_trip(&r, 0);

    // Other kinds have no key 8; the widest of them (a number of 2^32-1,
    // full amounts) stays far under the limit.
    make_limits_record(w, &r);
    r.kind = LEDGER_KIND_USAGE;
    r.number = UINT32_MAX;
    memset(&r.terms, 0, sizeof(r.terms));
    encode_ok(&r, buf, &size);
    assert_int_equal(buf[0], 0x88); /* fixmap(8) */
    assert_true(size < 480);
    assert_round_trip(&r, size);
    make_small_opened(w, &r);
    encode_ok(&r, buf, &size);
    assert_int_equal(buf[0], 0x89); /* fixmap(9) */
    assert_int_equal(buf[1], 0x00); /* key 0: the version, first */
    assert_int_equal(buf[2], LEDGER_RECORD_VERSION);
}

// Each case breaks one rule of a valid record; the encoder must refuse it
// (MESH_EINVAL), so that nothing the decoder refuses is ever written.
#define ENCODE_REFUSED(good, change)                                                        \
    do {                                                                                    \
        ledger_record r = (good);                                                           \
        change;                                                                             \
        uint8_t out_[BUF_MAX];                                                              \
        uint32_t out_size_ = 0;                                                             \
        assert_int_equal(ledger_record_encode(&r, out_, BUF_MAX, &out_size_), MESH_EINVAL); \
    } while (0)

static void test_encoder_refusals(void **state)
{
    world *w = *state;
    ledger_record good;
    make_small_opened(w, &good);
    uint8_t buf[BUF_MAX];
    uint32_t size = 0;
    encode_ok(&good, buf, &size);
    ledger_terms *t = NULL;
    // The version: only 2.
    ENCODE_REFUSED(good, r.version = 1);
    ENCODE_REFUSED(good, r.version = 3);
    ENCODE_REFUSED(good, r.version = 0);
    // Terms: required of OPENED, refused on every other kind, even one
    // field of them.
    ENCODE_REFUSED(good, memset(&r.terms, 0, sizeof(r.terms)));
    ENCODE_REFUSED(good, r.kind = LEDGER_KIND_CREDIT);
    ENCODE_REFUSED(good, (r.kind = LEDGER_KIND_USAGE, r.number = 1));
    ENCODE_REFUSED(good, (memset(&r.terms, 0, sizeof(r.terms)), r.kind = LEDGER_KIND_USAGE,
                          r.number = 1, r.terms.constraints.rtt_us_max = 1));
    ENCODE_REFUSED(good, (memset(&r.terms, 0, sizeof(r.terms)), r.kind = LEDGER_KIND_SETTLED,
                          r.number = 4, r.terms.lender_country[0] = 'F'));
    // One price per amount, each at most 10^12.
    ENCODE_REFUSED(good, r.terms.price_count = 1);
    ENCODE_REFUSED(good, r.terms.price_count = 3);
    ENCODE_REFUSED(good, r.terms.prices[1] = LEDGER_PRICE_MAX + 1);
    // The window: 0 < start < end.
    ENCODE_REFUSED(good, r.terms.end_ns = r.terms.start_ns);
    ENCODE_REFUSED(good, r.terms.end_ns = r.terms.start_ns - 1);
    ENCODE_REFUSED(good, r.terms.start_ns = 0);
    ENCODE_REFUSED(good, r.terms.start_ns = -5);
    // The lender's certified facts.
    ENCODE_REFUSED(good, fixture_code(r.terms.lender_country, "XX"));
    ENCODE_REFUSED(good, fixture_code(r.terms.lender_country, "fr"));
    ENCODE_REFUSED(good, fixture_code(r.terms.lender_country, "EU"));
    ENCODE_REFUSED(good, r.terms.lender_country[2] = 'A');
    ENCODE_REFUSED(good, (t = &r.terms, fixture_code(t->lender_jurisdictions[0], "FR"),
                          fixture_code(t->lender_jurisdictions[1], "EU")));
    ENCODE_REFUSED(good, fixture_code(r.terms.lender_jurisdictions[1], "EU"));
    ENCODE_REFUSED(good, fixture_code(r.terms.lender_jurisdictions[1], "ZZ"));
    ENCODE_REFUSED(good, r.terms.lender_jurisdiction_count = LEDGER_JURISDICTIONS_MAX + 1);
    ENCODE_REFUSED(good, r.terms.lender_certifications = WIRE_CERTIFICATION_ALL + 1);
    ENCODE_REFUSED(good, r.terms.carbon_gco2_per_kwh = LEDGER_CARBON_MAX + 1);
    // The borrower's constraints: sets sorted and distinct, valid codes.
    ENCODE_REFUSED(good, (t = &r.terms, fixture_code(t->constraints.countries[0], "DE"),
                          fixture_code(t->constraints.countries[1], "BE")));
    ENCODE_REFUSED(good, fixture_code(r.terms.constraints.countries[1], "BE"));
    ENCODE_REFUSED(good, fixture_code(r.terms.constraints.countries[3], "XX"));
    ENCODE_REFUSED(good, fixture_code(r.terms.constraints.countries[3], "nl"));
    ENCODE_REFUSED(good, fixture_code(r.terms.constraints.countries[1], "EU"));
    ENCODE_REFUSED(good, r.terms.constraints.country_count = LEDGER_COUNTRIES_MAX + 1);
    ENCODE_REFUSED(good, (t = &r.terms, t->constraints.jurisdiction_count = 2,
                          fixture_code(t->constraints.jurisdictions[1], "DE")));
    ENCODE_REFUSED(good, r.terms.constraints.certifications = 0x80);
    ENCODE_REFUSED(good, memcpy(r.terms.constraints.data_class, "Health", 7));
    ENCODE_REFUSED(good, memcpy(r.terms.constraints.data_class, "health_data", 12));
    ENCODE_REFUSED(good, memcpy(r.terms.constraints.data_class, "health data", 12));
    ENCODE_REFUSED(
        good, memset(r.terms.constraints.data_class, 'a', sizeof(r.terms.constraints.data_class)));
    ENCODE_REFUSED(good, r.terms.constraints.rtt_us_max = LEDGER_RTT_US_MAX + 1);
    ENCODE_REFUSED(good, r.terms.constraints.cost_microeur_per_hour_max = LEDGER_PRICE_MAX + 1);
    ENCODE_REFUSED(good, r.terms.constraints.carbon_gco2_per_kwh_max = LEDGER_CARBON_MAX + 1);
    // The same record with each of those fields at its largest is fine.
    ledger_record r = good;
    r.terms.prices[1] = LEDGER_PRICE_MAX;
    r.terms.constraints.rtt_us_max = LEDGER_RTT_US_MAX;
    r.terms.constraints.cost_microeur_per_hour_max = LEDGER_PRICE_MAX;
    memset(r.terms.constraints.data_class, 'a', LEDGER_DATA_CLASS_SIZE_MAX);
    assert_round_trip(&r, 0);
}

// A version 1 USAGE record (map(7), key 0 the kind, 2): read as version
// 2, its key 1 is the lease id's bin, not a kind. And version 1 OPENED.
static const uint8_t v1_usage_head[] = {0x87, 0x00, 0x02, 0x01, 0xc4, 0x10};
static const uint8_t v1_opened_head[] = {0x87, 0x00, 0x01, 0x01, 0xc4, 0x10};

static void v1_record(const world *w, const uint8_t head[6], uint8_t *buf, uint32_t *size)
{
    uint32_t at = 0;
    memcpy(buf, head, 6);
    at = 6;
    memset(buf + at, 0x42, LEDGER_LEASE_ID_SIZE);
    at += LEDGER_LEASE_ID_SIZE;
    buf[at++] = 0x02; /* number */
    buf[at++] = head[2] == 0x01 ? 0x00 : 0x01;
    buf[at++] = 0x03;
    buf[at++] = 0xc4;
    buf[at++] = LEDGER_KEY_SIZE;
    memcpy(buf + at, w->a.keys.public_key, LEDGER_KEY_SIZE);
    at += LEDGER_KEY_SIZE;
    buf[at++] = 0x04;
    buf[at++] = 0xc4;
    buf[at++] = LEDGER_KEY_SIZE;
    memcpy(buf + at, w->b.keys.public_key, LEDGER_KEY_SIZE);
    at += LEDGER_KEY_SIZE;
    buf[at++] = 0x05; /* time */
    buf[at++] = 0x07;
    buf[at++] = 0x06; /* amounts: none */
    buf[at++] = 0x90;
    *size = at;
}

static void test_decoder_refusals(void **state)
{
    world *w = *state;
    ledger_record good;
    make_small_opened(w, &good);
    uint8_t base[BUF_MAX];
    uint32_t base_size = 0;
    encode_ok(&good, base, &base_size);
    uint8_t buf[BUF_MAX];
    uint32_t size = 0;
#define FROM_BASE() (memcpy(buf, base, base_size), size = base_size)

    // The harness itself: a change that keeps every rule is accepted.
    {
        static const uint8_t end[] = {0x01, 0xcd, 0x07, 0xd0};
        static const uint8_t later[] = {0x01, 0xcd, 0x0b, 0xb8};
        FROM_BASE();
        SPLICE(buf, &size, end, later);
        ledger_record out;
        assert_int_equal(ledger_record_decode(buf, size, &out), MESH_OK);
        assert_int_equal(out.terms.end_ns, 3000);
    }

    // Versions 1 and 3, and 2 in a non-canonical form.
    FROM_BASE();
    buf[2] = 1;
    assert_refused(buf, size);
    buf[2] = 3;
    assert_refused(buf, size);
    {
        static const uint8_t v2[] = {0x89, 0x00, 0x02};
        static const uint8_t v2_wide[] = {0x89, 0x00, 0xcc, 0x02};
        FROM_BASE();
        SPLICE(buf, &size, v2, v2_wide);
        assert_refused(buf, size);
    }
    // Version 1 records, as they were written.
    v1_record(w, v1_usage_head, buf, &size);
    assert_refused(buf, size);
    v1_record(w, v1_opened_head, buf, &size);
    assert_refused(buf, size);

    // Terms on a CREDIT (kind byte 1 -> 7; number 0 is right for both).
    FROM_BASE();
    assert_int_equal(buf[3], 0x01);
    assert_int_equal(buf[4], LEDGER_KIND_OPENED);
    buf[4] = LEDGER_KIND_CREDIT;
    assert_refused(buf, size);
    // An OPENED without terms: a CREDIT's bytes with the kind changed.
    {
        ledger_record credit = good;
        credit.kind = LEDGER_KIND_CREDIT;
        memset(&credit.terms, 0, sizeof(credit.terms));
        encode_ok(&credit, buf, &size);
        ledger_record out;
        assert_int_equal(ledger_record_decode(buf, size, &out), MESH_OK);
        buf[4] = LEDGER_KIND_OPENED;
        assert_refused(buf, size);
    }
    // A key past the schema (9).
    FROM_BASE();
    buf[0] = 0x8a;
    buf[size++] = 0x09;
    buf[size++] = 0x00;
    assert_refused(buf, size);
    // Trailing bytes, and an input over the size limit.
    FROM_BASE();
    buf[size++] = 0xc0;
    assert_refused(buf, size);
    {
        static uint8_t big[LEDGER_RECORD_SIZE_MAX + 1];
        memcpy(big, base, base_size);
        assert_refused(big, sizeof(big));
    }

    // One price per amount: one too few, one too many.
    {
        static const uint8_t prices[] = {0x02, 0x92, 0xcd, 0x9c, 0x40,
                                         0xce, 0x00, 0x26, 0x25, 0xa0};
        static const uint8_t one[] = {0x02, 0x91, 0xcd, 0x9c, 0x40};
        static const uint8_t three[] = {0x02, 0x93, 0xcd, 0x9c, 0x40, 0xce,
                                        0x00, 0x26, 0x25, 0xa0, 0x00};
        static const uint8_t too_dear[] = {0x02, 0x92, 0xcd, 0x9c, 0x40, 0xcf, 0x00,
                                           0x00, 0x00, 0xe8, 0xd4, 0xa5, 0x10, 0x01};
        FROM_BASE();
        SPLICE(buf, &size, prices, one);
        assert_refused(buf, size);
        FROM_BASE();
        SPLICE(buf, &size, prices, three);
        assert_refused(buf, size);
        FROM_BASE();
        SPLICE(buf, &size, prices, too_dear); /* 10^12 + 1 */
        assert_refused(buf, size);
    }
    // The window: reversed, empty, starting at 0, negative.
    {
        static const uint8_t window[] = {0x00, 0xcd, 0x03, 0xe8, 0x01, 0xcd, 0x07, 0xd0};
        static const uint8_t reversed[] = {0x00, 0xcd, 0x07, 0xd0, 0x01, 0xcd, 0x03, 0xe8};
        static const uint8_t empty[] = {0x00, 0xcd, 0x07, 0xd0, 0x01, 0xcd, 0x07, 0xd0};
        static const uint8_t at_zero[] = {0x00, 0x00, 0x01, 0xcd, 0x07, 0xd0};
        static const uint8_t negative[] = {0x00, 0xff, 0x01, 0xcd, 0x07, 0xd0};
        FROM_BASE();
        SPLICE(buf, &size, window, reversed);
        assert_refused(buf, size);
        FROM_BASE();
        SPLICE(buf, &size, window, empty);
        assert_refused(buf, size);
        FROM_BASE();
        SPLICE(buf, &size, window, at_zero);
        assert_refused(buf, size);
        FROM_BASE();
        SPLICE(buf, &size, window, negative);
        assert_refused(buf, size);
    }
    // Countries: unsorted, repeated, unassigned, lower case, "EU".
    {
        static const uint8_t countries[] = {0x94, 0xa2, 'B', 'E', 0xa2, 'D', 'E', 0xa2, 'F', 'R'};
        static const uint8_t unsorted[] = {0x94, 0xa2, 'D', 'E', 0xa2, 'B', 'E', 0xa2, 'F', 'R'};
        static const uint8_t repeated[] = {0x94, 0xa2, 'B', 'E', 0xa2, 'B', 'E', 0xa2, 'F', 'R'};
        static const uint8_t unassigned[] = {0x94, 0xa2, 'B', 'E', 0xa2, 'D', 'E', 0xa2, 'F', 'X'};
        static const uint8_t lower[] = {0x94, 0xa2, 'B', 'E', 0xa2, 'd', 'e', 0xa2, 'F', 'R'};
        static const uint8_t eu[] = {0x94, 0xa2, 'B', 'E', 0xa2, 'D', 'E', 0xa2, 'E', 'U'};
        static const uint8_t wide[] = {0x94, 0xa3, 'B', 'E', 'L', 0xa2, 'D', 'E', 0xa2, 'F', 'R'};
        const uint8_t *bad[] = {unsorted, repeated, unassigned, lower, eu};
        for (uint32_t i = 0; i < MESH_ARRAY_COUNT(bad); i++) {
            FROM_BASE();
            splice(buf, &size, countries, sizeof(countries), bad[i], sizeof(countries));
            assert_refused(buf, size);
        }
        FROM_BASE();
        SPLICE(buf, &size, countries, wide);
        assert_refused(buf, size);
    }
    // The lender's country and jurisdictions.
    {
        static const uint8_t country[] = {0x04, 0xa2, 'F', 'R', 0x05};
        static const uint8_t unassigned[] = {0x04, 0xa2, 'X', 'X', 0x05};
        static const uint8_t three[] = {0x04, 0xa3, 'F', 'R', 'A', 0x05};
        static const uint8_t none[] = {0x04, 0xa0, 0x05};
        static const uint8_t jurisdictions[] = {0x05, 0x92, 0xa2, 'E', 'U', 0xa2, 'F', 'R'};
        static const uint8_t unsorted[] = {0x05, 0x92, 0xa2, 'F', 'R', 0xa2, 'E', 'U'};
        FROM_BASE();
        SPLICE(buf, &size, country, unassigned);
        assert_refused(buf, size);
        FROM_BASE();
        SPLICE(buf, &size, country, three);
        assert_refused(buf, size);
        FROM_BASE();
        SPLICE(buf, &size, country, none);
        assert_refused(buf, size);
        FROM_BASE();
        SPLICE(buf, &size, jurisdictions, unsorted);
        assert_refused(buf, size);
    }
    // Certification bits, carbon, rtt past their limits.
    {
        static const uint8_t facts[] = {0x06, 0x09, 0x07, 0x34, 0x08};
        static const uint8_t bit7[] = {0x06, 0xcc, 0x89, 0x07, 0x34, 0x08};
        static const uint8_t carbon[] = {0x06, 0x09, 0x07, 0xcd, 0x13, 0x89, 0x08};
        static const uint8_t rtt[] = {0x04, 0xcd, 0x4e, 0x20};
        static const uint8_t rtt_over[] = {0x04, 0xce, 0x03, 0x93, 0x87, 0x01};
        FROM_BASE();
        SPLICE(buf, &size, facts, bit7);
        assert_refused(buf, size);
        FROM_BASE();
        SPLICE(buf, &size, facts, carbon); /* 5001 */
        assert_refused(buf, size);
        FROM_BASE();
        SPLICE(buf, &size, rtt, rtt_over); /* 60,000,001 */
        assert_refused(buf, size);
    }
    // The data class: upper case, underscore, an embedded NUL.
    {
        static const uint8_t data_class[] = {0xab, 'h', 'e', 'a', 'l', 't',
                                             'h',  '-', 'd', 'a', 't', 'a'};
        static const uint8_t upper[] = {0xab, 'H', 'e', 'a', 'l', 't',
                                        'h',  '-', 'd', 'a', 't', 'a'};
        static const uint8_t underscore[] = {0xab, 'h', 'e', 'a', 'l', 't',
                                             'h',  '_', 'd', 'a', 't', 'a'};
        static const uint8_t nul[] = {0xab, 'h', 'e', 'a', 'l', 't', 'h', 0x00, 'd', 'a', 't', 'a'};
        const uint8_t *bad[] = {upper, underscore, nul};
        for (uint32_t i = 0; i < MESH_ARRAY_COUNT(bad); i++) {
            FROM_BASE();
            splice(buf, &size, data_class, sizeof(data_class), bad[i], sizeof(data_class));
            assert_refused(buf, size);
        }
    }
#undef FROM_BASE
}

/* Ledgers of the largest records: append, commit, verify, reconcile and
 * walk must all work with OPENED records near 1 KiB. */

typedef struct node {
    ledger_mem_store *mem;
    ledger_store store;
    ledger *ledger;
} node;

static void node_open(node *n, const fixture_party *self)
{
    assert_int_equal(ledger_mem_store_create(100000, 64u << 20, &n->mem), MESH_OK);
    n->store = ledger_mem_store_interface(n->mem);
    ledger_config config = fixture_config(self);
    assert_int_equal(ledger_open(&config, &n->store, &n->ledger), MESH_OK);
}

static void node_close(node *n)
{
    ledger_close(n->ledger);
    ledger_mem_store_destroy(n->mem);
}

static void both_append(node *a, node *b, const ledger_record *r, const world *w)
{
    bool a_lends = memcmp(r->lender_key, w->a.keys.public_key, LEDGER_KEY_SIZE) == 0;
    const fixture_party *lender = a_lends ? &w->a : &w->b;
    const fixture_party *borrower = a_lends ? &w->b : &w->a;
    assert_int_equal(fixture_append_signed(a->ledger, r, lender, borrower, 0, NULL), MESH_OK);
    assert_int_equal(fixture_append_signed(b->ledger, r, lender, borrower, 0, NULL), MESH_OK);
}

typedef struct walk_check {
    uint32_t opened;
    uint32_t largest;
} walk_check;

static bool walk_visit(void *arg, const ledger_entry *entry)
{
    walk_check *check = arg;
    if (entry->record.kind == LEDGER_KIND_OPENED) {
        check->opened++;
        assert_int_equal(entry->record.terms.price_count, LEDGER_AMOUNTS_MAX);
        assert_int_equal(entry->record.terms.constraints.country_count, LEDGER_COUNTRIES_MAX);
        assert_string_equal(entry->record.terms.constraints.countries[31], "SK");
    }
    if (entry->record_size > check->largest) {
        check->largest = entry->record_size;
    }
    return true;
}

static void test_verify_and_reconcile_large_records(void **state)
{
    world *w = *state;
    node a;
    node b;
    node_open(&a, &w->a);
    node_open(&b, &w->b);
    for (uint32_t lease = 0; lease < 12; lease++) {
        ledger_record r;
        make_limits_record(w, &r);
        fixture_lease_id(r.lease_id, 100 + lease);
        r.time_ns = T0 + (int64_t) lease;
        if (lease % 2 == 1) {
            memcpy(r.lender_key, w->b.keys.public_key, LEDGER_KEY_SIZE);
            memcpy(r.borrower_key, w->a.keys.public_key, LEDGER_KEY_SIZE);
        }
        both_append(&a, &b, &r, w);
        // Usage in every GPU model, then the end and the settlement.
        ledger_record usage = r;
        memset(&usage.terms, 0, sizeof(usage.terms));
        usage.kind = LEDGER_KIND_USAGE;
        usage.number = 1;
        for (uint32_t i = 0; i < usage.amount_count; i++) {
            usage.amounts[i].amount_milli = 1000u * (i + 1);
        }
        both_append(&a, &b, &usage, w);
        ledger_record end = usage;
        end.kind = LEDGER_KIND_RELEASED;
        end.number = 2;
        end.amount_count = 0;
        memset(end.amounts, 0, sizeof(end.amounts));
        both_append(&a, &b, &end, w);
        usage.kind = LEDGER_KIND_SETTLED;
        usage.number = 3;
        both_append(&a, &b, &usage, w);
        if (lease % 5 == 4) {
            assert_int_equal(ledger_commit(a.ledger, true, NULL, NULL), MESH_OK);
        }
    }
    assert_int_equal(ledger_commit(a.ledger, true, NULL, NULL), MESH_OK);
    assert_int_equal(ledger_commit(b.ledger, true, NULL, NULL), MESH_OK);
    node *nodes[2] = {&a, &b};
    for (uint32_t i = 0; i < 2; i++) {
        ledger_verify_report report;
        mesh_err err = ledger_verify(&nodes[i]->store, DAY_NS, &report);
        if (err != MESH_OK) {
            print_error("verify: %s at %s: %s\n", mesh_err_name(err), report.bad_key,
                        report.reason);
        }
        assert_int_equal(err, MESH_OK);
        assert_int_equal(report.entry_count, 48);
        assert_int_equal(report.signature_count, 96);
        walk_check check = {0};
        assert_int_equal(ledger_journal_walk(&nodes[i]->store, 1, walk_visit, &check), MESH_OK);
        assert_int_equal(check.opened, 12);
        assert_true(check.largest > 800 && check.largest <= LEDGER_RECORD_SIZE_WORST);
    }
    ledger_reconcile_report report;
    assert_int_equal(ledger_reconcile(&a.store, &b.store, &report), MESH_OK);
    assert_int_equal(report.shared_count, 48);
    assert_int_equal(report.only_a_count + report.only_b_count + report.differ_count, 0);
    assert_int_equal(report.a_lent_milli, report.b_borrowed_milli);
    assert_int_equal(report.a_borrowed_milli, report.b_lent_milli);
    // Usage of 36 GPU-hours per lease (settlements repeat totals and do
    // not count), six leases each way, 32 vCPU-hour equivalents each.
    assert_int_equal(report.a_lent_milli, 6u * 36000u * LEDGER_WEIGHT_GPU);
    assert_int_equal(report.a_borrowed_milli, 6u * 36000u * LEDGER_WEIGHT_GPU);
    node_close(&b);
    node_close(&a);
}

static void usage_record(const world *w,
                         ledger_record *r,
                         uint64_t lease,
                         uint32_t number,
                         uint64_t memory_milli,
                         uint64_t storage_milli)
{
    uint8_t id[LEDGER_LEASE_ID_SIZE];
    fixture_lease_id(id, lease);
    fixture_record(r, number == 0 ? LEDGER_KIND_OPENED : LEDGER_KIND_USAGE, id, number, &w->a,
                   &w->b, T0 + number, 0, 0);
    if (memory_milli > 0) {
        r->amounts[r->amount_count].resource_class = LEDGER_CLASS_MEMORY_GIB;
        r->amounts[r->amount_count++].amount_milli = memory_milli;
    }
    if (storage_milli > 0) {
        r->amounts[r->amount_count].resource_class = LEDGER_CLASS_STORAGE_GIB;
        r->amounts[r->amount_count++].amount_milli = storage_milli;
    }
    if (number == 0) {
        fixture_terms(r, w->a.keys.public_key);
    }
}

static void test_storage_weighs_a_1024th(void **state)
{
    world *w = *state;
    assert_string_equal(ledger_class_name(LEDGER_CLASS_STORAGE_GIB), "storage_gib_hours");
    assert_string_equal(ledger_class_name(LEDGER_CLASS_MAX + 1), "unknown");
    ledger_record r;
    // A TiB-hour is a vCPU-hour; the largest amount divides exactly.
    usage_record(w, &r, 1, 1, 0, 1024000);
    assert_int_equal(ledger_weighted_milli(&r), 1000);
    usage_record(w, &r, 1, 1, 0, LEDGER_AMOUNT_MILLI_MAX);
    assert_int_equal(ledger_weighted_milli(&r), LEDGER_AMOUNT_MILLI_MAX / 1024u);
    // Fractions add up before the one rounding: 1000/1024 + 1/4 = 1.23.
    usage_record(w, &r, 1, 1, 1, 1000);
    assert_int_equal(ledger_weighted_milli(&r), 1);
    usage_record(w, &r, 1, 1, 3, 767);
    assert_int_equal(ledger_weighted_milli(&r), 1); /* 768/1024 + 767/1024 */
    usage_record(w, &r, 1, 1, 3, 255);
    assert_int_equal(ledger_weighted_milli(&r), 0); /* 1023/1024 */
    // The weight sum saturates instead of wrapping.
    ledger_weight_sum sum = {0};
    ledger_weight_add(&sum, LEDGER_CLASS_GPU, UINT64_MAX / 2);
    ledger_weight_add(&sum, LEDGER_CLASS_STORAGE_GIB, 1023);
    ledger_weight_add(&sum, LEDGER_CLASS_STORAGE_GIB, 1);
    assert_int_equal(ledger_weight_total(&sum), UINT64_MAX);

    // Peer totals and reconcile sum the same amounts exactly: two usage
    // records of 1,000 milli GiB-hours are 1 milli each way, though
    // each alone weighs 0.
    node a;
    node b;
    node_open(&a, &w->a);
    node_open(&b, &w->b);
    usage_record(w, &r, 7, 0, 0, 4096000);
    both_append(&a, &b, &r, w);
    for (uint32_t number = 1; number <= 2; number++) {
        usage_record(w, &r, 7, number, 0, 1000);
        assert_int_equal(ledger_weighted_milli(&r), 0);
        both_append(&a, &b, &r, w);
    }
    assert_int_equal(ledger_commit(a.ledger, true, NULL, NULL), MESH_OK);
    assert_int_equal(ledger_commit(b.ledger, true, NULL, NULL), MESH_OK);
    uint64_t lent = 0;
    uint64_t borrowed = 0;
    ledger_peer_totals(a.ledger, w->b.keys.public_key, &lent, &borrowed);
    assert_int_equal(lent, 1);
    assert_int_equal(borrowed, 0);
    ledger_balance balance;
    assert_int_equal(ledger_balance_count(a.ledger), 1);
    ledger_balance_at(a.ledger, 0, &balance);
    assert_int_equal(balance.resource_class, LEDGER_CLASS_STORAGE_GIB);
    assert_int_equal(balance.lent_milli, 2000);
    ledger_reconcile_report report;
    assert_int_equal(ledger_reconcile(&a.store, &b.store, &report), MESH_OK);
    assert_int_equal(report.a_lent_milli, 1);
    assert_int_equal(report.b_borrowed_milli, 1);
    ledger_verify_report verify;
    assert_int_equal(ledger_verify(&a.store, DAY_NS, &verify), MESH_OK);
    node_close(&b);
    node_close(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_round_trip_at_the_limits, setup),
        cmocka_unit_test_setup(test_encoder_refusals, setup),
        cmocka_unit_test_setup(test_decoder_refusals, setup),
        cmocka_unit_test_setup(test_verify_and_reconcile_large_records, setup),
        cmocka_unit_test_setup(test_storage_weighs_a_1024th, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
