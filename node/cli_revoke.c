/*
 * node/cli_revoke.c: `fedmesh revoke publish FILE` and `fedmesh revoke
 * list`, through a running agent's control endpoint.
 *
 * Revoking a member takes two steps on purpose. The root key signs the
 * revocation offline (`fedmesh federation revoke --out FILE`); any member's
 * agent then takes the file (`fedmesh revoke publish FILE`), checks it
 * against the root, keeps it in its data directory and gossips it, and
 * every member that learns it keeps it too. The file is sent as is; the
 * agent does every check, so that the answer (and the counter behind it)
 * is the agent's, the same as for `POST /v1/revocations`.
 *
 * Bounds: the file is at most NODE_REVOCATION_FILE_SIZE_MAX bytes; the
 * agent has CONTROL_TIMEOUT_MS to answer.
 */
#define _POSIX_C_SOURCE 200809L

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>

#include "node/agent_int.h"
#include "node/agent_revoke_int.h"
#include "node/node.h"
#include "node/node_int.h"

#define CONTROL_TIMEOUT_MS 5000u

static const char revoke_usage[] =
    "usage: fedmesh revoke publish FILE (--config NODE.INI | --control URL)\n"
    "       fedmesh revoke list (--config NODE.INI | --control URL) [--json]\n"
    "\n"
    "publish  hands a revocation (the file `fedmesh federation revoke --out` wrote) to\n"
    "         the running agent: it checks it against the federation root, keeps it in\n"
    "         [node] data_dir and gossips it; every member then refuses the revoked key,\n"
    "         keeps the revocation too, and never dials the revoked member again (seeds\n"
    "         included); the revoked member is told why. Exit 0 when published (also when\n"
    "         already held), 1 when refused (not the root's signature, malformed, this\n"
    "         node's own key), 3 when FILE cannot be read, 5 when the agent is unreachable.\n"
    "list     the revocations the agent holds.\n";

/* The control endpoint from --config or --control; prints the error. */
static bool
control_endpoint(const char *config_path, const char *control, char out[NODE_CONFIG_ENDPOINT_SIZE])
{
    if (control != NULL) {
        (void) snprintf(out, NODE_CONFIG_ENDPOINT_SIZE, "%s", control);
        return true;
    }
    node_config *config = malloc(sizeof(*config));
    char error[NODE_CONFIG_ERROR_SIZE];
    mesh_err err = config == NULL ? MESH_ENOMEM : node_config_load(config_path, config, error);
    if (err != MESH_OK) {
        node_say_error("revoke", "%s", config == NULL ? "out of memory" : error);
        free(config);
        return false;
    }
    (void) snprintf(out, NODE_CONFIG_ENDPOINT_SIZE, "%s", config->control);
    free(config);
    return true;
}

/* Reads FILE whole into a control request "revoke\n<file>". */
static char *publish_request(const char *path)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        node_say_error("revoke", "%s: cannot open the revocation file", path);
        return NULL;
    }
    size_t prefix = strlen(NODE_CONTROL_REVOKE_PREFIX);
    char *request = malloc(prefix + NODE_REVOCATION_FILE_SIZE_MAX + 2);
    size_t size = 0;
    if (request != NULL) {
        memcpy(request, NODE_CONTROL_REVOKE_PREFIX, prefix);
        size = fread(request + prefix, 1, NODE_REVOCATION_FILE_SIZE_MAX + 1, file);
    }
    bool failed = request == NULL || ferror(file) != 0;
    (void) fclose(file);
    if (failed || size == 0 || size > NODE_REVOCATION_FILE_SIZE_MAX) {
        node_say_error("revoke", "%s: %s", path,
                       failed      ? "cannot read the file"
                       : size == 0 ? "the file is empty"
                                   : "larger than a revocation file can be (4 KiB)");
        free(request);
        return NULL;
    }
    request[prefix + size] = '\0';
    return request;
}

static void print_revocation_rows(const json_t *list)
{
    (void) printf("%-28s %-20s %-24s %s\n", "REVOKED", "AT", "ENDPOINT", "REASON");
    size_t index = 0;
    const json_t *entry = NULL;
    json_array_foreach(list, index, entry)
    {
        const char *id = json_string_value(json_object_get(entry, "id"));
        const char *at = json_string_value(json_object_get(entry, "revoked_at"));
        const char *endpoint = json_string_value(json_object_get(entry, "endpoint"));
        const char *reason = json_string_value(json_object_get(entry, "reason"));
        (void) printf("%-28s %-20s %-24s %s%s\n", id != NULL ? id : "?", at != NULL ? at : "?",
                      endpoint != NULL && endpoint[0] != '\0' ? endpoint : "-",
                      reason != NULL && reason[0] != '\0' ? reason : "-",
                      json_is_true(json_object_get(entry, "self")) ? "  (self)" : "");
    }
}

void node_print_revocations(const json_t *revocations)
{
    const json_t *list = json_object_get(revocations, "revocations");
    if (json_is_true(json_object_get(revocations, "self_revoked"))) {
        const json_t *self = json_object_get(revocations, "self_revocation");
        const char *reason = json_string_value(json_object_get(self, "reason"));
        (void) printf("\nTHIS NODE IS REVOKED (at %s, reason: %s): every member refuses it; it "
                      "has stopped sending.\n",
                      json_string_value(json_object_get(self, "revoked_at")) != NULL
                          ? json_string_value(json_object_get(self, "revoked_at"))
                          : "?",
                      reason != NULL && reason[0] != '\0' ? reason : "none given");
    }
    if (json_array_size(list) == 0) {
        return;
    }
    (void) printf("\nRevocations held: %zu\n", json_array_size(list));
    print_revocation_rows(list);
}

int node_cmd_revoke(int argc, char **argv)
{
    static const struct option options[] = {{"config", required_argument, NULL, 'c'},
                                            {"control", required_argument, NULL, 'u'},
                                            {"json", no_argument, NULL, 'j'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    if (node_wants_help(argc, argv) || argc < 2) {
        (void) fputs(revoke_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? NODE_EXIT_USAGE : NODE_EXIT_OK;
    }
    const char *sub = argv[1];
    bool publish = strcmp(sub, "publish") == 0;
    if (!publish && strcmp(sub, "list") != 0) {
        node_say_error("revoke", "unknown subcommand '%s'; use publish or list", sub);
        (void) fputs(revoke_usage, stderr);
        return NODE_EXIT_USAGE;
    }
    const char *config_path = NULL;
    const char *control = NULL;
    bool json = false;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc - 1, argv + 1, "", options, NULL)) != -1) {
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
        default:
            node_say_error("revoke", "unknown or incomplete option");
            (void) fputs(revoke_usage, stderr);
            return NODE_EXIT_USAGE;
        }
    }
    int operands = argc - 1 - optind;
    if ((config_path == NULL) == (control == NULL) || operands != (publish ? 1 : 0) ||
        (publish && json)) {
        node_say_error("revoke", publish ? "expected FILE and one of --config or --control"
                                         : "expected one of --config or --control");
        (void) fputs(revoke_usage, stderr);
        return NODE_EXIT_USAGE;
    }
    char endpoint[NODE_CONFIG_ENDPOINT_SIZE];
    if (!control_endpoint(config_path, control, endpoint)) {
        return NODE_EXIT_INPUT;
    }
    char *request = publish ? publish_request(argv[1 + optind]) : NULL;
    if (publish && request == NULL) {
        return NODE_EXIT_INPUT;
    }
    char *reply = NULL;
    char error[512];
    mesh_err err = node_control_request(endpoint, publish ? request : "revocations",
                                        CONTROL_TIMEOUT_MS, &reply, error, sizeof(error));
    free(request);
    if (err != MESH_OK) {
        node_say_error("revoke", "%s", error);
        return NODE_EXIT_INTERNAL;
    }
    json_error_t json_error;
    json_t *answer = json_loads(reply, 0, &json_error);
    int rc = NODE_EXIT_OK;
    const char *refused = json_string_value(json_object_get(answer, "error"));
    if (answer == NULL) {
        node_say_error("revoke", "the agent's answer is not JSON: %.200s", reply);
        rc = NODE_EXIT_INTERNAL;
    } else if (refused != NULL) {
        node_say_error("revoke", "refused by the agent (%s): %s",
                       json_string_value(json_object_get(answer, "code")) != NULL
                           ? json_string_value(json_object_get(answer, "code"))
                           : "error",
                       refused);
        rc = NODE_EXIT_INVALID;
    } else if (json || publish) {
        (void) printf("%s\n", reply);
    } else {
        node_print_revocations(answer);
        if (json_array_size(json_object_get(answer, "revocations")) == 0) {
            (void) printf("no revocations held\n");
        }
    }
    json_decref(answer);
    nng_strfree(reply);
    return rc;
}
