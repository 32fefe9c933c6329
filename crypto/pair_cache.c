/*
 * crypto/pair_cache.c: a bounded memo of pair keys.
 *
 * Why: a pair key costs an X25519 scalar multiplication (some 50 us), and
 * every control message needs one. A gossip machine used to keep one per
 * member inline; at 10,000 simulated machines of 10,000 members each that
 * is 3.2 GB of keys that are mostly never used. Machines now look keys up
 * here, and the simulator shares one cache among all its machines: the
 * pair key of A and B is the same on both sides (see mcrypto_pair_key),
 * so one derivation serves both.
 *
 * Design: the entry of a pair is keyed by both public keys in bytewise
 * order; its slot is a mix of their first bytes modulo slot_count
 * (direct-mapped: an insert overwrites). A lookup compares both keys
 * whole, so a slot collision costs one fresh derivation, never a wrong key.
 * Failed derivations (a peer key that is not a valid point) are not kept.
 * The slots hold secrets: they are wiped on destroy.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/crypto.h"

#define PAIR_SLOTS_MAX (1u << 26)

typedef struct pair_slot {
    uint8_t lower[MCRYPTO_PUBLIC_KEY_SIZE];
    uint8_t higher[MCRYPTO_PUBLIC_KEY_SIZE];
    uint8_t key[MCRYPTO_PAIR_KEY_SIZE];
    bool used;
} pair_slot;

struct mcrypto_pair_cache {
    uint32_t slot_count;
    uint64_t hits;
    uint64_t misses;
    pair_slot *slots;
};

mesh_err mcrypto_pair_cache_create(uint32_t slot_count, mcrypto_pair_cache **cache_out)
{
    MESH_ASSERT(cache_out != NULL);
    if (slot_count == 0 || slot_count > PAIR_SLOTS_MAX) {
        return MESH_EINVAL;
    }
    mcrypto_pair_cache *cache = calloc(1, sizeof(*cache));
    if (cache == NULL) {
        return MESH_ENOMEM;
    }
    cache->slots = calloc(slot_count, sizeof(pair_slot));
    if (cache->slots == NULL) {
        free(cache);
        return MESH_ENOMEM;
    }
    cache->slot_count = slot_count;
    *cache_out = cache;
    return MESH_OK;
}

void mcrypto_pair_cache_destroy(mcrypto_pair_cache *cache)
{
    if (cache == NULL) {
        return;
    }
    sodium_memzero(cache->slots, (size_t) cache->slot_count * sizeof(pair_slot));
    free(cache->slots);
    free(cache);
}

void mcrypto_pair_cache_counts(const mcrypto_pair_cache *cache,
                               uint64_t *hits_out,
                               uint64_t *misses_out)
{
    MESH_ASSERT(cache != NULL && hits_out != NULL && misses_out != NULL);
    *hits_out = cache->hits;
    *misses_out = cache->misses;
}

static uint64_t load64(const uint8_t *bytes)
{
    uint64_t value = 0;
    for (uint32_t i = 0; i < 8; i++) {
        value |= (uint64_t) bytes[i] << (8 * i);
    }
    return value;
}

mesh_err mcrypto_pair_key_cached(mcrypto_pair_cache *cache,
                                 const uint8_t self_public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                                 const uint8_t self_curve_secret[MCRYPTO_CURVE_KEY_SIZE],
                                 const uint8_t peer_public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                                 const uint8_t peer_curve_public[MCRYPTO_CURVE_KEY_SIZE],
                                 uint8_t key_out[MCRYPTO_PAIR_KEY_SIZE])
{
    MESH_ASSERT(self_public_key != NULL && peer_public_key != NULL && key_out != NULL);
    if (cache == NULL) {
        return mcrypto_pair_key_from_curve(self_public_key, self_curve_secret, peer_public_key,
                                           peer_curve_public, key_out);
    }
    const uint8_t *lower = self_public_key;
    const uint8_t *higher = peer_public_key;
    if (memcmp(lower, higher, MCRYPTO_PUBLIC_KEY_SIZE) > 0) {
        lower = peer_public_key;
        higher = self_public_key;
    }
    // Public keys are uniformly distributed points: their first bytes mix
    // well enough for a slot number, and a collision costs only time.
    uint64_t mix = load64(lower) * 0x9e3779b97f4a7c15ull ^ load64(higher);
    mix ^= mix >> 29;
    pair_slot *slot = &cache->slots[mix % cache->slot_count];
    if (slot->used && memcmp(slot->lower, lower, MCRYPTO_PUBLIC_KEY_SIZE) == 0 &&
        memcmp(slot->higher, higher, MCRYPTO_PUBLIC_KEY_SIZE) == 0) {
        cache->hits++;
        memcpy(key_out, slot->key, MCRYPTO_PAIR_KEY_SIZE);
        return MESH_OK;
    }
    cache->misses++;
    uint8_t key[MCRYPTO_PAIR_KEY_SIZE];
    mesh_err err = mcrypto_pair_key_from_curve(self_public_key, self_curve_secret, peer_public_key,
                                               peer_curve_public, key);
    if (err != MESH_OK) {
        return err;
    }
    memcpy(slot->lower, lower, MCRYPTO_PUBLIC_KEY_SIZE);
    memcpy(slot->higher, higher, MCRYPTO_PUBLIC_KEY_SIZE);
    memcpy(slot->key, key, MCRYPTO_PAIR_KEY_SIZE);
    slot->used = true;
    memcpy(key_out, key, MCRYPTO_PAIR_KEY_SIZE);
    sodium_memzero(key, sizeof(key));
    return MESH_OK;
}
