/*
 * tests/property/ledger_model.h: a model of leases between a few parties
 * that draws random, valid next events from a seeded mesh_rng, for the
 * ledger property tests. Header-only.
 */
#ifndef TESTS_PROPERTY_LEDGER_MODEL_H
#define TESTS_PROPERTY_LEDGER_MODEL_H

#include "tests/unit/ledger_fixture.h"

#define MODEL_LEASES_MAX 2048u

typedef struct model_lease {
    bool used;
    uint8_t id[LEDGER_LEASE_ID_SIZE];
    uint32_t lender;
    uint32_t borrower;
    uint32_t state;
    uint32_t next_number;
} model_lease;

typedef struct model {
    fixture_party parties[FIXTURE_PARTIES_MAX];
    uint32_t party_count;
    model_lease leases[MODEL_LEASES_MAX];
    uint32_t lease_count;
    uint64_t next_id;
    int64_t now_ns;
} model;

static inline void model_init(model *m, uint32_t party_count, uint64_t id_base)
{
    memset(m, 0, sizeof(*m));
    m->party_count = party_count;
    for (uint32_t i = 0; i < party_count; i++) {
        fixture_party_make(&m->parties[i], i);
    }
    m->next_id = id_base;
    m->now_ns = 1795000000000000000ll;
}

static inline void model_amounts(ledger_record *record, mesh_rng *rng)
{
    record->amount_count = 0;
    static const char *const models[] = {"A100-80GB", "H100", "L40S"};
    if (mesh_rng_below(rng, 4) != 0) {
        ledger_amount *a = &record->amounts[record->amount_count++];
        a->resource_class = LEDGER_CLASS_VCPU;
        a->amount_milli = mesh_rng_below(rng, 100000000);
    }
    if (mesh_rng_below(rng, 3) == 0) {
        ledger_amount *a = &record->amounts[record->amount_count++];
        a->resource_class = LEDGER_CLASS_MEMORY_GIB;
        a->amount_milli = mesh_rng_below(rng, 100000000);
    }
    if (mesh_rng_below(rng, 3) == 0) {
        ledger_amount *a = &record->amounts[record->amount_count++];
        a->resource_class = LEDGER_CLASS_GPU;
        const char *name = models[mesh_rng_below(rng, 3)];
        memcpy(a->model, name, strlen(name) + 1);
        a->amount_milli = mesh_rng_below(rng, 10000000);
    }
    // Storage in GiB-hours: amounts large and small, so that the 1/1024
    // weight leaves fractions for the exact sums to carry.
    if (mesh_rng_below(rng, 4) == 0) {
        ledger_amount *a = &record->amounts[record->amount_count++];
        a->resource_class = LEDGER_CLASS_STORAGE_GIB;
        a->amount_milli = mesh_rng_below(rng, 2) == 0 ? mesh_rng_below(rng, 5000)
                                                      : mesh_rng_below(rng, 1000000000);
    }
}

/* Draws the next event among leases that involve `only` (or any party
 * when only >= party_count). Returns the lease's index in *lease_out. */
static inline void
model_next(model *m, mesh_rng *rng, uint32_t only, ledger_record *record, uint32_t *lease_out)
{
    memset(record, 0, sizeof(*record));
    record->version = LEDGER_RECORD_VERSION;
    m->now_ns += (int64_t) mesh_rng_below(rng, 3600ull * MESH_NS_PER_S);
    for (uint32_t attempt = 0; attempt < 64; attempt++) {
        uint64_t roll = mesh_rng_below(rng, 100);
        bool fresh = roll < 25 || roll >= 95 || m->lease_count == 0;
        if (fresh && m->lease_count < MODEL_LEASES_MAX) {
            model_lease *lease = &m->leases[m->lease_count];
            memset(lease, 0, sizeof(*lease));
            lease->lender = (uint32_t) mesh_rng_below(rng, m->party_count);
            lease->borrower = (uint32_t) mesh_rng_below(rng, m->party_count - 1);
            if (lease->borrower >= lease->lender) {
                lease->borrower++;
            }
            if (only < m->party_count && lease->lender != only && lease->borrower != only) {
                lease->borrower = lease->lender == only ? lease->borrower : only;
                if (lease->borrower == lease->lender) {
                    continue;
                }
            }
            fixture_lease_id(lease->id, m->next_id++);
            lease->used = true;
            record->kind = roll >= 95 ? LEDGER_KIND_CREDIT : LEDGER_KIND_OPENED;
            lease->state = roll >= 95 ? LEDGER_LEASE_CREDIT : LEDGER_LEASE_OPEN;
            lease->next_number = 1;
            *lease_out = m->lease_count++;
        } else {
            uint32_t index = (uint32_t) mesh_rng_below(rng, m->lease_count);
            model_lease *lease = &m->leases[index];
            if (!lease->used) {
                continue;
            }
            bool ended = lease->state == LEDGER_LEASE_RECLAIMED ||
                         lease->state == LEDGER_LEASE_RELEASED ||
                         lease->state == LEDGER_LEASE_EXPIRED;
            if (roll < 65 && (lease->state == LEDGER_LEASE_OPEN || ended)) {
                record->kind = LEDGER_KIND_USAGE;
            } else if (roll < 85 && lease->state == LEDGER_LEASE_OPEN) {
                record->kind = LEDGER_KIND_RECLAIMED + (uint32_t) mesh_rng_below(rng, 3);
                lease->state = record->kind == LEDGER_KIND_RECLAIMED  ? LEDGER_LEASE_RECLAIMED
                               : record->kind == LEDGER_KIND_RELEASED ? LEDGER_LEASE_RELEASED
                                                                      : LEDGER_LEASE_EXPIRED;
            } else if (ended) {
                record->kind = LEDGER_KIND_SETTLED;
                lease->state = LEDGER_LEASE_SETTLED;
            } else {
                continue;
            }
            record->number = lease->next_number++;
            *lease_out = index;
        }
        const model_lease *lease = &m->leases[*lease_out];
        memcpy(record->lease_id, lease->id, LEDGER_LEASE_ID_SIZE);
        memcpy(record->lender_key, m->parties[lease->lender].keys.public_key, LEDGER_KEY_SIZE);
        memcpy(record->borrower_key, m->parties[lease->borrower].keys.public_key, LEDGER_KEY_SIZE);
        record->time_ns = m->now_ns;
        bool no_amounts =
            record->kind >= LEDGER_KIND_RECLAIMED && record->kind <= LEDGER_KIND_EXPIRED;
        if (!no_amounts) {
            model_amounts(record, rng);
        }
        if (record->kind == LEDGER_KIND_OPENED) {
            fixture_terms(record, record->lender_key);
        }
        return;
    }
    // Nothing drawn (all attempts hit dead leases): open a fresh lease
    // between the first two parties that involve `only`.
    uint32_t lender = only < m->party_count ? only : 0;
    uint32_t borrower = (lender + 1) % m->party_count;
    MESH_ASSERT(m->lease_count < MODEL_LEASES_MAX);
    model_lease *lease = &m->leases[m->lease_count];
    memset(lease, 0, sizeof(*lease));
    *lease = (model_lease){.used = true,
                           .lender = lender,
                           .borrower = borrower,
                           .state = LEDGER_LEASE_OPEN,
                           .next_number = 1};
    fixture_lease_id(lease->id, m->next_id++);
    *lease_out = m->lease_count++;
    record->kind = LEDGER_KIND_OPENED;
    memcpy(record->lease_id, lease->id, LEDGER_LEASE_ID_SIZE);
    memcpy(record->lender_key, m->parties[lender].keys.public_key, LEDGER_KEY_SIZE);
    memcpy(record->borrower_key, m->parties[borrower].keys.public_key, LEDGER_KEY_SIZE);
    record->time_ns = m->now_ns;
    fixture_terms(record, record->lender_key);
}

#endif /* TESTS_PROPERTY_LEDGER_MODEL_H */
