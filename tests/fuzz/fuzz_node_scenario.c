/*
 * tests/fuzz/fuzz_node_scenario.c: libFuzzer target for the scenario file
 * reader of `fedmesh sim run` and `sim sweep`, node_scenario_parse
 * (node/node_int.h), on arbitrary text.
 *
 * Each input is parsed as if it were tests/fuzz/scenario_files/fuzz.ini,
 * so that the files a scenario names (latency.csv, trace.swf, carbon.csv,
 * gpu.csv there) exist and a mutated scenario reaches every section's
 * checks; it is parsed strict and lenient, and with a --set override.
 *
 * The oracle: the reader never crashes, never reads past the input (the
 * replay main hands it an exact-size copy) and leaks nothing (ASan); a
 * refusal comes with a one-line message that is NUL-terminated and leaves
 * no scenario; an acceptance holds 2..SIM_FED_SITES_MAX sites, each named
 * and NUL-terminated, distinct, with a round trip to every other site;
 * the same text gives the same answer twice. Any violation aborts.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/node_int.h"

#ifndef MESH_FUZZ_SCENARIO_DIR
#error "MESH_FUZZ_SCENARIO_DIR: tests/CMakeLists.txt defines it"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ERROR_SIZE 1024u

static void fuzz_require(bool ok, const char *what)
{
    if (!ok) {
        (void) fprintf(stderr, "fuzz_node_scenario: %s\n", what);
        abort();
    }
}

static void check_accepted(node_scenario *scenario)
{
    sim_fed_config *config = node_scenario_config(scenario);
    fuzz_require(config != NULL, "an accepted scenario without a config");
    fuzz_require(config->site_count >= 2 && config->site_count <= SIM_FED_SITES_MAX,
                 "site count out of bounds");
    fuzz_require(config->sites != NULL, "no sites");
    const char *name = node_scenario_name(scenario);
    fuzz_require(name != NULL && memchr(name, '\0', 64) != NULL, "scenario name unterminated");
    for (uint32_t i = 0; i < config->site_count; i++) {
        const sim_fed_site *site = &config->sites[i];
        fuzz_require(memchr(site->name, '\0', sizeof(site->name)) != NULL,
                     "site name unterminated");
        fuzz_require(site->name[0] != '\0', "a site without a name");
        for (uint32_t k = 0; k < i; k++) {
            fuzz_require(strcmp(site->name, config->sites[k].name) != 0, "two sites of one name");
        }
        (void) node_scenario_trace_stats(scenario, i);
    }
}

static mesh_err parse_once(const uint8_t *data,
                           size_t size,
                           const char *const *sets,
                           uint32_t set_count,
                           bool lenient,
                           char error[ERROR_SIZE])
{
    node_scenario *scenario = NULL;
    memset(error, 0x5a, ERROR_SIZE);
    mesh_err err =
        node_scenario_parse((const char *) data, size, MESH_FUZZ_SCENARIO_DIR "/fuzz.ini", sets,
                            set_count, lenient, &scenario, error, ERROR_SIZE);
    if (err == MESH_OK) {
        fuzz_require(scenario != NULL, "accepted without a scenario");
        check_accepted(scenario);
        node_scenario_free(scenario);
    } else {
        fuzz_require(err == MESH_EINVAL || err == MESH_ENOMEM || err == MESH_ENOTFOUND,
                     "an unexpected error code");
        fuzz_require(scenario == NULL, "a refusal left a scenario");
        fuzz_require(memchr(error, '\0', ERROR_SIZE) != NULL, "an unterminated message");
        fuzz_require(error[0] != '\0', "a refusal without a message");
        fuzz_require(strchr(error, '\n') == NULL, "a message of more than one line");
    }
    return err;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char first[ERROR_SIZE];
    static char second[ERROR_SIZE];
    if (size > NODE_SCENARIO_SIZE_MAX + 1u) {
        return 0;
    }
    mesh_err strict = parse_once(data, size, NULL, 0, false, first);
    mesh_err again = parse_once(data, size, NULL, 0, false, second);
    fuzz_require(strict == again, "the same text, another answer");
    fuzz_require(strict == MESH_OK || strcmp(first, second) == 0, "the same text, another message");
    (void) parse_once(data, size, NULL, 0, true, first);
    static const char *const sets[] = {"faults.loss=0.01", "federation.duration=1d"};
    (void) parse_once(data, size, sets, 2, false, first);
    return 0;
}
