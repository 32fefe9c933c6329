/*
 * node/metrics.c: Prometheus text rendering (see metrics_int.h).
 *
 * A small append-only text buffer that doubles up to NODE_METRICS_SIZE_MAX;
 * the first failure sticks, and render reports it. Each family is written
 * with its HELP and TYPE lines, then its samples, as the format requires.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/hooks_int.h"
#include "node/metrics_int.h"

const double node_metrics_bounds_s[NODE_METRICS_BUCKET_COUNT] = {
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001,
    0.0025,  0.005,    0.01,    0.025,  0.05,    0.1,    1.0};

void node_metrics_observe(node_metrics_histogram *histogram, uint64_t duration_ns)
{
    MESH_ASSERT(histogram != NULL);
    double seconds = (double) duration_ns / 1e9;
    uint32_t i = 0;
    while (i < NODE_METRICS_BUCKET_COUNT && seconds > node_metrics_bounds_s[i]) {
        i++;
    }
    if (i == NODE_METRICS_BUCKET_COUNT) {
        histogram->over++;
    } else {
        histogram->buckets[i]++;
    }
    histogram->count++;
    histogram->sum_ns += duration_ns;
}

typedef struct text {
    char *data;
    size_t size;
    size_t capacity;
    mesh_err err;
} text;

__attribute__((format(printf, 2, 3))) static void put(text *t, const char *format, ...)
{
    if (t->err != MESH_OK) {
        return;
    }
    for (;;) {
        va_list args;
        va_start(args, format);
        int used = vsnprintf(t->data + t->size, t->capacity - t->size, format, args);
        va_end(args);
        if (used < 0) {
            t->err = MESH_EINTERNAL;
            return;
        }
        if ((size_t) used < t->capacity - t->size) {
            t->size += (size_t) used;
            return;
        }
        if (t->capacity >= NODE_METRICS_SIZE_MAX) {
            t->err = MESH_EFULL;
            return;
        }
        size_t grown =
            t->capacity * 2 > NODE_METRICS_SIZE_MAX ? NODE_METRICS_SIZE_MAX : t->capacity * 2;
        char *data = realloc(t->data, grown);
        if (data == NULL) {
            t->err = MESH_ENOMEM;
            return;
        }
        t->data = data;
        t->capacity = grown;
    }
}

static void family(text *t, const char *name, const char *type, const char *help)
{
    put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family with one unlabelled sample. */
static void single(text *t, const char *name, const char *type, const char *help, double value)
{
    family(t, name, type, help);
    put(t, "%s %.17g\n", name, value);
}

static void counter(text *t, const char *name, const char *help, uint64_t value)
{
    family(t, name, "counter", help);
    put(t, "%s %llu\n", name, (unsigned long long) value);
}

static void
histogram_samples(text *t, const char *name, const char *label, const node_metrics_histogram *h)
{
    uint64_t cumulative = 0;
    for (uint32_t i = 0; i < NODE_METRICS_BUCKET_COUNT; i++) {
        cumulative += h->buckets[i];
        put(t, "%s_bucket{%s,le=\"%g\"} %llu\n", name, label, node_metrics_bounds_s[i],
            (unsigned long long) cumulative);
    }
    put(t, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, label, (unsigned long long) h->count);
    put(t, "%s_sum{%s} %.9f\n", name, label, (double) h->sum_ns / 1e9);
    put(t, "%s_count{%s} %llu\n", name, label, (unsigned long long) h->count);
}

static void render_gossip(text *t, const node_metrics_input *in)
{
    const gossip_stats *g = in->gossip;
    family(t, "fedmesh_members", "gauge", "Members in this node's view, by state (self included).");
    for (uint32_t s = GOSSIP_ALIVE; s <= GOSSIP_REVOKED; s++) {
        put(t, "fedmesh_members{state=\"%s\"} %u\n", gossip_state_name((gossip_state) s),
            in->members_by_state[s]);
    }
    single(t, "fedmesh_advert_sequence", "gauge", "Sequence number of this node's own advert.",
           (double) in->advert_sequence);
    counter(t, "fedmesh_gossip_frames_received_total", "Gossip frames processed.", g->frames_in);
    counter(t, "fedmesh_gossip_frames_sent_total", "Gossip frames sent.", g->frames_out);
    counter(t, "fedmesh_gossip_received_bytes_total", "Gossip bytes received.", g->bytes_in);
    counter(t, "fedmesh_gossip_sent_bytes_total", "Gossip bytes sent.", g->bytes_out);
    counter(t, "fedmesh_gossip_adverts_received_total", "Adverts accepted as new.", g->adverts_in);
    counter(t, "fedmesh_gossip_adverts_sent_total", "Adverts (own or forwarded) sent in pushes.",
            g->adverts_out);
    family(t, "fedmesh_gossip_rejected_total", "counter", "Gossip inputs refused, by reason.");
    for (uint32_t i = 0; i < GOSSIP_REJECT_COUNT; i++) {
        put(t, "fedmesh_gossip_rejected_total{reason=\"%s\"} %llu\n",
            gossip_reject_name((gossip_reject) i), (unsigned long long) g->rejected[i]);
    }
    counter(t, "fedmesh_gossip_probes_total", "Probes sent.", g->probes_sent);
    counter(t, "fedmesh_gossip_probes_failed_total", "Probes that ended without an ack.",
            g->probes_failed);
    counter(t, "fedmesh_gossip_suspicions_raised_total", "Suspicions this node raised.",
            g->suspicions_raised);
    counter(t, "fedmesh_gossip_refutations_total", "Newer own adverts sent to refute a suspicion.",
            g->refutations);
    counter(t, "fedmesh_gossip_anti_entropy_rounds_total", "Push-pull anti-entropy exchanges.",
            g->anti_entropy_rounds);
    counter(t, "fedmesh_gossip_duplicates_total", "Records received that were already held.",
            g->duplicates);
    counter(t, "fedmesh_gossip_output_dropped_total",
            "Frames dropped at a per-call bound (anti-entropy repairs).", g->frames_dropped);
    single(t, "fedmesh_gossip_local_health", "gauge",
           "Lifeguard local health score (0 is healthy; higher stretches timeouts).",
           (double) g->local_health);
    family(t, "fedmesh_gossip_round_duration_seconds", "histogram",
           "Time the loop spends on one gossip machine call and its outbox.");
    histogram_samples(t, "fedmesh_gossip_round_duration_seconds", "call=\"tick\"", in->tick_rounds);
    histogram_samples(t, "fedmesh_gossip_round_duration_seconds", "call=\"message\"",
                      in->message_rounds);
}

/* Revocations: what is held, what this node refuses to send because of
 * them, and what operators published here. */
static void render_revocations(text *t, const node_metrics_input *in)
{
    const gossip_stats *g = in->gossip;
    single(t, "fedmesh_revocations_held", "gauge", "Root-signed revocations this node holds.",
           (double) in->revocations_held);
    single(t, "fedmesh_self_revoked", "gauge",
           "1 when this node holds a revocation of its own key (it has gone quiet).",
           in->self_revoked ? 1.0 : 0.0);
    counter(t, "fedmesh_revocation_sends_refused_total",
            "Sends not made: to a revoked member, or to a seed whose member is revoked.",
            g->sends_refused_revoked);
    counter(t, "fedmesh_revocations_told_total",
            "Frames from a revoked key answered with its revocation (rate-limited).",
            g->revoked_told);
    if (in->revocations == NULL) {
        return;
    }
    const node_revocations *r = in->revocations;
    family(t, "fedmesh_revocations_published_total", "counter",
           "Revocations published through this node (control endpoint or API), by result.");
    put(t, "fedmesh_revocations_published_total{result=\"accepted\"} %llu\n",
        (unsigned long long) r->published);
    for (uint32_t i = 0; i < NODE_REVOCATION_REFUSAL_COUNT; i++) {
        put(t, "fedmesh_revocations_published_total{result=\"%s\"} %llu\n",
            node_revocation_refusal_name((node_revocation_refusal) i),
            (unsigned long long) r->refused[i]);
    }
    counter(t, "fedmesh_revocations_save_failures_total",
            "Times the revocations could not be written to [node] data_dir.", r->save_failures);
}

static void render_transport(text *t, const node_transport_stats *s)
{
    counter(t, "fedmesh_transport_queue_dropped_total",
            "Frames dropped because the receive queue was full.", s->queue_dropped);
    counter(t, "fedmesh_transport_receive_errors_total", "Receive failures.", s->receive_errors);
    counter(t, "fedmesh_transport_send_dropped_total",
            "Frames dropped because a peer was unreachable or slow.", s->send_dropped);
    counter(t, "fedmesh_transport_send_failed_total", "Sends that failed (allocation, socket).",
            s->send_failed);
    counter(t, "fedmesh_transport_send_refused_total",
            "Frames refused before sending (oversize, endpoint not dialable).", s->send_refused);
    counter(t, "fedmesh_transport_sockets_opened_total", "Outgoing sockets opened.",
            s->sockets_opened);
    counter(t, "fedmesh_transport_sockets_evicted_total", "Outgoing sockets closed to make room.",
            s->sockets_evicted);
    counter(t, "fedmesh_transport_sockets_reset_total",
            "Outgoing sockets closed and dialed again for a member back from down.",
            s->sockets_reset);
    counter(t, "fedmesh_control_requests_total", "Requests on the control endpoint.",
            s->control_requests);
    counter(t, "fedmesh_transport_frames_received_total",
            "Frames (TCP and UDP) handed to the loop.", s->frames_received);
    counter(t, "fedmesh_transport_frames_sent_total",
            "Frames accepted by NNG or the UDP socket for sending.", s->frames_sent);
    counter(t, "fedmesh_transport_udp_received_total", "Probes received as UDP datagrams.",
            s->udp_received);
    counter(t, "fedmesh_transport_udp_sent_total", "Probes sent as UDP datagrams.", s->udp_sent);
    counter(t, "fedmesh_transport_udp_oversize_total",
            "UDP datagrams over the probe size limit, dropped.", s->udp_oversize);
}

/* The loop's own counters: what peers --stats shows under "agent". */
static void render_agent(text *t, const node_metrics_input *in)
{
    counter(t, "fedmesh_agent_outbox_full_total", "Machine calls whose outbox was full.",
            in->outbox_full);
    counter(t, "fedmesh_agent_call_errors_total", "Machine calls and commits that failed.",
            in->call_errors);
    counter(t, "fedmesh_agent_frames_oversize_in_total",
            "Frames received empty or over the frame size limit, dropped.", in->frames_oversize_in);
    counter(t, "fedmesh_agent_outputs_ignored_total", "Machine outputs the agent did not execute.",
            in->outputs_ignored);
    counter(t, "fedmesh_seeds_unreachable_total",
            "Seed checks (one per seed per rejoin interval) that found no alive member "
            "advertising the seed.",
            in->seeds_unreachable);
}

static void render_http(text *t, const node_http_stats *s)
{
    family(t, "fedmesh_http_responses_total", "counter", "HTTP API responses, by status code.");
    for (uint32_t i = 0; i < NODE_HTTP_STATUS_COUNT; i++) {
        put(t, "fedmesh_http_responses_total{code=\"%u\"} %llu\n", node_http_statuses[i],
            (unsigned long long) s->responses[i]);
    }
    put(t, "fedmesh_http_responses_total{code=\"other\"} %llu\n",
        (unsigned long long) s->responses[NODE_HTTP_STATUS_COUNT]);
    counter(t, "fedmesh_http_busy_total", "HTTP requests refused because too many were waiting.",
            s->queue_full);
    counter(t, "fedmesh_http_request_body_bytes_total", "HTTP request body bytes read.",
            s->body_bytes);
    counter(t, "fedmesh_http_body_timeouts_total",
            "HTTP requests answered 408 because the declared body did not arrive in time.",
            s->body_timeouts);
}

static void render_load(text *t, const node_metrics_input *in)
{
    counter(t, "fedmesh_load_reports_total", "Load reports accepted from the scheduler.",
            in->load_reports);
    if (in->load == NULL) {
        return;
    }
    single(t, "fedmesh_load_report_timestamp_seconds", "gauge",
           "Unix time of the latest load report.", (double) in->load_realtime_ns / 1e9);
    static const char *const kinds[] = {"queued", "running"};
    static const char *const helps[] = {"Units waiting, as the scheduler last reported.",
                                        "Units in use, as the scheduler last reported."};
    for (uint32_t k = 0; k < MESH_ARRAY_COUNT(kinds); k++) {
        char name[32];
        (void) snprintf(name, sizeof(name), "fedmesh_load_%s", kinds[k]);
        family(t, name, "gauge", helps[k]);
        for (uint32_t i = 0; i < in->load->item_count; i++) {
            const node_load_item *item = &in->load->items[i];
            put(t, "%s{class=\"%s\",model=\"%s\"} %llu\n", name,
                node_http_class_name(item->resource_class), item->model,
                (unsigned long long) (k == 0 ? item->queued : item->running));
        }
    }
}

static bool count_lease(void *arg, const ledger_lease *lease)
{
    (void) lease;
    (*(uint64_t *) arg)++;
    return true;
}

static void balance_family(text *t, const node_metrics_input *in, bool lent)
{
    const char *name =
        lent ? "fedmesh_ledger_lent_unit_hours" : "fedmesh_ledger_borrowed_unit_hours";
    family(
        t, name, "gauge",
        lent ? "Compute lent to a peer, per class (unit-hours: vCPU, GPU, memory GiB, storage GiB)."
             : "Compute borrowed from a peer, per class (unit-hours: vCPU, GPU, memory GiB, "
               "storage GiB).");
    uint32_t count = ledger_balance_count(in->ledger);
    for (uint32_t i = 0; i < count; i++) {
        ledger_balance row;
        ledger_balance_at(in->ledger, i, &row);
        char peer[80];
        in->peer_label(in->peer_label_arg, row.peer_key, peer, sizeof(peer));
        uint64_t milli = lent ? row.lent_milli : row.borrowed_milli;
        put(t, "%s{peer=\"%s\",class=\"%s\",model=\"%s\"} %llu.%03llu\n", name, peer,
            ledger_class_name(row.resource_class), row.model, (unsigned long long) (milli / 1000),
            (unsigned long long) (milli % 1000));
    }
}

static void render_ledger(text *t, const node_metrics_input *in)
{
    single(t, "fedmesh_ledger_open", "gauge",
           "1 when a ledger is open ([ledger] path); the lease and balance series need it.",
           in->ledger != NULL ? 1.0 : 0.0);
    if (in->ledger == NULL) {
        return;
    }
    uint64_t head = 0;
    uint8_t hash[LEDGER_HASH_SIZE];
    ledger_head(in->ledger, &head, hash);
    single(t, "fedmesh_ledger_head_sequence", "gauge", "Sequence number of the last journal entry.",
           (double) head);
    family(t, "fedmesh_leases", "gauge", "Leases in the ledger, by state.");
    for (uint32_t state = 1; state <= LEDGER_LEASE_STATE_MAX; state++) {
        uint64_t count = 0;
        if (ledger_lease_list(in->ledger, state, count_lease, &count) != MESH_OK) {
            continue; // A store error: the series is left out, not faked.
        }
        put(t, "fedmesh_leases{state=\"%s\"} %llu\n", ledger_lease_state_name(state),
            (unsigned long long) count);
    }
    balance_family(t, in, true);
    balance_family(t, in, false);
    family(t, "fedmesh_ledger_write_duration_seconds", "histogram",
           "Time of one synced ledger write (commit or sync) by the agent.");
    histogram_samples(t, "fedmesh_ledger_write_duration_seconds", "store=\"rocksdb\"",
                      in->ledger_writes);
}

static const char *const lease_class_labels[] = {"", "vcpu", "memory_gib", "gpu", "storage_gib"};

static void render_leases(text *t, const node_metrics_input *in)
{
    if (in->member != NULL) {
        counter(t, "fedmesh_ledger_commits_total", "Synced group commits of the ledger.",
                in->member->commits);
        counter(t, "fedmesh_ledger_commit_failures_total",
                "Group commits the ledger refused (nothing acknowledged).",
                in->member->commit_failures);
        counter(t, "fedmesh_sends_held_total",
                "Frames held until the ledger write they follow was synced.",
                in->member->sends_held);
        counter(t, "fedmesh_burst_borrows_total", "Borrows started by the burst policy.",
                in->member->burst_borrows);
        counter(t, "fedmesh_burst_releases_total", "Leases given back by the burst policy.",
                in->member->burst_releases);
    }
    if (in->lease == NULL) {
        return;
    }
    lease_stats s;
    lease_stats_get(in->lease, &s);
    family(t, "fedmesh_lease_rejected_total", "counter", "Lease frames refused, by reason.");
    for (uint32_t i = 0; i < LEASE_REJECT_COUNT; i++) {
        put(t, "fedmesh_lease_rejected_total{reason=\"%s\"} %llu\n",
            lease_reject_name((lease_reject) i), (unsigned long long) s.rejected[i]);
    }
    family(t, "fedmesh_lease_refusals_sent_total", "counter",
           "Requests this lender refused, by the reason it gave.");
    for (uint32_t r = 1; r <= WIRE_LEASE_REFUSAL_MAX; r++) {
        put(t, "fedmesh_lease_refusals_sent_total{reason=\"%s\"} %llu\n",
            wire_lease_refusal_name(r), (unsigned long long) s.refusals_out_by[r]);
    }
    family(t, "fedmesh_leases_granted_total", "counter", "Leases that became active, by role.");
    put(t, "fedmesh_leases_granted_total{role=\"lender\"} %llu\n",
        (unsigned long long) s.granted_lent);
    put(t, "fedmesh_leases_granted_total{role=\"borrower\"} %llu\n",
        (unsigned long long) s.granted_borrowed);
    family(t, "fedmesh_leases_ended_total", "counter", "Leases settled, by role.");
    put(t, "fedmesh_leases_ended_total{role=\"lender\"} %llu\n", (unsigned long long) s.ended_lent);
    put(t, "fedmesh_leases_ended_total{role=\"borrower\"} %llu\n",
        (unsigned long long) s.ended_borrowed);
    counter(t, "fedmesh_lease_retries_total", "Lease messages sent again after a timeout.",
            s.retries);
    counter(t, "fedmesh_lease_late_acceptances_total",
            "Acceptances that arrived after their offer's hold.", s.late_acceptances);
    counter(t, "fedmesh_lease_reclaims_total", "Leases this lender took back with notice.",
            s.reclaims);
    single(t, "fedmesh_lease_slots_used", "gauge",
           "Lease slots in use: requests, offers, leases in flight and open.",
           (double) s.leases_open);
    family(t, "fedmesh_capacity_units", "gauge",
           "Own capacity by class: total, lent (holds and open leases), free to lend now, and "
           "borrowed from peers (never lent on).");
    uint32_t count = lease_capacity_count(in->lease);
    for (uint32_t i = 0; i < count; i++) {
        lease_capacity c;
        lease_capacity_at(in->lease, i, &c);
        const char *name = c.resource_class < MESH_ARRAY_COUNT(lease_class_labels)
                               ? lease_class_labels[c.resource_class]
                               : "unknown";
        const uint64_t values[] = {c.total, c.lent, c.free_to_lend, c.borrowed};
        const char *const kinds[] = {"total", "lent", "free_to_lend", "borrowed"};
        for (uint32_t k = 0; k < MESH_ARRAY_COUNT(values); k++) {
            put(t, "fedmesh_capacity_units{class=\"%s\",model=\"%s\",kind=\"%s\"} %llu\n", name,
                c.model, kinds[k], (unsigned long long) values[k]);
        }
    }
}

/* [hooks] counters by kind, also without a ledger. */
static void render_hooks(text *t, const node_metrics_input *in)
{
    // One series per hook kind, as `peers --stats` counts them.
    static const struct {
        const char *name;
        const char *help;
    } hook_families[] = {
        {"fedmesh_hook_runs_total", "Hooks run ([hooks]), by kind."},
        {"fedmesh_hook_failures_total",
         "Hooks that exited non-zero, were killed at the timeout, or could not start."},
        {"fedmesh_hook_timeouts_total", "Hooks killed at timeout_ms (also failures)."},
        {"fedmesh_hook_dropped_total", "Hook runs dropped: the queue was full."},
    };
    for (uint32_t f = 0; f < MESH_ARRAY_COUNT(hook_families); f++) {
        family(t, hook_families[f].name, "counter", hook_families[f].help);
        for (uint32_t k = 0; k < NODE_HOOK_KIND_COUNT; k++) {
            uint64_t value = 0;
            if (in->hooks != NULL) {
                const uint64_t *by_kind[] = {in->hooks->runs, in->hooks->failures,
                                             in->hooks->timeouts, in->hooks->dropped};
                value = by_kind[f][k];
            }
            put(t, "%s{kind=\"%s\"} %llu\n", hook_families[f].name,
                node_hook_kind_name((node_hook_kind) k), (unsigned long long) value);
        }
    }
}

mesh_err node_metrics_render(const node_metrics_input *input, char **text_out, size_t *size_out)
{
    MESH_ASSERT(input != NULL && input->gossip != NULL && input->transport != NULL);
    MESH_ASSERT(text_out != NULL && size_out != NULL);
    text t = {.data = malloc(16384), .size = 0, .capacity = 16384, .err = MESH_OK};
    if (t.data == NULL) {
        return MESH_ENOMEM;
    }
    family(&t, "fedmesh_build_info", "gauge", "Constant 1, labelled with version, name and id.");
    put(&t, "fedmesh_build_info{version=\"%s\",name=\"%s\",id=\"%s\"} 1\n", input->version,
        input->name, input->id);
    single(&t, "fedmesh_uptime_seconds", "gauge", "Seconds since the agent started.",
           input->uptime_s);
    render_gossip(&t, input);
    render_revocations(&t, input);
    render_transport(&t, input->transport);
    render_agent(&t, input);
    if (input->http != NULL) {
        render_http(&t, input->http);
    }
    render_load(&t, input);
    family(&t, "fedmesh_config_reloads_total", "counter", "SIGHUP reloads, by result.");
    put(&t, "fedmesh_config_reloads_total{result=\"ok\"} %llu\n",
        (unsigned long long) input->reloads);
    put(&t, "fedmesh_config_reloads_total{result=\"failed\"} %llu\n",
        (unsigned long long) input->reload_failures);
    render_ledger(&t, input);
    render_leases(&t, input);
    render_hooks(&t, input);
    if (t.err != MESH_OK) {
        free(t.data);
        return t.err;
    }
    *text_out = t.data;
    *size_out = t.size;
    return MESH_OK;
}
