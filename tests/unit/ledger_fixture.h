/*
 * tests/unit/ledger_fixture.h: helpers the ledger tests share (unit and
 * property): deterministic key pairs, records (version 2; an OPENED record
 * gets realistic terms), a memory-store ledger, and an acknowledgement
 * collector. Header-only, static functions; a test includes it once.
 */
#ifndef TESTS_UNIT_LEDGER_FIXTURE_H
#define TESTS_UNIT_LEDGER_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "ledger/ledger.h"
#include "ledger/ledger_int.h"
#include "wire/wire.h"

#define FIXTURE_PARTIES_MAX 8u
#define FIXTURE_ACKS_MAX    65536u
#define FIXTURE_HOUR_NS     3600000000000ll

typedef struct fixture_party {
    mcrypto_keypair keys;
} fixture_party;

static inline void fixture_party_make(fixture_party *party, uint32_t index)
{
    uint8_t seed[MCRYPTO_SEED_SIZE];
    memset(seed, 0, sizeof(seed));
    seed[0] = (uint8_t) (index + 1);
    seed[31] = 0x5a;
    if (mcrypto_keypair_from_seed(seed, &party->keys) != MESH_OK) {
        abort();
    }
}

static inline void fixture_code(char code[3], const char *text)
{
    code[0] = text[0];
    code[1] = text[1];
    code[2] = '\0';
}

/* Terms for an OPENED record whose amounts are set: a four-hour window
 * from the record's time, a price per amount (a vCPU-hour 0.04 EUR, a
 * GiB-hour of memory 0.005, a GPU-hour 2.50, a GiB-hour of storage
 * 0.0001), a lender certified in France (EU, SecNumCloud and ISO 27001,
 * a low-carbon grid) and the constraints of a borrower who keeps its
 * health data in four EU countries. The certificate hash is a fake one
 * derived from the lender's key. */
static inline void fixture_terms(ledger_record *record, const uint8_t lender_key[LEDGER_KEY_SIZE])
{
    static const uint64_t price_by_class[LEDGER_CLASS_MAX + 1] = {0, 40000, 5000, 2500000, 100};
    ledger_terms *t = &record->terms;
    memset(t, 0, sizeof(*t));
    t->start_ns = record->time_ns > 0 ? record->time_ns : 1;
    t->end_ns = t->start_ns + 4 * FIXTURE_HOUR_NS;
    t->price_count = record->amount_count;
    for (uint32_t i = 0; i < record->amount_count; i++) {
        t->prices[i] = price_by_class[record->amounts[i].resource_class];
    }
    for (uint32_t i = 0; i < LEDGER_HASH_SIZE; i++) {
        t->lender_cert_hash[i] = (uint8_t) (lender_key[i] ^ 0xc3);
    }
    fixture_code(t->lender_country, "FR");
    t->lender_jurisdiction_count = 2;
    fixture_code(t->lender_jurisdictions[0], "EU");
    fixture_code(t->lender_jurisdictions[1], "FR");
    t->lender_certifications = WIRE_CERTIFICATION_SECNUMCLOUD | WIRE_CERTIFICATION_ISO27001;
    t->carbon_gco2_per_kwh = 52;
    ledger_constraints *c = &t->constraints;
    static const char *const countries[] = {"BE", "DE", "FR", "NL"};
    c->country_count = 4;
    for (uint32_t i = 0; i < 4; i++) {
        fixture_code(c->countries[i], countries[i]);
    }
    c->jurisdiction_count = 1;
    fixture_code(c->jurisdictions[0], "EU");
    c->certifications = WIRE_CERTIFICATION_ISO27001;
    memcpy(c->data_class, "health-data", sizeof("health-data"));
    c->rtt_us_max = 20000;
    c->cost_microeur_per_hour_max = 50000000;
    c->carbon_gco2_per_kwh_max = 200;
}

/* A record between lender and borrower; amounts from a small table. */
static inline void fixture_record(ledger_record *record,
                                  uint32_t kind,
                                  const uint8_t lease_id[LEDGER_LEASE_ID_SIZE],
                                  uint32_t number,
                                  const fixture_party *lender,
                                  const fixture_party *borrower,
                                  int64_t time_ns,
                                  uint64_t vcpu_milli,
                                  uint64_t gpu_milli)
{
    memset(record, 0, sizeof(*record));
    record->version = LEDGER_RECORD_VERSION;
    record->kind = kind;
    memcpy(record->lease_id, lease_id, LEDGER_LEASE_ID_SIZE);
    record->number = number;
    memcpy(record->lender_key, lender->keys.public_key, LEDGER_KEY_SIZE);
    memcpy(record->borrower_key, borrower->keys.public_key, LEDGER_KEY_SIZE);
    record->time_ns = time_ns;
    bool no_amounts = kind == LEDGER_KIND_RECLAIMED || kind == LEDGER_KIND_RELEASED ||
                      kind == LEDGER_KIND_EXPIRED;
    if (no_amounts) {
        return;
    }
    if (vcpu_milli > 0) {
        ledger_amount *a = &record->amounts[record->amount_count++];
        a->resource_class = LEDGER_CLASS_VCPU;
        a->amount_milli = vcpu_milli;
    }
    if (gpu_milli > 0) {
        ledger_amount *a = &record->amounts[record->amount_count++];
        a->resource_class = LEDGER_CLASS_GPU;
        memcpy(a->model, "A100-80GB", sizeof("A100-80GB"));
        a->amount_milli = gpu_milli;
    }
    if (kind == LEDGER_KIND_OPENED) {
        fixture_terms(record, lender->keys.public_key);
    }
}

static inline void fixture_lease_id(uint8_t id[LEDGER_LEASE_ID_SIZE], uint64_t number)
{
    memset(id, 0, LEDGER_LEASE_ID_SIZE);
    ledger_put_u64(id, number);
    id[15] = 0x11;
}

/* Appends a record signed by both parties. */
static inline mesh_err fixture_append_signed(ledger *l,
                                             const ledger_record *record,
                                             const fixture_party *lender,
                                             const fixture_party *borrower,
                                             uint64_t token,
                                             uint64_t *seq_out)
{
    uint8_t lender_signature[LEDGER_SIGNATURE_SIZE];
    uint8_t borrower_signature[LEDGER_SIGNATURE_SIZE];
    if (ledger_record_sign(record, lender->keys.secret_key, lender_signature) != MESH_OK ||
        ledger_record_sign(record, borrower->keys.secret_key, borrower_signature) != MESH_OK) {
        abort();
    }
    return ledger_append(l, record, lender_signature, borrower_signature, token, seq_out);
}

typedef struct fixture_acks {
    uint64_t tokens[FIXTURE_ACKS_MAX];
    uint64_t seqs[FIXTURE_ACKS_MAX];
    uint32_t count;
} fixture_acks;

static inline void fixture_on_ack(void *arg, uint64_t token, uint64_t seq)
{
    fixture_acks *acks = arg;
    if (acks->count < FIXTURE_ACKS_MAX) {
        acks->tokens[acks->count] = token;
        acks->seqs[acks->count] = seq;
        acks->count++;
    }
}

static inline ledger_config fixture_config(const fixture_party *self)
{
    ledger_config config;
    ledger_config_default(&config);
    memcpy(config.self_key, self->keys.public_key, LEDGER_KEY_SIZE);
    config.leases_max = 4096;
    config.balance_rows_max = 256;
    config.peers_max = 64;
    config.group_records_max = 64;
    return config;
}

#endif /* TESTS_UNIT_LEDGER_FIXTURE_H */
