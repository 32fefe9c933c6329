/*
 * node/cli_sim_trace.c: `fedmesh sim trace FILE`, which loads a job trace
 * the way a simulated site would (node_sim_load_trace: gzip, bounds, the
 * rules of sim/trace.h) and prints what came of it: the jobs kept, every
 * rule's counter, and a few totals. It answers a researcher's first
 * question about a log ("does my SWF file load, and what did the reader do
 * to it?") without writing a scenario.
 */
#define _POSIX_C_SOURCE 200809L

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "node/node_int.h"

static const char trace_usage[] =
    "usage: fedmesh sim trace FILE [--format swf|csv] [--lenient] [--json]\n"
    "\n"
    "Loads a job trace as a simulated site would (plain or gzip; the Standard\n"
    "Workload Format of the Parallel Workloads Archive, or fedmesh's jobs CSV) and\n"
    "prints how many jobs it holds and what every reading rule did: jobs skipped for\n"
    "unknown or zero processors or unknown run time, run times of 0, requested times\n"
    "that were unknown or below the run time, malformed lines.\n"
    "\n"
    "  --format F  swf or csv (default: csv when FILE ends in .csv or .csv.gz)\n"
    "  --lenient   skip and count malformed lines instead of stopping at the first\n"
    "  --json      one JSON object on stdout\n"
    "\n"
    "Exit codes: 0 loaded, 2 usage, 3 the file cannot be read or is malformed (the\n"
    "message names the line), 5 out of memory.\n";

static int trace_usage_error(const char *message)
{
    node_say_error("sim trace", "%s", message);
    (void) fputs(trace_usage, stderr);
    return NODE_EXIT_USAGE;
}

static bool ends_with(const char *text, const char *suffix)
{
    size_t n = strlen(text);
    size_t m = strlen(suffix);
    return n >= m && strcmp(text + n - m, suffix) == 0;
}

typedef struct trace_totals {
    double span_s; /* the last job's submit time */
    uint32_t procs_max;
    uint32_t gpus_max;
    double vcpu_hours;
    double gpu_hours;
} trace_totals;

static trace_totals trace_sum(const sim_trace *trace)
{
    trace_totals totals = {0};
    for (uint32_t i = 0; i < trace->job_count; i++) {
        const sim_job *job = &trace->jobs[i];
        double hours = (double) job->run_ns / 3.6e12;
        totals.vcpu_hours += hours * (double) job->procs;
        totals.gpu_hours += hours * (double) job->gpus;
        totals.procs_max = job->procs > totals.procs_max ? job->procs : totals.procs_max;
        totals.gpus_max = job->gpus > totals.gpus_max ? job->gpus : totals.gpus_max;
    }
    if (trace->job_count > 0) {
        totals.span_s = (double) trace->jobs[trace->job_count - 1].submit_ns / 1e9;
    }
    return totals;
}

typedef struct trace_counter {
    const char *name;
    uint64_t value;
} trace_counter;

#define TRACE_COUNTERS 16u

static void trace_counters(const sim_trace_stats *s, trace_counter out[TRACE_COUNTERS])
{
    const trace_counter counters[TRACE_COUNTERS] = {
        {"lines", s->lines},
        {"comments", s->comments},
        {"blank", s->blank},
        {"header", s->header},
        {"jobs_read", s->jobs_read},
        {"procs_from_requested", s->procs_from_requested},
        {"procs_unknown", s->procs_unknown},
        {"procs_zero", s->procs_zero},
        {"runtime_unknown", s->runtime_unknown},
        {"runtime_zero", s->runtime_zero},
        {"request_unknown", s->request_unknown},
        {"request_below_run", s->request_below_run},
        {"gpus_unknown", s->gpus_unknown},
        {"submit_unknown", s->submit_unknown},
        {"skipped_malformed", s->skipped_malformed},
        {"header_invalid", s->header_invalid},
    };
    memcpy(out, counters, sizeof(counters));
}

static int trace_print_json(const char *path, sim_trace_format format, const sim_trace *trace)
{
    trace_totals totals = trace_sum(trace);
    json_t *object = json_object();
    if (object == NULL) {
        return NODE_EXIT_INTERNAL;
    }
    int rc = 0;
    rc |= json_object_set_new(object, "file", json_string(path));
    rc |= json_object_set_new(object, "format", json_string(sim_trace_format_name(format)));
    rc |= json_object_set_new(object, "swf_version", json_string(trace->swf_version));
    rc |= json_object_set_new(object, "start_unix_s", json_integer(trace->start_unix_s));
    rc |= json_object_set_new(object, "max_procs", json_integer(trace->max_procs));
    rc |= json_object_set_new(object, "job_count", json_integer(trace->job_count));
    rc |= json_object_set_new(object, "span_s", json_real(totals.span_s));
    rc |= json_object_set_new(object, "procs_max", json_integer(totals.procs_max));
    rc |= json_object_set_new(object, "gpus_max", json_integer(totals.gpus_max));
    rc |= json_object_set_new(object, "vcpu_hours", json_real(totals.vcpu_hours));
    rc |= json_object_set_new(object, "gpu_hours", json_real(totals.gpu_hours));
    trace_counter counters[TRACE_COUNTERS];
    trace_counters(&trace->stats, counters);
    for (uint32_t i = 0; i < TRACE_COUNTERS; i++) {
        rc |= json_object_set_new(object, counters[i].name,
                                  json_integer((json_int_t) counters[i].value));
    }
    if (rc == 0) {
        rc = json_dumpf(object, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
    }
    json_decref(object);
    if (rc != 0 || fputc('\n', stdout) == EOF) {
        node_say_error("sim trace", "cannot write the JSON output");
        return NODE_EXIT_INTERNAL;
    }
    return NODE_EXIT_OK;
}

static void trace_print_text(const char *path, sim_trace_format format, const sim_trace *trace)
{
    trace_totals totals = trace_sum(trace);
    (void) printf("%s: %s%s%s, %u jobs\n", path, sim_trace_format_name(format),
                  trace->swf_version[0] != '\0' ? " " : "", trace->swf_version, trace->job_count);
    if (trace->start_unix_s != 0) {
        char start[NODE_TIME_TEXT_SIZE];
        node_format_time(trace->start_unix_s * 1000000000, start);
        (void) printf("  %-22s %s (unix %lld)\n", "start", start, (long long) trace->start_unix_s);
    } else {
        (void) printf("  %-22s unknown (submit times are relative)\n", "start");
    }
    (void) printf("  %-22s %.0f s (%.1f days)\n", "last submit", totals.span_s,
                  totals.span_s / 86400.0);
    (void) printf("  %-22s %u\n", "max_procs (header)", trace->max_procs);
    (void) printf("  %-22s %u procs, %u gpus\n", "largest job", totals.procs_max, totals.gpus_max);
    (void) printf("  %-22s %.1f vCPU-hours, %.1f GPU-hours\n", "work", totals.vcpu_hours,
                  totals.gpu_hours);
    trace_counter counters[TRACE_COUNTERS];
    trace_counters(&trace->stats, counters);
    for (uint32_t i = 0; i < TRACE_COUNTERS; i++) {
        (void) printf("  %-22s %llu\n", counters[i].name, (unsigned long long) counters[i].value);
    }
}

int node_cmd_sim_trace(int argc, char **argv)
{
    if (node_wants_help(argc, argv)) {
        (void) fputs(trace_usage, stdout);
        return NODE_EXIT_OK;
    }
    static const struct option options[] = {
        {"format", required_argument, NULL, 'f'},
        {"lenient", no_argument, NULL, 'l'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    const char *format_text = NULL;
    bool lenient = false;
    bool json = false;
    int c = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 'f':
            format_text = optarg;
            break;
        case 'l':
            lenient = true;
            break;
        case 'j':
            json = true;
            break;
        default:
            return trace_usage_error("unknown option");
        }
    }
    if (optind != argc - 1) {
        return trace_usage_error("want one FILE");
    }
    const char *path = argv[optind];
    sim_trace_format format = SIM_TRACE_SWF;
    if (format_text == NULL) {
        format =
            ends_with(path, ".csv") || ends_with(path, ".csv.gz") ? SIM_TRACE_CSV : SIM_TRACE_SWF;
    } else if (strcmp(format_text, "csv") == 0) {
        format = SIM_TRACE_CSV;
    } else if (strcmp(format_text, "swf") != 0) {
        return trace_usage_error("--format wants swf or csv");
    }
    sim_trace trace;
    char error[512];
    mesh_err err = node_sim_load_trace(path, format, lenient, &trace, error, sizeof(error));
    if (err != MESH_OK) {
        node_say_error("sim trace", "%s", error);
        return err == MESH_ENOMEM ? NODE_EXIT_INTERNAL : NODE_EXIT_INPUT;
    }
    int rc = NODE_EXIT_OK;
    if (json) {
        rc = trace_print_json(path, format, &trace);
    } else {
        trace_print_text(path, format, &trace);
    }
    sim_trace_free(&trace);
    return rc;
}
