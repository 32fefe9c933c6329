/*
 * wire/tables.c: the fixed vocabularies of the wire format: ISO 3166-1
 * alpha-2 country codes, certification names and decode-failure names.
 *
 * The country list is data, written out here rather than taken from a
 * system locale database, because the set of accepted codes is part of the
 * wire contract: two nodes must agree on it regardless of what their
 * distribution ships. It holds the 249 officially assigned codes (no
 * user-assigned codes such as XK, no reserved ones such as EU, which the
 * jurisdiction rule admits on its own). The table is sorted, so lookup is
 * a binary search over at most 8 probes; a unit test checks the order and
 * the count. Changing the list changes what the decoder accepts: treat it
 * like a protocol change.
 */
#include <string.h>

#include "wire/wire_int.h"

const char wire_country_codes[WIRE_COUNTRY_COUNT][3] = {
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
};

bool wire_country_bytes_valid(const uint8_t *text, uint32_t size)
{
    MESH_ASSERT(text != NULL || size == 0);
    if (size != 2) {
        return false;
    }
    for (uint32_t i = 0; i < 2; i++) {
        if (text[i] < 'A' || text[i] > 'Z') {
            return false;
        }
    }
    uint32_t low = 0;
    uint32_t high = WIRE_COUNTRY_COUNT;
    uint32_t probes = 0;
    while (low < high) {
        MESH_ASSERT(probes++ < 16); // log2(249) rounds up to 8
        uint32_t middle = low + (high - low) / 2;
        int order = memcmp(text, wire_country_codes[middle], 2);
        if (order == 0) {
            return true;
        }
        if (order < 0) {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    return false;
}

bool wire_country_valid(const char *code)
{
    MESH_ASSERT(code != NULL);
    // Bounded length: look at no more than three bytes of the caller's
    // string, so that "FRA" and "F" are refused without a strlen.
    uint32_t size = 0;
    while (size < 3 && code[size] != '\0') {
        size++;
    }
    return wire_country_bytes_valid((const uint8_t *) code, size);
}

bool wire_jurisdiction_valid(const uint8_t *text, uint32_t size)
{
    MESH_ASSERT(text != NULL || size == 0);
    if (size == 2 && text[0] == 'E' && text[1] == 'U') {
        return true;
    }
    return wire_country_bytes_valid(text, size);
}

static const char *const certification_names[WIRE_CERTIFICATION_COUNT] = {
    "SecNumCloud", "C5", "HDS", "ISO27001", "EUCS-basic", "EUCS-substantial", "EUCS-high",
};

_Static_assert(WIRE_CERTIFICATION_ALL == (1u << WIRE_CERTIFICATION_COUNT) - 1u,
               "every certification bit has a name");

const char *wire_certification_name(uint32_t bit)
{
    if (bit == 0 || (bit & (bit - 1u)) != 0 || (bit & ~WIRE_CERTIFICATION_ALL) != 0) {
        return NULL;
    }
    uint32_t index = 0;
    while ((bit >> index) != 1u) {
        index++;
    }
    MESH_ASSERT(index < WIRE_CERTIFICATION_COUNT);
    return certification_names[index];
}

static int ascii_lower(char c)
{
    int value = (unsigned char) c;
    return (value >= 'A' && value <= 'Z') ? value - 'A' + 'a' : value;
}

// ASCII-only case folding: certification names are ASCII, and the locale
// must not change what a config file means.
static bool names_equal_ignoring_case(const char *a, const char *b)
{
    MESH_ASSERT(a != NULL);
    MESH_ASSERT(b != NULL);
    size_t i = 0;
    while (a[i] != '\0' && b[i] != '\0') {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) {
            return false;
        }
        i++;
    }
    return a[i] == b[i];
}

mesh_err wire_certification_parse(const char *name, uint32_t *bit_out)
{
    MESH_ASSERT(name != NULL);
    MESH_ASSERT(bit_out != NULL);
    for (uint32_t i = 0; i < WIRE_CERTIFICATION_COUNT; i++) {
        if (names_equal_ignoring_case(name, certification_names[i])) {
            *bit_out = 1u << i;
            return MESH_OK;
        }
    }
    // The spellings people actually write for the ISO standard.
    if (names_equal_ignoring_case(name, "ISO-27001") ||
        names_equal_ignoring_case(name, "ISO 27001")) {
        *bit_out = WIRE_CERTIFICATION_ISO27001;
        return MESH_OK;
    }
    return MESH_EINVAL;
}

static const char *const reason_names[WIRE_REASON_COUNT] = {
    [WIRE_REASON_NONE] = "none",
    [WIRE_REASON_TOO_LARGE] = "too_large",
    [WIRE_REASON_TRUNCATED] = "truncated",
    [WIRE_REASON_TYPE] = "type",
    [WIRE_REASON_NOT_CANONICAL] = "not_canonical",
    [WIRE_REASON_LENGTH] = "length",
    [WIRE_REASON_VERSION] = "version",
    [WIRE_REASON_UNKNOWN_TYPE] = "unknown_type",
    [WIRE_REASON_MISSING_FIELD] = "missing_field",
    [WIRE_REASON_UNKNOWN_FIELD] = "unknown_field",
    [WIRE_REASON_RANGE] = "range",
    [WIRE_REASON_TRAILING] = "trailing",
};

const char *wire_reason_name(wire_reason reason)
{
    // An unknown value gets a name too: this feeds counters and logs,
    // where a NULL would crash the reporter of a bug instead of the bug.
    if ((uint32_t) reason >= WIRE_REASON_COUNT || reason_names[reason] == NULL) {
        return "unknown";
    }
    return reason_names[reason];
}
