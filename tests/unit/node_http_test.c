/*
 * tests/unit/node_http_test.c: the pure half of the HTTP API
 * (node/http_parse.c): routing (404 against 405, HEAD, query strings,
 * lease ids), bearer tokens (scheme, length, one wrong byte), the token
 * file (mode, size, characters), load report validation (every refusal
 * names its field), error bodies, and the [http] config keys.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "node/config_int.h"
#include "node/http_int.h"

static node_http_match route(const char *method, const char *uri, node_http_route *r)
{
    const char *allow = NULL;
    return node_http_route_find(method, uri, r, &allow);
}

static void test_routes(void **state)
{
    (void) state;
    static const struct {
        const char *method;
        const char *uri;
        node_http_route route;
    } found[] = {
        {"GET", "/v1/status", NODE_HTTP_ROUTE_STATUS},
        {"HEAD", "/v1/status", NODE_HTTP_ROUTE_STATUS},
        {"GET", "/v1/status?pretty=1", NODE_HTTP_ROUTE_STATUS},
        {"GET", "/v1/peers", NODE_HTTP_ROUTE_PEERS},
        {"GET", "/v1/ledger/balances", NODE_HTTP_ROUTE_BALANCES},
        {"GET", "/v1/leases", NODE_HTTP_ROUTE_LEASES},
        {"POST", "/v1/leases", NODE_HTTP_ROUTE_LEASE_CREATE},
        {"DELETE", "/v1/leases/l-0123_ab", NODE_HTTP_ROUTE_LEASE_DELETE},
        {"POST", "/v1/load", NODE_HTTP_ROUTE_LOAD},
        {"GET", "/metrics", NODE_HTTP_ROUTE_METRICS},
    };
    for (size_t i = 0; i < sizeof(found) / sizeof(found[0]); i++) {
        node_http_route r = NODE_HTTP_ROUTE_NONE;
        assert_int_equal(route(found[i].method, found[i].uri, &r), NODE_HTTP_MATCH_OK);
        assert_int_equal(r, found[i].route);
    }
}

static void test_not_found_and_bad_method(void **state)
{
    (void) state;
    static const char *const missing[] = {"/",
                                          "",
                                          "/v1",
                                          "/v1/status/",
                                          "/v1/statusx",
                                          "/V1/status",
                                          "/v1/leases/",
                                          "/v1/leases/a/b",
                                          "/v1/leases/a%2Fb",
                                          "/v1/leases/"
                                          "0123456789012345678901234567890123456789012345678901234"
                                          "56789012345",
                                          "/metrics/x"};
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        node_http_route r = NODE_HTTP_ROUTE_NONE;
        assert_int_equal(route("GET", missing[i], &r), NODE_HTTP_MATCH_NOT_FOUND);
        assert_int_equal(route("DELETE", missing[i], &r), NODE_HTTP_MATCH_NOT_FOUND);
    }
    char long_path[1024];
    memset(long_path, 'a', sizeof(long_path) - 1);
    long_path[0] = '/';
    long_path[sizeof(long_path) - 1] = '\0';
    node_http_route r = NODE_HTTP_ROUTE_NONE;
    assert_int_equal(route("GET", long_path, &r), NODE_HTTP_MATCH_NOT_FOUND);

    const char *allow = NULL;
    assert_int_equal(node_http_route_find("POST", "/v1/status", &r, &allow),
                     NODE_HTTP_MATCH_BAD_METHOD);
    assert_string_equal(allow, "GET");
    assert_int_equal(node_http_route_find("GET", "/v1/load", &r, &allow),
                     NODE_HTTP_MATCH_BAD_METHOD);
    assert_string_equal(allow, "POST");
    assert_int_equal(node_http_route_find("PUT", "/v1/leases", &r, &allow),
                     NODE_HTTP_MATCH_BAD_METHOD);
    assert_string_equal(allow, "GET, POST");
    assert_int_equal(node_http_route_find("GET", "/v1/leases/abc", &r, &allow),
                     NODE_HTTP_MATCH_BAD_METHOD);
    assert_string_equal(allow, "DELETE");
}

static const uint8_t token[] = "0123456789abcdefXYZ";
#define TOKEN_SIZE ((uint32_t) sizeof(token) - 1)

static void test_token_matches(void **state)
{
    (void) state;
    assert_true(node_http_token_matches("Bearer 0123456789abcdefXYZ", token, TOKEN_SIZE));
    assert_true(node_http_token_matches("bearer 0123456789abcdefXYZ", token, TOKEN_SIZE));
    assert_false(node_http_token_matches(NULL, token, TOKEN_SIZE));
    assert_false(node_http_token_matches("", token, TOKEN_SIZE));
    assert_false(node_http_token_matches("Bearer", token, TOKEN_SIZE));
    assert_false(node_http_token_matches("Bearer ", token, TOKEN_SIZE));
    assert_false(node_http_token_matches("Basic 0123456789abcdefXYZ", token, TOKEN_SIZE));
    assert_false(node_http_token_matches("Bearer 0123456789abcdefXY", token, TOKEN_SIZE));
    assert_false(node_http_token_matches("Bearer 0123456789abcdefXYZZ", token, TOKEN_SIZE));
    assert_false(node_http_token_matches("Bearer 1123456789abcdefXYZ", token, TOKEN_SIZE));
    assert_false(node_http_token_matches("Bearer 0123456789abcdefXYz", token, TOKEN_SIZE));
    assert_false(node_http_token_matches("Bearer0123456789abcdefXYZ", token, TOKEN_SIZE));
}

static const char *tmp_path(const char *name)
{
    static char path[512];
    const char *dir = getenv("MESH_TEST_TMPDIR");
    (void) snprintf(path, sizeof(path), "%s/node_http_%ld_%s", dir != NULL ? dir : "/tmp",
                    (long) getpid(), name);
    return path;
}

static mesh_err load_token_file(const char *content, mode_t mode, uint32_t *size_out)
{
    const char *path = tmp_path("token");
    (void) unlink(path);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    assert_int_equal(fputs(content, file) >= 0, 1);
    assert_int_equal(fclose(file), 0);
    assert_int_equal(chmod(path, mode), 0);
    uint8_t out[NODE_HTTP_TOKEN_SIZE_MAX];
    char error[NODE_HTTP_MESSAGE_SIZE];
    mesh_err err = node_http_token_load(path, out, size_out, error);
    (void) unlink(path);
    return err;
}

static void test_token_file(void **state)
{
    (void) state;
    uint32_t size = 0;
    assert_int_equal(load_token_file("abcdefghijklmnop\n", 0600, &size), MESH_OK);
    assert_int_equal(size, 16);
    assert_int_equal(load_token_file("abcdefghijklmnopQRS+/=_-.~", 0400, &size), MESH_OK);
    assert_int_equal(size, 26);
    assert_int_equal(load_token_file("abcdefghijklmnop\n", 0640, &size), MESH_EAUTH);
    assert_int_equal(load_token_file("abcdefghijklmnop\n", 0604, &size), MESH_EAUTH);
    assert_int_equal(load_token_file("short\n", 0600, &size), MESH_EINVAL);
    assert_int_equal(load_token_file("\n", 0600, &size), MESH_EINVAL);
    assert_int_equal(load_token_file("abcdefgh ijklmnop\n", 0600, &size), MESH_EINVAL);
    assert_int_equal(load_token_file("abcdefghijklmnop\"\n", 0600, &size), MESH_EINVAL);
    char big[NODE_HTTP_TOKEN_SIZE_MAX + 8];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(load_token_file(big, 0600, &size), MESH_EINVAL);
    big[NODE_HTTP_TOKEN_SIZE_MAX] = '\0';
    assert_int_equal(load_token_file(big, 0600, &size), MESH_OK);
    assert_int_equal(size, NODE_HTTP_TOKEN_SIZE_MAX);
    uint8_t out[NODE_HTTP_TOKEN_SIZE_MAX];
    char error[NODE_HTTP_MESSAGE_SIZE];
    assert_int_equal(node_http_token_load(tmp_path("missing"), out, &size, error), MESH_EIO);
}

static void test_loopback(void **state)
{
    (void) state;
    assert_true(node_http_listen_is_loopback("http://127.0.0.1:8750"));
    assert_true(node_http_listen_is_loopback("http://127.1.2.3:8750"));
    assert_true(node_http_listen_is_loopback("http://[::1]:8750"));
    assert_true(node_http_listen_is_loopback("http://localhost:8750"));
    assert_false(node_http_listen_is_loopback("http://0.0.0.0:8750"));
    assert_false(node_http_listen_is_loopback("http://10.0.0.1:8750"));
    assert_false(node_http_listen_is_loopback("http://localhost.example.eu:8750"));
    assert_false(node_http_listen_is_loopback("tcp://127.0.0.1:8750"));
}

static node_load_report report;
static char message[NODE_HTTP_MESSAGE_SIZE];

static mesh_err parse_load(const char *body)
{
    return node_http_parse_load(body, strlen(body), &report, message);
}

static void test_load_valid(void **state)
{
    (void) state;
    assert_int_equal(parse_load("{\"scheduler\":\"slurm-par1\",\"resources\":["
                                "{\"class\":\"vcpu\",\"queued\":120,\"running\":800},"
                                "{\"class\":\"gpu\",\"model\":\"H100-80GB\",\"queued\":4,"
                                "\"running\":16},"
                                "{\"class\":\"gpu\",\"model\":\"L40S\",\"queued\":0,\"running\":0},"
                                "{\"class\":\"memory_gib\",\"queued\":0,\"running\":1000000000000},"
                                "{\"class\":\"storage_gib\",\"queued\":1,\"running\":2}]}"),
                     MESH_OK);
    assert_string_equal(report.scheduler, "slurm-par1");
    assert_int_equal(report.item_count, 5);
    assert_int_equal(report.items[0].resource_class, WIRE_RESOURCE_VCPU);
    assert_int_equal(report.items[0].queued, 120);
    assert_int_equal(report.items[1].resource_class, WIRE_RESOURCE_GPU);
    assert_string_equal(report.items[1].model, "H100-80GB");
    assert_int_equal(report.items[3].running, 1000000000000ull);
    assert_int_equal(
        parse_load("{\"resources\":[{\"class\":\"vcpu\",\"queued\":0,\"running\":0}]}"), MESH_OK);
    assert_string_equal(report.scheduler, "");
}

static void expect_refused(mesh_err want, const char *body, const char *fragment)
{
    node_load_report before;
    memset(&report, 0x5a, sizeof(report));
    before = report;
    mesh_err err = parse_load(body);
    if (err != want || strstr(message, fragment) == NULL) {
        print_error("body: %s\nmessage: %s (%s)\nwanted: %s (%s)\n", body, message,
                    mesh_err_name(err), fragment, mesh_err_name(want));
        fail();
    }
    // Untouched on failure.
    assert_memory_equal(&before, &report, sizeof(report));
}

static void test_load_refused(void **state)
{
    (void) state;
    expect_refused(MESH_EPROTO, "", "line 1");
    expect_refused(MESH_EPROTO, "{", "line 1");
    expect_refused(MESH_EPROTO, "{\"resources\": [1,", "line 1");
    expect_refused(MESH_EPROTO, "{\"resources\":[],\"resources\":[]}", "duplicate");
    expect_refused(MESH_EPROTO, "{} trailing", "end of file");
    expect_refused(MESH_EINVAL, "[]", "JSON object");
    expect_refused(MESH_EINVAL, "{}", "resources must be an array");
    expect_refused(MESH_EINVAL, "{\"resources\":[]}", "1..16 items");
    expect_refused(MESH_EINVAL, "{\"resources\":{}}", "resources must be an array");
    expect_refused(MESH_EINVAL, "{\"resources\":[1]}", "resources[0] must be an object");
    expect_refused(MESH_EINVAL, "{\"x\":1,\"resources\":[]}", "unknown key 'x'");
    expect_refused(MESH_EINVAL, "{\"resources\":[{\"queued\":1,\"running\":1}]}",
                   "resources[0].class is required");
    expect_refused(MESH_EINVAL, "{\"resources\":[{\"class\":\"tpu\",\"queued\":1,\"running\":1}]}",
                   "'tpu' is not");
    expect_refused(MESH_EINVAL, "{\"resources\":[{\"class\":\"vcpu\",\"running\":1}]}",
                   "resources[0].queued is required");
    expect_refused(MESH_EINVAL,
                   "{\"resources\":[{\"class\":\"vcpu\",\"queued\":-1,\"running\":1}]}",
                   "resources[0].queued must be a whole number");
    expect_refused(MESH_EINVAL,
                   "{\"resources\":[{\"class\":\"vcpu\",\"queued\":1.5,\"running\":1}]}",
                   "queued must be a whole number");
    expect_refused(MESH_EINVAL,
                   "{\"resources\":[{\"class\":\"vcpu\",\"queued\":\"1\",\"running\":1}]}",
                   "queued must be a whole number");
    expect_refused(MESH_EINVAL,
                   "{\"resources\":[{\"class\":\"vcpu\",\"queued\":1000000000001,\"running\":1}]}",
                   "0..10^12");
    expect_refused(MESH_EINVAL,
                   "{\"resources\":[{\"class\":\"vcpu\",\"queued\":1,\"running\":1,\"y\":2}]}",
                   "unknown key 'y'");
    expect_refused(MESH_EINVAL, "{\"resources\":[{\"class\":\"gpu\",\"queued\":1,\"running\":1}]}",
                   "model is required for gpu");
    expect_refused(MESH_EINVAL,
                   "{\"resources\":[{\"class\":\"gpu\",\"model\":\"H 100\",\"queued\":1,"
                   "\"running\":1}]}",
                   "model is required for gpu");
    expect_refused(MESH_EINVAL,
                   "{\"resources\":[{\"class\":\"vcpu\",\"model\":\"x\",\"queued\":1,"
                   "\"running\":1}]}",
                   "only for class gpu");
    expect_refused(MESH_EINVAL,
                   "{\"resources\":[{\"class\":\"vcpu\",\"queued\":1,\"running\":1},"
                   "{\"class\":\"vcpu\",\"queued\":2,\"running\":2}]}",
                   "resources[1] repeats resources[0]");
    expect_refused(MESH_EINVAL,
                   "{\"scheduler\":\"\",\"resources\":[{\"class\":\"vcpu\",\"queued\":1,"
                   "\"running\":1}]}",
                   "scheduler must be");
    expect_refused(MESH_EINVAL,
                   "{\"scheduler\":7,\"resources\":[{\"class\":\"vcpu\",\"queued\":1,"
                   "\"running\":1}]}",
                   "scheduler must be");
    // Seventeen items: one over the bound.
    char many[4096];
    int at = snprintf(many, sizeof(many), "{\"resources\":[");
    for (int i = 0; i < 17; i++) {
        at += snprintf(many + at, sizeof(many) - (size_t) at,
                       "%s{\"class\":\"gpu\",\"model\":\"m%d\",\"queued\":1,\"running\":1}",
                       i > 0 ? "," : "", i);
    }
    (void) snprintf(many + at, sizeof(many) - (size_t) at, "]}");
    expect_refused(MESH_EINVAL, many, "1..16 items");
    // Bytes that are not UTF-8, and a NUL inside the body.
    expect_refused(MESH_EPROTO, "{\"scheduler\":\"\xff\"}", "unable to decode byte 0xff");
    static const char with_nul[] = "{\"resources\":[]}\0{}";
    assert_int_equal(node_http_parse_load(with_nul, sizeof(with_nul) - 1, &report, message),
                     MESH_EPROTO);
}

static void test_error_body(void **state)
{
    (void) state;
    char *body = node_http_error_body("bad_json", "quote \" and \\ and \n newline");
    assert_non_null(body);
    assert_string_equal(body, "{\"error\":{\"code\":\"bad_json\",\"message\":\"quote \\\" and "
                              "\\\\ and \\n newline\"}}");
    free(body);
    assert_string_equal(node_http_class_name(WIRE_RESOURCE_STORAGE_GIB), "storage_gib");
    assert_string_equal(node_http_class_name(99), "");
}

static const char base_config[] = "[node]\n"
                                  "name = fr-par-1\n"
                                  "key_file = node.key\n"
                                  "certificate_file = node.cert\n"
                                  "root_public_key_file = root.pub\n"
                                  "listen = tcp://127.0.0.1:7400\n";

static mesh_err parse_config(const char *http, node_config *config, char *error)
{
    char text[2048];
    (void) snprintf(text, sizeof(text), "%s%s", base_config, http);
    return node_config_parse(text, (uint32_t) strlen(text), "/srv/fm/node.ini", config, error);
}

static void test_config_keys(void **state)
{
    (void) state;
    static node_config config;
    char error[NODE_CONFIG_ERROR_SIZE];
    assert_int_equal(parse_config("", &config, error), MESH_OK);
    assert_string_equal(config.http_listen, "");
    assert_int_equal(config.http_body_max, NODE_CONFIG_HTTP_BODY_MAX_DEFAULT);
    assert_int_equal(parse_config("[http]\nlisten = http://127.0.0.1:8750\ntoken_file = t\n"
                                  "body_max = 1024\n",
                                  &config, error),
                     MESH_OK);
    assert_string_equal(config.http_listen, "http://127.0.0.1:8750");
    assert_string_equal(config.http_token_file, "/srv/fm/t");
    assert_int_equal(config.http_body_max, 1024);
    assert_int_equal(parse_config("[http]\nlisten = http://127.0.0.1:8750\n", &config, error),
                     MESH_EINVAL);
    assert_non_null(strstr(error, "token_file is required"));
    assert_int_equal(
        parse_config("[http]\nlisten = https://127.0.0.1:8750\ntoken_file = t\n", &config, error),
        MESH_EINVAL);
    assert_non_null(strstr(error, "https"));
    assert_int_equal(
        parse_config("[http]\nlisten = http://127.0.0.1\ntoken_file = t\n", &config, error),
        MESH_EINVAL);
    assert_int_equal(
        parse_config("[http]\nlisten = http://127.0.0.1:99999\ntoken_file = t\n", &config, error),
        MESH_EINVAL);
    assert_int_equal(parse_config("[http]\nbody_max = 10\n", &config, error), MESH_EINVAL);
    assert_int_equal(parse_config("[http]\nbody_max = 2000000\n", &config, error), MESH_EINVAL);
    assert_int_equal(parse_config("[http]\nport = 1\n", &config, error), MESH_EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),        cmocka_unit_test(test_not_found_and_bad_method),
        cmocka_unit_test(test_token_matches), cmocka_unit_test(test_token_file),
        cmocka_unit_test(test_loopback),      cmocka_unit_test(test_load_valid),
        cmocka_unit_test(test_load_refused),  cmocka_unit_test(test_error_body),
        cmocka_unit_test(test_config_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
