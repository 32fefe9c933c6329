/*
 * tests/bench/lease_load/lease_load.c: fedmesh-lease-load, an open-loop
 * load generator for the agents' borrow API (POST /v1/leases).
 *
 * Open loop, so that a slow agent cannot slow the offered load (and hide
 * its own slowness, "coordinated omission"): request k is due at
 * start + k / rate, whatever happened to the earlier ones, and goes to
 * target k mod T. A due request waits in its target's queue until one of
 * that target's connections is free; its latency runs from the moment it
 * was due, so queueing counts. The service time (from the first byte
 * written) is reported beside it.
 *
 * The client: HTTP/1.1 with keep-alive, plain sockets and one poll(2)
 * loop on one thread. Every bound is fixed at start: at most
 * LOAD_TARGETS_MAX targets, `--connections` (1..64) connections to each,
 * LOAD_QUEUE_MAX requests waiting per target (a request due while its
 * queue is full is not sent: `not_sent`, with those still queued at the
 * end; the generator's own bound, not an answer of the agent),
 * answers of at most LOAD_RESPONSE_SIZE_MAX bytes, a per-request timeout.
 * Latencies go to an in-memory log-linear histogram (64 sub-buckets per
 * power of two, microseconds up to 2^31: under 1.6 % error), never a
 * list of samples.
 *
 * Every answer is classified: 200 with status granted or partial
 * (latency recorded), 200 with status refused (counted by its `reason`;
 * a refusal without one is counted apart, `refused_without_reason`),
 * anything else an error by HTTP status and error code, or by what went
 * wrong on the connection (connect, closed, timeout, malformed answer).
 * Distinct reasons and error names are kept in fixed tables (32 each;
 * more go to "other").
 *
 * With --agent-pid (repeatable) it reads each agent's VmRSS at the end of
 * the warm-up (--warmup-s) and after the last answer. It prints one JSON
 * object on stdout; diagnostics go to stderr. Exit 0 when the run ended
 * (whatever the answers were: judging them is the caller's business), 2
 * for a usage error, 1 when the run could not be made.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mesh/mesh.h"

#define LOAD_TARGETS_MAX        64u
#define LOAD_CONNECTIONS_MAX    64u
#define LOAD_QUEUE_MAX          4096u
#define LOAD_RESPONSE_SIZE_MAX  65536u
#define LOAD_REQUEST_SIZE_MAX   1024u
#define LOAD_NAMES_MAX          32u
#define LOAD_NAME_SIZE_MAX      96u
#define LOAD_PIDS_MAX           64u
#define LOAD_SUB_BUCKETS        64u
#define LOAD_BUCKETS            (LOAD_SUB_BUCKETS * 26u)
#define LOAD_RECONNECT_DELAY_NS 100000000ull

typedef struct histogram {
    uint64_t counts[LOAD_BUCKETS];
    uint64_t total;
    uint64_t max_us;
} histogram;

typedef struct name_counts {
    char names[LOAD_NAMES_MAX][LOAD_NAME_SIZE_MAX];
    uint64_t counts[LOAD_NAMES_MAX];
    uint32_t count;
    uint64_t other;
} name_counts;

typedef enum conn_state { CONN_CLOSED, CONN_CONNECTING, CONN_IDLE, CONN_BUSY } conn_state;

typedef struct conn {
    int fd;
    conn_state state;
    uint64_t due_ns;   /* when the request in hand was due */
    uint64_t sent_ns;  /* when its first byte was written */
    uint64_t retry_ns; /* CLOSED: no connect before this */
    uint32_t out_size;
    uint32_t out_done;
    uint32_t in_size;
    char out[LOAD_REQUEST_SIZE_MAX];
    char in[LOAD_RESPONSE_SIZE_MAX + 1];
} conn;

typedef struct target {
    struct sockaddr_in address;
    char text[64];
    uint64_t queue[LOAD_QUEUE_MAX]; /* due times, a ring */
    uint32_t queue_head;
    uint32_t queue_count;
    conn *conns;
    uint64_t sent;
    uint64_t granted;
} target;

typedef struct load {
    target targets[LOAD_TARGETS_MAX];
    uint32_t target_count;
    uint32_t connections;
    double rate_per_s;
    uint32_t seconds;
    uint32_t warmup_s;
    uint32_t duration_s;
    uint32_t amount;
    uint32_t borrow_timeout_ms;
    uint32_t request_timeout_ms;
    char token[256];
    char body[256];
    int pids[LOAD_PIDS_MAX];
    uint32_t pid_count;
    uint64_t rss_start_kib[LOAD_PIDS_MAX];
    uint64_t rss_mid_kib[LOAD_PIDS_MAX]; /* halfway between the warm-up and the end */
    uint64_t rss_end_kib[LOAD_PIDS_MAX];
    uint64_t cpu_start_ms[LOAD_PIDS_MAX]; /* user + system, at the end of the warm-up */
    uint64_t cpu_end_ms[LOAD_PIDS_MAX];
    uint64_t granted_at_warm; /* granted + partial then */
    uint64_t warm_ns;
    uint64_t end_ns;
    /* results */
    uint64_t due;
    uint64_t sent;
    uint64_t granted;
    uint64_t partial;
    uint64_t refused;
    uint64_t refused_without_reason;
    uint64_t errors;
    uint64_t unanswered; /* sent, no answer when the drain ended */
    uint64_t not_sent;   /* due, never sent (queue full, or still queued at the end) */
    uint64_t first_send_ns;
    uint64_t last_send_ns;
    histogram latency;
    histogram service;
    name_counts reasons;
    name_counts error_names;
} load;

static uint64_t now_ns(void)
{
    struct timespec ts;
    MESH_ASSERT(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
    return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

/* Log-linear: values below 64 us exactly, then 64 sub-buckets for every
 * power of two. */
static uint32_t histogram_index(uint64_t us)
{
    if (us < LOAD_SUB_BUCKETS) {
        return (uint32_t) us;
    }
    uint32_t magnitude = 63u - (uint32_t) __builtin_clzll(us); /* >= 6 */
    uint32_t shift = magnitude - 5u;
    uint32_t index = (shift * (LOAD_SUB_BUCKETS / 2u)) + (uint32_t) (us >> shift);
    return index < LOAD_BUCKETS ? index : LOAD_BUCKETS - 1u;
}

static uint64_t histogram_value(uint32_t index)
{
    if (index < LOAD_SUB_BUCKETS) {
        return index;
    }
    uint32_t shift = (index / (LOAD_SUB_BUCKETS / 2u)) - 1u;
    uint64_t sub = index - shift * (LOAD_SUB_BUCKETS / 2u);
    return sub << shift; /* the bucket's lower edge */
}

static void histogram_add(histogram *h, uint64_t us)
{
    uint32_t index = histogram_index(us);
    MESH_ASSERT(index < LOAD_BUCKETS);
    h->counts[index]++;
    h->total++;
    if (us > h->max_us) {
        h->max_us = us;
    }
}

static uint64_t histogram_quantile(const histogram *h, double q)
{
    if (h->total == 0) {
        return 0;
    }
    uint64_t rank = (uint64_t) (q * (double) h->total);
    if (rank >= h->total) {
        rank = h->total - 1u;
    }
    uint64_t seen = 0;
    for (uint32_t i = 0; i < LOAD_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen > rank) {
            uint64_t value = histogram_value(i);
            return value < h->max_us ? value : h->max_us;
        }
    }
    return h->max_us;
}

static void name_count(name_counts *table, const char *name)
{
    for (uint32_t i = 0; i < table->count; i++) {
        if (strcmp(table->names[i], name) == 0) {
            table->counts[i]++;
            return;
        }
    }
    if (table->count == LOAD_NAMES_MAX) {
        table->other++;
        return;
    }
    (void) snprintf(table->names[table->count], LOAD_NAME_SIZE_MAX, "%s", name);
    table->counts[table->count++] = 1;
}

static void count_error(load *l, const char *name)
{
    l->errors++;
    name_count(&l->error_names, name);
}

static uint64_t rss_kib(int pid)
{
    char path[64];
    (void) snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        return 0;
    }
    char line[256];
    uint64_t kib = 0;
    while (fgets(line, sizeof(line), file) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtoull(line + 6, NULL, 10);
            break;
        }
    }
    (void) fclose(file);
    return kib;
}

/* utime + stime of a process, in ms: fields 14 and 15 of /proc/PID/stat,
 * counted after the ')' that ends the command name. */
static uint64_t cpu_ms(int pid)
{
    char path[64];
    char text[1024];
    (void) snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        return 0;
    }
    size_t size = fread(text, 1, sizeof(text) - 1u, file);
    (void) fclose(file);
    text[size] = '\0';
    char *field = strrchr(text, ')');
    uint64_t ticks = 0;
    // After ')' comes " S PPID ...": the k-th space found starts field k + 2.
    for (uint32_t index = 3; field != NULL && index <= 15; index++) {
        field = strchr(field + 1, ' ');
        if (field != NULL && index >= 14) {
            ticks += strtoull(field + 1, NULL, 10);
        }
    }
    long hz = sysconf(_SC_CLK_TCK);
    return hz > 0 ? ticks * 1000u / (uint64_t) hz : 0;
}

static void conn_close(conn *c, uint64_t retry_ns)
{
    if (c->fd >= 0) {
        (void) close(c->fd);
    }
    c->fd = -1;
    c->state = CONN_CLOSED;
    c->retry_ns = retry_ns;
    c->in_size = 0;
}

/* Starts a non-blocking connect; CONNECTING, or CLOSED with an error. */
static void conn_open(load *l, target *t, conn *c, uint64_t now)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        count_error(l, "socket");
        c->retry_ns = now + LOAD_RECONNECT_DELAY_NS;
        return;
    }
    int one = 1;
    (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->fd = fd;
    c->in_size = 0;
    if (connect(fd, (const struct sockaddr *) &t->address, sizeof(t->address)) == 0) {
        c->state = CONN_IDLE;
    } else if (errno == EINPROGRESS) {
        c->state = CONN_CONNECTING;
    } else {
        conn_close(c, now + LOAD_RECONNECT_DELAY_NS);
        count_error(l, "connect");
    }
}

/* A request leaves a queue for an idle connection. */
static void conn_send(load *l, target *t, conn *c, uint64_t now)
{
    MESH_ASSERT(c->state == CONN_IDLE);
    MESH_ASSERT(t->queue_count > 0);
    c->due_ns = t->queue[t->queue_head];
    t->queue_head = (t->queue_head + 1u) % LOAD_QUEUE_MAX;
    t->queue_count--;
    int size = snprintf(c->out, sizeof(c->out),
                        "POST /v1/leases HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                        "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                        t->text, l->token, strlen(l->body), l->body);
    MESH_ASSERT(size > 0 && (uint32_t) size < sizeof(c->out));
    c->out_size = (uint32_t) size;
    c->out_done = 0;
    c->in_size = 0;
    c->sent_ns = now;
    c->state = CONN_BUSY;
    t->sent++;
    l->sent++;
    if (l->first_send_ns == 0) {
        l->first_send_ns = now;
    }
    l->last_send_ns = now;
}

static void
classify_body(load *l, target *t, const char *body, uint32_t body_size, uint64_t now, const conn *c)
{
    json_error_t error;
    json_t *root = json_loadb(body, body_size, 0, &error);
    const char *status = root != NULL ? json_string_value(json_object_get(root, "status")) : NULL;
    if (status == NULL) {
        count_error(l, "malformed_answer");
    } else if (strcmp(status, "granted") == 0 || strcmp(status, "partial") == 0) {
        if (status[0] == 'g') {
            l->granted++;
        } else {
            l->partial++;
        }
        t->granted++;
        histogram_add(&l->latency, (now - c->due_ns) / 1000u);
        histogram_add(&l->service, (now - c->sent_ns) / 1000u);
    } else if (strcmp(status, "refused") == 0) {
        l->refused++;
        const char *reason = json_string_value(json_object_get(root, "reason"));
        if (reason == NULL || reason[0] == '\0') {
            l->refused_without_reason++;
        } else {
            name_count(&l->reasons, reason);
        }
    } else {
        count_error(l, "unknown_status");
    }
    json_decref(root);
}

static void classify_error(load *l, long code, const char *body, uint32_t body_size)
{
    json_error_t error;
    json_t *root = json_loadb(body, body_size, 0, &error);
    const char *what = json_string_value(json_object_get(json_object_get(root, "error"), "code"));
    char name[LOAD_NAME_SIZE_MAX];
    (void) snprintf(name, sizeof(name), "http_%ld_%s", code, what != NULL ? what : "unknown");
    count_error(l, name);
    json_decref(root);
}

/* Whole answer in c->in? 1: handled; 0: more bytes needed; -1: malformed. */
static int conn_answer(load *l, target *t, conn *c, uint64_t now)
{
    c->in[c->in_size] = '\0';
    char *end = strstr(c->in, "\r\n\r\n");
    if (end == NULL) {
        return c->in_size >= LOAD_RESPONSE_SIZE_MAX ? -1 : 0;
    }
    uint32_t header_size = (uint32_t) (end - c->in) + 4u;
    if (strncmp(c->in, "HTTP/1.1 ", 9) != 0) {
        return -1;
    }
    long code = strtol(c->in + 9, NULL, 10);
    if (code < 100 || code > 599) {
        return -1;
    }
    long length = -1;
    bool close_after = false;
    for (char *line = strstr(c->in, "\r\n"); line != NULL && line < end;
         line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, "Content-Length:", 15) == 0) {
            length = strtol(line + 17, NULL, 10);
        } else if (strncasecmp(line + 2, "Connection: close", 17) == 0) {
            close_after = true;
        }
    }
    if (length < 0 || (uint64_t) length > LOAD_RESPONSE_SIZE_MAX - header_size) {
        return -1;
    }
    if (c->in_size < header_size + (uint32_t) length) {
        return 0;
    }
    if (code == 200) {
        classify_body(l, t, c->in + header_size, (uint32_t) length, now, c);
    } else {
        classify_error(l, code, c->in + header_size, (uint32_t) length);
    }
    if (c->in_size > header_size + (uint32_t) length) {
        return -1; /* nothing was asked for these bytes */
    }
    c->in_size = 0;
    c->state = CONN_IDLE;
    if (close_after) {
        conn_close(c, now);
    }
    return 1;
}

static void conn_on_event(load *l, target *t, conn *c, short revents, uint64_t now)
{
    if (c->state == CONN_CONNECTING) {
        int error = 0;
        socklen_t size = sizeof(error);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0 || error != 0) {
            conn_close(c, now + LOAD_RECONNECT_DELAY_NS);
            count_error(l, "connect");
            return;
        }
        c->state = CONN_IDLE;
        return;
    }
    if (c->state != CONN_BUSY) {
        if ((revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            conn_close(c, now); /* the server closed a kept connection */
        }
        return;
    }
    if ((revents & POLLOUT) != 0 && c->out_done < c->out_size) {
        ssize_t n = send(c->fd, c->out + c->out_done, c->out_size - c->out_done, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN) {
            conn_close(c, now + LOAD_RECONNECT_DELAY_NS);
            count_error(l, "send");
            return;
        }
        c->out_done += n > 0 ? (uint32_t) n : 0u;
    }
    if ((revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        ssize_t n = recv(c->fd, c->in + c->in_size, LOAD_RESPONSE_SIZE_MAX - c->in_size, 0);
        if (n <= 0) {
            if (n < 0 && errno == EAGAIN) {
                return;
            }
            conn_close(c, now + LOAD_RECONNECT_DELAY_NS);
            count_error(l, "closed");
            return;
        }
        c->in_size += (uint32_t) n;
        int rc = conn_answer(l, t, c, now);
        if (rc < 0) {
            conn_close(c, now + LOAD_RECONNECT_DELAY_NS);
            count_error(l, "malformed_answer");
        }
    }
}

static uint32_t queued_count(const load *l)
{
    uint32_t queued = 0;
    for (uint32_t i = 0; i < l->target_count; i++) {
        queued += l->targets[i].queue_count;
    }
    return queued;
}

static uint32_t in_flight_count(const load *l)
{
    uint32_t busy = 0;
    for (uint32_t i = 0; i < l->target_count; i++) {
        for (uint32_t j = 0; j < l->connections; j++) {
            busy += l->targets[i].conns[j].state == CONN_BUSY ? 1u : 0u;
        }
    }
    return busy;
}

static void run(load *l)
{
    static struct pollfd fds[LOAD_TARGETS_MAX * LOAD_CONNECTIONS_MAX];
    static conn *owners[LOAD_TARGETS_MAX * LOAD_CONNECTIONS_MAX];
    static target *owner_targets[LOAD_TARGETS_MAX * LOAD_CONNECTIONS_MAX];
    uint64_t start = now_ns();
    uint64_t period_ns = (uint64_t) (1e9 / l->rate_per_s);
    uint64_t end = start + (uint64_t) l->seconds * 1000000000ull;
    uint64_t warmup_end = start + (uint64_t) l->warmup_s * 1000000000ull;
    uint64_t timeout_ns = (uint64_t) l->request_timeout_ms * 1000000ull;
    uint64_t drain_end = end + timeout_ns + 1000000000ull; /* past every request's timeout */
    uint64_t next_due = start;
    bool warm = false;
    bool mid = false;
    uint64_t mid_ns = warmup_end + (end - warmup_end) / 2u;
    for (;;) {
        uint64_t now = now_ns();
        if (!warm && now >= warmup_end) {
            for (uint32_t i = 0; i < l->pid_count; i++) {
                l->rss_start_kib[i] = rss_kib(l->pids[i]);
                l->cpu_start_ms[i] = cpu_ms(l->pids[i]);
            }
            l->granted_at_warm = l->granted + l->partial;
            l->warm_ns = now;
            warm = true;
        }
        if (!mid && now >= mid_ns) {
            for (uint32_t i = 0; i < l->pid_count; i++) {
                l->rss_mid_kib[i] = rss_kib(l->pids[i]);
            }
            mid = true;
        }
        // Open loop: every request that fell due joins its target's queue.
        while (next_due <= now && next_due < end) {
            target *t = &l->targets[l->due % l->target_count];
            l->due++;
            if (t->queue_count == LOAD_QUEUE_MAX) {
                l->not_sent++; /* the client's own bound, not the agent's answer */
            } else {
                t->queue[(t->queue_head + t->queue_count) % LOAD_QUEUE_MAX] = next_due;
                t->queue_count++;
            }
            next_due += period_ns;
        }
        // At the end, what was due but never left stays unsent; what is in
        // flight gets its answer or its timeout.
        if (now >= end && queued_count(l) > 0) {
            for (uint32_t i = 0; i < l->target_count; i++) {
                l->not_sent += l->targets[i].queue_count;
                l->targets[i].queue_count = 0;
            }
        }
        if (now >= end && (in_flight_count(l) == 0 || now >= drain_end)) {
            break;
        }
        uint32_t nfds = 0;
        for (uint32_t i = 0; i < l->target_count; i++) {
            target *t = &l->targets[i];
            for (uint32_t j = 0; j < l->connections; j++) {
                conn *c = &t->conns[j];
                if (c->state == CONN_BUSY && now - c->sent_ns > timeout_ns) {
                    conn_close(c, now);
                    count_error(l, "timeout");
                }
                if (c->state == CONN_CLOSED && t->queue_count > 0 && now >= c->retry_ns) {
                    conn_open(l, t, c, now);
                }
                if (c->state == CONN_IDLE && t->queue_count > 0) {
                    conn_send(l, t, c, now);
                }
                if (c->state == CONN_CLOSED) {
                    continue;
                }
                short events = POLLIN;
                if (c->state == CONN_CONNECTING ||
                    (c->state == CONN_BUSY && c->out_done < c->out_size)) {
                    events |= POLLOUT;
                }
                fds[nfds] = (struct pollfd){.fd = c->fd, .events = events, .revents = 0};
                owners[nfds] = c;
                owner_targets[nfds] = t;
                nfds++;
            }
        }
        uint64_t wait_ns = next_due > now ? next_due - now : 0;
        int wait_ms = wait_ns >= 10000000ull ? 10 : (int) (wait_ns / 1000000ull);
        int ready = poll(fds, nfds, wait_ms);
        if (ready < 0 && errno != EINTR) {
            perror("fedmesh-lease-load: poll");
            break;
        }
        now = now_ns();
        for (uint32_t k = 0; ready > 0 && k < nfds; k++) {
            if (fds[k].revents != 0) {
                conn_on_event(l, owner_targets[k], owners[k], fds[k].revents, now);
            }
        }
    }
    l->end_ns = now_ns();
    for (uint32_t i = 0; i < l->pid_count; i++) {
        l->rss_end_kib[i] = rss_kib(l->pids[i]);
        l->cpu_end_ms[i] = cpu_ms(l->pids[i]);
    }
    l->unanswered = in_flight_count(l);
    for (uint32_t i = 0; i < l->target_count; i++) {
        for (uint32_t j = 0; j < l->connections; j++) {
            conn_close(&l->targets[i].conns[j], 0);
        }
    }
}

static json_t *name_counts_json(const name_counts *table)
{
    json_t *object = json_object();
    for (uint32_t i = 0; i < table->count; i++) {
        (void) json_object_set_new(object, table->names[i],
                                   json_integer((json_int_t) table->counts[i]));
    }
    if (table->other > 0) {
        (void) json_object_set_new(object, "other", json_integer((json_int_t) table->other));
    }
    return object;
}

static void print_report(const load *l)
{
    double send_s = l->last_send_ns > l->first_send_ns
                        ? (double) (l->last_send_ns - l->first_send_ns) / 1e9
                        : 0.0;
    json_t *rss = json_array();
    uint64_t cpu_total_ms = 0;
    for (uint32_t i = 0; i < l->pid_count; i++) {
        uint64_t used_ms = l->cpu_end_ms[i] - l->cpu_start_ms[i];
        cpu_total_ms += used_ms;
        (void) json_array_append_new(rss,
                                     json_pack("{s:i, s:I, s:I, s:I, s:I}", "pid", l->pids[i],
                                               "rss_kib_start", (json_int_t) l->rss_start_kib[i],
                                               "rss_kib_mid", (json_int_t) l->rss_mid_kib[i],
                                               "rss_kib_end", (json_int_t) l->rss_end_kib[i],
                                               "cpu_ms_after_warmup", (json_int_t) used_ms));
    }
    // What the agents' CPU says about their ceiling: CPU per lease granted
    // after the warm-up, and how many cores they used meanwhile.
    uint64_t granted_warm = l->granted + l->partial - l->granted_at_warm;
    double warm_s = l->end_ns > l->warm_ns ? (double) (l->end_ns - l->warm_ns) / 1e9 : 0.0;
    json_t *targets = json_array();
    for (uint32_t i = 0; i < l->target_count; i++) {
        (void) json_array_append_new(targets,
                                     json_pack("{s:s, s:I, s:I}", "target", l->targets[i].text,
                                               "sent", (json_int_t) l->targets[i].sent, "granted",
                                               (json_int_t) l->targets[i].granted));
    }
    json_t *report = json_pack(
        "{s:s, s:i, s:f, s:i, s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:I, "
        "s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:o, s:o}",
        "bench", "lease_load", "targets", (int) l->target_count, "rate_asked_per_s", l->rate_per_s,
        "seconds", (int) l->seconds, "connections_per_target", (int) l->connections,
        "lease_duration_s", (int) l->duration_s, "warmup_s", (int) l->warmup_s, "requests_due",
        (json_int_t) l->due, "requests_sent", (json_int_t) l->sent, "granted",
        (json_int_t) l->granted, "partial", (json_int_t) l->partial, "refused",
        (json_int_t) l->refused, "refused_without_reason", (json_int_t) l->refused_without_reason,
        "refused_by_reason", name_counts_json(&l->reasons), "errors", (json_int_t) l->errors,
        "unanswered", (json_int_t) l->unanswered, "not_sent", (json_int_t) l->not_sent,
        "errors_by_kind", name_counts_json(&l->error_names), "lease_latency_p50_us",
        (json_int_t) histogram_quantile(&l->latency, 0.50), "lease_latency_p99_us",
        (json_int_t) histogram_quantile(&l->latency, 0.99), "lease_latency_max_us",
        (json_int_t) l->latency.max_us, "service_p50_us",
        (json_int_t) histogram_quantile(&l->service, 0.50), "service_p99_us",
        (json_int_t) histogram_quantile(&l->service, 0.99), "service_max_us",
        (json_int_t) l->service.max_us, "achieved_rate_per_s",
        send_s > 0 ? (double) l->sent / send_s : 0.0, "granted_per_s",
        send_s > 0 ? (double) (l->granted + l->partial) / send_s : 0.0, "agents", rss, "per_target",
        targets);
    MESH_ASSERT(report != NULL);
    (void) json_object_set_new(
        report, "agents_cpu_us_per_lease",
        json_integer(granted_warm > 0 ? (json_int_t) (cpu_total_ms * 1000u / granted_warm) : 0));
    (void) json_object_set_new(
        report, "agents_cpus_used",
        json_real(warm_s > 0 ? (double) cpu_total_ms / 1000.0 / warm_s : 0.0));
    char *text = json_dumps(report, JSON_COMPACT);
    MESH_ASSERT(text != NULL);
    printf("%s\n", text);
    free(text);
    json_decref(report);
}

static int usage(const char *why)
{
    (void) fprintf(
        stderr,
        "fedmesh-lease-load: %s\n"
        "usage: fedmesh-lease-load --target HOST:PORT [--target ...] --token-file PATH\n"
        "         [--rate PER_S] [--seconds S] [--connections N] [--warmup-s S]\n"
        "         [--duration-s S] [--amount N] [--timeout-ms MS] [--agent-pid PID]...\n",
        why);
    return 2;
}

static bool parse_u32(const char *text, uint32_t low, uint32_t high, uint32_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long value = strtoul(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < low || value > high) {
        return false;
    }
    *out = (uint32_t) value;
    return true;
}

static bool add_target(load *l, const char *text)
{
    if (l->target_count == LOAD_TARGETS_MAX) {
        return false;
    }
    target *t = &l->targets[l->target_count];
    const char *colon = strrchr(text, ':');
    uint32_t port = 0;
    char host[48];
    if (colon == NULL || (size_t) (colon - text) >= sizeof(host) ||
        !parse_u32(colon + 1, 1, 65535, &port)) {
        return false;
    }
    memcpy(host, text, (size_t) (colon - text));
    host[colon - text] = '\0';
    t->address.sin_family = AF_INET;
    t->address.sin_port = htons((uint16_t) port);
    if (inet_pton(AF_INET, host, &t->address.sin_addr) != 1) {
        return false;
    }
    (void) snprintf(t->text, sizeof(t->text), "%s", text);
    l->target_count++;
    return true;
}

static bool read_token(load *l, const char *path)
{
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        return false;
    }
    bool ok = fgets(l->token, sizeof(l->token), file) != NULL;
    (void) fclose(file);
    l->token[strcspn(l->token, "\r\n")] = '\0';
    return ok && l->token[0] != '\0';
}

int main(int argc, char **argv)
{
    static load l;
    l.connections = 8;
    l.rate_per_s = 1000.0;
    l.seconds = 30;
    l.warmup_s = 5;
    l.duration_s = 2;
    l.amount = 1;
    l.borrow_timeout_ms = 2000;
    bool have_token = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        uint32_t number = 0;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            (void) usage("an open-loop load of borrows (POST /v1/leases) on fedmesh agents");
            return 0;
        }
        if (value == NULL) {
            return usage("every option takes a value");
        }
        i++;
        if (strcmp(arg, "--target") == 0) {
            if (!add_target(&l, value)) {
                return usage("--target: IPV4:PORT, at most 64 targets");
            }
        } else if (strcmp(arg, "--token-file") == 0) {
            if (!read_token(&l, value)) {
                return usage("--token-file: cannot read a token from it");
            }
            have_token = true;
        } else if (strcmp(arg, "--rate") == 0 && parse_u32(value, 1, 1000000, &number)) {
            l.rate_per_s = number;
        } else if (strcmp(arg, "--seconds") == 0 && parse_u32(value, 1, 86400, &number)) {
            l.seconds = number;
        } else if (strcmp(arg, "--connections") == 0 &&
                   parse_u32(value, 1, LOAD_CONNECTIONS_MAX, &number)) {
            l.connections = number;
        } else if (strcmp(arg, "--warmup-s") == 0 && parse_u32(value, 0, 3600, &number)) {
            l.warmup_s = number;
        } else if (strcmp(arg, "--duration-s") == 0 && parse_u32(value, 1, 31622400, &number)) {
            l.duration_s = number;
        } else if (strcmp(arg, "--amount") == 0 && parse_u32(value, 1, 1000000, &number)) {
            l.amount = number;
        } else if (strcmp(arg, "--timeout-ms") == 0 && parse_u32(value, 1, 600000, &number)) {
            l.borrow_timeout_ms = number;
        } else if (strcmp(arg, "--agent-pid") == 0 && parse_u32(value, 1, 4194304, &number) &&
                   l.pid_count < LOAD_PIDS_MAX) {
            l.pids[l.pid_count++] = (int) number;
        } else {
            return usage("unknown option or bad value (see --help)");
        }
    }
    if (l.target_count == 0 || !have_token) {
        return usage("--target and --token-file are required");
    }
    if (l.warmup_s >= l.seconds) {
        return usage("--warmup-s must be shorter than --seconds");
    }
    // The agent answers a borrow by timeout_ms at the latest; 5 s more
    // for the loop and the network before a request is given up.
    l.request_timeout_ms = l.borrow_timeout_ms + 5000u;
    (void) snprintf(l.body, sizeof(l.body),
                    "{\"resources\":[{\"class\":\"vcpu\",\"amount\":%u}],\"duration_s\":%u,"
                    "\"timeout_ms\":%u}",
                    l.amount, l.duration_s, l.borrow_timeout_ms);
    for (uint32_t i = 0; i < l.target_count; i++) {
        l.targets[i].conns = calloc(l.connections, sizeof(conn));
        if (l.targets[i].conns == NULL) {
            (void) fprintf(stderr, "fedmesh-lease-load: out of memory\n");
            return 1;
        }
        for (uint32_t j = 0; j < l.connections; j++) {
            l.targets[i].conns[j].fd = -1;
        }
    }
    (void) signal(SIGPIPE, SIG_IGN);
    run(&l);
    print_report(&l);
    for (uint32_t i = 0; i < l.target_count; i++) {
        free(l.targets[i].conns);
    }
    return 0;
}
