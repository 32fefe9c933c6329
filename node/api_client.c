/*
 * node/api_client.c: the CLI's client of the agent's HTTP API
 * (api_client_int.h): NNG's HTTP client, one exchange per call, bounded by
 * the caller's timeout.
 */
#define _POSIX_C_SOURCE 200809L

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <sodium.h>

#include "node/api_client_int.h"
#include "node/node_int.h"

bool node_api_read_token(const char *command, const char *path, node_api_target *target)
{
    char error[NODE_HTTP_MESSAGE_SIZE];
    uint8_t token[NODE_HTTP_TOKEN_SIZE_MAX];
    uint32_t size = 0;
    if (node_http_token_load(path, token, &size, error) != MESH_OK) {
        node_say_error(command, "%s", error);
        return false;
    }
    MESH_ASSERT(size < sizeof(target->token));
    memcpy(target->token, token, size);
    target->token[size] = '\0';
    sodium_memzero(token, sizeof(token));
    return true;
}

bool node_api_target_from_config(const char *command, const char *path, node_api_target *target)
{
    node_config *config = calloc(1, sizeof(*config));
    char error[NODE_CONFIG_ERROR_SIZE];
    if (config == NULL) {
        node_say_error(command, "out of memory");
        return false;
    }
    if (node_config_load(path, config, error) != MESH_OK) {
        node_say_error(command, "%s", error);
        free(config);
        return false;
    }
    if (config->http_listen[0] == '\0') {
        node_say_error(command, "%s has no [http] listen; the agent serves no API to ask", path);
        free(config);
        return false;
    }
    (void) snprintf(target->url, sizeof(target->url), "%s", config->http_listen);
    bool ok = node_api_read_token(command, config->http_token_file, target);
    free(config);
    return ok;
}

// One exchange. *body_out (NUL-terminated, free()) and *status_out on MESH_OK.
mesh_err node_api_exchange(const char *command,
                           const node_api_target *target,
                           const char *method,
                           const char *path,
                           const char *body,
                           uint32_t timeout_ms,
                           uint16_t *status_out,
                           char **body_out)
{
    char address[NODE_CONFIG_ENDPOINT_SIZE + 128];
    (void) snprintf(address, sizeof(address), "%s%s", target->url, path);
    nng_url *url = NULL;
    nng_http_client *client = NULL;
    nng_http_req *req = NULL;
    nng_http_res *res = NULL;
    nng_aio *aio = NULL;
    mesh_err result = MESH_ETRANSPORT;
    int rv = nng_url_parse(&url, address);
    if (rv == 0) {
        rv = nng_http_client_alloc(&client, url);
    }
    if (rv == 0) {
        rv = nng_http_req_alloc(&req, url);
    }
    if (rv == 0) {
        rv = nng_http_res_alloc(&res);
    }
    if (rv == 0) {
        rv = nng_aio_alloc(&aio, NULL, NULL);
    }
    char authorization[NODE_HTTP_TOKEN_SIZE_MAX + 16];
    (void) snprintf(authorization, sizeof(authorization), "Bearer %s", target->token);
    if (rv == 0) {
        rv = nng_http_req_set_method(req, method);
    }
    if (rv == 0) {
        rv = nng_http_req_set_header(req, "Authorization", authorization);
    }
    if (rv == 0 && body != NULL) {
        rv = nng_http_req_set_header(req, "Content-Type", "application/json");
        if (rv == 0) {
            rv = nng_http_req_copy_data(req, body, strlen(body));
        }
    }
    if (rv != 0) {
        node_say_error(command, "cannot ask %s: %s", address, nng_strerror(rv));
        goto out_free;
    }
    nng_aio_set_timeout(aio, (nng_duration) timeout_ms);
    nng_http_client_transact(client, req, res, aio);
    nng_aio_wait(aio);
    rv = nng_aio_result(aio);
    if (rv != 0) {
        node_say_error(command, "%s: %s; is the agent running with [http] listen = %s?", address,
                       nng_strerror(rv), target->url);
        goto out_free;
    }
    void *data = NULL;
    size_t size = 0;
    nng_http_res_get_data(res, &data, &size);
    char *text = malloc(size + 1);
    if (text == NULL) {
        result = MESH_ENOMEM;
        goto out_free;
    }
    if (size > 0) {
        memcpy(text, data, size);
    }
    text[size] = '\0';
    *status_out = nng_http_res_get_status(res);
    *body_out = text;
    result = MESH_OK;
out_free:
    nng_aio_free(aio);
    nng_http_res_free(res);
    nng_http_req_free(req);
    nng_http_client_free(client);
    nng_url_free(url);
    return result;
}

// An error answer: prints its message; returns the exit code.
int node_api_say_error(const char *command, uint16_t status, const char *text)
{
    json_t *root = json_loads(text, 0, NULL);
    const char *message = NULL;
    json_t *error = json_object_get(root, "error");
    if (error != NULL) {
        message = json_string_value(json_object_get(error, "message"));
    }
    node_say_error(command, "the agent answered %u: %s", status, message != NULL ? message : text);
    json_decref(root);
    return status == 400 ? NODE_EXIT_USAGE : status == 404 ? NODE_EXIT_INPUT : NODE_EXIT_INTERNAL;
}
