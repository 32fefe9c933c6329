/*
 * node/http_int.h: the agent's HTTP/JSON API for schedulers and operators
 * (README "HTTP API"), and Prometheus metrics at /metrics.
 *
 * Two halves. http_parse.c is pure: routing a method and a path, checking
 * a bearer token in constant time, loading the token file, validating a
 * load report, shaping error bodies; the unit tests drive it directly.
 * http.c runs NNG's HTTP server: its handler runs on NNG threads and never
 * touches the gossip machine. It answers what needs no agent state at
 * once (404, 405, 401, 413, 400, 501), and hands every other request to
 * the loop thread through a bounded queue and node_transport_wake; the
 * loop answers with node_http_respond.
 *
 * Why one catch-all handler rather than one per path: NNG 1.5.2 answers
 * an unknown path, a wrong method and a too-large body itself, with an
 * HTML page (and a 400, not a 413, for the body); the API promises a JSON
 * error with a stable code for every failure. So NNG hands every request
 * to one handler, which routes, and reads the body itself once the
 * Content-Length is known to fit under body_max (nothing is allocated for
 * a body that is refused).
 *
 * Errors are {"error": {"code": "...", "message": "..."}}; codes are
 * stable (append only): unauthorized, bad_json, invalid_request,
 * body_too_large, length_required, not_found, method_not_allowed,
 * not_implemented, ledger_unavailable, busy, shutting_down, internal.
 *
 * Bounds: NODE_HTTP_QUEUE_MAX requests wait for the loop (more get 503
 * busy); NODE_HTTP_INFLIGHT_MAX requests are handled at once (queued or
 * reading a body); a body is at most [http] body_max bytes and must arrive
 * within NODE_HTTP_BODY_TIMEOUT_MS; a load report holds at most
 * NODE_LOAD_ITEMS_MAX items.
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

#define NODE_HTTP_QUEUE_MAX         64u
#define NODE_HTTP_INFLIGHT_MAX      128u
#define NODE_HTTP_BODY_TIMEOUT_MS   10000
#define NODE_HTTP_TOKEN_SIZE_MIN    16u
#define NODE_HTTP_TOKEN_SIZE_MAX    256u
#define NODE_HTTP_MESSAGE_SIZE      256u
#define NODE_LOAD_ITEMS_MAX         16u
#define NODE_LOAD_SCHEDULER_SIZE    64u
#define NODE_LOAD_AMOUNT_MAX        1000000000000ull /* 10^12, as capacity amounts */
#define NODE_HTTP_LEASE_ID_SIZE_MAX 64u

/* What a request asks for, once routed. Append only. */
typedef enum node_http_route {
    NODE_HTTP_ROUTE_NONE = 0,
    NODE_HTTP_ROUTE_STATUS = 1,       /* GET /v1/status */
    NODE_HTTP_ROUTE_PEERS = 2,        /* GET /v1/peers */
    NODE_HTTP_ROUTE_BALANCES = 3,     /* GET /v1/ledger/balances */
    NODE_HTTP_ROUTE_LEASES = 4,       /* GET /v1/leases */
    NODE_HTTP_ROUTE_LEASE_CREATE = 5, /* POST /v1/leases (reserved) */
    NODE_HTTP_ROUTE_LEASE_DELETE = 6, /* DELETE /v1/leases/{id} (reserved) */
    NODE_HTTP_ROUTE_LOAD = 7,         /* POST /v1/load */
    NODE_HTTP_ROUTE_METRICS = 8,      /* GET /metrics */
} node_http_route;

typedef enum node_http_match {
    NODE_HTTP_MATCH_OK = 0,
    NODE_HTTP_MATCH_NOT_FOUND = 1,
    NODE_HTTP_MATCH_BAD_METHOD = 2, /* the path exists, not with this method */
} node_http_match;

/* Routes a request. uri is the raw request target: the query string is
 * ignored, nothing is percent-decoded (no route needs it; a '%' in a lease
 * id is simply not found). HEAD is routed as GET. On OK, *route_out is set;
 * on BAD_METHOD, *allow_out names the methods the path takes ("GET"). */
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

/* The name of a resource class in the API ("vcpu", "memory_gib", "gpu",
 * "storage_gib"); "" for an unknown one. */
const char *node_http_class_name(uint32_t resource_class);

/* {"error":{"code":code,"message":message}} as compact JSON, allocated
 * (free with free()); NULL when out of memory. */
char *node_http_error_body(const char *code, const char *message);

/* The server (http.c). */

typedef struct node_http node_http;
typedef struct node_http_request node_http_request;

/* Status codes counted in node_http_stats (others count as "other"). */
#define NODE_HTTP_STATUS_COUNT 11u
extern const uint16_t node_http_statuses[NODE_HTTP_STATUS_COUNT];

typedef struct node_http_stats {
    uint64_t responses[NODE_HTTP_STATUS_COUNT + 1]; /* by node_http_statuses; last: other */
    uint64_t queue_full;                            /* answered 503 busy */
    uint64_t body_bytes;                            /* request bodies read */
} node_http_stats;

/* Starts the API on config->http_listen with the token from
 * config->http_token_file. Requests for the loop wake it through
 * transport (borrowed; must outlive the server). Errors: those of
 * node_http_token_load (MESH_EIO, MESH_EAUTH, MESH_EINVAL; already said on
 * stderr), MESH_ETRANSPORT (cannot listen: logged), MESH_ENOMEM. */
MESH_MUST_USE mesh_err node_http_create(const node_config *config,
                                        node_transport *transport,
                                        node_http **http_out);
/* Loop thread: answers every waiting request 503 shutting_down, stops the
 * server and frees it. NULL is a no-op. */
void node_http_destroy(node_http *http);

/* Loop thread: the next request waiting for an answer, or NULL. Each one
 * must get exactly one node_http_respond, which frees it. */
node_http_request *node_http_next(node_http *http);
node_http_route node_http_request_route(const node_http_request *request);
/* The validated report of a NODE_HTTP_ROUTE_LOAD request. */
const node_load_report *node_http_request_load(const node_http_request *request);

/* Loop thread: answers request (body borrowed) and frees it. */
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
