/*
 * wire/gossip.c: the gossip bodies: the signed suspicion record and the
 * MAC'd control messages (ping and ack, ping-req, digest, pull, push).
 *
 * Same shape as codec.c, with the same shared steps (wire_int.h): a body is
 * a map with small unsigned keys, strictly ascending, all required; each
 * field is validated as soon as it is read, so that an error points at
 * it; the decoder writes into a local struct that reaches the caller only
 * on success; the encoder validates the whole struct with the rules of
 * validate.c before it writes a byte. Decoded bodies therefore re-encode
 * to the same bytes, and the fuzz target fuzz_wire_gossip.c holds the code
 * to that.
 *
 * The lists, and why each has the rule it has:
 *   - digest entries are a map from member id to sequence: ids strictly
 *     ascending (NOT_CANONICAL otherwise, which also refuses duplicates),
 *     and every id inside the page's prefix range (RANGE), so that a page
 *     can only speak for its own slice of the id space. The range rule
 *     needs page and page_count, which come first in key order; that is
 *     why "page < page_count" is checked in place, at page_count, rather
 *     than after the map like cert's validity window. When either key is
 *     absent, the map ends in MISSING_FIELD anyway.
 *   - pull ids are a set: strictly ascending, 1..WIRE_PULL_IDS_MAX.
 *   - push records are a batch in the sender's order: no order rule, but
 *     each record is 1..WIRE_RECORD_SIZE_MAX bytes and points into the
 *     body on decode (valid as long as the body is).
 * An empty list where the schema wants at least one element is RANGE (as
 * an empty envelope body is); one over the limit is LENGTH, refused at the
 * header before any element is read.
 *
 * Bounds: all bodies are capped at WIRE_BODY_SIZE_MAX before parsing. The
 * digest struct is about 24 KiB, nearly all of it entries: its decoder
 * clears only the header fields and copies out only the entries in use,
 * instead of clearing and copying the whole array on every message. Pull
 * and push do the same for the same reason. A push can hold more record
 * bytes than a body may carry (64 records of 4 KiB); its encoder never
 * writes past WIRE_BODY_SIZE_MAX and reports MESH_EFULL, which tells the
 * caller to send fewer records.
 */
#include <stddef.h>
#include <string.h>

#include "wire/wire_int.h"

enum suspect_key {
    SUSPECT_KEY_TARGET = 0,
    SUSPECT_KEY_TARGET_SEQUENCE = 1,
    SUSPECT_KEY_AT = 2,
    SUSPECT_KEY_COUNT = 3,
};

enum ping_key {
    PING_KEY_NONCE = 0,
    PING_KEY_VIEW_HASH = 1,
    PING_KEY_COUNT = 2,
};

enum ping_req_key {
    PING_REQ_KEY_NONCE = 0,
    PING_REQ_KEY_TARGET = 1,
    PING_REQ_KEY_COUNT = 2,
};

enum digest_key {
    DIGEST_KEY_VIEW_HASH = 0,
    DIGEST_KEY_PAGE = 1,
    DIGEST_KEY_PAGE_COUNT = 2,
    DIGEST_KEY_REPLY = 3,
    DIGEST_KEY_ENTRIES = 4,
    DIGEST_KEY_COUNT = 5,
};

enum pull_key {
    PULL_KEY_IDS = 0,
    PULL_KEY_COUNT = 1,
};

enum push_key {
    PUSH_KEY_RECORDS = 0,
    PUSH_KEY_COUNT = 1,
};

enum {
    DIGEST_ENTRY_FIELD_COUNT = 2,
};

_Static_assert(DIGEST_KEY_COUNT <= WIRE_MAP_COUNT_MAX, "every body map fits the map limit");
_Static_assert(WIRE_DIGEST_PAGES_MAX <= 65536u, "a page holds at least one id prefix");
_Static_assert(WIRE_VIEW_HASH_SIZE == MESH_NODE_ID_SIZE, "both are bin(16) on the wire");
_Static_assert(sizeof(wire_digest_entry) == MESH_NODE_ID_SIZE + sizeof(uint64_t),
               "digest entries have no padding to leak or compare");

static mesh_err decode_fail(wire_reader *reader, wire_reason reason, uint32_t offset)
{
    return wire_reader_fail(reader, reason, offset);
}

/* The suspicion. */

static mesh_err
suspect_decode_field(wire_reader *reader, const wire_body_map *map, uint32_t key, void *value_out)
{
    wire_suspect *suspect = value_out;
    MESH_ASSERT(suspect != NULL);
    MESH_ASSERT(wire_map_seen(map, key));
    uint32_t start = reader->offset;
    mesh_err err;
    switch ((enum suspect_key) key) {
    case SUSPECT_KEY_TARGET:
        return wire_decode_bin_fixed(reader, suspect->target.bytes, MESH_NODE_ID_SIZE);
    case SUSPECT_KEY_TARGET_SEQUENCE:
        err = wire_read_uint(reader, UINT64_MAX, &suspect->target_sequence);
        if (err == MESH_OK && suspect->target_sequence < 1) {
            return decode_fail(reader, WIRE_REASON_RANGE, start);
        }
        return err;
    case SUSPECT_KEY_AT:
        err = wire_read_int64(reader, &suspect->at_ns);
        if (err == MESH_OK && suspect->at_ns <= 0) {
            return decode_fail(reader, WIRE_REASON_RANGE, start);
        }
        return err;
    case SUSPECT_KEY_COUNT:
        break;
    }
    MESH_ASSERT(false && "wire_map_next_key returns known keys only");
    return MESH_EINTERNAL;
}

static mesh_err suspect_decode_fields(wire_reader *reader, void *value_out)
{
    return wire_decode_map(reader, SUSPECT_KEY_COUNT, suspect_decode_field, value_out);
}

mesh_err wire_suspect_decode(const uint8_t *body,
                             uint32_t body_size,
                             wire_suspect *suspect_out,
                             wire_error *error_out)
{
    MESH_ASSERT(body != NULL || body_size == 0);
    MESH_ASSERT(suspect_out != NULL);
    wire_suspect suspect;
    memset(&suspect, 0, sizeof(suspect));
    mesh_err err = wire_decode_top(body, body_size, WIRE_BODY_SIZE_MAX, suspect_decode_fields,
                                   &suspect, error_out);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(wire_suspect_valid(&suspect));
    *suspect_out = suspect;
    return MESH_OK;
}

static void suspect_write(wire_writer *writer, const wire_suspect *suspect)
{
    wire_write_map(writer, SUSPECT_KEY_COUNT);
    wire_write_uint(writer, SUSPECT_KEY_TARGET);
    wire_write_bin(writer, suspect->target.bytes, MESH_NODE_ID_SIZE);
    wire_write_uint(writer, SUSPECT_KEY_TARGET_SEQUENCE);
    wire_write_uint(writer, suspect->target_sequence);
    wire_write_uint(writer, SUSPECT_KEY_AT);
    wire_write_int64(writer, suspect->at_ns);
}

mesh_err wire_suspect_encode(const wire_suspect *suspect,
                             uint8_t *buf,
                             uint32_t buf_size,
                             uint32_t *size_out)
{
    MESH_ASSERT(suspect != NULL);
    MESH_ASSERT(buf != NULL || buf_size == 0);
    MESH_ASSERT(size_out != NULL);
    if (!wire_suspect_valid(suspect)) {
        return MESH_EINVAL;
    }
    wire_writer writer;
    wire_writer_init(&writer, buf, buf_size);
    suspect_write(&writer, suspect);
    uint32_t size;
    mesh_err err = wire_writer_finish(&writer, &size);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(size <= WIRE_BODY_SIZE_MAX);
    WIRE_DEBUG_REDECODE(wire_suspect_decode, wire_suspect, buf, size);
    *size_out = size;
    return MESH_OK;
}

/* Ping and ack. Every value of every field is valid, so there is no
 * whole-struct validator: the schema alone is the rule. */

static mesh_err
ping_decode_field(wire_reader *reader, const wire_body_map *map, uint32_t key, void *value_out)
{
    wire_ping *ping = value_out;
    MESH_ASSERT(ping != NULL);
    MESH_ASSERT(wire_map_seen(map, key));
    switch ((enum ping_key) key) {
    case PING_KEY_NONCE:
        return wire_read_uint(reader, UINT64_MAX, &ping->nonce);
    case PING_KEY_VIEW_HASH:
        return wire_decode_bin_fixed(reader, ping->view_hash, WIRE_VIEW_HASH_SIZE);
    case PING_KEY_COUNT:
        break;
    }
    MESH_ASSERT(false && "wire_map_next_key returns known keys only");
    return MESH_EINTERNAL;
}

static mesh_err ping_decode_fields(wire_reader *reader, void *value_out)
{
    return wire_decode_map(reader, PING_KEY_COUNT, ping_decode_field, value_out);
}

mesh_err wire_ping_decode(const uint8_t *body,
                          uint32_t body_size,
                          wire_ping *ping_out,
                          wire_error *error_out)
{
    MESH_ASSERT(body != NULL || body_size == 0);
    MESH_ASSERT(ping_out != NULL);
    wire_ping ping;
    memset(&ping, 0, sizeof(ping));
    mesh_err err =
        wire_decode_top(body, body_size, WIRE_BODY_SIZE_MAX, ping_decode_fields, &ping, error_out);
    if (err != MESH_OK) {
        return err;
    }
    *ping_out = ping;
    return MESH_OK;
}

static void ping_write(wire_writer *writer, const wire_ping *ping)
{
    wire_write_map(writer, PING_KEY_COUNT);
    wire_write_uint(writer, PING_KEY_NONCE);
    wire_write_uint(writer, ping->nonce);
    wire_write_uint(writer, PING_KEY_VIEW_HASH);
    wire_write_bin(writer, ping->view_hash, WIRE_VIEW_HASH_SIZE);
}

mesh_err
wire_ping_encode(const wire_ping *ping, uint8_t *buf, uint32_t buf_size, uint32_t *size_out)
{
    MESH_ASSERT(ping != NULL);
    MESH_ASSERT(buf != NULL || buf_size == 0);
    MESH_ASSERT(size_out != NULL);
    wire_writer writer;
    wire_writer_init(&writer, buf, buf_size);
    ping_write(&writer, ping);
    uint32_t size;
    mesh_err err = wire_writer_finish(&writer, &size);
    if (err != MESH_OK) {
        return err;
    }
    // map, two keys, a uint64 at most 9 bytes, bin8(16): at most 30 bytes.
    MESH_ASSERT(size <= 30u);
    WIRE_DEBUG_REDECODE(wire_ping_decode, wire_ping, buf, size);
    *size_out = size;
    return MESH_OK;
}

/* Ping-req. Like ping, every value is valid. */

static mesh_err
ping_req_decode_field(wire_reader *reader, const wire_body_map *map, uint32_t key, void *value_out)
{
    wire_ping_req *ping_req = value_out;
    MESH_ASSERT(ping_req != NULL);
    MESH_ASSERT(wire_map_seen(map, key));
    switch ((enum ping_req_key) key) {
    case PING_REQ_KEY_NONCE:
        return wire_read_uint(reader, UINT64_MAX, &ping_req->nonce);
    case PING_REQ_KEY_TARGET:
        return wire_decode_bin_fixed(reader, ping_req->target.bytes, MESH_NODE_ID_SIZE);
    case PING_REQ_KEY_COUNT:
        break;
    }
    MESH_ASSERT(false && "wire_map_next_key returns known keys only");
    return MESH_EINTERNAL;
}

static mesh_err ping_req_decode_fields(wire_reader *reader, void *value_out)
{
    return wire_decode_map(reader, PING_REQ_KEY_COUNT, ping_req_decode_field, value_out);
}

mesh_err wire_ping_req_decode(const uint8_t *body,
                              uint32_t body_size,
                              wire_ping_req *ping_req_out,
                              wire_error *error_out)
{
    MESH_ASSERT(body != NULL || body_size == 0);
    MESH_ASSERT(ping_req_out != NULL);
    wire_ping_req ping_req;
    memset(&ping_req, 0, sizeof(ping_req));
    mesh_err err = wire_decode_top(body, body_size, WIRE_BODY_SIZE_MAX, ping_req_decode_fields,
                                   &ping_req, error_out);
    if (err != MESH_OK) {
        return err;
    }
    *ping_req_out = ping_req;
    return MESH_OK;
}

static void ping_req_write(wire_writer *writer, const wire_ping_req *ping_req)
{
    wire_write_map(writer, PING_REQ_KEY_COUNT);
    wire_write_uint(writer, PING_REQ_KEY_NONCE);
    wire_write_uint(writer, ping_req->nonce);
    wire_write_uint(writer, PING_REQ_KEY_TARGET);
    wire_write_bin(writer, ping_req->target.bytes, MESH_NODE_ID_SIZE);
}

mesh_err wire_ping_req_encode(const wire_ping_req *ping_req,
                              uint8_t *buf,
                              uint32_t buf_size,
                              uint32_t *size_out)
{
    MESH_ASSERT(ping_req != NULL);
    MESH_ASSERT(buf != NULL || buf_size == 0);
    MESH_ASSERT(size_out != NULL);
    wire_writer writer;
    wire_writer_init(&writer, buf, buf_size);
    ping_req_write(&writer, ping_req);
    uint32_t size;
    mesh_err err = wire_writer_finish(&writer, &size);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(size <= 30u);
    WIRE_DEBUG_REDECODE(wire_ping_req_decode, wire_ping_req, buf, size);
    *size_out = size;
    return MESH_OK;
}

/* The digest. */

// The entries, in place: shape, sequence, page range, then order (per
// element rules first, set order second, as for advert resources). The
// range check runs only when page and page_count were both read before
// the entries; otherwise the map is missing one and fails at its end.
static mesh_err
digest_decode_entries(wire_reader *reader, const wire_body_map *map, wire_digest *digest)
{
    bool range_known =
        wire_map_seen(map, DIGEST_KEY_PAGE) && wire_map_seen(map, DIGEST_KEY_PAGE_COUNT);
    MESH_ASSERT(!range_known || wire_digest_page_valid(digest->page, digest->page_count));
    uint32_t count;
    mesh_err err = wire_read_array(reader, WIRE_DIGEST_ENTRIES_MAX, &count);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(count <= WIRE_DIGEST_ENTRIES_MAX);
    for (uint32_t i = 0; i < count; i++) {
        wire_digest_entry *entry = &digest->entries[i];
        uint32_t start = reader->offset;
        uint32_t field_count;
        err = wire_read_array(reader, DIGEST_ENTRY_FIELD_COUNT, &field_count);
        if (err != MESH_OK) {
            return err;
        }
        if (field_count != DIGEST_ENTRY_FIELD_COUNT) {
            return decode_fail(reader, WIRE_REASON_MISSING_FIELD, start);
        }
        uint32_t id_offset = reader->offset;
        err = wire_decode_bin_fixed(reader, entry->id.bytes, MESH_NODE_ID_SIZE);
        if (err != MESH_OK) {
            return err;
        }
        uint32_t sequence_offset = reader->offset;
        err = wire_read_uint(reader, UINT64_MAX, &entry->sequence);
        if (err != MESH_OK) {
            return err;
        }
        if (entry->sequence < 1) {
            return decode_fail(reader, WIRE_REASON_RANGE, sequence_offset);
        }
        if (range_known && !wire_digest_entry_valid(entry, digest->page, digest->page_count)) {
            return decode_fail(reader, WIRE_REASON_RANGE, id_offset);
        }
        if (i > 0 && mesh_node_id_compare(&digest->entries[i - 1].id, &entry->id) >= 0) {
            return decode_fail(reader, WIRE_REASON_NOT_CANONICAL, start);
        }
    }
    digest->entry_count = count;
    return MESH_OK;
}

static mesh_err
digest_decode_field(wire_reader *reader, const wire_body_map *map, uint32_t key, void *value_out)
{
    wire_digest *digest = value_out;
    MESH_ASSERT(digest != NULL);
    MESH_ASSERT(wire_map_seen(map, key));
    uint32_t start = reader->offset;
    uint64_t value = 0;
    mesh_err err;
    switch ((enum digest_key) key) {
    case DIGEST_KEY_VIEW_HASH:
        return wire_decode_bin_fixed(reader, digest->view_hash, WIRE_VIEW_HASH_SIZE);
    case DIGEST_KEY_PAGE:
        err = wire_read_uint(reader, WIRE_DIGEST_PAGES_MAX - 1u, &value);
        digest->page = (uint32_t) value;
        return err;
    case DIGEST_KEY_PAGE_COUNT:
        err = wire_read_uint(reader, WIRE_DIGEST_PAGES_MAX, &value);
        if (err != MESH_OK) {
            return err;
        }
        digest->page_count = (uint32_t) value;
        // The rule across two fields, at the later one (as cert reports
        // its validity window at valid_until). An absent page is left to
        // the map's MISSING_FIELD.
        if (value < 1 || (wire_map_seen(map, DIGEST_KEY_PAGE) &&
                          !wire_digest_page_valid(digest->page, digest->page_count))) {
            return decode_fail(reader, WIRE_REASON_RANGE, start);
        }
        return MESH_OK;
    case DIGEST_KEY_REPLY:
        err = wire_read_uint(reader, 1, &value);
        digest->reply = (uint32_t) value;
        return err;
    case DIGEST_KEY_ENTRIES:
        return digest_decode_entries(reader, map, digest);
    case DIGEST_KEY_COUNT:
        break;
    }
    MESH_ASSERT(false && "wire_map_next_key returns known keys only");
    return MESH_EINTERNAL;
}

static mesh_err digest_decode_fields(wire_reader *reader, void *value_out)
{
    return wire_decode_map(reader, DIGEST_KEY_COUNT, digest_decode_field, value_out);
}

mesh_err wire_digest_decode(const uint8_t *body,
                            uint32_t body_size,
                            wire_digest *digest_out,
                            wire_error *error_out)
{
    MESH_ASSERT(body != NULL || body_size == 0);
    MESH_ASSERT(digest_out != NULL);
    // Only the header is cleared: entries are written before they are
    // read, and only the first entry_count of them are copied out.
    wire_digest digest;
    memset(&digest, 0, offsetof(wire_digest, entries));
    mesh_err err = wire_decode_top(body, body_size, WIRE_BODY_SIZE_MAX, digest_decode_fields,
                                   &digest, error_out);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(digest.entry_count <= WIRE_DIGEST_ENTRIES_MAX);
    MESH_DEBUG_ASSERT(wire_digest_valid(&digest));
    memcpy(digest_out, &digest, offsetof(wire_digest, entries));
    memcpy(digest_out->entries, digest.entries, digest.entry_count * sizeof(digest.entries[0]));
    return MESH_OK;
}

static void digest_write(wire_writer *writer, const wire_digest *digest)
{
    wire_write_map(writer, DIGEST_KEY_COUNT);
    wire_write_uint(writer, DIGEST_KEY_VIEW_HASH);
    wire_write_bin(writer, digest->view_hash, WIRE_VIEW_HASH_SIZE);
    wire_write_uint(writer, DIGEST_KEY_PAGE);
    wire_write_uint(writer, digest->page);
    wire_write_uint(writer, DIGEST_KEY_PAGE_COUNT);
    wire_write_uint(writer, digest->page_count);
    wire_write_uint(writer, DIGEST_KEY_REPLY);
    wire_write_uint(writer, digest->reply);
    wire_write_uint(writer, DIGEST_KEY_ENTRIES);
    wire_write_array(writer, digest->entry_count);
    for (uint32_t i = 0; i < digest->entry_count; i++) {
        wire_write_array(writer, DIGEST_ENTRY_FIELD_COUNT);
        wire_write_bin(writer, digest->entries[i].id.bytes, MESH_NODE_ID_SIZE);
        wire_write_uint(writer, digest->entries[i].sequence);
    }
}

mesh_err
wire_digest_encode(const wire_digest *digest, uint8_t *buf, uint32_t buf_size, uint32_t *size_out)
{
    MESH_ASSERT(digest != NULL);
    MESH_ASSERT(buf != NULL || buf_size == 0);
    MESH_ASSERT(size_out != NULL);
    if (!wire_digest_valid(digest)) {
        return MESH_EINVAL;
    }
    wire_writer writer;
    wire_writer_init(&writer, buf, buf_size);
    digest_write(&writer, digest);
    uint32_t size;
    mesh_err err = wire_writer_finish(&writer, &size);
    if (err != MESH_OK) {
        return err;
    }
    // 1024 entries of at most 1 + 18 + 9 bytes: under 29 KiB.
    MESH_ASSERT(size <= WIRE_BODY_SIZE_MAX);
    WIRE_DEBUG_REDECODE(wire_digest_decode, wire_digest, buf, size);
    *size_out = size;
    return MESH_OK;
}

/* The pull. */

static mesh_err pull_decode_ids(wire_reader *reader, wire_pull *pull)
{
    uint32_t start = reader->offset;
    uint32_t count;
    mesh_err err = wire_read_array(reader, WIRE_PULL_IDS_MAX, &count);
    if (err != MESH_OK) {
        return err;
    }
    if (count < 1) {
        return decode_fail(reader, WIRE_REASON_RANGE, start);
    }
    MESH_ASSERT(count <= WIRE_PULL_IDS_MAX);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t id_offset = reader->offset;
        err = wire_decode_bin_fixed(reader, pull->ids[i].bytes, MESH_NODE_ID_SIZE);
        if (err != MESH_OK) {
            return err;
        }
        // A set: strictly ascending, which also rules out duplicates.
        if (i > 0 && mesh_node_id_compare(&pull->ids[i - 1], &pull->ids[i]) >= 0) {
            return decode_fail(reader, WIRE_REASON_NOT_CANONICAL, id_offset);
        }
    }
    pull->id_count = count;
    return MESH_OK;
}

static mesh_err
pull_decode_field(wire_reader *reader, const wire_body_map *map, uint32_t key, void *value_out)
{
    wire_pull *pull = value_out;
    MESH_ASSERT(pull != NULL);
    MESH_ASSERT(wire_map_seen(map, key));
    switch ((enum pull_key) key) {
    case PULL_KEY_IDS:
        return pull_decode_ids(reader, pull);
    case PULL_KEY_COUNT:
        break;
    }
    MESH_ASSERT(false && "wire_map_next_key returns known keys only");
    return MESH_EINTERNAL;
}

static mesh_err pull_decode_fields(wire_reader *reader, void *value_out)
{
    return wire_decode_map(reader, PULL_KEY_COUNT, pull_decode_field, value_out);
}

mesh_err wire_pull_decode(const uint8_t *body,
                          uint32_t body_size,
                          wire_pull *pull_out,
                          wire_error *error_out)
{
    MESH_ASSERT(body != NULL || body_size == 0);
    MESH_ASSERT(pull_out != NULL);
    wire_pull pull;
    pull.id_count = 0;
    mesh_err err =
        wire_decode_top(body, body_size, WIRE_BODY_SIZE_MAX, pull_decode_fields, &pull, error_out);
    if (err != MESH_OK) {
        return err;
    }
    MESH_DEBUG_ASSERT(wire_pull_valid(&pull));
    MESH_ASSERT(pull.id_count >= 1 && pull.id_count <= WIRE_PULL_IDS_MAX);
    pull_out->id_count = pull.id_count;
    memcpy(pull_out->ids, pull.ids, pull.id_count * sizeof(pull.ids[0]));
    return MESH_OK;
}

static void pull_write(wire_writer *writer, const wire_pull *pull)
{
    wire_write_map(writer, PULL_KEY_COUNT);
    wire_write_uint(writer, PULL_KEY_IDS);
    wire_write_array(writer, pull->id_count);
    for (uint32_t i = 0; i < pull->id_count; i++) {
        wire_write_bin(writer, pull->ids[i].bytes, MESH_NODE_ID_SIZE);
    }
}

mesh_err
wire_pull_encode(const wire_pull *pull, uint8_t *buf, uint32_t buf_size, uint32_t *size_out)
{
    MESH_ASSERT(pull != NULL);
    MESH_ASSERT(buf != NULL || buf_size == 0);
    MESH_ASSERT(size_out != NULL);
    if (!wire_pull_valid(pull)) {
        return MESH_EINVAL;
    }
    wire_writer writer;
    wire_writer_init(&writer, buf, buf_size);
    pull_write(&writer, pull);
    uint32_t size;
    mesh_err err = wire_writer_finish(&writer, &size);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(size <= WIRE_BODY_SIZE_MAX);
    WIRE_DEBUG_REDECODE(wire_pull_decode, wire_pull, buf, size);
    *size_out = size;
    return MESH_OK;
}

/* The push. */

static mesh_err push_decode_records(wire_reader *reader, wire_push *push)
{
    uint32_t start = reader->offset;
    uint32_t count;
    mesh_err err = wire_read_array(reader, WIRE_PUSH_RECORDS_MAX, &count);
    if (err != MESH_OK) {
        return err;
    }
    if (count < 1) {
        return decode_fail(reader, WIRE_REASON_RANGE, start);
    }
    MESH_ASSERT(count <= WIRE_PUSH_RECORDS_MAX);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t record_offset = reader->offset;
        wire_record *record = &push->records[i];
        err = wire_read_bin(reader, WIRE_RECORD_SIZE_MAX, &record->frame, &record->frame_size);
        if (err != MESH_OK) {
            return err;
        }
        if (record->frame_size < 1) {
            return decode_fail(reader, WIRE_REASON_RANGE, record_offset);
        }
        MESH_ASSERT(wire_record_valid(record));
    }
    push->record_count = count;
    return MESH_OK;
}

static mesh_err
push_decode_field(wire_reader *reader, const wire_body_map *map, uint32_t key, void *value_out)
{
    wire_push *push = value_out;
    MESH_ASSERT(push != NULL);
    MESH_ASSERT(wire_map_seen(map, key));
    switch ((enum push_key) key) {
    case PUSH_KEY_RECORDS:
        return push_decode_records(reader, push);
    case PUSH_KEY_COUNT:
        break;
    }
    MESH_ASSERT(false && "wire_map_next_key returns known keys only");
    return MESH_EINTERNAL;
}

static mesh_err push_decode_fields(wire_reader *reader, void *value_out)
{
    return wire_decode_map(reader, PUSH_KEY_COUNT, push_decode_field, value_out);
}

mesh_err wire_push_decode(const uint8_t *body,
                          uint32_t body_size,
                          wire_push *push_out,
                          wire_error *error_out)
{
    MESH_ASSERT(body != NULL || body_size == 0);
    MESH_ASSERT(push_out != NULL);
    wire_push push;
    push.record_count = 0;
    mesh_err err =
        wire_decode_top(body, body_size, WIRE_BODY_SIZE_MAX, push_decode_fields, &push, error_out);
    if (err != MESH_OK) {
        return err;
    }
    MESH_DEBUG_ASSERT(wire_push_valid(&push));
    MESH_ASSERT(push.record_count >= 1 && push.record_count <= WIRE_PUSH_RECORDS_MAX);
    push_out->record_count = push.record_count;
    memcpy(push_out->records, push.records, push.record_count * sizeof(push.records[0]));
    return MESH_OK;
}

static void push_write(wire_writer *writer, const wire_push *push)
{
    wire_write_map(writer, PUSH_KEY_COUNT);
    wire_write_uint(writer, PUSH_KEY_RECORDS);
    wire_write_array(writer, push->record_count);
    for (uint32_t i = 0; i < push->record_count; i++) {
        wire_write_bin(writer, push->records[i].frame, push->records[i].frame_size);
    }
}

mesh_err
wire_push_encode(const wire_push *push, uint8_t *buf, uint32_t buf_size, uint32_t *size_out)
{
    MESH_ASSERT(push != NULL);
    MESH_ASSERT(buf != NULL || buf_size == 0);
    MESH_ASSERT(size_out != NULL);
    if (!wire_push_valid(push)) {
        return MESH_EINVAL;
    }
    // The one body whose valid structs can outgrow a body: write no more
    // than a body may hold, whatever the caller's buffer, and let the
    // sticky writer report MESH_EFULL (see the file head).
    uint32_t capacity = buf_size < WIRE_BODY_SIZE_MAX ? buf_size : WIRE_BODY_SIZE_MAX;
    wire_writer writer;
    wire_writer_init(&writer, buf, capacity);
    push_write(&writer, push);
    uint32_t size;
    mesh_err err = wire_writer_finish(&writer, &size);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(size <= WIRE_BODY_SIZE_MAX);
    WIRE_DEBUG_REDECODE(wire_push_decode, wire_push, buf, size);
    *size_out = size;
    return MESH_OK;
}
