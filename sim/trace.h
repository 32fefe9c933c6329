/*
 * sim/trace.h: the simulator's job-trace readers: the Standard Workload
 * Format (SWF 2.2) of the Parallel Workloads Archive, and a simple CSV.
 *
 * Pure: the caller hands in the file's bytes (node/sim_input.c reads files,
 * gzip included); nothing here opens a file or reads a clock. The result is
 * a malloc'ed array of jobs sorted by (submit time, line), with one counter
 * for every rule that changed or dropped a job, so that nothing is silent:
 * a researcher can always say how many jobs of the log ran and why the
 * others did not.
 *
 * SWF 2.2 (https://www.cs.huji.ac.il/labs/parallel/workload/swf.html):
 *   - Lines starting with ';' (after optional blanks) are comments.
 *     Before the first job line, "; Key: value" comments are header
 *     fields; these are read: Version (kept as text), UnixStartTime,
 *     MaxProcs and MaxNodes (max_procs is MaxProcs, else MaxNodes). A
 *     -1 value means unknown. A known key whose value is not an integer
 *     is counted in header_invalid and ignored (the header is information,
 *     never a reason to refuse a log); other keys are ignored.
 *   - Every other non-blank line is one job of exactly 18 whitespace-
 *     separated fields: 1 job number, 2 submit, 3 wait, 4 run time,
 *     5 allocated processors, 6 average CPU time, 7 used memory,
 *     8 requested processors, 9 requested time, 10 requested memory,
 *     11 status, 12 user, 13 group, 14 executable, 15 queue, 16 partition,
 *     17 preceding job, 18 think time. -1 means unknown.
 *   - The time fields (2, 3, 4, 6, 9, 18) and the memory fields (7, 10)
 *     may be decimals (SWF allows floating point times) with at most 9
 *     fraction digits; the others must be integers. Every value is -1 or
 *     >= 0; times are at most SIM_TRACE_SECONDS_MAX.
 *   - Malformed (the line is refused): a wrong field count, a field that
 *     is not a number of its kind, a negative value other than -1, a value
 *     out of range, submit time -1 (also counted in submit_unknown), job
 *     number -1, a line longer than SIM_TRACE_LINE_SIZE_MAX or holding a
 *     NUL byte. Strict: the parse fails with MESH_EPROTO and the error names
 *     the line. Lenient: the line is skipped and counted in
 *     skipped_malformed.
 *   - Rules for well-formed jobs, in this order; a job skipped by a rule
 *     is counted by that rule only:
 *       processors: allocated (5) when > 0; else requested (8) when > 0
 *         (counted in procs_from_requested); else the job is skipped,
 *         counted in procs_zero when either field is 0 and in
 *         procs_unknown when both are -1;
 *       run time (4) -1: skipped, counted in runtime_unknown;
 *       run time 0: kept (a job shorter than the log's resolution),
 *         counted in runtime_zero;
 *       requested time (9) -1: request := run time, counted in
 *         request_unknown;
 *       requested time below run time (jobs that overran their request):
 *         request := run time, counted in request_below_run.
 *
 * CSV jobs (a format for traces that are not SWF, e.g. GPU work):
 *   - Blank lines and lines starting with '#' are skipped (counted in blank
 *     and comments). The first other line is the header: comma-separated
 *     column names, in any order, each once: required `submit_s`, `run_s`,
 *     `vcpu`; optional `request_s`, `gpu`, `id`. Any other name is an error
 *     (a misspelt `gpus` must not silently become 0 GPUs), even lenient.
 *   - Each data line has one value per column, separated by commas, blanks
 *     around a value ignored; no quoting. Times are seconds, integers or
 *     decimals with at most 9 fraction digits; `vcpu`, `gpu` and `id` are
 *     integers. -1 means unknown, as in SWF.
 *   - `submit_s` is relative or Unix time: the trace's start is the first
 *     job's submit time either way. When that first submit time is at
 *     least SIM_TRACE_UNIX_MIN_S (1980-01-01), it is taken as Unix time and
 *     becomes start_unix_s; below it, start_unix_s is 0 (unknown).
 *   - The same rules and counters as SWF: vcpu plays the processors (a -1
 *     counts in procs_unknown, a 0 in procs_zero; there is no fallback),
 *     run_s and request_s those of run and requested time (without a
 *     request_s column every job counts in request_unknown). A gpu of -1
 *     becomes 0 and counts in gpus_unknown; without a gpu column, 0. The
 *     job number is `id`, else the job's 1-based data-line ordinal.
 *     submit_s -1 is malformed (submit_unknown).
 *
 * Time base: submit_ns is measured from the trace's start, the smallest
 * submit time among the well-formed job lines (a job skipped by a rule
 * still marks the file's time axis; a malformed line does not). So the
 * first kept job has submit_ns 0 unless the earliest lines were skipped by
 * a rule; the log's own clock is start_unix_s + submit_ns / 1e9.
 *
 * Bounds: size <= SIM_TRACE_SIZE_MAX, lines <= SIM_TRACE_LINE_SIZE_MAX
 * bytes, jobs <= options->jobs_max (0 means SIM_TRACE_JOBS_MAX): past it
 * the parse fails with MESH_EFULL naming the line. Memory: one sim_job
 * (48 bytes) per kept job, grown by doubling.
 *
 * Errors: MESH_EINVAL (bad arguments), MESH_EPROTO (malformed line in
 * strict mode, a bad CSV header), MESH_EFULL (a bound), MESH_ENOMEM. On
 * failure *trace_out is zeroed (nothing to free) and error_out says what
 * and where (line 0: not about one line).
 *
 * Numbers are parsed by hand: no locale, no strtod, no sscanf.
 */
#ifndef SIM_TRACE_H
#define SIM_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/mesh.h"

#define SIM_TRACE_SIZE_MAX      (1u << 30) /* 1 GiB of text */
#define SIM_TRACE_LINE_SIZE_MAX 4096u      /* bytes, without the newline */
#define SIM_TRACE_JOBS_MAX      10000000u  /* default and largest jobs_max */
#define SIM_TRACE_SECONDS_MAX   4000000000 /* any time value: 126 years, or Unix time to 2096 */
#define SIM_TRACE_UNIX_MIN_S    315532800  /* 1980-01-01T00:00:00Z */
#define SIM_TRACE_VERSION_SIZE  16u
#define SIM_ERROR_MESSAGE_SIZE  200u

typedef enum sim_trace_format {
    SIM_TRACE_SWF = 0,
    SIM_TRACE_CSV = 1,
} sim_trace_format;

typedef struct sim_trace_options {
    bool lenient;      /* skip and count malformed lines instead of failing */
    uint32_t jobs_max; /* 0: SIM_TRACE_JOBS_MAX */
} sim_trace_options;

/* What went wrong and where. line is 1-based, 0 when the error is not
 * about one line (size, memory). message is NUL-terminated. */
typedef struct sim_trace_error {
    uint32_t line;
    char message[SIM_ERROR_MESSAGE_SIZE];
} sim_trace_error;

typedef struct sim_job {
    uint64_t submit_ns;  /* since the trace's start (see "Time base") */
    uint64_t run_ns;     /* actual run time; 0 allowed */
    uint64_t request_ns; /* the user's requested time; run_ns when unknown, never below run_ns */
    uint32_t procs;      /* processors (vCPUs) it takes, >= 1 */
    uint32_t gpus;       /* GPUs it takes (CSV only; 0 for SWF) */
    uint64_t number;     /* job number in the file */
    uint32_t line;       /* 1-based line in the file */
} sim_job;

/* Every line is counted once in one of: comments, blank, header,
 * jobs_read, skipped_malformed. Every job read is kept or counted once in
 * procs_unknown, procs_zero or runtime_unknown:
 *   lines == comments + blank + header + jobs_read + skipped_malformed
 *   jobs_read == job_count + procs_unknown + procs_zero + runtime_unknown
 * The other counters count kept jobs that a rule changed (a job may be in
 * several), and submit_unknown the malformed lines whose submit was -1. */
typedef struct sim_trace_stats {
    uint64_t lines;
    uint64_t comments;
    uint64_t blank;
    uint64_t header; /* the CSV header line: 1 for CSV, 0 for SWF */
    uint64_t jobs_read;
    uint64_t procs_from_requested;
    uint64_t procs_unknown;
    uint64_t procs_zero;
    uint64_t runtime_unknown;
    uint64_t runtime_zero;
    uint64_t request_unknown;
    uint64_t request_below_run;
    uint64_t gpus_unknown;
    uint64_t submit_unknown;
    uint64_t skipped_malformed;
    uint64_t header_invalid; /* SWF header fields that did not parse */
} sim_trace_stats;

typedef struct sim_trace {
    sim_job *jobs; /* malloc'ed, sorted by (submit_ns, line); sim_trace_free frees */
    uint32_t job_count;
    int64_t start_unix_s; /* SWF UnixStartTime + first submit, or the CSV's first
                             submit when it is Unix time; 0 when unknown */
    uint32_t max_procs;   /* SWF MaxProcs, else MaxNodes; 0 unknown (and CSV) */
    char swf_version[SIM_TRACE_VERSION_SIZE]; /* SWF Version header, "" when absent */
    sim_trace_stats stats;
} sim_trace;

/* Parses text[0..size) (need not be NUL-terminated) into *trace_out. See
 * the top of this file for the formats, rules, bounds and errors. options
 * may be NULL (strict, SIM_TRACE_JOBS_MAX). */
MESH_MUST_USE mesh_err sim_trace_parse(const char *text,
                                       size_t size,
                                       sim_trace_format format,
                                       const sim_trace_options *options,
                                       sim_trace *trace_out,
                                       sim_trace_error *error_out);

/* Frees the jobs and zeroes *trace. NULL and a zeroed trace are no-ops. */
void sim_trace_free(sim_trace *trace);

/* "swf" or "csv". */
const char *sim_trace_format_name(sim_trace_format format);

/*
 * Text helpers shared by sim/trace.c and sim/series.c (exported for their
 * unit tests). Locale-free and bounded.
 */

/* Iterates over the lines of text[0..size): a line ends at '\n' (a '\r'
 * before it is dropped) or at the end of the text. */
typedef struct sim_text_lines {
    const char *text;
    size_t size;
    size_t offset;
    uint32_t line; /* the line last returned, 1-based */
} sim_text_lines;

void sim_text_lines_init(sim_text_lines *lines, const char *text, size_t size);
/* False at the end of the text. */
bool sim_text_next_line(sim_text_lines *lines, const char **line_out, size_t *length_out);

/* Parses the whole of text[0..length) as [-]DIGITS[.DIGITS] into value *
 * 10^scale_digits. Fraction digits past scale_digits are rounded half away
 * from zero; more than fraction_digits_max of them is an error, as are
 * empty text, a missing digit on either side of the point and an overflow
 * of int64. */
MESH_MUST_USE bool sim_text_fixed(const char *text,
                                  size_t length,
                                  uint32_t scale_digits,
                                  uint32_t fraction_digits_max,
                                  int64_t *value_out);

/* Parses the whole of text[0..length) as [-]DIGITS[.DIGITS] (at most
 * SIM_TEXT_DIGITS_MAX digits in all) into the nearest double of the
 * decimal truncated to its first 18 significant digits. */
#define SIM_TEXT_DIGITS_MAX 64u
MESH_MUST_USE bool sim_text_double(const char *text, size_t length, double *value_out);

/* Splits text[0..length) at commas into at most max fields, each trimmed
 * of blanks (starts[i], lengths[i]); false when there are more than max. */
MESH_MUST_USE bool sim_text_split(const char *text,
                                  size_t length,
                                  const char **starts,
                                  size_t *lengths,
                                  uint32_t max,
                                  uint32_t *count_out);

/* Drops blanks (space, tab) from both ends of text[0..*length). */
const char *sim_text_trim(const char *text, size_t *length);

#endif /* SIM_TRACE_H */
