/*
 * node/agent_int.h: the agent's shell: the NNG transport and the loop that
 * drives the gossip machine (STYLE 2.2 "The shell").
 *
 * Threads. One loop thread (the caller of node_agent_run) owns the gossip
 * machine, the outbox, the peer socket table and every counter that is not
 * marked otherwise. NNG runs aio callbacks on its own threads; they only
 * move a received message into a bounded queue and wake the loop
 * (nng_aio_alloc(3) forbids blocking there). A signal thread turns
 * SIGTERM and SIGINT into a stop request through the same queue lock.
 *
 * Bounds: NODE_TRANSPORT_QUEUE_MAX received frames wait at most (more are
 * dropped and counted); NODE_TRANSPORT_PEERS_MAX outgoing sockets are
 * cached (least recently used is closed first); each holds at most
 * NODE_TRANSPORT_SENDBUF_MAX frames while its peer is unreachable (more
 * are dropped and counted); no frame over WIRE_FRAME_SIZE_MAX is sent or
 * accepted.
 */
#ifndef NODE_AGENT_INT_H
#define NODE_AGENT_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <nng/nng.h>

#include "mesh/mesh.h"
#include "node/config_int.h"

#define NODE_TRANSPORT_QUEUE_MAX      1024u
#define NODE_TRANSPORT_PEERS_MAX      128u
#define NODE_TRANSPORT_SENDBUF_MAX    64  /* one loop batch to one peer fits */
#define NODE_TRANSPORT_BATCH_MAX      64u /* frames handed to the loop per wake-up */
/* Bytes over WIRE_FRAME_SIZE_MAX that NNG still delivers, for the loop to
 * refuse and count (frames_oversize_in); larger frames close the pipe. */
#define NODE_TRANSPORT_OVERSIZE_SLACK 4096u
#define NODE_CONTROL_REPLY_SIZE_MAX   16777216u /* 16 MiB */
/* A control request "revoke\n" followed by an armored revocation publishes
 * it (fedmesh revoke publish); "revocations" lists those held. */
#define NODE_CONTROL_REVOKE_PREFIX    "revoke\n"

typedef struct node_transport node_transport;

/* Counters; the loop reads them with node_transport_stats_get. */
typedef struct node_transport_stats {
    uint64_t frames_received;  /* handed to the loop */
    uint64_t frames_sent;      /* accepted by NNG for sending */
    uint64_t queue_dropped;    /* received while the queue was full */
    uint64_t receive_errors;   /* receive aio failures other than shutdown */
    uint64_t send_dropped;     /* NNG had no room (peer unreachable or slow) */
    uint64_t send_failed;      /* allocation or socket failures */
    uint64_t send_refused;     /* oversize frame, or an endpoint the agent never dials */
    uint64_t sockets_opened;   /* outgoing sockets */
    uint64_t sockets_evicted;  /* closed to make room (LRU) */
    uint64_t control_requests; /* requests on the control endpoint */
    uint64_t udp_sent;         /* of frames_sent, probes sent as UDP datagrams */
    uint64_t udp_received;     /* of frames_received, probes that came by UDP */
    uint64_t udp_oversize;     /* datagrams over NODE_UDP_FRAME_MAX, dropped */
    uint64_t sockets_reset;    /* closed and dialed again: a member back from down */
} node_transport_stats;

/* What woke the loop. frames[] are owned by the caller on return (free
 * each with nng_msg_free). control_request, when not NULL, must be
 * answered with node_transport_control_reply, exactly once. */
typedef struct node_wakeup {
    uint32_t frame_count;
    nng_msg *frames[NODE_TRANSPORT_BATCH_MAX];
    nng_msg *control_request;
    bool stop;
    bool woken; /* someone called node_transport_wake since the last wait */
} node_wakeup;

/* Listens on config->listen (pull) and config->control (rep). Errors:
 * MESH_ETRANSPORT (the message went to the log), MESH_ENOMEM. */
MESH_MUST_USE mesh_err node_transport_create(const node_config *config,
                                             node_transport **transport_out);
/* Closes every socket, drops what is queued. NULL is a no-op. */
void node_transport_destroy(node_transport *transport);

/* Loop thread: waits until something is queued, a stop is requested, or
 * the monotonic clock reaches deadline_ns. Never waits more than 1 s, so
 * a caller may also just loop. */
void node_transport_wait(node_transport *transport, uint64_t deadline_ns, node_wakeup *wakeup_out);
/* Loop thread: opens (dials, in the background) the socket for endpoint
 * if it has none, so that a later send finds a connection. A no-op for an
 * endpoint the agent never dials. */
void node_transport_prepare(node_transport *transport, const char *endpoint);
/* Loop thread: closes the socket for endpoint, dropping what it still
 * queues, and dials it again at once. For a member seen alive again after
 * it was down: frames queued during a partition sit on a TCP connection
 * whose retransmission timer has backed off (to 26 s after a 25 s
 * partition, up to 120 s), and would hold every later frame behind them
 * until it fires; a fresh connection carries them now. The dropped frames
 * were for a member held down: gossip and the lease machine resend what
 * matters. A no-op for an endpoint the agent never dials. */
void node_transport_reset(node_transport *transport, const char *endpoint);
/* Loop thread: sends a copy of frame (borrowed) to endpoint without
 * blocking. Errors: MESH_EINVAL (oversize or an endpoint that is not
 * tcp://), MESH_EFULL (no room: dropped), MESH_ETRANSPORT, MESH_ENOMEM.
 * Every error is counted. */
MESH_MUST_USE mesh_err node_transport_send(node_transport *transport,
                                           const char *endpoint,
                                           const uint8_t *frame,
                                           uint32_t frame_size);
/* Loop thread: answers the pending control request (text borrowed) and
 * frees it. */
void node_transport_control_reply(node_transport *transport,
                                  nng_msg *request,
                                  const char *text,
                                  uint32_t text_size);
/* Any thread: asks the loop to stop. Never dropped, never blocks long. */
void node_transport_request_stop(node_transport *transport);
/* Any thread: wakes the loop (wakeup.woken): the HTTP API has a request
 * waiting, or a signal asked for a reload. Never blocks long. */
void node_transport_wake(node_transport *transport);
void node_transport_stats_get(node_transport *transport, node_transport_stats *stats_out);

/* Runs the agent until SIGTERM or SIGINT (exit 0) or a fatal error.
 * config_path is read again on SIGHUP (see agent.c); log_level_pinned
 * means --log-level was given, so a reload keeps it. Prints its own
 * errors. Returns a node_exit code. */
int node_agent_run(const node_config *config, const char *config_path, bool log_level_pinned);

/* Sends one control request ("peers", "stats") to endpoint and returns
 * the reply, NUL-terminated, in *reply_out (free with nng_strfree).
 * Errors: MESH_ETRANSPORT (error_out says why). */
MESH_MUST_USE mesh_err node_control_request(const char *endpoint,
                                            const char *request,
                                            uint32_t timeout_ms,
                                            char **reply_out,
                                            char *error_out,
                                            uint32_t error_size);

#endif /* NODE_AGENT_INT_H */
