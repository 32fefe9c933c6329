/*
 * node/cli_sim.c: `fedmesh sim gossip` and `fedmesh sim leases`, the
 * simulator's commands.
 *
 * The simulation itself is sim/'s (a pure function of its config); this
 * file is the shell around it and holds the only two things a simulation
 * run may not do itself: read the wall clock (wall_s, printed last and left
 * out of the digest, or not at all with --no-wall) and look at the
 * process's memory.
 *
 * Memory guard. Each gossip machine takes members_max member slots at
 * creation, so memory grows with N^2: a run that cannot fit should say so
 * at once rather than be killed by the kernel minutes later. After the
 * first GUARD_SAMPLE_NODES machines exist, the bytes they took (glibc's
 * mallinfo2: allocated, touched or not) give a per-node figure; when N
 * times it is over the budget (--memory-max-mib, by default 80 % of
 * MemAvailable), the run stops with exit code 4 and the measured figures.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "node/node_int.h"
#include "node/record_int.h"
#include "sim/sim.h"

// Under AddressSanitizer, malloc is ASan's and mallinfo2 sees none of it.
#if defined(__SANITIZE_ADDRESS__)
#define CLI_SIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CLI_SIM_ASAN 1
#endif
#endif
#ifdef CLI_SIM_ASAN
// From <sanitizer/allocator_interface.h>, which Debian's gcc does not ship.
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

#define GUARD_SAMPLE_NODES 8u
#define MIB                (1024.0 * 1024.0)

static const char sim_usage[] =
    "usage: fedmesh sim gossip [--nodes N] [--seed S] [--loss P] [--fanout F]\n"
    "                          [--interval-ms T] [--partition-s D] [--crash K]\n"
    "                          [--skew-ms M] [--memory-max-mib M] [--json] [--no-wall]\n"
    "                          [--progress] [--no-verify-cache] [--idle-s S]\n"
    "                          [--hostile K] [--store-adverts-max N]\n"
    "\n"
    "Runs N gossip nodes, placed round-robin in 12 European cities, over a simulated\n"
    "network (real city-to-city latency, +-10% jitter, independent loss), in virtual\n"
    "time, deterministically from the seed. Scenario: join until one view; 60 s idle\n"
    "(steady cost); node 0 publishes a new advert (time to reach 99% and all); then\n"
    "K nodes crash (time until all live nodes see them down); then a partition into\n"
    "odd and even nodes for D seconds and the heal (rounds until one view again).\n"
    "\n"
    "  --nodes N          nodes, 1..100000 (default 50)\n"
    "  --seed S           the run's seed (default 1); the same seed gives the same run\n"
    "  --loss P           message loss probability, 0..1 (default 0)\n"
    "  --fanout F         gossip fanout (default 3)\n"
    "  --interval-ms T    probe interval in ms (default 1000)\n"
    "  --partition-s D    partition length in s; 0 skips the phase (default 0)\n"
    "  --crash K          nodes to crash, never nodes 0..2; 0 skips (default 0)\n"
    "  --skew-ms M        each node's clock is off by up to +-M ms (default 0)\n"
    "  --memory-max-mib M refuse a run whose machines need more (default: 80% of\n"
    "                     MemAvailable)\n"
    "  --json             one JSON object on stdout (keys in a fixed order)\n"
    "  --no-wall          leave out wall_s and max_rss_mib, so that two runs of one\n"
    "                     seed print identical bytes\n"
    "  --progress         print the phase, virtual time and wall time to stderr\n"
    "                     every virtual second\n"
    "  --hostile K        members 3..3+K-1 also send, every interval, one frame the\n"
    "                     protocol must refuse (forged, replayed, future, unadmitted,\n"
    "                     other root, mismatched, garbage); see 'rejected'\n"
    "  --idle-s S         length of the idle window that measures the steady cost\n"
    "                     (bytes and messages per node per second); default 60\n"
    "  --no-verify-cache  check every signature afresh in every node; the results\n"
    "                     are identical, the run is slower (by default the nodes\n"
    "                     share a memo of signatures already found valid)\n"
    "  --store-adverts-max N  adverts the nodes' shared frame store holds (default:\n"
    "                     8 a node); a frame the store refuses fails the run (exit 5):\n"
    "                     for tests of that failure\n"
    "\n"
    "Exit codes: 0 the run completed (read 'converged' and the times for how well),\n"
    "2 usage, 4 refused: the run would not fit in memory, 5 internal error.\n";

typedef struct memory_guard {
    uint32_t node_count;
    uint64_t budget_bytes;
    uint64_t base_bytes;   /* before the run allocated anything */
    uint64_t shared_bytes; /* what the machines share: frame store, caches */
    double per_node_bytes;
    bool refused;
} memory_guard;

static uint64_t allocated_bytes(void)
{
#ifdef CLI_SIM_ASAN
    return (uint64_t) __sanitizer_get_current_allocated_bytes();
#else
    struct mallinfo2 info = mallinfo2();
    return (uint64_t) info.uordblks + (uint64_t) info.hblkhd;
#endif
}

/* MemAvailable from /proc/meminfo, in bytes; 0 when it cannot be read. */
static uint64_t memory_available_bytes(void)
{
    FILE *file = fopen("/proc/meminfo", "r");
    if (file == NULL) {
        return 0;
    }
    char line[256];
    uint64_t kib = 0;
    while (fgets(line, sizeof(line), file) != NULL) {
        if (strncmp(line, "MemAvailable:", 13) == 0) {
            char *end = NULL;
            errno = 0;
            unsigned long long value = strtoull(line + 13, &end, 10);
            if (errno == 0 && end != line + 13) {
                kib = value;
            }
            break;
        }
    }
    (void) fclose(file);
    return kib * 1024u;
}

static bool guard_node_created(void *context, uint32_t created_count)
{
    memory_guard *guard = context;
    if (created_count == 0) {
        uint64_t now_bytes = allocated_bytes();
        guard->shared_bytes = now_bytes > guard->base_bytes ? now_bytes - guard->base_bytes : 0;
        guard->base_bytes = now_bytes;
        return true;
    }
    if (created_count != GUARD_SAMPLE_NODES && created_count != guard->node_count) {
        return true;
    }
    uint64_t now_bytes = allocated_bytes();
    uint64_t used = now_bytes > guard->base_bytes ? now_bytes - guard->base_bytes : 0;
    guard->per_node_bytes = (double) used / (double) created_count;
    if (created_count != GUARD_SAMPLE_NODES || guard->budget_bytes == 0) {
        return true;
    }
    if (used == 0) {
        // An allocator this guard cannot see: say so rather than guess.
        node_say_error("sim", "warning: cannot measure the memory each node takes; "
                              "the memory guard is off");
        return true;
    }
    double projected =
        (double) guard->shared_bytes + guard->per_node_bytes * (double) guard->node_count;
    if (projected > (double) guard->budget_bytes) {
        guard->refused = true;
        return false;
    }
    return true;
}

typedef struct progress_state {
    mesh_now started;
} progress_state;

static void print_progress(void *context, const char *phase, uint64_t virtual_ns, uint64_t events)
{
    const progress_state *progress = context;
    mesh_now now = node_now();
    (void) fprintf(stderr, "sim: wall %8.2f s  virtual %9.3f s  %-9s  %llu events\n",
                   (double) (now.monotonic_ns - progress->started.monotonic_ns) / 1e9,
                   (double) virtual_ns / 1e9, phase, (unsigned long long) events);
}

static mesh_err parse_loss(const char *text, uint32_t *ppm_out)
{
    errno = 0;
    char *end = NULL;
    double value = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(value >= 0.0 && value <= 1.0)) {
        return MESH_EINVAL;
    }
    *ppm_out = (uint32_t) (value * 1e6 + 0.5);
    return MESH_OK;
}

static int sim_usage_error(const char *message)
{
    node_say_error("sim", "%s", message);
    (void) fputs(sim_usage, stderr);
    return NODE_EXIT_USAGE;
}

static void print_summary(const sim_gossip_result *result)
{
    const sim_gossip_config *config = &result->config;
    (void) printf(
        "fedmesh sim gossip: %u nodes, seed %llu, loss %.4f%%, fanout %u, interval %llu ms\n",
        config->node_count, (unsigned long long) config->seed, (double) config->loss_ppm / 1e4,
        config->fanout, (unsigned long long) (config->interval_ns / MESH_NS_PER_MS));
    if (!result->converged) {
        (void) printf("  join: did NOT converge within %llu s (virtual)\n",
                      (unsigned long long) (config->join_limit_ns / MESH_NS_PER_S));
        return;
    }
    (void) printf("  join: one view after %.3f s\n", (double) result->converged_ns / 1e9);
    (void) printf(
        "  idle: %.2f frames and %.0f bytes per node per second\n",
        (double) result->idle_frames / config->node_count / ((double) config->idle_window_ns / 1e9),
        (double) result->idle_bytes / config->node_count / ((double) config->idle_window_ns / 1e9));
    if (result->time_to_all_ns != SIM_TIME_NONE) {
        (void) printf("  advert: 99%% after %.3f s, all after %.3f s\n",
                      (double) result->time_to_99_ns / 1e9, (double) result->time_to_all_ns / 1e9);
    } else {
        (void) printf("  advert: did NOT reach every node\n");
    }
    if (config->crash_count > 0) {
        if (result->detect_ns != SIM_TIME_NONE) {
            (void) printf("  crash of %u: all live nodes saw them down after %.3f s\n",
                          config->crash_count, (double) result->detect_ns / 1e9);
        } else {
            (void) printf("  crash of %u: NOT detected by every node\n", config->crash_count);
        }
    }
    if (config->partition_ns > 0) {
        if (result->heal_ns != SIM_TIME_NONE) {
            (void) printf("  partition: one view again %.3f s after the heal\n",
                          (double) result->heal_ns / 1e9);
        } else {
            (void) printf("  partition: NO single view after the heal\n");
        }
    }
    (void) printf("  false downs: %u\n", result->false_down);
}

/* ------------------------------------------------------------------ */
/* fedmesh sim leases                                                   */
/* ------------------------------------------------------------------ */

static const char sim_usage_more[] =
    "\n"
    "       fedmesh sim leases [--nodes N] [--seed S] [--minutes M] [--loss P] [--crash K]\n"
    "                          [--hostile K] [--json] ...   (see fedmesh sim leases --help)\n"
    "       fedmesh sim run SCENARIO [--seed S] [--no-mesh] [--compare] [--set K=V]...\n"
    "                          [--out DIR] [--json] ...     (see fedmesh sim run --help)\n"
    "       fedmesh sim sweep SCENARIO --seeds A..B [--set K=V1,V2]... [--jobs N]\n"
    "                          [--out DIR] [--emit slurm]\n"
    "       fedmesh sim aggregate DIR | fedmesh sim report DIR\n"
    "       fedmesh sim trace FILE [--format swf|csv] [--lenient] [--json]\n"
    "       fedmesh sim replay [--key KEY] [--verbose] [--json] FILE...\n";

static const char sim_leases_usage[] =
    "usage: fedmesh sim leases [--nodes N] [--seed S] [--minutes M] [--loss P]\n"
    "                          [--crash K] [--hostile K] [--drain-minutes D]\n"
    "                          [--skew-ms M] [--json] [--no-wall] [--progress]\n"
    "                          [--no-verify] [--inject-violation]\n"
    "\n"
    "Runs N whole members (gossip, leases and an in-memory ledger each, through the\n"
    "same member code as the agent, built with its invariant checks on) and K hostile\n"
    "ones, in virtual time, deterministically from the seed, over a simulated network\n"
    "(each member in a European city; real city-to-city latency, +-10% jitter,\n"
    "independent loss). Each member reports a load with random peaks, so that its\n"
    "burst policy borrows the overflow and gives it back, and lenders reclaim when\n"
    "their own peak comes; members also borrow directly with random constraints and\n"
    "durations (2..10 min, usage every minute), and release some leases early. Then\n"
    "the drain: no new borrows, loads fall to zero, every lease has time to end.\n"
    "\n"
    "Checked during the run: (a) no lease breaks its constraints or misstates its\n"
    "lender's certificate (every OPENED record, as it is written); (b) no lender lends\n"
    "beyond its lendable (after every event that wrote its ledger, and every virtual\n"
    "second); (c) the two ledgers of a lease never hold two versions of one record.\n"
    "At the end: (c) every pair of honest ledgers reconciles record for record, (d)\n"
    "lent equals borrowed across the federation, (e) every lease between honest\n"
    "members is settled, and every honest ledger verifies.\n"
    "\n"
    "  --nodes N          honest members, 2..256 (default 8)\n"
    "  --seed S           the run's seed (default 1); the same seed gives the same run\n"
    "  --minutes M        virtual minutes of workload, 1..1440 (default 30)\n"
    "  --drain-minutes D  virtual minutes of drain after it, 11..1440 (default 20)\n"
    "  --loss P           message loss probability, 0..0.5 (default 0)\n"
    "  --crash K          crash/restart pairs among honest members at random times,\n"
    "                     0..4N (default 0); a crash loses what was not synced\n"
    "  --hostile K        hostile members on top, 0..16 (default 0): they promise\n"
    "                     capacity they do not have, leave offers unconfirmed, offer\n"
    "                     terms their certificate does not back, overcharge, answer\n"
    "                     late or twice, replay, forge signatures, crash mid-lease\n"
    "  --skew-ms M        each member's clock is off by up to +-M ms, 0..10000\n"
    "                     (default 100)\n"
    "  --json             one JSON object on stdout (keys in a fixed order)\n"
    "  --no-wall          leave out wall_s, so that two runs of one seed print\n"
    "                     identical bytes\n"
    "  --progress         print the phase, virtual time and wall time to stderr\n"
    "                     every virtual minute\n"
    "  --no-verify        skip ledger_verify of every honest ledger at the end\n"
    "  --inject-violation debug: write one validly signed lease that breaks its\n"
    "                     constraints and its lender's capacity straight into a\n"
    "                     ledger mid-run; the run must then report violations\n"
    "\n"
    "Exit codes: 0 the run completed and no invariant was broken, 1 invariant\n"
    "violations (the first ten are printed to stderr, with the seed), 2 usage,\n"
    "5 internal error.\n";

static int sim_leases_usage_error(const char *message)
{
    node_say_error("sim", "%s", message);
    (void) fputs(sim_leases_usage, stderr);
    return NODE_EXIT_USAGE;
}

static void print_leases_summary(const sim_lease_result *result)
{
    const sim_lease_config *config = &result->config;
    (void) printf("fedmesh sim leases: %u members + %u hostile, seed %llu, loss %.4f%%, %u "
                  "crashes, %llu min workload\n",
                  config->node_count, config->hostile_count, (unsigned long long) config->seed,
                  (double) config->loss_ppm / 1e4, config->crash_count,
                  (unsigned long long) (config->workload_ns / (60u * MESH_NS_PER_S)));
    (void) printf(
        "  leases: %llu granted, %llu settled (%llu with a hostile party, %llu of "
        "those left open by it); %.3f vCPU-hours lent\n",
        (unsigned long long) result->leases_granted, (unsigned long long) result->leases_settled,
        (unsigned long long) result->leases_hostile, (unsigned long long) result->hostile_unsettled,
        (double) result->lent_vcpu_milli_hours / 1000.0);
    (void) printf("  borrows: %llu granted, %llu partial, %llu refused; %llu burst borrows, "
                  "%llu burst releases, %llu reclaims\n",
                  (unsigned long long) result->borrows[LEASE_BORROW_GRANTED],
                  (unsigned long long) result->borrows[LEASE_BORROW_PARTIAL],
                  (unsigned long long) result->borrows[LEASE_BORROW_REFUSED],
                  (unsigned long long) result->burst_borrows,
                  (unsigned long long) result->burst_releases,
                  (unsigned long long) result->reclaims);
    (void) printf("  rejected frames (honest members):");
    for (uint32_t r = 0; r < LEASE_REJECT_COUNT; r++) {
        if (result->rejected[r] > 0) {
            (void) printf(" %s %llu", lease_reject_name((lease_reject) r),
                          (unsigned long long) result->rejected[r]);
        }
    }
    (void) printf("\n  invariants: %llu violations (",
                  (unsigned long long) result->invariant_violations);
    for (uint32_t i = 0; i < SIM_LEASE_INVARIANT_COUNT; i++) {
        (void) printf("%s%s %llu", i == 0 ? "" : ", ", sim_lease_invariant_name(i),
                      (unsigned long long) result->invariant[i]);
    }
    (void) printf("); policy violations %llu\n", (unsigned long long) result->policy_violations);
}

/* The first violations, with what replays them, on stderr. */
static void print_violations(const sim_lease_result *result)
{
    for (uint32_t v = 0; v < result->violation_count; v++) {
        const sim_lease_violation *violation = &result->violations[v];
        (void) fprintf(stderr, "sim leases: seed %llu, %.3f s: %s: %s\n",
                       (unsigned long long) result->config.seed, (double) violation->at_ns / 1e9,
                       violation->invariant < SIM_LEASE_INVARIANT_COUNT
                           ? sim_lease_invariant_name(violation->invariant)
                           : "policy",
                       violation->what);
    }
    uint64_t total = result->invariant_violations + result->policy_violations;
    if (total > result->violation_count) {
        (void) fprintf(stderr, "sim leases: ... and %llu more\n",
                       (unsigned long long) (total - result->violation_count));
    }
}

static int sim_leases_command(int argc, char **argv)
{
    if (node_wants_help(argc, argv)) {
        (void) fputs(sim_leases_usage, stdout);
        return NODE_EXIT_OK;
    }
    sim_lease_config config;
    sim_lease_config_default(&config);
    bool json = false;
    bool wall = true;
    bool show_progress = false;
    static const struct option options[] = {
        {"nodes", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'},
        {"minutes", required_argument, NULL, 'M'},
        {"drain-minutes", required_argument, NULL, 'D'},
        {"loss", required_argument, NULL, 'l'},
        {"crash", required_argument, NULL, 'c'},
        {"hostile", required_argument, NULL, 'H'},
        {"skew-ms", required_argument, NULL, 'k'},
        {"json", no_argument, NULL, 'j'},
        {"no-wall", no_argument, NULL, 'w'},
        {"progress", no_argument, NULL, 'g'},
        {"no-verify", no_argument, NULL, 'V'},
        {"inject-violation", no_argument, NULL, 'I'},
        {NULL, 0, NULL, 0},
    };
    int c = 0;
    int64_t value = 0;
    optind = 1;
    opterr = 0;
    // getopt sees "leases ..." with "leases" in the program name's place.
    while ((c = getopt_long(argc - 1, argv + 1, "", options, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (node_parse_i64(optarg, 2, SIM_LEASE_NODES_MAX, &value) != MESH_OK) {
                return sim_leases_usage_error("--nodes wants a whole number from 2 to 256");
            }
            config.node_count = (uint32_t) value;
            break;
        case 's':
            if (node_parse_i64(optarg, 0, INT64_MAX, &value) != MESH_OK) {
                return sim_leases_usage_error("--seed wants a whole number >= 0");
            }
            config.seed = (uint64_t) value;
            break;
        case 'M':
            if (node_parse_i64(optarg, 1, 1440, &value) != MESH_OK) {
                return sim_leases_usage_error("--minutes wants a whole number from 1 to 1440");
            }
            config.workload_ns = (uint64_t) value * 60u * MESH_NS_PER_S;
            break;
        case 'D':
            // The drain must outlast the longest lease (10 min) with room for its end.
            if (node_parse_i64(optarg, 11, 1440, &value) != MESH_OK) {
                return sim_leases_usage_error(
                    "--drain-minutes wants a whole number from 11 to 1440");
            }
            config.drain_ns = (uint64_t) value * 60u * MESH_NS_PER_S;
            break;
        case 'l':
            if (parse_loss(optarg, &config.loss_ppm) != MESH_OK || config.loss_ppm > 500000u) {
                return sim_leases_usage_error(
                    "--loss wants a probability from 0 to 0.5 (0.01 = 1%)");
            }
            break;
        case 'c':
            if (node_parse_i64(optarg, 0, 4 * (int64_t) SIM_LEASE_NODES_MAX, &value) != MESH_OK) {
                return sim_leases_usage_error("--crash wants a whole number from 0 to 4N");
            }
            config.crash_count = (uint32_t) value;
            break;
        case 'H':
            if (node_parse_i64(optarg, 0, SIM_LEASE_HOSTILE_MAX, &value) != MESH_OK) {
                return sim_leases_usage_error("--hostile wants a whole number from 0 to 16");
            }
            config.hostile_count = (uint32_t) value;
            break;
        case 'k':
            if (node_parse_i64(optarg, 0, 10000, &value) != MESH_OK) {
                return sim_leases_usage_error("--skew-ms wants milliseconds from 0 to 10000");
            }
            config.clock_skew_ns_max = value * (int64_t) MESH_NS_PER_MS;
            break;
        case 'j':
            json = true;
            break;
        case 'w':
            wall = false;
            break;
        case 'g':
            show_progress = true;
            break;
        case 'V':
            config.verify_ledgers = false;
            break;
        case 'I':
            config.inject_violation = true;
            break;
        default:
            return sim_leases_usage_error("unknown option or missing value");
        }
    }
    if (optind != argc - 1) {
        return sim_leases_usage_error("unexpected argument");
    }
    if (config.crash_count > 4u * config.node_count) {
        return sim_leases_usage_error("--crash K wants K <= 4 x --nodes");
    }
    mesh_now started = node_now();
    progress_state progress = {.started = started};
    if (show_progress) {
        config.progress = print_progress;
        config.progress_context = &progress;
    }
    sim_lease_result *result = calloc(1, sizeof(*result));
    char *text = malloc(SIM_LEASE_JSON_SIZE_MAX);
    if (result == NULL || text == NULL) {
        free(result);
        free(text);
        node_say_error("sim", "out of memory");
        return NODE_EXIT_INTERNAL;
    }
    int exit_code = NODE_EXIT_OK;
    mesh_err err = sim_lease_run(&config, result);
    mesh_now ended = node_now();
    double wall_s = (double) (ended.monotonic_ns - started.monotonic_ns) / 1e9;
    uint32_t text_size = 0;
    if (err != MESH_OK) {
        node_say_error("sim", "the run failed (seed %llu): %s", (unsigned long long) config.seed,
                       mesh_strerror(err));
        exit_code =
            node_exit_from_err(err) == NODE_EXIT_USAGE ? NODE_EXIT_USAGE : NODE_EXIT_INTERNAL;
    } else if (!json) {
        print_leases_summary(result);
        if (wall) {
            (void) printf("  wall clock: %.2f s\n", wall_s);
        }
    } else if (sim_lease_result_json(result, text, SIM_LEASE_JSON_SIZE_MAX, &text_size) !=
               MESH_OK) {
        node_say_error("sim", "the result does not fit its JSON buffer");
        exit_code = NODE_EXIT_INTERNAL;
    } else {
        MESH_ASSERT(text_size > 0 && text[text_size - 1] == '}');
        // The run's own object, then what differs between runs of one seed.
        text[text_size - 1] = '\0';
        if (wall) {
            (void) printf("%s,\"wall_s\":%.3f}\n", text, wall_s);
        } else {
            (void) printf("%s}\n", text);
        }
    }
    if (err == MESH_OK && exit_code == NODE_EXIT_OK &&
        result->invariant_violations + result->policy_violations > 0) {
        print_violations(result);
        exit_code = result->invariant_violations > 0 ? NODE_EXIT_INVALID : NODE_EXIT_OK;
    }
    free(result);
    free(text);
    return exit_code;
}

int node_cmd_sim(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "leases") == 0) {
        return sim_leases_command(argc, argv);
    }
    if (argc >= 2 && strcmp(argv[1], "replay") == 0) {
        return node_cmd_sim_replay(argc - 1, argv + 1);
    }
    if (argc >= 2 && strcmp(argv[1], "run") == 0) {
        return node_cmd_sim_run(argc - 1, argv + 1);
    }
    if (argc >= 2 && strcmp(argv[1], "trace") == 0) {
        return node_cmd_sim_trace(argc - 1, argv + 1);
    }
    if (argc >= 2 && strcmp(argv[1], "sweep") == 0) {
        return node_cmd_sim_sweep(argc, argv);
    }
    if (argc >= 2 && strcmp(argv[1], "aggregate") == 0) {
        return node_cmd_sim_aggregate(argc, argv);
    }
    if (argc >= 2 && strcmp(argv[1], "report") == 0) {
        return node_cmd_sim_report(argc, argv);
    }
    if (argc < 2 || node_wants_help(argc, argv)) {
        (void) fputs(sim_usage, argc < 2 ? stderr : stdout);
        (void) fputs(sim_usage_more, argc < 2 ? stderr : stdout);
        return argc < 2 ? NODE_EXIT_USAGE : NODE_EXIT_OK;
    }
    if (strcmp(argv[1], "gossip") != 0) {
        return sim_usage_error(
            "unknown command; the ones there are: gossip, leases, run, sweep, aggregate, report, "
            "trace, replay");
    }
    sim_gossip_config config;
    sim_gossip_config_default(&config);
    bool json = false;
    bool wall = true;
    bool show_progress = false;
    int64_t memory_max_mib = -1;
    static const struct option options[] = {
        {"nodes", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'},
        {"loss", required_argument, NULL, 'l'},
        {"fanout", required_argument, NULL, 'f'},
        {"interval-ms", required_argument, NULL, 'i'},
        {"partition-s", required_argument, NULL, 'p'},
        {"crash", required_argument, NULL, 'c'},
        {"skew-ms", required_argument, NULL, 'k'},
        {"memory-max-mib", required_argument, NULL, 'm'},
        {"json", no_argument, NULL, 'j'},
        {"no-wall", no_argument, NULL, 'w'},
        {"progress", no_argument, NULL, 'g'},
        {"no-verify-cache", no_argument, NULL, 'v'},
        {"idle-s", required_argument, NULL, 'd'},
        {"hostile", required_argument, NULL, 'H'},
        {"store-adverts-max", required_argument, NULL, 'S'},
        {NULL, 0, NULL, 0},
    };
    int c = 0;
    int64_t value = 0;
    optind = 1;
    opterr = 0;
    // getopt sees "gossip ..." with "gossip" in the program name's place.
    while ((c = getopt_long(argc - 1, argv + 1, "", options, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (node_parse_i64(optarg, 1, SIM_NODES_MAX, &value) != MESH_OK) {
                return sim_usage_error("--nodes wants a whole number from 1 to 100000");
            }
            config.node_count = (uint32_t) value;
            break;
        case 's':
            if (node_parse_i64(optarg, 0, INT64_MAX, &value) != MESH_OK) {
                return sim_usage_error("--seed wants a whole number >= 0");
            }
            config.seed = (uint64_t) value;
            break;
        case 'l':
            if (parse_loss(optarg, &config.loss_ppm) != MESH_OK) {
                return sim_usage_error("--loss wants a probability from 0 to 1 (0.01 = 1%)");
            }
            break;
        case 'f':
            if (node_parse_i64(optarg, 1, 64, &value) != MESH_OK) {
                return sim_usage_error("--fanout wants a whole number from 1 to 64");
            }
            config.fanout = (uint32_t) value;
            break;
        case 'i':
            if (node_parse_i64(optarg, 10, 60000, &value) != MESH_OK) {
                return sim_usage_error("--interval-ms wants milliseconds from 10 to 60000");
            }
            config.interval_ns = (uint64_t) value * MESH_NS_PER_MS;
            break;
        case 'p':
            if (node_parse_i64(optarg, 0, 86400, &value) != MESH_OK) {
                return sim_usage_error("--partition-s wants seconds from 0 to 86400");
            }
            config.partition_ns = (uint64_t) value * MESH_NS_PER_S;
            break;
        case 'c':
            if (node_parse_i64(optarg, 0, SIM_NODES_MAX, &value) != MESH_OK) {
                return sim_usage_error("--crash wants a whole number >= 0");
            }
            config.crash_count = (uint32_t) value;
            break;
        case 'k':
            if (node_parse_i64(optarg, 0, 3600000, &value) != MESH_OK) {
                return sim_usage_error("--skew-ms wants milliseconds from 0 to 3600000");
            }
            config.clock_skew_ns_max = value * (int64_t) MESH_NS_PER_MS;
            break;
        case 'm':
            if (node_parse_i64(optarg, 1, INT64_MAX / (1024ll * 1024ll), &value) != MESH_OK) {
                return sim_usage_error("--memory-max-mib wants a whole number of MiB");
            }
            memory_max_mib = value;
            break;
        case 'j':
            json = true;
            break;
        case 'w':
            wall = false;
            break;
        case 'v':
            config.no_verify_cache = true;
            break;
        case 'H':
            if (node_parse_i64(optarg, 0, SIM_NODES_MAX, &value) != MESH_OK) {
                return sim_usage_error("--hostile wants a whole number of members");
            }
            config.hostile_count = (uint32_t) value;
            break;
        case 'S':
            if (node_parse_i64(optarg, 1, 1 << 26, &value) != MESH_OK) {
                return sim_usage_error("--store-adverts-max wants a whole number from 1 to 2^26");
            }
            config.store_adverts_max = (uint32_t) value;
            break;
        case 'd':
            if (node_parse_i64(optarg, 1, 3600, &value) != MESH_OK) {
                return sim_usage_error("--idle-s wants a whole number of seconds from 1 to 3600");
            }
            config.idle_window_ns = (uint64_t) value * MESH_NS_PER_S;
            break;
        case 'g':
            show_progress = true;
            break;
        default:
            return sim_usage_error("unknown option or missing value");
        }
    }
    if (optind != argc - 1) {
        return sim_usage_error("unexpected argument");
    }
    if (config.crash_count > 0 && config.crash_count + 3u > config.node_count) {
        return sim_usage_error(
            "--crash K needs --nodes of at least K + 3 (nodes 0..2 never crash)");
    }
    // Phases scale with the interval: a slow interval needs longer limits.
    uint64_t scale = config.interval_ns > MESH_NS_PER_S ? config.interval_ns / MESH_NS_PER_S : 1u;
    config.join_limit_ns *= scale;
    config.phase_limit_ns *= scale;

    memory_guard guard = {.node_count = config.node_count};
    guard.budget_bytes = memory_max_mib > 0 ? (uint64_t) memory_max_mib * 1024u * 1024u
                                            : memory_available_bytes() / 10u * 8u;
    guard.base_bytes = allocated_bytes();
    config.node_created = guard_node_created;
    config.node_created_context = &guard;

    mesh_now started = node_now();
    progress_state progress = {.started = started};
    if (show_progress) {
        config.progress = print_progress;
        config.progress_context = &progress;
    }
    sim_gossip_result result;
    mesh_err err = sim_gossip_run(&config, &result);
    mesh_now ended = node_now();
    if (err == MESH_ENOMEM && guard.refused) {
        double need =
            (double) guard.shared_bytes + guard.per_node_bytes * (double) config.node_count;
        node_say_error("sim",
                       "%u nodes will not fit: each gossip machine took %.2f MiB (members_max "
                       "%u, measured over the first %u nodes) and what they share %.1f MiB, "
                       "so all need about %.1f GiB, over the %.1f GiB allowed; use fewer "
                       "nodes or --memory-max-mib",
                       config.node_count, guard.per_node_bytes / MIB,
                       config.node_count + config.members_slack, GUARD_SAMPLE_NODES,
                       (double) guard.shared_bytes / MIB, need / MIB / 1024.0,
                       (double) guard.budget_bytes / MIB / 1024.0);
        return NODE_EXIT_REFUSED;
    }
    if (err == MESH_EFULL) {
        // sim_gossip_run said which store and how full on stderr.
        node_say_error("sim", "the run failed: a shared store of the simulator was too small");
        return NODE_EXIT_INTERNAL;
    }
    if (err != MESH_OK) {
        node_say_error("sim", "the run failed: %s", mesh_strerror(err));
        return node_exit_from_err(err) == NODE_EXIT_USAGE ? NODE_EXIT_USAGE : NODE_EXIT_INTERNAL;
    }
    double wall_s = (double) (ended.monotonic_ns - started.monotonic_ns) / 1e9;
    struct rusage usage;
    double max_rss_mib = 0;
    if (getrusage(RUSAGE_SELF, &usage) == 0) {
        max_rss_mib = (double) usage.ru_maxrss / 1024.0;
    }
    if (!json) {
        print_summary(&result);
        if (wall) {
            (void) printf("  wall clock: %.2f s, peak memory %.0f MiB (%.1f MiB per node)\n",
                          wall_s, max_rss_mib, guard.per_node_bytes / MIB);
        }
        return NODE_EXIT_OK;
    }
    char text[SIM_JSON_SIZE_MAX];
    uint32_t text_size = 0;
    if (sim_gossip_result_json(&result, text, sizeof(text), &text_size) != MESH_OK) {
        node_say_error("sim", "the result does not fit its JSON buffer");
        return NODE_EXIT_INTERNAL;
    }
    MESH_ASSERT(text_size > 0 && text[text_size - 1] == '}');
    // The run's own object, then what differs between runs of one seed.
    text[text_size - 1] = '\0';
    if (wall) {
        (void) printf("%s,\"memory_per_node_mib\":%.3f,\"max_rss_mib\":%.1f,\"wall_s\":%.3f}\n",
                      text, guard.per_node_bytes / MIB, max_rss_mib, wall_s);
    } else {
        (void) printf("%s}\n", text);
    }
    return NODE_EXIT_OK;
}
