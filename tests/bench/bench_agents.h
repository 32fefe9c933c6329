/*
 * tests/bench/bench_agents.h: two real fedmesh agents on 127.0.0.1 for a
 * benchmark, and the few HTTP calls a benchmark makes to their API.
 *
 * The harness makes a temporary directory, a federation root key, a key
 * and a member certificate per agent (by running the `fedmesh` binary, so
 * the benchmark uses exactly what an operator would), a bearer token and
 * one config file per agent, then starts the agents as child processes
 * (stderr to NAME.log in the directory). Agent 0 borrows, agent 1 lends
 * plenty. Everything is bounded in time; an agent outlives a crashed
 * benchmark by nothing (PR_SET_PDEATHSIG).
 *
 * Every function prints what went wrong to stderr ("bench lease: ...")
 * and returns -1; 0 on success.
 */
#ifndef TESTS_BENCH_BENCH_AGENTS_H
#define TESTS_BENCH_BENCH_AGENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BENCH_AGENT_COUNT    2u
#define BENCH_AGENT_BORROWER 0u
#define BENCH_AGENT_LENDER   1u
#define BENCH_PATH_SIZE      4096u
#define BENCH_TOKEN_SIZE     64u
#define BENCH_URL_SIZE       128u
#define BENCH_FS_TEXT_SIZE   64u

typedef struct bench_agent {
    const char *name;
    pid_t pid; /* 0: not running */
    uint16_t gossip_port;
    uint16_t control_port;
    uint16_t http_port;
    uint64_t started_ns; /* bench_clock_ns() at the start */
    char log_path[BENCH_PATH_SIZE];
} bench_agent;

typedef struct bench_agents_config {
    const char *base_dir; /* where the temporary directory goes; NULL: "." */
    const char *fedmesh;  /* the fedmesh binary; NULL: next to /proc/self/exe */
    uint32_t leases_max;  /* [lease] leases_max of both agents */
    uint32_t offer_ttl_ms;
} bench_agents_config;

typedef struct bench_agents {
    char dir[BENCH_PATH_SIZE]; /* absolute; "" until made */
    char fedmesh[BENCH_PATH_SIZE];
    char token[BENCH_TOKEN_SIZE];
    uint32_t offer_ttl_ms;
    bench_agent agents[BENCH_AGENT_COUNT];
} bench_agents;

/* Makes the directory, the identities and the configs; starts nothing. On
 * failure `agents` may hold a directory: bench_agents_destroy removes it. */
int bench_agents_create(const bench_agents_config *config, bench_agents *agents);

/* Starts both agents. */
int bench_agents_start(bench_agents *agents);

/* Waits, at most timeout_ms, until each agent sees the other alive
 * (GET /v1/peers), then until the lender's start-up quiet time
 * (offer_ttl, during which it refuses "starting") has passed. */
int bench_agents_wait_ready(bench_agents *agents, uint32_t timeout_ms);

/* SIGTERM, then SIGKILL after 5 s; -1 unless both exited 0 on SIGTERM. */
int bench_agents_stop(bench_agents *agents);

/* Kills what still runs (SIGKILL) and removes the directory unless
 * keep_dir. Safe after any failure, and twice. */
void bench_agents_destroy(bench_agents *agents, bool keep_dir);

/* After a failure, on stderr: which agent died, if one did, and the last
 * lines of each agent's log. */
void bench_agents_print_logs(bench_agents *agents);

/* "http://127.0.0.1:PORT" of agent `index`. */
void bench_agents_url(const bench_agents *agents, uint32_t index, char url[BENCH_URL_SIZE]);

/* GET `path` on agent `index` with the token: 200 and the body, NUL
 * terminated, owned by the caller (free) on success. */
int bench_agents_get_text(const bench_agents *agents,
                          uint32_t index,
                          const char *path,
                          char **text_out);

/* The same, parsed: a JSON body owned by the caller (json_decref). */
int bench_agents_get_json(const bench_agents *agents,
                          uint32_t index,
                          const char *path,
                          json_t **body_out);

/* The file system `path` lives on, from /proc/self/mountinfo (longest
 * mount point that prefixes the real path): type ("ext4") and source
 * ("/dev/vda"); "unknown" when it cannot be told. */
void bench_fs_of(const char *path,
                 char type_out[BENCH_FS_TEXT_SIZE],
                 char source_out[BENCH_FS_TEXT_SIZE]);

#endif
