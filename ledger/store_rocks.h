/*
 * ledger/store_rocks.h: the RocksDB backend of the ledger store. Lives in
 * its own library, mesh_ledger_rocks, which only node/ (and the tests and
 * benchmark that exercise it) link: the core never sees RocksDB.
 */
#ifndef LEDGER_STORE_ROCKS_H
#define LEDGER_STORE_ROCKS_H

#include "ledger/ledger.h"

typedef struct ledger_rocks_store ledger_rocks_store;

typedef enum ledger_rocks_mode {
    LEDGER_ROCKS_CREATE = 1,    /* read-write; create the database when missing */
    LEDGER_ROCKS_WRITE = 2,     /* read-write; the database must exist */
    LEDGER_ROCKS_READ_ONLY = 3, /* reading tools: works beside a running writer; writes fail */
} ledger_rocks_mode;

/* Opens the database in directory path. A RocksDB error is logged to
 * stderr as one line and becomes MESH_ESTORE; a missing database (modes
 * other than CREATE) is MESH_ENOTFOUND. MESH_ENOMEM. */
MESH_MUST_USE mesh_err ledger_rocks_store_open(const char *path,
                                               ledger_rocks_mode mode,
                                               ledger_rocks_store **store_out);
void ledger_rocks_store_close(ledger_rocks_store *store); /* NULL is a no-op */
/* The vtable; valid as long as the store. */
ledger_store ledger_rocks_store_interface(ledger_rocks_store *store);

/* For benchmarks and test tools: one raw put (synced or not) and one raw
 * batch of puts, bypassing the ledger. MESH_ESTORE. */
MESH_MUST_USE mesh_err ledger_rocks_store_put(ledger_rocks_store *store,
                                              const uint8_t *key,
                                              uint32_t key_size,
                                              const uint8_t *value,
                                              uint32_t value_size,
                                              bool sync);

#endif /* LEDGER_STORE_ROCKS_H */
