/*
 * node/log_int.h: the daemon's log: one line per event on stderr, as
 * key=value pairs, with a level and a component:
 *
 *     ts=2026-11-26T00:07:15.123456Z level=info component=gossip event=member_state
 *     member=fm5k3... name=fr-par-1 state=down
 *
 * Lines are written with one stdio call each, so lines from several
 * threads never interleave. The level is atomic: it is set at start-up
 * and again by a SIGHUP reload, while other threads log.
 *
 * Components: agent (start, stop, signals, reloads), gossip (membership),
 * transport (NNG sockets), http (the API: listening, unauthorized
 * requests, load reports, every request at debug, server errors at warn).
 */
#ifndef NODE_LOG_INT_H
#define NODE_LOG_INT_H

#include <stdbool.h>

#include "mesh/mesh.h"

typedef enum node_log_level {
    NODE_LOG_DEBUG = 0,
    NODE_LOG_INFO = 1,
    NODE_LOG_WARN = 2,
    NODE_LOG_ERROR = 3,
} node_log_level;

/* Parses "debug", "info", "warn" (or "warning") and "error".
 * Errors: MESH_EINVAL; level_out untouched then. */
MESH_MUST_USE mesh_err node_log_level_parse(const char *text, node_log_level *level_out);
const char *node_log_level_name(node_log_level level);

/* Sets the lowest level written; any thread, any time. */
void node_log_set_level(node_log_level level);
bool node_log_enabled(node_log_level level);

/* Writes one line: ts, level, component, event, then `format` (more
 * key=value pairs, may be NULL). Values with spaces must be quoted by the
 * caller ("error=\"%s\""); node_log_quote helps with text from outside. */
__attribute__((format(printf, 4, 5))) void
node_log(node_log_level level, const char *component, const char *event, const char *format, ...);

/* Copies text into out as a quoted log value: "..." with '"' and '\'
 * escaped and control bytes shown as '?'; truncated to fit out_size. */
void node_log_quote(const char *text, char *out, uint32_t out_size);

#endif /* NODE_LOG_INT_H */
