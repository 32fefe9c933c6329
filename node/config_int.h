/*
 * node/config_int.h: the agent's configuration file (INI, read with
 * libinih): what it holds, its limits, and the loader.
 *
 * Sections and keys are documented in docs/node.example.ini and in the
 * README ("Configuration"). The loader is strict, because a daemon that
 * silently ignores a misspelt key runs with a setting the operator did
 * not choose:
 *   - an unknown section or key, a malformed line, a scalar key given
 *     twice, a missing required key: an error naming file and line;
 *   - a bad value: an error naming the key and its allowed range;
 *   - relative paths are taken from the config file's directory, so a
 *     config works the same whatever the daemon's working directory is.
 *
 * Bounds: the file is at most NODE_CONFIG_FILE_SIZE_MAX bytes, a line at
 * most NODE_CONFIG_LINE_SIZE_MAX bytes (libinih's line buffer; list keys
 * may be repeated to stay under it), a path at most
 * NODE_CONFIG_PATH_SIZE_MAX bytes once joined with the directory, an
 * endpoint at most WIRE_ENDPOINT_SIZE_MAX bytes, at most
 * NODE_CONFIG_DATA_CLASSES_MAX data classes.
 *
 * The loader touches the file system for one thing only: each [hooks]
 * command must exist and be executable when the file is read (access
 * X_OK), so that a typo stops the agent at start rather than at the first
 * lease. Every other path is opened later by whoever uses it.
 */
#ifndef NODE_CONFIG_INT_H
#define NODE_CONFIG_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "gossip/gossip.h"
#include "lease/lease.h"
#include "member/member.h"
#include "mesh/mesh.h"
#include "node/log_int.h"
#include "wire/wire.h"

#define NODE_CONFIG_FILE_SIZE_MAX   65536u /* 64 KiB */
#define NODE_CONFIG_LINE_SIZE_MAX   198u   /* libinih's 200-byte buffer, less newline and NUL */
#define NODE_CONFIG_PATH_SIZE_MAX   1024u
#define NODE_CONFIG_REVOCATIONS_MAX 64u
#define NODE_CONFIG_GPU_MODELS_MAX  (WIRE_RESOURCES_MAX - 3u) /* vCPU, memory, storage */
#define NODE_CONFIG_ERROR_SIZE      512u
#define NODE_CONFIG_ENDPOINT_SIZE   (WIRE_ENDPOINT_SIZE_MAX + 1u)

/* [capacity] api_endpoint, at most: what one line holds after
 * "api_endpoint = " (the advert itself could carry WIRE_ENDPOINT_SIZE_MAX). */
#define NODE_CONFIG_API_ENDPOINT_SIZE_MAX (NODE_CONFIG_LINE_SIZE_MAX - 15u)

/* [http] body_max: default and ceiling, in bytes. */
#define NODE_CONFIG_HTTP_BODY_MAX_DEFAULT 65536u
#define NODE_CONFIG_HTTP_BODY_MAX_MAX     1048576u

/* [ledger] half_life_s: the reciprocity half-life; default one day. */
#define NODE_CONFIG_LEDGER_HALF_LIFE_S_DEFAULT 86400u

/* [data_class NAME] sections, at most this many. */
#define NODE_CONFIG_DATA_CLASSES_MAX 16u

/* [hooks] timeout_ms: default, in milliseconds. */
#define NODE_CONFIG_HOOK_TIMEOUT_MS_DEFAULT 10000u

/* A named set of borrowing constraints ([data_class NAME]): what data of
 * that class may be placed on. constraints.data_class is the name, so that
 * the name travels with the constraints into requests and the ledger. */
typedef struct node_data_class {
    char name[WIRE_DATA_CLASS_SIZE_MAX + 1]; /* [a-z0-9-], 1..31 */
    wire_lease_constraints constraints;
} node_data_class;

/* [hooks]: commands the agent runs on lease events, with the lease as one
 * JSON object on stdin (hooks/slurm/fedmesh-slurm-hook documents it), and
 * on membership events (on_member, the event as JSON on stdin; hooks_int.h).
 * Each path is absolute or resolved against the config's directory, and
 * was executable when the config was read; empty: no hook. */
typedef struct node_hooks {
    char on_granted[NODE_CONFIG_PATH_SIZE_MAX];
    char on_reclaim_notice[NODE_CONFIG_PATH_SIZE_MAX];
    char on_ended[NODE_CONFIG_PATH_SIZE_MAX];
    char on_member[NODE_CONFIG_PATH_SIZE_MAX];
    uint64_t timeout_ns; /* a hook still running after this is killed; default 10 s */
} node_hooks;

typedef struct node_config {
    /* [node] */
    char name[WIRE_NAME_SIZE_MAX + 1];
    char key_file[NODE_CONFIG_PATH_SIZE_MAX];
    char certificate_file[NODE_CONFIG_PATH_SIZE_MAX];
    char root_public_key_file[NODE_CONFIG_PATH_SIZE_MAX];
    uint32_t revocation_file_count;
    char revocation_files[NODE_CONFIG_REVOCATIONS_MAX][NODE_CONFIG_PATH_SIZE_MAX];
    /* Where the agent keeps what it learns (revocations/, node/agent_revoke.c);
     * empty: nothing is kept across a restart. */
    char data_dir[NODE_CONFIG_PATH_SIZE_MAX];
    char listen[NODE_CONFIG_ENDPOINT_SIZE];    /* where the pull socket listens */
    char advertise[NODE_CONFIG_ENDPOINT_SIZE]; /* what others dial; default listen */
    char control[NODE_CONFIG_ENDPOINT_SIZE];   /* the local control endpoint */
    uint32_t seed_count;
    char seeds[GOSSIP_SEEDS_MAX][NODE_CONFIG_ENDPOINT_SIZE];
    node_log_level log_level;

    /* [http]: the API for schedulers and operators (node/http_int.h).
     * http_listen empty: no API. */
    char http_listen[NODE_CONFIG_ENDPOINT_SIZE];
    char http_token_file[NODE_CONFIG_PATH_SIZE_MAX];
    uint32_t http_body_max; /* bytes of a request body, at most */
    bool udp_probes;        /* [gossip] udp_probes: pings and acks by UDP (node/udp.c) */

    /* [ledger]: the RocksDB directory (empty: not configured) and the
     * reciprocity half-life. */
    char ledger_path[NODE_CONFIG_PATH_SIZE_MAX];
    uint64_t ledger_half_life_ns;

    /* [record] (node/record_int.h): record every input of the member to
     * record_path (empty: no recording; fedmesh agent --record sets it
     * too), rotated at record_bytes_max ([record] max_mib, default 64),
     * record_keep old segments kept ([record] keep, default 4). */
    char record_path[NODE_CONFIG_PATH_SIZE_MAX];
    uint64_t record_bytes_max;
    uint32_t record_keep;

    /* [tls]: for tls+tcp:// endpoints (mutual TLS, NNG with mbedtls). */
    char tls_cert_key_file[NODE_CONFIG_PATH_SIZE_MAX];
    char tls_ca_file[NODE_CONFIG_PATH_SIZE_MAX];

    /* [capacity] and [gossip]: limits, timings (in ns) and the advert
     * content (resources sorted by class and model, carbon, endpoint =
     * advertise, api endpoint). Identity, seeds and the certificate are
     * left zero: the agent fills them from the files named above. */
    gossip_config gossip;

    /* [lease] and the lender policy of [capacity]: lease_config_default,
     * then one class per advertised resource, in the order of
     * gossip.advert.resources (total, lendable, price, keep, per_peer_max),
     * and the [lease] limits, timings and weights. Identity, certificate
     * facts, carbon and the directory are left zero: the member fills them. */
    lease_config lease;

    /* [data_class NAME] sections, in file order. */
    uint32_t data_class_count;
    node_data_class data_classes[NODE_CONFIG_DATA_CLASSES_MAX];
    /* [lease] default_data_class: the class every borrow starts from (a
     * request may only narrow it), empty for none; default_constraints is
     * that class's constraints, all zero (no constraint) when none. */
    char default_data_class[WIRE_DATA_CLASS_SIZE_MAX + 1];
    wire_lease_constraints default_constraints;

    /* [burst]: member_config_default's burst settings, then the file's.
     * constraints: those of [burst] data_class, else default_constraints. */
    member_burst_config burst;

    /* [hooks] */
    node_hooks hooks;
} node_config;

/* Parses config text. `path` names the file in messages and gives the
 * directory that relative paths are resolved against. On failure,
 * error_out holds one line, "path:line: what is wrong" (or "path: ..."
 * for a problem with the file as a whole) and config_out is unspecified.
 * Errors: MESH_EPROTO (a malformed line, an unknown section or key, a key
 * or data class given twice), MESH_EINVAL (a value out of range, a missing
 * required key, inconsistent values, a data class name that no section
 * defines, a hook that is not an executable file). */
MESH_MUST_USE mesh_err node_config_parse(const char *text,
                                         uint32_t text_size,
                                         const char *path,
                                         node_config *config_out,
                                         char error_out[NODE_CONFIG_ERROR_SIZE]);

/* Reads the file at path (at most NODE_CONFIG_FILE_SIZE_MAX bytes) and
 * parses it. Errors: MESH_EIO (cannot read), MESH_EFULL (too large),
 * and those of node_config_parse. */
MESH_MUST_USE mesh_err node_config_load(const char *path,
                                        node_config *config_out,
                                        char error_out[NODE_CONFIG_ERROR_SIZE]);

/* True when endpoint is tcp://HOST:PORT or tls+tcp://HOST:PORT with a port
 * in 1..65535, printable ASCII without spaces, at most
 * WIRE_ENDPOINT_SIZE_MAX bytes: the only kinds of endpoint the agent
 * dials. */
bool node_config_endpoint_valid(const char *endpoint);
/* True for a tls+tcp:// endpoint. */
bool node_config_endpoint_is_tls(const char *endpoint);

/* The data class named `name`, or NULL. The pointer is into config. */
const node_data_class *node_config_data_class(const node_config *config, const char *name);

/* True when `narrower` asks at least what `base` asks: the same or fewer
 * countries (any, when base lists none), every jurisdiction and
 * certification of base, and limits (rtt, cost, carbon) no looser. The
 * data class name is not compared. For the agent's check that a request
 * only narrows [lease] default_data_class. */
bool node_config_constraints_within(const wire_lease_constraints *base,
                                    const wire_lease_constraints *narrower);

/* True when model is a GPU model name: 1..WIRE_MODEL_SIZE_MAX bytes of
 * [A-Za-z0-9._-] (the [capacity] gpu.<MODEL> keys, the API's load reports). */
bool node_config_model_valid(const char *model);

#endif /* NODE_CONFIG_INT_H */
