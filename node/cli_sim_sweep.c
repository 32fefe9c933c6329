/*
 * node/cli_sim_sweep.c: `fedmesh sim sweep`, `fedmesh sim aggregate` and
 * `fedmesh sim report`.
 *
 * A sweep is many independent `fedmesh sim run`s: the cartesian product of
 * the --set value lists (a "parameter set" each) times the seeds A..B. It
 * is laid out on disk so that any batch system can run it unchanged:
 *
 *   DIR/runs.tsv        one line per run: index, tag, seed, then one
 *                       KEY=VALUE per --set (tab-separated; '#' comments).
 *                       Runs of one parameter set are consecutive.
 *   DIR/runs/TAG/seed-S/  the run's --out (summary.json, timeseries.csv,
 *                       jobs.csv, report.html), its run.log (stdout and
 *                       stderr) and exit_code.
 *   DIR/sweep.sbatch    with --emit slurm: a Slurm job array, one task per
 *                       line of runs.tsv (FEDMESH_SWEEP_OFFSET + task id).
 *   DIR/sweep.csv, sweep.json, sweep.html: the aggregate.
 *
 * Locally, each run is a child process (posix_spawn of /proc/self/exe, the
 * same binary), at most --jobs at once, each killed after --timeout-s.
 *
 * The aggregate reads runs.tsv and whatever summary.json files exist: per
 * parameter set and per numeric scalar of summary.json (the seed left
 * out), n, mean, sample standard deviation, the 95 % confidence interval
 * of the mean (Student's t with n - 1 degrees of freedom from the table
 * below; the normal 1.96 beyond 30), min and max. A run without a readable
 * summary.json is "missing": counted and listed with its exit code, never
 * averaged away. A run whose summary has invariant or policy violations is
 * aggregated and also counted and listed. The exit code is 0 only when
 * every run completed with no violation.
 *
 * Streaming: one parameter set is accumulated at a time and written out,
 * so memory does not grow with the sweep; the HTML lists the first
 * SWEEP_HTML_GROUPS_MAX sets (the CSV and JSON have them all).
 *
 * Limits: SWEEP_RUNS_MAX runs, SWEEP_KEYS_MAX --set keys, SWEEP_METRICS_MAX
 * figures, SWEEP_LINE_SIZE bytes per line of runs.tsv.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
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

#define SWEEP_RUNS_MAX        100000u
#define SWEEP_KEYS_MAX        8u
#define SWEEP_VALUES_MAX      1000u
#define SWEEP_SET_SIZE        512u /* one KEY=VALUE */
#define SWEEP_TAG_SIZE        96u
#define SWEEP_LINE_SIZE       4096u
#define SWEEP_PATH_SIZE       4096u
#define SWEEP_METRICS_MAX     128u
#define SWEEP_METRIC_SIZE     64u
#define SWEEP_JOBS_MAX        256u
#define SWEEP_HTML_GROUPS_MAX 2000u
#define SWEEP_SLURM_ARRAY_MAX 1000u /* Slurm's default MaxArraySize is 1001 */
#define SWEEP_REPORT_MISSING  20u   /* missing runs named on stderr */

static const char sweep_usage[] =
    "usage: fedmesh sim sweep SCENARIO --seeds A..B [--set KEY=V1,V2,...]...\n"
    "                         [--jobs N] [--out DIR] [--timeout-s T] [--compare]\n"
    "                         [--no-mesh] [--lenient] [--emit slurm]\n"
    "       fedmesh sim aggregate DIR\n"
    "       fedmesh sim report DIR\n"
    "\n"
    "sweep runs `fedmesh sim run SCENARIO --seed S --set KEY=V ... --out\n"
    "DIR/runs/TAG/seed-S` once for every seed in A..B and every combination of the\n"
    "--set values (the cartesian product), each run its own process, then\n"
    "aggregates them (as `fedmesh sim aggregate DIR` does).\n"
    "\n"
    "  --seeds A..B     the seeds, A <= B (or one seed A)\n"
    "  --set K=V1,V2    a scenario key and the values it takes (up to 8 keys)\n"
    "  --jobs N         runs at once (default: the number of processors)\n"
    "  --out DIR        where everything goes (default: sweep); must not hold a\n"
    "                   sweep already\n"
    "  --timeout-s T    a run still going after T seconds is killed and counted\n"
    "                   as failed (default 3600)\n"
    "  --compare, --no-mesh, --lenient  passed on to every run\n"
    "  --emit slurm     run nothing: write DIR/runs.tsv and DIR/sweep.sbatch, a\n"
    "                   Slurm job array of the same runs, and say how to submit it\n"
    "\n"
    "aggregate reads DIR/runs.tsv and the runs' summary.json files and writes\n"
    "DIR/sweep.csv, DIR/sweep.json and DIR/sweep.html: per parameter set and per\n"
    "figure, n, mean, sd, the 95% confidence interval of the mean (Student t),\n"
    "min and max. Runs without a summary are listed as missing.\n"
    "\n"
    "report (re)writes DIR/report.html and DIR/plots/ of one `sim run --out DIR`.\n"
    "\n"
    "At most 100000 runs per sweep. Exit codes: 0 every run completed with no\n"
    "violation; 1 some run is missing, failed or had violations; 2 usage; 3 bad\n"
    "input files; 4 refused (DIR holds a sweep); 5 internal error.\n";

static int sweep_usage_error(const char *command, const char *message)
{
    node_say_error(command, "%s", message);
    (void) fputs(sweep_usage, stderr);
    return NODE_EXIT_USAGE;
}

__attribute__((format(printf, 2, 3))) static bool
path_format(char out[SWEEP_PATH_SIZE], const char *format, ...)
{
    va_list args;
    va_start(args, format);
    int written = vsnprintf(out, SWEEP_PATH_SIZE, format, args);
    va_end(args);
    return written >= 0 && written < (int) SWEEP_PATH_SIZE;
}

/* --- Student's t ------------------------------------------------------------ */

/* Two-sided 95 % critical values of Student's t for 1..30 degrees of
 * freedom (t_{0.975, df}); beyond 30, the normal 1.959964. */
static const double sweep_t975[30] = {
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010,  2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796,  2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
};

static double t975(uint64_t degrees)
{
    if (degrees == 0) {
        return NAN;
    }
    return degrees <= 30u ? sweep_t975[degrees - 1] : 1.959964;
}

/* --- The plan: parameter sets times seeds ----------------------------------- */

typedef struct sweep_axis {
    char key[SWEEP_SET_SIZE];
    char *values[SWEEP_VALUES_MAX]; /* into text */
    uint32_t value_count;
    char *text; /* owned copy of V1,V2,... */
} sweep_axis;

typedef struct sweep_plan {
    sweep_axis axes[SWEEP_KEYS_MAX];
    uint32_t axis_count;
    uint64_t seed_first;
    uint64_t seed_count;
    uint64_t set_count; /* product of the value counts */
} sweep_plan;

static void plan_free(sweep_plan *plan)
{
    for (uint32_t i = 0; i < plan->axis_count; i++) {
        free(plan->axes[i].text);
    }
}

static bool parse_u64(const char *text, uint64_t *out)
{
    int64_t value = 0;
    if (node_parse_i64(text, 0, INT64_MAX, &value) != MESH_OK) {
        return false;
    }
    *out = (uint64_t) value;
    return true;
}

static bool parse_seeds(const char *text, sweep_plan *plan)
{
    char first[32];
    const char *dots = strstr(text, "..");
    uint64_t a = 0;
    uint64_t b = 0;
    if (dots == NULL) {
        if (!parse_u64(text, &a)) {
            return false;
        }
        b = a;
    } else {
        size_t length = (size_t) (dots - text);
        if (length == 0 || length >= sizeof(first)) {
            return false;
        }
        memcpy(first, text, length);
        first[length] = '\0';
        if (!parse_u64(first, &a) || !parse_u64(dots + 2, &b) || b < a) {
            return false;
        }
    }
    if (b - a >= SWEEP_RUNS_MAX) {
        return false;
    }
    plan->seed_first = a;
    plan->seed_count = b - a + 1u;
    return true;
}

/* A value goes into a tab-separated file and a command line. */
static bool value_valid(const char *text)
{
    if (text[0] == '\0') {
        return false;
    }
    for (const char *c = text; *c != '\0'; c++) {
        if ((unsigned char) *c < 0x20 || *c == 0x7f) {
            return false;
        }
    }
    return true;
}

static const char *parse_set(const char *text, sweep_plan *plan)
{
    if (plan->axis_count == SWEEP_KEYS_MAX) {
        return "at most 8 --set keys";
    }
    const char *equals = strchr(text, '=');
    if (equals == NULL || equals == text || (size_t) (equals - text) >= SWEEP_SET_SIZE / 2) {
        return "--set wants KEY=V1,V2,... (a key of at most 255 bytes)";
    }
    sweep_axis *axis = &plan->axes[plan->axis_count];
    memset(axis, 0, sizeof(*axis));
    memcpy(axis->key, text, (size_t) (equals - text));
    axis->key[equals - text] = '\0';
    if (!value_valid(axis->key)) {
        return "--set: a key with a control character";
    }
    for (uint32_t i = 0; i < plan->axis_count; i++) {
        if (strcmp(plan->axes[i].key, axis->key) == 0) {
            return "--set: the same key twice (give its values as one list)";
        }
    }
    axis->text = strdup(equals + 1);
    if (axis->text == NULL) {
        return "out of memory";
    }
    plan->axis_count++; // owns text now
    char *cursor = axis->text;
    for (;;) {
        char *comma = strchr(cursor, ',');
        if (comma != NULL) {
            *comma = '\0';
        }
        if (!value_valid(cursor) || strlen(cursor) + strlen(axis->key) + 2 > SWEEP_SET_SIZE / 2) {
            return "--set: an empty value, one too long or with a control character";
        }
        if (axis->value_count == SWEEP_VALUES_MAX) {
            return "--set: at most 1000 values per key";
        }
        axis->values[axis->value_count++] = cursor;
        if (comma == NULL) {
            break;
        }
        cursor = comma + 1;
    }
    return NULL;
}

/* The values of parameter set `set` (last key fastest), one per axis. */
static void plan_values(const sweep_plan *plan, uint64_t set, const char *values[SWEEP_KEYS_MAX])
{
    for (uint32_t a = plan->axis_count; a-- > 0;) {
        const sweep_axis *axis = &plan->axes[a];
        values[a] = axis->values[set % axis->value_count];
        set /= axis->value_count;
    }
}

/* pNNNNN_KEY=VALUE_... with every byte outside [A-Za-z0-9.=+-] as '_',
 * cut to SWEEP_TAG_SIZE - 1 bytes; "default" without --set. */
static void plan_tag(const sweep_plan *plan, uint64_t set, char tag[SWEEP_TAG_SIZE])
{
    if (plan->axis_count == 0) {
        (void) snprintf(tag, SWEEP_TAG_SIZE, "default");
        return;
    }
    const char *values[SWEEP_KEYS_MAX];
    plan_values(plan, set, values);
    int length = snprintf(tag, SWEEP_TAG_SIZE, "p%05llu", (unsigned long long) set);
    size_t used = length > 0 ? (size_t) length : 0;
    for (uint32_t a = 0; a < plan->axis_count && used + 1 < SWEEP_TAG_SIZE; a++) {
        const char *parts[3] = {plan->axes[a].key, "=", values[a]};
        tag[used++] = '_';
        for (uint32_t p = 0; p < 3; p++) {
            for (const char *c = parts[p]; *c != '\0' && used + 1 < SWEEP_TAG_SIZE; c++) {
                char ch = *c;
                bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                            (ch >= '0' && ch <= '9') || ch == '.' || ch == '=' || ch == '+' ||
                            ch == '-';
                tag[used++] = ch;
                if (!keep) {
                    tag[used - 1] = '_';
                }
            }
        }
    }
    tag[used < SWEEP_TAG_SIZE ? used : SWEEP_TAG_SIZE - 1] = '\0';
}

static mesh_err write_runs_tsv(const char *dir, const sweep_plan *plan)
{
    char path[SWEEP_PATH_SIZE];
    (void) path_format(path, "%s/runs.tsv", dir);
    FILE *out = fopen(path, "w");
    if (out == NULL) {
        node_say_error("sim sweep", "%s: %s", path, strerror(errno));
        return MESH_EIO;
    }
    (void) fputs("# fedmesh sim sweep: one run per line: index, tag, seed, then KEY=VALUE per "
                 "--set (tab-separated)\n",
                 out);
    uint64_t index = 0;
    for (uint64_t set = 0; set < plan->set_count; set++) {
        char tag[SWEEP_TAG_SIZE];
        const char *values[SWEEP_KEYS_MAX];
        plan_tag(plan, set, tag);
        plan_values(plan, set, values);
        for (uint64_t s = 0; s < plan->seed_count; s++) {
            (void) fprintf(out, "%llu\t%s\t%llu", (unsigned long long) index++, tag,
                           (unsigned long long) plan->seed_first + (unsigned long long) s);
            for (uint32_t a = 0; a < plan->axis_count; a++) {
                (void) fprintf(out, "\t%s=%s", plan->axes[a].key, values[a]);
            }
            (void) fputc('\n', out);
        }
    }
    bool failed = ferror(out) != 0;
    if (fclose(out) != 0 || failed) {
        node_say_error("sim sweep", "%s: write error", path);
        return MESH_EIO;
    }
    return MESH_OK;
}

/* --- runs.tsv, read back ---------------------------------------------------- */

typedef struct sweep_run {
    uint64_t index;
    uint64_t seed;
    char tag[SWEEP_TAG_SIZE];
    char *sets[SWEEP_KEYS_MAX]; /* into line */
    uint32_t set_count;
} sweep_run;

static bool tag_valid(const char *tag)
{
    size_t length = strlen(tag);
    if (length == 0 || length >= SWEEP_TAG_SIZE || strcmp(tag, ".") == 0 ||
        strcmp(tag, "..") == 0) {
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        char ch = tag[i];
        bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '.' || ch == '=' || ch == '+' || ch == '-' ||
                    ch == '_';
        if (!keep) {
            return false;
        }
    }
    return true;
}

/* Parses one line of runs.tsv (newline removed) in place. */
static bool parse_run_line(char *line, sweep_run *run)
{
    char *fields[3 + SWEEP_KEYS_MAX];
    uint32_t count = 0;
    char *save = NULL;
    for (char *field = strtok_r(line, "\t", &save); field != NULL;
         field = strtok_r(NULL, "\t", &save)) {
        if (count == 3 + SWEEP_KEYS_MAX) {
            return false;
        }
        fields[count++] = field;
    }
    if (count < 3 || !parse_u64(fields[0], &run->index) || !parse_u64(fields[2], &run->seed) ||
        !tag_valid(fields[1])) {
        return false;
    }
    (void) snprintf(run->tag, sizeof(run->tag), "%s", fields[1]);
    run->set_count = count - 3;
    for (uint32_t i = 0; i < run->set_count; i++) {
        run->sets[i] = fields[3 + i];
        if (strchr(run->sets[i], '=') == NULL) {
            return false;
        }
    }
    return true;
}

/* --- Running the sweep here ------------------------------------------------- */

typedef struct sweep_slot {
    pid_t pid;
    uint64_t index;
    uint64_t deadline_ms;
    char out[SWEEP_PATH_SIZE];
} sweep_slot;

typedef struct sweep_options {
    const char *scenario; /* absolute */
    const char *dir;      /* absolute */
    uint32_t jobs;
    uint64_t timeout_s;
    bool compare;
    bool no_mesh;
    bool lenient;
} sweep_options;

static uint64_t monotonic_ms(void)
{
    struct timespec now;
    (void) clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t) now.tv_sec * 1000u + (uint64_t) now.tv_nsec / 1000000u;
}

static mesh_err make_dirs(const char *path)
{
    char partial[SWEEP_PATH_SIZE];
    size_t length = strlen(path);
    if (length >= sizeof(partial)) {
        return MESH_EINVAL;
    }
    for (size_t i = 1; i <= length; i++) {
        if (path[i] == '/' || path[i] == '\0') {
            memcpy(partial, path, i);
            partial[i] = '\0';
            if (mkdir(partial, 0755) != 0 && errno != EEXIST) {
                return MESH_EIO;
            }
        }
    }
    return MESH_OK;
}

static void write_exit_code(const char *out_dir, int code)
{
    char path[SWEEP_PATH_SIZE];
    (void) path_format(path, "%s/exit_code", out_dir);
    FILE *file = fopen(path, "w");
    if (file != NULL) {
        (void) fprintf(file, "%d\n", code);
        (void) fclose(file);
    }
}

/* Starts run `index` in slot; false (and says why) when it cannot. */
static bool
run_start(const sweep_options *options, const sweep_plan *plan, uint64_t index, sweep_slot *slot)
{
    uint64_t set = index / plan->seed_count;
    uint64_t seed = plan->seed_first + index % plan->seed_count;
    char tag[SWEEP_TAG_SIZE];
    const char *values[SWEEP_KEYS_MAX];
    plan_tag(plan, set, tag);
    plan_values(plan, set, values);
    slot->index = index;
    slot->pid = 0;
    (void) path_format(slot->out, "%s/runs/%s/seed-%llu", options->dir, tag,
                       (unsigned long long) seed);
    if (make_dirs(slot->out) != MESH_OK) {
        node_say_error("sim sweep", "%s: cannot make it: %s", slot->out, strerror(errno));
        return false;
    }
    char seed_text[24];
    (void) snprintf(seed_text, sizeof(seed_text), "%llu", (unsigned long long) seed);
    char sets[SWEEP_KEYS_MAX][SWEEP_SET_SIZE];
    char *argv[16 + 2 * SWEEP_KEYS_MAX];
    uint32_t argc = 0;
    argv[argc++] = "fedmesh";
    argv[argc++] = "sim";
    argv[argc++] = "run";
    argv[argc++] = (char *) options->scenario;
    argv[argc++] = "--seed";
    argv[argc++] = seed_text;
    for (uint32_t a = 0; a < plan->axis_count; a++) {
        // parse_set bounds key and value to half the size each.
        int written = snprintf(sets[a], sizeof(sets[a]), "%s=%s", plan->axes[a].key, values[a]);
        MESH_ASSERT(written > 0 && (size_t) written < sizeof(sets[a]));
        argv[argc++] = "--set";
        argv[argc++] = sets[a];
    }
    if (options->compare) {
        argv[argc++] = "--compare";
    }
    if (options->no_mesh) {
        argv[argc++] = "--no-mesh";
    }
    if (options->lenient) {
        argv[argc++] = "--lenient";
    }
    argv[argc++] = "--out";
    argv[argc++] = slot->out;
    argv[argc] = NULL;
    char log_path[SWEEP_PATH_SIZE];
    (void) path_format(log_path, "%s/run.log", slot->out);
    posix_spawn_file_actions_t actions;
    if (posix_spawn_file_actions_init(&actions) != 0) {
        node_say_error("sim sweep", "out of memory");
        return false;
    }
    (void) posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    (void) posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path,
                                            O_WRONLY | O_CREAT | O_TRUNC, 0644);
    (void) posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    pid_t pid = 0;
    int spawned = posix_spawn(&pid, "/proc/self/exe", &actions, NULL, argv, environ);
    (void) posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) {
        node_say_error("sim sweep", "cannot start run %llu: %s", (unsigned long long) index,
                       strerror(spawned));
        write_exit_code(slot->out, 127);
        return false;
    }
    slot->pid = pid;
    slot->deadline_ms = monotonic_ms() + options->timeout_s * 1000u;
    return true;
}

typedef struct sweep_tally {
    uint64_t ok;
    uint64_t violations;
    uint64_t failed;
} sweep_tally;

static void run_finished(sweep_slot *slot, int status, bool timed_out, sweep_tally *tally)
{
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    write_exit_code(slot->out, code);
    if (code == 0) {
        tally->ok++;
    } else if (code == NODE_EXIT_INVALID && !timed_out) {
        tally->violations++; // completed; the aggregate counts them from the summary
    } else {
        tally->failed++;
        node_say_error("sim sweep", "run %llu %s (exit %d): see %s/run.log",
                       (unsigned long long) slot->index, timed_out ? "timed out" : "failed", code,
                       slot->out);
    }
    slot->pid = 0;
}

static int run_all(const sweep_options *options, const sweep_plan *plan, uint64_t run_count)
{
    sweep_slot *slots = calloc(options->jobs, sizeof(*slots));
    if (slots == NULL) {
        node_say_error("sim sweep", "out of memory");
        return NODE_EXIT_INTERNAL;
    }
    bool show = isatty(STDERR_FILENO) != 0;
    sweep_tally tally = {0};
    uint64_t next = 0;
    uint64_t done = 0;
    uint32_t running = 0;
    uint64_t started_ms = monotonic_ms();
    while (done < run_count) {
        for (uint32_t i = 0; i < options->jobs && next < run_count; i++) {
            if (slots[i].pid != 0) {
                continue;
            }
            if (run_start(options, plan, next++, &slots[i])) {
                running++;
            } else {
                tally.failed++;
                done++;
            }
        }
        if (running == 0) {
            continue;
        }
        int status = 0;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid < 0 && errno != EINTR) {
            node_say_error("sim sweep", "waitpid: %s", strerror(errno));
            free(slots);
            return NODE_EXIT_INTERNAL;
        }
        uint64_t now_ms = monotonic_ms();
        for (uint32_t i = 0; i < options->jobs; i++) {
            sweep_slot *slot = &slots[i];
            if (slot->pid == 0) {
                continue;
            }
            bool timed_out = false;
            if (pid > 0 && slot->pid == pid) {
                run_finished(slot, status, false, &tally);
            } else if (pid <= 0 && now_ms >= slot->deadline_ms) {
                (void) kill(slot->pid, SIGKILL);
                (void) waitpid(slot->pid, &status, 0);
                timed_out = true;
                run_finished(slot, status, timed_out, &tally);
            } else {
                continue;
            }
            running--;
            done++;
            if (show) {
                (void) fprintf(stderr, "\rsweep: %llu of %llu runs done", (unsigned long long) done,
                               (unsigned long long) run_count);
            }
        }
        if (pid == 0) {
            struct timespec pause = {.tv_sec = 0, .tv_nsec = 20L * 1000 * 1000};
            (void) nanosleep(&pause, NULL);
        }
    }
    free(slots);
    if (show) {
        (void) fputc('\n', stderr);
    }
    (void) fprintf(stderr,
                   "sweep: %llu runs in %.1f s: %llu ok, %llu with violations, %llu failed\n",
                   (unsigned long long) run_count, (double) (monotonic_ms() - started_ms) / 1000.0,
                   (unsigned long long) tally.ok, (unsigned long long) tally.violations,
                   (unsigned long long) tally.failed);
    return NODE_EXIT_OK;
}

/* --- --emit slurm ----------------------------------------------------------- */

/* Writes text as one single-quoted shell word. */
static void shell_word(FILE *out, const char *text)
{
    (void) fputc('\'', out);
    for (const char *c = text; *c != '\0'; c++) {
        if (*c == '\'') {
            (void) fputs("'\\''", out);
        } else {
            (void) fputc(*c, out);
        }
    }
    (void) fputc('\'', out);
}

static int emit_slurm(const sweep_options *options, const sweep_plan *plan, uint64_t run_count)
{
    for (const char *c = options->dir; *c != '\0'; c++) {
        if (*c == ' ' || *c == '\t' || *c == '\'' || *c == '"' || *c == '%' || *c == '\\') {
            node_say_error("sim sweep",
                           "--emit slurm: %s: #SBATCH lines cannot hold a path with "
                           "blanks, quotes, %% or \\; choose another --out",
                           options->dir);
            return NODE_EXIT_USAGE;
        }
    }
    char exe[SWEEP_PATH_SIZE];
    ssize_t exe_length = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (exe_length <= 0) {
        node_say_error("sim sweep", "/proc/self/exe: %s", strerror(errno));
        return NODE_EXIT_INTERNAL;
    }
    exe[exe_length] = '\0';
    char path[SWEEP_PATH_SIZE];
    (void) path_format(path, "%s/slurm", options->dir);
    if (make_dirs(path) != MESH_OK) {
        node_say_error("sim sweep", "%s: %s", path, strerror(errno));
        return NODE_EXIT_INTERNAL;
    }
    (void) path_format(path, "%s/sweep.sbatch", options->dir);
    FILE *out = fopen(path, "w");
    if (out == NULL) {
        node_say_error("sim sweep", "%s: %s", path, strerror(errno));
        return NODE_EXIT_INTERNAL;
    }
    uint64_t array = run_count < SWEEP_SLURM_ARRAY_MAX ? run_count : SWEEP_SLURM_ARRAY_MAX;
    (void) fprintf(out,
                   "#!/bin/bash\n"
                   "# Written by fedmesh sim sweep --emit slurm: %llu runs (%llu parameter sets x "
                   "%llu seeds).\n"
                   "# Task i runs line i of runs.tsv (i = FEDMESH_SWEEP_OFFSET + "
                   "SLURM_ARRAY_TASK_ID).\n"
                   "# Afterwards: fedmesh sim aggregate %s\n"
                   "#SBATCH --job-name=fedmesh-sweep\n"
                   "#SBATCH --array=0-%llu\n"
                   "#SBATCH --ntasks=1\n"
                   "#SBATCH --cpus-per-task=1\n"
                   "#SBATCH --output=%s/slurm/%%A_%%a.out\n"
                   "set -u\n"
                   "fedmesh=",
                   (unsigned long long) run_count, (unsigned long long) plan->set_count,
                   (unsigned long long) plan->seed_count, options->dir,
                   (unsigned long long) (array - 1u), options->dir);
    shell_word(out, exe);
    (void) fputs("\nscenario=", out);
    shell_word(out, options->scenario);
    (void) fputs("\nsweep=", out);
    shell_word(out, options->dir);
    (void) fprintf(out, "\nextra=(%s%s%s)\n", options->compare ? " --compare" : "",
                   options->no_mesh ? " --no-mesh" : "", options->lenient ? " --lenient" : "");
    (void) fputs(
        "index=$((${FEDMESH_SWEEP_OFFSET:-0} + ${SLURM_ARRAY_TASK_ID:?not a Slurm array task}))\n"
        "line=$(awk -F '\\t' -v i=\"$index\" '$1 == i { print; exit }' \"$sweep/runs.tsv\")\n"
        "if [ -z \"$line\" ]; then\n"
        "  echo \"fedmesh sweep: no run $index in $sweep/runs.tsv\" >&2\n"
        "  exit 2\n"
        "fi\n"
        "IFS=$'\\t' read -r -a f <<<\"$line\"\n"
        "args=(sim run \"$scenario\" --seed \"${f[2]}\")\n"
        "for kv in \"${f[@]:3}\"; do args+=(--set \"$kv\"); done\n"
        "out=$sweep/runs/${f[1]}/seed-${f[2]}\n"
        "mkdir -p \"$out\" || exit 1\n"
        "\"$fedmesh\" \"${args[@]}\" \"${extra[@]}\" --out \"$out\" >\"$out/run.log\" 2>&1 "
        "</dev/null\n"
        "rc=$?\n"
        "echo \"$rc\" >\"$out/exit_code\"\n"
        "exit \"$rc\"\n",
        out);
    bool failed = ferror(out) != 0;
    if (fclose(out) != 0 || failed) {
        node_say_error("sim sweep", "%s: write error", path);
        return NODE_EXIT_INTERNAL;
    }
    (void) chmod(path, 0755);
    (void) printf("wrote %s/runs.tsv (%llu runs) and %s\n", options->dir,
                  (unsigned long long) run_count, path);
    if (run_count <= SWEEP_SLURM_ARRAY_MAX) {
        (void) printf("submit:    sbatch %s\n", path);
    } else {
        (void) printf("submit in chunks of %u tasks (Slurm's MaxArraySize is 1001 by default):\n",
                      SWEEP_SLURM_ARRAY_MAX);
        for (uint64_t offset = 0; offset < run_count; offset += SWEEP_SLURM_ARRAY_MAX) {
            uint64_t size = run_count - offset < SWEEP_SLURM_ARRAY_MAX ? run_count - offset
                                                                       : SWEEP_SLURM_ARRAY_MAX;
            (void) printf("  sbatch --array=0-%llu --export=ALL,FEDMESH_SWEEP_OFFSET=%llu %s\n",
                          (unsigned long long) (size - 1u), (unsigned long long) offset, path);
        }
    }
    (void) printf("then:      fedmesh sim aggregate %s   (lists the runs still missing)\n",
                  options->dir);
    return NODE_EXIT_OK;
}

/* --- The aggregate ---------------------------------------------------------- */

typedef struct sweep_stat {
    uint64_t n;
    double mean;
    double m2; /* Welford: sum of squared deviations */
    double min;
    double max;
} sweep_stat;

typedef struct sweep_missing {
    uint64_t seed;
    int exit_code; /* -1: none recorded */
    char reason[192];
} sweep_missing;

typedef struct sweep_group {
    char tag[SWEEP_TAG_SIZE];
    char sets_line[SWEEP_LINE_SIZE]; /* the KEY=VALUE fields, tab-separated */
    uint64_t runs;
    uint64_t completed;
    sweep_missing *missing;
    uint64_t missing_count;
    uint64_t missing_capacity;
    uint64_t *violating; /* seeds */
    uint64_t violating_count;
    uint64_t violating_capacity;
    sweep_stat stats[SWEEP_METRICS_MAX];
} sweep_group;

typedef struct aggregate {
    const char *dir;
    char metrics[SWEEP_METRICS_MAX][SWEEP_METRIC_SIZE];
    uint32_t metric_count;
    uint64_t metrics_dropped;
    char keys[SWEEP_KEYS_MAX][SWEEP_SET_SIZE];
    uint32_t key_count;
    sweep_group group;
    bool group_open;
    uint64_t groups;
    uint64_t runs;
    uint64_t completed;
    uint64_t missing;
    uint64_t violating;
    FILE *csv;
    FILE *json;
    FILE *html_body;
    FILE *plot_data; /* one numeric key: value mean ci_low ci_high */
    bool plot_possible;
    uint64_t plot_points;
} aggregate;

static void json_string_out(FILE *out, const char *text)
{
    json_t *string = json_string(text);
    if (string == NULL) {
        (void) fputs("null", out); // not UTF-8
        return;
    }
    (void) json_dumpf(string, out, JSON_ENCODE_ANY);
    json_decref(string);
}

static void json_number_out(FILE *out, double value)
{
    if (isfinite(value)) {
        (void) fprintf(out, "%.17g", value);
    } else {
        (void) fputs("null", out);
    }
}

static void csv_number_out(FILE *out, double value)
{
    if (isfinite(value)) {
        (void) fprintf(out, ",%.10g", value);
    } else {
        (void) fputs(",", out);
    }
}

/* A CSV field: quoted when it holds a comma, a quote or a blank. */
static void csv_field(FILE *out, const char *text)
{
    if (strpbrk(text, ",\" ") == NULL) {
        (void) fputs(text, out);
        return;
    }
    (void) fputc('"', out);
    for (const char *c = text; *c != '\0'; c++) {
        if (*c == '"') {
            (void) fputc('"', out);
        }
        (void) fputc(*c, out);
    }
    (void) fputc('"', out);
}

static int metric_find(const aggregate *ag, const char *name)
{
    for (uint32_t i = 0; i < ag->metric_count; i++) {
        if (strcmp(ag->metrics[i], name) == 0) {
            return (int) i;
        }
    }
    return -1;
}

/* The figure's index, added when new; -1 (counted) past the limit. */
static int metric_index(aggregate *ag, const char *name)
{
    int found = metric_find(ag, name);
    if (found >= 0) {
        return found;
    }
    if (ag->metric_count == SWEEP_METRICS_MAX || strlen(name) >= SWEEP_METRIC_SIZE) {
        ag->metrics_dropped++;
        return -1;
    }
    (void) snprintf(ag->metrics[ag->metric_count], SWEEP_METRIC_SIZE, "%s", name);
    return (int) ag->metric_count++;
}

static void stat_add(sweep_stat *stat, double value)
{
    stat->n++;
    if (stat->n == 1) {
        stat->min = value;
        stat->max = value;
    }
    stat->min = value < stat->min ? value : stat->min;
    stat->max = value > stat->max ? value : stat->max;
    double delta = value - stat->mean;
    stat->mean += delta / (double) stat->n;
    stat->m2 += delta * (value - stat->mean);
}

typedef struct stat_figures {
    double sd;
    double half;
} stat_figures;

static stat_figures stat_figures_of(const sweep_stat *stat)
{
    stat_figures figures = {NAN, NAN};
    if (stat->n >= 2) {
        figures.sd = sqrt(stat->m2 / (double) (stat->n - 1));
        figures.half = t975(stat->n - 1) * figures.sd / sqrt((double) stat->n);
    }
    return figures;
}

static bool push_missing(sweep_group *group, uint64_t seed, int exit_code, const char *reason)
{
    if (group->missing_count == group->missing_capacity) {
        uint64_t capacity = group->missing_capacity == 0 ? 16 : group->missing_capacity * 2;
        sweep_missing *grown = realloc(group->missing, capacity * sizeof(*grown));
        if (grown == NULL) {
            return false;
        }
        group->missing = grown;
        group->missing_capacity = capacity;
    }
    sweep_missing *missing = &group->missing[group->missing_count++];
    missing->seed = seed;
    missing->exit_code = exit_code;
    (void) snprintf(missing->reason, sizeof(missing->reason), "%s", reason);
    return true;
}

static bool push_violating(sweep_group *group, uint64_t seed)
{
    if (group->violating_count == group->violating_capacity) {
        uint64_t capacity = group->violating_capacity == 0 ? 16 : group->violating_capacity * 2;
        uint64_t *grown = realloc(group->violating, capacity * sizeof(*grown));
        if (grown == NULL) {
            return false;
        }
        group->violating = grown;
        group->violating_capacity = capacity;
    }
    group->violating[group->violating_count++] = seed;
    return true;
}

/* The value of KEY in the group's sets ("" when absent). */
static const char *group_value(const sweep_group *group, const char *key, char *value, size_t size)
{
    value[0] = '\0';
    size_t key_length = strlen(key);
    const char *cursor = group->sets_line;
    while (*cursor != '\0') {
        const char *end = strchr(cursor, '\t');
        size_t length = end != NULL ? (size_t) (end - cursor) : strlen(cursor);
        if (length > key_length && strncmp(cursor, key, key_length) == 0 &&
            cursor[key_length] == '=') {
            size_t value_length = length - key_length - 1;
            value_length = value_length < size - 1 ? value_length : size - 1;
            memcpy(value, cursor + key_length + 1, value_length);
            value[value_length] = '\0';
            break;
        }
        cursor += length;
        if (*cursor == '\t') {
            cursor++;
        }
    }
    return value;
}

static void group_flush(aggregate *ag)
{
    if (!ag->group_open) {
        return;
    }
    sweep_group *group = &ag->group;
    char value[SWEEP_SET_SIZE];
    // CSV: one row per figure.
    for (uint32_t m = 0; m < ag->metric_count; m++) {
        const sweep_stat *stat = &group->stats[m];
        stat_figures figures = stat_figures_of(stat);
        csv_field(ag->csv, group->tag);
        for (uint32_t k = 0; k < ag->key_count; k++) {
            (void) fputc(',', ag->csv);
            csv_field(ag->csv, group_value(group, ag->keys[k], value, sizeof(value)));
        }
        (void) fprintf(ag->csv, ",%s,%llu", ag->metrics[m], (unsigned long long) stat->n);
        bool any = stat->n > 0;
        csv_number_out(ag->csv, any ? stat->mean : NAN);
        csv_number_out(ag->csv, figures.sd);
        csv_number_out(ag->csv, figures.half);
        csv_number_out(ag->csv, stat->mean - figures.half);
        csv_number_out(ag->csv, stat->mean + figures.half);
        csv_number_out(ag->csv, any ? stat->min : NAN);
        csv_number_out(ag->csv, any ? stat->max : NAN);
        (void) fprintf(ag->csv, ",%llu,%llu,%llu\n", (unsigned long long) group->runs,
                       (unsigned long long) group->missing_count,
                       (unsigned long long) group->violating_count);
    }
    // JSON: one object per parameter set.
    (void) fprintf(ag->json, "%s\n    {\"tag\": ", ag->groups == 0 ? "" : ",");
    json_string_out(ag->json, group->tag);
    (void) fputs(", \"params\": {", ag->json);
    for (uint32_t k = 0; k < ag->key_count; k++) {
        (void) fputs(k == 0 ? "" : ", ", ag->json);
        json_string_out(ag->json, ag->keys[k]);
        (void) fputs(": ", ag->json);
        json_string_out(ag->json, group_value(group, ag->keys[k], value, sizeof(value)));
    }
    (void) fprintf(ag->json, "},\n     \"runs\": %llu, \"completed\": %llu, \"missing\": [",
                   (unsigned long long) group->runs, (unsigned long long) group->completed);
    for (uint64_t i = 0; i < group->missing_count; i++) {
        const sweep_missing *missing = &group->missing[i];
        (void) fprintf(ag->json, "%s{\"seed\": %llu, \"exit_code\": ", i == 0 ? "" : ", ",
                       (unsigned long long) missing->seed);
        if (missing->exit_code >= 0) {
            (void) fprintf(ag->json, "%d", missing->exit_code);
        } else {
            (void) fputs("null", ag->json);
        }
        (void) fputs(", \"reason\": ", ag->json);
        json_string_out(ag->json, missing->reason);
        (void) fputc('}', ag->json);
    }
    (void) fputs("], \"seeds_with_violations\": [", ag->json);
    for (uint64_t i = 0; i < group->violating_count; i++) {
        (void) fprintf(ag->json, "%s%llu", i == 0 ? "" : ", ",
                       (unsigned long long) group->violating[i]);
    }
    (void) fputs("],\n     \"figures\": {", ag->json);
    bool first = true;
    for (uint32_t m = 0; m < ag->metric_count; m++) {
        const sweep_stat *stat = &group->stats[m];
        if (stat->n == 0) {
            continue;
        }
        stat_figures figures = stat_figures_of(stat);
        (void) fprintf(ag->json, "%s\n       ", first ? "" : ",");
        first = false;
        json_string_out(ag->json, ag->metrics[m]);
        (void) fprintf(ag->json, ": {\"n\": %llu, \"mean\": ", (unsigned long long) stat->n);
        json_number_out(ag->json, stat->mean);
        (void) fputs(", \"sd\": ", ag->json);
        json_number_out(ag->json, figures.sd);
        (void) fputs(", \"ci95_half\": ", ag->json);
        json_number_out(ag->json, figures.half);
        (void) fputs(", \"ci95_low\": ", ag->json);
        json_number_out(ag->json, stat->mean - figures.half);
        (void) fputs(", \"ci95_high\": ", ag->json);
        json_number_out(ag->json, stat->mean + figures.half);
        (void) fputs(", \"min\": ", ag->json);
        json_number_out(ag->json, stat->min);
        (void) fputs(", \"max\": ", ag->json);
        json_number_out(ag->json, stat->max);
        (void) fputc('}', ag->json);
    }
    (void) fputs("}}", ag->json);
    // HTML: one table per parameter set, the first SWEEP_HTML_GROUPS_MAX.
    if (ag->groups < SWEEP_HTML_GROUPS_MAX) {
        FILE *out = ag->html_body;
        (void) fputs("<h3>", out);
        node_html_text(out, group->tag);
        (void) fputs("</h3>\n<p>", out);
        for (uint32_t k = 0; k < ag->key_count; k++) {
            (void) fputs("<code>", out);
            node_html_text(out, ag->keys[k]);
            (void) fputs(" = ", out);
            node_html_text(out, group_value(group, ag->keys[k], value, sizeof(value)));
            (void) fputs("</code> ", out);
        }
        (void) fprintf(out, "%llu runs, %llu completed", (unsigned long long) group->runs,
                       (unsigned long long) group->completed);
        if (group->missing_count > 0) {
            (void) fprintf(out, ", <strong>%llu missing</strong> (seeds",
                           (unsigned long long) group->missing_count);
            for (uint64_t i = 0; i < group->missing_count && i < 50u; i++) {
                (void) fprintf(out, " %llu", (unsigned long long) group->missing[i].seed);
            }
            (void) fputs(group->missing_count > 50u ? " ...)" : ")", out);
        }
        if (group->violating_count > 0) {
            (void) fprintf(out, ", <strong>%llu with violations</strong>",
                           (unsigned long long) group->violating_count);
        }
        (void) fputs(".</p>\n<table>\n<tr><th>figure</th><th>n</th><th>mean</th><th>sd</th>"
                     "<th>95% CI of the mean</th><th>min</th><th>max</th></tr>\n",
                     out);
        for (uint32_t m = 0; m < ag->metric_count; m++) {
            const sweep_stat *stat = &group->stats[m];
            if (stat->n == 0) {
                continue;
            }
            stat_figures figures = stat_figures_of(stat);
            (void) fprintf(out, "<tr><th>%s</th><td>%llu</td><td>%.6g</td>", ag->metrics[m],
                           (unsigned long long) stat->n, stat->mean);
            if (isfinite(figures.half)) {
                (void) fprintf(out, "<td>%.4g</td><td>%.6g &ndash; %.6g</td>", figures.sd,
                               stat->mean - figures.half, stat->mean + figures.half);
            } else {
                (void) fputs("<td>&ndash;</td><td>&ndash; (n &lt; 2)</td>", out);
            }
            (void) fprintf(out, "<td>%.6g</td><td>%.6g</td></tr>\n", stat->min, stat->max);
        }
        (void) fputs("</table>\n", out);
    }
    // The plot of wait_s_p95 against the one --set key, when it is a number.
    if (ag->plot_possible && ag->key_count == 1) {
        int m = metric_find(ag, "wait_s_p95");
        char *end = NULL;
        group_value(group, ag->keys[0], value, sizeof(value));
        double x = strtod(value, &end);
        if (m >= 0 && end != value && *end == '\0' && isfinite(x) && group->stats[m].n > 0) {
            stat_figures figures = stat_figures_of(&group->stats[m]);
            double half = isfinite(figures.half) ? figures.half : 0.0;
            (void) fprintf(ag->plot_data, "%.10g %.10g %.10g %.10g\n", x, group->stats[m].mean,
                           group->stats[m].mean - half, group->stats[m].mean + half);
            ag->plot_points++;
        } else {
            ag->plot_possible = false;
        }
    }
    ag->groups++;
    free(group->missing);
    free(group->violating);
    memset(group, 0, sizeof(*group));
    ag->group_open = false;
}

static bool read_exit_code(const char *run_dir, int *code_out)
{
    char path[SWEEP_PATH_SIZE];
    (void) path_format(path, "%s/exit_code", run_dir);
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        return false;
    }
    int code = -1;
    bool ok = fscanf(file, "%d", &code) == 1;
    (void) fclose(file);
    *code_out = code;
    return ok;
}

static mesh_err aggregate_run(aggregate *ag, const sweep_run *run, const char *sets_line)
{
    if (!ag->group_open || strcmp(ag->group.tag, run->tag) != 0) {
        group_flush(ag);
        memset(&ag->group, 0, sizeof(ag->group));
        (void) snprintf(ag->group.tag, sizeof(ag->group.tag), "%s", run->tag);
        (void) snprintf(ag->group.sets_line, sizeof(ag->group.sets_line), "%s", sets_line);
        ag->group_open = true;
    }
    sweep_group *group = &ag->group;
    group->runs++;
    ag->runs++;
    char run_dir[SWEEP_PATH_SIZE];
    char path[SWEEP_PATH_SIZE];
    (void) path_format(run_dir, "%s/runs/%s/seed-%llu", ag->dir, run->tag,
                       (unsigned long long) run->seed);
    (void) path_format(path, "%s/summary.json", run_dir);
    int exit_code = -1;
    bool has_code = read_exit_code(run_dir, &exit_code);
    json_t *summary = NULL;
    char error[256];
    mesh_err err = node_sim_json_load(path, &summary, error, sizeof(error));
    if (err != MESH_OK) {
        char reason[160];
        if (err == MESH_ENOTFOUND) {
            (void) snprintf(reason, sizeof(reason), "%s",
                            has_code ? "no summary.json (see run.log)" : "not run (yet)");
        } else {
            (void) snprintf(reason, sizeof(reason), "%.150s", error);
        }
        ag->missing++;
        return push_missing(group, run->seed, has_code ? exit_code : -1, reason) ? MESH_OK
                                                                                 : MESH_ENOMEM;
    }
    group->completed++;
    ag->completed++;
    const char *key = NULL;
    json_t *value = NULL;
    double violations = 0;
    json_object_foreach(summary, key, value)
    {
        if (!json_is_number(value) || strcmp(key, "seed") == 0) {
            continue;
        }
        double number = json_number_value(value);
        if (strcmp(key, "invariant_violations") == 0 || strcmp(key, "policy_violations") == 0) {
            violations += number;
        }
        int m = metric_index(ag, key);
        if (m >= 0 && isfinite(number)) {
            stat_add(&group->stats[m], number);
        }
    }
    json_decref(summary);
    if (violations > 0 || (has_code && exit_code != 0)) {
        ag->violating++;
        return push_violating(group, run->seed) ? MESH_OK : MESH_ENOMEM;
    }
    return MESH_OK;
}

static FILE *open_temp(const char *dir, const char *name)
{
    char path[SWEEP_PATH_SIZE];
    (void) path_format(path, "%s/%s.tmp", dir, name);
    FILE *file = fopen(path, "w");
    if (file == NULL) {
        node_say_error("sim aggregate", "%s: %s", path, strerror(errno));
    }
    return file;
}

static bool close_and_rename(FILE *file, const char *dir, const char *name)
{
    char path[SWEEP_PATH_SIZE];
    char final_path[SWEEP_PATH_SIZE];
    (void) path_format(path, "%s/%s.tmp", dir, name);
    (void) path_format(final_path, "%s/%s", dir, name);
    bool failed = ferror(file) != 0;
    if (fclose(file) != 0 || failed || rename(path, final_path) != 0) {
        node_say_error("sim aggregate", "%s: write error", final_path);
        (void) unlink(path);
        return false;
    }
    return true;
}

static void write_html(aggregate *ag, FILE *out, bool plotted)
{
    (void) fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                 "<title>fedmesh sweep</title>\n<style>\n"
                 "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;"
                 "padding:0 1em}\n"
                 "table{border-collapse:collapse;margin:0.5em 0 1.5em}\n"
                 "th,td{border:1px solid #ccc;padding:0.2em 0.6em;text-align:left}\n"
                 "td{font-variant-numeric:tabular-nums;text-align:right}\n"
                 "</style>\n</head>\n<body>\n<h1>fedmesh sweep: ",
                 out);
    node_html_text(out, ag->dir);
    (void) fprintf(out,
                   "</h1>\n<p>%llu runs in %llu parameter sets: %llu completed, "
                   "<strong>%llu missing</strong>, <strong>%llu with violations</strong>. "
                   "Missing runs are not in the figures; runs with violations are, and are "
                   "listed. The 95%% confidence interval is that of the mean (Student t, n - 1 "
                   "degrees of freedom). Every figure is also in sweep.csv and sweep.json.</p>\n",
                   (unsigned long long) ag->runs, (unsigned long long) ag->groups,
                   (unsigned long long) ag->completed, (unsigned long long) ag->missing,
                   (unsigned long long) ag->violating);
    if (plotted) {
        (void) fputs("<p><img class=\"plot\" src=\"sweep-wait_s_p95.svg\" width=\"720\" "
                     "height=\"360\" alt=\"mean wait_s_p95 with its 95% confidence interval "
                     "against ",
                     out);
        node_html_text(out, ag->keys[0]);
        (void) fputs("\"></p>\n", out);
    }
    if (ag->groups > SWEEP_HTML_GROUPS_MAX) {
        (void) fprintf(out, "<p>The first %u parameter sets; sweep.csv has all %llu.</p>\n",
                       SWEEP_HTML_GROUPS_MAX, (unsigned long long) ag->groups);
    }
}

static bool plot_sweep(aggregate *ag)
{
    char path[SWEEP_PATH_SIZE];
    (void) path_format(path, "%s/sweep-plot.gp", ag->dir);
    FILE *out = fopen(path, "w");
    if (out == NULL) {
        return false;
    }
    (void) fputs("# Written by fedmesh sim aggregate; `gnuplot sweep-plot.gp` redraws it.\n"
                 "set terminal svg size 720,360 font 'sans,11' background '#ffffff'\n"
                 "set output 'sweep-wait_s_p95.svg'\n"
                 "set grid\nset key off\nset xlabel ",
                 out);
    json_string_out(out, ag->keys[0]); // a JSON string is a valid gnuplot "..." string
    (void) fputs(" noenhanced\nset ylabel 'wait_s_p95 (s): mean and 95% CI' noenhanced\n"
                 "set offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05\n"
                 "plot 'sweep-plot.dat' using 1:2:3:4 with yerrorlines lw 1.5\n",
                 out);
    bool failed = ferror(out) != 0;
    if (fclose(out) != 0 || failed) {
        return false;
    }
    char error[512];
    if (node_sim_gnuplot(ag->dir, "sweep-plot.gp", error, sizeof(error)) != MESH_OK) {
        node_say_error("sim aggregate", "no plot: %s", error);
        return false;
    }
    return true;
}

static int aggregate_dir(const char *dir)
{
    const char *command = "sim aggregate";
    char path[SWEEP_PATH_SIZE];
    if (strlen(dir) > SWEEP_PATH_SIZE - 256u) {
        node_say_error(command, "%s: path too long", dir);
        return NODE_EXIT_USAGE;
    }
    (void) path_format(path, "%s/runs.tsv", dir);
    FILE *tsv = fopen(path, "r");
    if (tsv == NULL) {
        node_say_error(command, "%s: %s (is %s a sweep directory?)", path, strerror(errno), dir);
        return NODE_EXIT_INPUT;
    }
    aggregate *ag = calloc(1, sizeof(*ag));
    if (ag == NULL) {
        (void) fclose(tsv);
        node_say_error(command, "out of memory");
        return NODE_EXIT_INTERNAL;
    }
    ag->dir = dir;
    ag->csv = open_temp(dir, "sweep.csv");
    ag->json = open_temp(dir, "sweep.json");
    ag->html_body = tmpfile();
    ag->plot_data = open_temp(dir, "sweep-plot.dat");
    int exit_code = NODE_EXIT_OK;
    if (ag->csv == NULL || ag->json == NULL || ag->html_body == NULL || ag->plot_data == NULL) {
        exit_code = NODE_EXIT_INTERNAL;
        goto out;
    }
    ag->plot_possible = true;
    (void) fputs("{\n  \"groups\": [", ag->json);
    char line[SWEEP_LINE_SIZE];
    char copy[SWEEP_LINE_SIZE];
    uint64_t line_number = 0;
    uint64_t expected_index = 0;
    bool header_done = false;
    while (fgets(line, sizeof(line), tsv) != NULL) {
        line_number++;
        size_t length = strcspn(line, "\r\n");
        if (line[length] == '\0' && !feof(tsv)) {
            node_say_error(command, "%s:%llu: line longer than %u bytes", path,
                           (unsigned long long) line_number, SWEEP_LINE_SIZE - 2u);
            exit_code = NODE_EXIT_INPUT;
            goto out;
        }
        line[length] = '\0';
        if (length == 0 || line[0] == '#') {
            continue;
        }
        memcpy(copy, line, length + 1);
        sweep_run run;
        memset(&run, 0, sizeof(run));
        if (!parse_run_line(line, &run) || run.index != expected_index ||
            expected_index == SWEEP_RUNS_MAX) {
            node_say_error(command,
                           "%s:%llu: want INDEX TAG SEED [KEY=VALUE...] (tab-separated), "
                           "indexes 0, 1, 2, ... (at most %u runs)",
                           path, (unsigned long long) line_number, SWEEP_RUNS_MAX);
            exit_code = NODE_EXIT_INPUT;
            goto out;
        }
        expected_index++;
        if (!header_done) {
            // The columns: the keys of the first run's sets.
            for (uint32_t i = 0; i < run.set_count; i++) {
                size_t key_length = strcspn(run.sets[i], "=");
                key_length = key_length < SWEEP_SET_SIZE - 1 ? key_length : SWEEP_SET_SIZE - 1;
                memcpy(ag->keys[i], run.sets[i], key_length);
                ag->keys[i][key_length] = '\0';
            }
            ag->key_count = run.set_count;
            (void) fputs("tag", ag->csv);
            for (uint32_t k = 0; k < ag->key_count; k++) {
                (void) fputc(',', ag->csv);
                csv_field(ag->csv, ag->keys[k]);
            }
            (void) fputs(",figure,n,mean,sd,ci95_half,ci95_low,ci95_high,min,max,runs,"
                         "runs_missing,runs_with_violations\n",
                         ag->csv);
            header_done = true;
        }
        const char *sets_line = copy;
        for (uint32_t skip = 0; skip < 3 && sets_line != NULL; skip++) {
            sets_line = strchr(sets_line, '\t');
            sets_line = sets_line != NULL ? sets_line + 1 : NULL;
        }
        if (aggregate_run(ag, &run, sets_line != NULL ? sets_line : "") != MESH_OK) {
            node_say_error(command, "out of memory");
            exit_code = NODE_EXIT_INTERNAL;
            goto out;
        }
        if (ag->group.missing_count > 0 && ag->missing <= SWEEP_REPORT_MISSING &&
            ag->group.missing[ag->group.missing_count - 1].seed == run.seed) {
            const sweep_missing *missing = &ag->group.missing[ag->group.missing_count - 1];
            node_say_error(command, "missing: run %llu (%s, seed %llu): %s",
                           (unsigned long long) run.index, run.tag, (unsigned long long) run.seed,
                           missing->reason);
        }
    }
    if (ferror(tsv)) {
        node_say_error(command, "%s: read error", path);
        exit_code = NODE_EXIT_INPUT;
        goto out;
    }
    if (expected_index == 0) {
        node_say_error(command, "%s: no runs", path);
        exit_code = NODE_EXIT_INPUT;
        goto out;
    }
    group_flush(ag);
    (void) fprintf(ag->json,
                   "\n  ],\n  \"runs\": %llu, \"parameter_sets\": %llu, \"completed\": %llu, "
                   "\"missing\": %llu, \"with_violations\": %llu,\n  \"t_table\": \"Student t, "
                   "two-sided 95%%, n - 1 degrees of freedom up to 30, 1.96 beyond\"\n}\n",
                   (unsigned long long) ag->runs, (unsigned long long) ag->groups,
                   (unsigned long long) ag->completed, (unsigned long long) ag->missing,
                   (unsigned long long) ag->violating);
    bool plot_ready = ag->plot_possible && ag->key_count == 1 && ag->plot_points >= 2;
    bool written = close_and_rename(ag->csv, dir, "sweep.csv");
    written = close_and_rename(ag->json, dir, "sweep.json") && written;
    written = close_and_rename(ag->plot_data, dir, "sweep-plot.dat") && written;
    ag->csv = ag->json = ag->plot_data = NULL;
    bool plotted = written && plot_ready && plot_sweep(ag);
    if (!plotted) {
        (void) path_format(path, "%s/sweep-plot.dat", dir);
        (void) unlink(path); // only the plot reads it
    }
    FILE *html = open_temp(dir, "sweep.html");
    if (html != NULL) {
        write_html(ag, html, plotted);
        rewind(ag->html_body);
        char buffer[8192];
        size_t got = 0;
        while ((got = fread(buffer, 1, sizeof(buffer), ag->html_body)) > 0) {
            (void) fwrite(buffer, 1, got, html);
        }
        (void) fputs("</body>\n</html>\n", html);
        written = close_and_rename(html, dir, "sweep.html") && written;
    } else {
        written = false;
    }
    if (!written) {
        exit_code = NODE_EXIT_INTERNAL;
        goto out;
    }
    if (ag->missing > SWEEP_REPORT_MISSING) {
        node_say_error(command, "... and %llu more missing runs (all in %s/sweep.json)",
                       (unsigned long long) (ag->missing - SWEEP_REPORT_MISSING), dir);
    }
    if (ag->metrics_dropped > 0) {
        node_say_error(command, "%llu values of figures past the first %u were left out",
                       (unsigned long long) ag->metrics_dropped, SWEEP_METRICS_MAX);
    }
    (void) printf("aggregate: %llu runs in %llu parameter sets: %llu completed, %llu missing, "
                  "%llu with violations\n"
                  "wrote %s/sweep.csv, %s/sweep.json, %s/sweep.html\n",
                  (unsigned long long) ag->runs, (unsigned long long) ag->groups,
                  (unsigned long long) ag->completed, (unsigned long long) ag->missing,
                  (unsigned long long) ag->violating, dir, dir, dir);
    exit_code = ag->missing > 0 || ag->violating > 0 ? NODE_EXIT_INVALID : NODE_EXIT_OK;
out:
    (void) fclose(tsv);
    FILE *files[] = {ag->csv, ag->json, ag->html_body, ag->plot_data};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        if (files[i] != NULL) {
            (void) fclose(files[i]);
        }
    }
    free(ag->group.missing);
    free(ag->group.violating);
    free(ag);
    return exit_code;
}

/* --- The commands ----------------------------------------------------------- */

int node_cmd_sim_aggregate(int argc, char **argv)
{
    if (node_wants_help(argc, argv)) {
        (void) fputs(sweep_usage, stdout);
        return NODE_EXIT_OK;
    }
    if (argc != 3) {
        return sweep_usage_error("sim aggregate", "want one argument: the sweep's directory");
    }
    return aggregate_dir(argv[2]);
}

int node_cmd_sim_report(int argc, char **argv)
{
    if (node_wants_help(argc, argv)) {
        (void) fputs(sweep_usage, stdout);
        return NODE_EXIT_OK;
    }
    if (argc != 3) {
        return sweep_usage_error("sim report", "want one argument: a `sim run --out` directory");
    }
    char error[1024];
    mesh_err err = node_sim_report_write(argv[2], error, sizeof(error));
    if (err == MESH_OK) {
        (void) printf("wrote %s/report.html\n", argv[2]);
        return NODE_EXIT_OK;
    }
    node_say_error("sim report", "%s", error);
    return err == MESH_EPROTO || err == MESH_EIO || err == MESH_EFULL ? NODE_EXIT_INPUT
                                                                      : NODE_EXIT_INTERNAL;
}

int node_cmd_sim_sweep(int argc, char **argv)
{
    const char *command = "sim sweep";
    if (node_wants_help(argc, argv)) {
        (void) fputs(sweep_usage, stdout);
        return NODE_EXIT_OK;
    }
    sweep_plan plan;
    memset(&plan, 0, sizeof(plan));
    sweep_options options = {.timeout_s = 3600};
    const char *out_dir = "sweep";
    const char *emit = NULL;
    bool seeds_given = false;
    int64_t value = 0;
    long processors = sysconf(_SC_NPROCESSORS_ONLN);
    options.jobs =
        processors > 0 && processors <= (long) SWEEP_JOBS_MAX ? (uint32_t) processors : 1u;
    static const struct option long_options[] = {
        {"seeds", required_argument, NULL, 's'}, {"set", required_argument, NULL, 'S'},
        {"jobs", required_argument, NULL, 'j'},  {"out", required_argument, NULL, 'o'},
        {"emit", required_argument, NULL, 'e'},  {"timeout-s", required_argument, NULL, 't'},
        {"compare", no_argument, NULL, 'c'},     {"no-mesh", no_argument, NULL, 'n'},
        {"lenient", no_argument, NULL, 'l'},     {NULL, 0, NULL, 0},
    };
    int exit_code = NODE_EXIT_OK;
    const char *problem = NULL;
    int c = 0;
    optind = 1;
    opterr = 0;
    // getopt sees "sweep ..." with "sweep" in the program name's place.
    while (problem == NULL && (c = getopt_long(argc - 1, argv + 1, "", long_options, NULL)) != -1) {
        switch (c) {
        case 's':
            seeds_given = parse_seeds(optarg, &plan);
            problem = seeds_given ? NULL
                                  : "--seeds wants A..B, whole numbers, A <= B, at most "
                                    "100000 seeds";
            break;
        case 'S':
            problem = parse_set(optarg, &plan);
            break;
        case 'j':
            if (node_parse_i64(optarg, 1, SWEEP_JOBS_MAX, &value) != MESH_OK) {
                problem = "--jobs wants a whole number from 1 to 256";
            }
            options.jobs = (uint32_t) value;
            break;
        case 'o':
            out_dir = optarg;
            break;
        case 'e':
            emit = optarg;
            problem = strcmp(optarg, "slurm") == 0 ? NULL : "--emit knows one batch system: slurm";
            break;
        case 't':
            if (node_parse_i64(optarg, 1, 30LL * 86400, &value) != MESH_OK) {
                problem = "--timeout-s wants a whole number of seconds from 1 to 2592000";
            }
            options.timeout_s = (uint64_t) value;
            break;
        case 'c':
            options.compare = true;
            break;
        case 'n':
            options.no_mesh = true;
            break;
        case 'l':
            options.lenient = true;
            break;
        default:
            problem = "unknown option or missing value";
            break;
        }
    }
    if (problem == NULL && !seeds_given) {
        problem = "--seeds A..B is required";
    }
    if (problem == NULL && optind + 1 != argc - 1) {
        problem = "want one scenario file";
    }
    if (problem != NULL) {
        plan_free(&plan);
        return sweep_usage_error(command, problem);
    }
    plan.set_count = 1;
    for (uint32_t a = 0; a < plan.axis_count; a++) {
        plan.set_count *= plan.axes[a].value_count;
        if (plan.set_count > SWEEP_RUNS_MAX) {
            break;
        }
    }
    uint64_t run_count = plan.set_count * plan.seed_count; // both <= 100000: no overflow
    if (plan.set_count > SWEEP_RUNS_MAX || run_count > SWEEP_RUNS_MAX) {
        plan_free(&plan);
        node_say_error(command, "%llu runs: a sweep has at most %u (fewer seeds or values)",
                       (unsigned long long) run_count, SWEEP_RUNS_MAX);
        return NODE_EXIT_USAGE;
    }
    char scenario[PATH_MAX];
    char dir[PATH_MAX];
    char path[SWEEP_PATH_SIZE];
    if (realpath(argv[optind + 1], scenario) == NULL) {
        node_say_error(command, "%s: %s", argv[optind + 1], strerror(errno));
        plan_free(&plan);
        return NODE_EXIT_INPUT;
    }
    if (make_dirs(out_dir) != MESH_OK || realpath(out_dir, dir) == NULL ||
        strlen(dir) > SWEEP_PATH_SIZE - 512u) {
        node_say_error(command, "%s: cannot make it, or its path is too long: %s", out_dir,
                       strerror(errno));
        plan_free(&plan);
        return NODE_EXIT_INPUT;
    }
    (void) path_format(path, "%s/runs.tsv", dir);
    if (access(path, F_OK) == 0) {
        node_say_error(command,
                       "%s holds a sweep already (runs.tsv); choose another --out or "
                       "remove it",
                       dir);
        plan_free(&plan);
        return NODE_EXIT_REFUSED;
    }
    options.scenario = scenario;
    options.dir = dir;
    if (write_runs_tsv(dir, &plan) != MESH_OK) {
        plan_free(&plan);
        return NODE_EXIT_INTERNAL;
    }
    if (emit != NULL) {
        exit_code = emit_slurm(&options, &plan, run_count);
        plan_free(&plan);
        return exit_code;
    }
    (void) fprintf(stderr, "sweep: %llu runs (%llu parameter sets x %llu seeds), %u at once\n",
                   (unsigned long long) run_count, (unsigned long long) plan.set_count,
                   (unsigned long long) plan.seed_count, options.jobs);
    exit_code = run_all(&options, &plan, run_count);
    plan_free(&plan);
    if (exit_code != NODE_EXIT_OK) {
        return exit_code;
    }
    return aggregate_dir(dir);
}
