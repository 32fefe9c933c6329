/*
 * tests/bench/bench_agents.c: two real agents on 127.0.0.1 for a
 * benchmark (bench_agents.h has the contract).
 *
 * Design. The identities come from the `fedmesh` binary itself (federation
 * init, keygen, federation admit), so nothing here knows their formats.
 * Ports are picked by binding port 0 on 127.0.0.1 (TCP, and UDP too for
 * the gossip port, which carries probes by UDP), holding every socket
 * until all ports are picked so that no two collide, and closing them just
 * before the agents start: another process could take one in between,
 * which the readiness wait then reports. The agents run as children with
 * PR_SET_PDEATHSIG, so a benchmark killed by a ctest timeout leaves no
 * agent behind.
 *
 * Bounds: each tool run 20 s, readiness as the caller says, a stop 5 s
 * before SIGKILL, each HTTP call 5 s.
 */
#define _GNU_SOURCE /* SOCK_CLOEXEC, mkdtemp, nftw, realpath */

#include "tests/bench/bench_agents.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <sodium.h>

#include "tests/bench/bench.h"

#define TOOL_TIMEOUT_MS 20000u
#define STOP_TERM_MS    5000u
#define HTTP_TIMEOUT_MS 5000
#define PORTS_PER_AGENT 3u
#define CONFIG_SIZE_MAX 4096u
#define LOG_TAIL_SIZE   2048

static const char *const agent_names[BENCH_AGENT_COUNT] = {"borrower", "lender"};

static void sleep_ms(uint32_t ms)
{
    struct timespec ts = {.tv_sec = (time_t) (ms / 1000u),
                          .tv_nsec = (long) (ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int join_path(char *out, size_t out_size, const char *dir, const char *name)
{
    int used = snprintf(out, out_size, "%s/%s", dir, name);
    if (used < 0 || (size_t) used >= out_size) {
        (void) fprintf(stderr, "bench lease: path too long: %s/%s\n", dir, name);
        return -1;
    }
    return 0;
}

/* Writes `size` bytes to a new file (never an existing one). */
static int write_new_file(const char *path, const char *text, size_t size, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        (void) fprintf(stderr, "bench lease: cannot create %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, text + done, size - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            (void) fprintf(stderr, "bench lease: cannot write %s: %s\n", path, strerror(errno));
            (void) close(fd);
            return -1;
        }
        done += (size_t) n;
    }
    return close(fd) == 0 ? 0 : -1;
}

/* Waits for `pid` at most timeout_ms; then SIGKILLs it. Returns its wait
 * status in *status_out, or -1 when it had to be killed. */
static int wait_child(pid_t pid, uint32_t timeout_ms, int *status_out)
{
    uint64_t deadline_ns = bench_clock_ns() + (uint64_t) timeout_ms * 1000000ull;
    for (;;) {
        int status = 0;
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid) {
            *status_out = status;
            return 0;
        }
        if (got < 0 && errno != EINTR) {
            return -1;
        }
        if (bench_clock_ns() >= deadline_ns) {
            (void) kill(pid, SIGKILL);
            (void) waitpid(pid, &status, 0);
            return -1;
        }
        sleep_ms(5);
    }
}

/* Forks and execs `argv` with stdout to /dev/null and stderr appended to
 * `log_path`. The child dies with the benchmark. */
static pid_t spawn(const char *const *argv, const char *log_path)
{
    pid_t parent = getpid();
    int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
        (void) fprintf(stderr, "bench lease: cannot open %s: %s\n", log_path, strerror(errno));
        return -1;
    }
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd < 0) {
        (void) close(log_fd);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        // The child: only async-signal-safe calls until exec.
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent ||
            dup2(null_fd, STDIN_FILENO) < 0 || dup2(null_fd, STDOUT_FILENO) < 0 ||
            dup2(log_fd, STDERR_FILENO) < 0) {
            _exit(126);
        }
        execv(argv[0], (char *const *) argv);
        _exit(127);
    }
    (void) close(log_fd);
    (void) close(null_fd);
    if (pid < 0) {
        (void) fprintf(stderr, "bench lease: fork: %s\n", strerror(errno));
    }
    return pid;
}

static int run_tool(const bench_agents *agents, const char *const *argv)
{
    char log_path[BENCH_PATH_SIZE];
    if (join_path(log_path, sizeof(log_path), agents->dir, "setup.log") != 0) {
        return -1;
    }
    pid_t pid = spawn(argv, log_path);
    if (pid < 0) {
        return -1;
    }
    int status = 0;
    if (wait_child(pid, TOOL_TIMEOUT_MS, &status) != 0 || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        (void) fprintf(stderr, "bench lease: `%s %s %s` failed (see %s)\n", argv[0], argv[1],
                       argv[2] != NULL ? argv[2] : "", log_path);
        return -1;
    }
    return 0;
}

static int find_fedmesh(const char *given, char out[BENCH_PATH_SIZE])
{
    if (given != NULL) {
        if (realpath(given, out) == NULL) {
            (void) fprintf(stderr, "bench lease: --fedmesh %s: %s\n", given, strerror(errno));
            return -1;
        }
    } else {
        char self[BENCH_PATH_SIZE];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0) {
            (void) fprintf(stderr, "bench lease: cannot read /proc/self/exe\n");
            return -1;
        }
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash == NULL) {
            return -1;
        }
        *slash = '\0';
        if (join_path(out, BENCH_PATH_SIZE, self, "fedmesh") != 0) {
            return -1;
        }
    }
    if (access(out, X_OK) != 0) {
        (void) fprintf(stderr,
                       "bench lease: no fedmesh binary at %s (build the fedmesh target, or pass "
                       "--fedmesh PATH)\n",
                       out);
        return -1;
    }
    return 0;
}

static int make_dir(const char *base, char out[BENCH_PATH_SIZE])
{
    char template[BENCH_PATH_SIZE];
    if (join_path(template, sizeof(template), base != NULL ? base : ".", "bench-lease.XXXXXX") !=
        0) {
        return -1;
    }
    if (mkdtemp(template) == NULL) {
        (void) fprintf(stderr, "bench lease: cannot make %s: %s\n", template, strerror(errno));
        return -1;
    }
    if (realpath(template, out) == NULL) {
        (void) fprintf(stderr, "bench lease: realpath %s: %s\n", template, strerror(errno));
        (void) rmdir(template);
        return -1;
    }
    return 0;
}

static int make_identities(bench_agents *agents)
{
    char root[BENCH_PATH_SIZE];
    if (join_path(root, sizeof(root), agents->dir, "root.key") != 0) {
        return -1;
    }
    const char *init[] = {agents->fedmesh, "federation", "init", "--out", root, NULL};
    if (run_tool(agents, init) != 0) {
        return -1;
    }
    for (uint32_t i = 0; i < BENCH_AGENT_COUNT; i++) {
        const char *name = agent_names[i];
        char key[BENCH_PATH_SIZE];
        char pub[BENCH_PATH_SIZE];
        char cert[BENCH_PATH_SIZE];
        char file[64];
        (void) snprintf(file, sizeof(file), "%s.key", name);
        int bad = join_path(key, sizeof(key), agents->dir, file);
        (void) snprintf(file, sizeof(file), "%s.key.pub", name);
        bad |= join_path(pub, sizeof(pub), agents->dir, file);
        (void) snprintf(file, sizeof(file), "%s.cert", name);
        bad |= join_path(cert, sizeof(cert), agents->dir, file);
        if (bad != 0) {
            return -1;
        }
        const char *keygen[] = {agents->fedmesh, "keygen", "--out", key, NULL};
        const char *admit[] = {
            agents->fedmesh, "federation", "admit",     "--root", root,    "--pubkey", pub,
            "--name",        name,         "--country", "FR",     "--out", cert,       NULL};
        if (run_tool(agents, keygen) != 0 || run_tool(agents, admit) != 0) {
            return -1;
        }
    }
    return 0;
}

static int make_token(bench_agents *agents)
{
    uint8_t raw[32];
    randombytes_buf(raw, sizeof(raw));
    (void) sodium_bin2base64(agents->token, sizeof(agents->token), raw, sizeof(raw),
                             sodium_base64_VARIANT_ORIGINAL);
    char line[BENCH_TOKEN_SIZE + 2];
    int used = snprintf(line, sizeof(line), "%s\n", agents->token);
    char path[BENCH_PATH_SIZE];
    if (used < 0 || (size_t) used >= sizeof(line) ||
        join_path(path, sizeof(path), agents->dir, "token") != 0) {
        return -1;
    }
    return write_new_file(path, line, (size_t) used, 0600);
}

/* One free port on 127.0.0.1: the socket stays open (bound) in *fd_out so
 * that the next pick cannot return it; with `udp_too`, the same port is
 * free for UDP as well (its socket in *udp_fd_out). */
static int pick_port(bool udp_too, int *fd_out, int *udp_fd_out, uint16_t *port_out)
{
    for (int attempt = 0; attempt < 64; attempt++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            return -1;
        }
        struct sockaddr_in address;
        memset(&address, 0, sizeof(address));
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t size = sizeof(address);
        if (bind(fd, (struct sockaddr *) &address, sizeof(address)) != 0 ||
            getsockname(fd, (struct sockaddr *) &address, &size) != 0) {
            (void) close(fd);
            return -1;
        }
        int udp = -1;
        if (udp_too) {
            udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            if (udp < 0 || bind(udp, (struct sockaddr *) &address, sizeof(address)) != 0) {
                if (udp >= 0) {
                    (void) close(udp);
                }
                (void) close(fd);
                continue; // taken for UDP: another port
            }
        }
        *fd_out = fd;
        *udp_fd_out = udp;
        *port_out = ntohs(address.sin_port);
        return 0;
    }
    return -1;
}

static int pick_ports(bench_agents *agents)
{
    int fds[BENCH_AGENT_COUNT * PORTS_PER_AGENT * 2];
    uint32_t fd_count = 0;
    int result = 0;
    for (uint32_t i = 0; i < BENCH_AGENT_COUNT && result == 0; i++) {
        bench_agent *agent = &agents->agents[i];
        uint16_t *ports[PORTS_PER_AGENT] = {&agent->gossip_port, &agent->control_port,
                                            &agent->http_port};
        for (uint32_t p = 0; p < PORTS_PER_AGENT && result == 0; p++) {
            int fd = -1;
            int udp = -1;
            result = pick_port(p == 0, &fd, &udp, ports[p]);
            if (result == 0) {
                fds[fd_count++] = fd;
                if (udp >= 0) {
                    fds[fd_count++] = udp;
                }
            }
        }
    }
    for (uint32_t i = 0; i < fd_count; i++) {
        (void) close(fds[i]);
    }
    if (result != 0) {
        (void) fprintf(stderr, "bench lease: cannot find free ports on 127.0.0.1\n");
    }
    return result;
}

static int write_config(const bench_agents *agents, uint32_t index, uint32_t leases_max)
{
    const bench_agent *agent = &agents->agents[index];
    const bench_agent *other = &agents->agents[1u - index];
    // The lender lends plenty and asks no per-peer limit; the borrower
    // lends nothing. usage_interval_s is a day: no usage records while the
    // benchmark runs, only the OPENED record of each lease.
    const char *capacity = index == BENCH_AGENT_LENDER ? "vcpu_total = 1000000000\n"
                                                         "vcpu_lendable = 1000000000\n"
                                                         "price_microeur_per_vcpu_hour = 20000\n"
                                                       : "vcpu_total = 64\n";
    char text[CONFIG_SIZE_MAX];
    int used = snprintf(text, sizeof(text),
                        "# written by fedmesh-bench lease\n"
                        "[node]\n"
                        "name = %s\n"
                        "key_file = %s.key\n"
                        "certificate_file = %s.cert\n"
                        "root_public_key_file = root.key.pub\n"
                        "listen = tcp://127.0.0.1:%u\n"
                        "control = tcp://127.0.0.1:%u\n"
                        "seeds = tcp://127.0.0.1:%u\n"
                        "\n[capacity]\n%s"
                        "\n[gossip]\n"
                        "probe_interval_ms = 200\n"
                        "probe_timeout_ms = 80\n"
                        "suspicion_min_ms = 400\n"
                        "suspicion_max_ms = 1200\n"
                        "\n[lease]\n"
                        "offer_ttl_ms = %u\n"
                        "leases_max = %u\n"
                        "usage_interval_s = 86400\n"
                        "\n[http]\n"
                        "listen = http://127.0.0.1:%u\n"
                        "token_file = token\n"
                        "\n[ledger]\n"
                        "path = %s.ledger\n",
                        agent->name, agent->name, agent->name, agent->gossip_port,
                        agent->control_port, other->gossip_port, capacity, agents->offer_ttl_ms,
                        leases_max, agent->http_port, agent->name);
    char file[64];
    char path[BENCH_PATH_SIZE];
    (void) snprintf(file, sizeof(file), "%s.ini", agent->name);
    if (used < 0 || (size_t) used >= sizeof(text) ||
        join_path(path, sizeof(path), agents->dir, file) != 0) {
        return -1;
    }
    return write_new_file(path, text, (size_t) used, 0644);
}

int bench_agents_create(const bench_agents_config *config, bench_agents *agents)
{
    memset(agents, 0, sizeof(*agents));
    agents->offer_ttl_ms = config->offer_ttl_ms;
    for (uint32_t i = 0; i < BENCH_AGENT_COUNT; i++) {
        agents->agents[i].name = agent_names[i];
    }
    if (find_fedmesh(config->fedmesh, agents->fedmesh) != 0 ||
        make_dir(config->base_dir, agents->dir) != 0) {
        return -1;
    }
    for (uint32_t i = 0; i < BENCH_AGENT_COUNT; i++) {
        char file[64];
        (void) snprintf(file, sizeof(file), "%s.log", agent_names[i]);
        if (join_path(agents->agents[i].log_path, BENCH_PATH_SIZE, agents->dir, file) != 0) {
            return -1;
        }
    }
    if (make_identities(agents) != 0 || make_token(agents) != 0 || pick_ports(agents) != 0) {
        return -1;
    }
    for (uint32_t i = 0; i < BENCH_AGENT_COUNT; i++) {
        if (write_config(agents, i, config->leases_max) != 0) {
            return -1;
        }
    }
    return 0;
}

int bench_agents_start(bench_agents *agents)
{
    for (uint32_t i = 0; i < BENCH_AGENT_COUNT; i++) {
        bench_agent *agent = &agents->agents[i];
        char file[64];
        char config[BENCH_PATH_SIZE];
        (void) snprintf(file, sizeof(file), "%s.ini", agent->name);
        if (join_path(config, sizeof(config), agents->dir, file) != 0) {
            return -1;
        }
        const char *argv[] = {agents->fedmesh, "agent", "--config", config, NULL};
        agent->started_ns = bench_clock_ns();
        agent->pid = spawn(argv, agent->log_path);
        if (agent->pid < 0) {
            agent->pid = 0;
            return -1;
        }
    }
    return 0;
}

/* -1 (and a message) when an agent has exited. */
static int check_running(bench_agents *agents)
{
    for (uint32_t i = 0; i < BENCH_AGENT_COUNT; i++) {
        bench_agent *agent = &agents->agents[i];
        int status = 0;
        if (agent->pid > 0 && waitpid(agent->pid, &status, WNOHANG) == agent->pid) {
            agent->pid = 0;
            if (WIFSIGNALED(status)) {
                (void) fprintf(stderr,
                               "bench lease: the %s agent was killed by signal %d (see %s)\n",
                               agent->name, WTERMSIG(status), agent->log_path);
            } else {
                (void) fprintf(stderr, "bench lease: the %s agent exited with status %d (see %s)\n",
                               agent->name, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                               agent->log_path);
            }
            return -1;
        }
    }
    return 0;
}

/* Does agent `index` see the other agent alive? */
static bool sees_other_alive(const bench_agents *agents, uint32_t index)
{
    json_t *peers = NULL;
    if (bench_agents_get_json(agents, index, "/v1/peers", &peers) != 0) {
        return false;
    }
    bool alive = false;
    json_t *members = json_object_get(peers, "members");
    size_t i = 0;
    json_t *member = NULL;
    json_array_foreach(members, i, member)
    {
        const char *name = json_string_value(json_object_get(member, "name"));
        const char *state = json_string_value(json_object_get(member, "state"));
        if (name != NULL && state != NULL && strcmp(name, agents->agents[1u - index].name) == 0 &&
            strcmp(state, "alive") == 0) {
            alive = true;
        }
    }
    json_decref(peers);
    return alive;
}

int bench_agents_wait_ready(bench_agents *agents, uint32_t timeout_ms)
{
    uint64_t deadline_ns = bench_clock_ns() + (uint64_t) timeout_ms * 1000000ull;
    for (;;) {
        if (check_running(agents) != 0) {
            return -1;
        }
        if (sees_other_alive(agents, 0) && sees_other_alive(agents, 1)) {
            break;
        }
        if (bench_clock_ns() >= deadline_ns) {
            (void) fprintf(stderr,
                           "bench lease: the agents did not see each other alive within %u ms\n",
                           timeout_ms);
            return -1;
        }
        sleep_ms(50);
    }
    // A lender makes no offer for one offer_ttl after its start.
    uint64_t quiet_ns = agents->agents[BENCH_AGENT_LENDER].started_ns +
                        (uint64_t) agents->offer_ttl_ms * 1000000ull + 250000000ull;
    uint64_t now_ns = bench_clock_ns();
    if (quiet_ns > now_ns) {
        sleep_ms((uint32_t) ((quiet_ns - now_ns) / 1000000ull + 1));
    }
    return check_running(agents);
}

int bench_agents_stop(bench_agents *agents)
{
    int result = 0;
    for (uint32_t i = 0; i < BENCH_AGENT_COUNT; i++) {
        if (agents->agents[i].pid > 0) {
            (void) kill(agents->agents[i].pid, SIGTERM);
        }
    }
    for (uint32_t i = 0; i < BENCH_AGENT_COUNT; i++) {
        bench_agent *agent = &agents->agents[i];
        if (agent->pid <= 0) {
            continue;
        }
        int status = 0;
        if (wait_child(agent->pid, STOP_TERM_MS, &status) != 0) {
            (void) fprintf(stderr, "bench lease: the %s agent needed SIGKILL\n", agent->name);
            result = -1;
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            (void) fprintf(stderr, "bench lease: the %s agent stopped with status %d\n",
                           agent->name, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
            result = -1;
        }
        agent->pid = 0;
    }
    return result;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) ftw;
    return (flag == FTW_DP ? rmdir(path) : unlink(path)) == 0 ? 0 : -1;
}

void bench_agents_destroy(bench_agents *agents, bool keep_dir)
{
    for (uint32_t i = 0; i < BENCH_AGENT_COUNT; i++) {
        bench_agent *agent = &agents->agents[i];
        if (agent->pid > 0) {
            (void) kill(agent->pid, SIGKILL);
            (void) waitpid(agent->pid, NULL, 0);
            agent->pid = 0;
        }
    }
    if (agents->dir[0] == '\0') {
        return;
    }
    if (keep_dir) {
        (void) fprintf(stderr, "bench lease: kept %s\n", agents->dir);
    } else if (nftw(agents->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        (void) fprintf(stderr, "bench lease: could not remove all of %s\n", agents->dir);
    }
    agents->dir[0] = '\0';
}

void bench_agents_print_logs(bench_agents *agents)
{
    (void) check_running(agents); // names an agent that died
    for (uint32_t i = 0; i < BENCH_AGENT_COUNT; i++) {
        const bench_agent *agent = &agents->agents[i];
        FILE *file = fopen(agent->log_path, "r");
        if (file == NULL) {
            continue;
        }
        char tail[LOG_TAIL_SIZE + 1];
        size_t size = 0;
        if (fseek(file, -LOG_TAIL_SIZE, SEEK_END) != 0) {
            rewind(file);
        }
        size = fread(tail, 1, LOG_TAIL_SIZE, file);
        tail[size] = '\0';
        (void) fclose(file);
        // From the first whole line on.
        const char *start = size == LOG_TAIL_SIZE ? strchr(tail, '\n') : NULL;
        start = start != NULL ? start + 1 : tail;
        (void) fprintf(stderr, "---- end of %s ----\n%s", agent->log_path, start);
    }
}

void bench_agents_url(const bench_agents *agents, uint32_t index, char url[BENCH_URL_SIZE])
{
    (void) snprintf(url, BENCH_URL_SIZE, "http://127.0.0.1:%u", agents->agents[index].http_port);
}

int bench_agents_get_text(const bench_agents *agents,
                          uint32_t index,
                          const char *path,
                          char **text_out)
{
    char base[BENCH_URL_SIZE];
    char text[BENCH_URL_SIZE + 256];
    char authorization[BENCH_TOKEN_SIZE + 16];
    bench_agents_url(agents, index, base);
    int used = snprintf(text, sizeof(text), "%s%s", base, path);
    if (used < 0 || (size_t) used >= sizeof(text)) {
        return -1;
    }
    (void) snprintf(authorization, sizeof(authorization), "Bearer %s", agents->token);
    int result = -1;
    nng_url *url = NULL;
    nng_http_client *client = NULL;
    nng_http_req *req = NULL;
    nng_http_res *res = NULL;
    nng_aio *aio = NULL;
    if (nng_url_parse(&url, text) != 0) {
        return -1;
    }
    if (nng_http_client_alloc(&client, url) != 0) {
        goto out_free_url;
    }
    if (nng_http_req_alloc(&req, url) != 0) {
        goto out_free_client;
    }
    if (nng_http_res_alloc(&res) != 0) {
        goto out_free_req;
    }
    if (nng_aio_alloc(&aio, NULL, NULL) != 0) {
        goto out_free_res;
    }
    if (nng_http_req_set_header(req, "Authorization", authorization) != 0) {
        goto out_free_aio;
    }
    nng_aio_set_timeout(aio, HTTP_TIMEOUT_MS);
    nng_http_client_transact(client, req, res, aio);
    nng_aio_wait(aio);
    if (nng_aio_result(aio) != 0 || nng_http_res_get_status(res) != 200) {
        goto out_free_aio;
    }
    void *data = NULL;
    size_t size = 0;
    nng_http_res_get_data(res, &data, &size);
    char *copy = malloc(size + 1);
    if (copy == NULL) {
        goto out_free_aio;
    }
    if (size > 0) {
        memcpy(copy, data, size);
    }
    copy[size] = '\0';
    *text_out = copy;
    result = 0;
out_free_aio:
    nng_aio_free(aio);
out_free_res:
    nng_http_res_free(res);
out_free_req:
    nng_http_req_free(req);
out_free_client:
    nng_http_client_free(client);
out_free_url:
    nng_url_free(url);
    return result;
}

int bench_agents_get_json(const bench_agents *agents,
                          uint32_t index,
                          const char *path,
                          json_t **body_out)
{
    char *text = NULL;
    if (bench_agents_get_text(agents, index, path, &text) != 0) {
        return -1;
    }
    json_error_t error;
    *body_out = json_loads(text, 0, &error);
    free(text);
    return *body_out != NULL ? 0 : -1;
}

void bench_fs_of(const char *path,
                 char type_out[BENCH_FS_TEXT_SIZE],
                 char source_out[BENCH_FS_TEXT_SIZE])
{
    (void) snprintf(type_out, BENCH_FS_TEXT_SIZE, "unknown");
    (void) snprintf(source_out, BENCH_FS_TEXT_SIZE, "unknown");
    char real[BENCH_PATH_SIZE];
    FILE *file = realpath(path, real) != NULL ? fopen("/proc/self/mountinfo", "r") : NULL;
    if (file == NULL) {
        return;
    }
    // Each line: id parent major:minor root MOUNT_POINT options [tags] - TYPE SOURCE super.
    char line[BENCH_PATH_SIZE];
    size_t best = 0;
    while (fgets(line, sizeof(line), file) != NULL) {
        char *fields[5] = {NULL};
        char *cursor = line;
        for (int f = 0; f < 5 && cursor != NULL; f++) {
            fields[f] = cursor;
            cursor = strchr(cursor, ' ');
            if (cursor != NULL) {
                *cursor++ = '\0';
            }
        }
        char *dash = cursor != NULL ? strstr(cursor, " - ") : NULL;
        if (fields[4] == NULL || dash == NULL) {
            continue;
        }
        const char *mount = fields[4];
        size_t mount_size = strlen(mount);
        bool prefix =
            strcmp(mount, "/") == 0 || (strncmp(real, mount, mount_size) == 0 &&
                                        (real[mount_size] == '/' || real[mount_size] == '\0'));
        if (!prefix || mount_size < best) {
            continue;
        }
        char *type = dash + 3;
        char *source = strchr(type, ' ');
        if (source == NULL) {
            continue;
        }
        *source++ = '\0';
        char *end = strchr(source, ' ');
        if (end != NULL) {
            *end = '\0';
        }
        best = mount_size;
        (void) snprintf(type_out, BENCH_FS_TEXT_SIZE, "%s", type);
        (void) snprintf(source_out, BENCH_FS_TEXT_SIZE, "%s", source);
    }
    (void) fclose(file);
}
