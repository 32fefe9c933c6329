/*
 * node/http_parse.c: the pure half of the HTTP API (see http_int.h):
 * routing, the bearer token, load reports, error bodies. No NNG, no
 * threads, no agent state, so the unit tests (tests/unit/node_http_test.c)
 * feed it every hostile input directly.
 *
 * Routing is a small table of exact paths plus one prefix route,
 * /v1/leases/{id}. A path that exists with another method is 405 with the
 * methods it takes, anything else is 404: the client learns which mistake
 * it made.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "node/http_int.h"

#define PATH_SIZE_MAX 256u

typedef struct route_spec {
    const char *method;
    const char *path;
    node_http_route route;
} route_spec;

static const route_spec routes[] = {
    {"GET", "/v1/status", NODE_HTTP_ROUTE_STATUS},
    {"GET", "/v1/peers", NODE_HTTP_ROUTE_PEERS},
    {"GET", "/v1/ledger/balances", NODE_HTTP_ROUTE_BALANCES},
    {"GET", "/v1/leases", NODE_HTTP_ROUTE_LEASES},
    {"POST", "/v1/leases", NODE_HTTP_ROUTE_LEASE_CREATE},
    {"POST", "/v1/load", NODE_HTTP_ROUTE_LOAD},
    {"GET", "/metrics", NODE_HTTP_ROUTE_METRICS},
};

static const char lease_prefix[] = "/v1/leases/";

static bool lease_id_valid(const char *id)
{
    size_t size = strlen(id);
    if (size == 0 || size > NODE_HTTP_LEASE_ID_SIZE_MAX) {
        return false;
    }
    for (size_t i = 0; i < size; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_')) {
            return false;
        }
    }
    return true;
}

node_http_match node_http_route_find(const char *method,
                                     const char *uri,
                                     node_http_route *route_out,
                                     const char **allow_out)
{
    MESH_ASSERT(method != NULL && uri != NULL);
    MESH_ASSERT(route_out != NULL && allow_out != NULL);
    char path[PATH_SIZE_MAX];
    size_t size = strcspn(uri, "?#");
    if (size == 0 || size >= sizeof(path)) {
        return NODE_HTTP_MATCH_NOT_FOUND;
    }
    memcpy(path, uri, size);
    path[size] = '\0';
    // HEAD is GET without the body; NNG drops the body for us.
    const char *wanted = strcmp(method, "HEAD") == 0 ? "GET" : method;
    bool path_known = false;
    const char *allow = NULL;
    for (uint32_t i = 0; i < MESH_ARRAY_COUNT(routes); i++) {
        if (strcmp(routes[i].path, path) != 0) {
            continue;
        }
        if (strcmp(routes[i].method, wanted) == 0) {
            *route_out = routes[i].route;
            return NODE_HTTP_MATCH_OK;
        }
        // /v1/leases takes both; every other path takes one method.
        allow = path_known ? "GET, POST" : routes[i].method;
        path_known = true;
    }
    if (path_known) {
        *allow_out = allow;
        return NODE_HTTP_MATCH_BAD_METHOD;
    }
    if (strncmp(path, lease_prefix, sizeof(lease_prefix) - 1) == 0 &&
        lease_id_valid(path + sizeof(lease_prefix) - 1)) {
        if (strcmp(wanted, "DELETE") == 0) {
            *route_out = NODE_HTTP_ROUTE_LEASE_DELETE;
            return NODE_HTTP_MATCH_OK;
        }
        *allow_out = "DELETE";
        return NODE_HTTP_MATCH_BAD_METHOD;
    }
    return NODE_HTTP_MATCH_NOT_FOUND;
}

bool node_http_token_matches(const char *authorization, const uint8_t *token, uint32_t token_size)
{
    MESH_ASSERT(token != NULL);
    MESH_ASSERT(token_size >= NODE_HTTP_TOKEN_SIZE_MIN && token_size <= NODE_HTTP_TOKEN_SIZE_MAX);
    static const char scheme[] = "Bearer ";
    if (authorization == NULL || strncasecmp(authorization, scheme, sizeof(scheme) - 1) != 0) {
        return false;
    }
    const char *given = authorization + sizeof(scheme) - 1;
    while (*given == ' ') {
        given++;
    }
    size_t given_size = strnlen(given, NODE_HTTP_TOKEN_SIZE_MAX + 1);
    if (given_size != token_size) {
        return false;
    }
    return sodium_memcmp(given, token, token_size) == 0;
}

static bool token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=';
}

mesh_err node_http_token_load(const char *path,
                              uint8_t token_out[NODE_HTTP_TOKEN_SIZE_MAX],
                              uint32_t *token_size_out,
                              char error_out[NODE_HTTP_MESSAGE_SIZE])
{
    MESH_ASSERT(path != NULL && token_out != NULL);
    MESH_ASSERT(token_size_out != NULL && error_out != NULL);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        (void) snprintf(error_out, NODE_HTTP_MESSAGE_SIZE, "%s: cannot open: %s", path,
                        strerror(errno));
        return MESH_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        (void) close(fd);
        (void) snprintf(error_out, NODE_HTTP_MESSAGE_SIZE, "%s: cannot stat", path);
        return MESH_EIO;
    }
    if ((st.st_mode & 077) != 0) {
        (void) close(fd);
        (void) snprintf(error_out, NODE_HTTP_MESSAGE_SIZE,
                        "%s: the token file is readable or writable by others (mode %03o); "
                        "fix: chmod 600 %s",
                        path, (unsigned) (st.st_mode & 0777), path);
        return MESH_EAUTH;
    }
    // One byte more than a token and its newline tells "too long" apart.
    uint8_t buf[NODE_HTTP_TOKEN_SIZE_MAX + 2];
    ssize_t got = read(fd, buf, sizeof(buf));
    (void) close(fd);
    if (got < 0) {
        (void) snprintf(error_out, NODE_HTTP_MESSAGE_SIZE, "%s: cannot read", path);
        return MESH_EIO;
    }
    size_t size = 0;
    while (size < (size_t) got && buf[size] != '\n' && buf[size] != '\r') {
        size++;
    }
    bool valid = size >= NODE_HTTP_TOKEN_SIZE_MIN && size <= NODE_HTTP_TOKEN_SIZE_MAX;
    for (size_t i = 0; i < size && valid; i++) {
        valid = token_char(buf[i]);
    }
    if (!valid) {
        sodium_memzero(buf, sizeof(buf));
        (void) snprintf(error_out, NODE_HTTP_MESSAGE_SIZE,
                        "%s: the token must be one line of %u to %u characters A-Z a-z 0-9 "
                        "-._~+/= (e.g. head -c 32 /dev/urandom | base64)",
                        path, NODE_HTTP_TOKEN_SIZE_MIN, NODE_HTTP_TOKEN_SIZE_MAX);
        return MESH_EINVAL;
    }
    memcpy(token_out, buf, size);
    sodium_memzero(buf, sizeof(buf));
    *token_size_out = (uint32_t) size;
    return MESH_OK;
}

bool node_http_listen_is_loopback(const char *listen)
{
    MESH_ASSERT(listen != NULL);
    static const char scheme[] = "http://";
    if (strncmp(listen, scheme, sizeof(scheme) - 1) != 0) {
        return false;
    }
    const char *host = listen + sizeof(scheme) - 1;
    return strncmp(host, "127.", 4) == 0 || strncmp(host, "[::1]:", 6) == 0 ||
           strncmp(host, "localhost:", 10) == 0;
}

static const char *const class_names[] = {"", "vcpu", "memory_gib", "gpu", "storage_gib"};

const char *node_http_class_name(uint32_t resource_class)
{
    return resource_class < MESH_ARRAY_COUNT(class_names) ? class_names[resource_class] : "";
}

__attribute__((format(printf, 2, 3))) static mesh_err
invalid(char *error_out, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    (void) vsnprintf(error_out, NODE_HTTP_MESSAGE_SIZE, format, args);
    va_end(args);
    return MESH_EINVAL;
}

static bool scheduler_valid(const char *text)
{
    size_t size = strlen(text);
    if (size == 0 || size >= NODE_LOAD_SCHEDULER_SIZE) {
        return false;
    }
    for (size_t i = 0; i < size; i++) {
        if (text[i] < ' ' || text[i] > '~') {
            return false;
        }
    }
    return true;
}

static mesh_err
load_amount(json_t *item, uint32_t index, const char *key, uint64_t *out, char *error)
{
    json_t *value = json_object_get(item, key);
    if (value == NULL) {
        return invalid(error, "resources[%u].%s is required", index, key);
    }
    if (!json_is_integer(value) || json_integer_value(value) < 0 ||
        (uint64_t) json_integer_value(value) > NODE_LOAD_AMOUNT_MAX) {
        return invalid(error, "resources[%u].%s must be a whole number in 0..10^12", index, key);
    }
    *out = (uint64_t) json_integer_value(value);
    return MESH_OK;
}

static mesh_err load_item(json_t *item, uint32_t index, node_load_item *out, char *error)
{
    if (!json_is_object(item)) {
        return invalid(error, "resources[%u] must be an object", index);
    }
    const char *key = NULL;
    json_t *value = NULL;
    json_object_foreach(item, key, value)
    {
        if (strcmp(key, "class") != 0 && strcmp(key, "model") != 0 && strcmp(key, "queued") != 0 &&
            strcmp(key, "running") != 0) {
            return invalid(error,
                           "resources[%u]: unknown key '%.40s' (keys: class, model, queued, "
                           "running)",
                           index, key);
        }
    }
    const char *class_text = json_string_value(json_object_get(item, "class"));
    if (class_text == NULL) {
        return invalid(
            error, "resources[%u].class is required: vcpu, memory_gib, storage_gib or gpu", index);
    }
    memset(out, 0, sizeof(*out));
    for (uint32_t c = 1; c < MESH_ARRAY_COUNT(class_names); c++) {
        if (strcmp(class_text, class_names[c]) == 0) {
            out->resource_class = c;
        }
    }
    if (out->resource_class == 0) {
        return invalid(error,
                       "resources[%u].class '%.40s' is not vcpu, memory_gib, storage_gib or gpu",
                       index, class_text);
    }
    json_t *model = json_object_get(item, "model");
    if (out->resource_class == WIRE_RESOURCE_GPU) {
        if (!json_is_string(model) || !node_config_model_valid(json_string_value(model))) {
            return invalid(error,
                           "resources[%u].model is required for gpu: 1..%u characters "
                           "[A-Za-z0-9._-]",
                           index, WIRE_MODEL_SIZE_MAX);
        }
        memcpy(out->model, json_string_value(model), strlen(json_string_value(model)) + 1);
    } else if (model != NULL) {
        return invalid(error, "resources[%u].model is only for class gpu", index);
    }
    mesh_err err = load_amount(item, index, "queued", &out->queued, error);
    if (err == MESH_OK) {
        err = load_amount(item, index, "running", &out->running, error);
    }
    return err;
}

static mesh_err load_report(json_t *root, node_load_report *report, char *error)
{
    if (!json_is_object(root)) {
        return invalid(error, "the body must be a JSON object with \"resources\"");
    }
    const char *key = NULL;
    json_t *value = NULL;
    json_object_foreach(root, key, value)
    {
        if (strcmp(key, "resources") != 0 && strcmp(key, "scheduler") != 0) {
            return invalid(error, "unknown key '%.40s' (keys: scheduler, resources)", key);
        }
    }
    json_t *scheduler = json_object_get(root, "scheduler");
    if (scheduler != NULL) {
        if (!json_is_string(scheduler) || !scheduler_valid(json_string_value(scheduler))) {
            return invalid(error, "scheduler must be printable text of 1..%u bytes",
                           NODE_LOAD_SCHEDULER_SIZE - 1);
        }
        memcpy(report->scheduler, json_string_value(scheduler),
               strlen(json_string_value(scheduler)) + 1);
    }
    json_t *resources = json_object_get(root, "resources");
    if (!json_is_array(resources) || json_array_size(resources) == 0 ||
        json_array_size(resources) > NODE_LOAD_ITEMS_MAX) {
        return invalid(error, "resources must be an array of 1..%u items", NODE_LOAD_ITEMS_MAX);
    }
    for (uint32_t i = 0; i < (uint32_t) json_array_size(resources); i++) {
        node_load_item *item = &report->items[i];
        mesh_err err = load_item(json_array_get(resources, i), i, item, error);
        if (err != MESH_OK) {
            return err;
        }
        for (uint32_t j = 0; j < i; j++) {
            if (report->items[j].resource_class == item->resource_class &&
                strcmp(report->items[j].model, item->model) == 0) {
                return invalid(error, "resources[%u] repeats resources[%u] (%s%s%s)", i, j,
                               class_names[item->resource_class], item->model[0] ? " " : "",
                               item->model);
            }
        }
        report->item_count = i + 1;
    }
    return MESH_OK;
}

mesh_err node_http_parse_load(const char *body,
                              size_t body_size,
                              node_load_report *report_out,
                              char error_out[NODE_HTTP_MESSAGE_SIZE])
{
    MESH_ASSERT(body != NULL || body_size == 0);
    MESH_ASSERT(report_out != NULL && error_out != NULL);
    json_error_t json_error;
    json_t *root =
        json_loadb(body != NULL ? body : "", body_size, JSON_REJECT_DUPLICATES, &json_error);
    if (root == NULL) {
        (void) snprintf(error_out, NODE_HTTP_MESSAGE_SIZE, "%s (line %d, column %d)",
                        json_error.text, json_error.line, json_error.column);
        return MESH_EPROTO;
    }
    // The report is built aside and copied out only when valid.
    node_load_report *draft = calloc(1, sizeof(*draft));
    if (draft == NULL) {
        json_decref(root);
        (void) snprintf(error_out, NODE_HTTP_MESSAGE_SIZE, "out of memory");
        return MESH_ENOMEM;
    }
    mesh_err err = load_report(root, draft, error_out);
    if (err == MESH_OK) {
        *report_out = *draft;
    }
    free(draft);
    json_decref(root);
    return err;
}

char *node_http_error_body(const char *code, const char *message)
{
    MESH_ASSERT(code != NULL && message != NULL);
    json_t *body = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message);
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    return text;
}
