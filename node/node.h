/*
 * node/node.h: the fedmesh command line and (with later issues) the
 * daemon's shell. This is the only module that talks to the operating
 * system's clock, files beyond key material, NNG, RocksDB and JSON.
 *
 * Exit codes are part of the interface: scripts and orchestration tools
 * branch on them. Append only; never renumber.
 */
#ifndef NODE_NODE_H
#define NODE_NODE_H

#include <stdint.h>

#include "mesh/mesh.h"

typedef enum node_exit {
    NODE_EXIT_OK = 0,          /* success; for checks: the thing checked is valid */
    NODE_EXIT_INVALID = 1,     /* a check ran and failed (expired, revoked, bad signature...) */
    NODE_EXIT_USAGE = 2,       /* bad command line; see --help */
    NODE_EXIT_INPUT = 3,       /* a file cannot be read, or its content is malformed */
    NODE_EXIT_REFUSED = 4,     /* refused for safety: file exists, unsafe permissions */
    NODE_EXIT_INTERNAL = 5,    /* a bug or a failing system call; the message says which */
    NODE_EXIT_UNAVAILABLE = 6, /* the host refuses what the config names: an address in use */
} node_exit;

/* Runs the command line; returns the process exit code. */
int node_cli_main(int argc, char **argv);

/* Maps an error from the core to the exit code the CLI reports. */
int node_exit_from_err(mesh_err err);

/* The wall clock, read once per input by the shell. */
mesh_now node_now(void);

#endif /* NODE_NODE_H */
