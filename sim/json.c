/*
 * sim/json.c: the result of a gossip run as one JSON object.
 *
 * The text is part of what the digest covers, so it must be the same on
 * every platform for the same run: keys come in a fixed order, times are
 * printed from integer nanoseconds with millisecond precision, the loss
 * from integer parts per million, and the two rates are plain quotients
 * printed with three decimals. A time never reached prints as null.
 *
 * No JSON library: sim/ is a core directory and may not link jansson; the
 * object is flat text with fixed keys, so nothing needs escaping.
 */
#include <stdarg.h>
#include <stdio.h>

#include "sim/sim_int.h"

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

/* Seconds with millisecond precision, or null. */
static void put_seconds(text *out, const char *key, uint64_t ns)
{
    if (ns == SIM_TIME_NONE) {
        put(out, ",\"%s\":null", key);
        return;
    }
    uint64_t ms = ns / MESH_NS_PER_MS;
    put(out, ",\"%s\":%llu.%03llu", key, (unsigned long long) (ms / 1000u),
        (unsigned long long) (ms % 1000u));
}

/* Probe intervals, rounded up, or null. */
static void put_rounds(text *out, const char *key, uint64_t ns, uint64_t interval_ns)
{
    if (ns == SIM_TIME_NONE) {
        put(out, ",\"%s\":null", key);
        return;
    }
    put(out, ",\"%s\":%llu", key, (unsigned long long) ((ns + interval_ns - 1u) / interval_ns));
}

static void
put_rate(text *out, const char *key, uint64_t amount, uint32_t nodes, uint64_t window_ns)
{
    if (window_ns == 0 || nodes == 0) {
        put(out, ",\"%s\":null", key);
        return;
    }
    double rate = (double) amount / (double) nodes / ((double) window_ns / (double) MESH_NS_PER_S);
    put(out, ",\"%s\":%.3f", key, rate);
}

mesh_err sim_gossip_json_body(const sim_gossip_result *result,
                              bool with_digest,
                              char *buf,
                              uint32_t buf_size,
                              uint32_t *size_out)
{
    MESH_ASSERT(result != NULL && buf != NULL && size_out != NULL);
    MESH_ASSERT(buf_size > 0);
    const sim_gossip_config *config = &result->config;
    text out = {.buf = buf, .size = buf_size};
    bool idle = result->converged;

    put(&out, "{\"nodes\":%u", config->node_count);
    put_u64(&out, "seed", config->seed);
    put(&out, ",\"loss\":%u.%06u", config->loss_ppm / SIM_PPM, config->loss_ppm % SIM_PPM);
    put(&out, ",\"fanout\":%u", config->fanout);
    put_u64(&out, "interval_ms", config->interval_ns / MESH_NS_PER_MS);
    put_u64(&out, "partition_s", config->partition_ns / MESH_NS_PER_S);
    put(&out, ",\"crash\":%u", config->crash_count);
    put(&out, ",\"hostile\":%u", config->hostile_count);
    put_u64(&out, "skew_ms", (uint64_t) config->clock_skew_ns_max / MESH_NS_PER_MS);

    put(&out, ",\"converged\":%s", result->converged ? "true" : "false");
    put_seconds(&out, "converged_s", result->converged_ns);
    put_seconds(&out, "time_to_all_s", result->time_to_all_ns);
    put_seconds(&out, "time_to_99_s", result->time_to_99_ns);
    put_rounds(&out, "rounds_to_all", result->time_to_all_ns, config->interval_ns);
    put(&out, ",\"false_down\":%u", result->false_down);
    put(&out, ",\"false_down_why\":{\"refuted_unseen\":%llu,\"unrefuted\":%llu}",
        (unsigned long long) result->false_down_refuted_unseen,
        (unsigned long long) result->false_down_unrefuted);
    put_seconds(&out, "detect_s", config->crash_count > 0 ? result->detect_ns : SIM_TIME_NONE);
    put_seconds(&out, "heal_s", config->partition_ns > 0 ? result->heal_ns : SIM_TIME_NONE);
    put_rounds(&out, "heal_rounds", config->partition_ns > 0 ? result->heal_ns : SIM_TIME_NONE,
               config->interval_ns);
    put_seconds(&out, "idle_window_s", idle ? config->idle_window_ns : SIM_TIME_NONE);
    put_rate(&out, "msgs_per_node_s", result->idle_frames, config->node_count,
             idle ? config->idle_window_ns : 0);
    put_rate(&out, "bytes_per_node_s", result->idle_bytes, config->node_count,
             idle ? config->idle_window_ns : 0);

    put(&out, ",\"crashed\":[");
    uint32_t listed = config->crash_count < 16u ? config->crash_count : 16u;
    for (uint32_t i = 0; i < listed && result->converged; i++) {
        put(&out, "%s%u", i == 0 ? "" : ",", result->crashed[i]);
    }
    put(&out, "]");
    if (config->crash_count > 0) {
        put(&out, ",\"undetected\":{\"alive\":%llu,\"suspect\":%llu,\"other\":%llu}",
            (unsigned long long) result->undetected_alive,
            (unsigned long long) result->undetected_suspect,
            (unsigned long long) result->undetected_other);
    }
    put_u64(&out, "advert_sequence", result->advert_sequence);
    put_seconds(&out, "virtual_s", result->end_ns);
    put_u64(&out, "events", result->events);
    put_u64(&out, "sends", result->sends);
    put_u64(&out, "attacks", result->attacks);
    put_u64(&out, "sent_bytes", result->sent_bytes);
    put_u64(&out, "delivered", result->delivered);
    put(&out,
        ",\"dropped\":{\"loss\":%llu,\"partition\":%llu,\"down\":%llu,\"address\":%llu,"
        "\"overflow\":%llu}",
        (unsigned long long) result->dropped[SIM_VERDICT_LOSS],
        (unsigned long long) result->dropped[SIM_VERDICT_PARTITION],
        (unsigned long long) result->dropped[SIM_VERDICT_DOWN],
        (unsigned long long) result->dropped[SIM_VERDICT_ADDRESS],
        (unsigned long long) result->dropped[SIM_VERDICT_OVERFLOW]);
    put(&out, ",\"outputs\":{\"ledger\":%llu,\"event\":%llu}",
        (unsigned long long) result->outputs_ledger, (unsigned long long) result->outputs_event);
    put_u64(&out, "outbox_full", result->outbox_full);
    put_u64(&out, "late_ticks", result->late_ticks);
    put_u64(&out, "call_errors", result->call_errors);
    put_u64(&out, "down_events", result->down_events);
    put_u64(&out, "events_malformed", result->events_malformed);

    const gossip_stats *stats = &result->stats;
    put(&out, ",\"gossip\":{\"frames_out\":%llu", (unsigned long long) stats->frames_out);
    put_u64(&out, "bytes_out", stats->bytes_out);
    put_u64(&out, "frames_in", stats->frames_in);
    put_u64(&out, "adverts_in", stats->adverts_in);
    put_u64(&out, "adverts_out", stats->adverts_out);
    put_u64(&out, "probes_sent", stats->probes_sent);
    put_u64(&out, "probes_failed", stats->probes_failed);
    put_u64(&out, "suspicions_raised", stats->suspicions_raised);
    put_u64(&out, "refutations", stats->refutations);
    put_u64(&out, "refutation_answers", stats->refutation_answers);
    put_u64(&out, "late_wakeups", stats->late_wakeups);
    put_u64(&out, "anti_entropy_rounds", stats->anti_entropy_rounds);
    put_u64(&out, "duplicates", stats->duplicates);
    put_u64(&out, "frames_dropped", stats->frames_dropped);
    put(&out, ",\"local_health_max\":%u", stats->local_health);
    put(&out, ",\"rejected\":{");
    for (uint32_t r = 0; r < GOSSIP_REJECT_COUNT; r++) {
        put(&out, "%s\"%s\":%llu", r == 0 ? "" : ",", gossip_reject_name((gossip_reject) r),
            (unsigned long long) stats->rejected[r]);
    }
    put(&out, "}}");
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

mesh_err sim_gossip_result_json(const sim_gossip_result *result,
                                char *buf,
                                uint32_t buf_size,
                                uint32_t *size_out)
{
    return sim_gossip_json_body(result, true, buf, buf_size, size_out);
}
