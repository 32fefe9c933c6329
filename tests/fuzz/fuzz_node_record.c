/*
 * tests/fuzz/fuzz_node_record.c: libFuzzer target for the reader of agent
 * recordings, node_record_cursor_next (node/record_int.h), which `fedmesh
 * sim replay` runs on files that may be corrupt, cut off or hostile.
 *
 * The oracle: the reader never crashes and never reads past the input
 * (the replay main hands it an exact-size copy, so ASan and valgrind see
 * any overread); it stops within a bounded number of records (each
 * takes at least one framing prefix of bytes); a refusal comes with a
 * sentence that names the record ("record N at byte B") or says the
 * bytes are not a recording; an accepted record keeps every count
 * within its bound, every pointer inside the input, and every text
 * NUL-terminated inside its array. Any violation aborts.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/record_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_require(bool ok, const char *what)
{
    if (!ok) {
        (void) fprintf(stderr, "fuzz_node_record: %s\n", what);
        abort();
    }
}

static bool inside(const uint8_t *data, size_t size, const uint8_t *p, uint32_t n)
{
    return n == 0 || (p >= data && p + n <= data + size);
}

static bool terminated(const char *text, size_t array_size)
{
    return memchr(text, '\0', array_size) != NULL;
}

static void check_input(const uint8_t *data, size_t size, const node_record_item *item)
{
    const sim_replay_input *in = &item->input;
    fuzz_require(in->kind >= 1 && in->kind <= SIM_REPLAY_KIND_MAX, "input kind out of range");
    fuzz_require(in->store_call_count <= SIM_REPLAY_STORE_CALLS_MAX, "store calls over bound");
    for (uint32_t i = 0; i < in->store_call_count; i++) {
        fuzz_require(in->store_calls[i].op >= SIM_REPLAY_STORE_WRITE &&
                         in->store_calls[i].op <= SIM_REPLAY_STORE_SYNC &&
                         in->store_calls[i].result < MESH_ERR_COUNT,
                     "store call out of range");
    }
    switch (in->kind) {
    case SIM_REPLAY_REVOCATION_ENDPOINT:
        fuzz_require(terminated(in->endpoint, sizeof(in->endpoint)), "endpoint text");
        break;
    case SIM_REPLAY_FRAME:
    case SIM_REPLAY_ADD_REVOCATION:
        fuzz_require(in->size >= 1 && in->size <= WIRE_FRAME_SIZE_MAX, "frame size");
        fuzz_require(inside(data, size, in->bytes, in->size), "frame outside the input");
        break;
    case SIM_REPLAY_CREATE: {
        const member_config *c = in->config;
        fuzz_require(c != NULL, "create without config");
        fuzz_require(c->gossip.seed_count <= GOSSIP_SEEDS_MAX, "seed count");
        for (uint32_t i = 0; i < c->gossip.seed_count; i++) {
            fuzz_require(terminated(c->gossip.seeds[i], WIRE_ENDPOINT_SIZE_MAX + 1), "seed text");
        }
        fuzz_require(inside(data, size, c->gossip.cert_frame, c->gossip.cert_frame_size),
                     "certificate outside the input");
        fuzz_require(c->gossip.advert.resource_count <= WIRE_RESOURCES_MAX, "advert resources");
        fuzz_require(terminated(c->gossip.advert.endpoint, sizeof(c->gossip.advert.endpoint)),
                     "endpoint text");
        fuzz_require(c->lease.class_count <= LEASE_CLASSES_MAX, "lease classes");
        fuzz_require(c->burst.constraints.country_count <= WIRE_LEASE_COUNTRIES_MAX, "countries");
        static const uint8_t zero[sizeof(c->gossip.keypair.secret_key)];
        fuzz_require(memcmp(c->gossip.keypair.secret_key, zero, sizeof(zero)) == 0,
                     "a secret key read from a recording");
        break;
    }
    case SIM_REPLAY_BORROW:
        fuzz_require(in->borrow->resource_count <= WIRE_LEASE_RESOURCES_MAX, "borrow resources");
        fuzz_require(in->borrow->prefer_count <= LEASE_PREFER_MAX, "borrow prefer");
        break;
    case SIM_REPLAY_SET_LOAD:
    case SIM_REPLAY_SET_CAPACITY:
        fuzz_require(terminated(in->model, sizeof(in->model)), "model text");
        break;
    case SIM_REPLAY_UPDATE_ADVERT:
        fuzz_require(in->advert->resource_count <= WIRE_RESOURCES_MAX, "advert resources");
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static node_record_item *item;
    if (item == NULL) {
        item = calloc(1, sizeof(*item));
        fuzz_require(item != NULL, "out of memory");
    }
    node_record_cursor cursor;
    node_record_cursor_init(&cursor, data, size);
    char error[256];
    uint64_t records_max = size / (4u + NODE_RECORD_CHECKSUM_SIZE) + 1u;
    for (uint64_t n = 0;; n++) {
        fuzz_require(n <= records_max, "more records than the bytes can hold");
        error[0] = '\0';
        mesh_err err = node_record_cursor_next(&cursor, item, error, sizeof(error));
        if (err == MESH_ENOTFOUND) {
            fuzz_require(cursor.offset == size, "the end before the end of the bytes");
            return 0;
        }
        if (err != MESH_OK) {
            fuzz_require(err == MESH_EPROTO || err == MESH_ECORRUPT || err == MESH_EINVAL,
                         "an error outside the contract");
            fuzz_require(strstr(error, "record ") != NULL ||
                             strstr(error, "not a fedmesh recording") != NULL,
                         "an error that names no record");
            return 0;
        }
        fuzz_require(cursor.offset <= size, "the cursor ran past the bytes");
        switch (item->type) {
        case NODE_RECORD_SEGMENT:
            fuzz_require(item->version == NODE_RECORD_VERSION, "another version accepted");
            break;
        case NODE_RECORD_META:
            fuzz_require(terminated(item->name, sizeof(item->name)) &&
                             terminated(item->fedmesh_version, sizeof(item->fedmesh_version)),
                         "meta text");
            break;
        case NODE_RECORD_SNAPSHOT:
            fuzz_require(item->key_size >= 1 && item->key_size <= LEDGER_STORE_KEY_SIZE_MAX &&
                             item->value_size <= LEDGER_VALUE_SIZE_MAX,
                         "snapshot sizes");
            fuzz_require(inside(data, size, item->key, item->key_size) &&
                             inside(data, size, item->value, item->value_size),
                         "snapshot outside the input");
            break;
        case NODE_RECORD_INPUT:
            check_input(data, size, item);
            break;
        case NODE_RECORD_END:
            break;
        default:
            fuzz_require(false, "an unknown record type accepted");
        }
    }
}
