/*
 * node/agent_reconcile.c: POST /v1/ledger/reconcile, on the loop thread
 * (agent_reconcile_int.h has the contract). One reconcile at a time, as
 * the member allows; the request waits, deferred, for the member's result
 * event, which always comes (the member's own timeout ends it).
 */
#define _POSIX_C_SOURCE 200809L

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/crypto.h"
#include "gossip/gossip.h"
#include "node/agent_reconcile_int.h"
#include "node/log_int.h"
#include "node/node_int.h"
#include "node/record_int.h"

struct node_reconciles {
    bool pending;
    uint64_t request_id;
    uint64_t timeout_ns;
    node_http_request *request;
};

mesh_err node_reconciles_create(node_reconciles **reconciles_out)
{
    node_reconciles *reconciles = calloc(1, sizeof(*reconciles));
    if (reconciles == NULL) {
        return MESH_ENOMEM;
    }
    *reconciles_out = reconciles;
    return MESH_OK;
}

void node_reconciles_destroy(node_reconciles *reconciles)
{
    free(reconciles);
}

void node_reconciles_forget_requests(node_reconciles *reconciles)
{
    reconciles->pending = false;
    reconciles->request = NULL;
}

void node_reconcile_mismatch_text(const member_reconcile_mismatch *mismatch,
                                  char text[NODE_MISMATCH_TEXT_SIZE])
{
    switch (mismatch->kind) {
    case MEMBER_MISMATCH_ONLY_HERE:
        (void) snprintf(text, NODE_MISMATCH_TEXT_SIZE, "only here (%u records)",
                        mismatch->here_count);
        return;
    case MEMBER_MISMATCH_ONLY_THERE:
        (void) snprintf(text, NODE_MISMATCH_TEXT_SIZE, "only there (%u records)",
                        mismatch->there_count);
        return;
    case MEMBER_MISMATCH_COUNT:
        (void) snprintf(text, NODE_MISMATCH_TEXT_SIZE, "%u records here, %u there",
                        mismatch->here_count, mismatch->there_count);
        return;
    default:
        (void) snprintf(text, NODE_MISMATCH_TEXT_SIZE,
                        "same %u records, different bytes or signatures", mismatch->here_count);
        return;
    }
}

// A member by node id text, or by name; false when none matches.
static bool resolve(const gossip *g, const char *text, mesh_node_id *id_out, const char **name_out)
{
    static gossip_member_info info;
    if (mcrypto_node_id_parse(text, id_out) == MESH_OK &&
        gossip_member_find(g, id_out, &info) == MESH_OK) {
        *name_out = info.name;
        return true;
    }
    uint32_t count = gossip_member_count(g);
    for (uint32_t i = 0; i < count; i++) {
        if (gossip_member_at(g, i, &info) == MESH_OK && strcmp(info.name, text) == 0) {
            *id_out = info.id;
            *name_out = info.name;
            return true;
        }
    }
    return false;
}

static void
respond_json(const node_reconciles_context *context, node_http_request *request, json_t *body)
{
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(body);
    if (text == NULL) {
        node_http_respond_error(context->http, request, 500, "internal", "out of memory");
        return;
    }
    node_http_respond(context->http, request, 200, "application/json", text, strlen(text));
    free(text);
}

void node_reconciles_serve(node_reconciles *reconciles,
                           const node_reconciles_context *context,
                           node_http_request *request)
{
    if (context->ledger_handle == NULL) {
        node_http_respond_error(context->http, request, 503, "ledger_unavailable",
                                "reconciling needs a ledger: set [ledger] path");
        return;
    }
    const node_reconcile_request *body = node_http_request_reconcile(request);
    mesh_node_id peer;
    const char *name = "";
    if (!resolve(member_gossip(context->member), body->peer, &peer, &name)) {
        char message[NODE_HTTP_MESSAGE_SIZE];
        (void) snprintf(message, sizeof(message),
                        "peer: no member '%.63s' in this node's view (fedmesh peers lists them)",
                        body->peer);
        node_http_respond_error(context->http, request, 404, "not_found", message);
        return;
    }
    if (reconciles->pending) {
        node_http_respond_error(context->http, request, 503, "busy",
                                "a reconcile is in flight; retry in a few seconds");
        return;
    }
    uint64_t request_id = 0;
    mesh_now now = node_now(); // one time, recorded and given (node/record_int.h)
    node_record_reconcile(now, &peer, body->timeout_ns);
    mesh_err err = member_reconcile_start(context->member, now, &peer, body->timeout_ns,
                                          context->rng, &request_id);
    if (err != MESH_OK) {
        char message[NODE_HTTP_MESSAGE_SIZE];
        (void) snprintf(message, sizeof(message),
                        err == MESH_ENOTFOUND
                            ? "peer: '%.63s' cannot be asked (self, revoked, expired, or no "
                              "advert yet)"
                            : "peer: '%.63s': a reconcile is in flight; retry shortly",
                        body->peer);
        node_http_respond_error(context->http, request, err == MESH_ENOTFOUND ? 404 : 503,
                                err == MESH_ENOTFOUND ? "not_found" : "busy", message);
        return;
    }
    if (node_http_defer(context->http, request) != MESH_OK) {
        // The member's result will find nobody waiting; it is only logged.
        node_http_respond_error(context->http, request, 503, "busy",
                                "too many requests waiting; retry shortly");
        return;
    }
    reconciles->pending = true;
    reconciles->request_id = request_id;
    reconciles->timeout_ns = body->timeout_ns;
    reconciles->request = request;
    char id[MCRYPTO_NODE_ID_TEXT_SIZE];
    mcrypto_node_id_format(&peer, id);
    node_log(NODE_LOG_INFO, "ledger", "reconcile_start", "peer=%s peer_name=%s request=%llu", id,
             name, (unsigned long long) request_id);
}

void node_reconciles_on_result(node_reconciles *reconciles,
                               const node_reconciles_context *context,
                               const member_reconcile_result *result)
{
    char peer[MCRYPTO_NODE_ID_TEXT_SIZE];
    mcrypto_node_id_format(&result->peer, peer);
    bool agree = result->status == MEMBER_RECONCILE_DONE && result->only_here_count == 0 &&
                 result->only_there_count == 0 && result->differ_count == 0 && !result->incomplete;
    node_log(agree ? NODE_LOG_INFO : NODE_LOG_WARN, "ledger", "reconcile_done",
             "peer=%s status=%s shared=%u only_here=%u only_there=%u differ=%u incomplete=%d", peer,
             result->status == MEMBER_RECONCILE_DONE      ? "done"
             : result->status == MEMBER_RECONCILE_TIMEOUT ? "timeout"
                                                          : "failed",
             result->shared_count, result->only_here_count, result->only_there_count,
             result->differ_count, result->incomplete ? 1 : 0);
    if (!reconciles->pending || reconciles->request_id != result->request_id ||
        context->http == NULL) {
        return;
    }
    node_http_request *request = reconciles->request;
    reconciles->pending = false;
    reconciles->request = NULL;
    if (result->status == MEMBER_RECONCILE_TIMEOUT) {
        char message[NODE_HTTP_MESSAGE_SIZE];
        (void) snprintf(message, sizeof(message),
                        "%s did not answer within %llu ms (is it running, and does it know this "
                        "node?)",
                        peer, (unsigned long long) (reconciles->timeout_ns / MESH_NS_PER_MS));
        node_http_respond_error(context->http, request, 504, "timeout", message);
        return;
    }
    if (result->status != MEMBER_RECONCILE_DONE) {
        node_http_respond_error(context->http, request, 500, "internal",
                                "this node's ledger could not be read; run fedmesh ledger verify");
        return;
    }
    json_t *mismatches = json_array();
    for (uint32_t i = 0; i < result->mismatch_count && mismatches != NULL; i++) {
        const member_reconcile_mismatch *mismatch = &result->mismatches[i];
        char lease[2 * LEDGER_LEASE_ID_SIZE + 1];
        sodium_bin2hex(lease, sizeof(lease), mismatch->lease_id, LEDGER_LEASE_ID_SIZE);
        char what[NODE_MISMATCH_TEXT_SIZE];
        node_reconcile_mismatch_text(mismatch, what);
        (void) json_array_append_new(
            mismatches, json_pack("{s:s, s:s, s:I, s:I}", "lease", lease, "what", what,
                                  "here_records", (json_int_t) mismatch->here_count,
                                  "there_records", (json_int_t) mismatch->there_count));
    }
    gossip_member_info info;
    const char *name =
        gossip_member_find(member_gossip(context->member), &result->peer, &info) == MESH_OK
            ? info.name
            : "";
    respond_json(context, request,
                 json_pack("{s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:b, s:o}", "peer", peer,
                           "peer_name", name, "agree", agree, "shared",
                           (json_int_t) result->shared_count, "only_here",
                           (json_int_t) result->only_here_count, "only_there",
                           (json_int_t) result->only_there_count, "differ",
                           (json_int_t) result->differ_count, "incomplete", result->incomplete,
                           "mismatches", mismatches));
}
