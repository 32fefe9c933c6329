/*
 * node/node_int.h: helpers shared by the files of node/ and their tests.
 */
#ifndef NODE_NODE_INT_H
#define NODE_NODE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "node/node.h"
#include "wire/wire.h"

/* Prints "fedmesh: <command>: <message>" and a newline to stderr. */
__attribute__((format(printf, 2, 3))) void
node_say_error(const char *command, const char *format, ...);

/* Parses a whole decimal number in [min, max]. Errors: MESH_EINVAL. */
MESH_MUST_USE mesh_err node_parse_i64(const char *text, int64_t min, int64_t max, int64_t *out);

/* Parses "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SSZ" or "@SECONDS" (Unix time) as
 * UTC. Errors: MESH_EINVAL. */
MESH_MUST_USE mesh_err node_parse_time(const char *text, int64_t *realtime_ns_out);

/* Writes "2026-11-26T00:07:15Z" (UTC, seconds precision). */
#define NODE_TIME_TEXT_SIZE 32u
void node_format_time(int64_t realtime_ns, char text_out[NODE_TIME_TEXT_SIZE]);

/* Reads an armored file with the given label into frame (at most
 * WIRE_FRAME_SIZE_MAX bytes). Prints the error itself. */
MESH_MUST_USE mesh_err node_read_armored(const char *command,
                                         const char *path,
                                         const char *label,
                                         uint8_t *frame,
                                         uint32_t *frame_size_out);
/* Writes frame as an armored file, mode 0644, never overwriting. Prints
 * the error itself. */
MESH_MUST_USE mesh_err node_write_armored(const char *command,
                                          const char *path,
                                          const char *label,
                                          const uint8_t *frame,
                                          uint32_t frame_size);
/* Loads keys; print the error (with the fix) themselves. */
MESH_MUST_USE mesh_err node_load_secret(const char *command,
                                        const char *path,
                                        mcrypto_keypair *keypair_out);
MESH_MUST_USE mesh_err node_load_public(const char *command,
                                        const char *path,
                                        uint8_t public_key_out[MCRYPTO_PUBLIC_KEY_SIZE]);

/* True when argv holds -h or --help. */
bool node_wants_help(int argc, char **argv);

/* Subcommands. Each returns a node_exit. */
int node_cmd_keygen(int argc, char **argv);
int node_cmd_federation(int argc, char **argv);
int node_cmd_cert(int argc, char **argv);
int node_cmd_sim(int argc, char **argv);
int node_cmd_agent(int argc, char **argv);
int node_cmd_peers(int argc, char **argv);
int node_cmd_ledger(int argc, char **argv);
int node_cmd_borrow(int argc, char **argv);
int node_cmd_release(int argc, char **argv);
int node_cmd_leases(int argc, char **argv);
int node_cmd_revoke(int argc, char **argv);
/* The revocations part of a view (node_revocations_json), printed after
 * `fedmesh peers`'s table: nothing when none is held (cli_revoke.c). */
struct json_t;
void node_print_revocations(const struct json_t *revocations);

/* --- The simulator's report and sweep (node/sim_report.c,
 * node/cli_sim_sweep.c) --- */
#include <stddef.h>
#include <stdio.h>
struct json_t;

/* Writes DIR/report.html (and DIR/plots/) from DIR/summary.json and
 * DIR/timeseries.csv, and DIR/baseline/'s when present; see
 * node/sim_report.c. error (error_size bytes, may be NULL) gets one line.
 * Errors: MESH_ENOTFOUND when gnuplot is missing (report.html is still
 * written, without plots, and says what to install), MESH_EIO, MESH_EPROTO
 * (a malformed input, file and line named), MESH_EFULL (over a limit),
 * MESH_ETIMEDOUT / MESH_EINTERNAL (gnuplot failed; report.html written). */
MESH_MUST_USE mesh_err node_sim_report_write(const char *dir, char *error, size_t error_size);

/* Runs `gnuplot SCRIPT` in DIR (output to DIR/gnuplot.log), bounded in
 * time; FEDMESH_GNUPLOT names another program. Errors: MESH_ENOTFOUND (not
 * installed), MESH_ETIMEDOUT, MESH_EINTERNAL. */
MESH_MUST_USE mesh_err node_sim_gnuplot(const char *dir,
                                        const char *script,
                                        char *error,
                                        size_t error_size);

/* Loads a JSON object of at most NODE_SIM_JSON_SIZE_MAX bytes; the caller
 * owns *object_out (json_decref). Errors: MESH_ENOTFOUND (no file),
 * MESH_EIO, MESH_EPROTO (not a JSON object; file and line in error). */
#define NODE_SIM_JSON_SIZE_MAX (16u * 1024u * 1024u)
MESH_MUST_USE mesh_err node_sim_json_load(const char *path,
                                          struct json_t **object_out,
                                          char *error,
                                          size_t error_size);

/* Writes text with & < > " ' escaped for HTML. */
void node_html_text(FILE *out, const char *text);

/* `fedmesh sim sweep` and `fedmesh sim aggregate` (argv[1] is the
 * subcommand). Each returns a node_exit. */
int node_cmd_sim_sweep(int argc, char **argv);
int node_cmd_sim_aggregate(int argc, char **argv);
/* `fedmesh sim report DIR`: node_sim_report_write on a run's directory. */
int node_cmd_sim_report(int argc, char **argv);

/* --- The simulator's federation run (node/sim_scenario.c, node/cli_sim_run.c) --- */
#include "sim/fed.h"

/* A scenario file read into a sim_fed_config: sites, traces, latencies,
 * carbon series and faults, with --set overrides applied (SECTION.KEY=VALUE,
 * "site.NAME.KEY" for a site). Paths are relative to the scenario's
 * directory. Errors (one line naming section and key, or file and line, in
 * error): MESH_ENOTFOUND (no such file), MESH_EINVAL (anything else wrong),
 * MESH_ENOMEM. */
typedef struct node_scenario node_scenario;
MESH_MUST_USE mesh_err node_scenario_load(const char *path,
                                          const char *const *sets,
                                          uint32_t set_count,
                                          bool lenient,
                                          node_scenario **out,
                                          char *error,
                                          size_t error_size);
/* The same on the text of a scenario file (borrowed, need not be
 * NUL-terminated; at most NODE_SCENARIO_SIZE_MAX bytes, no NUL byte).
 * `path` names the file in messages, and its directory is the one the
 * files the scenario names are relative to; nothing reads `path` itself.
 * The fuzz target fuzz_node_scenario drives this. Errors: as
 * node_scenario_load, without MESH_ENOTFOUND for `path`. */
#define NODE_SCENARIO_SIZE_MAX (1u << 20)
MESH_MUST_USE mesh_err node_scenario_parse(const char *text,
                                           size_t text_size,
                                           const char *path,
                                           const char *const *sets,
                                           uint32_t set_count,
                                           bool lenient,
                                           node_scenario **out,
                                           char *error,
                                           size_t error_size);
/* Owned by the scenario; the caller may change seed, mesh and callbacks. */
sim_fed_config *node_scenario_config(node_scenario *scenario);
const char *node_scenario_name(const node_scenario *scenario);
const sim_trace_stats *node_scenario_trace_stats(const node_scenario *scenario, uint32_t site);
void node_scenario_free(node_scenario *scenario);

/* `fedmesh sim run SCENARIO ...` (argv[0] is "run"). Returns a node_exit. */
int node_cmd_sim_run(int argc, char **argv);

/* --- The simulator's input files (node/sim_input.c, node/cli_sim_trace.c) --- */
#include "sim/series.h"

/* Reads a whole file into a malloc'ed buffer (*text_out, *size_out bytes,
 * NUL-terminated for convenience; the NUL is not counted). gzip files are
 * decompressed (zlib's gzread reads plain files unchanged), and at most
 * size_max bytes of the uncompressed content are read: a larger file fails
 * with MESH_EFULL, so a gzip bomb cannot take the machine's memory. error
 * (error_size bytes) gets "PATH: what". Errors: MESH_ENOTFOUND (no such
 * file), MESH_EIO, MESH_EFULL, MESH_ENOMEM. */
#define NODE_SIM_INPUT_SIZE_MAX SIM_TRACE_SIZE_MAX /* 1 GiB, uncompressed */
MESH_MUST_USE mesh_err node_sim_load_file(const char *path,
                                          size_t size_max,
                                          char **text_out,
                                          size_t *size_out,
                                          char *error,
                                          size_t error_size);

/* Load a file (gzip or plain, at most NODE_SIM_INPUT_SIZE_MAX bytes
 * uncompressed) and parse it with sim/trace.h or sim/series.h. On failure
 * the output is zeroed and error gets "PATH:LINE: what" (or "PATH: what").
 * Errors: node_sim_load_file's, and the parser's (MESH_EPROTO malformed,
 * MESH_EFULL a bound, MESH_ENOMEM). The caller frees the result with
 * sim_trace_free, sim_latency_free or sim_series_free. */
MESH_MUST_USE mesh_err node_sim_load_trace(const char *path,
                                           sim_trace_format format,
                                           bool lenient,
                                           sim_trace *trace_out,
                                           char *error,
                                           size_t error_size);
MESH_MUST_USE mesh_err node_sim_load_latency(const char *path,
                                             sim_latency_table *table_out,
                                             char *error,
                                             size_t error_size);
MESH_MUST_USE mesh_err node_sim_load_series(const char *path,
                                            sim_series *series_out,
                                            char *error,
                                            size_t error_size);

/* `fedmesh sim trace FILE [--format swf|csv] [--lenient] [--json]`
 * (argv[0] is "trace"): loads a trace and prints its counters. Returns a
 * node_exit. */
int node_cmd_sim_trace(int argc, char **argv);

#endif /* NODE_NODE_INT_H */
