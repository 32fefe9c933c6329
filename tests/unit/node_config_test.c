/*
 * tests/unit/node_config_test.c: the agent's INI config loader: every
 * key, defaults, relative paths, and every kind of refusal (unknown
 * section or key, key given twice, bad value, missing required key,
 * malformed or over-long line, inconsistent values, oversize file); the
 * lease, data class, burst and hook settings; and docs/node.example.ini,
 * which must itself load.
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
    // ipc:///tmp/fedmesh-<name>-<12 hex>.ctl (see test_default_control).
    assert_int_equal(strncmp(config.control, "ipc:///tmp/fedmesh-fr-par-1-", 28), 0);
    assert_int_equal(strlen(config.control), 28 + 12 + 4);
    assert_string_equal(config.control + 40, ".ctl");
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

/* Two nodes of one name on one host (two directories, two keys) get two
 * control endpoints; one node's config read by two paths (the agent and
 * `fedmesh peers`) gets one. */
static void test_default_control(void **state)
{
    (void) state;
    char first[NODE_CONFIG_ENDPOINT_SIZE];
    char control[NODE_CONFIG_ENDPOINT_SIZE];
    assert_int_equal(
        node_config_parse(minimal, (uint32_t) strlen(minimal), "/srv/a/node.ini", &config, error),
        MESH_OK);
    memcpy(first, config.control, sizeof(first));
    assert_int_equal(
        node_config_parse(minimal, (uint32_t) strlen(minimal), "/srv/b/node.ini", &config, error),
        MESH_OK);
    assert_string_not_equal(first, config.control);
    assert_int_equal(strncmp(config.control, "ipc:///tmp/fedmesh-fr-par-1-", 28), 0);
    assert_int_equal(
        node_config_parse(minimal, (uint32_t) strlen(minimal), "/srv/a/node.ini", &config, error),
        MESH_OK);
    assert_string_equal(first, config.control);
    // A relative config path: the key's path is made absolute, so the
    // same file named from its directory gives the same endpoint.
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    char absolute[1200];
    (void) snprintf(absolute, sizeof(absolute), "%s/node.ini", cwd);
    assert_int_equal(
        node_config_parse(minimal, (uint32_t) strlen(minimal), absolute, &config, error), MESH_OK);
    memcpy(control, config.control, sizeof(control));
    assert_int_equal(
        node_config_parse(minimal, (uint32_t) strlen(minimal), "node.ini", &config, error),
        MESH_OK);
    assert_string_equal(control, config.control);
    // An explicit control is kept as written.
    assert_int_equal(parse_with("control = ipc:///run/fedmesh/a.ctl\n"), MESH_OK);
    assert_string_equal(config.control, "ipc:///run/fedmesh/a.ctl");
}

/* [capacity] api_endpoint promises what one line can hold: the value of a
 * 198-byte "api_endpoint = VALUE" line, 183 bytes; 184 bytes is refused by
 * name even where the line itself would fit (no spaces around '='). */
static void test_api_endpoint_limit(void **state)
{
    (void) state;
    assert_int_equal(NODE_CONFIG_API_ENDPOINT_SIZE_MAX, 183);
    char value[NODE_CONFIG_API_ENDPOINT_SIZE_MAX + 2];
    memset(value, 'a', sizeof(value));
    value[NODE_CONFIG_API_ENDPOINT_SIZE_MAX] = '\0';
    char extra[512];
    (void) snprintf(extra, sizeof(extra), "[capacity]\napi_endpoint = %s\n", value);
    assert_int_equal(strlen("api_endpoint = ") + strlen(value), NODE_CONFIG_LINE_SIZE_MAX);
    if (parse_with(extra) != MESH_OK) {
        print_error("%s\n", error);
        fail();
    }
    assert_string_equal(config.gossip.advert.api_endpoint, value);
    value[NODE_CONFIG_API_ENDPOINT_SIZE_MAX] = 'a';
    value[NODE_CONFIG_API_ENDPOINT_SIZE_MAX + 1] = '\0';
    (void) snprintf(extra, sizeof(extra), "[capacity]\napi_endpoint=%s\n", value);
    expect_error(MESH_EINVAL, extra,
                 "api_endpoint: must be printable ASCII without spaces, at "
                 "most 183 bytes");
    (void) snprintf(extra, sizeof(extra), "[capacity]\napi_endpoint = %s\n", value);
    expect_error(MESH_EPROTO, extra, "line longer than 198 bytes");
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

/* ---------------------------------------------------------------- */
/* Leases, lender policy, data classes, bursting, hooks.              */
/* ---------------------------------------------------------------- */

static void test_lease_defaults(void **state)
{
    (void) state;
    assert_int_equal(parse(minimal), MESH_OK);
    lease_config lease_defaults;
    lease_config_default(&lease_defaults);
    assert_memory_equal(&config.lease, &lease_defaults, sizeof(lease_defaults));
    const lease_config *lease = &config.lease;
    assert_int_equal(lease->class_count, 0);
    assert_int_equal(lease->offer_ttl_ns, 5000 * MESH_NS_PER_MS);
    assert_int_equal(lease->request_timeout_ns, 2000 * MESH_NS_PER_MS);
    assert_int_equal(lease->retry_interval_ns, 200 * MESH_NS_PER_MS);
    assert_int_equal(lease->retry_max_ns, 30 * MESH_NS_PER_S);
    assert_int_equal(lease->usage_interval_ns, 900 * MESH_NS_PER_S);
    assert_int_equal(lease->reclaim_notice_ns, 60 * MESH_NS_PER_S);
    assert_int_equal(lease->duration_max_ns, 168ull * 3600 * MESH_NS_PER_S);
    assert_int_equal(lease->start_ahead_max_ns, 24ull * 3600 * MESH_NS_PER_S);
    assert_int_equal(lease->clock_skew_max_ns, 60 * (int64_t) MESH_NS_PER_S);
    assert_int_equal(lease->leases_max, 4096);
    assert_int_equal(lease->borrows_max, 256);
    assert_int_equal(lease->in_flight_max, 3);
    assert_int_equal(lease->candidates_max, 64);
    assert_int_equal(lease->reciprocity_share_permille, 250);
    assert_int_equal(lease->weights.reciprocity, 10);
    assert_int_equal(lease->weights.rtt, 1);
    assert_int_equal(lease->weights.price, 1);
    assert_int_equal(lease->weights.carbon, 1);

    assert_int_equal(config.data_class_count, 0);
    assert_string_equal(config.default_data_class, "");
    wire_lease_constraints none;
    memset(&none, 0, sizeof(none));
    assert_memory_equal(&config.default_constraints, &none, sizeof(none));

    member_config member_defaults;
    member_config_default(&member_defaults);
    assert_memory_equal(&config.burst, &member_defaults.burst, sizeof(config.burst));
    assert_false(config.burst.enabled);
    assert_int_equal(config.burst.threshold, 1);
    assert_int_equal(config.burst.release_margin, 0);
    assert_int_equal(config.burst.release_delay_ns, 60 * MESH_NS_PER_S);
    assert_int_equal(config.burst.lease_duration_ns, 3600 * MESH_NS_PER_S);
    assert_int_equal(config.burst.retry_ns, 30 * MESH_NS_PER_S);
    assert_memory_equal(&config.burst.constraints, &none, sizeof(none));

    assert_string_equal(config.hooks.on_granted, "");
    assert_string_equal(config.hooks.on_reclaim_notice, "");
    assert_string_equal(config.hooks.on_member, "");
    assert_string_equal(config.hooks.on_ended, "");
    assert_int_equal(config.hooks.timeout_ns, 10000 * MESH_NS_PER_MS);
}

static void test_lease_every_key(void **state)
{
    (void) state;
    mesh_err err = parse_with("[lease]\n"
                              "offer_ttl_ms = 100\n"
                              "request_timeout_ms = 600000\n"
                              "retry_interval_ms = 1000\n"
                              "retry_max_s = 1\n"
                              "usage_interval_s = 86400\n"
                              "reclaim_notice_s = 0\n"
                              "duration_max_h = 8784\n"
                              "start_ahead_max_h = 0\n"
                              "clock_skew_max_s = 5\n"
                              "leases_max = 2\n"
                              "borrows_max = 65536\n"
                              "in_flight_max = 64\n"
                              "candidates_max = 1\n"
                              "reciprocity_share_permille = 1000\n"
                              "weight_reciprocity = 1000000\n"
                              "weight_rtt = 0\n"
                              "weight_price = 7\n"
                              "weight_carbon = 3\n"
                              "[gossip]\n"
                              "clock_skew_max_s = 9\n");
    if (err != MESH_OK) {
        print_error("%s\n", error);
    }
    assert_int_equal(err, MESH_OK);
    const lease_config *lease = &config.lease;
    assert_int_equal(lease->offer_ttl_ns, 100 * MESH_NS_PER_MS);
    assert_int_equal(lease->request_timeout_ns, 600000 * MESH_NS_PER_MS);
    assert_int_equal(lease->retry_interval_ns, MESH_NS_PER_S);
    assert_int_equal(lease->retry_max_ns, MESH_NS_PER_S);
    assert_int_equal(lease->usage_interval_ns, 86400 * MESH_NS_PER_S);
    assert_int_equal(lease->reclaim_notice_ns, 0);
    assert_int_equal(lease->duration_max_ns, WIRE_LEASE_DURATION_NS_MAX);
    assert_int_equal(lease->start_ahead_max_ns, 0);
    assert_int_equal(lease->clock_skew_max_ns, 5 * (int64_t) MESH_NS_PER_S);
    assert_int_equal(lease->leases_max, 2);
    assert_int_equal(lease->borrows_max, 65536);
    assert_int_equal(lease->in_flight_max, 64);
    assert_int_equal(lease->candidates_max, 1);
    assert_int_equal(lease->reciprocity_share_permille, 1000);
    assert_int_equal(lease->weights.reciprocity, 1000000);
    assert_int_equal(lease->weights.rtt, 0);
    assert_int_equal(lease->weights.price, 7);
    assert_int_equal(lease->weights.carbon, 3);
    // The two clock_skew_max_s keys are separate settings.
    assert_int_equal(config.gossip.clock_skew_max_ns, 9 * (int64_t) MESH_NS_PER_S);
    // retry_max_s must cover retry_interval_ms.
    expect_error(MESH_EINVAL, "[lease]\nretry_interval_ms = 2000\nretry_max_s = 1\n",
                 "retry_max_s (1 s) must be at least retry_interval_ms (2000 ms)");
}

static void test_lender_policy(void **state)
{
    (void) state;
    mesh_err err = parse_with("[capacity]\n"
                              "storage_gib_total = 1000\n"
                              "storage_gib_lendable = 100\n"
                              "storage_gib_keep = 1000\n"
                              "storage_gib_per_peer_max = 100\n"
                              "price_microeur_per_storage_gib_hour = 40\n"
                              "gpu.L4.total = 8\n"
                              "gpu.H100.total = 16\n"
                              "gpu.H100.lendable = 8\n"
                              "gpu.H100.keep = 2\n"
                              "gpu.H100.per_peer_max = 4\n"
                              "gpu.H100.price_microeur_per_hour = 2900000\n"
                              "vcpu_total = 64\n"
                              "vcpu_lendable = 32\n"
                              "vcpu_keep = 8\n"
                              "vcpu_per_peer_max = 16\n"
                              "price_microeur_per_vcpu_hour = 21000\n"
                              "memory_gib_total = 256\n"
                              "memory_gib_lendable = 128\n"
                              "memory_gib_keep = 0\n"
                              "memory_gib_per_peer_max = 0\n");
    if (err != MESH_OK) {
        print_error("%s\n", error);
    }
    assert_int_equal(err, MESH_OK);
    const lease_config *lease = &config.lease;
    const wire_advert *advert = &config.gossip.advert;
    // One class per advertised resource, in the advert's order.
    assert_int_equal(lease->class_count, 5);
    assert_int_equal(advert->resource_count, 5);
    for (uint32_t i = 0; i < lease->class_count; i++) {
        assert_int_equal(lease->classes[i].resource_class, advert->resources[i].resource_class);
        assert_string_equal(lease->classes[i].model, advert->resources[i].model);
        assert_int_equal(lease->classes[i].total, advert->resources[i].total);
        assert_int_equal(lease->classes[i].lendable, advert->resources[i].lendable);
        assert_int_equal(lease->classes[i].price_microeur_per_unit_hour,
                         advert->resources[i].price_microeur_per_unit_hour);
    }
    const lease_class_policy *vcpu = &lease->classes[0];
    assert_int_equal(vcpu->resource_class, WIRE_RESOURCE_VCPU);
    assert_int_equal(vcpu->total, 64);
    assert_int_equal(vcpu->lendable, 32);
    assert_int_equal(vcpu->keep, 8);
    assert_int_equal(vcpu->per_peer_max, 16);
    assert_int_equal(vcpu->price_microeur_per_unit_hour, 21000);
    const lease_class_policy *memory = &lease->classes[1];
    assert_int_equal(memory->resource_class, WIRE_RESOURCE_MEMORY_GIB);
    assert_int_equal(memory->keep, 0);
    assert_int_equal(memory->per_peer_max, 0);
    const lease_class_policy *h100 = &lease->classes[2];
    assert_int_equal(h100->resource_class, WIRE_RESOURCE_GPU);
    assert_string_equal(h100->model, "H100");
    assert_int_equal(h100->keep, 2);
    assert_int_equal(h100->per_peer_max, 4);
    assert_int_equal(h100->price_microeur_per_unit_hour, 2900000);
    const lease_class_policy *l4 = &lease->classes[3];
    assert_string_equal(l4->model, "L4");
    assert_int_equal(l4->total, 8);
    assert_int_equal(l4->lendable, 0); // defaults: lend nothing, keep nothing
    assert_int_equal(l4->keep, 0);
    assert_int_equal(l4->per_peer_max, 0);
    const lease_class_policy *storage = &lease->classes[4];
    assert_int_equal(storage->resource_class, WIRE_RESOURCE_STORAGE_GIB);
    assert_int_equal(storage->total, 1000);
    assert_int_equal(storage->keep, 1000);
    assert_int_equal(storage->per_peer_max, 100);

    // keep <= total, per_peer_max <= lendable, each named by its key.
    expect_error(MESH_EINVAL, "[capacity]\nvcpu_total = 4\nvcpu_keep = 5\n",
                 "[capacity] vcpu_keep (5) must not exceed vcpu_total (4)");
    expect_error(MESH_EINVAL, "[capacity]\nmemory_gib_total = 4\nmemory_gib_keep = 5\n",
                 "memory_gib_keep (5) must not exceed memory_gib_total (4)");
    expect_error(MESH_EINVAL, "[capacity]\ngpu.A2.total = 4\ngpu.A2.keep = 5\n",
                 "gpu.A2.keep (5) must not exceed gpu.A2.total (4)");
    expect_error(MESH_EINVAL,
                 "[capacity]\nvcpu_total = 8\nvcpu_lendable = 4\nvcpu_per_peer_max = 5\n",
                 "[capacity] vcpu_per_peer_max (5) must not exceed vcpu_lendable (4");
    expect_error(MESH_EINVAL, "[capacity]\nstorage_gib_total = 8\nstorage_gib_per_peer_max = 1\n",
                 "storage_gib_per_peer_max (1) must not exceed storage_gib_lendable (0");
    expect_error(MESH_EINVAL,
                 "[capacity]\ngpu.A2.total = 4\ngpu.A2.lendable = 2\ngpu.A2.per_peer_max = 3\n",
                 "gpu.A2.per_peer_max (3) must not exceed gpu.A2.lendable (2");
    // A policy key alone advertises the class, so its total is required.
    expect_error(MESH_EINVAL, "[capacity]\nvcpu_keep = 1\n", "vcpu: the total is required");
    expect_error(MESH_EINVAL, "[capacity]\ngpu.A2.per_peer_max = 1\n",
                 "gpu.A2: the total is required");
    expect_error(MESH_EPROTO, "[capacity]\nvcpu_total = 4\nvcpu_keep = 1\nvcpu_keep = 1\n",
                 "vcpu_keep given twice");
}

/* Every new numeric key just outside its range, in both directions. */
static void test_lease_ranges(void **state)
{
    (void) state;
    static const struct {
        const char *section;
        const char *key;
        uint64_t min;
        uint64_t max;
    } cases[] = {
        {"lease", "offer_ttl_ms", 100, 600000},
        {"lease", "request_timeout_ms", 10, 600000},
        {"lease", "retry_interval_ms", 10, 60000},
        {"lease", "retry_max_s", 1, 3600},
        {"lease", "usage_interval_s", 1, 86400},
        {"lease", "reclaim_notice_s", 0, 86400},
        {"lease", "duration_max_h", 1, 8784},
        {"lease", "start_ahead_max_h", 0, 8784},
        {"lease", "clock_skew_max_s", 1, 86400},
        {"lease", "leases_max", 2, 1048576},
        {"lease", "borrows_max", 1, 65536},
        {"lease", "in_flight_max", 1, 64},
        {"lease", "candidates_max", 1, 1024},
        {"lease", "reciprocity_share_permille", 0, 1000},
        {"lease", "weight_reciprocity", 0, 1000000},
        {"lease", "weight_rtt", 0, 1000000},
        {"lease", "weight_price", 0, 1000000},
        {"lease", "weight_carbon", 0, 1000000},
        {"data_class x", "max_rtt_ms", 0, 60000},
        {"data_class x", "max_cost_microeur_per_hour", 0, 1000000000000ull},
        {"data_class x", "max_carbon_gco2_per_kwh", 0, 5000},
        {"burst", "enabled", 0, 1},
        {"burst", "threshold", 1, 1000000000000ull},
        {"burst", "release_margin", 0, 1000000000000ull},
        {"burst", "release_delay_s", 0, 86400},
        {"burst", "lease_duration_s", 60, 31622400},
        {"burst", "retry_s", 1, 86400},
        {"hooks", "timeout_ms", 100, 600000},
        {"capacity", "vcpu_keep", 0, 1000000000000ull},
        {"capacity", "vcpu_per_peer_max", 0, 1000000000000ull},
        {"capacity", "memory_gib_keep", 0, 1000000000000ull},
        {"capacity", "memory_gib_per_peer_max", 0, 1000000000000ull},
        {"capacity", "storage_gib_keep", 0, 1000000000000ull},
        {"capacity", "storage_gib_per_peer_max", 0, 1000000000000ull},
        {"capacity", "gpu.H100.keep", 0, 1000000000000ull},
        {"capacity", "gpu.H100.per_peer_max", 0, 1000000000000ull},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char extra[256];
        char want[160];
        (void) snprintf(want, sizeof(want), "%s: '%llu' is not a whole number in %llu..%llu",
                        cases[i].key, (unsigned long long) cases[i].max + 1,
                        (unsigned long long) cases[i].min, (unsigned long long) cases[i].max);
        (void) snprintf(extra, sizeof(extra), "[%s]\n%s = %llu\n", cases[i].section, cases[i].key,
                        (unsigned long long) cases[i].max + 1);
        expect_error(MESH_EINVAL, extra, want);
        (void) snprintf(extra, sizeof(extra), "[%s]\n%s = -1\n", cases[i].section, cases[i].key);
        expect_error(MESH_EINVAL, extra, "is not a whole number");
        if (cases[i].min > 0) {
            (void) snprintf(want, sizeof(want), "%s: '%llu' is not a whole number in %llu..%llu",
                            cases[i].key, (unsigned long long) cases[i].min - 1,
                            (unsigned long long) cases[i].min, (unsigned long long) cases[i].max);
            (void) snprintf(extra, sizeof(extra), "[%s]\n%s = %llu\n", cases[i].section,
                            cases[i].key, (unsigned long long) cases[i].min - 1);
            expect_error(MESH_EINVAL, extra, want);
        }
    }
}

static void test_new_sections_unknown_key(void **state)
{
    (void) state;
    expect_error(MESH_EPROTO, "[lease]\noffer_ttl = 1\n",
                 "node.ini:8: unknown key 'offer_ttl' in [lease]");
    expect_error(MESH_EPROTO, "[burst]\nenable = 1\n",
                 "node.ini:8: unknown key 'enable' in [burst]");
    expect_error(MESH_EPROTO, "[hooks]\non_start = /bin/true\n",
                 "node.ini:8: unknown key 'on_start' in [hooks]");
    expect_error(MESH_EPROTO, "[data_class x]\ncountry = FR\n",
                 "node.ini:8: unknown key 'country' in [data_class x]");
    expect_error(MESH_EPROTO, "[data_class x]\ndata_class = x\n", "unknown key 'data_class'");
    // Data class keys belong to data class sections only.
    expect_error(MESH_EPROTO, "[lease]\ncountries = FR\n", "unknown key 'countries' in [lease]");
    expect_error(MESH_EPROTO, "[leases]\n", "node.ini:7: unknown section [leases]");
    expect_error(MESH_EPROTO, "[lease]\nleases_max = 8\nleases_max = 9\n",
                 "leases_max given twice (first at line 8");
    expect_error(MESH_EPROTO, "[burst]\nretry_s = 8\n[burst]\nretry_s = 9\n",
                 "retry_s given twice");
}

static void test_data_classes(void **state)
{
    (void) state;
    mesh_err err = parse_with("[lease]\n"
                              "default_data_class = eu\n"
                              "[data_class health]\n"
                              "countries = NL, FR, DE\n"
                              "countries = FR, BE\n"
                              "jurisdictions = FR, EU, DE, EU\n"
                              "certifications = HDS, iso 27001\n"
                              "certifications = hds\n"
                              "max_rtt_ms = 40\n"
                              "max_cost_microeur_per_hour = 5000000\n"
                              "max_carbon_gco2_per_kwh = 200\n"
                              "[data_class eu]\n"
                              "jurisdictions = EU\n"
                              "[data_class open-2]\n");
    if (err != MESH_OK) {
        print_error("%s\n", error);
    }
    assert_int_equal(err, MESH_OK);
    assert_int_equal(config.data_class_count, 3);
    const node_data_class *health = &config.data_classes[0];
    assert_string_equal(health->name, "health");
    const wire_lease_constraints *c = &health->constraints;
    assert_string_equal(c->data_class, "health");
    // Sorted and deduplicated, as the wire wants them.
    assert_int_equal(c->country_count, 4);
    assert_string_equal(c->countries[0], "BE");
    assert_string_equal(c->countries[1], "DE");
    assert_string_equal(c->countries[2], "FR");
    assert_string_equal(c->countries[3], "NL");
    assert_int_equal(c->jurisdiction_count, 3);
    assert_string_equal(c->jurisdictions[0], "DE");
    assert_string_equal(c->jurisdictions[1], "EU");
    assert_string_equal(c->jurisdictions[2], "FR");
    assert_int_equal(c->certifications, WIRE_CERTIFICATION_HDS | WIRE_CERTIFICATION_ISO27001);
    assert_int_equal(c->rtt_us_max, 40000);
    assert_int_equal(c->cost_microeur_per_hour_max, 5000000);
    assert_int_equal(c->carbon_gco2_per_kwh_max, 200);

    assert_string_equal(config.data_classes[1].name, "eu");
    assert_string_equal(config.data_classes[2].name, "open-2");
    wire_lease_constraints open;
    memset(&open, 0, sizeof(open));
    memcpy(open.data_class, "open-2", 7);
    assert_memory_equal(&config.data_classes[2].constraints, &open, sizeof(open));

    // The default class is resolved after the whole file is read.
    assert_string_equal(config.default_data_class, "eu");
    assert_memory_equal(&config.default_constraints, &config.data_classes[1].constraints,
                        sizeof(wire_lease_constraints));
    // Bursts start from the default class too.
    assert_memory_equal(&config.burst.constraints, &config.default_constraints,
                        sizeof(wire_lease_constraints));

    assert_ptr_equal(node_config_data_class(&config, "eu"), &config.data_classes[1]);
    assert_null(node_config_data_class(&config, "e"));
    assert_null(node_config_data_class(&config, "nope"));
}

static void test_data_class_errors(void **state)
{
    (void) state;
    expect_error(MESH_EINVAL, "[data_class x]\ncountries = FR, XX\n",
                 "node.ini:8: countries: 'XX' is not an ISO 3166-1 alpha-2 country code");
    expect_error(MESH_EINVAL, "[data_class x]\ncountries = fr\n", "countries: 'fr'");
    expect_error(MESH_EINVAL, "[data_class x]\ncountries = FRA\n", "countries: 'FRA'");
    expect_error(MESH_EINVAL, "[data_class x]\ncountries = EU\n", "countries: 'EU'");
    expect_error(MESH_EINVAL, "[data_class x]\ncountries = FR,,DE\n", "an empty element");
    expect_error(
        MESH_EINVAL, "[data_class x]\njurisdictions = EUR\n",
        "jurisdictions: 'EUR' is not an ISO 3166-1 alpha-2 country code (upper case) or EU");
    expect_error(MESH_EINVAL, "[data_class x]\ncertifications = HDS, SOC2\n",
                 "node.ini:8: certifications: 'SOC2' is not a certification");
    expect_error(MESH_EINVAL,
                 "[data_class x]\njurisdictions = FR, DE, NL, BE, LU, AT, IT, ES\n"
                 "jurisdictions = PT\n",
                 "jurisdictions: more than 8 jurisdictions");
    expect_error(MESH_EINVAL, "[data_class Health]\n",
                 "node.ini:7: [data_class Health]: a data class name is 1..31 characters");
    expect_error(MESH_EINVAL, "[data_class a_b]\n", "a data class name");
    expect_error(MESH_EINVAL, "[data_class abcdefghijabcdefghijabcdefghij-12]\n",
                 "a data class name");
    expect_error(MESH_EPROTO, "[data_class]\n", "node.ini:7: [data_class] needs a name");
    expect_error(MESH_EINVAL, "[data_class  x]\n", "a data class name");
    expect_error(MESH_EPROTO, "[data_class x]\n[lease]\n[data_class x]\n",
                 "node.ini:9: [data_class x] given twice (first at line 7)");
    expect_error(MESH_EPROTO, "[data_class x]\nmax_rtt_ms = 1\nmax_rtt_ms = 2\n",
                 "node.ini:9: max_rtt_ms given twice (first at line 8");
    // The same key in two classes is two settings.
    assert_int_equal(parse_with("[data_class x]\nmax_rtt_ms = 1\n[data_class y]\nmax_rtt_ms = 2\n"),
                     MESH_OK);
    assert_int_equal(config.data_classes[0].constraints.rtt_us_max, 1000);
    assert_int_equal(config.data_classes[1].constraints.rtt_us_max, 2000);

    // At most 16 classes; 32 countries (after duplicates are dropped).
    static char many[2048];
    size_t at = 0;
    for (int i = 0; i < 17; i++) {
        at += (size_t) snprintf(many + at, sizeof(many) - at, "[data_class c%d]\n", i);
    }
    expect_error(MESH_EINVAL, many, "node.ini:23: [data_class c16]: more than 16 data classes");
    static const char *const countries[] = {"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI",
                                            "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU",
                                            "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
                                            "NO", "IS", "LI", "CH", "GB", "US"};
    at = (size_t) snprintf(many, sizeof(many), "[data_class x]\n");
    for (size_t i = 0; i < sizeof(countries) / sizeof(countries[0]); i++) {
        at += (size_t) snprintf(many + at, sizeof(many) - at, "countries = %s, FR\n", countries[i]);
    }
    expect_error(MESH_EINVAL, many, "countries: more than 32 countries");

    // Names referring to classes must name one.
    expect_error(MESH_EINVAL, "[lease]\ndefault_data_class = health\n[data_class healthy]\n",
                 "node.ini:8: default_data_class: no [data_class health] section defines");
    expect_error(MESH_EINVAL, "[burst]\ndata_class = batch\n",
                 "node.ini:8: data_class: no [data_class batch] section defines");
    expect_error(MESH_EINVAL, "[lease]\ndefault_data_class = Health\n",
                 "default_data_class: 'Health' is not a data class name");
    expect_error(MESH_EPROTO, "[lease]\ndefault_data_class = a\ndefault_data_class = a\n",
                 "default_data_class given twice");
}

static void test_burst(void **state)
{
    (void) state;
    mesh_err err = parse_with("[ledger]\n"
                              "path = ledger\n"
                              "[burst]\n"
                              "enabled = 1\n"
                              "threshold = 4\n"
                              "release_margin = 2\n"
                              "release_delay_s = 0\n"
                              "lease_duration_s = 31622400\n"
                              "retry_s = 5\n"
                              "data_class = eu-hds\n"
                              "[lease]\n"
                              "default_data_class = eu\n"
                              "[data_class eu]\n"
                              "countries = FR, DE, NL\n"
                              "jurisdictions = EU\n"
                              "max_rtt_ms = 100\n"
                              "[data_class eu-hds]\n"
                              "countries = FR\n"
                              "jurisdictions = EU, FR\n"
                              "certifications = HDS\n"
                              "max_rtt_ms = 50\n");
    if (err != MESH_OK) {
        print_error("%s\n", error);
    }
    assert_int_equal(err, MESH_OK);
    assert_true(config.burst.enabled);
    assert_int_equal(config.burst.threshold, 4);
    assert_int_equal(config.burst.release_margin, 2);
    assert_int_equal(config.burst.release_delay_ns, 0);
    assert_int_equal(config.burst.lease_duration_ns, 31622400 * MESH_NS_PER_S);
    assert_int_equal(config.burst.retry_ns, 5 * MESH_NS_PER_S);
    assert_memory_equal(&config.burst.constraints, &config.data_classes[1].constraints,
                        sizeof(wire_lease_constraints));
    assert_string_equal(config.burst.constraints.data_class, "eu-hds");
    assert_string_equal(config.default_constraints.data_class, "eu");

    // Bursting records leases: it needs the ledger.
    expect_error(MESH_EINVAL, "[burst]\nenabled = 1\n", "[burst] enabled = 1 needs [ledger] path");
    assert_int_equal(parse_with("[burst]\nenabled = 0\nthreshold = 9\n"), MESH_OK);
    // A burst class may only narrow the default class.
    expect_error(MESH_EINVAL,
                 "[lease]\ndefault_data_class = eu\n[burst]\ndata_class = any\n"
                 "[data_class eu]\ncountries = FR\n[data_class any]\n",
                 "[burst] data_class any must be at least as strict as [lease] "
                 "default_data_class eu");
    // Without a default class, any class will do.
    assert_int_equal(parse_with("[burst]\ndata_class = any\n[data_class any]\nmax_rtt_ms = 5\n"),
                     MESH_OK);
    assert_int_equal(config.burst.constraints.rtt_us_max, 5000);
}

static void test_constraints_within(void **state)
{
    (void) state;
    wire_lease_constraints base;
    wire_lease_constraints narrower;
    memset(&base, 0, sizeof(base));
    memset(&narrower, 0, sizeof(narrower));
    assert_true(node_config_constraints_within(&base, &narrower));
    memcpy(base.countries[0], "DE", 3);
    memcpy(base.countries[1], "FR", 3);
    base.country_count = 2;
    assert_false(node_config_constraints_within(&base, &narrower)); // anywhere is wider
    memcpy(narrower.countries[0], "FR", 3);
    narrower.country_count = 1;
    assert_true(node_config_constraints_within(&base, &narrower));
    memcpy(narrower.countries[1], "NL", 3);
    narrower.country_count = 2;
    assert_false(node_config_constraints_within(&base, &narrower));
    narrower.country_count = 1;

    memcpy(base.jurisdictions[0], "EU", 3);
    base.jurisdiction_count = 1;
    assert_false(node_config_constraints_within(&base, &narrower));
    memcpy(narrower.jurisdictions[0], "EU", 3);
    memcpy(narrower.jurisdictions[1], "FR", 3);
    narrower.jurisdiction_count = 2;
    assert_true(node_config_constraints_within(&base, &narrower));

    base.certifications = WIRE_CERTIFICATION_HDS;
    assert_false(node_config_constraints_within(&base, &narrower));
    narrower.certifications = WIRE_CERTIFICATION_HDS | WIRE_CERTIFICATION_C5;
    assert_true(node_config_constraints_within(&base, &narrower));

    base.rtt_us_max = 1000;
    assert_false(node_config_constraints_within(&base, &narrower)); // 0 is no limit
    narrower.rtt_us_max = 1001;
    assert_false(node_config_constraints_within(&base, &narrower));
    narrower.rtt_us_max = 1000;
    assert_true(node_config_constraints_within(&base, &narrower));
    base.cost_microeur_per_hour_max = 10;
    narrower.cost_microeur_per_hour_max = 11;
    assert_false(node_config_constraints_within(&base, &narrower));
    narrower.cost_microeur_per_hour_max = 9;
    base.carbon_gco2_per_kwh_max = 100;
    narrower.carbon_gco2_per_kwh_max = 0;
    assert_false(node_config_constraints_within(&base, &narrower));
    narrower.carbon_gco2_per_kwh_max = 100;
    assert_true(node_config_constraints_within(&base, &narrower));
}

/* Writes a file in the test's temporary directory with the given mode. */
static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    assert_true(fputs(text, file) >= 0);
    assert_int_equal(fclose(file), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_hooks(void **state)
{
    (void) state;
    // An absolute directory, so that the hook's absolute path is one.
    const char *tmp = getenv("MESH_TEST_TMPDIR");
    char dir[400] = "/tmp";
    if (tmp != NULL && tmp[0] == '/') {
        (void) snprintf(dir, sizeof(dir), "%s", tmp);
    } else if (tmp != NULL) {
        char cwd[256];
        assert_non_null(getcwd(cwd, sizeof(cwd)));
        (void) snprintf(dir, sizeof(dir), "%s/%s", cwd, tmp);
    }
    char hook[512];
    char plain[512];
    char ini[512];
    (void) snprintf(hook, sizeof(hook), "%s/node_config_hook.sh", dir);
    (void) snprintf(plain, sizeof(plain), "%s/node_config_plain.sh", dir);
    (void) snprintf(ini, sizeof(ini), "%s/node.ini", dir);
    write_file(hook, "#!/bin/sh\nexit 0\n", 0755);
    write_file(plain, "#!/bin/sh\nexit 0\n", 0644);

    // Relative to the config's directory, absolute as given, empty = none.
    char text[2048];
    (void) snprintf(text, sizeof(text),
                    "%s[hooks]\non_granted = node_config_hook.sh\non_reclaim_notice = %s\n"
                    "on_ended =\non_member = node_config_hook.sh\ntimeout_ms = 100\n",
                    minimal, hook);
    mesh_err err = node_config_parse(text, (uint32_t) strlen(text), ini, &config, error);
    if (err != MESH_OK) {
        print_error("%s\n", error);
    }
    assert_int_equal(err, MESH_OK);
    assert_string_equal(config.hooks.on_granted, hook);
    assert_string_equal(config.hooks.on_reclaim_notice, hook);
    assert_string_equal(config.hooks.on_ended, "");
    assert_string_equal(config.hooks.on_member, hook);
    assert_int_equal(config.hooks.timeout_ns, 100 * MESH_NS_PER_MS);

    // Not executable, missing, a directory.
    (void) snprintf(text, sizeof(text), "%s[hooks]\non_ended = node_config_plain.sh\n", minimal);
    assert_int_equal(node_config_parse(text, (uint32_t) strlen(text), ini, &config, error),
                     MESH_EINVAL);
    char want[600];
    (void) snprintf(want, sizeof(want), "node.ini:8: on_ended: %s is not an executable file",
                    plain);
    assert_non_null(strstr(error, want));
    (void) snprintf(text, sizeof(text), "%s[hooks]\non_granted = missing.sh\n", minimal);
    assert_int_equal(node_config_parse(text, (uint32_t) strlen(text), ini, &config, error),
                     MESH_EINVAL);
    assert_non_null(strstr(error, "on_granted: "));
    assert_non_null(strstr(error, "missing.sh: No such file or directory"));
    (void) snprintf(text, sizeof(text), "%s[hooks]\non_reclaim_notice = %s\n", minimal, dir);
    assert_int_equal(node_config_parse(text, (uint32_t) strlen(text), ini, &config, error),
                     MESH_EINVAL);
    assert_non_null(strstr(error, "on_reclaim_notice: "));
    assert_non_null(strstr(error, "is not an executable file"));
    (void) snprintf(text, sizeof(text), "%s[hooks]\non_ended = %s\non_ended = %s\n", minimal, hook,
                    hook);
    assert_int_equal(node_config_parse(text, (uint32_t) strlen(text), ini, &config, error),
                     MESH_EPROTO);
    assert_non_null(strstr(error, "on_ended given twice"));
    assert_int_equal(remove(hook), 0);
    assert_int_equal(remove(plain), 0);
}

/* docs/node.example.ini shows every key: it must load as it is. */
static void test_example_file(void **state)
{
    (void) state;
    // This file is tests/unit/node_config_test.c; CMake compiles it by its
    // absolute path.
    char path[1024];
    const char *self = __FILE__;
    const char *tail = strstr(self, "tests/unit/node_config_test.c");
    assert_non_null(tail);
    (void) snprintf(path, sizeof(path), "%.*sdocs/node.example.ini", (int) (tail - self), self);
    mesh_err err = node_config_load(path, &config, error);
    if (err != MESH_OK) {
        print_error("%s\n", error);
    }
    assert_int_equal(err, MESH_OK);
    assert_string_equal(config.name, "fr-par-1");
    assert_int_equal(config.gossip.advert.resource_count, 4);
    assert_int_equal(config.lease.class_count, 4);
    assert_int_equal(config.lease.classes[0].keep, 128);
    assert_string_equal(config.lease.classes[2].model, "H100-80GB");
    assert_int_equal(config.lease.classes[2].per_peer_max, 4);
    assert_int_equal(config.data_class_count, 3);
    assert_string_equal(config.default_data_class, "internal");
    assert_string_equal(config.burst.constraints.data_class, "internal");
    const node_data_class *health = node_config_data_class(&config, "health");
    assert_non_null(health);
    assert_int_equal(health->constraints.certifications,
                     WIRE_CERTIFICATION_HDS | WIRE_CERTIFICATION_ISO27001);
    // The example shows the defaults of [lease], [burst] and [hooks].
    lease_config lease_defaults;
    lease_config_default(&lease_defaults);
    lease_defaults.class_count = config.lease.class_count;
    memcpy(lease_defaults.classes, config.lease.classes, sizeof(lease_defaults.classes));
    assert_memory_equal(&config.lease, &lease_defaults, sizeof(lease_defaults));
    assert_int_equal(config.hooks.timeout_ns, 10000 * MESH_NS_PER_MS);
    assert_false(config.burst.enabled);
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
        cmocka_unit_test(test_lease_defaults),
        cmocka_unit_test(test_lease_every_key),
        cmocka_unit_test(test_lender_policy),
        cmocka_unit_test(test_lease_ranges),
        cmocka_unit_test(test_new_sections_unknown_key),
        cmocka_unit_test(test_data_classes),
        cmocka_unit_test(test_data_class_errors),
        cmocka_unit_test(test_burst),
        cmocka_unit_test(test_constraints_within),
        cmocka_unit_test(test_hooks),
        cmocka_unit_test(test_example_file),
        cmocka_unit_test(test_default_control),
        cmocka_unit_test(test_api_endpoint_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
