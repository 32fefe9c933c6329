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
 * then publishes a leaving advert (gossip_leave), executes the outbox,
 * gives NNG FLUSH_MS to put the frames on the wire, and returns 0. A
 * second signal while stopping exits at once with code 1.
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
#include "node/agent_int.h"
#include "node/log_int.h"
#include "node/node_int.h"

#define OUTBOX_ITEMS (4u * GOSSIP_OUTBOX_MIN)
#define FLUSH_MS     200

_Static_assert(OUTBOX_ITEMS >= GOSSIP_OUTBOX_MIN, "the outbox holds what one call may emit");

typedef struct agent {
    const node_config *config;
    gossip *machine;
    node_transport *transport;
    mesh_rng rng;
    mesh_outbox outbox;
    mesh_output items[OUTBOX_ITEMS];
    mesh_node_id self_id;
    char self_text[MCRYPTO_NODE_ID_TEXT_SIZE];
    uint64_t started_ns;
    /* Loop-thread counters, shown by "stats". */
    uint64_t outbox_full;
    uint64_t call_errors;
    uint64_t frames_oversize_in;
    uint64_t outputs_ignored;
    node_wakeup wakeup;
} agent;

/* The signal thread. */
typedef struct signal_waiter {
    pthread_t thread;
    sigset_t set;
    node_transport *transport;
    atomic_bool exiting;
} signal_waiter;

static void *signal_main(void *arg)
{
    signal_waiter *waiter = arg;
    uint32_t received = 0;
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
        received++;
        if (received > 1) {
            node_log(NODE_LOG_WARN, "agent", "forced_exit", "signal=%s", strsignal(sig));
            _exit(NODE_EXIT_INVALID);
        }
        node_log(NODE_LOG_INFO, "agent", "stopping", "signal=%s", strsignal(sig));
        node_transport_request_stop(waiter->transport);
    }
}

static void id_text(const mesh_node_id *id, char text[MCRYPTO_NODE_ID_TEXT_SIZE])
{
    mcrypto_node_id_format(id, text);
}

static void log_event(agent *a, const mesh_output *output)
{
    if (output->payload_size != sizeof(gossip_event)) {
        a->outputs_ignored++;
        return;
    }
    gossip_event event;
    memcpy(&event, output->payload, sizeof(event));
    char member[MCRYPTO_NODE_ID_TEXT_SIZE];
    id_text(&event.member, member);
    gossip_member_info info;
    const char *name = "?";
    if (gossip_member_find(a->machine, &event.member, &info) == MESH_OK) {
        name = info.name;
    }
    if (event.kind == GOSSIP_EVENT_ADVERT) {
        node_log(NODE_LOG_DEBUG, "gossip", "member_advert", "member=%s name=%s sequence=%llu",
                 member, name, (unsigned long long) event.sequence);
        return;
    }
    if (event.previous == 0) {
        node_log(NODE_LOG_INFO, "gossip", "member_join", "member=%s name=%s state=%s sequence=%llu",
                 member, name, gossip_state_name((gossip_state) event.state),
                 (unsigned long long) event.sequence);
        return;
    }
    node_log(NODE_LOG_INFO, "gossip", "member_state",
             "member=%s name=%s state=%s previous=%s sequence=%llu", member, name,
             gossip_state_name((gossip_state) event.state),
             gossip_state_name((gossip_state) event.previous), (unsigned long long) event.sequence);
}

/* Executes the outbox in order, then empties it. `err` is what the call
 * that filled it returned. */
static void drain(agent *a, mesh_err err, const char *call)
{
    MESH_ASSERT(a->outbox.count <= a->outbox.count_max);
    for (uint32_t i = 0; i < a->outbox.count; i++) {
        const mesh_output *output = &a->outbox.items[i];
        switch (output->kind) {
        case MESH_OUTPUT_SEND: {
            mesh_err sent = node_transport_send(a->transport, output->endpoint, output->payload,
                                                output->payload_size);
            if (sent != MESH_OK && node_log_enabled(NODE_LOG_DEBUG)) {
                char endpoint[WIRE_ENDPOINT_SIZE_MAX + 3];
                node_log_quote(output->endpoint != NULL ? output->endpoint : "", endpoint,
                               sizeof(endpoint));
                node_log(NODE_LOG_DEBUG, "transport", "send_dropped",
                         "endpoint=%s size=%u reason=%s", endpoint, output->payload_size,
                         mesh_err_name(sent));
            }
            break;
        }
        case MESH_OUTPUT_EVENT:
            log_event(a, output);
            break;
        case MESH_OUTPUT_LEDGER_WRITE: // Gossip writes no ledger; leases will (#4).
        default:
            a->outputs_ignored++;
            break;
        }
    }
    mesh_outbox_clear(&a->outbox);
    if (err == MESH_EFULL) {
        a->outbox_full++;
        node_log(NODE_LOG_WARN, "agent", "outbox_full", "call=%s items=%u", call, OUTBOX_ITEMS);
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
    return json_pack("{s:s, s:s, s:o}", "self", a->self_text, "name", a->config->name, "members",
                     members);
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
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "frames_received",
        (json_int_t) t.frames_received, "frames_sent", (json_int_t) t.frames_sent, "queue_dropped",
        (json_int_t) t.queue_dropped, "receive_errors", (json_int_t) t.receive_errors,
        "send_dropped", (json_int_t) t.send_dropped, "send_failed", (json_int_t) t.send_failed,
        "send_refused", (json_int_t) t.send_refused, "sockets_opened",
        (json_int_t) t.sockets_opened, "sockets_evicted", (json_int_t) t.sockets_evicted,
        "control_requests", (json_int_t) t.control_requests);
    json_t *agent_part = json_pack(
        "{s:I, s:I, s:I, s:I, s:f}", "outbox_full", (json_int_t) a->outbox_full, "call_errors",
        (json_int_t) a->call_errors, "frames_oversize_in", (json_int_t) a->frames_oversize_in,
        "outputs_ignored", (json_int_t) a->outputs_ignored, "uptime_s",
        (double) (node_now().monotonic_ns - a->started_ns) / 1e9);
    return json_pack("{s:s, s:s, s:o, s:o, s:o}", "self", a->self_text, "name", a->config->name,
                     "gossip", gossip_part, "transport", transport_part, "agent", agent_part);
}

/* Publishes this node's advert again at once, with a new sequence number:
 * what an operator (or a benchmark) does to push fresh news through the
 * federation without changing the configuration. */
static json_t *refresh_json(agent *a)
{
    // Logged before the frames leave, so that a reader of the logs can
    // time the advert's journey from here.
    node_log(NODE_LOG_INFO, "gossip", "advert_refresh_start", NULL);
    mesh_err err = gossip_update_advert(a->machine, node_now(), &a->config->gossip.advert, &a->rng,
                                        &a->outbox);
    drain(a, err, "update_advert");
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

static void answer_control(agent *a, nng_msg *request)
{
    json_t *reply = NULL;
    if (request_is(request, "peers")) {
        reply = peers_json(a);
    } else if (request_is(request, "stats")) {
        reply = stats_json(a);
    } else if (request_is(request, "refresh")) {
        reply = refresh_json(a);
    } else {
        reply = json_pack("{s:s}", "error",
                          "unknown request; the agent answers peers, stats and refresh");
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

static void on_frame(agent *a, nng_msg *frame)
{
    size_t size = nng_msg_len(frame);
    if (size == 0 || size > WIRE_FRAME_SIZE_MAX) {
        // NNG_OPT_RECVMAXSZ already refuses these; counted in case it ever does not.
        a->frames_oversize_in++;
        return;
    }
    mesh_now now = node_now();
    mesh_err err = gossip_on_message(a->machine, now, nng_msg_body(frame), (uint32_t) size, &a->rng,
                                     &a->outbox);
    drain(a, err, "on_message");
}

static void tick_if_due(agent *a)
{
    mesh_now now = node_now();
    if (now.monotonic_ns < gossip_deadline_ns(a->machine)) {
        return;
    }
    mesh_err err = gossip_on_tick(a->machine, now, &a->rng, &a->outbox);
    drain(a, err, "on_tick");
}

static void agent_loop(agent *a)
{
    node_wakeup *wakeup = &a->wakeup;
    for (;;) {
        node_transport_wait(a->transport, gossip_deadline_ns(a->machine), wakeup);
        MESH_ASSERT(wakeup->frame_count <= NODE_TRANSPORT_BATCH_MAX);
        for (uint32_t i = 0; i < wakeup->frame_count; i++) {
            on_frame(a, wakeup->frames[i]);
            nng_msg_free(wakeup->frames[i]);
            // A burst of frames must not starve the timers.
            tick_if_due(a);
        }
        if (wakeup->control_request != NULL) {
            answer_control(a, wakeup->control_request);
        }
        if (wakeup->stop) {
            return;
        }
        tick_if_due(a);
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
    if (node_load_secret(command, config->key_file, &settings->keypair) != MESH_OK ||
        node_load_public(command, config->root_public_key_file, settings->root_public_key) !=
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

static int add_revocations(agent *a)
{
    static uint8_t frame[WIRE_FRAME_SIZE_MAX];
    for (uint32_t i = 0; i < a->config->revocation_file_count; i++) {
        const char *path = a->config->revocation_files[i];
        uint32_t size = 0;
        if (node_read_armored("agent", path, "REVOCATION", frame, &size) != MESH_OK) {
            return NODE_EXIT_INPUT;
        }
        mesh_err err =
            gossip_add_revocation(a->machine, node_now(), frame, size, &a->rng, &a->outbox);
        drain(a, err == MESH_EFULL ? MESH_OK : err, "add_revocation");
        if (err != MESH_OK) {
            node_say_error("agent", "%s: revocation refused: %s", path, mesh_strerror(err));
            return node_exit_from_err(err);
        }
    }
    return NODE_EXIT_OK;
}

/* Creates the machine from the config and the identity files. */
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
    settings.cert_frame = cert_frame;
    settings.cert_frame_size = cert_frame_size;
    mesh_err err = gossip_create(&settings, node_now(), &a->machine);
    mcrypto_keypair_wipe(&settings.keypair);
    if (err != MESH_OK) {
        node_say_error("agent",
                       "cannot start the gossip machine: %s (check the [gossip] values "
                       "and the certificate)",
                       mesh_strerror(err));
        return node_exit_from_err(err);
    }
    return NODE_EXIT_OK;
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
    if (err != MESH_OK) {
        node_say_error("agent",
                       "cannot listen on %s or %s (see the log line above); is another "
                       "agent running with these endpoints?",
                       a->config->listen, a->config->control);
        return NODE_EXIT_INTERNAL;
    }
    rc = add_revocations(a);
    if (rc != NODE_EXIT_OK) {
        return rc;
    }
    waiter->transport = a->transport;
    if (pthread_create(&waiter->thread, NULL, signal_main, waiter) != 0) {
        node_say_error("agent", "cannot start the signal thread");
        return NODE_EXIT_INTERNAL;
    }
    node_log(NODE_LOG_INFO, "agent", "started",
             "member=%s name=%s listen=%s advertise=%s control=%s seeds=%u", a->self_text,
             a->config->name, a->config->listen, a->config->advertise, a->config->control,
             a->config->seed_count);
    agent_loop(a);

    err = gossip_leave(a->machine, node_now(), &a->rng, &a->outbox);
    drain(a, err, "leave");
    nng_msleep(FLUSH_MS);
    node_log(NODE_LOG_INFO, "agent", "stopped", "member=%s name=%s", a->self_text, a->config->name);

    atomic_store(&waiter->exiting, true);
    (void) pthread_kill(waiter->thread, SIGUSR1);
    (void) pthread_join(waiter->thread, NULL);
    return NODE_EXIT_OK;
}

int node_agent_run(const node_config *config)
{
    MESH_ASSERT(config != NULL);
    signal_waiter waiter;
    memset(&waiter, 0, sizeof(waiter));
    atomic_init(&waiter.exiting, false);
    // Before NNG starts a thread: every thread inherits this mask, so
    // only the signal thread ever sees SIGTERM and SIGINT.
    (void) sigemptyset(&waiter.set);
    (void) sigaddset(&waiter.set, SIGTERM);
    (void) sigaddset(&waiter.set, SIGINT);
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
    a->started_ns = node_now().monotonic_ns;
    mesh_outbox_init(&a->outbox, a->items, OUTBOX_ITEMS);
    uint64_t seed = 0;
    randombytes_buf(&seed, sizeof(seed));
    mesh_rng_seed(&a->rng, seed);

    int rc = agent_run_with_signals(a, &waiter);

    node_transport_destroy(a->transport);
    gossip_destroy(a->machine);
    free(a);
    return rc;
}
