/*
 * tests/unit/node_http_test.c: the pure half of the HTTP API
 * (node/http_parse.c): routing (404 against 405, HEAD, query strings,
 * lease ids), bearer tokens (scheme, length, one wrong byte), the token
 * file (mode, size, characters), load report and borrow request
 * validation (every refusal names its field), lease ids in paths, error
 * bodies, and the [http] config keys. Then the server (node/http.c) on
 * 127.0.0.1 with the test as the loop thread: refusals answered on NNG's
 * threads, valid lease requests reaching the loop with their parsed
 * content, deferred answers, the deferral bound, and 503 at stop.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <nng/nng.h>

#include "node/config_int.h"
#include "node/http_int.h"
#include "node/log_int.h"

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
        {"DELETE", "/v1/leases/00112233445566778899aabbccddeeff", NODE_HTTP_ROUTE_LEASE_DELETE},
        {"GET", "/v1/leases/00112233445566778899aabbccddeeff", NODE_HTTP_ROUTE_LEASE_GET},
        {"HEAD", "/v1/leases/00112233445566778899aabbccddeeff?x=1", NODE_HTTP_ROUTE_LEASE_GET},
        // Any one segment routes; node_http_parse_lease_id then refuses it
        // with a 400 naming `id`.
        {"GET", "/v1/leases/a%2Fb", NODE_HTTP_ROUTE_LEASE_GET},
        {"GET", "/v1/leases/ABC", NODE_HTTP_ROUTE_LEASE_GET},
        {"POST", "/v1/load", NODE_HTTP_ROUTE_LOAD},
        {"GET", "/metrics", NODE_HTTP_ROUTE_METRICS},
        {"GET", "/v1/revocations", NODE_HTTP_ROUTE_REVOCATIONS},
        {"POST", "/v1/revocations", NODE_HTTP_ROUTE_REVOCATION_PUBLISH},
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
                                          "/v1/leases//",
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
    assert_int_equal(node_http_route_find("DELETE", "/v1/revocations", &r, &allow),
                     NODE_HTTP_MATCH_BAD_METHOD);
    assert_string_equal(allow, "GET, POST");
    assert_int_equal(node_http_route_find("PUT", "/v1/leases/abc", &r, &allow),
                     NODE_HTTP_MATCH_BAD_METHOD);
    assert_string_equal(allow, "GET, DELETE");
    assert_int_equal(node_http_route_find("POST", "/v1/leases/abc", &r, &allow),
                     NODE_HTTP_MATCH_BAD_METHOD);
    assert_string_equal(allow, "GET, DELETE");
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

/* ------------------------------------------------------------------ */
/* Lease ids in paths. */

static void test_lease_ids(void **state)
{
    (void) state;
    uint8_t id[WIRE_LEASE_ID_SIZE];
    static const uint8_t want[WIRE_LEASE_ID_SIZE] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
                                                     0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
                                                     0xcc, 0xdd, 0xee, 0xff};
    assert_int_equal(
        node_http_parse_lease_id("/v1/leases/00112233445566778899aabbccddeeff", id, message),
        MESH_OK);
    assert_memory_equal(id, want, sizeof(want));
    memset(id, 0, sizeof(id));
    assert_int_equal(
        node_http_parse_lease_id("/v1/leases/00112233445566778899aabbccddeeff?x=1", id, message),
        MESH_OK);
    assert_memory_equal(id, want, sizeof(want));

    static const struct {
        const char *uri;
        const char *fragment;
    } refused[] = {
        {"/v1/leases/00112233445566778899AABBCCDDEEFF", "id: character 21 is 'A'"},
        {"/v1/leases/00112233445566778899aabbccddeef", "id: 31 characters"},
        {"/v1/leases/00112233445566778899aabbccddeeff0", "id: 33 characters"},
        {"/v1/leases/0011223344556677889gaabbccddeeff", "id: character 20 is 'g'"},
        {"/v1/leases/00112233445566778899aabbccdd%20f", "id: character 29 is '%'"},
        {"/v1/leases/00112233445566778899aabbccdd-eff", "id: character 29 is '-'"},
        {"/v1/leases/", "id: 0 characters"},
        {"/v1/lease/00112233445566778899aabbccddeeff", "id: the path"},
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        memset(id, 0x5a, sizeof(id));
        mesh_err err = node_http_parse_lease_id(refused[i].uri, id, message);
        if (err != MESH_EINVAL || strstr(message, refused[i].fragment) != message) {
            print_error("uri: %s\nmessage: %s\nwanted: %s\n", refused[i].uri, message,
                        refused[i].fragment);
            fail();
        }
        assert_true(strstr(message, "32 lower-case hex") != NULL ||
                    strstr(message, "/v1/leases/{id}") != NULL);
        // Untouched on failure.
        for (size_t b = 0; b < sizeof(id); b++) {
            assert_int_equal(id[b], 0x5a);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Borrow requests. */

static node_borrow_request borrow;

static mesh_err parse_borrow(const char *body)
{
    return node_http_parse_borrow(body, strlen(body), &borrow, message);
}

static void test_borrow_minimal(void **state)
{
    (void) state;
    memset(&borrow, 0x5a, sizeof(borrow));
    assert_int_equal(
        parse_borrow("{\"resources\":[{\"class\":\"vcpu\",\"amount\":8}],\"duration_s\":7200}"),
        MESH_OK);
    assert_int_equal(borrow.resource_count, 1);
    assert_int_equal(borrow.resources[0].resource_class, WIRE_RESOURCE_VCPU);
    assert_string_equal(borrow.resources[0].model, "");
    assert_int_equal(borrow.resources[0].amount, 8);
    assert_int_equal(borrow.duration_ns, 7200ull * 1000000000ull);
    assert_int_equal(borrow.start_ns, 0);
    assert_int_equal(borrow.constraints.country_count, 0);
    assert_int_equal(borrow.constraints.jurisdiction_count, 0);
    assert_int_equal(borrow.constraints.certifications, 0);
    assert_string_equal(borrow.constraints.data_class, "");
    assert_int_equal(borrow.constraints.rtt_us_max, 0);
    assert_int_equal(borrow.constraints.cost_microeur_per_hour_max, 0);
    assert_int_equal(borrow.constraints.carbon_gco2_per_kwh_max, 0);
    assert_int_equal(borrow.prefer_count, 0);
    assert_string_equal(borrow.lender, "");
    assert_false(borrow.no_split);
    assert_int_equal(borrow.timeout_ns, 0);
    // Zeroed whole: unused slots hold no stale bytes.
    static const wire_lease_resource zero_line;
    assert_memory_equal(&borrow.resources[1], &zero_line, sizeof(zero_line));
    // Bounds are inclusive.
    assert_int_equal(parse_borrow("{\"duration_s\":31622400,\"resources\":[{\"class\":\"storage_"
                                  "gib\",\"amount\":1000000000000}]}"),
                     MESH_OK);
    assert_int_equal(borrow.duration_ns, 31622400ull * 1000000000ull);
    assert_int_equal(borrow.duration_ns, WIRE_LEASE_DURATION_NS_MAX);
    assert_int_equal(borrow.resources[0].amount, WIRE_AMOUNT_MAX);
}

static void test_borrow_full(void **state)
{
    (void) state;
    assert_int_equal(
        parse_borrow("{\"resources\": [{\"class\": \"vcpu\", \"amount\": 8},"
                     " {\"class\": \"gpu\", \"model\": \"H100-80GB\", \"amount\": 2},"
                     " {\"class\": \"memory_gib\", \"amount\": 32},"
                     " {\"class\": \"gpu\", \"model\": \"A100\", \"amount\": 1},"
                     " {\"class\": \"storage_gib\", \"amount\": 500}],"
                     " \"duration_s\": 7200,"
                     " \"start\": \"2026-12-05T10:00:00Z\","
                     " \"countries\": [\"FR\", \"DE\", \"BE\"],"
                     " \"jurisdictions\": [\"FR\", \"EU\"],"
                     " \"certifications\": [\"HDS\", \"SecNumCloud\", \"iso 27001\"],"
                     " \"data_class\": \"health\","
                     " \"max_rtt_ms\": 20,"
                     " \"max_cost_microeur_per_hour\": 500000,"
                     " \"max_carbon_gco2_per_kwh\": 100,"
                     " \"prefer\": [\"nl-ams-1\", \"de-fra-1\", \"fmaaaaaaaaaaaaaaaaaaaaaaaaaa\"],"
                     " \"no_split\": true,"
                     " \"timeout_ms\": 5000}"),
        MESH_OK);
    // Sorted by (class, model): vcpu 1, memory 2, gpu 3 (A100 < H100-80GB), storage 4.
    assert_int_equal(borrow.resource_count, 5);
    assert_int_equal(borrow.resources[0].resource_class, WIRE_RESOURCE_VCPU);
    assert_int_equal(borrow.resources[1].resource_class, WIRE_RESOURCE_MEMORY_GIB);
    assert_int_equal(borrow.resources[1].amount, 32);
    assert_int_equal(borrow.resources[2].resource_class, WIRE_RESOURCE_GPU);
    assert_string_equal(borrow.resources[2].model, "A100");
    assert_int_equal(borrow.resources[2].amount, 1);
    assert_int_equal(borrow.resources[3].resource_class, WIRE_RESOURCE_GPU);
    assert_string_equal(borrow.resources[3].model, "H100-80GB");
    assert_int_equal(borrow.resources[3].amount, 2);
    assert_int_equal(borrow.resources[4].resource_class, WIRE_RESOURCE_STORAGE_GIB);
    // date -u -d 2026-12-05T10:00:00Z +%s
    assert_int_equal(borrow.start_ns, 1796464800ll * 1000000000ll);
    assert_int_equal(borrow.duration_ns, 7200ull * 1000000000ull);
    assert_int_equal(borrow.constraints.country_count, 3);
    assert_string_equal(borrow.constraints.countries[0], "BE");
    assert_string_equal(borrow.constraints.countries[1], "DE");
    assert_string_equal(borrow.constraints.countries[2], "FR");
    assert_int_equal(borrow.constraints.jurisdiction_count, 2);
    assert_string_equal(borrow.constraints.jurisdictions[0], "EU");
    assert_string_equal(borrow.constraints.jurisdictions[1], "FR");
    assert_int_equal(borrow.constraints.certifications, WIRE_CERTIFICATION_HDS |
                                                            WIRE_CERTIFICATION_SECNUMCLOUD |
                                                            WIRE_CERTIFICATION_ISO27001);
    assert_string_equal(borrow.constraints.data_class, "health");
    assert_int_equal(borrow.constraints.rtt_us_max, 20000);
    assert_int_equal(borrow.constraints.cost_microeur_per_hour_max, 500000);
    assert_int_equal(borrow.constraints.carbon_gco2_per_kwh_max, 100);
    // prefer keeps the caller's order.
    assert_int_equal(borrow.prefer_count, 3);
    assert_string_equal(borrow.prefer[0], "nl-ams-1");
    assert_string_equal(borrow.prefer[1], "de-fra-1");
    assert_string_equal(borrow.prefer[2], "fmaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_string_equal(borrow.lender, "");
    assert_true(borrow.no_split);
    assert_int_equal(borrow.timeout_ns, 5000ull * 1000000ull);

    // A pinned lender, empty sets, and the calendar's corners.
    assert_int_equal(parse_borrow("{\"resources\":[{\"class\":\"gpu\",\"model\":\"L40S\","
                                  "\"amount\":4}],\"duration_s\":1,\"lender\":\"fr-par-2\","
                                  "\"countries\":[],\"jurisdictions\":[],\"certifications\":[],"
                                  "\"no_split\":false,\"start\":\"2028-02-29T23:59:59Z\"}"),
                     MESH_OK);
    assert_string_equal(borrow.lender, "fr-par-2");
    assert_int_equal(borrow.prefer_count, 0);
    assert_int_equal(borrow.resources[0].resource_class, WIRE_RESOURCE_GPU);
    assert_string_equal(borrow.resources[0].model, "L40S");
    // date -u -d 2028-02-29T23:59:59Z +%s
    assert_int_equal(borrow.start_ns, 1835481599ll * 1000000000ll);
    assert_int_equal(parse_borrow("{\"resources\":[{\"class\":\"vcpu\",\"amount\":1}],"
                                  "\"duration_s\":1,\"start\":\"2000-01-01T00:00:00Z\"}"),
                     MESH_OK);
    assert_int_equal(borrow.start_ns, 946684800ll * 1000000000ll);
}

static void test_borrow_gpu(void **state)
{
    (void) state;
    assert_int_equal(parse_borrow("{\"resources\":[{\"class\":\"gpu\",\"model\":\"H100-80GB\","
                                  "\"amount\":2},{\"class\":\"gpu\",\"model\":\"H100-94GB\","
                                  "\"amount\":1},{\"class\":\"gpu\",\"model\":\"H100\","
                                  "\"amount\":3}],\"duration_s\":60}"),
                     MESH_OK);
    // "H100" < "H100-80GB" < "H100-94GB": a prefix sorts first, as on the wire.
    assert_int_equal(borrow.resource_count, 3);
    assert_string_equal(borrow.resources[0].model, "H100");
    assert_int_equal(borrow.resources[0].amount, 3);
    assert_string_equal(borrow.resources[1].model, "H100-80GB");
    assert_string_equal(borrow.resources[2].model, "H100-94GB");
    char model[64];
    (void) snprintf(model, sizeof(model), "%.*s", (int) WIRE_MODEL_SIZE_MAX,
                    "abcdefghijklmnopqrstuvwxyz._-ABCDEFGHIJ");
    char body[256];
    (void) snprintf(body, sizeof(body),
                    "{\"resources\":[{\"class\":\"gpu\",\"model\":\"%s\",\"amount\":1}],"
                    "\"duration_s\":60}",
                    model);
    assert_int_equal(parse_borrow(body), MESH_OK);
    assert_string_equal(borrow.resources[0].model, model);
}

static void expect_borrow_refused(mesh_err want, const char *body, const char *fragment)
{
    node_borrow_request before;
    memset(&borrow, 0x5a, sizeof(borrow));
    before = borrow;
    mesh_err err = parse_borrow(body);
    if (err != want || strstr(message, fragment) == NULL) {
        print_error("body: %s\nmessage: %s (%s)\nwanted: %s (%s)\n", body, message,
                    mesh_err_name(err), fragment, mesh_err_name(want));
        fail();
    }
    assert_memory_equal(&before, &borrow, sizeof(borrow));
}

/* A valid body with one more member, or with one member replaced. */
#define VCPU8      "{\"class\":\"vcpu\",\"amount\":8}"
#define WITH(more) "{\"resources\":[" VCPU8 "],\"duration_s\":60," more "}"

static void test_borrow_refused(void **state)
{
    (void) state;
    // Not JSON, or a duplicate key: jansson's reason.
    expect_borrow_refused(MESH_EPROTO, "", "line 1");
    expect_borrow_refused(MESH_EPROTO, "{\"resources\":[", "line 1");
    expect_borrow_refused(MESH_EPROTO, WITH("\"duration_s\":60"), "duplicate");
    expect_borrow_refused(MESH_EPROTO, "{\"resources\":[{\"class\":\"vcpu\",\"class\":\"gpu\"}]}",
                          "duplicate");
    expect_borrow_refused(MESH_EPROTO, WITH("\"data_class\":\"a\\u0000b\""), "\\u0000");
    expect_borrow_refused(MESH_EPROTO, "{\"data_class\":\"\xff\"}", "unable to decode byte 0xff");
    // The shape, before jansson.
    expect_borrow_refused(MESH_EINVAL, WITH("\"countries\":[[[\"FR\"]]]"),
                          "countries[0]: nests deeper than a borrow request can");
    expect_borrow_refused(MESH_EINVAL, "[[[[1]]]]", "body: nests deeper");
    expect_borrow_refused(MESH_EINVAL,
                          "{\"resources\":[{\"class\":\"vcpu\",\"amount\":8,\"x\":{\"y\":1}}]}",
                          "resources[0]: nests deeper");
    // Every rule, with its field.
    expect_borrow_refused(MESH_EINVAL, "[]", "body: must be a JSON object");
    expect_borrow_refused(MESH_EPROTO, "7", "expected");
    expect_borrow_refused(MESH_EINVAL, WITH("\"lease\":1"),
                          "lease: unknown key; the keys are resources, duration_s");
    expect_borrow_refused(MESH_EINVAL, WITH("\"n\\u00e9\":1"), "n??: unknown key");
    expect_borrow_refused(MESH_EINVAL, "{\"duration_s\":60}", "resources: required");
    expect_borrow_refused(MESH_EINVAL, "{\"resources\":[],\"duration_s\":60}",
                          "resources: must be an array of 1..8 items");
    expect_borrow_refused(MESH_EINVAL, "{\"resources\":{},\"duration_s\":60}",
                          "resources: must be an array of 1..8 items");
    expect_borrow_refused(MESH_EINVAL, "{\"resources\":[1],\"duration_s\":60}",
                          "resources[0]: must be an object");
    expect_borrow_refused(MESH_EINVAL,
                          "{\"resources\":[" VCPU8
                          ",{\"class\":\"tpu\",\"amount\":1}],\"duration_s\":60}",
                          "resources[1].class: must be one of vcpu, memory_gib, storage_gib, gpu");
    expect_borrow_refused(
        MESH_EINVAL, "{\"resources\":[" VCPU8 ",{\"class\":3,\"amount\":1}],\"duration_s\":60}",
        "resources[1].class: must be one of");
    expect_borrow_refused(MESH_EINVAL, "{\"resources\":[{\"amount\":1}],\"duration_s\":60}",
                          "resources[0].class: required");
    expect_borrow_refused(MESH_EINVAL,
                          "{\"resources\":[{\"class\":\"vcpu\",\"amount\":1,\"queued\":1}],"
                          "\"duration_s\":60}",
                          "resources[0].queued: unknown key; the keys are class, model, amount");
    expect_borrow_refused(MESH_EINVAL, "{\"resources\":[{\"class\":\"vcpu\"}],\"duration_s\":60}",
                          "resources[0].amount: required");
    expect_borrow_refused(MESH_EINVAL,
                          "{\"resources\":[{\"class\":\"vcpu\",\"amount\":0}],\"duration_s\":60}",
                          "resources[0].amount: must be a whole number in 1..10^12");
    expect_borrow_refused(
        MESH_EINVAL,
        "{\"resources\":[{\"class\":\"vcpu\",\"amount\":1000000000001}],\"duration_s\":60}",
        "resources[0].amount: must be a whole number in 1..10^12");
    expect_borrow_refused(MESH_EINVAL,
                          "{\"resources\":[{\"class\":\"vcpu\",\"amount\":-1}],\"duration_s\":60}",
                          "resources[0].amount: must be");
    expect_borrow_refused(MESH_EINVAL,
                          "{\"resources\":[{\"class\":\"vcpu\",\"amount\":2.0}],\"duration_s\":60}",
                          "resources[0].amount: must be");
    expect_borrow_refused(
        MESH_EINVAL, "{\"resources\":[{\"class\":\"vcpu\",\"amount\":\"2\"}],\"duration_s\":60}",
        "resources[0].amount: must be");
    expect_borrow_refused(MESH_EINVAL,
                          "{\"resources\":[{\"class\":\"gpu\",\"amount\":1}],\"duration_s\":60}",
                          "resources[0].model: required for gpu");
    expect_borrow_refused(MESH_EINVAL,
                          "{\"resources\":[{\"class\":\"gpu\",\"model\":\"H 100\",\"amount\":1}],"
                          "\"duration_s\":60}",
                          "resources[0].model: must be 1..32 characters");
    expect_borrow_refused(MESH_EINVAL,
                          "{\"resources\":[{\"class\":\"gpu\",\"model\":\"\",\"amount\":1}],"
                          "\"duration_s\":60}",
                          "resources[0].model: must be 1..32 characters");
    expect_borrow_refused(MESH_EINVAL,
                          "{\"resources\":[{\"class\":\"gpu\",\"model\":"
                          "\"abcdefghijklmnopqrstuvwxyz0123456\",\"amount\":1}],\"duration_s\":60}",
                          "resources[0].model: must be 1..32 characters");
    expect_borrow_refused(
        MESH_EINVAL,
        "{\"resources\":[{\"class\":\"memory_gib\",\"model\":\"x\",\"amount\":1}],"
        "\"duration_s\":60}",
        "resources[0].model: only for class gpu");
    expect_borrow_refused(
        MESH_EINVAL,
        "{\"resources\":[{\"class\":\"gpu\",\"model\":\"A100\",\"amount\":1}," VCPU8
        ",{\"class\":\"gpu\",\"model\":\"A100\",\"amount\":2}],\"duration_s\":60}",
        "resources[2]: repeats resources[0] (gpu A100)");
    expect_borrow_refused(MESH_EINVAL, "{\"resources\":[" VCPU8 "," VCPU8 "],\"duration_s\":60}",
                          "resources[1]: repeats resources[0] (vcpu)");
    // Nine lines: one over the schema, under the shape scan's bound.
    expect_borrow_refused(MESH_EINVAL,
                          "{\"resources\":[" VCPU8 "," VCPU8 "," VCPU8 "," VCPU8 "," VCPU8 "," VCPU8
                          "," VCPU8 "," VCPU8 "," VCPU8 "],\"duration_s\":60}",
                          "resources: must be an array of 1..8 items");
    expect_borrow_refused(MESH_EINVAL, "{\"resources\":[" VCPU8 "]}", "duration_s: required");
    expect_borrow_refused(MESH_EINVAL, "{\"resources\":[" VCPU8 "],\"duration_s\":0}",
                          "duration_s: must be a whole number in 1..31622400");
    expect_borrow_refused(MESH_EINVAL, "{\"resources\":[" VCPU8 "],\"duration_s\":31622401}",
                          "duration_s: must be a whole number in 1..31622400");
    expect_borrow_refused(MESH_EINVAL, "{\"resources\":[" VCPU8 "],\"duration_s\":true}",
                          "duration_s: must be");
    static const char *const bad_starts[] = {
        "\"start\":\"2026-12-05T10:00:00\"",
        "\"start\":\"2026-12-05T10:00:00+01:00\"",
        "\"start\":\"2026-12-05 10:00:00Z\"",
        "\"start\":\"2026-12-05T10:00:00.5Z\"",
        "\"start\":\"2026-12-05t10:00:00z\"",
        "\"start\":\"2026-02-29T10:00:00Z\"",
        "\"start\":\"2026-13-01T10:00:00Z\"",
        "\"start\":\"2026-04-31T10:00:00Z\"",
        "\"start\":\"2026-12-05T24:00:00Z\"",
        "\"start\":\"2026-12-05T10:60:00Z\"",
        "\"start\":\"2026-12-05T10:00:60Z\"",
        "\"start\":\"1999-12-31T23:59:59Z\"",
        "\"start\":\"2200-01-01T00:00:00Z\"",
        "\"start\":\"2100-02-29T00:00:00Z\"",
        "\"start\":1796464800",
        "\"start\":\"+026-12-05T10:00:00Z\"",
        "\"start\":\"2026-00-05T10:00:00Z\"",
        "\"start\":\"2026-12-00T10:00:00Z\"",
    };
    for (size_t i = 0; i < sizeof(bad_starts) / sizeof(bad_starts[0]); i++) {
        char body[256];
        (void) snprintf(body, sizeof(body), WITH("%s"), bad_starts[i]);
        expect_borrow_refused(MESH_EINVAL, body, "start: must be a UTC time like");
    }
    expect_borrow_refused(MESH_EINVAL, WITH("\"countries\":\"FR\""),
                          "countries: must be an array of 0..32 ISO 3166-1 alpha-2 codes");
    expect_borrow_refused(MESH_EINVAL, WITH("\"countries\":[\"FR\",\"XX\"]"),
                          "countries[1]: 'XX' is not one of the ISO 3166-1 alpha-2 codes");
    expect_borrow_refused(MESH_EINVAL, WITH("\"countries\":[\"fr\"]"), "countries[0]: 'fr'");
    expect_borrow_refused(MESH_EINVAL, WITH("\"countries\":[\"FRA\"]"), "countries[0]: 'FRA'");
    expect_borrow_refused(MESH_EINVAL, WITH("\"countries\":[\"EU\"]"), "countries[0]: 'EU'");
    expect_borrow_refused(MESH_EINVAL, WITH("\"countries\":[1]"), "countries[0]: must be a string");
    expect_borrow_refused(MESH_EINVAL, WITH("\"countries\":[\"FR\",\"DE\",\"FR\"]"),
                          "countries[2]: repeats countries[0] (FR)");
    expect_borrow_refused(MESH_EINVAL, WITH("\"jurisdictions\":[\"EU\",\"EU\"]"),
                          "jurisdictions[1]: repeats jurisdictions[0] (EU)");
    expect_borrow_refused(
        MESH_EINVAL, WITH("\"jurisdictions\":[\"EEA\"]"),
        "jurisdictions[0]: 'EEA' is not one of the ISO 3166-1 alpha-2 codes or EU");
    expect_borrow_refused(MESH_EINVAL,
                          WITH("\"jurisdictions\":[\"FR\",\"DE\",\"BE\",\"NL\",\"LU\",\"IT\","
                               "\"ES\",\"PT\",\"EU\"]"),
                          "jurisdictions: must be an array of 0..8");
    expect_borrow_refused(MESH_EINVAL, WITH("\"certifications\":[\"HDS\",\"PCI\"]"),
                          "certifications[1]: must be one of SecNumCloud, C5, HDS");
    expect_borrow_refused(MESH_EINVAL, WITH("\"certifications\":[\"HDS\",\"hds\"]"),
                          "certifications[1]: repeats HDS");
    expect_borrow_refused(MESH_EINVAL, WITH("\"certifications\":\"HDS\""),
                          "certifications: must be an array of 0..7 names");
    expect_borrow_refused(MESH_EINVAL, WITH("\"data_class\":\"Health\""),
                          "data_class: must be 1..31 characters [a-z0-9-]");
    expect_borrow_refused(MESH_EINVAL, WITH("\"data_class\":\"\""), "data_class: must be");
    expect_borrow_refused(MESH_EINVAL, WITH("\"data_class\":\"abcdefghijklmnopqrstuvwxyz012345\""),
                          "data_class: must be");
    expect_borrow_refused(MESH_EINVAL, WITH("\"max_rtt_ms\":0"),
                          "max_rtt_ms: must be a whole number in 1..60000");
    expect_borrow_refused(MESH_EINVAL, WITH("\"max_rtt_ms\":60001"), "max_rtt_ms: must be");
    expect_borrow_refused(MESH_EINVAL, WITH("\"max_cost_microeur_per_hour\":0"),
                          "max_cost_microeur_per_hour: must be a whole number in 1..10^12");
    expect_borrow_refused(MESH_EINVAL, WITH("\"max_cost_microeur_per_hour\":1000000000001"),
                          "max_cost_microeur_per_hour: must be");
    expect_borrow_refused(MESH_EINVAL, WITH("\"max_carbon_gco2_per_kwh\":5001"),
                          "max_carbon_gco2_per_kwh: must be a whole number in 1..5000");
    expect_borrow_refused(MESH_EINVAL, WITH("\"prefer\":[\"de-fra-1\",\"De-fra-2\"]"),
                          "prefer[1]: must be a member name");
    expect_borrow_refused(MESH_EINVAL, WITH("\"prefer\":[\"-a\"]"), "prefer[0]: must be");
    expect_borrow_refused(MESH_EINVAL, WITH("\"prefer\":[\"a-\"]"), "prefer[0]: must be");
    expect_borrow_refused(MESH_EINVAL, WITH("\"prefer\":[\"\"]"), "prefer[0]: must be");
    // 63 bytes are a name, 64 are not.
    assert_int_equal(parse_borrow(WITH("\"prefer\":[\"a23456789012345678901234567890123456789"
                                       "012345678901234567890123\"]")),
                     MESH_OK);
    assert_int_equal(strlen(borrow.prefer[0]), 63);
    expect_borrow_refused(MESH_EINVAL,
                          WITH("\"prefer\":[\"a234567890123456789012345678901234567890123456789"
                               "012345678901234\"]"),
                          "prefer[0]: must be");
    expect_borrow_refused(MESH_EINVAL, WITH("\"prefer\":[\"a\",\"b\",\"a\"]"),
                          "prefer[2]: repeats prefer[0] (a)");
    expect_borrow_refused(MESH_EINVAL,
                          WITH("\"prefer\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\","
                               "\"i\"]"),
                          "prefer: must be an array of 0..8");
    expect_borrow_refused(MESH_EINVAL, WITH("\"lender\":\"FR-PAR-2\""),
                          "lender: must be a member name");
    expect_borrow_refused(MESH_EINVAL, WITH("\"lender\":[\"fr-par-2\"]"), "lender: must be");
    expect_borrow_refused(MESH_EINVAL, WITH("\"prefer\":[\"de-fra-1\"],\"lender\":\"fr-par-2\""),
                          "lender: not together with prefer");
    expect_borrow_refused(MESH_EINVAL, WITH("\"lender\":\"fr-par-2\",\"prefer\":[]"),
                          "lender: not together with prefer");
    expect_borrow_refused(MESH_EINVAL, WITH("\"no_split\":1"), "no_split: must be true or false");
    expect_borrow_refused(MESH_EINVAL, WITH("\"no_split\":\"true\""), "no_split: must be");
    expect_borrow_refused(MESH_EINVAL, WITH("\"timeout_ms\":0"),
                          "timeout_ms: must be a whole number in 1..600000");
    expect_borrow_refused(MESH_EINVAL, WITH("\"timeout_ms\":600001"), "timeout_ms: must be");
}

/* Arrays and objects far beyond the schema are refused by the shape scan,
 * before jansson allocates a node for each element. */
static void test_borrow_oversized(void **state)
{
    (void) state;
    static char body[1u << 20];
    // 33 countries: one over the largest array of the schema.
    int at = snprintf(body, sizeof(body), "{\"resources\":[" VCPU8 "],\"countries\":[");
    for (int i = 0; i < 33; i++) {
        at += snprintf(body + at, sizeof(body) - (size_t) at, "%s\"FR\"", i > 0 ? "," : "");
    }
    (void) snprintf(body + at, sizeof(body) - (size_t) at, "]}");
    expect_borrow_refused(MESH_EINVAL, body, "countries: more than 32 items");
    // 100,000 items (400 kB): refused at the 33rd.
    at = snprintf(body, sizeof(body), "{\"resources\":[");
    for (int i = 0; i < 100000; i++) {
        at += snprintf(body + at, sizeof(body) - (size_t) at, "%s1", i > 0 ? "," : "");
    }
    (void) snprintf(body + at, sizeof(body) - (size_t) at, "]}");
    expect_borrow_refused(MESH_EINVAL, body, "resources: more than 32 items");
    // Commas alone count too, and a string's commas and brackets do not.
    expect_borrow_refused(MESH_EINVAL,
                          "{\"prefer\":[,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,]}",
                          "prefer: more than 32 items");
    assert_int_equal(parse_borrow("{\"resources\":[" VCPU8 "],\"duration_s\":60,\"data_class\":"
                                  "\"x\",\"lender\":\"a\"}"),
                     MESH_OK);
    expect_borrow_refused(MESH_EINVAL,
                          "{\"resources\":[" VCPU8 "],\"duration_s\":60,\"lender\":\"[[[[,,,,,,,,,"
                          ",,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,]]]]\\\"{{{{\"}",
                          "lender: must be a member name");
    // 17 keys in one object, and 17 in a resource line.
    expect_borrow_refused(MESH_EINVAL,
                          "{\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1,\"h\":1,"
                          "\"i\":1,\"j\":1,\"k\":1,\"l\":1,\"m\":1,\"n\":1,\"o\":1,\"p\":1,"
                          "\"q\":1}",
                          "body: more than 16 keys");
    expect_borrow_refused(MESH_EINVAL,
                          "{\"resources\":[" VCPU8 ",{\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,"
                          "\"f\":1,\"g\":1,\"h\":1,\"i\":1,\"j\":1,\"k\":1,\"l\":1,\"m\":1,"
                          "\"n\":1,\"o\":1,\"p\":1,\"q\":1}]}",
                          "resources[1]: more than 16 keys");
    // Deep nesting far past jansson's own limit stops at the fourth level.
    memset(body, '[', 100000);
    body[100000] = '\0';
    expect_borrow_refused(MESH_EINVAL, body, "nests deeper than a borrow request can");
}

/* ------------------------------------------------------------------ */
/* The server on 127.0.0.1: the test plays the loop thread. */

static const char server_token[] = "0123456789abcdefghijklmnop";

typedef struct test_server {
    node_transport *transport;
    node_http *http;
    uint16_t port;
} test_server;

static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in address;
    memset(&address, 0, sizeof(address));
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *) &address, sizeof(address)), 0);
    socklen_t size = sizeof(address);
    assert_int_equal(getsockname(fd, (struct sockaddr *) &address, &size), 0);
    assert_int_equal(close(fd), 0);
    return ntohs(address.sin_port);
}

static void server_start(test_server *server)
{
    // Each request logs a line at stop (503 is a warning): keep the
    // output to failures.
    node_log_set_level(NODE_LOG_ERROR);
    static node_config config;
    memset(&config, 0, sizeof(config));
    const char *token_path = tmp_path("server_token");
    (void) unlink(token_path);
    FILE *file = fopen(token_path, "w");
    assert_non_null(file);
    assert_true(fputs(server_token, file) >= 0);
    assert_int_equal(fclose(file), 0);
    assert_int_equal(chmod(token_path, 0600), 0);
    (void) snprintf(config.http_token_file, sizeof(config.http_token_file), "%s", token_path);
    (void) snprintf(config.listen, sizeof(config.listen), "tcp://127.0.0.1:0");
    char control[600];
    int control_size = snprintf(control, sizeof(control), "ipc://%s", tmp_path("control"));
    assert_true(control_size > 0 && (size_t) control_size < sizeof(config.control));
    memcpy(config.control, control, (size_t) control_size + 1);
    config.http_body_max = 65536;
    server->port = free_port();
    (void) snprintf(config.http_listen, sizeof(config.http_listen), "http://127.0.0.1:%u",
                    server->port);
    assert_int_equal(node_transport_create(&config, &server->transport), MESH_OK);
    assert_int_equal(node_http_create(&config, server->transport, &server->http), MESH_OK);
}

static void server_stop(test_server *server)
{
    node_http_destroy(server->http);
    node_transport_destroy(server->transport);
    (void) unlink(tmp_path("server_token"));
}

/* Sends one request (Connection: close) and returns the socket. */
static int
client_send(const test_server *server, const char *method, const char *path, const char *body)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval timeout = {.tv_sec = 10, .tv_usec = 0};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)), 0);
    struct sockaddr_in address;
    memset(&address, 0, sizeof(address));
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(server->port);
    assert_int_equal(connect(fd, (struct sockaddr *) &address, sizeof(address)), 0);
    static char request[8192];
    int size = snprintf(request, sizeof(request),
                        "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                        "Connection: close\r\n",
                        method, path, server_token);
    if (body != NULL) {
        size += snprintf(request + size, sizeof(request) - (size_t) size,
                         "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                         strlen(body), body);
    } else {
        size += snprintf(request + size, sizeof(request) - (size_t) size, "\r\n");
    }
    assert_true(size > 0 && (size_t) size < sizeof(request));
    assert_int_equal(write(fd, request, (size_t) size), size);
    return fd;
}

/* Reads the whole answer (the server closes after it), closes fd, and
 * returns the status; body_out gets the body. */
static int client_read(int fd, char *body_out, size_t body_size)
{
    static char response[16384];
    size_t size = 0;
    for (;;) {
        ssize_t got = read(fd, response + size, sizeof(response) - 1 - size);
        if (got <= 0) {
            break; // closed, or the 10 s timeout: the status check fails then
        }
        size += (size_t) got;
    }
    assert_int_equal(close(fd), 0);
    response[size] = '\0';
    int status = 0;
    if (strncmp(response, "HTTP/1.1 ", 9) == 0) {
        for (const char *c = response + 9; *c >= '0' && *c <= '9'; c++) {
            status = status * 10 + (*c - '0');
        }
    }
    const char *body = strstr(response, "\r\n\r\n");
    (void) snprintf(body_out, body_size, "%s", body != NULL ? body + 4 : "");
    return status;
}

/* The loop's side: waits up to 5 s for the next request. */
static node_http_request *next_wait(node_http *http)
{
    for (int i = 0; i < 5000; i++) {
        node_http_request *request = node_http_next(http);
        if (request != NULL) {
            return request;
        }
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 1000000};
        (void) nanosleep(&pause, NULL);
    }
    return NULL;
}

static const char lease_path[] = "/v1/leases/00112233445566778899aabbccddeeff";

/* Refusals are answered on NNG's thread: the loop sees nothing. */
static void test_server_refusals(void **state)
{
    (void) state;
    test_server server;
    server_start(&server);
    char body[1024];
    int fd = client_send(&server, "POST", "/v1/leases",
                         "{\"resources\":[{\"class\":\"vcpu\",\"amount\":8},{\"class\":\"tpu\","
                         "\"amount\":1}],\"duration_s\":60}");
    assert_int_equal(client_read(fd, body, sizeof(body)), 400);
    assert_non_null(strstr(body, "\"invalid_request\""));
    assert_non_null(
        strstr(body, "resources[1].class: must be one of vcpu, memory_gib, storage_gib, gpu"));
    fd = client_send(&server, "POST", "/v1/leases", "{\"resources\":");
    assert_int_equal(client_read(fd, body, sizeof(body)), 400);
    assert_non_null(strstr(body, "\"bad_json\""));
    fd = client_send(&server, "DELETE", "/v1/leases/00112233445566778899AABBCCDDEEFF", NULL);
    assert_int_equal(client_read(fd, body, sizeof(body)), 400);
    assert_non_null(strstr(body, "\"invalid_request\""));
    assert_non_null(strstr(body, "id: character 21 is 'A'"));
    fd = client_send(&server, "GET", "/v1/leases/0011", NULL);
    assert_int_equal(client_read(fd, body, sizeof(body)), 400);
    assert_non_null(strstr(body, "id: 4 characters"));
    fd = client_send(&server, "PUT", lease_path, NULL);
    assert_int_equal(client_read(fd, body, sizeof(body)), 405);
    assert_null(node_http_next(server.http));
    server_stop(&server);
}

/* Valid requests reach the loop with what they asked; one is deferred
 * and answered after a later one. */
static void test_server_lease_routes(void **state)
{
    (void) state;
    test_server server;
    server_start(&server);
    static const uint8_t id[WIRE_LEASE_ID_SIZE] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                                   0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    char body[1024];
    int borrow_fd = client_send(&server, "POST", "/v1/leases",
                                "{\"resources\":[{\"class\":\"gpu\",\"model\":\"H100-80GB\","
                                "\"amount\":2},{\"class\":\"vcpu\",\"amount\":8}],"
                                "\"duration_s\":7200,\"countries\":[\"FR\",\"DE\"],"
                                "\"timeout_ms\":5000}");
    node_http_request *borrow_request = next_wait(server.http);
    assert_non_null(borrow_request);
    assert_int_equal(node_http_request_route(borrow_request), NODE_HTTP_ROUTE_LEASE_CREATE);
    const node_borrow_request *parsed = node_http_request_borrow(borrow_request);
    assert_int_equal(parsed->resource_count, 2);
    assert_int_equal(parsed->resources[0].resource_class, WIRE_RESOURCE_VCPU);
    assert_string_equal(parsed->resources[1].model, "H100-80GB");
    assert_string_equal(parsed->constraints.countries[0], "DE");
    assert_int_equal(parsed->timeout_ns, 5000000000ull);
    assert_int_equal(node_http_defer(server.http, borrow_request), MESH_OK);
    node_http_stats stats;
    node_http_stats_get(server.http, &stats);
    assert_int_equal(stats.deferred, 1);

    // Meanwhile the loop answers other requests at once.
    int fd = client_send(&server, "GET", lease_path, NULL);
    node_http_request *request = next_wait(server.http);
    assert_non_null(request);
    assert_int_equal(node_http_request_route(request), NODE_HTTP_ROUTE_LEASE_GET);
    assert_memory_equal(node_http_request_lease_id(request), id, sizeof(id));
    static const char lease[] = "{\"id\":\"00112233445566778899aabbccddeeff\"}";
    node_http_respond(server.http, request, 200, "application/json", lease, sizeof(lease) - 1);
    assert_int_equal(client_read(fd, body, sizeof(body)), 200);
    assert_string_equal(body, lease);

    fd = client_send(&server, "DELETE", lease_path, NULL);
    request = next_wait(server.http);
    assert_non_null(request);
    assert_int_equal(node_http_request_route(request), NODE_HTTP_ROUTE_LEASE_DELETE);
    assert_memory_equal(node_http_request_lease_id(request), id, sizeof(id));
    node_http_respond_error(server.http, request, 404, "not_found", "no such lease");
    assert_int_equal(client_read(fd, body, sizeof(body)), 404);
    assert_non_null(strstr(body, "\"not_found\""));

    // The deferred borrow, answered last.
    static const char granted[] = "{\"status\":\"granted\"}";
    node_http_respond(server.http, borrow_request, 200, "application/json", granted,
                      sizeof(granted) - 1);
    assert_int_equal(client_read(borrow_fd, body, sizeof(body)), 200);
    assert_string_equal(body, granted);
    node_http_stats_get(server.http, &stats);
    assert_int_equal(stats.deferred, 0);
    assert_null(node_http_next(server.http));
    server_stop(&server);
}

/* At most NODE_HTTP_QUEUE_MAX deferred; at stop they are answered 503
 * shutting_down, and the stop does not wait on them. */
static void test_server_defer_bound_and_stop(void **state)
{
    (void) state;
    test_server server;
    server_start(&server);
    int fds[NODE_HTTP_QUEUE_MAX + 1];
    char body[1024];
    for (uint32_t i = 0; i <= NODE_HTTP_QUEUE_MAX; i++) {
        fds[i] = client_send(&server, "GET", lease_path, NULL);
        node_http_request *request = next_wait(server.http);
        assert_non_null(request);
        if (i < NODE_HTTP_QUEUE_MAX) {
            assert_int_equal(node_http_defer(server.http, request), MESH_OK);
        } else {
            assert_int_equal(node_http_defer(server.http, request), MESH_EFULL);
            node_http_respond_error(server.http, request, 503, "busy", "too many borrows");
        }
    }
    assert_int_equal(client_read(fds[NODE_HTTP_QUEUE_MAX], body, sizeof(body)), 503);
    assert_non_null(strstr(body, "\"busy\""));
    node_http_stats stats;
    node_http_stats_get(server.http, &stats);
    assert_int_equal(stats.deferred, NODE_HTTP_QUEUE_MAX);
    // Two more: the loop takes one and holds it; the other stays queued.
    int queued_fd = client_send(&server, "DELETE", lease_path, NULL);
    int held_fd = client_send(&server, "DELETE", lease_path, NULL);
    node_http_request *held = next_wait(server.http);
    assert_non_null(held);
    // Time for the other to reach the queue.
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 100000000};
    (void) nanosleep(&pause, NULL);
    server_stop(&server);
    for (uint32_t i = 0; i < NODE_HTTP_QUEUE_MAX; i++) {
        assert_int_equal(client_read(fds[i], body, sizeof(body)), 503);
        assert_non_null(strstr(body, "\"shutting_down\""));
    }
    assert_int_equal(client_read(queued_fd, body, sizeof(body)), 503);
    assert_int_equal(client_read(held_fd, body, sizeof(body)), 503);
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
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_not_found_and_bad_method),
        cmocka_unit_test(test_token_matches),
        cmocka_unit_test(test_token_file),
        cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_load_valid),
        cmocka_unit_test(test_load_refused),
        cmocka_unit_test(test_lease_ids),
        cmocka_unit_test(test_borrow_minimal),
        cmocka_unit_test(test_borrow_full),
        cmocka_unit_test(test_borrow_gpu),
        cmocka_unit_test(test_borrow_refused),
        cmocka_unit_test(test_borrow_oversized),
        cmocka_unit_test(test_server_refusals),
        cmocka_unit_test(test_server_lease_routes),
        cmocka_unit_test(test_server_defer_bound_and_stop),
        cmocka_unit_test(test_error_body),
        cmocka_unit_test(test_config_keys),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    // NNG's threads and caches, freed so that valgrind's leak check sees
    // only this code's memory.
    nng_fini();
    return failed;
}
