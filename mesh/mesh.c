/*
 * mesh/mesh.c: error tables, the panic handler, the PRNG, node ids and the
 * outbox. See mesh.h for the contracts.
 *
 * The PRNG is xoshiro256** (Blackman and Vigna, "Scrambled linear
 * pseudorandom number generators", 2018), seeded by splitmix64 as its
 * authors recommend. It is not a cryptographic generator and is never used
 * for keys: it only makes protocol choices (which peers to gossip with)
 * reproducible under the simulator.
 */
#include "mesh/mesh.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct mesh_err_entry {
    const char *name;
    const char *message;
} mesh_err_entry;

static const mesh_err_entry mesh_err_table[MESH_ERR_COUNT] = {
    [MESH_OK] = {"OK", "success"},
    [MESH_EINVAL] = {"EINVAL", "invalid argument"},
    [MESH_ENOMEM] = {"ENOMEM", "out of memory"},
    [MESH_EFULL] = {"EFULL", "a bounded buffer or table is full"},
    [MESH_EPROTO] = {"EPROTO", "malformed message or file"},
    [MESH_EAUTH] = {"EAUTH", "signature, key or certificate does not verify"},
    [MESH_EREPLAY] = {"EREPLAY", "replayed or superseded message"},
    [MESH_ESTALE] = {"ESTALE", "outside its validity window"},
    [MESH_ENOTFOUND] = {"ENOTFOUND", "not found"},
    [MESH_ECONSTRAINT] = {"ECONSTRAINT", "a constraint would be broken"},
    [MESH_ETIMEDOUT] = {"ETIMEDOUT", "timed out"},
    [MESH_ESTORE] = {"ESTORE", "storage backend failed"},
    [MESH_ECORRUPT] = {"ECORRUPT", "stored data is corrupt"},
    [MESH_ETRANSPORT] = {"ETRANSPORT", "network transport failed"},
    [MESH_EINTERNAL] = {"EINTERNAL", "internal error (a bug; please report it)"},
    [MESH_EIO] = {"EIO", "file input/output failed"},
    [MESH_EEXIST] = {"EEXIST", "already exists; refusing to overwrite"},
    [MESH_EPERM] = {"EPERM", "unsafe permissions or operation not allowed"},
};

_Static_assert(MESH_ARRAY_COUNT(mesh_err_table) == MESH_ERR_COUNT, "one entry per error code");
_Static_assert(MESH_EPERM + 1 == MESH_ERR_COUNT, "MESH_ERR_COUNT follows the last code");

const char *mesh_strerror(mesh_err err)
{
    if ((unsigned) err >= MESH_ERR_COUNT || mesh_err_table[err].message == NULL) {
        return "unknown error";
    }
    return mesh_err_table[err].message;
}

const char *mesh_err_name(mesh_err err)
{
    if ((unsigned) err >= MESH_ERR_COUNT || mesh_err_table[err].name == NULL) {
        return "EUNKNOWN";
    }
    return mesh_err_table[err].name;
}

static mesh_panic_hook panic_hook;

void mesh_panic_set_hook(mesh_panic_hook hook)
{
    panic_hook = hook;
}

_Noreturn void mesh_panic(const char *file, int line, const char *expr)
{
    (void) fprintf(stderr, "level=fatal component=assert file=%s line=%d expr=\"%s\"\n", file, line,
                   expr);
    if (panic_hook != NULL) {
        panic_hook();
    }
    (void) fflush(stderr);
    abort();
}

static uint64_t splitmix64(uint64_t *x)
{
    *x += 0x9e3779b97f4a7c15ull;
    uint64_t z = *x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void mesh_rng_seed(mesh_rng *rng, uint64_t seed)
{
    MESH_ASSERT(rng != NULL);
    uint64_t x = seed;
    for (uint32_t i = 0; i < 4; i++) {
        rng->state[i] = splitmix64(&x);
    }
    // splitmix64 is a bijection on distinct counters, so all four words
    // cannot be zero; xoshiro's one forbidden state is unreachable.
    MESH_ASSERT((rng->state[0] | rng->state[1] | rng->state[2] | rng->state[3]) != 0);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t mesh_rng_next(mesh_rng *rng)
{
    MESH_ASSERT(rng != NULL);
    uint64_t *s = rng->state;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t mesh_rng_below(mesh_rng *rng, uint64_t bound)
{
    MESH_ASSERT(bound > 0);
    // Rejection sampling: draw until the value falls below the largest
    // multiple of bound, so that every residue is equally likely. The
    // expected number of draws is below 2 for every bound.
    uint64_t limit = UINT64_MAX - (UINT64_MAX % bound);
    for (;;) {
        uint64_t x = mesh_rng_next(rng);
        if (x < limit) {
            return x % bound;
        }
    }
}

double mesh_rng_unit(mesh_rng *rng)
{
    return (double) (mesh_rng_next(rng) >> 11) * 0x1.0p-53;
}

bool mesh_node_id_equal(const mesh_node_id *a, const mesh_node_id *b)
{
    MESH_ASSERT(a != NULL && b != NULL);
    return memcmp(a->bytes, b->bytes, MESH_NODE_ID_SIZE) == 0;
}

int mesh_node_id_compare(const mesh_node_id *a, const mesh_node_id *b)
{
    MESH_ASSERT(a != NULL && b != NULL);
    return memcmp(a->bytes, b->bytes, MESH_NODE_ID_SIZE);
}

void mesh_outbox_init(mesh_outbox *outbox, mesh_output *items, uint32_t count_max)
{
    MESH_ASSERT(outbox != NULL);
    MESH_ASSERT(items != NULL || count_max == 0);
    outbox->items = items;
    outbox->count = 0;
    outbox->count_max = count_max;
}

mesh_err mesh_outbox_push(mesh_outbox *outbox, const mesh_output *output)
{
    MESH_ASSERT(outbox != NULL && output != NULL);
    MESH_ASSERT(outbox->count <= outbox->count_max);
    if (outbox->count == outbox->count_max) {
        return MESH_EFULL;
    }
    outbox->items[outbox->count] = *output;
    outbox->count++;
    return MESH_OK;
}

void mesh_outbox_clear(mesh_outbox *outbox)
{
    MESH_ASSERT(outbox != NULL);
    outbox->count = 0;
}
