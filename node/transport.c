/*
 * node/transport.c: NNG for the agent: one pull socket listening for
 * gossip frames, one push socket per destination endpoint, and a rep
 * socket for the local control endpoint.
 *
 * Why push/pull and one socket per destination: gossip frames name and
 * authenticate their sender inside the frame, so the transport only has
 * to carry bytes one way; NNG's push0 sends to whichever pipe it holds,
 * so a socket per destination is how a message reaches one chosen peer.
 * Each push socket dials without blocking and keeps redialing in the
 * background (100 ms to 2 s back-off); while its peer is unreachable it
 * buffers NODE_TRANSPORT_SENDBUF_MAX frames, after which sends fail with
 * NNG_EAGAIN and are dropped and counted. Nothing here ever blocks the
 * loop on the network.
 *
 * Received frames: the pull socket's aio callback moves the message into
 * a bounded ring under a mutex and wakes the loop's condition variable;
 * a full ring drops the frame and counts it. NNG_OPT_RECVMAXSZ is
 * WIRE_FRAME_SIZE_MAX + NODE_TRANSPORT_OVERSIZE_SLACK: a frame a little
 * over the wire's limit reaches the loop, which refuses and counts it
 * (frames_oversize_in), so that an oversize sender shows in the counters;
 * anything larger NNG refuses itself, closing the connection that sent it
 * (uncounted: NNG says nothing).
 *
 * Probes (ping, ack, ping-req) go by UDP when [gossip] udp_probes is on
 * (node/udp.c says why); their datagrams join the same queue.
 *
 * Control: a rep0 context is armed for one request at a time; its
 * callback hands the request to the loop, which answers it, and the send
 * callback re-arms the receive. An ipc:// control socket is created with
 * mode 0600.
 *
 * Endpoints come from peers' signed adverts, so a member could advertise
 * "ipc:///somewhere" or a long string: only tcp://HOST:PORT is dialed
 * (node_config_endpoint_valid).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>

#include "node/agent_int.h"
#include "node/log_int.h"
#include "node/node.h"
#include "node/udp_int.h"

#define WAIT_MS_MAX 1000u

typedef struct peer_socket {
    bool open;
    nng_socket socket;
    uint64_t used_tick; /* for LRU eviction */
    char endpoint[NODE_CONFIG_ENDPOINT_SIZE];
} peer_socket;

struct node_transport {
    /* Shared with the callbacks and the signal thread, under mutex. */
    nng_mtx *mutex;
    nng_cv *wake;
    nng_msg *queue[NODE_TRANSPORT_QUEUE_MAX];
    uint32_t queue_head;
    uint32_t queue_count;
    nng_msg *control_request;
    bool stop;
    bool woken; /* node_transport_wake: the HTTP API or a signal has work */
    bool closing;
    uint64_t frames_received;
    uint64_t queue_dropped;
    uint64_t receive_errors;
    uint64_t control_requests;

    /* Loop thread only. */
    nng_socket pull;
    bool pull_open;
    nng_aio *recv_aio;
    nng_socket control;
    bool control_open;
    nng_ctx control_ctx;
    nng_aio *control_recv_aio;
    nng_aio *control_send_aio;
    peer_socket peers[NODE_TRANSPORT_PEERS_MAX];
    uint64_t tick;
    node_transport_stats stats; /* the loop's own counters */
    node_udp *udp;              /* probes by UDP; NULL when off */
    nng_tls_config *tls_server; /* for a tls+tcp:// listener; NULL when not configured */
    nng_tls_config *tls_client; /* for tls+tcp:// dialers */
};

static void log_nng(const char *event, const char *endpoint, int rv)
{
    node_log(NODE_LOG_ERROR, "transport", event, "endpoint=%s error=\"%s\"", endpoint,
             nng_strerror(rv));
}

/* Under the mutex: queues a received frame for the loop, or returns it to
 * be freed (outside the mutex) when the queue is full. */
static nng_msg *enqueue_locked(node_transport *transport, nng_msg *msg)
{
    if (transport->queue_count == NODE_TRANSPORT_QUEUE_MAX) {
        transport->queue_dropped++;
        return msg;
    }
    uint32_t tail = (transport->queue_head + transport->queue_count) % NODE_TRANSPORT_QUEUE_MAX;
    transport->queue[tail] = msg;
    transport->queue_count++;
    transport->frames_received++;
    nng_cv_wake1(transport->wake);
    return NULL;
}

/* UDP receiver thread: a probe datagram arrived; queue it like a frame. */
static void udp_deliver(void *context, const uint8_t *datagram, uint32_t size)
{
    node_transport *transport = context;
    nng_msg *msg = NULL;
    if (nng_msg_alloc(&msg, 0) != 0 || nng_msg_append(msg, datagram, size) != 0) {
        if (msg != NULL) {
            nng_msg_free(msg);
        }
        nng_mtx_lock(transport->mutex);
        transport->receive_errors++;
        nng_mtx_unlock(transport->mutex);
        return;
    }
    nng_mtx_lock(transport->mutex);
    nng_msg *dropped = enqueue_locked(transport, msg);
    nng_mtx_unlock(transport->mutex);
    if (dropped != NULL) {
        nng_msg_free(dropped);
    }
}

/* NNG thread: a frame arrived (or the socket closed). */
static void recv_done(void *arg)
{
    node_transport *transport = arg;
    int rv = nng_aio_result(transport->recv_aio);
    nng_msg *dropped = NULL;
    nng_mtx_lock(transport->mutex);
    bool closing = transport->closing;
    if (rv == 0) {
        dropped = enqueue_locked(transport, nng_aio_get_msg(transport->recv_aio));
    } else if (rv != NNG_ECLOSED && rv != NNG_ECANCELED) {
        transport->receive_errors++;
    }
    nng_mtx_unlock(transport->mutex);
    if (dropped != NULL) {
        nng_msg_free(dropped);
    }
    if (closing || rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
        return;
    }
    nng_recv_aio(transport->pull, transport->recv_aio);
}

/* NNG thread: a control request arrived. */
static void control_recv_done(void *arg)
{
    node_transport *transport = arg;
    int rv = nng_aio_result(transport->control_recv_aio);
    if (rv != 0) {
        if (rv != NNG_ECLOSED && rv != NNG_ECANCELED) {
            nng_ctx_recv(transport->control_ctx, transport->control_recv_aio);
        }
        return;
    }
    nng_mtx_lock(transport->mutex);
    MESH_ASSERT(transport->control_request == NULL);
    transport->control_request = nng_aio_get_msg(transport->control_recv_aio);
    transport->control_requests++;
    nng_cv_wake1(transport->wake);
    nng_mtx_unlock(transport->mutex);
}

/* NNG thread: a control reply left (or failed); wait for the next request. */
static void control_send_done(void *arg)
{
    node_transport *transport = arg;
    int rv = nng_aio_result(transport->control_send_aio);
    if (rv != 0) {
        nng_msg_free(nng_aio_get_msg(transport->control_send_aio));
        if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
            return;
        }
    }
    nng_ctx_recv(transport->control_ctx, transport->control_recv_aio);
}

/* One TLS configuration, mutual: we present cert_key_file and require
 * the peer's certificate to chain to ca_file. */
static mesh_err
tls_config_make(const node_config *config, nng_tls_mode mode, nng_tls_config **tls_out)
{
    // The file holds a private key: refuse it readable by others, as the
    // node key is refused (crypto/keyfile.c).
    struct stat status;
    if (stat(config->tls_cert_key_file, &status) == 0 && (status.st_mode & 077) != 0) {
        node_log(NODE_LOG_ERROR, "transport", "tls_key_unsafe",
                 "cert_key_file=%s mode=%03o fix=\"chmod 600 %s\"", config->tls_cert_key_file,
                 (unsigned) (status.st_mode & 0777), config->tls_cert_key_file);
        return MESH_EPERM;
    }
    nng_tls_config *tls = NULL;
    int rv = nng_tls_config_alloc(&tls, mode);
    if (rv == 0) {
        rv = nng_tls_config_ca_file(tls, config->tls_ca_file);
    }
    if (rv == 0) {
        rv = nng_tls_config_cert_key_file(tls, config->tls_cert_key_file, NULL);
    }
    if (rv == 0) {
        rv = nng_tls_config_auth_mode(tls, NNG_TLS_AUTH_MODE_REQUIRED);
    }
    if (rv != 0) {
        node_log(NODE_LOG_ERROR, "transport", "tls_config_failed",
                 "cert_key_file=%s ca_file=%s error=\"%s\"", config->tls_cert_key_file,
                 config->tls_ca_file, nng_strerror(rv));
        if (tls != NULL) {
            nng_tls_config_free(tls);
        }
        return rv == NNG_ENOMEM ? MESH_ENOMEM : MESH_EINVAL;
    }
    *tls_out = tls;
    return MESH_OK;
}

static mesh_err
open_listener(nng_socket socket, const char *endpoint, bool owner_only, nng_tls_config *tls)
{
    nng_listener listener;
    int rv = nng_listener_create(&listener, socket, endpoint);
    if (rv == 0 && owner_only) {
        rv = nng_listener_set_int(listener, NNG_OPT_IPC_PERMISSIONS, 0600);
    }
    if (rv == 0 && tls != NULL && node_config_endpoint_is_tls(endpoint)) {
        rv = nng_listener_set_ptr(listener, NNG_OPT_TLS_CONFIG, tls);
    }
    if (rv == 0) {
        rv = nng_listener_start(listener, 0);
    }
    if (rv != 0) {
        log_nng("listen_failed", endpoint, rv);
        return MESH_ETRANSPORT;
    }
    return MESH_OK;
}

static mesh_err open_pull(node_transport *transport, const node_config *config)
{
    int rv = nng_pull0_open(&transport->pull);
    if (rv != 0) {
        log_nng("socket_failed", config->listen, rv);
        return MESH_ETRANSPORT;
    }
    transport->pull_open = true;
    rv = nng_socket_set_size(transport->pull, NNG_OPT_RECVMAXSZ,
                             WIRE_FRAME_SIZE_MAX + NODE_TRANSPORT_OVERSIZE_SLACK);
    if (rv == 0) {
        rv = nng_socket_set_int(transport->pull, NNG_OPT_RECVBUF, 128);
    }
    if (rv != 0) {
        log_nng("socket_failed", config->listen, rv);
        return MESH_ETRANSPORT;
    }
    mesh_err err = open_listener(transport->pull, config->listen, false, transport->tls_server);
    if (err != MESH_OK) {
        return err;
    }
    rv = nng_aio_alloc(&transport->recv_aio, recv_done, transport);
    if (rv != 0) {
        return MESH_ENOMEM;
    }
    nng_recv_aio(transport->pull, transport->recv_aio);
    return MESH_OK;
}

static mesh_err open_control(node_transport *transport, const node_config *config)
{
    int rv = nng_rep0_open(&transport->control);
    if (rv != 0) {
        log_nng("socket_failed", config->control, rv);
        return MESH_ETRANSPORT;
    }
    transport->control_open = true;
    // Requests are one word; a larger one is refused by NNG.
    rv = nng_socket_set_size(transport->control, NNG_OPT_RECVMAXSZ, 1024);
    if (rv == 0) {
        rv = nng_ctx_open(&transport->control_ctx, transport->control);
    }
    if (rv != 0) {
        log_nng("socket_failed", config->control, rv);
        return MESH_ETRANSPORT;
    }
    bool ipc = strncmp(config->control, "ipc://", 6) == 0;
    mesh_err err = open_listener(transport->control, config->control, ipc, NULL);
    if (err != MESH_OK) {
        return err;
    }
    if (nng_aio_alloc(&transport->control_recv_aio, control_recv_done, transport) != 0 ||
        nng_aio_alloc(&transport->control_send_aio, control_send_done, transport) != 0) {
        return MESH_ENOMEM;
    }
    nng_ctx_recv(transport->control_ctx, transport->control_recv_aio);
    return MESH_OK;
}

mesh_err node_transport_create(const node_config *config, node_transport **transport_out)
{
    MESH_ASSERT(config != NULL);
    MESH_ASSERT(transport_out != NULL);
    node_transport *transport = calloc(1, sizeof(*transport));
    if (transport == NULL) {
        return MESH_ENOMEM;
    }
    if (nng_mtx_alloc(&transport->mutex) != 0) {
        free(transport);
        return MESH_ENOMEM;
    }
    if (nng_cv_alloc(&transport->wake, transport->mutex) != 0) {
        nng_mtx_free(transport->mutex);
        free(transport);
        return MESH_ENOMEM;
    }
    mesh_err err = MESH_OK;
    if (config->tls_cert_key_file[0] != '\0' && config->tls_ca_file[0] != '\0') {
        err = tls_config_make(config, NNG_TLS_MODE_SERVER, &transport->tls_server);
        if (err == MESH_OK) {
            err = tls_config_make(config, NNG_TLS_MODE_CLIENT, &transport->tls_client);
        }
    }
    if (err == MESH_OK) {
        err = open_pull(transport, config);
    }
    if (err == MESH_OK) {
        err = open_control(transport, config);
    }
    if (err == MESH_OK && config->udp_probes) {
        err = node_udp_open(config->listen, udp_deliver, transport, &transport->udp);
        if (err == MESH_EINVAL) {
            // A hostname or IPv6 listen address: probes go by NNG.
            node_log(NODE_LOG_WARN, "transport", "udp_off",
                     "listen=%s reason=\"UDP probes need an IPv4 listen address\"", config->listen);
            err = MESH_OK;
        }
    }
    if (err != MESH_OK) {
        node_transport_destroy(transport);
        return err;
    }
    *transport_out = transport;
    return MESH_OK;
}

void node_transport_destroy(node_transport *transport)
{
    if (transport == NULL) {
        return;
    }
    nng_mtx_lock(transport->mutex);
    transport->closing = true;
    nng_mtx_unlock(transport->mutex);
    // The UDP receiver first: it joins its thread, which enqueues.
    node_udp_close(transport->udp);
    transport->udp = NULL;
    // Stop the aios first (each waits for its callback), then close.
    nng_aio *aios[] = {transport->recv_aio, transport->control_recv_aio,
                       transport->control_send_aio};
    for (uint32_t i = 0; i < MESH_ARRAY_COUNT(aios); i++) {
        if (aios[i] != NULL) {
            nng_aio_stop(aios[i]);
        }
    }
    if (transport->pull_open) {
        (void) nng_close(transport->pull);
    }
    if (transport->control_open) {
        (void) nng_close(transport->control);
    }
    for (uint32_t i = 0; i < NODE_TRANSPORT_PEERS_MAX; i++) {
        if (transport->peers[i].open) {
            (void) nng_close(transport->peers[i].socket);
        }
    }
    for (uint32_t i = 0; i < MESH_ARRAY_COUNT(aios); i++) {
        if (aios[i] != NULL) {
            nng_aio_free(aios[i]);
        }
    }
    for (uint32_t i = 0; i < transport->queue_count; i++) {
        nng_msg_free(transport->queue[(transport->queue_head + i) % NODE_TRANSPORT_QUEUE_MAX]);
    }
    if (transport->control_request != NULL) {
        nng_msg_free(transport->control_request);
    }
    if (transport->tls_server != NULL) {
        nng_tls_config_free(transport->tls_server);
    }
    if (transport->tls_client != NULL) {
        nng_tls_config_free(transport->tls_client);
    }
    nng_cv_free(transport->wake);
    nng_mtx_free(transport->mutex);
    free(transport);
}

static bool something_waiting(const node_transport *transport)
{
    return transport->queue_count > 0 || transport->control_request != NULL || transport->stop ||
           transport->woken;
}

void node_transport_wait(node_transport *transport, uint64_t deadline_ns, node_wakeup *wakeup_out)
{
    MESH_ASSERT(transport != NULL);
    MESH_ASSERT(wakeup_out != NULL);
    wakeup_out->frame_count = 0;
    wakeup_out->control_request = NULL;
    wakeup_out->stop = false;
    wakeup_out->woken = false;
    nng_mtx_lock(transport->mutex);
    for (uint32_t rounds = 0; !something_waiting(transport) && rounds < 2; rounds++) {
        uint64_t now_ns = node_now().monotonic_ns;
        if (now_ns >= deadline_ns) {
            break;
        }
        // nng_cv_until takes an absolute nng_time in ms on NNG's own
        // clock: wait the remaining time, rounded up so that the loop
        // wakes at or after the deadline, never just before it.
        uint64_t wait_ms = (deadline_ns - now_ns + MESH_NS_PER_MS - 1) / MESH_NS_PER_MS;
        if (wait_ms > WAIT_MS_MAX) {
            wait_ms = WAIT_MS_MAX;
        }
        (void) nng_cv_until(transport->wake, nng_clock() + (nng_time) wait_ms);
    }
    while (transport->queue_count > 0 && wakeup_out->frame_count < NODE_TRANSPORT_BATCH_MAX) {
        wakeup_out->frames[wakeup_out->frame_count++] = transport->queue[transport->queue_head];
        transport->queue_head = (transport->queue_head + 1) % NODE_TRANSPORT_QUEUE_MAX;
        transport->queue_count--;
    }
    wakeup_out->control_request = transport->control_request;
    transport->control_request = NULL;
    wakeup_out->stop = transport->stop;
    wakeup_out->woken = transport->woken;
    transport->woken = false;
    nng_mtx_unlock(transport->mutex);
}

void node_transport_wake(node_transport *transport)
{
    MESH_ASSERT(transport != NULL);
    nng_mtx_lock(transport->mutex);
    transport->woken = true;
    nng_cv_wake1(transport->wake);
    nng_mtx_unlock(transport->mutex);
}

void node_transport_request_stop(node_transport *transport)
{
    MESH_ASSERT(transport != NULL);
    nng_mtx_lock(transport->mutex);
    transport->stop = true;
    nng_cv_wake1(transport->wake);
    nng_mtx_unlock(transport->mutex);
}

/* The cached socket for endpoint, opening one (and evicting the least
 * recently used) when there is none. */
static peer_socket *peer_for(node_transport *transport, const char *endpoint)
{
    peer_socket *unused = NULL;
    peer_socket *oldest = NULL;
    for (uint32_t i = 0; i < NODE_TRANSPORT_PEERS_MAX; i++) {
        peer_socket *peer = &transport->peers[i];
        if (!peer->open) {
            unused = unused != NULL ? unused : peer;
        } else if (strcmp(peer->endpoint, endpoint) == 0) {
            return peer;
        } else if (oldest == NULL || peer->used_tick < oldest->used_tick) {
            oldest = peer;
        }
    }
    peer_socket *slot = unused != NULL ? unused : oldest;
    MESH_ASSERT(slot != NULL);
    if (slot->open) {
        node_log(NODE_LOG_DEBUG, "transport", "socket_evicted", "endpoint=%s", slot->endpoint);
        (void) nng_close(slot->socket);
        slot->open = false;
        transport->stats.sockets_evicted++;
    }
    nng_socket socket;
    int rv = nng_push0_open(&socket);
    if (rv != 0) {
        log_nng("socket_failed", endpoint, rv);
        return NULL;
    }
    nng_dialer dialer;
    rv = nng_socket_set_int(socket, NNG_OPT_SENDBUF, NODE_TRANSPORT_SENDBUF_MAX);
    if (rv == 0) {
        rv = nng_socket_set_ms(socket, NNG_OPT_RECONNMINT, 100);
    }
    if (rv == 0) {
        rv = nng_socket_set_ms(socket, NNG_OPT_RECONNMAXT, 2000);
    }
    if (rv == 0) {
        rv = nng_dialer_create(&dialer, socket, endpoint);
    }
    if (rv == 0 && node_config_endpoint_is_tls(endpoint)) {
        // A tls+tcp:// member and no [tls] here: refused, never in clear.
        rv = transport->tls_client != NULL
                 ? nng_dialer_set_ptr(dialer, NNG_OPT_TLS_CONFIG, transport->tls_client)
                 : NNG_ENOTSUP;
    }
    if (rv == 0) {
        // Non-blocking: NNG keeps redialing in the background.
        rv = nng_dialer_start(dialer, NNG_FLAG_NONBLOCK);
    }
    if (rv != 0) {
        log_nng("dial_failed", endpoint, rv);
        (void) nng_close(socket);
        return NULL;
    }
    slot->open = true;
    slot->socket = socket;
    size_t size = strlen(endpoint);
    MESH_ASSERT(size < sizeof(slot->endpoint));
    memcpy(slot->endpoint, endpoint, size + 1);
    transport->stats.sockets_opened++;
    return slot;
}

void node_transport_prepare(node_transport *transport, const char *endpoint)
{
    MESH_ASSERT(transport != NULL);
    if (endpoint != NULL && node_config_endpoint_valid(endpoint)) {
        peer_socket *peer = peer_for(transport, endpoint);
        if (peer != NULL) {
            peer->used_tick = ++transport->tick;
        }
    }
}

void node_transport_reset(node_transport *transport, const char *endpoint)
{
    MESH_ASSERT(transport != NULL);
    if (endpoint == NULL || !node_config_endpoint_valid(endpoint)) {
        return;
    }
    for (uint32_t i = 0; i < NODE_TRANSPORT_PEERS_MAX; i++) {
        peer_socket *peer = &transport->peers[i];
        if (peer->open && strcmp(peer->endpoint, endpoint) == 0) {
            node_log(NODE_LOG_INFO, "transport", "socket_reset", "endpoint=%s", endpoint);
            (void) nng_close(peer->socket);
            peer->open = false;
            transport->stats.sockets_reset++;
            break;
        }
    }
    node_transport_prepare(transport, endpoint);
}

mesh_err node_transport_send(node_transport *transport,
                             const char *endpoint,
                             const uint8_t *frame,
                             uint32_t frame_size)
{
    MESH_ASSERT(transport != NULL && frame != NULL);
    MESH_ASSERT(frame_size > 0);
    if (endpoint == NULL || frame_size > WIRE_FRAME_SIZE_MAX ||
        !node_config_endpoint_valid(endpoint)) {
        transport->stats.send_refused++;
        return MESH_EINVAL;
    }
    if (transport->udp != NULL && node_udp_wants(endpoint, frame, frame_size)) {
        if (node_udp_send(transport->udp, endpoint, frame, frame_size) != MESH_OK) {
            transport->stats.send_failed++;
            return MESH_ETRANSPORT;
        }
        transport->stats.frames_sent++;
        transport->stats.udp_sent++;
        return MESH_OK;
    }
    peer_socket *peer = peer_for(transport, endpoint);
    if (peer == NULL) {
        transport->stats.send_failed++;
        return MESH_ETRANSPORT;
    }
    peer->used_tick = ++transport->tick;
    nng_msg *msg = NULL;
    if (nng_msg_alloc(&msg, 0) != 0 || nng_msg_append(msg, frame, frame_size) != 0) {
        if (msg != NULL) {
            nng_msg_free(msg);
        }
        transport->stats.send_failed++;
        return MESH_ENOMEM;
    }
    int rv = nng_sendmsg(peer->socket, msg, NNG_FLAG_NONBLOCK);
    if (rv != 0) {
        // Ownership passes to NNG only on success.
        nng_msg_free(msg);
        if (rv == NNG_EAGAIN) {
            transport->stats.send_dropped++;
            return MESH_EFULL;
        }
        transport->stats.send_failed++;
        return MESH_ETRANSPORT;
    }
    transport->stats.frames_sent++;
    return MESH_OK;
}

void node_transport_control_reply(node_transport *transport,
                                  nng_msg *request,
                                  const char *text,
                                  uint32_t text_size)
{
    MESH_ASSERT(transport != NULL && request != NULL);
    MESH_ASSERT(text != NULL);
    nng_msg_free(request);
    nng_msg *reply = NULL;
    if (nng_msg_alloc(&reply, 0) != 0 || nng_msg_append(reply, text, text_size) != 0) {
        if (reply != NULL) {
            nng_msg_free(reply);
        }
        transport->stats.send_failed++;
        // No answer: the client times out; the next request is served.
        nng_ctx_recv(transport->control_ctx, transport->control_recv_aio);
        return;
    }
    nng_aio_set_msg(transport->control_send_aio, reply);
    nng_ctx_send(transport->control_ctx, transport->control_send_aio);
}

void node_transport_stats_get(node_transport *transport, node_transport_stats *stats_out)
{
    MESH_ASSERT(transport != NULL && stats_out != NULL);
    *stats_out = transport->stats;
    nng_mtx_lock(transport->mutex);
    stats_out->frames_received = transport->frames_received;
    stats_out->queue_dropped = transport->queue_dropped;
    stats_out->receive_errors = transport->receive_errors;
    stats_out->control_requests = transport->control_requests;
    nng_mtx_unlock(transport->mutex);
    if (transport->udp != NULL) {
        node_udp_stats udp;
        node_udp_stats_get(transport->udp, &udp);
        stats_out->udp_received = udp.datagrams_in;
        stats_out->udp_oversize = udp.oversize_in;
    }
}

mesh_err node_control_request(const char *endpoint,
                              const char *request,
                              uint32_t timeout_ms,
                              char **reply_out,
                              char *error_out,
                              uint32_t error_size)
{
    MESH_ASSERT(endpoint != NULL && request != NULL);
    MESH_ASSERT(reply_out != NULL && error_out != NULL && error_size > 0);
    nng_socket socket;
    int rv = nng_req0_open(&socket);
    if (rv != 0) {
        (void) snprintf(error_out, error_size, "cannot open a socket: %s", nng_strerror(rv));
        return MESH_ETRANSPORT;
    }
    rv = nng_socket_set_size(socket, NNG_OPT_RECVMAXSZ, NODE_CONTROL_REPLY_SIZE_MAX);
    if (rv == 0) {
        rv = nng_socket_set_ms(socket, NNG_OPT_RECVTIMEO, (nng_duration) timeout_ms);
    }
    if (rv == 0) {
        rv = nng_socket_set_ms(socket, NNG_OPT_SENDTIMEO, (nng_duration) timeout_ms);
    }
    if (rv == 0) {
        rv = nng_dial(socket, endpoint, NULL, 0);
        if (rv != 0) {
            (void) snprintf(error_out, error_size,
                            "no agent answers at %s (%s); is 'fedmesh agent' running with this "
                            "config?",
                            endpoint, nng_strerror(rv));
            (void) nng_close(socket);
            return MESH_ETRANSPORT;
        }
    }
    if (rv == 0) {
        rv = nng_send(socket, (void *) request, strlen(request), 0);
    }
    char *buf = NULL;
    size_t size = 0;
    if (rv == 0) {
        rv = nng_recv(socket, &buf, &size, NNG_FLAG_ALLOC);
    }
    (void) nng_close(socket);
    if (rv != 0) {
        (void) snprintf(error_out, error_size, "%s: %s", endpoint, nng_strerror(rv));
        return MESH_ETRANSPORT;
    }
    char *text = nng_alloc(size + 1);
    if (text == NULL) {
        nng_free(buf, size);
        (void) snprintf(error_out, error_size, "out of memory");
        return MESH_ENOMEM;
    }
    memcpy(text, buf, size);
    text[size] = '\0';
    nng_free(buf, size);
    *reply_out = text;
    return MESH_OK;
}
