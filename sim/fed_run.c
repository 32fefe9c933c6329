/*
 * sim/fed_run.c: the federation run (sim/fed.h): scenario sites, their
 * job traces and schedulers, plugged into the lease world of
 * sim/lease_run.c (lease_int.h, sim_lease_plugin).
 *
 * Who does what. The lease world owns the members, the network, the
 * adversaries, the invariant checker and the event loop. This file owns
 * the workload: one sim_sched per site (sim/sched.h), the jobs' lives, the
 * pools that leases become, the faults a scenario schedules, and the
 * accounting behind the summary and the time series. Without the mesh
 * there is no world: the same handlers run on a small loop of their own
 * (run_alone), so the baseline replays the same jobs through the same
 * scheduler code, with nothing else in the heap.
 *
 * A site's step (after every event that touched it, outside any member):
 * apply the lease changes its member reported (granted: a new pool;
 * reclaim notice: the pool ends sooner; ended: the pool goes and its jobs
 * are preempted), set the home pool to what is not lent, let the
 * scheduler start what it can, and report the load (queued + running
 * vCPUs) to the member when it changed. Lease events arrive inside the
 * member's executor, where nothing may drive a member, so they are only
 * noted (a bounded list per site) and applied at the next step.
 *
 * Waiting times count from submission to the start of the run that
 * completed (a preempted job waits again). Jobs still queued when the
 * window closes count with the wait they had then (censored): leaving
 * them out would flatter whichever run left more jobs waiting.
 *
 * Accounting is piecewise constant between changes: at every change of a
 * site's busy, lent or borrowed capacity the elapsed time is charged at
 * the old values, within the measured window only. Carbon charges the
 * busy vCPUs of a site's jobs on borrowed capacity at the lender's
 * intensity at the start of each piece (pieces are at most a sample
 * long), times vcpu_watts.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sim/fed.h"
#include "sim/lease_int.h"
#include "sim/sched.h"

#define FED_EVENT_SUBMIT (SIM_LEASE_EVENT_PLUGIN + 0u)
#define FED_EVENT_END    (SIM_LEASE_EVENT_PLUGIN + 1u) /* from_index: job; generation: its run */
#define FED_EVENT_EXPIRE                                                    \
    (SIM_LEASE_EVENT_PLUGIN + 2u) /* from_index: pool; generation: its life \
                                   */
#define FED_EVENT_SAMPLE (SIM_LEASE_EVENT_PLUGIN + 3u)
#define FED_EVENT_FAULT \
    (SIM_LEASE_EVENT_PLUGIN + 4u) /* from_index: fault; generation: 0 start, 1 end */
#define FED_EVENT_WINDOW (SIM_LEASE_EVENT_PLUGIN + 5u) /* the window closes */

#define FED_POOLS_MAX       64u  /* leases a site runs jobs on at once (pool ids 1..) */
#define FED_NOTES_MAX       256u /* lease events noted between two steps */
#define FED_STARTS_BATCH    128u
#define FED_SLOWDOWN_MIN_NS (10ull * MESH_NS_PER_S)
#define FED_STREAM_CLASS    0xfedc1a55u

enum { JOB_PENDING = 0, JOB_QUEUED = 1, JOB_RUNNING = 2, JOB_DONE = 3 };

typedef struct fed_job {
    uint64_t submit_ns; /* virtual */
    uint64_t run_ns;
    uint64_t request_ns;
    uint64_t start_ns;
    uint64_t number;
    uint64_t generation; /* of its current run: stale END events are skipped */
    uint32_t procs;
    uint32_t class_bit;
    uint32_t pool;
    uint32_t state;
} fed_job;

typedef struct fed_pool {
    bool used;
    uint8_t lease_id[LEDGER_LEASE_ID_SIZE];
    uint32_t lender;
    uint64_t vcpu;
    uint64_t busy;
    uint64_t until_ns;
    uint64_t generation;
} fed_pool;

typedef enum fed_note_kind {
    NOTE_GRANTED = 1,
    NOTE_RECLAIM = 2,
    NOTE_ENDED = 3,
} fed_note_kind;

typedef struct fed_note {
    uint32_t kind;
    uint32_t lender;
    uint8_t lease_id[LEDGER_LEASE_ID_SIZE];
    uint64_t vcpu;
    int64_t end_ns; /* realtime, the borrower's clock */
} fed_note;

typedef struct fed_site {
    const sim_fed_site *spec;
    sim_sched *sched;
    fed_job *jobs;
    uint32_t job_count;
    uint32_t next_submit;
    uint32_t class_mask;               /* the classes its certificate serves as a lender */
    fed_pool pools[FED_POOLS_MAX + 1]; /* [0] unused: pool 0 is home */
    fed_note notes[FED_NOTES_MAX];
    uint32_t note_count;
    bool dirty;
    uint64_t busy_home;
    uint64_t lent;
    uint64_t borrowed;
    uint64_t busy_remote;
    uint64_t queued_vcpu;
    uint64_t queued_jobs;
    uint64_t reported_queued;
    uint64_t reported_running;
    bool reported;
    uint64_t charged_ns;     /* accounting done up to here */
    uint64_t sample_started; /* jobs started since the last sample */
    uint64_t sample_wait_ns; /* and their waits */
    uint64_t burst_borrows_seen;
    uint64_t borrow_asked_ns; /* a burst borrow in flight since (0: none) */
} fed_site;

typedef struct fed_run {
    const sim_fed_config *config;
    sim_fed_result *result;
    sim_lease_world *world; /* NULL without the mesh */
    sim_heap heap;          /* without the mesh */
    uint64_t now_ns;        /* without the mesh */
    mesh_err fatal;
    fed_site sites[SIM_FED_SITES_MAX];
    uint64_t window_start_ns;
    uint64_t window_end_ns;
    bool window_open;
    crypto_generichash_state digest;
    uint64_t *lease_ns; /* burst borrow latencies */
    uint32_t lease_ns_count;
    uint32_t lease_ns_capacity;
    uint64_t *keys; /* as many as the widest pool can run */
    uint32_t keys_max;
    sim_sched_start starts[FED_STARTS_BATCH];
} fed_run;

void sim_fed_config_default(sim_fed_config *config)
{
    MESH_ASSERT(config != NULL);
    memset(config, 0, sizeof(*config));
    config->seed = 1;
    config->mesh = true;
    config->join_ns = 60ull * MESH_NS_PER_S;
    config->drain_ns = 13ull * 3600u * MESH_NS_PER_S;
    config->sample_ns = 3600ull * MESH_NS_PER_S;
    config->usage_interval_ns = 15ull * 60u * MESH_NS_PER_S;
    config->burst_threshold_vcpu = 1;
    config->burst_lease_ns = 12ull * 3600u * MESH_NS_PER_S;
    config->burst_release_delay_ns = 300ull * MESH_NS_PER_S;
    config->vcpu_watts = 10;
    config->resource_class = WIRE_RESOURCE_VCPU;
    config->backfill_depth = 100;
    config->clock_skew_ns_max = 100 * (int64_t) MESH_NS_PER_MS;
    config->events_max = 1u << 24;
    config->stop_on_violation = true;
}

static mesh_err config_check(const sim_fed_config *c)
{
    if (c->site_count < 2 || c->site_count > SIM_FED_SITES_MAX || c->sites == NULL ||
        c->rtt_us == NULL || c->class_count > SIM_FED_CLASSES_MAX ||
        c->fault_count > SIM_FED_FAULTS_MAX || c->hostile_count > SIM_LEASE_HOSTILE_MAX) {
        return MESH_EINVAL;
    }
    if (c->duration_ns < MESH_NS_PER_S || c->duration_ns > 400ull * 86400u * MESH_NS_PER_S ||
        c->join_ns < 5 * MESH_NS_PER_S || c->sample_ns < MESH_NS_PER_S ||
        c->burst_lease_ns < 60 * MESH_NS_PER_S ||
        c->burst_lease_ns > 7ull * 86400u * MESH_NS_PER_S || c->usage_interval_ns < MESH_NS_PER_S ||
        c->backfill_depth == 0 || c->events_max == 0) {
        return MESH_EINVAL;
    }
    for (uint32_t i = 0; i < c->site_count; i++) {
        const sim_fed_site *s = &c->sites[i];
        if (s->vcpu == 0 || s->vcpu > WIRE_AMOUNT_MAX || s->lendable_vcpu > s->vcpu ||
            s->keep_vcpu > s->vcpu || s->trace_scale_milli == 0 ||
            (s->job_count > 0 && s->jobs == NULL)) {
            return MESH_EINVAL;
        }
        uint64_t share = 0;
        for (uint32_t k = 0; k < SIM_FED_CLASSES_MAX; k++) {
            share += s->class_ppm[k];
        }
        if (share > SIM_PPM) {
            return MESH_EINVAL;
        }
        if (s->carbon.count > 0 &&
            (s->carbon.time_s == NULL || s->carbon.value == NULL || s->carbon.time_s[0] != 0 ||
             s->carbon.span_s <= s->carbon.time_s[s->carbon.count - 1])) {
            return MESH_EINVAL;
        }
    }
    for (uint32_t f = 0; f < c->fault_count; f++) {
        const sim_fed_fault *fault = &c->faults[f];
        if ((fault->kind != SIM_FED_FAULT_CRASH && fault->kind != SIM_FED_FAULT_PARTITION) ||
            (fault->kind == SIM_FED_FAULT_CRASH && fault->site >= c->site_count) ||
            fault->until_ns <= fault->at_ns) {
            return MESH_EINVAL;
        }
    }
    return MESH_OK;
}

/* ---------------------------------------------------------------- */
/* Small helpers.                                                    */
/* ---------------------------------------------------------------- */

static uint64_t now_of(const fed_run *run)
{
    return run->world != NULL ? run->world->now_ns : run->now_ns;
}

static void digest_u64(fed_run *run, uint64_t value)
{
    uint8_t bytes[8];
    for (uint32_t i = 0; i < 8; i++) {
        bytes[i] = (uint8_t) (value >> (8 * i));
    }
    MESH_ASSERT(crypto_generichash_update(&run->digest, bytes, sizeof(bytes)) == 0);
}

static void push(fed_run *run, const sim_event *event)
{
    mesh_err err =
        run->world != NULL ? sim_lease_push(run->world, event) : sim_heap_push(&run->heap, event);
    if (err != MESH_OK && run->fatal == MESH_OK) {
        run->fatal = err;
    }
}

static uint32_t carbon_at(const sim_fed_site *site, uint64_t time_ns)
{
    const sim_fed_series *series = &site->carbon;
    if (series->count == 0) {
        return site->carbon_gco2_per_kwh;
    }
    uint64_t t = (time_ns / MESH_NS_PER_S) % series->span_s;
    uint32_t low = 0;
    uint32_t high = series->count; // the answer is in [low, high)
    while (high - low > 1) {
        uint32_t mid = low + (high - low) / 2;
        if (series->time_s[mid] <= t) {
            low = mid;
        } else {
            high = mid;
        }
    }
    return series->value[low];
}

static bool class_served(const sim_fed_class *c, const sim_fed_site *lender)
{
    if ((lender->certifications & c->certifications) != c->certifications) {
        return false;
    }
    if (c->country_count == 0) {
        return true;
    }
    for (uint32_t i = 0; i < c->country_count; i++) {
        if (memcmp(c->countries[i], lender->country, 3) == 0) {
            return true;
        }
    }
    return false;
}

static uint32_t site_of_peer(const fed_run *run, const mesh_node_id *peer)
{
    for (uint32_t i = 0; i < run->config->site_count; i++) {
        if (memcmp(run->world->nodes[i].id.bytes, peer->bytes, MESH_NODE_ID_SIZE) == 0) {
            return i;
        }
    }
    return UINT32_MAX;
}

/* ---------------------------------------------------------------- */
/* Accounting.                                                       */
/* ---------------------------------------------------------------- */

/* Charges site s from its last charge to now at the values it had. */
static void charge(fed_run *run, uint32_t s)
{
    fed_site *site = &run->sites[s];
    uint64_t now = now_of(run);
    uint64_t from =
        site->charged_ns > run->window_start_ns ? site->charged_ns : run->window_start_ns;
    uint64_t to = now < run->window_end_ns ? now : run->window_end_ns;
    site->charged_ns = now;
    if (to <= from) {
        return;
    }
    uint64_t dt = to - from;
    sim_fed_site_result *r = &run->result->sites[s];
    r->busy_vcpu_ns += site->busy_home * dt;
    r->lent_vcpu_ns += site->lent * dt;
    r->borrowed_vcpu_ns += site->borrowed * dt;
    r->burst_used_vcpu_ns += site->busy_remote * dt;
    uint32_t n = run->config->site_count;
    for (uint32_t p = 1; p <= FED_POOLS_MAX; p++) {
        const fed_pool *pool = &site->pools[p];
        if (!pool->used) {
            continue;
        }
        run->result->lent_vcpu_ns[(size_t) pool->lender * n + s] += pool->vcpu * dt;
        if (pool->busy > 0) {
            double kwh =
                (double) pool->busy * (double) dt / 3.6e12 * run->config->vcpu_watts / 1000.0;
            r->burst_gco2_g += kwh * carbon_at(&run->config->sites[pool->lender], from);
        }
    }
}

/* ---------------------------------------------------------------- */
/* Jobs.                                                             */
/* ---------------------------------------------------------------- */

static void job_started(fed_run *run, uint32_t s, const sim_sched_start *start)
{
    fed_site *site = &run->sites[s];
    MESH_ASSERT(start->key < site->job_count);
    fed_job *job = &site->jobs[start->key];
    MESH_ASSERT(job->state == JOB_QUEUED);
    job->state = JOB_RUNNING;
    job->pool = start->pool;
    job->start_ns = start->start_ns;
    job->generation++;
    site->queued_jobs--;
    site->queued_vcpu -= job->procs;
    if (start->pool == 0) {
        site->busy_home += job->procs;
    } else {
        MESH_ASSERT(start->pool <= FED_POOLS_MAX && site->pools[start->pool].used);
        fed_pool *pool = &site->pools[start->pool];
        pool->busy += job->procs;
        site->busy_remote += job->procs;
        // A job of a data class away from home: checked against the
        // lender's facts from the scenario, not the scheduler's mask.
        for (uint32_t c = 0; c < run->config->class_count; c++) {
            if (job->class_bit == 1u << c &&
                !class_served(&run->config->classes[c], &run->config->sites[pool->lender])) {
                sim_lease_policy_violate(
                    run->world, "job %llu of site %u (data class %s) ran at %s",
                    (unsigned long long) job->number, s, run->config->classes[c].name,
                    run->config->sites[pool->lender].name);
            }
        }
        if (pool->busy > pool->vcpu || job->start_ns + job->request_ns > pool->until_ns) {
            sim_lease_policy_violate(
                run->world, "job %llu of site %u overfills or outlives its lease on %s",
                (unsigned long long) job->number, s, run->config->sites[pool->lender].name);
        }
    }
    if (job->start_ns <= run->window_end_ns) {
        site->sample_started++;
        site->sample_wait_ns += job->start_ns - job->submit_ns;
    }
    digest_u64(run, 5); // a start
    digest_u64(run, job->start_ns);
    digest_u64(run, (uint64_t) s << 32 | start->pool);
    digest_u64(run, start->key);
    sim_event end = {.time_ns = job->start_ns + job->run_ns,
                     .kind = FED_EVENT_END,
                     .node_index = s,
                     .from_index = (uint32_t) start->key,
                     .generation = job->generation};
    push(run, &end);
}

/* Jobs of pool p that the scheduler sent back to the queue. */
static void jobs_requeued(fed_run *run, uint32_t s, uint32_t count)
{
    fed_site *site = &run->sites[s];
    for (uint32_t i = 0; i < count; i++) {
        fed_job *job = &site->jobs[run->keys[i]];
        MESH_ASSERT(job->state == JOB_RUNNING);
        job->state = JOB_QUEUED;
        job->generation++; // its END event is now stale
        site->queued_jobs++;
        site->queued_vcpu += job->procs;
        if (job->pool == 0) {
            site->busy_home -= job->procs;
        } else {
            site->pools[job->pool].busy -= job->procs;
            site->busy_remote -= job->procs;
        }
        if (now_of(run) <= run->window_end_ns) {
            run->result->sites[s].preempted++;
        }
        digest_u64(run, 7); // a preemption
        digest_u64(run, now_of(run));
        digest_u64(run, (uint64_t) s << 32 | job->pool);
        digest_u64(run, run->keys[i]);
    }
}

static void job_ended(fed_run *run, uint32_t s, uint32_t key, uint64_t generation)
{
    fed_site *site = &run->sites[s];
    fed_job *job = &site->jobs[key];
    if (job->state != JOB_RUNNING || job->generation != generation) {
        return; // preempted since: this end is stale
    }
    charge(run, s);
    job->state = JOB_DONE;
    if (job->pool == 0) {
        site->busy_home -= job->procs;
    } else {
        site->pools[job->pool].busy -= job->procs;
        site->busy_remote -= job->procs;
    }
    mesh_err err = sim_sched_finish(site->sched, key, now_of(run));
    MESH_ASSERT(err == MESH_OK);
    site->dirty = true;
    digest_u64(run, 6); // an end
    digest_u64(run, now_of(run));
    digest_u64(run, (uint64_t) s << 32 | key);
    if (job->submit_ns > run->window_end_ns) {
        return;
    }
    sim_fed_site_result *r = &run->result->sites[s];
    r->jobs_done++;
    uint32_t where = s;
    if (job->pool != 0) {
        r->jobs_burst++;
        where = site->pools[job->pool].lender;
    }
    if (run->config->job_done != NULL) {
        sim_fed_job_done done = {.site = s,
                                 .number = job->number,
                                 .submit_ns = job->submit_ns,
                                 .start_ns = job->start_ns,
                                 .end_ns = now_of(run),
                                 .vcpu = job->procs,
                                 .where = where};
        run->config->job_done(run->config->output_context, &done);
    }
}

/* Submits every job of site s due by now, and schedules the next. */
static void submit_due(fed_run *run, uint32_t s)
{
    fed_site *site = &run->sites[s];
    uint64_t now = now_of(run);
    while (site->next_submit < site->job_count && site->jobs[site->next_submit].submit_ns <= now) {
        uint32_t key = site->next_submit++;
        fed_job *job = &site->jobs[key];
        if (job->submit_ns > run->window_end_ns) {
            site->next_submit = site->job_count;
            break;
        }
        sim_sched_job sj = {.key = key,
                            .submit_ns = job->submit_ns,
                            .request_ns = job->request_ns,
                            .procs = job->procs,
                            .class_bit = job->class_bit};
        mesh_err err = sim_sched_submit(site->sched, &sj);
        if (err != MESH_OK) {
            run->fatal = err == MESH_EFULL ? MESH_EFULL : MESH_EINTERNAL;
            return;
        }
        charge(run, s);
        job->state = JOB_QUEUED;
        site->queued_jobs++;
        site->queued_vcpu += job->procs;
        run->result->sites[s].jobs++;
        site->dirty = true;
    }
    if (site->next_submit < site->job_count) {
        sim_event next = {.time_ns = site->jobs[site->next_submit].submit_ns,
                          .kind = FED_EVENT_SUBMIT,
                          .node_index = s};
        push(run, &next);
    }
}

/* ---------------------------------------------------------------- */
/* Pools: what leases become.                                        */
/* ---------------------------------------------------------------- */

static uint32_t pool_find(const fed_site *site, const uint8_t lease_id[LEDGER_LEASE_ID_SIZE])
{
    for (uint32_t p = 1; p <= FED_POOLS_MAX; p++) {
        if (site->pools[p].used &&
            memcmp(site->pools[p].lease_id, lease_id, LEDGER_LEASE_ID_SIZE) == 0) {
            return p;
        }
    }
    return 0;
}

static void pool_push_sched(fed_run *run, uint32_t s, uint32_t p)
{
    fed_site *site = &run->sites[s];
    const fed_pool *pool = &site->pools[p];
    sim_sched_pool sp = {
        .capacity = pool->vcpu,
        .until_ns = pool->until_ns,
        .start_delay_ns =
            (uint64_t) run->config->rtt_us[(size_t) s * run->config->site_count + pool->lender] *
            MESH_NS_PER_US,
        .class_mask = run->sites[pool->lender].class_mask};
    mesh_err err = sim_sched_pool_set(site->sched, p, &sp);
    MESH_ASSERT(err == MESH_OK);
}

static void pool_remove(fed_run *run, uint32_t s, uint32_t p)
{
    fed_site *site = &run->sites[s];
    fed_pool *pool = &site->pools[p];
    MESH_ASSERT(pool->used);
    charge(run, s);
    uint32_t count = 0;
    mesh_err err = sim_sched_pool_remove(site->sched, p, run->keys, run->keys_max, &count);
    MESH_ASSERT(err == MESH_OK);
    jobs_requeued(run, s, count);
    MESH_ASSERT(pool->busy == 0);
    site->borrowed -= pool->vcpu;
    pool->used = false;
    pool->generation++;
    site->dirty = true;
}

static void pool_expire_at(fed_run *run, uint32_t s, uint32_t p)
{
    const fed_pool *pool = &run->sites[s].pools[p];
    uint64_t at = pool->until_ns > now_of(run) ? pool->until_ns : now_of(run);
    sim_event expire = {.time_ns = at,
                        .kind = FED_EVENT_EXPIRE,
                        .node_index = s,
                        .from_index = p,
                        .generation = pool->generation};
    push(run, &expire);
}

/* The borrower's realtime end of a lease, in virtual time. */
static uint64_t virtual_of(const fed_run *run, uint32_t s, int64_t realtime_ns)
{
    int64_t v = realtime_ns - SIM_LEASE_EPOCH_NS - run->world->nodes[s].skew_ns;
    return v > 0 ? (uint64_t) v : 0;
}

static void apply_note(fed_run *run, uint32_t s, const fed_note *note)
{
    fed_site *site = &run->sites[s];
    uint32_t p = pool_find(site, note->lease_id);
    switch (note->kind) {
    case NOTE_GRANTED: {
        if (p != 0 || note->lender == UINT32_MAX) {
            return;
        }
        for (p = 1; p <= FED_POOLS_MAX && site->pools[p].used; p++) {
        }
        if (p > FED_POOLS_MAX) {
            run->result->leases_unused++; // no room: the site runs nothing on it
            return;
        }
        charge(run, s);
        fed_pool *pool = &site->pools[p];
        uint64_t generation = pool->generation;
        memset(pool, 0, sizeof(*pool));
        pool->generation = generation + 1u;
        pool->used = true;
        memcpy(pool->lease_id, note->lease_id, LEDGER_LEASE_ID_SIZE);
        pool->lender = note->lender;
        pool->vcpu = note->vcpu;
        pool->until_ns = virtual_of(run, s, note->end_ns);
        site->borrowed += pool->vcpu;
        pool_push_sched(run, s, p);
        pool_expire_at(run, s, p);
        return;
    }
    case NOTE_RECLAIM: {
        if (p == 0) {
            return;
        }
        fed_pool *pool = &site->pools[p];
        uint64_t until = virtual_of(run, s, note->end_ns);
        if (until < pool->until_ns) {
            pool->until_ns = until;
            pool->generation++;
            pool_push_sched(run, s, p);
            pool_expire_at(run, s, p);
        }
        return;
    }
    case NOTE_ENDED:
        if (p != 0) {
            pool_remove(run, s, p);
        }
        return;
    default:
        MESH_ASSERT(false && "unknown note");
    }
}

/* ---------------------------------------------------------------- */
/* A site's step.                                                    */
/* ---------------------------------------------------------------- */

static void step_site(fed_run *run, uint32_t s)
{
    fed_site *site = &run->sites[s];
    site->dirty = false;
    for (uint32_t i = 0; i < site->note_count; i++) {
        apply_note(run, s, &site->notes[i]);
    }
    site->note_count = 0;

    // Home: what is not lent. A member that is down still has its leases
    // (they run at the lender): keep the last figure.
    if (run->world != NULL) {
        const sim_lease_node *node = &run->world->nodes[s];
        if (node->member != NULL) {
            lease_capacity capacity;
            lease_capacity_at(member_lease(node->member), 0, &capacity);
            if (capacity.lent != site->lent) {
                charge(run, s);
                site->lent = capacity.lent;
            }
        }
    }
    uint64_t home = site->spec->vcpu > site->lent ? site->spec->vcpu - site->lent : 0;
    sim_sched_pool local = {
        .capacity = home, .until_ns = UINT64_MAX, .start_delay_ns = 0, .class_mask = UINT32_MAX};
    mesh_err err = sim_sched_pool_set(site->sched, 0, &local);
    MESH_ASSERT(err == MESH_OK);

    for (;;) {
        uint32_t count = sim_sched_step(site->sched, now_of(run), run->starts, FED_STARTS_BATCH);
        if (count > 0) {
            charge(run, s);
        }
        for (uint32_t i = 0; i < count; i++) {
            job_started(run, s, &run->starts[i]);
        }
        if (!sim_sched_step_more(site->sched)) {
            break;
        }
    }

    // Once the window has closed, the drain has told every member its load
    // is zero, so that every lease can end: no more reports.
    if (run->world == NULL || !run->config->sites[s].burst || !run->window_open) {
        return;
    }
    uint64_t running = site->busy_home + site->busy_remote;
    if (site->reported && site->reported_queued == site->queued_vcpu &&
        site->reported_running == running) {
        return;
    }
    site->reported = true;
    site->reported_queued = site->queued_vcpu;
    site->reported_running = running;
    sim_lease_set_load(run->world, s, site->queued_vcpu, running);
}

/* Burst borrows started since the last look (by the load just reported or
 * by the member's own retry timer): the latency clock starts. */
static void watch_borrows(fed_run *run, uint32_t s)
{
    fed_site *site = &run->sites[s];
    const sim_lease_node *node = &run->world->nodes[s];
    if (node->member == NULL) {
        site->burst_borrows_seen = 0; // a new life counts from zero
        return;
    }
    member_stats stats;
    member_stats_get(node->member, &stats);
    if (stats.burst_borrows != site->burst_borrows_seen) {
        site->burst_borrows_seen = stats.burst_borrows;
        site->borrow_asked_ns = now_of(run);
        run->result->burst_borrows++;
    }
}

static void note_lease_latency(fed_run *run, uint64_t ns)
{
    if (run->lease_ns_count == run->lease_ns_capacity) {
        uint32_t capacity = run->lease_ns_capacity == 0 ? 1024u : run->lease_ns_capacity * 2u;
        uint64_t *grown = realloc(run->lease_ns, capacity * sizeof(uint64_t));
        if (grown == NULL) {
            run->fatal = MESH_ENOMEM;
            return;
        }
        run->lease_ns = grown;
        run->lease_ns_capacity = capacity;
    }
    run->lease_ns[run->lease_ns_count++] = ns;
}

/* ---------------------------------------------------------------- */
/* Faults and samples.                                               */
/* ---------------------------------------------------------------- */

static void fault(fed_run *run, uint32_t f, bool start)
{
    const sim_fed_fault *fault_spec = &run->config->faults[f];
    if (run->world == NULL) {
        return; // without the mesh there is nothing to crash or cut
    }
    if (fault_spec->kind == SIM_FED_FAULT_CRASH) {
        if (start) {
            sim_lease_crash(run->world, fault_spec->site);
        } else {
            sim_lease_restart(run->world, fault_spec->site);
            run->sites[fault_spec->site].reported = false; // tell the new life
            run->sites[fault_spec->site].dirty = true;
        }
        return;
    }
    if (start) {
        uint8_t group[SIM_FED_SITES_MAX];
        for (uint32_t i = 0; i < run->config->site_count; i++) {
            group[i] = (uint8_t) ((fault_spec->group_mask >> i) & 1u);
        }
        sim_net_partition(&run->world->net, group);
    } else {
        sim_net_heal(&run->world->net);
    }
}

static void sample(fed_run *run)
{
    uint64_t now = now_of(run);
    for (uint32_t s = 0; s < run->config->site_count; s++) {
        fed_site *site = &run->sites[s];
        charge(run, s);
        if (run->config->sample != NULL) {
            sim_fed_sample row = {.time_ns = now,
                                  .site = s,
                                  .vcpu_total = site->spec->vcpu,
                                  .vcpu_busy = site->busy_home,
                                  .vcpu_busy_remote = site->busy_remote,
                                  .vcpu_lent = site->lent,
                                  .vcpu_borrowed = site->borrowed,
                                  .queue_jobs = site->queued_jobs,
                                  .queue_vcpu = site->queued_vcpu,
                                  .wait_ns_mean = site->sample_started == 0
                                                      ? 0
                                                      : site->sample_wait_ns / site->sample_started,
                                  .carbon_gco2_per_kwh = carbon_at(site->spec, now)};
            run->config->sample(run->config->output_context, &row);
        }
        site->sample_started = 0;
        site->sample_wait_ns = 0;
    }
    if (now + run->config->sample_ns <= run->window_end_ns) {
        sim_event next = {.time_ns = now + run->config->sample_ns, .kind = FED_EVENT_SAMPLE};
        push(run, &next);
    }
}

/* ---------------------------------------------------------------- */
/* The plugin.                                                       */
/* ---------------------------------------------------------------- */

static void on_node_facts(void *context, uint32_t index, sim_lease_node *node, uint64_t *price)
{
    fed_run *run = context;
    const sim_fed_site *site = &run->config->sites[index % run->config->site_count];
    wire_cert *cert = &node->cert;
    memcpy(cert->country, site->country, 3);
    cert->jurisdiction_count = 0;
    sim_cert_add_jurisdiction(cert, site->country);
    sim_cert_add_jurisdiction(cert, "EU");
    node->carbon_gco2_per_kwh =
        site->carbon.count > 0 ? site->carbon.value[0] : site->carbon_gco2_per_kwh;
    if (node->hostile) {
        return; // its lies about capacity stay
    }
    (void) snprintf(cert->name, sizeof(cert->name), "%s", site->name);
    cert->certifications = site->certifications;
    node->true_vcpu = site->vcpu;
    node->total_vcpu = site->vcpu;
    node->lendable_vcpu = run->config->mesh ? site->lendable_vcpu : 0;
    node->per_peer_max = site->per_peer_max_vcpu;
    node->keep_vcpu = site->keep_vcpu;
    node->base_load = 0;
    *price = site->price_microeur_per_vcpu_hour;
}

static void on_node_config(void *context, uint32_t index, sim_lease_node *node)
{
    fed_run *run = context;
    const sim_fed_config *config = run->config;
    member_config *mc = &node->config;
    if (config->probe_interval_ns != 0) {
        mc->gossip.probe_interval_ns = config->probe_interval_ns;
    }
    if (node->hostile) {
        return;
    }
    member_burst_config *burst = &mc->burst;
    burst->enabled = config->mesh && config->sites[index].burst;
    burst->threshold = config->burst_threshold_vcpu;
    burst->lease_duration_ns = config->burst_lease_ns;
    burst->release_delay_ns = config->burst_release_delay_ns;
    burst->constraints = config->constraints;
}

static mesh_err on_start(void *context, sim_lease_world *world)
{
    fed_run *run = context;
    run->world = world;
    for (uint32_t s = 0; s < run->config->site_count; s++) {
        if (run->sites[s].job_count > 0) {
            sim_event submit = {.time_ns = run->sites[s].jobs[0].submit_ns,
                                .kind = FED_EVENT_SUBMIT,
                                .node_index = s};
            push(run, &submit);
        }
    }
    for (uint32_t f = 0; f < run->config->fault_count; f++) {
        sim_event start = {.time_ns = run->config->faults[f].at_ns,
                           .kind = FED_EVENT_FAULT,
                           .from_index = f,
                           .generation = 0};
        sim_event end = {.time_ns = run->config->faults[f].until_ns,
                         .kind = FED_EVENT_FAULT,
                         .from_index = f,
                         .generation = 1};
        push(run, &start);
        push(run, &end);
    }
    sim_event first = {.time_ns = run->window_start_ns, .kind = FED_EVENT_SAMPLE};
    sim_event window = {.time_ns = run->window_end_ns, .kind = FED_EVENT_WINDOW};
    push(run, &first);
    push(run, &window);
    return run->fatal;
}

static void on_fed_event(void *context, sim_lease_world *world, sim_event *event)
{
    fed_run *run = context;
    (void) world;
    uint32_t s = event->node_index;
    switch (event->kind) {
    case FED_EVENT_SUBMIT:
        submit_due(run, s);
        break;
    case FED_EVENT_END:
        job_ended(run, s, event->from_index, event->generation);
        break;
    case FED_EVENT_EXPIRE: {
        fed_pool *pool = &run->sites[s].pools[event->from_index];
        if (pool->used && pool->generation == event->generation) {
            pool_remove(run, s, event->from_index);
        }
        break;
    }
    case FED_EVENT_SAMPLE:
        sample(run);
        break;
    case FED_EVENT_FAULT:
        fault(run, event->from_index, event->generation == 0);
        break;
    case FED_EVENT_WINDOW:
        for (uint32_t i = 0; i < run->config->site_count; i++) {
            charge(run, i);
        }
        run->window_open = false;
        break;
    default:
        MESH_ASSERT(false && "unknown federation event");
    }
}

static void
on_member_event(void *context, sim_lease_world *world, uint32_t index, const lease_event *event)
{
    fed_run *run = context;
    fed_site *site = &run->sites[index];
    site->dirty = true; // capacity moved, or may have
    if (event->kind == LEASE_EVENT_BORROW_DONE && (event->tag >> 63) != 0) {
        if (event->status == LEASE_BORROW_GRANTED && site->borrow_asked_ns != 0) {
            note_lease_latency(run, world->now_ns - site->borrow_asked_ns);
        }
        site->borrow_asked_ns = 0;
        return;
    }
    if (event->self_is_lender) {
        if (event->kind == LEASE_EVENT_GRANTED && world->now_ns <= run->window_end_ns) {
            run->result->leases_granted++;
        }
        return;
    }
    uint32_t kind = 0;
    switch (event->kind) {
    case LEASE_EVENT_GRANTED:
        kind = NOTE_GRANTED;
        break;
    case LEASE_EVENT_RECLAIM_NOTICE:
        kind = NOTE_RECLAIM;
        break;
    case LEASE_EVENT_ENDED:
        kind = NOTE_ENDED;
        break;
    default:
        return;
    }
    if (site->note_count == FED_NOTES_MAX) {
        run->fatal = MESH_EFULL;
        return;
    }
    fed_note *note = &site->notes[site->note_count++];
    memset(note, 0, sizeof(*note));
    note->kind = kind;
    note->lender = site_of_peer(run, &event->peer);
    memcpy(note->lease_id, event->lease_id, LEDGER_LEASE_ID_SIZE);
    note->end_ns = event->end_ns;
    for (uint32_t i = 0; i < event->amount_count; i++) {
        if (event->amounts[i].resource_class == run->config->resource_class &&
            strcmp(event->amounts[i].model, run->config->model) == 0) {
            note->vcpu += event->amounts[i].amount_milli / 1000u;
        }
    }
}

static void on_after_event(void *context, sim_lease_world *world, uint32_t member)
{
    fed_run *run = context;
    (void) world;
    // A burst borrow starts in a member's input (its timer) or in a load
    // report (the step): look at those members only.
    for (uint32_t s = 0; s < run->config->site_count; s++) {
        if (run->sites[s].dirty) {
            step_site(run, s);
            if (run->world != NULL) {
                watch_borrows(run, s);
            }
        }
    }
    if (run->world != NULL && member < run->config->site_count) {
        watch_borrows(run, member);
    }
    if (run->fatal != MESH_OK && run->world != NULL && run->world->fatal == MESH_OK) {
        run->world->fatal = run->fatal;
    }
}

static void on_drain(void *context, sim_lease_world *world)
{
    fed_run *run = context;
    run->window_open = false;
    // No more jobs: the sites give back what they borrowed; jobs still
    // running on leases are preempted as the leases end (not counted: the
    // window is closed).
    for (uint32_t s = 0; s < run->config->site_count; s++) {
        run->sites[s].next_submit = run->sites[s].job_count;
        if (run->config->sites[s].burst) {
            run->sites[s].reported = true;
            run->sites[s].reported_queued = 0;
            run->sites[s].reported_running = 0;
            sim_lease_set_load(world, s, 0, 0);
        }
    }
}

/* ---------------------------------------------------------------- */
/* Setup, the run alone, results.                                    */
/* ---------------------------------------------------------------- */

static uint64_t scaled(uint32_t procs, uint32_t scale_milli)
{
    uint64_t value = ((uint64_t) procs * scale_milli + 999u) / 1000u;
    return value == 0 ? 1 : value;
}

/* The site's jobs: cut, scaled, shifted into virtual time, classes drawn. */
static mesh_err site_setup(fed_run *run, uint32_t s, mesh_rng *rng)
{
    const sim_fed_config *config = run->config;
    const sim_fed_site *spec = &config->sites[s];
    fed_site *site = &run->sites[s];
    site->spec = spec;
    for (uint32_t c = 0; c < config->class_count; c++) {
        if (class_served(&config->classes[c], spec)) {
            site->class_mask |= 1u << c;
        }
    }
    site->jobs = calloc(spec->job_count == 0 ? 1u : spec->job_count, sizeof(fed_job));
    if (site->jobs == NULL) {
        return MESH_ENOMEM;
    }
    uint64_t window_ns = config->duration_ns;
    for (uint32_t i = 0; i < spec->job_count; i++) {
        const sim_job *in = &spec->jobs[i];
        uint64_t draw = mesh_rng_below(rng, SIM_PPM); // drawn for every job: stable streams
        if (in->submit_ns < spec->trace_offset_ns) {
            continue;
        }
        uint64_t at = in->submit_ns - spec->trace_offset_ns;
        if (at >= window_ns) {
            break;
        }
        uint32_t size = config->resource_class == WIRE_RESOURCE_GPU ? in->gpus : in->procs;
        if (size == 0) {
            run->result->sites[s].jobs_skipped++; // none of the run's resource
            continue;
        }
        uint64_t procs = scaled(size, spec->trace_scale_milli);
        if (procs > spec->vcpu) {
            run->result->sites[s].jobs_skipped++;
            continue;
        }
        fed_job *job = &site->jobs[site->job_count++];
        job->submit_ns = run->window_start_ns + at;
        job->run_ns = in->run_ns;
        job->request_ns = in->request_ns > in->run_ns ? in->request_ns : in->run_ns;
        job->procs = (uint32_t) procs;
        job->number = in->number;
        uint64_t acc = 0;
        for (uint32_t c = 0; c < config->class_count; c++) {
            acc += spec->class_ppm[c];
            if (draw < acc) {
                job->class_bit = 1u << c;
                break;
            }
        }
    }
    uint32_t pools = config->mesh ? FED_POOLS_MAX + 1u : 1u;
    return sim_sched_create(site->job_count == 0 ? 1u : site->job_count, pools,
                            config->backfill_depth, &site->sched);
}

static mesh_err run_alone(fed_run *run)
{
    sim_heap_init(&run->heap, run->config->events_max);
    mesh_err err = on_start(run, NULL);
    run->world = NULL; // on_start keeps what it is given
    uint64_t limit = run->window_end_ns;
    while (err == MESH_OK && run->fatal == MESH_OK) {
        const sim_event *next = sim_heap_peek(&run->heap);
        if (next == NULL || next->time_ns > limit) {
            break;
        }
        sim_event event;
        MESH_ASSERT(sim_heap_pop(&run->heap, &event));
        run->now_ns = event.time_ns;
        run->result->events++;
        on_fed_event(run, NULL, &event);
        free(event.payload);
        on_after_event(run, NULL, UINT32_MAX);
    }
    run->now_ns = limit;
    sim_heap_fini(&run->heap);
    return err != MESH_OK ? err : run->fatal;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a;
    uint64_t y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

/* The q-th quantile (per mille) of sorted values: nearest rank. */
static uint64_t quantile(const uint64_t *sorted, uint32_t count, uint32_t permille)
{
    if (count == 0) {
        return 0;
    }
    uint64_t rank = ((uint64_t) count * permille + 999u) / 1000u;
    return sorted[rank == 0 ? 0 : rank - 1u];
}

/* Waits and slowdowns of every job submitted in the window. */
static mesh_err collect(fed_run *run)
{
    const sim_fed_config *config = run->config;
    sim_fed_result *r = run->result;
    uint64_t total = 0;
    for (uint32_t s = 0; s < config->site_count; s++) {
        total += r->sites[s].jobs;
    }
    uint64_t *waits = malloc((total == 0 ? 1u : total) * sizeof(uint64_t));
    uint64_t *slowdowns = malloc((total == 0 ? 1u : total) * sizeof(uint64_t));
    uint64_t *site_waits = malloc((total == 0 ? 1u : total) * sizeof(uint64_t));
    if (waits == NULL || slowdowns == NULL || site_waits == NULL) {
        free(waits);
        free(slowdowns);
        free(site_waits);
        return MESH_ENOMEM;
    }
    uint32_t count = 0;
    for (uint32_t s = 0; s < config->site_count; s++) {
        const fed_site *site = &run->sites[s];
        uint32_t site_count = 0;
        for (uint32_t i = 0; i < site->job_count; i++) {
            const fed_job *job = &site->jobs[i];
            if (job->state == JOB_PENDING) {
                continue;
            }
            uint64_t wait = 0;
            if (job->state == JOB_QUEUED) {
                wait = run->window_end_ns - job->submit_ns; // censored
                r->jobs_unfinished++;
            } else {
                wait = job->start_ns - job->submit_ns;
                r->jobs_unfinished += job->state == JOB_RUNNING ? 1u : 0u;
            }
            uint64_t run_ns = job->run_ns > FED_SLOWDOWN_MIN_NS ? job->run_ns : FED_SLOWDOWN_MIN_NS;
            uint64_t slowdown = (wait + job->run_ns) * 1000u / run_ns;
            waits[count] = wait;
            slowdowns[count] = slowdown < 1000u ? 1000u : slowdown;
            site_waits[site_count++] = wait;
            count++;
        }
        qsort(site_waits, site_count, sizeof(uint64_t), compare_u64);
        r->sites[s].wait_ns_p95 = quantile(site_waits, site_count, 950);
        r->jobs_total += r->sites[s].jobs;
        r->jobs_done += r->sites[s].jobs_done;
        r->jobs_burst += r->sites[s].jobs_burst;
        r->jobs_preempted += r->sites[s].preempted;
        r->jobs_skipped += r->sites[s].jobs_skipped;
    }
    r->jobs_local = r->jobs_done - r->jobs_burst;
    qsort(waits, count, sizeof(uint64_t), compare_u64);
    qsort(slowdowns, count, sizeof(uint64_t), compare_u64);
    r->wait_ns_p50 = quantile(waits, count, 500);
    r->wait_ns_p95 = quantile(waits, count, 950);
    r->wait_ns_p99 = quantile(waits, count, 990);
    r->slowdown_p95_milli = quantile(slowdowns, count, 950);
    free(waits);
    free(slowdowns);
    free(site_waits);
    if (run->lease_ns_count > 0) {
        qsort(run->lease_ns, run->lease_ns_count, sizeof(uint64_t), compare_u64);
        r->lease_ns_p50 = quantile(run->lease_ns, run->lease_ns_count, 500);
    }
    return MESH_OK;
}

static void finish_digest(fed_run *run)
{
    sim_fed_result *r = run->result;
    if (run->config->mesh) {
        MESH_ASSERT(crypto_generichash_update(&run->digest, r->lease.digest, SIM_DIGEST_SIZE) == 0);
    }
    const uint64_t figures[] = {
        r->events,      r->jobs_total,  r->jobs_done,   r->jobs_burst,         r->jobs_preempted,
        r->wait_ns_p50, r->wait_ns_p95, r->wait_ns_p99, r->slowdown_p95_milli, r->lease_ns_p50};
    for (uint32_t i = 0; i < MESH_ARRAY_COUNT(figures); i++) {
        digest_u64(run, figures[i]);
    }
    MESH_ASSERT(crypto_generichash_final(&run->digest, r->digest, SIM_DIGEST_SIZE) == 0);
}

mesh_err sim_fed_run(const sim_fed_config *config, sim_fed_result *result_out)
{
    MESH_ASSERT(config != NULL && result_out != NULL);
    mesh_err err = config_check(config);
    if (err != MESH_OK) {
        return err;
    }
    if (mcrypto_init() != MESH_OK) {
        return MESH_EINTERNAL;
    }
    fed_run *run = calloc(1, sizeof(*run));
    if (run == NULL) {
        return MESH_ENOMEM;
    }
    memset(result_out, 0, sizeof(*result_out));
    run->config = config;
    run->result = result_out;
    run->window_start_ns = config->join_ns;
    run->window_end_ns = config->join_ns + config->duration_ns;
    run->window_open = true;
    result_out->seed = config->seed;
    result_out->mesh = config->mesh;
    MESH_ASSERT(crypto_generichash_init(&run->digest, NULL, 0, SIM_DIGEST_SIZE) == 0);
    mesh_rng classes;
    mesh_rng_seed(&classes, config->seed ^ FED_STREAM_CLASS);
    for (uint32_t s = 0; s < config->site_count; s++) {
        uint64_t vcpu = config->sites[s].vcpu;
        run->keys_max = vcpu > run->keys_max ? (uint32_t) vcpu : run->keys_max;
    }
    run->keys = malloc((size_t) run->keys_max * sizeof(uint64_t));
    if (run->keys == NULL) {
        free(run);
        return MESH_ENOMEM;
    }
    for (uint32_t s = 0; s < config->site_count && err == MESH_OK; s++) {
        err = site_setup(run, s, &classes);
    }
    if (err == MESH_OK && !config->mesh) {
        err = run_alone(run);
        result_out->sim_ns = run->window_end_ns;
    } else if (err == MESH_OK) {
        sim_lease_config lc;
        sim_lease_config_default(&lc);
        lc.node_count = config->site_count;
        lc.hostile_count = config->hostile_count;
        lc.seed = config->seed;
        lc.loss_ppm = config->loss_ppm;
        lc.crash_count = 0;
        lc.clock_skew_ns_max = config->clock_skew_ns_max;
        lc.join_ns = config->join_ns;
        lc.workload_ns = config->duration_ns;
        lc.usage_interval_ns = config->usage_interval_ns;
        lc.duration_ns_min = config->burst_lease_ns;
        lc.duration_ns_max = config->burst_lease_ns;
        uint64_t drain_min = config->burst_lease_ns + 600ull * MESH_NS_PER_S;
        lc.drain_ns = config->drain_ns > drain_min ? config->drain_ns : drain_min;
        lc.check_ns = 60u * MESH_NS_PER_S;
        lc.events_max = config->events_max;
        lc.stop_on_violation = config->stop_on_violation;
        lc.inject_violation = config->inject_violation;
        lc.resource_class = config->resource_class;
        memcpy(lc.model, config->model, sizeof(lc.model));
        lc.progress = config->progress;
        lc.progress_context = config->progress_context;
        sim_lease_plugin plugin = {.context = run,
                                   .site_count = config->site_count,
                                   .rtt_us = config->rtt_us,
                                   .workload_ns_max = 400ull * 86400u * MESH_NS_PER_S,
                                   .node_facts = on_node_facts,
                                   .node_config = on_node_config,
                                   .start = on_start,
                                   .on_event = on_fed_event,
                                   .member_event = on_member_event,
                                   .after_event = on_after_event,
                                   .drain = on_drain};
        err = sim_lease_run_plugin(&lc, &plugin, &result_out->lease);
        if (err == MESH_OK) {
            sim_lease_result *lr = &result_out->lease;
            result_out->events = lr->events;
            result_out->sim_ns = lr->end_ns;
            result_out->invariant_violations = lr->invariant_violations;
            result_out->stopped = lr->stopped;
            result_out->stopped_at_ns = lr->stopped_at_ns;
            memcpy(result_out->stopped_event, lr->stopped_event, sizeof(lr->stopped_event));
            result_out->gossip_bytes = lr->gossip_bytes;
            result_out->lease_bytes = lr->lease_bytes;
            result_out->policy_violations += lr->policy_violations;
        }
        run->world = NULL; // freed by the lease run
    }
    if (err == MESH_OK) {
        err = collect(run);
    }
    if (err == MESH_OK) {
        finish_digest(run);
    }
    for (uint32_t s = 0; s < config->site_count; s++) {
        sim_sched_destroy(run->sites[s].sched);
        free(run->sites[s].jobs);
    }
    free(run->lease_ns);
    free(run->keys);
    free(run);
    return err;
}
