/*
 * ledger/store_rocks.c: the ledger store over RocksDB's C API.
 *
 * One database per node, default column family. A batch is one
 * rocksdb_writebatch (reused across writes, so a commit allocates
 * nothing here), written with a synced or an unsynced write-options
 * object; RocksDB applies a batch atomically, and a synced write syncs
 * the write-ahead log, which also makes every earlier unsynced write
 * durable (the contract ledger_store documents). Scans are one iterator,
 * seeked to the start key or the prefix, stopped at the first key outside
 * the prefix.
 *
 * Errors are translated at this edge: a RocksDB errptr becomes
 * MESH_ESTORE and one line on stderr, and is freed with rocksdb_free.
 * Nothing RocksDB allocates leaves this file.
 */
#include "ledger/store_rocks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rocksdb/c.h>

#include "ledger/ledger_int.h"

struct ledger_rocks_store {
    rocksdb_t *db;
    rocksdb_options_t *options;
    rocksdb_writeoptions_t *write_sync;
    rocksdb_writeoptions_t *write_nosync;
    rocksdb_readoptions_t *read;
    rocksdb_writebatch_t *batch;
};

static mesh_err translate(char *error, const char *what)
{
    if (error == NULL) {
        return MESH_OK;
    }
    (void) fprintf(stderr, "fedmesh: ledger: rocksdb %s: %s\n", what, error);
    rocksdb_free(error);
    return MESH_ESTORE;
}

void ledger_rocks_store_close(ledger_rocks_store *store)
{
    if (store == NULL) {
        return;
    }
    if (store->db != NULL) {
        rocksdb_close(store->db);
    }
    if (store->batch != NULL) {
        rocksdb_writebatch_destroy(store->batch);
    }
    if (store->read != NULL) {
        rocksdb_readoptions_destroy(store->read);
    }
    if (store->write_sync != NULL) {
        rocksdb_writeoptions_destroy(store->write_sync);
    }
    if (store->write_nosync != NULL) {
        rocksdb_writeoptions_destroy(store->write_nosync);
    }
    if (store->options != NULL) {
        rocksdb_options_destroy(store->options);
    }
    free(store);
}

mesh_err
ledger_rocks_store_open(const char *path, ledger_rocks_mode mode, ledger_rocks_store **store_out)
{
    MESH_ASSERT(path != NULL);
    MESH_ASSERT(store_out != NULL);
    ledger_rocks_store *store = calloc(1, sizeof(*store));
    if (store == NULL) {
        return MESH_ENOMEM;
    }
    store->options = rocksdb_options_create();
    store->write_sync = rocksdb_writeoptions_create();
    store->write_nosync = rocksdb_writeoptions_create();
    store->read = rocksdb_readoptions_create();
    store->batch = rocksdb_writebatch_create();
    if (store->options == NULL || store->write_sync == NULL || store->write_nosync == NULL ||
        store->read == NULL || store->batch == NULL) {
        ledger_rocks_store_close(store);
        return MESH_ENOMEM;
    }
    bool create = mode == LEDGER_ROCKS_CREATE;
    rocksdb_options_set_create_if_missing(store->options, create ? 1 : 0);
    rocksdb_options_set_paranoid_checks(store->options, 1);
    // The info log would fill the ledger directory with LOG.old files.
    rocksdb_options_set_keep_log_file_num(store->options, 2);
    rocksdb_writeoptions_set_sync(store->write_sync, 1);
    rocksdb_writeoptions_set_sync(store->write_nosync, 0);
    char *error = NULL;
    if (mode == LEDGER_ROCKS_READ_ONLY) {
        store->db = rocksdb_open_for_read_only(store->options, path, 0, &error);
    } else {
        store->db = rocksdb_open(store->options, path, &error);
    }
    if (error != NULL) {
        bool missing = !create && (strstr(error, "does not exist") != NULL ||
                                   strstr(error, "No such file") != NULL);
        if (missing) {
            rocksdb_free(error);
        }
        mesh_err err = missing ? MESH_ENOTFOUND : translate(error, "open");
        store->db = NULL;
        ledger_rocks_store_close(store);
        return err;
    }
    *store_out = store;
    return MESH_OK;
}

static mesh_err rocks_get(void *ctx,
                          const uint8_t *key,
                          uint32_t key_size,
                          uint8_t *value_out,
                          uint32_t value_size_max,
                          uint32_t *value_size_out)
{
    ledger_rocks_store *store = ctx;
    MESH_ASSERT(store != NULL && key != NULL);
    MESH_ASSERT(value_size_out != NULL);
    char *error = NULL;
    size_t size = 0;
    char *value = rocksdb_get(store->db, store->read, (const char *) key, key_size, &size, &error);
    if (error != NULL) {
        return translate(error, "get");
    }
    if (value == NULL) {
        return MESH_ENOTFOUND;
    }
    mesh_err err = MESH_OK;
    if (size > value_size_max) {
        err = MESH_EFULL;
    } else {
        memcpy(value_out, value, size);
        *value_size_out = (uint32_t) size;
    }
    rocksdb_free(value);
    return err;
}

static mesh_err rocks_write(void *ctx, const ledger_batch *batch, bool sync)
{
    ledger_rocks_store *store = ctx;
    MESH_ASSERT(store != NULL && batch != NULL);
    MESH_ASSERT(batch->ops != NULL || batch->count == 0);
    rocksdb_writebatch_clear(store->batch);
    for (uint32_t i = 0; i < batch->count; i++) {
        const ledger_op *op = &batch->ops[i];
        if (op->is_delete) {
            rocksdb_writebatch_delete(store->batch, (const char *) op->key, op->key_size);
        } else {
            rocksdb_writebatch_put(store->batch, (const char *) op->key, op->key_size,
                                   (const char *) op->value, op->value_size);
        }
    }
    char *error = NULL;
    rocksdb_write(store->db, sync ? store->write_sync : store->write_nosync, store->batch, &error);
    rocksdb_writebatch_clear(store->batch);
    return translate(error, "write");
}

static mesh_err rocks_sync(void *ctx)
{
    ledger_rocks_store *store = ctx;
    MESH_ASSERT(store != NULL);
    char *error = NULL;
    rocksdb_flush_wal(store->db, 1, &error);
    return translate(error, "sync");
}

static mesh_err rocks_scan(void *ctx,
                           const uint8_t *prefix,
                           uint32_t prefix_size,
                           const uint8_t *start,
                           uint32_t start_size,
                           ledger_store_visit visit,
                           void *arg)
{
    ledger_rocks_store *store = ctx;
    MESH_ASSERT(store != NULL && visit != NULL);
    MESH_ASSERT(prefix != NULL || prefix_size == 0);
    rocksdb_iterator_t *iterator = rocksdb_create_iterator(store->db, store->read);
    if (iterator == NULL) {
        return MESH_ENOMEM;
    }
    const uint8_t *from = NULL;
    uint32_t from_size = 0;
    ledger_scan_from(prefix, prefix_size, start, start_size, &from, &from_size);
    if (from_size > 0) {
        rocksdb_iter_seek(iterator, (const char *) from, from_size);
    } else {
        rocksdb_iter_seek_to_first(iterator);
    }
    for (; rocksdb_iter_valid(iterator); rocksdb_iter_next(iterator)) {
        size_t key_size = 0;
        size_t value_size = 0;
        const char *key = rocksdb_iter_key(iterator, &key_size);
        const char *value = rocksdb_iter_value(iterator, &value_size);
        if (key_size < prefix_size || (prefix_size > 0 && memcmp(key, prefix, prefix_size) != 0)) {
            break;
        }
        // Keys and values of this store are small; anything huge is not ours.
        if (key_size > UINT32_MAX || value_size > UINT32_MAX) {
            break;
        }
        if (!visit(arg, (const uint8_t *) key, (uint32_t) key_size, (const uint8_t *) value,
                   (uint32_t) value_size)) {
            break;
        }
    }
    char *error = NULL;
    rocksdb_iter_get_error(iterator, &error);
    rocksdb_iter_destroy(iterator);
    return translate(error, "scan");
}

ledger_store ledger_rocks_store_interface(ledger_rocks_store *store)
{
    MESH_ASSERT(store != NULL);
    return (ledger_store){.ctx = store,
                          .get = rocks_get,
                          .write = rocks_write,
                          .scan = rocks_scan,
                          .sync = rocks_sync};
}

mesh_err ledger_rocks_store_put(ledger_rocks_store *store,
                                const uint8_t *key,
                                uint32_t key_size,
                                const uint8_t *value,
                                uint32_t value_size,
                                bool sync)
{
    MESH_ASSERT(store != NULL && key != NULL);
    MESH_ASSERT(value != NULL || value_size == 0);
    char *error = NULL;
    rocksdb_put(store->db, sync ? store->write_sync : store->write_nosync, (const char *) key,
                key_size, (const char *) value, value_size, &error);
    return translate(error, "put");
}
