/*
 * crypto/armor.c: binary frames as text ("armor"), and the line scanner
 * the text formats share.
 *
 *     -----BEGIN FEDMESH CERTIFICATE-----
 *     <base64, lines of exactly 64 characters, the last 4..64>
 *     -----END FEDMESH CERTIFICATE-----
 *
 * Base64 is RFC 4648's original alphabet with padding, through libsodium
 * (sodium_bin2base64 / sodium_base642bin, which refuse non-zero padding
 * bits). 64 characters are exactly 48 bytes, so every line but the last
 * decodes on its own, and padding may only end the last line.
 *
 * Decoding is strict so that a text has one meaning and every accepted
 * body has one canonical armor: lines before BEGIN are comments, but a
 * line there that starts with "-----" and is not our BEGIN (another
 * label, say) is refused; between BEGIN and END only base64 lines; all but
 * the last exactly 64 characters; after END only blanks. Lines end in LF
 * or CRLF; the final newline is optional.
 *
 * Decoding makes two passes: the first checks the shape and the alphabet
 * and computes the decoded size, which is compared with bytes_size_max
 * before a single byte is written; the second decodes line by line
 * straight into the caller's buffer. No allocation, no copy of the text.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

#define ARMOR_LINE_SIZE       64u /* base64 characters per line */
#define ARMOR_LINE_BYTES      48u /* bytes per full line */
#define ARMOR_LABEL_SIZE_MAX  32u
#define ARMOR_MARKER_SIZE_MAX 64u /* "-----BEGIN FEDMESH " + label + "-----" + NUL */

_Static_assert(ARMOR_LINE_BYTES * 4u == ARMOR_LINE_SIZE * 3u, "a full line has no padding");
_Static_assert(19u + ARMOR_LABEL_SIZE_MAX + 5u + 1u <= ARMOR_MARKER_SIZE_MAX, "markers fit");

bool mcrypto_line_next(const char *text,
                       uint32_t text_size,
                       uint32_t *offset,
                       mcrypto_line *line_out)
{
    MESH_ASSERT(text != NULL || text_size == 0);
    MESH_ASSERT(offset != NULL && line_out != NULL);
    MESH_ASSERT(*offset <= text_size);
    if (*offset == text_size) {
        return false;
    }
    uint32_t start = *offset;
    const char *newline = memchr(text + start, '\n', text_size - start);
    uint32_t end = text_size;
    uint32_t next = text_size;
    if (newline != NULL) {
        end = (uint32_t) (newline - text);
        next = end + 1u;
        if (end > start && text[end - 1u] == '\r') {
            end--;
        }
    }
    MESH_ASSERT(start <= end && next <= text_size);
    line_out->start = text + start;
    line_out->size = end - start;
    *offset = next;
    return true;
}

bool mcrypto_text_is_blank(const char *text, uint32_t text_size, uint32_t offset)
{
    MESH_ASSERT(text != NULL || text_size == 0);
    MESH_ASSERT(offset <= text_size);
    for (uint32_t i = offset; i < text_size; i++) {
        char c = text[i];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
            return false;
        }
    }
    return true;
}

// Labels come from code, never from input: upper-case words.
static bool armor_label_valid(const char *label)
{
    size_t size = strnlen(label, ARMOR_LABEL_SIZE_MAX + 1u);
    if (size == 0 || size > ARMOR_LABEL_SIZE_MAX) {
        return false;
    }
    for (size_t i = 0; i < size; i++) {
        if ((label[i] < 'A' || label[i] > 'Z') && label[i] != ' ') {
            return false;
        }
    }
    return true;
}

static uint32_t
armor_marker(const char *word, const char *label, char marker[ARMOR_MARKER_SIZE_MAX])
{
    int n = snprintf(marker, ARMOR_MARKER_SIZE_MAX, "-----%s FEDMESH %s-----", word, label);
    MESH_ASSERT(n > 0 && (uint32_t) n < ARMOR_MARKER_SIZE_MAX);
    return (uint32_t) n;
}

static bool line_equals(const mcrypto_line *line, const char *marker, uint32_t marker_size)
{
    return line->size == marker_size && memcmp(line->start, marker, marker_size) == 0;
}

static bool base64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

mesh_err mcrypto_armor_encode(const char *label,
                              const uint8_t *bytes,
                              uint32_t size,
                              char *text_out,
                              uint32_t text_size_max,
                              uint32_t *text_size_out)
{
    MESH_ASSERT(label != NULL && armor_label_valid(label));
    MESH_ASSERT(bytes != NULL || size == 0);
    MESH_ASSERT(text_out != NULL || text_size_max == 0);
    MESH_ASSERT(text_size_out != NULL);
    char begin[ARMOR_MARKER_SIZE_MAX];
    char end[ARMOR_MARKER_SIZE_MAX];
    uint32_t begin_size = armor_marker("BEGIN", label, begin);
    uint32_t end_size = armor_marker("END", label, end);

    // Exact size in 64 bits: base64 of a 4 GiB input would overflow 32.
    uint64_t base64_size = ((uint64_t) size + 2u) / 3u * 4u;
    uint64_t line_count = (base64_size + ARMOR_LINE_SIZE - 1u) / ARMOR_LINE_SIZE;
    uint64_t total = (uint64_t) begin_size + 1u + base64_size + line_count + end_size + 1u;
    if (total + 1u > text_size_max) {
        return MESH_EFULL;
    }

    uint32_t at = 0;
    memcpy(text_out + at, begin, begin_size);
    at += begin_size;
    text_out[at++] = '\n';
    for (uint32_t done = 0; done < size; done += ARMOR_LINE_BYTES) {
        uint32_t chunk = size - done < ARMOR_LINE_BYTES ? size - done : ARMOR_LINE_BYTES;
        size_t chunk_base64 = sodium_base64_ENCODED_LEN(chunk, sodium_base64_VARIANT_ORIGINAL);
        // ENCODED_LEN counts the NUL, which the newline then overwrites;
        // the final NUL has room because total + 1 fits.
        MESH_ASSERT(at + chunk_base64 <= text_size_max);
        (void) sodium_bin2base64(text_out + at, chunk_base64, bytes + done, chunk,
                                 sodium_base64_VARIANT_ORIGINAL);
        at += (uint32_t) (chunk_base64 - 1u);
        text_out[at++] = '\n';
    }
    memcpy(text_out + at, end, end_size);
    at += end_size;
    text_out[at++] = '\n';
    MESH_ASSERT(at == total);
    text_out[at] = '\0';
    *text_size_out = at;
    return MESH_OK;
}

mesh_err mcrypto_armor_decode(const char *label,
                              const char *text,
                              uint32_t text_size,
                              uint8_t *bytes_out,
                              uint32_t bytes_size_max,
                              uint32_t *size_out)
{
    MESH_ASSERT(label != NULL && armor_label_valid(label));
    MESH_ASSERT(text != NULL || text_size == 0);
    MESH_ASSERT(bytes_out != NULL || bytes_size_max == 0);
    MESH_ASSERT(size_out != NULL);
    char begin[ARMOR_MARKER_SIZE_MAX];
    char end[ARMOR_MARKER_SIZE_MAX];
    uint32_t begin_size = armor_marker("BEGIN", label, begin);
    uint32_t end_size = armor_marker("END", label, end);

    // Comments up to our BEGIN line.
    uint32_t offset = 0;
    mcrypto_line line;
    for (;;) {
        if (!mcrypto_line_next(text, text_size, &offset, &line)) {
            return MESH_EPROTO;
        }
        if (line_equals(&line, begin, begin_size)) {
            break;
        }
        if (line.size >= 5u && memcmp(line.start, "-----", 5u) == 0) {
            return MESH_EPROTO; // another label, or an END before BEGIN
        }
    }

    // Pass 1: shape, alphabet, decoded size.
    uint32_t body_offset = offset;
    uint32_t base64_size = 0;
    uint32_t padding_count = 0;
    bool last_seen = false; // a short or padded line must be the last
    for (;;) {
        if (!mcrypto_line_next(text, text_size, &offset, &line)) {
            return MESH_EPROTO; // no END line
        }
        if (line.size >= end_size && memcmp(line.start, end, end_size) == 0) {
            break;
        }
        if (last_seen || line.size == 0 || line.size > ARMOR_LINE_SIZE || line.size % 4u != 0) {
            return MESH_EPROTO;
        }
        uint32_t pad = 0;
        while (pad < 2u && line.start[line.size - 1u - pad] == '=') {
            pad++;
        }
        for (uint32_t i = 0; i < line.size - pad; i++) {
            if (!base64_char(line.start[i])) {
                return MESH_EPROTO;
            }
        }
        if (line.size < ARMOR_LINE_SIZE || pad > 0) {
            last_seen = true;
        }
        padding_count = pad;
        base64_size += line.size;
    }
    // The END line may carry trailing blanks; after it only blanks.
    if (!mcrypto_text_is_blank(line.start, line.size, end_size) ||
        !mcrypto_text_is_blank(text, text_size, offset)) {
        return MESH_EPROTO;
    }
    MESH_ASSERT(base64_size % 4u == 0);
    uint32_t decoded_size = base64_size / 4u * 3u - padding_count;
    if (decoded_size > bytes_size_max) {
        return MESH_EFULL;
    }

    // Pass 2: decode line by line; only non-canonical padding bits can
    // still fail here.
    offset = body_offset;
    uint32_t written = 0;
    for (;;) {
        bool more = mcrypto_line_next(text, text_size, &offset, &line);
        MESH_ASSERT(more);
        if (line.size >= end_size && memcmp(line.start, end, end_size) == 0) {
            break;
        }
        size_t line_bytes = 0;
        if (sodium_base642bin(bytes_out + written, bytes_size_max - written, line.start, line.size,
                              NULL, &line_bytes, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
            return MESH_EPROTO;
        }
        MESH_ASSERT(line_bytes <= ARMOR_LINE_BYTES);
        written += (uint32_t) line_bytes;
        MESH_ASSERT(written <= decoded_size);
    }
    MESH_ASSERT(written == decoded_size);
    *size_out = written;
    return MESH_OK;
}
