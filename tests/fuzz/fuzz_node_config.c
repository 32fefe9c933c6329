/*
 * tests/fuzz/fuzz_node_config.c: libFuzzer target for the agent's INI
 * config parser, node_config_parse (node/config_int.h), on arbitrary
 * text, parsed as /srv/fm/node.ini.
 *
 * The oracle: the parser never crashes and never reads past the input
 * (the replay main hands it an exact-size copy, and the text need not be
 * NUL-terminated); a refusal is one NUL-terminated line that starts with
 * the file's path; an acceptance names the node, resolves every file it
 * names to an absolute path (relative ones against /srv/fm), keeps every
 * count within its bound and every endpoint one the agent can dial; the
 * same text gives the same answer and the same message twice. Any
 * violation aborts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/config_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CONFIG_PATH "/srv/fm/node.ini"

static node_config config;
static char first[NODE_CONFIG_ERROR_SIZE];
static char second[NODE_CONFIG_ERROR_SIZE];

static void fuzz_require(bool ok, const char *what)
{
    if (!ok) {
        (void) fprintf(stderr, "fuzz_node_config: %s\n", what);
        abort();
    }
}

static bool terminated(const char *text, size_t array_size)
{
    return memchr(text, '\0', array_size) != NULL;
}

/* Empty (not configured) or absolute. */
static void check_path(const char *path, size_t array_size, bool required)
{
    fuzz_require(terminated(path, array_size), "a path unterminated");
    fuzz_require(!required || path[0] != '\0', "a required path empty");
    fuzz_require(path[0] == '\0' || path[0] == '/', "a path left relative");
}

static void check_accepted(void)
{
    fuzz_require(terminated(config.name, sizeof(config.name)), "name unterminated");
    fuzz_require(config.name[0] != '\0', "no name");
    check_path(config.key_file, sizeof(config.key_file), true);
    check_path(config.certificate_file, sizeof(config.certificate_file), true);
    check_path(config.root_public_key_file, sizeof(config.root_public_key_file), true);
    fuzz_require(config.revocation_file_count <= NODE_CONFIG_REVOCATIONS_MAX,
                 "revocation files over bound");
    for (uint32_t i = 0; i < config.revocation_file_count; i++) {
        check_path(config.revocation_files[i], sizeof(config.revocation_files[i]), true);
    }
    fuzz_require(node_config_endpoint_valid(config.listen), "listen not dialable");
    fuzz_require(node_config_endpoint_valid(config.advertise), "advertise not dialable");
    fuzz_require(terminated(config.control, sizeof(config.control)), "control unterminated");
    fuzz_require(config.seed_count <= GOSSIP_SEEDS_MAX, "seeds over bound");
    for (uint32_t i = 0; i < config.seed_count; i++) {
        fuzz_require(node_config_endpoint_valid(config.seeds[i]), "a seed not dialable");
    }
    check_path(config.http_token_file, sizeof(config.http_token_file), false);
    check_path(config.ledger_path, sizeof(config.ledger_path), false);
    check_path(config.record_path, sizeof(config.record_path), false);
    fuzz_require(config.http_body_max <= NODE_CONFIG_HTTP_BODY_MAX_MAX, "body_max over bound");
    fuzz_require(config.data_class_count <= NODE_CONFIG_DATA_CLASSES_MAX,
                 "data classes over bound");
    for (uint32_t i = 0; i < config.data_class_count; i++) {
        const char *name = config.data_classes[i].name;
        fuzz_require(terminated(name, sizeof(config.data_classes[i].name)) && name[0] != '\0',
                     "a data class without a name");
        for (uint32_t k = 0; k < i; k++) {
            fuzz_require(strcmp(name, config.data_classes[k].name) != 0, "a data class twice");
        }
    }
    fuzz_require(config.gossip.advert.resource_count <= WIRE_RESOURCES_MAX, "resources over bound");
    check_path(config.hooks.on_granted, sizeof(config.hooks.on_granted), false);
    check_path(config.hooks.on_reclaim_notice, sizeof(config.hooks.on_reclaim_notice), false);
    check_path(config.hooks.on_ended, sizeof(config.hooks.on_ended), false);
}

static mesh_err parse_once(const uint8_t *data, size_t size, char error[NODE_CONFIG_ERROR_SIZE])
{
    memset(error, 0x5a, NODE_CONFIG_ERROR_SIZE);
    mesh_err err =
        node_config_parse((const char *) data, (uint32_t) size, CONFIG_PATH, &config, error);
    if (err == MESH_OK) {
        check_accepted();
        return err;
    }
    fuzz_require(err == MESH_EPROTO || err == MESH_EINVAL || err == MESH_EFULL,
                 "an unexpected error code");
    fuzz_require(terminated(error, NODE_CONFIG_ERROR_SIZE), "an unterminated message");
    fuzz_require(strncmp(error, CONFIG_PATH, strlen(CONFIG_PATH)) == 0,
                 "a message that does not start with the path");
    fuzz_require(strchr(error, '\n') == NULL, "a message of more than one line");
    return err;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > NODE_CONFIG_FILE_SIZE_MAX + 1u) {
        return 0;
    }
    mesh_err err = parse_once(data, size, first);
    mesh_err again = parse_once(data, size, second);
    fuzz_require(err == again, "the same text, another answer");
    fuzz_require(err == MESH_OK || strcmp(first, second) == 0, "the same text, another message");
    return 0;
}
