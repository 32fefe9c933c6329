/*
 * crypto/keyfile.c: the key file formats, encoded and decoded in memory.
 * Reading and writing the files is the shell's (node/keyfile.c): this
 * module never touches a file (lint.purity checks it).
 *
 * Formats (one key line, base64 of RFC 4648 with padding):
 *
 *     # fedmesh secret key: keep it private (mode 0600)
 *     fedmesh-secret-key-v1 <base64 of the 32-byte seed>
 *
 *     fedmesh-public-key-v1 <base64 of the 32-byte public key>
 *
 * The parser accepts, in both files, any number of comment lines (starting
 * with '#') and blank lines before the key line, exactly one space between
 * the word and the base64, LF or CRLF, and only blanks after the key line.
 * The secret file stores the seed rather than libsodium's 64-byte secret
 * key: the public key is derived from it, so the file cannot hold a
 * mismatched pair. The formatter writes exactly what the parser reads
 * back (crypto.keys checks the round trip); seeds and intermediate key
 * pairs are wiped with sodium_memzero on every path.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

#define KEY_BASE64_SIZE 44u /* base64 of 32 bytes, with one '=' */

_Static_assert(KEY_BASE64_SIZE + 1u ==
                   sodium_base64_ENCODED_LEN(MCRYPTO_SEED_SIZE, sodium_base64_VARIANT_ORIGINAL),
               "base64 size of a 32-byte key");
_Static_assert(MCRYPTO_SEED_SIZE == MCRYPTO_PUBLIC_KEY_SIZE, "one key line size");

static const char secret_comment[] = "# fedmesh secret key: keep it private (mode 0600)\n";

// Writes "<word> <base64 of 32 bytes>\n" at text + at; returns the new end.
static uint32_t key_line_format(const char *word,
                                const uint8_t key[MCRYPTO_SEED_SIZE],
                                char *text,
                                uint32_t at,
                                uint32_t text_size_max)
{
    MESH_ASSERT(at < text_size_max);
    int n = snprintf(text + at, text_size_max - at, "%s ", word);
    MESH_ASSERT(n > 0 && at + (uint32_t) n + KEY_BASE64_SIZE + 2u <= text_size_max);
    at += (uint32_t) n;
    (void) sodium_bin2base64(text + at, KEY_BASE64_SIZE + 1u, key, MCRYPTO_SEED_SIZE,
                             sodium_base64_VARIANT_ORIGINAL);
    at += KEY_BASE64_SIZE;
    text[at++] = '\n';
    return at;
}

mesh_err mcrypto_keyfile_format(const uint8_t seed[MCRYPTO_SEED_SIZE],
                                char secret_text_out[MCRYPTO_KEYFILE_SIZE_MAX],
                                uint32_t *secret_size_out,
                                char public_text_out[MCRYPTO_KEYFILE_SIZE_MAX],
                                uint32_t *public_size_out)
{
    MESH_ASSERT(seed != NULL);
    MESH_ASSERT(secret_text_out != NULL && secret_size_out != NULL);
    MESH_ASSERT(public_text_out != NULL && public_size_out != NULL);
    mcrypto_keypair keypair;
    mesh_err err = mcrypto_keypair_from_seed(seed, &keypair);
    if (err != MESH_OK) {
        return err;
    }
    uint32_t secret_size = (uint32_t) (sizeof(secret_comment) - 1u);
    memcpy(secret_text_out, secret_comment, secret_size);
    secret_size = key_line_format(MCRYPTO_KEYFILE_SECRET_WORD, seed, secret_text_out, secret_size,
                                  MCRYPTO_KEYFILE_SIZE_MAX);
    uint32_t public_size = key_line_format(MCRYPTO_KEYFILE_PUBLIC_WORD, keypair.public_key,
                                           public_text_out, 0, MCRYPTO_KEYFILE_SIZE_MAX);
    mcrypto_keypair_wipe(&keypair);
    MESH_ASSERT(secret_size < MCRYPTO_KEYFILE_SIZE_MAX);
    MESH_ASSERT(public_size < MCRYPTO_KEYFILE_SIZE_MAX);
    *secret_size_out = secret_size;
    *public_size_out = public_size;
    return MESH_OK;
}

// Finds the key line "<word> <base64>" and decodes its 32 bytes into
// key_out. Errors: MESH_EPROTO. key_out may hold partial bytes on failure:
// callers pass a scratch buffer they wipe.
static mesh_err key_text_parse(const char *word,
                               const char *text,
                               uint32_t text_size,
                               uint8_t key_out[MCRYPTO_SEED_SIZE])
{
    MESH_ASSERT(word != NULL);
    MESH_ASSERT(text != NULL || text_size == 0);
    size_t word_size = strlen(word);
    uint32_t offset = 0;
    mcrypto_line line;
    for (;;) {
        if (!mcrypto_line_next(text, text_size, &offset, &line)) {
            return MESH_EPROTO;
        }
        bool blank = mcrypto_text_is_blank(line.start, line.size, 0);
        if (!blank && line.start[0] != '#') {
            break;
        }
    }
    if (line.size != word_size + 1u + KEY_BASE64_SIZE) {
        return MESH_EPROTO;
    }
    if (memcmp(line.start, word, word_size) != 0 || line.start[word_size] != ' ') {
        return MESH_EPROTO;
    }
    size_t key_size = 0;
    if (sodium_base642bin(key_out, MCRYPTO_SEED_SIZE, line.start + word_size + 1u, KEY_BASE64_SIZE,
                          NULL, &key_size, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        key_size != MCRYPTO_SEED_SIZE) {
        return MESH_EPROTO;
    }
    if (!mcrypto_text_is_blank(text, text_size, offset)) {
        return MESH_EPROTO;
    }
    return MESH_OK;
}

mesh_err
mcrypto_keyfile_parse_secret(const char *text, uint32_t text_size, mcrypto_keypair *keypair_out)
{
    MESH_ASSERT(text != NULL || text_size == 0);
    MESH_ASSERT(keypair_out != NULL);
    uint8_t seed[MCRYPTO_SEED_SIZE];
    mesh_err err = key_text_parse(MCRYPTO_KEYFILE_SECRET_WORD, text, text_size, seed);
    if (err == MESH_OK) {
        err = mcrypto_keypair_from_seed(seed, keypair_out);
    }
    sodium_memzero(seed, sizeof(seed));
    return err;
}

mesh_err mcrypto_keyfile_parse_public(const char *text,
                                      uint32_t text_size,
                                      uint8_t public_key_out[MCRYPTO_PUBLIC_KEY_SIZE])
{
    MESH_ASSERT(text != NULL || text_size == 0);
    MESH_ASSERT(public_key_out != NULL);
    uint8_t key[MCRYPTO_PUBLIC_KEY_SIZE];
    mesh_err err = key_text_parse(MCRYPTO_KEYFILE_PUBLIC_WORD, text, text_size, key);
    if (err != MESH_OK) {
        return err;
    }
    memcpy(public_key_out, key, sizeof(key));
    return MESH_OK;
}
