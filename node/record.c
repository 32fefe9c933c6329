/*
 * node/record.c: the recorder (fedmesh agent --record) and the reader of
 * recordings (node/record_int.h has the format and the contracts).
 *
 * One codec for both directions. Every field of a record is written and
 * read by the same function (codec_input and the codec_* helpers below):
 * a codec either appends a field to a buffer or takes it from one,
 * checking its bounds. Writer and reader therefore cannot drift apart,
 * and the format is written down once, in code, in the order of the
 * bytes.
 *
 * The recorder keeps one input open at a time: node_record_<kind> first
 * finishes the previous input (its store answers, output count and
 * digest go after its arguments, and the record is written), then
 * encodes the new input's arguments at once, while the pointers the
 * agent passed are valid. The outputs the member produces meanwhile (its
 * io callbacks, and the ledger store through the wrapper installed by
 * node_record_wrap_store) go into the open input's digest.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "node/log_int.h"
#include "node/node_int.h"
#include "node/record_int.h"

/* ------------------------------------------------------------------ */
/* The codec.                                                           */
/* ------------------------------------------------------------------ */

typedef struct codec {
    bool decode;
    uint8_t *out;      /* encode: the buffer */
    const uint8_t *in; /* decode: the bytes */
    uint32_t size;     /* encode: capacity; decode: bytes available */
    uint32_t pos;
    const char *failed; /* the field that did not fit or did not check */
} codec;

static void codec_fail(codec *c, const char *field)
{
    if (c->failed == NULL) {
        c->failed = field;
    }
}

static void codec_raw(codec *c, void *bytes, uint32_t size, const char *field)
{
    if (c->failed != NULL) {
        return;
    }
    if (size > c->size - c->pos) {
        codec_fail(c, field);
        return;
    }
    if (c->decode) {
        if (size > 0) {
            memcpy(bytes, c->in + c->pos, size);
        }
    } else if (size > 0) {
        memcpy(c->out + c->pos, bytes, size);
    }
    c->pos += size;
}

static void codec_u64(codec *c, uint64_t *v, const char *field)
{
    uint8_t b[8] = {0};
    if (!c->decode) {
        for (uint32_t i = 0; i < 8; i++) {
            b[i] = (uint8_t) (*v >> (8u * i));
        }
    }
    codec_raw(c, b, sizeof(b), field);
    if (c->decode && c->failed == NULL) {
        uint64_t x = 0;
        for (uint32_t i = 0; i < 8; i++) {
            x |= (uint64_t) b[i] << (8u * i);
        }
        *v = x;
    }
}

static void codec_u32(codec *c, uint32_t *v, const char *field)
{
    uint8_t b[4] = {0};
    if (!c->decode) {
        for (uint32_t i = 0; i < 4; i++) {
            b[i] = (uint8_t) (*v >> (8u * i));
        }
    }
    codec_raw(c, b, sizeof(b), field);
    if (c->decode && c->failed == NULL) {
        *v = (uint32_t) b[0] | (uint32_t) b[1] << 8 | (uint32_t) b[2] << 16 | (uint32_t) b[3] << 24;
    }
}

static void codec_i64(codec *c, int64_t *v, const char *field)
{
    uint64_t x = (uint64_t) *v;
    codec_u64(c, &x, field);
    *v = (int64_t) x;
}

static void codec_u8(codec *c, uint8_t *v, const char *field)
{
    codec_raw(c, v, 1, field);
}

static void codec_bool(codec *c, bool *v, const char *field)
{
    uint8_t b = *v ? 1 : 0;
    codec_u8(c, &b, field);
    if (c->decode && b > 1) {
        codec_fail(c, field);
    }
    *v = b == 1;
}

/* A count with its bound. */
static void codec_count(codec *c, uint32_t *count, uint32_t max, const char *field)
{
    codec_u32(c, count, field);
    if (*count > max) {
        codec_fail(c, field);
        *count = 0;
    }
}

/* Text in an array of array_size (NUL-terminated there). */
static void codec_text(codec *c, char *text, uint32_t array_size, const char *field)
{
    uint32_t size = c->decode ? 0 : (uint32_t) strnlen(text, array_size - 1);
    codec_count(c, &size, array_size - 1, field);
    if (c->decode) {
        memset(text, 0, array_size);
    }
    codec_raw(c, text, size, field);
    if (c->decode && memchr(text, '\0', size) != NULL) {
        codec_fail(c, field);
    }
}

/* Bytes that stay where they are: encode copies them in; decode points
 * *bytes into the input. */
static void
codec_span(codec *c, const uint8_t **bytes, uint32_t *size, uint32_t max, const char *field)
{
    codec_count(c, size, max, field);
    if (c->failed != NULL) {
        return;
    }
    if (c->decode) {
        if (*size > c->size - c->pos) {
            codec_fail(c, field);
            return;
        }
        *bytes = c->in + c->pos;
        c->pos += *size;
        return;
    }
    codec_raw(c, (void *) (uintptr_t) *bytes, *size, field);
}

static void codec_node_id(codec *c, mesh_node_id *id, const char *field)
{
    codec_raw(c, id->bytes, MESH_NODE_ID_SIZE, field);
}

static void
codec_codes(codec *c, char (*codes)[3], uint32_t *count, uint32_t max, const char *field)
{
    codec_count(c, count, max, field);
    for (uint32_t i = 0; i < *count && c->failed == NULL; i++) {
        codec_raw(c, codes[i], 2, field);
        codes[i][2] = '\0';
    }
}

static void codec_constraints(codec *c, wire_lease_constraints *k)
{
    codec_codes(c, k->countries, &k->country_count, WIRE_LEASE_COUNTRIES_MAX, "countries");
    codec_codes(c, k->jurisdictions, &k->jurisdiction_count, WIRE_JURISDICTIONS_MAX,
                "jurisdictions");
    codec_u32(c, &k->certifications, "certifications");
    codec_text(c, k->data_class, sizeof(k->data_class), "data_class");
    codec_u32(c, &k->rtt_us_max, "rtt_us_max");
    codec_u64(c, &k->cost_microeur_per_hour_max, "cost_max");
    codec_u32(c, &k->carbon_gco2_per_kwh_max, "carbon_max");
}

static void codec_advert(codec *c, wire_advert *a)
{
    codec_node_id(c, &a->node_id, "advert.node_id");
    codec_u64(c, &a->sequence, "advert.sequence");
    codec_i64(c, &a->timestamp_ns, "advert.timestamp");
    codec_u32(c, &a->status, "advert.status");
    codec_u32(c, &a->carbon_gco2_per_kwh, "advert.carbon");
    codec_count(c, &a->resource_count, WIRE_RESOURCES_MAX, "advert.resources");
    for (uint32_t i = 0; i < a->resource_count && c->failed == NULL; i++) {
        wire_resource *r = &a->resources[i];
        codec_u32(c, &r->resource_class, "advert.class");
        codec_text(c, r->model, sizeof(r->model), "advert.model");
        codec_u64(c, &r->total, "advert.total");
        codec_u64(c, &r->free, "advert.free");
        codec_u64(c, &r->lendable, "advert.lendable");
        codec_u64(c, &r->price_microeur_per_unit_hour, "advert.price");
    }
    codec_text(c, a->endpoint, sizeof(a->endpoint), "advert.endpoint");
    codec_text(c, a->api_endpoint, sizeof(a->api_endpoint), "advert.api_endpoint");
}

static void codec_ledger_config(codec *c, ledger_config *l)
{
    codec_raw(c, l->self_key, LEDGER_KEY_SIZE, "ledger.self_key");
    codec_u64(c, &l->half_life_ns, "ledger.half_life");
    codec_u32(c, &l->leases_max, "ledger.leases_max");
    codec_u32(c, &l->balance_rows_max, "ledger.balance_rows_max");
    codec_u32(c, &l->peers_max, "ledger.peers_max");
    codec_u32(c, &l->group_records_max, "ledger.group_records_max");
}

static void codec_gossip_config(codec *c, gossip_config *g, node_record_item *item)
{
    // Identity: the public half only. The reader's keypair stays zero
    // until the replay adds the operator's key.
    codec_raw(c, g->keypair.public_key, MCRYPTO_PUBLIC_KEY_SIZE, "public_key");
    codec_raw(c, g->root_public_key, MCRYPTO_PUBLIC_KEY_SIZE, "root_public_key");
    codec_span(c, &g->cert_frame, &g->cert_frame_size, WIRE_FRAME_SIZE_MAX, "cert_frame");
    codec_advert(c, &g->advert);
    uint32_t seed_count = g->seed_count;
    codec_count(c, &seed_count, GOSSIP_SEEDS_MAX, "seeds");
    for (uint32_t i = 0; i < seed_count && c->failed == NULL; i++) {
        if (c->decode) {
            codec_text(c, item->seeds[i], sizeof(item->seeds[i]), "seed");
            item->seed_list[i] = item->seeds[i];
        } else {
            char seed[WIRE_ENDPOINT_SIZE_MAX + 1];
            (void) snprintf(seed, sizeof(seed), "%s", g->seeds[i]);
            codec_text(c, seed, sizeof(seed), "seed");
        }
    }
    if (c->decode) {
        g->seeds = item->seed_list;
        g->seed_count = seed_count;
    }
    codec_u32(c, &g->members_max, "members_max");
    codec_u32(c, &g->revocations_max, "revocations_max");
    codec_u32(c, &g->fanout, "fanout");
    codec_u32(c, &g->indirect_probes, "indirect_probes");
    codec_u32(c, &g->digest_pages_per_round, "digest_pages_per_round");
    codec_u64(c, &g->bytes_per_s_per_peer_max, "bytes_per_s_per_peer_max");
    codec_u64(c, &g->probe_interval_ns, "probe_interval");
    codec_u64(c, &g->probe_timeout_ns, "probe_timeout");
    codec_u64(c, &g->suspicion_min_ns, "suspicion_min");
    codec_u64(c, &g->suspicion_max_ns, "suspicion_max");
    codec_u64(c, &g->advert_refresh_ns, "advert_refresh");
    codec_u64(c, &g->rejoin_interval_ns, "rejoin_interval");
    codec_u64(c, &g->down_forget_ns, "down_forget");
    codec_i64(c, &g->clock_skew_max_ns, "clock_skew_max");
}

static void codec_lease_config(codec *c, lease_config *l)
{
    // Identity, certified facts and the directory are the member's to
    // fill (member.h); only the shell's settings are recorded.
    codec_count(c, &l->class_count, LEASE_CLASSES_MAX, "lease.classes");
    for (uint32_t i = 0; i < l->class_count && c->failed == NULL; i++) {
        lease_class_policy *p = &l->classes[i];
        codec_u32(c, &p->resource_class, "lease.class");
        codec_text(c, p->model, sizeof(p->model), "lease.model");
        codec_u64(c, &p->total, "lease.total");
        codec_u64(c, &p->lendable, "lease.lendable");
        codec_u64(c, &p->keep, "lease.keep");
        codec_u64(c, &p->per_peer_max, "lease.per_peer_max");
        codec_u64(c, &p->price_microeur_per_unit_hour, "lease.price");
    }
    codec_u32(c, &l->reciprocity_share_permille, "lease.reciprocity_share");
    codec_u64(c, &l->duration_max_ns, "lease.duration_max");
    codec_u64(c, &l->start_ahead_max_ns, "lease.start_ahead_max");
    codec_u64(c, &l->reclaim_notice_ns, "lease.reclaim_notice");
    codec_u32(c, &l->weights.reciprocity, "lease.weight_reciprocity");
    codec_u32(c, &l->weights.rtt, "lease.weight_rtt");
    codec_u32(c, &l->weights.price, "lease.weight_price");
    codec_u32(c, &l->weights.carbon, "lease.weight_carbon");
    codec_u32(c, &l->in_flight_max, "lease.in_flight_max");
    codec_u32(c, &l->candidates_max, "lease.candidates_max");
    codec_u32(c, &l->leases_max, "lease.leases_max");
    codec_u32(c, &l->borrows_max, "lease.borrows_max");
    codec_u64(c, &l->request_timeout_ns, "lease.request_timeout");
    codec_u64(c, &l->offer_ttl_ns, "lease.offer_ttl");
    codec_u64(c, &l->retry_interval_ns, "lease.retry_interval");
    codec_u64(c, &l->retry_max_ns, "lease.retry_max");
    codec_u64(c, &l->usage_interval_ns, "lease.usage_interval");
    codec_i64(c, &l->clock_skew_max_ns, "lease.clock_skew_max");
}

static void codec_member_config(codec *c, member_config *m, node_record_item *item)
{
    codec_gossip_config(c, &m->gossip, item);
    codec_lease_config(c, &m->lease);
    codec_u64(c, &m->advert_interval_ns, "advert_interval");
    member_burst_config *b = &m->burst;
    codec_bool(c, &b->enabled, "burst.enabled");
    codec_u64(c, &b->threshold, "burst.threshold");
    codec_u64(c, &b->release_margin, "burst.release_margin");
    codec_u64(c, &b->release_delay_ns, "burst.release_delay");
    codec_u64(c, &b->lease_duration_ns, "burst.lease_duration");
    codec_u64(c, &b->retry_ns, "burst.retry");
    codec_constraints(c, &b->constraints);
}

static void codec_borrow(codec *c, lease_borrow_request *r)
{
    codec_count(c, &r->resource_count, WIRE_LEASE_RESOURCES_MAX, "borrow.resources");
    for (uint32_t i = 0; i < r->resource_count && c->failed == NULL; i++) {
        codec_u32(c, &r->resources[i].resource_class, "borrow.class");
        codec_text(c, r->resources[i].model, sizeof(r->resources[i].model), "borrow.model");
        codec_u64(c, &r->resources[i].amount, "borrow.amount");
    }
    codec_i64(c, &r->start_ns, "borrow.start");
    codec_u64(c, &r->duration_ns, "borrow.duration");
    codec_constraints(c, &r->constraints);
    codec_count(c, &r->prefer_count, LEASE_PREFER_MAX, "borrow.prefer");
    for (uint32_t i = 0; i < r->prefer_count && c->failed == NULL; i++) {
        codec_node_id(c, &r->prefer[i], "borrow.prefer");
    }
    codec_bool(c, &r->pin, "borrow.pin");
    codec_bool(c, &r->no_split, "borrow.no_split");
    codec_u64(c, &r->timeout_ns, "borrow.timeout");
    codec_u64(c, &r->tag, "borrow.tag");
}

static void codec_rng(codec *c, mesh_rng *rng)
{
    for (uint32_t i = 0; i < 4; i++) {
        codec_u64(c, &rng->state[i], "rng");
    }
}

/* The arguments of one input, after its number and kind. */
static void codec_input(codec *c, node_record_item *item)
{
    sim_replay_input *in = &item->input;
    uint64_t monotonic_ns = in->now.monotonic_ns;
    codec_u64(c, &monotonic_ns, "monotonic_ns");
    in->now.monotonic_ns = monotonic_ns;
    codec_i64(c, &in->now.realtime_ns, "realtime_ns");
    switch (in->kind) {
    case SIM_REPLAY_LEDGER_OPEN:
        codec_ledger_config(c, &item->ledger);
        in->ledger = &item->ledger;
        break;
    case SIM_REPLAY_CREATE:
        codec_member_config(c, &item->config, item);
        codec_rng(c, &in->rng);
        memcpy(item->public_key, item->config.gossip.keypair.public_key, LEDGER_KEY_SIZE);
        in->config = &item->config;
        break;
    case SIM_REPLAY_FRAME:
    case SIM_REPLAY_ADD_REVOCATION:
        codec_span(c, &in->bytes, &in->size, WIRE_FRAME_SIZE_MAX, "frame");
        if (c->decode && in->size == 0) {
            codec_fail(c, "frame");
        }
        break;
    case SIM_REPLAY_BORROW:
        codec_borrow(c, &item->borrow);
        in->borrow = &item->borrow;
        break;
    case SIM_REPLAY_RELEASE:
    case SIM_REPLAY_RECLAIM:
        codec_raw(c, in->lease_id, LEDGER_LEASE_ID_SIZE, "lease_id");
        codec_u64(c, &in->notice_ns, "notice_ns");
        break;
    case SIM_REPLAY_SET_LOAD:
    case SIM_REPLAY_SET_CAPACITY:
        codec_u32(c, &in->resource_class, "class");
        codec_text(c, in->model, sizeof(in->model), "model");
        codec_u64(c, &in->first, "amount");
        codec_u64(c, &in->second, "amount");
        break;
    case SIM_REPLAY_UPDATE_ADVERT:
        codec_advert(c, &item->advert);
        in->advert = &item->advert;
        break;
    case SIM_REPLAY_RECONCILE:
        codec_node_id(c, &in->peer, "peer");
        codec_u64(c, &in->timeout_ns, "timeout_ns");
        break;
    case SIM_REPLAY_REVOCATION_ENDPOINT:
        codec_node_id(c, &in->peer, "peer");
        codec_text(c, in->endpoint, sizeof(in->endpoint), "endpoint");
        break;
    case SIM_REPLAY_TICK:
    case SIM_REPLAY_FLUSH:
    case SIM_REPLAY_LEAVE:
    case SIM_REPLAY_LEDGER_SYNC:
        break;
    default:
        codec_fail(c, "kind");
        break;
    }
}

/* What came of it: store answers, output count, digest. */
static void codec_input_tail(codec *c, node_record_item *item)
{
    sim_replay_input *in = &item->input;
    codec_count(c, &in->store_call_count, SIM_REPLAY_STORE_CALLS_MAX, "store_calls");
    for (uint32_t i = 0; i < in->store_call_count && c->failed == NULL; i++) {
        uint8_t op = (uint8_t) item->calls[i].op;
        codec_u8(c, &op, "store_call.op");
        item->calls[i].op = op;
        codec_u32(c, &item->calls[i].result, "store_call.result");
        if (c->decode && (op < SIM_REPLAY_STORE_WRITE || op > SIM_REPLAY_STORE_SYNC ||
                          item->calls[i].result >= MESH_ERR_COUNT)) {
            codec_fail(c, "store_call");
        }
    }
    in->store_calls = item->calls;
    codec_u32(c, &item->output_count, "output_count");
    codec_raw(c, item->digest, SIM_REPLAY_DIGEST_SIZE, "digest");
}

/* ------------------------------------------------------------------ */
/* Reading.                                                             */
/* ------------------------------------------------------------------ */

void node_record_cursor_init(node_record_cursor *cursor, const uint8_t *bytes, uint64_t size)
{
    MESH_ASSERT(cursor != NULL && (bytes != NULL || size == 0));
    memset(cursor, 0, sizeof(*cursor));
    cursor->bytes = bytes;
    cursor->size = size;
}

__attribute__((format(printf, 4, 5))) static mesh_err
cursor_error(mesh_err err, char *error_out, size_t error_size, const char *format, ...)
{
    if (error_out != NULL && error_size > 0) {
        va_list args;
        va_start(args, format);
        (void) vsnprintf(error_out, error_size, format, args);
        va_end(args);
    }
    return err;
}

static void checksum(const uint8_t *body, uint32_t size, uint8_t out[NODE_RECORD_CHECKSUM_SIZE])
{
    (void) crypto_generichash(out, NODE_RECORD_CHECKSUM_SIZE, body, size, NULL, 0);
}

static mesh_err decode_body(codec *c, node_record_item *item)
{
    uint8_t type = 0;
    codec_u8(c, &type, "type");
    item->type = type;
    switch (type) {
    case NODE_RECORD_SEGMENT:
        codec_u32(c, &item->version, "version");
        if (c->failed == NULL && item->version != NODE_RECORD_VERSION) {
            return MESH_EINVAL;
        }
        codec_u32(c, &item->segment_index, "segment_index");
        codec_raw(c, item->recording_id, NODE_RECORD_ID_SIZE, "recording_id");
        codec_u64(c, &item->first_input, "first_input");
        break;
    case NODE_RECORD_META:
        codec_text(c, item->fedmesh_version, sizeof(item->fedmesh_version), "fedmesh_version");
        codec_text(c, item->name, sizeof(item->name), "name");
        codec_i64(c, &item->started_realtime_ns, "started");
        break;
    case NODE_RECORD_SNAPSHOT:
        codec_span(c, &item->key, &item->key_size, LEDGER_STORE_KEY_SIZE_MAX, "snapshot.key");
        codec_span(c, &item->value, &item->value_size, LEDGER_VALUE_SIZE_MAX, "snapshot.value");
        if (item->key_size == 0) {
            codec_fail(c, "snapshot.key");
        }
        break;
    case NODE_RECORD_INPUT: {
        codec_u64(c, &item->number, "input_number");
        uint8_t kind = 0;
        codec_u8(c, &kind, "kind");
        item->input.kind = kind;
        if (c->failed == NULL && (kind == 0 || kind > SIM_REPLAY_KIND_MAX)) {
            codec_fail(c, "kind");
        }
        codec_input(c, item);
        codec_input_tail(c, item);
        break;
    }
    case NODE_RECORD_END:
        codec_u64(c, &item->total_inputs, "inputs");
        codec_u64(c, &item->total_outputs, "outputs");
        break;
    default:
        codec_fail(c, "type");
        break;
    }
    if (c->failed == NULL && c->pos != c->size) {
        codec_fail(c, "trailing bytes");
    }
    return c->failed == NULL ? MESH_OK : MESH_EPROTO;
}

mesh_err node_record_cursor_next(node_record_cursor *cursor,
                                 node_record_item *item_out,
                                 char *error_out,
                                 size_t error_size)
{
    MESH_ASSERT(cursor != NULL && item_out != NULL);
    if (cursor->offset == 0) {
        if (cursor->size < NODE_RECORD_MAGIC_SIZE ||
            memcmp(cursor->bytes, NODE_RECORD_MAGIC, NODE_RECORD_MAGIC_SIZE) != 0) {
            return cursor_error(MESH_EPROTO, error_out, error_size,
                                "not a fedmesh recording (it does not start with the recording "
                                "magic)");
        }
        cursor->offset = NODE_RECORD_MAGIC_SIZE;
    }
    if (cursor->offset == cursor->size) {
        return MESH_ENOTFOUND;
    }
    uint64_t at = cursor->offset;
    uint64_t index = cursor->record_index;
    uint64_t left = cursor->size - at;
    const uint32_t prefix = 4u + NODE_RECORD_CHECKSUM_SIZE;
    if (left < prefix) {
        return cursor_error(MESH_EPROTO, error_out, error_size,
                            "record %llu at byte %llu: cut off (%llu bytes left of a %u-byte "
                            "header)",
                            (unsigned long long) index, (unsigned long long) at,
                            (unsigned long long) left, prefix);
    }
    const uint8_t *p = cursor->bytes + at;
    uint32_t body_size =
        (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
    if (body_size == 0 || body_size > NODE_RECORD_BODY_MAX) {
        return cursor_error(MESH_EPROTO, error_out, error_size,
                            "record %llu at byte %llu: size %u is out of range (1..%u)",
                            (unsigned long long) index, (unsigned long long) at, body_size,
                            NODE_RECORD_BODY_MAX);
    }
    if (left - prefix < body_size) {
        return cursor_error(MESH_EPROTO, error_out, error_size,
                            "record %llu at byte %llu: cut off (%llu of its %u bytes are there)",
                            (unsigned long long) index, (unsigned long long) at,
                            (unsigned long long) (left - prefix), body_size);
    }
    const uint8_t *body = p + prefix;
    uint8_t sum[NODE_RECORD_CHECKSUM_SIZE];
    checksum(body, body_size, sum);
    if (sodium_memcmp(sum, p + 4, NODE_RECORD_CHECKSUM_SIZE) != 0) {
        return cursor_error(MESH_ECORRUPT, error_out, error_size,
                            "record %llu at byte %llu (type %u): checksum mismatch: the "
                            "recording is corrupt",
                            (unsigned long long) index, (unsigned long long) at, body[0]);
    }
    memset(&item_out->input, 0, sizeof(item_out->input));
    memset(&item_out->config, 0, sizeof(item_out->config));
    memset(&item_out->borrow, 0, sizeof(item_out->borrow));
    memset(&item_out->advert, 0, sizeof(item_out->advert));
    item_out->offset = at;
    item_out->record_index = index;
    codec c = {.decode = true, .in = body, .size = body_size, .pos = 0, .failed = NULL};
    mesh_err err = decode_body(&c, item_out);
    if (err == MESH_EINVAL) {
        return cursor_error(MESH_EINVAL, error_out, error_size,
                            "record %llu at byte %llu: format version %u; this fedmesh reads "
                            "version %u (replay with the fedmesh that recorded it)",
                            (unsigned long long) index, (unsigned long long) at, item_out->version,
                            NODE_RECORD_VERSION);
    }
    if (err != MESH_OK) {
        return cursor_error(err, error_out, error_size,
                            "record %llu at byte %llu (type %u): malformed field '%s'",
                            (unsigned long long) index, (unsigned long long) at, body[0], c.failed);
    }
    cursor->offset = at + prefix + body_size;
    cursor->record_index++;
    return MESH_OK;
}

/* ------------------------------------------------------------------ */
/* Recording.                                                           */
/* ------------------------------------------------------------------ */

typedef struct recorder {
    bool active;
    bool ended_early; /* a write failed or a bound was passed */
    FILE *file;
    char path[NODE_RECORD_PATH_SIZE];
    uint64_t bytes_max;
    uint32_t keep;
    uint64_t file_bytes;
    uint32_t segment_index;
    uint8_t recording_id[NODE_RECORD_ID_SIZE];
    uint64_t next_input;
    /* The open input: arguments encoded, outputs digested. */
    bool open;
    codec body;
    sim_replay_digest digest;
    node_record_item *tail; /* calls[] of the open input (only that part is used) */
    uint32_t call_count;
    bool calls_overflow;
    ledger_store inner;
    node_record_stats stats;
} recorder;

static recorder rec;
static uint8_t rec_body[NODE_RECORD_BODY_MAX];
static uint8_t rec_frame[4u + NODE_RECORD_CHECKSUM_SIZE + NODE_RECORD_BODY_MAX];

bool node_record_active(void)
{
    return rec.active && !rec.ended_early;
}

static void end_early(const char *what, int error)
{
    rec.stats.write_errors++;
    if (!rec.ended_early) {
        rec.ended_early = true;
        char quoted[NODE_RECORD_PATH_SIZE + 3];
        node_log_quote(rec.path, quoted, sizeof(quoted));
        node_log(NODE_LOG_ERROR, "record", "recording_ended", "path=%s reason=\"%s\" error=\"%s\"",
                 quoted, what, error != 0 ? strerror(error) : "bound");
    }
}

static void body_begin(uint8_t type)
{
    rec.body = (codec){.decode = false, .out = rec_body, .size = NODE_RECORD_BODY_MAX, .pos = 0};
    codec_u8(&rec.body, &type, "type");
}

static void segment_path(uint32_t index, char *out, size_t size)
{
    if (index == 0) {
        (void) snprintf(out, size, "%s", rec.path);
    } else {
        (void) snprintf(out, size, "%s.%u", rec.path, index);
    }
}

static bool write_bytes(const void *bytes, size_t size)
{
    if (fwrite(bytes, 1, size, rec.file) != size) {
        end_early("write", errno);
        return false;
    }
    rec.file_bytes += size;
    rec.stats.bytes += size;
    return true;
}

static bool open_segment(uint64_t first_input);

/* FILE -> FILE.1 -> ... -> FILE.keep (deleted past keep). */
static bool rotate(uint64_t first_input)
{
    if (fclose(rec.file) != 0) {
        rec.file = NULL;
        end_early("close", errno);
        return false;
    }
    rec.file = NULL;
    char from[NODE_RECORD_PATH_SIZE + 16];
    char to[NODE_RECORD_PATH_SIZE + 16];
    segment_path(rec.keep, to, sizeof(to));
    if (unlink(to) != 0 && errno != ENOENT) {
        end_early("unlink", errno);
        return false;
    }
    for (uint32_t i = rec.keep; i >= 1; i--) {
        segment_path(i - 1, from, sizeof(from));
        segment_path(i, to, sizeof(to));
        if (rename(from, to) != 0 && errno != ENOENT) {
            end_early("rename", errno);
            return false;
        }
    }
    rec.segment_index++;
    rec.stats.rotations++;
    return open_segment(first_input);
}

/* Frames and writes the body (rotating first when it would pass the
 * bound). */
static void emit(void)
{
    if (rec.ended_early) {
        return;
    }
    if (rec.body.failed != NULL) {
        end_early(rec.body.failed, 0); // a record over NODE_RECORD_BODY_MAX
        return;
    }
    uint32_t size = rec.body.pos;
    uint32_t framed = 4u + NODE_RECORD_CHECKSUM_SIZE + size;
    uint8_t type = rec_body[0];
    if (type == NODE_RECORD_INPUT && rec.file_bytes + framed > rec.bytes_max &&
        rec.file_bytes > NODE_RECORD_MAGIC_SIZE + 64u) {
        // Keep the body: open_segment writes its own records first.
        uint32_t saved = size;
        static uint8_t keep_body[NODE_RECORD_BODY_MAX];
        memcpy(keep_body, rec_body, saved);
        if (!rotate(rec.tail->number)) {
            return;
        }
        memcpy(rec_body, keep_body, saved);
        rec.body.pos = saved;
    }
    for (uint32_t i = 0; i < 4; i++) {
        rec_frame[i] = (uint8_t) (size >> (8u * i));
    }
    checksum(rec_body, size, rec_frame + 4);
    memcpy(rec_frame + 4 + NODE_RECORD_CHECKSUM_SIZE, rec_body, size);
    if (!write_bytes(rec_frame, framed)) {
        return;
    }
    // An input is on disk once written: a crash of the agent (the
    // incident) keeps every input before it.
    if (type == NODE_RECORD_INPUT && fflush(rec.file) != 0) {
        end_early("flush", errno);
    }
}

static bool open_segment(uint64_t first_input)
{
    char path[NODE_RECORD_PATH_SIZE + 16];
    segment_path(0, path, sizeof(path));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        end_early("open", errno);
        return false;
    }
    rec.file = fdopen(fd, "wb");
    if (rec.file == NULL) {
        int error = errno;
        (void) close(fd);
        end_early("open", error);
        return false;
    }
    rec.file_bytes = 0;
    if (!write_bytes(NODE_RECORD_MAGIC, NODE_RECORD_MAGIC_SIZE)) {
        return false;
    }
    body_begin(NODE_RECORD_SEGMENT);
    uint32_t version = NODE_RECORD_VERSION;
    codec_u32(&rec.body, &version, "version");
    codec_u32(&rec.body, &rec.segment_index, "segment_index");
    codec_raw(&rec.body, rec.recording_id, NODE_RECORD_ID_SIZE, "recording_id");
    codec_u64(&rec.body, &first_input, "first_input");
    emit(); // a SEGMENT record never rotates
    if (fflush(rec.file) != 0) {
        end_early("flush", errno);
    }
    return !rec.ended_early;
}

mesh_err node_record_start(const char *path,
                           uint64_t bytes_max,
                           uint32_t keep,
                           const char *node_name,
                           char *error_out,
                           size_t error_size)
{
    MESH_ASSERT(path != NULL && node_name != NULL);
    if (rec.active || bytes_max < NODE_RECORD_BYTES_MIN || keep == 0 ||
        keep > NODE_RECORD_KEEP_MAX || strlen(path) == 0 || strlen(path) >= NODE_RECORD_PATH_SIZE) {
        (void) snprintf(error_out, error_size,
                        "recording bounds out of range (at least 1 MiB, keep 1..%u, a path)",
                        NODE_RECORD_KEEP_MAX);
        return MESH_EINVAL;
    }
    memset(&rec, 0, sizeof(rec));
    (void) snprintf(rec.path, sizeof(rec.path), "%s", path);
    rec.bytes_max = bytes_max;
    rec.keep = keep;
    randombytes_buf(rec.recording_id, sizeof(rec.recording_id));
    rec.tail = calloc(1, sizeof(*rec.tail));
    if (rec.tail == NULL) {
        (void) snprintf(error_out, error_size, "out of memory");
        return MESH_ENOMEM;
    }
    // Segments of an earlier run would be taken for this one's.
    char old[NODE_RECORD_PATH_SIZE + 16];
    for (uint32_t i = 1; i <= NODE_RECORD_KEEP_MAX; i++) {
        segment_path(i, old, sizeof(old));
        (void) unlink(old);
    }
    if (!open_segment(0)) {
        (void) snprintf(error_out, error_size, "%s: cannot create the recording: %s", path,
                        strerror(errno));
        if (rec.file != NULL) {
            (void) fclose(rec.file);
        }
        free(rec.tail);
        memset(&rec, 0, sizeof(rec));
        return MESH_EIO;
    }
    rec.active = true;
    rec.stats.active = true;
    body_begin(NODE_RECORD_META);
    char version[32];
    (void) snprintf(version, sizeof(version), "%s", FEDMESH_VERSION);
    char name[WIRE_NAME_SIZE_MAX + 1];
    (void) snprintf(name, sizeof(name), "%s", node_name);
    int64_t started = node_now().realtime_ns;
    codec_text(&rec.body, version, sizeof(version), "fedmesh_version");
    codec_text(&rec.body, name, sizeof(name), "name");
    codec_i64(&rec.body, &started, "started");
    emit();
    char quoted[NODE_RECORD_PATH_SIZE + 3];
    node_log_quote(path, quoted, sizeof(quoted));
    node_log(NODE_LOG_INFO, "record", "recording", "path=%s max_bytes=%llu keep=%u", quoted,
             (unsigned long long) bytes_max, keep);
    return MESH_OK;
}

/* Writes the open input, if any. */
static void finish_input(void)
{
    if (!rec.open) {
        return;
    }
    rec.open = false;
    if (rec.ended_early) {
        return;
    }
    if (rec.calls_overflow) {
        end_early("store calls over SIM_REPLAY_STORE_CALLS_MAX", 0);
        return;
    }
    node_record_item *item = rec.tail;
    item->input.store_call_count = rec.call_count;
    item->output_count = rec.digest.count;
    sim_replay_digest_final(&rec.digest, item->digest);
    codec_input_tail(&rec.body, item);
    emit();
    if (!rec.ended_early) {
        rec.stats.inputs++;
        rec.stats.outputs += item->output_count;
    }
}

/* Finishes the open input and starts one of kind: the caller then
 * encodes its arguments with codec_input. */
static bool begin_input(node_record_item *item, uint32_t kind, mesh_now now)
{
    if (!rec.active) {
        return false;
    }
    finish_input();
    if (rec.ended_early) {
        rec.stats.dropped++;
        return false;
    }
    memset(&item->input, 0, sizeof(item->input));
    item->input.kind = kind;
    item->input.now = now;
    body_begin(NODE_RECORD_INPUT);
    rec.tail->number = rec.next_input;
    codec_u64(&rec.body, &rec.next_input, "input_number");
    uint8_t kind_byte = (uint8_t) kind;
    codec_u8(&rec.body, &kind_byte, "kind");
    rec.next_input++;
    sim_replay_digest_init(&rec.digest);
    rec.call_count = 0;
    rec.calls_overflow = false;
    return true;
}

static void open_input(node_record_item *item)
{
    codec_input(&rec.body, item);
    rec.open = true;
}

/* The item that carries an input's arguments for the codec. */
static node_record_item *scratch(void)
{
    static node_record_item *item;
    if (item == NULL) {
        item = calloc(1, sizeof(*item));
        if (item == NULL) {
            end_early("out of memory", ENOMEM);
        }
    }
    return item;
}

#define RECORD_BEGIN(kind, now)                              \
    node_record_item *item = rec.active ? scratch() : NULL;  \
    if (item == NULL || !begin_input(item, (kind), (now))) { \
        return;                                              \
    }                                                        \
    sim_replay_input *in = &item->input;                     \
    (void) in

void node_record_ledger_open(const ledger_config *config)
{
    mesh_now zero = {0, 0};
    RECORD_BEGIN(SIM_REPLAY_LEDGER_OPEN, zero);
    item->ledger = *config;
    open_input(item);
}

void node_record_create(mesh_now now, const member_config *config, const mesh_rng *rng)
{
    RECORD_BEGIN(SIM_REPLAY_CREATE, now);
    item->config = *config;
    // Never the secret half: the codec writes only the public key, and
    // the copy is wiped at once.
    in->rng = *rng;
    open_input(item);
    mcrypto_keypair_wipe(&item->config.gossip.keypair);
    mcrypto_keypair_wipe(&item->config.lease.keypair);
}

static void record_bytes(uint32_t kind, mesh_now now, const uint8_t *bytes, uint32_t size)
{
    RECORD_BEGIN(kind, now);
    in->bytes = bytes;
    in->size = size;
    open_input(item);
}

void node_record_frame(mesh_now now, const uint8_t *frame, uint32_t frame_size)
{
    record_bytes(SIM_REPLAY_FRAME, now, frame, frame_size);
}

void node_record_add_revocation(mesh_now now, const uint8_t *frame, uint32_t frame_size)
{
    record_bytes(SIM_REPLAY_ADD_REVOCATION, now, frame, frame_size);
}

static void record_plain(uint32_t kind, mesh_now now)
{
    RECORD_BEGIN(kind, now);
    open_input(item);
}

void node_record_tick(mesh_now now)
{
    record_plain(SIM_REPLAY_TICK, now);
}

void node_record_flush(mesh_now now)
{
    record_plain(SIM_REPLAY_FLUSH, now);
}

void node_record_leave(mesh_now now)
{
    record_plain(SIM_REPLAY_LEAVE, now);
}

void node_record_ledger_sync(void)
{
    mesh_now zero = {0, 0};
    record_plain(SIM_REPLAY_LEDGER_SYNC, zero);
}

void node_record_borrow(mesh_now now, const lease_borrow_request *request)
{
    RECORD_BEGIN(SIM_REPLAY_BORROW, now);
    item->borrow = *request;
    open_input(item);
}

void node_record_release(mesh_now now, const uint8_t lease_id[LEDGER_LEASE_ID_SIZE])
{
    RECORD_BEGIN(SIM_REPLAY_RELEASE, now);
    memcpy(in->lease_id, lease_id, LEDGER_LEASE_ID_SIZE);
    open_input(item);
}

void node_record_reclaim(mesh_now now,
                         const uint8_t lease_id[LEDGER_LEASE_ID_SIZE],
                         uint64_t notice_ns)
{
    RECORD_BEGIN(SIM_REPLAY_RECLAIM, now);
    memcpy(in->lease_id, lease_id, LEDGER_LEASE_ID_SIZE);
    in->notice_ns = notice_ns;
    open_input(item);
}

static void record_amounts(uint32_t kind,
                           mesh_now now,
                           uint32_t resource_class,
                           const char *model,
                           uint64_t first,
                           uint64_t second)
{
    RECORD_BEGIN(kind, now);
    in->resource_class = resource_class;
    (void) snprintf(in->model, sizeof(in->model), "%s", model != NULL ? model : "");
    in->first = first;
    in->second = second;
    open_input(item);
}

void node_record_set_load(
    mesh_now now, uint32_t resource_class, const char *model, uint64_t queued, uint64_t running)
{
    record_amounts(SIM_REPLAY_SET_LOAD, now, resource_class, model, queued, running);
}

void node_record_set_capacity(uint32_t resource_class,
                              const char *model,
                              uint64_t total,
                              uint64_t lendable)
{
    mesh_now zero = {0, 0};
    record_amounts(SIM_REPLAY_SET_CAPACITY, zero, resource_class, model, total, lendable);
}

void node_record_update_advert(mesh_now now, const wire_advert *advert)
{
    RECORD_BEGIN(SIM_REPLAY_UPDATE_ADVERT, now);
    item->advert = *advert;
    open_input(item);
}

void node_record_revocation_endpoint(mesh_now now, const mesh_node_id *id, const char *endpoint)
{
    RECORD_BEGIN(SIM_REPLAY_REVOCATION_ENDPOINT, now);
    in->peer = *id;
    (void) snprintf(in->endpoint, sizeof(in->endpoint), "%s", endpoint);
    open_input(item);
}

void node_record_reconcile(mesh_now now, const mesh_node_id *peer, uint64_t timeout_ns)
{
    RECORD_BEGIN(SIM_REPLAY_RECONCILE, now);
    in->peer = *peer;
    in->timeout_ns = timeout_ns;
    open_input(item);
}

void node_record_send(const mesh_node_id *peer,
                      const char *endpoint,
                      const uint8_t *frame,
                      uint32_t frame_size)
{
    if (rec.active && rec.open) {
        sim_replay_digest_send(&rec.digest, peer, endpoint, frame, frame_size);
    }
}

void node_record_event(member_source source, const void *event)
{
    if (rec.active && rec.open) {
        sim_replay_digest_event(&rec.digest, source, event);
    }
}

/* The store wrapper. */

static void push_call(uint32_t op, mesh_err result)
{
    if (!rec.open) {
        return;
    }
    if (rec.call_count == SIM_REPLAY_STORE_CALLS_MAX) {
        rec.calls_overflow = true;
        return;
    }
    rec.tail->calls[rec.call_count].op = op;
    rec.tail->calls[rec.call_count].result = (uint32_t) result;
    rec.call_count++;
}

static mesh_err wrap_get(void *ctx,
                         const uint8_t *key,
                         uint32_t key_size,
                         uint8_t *value_out,
                         uint32_t value_size_max,
                         uint32_t *value_size_out)
{
    (void) ctx;
    return rec.inner.get(rec.inner.ctx, key, key_size, value_out, value_size_max, value_size_out);
}

static mesh_err wrap_scan(void *ctx,
                          const uint8_t *prefix,
                          uint32_t prefix_size,
                          const uint8_t *start,
                          uint32_t start_size,
                          ledger_store_visit visit,
                          void *arg)
{
    (void) ctx;
    return rec.inner.scan(rec.inner.ctx, prefix, prefix_size, start, start_size, visit, arg);
}

static mesh_err wrap_write(void *ctx, const ledger_batch *batch, bool sync)
{
    (void) ctx;
    if (rec.open) {
        sim_replay_digest_write(&rec.digest, batch, sync);
    }
    mesh_err err = rec.inner.write(rec.inner.ctx, batch, sync);
    push_call(SIM_REPLAY_STORE_WRITE, err);
    return err;
}

static mesh_err wrap_sync(void *ctx)
{
    (void) ctx;
    if (rec.open) {
        sim_replay_digest_sync(&rec.digest);
    }
    mesh_err err = rec.inner.sync(rec.inner.ctx);
    push_call(SIM_REPLAY_STORE_SYNC, err);
    return err;
}

static bool snapshot_pair(
    void *arg, const uint8_t *key, uint32_t key_size, const uint8_t *value, uint32_t value_size)
{
    (void) arg;
    body_begin(NODE_RECORD_SNAPSHOT);
    codec_span(&rec.body, &key, &key_size, LEDGER_STORE_KEY_SIZE_MAX, "snapshot.key");
    codec_span(&rec.body, &value, &value_size, LEDGER_VALUE_SIZE_MAX, "snapshot.value");
    emit();
    return !rec.ended_early;
}

void node_record_wrap_store(ledger_store *store)
{
    MESH_ASSERT(store != NULL);
    if (!node_record_active()) {
        return;
    }
    finish_input();
    rec.inner = *store;
    mesh_err err = store->scan(store->ctx, NULL, 0, NULL, 0, snapshot_pair, NULL);
    if (err != MESH_OK) {
        end_early("snapshot: the ledger store could not be read", 0);
    } else if (!rec.ended_early && fflush(rec.file) != 0) {
        end_early("flush", errno);
    }
    *store = (ledger_store){
        .ctx = &rec, .get = wrap_get, .write = wrap_write, .scan = wrap_scan, .sync = wrap_sync};
}

void node_record_stop(void)
{
    if (!rec.active) {
        return;
    }
    finish_input();
    if (!rec.ended_early) {
        body_begin(NODE_RECORD_END);
        codec_u64(&rec.body, &rec.stats.inputs, "inputs");
        codec_u64(&rec.body, &rec.stats.outputs, "outputs");
        emit();
    }
    if (rec.file != NULL && fclose(rec.file) != 0) {
        end_early("close", errno);
    }
    rec.file = NULL;
    char quoted[NODE_RECORD_PATH_SIZE + 3];
    node_log_quote(rec.path, quoted, sizeof(quoted));
    node_log(rec.ended_early ? NODE_LOG_WARN : NODE_LOG_INFO, "record", "recording_closed",
             "path=%s inputs=%llu outputs=%llu bytes=%llu segments=%llu complete=%s", quoted,
             (unsigned long long) rec.stats.inputs, (unsigned long long) rec.stats.outputs,
             (unsigned long long) rec.stats.bytes, (unsigned long long) rec.stats.rotations + 1u,
             rec.ended_early ? "no" : "yes");
    free(rec.tail);
    rec.tail = NULL;
    rec.active = false;
    rec.stats.active = false;
}

void node_record_stats_get(node_record_stats *stats_out)
{
    MESH_ASSERT(stats_out != NULL);
    *stats_out = rec.stats;
    stats_out->active = node_record_active();
}

mesh_err node_record_metrics_append(char **text, size_t *size)
{
    MESH_ASSERT(text != NULL && size != NULL);
    node_record_stats s;
    node_record_stats_get(&s);
    char extra[1536];
    int n = snprintf(
        extra, sizeof(extra),
        "# HELP fedmesh_record_active 1 while this agent records its inputs (--record).\n"
        "# TYPE fedmesh_record_active gauge\n"
        "fedmesh_record_active %d\n"
        "# HELP fedmesh_record_inputs_total Inputs written to the recording.\n"
        "# TYPE fedmesh_record_inputs_total counter\n"
        "fedmesh_record_inputs_total %llu\n"
        "# HELP fedmesh_record_bytes_total Bytes written to the recording, all segments.\n"
        "# TYPE fedmesh_record_bytes_total counter\n"
        "fedmesh_record_bytes_total %llu\n"
        "# HELP fedmesh_record_rotations_total Segments started after the first.\n"
        "# TYPE fedmesh_record_rotations_total counter\n"
        "fedmesh_record_rotations_total %llu\n"
        "# HELP fedmesh_record_write_errors_total Recording writes that failed (the first "
        "ends the recording).\n"
        "# TYPE fedmesh_record_write_errors_total counter\n"
        "fedmesh_record_write_errors_total %llu\n"
        "# HELP fedmesh_record_dropped_total Inputs not recorded because the recording ended "
        "early.\n"
        "# TYPE fedmesh_record_dropped_total counter\n"
        "fedmesh_record_dropped_total %llu\n",
        s.active ? 1 : 0, (unsigned long long) s.inputs, (unsigned long long) s.bytes,
        (unsigned long long) s.rotations, (unsigned long long) s.write_errors,
        (unsigned long long) s.dropped);
    MESH_ASSERT(n > 0 && (size_t) n < sizeof(extra));
    char *grown = realloc(*text, *size + (size_t) n + 1);
    if (grown == NULL) {
        return MESH_ENOMEM;
    }
    memcpy(grown + *size, extra, (size_t) n + 1);
    *text = grown;
    *size += (size_t) n;
    return MESH_OK;
}
