/*
 * sim/lease_json.c: the result of a lease run as one JSON object.
 *
 * As sim/json.c for the gossip scenario: the text is part of what the
 * digest covers, so keys come in a fixed order and every number is printed
 * from integers (vCPU-hours from milli vCPU-hours, seconds from
 * nanoseconds). Violation descriptions are built by the checker from
 * names, numbers and hex ids only, so nothing needs escaping.
 */
#include <stdarg.h>
#include <stdio.h>

#include "sim/lease_int.h"

static const char *const attack_names[SIM_LEASE_ATTACK_COUNT] = {
    "withheld", "false_terms",   "overcharge",    "late", "twice",
    "replay",   "forged_signer", "forged_record", "crash"};

const char *sim_lease_attack_name(uint32_t attack)
{
    return attack < SIM_LEASE_ATTACK_COUNT ? attack_names[attack] : "unknown";
}

typedef struct text {
    char *buf;
    uint32_t size;
    uint32_t used;
    bool overflow;
} text;

__attribute__((format(printf, 2, 3))) static void put(text *out, const char *format, ...)
{
    if (out->overflow) {
        return;
    }
    va_list args;
    va_start(args, format);
    int written = vsnprintf(out->buf + out->used, out->size - out->used, format, args);
    va_end(args);
    if (written < 0 || (uint32_t) written >= out->size - out->used) {
        out->overflow = true;
        return;
    }
    out->used += (uint32_t) written;
}

static void put_u64(text *out, const char *key, uint64_t value)
{
    put(out, ",\"%s\":%llu", key, (unsigned long long) value);
}

/* A whole number of thousandths as a decimal with three places. */
static void put_milli(text *out, const char *key, uint64_t milli)
{
    put(out, ",\"%s\":%llu.%03llu", key, (unsigned long long) (milli / 1000u),
        (unsigned long long) (milli % 1000u));
}

mesh_err sim_lease_json_body(const sim_lease_result *result,
                             bool with_digest,
                             char *buf,
                             uint32_t buf_size,
                             uint32_t *size_out)
{
    MESH_ASSERT(result != NULL && buf != NULL && size_out != NULL && buf_size > 0);
    const sim_lease_config *config = &result->config;
    text out = {.buf = buf, .size = buf_size};
    put(&out, "{\"scenario\":\"leases\"");
    put_u64(&out, "seed", config->seed);
    put(&out, ",\"members\":%u", config->node_count);
    put(&out, ",\"hostile\":%u", config->hostile_count);
    put(&out, ",\"loss\":%u.%06u", config->loss_ppm / SIM_PPM, config->loss_ppm % SIM_PPM);
    put(&out, ",\"crash\":%u", config->crash_count);
    put_milli(&out, "minutes", config->workload_ns / (60u * MESH_NS_PER_MS));
    put_u64(&out, "drain_s", config->drain_ns / MESH_NS_PER_S);
    put(&out, ",\"inject_violation\":%s", config->inject_violation ? "true" : "false");

    put_milli(&out, "sim_s", result->end_ns / MESH_NS_PER_MS);
    put_u64(&out, "events", result->events);
    put_u64(&out, "sends", result->sends);
    put_u64(&out, "delivered", result->delivered);
    put(&out, ",\"dropped\":{\"loss\":%llu,\"down\":%llu,\"address\":%llu,\"overflow\":%llu}",
        (unsigned long long) result->dropped[SIM_VERDICT_LOSS],
        (unsigned long long) result->dropped[SIM_VERDICT_DOWN],
        (unsigned long long) result->dropped[SIM_VERDICT_ADDRESS],
        (unsigned long long) result->dropped[SIM_VERDICT_OVERFLOW]);
    put_u64(&out, "call_errors", result->call_errors);
    put_u64(&out, "late_ticks", result->late_ticks);
    put_u64(&out, "stuck_deadlines", result->stuck_deadlines);
    if (result->stuck_deadlines > 0) {
        put(&out, ",\"stuck_first\":{\"member\":%u", result->stuck_first_member);
        put_milli(&out, "at_s", result->stuck_first_ns / MESH_NS_PER_MS);
        put(&out, "}");
    }
    put_u64(&out, "ledger_writes", result->ledger_writes);
    put_u64(&out, "records_written", result->records_written);

    put_u64(&out, "leases_granted", result->leases_granted);
    put_u64(&out, "leases_settled", result->leases_settled);
    put_u64(&out, "leases_hostile", result->leases_hostile);
    put_u64(&out, "hostile_unsettled", result->hostile_unsettled);
    put_milli(&out, "lent_vcpu_hours", result->lent_vcpu_milli_hours);
    put(&out, ",\"borrows\":{\"granted\":%llu,\"partial\":%llu,\"refused\":%llu}",
        (unsigned long long) result->borrows[LEASE_BORROW_GRANTED],
        (unsigned long long) result->borrows[LEASE_BORROW_PARTIAL],
        (unsigned long long) result->borrows[LEASE_BORROW_REFUSED]);
    put_u64(&out, "direct_borrows", result->direct_borrows);
    put_u64(&out, "releases", result->releases);
    put_u64(&out, "burst_borrows", result->burst_borrows);
    put_u64(&out, "burst_releases", result->burst_releases);
    put_u64(&out, "reclaims", result->reclaims);
    put_u64(&out, "late_acceptances", result->late_acceptances);
    put(&out, ",\"refusals\":{");
    for (uint32_t r = 1; r <= WIRE_LEASE_REFUSAL_MAX; r++) {
        put(&out, "%s\"%s\":%llu", r == 1 ? "" : ",", wire_lease_refusal_name(r),
            (unsigned long long) result->refusals[r]);
    }
    put(&out, "}");
    put(&out, ",\"rejected\":{");
    for (uint32_t r = 0; r < LEASE_REJECT_COUNT; r++) {
        put(&out, "%s\"%s\":%llu", r == 0 ? "" : ",", lease_reject_name((lease_reject) r),
            (unsigned long long) result->rejected[r]);
    }
    put(&out, "}");
    put_u64(&out, "crashes", result->crashes);
    put(&out, ",\"attacks\":{");
    for (uint32_t a = 0; a < SIM_LEASE_ATTACK_COUNT; a++) {
        put(&out, "%s\"%s\":%llu", a == 0 ? "" : ",", sim_lease_attack_name(a),
            (unsigned long long) result->attacks[a]);
    }
    put(&out, "}");
    put_u64(&out, "hostile_overpromised_vcpu_max", result->hostile_overpromised_vcpu_max);
    put_u64(&out, "reconciled_pairs", result->reconciled_pairs);
    put_u64(&out, "reconciled_pairs_crashed", result->reconciled_pairs_crashed);
    put_u64(&out, "reconciled_records", result->reconciled_records);
    put_u64(&out, "capacity_checks", result->checks);
    put(&out, ",\"invariants\":{");
    for (uint32_t i = 0; i < SIM_LEASE_INVARIANT_COUNT; i++) {
        put(&out, "%s\"%s\":%llu", i == 0 ? "" : ",", sim_lease_invariant_name(i),
            (unsigned long long) result->invariant[i]);
    }
    put(&out, "}");
    put_u64(&out, "invariant_violations", result->invariant_violations);
    put_u64(&out, "policy_violations", result->policy_violations);
    put(&out, ",\"violations\":[");
    for (uint32_t v = 0; v < result->violation_count && v < SIM_LEASE_VIOLATIONS_KEPT; v++) {
        const sim_lease_violation *violation = &result->violations[v];
        uint64_t ms = violation->at_ns / MESH_NS_PER_MS;
        put(&out, "%s{\"invariant\":\"%s\",\"at_s\":%llu.%03llu,\"what\":\"%s\"}",
            v == 0 ? "" : ",",
            violation->invariant < SIM_LEASE_INVARIANT_COUNT
                ? sim_lease_invariant_name(violation->invariant)
                : "policy",
            (unsigned long long) (ms / 1000u), (unsigned long long) (ms % 1000u), violation->what);
    }
    put(&out, "]");
    if (with_digest) {
        put(&out, ",\"digest\":\"");
        for (uint32_t i = 0; i < SIM_DIGEST_SIZE; i++) {
            put(&out, "%02x", result->digest[i]);
        }
        put(&out, "\"");
    }
    put(&out, "}");
    if (out.overflow) {
        return MESH_EFULL;
    }
    *size_out = out.used;
    return MESH_OK;
}
