/*
 * node/record_int.h: recording what the agent's member receives
 * (fedmesh agent --record FILE), and reading it back (fedmesh sim replay).
 *
 * Why: an incident in a real federation can then be reproduced, and
 * stepped through, on a laptop: sim/replay.h rebuilds the same member and
 * feeds it the same inputs, and each input's outputs are compared with
 * what the agent did live.
 *
 * What is recorded. Every call into the member (member/member.h) is an
 * input, and the agent names each one right before making it (one line
 * per call site in agent.c and agent_lease.c): ledger open, member
 * create, frame, tick, flush, borrow, release, reclaim, set load, set
 * capacity, update advert, add revocation, leave, the shell's ledger sync
 * at stop, reconcile. Each input record holds the time the call was given
 * (both clocks), its arguments, what the ledger store answered to every
 * write and sync made while it ran (so that a write that failed live
 * fails in the replay too: the ledger acknowledgements), and the count and
 * digest of the outputs it produced (sim/replay.h defines the digest:
 * frames sent with their destination, events, ledger batches, syncs). The
 * outputs themselves are not stored: a replay recomputes them.
 *
 * What is not: no secret. The member's config is stored without its
 * keypair's secret half (the node's public key, its certificate frame and
 * the root public key are: the wire carries them); a replay takes the
 * operator's own key file (fedmesh sim replay --key). The ledger snapshot
 * holds signed records, balances and certificate frames, all of which
 * crossed the wire or derive from what did. The PRNG state given to
 * member_create is stored: it decides lease ids and gossip's choice of
 * peers, and both are on the wire anyway; it is not a key and nothing
 * is derived from it that an attacker could not already see. It does
 * let a reader predict the node's next lease ids and probe targets,
 * which is why a recording should still be kept like a log (mode 0600,
 * the agent's user), not published.
 *
 * File format, version 1 (NODE_RECORD_VERSION). A file starts with the
 * 8 bytes NODE_RECORD_MAGIC, then records:
 *   record = u32 body size | 16-byte BLAKE2b-128 of the body | body
 *   body   = u8 type | fields
 * Integers are little-endian; text is u32 size | bytes (no NUL); bytes
 * are u32 size | bytes. Records never exceed NODE_RECORD_BODY_MAX. Types:
 *   1 SEGMENT  (first in every file) u32 format version, u32 segment
 *              index (0, 1, ...), 16-byte recording id (random, the same
 *              in every segment of a recording), u64 number of the next
 *              input;
 *   2 META     (segment 0 only) text fedmesh version, text node name,
 *              i64 start time (realtime ns);
 *   3 SNAPSHOT (segment 0 only, before any input) one key/value pair of
 *              the ledger store as it was before the ledger opened: bytes
 *              key, bytes value;
 *   4 INPUT    u64 input number (0, 1, ...: none missing), u8 kind
 *              (sim_replay_kind), u64 monotonic ns, i64 realtime ns, the
 *              kind's arguments (record.c, codec_input, field by field),
 *              u32 store call count, per call u8 op (1 write, 2 sync) and
 *              u32 result (mesh_err), u32 output count, 32-byte output
 *              digest;
 *   5 END      (at a clean stop) u64 inputs, u64 outputs.
 * Segment 0 is the header: SEGMENT, META, the SNAPSHOT pairs, then the
 * LEDGER_OPEN input (the ledger config) and the CREATE input (the member
 * config, certificate, root key and PRNG state); without a ledger there
 * is no snapshot and no LEDGER_OPEN.
 *
 * Bounded and rotated: when FILE would grow past bytes_max, it becomes
 * FILE.1 (FILE.1 becomes FILE.2, ..., at most `keep` old segments are
 * kept; the oldest is deleted) and recording goes on in a new FILE with
 * the next segment index. A record is never split, so a segment may pass
 * the bound by one record, and segment 0 by its whole snapshot. A replay
 * needs segment 0 (and every later one): once rotation has deleted it,
 * the recording cannot be replayed, and fedmesh sim replay says so.
 *
 * Failures never stop the agent: a write that fails (disk full, a
 * rotation that cannot rename) is logged once, counted
 * (fedmesh_record_write_errors_total), and ends the recording, since a
 * recording with a hole cannot be replayed; inputs after it are counted
 * as dropped. An input whose store calls pass SIM_REPLAY_STORE_CALLS_MAX
 * ends it the same way.
 *
 * Threads: the recorder is process-wide, like the log (one agent per
 * process), and only the agent's loop thread calls it. Every
 * node_record_* input or output function is a no-op when no recording
 * was started, so call sites need no test.
 */
#ifndef NODE_RECORD_INT_H
#define NODE_RECORD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger/ledger.h"
#include "member/member.h"
#include "mesh/mesh.h"
#include "sim/replay.h"
#include "wire/wire.h"

#define NODE_RECORD_VERSION         1u
#define NODE_RECORD_MAGIC           "fmrec\r\n\x1a" /* 8 bytes, no NUL stored */
#define NODE_RECORD_MAGIC_SIZE      8u
#define NODE_RECORD_CHECKSUM_SIZE   16u
#define NODE_RECORD_ID_SIZE         16u
#define NODE_RECORD_BODY_MAX        (256u * 1024u)
#define NODE_RECORD_KEEP_MAX        100u
#define NODE_RECORD_PATH_SIZE       1024u
#define NODE_RECORD_BYTES_MIN       (1024ull * 1024u) /* 1 MiB */
/* Defaults of [record] max_mib and keep. */
#define NODE_RECORD_MAX_MIB_DEFAULT 64u
#define NODE_RECORD_KEEP_DEFAULT    4u

typedef enum node_record_type {
    NODE_RECORD_SEGMENT = 1,
    NODE_RECORD_META = 2,
    NODE_RECORD_SNAPSHOT = 3,
    NODE_RECORD_INPUT = 4,
    NODE_RECORD_END = 5,
} node_record_type;

/* ---------------------------------------------------------------- */
/* Recording (the agent).                                            */
/* ---------------------------------------------------------------- */

/* Starts recording to path (created mode 0600; an existing file and its
 * rotated segments are replaced, since they belong to an earlier run).
 * bytes_max >= NODE_RECORD_BYTES_MIN, keep 1..NODE_RECORD_KEEP_MAX.
 * Errors (printed by the caller): MESH_EINVAL (a bound out of range, or
 * already recording), MESH_EIO (the file cannot be created: error_out
 * says why). */
MESH_MUST_USE mesh_err node_record_start(const char *path,
                                         uint64_t bytes_max,
                                         uint32_t keep,
                                         const char *node_name,
                                         char *error_out,
                                         size_t error_size);
/* Writes the last input and the END record, and closes. Logs what was
 * recorded (inputs, outputs, bytes). A no-op when not recording. */
void node_record_stop(void);
bool node_record_active(void);

/* The ledger store: snapshots what it holds and wraps it, so that writes
 * and syncs are digested and their results recorded. Call before
 * ledger_open, on the vtable the ledger will copy. */
void node_record_wrap_store(ledger_store *store);

/* Inputs: call right before the member call, with the same arguments. */
void node_record_ledger_open(const ledger_config *config);
void node_record_create(mesh_now now, const member_config *config, const mesh_rng *rng);
void node_record_frame(mesh_now now, const uint8_t *frame, uint32_t frame_size);
void node_record_tick(mesh_now now);
void node_record_flush(mesh_now now);
void node_record_borrow(mesh_now now, const lease_borrow_request *request);
void node_record_release(mesh_now now, const uint8_t lease_id[LEDGER_LEASE_ID_SIZE]);
void node_record_reclaim(mesh_now now,
                         const uint8_t lease_id[LEDGER_LEASE_ID_SIZE],
                         uint64_t notice_ns);
void node_record_set_load(
    mesh_now now, uint32_t resource_class, const char *model, uint64_t queued, uint64_t running);
void node_record_set_capacity(uint32_t resource_class,
                              const char *model,
                              uint64_t total,
                              uint64_t lendable);
void node_record_update_advert(mesh_now now, const wire_advert *advert);
void node_record_add_revocation(mesh_now now, const uint8_t *frame, uint32_t frame_size);
void node_record_revocation_endpoint(mesh_now now, const mesh_node_id *id, const char *endpoint);
void node_record_leave(mesh_now now);
void node_record_ledger_sync(void);
void node_record_reconcile(mesh_now now, const mesh_node_id *peer, uint64_t timeout_ns);

/* Outputs: from the member's io callbacks. */
void node_record_send(const mesh_node_id *peer,
                      const char *endpoint,
                      const uint8_t *frame,
                      uint32_t frame_size);
void node_record_event(member_source source, const void *event);

typedef struct node_record_stats {
    bool active;           /* recording now */
    uint64_t inputs;       /* input records written */
    uint64_t outputs;      /* outputs digested in them */
    uint64_t bytes;        /* written, all segments */
    uint64_t rotations;    /* segments started after the first */
    uint64_t write_errors; /* writes, flushes, renames that failed (the first ends it) */
    uint64_t dropped;      /* inputs not recorded after the recording ended early */
} node_record_stats;
void node_record_stats_get(node_record_stats *stats_out);

/* Appends the fedmesh_record_* metrics (Prometheus text) to a text that
 * node_metrics_render allocated (realloc'd in place). MESH_ENOMEM leaves
 * it as it was. */
MESH_MUST_USE mesh_err node_record_metrics_append(char **text, size_t *size);

/* ---------------------------------------------------------------- */
/* Reading (fedmesh sim replay, the tests, the fuzz target).          */
/* ---------------------------------------------------------------- */

/* One decoded record. Pointers point into the cursor's bytes or into
 * this item; valid until the next call with this item. Large (the
 * storage for a CREATE and its store calls): allocate it. */
typedef struct node_record_item {
    uint32_t type;         /* node_record_type */
    uint64_t offset;       /* of the record in its bytes */
    uint64_t record_index; /* 0, 1, ... within its bytes */
    /* SEGMENT */
    uint32_t version;
    uint32_t segment_index;
    uint8_t recording_id[NODE_RECORD_ID_SIZE];
    uint64_t first_input;
    /* META */
    char fedmesh_version[32];
    char name[WIRE_NAME_SIZE_MAX + 1];
    int64_t started_realtime_ns;
    /* SNAPSHOT */
    const uint8_t *key;
    uint32_t key_size;
    const uint8_t *value;
    uint32_t value_size;
    /* INPUT */
    uint64_t number;
    sim_replay_input input;
    uint8_t public_key[LEDGER_KEY_SIZE]; /* CREATE: the node's */
    uint32_t output_count;
    uint8_t digest[SIM_REPLAY_DIGEST_SIZE];
    /* END */
    uint64_t total_inputs;
    uint64_t total_outputs;
    /* Storage that input points into. */
    ledger_config ledger;
    member_config config;
    char seeds[GOSSIP_SEEDS_MAX][WIRE_ENDPOINT_SIZE_MAX + 1];
    const char *seed_list[GOSSIP_SEEDS_MAX];
    lease_borrow_request borrow;
    wire_advert advert;
    sim_replay_store_call calls[SIM_REPLAY_STORE_CALLS_MAX];
} node_record_item;

typedef struct node_record_cursor {
    const uint8_t *bytes;
    uint64_t size;
    uint64_t offset;
    uint64_t record_index;
} node_record_cursor;

/* bytes (borrowed) is one whole segment file. */
void node_record_cursor_init(node_record_cursor *cursor, const uint8_t *bytes, uint64_t size);
/* Decodes the next record. MESH_ENOTFOUND at the end of the bytes.
 * Errors, with a sentence in error_out naming the record (its index and
 * byte offset) and what is wrong: MESH_EPROTO (not a recording, cut off,
 * a malformed or out-of-range field, an unknown type or kind),
 * MESH_ECORRUPT (the checksum does not match), MESH_EINVAL (a format
 * version this build does not read). Hostile bytes in: never reads past
 * size, never allocates. */
MESH_MUST_USE mesh_err node_record_cursor_next(node_record_cursor *cursor,
                                               node_record_item *item_out,
                                               char *error_out,
                                               size_t error_size);

/* `fedmesh sim replay` (node/cli_sim_replay.c). */
int node_cmd_sim_replay(int argc, char **argv);

#endif /* NODE_RECORD_INT_H */
