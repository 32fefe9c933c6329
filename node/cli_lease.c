/*
 * node/cli_lease.c: `fedmesh borrow`, `fedmesh release` and `fedmesh
 * leases`: thin clients of the running agent's HTTP API (README "HTTP
 * API"), so that what a person types and what a scheduler sends go
 * through one validated path.
 *
 * Where the API is: --config NODE.INI reads [http] listen and token_file
 * (the same file the agent reads); or --api URL with --token-file PATH.
 * The request is one HTTP exchange with NNG's client, bounded by the
 * borrow's timeout plus a margin; the answer is printed as a short table,
 * or verbatim with --json.
 */
#define _POSIX_C_SOURCE 200809L

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <sodium.h>

#include "node/api_client_int.h"
#include "node/config_int.h"
#include "node/http_int.h"
#include "node/node_int.h"

#define API_TIMEOUT_MARGIN_MS 5000u

static const char borrow_usage[] =
    "usage: fedmesh borrow (--config NODE.INI | --api URL --token-file PATH)\n"
    "                      [--vcpu N] [--memory-gib N] [--storage-gib N] [--gpu MODEL:N]...\n"
    "                      --hours H [--start TIME] [--country CC[,CC...]]...\n"
    "                      [--jurisdiction CC]... [--cert NAME]... [--data-class NAME]\n"
    "                      [--max-rtt-ms N] [--max-cost-microeur-per-hour N]\n"
    "                      [--max-carbon N] [--prefer NAME[,NAME...]] [--lender NAME]\n"
    "                      [--no-split] [--timeout-ms N] [--json]\n"
    "\n"
    "Asks the running agent to borrow capacity from the federation (POST\n"
    "/v1/leases) and waits for the answer: the leases granted, or why none was.\n"
    "Constraints are checked against each lender's root-signed certificate by\n"
    "both sides; a data class (the agent's [data_class NAME]) sets them, and the\n"
    "other flags may only narrow it. --prefer orders lenders, --lender pins one.\n"
    "Exit 0 when all of it was granted, 1 when only part or none was.\n";

static const char release_usage[] =
    "usage: fedmesh release (--config NODE.INI | --api URL --token-file PATH) ID [--json]\n"
    "\n"
    "Gives a borrowed lease back (DELETE /v1/leases/ID); the lender settles it.\n";

static const char leases_usage[] =
    "usage: fedmesh leases (--config NODE.INI | --api URL --token-file PATH) [--json]\n"
    "\n"
    "Lists this node's leases (GET /v1/leases): the ledger's, with the phase of\n"
    "those in flight, and requests and offers not yet recorded.\n";

typedef struct common_options {
    const char *config;
    const char *api;
    const char *token_file;
    bool json;
} common_options;

static bool
resolve_target(const char *command, const common_options *common, node_api_target *target)
{
    memset(target, 0, sizeof(*target));
    if ((common->config == NULL) == (common->api == NULL)) {
        node_say_error(command, "give --config NODE.INI, or --api URL with --token-file PATH");
        return false;
    }
    if (common->config != NULL) {
        return node_api_target_from_config(command, common->config, target);
    }
    if (common->token_file == NULL) {
        node_say_error(command, "--api needs --token-file PATH");
        return false;
    }
    (void) snprintf(target->url, sizeof(target->url), "%s", common->api);
    return node_api_read_token(command, common->token_file, target);
}

/* ---------------------------------------------------------------- */
/* borrow                                                            */
/* ---------------------------------------------------------------- */

static bool add_resource(json_t *resources, const char *class_name, const char *model, int64_t n)
{
    json_t *item = json_pack("{s:s, s:I}", "class", class_name, "amount", (json_int_t) n);
    if (item != NULL && model != NULL) {
        (void) json_object_set_new(item, "model", json_string(model));
    }
    return item != NULL && json_array_append_new(resources, item) == 0;
}

// "FR,DE" appended to an array of strings.
static void add_list(json_t *array, const char *text)
{
    char copy[512];
    (void) snprintf(copy, sizeof(copy), "%s", text);
    char *start = copy;
    for (;;) {
        char *comma = strchr(start, ',');
        if (comma != NULL) {
            *comma = '\0';
        }
        if (start[0] != '\0') {
            (void) json_array_append_new(array, json_string(start));
        }
        if (comma == NULL) {
            return;
        }
        start = comma + 1;
    }
}

static void print_borrow(const char *text)
{
    json_t *root = json_loads(text, 0, NULL);
    const char *status = json_string_value(json_object_get(root, "status"));
    (void) printf("status: %s", status != NULL ? status : "?");
    const char *reason = json_string_value(json_object_get(root, "reason"));
    if (reason != NULL && reason[0] != '\0') {
        (void) printf(" (%s)", reason);
    }
    (void) printf("\n");
    json_t *leases = json_object_get(root, "leases");
    size_t index = 0;
    json_t *lease = NULL;
    if (json_array_size(leases) > 0) {
        (void) printf("%-32s  %-18s  %-12s  %-20s  %s\n", "LEASE", "LENDER", "RESOURCES", "UNTIL",
                      "DATA CLASS");
    }
    json_array_foreach(leases, index, lease)
    {
        json_t *first = json_array_get(json_object_get(lease, "resources"), 0);
        char resources[64];
        (void) snprintf(resources, sizeof(resources), "%lld %s",
                        (long long) json_integer_value(json_object_get(first, "amount")),
                        json_string_value(json_object_get(first, "class")) != NULL
                            ? json_string_value(json_object_get(first, "class"))
                            : "");
        const char *data_class = json_string_value(json_object_get(lease, "data_class"));
        (void) printf("%-32s  %-18s  %-12s  %-20s  %s\n",
                      json_string_value(json_object_get(lease, "id")),
                      json_string_value(json_object_get(lease, "peer_name")), resources,
                      json_string_value(json_object_get(lease, "end")),
                      data_class != NULL && data_class[0] != '\0' ? data_class : "-");
    }
    json_t *refusals = json_object_get(root, "refusals");
    if (json_object_size(refusals) > 0) {
        (void) printf("refusals:");
        const char *key = NULL;
        json_t *value = NULL;
        json_object_foreach(refusals, key, value)
        {
            (void) printf(" %s=%lld", key, (long long) json_integer_value(value));
        }
        (void) printf("\n");
    }
    json_decref(root);
}

int node_cmd_borrow(int argc, char **argv)
{
    static const char command[] = "borrow";
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"api", required_argument, NULL, 'a'},
        {"token-file", required_argument, NULL, 't'},
        {"vcpu", required_argument, NULL, 'v'},
        {"memory-gib", required_argument, NULL, 'm'},
        {"storage-gib", required_argument, NULL, 's'},
        {"gpu", required_argument, NULL, 'g'},
        {"hours", required_argument, NULL, 'H'},
        {"start", required_argument, NULL, 'S'},
        {"country", required_argument, NULL, 'C'},
        {"jurisdiction", required_argument, NULL, 'J'},
        {"cert", required_argument, NULL, 'e'},
        {"data-class", required_argument, NULL, 'd'},
        {"max-rtt-ms", required_argument, NULL, 'r'},
        {"max-cost-microeur-per-hour", required_argument, NULL, 'p'},
        {"max-carbon", required_argument, NULL, 'o'},
        {"prefer", required_argument, NULL, 'P'},
        {"lender", required_argument, NULL, 'L'},
        {"no-split", no_argument, NULL, 'n'},
        {"timeout-ms", required_argument, NULL, 'T'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    if (node_wants_help(argc, argv)) {
        (void) fputs(borrow_usage, stdout);
        return NODE_EXIT_OK;
    }
    common_options common = {0};
    json_t *body = json_object();
    json_t *resources = json_array();
    json_t *countries = json_array();
    json_t *jurisdictions = json_array();
    json_t *certs = json_array();
    json_t *prefer = json_array();
    int64_t duration_s = 0;
    int64_t timeout_ms = 0;
    int rc = NODE_EXIT_USAGE;
    optind = 1;
    opterr = 0;
    for (;;) {
        int option = getopt_long(argc, argv, "", options, NULL);
        if (option == -1) {
            break;
        }
        int64_t n = 0;
        switch (option) {
        case 'c':
            common.config = optarg;
            break;
        case 'a':
            common.api = optarg;
            break;
        case 't':
            common.token_file = optarg;
            break;
        case 'v':
        case 'm':
        case 's':
            if (node_parse_i64(optarg, 1, 1000000000000ll, &n) != MESH_OK) {
                node_say_error(command, "--%s: a whole number in 1..10^12",
                               option == 'v'   ? "vcpu"
                               : option == 'm' ? "memory-gib"
                                               : "storage-gib");
                goto out;
            }
            (void) add_resource(resources,
                                option == 'v'   ? "vcpu"
                                : option == 'm' ? "memory_gib"
                                                : "storage_gib",
                                NULL, n);
            break;
        case 'g': {
            const char *colon = strrchr(optarg, ':');
            char model[WIRE_MODEL_SIZE_MAX + 1];
            size_t size = colon != NULL ? (size_t) (colon - optarg) : 0;
            if (colon == NULL || size == 0 || size > WIRE_MODEL_SIZE_MAX ||
                node_parse_i64(colon + 1, 1, 1000000000000ll, &n) != MESH_OK) {
                node_say_error(command, "--gpu takes MODEL:COUNT, e.g. --gpu H100-80GB:2");
                goto out;
            }
            memcpy(model, optarg, size);
            model[size] = '\0';
            (void) add_resource(resources, "gpu", model, n);
            break;
        }
        case 'H': {
            char *end = NULL;
            double hours = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(hours > 0) || hours > 8784.0) {
                node_say_error(command, "--hours: a number of hours in (0, 8784]");
                goto out;
            }
            duration_s = (int64_t) (hours * 3600.0 + 0.5);
            duration_s = duration_s < 1 ? 1 : duration_s;
            break;
        }
        case 'S':
            (void) json_object_set_new(body, "start", json_string(optarg));
            break;
        case 'C':
            add_list(countries, optarg);
            break;
        case 'J':
            add_list(jurisdictions, optarg);
            break;
        case 'e':
            (void) json_array_append_new(certs, json_string(optarg));
            break;
        case 'd':
            (void) json_object_set_new(body, "data_class", json_string(optarg));
            break;
        case 'r':
        case 'p':
        case 'o':
            if (node_parse_i64(optarg, 1, 1000000000000ll, &n) != MESH_OK) {
                node_say_error(command, "%s: a whole number >= 1", argv[optind - 1]);
                goto out;
            }
            (void) json_object_set_new(body,
                                       option == 'r'   ? "max_rtt_ms"
                                       : option == 'p' ? "max_cost_microeur_per_hour"
                                                       : "max_carbon_gco2_per_kwh",
                                       json_integer((json_int_t) n));
            break;
        case 'P':
            add_list(prefer, optarg);
            break;
        case 'L':
            (void) json_object_set_new(body, "lender", json_string(optarg));
            break;
        case 'n':
            (void) json_object_set_new(body, "no_split", json_true());
            break;
        case 'T':
            if (node_parse_i64(optarg, 1, NODE_BORROW_TIMEOUT_MS_MAX, &timeout_ms) != MESH_OK) {
                node_say_error(command, "--timeout-ms: 1..%u", NODE_BORROW_TIMEOUT_MS_MAX);
                goto out;
            }
            (void) json_object_set_new(body, "timeout_ms", json_integer((json_int_t) timeout_ms));
            break;
        case 'j':
            common.json = true;
            break;
        default:
            node_say_error(command, "unknown option %s; see fedmesh borrow --help",
                           argv[optind - 1]);
            goto out;
        }
    }
    if (optind != argc || json_array_size(resources) == 0 || duration_s == 0) {
        node_say_error(command, "give at least one of --vcpu, --memory-gib, --storage-gib, --gpu, "
                                "and --hours; see fedmesh borrow --help");
        goto out;
    }
    (void) json_object_set(body, "resources", resources);
    (void) json_object_set_new(body, "duration_s", json_integer((json_int_t) duration_s));
    if (json_array_size(countries) > 0) {
        (void) json_object_set(body, "countries", countries);
    }
    if (json_array_size(jurisdictions) > 0) {
        (void) json_object_set(body, "jurisdictions", jurisdictions);
    }
    if (json_array_size(certs) > 0) {
        (void) json_object_set(body, "certifications", certs);
    }
    if (json_array_size(prefer) > 0) {
        (void) json_object_set(body, "prefer", prefer);
    }
    node_api_target target;
    if (!resolve_target(command, &common, &target)) {
        rc = NODE_EXIT_INPUT;
        goto out;
    }
    char *text = json_dumps(body, JSON_COMPACT);
    uint16_t status = 0;
    char *answer = NULL;
    uint32_t wait_ms = (uint32_t) (timeout_ms > 0 ? timeout_ms : 30000) + API_TIMEOUT_MARGIN_MS;
    mesh_err err = text == NULL ? MESH_ENOMEM
                                : node_api_exchange(command, &target, "POST", "/v1/leases", text,
                                                    wait_ms, &status, &answer);
    free(text);
    sodium_memzero(target.token, sizeof(target.token));
    if (err != MESH_OK) {
        rc = NODE_EXIT_INTERNAL;
        goto out;
    }
    if (status != 200) {
        rc = node_api_say_error(command, status, answer);
        free(answer);
        goto out;
    }
    if (common.json) {
        (void) printf("%s\n", answer);
    } else {
        print_borrow(answer);
    }
    json_t *root = json_loads(answer, 0, NULL);
    const char *outcome = json_string_value(json_object_get(root, "status"));
    rc = outcome != NULL && strcmp(outcome, "granted") == 0 ? NODE_EXIT_OK : NODE_EXIT_INVALID;
    json_decref(root);
    free(answer);
out:
    json_decref(body);
    json_decref(resources);
    json_decref(countries);
    json_decref(jurisdictions);
    json_decref(certs);
    json_decref(prefer);
    return rc;
}

/* ---------------------------------------------------------------- */
/* release and leases                                                */
/* ---------------------------------------------------------------- */

static int
parse_common(const char *command, const char *usage, int argc, char **argv, common_options *common)
{
    static const struct option options[] = {{"config", required_argument, NULL, 'c'},
                                            {"api", required_argument, NULL, 'a'},
                                            {"token-file", required_argument, NULL, 't'},
                                            {"json", no_argument, NULL, 'j'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    memset(common, 0, sizeof(*common));
    optind = 1;
    opterr = 0;
    for (;;) {
        int option = getopt_long(argc, argv, "", options, NULL);
        if (option == -1) {
            return NODE_EXIT_OK;
        }
        switch (option) {
        case 'c':
            common->config = optarg;
            break;
        case 'a':
            common->api = optarg;
            break;
        case 't':
            common->token_file = optarg;
            break;
        case 'j':
            common->json = true;
            break;
        default:
            node_say_error(command, "unknown option %s", argv[optind - 1]);
            (void) fputs(usage, stderr);
            return NODE_EXIT_USAGE;
        }
    }
}

int node_cmd_release(int argc, char **argv)
{
    static const char command[] = "release";
    if (node_wants_help(argc, argv)) {
        (void) fputs(release_usage, stdout);
        return NODE_EXIT_OK;
    }
    common_options common;
    int rc = parse_common(command, release_usage, argc, argv, &common);
    if (rc != NODE_EXIT_OK) {
        return rc;
    }
    if (optind + 1 != argc) {
        node_say_error(command, "give one lease id (32 hex characters); see fedmesh leases");
        return NODE_EXIT_USAGE;
    }
    const char *id = argv[optind];
    uint8_t bytes[WIRE_LEASE_ID_SIZE];
    char path[64];
    char message[NODE_HTTP_MESSAGE_SIZE];
    (void) snprintf(path, sizeof(path), "/v1/leases/%.40s", id);
    if (strlen(id) != 32 || node_http_parse_lease_id(path, bytes, message) != MESH_OK) {
        node_say_error(command, "%s is not a lease id (32 lower-case hex characters)", id);
        return NODE_EXIT_USAGE;
    }
    node_api_target target;
    if (!resolve_target(command, &common, &target)) {
        return NODE_EXIT_INPUT;
    }
    uint16_t status = 0;
    char *answer = NULL;
    mesh_err err =
        node_api_exchange(command, &target, "DELETE", path, NULL, 10000, &status, &answer);
    sodium_memzero(target.token, sizeof(target.token));
    if (err != MESH_OK) {
        return NODE_EXIT_INTERNAL;
    }
    if (status != 200) {
        rc = node_api_say_error(command, status, answer);
        free(answer);
        return rc;
    }
    if (common.json) {
        (void) printf("%s\n", answer);
    } else {
        (void) printf("released %s: the lender settles it\n", id);
    }
    free(answer);
    return NODE_EXIT_OK;
}

int node_cmd_leases(int argc, char **argv)
{
    static const char command[] = "leases";
    if (node_wants_help(argc, argv)) {
        (void) fputs(leases_usage, stdout);
        return NODE_EXIT_OK;
    }
    common_options common;
    int rc = parse_common(command, leases_usage, argc, argv, &common);
    if (rc != NODE_EXIT_OK) {
        return rc;
    }
    if (optind != argc) {
        node_say_error(command, "unexpected argument %s", argv[optind]);
        return NODE_EXIT_USAGE;
    }
    node_api_target target;
    if (!resolve_target(command, &common, &target)) {
        return NODE_EXIT_INPUT;
    }
    uint16_t status = 0;
    char *answer = NULL;
    mesh_err err =
        node_api_exchange(command, &target, "GET", "/v1/leases", NULL, 10000, &status, &answer);
    sodium_memzero(target.token, sizeof(target.token));
    if (err != MESH_OK) {
        return NODE_EXIT_INTERNAL;
    }
    if (status != 200) {
        rc = node_api_say_error(command, status, answer);
        free(answer);
        return rc;
    }
    if (common.json) {
        (void) printf("%s\n", answer);
        free(answer);
        return NODE_EXIT_OK;
    }
    json_t *root = json_loads(answer, 0, NULL);
    (void) printf("%-32s  %-8s  %-18s  %-10s  %-8s  %s\n", "LEASE", "ROLE", "PEER", "STATE",
                  "PHASE", "RECORDS");
    size_t index = 0;
    json_t *lease = NULL;
    json_array_foreach(json_object_get(root, "leases"), index, lease)
    {
        const char *phase = json_string_value(json_object_get(lease, "phase"));
        const char *peer_name = json_string_value(json_object_get(lease, "peer_name"));
        (void) printf("%-32s  %-8s  %-18s  %-10s  %-8s  %lld\n",
                      json_string_value(json_object_get(lease, "id")),
                      json_string_value(json_object_get(lease, "role")),
                      peer_name != NULL && peer_name[0] != '\0'
                          ? peer_name
                          : json_string_value(json_object_get(lease, "peer")),
                      json_string_value(json_object_get(lease, "state")),
                      phase != NULL ? phase : "-",
                      (long long) json_integer_value(json_object_get(lease, "records")));
    }
    json_decref(root);
    free(answer);
    return NODE_EXIT_OK;
}
