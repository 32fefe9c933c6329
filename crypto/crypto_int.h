/*
 * crypto/crypto_int.h: what the crypto/ files share with each other and
 * with their tests, and nobody else.
 *
 * Small text formats (key files, armor) need a line scanner. Files are
 * node/'s (node/keyfile.c): nothing here opens one.
 */
#ifndef CRYPTO_CRYPTO_INT_H
#define CRYPTO_CRYPTO_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto/crypto.h"

/* The prefix of every signed message is "fedmesh/v1/" || type name || 0x00;
 * the longest type name is "revocation", so 22 bytes; 32 leaves room for a
 * longer name appended later. */
#define MCRYPTO_DOMAIN_SIZE_MAX 32u

/* Writes "fedmesh/v1/" || type name || 0x00 for any known type, signed or
 * MAC'd, into domain_out and its length into domain_size_out. Signatures
 * and MACs both start their message with it, so that one table of names
 * separates every type from every other. Errors: MESH_EINVAL (a type with
 * no name). */
MESH_MUST_USE mesh_err mcrypto_domain_build(wire_type type,
                                            uint8_t domain_out[MCRYPTO_DOMAIN_SIZE_MAX],
                                            uint32_t *domain_size_out);

/* A certificate body is at most about 400 bytes (key 34, name 65, operator
 * 129, country 3, 8 jurisdictions 25, integers and keys under 60), a
 * revocation body under 200. */
#define MCRYPTO_CERT_BODY_SIZE_MAX 1024u

/* Key file header words. */
#define MCRYPTO_KEYFILE_SECRET_WORD "fedmesh-secret-key-v1"
#define MCRYPTO_KEYFILE_PUBLIC_WORD "fedmesh-public-key-v1"

/* One line of a text buffer: [start, start + size) without its line end
 * ("\n" or "\r\n"). */
typedef struct mcrypto_line {
    const char *start;
    uint32_t size;
} mcrypto_line;

/* Takes the next line from text[*offset..text_size). Returns false at the
 * end of text. A final line without a line end is still a line. Advances
 * *offset past the line end. */
bool mcrypto_line_next(const char *text,
                       uint32_t text_size,
                       uint32_t *offset,
                       mcrypto_line *line_out);

/* True when every byte of text[offset..text_size) is a space, tab, CR or LF. */
bool mcrypto_text_is_blank(const char *text, uint32_t text_size, uint32_t offset);

#endif /* CRYPTO_CRYPTO_INT_H */
