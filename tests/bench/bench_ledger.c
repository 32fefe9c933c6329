/*
 * tests/bench/bench_ledger.c: what does the fedmesh ledger cost on top of
 * RocksDB's own synced writes?
 *
 * batch:  raw is one rocksdb WriteBatch of 100 puts (9-byte keys, values
 *         of exactly the size of a ledger entry value), written synced,
 *         one after the other.
 *         ledger is durable ledger records with group commit, 100 per
 *         group (the entries, the balance rows they change and the head,
 *         plus the leases and scores every 64th commit, in one synced
 *         batch), counted only once their acknowledgements are delivered,
 *         driven as a node's shell would: a writer thread syncs group N
 *         (ledger_commit_begin / store write / ledger_commit_end) while
 *         the loop appends group N+1. Also reported: the same groups
 *         committed one after the other with ledger_commit, alternating
 *         batch by batch with the raw side (ledger_batch_serial_per_s).
 *         Rates in records/s.
 * single: raw is one synced put of one such value; ledger is one record
 *         appended and committed alone (acknowledged after sync). The p50
 *         latency in microseconds.
 *
 * The records are usage records (record version 2: no terms, which only
 * the OPENED record of a lease carries), round-robin over 16 open leases
 * with two peers (vCPU-hours and GPU-hours), with two 64-byte signatures
 * each. The
 * signatures are fixed random bytes: signing belongs to the lease
 * protocol, not to the ledger, and ledger_append does not verify (verify
 * does). Each side writes its own database in --dir (default: the current
 * directory; use a real disk, not tmpfs, or the syncs cost nothing).
 * The sides alternate within each round; medians of the rounds are
 * reported.
 */
#define _XOPEN_SOURCE 700

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/crypto.h"
#include "ledger/ledger.h"
#include "ledger/store_rocks.h"
#include "tests/bench/bench.h"
#include "wire/wire.h"

#define BATCH_RECORDS   100u
#define LEASES          16u
#define SINGLE_OPS_MAX  4096u
#define PIPELINE_SLICES 8u

typedef struct bench_side {
    ledger_rocks_store *rocks;
    ledger_store store;
    ledger *ledger;
} bench_side;

typedef struct workload {
    mcrypto_keypair self;
    mcrypto_keypair peers[2];
    uint8_t signature[LEDGER_SIGNATURE_SIZE];
    uint32_t numbers[LEASES];
    uint64_t next;
    uint64_t raw_seq;
} workload;

static void lease_id(uint8_t id[LEDGER_LEASE_ID_SIZE], uint32_t lease)
{
    memset(id, 0, LEDGER_LEASE_ID_SIZE);
    id[0] = 0xbe;
    id[15] = (uint8_t) lease;
}

// The terms of an opening (not measured: the leases open before the clock
// starts): a day's window, a price per amount, a lender in France.
static void open_terms(ledger_record *record)
{
    ledger_terms *t = &record->terms;
    t->start_ns = record->time_ns;
    t->end_ns = record->time_ns + 86400ll * 1000000000ll;
    t->price_count = 2;
    t->prices[0] = 40000;   /* micro-euros per vCPU-hour */
    t->prices[1] = 2500000; /* per GPU-hour */
    memcpy(t->lender_cert_hash, record->lender_key, LEDGER_HASH_SIZE);
    memcpy(t->lender_country, "FR", 3);
    t->lender_jurisdiction_count = 1;
    memcpy(t->lender_jurisdictions[0], "EU", 3);
    t->lender_certifications = WIRE_CERTIFICATION_ISO27001;
    t->carbon_gco2_per_kwh = 52;
    t->constraints.country_count = 1;
    memcpy(t->constraints.countries[0], "FR", 3);
    memcpy(t->constraints.data_class, "batch", sizeof("batch"));
}

static void make_record(workload *w, uint32_t lease, uint32_t kind, ledger_record *record)
{
    memset(record, 0, sizeof(*record));
    record->version = LEDGER_RECORD_VERSION;
    record->kind = kind;
    lease_id(record->lease_id, lease);
    record->number = w->numbers[lease]++;
    // Even leases: this node lends; odd ones: it borrows.
    const mcrypto_keypair *peer = &w->peers[lease % 4 < 2 ? 0 : 1];
    bool lends = lease % 2 == 0;
    memcpy(record->lender_key, lends ? w->self.public_key : peer->public_key, LEDGER_KEY_SIZE);
    memcpy(record->borrower_key, lends ? peer->public_key : w->self.public_key, LEDGER_KEY_SIZE);
    record->time_ns = 1795000000000000000ll + (int64_t) w->next * 1000000;
    if (kind != LEDGER_KIND_USAGE && kind != LEDGER_KIND_OPENED) {
        return;
    }
    record->amounts[0].resource_class = LEDGER_CLASS_VCPU;
    record->amounts[0].amount_milli = 64000 + w->next % 1000;
    record->amounts[1].resource_class = LEDGER_CLASS_GPU;
    memcpy(record->amounts[1].model, "A100-80GB", sizeof("A100-80GB"));
    record->amounts[1].amount_milli = 4000 + w->next % 100;
    record->amount_count = 2;
    if (kind == LEDGER_KIND_OPENED) {
        open_terms(record);
    }
}

static void count_ack(void *arg, uint64_t token, uint64_t seq)
{
    (void) token;
    (void) seq;
    (*(uint64_t *) arg)++;
}

static int ledger_append_usage(workload *w, ledger *l)
{
    ledger_record record;
    make_record(w, (uint32_t) (w->next % LEASES), LEDGER_KIND_USAGE, &record);
    w->next++;
    return ledger_append(l, &record, w->signature, w->signature, w->next, NULL) == MESH_OK ? 0 : -1;
}

static int side_open(const char *dir, const char *name, const workload *w, bench_side *side)
{
    char path[4200];
    int used = snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (used < 0 || (size_t) used >= sizeof(path)) {
        return -1;
    }
    if (ledger_rocks_store_open(path, LEDGER_ROCKS_CREATE, &side->rocks) != MESH_OK) {
        return -1;
    }
    side->store = ledger_rocks_store_interface(side->rocks);
    if (w == NULL) {
        return 0;
    }
    ledger_config config;
    ledger_config_default(&config);
    memcpy(config.self_key, w->self.public_key, LEDGER_KEY_SIZE);
    return ledger_open(&config, &side->store, &side->ledger) == MESH_OK ? 0 : -1;
}

/* The writer thread of the pipelined side: it writes one batch at a time,
 * synced, and hands back the result. */
typedef struct writer {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    const ledger_store *store;
    ledger_batch batch;
    bool has_work;
    bool done;
    bool quit;
    mesh_err result;
} writer;

static void *writer_main(void *arg)
{
    writer *wr = arg;
    (void) pthread_mutex_lock(&wr->lock);
    for (;;) {
        while (!wr->has_work && !wr->quit) {
            (void) pthread_cond_wait(&wr->changed, &wr->lock);
        }
        if (wr->quit) {
            break;
        }
        ledger_batch batch = wr->batch;
        (void) pthread_mutex_unlock(&wr->lock);
        mesh_err result = wr->store->write(wr->store->ctx, &batch, true);
        (void) pthread_mutex_lock(&wr->lock);
        wr->result = result;
        wr->has_work = false;
        wr->done = true;
        (void) pthread_cond_broadcast(&wr->changed);
    }
    (void) pthread_mutex_unlock(&wr->lock);
    return NULL;
}

static void writer_submit(writer *wr, const ledger_batch *batch)
{
    (void) pthread_mutex_lock(&wr->lock);
    wr->batch = *batch;
    wr->has_work = true;
    wr->done = false;
    (void) pthread_cond_broadcast(&wr->changed);
    (void) pthread_mutex_unlock(&wr->lock);
}

static mesh_err writer_wait(writer *wr)
{
    (void) pthread_mutex_lock(&wr->lock);
    while (!wr->done) {
        (void) pthread_cond_wait(&wr->changed, &wr->lock);
    }
    mesh_err result = wr->result;
    (void) pthread_mutex_unlock(&wr->lock);
    return result;
}

// Group commit with a pipeline for slice_ns; adds the records
// acknowledged to *acked and returns the time taken.
static uint64_t ledger_pipelined_slice(workload *w,
                                       bench_side *led,
                                       writer *wr,
                                       uint64_t slice_ns,
                                       uint64_t *acked,
                                       uint64_t *failures)
{
    bool flying = false;
    uint64_t start = bench_clock_ns();
    do {
        for (uint32_t i = 0; i < BATCH_RECORDS; i++) {
            *failures += ledger_append_usage(w, led->ledger) != 0;
        }
        if (flying) {
            *failures +=
                ledger_commit_end(led->ledger, writer_wait(wr), count_ack, acked) != MESH_OK;
        }
        ledger_batch batch;
        flying = ledger_commit_begin(led->ledger, true, &batch) == MESH_OK;
        *failures += !flying;
        if (flying) {
            writer_submit(wr, &batch);
        }
    } while (bench_clock_ns() - start < slice_ns);
    if (flying) {
        *failures += ledger_commit_end(led->ledger, writer_wait(wr), count_ack, acked) != MESH_OK;
    }
    return bench_clock_ns() - start;
}

static void raw_key(workload *w, uint8_t key[LEDGER_JOURNAL_KEY_SIZE])
{
    (void) ledger_key_journal(++w->raw_seq, key);
}

// Raw values vary like ledger values do: a sliding window over random bytes.
static const uint8_t *raw_value(const workload *w, const uint8_t *values)
{
    return values + w->raw_seq % 64;
}

static int raw_batch(workload *w, bench_side *raw, const uint8_t *value, uint32_t value_size)
{
    static uint8_t keys[BATCH_RECORDS][LEDGER_JOURNAL_KEY_SIZE];
    ledger_op ops[BATCH_RECORDS];
    for (uint32_t i = 0; i < BATCH_RECORDS; i++) {
        raw_key(w, keys[i]);
        ops[i] = (ledger_op){.key = keys[i],
                             .key_size = LEDGER_JOURNAL_KEY_SIZE,
                             .value = raw_value(w, value),
                             .value_size = value_size};
    }
    ledger_batch batch = {.ops = ops, .count = BATCH_RECORDS};
    return raw->store.write(raw->store.ctx, &batch, true) == MESH_OK ? 0 : -1;
}

// Raw synced batches for slice_ns; adds the records written to *count and
// returns the time taken.
static uint64_t raw_slice(workload *w,
                          bench_side *raw,
                          const uint8_t *value,
                          uint32_t value_size,
                          uint64_t slice_ns,
                          uint64_t *count,
                          uint64_t *failures)
{
    uint64_t start = bench_clock_ns();
    do {
        *failures += raw_batch(w, raw, value, value_size) != 0;
        *count += BATCH_RECORDS;
    } while (bench_clock_ns() - start < slice_ns);
    return bench_clock_ns() - start;
}

static int remove_entry(const char *path, const struct stat *info, int flag, struct FTW *ftw)
{
    (void) info;
    (void) flag;
    (void) ftw;
    return remove(path);
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a;
    uint64_t y = *(const uint64_t *) b;
    return (x > y) - (x < y);
}

static double p50_us(uint64_t *samples_ns, uint32_t count)
{
    qsort(samples_ns, count, sizeof(uint64_t), compare_u64);
    uint64_t middle_ns = samples_ns[count / 2];
    return (double) middle_ns / 1000.0;
}

// The size of a stored ledger value for one usage record.
static uint32_t entry_value_size(workload *w)
{
    ledger_mem_store *mem = NULL;
    if (ledger_mem_store_create(1024, 1u << 20, &mem) != MESH_OK) {
        return 0;
    }
    ledger_store store = ledger_mem_store_interface(mem);
    ledger_config config;
    ledger_config_default(&config);
    config.group_records_max = 4;
    memcpy(config.self_key, w->self.public_key, LEDGER_KEY_SIZE);
    ledger *l = NULL;
    uint32_t size = 0;
    workload copy = *w;
    ledger_record record;
    make_record(&copy, 0, LEDGER_KIND_OPENED, &record);
    if (ledger_open(&config, &store, &l) == MESH_OK &&
        ledger_append(l, &record, w->signature, w->signature, 0, NULL) == MESH_OK &&
        ledger_commit(l, true, NULL, NULL) == MESH_OK && ledger_append_usage(&copy, l) == 0 &&
        ledger_commit(l, true, NULL, NULL) == MESH_OK) {
        uint8_t key[LEDGER_JOURNAL_KEY_SIZE];
        uint8_t value[LEDGER_VALUE_SIZE_MAX];
        (void) ledger_key_journal(2, key);
        (void) store.get(store.ctx, key, sizeof(key), value, sizeof(value), &size);
    }
    ledger_close(l);
    ledger_mem_store_destroy(mem);
    return size;
}

int bench_ledger(const bench_options *options)
{
    if (mcrypto_init() != MESH_OK) {
        return 1;
    }
    static workload w;
    uint8_t seed[MCRYPTO_SEED_SIZE];
    for (uint32_t i = 0; i < 3; i++) {
        memset(seed, (int) (i + 1), sizeof(seed));
        if (mcrypto_keypair_from_seed(seed, i == 0 ? &w.self : &w.peers[i - 1]) != MESH_OK) {
            return 1;
        }
    }
    randombytes_buf(w.signature, sizeof(w.signature));
    uint32_t value_size = entry_value_size(&w);
    if (value_size == 0) {
        (void) fputs("bench: cannot size a ledger entry\n", stderr);
        return 1;
    }
    uint8_t value[LEDGER_VALUE_SIZE_MAX + 64];
    randombytes_buf(value, sizeof(value));

    char dir[4096];
    (void) snprintf(dir, sizeof(dir), "%s/fedmesh-bench-ledger-XXXXXX",
                    options->dir != NULL ? options->dir : ".");
    if (mkdtemp(dir) == NULL) {
        (void) fprintf(stderr, "bench: cannot make a directory in %s\n",
                       options->dir != NULL ? options->dir : ".");
        return 1;
    }
    bench_side raw = {0};
    bench_side led = {0};
    int rc = 1;
    if (side_open(dir, "raw", NULL, &raw) != 0 || side_open(dir, "ledger", &w, &led) != 0) {
        (void) fputs("bench: cannot open the databases\n", stderr);
        goto out_close;
    }
    // Open the leases (not measured).
    for (uint32_t lease = 0; lease < LEASES; lease++) {
        ledger_record record;
        make_record(&w, lease, LEDGER_KIND_OPENED, &record);
        if (ledger_append(led.ledger, &record, w.signature, w.signature, 0, NULL) != MESH_OK) {
            goto out_close;
        }
    }
    if (ledger_commit(led.ledger, true, NULL, NULL) != MESH_OK) {
        goto out_close;
    }

    double raw_batch_rates[BENCH_ROUNDS_MAX];
    double ledger_batch_rates[BENCH_ROUNDS_MAX];
    double ledger_serial_rates[BENCH_ROUNDS_MAX];
    double raw_serial_rates[BENCH_ROUNDS_MAX];
    writer wr = {.store = &led.store};
    if (pthread_mutex_init(&wr.lock, NULL) != 0 || pthread_cond_init(&wr.changed, NULL) != 0 ||
        pthread_create(&wr.thread, NULL, writer_main, &wr) != 0) {
        (void) fputs("bench: cannot start the writer thread\n", stderr);
        goto out_close;
    }
    double raw_single[BENCH_ROUNDS_MAX];
    double ledger_single[BENCH_ROUNDS_MAX];
    static uint64_t raw_samples[SINGLE_OPS_MAX];
    static uint64_t ledger_samples[SINGLE_OPS_MAX];
    uint64_t failures = 0;
    for (uint32_t round = 0; round < options->rounds; round++) {
        // Batches: raw and ledger alternate batch by batch, so that both
        // sides see the same disk (a shared VM's fsync time drifts by 2x
        // within seconds); each side's time is summed apart.
        uint64_t raw_ns = 0;
        uint64_t ledger_ns = 0;
        uint64_t raw_count = 0;
        uint64_t acked = 0;
        uint64_t start = bench_clock_ns();
        do {
            uint64_t t = bench_clock_ns();
            failures += raw_batch(&w, &raw, value, value_size) != 0;
            raw_count += BATCH_RECORDS;
            uint64_t u = bench_clock_ns();
            for (uint32_t i = 0; i < BATCH_RECORDS; i++) {
                failures += ledger_append_usage(&w, led.ledger) != 0;
            }
            failures += ledger_commit(led.ledger, true, count_ack, &acked) != MESH_OK;
            uint64_t v = bench_clock_ns();
            raw_ns += u - t;
            ledger_ns += v - u;
        } while (bench_clock_ns() - start < 2 * options->round_ns);
        raw_serial_rates[round] = (double) raw_count * 1e9 / (double) raw_ns;
        ledger_serial_rates[round] = (double) acked * 1e9 / (double) ledger_ns;

        // Batches again, the ledger pipelined: raw and ledger alternate in
        // slices of round_ms / PIPELINE_SLICES.
        raw_ns = 0;
        ledger_ns = 0;
        raw_count = 0;
        acked = 0;
        for (uint32_t slice = 0; slice < PIPELINE_SLICES; slice++) {
            uint64_t slice_ns = options->round_ns / PIPELINE_SLICES;
            raw_ns += raw_slice(&w, &raw, value, value_size, slice_ns, &raw_count, &failures);
            ledger_ns += ledger_pipelined_slice(&w, &led, &wr, slice_ns, &acked, &failures);
        }
        raw_batch_rates[round] = (double) raw_count * 1e9 / (double) raw_ns;
        ledger_batch_rates[round] = (double) acked * 1e9 / (double) ledger_ns;

        // Single synced records, alternating the same way.
        uint32_t n = 0;
        start = bench_clock_ns();
        do {
            uint8_t key[LEDGER_JOURNAL_KEY_SIZE];
            raw_key(&w, key);
            uint64_t t = bench_clock_ns();
            failures += ledger_rocks_store_put(raw.rocks, key, sizeof(key), raw_value(&w, value),
                                               value_size, true) != MESH_OK;
            uint64_t u = bench_clock_ns();
            failures += ledger_append_usage(&w, led.ledger) != 0;
            failures += ledger_commit(led.ledger, true, count_ack, &acked) != MESH_OK;
            uint64_t v = bench_clock_ns();
            raw_samples[n] = u - t;
            ledger_samples[n] = v - u;
            n++;
        } while (n < SINGLE_OPS_MAX && bench_clock_ns() - start < 2 * options->round_ns);
        raw_single[round] = p50_us(raw_samples, n);
        ledger_single[round] = p50_us(ledger_samples, n);
    }
    (void) pthread_mutex_lock(&wr.lock);
    wr.quit = true;
    (void) pthread_cond_broadcast(&wr.changed);
    (void) pthread_mutex_unlock(&wr.lock);
    (void) pthread_join(wr.thread, NULL);
    if (failures != 0) {
        (void) fprintf(stderr, "bench: %llu operations failed\n", (unsigned long long) failures);
        goto out_close;
    }
    double raw_rate = bench_median(raw_batch_rates, options->rounds);
    double ledger_rate = bench_median(ledger_batch_rates, options->rounds);
    double serial_rate = bench_median(ledger_serial_rates, options->rounds);
    double raw_serial_rate = bench_median(raw_serial_rates, options->rounds);
    double raw_p50 = bench_median(raw_single, options->rounds);
    double ledger_p50 = bench_median(ledger_single, options->rounds);
    if (options->json) {
        (void) printf("{\"bench\":\"ledger\",\"raw_batch_per_s\":%.0f,\"ledger_batch_per_s\":%.0f,"
                      "\"ratio_batch\":%.3f,\"raw_sync_p50_us\":%.1f,\"ledger_sync_p50_us\":%.1f,"
                      "\"ratio_single\":%.3f,\"ledger_batch_serial_per_s\":%.0f,"
                      "\"ratio_batch_serial\":%.3f,\"batch_records\":%u,\"value_size\":%u,"
                      "\"rounds\":%u,\"round_ms\":%llu,\"goal_ratio_batch_min\":0.8,"
                      "\"goal_ratio_single_max\":1.3}\n",
                      raw_rate, ledger_rate, ledger_rate / raw_rate, raw_p50, ledger_p50,
                      ledger_p50 / raw_p50, serial_rate, serial_rate / raw_serial_rate,
                      BATCH_RECORDS, value_size, options->rounds,
                      (unsigned long long) (options->round_ns / 1000000ull));
    } else {
        (void) printf("raw RocksDB batch of %u, synced     %10.0f records/s  (%u-byte values)\n"
                      "ledger group commit, pipelined      %10.0f records/s  ratio %.3f (goal >= "
                      "0.8)\n"
                      "ledger group commit, one at a time  %10.0f records/s  ratio %.3f\n"
                      "raw RocksDB synced put p50          %10.1f us\n"
                      "ledger record alone p50             %10.1f us         ratio %.3f (goal <= "
                      "1.3)\n"
                      "(medians of %u rounds)\n",
                      BATCH_RECORDS, raw_rate, value_size, ledger_rate, ledger_rate / raw_rate,
                      serial_rate, serial_rate / raw_serial_rate, raw_p50, ledger_p50,
                      ledger_p50 / raw_p50, options->rounds);
    }
    rc = 0;
out_close:
    ledger_close(led.ledger);
    ledger_rocks_store_close(led.rocks);
    ledger_rocks_store_close(raw.rocks);
    // Remove the databases: throwaway files.
    if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        (void) fprintf(stderr, "bench: could not remove %s\n", dir);
    }
    mcrypto_keypair_wipe(&w.self);
    return rc;
}
