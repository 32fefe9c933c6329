/*
 * node/cli_ledger_int.h: the parts of `fedmesh ledger` that live in their
 * own files: the network reconcile (cli_ledger_net.c, a client of the
 * agent's API) and the audit (cli_audit.c: the report, and its offline
 * verification). cli_ledger.c dispatches to them.
 */
#ifndef NODE_CLI_LEDGER_INT_H
#define NODE_CLI_LEDGER_INT_H

#include <stdbool.h>
#include <stdint.h>

/* `fedmesh ledger reconcile --config NODE.INI --peer NAME`: asks the agent
 * running with config_path (POST /v1/ledger/reconcile), prints the answer
 * (a table, or the agent's JSON with json). timeout_ms 0: the agent's
 * default. Returns the exit code: 0 agree, 1 differ, 2 usage, 3 no such
 * peer, 5 no agent, no answer, or the peer's answer timed out. */
int node_ledger_reconcile_network(
    const char *command, const char *config_path, const char *peer, uint64_t timeout_ms, bool json);

/* `fedmesh ledger audit ...` from its own name on (argv[0] == "audit"). */
int node_cmd_ledger_audit(int argc, char **argv);

#endif /* NODE_CLI_LEDGER_INT_H */
