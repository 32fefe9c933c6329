/*
 * tests/unit/crypto_armor_test.c: the armor text format on arbitrary
 * bytes (certificate and revocation frames are armored in
 * crypto_cert_test.c).
 *
 * Every rejection case is built from a good armor by one edit, so that
 * each test shows that exactly that edit is what gets refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/crypto.h"

// snprintf into an array, asserting that nothing was cut off.
#define FORMAT(array, ...)                                               \
    do {                                                                 \
        int format_n = snprintf((array), sizeof(array), __VA_ARGS__);    \
        assert_true(format_n >= 0 && (size_t) format_n < sizeof(array)); \
    } while (0)

#define TEXT_SIZE_MAX 4096u

static int group_setup(void **state)
{
    (void) state;
    return mcrypto_init() == MESH_OK ? 0 : -1;
}

static void bytes_fill(uint8_t *bytes, uint32_t size, uint32_t salt)
{
    for (uint32_t i = 0; i < size; i++) {
        bytes[i] = (uint8_t) (i * 31u + salt);
    }
}

static uint32_t armor(const char *label, const uint8_t *bytes, uint32_t size, char *text)
{
    uint32_t text_size = 0;
    assert_int_equal(mcrypto_armor_encode(label, bytes, size, text, TEXT_SIZE_MAX, &text_size),
                     MESH_OK);
    assert_int_equal(strlen(text), text_size);
    return text_size;
}

static mesh_err dearmor(const char *label, const char *text, uint8_t *bytes, uint32_t *size_out)
{
    return mcrypto_armor_decode(label, text, (uint32_t) strlen(text), bytes, TEXT_SIZE_MAX,
                                size_out);
}

static void test_round_trip_sizes(void **state)
{
    (void) state;
    uint8_t bytes[400];
    char text[TEXT_SIZE_MAX];
    uint8_t decoded[TEXT_SIZE_MAX];
    for (uint32_t size = 0; size <= sizeof(bytes); size++) {
        bytes_fill(bytes, size, size);
        uint32_t text_size = armor("CERTIFICATE", bytes, size, text);
        // The exact shape: BEGIN, full lines of 64, a last line, END.
        assert_true(strncmp(text, "-----BEGIN FEDMESH CERTIFICATE-----\n", 36) == 0);
        assert_true(text_size >= 34 &&
                    strcmp(text + text_size - 34, "-----END FEDMESH CERTIFICATE-----\n") == 0);
        const char *line = text + 36;
        while (strncmp(line, "-----END", 8) != 0) {
            const char *newline = strchr(line, '\n');
            assert_non_null(newline);
            size_t length = (size_t) (newline - line);
            assert_true(length > 0 && length <= 64 && length % 4 == 0);
            if (length < 64) {
                assert_true(strncmp(newline + 1, "-----END", 8) == 0);
            }
            line = newline + 1;
        }
        uint32_t decoded_size = 0;
        assert_int_equal(dearmor("CERTIFICATE", text, decoded, &decoded_size), MESH_OK);
        assert_int_equal(decoded_size, size);
        assert_memory_equal(decoded, bytes, size);
        // Exactly enough room decodes; one byte less is EFULL.
        assert_int_equal(
            mcrypto_armor_decode("CERTIFICATE", text, text_size, decoded, size, &decoded_size),
            MESH_OK);
        if (size > 0) {
            decoded_size = 4242;
            assert_int_equal(mcrypto_armor_decode("CERTIFICATE", text, text_size, decoded, size - 1,
                                                  &decoded_size),
                             MESH_EFULL);
            assert_int_equal(decoded_size, 4242);
        }
        // Encode: exactly text_size + 1 (the NUL) fits, one less is EFULL.
        char exact[TEXT_SIZE_MAX];
        uint32_t exact_size = 0;
        assert_int_equal(
            mcrypto_armor_encode("CERTIFICATE", bytes, size, exact, text_size + 1, &exact_size),
            MESH_OK);
        assert_int_equal(exact_size, text_size);
        exact_size = 4242;
        assert_int_equal(
            mcrypto_armor_encode("CERTIFICATE", bytes, size, exact, text_size, &exact_size),
            MESH_EFULL);
        assert_int_equal(exact_size, 4242);
    }
}

static void test_accepts_variants(void **state)
{
    (void) state;
    uint8_t bytes[100];
    bytes_fill(bytes, sizeof(bytes), 9);
    char text[TEXT_SIZE_MAX];
    uint32_t text_size = armor("REVOCATION", bytes, sizeof(bytes), text);
    uint8_t decoded[TEXT_SIZE_MAX];
    uint32_t decoded_size = 0;

    // CRLF line ends.
    char crlf[TEXT_SIZE_MAX];
    uint32_t at = 0;
    for (uint32_t i = 0; i < text_size; i++) {
        if (text[i] == '\n') {
            crlf[at++] = '\r';
        }
        crlf[at++] = text[i];
    }
    crlf[at] = '\0';
    assert_int_equal(dearmor("REVOCATION", crlf, decoded, &decoded_size), MESH_OK);
    assert_memory_equal(decoded, bytes, sizeof(bytes));

    // No final newline; trailing blank lines; comments before BEGIN.
    char variant[TEXT_SIZE_MAX];
    FORMAT(variant, "%.*s", (int) (text_size - 1), text);
    assert_int_equal(dearmor("REVOCATION", variant, decoded, &decoded_size), MESH_OK);
    FORMAT(variant, "%s\n \n\t\r\n", text);
    assert_int_equal(dearmor("REVOCATION", variant, decoded, &decoded_size), MESH_OK);
    FORMAT(variant, "Revocation of node fm...\n\nissued by root\n%s", text);
    assert_int_equal(dearmor("REVOCATION", variant, decoded, &decoded_size), MESH_OK);
    assert_int_equal(decoded_size, sizeof(bytes));
    assert_memory_equal(decoded, bytes, sizeof(bytes));
}

// Replaces the first occurrence of from in text with to, into out.
static void edit(const char *text, const char *from, const char *to, char *out, size_t out_size)
{
    const char *at = strstr(text, from);
    assert_non_null(at);
    int n = snprintf(out, out_size, "%.*s%s%s", (int) (at - text), text, to, at + strlen(from));
    assert_true(n > 0 && (size_t) n < out_size);
}

static void test_rejects(void **state)
{
    (void) state;
    uint8_t bytes[100]; // 136 base64 characters: lines of 64, 64, 8
    bytes_fill(bytes, sizeof(bytes), 3);
    char text[TEXT_SIZE_MAX];
    (void) armor("CERTIFICATE", bytes, sizeof(bytes), text);
    const char *first_line = text + 36;
    char line1[65];
    memcpy(line1, first_line, 64);
    line1[64] = '\0';
    char bad[TEXT_SIZE_MAX];
    uint8_t decoded[TEXT_SIZE_MAX];
    uint32_t decoded_size = 4242;

    // Wrong label either way.
    assert_int_equal(dearmor("REVOCATION", text, decoded, &decoded_size), MESH_EPROTO);
    edit(text, "END FEDMESH CERTIFICATE", "END FEDMESH REVOCATION", bad, sizeof(bad));
    assert_int_equal(dearmor("CERTIFICATE", bad, decoded, &decoded_size), MESH_EPROTO);
    edit(text, "BEGIN FEDMESH", "BEGIN PGP", bad, sizeof(bad));
    assert_int_equal(dearmor("CERTIFICATE", bad, decoded, &decoded_size), MESH_EPROTO);

    // Missing END, missing BEGIN, empty input.
    edit(text, "-----END FEDMESH CERTIFICATE-----\n", "", bad, sizeof(bad));
    assert_int_equal(dearmor("CERTIFICATE", bad, decoded, &decoded_size), MESH_EPROTO);
    edit(text, "-----BEGIN FEDMESH CERTIFICATE-----\n", "", bad, sizeof(bad));
    assert_int_equal(dearmor("CERTIFICATE", bad, decoded, &decoded_size), MESH_EPROTO);
    assert_int_equal(dearmor("CERTIFICATE", "", decoded, &decoded_size), MESH_EPROTO);

    // Bad base64: a foreign character, padding mid-text, non-zero
    // padding bits, a line whose length is not a multiple of 4.
    char line_edit[65];
    memcpy(line_edit, line1, sizeof(line_edit));
    line_edit[10] = '*';
    edit(text, line1, line_edit, bad, sizeof(bad));
    assert_int_equal(dearmor("CERTIFICATE", bad, decoded, &decoded_size), MESH_EPROTO);
    line_edit[10] = '=';
    edit(text, line1, line_edit, bad, sizeof(bad));
    assert_int_equal(dearmor("CERTIFICATE", bad, decoded, &decoded_size), MESH_EPROTO);
    memcpy(line_edit, line1, sizeof(line_edit));
    line_edit[62] = '=';
    line_edit[63] = '=';
    edit(text, line1, line_edit, bad, sizeof(bad));
    assert_int_equal(dearmor("CERTIFICATE", bad, decoded, &decoded_size), MESH_EPROTO);
    assert_int_equal(dearmor("CERTIFICATE",
                             "-----BEGIN FEDMESH CERTIFICATE-----\nQR==\n"
                             "-----END FEDMESH CERTIFICATE-----\n",
                             decoded, &decoded_size),
                     MESH_EPROTO);
    assert_int_equal(dearmor("CERTIFICATE",
                             "-----BEGIN FEDMESH CERTIFICATE-----\nQQ=\n"
                             "-----END FEDMESH CERTIFICATE-----\n",
                             decoded, &decoded_size),
                     MESH_EPROTO);
    assert_int_equal(dearmor("CERTIFICATE",
                             "-----BEGIN FEDMESH CERTIFICATE-----\nQQ\n"
                             "-----END FEDMESH CERTIFICATE-----\n",
                             decoded, &decoded_size),
                     MESH_EPROTO);
    assert_int_equal(dearmor("CERTIFICATE",
                             "-----BEGIN FEDMESH CERTIFICATE-----\n====\n"
                             "-----END FEDMESH CERTIFICATE-----\n",
                             decoded, &decoded_size),
                     MESH_EPROTO);
    assert_int_equal(dearmor("CERTIFICATE",
                             "-----BEGIN FEDMESH CERTIFICATE-----\nQQ==\n"
                             "-----END FEDMESH CERTIFICATE-----\n",
                             decoded, &decoded_size),
                     MESH_OK);
    assert_int_equal(decoded_size, 1);
    assert_int_equal(decoded[0], 'A');
    decoded_size = 4242;

    // Line too long: the first two lines joined; a short line in the middle.
    char joined[140];
    FORMAT(joined, "%s\n", line1);
    char longer[140];
    FORMAT(longer, "%s", line1);
    edit(text, joined, longer, bad, sizeof(bad));
    assert_int_equal(dearmor("CERTIFICATE", bad, decoded, &decoded_size), MESH_EPROTO);
    char split[140];
    FORMAT(split, "%.32s\n%s\n", line1, line1 + 32);
    edit(text, joined, split, bad, sizeof(bad));
    assert_int_equal(dearmor("CERTIFICATE", bad, decoded, &decoded_size), MESH_EPROTO);

    // Junk between BEGIN and END: a blank line, a comment, spaces.
    char inserted[200];
    FORMAT(inserted, "%s\n\n", line1);
    edit(text, joined, inserted, bad, sizeof(bad));
    assert_int_equal(dearmor("CERTIFICATE", bad, decoded, &decoded_size), MESH_EPROTO);
    FORMAT(inserted, "%s\n# comment\n", line1);
    edit(text, joined, inserted, bad, sizeof(bad));
    assert_int_equal(dearmor("CERTIFICATE", bad, decoded, &decoded_size), MESH_EPROTO);
    FORMAT(inserted, "%s \n", line1);
    edit(text, joined, inserted, bad, sizeof(bad));
    assert_int_equal(dearmor("CERTIFICATE", bad, decoded, &decoded_size), MESH_EPROTO);
    edit(text, "-----\n", "----- \n", bad, sizeof(bad)); // after BEGIN
    assert_int_equal(dearmor("CERTIFICATE", bad, decoded, &decoded_size), MESH_EPROTO);

    // Junk after END, on its line or after it; a second block.
    char after[TEXT_SIZE_MAX];
    FORMAT(after, "%sx", text);
    assert_int_equal(dearmor("CERTIFICATE", after, decoded, &decoded_size), MESH_EPROTO);
    FORMAT(after, "%s\n\n# trailing comment\n", text);
    assert_int_equal(dearmor("CERTIFICATE", after, decoded, &decoded_size), MESH_EPROTO);
    FORMAT(after, "%s%s", text, text);
    assert_int_equal(dearmor("CERTIFICATE", after, decoded, &decoded_size), MESH_EPROTO);
    edit(text, "-----END FEDMESH CERTIFICATE-----", "-----END FEDMESH CERTIFICATE-----x", bad,
         sizeof(bad));
    assert_int_equal(dearmor("CERTIFICATE", bad, decoded, &decoded_size), MESH_EPROTO);
    // A NUL byte after END is not whitespace.
    uint32_t text_size = (uint32_t) strlen(text);
    char with_nul[TEXT_SIZE_MAX];
    memcpy(with_nul, text, text_size + 1);
    assert_int_equal(mcrypto_armor_decode("CERTIFICATE", with_nul, text_size + 1, decoded,
                                          sizeof(decoded), &decoded_size),
                     MESH_EPROTO);

    // Oversize against bytes_size_max: EFULL, and nothing written.
    memset(decoded, 0xee, sizeof(decoded));
    assert_int_equal(
        mcrypto_armor_decode("CERTIFICATE", text, text_size, decoded, 99, &decoded_size),
        MESH_EFULL);
    for (uint32_t i = 0; i < sizeof(decoded); i++) {
        assert_int_equal(decoded[i], 0xee);
    }
    assert_int_equal(decoded_size, 4242); // untouched through every failure
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_sizes),
        cmocka_unit_test(test_accepts_variants),
        cmocka_unit_test(test_rejects),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
