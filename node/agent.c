/*
 * node/agent.c: the loop that drives the gossip machine over NNG (STYLE
 * 2.2 "The shell").
 *
 * One thread, the caller of node_agent_run, owns the machine. It waits
 * until the machine's deadline or until the transport has something
 * (frames, a control request, a stop request), stamps mesh_now once per
 * input, calls gossip_on_message or gossip_on_tick, and then executes the
 * outbox in order before the next call, because payloads point into the
 * machine and are only valid until then. NNG callbacks never touch the
 * machine; the control endpoint's answers are built here, in the loop.
 *
 * Stopping: SIGTERM and SIGINT are blocked in every thread (NNG's threads
 * inherit the mask, since it is set before the first socket exists) and
 * taken by a sigwait thread, which only asks the loop to stop. The loop
 * then answers waiting HTTP requests 503, syncs the ledger (when one is
 * open), publishes a leaving advert
 * (gossip_leave), executes the outbox, gives NNG FLUSH_MS to put the
 * frames on the wire, and returns 0. Bounded: if all that has not ended
 * STOP_BOUND_S after the signal, the signal thread exits the process with
 * code 5; a second signal while stopping exits at once with code 1.
 *
 * Reloading: SIGHUP makes the signal thread set a flag and wake the loop,
 * which reads the config file again and applies what can change without a
 * restart: the log level (unless --log-level pinned it), revocation files
 * (new ones are gossiped), the HTTP token, and the advertised capacity
 * (published at once when it changed). Endpoints, identity and gossip
 * timings need a restart; the log line says so.
 *
 * HTTP API (http_int.h): NNG's handler threads queue requests and wake
 * the loop; the loop answers them here from the machine's state, so the
 * API never races the gossip machine.
 *
 * Logging: membership changes come from the machine's MESH_OUTPUT_EVENT
 * items (gossip_event), one log line each.
 */
#define _POSIX_C_SOURCE 200809L

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>
#include <sodium.h>

#include "crypto/crypto.h"
#include "gossip/gossip.h"
#include "ledger/ledger.h"
#include "ledger/store_rocks.h"
#include "member/member.h"
#include "node/agent_int.h"
#include "node/agent_lease_int.h"
#include "node/agent_revoke_int.h"
#include "node/hooks_int.h"
#include "node/http_int.h"
#include "node/log_int.h"
#include "node/metrics_int.h"
#include "node/node_int.h"
#include "node/record_int.h"

#define FLUSH_MS        200
#define STOP_BOUND_S    5      /* from the stop signal to exit, at most */
#define LEASES_LIST_MAX 10000u /* leases in one GET /v1/leases answer */

typedef struct signal_waiter signal_waiter;

typedef struct agent {
    const node_config *config;
    const char *config_path;
    bool log_level_pinned;
    member_node *member;   /* gossip, leases and the ledger: the one object the loop drives */
    const gossip *machine; /* member_gossip(member), for queries */
    node_leases *leases;   /* the lease routes, events and hooks */
    node_hooks_runner *hooks;
    node_transport *transport;
    node_http *http; /* NULL without [http] listen */
    signal_waiter *waiter;
    wire_advert advert; /* what this node publishes; SIGHUP may change it */
    uint8_t self_public_key[MCRYPTO_PUBLIC_KEY_SIZE];
    uint8_t root_public_key[MCRYPTO_PUBLIC_KEY_SIZE];
    node_revocations revocations; /* published, kept, shown (agent_revoke_int.h) */
    /* The ledger ([ledger] path); NULL when none is configured. */
    ledger_rocks_store *ledger_rocks;
    ledger_store ledger_iface; /* borrowed by the ledger: lives as long */
    ledger *ledger;
    node_metrics_histogram ledger_writes;
    mesh_rng rng;
    mesh_node_id self_id;
    char self_text[MCRYPTO_NODE_ID_TEXT_SIZE];
    uint64_t started_ns;
    /* Loop-thread counters, shown by "stats". */
    uint64_t outbox_full;
    uint64_t commits_seen;
    uint64_t call_errors;
    uint64_t frames_oversize_in;
    uint64_t outputs_ignored;
    uint64_t reloads;
    uint64_t reload_failures;
    /* Seeds this node dials to join (its own endpoints left out), and when
     * each was last found unreached (see seeds_check). */
    uint32_t seed_count;
    const char *seeds[GOSSIP_SEEDS_MAX];
    uint64_t seed_warned_ns[GOSSIP_SEEDS_MAX];
    uint64_t seeds_checked_ns;
    uint64_t seeds_unreachable;
    node_metrics_histogram tick_rounds;
    node_metrics_histogram message_rounds;
    /* The scheduler's latest load report (POST /v1/load). */
    bool load_known;
    node_load_report load;
    uint64_t load_reports;
    int64_t load_realtime_ns;
    node_wakeup wakeup;
} agent;

/* The signal thread. */
struct signal_waiter {
    pthread_t thread;
    sigset_t set;
    node_transport *transport;
    atomic_bool exiting;
    atomic_bool reload; /* SIGHUP seen; the loop clears it */
};

/* After the first stop signal: waits for the loop to finish (the
 * SIGUSR1 it sends), a second signal, or the bound. */
static void signal_wait_stopped(signal_waiter *waiter)
{
    struct timespec deadline;
    (void) clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += STOP_BOUND_S;
    for (;;) {
        struct timespec now;
        (void) clock_gettime(CLOCK_MONOTONIC, &now);
        struct timespec left = {.tv_sec = deadline.tv_sec - now.tv_sec,
                                .tv_nsec = deadline.tv_nsec - now.tv_nsec};
        if (left.tv_nsec < 0) {
            left.tv_sec--;
            left.tv_nsec += 1000000000L;
        }
        if (left.tv_sec < 0 || (left.tv_sec == 0 && left.tv_nsec == 0)) {
            break;
        }
        int sig = sigtimedwait(&waiter->set, NULL, &left);
        if (atomic_load(&waiter->exiting)) {
            return;
        }
        if (sig == SIGTERM || sig == SIGINT) {
            node_log(NODE_LOG_WARN, "agent", "forced_exit", "signal=%s", strsignal(sig));
            _exit(NODE_EXIT_INVALID);
        }
    }
    if (!atomic_load(&waiter->exiting)) {
        node_log(NODE_LOG_ERROR, "agent", "stop_timeout", "bound_s=%d", STOP_BOUND_S);
        _exit(NODE_EXIT_INTERNAL);
    }
}

static void *signal_main(void *arg)
{
    signal_waiter *waiter = arg;
    for (;;) {
        int sig = 0;
        if (sigwait(&waiter->set, &sig) != 0) {
            continue;
        }
        if (atomic_load(&waiter->exiting)) {
            return NULL;
        }
        if (sig == SIGUSR1) {
            continue; // Only the loop's "exit now" means anything.
        }
        if (sig == SIGHUP) {
            node_log(NODE_LOG_INFO, "agent", "reload_requested", "signal=%s", strsignal(sig));
            atomic_store(&waiter->reload, true);
            node_transport_wake(waiter->transport);
            continue;
        }
        node_log(NODE_LOG_INFO, "agent", "stopping", "signal=%s bound_s=%d", strsignal(sig),
                 STOP_BOUND_S);
        node_transport_request_stop(waiter->transport);
        signal_wait_stopped(waiter);
        return NULL;
    }
}

static void id_text(const mesh_node_id *id, char text[MCRYPTO_NODE_ID_TEXT_SIZE])
{
    mcrypto_node_id_format(id, text);
}

static void log_event(agent *a, const gossip_event *payload)
{
    gossip_event event;
    memcpy(&event, payload, sizeof(event));
    char member[MCRYPTO_NODE_ID_TEXT_SIZE];
    id_text(&event.member, member);
    gossip_member_info info;
    const char *name = "?";
    bool found = gossip_member_find(a->machine, &event.member, &info) == MESH_OK;
    if (found) {
        name = info.name;
    }
    if (event.kind == GOSSIP_EVENT_ADVERT) {
        node_log(NODE_LOG_DEBUG, "gossip", "member_advert", "member=%s name=%s sequence=%llu",
                 member, name, (unsigned long long) event.sequence);
        // Probes go by UDP, so nothing else would open the TCP connection
        // that pushes use: open it now, so that the first push to a member
        // does not wait for a dial.
        wire_advert advert;
        if (found && event.state == GOSSIP_ALIVE && !info.self &&
            gossip_member_advert(a->machine, &event.member, &advert) == MESH_OK) {
            node_transport_prepare(a->transport, advert.endpoint);
        }
        return;
    }
    if (event.previous == 0) {
        // The machine admits a member when its certificate arrives, before
        // the advert that follows it in the same push; events are executed
        // after the whole frame, so the view holds that advert's sequence
        // by now (0 only when the certificate came alone).
        node_log(NODE_LOG_INFO, "gossip", "member_join", "member=%s name=%s state=%s sequence=%llu",
                 member, name, gossip_state_name((gossip_state) event.state),
                 (unsigned long long) (found ? info.sequence : event.sequence));
        return;
    }
    // Back from down (a partition healed, a pause ended): a fresh
    // connection, not the one whose retransmissions backed off meanwhile.
    wire_advert back_advert;
    if (found && !info.self && event.state == GOSSIP_ALIVE && event.previous == GOSSIP_DOWN &&
        gossip_member_advert(a->machine, &event.member, &back_advert) == MESH_OK) {
        node_transport_reset(a->transport, back_advert.endpoint);
    }
    node_log(NODE_LOG_INFO, "gossip", "member_state",
             "member=%s name=%s state=%s previous=%s sequence=%llu", member, name,
             gossip_state_name((gossip_state) event.state),
             gossip_state_name((gossip_state) event.previous), (unsigned long long) event.sequence);
}

/* The member event's name for on_member and FEDMESH_EVENT: "join" (new
 * to this view), "update" (a fresh advert, this node's own included),
 * "suspect", "down", "alive" (again, after suspect, down or left), "left",
 * "revoked". */
static const char *member_event_name(const gossip_event *event)
{
    if (event->kind == GOSSIP_EVENT_ADVERT) {
        return "update";
    }
    if (event->previous == 0) {
        return "join";
    }
    switch ((gossip_state) event->state) {
    case GOSSIP_ALIVE:
        return "alive";
    case GOSSIP_SUSPECT:
        return "suspect";
    case GOSSIP_DOWN:
        return "down";
    case GOSSIP_LEFT:
        return "left";
    case GOSSIP_REVOKED:
        return "revoked";
    }
    return "state";
}

/* [hooks] on_member: the event as one JSON object on the hook's stdin. */
static void run_member_hook(agent *a, mesh_now now, const gossip_event *payload)
{
    if (!node_hooks_member_enabled(a->hooks)) {
        return;
    }
    gossip_event event;
    memcpy(&event, payload, sizeof(event));
    char member[MCRYPTO_NODE_ID_TEXT_SIZE];
    id_text(&event.member, member);
    gossip_member_info info;
    bool found = gossip_member_find(a->machine, &event.member, &info) == MESH_OK;
    const char *name = found ? info.name : "";
    const char *kind = member_event_name(&event);
    json_t *body =
        json_pack("{s:s, s:s, s:s, s:s, s:s?, s:I, s:b, s:I}", "event", kind, "member", member,
                  "name", name, "state", gossip_state_name((gossip_state) event.state), "previous",
                  event.previous != 0 ? gossip_state_name((gossip_state) event.previous) : NULL,
                  "sequence", (json_int_t) event.sequence, "self", found && info.self,
                  "time_unix_ms", (json_int_t) (now.realtime_ns / (int64_t) MESH_NS_PER_MS));
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL) {
        node_log(NODE_LOG_WARN, "hook", "dropped", "hook=member member_event=%s reason=no_memory",
                 kind);
        return;
    }
    (void) node_hooks_submit_member(a->hooks, kind, text);
    free(text);
}

static node_leases_context lease_context(agent *a)
{
    node_leases_context context = {.config = a->config,
                                   .member = a->member,
                                   .ledger_handle = a->ledger,
                                   .http = a->http,
                                   .hooks = a->hooks,
                                   .rng = &a->rng};
    return context;
}

/* member_io: the member's executor hands frames and events here. */
static void agent_send(void *ctx,
                       const mesh_node_id *peer,
                       const char *endpoint,
                       const uint8_t *frame,
                       uint32_t frame_size)
{
    agent *a = ctx;
    node_record_send(peer, endpoint, frame, frame_size);
    mesh_err sent = node_transport_send(a->transport, endpoint, frame, frame_size);
    if (sent != MESH_OK && node_log_enabled(NODE_LOG_DEBUG)) {
        char quoted[WIRE_ENDPOINT_SIZE_MAX + 3];
        node_log_quote(endpoint != NULL ? endpoint : "", quoted, sizeof(quoted));
        node_log(NODE_LOG_DEBUG, "transport", "send_dropped", "endpoint=%s size=%u reason=%s",
                 quoted, frame_size, mesh_err_name(sent));
    }
}

static void agent_event(void *ctx, mesh_now now, member_source source, const void *event)
{
    agent *a = ctx;
    node_record_event(source, event);
    if (source == MEMBER_SOURCE_GOSSIP) {
        log_event(a, event);
        run_member_hook(a, now, event);
        return;
    }
    node_leases_context context = lease_context(a);
    if (source == MEMBER_SOURCE_RECONCILE) {
        node_leases_on_reconcile(a->leases, &context, event);
        return;
    }
    node_leases_on_event(a->leases, &context, now, event);
}

/* After every batch of inputs: the ledger writes they staged are synced
 * (one group commit), then what waited for them is sent. */
static void flush(agent *a, const char *call)
{
    mesh_now now = node_now();
    uint64_t started_ns = now.monotonic_ns;
    node_record_flush(now);
    mesh_err err = member_flush(a->member, now, &a->rng);
    if (err != MESH_OK) {
        a->call_errors++;
        node_log(NODE_LOG_ERROR, "ledger", "commit_failed", "call=%s error=%s", call,
                 mesh_err_name(err));
    }
    member_stats stats;
    member_stats_get(a->member, &stats);
    if (stats.commits != a->commits_seen) {
        a->commits_seen = stats.commits;
        node_metrics_observe(&a->ledger_writes, node_now().monotonic_ns - started_ns);
    }
    // What the inputs taught about revocations is on disk before the next
    // input (a restart must not dial a key revoked meanwhile).
    node_revocations_sync(&a->revocations, a->machine);
}

static void check(agent *a, mesh_err err, const char *call)
{
    if (err == MESH_EFULL) {
        a->outbox_full++;
        node_log(NODE_LOG_WARN, "agent", "outbox_full", "call=%s", call);
    } else if (err != MESH_OK) {
        a->call_errors++;
        node_log(NODE_LOG_WARN, "agent", "call_failed", "call=%s error=%s", call,
                 mesh_err_name(err));
    }
}

static const char *const class_names[] = {"", "vcpu", "memory_gib", "gpu", "storage_gib"};

static json_t *resources_json(const wire_advert *advert)
{
    json_t *list = json_array();
    for (uint32_t i = 0; i < advert->resource_count && list != NULL; i++) {
        const wire_resource *r = &advert->resources[i];
        const char *name =
            r->resource_class < MESH_ARRAY_COUNT(class_names) ? class_names[r->resource_class] : "";
        (void) json_array_append_new(
            list, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "class", name, "model", r->model,
                            "total", (json_int_t) r->total, "free", (json_int_t) r->free,
                            "lendable", (json_int_t) r->lendable, "price_microeur_per_unit_hour",
                            (json_int_t) r->price_microeur_per_unit_hour));
    }
    return list;
}

static json_t *certifications_json(uint32_t bits)
{
    json_t *list = json_array();
    for (uint32_t i = 0; i < WIRE_CERTIFICATION_COUNT && list != NULL; i++) {
        const char *name = wire_certification_name(1u << i);
        if ((bits & (1u << i)) != 0 && name != NULL) {
            (void) json_array_append_new(list, json_string(name));
        }
    }
    return list;
}

static json_t *member_json(agent *a, const gossip_member_info *info, mesh_now now)
{
    char id[MCRYPTO_NODE_ID_TEXT_SIZE];
    id_text(&info->id, id);
    json_t *jurisdictions = json_array();
    for (uint32_t i = 0; i < info->jurisdiction_count && jurisdictions != NULL; i++) {
        (void) json_array_append_new(jurisdictions, json_string(info->jurisdictions[i]));
    }
    double state_age_s = 0;
    if (now.monotonic_ns >= info->state_changed_ns) {
        state_age_s = (double) (now.monotonic_ns - info->state_changed_ns) / 1e9;
    }
    json_t *member = json_pack(
        "{s:s, s:s, s:s, s:s, s:b, s:I, s:f, s:o, s:o}", "id", id, "name", info->name, "country",
        info->country, "state", gossip_state_name(info->state), "self", info->self, "sequence",
        (json_int_t) info->sequence, "state_age_s", state_age_s, "certifications",
        certifications_json(info->certifications), "jurisdictions", jurisdictions);
    if (member == NULL) {
        return NULL;
    }
    wire_advert advert;
    if (info->sequence > 0 && gossip_member_advert(a->machine, &info->id, &advert) == MESH_OK) {
        double age_s = (double) (now.realtime_ns - advert.timestamp_ns) / 1e9;
        (void) json_object_set_new(member, "advert_age_s", json_real(age_s));
        (void) json_object_set_new(member, "carbon_gco2_per_kwh",
                                   json_integer(advert.carbon_gco2_per_kwh));
        (void) json_object_set_new(member, "endpoint", json_string(advert.endpoint));
        (void) json_object_set_new(member, "api_endpoint", json_string(advert.api_endpoint));
        (void) json_object_set_new(member, "resources", resources_json(&advert));
    } else {
        (void) json_object_set_new(member, "advert_age_s", json_null());
        (void) json_object_set_new(member, "resources", json_array());
    }
    // What lease constraints are checked against: the probes' smoothed
    // round trip (null until measured), the certificate's key and hash.
    (void) json_object_set_new(member, "rtt_ms",
                               info->rtt_us > 0 ? json_real((double) info->rtt_us / 1000.0)
                                                : json_null());
    char key[MCRYPTO_PUBLIC_KEY_SIZE * 2 + 1];
    sodium_bin2hex(key, sizeof(key), info->public_key, MCRYPTO_PUBLIC_KEY_SIZE);
    (void) json_object_set_new(member, "public_key", json_string(key));
    char cert_hash[sizeof(info->cert_hash) * 2 + 1];
    sodium_bin2hex(cert_hash, sizeof(cert_hash), info->cert_hash, sizeof(info->cert_hash));
    (void) json_object_set_new(member, "certificate_hash", json_string(cert_hash));
    char until[NODE_TIME_TEXT_SIZE];
    node_format_time(info->cert_valid_until_ns, until);
    (void) json_object_set_new(member, "certificate_valid_until", json_string(until));
    return member;
}

static json_t *peers_json(agent *a)
{
    mesh_now now = node_now();
    json_t *members = json_array();
    uint32_t count = gossip_member_count(a->machine);
    for (uint32_t i = 0; i < count && members != NULL; i++) {
        gossip_member_info info;
        if (gossip_member_at(a->machine, i, &info) != MESH_OK) {
            break;
        }
        (void) json_array_append_new(members, member_json(a, &info, now));
    }
    return json_pack("{s:s, s:s, s:o, s:o}", "self", a->self_text, "name", a->config->name,
                     "members", members, "revocations",
                     node_revocations_json(&a->revocations, a->machine));
}

/* Whether a revocation of id is held already. */
static bool revocation_held(agent *a, const mesh_node_id *id)
{
    uint32_t count = gossip_revocation_count(a->machine);
    for (uint32_t i = 0; i < count; i++) {
        gossip_revocation_info info;
        if (gossip_revocation_at(a->machine, i, &info) == MESH_OK &&
            mesh_node_id_equal(&info.id, id)) {
            return true;
        }
    }
    return false;
}

/* A revocation published through this node (`fedmesh revoke publish`,
 * POST /v1/revocations): checked against the root, added, gossiped, kept.
 * On a refusal, *status_out is the HTTP status and the answer is
 * {error, code}. */
static json_t *publish_revocation(agent *a, const char *text, uint32_t text_size, int *status_out)
{
    static uint8_t frame[WIRE_FRAME_SIZE_MAX];
    uint32_t frame_size = 0;
    wire_revocation revocation;
    char message[NODE_REVOCATION_MESSAGE_SIZE];
    mesh_err err = node_revocations_check(&a->revocations, text, text_size, frame, sizeof(frame),
                                          &frame_size, &revocation, message);
    if (err != MESH_OK) {
        const char *code = err == MESH_EAUTH ? "bad_signature" : "invalid_revocation";
        char quoted[NODE_REVOCATION_MESSAGE_SIZE + 3];
        node_log_quote(message, quoted, sizeof(quoted));
        node_log(NODE_LOG_WARN, "agent", "revocation_refused", "code=%s error=%s", code, quoted);
        *status_out = err == MESH_EAUTH ? 403 : 400;
        return json_pack("{s:s, s:s}", "error", message, "code", code);
    }
    mesh_node_id id;
    mcrypto_node_id(revocation.public_key, &id);
    bool held_before = revocation_held(a, &id);
    mesh_now now = node_now();
    node_record_add_revocation(now, frame, frame_size);
    err = member_add_revocation(a->member, now, frame, frame_size, &a->rng);
    flush(a, "add_revocation");
    *status_out = err == MESH_OK ? 200 : err == MESH_EFULL ? 503 : 400;
    return node_revocations_published(&a->revocations, a->machine, &revocation, held_before, err);
}

static json_t *stats_json(agent *a)
{
    gossip_stats stats;
    gossip_stats_get(a->machine, &stats);
    json_t *rejected = json_object();
    for (uint32_t i = 0; i < GOSSIP_REJECT_COUNT && rejected != NULL; i++) {
        (void) json_object_set_new(rejected, gossip_reject_name((gossip_reject) i),
                                   json_integer((json_int_t) stats.rejected[i]));
    }
    node_transport_stats t;
    node_transport_stats_get(a->transport, &t);
    json_t *gossip_part = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "frames_in",
        (json_int_t) stats.frames_in, "frames_out", (json_int_t) stats.frames_out, "bytes_in",
        (json_int_t) stats.bytes_in, "bytes_out", (json_int_t) stats.bytes_out, "adverts_in",
        (json_int_t) stats.adverts_in, "adverts_out", (json_int_t) stats.adverts_out, "probes_sent",
        (json_int_t) stats.probes_sent, "probes_failed", (json_int_t) stats.probes_failed,
        "suspicions_raised", (json_int_t) stats.suspicions_raised, "refutations",
        (json_int_t) stats.refutations, "anti_entropy_rounds",
        (json_int_t) stats.anti_entropy_rounds, "local_health", (json_int_t) stats.local_health,
        "members", (json_int_t) gossip_member_count(a->machine), "rejected", rejected);
    json_t *transport_part = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "frames_received",
        (json_int_t) t.frames_received, "frames_sent", (json_int_t) t.frames_sent, "queue_dropped",
        (json_int_t) t.queue_dropped, "receive_errors", (json_int_t) t.receive_errors,
        "send_dropped", (json_int_t) t.send_dropped, "send_failed", (json_int_t) t.send_failed,
        "send_refused", (json_int_t) t.send_refused, "sockets_opened",
        (json_int_t) t.sockets_opened, "sockets_evicted", (json_int_t) t.sockets_evicted,
        "control_requests", (json_int_t) t.control_requests, "udp_sent", (json_int_t) t.udp_sent,
        "udp_received", (json_int_t) t.udp_received, "udp_oversize", (json_int_t) t.udp_oversize,
        "sockets_reset", (json_int_t) t.sockets_reset);
    json_t *agent_part = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:f}", "outbox_full", (json_int_t) a->outbox_full, "call_errors",
        (json_int_t) a->call_errors, "frames_oversize_in", (json_int_t) a->frames_oversize_in,
        "outputs_ignored", (json_int_t) a->outputs_ignored, "seeds_unreachable",
        (json_int_t) a->seeds_unreachable, "uptime_s",
        (double) (node_now().monotonic_ns - a->started_ns) / 1e9);
    node_hooks_stats hooks;
    node_hooks_stats_get(a->hooks, &hooks);
    json_t *hooks_part = json_object();
    for (uint32_t k = 0; k < NODE_HOOK_KIND_COUNT && hooks_part != NULL; k++) {
        (void) json_object_set_new(
            hooks_part, node_hook_kind_name((node_hook_kind) k),
            json_pack("{s:I, s:I, s:I, s:I}", "runs", (json_int_t) hooks.runs[k], "failures",
                      (json_int_t) hooks.failures[k], "timeouts", (json_int_t) hooks.timeouts[k],
                      "dropped", (json_int_t) hooks.dropped[k]));
    }
    return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o}", "self", a->self_text, "name",
                     a->config->name, "gossip", gossip_part, "transport", transport_part, "agent",
                     agent_part, "hooks", hooks_part);
}

/* Publishes this node's advert again at once, with a new sequence number:
 * what an operator (or a benchmark) does to push fresh news through the
 * federation without changing the configuration. */
static json_t *refresh_json(agent *a)
{
    // Logged before the frames leave, so that a reader of the logs can
    // time the advert's journey from here.
    node_log(NODE_LOG_INFO, "gossip", "advert_refresh_start", NULL);
    mesh_now now = node_now();
    node_record_update_advert(now, &a->advert);
    mesh_err err = member_update_advert(a->member, now, &a->advert, &a->rng);
    check(a, err, "update_advert");
    flush(a, "update_advert");
    gossip_member_info self;
    if (err != MESH_OK || gossip_member_find(a->machine, &a->self_id, &self) != MESH_OK) {
        return json_pack("{s:s}", "error", mesh_strerror(err));
    }
    node_log(NODE_LOG_INFO, "gossip", "advert_refreshed", "sequence=%llu",
             (unsigned long long) self.sequence);
    return json_pack("{s:b, s:I}", "refreshed", 1, "sequence", (json_int_t) self.sequence);
}

static bool request_is(nng_msg *request, const char *word)
{
    size_t size = strlen(word);
    return nng_msg_len(request) == size && memcmp(nng_msg_body(request), word, size) == 0;
}

static bool request_starts(nng_msg *request, const char *prefix)
{
    size_t size = strlen(prefix);
    return nng_msg_len(request) >= size && memcmp(nng_msg_body(request), prefix, size) == 0;
}

static void answer_control(agent *a, nng_msg *request)
{
    json_t *reply = NULL;
    if (request_is(request, "peers")) {
        reply = peers_json(a);
    } else if (request_is(request, "stats")) {
        reply = stats_json(a);
    } else if (request_is(request, "refresh")) {
        reply = refresh_json(a);
    } else if (request_is(request, "revocations")) {
        reply = node_revocations_json(&a->revocations, a->machine);
    } else if (request_starts(request, NODE_CONTROL_REVOKE_PREFIX)) {
        int status = 0;
        size_t prefix = strlen(NODE_CONTROL_REVOKE_PREFIX);
        reply = publish_revocation(a, (const char *) nng_msg_body(request) + prefix,
                                   (uint32_t) (nng_msg_len(request) - prefix), &status);
    } else {
        reply = json_pack("{s:s}", "error",
                          "unknown request; the agent answers peers, stats, refresh, "
                          "revocations and revoke");
    }
    char *text = reply != NULL ? json_dumps(reply, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(reply);
    if (text == NULL) {
        static const char failed[] = "{\"error\":\"out of memory\"}";
        node_transport_control_reply(a->transport, request, failed, sizeof(failed) - 1);
        return;
    }
    node_transport_control_reply(a->transport, request, text, (uint32_t) strlen(text));
    free(text);
}

/* Members by state; index = gossip_state. */
static void count_members(agent *a, uint32_t counts[NODE_METRICS_STATE_COUNT])
{
    memset(counts, 0, NODE_METRICS_STATE_COUNT * sizeof(counts[0]));
    uint32_t count = gossip_member_count(a->machine);
    for (uint32_t i = 0; i < count; i++) {
        gossip_member_info info;
        if (gossip_member_at(a->machine, i, &info) != MESH_OK) {
            break;
        }
        if ((uint32_t) info.state < NODE_METRICS_STATE_COUNT) {
            counts[info.state]++;
        }
    }
}

static uint64_t own_sequence(agent *a)
{
    gossip_member_info self;
    return gossip_member_find(a->machine, &a->self_id, &self) == MESH_OK ? self.sequence : 0;
}

static json_t *load_json(agent *a)
{
    if (!a->load_known) {
        return json_null();
    }
    json_t *items = json_array();
    for (uint32_t i = 0; i < a->load.item_count && items != NULL; i++) {
        const node_load_item *item = &a->load.items[i];
        json_t *entry =
            json_pack("{s:s, s:I, s:I}", "class", node_http_class_name(item->resource_class),
                      "queued", (json_int_t) item->queued, "running", (json_int_t) item->running);
        if (entry != NULL && item->model[0] != '\0') {
            (void) json_object_set_new(entry, "model", json_string(item->model));
        }
        (void) json_array_append_new(items, entry);
    }
    char at[NODE_TIME_TEXT_SIZE];
    node_format_time(a->load_realtime_ns, at);
    return json_pack("{s:s, s:s, s:I, s:o}", "scheduler", a->load.scheduler, "reported_at", at,
                     "reports", (json_int_t) a->load_reports, "resources", items);
}

/* The name gossip knows for a ledger peer key, or "". */
static const char *peer_name(agent *a, const uint8_t key[LEDGER_KEY_SIZE], gossip_member_info *info)
{
    mesh_node_id id;
    mcrypto_node_id(key, &id);
    return gossip_member_find(a->machine, &id, info) == MESH_OK ? info->name : "";
}

static void peer_id_text(const uint8_t key[LEDGER_KEY_SIZE], char text[MCRYPTO_NODE_ID_TEXT_SIZE])
{
    mesh_node_id id;
    mcrypto_node_id(key, &id);
    id_text(&id, text);
}

static void
metrics_peer_label(void *arg, const uint8_t key[LEDGER_KEY_SIZE], char *out, size_t size)
{
    gossip_member_info info;
    const char *name = peer_name(arg, key, &info);
    if (name[0] != '\0') {
        (void) snprintf(out, size, "%s", name);
        return;
    }
    char id[MCRYPTO_NODE_ID_TEXT_SIZE];
    peer_id_text(key, id);
    (void) snprintf(out, size, "%s", id);
}

typedef struct lease_walk {
    agent *a;
    json_t *list; /* NULL: count only */
    uint32_t count;
    bool truncated;
} lease_walk;

static bool lease_walk_visit(void *arg, const ledger_lease *lease)
{
    lease_walk *walk = arg;
    if (walk->list == NULL) {
        walk->count++;
        return true;
    }
    if (walk->count == LEASES_LIST_MAX) {
        walk->truncated = true;
        return false;
    }
    char id[LEDGER_LEASE_ID_SIZE * 2 + 1];
    sodium_bin2hex(id, sizeof(id), lease->lease_id, LEDGER_LEASE_ID_SIZE);
    char peer[MCRYPTO_NODE_ID_TEXT_SIZE];
    peer_id_text(lease->peer_key, peer);
    gossip_member_info info;
    char opened[NODE_TIME_TEXT_SIZE];
    node_format_time(lease->opened_ns, opened);
    (void) json_array_append_new(
        walk->list,
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:I}", "id", id, "peer", peer,
                  "peer_name", peer_name(walk->a, lease->peer_key, &info), "role",
                  lease->self_is_lender ? "lender" : "borrower", "state",
                  ledger_lease_state_name(lease->state), "records",
                  (json_int_t) lease->record_count, "opened_at", opened, "first_seq",
                  (json_int_t) lease->first_seq, "last_seq", (json_int_t) lease->last_seq));
    walk->count++;
    return true;
}

/* Leases by state (counts), or the list when walk->list is set. */
static mesh_err walk_leases(agent *a, lease_walk *walk, uint32_t counts[LEDGER_LEASE_STATE_MAX + 1])
{
    for (uint32_t state = 1; state <= LEDGER_LEASE_STATE_MAX && !walk->truncated; state++) {
        uint32_t before = walk->count;
        mesh_err err = ledger_lease_list(a->ledger, state, lease_walk_visit, walk);
        if (err != MESH_OK) {
            return err;
        }
        if (counts != NULL) {
            counts[state] = walk->count - before;
        }
    }
    return MESH_OK;
}

static json_t *ledger_status_json(agent *a)
{
    if (a->ledger == NULL) {
        return json_pack("{s:b, s:s}", "open", 0, "reason",
                         "no ledger is configured ([ledger] path)");
    }
    uint64_t head = 0;
    uint8_t hash[LEDGER_HASH_SIZE];
    ledger_head(a->ledger, &head, hash);
    uint32_t counts[LEDGER_LEASE_STATE_MAX + 1] = {0};
    lease_walk walk = {.a = a, .list = NULL, .count = 0, .truncated = false};
    json_t *leases = json_object();
    if (walk_leases(a, &walk, counts) == MESH_OK) {
        for (uint32_t state = 1; state <= LEDGER_LEASE_STATE_MAX && leases != NULL; state++) {
            (void) json_object_set_new(leases, ledger_lease_state_name(state),
                                       json_integer(counts[state]));
        }
    }
    return json_pack("{s:b, s:s, s:I, s:I, s:o}", "open", 1, "path", a->config->ledger_path,
                     "head_seq", (json_int_t) head, "balance_rows",
                     (json_int_t) ledger_balance_count(a->ledger), "leases", leases);
}

static json_t *balances_json(agent *a)
{
    json_t *rows = json_array();
    json_t *peers = json_array();
    uint32_t count = ledger_balance_count(a->ledger);
    ledger_balance row;
    ledger_balance previous;
    memset(&previous, 0, sizeof(previous));
    int64_t now_ns = node_now().realtime_ns;
    for (uint32_t i = 0; i < count && rows != NULL && peers != NULL; i++) {
        ledger_balance_at(a->ledger, i, &row);
        char peer[MCRYPTO_NODE_ID_TEXT_SIZE];
        peer_id_text(row.peer_key, peer);
        gossip_member_info info;
        const char *name = peer_name(a, row.peer_key, &info);
        (void) json_array_append_new(
            rows, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "peer", peer, "peer_name", name,
                            "class", ledger_class_name(row.resource_class), "model", row.model,
                            "lent_milli", (json_int_t) row.lent_milli, "borrowed_milli",
                            (json_int_t) row.borrowed_milli));
        // Rows come in peer key order: one total per peer.
        if (i > 0 && memcmp(previous.peer_key, row.peer_key, LEDGER_KEY_SIZE) == 0) {
            continue;
        }
        previous = row;
        uint64_t lent = 0;
        uint64_t borrowed = 0;
        ledger_peer_totals(a->ledger, row.peer_key, &lent, &borrowed);
        (void) json_array_append_new(
            peers, json_pack("{s:s, s:s, s:I, s:I, s:I}", "peer", peer, "peer_name", name,
                             "lent_milli", (json_int_t) lent, "borrowed_milli",
                             (json_int_t) borrowed, "reciprocity_milli",
                             (json_int_t) ledger_reciprocity(a->ledger, row.peer_key, now_ns)));
    }
    uint64_t head = 0;
    uint8_t hash[LEDGER_HASH_SIZE];
    ledger_head(a->ledger, &head, hash);
    return json_pack("{s:s, s:I, s:s, s:o, s:o}", "self", a->self_text, "head_seq",
                     (json_int_t) head, "units",
                     "milli unit-hours: vCPU-hours, GPU-hours of one model, memory GiB-hours, "
                     "storage GiB-hours; peer totals in milli vCPU-hour equivalents",
                     "peers", peers, "balances", rows);
}

static json_t *status_json(agent *a)
{
    uint32_t counts[NODE_METRICS_STATE_COUNT];
    count_members(a, counts);
    json_t *members = json_object();
    for (uint32_t s = GOSSIP_ALIVE; s <= GOSSIP_REVOKED && members != NULL; s++) {
        (void) json_object_set_new(members, gossip_state_name((gossip_state) s),
                                   json_integer(counts[s]));
    }
    (void) json_object_set_new(members, "total", json_integer(gossip_member_count(a->machine)));
    return json_pack("{s:s, s:s, s:s, s:f, s:o, s:I, s:o, s:o, s:b, s:I}", "name", a->config->name,
                     "id", a->self_text, "version", FEDMESH_VERSION, "uptime_s",
                     (double) (node_now().monotonic_ns - a->started_ns) / 1e9, "members", members,
                     "advert_sequence", (json_int_t) own_sequence(a), "load", load_json(a),
                     "ledger", ledger_status_json(a), "self_revoked",
                     gossip_self_revoked(a->machine), "revocations_held",
                     (json_int_t) gossip_revocation_count(a->machine));
}

static void respond_json(agent *a, node_http_request *request, json_t *body)
{
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(body);
    if (text == NULL) {
        node_http_respond_error(a->http, request, 500, "internal", "out of memory");
        return;
    }
    node_http_respond(a->http, request, 200, "application/json", text, strlen(text));
    free(text);
}

static void respond_metrics(agent *a, node_http_request *request)
{
    gossip_stats gossip_part;
    gossip_stats_get(a->machine, &gossip_part);
    node_transport_stats transport_part;
    node_transport_stats_get(a->transport, &transport_part);
    node_http_stats http_part;
    node_http_stats_get(a->http, &http_part);
    node_metrics_input input = {
        .name = a->config->name,
        .id = a->self_text,
        .version = FEDMESH_VERSION,
        .uptime_s = (double) (node_now().monotonic_ns - a->started_ns) / 1e9,
        .advert_sequence = own_sequence(a),
        .gossip = &gossip_part,
        .transport = &transport_part,
        .http = &http_part,
        .tick_rounds = &a->tick_rounds,
        .message_rounds = &a->message_rounds,
        .load = a->load_known ? &a->load : NULL,
        .load_reports = a->load_reports,
        .load_realtime_ns = a->load_realtime_ns,
        .reloads = a->reloads,
        .reload_failures = a->reload_failures,
        .outbox_full = a->outbox_full,
        .call_errors = a->call_errors,
        .frames_oversize_in = a->frames_oversize_in,
        .outputs_ignored = a->outputs_ignored,
        .seeds_unreachable = a->seeds_unreachable,
        .ledger = a->ledger,
        .ledger_writes = &a->ledger_writes,
        .peer_label = metrics_peer_label,
        .peer_label_arg = a,
    };
    member_stats member_part;
    member_stats_get(a->member, &member_part);
    input.member = &member_part;
    input.lease = member_lease(a->member);
    node_hooks_stats hooks_part;
    node_hooks_stats_get(a->hooks, &hooks_part);
    input.hooks = &hooks_part;
    count_members(a, input.members_by_state);
    input.revocations = &a->revocations;
    input.revocations_held = gossip_revocation_count(a->machine);
    input.self_revoked = gossip_self_revoked(a->machine);
    char *text = NULL;
    size_t size = 0;
    mesh_err err = node_metrics_render(&input, &text, &size);
    if (err == MESH_OK) {
        err = node_record_metrics_append(&text, &size);
    }
    if (err != MESH_OK) {
        node_http_respond_error(a->http, request, 500, "internal", mesh_strerror(err));
        return;
    }
    node_http_respond(a->http, request, 200, "text/plain; version=0.0.4; charset=utf-8", text,
                      size);
    free(text);
}

static void accept_load(agent *a, node_http_request *request)
{
    a->load = *node_http_request_load(request);
    a->load_known = true;
    // Each class's demand takes capacity before lending does, may reclaim
    // lent leases, and drives bursting. A class this node does not have
    // is kept in the report and otherwise ignored.
    for (uint32_t i = 0; i < a->load.item_count; i++) {
        const node_load_item *item = &a->load.items[i];
        mesh_now now = node_now();
        node_record_set_load(now, item->resource_class, item->model, item->queued, item->running);
        mesh_err err = member_set_load(a->member, now, item->resource_class, item->model,
                                       item->queued, item->running, &a->rng);
        if (err != MESH_OK && err != MESH_ENOTFOUND) {
            check(a, err, "set_load");
        }
    }
    a->load_reports++;
    a->load_realtime_ns = node_now().realtime_ns;
    char scheduler[NODE_LOAD_SCHEDULER_SIZE + 3];
    node_log_quote(a->load.scheduler, scheduler, sizeof(scheduler));
    node_log(NODE_LOG_INFO, "http", "load_report", "scheduler=%s classes=%u reports=%llu",
             scheduler, a->load.item_count, (unsigned long long) a->load_reports);
    respond_json(a, request,
                 json_pack("{s:b, s:I, s:I}", "accepted", 1, "classes",
                           (json_int_t) a->load.item_count, "reports",
                           (json_int_t) a->load_reports));
}

static void respond_ledger(agent *a, node_http_request *request, node_http_route route)
{
    if (a->ledger == NULL) {
        node_http_respond_error(a->http, request, 503, "ledger_unavailable",
                                "no ledger is configured on this node; set [ledger] path");
        return;
    }
    if (route == NODE_HTTP_ROUTE_BALANCES) {
        respond_json(a, request, balances_json(a));
        return;
    }
    mesh_err err = MESH_OK;
    node_leases_context context = lease_context(a);
    json_t *body = node_leases_list_json(&context, &err);
    if (body == NULL) {
        node_log(NODE_LOG_WARN, "ledger", "read_failed", "error=%s", mesh_err_name(err));
        node_http_respond_error(a->http, request, 500, "internal", mesh_strerror(err));
        return;
    }
    respond_json(a, request, body);
}

/* What this node can lend, class by class (GET and POST /v1/capacity). */
static json_t *capacity_json(agent *a)
{
    json_t *list = json_array();
    const lease_machine *machine = member_lease(a->member);
    uint32_t count = machine != NULL ? lease_capacity_count(machine) : 0;
    for (uint32_t i = 0; i < count && list != NULL; i++) {
        lease_capacity c;
        lease_capacity_at(machine, i, &c);
        (void) json_array_append_new(
            list, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "class",
                            node_http_class_name(c.resource_class), "model", c.model, "total",
                            (json_int_t) c.total, "lendable", (json_int_t) c.lendable, "keep",
                            (json_int_t) c.keep, "lent", (json_int_t) c.lent, "free_to_lend",
                            (json_int_t) c.free_to_lend, "local_demand",
                            (json_int_t) c.local_demand, "borrowed", (json_int_t) c.borrowed));
    }
    return json_pack("{s:o}", "resources", list);
}

/* POST /v1/capacity: an inventory system sets the totals. All or
 * nothing: every line is checked against the classes this node lends
 * before any is applied; leases already made stay, and the advert follows
 * at its bounded rate. */
static void set_capacity(agent *a, node_http_request *request)
{
    const node_capacity_report *report = node_http_request_capacity(request);
    const lease_machine *machine = member_lease(a->member);
    if (machine == NULL) {
        node_http_respond_error(a->http, request, 503, "ledger_unavailable",
                                "lending needs a ledger: set [ledger] path");
        return;
    }
    for (uint32_t i = 0; i < report->item_count; i++) {
        const node_capacity_item *item = &report->items[i];
        bool known = false;
        for (uint32_t j = 0; j < lease_capacity_count(machine) && !known; j++) {
            lease_capacity c;
            lease_capacity_at(machine, j, &c);
            if (c.resource_class == item->resource_class && strcmp(c.model, item->model) == 0) {
                known = true;
                if (c.keep > item->total) {
                    char message[NODE_HTTP_MESSAGE_SIZE];
                    (void) snprintf(message, sizeof(message),
                                    "resources[%u].total: under what this node keeps for its own "
                                    "peaks (%llu; [capacity] keep)",
                                    i, (unsigned long long) c.keep);
                    node_http_respond_error(a->http, request, 400, "invalid_request", message);
                    return;
                }
            }
        }
        if (!known) {
            char message[NODE_HTTP_MESSAGE_SIZE];
            (void) snprintf(message, sizeof(message),
                            "resources[%u].class: this node does not lend %s%s%s; add it to "
                            "[capacity] and reload",
                            i, node_http_class_name(item->resource_class),
                            item->model[0] != '\0' ? " " : "", item->model);
            node_http_respond_error(a->http, request, 400, "invalid_request", message);
            return;
        }
    }
    for (uint32_t i = 0; i < report->item_count; i++) {
        const node_capacity_item *item = &report->items[i];
        node_record_set_capacity(item->resource_class, item->model, item->total, item->lendable);
        mesh_err err = member_set_capacity(a->member, item->resource_class, item->model,
                                           item->total, item->lendable);
        MESH_ASSERT(err == MESH_OK); // checked above
        node_log(
            NODE_LOG_INFO, "agent", "capacity_set", "class=%s model=%s total=%llu lendable=%llu",
            node_http_class_name(item->resource_class), item->model[0] != '\0' ? item->model : "-",
            (unsigned long long) item->total, (unsigned long long) item->lendable);
    }
    respond_json(a, request, capacity_json(a));
}

/* POST /v1/revocations: the body is the armored revocation file. */
static void respond_publish(agent *a, node_http_request *request)
{
    size_t size = 0;
    const char *body = node_http_request_body(request, &size);
    int status = 0;
    json_t *answer = publish_revocation(a, body, (uint32_t) size, &status);
    if (status != 200) {
        const char *code = json_string_value(json_object_get(answer, "code"));
        const char *message = json_string_value(json_object_get(answer, "error"));
        node_http_respond_error(a->http, request, (uint16_t) status,
                                code != NULL ? code : "internal",
                                message != NULL ? message : "out of memory");
        json_decref(answer);
        return;
    }
    respond_json(a, request, answer);
}

/* Answers every HTTP request waiting for the loop. */
static void serve_http(agent *a)
{
    if (a->http == NULL) {
        return;
    }
    // Bounded: the queue holds at most NODE_HTTP_QUEUE_MAX, and requests
    // that arrive meanwhile wake the loop again.
    for (uint32_t i = 0; i < NODE_HTTP_QUEUE_MAX; i++) {
        node_http_request *request = node_http_next(a->http);
        if (request == NULL) {
            return;
        }
        switch (node_http_request_route(request)) {
        case NODE_HTTP_ROUTE_STATUS:
            respond_json(a, request, status_json(a));
            break;
        case NODE_HTTP_ROUTE_PEERS:
            respond_json(a, request, peers_json(a));
            break;
        case NODE_HTTP_ROUTE_METRICS:
            respond_metrics(a, request);
            break;
        case NODE_HTTP_ROUTE_LOAD:
            accept_load(a, request);
            break;
        case NODE_HTTP_ROUTE_BALANCES:
        case NODE_HTTP_ROUTE_LEASES:
            respond_ledger(a, request, node_http_request_route(request));
            break;
        case NODE_HTTP_ROUTE_LEASE_CREATE:
        case NODE_HTTP_ROUTE_LEASE_DELETE:
        case NODE_HTTP_ROUTE_LEASE_GET:
        case NODE_HTTP_ROUTE_LEDGER_RECONCILE: {
            node_leases_context context = lease_context(a);
            node_leases_serve(a->leases, &context, request);
            break;
        }
        case NODE_HTTP_ROUTE_CAPACITY_GET:
            respond_json(a, request, capacity_json(a));
            break;
        case NODE_HTTP_ROUTE_CAPACITY_SET:
            set_capacity(a, request);
            break;
        case NODE_HTTP_ROUTE_REVOCATIONS:
            respond_json(a, request, node_revocations_json(&a->revocations, a->machine));
            break;
        case NODE_HTTP_ROUTE_REVOCATION_PUBLISH:
            respond_publish(a, request);
            break;
        case NODE_HTTP_ROUTE_NONE:
        default:
            node_http_respond_error(a->http, request, 500, "internal", "unexpected route");
            break;
        }
    }
    node_transport_wake(a->transport); // more may be waiting
}

/* The part of an advert the config sets: resources, carbon, endpoints.
 * Field by field: the struct has padding, so memcmp would not do. */
static bool advert_content_equal(const wire_advert *x, const wire_advert *y)
{
    if (x->carbon_gco2_per_kwh != y->carbon_gco2_per_kwh ||
        x->resource_count != y->resource_count || strcmp(x->endpoint, y->endpoint) != 0 ||
        strcmp(x->api_endpoint, y->api_endpoint) != 0) {
        return false;
    }
    MESH_ASSERT(x->resource_count <= WIRE_RESOURCES_MAX);
    for (uint32_t i = 0; i < x->resource_count; i++) {
        const wire_resource *r = &x->resources[i];
        const wire_resource *q = &y->resources[i];
        if (r->resource_class != q->resource_class || strcmp(r->model, q->model) != 0 ||
            r->total != q->total || r->free != q->free || r->lendable != q->lendable ||
            r->price_microeur_per_unit_hour != q->price_microeur_per_unit_hour) {
            return false;
        }
    }
    return true;
}

/* The keys a reload does not apply, as "section.key" words (a whole
 * section where its keys only work together). Every word at once takes
 * about 1,050 bytes: text holds them all. */
typedef struct restart_list {
    char text[1280];
    uint32_t size;
} restart_list;

static void restart_add(restart_list *list, bool differs, const char *key)
{
    if (!differs) {
        return;
    }
    size_t key_size = strlen(key);
    MESH_ASSERT(list->size + key_size + 2 <= sizeof(list->text));
    if (list->size > 0) {
        list->text[list->size++] = ' ';
    }
    memcpy(list->text + list->size, key, key_size + 1);
    list->size += (uint32_t) key_size;
}

static bool text_differs(const char *x, const char *y)
{
    return strcmp(x, y) != 0;
}

/* What changed between the running config and a fresh read that only a
 * restart applies: everything but the log level, revocation files, the
 * HTTP token and the advert's content (totals, free and lendable, which
 * the lender's policy follows; prices, carbon and api_endpoint, which only
 * the advert does). */
static void restart_needed(const node_config *old, const node_config *fresh, restart_list *list)
{
    memset(list, 0, sizeof(*list));
    restart_add(list, text_differs(old->name, fresh->name), "node.name");
    restart_add(list, text_differs(old->key_file, fresh->key_file), "node.key_file");
    restart_add(list, text_differs(old->certificate_file, fresh->certificate_file),
                "node.certificate_file");
    restart_add(list, text_differs(old->root_public_key_file, fresh->root_public_key_file),
                "node.root_public_key_file");
    restart_add(list, text_differs(old->listen, fresh->listen), "node.listen");
    restart_add(list, text_differs(old->advertise, fresh->advertise), "node.advertise");
    restart_add(list, text_differs(old->control, fresh->control), "node.control");
    restart_add(list, text_differs(old->data_dir, fresh->data_dir), "node.data_dir");
    bool seeds = old->seed_count != fresh->seed_count;
    for (uint32_t i = 0; i < old->seed_count && !seeds; i++) {
        seeds = text_differs(old->seeds[i], fresh->seeds[i]);
    }
    restart_add(list, seeds, "node.seeds");
    const gossip_config *g = &old->gossip;
    const gossip_config *h = &fresh->gossip;
    restart_add(list, g->probe_interval_ns != h->probe_interval_ns, "gossip.probe_interval_ms");
    restart_add(list, g->probe_timeout_ns != h->probe_timeout_ns, "gossip.probe_timeout_ms");
    restart_add(list, g->suspicion_min_ns != h->suspicion_min_ns, "gossip.suspicion_min_ms");
    restart_add(list, g->suspicion_max_ns != h->suspicion_max_ns, "gossip.suspicion_max_ms");
    restart_add(list, g->advert_refresh_ns != h->advert_refresh_ns, "gossip.advert_refresh_s");
    restart_add(list, g->rejoin_interval_ns != h->rejoin_interval_ns, "gossip.rejoin_interval_s");
    restart_add(list, g->down_forget_ns != h->down_forget_ns, "gossip.down_forget_s");
    restart_add(list, g->clock_skew_max_ns != h->clock_skew_max_ns, "gossip.clock_skew_max_s");
    restart_add(list, g->members_max != h->members_max, "gossip.members_max");
    restart_add(list, g->revocations_max != h->revocations_max, "gossip.revocations_max");
    restart_add(list, g->fanout != h->fanout, "gossip.fanout");
    restart_add(list, old->udp_probes != fresh->udp_probes, "gossip.udp_probes");
    restart_add(list, g->indirect_probes != h->indirect_probes, "gossip.indirect_probes");
    restart_add(list, g->digest_pages_per_round != h->digest_pages_per_round,
                "gossip.digest_pages_per_round");
    restart_add(list, g->bytes_per_s_per_peer_max != h->bytes_per_s_per_peer_max,
                "gossip.bytes_per_s_per_peer_max");
    // The advert takes a new carbon figure (and api_endpoint) at once, but
    // the lender checks borrowers' carbon limits against the one it
    // started with.
    restart_add(list, g->advert.carbon_gco2_per_kwh != h->advert.carbon_gco2_per_kwh,
                "capacity.carbon_gco2_per_kwh");
    // Totals and lendable are applied; the class set and the rest of the
    // lender's policy are read at start only.
    bool classes = old->lease.class_count != fresh->lease.class_count;
    bool policy = false;
    for (uint32_t i = 0; i < old->lease.class_count && !classes; i++) {
        const lease_class_policy *x = &old->lease.classes[i];
        const lease_class_policy *y = &fresh->lease.classes[i];
        classes = x->resource_class != y->resource_class || text_differs(x->model, y->model);
        policy = policy || x->keep != y->keep || x->per_peer_max != y->per_peer_max ||
                 x->price_microeur_per_unit_hour != y->price_microeur_per_unit_hour;
    }
    restart_add(list, classes, "capacity.classes");
    restart_add(list, policy && !classes, "capacity.keep_per_peer_max_price");
    restart_add(list, text_differs(old->http_listen, fresh->http_listen), "http.listen");
    restart_add(list, old->http_body_max != fresh->http_body_max, "http.body_max");
    restart_add(list, text_differs(old->ledger_path, fresh->ledger_path), "ledger.path");
    restart_add(list, old->ledger_half_life_ns != fresh->ledger_half_life_ns, "ledger.half_life_s");
    restart_add(list, text_differs(old->tls_cert_key_file, fresh->tls_cert_key_file),
                "tls.cert_key_file");
    restart_add(list, text_differs(old->tls_ca_file, fresh->tls_ca_file), "tls.ca_file");
    restart_add(list, text_differs(old->record_path, fresh->record_path), "record.path");
    restart_add(list, old->record_bytes_max != fresh->record_bytes_max, "record.max_mib");
    restart_add(list, old->record_keep != fresh->record_keep, "record.keep");
    const lease_config *l = &old->lease;
    const lease_config *m = &fresh->lease;
    restart_add(list, l->offer_ttl_ns != m->offer_ttl_ns, "lease.offer_ttl_ms");
    restart_add(list, l->request_timeout_ns != m->request_timeout_ns, "lease.request_timeout_ms");
    restart_add(list, l->retry_interval_ns != m->retry_interval_ns, "lease.retry_interval_ms");
    restart_add(list, l->retry_max_ns != m->retry_max_ns, "lease.retry_max_s");
    restart_add(list, l->usage_interval_ns != m->usage_interval_ns, "lease.usage_interval_s");
    restart_add(list, l->reclaim_notice_ns != m->reclaim_notice_ns, "lease.reclaim_notice_s");
    restart_add(list, l->duration_max_ns != m->duration_max_ns, "lease.duration_max_h");
    restart_add(list, l->start_ahead_max_ns != m->start_ahead_max_ns, "lease.start_ahead_max_h");
    restart_add(list, l->clock_skew_max_ns != m->clock_skew_max_ns, "lease.clock_skew_max_s");
    restart_add(list, l->leases_max != m->leases_max, "lease.leases_max");
    restart_add(list, l->borrows_max != m->borrows_max, "lease.borrows_max");
    restart_add(list, l->in_flight_max != m->in_flight_max, "lease.in_flight_max");
    restart_add(list, l->candidates_max != m->candidates_max, "lease.candidates_max");
    restart_add(list, l->reciprocity_share_permille != m->reciprocity_share_permille,
                "lease.reciprocity_share_permille");
    restart_add(list,
                l->weights.reciprocity != m->weights.reciprocity ||
                    l->weights.rtt != m->weights.rtt || l->weights.price != m->weights.price ||
                    l->weights.carbon != m->weights.carbon,
                "lease.weight_*");
    restart_add(list, text_differs(old->default_data_class, fresh->default_data_class),
                "lease.default_data_class");
    bool classes_differ = old->data_class_count != fresh->data_class_count;
    for (uint32_t i = 0; i < old->data_class_count && !classes_differ; i++) {
        const node_data_class *x = &old->data_classes[i];
        const node_data_class *y = &fresh->data_classes[i];
        classes_differ = text_differs(x->name, y->name) ||
                         !node_config_constraints_within(&x->constraints, &y->constraints) ||
                         !node_config_constraints_within(&y->constraints, &x->constraints);
    }
    restart_add(list, classes_differ, "data_class");
    const member_burst_config *b = &old->burst;
    const member_burst_config *c = &fresh->burst;
    restart_add(list,
                b->enabled != c->enabled || b->threshold != c->threshold ||
                    b->release_margin != c->release_margin ||
                    b->release_delay_ns != c->release_delay_ns ||
                    b->lease_duration_ns != c->lease_duration_ns || b->retry_ns != c->retry_ns ||
                    text_differs(b->constraints.data_class, c->constraints.data_class),
                "burst");
    const node_hooks *h0 = &old->hooks;
    const node_hooks *h1 = &fresh->hooks;
    restart_add(list,
                text_differs(h0->on_granted, h1->on_granted) ||
                    text_differs(h0->on_reclaim_notice, h1->on_reclaim_notice) ||
                    text_differs(h0->on_ended, h1->on_ended) ||
                    text_differs(h0->on_member, h1->on_member) || h0->timeout_ns != h1->timeout_ns,
                "hooks");
}

/* SIGHUP: applies what can change without a restart (see the file head). */
static void agent_reload(agent *a)
{
    node_config *fresh = malloc(sizeof(*fresh));
    char error[NODE_CONFIG_ERROR_SIZE];
    mesh_err err = fresh == NULL ? MESH_ENOMEM : node_config_load(a->config_path, fresh, error);
    if (err != MESH_OK) {
        char quoted[NODE_CONFIG_ERROR_SIZE + 3];
        node_log_quote(fresh == NULL ? "out of memory" : error, quoted, sizeof(quoted));
        node_log(NODE_LOG_WARN, "agent", "reload_failed", "error=%s kept=all", quoted);
        a->reload_failures++;
        free(fresh);
        return;
    }
    const char *level = "pinned";
    if (!a->log_level_pinned) {
        node_log_set_level(fresh->log_level);
        level = node_log_level_name(fresh->log_level);
    }
    static uint8_t frame[WIRE_FRAME_SIZE_MAX];
    uint32_t revocations = 0;
    uint32_t refused = 0;
    for (uint32_t i = 0; i < fresh->revocation_file_count; i++) {
        uint32_t size = 0;
        // node_read_armored prints its own error, on stderr like the log.
        if (node_read_armored("agent", fresh->revocation_files[i], "REVOCATION", frame, &size) !=
            MESH_OK) {
            refused++;
            continue;
        }
        mesh_now now = node_now();
        node_record_add_revocation(now, frame, size);
        err = member_add_revocation(a->member, now, frame, size, &a->rng);
        flush(a, "add_revocation"); // a refusal is counted below
        if (err != MESH_OK) {
            refused++;
        } else {
            revocations++;
        }
    }
    const char *token = "none";
    if (a->http != NULL && fresh->http_token_file[0] != '\0') {
        char token_error[NODE_HTTP_MESSAGE_SIZE];
        token = node_http_reload_token(a->http, fresh->http_token_file, token_error) == MESH_OK
                    ? "reloaded"
                    : "kept";
        if (strcmp(token, "kept") == 0) {
            char quoted[NODE_HTTP_MESSAGE_SIZE + 3];
            node_log_quote(token_error, quoted, sizeof(quoted));
            node_log(NODE_LOG_WARN, "http", "token_reload_failed", "error=%s", quoted);
        }
    }
    const char *capacity = "unchanged";
    if (!advert_content_equal(&fresh->gossip.advert, &a->advert) &&
        strcmp(fresh->gossip.advert.endpoint, a->advert.endpoint) == 0) {
        // An inventory change: the lending policy takes the new totals
        // (leases already made stay), and the advert follows.
        for (uint32_t i = 0; i < fresh->lease.class_count; i++) {
            const lease_class_policy *p = &fresh->lease.classes[i];
            node_record_set_capacity(p->resource_class, p->model, p->total, p->lendable);
            mesh_err set =
                member_set_capacity(a->member, p->resource_class, p->model, p->total, p->lendable);
            if (set != MESH_OK) {
                node_log(NODE_LOG_WARN, "agent", "capacity_refused", "class=%s model=%s error=%s",
                         node_http_class_name(p->resource_class), p->model, mesh_err_name(set));
            }
        }
        mesh_now now = node_now();
        node_record_update_advert(now, &fresh->gossip.advert);
        err = member_update_advert(a->member, now, &fresh->gossip.advert, &a->rng);
        check(a, err, "update_advert");
        flush(a, "update_advert");
        capacity = err == MESH_OK ? "republished" : "refused";
        if (err == MESH_OK) {
            a->advert = fresh->gossip.advert;
        }
    }
    a->reloads++;
    restart_list restart;
    restart_needed(a->config, fresh, &restart);
    node_log(restart.size > 0 ? NODE_LOG_WARN : NODE_LOG_INFO, "agent", "reloaded",
             "config=%s log_level=%s revocations=%u revocations_refused=%u token=%s capacity=%s "
             "restart_needed_for=\"%s\"",
             a->config_path, level, revocations, refused, token, capacity,
             restart.size > 0 ? restart.text : "none");
    free(fresh);
}

static void on_frame(agent *a, nng_msg *frame)
{
    size_t size = nng_msg_len(frame);
    if (size == 0 || size > WIRE_FRAME_SIZE_MAX) {
        // NNG lets frames up to NODE_TRANSPORT_OVERSIZE_SLACK bytes over the
        // limit through (transport.c says why): refused here and counted.
        a->frames_oversize_in++;
        return;
    }
    mesh_now now = node_now();
    node_record_frame(now, nng_msg_body(frame), (uint32_t) size);
    mesh_err err = member_on_frame(a->member, now, nng_msg_body(frame), (uint32_t) size, &a->rng);
    check(a, err, "on_message");
    node_metrics_observe(&a->message_rounds, node_now().monotonic_ns - now.monotonic_ns);
}

static void tick_if_due(agent *a)
{
    mesh_now now = node_now();
    if (now.monotonic_ns < member_deadline_ns(a->member)) {
        return;
    }
    node_record_tick(now);
    mesh_err err = member_on_tick(a->member, now, &a->rng);
    check(a, err, "on_tick");
    flush(a, "on_tick");
    node_metrics_observe(&a->tick_rounds, node_now().monotonic_ns - now.monotonic_ns);
}

/* True when a member other than this node, alive in the view, advertises
 * endpoint: the seed was reached (the gossip machine's own rule for
 * seeds it stops knocking on). */
static bool seed_reached(agent *a, const char *endpoint)
{
    uint32_t count = gossip_member_count(a->machine);
    for (uint32_t i = 0; i < count; i++) {
        gossip_member_info info;
        wire_advert advert;
        if (gossip_member_at(a->machine, i, &info) != MESH_OK) {
            break;
        }
        if (!info.self && info.state == GOSSIP_ALIVE && info.sequence > 0 &&
            gossip_member_advert(a->machine, &info.id, &advert) == MESH_OK &&
            strcmp(advert.endpoint, endpoint) == 0) {
            return true;
        }
    }
    return false;
}

/* Once per [gossip] rejoin_interval_s (the machine knocks on unreached
 * seeds that often), from one interval after the start: one warning and
 * one count per seed that no alive member advertises, so a typo in seeds
 * or a firewall shows in the log instead of a silent lone member. Bounded:
 * at most seed_count lines per interval. */
static void seeds_check(agent *a)
{
    uint64_t interval_ns = a->config->gossip.rejoin_interval_ns;
    uint64_t now_ns = node_now().monotonic_ns;
    if (a->seed_count == 0 || now_ns - a->started_ns < interval_ns ||
        now_ns - a->seeds_checked_ns < interval_ns) {
        return;
    }
    a->seeds_checked_ns = now_ns;
    for (uint32_t i = 0; i < a->seed_count; i++) {
        MESH_ASSERT(i < GOSSIP_SEEDS_MAX);
        if (seed_reached(a, a->seeds[i])) {
            if (a->seed_warned_ns[i] != 0) {
                node_log(NODE_LOG_INFO, "gossip", "seed_reached", "seed=%s", a->seeds[i]);
                a->seed_warned_ns[i] = 0;
            }
            continue;
        }
        a->seeds_unreachable++;
        a->seed_warned_ns[i] = now_ns;
        node_log(NODE_LOG_WARN, "gossip", "seed_unreachable",
                 "seed=%s interval_s=%llu reason=\"no alive member advertises it: down, "
                 "unreachable, or its advertise differs\"",
                 a->seeds[i], (unsigned long long) (interval_ns / MESH_NS_PER_S));
    }
}

static void agent_loop(agent *a)
{
    node_wakeup *wakeup = &a->wakeup;
    for (;;) {
        node_transport_wait(a->transport, member_deadline_ns(a->member), wakeup);
        MESH_ASSERT(wakeup->frame_count <= NODE_TRANSPORT_BATCH_MAX);
        for (uint32_t i = 0; i < wakeup->frame_count; i++) {
            on_frame(a, wakeup->frames[i]);
            nng_msg_free(wakeup->frames[i]);
        }
        // One group commit for the whole batch: the ledger writes of every
        // frame in it are synced once, then their answers leave.
        if (wakeup->frame_count > 0) {
            flush(a, "on_message");
        }
        // A burst of frames must not starve the timers.
        tick_if_due(a);
        if (wakeup->control_request != NULL) {
            answer_control(a, wakeup->control_request);
        }
        if (wakeup->woken) {
            if (atomic_exchange(&a->waiter->reload, false)) {
                agent_reload(a);
            }
            serve_http(a);
            node_leases_context context = lease_context(a);
            node_leases_poll(a->leases, &context);
            flush(a, "http");
        }
        if (wakeup->stop) {
            return;
        }
        tick_if_due(a);
        seeds_check(a);
    }
}

/* Reads the key, the root key and the certificate, checks that they belong
 * together, and fills the identity part of settings. */
static int load_identity(const node_config *config,
                         gossip_config *settings,
                         uint8_t *cert_frame,
                         uint32_t *cert_frame_size)
{
    const char *command = "agent";
    mesh_err secret = node_load_secret(command, config->key_file, &settings->keypair);
    if (secret != MESH_OK) {
        // README, exit codes: a key readable by others is refused (4),
        // one that cannot be read or is malformed is input (3).
        return node_exit_from_err(secret);
    }
    if (node_load_public(command, config->root_public_key_file, settings->root_public_key) !=
            MESH_OK ||
        node_read_armored(command, config->certificate_file, "CERTIFICATE", cert_frame,
                          cert_frame_size) != MESH_OK) {
        return NODE_EXIT_INPUT;
    }
    wire_cert cert;
    mcrypto_cert_status status = MCRYPTO_CERT_MALFORMED;
    mesh_err err = mcrypto_cert_check(settings->root_public_key, cert_frame, *cert_frame_size,
                                      node_now().realtime_ns, NULL, 0, &cert, &status);
    if (err != MESH_OK) {
        node_say_error(command, "%s: the certificate is not valid: %s", config->certificate_file,
                       mcrypto_cert_status_text(status));
        return NODE_EXIT_INVALID;
    }
    if (sodium_memcmp(cert.public_key, settings->keypair.public_key, MCRYPTO_PUBLIC_KEY_SIZE) !=
        0) {
        node_say_error(command,
                       "%s was issued for another key than %s; use the certificate the "
                       "federation issued for this node's key",
                       config->certificate_file, config->key_file);
        return NODE_EXIT_INVALID;
    }
    if (strcmp(cert.name, config->name) != 0) {
        node_say_error(command,
                       "[node] name is '%s' but the certificate names '%s'; make them "
                       "match",
                       config->name, cert.name);
        return NODE_EXIT_INPUT;
    }
    return NODE_EXIT_OK;
}

/* One revocation read back from the data directory. A refusal (a root
 * changed since, say) is logged and the file left for the operator. */
static void restore_revocation(void *arg, const uint8_t *frame, uint32_t size, const char *endpoint)
{
    agent *a = arg;
    mesh_now now = node_now();
    node_record_add_revocation(now, frame, size);
    mesh_err err = member_add_revocation(a->member, now, frame, size, &a->rng);
    flush(a, "add_revocation");
    wire_revocation revocation;
    if (err != MESH_OK ||
        mcrypto_revocation_check(a->root_public_key, frame, size, &revocation) != MESH_OK) {
        node_log(NODE_LOG_WARN, "agent", "revocation_not_restored", "error=%s",
                 mesh_err_name(err != MESH_OK ? err : MESH_EAUTH));
        return;
    }
    if (endpoint[0] != '\0') {
        mesh_node_id id;
        mcrypto_node_id(revocation.public_key, &id);
        node_record_revocation_endpoint(node_now(), &id, endpoint);
        if (member_revocation_set_endpoint(a->member, &id, endpoint) != MESH_OK) {
            node_log(NODE_LOG_WARN, "agent", "revocation_endpoint_refused", "endpoint_size=%zu",
                     strlen(endpoint));
        }
    }
}

static int add_revocations(agent *a, const node_config *config)
{
    if (node_revocations_init(&a->revocations, config, a->root_public_key, &a->self_id) !=
        MESH_OK) {
        return NODE_EXIT_INPUT;
    }
    node_revocations_restore(&a->revocations, config->gossip.revocations_max, restore_revocation,
                             a);
    if (a->revocations.restored > 0) {
        node_log(NODE_LOG_INFO, "agent", "revocations_restored", "dir=%s count=%u held=%u",
                 a->revocations.dir, a->revocations.restored, gossip_revocation_count(a->machine));
    }
    static uint8_t frame[WIRE_FRAME_SIZE_MAX];
    for (uint32_t i = 0; i < config->revocation_file_count; i++) {
        const char *path = config->revocation_files[i];
        uint32_t size = 0;
        if (node_read_armored("agent", path, "REVOCATION", frame, &size) != MESH_OK) {
            return NODE_EXIT_INPUT;
        }
        mesh_now now = node_now();
        node_record_add_revocation(now, frame, size);
        mesh_err err = member_add_revocation(a->member, now, frame, size, &a->rng);
        flush(a, "add_revocation");
        if (err != MESH_OK) {
            node_say_error("agent", "%s: revocation refused: %s", path, mesh_strerror(err));
            return node_exit_from_err(err);
        }
    }
    return NODE_EXIT_OK;
}

static int agent_open_ledger(agent *a);

/* Creates the member (gossip, leases and the ledger) from the config and
 * the identity files; opens the ledger first. */
static int agent_create_machine(agent *a)
{
    const node_config *config = a->config;
    gossip_config settings = config->gossip;
    static uint8_t cert_frame[WIRE_FRAME_SIZE_MAX];
    uint32_t cert_frame_size = 0;
    int rc = load_identity(config, &settings, cert_frame, &cert_frame_size);
    if (rc != NODE_EXIT_OK) {
        mcrypto_keypair_wipe(&settings.keypair);
        return rc;
    }
    mcrypto_node_id(settings.keypair.public_key, &a->self_id);
    memcpy(a->self_public_key, settings.keypair.public_key, MCRYPTO_PUBLIC_KEY_SIZE);
    memcpy(a->root_public_key, settings.root_public_key, MCRYPTO_PUBLIC_KEY_SIZE);
    id_text(&a->self_id, a->self_text);
    // One seed list can serve the whole federation: this node's own
    // endpoints are left out.
    const char *seeds[GOSSIP_SEEDS_MAX];
    uint32_t seed_count = 0;
    for (uint32_t i = 0; i < config->seed_count; i++) {
        if (strcmp(config->seeds[i], config->advertise) != 0 &&
            strcmp(config->seeds[i], config->listen) != 0) {
            seeds[seed_count++] = config->seeds[i];
        }
    }
    settings.seeds = seeds;
    settings.seed_count = seed_count;
    memcpy(a->seeds, seeds, sizeof(seeds));
    a->seed_count = seed_count;
    settings.cert_frame = cert_frame;
    settings.cert_frame_size = cert_frame_size;
    rc = agent_open_ledger(a);
    if (rc != NODE_EXIT_OK) {
        mcrypto_keypair_wipe(&settings.keypair);
        return rc;
    }
    member_config member_settings;
    member_config_default(&member_settings);
    member_settings.gossip = settings;
    member_settings.lease = config->lease;
    member_settings.burst = config->burst;
    member_settings.ledger_handle = a->ledger;
    member_settings.store = a->ledger != NULL ? &a->ledger_iface : NULL;
    member_settings.io = (member_io){.ctx = a, .send = agent_send, .event = agent_event};
    mesh_now now = node_now();
    node_record_create(now, &member_settings, &a->rng);
    mesh_err err = member_create(&member_settings, now, &a->rng, &a->member);
    mcrypto_keypair_wipe(&settings.keypair);
    mcrypto_keypair_wipe(&member_settings.gossip.keypair);
    if (err != MESH_OK) {
        node_say_error("agent",
                       "cannot start: %s (check the [gossip] and [lease] values, the "
                       "certificate, and the ledger: fedmesh ledger verify)",
                       mesh_strerror(err));
        return node_exit_from_err(err);
    }
    a->machine = member_gossip(a->member);
    if (a->ledger != NULL) {
        node_log(NODE_LOG_INFO, "lease", "restored", "leases=%u",
                 lease_count(member_lease(a->member)));
    }
    return NODE_EXIT_OK;
}

/* Opens the ledger at [ledger] path (RocksDB, created when missing) for
 * this node's key. */
static int agent_open_ledger(agent *a)
{
    const char *path = a->config->ledger_path;
    if (path[0] == '\0') {
        return NODE_EXIT_OK;
    }
    mesh_err err = ledger_rocks_store_open(path, LEDGER_ROCKS_CREATE, &a->ledger_rocks);
    if (err != MESH_OK) {
        node_say_error("agent", "%s: cannot open the ledger: %s (is another agent using it?)", path,
                       mesh_strerror(err));
        return node_exit_from_err(err);
    }
    a->ledger_iface = ledger_rocks_store_interface(a->ledger_rocks);
    node_record_wrap_store(&a->ledger_iface); // snapshot and wrap, when recording
    ledger_config settings;
    ledger_config_default(&settings);
    memcpy(settings.self_key, a->self_public_key, LEDGER_KEY_SIZE);
    settings.half_life_ns = a->config->ledger_half_life_ns;
    node_record_ledger_open(&settings);
    err = ledger_open(&settings, &a->ledger_iface, &a->ledger);
    if (err != MESH_OK) {
        node_say_error("agent", "%s: %s%s", path, mesh_strerror(err),
                       err == MESH_EINVAL     ? " (the ledger belongs to another node key)"
                       : err == MESH_ECORRUPT ? " (run: fedmesh ledger verify)"
                                              : "");
        return node_exit_from_err(err);
    }
    uint64_t head = 0;
    uint8_t hash[LEDGER_HASH_SIZE];
    ledger_head(a->ledger, &head, hash);
    node_log(NODE_LOG_INFO, "ledger", "opened", "path=%s head_seq=%llu balance_rows=%u", path,
             (unsigned long long) head, ledger_balance_count(a->ledger));
    return NODE_EXIT_OK;
}

/* SIGTERM: every acknowledgement the ledger still holds is synced before
 * the goodbye; then the ledger and its store close. */
static void agent_close_ledger(agent *a, bool flush)
{
    if (a->ledger != NULL && flush) {
        uint64_t started_ns = node_now().monotonic_ns;
        node_record_ledger_sync();
        mesh_err err = ledger_sync(a->ledger, NULL, NULL);
        uint64_t took_ns = node_now().monotonic_ns - started_ns;
        node_metrics_observe(&a->ledger_writes, took_ns);
        uint64_t head = 0;
        uint8_t hash[LEDGER_HASH_SIZE];
        ledger_head(a->ledger, &head, hash);
        node_log(err == MESH_OK ? NODE_LOG_INFO : NODE_LOG_ERROR, "ledger", "flushed",
                 "head_seq=%llu duration_us=%llu result=%s", (unsigned long long) head,
                 (unsigned long long) (took_ns / 1000u), mesh_err_name(err));
    }
    ledger_close(a->ledger);
    a->ledger = NULL;
    ledger_rocks_store_close(a->ledger_rocks);
    a->ledger_rocks = NULL;
}

static int agent_run_with_signals(agent *a, signal_waiter *waiter)
{
    // The identity is checked before any socket opens: a refused
    // certificate never touches the network.
    int rc = agent_create_machine(a);
    if (rc != NODE_EXIT_OK) {
        return rc;
    }
    mesh_err err = node_transport_create(a->config, &a->transport);
    if (err == MESH_ETRANSPORT) {
        // A listener this host refuses: the address is in use, not on this
        // host, or not ours to take; the configuration or the host must
        // change, so not an internal error (README, exit codes).
        node_say_error("agent",
                       "cannot listen on [node] listen %s (TCP, and UDP for probes) or [node] "
                       "control %s: the log line above names which and why (address in use: "
                       "stop the other agent or change the endpoint)",
                       a->config->listen, a->config->control);
        return NODE_EXIT_UNAVAILABLE;
    }
    if (err != MESH_OK) {
        node_say_error("agent", "cannot start the transport: %s", mesh_strerror(err));
        return NODE_EXIT_INTERNAL;
    }
    rc = add_revocations(a, a->config);
    if (rc != NODE_EXIT_OK) {
        return rc;
    }
    if (a->config->http_listen[0] != '\0') {
        err = node_http_create(a->config, a->transport, &a->http);
        if (err == MESH_EAUTH) {
            return NODE_EXIT_REFUSED; // a token file others can read
        }
        if (err == MESH_EIO || err == MESH_EINVAL) {
            return NODE_EXIT_INPUT;
        }
        if (err == MESH_ETRANSPORT) {
            node_say_error("agent",
                           "cannot serve the HTTP API on [http] listen %s (see the log line "
                           "above; address in use: stop the other agent or change the "
                           "endpoint)",
                           a->config->http_listen);
            return NODE_EXIT_UNAVAILABLE;
        }
        if (err != MESH_OK) {
            node_say_error("agent", "cannot serve the HTTP API on %s: %s", a->config->http_listen,
                           mesh_strerror(err));
            return NODE_EXIT_INTERNAL;
        }
    }
    err = node_hooks_create(&a->config->hooks, a->transport, &a->hooks);
    if (err != MESH_OK) {
        node_say_error("agent", "cannot start the hook runner: %s", mesh_strerror(err));
        return NODE_EXIT_INTERNAL;
    }
    waiter->transport = a->transport;
    a->waiter = waiter;
    if (pthread_create(&waiter->thread, NULL, signal_main, waiter) != 0) {
        node_say_error("agent", "cannot start the signal thread");
        return NODE_EXIT_INTERNAL;
    }
    node_log(NODE_LOG_INFO, "agent", "started",
             "member=%s name=%s listen=%s advertise=%s control=%s seeds=%u", a->self_text,
             a->config->name, a->config->listen, a->config->advertise, a->config->control,
             a->config->seed_count);
    agent_loop(a);

    // Stopping, bounded by the signal thread's STOP_BOUND_S: the API
    // first (waiting requests get 503), then the goodbye.
    node_http_destroy(a->http);
    a->http = NULL;
    node_leases_forget_requests(a->leases);
    flush(a, "stop"); // every staged ledger write is synced before the goodbye
    agent_close_ledger(a, true);
    mesh_now now = node_now();
    node_record_leave(now);
    err = member_leave(a->member, now, &a->rng);
    check(a, err, "leave");
    nng_msleep(FLUSH_MS);
    node_log(NODE_LOG_INFO, "agent", "stopped", "member=%s name=%s", a->self_text, a->config->name);

    atomic_store(&waiter->exiting, true);
    (void) pthread_kill(waiter->thread, SIGUSR1);
    (void) pthread_join(waiter->thread, NULL);
    return NODE_EXIT_OK;
}

int node_agent_run(const node_config *config, const char *config_path, bool log_level_pinned)
{
    MESH_ASSERT(config != NULL && config_path != NULL);
    signal_waiter waiter;
    memset(&waiter, 0, sizeof(waiter));
    atomic_init(&waiter.exiting, false);
    atomic_init(&waiter.reload, false);
    // Before NNG starts a thread: every thread inherits this mask, so
    // only the signal thread ever sees SIGTERM and SIGINT.
    (void) sigemptyset(&waiter.set);
    (void) sigaddset(&waiter.set, SIGTERM);
    (void) sigaddset(&waiter.set, SIGINT);
    (void) sigaddset(&waiter.set, SIGHUP);
    (void) sigaddset(&waiter.set, SIGUSR1); /* the loop wakes the signal thread to end it */
    if (pthread_sigmask(SIG_BLOCK, &waiter.set, NULL) != 0) {
        node_say_error("agent", "cannot block signals");
        return NODE_EXIT_INTERNAL;
    }
    struct sigaction ignore;
    memset(&ignore, 0, sizeof(ignore));
    ignore.sa_handler = SIG_IGN;
    (void) sigaction(SIGPIPE, &ignore, NULL);

    agent *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        node_say_error("agent", "out of memory");
        return NODE_EXIT_INTERNAL;
    }
    a->config = config;
    a->config_path = config_path;
    a->log_level_pinned = log_level_pinned;
    a->advert = config->gossip.advert;
    a->started_ns = node_now().monotonic_ns;
    if (node_leases_create(&a->leases) != MESH_OK) {
        free(a);
        node_say_error("agent", "out of memory");
        return NODE_EXIT_INTERNAL;
    }
    uint64_t seed = 0;
    randombytes_buf(&seed, sizeof(seed));
    mesh_rng_seed(&a->rng, seed);
    if (config->record_path[0] != '\0') {
        char error[NODE_RECORD_PATH_SIZE + 128];
        if (node_record_start(config->record_path, config->record_bytes_max, config->record_keep,
                              config->name, error, sizeof(error)) != MESH_OK) {
            node_say_error("agent", "--record: %s", error);
            node_leases_destroy(a->leases);
            free(a);
            return NODE_EXIT_INPUT;
        }
    }

    int rc = agent_run_with_signals(a, &waiter);

    node_http_destroy(a->http);
    node_hooks_destroy(a->hooks);
    member_destroy(a->member); // before the ledger it borrows
    agent_close_ledger(a, false);
    node_transport_destroy(a->transport);
    node_leases_destroy(a->leases);
    node_record_stop(); // after the last input (the goodbye) and its outputs
    free(a);
    return rc;
}
