/*
 * node/hooks.c: the hook runner (hooks_int.h has the contract).
 *
 * Each run: posix_spawn the command in a new process group with stdin and
 * stdout+stderr on pipes, write the JSON and close stdin, then poll the
 * output pipe until it closes and the child exits, or until the timeout,
 * when the group gets SIGKILL. The worker is the only thread that waits
 * on children; the agent starts no other child processes.
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

typedef struct hook_job {
    node_hook_kind kind;
    uint8_t lease_id[LEDGER_LEASE_ID_SIZE];
    bool self_is_lender;
    uint32_t json_size;
    char json[NODE_HOOKS_INPUT_MAX];
} hook_job;

struct node_hooks_runner {
    node_hooks config;
    node_transport *transport;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stopping;
    pid_t running;  /* the hook's process (group) now, 0 when none; under lock */
    hook_job *jobs; /* ring of NODE_HOOKS_QUEUE_MAX */
    uint32_t job_head;
    uint32_t job_count;
    node_hook_result results[NODE_HOOKS_QUEUE_MAX];
    uint32_t result_head;
    uint32_t result_count;
    node_hooks_stats stats;
};

const char *node_hook_kind_name(node_hook_kind kind)
{
    static const char *const names[NODE_HOOK_KIND_COUNT] = {"granted", "reclaim_notice", "ended"};
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

static void run_one(node_hooks_runner *r,
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
    int spawned = posix_spawn(&pid, command, &actions, &attributes, argv, environ);
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
    (void) pthread_mutex_lock(&r->lock);
    r->running = pid;
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
    r->running = 0;
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
    node_hooks_runner *r = arg;
    for (;;) {
        (void) pthread_mutex_lock(&r->lock);
        while (r->job_count == 0 && !r->stopping) {
            (void) pthread_cond_wait(&r->cond, &r->lock);
        }
        if (r->stopping) {
            uint32_t dropped = r->job_count;
            r->job_count = 0;
            (void) pthread_mutex_unlock(&r->lock);
            if (dropped > 0) {
                node_log(NODE_LOG_WARN, "hook", "dropped_at_stop", "runs=%u", dropped);
            }
            return NULL;
        }
        hook_job job = r->jobs[r->job_head];
        r->job_head = (r->job_head + 1) % NODE_HOOKS_QUEUE_MAX;
        r->job_count--;
        (void) pthread_mutex_unlock(&r->lock);

        const char *command = command_of(&r->config, job.kind);
        uint64_t started_ms = monotonic_ms();
        run_outcome outcome;
        run_one(r, command, &job, r->config.timeout_ns, &outcome);
        bool ok = outcome.started && !outcome.timed_out && WIFEXITED(outcome.status) &&
                  WEXITSTATUS(outcome.status) == 0;
        sanitize(outcome.output, outcome.output_size);
        outcome.output[outcome.output_size] = '\0';
        char id[LEDGER_LEASE_ID_SIZE * 2 + 1];
        sodium_bin2hex(id, sizeof(id), job.lease_id, LEDGER_LEASE_ID_SIZE);
        int exit_code =
            outcome.started && WIFEXITED(outcome.status) ? WEXITSTATUS(outcome.status) : -1;
        node_log(ok ? NODE_LOG_INFO : NODE_LOG_WARN, "hook", ok ? "finished" : "failed",
                 "hook=%s lease=%s role=%s exit=%d timed_out=%s duration_ms=%llu output=\"%s\"",
                 node_hook_kind_name(job.kind), id, job.self_is_lender ? "lender" : "borrower",
                 exit_code, outcome.timed_out ? "true" : "false",
                 (unsigned long long) (monotonic_ms() - started_ms), outcome.output);

        (void) pthread_mutex_lock(&r->lock);
        r->stats.runs[job.kind]++;
        r->stats.failures[job.kind] += !ok;
        r->stats.timeouts[job.kind] += outcome.timed_out;
        if (r->result_count < NODE_HOOKS_QUEUE_MAX) {
            node_hook_result *result =
                &r->results[(r->result_head + r->result_count) % NODE_HOOKS_QUEUE_MAX];
            result->kind = job.kind;
            memcpy(result->lease_id, job.lease_id, LEDGER_LEASE_ID_SIZE);
            result->self_is_lender = job.self_is_lender;
            result->ok = ok;
            r->result_count++;
        }
        (void) pthread_mutex_unlock(&r->lock);
        node_transport_wake(r->transport);
    }
}

mesh_err node_hooks_create(const node_hooks *config,
                           node_transport *transport,
                           node_hooks_runner **runner_out)
{
    MESH_ASSERT(config != NULL && runner_out != NULL);
    *runner_out = NULL;
    if (config->on_granted[0] == '\0' && config->on_reclaim_notice[0] == '\0' &&
        config->on_ended[0] == '\0') {
        return MESH_OK;
    }
    node_hooks_runner *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return MESH_ENOMEM;
    }
    r->jobs = calloc(NODE_HOOKS_QUEUE_MAX, sizeof(*r->jobs));
    if (r->jobs == NULL) {
        free(r);
        return MESH_ENOMEM;
    }
    r->config = *config;
    r->transport = transport;
    if (pthread_mutex_init(&r->lock, NULL) != 0 || pthread_cond_init(&r->cond, NULL) != 0) {
        free(r->jobs);
        free(r);
        return MESH_EINTERNAL;
    }
    if (pthread_create(&r->thread, NULL, worker_main, r) != 0) {
        (void) pthread_cond_destroy(&r->cond);
        (void) pthread_mutex_destroy(&r->lock);
        free(r->jobs);
        free(r);
        return MESH_EINTERNAL;
    }
    *runner_out = r;
    return MESH_OK;
}

void node_hooks_destroy(node_hooks_runner *r)
{
    if (r == NULL) {
        return;
    }
    (void) pthread_mutex_lock(&r->lock);
    r->stopping = true;
    if (r->running > 0) {
        // A stop is bounded (5 s): the hook running now is killed, its
        // process group with it, rather than waited for.
        (void) kill(-r->running, SIGKILL);
    }
    (void) pthread_cond_signal(&r->cond);
    (void) pthread_mutex_unlock(&r->lock);
    (void) pthread_join(r->thread, NULL);
    (void) pthread_cond_destroy(&r->cond);
    (void) pthread_mutex_destroy(&r->lock);
    free(r->jobs);
    free(r);
}

bool node_hooks_submit(node_hooks_runner *r,
                       node_hook_kind kind,
                       const uint8_t lease_id[LEDGER_LEASE_ID_SIZE],
                       bool self_is_lender,
                       const char *json)
{
    if (r == NULL || (uint32_t) kind >= NODE_HOOK_KIND_COUNT ||
        command_of(&r->config, kind)[0] == '\0') {
        return false;
    }
    size_t size = strlen(json);
    bool queued = false;
    (void) pthread_mutex_lock(&r->lock);
    if (size <= NODE_HOOKS_INPUT_MAX && r->job_count < NODE_HOOKS_QUEUE_MAX && !r->stopping) {
        hook_job *job = &r->jobs[(r->job_head + r->job_count) % NODE_HOOKS_QUEUE_MAX];
        job->kind = kind;
        memcpy(job->lease_id, lease_id, LEDGER_LEASE_ID_SIZE);
        job->self_is_lender = self_is_lender;
        job->json_size = (uint32_t) size;
        memcpy(job->json, json, size);
        r->job_count++;
        queued = true;
        (void) pthread_cond_signal(&r->cond);
    } else {
        r->stats.dropped++;
    }
    (void) pthread_mutex_unlock(&r->lock);
    if (!queued) {
        node_log(NODE_LOG_WARN, "hook", "dropped", "hook=%s reason=%s", node_hook_kind_name(kind),
                 size > NODE_HOOKS_INPUT_MAX ? "input_too_large" : "queue_full");
    }
    return queued;
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
