/*
 * node/http_server.c: the HTTP/1.1 connections of the API: accept, read a
 * request head under a size bound and a deadline, read a body of a known
 * length under a deadline, write one response, keep the connection for the
 * next request or close it. http.c does everything above that (routing,
 * tokens, the hand-off to the loop).
 *
 * Why our own, when NNG ships an HTTP server: NNG 1.5's server reads the
 * head itself and, on anything it does not like, closes the connection
 * without a status. A header line over its 8 KiB buffer got no 431; a head
 * made of many short lines was not bounded at all (each line is kept);
 * there is no deadline on a head sent a byte at a time (slowloris); its
 * read timeout on a body closes the connection instead of letting the
 * server say 408; and a handler cannot learn the client's address, which
 * the log lines about refused clients need. The subset of HTTP/1.1 an API
 * for schedulers needs is small: Content-Length bodies only (chunked gets
 * 411 from http.c), no upgrades, no trailers, one request at a time per
 * connection (pipelined bytes wait in the buffer).
 *
 * Bounds: NODE_HTTP_CONNECTIONS_MAX connections; beyond that, up to
 * NODE_HTTP_CONNECTIONS_SLACK more are accepted only to be answered 503
 * busy (Retry-After) and closed, and any more are closed at once. A head is
 * at most NODE_HTTP_HEAD_SIZE_MAX bytes (more: 431) and must be complete
 * NODE_HTTP_HEAD_TIMEOUT_MS after its first byte (else 408); an idle
 * connection closes after NODE_HTTP_IDLE_TIMEOUT_MS. Responses are built
 * in one allocation per response.
 *
 * Threads and lifetimes. Each connection has at most one operation in
 * flight (a receive or a send) and is otherwise waiting for http.c to
 * answer; so its callbacks never run concurrently with each other, and a
 * response may be sent from any thread while the connection waits. A
 * connection frees itself from its own callback once it is closed
 * (conn_free: the aios are reaped, since we are inside one). The server's
 * mutex guards the list of connections, which stop uses to close them all.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "node/http_int.h"
#include "node/log_int.h"

typedef enum conn_state {
    CONN_HEAD = 0,     /* receiving a request head */
    CONN_WAITING = 1,  /* the head went to http.c; waiting for its answer or body read */
    CONN_BODY = 2,     /* receiving a body */
    CONN_SENDING = 3,  /* sending a response */
    CONN_REJECTING = 4 /* over the connection bound: sending 503, then closing */
} conn_state;

struct node_http_conn {
    node_http_server *server;
    nng_stream *stream;
    nng_aio *rx_aio;
    nng_aio *tx_aio;
    conn_state state;
    bool close_after;                   /* close once the response is sent */
    bool counted;                       /* one of NODE_HTTP_CONNECTIONS_MAX (not a rejected one) */
    char client[NODE_HTTP_CLIENT_SIZE]; /* "A.B.C.D:PORT", for the log */
    uint64_t head_started_ns;
    uint32_t have;     /* bytes in buf */
    uint32_t consumed; /* bytes of buf that belong to the current request */
    char buf[NODE_HTTP_HEAD_SIZE_MAX + 1];
    node_http_head head;
    /* Body read. */
    uint8_t *body;
    uint32_t body_size;
    uint32_t body_have;
    node_http_body_fn body_done;
    void *body_arg;
    /* Response. */
    char *out;
    node_http_conn *next; /* the server's list */
};

struct node_http_server {
    nng_stream_listener *listener;
    nng_aio *accept_aio;
    node_http_head_fn on_head;
    void *arg;
    nng_mtx *mutex;
    /* Under mutex. */
    bool stopping;
    node_http_conn *conns;
    uint32_t conn_count;     /* all, rejected ones included */
    uint32_t counted_count;  /* those within NODE_HTTP_CONNECTIONS_MAX */
    uint64_t rejected_total; /* over the bound */
};

static const char *reason_phrase(uint16_t status)
{
    switch (status) {
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 411:
        return "Length Required";
    case 413:
        return "Payload Too Large";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Status";
    }
}

static uint64_t now_ns(void)
{
    return nng_clock() * 1000000ull;
}

static void conn_free(node_http_conn *conn)
{
    node_http_server *server = conn->server;
    nng_mtx_lock(server->mutex);
    node_http_conn **link = &server->conns;
    while (*link != NULL && *link != conn) {
        link = &(*link)->next;
    }
    if (*link == conn) {
        *link = conn->next;
    }
    MESH_ASSERT(server->conn_count > 0);
    server->conn_count--;
    server->counted_count -= conn->counted ? 1u : 0u;
    nng_mtx_unlock(server->mutex);
    nng_stream_close(conn->stream);
    // We may be inside one of these aios' callbacks: the reaper waits.
    nng_aio_reap(conn->rx_aio);
    nng_aio_reap(conn->tx_aio);
    nng_stream_free(conn->stream);
    free(conn->out);
    free(conn);
}

static void receive(node_http_conn *conn, void *into, size_t size, nng_duration timeout_ms)
{
    nng_iov iov = {.iov_buf = into, .iov_len = size};
    if (nng_aio_set_iov(conn->rx_aio, 1, &iov) != 0) {
        conn_free(conn);
        return;
    }
    nng_aio_set_timeout(conn->rx_aio, timeout_ms);
    nng_stream_recv(conn->stream, conn->rx_aio);
}

void node_http_conn_respond(node_http_conn *conn,
                            uint16_t status,
                            const char *headers,
                            const char *body,
                            size_t body_size,
                            bool close)
{
    MESH_ASSERT(conn != NULL && headers != NULL && (body != NULL || body_size == 0));
    MESH_ASSERT(conn->state == CONN_WAITING || conn->state == CONN_HEAD ||
                conn->state == CONN_REJECTING);
    conn->close_after = conn->close_after || close || conn->head.close;
    const char *method = conn->head.method;
    bool head_only = strcmp(method, "HEAD") == 0;
    size_t head_size = 160 + strlen(headers);
    size_t size = head_size + (head_only ? 0 : body_size);
    free(conn->out);
    conn->out = malloc(size);
    if (conn->out == NULL) {
        conn_free(conn);
        return;
    }
    int n = snprintf(conn->out, head_size, "HTTP/1.1 %u %s\r\n%sContent-Length: %zu\r\n%s\r\n",
                     status, reason_phrase(status), headers, body_size,
                     conn->close_after ? "Connection: close\r\n" : "");
    if (n < 0 || (size_t) n >= head_size) {
        conn_free(conn);
        return;
    }
    size_t total = (size_t) n;
    if (!head_only && body_size > 0) {
        memcpy(conn->out + total, body, body_size);
        total += body_size;
    }
    if (conn->state != CONN_REJECTING) {
        conn->state = CONN_SENDING;
    }
    nng_iov iov = {.iov_buf = conn->out, .iov_len = total};
    if (nng_aio_set_iov(conn->tx_aio, 1, &iov) != 0) {
        conn_free(conn);
        return;
    }
    nng_aio_set_timeout(conn->tx_aio, NODE_HTTP_SEND_TIMEOUT_MS);
    nng_stream_send(conn->stream, conn->tx_aio);
}

/* A refusal of the head itself (431, 408, 400), answered here. */
static void refuse_head(node_http_conn *conn, uint16_t status, const char *code, const char *text)
{
    node_http_server_refused(conn->server->arg, conn->client, status);
    char *body = node_http_error_body(code, text);
    node_http_conn_respond(conn, status,
                           "Content-Type: application/json\r\nCache-Control: no-store\r\n",
                           body != NULL ? body : "", body != NULL ? strlen(body) : 0, true);
    free(body);
}

/* True when a Connection header value names "close" (any case). */
static bool contains_close(const char *value)
{
    for (const char *c = value; *c != '\0'; c++) {
        if (strncasecmp(c, "close", 5) == 0) {
            return true;
        }
    }
    return false;
}

static char *trim(char *text)
{
    while (*text == ' ' || *text == '\t') {
        text++;
    }
    size_t size = strlen(text);
    while (size > 0 && (text[size - 1] == ' ' || text[size - 1] == '\t')) {
        text[--size] = '\0';
    }
    return text;
}

/* Splits the head in buf (terminated by an empty line at head_size) into
 * conn->head, in place. False on anything malformed. */
static bool parse_head(node_http_conn *conn, uint32_t head_size)
{
    node_http_head *head = &conn->head;
    char *method = conn->buf;
    char *cursor = conn->buf;
    char *end = conn->buf + head_size;
    for (char *c = conn->buf; c < end; c++) {
        if (*c == '\r' || *c == '\n') {
            *c = '\0';
        } else if ((unsigned char) *c < 0x20 && *c != '\t') {
            return false;
        }
    }
    // Request line: METHOD SP TARGET SP HTTP/1.x
    char *space = strchr(cursor, ' ');
    if (space == NULL || (size_t) (space - method) >= sizeof(head->method) || space == method) {
        return false;
    }
    *space = '\0';
    memcpy(head->method, method, (size_t) (space - method) + 1); // checked to fit above
    char *target = space + 1;
    space = strchr(target, ' ');
    if (space == NULL || space == target) {
        return false;
    }
    *space = '\0';
    head->target = target;
    const char *version = space + 1;
    if (strcmp(version, "HTTP/1.1") == 0) {
        head->close = false;
    } else if (strcmp(version, "HTTP/1.0") == 0) {
        head->close = true;
    } else {
        return false;
    }
    cursor = space + 1 + strlen(version);
    for (;;) {
        while (cursor < end && *cursor == '\0') {
            cursor++;
        }
        if (cursor >= end) {
            break;
        }
        char *line = cursor;
        cursor += strlen(line);
        if (line[0] == ' ' || line[0] == '\t') {
            return false; // obsolete line folding
        }
        char *colon = strchr(line, ':');
        if (colon == NULL || colon == line) {
            return false;
        }
        *colon = '\0';
        char *value = trim(colon + 1);
        const char **slot = NULL;
        if (strcasecmp(line, "Authorization") == 0) {
            slot = &head->authorization;
        } else if (strcasecmp(line, "Content-Length") == 0) {
            slot = &head->content_length;
        } else if (strcasecmp(line, "Transfer-Encoding") == 0) {
            slot = &head->transfer_encoding;
        } else if (strcasecmp(line, "User-Agent") == 0) {
            slot = &head->user_agent;
        } else if (strcasecmp(line, "Connection") == 0) {
            head->close = head->close || contains_close(value);
        }
        if (slot != NULL) {
            if (*slot != NULL) {
                return false; // a repeated header this server reads is ambiguous
            }
            *slot = value;
        }
    }
    return true;
}

/* Looks for the end of the head in buf; hands a complete one on, or asks
 * for more bytes. */
static void head_progress(node_http_conn *conn)
{
    MESH_ASSERT(conn->state == CONN_HEAD && conn->have <= NODE_HTTP_HEAD_SIZE_MAX);
    conn->buf[conn->have] = '\0';
    char *end = strstr(conn->buf, "\r\n\r\n");
    uint32_t terminator = 4;
    char *bare = strstr(conn->buf, "\n\n");
    if (bare != NULL && (end == NULL || bare < end)) {
        end = bare;
        terminator = 2;
    }
    if (end == NULL && strlen(conn->buf) != conn->have) {
        refuse_head(conn, 400, "invalid_request", "a NUL byte in the request head");
        return;
    }
    if (end == NULL) {
        if (conn->have == NODE_HTTP_HEAD_SIZE_MAX) {
            char text[NODE_HTTP_MESSAGE_SIZE];
            (void) snprintf(text, sizeof(text),
                            "the request line and headers take more than %u bytes",
                            NODE_HTTP_HEAD_SIZE_MAX);
            refuse_head(conn, 431, "headers_too_large", text);
            return;
        }
        if (conn->have > 0 && conn->head_started_ns == 0) {
            conn->head_started_ns = now_ns();
        }
        nng_duration timeout_ms = NODE_HTTP_IDLE_TIMEOUT_MS;
        if (conn->head_started_ns != 0) {
            uint64_t elapsed_ms = (now_ns() - conn->head_started_ns) / 1000000u;
            timeout_ms = elapsed_ms >= NODE_HTTP_HEAD_TIMEOUT_MS
                             ? 1
                             : (nng_duration) (NODE_HTTP_HEAD_TIMEOUT_MS - elapsed_ms);
        }
        receive(conn, conn->buf + conn->have, NODE_HTTP_HEAD_SIZE_MAX - conn->have, timeout_ms);
        return;
    }
    uint32_t head_size = (uint32_t) (end - conn->buf) + terminator;
    conn->consumed = head_size;
    memset(&conn->head, 0, sizeof(conn->head));
    memcpy(conn->head.client, conn->client, sizeof(conn->head.client));
    if (!parse_head(conn, head_size)) {
        refuse_head(conn, 400, "invalid_request", "the request head is not HTTP/1.1");
        return;
    }
    conn->state = CONN_WAITING;
    conn->server->on_head(conn->server->arg, conn, &conn->head);
}

static void rx_done(void *arg)
{
    node_http_conn *conn = arg;
    int rv = nng_aio_result(conn->rx_aio);
    size_t count = nng_aio_count(conn->rx_aio);
    if (conn->state == CONN_BODY) {
        if (rv != 0) {
            node_http_body_fn done = conn->body_done;
            conn->state = CONN_WAITING;
            // A timeout leaves the connection able to say 408; anything
            // else means the client is gone.
            done(conn->body_arg, rv == NNG_ETIMEDOUT ? MESH_ETIMEDOUT : MESH_ETRANSPORT);
            return;
        }
        conn->body_have += (uint32_t) count;
        if (conn->body_have < conn->body_size) {
            receive(conn, conn->body + conn->body_have, conn->body_size - conn->body_have,
                    NODE_HTTP_BODY_TIMEOUT_MS);
            return;
        }
        conn->state = CONN_WAITING;
        conn->body_done(conn->body_arg, MESH_OK);
        return;
    }
    MESH_ASSERT(conn->state == CONN_HEAD);
    if (rv == NNG_ETIMEDOUT && conn->have > 0) {
        refuse_head(conn, 408, "request_timeout", "the request head did not arrive in time");
        return;
    }
    if (rv != 0 || count == 0) {
        conn_free(conn); // closed, or idle too long
        return;
    }
    conn->have += (uint32_t) count;
    head_progress(conn);
}

static void tx_done(void *arg)
{
    node_http_conn *conn = arg;
    int rv = nng_aio_result(conn->tx_aio);
    free(conn->out);
    conn->out = NULL;
    if (rv != 0 || conn->close_after || conn->state == CONN_REJECTING) {
        conn_free(conn);
        return;
    }
    nng_mtx_lock(conn->server->mutex);
    bool stopping = conn->server->stopping;
    nng_mtx_unlock(conn->server->mutex);
    if (stopping) {
        conn_free(conn);
        return;
    }
    // Keep-alive: what the client sent after this request starts the next.
    MESH_ASSERT(conn->consumed <= conn->have);
    memmove(conn->buf, conn->buf + conn->consumed, conn->have - conn->consumed);
    conn->have -= conn->consumed;
    conn->consumed = 0;
    conn->head_started_ns = conn->have > 0 ? now_ns() : 0;
    conn->state = CONN_HEAD;
    head_progress(conn);
}

void node_http_conn_abort(node_http_conn *conn)
{
    MESH_ASSERT(conn != NULL && conn->state == CONN_WAITING);
    conn_free(conn);
}

void node_http_conn_read_body(
    node_http_conn *conn, uint8_t *body, uint32_t body_size, node_http_body_fn done, void *arg)
{
    MESH_ASSERT(conn != NULL && conn->state == CONN_WAITING && body != NULL && body_size > 0);
    conn->body = body;
    conn->body_size = body_size;
    conn->body_done = done;
    conn->body_arg = arg;
    // What already came with the head.
    uint32_t buffered = conn->have - conn->consumed;
    uint32_t take = buffered < body_size ? buffered : body_size;
    memcpy(body, conn->buf + conn->consumed, take);
    conn->consumed += take;
    conn->body_have = take;
    if (take == body_size) {
        done(arg, MESH_OK);
        return;
    }
    conn->state = CONN_BODY;
    receive(conn, body + take, body_size - take, NODE_HTTP_BODY_TIMEOUT_MS);
}

static void format_client(nng_stream *stream, char client[NODE_HTTP_CLIENT_SIZE])
{
    nng_sockaddr address;
    client[0] = '\0';
    if (nng_stream_get_addr(stream, NNG_OPT_REMADDR, &address) != 0) {
        (void) snprintf(client, NODE_HTTP_CLIENT_SIZE, "unknown");
        return;
    }
    if (address.s_family == NNG_AF_INET) {
        const uint8_t *a = (const uint8_t *) &address.s_in.sa_addr;
        (void) snprintf(client, NODE_HTTP_CLIENT_SIZE, "%u.%u.%u.%u:%u", a[0], a[1], a[2], a[3],
                        (unsigned) ntohs(address.s_in.sa_port));
    } else if (address.s_family == NNG_AF_INET6) {
        char text[48];
        size_t at = 0;
        for (uint32_t i = 0; i < 16; i += 2) {
            at += (size_t) snprintf(
                text + at, sizeof(text) - at, "%s%x", i == 0 ? "" : ":",
                (unsigned) (address.s_in6.sa_addr[i] << 8 | address.s_in6.sa_addr[i + 1]));
        }
        (void) snprintf(client, NODE_HTTP_CLIENT_SIZE, "[%s]:%u", text,
                        (unsigned) ntohs(address.s_in6.sa_port));
    } else {
        (void) snprintf(client, NODE_HTTP_CLIENT_SIZE, "unknown");
    }
}

static void accept_done(void *arg)
{
    node_http_server *server = arg;
    int rv = nng_aio_result(server->accept_aio);
    if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
        return;
    }
    nng_stream *stream = rv == 0 ? nng_aio_get_output(server->accept_aio, 0) : NULL;
    if (stream != NULL) {
        node_http_conn *conn = calloc(1, sizeof(*conn));
        nng_mtx_lock(server->mutex);
        bool stopping = server->stopping;
        bool counted = server->counted_count < NODE_HTTP_CONNECTIONS_MAX;
        bool room =
            counted || server->conn_count - server->counted_count < NODE_HTTP_CONNECTIONS_SLACK;
        if (conn != NULL && !stopping && room) {
            server->conn_count++;
            server->counted_count += counted ? 1u : 0u;
            server->rejected_total += counted ? 0u : 1u;
            conn->next = server->conns;
            server->conns = conn;
        }
        nng_mtx_unlock(server->mutex);
        if (conn == NULL || stopping || !room || nng_aio_alloc(&conn->rx_aio, rx_done, conn) != 0 ||
            nng_aio_alloc(&conn->tx_aio, tx_done, conn) != 0) {
            if (conn != NULL && !stopping && room) {
                conn->server = server;
                conn->stream = stream;
                conn->counted = counted;
                conn_free(conn); // unlinks and frees what was allocated
            } else {
                free(conn);
                nng_stream_free(stream);
                if (!stopping) {
                    node_http_server_refused(server->arg, "unknown", 503);
                }
            }
        } else {
            conn->server = server;
            conn->stream = stream;
            conn->counted = counted;
            format_client(stream, conn->client);
            memcpy(conn->head.client, conn->client, sizeof(conn->head.client));
            if (counted) {
                conn->state = CONN_HEAD;
                head_progress(conn);
            } else {
                conn->state = CONN_REJECTING;
                conn->head.close = true;
                (void) snprintf(conn->head.method, sizeof(conn->head.method), "GET");
                node_http_server_refused(server->arg, conn->client, 503);
                char *body = node_http_error_body("busy", "too many connections; retry shortly");
                node_http_conn_respond(conn, 503,
                                       "Content-Type: application/json\r\nCache-Control: "
                                       "no-store\r\nRetry-After: " NODE_HTTP_RETRY_AFTER_S "\r\n",
                                       body != NULL ? body : "", body != NULL ? strlen(body) : 0,
                                       true);
                free(body);
            }
        }
    }
    nng_mtx_lock(server->mutex);
    bool stopping = server->stopping;
    nng_mtx_unlock(server->mutex);
    if (!stopping) {
        if (rv != 0) {
            nng_msleep(10); // e.g. out of descriptors: do not spin
        }
        nng_stream_listener_accept(server->listener, server->accept_aio);
    }
}

mesh_err node_http_server_start(const char *listen,
                                node_http_head_fn on_head,
                                void *arg,
                                node_http_server **server_out)
{
    MESH_ASSERT(listen != NULL && on_head != NULL && server_out != NULL);
    static const char scheme[] = "http://";
    if (strncmp(listen, scheme, sizeof(scheme) - 1) != 0) {
        return MESH_EINVAL;
    }
    char url[NODE_CONFIG_ENDPOINT_SIZE + 8];
    (void) snprintf(url, sizeof(url), "tcp://%s", listen + sizeof(scheme) - 1);
    node_http_server *server = calloc(1, sizeof(*server));
    if (server == NULL) {
        return MESH_ENOMEM;
    }
    server->on_head = on_head;
    server->arg = arg;
    int rv = nng_mtx_alloc(&server->mutex);
    if (rv == 0) {
        rv = nng_aio_alloc(&server->accept_aio, accept_done, server);
    }
    if (rv == 0) {
        rv = nng_stream_listener_alloc(&server->listener, url);
    }
    if (rv == 0) {
        rv = nng_stream_listener_listen(server->listener);
    }
    if (rv != 0) {
        node_log(NODE_LOG_ERROR, "http", "listen_failed", "listen=%s error=\"%s\"", listen,
                 nng_strerror(rv));
        if (server->listener != NULL) {
            nng_stream_listener_free(server->listener);
        }
        if (server->accept_aio != NULL) {
            nng_aio_free(server->accept_aio);
        }
        if (server->mutex != NULL) {
            nng_mtx_free(server->mutex);
        }
        free(server);
        return MESH_ETRANSPORT;
    }
    nng_stream_listener_accept(server->listener, server->accept_aio);
    *server_out = server;
    return MESH_OK;
}

uint32_t node_http_server_stop(node_http_server *server, uint32_t wait_ms)
{
    if (server == NULL) {
        return 0;
    }
    nng_mtx_lock(server->mutex);
    server->stopping = true;
    // Every connection with an operation in flight ends it (and frees
    // itself); one waiting for http.c frees itself once answered, since
    // its send fails. NNG runs the callbacks on its own threads.
    for (node_http_conn *conn = server->conns; conn != NULL; conn = conn->next) {
        nng_stream_close(conn->stream);
    }
    nng_mtx_unlock(server->mutex);
    nng_stream_listener_close(server->listener);
    nng_aio_stop(server->accept_aio);
    uint32_t left = 0;
    for (uint32_t waited_ms = 0; waited_ms <= wait_ms; waited_ms += 10) {
        nng_mtx_lock(server->mutex);
        left = server->conn_count;
        nng_mtx_unlock(server->mutex);
        if (left == 0) {
            break;
        }
        nng_msleep(10);
    }
    if (left != 0) {
        return left; // callbacks may still touch server: it is left allocated
    }
    nng_stream_listener_free(server->listener);
    nng_aio_free(server->accept_aio);
    nng_mtx_free(server->mutex);
    free(server);
    return 0;
}
