/*
 * tests/unit/crypto_keys_test.c: the key file text format, in memory
 * (crypto/keyfile.c): what the parsers accept, and that the formatter's
 * text parses back to the same keys. The files themselves are node.keyfile's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/crypto.h"

static void test_parse_accepts(void **state)
{
    (void) state;
    uint8_t seed[MCRYPTO_SEED_SIZE];
    for (uint32_t i = 0; i < MCRYPTO_SEED_SIZE; i++) {
        seed[i] = (uint8_t) i;
    }
    mcrypto_keypair expected;
    assert_int_equal(mcrypto_keypair_from_seed(seed, &expected), MESH_OK);
    static const char *const texts[] = {
        "fedmesh-secret-key-v1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "fedmesh-secret-key-v1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "# c\r\n\r\nfedmesh-secret-key-v1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\r\n\r\n",
        "# one\n# two\nfedmesh-secret-key-v1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n  \n",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        mcrypto_keypair keypair;
        assert_int_equal(
            mcrypto_keyfile_parse_secret(texts[i], (uint32_t) strlen(texts[i]), &keypair), MESH_OK);
        assert_memory_equal(&keypair, &expected, sizeof(keypair));
    }
    static const char public_text[] =
        "fedmesh-public-key-v1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
    uint8_t public_key[MCRYPTO_PUBLIC_KEY_SIZE];
    assert_int_equal(mcrypto_keyfile_parse_public(public_text, sizeof(public_text) - 1, public_key),
                     MESH_OK);
    assert_memory_equal(public_key, seed, sizeof(public_key));
}

static void test_format_round_trip(void **state)
{
    (void) state;
    assert_int_equal(mcrypto_init(), MESH_OK);
    for (uint32_t round = 0; round < 16; round++) {
        uint8_t seed[MCRYPTO_SEED_SIZE];
        for (uint32_t i = 0; i < MCRYPTO_SEED_SIZE; i++) {
            seed[i] = (uint8_t) (round * 31u + i * 7u);
        }
        mcrypto_keypair expected;
        assert_int_equal(mcrypto_keypair_from_seed(seed, &expected), MESH_OK);
        char secret_text[MCRYPTO_KEYFILE_SIZE_MAX];
        char public_text[MCRYPTO_KEYFILE_SIZE_MAX];
        uint32_t secret_size = 0;
        uint32_t public_size = 0;
        assert_int_equal(
            mcrypto_keyfile_format(seed, secret_text, &secret_size, public_text, &public_size),
            MESH_OK);
        assert_true(secret_size > 0 && secret_size < 200);
        assert_true(public_size > 0 && public_size < 100);
        assert_int_equal(secret_text[0], '#');
        assert_int_equal(secret_text[secret_size - 1], '\n');
        assert_memory_equal(public_text, "fedmesh-public-key-v1 ", 22);

        mcrypto_keypair parsed;
        assert_int_equal(mcrypto_keyfile_parse_secret(secret_text, secret_size, &parsed), MESH_OK);
        assert_memory_equal(&parsed, &expected, sizeof(parsed));
        uint8_t public_key[MCRYPTO_PUBLIC_KEY_SIZE];
        assert_int_equal(mcrypto_keyfile_parse_public(public_text, public_size, public_key),
                         MESH_OK);
        assert_memory_equal(public_key, expected.public_key, sizeof(public_key));
        // Neither text parses as the other kind of file.
        assert_int_equal(mcrypto_keyfile_parse_secret(public_text, public_size, &parsed),
                         MESH_EPROTO);
        assert_int_equal(mcrypto_keyfile_parse_public(secret_text, secret_size, public_key),
                         MESH_EPROTO);
        // Cut anywhere inside the key line, the secret text is refused.
        for (uint32_t cut = secret_size - 45u; cut < secret_size - 1u; cut++) {
            assert_int_equal(mcrypto_keyfile_parse_secret(secret_text, cut, &parsed), MESH_EPROTO);
        }
        sodium_memzero(secret_text, sizeof(secret_text));
        mcrypto_keypair_wipe(&parsed);
        mcrypto_keypair_wipe(&expected);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_accepts),
        cmocka_unit_test(test_format_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
