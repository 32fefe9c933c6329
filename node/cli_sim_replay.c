/*
 * node/cli_sim_replay.c: `fedmesh sim replay`, a recording of a live
 * agent fed back through the same member (node/record_int.h has the
 * format, sim/replay.h the replay).
 *
 * This file is the shell: it finds the segments, reads each whole file
 * (a segment is bounded by the agent's [record] max_mib, plus one record),
 * checks that they follow each other (segment indices, the recording id,
 * input numbers without a gap), loads the key the operator gives, and
 * hands every snapshot pair and input to sim_replay_step, comparing each
 * outcome with what was recorded. The first difference stops the replay
 * with the input's number, kind and time.
 *
 * Exit codes: 0 every input gave the recorded outputs; 1 a difference
 * (or a live write the replay's store refused); 2 usage; 3 a recording
 * that cannot be read (missing first segment, corrupt, cut off, another
 * format version) or a key that is not the node's.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "node/node_int.h"
#include "node/record_int.h"
#include "sim/replay.h"

#define SEGMENTS_MAX  (NODE_RECORD_KEEP_MAX + 1u)
#define FILE_SIZE_MAX (8ull << 30) /* 8 GiB: a segment is far smaller */
#define ERROR_SIZE    512u

static const char replay_usage[] =
    "usage: fedmesh sim replay [--key KEYFILE] [--verbose] [--json] [--partial] FILE...\n"
    "\n"
    "Feeds a recording made by `fedmesh agent --record FILE` back through the same\n"
    "member code (gossip, leases, the ledger on an in-memory store loaded with the\n"
    "recorded snapshot) and checks, input by input, that it produces the same\n"
    "outputs (frames with their destination, events, ledger writes). On the first\n"
    "difference it prints the input's number, kind and time and exits 1.\n"
    "\n"
    "FILE: the segments, oldest first (FILE.2 FILE.1 FILE); given one FILE alone,\n"
    "its rotated segments FILE.N ... FILE.1 beside it are taken too. The first\n"
    "segment (the one with the header) must be there.\n"
    "--key KEYFILE: the node's own key file (the recording holds no secret; the\n"
    "member signs what it sends, so the replay needs the key that recorded).\n"
    "--verbose: one line per input. --json: the summary as one JSON object.\n"
    "--partial: a last record cut off (the agent died while writing) ends the\n"
    "replay there instead of failing it.\n"
    "Exit codes: 0 identical, 1 a difference, 2 usage, 3 an unreadable recording\n"
    "or a key that is not the node's.\n";

typedef struct replay_run {
    const char *key_file;
    bool verbose;
    bool json;
    bool partial;
    bool have_key;
    mcrypto_keypair keypair;
    sim_replay *replay;
    node_record_item *item;
    uint8_t recording_id[NODE_RECORD_ID_SIZE];
    uint64_t next_input;
    uint64_t outputs;
    uint64_t snapshot_pairs;
    uint32_t segments;
    bool created;
    bool ended; /* the END record was seen */
    bool cut;   /* --partial stopped at a cut-off record */
    char name[WIRE_NAME_SIZE_MAX + 1];
    char version[32];
} replay_run;

/* Reads a whole file. MESH_EIO (message printed). */
static mesh_err read_file(const char *path, uint8_t **bytes_out, uint64_t *size_out)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        node_say_error("sim replay", "%s: %s", path, strerror(errno));
        return MESH_EIO;
    }
    struct stat st;
    if (fstat(fileno(file), &st) != 0 || st.st_size < 0 || (uint64_t) st.st_size > FILE_SIZE_MAX) {
        node_say_error("sim replay", "%s: cannot size it, or larger than 8 GiB", path);
        (void) fclose(file);
        return MESH_EIO;
    }
    uint64_t size = (uint64_t) st.st_size;
    uint8_t *bytes = malloc(size > 0 ? size : 1);
    if (bytes == NULL) {
        node_say_error("sim replay", "%s: out of memory", path);
        (void) fclose(file);
        return MESH_EIO;
    }
    if (size > 0 && fread(bytes, 1, size, file) != size) {
        node_say_error("sim replay", "%s: read failed", path);
        free(bytes);
        (void) fclose(file);
        return MESH_EIO;
    }
    (void) fclose(file);
    *bytes_out = bytes;
    *size_out = size;
    return MESH_OK;
}

static void hex(const uint8_t *bytes, size_t size, char *out, size_t out_size)
{
    (void) sodium_bin2hex(out, out_size, bytes, size);
}

static void say_time(const sim_replay_input *in, char *out, size_t size)
{
    char at[NODE_TIME_TEXT_SIZE];
    node_format_time(in->now.realtime_ns, at);
    (void) snprintf(out, size, "monotonic_ns=%llu realtime=%s (%lld ns)",
                    (unsigned long long) in->now.monotonic_ns, at, (long long) in->now.realtime_ns);
}

/* Loads the key at CREATE and checks it is the recording node's. */
static int add_key(replay_run *run, member_config *config)
{
    if (!run->have_key) {
        if (run->key_file == NULL) {
            node_say_error("sim replay",
                           "the recording holds no secret key; give the node's own key file "
                           "with --key KEYFILE (the member signs what it sends)");
            return NODE_EXIT_USAGE;
        }
        if (node_load_secret("sim replay", run->key_file, &run->keypair) != MESH_OK) {
            return NODE_EXIT_INPUT;
        }
        run->have_key = true;
    }
    if (sodium_memcmp(run->keypair.public_key, run->item->public_key, MCRYPTO_PUBLIC_KEY_SIZE) !=
        0) {
        char want[MCRYPTO_PUBLIC_KEY_SIZE * 2 + 1];
        hex(run->item->public_key, MCRYPTO_PUBLIC_KEY_SIZE, want, sizeof(want));
        node_say_error("sim replay",
                       "%s is not the key of the node that recorded (its public key is %s)",
                       run->key_file, want);
        return NODE_EXIT_INPUT;
    }
    config->gossip.keypair = run->keypair;
    return NODE_EXIT_OK;
}

/* One input: feed it, compare. */
static int replay_input(replay_run *run)
{
    node_record_item *item = run->item;
    sim_replay_input *in = &item->input;
    const char *kind = sim_replay_kind_name(in->kind);
    if (item->number != run->next_input) {
        node_say_error("sim replay",
                       "input %llu is missing (the next record holds input %llu): the "
                       "recording has a hole",
                       (unsigned long long) run->next_input, (unsigned long long) item->number);
        return NODE_EXIT_INPUT;
    }
    run->next_input++;
    if (in->kind == SIM_REPLAY_CREATE) {
        int rc = add_key(run, &item->config);
        if (rc != NODE_EXIT_OK) {
            return rc;
        }
    }
    sim_replay_outcome outcome;
    mesh_err err = sim_replay_step(run->replay, in, &outcome);
    mcrypto_keypair_wipe(&item->config.gossip.keypair);
    char when[128];
    say_time(in, when, sizeof(when));
    if (err != MESH_OK) {
        node_say_error("sim replay", "input %llu (%s, %s): cannot be fed: %s (out of order?)",
                       (unsigned long long) item->number, kind, when, mesh_strerror(err));
        return NODE_EXIT_INPUT;
    }
    if (in->kind == SIM_REPLAY_CREATE) {
        run->created = outcome.result == MESH_OK;
    }
    bool same = outcome.output_count == item->output_count &&
                sodium_memcmp(outcome.digest, item->digest, SIM_REPLAY_DIGEST_SIZE) == 0 &&
                !outcome.store_mismatch;
    if (run->verbose) {
        (void) printf("input %llu %s %s offset=%llu outputs=%u result=%s %s\n",
                      (unsigned long long) item->number, kind, when,
                      (unsigned long long) item->offset, outcome.output_count,
                      mesh_err_name((mesh_err) outcome.result), same ? "same" : "DIFFERENT");
    }
    if (!same) {
        char want[SIM_REPLAY_DIGEST_SIZE * 2 + 1];
        char got[SIM_REPLAY_DIGEST_SIZE * 2 + 1];
        hex(item->digest, SIM_REPLAY_DIGEST_SIZE, want, sizeof(want));
        hex(outcome.digest, SIM_REPLAY_DIGEST_SIZE, got, sizeof(got));
        node_say_error("sim replay",
                       "input %llu (%s, %s) gave other outputs than recorded: %u outputs "
                       "(digest %.16s...) where the agent had %u (digest %.16s...)%s",
                       (unsigned long long) item->number, kind, when, outcome.output_count, got,
                       item->output_count, want,
                       outcome.store_mismatch
                           ? "; and the ledger store was called otherwise than recorded"
                           : "");
        return NODE_EXIT_INVALID;
    }
    run->outputs += outcome.output_count;
    return NODE_EXIT_OK;
}

static int replay_record(replay_run *run, uint32_t segment, const char *path)
{
    node_record_item *item = run->item;
    switch (item->type) {
    case NODE_RECORD_SEGMENT:
        if (item->record_index != 0) {
            node_say_error("sim replay", "%s: a second segment header at record %llu", path,
                           (unsigned long long) item->record_index);
            return NODE_EXIT_INPUT;
        }
        if (segment == 0 && item->segment_index != 0) {
            node_say_error("sim replay",
                           "%s is segment %u of its recording: the first segment (the one with "
                           "the header, segment 0) is missing; it was rotated away (raise "
                           "--record-keep or --record-max-mib) or not given first",
                           path, item->segment_index);
            return NODE_EXIT_INPUT;
        }
        if (segment > 0 &&
            (item->segment_index != segment ||
             memcmp(item->recording_id, run->recording_id, NODE_RECORD_ID_SIZE) != 0 ||
             item->first_input != run->next_input)) {
            node_say_error("sim replay",
                           "%s is segment %u (first input %llu) where segment %u of the same "
                           "recording (first input %llu) was expected: give the segments "
                           "oldest first, none missing",
                           path, item->segment_index, (unsigned long long) item->first_input,
                           segment, (unsigned long long) run->next_input);
            return NODE_EXIT_INPUT;
        }
        memcpy(run->recording_id, item->recording_id, NODE_RECORD_ID_SIZE);
        return NODE_EXIT_OK;
    case NODE_RECORD_META:
        (void) snprintf(run->name, sizeof(run->name), "%s", item->name);
        for (char *ch = run->name; *ch != '\0'; ch++) {
            bool plain = (*ch >= 'a' && *ch <= 'z') || (*ch >= '0' && *ch <= '9') || *ch == '-';
            *ch = (char) (plain ? *ch : '?'); // printed in JSON: member names are [a-z0-9-]
        }
        (void) snprintf(run->version, sizeof(run->version), "%s", item->fedmesh_version);
        for (char *ch = run->version; *ch != '\0'; ch++) {
            bool plain = (*ch >= 'a' && *ch <= 'z') || (*ch >= '0' && *ch <= '9') || *ch == '.' ||
                         *ch == '-';
            *ch = (char) (plain ? *ch : '?');
        }
        if (strcmp(item->fedmesh_version, FEDMESH_VERSION) != 0) {
            (void) fprintf(stderr,
                           "fedmesh: sim replay: warning: recorded by fedmesh %s, replayed by "
                           "%s: a difference may come from the versions\n",
                           item->fedmesh_version, FEDMESH_VERSION);
        }
        return NODE_EXIT_OK;
    case NODE_RECORD_SNAPSHOT: {
        mesh_err err =
            sim_replay_load(run->replay, item->key, item->key_size, item->value, item->value_size);
        if (err != MESH_OK) {
            node_say_error("sim replay", "%s: record %llu: snapshot pair refused: %s", path,
                           (unsigned long long) item->record_index, mesh_strerror(err));
            return NODE_EXIT_INPUT;
        }
        run->snapshot_pairs++;
        return NODE_EXIT_OK;
    }
    case NODE_RECORD_INPUT:
        return replay_input(run);
    case NODE_RECORD_END:
        if (item->total_inputs != run->next_input || item->total_outputs != run->outputs) {
            node_say_error("sim replay",
                           "the END record counts %llu inputs and %llu outputs; %llu and %llu "
                           "were replayed",
                           (unsigned long long) item->total_inputs,
                           (unsigned long long) item->total_outputs,
                           (unsigned long long) run->next_input, (unsigned long long) run->outputs);
            return NODE_EXIT_INVALID;
        }
        run->ended = true;
        return NODE_EXIT_OK;
    default:
        return NODE_EXIT_INPUT; // the cursor refuses other types
    }
}

static int replay_segment(replay_run *run, uint32_t segment, const char *path, bool last)
{
    uint8_t *bytes = NULL;
    uint64_t size = 0;
    if (read_file(path, &bytes, &size) != MESH_OK) {
        return NODE_EXIT_INPUT;
    }
    node_record_cursor cursor;
    node_record_cursor_init(&cursor, bytes, size);
    char error[ERROR_SIZE];
    int rc = NODE_EXIT_OK;
    for (;;) {
        mesh_err err = node_record_cursor_next(&cursor, run->item, error, sizeof(error));
        if (err == MESH_ENOTFOUND) {
            break;
        }
        if (err == MESH_OK && run->ended) {
            node_say_error("sim replay", "%s: record %llu comes after the END record", path,
                           (unsigned long long) run->item->record_index);
            rc = NODE_EXIT_INPUT;
            break;
        }
        if (err != MESH_OK) {
            bool cut = err == MESH_EPROTO && strstr(error, "cut off") != NULL;
            if (cut && last && run->partial) {
                (void) fprintf(stderr, "fedmesh: sim replay: %s: %s; stopping there (--partial)\n",
                               path, error);
                run->cut = true;
                break;
            }
            node_say_error("sim replay", "%s: %s", path, error);
            rc = NODE_EXIT_INPUT;
            break;
        }
        rc = replay_record(run, segment, path);
        if (rc != NODE_EXIT_OK) {
            break;
        }
    }
    if (rc == NODE_EXIT_OK && cursor.record_index == 0 && !run->cut) {
        node_say_error("sim replay", "%s: empty: not a segment of a recording", path);
        rc = NODE_EXIT_INPUT;
    }
    free(bytes);
    return rc;
}

/* One FILE alone: FILE.N ... FILE.1 FILE, those that exist. */
static uint32_t collect(const char *path, char (*paths)[NODE_RECORD_PATH_SIZE + 16])
{
    uint32_t highest = 0;
    struct stat st;
    for (uint32_t i = 1; i <= NODE_RECORD_KEEP_MAX; i++) {
        char candidate[NODE_RECORD_PATH_SIZE + 16];
        (void) snprintf(candidate, sizeof(candidate), "%s.%u", path, i);
        if (stat(candidate, &st) != 0) {
            break;
        }
        highest = i;
    }
    uint32_t count = 0;
    for (uint32_t i = highest; i >= 1; i--) {
        (void) snprintf(paths[count++], NODE_RECORD_PATH_SIZE + 16, "%s.%u", path, i);
    }
    (void) snprintf(paths[count++], NODE_RECORD_PATH_SIZE + 16, "%s", path);
    return count;
}

int node_cmd_sim_replay(int argc, char **argv)
{
    static const struct option options[] = {
        {"key", required_argument, NULL, 'k'}, {"verbose", no_argument, NULL, 'v'},
        {"json", no_argument, NULL, 'j'},      {"partial", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},      {NULL, 0, NULL, 0}};
    if (node_wants_help(argc, argv)) {
        (void) fputs(replay_usage, stdout);
        return NODE_EXIT_OK;
    }
    replay_run run;
    memset(&run, 0, sizeof(run));
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 'k':
            run.key_file = optarg;
            break;
        case 'v':
            run.verbose = true;
            break;
        case 'j':
            run.json = true;
            break;
        case 'p':
            run.partial = true;
            break;
        default:
            node_say_error("sim replay", "unknown or incomplete option");
            (void) fputs(replay_usage, stderr);
            return NODE_EXIT_USAGE;
        }
    }
    uint32_t file_count = (uint32_t) (argc - optind);
    if (file_count == 0 || file_count > SEGMENTS_MAX) {
        node_say_error("sim replay", "expected 1..%u recording files", SEGMENTS_MAX);
        (void) fputs(replay_usage, stderr);
        return NODE_EXIT_USAGE;
    }
    static char paths[SEGMENTS_MAX][NODE_RECORD_PATH_SIZE + 16];
    for (uint32_t i = 0; i < file_count; i++) {
        if (strlen(argv[optind + (int) i]) >= NODE_RECORD_PATH_SIZE) {
            node_say_error("sim replay", "a path is longer than %u bytes", NODE_RECORD_PATH_SIZE);
            return NODE_EXIT_USAGE;
        }
        (void) snprintf(paths[i], sizeof(paths[i]), "%s", argv[optind + (int) i]);
    }
    if (file_count == 1) {
        file_count = collect(argv[optind], paths);
    }
    run.item = calloc(1, sizeof(*run.item));
    if (run.item == NULL || sim_replay_create(&run.replay) != MESH_OK) {
        free(run.item);
        node_say_error("sim replay", "out of memory");
        return NODE_EXIT_INTERNAL;
    }
    int rc = NODE_EXIT_OK;
    for (uint32_t i = 0; i < file_count && rc == NODE_EXIT_OK && !run.cut; i++) {
        rc = replay_segment(&run, i, paths[i], i + 1 == file_count);
        run.segments++;
    }
    if (rc == NODE_EXIT_OK && !run.created) {
        node_say_error("sim replay", "the recording ends before the member was created: "
                                     "nothing to replay");
        rc = NODE_EXIT_INPUT;
    }
    sim_replay_destroy(run.replay);
    free(run.item);
    mcrypto_keypair_wipe(&run.keypair);
    if (rc != NODE_EXIT_OK) {
        return rc;
    }
    const char *ending = run.ended ? "complete" : run.cut ? "cut off" : "no END record";
    if (run.json) {
        (void) printf("{\"name\":\"%s\",\"fedmesh_version\":\"%s\",\"segments\":%u,"
                      "\"snapshot_pairs\":%llu,\"inputs\":%llu,\"outputs\":%llu,\"identical\":true,"
                      "\"ending\":\"%s\"}\n",
                      run.name, run.version, run.segments, (unsigned long long) run.snapshot_pairs,
                      (unsigned long long) run.next_input, (unsigned long long) run.outputs,
                      ending);
    } else {
        (void) printf("replayed %s: segments=%u snapshot_pairs=%llu inputs=%llu outputs=%llu "
                      "identical=yes ending=\"%s\"\n",
                      run.name, run.segments, (unsigned long long) run.snapshot_pairs,
                      (unsigned long long) run.next_input, (unsigned long long) run.outputs,
                      ending);
    }
    return NODE_EXIT_OK;
}
