/*
 * node/hooks.c: the hook runner (hooks_int.h has the contract).
 *
 * Each run: posix_spawn the command in a new process group with stdin and
 * stdout+stderr on pipes, write the JSON and close stdin, then poll the
 * output pipe until it closes and the child exits, or until the timeout,
 * when the group gets SIGKILL. Each lane's worker waits on its own child
 * only (waitpid by pid); the agent starts no other child processes. The
 * child's environment is the agent's plus FEDMESH_EVENT.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "node/hooks_int.h"
#include "node/log_int.h"

extern char **environ;

#define ENV_COUNT_MAX 1024u /* environment entries a hook inherits, at most */

typedef struct hook_job {
    node_hook_kind kind;
    uint8_t lease_id[LEDGER_LEASE_ID_SIZE];
    bool self_is_lender;
    char event[NODE_HOOKS_EVENT_NAME_SIZE_MAX]; /* FEDMESH_EVENT */
    uint32_t json_size;
    char *json; /* the lane's slot in its inputs, input_max bytes */
} hook_job;

/* One worker thread and its queue (hooks_int.h: why two). */
typedef struct hook_lane {
    struct node_hooks_runner *runner;
    const char *name; /* "lease", "member": for logs */
    bool started;     /* the thread exists */
    pthread_t thread;
    pthread_cond_t cond;
    pid_t running;  /* the hook's process (group) now, 0 when none; under lock */
    hook_job *jobs; /* ring of queue_max */
    char *inputs;   /* queue_max * input_max bytes, job i's JSON at i * input_max */
    uint32_t queue_max;
    uint32_t input_max;
    uint32_t job_head;
    uint32_t job_count;
} hook_lane;

enum { LANE_LEASE = 0, LANE_MEMBER = 1, LANE_COUNT = 2 };

struct node_hooks_runner {
    node_hooks config;
    node_transport *transport;
    pthread_mutex_t lock; /* everything below, and the lanes' queues */
    bool stopping;
    hook_lane lanes[LANE_COUNT];
    node_hook_result results[NODE_HOOKS_QUEUE_MAX]; /* lease lane only */
    uint32_t result_head;
    uint32_t result_count;
    node_hooks_stats stats;
};

const char *node_hook_kind_name(node_hook_kind kind)
{
    static const char *const names[NODE_HOOK_KIND_COUNT] = {"granted", "reclaim_notice", "ended",
                                                            "member"};
    return (uint32_t) kind < NODE_HOOK_KIND_COUNT ? names[kind] : "unknown";
}

static const char *command_of(const node_hooks *config, node_hook_kind kind)
{
    switch (kind) {
    case NODE_HOOK_GRANTED:
        return config->on_granted;
    case NODE_HOOK_RECLAIM_NOTICE:
        return config->on_reclaim_notice;
    case NODE_HOOK_ENDED:
        return config->on_ended;
    case NODE_HOOK_MEMBER:
        return config->on_member;
    default:
        return "";
    }
}

static uint64_t monotonic_ms(void)
{
    struct timespec ts;
    (void) clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

// Replaces bytes a log line cannot hold (quotes, backslashes, control
// characters) so that the output stays one quoted value.
static void sanitize(char *text, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        unsigned char c = (unsigned char) text[i];
        if (c < 0x20 || c == '"' || c == '\\' || c >= 0x7f) {
            text[i] = c == '\n' ? '|' : '?';
        }
    }
}

typedef struct run_outcome {
    bool started;
    bool timed_out;
    int status;
    char output[NODE_HOOKS_OUTPUT_MAX + 1];
    size_t output_size;
} run_outcome;

/* environ plus FEDMESH_EVENT=event (an inherited FEDMESH_EVENT left out),
 * into env (count_max entries with the NULL; the variable's text in
 * variable). False when environ has more entries than that. */
static bool
build_env(const char *event, char *variable, size_t variable_size, char **env, size_t count_max)
{
    static const char prefix[] = "FEDMESH_EVENT=";
    size_t count = 0;
    for (char **e = environ; e != NULL && *e != NULL; e++) {
        if (strncmp(*e, prefix, sizeof(prefix) - 1) == 0) {
            continue;
        }
        if (count + 2 >= count_max) {
            return false;
        }
        env[count++] = *e;
    }
    (void) snprintf(variable, variable_size, "%s%s", prefix, event);
    env[count++] = variable;
    env[count] = NULL;
    return true;
}

static void run_one(hook_lane *lane,
                    const char *command,
                    const hook_job *job,
                    uint64_t timeout_ns,
                    run_outcome *out)
{
    memset(out, 0, sizeof(*out));
    int in_pipe[2] = {-1, -1};
    int out_pipe[2] = {-1, -1};
    if (pipe(in_pipe) != 0 || pipe(out_pipe) != 0) {
        goto out_close;
    }
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    if (posix_spawn_file_actions_init(&actions) != 0) {
        goto out_close;
    }
    if (posix_spawnattr_init(&attributes) != 0) {
        (void) posix_spawn_file_actions_destroy(&actions);
        goto out_close;
    }
    (void) posix_spawn_file_actions_adddup2(&actions, in_pipe[0], STDIN_FILENO);
    (void) posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
    (void) posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDERR_FILENO);
    (void) posix_spawn_file_actions_addclose(&actions, in_pipe[1]);
    (void) posix_spawn_file_actions_addclose(&actions, out_pipe[0]);
    // Its own process group, so that a timeout kills what it started too;
    // and no signal mask of ours (the agent blocks SIGTERM in every thread).
    sigset_t none;
    (void) sigemptyset(&none);
    (void) posix_spawnattr_setsigmask(&attributes, &none);
    (void) posix_spawnattr_setpgroup(&attributes, 0);
    (void) posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
    char *argv[] = {(char *) command, NULL};
    pid_t pid = 0;
    char variable[sizeof("FEDMESH_EVENT=") + NODE_HOOKS_EVENT_NAME_SIZE_MAX];
    char **env = calloc(ENV_COUNT_MAX, sizeof(*env));
    int spawned = E2BIG;
    if (env == NULL) {
        spawned = ENOMEM;
    } else if (build_env(job->event, variable, sizeof(variable), env, ENV_COUNT_MAX)) {
        spawned = posix_spawn(&pid, command, &actions, &attributes, argv, env);
    }
    free(env);
    (void) posix_spawn_file_actions_destroy(&actions);
    (void) posix_spawnattr_destroy(&attributes);
    (void) close(in_pipe[0]);
    in_pipe[0] = -1;
    (void) close(out_pipe[1]);
    out_pipe[1] = -1;
    if (spawned != 0) {
        int written = snprintf(out->output, sizeof(out->output), "cannot run %s: %s", command,
                               strerror(spawned));
        out->output_size = written > 0 ? strlen(out->output) : 0;
        goto out_close;
    }
    out->started = true;
    node_hooks_runner *r = lane->runner;
    (void) pthread_mutex_lock(&r->lock);
    lane->running = pid;
    bool stopping = r->stopping;
    (void) pthread_mutex_unlock(&r->lock);
    if (stopping) {
        (void) kill(-pid, SIGKILL); // the agent is stopping: no hook outlives it
    }
    // The JSON is small (< 4 KiB, under the pipe's buffer): one write.
    ssize_t wrote = write(in_pipe[1], job->json, job->json_size);
    (void) wrote;
    (void) close(in_pipe[1]);
    in_pipe[1] = -1;
    uint64_t deadline_ms = monotonic_ms() + timeout_ns / 1000000u;
    bool output_open = true;
    bool exited = false;
    int status = 0;
    while (!exited) {
        uint64_t now_ms = monotonic_ms();
        if (now_ms >= deadline_ms) {
            (void) kill(-pid, SIGKILL);
            (void) waitpid(pid, &status, 0);
            out->timed_out = true;
            exited = true;
            break;
        }
        if (output_open) {
            struct pollfd fd = {.fd = out_pipe[0], .events = POLLIN};
            uint64_t wait_ms = deadline_ms - now_ms < 100 ? deadline_ms - now_ms : 100;
            if (poll(&fd, 1, (int) wait_ms) > 0) {
                char chunk[512];
                ssize_t got = read(out_pipe[0], chunk, sizeof(chunk));
                if (got <= 0) {
                    output_open = false;
                } else {
                    size_t room = NODE_HOOKS_OUTPUT_MAX - out->output_size;
                    size_t take = (size_t) got < room ? (size_t) got : room;
                    memcpy(out->output + out->output_size, chunk, take);
                    out->output_size += take;
                }
            }
        } else {
            struct timespec pause = {.tv_sec = 0, .tv_nsec = 10000000};
            (void) nanosleep(&pause, NULL);
        }
        pid_t done = waitpid(pid, &status, WNOHANG);
        exited = done == pid;
    }
    out->status = status;
    (void) pthread_mutex_lock(&r->lock);
    lane->running = 0;
    (void) pthread_mutex_unlock(&r->lock);
out_close:
    for (int i = 0; i < 2; i++) {
        if (in_pipe[i] >= 0) {
            (void) close(in_pipe[i]);
        }
        if (out_pipe[i] >= 0) {
            (void) close(out_pipe[i]);
        }
    }
}

static void *worker_main(void *arg)
{
    hook_lane *lane = arg;
    node_hooks_runner *r = lane->runner;
    // The slot after the ring: the job running now, so that the loop may
    // refill the ring's slot while this one runs.
    char *current = lane->inputs + (size_t) lane->queue_max * lane->input_max;
    for (;;) {
        (void) pthread_mutex_lock(&r->lock);
        while (lane->job_count == 0 && !r->stopping) {
            (void) pthread_cond_wait(&lane->cond, &r->lock);
        }
        if (r->stopping) {
            uint32_t dropped = lane->job_count;
            lane->job_count = 0;
            (void) pthread_mutex_unlock(&r->lock);
            if (dropped > 0) {
                node_log(NODE_LOG_WARN, "hook", "dropped_at_stop", "lane=%s runs=%u", lane->name,
                         dropped);
            }
            return NULL;
        }
        hook_job job = lane->jobs[lane->job_head];
        memcpy(current, job.json, job.json_size);
        job.json = current;
        lane->job_head = (lane->job_head + 1) % lane->queue_max;
        lane->job_count--;
        (void) pthread_mutex_unlock(&r->lock);

        const char *command = command_of(&r->config, job.kind);
        uint64_t started_ms = monotonic_ms();
        run_outcome outcome;
        run_one(lane, command, &job, r->config.timeout_ns, &outcome);
        bool ok = outcome.started && !outcome.timed_out && WIFEXITED(outcome.status) &&
                  WEXITSTATUS(outcome.status) == 0;
        sanitize(outcome.output, outcome.output_size);
        outcome.output[outcome.output_size] = '\0';
        int exit_code =
            outcome.started && WIFEXITED(outcome.status) ? WEXITSTATUS(outcome.status) : -1;
        unsigned long long duration_ms = (unsigned long long) (monotonic_ms() - started_ms);
        if (job.kind == NODE_HOOK_MEMBER) {
            // Member events are many: a success is a debug line.
            node_log(
                ok ? NODE_LOG_DEBUG : NODE_LOG_WARN, "hook", ok ? "finished" : "failed",
                "hook=member member_event=%s exit=%d timed_out=%s duration_ms=%llu output=\"%s\"",
                job.event, exit_code, outcome.timed_out ? "true" : "false", duration_ms,
                outcome.output);
        } else {
            char id[LEDGER_LEASE_ID_SIZE * 2 + 1];
            sodium_bin2hex(id, sizeof(id), job.lease_id, LEDGER_LEASE_ID_SIZE);
            node_log(ok ? NODE_LOG_INFO : NODE_LOG_WARN, "hook", ok ? "finished" : "failed",
                     "hook=%s lease=%s role=%s exit=%d timed_out=%s duration_ms=%llu "
                     "output=\"%s\"",
                     node_hook_kind_name(job.kind), id, job.self_is_lender ? "lender" : "borrower",
                     exit_code, outcome.timed_out ? "true" : "false", duration_ms, outcome.output);
        }

        (void) pthread_mutex_lock(&r->lock);
        r->stats.runs[job.kind]++;
        r->stats.failures[job.kind] += !ok;
        r->stats.timeouts[job.kind] += outcome.timed_out;
        bool result_kept = false;
        if (job.kind != NODE_HOOK_MEMBER && r->result_count < NODE_HOOKS_QUEUE_MAX) {
            node_hook_result *result =
                &r->results[(r->result_head + r->result_count) % NODE_HOOKS_QUEUE_MAX];
            result->kind = job.kind;
            memcpy(result->lease_id, job.lease_id, LEDGER_LEASE_ID_SIZE);
            result->self_is_lender = job.self_is_lender;
            result->ok = ok;
            r->result_count++;
            result_kept = true;
        }
        (void) pthread_mutex_unlock(&r->lock);
        if (result_kept) {
            node_transport_wake(r->transport);
        }
    }
}

static void lane_free(hook_lane *lane)
{
    free(lane->jobs);
    free(lane->inputs);
    lane->jobs = NULL;
    lane->inputs = NULL;
}

/* Allocates the lane's ring and starts its worker; the runner's lock is
 * initialised. Errors: MESH_ENOMEM, MESH_EINTERNAL (no thread). */
static mesh_err lane_start(
    node_hooks_runner *r, hook_lane *lane, const char *name, uint32_t queue_max, uint32_t input_max)
{
    lane->runner = r;
    lane->name = name;
    lane->queue_max = queue_max;
    lane->input_max = input_max;
    lane->jobs = calloc(queue_max, sizeof(*lane->jobs));
    lane->inputs = malloc(((size_t) queue_max + 1) * input_max);
    if (lane->jobs == NULL || lane->inputs == NULL) {
        lane_free(lane);
        return MESH_ENOMEM;
    }
    for (uint32_t i = 0; i < queue_max; i++) {
        lane->jobs[i].json = lane->inputs + (size_t) i * input_max;
    }
    if (pthread_cond_init(&lane->cond, NULL) != 0) {
        lane_free(lane);
        return MESH_EINTERNAL;
    }
    if (pthread_create(&lane->thread, NULL, worker_main, lane) != 0) {
        (void) pthread_cond_destroy(&lane->cond);
        lane_free(lane);
        return MESH_EINTERNAL;
    }
    lane->started = true;
    return MESH_OK;
}

/* Stops the lanes that were started: the hooks running now are killed
 * (their process groups, SIGKILL: a stop is bounded), the queued ones
 * dropped (logged), the workers joined. */
static void lanes_stop(node_hooks_runner *r)
{
    (void) pthread_mutex_lock(&r->lock);
    r->stopping = true;
    for (uint32_t i = 0; i < LANE_COUNT; i++) {
        hook_lane *lane = &r->lanes[i];
        if (lane->started && lane->running > 0) {
            (void) kill(-lane->running, SIGKILL);
        }
        if (lane->started) {
            (void) pthread_cond_signal(&lane->cond);
        }
    }
    (void) pthread_mutex_unlock(&r->lock);
    for (uint32_t i = 0; i < LANE_COUNT; i++) {
        hook_lane *lane = &r->lanes[i];
        if (lane->started) {
            (void) pthread_join(lane->thread, NULL);
            (void) pthread_cond_destroy(&lane->cond);
            lane->started = false;
        }
        lane_free(lane);
    }
}

mesh_err node_hooks_create(const node_hooks *config,
                           node_transport *transport,
                           node_hooks_runner **runner_out)
{
    MESH_ASSERT(config != NULL && runner_out != NULL);
    *runner_out = NULL;
    bool lease_hooks = config->on_granted[0] != '\0' || config->on_reclaim_notice[0] != '\0' ||
                       config->on_ended[0] != '\0';
    bool member_hook = config->on_member[0] != '\0';
    if (!lease_hooks && !member_hook) {
        return MESH_OK;
    }
    node_hooks_runner *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return MESH_ENOMEM;
    }
    r->config = *config;
    r->transport = transport;
    if (pthread_mutex_init(&r->lock, NULL) != 0) {
        free(r);
        return MESH_EINTERNAL;
    }
    mesh_err err = MESH_OK;
    if (lease_hooks) {
        err = lane_start(r, &r->lanes[LANE_LEASE], "lease", NODE_HOOKS_QUEUE_MAX,
                         NODE_HOOKS_INPUT_MAX);
    }
    if (err == MESH_OK && member_hook) {
        err = lane_start(r, &r->lanes[LANE_MEMBER], "member", NODE_HOOKS_MEMBER_QUEUE_MAX,
                         NODE_HOOKS_MEMBER_INPUT_MAX);
    }
    if (err != MESH_OK) {
        lanes_stop(r);
        (void) pthread_mutex_destroy(&r->lock);
        free(r);
        return err;
    }
    *runner_out = r;
    return MESH_OK;
}

void node_hooks_destroy(node_hooks_runner *r)
{
    if (r == NULL) {
        return;
    }
    lanes_stop(r);
    (void) pthread_mutex_destroy(&r->lock);
    free(r);
}

/* Queues one run on lane; false (counted, logged) when it cannot. */
static bool lane_submit(node_hooks_runner *r,
                        hook_lane *lane,
                        node_hook_kind kind,
                        const uint8_t lease_id[LEDGER_LEASE_ID_SIZE],
                        bool self_is_lender,
                        const char *event,
                        const char *json)
{
    size_t size = strlen(json);
    size_t event_size = strlen(event);
    bool fits = size <= lane->input_max && event_size < NODE_HOOKS_EVENT_NAME_SIZE_MAX;
    bool queued = false;
    (void) pthread_mutex_lock(&r->lock);
    if (fits && lane->job_count < lane->queue_max && !r->stopping) {
        hook_job *job = &lane->jobs[(lane->job_head + lane->job_count) % lane->queue_max];
        job->kind = kind;
        if (lease_id != NULL) {
            memcpy(job->lease_id, lease_id, LEDGER_LEASE_ID_SIZE);
        } else {
            memset(job->lease_id, 0, LEDGER_LEASE_ID_SIZE);
        }
        job->self_is_lender = self_is_lender;
        memcpy(job->event, event, event_size + 1);
        job->json_size = (uint32_t) size;
        memcpy(job->json, json, size);
        lane->job_count++;
        queued = true;
        (void) pthread_cond_signal(&lane->cond);
    } else {
        r->stats.dropped[kind]++;
    }
    (void) pthread_mutex_unlock(&r->lock);
    if (!queued) {
        const char *reason = !fits ? "input_too_large" : "queue_full";
        if (kind == NODE_HOOK_MEMBER) {
            node_log(NODE_LOG_WARN, "hook", "dropped", "hook=member member_event=%s reason=%s",
                     event_size < NODE_HOOKS_EVENT_NAME_SIZE_MAX ? event : "?", reason);
        } else {
            node_log(NODE_LOG_WARN, "hook", "dropped", "hook=%s reason=%s",
                     node_hook_kind_name(kind), reason);
        }
    }
    return queued;
}

bool node_hooks_submit(node_hooks_runner *r,
                       node_hook_kind kind,
                       const uint8_t lease_id[LEDGER_LEASE_ID_SIZE],
                       bool self_is_lender,
                       const char *json)
{
    if (r == NULL || (uint32_t) kind >= NODE_HOOK_MEMBER ||
        command_of(&r->config, kind)[0] == '\0') {
        return false;
    }
    return lane_submit(r, &r->lanes[LANE_LEASE], kind, lease_id, self_is_lender,
                       node_hook_kind_name(kind), json);
}

bool node_hooks_member_enabled(const node_hooks_runner *r)
{
    return r != NULL && r->config.on_member[0] != '\0';
}

bool node_hooks_submit_member(node_hooks_runner *r, const char *event, const char *json)
{
    if (!node_hooks_member_enabled(r)) {
        return false;
    }
    return lane_submit(r, &r->lanes[LANE_MEMBER], NODE_HOOK_MEMBER, NULL, false, event, json);
}

uint32_t node_hooks_collect(node_hooks_runner *r, node_hook_result *results, uint32_t max)
{
    if (r == NULL) {
        return 0;
    }
    uint32_t count = 0;
    (void) pthread_mutex_lock(&r->lock);
    while (count < max && r->result_count > 0) {
        results[count++] = r->results[r->result_head];
        r->result_head = (r->result_head + 1) % NODE_HOOKS_QUEUE_MAX;
        r->result_count--;
    }
    (void) pthread_mutex_unlock(&r->lock);
    return count;
}

void node_hooks_stats_get(node_hooks_runner *r, node_hooks_stats *stats_out)
{
    memset(stats_out, 0, sizeof(*stats_out));
    if (r == NULL) {
        return;
    }
    (void) pthread_mutex_lock(&r->lock);
    *stats_out = r->stats;
    (void) pthread_mutex_unlock(&r->lock);
}
