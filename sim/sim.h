/*
 * sim/sim.h: the deterministic discrete-event simulator.
 *
 * A run drives N copies of the unchanged gossip state machine
 * (gossip/gossip.h) over a simulated network, in virtual nanoseconds, on
 * one thread, from one seed. Nothing here reads a clock, sleeps, reads the
 * environment or calls rand(): a run is a pure function of its config, so
 * the same config gives byte-identical results, digest included, and a
 * failure found at one seed replays exactly.
 *
 * The scenario of sim_gossip_run, all in virtual time:
 *   1. join: every node starts at a random time in the first second; the
 *      run waits until every node's view hash is equal and every node holds
 *      all N members ALIVE (converged_ns), or join_limit_ns (converged is
 *      false then, and the later phases are skipped);
 *   2. idle: idle_window_ns with no change; frames and bytes sent in it give
 *      the steady per-node cost (msgs_per_node_s, bytes_per_node_s). The
 *      default, 60 s, is gossip's default advert_refresh_ns, so the window
 *      holds every node's periodic re-signing of its advert, which is part
 *      of the steady cost;
 *   3. advert: node 0 publishes new capacity; the run checks each node that
 *      receives a frame, and records when 99 % and when all nodes hold node
 *      0's new sequence (time_to_99_ns, time_to_all_ns);
 *   4. crash (crash_count > 0): that many nodes (never nodes 0..2, chosen by
 *      the seed) stop; detect_ns is the time until every live node holds
 *      every crashed one as GOSSIP_DOWN;
 *   5. partition (partition_ns > 0): live nodes split by index parity for
 *      partition_ns, then the network heals; heal_ns is the time from the
 *      heal until one view (equal view hashes, every live member ALIVE in
 *      every live view);
 *   6. tail: tail_ns more of quiet running.
 * false_down counts the distinct members, never crashed, that some node
 * declared GOSSIP_DOWN (a GOSSIP_EVENT_STATE event to DOWN in its outbox),
 * at any time except from the partition's start to the moment one view is
 * restored after the heal (a partition makes the other side DOWN, rightly;
 * if one view never returns, nothing after the partition is counted).
 *
 * The digest is BLAKE2b-256 over every message's fate (time, from, to,
 * verdict, size, bytes; delivered and dropped alike) followed by the result
 * JSON without the digest; see sim_gossip_result_json.
 *
 * Memory: each machine takes its members_max member slots in
 * gossip_create; the simulator adds a few hundred bytes per node and a copy
 * of every in-flight frame (bounded by inflight_bytes_max; over it, frames
 * are dropped and counted as "overflow").
 *
 * Not thread-safe; independent runs may go in parallel in one process only
 * if nothing else in it uses mesh_panic_set_hook.
 */
#ifndef SIM_SIM_H
#define SIM_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "gossip/gossip.h"
#include "mesh/mesh.h"

#define SIM_NODES_MAX     100000u
#define SIM_DIGEST_SIZE   32u
#define SIM_JSON_SIZE_MAX 4096u

/* Called once with 0 when what the machines share (frame store, caches)
 * is allocated and before the first node, then after each node is
 * created, with the number created so far; a false return stops the run
 * with MESH_ENOMEM (node/ uses it to measure memory per node and refuse a
 * run that cannot fit). */
typedef bool (*sim_node_created_fn)(void *context, uint32_t created_count);

/* Called at each phase change, and every virtual second while
 * progress is set, with the phase's name ("join", "idle", "advert", "crash",
 * "partition", "heal", "tail", "end"), the virtual time and the events run
 * so far. For logs only: it must not touch the run. */
typedef void (*sim_progress_fn)(void *context,
                                const char *phase,
                                uint64_t virtual_ns,
                                uint64_t events);

typedef struct sim_gossip_config {
    uint32_t node_count; /* 1..SIM_NODES_MAX */
    uint64_t seed;
    uint32_t loss_ppm;         /* message loss, parts per million (10000 = 1 %) */
    uint32_t fanout;           /* gossip_config.fanout */
    uint64_t interval_ns;      /* gossip_config.probe_interval_ns */
    uint64_t partition_ns;     /* 0: no partition phase */
    uint32_t crash_count;      /* 0: no crash phase; at most node_count - 3 */
    int64_t clock_skew_ns_max; /* each node's realtime is off by up to +- this */
    uint32_t members_slack;    /* members_max = node_count + members_slack */
    bool no_verify_cache;      /* check every signature afresh (same results, slower) */
    uint32_t hostile_count;    /* members 3..3+K-1 also attack every interval; at most
                                  node_count - 3 */

    uint64_t join_limit_ns;  /* give up on the join after this */
    uint64_t idle_window_ns; /* the steady-cost window */
    uint64_t phase_limit_ns; /* give up on advert, detection or heal after this */
    uint64_t tail_ns;        /* quiet running at the end */
    uint64_t check_ns;       /* how often views are compared (resolution of the times) */
    uint64_t inflight_bytes_max;
    uint32_t events_max;

    sim_node_created_fn node_created; /* may be NULL */
    void *node_created_context;
    sim_progress_fn progress; /* may be NULL */
    void *progress_context;
} sim_gossip_config;

/* Defaults: 50 nodes, seed 1, no loss, fanout 3, interval 1 s, no crash, no
 * partition, no skew, slack 16, join limit 300 s, idle window 60 s, phase
 * limit 300 s, tail 10 s, checks every 10 ms, 1 GiB in flight, 16 M
 * events. */
void sim_gossip_config_default(sim_gossip_config *config);

/* A time that was never reached is SIM_TIME_NONE. */
#define SIM_TIME_NONE UINT64_MAX

typedef struct sim_gossip_result {
    sim_gossip_config config;
    bool converged;
    uint64_t converged_ns; /* from the start of the run */
    uint64_t idle_frames;  /* sent by all nodes in the idle window */
    uint64_t idle_bytes;
    uint64_t advert_sequence;
    uint64_t time_to_all_ns; /* from node 0's update */
    uint64_t time_to_99_ns;
    uint64_t detect_ns; /* from the crash */
    uint64_t heal_ns;   /* from the heal */
    uint32_t false_down;
    uint32_t crashed[16]; /* the first crashed indices, ascending */
    /* At the end of the crash phase, (live node, crashed member) pairs not
     * DOWN yet, by the state held: all 0 when detect_ns is set. */
    uint64_t undetected_alive;
    uint64_t undetected_suspect;
    uint64_t undetected_other;
    uint64_t end_ns; /* virtual time at the end */
    uint64_t events;
    uint64_t sends;
    uint64_t attacks; /* hostile frames sent */
    uint64_t sent_bytes;
    uint64_t delivered;
    uint64_t dropped[6]; /* by sim_verdict; [0] unused */
    uint64_t outputs_ledger;
    uint64_t outputs_event;
    uint64_t outbox_full;
    uint64_t late_ticks;       /* ticks after which the deadline was still due */
    uint64_t call_errors;      /* calls on a machine that returned an error */
    uint64_t down_events;      /* GOSSIP_EVENT_STATE to DOWN, all nodes, all members */
    uint64_t events_malformed; /* EVENT outputs not the size of a gossip_event */
    gossip_stats stats;        /* summed over all nodes */
    uint8_t digest[SIM_DIGEST_SIZE];
} sim_gossip_result;

/* Runs the scenario. Errors: MESH_EINVAL (a config field out of range),
 * MESH_ENOMEM (also when node_created said stop), MESH_EFULL (events_max
 * reached), MESH_EINTERNAL (a machine refused its own config). On error
 * *result_out is untouched. */
MESH_MUST_USE mesh_err sim_gossip_run(const sim_gossip_config *config,
                                      sim_gossip_result *result_out);

/* Writes the result as one JSON object, NUL-terminated, keys in a fixed
 * order, every number as integer arithmetic formats it, so the text is the
 * same on every platform. Errors: MESH_EFULL (buf_size too small; 4 KiB is
 * enough). */
MESH_MUST_USE mesh_err sim_gossip_result_json(const sim_gossip_result *result,
                                              char *buf,
                                              uint32_t buf_size,
                                              uint32_t *size_out);

#endif /* SIM_SIM_H */
