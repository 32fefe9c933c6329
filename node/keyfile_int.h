/*
 * node/keyfile_int.h: key files and small files on disk (node/keyfile.c).
 * The shell's side of crypto/'s key file format: crypto/ encodes and
 * decodes the bytes, this reads and writes the files.
 */
#ifndef NODE_KEYFILE_INT_H
#define NODE_KEYFILE_INT_H

#include <stdint.h>

#include "crypto/crypto.h"
#include "mesh/mesh.h"

/* Writes `path` (mode 0600) and `path`.pub (mode 0644) for a seed
 * (borrowed), each created with O_EXCL and fsync'ed. Errors: MESH_EEXIST
 * when either exists (nothing is written), MESH_EIO (nothing is left
 * behind), MESH_EINVAL (path too long or empty). */
MESH_MUST_USE mesh_err node_keyfile_write(const char *path, const uint8_t seed[MCRYPTO_SEED_SIZE]);

/* Reads a secret key file. Refuses a file that group or others may read
 * or write with MESH_EPERM (the fix: chmod 600 PATH). Other errors:
 * MESH_EIO (cannot open or read, also a non-regular file; errno says
 * why), MESH_EPROTO (not a secret key file, also a file over
 * MCRYPTO_KEYFILE_SIZE_MAX). Symlinks are followed; the mode is checked
 * with fstat on the opened file. The seed and text are wiped before
 * return. */
MESH_MUST_USE mesh_err node_keyfile_read_secret(const char *path, mcrypto_keypair *keypair_out);

/* Reads a public key file (.pub). Errors: MESH_EIO, MESH_EPROTO, as
 * node_keyfile_read_secret, without the mode check. */
MESH_MUST_USE mesh_err node_keyfile_read_public(const char *path,
                                                uint8_t public_key_out[MCRYPTO_PUBLIC_KEY_SIZE]);

/* Reads a whole small file into buf (at most buf_size_max bytes).
 * Errors: MESH_EIO (cannot open or read, or not a regular file),
 * MESH_EFULL (file larger than buf_size_max). */
MESH_MUST_USE mesh_err node_file_read(const char *path,
                                      uint8_t *buf,
                                      uint32_t buf_size_max,
                                      uint32_t *size_out);

/* Writes a new file with the given mode (0..0777), O_EXCL, fsync'ed; on
 * failure nothing is left behind. Errors: MESH_EEXIST, MESH_EIO. */
MESH_MUST_USE mesh_err node_file_write_new(const char *path,
                                           const uint8_t *bytes,
                                           uint32_t size,
                                           unsigned mode);

#endif /* NODE_KEYFILE_INT_H */
