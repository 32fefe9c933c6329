/*
 * node/agent_lease.c: the agent's lease side (agent_lease_int.h has the
 * contract): the lease routes of the API, the lease events, the hooks.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/crypto.h"
#include "gossip/gossip.h"
#include "node/agent_lease_int.h"
#include "node/agent_reconcile_int.h"
#include "node/log_int.h"
#include "node/node_int.h"
#include "node/record_int.h"

#define LEASES_LIST_MAX 10000u

typedef struct pending_borrow {
    bool used;
    uint32_t borrow_id;
    node_http_request *request;
    uint32_t lease_count;
    lease_info leases[NODE_LEASES_PER_BORROW_MAX];
} pending_borrow;

struct node_leases {
    pending_borrow pending[NODE_HTTP_QUEUE_MAX];
    node_leases_stats stats;
    node_reconciles *reconciles; /* POST /v1/ledger/reconcile (agent_reconcile.c) */
};

mesh_err node_leases_create(node_leases **leases_out)
{
    node_leases *leases = calloc(1, sizeof(*leases));
    if (leases == NULL) {
        return MESH_ENOMEM;
    }
    if (node_reconciles_create(&leases->reconciles) != MESH_OK) {
        free(leases);
        return MESH_ENOMEM;
    }
    *leases_out = leases;
    return MESH_OK;
}

void node_leases_destroy(node_leases *leases)
{
    if (leases != NULL) {
        node_reconciles_destroy(leases->reconciles);
    }
    free(leases);
}

static node_reconciles_context reconciles_context(const node_leases_context *context)
{
    node_reconciles_context out = {.member = context->member,
                                   .ledger_handle = context->ledger_handle,
                                   .http = context->http,
                                   .rng = context->rng};
    return out;
}

void node_leases_on_reconcile(node_leases *leases,
                              const node_leases_context *context,
                              const member_reconcile_result *result)
{
    node_reconciles_context rc = reconciles_context(context);
    node_reconciles_on_result(leases->reconciles, &rc, result);
}

void node_leases_stats_get(const node_leases *leases, node_leases_stats *stats_out)
{
    *stats_out = leases->stats;
}

void node_leases_forget_requests(node_leases *leases)
{
    for (uint32_t i = 0; i < NODE_HTTP_QUEUE_MAX; i++) {
        leases->pending[i].used = false;
        leases->pending[i].request = NULL;
    }
    node_reconciles_forget_requests(leases->reconciles);
}

/* ---------------------------------------------------------------- */
/* JSON.                                                             */
/* ---------------------------------------------------------------- */

static void hex_id(const uint8_t id[LEDGER_LEASE_ID_SIZE], char text[LEDGER_LEASE_ID_SIZE * 2 + 1])
{
    sodium_bin2hex(text, LEDGER_LEASE_ID_SIZE * 2 + 1, id, LEDGER_LEASE_ID_SIZE);
}

static const char *member_name(const node_leases_context *context, const mesh_node_id *id)
{
    static gossip_member_info info;
    if (gossip_member_find(member_gossip(context->member), id, &info) == MESH_OK) {
        return info.name;
    }
    return "";
}

static json_t *amounts_json(uint32_t count, const ledger_amount *amounts)
{
    json_t *list = json_array();
    for (uint32_t i = 0; i < count && list != NULL; i++) {
        const ledger_amount *a = &amounts[i];
        // Reserved amounts are milli-units; the API speaks whole units.
        (void) json_array_append_new(
            list,
            json_pack("{s:s, s:s, s:I}", "class", node_http_class_name(a->resource_class), "model",
                      a->model, "amount", (json_int_t) ((a->amount_milli + 999u) / 1000u)));
    }
    return list;
}

static json_t *time_json(int64_t realtime_ns)
{
    if (realtime_ns == 0) {
        return json_null();
    }
    char text[NODE_TIME_TEXT_SIZE];
    node_format_time(realtime_ns, text);
    return json_string(text);
}

json_t *node_leases_info_json(const node_leases_context *context, const lease_info *info)
{
    char id[LEDGER_LEASE_ID_SIZE * 2 + 1];
    hex_id(info->lease_id, id);
    char peer[MCRYPTO_NODE_ID_TEXT_SIZE];
    mcrypto_node_id_format(&info->peer, peer);
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:I, s:I, s:o, s:s, s:I}", "id", id, "role",
        info->self_is_lender ? "lender" : "borrower", "peer", peer, "peer_name",
        member_name(context, &info->peer), "phase", lease_phase_name(info->phase), "resources",
        amounts_json(info->amount_count, info->amounts), "start", time_json(info->start_ns), "end",
        time_json(info->end_ns), "start_ns", (json_int_t) info->start_ns, "end_ns",
        (json_int_t) info->end_ns, "reclaim_at", time_json(info->reclaim_at_ns), "data_class",
        info->data_class, "records", (json_int_t) info->record_count);
}

static void info_from_event(const lease_event *event, lease_info *info)
{
    memset(info, 0, sizeof(*info));
    memcpy(info->lease_id, event->lease_id, LEDGER_LEASE_ID_SIZE);
    info->self_is_lender = event->self_is_lender;
    info->peer = event->peer;
    info->phase = event->kind == LEASE_EVENT_ENDED ? 0 : LEASE_PHASE_ACTIVE;
    info->borrow_id = event->borrow_id;
    info->amount_count = event->amount_count;
    memcpy(info->amounts, event->amounts, sizeof(info->amounts));
    info->start_ns = event->start_ns;
    info->end_ns = event->end_ns;
    memcpy(info->data_class, event->data_class, sizeof(info->data_class));
    if (event->kind == LEASE_EVENT_RECLAIM_NOTICE) {
        info->reclaim_at_ns = event->end_ns;
    }
}

static void respond(const node_leases_context *context, node_http_request *request, json_t *body)
{
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(body);
    if (text == NULL) {
        node_http_respond_error(context->http, request, 500, "internal", "out of memory");
        return;
    }
    node_http_respond(context->http, request, 200, "application/json", text, strlen(text));
    free(text);
}

/* ---------------------------------------------------------------- */
/* POST /v1/leases                                                   */
/* ---------------------------------------------------------------- */

static bool code_in(const char *code, uint32_t count, const char (*list)[3])
{
    for (uint32_t i = 0; i < count; i++) {
        if (strcmp(list[i], code) == 0) {
            return true;
        }
    }
    return false;
}

static uint64_t min_set(uint64_t a, uint64_t b)
{
    if (a == 0) {
        return b;
    }
    if (b == 0) {
        return a;
    }
    return a < b ? a : b;
}

// The class's constraints narrowed by the request's (which are within them).
static void narrow(const wire_lease_constraints *base,
                   const wire_lease_constraints *request,
                   wire_lease_constraints *out)
{
    *out = *base;
    if (request->country_count > 0) {
        out->country_count = request->country_count;
        memcpy(out->countries, request->countries, sizeof(out->countries));
    }
    // Required jurisdictions: both lists (sorted union, bounded by the wire's 8).
    for (uint32_t i = 0; i < request->jurisdiction_count; i++) {
        if (code_in(request->jurisdictions[i], out->jurisdiction_count,
                    (const char(*)[3]) out->jurisdictions) ||
            out->jurisdiction_count == WIRE_JURISDICTIONS_MAX) {
            continue;
        }
        uint32_t at = out->jurisdiction_count;
        while (at > 0 && strcmp(out->jurisdictions[at - 1], request->jurisdictions[i]) > 0) {
            memcpy(out->jurisdictions[at], out->jurisdictions[at - 1], 3);
            at--;
        }
        memcpy(out->jurisdictions[at], request->jurisdictions[i], 3);
        out->jurisdiction_count++;
    }
    out->certifications |= request->certifications;
    out->rtt_us_max = (uint32_t) min_set(out->rtt_us_max, request->rtt_us_max);
    out->cost_microeur_per_hour_max =
        min_set(out->cost_microeur_per_hour_max, request->cost_microeur_per_hour_max);
    out->carbon_gco2_per_kwh_max =
        (uint32_t) min_set(out->carbon_gco2_per_kwh_max, request->carbon_gco2_per_kwh_max);
}

// A member by name, or by node id text. False when no member matches.
static bool resolve_member(const node_leases_context *context, const char *text, mesh_node_id *id)
{
    const gossip *g = member_gossip(context->member);
    gossip_member_info info;
    if (mcrypto_node_id_parse(text, id) == MESH_OK && gossip_member_find(g, id, &info) == MESH_OK) {
        return true;
    }
    uint32_t count = gossip_member_count(g);
    for (uint32_t i = 0; i < count; i++) {
        if (gossip_member_at(g, i, &info) == MESH_OK && !info.self &&
            strcmp(info.name, text) == 0) {
            *id = info.id;
            return true;
        }
    }
    return false;
}

// Fills a lease request from the API's; false with a 400 message.
static bool build_request(const node_leases_context *context,
                          const node_borrow_request *borrow,
                          lease_borrow_request *request,
                          char message[NODE_HTTP_MESSAGE_SIZE])
{
    const node_config *config = context->config;
    memset(request, 0, sizeof(*request));
    request->resource_count = borrow->resource_count;
    memcpy(request->resources, borrow->resources, sizeof(request->resources));
    request->start_ns = borrow->start_ns;
    request->duration_ns = borrow->duration_ns;
    request->no_split = borrow->no_split;
    request->timeout_ns = borrow->timeout_ns;
    const char *class_name = borrow->constraints.data_class[0] != '\0'
                                 ? borrow->constraints.data_class
                                 : config->default_data_class;
    wire_lease_constraints base;
    memset(&base, 0, sizeof(base));
    if (class_name[0] != '\0') {
        const node_data_class *data_class = node_config_data_class(config, class_name);
        if (data_class == NULL) {
            (void) snprintf(message, NODE_HTTP_MESSAGE_SIZE,
                            "data_class: no data class named '%s' on this node ([data_class "
                            "NAME] in its config)",
                            class_name);
            return false;
        }
        base = data_class->constraints;
    }
    // What the request leaves unset, the class sets; what it sets must
    // stay within the class (countries are the one field a request could
    // widen: it may only pick among the class's).
    narrow(&base, &borrow->constraints, &request->constraints);
    memcpy(request->constraints.data_class, base.data_class, sizeof(base.data_class));
    if (!node_config_constraints_within(&base, &request->constraints)) {
        (void) snprintf(message, NODE_HTTP_MESSAGE_SIZE,
                        "countries: wider than data class '%s' allows; a request may only "
                        "narrow its constraints",
                        class_name);
        return false;
    }
    if (borrow->lender[0] != '\0') {
        if (!resolve_member(context, borrow->lender, &request->prefer[0])) {
            (void) snprintf(message, NODE_HTTP_MESSAGE_SIZE, "lender: no member '%s' in the view",
                            borrow->lender);
            return false;
        }
        request->prefer_count = 1;
        request->pin = true;
    }
    for (uint32_t i = 0; i < borrow->prefer_count && i < LEASE_PREFER_MAX; i++) {
        if (!resolve_member(context, borrow->prefer[i], &request->prefer[i])) {
            (void) snprintf(message, NODE_HTTP_MESSAGE_SIZE,
                            "prefer[%u]: no member '%s' in the view", i, borrow->prefer[i]);
            return false;
        }
        request->prefer_count = i + 1;
    }
    return true;
}

static pending_borrow *pending_free_slot(node_leases *leases)
{
    for (uint32_t i = 0; i < NODE_HTTP_QUEUE_MAX; i++) {
        if (!leases->pending[i].used) {
            return &leases->pending[i];
        }
    }
    return NULL;
}

static pending_borrow *pending_find(node_leases *leases, uint32_t borrow_id)
{
    for (uint32_t i = 0; i < NODE_HTTP_QUEUE_MAX; i++) {
        if (leases->pending[i].used && leases->pending[i].borrow_id == borrow_id) {
            return &leases->pending[i];
        }
    }
    return NULL;
}

static void
serve_borrow(node_leases *leases, const node_leases_context *context, node_http_request *request)
{
    if (context->ledger_handle == NULL) {
        leases->stats.borrows_refused++;
        node_http_respond_error(context->http, request, 503, "ledger_unavailable",
                                "leases need a ledger: set [ledger] path");
        return;
    }
    lease_borrow_request borrow;
    char message[NODE_HTTP_MESSAGE_SIZE];
    if (!build_request(context, node_http_request_borrow(request), &borrow, message)) {
        leases->stats.borrows_refused++;
        node_http_respond_error(context->http, request, 400, "invalid_request", message);
        return;
    }
    pending_borrow *pending = pending_free_slot(leases);
    if (pending == NULL || node_http_defer(context->http, request) != MESH_OK) {
        leases->stats.borrows_refused++;
        node_http_respond_error(context->http, request, 503, "busy",
                                "too many borrows in flight; retry shortly");
        return;
    }
    // Deferred: from here on the request is answered by BORROW_DONE.
    memset(pending, 0, sizeof(*pending));
    pending->used = true;
    pending->request = request;
    uint32_t borrow_id = 0;
    mesh_now now = node_now();
    node_record_borrow(now, &borrow);
    mesh_err err = member_borrow(context->member, now, &borrow, context->rng, &borrow_id);
    if (err != MESH_OK) {
        pending->used = false;
        leases->stats.borrows_refused++;
        node_http_respond_error(context->http, request, err == MESH_EINVAL ? 400 : 503,
                                err == MESH_EINVAL ? "invalid_request" : "busy",
                                err == MESH_EINVAL ? "the request breaks the wire's limits"
                                                   : "too many borrows in flight; retry shortly");
        return;
    }
    // The borrow may have ended inside member_borrow (no lender at all):
    // its event found no pending entry yet, so it is answered below.
    pending->borrow_id = borrow_id;
    leases->stats.borrows_api++;
}

static const char *status_name(uint32_t status)
{
    switch (status) {
    case LEASE_BORROW_GRANTED:
        return "granted";
    case LEASE_BORROW_PARTIAL:
        return "partial";
    default:
        return "refused";
    }
}

static void
answer_borrow(const node_leases_context *context, pending_borrow *pending, const lease_event *done)
{
    json_t *list = json_array();
    for (uint32_t i = 0; i < pending->lease_count && list != NULL; i++) {
        (void) json_array_append_new(list, node_leases_info_json(context, &pending->leases[i]));
    }
    json_t *refusals = json_object();
    for (uint32_t r = 0; r <= WIRE_LEASE_REFUSAL_MAX && refusals != NULL; r++) {
        if (done->refusal_counts[r] > 0) {
            (void) json_object_set_new(refusals, r == 0 ? "no_answer" : wire_lease_refusal_name(r),
                                       json_integer(done->refusal_counts[r]));
        }
    }
    const char *reason = "";
    if (done->status != LEASE_BORROW_GRANTED) {
        reason = done->candidate_count == 0 && done->refusal == 0
                     ? "no member passes the constraints"
                 : done->refusal == 0 ? "no lender answered in time"
                                      : wire_lease_refusal_name(done->refusal);
    }
    json_t *body = json_pack(
        "{s:s, s:I, s:I, s:o, s:o, s:o, s:s, s:I}", "status", status_name(done->status),
        "borrow_id", (json_int_t) done->borrow_id, "lease_count", (json_int_t) done->lease_count,
        "leases", list, "granted", amounts_json(done->amount_count, done->amounts), "refusals",
        refusals, "reason", reason, "candidates", (json_int_t) done->candidate_count);
    respond(context, pending->request, body);
    pending->used = false;
    pending->request = NULL;
}

/* ---------------------------------------------------------------- */
/* Events and hooks.                                                 */
/* ---------------------------------------------------------------- */

static void
run_hook(const node_leases_context *context, node_hook_kind kind, const lease_event *event)
{
    if (context->hooks == NULL) {
        return;
    }
    lease_info info;
    info_from_event(event, &info);
    json_t *lease = node_leases_info_json(context, &info);
    json_t *body = json_pack("{s:s, s:s, s:o}", "event", node_hook_kind_name(kind), "role",
                             event->self_is_lender ? "lender" : "borrower", "lease", lease);
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(body);
    if (text != NULL) {
        (void) node_hooks_submit(context->hooks, kind, event->lease_id, event->self_is_lender,
                                 text);
        free(text);
    }
}

static void log_lease(const node_leases_context *context, const char *what, const lease_event *e)
{
    char id[LEDGER_LEASE_ID_SIZE * 2 + 1];
    hex_id(e->lease_id, id);
    char peer[MCRYPTO_NODE_ID_TEXT_SIZE];
    mcrypto_node_id_format(&e->peer, peer);
    uint64_t units = e->amount_count > 0 ? (e->amounts[0].amount_milli + 999u) / 1000u : 0;
    node_log(NODE_LOG_INFO, "lease", what,
             "lease=%s role=%s peer=%s peer_name=%s class=%s amount=%llu data_class=%s", id,
             e->self_is_lender ? "lender" : "borrower", peer, member_name(context, &e->peer),
             e->amount_count > 0 ? node_http_class_name(e->amounts[0].resource_class) : "",
             (unsigned long long) units, e->data_class[0] != '\0' ? e->data_class : "-");
}

void node_leases_on_event(node_leases *leases,
                          const node_leases_context *context,
                          mesh_now now,
                          const lease_event *event)
{
    (void) now;
    switch (event->kind) {
    case LEASE_EVENT_GRANTED: {
        log_lease(context, "granted", event);
        run_hook(context, NODE_HOOK_GRANTED, event);
        pending_borrow *pending =
            event->self_is_lender ? NULL : pending_find(leases, event->borrow_id);
        if (pending != NULL && pending->lease_count < NODE_LEASES_PER_BORROW_MAX) {
            info_from_event(event, &pending->leases[pending->lease_count++]);
        }
        break;
    }
    case LEASE_EVENT_RECLAIM_NOTICE:
        log_lease(context, "reclaim_notice", event);
        run_hook(context, NODE_HOOK_RECLAIM_NOTICE, event);
        break;
    case LEASE_EVENT_ENDED:
        log_lease(context, "ended", event);
        run_hook(context, NODE_HOOK_ENDED, event);
        break;
    case LEASE_EVENT_REFUSED:
        node_log(NODE_LOG_DEBUG, "lease", "refused", "borrow=%u reason=%s", event->borrow_id,
                 wire_lease_refusal_name(event->refusal));
        break;
    case LEASE_EVENT_BORROW_DONE: {
        node_log(NODE_LOG_INFO, "lease", "borrow_done",
                 "borrow=%u status=%s leases=%u candidates=%u reason=%s", event->borrow_id,
                 status_name(event->status), event->lease_count, event->candidate_count,
                 event->refusal == 0 ? "-" : wire_lease_refusal_name(event->refusal));
        pending_borrow *pending = pending_find(leases, event->borrow_id);
        if (pending == NULL) {
            // Ended inside member_borrow, before its id was known: the
            // one pending entry without an id is it.
            pending = pending_find(leases, 0);
        }
        if (pending != NULL && context->http != NULL) {
            answer_borrow(context, pending, event);
        }
        break;
    }
    default:
        break;
    }
}

void node_leases_poll(node_leases *leases, const node_leases_context *context)
{
    node_hook_result results[16];
    uint32_t count = node_hooks_collect(context->hooks, results, MESH_ARRAY_COUNT(results));
    for (uint32_t i = 0; i < count; i++) {
        const node_hook_result *result = &results[i];
        if (result->ok || !result->self_is_lender || result->kind != NODE_HOOK_GRANTED) {
            continue;
        }
        // The capacity could not be set aside: end the lease now, cleanly.
        mesh_now now = node_now();
        node_record_reclaim(now, result->lease_id, 0);
        mesh_err err = member_reclaim(context->member, now, result->lease_id, 0, context->rng);
        if (err == MESH_OK) {
            leases->stats.hook_reclaims++;
        }
        char id[LEDGER_LEASE_ID_SIZE * 2 + 1];
        hex_id(result->lease_id, id);
        node_log(NODE_LOG_WARN, "lease", "hook_reclaim", "lease=%s result=%s", id,
                 mesh_err_name(err));
    }
}

/* ---------------------------------------------------------------- */
/* DELETE and GET /v1/leases/{id}; GET /v1/leases.                   */
/* ---------------------------------------------------------------- */

static void
serve_release(node_leases *leases, const node_leases_context *context, node_http_request *request)
{
    const uint8_t *id = node_http_request_lease_id(request);
    char text[LEDGER_LEASE_ID_SIZE * 2 + 1];
    hex_id(id, text);
    mesh_now now = node_now();
    node_record_release(now, id);
    mesh_err err = member_release(context->member, now, id, context->rng);
    if (err != MESH_OK) {
        node_http_respond_error(context->http, request, 404, "not_found",
                                "no open lease borrowed under this id");
        return;
    }
    leases->stats.releases_api++;
    respond(context, request, json_pack("{s:s, s:b}", "id", text, "released", 1));
}

static void serve_get(const node_leases_context *context, node_http_request *request)
{
    const uint8_t *id = node_http_request_lease_id(request);
    lease_info info;
    if (member_lease(context->member) != NULL &&
        lease_find(member_lease(context->member), id, &info) == MESH_OK) {
        respond(context, request, node_leases_info_json(context, &info));
        return;
    }
    ledger_lease held;
    if (context->ledger_handle != NULL &&
        ledger_lease_get(context->ledger_handle, id, &held) == MESH_OK) {
        char text[LEDGER_LEASE_ID_SIZE * 2 + 1];
        hex_id(id, text);
        mesh_node_id peer_id;
        mcrypto_node_id(held.peer_key, &peer_id);
        char peer[MCRYPTO_NODE_ID_TEXT_SIZE];
        mcrypto_node_id_format(&peer_id, peer);
        respond(context, request,
                json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:o}", "id", text, "role",
                          held.self_is_lender ? "lender" : "borrower", "peer", peer, "peer_name",
                          member_name(context, &peer_id), "state",
                          ledger_lease_state_name(held.state), "records",
                          (json_int_t) held.record_count, "opened_at", time_json(held.opened_ns)));
        return;
    }
    node_http_respond_error(context->http, request, 404, "not_found", "no lease with this id");
}

void node_leases_serve(node_leases *leases,
                       const node_leases_context *context,
                       node_http_request *request)
{
    switch (node_http_request_route(request)) {
    case NODE_HTTP_ROUTE_LEASE_CREATE:
        serve_borrow(leases, context, request);
        return;
    case NODE_HTTP_ROUTE_LEASE_DELETE:
        serve_release(leases, context, request);
        return;
    case NODE_HTTP_ROUTE_LEASE_GET:
        serve_get(context, request);
        return;
    case NODE_HTTP_ROUTE_LEDGER_RECONCILE: {
        node_reconciles_context rc = reconciles_context(context);
        node_reconciles_serve(leases->reconciles, &rc, request);
        return;
    }
    default:
        node_http_respond_error(context->http, request, 500, "internal", "unexpected route");
        return;
    }
}

typedef struct list_walk {
    const node_leases_context *context;
    json_t *list;
    uint32_t count;
    bool truncated;
} list_walk;

static bool list_visit(void *arg, const ledger_lease *held)
{
    list_walk *walk = arg;
    if (walk->count == LEASES_LIST_MAX) {
        walk->truncated = true;
        return false;
    }
    char id[LEDGER_LEASE_ID_SIZE * 2 + 1];
    hex_id(held->lease_id, id);
    mesh_node_id peer_id;
    mcrypto_node_id(held->peer_key, &peer_id);
    char peer[MCRYPTO_NODE_ID_TEXT_SIZE];
    mcrypto_node_id_format(&peer_id, peer);
    lease_info info;
    const lease_machine *machine = member_lease(walk->context->member);
    bool live = machine != NULL && lease_find(machine, held->lease_id, &info) == MESH_OK;
    json_t *entry = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:I, s:I}", "id", id, "peer", peer, "peer_name",
        member_name(walk->context, &peer_id), "role", held->self_is_lender ? "lender" : "borrower",
        "state", ledger_lease_state_name(held->state), "records", (json_int_t) held->record_count,
        "opened_at", time_json(held->opened_ns), "first_seq", (json_int_t) held->first_seq,
        "last_seq", (json_int_t) held->last_seq);
    if (entry != NULL && live) {
        (void) json_object_set_new(entry, "phase", json_string(lease_phase_name(info.phase)));
        (void) json_object_set_new(entry, "resources",
                                   amounts_json(info.amount_count, info.amounts));
        (void) json_object_set_new(entry, "end", time_json(info.end_ns));
        (void) json_object_set_new(entry, "reclaim_at", time_json(info.reclaim_at_ns));
    }
    (void) json_array_append_new(walk->list, entry);
    walk->count++;
    return true;
}

typedef struct in_flight_walk {
    const node_leases_context *context;
    json_t *list;
} in_flight_walk;

static bool in_flight_visit(void *arg, const lease_info *info)
{
    in_flight_walk *walk = arg;
    if (info->record_count == 0 && json_array_size(walk->list) < LEASES_LIST_MAX) {
        (void) json_array_append_new(walk->list, node_leases_info_json(walk->context, info));
    }
    return true;
}

json_t *node_leases_list_json(const node_leases_context *context, mesh_err *err_out)
{
    list_walk walk = {.context = context, .list = json_array(), .count = 0, .truncated = false};
    if (walk.list == NULL) {
        *err_out = MESH_ENOMEM;
        return NULL;
    }
    for (uint32_t state = 1; state <= LEDGER_LEASE_STATE_MAX && !walk.truncated; state++) {
        mesh_err err = ledger_lease_list(context->ledger_handle, state, list_visit, &walk);
        if (err != MESH_OK) {
            json_decref(walk.list);
            *err_out = err;
            return NULL;
        }
    }
    // In flight, not in the ledger yet: requests and offers.
    in_flight_walk in_flight = {.context = context, .list = json_array()};
    const lease_machine *machine = member_lease(context->member);
    if (machine != NULL && in_flight.list != NULL) {
        lease_visit(machine, in_flight_visit, &in_flight);
    }
    char self[MCRYPTO_NODE_ID_TEXT_SIZE];
    gossip_member_info info;
    self[0] = '\0';
    const gossip *g = member_gossip(context->member);
    for (uint32_t i = 0; i < gossip_member_count(g); i++) {
        if (gossip_member_at(g, i, &info) == MESH_OK && info.self) {
            mcrypto_node_id_format(&info.id, self);
            break;
        }
    }
    *err_out = MESH_OK;
    return json_pack("{s:s, s:I, s:b, s:o, s:o}", "self", self, "count", (json_int_t) walk.count,
                     "truncated", walk.truncated, "leases", walk.list, "in_flight",
                     in_flight.list != NULL ? in_flight.list : json_array());
}
