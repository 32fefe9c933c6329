/*
 * node/http.c: the HTTP API's server half (see http_int.h for the design):
 * NNG's HTTP server with one catch-all handler, bearer-token checks, body
 * reading under a cap, and the hand-off of requests to the loop thread.
 *
 * Threads. http_handle and body_read_done run on NNG's threads. They route
 * and check (http_parse.c, pure: a load report, a borrow request and a
 * lease id are validated there, and refused with a 400 at once), and put
 * every request that needs agent state into a bounded queue under
 * `mutex`, then wake the loop (node_transport_wake). Only the loop pops
 * the queue and calls node_http_respond, which finishes NNG's handler aio;
 * NNG writes the response on its own thread. The token is read under the
 * mutex too, because SIGHUP may replace it.
 *
 * Deferred answers. NNG lets a handler finish its aio whenever it likes:
 * until then the connection simply waits (NNG reads nothing more from
 * it). So the loop may keep a request and answer it later, e.g. a borrow
 * once its lenders replied; it says so with node_http_defer, which files
 * the request in `deferred` (loop thread only, NODE_HTTP_QUEUE_MAX slots).
 * `current` is the request node_http_next returned last until it is
 * answered or deferred: between the two, the server knows every request
 * the loop holds.
 *
 * Lifetimes. A node_http_request lives from the handler until its one
 * answer; `inflight` counts them (bounded; over the bound the answer is
 * 503 busy). NNG's server stop waits for every handler aio to finish, so
 * node_http_destroy answers first and stops after: it sets `closing`
 * (nothing enters the queue any more), answers what is deferred and what
 * is queued with 503, stops the server (NNG closes every connection, so
 * pending body reads end with NNG_ECLOSED), and waits, bounded, for
 * inflight to reach zero.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/util/platform.h>
#include <sodium.h>

#include "node/http_int.h"
#include "node/log_int.h"
#include "node/node_int.h"

#define DESTROY_WAIT_MS  2000u
#define DESTROY_GRACE_MS 100u
#define LOG_PATH_SIZE    72u

const uint16_t node_http_statuses[NODE_HTTP_STATUS_COUNT] = {
    200, 400, 401, 404, 405, 411, 413, 500, 501, 503, 204, 408, 431};

#define NOT_DEFERRED UINT32_MAX

/* Log lines a client can cause at will (a wrong token, a full server) are
 * written at most once per LOG_LIMIT_WINDOW_NS per reason; the next line
 * says how many were suppressed meanwhile. Counters count every one. */
#define LOG_LIMIT_WINDOW_NS 1000000000ull
typedef enum log_limited {
    LOG_LIMITED_UNAUTHORIZED = 0,
    LOG_LIMITED_BUSY = 1,
    LOG_LIMITED_COUNT = 2,
} log_limited;

typedef struct log_limit {
    uint64_t window_start_ns; /* 0: no line written yet */
    uint64_t suppressed;      /* since the last line written */
} log_limit;

struct node_http_request {
    node_http *http;
    nng_aio *aio;      /* NNG's handler aio: finished exactly once */
    nng_aio *read_aio;  /* ours, while reading a body; NULL otherwise */
    nng_aio *timer_aio; /* the body's deadline, while reading one; NULL otherwise */
    bool settled;       /* under http->mutex: the body read or its deadline came first */
    node_http_route route;
    uint8_t *body;
    size_t body_size;
    uint64_t started_ns;
    uint32_t deferred_index;  /* its slot in http->deferred, or NOT_DEFERRED */
    char path[LOG_PATH_SIZE]; /* for the log line, quoted */
    union {
        node_load_report load;                /* NODE_HTTP_ROUTE_LOAD */
        node_borrow_request borrow;           /* NODE_HTTP_ROUTE_LEASE_CREATE */
        uint8_t lease_id[WIRE_LEASE_ID_SIZE]; /* NODE_HTTP_ROUTE_LEASE_GET, _DELETE */
        node_reconcile_request reconcile;     /* NODE_HTTP_ROUTE_LEDGER_RECONCILE */
        node_capacity_report capacity;        /* NODE_HTTP_ROUTE_CAPACITY_SET */
    } parsed;
};

struct node_http {
    nng_http_server *server;
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
    bool pass = limit->window_start_ns == 0 || now_ns - limit->window_start_ns >= LOG_LIMIT_WINDOW_NS;
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

/* Logs a 401 or a 503 busy, rate-limited (log_limit_pass). NNG 1.5's
 * server does not expose the client's address to a handler, so the line
 * names what the request itself says: method, path and User-Agent. */
static void log_refusal(node_http *http, log_limited which, nng_http_req *req)
{
    uint64_t suppressed = 0;
    if (!node_log_enabled(NODE_LOG_INFO) || !log_limit_pass(http, which, &suppressed)) {
        return;
    }
    char path[LOG_PATH_SIZE];
    char agent[LOG_PATH_SIZE];
    const char *user_agent = nng_http_req_get_header(req, "User-Agent");
    node_log_quote(nng_http_req_get_uri(req), path, sizeof(path));
    node_log_quote(user_agent != NULL ? user_agent : "", agent, sizeof(agent));
    node_log(which == LOG_LIMITED_BUSY ? NODE_LOG_WARN : NODE_LOG_INFO, "http",
             which == LOG_LIMITED_BUSY ? "busy" : "unauthorized",
             "method=%.16s path=%s user_agent=%s suppressed=%llu", nng_http_req_get_method(req),
             path, agent, (unsigned long long) suppressed);
}

/* Finishes NNG's handler aio with a response. `allow` (405) and `close`
 * (an unread body is still on the connection) add headers; so does a 503
 * busy (`retry`: Retry-After, in seconds). */
static void finish(node_http *http,
                   nng_aio *aio,
                   uint16_t status,
                   const char *content_type,
                   const char *body,
                   size_t body_size,
                   const char *allow,
                   bool close,
                   bool retry)
{
    nng_http_res *res = NULL;
    int rv = nng_http_res_alloc(&res);
    if (rv == 0) {
        rv = nng_http_res_set_status(res, status);
    }
    if (rv == 0) {
        rv = nng_http_res_set_header(res, "Content-Type", content_type);
    }
    if (rv == 0) {
        rv = nng_http_res_set_header(res, "Cache-Control", "no-store");
    }
    if (rv == 0 && allow != NULL) {
        rv = nng_http_res_set_header(res, "Allow", allow);
    }
    if (rv == 0 && status == 401) {
        rv = nng_http_res_set_header(res, "WWW-Authenticate", "Bearer realm=\"fedmesh\"");
    }
    if (rv == 0 && retry) {
        rv = nng_http_res_set_header(res, "Retry-After", NODE_HTTP_RETRY_AFTER_S);
    }
    if (rv == 0 && close) {
        rv = nng_http_res_set_header(res, "Connection", "close");
    }
    if (rv == 0) {
        rv = nng_http_res_copy_data(res, body, body_size);
    }
    if (rv != 0) {
        if (res != NULL) {
            nng_http_res_free(res);
        }
        node_log(NODE_LOG_WARN, "http", "response_failed", "status=%u error=\"%s\"", status,
                 nng_strerror(rv));
        // NNG closes the connection, after a 500 if it can.
        count_status(http, 500);
        nng_aio_finish(aio, rv);
        return;
    }
    count_status(http, status);
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
}

static void finish_error(node_http *http,
                         nng_aio *aio,
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
        finish(http, aio, 500, "application/json", fallback, sizeof(fallback) - 1, NULL, true,
               false);
        return;
    }
    bool retry = status == 503 && strcmp(code, "busy") == 0;
    finish(http, aio, status, "application/json", body, strlen(body), allow, close, retry);
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
    if (request->read_aio != NULL) {
        // The read callback may still be returning: let NNG's reaper wait.
        nng_aio_reap(request->read_aio);
    }
    if (request->timer_aio != NULL) {
        nng_aio_reap(request->timer_aio); // the same for the deadline's callback
    }
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
    finish_error(request->http, request->aio, status, code, message, NULL, close);
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
                node_log(NODE_LOG_WARN, "http", "busy", "path=%s queued=%u suppressed=%llu",
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

/* Under no lock: true for the first of the body read and its deadline to
 * call it; that one answers the request. */
static bool settle(node_http_request *request)
{
    nng_mtx_lock(request->http->mutex);
    bool first = !request->settled;
    request->settled = true;
    nng_mtx_unlock(request->http->mutex);
    return first;
}

/* NNG thread: the body's deadline passed before the body arrived. NNG's
 * own read timeout would abort the read and close the connection without
 * a word, so the deadline is a separate timer: it answers 408 and asks
 * for the connection to close, while the read stays pending. NNG writes
 * the answer, closes, and the read then fails: body_read_done frees the
 * request. Nothing here touches the request after the answer. */
static void body_deadline(void *arg)
{
    node_http_request *request = arg;
    if (nng_aio_result(request->timer_aio) != 0 || !settle(request)) {
        return; // cancelled: the body arrived first
    }
    node_http *http = request->http;
    nng_mtx_lock(http->mutex);
    http->stats.body_timeouts++;
    nng_mtx_unlock(http->mutex);
    node_log(NODE_LOG_INFO, "http", "body_timeout", "path=%s declared=%zu timeout_ms=%u",
             request->path, request->body_size, (unsigned) NODE_HTTP_BODY_TIMEOUT_MS);
    log_request(request, 408);
    finish_error(http, request->aio, 408, "request_timeout",
                 "the body did not arrive in time; send it right after the headers", NULL, true);
}

/* NNG thread: the body of a POST /v1/load or /v1/leases arrived (or the
 * read failed). */
static void body_read_done(void *arg)
{
    node_http_request *request = arg;
    int rv = nng_aio_result(request->read_aio);
    if (!settle(request)) {
        // The deadline answered 408 first; NNG closed the connection.
        request_release(request);
        return;
    }
    nng_aio_stop(request->timer_aio); // its callback sees `settled` and returns
    if (rv != 0) {
        node_log(NODE_LOG_DEBUG, "http", "body_read_failed", "path=%s error=\"%s\"", request->path,
                 nng_strerror(rv));
        // NNG closes the connection; there is nobody to answer.
        nng_aio_finish(request->aio, rv);
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
static void read_body(node_http_request *request, nng_http_req *req, nng_http_conn *conn)
{
    node_http *http = request->http;
    const char *length_text = nng_http_req_get_header(req, "Content-Length");
    if (nng_http_req_get_header(req, "Transfer-Encoding") != NULL) {
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
    if (request->body == NULL || nng_aio_alloc(&request->read_aio, body_read_done, request) != 0 ||
        nng_aio_alloc(&request->timer_aio, body_deadline, request) != 0) {
        respond_error_now(request, 500, "internal", "out of memory", true);
        return;
    }
    request->body_size = (size_t) length;
    nng_iov iov = {.iov_buf = request->body, .iov_len = (size_t) length};
    if (nng_aio_set_iov(request->read_aio, 1, &iov) != 0) {
        respond_error_now(request, 500, "internal", "cannot read the body", true);
        return;
    }
    // A client that declares a body and sends it slowly must not hold a
    // slot forever: body_deadline answers 408 when the time is up.
    nng_sleep_aio(NODE_HTTP_BODY_TIMEOUT_MS, request->timer_aio);
    nng_http_conn_read_all(conn, request->read_aio);
}

static bool authorized(node_http *http, nng_http_req *req)
{
    const char *header = nng_http_req_get_header(req, "Authorization");
    nng_mtx_lock(http->mutex);
    bool ok = node_http_token_matches(header, http->token, http->token_size);
    nng_mtx_unlock(http->mutex);
    return ok;
}

static node_http_request *request_new(node_http *http, nng_aio *aio, const char *uri)
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
    request->aio = aio;
    request->started_ns = node_now().monotonic_ns;
    request->deferred_index = NOT_DEFERRED;
    node_log_quote(uri, request->path, sizeof(request->path));
    return request;
}

/* NNG thread: every request to the server lands here. */
static void http_handle(nng_aio *aio)
{
    nng_http_req *req = nng_aio_get_input(aio, 0);
    nng_http_handler *handler = nng_aio_get_input(aio, 1);
    nng_http_conn *conn = nng_aio_get_input(aio, 2);
    node_http *http = nng_http_handler_get_data(handler);
    const char *method = nng_http_req_get_method(req);
    const char *uri = nng_http_req_get_uri(req);
    // A body NNG did not read is still on the connection: after an early
    // answer the connection must close.
    bool has_body = nng_http_req_get_header(req, "Content-Length") != NULL ||
                    nng_http_req_get_header(req, "Transfer-Encoding") != NULL;
    node_http_route route = NODE_HTTP_ROUTE_NONE;
    const char *allow = NULL;
    node_http_match match = node_http_route_find(method, uri, &route, &allow);
    if (match == NODE_HTTP_MATCH_NOT_FOUND) {
        finish_error(http, aio, 404, "not_found",
                     "no such path; the API serves /v1/status, /v1/peers, /v1/load, "
                     "/v1/leases, /v1/ledger/balances, /v1/ledger/reconcile and /metrics",
                     NULL, has_body);
        return;
    }
    if (match == NODE_HTTP_MATCH_BAD_METHOD) {
        char message[NODE_HTTP_MESSAGE_SIZE];
        (void) snprintf(message, sizeof(message), "%.16s is not allowed here; use %s", method,
                        allow);
        finish_error(http, aio, 405, "method_not_allowed", message, allow, has_body);
        return;
    }
    if (!(route == NODE_HTTP_ROUTE_METRICS && http->loopback) && !authorized(http, req)) {
        log_refusal(http, LOG_LIMITED_UNAUTHORIZED, req);
        finish_error(http, aio, 401, "unauthorized",
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
            finish_error(http, aio, 400, "invalid_request", message, NULL, has_body);
            return;
        }
    }
    node_http_request *request = request_new(http, aio, uri);
    if (request == NULL) {
        log_refusal(http, LOG_LIMITED_BUSY, req);
        finish_error(http, aio, 503, "busy", "too many requests at once; retry shortly", NULL,
                     has_body);
        return;
    }
    request->route = route;
    if (route == NODE_HTTP_ROUTE_LOAD || route == NODE_HTTP_ROUTE_LEASE_CREATE ||
        route == NODE_HTTP_ROUTE_LEDGER_RECONCILE || route == NODE_HTTP_ROUTE_CAPACITY_SET) {
        read_body(request, req, conn);
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

    nng_url *url = NULL;
    nng_http_handler *handler = NULL;
    int rv = nng_url_parse(&url, config->http_listen);
    if (rv == 0) {
        rv = nng_http_server_hold(&http->server, url);
    }
    if (rv == 0) {
        rv = nng_http_handler_alloc(&handler, "/", http_handle);
    }
    if (rv == 0) {
        rv = nng_http_handler_set_method(handler, NULL); // every method: we route
    }
    if (rv == 0) {
        rv = nng_http_handler_set_tree(handler);
    }
    if (rv == 0) {
        rv = nng_http_handler_collect_body(handler, false, 0); // we read bodies ourselves
    }
    if (rv == 0) {
        rv = nng_http_handler_set_data(handler, http, NULL);
    }
    if (rv == 0) {
        rv = nng_http_server_add_handler(http->server, handler);
        if (rv == 0) {
            handler = NULL; // the server owns it now
        }
    }
    if (rv == 0) {
        rv = nng_http_server_start(http->server);
    }
    if (url != NULL) {
        nng_url_free(url);
    }
    if (handler != NULL) {
        nng_http_handler_free(handler);
    }
    if (rv != 0) {
        node_log(NODE_LOG_ERROR, "http", "listen_failed", "listen=%s error=\"%s\"",
                 config->http_listen, nng_strerror(rv));
        if (http->server != NULL) {
            nng_http_server_release(http->server);
        }
        nng_mtx_free(http->mutex);
        sodium_memzero(http->token, sizeof(http->token));
        free(http);
        return MESH_ETRANSPORT;
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
    // Answer before stopping: NNG's server stop waits for every pending
    // handler aio, and nothing would answer these while it waits. From
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
        // NNG's stop closes connections at once, even one whose answer is
        // still being written: give the answers a moment to leave.
        nng_msleep(DESTROY_GRACE_MS);
    }
    nng_http_server_stop(http->server);
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
    nng_http_server_release(http->server);
    if (left != 0) {
        // A callback may still run and touch http: leak it rather than
        // free memory under it; the process is exiting.
        node_log(NODE_LOG_WARN, "http", "stop_incomplete", "requests=%u", left);
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
    // could not find it, and NNG's server stop would wait for it forever.
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
    finish(http, request->aio, status, content_type, body, body_size, NULL, false, false);
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
