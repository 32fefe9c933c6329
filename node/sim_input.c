/*
 * node/sim_input.c: reads the simulator's input files (job traces, latency
 * tables, time series) for the pure parsers of sim/trace.h and
 * sim/series.h.
 *
 * The parsers take bytes; this file is the I/O around them: open, read
 * through zlib so that a `.gz` trace (the Parallel Workloads Archive ships
 * its logs gzipped) needs no separate step, bound the uncompressed size,
 * and turn a parser's line-numbered error into one line that names the
 * file. gzopen reads a file that is not gzip as it is, so every input goes
 * through the same path whatever its name says.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "node/node_int.h"

#define INPUT_CAPACITY_INITIAL ((size_t) 64 * 1024)
#define INPUT_CHUNK_MAX        ((size_t) 16 * 1024 * 1024) /* bytes per gzread call */

mesh_err node_sim_load_file(const char *path,
                            size_t size_max,
                            char **text_out,
                            size_t *size_out,
                            char *error,
                            size_t error_size)
{
    MESH_ASSERT(path != NULL && text_out != NULL && size_out != NULL);
    MESH_ASSERT(error != NULL && error_size > 0);
    *text_out = NULL;
    *size_out = 0;
    errno = 0;
    gzFile file = gzopen(path, "rb");
    if (file == NULL) {
        int saved = errno;
        (void) snprintf(error, error_size, "%s: cannot open: %s", path,
                        saved != 0 ? strerror(saved) : "out of memory");
        return saved == ENOENT ? MESH_ENOTFOUND : (saved != 0 ? MESH_EIO : MESH_ENOMEM);
    }
    (void) gzbuffer(file, 128u * 1024u);
    char *text = NULL;
    size_t capacity = 0;
    size_t used = 0;
    mesh_err err = MESH_OK;
    for (;;) {
        // Room for one byte past size_max, to tell "exactly at the bound"
        // from "over it", and for the final NUL.
        if (used + 1 >= capacity) {
            size_t limit = size_max + 2;
            size_t next = capacity == 0 ? INPUT_CAPACITY_INITIAL : capacity * 2;
            if (next > limit) {
                next = limit;
            }
            char *grown = realloc(text, next);
            if (grown == NULL) {
                (void) snprintf(error, error_size, "%s: out of memory after %zu bytes", path, used);
                err = MESH_ENOMEM;
                break;
            }
            text = grown;
            capacity = next;
        }
        size_t room = capacity - used - 1; // >= 1: used <= size_max, capacity <= size_max + 2
        unsigned chunk = (unsigned) (room < INPUT_CHUNK_MAX ? room : INPUT_CHUNK_MAX);
        int n = gzread(file, text + used, chunk);
        if (n < 0) {
            int code = 0;
            const char *what = gzerror(file, &code);
            (void) snprintf(error, error_size, "%s: cannot read: %s", path,
                            code == Z_ERRNO ? strerror(errno) : what);
            err = MESH_EIO;
            break;
        }
        if (n == 0) {
            break; // the end of the (uncompressed) file
        }
        used += (size_t) n;
        if (used > size_max) {
            (void) snprintf(error, error_size, "%s: more than %zu bytes (uncompressed), the bound",
                            path, size_max);
            err = MESH_EFULL;
            break;
        }
    }
    if (gzclose(file) != Z_OK && err == MESH_OK) {
        (void) snprintf(error, error_size, "%s: cannot read: a truncated or damaged gzip file",
                        path);
        err = MESH_EIO;
    }
    if (err != MESH_OK) {
        free(text);
        return err;
    }
    if (text == NULL) {
        text = malloc(1);
        if (text == NULL) {
            (void) snprintf(error, error_size, "%s: out of memory", path);
            return MESH_ENOMEM;
        }
    }
    text[used] = '\0';
    *text_out = text;
    *size_out = used;
    return MESH_OK;
}

/* "PATH:LINE: message" (or "PATH: message" when the error is not about one
 * line). */
static void
input_error(const char *path, const sim_trace_error *parse_error, char *error, size_t error_size)
{
    if (parse_error->line > 0) {
        (void) snprintf(error, error_size, "%s:%u: %s", path, parse_error->line,
                        parse_error->message);
    } else {
        (void) snprintf(error, error_size, "%s: %s", path, parse_error->message);
    }
}

/* Parses text into out; the three parsers of sim/ behind one signature. */
typedef mesh_err (*input_parse_fn)(
    const char *text, size_t size, void *context, void *out, sim_trace_error *parse_error);

/* Loads path and parses it; error gets "PATH:LINE: what". */
static mesh_err input_load(const char *path,
                           input_parse_fn parse,
                           void *context,
                           void *out,
                           char *error,
                           size_t error_size)
{
    char *text = NULL;
    size_t size = 0;
    mesh_err err =
        node_sim_load_file(path, NODE_SIM_INPUT_SIZE_MAX, &text, &size, error, error_size);
    if (err != MESH_OK) {
        return err;
    }
    sim_trace_error parse_error;
    err = parse(text, size, context, out, &parse_error);
    free(text);
    if (err != MESH_OK) {
        input_error(path, &parse_error, error, error_size);
    }
    return err;
}

typedef struct trace_context {
    sim_trace_format format;
    sim_trace_options options;
} trace_context;

static mesh_err
parse_trace(const char *text, size_t size, void *context, void *out, sim_trace_error *error)
{
    const trace_context *c = context;
    return sim_trace_parse(text, size, c->format, &c->options, out, error);
}

static mesh_err
parse_latency(const char *text, size_t size, void *context, void *out, sim_trace_error *error)
{
    (void) context;
    return sim_latency_parse(text, size, out, error);
}

static mesh_err
parse_series(const char *text, size_t size, void *context, void *out, sim_trace_error *error)
{
    (void) context;
    return sim_series_parse(text, size, out, error);
}

mesh_err node_sim_load_trace(const char *path,
                             sim_trace_format format,
                             bool lenient,
                             sim_trace *trace_out,
                             char *error,
                             size_t error_size)
{
    MESH_ASSERT(trace_out != NULL);
    memset(trace_out, 0, sizeof(*trace_out));
    trace_context context = {.format = format, .options = {.lenient = lenient}};
    return input_load(path, parse_trace, &context, trace_out, error, error_size);
}

mesh_err node_sim_load_latency(const char *path,
                               sim_latency_table *table_out,
                               char *error,
                               size_t error_size)
{
    MESH_ASSERT(table_out != NULL);
    memset(table_out, 0, sizeof(*table_out));
    return input_load(path, parse_latency, NULL, table_out, error, error_size);
}

mesh_err
node_sim_load_series(const char *path, sim_series *series_out, char *error, size_t error_size)
{
    MESH_ASSERT(series_out != NULL);
    memset(series_out, 0, sizeof(*series_out));
    return input_load(path, parse_series, NULL, series_out, error, error_size);
}
