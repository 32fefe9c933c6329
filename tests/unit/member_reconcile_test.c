/*
 * tests/unit/member_reconcile_test.c: reconciling ledgers over the
 * network between whole members (member/reconcile.c), and the
 * certificates a member keeps with each lease it opens
 * (member/certificates.c).
 *
 * Three members lease from each other and settle; then: each pair
 * reconciles and agrees, lease for lease; a summary names only the
 * leases the asker is a party of; a lease only one side holds is named,
 * from both sides; an unanswered request times out; frames from a
 * non-member, addressed to another member, with a bad signature, or
 * answering no request change nothing; answers are rate-limited per peer;
 * and every ledger keeps both parties' certificates and still verifies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <sodium.h>

#include "tests/unit/member_cluster.h"

#define HOUR_NS (3600ull * MESH_NS_PER_S)

static const char *const countries[MC_NODES_MAX] = {"FR", "DE", "FR", "NL", "DE", "FR", "IT", "ES"};

#define RESULTS_MAX 32u
typedef struct results {
    uint32_t count;
    uint32_t nodes[RESULTS_MAX];
    member_reconcile_result results[RESULTS_MAX];
} results;
static results seen;

static void on_event(void *ctx, mesh_now now, member_source source, const void *event)
{
    mc_io_ctx *io = ctx;
    if (source != MEMBER_SOURCE_RECONCILE) {
        mc_on_event(ctx, now, source, event);
        return;
    }
    if (seen.count < RESULTS_MAX) {
        seen.nodes[seen.count] = io->node;
        memcpy(&seen.results[seen.count], event, sizeof(member_reconcile_result));
        seen.count++;
    }
}

static mc_cluster *setup(uint32_t count, uint64_t seed)
{
    memset(&seen, 0, sizeof(seen));
    mc_cluster *c = calloc(1, sizeof(*c));
    mc_init(c, count, seed, countries);
    for (uint32_t i = 0; i < count; i++) {
        c->configs[i].io.event = on_event;
    }
    mc_start(c);
    assert_true(mc_converge(c, 30 * MESH_NS_PER_S));
    mc_run(c, c->now_ns + 6 * MESH_NS_PER_S); // past the lenders' quiet start
    return c;
}

static void teardown(mc_cluster *c)
{
    mc_fini(c);
    free(c);
}

// Borrower b borrows from lender l (pinned), and gives it back: settled.
static void lease_and_settle(mc_cluster *c, uint32_t b, uint32_t l, uint64_t vcpu)
{
    lease_borrow_request request;
    memset(&request, 0, sizeof(request));
    request.resource_count = 1;
    request.resources[0].resource_class = WIRE_RESOURCE_VCPU;
    request.resources[0].amount = vcpu;
    request.duration_ns = HOUR_NS;
    request.prefer_count = 1;
    request.prefer[0] = c->ids[l];
    request.pin = true;
    uint32_t mark = c->event_count;
    uint32_t borrow_id = 0;
    assert_int_equal(member_borrow(c->nodes[b], mc_now(c), &request, &c->rngs[b], &borrow_id),
                     MESH_OK);
    mc_flush(c, b);
    mc_run(c, c->now_ns + MESH_NS_PER_S);
    const mc_event *granted = mc_find_event(c, b, LEASE_EVENT_GRANTED, mark);
    assert_non_null(granted);
    mc_run(c, c->now_ns + 60 * MESH_NS_PER_S);
    assert_int_equal(member_release(c->nodes[b], mc_now(c), granted->event.lease_id, &c->rngs[b]),
                     MESH_OK);
    mc_flush(c, b);
    mc_run(c, c->now_ns + 5 * MESH_NS_PER_S);
    assert_non_null(mc_find_event(c, b, LEASE_EVENT_ENDED, mark));
}

static const member_reconcile_result *reconcile(mc_cluster *c, uint32_t asker, uint32_t peer)
{
    uint32_t before = seen.count;
    uint64_t request_id = 0;
    assert_int_equal(member_reconcile_start(c->nodes[asker], mc_now(c), &c->ids[peer],
                                            2 * MESH_NS_PER_S, &c->rngs[asker], &request_id),
                     MESH_OK);
    assert_int_not_equal(request_id, 0);
    mc_flush(c, asker);
    mc_run(c, c->now_ns + 3 * MESH_NS_PER_S);
    assert_int_equal(seen.count, before + 1);
    const member_reconcile_result *r = &seen.results[before];
    assert_int_equal(seen.nodes[before], asker);
    assert_int_equal(r->request_id, request_id);
    assert_true(mesh_node_id_equal(&r->peer, &c->ids[peer]));
    return r;
}

static void assert_agree(const member_reconcile_result *r, uint32_t shared)
{
    assert_int_equal(r->status, MEMBER_RECONCILE_DONE);
    assert_int_equal(r->shared_count, shared);
    assert_int_equal(r->only_here_count, 0);
    assert_int_equal(r->only_there_count, 0);
    assert_int_equal(r->differ_count, 0);
    assert_int_equal(r->mismatch_count, 0);
    assert_false(r->incomplete);
}

static void test_agree_and_parties_only(void **state)
{
    (void) state;
    mc_cluster *c = setup(3, 31);
    lease_and_settle(c, 0, 1, 4);
    lease_and_settle(c, 0, 1, 6);
    lease_and_settle(c, 1, 0, 2);
    lease_and_settle(c, 2, 0, 3);
    // 0 and 1 share three leases; 0 and 2 one; 1 and 2 none.
    assert_agree(reconcile(c, 0, 1), 3);
    assert_agree(reconcile(c, 1, 0), 3);
    assert_agree(reconcile(c, 2, 0), 1);
    assert_agree(reconcile(c, 0, 2), 1);
    assert_agree(reconcile(c, 1, 2), 0);
    member_stats stats;
    member_stats_get(c->nodes[0], &stats);
    assert_int_equal(stats.summaries_answered, 2);
    assert_int_equal(stats.reconciles_done, 2);
    assert_int_equal(stats.summaries_refused, 0);
    // Certificates: every ledger holds both parties' frames of each of its
    // leases, and still verifies.
    for (uint32_t n = 0; n < c->count; n++) {
        member_stats_get(c->nodes[n], &stats);
        assert_int_equal(stats.certificates_missing, 0);
        assert_true(stats.certificates_kept > 0);
        ledger_verify_report report;
        assert_int_equal(ledger_verify(&c->store_vtables[n], 86400ull * MESH_NS_PER_S, &report),
                         MESH_OK);
        assert_true(report.certificate_count >= 2);
    }
    uint32_t pairs[][2] = {{0, 0}, {0, 1}, {0, 2}, {1, 0}, {1, 1}, {2, 0}, {2, 2}};
    for (uint32_t p = 0; p < MESH_ARRAY_COUNT(pairs); p++) {
        uint32_t holder = pairs[p][0];
        uint32_t party = pairs[p][1];
        uint8_t hash[LEDGER_HASH_SIZE];
        assert_int_equal(
            crypto_generichash(hash, sizeof(hash), c->certs[party], c->cert_sizes[party], NULL, 0),
            0);
        uint8_t frame[LEDGER_CERT_FRAME_SIZE_MAX];
        uint32_t size = 0;
        assert_int_equal(
            ledger_store_certificate(&c->store_vtables[holder], hash, frame, sizeof(frame), &size),
            MESH_OK);
        assert_int_equal(size, c->cert_sizes[party]);
        assert_memory_equal(frame, c->certs[party], size);
    }
    // Node 1 never leased with node 2: it does not hold 2's certificate.
    uint8_t hash[LEDGER_HASH_SIZE];
    assert_int_equal(crypto_generichash(hash, sizeof(hash), c->certs[2], c->cert_sizes[2], NULL, 0),
                     0);
    uint8_t frame[LEDGER_CERT_FRAME_SIZE_MAX];
    uint32_t size = 0;
    assert_int_equal(
        ledger_store_certificate(&c->store_vtables[1], hash, frame, sizeof(frame), &size),
        MESH_ENOTFOUND);
    teardown(c);
}

static void test_mismatch_named_from_both_sides(void **state)
{
    (void) state;
    mc_cluster *c = setup(2, 32);
    lease_and_settle(c, 0, 1, 4);
    // Node 1 alone records a credit to node 0 (as a forged or restored
    // ledger might): node 0 never saw it.
    ledger_record credit;
    memset(&credit, 0, sizeof(credit));
    credit.version = LEDGER_RECORD_VERSION;
    credit.kind = LEDGER_KIND_CREDIT;
    memset(credit.lease_id, 0xcd, sizeof(credit.lease_id));
    memcpy(credit.lender_key, c->keys[1].public_key, LEDGER_KEY_SIZE);
    memcpy(credit.borrower_key, c->keys[0].public_key, LEDGER_KEY_SIZE);
    credit.time_ns = mc_now(c).realtime_ns;
    credit.amount_count = 1;
    credit.amounts[0].resource_class = LEDGER_CLASS_VCPU;
    credit.amounts[0].amount_milli = 5000;
    uint8_t signature[LEDGER_SIGNATURE_SIZE];
    assert_int_equal(ledger_record_sign(&credit, c->keys[1].secret_key, signature), MESH_OK);
    assert_int_equal(ledger_append(c->ledgers[1], &credit, signature, NULL, 1, NULL), MESH_OK);
    assert_int_equal(ledger_commit(c->ledgers[1], true, NULL, NULL), MESH_OK);

    const member_reconcile_result *r = reconcile(c, 0, 1);
    assert_int_equal(r->status, MEMBER_RECONCILE_DONE);
    assert_int_equal(r->shared_count, 1);
    assert_int_equal(r->only_there_count, 1);
    assert_int_equal(r->only_here_count, 0);
    assert_int_equal(r->mismatch_count, 1);
    assert_int_equal(r->mismatches[0].kind, MEMBER_MISMATCH_ONLY_THERE);
    assert_memory_equal(r->mismatches[0].lease_id, credit.lease_id, LEDGER_LEASE_ID_SIZE);
    assert_int_equal(r->mismatches[0].there_count, 1);
    r = reconcile(c, 1, 0);
    assert_int_equal(r->only_here_count, 1);
    assert_int_equal(r->mismatches[0].kind, MEMBER_MISMATCH_ONLY_HERE);
    assert_int_equal(r->mismatches[0].here_count, 1);
    teardown(c);
}

static void test_timeout_and_busy(void **state)
{
    (void) state;
    mc_cluster *c = setup(3, 33);
    c->deaf[1] = true;
    uint64_t request_id = 0;
    assert_int_equal(member_reconcile_start(c->nodes[0], mc_now(c), &c->ids[1], MESH_NS_PER_S,
                                            &c->rngs[0], &request_id),
                     MESH_OK);
    // One at a time.
    uint64_t other = 0;
    assert_int_equal(member_reconcile_start(c->nodes[0], mc_now(c), &c->ids[2], MESH_NS_PER_S,
                                            &c->rngs[0], &other),
                     MESH_EFULL);
    assert_true(member_deadline_ns(c->nodes[0]) <= mc_now(c).monotonic_ns + MESH_NS_PER_S);
    mc_run(c, c->now_ns + 2 * MESH_NS_PER_S);
    assert_int_equal(seen.count, 1);
    assert_int_equal(seen.results[0].status, MEMBER_RECONCILE_TIMEOUT);
    assert_int_equal(seen.results[0].request_id, request_id);
    // Not a member, self, timeout 0.
    mesh_node_id stranger;
    memset(stranger.bytes, 0x42, sizeof(stranger.bytes));
    assert_int_equal(member_reconcile_start(c->nodes[0], mc_now(c), &stranger, MESH_NS_PER_S,
                                            &c->rngs[0], &other),
                     MESH_ENOTFOUND);
    assert_int_equal(member_reconcile_start(c->nodes[0], mc_now(c), &c->ids[0], MESH_NS_PER_S,
                                            &c->rngs[0], &other),
                     MESH_ENOTFOUND);
    assert_int_equal(
        member_reconcile_start(c->nodes[0], mc_now(c), &c->ids[2], 0, &c->rngs[0], &other),
        MESH_EINVAL);
    // Free again after the timeout.
    c->deaf[1] = false;
    assert_agree(reconcile(c, 0, 1), 0);
    teardown(c);
}

// A request frame from `signer`, addressed to `to`.
static uint32_t request_frame(const mcrypto_keypair *signer,
                              const mesh_node_id *to,
                              uint64_t request_id,
                              uint32_t reply,
                              uint8_t *frame,
                              uint32_t frame_max)
{
    static wire_summary s;
    memset(&s, 0, sizeof(s));
    s.request_id = request_id;
    s.to = *to;
    s.reply = reply;
    s.page_count = 1;
    uint8_t body[256];
    uint32_t body_size = 0;
    assert_int_equal(wire_summary_encode(&s, body, sizeof(body), &body_size), MESH_OK);
    uint32_t size = 0;
    assert_int_equal(mcrypto_envelope_seal(signer, WIRE_TYPE_LEDGER_SUMMARY, body, body_size, frame,
                                           frame_max, &size),
                     MESH_OK);
    return size;
}

static void deliver(mc_cluster *c, uint32_t to, const uint8_t *frame, uint32_t size)
{
    assert_int_equal(member_on_frame(c->nodes[to], mc_now(c), frame, size, &c->rngs[to]), MESH_OK);
    mc_flush(c, to);
}

static void test_hostile_frames_and_rate_limit(void **state)
{
    (void) state;
    mc_cluster *c = setup(3, 34);
    lease_and_settle(c, 2, 0, 2);
    member_stats before;
    member_stats after;
    member_stats_get(c->nodes[0], &before);
    uint8_t frame[1024];
    // A key with no certificate.
    mcrypto_keypair stranger;
    uint8_t seed[MCRYPTO_SEED_SIZE];
    memset(seed, 0x99, sizeof(seed));
    assert_int_equal(mcrypto_keypair_from_seed(seed, &stranger), MESH_OK);
    uint32_t size = request_frame(&stranger, &c->ids[0], 7, 0, frame, sizeof(frame));
    deliver(c, 0, frame, size);
    // Addressed to node 1, delivered to node 0.
    size = request_frame(&c->keys[2], &c->ids[1], 8, 0, frame, sizeof(frame));
    deliver(c, 0, frame, size);
    // A bad signature.
    size = request_frame(&c->keys[2], &c->ids[0], 9, 0, frame, sizeof(frame));
    frame[size - 5] ^= 0x20;
    deliver(c, 0, frame, size);
    // A signed envelope of type 21 whose body is not a summary.
    static const uint8_t garbage[] = {0x81, 0x00, 0x01};
    assert_int_equal(mcrypto_envelope_seal(&c->keys[2], WIRE_TYPE_LEDGER_SUMMARY, garbage,
                                           sizeof(garbage), frame, sizeof(frame), &size),
                     MESH_OK);
    deliver(c, 0, frame, size);
    member_stats_get(c->nodes[0], &after);
    assert_int_equal(after.summaries_refused - before.summaries_refused, 4);
    assert_int_equal(after.summaries_answered, before.summaries_answered);
    uint32_t queued = c->msg_count;
    // An answer to nothing in flight.
    size = request_frame(&c->keys[2], &c->ids[0], 11, 1, frame, sizeof(frame));
    deliver(c, 0, frame, size);
    member_stats_get(c->nodes[0], &after);
    assert_int_equal(after.summaries_unexpected - before.summaries_unexpected, 1);
    assert_int_equal(c->msg_count, queued); // nothing was sent for any of these
    // Six valid requests at once from node 2: four answered, two dropped.
    for (uint64_t i = 0; i < 6; i++) {
        size = request_frame(&c->keys[2], &c->ids[0], 100 + i, 0, frame, sizeof(frame));
        deliver(c, 0, frame, size);
    }
    member_stats_get(c->nodes[0], &after);
    assert_int_equal(after.summaries_answered - before.summaries_answered,
                     MEMBER_RECONCILE_ANSWERS_MAX);
    assert_int_equal(after.summaries_limited - before.summaries_limited,
                     6 - MEMBER_RECONCILE_ANSWERS_MAX);
    // Node 1 has its own window: still answered.
    size = request_frame(&c->keys[1], &c->ids[0], 200, 0, frame, sizeof(frame));
    deliver(c, 0, frame, size);
    member_stats_get(c->nodes[0], &after);
    assert_int_equal(after.summaries_answered - before.summaries_answered,
                     MEMBER_RECONCILE_ANSWERS_MAX + 1);
    // The answers node 2 got for requests it never made change nothing
    // there; and once the window has passed, node 2 is answered again.
    mc_run(c, c->now_ns + MEMBER_RECONCILE_WINDOW_NS + MESH_NS_PER_S);
    member_stats stats2;
    member_stats_get(c->nodes[2], &stats2);
    assert_int_equal(stats2.summaries_unexpected, MEMBER_RECONCILE_ANSWERS_MAX);
    assert_agree(reconcile(c, 2, 0), 1);
    teardown(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agree_and_parties_only),
        cmocka_unit_test(test_mismatch_named_from_both_sides),
        cmocka_unit_test(test_timeout_and_busy),
        cmocka_unit_test(test_hostile_frames_and_rate_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
