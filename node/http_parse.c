/*
 * node/http_parse.c: the pure half of the HTTP API (see http_int.h):
 * routing, the bearer token, load reports, borrow requests, lease ids,
 * error bodies. No NNG, no threads, no agent state, so the unit tests
 * (tests/unit/node_http_test.c) and the fuzz target
 * (tests/fuzz/fuzz_node_borrow.c) feed it every hostile input directly.
 *
 * Routing is a small table of exact paths plus one prefix route,
 * /v1/leases/{id}. A path that exists with another method is 405 with the
 * methods it takes, anything else is 404: the client learns which mistake
 * it made. The {id} segment is routed whatever it holds and validated
 * afterwards, so that a malformed id is a 400 naming `id`.
 *
 * Bodies: jansson parses (duplicate keys refused), then a walk checks the
 * schema field by field and names the first field that is wrong by its
 * path ("resources[1].class: ..."). A borrow body is first scanned byte
 * by byte for its shape (depth, array and object sizes), so that nesting
 * or arrays far beyond the schema are refused before jansson allocates a
 * node per element. Results are built in a draft and copied out only
 * when valid.
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
    {"POST", "/v1/ledger/reconcile", NODE_HTTP_ROUTE_LEDGER_RECONCILE},
    {"GET", "/v1/capacity", NODE_HTTP_ROUTE_CAPACITY_GET},
    {"POST", "/v1/capacity", NODE_HTTP_ROUTE_CAPACITY_SET},
    {"GET", "/v1/revocations", NODE_HTTP_ROUTE_REVOCATIONS},
    {"POST", "/v1/revocations", NODE_HTTP_ROUTE_REVOCATION_PUBLISH},
    {"GET", "/metrics", NODE_HTTP_ROUTE_METRICS},
};

static const char lease_prefix[] = "/v1/leases/";

/* One non-empty path segment: what /v1/leases/{id} routes. */
static bool lease_segment(const char *segment)
{
    return segment[0] != '\0' && strchr(segment, '/') == NULL;
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
        lease_segment(path + sizeof(lease_prefix) - 1)) {
        if (strcmp(wanted, "GET") == 0) {
            *route_out = NODE_HTTP_ROUTE_LEASE_GET;
            return NODE_HTTP_MATCH_OK;
        }
        if (strcmp(wanted, "DELETE") == 0) {
            *route_out = NODE_HTTP_ROUTE_LEASE_DELETE;
            return NODE_HTTP_MATCH_OK;
        }
        *allow_out = "GET, DELETE";
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

/* One line of a load report or a capacity update: a class, a model for
 * gpu, and two whole amounts under the keys `keys` names. */
static mesh_err amounts_item(json_t *item,
                             uint32_t index,
                             const char *const keys[2],
                             uint32_t *resource_class_out,
                             char model_out[WIRE_MODEL_SIZE_MAX + 1],
                             uint64_t *first_out,
                             uint64_t *second_out,
                             char *error)
{
    if (!json_is_object(item)) {
        return invalid(error, "resources[%u] must be an object", index);
    }
    const char *key = NULL;
    json_t *value = NULL;
    json_object_foreach(item, key, value)
    {
        if (strcmp(key, "class") != 0 && strcmp(key, "model") != 0 && strcmp(key, keys[0]) != 0 &&
            strcmp(key, keys[1]) != 0) {
            return invalid(error, "resources[%u]: unknown key '%.40s' (keys: class, model, %s, %s)",
                           index, key, keys[0], keys[1]);
        }
    }
    const char *class_text = json_string_value(json_object_get(item, "class"));
    if (class_text == NULL) {
        return invalid(
            error, "resources[%u].class is required: vcpu, memory_gib, storage_gib or gpu", index);
    }
    *resource_class_out = 0;
    memset(model_out, 0, WIRE_MODEL_SIZE_MAX + 1);
    for (uint32_t c = 1; c < MESH_ARRAY_COUNT(class_names); c++) {
        if (strcmp(class_text, class_names[c]) == 0) {
            *resource_class_out = c;
        }
    }
    if (*resource_class_out == 0) {
        return invalid(error,
                       "resources[%u].class '%.40s' is not vcpu, memory_gib, storage_gib or gpu",
                       index, class_text);
    }
    json_t *model = json_object_get(item, "model");
    if (*resource_class_out == WIRE_RESOURCE_GPU) {
        if (!json_is_string(model) || !node_config_model_valid(json_string_value(model))) {
            return invalid(error,
                           "resources[%u].model is required for gpu: 1..%u characters "
                           "[A-Za-z0-9._-]",
                           index, WIRE_MODEL_SIZE_MAX);
        }
        memcpy(model_out, json_string_value(model), strlen(json_string_value(model)) + 1);
    } else if (model != NULL) {
        return invalid(error, "resources[%u].model is only for class gpu", index);
    }
    mesh_err err = load_amount(item, index, keys[0], first_out, error);
    if (err == MESH_OK) {
        err = load_amount(item, index, keys[1], second_out, error);
    }
    return err;
}

static mesh_err capacity_report(json_t *root, node_capacity_report *report, char *error)
{
    if (!json_is_object(root)) {
        return invalid(error, "the body must be a JSON object with \"resources\"");
    }
    const char *key = NULL;
    json_t *value = NULL;
    json_object_foreach(root, key, value)
    {
        if (strcmp(key, "resources") != 0) {
            return invalid(error, "unknown key '%.40s' (keys: resources)", key);
        }
    }
    json_t *resources = json_object_get(root, "resources");
    if (!json_is_array(resources) || json_array_size(resources) == 0 ||
        json_array_size(resources) > NODE_LOAD_ITEMS_MAX) {
        return invalid(error, "resources must be an array of 1..%u items", NODE_LOAD_ITEMS_MAX);
    }
    static const char *const keys[2] = {"total", "lendable"};
    for (uint32_t i = 0; i < (uint32_t) json_array_size(resources); i++) {
        node_capacity_item *item = &report->items[i];
        mesh_err err = amounts_item(json_array_get(resources, i), i, keys, &item->resource_class,
                                    item->model, &item->total, &item->lendable, error);
        if (err != MESH_OK) {
            return err;
        }
        if (item->lendable > item->total) {
            return invalid(error, "resources[%u].lendable is over its total", i);
        }
        for (uint32_t j = 0; j < i; j++) {
            if (report->items[j].resource_class == item->resource_class &&
                strcmp(report->items[j].model, item->model) == 0) {
                return invalid(error, "resources[%u] repeats resources[%u]", i, j);
            }
        }
        report->item_count = i + 1;
    }
    return MESH_OK;
}

mesh_err node_http_parse_capacity(const char *body,
                                  size_t body_size,
                                  node_capacity_report *report_out,
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
    node_capacity_report draft;
    memset(&draft, 0, sizeof(draft));
    mesh_err err = capacity_report(root, &draft, error_out);
    if (err == MESH_OK) {
        *report_out = draft;
    }
    json_decref(root);
    return err;
}

static mesh_err load_item(json_t *item, uint32_t index, node_load_item *out, char *error)
{
    static const char *const keys[2] = {"queued", "running"};
    memset(out, 0, sizeof(*out));
    return amounts_item(item, index, keys, &out->resource_class, out->model, &out->queued,
                        &out->running, error);
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

/* ------------------------------------------------------------------ */
/* Lease ids in paths. */

static const char lease_id_rule[] = "a lease id is 32 lower-case hex characters (0-9 a-f)";

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

mesh_err node_http_parse_lease_id(const char *uri,
                                  uint8_t id_out[WIRE_LEASE_ID_SIZE],
                                  char message_out[NODE_HTTP_MESSAGE_SIZE])
{
    MESH_ASSERT(uri != NULL);
    MESH_ASSERT(id_out != NULL && message_out != NULL);
    _Static_assert(NODE_HTTP_LEASE_ID_TEXT_SIZE == 2u * WIRE_LEASE_ID_SIZE,
                   "two hex digits per byte of a lease id");
    if (strncmp(uri, lease_prefix, sizeof(lease_prefix) - 1) != 0) {
        return invalid(message_out, "id: the path is not /v1/leases/{id}");
    }
    const char *text = uri + sizeof(lease_prefix) - 1;
    size_t size = strcspn(text, "?#");
    if (size != NODE_HTTP_LEASE_ID_TEXT_SIZE) {
        return invalid(message_out, "id: %zu characters; %s", size, lease_id_rule);
    }
    uint8_t id[WIRE_LEASE_ID_SIZE];
    for (uint32_t i = 0; i < NODE_HTTP_LEASE_ID_TEXT_SIZE; i++) {
        int value = hex_value(text[i]);
        if (value < 0) {
            unsigned char c = (unsigned char) text[i];
            if (c > ' ' && c <= '~') {
                return invalid(message_out, "id: character %u is '%c'; %s", i + 1, c,
                               lease_id_rule);
            }
            return invalid(message_out, "id: character %u is byte 0x%02x; %s", i + 1, c,
                           lease_id_rule);
        }
        if (i % 2 == 0) {
            id[i / 2] = (uint8_t) (value << 4);
        } else {
            id[i / 2] |= (uint8_t) value;
        }
    }
    memcpy(id_out, id, sizeof(id));
    return MESH_OK;
}

/* ------------------------------------------------------------------ */
/* Borrow requests (POST /v1/leases). */

#define FIELD_TEXT_SIZE 40u /* a caller's key or value quoted in a message */
#define PATH_TEXT_SIZE  64u /* "resources[7]" and the like */

/* c itself when printable ASCII, else '?'. */
static char printable(char c)
{
    if (c >= ' ' && c <= '~') {
        return c;
    }
    return '?';
}

/* A caller's text made safe to quote in a message: printable ASCII only
 * (anything else becomes '?', so the message stays valid UTF-8 for the
 * JSON error body), cut with "..." when long. */
static void quote_text(const char *text, char out[FIELD_TEXT_SIZE])
{
    uint32_t at = 0;
    for (const char *c = text; *c != '\0'; c++) {
        if (at == FIELD_TEXT_SIZE - 4) {
            memcpy(out + at, "...", 4);
            return;
        }
        out[at++] = printable(*c);
    }
    out[at] = '\0';
}

/* Where the shape scan stands, to name the field in its messages. */
typedef struct shape_level {
    bool array;
    bool started;   /* an item (or a comma) was seen */
    uint32_t count; /* items (array) or members (object) begun: commas + 1 once started */
} shape_level;

static void shape_path(const shape_level *levels,
                       uint32_t depth,
                       const char *root_key,
                       char out[PATH_TEXT_SIZE])
{
    if (depth <= 1 || root_key[0] == '\0') {
        (void) snprintf(out, PATH_TEXT_SIZE, "body");
    } else if (depth == 2 || !levels[2].array) {
        (void) snprintf(out, PATH_TEXT_SIZE, "%s", root_key);
    } else {
        (void) snprintf(out, PATH_TEXT_SIZE, "%s[%u]", root_key,
                        levels[2].count > 0 ? levels[2].count - 1 : 0);
    }
}

/* A token (a value, a key, or the separator before the next one) at the
 * innermost level. */
static void shape_token(shape_level *level)
{
    if (!level->started) {
        level->started = true;
        level->count = 1;
    }
}

/* Scans the bytes of a JSON text for its shape alone: depth, and the
 * items of each array and members of each object (commas + 1), skipping
 * strings and their escapes. Malformed text passes when its shape is
 * small: jansson reports it next. */
static mesh_err borrow_shape(const char *body, size_t body_size, char *message)
{
    shape_level levels[NODE_BORROW_DEPTH_MAX + 1];
    memset(levels, 0, sizeof(levels));
    uint32_t depth = 0;
    bool in_string = false;
    bool escaped = false;
    bool member_start = false; /* the next token starts a member of the root object */
    bool capture = false;      /* the string being scanned is a root key */
    char root_key[FIELD_TEXT_SIZE] = "";
    uint32_t key_size = 0;
    char path[PATH_TEXT_SIZE];
    for (size_t i = 0; i < body_size; i++) {
        char c = body[i];
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
                capture = false;
                continue;
            }
            if (capture && key_size < FIELD_TEXT_SIZE - 1) {
                root_key[key_size++] = printable(c);
                root_key[key_size] = '\0';
            }
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            continue;
        }
        bool starts_member = member_start;
        member_start = false;
        if (c == '}' || c == ']') {
            // A mismatched bracket is jansson's to report.
            depth -= depth > 0 ? 1u : 0u;
            continue;
        }
        if (depth > 0) {
            shape_token(&levels[depth]);
        }
        if (c == '"') {
            in_string = true;
            capture = starts_member;
            if (capture) {
                key_size = 0;
                root_key[0] = '\0';
            }
        } else if (c == '{' || c == '[') {
            if (depth == NODE_BORROW_DEPTH_MAX) {
                shape_path(levels, depth, root_key, path);
                return invalid(message,
                               "%s: nests deeper than a borrow request can (at most %u levels: "
                               "{\"resources\": [{...}]})",
                               path, NODE_BORROW_DEPTH_MAX);
            }
            depth++;
            memset(&levels[depth], 0, sizeof(levels[depth]));
            levels[depth].array = c == '[';
            member_start = depth == 1 && c == '{';
        } else if (c == ',' && depth > 0) {
            shape_level *level = &levels[depth];
            uint32_t limit = level->array ? NODE_BORROW_ARRAY_MAX : NODE_BORROW_OBJECT_MAX;
            if (level->count >= limit) {
                shape_path(levels, depth, root_key, path);
                return invalid(
                    message, "%s: more than %u %s (no %s in a borrow request holds more)", path,
                    limit, level->array ? "items" : "keys", level->array ? "array" : "object");
            }
            level->count++;
            member_start = depth == 1 && !level->array;
        }
    }
    return MESH_OK;
}

static const char *const borrow_keys[] = {"resources",
                                          "duration_s",
                                          "start",
                                          "countries",
                                          "jurisdictions",
                                          "certifications",
                                          "data_class",
                                          "max_rtt_ms",
                                          "max_cost_microeur_per_hour",
                                          "max_carbon_gco2_per_kwh",
                                          "prefer",
                                          "lender",
                                          "no_split",
                                          "timeout_ms"};

static const char class_rule[] = "one of vcpu, memory_gib, storage_gib, gpu";

/* Refuses any key of object not in keys[]; path names the object ("" for
 * the root). */
static mesh_err borrow_keys_known(json_t *object,
                                  const char *path,
                                  const char *const *keys,
                                  uint32_t key_count,
                                  const char *key_list,
                                  char *message)
{
    const char *key = NULL;
    json_t *value = NULL;
    json_object_foreach(object, key, value)
    {
        bool known = false;
        for (uint32_t i = 0; i < key_count && !known; i++) {
            known = strcmp(key, keys[i]) == 0;
        }
        if (!known) {
            char quoted[FIELD_TEXT_SIZE];
            quote_text(key, quoted);
            return invalid(message, "%s%s%s: unknown key; the keys are %s", path,
                           path[0] != '\0' ? "." : "", quoted, key_list);
        }
    }
    return MESH_OK;
}

/* An optional whole number in min..max: *present_out says whether it was
 * there. range_text says the rule in the message ("1..10^12"). */
static mesh_err borrow_integer(json_t *value,
                               const char *path,
                               uint64_t min,
                               uint64_t max,
                               const char *range_text,
                               uint64_t *value_out,
                               char *message)
{
    if (!json_is_integer(value) || json_integer_value(value) < 0 ||
        (uint64_t) json_integer_value(value) < min || (uint64_t) json_integer_value(value) > max) {
        return invalid(message, "%s: must be a whole number in %s", path, range_text);
    }
    *value_out = (uint64_t) json_integer_value(value);
    return MESH_OK;
}

/* [a-z0-9-], 1..63 bytes, no '-' first or last: a member name, which
 * every node id ("fm" + 26 base32 letters) also is. */
static bool member_valid(const char *text)
{
    size_t size = strlen(text);
    if (size == 0 || size >= NODE_BORROW_MEMBER_SIZE || text[0] == '-' || text[size - 1] == '-') {
        return false;
    }
    for (size_t i = 0; i < size; i++) {
        char c = text[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return false;
        }
    }
    return true;
}

static const char member_rule[] =
    "must be a member name (1..63 of a-z 0-9 -, no - first or last) or a node id (fm...)";

static bool data_class_valid(const char *text)
{
    size_t size = strlen(text);
    if (size == 0 || size > WIRE_DATA_CLASS_SIZE_MAX) {
        return false;
    }
    for (size_t i = 0; i < size; i++) {
        char c = text[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return false;
        }
    }
    return true;
}

/* The set order of lease resource lines (wire_lease_request): class, then
 * model as strcmp orders it. */
static int resource_order(const wire_lease_resource *a, const wire_lease_resource *b)
{
    if (a->resource_class != b->resource_class) {
        return a->resource_class < b->resource_class ? -1 : 1;
    }
    return strcmp(a->model, b->model);
}

static mesh_err
borrow_resource(json_t *item, uint32_t index, wire_lease_resource *out, char *message)
{
    static const char *const keys[] = {"class", "model", "amount"};
    char path[PATH_TEXT_SIZE];
    (void) snprintf(path, sizeof(path), "resources[%u]", index);
    if (!json_is_object(item)) {
        return invalid(message,
                       "%s: must be an object {\"class\", \"amount\"} (and \"model\" "
                       "for gpu)",
                       path);
    }
    mesh_err err = borrow_keys_known(item, path, keys, MESH_ARRAY_COUNT(keys),
                                     "class, model, amount", message);
    if (err != MESH_OK) {
        return err;
    }
    json_t *class_value = json_object_get(item, "class");
    if (class_value == NULL) {
        return invalid(message, "%s.class: required: %s", path, class_rule);
    }
    const char *class_text = json_is_string(class_value) ? json_string_value(class_value) : "";
    for (uint32_t c = 1; c < MESH_ARRAY_COUNT(class_names); c++) {
        if (strcmp(class_text, class_names[c]) == 0) {
            out->resource_class = c;
        }
    }
    if (out->resource_class == 0) {
        return invalid(message, "%s.class: must be %s", path, class_rule);
    }
    json_t *model = json_object_get(item, "model");
    if (out->resource_class == WIRE_RESOURCE_GPU) {
        if (model == NULL) {
            return invalid(message, "%s.model: required for gpu: 1..%u characters [A-Za-z0-9._-]",
                           path, WIRE_MODEL_SIZE_MAX);
        }
        if (!json_is_string(model) || !node_config_model_valid(json_string_value(model))) {
            return invalid(message, "%s.model: must be 1..%u characters [A-Za-z0-9._-]", path,
                           WIRE_MODEL_SIZE_MAX);
        }
        memcpy(out->model, json_string_value(model), strlen(json_string_value(model)) + 1);
    } else if (model != NULL) {
        return invalid(message, "%s.model: only for class gpu", path);
    }
    json_t *amount = json_object_get(item, "amount");
    char field[PATH_TEXT_SIZE + 8];
    (void) snprintf(field, sizeof(field), "%s.amount", path);
    if (amount == NULL) {
        return invalid(message, "%s: required: a whole number in 1..10^12", field);
    }
    return borrow_integer(amount, field, 1, WIRE_AMOUNT_MAX, "1..10^12", &out->amount, message);
}

static mesh_err borrow_resources(json_t *root, node_borrow_request *draft, char *message)
{
    json_t *resources = json_object_get(root, "resources");
    if (resources == NULL) {
        return invalid(message, "resources: required: an array of 1..%u {\"class\", \"amount\"}",
                       WIRE_LEASE_RESOURCES_MAX);
    }
    if (!json_is_array(resources) || json_array_size(resources) == 0 ||
        json_array_size(resources) > WIRE_LEASE_RESOURCES_MAX) {
        return invalid(message, "resources: must be an array of 1..%u items",
                       WIRE_LEASE_RESOURCES_MAX);
    }
    uint32_t count = (uint32_t) json_array_size(resources);
    for (uint32_t i = 0; i < count; i++) {
        wire_lease_resource *line = &draft->resources[i];
        mesh_err err = borrow_resource(json_array_get(resources, i), i, line, message);
        if (err != MESH_OK) {
            return err;
        }
        for (uint32_t j = 0; j < i; j++) {
            if (resource_order(&draft->resources[j], line) == 0) {
                return invalid(message, "resources[%u]: repeats resources[%u] (%s%s%s)", i, j,
                               class_names[line->resource_class], line->model[0] ? " " : "",
                               line->model);
            }
        }
    }
    // Insertion sort into the wire's set order: at most 8 lines.
    for (uint32_t i = 1; i < count; i++) {
        wire_lease_resource line = draft->resources[i];
        uint32_t j = i;
        while (j > 0 && resource_order(&draft->resources[j - 1], &line) > 0) {
            draft->resources[j] = draft->resources[j - 1];
            j--;
        }
        draft->resources[j] = line;
    }
    draft->resource_count = count;
    return MESH_OK;
}

static bool leap_year(uint32_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* Days from 1970-01-01 to a date of the proleptic Gregorian calendar,
 * for years from 2000 (H. Hinnant's days_from_civil, shortened for
 * positive years). */
static int64_t days_from_civil(uint32_t year, uint32_t month, uint32_t day)
{
    uint32_t y = month <= 2 ? year - 1 : year;
    uint32_t era = y / 400;
    uint32_t year_of_era = y - era * 400;
    uint32_t month_from_march = month > 2 ? month - 3 : month + 9;
    uint32_t day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    uint32_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return (int64_t) era * 146097 + (int64_t) day_of_era - 719468;
}

/* Reads `digits` decimal digits at text; false on anything else. */
static bool digits_value(const char *text, uint32_t digits, uint32_t *value_out)
{
    uint32_t value = 0;
    for (uint32_t i = 0; i < digits; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
        value = value * 10 + (uint32_t) (text[i] - '0');
    }
    *value_out = value;
    return true;
}

/* "2026-12-05T10:00:00Z": RFC 3339 in UTC with whole seconds, years
 * 2000..2199 (int64 nanoseconds end in 2262). */
static bool start_parse(const char *text, int64_t *start_ns_out)
{
    static const uint8_t month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
    if (strlen(text) != sizeof(shape) - 1) {
        return false;
    }
    for (uint32_t i = 0; i < sizeof(shape) - 1; i++) {
        if (shape[i] != 'd' && text[i] != shape[i]) {
            return false;
        }
    }
    uint32_t year = 0;
    uint32_t month = 0;
    uint32_t day = 0;
    uint32_t hour = 0;
    uint32_t minute = 0;
    uint32_t second = 0;
    if (!digits_value(text, 4, &year) || !digits_value(text + 5, 2, &month) ||
        !digits_value(text + 8, 2, &day) || !digits_value(text + 11, 2, &hour) ||
        !digits_value(text + 14, 2, &minute) || !digits_value(text + 17, 2, &second)) {
        return false;
    }
    if (year < 2000 || year > 2199 || month < 1 || month > 12 || day < 1 || hour > 23 ||
        minute > 59 || second > 59) {
        return false;
    }
    uint32_t days_max = month_days[month - 1] + (month == 2 && leap_year(year) ? 1u : 0u);
    if (day > days_max) {
        return false;
    }
    int64_t seconds =
        days_from_civil(year, month, day) * 86400 + (int64_t) (hour * 3600 + minute * 60 + second);
    *start_ns_out = seconds * 1000000000;
    return true;
}

/* A set of two-letter codes: each passes rule, none twice; sorted into
 * codes_out. */
static mesh_err borrow_codes(json_t *array,
                             const char *key,
                             uint32_t count_max,
                             bool allow_eu,
                             char (*codes_out)[3],
                             uint32_t *count_out,
                             char *message)
{
    const char *rule = allow_eu ? "ISO 3166-1 alpha-2 codes or EU" : "ISO 3166-1 alpha-2 codes";
    if (!json_is_array(array) || json_array_size(array) > count_max) {
        return invalid(message, "%s: must be an array of 0..%u %s", key, count_max, rule);
    }
    uint32_t count = (uint32_t) json_array_size(array);
    for (uint32_t i = 0; i < count; i++) {
        json_t *value = json_array_get(array, i);
        const char *code = json_is_string(value) ? json_string_value(value) : "";
        bool valid = strlen(code) == 2 &&
                     (wire_country_valid(code) || (allow_eu && strcmp(code, "EU") == 0));
        if (!json_is_string(value)) {
            return invalid(message, "%s[%u]: must be a string: one of the %s", key, i, rule);
        }
        if (!valid) {
            char quoted[FIELD_TEXT_SIZE];
            quote_text(code, quoted);
            return invalid(message, "%s[%u]: '%s' is not one of the %s (upper case, e.g. FR)", key,
                           i, quoted, rule);
        }
        for (uint32_t j = 0; j < i; j++) {
            if (strcmp(json_string_value(json_array_get(array, j)), code) == 0) {
                return invalid(message, "%s[%u]: repeats %s[%u] (%s)", key, i, key, j, code);
            }
        }
        // Insertion into place: the set is sorted as the wire wants it.
        uint32_t at = i;
        while (at > 0 && strcmp(codes_out[at - 1], code) > 0) {
            memcpy(codes_out[at], codes_out[at - 1], 3);
            at--;
        }
        memcpy(codes_out[at], code, 3);
    }
    *count_out = count;
    return MESH_OK;
}

static mesh_err borrow_certifications(json_t *array, uint32_t *bits_out, char *message)
{
    if (!json_is_array(array) || json_array_size(array) > WIRE_CERTIFICATION_COUNT) {
        return invalid(message, "certifications: must be an array of 0..%u names",
                       WIRE_CERTIFICATION_COUNT);
    }
    uint32_t bits = 0;
    for (uint32_t i = 0; i < (uint32_t) json_array_size(array); i++) {
        json_t *value = json_array_get(array, i);
        uint32_t bit = 0;
        if (!json_is_string(value) ||
            wire_certification_parse(json_string_value(value), &bit) != MESH_OK) {
            return invalid(message,
                           "certifications[%u]: must be one of SecNumCloud, C5, HDS, ISO27001, "
                           "EUCS-basic, EUCS-substantial, EUCS-high",
                           i);
        }
        if ((bits & bit) != 0) {
            return invalid(message, "certifications[%u]: repeats %s", i,
                           wire_certification_name(bit));
        }
        bits |= bit;
    }
    *bits_out = bits;
    return MESH_OK;
}

static mesh_err borrow_prefer(json_t *array, node_borrow_request *draft, char *message)
{
    if (!json_is_array(array) || json_array_size(array) > NODE_BORROW_PREFER_MAX) {
        return invalid(message, "prefer: must be an array of 0..%u member names or node ids",
                       NODE_BORROW_PREFER_MAX);
    }
    uint32_t count = (uint32_t) json_array_size(array);
    for (uint32_t i = 0; i < count; i++) {
        json_t *value = json_array_get(array, i);
        if (!json_is_string(value) || !member_valid(json_string_value(value))) {
            return invalid(message, "prefer[%u]: %s", i, member_rule);
        }
        const char *member = json_string_value(value);
        for (uint32_t j = 0; j < i; j++) {
            if (strcmp(draft->prefer[j], member) == 0) {
                return invalid(message, "prefer[%u]: repeats prefer[%u] (%s)", i, j, member);
            }
        }
        memcpy(draft->prefer[i], member, strlen(member) + 1);
    }
    draft->prefer_count = count;
    return MESH_OK;
}

/* The optional scalar fields, in the order of the schema. */
static mesh_err borrow_limits(json_t *root, node_borrow_request *draft, char *message)
{
    uint64_t value = 0;
    json_t *field = json_object_get(root, "data_class");
    if (field != NULL) {
        if (!json_is_string(field) || !data_class_valid(json_string_value(field))) {
            return invalid(message, "data_class: must be 1..%u characters [a-z0-9-]",
                           WIRE_DATA_CLASS_SIZE_MAX);
        }
        memcpy(draft->constraints.data_class, json_string_value(field),
               strlen(json_string_value(field)) + 1);
    }
    mesh_err err = MESH_OK;
    if ((field = json_object_get(root, "max_rtt_ms")) != NULL) {
        err = borrow_integer(field, "max_rtt_ms", 1, NODE_BORROW_RTT_MS_MAX, "1..60000", &value,
                             message);
        draft->constraints.rtt_us_max = (uint32_t) (value * 1000u);
    }
    if (err == MESH_OK && (field = json_object_get(root, "max_cost_microeur_per_hour")) != NULL) {
        err = borrow_integer(field, "max_cost_microeur_per_hour", 1, WIRE_PRICE_MAX, "1..10^12",
                             &draft->constraints.cost_microeur_per_hour_max, message);
    }
    if (err == MESH_OK && (field = json_object_get(root, "max_carbon_gco2_per_kwh")) != NULL) {
        err = borrow_integer(field, "max_carbon_gco2_per_kwh", 1, WIRE_CARBON_MAX, "1..5000",
                             &value, message);
        draft->constraints.carbon_gco2_per_kwh_max = (uint32_t) value;
    }
    return err;
}

static mesh_err borrow_walk(json_t *root, node_borrow_request *draft, char *message)
{
    if (!json_is_object(root)) {
        return invalid(message,
                       "body: must be a JSON object with \"resources\" and \"duration_s\"");
    }
    mesh_err err = borrow_keys_known(root, "", borrow_keys, MESH_ARRAY_COUNT(borrow_keys),
                                     "resources, duration_s, start, countries, jurisdictions, "
                                     "certifications, data_class, max_rtt_ms, "
                                     "max_cost_microeur_per_hour, max_carbon_gco2_per_kwh, "
                                     "prefer, lender, no_split, timeout_ms",
                                     message);
    if (err == MESH_OK) {
        err = borrow_resources(root, draft, message);
    }
    if (err != MESH_OK) {
        return err;
    }
    uint64_t value = 0;
    json_t *field = json_object_get(root, "duration_s");
    if (field == NULL) {
        return invalid(message, "duration_s: required: whole seconds in 1..%u",
                       NODE_BORROW_DURATION_S_MAX);
    }
    err = borrow_integer(field, "duration_s", 1, NODE_BORROW_DURATION_S_MAX, "1..31622400", &value,
                         message);
    if (err != MESH_OK) {
        return err;
    }
    draft->duration_ns = value * 1000000000u;
    if ((field = json_object_get(root, "start")) != NULL &&
        (!json_is_string(field) || !start_parse(json_string_value(field), &draft->start_ns))) {
        return invalid(message, "start: must be a UTC time like 2026-12-05T10:00:00Z (RFC 3339, "
                                "whole seconds, Z, years 2000..2199)");
    }
    if ((field = json_object_get(root, "countries")) != NULL) {
        err =
            borrow_codes(field, "countries", WIRE_LEASE_COUNTRIES_MAX, false,
                         draft->constraints.countries, &draft->constraints.country_count, message);
    }
    if (err == MESH_OK && (field = json_object_get(root, "jurisdictions")) != NULL) {
        err = borrow_codes(field, "jurisdictions", WIRE_JURISDICTIONS_MAX, true,
                           draft->constraints.jurisdictions, &draft->constraints.jurisdiction_count,
                           message);
    }
    if (err == MESH_OK && (field = json_object_get(root, "certifications")) != NULL) {
        err = borrow_certifications(field, &draft->constraints.certifications, message);
    }
    if (err == MESH_OK) {
        err = borrow_limits(root, draft, message);
    }
    if (err == MESH_OK && (field = json_object_get(root, "prefer")) != NULL) {
        err = borrow_prefer(field, draft, message);
    }
    if (err != MESH_OK) {
        return err;
    }
    if ((field = json_object_get(root, "lender")) != NULL) {
        if (json_object_get(root, "prefer") != NULL) {
            return invalid(message, "lender: not together with prefer (pin one lender, or list "
                                    "the ones you prefer)");
        }
        if (!json_is_string(field) || !member_valid(json_string_value(field))) {
            return invalid(message, "lender: %s", member_rule);
        }
        memcpy(draft->lender, json_string_value(field), strlen(json_string_value(field)) + 1);
    }
    if ((field = json_object_get(root, "no_split")) != NULL) {
        if (!json_is_boolean(field)) {
            return invalid(message, "no_split: must be true or false");
        }
        draft->no_split = json_is_true(field);
    }
    if ((field = json_object_get(root, "timeout_ms")) != NULL) {
        err = borrow_integer(field, "timeout_ms", 1, NODE_BORROW_TIMEOUT_MS_MAX, "1..600000",
                             &value, message);
        draft->timeout_ns = value * 1000000u;
    }
    return err;
}

mesh_err node_http_parse_borrow(const char *body,
                                size_t body_size,
                                node_borrow_request *borrow_out,
                                char message_out[NODE_HTTP_MESSAGE_SIZE])
{
    MESH_ASSERT(body != NULL || body_size == 0);
    MESH_ASSERT(borrow_out != NULL && message_out != NULL);
    const char *text = body != NULL ? body : "";
    mesh_err err = borrow_shape(text, body_size, message_out);
    if (err != MESH_OK) {
        return err;
    }
    json_error_t json_error;
    json_t *root = json_loadb(text, body_size, JSON_REJECT_DUPLICATES, &json_error);
    if (root == NULL) {
        (void) snprintf(message_out, NODE_HTTP_MESSAGE_SIZE, "%s (line %d, column %d)",
                        json_error.text, json_error.line, json_error.column);
        return MESH_EPROTO;
    }
    // Zeroed whole, padding included: the loop may hash or encode it.
    node_borrow_request draft;
    memset(&draft, 0, sizeof(draft));
    err = borrow_walk(root, &draft, message_out);
    json_decref(root);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(draft.resource_count >= 1 && draft.resource_count <= WIRE_LEASE_RESOURCES_MAX);
    MESH_ASSERT(draft.prefer_count == 0 || draft.lender[0] == '\0');
    memcpy(borrow_out, &draft, sizeof(draft));
    return MESH_OK;
}

/* ------------------------------------------------------------------ */
/* Reconcile requests. */

mesh_err node_http_parse_reconcile(const char *body,
                                   size_t body_size,
                                   node_reconcile_request *request_out,
                                   char message_out[NODE_HTTP_MESSAGE_SIZE])
{
    MESH_ASSERT(body != NULL || body_size == 0);
    MESH_ASSERT(request_out != NULL && message_out != NULL);
    json_error_t json_error;
    json_t *root =
        json_loadb(body != NULL ? body : "", body_size, JSON_REJECT_DUPLICATES, &json_error);
    if (root == NULL) {
        (void) snprintf(message_out, NODE_HTTP_MESSAGE_SIZE, "%s (line %d, column %d)",
                        json_error.text, json_error.line, json_error.column);
        return MESH_EPROTO;
    }
    static const char *const keys[] = {"peer", "timeout_ms"};
    node_reconcile_request draft;
    memset(&draft, 0, sizeof(draft));
    draft.timeout_ns = NODE_RECONCILE_TIMEOUT_MS_DEFAULT * MESH_NS_PER_MS;
    mesh_err err = MESH_OK;
    json_t *field = NULL;
    if (!json_is_object(root)) {
        err = invalid(message_out, "the body must be a JSON object: {\"peer\": \"NAME\"}");
    }
    if (err == MESH_OK) {
        err = borrow_keys_known(root, "", keys, MESH_ARRAY_COUNT(keys), "peer, timeout_ms",
                                message_out);
    }
    if (err == MESH_OK) {
        field = json_object_get(root, "peer");
        if (field == NULL) {
            err = invalid(message_out, "peer: required (a member name or node id)");
        } else if (!json_is_string(field) || !member_valid(json_string_value(field))) {
            err = invalid(message_out, "peer: %s", member_rule);
        } else {
            memcpy(draft.peer, json_string_value(field), strlen(json_string_value(field)) + 1);
        }
    }
    if (err == MESH_OK && (field = json_object_get(root, "timeout_ms")) != NULL) {
        uint64_t value = 0;
        err = borrow_integer(field, "timeout_ms", 1, NODE_RECONCILE_TIMEOUT_MS_MAX, "1..600000",
                             &value, message_out);
        draft.timeout_ns = value * MESH_NS_PER_MS;
    }
    json_decref(root);
    if (err == MESH_OK) {
        *request_out = draft;
    }
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
