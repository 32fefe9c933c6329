/*
 * tests/bench/bench_lease.c: what does a lease cost, end to end, between
 * two real agents, against what it cannot avoid: network round trips,
 * synced writes and the lender's signatures?
 *
 * A lease is the HTTP request, REQUEST, OFFER, acceptance (the borrower
 * syncs its ledger record first), confirmation (the lender syncs first),
 * then the HTTP answer: six one-way trips, three round trips' worth, and
 * two syncs, one on each side (docs/leases.md). Hence the goal
 *
 *     lease_p50 <= 3 x raw_rtt_p50 + 2 x raw_sync_p50.
 *
 * What is measured, all in one run:
 *   lease:  the time of one POST /v1/leases on the borrower agent (1 vCPU
 *           for 1 h), over one persistent HTTP/1.1 connection (NNG's
 *           client: connected once, then nng_http_conn_transact), one
 *           lease at a time, after a warm-up. p50 and p99.
 *   raw_rtt: an NNG req0/rep0 round trip of a lease-sized message
 *           (700 bytes) over tcp://127.0.0.1, echoed by a thread of this
 *           process. Median.
 *   raw_sync: one synced RocksDB put (800-byte value) in a fresh database
 *           in the directory the agents' ledgers are in. Median.
 *   sign, verify: Ed25519 on 700-byte messages with libsodium. Medians.
 * These four alternate in rounds (leases, then round trips, then syncs,
 * then signatures), so that a noisy neighbour on a shared VM hits every
 * side alike.
 *   throughput: `concurrency` HTTP connections each keep one borrow in
 *           flight (aio-driven nng_http_conn_transact: the next request
 *           leaves from the completion callback) for `seconds`, or until
 *           the lease budget the agents were sized for is spent.
 *           leases_per_s = granted answers / time to the last one.
 *   crypto_bound: what the lender's signature work alone allows: per
 *           lease it signs 3 times (the OPENED record, the offer envelope
 *           and the confirmation envelope: lease/lender.c, and lease_send
 *           in lease/lease.c seals every envelope) and verifies 3 times
 *           (the request and acceptance envelopes in lease_on_message,
 *           the borrower's signature on the OPENED record in
 *           lease_lender_on_record). The borrower does the same 3 + 3 on
 *           the same machine here.
 *   phases: for each phase, each agent's CPU (/proc/PID/stat) and
 *           counters (GET /metrics: group commits and their mean time,
 *           frame calls and their mean time, frames dropped, 503 busy,
 *           retries), and how busy the whole machine was and how much of
 *           it other processes took (/proc/stat): on a shared VM that says
 *           whether a run is worth reading. The concurrent phase's
 *           figures end at its deadline, before the last borrows drain.
 * At the end both agents' ledgers must hold every granted lease, open
 * (GET /v1/status: ledger.leases.open), and both agents must stop cleanly.
 *
 * The agents' [lease] leases_max is sized for the run (RATE_CAP_PER_S in
 * the concurrent phase) and reported: it is not neutral, since a lender
 * scans its whole slot table on every request (peer_booked in
 * lease/lender.c); --leases-max sets it.
 *
 * Bounds: setup and readiness 20 s, each HTTP call 10 s, the concurrent
 * phase `seconds` + 30 s, the stop 5 s per agent before SIGKILL.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/http/http.h>
#include <rocksdb/c.h>
#include <sodium.h>

#include "tests/bench/bench.h"
#include "tests/bench/bench_agents.h"

#define ROUNDS_MAX        10u
#define WARMUP_LEASES     20u
#define RTT_PER_ROUND     200u
#define SYNC_PER_ROUND    50u
#define CRYPTO_PER_ROUND  100u
#define MESSAGE_SIZE      700u /* a lease frame: envelope, record with terms, signatures */
#define SYNC_VALUE_SIZE   800u /* a ledger entry of an OPENED record */
#define LENDER_SIGNS      3u   /* per lease: see the file head */
#define LENDER_VERIFIES   3u
#define RATE_CAP_PER_S    6000u /* the agents are sized for this many leases per second */
#define SLOTS_SPARE       1024u /* lease slots beyond what the run grants */
#define READY_TIMEOUT_MS  20000u
#define FIRST_GRANT_MS    10000u
#define HTTP_TIMEOUT_MS   10000
#define SWARM_SLACK_S     30u
#define OFFER_TTL_MS      1000u
#define LEASES_PER_S_GOAL 2000.0
#define RATIO_GOAL        0.5
#define CONCURRENCY_MAX   64u
#define ERROR_TEXT_SIZE   512u

static const char borrow_body[] =
    "{\"resources\":[{\"class\":\"vcpu\",\"amount\":1}],\"duration_s\":3600,\"timeout_ms\":5000}";
static const char granted_text[] = "\"status\":\"granted\"";

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *) a;
    double y = *(const double *) b;
    return (x > y) - (x < y);
}

/* The nearest-rank percentile (q in 0..1); sorts `values`. */
static double percentile(double *values, uint32_t count, double q)
{
    if (count == 0) {
        return 0.0;
    }
    qsort(values, count, sizeof(double), compare_double);
    double rank = ceil(q * (double) count);
    uint32_t index = rank < 1.0 ? 0u : (uint32_t) rank - 1u;
    return values[index < count ? index : count - 1u];
}

static bool body_granted(const void *data, size_t size)
{
    return data != NULL && memmem(data, size, granted_text, sizeof(granted_text) - 1) != NULL;
}

/* ---------------------------------------------------------------- */
/* Raw NNG round trips: req0 here, rep0 echoed by a thread.         */
/* ---------------------------------------------------------------- */

typedef struct raw_rtt {
    nng_socket rep;
    nng_socket req;
    bool rep_open;
    bool req_open;
    pthread_t echo;
    bool echo_started;
    uint8_t message[MESSAGE_SIZE];
} raw_rtt;

static void *raw_rtt_echo(void *arg)
{
    raw_rtt *r = arg;
    for (;;) {
        nng_msg *msg = NULL;
        if (nng_recvmsg(r->rep, &msg, 0) != 0) {
            break; // closed
        }
        if (nng_sendmsg(r->rep, msg, 0) != 0) {
            nng_msg_free(msg);
            break;
        }
    }
    return NULL;
}

static int raw_rtt_open(raw_rtt *r)
{
    memset(r, 0, sizeof(*r));
    randombytes_buf(r->message, sizeof(r->message));
    nng_listener listener;
    int port = 0;
    char url[64];
    if (nng_rep0_open(&r->rep) != 0) {
        return -1;
    }
    r->rep_open = true;
    if (nng_listener_create(&listener, r->rep, "tcp://127.0.0.1:0") != 0 ||
        nng_listener_start(listener, 0) != 0 ||
        nng_listener_get_int(listener, NNG_OPT_TCP_BOUND_PORT, &port) != 0) {
        return -1;
    }
    if (pthread_create(&r->echo, NULL, raw_rtt_echo, r) != 0) {
        return -1;
    }
    r->echo_started = true;
    (void) snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
    if (nng_req0_open(&r->req) != 0) {
        return -1;
    }
    r->req_open = true;
    if (nng_socket_set_ms(r->req, NNG_OPT_RECVTIMEO, 5000) != 0 ||
        nng_socket_set_ms(r->req, NNG_OPT_SENDTIMEO, 5000) != 0 ||
        nng_dial(r->req, url, NULL, 0) != 0) {
        return -1;
    }
    return 0;
}

static int raw_rtt_sample(raw_rtt *r, double *us_out)
{
    uint8_t reply[MESSAGE_SIZE + 16];
    size_t size = sizeof(reply);
    uint64_t started = bench_clock_ns();
    if (nng_send(r->req, r->message, sizeof(r->message), 0) != 0 ||
        nng_recv(r->req, reply, &size, 0) != 0) {
        return -1;
    }
    *us_out = (double) (bench_clock_ns() - started) / 1e3;
    return size == sizeof(r->message) ? 0 : -1;
}

static void raw_rtt_close(raw_rtt *r)
{
    if (r->req_open) {
        (void) nng_close(r->req);
    }
    if (r->rep_open) {
        (void) nng_close(r->rep); // the echo thread's receive fails: it returns
    }
    if (r->echo_started) {
        (void) pthread_join(r->echo, NULL);
    }
}

/* ---------------------------------------------------------------- */
/* Raw synced RocksDB puts.                                          */
/* ---------------------------------------------------------------- */

typedef struct raw_sync {
    rocksdb_options_t *options;
    rocksdb_writeoptions_t *write;
    rocksdb_t *db;
    uint64_t key;
    uint8_t value[SYNC_VALUE_SIZE];
} raw_sync;

static int raw_sync_open(raw_sync *s, const char *dir)
{
    memset(s, 0, sizeof(*s));
    randombytes_buf(s->value, sizeof(s->value));
    char path[BENCH_PATH_SIZE];
    int used = snprintf(path, sizeof(path), "%s/raw-sync.rocks", dir);
    if (used < 0 || (size_t) used >= sizeof(path)) {
        return -1;
    }
    s->options = rocksdb_options_create();
    s->write = rocksdb_writeoptions_create();
    rocksdb_options_set_create_if_missing(s->options, 1);
    rocksdb_writeoptions_set_sync(s->write, 1);
    char *error = NULL;
    s->db = rocksdb_open(s->options, path, &error);
    if (error != NULL) {
        (void) fprintf(stderr, "bench lease: rocksdb_open %s: %s\n", path, error);
        rocksdb_free(error);
        return -1;
    }
    return 0;
}

static int raw_sync_sample(raw_sync *s, double *us_out)
{
    uint8_t key[9] = {'r'};
    uint64_t k = s->key++;
    for (int i = 0; i < 8; i++) {
        key[8 - i] = (uint8_t) (k >> (8 * i));
    }
    s->value[0] = (uint8_t) k;
    char *error = NULL;
    uint64_t started = bench_clock_ns();
    rocksdb_put(s->db, s->write, (const char *) key, sizeof(key), (const char *) s->value,
                sizeof(s->value), &error);
    *us_out = (double) (bench_clock_ns() - started) / 1e3;
    if (error != NULL) {
        (void) fprintf(stderr, "bench lease: rocksdb_put: %s\n", error);
        rocksdb_free(error);
        return -1;
    }
    return 0;
}

static void raw_sync_close(raw_sync *s)
{
    if (s->db != NULL) {
        rocksdb_close(s->db);
    }
    if (s->write != NULL) {
        rocksdb_writeoptions_destroy(s->write);
    }
    if (s->options != NULL) {
        rocksdb_options_destroy(s->options);
    }
}

/* ---------------------------------------------------------------- */
/* The borrower's API: one request object and connection per client. */
/* ---------------------------------------------------------------- */

typedef struct borrow_client {
    nng_url *url;
    nng_http_client *client;
    nng_http_conn *conn;
    nng_http_req *req;
    nng_http_res *res;
    nng_aio *aio;
    uint64_t started_ns;
    struct swarm *swarm; /* the concurrent phase only */
} borrow_client;

static void borrow_client_close(borrow_client *c)
{
    if (c->aio != NULL) {
        nng_aio_stop(c->aio);
        nng_aio_free(c->aio);
    }
    if (c->conn != NULL) {
        nng_http_conn_close(c->conn);
    }
    if (c->res != NULL) {
        nng_http_res_free(c->res);
    }
    if (c->req != NULL) {
        nng_http_req_free(c->req);
    }
    if (c->client != NULL) {
        nng_http_client_free(c->client);
    }
    if (c->url != NULL) {
        nng_url_free(c->url);
    }
    memset(c, 0, sizeof(*c));
}

/* Connects (the TCP connect happens here, never in a measured call) and
 * prepares the POST. `callback` NULL: synchronous use. */
static int borrow_client_open(borrow_client *c,
                              const bench_agents *agents,
                              void (*callback)(void *),
                              void *arg)
{
    char base[BENCH_URL_SIZE];
    char text[BENCH_URL_SIZE + 16];
    char authorization[BENCH_TOKEN_SIZE + 16];
    bench_agents_url(agents, BENCH_AGENT_BORROWER, base);
    (void) snprintf(text, sizeof(text), "%s/v1/leases", base);
    (void) snprintf(authorization, sizeof(authorization), "Bearer %s", agents->token);
    memset(c, 0, sizeof(*c));
    if (nng_url_parse(&c->url, text) != 0 || nng_http_client_alloc(&c->client, c->url) != 0 ||
        nng_http_req_alloc(&c->req, c->url) != 0 || nng_http_req_set_method(c->req, "POST") != 0 ||
        nng_http_req_set_header(c->req, "Authorization", authorization) != 0 ||
        nng_http_req_set_header(c->req, "Content-Type", "application/json") != 0 ||
        nng_http_req_copy_data(c->req, borrow_body, sizeof(borrow_body) - 1) != 0 ||
        nng_aio_alloc(&c->aio, NULL, NULL) != 0) {
        goto out_close;
    }
    nng_aio_set_timeout(c->aio, HTTP_TIMEOUT_MS);
    nng_http_client_connect(c->client, c->aio);
    nng_aio_wait(c->aio);
    if (nng_aio_result(c->aio) != 0) {
        (void) fprintf(stderr, "bench lease: cannot connect to %s: %s\n", text,
                       nng_strerror(nng_aio_result(c->aio)));
        goto out_close;
    }
    c->conn = nng_aio_get_output(c->aio, 0);
    if (callback != NULL) {
        // The completion callback drives the concurrent phase.
        nng_aio_free(c->aio);
        c->aio = NULL;
        if (nng_aio_alloc(&c->aio, callback, arg) != 0) {
            goto out_close;
        }
        nng_aio_set_timeout(c->aio, HTTP_TIMEOUT_MS);
    }
    return 0;
out_close:
    borrow_client_close(c);
    return -1;
}

/* Starts one borrow; its answer lands in c->res. A fresh response object
 * each time: NNG 1.5 appends the headers of a reused one. */
static int borrow_client_send(borrow_client *c)
{
    if (c->res != NULL) {
        nng_http_res_free(c->res);
        c->res = NULL;
    }
    if (nng_http_res_alloc(&c->res) != 0) {
        return -1;
    }
    c->started_ns = bench_clock_ns();
    nng_http_conn_transact(c->conn, c->req, c->res, c->aio);
    return 0;
}

/* 0 when the answer was 200 and granted; else -1 with the reason. */
static int borrow_client_result(borrow_client *c, char *error, size_t error_size)
{
    int rv = nng_aio_result(c->aio);
    if (rv != 0) {
        (void) snprintf(error, error_size, "transport: %s", nng_strerror(rv));
        return -1;
    }
    void *data = NULL;
    size_t size = 0;
    nng_http_res_get_data(c->res, &data, &size);
    uint16_t status = nng_http_res_get_status(c->res);
    if (status != 200 || !body_granted(data, size)) {
        (void) snprintf(error, error_size, "HTTP %u: %.*s", status, (int) (size < 300 ? size : 300),
                        data != NULL ? (const char *) data : "");
        return -1;
    }
    return 0;
}

static int borrow_once(borrow_client *c, double *us_out, char *error, size_t error_size)
{
    if (borrow_client_send(c) != 0) {
        (void) snprintf(error, error_size, "out of memory");
        return -1;
    }
    nng_aio_wait(c->aio);
    *us_out = (double) (bench_clock_ns() - c->started_ns) / 1e3;
    return borrow_client_result(c, error, error_size);
}

/* ---------------------------------------------------------------- */
/* The agents' own counters (GET /metrics), to say where time went.  */
/* ---------------------------------------------------------------- */

typedef struct agent_counters {
    double send_dropped;  /* frames a full NNG send buffer refused */
    double queue_dropped; /* frames the loop's full input queue refused */
    double http_busy;     /* requests answered 503 busy */
    double commits;       /* synced ledger group commits */
    double commit_s;
    double message_calls; /* machine calls on a received frame */
    double message_s;
    double lease_retries;  /* lease messages sent again after a timeout */
    double lease_rejected; /* lease frames refused, every reason */
} agent_counters;

/* A metric by name, summed over its label sets, or over those whose
 * labels contain `label`. A metric the agent does not export reads 0. */
static const struct {
    const char *name;
    const char *label;
    size_t offset;
} counter_keys[] = {
    {"fedmesh_transport_send_dropped_total", NULL, offsetof(agent_counters, send_dropped)},
    {"fedmesh_transport_queue_dropped_total", NULL, offsetof(agent_counters, queue_dropped)},
    {"fedmesh_http_busy_total", NULL, offsetof(agent_counters, http_busy)},
    {"fedmesh_ledger_write_duration_seconds_count", NULL, offsetof(agent_counters, commits)},
    {"fedmesh_ledger_write_duration_seconds_sum", NULL, offsetof(agent_counters, commit_s)},
    {"fedmesh_gossip_round_duration_seconds_count", "call=\"message\"",
     offsetof(agent_counters, message_calls)},
    {"fedmesh_gossip_round_duration_seconds_sum", "call=\"message\"",
     offsetof(agent_counters, message_s)},
    {"fedmesh_lease_retries_total", NULL, offsetof(agent_counters, lease_retries)},
    {"fedmesh_lease_rejected_total", NULL, offsetof(agent_counters, lease_rejected)},
};

#define COUNTER_COUNT (sizeof(counter_keys) / sizeof(counter_keys[0]))

static void counters_add_line(char *line, agent_counters *out)
{
    // Prometheus text: "NAME{LABELS} VALUE" or "NAME VALUE"; '#' comments.
    char *space = strrchr(line, ' ');
    if (line[0] == '#' || space == NULL) {
        return;
    }
    *space = '\0';
    char *labels = strchr(line, '{');
    if (labels != NULL) {
        *labels++ = '\0';
    }
    for (size_t i = 0; i < COUNTER_COUNT; i++) {
        if (strcmp(line, counter_keys[i].name) == 0 &&
            (counter_keys[i].label == NULL ||
             (labels != NULL && strstr(labels, counter_keys[i].label) != NULL))) {
            *(double *) ((char *) out + counter_keys[i].offset) += strtod(space + 1, NULL);
        }
    }
}

static int counters_read(const bench_agents *agents, uint32_t index, agent_counters *out)
{
    char *text = NULL;
    if (bench_agents_get_text(agents, index, "/metrics", &text) != 0) {
        (void) fprintf(stderr, "bench lease: GET /metrics on the %s agent failed\n",
                       agents->agents[index].name);
        return -1;
    }
    memset(out, 0, sizeof(*out));
    for (char *line = text; line != NULL && *line != '\0';) {
        char *end = strchr(line, '\n');
        if (end != NULL) {
            *end = '\0';
        }
        counters_add_line(line, out);
        line = end != NULL ? end + 1 : NULL;
    }
    free(text);
    return 0;
}

/* What each agent (its /metrics and its CPU), this process and the whole
 * machine had used at one moment: a phase is the difference of two. On a
 * shared VM the machine's busy time says how much others took. */
typedef struct snapshot {
    agent_counters agents[BENCH_AGENT_COUNT];
    double agent_cpu_s[BENCH_AGENT_COUNT];
    double loop_run_s[BENCH_AGENT_COUNT];  /* the agent's main thread (its loop): on a CPU */
    double loop_wait_s[BENCH_AGENT_COUNT]; /* runnable, waiting for a CPU */
    double bench_cpu_s;
    double machine_busy_s; /* every CPU's non-idle time, steal included */
    uint64_t at_ns;
} snapshot;

/* utime + stime of a process (all its threads), from /proc/PID/stat. */
static double process_cpu_s(pid_t pid)
{
    char path[64];
    char line[1024];
    (void) snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        return 0.0;
    }
    char *got = fgets(line, sizeof(line), file);
    (void) fclose(file);
    // "PID (COMM) STATE ..." : utime and stime are fields 14 and 15, the
    // 12th and 13th after the closing parenthesis.
    char *cursor = got != NULL ? strrchr(line, ')') : NULL;
    unsigned long long ticks[2] = {0, 0};
    for (int field = 0; cursor != NULL && field < 13; field++) {
        cursor = strchr(cursor + 1, ' ');
        if (cursor != NULL && field >= 11) {
            ticks[field - 11] = strtoull(cursor + 1, NULL, 10);
        }
    }
    return (double) (ticks[0] + ticks[1]) / (double) sysconf(_SC_CLK_TCK);
}

/* A process's main thread: time on a CPU and time runnable but waiting
 * for one (/proc/PID/task/PID/schedstat, in ns). The rest of the time it
 * is blocked: idle, or in a syscall such as a sync. */
static void thread_schedstat(pid_t pid, double *run_s_out, double *wait_s_out)
{
    char path[64];
    (void) snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", (int) pid, (int) pid);
    *run_s_out = 0.0;
    *wait_s_out = 0.0;
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        return;
    }
    char line[128];
    char *got = fgets(line, sizeof(line), file);
    (void) fclose(file);
    if (got == NULL) {
        return;
    }
    char *end = NULL;
    unsigned long long run_ns = strtoull(line, &end, 10);
    unsigned long long wait_ns = strtoull(end, NULL, 10);
    *run_s_out = (double) run_ns / 1e9;
    *wait_s_out = (double) wait_ns / 1e9;
}

/* The machine's busy CPU time: the "cpu" line of /proc/stat less idle and
 * iowait. */
static double machine_busy_s(void)
{
    FILE *file = fopen("/proc/stat", "r");
    if (file == NULL) {
        return 0.0;
    }
    char line[512];
    char *got = fgets(line, sizeof(line), file);
    (void) fclose(file);
    if (got == NULL || strncmp(line, "cpu ", 4) != 0) {
        return 0.0;
    }
    unsigned long long busy = 0;
    char *cursor = line + 4;
    for (int field = 0; field < 8; field++) {
        char *end = NULL;
        unsigned long long value = strtoull(cursor, &end, 10);
        if (end == cursor) {
            break;
        }
        if (field != 3 && field != 4) { // idle, iowait
            busy += value;
        }
        cursor = end;
    }
    return (double) busy / (double) sysconf(_SC_CLK_TCK);
}

static int snapshot_take(const bench_agents *agents, snapshot *out)
{
    for (uint32_t i = 0; i < BENCH_AGENT_COUNT; i++) {
        if (counters_read(agents, i, &out->agents[i]) != 0) {
            return -1;
        }
        out->agent_cpu_s[i] = process_cpu_s(agents->agents[i].pid);
        thread_schedstat(agents->agents[i].pid, &out->loop_run_s[i], &out->loop_wait_s[i]);
    }
    out->bench_cpu_s = process_cpu_s(getpid());
    out->machine_busy_s = machine_busy_s();
    out->at_ns = bench_clock_ns();
    return 0;
}

/* One phase (after - before): per agent, its counters and its CPU; then
 * the machine's. `leases`: granted in the phase. */
static void phase_print(const char *phase,
                        const snapshot *before,
                        const snapshot *after,
                        uint64_t leases,
                        const bench_agents *agents,
                        bool json,
                        bool last)
{
    double elapsed_s = (double) (after->at_ns - before->at_ns) / 1e9;
    double per_lease = leases > 0 ? 1e6 / (double) leases : 0.0;
    if (json) {
        (void) printf("\"%s\":{", phase);
    }
    for (uint32_t i = 0; i < BENCH_AGENT_COUNT; i++) {
        const agent_counters *b = &before->agents[i];
        const agent_counters *a = &after->agents[i];
        double commits = a->commits - b->commits;
        double calls = a->message_calls - b->message_calls;
        double commit_us = commits > 0 ? (a->commit_s - b->commit_s) * 1e6 / commits : 0.0;
        double call_us = calls > 0 ? (a->message_s - b->message_s) * 1e6 / calls : 0.0;
        double dropped = a->send_dropped - b->send_dropped;
        double queue_dropped = a->queue_dropped - b->queue_dropped;
        double busy = a->http_busy - b->http_busy;
        double retries = a->lease_retries - b->lease_retries;
        double rejected = a->lease_rejected - b->lease_rejected;
        double cpu_s = after->agent_cpu_s[i] - before->agent_cpu_s[i];
        double loop_cpus = (after->loop_run_s[i] - before->loop_run_s[i]) / elapsed_s;
        double loop_waiting = (after->loop_wait_s[i] - before->loop_wait_s[i]) / elapsed_s;
        if (json) {
            (void) printf(
                "\"%s\":{\"cpus\":%.2f,\"cpu_us_per_lease\":%.0f,\"loop_thread_cpus\":%.2f,"
                "\"loop_thread_waiting_for_cpu\":%.2f,"
                "\"send_dropped\":%.0f,\"queue_dropped\":%.0f,\"http_busy\":%.0f,"
                "\"ledger_commits\":%.0f,\"ledger_commit_mean_us\":%.1f,"
                "\"message_calls\":%.0f,\"message_call_mean_us\":%.1f,"
                "\"lease_retries\":%.0f,\"lease_rejected\":%.0f},",
                agents->agents[i].name, cpu_s / elapsed_s, cpu_s * per_lease, loop_cpus,
                loop_waiting, dropped, queue_dropped, busy, commits, commit_us, calls, call_us,
                retries, rejected);
        } else {
            (void) printf("  %-10s %-8s: %.2f CPUs (%.0f us per lease; loop thread %.2f on a CPU, "
                          "%.2f waiting for one), "
                          "%.0f commits (%.0f us), "
                          "%.0f frame calls (%.0f us), %.0f sends dropped, %.0f queue drops, "
                          "%.0f busy, %.0f retries, %.0f rejected\n",
                          phase, agents->agents[i].name, cpu_s / elapsed_s, cpu_s * per_lease,
                          loop_cpus, loop_waiting, commits, commit_us, calls, call_us, dropped,
                          queue_dropped, busy, retries, rejected);
        }
    }
    double machine = (after->machine_busy_s - before->machine_busy_s) / elapsed_s;
    double bench = (after->bench_cpu_s - before->bench_cpu_s) / elapsed_s;
    double mine = bench;
    for (uint32_t i = 0; i < BENCH_AGENT_COUNT; i++) {
        mine += (after->agent_cpu_s[i] - before->agent_cpu_s[i]) / elapsed_s;
    }
    double others = machine > mine ? machine - mine : 0.0;
    if (json) {
        (void) printf("\"elapsed_s\":%.3f,\"bench_cpus\":%.2f,\"machine_busy_cpus\":%.2f,"
                      "\"other_processes_cpus\":%.2f}%s",
                      elapsed_s, bench, machine, others, last ? "" : ",");
    } else {
        (void) printf("  %-10s machine : %.2f of %ld CPUs busy over %.2f s: this bench %.2f, "
                      "other processes %.2f\n",
                      phase, machine, sysconf(_SC_NPROCESSORS_ONLN), elapsed_s, bench, others);
    }
}

/* ---------------------------------------------------------------- */
/* The concurrent phase.                                             */
/* ---------------------------------------------------------------- */

typedef struct swarm {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    borrow_client clients[CONCURRENCY_MAX];
    uint32_t client_count;
    uint32_t active;
    bool stop;
    uint64_t deadline_ns;
    uint64_t started_ns;
    uint64_t last_ns;
    uint64_t issued;
    uint64_t budget;
    uint64_t granted;
    uint64_t errors;
    double *latencies_us; /* budget entries */
    char first_error[ERROR_TEXT_SIZE];
} swarm;

static void swarm_on_answer(void *arg)
{
    borrow_client *c = arg;
    swarm *s = c->swarm;
    uint64_t now_ns = bench_clock_ns();
    char error[ERROR_TEXT_SIZE];
    bool granted = borrow_client_result(c, error, sizeof(error)) == 0;
    bool transport_failed = nng_aio_result(c->aio) != 0;
    (void) pthread_mutex_lock(&s->lock);
    if (granted) {
        if (s->granted < s->budget) {
            s->latencies_us[s->granted] = (double) (now_ns - c->started_ns) / 1e3;
        }
        s->granted++;
        s->last_ns = now_ns;
    } else {
        if (s->errors == 0) {
            (void) snprintf(s->first_error, sizeof(s->first_error), "%s", error);
        }
        s->errors++;
    }
    bool again = !s->stop && !transport_failed && now_ns < s->deadline_ns && s->issued < s->budget;
    if (again) {
        s->issued++;
    }
    (void) pthread_mutex_unlock(&s->lock);
    if (again && borrow_client_send(c) == 0) {
        return;
    }
    (void) pthread_mutex_lock(&s->lock);
    s->active--;
    (void) pthread_cond_broadcast(&s->changed);
    (void) pthread_mutex_unlock(&s->lock);
}

typedef struct swarm_result {
    double leases_per_s;
    uint64_t granted;
    uint64_t errors;
    double elapsed_s;
    double mean_us; /* of the granted borrows */
    uint64_t granted_by_deadline;
    double p50_us;
    double p99_us;
    bool stopped_by_budget;
} swarm_result;

/* `at_deadline_out`: a snapshot taken when the time is up, before the
 * borrows still in flight end (the last of which may wait for a timeout),
 * so that CPU shares are those of the loaded seconds. */
static int swarm_run(const bench_agents *agents,
                     uint32_t concurrency,
                     uint32_t seconds,
                     uint64_t budget,
                     swarm_result *result,
                     snapshot *at_deadline_out)
{
    swarm *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return -1;
    }
    int rc = -1;
    s->latencies_us = calloc(budget, sizeof(double));
    if (s->latencies_us == NULL) {
        goto out_free_swarm;
    }
    pthread_condattr_t attributes;
    (void) pthread_condattr_init(&attributes);
    (void) pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    (void) pthread_mutex_init(&s->lock, NULL);
    (void) pthread_cond_init(&s->changed, &attributes);
    (void) pthread_condattr_destroy(&attributes);
    s->budget = budget;
    for (uint32_t i = 0; i < concurrency; i++) {
        borrow_client *c = &s->clients[i];
        if (borrow_client_open(c, agents, swarm_on_answer, c) != 0) {
            goto out_close;
        }
        c->swarm = s;
        s->client_count++;
    }
    // Counted before the first send, outside the lock: a completion may
    // run before the loop ends.
    uint32_t first = concurrency < budget ? concurrency : (uint32_t) budget;
    (void) pthread_mutex_lock(&s->lock);
    s->started_ns = bench_clock_ns();
    s->last_ns = s->started_ns;
    s->deadline_ns = s->started_ns + (uint64_t) seconds * 1000000000ull;
    s->issued = first;
    s->active = first;
    (void) pthread_mutex_unlock(&s->lock);
    for (uint32_t i = 0; i < first; i++) {
        if (borrow_client_send(&s->clients[i]) != 0) {
            (void) pthread_mutex_lock(&s->lock);
            s->active--;
            s->errors++;
            (void) pthread_mutex_unlock(&s->lock);
        }
    }
    // The callbacks keep every connection busy until the deadline.
    struct timespec deadline;
    (void) clock_gettime(CLOCK_MONOTONIC, &deadline);
    struct timespec bound = deadline;
    deadline.tv_sec += (time_t) seconds;
    bound.tv_sec += (time_t) (seconds + SWARM_SLACK_S);
    (void) pthread_mutex_lock(&s->lock);
    int waited = 0;
    while (s->active > 0 && waited != ETIMEDOUT) {
        waited = pthread_cond_timedwait(&s->changed, &s->lock, &deadline);
    }
    result->granted_by_deadline = s->granted;
    (void) pthread_mutex_unlock(&s->lock);
    if (snapshot_take(agents, at_deadline_out) != 0) {
        (void) pthread_mutex_lock(&s->lock);
        s->stop = true;
        (void) pthread_mutex_unlock(&s->lock);
        goto out_close;
    }
    // Then the last answers, bounded.
    (void) pthread_mutex_lock(&s->lock);
    waited = 0;
    while (s->active > 0 && waited != ETIMEDOUT) {
        waited = pthread_cond_timedwait(&s->changed, &s->lock, &bound);
    }
    bool timed_out = s->active > 0;
    s->stop = true;
    (void) pthread_mutex_unlock(&s->lock);
    if (timed_out) {
        (void) fprintf(stderr, "bench lease: the concurrent phase did not end within %u s\n",
                       seconds + SWARM_SLACK_S);
        goto out_close;
    }
    result->granted = s->granted;
    result->errors = s->errors;
    result->elapsed_s = (double) (s->last_ns - s->started_ns) / 1e9;
    result->leases_per_s = result->elapsed_s > 0.0 ? (double) s->granted / result->elapsed_s : 0.0;
    result->stopped_by_budget = s->issued >= s->budget;
    uint32_t samples = (uint32_t) (s->granted < budget ? s->granted : budget);
    double sum_us = 0.0;
    for (uint32_t i = 0; i < samples; i++) {
        sum_us += s->latencies_us[i];
    }
    result->mean_us = samples > 0 ? sum_us / samples : 0.0;
    result->p50_us = percentile(s->latencies_us, samples, 0.50);
    result->p99_us = percentile(s->latencies_us, samples, 0.99);
    if (s->errors > 0) {
        (void) fprintf(stderr,
                       "bench lease: %llu borrows failed in the concurrent phase; first: %s\n",
                       (unsigned long long) s->errors, s->first_error);
    }
    rc = 0;
out_close:
    // nng_aio_stop (in close) waits for a callback that is running.
    for (uint32_t i = 0; i < s->client_count; i++) {
        borrow_client_close(&s->clients[i]);
    }
    (void) pthread_cond_destroy(&s->changed);
    (void) pthread_mutex_destroy(&s->lock);
    free(s->latencies_us);
out_free_swarm:
    free(s);
    return rc;
}

/* ---------------------------------------------------------------- */
/* The run.                                                          */
/* ---------------------------------------------------------------- */

typedef struct samples {
    double *lease_us;
    double *rtt_us;
    double *sync_us;
    double *sign_us;
    double *verify_us;
    uint32_t lease_count;
    uint32_t rtt_count;
    uint32_t sync_count;
    uint32_t crypto_count;
} samples;

typedef struct figures {
    double lease_p50_us;
    double lease_p99_us;
    double raw_rtt_p50_us;
    double raw_sync_p50_us;
    double sign_p50_us;
    double verify_p50_us;
    swarm_result swarm;
    uint32_t leases_measured;
    uint32_t rounds;
    uint32_t concurrency;
    uint32_t seconds;
    uint32_t leases_max;
    long long borrower_open;
    long long lender_open;
    uint64_t granted_total;
    snapshot snapshots[3]; /* sequential start, concurrent start, its deadline */
    char fs_type[BENCH_FS_TEXT_SIZE];
    char fs_source[BENCH_FS_TEXT_SIZE];
} figures;

/* With --keep (a profiling run): when each phase starts, on stderr. */
static void phase_log(const bench_options *options, const char *phase)
{
    if (!options->keep) {
        return;
    }
    // CLOCK_MONOTONIC: what `perf record -k CLOCK_MONOTONIC` stamps.
    uint64_t now_ns = bench_clock_ns();
    (void) fprintf(stderr, "bench lease: monotonic %llu.%06llu: %s\n",
                   (unsigned long long) (now_ns / 1000000000ull),
                   (unsigned long long) (now_ns % 1000000000ull / 1000ull), phase);
}

static int first_grant(borrow_client *c)
{
    uint64_t deadline_ns = bench_clock_ns() + (uint64_t) FIRST_GRANT_MS * 1000000ull;
    char error[ERROR_TEXT_SIZE];
    for (;;) {
        double us = 0;
        if (borrow_once(c, &us, error, sizeof(error)) == 0) {
            return 0;
        }
        if (bench_clock_ns() >= deadline_ns) {
            (void) fprintf(stderr, "bench lease: no lease granted within %u ms: %s\n",
                           FIRST_GRANT_MS, error);
            return -1;
        }
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 100000000L};
        (void) nanosleep(&pause, NULL);
    }
}

static int
crypto_round(const uint8_t *public_key, const uint8_t *secret_key, uint8_t *message, samples *out)
{
    uint8_t signature[crypto_sign_BYTES];
    for (uint32_t i = 0; i < CRYPTO_PER_ROUND; i++) {
        message[0] = (uint8_t) i;
        uint64_t t0 = bench_clock_ns();
        (void) crypto_sign_detached(signature, NULL, message, MESSAGE_SIZE, secret_key);
        uint64_t t1 = bench_clock_ns();
        int bad = crypto_sign_verify_detached(signature, message, MESSAGE_SIZE, public_key);
        uint64_t t2 = bench_clock_ns();
        if (bad != 0) {
            return -1;
        }
        out->sign_us[out->crypto_count] = (double) (t1 - t0) / 1e3;
        out->verify_us[out->crypto_count] = (double) (t2 - t1) / 1e3;
        out->crypto_count++;
    }
    return 0;
}

/* The interleaved rounds: leases, round trips, syncs, signatures. */
static int measure_rounds(const bench_agents *agents,
                          const bench_options *options,
                          uint32_t rounds,
                          samples *out,
                          snapshot *start_out)
{
    int rc = -1;
    raw_rtt rtt;
    raw_sync sync;
    borrow_client client;
    uint8_t public_key[crypto_sign_PUBLICKEYBYTES];
    uint8_t secret_key[crypto_sign_SECRETKEYBYTES];
    uint8_t message[MESSAGE_SIZE];
    crypto_sign_keypair(public_key, secret_key);
    randombytes_buf(message, sizeof(message));
    if (raw_rtt_open(&rtt) != 0) {
        (void) fprintf(stderr, "bench lease: cannot set up the NNG req/rep pair\n");
        goto out_close_rtt;
    }
    if (raw_sync_open(&sync, agents->dir) != 0) {
        goto out_close_sync;
    }
    if (borrow_client_open(&client, agents, NULL, NULL) != 0) {
        goto out_close_sync;
    }
    if (first_grant(&client) != 0) {
        goto out_close_client;
    }
    char error[ERROR_TEXT_SIZE];
    for (uint32_t i = 0; i < WARMUP_LEASES; i++) {
        double us = 0;
        if (borrow_once(&client, &us, error, sizeof(error)) != 0) {
            (void) fprintf(stderr, "bench lease: warm-up borrow %u: %s\n", i, error);
            goto out_close_client;
        }
    }
    if (snapshot_take(agents, start_out) != 0) {
        goto out_close_client;
    }
    phase_log(options, "sequential phase");
    for (uint32_t round = 0; round < rounds; round++) {
        uint32_t lease_end = (uint32_t) ((uint64_t) options->lease_count * (round + 1) / rounds);
        while (out->lease_count < lease_end) {
            if (borrow_once(&client, &out->lease_us[out->lease_count], error, sizeof(error)) != 0) {
                (void) fprintf(stderr, "bench lease: borrow %u: %s\n", out->lease_count, error);
                goto out_close_client;
            }
            out->lease_count++;
        }
        for (uint32_t i = 0; i < RTT_PER_ROUND; i++) {
            if (raw_rtt_sample(&rtt, &out->rtt_us[out->rtt_count++]) != 0) {
                (void) fprintf(stderr, "bench lease: an NNG round trip failed\n");
                goto out_close_client;
            }
        }
        for (uint32_t i = 0; i < SYNC_PER_ROUND; i++) {
            if (raw_sync_sample(&sync, &out->sync_us[out->sync_count++]) != 0) {
                goto out_close_client;
            }
        }
        if (crypto_round(public_key, secret_key, message, out) != 0) {
            (void) fprintf(stderr, "bench lease: an Ed25519 verification failed\n");
            goto out_close_client;
        }
    }
    rc = 0;
out_close_client:
    borrow_client_close(&client);
out_close_sync:
    raw_sync_close(&sync);
out_close_rtt:
    raw_rtt_close(&rtt);
    sodium_memzero(secret_key, sizeof(secret_key));
    return rc;
}

static long long open_leases(const bench_agents *agents, uint32_t index)
{
    json_t *status = NULL;
    if (bench_agents_get_json(agents, index, "/v1/status", &status) != 0) {
        return -1;
    }
    json_t *open =
        json_object_get(json_object_get(json_object_get(status, "ledger"), "leases"), "open");
    long long count = json_is_integer(open) ? (long long) json_integer_value(open) : -1;
    json_decref(status);
    return count;
}

static void print_string(const char *key, const char *value, bool last)
{
    json_t *string = json_string(value);
    char *text = string != NULL ? json_dumps(string, JSON_ENCODE_ANY) : NULL;
    (void) printf("\"%s\":%s%s", key, text != NULL ? text : "\"\"", last ? "" : ",");
    free(text);
    json_decref(string);
}

static void print_report(const bench_options *options, const figures *f, const bench_agents *agents)
{
    double goal_us = 3.0 * f->raw_rtt_p50_us + 2.0 * f->raw_sync_p50_us;
    double per_lease_us = LENDER_SIGNS * f->sign_p50_us + LENDER_VERIFIES * f->verify_p50_us;
    double crypto_bound = per_lease_us > 0.0 ? 1e6 / per_lease_us : 0.0;
    double ratio = crypto_bound > 0.0 ? f->swarm.leases_per_s / crypto_bound : 0.0;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    const char *dir = agents->dir;
    char note[1024];
    (void) snprintf(
        note, sizeof(note),
        "lease_*: one POST /v1/leases on the borrower agent (1 vCPU for 1 h), sequential, over "
        "one persistent HTTP/1.1 connection (TCP connect not counted), after %u warm-up leases; "
        "it answers once the borrower synced its acceptance and got the lender's confirmation, "
        "which the lender sends after its own sync. raw_rtt: NNG req0/rep0 echo of %u bytes over "
        "tcp://127.0.0.1 in this process; raw_sync: one synced RocksDB put of %u bytes in a "
        "fresh DB beside the ledgers; leases and raw samples alternate in %u rounds. "
        "leases_per_s: %u connections each with one borrow in flight. crypto_bound: the "
        "lender's %u Ed25519 signs + %u verifies per lease (lease/lender.c, lease/lease.c); the "
        "borrower does as many, on the same %ld CPUs as the lender, the client and RocksDB.",
        WARMUP_LEASES, MESSAGE_SIZE, SYNC_VALUE_SIZE, f->rounds, f->concurrency, LENDER_SIGNS,
        LENDER_VERIFIES, cpus);
    if (!options->json) {
        (void) printf("fedmesh-bench lease: 2 agents on 127.0.0.1, ledgers in %s (%s, %s)\n", dir,
                      f->fs_type, f->fs_source);
        (void) printf("raw NNG round trip p50     %10.1f us  (%u-byte req/rep)\n",
                      f->raw_rtt_p50_us, MESSAGE_SIZE);
        (void) printf("raw synced RocksDB put p50 %10.1f us  (%u-byte value)\n", f->raw_sync_p50_us,
                      SYNC_VALUE_SIZE);
        (void) printf("lease p50 / p99            %10.1f / %.1f us  (%u leases, one at a time)\n",
                      f->lease_p50_us, f->lease_p99_us, f->leases_measured);
        (void) printf("lease p50 goal             %10.1f us  (3 x rtt + 2 x sync): %s\n", goal_us,
                      f->lease_p50_us <= goal_us ? "met" : "NOT met");
        (void) printf("leases per s               %10.0f     (%u connections, %.2f s, %llu leases, "
                      "%llu errors; p50 %.0f us): goal >= %.0f %s\n",
                      f->swarm.leases_per_s, f->concurrency, f->swarm.elapsed_s,
                      (unsigned long long) f->swarm.granted, (unsigned long long) f->swarm.errors,
                      f->swarm.p50_us, LEASES_PER_S_GOAL,
                      f->swarm.leases_per_s >= LEASES_PER_S_GOAL ? "met" : "NOT met");
        (void) printf("Ed25519 sign / verify p50  %10.1f / %.1f us\n", f->sign_p50_us,
                      f->verify_p50_us);
        (void) printf("crypto bound (lender)      %10.0f leases/s (%u signs + %u verifies)\n",
                      crypto_bound, LENDER_SIGNS, LENDER_VERIFIES);
        (void) printf("ratio throughput           %10.3f     goal >= %.1f %s\n", ratio, RATIO_GOAL,
                      ratio >= RATIO_GOAL ? "met" : "NOT met");
        (void) printf("open leases in the ledgers %lld (borrower), %lld (lender), %llu granted\n",
                      f->borrower_open, f->lender_open, (unsigned long long) f->granted_total);
        (void) printf("per phase: the agents' CPU and counters (GET /metrics), the machine:\n");
        phase_print("sequential", &f->snapshots[0], &f->snapshots[1], f->leases_measured, agents,
                    false, false);
        phase_print("concurrent", &f->snapshots[1], &f->snapshots[2], f->swarm.granted_by_deadline,
                    agents, false, true);
        return;
    }
    (void) printf("{\"bench\":\"lease\",\"agents\":%u,", BENCH_AGENT_COUNT);
    (void) printf("\"raw_rtt_p50_us\":%.1f,\"raw_rtt_message_size\":%u,\"raw_rtt_samples\":%u,",
                  f->raw_rtt_p50_us, MESSAGE_SIZE, f->rounds * RTT_PER_ROUND);
    (void) printf("\"raw_sync_p50_us\":%.1f,\"raw_sync_value_size\":%u,\"raw_sync_samples\":%u,",
                  f->raw_sync_p50_us, SYNC_VALUE_SIZE, f->rounds * SYNC_PER_ROUND);
    (void) printf("\"lease_p50_us\":%.1f,\"lease_p99_us\":%.1f,\"leases_measured\":%u,",
                  f->lease_p50_us, f->lease_p99_us, f->leases_measured);
    (void) printf("\"lease_p50_us_goal\":%.1f,\"lease_goal_met\":%s,", goal_us,
                  f->lease_p50_us <= goal_us ? "true" : "false");
    (void) printf("\"leases_per_s\":%.1f,\"concurrency\":%u,\"throughput_seconds_asked\":%u,"
                  "\"throughput_seconds\":%.3f,"
                  "\"throughput_leases\":%llu,\"throughput_errors\":%llu,"
                  "\"throughput_stopped_by\":\"%s\",\"throughput_mean_us\":%.1f,"
                  "\"throughput_p50_us\":%.1f,"
                  "\"throughput_p99_us\":%.1f,",
                  f->swarm.leases_per_s, f->concurrency, f->seconds, f->swarm.elapsed_s,
                  (unsigned long long) f->swarm.granted, (unsigned long long) f->swarm.errors,
                  f->swarm.stopped_by_budget ? "budget" : "time", f->swarm.mean_us, f->swarm.p50_us,
                  f->swarm.p99_us);
    (void) printf("\"leases_per_s_goal\":%.0f,\"leases_per_s_goal_met\":%s,", LEASES_PER_S_GOAL,
                  f->swarm.leases_per_s >= LEASES_PER_S_GOAL ? "true" : "false");
    (void) printf("\"sign_p50_us\":%.2f,\"verify_p50_us\":%.2f,\"crypto_message_size\":%u,"
                  "\"lender_signs_per_lease\":%u,\"lender_verifies_per_lease\":%u,"
                  "\"crypto_bound_leases_per_s\":%.1f,",
                  f->sign_p50_us, f->verify_p50_us, MESSAGE_SIZE, LENDER_SIGNS, LENDER_VERIFIES,
                  crypto_bound);
    (void) printf("\"ratio_throughput\":%.3f,\"ratio_throughput_goal\":%.1f,"
                  "\"ratio_goal_met\":%s,",
                  ratio, RATIO_GOAL, ratio >= RATIO_GOAL ? "true" : "false");
    (void) printf("\"leases_granted_total\":%llu,\"borrower_open_leases\":%lld,"
                  "\"lender_open_leases\":%lld,\"leases_max\":%u,\"cpus\":%ld,",
                  (unsigned long long) f->granted_total, f->borrower_open, f->lender_open,
                  f->leases_max, cpus);
    (void) printf("\"phases\":{");
    phase_print("sequential", &f->snapshots[0], &f->snapshots[1], f->leases_measured, agents, true,
                false);
    phase_print("concurrent", &f->snapshots[1], &f->snapshots[2], f->swarm.granted_by_deadline,
                agents, true, true);
    (void) printf("},");
    print_string("ledger_dir", dir, false);
    print_string("ledger_fs", f->fs_type, false);
    print_string("ledger_fs_source", f->fs_source, false);
    print_string("note", note, true);
    (void) printf("}\n");
}

static int samples_alloc(samples *s, uint32_t lease_count, uint32_t rounds)
{
    memset(s, 0, sizeof(*s));
    s->lease_us = calloc(lease_count, sizeof(double));
    s->rtt_us = calloc((size_t) rounds * RTT_PER_ROUND, sizeof(double));
    s->sync_us = calloc((size_t) rounds * SYNC_PER_ROUND, sizeof(double));
    s->sign_us = calloc((size_t) rounds * CRYPTO_PER_ROUND, sizeof(double));
    s->verify_us = calloc((size_t) rounds * CRYPTO_PER_ROUND, sizeof(double));
    return s->lease_us != NULL && s->rtt_us != NULL && s->sync_us != NULL && s->sign_us != NULL &&
                   s->verify_us != NULL
               ? 0
               : -1;
}

static void samples_free(samples *s)
{
    free(s->lease_us);
    free(s->rtt_us);
    free(s->sync_us);
    free(s->sign_us);
    free(s->verify_us);
}

int bench_lease(const bench_options *options)
{
    if (sodium_init() < 0) {
        (void) fputs("bench lease: libsodium failed to initialise\n", stderr);
        return 1;
    }
    if (options->concurrency < 1 || options->concurrency > CONCURRENCY_MAX) {
        (void) fprintf(stderr, "bench lease: --concurrency must be 1..%u\n", CONCURRENCY_MAX);
        return 2;
    }
    figures f;
    memset(&f, 0, sizeof(f));
    f.rounds = options->lease_count < ROUNDS_MAX ? options->lease_count : ROUNDS_MAX;
    f.concurrency = options->concurrency;
    f.seconds = options->seconds;
    // Every lease stays open (1 h) on both sides, each in a slot: size the
    // tables for the whole run, RATE_CAP_PER_S (about the crypto bound on
    // a 2-core VM) in the concurrent phase, which stops early, by budget,
    // when that is spent. --leases-max overrides the size ([lease]
    // leases_max costs time where the agents scan their slot table).
    uint64_t fixed = (uint64_t) options->lease_count + 1u + WARMUP_LEASES + SLOTS_SPARE;
    uint64_t slots = options->leases_max != 0
                         ? options->leases_max
                         : fixed + (uint64_t) options->seconds * RATE_CAP_PER_S;
    uint64_t slots_min = fixed + options->concurrency;
    if (slots > 1048576u || slots < slots_min) {
        (void) fprintf(stderr, "bench lease: --leases-max must be in %llu..1048576 here\n",
                       (unsigned long long) slots_min);
        return 2;
    }
    f.leases_max = (uint32_t) slots;
    uint64_t budget = slots - fixed;

    samples s;
    if (samples_alloc(&s, options->lease_count, f.rounds) != 0) {
        samples_free(&s);
        return 1;
    }
    bench_agents agents;
    bench_agents_config config = {.base_dir = options->dir,
                                  .fedmesh = options->fedmesh,
                                  .leases_max = f.leases_max,
                                  .offer_ttl_ms = OFFER_TTL_MS};
    int rc = 1;
    if (bench_agents_create(&config, &agents) != 0 || bench_agents_start(&agents) != 0 ||
        bench_agents_wait_ready(&agents, READY_TIMEOUT_MS) != 0) {
        goto out_fail;
    }
    bench_fs_of(agents.dir, f.fs_type, f.fs_source);
    if (options->keep) {
        (void) fprintf(stderr, "bench lease: borrower pid %d, lender pid %d, in %s\n",
                       (int) agents.agents[BENCH_AGENT_BORROWER].pid,
                       (int) agents.agents[BENCH_AGENT_LENDER].pid, agents.dir);
    }
    if (measure_rounds(&agents, options, f.rounds, &s, &f.snapshots[0]) != 0 ||
        snapshot_take(&agents, &f.snapshots[1]) != 0) {
        goto out_fail;
    }
    phase_log(options, "concurrent phase");
    if (swarm_run(&agents, options->concurrency, options->seconds, budget, &f.swarm,
                  &f.snapshots[2]) != 0) {
        goto out_fail;
    }
    phase_log(options, "end");
    f.granted_total = 1u + WARMUP_LEASES + s.lease_count + f.swarm.granted;
    f.borrower_open = open_leases(&agents, BENCH_AGENT_BORROWER);
    f.lender_open = open_leases(&agents, BENCH_AGENT_LENDER);
    if (bench_agents_stop(&agents) != 0) {
        goto out_fail;
    }
    f.leases_measured = s.lease_count;
    f.lease_p50_us = percentile(s.lease_us, s.lease_count, 0.50);
    f.lease_p99_us = percentile(s.lease_us, s.lease_count, 0.99);
    f.raw_rtt_p50_us = bench_median(s.rtt_us, s.rtt_count);
    f.raw_sync_p50_us = bench_median(s.sync_us, s.sync_count);
    f.sign_p50_us = bench_median(s.sign_us, s.crypto_count);
    f.verify_p50_us = bench_median(s.verify_us, s.crypto_count);
    print_report(options, &f, &agents);
    rc = 0;
    if (f.borrower_open != (long long) f.granted_total ||
        f.lender_open != (long long) f.granted_total) {
        (void) fprintf(stderr,
                       "bench lease: the ledgers hold %lld (borrower) and %lld (lender) open "
                       "leases; %llu were granted\n",
                       f.borrower_open, f.lender_open, (unsigned long long) f.granted_total);
        rc = 1;
    }
    bench_agents_destroy(&agents, options->keep);
    samples_free(&s);
    return rc;
out_fail:
    bench_agents_print_logs(&agents);
    bench_agents_destroy(&agents, true);
    samples_free(&s);
    return 1;
}
