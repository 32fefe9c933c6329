/*
 * tests/unit/sim_trace_test.c: the SWF and CSV job-trace readers
 * (sim/trace.h): every rule with its counter, every malformed case in
 * strict mode (an error naming the line) and in lenient mode (counted and
 * skipped), the header fields, the time base, the sort, the bounds, and the
 * number parsers they share with sim/series.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim/trace.h"

#define S 1000000000ull

/* SWF fields 6 to 18, requested processors and time unknown: the tail of
 * the test lines that only set fields 1 to 5. */
#define TAIL " -1 -1 -1 -1 -1 1 1 1 -1 -1 -1 -1 -1"

static mesh_err parse(const char *text,
                      sim_trace_format format,
                      bool lenient,
                      sim_trace *trace,
                      sim_trace_error *error)
{
    sim_trace_options options = {.lenient = lenient};
    return sim_trace_parse(text, strlen(text), format, &options, trace, error);
}

/* The identities of trace.h hold for every successful parse. */
static void check_identities(const sim_trace *trace)
{
    const sim_trace_stats *s = &trace->stats;
    assert_int_equal(s->lines,
                     s->comments + s->blank + s->header + s->jobs_read + s->skipped_malformed);
    assert_int_equal(s->jobs_read,
                     trace->job_count + s->procs_unknown + s->procs_zero + s->runtime_unknown);
    for (uint32_t i = 0; i < trace->job_count; i++) {
        const sim_job *job = &trace->jobs[i];
        assert_true(job->procs >= 1);
        assert_true(job->request_ns >= job->run_ns);
        if (i > 0) {
            const sim_job *before = &trace->jobs[i - 1];
            assert_true(before->submit_ns < job->submit_ns ||
                        (before->submit_ns == job->submit_ns && before->line < job->line));
        }
    }
}

/* Strict fails naming the line with a message containing want; lenient
 * skips the line and counts it. */
static void
check_malformed(const char *text, sim_trace_format format, uint32_t line, const char *want)
{
    sim_trace trace;
    sim_trace_error error;
    assert_int_equal(parse(text, format, false, &trace, &error), MESH_EPROTO);
    assert_int_equal(error.line, line);
    if (strstr(error.message, want) == NULL) {
        fail_msg("error '%s' does not say '%s'", error.message, want);
    }
    assert_null(trace.jobs);
    assert_int_equal(trace.job_count, 0);
    assert_int_equal(parse(text, format, true, &trace, &error), MESH_OK);
    assert_int_equal(trace.stats.skipped_malformed, 1);
    check_identities(&trace);
    sim_trace_free(&trace);
}

static void test_swf_header_and_jobs(void **state)
{
    (void) state;
    const char *text = "; Version: 2.2\n"
                       "; Computer: IBM SP2\n"
                       "; UnixStartTime: 843480031\n"
                       "; MaxNodes: 100\n"
                       "; MaxProcs: 128\n"
                       ";\n"
                       "    1   100 5 60 4 -1 -1 4 120 -1 1 1 1 -1 -1 -1 -1 -1\n"
                       "    2   130 5 30 8 -1 -1 8 600 -1 1 1 1 -1 -1 -1 -1 -1\n";
    sim_trace trace;
    sim_trace_error error;
    assert_int_equal(parse(text, SIM_TRACE_SWF, false, &trace, &error), MESH_OK);
    assert_string_equal(trace.swf_version, "2.2");
    assert_int_equal(trace.max_procs, 128);
    // The trace starts at the first job: UnixStartTime + 100 s.
    assert_int_equal(trace.start_unix_s, 843480031 + 100);
    assert_int_equal(trace.job_count, 2);
    assert_int_equal(trace.stats.lines, 8);
    assert_int_equal(trace.stats.comments, 6);
    assert_int_equal(trace.stats.header, 0);
    assert_int_equal(trace.stats.jobs_read, 2);
    const sim_job *job = &trace.jobs[0];
    assert_int_equal(job->submit_ns, 0);
    assert_int_equal(job->run_ns, 60 * S);
    assert_int_equal(job->request_ns, 120 * S);
    assert_int_equal(job->procs, 4);
    assert_int_equal(job->gpus, 0);
    assert_int_equal(job->number, 1);
    assert_int_equal(job->line, 7);
    job = &trace.jobs[1];
    assert_int_equal(job->submit_ns, 30 * S);
    assert_int_equal(job->procs, 8);
    assert_int_equal(job->line, 8);
    check_identities(&trace);
    sim_trace_free(&trace);
    assert_null(trace.jobs);
    sim_trace_free(&trace); // twice, and NULL: no-ops
    sim_trace_free(NULL);
}

static void test_swf_header_fallbacks(void **state)
{
    (void) state;
    sim_trace trace;
    sim_trace_error error;
    // MaxNodes when MaxProcs is absent; no UnixStartTime: start unknown; a
    // bad header value is counted, never fatal; comments after the first job
    // are not header fields.
    const char *text = "; MaxNodes: 64\n"
                       "; MaxProcs: lots\n"
                       "; UnixStartTime: -1\n"
                       "1 0 -1 10 2" TAIL "\n"
                       "; MaxProcs: 999\n";
    assert_int_equal(parse(text, SIM_TRACE_SWF, false, &trace, &error), MESH_OK);
    assert_int_equal(trace.max_procs, 64);
    assert_int_equal(trace.stats.header_invalid, 1);
    assert_int_equal(trace.start_unix_s, 0);
    assert_string_equal(trace.swf_version, "");
    assert_int_equal(trace.stats.comments, 4);
    check_identities(&trace);
    sim_trace_free(&trace);
}

static void test_swf_processor_rules(void **state)
{
    (void) state;
    sim_trace trace;
    sim_trace_error error;
    // Fields: number submit wait run alloc avg mem req_procs req_time ...
    const char *text = "1 0 -1 10  4 -1 -1  2 20 -1 1 1 1 -1 -1 -1 -1 -1\n"  // allocated
                       "2 1 -1 10 -1 -1 -1  6 20 -1 1 1 1 -1 -1 -1 -1 -1\n"  // requested
                       "3 2 -1 10  0 -1 -1  7 20 -1 1 1 1 -1 -1 -1 -1 -1\n"  // requested
                       "4 3 -1 10 -1 -1 -1 -1 20 -1 1 1 1 -1 -1 -1 -1 -1\n"  // unknown
                       "5 4 -1 10  0 -1 -1  0 20 -1 1 1 1 -1 -1 -1 -1 -1\n"  // zero
                       "6 5 -1 10 -1 -1 -1  0 20 -1 1 1 1 -1 -1 -1 -1 -1\n"  // zero
                       "7 6 -1 10  0 -1 -1 -1 20 -1 1 1 1 -1 -1 -1 -1 -1\n"; // zero
    assert_int_equal(parse(text, SIM_TRACE_SWF, false, &trace, &error), MESH_OK);
    assert_int_equal(trace.job_count, 3);
    assert_int_equal(trace.jobs[0].procs, 4);
    assert_int_equal(trace.jobs[1].procs, 6);
    assert_int_equal(trace.jobs[2].procs, 7);
    assert_int_equal(trace.stats.procs_from_requested, 2);
    assert_int_equal(trace.stats.procs_unknown, 1);
    assert_int_equal(trace.stats.procs_zero, 3);
    assert_int_equal(trace.stats.jobs_read, 7);
    check_identities(&trace);
    sim_trace_free(&trace);
}

static void test_swf_time_rules(void **state)
{
    (void) state;
    sim_trace trace;
    sim_trace_error error;
    const char *text = "1 0 -1 -1 4 -1 -1 4  20 -1 1 1 1 -1 -1 -1 -1 -1\n" // run unknown
                       "2 1 -1  0 4 -1 -1 4  20 -1 1 1 1 -1 -1 -1 -1 -1\n" // run 0, kept
                       "3 2 -1 30 4 -1 -1 4  -1 -1 1 1 1 -1 -1 -1 -1 -1\n" // request unknown
                       "4 3 -1 30 4 -1 -1 4  10 -1 1 1 1 -1 -1 -1 -1 -1\n" // request < run
                       "5 4 -1 30 4 -1 -1 4 100 -1 1 1 1 -1 -1 -1 -1 -1\n"
                       "6 5 -1 -1 0 -1 -1 0  20 -1 1 1 1 -1 -1 -1 -1 -1\n"; // procs rule first
    assert_int_equal(parse(text, SIM_TRACE_SWF, false, &trace, &error), MESH_OK);
    assert_int_equal(trace.stats.runtime_unknown, 1);
    assert_int_equal(trace.stats.runtime_zero, 1);
    assert_int_equal(trace.stats.request_unknown, 1);
    assert_int_equal(trace.stats.request_below_run, 1);
    assert_int_equal(trace.stats.procs_zero, 1);
    assert_int_equal(trace.job_count, 4);
    // The skipped first job still marks the trace's start (time base).
    assert_int_equal(trace.jobs[0].number, 2);
    assert_int_equal(trace.jobs[0].submit_ns, 1 * S);
    assert_int_equal(trace.jobs[0].run_ns, 0);
    assert_int_equal(trace.jobs[0].request_ns, 20 * S);
    assert_int_equal(trace.jobs[1].request_ns, 30 * S);
    assert_int_equal(trace.jobs[2].request_ns, 30 * S);
    assert_int_equal(trace.jobs[3].request_ns, 100 * S);
    check_identities(&trace);
    sim_trace_free(&trace);
}

static void test_swf_decimal_times(void **state)
{
    (void) state;
    sim_trace trace;
    sim_trace_error error;
    // SWF allows floating point time fields; memory fields too here.
    const char *text = "1 10.5 0.25 3.000000001 2 1.5 1024.5 2 7.75 -1 1 1 1 -1 -1 -1 -1 0.5\n"
                       "2 11 0 1 2 -1 -1 2 2 -1 1 1 1 -1 -1 -1 -1 -1\n";
    assert_int_equal(parse(text, SIM_TRACE_SWF, false, &trace, &error), MESH_OK);
    assert_int_equal(trace.job_count, 2);
    assert_int_equal(trace.jobs[0].run_ns, 3 * S + 1);
    assert_int_equal(trace.jobs[0].request_ns, 7750000000ull);
    assert_int_equal(trace.jobs[1].submit_ns, S / 2);
    sim_trace_free(&trace);
}

static void test_swf_sorted_stably(void **state)
{
    (void) state;
    sim_trace trace;
    sim_trace_error error;
    const char *text = "1 50 -1 1 1" TAIL "\n"
                       "2 20 -1 1 1" TAIL "\n"
                       "3 50 -1 1 1" TAIL "\n"
                       "4 20 -1 1 1" TAIL "\n"
                       "5 10 -1 1 1" TAIL "\n";
    assert_int_equal(parse(text, SIM_TRACE_SWF, false, &trace, &error), MESH_OK);
    uint64_t numbers[] = {5, 2, 4, 1, 3};
    uint64_t submits[] = {0, 10, 10, 40, 40};
    for (uint32_t i = 0; i < 5; i++) {
        assert_int_equal(trace.jobs[i].number, numbers[i]);
        assert_int_equal(trace.jobs[i].submit_ns, submits[i] * S);
    }
    check_identities(&trace);
    sim_trace_free(&trace);
}

static void test_swf_lines(void **state)
{
    (void) state;
    sim_trace trace;
    sim_trace_error error;
    // CRLF, blank lines, leading blanks, tabs, no final newline.
    const char *text = "; Version: 2.2\r\n\r\n  \t\n\t1\t0 -1 1 1" TAIL "\r\n2 0 -1 1 1" TAIL;
    assert_int_equal(parse(text, SIM_TRACE_SWF, false, &trace, &error), MESH_OK);
    assert_string_equal(trace.swf_version, "2.2");
    assert_int_equal(trace.stats.lines, 5);
    assert_int_equal(trace.stats.blank, 2);
    assert_int_equal(trace.job_count, 2);
    assert_int_equal(trace.jobs[1].line, 5);
    check_identities(&trace);
    sim_trace_free(&trace);
    // Empty text: no jobs, no error.
    assert_int_equal(sim_trace_parse("", 0, SIM_TRACE_SWF, NULL, &trace, &error), MESH_OK);
    assert_int_equal(trace.job_count, 0);
    assert_int_equal(sim_trace_parse(NULL, 0, SIM_TRACE_SWF, NULL, &trace, &error), MESH_OK);
}

static void test_swf_malformed(void **state)
{
    (void) state;
    check_malformed(";\n1 0 -1 1 1 -1 -1 1 1 -1 1 1 1 -1 -1 -1 -1\n", SIM_TRACE_SWF, 2,
                    "17 fields");
    check_malformed("1 0 -1 1 1" TAIL " 7\n", SIM_TRACE_SWF, 1, "more than 18");
    check_malformed("1 0 -1 1 x" TAIL "\n", SIM_TRACE_SWF, 1, "field 5 (allocated procs)");
    check_malformed("1 0 -1 1 2.5" TAIL "\n", SIM_TRACE_SWF, 1, "field 5");
    check_malformed("1 0 -1 -2 1" TAIL "\n", SIM_TRACE_SWF, 1, "field 4 (run time)");
    check_malformed("1 0 -7 1 1" TAIL "\n", SIM_TRACE_SWF, 1, "field 3 (wait time)");
    check_malformed("1 0 -1 1.0000000001 1" TAIL "\n", SIM_TRACE_SWF, 1, "field 4");
    check_malformed("1 0 -1 1 4294967296" TAIL "\n", SIM_TRACE_SWF, 1, "2^32");
    check_malformed("1 0 -1 99999999999 1" TAIL "\n", SIM_TRACE_SWF, 1, "field 4");
    check_malformed("-1 0 -1 1 1" TAIL "\n", SIM_TRACE_SWF, 1, "job number");
    check_malformed("1 0 -1 1 1 -1 -1 1 1 -1 1 1 1 -1 -1 -1 -1 1e3\n", SIM_TRACE_SWF, 1,
                    "field 18");
    char nul[] = "1 0 -1 1 1" TAIL "\n2 0 -1 1 1" TAIL "\n";
    nul[strlen("1 0 -1 1 1" TAIL "\n") + 2] = '\0';
    sim_trace trace;
    sim_trace_error error;
    assert_int_equal(sim_trace_parse(nul, sizeof(nul) - 1, SIM_TRACE_SWF, NULL, &trace, &error),
                     MESH_EPROTO);
    assert_int_equal(error.line, 2);
    assert_non_null(strstr(error.message, "NUL"));
    sim_trace_options lenient = {.lenient = true};
    assert_int_equal(sim_trace_parse(nul, sizeof(nul) - 1, SIM_TRACE_SWF, &lenient, &trace, &error),
                     MESH_OK);
    assert_int_equal(trace.job_count, 1);
    assert_int_equal(trace.stats.skipped_malformed, 1);
    sim_trace_free(&trace);
}

static void test_swf_submit_unknown(void **state)
{
    (void) state;
    const char *text = "1 5 -1 1 1" TAIL "\n2 -1 -1 1 1" TAIL "\n";
    check_malformed(text, SIM_TRACE_SWF, 2, "submit time");
    sim_trace trace;
    sim_trace_error error;
    assert_int_equal(parse(text, SIM_TRACE_SWF, true, &trace, &error), MESH_OK);
    assert_int_equal(trace.stats.submit_unknown, 1);
    assert_int_equal(trace.job_count, 1);
    sim_trace_free(&trace);
}

static void test_long_line(void **state)
{
    (void) state;
    // Line 2 is one byte over the bound: refused before anything else.
    const char *first = "1 0 -1 1 1" TAIL "\n";
    size_t first_length = strlen(first);
    size_t size = first_length + SIM_TRACE_LINE_SIZE_MAX + 2;
    char *text = malloc(size);
    assert_non_null(text);
    memcpy(text, first, first_length);
    memset(text + first_length, ' ', SIM_TRACE_LINE_SIZE_MAX + 1);
    text[size - 1] = '\n';
    sim_trace trace;
    sim_trace_error error;
    assert_int_equal(sim_trace_parse(text, size, SIM_TRACE_SWF, NULL, &trace, &error), MESH_EPROTO);
    assert_int_equal(error.line, 2);
    assert_non_null(strstr(error.message, "longer than 4096"));
    // Exactly at the bound: a blank line.
    assert_int_equal(sim_trace_parse(text, size - 2, SIM_TRACE_SWF, NULL, &trace, &error), MESH_OK);
    assert_int_equal(trace.stats.blank, 1);
    sim_trace_free(&trace);
    free(text);
}

static void test_jobs_max(void **state)
{
    (void) state;
    const char *text = "1 0 -1 1 1" TAIL "\n2 0 -1 1 1" TAIL "\n3 0 -1 1 1" TAIL "\n";
    sim_trace_options options = {.jobs_max = 2};
    sim_trace trace;
    sim_trace_error error;
    assert_int_equal(sim_trace_parse(text, strlen(text), SIM_TRACE_SWF, &options, &trace, &error),
                     MESH_EFULL);
    assert_int_equal(error.line, 3);
    assert_null(trace.jobs);
    options.jobs_max = 3;
    assert_int_equal(sim_trace_parse(text, strlen(text), SIM_TRACE_SWF, &options, &trace, &error),
                     MESH_OK);
    assert_int_equal(trace.job_count, 3);
    sim_trace_free(&trace);
    options.jobs_max = SIM_TRACE_JOBS_MAX + 1;
    assert_int_equal(sim_trace_parse(text, strlen(text), SIM_TRACE_SWF, &options, &trace, &error),
                     MESH_EINVAL);
    assert_int_equal(
        sim_trace_parse(text, strlen(text), (sim_trace_format) 7, NULL, &trace, &error),
        MESH_EINVAL);
    assert_int_equal(
        sim_trace_parse(text, (size_t) SIM_TRACE_SIZE_MAX + 1, SIM_TRACE_SWF, NULL, &trace, &error),
        MESH_EFULL);
    assert_int_equal(error.line, 0);
}

static void test_many_jobs_grow(void **state)
{
    (void) state;
    // More jobs than the first allocation, in reverse submit order.
    enum { COUNT = 5000 };
    size_t capacity = (size_t) COUNT * 64;
    char *text = malloc(capacity);
    assert_non_null(text);
    size_t used = 0;
    for (uint32_t i = 0; i < COUNT; i++) {
        int n = snprintf(text + used, capacity - used, "%u %u -1 1 1" TAIL "\n", i + 1, COUNT - i);
        assert_true(n > 0);
        used += (size_t) n;
    }
    sim_trace trace;
    sim_trace_error error;
    assert_int_equal(sim_trace_parse(text, used, SIM_TRACE_SWF, NULL, &trace, &error), MESH_OK);
    assert_int_equal(trace.job_count, COUNT);
    assert_int_equal(trace.jobs[0].number, COUNT);
    assert_int_equal(trace.jobs[COUNT - 1].submit_ns, (uint64_t) (COUNT - 1) * S);
    check_identities(&trace);
    sim_trace_free(&trace);
    free(text);
}

static void test_csv_jobs(void **state)
{
    (void) state;
    sim_trace trace;
    sim_trace_error error;
    // Columns in any order, blanks around values, comments, a Unix start.
    const char *text = "# GPU work\n"
                       "gpu, vcpu ,run_s,submit_s,request_s,id\n"
                       "2,16,30.5,1700000010,60,7\n"
                       "\n"
                       "0, 4, 10, 1700000000.25, -1, 8\n"
                       "-1,4,10,1700000020,5,9\n";
    assert_int_equal(parse(text, SIM_TRACE_CSV, false, &trace, &error), MESH_OK);
    assert_int_equal(trace.stats.header, 1);
    assert_int_equal(trace.stats.comments, 1);
    assert_int_equal(trace.stats.blank, 1);
    assert_int_equal(trace.start_unix_s, 1700000000);
    assert_int_equal(trace.job_count, 3);
    assert_int_equal(trace.jobs[0].number, 8);
    assert_int_equal(trace.jobs[0].submit_ns, 0);
    assert_int_equal(trace.jobs[0].request_ns, 10 * S);
    assert_int_equal(trace.jobs[1].number, 7);
    assert_int_equal(trace.jobs[1].submit_ns, 9750000000ull);
    assert_int_equal(trace.jobs[1].run_ns, 30500000000ull);
    assert_int_equal(trace.jobs[1].procs, 16);
    assert_int_equal(trace.jobs[1].gpus, 2);
    assert_int_equal(trace.jobs[1].line, 3);
    assert_int_equal(trace.jobs[2].gpus, 0);
    assert_int_equal(trace.jobs[2].request_ns, 10 * S);
    assert_int_equal(trace.stats.gpus_unknown, 1);
    assert_int_equal(trace.stats.request_unknown, 1);
    assert_int_equal(trace.stats.request_below_run, 1);
    check_identities(&trace);
    sim_trace_free(&trace);
}

static void test_csv_rules(void **state)
{
    (void) state;
    sim_trace trace;
    sim_trace_error error;
    // Only the required columns: ids are data-line ordinals, every request
    // is unknown, relative times give no Unix start.
    const char *text = "submit_s,run_s,vcpu\n"
                       "100,5,2\n"
                       "101,-1,2\n"
                       "102,0,2\n"
                       "103,5,0\n"
                       "104,5,-1\n";
    assert_int_equal(parse(text, SIM_TRACE_CSV, false, &trace, &error), MESH_OK);
    assert_int_equal(trace.start_unix_s, 0);
    assert_int_equal(trace.job_count, 2);
    assert_int_equal(trace.jobs[0].number, 1);
    assert_int_equal(trace.jobs[1].number, 3);
    assert_int_equal(trace.jobs[1].submit_ns, 2 * S);
    assert_int_equal(trace.stats.runtime_unknown, 1);
    assert_int_equal(trace.stats.runtime_zero, 1);
    assert_int_equal(trace.stats.procs_zero, 1);
    assert_int_equal(trace.stats.procs_unknown, 1);
    assert_int_equal(trace.stats.request_unknown, 2);
    assert_int_equal(trace.stats.procs_from_requested, 0);
    check_identities(&trace);
    sim_trace_free(&trace);
}

static void test_csv_header_errors(void **state)
{
    (void) state;
    struct {
        const char *text;
        uint32_t line;
        const char *want;
    } cases[] = {
        {"submit_s,run_s,vcpu,gpus\n1,1,1,1\n", 1, "unknown column 'gpus'"},
        {"# c\nsubmit_s,run_s\n", 2, "'vcpu' is missing"},
        {"submit_s,run_s,vcpu,run_s\n", 1, "'run_s' twice"},
        {"submit_s,run_s,vcpu,gpu,id,request_s,x\n", 1, "more than 6"},
        {"# only a comment\n", 0, "no header"},
        {"submit_s,,vcpu\n", 1, "unknown column ''"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sim_trace trace;
        sim_trace_error error;
        // Lenient or not: a bad header is never a line to skip.
        assert_int_equal(parse(cases[i].text, SIM_TRACE_CSV, true, &trace, &error), MESH_EPROTO);
        assert_int_equal(error.line, cases[i].line);
        if (strstr(error.message, cases[i].want) == NULL) {
            fail_msg("case %zu: '%s' does not say '%s'", i, error.message, cases[i].want);
        }
    }
}

static void test_csv_malformed(void **state)
{
    (void) state;
    check_malformed("submit_s,run_s,vcpu\n1,2\n", SIM_TRACE_CSV, 2, "not 3");
    check_malformed("submit_s,run_s,vcpu\n1,2,3,4\n", SIM_TRACE_CSV, 2, "not 3");
    check_malformed("submit_s,run_s,vcpu\n1,2,3.5\n", SIM_TRACE_CSV, 2, "column vcpu");
    check_malformed("submit_s,run_s,vcpu\n1,1e3,3\n", SIM_TRACE_CSV, 2, "column run_s");
    check_malformed("submit_s,run_s,vcpu\n1,\"2\",3\n", SIM_TRACE_CSV, 2, "column run_s");
    check_malformed("submit_s,run_s,vcpu\n-5,2,3\n", SIM_TRACE_CSV, 2, "column submit_s");
    check_malformed("submit_s,run_s,vcpu\n1,2,3\n-1,2,3\n", SIM_TRACE_CSV, 3, "submit_s is -1");
    check_malformed("submit_s,run_s,vcpu,id\n1,2,3,-1\n", SIM_TRACE_CSV, 2, "column id");
    check_malformed("submit_s,run_s,vcpu,gpu\n1,2,3,-2\n", SIM_TRACE_CSV, 2, "column gpu");
    check_malformed("submit_s,run_s,vcpu\n1,2,3\n1,2,,\n", SIM_TRACE_CSV, 3, "not 3");
    check_malformed("submit_s,run_s,vcpu\n1,2,\n", SIM_TRACE_CSV, 2, "column vcpu");
}

static void test_text_fixed(void **state)
{
    (void) state;
    int64_t v = 0;
    assert_true(sim_text_fixed("12", 2, 3, 9, &v));
    assert_int_equal(v, 12000);
    assert_true(sim_text_fixed("-1.5", 4, 3, 9, &v));
    assert_int_equal(v, -1500);
    assert_true(sim_text_fixed("0.0005", 6, 3, 9, &v)); // half away from zero
    assert_int_equal(v, 1);
    assert_true(sim_text_fixed("0.0004999", 9, 3, 9, &v));
    assert_int_equal(v, 0);
    assert_true(sim_text_fixed("-0.0005", 7, 3, 9, &v));
    assert_int_equal(v, -1);
    assert_true(sim_text_fixed("9223372036854775807", 19, 0, 0, &v));
    assert_int_equal(v, INT64_MAX);
    assert_true(sim_text_fixed("-9223372036854775808", 20, 0, 0, &v));
    assert_true(v == INT64_MIN);
    assert_false(sim_text_fixed("9223372036854775808", 19, 0, 0, &v));
    assert_false(sim_text_fixed("9223372036.854775808", 20, 9, 9, &v));
    assert_false(sim_text_fixed("10000000000", 11, 9, 9, &v));
    const char *bad[] = {"", "-", ".5", "5.", "1.2.3", "+1", "1e3", " 1", "0x10", "1.0000000001"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (sim_text_fixed(bad[i], strlen(bad[i]), 9, 9, &v)) {
            fail_msg("'%s' parsed", bad[i]);
        }
    }
    // A length shorter than the string: only that prefix is read.
    assert_true(sim_text_fixed("123abc", 3, 0, 0, &v));
    assert_int_equal(v, 123);
}

static void test_text_double(void **state)
{
    (void) state;
    double v = 0.0;
    assert_true(sim_text_double("218.29003068829462", 18, &v));
    assert_true(v > 218.290030688294 && v < 218.290030688295);
    assert_true(sim_text_double("-0.5", 4, &v));
    assert_true(v == -0.5);
    assert_true(sim_text_double("42", 2, &v));
    assert_true(v == 42.0);
    assert_true(sim_text_double("0.000001", 8, &v));
    assert_true(v > 0.99e-6 && v < 1.01e-6);
    assert_true(sim_text_double("123456789012345678901234", 24, &v));
    assert_true(v > 1.2345e23 && v < 1.2346e23);
    const char *bad[] = {"", "-", ".5", "5.", "nan", "inf", "1e5", "1,5", "--1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (sim_text_double(bad[i], strlen(bad[i]), &v)) {
            fail_msg("'%s' parsed", bad[i]);
        }
    }
    char many[SIM_TEXT_DIGITS_MAX + 4];
    memset(many, '1', sizeof(many));
    assert_false(sim_text_double(many, sizeof(many), &v));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_swf_header_and_jobs),
        cmocka_unit_test(test_swf_header_fallbacks),
        cmocka_unit_test(test_swf_processor_rules),
        cmocka_unit_test(test_swf_time_rules),
        cmocka_unit_test(test_swf_decimal_times),
        cmocka_unit_test(test_swf_sorted_stably),
        cmocka_unit_test(test_swf_lines),
        cmocka_unit_test(test_swf_malformed),
        cmocka_unit_test(test_swf_submit_unknown),
        cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_jobs_max),
        cmocka_unit_test(test_many_jobs_grow),
        cmocka_unit_test(test_csv_jobs),
        cmocka_unit_test(test_csv_rules),
        cmocka_unit_test(test_csv_header_errors),
        cmocka_unit_test(test_csv_malformed),
        cmocka_unit_test(test_text_fixed),
        cmocka_unit_test(test_text_double),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
