/*
 * node/agent_revoke.c: publishing, keeping and showing revocations for the
 * agent (node/agent_revoke_int.h has the contract).
 *
 * Design. The gossip core holds the revocations and decides what to do
 * about them (gossip.h "Revoked keys"); this file only does I/O around
 * it. Keeping is one small file per revoked key rather than a database:
 * revocations are few (revocations_max, 256 by default), rarely change,
 * and an operator can read, copy or remove them with ordinary tools. A
 * file is the armored revocation exactly as `fedmesh federation revoke`
 * writes it, preceded by comment lines (the armor skips them), one of
 * which keeps the endpoint last known for the revoked key:
 *
 *     # fedmesh: a revocation this agent holds; kept across restarts
 *     # endpoint tcp://192.0.2.7:7946
 *     -----BEGIN FEDMESH REVOCATION-----
 *     ...
 *
 * Every file is written whole to NAME.tmp, synced, and renamed over NAME,
 * so a crash leaves the old file or the new one. The whole set is written
 * again when the machine's revocation_updates counter moves (a revocation
 * added, or an endpoint learned): at most revocations_max small files,
 * and only on such a change. Nothing is ever removed: a revocation is
 * forever.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "node/agent_revoke_int.h"
#include "node/log_int.h"
#include "node/node_int.h"

#define REVOCATION_SUFFIX   ".revocation"
#define ENDPOINT_PREFIX     "# endpoint "
#define ARMOR_TEXT_SIZE_MAX 2048u
#define FILE_NAMES_MAX      16384u /* the largest revocations_max */

static const char *const refusal_names[NODE_REVOCATION_REFUSAL_COUNT] = {
    [NODE_REVOCATION_MALFORMED] = "malformed",
    [NODE_REVOCATION_BAD_SIGNATURE] = "bad_signature",
    [NODE_REVOCATION_FULL] = "full",
    [NODE_REVOCATION_SELF] = "self",
};

const char *node_revocation_refusal_name(node_revocation_refusal refusal)
{
    MESH_ASSERT((uint32_t) refusal < NODE_REVOCATION_REFUSAL_COUNT);
    return refusal_names[refusal];
}

mesh_err node_revocations_init(node_revocations *r,
                               const node_config *config,
                               const uint8_t root_public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                               const mesh_node_id *self_id)
{
    MESH_ASSERT(r != NULL && config != NULL);
    MESH_ASSERT(root_public_key != NULL && self_id != NULL);
    memset(r, 0, sizeof(*r));
    memcpy(r->root_public_key, root_public_key, MCRYPTO_PUBLIC_KEY_SIZE);
    r->self_id = *self_id;
    if (config->data_dir[0] == '\0') {
        node_log(NODE_LOG_WARN, "agent", "revocations_not_kept",
                 "reason=\"no [node] data_dir: revocations learned are forgotten at restart\"");
        return MESH_OK;
    }
    int wrote = snprintf(r->dir, sizeof(r->dir), "%s/revocations", config->data_dir);
    MESH_ASSERT(wrote > 0 && (size_t) wrote < sizeof(r->dir));
    if ((mkdir(config->data_dir, 0700) != 0 && errno != EEXIST) ||
        (mkdir(r->dir, 0700) != 0 && errno != EEXIST)) {
        node_say_error("agent", "%s: cannot create the directory: %s ([node] data_dir)", r->dir,
                       strerror(errno));
        return MESH_EIO;
    }
    return MESH_OK;
}

static int compare_names(const void *x, const void *y)
{
    return strcmp(*(char *const *) x, *(char *const *) y);
}

/* Reads one kept file: the frame and the endpoint comment. */
static mesh_err read_kept(const char *path,
                          uint8_t *frame,
                          uint32_t frame_size_max,
                          uint32_t *frame_size_out,
                          char endpoint_out[WIRE_ENDPOINT_SIZE_MAX + 1])
{
    static char text[NODE_REVOCATION_FILE_SIZE_MAX + 1];
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        return MESH_EIO;
    }
    size_t size = fread(text, 1, NODE_REVOCATION_FILE_SIZE_MAX + 1, file);
    bool failed = ferror(file) != 0;
    (void) fclose(file);
    if (failed || size == 0 || size > NODE_REVOCATION_FILE_SIZE_MAX) {
        return MESH_EIO;
    }
    text[size] = '\0';
    endpoint_out[0] = '\0';
    const char *line = strstr(text, ENDPOINT_PREFIX);
    if (line != NULL && (line == text || line[-1] == '\n')) {
        line += strlen(ENDPOINT_PREFIX);
        size_t length = strcspn(line, "\r\n");
        if (length > 0 && length <= WIRE_ENDPOINT_SIZE_MAX) {
            memcpy(endpoint_out, line, length);
            endpoint_out[length] = '\0';
        }
    }
    return mcrypto_armor_decode("REVOCATION", text, (uint32_t) size, frame, frame_size_max,
                                frame_size_out);
}

void node_revocations_restore(node_revocations *r,
                              uint32_t count_max,
                              node_revocation_visit visit,
                              void *arg)
{
    MESH_ASSERT(r != NULL && visit != NULL);
    MESH_ASSERT(count_max <= FILE_NAMES_MAX);
    if (r->dir[0] == '\0') {
        return;
    }
    DIR *dir = opendir(r->dir);
    if (dir == NULL) {
        node_log(NODE_LOG_WARN, "agent", "revocations_unreadable", "dir=%s error=\"%s\"", r->dir,
                 strerror(errno));
        return;
    }
    char **names = calloc(count_max + 1, sizeof(char *));
    uint32_t name_count = 0;
    uint32_t skipped = 0;
    for (struct dirent *entry = readdir(dir); entry != NULL && names != NULL;
         entry = readdir(dir)) {
        size_t length = strlen(entry->d_name);
        size_t suffix = strlen(REVOCATION_SUFFIX);
        if (length <= suffix || strcmp(entry->d_name + length - suffix, REVOCATION_SUFFIX) != 0) {
            continue;
        }
        if (name_count == count_max) {
            skipped++; // more than revocations_max: the member could not hold them anyway
            continue;
        }
        names[name_count] = strdup(entry->d_name);
        name_count += names[name_count] != NULL;
    }
    (void) closedir(dir);
    if (names == NULL) {
        node_log(NODE_LOG_ERROR, "agent", "revocations_unreadable", "error=\"out of memory\"");
        return;
    }
    qsort(names, name_count, sizeof(char *), compare_names);
    static uint8_t frame[WIRE_FRAME_SIZE_MAX];
    for (uint32_t i = 0; i < name_count; i++) {
        char path[sizeof(r->dir) + 300];
        (void) snprintf(path, sizeof(path), "%s/%s", r->dir, names[i]);
        uint32_t frame_size = 0;
        char endpoint[WIRE_ENDPOINT_SIZE_MAX + 1];
        if (read_kept(path, frame, sizeof(frame), &frame_size, endpoint) != MESH_OK) {
            node_log(NODE_LOG_WARN, "agent", "revocation_unreadable",
                     "path=%s fix=\"remove the file, or publish the revocation again\"", path);
        } else {
            visit(arg, frame, frame_size, endpoint);
            r->restored++;
        }
        free(names[i]);
    }
    free(names);
    if (skipped > 0) {
        node_log(NODE_LOG_WARN, "agent", "revocations_skipped",
                 "dir=%s skipped=%u reason=\"over [gossip] revocations_max\"", r->dir, skipped);
    }
}

/* Writes one revocation's file whole, synced, then renamed into place. */
static bool save_one(const node_revocations *r, const gossip_revocation_info *info)
{
    char id[MCRYPTO_NODE_ID_TEXT_SIZE];
    mcrypto_node_id_format(&info->id, id);
    char armor[ARMOR_TEXT_SIZE_MAX];
    uint32_t armor_size = 0;
    if (mcrypto_armor_encode("REVOCATION", info->frame, info->frame_size, armor, sizeof(armor),
                             &armor_size) != MESH_OK) {
        return false;
    }
    char path[sizeof(r->dir) + 64];
    char temporary[sizeof(path) + 8];
    (void) snprintf(path, sizeof(path), "%s/%s%s", r->dir, id, REVOCATION_SUFFIX);
    (void) snprintf(temporary, sizeof(temporary), "%s.tmp", path);
    int fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        return false;
    }
    FILE *file = fdopen(fd, "wb");
    if (file == NULL) {
        (void) close(fd);
        return false;
    }
    bool ok = fprintf(file, "# fedmesh: a revocation this agent holds; kept across restarts\n") > 0;
    if (info->endpoint[0] != '\0') {
        ok = ok && fprintf(file, "%s%s\n", ENDPOINT_PREFIX, info->endpoint) > 0;
    }
    ok = ok && fwrite(armor, 1, armor_size, file) == armor_size;
    ok = ok && fflush(file) == 0 && fsync(fileno(file)) == 0;
    ok = fclose(file) == 0 && ok;
    ok = ok && rename(temporary, path) == 0;
    if (!ok) {
        (void) unlink(temporary);
    }
    return ok;
}

static void save_all(node_revocations *r, const gossip *machine)
{
    uint32_t count = gossip_revocation_count(machine);
    uint32_t failed = 0;
    for (uint32_t i = 0; i < count; i++) {
        gossip_revocation_info info;
        if (gossip_revocation_at(machine, i, &info) != MESH_OK || !save_one(r, &info)) {
            failed++;
        }
    }
    // The renames reach the disk with the directory.
    int fd = open(r->dir, O_RDONLY);
    if (fd >= 0) {
        failed += fsync(fd) != 0;
        (void) close(fd);
    }
    if (failed > 0) {
        r->save_failures++;
        node_log(NODE_LOG_ERROR, "agent", "revocations_not_saved", "dir=%s failed=%u error=\"%s\"",
                 r->dir, failed, strerror(errno));
        return;
    }
    node_log(NODE_LOG_DEBUG, "agent", "revocations_saved", "dir=%s count=%u", r->dir, count);
}

static void log_self_revoked(const gossip *machine, const mesh_node_id *self_id)
{
    uint32_t count = gossip_revocation_count(machine);
    for (uint32_t i = 0; i < count; i++) {
        gossip_revocation_info info;
        if (gossip_revocation_at(machine, i, &info) != MESH_OK ||
            !mesh_node_id_equal(&info.id, self_id)) {
            continue;
        }
        uint8_t hash[8];
        (void) crypto_generichash(hash, sizeof(hash), info.frame, info.frame_size, NULL, 0);
        char hash_text[sizeof(hash) * 2 + 1];
        sodium_bin2hex(hash_text, sizeof(hash_text), hash, sizeof(hash));
        char at[NODE_TIME_TEXT_SIZE];
        node_format_time(info.revoked_at_ns, at);
        char reason[WIRE_REASON_TEXT_SIZE_MAX + 3];
        node_log_quote(info.reason, reason, sizeof(reason));
        char id[MCRYPTO_NODE_ID_TEXT_SIZE];
        mcrypto_node_id_format(&info.id, id);
        node_log(NODE_LOG_ERROR, "gossip", "self_revoked",
                 "member=%s revocation=%s revoked_at=%s reason=%s signed_by=root "
                 "effect=\"every member refuses this key; this agent stops sending\" "
                 "fix=\"ask the federation for a new certificate on a new key\"",
                 id, hash_text, at, reason);
        return;
    }
}

void node_revocations_sync(node_revocations *r, const gossip *machine)
{
    MESH_ASSERT(r != NULL && machine != NULL);
    gossip_stats stats;
    gossip_stats_get(machine, &stats);
    if (stats.revocation_updates != r->updates_saved) {
        r->updates_saved = stats.revocation_updates;
        uint32_t held = gossip_revocation_count(machine);
        if (held != r->held_logged) {
            node_log(NODE_LOG_INFO, "agent", "revocations_held", "count=%u previous=%u", held,
                     r->held_logged);
            r->held_logged = held;
        }
        if (r->dir[0] != '\0') {
            save_all(r, machine);
        }
    }
    if (!r->self_revoked_logged && gossip_self_revoked(machine)) {
        r->self_revoked_logged = true;
        log_self_revoked(machine, &r->self_id);
    }
}

mesh_err node_revocations_check(node_revocations *r,
                                const char *text,
                                uint32_t text_size,
                                uint8_t *frame_out,
                                uint32_t frame_size_max,
                                uint32_t *frame_size_out,
                                wire_revocation *revocation_out,
                                char message_out[NODE_REVOCATION_MESSAGE_SIZE])
{
    MESH_ASSERT(r != NULL && text != NULL && frame_out != NULL);
    MESH_ASSERT(frame_size_out != NULL && revocation_out != NULL && message_out != NULL);
    uint32_t frame_size = 0;
    if (mcrypto_armor_decode("REVOCATION", text, text_size, frame_out, frame_size_max,
                             &frame_size) != MESH_OK) {
        r->refused[NODE_REVOCATION_MALFORMED]++;
        (void) snprintf(message_out, NODE_REVOCATION_MESSAGE_SIZE,
                        "not an armored revocation (-----BEGIN FEDMESH REVOCATION-----); send "
                        "the file `fedmesh federation revoke --out` wrote");
        return MESH_EPROTO;
    }
    mesh_err err =
        mcrypto_revocation_check(r->root_public_key, frame_out, frame_size, revocation_out);
    if (err == MESH_EAUTH) {
        r->refused[NODE_REVOCATION_BAD_SIGNATURE]++;
        (void) snprintf(message_out, NODE_REVOCATION_MESSAGE_SIZE,
                        "not signed by this federation's root key; only the root (fedmesh "
                        "federation revoke --root ROOT_KEY) can revoke a member");
        return MESH_EAUTH;
    }
    if (err != MESH_OK) {
        r->refused[NODE_REVOCATION_MALFORMED]++;
        (void) snprintf(message_out, NODE_REVOCATION_MESSAGE_SIZE,
                        "the revocation does not decode: %s", mesh_strerror(err));
        return MESH_EPROTO;
    }
    mesh_node_id id;
    mcrypto_node_id(revocation_out->public_key, &id);
    if (mesh_node_id_equal(&id, &r->self_id)) {
        r->refused[NODE_REVOCATION_SELF]++;
        (void) snprintf(message_out, NODE_REVOCATION_MESSAGE_SIZE,
                        "this revokes this node itself, which would go quiet before telling "
                        "anyone; publish it through another member");
        return MESH_EINVAL;
    }
    *frame_size_out = frame_size;
    message_out[0] = '\0';
    return MESH_OK;
}

static json_t *revocation_json(const gossip_revocation_info *info, const mesh_node_id *self_id)
{
    char id[MCRYPTO_NODE_ID_TEXT_SIZE];
    mcrypto_node_id_format(&info->id, id);
    char key[MCRYPTO_PUBLIC_KEY_SIZE * 2 + 1];
    sodium_bin2hex(key, sizeof(key), info->public_key, MCRYPTO_PUBLIC_KEY_SIZE);
    char at[NODE_TIME_TEXT_SIZE];
    node_format_time(info->revoked_at_ns, at);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "id", id, "public_key", key, "revoked_at",
                     at, "reason", info->reason, "endpoint", info->endpoint, "self",
                     mesh_node_id_equal(&info->id, self_id));
}

json_t *node_revocations_json(const node_revocations *r, const gossip *machine)
{
    MESH_ASSERT(r != NULL && machine != NULL);
    json_t *list = json_array();
    json_t *self = json_null();
    uint32_t count = gossip_revocation_count(machine);
    for (uint32_t i = 0; i < count && list != NULL; i++) {
        gossip_revocation_info info;
        if (gossip_revocation_at(machine, i, &info) != MESH_OK) {
            break;
        }
        if (mesh_node_id_equal(&info.id, &r->self_id)) {
            char at[NODE_TIME_TEXT_SIZE];
            node_format_time(info.revoked_at_ns, at);
            json_decref(self);
            self = json_pack("{s:s, s:s}", "revoked_at", at, "reason", info.reason);
        }
        (void) json_array_append_new(list, revocation_json(&info, &r->self_id));
    }
    return json_pack("{s:b, s:o, s:I, s:s, s:o}", "self_revoked", gossip_self_revoked(machine),
                     "self_revocation", self, "count", (json_int_t) count, "kept_in",
                     r->dir[0] != '\0' ? r->dir : "", "revocations", list);
}

json_t *node_revocations_published(node_revocations *r,
                                   const gossip *machine,
                                   const wire_revocation *revocation,
                                   bool held_before,
                                   mesh_err err)
{
    MESH_ASSERT(r != NULL && machine != NULL && revocation != NULL);
    mesh_node_id id;
    mcrypto_node_id(revocation->public_key, &id);
    char id_text[MCRYPTO_NODE_ID_TEXT_SIZE];
    mcrypto_node_id_format(&id, id_text);
    if (err != MESH_OK) {
        r->refused[err == MESH_EFULL ? NODE_REVOCATION_FULL : NODE_REVOCATION_MALFORMED]++;
        node_log(NODE_LOG_WARN, "agent", "revocation_refused", "member=%s error=%s", id_text,
                 mesh_err_name(err));
        return json_pack("{s:s, s:s}", "error",
                         err == MESH_EFULL ? "this node holds [gossip] revocations_max "
                                             "revocations already; raise it and restart"
                                           : mesh_strerror(err),
                         "code",
                         err == MESH_EFULL ? refusal_names[NODE_REVOCATION_FULL]
                                           : refusal_names[NODE_REVOCATION_MALFORMED]);
    }
    r->published++;
    r->duplicates += held_before;
    char reason[WIRE_REASON_TEXT_SIZE_MAX + 3];
    node_log_quote(revocation->reason, reason, sizeof(reason));
    node_log(NODE_LOG_INFO, "agent", "revocation_published", "member=%s reason=%s duplicate=%s",
             id_text, reason, held_before ? "yes" : "no");
    char at[NODE_TIME_TEXT_SIZE];
    node_format_time(revocation->revoked_at_ns, at);
    return json_pack("{s:b, s:b, s:s, s:s, s:s, s:I}", "published", 1, "duplicate", held_before,
                     "id", id_text, "reason", revocation->reason, "revoked_at", at, "held",
                     (json_int_t) gossip_revocation_count(machine));
}
