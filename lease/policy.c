/*
 * lease/policy.c: the rules both roles apply: constraints against
 * certified facts, what a lender can lend, and usage arithmetic.
 *
 * Constraints are checked against a member's root-signed certificate
 * (country, jurisdictions, certifications), never against its advert; the
 * same function runs on both sides (the borrower when it picks lenders and
 * when it checks an offer, the lender on its own certificate before it
 * offers), so that a lease breaking a constraint needs both sides to be
 * wrong in the same way.
 *
 * Arithmetic is integer and exact: usage is reserved milli-units times
 * nanoseconds over 3.6 * 10^12, in 128 bits, rounded down, so that both
 * sides compute the same number from the same record.
 */
#include <string.h>

#include <sodium.h>

#include "lease/lease_int.h"

__extension__ typedef unsigned __int128 lease_u128;

static bool holds_jurisdiction(const char *code, uint32_t count, const char (*list)[3])
{
    for (uint32_t i = 0; i < count; i++) {
        if (strcmp(list[i], code) == 0) {
            return true;
        }
    }
    return false;
}

uint32_t lease_constraints_check(const wire_lease_constraints *c,
                                 const char *country,
                                 uint32_t jurisdiction_count,
                                 const char (*jurisdictions)[3],
                                 uint32_t certifications)
{
    MESH_ASSERT(c->country_count <= WIRE_LEASE_COUNTRIES_MAX);
    MESH_ASSERT(c->jurisdiction_count <= WIRE_JURISDICTIONS_MAX);
    if (c->country_count > 0) {
        bool allowed = false;
        for (uint32_t i = 0; i < c->country_count; i++) {
            allowed = allowed || strcmp(c->countries[i], country) == 0;
        }
        if (!allowed) {
            return WIRE_LEASE_REFUSAL_COUNTRY;
        }
    }
    for (uint32_t i = 0; i < c->jurisdiction_count; i++) {
        if (!holds_jurisdiction(c->jurisdictions[i], jurisdiction_count, jurisdictions)) {
            return WIRE_LEASE_REFUSAL_JURISDICTION;
        }
    }
    if ((c->certifications & ~certifications) != 0) {
        return WIRE_LEASE_REFUSAL_CERTIFICATION;
    }
    return 0;
}

uint64_t lease_cost_per_hour(const ledger_record *opened)
{
    MESH_ASSERT(opened->terms.price_count == opened->amount_count);
    lease_u128 total = 0;
    for (uint32_t i = 0; i < opened->amount_count; i++) {
        // amounts are milli-units reserved; prices per unit-hour
        total += (lease_u128) opened->amounts[i].amount_milli * opened->terms.prices[i] / 1000u;
    }
    return total > UINT64_MAX ? UINT64_MAX : (uint64_t) total;
}

lease_class_state *lease_class_find(lease_machine *m, uint32_t resource_class, const char *model)
{
    for (uint32_t i = 0; i < m->config.class_count; i++) {
        lease_class_state *state = &m->classes[i];
        if (state->policy.resource_class == resource_class &&
            strcmp(state->policy.model, model) == 0) {
            return state;
        }
    }
    return NULL;
}

uint64_t lease_class_free_to_lend(const lease_class_state *state)
{
    const lease_class_policy *p = &state->policy;
    if (state->booked >= p->lendable) {
        return 0;
    }
    uint64_t by_policy = p->lendable - state->booked;
    // Own capacity left once local demand, leases and the reserve for
    // local peaks are taken; borrowed capacity never counts here.
    uint64_t taken = state->booked + state->local_demand + p->keep;
    uint64_t by_capacity = taken >= p->total ? 0 : p->total - taken;
    return by_policy < by_capacity ? by_policy : by_capacity;
}

uint64_t lease_usage_milli(uint64_t reserved_milli, int64_t from_ns, int64_t to_ns)
{
    if (to_ns <= from_ns) {
        return 0;
    }
    lease_u128 product = (lease_u128) reserved_milli * (uint64_t) (to_ns - from_ns);
    lease_u128 usage = product / LEASE_HOUR_NS;
    return usage > LEDGER_AMOUNT_MILLI_MAX ? LEDGER_AMOUNT_MILLI_MAX : (uint64_t) usage;
}

// Units booked or borrowed by one lease, per class of this node.
static void apply_amounts(lease_machine *m, const ledger_record *opened, bool add, bool lent)
{
    for (uint32_t i = 0; i < opened->amount_count; i++) {
        const ledger_amount *amount = &opened->amounts[i];
        uint64_t units = (amount->amount_milli + 999u) / 1000u;
        lease_class_state *state = lease_class_find(m, amount->resource_class, amount->model);
        if (state == NULL) {
            MESH_ASSERT(!lent); // a lender lends only classes it has
            continue;           // borrowed classes this node does not have are not tracked
        }
        uint64_t *counter = lent ? &state->booked : &state->borrowed;
        if (add) {
            *counter += units;
        } else {
            MESH_ASSERT(*counter >= units);
            *counter -= units;
        }
    }
}

void lease_book(lease_machine *m, lease_slot *slot, bool book)
{
    MESH_ASSERT(slot->self_is_lender);
    MESH_ASSERT(slot->has_opened);
    MESH_ASSERT(slot->booked != book);
    apply_amounts(m, &slot->opened, book, true);
    slot->booked = book;
}

void lease_borrowed_add(lease_machine *m, const lease_slot *slot, bool add)
{
    MESH_ASSERT(!slot->self_is_lender);
    apply_amounts(m, &slot->opened, add, false);
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

bool lease_constraints_equal(const wire_lease_constraints *w, const ledger_constraints *l)
{
    return codes_equal(w->country_count, w->countries, l->country_count, l->countries) &&
           codes_equal(w->jurisdiction_count, w->jurisdictions, l->jurisdiction_count,
                       l->jurisdictions) &&
           w->certifications == l->certifications && strcmp(w->data_class, l->data_class) == 0 &&
           w->rtt_us_max == l->rtt_us_max &&
           w->cost_microeur_per_hour_max == l->cost_microeur_per_hour_max &&
           w->carbon_gco2_per_kwh_max == l->carbon_gco2_per_kwh_max;
}

bool lease_facts_equal(const ledger_terms *terms, const lease_peer *peer)
{
    return sodium_memcmp(terms->lender_cert_hash, peer->cert_hash, LEDGER_HASH_SIZE) == 0 &&
           strcmp(terms->lender_country, peer->country) == 0 &&
           codes_equal(terms->lender_jurisdiction_count, terms->lender_jurisdictions,
                       peer->jurisdiction_count, peer->jurisdictions) &&
           terms->lender_certifications == peer->certifications;
}

static void copy_code(char out[3], const char *in)
{
    size_t size = strlen(in);
    MESH_ASSERT(size <= 2);
    memcpy(out, in, size + 1);
}

void lease_constraints_to_ledger(const wire_lease_constraints *w, ledger_constraints *l_out)
{
    _Static_assert(LEDGER_COUNTRIES_MAX == WIRE_LEASE_COUNTRIES_MAX, "one limit");
    _Static_assert(LEDGER_JURISDICTIONS_MAX == WIRE_JURISDICTIONS_MAX, "one limit");
    _Static_assert(LEDGER_DATA_CLASS_SIZE_MAX == WIRE_DATA_CLASS_SIZE_MAX, "one limit");
    MESH_ASSERT(w->country_count <= LEDGER_COUNTRIES_MAX);
    MESH_ASSERT(w->jurisdiction_count <= LEDGER_JURISDICTIONS_MAX);
    memset(l_out, 0, sizeof(*l_out));
    l_out->country_count = w->country_count;
    for (uint32_t i = 0; i < w->country_count; i++) {
        copy_code(l_out->countries[i], w->countries[i]);
    }
    l_out->jurisdiction_count = w->jurisdiction_count;
    for (uint32_t i = 0; i < w->jurisdiction_count; i++) {
        copy_code(l_out->jurisdictions[i], w->jurisdictions[i]);
    }
    l_out->certifications = w->certifications;
    size_t size = strlen(w->data_class);
    MESH_ASSERT(size <= LEDGER_DATA_CLASS_SIZE_MAX);
    memcpy(l_out->data_class, w->data_class, size + 1);
    l_out->rtt_us_max = w->rtt_us_max;
    l_out->cost_microeur_per_hour_max = w->cost_microeur_per_hour_max;
    l_out->carbon_gco2_per_kwh_max = w->carbon_gco2_per_kwh_max;
}

void lease_request_hash(const wire_lease_request *request, uint8_t hash_out[16])
{
    uint8_t body[2048];
    uint32_t size = 0;
    MESH_ASSERT(wire_lease_request_encode(request, body, sizeof(body), &size) == MESH_OK);
    MESH_ASSERT(crypto_generichash(hash_out, 16, body, size, NULL, 0) == 0);
}

mesh_err lease_record_verify(const ledger_record *record,
                             const uint8_t key[LEDGER_KEY_SIZE],
                             const uint8_t signature[LEDGER_SIGNATURE_SIZE])
{
    return ledger_record_verify(record, key, signature);
}

bool lease_record_same(const ledger_record *a, const ledger_record *b)
{
    uint8_t bytes_a[LEDGER_RECORD_SIZE_MAX];
    uint8_t bytes_b[LEDGER_RECORD_SIZE_MAX];
    uint32_t size_a = 0;
    uint32_t size_b = 0;
    if (ledger_record_encode(a, bytes_a, sizeof(bytes_a), &size_a) != MESH_OK ||
        ledger_record_encode(b, bytes_b, sizeof(bytes_b), &size_b) != MESH_OK) {
        return false;
    }
    return size_a == size_b && memcmp(bytes_a, bytes_b, size_a) == 0;
}
