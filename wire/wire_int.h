/*
 * wire/wire_int.h: internals shared by the files of wire/ and its tests.
 *
 * Four pieces live here:
 *   - the bounded reader, a cursor over borrowed bytes that knows the
 *     canonical MessagePack forms and records the first failure (reason and
 *     offset) so that every decoder reports errors the same way;
 *   - the writer, a thin wrapper around msgpack-c's packer that writes into
 *     a caller-owned fixed buffer and remembers when it ran out of room;
 *   - the body-map steps (keys ascending, known, all present) and the
 *     top-level decode wrapper, shared by codec.c and gossip.c so that
 *     every body is read, capped and reported the same way;
 *   - the field validators, which the decoders and the encoders share so
 *     that the encoder never emits what the decoder refuses.
 *
 * Nothing here allocates. Reader functions return MESH_OK or MESH_EPROTO;
 * on MESH_EPROTO the reader's reason and error_offset say why and where,
 * and the cursor is left where the failing value began.
 */
#ifndef WIRE_WIRE_INT_H
#define WIRE_WIRE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>

#include "mesh/mesh.h"
#include "wire/wire.h"

/* The largest map a body may declare. Bodies have at most 9 keys; the
 * slack lets one unknown key reach the UNKNOWN_FIELD check instead of
 * failing earlier as LENGTH. */
#define WIRE_MAP_COUNT_MAX 32u

typedef struct wire_reader {
    const uint8_t *data; /* borrowed for the reader's lifetime */
    uint32_t size;
    uint32_t offset;    /* next byte to read; <= size */
    wire_reason reason; /* WIRE_REASON_NONE until the first failure */
    uint32_t error_offset;
} wire_reader;

/* An integer as MessagePack carries it: a sign and a magnitude, so that
 * the whole range -2^63 .. 2^64-1 fits. */
typedef struct wire_int {
    bool negative;  /* true: value_negative is meaningful (< 0) */
    uint64_t value; /* when !negative */
    int64_t value_negative;
} wire_int;

void wire_reader_init(wire_reader *reader, const uint8_t *data, uint32_t size);
/* Records the first failure and returns MESH_EPROTO, so that callers can
 * write `return wire_reader_fail(...)`. */
MESH_MUST_USE mesh_err wire_reader_fail(wire_reader *reader, wire_reason reason, uint32_t offset);
/* Copies the recorded failure into error_out (which may be NULL). */
void wire_reader_error(const wire_reader *reader, wire_error *error_out);

/* Any integer in its smallest form. TYPE for a non-integer, TRUNCATED when
 * the input ends inside it, NOT_CANONICAL for a non-minimal form (including
 * a signed form for a non-negative value). */
MESH_MUST_USE mesh_err wire_read_int(wire_reader *reader, wire_int *value_out);
/* An integer in 0..value_max; RANGE otherwise. */
MESH_MUST_USE mesh_err wire_read_uint(wire_reader *reader, uint64_t value_max, uint64_t *value_out);
/* An integer in INT64_MIN..INT64_MAX; RANGE for larger unsigned values. */
MESH_MUST_USE mesh_err wire_read_int64(wire_reader *reader, int64_t *value_out);
/* Container and byte-string headers. The declared length is checked
 * against count_max or size_max (LENGTH) and against the bytes remaining
 * (LENGTH) before anything else is read; non-minimal headers are
 * NOT_CANONICAL. For str and bin, bytes_out points at the payload, which
 * the cursor has already stepped over. */
MESH_MUST_USE mesh_err wire_read_array(wire_reader *reader,
                                       uint32_t count_max,
                                       uint32_t *count_out);
MESH_MUST_USE mesh_err wire_read_map(wire_reader *reader, uint32_t count_max, uint32_t *count_out);
MESH_MUST_USE mesh_err wire_read_str(wire_reader *reader,
                                     uint32_t size_max,
                                     const uint8_t **bytes_out,
                                     uint32_t *size_out);
MESH_MUST_USE mesh_err wire_read_bin(wire_reader *reader,
                                     uint32_t size_max,
                                     const uint8_t **bytes_out,
                                     uint32_t *size_out);
/* TRAILING when bytes remain after the top-level value. */
MESH_MUST_USE mesh_err wire_read_end(wire_reader *reader);

typedef struct wire_writer {
    msgpack_packer packer;
    uint8_t *buf; /* caller-owned, buf_size bytes */
    uint32_t buf_size;
    uint32_t used;
    bool full; /* a write did not fit; nothing more is written */
} wire_writer;

void wire_writer_init(wire_writer *writer, uint8_t *buf, uint32_t buf_size);
/* Writes are sticky, like stdio's error flag: once one does not fit, the
 * writer is full and every later write is a no-op, so that an encoder
 * writes its whole schema straight through and checks once at the end.
 * Integers take their smallest form: non-negative values always as uint. */
void wire_write_uint(wire_writer *writer, uint64_t value);
void wire_write_int64(wire_writer *writer, int64_t value);
void wire_write_array(wire_writer *writer, uint32_t count);
void wire_write_map(wire_writer *writer, uint32_t count);
void wire_write_str(wire_writer *writer, const char *text, uint32_t size);
void wire_write_bin(wire_writer *writer, const uint8_t *bytes, uint32_t size);
/* MESH_EFULL when any write did not fit; otherwise MESH_OK and the number
 * of bytes written in size_out (untouched on failure). */
MESH_MUST_USE mesh_err wire_writer_finish(const wire_writer *writer, uint32_t *size_out);

/* Body-map decoding steps, shared by codec.c and gossip.c so that every
 * body is read the same way (defined in codec.c). */

/* A bin of exactly size bytes, copied to out; any other declared size is
 * LENGTH. */
MESH_MUST_USE mesh_err wire_decode_bin_fixed(wire_reader *reader, uint8_t *out, uint32_t size);

/* The state of one body map while its keys go by. */
typedef struct wire_body_map {
    uint32_t count;       /* pairs declared */
    uint32_t key_count;   /* keys the schema has: 0 .. key_count-1 */
    uint32_t seen_mask;   /* bit k: key k was read */
    int64_t key_previous; /* -1 before the first key */
} wire_body_map;

/* A map header of at most WIRE_MAP_COUNT_MAX pairs, for a schema of
 * key_count keys (1..31). */
MESH_MUST_USE mesh_err wire_map_begin(wire_reader *reader, uint32_t key_count, wire_body_map *map);
/* The next key: NOT_CANONICAL when not above the previous one (checked
 * first), UNKNOWN_FIELD when the schema has no such key. */
MESH_MUST_USE mesh_err wire_map_next_key(wire_reader *reader,
                                         wire_body_map *map,
                                         uint32_t *key_out);
/* MISSING_FIELD unless every key was seen. */
MESH_MUST_USE mesh_err wire_map_end(wire_reader *reader, const wire_body_map *map);
/* Every map body decoder's loop: begin, keys in order, one field per key
 * (decode_field reads the value of one known key into value_out), end. */
typedef mesh_err (*wire_field_decoder)(wire_reader *reader,
                                       const wire_body_map *map,
                                       uint32_t key,
                                       void *value_out);
MESH_MUST_USE mesh_err wire_decode_map(wire_reader *reader,
                                       uint32_t key_count,
                                       wire_field_decoder decode_field,
                                       void *value_out);
/* True when key was read in this map (for rules across fields that can
 * only be checked in place when the other field came first). */
bool wire_map_seen(const wire_body_map *map, uint32_t key);

/* Caps the input at size_max, runs one top-level decoder, refuses
 * trailing bytes and reports into error_out. The decoders write only into
 * their caller's local struct. */
typedef mesh_err (*wire_top_decoder)(wire_reader *reader, void *value_out);
MESH_MUST_USE mesh_err wire_decode_top(const uint8_t *bytes,
                                       uint32_t size,
                                       uint32_t size_max,
                                       wire_top_decoder decoder,
                                       void *value_out,
                                       wire_error *error_out);

/* The paired assertion of STYLE §2.5: in debug builds, what an encoder
 * just wrote must decode. Costs one decode per encode, so release builds
 * skip it. */
#if defined(MESH_DEBUG)
#define WIRE_DEBUG_REDECODE(decode, type, buf, size)                      \
    do {                                                                  \
        type redecoded_;                                                  \
        MESH_ASSERT(decode((buf), (size), &redecoded_, NULL) == MESH_OK); \
    } while (0)
#else
#define WIRE_DEBUG_REDECODE(decode, type, buf, size) ((void) 0)
#endif

/* Field validators, shared by decoders and encoders. Each takes bytes and
 * a size (decoded strings are not NUL-terminated) and is a predicate. */
bool wire_name_valid(const uint8_t *text, uint32_t size);
/* UTF-8 without overlongs, surrogates or code points above U+10FFFF, and
 * without control characters (C0, DEL, C1). Empty is valid. */
bool wire_text_valid(const uint8_t *text, uint32_t size);
bool wire_model_valid(const uint8_t *text, uint32_t size);
/* Printable ASCII 0x21..0x7e, non-empty. */
bool wire_endpoint_valid(const uint8_t *text, uint32_t size);
bool wire_country_bytes_valid(const uint8_t *text, uint32_t size);
/* An assigned ISO 3166-1 alpha-2 code, or "EU". */
bool wire_jurisdiction_valid(const uint8_t *text, uint32_t size);
/* The rules on one resource alone: class, model, amounts, price. */
bool wire_resource_valid(const wire_resource *resource);
/* Orders resources by (class, model strcmp); the set order on the wire. */
int wire_resource_compare(const wire_resource *a, const wire_resource *b);
/* Length of a NUL-terminated string in an array of array_size bytes;
 * array_size when there is no NUL (which every validator refuses). */
uint32_t wire_string_length(const char *text, uint32_t array_size);

/* Whole-struct rules, the encoders' gate; the decoders apply the same
 * rules field by field, calling the validators above. */
bool wire_envelope_valid(const wire_envelope *envelope);
bool wire_advert_valid(const wire_advert *advert);
bool wire_cert_valid(const wire_cert *cert);
bool wire_revocation_valid(const wire_revocation *revocation);
bool wire_suspect_valid(const wire_suspect *suspect);
bool wire_digest_valid(const wire_digest *digest);
bool wire_pull_valid(const wire_pull *pull);
bool wire_push_valid(const wire_push *push);

/* The per-element rules of the gossip lists, shared in the same way. */
/* page_count in 1..WIRE_DIGEST_PAGES_MAX and page < page_count. */
bool wire_digest_page_valid(uint32_t page, uint32_t page_count);
/* sequence >= 1 and the id inside the page (page_valid must hold). */
bool wire_digest_entry_valid(const wire_digest_entry *entry, uint32_t page, uint32_t page_count);
/* 1..WIRE_RECORD_SIZE_MAX bytes, not NULL. */
bool wire_record_valid(const wire_record *record);

/* The country table, exposed for tests (sortedness, count). */
#define WIRE_COUNTRY_COUNT 249u
extern const char wire_country_codes[WIRE_COUNTRY_COUNT][3];

#endif /* WIRE_WIRE_INT_H */
