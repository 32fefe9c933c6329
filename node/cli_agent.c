/*
 * node/cli_agent.c: `fedmesh agent` (the daemon) and `fedmesh peers` (what
 * a running agent sees, through its local control endpoint).
 *
 * `peers` reads nothing but the config's control endpoint, so it works for
 * any user who may open that endpoint (an ipc:// control socket is mode
 * 0600: the agent's user). Its table is for people; --json is the
 * agent's own answer, verbatim, for programs.
 */
#define _POSIX_C_SOURCE 200809L

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>

#include "node/agent_int.h"
#include "node/config_int.h"
#include "node/log_int.h"
#include "node/node_int.h"

#define CONTROL_TIMEOUT_MS 5000u

static const char agent_usage[] =
    "usage: fedmesh agent --config NODE.INI [--log-level debug|info|warn|error]\n"
    "                     [--record FILE [--record-max-mib M] [--record-keep K]]\n"
    "\n"
    "Runs this node's agent: joins the federation through the configured seeds,\n"
    "gossips this node's signed capacity advert, and detects failed members.\n"
    "With [http] listen set it serves the HTTP API and /metrics (README \"HTTP API\").\n"
    "Logs go to stderr, one key=value line per event (level, component, event);\n"
    "--log-level overrides [node] log_level and is kept across reloads.\n"
    "Signals: SIGTERM or SIGINT: say goodbye to the peers and exit 0 within 5 s;\n"
    "SIGHUP: reload the log level, revocation files, HTTP token and capacity from\n"
    "NODE.INI, and log what was reloaded. Every config key is described in\n"
    "docs/node.example.ini.\n"
    "--record FILE records every input of this node's member (frames, timers,\n"
    "commands, ledger answers; no secret key) for `fedmesh sim replay`; FILE rotates\n"
    "to FILE.1, FILE.2, ... at M MiB (default 64), K old segments kept (default 4).\n"
    "They override [record] path, max_mib and keep.\n"
    "Exit codes at start: 3 a config or identity file unreadable or malformed, 4 a\n"
    "secret key readable by others, 6 an endpoint in use or not on this host.\n";

static const char peers_usage[] =
    "usage: fedmesh peers [--config NODE.INI | --control URL] [--json | --stats | --refresh]\n"
    "\n"
    "Asks the agent running with NODE.INI (or listening on the control endpoint\n"
    "URL, e.g. ipc:///run/fedmesh/control.ctl) for its view of the federation.\n"
    "Prints a table: name, id, country, state, advert sequence, advert age, the\n"
    "smoothed probe round trip, carbon intensity, and free/lendable of every class. --json prints "
    "the agent's whole answer\n"
    "(members sorted by id, with resources, certifications and endpoints);\n"
    "--stats prints the agent's counters as JSON. --refresh makes the agent publish\n"
    "its advert again now, with a new sequence number, and prints that number.\n";

int node_cmd_agent(int argc, char **argv)
{
    static const struct option options[] = {{"config", required_argument, NULL, 'c'},
                                            {"log-level", required_argument, NULL, 'l'},
                                            {"record", required_argument, NULL, 'r'},
                                            {"record-max-mib", required_argument, NULL, 'm'},
                                            {"record-keep", required_argument, NULL, 'k'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    if (node_wants_help(argc, argv)) {
        (void) fputs(agent_usage, stdout);
        return NODE_EXIT_OK;
    }
    const char *config_path = NULL;
    const char *log_level_text = NULL;
    const char *record_path = NULL;
    int64_t record_mib = 0;
    int64_t record_keep = 0;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'l':
            log_level_text = optarg;
            break;
        case 'r':
            record_path = optarg;
            break;
        case 'm':
        case 'k':
            if (node_parse_i64(optarg, 1, c == 'm' ? 1048576 : 100,
                               c == 'm' ? &record_mib : &record_keep) != MESH_OK) {
                node_say_error("agent", "--record-%s: expected a whole number in 1..%d",
                               c == 'm' ? "max-mib" : "keep", c == 'm' ? 1048576 : 100);
                return NODE_EXIT_USAGE;
            }
            break;
        default:
            node_say_error("agent", "unknown or incomplete option");
            (void) fputs(agent_usage, stderr);
            return NODE_EXIT_USAGE;
        }
    }
    if (optind != argc || config_path == NULL) {
        node_say_error("agent", "expected --config NODE.INI");
        (void) fputs(agent_usage, stderr);
        return NODE_EXIT_USAGE;
    }
    node_log_level override = NODE_LOG_INFO;
    if (log_level_text != NULL && node_log_level_parse(log_level_text, &override) != MESH_OK) {
        node_say_error("agent", "--log-level %s: expected debug, info, warn or error",
                       log_level_text);
        return NODE_EXIT_USAGE;
    }
    node_config *config = malloc(sizeof(*config));
    if (config == NULL) {
        node_say_error("agent", "out of memory");
        return NODE_EXIT_INTERNAL;
    }
    char error[NODE_CONFIG_ERROR_SIZE];
    mesh_err err = node_config_load(config_path, config, error);
    if (err != MESH_OK) {
        node_say_error("agent", "%s", error);
        free(config);
        return NODE_EXIT_INPUT;
    }
    if (record_path != NULL) {
        (void) snprintf(config->record_path, sizeof(config->record_path), "%s", record_path);
    }
    if (record_mib > 0) {
        config->record_bytes_max = (uint64_t) record_mib * 1048576u;
    }
    if (record_keep > 0) {
        config->record_keep = (uint32_t) record_keep;
    }
    node_log_set_level(log_level_text != NULL ? override : config->log_level);
    int rc = node_agent_run(config, config_path, log_level_text != NULL);
    free(config);
    return rc;
}

/* The value of key in object as text for the table ("-" when absent). */
static void cell_uint(const json_t *object, const char *key, char *out, size_t out_size)
{
    const json_t *value = json_object_get(object, key);
    if (json_is_integer(value)) {
        (void) snprintf(out, out_size, "%lld", (long long) json_integer_value(value));
    } else {
        (void) snprintf(out, out_size, "-");
    }
}

// "vcpu 96/64 memory_gib 512/0 gpu:H100-80GB 4/2": every class, free/lendable.
static void cell_resources(const json_t *member, char *out, size_t out_size)
{
    size_t used = 0;
    out[0] = '\0';
    size_t r = 0;
    const json_t *resource = NULL;
    json_array_foreach(json_object_get(member, "resources"), r, resource)
    {
        const char *resource_class = json_string_value(json_object_get(resource, "class"));
        const char *model = json_string_value(json_object_get(resource, "model"));
        int wrote =
            snprintf(out + used, out_size - used, "%s%s%s%s %lld/%lld", used > 0 ? " " : "",
                     resource_class != NULL ? resource_class : "?",
                     model != NULL && model[0] != '\0' ? ":" : "", model != NULL ? model : "",
                     (long long) json_integer_value(json_object_get(resource, "free")),
                     (long long) json_integer_value(json_object_get(resource, "lendable")));
        if (wrote < 0 || (size_t) wrote >= out_size - used) {
            break;
        }
        used += (size_t) wrote;
    }
    if (used == 0) {
        (void) snprintf(out, out_size, "-");
    }
}

static void print_table(const json_t *view)
{
    const json_t *members = json_object_get(view, "members");
    (void) printf("%-20s %-12s %-2s %-8s %16s %7s %7s %7s  %s\n", "NAME", "ID", "CC", "STATE",
                  "SEQ", "AGE", "RTT", "CARBON", "FREE/LENDABLE");
    size_t index = 0;
    const json_t *member = NULL;
    json_array_foreach(members, index, member)
    {
        const char *name = json_string_value(json_object_get(member, "name"));
        const char *id = json_string_value(json_object_get(member, "id"));
        const char *country = json_string_value(json_object_get(member, "country"));
        const char *state = json_string_value(json_object_get(member, "state"));
        char seq[24];
        cell_uint(member, "sequence", seq, sizeof(seq));
        char age[24] = "-";
        const json_t *age_value = json_object_get(member, "advert_age_s");
        if (json_is_number(age_value)) {
            (void) snprintf(age, sizeof(age), "%.1fs", json_number_value(age_value));
        }
        char rtt[24] = "-";
        const json_t *rtt_value = json_object_get(member, "rtt_ms");
        if (json_is_number(rtt_value)) {
            (void) snprintf(rtt, sizeof(rtt), "%.2fms", json_number_value(rtt_value));
        }
        char resources[256];
        cell_resources(member, resources, sizeof(resources));
        char carbon[24];
        cell_uint(member, "carbon_gco2_per_kwh", carbon, sizeof(carbon));
        bool self = json_is_true(json_object_get(member, "self"));
        (void) printf("%-20s %-12.12s %-2s %-8s %16s %7s %7s %7s  %s%s\n",
                      name != NULL ? name : "?", id != NULL ? id : "?",
                      country != NULL ? country : "?", state != NULL ? state : "?", seq, age, rtt,
                      carbon, resources, self ? "  (self)" : "");
    }
    node_print_revocations(json_object_get(view, "revocations"));
}

int node_cmd_peers(int argc, char **argv)
{
    static const struct option options[] = {{"config", required_argument, NULL, 'c'},
                                            {"control", required_argument, NULL, 'u'},
                                            {"json", no_argument, NULL, 'j'},
                                            {"stats", no_argument, NULL, 's'},
                                            {"refresh", no_argument, NULL, 'r'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    if (node_wants_help(argc, argv)) {
        (void) fputs(peers_usage, stdout);
        return NODE_EXIT_OK;
    }
    const char *config_path = NULL;
    const char *control = NULL;
    bool json = false;
    bool stats = false;
    bool refresh = false;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'u':
            control = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 's':
            stats = true;
            break;
        case 'r':
            refresh = true;
            break;
        default:
            node_say_error("peers", "unknown or incomplete option");
            (void) fputs(peers_usage, stderr);
            return NODE_EXIT_USAGE;
        }
    }
    if (optind != argc || (config_path == NULL) == (control == NULL) ||
        (int) json + (int) stats + (int) refresh > 1) {
        node_say_error("peers", "expected one of --config NODE.INI or --control URL, and at most "
                                "one of --json, --stats, --refresh");
        (void) fputs(peers_usage, stderr);
        return NODE_EXIT_USAGE;
    }
    node_config *config = NULL;
    if (config_path != NULL) {
        config = malloc(sizeof(*config));
        char error[NODE_CONFIG_ERROR_SIZE];
        mesh_err err = config == NULL ? MESH_ENOMEM : node_config_load(config_path, config, error);
        if (err != MESH_OK) {
            node_say_error("peers", "%s", config == NULL ? "out of memory" : error);
            free(config);
            return NODE_EXIT_INPUT;
        }
        control = config->control;
    }
    char *reply = NULL;
    char error[512];
    const char *request = refresh ? "refresh" : stats ? "stats" : "peers";
    mesh_err err =
        node_control_request(control, request, CONTROL_TIMEOUT_MS, &reply, error, sizeof(error));
    free(config);
    control = NULL;
    if (err != MESH_OK) {
        node_say_error("peers", "%s", error);
        return NODE_EXIT_INTERNAL;
    }
    int rc = NODE_EXIT_OK;
    if (json || stats || refresh) {
        (void) printf("%s\n", reply);
    } else {
        json_error_t json_error;
        json_t *view = json_loads(reply, 0, &json_error);
        if (view == NULL || json_object_get(view, "members") == NULL) {
            node_say_error("peers", "the agent's answer is not a view: %.200s", reply);
            rc = NODE_EXIT_INTERNAL;
        } else {
            print_table(view);
        }
        json_decref(view);
    }
    nng_strfree(reply);
    return rc;
}
