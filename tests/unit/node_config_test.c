/*
 * tests/unit/node_config_test.c: the agent's INI config loader: every
 * key, defaults, relative paths, and every kind of refusal (unknown
 * section or key, key given twice, bad value, missing required key,
 * malformed or over-long line, inconsistent values, oversize file).
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/config_int.h"

static const char minimal[] = "[node]\n"
                              "name = fr-par-1\n"
                              "key_file = keys/node.key\n"
                              "certificate_file = node.cert\n"
                              "root_public_key_file = /etc/fedmesh/root.pub\n"
                              "listen = tcp://127.0.0.1:7400\n";

static node_config config;
static char error[NODE_CONFIG_ERROR_SIZE];

static mesh_err parse(const char *text)
{
    return node_config_parse(text, (uint32_t) strlen(text), "/srv/fm/node.ini", &config, error);
}

/* minimal + extra lines appended (in the section they name). */
static mesh_err parse_with(const char *extra)
{
    static char text[8192];
    int used = snprintf(text, sizeof(text), "%s%s", minimal, extra);
    assert_true(used > 0 && (size_t) used < sizeof(text));
    return parse(text);
}

static void expect_error(mesh_err want, const char *extra, const char *fragment)
{
    mesh_err err = parse_with(extra);
    if (err != want || strstr(error, fragment) == NULL) {
        print_error("extra: %s\nerror: %s (%s)\nwanted: %s (%s)\n", extra, error,
                    mesh_err_name(err), fragment, mesh_err_name(want));
        fail();
    }
}

static void test_minimal_defaults(void **state)
{
    (void) state;
    assert_int_equal(parse(minimal), MESH_OK);
    assert_string_equal(config.name, "fr-par-1");
    assert_string_equal(config.key_file, "/srv/fm/keys/node.key");
    assert_string_equal(config.certificate_file, "/srv/fm/node.cert");
    assert_string_equal(config.root_public_key_file, "/etc/fedmesh/root.pub");
    assert_string_equal(config.listen, "tcp://127.0.0.1:7400");
    assert_string_equal(config.advertise, "tcp://127.0.0.1:7400");
    assert_string_equal(config.control, "ipc:///tmp/fedmesh-fr-par-1.ctl");
    assert_int_equal(config.seed_count, 0);
    assert_int_equal(config.revocation_file_count, 0);
    assert_int_equal(config.log_level, NODE_LOG_INFO);
    gossip_config defaults;
    gossip_config_default(&defaults);
    assert_int_equal(config.gossip.probe_interval_ns, defaults.probe_interval_ns);
    assert_int_equal(config.gossip.members_max, defaults.members_max);
    assert_int_equal(config.gossip.bytes_per_s_per_peer_max, defaults.bytes_per_s_per_peer_max);
    assert_int_equal(config.gossip.advert.resource_count, 0);
    assert_string_equal(config.gossip.advert.endpoint, "tcp://127.0.0.1:7400");
    assert_string_equal(config.gossip.advert.api_endpoint, "");
}

static void test_every_key(void **state)
{
    (void) state;
    static const char text[] = "; a full config\n"
                               "# with comments of both kinds\n"
                               "[node]\n"
                               "name = de-fra-2\n"
                               "key_file = node.key\n"
                               "certificate_file = node.cert\n"
                               "root_public_key_file = root.pub\n"
                               "revocation_files = r1.rev, /abs/r2.rev\n"
                               "revocation_files = r3.rev\n"
                               "listen = tcp://0.0.0.0:7400\n"
                               "advertise = tcp://fra2.example.eu:7400\n"
                               "control = tcp://127.0.0.1:7401\n"
                               "seeds = tcp://a.example.eu:7400, tcp://b.example.eu:7400\n"
                               "seeds = tcp://c.example.eu:7400\n"
                               "log_level = debug\n"
                               "\n"
                               "[capacity]\n"
                               "vcpu_total = 1024\n"
                               "vcpu_free = 512\n"
                               "vcpu_lendable = 256\n"
                               "price_microeur_per_vcpu_hour = 21000\n"
                               "memory_gib_total = 4096\n"
                               "memory_gib_free = 2048\n"
                               "memory_gib_lendable = 1024\n"
                               "price_microeur_per_memory_gib_hour = 2500\n"
                               "storage_gib_total = 100000\n"
                               "storage_gib_free = 40000\n"
                               "storage_gib_lendable = 10000\n"
                               "price_microeur_per_storage_gib_hour = 40\n"
                               "gpu.H100-80GB.total = 16\n"
                               "gpu.H100-80GB.free = 8\n"
                               "gpu.H100-80GB.lendable = 4\n"
                               "gpu.H100-80GB.price_microeur_per_hour = 2900000\n"
                               "gpu.A100.40GB.total = 8\n"
                               "carbon_gco2_per_kwh = 350\n"
                               "api_endpoint = https://fra2.example.eu/api\n"
                               "\n"
                               "[gossip]\n"
                               "probe_interval_ms = 500\n"
                               "probe_timeout_ms = 200\n"
                               "suspicion_min_ms = 1000\n"
                               "suspicion_max_ms = 4000\n"
                               "advert_refresh_s = 30\n"
                               "rejoin_interval_s = 10\n"
                               "down_forget_s = 600\n"
                               "clock_skew_max_s = 5\n"
                               "members_max = 200\n"
                               "revocations_max = 50\n"
                               "fanout = 4\n"
                               "indirect_probes = 2\n"
                               "digest_pages_per_round = 8\n"
                               "bytes_per_s_per_peer_max = 200000\n";
    mesh_err err = node_config_parse(text, sizeof(text) - 1, "etc/node.ini", &config, error);
    if (err != MESH_OK) {
        print_error("%s\n", error);
    }
    assert_int_equal(err, MESH_OK);
    assert_string_equal(config.name, "de-fra-2");
    assert_string_equal(config.key_file, "etc/node.key");
    assert_int_equal(config.revocation_file_count, 3);
    assert_string_equal(config.revocation_files[0], "etc/r1.rev");
    assert_string_equal(config.revocation_files[1], "/abs/r2.rev");
    assert_string_equal(config.revocation_files[2], "etc/r3.rev");
    assert_string_equal(config.listen, "tcp://0.0.0.0:7400");
    assert_string_equal(config.advertise, "tcp://fra2.example.eu:7400");
    assert_string_equal(config.control, "tcp://127.0.0.1:7401");
    assert_int_equal(config.seed_count, 3);
    assert_string_equal(config.seeds[1], "tcp://b.example.eu:7400");
    assert_string_equal(config.seeds[2], "tcp://c.example.eu:7400");
    assert_int_equal(config.log_level, NODE_LOG_DEBUG);

    const wire_advert *advert = &config.gossip.advert;
    assert_string_equal(advert->endpoint, "tcp://fra2.example.eu:7400");
    assert_string_equal(advert->api_endpoint, "https://fra2.example.eu/api");
    assert_int_equal(advert->carbon_gco2_per_kwh, 350);
    // Sorted by (class, model): vcpu, memory, gpu A100.40GB, gpu H100-80GB, storage.
    assert_int_equal(advert->resource_count, 5);
    assert_int_equal(advert->resources[0].resource_class, WIRE_RESOURCE_VCPU);
    assert_int_equal(advert->resources[0].total, 1024);
    assert_int_equal(advert->resources[0].free, 512);
    assert_int_equal(advert->resources[0].lendable, 256);
    assert_int_equal(advert->resources[0].price_microeur_per_unit_hour, 21000);
    assert_int_equal(advert->resources[1].resource_class, WIRE_RESOURCE_MEMORY_GIB);
    assert_int_equal(advert->resources[1].price_microeur_per_unit_hour, 2500);
    assert_int_equal(advert->resources[2].resource_class, WIRE_RESOURCE_GPU);
    assert_string_equal(advert->resources[2].model, "A100.40GB");
    assert_int_equal(advert->resources[2].free, 8); // free defaults to total
    assert_int_equal(advert->resources[2].lendable, 0);
    assert_string_equal(advert->resources[3].model, "H100-80GB");
    assert_int_equal(advert->resources[3].price_microeur_per_unit_hour, 2900000);
    assert_int_equal(advert->resources[4].resource_class, WIRE_RESOURCE_STORAGE_GIB);
    assert_int_equal(advert->resources[4].lendable, 10000);

    const gossip_config *g = &config.gossip;
    assert_int_equal(g->probe_interval_ns, 500 * MESH_NS_PER_MS);
    assert_int_equal(g->probe_timeout_ns, 200 * MESH_NS_PER_MS);
    assert_int_equal(g->suspicion_min_ns, 1000 * MESH_NS_PER_MS);
    assert_int_equal(g->suspicion_max_ns, 4000 * MESH_NS_PER_MS);
    assert_int_equal(g->advert_refresh_ns, 30 * MESH_NS_PER_S);
    assert_int_equal(g->rejoin_interval_ns, 10 * MESH_NS_PER_S);
    assert_int_equal(g->down_forget_ns, 600 * MESH_NS_PER_S);
    assert_int_equal(g->clock_skew_max_ns, 5 * (int64_t) MESH_NS_PER_S);
    assert_int_equal(g->members_max, 200);
    assert_int_equal(g->revocations_max, 50);
    assert_int_equal(g->fanout, 4);
    assert_int_equal(g->indirect_probes, 2);
    assert_int_equal(g->digest_pages_per_round, 8);
    assert_int_equal(g->bytes_per_s_per_peer_max, 200000);
}

static void test_relative_paths(void **state)
{
    (void) state;
    // No directory in the path: relative paths stay relative to the cwd.
    assert_int_equal(node_config_parse(minimal, sizeof(minimal) - 1, "node.ini", &config, error),
                     MESH_OK);
    assert_string_equal(config.key_file, "keys/node.key");
    assert_int_equal(
        node_config_parse(minimal, sizeof(minimal) - 1, "a/b/node.ini", &config, error), MESH_OK);
    assert_string_equal(config.certificate_file, "a/b/node.cert");
    assert_string_equal(config.root_public_key_file, "/etc/fedmesh/root.pub");
}

static void test_unknown_section_and_key(void **state)
{
    (void) state;
    expect_error(MESH_EPROTO, "frobnicate = 1\n", "node.ini:7: unknown key 'frobnicate' in [node]");
    expect_error(MESH_EPROTO, "[nodes]\n", "node.ini:7: unknown section [nodes]");
    expect_error(MESH_EPROTO, "[gossip]\nprobe_interval = 100\n",
                 "node.ini:8: unknown key 'probe_interval' in [gossip]");
    expect_error(MESH_EPROTO, "[capacity]\ngpu.H100.count = 1\n", "a GPU field is");
    expect_error(MESH_EPROTO, "[capacity]\ngpu.H 100.total = 1\n", "gpu.<MODEL>.<FIELD>");
    assert_int_equal(parse("name = x\n[node]\n"), MESH_EPROTO);
    assert_non_null(strstr(error, "node.ini:1: 'name' before any section"));
}

static void test_twice_and_malformed(void **state)
{
    (void) state;
    expect_error(MESH_EPROTO, "name = fr-par-2\n", "node.ini:7: name given twice (first at line 2");
    expect_error(MESH_EPROTO, "[capacity]\nvcpu_total = 1\nvcpu_total = 2\n",
                 "vcpu_total given twice (first at line 8)");
    expect_error(MESH_EPROTO, "[capacity]\ngpu.X.total = 1\ngpu.X.total = 2\n", "given twice");
    expect_error(MESH_EPROTO, "this line has no equals sign\n", "node.ini:7: malformed line");
    expect_error(MESH_EPROTO, "[gossip\n", "node.ini:7: a section header without ']'");
    char long_line[400];
    memset(long_line, 'a', sizeof(long_line));
    memcpy(long_line, "seeds = ", 8);
    long_line[sizeof(long_line) - 2] = '\n';
    long_line[sizeof(long_line) - 1] = '\0';
    expect_error(MESH_EPROTO, long_line, "node.ini:7: line longer than");
    static const char with_nul[] = "[node]\nname = a\0b\n";
    assert_int_equal(node_config_parse(with_nul, sizeof(with_nul) - 1, "n.ini", &config, error),
                     MESH_EPROTO);
    assert_non_null(strstr(error, "n.ini:2: a NUL byte"));
}

static void test_bad_values(void **state)
{
    (void) state;
    static const struct {
        const char *extra;
        const char *fragment;
    } cases[] = {
        {"[gossip]\nprobe_interval_ms = 5\n",
         "probe_interval_ms: '5' is not a whole number in 10..60000"},
        {"[gossip]\nprobe_interval_ms = -100\n", "in 10..60000"},
        {"[gossip]\nprobe_interval_ms = 1e3\n", "in 10..60000"},
        {"[gossip]\nfanout = 0\n", "fanout: '0' is not a whole number in 1..16"},
        {"[gossip]\nfanout = 17\n", "in 1..16"},
        {"[gossip]\nmembers_max = 99999999999999999999999\n", "members_max"},
        {"[gossip]\nbytes_per_s_per_peer_max = 1000\n", "in 65536..1073741824"},
        {"[gossip]\nindirect_probes = 17\n", "in 0..16"},
        {"[gossip]\ndigest_pages_per_round = 257\n", "in 1..256"},
        {"[gossip]\nclock_skew_max_s = 0\n", "in 1..86400"},
        {"[gossip]\nrevocations_max = 0\n", "revocations_max"},
        {"[gossip]\nadvert_refresh_s = 0\n", "advert_refresh_s"},
        {"[gossip]\nrejoin_interval_s = 100000\n", "rejoin_interval_s"},
        {"[gossip]\ndown_forget_s = 0\n", "down_forget_s"},
        {"[gossip]\nsuspicion_min_ms = 1\n", "suspicion_min_ms"},
        {"[gossip]\nsuspicion_max_ms = 99999999\n", "suspicion_max_ms"},
        {"[gossip]\nprobe_timeout_ms = 0\n", "probe_timeout_ms"},
        {"[capacity]\ncarbon_gco2_per_kwh = 5001\n", "in 0..5000"},
        {"[capacity]\nvcpu_total = many\n", "vcpu_total: 'many'"},
        {"[capacity]\nprice_microeur_per_vcpu_hour = 1000000000001\n",
         "price_microeur_per_vcpu_hour"},
        {"[capacity]\napi_endpoint = has space\n", "api_endpoint: must be printable ASCII"},
        {"log_level = loud\n", "log_level: 'loud' is not one of debug, info, warn, error"},
        {"seeds = udp://x:1\n", "seeds: 'udp://x:1' is not tcp:// or tls+tcp://HOST:PORT"},
        {"seeds = tcp://x:0\n", "seeds: 'tcp://x:0'"},
        {"seeds = tcp://x:65536\n", "seeds: 'tcp://x:65536'"},
        {"seeds = tcp://x\n", "seeds: 'tcp://x'"},
        {"seeds = tcp://a:1,,tcp://b:2\n", "an empty element"},
        {"advertise = tls+tcp://x:1\n", "a tls+tcp:// endpoint needs [tls] cert_key_file"},
        {"seeds = tls+tcp://x:1\n", "a tls+tcp:// endpoint needs [tls] cert_key_file"},
        {"control = tls+tcp://127.0.0.1:1\n", "control: 'tls+tcp://127.0.0.1:1' is not ipc://PATH"},
        {"advertise = ipc:///tmp/x\n",
         "advertise: 'ipc:///tmp/x' is not tcp:// or tls+tcp://HOST:PORT"},
        {"control = inproc://x\n", "control: 'inproc://x' is not ipc://PATH"},
        {"control = ipc://\n", "control"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expect_error(MESH_EINVAL, cases[i].extra, cases[i].fragment);
    }
    // A bad name is refused in the name key itself.
    assert_int_equal(parse("[node]\nname = Fr_Par\n"), MESH_EINVAL);
    assert_non_null(strstr(error, "node.ini:2: name: 'Fr_Par' is not a member name"));
    assert_int_equal(parse("[node]\nname = -x\n"), MESH_EINVAL);
}

static void test_inconsistent_values(void **state)
{
    (void) state;
    expect_error(MESH_EINVAL, "[gossip]\nprobe_timeout_ms = 1500\n",
                 "probe_timeout_ms (1500) must be less than probe_interval_ms (1500)");
    expect_error(MESH_EINVAL, "[gossip]\nsuspicion_min_ms = 4000\n",
                 "suspicion_min_ms (4000) must not exceed suspicion_max_ms (3000)");
    expect_error(MESH_EINVAL, "[gossip]\nprobe_interval_ms = 5000\nprobe_timeout_ms = 400\n",
                 "suspicion_min_ms (1000) must be at least three probe_timeout_ms");
    expect_error(MESH_EINVAL, "[gossip]\ndown_forget_s = 2\n",
                 "down_forget_s (2) must be at least");
    expect_error(MESH_EINVAL, "[capacity]\nvcpu_free = 4\n", "vcpu: the total is required");
    expect_error(MESH_EINVAL, "[capacity]\nvcpu_total = 4\nvcpu_lendable = 5\n",
                 "must not exceed total");
    expect_error(MESH_EINVAL, "[capacity]\ngpu.L4.total = 4\ngpu.L4.free = 5\n",
                 "gpu.L4: free (5) and lendable (0) must not exceed total (4)");
    // A wildcard listen needs an advertise address peers can dial.
    assert_int_equal(parse("[node]\nname = a\nkey_file = k\ncertificate_file = c\n"
                           "root_public_key_file = r\nlisten = tcp://0.0.0.0:7400\n"),
                     MESH_EINVAL);
    assert_non_null(strstr(error, "set advertise"));
}

static void test_missing_required(void **state)
{
    (void) state;
    static const char *const keys[] = {"name", "key_file", "certificate_file",
                                       "root_public_key_file", "listen"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        // Drop one line of the minimal config.
        char text[sizeof(minimal)];
        char *out = text;
        const char *line = minimal;
        while (*line != '\0') {
            const char *end = strchr(line, '\n') + 1;
            if (strncmp(line, keys[i], strlen(keys[i])) != 0 || line[strlen(keys[i])] != ' ') {
                memcpy(out, line, (size_t) (end - line));
                out += end - line;
            }
            line = end;
        }
        *out = '\0';
        assert_int_equal(parse(text), MESH_EINVAL);
        char want[128];
        (void) snprintf(want, sizeof(want), "node.ini: [node] %s is required", keys[i]);
        if (strstr(error, want) == NULL) {
            print_error("%s\nwanted: %s\n", error, want);
            fail();
        }
    }
}

static void test_limits(void **state)
{
    (void) state;
    static char text[NODE_CONFIG_FILE_SIZE_MAX + 2];
    memset(text, '#', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    assert_int_equal(parse(text), MESH_EINVAL);
    assert_non_null(strstr(error, "larger than"));
    // Seventeen seeds is one too many.
    static char many[4096];
    size_t at = 0;
    for (int i = 0; i < 17; i++) {
        at += (size_t) snprintf(many + at, sizeof(many) - at, "seeds = tcp://h%d:1\n", i);
    }
    expect_error(MESH_EINVAL, many, "more than 16 seeds");
    // Fourteen GPU models is one too many (16 resources, 3 fixed classes).
    at = 0;
    for (int i = 0; i < 14; i++) {
        at += (size_t) snprintf(many + at, sizeof(many) - at, "gpu.M%d.total = 1\n", i);
    }
    char with_section[4200];
    (void) snprintf(with_section, sizeof(with_section), "[capacity]\n%s", many);
    expect_error(MESH_EINVAL, with_section, "more than 13 GPU models");
}

static void test_load_file(void **state)
{
    (void) state;
    const char *tmp = getenv("MESH_TEST_TMPDIR");
    char path[512];
    (void) snprintf(path, sizeof(path), "%s/node_config_test.ini", tmp != NULL ? tmp : "/tmp");
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    assert_int_equal(fputs(minimal, file) >= 0, 1);
    assert_int_equal(fclose(file), 0);
    assert_int_equal(node_config_load(path, &config, error), MESH_OK);
    assert_non_null(strstr(config.key_file, "/keys/node.key"));
    assert_int_equal(remove(path), 0);
    assert_int_equal(node_config_load(path, &config, error), MESH_EIO);
    assert_non_null(strstr(error, "cannot open"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_defaults),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_relative_paths),
        cmocka_unit_test(test_unknown_section_and_key),
        cmocka_unit_test(test_twice_and_malformed),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_inconsistent_values),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_load_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
