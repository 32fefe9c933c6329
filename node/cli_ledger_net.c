/*
 * node/cli_ledger_net.c: `fedmesh ledger reconcile --config NODE.INI
 * --peer NAME`, the network reconcile, as a client of the running agent's
 * API (POST /v1/ledger/reconcile; README "HTTP API"): the agent asks the
 * peer for its summary of the leases the two share and compares it with
 * its own ledger (member/reconcile.c). The CLI cannot do that alone: the
 * peer answers only a member with a valid certificate, over the
 * federation's transport, and the agent is that member.
 *
 * Output: a line saying agree or DIFFER with the counts, then one line
 * per mismatch the agent named (the first few); --json prints the agent's
 * answer as is. Exit 0 when they agree, 1 when they differ.
 */
#define _POSIX_C_SOURCE 200809L

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "node/api_client_int.h"
#include "node/cli_ledger_int.h"
#include "node/node_int.h"

#define RECONCILE_MARGIN_MS 5000u

static long long json_count(const json_t *root, const char *key)
{
    return (long long) json_integer_value(json_object_get(root, key));
}

static int print_answer(const char *command, const char *text)
{
    json_error_t error;
    json_t *root = json_loads(text, 0, &error);
    if (root == NULL || !json_is_boolean(json_object_get(root, "agree"))) {
        node_say_error(command, "the agent's answer is not a reconcile result: %.200s", text);
        json_decref(root);
        return NODE_EXIT_INTERNAL;
    }
    bool agree = json_is_true(json_object_get(root, "agree"));
    const char *peer = json_string_value(json_object_get(root, "peer"));
    const char *name = json_string_value(json_object_get(root, "peer_name"));
    (void) printf("%s with %s (%s): %lld shared leases, %lld only here, %lld only there, %lld "
                  "different%s\n",
                  agree ? "agree" : "DIFFER", name != NULL && name[0] != '\0' ? name : "?",
                  peer != NULL ? peer : "?", json_count(root, "shared"),
                  json_count(root, "only_here"), json_count(root, "only_there"),
                  json_count(root, "differ"),
                  json_is_true(json_object_get(root, "incomplete"))
                      ? " (incomplete: more shared leases than one summary carries)"
                      : "");
    size_t index = 0;
    const json_t *mismatch = NULL;
    json_array_foreach(json_object_get(root, "mismatches"), index, mismatch)
    {
        const char *lease = json_string_value(json_object_get(mismatch, "lease"));
        const char *what = json_string_value(json_object_get(mismatch, "what"));
        (void) printf("  lease %s: %s\n", lease != NULL ? lease : "?", what != NULL ? what : "?");
    }
    json_decref(root);
    return agree ? NODE_EXIT_OK : NODE_EXIT_INVALID;
}

int node_ledger_reconcile_network(
    const char *command, const char *config_path, const char *peer, uint64_t timeout_ms, bool json)
{
    node_api_target target;
    memset(&target, 0, sizeof(target));
    if (!node_api_target_from_config(command, config_path, &target)) {
        return NODE_EXIT_INPUT;
    }
    uint64_t wait_ms = timeout_ms > 0 ? timeout_ms : NODE_RECONCILE_TIMEOUT_MS_DEFAULT;
    json_t *request = json_pack("{s:s}", "peer", peer);
    if (request != NULL && timeout_ms > 0) {
        (void) json_object_set_new(request, "timeout_ms", json_integer((json_int_t) timeout_ms));
    }
    char *body = request != NULL ? json_dumps(request, JSON_COMPACT) : NULL;
    json_decref(request);
    if (body == NULL) {
        sodium_memzero(target.token, sizeof(target.token));
        node_say_error(command, "out of memory");
        return NODE_EXIT_INTERNAL;
    }
    uint16_t status = 0;
    char *answer = NULL;
    mesh_err err = node_api_exchange(command, &target, "POST", "/v1/ledger/reconcile", body,
                                     (uint32_t) (wait_ms + RECONCILE_MARGIN_MS), &status, &answer);
    sodium_memzero(target.token, sizeof(target.token));
    free(body);
    if (err != MESH_OK) {
        return NODE_EXIT_INTERNAL;
    }
    int rc = NODE_EXIT_OK;
    if (status != 200) {
        rc = node_api_say_error(command, status, answer);
    } else if (json) {
        (void) printf("%s\n", answer);
        json_t *root = json_loads(answer, 0, NULL);
        rc = json_is_true(json_object_get(root, "agree")) ? NODE_EXIT_OK : NODE_EXIT_INVALID;
        json_decref(root);
    } else {
        rc = print_answer(command, answer);
    }
    free(answer);
    return rc;
}
