/*
 * node/hooks_int.h: the operator's hooks ([hooks] on_granted,
 * on_reclaim_notice, on_ended): a command run with the lease as JSON on
 * its standard input, so that a real scheduler can act (hooks/slurm/ has
 * the Slurm ones: a reservation for lent cores).
 *
 * One worker thread runs them one at a time, in the order the loop
 * submitted them, so that a lease's "granted" hook always runs before its
 * "ended" hook. The loop never waits for a hook: it submits into a bounded
 * queue (NODE_HOOKS_QUEUE_MAX; a full queue drops the run, logs it and
 * counts it) and later collects the outcomes. A hook runs in its own
 * process group with the configured timeout; past it the group gets
 * SIGKILL. Its exit status and the first NODE_HOOKS_OUTPUT_MAX bytes of
 * what it printed (stdout and stderr together) are logged, one line; the
 * rest of its output is read and dropped, so a chatty hook never blocks.
 *
 * What a failure means is the loop's call (agent_lease.c): a lender whose
 * "granted" hook fails ends the lease at once (a reclaim without notice),
 * since the capacity it promised could not be set aside.
 */
#ifndef NODE_HOOKS_INT_H
#define NODE_HOOKS_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "ledger/ledger.h"
#include "mesh/mesh.h"
#include "node/agent_int.h"
#include "node/config_int.h"

#define NODE_HOOKS_QUEUE_MAX  64u
#define NODE_HOOKS_OUTPUT_MAX 1024u
#define NODE_HOOKS_INPUT_MAX  4096u /* the JSON on stdin */

typedef enum node_hook_kind {
    NODE_HOOK_GRANTED = 0,
    NODE_HOOK_RECLAIM_NOTICE = 1,
    NODE_HOOK_ENDED = 2,
} node_hook_kind;
#define NODE_HOOK_KIND_COUNT 3u
const char *node_hook_kind_name(node_hook_kind kind); /* "granted", ... */

typedef struct node_hook_result {
    node_hook_kind kind;
    uint8_t lease_id[LEDGER_LEASE_ID_SIZE];
    bool self_is_lender;
    bool ok; /* exited 0 within the timeout */
} node_hook_result;

typedef struct node_hooks_stats {
    uint64_t runs[NODE_HOOK_KIND_COUNT];
    uint64_t failures[NODE_HOOK_KIND_COUNT]; /* non-zero exit, signal, or could not start */
    uint64_t timeouts[NODE_HOOK_KIND_COUNT]; /* killed at the timeout (also counted as failures) */
    uint64_t dropped;                        /* the queue was full */
} node_hooks_stats;

typedef struct node_hooks_runner node_hooks_runner;

/* Starts the worker when at least one hook is configured (*runner_out is
 * NULL otherwise: no thread, nothing to run). transport is woken when a
 * result is ready (borrowed; outlives the runner). Errors: MESH_ENOMEM,
 * MESH_EINTERNAL (no thread). */
MESH_MUST_USE mesh_err node_hooks_create(const node_hooks *config,
                                         node_transport *transport,
                                         node_hooks_runner **runner_out);
/* Kills the hook running now (its process group, SIGKILL: a stop is
 * bounded), drops the queued ones (logged), joins the worker. NULL is a
 * no-op. */
void node_hooks_destroy(node_hooks_runner *runner);

/* Loop thread: runs the hook of `kind` (when one is configured) with json
 * (copied; at most NODE_HOOKS_INPUT_MAX bytes) on stdin. Returns false when
 * no hook of that kind is configured, or the run was dropped. */
bool node_hooks_submit(node_hooks_runner *runner,
                       node_hook_kind kind,
                       const uint8_t lease_id[LEDGER_LEASE_ID_SIZE],
                       bool self_is_lender,
                       const char *json);
/* Loop thread: outcomes of finished runs, oldest first; returns how many
 * were written (at most max). */
uint32_t node_hooks_collect(node_hooks_runner *runner, node_hook_result *results, uint32_t max);
void node_hooks_stats_get(node_hooks_runner *runner, node_hooks_stats *stats_out);

#endif /* NODE_HOOKS_INT_H */
