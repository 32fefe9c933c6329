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
 * verdict, size, and a 64-bit hash of its bytes; delivered and dropped
 * alike) followed by the result JSON without the digest; see
 * sim_gossip_result_json.
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
#include "lease/lease.h"
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
    /* Adverts the shared frame store holds at most; 0: sized from
     * node_count (8 live versions a member). A frame the store refuses
     * fails the run (MESH_EFULL, with the counts on stderr): its results
     * would not be those of unbounded machines. Tests set it small to see
     * that failure. */
    uint32_t store_adverts_max;
    uint32_t hostile_count; /* members 3..3+K-1 also attack every interval; at most
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
    /* Why: every false DOWN event (all observers, not distinct members),
     * by what the member itself held at that moment: it had refuted the
     * suspicion already (a newer own advert that had not reached the
     * observer), or it had not (it never heard of the suspicion). */
    uint64_t false_down_refuted_unseen;
    uint64_t false_down_unrefuted;
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

/* ------------------------------------------------------------------ */
/* The lease scenario (sim/lease_run.c): whole members with leases.     */
/* ------------------------------------------------------------------ */

/*
 * sim_lease_run drives N honest members (member/member.h: gossip, the lease
 * machine and a ledger on an in-memory store each, through the member's own
 * executor) and K hostile ones, in virtual time, over the simulated
 * network (each member in a city of the latency table, drawn from the
 * seed; jitter; independent loss), from one seed:
 *   1. join: every member boots in the first second; gossip joins and
 *      measures round trips for join_ns;
 *   2. workload (workload_ns): every member reports a load that rises and
 *      falls with random peaks (member_set_load), so that its burst policy
 *      borrows the overflow and gives it back by itself, and lenders reclaim
 *      when their own peak arrives; members also borrow directly with random
 *      constraints and durations, and release some leases early. K honest
 *      crash/restart pairs happen at random times (LEDGER_CRASH_LOSE), and
 *      hostile members misbehave (sim/lease_adversary.c says how);
 *   3. drain (drain_ns): no new borrows, every load falls to zero, and the
 *      run goes on until every lease has had the time to end.
 * The invariants (sim/lease_check.c says exactly what and when) are checked
 * during the run and at its end; each violation is counted, and the first
 * SIM_LEASE_VIOLATIONS_KEPT are described.
 *
 * The digest is BLAKE2b-256 over every message's fate (time, from, to,
 * verdict, size, and the bytes' SipHash-2-4 under a fixed key), every
 * batch written to every ledger store (member, time, each key and value),
 * and the result JSON without the digest.
 */

#define SIM_LEASE_NODES_MAX       256u
#define SIM_LEASE_HOSTILE_MAX     16u
#define SIM_LEASE_WORKLOAD_NS_MAX (24ull * 3600u * MESH_NS_PER_S)
#define SIM_LEASE_VIOLATIONS_KEPT 10u
#define SIM_LEASE_VIOLATION_SIZE  192u
#define SIM_LEASE_JSON_SIZE_MAX   16384u

/* The invariants, each with its own count. */
typedef enum sim_lease_invariant {
    SIM_LEASE_INV_CONSTRAINTS = 0, /* (a) no lease breaks its constraints or misstates facts */
    SIM_LEASE_INV_CAPACITY = 1,    /* (b) no honest lender lends beyond its lendable */
    SIM_LEASE_INV_AGREE = 2,       /* (c) the two ledgers of a lease agree record for record */
    SIM_LEASE_INV_BALANCE = 3,     /* (d) lent equals borrowed across the federation */
    SIM_LEASE_INV_END = 4,         /* (e) every lease ends (SETTLED after the drain) */
    SIM_LEASE_INV_LEDGER = 5,      /* every honest ledger verifies (chain, signatures, state) */
} sim_lease_invariant;
#define SIM_LEASE_INVARIANT_COUNT 6u
/* "constraints", "capacity", "agree", "balance", "end", "ledger". */
const char *sim_lease_invariant_name(uint32_t invariant);

/* What hostile members do (sim/lease_adversary.c), each counted. */
typedef enum sim_lease_attack {
    SIM_LEASE_ATTACK_WITHHELD = 0,      /* a lease frame of an offer never confirmed, dropped */
    SIM_LEASE_ATTACK_FALSE_TERMS = 1,   /* an offer whose terms its certificate does not back */
    SIM_LEASE_ATTACK_OVERCHARGE = 2,    /* a usage proposal over reserved x time */
    SIM_LEASE_ATTACK_LATE = 3,          /* a lease frame held back 0.5..15 s */
    SIM_LEASE_ATTACK_TWICE = 4,         /* a lease frame sent twice */
    SIM_LEASE_ATTACK_REPLAY = 5,        /* an old lease frame sent again */
    SIM_LEASE_ATTACK_FORGED_SIGNER = 6, /* a frame naming another member, signed by itself */
    SIM_LEASE_ATTACK_FORGED_RECORD = 7, /* a record with a signature made with the wrong key */
    SIM_LEASE_ATTACK_CRASH = 8,         /* a crash and restart (torn ledger write) */
} sim_lease_attack;
#define SIM_LEASE_ATTACK_COUNT 9u
const char *sim_lease_attack_name(uint32_t attack);

typedef struct sim_lease_config {
    uint32_t node_count;    /* honest members, 2..SIM_LEASE_NODES_MAX */
    uint32_t hostile_count; /* hostile members on top, 0..SIM_LEASE_HOSTILE_MAX */
    uint64_t seed;
    uint32_t loss_ppm;           /* message loss, parts per million */
    uint32_t crash_count;        /* crash/restart pairs among honest members, 0..4 x node_count */
    int64_t clock_skew_ns_max;   /* each member's realtime is off by up to +- this */
    uint64_t join_ns;            /* gossip alone before the workload */
    uint64_t workload_ns;        /* 1 s..SIM_LEASE_WORKLOAD_NS_MAX */
    uint64_t drain_ns;           /* after the workload: no new borrows */
    uint64_t usage_interval_ns;  /* lease usage records */
    uint64_t duration_ns_min;    /* direct and burst leases last min..max */
    uint64_t duration_ns_max;    /* must fit in drain_ns with room for the end */
    uint64_t borrow_interval_ns; /* mean time between one member's direct borrows */
    uint64_t load_interval_ns;   /* mean time between one member's load reports */
    uint64_t attack_interval_ns; /* each hostile member's forged or replayed frame */
    uint64_t check_ns;           /* how often hostile promises are measured (and progress) */
    bool verify_ledgers;         /* ledger_verify every honest ledger at the end */
    /* Debug: write, mid-run, one validly signed OPENED record that breaks
     * its constraints and its lender's capacity straight into an honest
     * ledger (bypassing the lease machine): the checker must see it. */
    bool inject_violation;
    /* The one resource class members lend and borrow: WIRE_RESOURCE_VCPU
     * (the default, model "") or WIRE_RESOURCE_GPU with a model. Not in
     * the JSON. */
    uint32_t resource_class;
    char model[WIRE_MODEL_SIZE_MAX + 1];
    /* Stop at the end of the first event after which an invariant or a
     * policy is broken (result.stopped says which event); the checks of
     * the end are then not made. Not in the JSON. */
    bool stop_on_violation;
    uint32_t events_max;
    uint64_t inflight_bytes_max;
    uint32_t records_max;     /* records the checker tracks (both copies of each) */
    sim_progress_fn progress; /* may be NULL; every virtual minute and at each phase:
                                 "join", "workload", "drain", "end" */
    void *progress_context;
} sim_lease_config;

/* Defaults: 8 members, no hostile one, seed 1, no loss, no crash, skew
 * 100 ms, join 20 s, workload 30 min, drain 20 min, usage every 60 s,
 * leases of 2..10 min, a direct borrow every 3 min and a load report every
 * 20 s per member on average, an attack every 5 s per hostile member, a
 * sweep every second, ledgers verified, 16 M events, 1 GiB in flight, 4 M
 * records. */
void sim_lease_config_default(sim_lease_config *config);

typedef struct sim_lease_violation {
    uint32_t invariant; /* sim_lease_invariant */
    uint64_t at_ns;     /* virtual time */
    char what[SIM_LEASE_VIOLATION_SIZE];
} sim_lease_violation;

typedef struct sim_lease_result {
    sim_lease_config config;
    uint64_t end_ns;
    uint64_t events;
    uint64_t sends;
    uint64_t delivered;
    uint64_t dropped[6]; /* by sim_verdict; [0] unused */
    uint64_t call_errors;
    /* Bytes that honest members handed to the network (delivered or not):
     * gossip frames (envelope types below 16) and lease frames (the
     * rest). Not in the JSON. */
    uint64_t gossip_bytes;
    uint64_t lease_bytes;
    /* Ticks after which the member was still due, and episodes of a
     * deadline that stays in the past tick after tick (a member whose
     * shell would spin; SIM_LEASE_STUCK_TICKS ticks make one), with the
     * first one's time and member. */
    uint64_t late_ticks;
    uint64_t stuck_deadlines;
    uint64_t stuck_first_ns;
    uint32_t stuck_first_member;
    uint64_t ledger_writes; /* batches written to the stores */
    uint64_t records_written;
    /* Leases, counted once per lease in the honest ledgers. */
    uint64_t leases_granted;        /* an OPENED record in some honest ledger */
    uint64_t leases_settled;        /* SETTLED in every honest ledger that holds it */
    uint64_t leases_hostile;        /* of those granted: a hostile party */
    uint64_t hostile_unsettled;     /* leases with a hostile party not settled: not a violation */
    uint64_t lent_vcpu_milli_hours; /* vCPU usage lent, summed over honest lenders */
    uint64_t borrows[4];            /* by lease_borrow_status ([0] unused), honest members */
    uint64_t direct_borrows;
    uint64_t releases;
    uint64_t burst_borrows;
    uint64_t burst_releases;
    uint64_t reclaims;
    uint64_t late_acceptances;
    uint64_t refusals[WIRE_LEASE_REFUSAL_MAX + 1]; /* sent by honest lenders, by reason */
    uint64_t rejected[LEASE_REJECT_COUNT];         /* by honest members, by reason */
    uint64_t crashes;                              /* honest */
    uint64_t attacks[SIM_LEASE_ATTACK_COUNT];
    uint64_t hostile_overpromised_vcpu_max; /* hostile booked beyond its true capacity, peak */
    uint64_t reconciled_pairs;              /* honest pairs reconciled at the end */
    uint64_t reconciled_pairs_crashed;      /* of those: one side crashed during the run */
    uint64_t reconciled_records;            /* records both sides hold, summed */
    uint64_t checks;                        /* capacity checks made */
    uint64_t invariant[SIM_LEASE_INVARIANT_COUNT];
    uint64_t invariant_violations;
    uint64_t policy_violations;
    /* stop_on_violation: the run stopped after this event (its virtual
     * time, and "KIND member M [from F]"). Not in the JSON. */
    bool stopped;
    uint64_t stopped_at_ns;
    char stopped_event[64];
    uint32_t violation_count; /* described below: at most SIM_LEASE_VIOLATIONS_KEPT */
    sim_lease_violation violations[SIM_LEASE_VIOLATIONS_KEPT];
    uint8_t digest[SIM_DIGEST_SIZE];
} sim_lease_result;

/* Runs the scenario. Errors: MESH_EINVAL (a config field out of range),
 * MESH_ENOMEM, MESH_EFULL (events_max or records_max reached),
 * MESH_EINTERNAL (a member refused its own config, or the simulator's
 * own bookkeeping failed). A run that completes returns MESH_OK whatever
 * the invariants say: read invariant_violations. On error *result_out is
 * untouched. */
MESH_MUST_USE mesh_err sim_lease_run(const sim_lease_config *config, sim_lease_result *result_out);

/* The result as one JSON object, keys in a fixed order, as
 * sim_gossip_result_json. Errors: MESH_EFULL (SIM_LEASE_JSON_SIZE_MAX is
 * enough). */
MESH_MUST_USE mesh_err sim_lease_result_json(const sim_lease_result *result,
                                             char *buf,
                                             uint32_t buf_size,
                                             uint32_t *size_out);

#endif /* SIM_SIM_H */
