/*
 * node/sim_report.c: DIR/report.html for `fedmesh sim run --out DIR`, and
 * the two helpers the sweep shares with it (gnuplot, HTML escaping).
 *
 * What it reads. DIR/summary.json (one object; jansson) and
 * DIR/timeseries.csv (the header of the `sim run` contract, one row per
 * site per sample); DIR/baseline/ the same when `--compare` ran the
 * federation without the mesh. Both files are checked as they are read:
 * a wrong header, a short row, a number that is not one, a site name with
 * a control character is an error naming the file and the line, never a
 * crash or a silently wrong plot.
 *
 * What it writes, all under DIR:
 *   plots/data/NN-SITE.dat (and .baseline.dat): per site, one line per
 *     sample: time_h utilisation queue_jobs wait_s_mean vcpu_lent
 *     vcpu_borrowed carbon_gco2_per_kwh, where utilisation is the site's
 *     own machine in use, (vcpu_busy + vcpu_lent) / vcpu_total;
 *   plots/report.gp: the gnuplot script (rerun it in plots/ to redraw);
 *   plots/NN-SITE-{utilisation,queue,wait,lending,carbon}.svg: five plots
 *     per site (REPORT_PLOTS_PER_SITE), the baseline as a dashed second
 *     line where it has one (not for lending: without the mesh there is
 *     none);
 *   plots/gnuplot.log: what gnuplot said;
 *   report.html: the summary tables (mesh beside baseline), the command
 *     that reproduces the run ("command" in summary.json, when present),
 *     and the plots as <img>. Self-contained: inline CSS, system fonts,
 *     nothing remote. A small inline script marks each plot
 *     data-rendered="yes" once the browser has decoded it (naturalWidth >
 *     0) and writes "N of M" into #plots-rendered: the headless-browser
 *     test reads both. Written to report.html.tmp, then renamed.
 *
 * gnuplot (Debian's gnuplot-nox) runs as a child: posix_spawnp in
 * DIR/plots, stdin from /dev/null, output to gnuplot.log, in its own
 * process group, killed with it after REPORT_GNUPLOT_TIMEOUT_MS.
 * FEDMESH_GNUPLOT names another program (tests use it to play a machine
 * without gnuplot). When gnuplot is missing or fails, report.html is
 * still written, says what to install, and the function returns the error.
 *
 * Limits: REPORT_SITES_MAX sites, REPORT_ROWS_MAX rows per CSV, lines of
 * REPORT_LINE_SIZE bytes, summary.json of NODE_SIM_JSON_SIZE_MAX bytes.
 */
#define _GNU_SOURCE /* posix_spawn_file_actions_addchdir_np */

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "node/node_int.h"

extern char **environ;

#define REPORT_SITES_MAX           256u
#define REPORT_ROWS_MAX            20000000u
#define REPORT_LINE_SIZE           1024u
#define REPORT_SITE_NAME_SIZE      64u
#define REPORT_STEM_SIZE           80u
#define REPORT_PATH_SIZE           4096u
#define REPORT_FIELDS              11u
#define REPORT_GNUPLOT_TIMEOUT_MS  120000u
#define REPORT_PLOTS_PER_SITE      5u
#define REPORT_HOURS_AS_DAYS_ABOVE 96.0

static const char report_csv_header[] =
    "time_s,site,vcpu_total,vcpu_busy,vcpu_busy_remote,vcpu_lent,vcpu_borrowed,queue_jobs,"
    "queue_vcpu,wait_s_mean,carbon_gco2_per_kwh";

/* The five plots of a site: file suffix, title, y label, data column. */
typedef struct report_plot {
    const char *suffix;
    const char *title;
    const char *ylabel;
    unsigned column;
} report_plot;

static const report_plot report_plots[REPORT_PLOTS_PER_SITE] = {
    {"utilisation", "utilisation", "(busy + lent) / total vCPU", 2},
    {"queue", "queue length", "jobs waiting", 3},
    {"wait", "waiting time", "mean wait of jobs started (h)", 4},
    {"lending", "lent and borrowed capacity", "vCPU", 5},
    {"carbon", "grid carbon intensity", "gCO2/kWh", 7},
};

typedef struct report_site {
    char name[REPORT_SITE_NAME_SIZE];
    char stem[REPORT_STEM_SIZE]; /* NN-name, safe in a file name */
    bool in_mesh;
    bool in_baseline;
    FILE *data; /* open while one CSV is read */
} report_site;

typedef struct report {
    const char *dir;
    report_site *sites; /* REPORT_SITES_MAX */
    uint32_t site_count;
    double time_h_max;
    json_t *summary;
    json_t *baseline; /* NULL without DIR/baseline */
    char *error;
    size_t error_size;
} report;

__attribute__((format(printf, 2, 3))) static void report_fail(report *r, const char *format, ...)
{
    if (r->error == NULL || r->error_size == 0) {
        return;
    }
    va_list args;
    va_start(args, format);
    (void) vsnprintf(r->error, r->error_size, format, args);
    va_end(args);
}

/* Formats a path of at most REPORT_PATH_SIZE bytes; false when cut short
 * (dir is checked against REPORT_PATH_SIZE at entry, so never in practice). */
__attribute__((format(printf, 2, 3))) static bool
path_format(char out[REPORT_PATH_SIZE], const char *format, ...)
{
    va_list args;
    va_start(args, format);
    int written = vsnprintf(out, REPORT_PATH_SIZE, format, args);
    va_end(args);
    return written >= 0 && written < (int) REPORT_PATH_SIZE;
}

/* --- Shared helpers --------------------------------------------------------- */

void node_html_text(FILE *out, const char *text)
{
    for (const char *c = text; *c != '\0'; c++) {
        switch (*c) {
        case '&':
            (void) fputs("&amp;", out);
            break;
        case '<':
            (void) fputs("&lt;", out);
            break;
        case '>':
            (void) fputs("&gt;", out);
            break;
        case '"':
            (void) fputs("&quot;", out);
            break;
        case '\'':
            (void) fputs("&#39;", out);
            break;
        default:
            (void) fputc(*c, out);
        }
    }
}

mesh_err node_sim_json_load(const char *path, json_t **object_out, char *error, size_t error_size)
{
    *object_out = NULL;
    struct stat st;
    if (stat(path, &st) != 0) {
        (void) snprintf(error, error_size, "%s: %s", path, strerror(errno));
        return errno == ENOENT ? MESH_ENOTFOUND : MESH_EIO;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > (off_t) NODE_SIM_JSON_SIZE_MAX) {
        (void) snprintf(error, error_size, "%s: not a regular file of at most %u bytes", path,
                        NODE_SIM_JSON_SIZE_MAX);
        return MESH_EPROTO;
    }
    json_error_t json_error;
    json_t *object = json_load_file(path, JSON_REJECT_DUPLICATES, &json_error);
    if (object == NULL) {
        (void) snprintf(error, error_size, "%s:%d: %s", path, json_error.line, json_error.text);
        return MESH_EPROTO;
    }
    if (!json_is_object(object)) {
        json_decref(object);
        (void) snprintf(error, error_size, "%s: not a JSON object", path);
        return MESH_EPROTO;
    }
    *object_out = object;
    return MESH_OK;
}

static uint64_t monotonic_ms(void)
{
    struct timespec now;
    (void) clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t) now.tv_sec * 1000u + (uint64_t) now.tv_nsec / 1000000u;
}

/* The last non-empty line of a small log file, for an error message. */
static void last_log_line(const char *path, char *line_out, size_t line_size)
{
    line_out[0] = '\0';
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        return;
    }
    char line[REPORT_LINE_SIZE];
    uint32_t lines = 0;
    while (fgets(line, sizeof(line), file) != NULL && lines++ < 100000u) {
        size_t length = strcspn(line, "\r\n");
        line[length] = '\0';
        if (length > 0) {
            size_t kept = length < line_size - 1 ? length : line_size - 1;
            memcpy(line_out, line, kept);
            line_out[kept] = '\0';
        }
    }
    (void) fclose(file);
}

mesh_err node_sim_gnuplot(const char *dir, const char *script, char *error, size_t error_size)
{
    const char *program = getenv("FEDMESH_GNUPLOT");
    if (program == NULL || program[0] == '\0') {
        program = "gnuplot";
    }
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    if (posix_spawn_file_actions_init(&actions) != 0) {
        (void) snprintf(error, error_size, "cannot start gnuplot: out of memory");
        return MESH_ENOMEM;
    }
    if (posix_spawnattr_init(&attributes) != 0) {
        (void) posix_spawn_file_actions_destroy(&actions);
        (void) snprintf(error, error_size, "cannot start gnuplot: out of memory");
        return MESH_ENOMEM;
    }
    // In order: into DIR, then the files relative to it.
    (void) posix_spawn_file_actions_addchdir_np(&actions, dir);
    (void) posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    (void) posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "gnuplot.log",
                                            O_WRONLY | O_CREAT | O_TRUNC, 0644);
    (void) posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    sigset_t none;
    (void) sigemptyset(&none);
    (void) posix_spawnattr_setsigmask(&attributes, &none);
    (void) posix_spawnattr_setpgroup(&attributes, 0);
    (void) posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
    char *argv[] = {(char *) program, (char *) script, NULL};
    pid_t pid = 0;
    int spawned = posix_spawnp(&pid, program, &actions, &attributes, argv, environ);
    (void) posix_spawn_file_actions_destroy(&actions);
    (void) posix_spawnattr_destroy(&attributes);
    if (spawned == ENOENT || spawned == EACCES) {
        (void) snprintf(error, error_size,
                        "%s is not installed (Debian: apt-get install gnuplot-nox); the plots "
                        "were not drawn",
                        program);
        return MESH_ENOTFOUND;
    }
    if (spawned != 0) {
        (void) snprintf(error, error_size, "cannot run %s in %s: %s", program, dir,
                        strerror(spawned));
        return MESH_EINTERNAL;
    }
    uint64_t deadline_ms = monotonic_ms() + REPORT_GNUPLOT_TIMEOUT_MS;
    int status = 0;
    for (;;) {
        pid_t done = waitpid(pid, &status, WNOHANG);
        if (done == pid) {
            break;
        }
        if (done < 0 && errno != EINTR) {
            (void) snprintf(error, error_size, "waiting for gnuplot: %s", strerror(errno));
            return MESH_EINTERNAL;
        }
        if (monotonic_ms() >= deadline_ms) {
            (void) kill(-pid, SIGKILL);
            (void) waitpid(pid, &status, 0);
            (void) snprintf(error, error_size, "gnuplot took more than %u s and was stopped",
                            REPORT_GNUPLOT_TIMEOUT_MS / 1000u);
            return MESH_ETIMEDOUT;
        }
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 10L * 1000 * 1000};
        (void) nanosleep(&pause, NULL);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return MESH_OK;
    }
    char log_path[REPORT_PATH_SIZE];
    char line[256];
    (void) path_format(log_path, "%s/gnuplot.log", dir);
    last_log_line(log_path, line, sizeof(line));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
        (void) snprintf(error, error_size, "%s could not be run: %s", program, line);
        return MESH_ENOTFOUND;
    }
    (void) snprintf(error, error_size, "gnuplot failed (%s %d): %s (see %s)",
                    WIFEXITED(status) ? "exit" : "signal",
                    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), line, log_path);
    return MESH_EINTERNAL;
}

/* --- The time series -------------------------------------------------------- */

/* Splits line (no newline) at commas into exactly REPORT_FIELDS fields. */
static bool split_fields(char *line, char *fields[REPORT_FIELDS])
{
    uint32_t count = 0;
    char *start = line;
    for (char *c = line;; c++) {
        if (*c == ',' || *c == '\0') {
            if (count == REPORT_FIELDS) {
                return false;
            }
            bool end = *c == '\0';
            *c = '\0';
            fields[count++] = start;
            if (end) {
                break;
            }
            start = c + 1;
        }
    }
    return count == REPORT_FIELDS;
}

static bool parse_number(const char *text, double *out)
{
    if (text[0] == '\0') {
        return false;
    }
    char *end = NULL;
    errno = 0;
    double value = strtod(text, &end);
    if (errno != 0 || *end != '\0' || !isfinite(value)) {
        return false;
    }
    *out = value;
    return true;
}

static bool site_name_valid(const char *name)
{
    size_t length = strlen(name);
    if (length == 0 || length >= REPORT_SITE_NAME_SIZE) {
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char) name[i];
        if (c < 0x20 || c == 0x7f) {
            return false;
        }
    }
    return true;
}

/* The site named name, added when new; NULL when the table is full. */
static report_site *site_find(report *r, const char *name, uint32_t *hint)
{
    if (*hint < r->site_count && strcmp(r->sites[*hint].name, name) == 0) {
        return &r->sites[*hint];
    }
    for (uint32_t i = 0; i < r->site_count; i++) {
        if (strcmp(r->sites[i].name, name) == 0) {
            *hint = i;
            return &r->sites[i];
        }
    }
    if (r->site_count == REPORT_SITES_MAX) {
        return NULL;
    }
    report_site *site = &r->sites[r->site_count];
    memset(site, 0, sizeof(*site));
    (void) snprintf(site->name, sizeof(site->name), "%s", name);
    char safe[REPORT_SITE_NAME_SIZE];
    size_t length = strlen(name);
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char) name[i];
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
        safe[i] = (char) (keep ? c : '_');
    }
    safe[length] = '\0';
    (void) snprintf(site->stem, sizeof(site->stem), "%02u-%s", r->site_count, safe);
    *hint = r->site_count;
    r->site_count++;
    return site;
}

static void close_site_files(report *r)
{
    for (uint32_t i = 0; i < r->site_count; i++) {
        if (r->sites[i].data != NULL) {
            (void) fclose(r->sites[i].data);
            r->sites[i].data = NULL;
        }
    }
}

/* Reads RUN_DIR/timeseries.csv into plots/data/STEM.dat (or
 * .baseline.dat). */
static mesh_err read_timeseries(report *r, const char *run_dir, bool baseline)
{
    char path[REPORT_PATH_SIZE];
    (void) path_format(path, "%s/timeseries.csv", run_dir);
    FILE *csv = fopen(path, "r");
    if (csv == NULL) {
        report_fail(r, "%s: %s", path, strerror(errno));
        return MESH_EIO;
    }
    mesh_err err = MESH_OK;
    char line[REPORT_LINE_SIZE];
    uint64_t line_number = 0;
    uint32_t hint = 0;
    while (fgets(line, sizeof(line), csv) != NULL) {
        line_number++;
        size_t length = strcspn(line, "\r\n");
        if (line[length] == '\0' && !feof(csv)) {
            report_fail(r, "%s:%llu: line longer than %u bytes", path,
                        (unsigned long long) line_number, REPORT_LINE_SIZE - 2u);
            err = MESH_EPROTO;
            break;
        }
        line[length] = '\0';
        if (line_number == 1) {
            if (strcmp(line, report_csv_header) != 0) {
                report_fail(r, "%s:1: not the header of a fedmesh time series (%s)", path,
                            report_csv_header);
                err = MESH_EPROTO;
                break;
            }
            continue;
        }
        if (length == 0) {
            continue;
        }
        if (line_number > REPORT_ROWS_MAX) {
            report_fail(r, "%s: more than %u rows", path, REPORT_ROWS_MAX);
            err = MESH_EFULL;
            break;
        }
        char *fields[REPORT_FIELDS];
        double values[REPORT_FIELDS] = {0};
        bool ok = split_fields(line, fields);
        for (uint32_t i = 0; ok && i < REPORT_FIELDS; i++) {
            ok = i == 1 ? site_name_valid(fields[1]) : parse_number(fields[i], &values[i]);
        }
        if (!ok) {
            report_fail(r, "%s:%llu: want %u comma-separated fields, numbers but the site", path,
                        (unsigned long long) line_number, REPORT_FIELDS);
            err = MESH_EPROTO;
            break;
        }
        report_site *site = site_find(r, fields[1], &hint);
        if (site == NULL) {
            report_fail(r, "%s:%llu: more than %u sites", path, (unsigned long long) line_number,
                        REPORT_SITES_MAX);
            err = MESH_EFULL;
            break;
        }
        if (site->data == NULL) {
            char data_path[REPORT_PATH_SIZE];
            (void) path_format(data_path, "%s/plots/data/%s%s", r->dir, site->stem,
                               baseline ? ".baseline.dat" : ".dat");
            site->data = fopen(data_path, "w");
            if (site->data == NULL) {
                report_fail(r, "%s: %s", data_path, strerror(errno));
                err = MESH_EIO;
                break;
            }
            (void) fputs("# time_h utilisation queue_jobs wait_h vcpu_lent vcpu_borrowed "
                         "carbon_gco2_per_kwh\n",
                         site->data);
            if (baseline) {
                site->in_baseline = true;
            } else {
                site->in_mesh = true;
            }
        }
        double time_h = values[0] / 3600.0;
        double total = values[2];
        double utilisation = total > 0 ? (values[3] + values[5]) / total : 0.0;
        if (time_h > r->time_h_max) {
            r->time_h_max = time_h;
        }
        (void) fprintf(site->data, "%.6f %.6f %.6g %.6g %.6g %.6g %.6g\n", time_h, utilisation,
                       values[7], values[9] / 3600.0, values[5], values[6], values[10]);
    }
    if (err == MESH_OK && ferror(csv)) {
        report_fail(r, "%s: read error", path);
        err = MESH_EIO;
    }
    if (err == MESH_OK && line_number == 0) {
        report_fail(r, "%s: empty (no header)", path);
        err = MESH_EPROTO;
    }
    for (uint32_t i = 0; i < r->site_count; i++) {
        if (r->sites[i].data != NULL && ferror(r->sites[i].data) && err == MESH_OK) {
            report_fail(r, "writing %s/plots/data: %s", r->dir, strerror(errno));
            err = MESH_EIO;
        }
    }
    close_site_files(r);
    (void) fclose(csv);
    return err;
}

/* --- The gnuplot script ----------------------------------------------------- */

/* A gnuplot single-quoted string: ' is written twice. */
static void gnuplot_string(FILE *out, const char *text)
{
    (void) fputc('\'', out);
    for (const char *c = text; *c != '\0'; c++) {
        if (*c == '\'') {
            (void) fputc('\'', out);
        }
        (void) fputc(*c, out);
    }
    (void) fputc('\'', out);
}

static mesh_err write_script(report *r)
{
    char path[REPORT_PATH_SIZE];
    (void) path_format(path, "%s/plots/report.gp", r->dir);
    FILE *out = fopen(path, "w");
    if (out == NULL) {
        report_fail(r, "%s: %s", path, strerror(errno));
        return MESH_EIO;
    }
    bool days = r->time_h_max > REPORT_HOURS_AS_DAYS_ABOVE;
    (void) fprintf(out,
                   "# Written by fedmesh sim run (node/sim_report.c); run `gnuplot report.gp`\n"
                   "# in this directory to redraw the plots of report.html.\n"
                   "set terminal svg size 720,300 font 'sans,11' background '#ffffff'\n"
                   "set encoding utf8\n"
                   "set grid\n"
                   "set key below\n"
                   "set xlabel '%s'\n"
                   "set yrange [0:*]\n"
                   "x_scale = %s\n",
                   days ? "virtual time (days)" : "virtual time (hours)", days ? "24.0" : "1.0");
    for (uint32_t i = 0; i < r->site_count; i++) {
        const report_site *site = &r->sites[i];
        if (!site->in_mesh && !site->in_baseline) {
            continue;
        }
        for (uint32_t p = 0; p < REPORT_PLOTS_PER_SITE; p++) {
            const report_plot *plot = &report_plots[p];
            char title[REPORT_SITE_NAME_SIZE + 64];
            (void) snprintf(title, sizeof(title), "%s: %s", site->name, plot->title);
            (void) fprintf(out, "set output '%s-%s.svg'\nset title ", site->stem, plot->suffix);
            gnuplot_string(out, title);
            (void) fprintf(out, " noenhanced\nset ylabel '%s'\nplot ", plot->ylabel);
            const char *mesh_label = r->baseline != NULL ? "mesh" : "";
            bool first = true;
            if (site->in_mesh) {
                if (strcmp(plot->suffix, "lending") == 0) {
                    (void) fprintf(out,
                                   "'data/%s.dat' using ($1/x_scale):5 with lines lw 1.5 "
                                   "title 'lent', 'data/%s.dat' using ($1/x_scale):6 with lines "
                                   "lw 1.5 title 'borrowed'",
                                   site->stem, site->stem);
                } else {
                    (void) fprintf(out,
                                   "'data/%s.dat' using ($1/x_scale):%u with lines lw 1.5 "
                                   "title '%s'",
                                   site->stem, plot->column, mesh_label);
                }
                first = false;
            }
            bool baseline_line =
                strcmp(plot->suffix, "lending") != 0 && strcmp(plot->suffix, "carbon") != 0;
            if (site->in_baseline && (baseline_line || first)) {
                (void) fprintf(out,
                               "%s'data/%s.baseline.dat' using ($1/x_scale):%u with lines lw "
                               "1.5 dt 2 title 'no mesh (baseline)'",
                               first ? "" : ", ", site->stem, plot->column);
            }
            (void) fputc('\n', out);
        }
    }
    (void) fputs("unset output\n", out);
    bool failed = ferror(out) != 0;
    if (fclose(out) != 0 || failed) {
        report_fail(r, "%s: write error", path);
        return MESH_EIO;
    }
    return MESH_OK;
}

/* --- report.html ------------------------------------------------------------ */

static void html_value(FILE *out, const json_t *value)
{
    if (value == NULL) {
        (void) fputs("&ndash;", out);
    } else if (json_is_integer(value)) {
        (void) fprintf(out, "%lld", (long long) json_integer_value(value));
    } else if (json_is_real(value)) {
        (void) fprintf(out, "%.6g", json_real_value(value));
    } else if (json_is_true(value)) {
        (void) fputs("true", out);
    } else if (json_is_false(value)) {
        (void) fputs("false", out);
    } else if (json_is_string(value)) {
        node_html_text(out, json_string_value(value));
    } else if (json_is_null(value)) {
        (void) fputs("null", out);
    } else {
        (void) fputs("&hellip;", out);
    }
}

static void
html_cell_row(FILE *out, const char *key, const json_t *mesh, const json_t *base, bool with_base)
{
    (void) fputs("<tr><th>", out);
    node_html_text(out, key);
    (void) fputs("</th><td>", out);
    html_value(out, mesh);
    if (with_base) {
        (void) fputs("</td><td>", out);
        html_value(out, base);
    }
    (void) fputs("</td></tr>\n", out);
}

static void html_table_head(FILE *out, const char *first, bool with_base)
{
    (void) fprintf(out, "<table>\n<tr><th>%s</th><th>%s</th>%s</tr>\n", first,
                   with_base ? "mesh" : "value", with_base ? "<th>no mesh (baseline)</th>" : "");
}

/* One object of the summary ({key: number}) as a table, baseline beside. */
static void html_object_table(FILE *out, const report *r, const char *key, const char *caption)
{
    const json_t *mesh = json_object_get(r->summary, key);
    const json_t *base = r->baseline != NULL ? json_object_get(r->baseline, key) : NULL;
    if (!json_is_object(mesh) && !json_is_object(base)) {
        return;
    }
    bool with_base = r->baseline != NULL;
    (void) fprintf(out, "<h3>%s</h3>\n", caption);
    html_table_head(out, key, with_base);
    const char *name = NULL;
    const json_t *value = NULL;
    uint32_t rows = 0;
    json_object_foreach((json_t *) mesh, name, value)
    {
        if (rows++ < 10000u) {
            html_cell_row(out, name, value, base != NULL ? json_object_get(base, name) : NULL,
                          with_base);
        }
    }
    json_object_foreach((json_t *) base, name, value)
    {
        if (json_object_get(mesh, name) == NULL && rows++ < 10000u) {
            html_cell_row(out, name, NULL, value, with_base);
        }
    }
    (void) fputs("</table>\n", out);
}

/* The "sites" array: one row per site, one column per key of the first. */
static void html_sites_table(FILE *out, const json_t *sites, const char *caption)
{
    if (!json_is_array(sites) || json_array_size(sites) == 0 ||
        !json_is_object(json_array_get(sites, 0))) {
        return;
    }
    const json_t *first = json_array_get(sites, 0);
    (void) fprintf(out, "<h3>%s</h3>\n<table>\n<tr>", caption);
    const char *key = NULL;
    const json_t *value = NULL;
    json_object_foreach((json_t *) first, key, value)
    {
        (void) fputs("<th>", out);
        node_html_text(out, key);
        (void) fputs("</th>", out);
    }
    (void) fputs("</tr>\n", out);
    size_t count = json_array_size(sites);
    for (size_t i = 0; i < count && i < REPORT_SITES_MAX; i++) {
        const json_t *site = json_array_get(sites, i);
        (void) fputs("<tr>", out);
        json_object_foreach((json_t *) first, key, value)
        {
            (void) fputs("<td>", out);
            html_value(out, json_is_object(site) ? json_object_get(site, key) : NULL);
            (void) fputs("</td>", out);
        }
        (void) fputs("</tr>\n", out);
    }
    (void) fputs("</table>\n", out);
}

static const char report_style[] =
    "<style>\n"
    "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1500px;padding:0 1em;"
    "color:#1a1a1a}\n"
    "table{border-collapse:collapse;margin:0.5em 0 1.5em}\n"
    "th,td{border:1px solid #ccc;padding:0.2em 0.6em;text-align:left}\n"
    "td{font-variant-numeric:tabular-nums;text-align:right}\n"
    "pre{background:#f4f4f4;padding:0.6em;overflow-x:auto}\n"
    ".warning{background:#fff3cd;border:1px solid #e0c060;padding:0.6em}\n"
    ".plots{display:flex;flex-wrap:wrap;gap:0.5em}\n"
    ".plots img{width:720px;max-width:100%;height:auto;border:1px solid #eee}\n"
    "</style>\n";

/* Marks each plot rendered once decoded; the browser test reads it. */
static const char report_script[] = "<script>\n"
                                    "window.addEventListener('load', function () {\n"
                                    "  var plots = document.querySelectorAll('img.plot');\n"
                                    "  var rendered = 0;\n"
                                    "  plots.forEach(function (img) {\n"
                                    "    var ok = img.complete && img.naturalWidth > 0;\n"
                                    "    img.setAttribute('data-rendered', ok ? 'yes' : 'no');\n"
                                    "    if (ok) { rendered++; }\n"
                                    "  });\n"
                                    "  document.getElementById('plots-rendered').textContent =\n"
                                    "    rendered + ' of ' + plots.length;\n"
                                    "});\n"
                                    "</script>\n";

static mesh_err write_html(report *r, const char *plot_error)
{
    char path[REPORT_PATH_SIZE];
    char final_path[REPORT_PATH_SIZE];
    (void) path_format(path, "%s/report.html.tmp", r->dir);
    (void) path_format(final_path, "%s/report.html", r->dir);
    FILE *out = fopen(path, "w");
    if (out == NULL) {
        report_fail(r, "%s: %s", path, strerror(errno));
        return MESH_EIO;
    }
    const json_t *scenario = json_object_get(r->summary, "scenario");
    (void) fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                 "<title>fedmesh simulation: ",
                 out);
    node_html_text(out, json_is_string(scenario) ? json_string_value(scenario) : "report");
    (void) fputs("</title>\n", out);
    (void) fputs(report_style, out);
    (void) fputs("</head>\n<body>\n<h1>fedmesh simulation: ", out);
    node_html_text(out, json_is_string(scenario) ? json_string_value(scenario) : "report");
    (void) fputs("</h1>\n", out);
    const json_t *command = json_object_get(r->summary, "command");
    if (json_is_string(command)) {
        (void) fputs("<p>Reproduce this run (same scenario, same seed: the same digest):</p>\n"
                     "<pre><code>",
                     out);
        node_html_text(out, json_string_value(command));
        (void) fputs("</code></pre>\n", out);
    }
    if (plot_error != NULL) {
        (void) fputs("<p class=\"warning\"><strong>The plots were not drawn:</strong> ", out);
        node_html_text(out, plot_error);
        (void) fputs(". Install Debian's <code>gnuplot-nox</code> (<code>apt-get install "
                     "gnuplot-nox</code>) and run the command above again.</p>\n",
                     out);
    }

    bool with_base = r->baseline != NULL;
    (void) fputs("<h2>Summary</h2>\n", out);
    html_table_head(out, "figure", with_base);
    const char *key = NULL;
    const json_t *value = NULL;
    json_object_foreach(r->summary, key, value)
    {
        if (json_is_object(value) || json_is_array(value) || strcmp(key, "command") == 0) {
            continue;
        }
        html_cell_row(out, key, value, with_base ? json_object_get(r->baseline, key) : NULL,
                      with_base);
    }
    (void) fputs("</table>\n", out);
    html_object_table(out, r, "utilisation", "Utilisation per site (fraction)");
    html_object_table(out, r, "lent_vcpu_hours", "Lent vCPU-hours (lender-&gt;borrower)");
    html_object_table(out, r, "burst_vcpu_hours_by_country", "Burst vCPU-hours by country");
    html_sites_table(out, json_object_get(r->summary, "sites"),
                     with_base ? "Sites (mesh)" : "Sites");
    if (with_base) {
        html_sites_table(out, json_object_get(r->baseline, "sites"), "Sites (no mesh, baseline)");
    }

    uint32_t plot_count = plot_error == NULL ? r->site_count * REPORT_PLOTS_PER_SITE : 0;
    (void) fprintf(out,
                   "<h2>Plots</h2>\n<p>%u plots (%u per site); rendered in this browser: "
                   "<span id=\"plots-rendered\">not yet</span>.%s</p>\n",
                   plot_count, REPORT_PLOTS_PER_SITE,
                   with_base ? " Dashed: the same sites without the mesh." : "");
    for (uint32_t i = 0; plot_error == NULL && i < r->site_count; i++) {
        const report_site *site = &r->sites[i];
        (void) fputs("<h3>", out);
        node_html_text(out, site->name);
        (void) fputs("</h3>\n<div class=\"plots\">\n", out);
        for (uint32_t p = 0; p < REPORT_PLOTS_PER_SITE; p++) {
            (void) fprintf(out, "<img class=\"plot\" src=\"plots/");
            node_html_text(out, site->stem);
            (void) fprintf(out, "-%s.svg\" width=\"720\" height=\"300\" alt=\"",
                           report_plots[p].suffix);
            node_html_text(out, site->name);
            (void) fprintf(out, ": %s (%s) over virtual time\">\n", report_plots[p].title,
                           report_plots[p].ylabel);
        }
        (void) fputs("</div>\n", out);
    }
    (void) fputs(report_script, out);
    (void) fputs("</body>\n</html>\n", out);
    bool failed = ferror(out) != 0;
    if (fclose(out) != 0 || failed) {
        report_fail(r, "%s: write error", path);
        (void) unlink(path);
        return MESH_EIO;
    }
    if (rename(path, final_path) != 0) {
        report_fail(r, "%s: %s", final_path, strerror(errno));
        (void) unlink(path);
        return MESH_EIO;
    }
    return MESH_OK;
}

/* --- The entry point -------------------------------------------------------- */

static mesh_err make_dir(report *r, const char *path)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        report_fail(r, "%s: %s", path, strerror(errno));
        return MESH_EIO;
    }
    return MESH_OK;
}

/* Removes the SVGs of an earlier report in DIR/plots, so that the count
 * of plots is always this run's. */
static void remove_old_plots(const report *r)
{
    char path[REPORT_PATH_SIZE];
    for (uint32_t i = 0; i < r->site_count; i++) {
        for (uint32_t p = 0; p < REPORT_PLOTS_PER_SITE; p++) {
            (void) path_format(path, "%s/plots/%s-%s.svg", r->dir, r->sites[i].stem,
                               report_plots[p].suffix);
            (void) unlink(path);
        }
    }
}

mesh_err node_sim_report_write(const char *dir, char *error, size_t error_size)
{
    if (error != NULL && error_size > 0) {
        error[0] = '\0';
    }
    report r = {.dir = dir, .error = error, .error_size = error_size};
    char path[REPORT_PATH_SIZE];
    if (strlen(dir) > REPORT_PATH_SIZE - 128u) {
        report_fail(&r, "%s: path too long", dir);
        return MESH_EINVAL;
    }
    r.sites = calloc(REPORT_SITES_MAX, sizeof(*r.sites));
    if (r.sites == NULL) {
        report_fail(&r, "out of memory");
        return MESH_ENOMEM;
    }
    (void) path_format(path, "%s/summary.json", dir);
    mesh_err err = node_sim_json_load(path, &r.summary, error, error_size);
    if (err != MESH_OK) {
        goto out_free;
    }
    char base_dir[REPORT_PATH_SIZE];
    (void) path_format(base_dir, "%s/baseline", dir);
    (void) path_format(path, "%s/summary.json", base_dir);
    err = node_sim_json_load(path, &r.baseline, error, error_size);
    if (err == MESH_ENOTFOUND) {
        err = MESH_OK; // no --compare: no baseline
    }
    if (err != MESH_OK) {
        goto out_free;
    }
    (void) path_format(path, "%s/plots", dir);
    if ((err = make_dir(&r, path)) != MESH_OK) {
        goto out_free;
    }
    (void) path_format(path, "%s/plots/data", dir);
    if ((err = make_dir(&r, path)) != MESH_OK) {
        goto out_free;
    }
    if ((err = read_timeseries(&r, dir, false)) != MESH_OK) {
        goto out_free;
    }
    if (r.baseline != NULL && (err = read_timeseries(&r, base_dir, true)) != MESH_OK) {
        goto out_free;
    }
    remove_old_plots(&r);
    if ((err = write_script(&r)) != MESH_OK) {
        goto out_free;
    }
    (void) path_format(path, "%s/plots", dir);
    char plot_error[512] = "";
    mesh_err plot_err = MESH_OK;
    if (r.site_count > 0) {
        plot_err = node_sim_gnuplot(path, "report.gp", plot_error, sizeof(plot_error));
    }
    if (plot_err != MESH_OK) {
        remove_old_plots(&r); // a half-drawn set is not shown
    }
    err = write_html(&r, plot_err != MESH_OK ? plot_error : NULL);
    if (err == MESH_OK && plot_err != MESH_OK) {
        report_fail(&r, "%s; %s/report.html has the tables only", plot_error, dir);
        err = plot_err;
    }
out_free:
    json_decref(r.summary);
    json_decref(r.baseline);
    free(r.sites);
    return err;
}
