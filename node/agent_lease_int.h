/*
 * node/agent_lease_int.h: the agent's lease side, on the loop thread: the
 * lease routes of the HTTP API (a borrow answered when it ends, release,
 * one lease), the lease events (logs, hooks, the borrow answers), and the
 * outcomes of hooks (a lender whose "granted" hook failed ends the lease).
 *
 * A borrow is answered when its BORROW_DONE event arrives, so the HTTP
 * request is deferred until then (node_http_defer); at most
 * NODE_HTTP_QUEUE_MAX borrows wait at once (more get 503 busy). Granted
 * leases are collected per borrow as their GRANTED events pass, at most
 * NODE_LEASES_PER_BORROW_MAX listed per answer (the count is exact).
 *
 * Constraints a request gives may only narrow what its data class (or
 * [lease] default_data_class) allows: a wider request is a 400 that says
 * which field. The effective constraints are the class's, narrowed by the
 * request's, and the data class name is recorded in the lease.
 */
#ifndef NODE_AGENT_LEASE_INT_H
#define NODE_AGENT_LEASE_INT_H

#include <jansson.h>

#include "lease/lease.h"
#include "member/member.h"
#include "node/config_int.h"
#include "node/hooks_int.h"
#include "node/http_int.h"

#define NODE_LEASES_PER_BORROW_MAX 32u

typedef struct node_leases node_leases;

/* What the lease side works with; borrowed for each call. */
typedef struct node_leases_context {
    const node_config *config;
    member_node *member;
    ledger *ledger_handle; /* NULL: no ledger, no leases */
    node_http *http;       /* NULL: no API */
    node_hooks_runner *hooks;
    mesh_rng *rng;
} node_leases_context;

typedef struct node_leases_stats {
    uint64_t borrows_api;     /* POST /v1/leases accepted into the machine */
    uint64_t borrows_refused; /* answered 400/409/503 before the machine */
    uint64_t releases_api;
    uint64_t hook_reclaims; /* leases ended because a lender's granted hook failed */
} node_leases_stats;

MESH_MUST_USE mesh_err node_leases_create(node_leases **leases_out);
void node_leases_destroy(node_leases *leases); /* NULL is a no-op */

/* A request of route LEASE_CREATE, LEASE_DELETE, LEASE_GET or
 * LEDGER_RECONCILE, from node_http_next: answered now, or deferred (a
 * borrow, a reconcile: agent_reconcile_int.h). */
void node_leases_serve(node_leases *leases,
                       const node_leases_context *context,
                       node_http_request *request);
/* A lease event from the member's executor. */
void node_leases_on_event(node_leases *leases,
                          const node_leases_context *context,
                          mesh_now now,
                          const lease_event *event);
/* A reconcile result event from the member's executor (source
 * MEMBER_SOURCE_RECONCILE). */
void node_leases_on_reconcile(node_leases *leases,
                              const node_leases_context *context,
                              const member_reconcile_result *result);
/* Hook outcomes; call when the loop wakes. */
void node_leases_poll(node_leases *leases, const node_leases_context *context);
/* The HTTP server is going away: forget the deferred requests (it answers
 * them 503 itself). */
void node_leases_forget_requests(node_leases *leases);
void node_leases_stats_get(const node_leases *leases, node_leases_stats *stats_out);

/* GET /v1/leases: the ledger's leases (every state), with the machine's
 * phase for those it holds, and the machine's leases the ledger does not
 * hold yet (requests, offers). NULL and *err_out on failure. */
json_t *node_leases_list_json(const node_leases_context *context, mesh_err *err_out);

/* One lease as the API and the hooks show it. */
json_t *node_leases_info_json(const node_leases_context *context, const lease_info *info);

#endif /* NODE_AGENT_LEASE_INT_H */
