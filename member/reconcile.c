/*
 * member/reconcile.c: reconciling two members' ledgers over the network
 * (member.h has the contract, docs/leases.md the exchange, wire.h type 21
 * the message).
 *
 * The exchange. The asker sends a signed summary request naming the
 * peer; the peer checks the signer like every frame (a member with a
 * valid, unrevoked certificate; its signature), rate-limits it, and
 * answers with its summary of the leases it shares with the signer, and
 * only those: leases whose other party is the signer's key, so that a
 * summary never shows a lease to anyone who is not a party of it. The
 * answer is pages of (lease id, record count, digest), the digest being a
 * chain of BLAKE2b-128 over each record's bytes and both signatures (the
 * two ledgers hold the very same bytes for an agreed record, so equal
 * digests mean equal records). The asker collects the pages, computes
 * its own summary of the same peer, and merges the two lists.
 *
 * Why digests and not records: a summary of a thousand leases is 42 KB
 * instead of a megabyte of records, and the asker learns exactly which
 * leases differ; the offline tool (fedmesh ledger reconcile --other)
 * still compares record by record when an operator has both ledgers.
 *
 * Why the asker computes its side when the answer is complete, not when
 * it asks: the peer computed its side after the request arrived, so the
 * two are then closest in time, and a lease that moved on meanwhile
 * differs by less.
 *
 * A summary, both sides: ledger_lease_list over every state, keeping the
 * leases whose peer is the other member (up to
 * MEMBER_RECONCILE_LEASES_MAX, sorted by id), then one journal walk from
 * the oldest one's first record to the newest one's last, feeding each
 * of their records into its lease's digest (a binary search per entry).
 * Records staged but not yet committed are not in the store, hence not
 * in a summary: a summary is of what is durable.
 *
 * Memory: the tables (the peer's entries, the own summary, an encode and
 * decode buffer, a frame) are one allocation made on first use, kept
 * until member_destroy (about 400 KiB). The rate limit keeps
 * RATE_PEERS_MAX windows; when they are all in use, the oldest is
 * reused.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "member/member_int.h"
#include "wire/wire.h"

#define RATE_PEERS_MAX    64u
#define RATE_GLOBAL_MAX   (4u * MEMBER_RECONCILE_ANSWERS_MAX)
#define BODY_SIZE_MAX     16384u
#define PAGE_ENTRIES      WIRE_SUMMARY_ENTRIES_MAX
#define PAGES_MAX         (MEMBER_RECONCILE_LEASES_MAX / PAGE_ENTRIES)
#define DIGEST_INPUT_SIZE (WIRE_SUMMARY_DIGEST_SIZE + 4u + 2u + 2u * LEDGER_SIGNATURE_SIZE)

_Static_assert(MEMBER_RECONCILE_LEASES_MAX % WIRE_SUMMARY_ENTRIES_MAX == 0, "whole pages");
_Static_assert(PAGES_MAX <= WIRE_SUMMARY_PAGES_MAX && PAGES_MAX <= 64u, "a page bitmap of 64");

typedef struct summary_lease {
    uint8_t lease_id[LEDGER_LEASE_ID_SIZE];
    uint64_t first_seq;
    uint64_t last_seq;
    uint32_t record_count;
    uint8_t digest[WIRE_SUMMARY_DIGEST_SIZE];
} summary_lease;

typedef struct rate_window {
    mesh_node_id peer;
    uint64_t start_ns;
    uint32_t count;
} rate_window;

struct member_reconcile {
    /* The reconcile in flight (asker side). */
    bool pending;
    uint64_t request_id;
    mesh_node_id peer;
    uint8_t peer_key[LEDGER_KEY_SIZE];
    uint64_t deadline_ns;
    uint32_t page_count; /* 0 until the first page */
    uint64_t pages_seen; /* bit p: page p is in */
    uint32_t peer_lease_count;
    bool incomplete;
    uint32_t page_entries[PAGES_MAX];                      /* entries each page brought */
    wire_summary_entry there[MEMBER_RECONCILE_LEASES_MAX]; /* page p at p * PAGE_ENTRIES */
    uint32_t there_count;

    /* A summary of this node's side (answering, or comparing). */
    summary_lease here[MEMBER_RECONCILE_LEASES_MAX];
    uint32_t here_count;
    uint32_t here_total; /* shared leases found, also past the table */

    /* Scratch for one frame at a time. */
    wire_summary summary;
    uint8_t body[BODY_SIZE_MAX];
    uint8_t frame[BODY_SIZE_MAX + WIRE_ENVELOPE_OVERHEAD_MAX];
    char endpoint[WIRE_ENDPOINT_SIZE_MAX + 1];
    member_reconcile_result result;

    /* The rate limit of answers. */
    rate_window windows[RATE_PEERS_MAX];
    uint64_t global_start_ns;
    uint32_t global_count;
};

static mesh_err tables(member_node *m, member_reconcile **rc_out)
{
    if (m->reconcile == NULL) {
        m->reconcile = calloc(1, sizeof(*m->reconcile));
        if (m->reconcile == NULL) {
            return MESH_ENOMEM;
        }
    }
    *rc_out = m->reconcile;
    return MESH_OK;
}

void member_reconcile_destroy(member_node *m)
{
    free(m->reconcile);
    m->reconcile = NULL;
}

uint64_t member_reconcile_deadline_ns(const member_node *m)
{
    if (m->reconcile == NULL || !m->reconcile->pending) {
        return UINT64_MAX;
    }
    return m->reconcile->deadline_ns;
}

/* ---------------------------------------------------------------- */
/* A summary of this node's side.                                    */
/* ---------------------------------------------------------------- */

typedef struct collect_context {
    member_reconcile *rc;
    const uint8_t *peer_key;
} collect_context;

static bool collect_visit(void *arg, const ledger_lease *lease)
{
    collect_context *context = arg;
    member_reconcile *rc = context->rc;
    if (memcmp(lease->peer_key, context->peer_key, LEDGER_KEY_SIZE) != 0) {
        return true;
    }
    rc->here_total++;
    if (rc->here_count == MEMBER_RECONCILE_LEASES_MAX) {
        return true; // counted, not listed: the comparison says incomplete
    }
    summary_lease *out = &rc->here[rc->here_count++];
    memset(out, 0, sizeof(*out));
    memcpy(out->lease_id, lease->lease_id, LEDGER_LEASE_ID_SIZE);
    out->first_seq = lease->first_seq;
    out->last_seq = lease->last_seq;
    return true;
}

static int summary_lease_compare(const void *a, const void *b)
{
    return memcmp(((const summary_lease *) a)->lease_id, ((const summary_lease *) b)->lease_id,
                  LEDGER_LEASE_ID_SIZE);
}

static summary_lease *find_here(member_reconcile *rc, const uint8_t *lease_id)
{
    uint32_t low = 0;
    uint32_t high = rc->here_count;
    uint32_t steps = 0;
    while (low < high) {
        MESH_ASSERT(steps++ < 64);
        uint32_t middle = low + (high - low) / 2;
        int order = memcmp(lease_id, rc->here[middle].lease_id, LEDGER_LEASE_ID_SIZE);
        if (order == 0) {
            return &rc->here[middle];
        }
        if (order < 0) {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    return NULL;
}

typedef struct digest_walk {
    member_reconcile *rc;
    uint64_t last_seq;
} digest_walk;

// d = BLAKE2b-128(d || u32 size || record || flags || signatures), the
// chain wire.h describes; an absent signature is flag 0 and zeros.
static bool digest_visit(void *arg, const ledger_entry *entry)
{
    digest_walk *walk = arg;
    if (entry->seq > walk->last_seq) {
        return false;
    }
    summary_lease *lease = find_here(walk->rc, entry->record.lease_id);
    if (lease == NULL || entry->seq < lease->first_seq || entry->seq > lease->last_seq) {
        return true;
    }
    uint8_t head[DIGEST_INPUT_SIZE];
    memset(head, 0, sizeof(head));
    memcpy(head, lease->digest, WIRE_SUMMARY_DIGEST_SIZE);
    uint8_t *at = head + WIRE_SUMMARY_DIGEST_SIZE;
    at[0] = (uint8_t) (entry->record_size >> 24);
    at[1] = (uint8_t) (entry->record_size >> 16);
    at[2] = (uint8_t) (entry->record_size >> 8);
    at[3] = (uint8_t) entry->record_size;
    uint8_t *flags = at + 4;
    uint8_t *signatures = flags + 2;
    flags[0] = entry->has_lender_signature ? 1 : 0;
    flags[1] = entry->has_borrower_signature ? 1 : 0;
    if (entry->has_lender_signature) {
        memcpy(signatures, entry->lender_signature, LEDGER_SIGNATURE_SIZE);
    }
    if (entry->has_borrower_signature) {
        memcpy(signatures + LEDGER_SIGNATURE_SIZE, entry->borrower_signature,
               LEDGER_SIGNATURE_SIZE);
    }
    crypto_generichash_state state;
    MESH_ASSERT(crypto_generichash_init(&state, NULL, 0, WIRE_SUMMARY_DIGEST_SIZE) == 0);
    (void) crypto_generichash_update(&state, head, WIRE_SUMMARY_DIGEST_SIZE + 4u);
    (void) crypto_generichash_update(&state, entry->record_bytes, entry->record_size);
    (void) crypto_generichash_update(&state, flags, 2u + 2u * LEDGER_SIGNATURE_SIZE);
    MESH_ASSERT(crypto_generichash_final(&state, lease->digest, WIRE_SUMMARY_DIGEST_SIZE) == 0);
    lease->record_count++;
    return true;
}

// This node's summary of the leases it shares with peer_key, in rc->here.
static mesh_err summarize(member_node *m, member_reconcile *rc, const uint8_t *peer_key)
{
    rc->here_count = 0;
    rc->here_total = 0;
    collect_context context = {.rc = rc, .peer_key = peer_key};
    for (uint32_t state = 1; state <= LEDGER_LEASE_STATE_MAX; state++) {
        mesh_err err = ledger_lease_list(m->ledger_handle, state, collect_visit, &context);
        if (err != MESH_OK) {
            return err;
        }
    }
    if (rc->here_count == 0) {
        return MESH_OK;
    }
    qsort(rc->here, rc->here_count, sizeof(rc->here[0]), summary_lease_compare);
    uint64_t first = UINT64_MAX;
    uint64_t last = 0;
    for (uint32_t i = 0; i < rc->here_count; i++) {
        first = rc->here[i].first_seq < first ? rc->here[i].first_seq : first;
        last = rc->here[i].last_seq > last ? rc->here[i].last_seq : last;
    }
    digest_walk walk = {.rc = rc, .last_seq = last};
    mesh_err err = ledger_journal_walk(m->store, first, digest_visit, &walk);
    if (err != MESH_OK) {
        return err;
    }
    // Leases whose records are all still staged: not durable, not listed.
    uint32_t kept = 0;
    for (uint32_t i = 0; i < rc->here_count; i++) {
        if (rc->here[i].record_count > 0) {
            rc->here[kept++] = rc->here[i];
        }
    }
    rc->here_total -= rc->here_count - kept;
    rc->here_count = kept;
    return MESH_OK;
}

/* ---------------------------------------------------------------- */
/* Frames.                                                           */
/* ---------------------------------------------------------------- */

// A member that may ask or answer: known, not self, not revoked, with a
// certificate valid now and an advert (its endpoint); its key and
// endpoint come back.
static bool peer_usable(member_node *m,
                        mesh_now now,
                        const mesh_node_id *id,
                        uint8_t key_out[LEDGER_KEY_SIZE],
                        char *endpoint_out)
{
    gossip_member_info info;
    if (mesh_node_id_equal(id, &m->self_id) ||
        gossip_member_find(m->gossip_machine, id, &info) != MESH_OK || info.self ||
        info.state == GOSSIP_REVOKED || info.cert_valid_until_ns <= now.realtime_ns) {
        return false;
    }
    wire_advert advert;
    if (gossip_member_advert(m->gossip_machine, id, &advert) != MESH_OK) {
        return false;
    }
    memcpy(key_out, info.public_key, LEDGER_KEY_SIZE);
    memcpy(endpoint_out, advert.endpoint, WIRE_ENDPOINT_SIZE_MAX + 1);
    return true;
}

// Signs rc->summary and sends it to peer at rc->endpoint, through the
// executor (its ordering rules apply like to any send).
static void send_summary(member_node *m, member_reconcile *rc, const mesh_node_id *peer)
{
    uint32_t body_size = 0;
    uint32_t frame_size = 0;
    mesh_err err = wire_summary_encode(&rc->summary, rc->body, sizeof(rc->body), &body_size);
    MESH_ASSERT(err == MESH_OK); // built by this file within the rules
    err = mcrypto_envelope_seal(&m->keypair, WIRE_TYPE_LEDGER_SUMMARY, rc->body, body_size,
                                rc->frame, sizeof(rc->frame), &frame_size);
    MESH_ASSERT(err == MESH_OK);
    MESH_ASSERT(m->outbox.count == 0);
    mesh_output output = {.kind = MESH_OUTPUT_SEND,
                          .peer = *peer,
                          .endpoint = rc->endpoint,
                          .payload = rc->frame,
                          .payload_size = frame_size};
    MESH_ASSERT(mesh_outbox_push(&m->outbox, &output) == MESH_OK);
    member_execute(m, MEMBER_SOURCE_RECONCILE, MESH_OK);
}

// True when the rate limit lets this peer have one more answer now.
static bool rate_allows(member_reconcile *rc, mesh_now now, const mesh_node_id *peer)
{
    uint64_t t = now.monotonic_ns;
    if (t - rc->global_start_ns >= MEMBER_RECONCILE_WINDOW_NS || rc->global_start_ns == 0) {
        rc->global_start_ns = t;
        rc->global_count = 0;
    }
    if (rc->global_count >= RATE_GLOBAL_MAX) {
        return false;
    }
    rate_window *window = NULL;
    rate_window *oldest = &rc->windows[0];
    for (uint32_t i = 0; i < RATE_PEERS_MAX && window == NULL; i++) {
        if (rc->windows[i].count > 0 && mesh_node_id_equal(&rc->windows[i].peer, peer)) {
            window = &rc->windows[i];
        } else if (rc->windows[i].start_ns < oldest->start_ns) {
            oldest = &rc->windows[i];
        }
    }
    if (window == NULL || t - window->start_ns >= MEMBER_RECONCILE_WINDOW_NS) {
        window = window != NULL ? window : oldest;
        window->peer = *peer;
        window->start_ns = t;
        window->count = 0;
    }
    if (window->count >= MEMBER_RECONCILE_ANSWERS_MAX) {
        return false;
    }
    window->count++;
    rc->global_count++;
    return true;
}

static void answer(member_node *m,
                   member_reconcile *rc,
                   mesh_now now,
                   const mesh_node_id *asker,
                   uint64_t request_id)
{
    uint8_t key[LEDGER_KEY_SIZE];
    if (!peer_usable(m, now, asker, key, rc->endpoint)) {
        m->stats.summaries_refused++;
        return;
    }
    if (!rate_allows(rc, now, asker)) {
        m->stats.summaries_limited++;
        return;
    }
    if (summarize(m, rc, key) != MESH_OK) {
        m->stats.summaries_refused++; // the ledger cannot be read: no answer beats a wrong one
        return;
    }
    uint32_t page_count = (rc->here_count + PAGE_ENTRIES - 1) / PAGE_ENTRIES;
    page_count = page_count == 0 ? 1 : page_count;
    MESH_ASSERT(page_count <= PAGES_MAX);
    for (uint32_t page = 0; page < page_count; page++) {
        wire_summary *s = &rc->summary;
        memset(s, 0, offsetof(wire_summary, entries));
        s->request_id = request_id;
        s->to = *asker;
        s->reply = 1;
        s->page = page;
        s->page_count = page_count;
        s->lease_count = rc->here_total;
        uint32_t from = page * PAGE_ENTRIES;
        uint32_t count =
            rc->here_count - from < PAGE_ENTRIES ? rc->here_count - from : PAGE_ENTRIES;
        s->entry_count = count;
        for (uint32_t i = 0; i < count; i++) {
            const summary_lease *lease = &rc->here[from + i];
            wire_summary_entry *entry = &s->entries[i];
            memcpy(entry->lease_id, lease->lease_id, LEDGER_LEASE_ID_SIZE);
            entry->record_count = lease->record_count;
            memcpy(entry->digest, lease->digest, WIRE_SUMMARY_DIGEST_SIZE);
        }
        send_summary(m, rc, asker);
    }
    m->stats.summaries_answered++;
}

/* ---------------------------------------------------------------- */
/* The asker's side.                                                 */
/* ---------------------------------------------------------------- */

static void note_mismatch(member_reconcile_result *r,
                          const uint8_t *lease_id,
                          uint32_t kind,
                          uint32_t here_count,
                          uint32_t there_count)
{
    if (r->mismatch_count == MEMBER_RECONCILE_MISMATCHES_MAX) {
        return;
    }
    member_reconcile_mismatch *out = &r->mismatches[r->mismatch_count++];
    memcpy(out->lease_id, lease_id, LEDGER_LEASE_ID_SIZE);
    out->kind = kind;
    out->here_count = here_count;
    out->there_count = there_count;
}

static int entry_compare(const void *a, const void *b)
{
    return memcmp(((const wire_summary_entry *) a)->lease_id,
                  ((const wire_summary_entry *) b)->lease_id, LEDGER_LEASE_ID_SIZE);
}

// Both lists sorted by lease id: one merge.
static void compare(member_reconcile *rc, member_reconcile_result *r)
{
    uint32_t i = 0;
    uint32_t j = 0;
    uint32_t steps = 0;
    while (i < rc->here_count || j < rc->there_count) {
        MESH_ASSERT(steps++ <= 2u * MEMBER_RECONCILE_LEASES_MAX);
        const summary_lease *here = i < rc->here_count ? &rc->here[i] : NULL;
        const wire_summary_entry *there = j < rc->there_count ? &rc->there[j] : NULL;
        int order = here == NULL    ? 1
                    : there == NULL ? -1
                                    : memcmp(here->lease_id, there->lease_id, LEDGER_LEASE_ID_SIZE);
        if (order < 0) {
            r->only_here_count++;
            note_mismatch(r, here->lease_id, MEMBER_MISMATCH_ONLY_HERE, here->record_count, 0);
            i++;
        } else if (order > 0) {
            r->only_there_count++;
            note_mismatch(r, there->lease_id, MEMBER_MISMATCH_ONLY_THERE, 0, there->record_count);
            j++;
        } else {
            if (here->record_count != there->record_count) {
                r->differ_count++;
                note_mismatch(r, here->lease_id, MEMBER_MISMATCH_COUNT, here->record_count,
                              there->record_count);
            } else if (sodium_memcmp(here->digest, there->digest, WIRE_SUMMARY_DIGEST_SIZE) != 0) {
                r->differ_count++;
                note_mismatch(r, here->lease_id, MEMBER_MISMATCH_RECORDS, here->record_count,
                              there->record_count);
            } else {
                r->shared_count++;
            }
            i++;
            j++;
        }
    }
}

static void finish(member_node *m, member_reconcile *rc, mesh_now now, uint32_t status)
{
    member_reconcile_result *r = &rc->result;
    memset(r, 0, sizeof(*r));
    r->request_id = rc->request_id;
    r->peer = rc->peer;
    r->status = status;
    if (status == MEMBER_RECONCILE_DONE) {
        if (summarize(m, rc, rc->peer_key) != MESH_OK) {
            r->status = MEMBER_RECONCILE_FAILED;
        } else {
            // Pages carry ascending ids each; across pages the sender's
            // order is trusted no more than the rest: sort.
            qsort(rc->there, rc->there_count, sizeof(rc->there[0]), entry_compare);
            compare(rc, r);
            r->incomplete = rc->incomplete || rc->here_total > rc->here_count ||
                            rc->peer_lease_count != rc->there_count;
        }
    }
    rc->pending = false;
    if (r->status == MEMBER_RECONCILE_TIMEOUT) {
        m->stats.reconciles_timed_out++;
    } else {
        m->stats.reconciles_done++;
    }
    if (m->io.event != NULL) {
        m->io.event(m->io.ctx, now, MEMBER_SOURCE_RECONCILE, r);
    }
}

static void on_page(member_node *m, member_reconcile *rc, mesh_now now, const wire_summary *s)
{
    if (!rc->pending || s->request_id != rc->request_id) {
        m->stats.summaries_unexpected++;
        return;
    }
    if (rc->page_count == 0) {
        rc->page_count = s->page_count;
        rc->peer_lease_count = s->lease_count;
    }
    if (s->page_count != rc->page_count || s->lease_count != rc->peer_lease_count) {
        m->stats.summaries_refused++; // pages of two different answers
        return;
    }
    uint64_t bit = 1ull << (s->page < 64 ? s->page : 63);
    if ((rc->pages_seen & bit) != 0) {
        m->stats.summaries_unexpected++; // a duplicate
        return;
    }
    rc->pages_seen |= bit;
    // Page p lands at p * 256, whatever order pages come in; a page past
    // what this node compares makes the answer incomplete, not wrong.
    if (s->page >= PAGES_MAX) {
        rc->incomplete = true;
    } else {
        uint32_t from = s->page * PAGE_ENTRIES;
        memcpy(&rc->there[from], s->entries, s->entry_count * sizeof(s->entries[0]));
        rc->page_entries[s->page] = s->entry_count;
    }
    uint64_t all = s->page_count >= 64 ? UINT64_MAX : (1ull << s->page_count) - 1;
    if (rc->pages_seen != all) {
        return;
    }
    // Close the gaps short pages left (a sender fills every page but the
    // last; this one need not trust that).
    rc->there_count = 0;
    for (uint32_t p = 0; p < rc->page_count && p < PAGES_MAX; p++) {
        uint32_t from = p * PAGE_ENTRIES;
        memmove(&rc->there[rc->there_count], &rc->there[from],
                rc->page_entries[p] * sizeof(rc->there[0]));
        rc->there_count += rc->page_entries[p];
    }
    finish(m, rc, now, MEMBER_RECONCILE_DONE);
}

void member_reconcile_on_frame(member_node *m,
                               mesh_now now,
                               const uint8_t *frame,
                               uint32_t frame_size)
{
    MESH_ASSERT(m != NULL && frame != NULL);
    m->stats.summaries_in++;
    member_reconcile *rc = NULL;
    wire_envelope envelope;
    if (m->ledger_handle == NULL) {
        m->stats.frames_unknown++; // as a lease frame without a ledger
        return;
    }
    if (wire_envelope_decode(frame, frame_size, &envelope, NULL) != MESH_OK ||
        envelope.type != WIRE_TYPE_LEDGER_SUMMARY || tables(m, &rc) != MESH_OK) {
        m->stats.summaries_refused++;
        return;
    }
    // Cheap checks first: the body, then who signed, then the signature.
    gossip_member_info info;
    if (wire_summary_decode(envelope.body, envelope.body_size, &rc->summary, NULL) != MESH_OK ||
        !mesh_node_id_equal(&rc->summary.to, &m->self_id) ||
        mesh_node_id_equal(&envelope.signer, &m->self_id) ||
        gossip_member_find(m->gossip_machine, &envelope.signer, &info) != MESH_OK ||
        info.state == GOSSIP_REVOKED || info.cert_valid_until_ns <= now.realtime_ns ||
        mcrypto_verify(info.public_key, WIRE_TYPE_LEDGER_SUMMARY, envelope.body, envelope.body_size,
                       envelope.signature) != MESH_OK) {
        m->stats.summaries_refused++;
        return;
    }
    m->now = now;
    if (rc->summary.reply == 0) {
        answer(m, rc, now, &envelope.signer, rc->summary.request_id);
        return;
    }
    if (!mesh_node_id_equal(&envelope.signer, &rc->peer)) {
        m->stats.summaries_unexpected++;
        return;
    }
    on_page(m, rc, now, &rc->summary);
}

void member_reconcile_on_tick(member_node *m, mesh_now now)
{
    member_reconcile *rc = m->reconcile;
    if (rc == NULL || !rc->pending || now.monotonic_ns < rc->deadline_ns) {
        return;
    }
    m->now = now;
    finish(m, rc, now, MEMBER_RECONCILE_TIMEOUT);
}

mesh_err member_reconcile_start(member_node *m,
                                mesh_now now,
                                const mesh_node_id *peer,
                                uint64_t timeout_ns,
                                mesh_rng *rng,
                                uint64_t *request_id_out)
{
    MESH_ASSERT(m != NULL && peer != NULL);
    MESH_ASSERT(rng != NULL && request_id_out != NULL);
    if (timeout_ns == 0) {
        return MESH_EINVAL;
    }
    if (m->ledger_handle == NULL) {
        return MESH_ENOTFOUND;
    }
    member_reconcile *rc = NULL;
    mesh_err err = tables(m, &rc);
    if (err != MESH_OK) {
        return err;
    }
    if (rc->pending) {
        return MESH_EFULL;
    }
    if (!peer_usable(m, now, peer, rc->peer_key, rc->endpoint)) {
        return MESH_ENOTFOUND;
    }
    m->now = now;
    uint64_t request_id = 0;
    while (request_id == 0) {
        request_id = mesh_rng_next(rng);
    }
    rc->pending = true;
    rc->request_id = request_id;
    rc->peer = *peer;
    rc->deadline_ns = now.monotonic_ns + timeout_ns;
    rc->page_count = 0;
    rc->pages_seen = 0;
    rc->peer_lease_count = 0;
    rc->incomplete = false;
    rc->there_count = 0;
    memset(rc->page_entries, 0, sizeof(rc->page_entries));
    wire_summary *s = &rc->summary;
    memset(s, 0, offsetof(wire_summary, entries));
    s->request_id = request_id;
    s->to = *peer;
    s->reply = 0;
    s->page = 0;
    s->page_count = 1;
    send_summary(m, rc, peer);
    *request_id_out = request_id;
    return MESH_OK;
}
