/*
 * ledger/store_mem.c: the in-memory store, for the simulator and tests.
 *
 * Two sorted maps: `visible`, what reads see, and `durable`, what a crash
 * keeps; between them, the log of batches written without sync. A synced
 * write (or sync) replays the log and the batch onto durable and empties
 * the log, as an fsync of a write-ahead log makes every earlier write
 * durable too. A simulated crash keeps a random prefix of the log (LOSE),
 * and may add a random prefix of the ops of the next logged batch (TEAR,
 * the torn write of a backend without atomic batches, after SQLite's
 * test6.c), then makes that the new durable and visible state.
 * ledger_mem_store_fail_next_write tears a write as it happens.
 *
 * A map is a sorted array of items whose key and value share one
 * allocation: O(log n) reads, O(n) inserts, fine for the thousands of
 * keys of a simulated node. Bounded by keys_max and bytes_max (MESH_EFULL
 * past them); the unsynced log is bounded by the same byte budget.
 */
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger_int.h"

typedef struct item {
    uint8_t *bytes; /* key || value */
    uint32_t key_size;
    uint32_t value_size;
} item;

typedef struct map {
    item *items;
    uint32_t count;
    uint64_t bytes;
} map;

typedef struct logged_op {
    bool is_delete;
    uint8_t *bytes;
    uint32_t key_size;
    uint32_t value_size;
} logged_op;

typedef struct logged_batch {
    logged_op *ops;
    uint32_t count;
} logged_batch;

struct ledger_mem_store {
    uint32_t keys_max;
    uint64_t bytes_max;
    map visible;
    map durable;
    logged_batch *log;
    uint32_t log_count;
    uint32_t log_max;
    uint64_t log_bytes;
    bool fail_next;
    uint32_t fail_op_count;
};

#define LOG_BATCHES_MAX 4096u

typedef struct map_key {
    const uint8_t *bytes;
    uint32_t size;
} map_key;

static int map_compare_at(const void *key, const void *items, uint32_t index)
{
    const map_key *k = key;
    const item *it = &((const item *) items)[index];
    return ledger_key_compare(k->bytes, k->size, it->bytes, it->key_size);
}

static uint32_t map_search(const map *m, const uint8_t *key, uint32_t key_size, bool *found_out)
{
    map_key k = {.bytes = key, .size = key_size};
    return ledger_search(&k, m->items, m->count, map_compare_at, found_out);
}

static void map_clear(map *m)
{
    for (uint32_t i = 0; i < m->count; i++) {
        free(m->items[i].bytes);
    }
    m->count = 0;
    m->bytes = 0;
}

static mesh_err map_put(ledger_mem_store *store,
                        map *m,
                        const uint8_t *key,
                        uint32_t key_size,
                        const uint8_t *value,
                        uint32_t value_size)
{
    bool found = false;
    uint32_t index = map_search(m, key, key_size, &found);
    uint8_t *bytes = malloc((size_t) key_size + value_size + 1);
    if (bytes == NULL) {
        return MESH_ENOMEM;
    }
    memcpy(bytes, key, key_size);
    if (value_size > 0) {
        memcpy(bytes + key_size, value, value_size);
    }
    if (found) {
        m->bytes -= m->items[index].key_size + m->items[index].value_size;
        free(m->items[index].bytes);
    } else {
        if (m->count >= store->keys_max) {
            free(bytes);
            return MESH_EFULL;
        }
        memmove(&m->items[index + 1], &m->items[index], (size_t) (m->count - index) * sizeof(item));
        m->count++;
    }
    m->items[index] = (item){.bytes = bytes, .key_size = key_size, .value_size = value_size};
    m->bytes += key_size + value_size;
    return MESH_OK;
}

static void map_delete(map *m, const uint8_t *key, uint32_t key_size)
{
    bool found = false;
    uint32_t index = map_search(m, key, key_size, &found);
    if (!found) {
        return;
    }
    m->bytes -= m->items[index].key_size + m->items[index].value_size;
    free(m->items[index].bytes);
    memmove(&m->items[index], &m->items[index + 1], (size_t) (m->count - index - 1) * sizeof(item));
    m->count--;
}

static mesh_err map_apply_op(ledger_mem_store *store, map *m, const logged_op *op)
{
    if (op->is_delete) {
        map_delete(m, op->bytes, op->key_size);
        return MESH_OK;
    }
    return map_put(store, m, op->bytes, op->key_size, op->bytes + op->key_size, op->value_size);
}

static mesh_err map_copy(ledger_mem_store *store, map *to, const map *from)
{
    map_clear(to);
    for (uint32_t i = 0; i < from->count; i++) {
        const item *it = &from->items[i];
        mesh_err err =
            map_put(store, to, it->bytes, it->key_size, it->bytes + it->key_size, it->value_size);
        if (err != MESH_OK) {
            return err;
        }
    }
    return MESH_OK;
}

static void batch_free(logged_batch *batch)
{
    for (uint32_t i = 0; i < batch->count; i++) {
        free(batch->ops[i].bytes);
    }
    free(batch->ops);
    batch->ops = NULL;
    batch->count = 0;
}

static void log_clear(ledger_mem_store *store)
{
    for (uint32_t i = 0; i < store->log_count; i++) {
        batch_free(&store->log[i]);
    }
    store->log_count = 0;
    store->log_bytes = 0;
}

mesh_err
ledger_mem_store_create(uint32_t keys_max, uint64_t bytes_max, ledger_mem_store **store_out)
{
    MESH_ASSERT(store_out != NULL);
    if (keys_max == 0 || bytes_max == 0 || keys_max > (1u << 26)) {
        return MESH_EINVAL;
    }
    ledger_mem_store *store = calloc(1, sizeof(*store));
    if (store == NULL) {
        return MESH_ENOMEM;
    }
    store->keys_max = keys_max;
    store->bytes_max = bytes_max;
    store->log_max = LOG_BATCHES_MAX;
    store->visible.items = calloc(keys_max, sizeof(item));
    store->durable.items = calloc(keys_max, sizeof(item));
    store->log = calloc(LOG_BATCHES_MAX, sizeof(logged_batch));
    if (store->visible.items == NULL || store->durable.items == NULL || store->log == NULL) {
        ledger_mem_store_destroy(store);
        return MESH_ENOMEM;
    }
    *store_out = store;
    return MESH_OK;
}

void ledger_mem_store_destroy(ledger_mem_store *store)
{
    if (store == NULL) {
        return;
    }
    if (store->log != NULL) {
        log_clear(store);
    }
    if (store->visible.items != NULL) {
        map_clear(&store->visible);
    }
    if (store->durable.items != NULL) {
        map_clear(&store->durable);
    }
    free(store->visible.items);
    free(store->durable.items);
    free(store->log);
    free(store);
}

static mesh_err copy_batch(const ledger_batch *batch, logged_batch *out)
{
    out->ops = calloc(batch->count == 0 ? 1 : batch->count, sizeof(logged_op));
    out->count = 0;
    if (out->ops == NULL) {
        return MESH_ENOMEM;
    }
    for (uint32_t i = 0; i < batch->count; i++) {
        const ledger_op *op = &batch->ops[i];
        uint32_t value_size = op->is_delete ? 0 : op->value_size;
        uint8_t *bytes = malloc((size_t) op->key_size + value_size + 1);
        if (bytes == NULL) {
            batch_free(out);
            return MESH_ENOMEM;
        }
        memcpy(bytes, op->key, op->key_size);
        if (value_size > 0) {
            memcpy(bytes + op->key_size, op->value, value_size);
        }
        out->ops[i] = (logged_op){.is_delete = op->is_delete,
                                  .bytes = bytes,
                                  .key_size = op->key_size,
                                  .value_size = value_size};
        out->count++;
    }
    return MESH_OK;
}

static uint64_t batch_bytes(const logged_batch *batch)
{
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < batch->count; i++) {
        bytes += batch->ops[i].key_size + batch->ops[i].value_size;
    }
    return bytes;
}

// Applies ops [0, count) of a batch to a map. A failure part-way leaves the
// map part-applied; callers apply to the visible map only after a dry
// check of the limits, so that only an allocation failure can do that.
static mesh_err
apply_batch(ledger_mem_store *store, map *m, const logged_batch *batch, uint32_t count)
{
    for (uint32_t i = 0; i < count && i < batch->count; i++) {
        mesh_err err = map_apply_op(store, m, &batch->ops[i]);
        if (err != MESH_OK) {
            return err;
        }
    }
    return MESH_OK;
}

static mesh_err make_durable(ledger_mem_store *store)
{
    for (uint32_t i = 0; i < store->log_count; i++) {
        mesh_err err = apply_batch(store, &store->durable, &store->log[i], store->log[i].count);
        if (err != MESH_OK) {
            return err;
        }
    }
    log_clear(store);
    return MESH_OK;
}

static mesh_err mem_write(void *ctx, const ledger_batch *batch, bool sync)
{
    ledger_mem_store *store = ctx;
    MESH_ASSERT(store != NULL && batch != NULL);
    MESH_ASSERT(batch->ops != NULL || batch->count == 0);
    logged_batch copy;
    mesh_err err = copy_batch(batch, &copy);
    if (err != MESH_OK) {
        return err;
    }
    uint64_t bytes = batch_bytes(&copy);
    if (store->visible.bytes + store->log_bytes + bytes > store->bytes_max ||
        store->visible.count + batch->count > store->keys_max ||
        store->log_count >= store->log_max) {
        batch_free(&copy);
        return MESH_EFULL;
    }
    if (store->fail_next) {
        // A torn write: a prefix reaches the disk, then the write fails.
        store->fail_next = false;
        err = make_durable(store);
        if (err == MESH_OK) {
            err = apply_batch(store, &store->durable, &copy, store->fail_op_count);
        }
        if (err == MESH_OK) {
            err = map_copy(store, &store->visible, &store->durable);
        }
        batch_free(&copy);
        return err == MESH_OK ? MESH_ESTORE : err;
    }
    err = apply_batch(store, &store->visible, &copy, copy.count);
    if (err != MESH_OK) {
        batch_free(&copy);
        return err;
    }
    store->log[store->log_count++] = copy;
    store->log_bytes += bytes;
    return sync ? make_durable(store) : MESH_OK;
}

static mesh_err mem_sync(void *ctx)
{
    ledger_mem_store *store = ctx;
    MESH_ASSERT(store != NULL);
    return make_durable(store);
}

static mesh_err mem_get(void *ctx,
                        const uint8_t *key,
                        uint32_t key_size,
                        uint8_t *value_out,
                        uint32_t value_size_max,
                        uint32_t *value_size_out)
{
    ledger_mem_store *store = ctx;
    MESH_ASSERT(store != NULL && key != NULL);
    MESH_ASSERT(value_size_out != NULL);
    bool found = false;
    uint32_t index = map_search(&store->visible, key, key_size, &found);
    if (!found) {
        return MESH_ENOTFOUND;
    }
    const item *it = &store->visible.items[index];
    if (it->value_size > value_size_max) {
        return MESH_EFULL;
    }
    if (it->value_size > 0) {
        memcpy(value_out, it->bytes + it->key_size, it->value_size);
    }
    *value_size_out = it->value_size;
    return MESH_OK;
}

static mesh_err mem_scan(void *ctx,
                         const uint8_t *prefix,
                         uint32_t prefix_size,
                         const uint8_t *start,
                         uint32_t start_size,
                         ledger_store_visit visit,
                         void *arg)
{
    ledger_mem_store *store = ctx;
    MESH_ASSERT(store != NULL && visit != NULL);
    MESH_ASSERT(prefix != NULL || prefix_size == 0);
    bool found = false;
    const uint8_t *from = NULL;
    uint32_t from_size = 0;
    ledger_scan_from(prefix, prefix_size, start, start_size, &from, &from_size);
    uint32_t index = map_search(&store->visible, from, from_size, &found);
    // The visitor may not write to the store, so the array does not move.
    for (; index < store->visible.count; index++) {
        const item *it = &store->visible.items[index];
        if (it->key_size < prefix_size ||
            (prefix_size > 0 && memcmp(it->bytes, prefix, prefix_size) != 0)) {
            break;
        }
        if (!visit(arg, it->bytes, it->key_size, it->bytes + it->key_size, it->value_size)) {
            break;
        }
    }
    return MESH_OK;
}

ledger_store ledger_mem_store_interface(ledger_mem_store *store)
{
    MESH_ASSERT(store != NULL);
    return (ledger_store){
        .ctx = store, .get = mem_get, .write = mem_write, .scan = mem_scan, .sync = mem_sync};
}

void ledger_mem_store_crash(ledger_mem_store *store, ledger_crash_mode mode, mesh_rng *rng)
{
    MESH_ASSERT(store != NULL && rng != NULL);
    MESH_ASSERT(mode == LEDGER_CRASH_LOSE || mode == LEDGER_CRASH_TEAR);
    uint32_t keep = (uint32_t) mesh_rng_below(rng, (uint64_t) store->log_count + 1);
    for (uint32_t i = 0; i < keep; i++) {
        // The durable map had room for all of it when it was visible.
        MESH_ASSERT(apply_batch(store, &store->durable, &store->log[i], store->log[i].count) ==
                    MESH_OK);
    }
    if (mode == LEDGER_CRASH_TEAR && keep < store->log_count) {
        const logged_batch *next = &store->log[keep];
        uint32_t ops = (uint32_t) mesh_rng_below(rng, (uint64_t) next->count + 1);
        MESH_ASSERT(apply_batch(store, &store->durable, next, ops) == MESH_OK);
    }
    log_clear(store);
    MESH_ASSERT(map_copy(store, &store->visible, &store->durable) == MESH_OK);
}

void ledger_mem_store_fail_next_write(ledger_mem_store *store, uint32_t op_count)
{
    MESH_ASSERT(store != NULL);
    store->fail_next = true;
    store->fail_op_count = op_count;
}

uint32_t ledger_mem_store_key_count(const ledger_mem_store *store)
{
    MESH_ASSERT(store != NULL);
    return store->visible.count;
}

uint32_t ledger_mem_store_unsynced_count(const ledger_mem_store *store)
{
    MESH_ASSERT(store != NULL);
    return store->log_count;
}

mesh_err ledger_mem_store_flip(
    ledger_mem_store *store, const uint8_t *key, uint32_t key_size, uint32_t index, uint8_t mask)
{
    MESH_ASSERT(store != NULL && key != NULL);
    map *maps[2] = {&store->visible, &store->durable};
    bool any = false;
    for (uint32_t m = 0; m < 2; m++) {
        bool found = false;
        uint32_t at = map_search(maps[m], key, key_size, &found);
        if (!found) {
            continue;
        }
        item *it = &maps[m]->items[at];
        if (index >= it->value_size) {
            return MESH_EINVAL;
        }
        it->bytes[it->key_size + index] ^= mask;
        any = true;
    }
    return any ? MESH_OK : MESH_ENOTFOUND;
}
