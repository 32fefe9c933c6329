/*
 * tests/fuzz/fuzz_sim_trace.h: the oracle of the job-trace fuzz targets
 * (fuzz_sim_swf.c, fuzz_sim_csv.c), included by both.
 *
 * Neither mode crashes or reads past the input; a successful parse keeps
 * the identities of sim_trace_stats (every line counted once, every job
 * read kept or skipped by one rule), its jobs are sorted by (submit, line)
 * with procs >= 1 and request >= run; a failure leaves nothing allocated
 * and says why. Lenient mode fails only on a bound (or a bad CSV header),
 * and where strict mode succeeds lenient mode gives the same jobs.
 */
#ifndef TESTS_FUZZ_FUZZ_SIM_TRACE_H
#define TESTS_FUZZ_FUZZ_SIM_TRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/trace.h"

static void fuzz_require(bool ok, const char *what)
{
    if (!ok) {
        (void) fprintf(stderr, "fuzz_sim_trace: %s\n", what);
        abort();
    }
}

static void fuzz_sim_trace_check(const uint8_t *data, size_t size, sim_trace_format format)
{
    sim_trace strict;
    sim_trace lenient;
    sim_trace_error error;
    sim_trace_options options = {.lenient = false, .jobs_max = 100000};
    mesh_err strict_err =
        sim_trace_parse((const char *) data, size, format, &options, &strict, &error);
    if (strict_err != MESH_OK) {
        fuzz_require(strict.jobs == NULL && strict.job_count == 0, "a failure left jobs");
        fuzz_require(error.message[0] != '\0', "a failure without a message");
        fuzz_require(memchr(error.message, '\0', sizeof(error.message)) != NULL,
                     "an unterminated message");
    }
    options.lenient = true;
    mesh_err lenient_err =
        sim_trace_parse((const char *) data, size, format, &options, &lenient, &error);
    if (lenient_err != MESH_OK) {
        fuzz_require(lenient_err == MESH_EFULL || lenient_err == MESH_ENOMEM ||
                         (format == SIM_TRACE_CSV && lenient_err == MESH_EPROTO),
                     "lenient failed on something other than a bound or a CSV header");
        fuzz_require(strict_err != MESH_OK, "lenient failed where strict succeeded");
        sim_trace_free(&strict);
        return;
    }
    const sim_trace_stats *s = &lenient.stats;
    fuzz_require(s->lines ==
                     s->comments + s->blank + s->header + s->jobs_read + s->skipped_malformed,
                 "a line not counted exactly once");
    fuzz_require(s->jobs_read ==
                     lenient.job_count + s->procs_unknown + s->procs_zero + s->runtime_unknown,
                 "a job read neither kept nor skipped by one rule");
    for (uint32_t i = 0; i < lenient.job_count; i++) {
        const sim_job *job = &lenient.jobs[i];
        fuzz_require(job->procs >= 1, "a job without processors");
        fuzz_require(job->request_ns >= job->run_ns, "a request below the run time");
        fuzz_require(job->line >= 1 && job->line <= s->lines, "a job on no line");
        fuzz_require(format == SIM_TRACE_CSV || job->gpus == 0, "GPUs in SWF");
        if (i > 0) {
            const sim_job *before = &lenient.jobs[i - 1];
            fuzz_require(before->submit_ns < job->submit_ns ||
                             (before->submit_ns == job->submit_ns && before->line < job->line),
                         "jobs out of order");
        }
    }
    if (strict_err == MESH_OK) {
        fuzz_require(s->skipped_malformed == 0, "lenient skipped what strict accepted");
        fuzz_require(strict.job_count == lenient.job_count, "strict and lenient disagree");
        for (uint32_t i = 0; i < strict.job_count; i++) {
            const sim_job *x = &strict.jobs[i];
            const sim_job *y = &lenient.jobs[i];
            // Field by field: the struct has padding.
            fuzz_require(x->submit_ns == y->submit_ns && x->run_ns == y->run_ns &&
                             x->request_ns == y->request_ns && x->procs == y->procs &&
                             x->gpus == y->gpus && x->number == y->number && x->line == y->line,
                         "strict and lenient jobs differ");
        }
    }
    sim_trace_free(&strict);
    sim_trace_free(&lenient);
}

#endif /* TESTS_FUZZ_FUZZ_SIM_TRACE_H */
