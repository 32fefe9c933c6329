/*
 * tests/fuzz/fuzz_node_borrow.c: libFuzzer target for the HTTP API's
 * borrow request validator, node_http_parse_borrow (POST /v1/leases), and
 * the lease id of /v1/leases/{id} paths, node_http_parse_lease_id.
 *
 * The oracle: the validator never crashes and never reads past the input
 * (the replay main hands it an exact-size copy, so ASan and valgrind see
 * any overread); a refusal comes with a message that names a field or
 * quotes jansson, and leaves the output untouched; an acceptance obeys
 * every rule of the schema (README "HTTP API"), in the form the loop
 * relies on: sets sorted and distinct as the wire wants them, every
 * string NUL-terminated inside its array, units converted exactly, and
 * no stale byte in an unused slot. Any violation aborts.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_require(bool ok, const char *what)
{
    if (!ok) {
        (void) fprintf(stderr, "fuzz_node_borrow: %s\n", what);
        abort();
    }
}

/* NUL-terminated inside its array, and every byte after the NUL zero. */
static bool text_clean(const char *text, size_t array_size)
{
    size_t size = strnlen(text, array_size);
    if (size == array_size) {
        return false;
    }
    for (size_t i = size; i < array_size; i++) {
        if (text[i] != '\0') {
            return false;
        }
    }
    return true;
}

static bool text_in(const char *text, const char *allowed_extra, bool upper_too)
{
    for (const char *c = text; *c != '\0'; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
                  (upper_too && *c >= 'A' && *c <= 'Z') || strchr(allowed_extra, *c) != NULL;
        if (!ok) {
            return false;
        }
    }
    return true;
}

static bool member_ok(const char *member)
{
    size_t size = strlen(member);
    return text_clean(member, NODE_BORROW_MEMBER_SIZE) && size >= 1 && member[0] != '-' &&
           member[size - 1] != '-' && text_in(member, "-", false);
}

static void check_resources(const node_borrow_request *borrow)
{
    fuzz_require(borrow->resource_count >= 1 && borrow->resource_count <= WIRE_LEASE_RESOURCES_MAX,
                 "resource count out of 1..8");
    for (uint32_t i = 0; i < WIRE_LEASE_RESOURCES_MAX; i++) {
        const wire_lease_resource *line = &borrow->resources[i];
        fuzz_require(text_clean(line->model, sizeof(line->model)), "a model not clean");
        if (i >= borrow->resource_count) {
            fuzz_require(line->resource_class == 0 && line->amount == 0 && line->model[0] == '\0',
                         "a stale resource line");
            continue;
        }
        fuzz_require(line->resource_class >= WIRE_RESOURCE_VCPU &&
                         line->resource_class <= WIRE_RESOURCE_CLASS_MAX,
                     "an unknown class");
        fuzz_require(line->amount >= 1 && line->amount <= WIRE_AMOUNT_MAX, "amount out of range");
        bool gpu = line->resource_class == WIRE_RESOURCE_GPU;
        fuzz_require(gpu == (line->model[0] != '\0'), "a model off gpu, or a gpu without one");
        fuzz_require(text_in(line->model, "._-", true), "a model with a bad character");
        if (i > 0) {
            const wire_lease_resource *before = &borrow->resources[i - 1];
            bool ascending = before->resource_class < line->resource_class ||
                             (before->resource_class == line->resource_class &&
                              strcmp(before->model, line->model) < 0);
            fuzz_require(ascending, "resources not sorted and distinct");
        }
    }
}

static void check_codes(const char (*codes)[3], uint32_t count, uint32_t count_max, bool eu)
{
    fuzz_require(count <= count_max, "too many codes");
    for (uint32_t i = 0; i < count_max; i++) {
        fuzz_require(text_clean(codes[i], 3), "a code not clean");
        if (i >= count) {
            fuzz_require(codes[i][0] == '\0', "a stale code");
            continue;
        }
        fuzz_require(wire_country_valid(codes[i]) || (eu && strcmp(codes[i], "EU") == 0),
                     "an invalid code");
        fuzz_require(i == 0 || strcmp(codes[i - 1], codes[i]) < 0, "codes not sorted and distinct");
    }
}

static void check_accepted(const node_borrow_request *borrow)
{
    check_resources(borrow);
    fuzz_require(borrow->duration_ns >= 1000000000ull &&
                     borrow->duration_ns <= WIRE_LEASE_DURATION_NS_MAX &&
                     borrow->duration_ns % 1000000000ull == 0,
                 "duration out of range or not whole seconds");
    // 0 is "now"; otherwise 2000-01-01 .. 2199-12-31, whole seconds.
    fuzz_require(borrow->start_ns == 0 || (borrow->start_ns >= 946684800ll * 1000000000ll &&
                                           borrow->start_ns < 7258118400ll * 1000000000ll &&
                                           borrow->start_ns % 1000000000ll == 0),
                 "start out of range or not whole seconds");
    const wire_lease_constraints *constraints = &borrow->constraints;
    check_codes(constraints->countries, constraints->country_count, WIRE_LEASE_COUNTRIES_MAX,
                false);
    check_codes(constraints->jurisdictions, constraints->jurisdiction_count, WIRE_JURISDICTIONS_MAX,
                true);
    fuzz_require((constraints->certifications & ~WIRE_CERTIFICATION_ALL) == 0,
                 "an unknown certification bit");
    fuzz_require(text_clean(constraints->data_class, sizeof(constraints->data_class)) &&
                     text_in(constraints->data_class, "-", false),
                 "a bad data class");
    fuzz_require(constraints->rtt_us_max <= NODE_BORROW_RTT_MS_MAX * 1000u &&
                     constraints->rtt_us_max % 1000u == 0,
                 "rtt out of range or not whole milliseconds");
    fuzz_require(constraints->cost_microeur_per_hour_max <= WIRE_PRICE_MAX, "cost out of range");
    fuzz_require(constraints->carbon_gco2_per_kwh_max <= WIRE_CARBON_MAX, "carbon out of range");
    fuzz_require(borrow->prefer_count <= NODE_BORROW_PREFER_MAX, "too many preferred members");
    for (uint32_t i = 0; i < NODE_BORROW_PREFER_MAX; i++) {
        if (i >= borrow->prefer_count) {
            fuzz_require(text_clean(borrow->prefer[i], NODE_BORROW_MEMBER_SIZE) &&
                             borrow->prefer[i][0] == '\0',
                         "a stale preferred member");
            continue;
        }
        fuzz_require(member_ok(borrow->prefer[i]), "a bad preferred member");
        for (uint32_t j = 0; j < i; j++) {
            fuzz_require(strcmp(borrow->prefer[i], borrow->prefer[j]) != 0,
                         "a preferred member twice");
        }
    }
    fuzz_require(text_clean(borrow->lender, sizeof(borrow->lender)), "a lender not clean");
    fuzz_require(borrow->lender[0] == '\0' || member_ok(borrow->lender), "a bad lender");
    fuzz_require(borrow->lender[0] == '\0' || borrow->prefer_count == 0,
                 "both a lender and preferred members");
    fuzz_require(borrow->timeout_ns <= NODE_BORROW_TIMEOUT_MS_MAX * 1000000ull &&
                     borrow->timeout_ns % 1000000ull == 0,
                 "timeout out of range or not whole milliseconds");
}

static node_borrow_request borrow;
static node_borrow_request untouched;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char message[NODE_HTTP_MESSAGE_SIZE];
    memset(&borrow, 0xa5, sizeof(borrow));
    memcpy(&untouched, &borrow, sizeof(borrow));
    memset(message, 0, sizeof(message));
    mesh_err err = node_http_parse_borrow((const char *) data, size, &borrow, message);
    if (err == MESH_OK) {
        check_accepted(&borrow);
    } else {
        fuzz_require(err == MESH_EPROTO || err == MESH_EINVAL, "an unexpected error code");
        fuzz_require(message[0] != '\0' && strnlen(message, sizeof(message)) < sizeof(message),
                     "a refusal without a message");
        fuzz_require(err != MESH_EINVAL || strstr(message, ": ") != NULL,
                     "an invalid_request message that names no field");
        fuzz_require(memcmp(&borrow, &untouched, sizeof(borrow)) == 0,
                     "the output changed on a refusal");
    }

    // The same bytes as the id of a /v1/leases/{id} path (cut at a NUL).
    static char uri[256];
    int prefix = snprintf(uri, sizeof(uri), "/v1/leases/");
    size_t id_size =
        size < sizeof(uri) - (size_t) prefix - 1 ? size : sizeof(uri) - (size_t) prefix - 1;
    memcpy(uri + prefix, data, id_size);
    uri[(size_t) prefix + id_size] = '\0';
    uint8_t id[WIRE_LEASE_ID_SIZE];
    memset(id, 0xa5, sizeof(id));
    err = node_http_parse_lease_id(uri, id, message);
    if (err == MESH_OK) {
        // Exactly 32 lower-case hex digits before any query, and they decode to id.
        static const char hex[] = "0123456789abcdef";
        const char *text = uri + prefix;
        for (uint32_t i = 0; i < WIRE_LEASE_ID_SIZE; i++) {
            fuzz_require(text[2 * i] == hex[id[i] >> 4] && text[2 * i + 1] == hex[id[i] & 15],
                         "a lease id that does not round-trip");
        }
        fuzz_require(text[32] == '\0' || text[32] == '?' || text[32] == '#',
                     "a lease id longer than 32 characters");
    } else {
        fuzz_require(err == MESH_EINVAL && strncmp(message, "id: ", 4) == 0,
                     "a lease id refusal that does not name id");
    }
    return 0;
}
