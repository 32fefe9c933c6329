/*
 * crypto/sign.c: initialisation, key pairs, node ids, signatures with
 * domain separation and signed envelopes.
 *
 * Node ids. A node id is the first 16 bytes of
 *
 *     BLAKE2b-128("fedmesh/v1/node-id" || public_key)
 *
 * (crypto_generichash with a 16-byte output and no key; the 18-byte context
 * is hashed without a terminating NUL, and the public key has a fixed
 * length, so the concatenation is unambiguous). The text form is "fm" and
 * 26 lower-case RFC 4648 base32 letters without padding: 26 letters carry
 * 130 bits, so the last letter's two low bits are always zero, and the
 * parser insists on that so that every id has exactly one text form.
 *
 * Domain separation. A signature covers
 *
 *     "fedmesh/v1/" || type name || 0x00 || body
 *
 * Ed25519 in libsodium 1.0.18 has no incremental interface (the "ph"
 * variant is a different algorithm, Ed25519ph, and is not used), so the
 * message is assembled in a local buffer of WIRE_BODY_SIZE_MAX +
 * MCRYPTO_DOMAIN_SIZE_MAX bytes. The buffer lives on the stack: no global
 * state, no lock, safe from any thread; only the bytes actually used are
 * written, never the whole 64 KiB (a message is a few hundred bytes, and
 * ingest is benchmarked against a bare crypto_sign_verify_detached).
 * The prefix comes from mcrypto_domain_build, whose one table of type
 * names mac.c uses too; signed and MAC'd types never accept each other's
 * calls (MESH_EINVAL). No type is named "lease-record": that domain is
 * ledger/'s, for the records themselves, so the RECORD message (type 19)
 * is "lease-record-msg" and neither kind of signature verifies as the
 * other.
 *
 * Envelopes. Seal signs, then encodes with the signer set to the node id
 * of the key pair's public key. Open decodes, checks the type, checks that
 * the signer is the node id of the expected key and only then verifies, so
 * that the expensive step runs last.
 */
#define _POSIX_C_SOURCE 200809L

#include <string.h>

#include <sodium.h>

#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

static const char node_id_context[] = "fedmesh/v1/node-id";
static const char domain_prefix[] = "fedmesh/v1/";
static const char base32_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

#define NODE_ID_TEXT_LETTERS 26u

_Static_assert(MESH_NODE_ID_SIZE == 16u, "26 base32 letters hold 16 bytes");
_Static_assert(NODE_ID_TEXT_LETTERS * 5u >= MESH_NODE_ID_SIZE * 8u, "enough letters");
_Static_assert(NODE_ID_TEXT_LETTERS * 5u - MESH_NODE_ID_SIZE * 8u < 5u, "no spare letter");
_Static_assert(MCRYPTO_NODE_ID_TEXT_SIZE == 2u + NODE_ID_TEXT_LETTERS + 1u, "fm + letters + NUL");
_Static_assert(MCRYPTO_SECRET_KEY_SIZE == crypto_sign_SECRETKEYBYTES, "libsodium secret key");
_Static_assert(MCRYPTO_PUBLIC_KEY_SIZE == crypto_sign_PUBLICKEYBYTES, "libsodium public key");
_Static_assert(MCRYPTO_SEED_SIZE == crypto_sign_SEEDBYTES, "libsodium seed");
_Static_assert(MCRYPTO_SIGNATURE_SIZE == crypto_sign_BYTES, "libsodium signature");

mesh_err mcrypto_init(void)
{
    // sodium_init returns 0 the first time, 1 when already initialised,
    // -1 on failure; it is itself safe to call more than once.
    if (sodium_init() < 0) {
        return MESH_EINTERNAL;
    }
    return MESH_OK;
}

mesh_err mcrypto_keypair_from_seed(const uint8_t seed[MCRYPTO_SEED_SIZE],
                                   mcrypto_keypair *keypair_out)
{
    MESH_ASSERT(seed != NULL);
    MESH_ASSERT(keypair_out != NULL);
    mcrypto_keypair keypair;
    if (crypto_sign_seed_keypair(keypair.public_key, keypair.secret_key, seed) != 0) {
        sodium_memzero(&keypair, sizeof(keypair));
        return MESH_EINTERNAL;
    }
    // libsodium's secret key is seed || public key: pair the two halves.
    MESH_ASSERT(memcmp(keypair.secret_key + MCRYPTO_SEED_SIZE, keypair.public_key,
                       MCRYPTO_PUBLIC_KEY_SIZE) == 0);
    *keypair_out = keypair;
    sodium_memzero(&keypair, sizeof(keypair));
    return MESH_OK;
}

void mcrypto_keypair_wipe(mcrypto_keypair *keypair)
{
    if (keypair == NULL) {
        return;
    }
    sodium_memzero(keypair, sizeof(*keypair));
}

void mcrypto_node_id(const uint8_t public_key[MCRYPTO_PUBLIC_KEY_SIZE], mesh_node_id *id_out)
{
    MESH_ASSERT(public_key != NULL);
    MESH_ASSERT(id_out != NULL);
    crypto_generichash_state state;
    int rc = crypto_generichash_init(&state, NULL, 0, MESH_NODE_ID_SIZE);
    MESH_ASSERT(rc == 0);
    rc = crypto_generichash_update(&state, (const uint8_t *) node_id_context,
                                   sizeof(node_id_context) - 1);
    MESH_ASSERT(rc == 0);
    rc = crypto_generichash_update(&state, public_key, MCRYPTO_PUBLIC_KEY_SIZE);
    MESH_ASSERT(rc == 0);
    rc = crypto_generichash_final(&state, id_out->bytes, MESH_NODE_ID_SIZE);
    MESH_ASSERT(rc == 0);
}

void mcrypto_node_id_format(const mesh_node_id *id, char text_out[MCRYPTO_NODE_ID_TEXT_SIZE])
{
    MESH_ASSERT(id != NULL);
    MESH_ASSERT(text_out != NULL);
    text_out[0] = 'f';
    text_out[1] = 'm';
    // Take 5 bits at a time, most significant first; the last letter gets
    // the final 3 bits shifted up, its 2 low bits zero.
    uint32_t letter_index = 0;
    for (uint32_t bit = 0; bit < NODE_ID_TEXT_LETTERS * 5u; bit += 5u) {
        uint32_t value = 0;
        for (uint32_t k = 0; k < 5u; k++) {
            uint32_t b = bit + k;
            uint32_t one = 0;
            if (b < MESH_NODE_ID_SIZE * 8u) {
                one = (uint32_t) (id->bytes[b / 8u] >> (7u - b % 8u)) & 1u;
            }
            value = (value << 1) | one;
        }
        MESH_ASSERT(value < 32u);
        MESH_ASSERT(letter_index < NODE_ID_TEXT_LETTERS);
        text_out[2u + letter_index] = base32_alphabet[value];
        letter_index++;
    }
    MESH_ASSERT(letter_index == NODE_ID_TEXT_LETTERS);
    text_out[MCRYPTO_NODE_ID_TEXT_SIZE - 1u] = '\0';
}

static int base32_value(char c)
{
    if (c >= 'a' && c <= 'z') {
        return c - 'a';
    }
    if (c >= '2' && c <= '7') {
        return 26 + (c - '2');
    }
    return -1;
}

mesh_err mcrypto_node_id_parse(const char *text, mesh_node_id *id_out)
{
    MESH_ASSERT(text != NULL);
    MESH_ASSERT(id_out != NULL);
    // Bounded length check: never read past the NUL, never scan far.
    size_t length = strnlen(text, MCRYPTO_NODE_ID_TEXT_SIZE);
    if (length != MCRYPTO_NODE_ID_TEXT_SIZE - 1u) {
        return MESH_EINVAL;
    }
    if (text[0] != 'f' || text[1] != 'm') {
        return MESH_EINVAL;
    }
    mesh_node_id id;
    memset(&id, 0, sizeof(id));
    uint32_t bit = 0;
    for (uint32_t i = 0; i < NODE_ID_TEXT_LETTERS; i++) {
        int value = base32_value(text[2u + i]);
        if (value < 0) {
            return MESH_EINVAL;
        }
        for (uint32_t k = 0; k < 5u; k++) {
            uint32_t one = ((uint32_t) value >> (4u - k)) & 1u;
            if (bit >= MESH_NODE_ID_SIZE * 8u) {
                // The padding bits of the last letter: must be zero so that
                // each id has one text form.
                if (one != 0) {
                    return MESH_EINVAL;
                }
            } else if (one != 0) {
                id.bytes[bit / 8u] = (uint8_t) (id.bytes[bit / 8u] | (1u << (7u - bit % 8u)));
            }
            bit++;
        }
    }
    MESH_ASSERT(bit == NODE_ID_TEXT_LETTERS * 5u);
    *id_out = id;
    return MESH_OK;
}

// The type names bound into every signed or MAC'd message; NULL for types
// that have no meaning (yet). Signed and MAC'd names share one table, so
// no two types can ever share a name.
static const char *type_name(wire_type type)
{
    switch (type) {
    case WIRE_TYPE_ADVERT:
        return "advert";
    case WIRE_TYPE_CERT:
        return "cert";
    case WIRE_TYPE_REVOCATION:
        return "revocation";
    case WIRE_TYPE_SUSPECT:
        return "suspect";
    case WIRE_TYPE_PING:
        return "ping";
    case WIRE_TYPE_ACK:
        return "ack";
    case WIRE_TYPE_PING_REQ:
        return "ping-req";
    case WIRE_TYPE_DIGEST:
        return "digest";
    case WIRE_TYPE_PULL:
        return "pull";
    case WIRE_TYPE_PUSH:
        return "push";
    case WIRE_TYPE_LEASE_REQUEST:
        return "lease-request";
    case WIRE_TYPE_LEASE_OFFER:
        return "lease-offer";
    case WIRE_TYPE_LEASE_REFUSE:
        return "lease-refuse";
    case WIRE_TYPE_LEASE_RECORD:
        // Not "lease-record": ledger/entry.c signs the records themselves
        // under "fedmesh/v1/lease-record", and a signature over a RECORD
        // message must never verify as one over a bare ledger record (or
        // the other way round), even when the two byte strings coincide.
        return "lease-record-msg";
    case WIRE_TYPE_LEASE_END:
        return "lease-end";
    case WIRE_TYPE_LEDGER_SUMMARY:
        return "ledger-summary";
    }
    return NULL;
}

mesh_err mcrypto_domain_build(wire_type type,
                              uint8_t domain_out[MCRYPTO_DOMAIN_SIZE_MAX],
                              uint32_t *domain_size_out)
{
    MESH_ASSERT(domain_out != NULL);
    MESH_ASSERT(domain_size_out != NULL);
    const char *name = type_name(type);
    if (name == NULL) {
        return MESH_EINVAL;
    }
    // Every name is known to authenticate somehow, and vice versa.
    MESH_ASSERT(wire_type_auth_size(type) != 0);
    size_t prefix_size = sizeof(domain_prefix) - 1;
    size_t name_size = strlen(name);
    MESH_ASSERT(prefix_size + name_size + 1 <= MCRYPTO_DOMAIN_SIZE_MAX);
    memcpy(domain_out, domain_prefix, prefix_size);
    memcpy(domain_out + prefix_size, name, name_size);
    domain_out[prefix_size + name_size] = 0x00;
    *domain_size_out = (uint32_t) (prefix_size + name_size + 1);
    return MESH_OK;
}

// Writes the domain-separated message into message (capacity
// WIRE_BODY_SIZE_MAX + MCRYPTO_DOMAIN_SIZE_MAX) and returns its length, or
// MESH_EINVAL for a type that is not signed (unknown, or MAC'd: a MAC'd
// type must never get a signature that a third party could replay) or an
// oversized body.
static mesh_err sign_message_build(wire_type type,
                                   const uint8_t *body,
                                   uint32_t body_size,
                                   uint8_t *message,
                                   uint32_t *message_size_out)
{
    MESH_ASSERT(body != NULL || body_size == 0);
    MESH_ASSERT(message != NULL && message_size_out != NULL);
    if (wire_type_auth_size(type) != WIRE_SIGNATURE_SIZE || body_size > WIRE_BODY_SIZE_MAX) {
        return MESH_EINVAL;
    }
    uint32_t domain_size = 0;
    mesh_err err = mcrypto_domain_build(type, message, &domain_size);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(domain_size <= MCRYPTO_DOMAIN_SIZE_MAX);
    if (body_size > 0) {
        memcpy(message + domain_size, body, body_size);
    }
    *message_size_out = domain_size + body_size;
    return MESH_OK;
}

mesh_err mcrypto_sign(const mcrypto_keypair *keypair,
                      wire_type type,
                      const uint8_t *body,
                      uint32_t body_size,
                      uint8_t signature_out[MCRYPTO_SIGNATURE_SIZE])
{
    MESH_ASSERT(keypair != NULL);
    MESH_ASSERT(signature_out != NULL);
    // Deliberately not zero-initialised: only the used prefix is written
    // and read (see the file head).
    uint8_t message[WIRE_BODY_SIZE_MAX + MCRYPTO_DOMAIN_SIZE_MAX];
    uint32_t message_size = 0;
    mesh_err err = sign_message_build(type, body, body_size, message, &message_size);
    if (err != MESH_OK) {
        return err;
    }
    uint8_t signature[MCRYPTO_SIGNATURE_SIZE];
    if (crypto_sign_detached(signature, NULL, message, message_size, keypair->secret_key) != 0) {
        return MESH_EINTERNAL;
    }
    memcpy(signature_out, signature, MCRYPTO_SIGNATURE_SIZE);
    return MESH_OK;
}

mesh_err mcrypto_verify(const uint8_t public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                        wire_type type,
                        const uint8_t *body,
                        uint32_t body_size,
                        const uint8_t signature[MCRYPTO_SIGNATURE_SIZE])
{
    MESH_ASSERT(public_key != NULL);
    MESH_ASSERT(signature != NULL);
    uint8_t message[WIRE_BODY_SIZE_MAX + MCRYPTO_DOMAIN_SIZE_MAX];
    uint32_t message_size = 0;
    mesh_err err = sign_message_build(type, body, body_size, message, &message_size);
    if (err != MESH_OK) {
        return err;
    }
    if (crypto_sign_verify_detached(signature, message, message_size, public_key) != 0) {
        return MESH_EAUTH;
    }
    return MESH_OK;
}

mesh_err mcrypto_envelope_seal(const mcrypto_keypair *keypair,
                               wire_type type,
                               const uint8_t *body,
                               uint32_t body_size,
                               uint8_t *frame,
                               uint32_t frame_size_max,
                               uint32_t *frame_size_out)
{
    MESH_ASSERT(keypair != NULL);
    MESH_ASSERT(frame != NULL || frame_size_max == 0);
    MESH_ASSERT(frame_size_out != NULL);
    // The signer field is derived from public_key: it must be the public
    // half of this very secret key, or every peer would refuse the frame.
    MESH_ASSERT(memcmp(keypair->secret_key + MCRYPTO_SEED_SIZE, keypair->public_key,
                       MCRYPTO_PUBLIC_KEY_SIZE) == 0);
    wire_envelope envelope;
    memset(&envelope, 0, sizeof(envelope));
    envelope.version = WIRE_VERSION;
    envelope.type = type;
    mcrypto_node_id(keypair->public_key, &envelope.signer);
    envelope.body = body;
    envelope.body_size = body_size;
    mesh_err err = mcrypto_sign(keypair, type, body, body_size, envelope.signature);
    if (err != MESH_OK) {
        return err;
    }
    uint32_t frame_size = 0;
    err = wire_envelope_encode(&envelope, frame, frame_size_max, &frame_size);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(frame_size > body_size);
    MESH_ASSERT(frame_size <= frame_size_max);
#if defined(MESH_DEBUG)
    // Pair the encoder with the decoder: what we send must open.
    wire_envelope check;
    MESH_ASSERT(mcrypto_envelope_open(keypair->public_key, type, frame, frame_size, &check, NULL) ==
                MESH_OK);
    MESH_ASSERT(check.body_size == body_size);
#endif
    *frame_size_out = frame_size;
    return MESH_OK;
}

mesh_err mcrypto_envelope_open(const uint8_t public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                               wire_type expected_type,
                               const uint8_t *frame,
                               uint32_t frame_size,
                               wire_envelope *envelope_out,
                               wire_error *error_out)
{
    MESH_ASSERT(public_key != NULL);
    MESH_ASSERT(frame != NULL || frame_size == 0);
    MESH_ASSERT(envelope_out != NULL);
    wire_envelope envelope;
    mesh_err err = wire_envelope_decode(frame, frame_size, &envelope, error_out);
    if (err != MESH_OK) {
        return MESH_EPROTO;
    }
    if (envelope.type != expected_type) {
        if (error_out != NULL) {
            error_out->reason = WIRE_REASON_UNKNOWN_TYPE;
            error_out->offset = 0;
        }
        return MESH_EPROTO;
    }
    mesh_node_id signer;
    mcrypto_node_id(public_key, &signer);
    if (!mesh_node_id_equal(&signer, &envelope.signer)) {
        return MESH_EAUTH;
    }
    err = mcrypto_verify(public_key, envelope.type, envelope.body, envelope.body_size,
                         envelope.signature);
    if (err != MESH_OK) {
        // EINVAL here means a type with no signature: expected_type is a
        // MAC'd type (those open with mcrypto_mac_verify), so no frame
        // can be a valid signed one of it.
        return err == MESH_EINVAL ? MESH_EPROTO : MESH_EAUTH;
    }
    *envelope_out = envelope;
    return MESH_OK;
}
