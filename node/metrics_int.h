/*
 * node/metrics_int.h: the agent's metrics in the Prometheus text format
 * (version 0.0.4), served at GET /metrics (README "Metrics").
 *
 * The loop thread fills a node_metrics_input from its own state (every
 * pointer borrowed for the call) and node_metrics_render writes the text;
 * nothing here reads the machine, so a test can render any input. Names
 * follow Prometheus practice: fedmesh_ prefix, base units (seconds,
 * bytes), _total for counters. Labels come from fixed tables (states,
 * reasons, classes, status codes) or from names the config and the
 * certificates restrict to [a-z0-9-] and [A-Za-z0-9._-] (and ids in
 * base32), so no label value ever holds a quote, a backslash or a newline
 * and none needs escaping.
 *
 * Bounds: the text is at most NODE_METRICS_SIZE_MAX bytes; a render that
 * would exceed it fails (MESH_EFULL) rather than serve a cut page.
 */
#ifndef NODE_METRICS_INT_H
#define NODE_METRICS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "gossip/gossip.h"
#include "lease/lease.h"
#include "ledger/ledger.h"
#include "member/member.h"
#include "mesh/mesh.h"
#include "node/agent_int.h"
#include "node/agent_revoke_int.h"
#include "node/http_int.h"

#define NODE_METRICS_SIZE_MAX     ((size_t) 4 * 1024 * 1024)
#define NODE_METRICS_BUCKET_COUNT 14u
#define NODE_METRICS_STATE_COUNT  6u /* index = gossip_state; 0 unused */

/* A latency histogram with fixed bucket bounds (node_metrics_bounds_s). */
typedef struct node_metrics_histogram {
    uint64_t buckets[NODE_METRICS_BUCKET_COUNT]; /* not cumulative: one per bound */
    uint64_t over;                               /* above the last bound */
    uint64_t count;
    uint64_t sum_ns;
} node_metrics_histogram;

extern const double node_metrics_bounds_s[NODE_METRICS_BUCKET_COUNT];

void node_metrics_observe(node_metrics_histogram *histogram, uint64_t duration_ns);

typedef struct node_metrics_input {
    const char *name;    /* this member's name */
    const char *id;      /* its node id text */
    const char *version; /* fedmesh's version */
    double uptime_s;
    uint64_t advert_sequence; /* this node's own, 0 before the first */
    uint32_t members_by_state[NODE_METRICS_STATE_COUNT];
    const gossip_stats *gossip;
    const node_transport_stats *transport;
    const node_http_stats *http; /* NULL: no API configured */
    const node_metrics_histogram *tick_rounds;
    const node_metrics_histogram *message_rounds;
    const node_load_report *load; /* NULL: no report yet */
    uint64_t load_reports;
    int64_t load_realtime_ns;
    uint64_t reloads;
    uint64_t reload_failures;
    /* The loop's own counters (peers --stats "agent"). */
    uint64_t outbox_full;
    uint64_t call_errors;
    uint64_t frames_oversize_in;
    uint64_t outputs_ignored;
    uint64_t seeds_unreachable;
    /* The ledger (NULL: none open): leases by state, lent and borrowed per
     * peer and class, and write latency. peer_label names a peer key for
     * a label ([a-z0-9-] names, or the node id). */
    const ledger *ledger;
    const node_metrics_histogram *ledger_writes;
    void (*peer_label)(void *arg, const uint8_t key[LEDGER_KEY_SIZE], char *out, size_t size);
    void *peer_label_arg;
    /* The lease machine (NULL: no ledger, no leases) and the executor. */
    const lease_machine *lease;
    const member_stats *member;
    /* The hooks' counters, by kind (NULL: no hooks, as in tests). */
    const struct node_hooks_stats *hooks;
    /* Revocations: held by the machine, this node's own, and the agent's
     * publish counters (NULL: none, as in tests that render without). */
    const node_revocations *revocations;
    uint32_t revocations_held;
    bool self_revoked;
} node_metrics_input;

/* Renders input as Prometheus text into a malloc'd buffer (*text_out, free
 * with free()), *size_out bytes, NUL-terminated. Errors: MESH_ENOMEM,
 * MESH_EFULL (over NODE_METRICS_SIZE_MAX). */
MESH_MUST_USE mesh_err node_metrics_render(const node_metrics_input *input,
                                           char **text_out,
                                           size_t *size_out);

#endif /* NODE_METRICS_INT_H */
