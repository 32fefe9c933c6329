/*
 * node/agent_revoke_int.h: the agent's side of revocations (what the
 * gossip core decides is in gossip/gossip.h "Revoked keys"):
 *
 *   - publishing: a revocation handed to the agent through the control
 *     endpoint (`fedmesh revoke publish`) or `POST /v1/revocations` is
 *     decoded and checked against the root here, with an error an operator
 *     can act on, then given to the member, which gossips it;
 *   - keeping: every revocation the member holds (published here, read
 *     from revocation_files, or learned by gossip) is written to
 *     DATA_DIR/revocations/<node id>.revocation with the endpoint last
 *     known for the revoked key, and read back at start, so that a
 *     restarted node neither forgets it nor dials the revoked member
 *     (seeds included);
 *   - telling: when this node learns that its own key is revoked it logs
 *     it once, at error, with the revocation's reason and time;
 *   - showing: the list as JSON (`fedmesh revoke list`, `fedmesh peers`,
 *     `GET /v1/revocations`) and the counters for /metrics.
 *
 * Loop thread only. Bounds: at most [gossip] revocations_max files are
 * read at start and written per change; each file is at most
 * NODE_REVOCATION_FILE_SIZE_MAX bytes.
 */
#ifndef NODE_AGENT_REVOKE_INT_H
#define NODE_AGENT_REVOKE_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "gossip/gossip.h"
#include "mesh/mesh.h"
#include "node/config_int.h"

#define NODE_REVOCATION_FILE_SIZE_MAX 4096u
#define NODE_REVOCATION_MESSAGE_SIZE  256u

/* Why a published revocation was refused; each has a counter. Append only. */
typedef enum node_revocation_refusal {
    NODE_REVOCATION_MALFORMED = 0,     /* not an armored REVOCATION, or it does not decode */
    NODE_REVOCATION_BAD_SIGNATURE = 1, /* not signed by this federation's root */
    NODE_REVOCATION_FULL = 2,          /* [gossip] revocations_max reached */
    NODE_REVOCATION_SELF = 3,          /* this node's own key: publish it through another member */
} node_revocation_refusal;

#define NODE_REVOCATION_REFUSAL_COUNT 4u

const char *node_revocation_refusal_name(node_revocation_refusal refusal);

typedef struct node_revocations {
    char dir[NODE_CONFIG_PATH_SIZE_MAX + 16]; /* DATA_DIR/revocations; "" not kept */
    uint8_t root_public_key[MCRYPTO_PUBLIC_KEY_SIZE];
    mesh_node_id self_id;
    uint64_t updates_saved; /* gossip_stats.revocation_updates when last written */
    uint32_t held_logged;   /* revocations held at the last revocations_held line */
    bool self_revoked_logged;
    uint32_t restored;   /* read back at start */
    uint64_t published;  /* accepted through the control endpoint or the API */
    uint64_t duplicates; /* published, already held */
    uint64_t refused[NODE_REVOCATION_REFUSAL_COUNT];
    uint64_t save_failures;
} node_revocations;

/* Sets r up and creates DATA_DIR/revocations (mode 0700) when data_dir is
 * set. Errors: MESH_EIO (the directory cannot be made; printed). */
MESH_MUST_USE mesh_err node_revocations_init(node_revocations *r,
                                             const node_config *config,
                                             const uint8_t root_public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                                             const mesh_node_id *self_id);

/* Calls visit for every revocation kept in the data directory, in name
 * order, at most count_max of them: the frame (checked again by the
 * member when added) and the endpoint kept with it ("" when none). A file
 * that cannot be read is logged and skipped. */
typedef void (*node_revocation_visit)(void *arg,
                                      const uint8_t *frame,
                                      uint32_t frame_size,
                                      const char *endpoint);
void node_revocations_restore(node_revocations *r,
                              uint32_t count_max,
                              node_revocation_visit visit,
                              void *arg);

/* Decodes an armored revocation (the file `fedmesh federation revoke`
 * writes) and checks it against the root. Errors: MESH_EPROTO
 * (malformed), MESH_EAUTH (not the root's signature), MESH_EINVAL (it
 * revokes this node itself); the refusal is counted and message_out says
 * what is wrong and what to do. */
MESH_MUST_USE mesh_err node_revocations_check(node_revocations *r,
                                              const char *text,
                                              uint32_t text_size,
                                              uint8_t *frame_out,
                                              uint32_t frame_size_max,
                                              uint32_t *frame_size_out,
                                              wire_revocation *revocation_out,
                                              char message_out[NODE_REVOCATION_MESSAGE_SIZE]);

/* After the member accepted a checked revocation (err is
 * member_add_revocation's result): counts it, logs it, and answers
 * {published, duplicate, id, reason, revoked_at, held} or {error}. */
json_t *node_revocations_published(node_revocations *r,
                                   const gossip *machine,
                                   const wire_revocation *revocation,
                                   bool held_before,
                                   mesh_err err);

/* After every batch of inputs: writes the revocations again when the
 * machine's changed, and logs this node's own revocation once. */
void node_revocations_sync(node_revocations *r, const gossip *machine);

/* {self_revoked, count, revocations_max, kept_in, revocations: [{id,
 * public_key, revoked_at, reason, endpoint, self}]}; with self_revoked
 * true, also {self_revocation: {revoked_at, reason}}. */
json_t *node_revocations_json(const node_revocations *r, const gossip *machine);

#endif /* NODE_AGENT_REVOKE_INT_H */
