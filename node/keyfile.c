/*
 * node/keyfile.c: key files and small files on disk, for the shell. The
 * formats are crypto/'s (mcrypto_keyfile_format and the parse functions,
 * pure code on bytes in memory); this file does the I/O, which the core
 * never does.
 *
 * Writing. node_keyfile_write refuses when either file exists (checked
 * first with lstat, so a dangling symlink counts too, and again by O_EXCL,
 * which also closes the race), creates both with open(O_EXCL) and fchmod's
 * them to exactly 0600 / 0644 whatever the umask, writes, fsyncs and
 * closes, and unlinks whatever this call created if any step fails. The
 * directory itself is not fsync'ed: a crash right after may lose the new
 * names, never leave a torn key.
 *
 * Reading a secret. The file is opened (symlinks are followed, as ssh
 * does, so that a key mounted through a symlink still works; O_NOCTTY, no
 * O_NOFOLLOW), and then every check is made on that descriptor with fstat,
 * so nothing can be swapped between check and read: a non-regular file
 * is MESH_EIO, a mode with any group or other bit is MESH_EPERM. The read
 * is bounded by MCRYPTO_KEYFILE_SIZE_MAX (a larger file is MESH_EPROTO, it
 * is not a key file). The text buffer, the seed and the intermediate key
 * pair are wiped with sodium_memzero on every path.
 *
 * Generic files. node_file_read refuses non-regular files too (a FIFO
 * would block forever; files are opened O_NONBLOCK so that even the open
 * does not wait for a writer), and detects an oversized file by reading
 * one byte past the caller's buffer into a scratch byte.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/crypto.h"
#include "node/keyfile_int.h"

// Reads an opened descriptor to its end into buf (at most buf_size_max
// bytes). Errors: MESH_EIO, MESH_EFULL (more than buf_size_max bytes).
static mesh_err fd_read(int fd, uint8_t *buf, uint32_t buf_size_max, uint32_t *size_out)
{
    MESH_ASSERT(fd >= 0);
    MESH_ASSERT(buf != NULL || buf_size_max == 0);
    MESH_ASSERT(size_out != NULL);
    uint32_t size = 0;
    for (;;) {
        // Once the buffer is full, one more byte into a scratch byte tells
        // a file of exactly buf_size_max bytes from a larger one.
        uint8_t extra = 0;
        uint8_t *into = size < buf_size_max ? buf + size : &extra;
        size_t want = size < buf_size_max ? buf_size_max - size : 1u;
        ssize_t n = read(fd, into, want);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return MESH_EIO;
        }
        if (n == 0) {
            break;
        }
        if (size == buf_size_max) {
            return MESH_EFULL;
        }
        MESH_ASSERT((size_t) n <= want);
        size += (uint32_t) n;
    }
    MESH_ASSERT(size <= buf_size_max);
    *size_out = size;
    return MESH_OK;
}

// Opens path for reading and checks that it is a regular file; on success
// *fd_out is open and *st_out describes it.
static mesh_err file_open_regular(const char *path, int *fd_out, struct stat *st_out)
{
    MESH_ASSERT(path != NULL);
    MESH_ASSERT(fd_out != NULL && st_out != NULL);
    int fd;
    do {
        // O_NONBLOCK so that opening a FIFO does not wait for a writer;
        // it changes nothing for the regular files that pass the check.
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        return MESH_EIO;
    }
    if (fstat(fd, st_out) != 0 || !S_ISREG(st_out->st_mode)) {
        (void) close(fd);
        return MESH_EIO;
    }
    *fd_out = fd;
    return MESH_OK;
}

mesh_err node_file_read(const char *path, uint8_t *buf, uint32_t buf_size_max, uint32_t *size_out)
{
    MESH_ASSERT(path != NULL);
    MESH_ASSERT(buf != NULL || buf_size_max == 0);
    MESH_ASSERT(size_out != NULL);
    int fd = -1;
    struct stat st;
    mesh_err err = file_open_regular(path, &fd, &st);
    if (err != MESH_OK) {
        return err;
    }
    err = fd_read(fd, buf, buf_size_max, size_out);
    (void) close(fd);
    return err;
}

static mesh_err write_all(int fd, const uint8_t *bytes, uint32_t size)
{
    MESH_ASSERT(fd >= 0);
    MESH_ASSERT(bytes != NULL || size == 0);
    uint32_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, bytes + done, size - done);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return MESH_EIO;
        }
        MESH_ASSERT((size_t) n <= size - done);
        done += (uint32_t) n;
    }
    return MESH_OK;
}

mesh_err node_file_write_new(const char *path, const uint8_t *bytes, uint32_t size, unsigned mode)
{
    MESH_ASSERT(path != NULL);
    MESH_ASSERT(bytes != NULL || size == 0);
    MESH_ASSERT((mode & ~0777u) == 0);
    int fd;
    do {
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, (mode_t) mode);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        return errno == EEXIST ? MESH_EEXIST : MESH_EIO;
    }
    // From here on the file is ours: any failure removes it.
    mesh_err err = MESH_OK;
    if (fchmod(fd, (mode_t) mode) != 0) {
        err = MESH_EIO;
    }
    if (err == MESH_OK) {
        err = write_all(fd, bytes, size);
    }
    if (err == MESH_OK && fsync(fd) != 0) {
        err = MESH_EIO;
    }
    if (close(fd) != 0 && err == MESH_OK) {
        err = MESH_EIO;
    }
    if (err != MESH_OK) {
        (void) unlink(path);
    }
    return err;
}

static bool path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 || errno != ENOENT;
}

mesh_err node_keyfile_write(const char *path, const uint8_t seed[MCRYPTO_SEED_SIZE])
{
    MESH_ASSERT(path != NULL);
    MESH_ASSERT(seed != NULL);
    char public_path[PATH_MAX];
    int n = snprintf(public_path, sizeof(public_path), "%s.pub", path);
    if (n < 0 || (size_t) n >= sizeof(public_path) || path[0] == '\0') {
        return MESH_EINVAL;
    }
    // lstat failing for another reason than ENOENT (EACCES, ELOOP) also
    // counts as "exists": refuse rather than guess.
    if (path_exists(path) || path_exists(public_path)) {
        return MESH_EEXIST;
    }

    char secret_text[MCRYPTO_KEYFILE_SIZE_MAX];
    char public_text[MCRYPTO_KEYFILE_SIZE_MAX];
    uint32_t secret_size = 0;
    uint32_t public_size = 0;
    mesh_err err =
        mcrypto_keyfile_format(seed, secret_text, &secret_size, public_text, &public_size);
    if (err != MESH_OK) {
        sodium_memzero(secret_text, sizeof(secret_text));
        return err;
    }

    err = node_file_write_new(path, (const uint8_t *) secret_text, secret_size, 0600u);
    if (err != MESH_OK) {
        goto out_wipe_text;
    }
    err = node_file_write_new(public_path, (const uint8_t *) public_text, public_size, 0644u);
    if (err != MESH_OK) {
        goto out_unlink_secret;
    }
    sodium_memzero(secret_text, sizeof(secret_text));
    return MESH_OK;

out_unlink_secret:
    (void) unlink(path);
out_wipe_text:
    sodium_memzero(secret_text, sizeof(secret_text));
    return err == MESH_EEXIST ? MESH_EEXIST : MESH_EIO;
}

mesh_err node_keyfile_read_secret(const char *path, mcrypto_keypair *keypair_out)
{
    MESH_ASSERT(path != NULL);
    MESH_ASSERT(keypair_out != NULL);
    int fd = -1;
    struct stat st;
    mesh_err err = file_open_regular(path, &fd, &st);
    if (err != MESH_OK) {
        return err;
    }
    if ((st.st_mode & 077) != 0) {
        (void) close(fd);
        return MESH_EPERM;
    }
    char text[MCRYPTO_KEYFILE_SIZE_MAX];
    uint32_t text_size = 0;
    err = fd_read(fd, (uint8_t *) text, sizeof(text), &text_size);
    (void) close(fd);
    if (err == MESH_EFULL) {
        err = MESH_EPROTO;
    }
    if (err == MESH_OK) {
        err = mcrypto_keyfile_parse_secret(text, text_size, keypair_out);
    }
    // Wipe the whole buffer: a failed read may have left part of a key.
    sodium_memzero(text, sizeof(text));
    return err;
}

mesh_err node_keyfile_read_public(const char *path, uint8_t public_key_out[MCRYPTO_PUBLIC_KEY_SIZE])
{
    MESH_ASSERT(path != NULL);
    MESH_ASSERT(public_key_out != NULL);
    char text[MCRYPTO_KEYFILE_SIZE_MAX];
    uint32_t text_size = 0;
    mesh_err err = node_file_read(path, (uint8_t *) text, sizeof(text), &text_size);
    if (err == MESH_EFULL) {
        return MESH_EPROTO;
    }
    if (err != MESH_OK) {
        return err;
    }
    return mcrypto_keyfile_parse_public(text, text_size, public_key_out);
}
