/*
 * gossip/store.c: the frames members hold, content-addressed and counted.
 *
 * Why: a machine keeps each member's certificate and newest advert as the
 * signed frames it forwards. Inline in every member record that was 2.5 KB
 * per member per machine: 28 MiB per machine at N = 10,000, and 281 GiB
 * for a simulated federation of that size, where every machine holds the
 * very same frames. A store keeps one copy of each distinct frame, counted
 * by how many member records point at it. Each machine has its own store
 * unless the caller gives one to share (the simulator does; the agent does
 * not), and sharing changes no result: a frame is found by its exact
 * bytes.
 *
 * Design: two pools, certificates and adverts, each of fixed-size slots
 * allocated at create (so nothing allocates afterwards), a free list, and
 * a chained hash table. The bucket hash mixes the frame's size and last
 * 32 bytes, which lie inside its Ed25519 signature; a lookup compares the
 * whole frame, so two frames share a slot only when they are the same
 * bytes. A certificate slot also keeps the decoded fields the machine
 * reads (public key and its X25519 form, node id, name, country,
 * certifications, expiry), an advert slot its timestamp and endpoint, so
 * that each is decoded once per store, not once per machine. The
 * certificate's BLAKE2b-256 (what leases name a lender's certificate by)
 * is taken here, as the frame is copied in: once per distinct frame, and
 * by the code that owns the bytes it hashes. Handles are slot index + 1;
 * 0 is "none".
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gossip/gossip_int.h"

#define STORE_SLOTS_MAX (1u << 26)
#define HASH_TAIL       32u

_Static_assert(GOSSIP_CERT_HASH_SIZE == crypto_generichash_BYTES, "BLAKE2b-256");

static mesh_err pool_init(store_pool *pool, uint32_t count_max, uint32_t frame_max)
{
    memset(pool, 0, sizeof(*pool));
    uint32_t buckets = 1;
    while (buckets < count_max) {
        buckets <<= 1;
    }
    pool->slots = calloc(count_max, sizeof(store_slot));
    pool->frames = malloc((size_t) count_max * frame_max);
    pool->buckets = calloc(buckets, sizeof(uint32_t));
    if (pool->slots == NULL || pool->frames == NULL || pool->buckets == NULL) {
        return MESH_ENOMEM;
    }
    pool->count_max = count_max;
    pool->frame_max = frame_max;
    pool->bucket_mask = buckets - 1;
    // The free list runs through `next`, lowest slot first.
    for (uint32_t i = 0; i < count_max; i++) {
        pool->slots[i].next = i + 1 < count_max ? i + 2 : 0;
    }
    pool->free_head = 1;
    return MESH_OK;
}

static void pool_fini(store_pool *pool)
{
    free(pool->slots);
    free(pool->frames);
    free(pool->buckets);
    memset(pool, 0, sizeof(*pool));
}

mesh_err gossip_store_create(uint32_t certs_max, uint32_t adverts_max, gossip_store **store_out)
{
    MESH_ASSERT(store_out != NULL);
    if (certs_max == 0 || adverts_max == 0 || certs_max > STORE_SLOTS_MAX ||
        adverts_max > STORE_SLOTS_MAX) {
        return MESH_EINVAL;
    }
    gossip_store *store = calloc(1, sizeof(*store));
    if (store == NULL) {
        return MESH_ENOMEM;
    }
    store->cert_info = calloc(certs_max, sizeof(store_cert_info));
    store->advert_info = calloc(adverts_max, sizeof(store_advert_info));
    if (store->cert_info == NULL || store->advert_info == NULL ||
        pool_init(&store->pools[STORE_CERT], certs_max, MEMBER_CERT_FRAME_MAX) != MESH_OK ||
        pool_init(&store->pools[STORE_ADVERT], adverts_max, MEMBER_ADVERT_FRAME_MAX) != MESH_OK) {
        gossip_store_destroy(store);
        return MESH_ENOMEM;
    }
    *store_out = store;
    return MESH_OK;
}

void gossip_store_destroy(gossip_store *store)
{
    if (store == NULL) {
        return;
    }
    pool_fini(&store->pools[STORE_CERT]);
    pool_fini(&store->pools[STORE_ADVERT]);
    free(store->cert_info);
    free(store->advert_info);
    free(store);
}

void gossip_store_usage_get(const gossip_store *store, gossip_store_usage *usage_out)
{
    MESH_ASSERT(store != NULL && usage_out != NULL);
    const store_pool *certs = &store->pools[STORE_CERT];
    const store_pool *adverts = &store->pools[STORE_ADVERT];
    *usage_out = (gossip_store_usage){.certs = certs->used,
                                      .certs_peak = certs->peak,
                                      .certs_max = certs->count_max,
                                      .adverts = adverts->used,
                                      .adverts_peak = adverts->peak,
                                      .adverts_max = adverts->count_max,
                                      .refused = certs->refused + adverts->refused};
}

static uint32_t frame_hash(const uint8_t *frame, uint32_t frame_size)
{
    uint32_t tail = frame_size < HASH_TAIL ? frame_size : HASH_TAIL;
    uint64_t h = 0x243f6a8885a308d3ull ^ frame_size;
    for (uint32_t i = frame_size - tail; i < frame_size; i++) {
        h = (h ^ frame[i]) * 0x100000001b3ull;
    }
    h ^= h >> 32;
    return (uint32_t) h;
}

static const uint8_t *pool_frame(const store_pool *pool, uint32_t handle)
{
    return pool->frames + (size_t) (handle - 1) * pool->frame_max;
}

/* The handle of the slot holding exactly this frame in pool, or 0. */
static uint32_t
pool_find(const store_pool *pool, const uint8_t *frame, uint32_t frame_size, uint32_t hash)
{
    uint32_t steps = 0;
    for (uint32_t h = pool->buckets[hash & pool->bucket_mask]; h != 0;
         h = pool->slots[h - 1].next) {
        MESH_ASSERT(++steps <= pool->count_max);
        const store_slot *slot = &pool->slots[h - 1];
        if (slot->hash == hash && slot->frame_size == frame_size &&
            memcmp(pool_frame(pool, h), frame, frame_size) == 0) {
            return h;
        }
    }
    return 0;
}

uint32_t gossip_store_find(const gossip_store *store,
                           store_kind kind,
                           const uint8_t *frame,
                           uint32_t frame_size)
{
    MESH_ASSERT(store != NULL && frame != NULL);
    const store_pool *pool = &store->pools[kind];
    if (frame_size == 0 || frame_size > pool->frame_max) {
        return 0;
    }
    return pool_find(pool, frame, frame_size, frame_hash(frame, frame_size));
}

uint32_t gossip_store_put(gossip_store *store,
                          store_kind kind,
                          const uint8_t *frame,
                          uint32_t frame_size,
                          bool *added_out)
{
    MESH_ASSERT(store != NULL && frame != NULL && added_out != NULL);
    store_pool *pool = &store->pools[kind];
    MESH_ASSERT(frame_size > 0 && frame_size <= pool->frame_max);
    uint32_t hash = frame_hash(frame, frame_size);
    uint32_t found = pool_find(pool, frame, frame_size, hash);
    if (found != 0) {
        store_slot *slot = &pool->slots[found - 1];
        MESH_ASSERT(slot->refs > 0 && slot->refs < UINT32_MAX);
        slot->refs++;
        *added_out = false;
        return found;
    }
    uint32_t *bucket = &pool->buckets[hash & pool->bucket_mask];
    if (pool->free_head == 0) {
        pool->refused++;
        *added_out = false;
        return 0;
    }
    uint32_t h = pool->free_head;
    store_slot *slot = &pool->slots[h - 1];
    pool->free_head = slot->next;
    slot->refs = 1;
    slot->hash = hash;
    slot->frame_size = frame_size;
    slot->next = *bucket;
    *bucket = h;
    memcpy(pool->frames + (size_t) (h - 1) * pool->frame_max, frame, frame_size);
    if (kind == STORE_CERT) {
        store_cert_info *info = &store->cert_info[h - 1];
        MESH_ASSERT(crypto_generichash(info->frame_hash, sizeof(info->frame_hash), frame,
                                       frame_size, NULL, 0) == 0);
    }
    pool->used++;
    pool->peak = pool->used > pool->peak ? pool->used : pool->peak;
    *added_out = true;
    return h;
}

void gossip_store_release(gossip_store *store, store_kind kind, uint32_t handle)
{
    MESH_ASSERT(store != NULL);
    if (handle == 0) {
        return;
    }
    store_pool *pool = &store->pools[kind];
    MESH_ASSERT(handle <= pool->count_max);
    store_slot *slot = &pool->slots[handle - 1];
    MESH_ASSERT(slot->refs > 0);
    if (--slot->refs > 0) {
        return;
    }
    uint32_t *link = &pool->buckets[slot->hash & pool->bucket_mask];
    uint32_t steps = 0;
    while (*link != handle) {
        MESH_ASSERT(*link != 0 && ++steps <= pool->count_max);
        link = &pool->slots[*link - 1].next;
    }
    *link = slot->next;
    slot->next = pool->free_head;
    slot->frame_size = 0;
    pool->free_head = handle;
    pool->used--;
}

const uint8_t *gossip_store_frame(const gossip_store *store,
                                  store_kind kind,
                                  uint32_t handle,
                                  uint32_t *frame_size_out)
{
    MESH_ASSERT(store != NULL && frame_size_out != NULL);
    const store_pool *pool = &store->pools[kind];
    MESH_ASSERT(handle > 0 && handle <= pool->count_max && pool->slots[handle - 1].refs > 0);
    *frame_size_out = pool->slots[handle - 1].frame_size;
    return pool_frame(pool, handle);
}

store_cert_info *gossip_store_cert(const gossip_store *store, uint32_t handle)
{
    MESH_ASSERT(store != NULL);
    MESH_ASSERT(handle > 0 && handle <= store->pools[STORE_CERT].count_max);
    return &store->cert_info[handle - 1];
}

store_advert_info *gossip_store_advert(const gossip_store *store, uint32_t handle)
{
    MESH_ASSERT(store != NULL);
    MESH_ASSERT(handle > 0 && handle <= store->pools[STORE_ADVERT].count_max);
    return &store->advert_info[handle - 1];
}
