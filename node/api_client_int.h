/*
 * node/api_client_int.h: the CLI's client of the running agent's HTTP API
 * (README "HTTP API"): where the API is and its token, one exchange, and
 * an error answer turned into a message and an exit code. Shared by the
 * commands that ask the agent (borrow, release, leases: cli_lease.c;
 * ledger reconcile --peer: cli_ledger_net.c), so that they all find the
 * agent and report its answers the same way.
 */
#ifndef NODE_API_CLIENT_INT_H
#define NODE_API_CLIENT_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "node/config_int.h"
#include "node/http_int.h"

typedef struct node_api_target {
    char url[NODE_CONFIG_ENDPOINT_SIZE];
    char token[NODE_HTTP_TOKEN_SIZE_MAX + 1]; /* wipe with sodium_memzero when done */
} node_api_target;

/* The token from its file (node_http_token_load's rules) into target.
 * Prints its own error; false on failure. */
bool node_api_read_token(const char *command, const char *path, node_api_target *target);
/* [http] listen and token_file of a node config. Prints its own error. */
bool node_api_target_from_config(const char *command, const char *path, node_api_target *target);
/* One exchange: method path (with body as JSON when not NULL), waiting at
 * most timeout_ms. On MESH_OK, *status_out and *body_out (NUL-terminated,
 * free()). Errors: MESH_ETRANSPORT (said on stderr), MESH_ENOMEM. */
MESH_MUST_USE mesh_err node_api_exchange(const char *command,
                                         const node_api_target *target,
                                         const char *method,
                                         const char *path,
                                         const char *body,
                                         uint32_t timeout_ms,
                                         uint16_t *status_out,
                                         char **body_out);
/* An error answer: prints its message; returns the exit code (400: usage,
 * 404: input, anything else: internal). */
int node_api_say_error(const char *command, uint16_t status, const char *text);

#endif /* NODE_API_CLIENT_INT_H */
