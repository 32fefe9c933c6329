/*
 * node/udp_int.h: probes over UDP, beside NNG.
 *
 * Why: a probe is a ping of about 70 bytes and an ack of the same size,
 * every second, to and from every member. Over NNG's TCP each one costs a
 * 52-byte TCP/IP header, NNG's 8-byte length and a 52-byte pure ACK from
 * the receiving kernel, since the ack comes back over the peer's own
 * connection: two thirds of an idle agent's bytes were headers. A UDP
 * datagram costs 28 bytes of header and no ACK. The frames are the same
 * MAC'd frames, so a datagram from anywhere is checked exactly like a
 * frame from NNG; losing one is what probes are built for (indirect
 * probes, suspicion before any verdict). Records, digests and pushes stay
 * on NNG: they are larger and want a stream.
 *
 * Which frames: ping, ack and ping-req of at most NODE_UDP_FRAME_MAX
 * bytes, to an endpoint tcp://A.B.C.D:PORT; the datagram goes to UDP on
 * the same address and port. An agent listening on tcp://A.B.C.D:PORT (or
 * tcp://0.0.0.0:PORT) also binds UDP there. Hostnames and IPv6 go by NNG.
 * Every member of a federation must agree ([gossip] udp_probes).
 *
 * Threads: one receiver thread per agent blocks in poll() (at most
 * 200 ms) and recvfrom(), and hands each datagram to `deliver` (which
 * must only enqueue); the loop thread sends.
 */
#ifndef NODE_UDP_INT_H
#define NODE_UDP_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "mesh/mesh.h"

#define NODE_UDP_FRAME_MAX 1200u /* under any path MTU that carries IPv4 */

typedef struct node_udp node_udp;

/* Called on the receiver thread with each datagram that fits. */
typedef void (*node_udp_deliver_fn)(void *context, const uint8_t *datagram, uint32_t size);

typedef struct node_udp_stats {
    uint64_t datagrams_in;  /* handed to deliver */
    uint64_t datagrams_out; /* accepted by the kernel */
    uint64_t oversize_in;   /* larger than NODE_UDP_FRAME_MAX: dropped */
    uint64_t send_failed;   /* sendto refused (no route, buffer full) */
} node_udp_stats;

/* Binds UDP on listen's address and port and starts the receiver.
 * Errors: MESH_EINVAL (listen is not tcp://IPv4:PORT: run without UDP),
 * MESH_ETRANSPORT (the socket or the bind failed, e.g. the port is taken),
 * MESH_ENOMEM. */
MESH_MUST_USE mesh_err node_udp_open(const char *listen,
                                     node_udp_deliver_fn deliver,
                                     void *context,
                                     node_udp **udp_out);
/* Stops the receiver (within 200 ms) and closes. NULL is a no-op. */
void node_udp_close(node_udp *udp);

/* True when frame is a probe frame that goes by UDP to endpoint. */
bool node_udp_wants(const char *endpoint, const uint8_t *frame, uint32_t frame_size);
/* Sends frame as one datagram; best effort. Errors: MESH_EINVAL (not a
 * frame node_udp_wants), MESH_ETRANSPORT (the kernel refused it). */
MESH_MUST_USE mesh_err node_udp_send(node_udp *udp,
                                     const char *endpoint,
                                     const uint8_t *frame,
                                     uint32_t frame_size);
void node_udp_stats_get(node_udp *udp, node_udp_stats *stats_out);

#endif /* NODE_UDP_INT_H */
