/*
 * member/burst.c: the burst policy. From the scheduler's load reports the
 * member borrows its overflow by itself and gives it back when demand
 * falls (member.h, member_burst_config, has the rule and its defaults).
 *
 * Why here and not in lease/: the policy drives the lease machine through
 * the same commands the API uses (lease_borrow, lease_release) and reads
 * only what the machine publishes (capacity, lease infos, events), so the
 * machine knows nothing of it; and the simulator runs it unchanged, since
 * it is part of the member both drive.
 *
 * Flapping: a class borrows only when the overflow reaches `threshold`,
 * has at most one borrow in flight, waits `retry_ns` after a borrow that
 * got less than it asked (doubling after each borrow in a row that got
 * nothing, up to 4 x retry_ns: lenders that refuse, for reciprocity or
 * want of capacity, are asked less often; any grant, or the overflow's
 * end, starts the wait again from retry_ns), and releases a lease only when the
 * surplus has covered that lease plus `release_margin` for `release_delay_ns` without a break.
 * Demand that oscillates around capacity therefore neither borrows nor releases on every report.
 */
#include <string.h>

#include "member/member_int.h"

static bool lease_has_class(const lease_info *info, const lease_capacity *capacity, uint64_t *units)
{
    for (uint32_t j = 0; j < info->amount_count; j++) {
        if (info->amounts[j].resource_class == capacity->resource_class &&
            strcmp(info->amounts[j].model, capacity->model) == 0) {
            *units = (info->amounts[j].amount_milli + 999u) / 1000u;
            return true;
        }
    }
    return false;
}

typedef struct newest_search {
    const lease_capacity *capacity;
    bool found;
    lease_info newest;
    uint64_t units;
} newest_search;

static bool newest_visit(void *arg, const lease_info *info)
{
    newest_search *search = arg;
    uint64_t units = 0;
    if (info->self_is_lender || info->phase != LEASE_PHASE_ACTIVE || info->reclaim_at_ns != 0 ||
        !lease_has_class(info, search->capacity, &units)) {
        return true;
    }
    if (!search->found || info->start_ns > search->newest.start_ns ||
        (info->start_ns == search->newest.start_ns &&
         memcmp(info->lease_id, search->newest.lease_id, LEDGER_LEASE_ID_SIZE) > 0)) {
        search->newest = *info;
        search->units = units;
        search->found = true;
    }
    return true;
}

// The newest active lease borrowed for this class that is not already
// being given back, and its size in units; one pass over the slots.
static bool newest_borrowed(const member_node *m,
                            const lease_capacity *capacity,
                            lease_info *newest,
                            uint64_t *units_out)
{
    newest_search search = {.capacity = capacity, .found = false, .units = 0};
    lease_visit(m->lease, newest_visit, &search);
    if (search.found) {
        *newest = search.newest;
        *units_out = search.units;
    }
    return search.found;
}

static void burst_borrow(member_node *m,
                         mesh_now now,
                         uint32_t index,
                         const lease_capacity *capacity,
                         uint64_t units,
                         mesh_rng *rng)
{
    member_burst_class *state = &m->burst_classes[index];
    lease_borrow_request request;
    memset(&request, 0, sizeof(request));
    request.resource_count = 1;
    request.resources[0].resource_class = capacity->resource_class;
    memcpy(request.resources[0].model, capacity->model, sizeof(request.resources[0].model));
    request.resources[0].amount = units;
    request.duration_ns = m->burst.lease_duration_ns;
    request.constraints = m->burst.constraints;
    request.tag = MEMBER_BURST_TAG | index;
    uint32_t borrow_id = 0;
    mesh_err err = lease_borrow(m->lease, now, &request, rng, &m->outbox, &borrow_id);
    if (err != MESH_OK) {
        state->retry_after_ns = now.monotonic_ns + m->burst.retry_ns;
        member_execute(m, MEMBER_SOURCE_LEASE, err == MESH_EINVAL ? MESH_OK : err);
        return;
    }
    // The borrow's end may already be among the outputs (no candidate at
    // all): mark it in flight first, so that the event clears it.
    state->borrow_id = borrow_id;
    state->asked = units;
    m->stats.burst_borrows++;
    member_execute(m, MEMBER_SOURCE_LEASE, MESH_OK);
}

void member_burst_step(member_node *m, mesh_now now, mesh_rng *rng)
{
    if (!m->burst.enabled || m->lease == NULL) {
        return;
    }
    uint32_t count = lease_capacity_count(m->lease);
    for (uint32_t i = 0; i < count; i++) {
        member_burst_class *state = &m->burst_classes[i];
        if (!state->load_known || state->borrow_id != 0) {
            continue;
        }
        lease_capacity capacity;
        lease_capacity_at(m->lease, i, &capacity);
        uint64_t demand = state->queued + state->running;
        uint64_t have = capacity.total + capacity.borrowed;
        if (demand > have && demand - have >= m->burst.threshold) {
            state->surplus_since_ns = 0;
            if (now.monotonic_ns >= state->retry_after_ns) {
                state->retry_after_ns = 0;
                burst_borrow(m, now, i, &capacity, demand - have, rng);
            }
            continue;
        }
        state->retry_after_ns = 0; // no overflow to borrow: nothing to retry
        state->refused_in_row = 0;
        if (demand > have) {
            state->surplus_since_ns = 0;
            continue;
        }
        lease_info newest;
        uint64_t units = 0;
        uint64_t surplus = have - demand;
        if (capacity.borrowed == 0 || !newest_borrowed(m, &capacity, &newest, &units) ||
            surplus < units + m->burst.release_margin) {
            state->surplus_since_ns = 0;
            continue;
        }
        if (state->surplus_since_ns == 0) {
            state->surplus_since_ns = now.monotonic_ns;
        }
        if (now.monotonic_ns - state->surplus_since_ns < m->burst.release_delay_ns) {
            continue;
        }
        state->surplus_since_ns = 0;
        mesh_err err = lease_release(m->lease, now, newest.lease_id, rng, &m->outbox);
        member_execute(m, MEMBER_SOURCE_LEASE, err == MESH_ENOTFOUND ? MESH_OK : err);
        if (err == MESH_OK) {
            m->stats.burst_releases++;
        }
    }
}

// A borrowed lease ended (released, reclaimed or expired, then settled).
// The step that released a lease looked at that lease only, and nothing
// else would look again before the next load report: a scheduler that
// reports once and then falls silent would keep every other burst lease.
// So the surplus clock of each class without overflow starts again here;
// the step at its deadline checks the surplus against the newest lease
// left, as for the first, and stops the clock when there is none.
static void burst_on_borrowed_ended(member_node *m, mesh_now now)
{
    uint32_t count = lease_capacity_count(m->lease);
    MESH_ASSERT(count <= LEASE_CLASSES_MAX);
    for (uint32_t i = 0; i < count; i++) {
        member_burst_class *state = &m->burst_classes[i];
        if (!state->load_known || state->borrow_id != 0 || state->surplus_since_ns != 0 ||
            now.monotonic_ns == 0) {
            continue;
        }
        lease_capacity capacity;
        lease_capacity_at(m->lease, i, &capacity);
        uint64_t demand = state->queued + state->running;
        if (capacity.borrowed > 0 && demand <= capacity.total + capacity.borrowed) {
            state->surplus_since_ns = now.monotonic_ns;
        }
    }
}

void member_burst_on_event(member_node *m, mesh_now now, const lease_event *event)
{
    if (!m->burst.enabled || m->lease == NULL) {
        return;
    }
    if (event->kind == LEASE_EVENT_ENDED && !event->self_is_lender) {
        burst_on_borrowed_ended(m, now);
        return;
    }
    if (event->kind != LEASE_EVENT_BORROW_DONE || (event->tag & MEMBER_BURST_TAG) == 0) {
        return;
    }
    uint64_t index = event->tag & ~MEMBER_BURST_TAG;
    if (index >= LEASE_CLASSES_MAX) {
        return;
    }
    member_burst_class *state = &m->burst_classes[index];
    if (state->borrow_id != event->borrow_id) {
        return;
    }
    state->borrow_id = 0;
    state->asked = 0;
    state->refused_in_row = event->status == LEASE_BORROW_REFUSED ? state->refused_in_row + 1u : 0u;
    if (event->status != LEASE_BORROW_GRANTED) {
        uint32_t refused = state->refused_in_row;
        uint32_t shift = refused == 0 ? 0u : (refused - 1u < 2u ? refused - 1u : 2u);
        uint64_t wait_ns = m->burst.retry_ns << shift;
        state->retry_after_ns = now.monotonic_ns + wait_ns;
    }
}

uint64_t member_burst_deadline_ns(const member_node *m)
{
    if (!m->burst.enabled || m->lease == NULL) {
        return UINT64_MAX;
    }
    uint64_t deadline = UINT64_MAX;
    uint32_t count = lease_capacity_count(m->lease);
    for (uint32_t i = 0; i < count; i++) {
        const member_burst_class *state = &m->burst_classes[i];
        if (!state->load_known || state->borrow_id != 0) {
            continue;
        }
        uint64_t at = UINT64_MAX;
        if (state->surplus_since_ns != 0) {
            at = state->surplus_since_ns + m->burst.release_delay_ns;
        } else if (state->retry_after_ns > 0) {
            // A retry is due only while there is an overflow to borrow;
            // without one the step clears it (a deadline left in the past
            // would have the shell spin).
            lease_capacity capacity;
            lease_capacity_at(m->lease, i, &capacity);
            uint64_t demand = state->queued + state->running;
            uint64_t have = capacity.total + capacity.borrowed;
            if (demand > have && demand - have >= m->burst.threshold) {
                at = state->retry_after_ns;
            }
        }
        deadline = at < deadline ? at : deadline;
    }
    return deadline;
}

mesh_err member_set_load(member_node *m,
                         mesh_now now,
                         uint32_t resource_class,
                         const char *model,
                         uint64_t queued,
                         uint64_t running,
                         mesh_rng *rng)
{
    MESH_ASSERT(m != NULL && model != NULL && rng != NULL);
    if (m->lease == NULL) {
        return MESH_ENOTFOUND;
    }
    m->now = now;
    uint32_t count = lease_capacity_count(m->lease);
    uint32_t index = UINT32_MAX;
    for (uint32_t i = 0; i < count && index == UINT32_MAX; i++) {
        lease_capacity capacity;
        lease_capacity_at(m->lease, i, &capacity);
        if (capacity.resource_class == resource_class && strcmp(capacity.model, model) == 0) {
            index = i;
        }
    }
    if (index == UINT32_MAX) {
        return MESH_ENOTFOUND;
    }
    member_burst_class *state = &m->burst_classes[index];
    state->load_known = true;
    state->queued = queued;
    state->running = running;
    uint64_t demand = queued > UINT64_MAX - running ? UINT64_MAX : queued + running;
    mesh_err err =
        lease_set_local_demand(m->lease, now, resource_class, model, demand, rng, &m->outbox);
    member_execute(m, MEMBER_SOURCE_LEASE, err);
    member_burst_step(m, now, rng);
    return err;
}
