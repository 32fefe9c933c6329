/*
 * tests/unit/node_reconcile_test.c: the HTTP side of reconciling over the
 * network: the route (POST /v1/ledger/reconcile, 405 for other methods)
 * and its body (node_http_parse_reconcile): a peer name or node id, an
 * optional timeout, nothing else; every refusal names the field and
 * leaves the output untouched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "node/http_int.h"

static void test_route(void **state)
{
    (void) state;
    node_http_route route = NODE_HTTP_ROUTE_NONE;
    const char *allow = NULL;
    assert_int_equal(node_http_route_find("POST", "/v1/ledger/reconcile", &route, &allow),
                     NODE_HTTP_MATCH_OK);
    assert_int_equal(route, NODE_HTTP_ROUTE_LEDGER_RECONCILE);
    assert_int_equal(node_http_route_find("POST", "/v1/ledger/reconcile?x=1", &route, &allow),
                     NODE_HTTP_MATCH_OK);
    assert_int_equal(node_http_route_find("GET", "/v1/ledger/reconcile", &route, &allow),
                     NODE_HTTP_MATCH_BAD_METHOD);
    assert_string_equal(allow, "POST");
    assert_int_equal(node_http_route_find("POST", "/v1/ledger/reconcile/x", &route, &allow),
                     NODE_HTTP_MATCH_NOT_FOUND);
}

static mesh_err parse(const char *body, node_reconcile_request *out, char *message)
{
    return node_http_parse_reconcile(body, strlen(body), out, message);
}

static void test_body(void **state)
{
    (void) state;
    node_reconcile_request request;
    char message[NODE_HTTP_MESSAGE_SIZE];
    assert_int_equal(parse("{\"peer\": \"de-fra-1\"}", &request, message), MESH_OK);
    assert_string_equal(request.peer, "de-fra-1");
    assert_int_equal(request.timeout_ns, NODE_RECONCILE_TIMEOUT_MS_DEFAULT * MESH_NS_PER_MS);
    assert_int_equal(parse("{\"peer\": \"fm7tglf5owne3dax3cjzf2zb7yza\", \"timeout_ms\": 250}",
                           &request, message),
                     MESH_OK);
    assert_string_equal(request.peer, "fm7tglf5owne3dax3cjzf2zb7yza");
    assert_int_equal(request.timeout_ns, 250 * MESH_NS_PER_MS);

    static const struct {
        const char *body;
        mesh_err err;
        const char *field;
    } bad[] = {
        {"", MESH_EPROTO, ""},
        {"{\"peer\": \"a\", \"peer\": \"b\"}", MESH_EPROTO, ""},
        {"[]", MESH_EINVAL, "object"},
        {"{}", MESH_EINVAL, "peer: required"},
        {"{\"peer\": 7}", MESH_EINVAL, "peer:"},
        {"{\"peer\": \"\"}", MESH_EINVAL, "peer:"},
        {"{\"peer\": \"-a\"}", MESH_EINVAL, "peer:"},
        {"{\"peer\": \"Upper\"}", MESH_EINVAL, "peer:"},
        {"{\"peer\": \"a\", \"timeout_ms\": 0}", MESH_EINVAL, "timeout_ms"},
        {"{\"peer\": \"a\", \"timeout_ms\": 600001}", MESH_EINVAL, "timeout_ms"},
        {"{\"peer\": \"a\", \"timeout_ms\": 1.5}", MESH_EINVAL, "timeout_ms"},
        {"{\"peer\": \"a\", \"lease\": \"x\"}", MESH_EINVAL, "unknown key"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&request, 0x5a, sizeof(request));
        message[0] = '\0';
        mesh_err err = parse(bad[i].body, &request, message);
        if (err != bad[i].err || strstr(message, bad[i].field) == NULL) {
            fail_msg("%s: got %d '%s'", bad[i].body, err, message);
        }
        assert_int_equal(request.timeout_ns, 0x5a5a5a5a5a5a5a5aull); // untouched
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route),
        cmocka_unit_test(test_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
