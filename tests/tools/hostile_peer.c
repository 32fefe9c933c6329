/*
 * tests/tools/hostile_peer.c: fedmesh-hostile, a peer that speaks the wire
 * protocol over the agents' real transports (NNG push over TCP, and UDP
 * probes) and sends nothing an agent may accept, as fast as it is told.
 * Built with the tests only; tests/integration/hostile_peer_test.sh drives
 * it.
 *
 *   fedmesh-hostile --target tcp://HOST:PORT --target-pub A.key.pub
 *       --victim-pub B.key.pub --key M.key --cert M.cert
 *       --expired-key E.key --expired-cert E.cert
 *       --revoked-key R.key --revoked-cert R.cert
 *       [--seconds S] [--rate FRAMES_PER_S] [--udp-rate DATAGRAMS_PER_S]
 *       [--seed N] [--introduce]
 *
 * Keys: M is a real member (a certificate from the federation's root), E
 * a member whose certificate has expired, R a member the root revoked
 * (the target holds the revocation). A is the agent under attack, B a
 * legitimate member whose identity is forged.
 *
 * --introduce sends one push with M's certificate and one genuine advert
 * of M's (sequence 2^62, endpoint tcp://127.0.0.1:9 where nobody listens)
 * and exits: the target then holds M as a member (M never answers a probe,
 * so it is soon down), which the replayed and lease kinds need to get
 * past "unknown key" and "not a member"; M is a compromised member, not
 * an outsider. The test takes its counters after that, so the
 * introduction is not in the figures.
 *
 * The kinds, in turn, one frame each (TCP unless named udp_):
 *   forged          push of an advert naming B, signed by M (B's key fails)
 *   replayed        push of M's own advert, genuinely signed, from a day ago
 *                   and older than the one M introduced itself with
 *   expired         push of E's expired certificate and an advert of E
 *   revoked         push of R's certificate and an advert of R
 *   oversize        WIRE_FRAME_SIZE_MAX + 1 .. + 4000 bytes
 *   truncated       a forged push cut short
 *   random          random bytes (not starting like an envelope)
 *   lease_forged    a lease request to A naming B as its signer, signed by M
 *   lease_wrong_id  an end (release, decline) or refuse, signed by M, for a
 *                   lease id A never saw
 *   lease_replayed  one request of M's, genuinely signed, sent again and again
 *   lease_expired   a request of M's that expired an hour ago
 *   lease_truncated a lease request cut short
 *   spoofed         a 60 KB push naming B as its sender, of 15 junk records:
 *                   at 1,000 frames/s, B's share is over 4 MB/s, past the
 *                   target's per-peer rate limit, which must not apply to
 *                   a sender nobody authenticated
 *   udp_forged      a ping naming B with a MAC that is not B's
 *   udp_oversize    NODE_UDP_FRAME_MAX + 1 .. + 200 bytes
 *   udp_random      random bytes
 * Push envelopes name a fresh random signer each: the push's own MAC is
 * never checked (records authenticate themselves), so that is what an
 * attacker would do, and it keeps each kind under its own reason instead
 * of the per-peer rate limit.
 *
 * Output: one JSON object on stdout, {"seconds", "sent_total",
 * "rate_per_s", "kinds": {KIND: sent, ...}}.
 *
 * Pacing: frames leave in batches every millisecond to keep the requested
 * rate; NNG's push socket queues what the kernel does not take (its send
 * buffer is large, so the sender never blocks the clock). Bounds: every
 * frame is built in one static buffer of WIRE_FRAME_SIZE_MAX + 4096 bytes.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/supplemental/util/platform.h>
#include <sodium.h>

#include "crypto/crypto.h"
#include "node/keyfile_int.h"
#include "node/node_int.h"
#include "node/udp_int.h"
#include "wire/wire.h"

#define OVERSIZE_SLACK        4000u
#define BUF_SIZE              (WIRE_FRAME_SIZE_MAX + 4096u)
#define DAY_NS                (86400ll * 1000000000ll)
#define HOUR_NS               (3600ll * 1000000000ll)
/* The sequence of M's one genuine advert; the replayed kind stays below. */
#define INTRODUCTION_SEQUENCE (1ull << 62)
/* The spoofed kind: a push of 15 junk records of 4,000 bytes (60 KB). */
#define SPOOFED_RECORDS       15u
#define SPOOFED_RECORD_SIZE   4000u
/* getopt values of the eight path options: OPT_PATH + their index. */
#define OPT_PATH              256
#define PATH_COUNT            8

typedef enum kind {
    KIND_FORGED,
    KIND_REPLAYED,
    KIND_EXPIRED,
    KIND_REVOKED,
    KIND_OVERSIZE,
    KIND_TRUNCATED,
    KIND_RANDOM,
    KIND_LEASE_FORGED,
    KIND_LEASE_WRONG_ID,
    KIND_LEASE_REPLAYED,
    KIND_LEASE_EXPIRED,
    KIND_LEASE_TRUNCATED,
    KIND_SPOOFED,
    KIND_TCP_COUNT,
    KIND_UDP_FORGED = KIND_TCP_COUNT,
    KIND_UDP_OVERSIZE,
    KIND_UDP_RANDOM,
    KIND_COUNT,
} kind;

static const char *const kind_names[KIND_COUNT] = {
    "forged",         "replayed",       "expired",       "revoked",
    "oversize",       "truncated",      "random",        "lease_forged",
    "lease_wrong_id", "lease_replayed", "lease_expired", "lease_truncated",
    "spoofed",        "udp_forged",     "udp_oversize",  "udp_random"};

typedef struct hostile {
    const char *target;
    mcrypto_keypair member;
    mcrypto_keypair expired;
    mcrypto_keypair revoked;
    mesh_node_id member_id;
    mesh_node_id expired_id;
    mesh_node_id revoked_id;
    mesh_node_id target_id;
    mesh_node_id victim_id;
    uint8_t member_cert[WIRE_FRAME_SIZE_MAX];
    uint32_t member_cert_size;
    uint8_t expired_cert[WIRE_FRAME_SIZE_MAX];
    uint32_t expired_cert_size;
    uint8_t revoked_cert[WIRE_FRAME_SIZE_MAX];
    uint32_t revoked_cert_size;
    uint8_t replay_request[WIRE_FRAME_SIZE_MAX]; /* lease_replayed: built once */
    uint32_t replay_request_size;
    uint64_t counter; /* makes sequences and ids distinct */
    uint64_t sent[KIND_COUNT];
} hostile;

static uint8_t frame_buf[BUF_SIZE];

static int64_t realtime_ns(void)
{
    struct timespec ts;
    (void) clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    (void) clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

static void fill_random(uint8_t *buf, uint32_t size)
{
    randombytes_buf(buf, size);
}

/* An advert of node_id, signed by key, as a record (a whole envelope). */
static mesh_err advert_record(const mcrypto_keypair *key,
                              const mesh_node_id *node_id,
                              uint64_t sequence,
                              int64_t timestamp_ns,
                              uint8_t *record,
                              uint32_t *record_size)
{
    static wire_advert advert;
    memset(&advert, 0, sizeof(advert));
    advert.node_id = *node_id;
    advert.sequence = sequence;
    advert.timestamp_ns = timestamp_ns;
    advert.status = WIRE_ADVERT_ALIVE;
    advert.carbon_gco2_per_kwh = 50;
    advert.resource_count = 1;
    advert.resources[0].resource_class = WIRE_RESOURCE_VCPU;
    advert.resources[0].total = 4096;
    advert.resources[0].free = 4096;
    advert.resources[0].lendable = 4096;
    advert.resources[0].price_microeur_per_unit_hour = 1;
    (void) snprintf(advert.endpoint, sizeof(advert.endpoint), "tcp://127.0.0.1:9");
    uint8_t body[WIRE_RECORD_SIZE_MAX];
    uint32_t body_size = 0;
    mesh_err err = wire_advert_encode(&advert, body, sizeof(body), &body_size);
    if (err != MESH_OK) {
        return err;
    }
    return mcrypto_envelope_seal(key, WIRE_TYPE_ADVERT, body, body_size, record,
                                 WIRE_RECORD_SIZE_MAX, record_size);
}

/* Rewrites the signer field of an envelope (the signature stays). */
static mesh_err
resign(uint8_t *frame, uint32_t *frame_size, uint32_t frame_size_max, const mesh_node_id *signer)
{
    wire_envelope envelope;
    mesh_err err = wire_envelope_decode(frame, *frame_size, &envelope, NULL);
    if (err != MESH_OK) {
        return err;
    }
    static uint8_t body[WIRE_FRAME_SIZE_MAX];
    memcpy(body, envelope.body, envelope.body_size);
    envelope.body = body;
    envelope.signer = *signer;
    return wire_envelope_encode(&envelope, frame, frame_size_max, frame_size);
}

/* A push of up to two records, under a random signer, into frame_buf. */
static mesh_err push_records(const uint8_t *const *records,
                             const uint32_t *sizes,
                             uint32_t count,
                             const mesh_node_id *signer,
                             uint32_t *size_out)
{
    static wire_push push;
    static uint8_t body[WIRE_FRAME_SIZE_MAX];
    memset(&push, 0, sizeof(push));
    for (uint32_t i = 0; i < count && i < WIRE_PUSH_RECORDS_MAX; i++) {
        push.records[i].frame = records[i];
        push.records[i].frame_size = sizes[i];
    }
    push.record_count = count;
    uint32_t body_size = 0;
    mesh_err err = wire_push_encode(&push, body, sizeof(body), &body_size);
    if (err != MESH_OK) {
        return err;
    }
    wire_envelope envelope;
    memset(&envelope, 0, sizeof(envelope));
    envelope.version = WIRE_VERSION;
    envelope.type = WIRE_TYPE_PUSH;
    if (signer != NULL) {
        envelope.signer = *signer;
    } else {
        fill_random(envelope.signer.bytes, sizeof(envelope.signer.bytes));
    }
    envelope.body = body;
    envelope.body_size = body_size;
    return wire_envelope_encode(&envelope, frame_buf, WIRE_FRAME_SIZE_MAX, size_out);
}

/* A push of one or two records under a random signer, into frame_buf. */
static mesh_err push_frame(const uint8_t *first,
                           uint32_t first_size,
                           const uint8_t *second,
                           uint32_t second_size,
                           uint32_t *size_out)
{
    const uint8_t *records[2] = {first, second};
    uint32_t sizes[2] = {first_size, second_size};
    return push_records(records, sizes, second != NULL ? 2 : 1, NULL, size_out);
}

static mesh_err
lease_request_frame(hostile *h, int64_t expires_ns, uint8_t *frame, uint32_t *frame_size)
{
    wire_lease_request request;
    memset(&request, 0, sizeof(request));
    fill_random(request.lease_id, sizeof(request.lease_id));
    request.lease_id[0] |= 1u; // never all zero
    request.lender = h->target_id;
    request.resource_count = 1;
    request.resources[0].resource_class = WIRE_RESOURCE_VCPU;
    request.resources[0].amount = 1;
    int64_t now_ns = realtime_ns();
    request.start_ns = now_ns;
    request.duration_ns = (uint64_t) HOUR_NS;
    request.expires_ns = expires_ns;
    uint8_t body[WIRE_FRAME_SIZE_MAX];
    uint32_t body_size = 0;
    mesh_err err = wire_lease_request_encode(&request, body, sizeof(body), &body_size);
    if (err != MESH_OK) {
        return err;
    }
    return mcrypto_envelope_seal(&h->member, WIRE_TYPE_LEASE_REQUEST, body, body_size, frame,
                                 WIRE_FRAME_SIZE_MAX, frame_size);
}

static mesh_err lease_wrong_id_frame(hostile *h, uint32_t *frame_size)
{
    uint8_t body[256];
    uint32_t body_size = 0;
    mesh_err err;
    wire_type type;
    uint8_t lease_id[WIRE_LEASE_ID_SIZE];
    fill_random(lease_id, sizeof(lease_id));
    lease_id[0] |= 1u;
    if (h->counter % 3 == 2) {
        wire_lease_refuse refuse;
        memset(&refuse, 0, sizeof(refuse));
        memcpy(refuse.lease_id, lease_id, sizeof(lease_id));
        refuse.reason = WIRE_LEASE_REFUSAL_CAPACITY;
        type = WIRE_TYPE_LEASE_REFUSE;
        err = wire_lease_refuse_encode(&refuse, body, sizeof(body), &body_size);
    } else {
        wire_lease_end end;
        memset(&end, 0, sizeof(end));
        memcpy(end.lease_id, lease_id, sizeof(lease_id));
        end.what = h->counter % 3 == 0 ? WIRE_LEASE_END_RELEASE : WIRE_LEASE_END_DECLINE;
        end.at_ns = realtime_ns();
        type = WIRE_TYPE_LEASE_END;
        err = wire_lease_end_encode(&end, body, sizeof(body), &body_size);
    }
    if (err != MESH_OK) {
        return err;
    }
    return mcrypto_envelope_seal(&h->member, type, body, body_size, frame_buf, WIRE_FRAME_SIZE_MAX,
                                 frame_size);
}

/* Cuts frame_buf to a random length in [min_size, size - 1]. */
static uint32_t cut(uint32_t size, uint32_t min_size)
{
    if (size <= min_size + 1) {
        return min_size;
    }
    return min_size + randombytes_uniform(size - min_size - 1);
}

/* Builds one frame of `which` into frame_buf. */
static mesh_err build(hostile *h, kind which, uint32_t *size_out)
{
    static uint8_t record[WIRE_RECORD_SIZE_MAX];
    uint32_t record_size = 0;
    uint64_t n = ++h->counter;
    int64_t now_ns = realtime_ns();
    mesh_err err = MESH_OK;
    switch (which) {
    case KIND_FORGED:
    case KIND_TRUNCATED:
        // Newer than any sequence the victim could hold, so that only the
        // signature is left to refuse it.
        err = advert_record(&h->member, &h->victim_id, UINT64_MAX / 2 + n, now_ns, record,
                            &record_size);
        if (err == MESH_OK) {
            err = resign(record, &record_size, sizeof(record), &h->victim_id);
        }
        if (err == MESH_OK) {
            err = push_frame(record, record_size, NULL, 0, size_out);
        }
        if (err == MESH_OK && which == KIND_TRUNCATED) {
            *size_out = cut(*size_out, 1);
        }
        return err;
    case KIND_REPLAYED:
        err = advert_record(&h->member, &h->member_id, n, now_ns - DAY_NS, record, &record_size);
        return err == MESH_OK ? push_frame(record, record_size, NULL, 0, size_out) : err;
    case KIND_EXPIRED:
        err = advert_record(&h->expired, &h->expired_id, n, now_ns, record, &record_size);
        return err == MESH_OK ? push_frame(h->expired_cert, h->expired_cert_size, record,
                                           record_size, size_out)
                              : err;
    case KIND_REVOKED:
        err = advert_record(&h->revoked, &h->revoked_id, n, now_ns, record, &record_size);
        return err == MESH_OK ? push_frame(h->revoked_cert, h->revoked_cert_size, record,
                                           record_size, size_out)
                              : err;
    case KIND_OVERSIZE:
        *size_out = WIRE_FRAME_SIZE_MAX + 1u + (uint32_t) (n % OVERSIZE_SLACK);
        fill_random(frame_buf, *size_out);
        frame_buf[0] = 0x95;
        frame_buf[1] = WIRE_VERSION;
        frame_buf[2] = WIRE_TYPE_PUSH;
        return MESH_OK;
    case KIND_RANDOM:
    case KIND_UDP_RANDOM:
        *size_out = 1u + randombytes_uniform(which == KIND_RANDOM ? 1024u : NODE_UDP_FRAME_MAX);
        fill_random(frame_buf, *size_out);
        if (frame_buf[0] == 0x95) {
            frame_buf[0] = 0x94; // an envelope's first byte would make it a truncated kind
        }
        return MESH_OK;
    case KIND_LEASE_FORGED:
        err = lease_request_frame(h, now_ns + 60 * 1000000000ll, frame_buf, size_out);
        return err == MESH_OK ? resign(frame_buf, size_out, WIRE_FRAME_SIZE_MAX, &h->victim_id)
                              : err;
    case KIND_LEASE_WRONG_ID:
        return lease_wrong_id_frame(h, size_out);
    case KIND_LEASE_REPLAYED:
        memcpy(frame_buf, h->replay_request, h->replay_request_size);
        *size_out = h->replay_request_size;
        return MESH_OK;
    case KIND_LEASE_EXPIRED:
        return lease_request_frame(h, now_ns - HOUR_NS, frame_buf, size_out);
    case KIND_LEASE_TRUNCATED:
        err = lease_request_frame(h, now_ns + 60 * 1000000000ll, frame_buf, size_out);
        if (err == MESH_OK) {
            *size_out = cut(*size_out, 3); // long enough to name its lease type
        }
        return err;
    case KIND_SPOOFED: {
        // A push in the victim's name, as large as a frame may be, of junk
        // records: the push's signer is not authenticated, so it must not
        // cost the victim anything at the target (its rate budget).
        static uint8_t junk[SPOOFED_RECORDS][SPOOFED_RECORD_SIZE];
        const uint8_t *records[SPOOFED_RECORDS];
        uint32_t sizes[SPOOFED_RECORDS];
        for (uint32_t i = 0; i < SPOOFED_RECORDS; i++) {
            fill_random(junk[i], SPOOFED_RECORD_SIZE);
            junk[i][0] = 0x94; // not an envelope: refused as malformed
            records[i] = junk[i];
            sizes[i] = SPOOFED_RECORD_SIZE;
        }
        return push_records(records, sizes, SPOOFED_RECORDS, &h->victim_id, size_out);
    }
    case KIND_UDP_FORGED: {
        wire_ping ping;
        memset(&ping, 0, sizeof(ping));
        ping.nonce = n;
        uint8_t body[128];
        uint32_t body_size = 0;
        err = wire_ping_encode(&ping, body, sizeof(body), &body_size);
        if (err != MESH_OK) {
            return err;
        }
        wire_envelope envelope;
        memset(&envelope, 0, sizeof(envelope));
        envelope.version = WIRE_VERSION;
        envelope.type = WIRE_TYPE_PING;
        envelope.signer = h->victim_id;
        envelope.body = body;
        envelope.body_size = body_size;
        fill_random(envelope.signature, WIRE_MAC_SIZE);
        return wire_envelope_encode(&envelope, frame_buf, NODE_UDP_FRAME_MAX, size_out);
    }
    case KIND_UDP_OVERSIZE:
        *size_out = NODE_UDP_FRAME_MAX + 1u + (uint32_t) (n % 200u);
        fill_random(frame_buf, *size_out);
        return MESH_OK;
    default:
        return MESH_EINVAL;
    }
}

static int load_identity(const char *key_path,
                         const char *cert_path,
                         mcrypto_keypair *key,
                         mesh_node_id *id,
                         uint8_t *cert,
                         uint32_t *cert_size)
{
    if (key_path == NULL || node_keyfile_read_secret(key_path, key) != MESH_OK) {
        (void) fprintf(stderr, "fedmesh-hostile: cannot read key %s\n",
                       key_path != NULL ? key_path : "(none)");
        return -1;
    }
    mcrypto_node_id(key->public_key, id);
    if (cert_path != NULL && node_read_armored("fedmesh-hostile", cert_path, "CERTIFICATE", cert,
                                               cert_size) != MESH_OK) {
        return -1;
    }
    return 0;
}

static int load_id(const char *path, mesh_node_id *id)
{
    uint8_t public_key[MCRYPTO_PUBLIC_KEY_SIZE];
    if (path == NULL || node_keyfile_read_public(path, public_key) != MESH_OK) {
        (void) fprintf(stderr, "fedmesh-hostile: cannot read public key %s\n",
                       path != NULL ? path : "(none)");
        return -1;
    }
    mcrypto_node_id(public_key, id);
    return 0;
}

/* tcp://A.B.C.D:PORT into a UDP address (the agent's probes share it). */
static int udp_address(const char *target, struct sockaddr_in *address)
{
    const char *host = strstr(target, "://");
    const char *colon = host != NULL ? strrchr(host + 3, ':') : NULL;
    if (colon == NULL || (size_t) (colon - host - 3) >= INET_ADDRSTRLEN) {
        return -1;
    }
    char text[INET_ADDRSTRLEN];
    memcpy(text, host + 3, (size_t) (colon - host - 3));
    text[colon - host - 3] = '\0';
    memset(address, 0, sizeof(*address));
    address->sin_family = AF_INET;
    address->sin_port = htons((uint16_t) strtoul(colon + 1, NULL, 10));
    return inet_pton(AF_INET, text, &address->sin_addr) == 1 ? 0 : -1;
}

static int send_tcp(nng_socket socket, const uint8_t *frame, uint32_t size)
{
    int rv = nng_send(socket, (void *) frame, size, 0);
    if (rv != 0) {
        (void) fprintf(stderr, "fedmesh-hostile: send: %s\n", nng_strerror(rv));
        return -1;
    }
    return 0;
}

static const char usage[] =
    "usage: fedmesh-hostile --target tcp://HOST:PORT --target-pub A.pub --victim-pub B.pub\n"
    "         --key M.key --cert M.cert --expired-key E.key --expired-cert E.cert\n"
    "         --revoked-key R.key --revoked-cert R.cert [--seconds S] [--rate N]\n"
    "         [--udp-rate N] [--introduce]\n"
    "Sends frames an agent must refuse (see tests/tools/hostile_peer.c); prints\n"
    "what it sent per kind as JSON. A test tool: never aim it at a production agent.\n";

int main(int argc, char **argv)
{
    static hostile h;
    // --target-pub, --victim-pub, --key, --cert, --expired-key,
    // --expired-cert, --revoked-key, --revoked-cert, in that order.
    const char *paths[PATH_COUNT] = {NULL};
    double seconds = 10;
    double rate = 1000;
    double udp_rate = 100;
    bool introduce = false;
    static const struct option options[] = {{"target", required_argument, NULL, 't'},
                                            {"target-pub", required_argument, NULL, OPT_PATH + 0},
                                            {"victim-pub", required_argument, NULL, OPT_PATH + 1},
                                            {"key", required_argument, NULL, OPT_PATH + 2},
                                            {"cert", required_argument, NULL, OPT_PATH + 3},
                                            {"expired-key", required_argument, NULL, OPT_PATH + 4},
                                            {"expired-cert", required_argument, NULL, OPT_PATH + 5},
                                            {"revoked-key", required_argument, NULL, OPT_PATH + 6},
                                            {"revoked-cert", required_argument, NULL, OPT_PATH + 7},
                                            {"seconds", required_argument, NULL, 's'},
                                            {"rate", required_argument, NULL, 'n'},
                                            {"udp-rate", required_argument, NULL, 'u'},
                                            {"introduce", no_argument, NULL, 'i'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 't':
            h.target = optarg;
            break;
        case 's':
            seconds = strtod(optarg, NULL);
            break;
        case 'n':
            rate = strtod(optarg, NULL);
            break;
        case 'u':
            udp_rate = strtod(optarg, NULL);
            break;
        case 'i':
            introduce = true;
            break;
        case 'h':
            (void) fputs(usage, stdout);
            return 0;
        default:
            if (c >= OPT_PATH && c < OPT_PATH + PATH_COUNT) {
                paths[c - OPT_PATH] = optarg;
                break;
            }
            (void) fputs(usage, stderr);
            return 2;
        }
    }
    if (h.target == NULL || seconds <= 0 || seconds > 3600 || rate < 1 || rate > 1e6 ||
        udp_rate < 0 || udp_rate > 1e5) {
        (void) fputs(usage, stderr);
        return 2;
    }
    if (mcrypto_init() != MESH_OK) {
        return 4;
    }
    if (load_id(paths[0], &h.target_id) != 0 || load_id(paths[1], &h.victim_id) != 0 ||
        load_identity(paths[2], paths[3], &h.member, &h.member_id, h.member_cert,
                      &h.member_cert_size) != 0) {
        return 2;
    }
    if (!introduce && (load_identity(paths[4], paths[5], &h.expired, &h.expired_id, h.expired_cert,
                                     &h.expired_cert_size) != 0 ||
                       load_identity(paths[6], paths[7], &h.revoked, &h.revoked_id, h.revoked_cert,
                                     &h.revoked_cert_size) != 0)) {
        return 2;
    }
    nng_socket push;
    int rv = nng_push0_open(&push);
    if (rv == 0) {
        rv = nng_socket_set_int(push, NNG_OPT_SENDBUF, 256);
    }
    if (rv == 0) {
        rv = nng_dial(push, h.target, NULL, 0); // synchronous: fail if nobody listens
    }
    if (rv != 0) {
        (void) fprintf(stderr, "fedmesh-hostile: dial %s: %s\n", h.target, nng_strerror(rv));
        return 3;
    }
    if (introduce) {
        static uint8_t record[WIRE_RECORD_SIZE_MAX];
        uint32_t record_size = 0;
        uint32_t size = 0;
        int status = advert_record(&h.member, &h.member_id, INTRODUCTION_SEQUENCE, realtime_ns(),
                                   record, &record_size) == MESH_OK &&
                             push_frame(h.member_cert, h.member_cert_size, record, record_size,
                                        &size) == MESH_OK &&
                             send_tcp(push, frame_buf, size) == 0
                         ? 0
                         : 1;
        nng_msleep(300); // let the frame leave before the socket closes
        (void) nng_close(push);
        mcrypto_keypair_wipe(&h.member);
        (void) printf("{\"introduced\": %s}\n", status == 0 ? "true" : "false");
        return status;
    }
    if (lease_request_frame(&h, realtime_ns() + DAY_NS, h.replay_request, &h.replay_request_size) !=
        MESH_OK) {
        return 4;
    }
    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in udp_to;
    if (udp < 0 || udp_address(h.target, &udp_to) != 0) {
        (void) fprintf(stderr, "fedmesh-hostile: no UDP socket or address for %s\n", h.target);
        return 3;
    }
    uint64_t start_ns = monotonic_ns();
    uint64_t end_ns = start_ns + (uint64_t) (seconds * 1e9);
    uint64_t tcp_total = 0;
    uint64_t udp_total = 0;
    int status = 0;
    for (uint64_t now_ns = start_ns; now_ns < end_ns && status == 0; now_ns = monotonic_ns()) {
        double elapsed_s = (double) (now_ns - start_ns) / 1e9;
        uint64_t tcp_due = (uint64_t) (elapsed_s * rate);
        uint64_t udp_due = (uint64_t) (elapsed_s * udp_rate);
        while (tcp_total < tcp_due && status == 0) {
            kind which = (kind) (tcp_total % KIND_TCP_COUNT);
            uint32_t size = 0;
            if (build(&h, which, &size) != MESH_OK || send_tcp(push, frame_buf, size) != 0) {
                (void) fprintf(stderr, "fedmesh-hostile: cannot build or send %s\n",
                               kind_names[which]);
                status = 1;
                break;
            }
            h.sent[which]++;
            tcp_total++;
        }
        while (udp_total < udp_due && status == 0) {
            kind which = (kind) (KIND_TCP_COUNT + udp_total % (KIND_COUNT - KIND_TCP_COUNT));
            uint32_t size = 0;
            if (build(&h, which, &size) != MESH_OK) {
                status = 1;
                break;
            }
            if (sendto(udp, frame_buf, size, 0, (const struct sockaddr *) &udp_to,
                       sizeof(udp_to)) == (ssize_t) size) {
                h.sent[which]++;
            }
            udp_total++;
        }
        struct timespec pause = {0, 1000000};
        (void) nanosleep(&pause, NULL);
    }
    double elapsed_s = (double) (monotonic_ns() - start_ns) / 1e9;
    // NNG's push queue may still hold frames: give them time to leave.
    nng_msleep(1000);
    (void) nng_close(push);
    (void) close(udp);
    mcrypto_keypair_wipe(&h.member);
    mcrypto_keypair_wipe(&h.expired);
    mcrypto_keypair_wipe(&h.revoked);
    uint64_t total = 0;
    (void) printf("{\"seconds\": %.3f, \"kinds\": {", elapsed_s);
    for (uint32_t k = 0; k < KIND_COUNT; k++) {
        (void) printf("%s\"%s\": %" PRIu64, k == 0 ? "" : ", ", kind_names[k], h.sent[k]);
        total += h.sent[k];
    }
    (void) printf("}, \"sent_total\": %" PRIu64 ", \"rate_per_s\": %.1f}\n", total,
                  (double) total / elapsed_s);
    return status;
}
