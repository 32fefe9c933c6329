/*
 * sim/sched.h: the batch scheduler model of one simulated site: first come
 * first served with EASY backfilling (Lifka 1995; Mu'alem and Feitelson
 * 2001) over pools of processors.
 *
 * Pure, like a protocol machine: no clock, no events, no I/O, no
 * randomness. The caller (the federation run) passes the time, submits and
 * finishes jobs when its events say so, and calls sim_sched_step() after
 * each batch of events at one virtual instant to learn which queued jobs
 * start now. Every byte is allocated by sim_sched_create(); nothing else
 * allocates.
 *
 * Pools. Pool 0 is the site's own machine; any other pool is capacity
 * borrowed from another site under a lease (the caller numbers them, below
 * pools_max). A job runs on one pool. A start on a pool is delayed by the
 * pool's start_delay_ns (the round trip to the lender): the job holds its
 * processors from the step that starts it, and its expected end is
 * start_ns + request_ns with start_ns = now + start_delay_ns. A job starts
 * on a pool only when the pool admits its class, has procs free, and
 * start_ns + request_ns <= until_ns (the lease ends then).
 *
 * The queue is ordered by (submit_ns, key). A step:
 *   1. starts jobs from the head while each fits now in some pool (pool 0
 *      first, then the other pools in id order);
 *   2. gives the first job that does not fit (the head) a reservation: the
 *      earliest time, from the running jobs' expected ends, at which it
 *      would fit in some pool, the pool (ties go to the lower id), and the
 *      processors that pool would still have free then (the "extra");
 *   3. scans up to backfill_depth later jobs and starts each that fits now
 *      in some pool (same order) without delaying the head: in another
 *      pool than the reservation's, or ending (now + start_delay_ns +
 *      request_ns) by the reservation's time, or using no more processors
 *      than the extra (which it then consumes).
 * A running job whose expected end has passed (it overran its request)
 * counts as ending now. When jobs run exactly request_ns and pools do not
 * change, the head starts no later than its first reservation.
 *
 * Jobs that can never be reserved. A job is passed over as head when no
 * pool that admits its class could ever hold it (every such pool has
 * capacity < procs, or its until_ns comes before the job could end there).
 * It keeps its place in the queue (it starts as soon as a pool that fits
 * it appears), it does not block the jobs behind it, and the step lists it
 * in sim_sched_stuck() so that the caller can decide (sim_sched_cancel()
 * removes it). Submitting such a job is not an error: what pools will
 * exist is not known in advance.
 *
 * Continuation. starts_max bounds one step's output. When a step had more
 * to start, sim_sched_step_more() says so; calling sim_sched_step() again
 * at the same now, with nothing else in between, continues the same step:
 * the union of the calls' starts equals what one call with a larger
 * starts_max would have returned (the backfill window included).
 *
 * Cost. n queued jobs, r running jobs of a pool, P present pools, d the
 * backfill depth, k stuck jobs. submit: O(1) when jobs come in (submit_ns,
 * key) order, else O(distance from the nearer end of the queue), which is
 * small for requeued jobs (they left near the head). A start: O(P) to pick
 * the pool plus O(r) to file the job by expected end (from the later end).
 * A step: O(P (started + d + k)) plus, when the head does not fit, O(r)
 * per pool for its reservation. finish, cancel: O(1). pool_remove,
 * preempt: O(requeued x their distance to the nearer end of the queue).
 *
 * Bounds: jobs_max queued and running jobs together (SIM_SCHED_JOBS_MAX at
 * most), pools_max pools (SIM_SCHED_POOLS_MAX at most). Not thread safe.
 */
#ifndef SIM_SCHED_H
#define SIM_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "mesh/mesh.h"

#define SIM_SCHED_JOBS_MAX  (1u << 26)
#define SIM_SCHED_POOLS_MAX 4096u

typedef struct sim_sched sim_sched;

/* A job as the scheduler sees it. */
typedef struct sim_sched_job {
    uint64_t key;        /* the caller's id, unique among queued and running jobs */
    uint64_t submit_ns;  /* queue order: (submit_ns, key) */
    uint64_t request_ns; /* the user's estimate: reservations and backfilling use it */
    uint32_t procs;      /* >= 1 */
    uint32_t class_bit;  /* 0: any pool; else one bit: the job runs only on pools whose
                            class_mask has it */
} sim_sched_job;

/* A pool of processors: pool 0 is the site's own machine; others are
 * capacity borrowed from another site under a lease. */
typedef struct sim_sched_pool {
    uint64_t capacity;       /* processors */
    uint64_t until_ns;       /* the pool goes away then (UINT64_MAX: never); a job starts
                                on it only if start + start_delay + request ends by then */
    uint64_t start_delay_ns; /* added to a start on this pool (the round trip to the lender) */
    uint32_t class_mask;     /* which class bits may run here (pool 0: all, by convention) */
} sim_sched_pool;

/* A decision of sim_sched_step. */
typedef struct sim_sched_start {
    uint64_t key;
    uint32_t pool;
    uint64_t start_ns; /* now + the pool's start_delay_ns */
} sim_sched_start;

/* The head's reservation, as the last step computed it. */
typedef struct sim_sched_reservation {
    uint64_t key;         /* the head */
    uint64_t time_ns;     /* the step time at which it would fit (its start adds the delay) */
    uint64_t extra_procs; /* free in that pool then, beyond the head's procs, before
                             backfilling consumed any */
    uint32_t pool;
} sim_sched_reservation;

/* Counters since create; they only grow. */
typedef struct sim_sched_stats {
    uint64_t submitted;       /* jobs accepted by sim_sched_submit */
    uint64_t started;         /* starts returned by sim_sched_step (restarts included) */
    uint64_t backfilled;      /* of those, started by backfilling past the head */
    uint64_t finished;        /* sim_sched_finish calls accepted */
    uint64_t cancelled;       /* sim_sched_cancel calls accepted */
    uint64_t preemptions;     /* running jobs requeued (pool_remove, preempt) */
    uint64_t steps;           /* sim_sched_step calls */
    uint64_t steps_truncated; /* steps that stopped at starts_max with more to start */
    uint64_t refused;         /* calls refused with an error (bad input, full, unknown key) */
} sim_sched_stats;

typedef enum sim_sched_state {
    SIM_SCHED_ABSENT = 0,
    SIM_SCHED_QUEUED = 1,
    SIM_SCHED_RUNNING = 2,
} sim_sched_state;

/* A scheduler for jobs_max queued and running jobs and pools numbered
 * below pools_max, with no pool yet. backfill_depth 0 is plain FCFS.
 * Errors: MESH_EINVAL (jobs_max or pools_max 0 or over their maximum, out
 * NULL), MESH_ENOMEM. */
MESH_MUST_USE mesh_err sim_sched_create(uint32_t jobs_max,
                                        uint32_t pools_max,
                                        uint32_t backfill_depth,
                                        sim_sched **out);
/* NULL is a no-op. */
void sim_sched_destroy(sim_sched *s);

/* Creates or changes a pool (copied). Shrinking a pool below what runs on
 * it stops nothing: the pool is over-committed (free 0) until jobs end.
 * Changing until_ns or class_mask does not touch running jobs either.
 * Errors: MESH_EINVAL (pool_id >= pools_max, pool NULL). */
MESH_MUST_USE mesh_err sim_sched_pool_set(sim_sched *s,
                                          uint32_t pool_id,
                                          const sim_sched_pool *pool);
/* The pool is gone (a lease ended or was reclaimed): its running jobs go
 * back into the queue at their original place (they restart from zero
 * later) and their keys are written to keys_out (ordered by expected end)
 * so that the caller can cancel their end events; *count_out is their
 * number. Counts preemptions. Errors, with nothing changed: MESH_EINVAL
 * (pool_id >= pools_max, count_out NULL, keys_out NULL with keys_max > 0),
 * MESH_ENOTFOUND (no such pool), MESH_EFULL (more running jobs than
 * keys_max; *count_out says how many). */
MESH_MUST_USE mesh_err sim_sched_pool_remove(
    sim_sched *s, uint32_t pool_id, uint64_t *keys_out, uint32_t keys_max, uint32_t *count_out);
/* Requeues the most recently started jobs of a pool, one by one, until its
 * busy processors plus procs_needed fit its capacity (procs_needed 0: until
 * the pool is no longer over-committed; more than the capacity: every
 * job). Keys as sim_sched_pool_remove (most recent first). Errors, with
 * nothing changed: as sim_sched_pool_remove. */
MESH_MUST_USE mesh_err sim_sched_preempt(sim_sched *s,
                                         uint32_t pool_id,
                                         uint64_t procs_needed,
                                         uint64_t *keys_out,
                                         uint32_t keys_max,
                                         uint32_t *count_out);

/* Queues a copy of job. Errors: MESH_EINVAL (job NULL, procs 0, class_bit
 * with more than one bit), MESH_EEXIST (the key is queued or running),
 * MESH_EFULL (jobs_max jobs queued and running). A job larger than every
 * pool is accepted (see "Jobs that can never be reserved"). */
MESH_MUST_USE mesh_err sim_sched_submit(sim_sched *s, const sim_sched_job *job);
/* A running job ended (done, failed or killed: the caller decides); its
 * processors are free for the next step. now_ns is the end time.
 * Errors: MESH_ENOTFOUND (no such job), MESH_EINVAL (the job is queued,
 * not running). */
MESH_MUST_USE mesh_err sim_sched_finish(sim_sched *s, uint64_t key, uint64_t now_ns);
/* Removes a queued job (one the caller gives up on, such as a stuck one).
 * Errors: MESH_ENOTFOUND, MESH_EINVAL (the job is running: finish it). */
MESH_MUST_USE mesh_err sim_sched_cancel(sim_sched *s, uint64_t key);

/* Decides which queued jobs start at now_ns and writes up to starts_max
 * of them to starts (in the order they were decided); they are running on
 * return. Returns their number. starts may be NULL when starts_max is 0. */
uint32_t
sim_sched_step(sim_sched *s, uint64_t now_ns, sim_sched_start *starts, uint32_t starts_max);
/* True when the last step stopped at starts_max with at least one more
 * job to start: call sim_sched_step again at the same now. */
bool sim_sched_step_more(const sim_sched *s);

/* Queries, O(1) unless said. */
uint32_t sim_sched_queued_jobs(const sim_sched *s);
uint64_t sim_sched_queued_procs(const sim_sched *s);
/* Queued processors of jobs with exactly this class_bit (0: unrestricted
 * jobs; a bit: jobs that only pools admitting that bit, such as pool 0,
 * can run). 0 for a value with more than one bit. */
uint64_t sim_sched_queued_procs_class(const sim_sched *s, uint32_t class_bit);
uint32_t sim_sched_running_jobs(const sim_sched *s);
uint64_t sim_sched_running_procs(const sim_sched *s);
/* Per pool; 0 for an absent pool or pool_id >= pools_max. busy may exceed
 * the capacity after a shrink; free is then 0. */
uint64_t sim_sched_pool_busy_procs(const sim_sched *s, uint32_t pool_id);
uint64_t sim_sched_pool_free_procs(const sim_sched *s, uint32_t pool_id);
uint32_t sim_sched_pool_running_jobs(const sim_sched *s, uint32_t pool_id);
/* Copies the pool's settings; false when absent. */
bool sim_sched_pool_get(const sim_sched *s, uint32_t pool_id, sim_sched_pool *pool_out);
/* The reservation the last step gave the head; false when it gave none
 * (everything started, or only stuck jobs were left). */
bool sim_sched_reservation_get(const sim_sched *s, sim_sched_reservation *out);
/* The jobs the last step passed over because no pool could ever hold them,
 * in queue order: returns their number and copies up to keys_max keys
 * (keys_out may be NULL when keys_max is 0). A job cancelled since is
 * still listed until the next step. O(keys_max). */
uint32_t sim_sched_stuck(const sim_sched *s, uint64_t *keys_out, uint32_t keys_max);
/* Where a job is; *pool_out (may be NULL) gets its pool when running. */
sim_sched_state sim_sched_job_state(const sim_sched *s, uint64_t key, uint32_t *pool_out);
void sim_sched_stats_get(const sim_sched *s, sim_sched_stats *out);

#endif
