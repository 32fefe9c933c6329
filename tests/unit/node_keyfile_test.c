/*
 * tests/unit/node_keyfile_test.c: key files and the small-file helpers on
 * disk (node/keyfile.c); their text format is tested in crypto.keys.
 *
 * Files go to a fresh mkdtemp directory under $MESH_TEST_TMPDIR (or /tmp),
 * removed at the end. The umask is changed by some tests and always put
 * back.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/crypto.h"
#include "node/keyfile_int.h"

// snprintf into an array, asserting that nothing was cut off.
#define FORMAT(array, ...)                                               \
    do {                                                                 \
        int format_n = snprintf((array), sizeof(array), __VA_ARGS__);    \
        assert_true(format_n >= 0 && (size_t) format_n < sizeof(array)); \
    } while (0)

static char tmp_dir[4096];

static int tmp_dir_create(void **state)
{
    (void) state;
    if (mcrypto_init() != MESH_OK) {
        return -1;
    }
    const char *base = getenv("MESH_TEST_TMPDIR");
    if (base == NULL || base[0] == '\0') {
        base = "/tmp";
    }
    int n = snprintf(tmp_dir, sizeof(tmp_dir), "%s/crypto_keys_XXXXXX", base);
    if (n < 0 || (size_t) n >= sizeof(tmp_dir) || mkdtemp(tmp_dir) == NULL) {
        return -1;
    }
    return 0;
}

static int tmp_dir_remove(void **state)
{
    (void) state;
    DIR *dir = opendir(tmp_dir);
    if (dir == NULL) {
        return -1;
    }
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) {
            continue;
        }
        char path[8192];
        int n = snprintf(path, sizeof(path), "%s/%s", tmp_dir, entry->d_name);
        if (n > 0 && (size_t) n < sizeof(path)) {
            if (unlink(path) != 0) {
                (void) rmdir(path);
            }
        }
    }
    (void) closedir(dir);
    return rmdir(tmp_dir) == 0 ? 0 : -1;
}

// path_out gets tmp_dir/name.
static void tmp_path(const char *name, char *path_out, size_t path_size)
{
    int n = snprintf(path_out, path_size, "%s/%s", tmp_dir, name);
    assert_true(n > 0 && (size_t) n < path_size);
}

static void seed_fill(uint8_t seed[MCRYPTO_SEED_SIZE], uint8_t value)
{
    for (uint32_t i = 0; i < MCRYPTO_SEED_SIZE; i++) {
        seed[i] = (uint8_t) (value + i);
    }
}

static void file_put(const char *path, const char *text, size_t size, mode_t mode)
{
    assert_int_equal(node_file_write_new(path, (const uint8_t *) text, (uint32_t) size, mode),
                     MESH_OK);
}

static unsigned file_mode(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (unsigned) (st.st_mode & 07777);
}

static void file_expect(const char *path, const char *text)
{
    uint8_t buf[256];
    uint32_t size = 0;
    assert_int_equal(node_file_read(path, buf, sizeof(buf), &size), MESH_OK);
    assert_int_equal(size, strlen(text));
    assert_memory_equal(buf, text, size);
}

static void test_write_modes_exact(void **state)
{
    (void) state;
    static const mode_t masks[] = {0, 022, 077, 0777};
    for (size_t i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
        char path[8192];
        char name[32];
        FORMAT(name, "modes%zu", i);
        tmp_path(name, path, sizeof(path));
        char public_path[8300];
        FORMAT(public_path, "%s.pub", path);
        uint8_t seed[MCRYPTO_SEED_SIZE];
        seed_fill(seed, (uint8_t) i);
        mode_t old = umask(masks[i]);
        mesh_err err = node_keyfile_write(path, seed);
        (void) umask(old);
        assert_int_equal(err, MESH_OK);
        assert_int_equal(file_mode(path), 0600);
        assert_int_equal(file_mode(public_path), 0644);
    }
}

static void test_write_read_round_trip(void **state)
{
    (void) state;
    char path[8192];
    tmp_path("round", path, sizeof(path));
    char public_path[8300];
    FORMAT(public_path, "%s.pub", path);
    uint8_t seed[MCRYPTO_SEED_SIZE];
    seed_fill(seed, 7);
    assert_int_equal(node_keyfile_write(path, seed), MESH_OK);

    mcrypto_keypair expected;
    assert_int_equal(mcrypto_keypair_from_seed(seed, &expected), MESH_OK);
    mcrypto_keypair keypair;
    assert_int_equal(node_keyfile_read_secret(path, &keypair), MESH_OK);
    assert_memory_equal(keypair.public_key, expected.public_key, MCRYPTO_PUBLIC_KEY_SIZE);
    assert_memory_equal(keypair.secret_key, expected.secret_key, MCRYPTO_SECRET_KEY_SIZE);
    uint8_t public_key[MCRYPTO_PUBLIC_KEY_SIZE];
    assert_int_equal(node_keyfile_read_public(public_path, public_key), MESH_OK);
    assert_memory_equal(public_key, keypair.public_key, MCRYPTO_PUBLIC_KEY_SIZE);

    // The text shape the header documents.
    char text[512];
    uint32_t size = 0;
    assert_int_equal(node_file_read(path, (uint8_t *) text, sizeof(text) - 1, &size), MESH_OK);
    text[size] = '\0';
    assert_true(strncmp(text, "# fedmesh secret key", 20) == 0);
    assert_non_null(strstr(text, "\nfedmesh-secret-key-v1 "));
    assert_int_equal(text[size - 1], '\n');
    assert_int_equal(node_file_read(public_path, (uint8_t *) text, sizeof(text) - 1, &size),
                     MESH_OK);
    text[size] = '\0';
    assert_true(strncmp(text, "fedmesh-public-key-v1 ", 22) == 0);
    assert_int_equal(size, 22 + 44 + 1);
    mcrypto_keypair_wipe(&keypair);
    mcrypto_keypair_wipe(&expected);
    uint8_t zero[sizeof(keypair)] = {0};
    assert_memory_equal(&keypair, zero, sizeof(keypair));
    mcrypto_keypair_wipe(NULL);
}

static void test_write_refuses_existing(void **state)
{
    (void) state;
    uint8_t seed[MCRYPTO_SEED_SIZE];
    seed_fill(seed, 1);
    char path[8192];
    char public_path[8300];
    struct stat st;

    // The secret file exists: unchanged, and no .pub appears.
    tmp_path("exists_secret", path, sizeof(path));
    FORMAT(public_path, "%s.pub", path);
    file_put(path, "old secret\n", 11, 0600);
    assert_int_equal(node_keyfile_write(path, seed), MESH_EEXIST);
    file_expect(path, "old secret\n");
    assert_int_not_equal(lstat(public_path, &st), 0);

    // The public file exists: unchanged, and no secret file appears.
    tmp_path("exists_public", path, sizeof(path));
    FORMAT(public_path, "%s.pub", path);
    file_put(public_path, "old public\n", 11, 0644);
    assert_int_equal(node_keyfile_write(path, seed), MESH_EEXIST);
    file_expect(public_path, "old public\n");
    assert_int_not_equal(lstat(path, &st), 0);

    // A dangling symlink counts as existing.
    tmp_path("exists_link", path, sizeof(path));
    FORMAT(public_path, "%s.pub", path);
    assert_int_equal(symlink("/nonexistent/fedmesh", path), 0);
    assert_int_equal(node_keyfile_write(path, seed), MESH_EEXIST);
    assert_int_not_equal(lstat(public_path, &st), 0);

    // Writing twice: the second is refused.
    tmp_path("twice", path, sizeof(path));
    assert_int_equal(node_keyfile_write(path, seed), MESH_OK);
    assert_int_equal(node_keyfile_write(path, seed), MESH_EEXIST);
}

static void test_write_errors(void **state)
{
    (void) state;
    uint8_t seed[MCRYPTO_SEED_SIZE];
    seed_fill(seed, 2);
    // A directory that does not exist: EIO, nothing left behind.
    char path[8192];
    tmp_path("missing_dir/key", path, sizeof(path));
    assert_int_equal(node_keyfile_write(path, seed), MESH_EIO);
    // A path too long for path.pub.
    static char long_path[5000];
    memset(long_path, 'a', sizeof(long_path) - 1);
    long_path[sizeof(long_path) - 1] = '\0';
    assert_int_equal(node_keyfile_write(long_path, seed), MESH_EINVAL);
    assert_int_equal(node_keyfile_write("", seed), MESH_EINVAL);
}

static void test_read_secret_modes(void **state)
{
    (void) state;
    char path[8192];
    tmp_path("modes_read", path, sizeof(path));
    uint8_t seed[MCRYPTO_SEED_SIZE];
    seed_fill(seed, 3);
    assert_int_equal(node_keyfile_write(path, seed), MESH_OK);
    mcrypto_keypair keypair;
    static const mode_t refused[] = {0644, 0640, 0604, 0620, 0602, 0610, 0601, 0666, 0700 | 0070};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        assert_int_equal(chmod(path, refused[i]), 0);
        memset(&keypair, 0xa5, sizeof(keypair));
        assert_int_equal(node_keyfile_read_secret(path, &keypair), MESH_EPERM);
    }
    static const mode_t accepted[] = {0600, 0400, 0700};
    for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
        assert_int_equal(chmod(path, accepted[i]), 0);
        assert_int_equal(node_keyfile_read_secret(path, &keypair), MESH_OK);
    }
    char public_path[8300];
    FORMAT(public_path, "%s.pub", path);
    uint8_t public_key[MCRYPTO_PUBLIC_KEY_SIZE];
    assert_int_equal(node_keyfile_read_public(public_path, public_key), MESH_OK);
    assert_memory_equal(public_key, keypair.public_key, sizeof(public_key));
    mcrypto_keypair_wipe(&keypair);
}

static void test_read_secret_malformed(void **state)
{
    (void) state;
    static const struct {
        const char *text;
        size_t size;
    } cases[] = {
        {"", 0},
        {"\n\n", 2},
        {"# only a comment\n", 17},
        {"fedmesh-public-key-v1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", 67},
        {"fedmesh-secret-key-v2 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", 67},
        {"fedmesh-secret-key-v1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh*=\n", 67},
        {"fedmesh-secret-key-v1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\n", 67},
        {"fedmesh-secret-key-v1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gIQ==\n", 71},
        {"fedmesh-secret-key-v1  AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", 68},
        {"fedmesh-secret-key-v1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\nextra\n", 73},
        {"\x00\x01\x02\xff\xfe binary junk", 18},
        {"fedmesh-secret-key-v1\x00"
         "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
         66},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[8192];
        char name[32];
        FORMAT(name, "bad%zu", i);
        tmp_path(name, path, sizeof(path));
        file_put(path, cases[i].text, cases[i].size, 0600);
        mcrypto_keypair keypair;
        memset(&keypair, 0x5a, sizeof(keypair));
        mcrypto_keypair before = keypair;
        assert_int_equal(node_keyfile_read_secret(path, &keypair), MESH_EPROTO);
        assert_memory_equal(&keypair, &before, sizeof(keypair));
        assert_int_equal(
            mcrypto_keyfile_parse_secret(cases[i].text, (uint32_t) cases[i].size, &keypair),
            MESH_EPROTO);
        // Case 3 is a well-formed public key file, refused only as a secret.
        uint8_t public_key[MCRYPTO_PUBLIC_KEY_SIZE];
        assert_int_equal(node_keyfile_read_public(path, public_key),
                         i == 3 ? MESH_OK : MESH_EPROTO);
    }

    // Over the key file bound.
    static char big[MCRYPTO_KEYFILE_SIZE_MAX + 1];
    memset(big, '#', sizeof(big));
    char path[8192];
    tmp_path("big", path, sizeof(path));
    file_put(path, big, sizeof(big), 0600);
    mcrypto_keypair keypair;
    assert_int_equal(node_keyfile_read_secret(path, &keypair), MESH_EPROTO);
}

static void test_file_read_bounds(void **state)
{
    (void) state;
    char path[8192];
    tmp_path("hundred", path, sizeof(path));
    uint8_t bytes[100];
    for (uint32_t i = 0; i < sizeof(bytes); i++) {
        bytes[i] = (uint8_t) (i * 7u);
    }
    assert_int_equal(node_file_write_new(path, bytes, sizeof(bytes), 0640), MESH_OK);
    assert_int_equal(file_mode(path), 0640);
    assert_int_equal(node_file_write_new(path, bytes, 1, 0640), MESH_EEXIST);

    uint8_t buf[128];
    uint32_t size = 12345;
    assert_int_equal(node_file_read(path, buf, 99, &size), MESH_EFULL);
    assert_int_equal(size, 12345);
    assert_int_equal(node_file_read(path, buf, 100, &size), MESH_OK);
    assert_int_equal(size, 100);
    assert_memory_equal(buf, bytes, sizeof(bytes));
    assert_int_equal(node_file_read(path, buf, sizeof(buf), &size), MESH_OK);
    assert_int_equal(size, 100);

    // Empty file, missing file, directory.
    char empty[8192];
    tmp_path("empty", empty, sizeof(empty));
    assert_int_equal(node_file_write_new(empty, NULL, 0, 0600), MESH_OK);
    assert_int_equal(node_file_read(empty, buf, sizeof(buf), &size), MESH_OK);
    assert_int_equal(size, 0);
    char missing[8192];
    tmp_path("missing", missing, sizeof(missing));
    assert_int_equal(node_file_read(missing, buf, sizeof(buf), &size), MESH_EIO);
    mcrypto_keypair keypair;
    assert_int_equal(node_keyfile_read_secret(missing, &keypair), MESH_EIO);
    uint8_t public_key[MCRYPTO_PUBLIC_KEY_SIZE];
    assert_int_equal(node_keyfile_read_public(missing, public_key), MESH_EIO);
    assert_int_equal(node_file_read(tmp_dir, buf, sizeof(buf), &size), MESH_EIO);
    assert_int_equal(node_keyfile_read_secret(tmp_dir, &keypair), MESH_EIO);
    // A FIFO without a writer: refused at once, never waited on.
    char fifo[8192];
    tmp_path("fifo", fifo, sizeof(fifo));
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(node_file_read(fifo, buf, sizeof(buf), &size), MESH_EIO);
    assert_int_equal(node_keyfile_read_secret(fifo, &keypair), MESH_EIO);
    assert_int_equal(node_keyfile_read_public(fifo, public_key), MESH_EIO);
    assert_int_equal(node_file_write_new(missing, bytes, 1, 0600), MESH_OK);
    char in_missing_dir[8192];
    tmp_path("no/such", in_missing_dir, sizeof(in_missing_dir));
    assert_int_equal(node_file_write_new(in_missing_dir, bytes, 1, 0600), MESH_EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_modes_exact),      cmocka_unit_test(test_write_read_round_trip),
        cmocka_unit_test(test_write_refuses_existing), cmocka_unit_test(test_write_errors),
        cmocka_unit_test(test_read_secret_modes),      cmocka_unit_test(test_read_secret_malformed),
        cmocka_unit_test(test_file_read_bounds),
    };
    return cmocka_run_group_tests(tests, tmp_dir_create, tmp_dir_remove);
}
