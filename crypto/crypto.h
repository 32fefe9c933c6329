/*
 * crypto/crypto.h: identities, signatures with domain separation, member
 * certificates, revocations, key files and armored files.
 *
 * Prefix mcrypto_, because libsodium owns crypto_*, randombytes_* and
 * sodium_*.
 *
 * Identities are Ed25519 key pairs (libsodium). A node id is unkeyed
 * BLAKE2b with a 16-byte output over the 18-byte context
 * "fedmesh/v1/node-id" (no NUL) followed by the public key, written for
 * people as "fm" followed by 26 lower-case base32 letters.
 *
 * Domain separation: a signature is made over
 *
 *     "fedmesh/v1/" || type name || 0x00 || body
 *
 * where the type name is "advert", "cert", "revocation" and so on. A
 * signature made for one message type therefore never verifies as another,
 * even over identical body bytes.
 *
 * Key generation is deterministic from a 32-byte seed (libsodium's
 * seedable key generation): the caller brings the seed, from
 * randombytes_buf() in the shell, or from a seeded PRNG in the simulator.
 * Nothing in this module reads a clock: validity checks take `now`.
 *
 * Files: key files, certificates and revocations are small text files,
 * encoded and decoded here as bytes; node/ reads and writes the files
 * (node/keyfile.c: bounded by MCRYPTO_FILE_SIZE_MAX, secret key files
 * mode 0600, never overwritten, refused when group or others may read
 * them). This module never touches a file. Secrets are wiped with
 * sodium_memzero as soon as they are no longer needed.
 */
#ifndef CRYPTO_CRYPTO_H
#define CRYPTO_CRYPTO_H

#include <stdint.h>

#include "mesh/mesh.h"
#include "wire/wire.h"

#define MCRYPTO_PUBLIC_KEY_SIZE 32u
#define MCRYPTO_SECRET_KEY_SIZE 64u
#define MCRYPTO_SEED_SIZE       32u
#define MCRYPTO_SIGNATURE_SIZE  64u
#define MCRYPTO_FILE_SIZE_MAX   (256u * 1024u)

_Static_assert(MCRYPTO_PUBLIC_KEY_SIZE == WIRE_PUBLIC_KEY_SIZE, "one key size");
_Static_assert(MCRYPTO_SIGNATURE_SIZE == WIRE_SIGNATURE_SIZE, "one signature size");

typedef struct mcrypto_keypair {
    uint8_t public_key[MCRYPTO_PUBLIC_KEY_SIZE];
    uint8_t secret_key[MCRYPTO_SECRET_KEY_SIZE]; /* wipe with mcrypto_keypair_wipe */
} mcrypto_keypair;

/* Initialises libsodium. Call once before anything else here; safe to call
 * again. Errors: MESH_EINTERNAL when libsodium cannot initialise. */
MESH_MUST_USE mesh_err mcrypto_init(void);

/* Derives a key pair from a seed (borrowed). Errors: MESH_EINTERNAL. */
MESH_MUST_USE mesh_err mcrypto_keypair_from_seed(const uint8_t seed[MCRYPTO_SEED_SIZE],
                                                 mcrypto_keypair *keypair_out);
/* Zeroes the whole key pair. NULL is a no-op. */
void mcrypto_keypair_wipe(mcrypto_keypair *keypair);

/* Node ids. */
#define MCRYPTO_NODE_ID_TEXT_SIZE 29u /* "fm" + 26 base32 letters + NUL */
void mcrypto_node_id(const uint8_t public_key[MCRYPTO_PUBLIC_KEY_SIZE], mesh_node_id *id_out);
void mcrypto_node_id_format(const mesh_node_id *id, char text_out[MCRYPTO_NODE_ID_TEXT_SIZE]);
/* Errors: MESH_EINVAL when text is not a well-formed node id. */
MESH_MUST_USE mesh_err mcrypto_node_id_parse(const char *text, mesh_node_id *id_out);

/* Signatures with domain separation. body is borrowed; body_size may be 0.
 * Errors: MESH_EINVAL (unknown type, body over WIRE_BODY_SIZE_MAX).
 * mcrypto_verify returns MESH_EAUTH when the signature does not verify. */
MESH_MUST_USE mesh_err mcrypto_sign(const mcrypto_keypair *keypair,
                                    wire_type type,
                                    const uint8_t *body,
                                    uint32_t body_size,
                                    uint8_t signature_out[MCRYPTO_SIGNATURE_SIZE]);
MESH_MUST_USE mesh_err mcrypto_verify(const uint8_t public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                                      wire_type type,
                                      const uint8_t *body,
                                      uint32_t body_size,
                                      const uint8_t signature[MCRYPTO_SIGNATURE_SIZE]);

/* A cache of signatures already found valid, for a process that verifies
 * the same signed records many times over: the simulator, where every one
 * of N machines checks the same N certificates and adverts. Verification
 * is a pure function of (public key, type, body, signature), so a hit
 * gives exactly the answer a fresh check would; only valid signatures are
 * remembered. The key of an entry is BLAKE2b-128 over those four; the
 * table is direct-mapped with slot_count slots of 16 bytes, so it is
 * bounded and a collision of slots only costs a fresh check. Not
 * thread-safe: one thread uses a cache. The agent does not use one. */
typedef struct mcrypto_verify_cache mcrypto_verify_cache;

/* Errors: MESH_EINVAL (slot_count 0 or over 2^28), MESH_ENOMEM. */
MESH_MUST_USE mesh_err mcrypto_verify_cache_create(uint32_t slot_count,
                                                   mcrypto_verify_cache **cache_out);
void mcrypto_verify_cache_destroy(mcrypto_verify_cache *cache);
void mcrypto_verify_cache_counts(const mcrypto_verify_cache *cache,
                                 uint64_t *hits_out,
                                 uint64_t *misses_out);
/* mcrypto_verify through a cache; cache may be NULL (plain verify). */
MESH_MUST_USE mesh_err mcrypto_verify_cached(mcrypto_verify_cache *cache,
                                             const uint8_t public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                                             wire_type type,
                                             const uint8_t *body,
                                             uint32_t body_size,
                                             const uint8_t signature[MCRYPTO_SIGNATURE_SIZE]);

/* Signs body as `type` and writes the whole envelope frame into frame.
 * Errors: MESH_EINVAL, MESH_EFULL (frame_size_max too small). */
MESH_MUST_USE mesh_err mcrypto_envelope_seal(const mcrypto_keypair *keypair,
                                             wire_type type,
                                             const uint8_t *body,
                                             uint32_t body_size,
                                             uint8_t *frame,
                                             uint32_t frame_size_max,
                                             uint32_t *frame_size_out);
/* Decodes a frame, checks that it is of expected_type, that its signer is
 * the node id of public_key, and that the signature verifies.
 * Errors: MESH_EPROTO (malformed or wrong type; error_out says why when
 * not NULL: a wrong type is WIRE_REASON_UNKNOWN_TYPE at offset 0),
 * MESH_EAUTH (other signer or bad signature). envelope_out is untouched on
 * failure; its body points into frame. */
MESH_MUST_USE mesh_err mcrypto_envelope_open(const uint8_t public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                                             wire_type expected_type,
                                             const uint8_t *frame,
                                             uint32_t frame_size,
                                             wire_envelope *envelope_out,
                                             wire_error *error_out);

/* Pair keys and MACs for control messages (wire_type_is_mac types).
 *
 * The pair key of members A and B is BLAKE2b-256 over the context
 * "fedmesh/v1/pair-key", the X25519 shared secret of their Ed25519 keys
 * (converted with libsodium's ed25519 to curve25519 functions), and the
 * two public keys in bytewise order: both sides derive the same key, no
 * one else can. The MAC is keyed BLAKE2b with a 16-byte output over the
 * same "fedmesh/v1/" || type name || 0x00 || body as signatures.
 *
 * mcrypto_pair_key errors: MESH_EAUTH when the peer key is not a valid
 * point or gives an all-zero shared secret. key_out is untouched then. */
#define MCRYPTO_PAIR_KEY_SIZE 32u
MESH_MUST_USE mesh_err mcrypto_pair_key(const mcrypto_keypair *self,
                                        const uint8_t peer_public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                                        uint8_t key_out[MCRYPTO_PAIR_KEY_SIZE]);
/* The same in steps, for callers that derive many pair keys: convert each
 * Ed25519 key to its X25519 form once (the conversion of a public key
 * checks the point and costs more than the exchange itself), then derive.
 * mcrypto_curve_public errors: MESH_EAUTH (not a valid point). The curve
 * secret is a secret: wipe it after use. */
#define MCRYPTO_CURVE_KEY_SIZE 32u
MESH_MUST_USE mesh_err mcrypto_curve_public(const uint8_t public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                                            uint8_t curve_out[MCRYPTO_CURVE_KEY_SIZE]);
MESH_MUST_USE mesh_err mcrypto_curve_secret(const mcrypto_keypair *self,
                                            uint8_t curve_out[MCRYPTO_CURVE_KEY_SIZE]);
/* Errors: MESH_EAUTH (an all-zero shared secret: a low-order peer key). */
MESH_MUST_USE mesh_err
mcrypto_pair_key_from_curve(const uint8_t self_public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                            const uint8_t self_curve_secret[MCRYPTO_CURVE_KEY_SIZE],
                            const uint8_t peer_public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                            const uint8_t peer_curve_public[MCRYPTO_CURVE_KEY_SIZE],
                            uint8_t key_out[MCRYPTO_PAIR_KEY_SIZE]);
/* A bounded memo of pair keys (crypto/pair_cache.c): direct-mapped over
 * slot_count slots of about 100 bytes, keyed by both public keys, so a
 * hit is exactly the key a fresh derivation would give. Machines driven
 * from one thread may share one (the simulator does: a pair's key is the
 * same from both sides). Holds secrets; wiped on destroy. Not
 * thread-safe. Errors: MESH_EINVAL (slot_count 0 or over 2^26),
 * MESH_ENOMEM. */
typedef struct mcrypto_pair_cache mcrypto_pair_cache;
MESH_MUST_USE mesh_err mcrypto_pair_cache_create(uint32_t slot_count,
                                                 mcrypto_pair_cache **cache_out);
void mcrypto_pair_cache_destroy(mcrypto_pair_cache *cache);
void mcrypto_pair_cache_counts(const mcrypto_pair_cache *cache,
                               uint64_t *hits_out,
                               uint64_t *misses_out);
/* mcrypto_pair_key_from_curve through a cache; cache may be NULL
 * (derive afresh). */
MESH_MUST_USE mesh_err
mcrypto_pair_key_cached(mcrypto_pair_cache *cache,
                        const uint8_t self_public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                        const uint8_t self_curve_secret[MCRYPTO_CURVE_KEY_SIZE],
                        const uint8_t peer_public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                        const uint8_t peer_curve_public[MCRYPTO_CURVE_KEY_SIZE],
                        uint8_t key_out[MCRYPTO_PAIR_KEY_SIZE]);
/* Errors: MESH_EINVAL (type is not a MAC'd type, body too large). */
MESH_MUST_USE mesh_err mcrypto_mac(const uint8_t key[MCRYPTO_PAIR_KEY_SIZE],
                                   wire_type type,
                                   const uint8_t *body,
                                   uint32_t body_size,
                                   uint8_t mac_out[WIRE_MAC_SIZE]);
/* Constant-time. Errors: MESH_EINVAL as above, MESH_EAUTH on mismatch. */
MESH_MUST_USE mesh_err mcrypto_mac_verify(const uint8_t key[MCRYPTO_PAIR_KEY_SIZE],
                                          wire_type type,
                                          const uint8_t *body,
                                          uint32_t body_size,
                                          const uint8_t mac[WIRE_MAC_SIZE]);
/* A memo of MACs computed, for a process where the same (pair key, type,
 * body) is MAC'd on one side and checked on the other: the simulator,
 * where the receiver of every control message verifies what its sender
 * sealed in the same process. A MAC is a pure function of (key, type,
 * body), and a hit requires every byte of the three to be equal, so it
 * gives exactly what a fresh computation would; a miss, or a body longer
 * than MCRYPTO_MAC_MEMO_BODY_MAX, computes afresh. Direct-mapped over
 * slot_count slots (a power of two) of about 256 bytes, indexed by
 * SipHash-2-4 of the body under a fixed key mixed with the key and type:
 * a collision of slots, even one a peer arranged, only costs a fresh MAC.
 * The slots hold pair keys, compared with memcmp (the memo is for a
 * simulator's process, with nobody to time it): wiped on destroy. Not
 * thread-safe. The agent does not use one. */
#define MCRYPTO_MAC_MEMO_BODY_MAX 192u
typedef struct mcrypto_mac_memo mcrypto_mac_memo;
/* Errors: MESH_EINVAL (slot_count not a power of two, or over 2^24),
 * MESH_ENOMEM. */
MESH_MUST_USE mesh_err mcrypto_mac_memo_create(uint32_t slot_count, mcrypto_mac_memo **memo_out);
void mcrypto_mac_memo_destroy(mcrypto_mac_memo *memo);
void mcrypto_mac_memo_counts(const mcrypto_mac_memo *memo,
                             uint64_t *hits_out,
                             uint64_t *misses_out);
/* mcrypto_mac_verify through a memo (NULL: plain). */
MESH_MUST_USE mesh_err mcrypto_mac_verify_memo(mcrypto_mac_memo *memo,
                                               const uint8_t key[MCRYPTO_PAIR_KEY_SIZE],
                                               wire_type type,
                                               const uint8_t *body,
                                               uint32_t body_size,
                                               const uint8_t mac[WIRE_MAC_SIZE]);

/* Writes a whole envelope frame for a MAC'd type, signer = self_id.
 * Errors: MESH_EINVAL, MESH_EFULL. */
MESH_MUST_USE mesh_err mcrypto_envelope_seal_mac(const mesh_node_id *self_id,
                                                 const uint8_t key[MCRYPTO_PAIR_KEY_SIZE],
                                                 wire_type type,
                                                 const uint8_t *body,
                                                 uint32_t body_size,
                                                 uint8_t *frame,
                                                 uint32_t frame_size_max,
                                                 uint32_t *frame_size_out);
/* The same through a memo (NULL: plain), which remembers the MAC. */
MESH_MUST_USE mesh_err mcrypto_envelope_seal_mac_memo(mcrypto_mac_memo *memo,
                                                      const mesh_node_id *self_id,
                                                      const uint8_t key[MCRYPTO_PAIR_KEY_SIZE],
                                                      wire_type type,
                                                      const uint8_t *body,
                                                      uint32_t body_size,
                                                      uint8_t *frame,
                                                      uint32_t frame_size_max,
                                                      uint32_t *frame_size_out);

/* Certificates. */
typedef enum mcrypto_cert_status {
    MCRYPTO_CERT_VALID = 0,
    MCRYPTO_CERT_MALFORMED = 1,
    MCRYPTO_CERT_OTHER_ROOT = 2, /* signed by a key that is not this federation's root */
    MCRYPTO_CERT_BAD_SIGNATURE = 3,
    MCRYPTO_CERT_NOT_YET_VALID = 4,
    MCRYPTO_CERT_EXPIRED = 5,
    MCRYPTO_CERT_REVOKED = 6,
} mcrypto_cert_status;

/* A phrase for the user ("expired"); never NULL. */
const char *mcrypto_cert_status_text(mcrypto_cert_status status);

/* Signs cert with the root key and writes the envelope frame.
 * Errors: MESH_EINVAL (cert fails the wire rules), MESH_EFULL. */
MESH_MUST_USE mesh_err mcrypto_cert_issue(const mcrypto_keypair *root,
                                          const wire_cert *cert,
                                          uint8_t *frame,
                                          uint32_t frame_size_max,
                                          uint32_t *frame_size_out);
/* Checks a certificate frame against the root public key, the time and a
 * set of revoked node ids (borrowed; may be NULL when revoked_count is 0).
 * Checks run in this order: malformed, other root, bad signature, not yet
 * valid, expired, revoked; status_out (may be NULL) names the first that
 * fails, or is MCRYPTO_CERT_VALID.
 * Returns MESH_OK only when valid; otherwise MESH_EPROTO (malformed),
 * MESH_EAUTH (other root, bad signature, revoked) or MESH_ESTALE (not yet
 * valid, expired). cert_out (may be NULL) is filled only on MESH_OK. */
MESH_MUST_USE mesh_err mcrypto_cert_check(const uint8_t root_public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                                          const uint8_t *frame,
                                          uint32_t frame_size,
                                          int64_t now_realtime_ns,
                                          const mesh_node_id *revoked,
                                          uint32_t revoked_count,
                                          wire_cert *cert_out,
                                          mcrypto_cert_status *status_out);

/* mcrypto_cert_check through a verification cache (may be NULL). */
MESH_MUST_USE mesh_err
mcrypto_cert_check_cached(mcrypto_verify_cache *cache,
                          const uint8_t root_public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                          const uint8_t *frame,
                          uint32_t frame_size,
                          int64_t now_realtime_ns,
                          const mesh_node_id *revoked,
                          uint32_t revoked_count,
                          wire_cert *cert_out,
                          mcrypto_cert_status *status_out);

/* Revocations. Issue: errors MESH_EINVAL, MESH_EFULL. Check: errors
 * MESH_EPROTO (malformed), MESH_EAUTH (not signed by this root).
 * revocation_out is filled only on MESH_OK. */
MESH_MUST_USE mesh_err mcrypto_revocation_issue(const mcrypto_keypair *root,
                                                const wire_revocation *revocation,
                                                uint8_t *frame,
                                                uint32_t frame_size_max,
                                                uint32_t *frame_size_out);
MESH_MUST_USE mesh_err
mcrypto_revocation_check(const uint8_t root_public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                         const uint8_t *frame,
                         uint32_t frame_size,
                         wire_revocation *revocation_out);
MESH_MUST_USE mesh_err
mcrypto_revocation_check_cached(mcrypto_verify_cache *cache,
                                const uint8_t root_public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                                const uint8_t *frame,
                                uint32_t frame_size,
                                wire_revocation *revocation_out);

/* Armor: a binary frame as text between BEGIN and END lines, base64 in
 * lines of 64 characters:
 *
 *     -----BEGIN FEDMESH CERTIFICATE-----
 *     ...
 *     -----END FEDMESH CERTIFICATE-----
 *
 * label is "CERTIFICATE" or "REVOCATION". text_out gets a NUL-terminated
 * string. Decode accepts exactly that shape (LF or CRLF line ends, optional
 * final newline) and nothing else; lines before BEGIN are comments and are
 * skipped. Errors: MESH_EFULL (output too small), MESH_EPROTO (decode:
 * not that shape, other label, bad base64). */
MESH_MUST_USE mesh_err mcrypto_armor_encode(const char *label,
                                            const uint8_t *bytes,
                                            uint32_t size,
                                            char *text_out,
                                            uint32_t text_size_max,
                                            uint32_t *text_size_out);
MESH_MUST_USE mesh_err mcrypto_armor_decode(const char *label,
                                            const char *text,
                                            uint32_t text_size,
                                            uint8_t *bytes_out,
                                            uint32_t bytes_size_max,
                                            uint32_t *size_out);

/* Key files, as bytes (reading and writing the files is node/'s:
 * node/keyfile_int.h).
 *
 * The secret file holds one line "fedmesh-secret-key-v1 <base64 seed>"
 * after comment lines starting with '#'; the public file holds one line
 * "fedmesh-public-key-v1 <base64 public key>". Key files are about 100
 * bytes; anything over MCRYPTO_KEYFILE_SIZE_MAX is not a key file.
 *
 * mcrypto_keyfile_format writes the text of both files for a seed
 * (borrowed) into the caller's buffers; the secret text holds the seed:
 * wipe it with sodium_memzero. Errors: MESH_EINTERNAL (libsodium).
 *
 * The parse functions read such text (borrowed, need not be
 * NUL-terminated). Errors: MESH_EPROTO (not a key file of that kind). The
 * seed is wiped before return. */
#define MCRYPTO_KEYFILE_SIZE_MAX 4096u

MESH_MUST_USE mesh_err mcrypto_keyfile_format(const uint8_t seed[MCRYPTO_SEED_SIZE],
                                              char secret_text_out[MCRYPTO_KEYFILE_SIZE_MAX],
                                              uint32_t *secret_size_out,
                                              char public_text_out[MCRYPTO_KEYFILE_SIZE_MAX],
                                              uint32_t *public_size_out);
MESH_MUST_USE mesh_err mcrypto_keyfile_parse_secret(const char *text,
                                                    uint32_t text_size,
                                                    mcrypto_keypair *keypair_out);
MESH_MUST_USE mesh_err mcrypto_keyfile_parse_public(
    const char *text, uint32_t text_size, uint8_t public_key_out[MCRYPTO_PUBLIC_KEY_SIZE]);

#endif /* CRYPTO_CRYPTO_H */
