/*
 * crypto/mac.c: pair keys and MACs for the control messages (ping, ack,
 * ping-req, digest, pull, push), and MAC'd envelopes.
 *
 * Why MACs: control messages go between two members only and are never
 * stored or forwarded, so nobody else needs to check them, and the idle
 * probe traffic of a large mesh is mostly pings. A 16-byte MAC keeps a
 * ping frame near 60 bytes (a signature alone would be 64), and keyed
 * BLAKE2b costs about a microsecond where Ed25519 verification costs
 * about fifty.
 *
 * Pair key. Each member already has an Ed25519 key pair; both halves
 * convert to X25519 (libsodium's ed25519 to curve25519 functions), so
 *
 *     shared   = X25519(own secret, peer public)
 *     pair key = BLAKE2b-256("fedmesh/v1/pair-key" || shared
 *                            || lower public key || higher public key)
 *
 * with the public keys in bytewise (memcmp) order, so that A and B derive
 * the same key from opposite sides, and binding both keys means a key is
 * never shared by two pairs even if their X25519 results were to collide.
 * The 19-byte context is hashed without a NUL; every other part has a
 * fixed length, so the concatenation is unambiguous. A peer key that is
 * not a valid point, or one of small order, is refused by the conversion;
 * an all-zero shared secret (what a low-order point yields) is refused
 * too, so that a peer can never force a key that anyone can compute. The
 * converted secret scalar and the shared secret are wiped before return.
 *
 * MAC. Keyed BLAKE2b with a 16-byte output over
 *
 *     "fedmesh/v1/" || type name || 0x00 || body
 *
 * the same domain-separated message as a signature (mcrypto_domain_build),
 * so a PING's MAC does not verify as an ACK over the same body. The message
 * is hashed with the streaming interface straight from the caller's body:
 * no copy, no buffer to clear. The hash state after the key block is
 * enough to forge MACs, so it is wiped (384 bytes) before return.
 * Comparison is constant-time (crypto_verify_16).
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

static const char pair_key_context[] = "fedmesh/v1/pair-key";

#define CURVE25519_KEY_SIZE 32u

_Static_assert(MCRYPTO_PAIR_KEY_SIZE == crypto_generichash_KEYBYTES, "a BLAKE2b key size");
_Static_assert(MCRYPTO_PAIR_KEY_SIZE >= crypto_generichash_BYTES_MIN, "a BLAKE2b output size");
_Static_assert(WIRE_MAC_SIZE >= crypto_generichash_BYTES_MIN, "a BLAKE2b output size");
_Static_assert(WIRE_MAC_SIZE == crypto_verify_16_BYTES, "compared with crypto_verify_16");
_Static_assert(CURVE25519_KEY_SIZE == crypto_scalarmult_BYTES, "X25519 output");
_Static_assert(CURVE25519_KEY_SIZE == crypto_scalarmult_SCALARBYTES, "X25519 scalar");

// BLAKE2b-256 over the context, the shared secret and both public keys in
// bytewise order, into key_out. The state is wiped: it holds the secret.
static void pair_key_hash(const uint8_t shared[CURVE25519_KEY_SIZE],
                          const uint8_t self_public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                          const uint8_t peer_public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                          uint8_t key_out[MCRYPTO_PAIR_KEY_SIZE])
{
    const uint8_t *lower = self_public_key;
    const uint8_t *higher = peer_public_key;
    if (memcmp(lower, higher, MCRYPTO_PUBLIC_KEY_SIZE) > 0) {
        lower = peer_public_key;
        higher = self_public_key;
    }
    MESH_ASSERT(memcmp(lower, higher, MCRYPTO_PUBLIC_KEY_SIZE) <= 0);
    crypto_generichash_state state;
    int rc = crypto_generichash_init(&state, NULL, 0, MCRYPTO_PAIR_KEY_SIZE);
    MESH_ASSERT(rc == 0);
    rc = crypto_generichash_update(&state, (const uint8_t *) pair_key_context,
                                   sizeof(pair_key_context) - 1);
    MESH_ASSERT(rc == 0);
    rc = crypto_generichash_update(&state, shared, CURVE25519_KEY_SIZE);
    MESH_ASSERT(rc == 0);
    rc = crypto_generichash_update(&state, lower, MCRYPTO_PUBLIC_KEY_SIZE);
    MESH_ASSERT(rc == 0);
    rc = crypto_generichash_update(&state, higher, MCRYPTO_PUBLIC_KEY_SIZE);
    MESH_ASSERT(rc == 0);
    rc = crypto_generichash_final(&state, key_out, MCRYPTO_PAIR_KEY_SIZE);
    MESH_ASSERT(rc == 0);
    sodium_memzero(&state, sizeof(state));
}

mesh_err mcrypto_curve_public(const uint8_t public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                              uint8_t curve_out[MCRYPTO_CURVE_KEY_SIZE])
{
    MESH_ASSERT(public_key != NULL && curve_out != NULL);
    uint8_t curve[CURVE25519_KEY_SIZE];
    if (crypto_sign_ed25519_pk_to_curve25519(curve, public_key) != 0) {
        return MESH_EAUTH;
    }
    memcpy(curve_out, curve, sizeof(curve));
    return MESH_OK;
}

mesh_err mcrypto_curve_secret(const mcrypto_keypair *self,
                              uint8_t curve_out[MCRYPTO_CURVE_KEY_SIZE])
{
    MESH_ASSERT(self != NULL && curve_out != NULL);
    // The ordering in pair_key_hash uses self->public_key: it must be the
    // public half of this very secret key, or the two sides would hash
    // different keys.
    MESH_ASSERT(memcmp(self->secret_key + MCRYPTO_SEED_SIZE, self->public_key,
                       MCRYPTO_PUBLIC_KEY_SIZE) == 0);
    return crypto_sign_ed25519_sk_to_curve25519(curve_out, self->secret_key) == 0 ? MESH_OK
                                                                                  : MESH_EINTERNAL;
}

mesh_err mcrypto_pair_key_from_curve(const uint8_t self_public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                                     const uint8_t self_curve_secret[MCRYPTO_CURVE_KEY_SIZE],
                                     const uint8_t peer_public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                                     const uint8_t peer_curve_public[MCRYPTO_CURVE_KEY_SIZE],
                                     uint8_t key_out[MCRYPTO_PAIR_KEY_SIZE])
{
    MESH_ASSERT(self_public_key != NULL && self_curve_secret != NULL);
    MESH_ASSERT(peer_public_key != NULL && peer_curve_public != NULL && key_out != NULL);
    uint8_t shared[CURVE25519_KEY_SIZE];
    mesh_err err = MESH_OK;
    // libsodium refuses some low-order inputs itself (non-zero return);
    // the all-zero check catches every one, whatever the version does.
    if (crypto_scalarmult(shared, self_curve_secret, peer_curve_public) != 0 ||
        sodium_is_zero(shared, sizeof(shared)) != 0) {
        err = MESH_EAUTH;
    } else {
        pair_key_hash(shared, self_public_key, peer_public_key, key_out);
    }
    sodium_memzero(shared, sizeof(shared));
    return err;
}

mesh_err mcrypto_pair_key(const mcrypto_keypair *self,
                          const uint8_t peer_public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                          uint8_t key_out[MCRYPTO_PAIR_KEY_SIZE])
{
    MESH_ASSERT(self != NULL);
    MESH_ASSERT(peer_public_key != NULL);
    MESH_ASSERT(key_out != NULL);
    // The peer's key first: it is the outside input, and refusing it needs
    // no secret to be touched.
    uint8_t peer_curve[CURVE25519_KEY_SIZE];
    if (mcrypto_curve_public(peer_public_key, peer_curve) != MESH_OK) {
        return MESH_EAUTH;
    }
    uint8_t self_curve_secret[CURVE25519_KEY_SIZE];
    mesh_err err = mcrypto_curve_secret(self, self_curve_secret);
    if (err == MESH_OK) {
        err = mcrypto_pair_key_from_curve(self->public_key, self_curve_secret, peer_public_key,
                                          peer_curve, key_out);
    }
    sodium_memzero(self_curve_secret, sizeof(self_curve_secret));
    return err;
}

// The MAC of body as type into mac_out; MESH_EINVAL for a type that is not
// MAC'd or an oversized body (nothing is written then).
static mesh_err mac_compute(const uint8_t key[MCRYPTO_PAIR_KEY_SIZE],
                            wire_type type,
                            const uint8_t *body,
                            uint32_t body_size,
                            uint8_t mac_out[WIRE_MAC_SIZE])
{
    MESH_ASSERT(key != NULL);
    MESH_ASSERT(body != NULL || body_size == 0);
    MESH_ASSERT(mac_out != NULL);
    if (!wire_type_is_mac(type) || body_size > WIRE_BODY_SIZE_MAX) {
        return MESH_EINVAL;
    }
    uint8_t domain[MCRYPTO_DOMAIN_SIZE_MAX];
    uint32_t domain_size = 0;
    mesh_err err = mcrypto_domain_build(type, domain, &domain_size);
    if (err != MESH_OK) {
        return err;
    }
    MESH_ASSERT(domain_size > 0 && domain_size <= MCRYPTO_DOMAIN_SIZE_MAX);
    crypto_generichash_state state;
    int rc = crypto_generichash_init(&state, key, MCRYPTO_PAIR_KEY_SIZE, WIRE_MAC_SIZE);
    MESH_ASSERT(rc == 0);
    rc = crypto_generichash_update(&state, domain, domain_size);
    MESH_ASSERT(rc == 0);
    if (body_size > 0) {
        rc = crypto_generichash_update(&state, body, body_size);
        MESH_ASSERT(rc == 0);
    }
    rc = crypto_generichash_final(&state, mac_out, WIRE_MAC_SIZE);
    MESH_ASSERT(rc == 0);
    sodium_memzero(&state, sizeof(state));
    return MESH_OK;
}

/* ---------------------------------------------------------------- */
/* The memo (crypto.h says when it is used, and why it is exact).    */
/* ---------------------------------------------------------------- */

typedef struct mac_memo_slot {
    bool used;
    uint32_t type;
    uint32_t body_size;
    uint8_t key[MCRYPTO_PAIR_KEY_SIZE];
    uint8_t mac[WIRE_MAC_SIZE];
    uint8_t body[MCRYPTO_MAC_MEMO_BODY_MAX];
} mac_memo_slot;

struct mcrypto_mac_memo {
    mac_memo_slot *slots;
    uint32_t mask;
    uint64_t hits;
    uint64_t misses;
};

mesh_err mcrypto_mac_memo_create(uint32_t slot_count, mcrypto_mac_memo **memo_out)
{
    MESH_ASSERT(memo_out != NULL);
    if (slot_count == 0 || slot_count > (1u << 24) || (slot_count & (slot_count - 1u)) != 0) {
        return MESH_EINVAL;
    }
    mcrypto_mac_memo *memo = calloc(1, sizeof(*memo));
    mac_memo_slot *slots = calloc(slot_count, sizeof(mac_memo_slot));
    if (memo == NULL || slots == NULL) {
        free(memo);
        free(slots);
        return MESH_ENOMEM;
    }
    memo->slots = slots;
    memo->mask = slot_count - 1u;
    *memo_out = memo;
    return MESH_OK;
}

void mcrypto_mac_memo_destroy(mcrypto_mac_memo *memo)
{
    if (memo == NULL) {
        return;
    }
    sodium_memzero(memo->slots, ((size_t) memo->mask + 1u) * sizeof(mac_memo_slot));
    free(memo->slots);
    free(memo);
}

void mcrypto_mac_memo_counts(const mcrypto_mac_memo *memo, uint64_t *hits_out, uint64_t *misses_out)
{
    MESH_ASSERT(memo != NULL && hits_out != NULL && misses_out != NULL);
    *hits_out = memo->hits;
    *misses_out = memo->misses;
}

/* The memo's slot for (key, type, body): SipHash of the body under a
 * fixed key, mixed with the pair key's first bytes and the type. It only
 * spreads the entries: a hit still needs every byte to match. */
static mac_memo_slot *memo_slot(mcrypto_mac_memo *memo,
                                const uint8_t key[MCRYPTO_PAIR_KEY_SIZE],
                                wire_type type,
                                const uint8_t *body,
                                uint32_t body_size)
{
    static const uint8_t index_key[crypto_shorthash_siphash24_KEYBYTES] = {0};
    uint8_t hash[crypto_shorthash_siphash24_BYTES];
    MESH_ASSERT(crypto_shorthash_siphash24(hash, body, body_size, index_key) == 0);
    uint32_t index = 0;
    for (uint32_t i = 0; i < 4; i++) {
        index |= (uint32_t) (hash[i] ^ key[i]) << (8 * i);
    }
    return &memo->slots[(index ^ (uint32_t) type) & memo->mask];
}

/* The MAC of (key, type, body): remembered (lookup true, a receiver's
 * check), or computed and remembered (a sender's seal, which never finds
 * its fresh body: no lookup). The memo lives only in the simulator's
 * process (crypto.h), so the key is compared with memcmp. */
static mesh_err mac_memoized(mcrypto_mac_memo *memo,
                             bool lookup,
                             const uint8_t key[MCRYPTO_PAIR_KEY_SIZE],
                             wire_type type,
                             const uint8_t *body,
                             uint32_t body_size,
                             uint8_t mac_out[WIRE_MAC_SIZE])
{
    if (memo == NULL || body_size > MCRYPTO_MAC_MEMO_BODY_MAX || body_size == 0) {
        return mac_compute(key, type, body, body_size, mac_out);
    }
    mac_memo_slot *slot = memo_slot(memo, key, type, body, body_size);
    if (lookup && slot->used && slot->type == (uint32_t) type && slot->body_size == body_size &&
        memcmp(slot->key, key, MCRYPTO_PAIR_KEY_SIZE) == 0 &&
        memcmp(slot->body, body, body_size) == 0) {
        memo->hits++;
        memcpy(mac_out, slot->mac, WIRE_MAC_SIZE);
        return MESH_OK;
    }
    mesh_err err = mac_compute(key, type, body, body_size, mac_out);
    if (err != MESH_OK) {
        return err;
    }
    memo->misses++;
    slot->used = true;
    slot->type = (uint32_t) type;
    slot->body_size = body_size;
    memcpy(slot->key, key, MCRYPTO_PAIR_KEY_SIZE);
    memcpy(slot->mac, mac_out, WIRE_MAC_SIZE);
    memcpy(slot->body, body, body_size);
    return MESH_OK;
}

mesh_err mcrypto_mac(const uint8_t key[MCRYPTO_PAIR_KEY_SIZE],
                     wire_type type,
                     const uint8_t *body,
                     uint32_t body_size,
                     uint8_t mac_out[WIRE_MAC_SIZE])
{
    MESH_ASSERT(key != NULL);
    MESH_ASSERT(mac_out != NULL);
    // Through a local, so that mac_out is untouched on failure.
    uint8_t mac[WIRE_MAC_SIZE];
    mesh_err err = mac_compute(key, type, body, body_size, mac);
    if (err != MESH_OK) {
        return err;
    }
    memcpy(mac_out, mac, sizeof(mac));
    return MESH_OK;
}

mesh_err mcrypto_mac_verify(const uint8_t key[MCRYPTO_PAIR_KEY_SIZE],
                            wire_type type,
                            const uint8_t *body,
                            uint32_t body_size,
                            const uint8_t mac[WIRE_MAC_SIZE])
{
    return mcrypto_mac_verify_memo(NULL, key, type, body, body_size, mac);
}

mesh_err mcrypto_mac_verify_memo(mcrypto_mac_memo *memo,
                                 const uint8_t key[MCRYPTO_PAIR_KEY_SIZE],
                                 wire_type type,
                                 const uint8_t *body,
                                 uint32_t body_size,
                                 const uint8_t mac[WIRE_MAC_SIZE])
{
    MESH_ASSERT(key != NULL);
    MESH_ASSERT(mac != NULL);
    uint8_t expected[WIRE_MAC_SIZE];
    mesh_err err = mac_memoized(memo, true, key, type, body, body_size, expected);
    if (err != MESH_OK) {
        return err;
    }
    // Constant-time: a byte-at-a-time comparison would tell a forger how
    // many leading bytes of a guess are right.
    if (crypto_verify_16(expected, mac) != 0) {
        return MESH_EAUTH;
    }
    return MESH_OK;
}

mesh_err mcrypto_envelope_seal_mac(const mesh_node_id *self_id,
                                   const uint8_t key[MCRYPTO_PAIR_KEY_SIZE],
                                   wire_type type,
                                   const uint8_t *body,
                                   uint32_t body_size,
                                   uint8_t *frame,
                                   uint32_t frame_size_max,
                                   uint32_t *frame_size_out)
{
    return mcrypto_envelope_seal_mac_memo(NULL, self_id, key, type, body, body_size, frame,
                                          frame_size_max, frame_size_out);
}

mesh_err mcrypto_envelope_seal_mac_memo(mcrypto_mac_memo *memo,
                                        const mesh_node_id *self_id,
                                        const uint8_t key[MCRYPTO_PAIR_KEY_SIZE],
                                        wire_type type,
                                        const uint8_t *body,
                                        uint32_t body_size,
                                        uint8_t *frame,
                                        uint32_t frame_size_max,
                                        uint32_t *frame_size_out)
{
    MESH_ASSERT(self_id != NULL);
    MESH_ASSERT(key != NULL);
    MESH_ASSERT(frame != NULL || frame_size_max == 0);
    MESH_ASSERT(frame_size_out != NULL);
    // Zeroed before encoding (STYLE §2.2); the signature array's bytes
    // past the MAC are not sent at all.
    wire_envelope envelope;
    memset(&envelope, 0, sizeof(envelope));
    envelope.version = WIRE_VERSION;
    envelope.type = type;
    envelope.signer = *self_id;
    envelope.body = body;
    envelope.body_size = body_size;
    mesh_err err = mac_memoized(memo, false, key, type, body, body_size, envelope.signature);
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
    // Pair the encoder with the decoder: what we send must decode and its
    // MAC must verify under the same key.
    wire_envelope check;
    MESH_ASSERT(wire_envelope_decode(frame, frame_size, &check, NULL) == MESH_OK);
    MESH_ASSERT(check.type == type && check.body_size == body_size);
    MESH_ASSERT(mcrypto_mac_verify(key, type, check.body, check.body_size, check.signature) ==
                MESH_OK);
#endif
    *frame_size_out = frame_size;
    return MESH_OK;
}
