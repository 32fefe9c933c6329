/*
 * wire/reader.c: the bounded MessagePack reader and the fixed-buffer writer.
 *
 * The reader is a cursor over borrowed bytes. It understands only what the
 * schema uses (integers, str, bin, array, map) and only in canonical form:
 * every integer, length and count in its smallest encoding, non-negative
 * integers in "uint" forms. It never allocates, and it checks each declared
 * length against the caller's schema limit and against the bytes that
 * remain before the caller looks at a single element, which is exactly
 * what msgpack-c's unpacker does not do (it sizes a zone from the declared
 * count, so 6 bytes can ask it for 128 GiB).
 *
 * Check order inside one header, so that every input has one reason:
 * MessagePack type (TYPE), header bytes present (TRUNCATED), minimal form
 * (NOT_CANONICAL), schema limit (LENGTH), bytes remaining (LENGTH). On
 * failure the cursor stays at the start of the failing value and the first
 * failure is recorded; later failures do not overwrite it.
 *
 * The writer wraps msgpack-c's packer, whose pack functions already pick
 * the smallest form (pack_template.h in 4.0.0; the unit tests pin this).
 * Its write callback copies into the caller's fixed buffer and refuses,
 * stickily, the first write that does not fit.
 */
#include <string.h>

#include <msgpack.h>

#include "wire/wire_int.h"

void wire_reader_init(wire_reader *reader, const uint8_t *data, uint32_t size)
{
    MESH_ASSERT(reader != NULL);
    MESH_ASSERT(data != NULL || size == 0);
    reader->data = data;
    reader->size = size;
    reader->offset = 0;
    reader->reason = WIRE_REASON_NONE;
    reader->error_offset = 0;
}

mesh_err wire_reader_fail(wire_reader *reader, wire_reason reason, uint32_t offset)
{
    MESH_ASSERT(reader != NULL);
    MESH_ASSERT(reason != WIRE_REASON_NONE && reason < WIRE_REASON_COUNT);
    // The first failure is the one that explains the input; a caller that
    // maps a low-level failure to its own reason has already returned.
    if (reader->reason == WIRE_REASON_NONE) {
        reader->reason = reason;
        reader->error_offset = offset;
    }
    return MESH_EPROTO;
}

void wire_reader_error(const wire_reader *reader, wire_error *error_out)
{
    MESH_ASSERT(reader != NULL);
    MESH_ASSERT(reader->offset <= reader->size);
    if (error_out != NULL) {
        error_out->reason = reader->reason;
        error_out->offset = reader->error_offset;
    }
}

static uint32_t reader_remaining(const wire_reader *reader)
{
    MESH_ASSERT(reader->offset <= reader->size);
    return reader->size - reader->offset;
}

static uint64_t load_be(const uint8_t *bytes, uint32_t size)
{
    MESH_ASSERT(size >= 1 && size <= 8);
    uint64_t value = 0;
    for (uint32_t i = 0; i < size; i++) {
        value = (value << 8) | bytes[i];
    }
    return value;
}

// Reads the first byte of a value and the size-byte big-endian argument
// after it (size 0 for the fix forms). TRUNCATED when either is missing.
static mesh_err reader_header(wire_reader *reader, uint32_t size, uint64_t *argument_out)
{
    MESH_ASSERT(size <= 8);
    MESH_ASSERT(reader_remaining(reader) >= 1);
    if (reader_remaining(reader) - 1 < size) {
        return wire_reader_fail(reader, WIRE_REASON_TRUNCATED, reader->offset);
    }
    *argument_out = size == 0 ? 0 : load_be(reader->data + reader->offset + 1, size);
    return MESH_OK;
}

static mesh_err reader_first_byte(wire_reader *reader, uint8_t *byte_out)
{
    if (reader_remaining(reader) == 0) {
        return wire_reader_fail(reader, WIRE_REASON_TRUNCATED, reader->offset);
    }
    *byte_out = reader->data[reader->offset];
    return MESH_OK;
}

// Sign-extends the low size bytes of raw.
static int64_t sign_extend(uint64_t raw, uint32_t size)
{
    MESH_ASSERT(size == 1 || size == 2 || size == 4 || size == 8);
    uint32_t shift = 64u - 8u * size;
    // Shift left as unsigned, then arithmetic shift right through a
    // two's-complement conversion; both gcc and clang define the latter.
    uint64_t shifted = raw << shift;
    int64_t value;
    memcpy(&value, &shifted, sizeof(value));
    return value >> shift;
}

mesh_err wire_read_int(wire_reader *reader, wire_int *value_out)
{
    MESH_ASSERT(reader != NULL);
    MESH_ASSERT(value_out != NULL);
    uint32_t start = reader->offset;
    uint8_t first;
    mesh_err err = reader_first_byte(reader, &first);
    if (err != MESH_OK) {
        return err;
    }
    wire_int value = {0};
    uint32_t size;
    // For each form: the byte count and the smallest magnitude it may
    // carry. A uint form below its floor, or a signed form above its
    // ceiling (including any non-negative value), is not canonical.
    if (first <= 0x7f) {
        value.value = first;
        size = 0;
    } else if (first >= 0xe0) {
        value.negative = true;
        value.value_negative = (int64_t) first - 256;
        size = 0;
    } else if (first >= 0xcc && first <= 0xcf) {
        static const uint32_t sizes[4] = {1, 2, 4, 8};
        static const uint64_t floors[4] = {0x80u, 0x100u, 0x10000u, 0x100000000u};
        size = sizes[first - 0xcc];
        uint64_t raw;
        err = reader_header(reader, size, &raw);
        if (err != MESH_OK) {
            return err;
        }
        if (raw < floors[first - 0xcc]) {
            return wire_reader_fail(reader, WIRE_REASON_NOT_CANONICAL, start);
        }
        value.value = raw;
    } else if (first >= 0xd0 && first <= 0xd3) {
        static const uint32_t sizes[4] = {1, 2, 4, 8};
        static const int64_t ceilings[4] = {-33, -129, -32769, -2147483649LL};
        size = sizes[first - 0xd0];
        uint64_t raw;
        err = reader_header(reader, size, &raw);
        if (err != MESH_OK) {
            return err;
        }
        int64_t signed_value = sign_extend(raw, size);
        if (signed_value > ceilings[first - 0xd0]) {
            return wire_reader_fail(reader, WIRE_REASON_NOT_CANONICAL, start);
        }
        value.negative = true;
        value.value_negative = signed_value;
    } else {
        return wire_reader_fail(reader, WIRE_REASON_TYPE, start);
    }
    MESH_ASSERT(!value.negative || value.value_negative < 0);
    reader->offset = start + 1 + size;
    MESH_ASSERT(reader->offset <= reader->size);
    *value_out = value;
    return MESH_OK;
}

mesh_err wire_read_uint(wire_reader *reader, uint64_t value_max, uint64_t *value_out)
{
    MESH_ASSERT(reader != NULL);
    MESH_ASSERT(value_out != NULL);
    uint32_t start = reader->offset;
    wire_int value;
    mesh_err err = wire_read_int(reader, &value);
    if (err != MESH_OK) {
        return err;
    }
    if (value.negative || value.value > value_max) {
        reader->offset = start;
        return wire_reader_fail(reader, WIRE_REASON_RANGE, start);
    }
    *value_out = value.value;
    return MESH_OK;
}

mesh_err wire_read_int64(wire_reader *reader, int64_t *value_out)
{
    MESH_ASSERT(reader != NULL);
    MESH_ASSERT(value_out != NULL);
    uint32_t start = reader->offset;
    wire_int value;
    mesh_err err = wire_read_int(reader, &value);
    if (err != MESH_OK) {
        return err;
    }
    if (value.negative) {
        *value_out = value.value_negative;
        return MESH_OK;
    }
    if (value.value > (uint64_t) INT64_MAX) {
        reader->offset = start;
        return wire_reader_fail(reader, WIRE_REASON_RANGE, start);
    }
    *value_out = (int64_t) value.value;
    return MESH_OK;
}

// The shape of one length-prefixed family (array, map, str, bin): its fix
// range (if any) and the first bytes of its 8-, 16- and 32-bit forms (0
// when the family has no such form).
typedef struct length_family {
    uint8_t fix_first;
    uint8_t fix_last;
    uint8_t first8;
    uint8_t first16;
    uint8_t first32;
    uint32_t units_per_count; // bytes each counted item needs at least
} length_family;

static const length_family family_array = {0x90, 0x9f, 0, 0xdc, 0xdd, 1};
static const length_family family_map = {0x80, 0x8f, 0, 0xde, 0xdf, 2};
static const length_family family_str = {0xa0, 0xbf, 0xd9, 0xda, 0xdb, 1};
static const length_family family_bin = {0, 0, 0xc4, 0xc5, 0xc6, 1};

static mesh_err
read_length(wire_reader *reader, const length_family *family, uint32_t limit, uint32_t *length_out)
{
    MESH_ASSERT(family != NULL);
    MESH_ASSERT(length_out != NULL);
    uint32_t start = reader->offset;
    uint8_t first;
    mesh_err err = reader_first_byte(reader, &first);
    if (err != MESH_OK) {
        return err;
    }
    uint32_t size;
    uint64_t floor;
    uint64_t length;
    bool has_fix = family->fix_last != 0;
    if (has_fix && first >= family->fix_first && first <= family->fix_last) {
        size = 0;
        floor = 0;
    } else if (family->first8 != 0 && first == family->first8) {
        size = 1;
        // str8 starts where fixstr ends; bin has no fix form, so bin8 is
        // minimal for every length.
        floor = has_fix ? (uint64_t) (family->fix_last - family->fix_first) + 1 : 0;
    } else if (first == family->first16) {
        size = 2;
        floor =
            family->first8 != 0 ? 0x100u : (uint64_t) (family->fix_last - family->fix_first) + 1;
    } else if (first == family->first32) {
        size = 4;
        floor = 0x10000u;
    } else {
        return wire_reader_fail(reader, WIRE_REASON_TYPE, start);
    }
    if (size == 0) {
        length = (uint64_t) (first - family->fix_first);
    } else {
        err = reader_header(reader, size, &length);
        if (err != MESH_OK) {
            return err;
        }
    }
    if (length < floor) {
        return wire_reader_fail(reader, WIRE_REASON_NOT_CANONICAL, start);
    }
    if (length > limit) {
        return wire_reader_fail(reader, WIRE_REASON_LENGTH, start);
    }
    // The header is present (reader_header checked); now the payload or
    // the elements must fit in what remains, before anyone reads them.
    uint32_t remaining = reader_remaining(reader) - 1 - size;
    if (length * family->units_per_count > remaining) {
        return wire_reader_fail(reader, WIRE_REASON_LENGTH, start);
    }
    reader->offset = start + 1 + size;
    MESH_ASSERT(length <= UINT32_MAX);
    *length_out = (uint32_t) length;
    return MESH_OK;
}

mesh_err wire_read_array(wire_reader *reader, uint32_t count_max, uint32_t *count_out)
{
    MESH_ASSERT(reader != NULL);
    MESH_ASSERT(count_out != NULL);
    return read_length(reader, &family_array, count_max, count_out);
}

mesh_err wire_read_map(wire_reader *reader, uint32_t count_max, uint32_t *count_out)
{
    MESH_ASSERT(reader != NULL);
    MESH_ASSERT(count_out != NULL);
    return read_length(reader, &family_map, count_max, count_out);
}

static mesh_err read_bytes(wire_reader *reader,
                           const length_family *family,
                           uint32_t size_max,
                           const uint8_t **bytes_out,
                           uint32_t *size_out)
{
    MESH_ASSERT(bytes_out != NULL);
    MESH_ASSERT(size_out != NULL);
    uint32_t size;
    mesh_err err = read_length(reader, family, size_max, &size);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(size <= reader_remaining(reader));
    *bytes_out = reader->data + reader->offset;
    *size_out = size;
    reader->offset += size;
    return MESH_OK;
}

mesh_err
wire_read_str(wire_reader *reader, uint32_t size_max, const uint8_t **bytes_out, uint32_t *size_out)
{
    MESH_ASSERT(reader != NULL);
    return read_bytes(reader, &family_str, size_max, bytes_out, size_out);
}

mesh_err
wire_read_bin(wire_reader *reader, uint32_t size_max, const uint8_t **bytes_out, uint32_t *size_out)
{
    MESH_ASSERT(reader != NULL);
    return read_bytes(reader, &family_bin, size_max, bytes_out, size_out);
}

mesh_err wire_read_end(wire_reader *reader)
{
    MESH_ASSERT(reader != NULL);
    MESH_ASSERT(reader->offset <= reader->size);
    if (reader->offset != reader->size) {
        return wire_reader_fail(reader, WIRE_REASON_TRAILING, reader->offset);
    }
    return MESH_OK;
}

// msgpack-c's write callback: copy into the fixed buffer or refuse.
static int wire_writer_append(void *data, const char *bytes, size_t size)
{
    wire_writer *writer = data;
    MESH_ASSERT(writer != NULL);
    MESH_ASSERT(writer->used <= writer->buf_size);
    if (writer->full || size > writer->buf_size - writer->used) {
        writer->full = true;
        return -1;
    }
    if (size > 0) {
        memcpy(writer->buf + writer->used, bytes, size);
        writer->used += (uint32_t) size;
    }
    return 0;
}

void wire_writer_init(wire_writer *writer, uint8_t *buf, uint32_t buf_size)
{
    MESH_ASSERT(writer != NULL);
    MESH_ASSERT(buf != NULL || buf_size == 0);
    writer->buf = buf;
    writer->buf_size = buf_size;
    writer->used = 0;
    writer->full = false;
    msgpack_packer_init(&writer->packer, writer, wire_writer_append);
}

// The pack functions' own return values only repeat what the callback
// recorded in writer->full, which wire_writer_finish reports.
void wire_write_uint(wire_writer *writer, uint64_t value)
{
    MESH_ASSERT(writer != NULL);
    (void) msgpack_pack_uint64(&writer->packer, value);
}

void wire_write_int64(wire_writer *writer, int64_t value)
{
    MESH_ASSERT(writer != NULL);
    // Canonical form puts every non-negative value in a uint form; pack
    // those through the unsigned path so that no signed form can appear.
    if (value >= 0) {
        (void) msgpack_pack_uint64(&writer->packer, (uint64_t) value);
    } else {
        (void) msgpack_pack_int64(&writer->packer, value);
    }
}

void wire_write_array(wire_writer *writer, uint32_t count)
{
    MESH_ASSERT(writer != NULL);
    (void) msgpack_pack_array(&writer->packer, count);
}

void wire_write_map(wire_writer *writer, uint32_t count)
{
    MESH_ASSERT(writer != NULL);
    (void) msgpack_pack_map(&writer->packer, count);
}

void wire_write_str(wire_writer *writer, const char *text, uint32_t size)
{
    MESH_ASSERT(writer != NULL);
    MESH_ASSERT(text != NULL || size == 0);
    (void) msgpack_pack_str(&writer->packer, size);
    (void) msgpack_pack_str_body(&writer->packer, text, size);
}

void wire_write_bin(wire_writer *writer, const uint8_t *bytes, uint32_t size)
{
    MESH_ASSERT(writer != NULL);
    MESH_ASSERT(bytes != NULL || size == 0);
    (void) msgpack_pack_bin(&writer->packer, size);
    (void) msgpack_pack_bin_body(&writer->packer, bytes, size);
}

mesh_err wire_writer_finish(const wire_writer *writer, uint32_t *size_out)
{
    MESH_ASSERT(writer != NULL);
    MESH_ASSERT(size_out != NULL);
    MESH_ASSERT(writer->used <= writer->buf_size);
    if (writer->full) {
        return MESH_EFULL;
    }
    *size_out = writer->used;
    return MESH_OK;
}
