/*
 * gossip.alloc: every allocation gossip_create makes can fail, one at a
 * time, and each failure gives MESH_ENOMEM with nothing leaked and nothing
 * half-built (SQLite's fault-injection idea). The test binary is linked
 * with --wrap=malloc,--wrap=calloc (tests/CMakeLists.txt), so the calls in
 * gossip/, crypto/ and wire/ come here first; an armed counter makes the
 * N-th one fail. Leaks show under scripts/test --sanitize and --valgrind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gossip/gossip_int.h"
#include "gossip_cluster.h"

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t count, size_t size);

static long fail_countdown = -1; /* -1: never fail; 0: fail the next call */
static long calls_seen;

static bool should_fail(void)
{
    calls_seen++;
    if (fail_countdown < 0) {
        return false;
    }
    return fail_countdown-- == 0;
}

void *__wrap_malloc(size_t size)
{
    return should_fail() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t count, size_t size)
{
    return should_fail() ? NULL : __real_calloc(count, size);
}

/* Runs create under a failure at each allocation in turn, until one run
 * needs no failure at all; returns how many allocations create makes. */
static long fail_each(mesh_err (*create)(void *context, void **out),
                      void (*destroy)(void *object),
                      void *context)
{
    for (long n = 0; n < 1000; n++) {
        void *object = NULL;
        calls_seen = 0;
        fail_countdown = n;
        mesh_err err = create(context, &object);
        bool failed = fail_countdown < 0;
        fail_countdown = -1;
        if (!failed) {
            assert_int_equal(err, MESH_OK); // every allocation succeeded
            destroy(object);
            return calls_seen;
        }
        assert_int_equal(err, MESH_ENOMEM);
        assert_null(object);
    }
    fail(); // more than 1,000 allocations in a create: not bounded
    return 0;
}

typedef struct machine_context {
    cluster *c;
    gossip_config config;
} machine_context;

static mesh_err create_machine(void *context, void **out)
{
    machine_context *mc = context;
    gossip *g = NULL;
    mesh_err err = gossip_create(&mc->config, cluster_now(mc->c), &g);
    *out = g;
    return err;
}

static void destroy_machine(void *object)
{
    gossip_destroy(object);
}

static void test_gossip_create_fails_cleanly(void **state)
{
    (void) state;
    static cluster c;
    gossip_config base;
    gossip_config_default(&base);
    base.members_max = 64;
    cluster_init(&c, 1, 9, &base);
    machine_context mc = {.c = &c, .config = base};
    mc.config.keypair = c.keys[0];
    memcpy(mc.config.root_public_key, c.root.public_key, MCRYPTO_PUBLIC_KEY_SIZE);
    mc.config.cert_frame = c.certs[0];
    mc.config.cert_frame_size = c.cert_sizes[0];
    cluster_make_advert(0, &mc.config.advert);
    long allocations = fail_each(create_machine, destroy_machine, &mc);
    // The machine, its tables, its own store (six blocks) and pair cache.
    assert_true(allocations >= 10);

    // With a shared store and pair cache, create makes fewer allocations
    // and fails as cleanly.
    gossip_store *store = NULL;
    mcrypto_pair_cache *pairs = NULL;
    assert_int_equal(gossip_store_create(8, 8, &store), MESH_OK);
    assert_int_equal(mcrypto_pair_cache_create(64, &pairs), MESH_OK);
    mc.config.store = store;
    mc.config.pair_cache = pairs;
    long shared_allocations = fail_each(create_machine, destroy_machine, &mc);
    assert_true(shared_allocations < allocations);
    gossip_store_usage usage;
    gossip_store_usage_get(store, &usage);
    assert_int_equal(usage.certs, 0); // nothing left behind by the failures
    mcrypto_pair_cache_destroy(pairs);
    gossip_store_destroy(store);
    cluster_fini(&c);
}

static mesh_err create_store(void *context, void **out)
{
    (void) context;
    gossip_store *store = NULL;
    mesh_err err = gossip_store_create(16, 32, &store);
    *out = store;
    return err;
}

static void destroy_store(void *object)
{
    gossip_store_destroy(object);
}

static mesh_err create_pair_cache(void *context, void **out)
{
    (void) context;
    mcrypto_pair_cache *cache = NULL;
    mesh_err err = mcrypto_pair_cache_create(16, &cache);
    *out = cache;
    return err;
}

static void destroy_pair_cache(void *object)
{
    mcrypto_pair_cache_destroy(object);
}

static void test_shared_parts_fail_cleanly(void **state)
{
    (void) state;
    assert_true(fail_each(create_store, destroy_store, NULL) >= 7);
    assert_true(fail_each(create_pair_cache, destroy_pair_cache, NULL) >= 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gossip_create_fails_cleanly),
        cmocka_unit_test(test_shared_parts_fail_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
