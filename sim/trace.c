/*
 * sim/trace.c: the SWF and CSV job-trace readers (contract: sim/trace.h).
 *
 * Both formats feed one builder: a line becomes a raw job (the numbers as
 * the file holds them, -1 for unknown), the rules of trace.h turn it into a
 * sim_job or a counted skip, and the end sorts the jobs and moves the time
 * axis to the trace's start. Keeping the rules in one place (trace_add)
 * is what makes the two formats behave the same.
 *
 * Malformed lines go through trace_malformed, the only place that decides
 * between failing (strict) and counting (lenient).
 */
#include "sim/trace.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_S            1000000000
#define TRACE_TIME_NS_MAX   ((int64_t) SIM_TRACE_SECONDS_MAX * NS_PER_S)
#define TRACE_JOBS_INITIAL  1024u
#define SWF_FIELD_COUNT     18u
#define CSV_COLUMNS_MAX     6u
#define FRACTION_DIGITS_MAX 9u

/* ---- text helpers ---------------------------------------------------- */

void sim_text_lines_init(sim_text_lines *lines, const char *text, size_t size)
{
    MESH_ASSERT(lines != NULL);
    MESH_ASSERT(text != NULL || size == 0);
    lines->text = text;
    lines->size = size;
    lines->offset = 0;
    lines->line = 0;
}

bool sim_text_next_line(sim_text_lines *lines, const char **line_out, size_t *length_out)
{
    if (lines->offset >= lines->size) {
        return false;
    }
    const char *start = lines->text + lines->offset;
    size_t rest = lines->size - lines->offset;
    const char *newline = memchr(start, '\n', rest);
    size_t length = newline != NULL ? (size_t) (newline - start) : rest;
    lines->offset += newline != NULL ? length + 1 : length;
    if (length > 0 && start[length - 1] == '\r') {
        length--;
    }
    lines->line++;
    *line_out = start;
    *length_out = length;
    return true;
}

const char *sim_text_trim(const char *text, size_t *length)
{
    size_t n = *length;
    while (n > 0 && (*text == ' ' || *text == '\t')) {
        text++;
        n--;
    }
    while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t')) {
        n--;
    }
    *length = n;
    return text;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

bool sim_text_fixed(const char *text,
                    size_t length,
                    uint32_t scale_digits,
                    uint32_t fraction_digits_max,
                    int64_t *value_out)
{
    MESH_ASSERT(scale_digits <= 18);
    size_t i = 0;
    bool negative = false;
    if (i < length && text[i] == '-') {
        negative = true;
        i++;
    }
    // Accumulate as a negative number: INT64_MIN has no positive twin.
    int64_t value = 0;
    size_t integer_digits = 0;
    for (; i < length && is_digit(text[i]); i++, integer_digits++) {
        int64_t digit = text[i] - '0';
        if (value < (INT64_MIN + digit) / 10) {
            return false;
        }
        value = value * 10 - digit;
    }
    if (integer_digits == 0) {
        return false;
    }
    uint32_t fraction_digits = 0;
    bool round_up = false;
    if (i < length && text[i] == '.') {
        i++;
        size_t start = i;
        for (; i < length && is_digit(text[i]); i++) {
            fraction_digits++;
            if (fraction_digits > fraction_digits_max) {
                return false;
            }
            int64_t digit = text[i] - '0';
            if (fraction_digits <= scale_digits) {
                if (value < (INT64_MIN + digit) / 10) {
                    return false;
                }
                value = value * 10 - digit;
            } else if (fraction_digits == scale_digits + 1) {
                round_up = digit >= 5;
            }
        }
        if (i == start) {
            return false;
        }
    }
    if (i != length) {
        return false;
    }
    for (uint32_t k = fraction_digits; k < scale_digits; k++) {
        if (value < INT64_MIN / 10) {
            return false;
        }
        value *= 10;
    }
    if (round_up) {
        if (value == INT64_MIN) {
            return false;
        }
        value -= 1;
    }
    if (!negative) {
        if (value == INT64_MIN) {
            return false;
        }
        value = -value;
    }
    *value_out = value;
    return true;
}

bool sim_text_double(const char *text, size_t length, double *value_out)
{
    if (length == 0 || length > SIM_TEXT_DIGITS_MAX + 2) {
        return false;
    }
    size_t i = 0;
    bool negative = false;
    if (text[i] == '-') {
        negative = true;
        i++;
    }
    uint64_t mantissa = 0;
    uint32_t significant = 0;
    int32_t exponent = 0; // value = mantissa * 10^exponent
    size_t integer_digits = 0;
    for (; i < length && is_digit(text[i]); i++, integer_digits++) {
        uint64_t digit = (uint64_t) (text[i] - '0');
        if (significant < 18) {
            mantissa = mantissa * 10 + digit;
            significant += (mantissa > 0) ? 1u : 0u;
        } else {
            exponent++;
        }
    }
    if (integer_digits == 0) {
        return false;
    }
    if (i < length && text[i] == '.') {
        i++;
        size_t start = i;
        for (; i < length && is_digit(text[i]); i++) {
            if (significant < 18) {
                mantissa = mantissa * 10 + (uint64_t) (text[i] - '0');
                significant += (mantissa > 0) ? 1u : 0u;
                exponent--;
            }
        }
        if (i == start) {
            return false;
        }
    }
    if (i != length) {
        return false;
    }
    // mantissa < 10^18 and |exponent| <= 64: both powers are exact
    // doubles up to 10^22; beyond, the product is still well defined.
    double value = (double) mantissa;
    double power = 1.0;
    for (int32_t k = 0; k < (exponent < 0 ? -exponent : exponent); k++) {
        power *= 10.0;
    }
    value = exponent < 0 ? value / power : value * power;
    *value_out = negative ? -value : value;
    return true;
}

bool sim_text_split(const char *text,
                    size_t length,
                    const char **starts,
                    size_t *lengths,
                    uint32_t max,
                    uint32_t *count_out)
{
    uint32_t count = 0;
    size_t start = 0;
    for (size_t i = 0; i <= length; i++) {
        if (i < length && text[i] != ',') {
            continue;
        }
        if (count == max) {
            return false;
        }
        size_t n = i - start;
        starts[count] = sim_text_trim(text + start, &n);
        lengths[count] = n;
        count++;
        start = i + 1;
    }
    *count_out = count;
    return true;
}

/* ---- the builder: rules, bounds, errors ------------------------------- */

typedef struct trace_raw {
    int64_t number;
    int64_t submit_ns; /* >= 0 */
    int64_t run_ns;    /* -1 unknown */
    int64_t request_ns;
    int64_t procs_allocated; /* -1 unknown */
    int64_t procs_requested;
    int64_t gpus;
    uint32_t line;
} trace_raw;

typedef struct trace_builder {
    sim_trace trace;
    uint32_t capacity;
    uint32_t jobs_max;
    bool lenient;
    bool any_submit;
    int64_t submit_min_ns; /* over well-formed job lines */
    sim_trace_error *error;
} trace_builder;

__attribute__((format(printf, 3, 4))) static void
trace_error_set(sim_trace_error *error, uint32_t line, const char *format, ...)
{
    error->line = line;
    va_list args;
    va_start(args, format);
    (void) vsnprintf(error->message, sizeof(error->message), format, args);
    va_end(args);
}

/* A malformed line: fails the parse (strict) or is counted (lenient). */
static mesh_err trace_malformed(trace_builder *builder, uint32_t line, const char *why)
{
    if (builder->lenient) {
        builder->trace.stats.skipped_malformed++;
        return MESH_OK;
    }
    trace_error_set(builder->error, line, "%s (use lenient mode to skip and count such lines)",
                    why);
    return MESH_EPROTO;
}

static mesh_err trace_push(trace_builder *builder, const sim_job *job)
{
    sim_trace *trace = &builder->trace;
    if (trace->job_count >= builder->jobs_max) {
        trace_error_set(builder->error, job->line, "more than %u jobs (the bound jobs_max)",
                        builder->jobs_max);
        return MESH_EFULL;
    }
    if (trace->job_count == builder->capacity) {
        uint32_t capacity = builder->capacity == 0 ? TRACE_JOBS_INITIAL : builder->capacity * 2;
        if (capacity > builder->jobs_max || capacity < builder->capacity) {
            capacity = builder->jobs_max;
        }
        sim_job *jobs = realloc(trace->jobs, (size_t) capacity * sizeof(*jobs));
        if (jobs == NULL) {
            trace_error_set(builder->error, job->line, "out of memory for %u jobs", capacity);
            return MESH_ENOMEM;
        }
        trace->jobs = jobs;
        builder->capacity = capacity;
    }
    trace->jobs[trace->job_count++] = *job;
    return MESH_OK;
}

/* The rules of trace.h, in order. raw is well formed. */
static mesh_err trace_add(trace_builder *builder, const trace_raw *raw)
{
    sim_trace_stats *stats = &builder->trace.stats;
    stats->jobs_read++;
    if (!builder->any_submit || raw->submit_ns < builder->submit_min_ns) {
        builder->submit_min_ns = raw->submit_ns;
        builder->any_submit = true;
    }
    int64_t procs = raw->procs_allocated;
    if (procs <= 0) {
        if (raw->procs_requested > 0) {
            procs = raw->procs_requested;
            stats->procs_from_requested++;
        } else if (raw->procs_allocated == 0 || raw->procs_requested == 0) {
            stats->procs_zero++;
            return MESH_OK;
        } else {
            stats->procs_unknown++;
            return MESH_OK;
        }
    }
    if (raw->run_ns < 0) {
        stats->runtime_unknown++;
        return MESH_OK;
    }
    if (raw->run_ns == 0) {
        stats->runtime_zero++;
    }
    int64_t request_ns = raw->request_ns;
    if (request_ns < 0) {
        request_ns = raw->run_ns;
        stats->request_unknown++;
    } else if (request_ns < raw->run_ns) {
        request_ns = raw->run_ns;
        stats->request_below_run++;
    }
    int64_t gpus = raw->gpus;
    if (gpus < 0) {
        gpus = 0;
        stats->gpus_unknown++;
    }
    sim_job job = {
        .submit_ns = (uint64_t) raw->submit_ns, // rebased in trace_finish
        .run_ns = (uint64_t) raw->run_ns,
        .request_ns = (uint64_t) request_ns,
        .procs = (uint32_t) procs,
        .gpus = (uint32_t) gpus,
        .number = (uint64_t) raw->number,
        .line = raw->line,
    };
    return trace_push(builder, &job);
}

static int job_compare(const void *a, const void *b)
{
    const sim_job *x = a;
    const sim_job *y = b;
    if (x->submit_ns != y->submit_ns) {
        return x->submit_ns < y->submit_ns ? -1 : 1;
    }
    return x->line < y->line ? -1 : (x->line > y->line ? 1 : 0);
}

/* Sorts by (submit, line) and rebases submit times on the trace's start.
 * Returns the start in the file's own nanoseconds. */
static int64_t trace_finish(trace_builder *builder)
{
    sim_trace *trace = &builder->trace;
    bool sorted = true;
    for (uint32_t i = 1; i < trace->job_count && sorted; i++) {
        sorted = job_compare(&trace->jobs[i - 1], &trace->jobs[i]) <= 0;
    }
    if (!sorted) {
        qsort(trace->jobs, trace->job_count, sizeof(*trace->jobs), job_compare);
    }
    int64_t start_ns = builder->any_submit ? builder->submit_min_ns : 0;
    for (uint32_t i = 0; i < trace->job_count; i++) {
        trace->jobs[i].submit_ns -= (uint64_t) start_ns;
    }
    return start_ns;
}

/* A time field: -1 or [0, TRACE_TIME_NS_MAX], in ns. */
static bool parse_time_ns(const char *text, size_t length, int64_t *ns_out)
{
    int64_t ns = 0;
    if (!sim_text_fixed(text, length, 9, FRACTION_DIGITS_MAX, &ns)) {
        return false;
    }
    if (ns == -NS_PER_S) {
        *ns_out = -1;
        return true;
    }
    if (ns < 0 || ns > TRACE_TIME_NS_MAX) {
        return false;
    }
    *ns_out = ns;
    return true;
}

/* An integer field: -1 or [0, max]. */
static bool parse_count(const char *text, size_t length, int64_t max, int64_t *value_out)
{
    int64_t value = 0;
    if (!sim_text_fixed(text, length, 0, 0, &value)) {
        return false;
    }
    if (value < -1 || value > max) {
        return false;
    }
    *value_out = value;
    return true;
}

/* ---- SWF --------------------------------------------------------------- */

typedef enum swf_kind {
    SWF_INTEGER,
    SWF_TIME,
    SWF_DECIMAL, /* memory: a number, not used here */
} swf_kind;

static const swf_kind swf_kinds[SWF_FIELD_COUNT] = {
    SWF_INTEGER, SWF_TIME,    SWF_TIME,    SWF_TIME,    SWF_INTEGER, SWF_TIME,
    SWF_DECIMAL, SWF_INTEGER, SWF_TIME,    SWF_DECIMAL, SWF_INTEGER, SWF_INTEGER,
    SWF_INTEGER, SWF_INTEGER, SWF_INTEGER, SWF_INTEGER, SWF_INTEGER, SWF_TIME,
};

static const char *const swf_names[SWF_FIELD_COUNT] = {
    "job number",       "submit time",   "wait time",       "run time",       "allocated procs",
    "average CPU time", "used memory",   "requested procs", "requested time", "requested memory",
    "status",           "user",          "group",           "executable",     "queue",
    "partition",        "preceding job", "think time",
};

static bool swf_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\v' || c == '\f';
}

/* Reads "; Key: value" header comments. text starts after the ';'. */
static void swf_header(trace_builder *builder, const char *text, size_t length)
{
    text = sim_text_trim(text, &length);
    const char *colon = memchr(text, ':', length);
    if (colon == NULL) {
        return;
    }
    size_t key_length = (size_t) (colon - text);
    const char *key = sim_text_trim(text, &key_length);
    size_t value_length = length - (size_t) (colon - text) - 1;
    const char *value_text = sim_text_trim(colon + 1, &value_length);
    sim_trace *trace = &builder->trace;
    bool is_version = key_length == 7 && memcmp(key, "Version", 7) == 0;
    if (is_version) {
        size_t n =
            value_length < SIM_TRACE_VERSION_SIZE - 1 ? value_length : SIM_TRACE_VERSION_SIZE - 1;
        memcpy(trace->swf_version, value_text, n);
        trace->swf_version[n] = '\0';
        return;
    }
    int which = 0;
    if (key_length == 13 && memcmp(key, "UnixStartTime", 13) == 0) {
        which = 1;
    } else if (key_length == 8 && memcmp(key, "MaxProcs", 8) == 0) {
        which = 2;
    } else if (key_length == 8 && memcmp(key, "MaxNodes", 8) == 0) {
        which = 3;
    } else {
        return;
    }
    int64_t value = 0;
    int64_t max = which == 1 ? SIM_TRACE_SECONDS_MAX : (int64_t) UINT32_MAX;
    if (!parse_count(value_text, value_length, max, &value)) {
        trace->stats.header_invalid++;
        return;
    }
    if (value < 0) {
        return; // -1: unknown
    }
    if (which == 1) {
        trace->start_unix_s = value; // the first submit is added at the end
    } else if (which == 2 || trace->max_procs == 0) {
        trace->max_procs = (uint32_t) value; // MaxProcs wins over MaxNodes
    }
}

static mesh_err swf_job(trace_builder *builder, const char *text, size_t length, uint32_t line)
{
    const char *starts[SWF_FIELD_COUNT];
    size_t lengths[SWF_FIELD_COUNT];
    uint32_t count = 0;
    size_t i = 0;
    char why[SIM_ERROR_MESSAGE_SIZE];
    while (i < length) {
        while (i < length && swf_blank(text[i])) {
            i++;
        }
        if (i == length) {
            break;
        }
        size_t start = i;
        while (i < length && !swf_blank(text[i])) {
            i++;
        }
        if (count == SWF_FIELD_COUNT) {
            return trace_malformed(builder, line, "more than 18 fields (SWF has 18)");
        }
        starts[count] = text + start;
        lengths[count] = i - start;
        count++;
    }
    if (count != SWF_FIELD_COUNT) {
        (void) snprintf(why, sizeof(why), "%u fields, SWF has 18", count);
        return trace_malformed(builder, line, why);
    }
    int64_t values[SWF_FIELD_COUNT];
    for (uint32_t f = 0; f < SWF_FIELD_COUNT; f++) {
        bool ok = false;
        switch (swf_kinds[f]) {
        case SWF_TIME:
            ok = parse_time_ns(starts[f], lengths[f], &values[f]);
            break;
        case SWF_DECIMAL:
            ok = sim_text_fixed(starts[f], lengths[f], 0, FRACTION_DIGITS_MAX, &values[f]) &&
                 values[f] >= -1;
            break;
        default:
            ok = parse_count(starts[f], lengths[f], INT64_MAX, &values[f]);
            break;
        }
        if (!ok) {
            int shown = lengths[f] > 32 ? 32 : (int) lengths[f];
            (void) snprintf(why, sizeof(why),
                            "field %u (%s) is '%.*s': not -1 or a %s >= 0 in range", f + 1,
                            swf_names[f], shown, starts[f],
                            swf_kinds[f] == SWF_INTEGER ? "whole number" : "number");
            return trace_malformed(builder, line, why);
        }
    }
    if (values[0] < 0) {
        return trace_malformed(builder, line, "field 1 (job number) is -1");
    }
    if (values[1] < 0) {
        mesh_err err = trace_malformed(builder, line, "field 2 (submit time) is -1 (unknown)");
        if (err == MESH_OK) {
            builder->trace.stats.submit_unknown++;
        }
        return err;
    }
    if (values[4] > (int64_t) UINT32_MAX || values[7] > (int64_t) UINT32_MAX) {
        return trace_malformed(builder, line, "more than 2^32-1 processors");
    }
    trace_raw raw = {
        .number = values[0],
        .submit_ns = values[1],
        .run_ns = values[3],
        .request_ns = values[8],
        .procs_allocated = values[4],
        .procs_requested = values[7],
        .gpus = 0,
        .line = line,
    };
    return trace_add(builder, &raw);
}

static mesh_err swf_parse(trace_builder *builder, const char *text, size_t size)
{
    sim_text_lines lines;
    sim_text_lines_init(&lines, text, size);
    const char *line_text = NULL;
    size_t length = 0;
    bool in_header = true;
    sim_trace_stats *stats = &builder->trace.stats;
    while (sim_text_next_line(&lines, &line_text, &length)) {
        stats->lines++;
        uint32_t line = lines.line;
        if (length > SIM_TRACE_LINE_SIZE_MAX) {
            mesh_err err = trace_malformed(builder, line, "line longer than 4096 bytes");
            if (err != MESH_OK) {
                return err;
            }
            continue;
        }
        if (memchr(line_text, '\0', length) != NULL) {
            mesh_err err = trace_malformed(builder, line, "a NUL byte in the line");
            if (err != MESH_OK) {
                return err;
            }
            continue;
        }
        size_t trimmed_length = length;
        const char *trimmed = sim_text_trim(line_text, &trimmed_length);
        while (trimmed_length > 0 && swf_blank(trimmed[trimmed_length - 1])) {
            trimmed_length--;
        }
        if (trimmed_length == 0) {
            stats->blank++;
            continue;
        }
        if (trimmed[0] == ';') {
            stats->comments++;
            if (in_header) {
                swf_header(builder, trimmed + 1, trimmed_length - 1);
            }
            continue;
        }
        in_header = false;
        mesh_err err = swf_job(builder, trimmed, trimmed_length, line);
        if (err != MESH_OK) {
            return err;
        }
    }
    int64_t start_ns = trace_finish(builder);
    if (builder->trace.start_unix_s > 0) {
        builder->trace.start_unix_s += start_ns / NS_PER_S;
    }
    return MESH_OK;
}

/* ---- CSV --------------------------------------------------------------- */

typedef enum csv_column {
    CSV_SUBMIT = 0,
    CSV_RUN = 1,
    CSV_VCPU = 2,
    CSV_REQUEST = 3,
    CSV_GPU = 4,
    CSV_ID = 5,
} csv_column;

static const char *const csv_names[CSV_COLUMNS_MAX] = {"submit_s",  "run_s", "vcpu",
                                                       "request_s", "gpu",   "id"};

typedef struct csv_layout {
    uint32_t count;
    csv_column columns[CSV_COLUMNS_MAX]; /* what the i-th column holds */
    bool present[CSV_COLUMNS_MAX];
} csv_layout;

static mesh_err csv_header(
    trace_builder *builder, const char *text, size_t length, uint32_t line, csv_layout *layout)
{
    const char *starts[CSV_COLUMNS_MAX];
    size_t lengths[CSV_COLUMNS_MAX];
    uint32_t count = 0;
    if (!sim_text_split(text, length, starts, lengths, CSV_COLUMNS_MAX, &count)) {
        trace_error_set(builder->error, line,
                        "header: more than 6 columns (known: submit_s, run_s, vcpu, request_s, "
                        "gpu, id)");
        return MESH_EPROTO;
    }
    memset(layout, 0, sizeof(*layout));
    for (uint32_t i = 0; i < count; i++) {
        uint32_t which = CSV_COLUMNS_MAX;
        for (uint32_t k = 0; k < CSV_COLUMNS_MAX; k++) {
            if (strlen(csv_names[k]) == lengths[i] &&
                memcmp(csv_names[k], starts[i], lengths[i]) == 0) {
                which = k;
            }
        }
        int shown = lengths[i] > 32 ? 32 : (int) lengths[i];
        if (which == CSV_COLUMNS_MAX) {
            trace_error_set(builder->error, line,
                            "header: unknown column '%.*s' (known: submit_s, run_s, vcpu, "
                            "request_s, gpu, id)",
                            shown, starts[i]);
            return MESH_EPROTO;
        }
        if (layout->present[which]) {
            trace_error_set(builder->error, line, "header: column '%s' twice", csv_names[which]);
            return MESH_EPROTO;
        }
        layout->present[which] = true;
        layout->columns[i] = (csv_column) which;
    }
    layout->count = count;
    for (uint32_t k = CSV_SUBMIT; k <= CSV_VCPU; k++) {
        if (!layout->present[k]) {
            trace_error_set(builder->error, line,
                            "header: the required column '%s' is missing (required: submit_s, "
                            "run_s, vcpu)",
                            csv_names[k]);
            return MESH_EPROTO;
        }
    }
    return MESH_OK;
}

static mesh_err csv_job(trace_builder *builder,
                        const csv_layout *layout,
                        const char *text,
                        size_t length,
                        uint32_t line,
                        uint64_t ordinal)
{
    const char *starts[CSV_COLUMNS_MAX];
    size_t lengths[CSV_COLUMNS_MAX];
    uint32_t count = 0;
    char why[SIM_ERROR_MESSAGE_SIZE];
    if (!sim_text_split(text, length, starts, lengths, layout->count, &count) ||
        count != layout->count) {
        (void) snprintf(why, sizeof(why), "not %u comma-separated values, as the header has",
                        layout->count);
        return trace_malformed(builder, line, why);
    }
    trace_raw raw = {
        .number = (int64_t) ordinal,
        .request_ns = -1,
        .procs_requested = -1,
        .line = line,
    };
    for (uint32_t i = 0; i < count; i++) {
        csv_column column = layout->columns[i];
        bool ok = false;
        switch (column) {
        case CSV_SUBMIT:
            ok = parse_time_ns(starts[i], lengths[i], &raw.submit_ns);
            break;
        case CSV_RUN:
            ok = parse_time_ns(starts[i], lengths[i], &raw.run_ns);
            break;
        case CSV_REQUEST:
            ok = parse_time_ns(starts[i], lengths[i], &raw.request_ns);
            break;
        case CSV_VCPU:
            ok = parse_count(starts[i], lengths[i], UINT32_MAX, &raw.procs_allocated);
            break;
        case CSV_GPU:
            ok = parse_count(starts[i], lengths[i], UINT32_MAX, &raw.gpus);
            break;
        default:
            ok = parse_count(starts[i], lengths[i], INT64_MAX, &raw.number) && raw.number >= 0;
            break;
        }
        if (!ok) {
            int shown = lengths[i] > 32 ? 32 : (int) lengths[i];
            (void) snprintf(why, sizeof(why), "column %s is '%.*s': not -1 or a %s >= 0 in range",
                            csv_names[column], shown, starts[i],
                            (column == CSV_VCPU || column == CSV_GPU || column == CSV_ID)
                                ? "whole number"
                                : "number of seconds");
            return trace_malformed(builder, line, why);
        }
    }
    if (raw.submit_ns < 0) {
        mesh_err err = trace_malformed(builder, line, "submit_s is -1 (unknown)");
        if (err == MESH_OK) {
            builder->trace.stats.submit_unknown++;
        }
        return err;
    }
    return trace_add(builder, &raw);
}

static mesh_err csv_parse(trace_builder *builder, const char *text, size_t size)
{
    sim_text_lines lines;
    sim_text_lines_init(&lines, text, size);
    const char *line_text = NULL;
    size_t length = 0;
    csv_layout layout;
    bool have_header = false;
    uint64_t ordinal = 0;
    sim_trace_stats *stats = &builder->trace.stats;
    while (sim_text_next_line(&lines, &line_text, &length)) {
        stats->lines++;
        uint32_t line = lines.line;
        if (length > SIM_TRACE_LINE_SIZE_MAX || memchr(line_text, '\0', length) != NULL) {
            const char *why = length > SIM_TRACE_LINE_SIZE_MAX ? "line longer than 4096 bytes"
                                                               : "a NUL byte in the line";
            if (!have_header) {
                trace_error_set(builder->error, line, "header: %s", why);
                return MESH_EPROTO;
            }
            mesh_err err = trace_malformed(builder, line, why);
            if (err != MESH_OK) {
                return err;
            }
            continue;
        }
        size_t trimmed_length = length;
        const char *trimmed = sim_text_trim(line_text, &trimmed_length);
        if (trimmed_length == 0) {
            stats->blank++;
            continue;
        }
        if (trimmed[0] == '#') {
            stats->comments++;
            continue;
        }
        if (!have_header) {
            mesh_err err = csv_header(builder, trimmed, trimmed_length, line, &layout);
            if (err != MESH_OK) {
                return err;
            }
            have_header = true;
            stats->header = 1;
            continue;
        }
        ordinal++;
        mesh_err err = csv_job(builder, &layout, trimmed, trimmed_length, line, ordinal);
        if (err != MESH_OK) {
            return err;
        }
    }
    if (!have_header) {
        trace_error_set(builder->error, 0,
                        "no header line (want column names, e.g. submit_s,run_s,vcpu)");
        return MESH_EPROTO;
    }
    int64_t start_ns = trace_finish(builder);
    if (builder->any_submit && start_ns / NS_PER_S >= SIM_TRACE_UNIX_MIN_S) {
        builder->trace.start_unix_s = start_ns / NS_PER_S;
    }
    return MESH_OK;
}

/* ---- entry points ------------------------------------------------------ */

mesh_err sim_trace_parse(const char *text,
                         size_t size,
                         sim_trace_format format,
                         const sim_trace_options *options,
                         sim_trace *trace_out,
                         sim_trace_error *error_out)
{
    MESH_ASSERT(trace_out != NULL);
    MESH_ASSERT(error_out != NULL);
    memset(trace_out, 0, sizeof(*trace_out));
    memset(error_out, 0, sizeof(*error_out));
    if (text == NULL && size > 0) {
        trace_error_set(error_out, 0, "no text");
        return MESH_EINVAL;
    }
    if (format != SIM_TRACE_SWF && format != SIM_TRACE_CSV) {
        trace_error_set(error_out, 0, "unknown trace format %d", (int) format);
        return MESH_EINVAL;
    }
    if (size > SIM_TRACE_SIZE_MAX) {
        trace_error_set(error_out, 0, "%zu bytes, more than the bound of 1 GiB", size);
        return MESH_EFULL;
    }
    uint32_t jobs_max = options != NULL ? options->jobs_max : 0;
    if (jobs_max > SIM_TRACE_JOBS_MAX) {
        trace_error_set(error_out, 0, "jobs_max %u is above %u", jobs_max, SIM_TRACE_JOBS_MAX);
        return MESH_EINVAL;
    }
    trace_builder builder = {
        .jobs_max = jobs_max == 0 ? SIM_TRACE_JOBS_MAX : jobs_max,
        .lenient = options != NULL && options->lenient,
        .error = error_out,
    };
    mesh_err err =
        format == SIM_TRACE_SWF ? swf_parse(&builder, text, size) : csv_parse(&builder, text, size);
    if (err != MESH_OK) {
        sim_trace_free(&builder.trace);
        return err;
    }
    *trace_out = builder.trace;
    return MESH_OK;
}

void sim_trace_free(sim_trace *trace)
{
    if (trace == NULL) {
        return;
    }
    free(trace->jobs);
    memset(trace, 0, sizeof(*trace));
}

const char *sim_trace_format_name(sim_trace_format format)
{
    return format == SIM_TRACE_CSV ? "csv" : "swf";
}
