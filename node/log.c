/*
 * node/log.c: key=value log lines on stderr (see log_int.h).
 *
 * Each line is formatted into a fixed buffer first and written with one
 * fputs, so concurrent writers (the loop thread and the signal thread)
 * never interleave. A line longer than the buffer is cut and ends in
 * "truncated=1" rather than being dropped.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "node/log_int.h"

#define LOG_LINE_SIZE_MAX 2048u

// Atomic: SIGHUP changes it on the loop thread while others log.
static atomic_int log_level_min = NODE_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

mesh_err node_log_level_parse(const char *text, node_log_level *level_out)
{
    MESH_ASSERT(text != NULL);
    MESH_ASSERT(level_out != NULL);
    for (uint32_t i = 0; i < MESH_ARRAY_COUNT(level_names); i++) {
        if (strcmp(text, level_names[i]) == 0) {
            *level_out = (node_log_level) i;
            return MESH_OK;
        }
    }
    if (strcmp(text, "warning") == 0) {
        *level_out = NODE_LOG_WARN;
        return MESH_OK;
    }
    return MESH_EINVAL;
}

const char *node_log_level_name(node_log_level level)
{
    if ((uint32_t) level >= MESH_ARRAY_COUNT(level_names)) {
        return "unknown";
    }
    return level_names[level];
}

void node_log_set_level(node_log_level level)
{
    MESH_ASSERT((uint32_t) level < MESH_ARRAY_COUNT(level_names));
    atomic_store(&log_level_min, (int) level);
}

bool node_log_enabled(node_log_level level)
{
    return (int) level >= atomic_load(&log_level_min);
}

void node_log_quote(const char *text, char *out, uint32_t out_size)
{
    MESH_ASSERT(text != NULL && out != NULL);
    MESH_ASSERT(out_size >= 3);
    uint32_t at = 0;
    out[at++] = '"';
    // Room is kept for an escape pair, the closing quote and the NUL.
    for (const char *p = text; *p != '\0' && at + 4 <= out_size; p++) {
        unsigned char c = (unsigned char) *p;
        if (c == '"' || c == '\\') {
            out[at++] = '\\';
            out[at++] = (char) c;
        } else if (c < 0x20 || c == 0x7f) {
            out[at++] = '?';
        } else {
            out[at++] = (char) c;
        }
    }
    out[at++] = '"';
    out[at] = '\0';
}

void node_log(
    node_log_level level, const char *component, const char *event, const char *format, ...)
{
    MESH_ASSERT(component != NULL && event != NULL);
    if (!node_log_enabled(level)) {
        return;
    }
    struct timespec real;
    if (clock_gettime(CLOCK_REALTIME, &real) != 0) {
        real.tv_sec = 0;
        real.tv_nsec = 0;
    }
    struct tm tm;
    char ts[32] = "1970-01-01T00:00:00";
    if (gmtime_r(&real.tv_sec, &tm) != NULL) {
        (void) strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    }
    char line[LOG_LINE_SIZE_MAX];
    int used = snprintf(line, sizeof(line), "ts=%s.%06ldZ level=%s component=%s event=%s", ts,
                        real.tv_nsec / 1000L, node_log_level_name(level), component, event);
    if (used < 0) {
        return;
    }
    size_t at = (size_t) used < sizeof(line) ? (size_t) used : sizeof(line) - 1;
    if (format != NULL && at + 1 < sizeof(line)) {
        line[at++] = ' ';
        va_list args;
        va_start(args, format);
        int more = vsnprintf(line + at, sizeof(line) - at, format, args);
        va_end(args);
        if (more > 0) {
            at += (size_t) more;
        }
    }
    static const char cut[] = " truncated=1";
    if (at >= sizeof(line) - 1) {
        at = sizeof(line) - sizeof(cut) - 1;
        memcpy(line + at, cut, sizeof(cut) - 1);
        at += sizeof(cut) - 1;
    }
    line[at++] = '\n';
    line[at] = '\0';
    (void) fputs(line, stderr);
}
