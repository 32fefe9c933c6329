/*
 * sim/sched.c: FCFS with EASY backfilling over pools (the contract and the
 * rules are in sim/sched.h).
 *
 * Layout. Every job lives in one slot of a table sized at create time; a
 * free list threads the unused slots, and an open-addressing index
 * (linear probing, backward-shift deletion, no tombstones) maps keys to
 * slots. A slot is in one of three places, and its LINKS_ORDER links serve
 * whichever it is in:
 *   - the queue, a doubly linked list in (submit_ns, key) order. Insertion
 *     walks from both ends at once and stops at whichever finds the place
 *     first: a job submitted in trace order lands at the tail in one step,
 *     and a requeued job (which started near the head) near the head;
 *   - a pool's running list, ordered by (expected end, key), which the
 *     reservation walks from the earliest end until the head would fit. A
 *     start files the job from the later end, where a new job usually goes;
 *   - the free list.
 * A running job is also on its pool's start-order list (LINKS_STARTED), whose
 * tail is the most recently started job: sim_sched_preempt takes from there.
 *
 * A step recomputes everything from the queue and the pools, so no state
 * carries from one step to the next but the continuation budget (below)
 * and what the queries report (the reservation and the stuck keys).
 *
 * Continuation. When the step fills starts_max and finds one more job to
 * start, it stops and records the backfill budget the rest of the step
 * needs: every job it examined and did not start will be examined again by
 * the next call (nothing it could use has grown, so they fail again), so
 * the budget left is the depth minus the jobs this step backfilled. Any
 * other call in between (submit, finish, a pool change) drops the
 * continuation: the next step is a fresh one.
 */
#include "sim/sched.h"

#include <stdlib.h>
#include <string.h>

#define SCHED_NIL         UINT32_MAX
#define SCHED_CLASS_SLOTS 33u /* [0]: unrestricted jobs; [1 + b]: class bit b */

enum { SLOT_FREE = 0, SLOT_QUEUED = 1, SLOT_RUNNING = 2 };

/* A slot's links in one list, and a list's ends (SCHED_NIL: none). */
typedef struct sched_links {
    uint32_t prev;
    uint32_t next;
} sched_links;

typedef struct sched_list {
    uint32_t head;
    uint32_t tail;
} sched_list;

/* Which links of a slot a list uses. */
enum { LINKS_ORDER = 0, LINKS_STARTED = 1 };

typedef struct sched_slot {
    sim_sched_job job;
    uint64_t start_ns; /* running: now + the pool's start delay */
    uint64_t end_ns;   /* running: start_ns + request_ns, saturated */
    /* [LINKS_ORDER]: the queue, the pool's list by expected end, or (next
     * only) the free list; [LINKS_STARTED]: running, the pool's list by
     * start order. */
    sched_links links[2];
    uint32_t pool; /* running */
    uint8_t state; /* SLOT_* */
} sched_slot;

typedef struct sched_pool {
    sim_sched_pool config;
    uint64_t busy_procs;
    uint32_t running;
    sched_list by_end;   /* LINKS_ORDER, by (end_ns, key) */
    sched_list by_start; /* LINKS_STARTED, by start order */
    bool present;
} sched_pool;

struct sim_sched {
    uint32_t jobs_max;
    uint32_t pools_max;
    uint32_t backfill_depth;
    sched_slot *slots; /* jobs_max */
    uint32_t free_head;
    uint32_t *index; /* slot + 1 per entry, 0 empty; index_mask + 1 entries */
    uint32_t index_mask;
    uint32_t index_shift; /* 64 - log2(entries) */
    sched_pool *pools;    /* pools_max */
    uint32_t *present;    /* the present pool ids, ascending */
    uint32_t present_count;
    sched_list queue; /* LINKS_ORDER, by (submit_ns, key) */
    uint32_t queued_jobs;
    uint64_t queued_procs;
    uint64_t queued_procs_class[SCHED_CLASS_SLOTS];
    uint32_t running_jobs;
    uint64_t running_procs;
    uint64_t *stuck_keys; /* jobs_max */
    uint32_t stuck_count;
    sim_sched_reservation reservation;
    bool reservation_valid;
    bool more;
    bool continuation_valid;
    uint64_t continuation_now_ns;
    uint32_t continuation_budget;
    sim_sched_stats stats;
};

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint32_t class_slot(uint32_t class_bit)
{
    return class_bit == 0 ? 0 : 1u + (uint32_t) __builtin_ctz(class_bit);
}

/* Doubly linked lists threaded through the slots. */

static sched_links *links_of(sim_sched *s, uint32_t slot, int which)
{
    return &s->slots[slot].links[which];
}

/* Puts slot after `after` (SCHED_NIL: at the head). */
static void
list_insert_after(sim_sched *s, sched_list *list, int which, uint32_t after, uint32_t slot)
{
    sched_links *links = links_of(s, slot, which);
    links->prev = after;
    links->next = after == SCHED_NIL ? list->head : links_of(s, after, which)->next;
    if (after == SCHED_NIL) {
        list->head = slot;
    } else {
        links_of(s, after, which)->next = slot;
    }
    if (links->next == SCHED_NIL) {
        list->tail = slot;
    } else {
        links_of(s, links->next, which)->prev = slot;
    }
}

static void list_unlink(sim_sched *s, sched_list *list, int which, uint32_t slot)
{
    const sched_links *links = links_of(s, slot, which);
    if (links->prev == SCHED_NIL) {
        list->head = links->next;
    } else {
        links_of(s, links->prev, which)->next = links->next;
    }
    if (links->next == SCHED_NIL) {
        list->tail = links->prev;
    } else {
        links_of(s, links->next, which)->prev = links->prev;
    }
}

/* The index. */

static uint32_t index_home(const sim_sched *s, uint64_t key)
{
    return (uint32_t) ((key * 0x9E3779B97F4A7C15ull) >> s->index_shift);
}

static uint32_t index_find(const sim_sched *s, uint64_t key, uint32_t *at_out)
{
    uint32_t at = index_home(s, key);
    // The table is at least twice jobs_max: an empty entry ends every probe.
    for (;;) {
        uint32_t entry = s->index[at];
        if (entry == 0) {
            *at_out = at;
            return SCHED_NIL;
        }
        if (s->slots[entry - 1].job.key == key) {
            *at_out = at;
            return entry - 1;
        }
        at = (at + 1) & s->index_mask;
    }
}

static uint32_t slot_of(const sim_sched *s, uint64_t key)
{
    uint32_t at;
    return index_find(s, key, &at);
}

static void index_delete(sim_sched *s, uint64_t key)
{
    uint32_t hole;
    uint32_t slot = index_find(s, key, &hole);
    MESH_ASSERT(slot != SCHED_NIL);
    // Backward shift: pull later entries of the probe run into the hole
    // unless their home lies cyclically in (hole, at].
    uint32_t at = hole;
    for (;;) {
        at = (at + 1) & s->index_mask;
        uint32_t entry = s->index[at];
        if (entry == 0) {
            break;
        }
        uint32_t home = index_home(s, s->slots[entry - 1].job.key);
        bool stays = hole <= at ? (hole < home && home <= at) : (hole < home || home <= at);
        if (!stays) {
            s->index[hole] = entry;
            hole = at;
        }
    }
    s->index[hole] = 0;
}

/* The queue. */

static bool queue_before(const sim_sched_job *a, const sim_sched_job *b)
{
    if (a->submit_ns != b->submit_ns) {
        return a->submit_ns < b->submit_ns;
    }
    return a->key < b->key;
}

static void queue_insert(sim_sched *s, uint32_t slot)
{
    sched_slot *job = &s->slots[slot];
    uint32_t forward = s->queue.head;
    uint32_t backward = s->queue.tail;
    uint32_t after; // the slot the job goes after, SCHED_NIL: at the head
    // Keys are unique, so the order is strict; each walk ends at a list end.
    for (;;) {
        if (backward == SCHED_NIL || queue_before(&s->slots[backward].job, &job->job)) {
            after = backward;
            break;
        }
        if (forward == SCHED_NIL) {
            after = s->queue.tail;
            break;
        }
        if (queue_before(&job->job, &s->slots[forward].job)) {
            after = links_of(s, forward, LINKS_ORDER)->prev;
            break;
        }
        backward = links_of(s, backward, LINKS_ORDER)->prev;
        forward = links_of(s, forward, LINKS_ORDER)->next;
    }
    list_insert_after(s, &s->queue, LINKS_ORDER, after, slot);
    job->state = SLOT_QUEUED;
    s->queued_jobs++;
    s->queued_procs += job->job.procs;
    s->queued_procs_class[class_slot(job->job.class_bit)] += job->job.procs;
}

static void queue_unlink(sim_sched *s, uint32_t slot)
{
    sched_slot *job = &s->slots[slot];
    MESH_ASSERT(job->state == SLOT_QUEUED);
    list_unlink(s, &s->queue, LINKS_ORDER, slot);
    MESH_ASSERT(s->queued_jobs > 0 && s->queued_procs >= job->job.procs);
    s->queued_jobs--;
    s->queued_procs -= job->job.procs;
    s->queued_procs_class[class_slot(job->job.class_bit)] -= job->job.procs;
}

/* The running lists of a pool. */

static bool end_before(const sched_slot *a, const sched_slot *b)
{
    if (a->end_ns != b->end_ns) {
        return a->end_ns < b->end_ns;
    }
    return a->job.key < b->job.key;
}

static void run_link(sim_sched *s, uint32_t pool_id, uint32_t slot)
{
    sched_pool *pool = &s->pools[pool_id];
    sched_slot *job = &s->slots[slot];
    uint32_t after = pool->by_end.tail;
    while (after != SCHED_NIL && end_before(job, &s->slots[after])) {
        after = links_of(s, after, LINKS_ORDER)->prev;
    }
    list_insert_after(s, &pool->by_end, LINKS_ORDER, after, slot);
    list_insert_after(s, &pool->by_start, LINKS_STARTED, pool->by_start.tail, slot);
    job->state = SLOT_RUNNING;
    job->pool = pool_id;
    pool->running++;
    pool->busy_procs += job->job.procs;
    s->running_jobs++;
    s->running_procs += job->job.procs;
}

static void run_unlink(sim_sched *s, uint32_t slot)
{
    sched_slot *job = &s->slots[slot];
    MESH_ASSERT(job->state == SLOT_RUNNING && job->pool < s->pools_max);
    sched_pool *pool = &s->pools[job->pool];
    list_unlink(s, &pool->by_end, LINKS_ORDER, slot);
    list_unlink(s, &pool->by_start, LINKS_STARTED, slot);
    MESH_ASSERT(pool->running > 0 && pool->busy_procs >= job->job.procs);
    pool->running--;
    pool->busy_procs -= job->job.procs;
    s->running_jobs--;
    s->running_procs -= job->job.procs;
}

static void slot_release(sim_sched *s, uint32_t slot)
{
    index_delete(s, s->slots[slot].job.key);
    memset(&s->slots[slot], 0, sizeof(s->slots[slot]));
    s->slots[slot].state = SLOT_FREE;
    s->slots[slot].links[LINKS_ORDER].next = s->free_head;
    s->free_head = slot;
}

static void requeue(sim_sched *s, uint32_t slot)
{
    run_unlink(s, slot);
    s->slots[slot].start_ns = 0;
    s->slots[slot].end_ns = 0;
    queue_insert(s, slot);
    s->stats.preemptions++;
}

/* Fitting. */

static bool class_admits(const sched_pool *pool, const sim_sched_job *job)
{
    return job->class_bit == 0 || (pool->config.class_mask & job->class_bit) != 0;
}

static uint64_t pool_free(const sched_pool *pool)
{
    return pool->busy_procs >= pool->config.capacity ? 0 : pool->config.capacity - pool->busy_procs;
}

/* The expected end of job if the step at time_ns starts it on pool. */
static uint64_t end_if_started(const sched_pool *pool, const sim_sched_job *job, uint64_t time_ns)
{
    return sat_add(sat_add(time_ns, pool->config.start_delay_ns), job->request_ns);
}

static bool fits_now(const sched_pool *pool, const sim_sched_job *job, uint64_t now_ns)
{
    return class_admits(pool, job) && pool_free(pool) >= job->procs &&
           end_if_started(pool, job, now_ns) <= pool->config.until_ns;
}

/* The first pool (pool 0, then by id) the job fits in now; SCHED_NIL if none. */
static uint32_t fit_first(const sim_sched *s, const sim_sched_job *job, uint64_t now_ns)
{
    for (uint32_t i = 0; i < s->present_count; i++) {
        uint32_t id = s->present[i];
        if (fits_now(&s->pools[id], job, now_ns)) {
            return id;
        }
    }
    return SCHED_NIL;
}

/* The earliest step time at which job fits in some pool, from the running
 * jobs' expected ends; false when no pool could ever hold it. */
static bool
reserve(const sim_sched *s, const sim_sched_job *job, uint64_t now_ns, sim_sched_reservation *out)
{
    bool found = false;
    for (uint32_t i = 0; i < s->present_count; i++) {
        uint32_t id = s->present[i];
        const sched_pool *pool = &s->pools[id];
        uint64_t capacity = pool->config.capacity;
        if (!class_admits(pool, job) || capacity < job->procs) {
            continue;
        }
        // Release running jobs by expected end until the job fits; one
        // that overran its request counts as ending now. capacity >= procs,
        // so the walk ends by the time nothing runs.
        uint64_t busy = pool->busy_procs;
        uint64_t time_ns = now_ns;
        uint32_t at = pool->by_end.head;
        while (busy > capacity - job->procs) {
            MESH_ASSERT(at != SCHED_NIL);
            const sched_slot *running = &s->slots[at];
            busy -= running->job.procs;
            if (running->end_ns > time_ns) {
                time_ns = running->end_ns;
            }
            at = running->links[LINKS_ORDER].next;
        }
        // Jobs ending at the same time free their processors too.
        while (at != SCHED_NIL && s->slots[at].end_ns <= time_ns) {
            busy -= s->slots[at].job.procs;
            at = s->slots[at].links[LINKS_ORDER].next;
        }
        if (end_if_started(pool, job, time_ns) > pool->config.until_ns) {
            continue; // later is no better
        }
        if (!found || time_ns < out->time_ns) {
            out->key = job->key;
            out->time_ns = time_ns;
            out->extra_procs = capacity - busy - job->procs;
            out->pool = id;
            found = true;
        }
    }
    return found;
}

/* The first pool where job may start now without delaying the head's
 * reservation; *extra_used_out: what it takes from the extra processors. */
static uint32_t fit_backfill(const sim_sched *s,
                             const sim_sched_job *job,
                             uint64_t now_ns,
                             uint64_t extra_procs,
                             uint64_t *extra_used_out)
{
    *extra_used_out = 0;
    for (uint32_t i = 0; i < s->present_count; i++) {
        uint32_t id = s->present[i];
        const sched_pool *pool = &s->pools[id];
        if (!fits_now(pool, job, now_ns)) {
            continue;
        }
        if (id != s->reservation.pool ||
            end_if_started(pool, job, now_ns) <= s->reservation.time_ns) {
            return id;
        }
        if (job->procs <= extra_procs) {
            *extra_used_out = job->procs;
            return id;
        }
    }
    return SCHED_NIL;
}

static void
start(sim_sched *s, uint32_t slot, uint32_t pool_id, uint64_t now_ns, sim_sched_start *out)
{
    sched_slot *job = &s->slots[slot];
    const sched_pool *pool = &s->pools[pool_id];
    queue_unlink(s, slot);
    job->start_ns = sat_add(now_ns, pool->config.start_delay_ns);
    job->end_ns = sat_add(job->start_ns, job->job.request_ns);
    run_link(s, pool_id, slot);
    out->key = job->job.key;
    out->pool = pool_id;
    out->start_ns = job->start_ns;
    s->stats.started++;
}

/* Stops a step that has one more job to start. */
static uint32_t step_stop(sim_sched *s, uint64_t now_ns, uint32_t budget, uint32_t count)
{
    s->more = true;
    s->continuation_valid = true;
    s->continuation_now_ns = now_ns;
    s->continuation_budget = budget;
    s->stats.steps_truncated++;
    return count;
}

/* The API. */

mesh_err
sim_sched_create(uint32_t jobs_max, uint32_t pools_max, uint32_t backfill_depth, sim_sched **out)
{
    if (out == NULL || jobs_max == 0 || jobs_max > SIM_SCHED_JOBS_MAX || pools_max == 0 ||
        pools_max > SIM_SCHED_POOLS_MAX) {
        return MESH_EINVAL;
    }
    *out = NULL;
    uint32_t bits = 1;
    while ((1ull << bits) < 2ull * jobs_max) {
        bits++;
    }
    sim_sched *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return MESH_ENOMEM;
    }
    s->slots = calloc(jobs_max, sizeof(*s->slots));
    s->index = calloc((size_t) 1 << bits, sizeof(*s->index));
    s->pools = calloc(pools_max, sizeof(*s->pools));
    s->present = calloc(pools_max, sizeof(*s->present));
    s->stuck_keys = calloc(jobs_max, sizeof(*s->stuck_keys));
    if (s->slots == NULL || s->index == NULL || s->pools == NULL || s->present == NULL ||
        s->stuck_keys == NULL) {
        sim_sched_destroy(s);
        return MESH_ENOMEM;
    }
    s->jobs_max = jobs_max;
    s->pools_max = pools_max;
    s->backfill_depth = backfill_depth;
    s->index_mask = (uint32_t) ((1ull << bits) - 1);
    s->index_shift = 64u - bits;
    for (uint32_t i = 0; i < jobs_max; i++) {
        s->slots[i].links[LINKS_ORDER].next = i + 1 < jobs_max ? i + 1 : SCHED_NIL;
    }
    s->free_head = 0;
    s->queue = (sched_list){SCHED_NIL, SCHED_NIL};
    *out = s;
    return MESH_OK;
}

void sim_sched_destroy(sim_sched *s)
{
    if (s == NULL) {
        return;
    }
    free(s->slots);
    free(s->index);
    free(s->pools);
    free(s->present);
    free(s->stuck_keys);
    free(s);
}

mesh_err sim_sched_pool_set(sim_sched *s, uint32_t pool_id, const sim_sched_pool *pool)
{
    MESH_ASSERT(s != NULL);
    if (pool_id >= s->pools_max || pool == NULL) {
        s->stats.refused++;
        return MESH_EINVAL;
    }
    sched_pool *entry = &s->pools[pool_id];
    if (!entry->present) {
        uint32_t at = s->present_count;
        while (at > 0 && s->present[at - 1] > pool_id) {
            s->present[at] = s->present[at - 1];
            at--;
        }
        s->present[at] = pool_id;
        s->present_count++;
        memset(entry, 0, sizeof(*entry));
        entry->by_end = (sched_list){SCHED_NIL, SCHED_NIL};
        entry->by_start = (sched_list){SCHED_NIL, SCHED_NIL};
        entry->present = true;
    }
    entry->config = *pool;
    s->continuation_valid = false;
    return MESH_OK;
}

/* Validates the arguments shared by pool_remove and preempt. */
static mesh_err pool_requeue_check(sim_sched *s,
                                   uint32_t pool_id,
                                   const uint64_t *keys_out,
                                   uint32_t keys_max,
                                   const uint32_t *count_out)
{
    if (pool_id >= s->pools_max || count_out == NULL || (keys_out == NULL && keys_max > 0)) {
        return MESH_EINVAL;
    }
    if (!s->pools[pool_id].present) {
        return MESH_ENOTFOUND;
    }
    return MESH_OK;
}

mesh_err sim_sched_pool_remove(
    sim_sched *s, uint32_t pool_id, uint64_t *keys_out, uint32_t keys_max, uint32_t *count_out)
{
    MESH_ASSERT(s != NULL);
    mesh_err err = pool_requeue_check(s, pool_id, keys_out, keys_max, count_out);
    if (err != MESH_OK) {
        s->stats.refused++;
        return err;
    }
    sched_pool *pool = &s->pools[pool_id];
    *count_out = pool->running;
    if (pool->running > keys_max) {
        s->stats.refused++;
        return MESH_EFULL;
    }
    uint32_t count = 0;
    while (pool->by_end.head != SCHED_NIL) {
        uint32_t slot = pool->by_end.head;
        keys_out[count] = s->slots[slot].job.key;
        count++;
        requeue(s, slot);
    }
    MESH_ASSERT(count == *count_out && pool->busy_procs == 0);
    uint32_t at = 0;
    while (s->present[at] != pool_id) {
        at++;
    }
    memmove(&s->present[at], &s->present[at + 1],
            (size_t) (s->present_count - at - 1) * sizeof(*s->present));
    s->present_count--;
    pool->present = false;
    s->continuation_valid = false;
    return MESH_OK;
}

mesh_err sim_sched_preempt(sim_sched *s,
                           uint32_t pool_id,
                           uint64_t procs_needed,
                           uint64_t *keys_out,
                           uint32_t keys_max,
                           uint32_t *count_out)
{
    MESH_ASSERT(s != NULL);
    mesh_err err = pool_requeue_check(s, pool_id, keys_out, keys_max, count_out);
    if (err != MESH_OK) {
        s->stats.refused++;
        return err;
    }
    sched_pool *pool = &s->pools[pool_id];
    // Count first, so that a short keys_out changes nothing.
    uint64_t busy = pool->busy_procs;
    uint32_t count = 0;
    for (uint32_t at = pool->by_start.tail;
         at != SCHED_NIL && sat_add(busy, procs_needed) > pool->config.capacity;
         at = links_of(s, at, LINKS_STARTED)->prev) {
        busy -= s->slots[at].job.procs;
        count++;
    }
    *count_out = count;
    if (count > keys_max) {
        s->stats.refused++;
        return MESH_EFULL;
    }
    for (uint32_t i = 0; i < count; i++) {
        uint32_t slot = pool->by_start.tail;
        keys_out[i] = s->slots[slot].job.key;
        requeue(s, slot);
    }
    s->continuation_valid = false;
    return MESH_OK;
}

mesh_err sim_sched_submit(sim_sched *s, const sim_sched_job *job)
{
    MESH_ASSERT(s != NULL);
    if (job == NULL || job->procs == 0 || (job->class_bit & (job->class_bit - 1)) != 0) {
        s->stats.refused++;
        return MESH_EINVAL;
    }
    uint32_t at;
    if (index_find(s, job->key, &at) != SCHED_NIL) {
        s->stats.refused++;
        return MESH_EEXIST;
    }
    if (s->free_head == SCHED_NIL) {
        s->stats.refused++;
        return MESH_EFULL;
    }
    uint32_t slot = s->free_head;
    s->free_head = s->slots[slot].links[LINKS_ORDER].next;
    memset(&s->slots[slot], 0, sizeof(s->slots[slot]));
    s->slots[slot].job = *job;
    s->index[at] = slot + 1;
    queue_insert(s, slot);
    s->stats.submitted++;
    s->continuation_valid = false;
    return MESH_OK;
}

/* The slot of the job key, which must be in state wanted (else
 * MESH_EINVAL); counts a refusal. */
static mesh_err slot_in_state(sim_sched *s, uint64_t key, uint8_t wanted, uint32_t *slot_out)
{
    *slot_out = slot_of(s, key);
    mesh_err err = MESH_OK;
    if (*slot_out == SCHED_NIL) {
        err = MESH_ENOTFOUND;
    } else if (s->slots[*slot_out].state != wanted) {
        err = MESH_EINVAL;
    }
    if (err != MESH_OK) {
        s->stats.refused++;
    }
    return err;
}

mesh_err sim_sched_finish(sim_sched *s, uint64_t key, uint64_t now_ns)
{
    MESH_ASSERT(s != NULL);
    (void) now_ns; // the model needs no end time; the contract keeps it for callers
    uint32_t slot;
    mesh_err err = slot_in_state(s, key, SLOT_RUNNING, &slot);
    if (err != MESH_OK) {
        return err;
    }
    run_unlink(s, slot);
    slot_release(s, slot);
    s->stats.finished++;
    s->continuation_valid = false;
    return MESH_OK;
}

mesh_err sim_sched_cancel(sim_sched *s, uint64_t key)
{
    MESH_ASSERT(s != NULL);
    uint32_t slot;
    mesh_err err = slot_in_state(s, key, SLOT_QUEUED, &slot);
    if (err != MESH_OK) {
        return err;
    }
    queue_unlink(s, slot);
    slot_release(s, slot);
    s->stats.cancelled++;
    s->continuation_valid = false;
    return MESH_OK;
}

uint32_t sim_sched_step(sim_sched *s, uint64_t now_ns, sim_sched_start *starts, uint32_t starts_max)
{
    MESH_ASSERT(s != NULL);
    MESH_ASSERT(starts != NULL || starts_max == 0);
    s->stats.steps++;
    uint32_t budget = s->continuation_valid && s->continuation_now_ns == now_ns
                          ? s->continuation_budget
                          : s->backfill_depth;
    s->continuation_valid = false;
    s->more = false;
    s->reservation_valid = false;
    s->stuck_count = 0;
    uint32_t count = 0;

    // From the head: start what fits; pass over what no pool could ever
    // hold; the first job left is the head and gets the reservation.
    uint32_t head = s->queue.head;
    while (head != SCHED_NIL) {
        uint32_t next = links_of(s, head, LINKS_ORDER)->next;
        const sim_sched_job *job = &s->slots[head].job;
        uint32_t pool_id = fit_first(s, job, now_ns);
        if (pool_id != SCHED_NIL) {
            if (count == starts_max) {
                return step_stop(s, now_ns, budget, count);
            }
            start(s, head, pool_id, now_ns, &starts[count]);
            count++;
        } else if (reserve(s, job, now_ns, &s->reservation)) {
            s->reservation_valid = true;
            break;
        } else {
            MESH_ASSERT(s->stuck_count < s->jobs_max);
            s->stuck_keys[s->stuck_count] = job->key;
            s->stuck_count++;
        }
        head = next;
    }
    if (head == SCHED_NIL) {
        return count;
    }

    // Backfill: up to budget jobs behind the head.
    uint64_t extra_procs = s->reservation.extra_procs;
    uint32_t backfilled = 0;
    uint32_t examined = 0;
    for (uint32_t at = links_of(s, head, LINKS_ORDER)->next;
         at != SCHED_NIL && examined < budget;) {
        uint32_t next = links_of(s, at, LINKS_ORDER)->next;
        examined++;
        uint64_t extra_used;
        uint32_t pool_id = fit_backfill(s, &s->slots[at].job, now_ns, extra_procs, &extra_used);
        if (pool_id != SCHED_NIL) {
            if (count == starts_max) {
                return step_stop(s, now_ns, budget - backfilled, count);
            }
            extra_procs -= extra_used;
            start(s, at, pool_id, now_ns, &starts[count]);
            count++;
            backfilled++;
            s->stats.backfilled++;
        }
        at = next;
    }
    return count;
}

bool sim_sched_step_more(const sim_sched *s)
{
    MESH_ASSERT(s != NULL);
    return s->more;
}

uint32_t sim_sched_queued_jobs(const sim_sched *s)
{
    MESH_ASSERT(s != NULL);
    return s->queued_jobs;
}

uint64_t sim_sched_queued_procs(const sim_sched *s)
{
    MESH_ASSERT(s != NULL);
    return s->queued_procs;
}

uint64_t sim_sched_queued_procs_class(const sim_sched *s, uint32_t class_bit)
{
    MESH_ASSERT(s != NULL);
    if ((class_bit & (class_bit - 1)) != 0) {
        return 0;
    }
    return s->queued_procs_class[class_slot(class_bit)];
}

uint32_t sim_sched_running_jobs(const sim_sched *s)
{
    MESH_ASSERT(s != NULL);
    return s->running_jobs;
}

uint64_t sim_sched_running_procs(const sim_sched *s)
{
    MESH_ASSERT(s != NULL);
    return s->running_procs;
}

static const sched_pool *pool_at(const sim_sched *s, uint32_t pool_id)
{
    MESH_ASSERT(s != NULL);
    if (pool_id >= s->pools_max || !s->pools[pool_id].present) {
        return NULL;
    }
    return &s->pools[pool_id];
}

uint64_t sim_sched_pool_busy_procs(const sim_sched *s, uint32_t pool_id)
{
    const sched_pool *pool = pool_at(s, pool_id);
    return pool == NULL ? 0 : pool->busy_procs;
}

uint64_t sim_sched_pool_free_procs(const sim_sched *s, uint32_t pool_id)
{
    const sched_pool *pool = pool_at(s, pool_id);
    return pool == NULL ? 0 : pool_free(pool);
}

uint32_t sim_sched_pool_running_jobs(const sim_sched *s, uint32_t pool_id)
{
    const sched_pool *pool = pool_at(s, pool_id);
    return pool == NULL ? 0 : pool->running;
}

bool sim_sched_pool_get(const sim_sched *s, uint32_t pool_id, sim_sched_pool *pool_out)
{
    const sched_pool *pool = pool_at(s, pool_id);
    if (pool == NULL) {
        return false;
    }
    if (pool_out != NULL) {
        *pool_out = pool->config;
    }
    return true;
}

bool sim_sched_reservation_get(const sim_sched *s, sim_sched_reservation *out)
{
    MESH_ASSERT(s != NULL);
    if (!s->reservation_valid) {
        return false;
    }
    if (out != NULL) {
        *out = s->reservation;
    }
    return true;
}

uint32_t sim_sched_stuck(const sim_sched *s, uint64_t *keys_out, uint32_t keys_max)
{
    MESH_ASSERT(s != NULL);
    MESH_ASSERT(keys_out != NULL || keys_max == 0);
    uint32_t copy = s->stuck_count < keys_max ? s->stuck_count : keys_max;
    if (copy > 0) {
        memcpy(keys_out, s->stuck_keys, (size_t) copy * sizeof(*keys_out));
    }
    return s->stuck_count;
}

sim_sched_state sim_sched_job_state(const sim_sched *s, uint64_t key, uint32_t *pool_out)
{
    MESH_ASSERT(s != NULL);
    uint32_t slot = slot_of(s, key);
    if (slot == SCHED_NIL) {
        return SIM_SCHED_ABSENT;
    }
    if (s->slots[slot].state == SLOT_QUEUED) {
        return SIM_SCHED_QUEUED;
    }
    if (pool_out != NULL) {
        *pool_out = s->slots[slot].pool;
    }
    return SIM_SCHED_RUNNING;
}

void sim_sched_stats_get(const sim_sched *s, sim_sched_stats *out)
{
    MESH_ASSERT(s != NULL && out != NULL);
    *out = s->stats;
}
