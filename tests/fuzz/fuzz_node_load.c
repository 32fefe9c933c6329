/*
 * tests/fuzz/fuzz_node_load.c: libFuzzer target for the HTTP API's other
 * JSON bodies: the scheduler's load report (POST /v1/load,
 * node_http_parse_load), the inventory update (POST /v1/capacity,
 * node_http_parse_capacity) and the reconcile request (POST
 * /v1/ledger/reconcile, node_http_parse_reconcile). The borrow body has
 * its own target, fuzz_node_borrow. Every input goes through all three:
 * a body meant for one route sent to another is what a confused or
 * hostile client does.
 *
 * The oracle: no parser crashes or reads past the input (the replay main
 * hands it an exact-size copy; the body is not NUL-terminated); a refusal
 * is MESH_EPROTO (not JSON) or MESH_EINVAL (not the schema) with a
 * NUL-terminated message, and leaves the output byte for byte untouched;
 * an acceptance obeys the schema (node/http_int.h): 1..16 items, each
 * class one of the four, a model for gpu and only for gpu, each (class,
 * model) once, amounts in 0..10^12, lendable <= total, every text
 * NUL-terminated inside its array; a reconcile names a peer and a timeout
 * in 1 ms..600 s. Any violation aborts.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SENTINEL 0xa5

static void fuzz_require(bool ok, const char *what)
{
    if (!ok) {
        (void) fprintf(stderr, "fuzz_node_load: %s\n", what);
        abort();
    }
}

static bool untouched(const void *object, size_t size)
{
    const uint8_t *bytes = object;
    for (size_t i = 0; i < size; i++) {
        if (bytes[i] != SENTINEL) {
            return false;
        }
    }
    return true;
}

static void check_refusal(mesh_err err, const char *message, const void *out, size_t out_size)
{
    fuzz_require(err == MESH_EPROTO || err == MESH_EINVAL || err == MESH_ENOMEM,
                 "an unexpected error code");
    fuzz_require(memchr(message, '\0', NODE_HTTP_MESSAGE_SIZE) != NULL, "an unterminated message");
    fuzz_require(message[0] != '\0', "a refusal without a message");
    fuzz_require(untouched(out, out_size), "a refusal wrote the output");
}

/* One line: a known class, a model for gpu and only there, in its
 * alphabet and NUL-terminated, no (class, model) twice before index. */
static void check_line(uint32_t resource_class, const char *model, size_t model_size)
{
    fuzz_require(resource_class >= WIRE_RESOURCE_VCPU && resource_class <= WIRE_RESOURCE_CLASS_MAX,
                 "a class out of range");
    size_t length = strnlen(model, model_size);
    fuzz_require(length < model_size, "a model unterminated");
    fuzz_require((resource_class == WIRE_RESOURCE_GPU) == (length > 0),
                 "a model not exactly for gpu");
    for (size_t i = 0; i < length; i++) {
        char c = model[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        fuzz_require(ok, "a model outside [A-Za-z0-9._-]");
    }
}

static void check_load(const uint8_t *data, size_t size)
{
    static node_load_report report;
    char message[NODE_HTTP_MESSAGE_SIZE];
    memset(&report, SENTINEL, sizeof(report));
    memset(message, 0, sizeof(message));
    mesh_err err = node_http_parse_load((const char *) data, size, &report, message);
    if (err != MESH_OK) {
        check_refusal(err, message, &report, sizeof(report));
        return;
    }
    fuzz_require(memchr(report.scheduler, '\0', sizeof(report.scheduler)) != NULL,
                 "scheduler unterminated");
    fuzz_require(report.item_count >= 1 && report.item_count <= NODE_LOAD_ITEMS_MAX,
                 "load items out of bounds");
    for (uint32_t i = 0; i < report.item_count; i++) {
        const node_load_item *item = &report.items[i];
        check_line(item->resource_class, item->model, sizeof(item->model));
        fuzz_require(item->queued <= NODE_LOAD_AMOUNT_MAX && item->running <= NODE_LOAD_AMOUNT_MAX,
                     "a load amount over 10^12");
        for (uint32_t k = 0; k < i; k++) {
            fuzz_require(report.items[k].resource_class != item->resource_class ||
                             strcmp(report.items[k].model, item->model) != 0,
                         "a load line twice");
        }
    }
}

static void check_capacity(const uint8_t *data, size_t size)
{
    static node_capacity_report report;
    char message[NODE_HTTP_MESSAGE_SIZE];
    memset(&report, SENTINEL, sizeof(report));
    memset(message, 0, sizeof(message));
    mesh_err err = node_http_parse_capacity((const char *) data, size, &report, message);
    if (err != MESH_OK) {
        check_refusal(err, message, &report, sizeof(report));
        return;
    }
    fuzz_require(report.item_count >= 1 && report.item_count <= NODE_LOAD_ITEMS_MAX,
                 "capacity items out of bounds");
    for (uint32_t i = 0; i < report.item_count; i++) {
        const node_capacity_item *item = &report.items[i];
        check_line(item->resource_class, item->model, sizeof(item->model));
        fuzz_require(item->total <= NODE_LOAD_AMOUNT_MAX, "a total over 10^12");
        fuzz_require(item->lendable <= item->total, "lendable over total");
        for (uint32_t k = 0; k < i; k++) {
            fuzz_require(report.items[k].resource_class != item->resource_class ||
                             strcmp(report.items[k].model, item->model) != 0,
                         "a capacity line twice");
        }
    }
}

static void check_reconcile(const uint8_t *data, size_t size)
{
    node_reconcile_request request;
    char message[NODE_HTTP_MESSAGE_SIZE];
    memset(&request, SENTINEL, sizeof(request));
    memset(message, 0, sizeof(message));
    mesh_err err = node_http_parse_reconcile((const char *) data, size, &request, message);
    if (err != MESH_OK) {
        check_refusal(err, message, &request, sizeof(request));
        return;
    }
    size_t length = strnlen(request.peer, sizeof(request.peer));
    fuzz_require(length > 0 && length < sizeof(request.peer), "a peer empty or unterminated");
    fuzz_require(request.timeout_ns >= MESH_NS_PER_MS &&
                     request.timeout_ns <= NODE_RECONCILE_TIMEOUT_MS_MAX * MESH_NS_PER_MS,
                 "a timeout out of range");
    fuzz_require(request.timeout_ns % MESH_NS_PER_MS == 0, "a timeout not in whole ms");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_load(data, size);
    check_capacity(data, size);
    check_reconcile(data, size);
    return 0;
}
