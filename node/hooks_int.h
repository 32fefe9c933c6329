/*
 * node/hooks_int.h: the operator's hooks ([hooks] on_granted,
 * on_reclaim_notice, on_ended): a command run with the lease as JSON on
 * its standard input, so that a real scheduler can act (hooks/slurm/ has
 * the Slurm ones: a reservation for lent cores). And [hooks] on_member:
 * a command run on every membership event this node sees (join, update,
 * suspect, down, alive, left, revoked) with the event as JSON on stdin,
 * like Serf's event handlers (a monitor, a DNS updater, a benchmark's
 * stopwatch).
 *
 * Every hook gets FEDMESH_EVENT in its environment: the lease hook's kind
 * ("granted", "reclaim_notice", "ended") or the member event's name.
 *
 * Two lanes, each one worker thread with its own bounded queue: the lease
 * lane (NODE_HOOKS_QUEUE_MAX) and the member lane
 * (NODE_HOOKS_MEMBER_QUEUE_MAX). A lane runs its hooks one at a time, in
 * the order the loop submitted them, so that a lease's "granted" hook
 * always runs before its "ended" hook and a member's "suspect" before its
 * "down". Member events come in bursts (a whole federation joins, a
 * partition heals) and their hook may hang: in a lane of their own they
 * never delay a lease hook nor take its queue's room; the price is one
 * more thread when on_member is set. The loop never waits for a hook: it
 * submits into the lane's queue (a full queue drops the run, logs it and
 * counts it) and later collects the lease lane's outcomes (the member
 * lane's only count). A hook runs in its own
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

#define NODE_HOOKS_QUEUE_MAX           64u
#define NODE_HOOKS_MEMBER_QUEUE_MAX    256u
#define NODE_HOOKS_OUTPUT_MAX          1024u
#define NODE_HOOKS_INPUT_MAX           4096u /* the JSON on stdin, lease hooks */
#define NODE_HOOKS_MEMBER_INPUT_MAX    512u  /* the JSON on stdin, member events */
#define NODE_HOOKS_EVENT_NAME_SIZE_MAX 16u   /* FEDMESH_EVENT's value, with its NUL */

typedef enum node_hook_kind {
    NODE_HOOK_GRANTED = 0,
    NODE_HOOK_RECLAIM_NOTICE = 1,
    NODE_HOOK_ENDED = 2,
    NODE_HOOK_MEMBER = 3, /* [hooks] on_member */
} node_hook_kind;
#define NODE_HOOK_KIND_COUNT 4u
const char *node_hook_kind_name(node_hook_kind kind); /* "granted", ..., "member" */

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
    uint64_t dropped[NODE_HOOK_KIND_COUNT];  /* the queue was full, or the input too large */
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

/* Loop thread: runs the lease hook of `kind` (when one is configured)
 * with json (copied; at most NODE_HOOKS_INPUT_MAX bytes) on stdin. Returns
 * false when no hook of that kind is configured, or the run was dropped.
 * kind is not NODE_HOOK_MEMBER (node_hooks_submit_member is). */
bool node_hooks_submit(node_hooks_runner *runner,
                       node_hook_kind kind,
                       const uint8_t lease_id[LEDGER_LEASE_ID_SIZE],
                       bool self_is_lender,
                       const char *json);
/* Loop thread: runs on_member (when configured) for the member event
 * named event ("join", "update", ...; FEDMESH_EVENT), with json (copied;
 * at most NODE_HOOKS_MEMBER_INPUT_MAX bytes) on stdin. Returns false when
 * no on_member is configured, or the run was dropped (counted). */
bool node_hooks_submit_member(node_hooks_runner *runner, const char *event, const char *json);
/* True when on_member is configured: the loop builds no JSON otherwise. */
bool node_hooks_member_enabled(const node_hooks_runner *runner);
/* Loop thread: outcomes of finished lease hook runs, oldest first; returns how many
 * were written (at most max). */
uint32_t node_hooks_collect(node_hooks_runner *runner, node_hook_result *results, uint32_t max);
void node_hooks_stats_get(node_hooks_runner *runner, node_hooks_stats *stats_out);

#endif /* NODE_HOOKS_INT_H */
