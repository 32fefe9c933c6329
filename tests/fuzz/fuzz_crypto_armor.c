/*
 * tests/fuzz/fuzz_crypto_armor.c: the armor decoder on arbitrary text.
 *
 * The input is decoded with both labels into a frame-sized buffer. When a
 * decode succeeds, the bytes are armored again and decoded again: the
 * result must be the same bytes, and armoring those must give the same
 * text (the canonical form). Any mismatch aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_INPUT_SIZE_MAX (256u * 1024u)
#define FUZZ_BYTES_SIZE_MAX WIRE_FRAME_SIZE_MAX
/* Armor of FUZZ_BYTES_SIZE_MAX bytes: 4/3 of it, a newline per 64
 * characters, two marker lines. */
#define FUZZ_TEXT_SIZE_MAX  (FUZZ_BYTES_SIZE_MAX / 3u * 4u + FUZZ_BYTES_SIZE_MAX / 48u + 256u)

static uint8_t bytes[FUZZ_BYTES_SIZE_MAX];
static uint8_t bytes_again[FUZZ_BYTES_SIZE_MAX];
static char text[FUZZ_TEXT_SIZE_MAX];
static char text_again[FUZZ_TEXT_SIZE_MAX];

static void fuzz_armor_label(const char *label, const char *input, uint32_t input_size)
{
    uint32_t size = 0;
    if (mcrypto_armor_decode(label, input, input_size, bytes, sizeof(bytes), &size) != MESH_OK) {
        return;
    }
    if (size > sizeof(bytes)) {
        abort();
    }
    uint32_t text_size = 0;
    if (mcrypto_armor_encode(label, bytes, size, text, sizeof(text), &text_size) != MESH_OK) {
        abort();
    }
    uint32_t size_again = 0;
    if (mcrypto_armor_decode(label, text, text_size, bytes_again, sizeof(bytes_again),
                             &size_again) != MESH_OK) {
        abort();
    }
    if (size_again != size || memcmp(bytes, bytes_again, size) != 0) {
        abort();
    }
    uint32_t text_size_again = 0;
    if (mcrypto_armor_encode(label, bytes_again, size_again, text_again, sizeof(text_again),
                             &text_size_again) != MESH_OK) {
        abort();
    }
    if (text_size_again != text_size || memcmp(text, text_again, text_size) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int initialised;
    if (!initialised) {
        if (mcrypto_init() != MESH_OK) {
            abort();
        }
        initialised = 1;
    }
    if (size > (size_t) FUZZ_INPUT_SIZE_MAX) {
        return 0;
    }
    fuzz_armor_label("CERTIFICATE", (const char *) data, (uint32_t) size);
    fuzz_armor_label("REVOCATION", (const char *) data, (uint32_t) size);
    return 0;
}
