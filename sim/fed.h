/*
 * sim/fed.h: the federation run (`fedmesh sim run SCENARIO`): real job
 * traces replayed at simulated European sites that burst their overflow to
 * each other under leases.
 *
 * Each site is a whole member (member/member.h: gossip, the lease machine
 * and a ledger on an in-memory store, through the member's own executor,
 * exactly as in `fedmesh sim leases`, sim/lease_run.c, whose world and
 * invariant checker this run uses) plus a batch scheduler model
 * (sim/sched.h: FCFS with EASY backfilling). The scheduler reports its
 * demand through member_set_load, as a real scheduler does through
 * `POST /v1/load`; the member's burst policy borrows the overflow; each
 * lease granted to a site becomes a pool of the site's scheduler, and a
 * job started there begins one round trip between the two sites later. A
 * lease that ends, is reclaimed or is given back while jobs run on it
 * sends them back to the queue (they start again from zero; counted as
 * preempted). With `mesh` false the same sites run alone: no member, no
 * lease, the baseline.
 *
 * Time: virtual nanoseconds from 0, the start of the run. A site's trace
 * starts at its trace_offset_ns (jobs submitted earlier in the trace are
 * cut), so sites can replay different windows of one trace; each job is
 * submitted at join_ns + (its submit time - trace_offset_ns). The
 * measured window runs from join_ns for duration_ns; jobs submitted later
 * are not replayed; then the drain lets every lease end. Carbon series
 * are indexed by the same virtual time (seconds from the run's start),
 * wrapping around their span.
 *
 * Everything the run reports is a pure function of (config, seed): the
 * digest covers every message, every ledger batch, every job start and
 * end, and the result. Outputs other than the result (time series rows,
 * finished jobs) go to callbacks, so sim/ does no I/O.
 *
 * Bounds: SIM_FED_SITES_MAX sites; jobs per site bounded by the trace
 * given (the caller's memory); the lease world's bounds (sim/sim.h).
 */
#ifndef SIM_FED_H
#define SIM_FED_H

#include <stdbool.h>
#include <stdint.h>

#include "mesh/mesh.h"
#include "sim/sim.h"
#include "sim/trace.h"

#define SIM_FED_SITES_MAX     64u
#define SIM_FED_CLASSES_MAX   8u /* data classes of a scenario */
#define SIM_FED_FAULTS_MAX    256u
#define SIM_FED_NAME_SIZE     32u /* site, city and class names, NUL included */
#define SIM_FED_JSON_SIZE_MAX (256u * 1024u)

/* A data class: the lender facts a job carrying it needs. A job of the
 * class runs at home, or on a lease whose lender's certificate is in one
 * of `countries` (none: any) and holds every bit of `certifications`. */
typedef struct sim_fed_class {
    char name[SIM_FED_NAME_SIZE];
    uint32_t country_count;
    char countries[8][3];
    uint32_t certifications; /* WIRE_CERTIFICATION_* bits */
} sim_fed_class;

/* A step function over virtual seconds: value of the last point at or
 * before t, wrapping around span_s. */
typedef struct sim_fed_series {
    uint32_t count;         /* 0: use the site's constant */
    const uint64_t *time_s; /* increasing, time_s[0] == 0 */
    const uint32_t *value;  /* gCO2/kWh */
    uint64_t span_s;        /* > time_s[count - 1] */
} sim_fed_series;

typedef struct sim_fed_site {
    char name[SIM_FED_NAME_SIZE];
    char city[SIM_FED_NAME_SIZE];
    char country[3];            /* ISO 3166-1 alpha-2 */
    uint32_t certifications;    /* WIRE_CERTIFICATION_* bits */
    uint64_t vcpu;              /* the machine */
    uint64_t lendable_vcpu;     /* lending policy: at most this lent at once */
    uint64_t keep_vcpu;         /* kept for its own peaks */
    uint64_t per_peer_max_vcpu; /* 0: no limit */
    uint64_t price_microeur_per_vcpu_hour;
    bool burst;                   /* borrows its overflow */
    uint32_t carbon_gco2_per_kwh; /* constant, when carbon.count == 0 */
    sim_fed_series carbon;
    const sim_job *jobs; /* borrowed for the run; sorted by submit_ns */
    uint32_t job_count;
    uint64_t trace_offset_ns;
    uint32_t trace_scale_milli;              /* job sizes x this / 1000 (rounded up, >= 1) */
    uint32_t class_ppm[SIM_FED_CLASSES_MAX]; /* share of its jobs carrying each class */
} sim_fed_site;

typedef enum sim_fed_fault_kind {
    SIM_FED_FAULT_CRASH = 1,     /* site's member crashes at at_ns, restarts at until_ns */
    SIM_FED_FAULT_PARTITION = 2, /* sites in group_mask vs the rest, at_ns..until_ns */
} sim_fed_fault_kind;

typedef struct sim_fed_fault {
    uint32_t kind;
    uint32_t site;       /* CRASH */
    uint64_t group_mask; /* PARTITION: bit i = site i on one side */
    uint64_t at_ns;
    uint64_t until_ns;
} sim_fed_fault;

/* One row of the time series, per site per sample. */
typedef struct sim_fed_sample {
    uint64_t time_ns;
    uint32_t site;
    uint64_t vcpu_total;
    uint64_t vcpu_busy;        /* its own machine, its own jobs */
    uint64_t vcpu_busy_remote; /* its jobs on borrowed capacity */
    uint64_t vcpu_lent;        /* booked by others */
    uint64_t vcpu_borrowed;    /* leases it holds */
    uint64_t queue_jobs;
    uint64_t queue_vcpu;
    uint64_t wait_ns_mean; /* of the jobs started since the previous sample */
    uint32_t carbon_gco2_per_kwh;
} sim_fed_sample;

/* One job that ran to its end. */
typedef struct sim_fed_job_done {
    uint32_t site;
    uint64_t number; /* in its trace */
    uint64_t submit_ns;
    uint64_t start_ns;
    uint64_t end_ns;
    uint32_t vcpu;
    uint32_t where; /* the site whose capacity ran it (== site: at home) */
} sim_fed_job_done;

typedef struct sim_fed_config {
    uint64_t seed;
    bool mesh; /* false: the sites alone (the baseline) */
    uint32_t site_count;
    const sim_fed_site *sites;
    const uint32_t *rtt_us; /* site_count x site_count round trips, diagonal 0 */
    uint32_t class_count;
    sim_fed_class classes[SIM_FED_CLASSES_MAX];
    uint64_t duration_ns;       /* the measured window */
    uint64_t join_ns;           /* gossip alone before the first job */
    uint64_t drain_ns;          /* after the window: every lease ends */
    uint64_t sample_ns;         /* time series resolution */
    uint64_t probe_interval_ns; /* gossip */
    uint64_t usage_interval_ns; /* lease usage records */
    uint64_t burst_threshold_vcpu;
    uint64_t burst_lease_ns;
    uint64_t burst_release_delay_ns;
    wire_lease_constraints constraints; /* of burst leases (the operators' defaults) */
    /* What the sites have, lend and their jobs take: WIRE_RESOURCE_VCPU
     * (model "": sizes are jobs' procs) or WIRE_RESOURCE_GPU with a model
     * (sizes are jobs' gpus). Every "vcpu" figure of the site and of the
     * result counts these units. */
    uint32_t resource_class;
    char model[WIRE_MODEL_SIZE_MAX + 1];
    uint32_t vcpu_watts; /* power per busy vCPU, for carbon */
    uint32_t backfill_depth;
    uint32_t loss_ppm;
    int64_t clock_skew_ns_max;
    uint32_t hostile_count;
    uint32_t fault_count;
    sim_fed_fault faults[SIM_FED_FAULTS_MAX];
    uint32_t events_max; /* queued at once */
    /* Stop after the first event that breaks an invariant or a policy
     * (default); false runs to the end and counts them all. */
    bool stop_on_violation;
    /* Debug: an honest ledger is given a record that breaks its
     * constraints and its lender's capacity mid-run (sim_lease_config's
     * inject_violation): the checker must stop the run. */
    bool inject_violation;

    sim_progress_fn progress; /* may be NULL: phases, and every virtual hour */
    void *progress_context;
    void (*sample)(void *context, const sim_fed_sample *sample);  /* may be NULL */
    void (*job_done)(void *context, const sim_fed_job_done *job); /* may be NULL */
    void *output_context;
} sim_fed_config;

/* Defaults: mesh on, seed 1, join 60 s, drain 13 h, samples hourly,
 * gossip's own probe interval, usage records every 15 min, burst from 1
 * vCPU of overflow with 12 h leases (batch jobs ask for hours: a lease
 * shorter than a job's request cannot run it) released after 5 min of
 * surplus, 10 W per vCPU,
 * backfill depth 100, no loss, 100 ms of skew, no hostile member, no
 * fault, 16 M queued events. No site: the caller adds them. */
void sim_fed_config_default(sim_fed_config *config);

typedef struct sim_fed_site_result {
    uint64_t jobs;         /* submitted */
    uint64_t jobs_done;    /* ran to their end */
    uint64_t jobs_burst;   /* of those: on borrowed capacity */
    uint64_t jobs_skipped; /* wider than the site's machine: never submitted */
    uint64_t preempted;
    uint64_t wait_ns_p95;
    uint64_t busy_vcpu_ns; /* own machine, own jobs */
    uint64_t lent_vcpu_ns; /* booked by others */
    uint64_t borrowed_vcpu_ns;
    uint64_t burst_used_vcpu_ns; /* its jobs on borrowed capacity */
    double burst_gco2_g;         /* of its jobs on borrowed capacity, at the lender's intensity */
} sim_fed_site_result;

typedef struct sim_fed_result {
    uint64_t seed;
    bool mesh;
    uint64_t sim_ns;
    uint64_t events;
    uint64_t jobs_total;
    uint64_t jobs_done;
    uint64_t jobs_local;
    uint64_t jobs_burst;
    uint64_t jobs_preempted;
    uint64_t jobs_skipped;
    uint64_t jobs_unfinished; /* still queued or running at the window's end */
    uint64_t wait_ns_p50;
    uint64_t wait_ns_p95;
    uint64_t wait_ns_p99;
    uint64_t slowdown_p95_milli; /* bounded slowdown, threshold 10 s, x 1000 */
    uint64_t gossip_bytes;
    uint64_t lease_bytes;
    uint64_t lease_ns_p50; /* a burst borrow, from asking to granted */
    uint64_t burst_borrows;
    uint64_t leases_granted;
    uint64_t leases_unused; /* granted while the site had FED_POOLS_MAX pools: never used */
    uint64_t
        policy_violations; /* a data-class job away from an allowed lender, a pool overfilled */
    uint64_t invariant_violations;
    /* stop_on_violation: where the run stopped (the lease world's
     * result has the violations' descriptions). */
    bool stopped;
    uint64_t stopped_at_ns;
    char stopped_event[64];
    /* lent_vcpu_ns[lender * site_count + borrower]: used capacity. */
    uint64_t lent_vcpu_ns[SIM_FED_SITES_MAX * SIM_FED_SITES_MAX];
    sim_fed_site_result sites[SIM_FED_SITES_MAX];
    sim_lease_result lease; /* the world's result: invariants, traffic, leases */
    uint8_t digest[SIM_DIGEST_SIZE];
} sim_fed_result;

/* Runs the federation. Errors: MESH_EINVAL (a field out of range: no
 * site, a site without capacity, a fault naming no site...), MESH_ENOMEM,
 * MESH_EFULL (events_max), MESH_EINTERNAL. A completed run returns MESH_OK
 * whatever its invariants say. The result is large: allocate it. */
MESH_MUST_USE mesh_err sim_fed_run(const sim_fed_config *config, sim_fed_result *result_out);

#endif /* SIM_FED_H */
