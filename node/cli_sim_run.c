/*
 * node/cli_sim_run.c: `fedmesh sim run SCENARIO`: a scenario file replayed
 * across a simulated federation (sim/fed.h), its summary, time series and
 * report.
 *
 *   fedmesh sim run SCENARIO [--seed S] [--no-mesh] [--compare]
 *                   [--set SECTION.KEY=VALUE]... [--out DIR] [--json] [--lenient]
 *
 * --compare runs the scenario twice, with the mesh and without (the
 * baseline, in DIR/baseline/), so the report shows both. The summary's keys
 * and units are the README's ("Simulator"); the time series and job list
 * are CSV files written as the run goes (the simulator hands rows to
 * callbacks; node/ does the I/O). Exit 0 when the run completed with no
 * invariant and no policy violated, 1 when it completed with some (the
 * first ones are printed, with the seed and the virtual time that
 * reproduce them), 2 for a usage error, 3 when the scenario cannot be read.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "node/node_int.h"

#define SETS_MAX 64u

static const char run_usage[] =
    "usage: fedmesh sim run SCENARIO [--seed S] [--no-mesh] [--compare]\n"
    "                       [--set SECTION.KEY=VALUE]... [--out DIR] [--json] [--lenient]\n"
    "\n"
    "Replays the job traces of a scenario file across a simulated federation:\n"
    "every site a whole member (gossip, leases, ledger) with a FCFS+EASY\n"
    "scheduler that bursts its overflow to the others.\n"
    "\n"
    "  --seed S        the run's seed (default 1); the same seed gives the same digest\n"
    "  --no-mesh       the sites alone: the baseline\n"
    "  --compare       with the mesh, then without it (into DIR/baseline with --out)\n"
    "  --set K=V       override a scenario key: federation.duration=7d,\n"
    "                  site.paris.vcpu=256, faults.loss=0.01 (repeatable)\n"
    "  --out DIR       write summary.json, timeseries.csv, jobs.csv and report.html\n"
    "  --json          print the summary as one JSON object\n"
    "  --lenient       count and skip malformed trace lines instead of failing\n"
    "  --keep-going    count every violation instead of stopping at the first\n"
    "  --inject-violation  debug: plant a record that breaks the invariants mid-run\n";

typedef struct run_output {
    FILE *timeseries;
    FILE *jobs;
    const sim_fed_config *config;
    /* the progress bar */
    bool bar;
    struct timespec started;
    double last_drawn_s;
    uint64_t end_ns;
} run_output;

static double wall_since(const struct timespec *start)
{
    struct timespec now;
    (void) clock_gettime(CLOCK_MONOTONIC, &now);
    return (double) (now.tv_sec - start->tv_sec) + (double) (now.tv_nsec - start->tv_nsec) / 1e9;
}

static void on_sample(void *context, const sim_fed_sample *row)
{
    run_output *out = context;
    if (out->timeseries == NULL) {
        return;
    }
    (void) fprintf(out->timeseries,
                   "%" PRIu64 ",%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                   ",%" PRIu64 ",%" PRIu64 ",%.1f,%u\n",
                   (uint64_t) ((row->time_ns - out->config->join_ns) / MESH_NS_PER_S),
                   out->config->sites[row->site].name, row->vcpu_total, row->vcpu_busy,
                   row->vcpu_busy_remote, row->vcpu_lent, row->vcpu_borrowed, row->queue_jobs,
                   row->queue_vcpu, (double) row->wait_ns_mean / 1e9, row->carbon_gco2_per_kwh);
}

static void on_job(void *context, const sim_fed_job_done *job)
{
    run_output *out = context;
    if (out->jobs == NULL) {
        return;
    }
    uint64_t base = out->config->join_ns;
    (void) fprintf(out->jobs, "%s,%" PRIu64 ",%.3f,%.3f,%.3f,%u,%.3f,%s\n",
                   out->config->sites[job->site].name, job->number,
                   (double) (job->submit_ns - base) / 1e9, (double) (job->start_ns - base) / 1e9,
                   (double) (job->end_ns - base) / 1e9, job->vcpu,
                   (double) (job->start_ns - job->submit_ns) / 1e9,
                   job->where == job->site ? "local" : out->config->sites[job->where].name);
}

static void on_progress(void *context, const char *phase, uint64_t virtual_ns, uint64_t events)
{
    run_output *out = context;
    if (!out->bar) {
        return;
    }
    double wall = wall_since(&out->started);
    if (wall - out->last_drawn_s < 0.2 && strcmp(phase, "end") != 0) {
        return;
    }
    out->last_drawn_s = wall;
    double done = out->end_ns == 0 ? 1.0 : (double) virtual_ns / (double) out->end_ns;
    done = done > 1.0 ? 1.0 : done;
    char bar[31];
    uint32_t filled = (uint32_t) (done * 30.0);
    for (uint32_t i = 0; i < 30; i++) {
        bar[i] = i < filled ? '#' : '.';
    }
    bar[30] = '\0';
    (void) fprintf(stderr, "\r[%s] %3.0f%% %-8s day %.1f  %.1fM events  %.2fM/s ", bar,
                   done * 100.0, phase, (double) virtual_ns / 86400e9, (double) events / 1e6,
                   wall > 0 ? (double) events / wall / 1e6 : 0.0);
}

static bool make_dir(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST) {
        return true;
    }
    node_say_error("sim run", "cannot create %s: %s", path, strerror(errno));
    return false;
}

static FILE *open_csv(const char *dir, const char *name, const char *header)
{
    char path[4200];
    (void) snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *file = fopen(path, "w");
    if (file == NULL) {
        node_say_error("sim run", "cannot write %s: %s", path, strerror(errno));
        return NULL;
    }
    (void) fputs(header, file);
    return file;
}

static double hours(uint64_t vcpu_ns)
{
    return (double) vcpu_ns / 3600e9;
}

static void hex(const uint8_t *bytes, uint32_t size, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < size; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15u];
    }
    out[2 * (size_t) size] = '\0';
}

/* Rounded to 6 significant digits, so that the text does not carry the
 * last bits of a double. */
static json_t *real(double value)
{
    if (!isfinite(value)) {
        return json_real(0.0);
    }
    char text[64];
    (void) snprintf(text, sizeof(text), "%.6g", value);
    return json_real(strtod(text, NULL));
}

static json_t *summary_json(const char *scenario_name,
                            const char *command,
                            const sim_fed_config *config,
                            const sim_fed_result *r,
                            double wall_s)
{
    json_t *o = json_object();
    char digest[2 * SIM_DIGEST_SIZE + 1];
    hex(r->digest, SIM_DIGEST_SIZE, digest);
    double window_s = (double) config->duration_ns / 1e9;
    (void) json_object_set_new(o, "scenario", json_string(scenario_name));
    (void) json_object_set_new(o, "seed", json_integer((json_int_t) r->seed));
    (void) json_object_set_new(o, "mesh", json_boolean(r->mesh));
    char resource[WIRE_MODEL_SIZE_MAX + 8];
    (void) snprintf(resource, sizeof(resource), "%s%s",
                    config->resource_class == WIRE_RESOURCE_GPU ? "gpu:" : "vcpu", config->model);
    (void) json_object_set_new(o, "resource", json_string(resource));
    (void) json_object_set_new(o, "digest", json_string(digest));
    (void) json_object_set_new(o, "sim_s", real(window_s));
    (void) json_object_set_new(o, "wall_s", real(wall_s));
    (void) json_object_set_new(o, "events", json_integer((json_int_t) r->events));
    (void) json_object_set_new(o, "events_per_s",
                               real(wall_s > 0 ? (double) r->events / wall_s : 0.0));
    (void) json_object_set_new(o, "jobs_total", json_integer((json_int_t) r->jobs_total));
    (void) json_object_set_new(o, "jobs_local", json_integer((json_int_t) r->jobs_local));
    (void) json_object_set_new(o, "jobs_burst", json_integer((json_int_t) r->jobs_burst));
    (void) json_object_set_new(o, "jobs_preempted", json_integer((json_int_t) r->jobs_preempted));
    (void) json_object_set_new(o, "jobs_skipped", json_integer((json_int_t) r->jobs_skipped));
    (void) json_object_set_new(o, "jobs_unfinished", json_integer((json_int_t) r->jobs_unfinished));
    (void) json_object_set_new(o, "wait_s_p50", real((double) r->wait_ns_p50 / 1e9));
    (void) json_object_set_new(o, "wait_s_p95", real((double) r->wait_ns_p95 / 1e9));
    (void) json_object_set_new(o, "wait_s_p99", real((double) r->wait_ns_p99 / 1e9));
    (void) json_object_set_new(o, "slowdown_p95", real((double) r->slowdown_p95_milli / 1000.0));

    json_t *utilisation = json_object();
    json_t *sites = json_array();
    double gco2_g = 0;
    for (uint32_t s = 0; s < config->site_count; s++) {
        const sim_fed_site *site = &config->sites[s];
        const sim_fed_site_result *sr = &r->sites[s];
        double capacity = (double) site->vcpu * (double) config->duration_ns;
        double used = (double) sr->busy_vcpu_ns + (double) sr->lent_vcpu_ns;
        double u = capacity > 0 ? used / capacity : 0.0;
        (void) json_object_set_new(utilisation, site->name, real(u));
        gco2_g += sr->burst_gco2_g;
        json_t *row = json_object();
        (void) json_object_set_new(row, "name", json_string(site->name));
        (void) json_object_set_new(row, "country", json_string(site->country));
        (void) json_object_set_new(row, "vcpu", json_integer((json_int_t) site->vcpu));
        (void) json_object_set_new(row, "jobs", json_integer((json_int_t) sr->jobs));
        (void) json_object_set_new(row, "jobs_done", json_integer((json_int_t) sr->jobs_done));
        (void) json_object_set_new(row, "jobs_burst", json_integer((json_int_t) sr->jobs_burst));
        (void) json_object_set_new(row, "jobs_skipped",
                                   json_integer((json_int_t) sr->jobs_skipped));
        (void) json_object_set_new(row, "preempted", json_integer((json_int_t) sr->preempted));
        (void) json_object_set_new(row, "wait_s_p95", real((double) sr->wait_ns_p95 / 1e9));
        (void) json_object_set_new(row, "utilisation", real(u));
        (void) json_object_set_new(row, "lent_vcpu_hours", real(hours(sr->lent_vcpu_ns)));
        (void) json_object_set_new(row, "borrowed_vcpu_hours", real(hours(sr->borrowed_vcpu_ns)));
        (void) json_object_set_new(row, "burst_used_vcpu_hours",
                                   real(hours(sr->burst_used_vcpu_ns)));
        (void) json_object_set_new(row, "burst_gco2_kg", real(sr->burst_gco2_g / 1000.0));
        (void) json_array_append_new(sites, row);
    }
    (void) json_object_set_new(o, "utilisation", utilisation);

    json_t *lent = json_object();
    // Hours by the lender's country, summed before they are rounded.
    char countries[SIM_FED_SITES_MAX][3];
    double country_hours[SIM_FED_SITES_MAX];
    uint32_t country_count = 0;
    uint32_t n = config->site_count;
    for (uint32_t a = 0; a < n; a++) {
        for (uint32_t b = 0; b < n; b++) {
            uint64_t ns = r->lent_vcpu_ns[a * n + b];
            if (ns == 0) {
                continue;
            }
            char pair[2 * SIM_FED_NAME_SIZE + 4];
            (void) snprintf(pair, sizeof(pair), "%s->%s", config->sites[a].name,
                            config->sites[b].name);
            (void) json_object_set_new(lent, pair, real(hours(ns)));
            uint32_t k = 0;
            while (k < country_count && strcmp(countries[k], config->sites[a].country) != 0) {
                k++;
            }
            if (k == country_count) {
                memcpy(countries[country_count], config->sites[a].country, 3);
                country_hours[country_count++] = 0.0;
            }
            country_hours[k] += hours(ns);
        }
    }
    json_t *by_country = json_object();
    for (uint32_t k = 0; k < country_count; k++) {
        (void) json_object_set_new(by_country, countries[k], real(country_hours[k]));
    }
    (void) json_object_set_new(o, "lent_vcpu_hours", lent);
    (void) json_object_set_new(o, "burst_vcpu_hours_by_country", by_country);
    (void) json_object_set_new(o, "burst_gco2_kg", real(gco2_g / 1000.0));
    (void) json_object_set_new(o, "gossip_bytes", json_integer((json_int_t) r->gossip_bytes));
    (void) json_object_set_new(o, "lease_bytes", json_integer((json_int_t) r->lease_bytes));
    (void) json_object_set_new(o, "lease_p50_s", real((double) r->lease_ns_p50 / 1e9));
    (void) json_object_set_new(o, "burst_borrows", json_integer((json_int_t) r->burst_borrows));
    json_t *refusals = json_object();
    for (uint32_t k = 1; k <= WIRE_LEASE_REFUSAL_MAX; k++) {
        if (r->lease.refusals[k] > 0) {
            (void) json_object_set_new(refusals, wire_lease_refusal_name(k),
                                       json_integer((json_int_t) r->lease.refusals[k]));
        }
    }
    (void) json_object_set_new(o, "refusals", refusals);
    (void) json_object_set_new(o, "crashes", json_integer((json_int_t) r->lease.crashes));
    (void) json_object_set_new(o, "messages_lost", json_integer((json_int_t) r->lease.dropped[1]));
    (void) json_object_set_new(o, "messages_cut", json_integer((json_int_t) r->lease.dropped[2]));
    (void) json_object_set_new(o, "leases_granted", json_integer((json_int_t) r->leases_granted));
    (void) json_object_set_new(o, "leases_unused", json_integer((json_int_t) r->leases_unused));
    (void) json_object_set_new(o, "invariant_violations",
                               json_integer((json_int_t) r->invariant_violations));
    (void) json_object_set_new(o, "policy_violations",
                               json_integer((json_int_t) r->policy_violations));
    (void) json_object_set_new(o, "sites", sites);
    if (r->stopped) {
        json_t *stopped = json_object();
        (void) json_object_set_new(stopped, "at_s", real((double) r->stopped_at_ns / 1e9));
        (void) json_object_set_new(stopped, "event", json_string(r->stopped_event));
        (void) json_object_set_new(o, "stopped", stopped);
    }
    if (command != NULL) {
        (void) json_object_set_new(o, "command", json_string(command));
    }
    return o;
}

static void print_violations(const sim_fed_result *r, const char *command)
{
    const sim_lease_result *lr = &r->lease;
    if (r->stopped) {
        node_say_error("sim run",
                       "stopped at virtual time %.6f s (seed %" PRIu64
                       ") after the event '%s', which broke what follows; '%s' replays it",
                       (double) r->stopped_at_ns / 1e9, r->seed, r->stopped_event,
                       command != NULL ? command : "the same command");
    }
    for (uint32_t i = 0; i < lr->violation_count; i++) {
        const sim_lease_violation *v = &lr->violations[i];
        bool invariant = v->invariant < SIM_LEASE_INVARIANT_COUNT;
        node_say_error("sim run", "%s%s broken at virtual time %.6f s (seed %" PRIu64 "): %s",
                       invariant ? "invariant " : "policy",
                       invariant ? sim_lease_invariant_name(v->invariant) : "",
                       (double) v->at_ns / 1e9, r->seed, v->what);
    }
    if (r->policy_violations > 0 && lr->violation_count == 0) {
        node_say_error("sim run", "%" PRIu64 " policy violations (seed %" PRIu64 ")",
                       r->policy_violations, r->seed);
    }
}

/* One run: with or without the mesh, into dir (NULL: no files). */
static int run_once(node_scenario *scenario,
                    bool mesh,
                    uint64_t seed,
                    const char *dir,
                    const char *command,
                    bool bar,
                    json_t **summary_out)
{
    sim_fed_config *config = node_scenario_config(scenario);
    config->mesh = mesh;
    config->seed = seed;
    run_output out = {.config = config, .bar = bar};
    out.end_ns = config->join_ns + config->duration_ns;
    if (dir != NULL) {
        out.timeseries = open_csv(dir, "timeseries.csv",
                                  "time_s,site,vcpu_total,vcpu_busy,vcpu_busy_remote,vcpu_lent,"
                                  "vcpu_borrowed,queue_jobs,queue_vcpu,wait_s_mean,"
                                  "carbon_gco2_per_kwh\n");
        out.jobs = open_csv(dir, "jobs.csv", "site,job,submit_s,start_s,end_s,vcpu,wait_s,where\n");
        if (out.timeseries == NULL || out.jobs == NULL) {
            if (out.timeseries != NULL) {
                (void) fclose(out.timeseries);
            }
            if (out.jobs != NULL) {
                (void) fclose(out.jobs);
            }
            return NODE_EXIT_INVALID;
        }
    }
    config->sample = on_sample;
    config->job_done = on_job;
    config->output_context = &out;
    config->progress = on_progress;
    config->progress_context = &out;
    sim_fed_result *result = calloc(1, sizeof(*result));
    if (result == NULL) {
        node_say_error("sim run", "out of memory");
        return NODE_EXIT_INTERNAL;
    }
    (void) clock_gettime(CLOCK_MONOTONIC, &out.started);
    mesh_err err = sim_fed_run(config, result);
    double wall_s = wall_since(&out.started);
    if (bar) {
        (void) fputs("\n", stderr);
    }
    bool write_failed = false;
    if (out.timeseries != NULL) {
        write_failed = fclose(out.timeseries) != 0 || write_failed;
    }
    if (out.jobs != NULL) {
        write_failed = fclose(out.jobs) != 0 || write_failed;
    }
    if (err != MESH_OK) {
        node_say_error("sim run", "the run failed (seed %" PRIu64 "): %s%s", seed,
                       mesh_strerror(err),
                       err == MESH_EINVAL ? " (a scenario value out of range)" : "");
        free(result);
        return NODE_EXIT_INVALID;
    }
    if (write_failed) {
        node_say_error("sim run", "writing the CSV files in %s failed", dir);
    }
    *summary_out = summary_json(node_scenario_name(scenario), command, config, result, wall_s);
    int code = NODE_EXIT_OK;
    if (result->invariant_violations > 0 || result->policy_violations > 0) {
        print_violations(result, command);
        code = NODE_EXIT_INVALID;
    }
    if (dir != NULL) {
        char path[4200];
        (void) snprintf(path, sizeof(path), "%s/summary.json", dir);
        if (json_dump_file(*summary_out, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
            node_say_error("sim run", "cannot write %s", path);
            code = NODE_EXIT_INVALID;
        }
    }
    free(result);
    return code;
}

static void print_human(const json_t *summary)
{
    (void) printf("scenario %s, seed %" JSON_INTEGER_FORMAT ", %s: %" JSON_INTEGER_FORMAT
                  " jobs (%" JSON_INTEGER_FORMAT " burst), wait p50 %.0f s, p95 %.0f s, "
                  "p99 %.0f s, slowdown p95 %.2f\n",
                  json_string_value(json_object_get(summary, "scenario")),
                  json_integer_value(json_object_get(summary, "seed")),
                  json_is_true(json_object_get(summary, "mesh")) ? "mesh" : "no mesh",
                  json_integer_value(json_object_get(summary, "jobs_total")),
                  json_integer_value(json_object_get(summary, "jobs_burst")),
                  json_real_value(json_object_get(summary, "wait_s_p50")),
                  json_real_value(json_object_get(summary, "wait_s_p95")),
                  json_real_value(json_object_get(summary, "wait_s_p99")),
                  json_real_value(json_object_get(summary, "slowdown_p95")));
    (void) printf("  %" JSON_INTEGER_FORMAT
                  " events in %.2f s (%.0f events/s), %" JSON_INTEGER_FORMAT
                  " leases, %" JSON_INTEGER_FORMAT " invariant and %" JSON_INTEGER_FORMAT
                  " policy violations\n  digest %s\n",
                  json_integer_value(json_object_get(summary, "events")),
                  json_real_value(json_object_get(summary, "wall_s")),
                  json_real_value(json_object_get(summary, "events_per_s")),
                  json_integer_value(json_object_get(summary, "leases_granted")),
                  json_integer_value(json_object_get(summary, "invariant_violations")),
                  json_integer_value(json_object_get(summary, "policy_violations")),
                  json_string_value(json_object_get(summary, "digest")));
}

static int usage_error(const char *message)
{
    node_say_error("sim run", "%s", message);
    (void) fputs(run_usage, stderr);
    return NODE_EXIT_USAGE;
}

int node_cmd_sim_run(int argc, char **argv)
{
    if (node_wants_help(argc, argv)) {
        (void) fputs(run_usage, stdout);
        return NODE_EXIT_OK;
    }
    static const struct option options[] = {
        {"seed", required_argument, NULL, 's'},       {"no-mesh", no_argument, NULL, 'n'},
        {"compare", no_argument, NULL, 'c'},          {"set", required_argument, NULL, 'S'},
        {"out", required_argument, NULL, 'o'},        {"json", no_argument, NULL, 'j'},
        {"lenient", no_argument, NULL, 'l'},          {"keep-going", no_argument, NULL, 'k'},
        {"inject-violation", no_argument, NULL, 'I'}, {NULL, 0, NULL, 0},
    };
    uint64_t seed = 1;
    bool mesh = true;
    bool compare = false;
    bool json = false;
    bool lenient = false;
    bool keep_going = false;
    bool inject = false;
    const char *dir = NULL;
    const char *sets[SETS_MAX];
    uint32_t set_count = 0;
    int64_t value = 0;
    int c = 0;
    optind = 1;
    opterr = 0;
    // argv[0] is "run": getopt takes it for the program's name.
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 's':
            if (node_parse_i64(optarg, 0, INT64_MAX, &value) != MESH_OK) {
                return usage_error("--seed wants a whole number >= 0");
            }
            seed = (uint64_t) value;
            break;
        case 'n':
            mesh = false;
            break;
        case 'c':
            compare = true;
            break;
        case 'S':
            if (set_count == SETS_MAX) {
                return usage_error("at most 64 --set");
            }
            sets[set_count++] = optarg;
            break;
        case 'o':
            dir = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'l':
            lenient = true;
            break;
        case 'k':
            keep_going = true;
            break;
        case 'I':
            inject = true;
            break;
        default:
            return usage_error("unknown option or missing value");
        }
    }
    if (optind != argc - 1) {
        return usage_error("one scenario file expected");
    }
    if (compare && !mesh) {
        return usage_error("--compare runs both; leave out --no-mesh");
    }
    const char *path = argv[optind];
    char error[1024];
    node_scenario *scenario = NULL;
    if (node_scenario_load(path, sets, set_count, lenient, &scenario, error, sizeof(error)) !=
        MESH_OK) {
        node_say_error("sim run", "%s", error);
        return NODE_EXIT_INPUT;
    }
    node_scenario_config(scenario)->stop_on_violation = !keep_going;
    node_scenario_config(scenario)->inject_violation = inject;
    // The command that reproduces the run, for the report.
    char command[2048];
    int used = snprintf(command, sizeof(command), "fedmesh sim run %s --seed %" PRIu64 "%s%s%s",
                        path, seed, mesh ? "" : " --no-mesh", keep_going ? " --keep-going" : "",
                        inject ? " --inject-violation" : "");
    for (uint32_t i = 0; i < set_count && used > 0 && (size_t) used < sizeof(command); i++) {
        used += snprintf(command + used, sizeof(command) - (size_t) used, " --set %s", sets[i]);
    }
    bool bar = isatty(STDERR_FILENO) == 1 && !json;
    char baseline_dir[4200];
    (void) snprintf(baseline_dir, sizeof(baseline_dir), "%s/baseline", dir != NULL ? dir : ".");
    if (dir != NULL && (!make_dir(dir) || (compare && !make_dir(baseline_dir)))) {
        node_scenario_free(scenario);
        return NODE_EXIT_INVALID;
    }
    json_t *summary = NULL;
    int code = run_once(scenario, mesh, seed, dir, command, bar, &summary);
    json_t *baseline = NULL;
    if (compare && summary != NULL) {
        int base_code = run_once(scenario, false, seed, dir != NULL ? baseline_dir : NULL, NULL,
                                 bar, &baseline);
        code = code != NODE_EXIT_OK ? code : base_code;
    }
    if (summary != NULL) {
        if (baseline != NULL) {
            (void) json_object_set(summary, "baseline", baseline);
        }
        if (json) {
            char *text = json_dumps(summary, JSON_COMPACT | JSON_PRESERVE_ORDER);
            if (text != NULL) {
                (void) printf("%s\n", text);
                free(text);
            }
        } else {
            print_human(summary);
            if (baseline != NULL) {
                print_human(baseline);
            }
        }
    }
    if (dir != NULL && summary != NULL) {
        char message[512];
        if (node_sim_report_write(dir, message, sizeof(message)) != MESH_OK) {
            node_say_error("sim run", "warning: no report: %s", message);
        } else if (!json) {
            (void) printf("  report: %s/report.html\n", dir);
        }
    }
    json_decref(summary);
    json_decref(baseline);
    node_scenario_free(scenario);
    return code;
}
