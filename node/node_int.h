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

#endif /* NODE_NODE_INT_H */
