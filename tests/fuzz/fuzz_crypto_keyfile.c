/*
 * tests/fuzz/fuzz_crypto_keyfile.c: the key file parsers on arbitrary
 * text.
 *
 * The input is parsed as a secret and as a public key file. When the
 * secret parses, the key pair must be consistent: its public key equals
 * the one derived again from the seed half of the secret key, and a
 * signature made with it verifies; the text mcrypto_keyfile_format makes
 * from that seed parses back to the same pair, and its public text to the
 * same public key. No text parses as both kinds of file.
 * Secrets are wiped after each input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_INPUT_SIZE_MAX MCRYPTO_FILE_SIZE_MAX

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
    const char *text = (const char *) data;
    uint32_t text_size = (uint32_t) size;

    mcrypto_keypair keypair;
    if (mcrypto_keyfile_parse_secret(text, text_size, &keypair) == MESH_OK) {
        mcrypto_keypair derived;
        if (mcrypto_keypair_from_seed(keypair.secret_key, &derived) != MESH_OK) {
            abort();
        }
        if (memcmp(derived.public_key, keypair.public_key, MCRYPTO_PUBLIC_KEY_SIZE) != 0 ||
            sodium_memcmp(derived.secret_key, keypair.secret_key, MCRYPTO_SECRET_KEY_SIZE) != 0) {
            abort();
        }
        static const uint8_t body[] = {0x80};
        uint8_t signature[MCRYPTO_SIGNATURE_SIZE];
        if (mcrypto_sign(&keypair, WIRE_TYPE_ADVERT, body, sizeof(body), signature) != MESH_OK ||
            mcrypto_verify(keypair.public_key, WIRE_TYPE_ADVERT, body, sizeof(body), signature) !=
                MESH_OK) {
            abort();
        }
        static char secret_text[MCRYPTO_KEYFILE_SIZE_MAX];
        static char public_text[MCRYPTO_KEYFILE_SIZE_MAX];
        uint32_t secret_size = 0;
        uint32_t public_size = 0;
        mcrypto_keypair again;
        uint8_t public_again[MCRYPTO_PUBLIC_KEY_SIZE];
        if (mcrypto_keyfile_format(keypair.secret_key, secret_text, &secret_size, public_text,
                                   &public_size) != MESH_OK ||
            mcrypto_keyfile_parse_secret(secret_text, secret_size, &again) != MESH_OK ||
            sodium_memcmp(&again, &keypair, sizeof(again)) != 0 ||
            mcrypto_keyfile_parse_public(public_text, public_size, public_again) != MESH_OK ||
            memcmp(public_again, keypair.public_key, MCRYPTO_PUBLIC_KEY_SIZE) != 0) {
            abort();
        }
        sodium_memzero(secret_text, sizeof(secret_text));
        mcrypto_keypair_wipe(&again);
        mcrypto_keypair_wipe(&derived);
        mcrypto_keypair_wipe(&keypair);
    }

    // The header words differ, so no text is both kinds of key file.
    uint8_t public_key[MCRYPTO_PUBLIC_KEY_SIZE];
    if (mcrypto_keyfile_parse_public(text, text_size, public_key) == MESH_OK) {
        if (mcrypto_keyfile_parse_secret(text, text_size, &keypair) == MESH_OK) {
            abort();
        }
    }
    return 0;
}
