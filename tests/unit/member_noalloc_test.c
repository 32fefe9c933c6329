/*
 * member.noalloc: the gossip and lease machines allocate nothing after
 * create (STYLE 2.4 rule 4), checked on a realistic run rather than
 * promised. Four whole members (gossip + lease machine + ledger over the
 * in-memory store, through member_node's executor: tests/unit/
 * member_cluster.h) join, exchange probes, digests and adverts under 5 %
 * loss, lend and borrow (a lease split over lenders, one released early,
 * one reclaimed with notice by the lender's local demand, the rest
 * expiring after an hour of virtual time), lose a member and see it
 * come back from its ledger.
 *
 * The binary is linked with --wrap for malloc, calloc, realloc,
 * aligned_alloc, posix_memalign, strdup and strndup (tests/CMakeLists.txt),
 * so every such call from the statically linked fedmesh code comes here.
 * Counting is armed once every member is created, and paused only around
 * the test network's own copy of each message (mc_send), the restart's
 * member_create, and the ledger's storage backend (the store vtable's
 * calls and the simulated crash: in the agent that is RocksDB, which
 * allocates as it likes; the in-memory store copies each batch, some 280
 * allocations in this run, printed apart). Any other allocation is
 * counted, with its call site printed as an offset in the binary
 * (addr2line -f -e BINARY OFFSET names it).
 * Allocations inside shared libraries (libsodium, msgpack-c) do not pass
 * through --wrap; the core calls only msgpack-c's inline packers and
 * libsodium's signing, hashing and verifying, which allocate nothing.
 */
#define _GNU_SOURCE

#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/member_cluster.h"

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *pointer, size_t size);
void *__real_aligned_alloc(size_t alignment, size_t size);
int __real_posix_memalign(void **out, size_t alignment, size_t size);
char *__real_strdup(const char *text);
char *__real_strndup(const char *text, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *pointer, size_t size);
void *__wrap_aligned_alloc(size_t alignment, size_t size);
int __wrap_posix_memalign(void **out, size_t alignment, size_t size);
char *__wrap_strdup(const char *text);
char *__wrap_strndup(const char *text, size_t size);

#define SITES_MAX 16u

static volatile size_t small_size = 16; /* opaque to the optimiser */
static void *volatile sink;
/* volatile: gcc knows that malloc reads and writes no global of ours, and
 * would otherwise move these across the calls it wraps. */
static volatile bool armed;
static volatile uint32_t paused;
static volatile uint64_t counted;
static volatile uint64_t store_counted; /* inside the storage backend */
static volatile uint32_t in_store;
static const void *sites[SITES_MAX];
static uint64_t site_counts[SITES_MAX];

static void count(const void *site)
{
    if (!armed) {
        return;
    }
    if (paused > 0) {
        store_counted += in_store > 0;
        return;
    }
    counted++;
    for (uint32_t i = 0; i < SITES_MAX; i++) {
        if (sites[i] == site || sites[i] == NULL) {
            sites[i] = site;
            site_counts[i]++;
            return;
        }
    }
}

void *__wrap_malloc(size_t size)
{
    count(__builtin_return_address(0));
    return __real_malloc(size);
}

void *__wrap_calloc(size_t count_, size_t size)
{
    count(__builtin_return_address(0));
    return __real_calloc(count_, size);
}

void *__wrap_realloc(void *pointer, size_t size)
{
    count(__builtin_return_address(0));
    return __real_realloc(pointer, size);
}

void *__wrap_aligned_alloc(size_t alignment, size_t size)
{
    count(__builtin_return_address(0));
    return __real_aligned_alloc(alignment, size);
}

int __wrap_posix_memalign(void **out, size_t alignment, size_t size)
{
    count(__builtin_return_address(0));
    return __real_posix_memalign(out, alignment, size);
}

char *__wrap_strdup(const char *text)
{
    count(__builtin_return_address(0));
    return __real_strdup(text);
}

char *__wrap_strndup(const char *text, size_t size)
{
    count(__builtin_return_address(0));
    return __real_strndup(text, size);
}

/* The test network's copy of a message is the harness's, not a machine's. */
static void paused_send(void *ctx,
                        const mesh_node_id *peer,
                        const char *endpoint,
                        const uint8_t *frame,
                        uint32_t frame_size)
{
    paused++;
    mc_send(ctx, peer, endpoint, frame, frame_size);
    paused--;
}

/* The ledger's storage backend is the shell's (RocksDB in the agent, which
 * allocates as it likes; the in-memory store here copies each batch): its
 * calls are paused, and counted apart. A scan's visitor is the ledger's
 * code again, so counting resumes inside it. */
typedef struct paused_store {
    ledger_store inner;
    ledger_store_visit visit;
    void *visit_arg;
} paused_store;

static paused_store paused_stores[MC_NODES_MAX];

static void store_enter(void)
{
    paused++;
    in_store++;
}

static void store_leave(void)
{
    in_store--;
    paused--;
}

static mesh_err paused_get(void *ctx,
                           const uint8_t *key,
                           uint32_t key_size,
                           uint8_t *value_out,
                           uint32_t value_size_max,
                           uint32_t *value_size_out)
{
    paused_store *p = ctx;
    store_enter();
    mesh_err err =
        p->inner.get(p->inner.ctx, key, key_size, value_out, value_size_max, value_size_out);
    store_leave();
    return err;
}

static mesh_err paused_write(void *ctx, const ledger_batch *batch, bool sync)
{
    paused_store *p = ctx;
    store_enter();
    mesh_err err = p->inner.write(p->inner.ctx, batch, sync);
    store_leave();
    return err;
}

static bool paused_visit(
    void *arg, const uint8_t *key, uint32_t key_size, const uint8_t *value, uint32_t value_size)
{
    paused_store *p = arg;
    store_leave();
    bool more = p->visit(p->visit_arg, key, key_size, value, value_size);
    store_enter();
    return more;
}

static mesh_err paused_scan(void *ctx,
                            const uint8_t *prefix,
                            uint32_t prefix_size,
                            const uint8_t *start,
                            uint32_t start_size,
                            ledger_store_visit visit,
                            void *arg)
{
    paused_store *p = ctx;
    ledger_store_visit outer_visit = p->visit;
    void *outer_arg = p->visit_arg;
    p->visit = visit;
    p->visit_arg = arg;
    store_enter();
    mesh_err err =
        p->inner.scan(p->inner.ctx, prefix, prefix_size, start, start_size, paused_visit, p);
    store_leave();
    p->visit = outer_visit;
    p->visit_arg = outer_arg;
    return err;
}

static mesh_err paused_sync(void *ctx)
{
    paused_store *p = ctx;
    store_enter();
    mesh_err err = p->inner.sync(p->inner.ctx);
    store_leave();
    return err;
}

static void pause_stores(mc_cluster *c)
{
    for (uint32_t i = 0; i < c->count; i++) {
        paused_stores[i].inner = c->store_vtables[i];
        c->store_vtables[i] = (ledger_store){.ctx = &paused_stores[i],
                                             .get = paused_get,
                                             .write = paused_write,
                                             .scan = paused_scan,
                                             .sync = paused_sync};
    }
}

static void report_sites(void)
{
    for (uint32_t i = 0; i < SITES_MAX && sites[i] != NULL; i++) {
        Dl_info info;
        uintptr_t offset = (uintptr_t) sites[i];
        if (dladdr(sites[i], &info) != 0 && info.dli_fbase != NULL) {
            offset -= (uintptr_t) info.dli_fbase;
        }
        print_error("allocation after create: %llu call(s) from %#lx (addr2line -f -e %s %#lx)\n",
                    (unsigned long long) site_counts[i], (unsigned long) offset,
                    info.dli_fname != NULL ? info.dli_fname : "BINARY", (unsigned long) offset);
    }
}

static const char *const countries[MC_NODES_MAX] = {"FR", "DE", "FR", "NL", "DE", "FR", "IT", "ES"};

#define HOUR_NS (3600ull * MESH_NS_PER_S)

static void test_no_allocation_after_create(void **state)
{
    (void) state;
    mc_cluster *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    mc_init(c, 4, 7, countries);
    for (uint32_t i = 0; i < c->count; i++) {
        c->configs[i].io.send = paused_send;
    }
    pause_stores(c);
    mc_start(c);
    c->loss = 0.05;
    armed = true;

    // Join: probes, acks, digests, adverts, certificates.
    assert_true(mc_converge(c, 60 * MESH_NS_PER_S));
    mc_run(c, c->now_ns + 6 * MESH_NS_PER_S);
    uint64_t after_join = counted;

    // Leases: a small one, one split over lenders (the lendable 256 each),
    // and a second borrower.
    uint32_t mark = c->event_count;
    mc_borrow_vcpu(c, 0, 8, HOUR_NS, NULL, NULL);
    mc_borrow_vcpu(c, 1, 400, HOUR_NS, NULL, NULL);
    mc_run(c, c->now_ns + 5 * MESH_NS_PER_S);
    const mc_event *granted = NULL;
    for (uint32_t i = mark; i < c->event_count && granted == NULL; i++) {
        const mc_event *e = &c->events[i];
        if (e->node == 0 && e->event.kind == LEASE_EVENT_GRANTED && !e->event.self_is_lender) {
            granted = e;
        }
    }
    assert_non_null(granted);
    assert_true(mc_count_events(c, 1, LEASE_EVENT_GRANTED) >= 2);

    // An early release, and a reclaim by the lender's local demand.
    assert_int_equal(member_release(c->nodes[0], mc_now(c), granted->event.lease_id, &c->rngs[0]),
                     MESH_OK);
    mc_flush(c, 0);
    mc_run(c, c->now_ns + 5 * MESH_NS_PER_S);
    assert_non_null(mc_find_event(c, 0, LEASE_EVENT_ENDED, mark));
    for (uint32_t i = 0; i < c->count; i++) {
        if (i != 1) {
            assert_int_equal(member_set_load(c->nodes[i], mc_now(c), WIRE_RESOURCE_VCPU, "", 300,
                                             700, &c->rngs[i]),
                             MESH_OK);
            mc_flush(c, i);
        }
    }
    mc_run(c, c->now_ns + 3 * 60 * MESH_NS_PER_S);
    assert_true(mc_count_events(c, 1, LEASE_EVENT_RECLAIM_NOTICE) >= 1);
    for (uint32_t i = 0; i < c->count; i++) {
        if (i != 1) {
            assert_int_equal(
                member_set_load(c->nodes[i], mc_now(c), WIRE_RESOURCE_VCPU, "", 0, 0, &c->rngs[i]),
                MESH_OK);
            mc_flush(c, i);
        }
    }

    // A new lease that runs to its end, while a member crashes and comes
    // back from its ledger (its create is not counted).
    mark = c->event_count;
    mc_borrow_vcpu(c, 2, 16, 10 * 60 * MESH_NS_PER_S, NULL, NULL);
    mc_run(c, c->now_ns + 5 * MESH_NS_PER_S);
    assert_non_null(mc_find_event(c, 2, LEASE_EVENT_GRANTED, mark));
    // The crash itself is the store's (it rebuilds what survived).
    store_enter();
    mc_crash(c, 3);
    store_leave();
    mc_run(c, c->now_ns + 30 * MESH_NS_PER_S);
    paused++;
    mc_restart(c, 3);
    paused--;
    mc_run(c, c->now_ns + HOUR_NS);
    assert_non_null(mc_find_event(c, 2, LEASE_EVENT_ENDED, mark));

    armed = false;
    print_message("%llu messages sent; allocations after create: %llu in the machines, %llu in "
                  "the in-memory storage backend (not counted)\n",
                  (unsigned long long) c->order, (unsigned long long) counted,
                  (unsigned long long) store_counted);
    if (counted != 0) {
        print_error("%llu allocations after create (%llu during the join)\n",
                    (unsigned long long) counted, (unsigned long long) after_join);
        report_sites();
    }
    assert_int_equal(counted, 0);
    mc_fini(c);
    free(c);
}

/* The counter itself works: an allocation while armed is counted. */
static void test_counter_counts(void **state)
{
    (void) state;
    counted = 0;
    armed = true;
    sink = malloc(small_size);
    free(sink);
    sink = calloc(1, small_size);
    free(sink);
    armed = false;
    assert_int_equal(counted, 2);
    counted = 0;
    memset(sites, 0, sizeof(sites));
    memset(site_counts, 0, sizeof(site_counts));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_counts),
        cmocka_unit_test(test_no_allocation_after_create),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
