/*
 * node/http.c: the HTTP API's server half (see http_int.h for the design):
 * one catch-all handler over http_server.c's connections, bearer-token
 * checks, body reading under a cap, and the hand-off of requests to the
 * loop thread.
 *
 * Threads. http_handle and body_read_done run on NNG's threads (the
 * connections' callbacks). They route and check (http_parse.c, pure: a
 * load report, a borrow request and a lease id are validated there, and
 * refused with a 400 at once), and put every request that needs agent
 * state into a bounded queue under `mutex`, then wake the loop
 * (node_transport_wake). Only the loop pops the queue and calls
 * node_http_respond, which sends the response on the request's
 * connection. The token is read under the mutex too, because SIGHUP may
 * replace it.
 *
 * Deferred answers. A connection waits, reading nothing more, until its
 * request is answered. So the loop may keep a request and answer it
 * later, e.g. a borrow once its lenders replied; it says so with
 * node_http_defer, which files the request in `deferred` (loop thread
 * only, NODE_HTTP_QUEUE_MAX slots). `current` is the request
 * node_http_next returned last until it is answered or deferred: between
 * the two, the server knows every request the loop holds.
 *
 * Hostile clients. A wrong token and a full server are answered (401;
 * 503 busy with Retry-After) and counted every time, but logged at most
 * once a second per kind, with the client's address and the count
 * suppressed since the last line (log_limit_pass); so are the heads
 * http_server.c refuses itself (400, 408, 431, and connections over its
 * bound). A body that does not arrive within NODE_HTTP_BODY_TIMEOUT_MS is
 * answered 408 and its connection closed.
 *
 * Lifetimes. A node_http_request lives from the handler until its one
 * answer; `inflight` counts them (bounded; over the bound the answer is
 * 503 busy). node_http_destroy answers first and stops after: it sets
 * `closing` (nothing enters the queue any more), answers what is
 * deferred and what is queued with 503, stops the server (every
 * connection closes, so pending body reads end), and waits, bounded, for
 * inflight to reach zero.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>
#include <sodium.h>

#include "node/http_int.h"
#include "node/log_int.h"
#include "node/node_int.h"

#define DESTROY_WAIT_MS  2000u
#define DESTROY_GRACE_MS 100u
#define LOG_PATH_SIZE    72u

const uint16_t node_http_statuses[NODE_HTTP_STATUS_COUNT] = {200, 400, 401, 404, 405, 411, 413,
                                                             500, 501, 503, 204, 408, 431};

#define NOT_DEFERRED UINT32_MAX

/* Log lines a client can cause at will (a wrong token, a full server) are
 * written at most once per LOG_LIMIT_WINDOW_NS per reason; the next line
 * says how many were suppressed meanwhile. Counters count every one. */
#define LOG_LIMIT_WINDOW_NS 1000000000ull
typedef enum log_limited {
    LOG_LIMITED_UNAUTHORIZED = 0,
    LOG_LIMITED_BUSY = 1,
    LOG_LIMITED_HEAD = 2, /* 400, 408 and 431 for the request head itself */
    LOG_LIMITED_COUNT = 3,
} log_limited;

typedef struct log_limit {
    uint64_t window_start_ns; /* 0: no line written yet */
    uint64_t suppressed;      /* since the last line written */
} log_limit;

struct node_http_request {
    node_http *http;
    node_http_conn *conn; /* answered exactly once (http_server.c) */
    node_http_route route;
    uint8_t *body;
    size_t body_size;
    uint64_t started_ns;
    uint32_t deferred_index;  /* its slot in http->deferred, or NOT_DEFERRED */
    char path[LOG_PATH_SIZE]; /* for the log line, quoted */
    char client[NODE_HTTP_CLIENT_SIZE];
    union {
        node_load_report load;                /* NODE_HTTP_ROUTE_LOAD */
        node_borrow_request borrow;           /* NODE_HTTP_ROUTE_LEASE_CREATE */
        uint8_t lease_id[WIRE_LEASE_ID_SIZE]; /* NODE_HTTP_ROUTE_LEASE_GET, _DELETE */
        node_reconcile_request reconcile;     /* NODE_HTTP_ROUTE_LEDGER_RECONCILE */
        node_capacity_report capacity;        /* NODE_HTTP_ROUTE_CAPACITY_SET */
    } parsed;
};

struct node_http {
    node_http_server *server;
    node_transport *transport;
    bool loopback; /* /metrics needs no token */
    uint32_t body_max;
    nng_mtx *mutex;
    /* Under mutex. */
    bool closing;
    uint32_t inflight;
    node_http_request *queue[NODE_HTTP_QUEUE_MAX];
    uint32_t queue_head;
    uint32_t queue_count;
    uint8_t token[NODE_HTTP_TOKEN_SIZE_MAX];
    uint32_t token_size;
    node_http_stats stats;
    log_limit log_limits[LOG_LIMITED_COUNT];
    /* Loop thread only. */
    node_http_request *current; /* returned by node_http_next, not yet answered or deferred */
    node_http_request *deferred[NODE_HTTP_QUEUE_MAX];
    uint32_t deferred_count;
};

static void count_status(node_http *http, uint16_t status)
{
    uint32_t index = NODE_HTTP_STATUS_COUNT;
    for (uint32_t i = 0; i < NODE_HTTP_STATUS_COUNT; i++) {
        if (node_http_statuses[i] == status) {
            index = i;
        }
    }
    nng_mtx_lock(http->mutex);
    http->stats.responses[index]++;
    nng_mtx_unlock(http->mutex);
}

/* Any NNG thread: true when a line about `which` may be written now;
 * then *suppressed_out is how many were held back since the last one. */
static bool log_limit_pass(node_http *http, log_limited which, uint64_t *suppressed_out)
{
    MESH_ASSERT(which < LOG_LIMITED_COUNT);
    uint64_t now_ns = node_now().monotonic_ns;
    nng_mtx_lock(http->mutex);
    log_limit *limit = &http->log_limits[which];
    bool pass =
        limit->window_start_ns == 0 || now_ns - limit->window_start_ns >= LOG_LIMIT_WINDOW_NS;
    if (pass) {
        *suppressed_out = limit->suppressed;
        limit->window_start_ns = now_ns;
        limit->suppressed = 0;
    } else {
        limit->suppressed++;
    }
    nng_mtx_unlock(http->mutex);
    return pass;
}

/* Logs a 401 or a 503 busy, rate-limited (log_limit_pass), with the
 * client's address and what the request says of itself. */
static void log_refusal(node_http *http, log_limited which, const node_http_head *head)
{
    uint64_t suppressed = 0;
    if (!node_log_enabled(NODE_LOG_INFO) || !log_limit_pass(http, which, &suppressed)) {
        return;
    }
    char path[LOG_PATH_SIZE];
    char agent[LOG_PATH_SIZE];
    node_log_quote(head->target, path, sizeof(path));
    node_log_quote(head->user_agent != NULL ? head->user_agent : "", agent, sizeof(agent));
    node_log(which == LOG_LIMITED_BUSY ? NODE_LOG_WARN : NODE_LOG_INFO, "http",
             which == LOG_LIMITED_BUSY ? "busy" : "unauthorized",
             "client=%s method=%.16s path=%s user_agent=%s suppressed=%llu", head->client,
             head->method, path, agent, (unsigned long long) suppressed);
}

void node_http_server_refused(void *arg, const char *client, uint16_t status)
{
    node_http *http = arg;
    MESH_ASSERT(http != NULL && client != NULL);
    if (status == 503) {
        nng_mtx_lock(http->mutex);
        http->stats.queue_full++;
        nng_mtx_unlock(http->mutex);
    }
    count_status(http, status); // http_server.c sends these itself
    uint64_t suppressed = 0;
    log_limited which = status == 503 ? LOG_LIMITED_BUSY : LOG_LIMITED_HEAD;
    if (node_log_enabled(NODE_LOG_INFO) && log_limit_pass(http, which, &suppressed)) {
        node_log(status == 503 ? NODE_LOG_WARN : NODE_LOG_INFO, "http",
                 status == 503 ? "busy" : "bad_request",
                 "client=%s status=%u reason=%s suppressed=%llu", client, status,
                 status == 503   ? "connections"
                 : status == 431 ? "head_too_large"
                 : status == 408 ? "head_timeout"
                                 : "malformed_head",
                 (unsigned long long) suppressed);
    }
}

/* Sends a response on conn. `allow` (405) and `close` (an unread body is
 * still on the connection) add headers; so does a 503 busy (`retry`:
 * Retry-After, in seconds). */
static void finish(node_http *http,
                   node_http_conn *conn,
                   uint16_t status,
                   const char *content_type,
                   const char *body,
                   size_t body_size,
                   const char *allow,
                   bool close,
                   bool retry)
{
    char headers[256];
    int n = snprintf(headers, sizeof(headers),
                     "Content-Type: %s\r\nCache-Control: no-store\r\n%s%s%s%s%s", content_type,
                     allow != NULL ? "Allow: " : "", allow != NULL ? allow : "",
                     allow != NULL ? "\r\n" : "",
                     status == 401 ? "WWW-Authenticate: Bearer realm=\"fedmesh\"\r\n" : "",
                     retry ? "Retry-After: " NODE_HTTP_RETRY_AFTER_S "\r\n" : "");
    MESH_ASSERT(n > 0 && (size_t) n < sizeof(headers));
    count_status(http, status);
    node_http_conn_respond(conn, status, headers, body, body_size, close);
}

static void finish_error(node_http *http,
                         node_http_conn *conn,
                         uint16_t status,
                         const char *code,
                         const char *message,
                         const char *allow,
                         bool close)
{
    static const char fallback[] =
        "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
    char *body = node_http_error_body(code, message);
    if (body == NULL) {
        finish(http, conn, 500, "application/json", fallback, sizeof(fallback) - 1, NULL, true,
               false);
        return;
    }
    bool retry = status == 503 && strcmp(code, "busy") == 0;
    finish(http, conn, status, "application/json", body, strlen(body), allow, close, retry);
    free(body);
}

static void log_request(const node_http_request *request, uint16_t status)
{
    node_log_level level = status >= 500 ? NODE_LOG_WARN : NODE_LOG_DEBUG;
    if (!node_log_enabled(level)) {
        return;
    }
    uint64_t us = (node_now().monotonic_ns - request->started_ns) / 1000u;
    node_log(level, "http", "request", "path=%s status=%u duration_us=%llu", request->path, status,
             (unsigned long long) us);
}

static void request_release(node_http_request *request)
{
    node_http *http = request->http;
    free(request->body);
    free(request);
    nng_mtx_lock(http->mutex);
    MESH_ASSERT(http->inflight > 0);
    http->inflight--;
    nng_mtx_unlock(http->mutex);
}

static void respond_error_now(
    node_http_request *request, uint16_t status, const char *code, const char *message, bool close)
{
    log_request(request, status);
    finish_error(request->http, request->conn, status, code, message, NULL, close);
    request_release(request);
}

/* Hands the request to the loop, or answers 503 when the loop cannot
 * take it. */
static void enqueue(node_http_request *request)
{
    node_http *http = request->http;
    nng_mtx_lock(http->mutex);
    if (http->closing || http->queue_count == NODE_HTTP_QUEUE_MAX) {
        bool closing = http->closing;
        http->stats.queue_full += closing ? 0u : 1u;
        nng_mtx_unlock(http->mutex);
        if (!closing) {
            uint64_t suppressed = 0;
            if (log_limit_pass(http, LOG_LIMITED_BUSY, &suppressed)) {
                node_log(NODE_LOG_WARN, "http", "busy",
                         "client=%s path=%s queued=%u suppressed=%llu", request->client,
                         request->path, NODE_HTTP_QUEUE_MAX, (unsigned long long) suppressed);
            }
        }
        respond_error_now(request, 503, closing ? "shutting_down" : "busy",
                          closing ? "the agent is stopping"
                                  : "too many requests are waiting; retry shortly",
                          false);
        return;
    }
    uint32_t tail = (http->queue_head + http->queue_count) % NODE_HTTP_QUEUE_MAX;
    http->queue[tail] = request;
    http->queue_count++;
    nng_mtx_unlock(http->mutex);
    node_transport_wake(http->transport);
}

/* NNG thread: the body of a POST arrived, did not arrive in time, or the
 * client went away (http_server.c). */
static void body_read_done(void *arg, mesh_err result)
{
    node_http_request *request = arg;
    if (result == MESH_ETIMEDOUT) {
        // The connection still works: say why it closes.
        nng_mtx_lock(request->http->mutex);
        request->http->stats.body_timeouts++;
        nng_mtx_unlock(request->http->mutex);
        node_log(NODE_LOG_INFO, "http", "body_timeout",
                 "client=%s path=%s declared=%zu timeout_ms=%u", request->client, request->path,
                 request->body_size, (unsigned) NODE_HTTP_BODY_TIMEOUT_MS);
        respond_error_now(request, 408, "request_timeout",
                          "the body did not arrive in time; send it right after the headers", true);
        return;
    }
    if (result != MESH_OK) {
        node_log(NODE_LOG_DEBUG, "http", "body_read_failed", "client=%s path=%s", request->client,
                 request->path);
        node_http_conn_abort(request->conn); // nobody to answer
        request_release(request);
        return;
    }
    nng_mtx_lock(request->http->mutex);
    request->http->stats.body_bytes += request->body_size;
    nng_mtx_unlock(request->http->mutex);
    char error[NODE_HTTP_MESSAGE_SIZE] = "a body on an unexpected route";
    mesh_err err = MESH_EINTERNAL;
    if (request->route == NODE_HTTP_ROUTE_LOAD) {
        err = node_http_parse_load((const char *) request->body, request->body_size,
                                   &request->parsed.load, error);
    } else if (request->route == NODE_HTTP_ROUTE_LEDGER_RECONCILE) {
        err = node_http_parse_reconcile((const char *) request->body, request->body_size,
                                        &request->parsed.reconcile, error);
    } else if (request->route == NODE_HTTP_ROUTE_CAPACITY_SET) {
        err = node_http_parse_capacity((const char *) request->body, request->body_size,
                                       &request->parsed.capacity, error);
    } else if (request->route == NODE_HTTP_ROUTE_REVOCATION_PUBLISH) {
        // Decoded and checked against the root by the loop (agent_revoke.c).
        err = request->body_size > 0 ? MESH_OK : MESH_EINVAL;
        (void) snprintf(error, sizeof(error),
                        "the body is empty; send the armored revocation file "
                        "(fedmesh federation revoke --out)");
    } else if (MESH_ALWAYS(request->route == NODE_HTTP_ROUTE_LEASE_CREATE)) {
        err = node_http_parse_borrow((const char *) request->body, request->body_size,
                                     &request->parsed.borrow, error);
    }
    if (err != MESH_OK) {
        bool ours = err == MESH_ENOMEM || err == MESH_EINTERNAL;
        respond_error_now(request, ours ? 500 : 400,
                          err == MESH_EPROTO ? "bad_json"
                          : ours             ? "internal"
                                             : "invalid_request",
                          error, false);
        return;
    }
    enqueue(request);
}

static bool parse_length(const char *text, uint64_t *out)
{
    uint64_t value = 0;
    if (*text == '\0') {
        return false;
    }
    for (const char *c = text; *c != '\0'; c++) {
        if (*c < '0' || *c > '9' || value > UINT64_MAX / 10 - 1) {
            return false;
        }
        value = value * 10 + (uint64_t) (*c - '0');
    }
    *out = value;
    return true;
}

/* NNG thread: checks the declared size, then reads the body into a buffer
 * of exactly that size. */
static void read_body(node_http_request *request, const node_http_head *head)
{
    node_http *http = request->http;
    const char *length_text = head->content_length;
    if (head->transfer_encoding != NULL) {
        respond_error_now(request, 411, "length_required",
                          "send the body with a Content-Length (chunked bodies are not accepted)",
                          true);
        return;
    }
    uint64_t length = 0;
    if (length_text != NULL && !parse_length(length_text, &length)) {
        respond_error_now(request, 400, "invalid_request", "Content-Length is not a number", true);
        return;
    }
    if (length > http->body_max) {
        char message[NODE_HTTP_MESSAGE_SIZE];
        (void) snprintf(message, sizeof(message),
                        "the body is %llu bytes; this agent accepts at most %u ([http] body_max)",
                        (unsigned long long) length, http->body_max);
        respond_error_now(request, 413, "body_too_large", message, true);
        return;
    }
    if (length == 0) {
        char error[NODE_HTTP_MESSAGE_SIZE];
        (void) snprintf(error, sizeof(error), "the body is empty; send a JSON object");
        respond_error_now(request, 400, "bad_json", error, false);
        return;
    }
    request->body = malloc((size_t) length);
    if (request->body == NULL) {
        respond_error_now(request, 500, "internal", "out of memory", true);
        return;
    }
    request->body_size = (size_t) length;
    // A client that declares a body and sends it slowly must not hold a
    // slot forever: the read ends after NODE_HTTP_BODY_TIMEOUT_MS, and
    // body_read_done answers 408.
    node_http_conn_read_body(request->conn, request->body, (uint32_t) length, body_read_done,
                             request);
}

static bool authorized(node_http *http, const node_http_head *head)
{
    const char *header = head->authorization;
    nng_mtx_lock(http->mutex);
    bool ok = node_http_token_matches(header, http->token, http->token_size);
    nng_mtx_unlock(http->mutex);
    return ok;
}

static node_http_request *
request_new(node_http *http, node_http_conn *conn, const node_http_head *head)
{
    nng_mtx_lock(http->mutex);
    bool room = http->inflight < NODE_HTTP_INFLIGHT_MAX;
    http->inflight += room ? 1u : 0u;
    http->stats.queue_full += room ? 0u : 1u;
    nng_mtx_unlock(http->mutex);
    node_http_request *request = room ? calloc(1, sizeof(*request)) : NULL;
    if (request == NULL) {
        if (room) {
            nng_mtx_lock(http->mutex);
            http->inflight--;
            nng_mtx_unlock(http->mutex);
        }
        return NULL;
    }
    request->http = http;
    request->conn = conn;
    request->started_ns = node_now().monotonic_ns;
    request->deferred_index = NOT_DEFERRED;
    node_log_quote(head->target, request->path, sizeof(request->path));
    (void) snprintf(request->client, sizeof(request->client), "%s", head->client);
    return request;
}

/* NNG thread: every request head lands here (http_server.c). */
static void http_handle(void *arg, node_http_conn *conn, const node_http_head *head)
{
    node_http *http = arg;
    const char *method = head->method;
    const char *uri = head->target;
    // A body not read is still on the connection: after an early answer
    // the connection must close.
    bool has_body = head->content_length != NULL || head->transfer_encoding != NULL;
    node_http_route route = NODE_HTTP_ROUTE_NONE;
    const char *allow = NULL;
    node_http_match match = node_http_route_find(method, uri, &route, &allow);
    if (match == NODE_HTTP_MATCH_NOT_FOUND) {
        finish_error(http, conn, 404, "not_found",
                     "no such path; the API serves /v1/status, /v1/peers, /v1/load, "
                     "/v1/leases, /v1/ledger/balances, /v1/ledger/reconcile, /v1/capacity, "
                     "/v1/revocations and /metrics",
                     NULL, has_body);
        return;
    }
    if (match == NODE_HTTP_MATCH_BAD_METHOD) {
        char message[NODE_HTTP_MESSAGE_SIZE];
        (void) snprintf(message, sizeof(message), "%.16s is not allowed here; use %s", method,
                        allow);
        finish_error(http, conn, 405, "method_not_allowed", message, allow, has_body);
        return;
    }
    if (!(route == NODE_HTTP_ROUTE_METRICS && http->loopback) && !authorized(http, head)) {
        log_refusal(http, LOG_LIMITED_UNAUTHORIZED, head);
        finish_error(http, conn, 401, "unauthorized",
                     "send the agent's token: Authorization: Bearer <token> (the [http] "
                     "token_file)",
                     NULL, has_body);
        return;
    }
    uint8_t lease_id[WIRE_LEASE_ID_SIZE];
    bool lease_route = route == NODE_HTTP_ROUTE_LEASE_GET || route == NODE_HTTP_ROUTE_LEASE_DELETE;
    if (lease_route) {
        char message[NODE_HTTP_MESSAGE_SIZE];
        if (node_http_parse_lease_id(uri, lease_id, message) != MESH_OK) {
            finish_error(http, conn, 400, "invalid_request", message, NULL, has_body);
            return;
        }
    }
    node_http_request *request = request_new(http, conn, head);
    if (request == NULL) {
        log_refusal(http, LOG_LIMITED_BUSY, head);
        finish_error(http, conn, 503, "busy", "too many requests at once; retry shortly", NULL,
                     has_body);
        return;
    }
    request->route = route;
    if (route == NODE_HTTP_ROUTE_LOAD || route == NODE_HTTP_ROUTE_LEASE_CREATE ||
        route == NODE_HTTP_ROUTE_LEDGER_RECONCILE || route == NODE_HTTP_ROUTE_CAPACITY_SET ||
        route == NODE_HTTP_ROUTE_REVOCATION_PUBLISH) {
        read_body(request, head);
        return;
    }
    if (lease_route) {
        memcpy(request->parsed.lease_id, lease_id, sizeof(lease_id));
    }
    enqueue(request);
}

mesh_err
node_http_create(const node_config *config, node_transport *transport, node_http **http_out)
{
    MESH_ASSERT(config != NULL && transport != NULL);
    MESH_ASSERT(http_out != NULL && config->http_listen[0] != '\0');
    node_http *http = calloc(1, sizeof(*http));
    if (http == NULL) {
        return MESH_ENOMEM;
    }
    char error[NODE_HTTP_MESSAGE_SIZE];
    mesh_err err =
        node_http_token_load(config->http_token_file, http->token, &http->token_size, error);
    if (err != MESH_OK) {
        node_say_error("agent", "[http] token_file %s", error);
        free(http);
        return err;
    }
    if (nng_mtx_alloc(&http->mutex) != 0) {
        sodium_memzero(http->token, sizeof(http->token));
        free(http);
        return MESH_ENOMEM;
    }
    http->transport = transport;
    http->body_max = config->http_body_max;
    http->loopback = node_http_listen_is_loopback(config->http_listen);

    mesh_err err_listen =
        node_http_server_start(config->http_listen, http_handle, http, &http->server);
    if (err_listen != MESH_OK) {
        // http_server.c logged why.
        nng_mtx_free(http->mutex);
        sodium_memzero(http->token, sizeof(http->token));
        free(http);
        return err_listen == MESH_ENOMEM ? MESH_ENOMEM : MESH_ETRANSPORT;
    }
    node_log(NODE_LOG_INFO, "http", "listening", "listen=%s body_max=%u metrics_token=%s",
             config->http_listen, http->body_max, http->loopback ? "not_required" : "required");
    *http_out = http;
    return MESH_OK;
}

/* Loop thread: request leaves the loop's hands (it is being answered):
 * it was the current one, or a deferred one. */
static void loop_release(node_http *http, node_http_request *request)
{
    if (request == http->current) {
        MESH_ASSERT(request->deferred_index == NOT_DEFERRED);
        http->current = NULL;
        return;
    }
    uint32_t slot = request->deferred_index;
    MESH_ASSERT(slot < NODE_HTTP_QUEUE_MAX && http->deferred[slot] == request);
    MESH_ASSERT(http->deferred_count > 0);
    http->deferred[slot] = NULL;
    http->deferred_count--;
    request->deferred_index = NOT_DEFERRED;
    nng_mtx_lock(http->mutex);
    http->stats.deferred = http->deferred_count;
    nng_mtx_unlock(http->mutex);
}

/* Loop thread, at stop: answers a request the loop held or that was still
 * queued, and closes its connection. */
static void answer_shutting_down(node_http *http, node_http_request *request)
{
    loop_release(http, request);
    respond_error_now(request, 503, "shutting_down", "the agent is stopping", true);
}

void node_http_destroy(node_http *http)
{
    if (http == NULL) {
        return;
    }
    nng_mtx_lock(http->mutex);
    http->closing = true;
    nng_mtx_unlock(http->mutex);
    // Answer before stopping: the server's stop waits for every
    // connection, and nothing would answer these while it waits. From
    // here on enqueue answers 503 itself, so the queue only shrinks.
    uint32_t answered = 0;
    if (http->current != NULL) {
        answer_shutting_down(http, http->current);
        answered++;
    }
    for (uint32_t i = 0; i < NODE_HTTP_QUEUE_MAX; i++) {
        if (http->deferred[i] != NULL) {
            answer_shutting_down(http, http->deferred[i]);
            answered++;
        }
    }
    MESH_ASSERT(http->deferred_count == 0);
    node_http_request *queued = NULL;
    while ((queued = node_http_next(http)) != NULL) {
        answer_shutting_down(http, queued);
        answered++;
    }
    if (answered > 0) {
        // The server's stop closes connections at once, even one whose
        // answer is still being written: give the answers a moment to leave.
        nng_msleep(DESTROY_GRACE_MS);
    }
    uint32_t connections = node_http_server_stop(http->server, DESTROY_WAIT_MS);
    uint32_t left = 0;
    for (uint32_t waited_ms = 0; waited_ms <= DESTROY_WAIT_MS; waited_ms += 10) {
        nng_mtx_lock(http->mutex);
        left = http->inflight;
        nng_mtx_unlock(http->mutex);
        if (left == 0) {
            break;
        }
        nng_msleep(10);
    }
    if (left != 0 || connections != 0) {
        // A callback may still run and touch http: leak it rather than
        // free memory under it; the process is exiting.
        node_log(NODE_LOG_WARN, "http", "stop_incomplete", "requests=%u connections=%u", left,
                 connections);
        return;
    }
    node_log(NODE_LOG_INFO, "http", "stopped", NULL);
    nng_mtx_free(http->mutex);
    sodium_memzero(http->token, sizeof(http->token));
    free(http);
}

node_http_request *node_http_next(node_http *http)
{
    MESH_ASSERT(http != NULL);
    // The last one must be answered or deferred first: otherwise destroy
    // could not find it, and the server's stop would wait for it.
    MESH_ASSERT(http->current == NULL);
    node_http_request *request = NULL;
    nng_mtx_lock(http->mutex);
    MESH_ASSERT(http->queue_count <= NODE_HTTP_QUEUE_MAX);
    if (http->queue_count > 0) {
        request = http->queue[http->queue_head];
        http->queue_head = (http->queue_head + 1) % NODE_HTTP_QUEUE_MAX;
        http->queue_count--;
    }
    nng_mtx_unlock(http->mutex);
    http->current = request;
    return request;
}

node_http_route node_http_request_route(const node_http_request *request)
{
    MESH_ASSERT(request != NULL);
    return request->route;
}

const node_load_report *node_http_request_load(const node_http_request *request)
{
    MESH_ASSERT(request != NULL && request->route == NODE_HTTP_ROUTE_LOAD);
    return &request->parsed.load;
}

const node_capacity_report *node_http_request_capacity(const node_http_request *request)
{
    MESH_ASSERT(request != NULL && request->route == NODE_HTTP_ROUTE_CAPACITY_SET);
    return &request->parsed.capacity;
}

const node_borrow_request *node_http_request_borrow(const node_http_request *request)
{
    MESH_ASSERT(request != NULL && request->route == NODE_HTTP_ROUTE_LEASE_CREATE);
    return &request->parsed.borrow;
}

const node_reconcile_request *node_http_request_reconcile(const node_http_request *request)
{
    MESH_ASSERT(request != NULL && request->route == NODE_HTTP_ROUTE_LEDGER_RECONCILE);
    return &request->parsed.reconcile;
}

const char *node_http_request_body(const node_http_request *request, size_t *size_out)
{
    MESH_ASSERT(request != NULL && size_out != NULL);
    MESH_ASSERT(request->route == NODE_HTTP_ROUTE_REVOCATION_PUBLISH && request->body_size > 0);
    *size_out = request->body_size;
    return (const char *) request->body;
}

const uint8_t *node_http_request_lease_id(const node_http_request *request)
{
    MESH_ASSERT(request != NULL);
    MESH_ASSERT(request->route == NODE_HTTP_ROUTE_LEASE_GET ||
                request->route == NODE_HTTP_ROUTE_LEASE_DELETE);
    return request->parsed.lease_id;
}

mesh_err node_http_defer(node_http *http, node_http_request *request)
{
    MESH_ASSERT(http != NULL && request != NULL && request->http == http);
    MESH_ASSERT(request == http->current && request->deferred_index == NOT_DEFERRED);
    MESH_ASSERT(http->deferred_count <= NODE_HTTP_QUEUE_MAX);
    if (http->deferred_count == NODE_HTTP_QUEUE_MAX) {
        return MESH_EFULL;
    }
    uint32_t slot = 0;
    while (http->deferred[slot] != NULL) {
        slot++;
        MESH_ASSERT(slot < NODE_HTTP_QUEUE_MAX);
    }
    http->deferred[slot] = request;
    http->deferred_count++;
    request->deferred_index = slot;
    http->current = NULL;
    nng_mtx_lock(http->mutex);
    http->stats.deferred = http->deferred_count;
    nng_mtx_unlock(http->mutex);
    return MESH_OK;
}

void node_http_respond(node_http *http,
                       node_http_request *request,
                       uint16_t status,
                       const char *content_type,
                       const char *body,
                       size_t body_size)
{
    MESH_ASSERT(http != NULL && request != NULL && request->http == http);
    MESH_ASSERT(content_type != NULL && (body != NULL || body_size == 0));
    loop_release(http, request);
    log_request(request, status);
    finish(http, request->conn, status, content_type, body, body_size, NULL, false, false);
    request_release(request);
}

void node_http_respond_error(node_http *http,
                             node_http_request *request,
                             uint16_t status,
                             const char *code,
                             const char *message)
{
    MESH_ASSERT(http != NULL && request != NULL && request->http == http);
    loop_release(http, request);
    respond_error_now(request, status, code, message, false);
}

mesh_err
node_http_reload_token(node_http *http, const char *path, char error_out[NODE_HTTP_MESSAGE_SIZE])
{
    MESH_ASSERT(http != NULL && path != NULL);
    uint8_t token[NODE_HTTP_TOKEN_SIZE_MAX];
    uint32_t size = 0;
    mesh_err err = node_http_token_load(path, token, &size, error_out);
    if (err != MESH_OK) {
        return err;
    }
    nng_mtx_lock(http->mutex);
    sodium_memzero(http->token, sizeof(http->token));
    memcpy(http->token, token, size);
    http->token_size = size;
    nng_mtx_unlock(http->mutex);
    sodium_memzero(token, sizeof(token));
    return MESH_OK;
}

void node_http_stats_get(node_http *http, node_http_stats *stats_out)
{
    MESH_ASSERT(http != NULL && stats_out != NULL);
    nng_mtx_lock(http->mutex);
    *stats_out = http->stats;
    nng_mtx_unlock(http->mutex);
}
