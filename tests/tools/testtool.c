/*
 * tests/tools/testtool.c: fedmesh-testtool, the writers the tests need and
 * the product must not ship. Real leases write the ledgers now (the lease
 * machine, through the member), so a tool that writes made-up records, or
 * changes stored ones, has no place in `fedmesh`: it lives here, built
 * with the tests only (tests/CMakeLists.txt), and links the same node
 * library as the binary.
 *
 *   fedmesh-testtool ledger append --ledger DIR --demo-seed S [--as K]
 *       [--peers P] [--count N] [--batch B] [--unsigned]
 *     A deterministic writer of signed demo leases among parties 0..P
 *     (keys from seed S), as party K, B records per synced commit,
 *     printing 'ack SEQ' only once its batch is synced (the crash test
 *     kills it); resumes where the ledger ends. Openings carry demo terms
 *     (a one-hour window, a price per amount, a lender in FR, a
 *     certificate hash derived from its key). --unsigned: no signatures
 *     (load tests, where signing would be the bottleneck).
 *   fedmesh-testtool ledger tamper --ledger DIR --seq N [--byte I]
 *     Flips one bit of stored entry N (default: its middle byte): the
 *     entry's own hash no longer matches (verify names it).
 *   fedmesh-testtool ledger forge --ledger DIR [--seq N]
 *       [--signature lender|borrower]
 *     What a forger who knows the format would do: rewrites the last
 *     entry with one bit of one signature flipped, its hash recomputed and
 *     the head moved to match, so that the chain still links and the
 *     ledger still opens; verify then names the bad signature, and a
 *     reconcile with the other party names the lease. Only the last entry
 *     (re-chaining the ones after it is not needed by any test).
 *
 * Exit codes are fedmesh's (node/node.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ledger/ledger.h"
#include "ledger/ledger_int.h"
#include "ledger/store_rocks.h"
#include "node/node.h"
#include "node/node_int.h"

static const char usage[] =
    "usage: fedmesh-testtool ledger <command> --ledger DIR [options]\n"
    "\n"
    "  append --demo-seed S [--as K] [--peers P] [--count N] [--batch B] [--unsigned]\n"
    "                     walk N more records of a demo stream (leases among parties\n"
    "                     0..P whose keys come from seed S, signed by both) and write\n"
    "                     those party K is in, B per synced batch; prints 'ack SEQ'\n"
    "                     once its batch is synced; resumes where the ledger ends\n"
    "  tamper --seq N [--byte I]\n"
    "                     flip one bit of entry N (default: its middle byte)\n"
    "  forge [--seq N] [--signature lender|borrower]\n"
    "                     rewrite the last entry with one bit of a signature flipped,\n"
    "                     re-hashed, the head moved to match (the ledger still opens)\n"
    "\n"
    "Test tools: they write made-up or altered records. Never run them on a\n"
    "production ledger.\n";

enum {
    OPT_LEDGER = 1,
    OPT_DEMO_SEED,
    OPT_AS,
    OPT_PEERS,
    OPT_COUNT,
    OPT_BATCH,
    OPT_UNSIGNED,
    OPT_SEQ,
    OPT_BYTE,
    OPT_SIGNATURE,
};

typedef struct tool_args {
    const char *command;
    const char *ledger_dir;
    bool has_demo_seed;
    uint64_t demo_seed;
    uint32_t as_index;
    uint32_t peer_count;
    uint64_t count;
    uint32_t batch;
    bool unsigned_records;
    bool has_seq;
    uint64_t seq;
    bool has_byte;
    uint32_t byte_index;
    bool lender_signature;
} tool_args;

static int usage_error(const tool_args *args, const char *message)
{
    node_say_error(args->command, "%s", message);
    (void) fputs(usage, stderr);
    return NODE_EXIT_USAGE;
}

static bool number(const char *text, int64_t min, int64_t max, uint64_t *out)
{
    int64_t value = 0;
    if (node_parse_i64(text, min, max, &value) != MESH_OK) {
        return false;
    }
    *out = (uint64_t) value;
    return true;
}

static bool parse_option(tool_args *args, int c, const char *value)
{
    uint64_t n = 0;
    switch (c) {
    case OPT_LEDGER:
        args->ledger_dir = value;
        return true;
    case OPT_DEMO_SEED:
        args->has_demo_seed = true;
        return number(value, 0, INT64_MAX, &args->demo_seed);
    case OPT_AS:
        args->as_index = number(value, 0, 7, &n) ? (uint32_t) n : UINT32_MAX;
        return args->as_index != UINT32_MAX;
    case OPT_PEERS:
        args->peer_count = number(value, 1, 7, &n) ? (uint32_t) n : 0;
        return args->peer_count != 0;
    case OPT_COUNT:
        return number(value, 0, 1000000000, &args->count);
    case OPT_BATCH:
        args->batch = number(value, 1, 1024, &n) ? (uint32_t) n : 0;
        return args->batch != 0;
    case OPT_UNSIGNED:
        args->unsigned_records = true;
        return true;
    case OPT_SEQ:
        args->has_seq = true;
        return number(value, 1, INT64_MAX, &args->seq);
    case OPT_BYTE:
        args->has_byte = true;
        args->byte_index = number(value, 0, LEDGER_VALUE_SIZE_MAX, &n) ? (uint32_t) n : UINT32_MAX;
        return args->byte_index != UINT32_MAX;
    case OPT_SIGNATURE:
        args->lender_signature = strcmp(value, "lender") == 0;
        return args->lender_signature || strcmp(value, "borrower") == 0;
    default:
        return false;
    }
}

static int parse_args(int argc, char **argv, tool_args *args)
{
    static const struct option options[] = {{"ledger", required_argument, NULL, OPT_LEDGER},
                                            {"demo-seed", required_argument, NULL, OPT_DEMO_SEED},
                                            {"as", required_argument, NULL, OPT_AS},
                                            {"peers", required_argument, NULL, OPT_PEERS},
                                            {"count", required_argument, NULL, OPT_COUNT},
                                            {"batch", required_argument, NULL, OPT_BATCH},
                                            {"unsigned", no_argument, NULL, OPT_UNSIGNED},
                                            {"seq", required_argument, NULL, OPT_SEQ},
                                            {"byte", required_argument, NULL, OPT_BYTE},
                                            {"signature", required_argument, NULL, OPT_SIGNATURE},
                                            {NULL, 0, NULL, 0}};
    args->peer_count = 2;
    args->count = 1000;
    args->batch = 100;
    optind = 1;
    opterr = 0;
    int c = 0;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (c == '?' || c == ':') {
            return usage_error(args, "unknown option or missing value");
        }
        if (!parse_option(args, c, optarg)) {
            char message[160];
            (void) snprintf(message, sizeof(message), "bad value '%s' for %s",
                            optarg != NULL ? optarg : "", argv[optind - 1]);
            return usage_error(args, message);
        }
    }
    if (optind != argc) {
        return usage_error(args, "unexpected argument");
    }
    if (args->ledger_dir == NULL) {
        return usage_error(args, "--ledger DIR is required");
    }
    return NODE_EXIT_OK;
}

static int open_store(const tool_args *args, ledger_rocks_mode mode, ledger_rocks_store **out)
{
    mesh_err err = ledger_rocks_store_open(args->ledger_dir, mode, out);
    if (err != MESH_OK) {
        node_say_error(args->command, "%s: %s", args->ledger_dir,
                       err == MESH_ENOTFOUND ? "no ledger here" : mesh_strerror(err));
        return err == MESH_ENOTFOUND ? NODE_EXIT_INPUT : NODE_EXIT_INTERNAL;
    }
    return NODE_EXIT_OK;
}

/* append: the demo writer. */

#define DEMO_RECORDS_PER_LEASE 6u
#define DEMO_T0_NS             1795000000000000000ll

static void put_be64(uint8_t *out, uint64_t value)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t) (value & 0xff);
        value >>= 8;
    }
}

static void demo_party(uint64_t seed, uint32_t index, mcrypto_keypair *keys)
{
    uint8_t material[MCRYPTO_SEED_SIZE];
    uint8_t input[16];
    put_be64(input, seed);
    put_be64(input + 8, index);
    crypto_generichash(material, sizeof(material), input, sizeof(input),
                       (const uint8_t *) "fedmesh-demo", 12);
    MESH_ASSERT(mcrypto_keypair_from_seed(material, keys) == MESH_OK);
}

// The terms of a demo opening: a window of one hour from the record's
// time, a price per amount (vCPU-hours 0.04 EUR, GPU-hours 2.50), a fake
// certificate hash (BLAKE2b-256 of the lender's key: demo parties have no
// certificate), a lender certified in France, and a borrower asking for
// an EU country.
static void demo_terms(ledger_record *record)
{
    ledger_terms *t = &record->terms;
    t->start_ns = record->time_ns;
    t->end_ns = record->time_ns + 3600 * (int64_t) MESH_NS_PER_S;
    t->price_count = record->amount_count;
    for (uint32_t i = 0; i < record->amount_count; i++) {
        t->prices[i] = record->amounts[i].resource_class == LEDGER_CLASS_GPU ? 2500000u : 40000u;
    }
    crypto_generichash(t->lender_cert_hash, LEDGER_HASH_SIZE, record->lender_key, LEDGER_KEY_SIZE,
                       (const uint8_t *) "fedmesh-demo-cert", 17);
    memcpy(t->lender_country, "FR", 3);
    t->lender_jurisdiction_count = 2;
    memcpy(t->lender_jurisdictions[0], "EU", 3);
    memcpy(t->lender_jurisdictions[1], "FR", 3);
    t->lender_certifications = WIRE_CERTIFICATION_ISO27001;
    t->carbon_gco2_per_kwh = 52;
    ledger_constraints *c = &t->constraints;
    static const char countries[][3] = {"BE", "DE", "FR", "NL"};
    c->country_count = (uint32_t) MESH_ARRAY_COUNT(countries);
    memcpy(c->countries, countries, sizeof(countries));
    c->jurisdiction_count = 1;
    memcpy(c->jurisdictions[0], "EU", 3);
    memcpy(c->data_class, "demo", sizeof("demo"));
    c->rtt_us_max = 50000;
    c->cost_microeur_per_hour_max = 10000000;
    c->carbon_gco2_per_kwh_max = 300;
}

// Record `index` of the demo stream among parties 0..peers; lender and
// borrower indexes come back in the out parameters.
static void demo_record(uint64_t seed,
                        uint64_t index,
                        uint32_t peers,
                        const mcrypto_keypair *parties,
                        ledger_record *record,
                        uint32_t *lender_out,
                        uint32_t *borrower_out)
{
    uint64_t lease = index / DEMO_RECORDS_PER_LEASE;
    uint32_t phase = (uint32_t) (index % DEMO_RECORDS_PER_LEASE);
    uint32_t party_count = peers + 1;
    uint32_t lender = (uint32_t) (lease % party_count);
    uint32_t borrower = (uint32_t) ((lender + 1 + (lease / party_count) % peers) % party_count);
    static const uint32_t kinds[DEMO_RECORDS_PER_LEASE] = {
        LEDGER_KIND_OPENED, LEDGER_KIND_USAGE,    LEDGER_KIND_USAGE,
        LEDGER_KIND_USAGE,  LEDGER_KIND_RELEASED, LEDGER_KIND_SETTLED};
    memset(record, 0, sizeof(*record));
    record->version = LEDGER_RECORD_VERSION;
    record->kind = kinds[phase];
    put_be64(record->lease_id, seed);
    put_be64(record->lease_id + 8, lease);
    record->number = phase;
    memcpy(record->lender_key, parties[lender].public_key, LEDGER_KEY_SIZE);
    memcpy(record->borrower_key, parties[borrower].public_key, LEDGER_KEY_SIZE);
    record->time_ns = DEMO_T0_NS + (int64_t) index * (int64_t) MESH_NS_PER_S * 60;
    if (record->kind != LEDGER_KIND_RELEASED) {
        uint64_t scale = record->kind == LEDGER_KIND_SETTLED ? 3 : 1;
        record->amounts[0].resource_class = LEDGER_CLASS_VCPU;
        record->amounts[0].amount_milli = 1000u * (1 + lease % 7) * scale;
        record->amount_count = 1;
        if (lease % 3 == 0) {
            record->amounts[1].resource_class = LEDGER_CLASS_GPU;
            memcpy(record->amounts[1].model, "A100-80GB", sizeof("A100-80GB"));
            record->amounts[1].amount_milli = 250u * scale;
            record->amount_count = 2;
        }
    }
    if (record->kind == LEDGER_KIND_OPENED) {
        demo_terms(record);
    }
    *lender_out = lender;
    *borrower_out = borrower;
}

static void print_ack(void *arg, uint64_t token, uint64_t seq)
{
    (void) arg;
    (void) token;
    (void) printf("ack %" PRIu64 "\n", seq);
}

static int append_run(const tool_args *args, ledger *l, const mcrypto_keypair *parties)
{
    // Resume: skip the stream records this ledger already holds.
    uint64_t head = 0;
    ledger_head(l, &head, NULL);
    uint64_t index = 0;
    uint64_t held = 0;
    while (held < head) {
        ledger_record record;
        uint32_t lender = 0;
        uint32_t borrower = 0;
        demo_record(args->demo_seed, index++, args->peer_count, parties, &record, &lender,
                    &borrower);
        held += lender == args->as_index || borrower == args->as_index;
    }
    // Walk `count` more positions of the stream, writing the records this
    // party is in, `batch` per synced commit.
    uint64_t end = index + args->count;
    while (index < end) {
        uint32_t staged = 0;
        while (staged < args->batch && index < end) {
            ledger_record record;
            uint32_t lender = 0;
            uint32_t borrower = 0;
            demo_record(args->demo_seed, index++, args->peer_count, parties, &record, &lender,
                        &borrower);
            if (lender != args->as_index && borrower != args->as_index) {
                continue;
            }
            uint8_t lender_signature[LEDGER_SIGNATURE_SIZE];
            uint8_t borrower_signature[LEDGER_SIGNATURE_SIZE];
            bool sign = !args->unsigned_records;
            mesh_err err = MESH_OK;
            if (sign) {
                err = ledger_record_sign(&record, parties[lender].secret_key, lender_signature);
            }
            if (sign && err == MESH_OK) {
                err = ledger_record_sign(&record, parties[borrower].secret_key, borrower_signature);
            }
            if (err == MESH_OK) {
                err = ledger_append(l, &record, sign ? lender_signature : NULL,
                                    sign ? borrower_signature : NULL, index, NULL);
            }
            if (err != MESH_OK) {
                node_say_error(args->command, "append: %s", mesh_strerror(err));
                return node_exit_from_err(err);
            }
            staged++;
        }
        mesh_err err = ledger_commit(l, true, print_ack, NULL);
        if (err != MESH_OK) {
            node_say_error(args->command, "commit: %s", mesh_strerror(err));
            return NODE_EXIT_INTERNAL;
        }
        // Acknowledgements leave only now, after the synced write.
        (void) fflush(stdout);
    }
    return NODE_EXIT_OK;
}

static int cmd_append(tool_args *args)
{
    if (!args->has_demo_seed) {
        return usage_error(args, "--demo-seed S is required");
    }
    if (args->as_index > args->peer_count) {
        return usage_error(args, "--as K must be at most --peers P");
    }
    mcrypto_keypair parties[8];
    for (uint32_t i = 0; i <= args->peer_count; i++) {
        demo_party(args->demo_seed, i, &parties[i]);
    }
    ledger_rocks_store *rocks = NULL;
    int rc = open_store(args, LEDGER_ROCKS_CREATE, &rocks);
    if (rc != NODE_EXIT_OK) {
        return rc;
    }
    ledger_store store = ledger_rocks_store_interface(rocks);
    ledger_config config;
    ledger_config_default(&config);
    config.leases_max = 1u << 20;
    config.group_records_max = 1024;
    memcpy(config.self_key, parties[args->as_index].public_key, LEDGER_KEY_SIZE);
    ledger *l = NULL;
    mesh_err err = ledger_open(&config, &store, &l);
    if (err == MESH_EINVAL) {
        node_say_error(args->command, "%s: this ledger belongs to another key than party %u",
                       args->ledger_dir, args->as_index);
        rc = NODE_EXIT_REFUSED;
    } else if (err != MESH_OK) {
        node_say_error(args->command, "%s: %s", args->ledger_dir, mesh_strerror(err));
        rc = node_exit_from_err(err);
    } else {
        rc = append_run(args, l, parties);
    }
    ledger_close(l);
    ledger_rocks_store_close(rocks);
    for (uint32_t i = 0; i <= args->peer_count; i++) {
        mcrypto_keypair_wipe(&parties[i]);
    }
    return rc;
}

/* tamper: one bit of one stored entry. */

static int cmd_tamper(tool_args *args)
{
    if (!args->has_seq) {
        return usage_error(args, "--seq N is required");
    }
    ledger_rocks_store *rocks = NULL;
    int rc = open_store(args, LEDGER_ROCKS_WRITE, &rocks);
    if (rc != NODE_EXIT_OK) {
        return rc;
    }
    ledger_store store = ledger_rocks_store_interface(rocks);
    uint8_t key[LEDGER_JOURNAL_KEY_SIZE];
    (void) ledger_key_journal(args->seq, key);
    uint8_t value[LEDGER_VALUE_SIZE_MAX];
    uint32_t size = 0;
    mesh_err err = store.get(store.ctx, key, sizeof(key), value, sizeof(value), &size);
    if (err == MESH_OK) {
        uint32_t at = args->has_byte ? args->byte_index : size / 2;
        if (at >= size) {
            err = MESH_EINVAL;
        } else {
            value[at] ^= 0x01;
            err = ledger_rocks_store_put(rocks, key, sizeof(key), value, size, true);
        }
    }
    ledger_rocks_store_close(rocks);
    if (err != MESH_OK) {
        node_say_error(args->command, "entry %" PRIu64 ": %s", args->seq, mesh_strerror(err));
        return node_exit_from_err(err == MESH_ENOTFOUND ? MESH_EPROTO : err);
    }
    (void) printf("flipped one bit of entry %" PRIu64 "\n", args->seq);
    return NODE_EXIT_OK;
}

/* forge: a re-hashed last entry with a bad signature. */

static int cmd_forge(tool_args *args)
{
    ledger_rocks_store *rocks = NULL;
    int rc = open_store(args, LEDGER_ROCKS_WRITE, &rocks);
    if (rc != NODE_EXIT_OK) {
        return rc;
    }
    ledger_store store = ledger_rocks_store_interface(rocks);
    uint8_t head_key = LEDGER_PREFIX_HEAD;
    uint8_t head_value[LEDGER_HEAD_VALUE_SIZE + 1];
    uint32_t size = 0;
    uint64_t head_seq = 0;
    uint8_t head_hash[LEDGER_HASH_SIZE];
    mesh_err err = store.get(store.ctx, &head_key, 1, head_value, sizeof(head_value), &size);
    if (err == MESH_OK) {
        err = ledger_parse_head(head_value, size, &head_seq, head_hash);
    }
    uint64_t seq = args->has_seq ? args->seq : head_seq;
    if (err == MESH_OK && (head_seq == 0 || seq != head_seq)) {
        ledger_rocks_store_close(rocks);
        return usage_error(args, "forge rewrites the last entry only (leave out --seq)");
    }
    uint8_t key[LEDGER_JOURNAL_KEY_SIZE];
    (void) ledger_key_journal(seq, key);
    uint8_t value[LEDGER_VALUE_SIZE_MAX];
    uint8_t forged[LEDGER_VALUE_SIZE_MAX];
    uint32_t forged_size = 0;
    ledger_entry entry;
    if (err == MESH_OK) {
        err = store.get(store.ctx, key, sizeof(key), value, sizeof(value), &size);
    }
    if (err == MESH_OK) {
        err = ledger_entry_decode(value, size, &entry);
    }
    bool has = args->lender_signature ? entry.has_lender_signature : entry.has_borrower_signature;
    if (err == MESH_OK && !has) {
        err = MESH_ENOTFOUND;
    }
    if (err == MESH_OK) {
        uint8_t *signature =
            args->lender_signature ? entry.lender_signature : entry.borrower_signature;
        signature[LEDGER_SIGNATURE_SIZE / 2] ^= 0x01;
        err = ledger_entry_encode(entry.seq, entry.prev_hash, entry.record_bytes, entry.record_size,
                                  entry.has_lender_signature ? entry.lender_signature : NULL,
                                  entry.has_borrower_signature ? entry.borrower_signature : NULL,
                                  forged, sizeof(forged), &forged_size);
    }
    if (err == MESH_OK) {
        ledger_value_head(seq, forged + forged_size - LEDGER_HASH_SIZE, head_value);
        ledger_op ops[2] = {
            {.key = key, .key_size = sizeof(key), .value = forged, .value_size = forged_size},
            {.key = &head_key,
             .key_size = 1,
             .value = head_value,
             .value_size = LEDGER_HEAD_VALUE_SIZE},
        };
        ledger_batch batch = {.ops = ops, .count = 2};
        err = store.write(store.ctx, &batch, true);
    }
    ledger_rocks_store_close(rocks);
    if (err != MESH_OK) {
        node_say_error(args->command, "entry %" PRIu64 ": %s", seq,
                       err == MESH_ENOTFOUND ? "no such entry or signature" : mesh_strerror(err));
        return node_exit_from_err(err == MESH_ENOTFOUND ? MESH_EPROTO : err);
    }
    char lease[2 * LEDGER_LEASE_ID_SIZE + 1];
    sodium_bin2hex(lease, sizeof(lease), entry.record.lease_id, LEDGER_LEASE_ID_SIZE);
    (void) printf("forged the %s signature of entry %" PRIu64 " (lease %s record %" PRIu32 ")\n",
                  args->lender_signature ? "lender" : "borrower", seq, lease, entry.record.number);
    return NODE_EXIT_OK;
}

int main(int argc, char **argv)
{
    if (mcrypto_init() != MESH_OK) {
        (void) fputs("fedmesh-testtool: libsodium failed to start\n", stderr);
        return NODE_EXIT_INTERNAL;
    }
    if (argc < 3 || strcmp(argv[1], "ledger") != 0) {
        (void) fputs(usage, argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
        return argc >= 2 && strcmp(argv[1], "--help") == 0 ? NODE_EXIT_OK : NODE_EXIT_USAGE;
    }
    static const struct {
        const char *name;
        const char *command;
        int (*run)(tool_args *args);
    } commands[] = {
        {"append", "testtool ledger append", cmd_append},
        {"tamper", "testtool ledger tamper", cmd_tamper},
        {"forge", "testtool ledger forge", cmd_forge},
    };
    for (uint32_t i = 0; i < MESH_ARRAY_COUNT(commands); i++) {
        if (strcmp(argv[2], commands[i].name) == 0) {
            tool_args args;
            memset(&args, 0, sizeof(args));
            args.command = commands[i].command;
            int rc = parse_args(argc - 2, argv + 2, &args);
            return rc != NODE_EXIT_OK ? rc : commands[i].run(&args);
        }
    }
    node_say_error("testtool", "unknown command 'ledger %s'", argv[2]);
    (void) fputs(usage, stderr);
    return NODE_EXIT_USAGE;
}
