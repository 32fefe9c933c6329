/*
 * crypto/verify_cache.c: a bounded memo of valid signatures.
 *
 * Why: in the simulator, N machines each check the same N certificates and
 * the same N adverts, 2 * N^2 Ed25519 verifications at some 50 us each, a
 * floor of minutes at N = 1,000 for work whose answer never changes. An
 * Ed25519 check is a pure function of (public key, type, body, signature),
 * so remembering the valid ones returns exactly what a fresh check would.
 *
 * Design: the key of an entry is BLAKE2b-128 over a context, the public
 * key, the type, the signature and the body; its slot is the key's first
 * eight bytes modulo slot_count (direct-mapped: an insert overwrites). A
 * lookup compares the whole 16-byte key, so a slot collision only costs a
 * fresh check. Invalid signatures are never remembered: a forged record is
 * checked, and refused, every time.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/crypto.h"

#define CACHE_KEY_SIZE  16u
#define CACHE_SLOTS_MAX (1u << 28)

static const char cache_context[] = "fedmesh/v1/verify-cache";

struct mcrypto_verify_cache {
    uint32_t slot_count;
    uint64_t hits;
    uint64_t misses;
    uint8_t (*slots)[CACHE_KEY_SIZE];
};

mesh_err mcrypto_verify_cache_create(uint32_t slot_count, mcrypto_verify_cache **cache_out)
{
    MESH_ASSERT(cache_out != NULL);
    if (slot_count == 0 || slot_count > CACHE_SLOTS_MAX) {
        return MESH_EINVAL;
    }
    mcrypto_verify_cache *cache = calloc(1, sizeof(*cache));
    if (cache == NULL) {
        return MESH_ENOMEM;
    }
    // Zeroed slots never match: a real key is all zero with probability 2^-128.
    cache->slots = calloc(slot_count, CACHE_KEY_SIZE);
    if (cache->slots == NULL) {
        free(cache);
        return MESH_ENOMEM;
    }
    cache->slot_count = slot_count;
    *cache_out = cache;
    return MESH_OK;
}

void mcrypto_verify_cache_destroy(mcrypto_verify_cache *cache)
{
    if (cache == NULL) {
        return;
    }
    free(cache->slots);
    free(cache);
}

void mcrypto_verify_cache_counts(const mcrypto_verify_cache *cache,
                                 uint64_t *hits_out,
                                 uint64_t *misses_out)
{
    MESH_ASSERT(cache != NULL && hits_out != NULL && misses_out != NULL);
    *hits_out = cache->hits;
    *misses_out = cache->misses;
}

static void cache_key(const uint8_t public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                      wire_type type,
                      const uint8_t *body,
                      uint32_t body_size,
                      const uint8_t signature[MCRYPTO_SIGNATURE_SIZE],
                      uint8_t key_out[CACHE_KEY_SIZE])
{
    crypto_generichash_state state;
    uint8_t type_byte = (uint8_t) type;
    (void) crypto_generichash_init(&state, NULL, 0, CACHE_KEY_SIZE);
    (void) crypto_generichash_update(&state, (const uint8_t *) cache_context,
                                     sizeof(cache_context));
    (void) crypto_generichash_update(&state, public_key, MCRYPTO_PUBLIC_KEY_SIZE);
    (void) crypto_generichash_update(&state, &type_byte, 1);
    (void) crypto_generichash_update(&state, signature, MCRYPTO_SIGNATURE_SIZE);
    (void) crypto_generichash_update(&state, body, body_size);
    (void) crypto_generichash_final(&state, key_out, CACHE_KEY_SIZE);
}

mesh_err mcrypto_verify_cached(mcrypto_verify_cache *cache,
                               const uint8_t public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                               wire_type type,
                               const uint8_t *body,
                               uint32_t body_size,
                               const uint8_t signature[MCRYPTO_SIGNATURE_SIZE])
{
    MESH_ASSERT(public_key != NULL && signature != NULL);
    MESH_ASSERT(body != NULL || body_size == 0);
    if (cache == NULL) {
        return mcrypto_verify(public_key, type, body, body_size, signature);
    }
    uint8_t key[CACHE_KEY_SIZE];
    cache_key(public_key, type, body, body_size, signature, key);
    uint64_t index = 0;
    memcpy(&index, key, sizeof(index));
    uint8_t *slot = cache->slots[index % cache->slot_count];
    if (memcmp(slot, key, CACHE_KEY_SIZE) == 0) {
        cache->hits++;
        return MESH_OK;
    }
    cache->misses++;
    mesh_err err = mcrypto_verify(public_key, type, body, body_size, signature);
    if (err == MESH_OK) {
        memcpy(slot, key, CACHE_KEY_SIZE);
    }
    return err;
}
