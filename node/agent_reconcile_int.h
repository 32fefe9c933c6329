/*
 * node/agent_reconcile_int.h: the agent's side of reconciling ledgers over
 * the network (POST /v1/ledger/reconcile, README "HTTP API"): the request
 * names a peer; the member asks it for its summary (member_reconcile_start)
 * and the HTTP request is deferred (node_http_defer) until the member's
 * result event, which is answered as JSON:
 *
 *     {"peer": "fm...", "peer_name": "c", "agree": true, "shared": 4,
 *      "only_here": 0, "only_there": 0, "differ": 0, "incomplete": false,
 *      "mismatches": [{"lease": "<hex>", "what": "...", "here_records": 5,
 *                      "there_records": 4}]}
 *
 * or 504 timeout when the peer's answer does not come in time, 404 when
 * the peer is not a member this node can ask, 503 busy when a reconcile
 * is already in flight (one at a time), 503 ledger_unavailable without a
 * ledger. Loop thread only.
 */
#ifndef NODE_AGENT_RECONCILE_INT_H
#define NODE_AGENT_RECONCILE_INT_H

#include "member/member.h"
#include "node/http_int.h"

typedef struct node_reconciles node_reconciles;

/* What it works with; borrowed for each call. */
typedef struct node_reconciles_context {
    member_node *member;
    ledger *ledger_handle; /* NULL: no ledger */
    node_http *http;
    mesh_rng *rng;
} node_reconciles_context;

MESH_MUST_USE mesh_err node_reconciles_create(node_reconciles **reconciles_out);
void node_reconciles_destroy(node_reconciles *reconciles); /* NULL is a no-op */
/* A NODE_HTTP_ROUTE_LEDGER_RECONCILE request: answered now (an error) or
 * deferred until the result. */
void node_reconciles_serve(node_reconciles *reconciles,
                           const node_reconciles_context *context,
                           node_http_request *request);
/* The member's result event: answers the deferred request it belongs to. */
void node_reconciles_on_result(node_reconciles *reconciles,
                               const node_reconciles_context *context,
                               const member_reconcile_result *result);
/* The HTTP server is going away (it answers deferred requests itself). */
void node_reconciles_forget_requests(node_reconciles *reconciles);

/* The words a mismatch is named with ("only here (5 records)", ...),
 * written into text. */
#define NODE_MISMATCH_TEXT_SIZE 96u
void node_reconcile_mismatch_text(const member_reconcile_mismatch *mismatch,
                                  char text[NODE_MISMATCH_TEXT_SIZE]);

#endif /* NODE_AGENT_RECONCILE_INT_H */
