/*
 * node/cli_ledger.c: `fedmesh ledger ...`, the operator's tools on a
 * node's ledger (RocksDB, ledger/): balance, history, verify, export,
 * reconcile (offline, against another ledger's directory; or over the
 * network through the running agent: cli_ledger_net.c), audit
 * (cli_audit.c). They only read: the writers the tests need (append,
 * tamper, forge) live in the test-only fedmesh-testtool (tests/tools/),
 * since real leases write the ledgers.
 *
 * The ledger directory comes from --ledger DIR, or from the node's
 * config (--config NODE.INI, [ledger] path). Commands open the database
 * read-only, so they work beside a running agent.
 *
 * Peers are named by node id ("fm..."), derived from the public keys the
 * records carry. Amounts are printed in unit-hours with three decimals
 * (the ledger keeps integer milli-units; storage in GiB-hours), prices in
 * euros per unit-hour with six (the record keeps micro-euros); --json
 * prints the integers. An OPENED record (record version 2) carries the
 * lease's terms: history prints them on three more lines, export adds
 * them as columns (CSV) or a "terms" object (JSONL).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ledger/ledger.h"
#include "ledger/store_rocks.h"
#include "node/cli_ledger_int.h"
#include "node/config_int.h"
#include "node/node_int.h"

#define LEDGER_CMD "ledger"

static const char ledger_usage[] =
    "usage: fedmesh ledger <command> (--ledger DIR | --config NODE.INI) [options]\n"
    "\n"
    "  balance [--peer ID] [--json]        lent and borrowed per peer and resource class,\n"
    "                                      and each peer's reciprocity score now\n"
    "  history [--peer ID] [--since T] [--until T] [--json]\n"
    "                                      journal entries, oldest first\n"
    "  verify [--json]                     recompute the hash chain, signatures, balances,\n"
    "                                      leases and indexes from the journal; exit 1 and\n"
    "                                      name the first bad entry on any difference\n"
    "  export --format csv|jsonl [--peer ID] [--since T] [--until T]\n"
    "                                      usage records for accounting (see README)\n"
    "  reconcile --other DIR [--peer ID] [--json]\n"
    "                                      compare, record by record, the records shared\n"
    "                                      with the owner of the ledger in DIR (offline);\n"
    "                                      exit 1 when they differ\n"
    "  reconcile --config NODE.INI --peer NAME [--timeout-ms N] [--json]\n"
    "                                      ask the peer over the network, through the\n"
    "                                      running agent (POST /v1/ledger/reconcile), for\n"
    "                                      its summary of the leases the two share; name\n"
    "                                      every lease that differs; exit 1 when any does\n"
    "  audit [--since T] [--until T] [--format json|csv]\n"
    "                                      every lease: parties, the lender's certified\n"
    "                                      facts, data class, constraints, period, amounts,\n"
    "                                      every record with both signatures; JSON carries\n"
    "                                      the records and certificates a regulator needs\n"
    "  audit --verify FILE --root ROOT.pub  check an audit report (JSON) offline with the\n"
    "                                      federation's root key only; exit 1 and name the\n"
    "                                      first failure\n"
    "\n"
    "T is YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or @UNIXSECONDS; ID is a node id (fm...);\n"
    "NAME is a member name or node id. The ledger path comes from --ledger, or from\n"
    "[ledger] path in --config. Nothing here writes to a ledger (the tests' writers\n"
    "are in fedmesh-testtool, built with the tests).\n"
    "Exit codes: 0 ok, 1 verify, reconcile or audit --verify found a difference,\n"
    "2 usage, 3 no ledger or unreadable, 5 internal error (or the peer did not answer).\n";

enum {
    OPT_LEDGER = 1u << 0,
    OPT_CONFIG = 1u << 1,
    OPT_JSON = 1u << 2,
    OPT_PEER = 1u << 3,
    OPT_SINCE = 1u << 4,
    OPT_UNTIL = 1u << 5,
    OPT_FORMAT = 1u << 6,
    OPT_OTHER = 1u << 7,
    OPT_TIMEOUT = 1u << 8,
};

typedef struct ledger_args {
    const char *command; /* "ledger balance" and so on, for messages */
    uint32_t given;      /* OPT_* seen */
    const char *ledger_dir;
    const char *config_path;
    const char *other_dir;
    const char *format;
    mesh_node_id peer;
    const char *peer_text; /* as given: a member name is allowed where peer_is_name */
    bool peer_is_name;     /* network reconcile: --peer NAME (resolved by the agent) */
    int64_t since_ns;
    int64_t until_ns;
    uint64_t timeout_ms;
    uint64_t half_life_ns;
    char path[NODE_CONFIG_PATH_SIZE_MAX];
} ledger_args;

static int ledger_usage_error(const ledger_args *args, const char *message)
{
    node_say_error(args->command, "%s", message);
    (void) fputs(ledger_usage, stderr);
    return NODE_EXIT_USAGE;
}

static bool parse_number(const char *text, int64_t max, uint64_t *out)
{
    int64_t value = 0;
    if (node_parse_i64(text, 0, max, &value) != MESH_OK) {
        return false;
    }
    *out = (uint64_t) value;
    return true;
}

// Parses one option into args; false on a bad value.
static bool parse_option(ledger_args *args, int c, const char *value)
{
    switch (c) {
    case OPT_LEDGER:
        args->ledger_dir = value;
        return true;
    case OPT_CONFIG:
        args->config_path = value;
        return true;
    case OPT_OTHER:
        args->other_dir = value;
        return true;
    case OPT_FORMAT:
        args->format = value;
        return strcmp(value, "csv") == 0 || strcmp(value, "jsonl") == 0;
    case OPT_PEER:
        // A name is checked by the agent; an id is parsed for every command.
        args->peer_text = value;
        args->peer_is_name = mcrypto_node_id_parse(value, &args->peer) != MESH_OK;
        return !args->peer_is_name || strcmp(args->command, "ledger reconcile") == 0;
    case OPT_TIMEOUT:
        return parse_number(value, 600000, &args->timeout_ms) && args->timeout_ms > 0;
    case OPT_SINCE:
        return node_parse_time(value, &args->since_ns) == MESH_OK;
    case OPT_UNTIL:
        return node_parse_time(value, &args->until_ns) == MESH_OK;
    default:
        return true; /* OPT_JSON */
    }
}

// Parses argv (from the subcommand's name on) allowing the options in
// allowed; resolves the ledger path. Returns NODE_EXIT_OK or an exit code.
static int parse_args(int argc, char **argv, uint32_t allowed, ledger_args *args)
{
    static const struct option options[] = {{"ledger", required_argument, NULL, OPT_LEDGER},
                                            {"config", required_argument, NULL, OPT_CONFIG},
                                            {"json", no_argument, NULL, OPT_JSON},
                                            {"peer", required_argument, NULL, OPT_PEER},
                                            {"since", required_argument, NULL, OPT_SINCE},
                                            {"until", required_argument, NULL, OPT_UNTIL},
                                            {"format", required_argument, NULL, OPT_FORMAT},
                                            {"other", required_argument, NULL, OPT_OTHER},
                                            {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
                                            {NULL, 0, NULL, 0}};
    args->half_life_ns = 86400ull * MESH_NS_PER_S;
    args->until_ns = INT64_MAX;
    args->since_ns = INT64_MIN;
    optind = 1;
    opterr = 0;
    int c = 0;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (c == '?' || c == ':' || ((uint32_t) c & allowed) == 0) {
            char message[128];
            (void) snprintf(message, sizeof(message), "unknown or misplaced option '%s'",
                            optind > 0 && optind <= argc ? argv[optind - 1] : "?");
            return ledger_usage_error(args, message);
        }
        if (!parse_option(args, c, optarg)) {
            char message[160];
            (void) snprintf(message, sizeof(message), "bad value '%s' for %s",
                            optarg != NULL ? optarg : "", argv[optind - 1]);
            return ledger_usage_error(args, message);
        }
        args->given |= (uint32_t) c;
    }
    if (optind != argc) {
        return ledger_usage_error(args, "unexpected argument");
    }
    bool has_ledger = (args->given & OPT_LEDGER) != 0;
    bool has_config = (args->given & OPT_CONFIG) != 0;
    if (has_ledger == has_config) {
        return ledger_usage_error(args, "give exactly one of --ledger DIR and --config NODE.INI");
    }
    if (has_ledger) {
        if (strlen(args->ledger_dir) >= sizeof(args->path)) {
            return ledger_usage_error(args, "--ledger: path too long");
        }
        (void) snprintf(args->path, sizeof(args->path), "%s", args->ledger_dir);
        return NODE_EXIT_OK;
    }
    node_config *config = calloc(1, sizeof(*config));
    if (config == NULL) {
        node_say_error(args->command, "out of memory");
        return NODE_EXIT_INTERNAL;
    }
    char error[NODE_CONFIG_ERROR_SIZE];
    mesh_err err = node_config_load(args->config_path, config, error);
    int rc = NODE_EXIT_OK;
    if (err != MESH_OK) {
        node_say_error(args->command, "%s", error);
        rc = err == MESH_EIO ? NODE_EXIT_INPUT : NODE_EXIT_USAGE;
    } else if (config->ledger_path[0] == '\0') {
        node_say_error(args->command, "%s: [ledger] path is not set; add it, or use --ledger DIR",
                       args->config_path);
        rc = NODE_EXIT_USAGE;
    } else {
        (void) snprintf(args->path, sizeof(args->path), "%s", config->ledger_path);
        args->half_life_ns = config->ledger_half_life_ns;
    }
    free(config);
    return rc;
}

static int open_store(const ledger_args *args,
                      const char *path,
                      ledger_rocks_mode mode,
                      ledger_rocks_store **store_out)
{
    mesh_err err = ledger_rocks_store_open(path, mode, store_out);
    if (err == MESH_ENOTFOUND) {
        node_say_error(args->command, "%s: no ledger here; check the path", path);
        return NODE_EXIT_INPUT;
    }
    if (err != MESH_OK) {
        node_say_error(args->command, "%s: cannot open the ledger (%s)", path, mesh_strerror(err));
        return NODE_EXIT_INTERNAL;
    }
    return NODE_EXIT_OK;
}

// parse_args, then open_store on the ledger path.
static int parse_and_open(int argc,
                          char **argv,
                          uint32_t allowed,
                          ledger_rocks_mode mode,
                          ledger_args *args,
                          ledger_rocks_store **store_out)
{
    int rc = parse_args(argc, argv, allowed, args);
    if (rc != NODE_EXIT_OK) {
        return rc;
    }
    return open_store(args, args->path, mode, store_out);
}

static int open_ledger(const ledger_args *args, const ledger_store *store, ledger **ledger_out)
{
    ledger_config config;
    ledger_config_default(&config);
    config.half_life_ns = args->half_life_ns;
    config.leases_max = 1u << 20;
    config.balance_rows_max = 1u << 16;
    config.peers_max = 1u << 14;
    config.group_records_max = 1024;
    mesh_err err = ledger_open(&config, store, ledger_out);
    if (err != MESH_OK) {
        node_say_error(args->command, "%s: %s%s", args->path, mesh_strerror(err),
                       err == MESH_ECORRUPT ? "; run 'fedmesh ledger verify'" : "");
        return err == MESH_ENOTFOUND || err == MESH_ECORRUPT ? NODE_EXIT_INPUT : NODE_EXIT_INTERNAL;
    }
    return NODE_EXIT_OK;
}

static void node_id_text(const uint8_t *public_key, char text[MCRYPTO_NODE_ID_TEXT_SIZE])
{
    mesh_node_id id;
    mcrypto_node_id(public_key, &id);
    mcrypto_node_id_format(&id, text);
}

static bool key_is_peer(const ledger_args *args, const uint8_t *public_key)
{
    if ((args->given & OPT_PEER) == 0) {
        return true;
    }
    mesh_node_id id;
    mcrypto_node_id(public_key, &id);
    return mesh_node_id_equal(&id, &args->peer);
}

static void format_milli(uint64_t milli, char *text, size_t text_size)
{
    (void) snprintf(text, text_size, "%" PRIu64 ".%03" PRIu64, milli / 1000, milli % 1000);
}

// Micro-euros as euros: "2.500000".
static void format_micro(uint64_t micro, char *text, size_t text_size)
{
    (void) snprintf(text, text_size, "%" PRIu64 ".%06" PRIu64, micro / 1000000, micro % 1000000);
}

// Certification bits as names joined by '+' ("SecNumCloud+ISO27001"), or
// "-" for none. 96 bytes hold all seven.
#define CERTIFICATIONS_TEXT_SIZE 96u
static void format_certifications(uint32_t bits, char text[CERTIFICATIONS_TEXT_SIZE])
{
    size_t used = 0;
    text[0] = '\0';
    for (uint32_t i = 0; i < WIRE_CERTIFICATION_COUNT; i++) {
        const char *name = wire_certification_name(bits & (1u << i));
        if (name != NULL) {
            int n = snprintf(text + used, CERTIFICATIONS_TEXT_SIZE - used, "%s%s",
                             used > 0 ? "+" : "", name);
            used += n > 0 ? (size_t) n : 0;
        }
    }
    if (used == 0) {
        (void) snprintf(text, CERTIFICATIONS_TEXT_SIZE, "-");
    }
}

// Two-letter codes joined by spaces ("EU FR"), or "-" for none.
#define CODES_TEXT_SIZE (3u * LEDGER_COUNTRIES_MAX + 2u)
static void format_codes(const char (*codes)[3], uint32_t count, char text[CODES_TEXT_SIZE])
{
    size_t used = 0;
    text[0] = '\0';
    for (uint32_t i = 0; i < count && i < LEDGER_COUNTRIES_MAX; i++) {
        int n = snprintf(text + used, CODES_TEXT_SIZE - used, "%s%s", i > 0 ? " " : "", codes[i]);
        used += n > 0 ? (size_t) n : 0;
    }
    if (used == 0) {
        (void) snprintf(text, CODES_TEXT_SIZE, "-");
    }
}

static int print_json(const ledger_args *args, json_t *object)
{
    if (object == NULL) {
        node_say_error(args->command, "cannot build JSON output");
        return NODE_EXIT_INTERNAL;
    }
    int rc = json_dumpf(object, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(object);
    (void) fputc('\n', stdout);
    return rc == 0 ? NODE_EXIT_OK : NODE_EXIT_INTERNAL;
}

/* balance */

static int balance_print(const ledger_args *args, const ledger *l, int64_t now_ns)
{
    bool json = (args->given & OPT_JSON) != 0;
    char self[MCRYPTO_NODE_ID_TEXT_SIZE];
    node_id_text(ledger_self_key(l), self);
    json_t *rows = json_array();
    json_t *peers = json_array();
    if (!json) {
        (void) printf("ledger of %s\n%-30s %-18s %-12s %16s %16s\n", self, "peer", "class", "model",
                      "lent", "borrowed");
    }
    uint32_t count = ledger_balance_count(l);
    const uint8_t *last_peer = NULL;
    ledger_balance previous;
    for (uint32_t i = 0; i <= count; i++) {
        ledger_balance row;
        if (i < count) {
            ledger_balance_at(l, i, &row);
        }
        // After the last row of a peer: its totals and score.
        if (last_peer != NULL &&
            (i == count || memcmp(row.peer_key, last_peer, LEDGER_KEY_SIZE) != 0)) {
            char peer[MCRYPTO_NODE_ID_TEXT_SIZE];
            node_id_text(last_peer, peer);
            uint64_t lent = 0;
            uint64_t borrowed = 0;
            ledger_peer_totals(l, last_peer, &lent, &borrowed);
            int64_t score = ledger_reciprocity(l, last_peer, now_ns);
            if (json) {
                (void) json_array_append_new(
                    peers, json_pack("{s:s, s:I, s:I, s:I}", "peer", peer, "lent_milli",
                                     (json_int_t) lent, "borrowed_milli", (json_int_t) borrowed,
                                     "reciprocity_milli", (json_int_t) score));
            } else {
                char a[32];
                char b[32];
                format_milli(lent, a, sizeof(a));
                format_milli(borrowed, b, sizeof(b));
                (void) printf("%-30s %-31s %16s %16s  (vCPU-hour equivalents; reciprocity "
                              "%+.3f)\n",
                              peer, "total", a, b, (double) score / 1000.0);
            }
            last_peer = NULL;
        }
        if (i == count) {
            break;
        }
        previous = row;
        if (!key_is_peer(args, row.peer_key)) {
            continue;
        }
        last_peer = previous.peer_key;
        char peer[MCRYPTO_NODE_ID_TEXT_SIZE];
        node_id_text(row.peer_key, peer);
        if (json) {
            (void) json_array_append_new(
                rows, json_pack("{s:s, s:s, s:s, s:I, s:I}", "peer", peer, "class",
                                ledger_class_name(row.resource_class), "model", row.model,
                                "lent_milli", (json_int_t) row.lent_milli, "borrowed_milli",
                                (json_int_t) row.borrowed_milli));
        } else {
            char a[32];
            char b[32];
            format_milli(row.lent_milli, a, sizeof(a));
            format_milli(row.borrowed_milli, b, sizeof(b));
            (void) printf("%-30s %-18s %-12s %16s %16s\n", peer,
                          ledger_class_name(row.resource_class),
                          row.model[0] != '\0' ? row.model : "-", a, b);
        }
    }
    if (!json) {
        json_decref(rows);
        json_decref(peers);
        return NODE_EXIT_OK;
    }
    uint64_t head = 0;
    ledger_head(l, &head, NULL);
    return print_json(args, json_pack("{s:s, s:I, s:o, s:o}", "self", self, "head_seq",
                                      (json_int_t) head, "balances", rows, "peers", peers));
}

static int cmd_balance(ledger_args *args, int argc, char **argv)
{
    ledger_rocks_store *rocks = NULL;
    int rc = parse_and_open(argc, argv, OPT_LEDGER | OPT_CONFIG | OPT_JSON | OPT_PEER,
                            LEDGER_ROCKS_READ_ONLY, args, &rocks);
    if (rc != NODE_EXIT_OK) {
        return rc;
    }
    ledger_store store = ledger_rocks_store_interface(rocks);
    ledger *l = NULL;
    rc = open_ledger(args, &store, &l);
    if (rc == NODE_EXIT_OK) {
        rc = balance_print(args, l, node_now().realtime_ns);
    }
    ledger_close(l);
    ledger_rocks_store_close(rocks);
    return rc;
}

/* history and export: one walk, three printers. */

typedef enum walk_format { WALK_TEXT, WALK_JSON, WALK_JSONL, WALK_CSV } walk_format;

typedef struct walk_context {
    const ledger_args *args;
    const uint8_t *self_key;
    walk_format format;
    uint64_t printed;
} walk_context;

/* The text forms of an entry's fields, shared by the three printers. */
typedef struct entry_text {
    bool lends;
    char lender[MCRYPTO_NODE_ID_TEXT_SIZE];
    char borrower[MCRYPTO_NODE_ID_TEXT_SIZE];
    const char *peer; /* lender or borrower: the other party */
    char time[NODE_TIME_TEXT_SIZE];
    char lease[2 * LEDGER_LEASE_ID_SIZE + 1];
    char hash[2 * LEDGER_HASH_SIZE + 1];
    /* OPENED only (empty otherwise): the terms' window and lender facts. */
    bool has_terms;
    char start[NODE_TIME_TEXT_SIZE];
    char end[NODE_TIME_TEXT_SIZE];
    char cert_hash[2 * LEDGER_HASH_SIZE + 1];
    char certifications[CERTIFICATIONS_TEXT_SIZE];
} entry_text;

static void entry_text_fill(const ledger_entry *entry, const uint8_t *self_key, entry_text *text)
{
    const ledger_record *r = &entry->record;
    text->lends = memcmp(r->lender_key, self_key, LEDGER_KEY_SIZE) == 0;
    node_id_text(r->lender_key, text->lender);
    node_id_text(r->borrower_key, text->borrower);
    text->peer = text->lends ? text->borrower : text->lender;
    node_format_time(r->time_ns, text->time);
    sodium_bin2hex(text->lease, sizeof(text->lease), r->lease_id, LEDGER_LEASE_ID_SIZE);
    sodium_bin2hex(text->hash, sizeof(text->hash), entry->hash, LEDGER_HASH_SIZE);
    text->has_terms = r->kind == LEDGER_KIND_OPENED;
    text->start[0] = text->end[0] = text->cert_hash[0] = text->certifications[0] = '\0';
    if (text->has_terms) {
        node_format_time(r->terms.start_ns, text->start);
        node_format_time(r->terms.end_ns, text->end);
        sodium_bin2hex(text->cert_hash, sizeof(text->cert_hash), r->terms.lender_cert_hash,
                       LEDGER_HASH_SIZE);
        format_certifications(r->terms.lender_certifications, text->certifications);
    }
}

static json_t *codes_to_json(const char (*codes)[3], uint32_t count)
{
    json_t *array = json_array();
    for (uint32_t i = 0; i < count && i < LEDGER_COUNTRIES_MAX; i++) {
        (void) json_array_append_new(array, json_string(codes[i]));
    }
    return array;
}

static json_t *certifications_to_json(uint32_t bits)
{
    json_t *array = json_array();
    for (uint32_t i = 0; i < WIRE_CERTIFICATION_COUNT; i++) {
        const char *name = wire_certification_name(bits & (1u << i));
        if (name != NULL) {
            (void) json_array_append_new(array, json_string(name));
        }
    }
    return array;
}

// The terms of an OPENED record; prices go with their amounts.
static json_t *terms_to_json(const ledger_terms *terms, const entry_text *t)
{
    const ledger_constraints *c = &terms->constraints;
    json_t *constraints =
        json_pack("{s:o, s:o, s:o, s:s, s:I, s:I, s:I}", "countries",
                  codes_to_json(c->countries, c->country_count), "jurisdictions",
                  codes_to_json(c->jurisdictions, c->jurisdiction_count), "certifications",
                  certifications_to_json(c->certifications), "data_class", c->data_class,
                  "rtt_us_max", (json_int_t) c->rtt_us_max, "cost_microeur_per_hour_max",
                  (json_int_t) c->cost_microeur_per_hour_max, "carbon_gco2_per_kwh_max",
                  (json_int_t) c->carbon_gco2_per_kwh_max);
    return json_pack("{s:s, s:I, s:s, s:I, s:s, s:s, s:o, s:o, s:I, s:o}", "start", t->start,
                     "start_ns", (json_int_t) terms->start_ns, "end", t->end, "end_ns",
                     (json_int_t) terms->end_ns, "lender_cert_hash", t->cert_hash, "lender_country",
                     terms->lender_country, "lender_jurisdictions",
                     codes_to_json(terms->lender_jurisdictions, terms->lender_jurisdiction_count),
                     "lender_certifications", certifications_to_json(terms->lender_certifications),
                     "carbon_gco2_per_kwh", (json_int_t) terms->carbon_gco2_per_kwh, "constraints",
                     constraints);
}

static json_t *entry_to_json(const ledger_entry *entry, const entry_text *t)
{
    const ledger_record *r = &entry->record;
    json_t *amounts = json_array();
    for (uint32_t i = 0; i < r->amount_count; i++) {
        json_t *amount = json_pack(
            "{s:s, s:s, s:I}", "class", ledger_class_name(r->amounts[i].resource_class), "model",
            r->amounts[i].model, "amount_milli", (json_int_t) r->amounts[i].amount_milli);
        if (t->has_terms && amount != NULL) {
            (void) json_object_set_new(amount, "price_microeur_per_unit_hour",
                                       json_integer((json_int_t) r->terms.prices[i]));
        }
        (void) json_array_append_new(amounts, amount);
    }
    json_t *object = json_pack(
        "{s:I, s:s, s:I, s:I, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:o, s:b, s:b, s:s}", "seq",
        (json_int_t) entry->seq, "time", t->time, "time_ns", (json_int_t) r->time_ns, "version",
        (json_int_t) r->version, "kind", ledger_kind_name(r->kind), "lease_id", t->lease, "number",
        (json_int_t) r->number, "role", t->lends ? "lent" : "borrowed", "peer", t->peer, "lender",
        t->lender, "borrower", t->borrower, "amounts", amounts, "lender_signed",
        entry->has_lender_signature, "borrower_signed", entry->has_borrower_signature, "hash",
        t->hash);
    if (t->has_terms && object != NULL) {
        (void) json_object_set_new(object, "terms", terms_to_json(&r->terms, t));
    }
    return object;
}

static void print_csv(const ledger_entry *entry, const entry_text *t)
{
    const ledger_record *r = &entry->record;
    // One row per amount; a record without amounts still gets one row.
    uint32_t rows = r->amount_count > 0 ? r->amount_count : 1;
    for (uint32_t i = 0; i < rows; i++) {
        const ledger_amount *a = r->amount_count > 0 ? &r->amounts[i] : NULL;
        char amount[32] = "";
        char price[32] = "";
        if (a != NULL) {
            format_milli(a->amount_milli, amount, sizeof(amount));
        }
        if (a != NULL && t->has_terms) {
            format_micro(r->terms.prices[i], price, sizeof(price));
        }
        // The terms' columns are empty except on OPENED rows.
        (void) printf("%" PRIu64 ",%s,%s,%s,%" PRIu32 ",%s,%s,%s,%s,%s,%s,%s,%d,%d,%s,%s,%s,%s,"
                      "%s,%s,%s,%s\n",
                      entry->seq, t->time, ledger_kind_name(r->kind), t->lease, r->number,
                      t->lends ? "lent" : "borrowed", t->peer, t->lender, t->borrower,
                      a != NULL ? ledger_class_name(a->resource_class) : "",
                      a != NULL ? a->model : "", amount, entry->has_lender_signature ? 1 : 0,
                      entry->has_borrower_signature ? 1 : 0, t->hash, t->start, t->end, price,
                      t->has_terms ? r->terms.lender_country : "", t->certifications,
                      t->has_terms ? r->terms.constraints.data_class : "", t->cert_hash);
    }
}

static void print_text(const ledger_entry *entry, const entry_text *t)
{
    const ledger_record *r = &entry->record;
    (void) printf("%8" PRIu64 "  %s  %-9s  %s #%-3" PRIu32 " %s %s  [%c%c]", entry->seq, t->time,
                  ledger_kind_name(r->kind), t->lease, r->number,
                  t->lends ? "lent to    " : "borrowed from", t->peer,
                  entry->has_lender_signature ? 'L' : '-',
                  entry->has_borrower_signature ? 'B' : '-');
    for (uint32_t i = 0; i < r->amount_count; i++) {
        char amount[32];
        format_milli(r->amounts[i].amount_milli, amount, sizeof(amount));
        (void) printf("  %s%s%s=%s", ledger_class_name(r->amounts[i].resource_class),
                      r->amounts[i].model[0] != '\0' ? ":" : "", r->amounts[i].model, amount);
    }
    (void) fputc('\n', stdout);
    if (!t->has_terms) {
        return;
    }
    // Three more lines for an opening: the window and prices, the
    // lender's certified facts, and what the borrower asked for (0 or
    // empty: no constraint, printed "any").
    const ledger_terms *terms = &r->terms;
    const ledger_constraints *c = &terms->constraints;
    (void) printf("%10s window %s .. %s  EUR per unit-hour:", "", t->start, t->end);
    for (uint32_t i = 0; i < r->amount_count; i++) {
        char price[32];
        format_micro(terms->prices[i], price, sizeof(price));
        (void) printf("  %s%s%s=%s", ledger_class_name(r->amounts[i].resource_class),
                      r->amounts[i].model[0] != '\0' ? ":" : "", r->amounts[i].model, price);
    }
    char codes[CODES_TEXT_SIZE];
    format_codes(terms->lender_jurisdictions, terms->lender_jurisdiction_count, codes);
    (void) printf("\n%10s lender %s (jurisdictions %s; %s; %" PRIu32 " gCO2/kWh) certificate %s\n",
                  "", terms->lender_country, codes, t->certifications, terms->carbon_gco2_per_kwh,
                  t->cert_hash);
    char certifications[CERTIFICATIONS_TEXT_SIZE];
    format_certifications(c->certifications, certifications);
    char cost[32] = "any";
    if (c->cost_microeur_per_hour_max > 0) {
        format_micro(c->cost_microeur_per_hour_max, cost, sizeof(cost));
    }
    char rtt[32] = "any";
    if (c->rtt_us_max > 0) {
        (void) snprintf(rtt, sizeof(rtt), "%" PRIu32 ".%03" PRIu32 " ms", c->rtt_us_max / 1000,
                        c->rtt_us_max % 1000);
    }
    char carbon[32] = "any";
    if (c->carbon_gco2_per_kwh_max > 0) {
        (void) snprintf(carbon, sizeof(carbon), "%" PRIu32 " gCO2/kWh", c->carbon_gco2_per_kwh_max);
    }
    format_codes(c->countries, c->country_count, codes);
    (void) printf("%10s asked: data class %s; countries %s; ", "",
                  c->data_class[0] != '\0' ? c->data_class : "any",
                  c->country_count > 0 ? codes : "any");
    format_codes(c->jurisdictions, c->jurisdiction_count, codes);
    (void) printf("jurisdictions %s; certifications %s; rtt <= %s; cost <= %s EUR/h; carbon <= "
                  "%s\n",
                  c->jurisdiction_count > 0 ? codes : "any",
                  c->certifications != 0 ? certifications : "any", rtt, cost, carbon);
}

static bool walk_visit(void *arg, const ledger_entry *entry)
{
    walk_context *context = arg;
    const ledger_record *r = &entry->record;
    bool lends = memcmp(r->lender_key, context->self_key, LEDGER_KEY_SIZE) == 0;
    if (!key_is_peer(context->args, lends ? r->borrower_key : r->lender_key) ||
        r->time_ns < context->args->since_ns || r->time_ns >= context->args->until_ns) {
        return true;
    }
    entry_text text;
    entry_text_fill(entry, context->self_key, &text);
    switch (context->format) {
    case WALK_TEXT:
        print_text(entry, &text);
        break;
    case WALK_CSV:
        print_csv(entry, &text);
        break;
    case WALK_JSON:
    case WALK_JSONL: {
        json_t *object = entry_to_json(entry, &text);
        if (context->format == WALK_JSON && context->printed > 0) {
            (void) fputc(',', stdout);
        }
        if (object != NULL) {
            (void) json_dumpf(object, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
            json_decref(object);
        }
        if (context->format == WALK_JSONL) {
            (void) fputc('\n', stdout);
        }
        break;
    }
    }
    context->printed++;
    return true;
}

static int walk(ledger_args *args, walk_format format)
{
    ledger_rocks_store *rocks = NULL;
    int rc = open_store(args, args->path, LEDGER_ROCKS_READ_ONLY, &rocks);
    if (rc != NODE_EXIT_OK) {
        return rc;
    }
    ledger_store store = ledger_rocks_store_interface(rocks);
    uint8_t self_key[LEDGER_KEY_SIZE];
    mesh_err err = ledger_store_self_key(&store, self_key);
    if (err != MESH_OK) {
        node_say_error(args->command, "%s: %s", args->path,
                       err == MESH_ENOTFOUND ? "empty: no ledger was written here"
                                             : mesh_strerror(err));
        ledger_rocks_store_close(rocks);
        return node_exit_from_err(err == MESH_ENOTFOUND ? MESH_EPROTO : err);
    }
    walk_context context = {.args = args, .self_key = self_key, .format = format, .printed = 0};
    if (format == WALK_JSON) {
        char self[MCRYPTO_NODE_ID_TEXT_SIZE];
        node_id_text(self_key, self);
        (void) printf("{\"self\":\"%s\",\"entries\":[", self);
    } else if (format == WALK_CSV) {
        (void) printf("seq,time,kind,lease_id,number,role,peer,lender,borrower,resource,model,"
                      "amount,lender_signed,borrower_signed,entry_hash,window_start,window_end,"
                      "price_eur_per_unit_hour,lender_country,lender_certifications,data_class,"
                      "lender_cert_hash\n");
    }
    err = ledger_journal_walk(&store, 1, walk_visit, &context);
    if (format == WALK_JSON) {
        (void) printf("],\"count\":%" PRIu64 "}\n", context.printed);
    }
    ledger_rocks_store_close(rocks);
    if (err != MESH_OK) {
        node_say_error(args->command,
                       "%s: the journal stopped at a bad entry; run 'fedmesh ledger "
                       "verify'",
                       args->path);
        return node_exit_from_err(err);
    }
    return NODE_EXIT_OK;
}

static int cmd_history(ledger_args *args, int argc, char **argv)
{
    int rc = parse_args(
        argc, argv, OPT_LEDGER | OPT_CONFIG | OPT_JSON | OPT_PEER | OPT_SINCE | OPT_UNTIL, args);
    if (rc != NODE_EXIT_OK) {
        return rc;
    }
    return walk(args, (args->given & OPT_JSON) != 0 ? WALK_JSON : WALK_TEXT);
}

static int cmd_export(ledger_args *args, int argc, char **argv)
{
    int rc = parse_args(
        argc, argv, OPT_LEDGER | OPT_CONFIG | OPT_FORMAT | OPT_PEER | OPT_SINCE | OPT_UNTIL, args);
    if (rc != NODE_EXIT_OK) {
        return rc;
    }
    if ((args->given & OPT_FORMAT) == 0) {
        return ledger_usage_error(args, "--format csv|jsonl is required");
    }
    return walk(args, strcmp(args->format, "csv") == 0 ? WALK_CSV : WALK_JSONL);
}

/* verify */

static int cmd_verify(ledger_args *args, int argc, char **argv)
{
    ledger_rocks_store *rocks = NULL;
    int rc = parse_and_open(argc, argv, OPT_LEDGER | OPT_CONFIG | OPT_JSON, LEDGER_ROCKS_READ_ONLY,
                            args, &rocks);
    if (rc != NODE_EXIT_OK) {
        return rc;
    }
    ledger_store store = ledger_rocks_store_interface(rocks);
    ledger_verify_report report;
    mesh_err err = ledger_verify(&store, args->half_life_ns, &report);
    ledger_rocks_store_close(rocks);
    char hash[2 * LEDGER_HASH_SIZE + 1];
    sodium_bin2hex(hash, sizeof(hash), report.head_hash, LEDGER_HASH_SIZE);
    bool ok = err == MESH_OK;
    bool found_fault = err == MESH_ECORRUPT || (err == MESH_ENOTFOUND && report.reason[0]);
    if ((args->given & OPT_JSON) != 0 && (ok || found_fault)) {
        rc = print_json(args, json_pack("{s:b, s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:s}", "ok",
                                        ok, "head_seq", (json_int_t) report.head_seq, "head_hash",
                                        hash, "entries", (json_int_t) report.entry_count,
                                        "signatures", (json_int_t) report.signature_count,
                                        "derived_keys", (json_int_t) report.key_count, "leases",
                                        (json_int_t) report.lease_count, "bad_seq",
                                        (json_int_t) report.bad_seq, "bad_key", report.bad_key,
                                        "reason", report.reason));
        if (rc != NODE_EXIT_OK) {
            return rc;
        }
    } else if (ok) {
        (void) printf("ok: %" PRIu64 " entries, %" PRIu64 " signatures, %" PRIu64
                      " derived keys, %" PRIu64 " leases; head %" PRIu64 " %s\n",
                      report.entry_count, report.signature_count, report.key_count,
                      report.lease_count, report.head_seq, hash);
    }
    if (ok) {
        return NODE_EXIT_OK;
    }
    if (found_fault) {
        if (report.bad_seq > 0) {
            node_say_error(args->command, "entry %" PRIu64 " (key %s): %s", report.bad_seq,
                           report.bad_key, report.reason);
        } else {
            node_say_error(args->command, "key %s: %s", report.bad_key, report.reason);
        }
        return NODE_EXIT_INVALID;
    }
    node_say_error(args->command, "%s: %s", args->path, mesh_strerror(err));
    return node_exit_from_err(err);
}

/* reconcile */

static int cmd_reconcile(ledger_args *args, int argc, char **argv)
{
    int rc = parse_args(
        argc, argv, OPT_LEDGER | OPT_CONFIG | OPT_JSON | OPT_OTHER | OPT_PEER | OPT_TIMEOUT, args);
    if (rc != NODE_EXIT_OK) {
        return rc;
    }
    if ((args->given & OPT_OTHER) == 0) {
        // Over the network: the running agent asks the peer.
        if ((args->given & OPT_CONFIG) == 0 || (args->given & OPT_PEER) == 0) {
            return ledger_usage_error(args, "give --other DIR (offline), or --config NODE.INI "
                                            "--peer NAME (over the network)");
        }
        return node_ledger_reconcile_network(args->command, args->config_path, args->peer_text,
                                             args->timeout_ms, (args->given & OPT_JSON) != 0);
    }
    if (args->peer_is_name || (args->given & OPT_TIMEOUT) != 0) {
        return ledger_usage_error(args, "with --other DIR, --peer takes a node id (fm...) and "
                                        "--timeout-ms does not apply");
    }
    ledger_rocks_store *rocks_a = NULL;
    ledger_rocks_store *rocks_b = NULL;
    rc = open_store(args, args->path, LEDGER_ROCKS_READ_ONLY, &rocks_a);
    if (rc == NODE_EXIT_OK) {
        rc = open_store(args, args->other_dir, LEDGER_ROCKS_READ_ONLY, &rocks_b);
    }
    ledger_store store_a = {0};
    ledger_store store_b = {0};
    uint8_t key_b[LEDGER_KEY_SIZE];
    if (rc == NODE_EXIT_OK) {
        store_a = ledger_rocks_store_interface(rocks_a);
        store_b = ledger_rocks_store_interface(rocks_b);
        if (ledger_store_self_key(&store_b, key_b) != MESH_OK) {
            node_say_error(args->command, "%s: not a readable ledger", args->other_dir);
            rc = NODE_EXIT_INPUT;
        } else if (!key_is_peer(args, key_b)) {
            node_say_error(args->command, "%s belongs to another node than --peer",
                           args->other_dir);
            rc = NODE_EXIT_USAGE;
        }
    }
    ledger_reconcile_report report;
    mesh_err err = rc == NODE_EXIT_OK ? ledger_reconcile(&store_a, &store_b, &report) : MESH_OK;
    ledger_rocks_store_close(rocks_a);
    ledger_rocks_store_close(rocks_b);
    if (rc != NODE_EXIT_OK) {
        return rc;
    }
    if (err != MESH_OK) {
        node_say_error(args->command, "%s", mesh_strerror(err));
        return node_exit_from_err(err == MESH_ENOTFOUND ? MESH_EPROTO : err);
    }
    bool agree = report.only_a_count == 0 && report.only_b_count == 0 && report.differ_count == 0 &&
                 report.a_lent_milli == report.b_borrowed_milli &&
                 report.a_borrowed_milli == report.b_lent_milli;
    char peer[MCRYPTO_NODE_ID_TEXT_SIZE];
    node_id_text(key_b, peer);
    char first[2 * LEDGER_LEASE_ID_SIZE + 1] = "";
    if (report.has_first) {
        sodium_bin2hex(first, sizeof(first), report.first_lease_id, LEDGER_LEASE_ID_SIZE);
    }
    if ((args->given & OPT_JSON) != 0) {
        rc = print_json(
            args,
            json_pack("{s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:s}", "agree",
                      agree, "peer", peer, "shared", (json_int_t) report.shared_count, "only_here",
                      (json_int_t) report.only_a_count, "only_there",
                      (json_int_t) report.only_b_count, "differ", (json_int_t) report.differ_count,
                      "lent_milli", (json_int_t) report.a_lent_milli, "borrowed_milli",
                      (json_int_t) report.a_borrowed_milli, "peer_lent_milli",
                      (json_int_t) report.b_lent_milli, "peer_borrowed_milli",
                      (json_int_t) report.b_borrowed_milli, "first_lease_id", first, "first_number",
                      (json_int_t) report.first_number, "first_what", report.first_what));
        if (rc != NODE_EXIT_OK) {
            return rc;
        }
    } else {
        (void) printf("%s with %s: %" PRIu64 " shared records, %" PRIu64 " only here, %" PRIu64
                      " only there, %" PRIu64 " different\n",
                      agree ? "agree" : "DIFFER", peer, report.shared_count, report.only_a_count,
                      report.only_b_count, report.differ_count);
        if (report.has_first) {
            (void) printf("first difference: lease %s record %" PRIu32 " (%s)\n", first,
                          report.first_number, report.first_what);
        }
    }
    return agree ? NODE_EXIT_OK : NODE_EXIT_INVALID;
}

int node_cmd_ledger(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        (void) fputs(ledger_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? NODE_EXIT_USAGE : NODE_EXIT_OK;
    }
    if (node_wants_help(argc, argv)) {
        (void) fputs(ledger_usage, stdout);
        return NODE_EXIT_OK;
    }
    static const struct {
        const char *name;
        const char *command;
        int (*run)(ledger_args *args, int argc, char **argv);
    } commands[] = {
        {"balance", "ledger balance", cmd_balance},
        {"history", "ledger history", cmd_history},
        {"verify", "ledger verify", cmd_verify},
        {"export", "ledger export", cmd_export},
        {"reconcile", "ledger reconcile", cmd_reconcile},
    };
    // audit parses its own options (cli_audit.c): --verify needs no ledger.
    if (strcmp(argv[1], "audit") == 0) {
        return node_cmd_ledger_audit(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "append") == 0 || strcmp(argv[1], "tamper") == 0) {
        node_say_error(LEDGER_CMD,
                       "'%s' is a test tool now, never run on a real ledger: it is "
                       "fedmesh-testtool ledger %s, built with the tests",
                       argv[1], argv[1]);
        return NODE_EXIT_USAGE;
    }
    for (uint32_t i = 0; i < MESH_ARRAY_COUNT(commands); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            ledger_args args;
            memset(&args, 0, sizeof(args));
            args.command = commands[i].command;
            return commands[i].run(&args, argc - 1, argv + 1);
        }
    }
    node_say_error(LEDGER_CMD, "unknown command '%s'; run 'fedmesh ledger --help'", argv[1]);
    return NODE_EXIT_USAGE;
}
