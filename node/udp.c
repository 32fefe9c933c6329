/*
 * node/udp.c: probes over UDP (see udp_int.h for why and which).
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "node/log_int.h"
#include "node/udp_int.h"
#include "wire/wire.h"

#define POLL_MS 200

struct node_udp {
    int fd;
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    node_udp_deliver_fn deliver;
    void *context;
    atomic_uint_fast64_t datagrams_in;
    atomic_uint_fast64_t oversize_in;
    uint64_t datagrams_out; /* loop thread only */
    uint64_t send_failed;   /* loop thread only */
};

/* tcp://A.B.C.D:PORT (or 0.0.0.0) into an IPv4 address; false otherwise. */
static bool parse_ipv4_endpoint(const char *endpoint, struct sockaddr_in *address_out)
{
    static const char scheme[] = "tcp://";
    if (endpoint == NULL || strncmp(endpoint, scheme, sizeof(scheme) - 1) != 0) {
        return false;
    }
    const char *host = endpoint + sizeof(scheme) - 1;
    const char *colon = strchr(host, ':');
    size_t host_size = colon != NULL ? (size_t) (colon - host) : 0;
    char text[INET_ADDRSTRLEN];
    if (colon == NULL || host_size == 0 || host_size >= sizeof(text)) {
        return false;
    }
    memcpy(text, host, host_size);
    text[host_size] = '\0';
    uint32_t port = 0;
    const char *digit = colon + 1;
    for (uint32_t i = 0; digit[i] != '\0'; i++) {
        if (digit[i] < '0' || digit[i] > '9' || i >= 5) {
            return false;
        }
        port = port * 10 + (uint32_t) (digit[i] - '0');
    }
    if (port == 0 || port > 65535) {
        return false;
    }
    memset(address_out, 0, sizeof(*address_out));
    address_out->sin_family = AF_INET;
    address_out->sin_port = htons((uint16_t) port);
    return inet_pton(AF_INET, text, &address_out->sin_addr) == 1;
}

static void *receive_loop(void *arg)
{
    node_udp *udp = arg;
    uint8_t datagram[NODE_UDP_FRAME_MAX + 1];
    while (!atomic_load(&udp->stop)) {
        struct pollfd waiting = {.fd = udp->fd, .events = POLLIN};
        int ready = poll(&waiting, 1, POLL_MS);
        if (ready <= 0) {
            continue; // timeout, or EINTR: check stop and wait again
        }
        // MSG_TRUNC: the return is the datagram's real size, so an
        // oversize one is seen as such and dropped, never delivered cut.
        ssize_t size = recv(udp->fd, datagram, sizeof(datagram), MSG_DONTWAIT | MSG_TRUNC);
        if (size <= 0) {
            continue;
        }
        if ((size_t) size > NODE_UDP_FRAME_MAX) {
            atomic_fetch_add(&udp->oversize_in, 1);
            continue;
        }
        atomic_fetch_add(&udp->datagrams_in, 1);
        udp->deliver(udp->context, datagram, (uint32_t) size);
    }
    return NULL;
}

mesh_err
node_udp_open(const char *listen, node_udp_deliver_fn deliver, void *context, node_udp **udp_out)
{
    MESH_ASSERT(deliver != NULL && udp_out != NULL);
    struct sockaddr_in address;
    if (!parse_ipv4_endpoint(listen, &address)) {
        return MESH_EINVAL;
    }
    node_udp *udp = calloc(1, sizeof(*udp));
    if (udp == NULL) {
        return MESH_ENOMEM;
    }
    udp->deliver = deliver;
    udp->context = context;
    atomic_init(&udp->stop, false);
    atomic_init(&udp->datagrams_in, 0);
    atomic_init(&udp->oversize_in, 0);
    udp->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (udp->fd < 0 || bind(udp->fd, (const struct sockaddr *) &address, sizeof(address)) != 0) {
        node_log(NODE_LOG_ERROR, "udp", "bind_failed", "endpoint=%s error=\"%s\"", listen,
                 strerror(errno));
        node_udp_close(udp);
        return MESH_ETRANSPORT;
    }
    if (pthread_create(&udp->thread, NULL, receive_loop, udp) != 0) {
        node_udp_close(udp);
        return MESH_ENOMEM;
    }
    udp->thread_started = true;
    *udp_out = udp;
    return MESH_OK;
}

void node_udp_close(node_udp *udp)
{
    if (udp == NULL) {
        return;
    }
    atomic_store(&udp->stop, true);
    if (udp->thread_started) {
        (void) pthread_join(udp->thread, NULL);
    }
    if (udp->fd >= 0) {
        (void) close(udp->fd);
    }
    free(udp);
}

bool node_udp_wants(const char *endpoint, const uint8_t *frame, uint32_t frame_size)
{
    if (frame == NULL || frame_size == 0 || frame_size > NODE_UDP_FRAME_MAX) {
        return false;
    }
    wire_envelope envelope;
    if (wire_envelope_decode(frame, frame_size, &envelope, NULL) != MESH_OK ||
        (envelope.type != WIRE_TYPE_PING && envelope.type != WIRE_TYPE_ACK &&
         envelope.type != WIRE_TYPE_PING_REQ)) {
        return false;
    }
    struct sockaddr_in address;
    return parse_ipv4_endpoint(endpoint, &address) && address.sin_addr.s_addr != INADDR_ANY;
}

mesh_err
node_udp_send(node_udp *udp, const char *endpoint, const uint8_t *frame, uint32_t frame_size)
{
    MESH_ASSERT(udp != NULL);
    struct sockaddr_in address;
    if (!node_udp_wants(endpoint, frame, frame_size) || !parse_ipv4_endpoint(endpoint, &address)) {
        return MESH_EINVAL;
    }
    ssize_t sent = sendto(udp->fd, frame, frame_size, MSG_DONTWAIT,
                          (const struct sockaddr *) &address, sizeof(address));
    if (sent != (ssize_t) frame_size) {
        udp->send_failed++;
        return MESH_ETRANSPORT;
    }
    udp->datagrams_out++;
    return MESH_OK;
}

void node_udp_stats_get(node_udp *udp, node_udp_stats *stats_out)
{
    MESH_ASSERT(udp != NULL && stats_out != NULL);
    stats_out->datagrams_in = atomic_load(&udp->datagrams_in);
    stats_out->oversize_in = atomic_load(&udp->oversize_in);
    stats_out->datagrams_out = udp->datagrams_out;
    stats_out->send_failed = udp->send_failed;
}
