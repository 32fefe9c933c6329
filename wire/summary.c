/*
 * wire/summary.c: the ledger summary body (type 21), how two members
 * compare their ledgers over the network (wire.h has the schema,
 * docs/leases.md the exchange).
 *
 * Same shape as codec.c, gossip.c and lease.c, with the same shared steps
 * (wire_int.h): a map with small unsigned keys, strictly ascending, all
 * required; each field validated as soon as it is read, so that an error
 * points at it; the decoder writes into the caller's struct only on
 * success; the encoder validates the whole struct with the rules the
 * decoder applies before it writes a byte, so a decoded body re-encodes to
 * the same bytes (fuzz_wire_summary.c holds the code to that).
 *
 * The rules, and why:
 *   - request_id 0 is RANGE: it is what a zeroed struct holds, and the
 *     asker matches answers to its request by it.
 *   - a request (reply 0) carries nothing but its id and addressee: page
 *     0 of 1, lease_count 0, no entries (RANGE, or LENGTH for entries at
 *     the array header). Each rule is checked at the later of its two
 *     fields, which key order makes the field checked in place.
 *   - page < page_count (RANGE at page_count); page_count 1..64.
 *   - an entry is array(3) [lease_id, record_count, digest]: fewer fields
 *     is MISSING_FIELD, more is LENGTH (as a digest entry); a zero lease id
 *     or a record count of 0 is RANGE; ids strictly ascending
 *     (NOT_CANONICAL), which also refuses duplicates.
 *
 * Bounds: the body is capped at WIRE_BODY_SIZE_MAX before parsing; no
 * valid body is longer than SUMMARY_BODY_SIZE_MAX (below; the encoder
 * asserts it). The decoder fills a caller's struct of about 9 KiB in
 * place (never a copy on the stack), entry by entry.
 */
#include <stddef.h>
#include <string.h>

#include "wire/wire_int.h"

enum summary_key {
    SUMMARY_KEY_REQUEST_ID = 0,
    SUMMARY_KEY_TO = 1,
    SUMMARY_KEY_REPLY = 2,
    SUMMARY_KEY_PAGE = 3,
    SUMMARY_KEY_PAGE_COUNT = 4,
    SUMMARY_KEY_LEASE_COUNT = 5,
    SUMMARY_KEY_ENTRIES = 6,
    SUMMARY_KEY_COUNT = 7,
};

enum {
    SUMMARY_ENTRY_FIELD_COUNT = 3,
};

/* The longest valid body: map (1), key and uint64 (1 + 9), key and
 * bin8(16) (1 + 18), key and reply (1 + 1), key and page (1 + 1), key and
 * page count (1 + 1), key and uint32 lease count (1 + 5), key and array16
 * header (1 + 3), and 256 entries of fixarray (1), bin8(16) (18), uint32
 * (5), bin8(16) (18): 10,800 bytes. */
#define SUMMARY_ENTRY_SIZE_MAX (1u + 18u + 5u + 18u)
#define SUMMARY_BODY_SIZE_MAX \
    (1u + 10u + 19u + 2u + 2u + 2u + 6u + 4u + WIRE_SUMMARY_ENTRIES_MAX * SUMMARY_ENTRY_SIZE_MAX)

_Static_assert(SUMMARY_KEY_COUNT <= WIRE_MAP_COUNT_MAX, "the body map fits the map limit");
_Static_assert(SUMMARY_BODY_SIZE_MAX <= WIRE_BODY_SIZE_MAX, "a summary fits any envelope");
_Static_assert(WIRE_SUMMARY_PAGES_MAX < 128u, "page numbers are positive fixints");
_Static_assert(WIRE_SUMMARY_ENTRIES_MAX < 65536u, "the entries header is at most array16");
_Static_assert(sizeof(wire_summary_entry) ==
                   WIRE_LEASE_ID_SIZE + sizeof(uint32_t) + WIRE_SUMMARY_DIGEST_SIZE,
               "summary entries have no padding to leak or compare");

static mesh_err decode_fail(wire_reader *reader, wire_reason reason, uint32_t offset)
{
    return wire_reader_fail(reader, reason, offset);
}

static bool lease_id_valid(const uint8_t *lease_id)
{
    MESH_ASSERT(lease_id != NULL);
    uint8_t any = 0;
    for (uint32_t i = 0; i < WIRE_LEASE_ID_SIZE; i++) {
        any |= lease_id[i];
    }
    return any != 0;
}

// The whole-struct rules: the encoder's gate, the decoder's debug check.
static bool summary_valid(const wire_summary *summary)
{
    MESH_ASSERT(summary != NULL);
    if (summary->request_id < 1 || summary->reply > 1) {
        return false;
    }
    if (summary->page_count < 1 || summary->page_count > WIRE_SUMMARY_PAGES_MAX ||
        summary->page >= summary->page_count) {
        return false;
    }
    if (summary->entry_count > WIRE_SUMMARY_ENTRIES_MAX) {
        return false;
    }
    if (summary->reply == 0 && (summary->page != 0 || summary->page_count != 1 ||
                                summary->lease_count != 0 || summary->entry_count != 0)) {
        return false;
    }
    for (uint32_t i = 0; i < summary->entry_count; i++) {
        const wire_summary_entry *entry = &summary->entries[i];
        if (!lease_id_valid(entry->lease_id) || entry->record_count < 1) {
            return false;
        }
        if (i > 0 &&
            memcmp(summary->entries[i - 1].lease_id, entry->lease_id, WIRE_LEASE_ID_SIZE) >= 0) {
            return false;
        }
    }
    return true;
}

// True when this field's rule ties it to reply and reply said "request".
static bool is_request(const wire_body_map *map, const wire_summary *summary)
{
    return wire_map_seen(map, SUMMARY_KEY_REPLY) && summary->reply == 0;
}

static mesh_err
summary_decode_entries(wire_reader *reader, const wire_body_map *map, wire_summary *summary)
{
    uint32_t start = reader->offset;
    uint32_t count;
    mesh_err err = wire_read_array(reader, WIRE_SUMMARY_ENTRIES_MAX, &count);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(count <= WIRE_SUMMARY_ENTRIES_MAX);
    if (count > 0 && is_request(map, summary)) {
        reader->offset = start;
        return decode_fail(reader, WIRE_REASON_LENGTH, start);
    }
    for (uint32_t i = 0; i < count; i++) {
        wire_summary_entry *entry = &summary->entries[i];
        uint32_t entry_start = reader->offset;
        uint32_t field_count;
        err = wire_read_array(reader, SUMMARY_ENTRY_FIELD_COUNT, &field_count);
        if (err != MESH_OK) {
            return err;
        }
        if (field_count != SUMMARY_ENTRY_FIELD_COUNT) {
            return decode_fail(reader, WIRE_REASON_MISSING_FIELD, entry_start);
        }
        uint32_t id_offset = reader->offset;
        err = wire_decode_bin_fixed(reader, entry->lease_id, WIRE_LEASE_ID_SIZE);
        if (err != MESH_OK) {
            return err;
        }
        if (!lease_id_valid(entry->lease_id)) {
            return decode_fail(reader, WIRE_REASON_RANGE, id_offset);
        }
        uint32_t count_offset = reader->offset;
        uint64_t record_count = 0;
        err = wire_read_uint(reader, UINT32_MAX, &record_count);
        if (err != MESH_OK) {
            return err;
        }
        if (record_count < 1) {
            return decode_fail(reader, WIRE_REASON_RANGE, count_offset);
        }
        entry->record_count = (uint32_t) record_count;
        err = wire_decode_bin_fixed(reader, entry->digest, WIRE_SUMMARY_DIGEST_SIZE);
        if (err != MESH_OK) {
            return err;
        }
        if (i > 0 &&
            memcmp(summary->entries[i - 1].lease_id, entry->lease_id, WIRE_LEASE_ID_SIZE) >= 0) {
            return decode_fail(reader, WIRE_REASON_NOT_CANONICAL, entry_start);
        }
    }
    summary->entry_count = count;
    return MESH_OK;
}

static mesh_err
summary_decode_field(wire_reader *reader, const wire_body_map *map, uint32_t key, wire_summary *s)
{
    MESH_ASSERT(s != NULL);
    MESH_ASSERT(wire_map_seen(map, key));
    uint32_t start = reader->offset;
    uint64_t value = 0;
    mesh_err err;
    switch ((enum summary_key) key) {
    case SUMMARY_KEY_REQUEST_ID:
        err = wire_read_uint(reader, UINT64_MAX, &s->request_id);
        if (err == MESH_OK && s->request_id < 1) {
            return decode_fail(reader, WIRE_REASON_RANGE, start);
        }
        return err;
    case SUMMARY_KEY_TO:
        return wire_decode_bin_fixed(reader, s->to.bytes, MESH_NODE_ID_SIZE);
    case SUMMARY_KEY_REPLY:
        err = wire_read_uint(reader, 1, &value);
        s->reply = (uint32_t) value;
        return err;
    case SUMMARY_KEY_PAGE:
        err = wire_read_uint(reader, WIRE_SUMMARY_PAGES_MAX - 1u, &value);
        if (err == MESH_OK && value != 0 && is_request(map, s)) {
            return decode_fail(reader, WIRE_REASON_RANGE, start);
        }
        s->page = (uint32_t) value;
        return err;
    case SUMMARY_KEY_PAGE_COUNT:
        err = wire_read_uint(reader, WIRE_SUMMARY_PAGES_MAX, &value);
        if (err != MESH_OK) {
            return err;
        }
        s->page_count = (uint32_t) value;
        // The rule across two fields, at the later one; an absent page is
        // left to the map's MISSING_FIELD.
        if (value < 1 || (wire_map_seen(map, SUMMARY_KEY_PAGE) && s->page >= s->page_count) ||
            (value != 1 && is_request(map, s))) {
            return decode_fail(reader, WIRE_REASON_RANGE, start);
        }
        return MESH_OK;
    case SUMMARY_KEY_LEASE_COUNT:
        err = wire_read_uint(reader, UINT32_MAX, &value);
        if (err == MESH_OK && value != 0 && is_request(map, s)) {
            return decode_fail(reader, WIRE_REASON_RANGE, start);
        }
        s->lease_count = (uint32_t) value;
        return err;
    case SUMMARY_KEY_ENTRIES:
        return summary_decode_entries(reader, map, s);
    case SUMMARY_KEY_COUNT:
        break;
    }
    MESH_ASSERT(false && "wire_map_next_key returns known keys only");
    return MESH_EINTERNAL;
}

static mesh_err
summary_decode_one(wire_reader *reader, const wire_body_map *map, uint32_t key, void *value_out)
{
    return summary_decode_field(reader, map, key, value_out);
}

static mesh_err summary_decode_fields(wire_reader *reader, void *value_out)
{
    MESH_ASSERT(value_out != NULL);
    return wire_decode_map(reader, SUMMARY_KEY_COUNT, summary_decode_one, value_out);
}

mesh_err wire_summary_decode(const uint8_t *body,
                             uint32_t body_size,
                             wire_summary *summary_out,
                             wire_error *error_out)
{
    MESH_ASSERT(body != NULL || body_size == 0);
    MESH_ASSERT(summary_out != NULL);
    // The header goes through a local copy, the entries straight into the
    // caller's struct (9 KiB): on failure the caller's header is untouched
    // and its entries hold no promise (entry_count says how many are
    // meaningful).
    wire_summary *summary = summary_out;
    wire_summary header_saved;
    memcpy(&header_saved, summary, offsetof(wire_summary, entries));
    memset(summary, 0, offsetof(wire_summary, entries));
    mesh_err err = wire_decode_top(body, body_size, WIRE_BODY_SIZE_MAX, summary_decode_fields,
                                   summary, error_out);
    if (err != MESH_OK) {
        memcpy(summary, &header_saved, offsetof(wire_summary, entries));
        return err;
    }
    MESH_ASSERT(summary->entry_count <= WIRE_SUMMARY_ENTRIES_MAX);
    MESH_DEBUG_ASSERT(summary_valid(summary));
    return MESH_OK;
}

static void summary_write(wire_writer *writer, const wire_summary *summary)
{
    wire_write_map(writer, SUMMARY_KEY_COUNT);
    wire_write_uint(writer, SUMMARY_KEY_REQUEST_ID);
    wire_write_uint(writer, summary->request_id);
    wire_write_uint(writer, SUMMARY_KEY_TO);
    wire_write_bin(writer, summary->to.bytes, MESH_NODE_ID_SIZE);
    wire_write_uint(writer, SUMMARY_KEY_REPLY);
    wire_write_uint(writer, summary->reply);
    wire_write_uint(writer, SUMMARY_KEY_PAGE);
    wire_write_uint(writer, summary->page);
    wire_write_uint(writer, SUMMARY_KEY_PAGE_COUNT);
    wire_write_uint(writer, summary->page_count);
    wire_write_uint(writer, SUMMARY_KEY_LEASE_COUNT);
    wire_write_uint(writer, summary->lease_count);
    wire_write_uint(writer, SUMMARY_KEY_ENTRIES);
    wire_write_array(writer, summary->entry_count);
    for (uint32_t i = 0; i < summary->entry_count; i++) {
        const wire_summary_entry *entry = &summary->entries[i];
        wire_write_array(writer, SUMMARY_ENTRY_FIELD_COUNT);
        wire_write_bin(writer, entry->lease_id, WIRE_LEASE_ID_SIZE);
        wire_write_uint(writer, entry->record_count);
        wire_write_bin(writer, entry->digest, WIRE_SUMMARY_DIGEST_SIZE);
    }
}

mesh_err wire_summary_encode(const wire_summary *summary,
                             uint8_t *buf,
                             uint32_t buf_size,
                             uint32_t *size_out)
{
    MESH_ASSERT(summary != NULL);
    MESH_ASSERT(buf != NULL || buf_size == 0);
    MESH_ASSERT(size_out != NULL);
    if (!summary_valid(summary)) {
        return MESH_EINVAL;
    }
    wire_writer writer;
    wire_writer_init(&writer, buf, buf_size);
    summary_write(&writer, summary);
    uint32_t size;
    mesh_err err = wire_writer_finish(&writer, &size);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(size <= SUMMARY_BODY_SIZE_MAX);
    WIRE_DEBUG_REDECODE(wire_summary_decode, wire_summary, buf, size);
    *size_out = size;
    return MESH_OK;
}
