/*
 * node/cli.c: the fedmesh command line: dispatch, help, and the helpers
 * every subcommand shares (errors, numbers, times, files).
 *
 * Rules every subcommand follows:
 *   - `--help` on each command prints its usage to stdout and exits 0;
 *   - an error is one line on stderr, "fedmesh: <command>: <what>", that
 *     says what to do next where there is something to do;
 *   - exit codes come from node_exit (node.h) and from nowhere else;
 *   - output a program reads comes with --json: one JSON object on stdout.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* timegm */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "node/keyfile_int.h"
#include "node/node_int.h"

#ifndef FEDMESH_VERSION
#define FEDMESH_VERSION "0.0.0-dev"
#endif

static const char usage_text[] =
    "usage: fedmesh <command> [options]\n"
    "\n"
    "Federated compute sharing between European datacenters.\n"
    "\n"
    "commands:\n"
    "  keygen --out PATH              make a node key pair (PATH and PATH.pub)\n"
    "  federation init --out PATH     make the federation's root key pair\n"
    "  federation admit ...           sign a member certificate with the root key\n"
    "  federation revoke ...          sign a revocation of a member's key\n"
    "  revoke publish FILE --config NODE.INI\n"
    "                                 publish it through a running agent; revoke list\n"
    "  cert show CERT [--json]        print what a certificate says\n"
    "  cert verify --root ROOT.pub CERT [--revocations FILE]...\n"
    "                                 check a certificate; exit 0 when valid\n"
    "  agent --config NODE.INI        run this node's agent (gossip over NNG)\n"
    "  peers --config NODE.INI [--json]\n"
    "                                 show the running agent's view of the federation\n"
    "  ledger balance|history|verify|export|reconcile (--ledger DIR | --config NODE.INI)\n"
    "                                 the ledger of compute lent and borrowed\n"
    "  borrow --config NODE.INI --vcpu N --hours H [constraints...]\n"
    "                                 borrow capacity from the federation, now\n"
    "  release --config NODE.INI ID   give a borrowed lease back\n"
    "  leases --config NODE.INI [--json]\n"
    "                                 this node's leases, lent and borrowed\n"
    "  sim gossip|leases ...          run gossip machines, or whole members, in the simulator\n"
    "  sim run SCENARIO [--compare] [--out DIR]\n"
    "                                 replay a scenario's job traces across a simulated "
    "federation\n"
    "  sim sweep|aggregate|report|trace|replay ...\n"
    "                                 many runs, their aggregate, a run's report, a trace's\n"
    "                                 counters, an agent's recording replayed\n"
    "\n"
    "options:\n"
    "  --version                      print the version and exit\n"
    "  -h, --help                     print this help; '<command> --help' for a command\n"
    "\n"
    "exit codes: 0 ok or valid, 1 check failed, 2 usage, 3 unreadable or malformed\n"
    "input, 4 refused for safety (file exists, unsafe permissions), 5 internal error.\n";

void node_say_error(const char *command, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    (void) fprintf(stderr, "fedmesh: %s: ", command);
    (void) vfprintf(stderr, format, args);
    (void) fputc('\n', stderr);
    va_end(args);
}

int node_exit_from_err(mesh_err err)
{
    switch (err) {
    case MESH_OK:
        return NODE_EXIT_OK;
    case MESH_EINVAL:
        return NODE_EXIT_USAGE;
    case MESH_EAUTH:
    case MESH_ESTALE:
    case MESH_EREPLAY:
    case MESH_ECONSTRAINT:
        return NODE_EXIT_INVALID;
    case MESH_EPROTO:
    case MESH_EIO:
    case MESH_ENOTFOUND:
    case MESH_EFULL:
    case MESH_ECORRUPT:
        return NODE_EXIT_INPUT;
    case MESH_EEXIST:
    case MESH_EPERM:
        return NODE_EXIT_REFUSED;
    case MESH_ENOMEM:
    case MESH_ETIMEDOUT:
    case MESH_ESTORE:
    case MESH_ETRANSPORT:
    case MESH_EINTERNAL:
        return NODE_EXIT_INTERNAL;
    }
    return NODE_EXIT_INTERNAL;
}

mesh_now node_now(void)
{
    struct timespec mono;
    struct timespec real;
    // Neither call can fail with these clock ids on Linux; if one ever
    // did, a zero time is caught by every validity check downstream.
    if (clock_gettime(CLOCK_MONOTONIC, &mono) != 0) {
        mono.tv_sec = 0;
        mono.tv_nsec = 0;
    }
    if (clock_gettime(CLOCK_REALTIME, &real) != 0) {
        real.tv_sec = 0;
        real.tv_nsec = 0;
    }
    mesh_now now = {
        .monotonic_ns = (uint64_t) mono.tv_sec * MESH_NS_PER_S + (uint64_t) mono.tv_nsec,
        .realtime_ns = (int64_t) real.tv_sec * (int64_t) MESH_NS_PER_S + (int64_t) real.tv_nsec,
    };
    return now;
}

mesh_err node_parse_i64(const char *text, int64_t min, int64_t max, int64_t *out)
{
    MESH_ASSERT(text != NULL && out != NULL);
    MESH_ASSERT(min <= max);
    if (text[0] == '\0') {
        return MESH_EINVAL;
    }
    errno = 0;
    char *end = NULL;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || end == NULL || *end != '\0' || value < min || value > max) {
        return MESH_EINVAL;
    }
    *out = (int64_t) value;
    return MESH_OK;
}

/* Reads exactly `digits` decimal digits at text[*at]. */
static bool parse_digits(const char *text, uint32_t *at, uint32_t digits, int *value_out)
{
    int value = 0;
    for (uint32_t i = 0; i < digits; i++) {
        char c = text[*at + i];
        if (c < '0' || c > '9') {
            return false;
        }
        value = value * 10 + (c - '0');
    }
    *at += digits;
    *value_out = value;
    return true;
}

static bool expect_char(const char *text, uint32_t *at, char c)
{
    if (text[*at] != c) {
        return false;
    }
    *at += 1;
    return true;
}

mesh_err node_parse_time(const char *text, int64_t *realtime_ns_out)
{
    MESH_ASSERT(text != NULL && realtime_ns_out != NULL);
    if (text[0] == '@') {
        int64_t seconds = 0;
        if (node_parse_i64(text + 1, 1, INT64_MAX / (int64_t) MESH_NS_PER_S, &seconds) != MESH_OK) {
            return MESH_EINVAL;
        }
        *realtime_ns_out = seconds * (int64_t) MESH_NS_PER_S;
        return MESH_OK;
    }
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    uint32_t at = 0;
    int year = 0;
    int month = 0;
    int day = 0;
    if (!parse_digits(text, &at, 4, &year) || !expect_char(text, &at, '-') ||
        !parse_digits(text, &at, 2, &month) || !expect_char(text, &at, '-') ||
        !parse_digits(text, &at, 2, &day)) {
        return MESH_EINVAL;
    }
    int hour = 0;
    int minute = 0;
    int second = 0;
    if (text[at] == 'T') {
        at++;
        if (!parse_digits(text, &at, 2, &hour) || !expect_char(text, &at, ':') ||
            !parse_digits(text, &at, 2, &minute) || !expect_char(text, &at, ':') ||
            !parse_digits(text, &at, 2, &second) || !expect_char(text, &at, 'Z')) {
            return MESH_EINVAL;
        }
    }
    if (text[at] != '\0' || year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 ||
        hour > 23 || minute > 59 || second > 60) {
        return MESH_EINVAL;
    }
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    time_t seconds = timegm(&tm);
    // timegm normalises 2026-02-31 to March; refuse instead of guessing.
    if (seconds < 0 || tm.tm_mday != day || tm.tm_mon != month - 1) {
        return MESH_EINVAL;
    }
    *realtime_ns_out = (int64_t) seconds * (int64_t) MESH_NS_PER_S;
    return MESH_OK;
}

void node_format_time(int64_t realtime_ns, char text_out[NODE_TIME_TEXT_SIZE])
{
    MESH_ASSERT(text_out != NULL);
    int64_t seconds = realtime_ns / (int64_t) MESH_NS_PER_S;
    if (realtime_ns < 0 && realtime_ns % (int64_t) MESH_NS_PER_S != 0) {
        seconds--;
    }
    time_t t = (time_t) seconds;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL ||
        strftime(text_out, NODE_TIME_TEXT_SIZE, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        (void) snprintf(text_out, NODE_TIME_TEXT_SIZE, "@%lld", (long long) seconds);
    }
}

mesh_err node_read_armored(const char *command,
                           const char *path,
                           const char *label,
                           uint8_t *frame,
                           uint32_t *frame_size_out)
{
    MESH_ASSERT(command != NULL && path != NULL && label != NULL);
    MESH_ASSERT(frame != NULL && frame_size_out != NULL);
    static uint8_t text[MCRYPTO_FILE_SIZE_MAX];
    uint32_t text_size = 0;
    mesh_err err = node_file_read(path, text, sizeof(text), &text_size);
    if (err == MESH_EFULL) {
        node_say_error(command, "%s: larger than %u bytes; not a fedmesh %s file", path,
                       MCRYPTO_FILE_SIZE_MAX, label);
        return MESH_EPROTO;
    }
    if (err != MESH_OK) {
        node_say_error(command, "%s: cannot read: %s", path, strerror(errno));
        return err;
    }
    err = mcrypto_armor_decode(label, (const char *) text, text_size, frame, WIRE_FRAME_SIZE_MAX,
                               frame_size_out);
    if (err != MESH_OK) {
        node_say_error(command, "%s: malformed: not an armored fedmesh %s", path, label);
        return MESH_EPROTO;
    }
    return MESH_OK;
}

mesh_err node_write_armored(const char *command,
                            const char *path,
                            const char *label,
                            const uint8_t *frame,
                            uint32_t frame_size)
{
    MESH_ASSERT(command != NULL && path != NULL && label != NULL && frame != NULL);
    static char text[MCRYPTO_FILE_SIZE_MAX];
    uint32_t text_size = 0;
    mesh_err err = mcrypto_armor_encode(label, frame, frame_size, text, sizeof(text), &text_size);
    if (err != MESH_OK) {
        node_say_error(command, "cannot encode the %s: %s", label, mesh_strerror(err));
        return err;
    }
    err = node_file_write_new(path, (const uint8_t *) text, text_size, 0644);
    if (err == MESH_EEXIST) {
        node_say_error(command, "%s exists; refusing to overwrite it (choose another --out)", path);
    } else if (err != MESH_OK) {
        node_say_error(command, "%s: cannot write: %s", path, strerror(errno));
    }
    return err;
}

mesh_err node_load_secret(const char *command, const char *path, mcrypto_keypair *keypair_out)
{
    mesh_err err = node_keyfile_read_secret(path, keypair_out);
    switch (err) {
    case MESH_OK:
        break;
    case MESH_EPERM:
        node_say_error(command,
                       "secret key %s is readable or writable by group or others; "
                       "fix it with: chmod 600 %s",
                       path, path);
        break;
    case MESH_EPROTO:
        node_say_error(command, "%s: malformed: not a fedmesh secret key file", path);
        break;
    default:
        node_say_error(command, "%s: cannot read secret key: %s", path, strerror(errno));
        break;
    }
    return err;
}

mesh_err node_load_public(const char *command,
                          const char *path,
                          uint8_t public_key_out[MCRYPTO_PUBLIC_KEY_SIZE])
{
    mesh_err err = node_keyfile_read_public(path, public_key_out);
    if (err == MESH_EPROTO) {
        node_say_error(command, "%s: malformed: not a fedmesh public key file (.pub)", path);
    } else if (err != MESH_OK) {
        node_say_error(command, "%s: cannot read public key: %s", path, strerror(errno));
    }
    return err;
}

bool node_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            return true;
        }
    }
    return false;
}

int node_cli_main(int argc, char **argv)
{
    if (argc < 2) {
        (void) fputs(usage_text, stderr);
        return NODE_EXIT_USAGE;
    }
    const char *command = argv[1];
    if (strcmp(command, "--version") == 0 || strcmp(command, "version") == 0) {
        (void) printf("fedmesh %s (libsodium %s)\n", FEDMESH_VERSION, sodium_version_string());
        return NODE_EXIT_OK;
    }
    if (strcmp(command, "-h") == 0 || strcmp(command, "--help") == 0 ||
        strcmp(command, "help") == 0) {
        (void) fputs(usage_text, stdout);
        return NODE_EXIT_OK;
    }
    if (mcrypto_init() != MESH_OK) {
        node_say_error(command, "libsodium failed to initialise");
        return NODE_EXIT_INTERNAL;
    }
    // Subcommands see argv from their own name on, as getopt expects.
    if (strcmp(command, "keygen") == 0) {
        return node_cmd_keygen(argc - 1, argv + 1);
    }
    if (strcmp(command, "federation") == 0) {
        return node_cmd_federation(argc - 1, argv + 1);
    }
    if (strcmp(command, "cert") == 0) {
        return node_cmd_cert(argc - 1, argv + 1);
    }
    if (strcmp(command, "sim") == 0) {
        return node_cmd_sim(argc - 1, argv + 1);
    }
    if (strcmp(command, "agent") == 0) {
        return node_cmd_agent(argc - 1, argv + 1);
    }
    if (strcmp(command, "peers") == 0) {
        return node_cmd_peers(argc - 1, argv + 1);
    }
    if (strcmp(command, "ledger") == 0) {
        return node_cmd_ledger(argc - 1, argv + 1);
    }
    if (strcmp(command, "borrow") == 0) {
        return node_cmd_borrow(argc - 1, argv + 1);
    }
    if (strcmp(command, "release") == 0) {
        return node_cmd_release(argc - 1, argv + 1);
    }
    if (strcmp(command, "leases") == 0) {
        return node_cmd_leases(argc - 1, argv + 1);
    }
    if (strcmp(command, "revoke") == 0) {
        return node_cmd_revoke(argc - 1, argv + 1);
    }
    node_say_error(command, "unknown command; run 'fedmesh --help' for the list");
    return NODE_EXIT_USAGE;
}
