/*
 * node/http_int.h: the agent's HTTP/JSON API for schedulers and operators
 * (README "HTTP API"), and Prometheus metrics at /metrics.
 *
 * Two halves. http_parse.c is pure: routing a method and a path, checking
 * a bearer token in constant time, loading the token file, validating a
 * load report, a borrow request and a lease id, shaping error bodies; the
 * unit tests and a fuzz target drive it directly. http.c runs the server
 * (its connections are http_server.c's): its handler runs on NNG threads
 * and never touches the gossip machine. It answers what needs no agent state at once (404, 405,
 * 401, 411, 413, and every 400: a body or an id is validated there, so the loop only ever sees
 * well-formed requests), and hands every other request to the loop thread through a bounded queue
 * and node_transport_wake; the loop answers with node_http_respond, at once or, for a request it
 * defers (node_http_defer), later.
 *
 * One handler routes every request, and reads the body itself once the
 * Content-Length is known to fit under body_max (nothing is allocated for
 * a body that is refused): the API promises a JSON error with a stable
 * code for every failure (NNG 1.5.2's own server answered an unknown
 * path, a wrong method and a large body with HTML pages, and bad heads
 * with nothing at all; http_server.c replaced it).
 *
 * Errors are {"error": {"code": "...", "message": "..."}}; codes are
 * stable (append only): unauthorized, bad_json, invalid_request,
 * body_too_large, length_required, not_found, method_not_allowed,
 * not_implemented, ledger_unavailable, busy, shutting_down, internal,
 * timeout (504: a peer the request asked did not answer in time),
 * request_timeout (408: a declared body did not arrive within
 * NODE_HTTP_BODY_TIMEOUT_MS, or a head within NODE_HTTP_HEAD_TIMEOUT_MS;
 * the connection then closes), headers_too_large (431: a head over
 * NODE_HTTP_HEAD_SIZE_MAX). A 503 busy (too many requests, or too many
 * connections) carries Retry-After: 1. The log lines a client can cause at
 * will (unauthorized, busy, bad_request) name the client's address and
 * are written at most once a second per kind, with the count suppressed
 * since the last one; the counters count them all.
 *
 * Bounds: NODE_HTTP_QUEUE_MAX requests wait for the loop (more get 503
 * busy); the loop defers at most NODE_HTTP_QUEUE_MAX more (node_http_defer
 * says MESH_EFULL beyond); NODE_HTTP_INFLIGHT_MAX requests are handled at
 * once (queued, deferred or reading a body); a body is at most [http]
 * body_max bytes and must arrive within NODE_HTTP_BODY_TIMEOUT_MS; a load
 * report holds at most NODE_LOAD_ITEMS_MAX items; a borrow request is
 * refused before jansson builds it when it nests deeper than
 * NODE_BORROW_DEPTH_MAX or holds an array or object larger than
 * NODE_BORROW_ARRAY_MAX or NODE_BORROW_OBJECT_MAX.
 */
#ifndef NODE_HTTP_INT_H
#define NODE_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/mesh.h"
#include "node/agent_int.h"
#include "node/config_int.h"
#include "wire/wire.h"

#define NODE_HTTP_QUEUE_MAX          64u
#define NODE_HTTP_INFLIGHT_MAX       128u
#define NODE_HTTP_BODY_TIMEOUT_MS    10000
#define NODE_HTTP_RETRY_AFTER_S      "1" /* the Retry-After of a 503 busy, in seconds */
#define NODE_HTTP_TOKEN_SIZE_MIN     16u
#define NODE_HTTP_TOKEN_SIZE_MAX     256u
#define NODE_HTTP_MESSAGE_SIZE       256u
#define NODE_LOAD_ITEMS_MAX          16u
#define NODE_LOAD_SCHEDULER_SIZE     64u
#define NODE_LOAD_AMOUNT_MAX         1000000000000ull /* 10^12, as capacity amounts */
#define NODE_HTTP_LEASE_ID_TEXT_SIZE 32u              /* hex characters of a lease id in a path */

/* What a request asks for, once routed. Append only. */
typedef enum node_http_route {
    NODE_HTTP_ROUTE_NONE = 0,
    NODE_HTTP_ROUTE_STATUS = 1,       /* GET /v1/status */
    NODE_HTTP_ROUTE_PEERS = 2,        /* GET /v1/peers */
    NODE_HTTP_ROUTE_BALANCES = 3,     /* GET /v1/ledger/balances */
    NODE_HTTP_ROUTE_LEASES = 4,       /* GET /v1/leases */
    NODE_HTTP_ROUTE_LEASE_CREATE = 5, /* POST /v1/leases: node_http_request_borrow */
    NODE_HTTP_ROUTE_LEASE_DELETE = 6, /* DELETE /v1/leases/{id}: node_http_request_lease_id */
    NODE_HTTP_ROUTE_LOAD = 7,         /* POST /v1/load: node_http_request_load */
    NODE_HTTP_ROUTE_METRICS = 8,      /* GET /metrics */
    NODE_HTTP_ROUTE_LEASE_GET = 9,    /* GET /v1/leases/{id}: node_http_request_lease_id */
    NODE_HTTP_ROUTE_LEDGER_RECONCILE =
        10,                            /* POST /v1/ledger/reconcile: node_http_request_reconcile */
    NODE_HTTP_ROUTE_CAPACITY_GET = 11, /* GET /v1/capacity */
    NODE_HTTP_ROUTE_CAPACITY_SET = 12, /* POST /v1/capacity: node_http_request_capacity */
    NODE_HTTP_ROUTE_REVOCATIONS = 13,  /* GET /v1/revocations */
    NODE_HTTP_ROUTE_REVOCATION_PUBLISH =
        14, /* POST /v1/revocations: node_http_request_body (an armored revocation) */
} node_http_route;

typedef enum node_http_match {
    NODE_HTTP_MATCH_OK = 0,
    NODE_HTTP_MATCH_NOT_FOUND = 1,
    NODE_HTTP_MATCH_BAD_METHOD = 2, /* the path exists, not with this method */
} node_http_match;

/* Routes a request. uri is the raw request target: the query string is
 * ignored, nothing is percent-decoded (no route needs it). HEAD is routed
 * as GET. /v1/leases/{id} matches any one non-empty path segment: whether
 * it is a lease id is node_http_parse_lease_id's question (a 400 naming
 * `id`, not a 404). On OK, *route_out is set; on BAD_METHOD, *allow_out
 * names the methods the path takes ("GET"). */
node_http_match node_http_route_find(const char *method,
                                     const char *uri,
                                     node_http_route *route_out,
                                     const char **allow_out);

/* True when authorization is "Bearer <token>" (scheme case-insensitive)
 * with exactly this token. The token is compared with sodium_memcmp, and
 * only after the lengths match (the length is not secret: it is the file's
 * size). NULL authorization: false. */
bool node_http_token_matches(const char *authorization, const uint8_t *token, uint32_t token_size);

/* Reads the bearer token: the file's first line, NODE_HTTP_TOKEN_SIZE_MIN
 * to _MAX bytes of the characters of RFC 6750's b64token (A-Z a-z 0-9
 * - . _ ~ + / =). Refuses a file readable or writable by group or others,
 * like the key files. Errors: MESH_EIO (cannot read), MESH_EAUTH (unsafe
 * mode), MESH_EINVAL (size or characters); error_out says which and what
 * to do. */
MESH_MUST_USE mesh_err node_http_token_load(const char *path,
                                            uint8_t token_out[NODE_HTTP_TOKEN_SIZE_MAX],
                                            uint32_t *token_size_out,
                                            char error_out[NODE_HTTP_MESSAGE_SIZE]);

/* True when the listen URL's host is a loopback address (127.0.0.0/8,
 * [::1], localhost): then /metrics needs no token. */
bool node_http_listen_is_loopback(const char *listen);

/* A scheduler's report of local demand, per resource class. */
typedef struct node_load_item {
    uint32_t resource_class; /* WIRE_RESOURCE_* */
    char model[WIRE_MODEL_SIZE_MAX + 1];
    uint64_t queued;  /* units waiting to run */
    uint64_t running; /* units in use */
} node_load_item;

typedef struct node_load_report {
    char scheduler[NODE_LOAD_SCHEDULER_SIZE]; /* may be empty */
    uint32_t item_count;
    node_load_item items[NODE_LOAD_ITEMS_MAX];
} node_load_report;

/* Validates a POST /v1/load body (README "HTTP API"):
 *   {"scheduler": "slurm-par1",                          (optional)
 *    "resources": [{"class": "vcpu", "queued": 120, "running": 800},
 *                  {"class": "gpu", "model": "H100-80GB", "queued": 4, "running": 16}]}
 * Strict: no unknown or duplicate keys, integers only, each (class, model)
 * once, a model for gpu and only for gpu. Errors: MESH_EPROTO (not JSON:
 * error_out holds jansson's reason with line and column), MESH_EINVAL (JSON
 * that is not a valid report: error_out names the field). report_out is
 * untouched on failure. */
MESH_MUST_USE mesh_err node_http_parse_load(const char *body,
                                            size_t body_size,
                                            node_load_report *report_out,
                                            char error_out[NODE_HTTP_MESSAGE_SIZE]);

/* An inventory update (POST /v1/capacity): per class, the node's own
 * total and what it lends at most, whole units. */
typedef struct node_capacity_item {
    uint32_t resource_class; /* WIRE_RESOURCE_* */
    char model[WIRE_MODEL_SIZE_MAX + 1];
    uint64_t total;
    uint64_t lendable; /* <= total */
} node_capacity_item;

typedef struct node_capacity_report {
    uint32_t item_count;
    node_capacity_item items[NODE_LOAD_ITEMS_MAX];
} node_capacity_report;

/* Validates a POST /v1/capacity body:
 *   {"resources": [{"class": "vcpu", "total": 1024, "lendable": 256},
 *                  {"class": "gpu", "model": "H100-80GB", "total": 8, "lendable": 2}]}
 * Strict like a load report: 1..16 items, each (class, model) once, a
 * model for gpu and only there, whole numbers in 0..10^12, lendable <=
 * total, no other key. Errors: MESH_EPROTO (not JSON: the message is
 * jansson's), MESH_EINVAL (the message names the field). */
MESH_MUST_USE mesh_err node_http_parse_capacity(const char *body,
                                                size_t body_size,
                                                node_capacity_report *report_out,
                                                char error_out[NODE_HTTP_MESSAGE_SIZE]);

/* A borrow request (POST /v1/leases), validated. */
#define NODE_BORROW_PREFER_MAX     8u        /* members in "prefer" */
#define NODE_BORROW_MEMBER_SIZE    64u       /* a member name or node id, and its NUL */
#define NODE_BORROW_DURATION_S_MAX 31622400u /* 366 days: WIRE_LEASE_DURATION_NS_MAX */
#define NODE_BORROW_RTT_MS_MAX     60000u
#define NODE_BORROW_TIMEOUT_MS_MAX 600000u
#define NODE_BORROW_DEPTH_MAX      3u  /* object > array > object: "resources" items */
#define NODE_BORROW_ARRAY_MAX      32u /* the largest array: "countries" */
#define NODE_BORROW_OBJECT_MAX     16u /* members of one object (the root has 14 keys) */

/* Every field obeys the schema of node_http_parse_borrow; the sets come
 * sorted as the wire wants them (wire_lease_request), so the loop copies
 * them into a request unchanged. Zeroed before it is filled: padding and
 * unused slots are zero. */
typedef struct node_borrow_request {
    uint32_t resource_count; /* 1..WIRE_LEASE_RESOURCES_MAX */
    /* Sorted by (class, model), distinct; model only for gpu; amount 1..10^12. */
    wire_lease_resource resources[WIRE_LEASE_RESOURCES_MAX];
    int64_t start_ns;     /* realtime, whole seconds; 0: now (the loop stamps it) */
    uint64_t duration_ns; /* whole seconds, 1 s..WIRE_LEASE_DURATION_NS_MAX */
    /* countries and jurisdictions sorted and distinct; certifications as
     * WIRE_CERTIFICATION_* bits; data_class as given ("" when absent; the
     * agent maps it to constraints); rtt_us_max, cost and carbon 0 when
     * absent (no constraint). */
    wire_lease_constraints constraints;
    uint32_t prefer_count; /* 0..NODE_BORROW_PREFER_MAX */
    /* Member names or node ids ("fm" + 26 base32 letters; an id is also a
     * well-formed name, so resolve an id first), distinct, in the
     * caller's order of preference. */
    char prefer[NODE_BORROW_PREFER_MAX][NODE_BORROW_MEMBER_SIZE];
    char lender[NODE_BORROW_MEMBER_SIZE]; /* "": any; else only this member (never with prefer) */
    bool no_split;                        /* one lender must grant every line, or none */
    uint64_t timeout_ns;                  /* whole ms, 1 ms..600 s; 0: the agent's default */
} node_borrow_request;

/* Validates a POST /v1/leases body (README "HTTP API"):
 *   {"resources": [{"class": "vcpu", "amount": 8},
 *                  {"class": "gpu", "model": "H100-80GB", "amount": 2}],
 *    "duration_s": 7200, "start": "2026-12-05T10:00:00Z",
 *    "countries": ["FR", "DE"], "jurisdictions": ["EU"],
 *    "certifications": ["HDS"], "data_class": "health", "max_rtt_ms": 20,
 *    "max_cost_microeur_per_hour": 500000, "max_carbon_gco2_per_kwh": 100,
 *    "prefer": ["de-fra-1"], "lender": "fr-par-2", "no_split": false,
 *    "timeout_ms": 5000}
 * Only "resources" and "duration_s" are required. Strict: no unknown or
 * duplicate keys, integers only, each (class, model) once, each country,
 * jurisdiction, certification and preferred member once, a model for gpu
 * and only for gpu, not both "prefer" and "lender". Bounded: the bytes
 * are scanned first, and a body nesting deeper than the schema or holding
 * an array or object larger than any the schema allows is refused before
 * jansson builds anything. body is borrowed (need not be NUL-terminated).
 * Errors: MESH_EPROTO (not JSON, or a duplicate key: message_out holds
 * jansson's reason with line and column), MESH_EINVAL (message_out reads
 * "<field path>: <what is wrong>", e.g. "resources[1].class: must be one
 * of vcpu, memory_gib, storage_gib, gpu"). borrow_out is untouched on
 * failure; message_out is untouched on success. */
MESH_MUST_USE mesh_err node_http_parse_borrow(const char *body,
                                              size_t body_size,
                                              node_borrow_request *borrow_out,
                                              char message_out[NODE_HTTP_MESSAGE_SIZE]);

/* A reconcile request (POST /v1/ledger/reconcile), validated. */
#define NODE_RECONCILE_TIMEOUT_MS_MAX     600000u
#define NODE_RECONCILE_TIMEOUT_MS_DEFAULT 10000u
typedef struct node_reconcile_request {
    char peer[NODE_BORROW_MEMBER_SIZE]; /* a member name or node id (resolve an id first) */
    uint64_t timeout_ns;                /* whole ms, 1 ms..600 s; default 10 s */
} node_reconcile_request;

/* Validates a POST /v1/ledger/reconcile body:
 *   {"peer": "de-fra-1", "timeout_ms": 10000}
 * "peer" is required (a member name or node id, the borrow request's
 * rule); "timeout_ms" is optional. Strict: no other key, no duplicate.
 * Errors: MESH_EPROTO (not JSON: message_out holds jansson's reason),
 * MESH_EINVAL (message_out names the field). request_out is untouched on
 * failure. */
MESH_MUST_USE mesh_err node_http_parse_reconcile(const char *body,
                                                 size_t body_size,
                                                 node_reconcile_request *request_out,
                                                 char message_out[NODE_HTTP_MESSAGE_SIZE]);

/* The lease id of a /v1/leases/{id} request target (uri as given to
 * node_http_route_find; the query string is ignored): exactly
 * NODE_HTTP_LEASE_ID_TEXT_SIZE lower-case hex characters, the 16 bytes of
 * a lease id. Errors: MESH_EINVAL (not a lease id; message_out starts with
 * "id: " and says why). id_out is untouched on failure. */
MESH_MUST_USE mesh_err node_http_parse_lease_id(const char *uri,
                                                uint8_t id_out[WIRE_LEASE_ID_SIZE],
                                                char message_out[NODE_HTTP_MESSAGE_SIZE]);

/* The name of a resource class in the API ("vcpu", "memory_gib", "gpu",
 * "storage_gib"); "" for an unknown one. */
const char *node_http_class_name(uint32_t resource_class);

/* {"error":{"code":code,"message":message}} as compact JSON, allocated
 * (free with free()); NULL when out of memory. */
char *node_http_error_body(const char *code, const char *message);

/* The server (http.c). */

typedef struct node_http node_http;
typedef struct node_http_request node_http_request;

/* The connections (http_server.c): HTTP/1.1 over NNG's TCP streams, with
 * a bounded head and deadlines (its file head says why not NNG's server). */
#define NODE_HTTP_HEAD_SIZE_MAX     8192u  /* request line and headers; more: 431 */
#define NODE_HTTP_HEAD_TIMEOUT_MS   10000u /* from a head's first byte to its end; else 408 */
#define NODE_HTTP_IDLE_TIMEOUT_MS   60000  /* an idle kept-alive connection closes */
#define NODE_HTTP_SEND_TIMEOUT_MS   10000  /* a response the client does not read */
#define NODE_HTTP_CONNECTIONS_MAX   256u   /* open at once; more get 503 busy */
#define NODE_HTTP_CONNECTIONS_SLACK 64u    /* ...up to this many more; beyond, closed unanswered */
#define NODE_HTTP_CLIENT_SIZE       56u    /* "A.B.C.D:PORT" or "[v6]:PORT" */

typedef struct node_http_server node_http_server;
typedef struct node_http_conn node_http_conn;

/* A request head. The pointers point into the connection's buffer and stay
 * valid until the connection is answered (node_http_conn_respond). */
typedef struct node_http_head {
    char method[16];
    const char *target;        /* the raw request target */
    const char *authorization; /* NULL when absent, like the next three */
    const char *content_length;
    const char *transfer_encoding;
    const char *user_agent;
    bool close; /* HTTP/1.0, or Connection: close */
    char client[NODE_HTTP_CLIENT_SIZE];
} node_http_head;

/* NNG thread: a complete head arrived; the callee answers it once, now or
 * later from any thread, or reads its body first. */
typedef void (*node_http_head_fn)(void *arg, node_http_conn *conn, const node_http_head *head);
/* NNG thread: a body read ended: MESH_OK (all of it), MESH_ETIMEDOUT (not
 * within NODE_HTTP_BODY_TIMEOUT_MS; the connection can still answer), or
 * MESH_ETRANSPORT (the client is gone: node_http_conn_abort). */
typedef void (*node_http_body_fn)(void *arg, mesh_err result);

/* Listens on http://HOST:PORT. Errors: MESH_EINVAL (not http://),
 * MESH_ETRANSPORT (cannot listen: logged), MESH_ENOMEM. */
MESH_MUST_USE mesh_err node_http_server_start(const char *listen,
                                              node_http_head_fn on_head,
                                              void *arg,
                                              node_http_server **server_out);
/* Stops accepting, closes every connection and waits up to wait_ms for
 * them to go; returns how many did not (the server is then left
 * allocated: a callback may still touch it). */
uint32_t node_http_server_stop(node_http_server *server, uint32_t wait_ms);
/* Answers the request on conn: status, extra header lines (each ending in
 * CRLF), body; closes afterwards when close (or when the client asked).
 * The connection frees itself when done. */
void node_http_conn_respond(node_http_conn *conn,
                            uint16_t status,
                            const char *headers,
                            const char *body,
                            size_t body_size,
                            bool close);
/* Reads body_size bytes of body into body (caller-owned until done runs). */
void node_http_conn_read_body(
    node_http_conn *conn, uint8_t *body, uint32_t body_size, node_http_body_fn done, void *arg);
/* Closes a connection whose client is gone, without an answer. */
void node_http_conn_abort(node_http_conn *conn);
/* http.c: the server refused a connection or a head itself (400, 408,
 * 431, or 503 over NODE_HTTP_CONNECTIONS_MAX): counted and logged,
 * rate-limited. client is "A.B.C.D:PORT" or "unknown". */
void node_http_server_refused(void *arg, const char *client, uint16_t status);

/* Status codes counted in node_http_stats (others count as "other"). */
#define NODE_HTTP_STATUS_COUNT 13u
extern const uint16_t node_http_statuses[NODE_HTTP_STATUS_COUNT];

typedef struct node_http_stats {
    uint64_t responses[NODE_HTTP_STATUS_COUNT + 1]; /* by node_http_statuses; last: other */
    uint64_t queue_full;                            /* answered 503 busy */
    uint64_t body_bytes;                            /* request bodies read */
    uint64_t body_timeouts;                         /* answered 408: the body never came */
    uint32_t deferred;                              /* now held by the loop (node_http_defer) */
} node_http_stats;

/* Starts the API on config->http_listen with the token from
 * config->http_token_file. Requests for the loop wake it through
 * transport (borrowed; must outlive the server). Errors: those of
 * node_http_token_load (MESH_EIO, MESH_EAUTH, MESH_EINVAL; already said on
 * stderr), MESH_ETRANSPORT (cannot listen: logged), MESH_ENOMEM. */
MESH_MUST_USE mesh_err node_http_create(const node_config *config,
                                        node_transport *transport,
                                        node_http **http_out);
/* Loop thread: answers every queued and every deferred request (and one
 * taken from node_http_next but not yet answered) 503 shutting_down, then
 * stops the server and frees it. Every
 * node_http_request pointer the loop still holds is dangling afterwards:
 * forget them (a borrow in flight loses its HTTP caller, not its lease
 * protocol). NULL is a no-op.
 *
 * The order matters: NNG's server stop waits for every handler aio to
 * finish, so a request still unanswered when it runs would hang it;
 * hence answer first (with Connection: close), give the answers
 * 100 ms to be written (NNG's stop is a hard close), then stop. */
void node_http_destroy(node_http *http);

/* Loop thread: the next request waiting for an answer, or NULL. Each one
 * must get exactly one node_http_respond or node_http_respond_error, which
 * frees it. Answer it, or hand it to node_http_defer, before the next
 * call: node_http_next panics (MESH_ASSERT) when the request it returned
 * last is still neither answered nor deferred, because destroy could not
 * find it and NNG's server stop would wait for it forever. */
node_http_request *node_http_next(node_http *http);
node_http_route node_http_request_route(const node_http_request *request);
/* The validated report of a NODE_HTTP_ROUTE_LOAD request. Valid until the
 * request is answered. */
const node_load_report *node_http_request_load(const node_http_request *request);
/* The validated body of a NODE_HTTP_ROUTE_CAPACITY_SET request. Valid
 * until the request is answered. */
const node_capacity_report *node_http_request_capacity(const node_http_request *request);
/* The validated body of a NODE_HTTP_ROUTE_LEASE_CREATE request. Valid
 * until the request is answered. */
const node_borrow_request *node_http_request_borrow(const node_http_request *request);
/* The validated body of a NODE_HTTP_ROUTE_LEDGER_RECONCILE request.
 * Valid until the request is answered. */
const node_reconcile_request *node_http_request_reconcile(const node_http_request *request);
/* The 16-byte lease id of a NODE_HTTP_ROUTE_LEASE_GET or _LEASE_DELETE
 * request (its path held 32 lower-case hex characters). Valid until the
 * request is answered. */
const uint8_t *node_http_request_lease_id(const node_http_request *request);
/* The raw body of a NODE_HTTP_ROUTE_REVOCATION_PUBLISH request (not
 * NUL-terminated; at least one byte). Valid until the request is answered. */
const char *node_http_request_body(const node_http_request *request, size_t *size_out);

/* Loop thread: keeps request (just returned by node_http_next) to answer
 * later, from the loop thread, with node_http_respond or
 * node_http_respond_error: e.g. a borrow, answered once lenders replied.
 * Until then NNG's handler aio stays pending (the connection waits; NNG
 * reads nothing more from it, so a client that hangs up is only noticed
 * when the answer is written). The loop must answer every deferred
 * request, within its own deadline (a borrow's timeout_ns); the server
 * sets none. At stop, node_http_destroy answers those still deferred 503
 * shutting_down. Errors: MESH_EFULL when NODE_HTTP_QUEUE_MAX requests are
 * already deferred; the request is then still the loop's to answer now
 * (503 busy, say). */
MESH_MUST_USE mesh_err node_http_defer(node_http *http, node_http_request *request);

/* Loop thread: answers request (body borrowed) and frees it; request is
 * the one node_http_next returned last, or a deferred one. */
void node_http_respond(node_http *http,
                       node_http_request *request,
                       uint16_t status,
                       const char *content_type,
                       const char *body,
                       size_t body_size);
/* Loop thread: answers with the JSON error {code, message}. */
void node_http_respond_error(node_http *http,
                             node_http_request *request,
                             uint16_t status,
                             const char *code,
                             const char *message);

/* Loop thread: reads the token file again (SIGHUP). On failure the old
 * token stays and error_out says why. */
MESH_MUST_USE mesh_err node_http_reload_token(node_http *http,
                                              const char *path,
                                              char error_out[NODE_HTTP_MESSAGE_SIZE]);

/* Any thread. */
void node_http_stats_get(node_http *http, node_http_stats *stats_out);

#endif /* NODE_HTTP_INT_H */
