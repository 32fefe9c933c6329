/*
 * sim/series.c: the latency-table and time-series readers (contract:
 * sim/series.h).
 *
 * The latency table is built in two steps: rows are read into a list
 * (names interned through a small open-addressing hash, so a table of a
 * thousand sites reads in linear time), then the square matrix is filled
 * from the list once the number of names is known, checking each pair
 * against the row that gave it first. The time series is one pass.
 */
#include "sim/series.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_S            1000000000
#define NAME_SLOTS          (2u * SIM_LATENCY_NAMES_MAX) /* a power of two, half full at most */
#define LATENCY_ROWS_MAX    (SIM_LATENCY_NAMES_MAX * SIM_LATENCY_NAMES_MAX)
#define ROWS_INITIAL        256u
#define POINTS_INITIAL      1024u
#define FRACTION_DIGITS_MAX 9u

__attribute__((format(printf, 3, 4))) static void
series_error_set(sim_series_error *error, uint32_t line, const char *format, ...)
{
    error->line = line;
    va_list args;
    va_start(args, format);
    (void) vsnprintf(error->message, sizeof(error->message), format, args);
    va_end(args);
}

/* Checks a line's length and bytes; false (with the error set) when bad. */
static bool line_ok(const char *text, size_t length, uint32_t line, sim_series_error *error)
{
    if (length > SIM_TRACE_LINE_SIZE_MAX) {
        series_error_set(error, line, "line longer than %u bytes", SIM_TRACE_LINE_SIZE_MAX);
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char) text[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            series_error_set(error, line, "a control character (0x%02x) in the line", c);
            return false;
        }
    }
    return true;
}

/* Splits at commas into exactly want trimmed fields. */
static bool
split_exact(const char *text, size_t length, uint32_t want, const char **starts, size_t *lengths)
{
    uint32_t count = 0;
    return sim_text_split(text, length, starts, lengths, want, &count) && count == want;
}

static bool field_is(const char *text, size_t length, const char *want)
{
    return strlen(want) == length && memcmp(text, want, length) == 0;
}

/* The checks every parse starts with: arguments, then the size bound. */
static mesh_err parse_begin(const char *text, size_t size, sim_series_error *error)
{
    MESH_ASSERT(error != NULL);
    memset(error, 0, sizeof(*error));
    if (text == NULL && size > 0) {
        series_error_set(error, 0, "no text");
        return MESH_EINVAL;
    }
    if (size > SIM_TRACE_SIZE_MAX) {
        series_error_set(error, 0, "%zu bytes, more than the bound of 1 GiB", size);
        return MESH_EFULL;
    }
    return MESH_OK;
}

/* Takes one trimmed, non-empty line; sets the error when it fails. */
typedef mesh_err (*csv_line_fn)(void *context, const char *text, size_t length, uint32_t line);

/* The line loop both formats share: each line checked (length, control
 * characters), blank and '#' lines skipped, the first other line given to
 * header and every later one to row, until one fails. want_header names
 * the header in the error when there is none. */
static mesh_err csv_lines(const char *text,
                          size_t size,
                          sim_series_error *error,
                          csv_line_fn header,
                          csv_line_fn row,
                          void *context,
                          const char *want_header)
{
    sim_text_lines lines;
    sim_text_lines_init(&lines, text, size);
    const char *line_text = NULL;
    size_t length = 0;
    bool have_header = false;
    while (sim_text_next_line(&lines, &line_text, &length)) {
        if (!line_ok(line_text, length, lines.line, error)) {
            return MESH_EPROTO;
        }
        const char *trimmed = sim_text_trim(line_text, &length);
        if (length == 0 || trimmed[0] == '#') {
            continue;
        }
        mesh_err err = (have_header ? row : header)(context, trimmed, length, lines.line);
        if (err != MESH_OK) {
            return err;
        }
        have_header = true;
    }
    if (!have_header) {
        series_error_set(error, 0, "no header line (want %s)", want_header);
        return MESH_EPROTO;
    }
    return MESH_OK;
}

/* ---- latency table ----------------------------------------------------- */

typedef struct latency_row {
    uint32_t a;
    uint32_t b;
    uint32_t rtt_us;
    uint32_t line;
} latency_row;

typedef struct latency_builder {
    sim_latency_table table;
    uint32_t names_capacity;
    uint32_t slots[NAME_SLOTS]; /* index + 1 of a name; 0 empty */
    latency_row *rows;
    uint32_t rows_capacity;
    sim_series_error *error;
} latency_builder;

static uint32_t name_hash(const char *name, size_t length)
{
    uint32_t hash = 2166136261u; // FNV-1a
    for (size_t i = 0; i < length; i++) {
        hash ^= (uint8_t) name[i];
        hash *= 16777619u;
    }
    return hash;
}

/* The slot holding name, or the empty slot where it would go. */
static uint32_t name_slot(const uint32_t *slots,
                          char (*names)[SIM_LATENCY_NAME_SIZE],
                          const char *name,
                          size_t length)
{
    uint32_t slot = name_hash(name, length) & (NAME_SLOTS - 1);
    for (;;) {
        uint32_t entry = slots[slot];
        if (entry == 0 ||
            (strlen(names[entry - 1]) == length && memcmp(names[entry - 1], name, length) == 0)) {
            return slot;
        }
        slot = (slot + 1) & (NAME_SLOTS - 1);
    }
}

static mesh_err latency_intern(
    latency_builder *builder, const char *name, size_t length, uint32_t line, uint32_t *index_out)
{
    if (length == 0 || length >= SIM_LATENCY_NAME_SIZE) {
        series_error_set(builder->error, line, "a site name of %zu bytes (want 1 to %u)", length,
                         SIM_LATENCY_NAME_SIZE - 1);
        return MESH_EPROTO;
    }
    sim_latency_table *table = &builder->table;
    uint32_t slot = name_slot(builder->slots, table->names, name, length);
    if (builder->slots[slot] != 0) {
        *index_out = builder->slots[slot] - 1;
        return MESH_OK;
    }
    if (table->name_count == SIM_LATENCY_NAMES_MAX) {
        series_error_set(builder->error, line, "more than %u site names", SIM_LATENCY_NAMES_MAX);
        return MESH_EFULL;
    }
    if (table->name_count == builder->names_capacity) {
        uint32_t capacity = builder->names_capacity == 0 ? 16u : builder->names_capacity * 2;
        void *names = realloc(table->names, (size_t) capacity * SIM_LATENCY_NAME_SIZE);
        if (names == NULL) {
            series_error_set(builder->error, line, "out of memory");
            return MESH_ENOMEM;
        }
        table->names = names;
        builder->names_capacity = capacity;
    }
    memcpy(table->names[table->name_count], name, length);
    table->names[table->name_count][length] = '\0';
    builder->slots[slot] = ++table->name_count;
    *index_out = table->name_count - 1;
    return MESH_OK;
}

static mesh_err latency_row_add(latency_builder *builder, const latency_row *row)
{
    sim_latency_table *table = &builder->table;
    if (table->row_count == LATENCY_ROWS_MAX) {
        series_error_set(builder->error, row->line, "more than %u rows", LATENCY_ROWS_MAX);
        return MESH_EFULL;
    }
    if (table->row_count == builder->rows_capacity) {
        uint32_t capacity = builder->rows_capacity == 0 ? ROWS_INITIAL : builder->rows_capacity * 2;
        latency_row *rows = realloc(builder->rows, (size_t) capacity * sizeof(*rows));
        if (rows == NULL) {
            series_error_set(builder->error, row->line, "out of memory");
            return MESH_ENOMEM;
        }
        builder->rows = rows;
        builder->rows_capacity = capacity;
    }
    builder->rows[table->row_count++] = *row;
    return MESH_OK;
}

static mesh_err
latency_line(latency_builder *builder, const char *text, size_t length, uint32_t line)
{
    const char *starts[3];
    size_t lengths[3];
    if (!split_exact(text, length, 3, starts, lengths)) {
        series_error_set(builder->error, line, "not three comma-separated values a,b,rtt_ms");
        return MESH_EPROTO;
    }
    latency_row row = {.line = line};
    mesh_err err = latency_intern(builder, starts[0], lengths[0], line, &row.a);
    if (err == MESH_OK) {
        err = latency_intern(builder, starts[1], lengths[1], line, &row.b);
    }
    if (err != MESH_OK) {
        return err;
    }
    int64_t rtt_us = 0;
    if (!sim_text_fixed(starts[2], lengths[2], 3, FRACTION_DIGITS_MAX, &rtt_us) || rtt_us < 0 ||
        rtt_us > (int64_t) SIM_LATENCY_RTT_MS_MAX * 1000) {
        int shown = lengths[2] > 32 ? 32 : (int) lengths[2];
        series_error_set(builder->error, line,
                         "rtt_ms is '%.*s': want a decimal number of milliseconds from 0 to %u",
                         shown, starts[2], SIM_LATENCY_RTT_MS_MAX);
        return MESH_EPROTO;
    }
    row.rtt_us = (uint32_t) rtt_us;
    if (row.a == row.b && row.rtt_us != 0) {
        series_error_set(builder->error, line, "a site's RTT to itself must be 0, not %.3f ms",
                         (double) row.rtt_us / 1000.0);
        return MESH_EPROTO;
    }
    return latency_row_add(builder, &row);
}

/* Fills the matrix from the rows; a pair given twice must agree. */
static mesh_err latency_fill(latency_builder *builder)
{
    sim_latency_table *table = &builder->table;
    size_t n = table->name_count;
    table->rtt_us = malloc((n > 0 ? n * n : 1) * sizeof(*table->rtt_us));
    uint32_t *lines = calloc(n > 0 ? n * n : 1, sizeof(*lines));
    if (table->rtt_us == NULL || lines == NULL) {
        free(lines);
        series_error_set(builder->error, 0, "out of memory for %zu sites", n);
        return MESH_ENOMEM;
    }
    for (size_t i = 0; i < n * n; i++) {
        table->rtt_us[i] = SIM_LATENCY_MISSING;
    }
    for (size_t i = 0; i < n; i++) {
        table->rtt_us[i * n + i] = 0;
    }
    for (uint32_t r = 0; r < table->row_count; r++) {
        const latency_row *row = &builder->rows[r];
        size_t ab = (size_t) row->a * n + row->b;
        size_t ba = (size_t) row->b * n + row->a;
        if (lines[ab] != 0 && table->rtt_us[ab] != row->rtt_us) {
            series_error_set(builder->error, row->line,
                             "%s,%s is %.3f ms here but %.3f ms on line %u (the table is "
                             "symmetric: a,b gives b,a)",
                             table->names[row->a], table->names[row->b],
                             (double) row->rtt_us / 1000.0, (double) table->rtt_us[ab] / 1000.0,
                             lines[ab]);
            free(lines);
            return MESH_EPROTO;
        }
        table->rtt_us[ab] = row->rtt_us;
        table->rtt_us[ba] = row->rtt_us;
        if (lines[ab] == 0) {
            lines[ab] = row->line;
            lines[ba] = row->line;
        }
    }
    free(lines);
    return MESH_OK;
}

static mesh_err latency_header(void *context, const char *text, size_t length, uint32_t line)
{
    latency_builder *builder = context;
    const char *starts[3];
    size_t lengths[3];
    if (!split_exact(text, length, 3, starts, lengths) || !field_is(starts[0], lengths[0], "a") ||
        !field_is(starts[1], lengths[1], "b") || !field_is(starts[2], lengths[2], "rtt_ms")) {
        series_error_set(builder->error, line, "the header must be a,b,rtt_ms");
        return MESH_EPROTO;
    }
    return MESH_OK;
}

static mesh_err latency_row_line(void *context, const char *text, size_t length, uint32_t line)
{
    return latency_line(context, text, length, line);
}

mesh_err sim_latency_parse(const char *text,
                           size_t size,
                           sim_latency_table *table_out,
                           sim_series_error *error_out)
{
    MESH_ASSERT(table_out != NULL);
    memset(table_out, 0, sizeof(*table_out));
    mesh_err err = parse_begin(text, size, error_out);
    if (err != MESH_OK) {
        return err;
    }
    latency_builder *builder = calloc(1, sizeof(*builder));
    if (builder == NULL) {
        series_error_set(error_out, 0, "out of memory");
        return MESH_ENOMEM;
    }
    builder->error = error_out;
    err = csv_lines(text, size, error_out, latency_header, latency_row_line, builder, "a,b,rtt_ms");
    if (err == MESH_OK) {
        err = latency_fill(builder);
    }
    free(builder->rows);
    if (err != MESH_OK) {
        sim_latency_free(&builder->table);
    } else {
        *table_out = builder->table;
    }
    free(builder);
    return err;
}

void sim_latency_free(sim_latency_table *table)
{
    if (table == NULL) {
        return;
    }
    free(table->names);
    free(table->rtt_us);
    memset(table, 0, sizeof(*table));
}

bool sim_latency_find(const sim_latency_table *table, const char *name, uint32_t *index_out)
{
    MESH_ASSERT(table != NULL && name != NULL && index_out != NULL);
    for (uint32_t i = 0; i < table->name_count; i++) {
        if (strcmp(table->names[i], name) == 0) {
            *index_out = i;
            return true;
        }
    }
    return false;
}

bool sim_latency_rtt_us(const sim_latency_table *table,
                        const char *a,
                        const char *b,
                        uint32_t *rtt_us_out)
{
    MESH_ASSERT(table != NULL && a != NULL && b != NULL && rtt_us_out != NULL);
    if (strcmp(a, b) == 0) {
        *rtt_us_out = 0;
        return true;
    }
    uint32_t ia = 0;
    uint32_t ib = 0;
    if (!sim_latency_find(table, a, &ia) || !sim_latency_find(table, b, &ib)) {
        return false;
    }
    uint32_t rtt_us = table->rtt_us[(size_t) ia * table->name_count + ib];
    if (rtt_us == SIM_LATENCY_MISSING) {
        return false;
    }
    *rtt_us_out = rtt_us;
    return true;
}

/* ---- time series ------------------------------------------------------- */

static bool is_leap(int64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

bool sim_series_unix_s(int64_t year,
                       int64_t month,
                       int64_t day,
                       int64_t hour,
                       int64_t minute,
                       int64_t second,
                       int64_t *unix_s_out)
{
    static const int64_t month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (year < 1970 || year > 2100 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 ||
        minute < 0 || minute > 59 || second < 0 || second > 59) {
        return false;
    }
    int64_t days_in_month = month_days[month - 1] + ((month == 2 && is_leap(year)) ? 1 : 0);
    if (day > days_in_month) {
        return false;
    }
    // Days before the year, counted from 1970 (both ends are in range, so
    // a loop of at most 130 steps is plain and exact).
    int64_t days = 0;
    for (int64_t y = 1970; y < year; y++) {
        days += is_leap(y) ? 366 : 365;
    }
    for (int64_t m = 1; m < month; m++) {
        days += month_days[m - 1] + ((m == 2 && is_leap(year)) ? 1 : 0);
    }
    days += day - 1;
    *unix_s_out = ((days * 24 + hour) * 60 + minute) * 60 + second;
    return true;
}

static bool digits(const char *text, size_t count, int64_t *value_out)
{
    int64_t value = 0;
    for (size_t i = 0; i < count; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
        value = value * 10 + (text[i] - '0');
    }
    *value_out = value;
    return true;
}

/* "YYYY-MM-DD HH:MM:SS", 'T' for the space, an optional 'Z'. */
static bool parse_calendar(const char *text, size_t length, int64_t *unix_s_out)
{
    if (length == 20 && text[19] == 'Z') {
        length = 19;
    }
    if (length != 19 || text[4] != '-' || text[7] != '-' || (text[10] != ' ' && text[10] != 'T') ||
        text[13] != ':' || text[16] != ':') {
        return false;
    }
    int64_t year = 0;
    int64_t month = 0;
    int64_t day = 0;
    int64_t hour = 0;
    int64_t minute = 0;
    int64_t second = 0;
    return digits(text, 4, &year) && digits(text + 5, 2, &month) && digits(text + 8, 2, &day) &&
           digits(text + 11, 2, &hour) && digits(text + 14, 2, &minute) &&
           digits(text + 17, 2, &second) &&
           sim_series_unix_s(year, month, day, hour, minute, second, unix_s_out);
}

static bool looks_calendar(const char *text, size_t length)
{
    return length >= 5 && text[4] == '-';
}

typedef struct series_builder {
    sim_series series;
    uint32_t capacity;
    bool calendar;
    int64_t first_ns; /* the first point's time, in the file's own ns */
    int64_t last_ns;
    uint32_t last_line;
    sim_series_error *error;
} series_builder;

static mesh_err series_line(series_builder *builder, const char *text, size_t length, uint32_t line)
{
    const char *starts[2];
    size_t lengths[2];
    sim_series_error *error = builder->error;
    if (!split_exact(text, length, 2, starts, lengths)) {
        series_error_set(error, line, "not two comma-separated values (time,value)");
        return MESH_EPROTO;
    }
    sim_series *series = &builder->series;
    int shown = lengths[0] > 32 ? 32 : (int) lengths[0];
    if (series->point_count == 0) {
        builder->calendar = looks_calendar(starts[0], lengths[0]);
    }
    int64_t time_ns = 0;
    if (builder->calendar) {
        int64_t unix_s = 0;
        if (!parse_calendar(starts[0], lengths[0], &unix_s)) {
            series_error_set(error, line,
                             "time '%.*s': want YYYY-MM-DD HH:MM:SS (UTC, 1970..2100), as on "
                             "the first point",
                             shown, starts[0]);
            return MESH_EPROTO;
        }
        time_ns = unix_s * NS_PER_S;
    } else if (!sim_text_fixed(starts[0], lengths[0], 9, FRACTION_DIGITS_MAX, &time_ns) ||
               time_ns < 0 || time_ns > (int64_t) SIM_TRACE_SECONDS_MAX * NS_PER_S) {
        series_error_set(error, line,
                         "time '%.*s': want seconds (a decimal >= 0), as on the first point", shown,
                         starts[0]);
        return MESH_EPROTO;
    }
    double value = 0.0;
    if (!sim_text_double(starts[1], lengths[1], &value)) {
        int value_shown = lengths[1] > 32 ? 32 : (int) lengths[1];
        series_error_set(error, line, "value '%.*s' is not a decimal number", value_shown,
                         starts[1]);
        return MESH_EPROTO;
    }
    if (series->point_count == 0) {
        builder->first_ns = time_ns;
        series->start_unix_s = builder->calendar ? time_ns / NS_PER_S : 0;
    } else if (time_ns <= builder->last_ns) {
        series_error_set(error, line, "time '%.*s' is not after line %u's", shown, starts[0],
                         builder->last_line);
        return MESH_EPROTO;
    }
    if (series->point_count == SIM_SERIES_POINTS_MAX) {
        series_error_set(error, line, "more than %u points", SIM_SERIES_POINTS_MAX);
        return MESH_EFULL;
    }
    if (series->point_count == builder->capacity) {
        uint32_t capacity = builder->capacity == 0 ? POINTS_INITIAL : builder->capacity * 2;
        sim_series_point *points = realloc(series->points, (size_t) capacity * sizeof(*points));
        if (points == NULL) {
            series_error_set(error, line, "out of memory");
            return MESH_ENOMEM;
        }
        series->points = points;
        builder->capacity = capacity;
    }
    series->points[series->point_count++] = (sim_series_point){
        .time_ns = (uint64_t) (time_ns - builder->first_ns),
        .value = value,
    };
    builder->last_ns = time_ns;
    builder->last_line = line;
    return MESH_OK;
}

static mesh_err series_header(void *context, const char *text, size_t length, uint32_t line)
{
    series_builder *builder = context;
    const char *starts[2];
    size_t lengths[2];
    if (!split_exact(text, length, 2, starts, lengths) || lengths[0] == 0 || lengths[1] == 0) {
        series_error_set(builder->error, line,
                         "the header must name two columns, a time and a value (e.g. "
                         "time,gco2_per_kwh)");
        return MESH_EPROTO;
    }
    return MESH_OK;
}

static mesh_err series_row_line(void *context, const char *text, size_t length, uint32_t line)
{
    return series_line(context, text, length, line);
}

mesh_err
sim_series_parse(const char *text, size_t size, sim_series *series_out, sim_series_error *error_out)
{
    MESH_ASSERT(series_out != NULL);
    memset(series_out, 0, sizeof(*series_out));
    mesh_err err = parse_begin(text, size, error_out);
    if (err != MESH_OK) {
        return err;
    }
    series_builder builder = {.error = error_out};
    err = csv_lines(text, size, error_out, series_header, series_row_line, &builder,
                    "two column names, e.g. time,gco2_per_kwh");
    if (err == MESH_OK && builder.series.point_count == 0) {
        series_error_set(error_out, 0, "no points after the header");
        err = MESH_EPROTO;
    }
    if (err != MESH_OK) {
        sim_series_free(&builder.series);
        return err;
    }
    sim_series *series = &builder.series;
    uint32_t n = series->point_count;
    series->span_ns =
        n == 1 ? 1 : series->points[n - 1].time_ns * 2 - series->points[n - 2].time_ns;
    *series_out = *series;
    return MESH_OK;
}

void sim_series_free(sim_series *series)
{
    if (series == NULL) {
        return;
    }
    free(series->points);
    memset(series, 0, sizeof(*series));
}

double sim_series_at_ns(const sim_series *series, uint64_t t_ns)
{
    MESH_ASSERT(series != NULL && series->point_count > 0 && series->span_ns > 0);
    uint64_t t = t_ns % series->span_ns;
    // The last point at or before t: points[0].time_ns == 0 <= t.
    uint32_t low = 0;
    uint32_t high = series->point_count; // points[high] is after t (or past the end)
    while (high - low > 1) {
        uint32_t middle = low + (high - low) / 2;
        if (series->points[middle].time_ns <= t) {
            low = middle;
        } else {
            high = middle;
        }
    }
    return series->points[low].value;
}
