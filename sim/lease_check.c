/*
 * sim/lease_check.c: the lease scenario's invariant checker.
 *
 * What is checked, and when (the simulator knows what no member can:
 * every member's true certificate, its true capacity and both ledgers of
 * every lease):
 *
 *   (a) constraints: at every journal entry an honest ledger writes (the
 *       store wrapper hands each one over as it is written), an OPENED
 *       record's lender must be a member whose true certificate satisfies
 *       the record's constraints (countries, jurisdictions,
 *       certifications), whose certified facts the terms state exactly
 *       (country, jurisdictions, certifications, certificate hash), whose
 *       signed price and carbon fit the cost and carbon limits, and whose
 *       true distance from the borrower can meet the round-trip limit
 *       (the lowest round trip the network model can produce, 90 % of the
 *       cities' measured one, is within it).
 *   (b) capacity: after every event that wrote an honest ledger, for that
 *       member, and for every honest member every virtual second (check_ns):
 *       the vCPUs of the leases its own ledger holds OPEN as lender
 *       (ledger_lease_list) are at most its lendable. Counted once per
 *       episode (from the check that finds it over to the one that finds
 *       it back under), so that a lasting breach is one violation. One
 *       kind of lease is left out of the sum: a late acceptance the lender
 *       had no capacity for, which docs/leases.md says it records and ends
 *       at once, with no usage, "so that nothing was lent twice" (known as
 *       the lender writes its OPENED record: its machine has already set
 *       the lease's end). Usage charged for such a lease, at the write of
 *       the lender's USAGE record, is a (b) violation: capacity lent twice.
 *   (c) agreement: at every entry written, the record (its bytes and both
 *       signatures) must carry both signatures, must be the same as any
 *       copy the other party's ledger already wrote under the same lease
 *       and number, and a ledger never writes two versions of one record.
 *       A record one side has and the other lacks is allowed while in
 *       flight. At the end, ledger_reconcile of every pair of honest
 *       members: only_a == only_b == differ == 0, and each side's lent
 *       equals the other's borrowed.
 *   (d) balance, at the end: over the honest members, what they lent to
 *       honest members equals what they borrowed from honest members
 *       (ledger_balance rows).
 *   (e) every lease ends, at the end (after the drain): every lease an
 *       honest ledger holds with an honest counterparty is SETTLED. A lease
 *       whose other party is hostile may be left open by that party (the
 *       protocol lets only the lender propose an end): those are counted in
 *       hostile_unsettled, not as violations.
 *   ledger: at the end, ledger_verify of every honest ledger (chain,
 *       signatures, derived state), when verify_ledgers is set.
 *
 * Policy (policy_violations): the lender's own rules, beyond (a) and (b),
 * for leases an honest lender recorded: at most per_peer_max vCPUs open to
 * one borrower (checked with (b), counted per episode), a window no longer
 * than duration_max_ns, the lender's own price in the terms.
 *
 * Memory: a row per (lease, record number) and one per lease, in open
 * addressing tables that double up to records_max rows (MESH_EFULL past
 * it, which stops the run).
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sim/lease_int.h"

#define TABLE_SLOTS_FIRST 4096u

mesh_err sim_lease_check_init(sim_lease_checker *checker)
{
    memset(checker, 0, sizeof(*checker));
    checker->records = calloc(TABLE_SLOTS_FIRST, sizeof(sim_lease_record_row));
    checker->leases = calloc(TABLE_SLOTS_FIRST, sizeof(sim_lease_row));
    if (checker->records == NULL || checker->leases == NULL) {
        sim_lease_check_fini(checker);
        return MESH_ENOMEM;
    }
    checker->record_slots = TABLE_SLOTS_FIRST;
    checker->lease_slots = TABLE_SLOTS_FIRST;
    return MESH_OK;
}

void sim_lease_check_fini(sim_lease_checker *checker)
{
    free(checker->records);
    free(checker->leases);
    memset(checker, 0, sizeof(*checker));
}

/* ---------------------------------------------------------------- */
/* The tables.                                                       */
/* ---------------------------------------------------------------- */

static uint64_t id_hash(const uint8_t id[LEDGER_LEASE_ID_SIZE], uint32_t number)
{
    // Lease ids are drawn by the borrowers' PRNGs: their bytes are spread.
    uint64_t h = 0;
    memcpy(&h, id, sizeof(h));
    uint64_t l = 0;
    memcpy(&l, id + 8, sizeof(l));
    h ^= l * 0xff51afd7ed558ccdull;
    h ^= (uint64_t) number * 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

static uint32_t record_probe(const sim_lease_record_row *rows,
                             uint32_t slots,
                             const uint8_t id[LEDGER_LEASE_ID_SIZE],
                             uint32_t number)
{
    uint32_t mask = slots - 1;
    uint32_t at = (uint32_t) id_hash(id, number) & mask;
    for (uint32_t steps = 0; steps < slots; steps++) {
        const sim_lease_record_row *row = &rows[at];
        if (!row->used ||
            (row->number == number && memcmp(row->lease_id, id, LEDGER_LEASE_ID_SIZE) == 0)) {
            return at;
        }
        at = (at + 1) & mask;
    }
    MESH_ASSERT(false && "a table is never full: it doubles at half");
    return 0;
}

static uint32_t
lease_probe(const sim_lease_row *rows, uint32_t slots, const uint8_t id[LEDGER_LEASE_ID_SIZE])
{
    uint32_t mask = slots - 1;
    uint32_t at = (uint32_t) id_hash(id, 0) & mask;
    for (uint32_t steps = 0; steps < slots; steps++) {
        const sim_lease_row *row = &rows[at];
        if (!row->used || memcmp(row->lease_id, id, LEDGER_LEASE_ID_SIZE) == 0) {
            return at;
        }
        at = (at + 1) & mask;
    }
    MESH_ASSERT(false && "a table is never full: it doubles at half");
    return 0;
}

static mesh_err grow_records(sim_lease_world *world)
{
    sim_lease_checker *checker = &world->checker;
    uint64_t slots = 2ull * checker->record_slots;
    if (slots > 2ull * world->config->records_max) {
        return MESH_EFULL;
    }
    sim_lease_record_row *rows = calloc(slots, sizeof(*rows));
    if (rows == NULL) {
        return MESH_ENOMEM;
    }
    for (uint32_t i = 0; i < checker->record_slots; i++) {
        const sim_lease_record_row *row = &checker->records[i];
        if (row->used) {
            rows[record_probe(rows, (uint32_t) slots, row->lease_id, row->number)] = *row;
        }
    }
    free(checker->records);
    checker->records = rows;
    checker->record_slots = (uint32_t) slots;
    return MESH_OK;
}

static mesh_err grow_leases(sim_lease_world *world)
{
    sim_lease_checker *checker = &world->checker;
    uint64_t slots = 2ull * checker->lease_slots;
    if (slots > 2ull * world->config->records_max) {
        return MESH_EFULL;
    }
    sim_lease_row *rows = calloc(slots, sizeof(*rows));
    if (rows == NULL) {
        return MESH_ENOMEM;
    }
    for (uint32_t i = 0; i < checker->lease_slots; i++) {
        const sim_lease_row *row = &checker->leases[i];
        if (row->used) {
            rows[lease_probe(rows, (uint32_t) slots, row->lease_id)] = *row;
        }
    }
    free(checker->leases);
    checker->leases = rows;
    checker->lease_slots = (uint32_t) slots;
    return MESH_OK;
}

static sim_lease_record_row *
record_row(sim_lease_world *world, const uint8_t id[LEDGER_LEASE_ID_SIZE], uint32_t number)
{
    sim_lease_checker *checker = &world->checker;
    if (2u * (checker->record_count + 1u) > checker->record_slots) {
        mesh_err err = grow_records(world);
        if (err != MESH_OK) {
            world->fatal = err;
            return NULL;
        }
    }
    sim_lease_record_row *row =
        &checker->records[record_probe(checker->records, checker->record_slots, id, number)];
    if (!row->used) {
        memset(row, 0, sizeof(*row));
        row->used = true;
        memcpy(row->lease_id, id, LEDGER_LEASE_ID_SIZE);
        row->number = number;
        checker->record_count++;
    }
    return row;
}

static sim_lease_row *
lease_row(sim_lease_world *world, const uint8_t id[LEDGER_LEASE_ID_SIZE], bool insert)
{
    sim_lease_checker *checker = &world->checker;
    if (insert && 2u * (checker->lease_count + 1u) > checker->lease_slots) {
        mesh_err err = grow_leases(world);
        if (err != MESH_OK) {
            world->fatal = err;
            return NULL;
        }
    }
    sim_lease_row *row = &checker->leases[lease_probe(checker->leases, checker->lease_slots, id)];
    if (!row->used) {
        if (!insert) {
            return NULL;
        }
        memset(row, 0, sizeof(*row));
        row->used = true;
        memcpy(row->lease_id, id, LEDGER_LEASE_ID_SIZE);
        row->lender = UINT32_MAX;
        row->borrower = UINT32_MAX;
        checker->lease_count++;
    }
    return row;
}

/* ---------------------------------------------------------------- */
/* (a): an OPENED record against the lender's true certificate.      */
/* ---------------------------------------------------------------- */

static bool code_in(const char *code, uint32_t count, const char (*list)[3])
{
    for (uint32_t i = 0; i < count; i++) {
        if (strcmp(list[i], code) == 0) {
            return true;
        }
    }
    return false;
}

static bool codes_equal(uint32_t count_a, const char (*a)[3], uint32_t count_b, const char (*b)[3])
{
    if (count_a != count_b) {
        return false;
    }
    for (uint32_t i = 0; i < count_a; i++) {
        if (strcmp(a[i], b[i]) != 0) {
            return false;
        }
    }
    return true;
}

static uint64_t cost_per_hour(const ledger_record *record)
{
    __extension__ typedef unsigned __int128 u128;
    u128 total = 0;
    for (uint32_t i = 0; i < record->amount_count && i < record->terms.price_count; i++) {
        total += (u128) record->amounts[i].amount_milli * record->terms.prices[i] / 1000u;
    }
    return total > UINT64_MAX ? UINT64_MAX : (uint64_t) total;
}

/* The lowest round trip the network model can give between two members,
 * in microseconds: each way at 90 % of half the cities' round trip. */
static uint64_t rtt_us_min(const sim_lease_world *world, uint32_t a, uint32_t b)
{
    uint64_t one_way_ns = sim_net_latency_ns(world->nodes[a].city, world->nodes[b].city);
    return 2u * (one_way_ns - one_way_ns / 10u) / MESH_NS_PER_US;
}

/* Why an OPENED record breaks (a), or NULL. */
static const char *opened_fault(const sim_lease_world *world,
                                const ledger_record *record,
                                uint32_t lender,
                                uint32_t borrower)
{
    const ledger_terms *terms = &record->terms;
    const ledger_constraints *c = &terms->constraints;
    if (lender == UINT32_MAX) {
        return "its lender is no member";
    }
    const wire_cert *cert = &world->nodes[lender].cert;
    if (c->country_count > 0 && !code_in(cert->country, c->country_count, c->countries)) {
        return "the lender's certified country is not allowed";
    }
    for (uint32_t i = 0; i < c->jurisdiction_count; i++) {
        if (!code_in(c->jurisdictions[i], cert->jurisdiction_count, cert->jurisdictions)) {
            return "the lender's certificate lacks a required jurisdiction";
        }
    }
    if ((c->certifications & ~cert->certifications) != 0) {
        return "the lender's certificate lacks a required certification";
    }
    if (strcmp(terms->lender_country, cert->country) != 0 ||
        !codes_equal(terms->lender_jurisdiction_count, terms->lender_jurisdictions,
                     cert->jurisdiction_count, cert->jurisdictions) ||
        terms->lender_certifications != cert->certifications) {
        return "its terms state facts the lender's certificate does not back";
    }
    if (memcmp(terms->lender_cert_hash, world->nodes[lender].cert_hash, LEDGER_HASH_SIZE) != 0) {
        return "its terms name another certificate than the lender's";
    }
    if (c->cost_microeur_per_hour_max != 0 &&
        cost_per_hour(record) > c->cost_microeur_per_hour_max) {
        return "its price is over the cost limit";
    }
    if (c->carbon_gco2_per_kwh_max != 0 &&
        terms->carbon_gco2_per_kwh > c->carbon_gco2_per_kwh_max) {
        return "its carbon is over the carbon limit";
    }
    if (c->rtt_us_max != 0 && borrower != UINT32_MAX &&
        rtt_us_min(world, lender, borrower) > c->rtt_us_max) {
        return "the two members are further apart than the round-trip limit";
    }
    return NULL;
}

/* Whether an amount is of the run's one resource class (sim.h,
 * resource_class; the wire's and the ledger's class numbers are the same). */
static bool of_run_class(const sim_lease_world *world, uint32_t resource_class, const char *model)
{
    _Static_assert((uint32_t) WIRE_RESOURCE_VCPU == (uint32_t) LEDGER_CLASS_VCPU &&
                       (uint32_t) WIRE_RESOURCE_GPU == (uint32_t) LEDGER_CLASS_GPU,
                   "one numbering of resource classes");
    return resource_class == world->config->resource_class &&
           strcmp(model, world->config->model) == 0;
}

/* The record's units of the run's class (vCPUs, or GPUs of its model), milli. */
static uint64_t vcpu_milli_of(const sim_lease_world *world, const ledger_record *record)
{
    uint64_t milli = 0;
    for (uint32_t i = 0; i < record->amount_count; i++) {
        if (of_run_class(world, record->amounts[i].resource_class, record->amounts[i].model)) {
            milli += record->amounts[i].amount_milli;
        }
    }
    return milli;
}

static void check_opened(sim_lease_world *world, uint32_t writer, const ledger_record *record)
{
    sim_lease_row *row = lease_row(world, record->lease_id, true);
    if (row == NULL) {
        return;
    }
    uint32_t lender = sim_lease_index_of_key(world, record->lender_key);
    uint32_t borrower = sim_lease_index_of_key(world, record->borrower_key);
    bool first = !row->in_lender && !row->in_borrower;
    if (writer == lender) {
        row->in_lender = true;
        // The lender's machine, as it writes the record: an end already
        // decided (reclaim_at_ns set before the lease even opened) is a
        // late acceptance it had no capacity for. Reading the machine here
        // is safe: the member is inside ledger_commit, the machine idle.
        const member_node *member = world->nodes[writer].member;
        lease_info info;
        if (member != NULL &&
            lease_find(member_lease(member), record->lease_id, &info) == MESH_OK &&
            info.reclaim_at_ns != 0) {
            row->ended_at_once = true;
        }
    } else {
        row->in_borrower = true;
    }
    if (!first) {
        return; // the same bytes as the first copy, or (c) says otherwise
    }
    row->lender = lender;
    row->borrower = borrower;
    row->vcpu_milli = vcpu_milli_of(world, record);
    char id[33];
    sim_lease_hex_id(record->lease_id, id);
    const char *fault = opened_fault(world, record, lender, borrower);
    if (fault != NULL) {
        sim_lease_violate(world, SIM_LEASE_INV_CONSTRAINTS,
                          "lease %s (lender %d, borrower %d, in member %u's ledger): %s", id,
                          (int) lender, (int) borrower, writer, fault);
    }
    if (lender == UINT32_MAX || world->nodes[lender].hostile) {
        return;
    }
    // The honest lender's own policy.
    const lease_config *policy = &world->nodes[lender].config.lease;
    const ledger_terms *terms = &record->terms;
    if ((uint64_t) (terms->end_ns - terms->start_ns) > policy->duration_max_ns) {
        sim_lease_policy_violate(world, "lease %s: a window longer than lender %u lends", id,
                                 lender);
    }
    for (uint32_t i = 0; i < record->amount_count && i < terms->price_count; i++) {
        if (of_run_class(world, record->amounts[i].resource_class, record->amounts[i].model) &&
            terms->prices[i] != policy->classes[0].price_microeur_per_unit_hour) {
            sim_lease_policy_violate(world, "lease %s: not at lender %u's price", id, lender);
        }
    }
}

/* ---------------------------------------------------------------- */
/* Every entry: (c) record for record, and (a) for OPENED ones.      */
/* ---------------------------------------------------------------- */

static void copy_hash(const ledger_entry *entry, uint8_t hash_out[16])
{
    crypto_generichash_state state;
    uint8_t flags[2] = {entry->has_lender_signature ? 1u : 0u,
                        entry->has_borrower_signature ? 1u : 0u};
    MESH_ASSERT(crypto_generichash_init(&state, NULL, 0, 16) == 0);
    MESH_ASSERT(crypto_generichash_update(&state, entry->record_bytes, entry->record_size) == 0);
    MESH_ASSERT(crypto_generichash_update(&state, flags, sizeof(flags)) == 0);
    MESH_ASSERT(
        crypto_generichash_update(&state, entry->lender_signature,
                                  entry->has_lender_signature ? LEDGER_SIGNATURE_SIZE : 0u) == 0);
    MESH_ASSERT(
        crypto_generichash_update(&state, entry->borrower_signature,
                                  entry->has_borrower_signature ? LEDGER_SIGNATURE_SIZE : 0u) == 0);
    MESH_ASSERT(crypto_generichash_final(&state, hash_out, 16) == 0);
}

void sim_lease_check_entry(sim_lease_world *world, uint32_t index, const ledger_entry *entry)
{
    const ledger_record *record = &entry->record;
    const uint8_t *self_key = world->nodes[index].keypair.public_key;
    bool is_lender = memcmp(record->lender_key, self_key, LEDGER_KEY_SIZE) == 0;
    bool is_borrower = memcmp(record->borrower_key, self_key, LEDGER_KEY_SIZE) == 0;
    char id[33];
    sim_lease_hex_id(record->lease_id, id);
    if (is_lender == is_borrower) {
        sim_lease_violate(world, SIM_LEASE_INV_AGREE,
                          "member %u recorded lease %s record %u without being one party", index,
                          id, record->number);
        return;
    }
    if (record->kind != LEDGER_KIND_CREDIT &&
        (!entry->has_lender_signature || !entry->has_borrower_signature)) {
        sim_lease_violate(world, SIM_LEASE_INV_AGREE,
                          "member %u recorded lease %s record %u without both signatures", index,
                          id, record->number);
    }
    sim_lease_record_row *row = record_row(world, record->lease_id, record->number);
    if (row == NULL) {
        return;
    }
    sim_lease_copy *mine = is_lender ? &row->lender_copy : &row->borrower_copy;
    const sim_lease_copy *theirs = is_lender ? &row->borrower_copy : &row->lender_copy;
    uint8_t hash[16];
    copy_hash(entry, hash);
    if (mine->present && memcmp(mine->hash, hash, sizeof(hash)) != 0) {
        sim_lease_violate(world, SIM_LEASE_INV_AGREE,
                          "member %u wrote two versions of lease %s record %u", index, id,
                          record->number);
    }
    if (theirs->present && memcmp(theirs->hash, hash, sizeof(hash)) != 0) {
        sim_lease_violate(world, SIM_LEASE_INV_AGREE,
                          "the two ledgers of lease %s differ on record %u (member %u wrote "
                          "the second copy)",
                          id, record->number, index);
    }
    mine->present = true;
    memcpy(mine->hash, hash, sizeof(hash));
    if (record->kind == LEDGER_KIND_OPENED) {
        check_opened(world, index, record);
        return;
    }
    if (record->kind != LEDGER_KIND_USAGE || !is_lender || vcpu_milli_of(world, record) == 0) {
        return;
    }
    sim_lease_row *lease = lease_row(world, record->lease_id, false);
    if (lease != NULL && lease->ended_at_once && !lease->charged) {
        lease->charged = true;
        sim_lease_violate(world, SIM_LEASE_INV_CAPACITY,
                          "lease %s: member %u recorded it with no capacity for it, to end at "
                          "once, and charged %llu milli vCPU-hours of usage for it",
                          id, index, (unsigned long long) vcpu_milli_of(world, record));
    }
}

/* ---------------------------------------------------------------- */
/* (b) and the per-peer policy, from an honest lender's ledger.       */
/* ---------------------------------------------------------------- */

typedef struct capacity_walk {
    sim_lease_world *world;
    uint32_t lender;
    uint64_t open_milli;
    uint32_t open_count;
    uint64_t peer_milli_max;
    uint32_t peer_max;  /* the borrower holding the most */
    uint64_t *per_peer; /* node_count entries */
    uint32_t unknown;   /* open leases the checker never saw opened */
} capacity_walk;

static bool capacity_visit(void *arg, const ledger_lease *lease)
{
    capacity_walk *walk = arg;
    if (!lease->self_is_lender) {
        return true;
    }
    const sim_lease_row *row = lease_row(walk->world, lease->lease_id, false);
    if (row == NULL) {
        walk->unknown++;
        return true;
    }
    if (row->ended_at_once) {
        return true; // recorded only to be ended: no capacity behind it
    }
    walk->open_milli += row->vcpu_milli;
    walk->open_count++;
    if (row->borrower < walk->world->node_count) {
        uint64_t *peer = &walk->per_peer[row->borrower];
        *peer += row->vcpu_milli;
        if (*peer > walk->peer_milli_max) {
            walk->peer_milli_max = *peer;
            walk->peer_max = row->borrower;
        }
    }
    return true;
}

void sim_lease_check_capacity(sim_lease_world *world, uint32_t index)
{
    sim_lease_node *node = &world->nodes[index];
    MESH_ASSERT(!node->hostile && !node->crashed && node->ledger_handle != NULL);
    uint64_t *per_peer = calloc(world->node_count, sizeof(uint64_t));
    if (per_peer == NULL) {
        world->fatal = MESH_ENOMEM;
        return;
    }
    capacity_walk walk = {.world = world, .lender = index, .per_peer = per_peer};
    mesh_err err = ledger_lease_list(node->ledger_handle, LEDGER_LEASE_OPEN, capacity_visit, &walk);
    free(per_peer);
    world->result.checks++;
    if (err != MESH_OK) {
        sim_lease_violate(world, SIM_LEASE_INV_LEDGER,
                          "member %u: its ledger cannot list its open leases: %s", index,
                          mesh_err_name(err));
        return;
    }
    if (walk.unknown > 0) {
        sim_lease_violate(world, SIM_LEASE_INV_AGREE,
                          "member %u holds %u open leases whose OPENED record it never wrote",
                          index, walk.unknown);
    }
    bool over = walk.open_milli > node->lendable_vcpu * 1000u;
    if (over && !node->over_capacity) {
        sim_lease_violate(world, SIM_LEASE_INV_CAPACITY,
                          "member %u lends %llu.%03llu vCPUs in %u open leases, over its "
                          "lendable %llu",
                          index, (unsigned long long) (walk.open_milli / 1000u),
                          (unsigned long long) (walk.open_milli % 1000u), walk.open_count,
                          (unsigned long long) node->lendable_vcpu);
    }
    node->over_capacity = over;
    bool over_peer = node->per_peer_max != 0 && walk.peer_milli_max > node->per_peer_max * 1000u;
    if (over_peer && !node->over_peer) {
        sim_lease_policy_violate(world,
                                 "member %u lends %llu.%03llu vCPUs to member %u, over its "
                                 "per-peer limit %llu",
                                 index, (unsigned long long) (walk.peer_milli_max / 1000u),
                                 (unsigned long long) (walk.peer_milli_max % 1000u), walk.peer_max,
                                 (unsigned long long) node->per_peer_max);
    }
    node->over_peer = over_peer;
}

/* ---------------------------------------------------------------- */
/* The end: (c) reconcile, (d) balance, (e) every lease ends, verify. */
/* ---------------------------------------------------------------- */

static bool honest_index(const sim_lease_world *world, uint32_t index)
{
    return index < world->config->node_count;
}

static void check_pairs(sim_lease_world *world)
{
    uint32_t n = world->config->node_count;
    for (uint32_t a = 0; a < n; a++) {
        for (uint32_t b = a + 1; b < n; b++) {
            ledger_reconcile_report report;
            mesh_err err =
                ledger_reconcile(&world->nodes[a].mem_vtable, &world->nodes[b].mem_vtable, &report);
            world->result.reconciled_pairs++;
            bool crashed = world->nodes[a].ever_crashed || world->nodes[b].ever_crashed;
            world->result.reconciled_pairs_crashed += crashed ? 1u : 0u;
            if (err != MESH_OK) {
                sim_lease_violate(world, SIM_LEASE_INV_LEDGER,
                                  "members %u and %u: ledger_reconcile failed: %s", a, b,
                                  mesh_err_name(err));
                continue;
            }
            world->result.reconciled_records += report.shared_count;
            if (report.only_a_count + report.only_b_count + report.differ_count > 0) {
                char id[33];
                sim_lease_hex_id(report.first_lease_id, id);
                sim_lease_violate(world, SIM_LEASE_INV_AGREE,
                                  "members %u and %u%s: %llu records only in %u, %llu only in "
                                  "%u, %llu differ; first: lease %s record %u %s",
                                  a, b, crashed ? " (one crashed)" : "",
                                  (unsigned long long) report.only_a_count, a,
                                  (unsigned long long) report.only_b_count, b,
                                  (unsigned long long) report.differ_count, id, report.first_number,
                                  report.first_what);
            }
            if (report.a_lent_milli != report.b_borrowed_milli ||
                report.b_lent_milli != report.a_borrowed_milli) {
                sim_lease_violate(world, SIM_LEASE_INV_BALANCE,
                                  "members %u and %u: %u lent %llu, %u borrowed %llu; %u lent "
                                  "%llu, %u borrowed %llu (milli vCPU-hour equivalents)",
                                  a, b, a, (unsigned long long) report.a_lent_milli, b,
                                  (unsigned long long) report.b_borrowed_milli, b,
                                  (unsigned long long) report.b_lent_milli, a,
                                  (unsigned long long) report.a_borrowed_milli);
            }
        }
    }
}

static void check_balance(sim_lease_world *world)
{
    uint64_t lent = 0;
    uint64_t borrowed = 0;
    for (uint32_t i = 0; i < world->config->node_count; i++) {
        const ledger *handle = world->nodes[i].ledger_handle;
        uint32_t count = ledger_balance_count(handle);
        for (uint32_t k = 0; k < count; k++) {
            ledger_balance balance;
            ledger_balance_at(handle, k, &balance);
            if (of_run_class(world, balance.resource_class, balance.model)) {
                world->result.lent_vcpu_milli_hours += balance.lent_milli;
            }
            if (!honest_index(world, sim_lease_index_of_key(world, balance.peer_key))) {
                continue; // a hostile member's side of it is in no honest ledger
            }
            lent += balance.lent_milli;
            borrowed += balance.borrowed_milli;
        }
    }
    if (lent != borrowed) {
        sim_lease_violate(world, SIM_LEASE_INV_BALANCE,
                          "honest members lent %llu and borrowed %llu milli unit-hours "
                          "between them",
                          (unsigned long long) lent, (unsigned long long) borrowed);
    }
}

typedef struct end_walk {
    sim_lease_world *world;
    uint32_t index;
    uint32_t state;
} end_walk;

static bool end_visit(void *arg, const ledger_lease *lease)
{
    end_walk *walk = arg;
    sim_lease_world *world = walk->world;
    uint32_t peer = sim_lease_index_of_key(world, lease->peer_key);
    if (!honest_index(world, peer)) {
        world->result.hostile_unsettled++;
        return true;
    }
    char id[33];
    sim_lease_hex_id(lease->lease_id, id);
    sim_lease_violate(world, SIM_LEASE_INV_END,
                      "lease %s is still %s in member %u's ledger after the drain (%u records, "
                      "%s member %u)",
                      id, ledger_lease_state_name(walk->state), walk->index, lease->record_count,
                      lease->self_is_lender ? "lent to" : "borrowed from", peer);
    return true;
}

static void check_ends(sim_lease_world *world)
{
    static const uint32_t unsettled[] = {LEDGER_LEASE_OPEN, LEDGER_LEASE_RECLAIMED,
                                         LEDGER_LEASE_RELEASED, LEDGER_LEASE_EXPIRED};
    for (uint32_t i = 0; i < world->config->node_count; i++) {
        for (uint32_t s = 0; s < MESH_ARRAY_COUNT(unsettled); s++) {
            end_walk walk = {.world = world, .index = i, .state = unsettled[s]};
            mesh_err err =
                ledger_lease_list(world->nodes[i].ledger_handle, unsettled[s], end_visit, &walk);
            if (err != MESH_OK) {
                sim_lease_violate(world, SIM_LEASE_INV_LEDGER,
                                  "member %u: its ledger cannot list its leases: %s", i,
                                  mesh_err_name(err));
            }
        }
    }
}

static bool settled_in(const sim_lease_world *world, uint32_t index, const uint8_t *lease_id)
{
    ledger_lease lease;
    return ledger_lease_get(world->nodes[index].ledger_handle, lease_id, &lease) == MESH_OK &&
           lease.state == LEDGER_LEASE_SETTLED;
}

static void count_leases(sim_lease_world *world)
{
    const sim_lease_checker *checker = &world->checker;
    for (uint32_t i = 0; i < checker->lease_slots; i++) {
        const sim_lease_row *row = &checker->leases[i];
        if (!row->used) {
            continue;
        }
        world->result.leases_granted++;
        bool lender_honest = honest_index(world, row->lender);
        bool borrower_honest = honest_index(world, row->borrower);
        if (!lender_honest || !borrower_honest) {
            world->result.leases_hostile++;
        }
        if ((!lender_honest || settled_in(world, row->lender, row->lease_id)) &&
            (!borrower_honest || settled_in(world, row->borrower, row->lease_id))) {
            world->result.leases_settled++;
        }
    }
}

static void verify_ledgers(sim_lease_world *world)
{
    for (uint32_t i = 0; i < world->config->node_count; i++) {
        ledger_verify_report report;
        mesh_err err =
            ledger_verify(&world->nodes[i].mem_vtable, 86400ull * MESH_NS_PER_S, &report);
        if (err != MESH_OK) {
            sim_lease_violate(world, SIM_LEASE_INV_LEDGER, "member %u: ledger_verify: %s at %s: %s",
                              i, mesh_err_name(err), report.bad_key, report.reason);
        }
    }
}

mesh_err sim_lease_check_end(sim_lease_world *world)
{
    for (uint32_t i = 0; i < world->config->node_count; i++) {
        if (world->nodes[i].crashed || world->nodes[i].ledger_handle == NULL) {
            return MESH_EINTERNAL; // every crash restarts before the drain
        }
    }
    check_pairs(world);
    check_balance(world);
    check_ends(world);
    count_leases(world);
    if (world->config->verify_ledgers) {
        verify_ledgers(world);
    }
    return world->fatal;
}
