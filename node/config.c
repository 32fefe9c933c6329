/*
 * node/config.c: the agent's INI configuration (see config_int.h for the
 * contract, docs/node.example.ini for every key).
 *
 * Design: libinih does the lexing; everything else is a table of keys,
 * each with a kind (name, path, endpoint, number with a unit...) and a
 * range, so that one function checks every value the same way and every
 * message names the key and its allowed range. libinih's handler gets no
 * line number in Debian's build (INI_HANDLER_LINENO is 0), so the text is
 * fed through our own line reader, which counts lines, refuses NUL bytes
 * and over-long lines (libinih would split them silently), and checks
 * section headers itself (libinih calls the handler for keys only, so an
 * empty misspelt section would otherwise pass unnoticed).
 *
 * Durations are written in the unit their key names (_ms, _s, _h) and
 * converted to nanoseconds here, once (STYLE 2.6).
 *
 * [data_class NAME] sections are the one kind of section that repeats
 * under different names: the line reader registers each class when it
 * meets the header (so that a duplicate or a 17th class is refused at its
 * own line), and on_key routes "data_class NAME" to that class's keys,
 * which are counted per class so that each class may set each key once.
 * Names that refer to a class ([lease] default_data_class, [burst]
 * data_class) are resolved once the whole file is read, so a class may be
 * defined after its first use.
 */
#define _XOPEN_SOURCE 700 /* realpath */

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "node/config_int.h"

typedef enum key_kind {
    KIND_NAME = 1,      /* a member name, [a-z0-9-] */
    KIND_PATH,          /* a file; relative to the config's directory */
    KIND_PATH_LIST,     /* comma-separated files; the key may repeat */
    KIND_ENDPOINT,      /* tcp://HOST:PORT */
    KIND_CONTROL,       /* ipc://PATH or tcp://HOST:PORT */
    KIND_ENDPOINT_LIST, /* comma-separated tcp:// endpoints; the key may repeat */
    KIND_LOG_LEVEL,
    KIND_TEXT_ENDPOINT,  /* printable ASCII without spaces, may be empty */
    KIND_U64,            /* a plain number */
    KIND_MS,             /* milliseconds, stored as ns */
    KIND_S,              /* seconds, stored as ns */
    KIND_H,              /* hours, stored as ns */
    KIND_RESOURCE,       /* a capacity amount or price; see resource_* below */
    KIND_HTTP_LISTEN,    /* http://HOST:PORT */
    KIND_COUNTRIES,      /* comma-separated ISO 3166-1 alpha-2 codes; the key may repeat */
    KIND_JURISDICTIONS,  /* comma-separated ISO codes or EU; the key may repeat */
    KIND_CERTIFICATIONS, /* comma-separated certification names; the key may repeat */
    KIND_CLASS_NAME,     /* the name of a [data_class NAME], resolved in finish() */
    KIND_HOOK,           /* an executable file, or empty for none */
} key_kind;

/* The fields of one resource class in [capacity]. */
enum {
    FIELD_TOTAL = 0,
    FIELD_FREE = 1,
    FIELD_LENDABLE = 2,
    FIELD_PRICE = 3,
    FIELD_KEEP = 4,
    FIELD_PER_PEER_MAX = 5,
    FIELD_COUNT = 6
};

typedef enum key_id {
    KEY_NAME,
    KEY_KEY_FILE,
    KEY_CERTIFICATE_FILE,
    KEY_ROOT_PUBLIC_KEY_FILE,
    KEY_REVOCATION_FILES,
    KEY_DATA_DIR,
    KEY_LISTEN,
    KEY_ADVERTISE,
    KEY_CONTROL,
    KEY_SEEDS,
    KEY_LOG_LEVEL,
    KEY_CARBON,
    KEY_API_ENDPOINT,
    KEY_PROBE_INTERVAL,
    KEY_PROBE_TIMEOUT,
    KEY_SUSPICION_MIN,
    KEY_SUSPICION_MAX,
    KEY_ADVERT_REFRESH,
    KEY_REJOIN_INTERVAL,
    KEY_DOWN_FORGET,
    KEY_CLOCK_SKEW_MAX,
    KEY_MEMBERS_MAX,
    KEY_REVOCATIONS_MAX,
    KEY_FANOUT,
    KEY_UDP_PROBES,
    KEY_INDIRECT_PROBES,
    KEY_DIGEST_PAGES,
    KEY_BYTES_PER_S,
    KEY_HTTP_LISTEN,
    KEY_HTTP_TOKEN_FILE,
    KEY_HTTP_BODY_MAX,
    KEY_TLS_CERT_KEY_FILE,
    KEY_TLS_CA_FILE,
    KEY_LEDGER_PATH,
    KEY_LEDGER_HALF_LIFE,
    KEY_RESOURCE, /* every fixed [capacity] resource key shares this id */
    KEY_LEASE_OFFER_TTL,
    KEY_LEASE_REQUEST_TIMEOUT,
    KEY_LEASE_RETRY_INTERVAL,
    KEY_LEASE_RETRY_MAX,
    KEY_LEASE_USAGE_INTERVAL,
    KEY_LEASE_RECLAIM_NOTICE,
    KEY_LEASE_DURATION_MAX,
    KEY_LEASE_START_AHEAD_MAX,
    KEY_LEASE_CLOCK_SKEW_MAX,
    KEY_LEASE_LEASES_MAX,
    KEY_LEASE_BORROWS_MAX,
    KEY_LEASE_IN_FLIGHT_MAX,
    KEY_LEASE_CANDIDATES_MAX,
    KEY_LEASE_RECIPROCITY_SHARE,
    KEY_LEASE_WEIGHT_RECIPROCITY,
    KEY_LEASE_WEIGHT_RTT,
    KEY_LEASE_WEIGHT_PRICE,
    KEY_LEASE_WEIGHT_CARBON,
    KEY_LEASE_DEFAULT_DATA_CLASS,
    KEY_CLASS_COUNTRIES,
    KEY_CLASS_JURISDICTIONS,
    KEY_CLASS_CERTIFICATIONS,
    KEY_CLASS_MAX_RTT,
    KEY_CLASS_MAX_COST,
    KEY_CLASS_MAX_CARBON,
    KEY_BURST_ENABLED,
    KEY_BURST_THRESHOLD,
    KEY_BURST_RELEASE_MARGIN,
    KEY_BURST_RELEASE_DELAY,
    KEY_BURST_LEASE_DURATION,
    KEY_BURST_RETRY,
    KEY_BURST_DATA_CLASS,
    KEY_HOOK_ON_GRANTED,
    KEY_HOOK_ON_RECLAIM_NOTICE,
    KEY_HOOK_ON_ENDED,
    KEY_HOOK_ON_MEMBER,
    KEY_HOOK_TIMEOUT,
    KEY_RECORD_PATH,
    KEY_RECORD_MAX_MIB,
    KEY_RECORD_KEEP,
} key_id;

typedef struct key_spec {
    const char *section;
    const char *name;
    key_id id;
    key_kind kind;
    uint64_t min;
    uint64_t max;
    uint32_t resource_index; /* KIND_RESOURCE: 0 vcpu, 1 memory, 2 storage */
    uint32_t field;          /* KIND_RESOURCE: FIELD_* */
} key_spec;

#define DAY_S   86400ull
#define HOUR_MS 3600000ull
#define HOUR_NS (3600ull * MESH_NS_PER_S)

/* The section name data class keys are listed under in keys[]; in the
 * file it is "data_class NAME". */
#define CLASS_SECTION        "data_class"
#define CLASS_SECTION_PREFIX "data_class "

/* Every key the file may hold. Ranges are inclusive. */
static const key_spec keys[] = {
    {"node", "name", KEY_NAME, KIND_NAME, 1, WIRE_NAME_SIZE_MAX, 0, 0},
    {"node", "key_file", KEY_KEY_FILE, KIND_PATH, 0, 0, 0, 0},
    {"node", "certificate_file", KEY_CERTIFICATE_FILE, KIND_PATH, 0, 0, 0, 0},
    {"node", "root_public_key_file", KEY_ROOT_PUBLIC_KEY_FILE, KIND_PATH, 0, 0, 0, 0},
    {"node", "revocation_files", KEY_REVOCATION_FILES, KIND_PATH_LIST, 0, 0, 0, 0},
    {"node", "data_dir", KEY_DATA_DIR, KIND_PATH, 0, 0, 0, 0},
    {"node", "listen", KEY_LISTEN, KIND_ENDPOINT, 0, 0, 0, 0},
    {"node", "advertise", KEY_ADVERTISE, KIND_ENDPOINT, 0, 0, 0, 0},
    {"node", "control", KEY_CONTROL, KIND_CONTROL, 0, 0, 0, 0},
    {"node", "seeds", KEY_SEEDS, KIND_ENDPOINT_LIST, 0, 0, 0, 0},
    {"node", "log_level", KEY_LOG_LEVEL, KIND_LOG_LEVEL, 0, 0, 0, 0},
    {"capacity", "carbon_gco2_per_kwh", KEY_CARBON, KIND_U64, 0, WIRE_CARBON_MAX, 0, 0},
    {"capacity", "api_endpoint", KEY_API_ENDPOINT, KIND_TEXT_ENDPOINT, 0,
     NODE_CONFIG_API_ENDPOINT_SIZE_MAX, 0, 0},
    {"capacity", "vcpu_total", KEY_RESOURCE, KIND_RESOURCE, 0, WIRE_AMOUNT_MAX, 0, FIELD_TOTAL},
    {"capacity", "vcpu_free", KEY_RESOURCE, KIND_RESOURCE, 0, WIRE_AMOUNT_MAX, 0, FIELD_FREE},
    {"capacity", "vcpu_lendable", KEY_RESOURCE, KIND_RESOURCE, 0, WIRE_AMOUNT_MAX, 0,
     FIELD_LENDABLE},
    {"capacity", "price_microeur_per_vcpu_hour", KEY_RESOURCE, KIND_RESOURCE, 0, WIRE_PRICE_MAX, 0,
     FIELD_PRICE},
    {"capacity", "memory_gib_total", KEY_RESOURCE, KIND_RESOURCE, 0, WIRE_AMOUNT_MAX, 1,
     FIELD_TOTAL},
    {"capacity", "memory_gib_free", KEY_RESOURCE, KIND_RESOURCE, 0, WIRE_AMOUNT_MAX, 1, FIELD_FREE},
    {"capacity", "memory_gib_lendable", KEY_RESOURCE, KIND_RESOURCE, 0, WIRE_AMOUNT_MAX, 1,
     FIELD_LENDABLE},
    {"capacity", "price_microeur_per_memory_gib_hour", KEY_RESOURCE, KIND_RESOURCE, 0,
     WIRE_PRICE_MAX, 1, FIELD_PRICE},
    {"capacity", "storage_gib_total", KEY_RESOURCE, KIND_RESOURCE, 0, WIRE_AMOUNT_MAX, 2,
     FIELD_TOTAL},
    {"capacity", "storage_gib_free", KEY_RESOURCE, KIND_RESOURCE, 0, WIRE_AMOUNT_MAX, 2,
     FIELD_FREE},
    {"capacity", "storage_gib_lendable", KEY_RESOURCE, KIND_RESOURCE, 0, WIRE_AMOUNT_MAX, 2,
     FIELD_LENDABLE},
    {"capacity", "price_microeur_per_storage_gib_hour", KEY_RESOURCE, KIND_RESOURCE, 0,
     WIRE_PRICE_MAX, 2, FIELD_PRICE},
    {"capacity", "vcpu_keep", KEY_RESOURCE, KIND_RESOURCE, 0, WIRE_AMOUNT_MAX, 0, FIELD_KEEP},
    {"capacity", "vcpu_per_peer_max", KEY_RESOURCE, KIND_RESOURCE, 0, WIRE_AMOUNT_MAX, 0,
     FIELD_PER_PEER_MAX},
    {"capacity", "memory_gib_keep", KEY_RESOURCE, KIND_RESOURCE, 0, WIRE_AMOUNT_MAX, 1, FIELD_KEEP},
    {"capacity", "memory_gib_per_peer_max", KEY_RESOURCE, KIND_RESOURCE, 0, WIRE_AMOUNT_MAX, 1,
     FIELD_PER_PEER_MAX},
    {"capacity", "storage_gib_keep", KEY_RESOURCE, KIND_RESOURCE, 0, WIRE_AMOUNT_MAX, 2,
     FIELD_KEEP},
    {"capacity", "storage_gib_per_peer_max", KEY_RESOURCE, KIND_RESOURCE, 0, WIRE_AMOUNT_MAX, 2,
     FIELD_PER_PEER_MAX},
    {"gossip", "probe_interval_ms", KEY_PROBE_INTERVAL, KIND_MS, 10, 60000, 0, 0},
    {"gossip", "probe_timeout_ms", KEY_PROBE_TIMEOUT, KIND_MS, 1, 60000, 0, 0},
    {"gossip", "suspicion_min_ms", KEY_SUSPICION_MIN, KIND_MS, 10, HOUR_MS, 0, 0},
    {"gossip", "suspicion_max_ms", KEY_SUSPICION_MAX, KIND_MS, 10, HOUR_MS, 0, 0},
    {"gossip", "advert_refresh_s", KEY_ADVERT_REFRESH, KIND_S, 1, DAY_S, 0, 0},
    {"gossip", "rejoin_interval_s", KEY_REJOIN_INTERVAL, KIND_S, 1, DAY_S, 0, 0},
    {"gossip", "down_forget_s", KEY_DOWN_FORGET, KIND_S, 1, 30 * DAY_S, 0, 0},
    {"gossip", "clock_skew_max_s", KEY_CLOCK_SKEW_MAX, KIND_S, 1, DAY_S, 0, 0},
    {"gossip", "members_max", KEY_MEMBERS_MAX, KIND_U64, 2, 16384, 0, 0},
    {"gossip", "revocations_max", KEY_REVOCATIONS_MAX, KIND_U64, 1, 16384, 0, 0},
    {"gossip", "fanout", KEY_FANOUT, KIND_U64, 1, 16, 0, 0},
    {"gossip", "udp_probes", KEY_UDP_PROBES, KIND_U64, 0, 1, 0, 0},
    {"gossip", "indirect_probes", KEY_INDIRECT_PROBES, KIND_U64, 0, 16, 0, 0},
    {"gossip", "digest_pages_per_round", KEY_DIGEST_PAGES, KIND_U64, 1, WIRE_DIGEST_PAGES_MAX, 0,
     0},
    {"gossip", "bytes_per_s_per_peer_max", KEY_BYTES_PER_S, KIND_U64, 65536, 1073741824ull, 0, 0},
    {"http", "listen", KEY_HTTP_LISTEN, KIND_HTTP_LISTEN, 0, 0, 0, 0},
    {"http", "token_file", KEY_HTTP_TOKEN_FILE, KIND_PATH, 0, 0, 0, 0},
    {"http", "body_max", KEY_HTTP_BODY_MAX, KIND_U64, 256, NODE_CONFIG_HTTP_BODY_MAX_MAX, 0, 0},
    {"ledger", "path", KEY_LEDGER_PATH, KIND_PATH, 0, 0, 0, 0},
    {"tls", "cert_key_file", KEY_TLS_CERT_KEY_FILE, KIND_PATH, 0, 0, 0, 0},
    {"tls", "ca_file", KEY_TLS_CA_FILE, KIND_PATH, 0, 0, 0, 0},
    {"ledger", "half_life_s", KEY_LEDGER_HALF_LIFE, KIND_S, 60, 365 * DAY_S, 0, 0},
    {"lease", "offer_ttl_ms", KEY_LEASE_OFFER_TTL, KIND_MS, 100, 600000, 0, 0},
    {"lease", "request_timeout_ms", KEY_LEASE_REQUEST_TIMEOUT, KIND_MS, 10, 600000, 0, 0},
    {"lease", "retry_interval_ms", KEY_LEASE_RETRY_INTERVAL, KIND_MS, 10, 60000, 0, 0},
    {"lease", "retry_max_s", KEY_LEASE_RETRY_MAX, KIND_S, 1, 3600, 0, 0},
    {"lease", "usage_interval_s", KEY_LEASE_USAGE_INTERVAL, KIND_S, 1, DAY_S, 0, 0},
    {"lease", "reclaim_notice_s", KEY_LEASE_RECLAIM_NOTICE, KIND_S, 0, DAY_S, 0, 0},
    {"lease", "duration_max_h", KEY_LEASE_DURATION_MAX, KIND_H, 1, 8784, 0, 0},
    {"lease", "start_ahead_max_h", KEY_LEASE_START_AHEAD_MAX, KIND_H, 0, 8784, 0, 0},
    {"lease", "clock_skew_max_s", KEY_LEASE_CLOCK_SKEW_MAX, KIND_S, 1, DAY_S, 0, 0},
    {"lease", "leases_max", KEY_LEASE_LEASES_MAX, KIND_U64, 2, 1048576, 0, 0},
    {"lease", "borrows_max", KEY_LEASE_BORROWS_MAX, KIND_U64, 1, 65536, 0, 0},
    {"lease", "in_flight_max", KEY_LEASE_IN_FLIGHT_MAX, KIND_U64, 1, 64, 0, 0},
    {"lease", "candidates_max", KEY_LEASE_CANDIDATES_MAX, KIND_U64, 1, 1024, 0, 0},
    {"lease", "reciprocity_share_permille", KEY_LEASE_RECIPROCITY_SHARE, KIND_U64, 0, 1000, 0, 0},
    {"lease", "weight_reciprocity", KEY_LEASE_WEIGHT_RECIPROCITY, KIND_U64, 0, 1000000, 0, 0},
    {"lease", "weight_rtt", KEY_LEASE_WEIGHT_RTT, KIND_U64, 0, 1000000, 0, 0},
    {"lease", "weight_price", KEY_LEASE_WEIGHT_PRICE, KIND_U64, 0, 1000000, 0, 0},
    {"lease", "weight_carbon", KEY_LEASE_WEIGHT_CARBON, KIND_U64, 0, 1000000, 0, 0},
    {"lease", "default_data_class", KEY_LEASE_DEFAULT_DATA_CLASS, KIND_CLASS_NAME, 0, 0, 0, 0},
    {CLASS_SECTION, "countries", KEY_CLASS_COUNTRIES, KIND_COUNTRIES, 0, 0, 0, 0},
    {CLASS_SECTION, "jurisdictions", KEY_CLASS_JURISDICTIONS, KIND_JURISDICTIONS, 0, 0, 0, 0},
    {CLASS_SECTION, "certifications", KEY_CLASS_CERTIFICATIONS, KIND_CERTIFICATIONS, 0, 0, 0, 0},
    {CLASS_SECTION, "max_rtt_ms", KEY_CLASS_MAX_RTT, KIND_MS, 0, 60000, 0, 0},
    {CLASS_SECTION, "max_cost_microeur_per_hour", KEY_CLASS_MAX_COST, KIND_U64, 0, WIRE_PRICE_MAX,
     0, 0},
    {CLASS_SECTION, "max_carbon_gco2_per_kwh", KEY_CLASS_MAX_CARBON, KIND_U64, 0, WIRE_CARBON_MAX,
     0, 0},
    {"burst", "enabled", KEY_BURST_ENABLED, KIND_U64, 0, 1, 0, 0},
    {"burst", "threshold", KEY_BURST_THRESHOLD, KIND_U64, 1, WIRE_AMOUNT_MAX, 0, 0},
    {"burst", "release_margin", KEY_BURST_RELEASE_MARGIN, KIND_U64, 0, WIRE_AMOUNT_MAX, 0, 0},
    {"burst", "release_delay_s", KEY_BURST_RELEASE_DELAY, KIND_S, 0, DAY_S, 0, 0},
    {"burst", "lease_duration_s", KEY_BURST_LEASE_DURATION, KIND_S, 60, 31622400, 0, 0},
    {"burst", "retry_s", KEY_BURST_RETRY, KIND_S, 1, DAY_S, 0, 0},
    {"burst", "data_class", KEY_BURST_DATA_CLASS, KIND_CLASS_NAME, 0, 0, 0, 0},
    {"hooks", "on_granted", KEY_HOOK_ON_GRANTED, KIND_HOOK, 0, 0, 0, 0},
    {"hooks", "on_reclaim_notice", KEY_HOOK_ON_RECLAIM_NOTICE, KIND_HOOK, 0, 0, 0, 0},
    {"hooks", "on_ended", KEY_HOOK_ON_ENDED, KIND_HOOK, 0, 0, 0, 0},
    {"hooks", "on_member", KEY_HOOK_ON_MEMBER, KIND_HOOK, 0, 0, 0, 0},
    {"hooks", "timeout_ms", KEY_HOOK_TIMEOUT, KIND_MS, 100, 600000, 0, 0},
    {"record", "path", KEY_RECORD_PATH, KIND_PATH, 0, 0, 0, 0},
    {"record", "max_mib", KEY_RECORD_MAX_MIB, KIND_U64, 1, 1048576, 0, 0},
    {"record", "keep", KEY_RECORD_KEEP, KIND_U64, 1, 100, 0, 0},
};

#define KEY_COUNT   (sizeof(keys) / sizeof(keys[0]))
#define CLASS_COUNT 3u

static const char *const sections[] = {"node", "capacity", "gossip", "http",  "ledger",
                                       "tls",  "lease",    "burst",  "hooks", "record"};
/* Every section, for messages. */
#define SECTION_LIST                                                                     \
    "[node], [capacity], [gossip], [http], [ledger], [tls], [lease], [burst], [hooks], " \
    "[record] and "                                                                      \
    "[data_class NAME]"
static const uint32_t class_of_index[CLASS_COUNT] = {WIRE_RESOURCE_VCPU, WIRE_RESOURCE_MEMORY_GIB,
                                                     WIRE_RESOURCE_STORAGE_GIB};
static const char *const field_suffix[FIELD_COUNT] = {
    "total", "free", "lendable", "price_microeur_per_hour", "keep", "per_peer_max"};

typedef struct resource_draft {
    bool set[FIELD_COUNT];
    uint32_t line[FIELD_COUNT];
    uint64_t value[FIELD_COUNT];
    char model[WIRE_MODEL_SIZE_MAX + 1]; /* GPU only */
} resource_draft;

/* The parse in progress. */
typedef struct parser {
    const char *path;
    char dir[NODE_CONFIG_PATH_SIZE_MAX]; /* the config's directory, with a trailing '/' */
    const char *text;
    uint32_t text_size;
    uint32_t at;   /* next byte to read */
    uint32_t line; /* the line the reader handed out last (1-based) */
    bool failed;
    mesh_err err;
    char *error;
    uint32_t key_line[KEY_COUNT]; /* where each key was first seen; 0 = not yet */
    resource_draft classes[CLASS_COUNT];
    uint32_t gpu_count;
    resource_draft gpus[NODE_CONFIG_GPU_MODELS_MAX];
    /* Data classes: where each was declared, and where each of its keys
     * was first seen (indexed like keys[]). */
    uint32_t class_line[NODE_CONFIG_DATA_CLASSES_MAX];
    uint32_t class_key_line[NODE_CONFIG_DATA_CLASSES_MAX][KEY_COUNT];
    /* Class names referred to, resolved in finish(). */
    char default_class[WIRE_DATA_CLASS_SIZE_MAX + 1];
    char burst_class[WIRE_DATA_CLASS_SIZE_MAX + 1];
    node_data_class *class_current; /* on_key: the class of the key being set */
    member_config member_defaults;  /* where the burst defaults come from */
    node_config *config;
} parser;

__attribute__((format(printf, 3, 4))) static void
fail_at(parser *p, mesh_err err, const char *format, ...)
{
    MESH_ASSERT(err != MESH_OK);
    if (p->failed) {
        return; // The first error is the one worth reading.
    }
    p->failed = true;
    p->err = err;
    int used = 0;
    if (p->line > 0) {
        used = snprintf(p->error, NODE_CONFIG_ERROR_SIZE, "%s:%u: ", p->path, p->line);
    } else {
        used = snprintf(p->error, NODE_CONFIG_ERROR_SIZE, "%s: ", p->path);
    }
    if (used < 0 || (uint32_t) used >= NODE_CONFIG_ERROR_SIZE) {
        return;
    }
    va_list args;
    va_start(args, format);
    (void) vsnprintf(p->error + used, NODE_CONFIG_ERROR_SIZE - (size_t) used, format, args);
    va_end(args);
}

static bool section_known(const char *name, size_t size)
{
    for (uint32_t i = 0; i < MESH_ARRAY_COUNT(sections); i++) {
        if (strlen(sections[i]) == size && memcmp(sections[i], name, size) == 0) {
            return true;
        }
    }
    return false;
}

/* A data class name: [a-z0-9-], 1..WIRE_DATA_CLASS_SIZE_MAX bytes. */
static bool class_name_valid(const char *name, size_t size)
{
    if (size == 0 || size > WIRE_DATA_CLASS_SIZE_MAX) {
        return false;
    }
    for (size_t i = 0; i < size; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return false;
        }
    }
    return true;
}

/* The index of the data class named by the first `size` bytes of name, or
 * UINT32_MAX. */
static uint32_t class_find(const node_config *config, const char *name, size_t size)
{
    MESH_ASSERT(config->data_class_count <= NODE_CONFIG_DATA_CLASSES_MAX);
    for (uint32_t i = 0; i < config->data_class_count; i++) {
        const char *have = config->data_classes[i].name;
        if (strlen(have) == size && memcmp(have, name, size) == 0) {
            return i;
        }
    }
    return UINT32_MAX;
}

const node_data_class *node_config_data_class(const node_config *config, const char *name)
{
    MESH_ASSERT(config != NULL && name != NULL);
    uint32_t index = class_find(config, name, strlen(name));
    return index == UINT32_MAX ? NULL : &config->data_classes[index];
}

/* A [data_class NAME] header: a new class, or an error at this line. */
static void class_declare(parser *p, const char *name, size_t size)
{
    node_config *config = p->config;
    if (!class_name_valid(name, size)) {
        fail_at(p, MESH_EINVAL,
                "[data_class %.*s]: a data class name is 1..%u characters a-z, 0-9 and '-'",
                (int) size, name, WIRE_DATA_CLASS_SIZE_MAX);
        return;
    }
    uint32_t index = class_find(config, name, size);
    if (index != UINT32_MAX) {
        fail_at(p, MESH_EPROTO, "[data_class %.*s] given twice (first at line %u)", (int) size,
                name, p->class_line[index]);
        return;
    }
    if (config->data_class_count >= NODE_CONFIG_DATA_CLASSES_MAX) {
        fail_at(p, MESH_EINVAL, "[data_class %.*s]: more than %u data classes", (int) size, name,
                NODE_CONFIG_DATA_CLASSES_MAX);
        return;
    }
    index = config->data_class_count++;
    node_data_class *data_class = &config->data_classes[index];
    memset(data_class, 0, sizeof(*data_class));
    memcpy(data_class->name, name, size);
    memcpy(data_class->constraints.data_class, name, size);
    p->class_line[index] = p->line;
}

/* Checks a section header's name (the bytes between '[' and ']'). */
static void section_check(parser *p, const char *name, size_t size)
{
    static const char prefix[] = CLASS_SECTION_PREFIX;
    if (section_known(name, size)) {
        return;
    }
    if (size >= sizeof(prefix) - 1 && memcmp(name, prefix, sizeof(prefix) - 1) == 0) {
        class_declare(p, name + sizeof(prefix) - 1, size - (sizeof(prefix) - 1));
        return;
    }
    if (size == sizeof(CLASS_SECTION) - 1 && memcmp(name, CLASS_SECTION, size) == 0) {
        fail_at(p, MESH_EPROTO, "[data_class] needs a name: [data_class NAME]");
        return;
    }
    fail_at(p, MESH_EPROTO, "unknown section [%.*s]; sections are " SECTION_LIST, (int) size, name);
}

/* libinih's line reader (fgets-like): hands out one line at a time, and
 * checks what libinih would let pass. */
static char *read_line(char *str, int num, void *stream)
{
    parser *p = stream;
    MESH_ASSERT(str != NULL && num > 2);
    if (p->failed || p->at >= p->text_size) {
        return NULL;
    }
    const char *start = p->text + p->at;
    uint32_t left = p->text_size - p->at;
    const char *newline = memchr(start, '\n', left);
    uint32_t size = newline != NULL ? (uint32_t) (newline - start) + 1u : left;
    p->line++;
    if (memchr(start, '\0', size) != NULL) {
        fail_at(p, MESH_EPROTO, "a NUL byte; this is not a text file");
        return NULL;
    }
    // num counts the NUL; a line must fit with its newline, or libinih
    // would cut it and read the rest as a line of its own.
    uint32_t content = newline != NULL ? size - 1u : size;
    if (content > NODE_CONFIG_LINE_SIZE_MAX || size + 1u > (uint32_t) num) {
        fail_at(p, MESH_EPROTO,
                "line longer than %u bytes; list keys (seeds, revocation_files) may be "
                "given on several lines",
                NODE_CONFIG_LINE_SIZE_MAX);
        return NULL;
    }
    memcpy(str, start, size);
    str[size] = '\0';
    p->at += size;

    // Find the section header where libinih will: after a UTF-8 byte
    // order mark on the first line, and after any isspace() byte (a
    // vertical tab or form feed too). A header libinih sees and this
    // reader did not would reach on_key unregistered (found by
    // fuzz_node_config).
    const char *c = str;
    if (p->line == 1 && (unsigned char) c[0] == 0xefu && (unsigned char) c[1] == 0xbbu &&
        (unsigned char) c[2] == 0xbfu) {
        c += 3;
    }
    while (*c != '\0' && isspace((unsigned char) *c)) {
        c++;
    }
    if (*c == '[') {
        const char *end = strchr(c, ']');
        if (end == NULL) {
            fail_at(p, MESH_EPROTO, "a section header without ']'");
            return NULL;
        }
        section_check(p, c + 1, (size_t) (end - c - 1));
        if (p->failed) {
            return NULL;
        }
    }
    return str;
}

static bool name_valid(const char *name)
{
    size_t size = strlen(name);
    if (size == 0 || size > WIRE_NAME_SIZE_MAX || name[0] == '-' || name[size - 1] == '-') {
        return false;
    }
    for (size_t i = 0; i < size; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return false;
        }
    }
    return true;
}

static bool model_valid(const char *model, size_t size)
{
    if (size == 0 || size > WIRE_MODEL_SIZE_MAX) {
        return false;
    }
    for (size_t i = 0; i < size; i++) {
        char c = model[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

static bool code_in(const char (*codes)[3], uint32_t count, const char *code)
{
    for (uint32_t i = 0; i < count; i++) {
        if (strcmp(codes[i], code) == 0) {
            return true;
        }
    }
    return false;
}

/* A limit where 0 means none: narrower's is at least as tight as base's. */
static bool limit_within(uint64_t base, uint64_t narrower)
{
    return base == 0 || (narrower != 0 && narrower <= base);
}

bool node_config_constraints_within(const wire_lease_constraints *base,
                                    const wire_lease_constraints *narrower)
{
    MESH_ASSERT(base != NULL && narrower != NULL);
    MESH_ASSERT(base->country_count <= WIRE_LEASE_COUNTRIES_MAX);
    MESH_ASSERT(narrower->country_count <= WIRE_LEASE_COUNTRIES_MAX);
    if (base->country_count > 0) {
        if (narrower->country_count == 0) {
            return false; // Anywhere is wider than a list.
        }
        for (uint32_t i = 0; i < narrower->country_count; i++) {
            if (!code_in(base->countries, base->country_count, narrower->countries[i])) {
                return false;
            }
        }
    }
    for (uint32_t i = 0; i < base->jurisdiction_count; i++) {
        if (!code_in(narrower->jurisdictions, narrower->jurisdiction_count,
                     base->jurisdictions[i])) {
            return false;
        }
    }
    return (base->certifications & ~narrower->certifications) == 0 &&
           limit_within(base->rtt_us_max, narrower->rtt_us_max) &&
           limit_within(base->cost_microeur_per_hour_max, narrower->cost_microeur_per_hour_max) &&
           limit_within(base->carbon_gco2_per_kwh_max, narrower->carbon_gco2_per_kwh_max);
}

bool node_config_model_valid(const char *model)
{
    return model_valid(model, strlen(model));
}

/* Printable ASCII without spaces, at most WIRE_ENDPOINT_SIZE_MAX bytes. */
static bool endpoint_text_valid(const char *text)
{
    size_t size = strlen(text);
    if (size > WIRE_ENDPOINT_SIZE_MAX) {
        return false;
    }
    for (size_t i = 0; i < size; i++) {
        if (text[i] <= ' ' || text[i] > '~') {
            return false;
        }
    }
    return true;
}

/* The host:port part of a tcp:// or tls+tcp:// endpoint, or NULL. */
static const char *endpoint_host(const char *endpoint)
{
    static const char tcp[] = "tcp://";
    static const char tls[] = "tls+tcp://";
    if (!endpoint_text_valid(endpoint)) {
        return NULL;
    }
    if (strncmp(endpoint, tcp, sizeof(tcp) - 1) == 0) {
        return endpoint + sizeof(tcp) - 1;
    }
    if (strncmp(endpoint, tls, sizeof(tls) - 1) == 0) {
        return endpoint + sizeof(tls) - 1;
    }
    return NULL;
}

bool node_config_endpoint_is_tls(const char *endpoint)
{
    return endpoint != NULL && strncmp(endpoint, "tls+tcp://", 10) == 0;
}

bool node_config_endpoint_valid(const char *endpoint)
{
    const char *host = endpoint_host(endpoint);
    if (host == NULL) {
        return false;
    }
    const char *colon = strrchr(host, ':');
    if (colon == NULL || colon == host || strchr(host, '/') != NULL) {
        return false;
    }
    uint64_t port = 0;
    const char *digit = colon + 1;
    if (*digit == '\0') {
        return false;
    }
    for (; *digit != '\0'; digit++) {
        if (*digit < '0' || *digit > '9' || port > 65535) {
            return false;
        }
        port = port * 10 + (uint64_t) (*digit - '0');
    }
    return port >= 1 && port <= 65535;
}

static bool control_valid(const char *endpoint)
{
    static const char ipc[] = "ipc://";
    if (strncmp(endpoint, ipc, sizeof(ipc) - 1) == 0) {
        // A Unix socket path: sun_path holds 108 bytes with the NUL.
        size_t size = strlen(endpoint) - (sizeof(ipc) - 1);
        return endpoint_text_valid(endpoint) && size > 0 && size < 108;
    }
    return !node_config_endpoint_is_tls(endpoint) && node_config_endpoint_valid(endpoint);
}

/* A wildcard listen address is fine, but nobody can dial it. */
static bool endpoint_is_wildcard(const char *endpoint)
{
    return strncmp(endpoint, "tcp://0.0.0.0:", 14) == 0 || strncmp(endpoint, "tcp://*:", 8) == 0 ||
           strncmp(endpoint, "tcp://:", 7) == 0 || strncmp(endpoint, "tcp://[::]:", 11) == 0;
}

static bool parse_u64(const char *text, uint64_t *out)
{
    if (text[0] < '0' || text[0] > '9') {
        return false; // strtoull would take a sign or spaces.
    }
    errno = 0;
    char *end = NULL;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || end == NULL || *end != '\0') {
        return false;
    }
    *out = (uint64_t) value;
    return true;
}

static bool copy_text(char *out, size_t out_size, const char *text, size_t size)
{
    if (size + 1 > out_size) {
        return false;
    }
    memcpy(out, text, size);
    out[size] = '\0';
    return true;
}

static void resolve_path(parser *p, const key_spec *key, const char *value, size_t size, char *out)
{
    if (size == 0) {
        fail_at(p, MESH_EINVAL, "%s: empty path", key->name);
        return;
    }
    size_t dir_size = value[0] == '/' ? 0 : strlen(p->dir);
    if (dir_size + size + 1 > NODE_CONFIG_PATH_SIZE_MAX) {
        fail_at(p, MESH_EINVAL, "%s: path longer than %u bytes", key->name,
                NODE_CONFIG_PATH_SIZE_MAX - 1);
        return;
    }
    memcpy(out, p->dir, dir_size);
    memcpy(out + dir_size, value, size);
    out[dir_size + size] = '\0';
}

/* Calls item() for each comma-separated, trimmed, non-empty element. */
static void split_list(parser *p,
                       const key_spec *key,
                       const char *value,
                       void (*item)(parser *p, const key_spec *key, const char *text, size_t size))
{
    const char *at = value;
    while (!p->failed) {
        const char *comma = strchr(at, ',');
        const char *end = comma != NULL ? comma : at + strlen(at);
        const char *start = at;
        while (start < end && (*start == ' ' || *start == '\t')) {
            start++;
        }
        const char *stop = end;
        while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t')) {
            stop--;
        }
        if (stop == start) {
            fail_at(p, MESH_EINVAL, "%s: an empty element in the comma-separated list", key->name);
            return;
        }
        item(p, key, start, (size_t) (stop - start));
        if (comma == NULL) {
            return;
        }
        at = comma + 1;
    }
}

static void add_revocation_file(parser *p, const key_spec *key, const char *text, size_t size)
{
    node_config *config = p->config;
    if (config->revocation_file_count >= NODE_CONFIG_REVOCATIONS_MAX) {
        fail_at(p, MESH_EINVAL, "%s: more than %u files", key->name, NODE_CONFIG_REVOCATIONS_MAX);
        return;
    }
    resolve_path(p, key, text, size, config->revocation_files[config->revocation_file_count]);
    config->revocation_file_count++;
}

static void add_seed(parser *p, const key_spec *key, const char *text, size_t size)
{
    node_config *config = p->config;
    if (config->seed_count >= GOSSIP_SEEDS_MAX) {
        fail_at(p, MESH_EINVAL, "%s: more than %u seeds", key->name, GOSSIP_SEEDS_MAX);
        return;
    }
    char *seed = config->seeds[config->seed_count];
    if (!copy_text(seed, NODE_CONFIG_ENDPOINT_SIZE, text, size) ||
        !node_config_endpoint_valid(seed)) {
        fail_at(p, MESH_EINVAL, "%s: '%.*s' is not tcp:// or tls+tcp://HOST:PORT (port 1..65535)",
                key->name, (int) size, text);
        return;
    }
    config->seed_count++;
}

/* A two-letter code of a countries or jurisdictions list, as a C string;
 * false when it is not two bytes. */
static bool code_copy(const char *text, size_t size, char out[3])
{
    if (size != 2) {
        return false;
    }
    memcpy(out, text, 2);
    out[2] = '\0';
    return true;
}

/* Adds code to a set of two-letter codes unless it is there already. */
static bool code_add(char (*codes)[3], uint32_t *count, uint32_t count_max, const char code[3])
{
    for (uint32_t i = 0; i < *count; i++) {
        if (strcmp(codes[i], code) == 0) {
            return true; // Listed twice: the set holds it once.
        }
    }
    if (*count >= count_max) {
        return false;
    }
    memcpy(codes[*count], code, 3);
    (*count)++;
    return true;
}

static void add_country(parser *p, const key_spec *key, const char *text, size_t size)
{
    wire_lease_constraints *constraints = &p->class_current->constraints;
    char code[3];
    if (!code_copy(text, size, code) || !wire_country_valid(code)) {
        fail_at(p, MESH_EINVAL,
                "%s: '%.*s' is not an ISO 3166-1 alpha-2 country code (upper case, e.g. FR)",
                key->name, (int) size, text);
        return;
    }
    if (!code_add(constraints->countries, &constraints->country_count, WIRE_LEASE_COUNTRIES_MAX,
                  code)) {
        fail_at(p, MESH_EINVAL, "%s: more than %u countries", key->name, WIRE_LEASE_COUNTRIES_MAX);
    }
}

static void add_jurisdiction(parser *p, const key_spec *key, const char *text, size_t size)
{
    wire_lease_constraints *constraints = &p->class_current->constraints;
    char code[3];
    if (!code_copy(text, size, code) || (strcmp(code, "EU") != 0 && !wire_country_valid(code))) {
        fail_at(p, MESH_EINVAL,
                "%s: '%.*s' is not an ISO 3166-1 alpha-2 country code (upper case) or EU",
                key->name, (int) size, text);
        return;
    }
    if (!code_add(constraints->jurisdictions, &constraints->jurisdiction_count,
                  WIRE_JURISDICTIONS_MAX, code)) {
        fail_at(p, MESH_EINVAL, "%s: more than %u jurisdictions", key->name,
                WIRE_JURISDICTIONS_MAX);
    }
}

static void add_certification(parser *p, const key_spec *key, const char *text, size_t size)
{
    char name[32];
    uint32_t bit = 0;
    if (!copy_text(name, sizeof(name), text, size) ||
        wire_certification_parse(name, &bit) != MESH_OK) {
        fail_at(p, MESH_EINVAL,
                "%s: '%.*s' is not a certification (SecNumCloud, C5, HDS, ISO27001, EUCS-basic, "
                "EUCS-substantial, EUCS-high)",
                key->name, (int) size, text);
        return;
    }
    p->class_current->constraints.certifications |= bit;
}

static int code_compare(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* [lease] default_data_class, [burst] data_class: checked for form here,
 * looked up in finish(). */
static void set_class_name(parser *p, const key_spec *key, const char *value)
{
    if (!class_name_valid(value, strlen(value))) {
        fail_at(p, MESH_EINVAL,
                "%s: '%s' is not a data class name (1..%u characters a-z, 0-9 and '-')", key->name,
                value, WIRE_DATA_CLASS_SIZE_MAX);
        return;
    }
    char *out = key->id == KEY_LEASE_DEFAULT_DATA_CLASS ? p->default_class : p->burst_class;
    (void) copy_text(out, WIRE_DATA_CLASS_SIZE_MAX + 1, value, strlen(value));
}

/* [hooks] on_*: a command the agent will run; it must be an executable
 * regular file now, so that a typo stops the agent at start. */
static void set_hook(parser *p, const key_spec *key, const char *value)
{
    node_hooks *hooks = &p->config->hooks;
    char *out = key->id == KEY_HOOK_ON_GRANTED          ? hooks->on_granted
                : key->id == KEY_HOOK_ON_RECLAIM_NOTICE ? hooks->on_reclaim_notice
                : key->id == KEY_HOOK_ON_MEMBER         ? hooks->on_member
                                                        : hooks->on_ended;
    if (value[0] == '\0') {
        out[0] = '\0'; // Empty: no hook.
        return;
    }
    resolve_path(p, key, value, strlen(value), out);
    if (p->failed) {
        return;
    }
    struct stat info;
    if (stat(out, &info) != 0) {
        fail_at(p, MESH_EINVAL, "%s: %s: %s", key->name, out, strerror(errno));
        return;
    }
    if (!S_ISREG(info.st_mode) || access(out, X_OK) != 0) {
        fail_at(p, MESH_EINVAL, "%s: %s is not an executable file", key->name, out);
    }
}

static void set_endpoint(parser *p, const key_spec *key, const char *value, char *out)
{
    bool valid =
        key->kind == KIND_CONTROL ? control_valid(value) : node_config_endpoint_valid(value);
    if (!valid) {
        fail_at(p, MESH_EINVAL, "%s: '%s' is not %s", key->name, value,
                key->kind == KIND_CONTROL ? "ipc://PATH (under 108 bytes) or tcp://HOST:PORT"
                                          : "tcp:// or tls+tcp://HOST:PORT (port 1..65535)");
        return;
    }
    MESH_ASSERT(strlen(value) < NODE_CONFIG_ENDPOINT_SIZE);
    (void) copy_text(out, NODE_CONFIG_ENDPOINT_SIZE, value, strlen(value));
}

/* [http] listen: http://HOST:PORT, checked like a tcp:// endpoint. https://
 * is refused: the API has no TLS configuration yet (put a TLS proxy in
 * front, or keep it on 127.0.0.1). */
static void set_http_listen(parser *p, const key_spec *key, const char *value)
{
    static const char scheme[] = "http://";
    char as_tcp[NODE_CONFIG_ENDPOINT_SIZE + 8];
    bool valid = strncmp(value, scheme, sizeof(scheme) - 1) == 0 &&
                 strlen(value) < NODE_CONFIG_ENDPOINT_SIZE &&
                 snprintf(as_tcp, sizeof(as_tcp), "tcp://%s", value + sizeof(scheme) - 1) > 0 &&
                 node_config_endpoint_valid(as_tcp);
    if (!valid) {
        fail_at(p, MESH_EINVAL,
                "%s: '%s' is not http://HOST:PORT (port 1..65535; https:// is not supported: "
                "keep the API on 127.0.0.1 or put a TLS proxy in front)",
                key->name, value);
        return;
    }
    (void) copy_text(p->config->http_listen, sizeof(p->config->http_listen), value, strlen(value));
}

/* [lease], [burst], [hooks] and data class numbers; false for a key of
 * another section. */
static bool set_lease_number(parser *p, const key_spec *key, uint64_t value, uint64_t ns)
{
    lease_config *lease = &p->config->lease;
    member_burst_config *burst = &p->config->burst;
    switch (key->id) {
    case KEY_LEASE_OFFER_TTL:
        lease->offer_ttl_ns = ns;
        return true;
    case KEY_LEASE_REQUEST_TIMEOUT:
        lease->request_timeout_ns = ns;
        return true;
    case KEY_LEASE_RETRY_INTERVAL:
        lease->retry_interval_ns = ns;
        return true;
    case KEY_LEASE_RETRY_MAX:
        lease->retry_max_ns = ns;
        return true;
    case KEY_LEASE_USAGE_INTERVAL:
        lease->usage_interval_ns = ns;
        return true;
    case KEY_LEASE_RECLAIM_NOTICE:
        lease->reclaim_notice_ns = ns;
        return true;
    case KEY_LEASE_DURATION_MAX:
        lease->duration_max_ns = ns;
        return true;
    case KEY_LEASE_START_AHEAD_MAX:
        lease->start_ahead_max_ns = ns;
        return true;
    case KEY_LEASE_CLOCK_SKEW_MAX:
        lease->clock_skew_max_ns = (int64_t) ns;
        return true;
    case KEY_LEASE_LEASES_MAX:
        lease->leases_max = (uint32_t) value;
        return true;
    case KEY_LEASE_BORROWS_MAX:
        lease->borrows_max = (uint32_t) value;
        return true;
    case KEY_LEASE_IN_FLIGHT_MAX:
        lease->in_flight_max = (uint32_t) value;
        return true;
    case KEY_LEASE_CANDIDATES_MAX:
        lease->candidates_max = (uint32_t) value;
        return true;
    case KEY_LEASE_RECIPROCITY_SHARE:
        lease->reciprocity_share_permille = (uint32_t) value;
        return true;
    case KEY_LEASE_WEIGHT_RECIPROCITY:
        lease->weights.reciprocity = (uint32_t) value;
        return true;
    case KEY_LEASE_WEIGHT_RTT:
        lease->weights.rtt = (uint32_t) value;
        return true;
    case KEY_LEASE_WEIGHT_PRICE:
        lease->weights.price = (uint32_t) value;
        return true;
    case KEY_LEASE_WEIGHT_CARBON:
        lease->weights.carbon = (uint32_t) value;
        return true;
    case KEY_CLASS_MAX_RTT:
        p->class_current->constraints.rtt_us_max = (uint32_t) (ns / MESH_NS_PER_US);
        return true;
    case KEY_CLASS_MAX_COST:
        p->class_current->constraints.cost_microeur_per_hour_max = value;
        return true;
    case KEY_CLASS_MAX_CARBON:
        p->class_current->constraints.carbon_gco2_per_kwh_max = (uint32_t) value;
        return true;
    case KEY_BURST_ENABLED:
        burst->enabled = value != 0;
        return true;
    case KEY_BURST_THRESHOLD:
        burst->threshold = value;
        return true;
    case KEY_BURST_RELEASE_MARGIN:
        burst->release_margin = value;
        return true;
    case KEY_BURST_RELEASE_DELAY:
        burst->release_delay_ns = ns;
        return true;
    case KEY_BURST_LEASE_DURATION:
        burst->lease_duration_ns = ns;
        return true;
    case KEY_BURST_RETRY:
        burst->retry_ns = ns;
        return true;
    case KEY_HOOK_TIMEOUT:
        p->config->hooks.timeout_ns = ns;
        return true;
    default:
        return false;
    }
}

static void set_number(parser *p, const key_spec *key, uint64_t value)
{
    gossip_config *settings = &p->config->gossip;
    uint64_t ns = value;
    if (key->kind == KIND_MS) {
        ns = value * MESH_NS_PER_MS;
    } else if (key->kind == KIND_S) {
        ns = value * MESH_NS_PER_S;
    } else if (key->kind == KIND_H) {
        ns = value * HOUR_NS;
    }
    if (set_lease_number(p, key, value, ns)) {
        return;
    }
    switch (key->id) {
    case KEY_CARBON:
        settings->advert.carbon_gco2_per_kwh = (uint32_t) value;
        break;
    case KEY_PROBE_INTERVAL:
        settings->probe_interval_ns = ns;
        break;
    case KEY_PROBE_TIMEOUT:
        settings->probe_timeout_ns = ns;
        break;
    case KEY_SUSPICION_MIN:
        settings->suspicion_min_ns = ns;
        break;
    case KEY_SUSPICION_MAX:
        settings->suspicion_max_ns = ns;
        break;
    case KEY_ADVERT_REFRESH:
        settings->advert_refresh_ns = ns;
        break;
    case KEY_REJOIN_INTERVAL:
        settings->rejoin_interval_ns = ns;
        break;
    case KEY_DOWN_FORGET:
        settings->down_forget_ns = ns;
        break;
    case KEY_CLOCK_SKEW_MAX:
        settings->clock_skew_max_ns = (int64_t) ns;
        break;
    case KEY_MEMBERS_MAX:
        settings->members_max = (uint32_t) value;
        break;
    case KEY_REVOCATIONS_MAX:
        settings->revocations_max = (uint32_t) value;
        break;
    case KEY_FANOUT:
        settings->fanout = (uint32_t) value;
        break;
    case KEY_UDP_PROBES:
        p->config->udp_probes = value != 0;
        break;
    case KEY_INDIRECT_PROBES:
        settings->indirect_probes = (uint32_t) value;
        break;
    case KEY_DIGEST_PAGES:
        settings->digest_pages_per_round = (uint32_t) value;
        break;
    case KEY_BYTES_PER_S:
        settings->bytes_per_s_per_peer_max = value;
        break;
    case KEY_HTTP_BODY_MAX:
        p->config->http_body_max = (uint32_t) value;
        break;
    case KEY_LEDGER_HALF_LIFE:
        p->config->ledger_half_life_ns = ns;
        break;
    case KEY_RECORD_MAX_MIB:
        p->config->record_bytes_max = value * 1048576u;
        break;
    case KEY_RECORD_KEEP:
        p->config->record_keep = (uint32_t) value;
        break;
    default:
        MESH_ASSERT(false && "set_number: a key of another kind");
    }
}

static void set_resource_field(parser *p,
                               const char *name,
                               resource_draft *draft,
                               uint32_t field,
                               uint64_t min,
                               uint64_t max,
                               const char *value)
{
    MESH_ASSERT(field < FIELD_COUNT);
    if (draft->set[field]) {
        fail_at(p, MESH_EPROTO, "%s given twice (first at line %u)", name, draft->line[field]);
        return;
    }
    uint64_t number = 0;
    if (!parse_u64(value, &number) || number < min || number > max) {
        fail_at(p, MESH_EINVAL, "%s: '%s' is not a whole number in %llu..%llu", name, value,
                (unsigned long long) min, (unsigned long long) max);
        return;
    }
    draft->set[field] = true;
    draft->line[field] = p->line;
    draft->value[field] = number;
}

/* [capacity] gpu.<MODEL>.<total|free|lendable|price_microeur_per_hour> */
static void set_gpu(parser *p, const char *name, const char *value)
{
    const char *model = name + 4;
    const char *dot = strrchr(model, '.');
    if (dot == NULL || !model_valid(model, (size_t) (dot - model))) {
        fail_at(p, MESH_EPROTO,
                "unknown key '%s' in [capacity]; GPU keys are gpu.<MODEL>.<FIELD> with MODEL "
                "of 1..%u characters [A-Za-z0-9._-]",
                name, WIRE_MODEL_SIZE_MAX);
        return;
    }
    size_t model_size = (size_t) (dot - model);
    uint32_t field = FIELD_COUNT;
    for (uint32_t f = 0; f < FIELD_COUNT; f++) {
        if (strcmp(dot + 1, field_suffix[f]) == 0) {
            field = f;
        }
    }
    if (field == FIELD_COUNT) {
        fail_at(p, MESH_EPROTO,
                "unknown key '%s' in [capacity]; a GPU field is total, free, lendable, "
                "price_microeur_per_hour, keep or per_peer_max",
                name);
        return;
    }
    resource_draft *draft = NULL;
    for (uint32_t i = 0; i < p->gpu_count; i++) {
        if (strlen(p->gpus[i].model) == model_size &&
            memcmp(p->gpus[i].model, model, model_size) == 0) {
            draft = &p->gpus[i];
        }
    }
    if (draft == NULL) {
        if (p->gpu_count >= NODE_CONFIG_GPU_MODELS_MAX) {
            fail_at(p, MESH_EINVAL, "%s: more than %u GPU models", name,
                    NODE_CONFIG_GPU_MODELS_MAX);
            return;
        }
        draft = &p->gpus[p->gpu_count++];
        memset(draft, 0, sizeof(*draft));
        (void) copy_text(draft->model, sizeof(draft->model), model, model_size);
    }
    uint64_t max = WIRE_AMOUNT_MAX;
    if (field == FIELD_PRICE) {
        max = WIRE_PRICE_MAX;
    }
    set_resource_field(p, name, draft, field, 0, max, value);
}

static void set_value(parser *p, const key_spec *key, const char *value)
{
    node_config *config = p->config;
    uint64_t number = 0;
    switch (key->kind) {
    case KIND_NAME:
        if (!name_valid(value)) {
            fail_at(p, MESH_EINVAL,
                    "%s: '%s' is not a member name (1..%u characters a-z, 0-9 and '-', not "
                    "starting or ending with '-')",
                    key->name, value, WIRE_NAME_SIZE_MAX);
            return;
        }
        (void) copy_text(config->name, sizeof(config->name), value, strlen(value));
        return;
    case KIND_PATH: {
        char *out = key->id == KEY_KEY_FILE            ? config->key_file
                    : key->id == KEY_CERTIFICATE_FILE  ? config->certificate_file
                    : key->id == KEY_HTTP_TOKEN_FILE   ? config->http_token_file
                    : key->id == KEY_LEDGER_PATH       ? config->ledger_path
                    : key->id == KEY_TLS_CERT_KEY_FILE ? config->tls_cert_key_file
                    : key->id == KEY_TLS_CA_FILE       ? config->tls_ca_file
                    : key->id == KEY_RECORD_PATH       ? config->record_path
                    : key->id == KEY_DATA_DIR          ? config->data_dir
                                                       : config->root_public_key_file;
        resolve_path(p, key, value, strlen(value), out);
        return;
    }
    case KIND_PATH_LIST:
        split_list(p, key, value, add_revocation_file);
        return;
    case KIND_ENDPOINT:
        set_endpoint(p, key, value, key->id == KEY_LISTEN ? config->listen : config->advertise);
        return;
    case KIND_CONTROL:
        set_endpoint(p, key, value, config->control);
        return;
    case KIND_ENDPOINT_LIST:
        split_list(p, key, value, add_seed);
        return;
    case KIND_LOG_LEVEL:
        if (node_log_level_parse(value, &config->log_level) != MESH_OK) {
            fail_at(p, MESH_EINVAL, "%s: '%s' is not one of debug, info, warn, error", key->name,
                    value);
        }
        return;
    case KIND_TEXT_ENDPOINT:
        if (!endpoint_text_valid(value) || strlen(value) > key->max) {
            fail_at(p, MESH_EINVAL,
                    "%s: must be printable ASCII without spaces, at most %llu bytes (or empty)",
                    key->name, (unsigned long long) key->max);
            return;
        }
        (void) copy_text(config->gossip.advert.api_endpoint,
                         sizeof(config->gossip.advert.api_endpoint), value, strlen(value));
        return;
    case KIND_U64:
    case KIND_MS:
    case KIND_S:
    case KIND_H:
        if (!parse_u64(value, &number) || number < key->min || number > key->max) {
            fail_at(p, MESH_EINVAL, "%s: '%s' is not a whole number in %llu..%llu", key->name,
                    value, (unsigned long long) key->min, (unsigned long long) key->max);
            return;
        }
        set_number(p, key, number);
        return;
    case KIND_HTTP_LISTEN:
        set_http_listen(p, key, value);
        return;
    case KIND_RESOURCE:
        MESH_ASSERT(key->resource_index < CLASS_COUNT);
        set_resource_field(p, key->name, &p->classes[key->resource_index], key->field, key->min,
                           key->max, value);
        return;
    case KIND_COUNTRIES:
        split_list(p, key, value, add_country);
        return;
    case KIND_JURISDICTIONS:
        split_list(p, key, value, add_jurisdiction);
        return;
    case KIND_CERTIFICATIONS:
        split_list(p, key, value, add_certification);
        return;
    case KIND_CLASS_NAME:
        set_class_name(p, key, value);
        return;
    case KIND_HOOK:
        set_hook(p, key, value);
        return;
    }
    MESH_ASSERT(false && "set_value: a kind without a case");
}

static bool kind_repeats(key_kind kind)
{
    return kind == KIND_PATH_LIST || kind == KIND_ENDPOINT_LIST || kind == KIND_COUNTRIES ||
           kind == KIND_JURISDICTIONS || kind == KIND_CERTIFICATIONS;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    parser *p = user;
    MESH_ASSERT(section != NULL && name != NULL);
    if (p->failed) {
        return 0;
    }
    if (value == NULL) {
        fail_at(p, MESH_EPROTO, "'%s' has no value (expected key = value)", name);
        return 0;
    }
    if (section[0] == '\0') {
        fail_at(p, MESH_EPROTO, "'%s' before any section; put it under one of " SECTION_LIST, name);
        return 0;
    }
    if (strcmp(section, "capacity") == 0 && strncmp(name, "gpu.", 4) == 0) {
        set_gpu(p, name, value);
        return p->failed ? 0 : 1;
    }
    // A data class's keys are listed under "data_class" and counted per
    // class; the line reader has registered the class already.
    const char *match = section;
    uint32_t *key_line = p->key_line;
    p->class_current = NULL;
    if (strncmp(section, CLASS_SECTION_PREFIX, sizeof(CLASS_SECTION_PREFIX) - 1) == 0) {
        const char *class_name = section + sizeof(CLASS_SECTION_PREFIX) - 1;
        uint32_t index = class_find(p->config, class_name, strlen(class_name));
        if (MESH_NEVER(index == UINT32_MAX)) {
            fail_at(p, MESH_EINTERNAL, "[%s] was not registered", section);
            return 0;
        }
        match = CLASS_SECTION;
        key_line = p->class_key_line[index];
        p->class_current = &p->config->data_classes[index];
    }
    for (uint32_t i = 0; i < KEY_COUNT; i++) {
        const key_spec *key = &keys[i];
        if (strcmp(key->section, match) != 0 || strcmp(key->name, name) != 0) {
            continue;
        }
        if (key->kind != KIND_RESOURCE && key_line[i] != 0 && !kind_repeats(key->kind)) {
            fail_at(p, MESH_EPROTO,
                    "%s given twice (first at line %u; an indented line continues the key above)",
                    name, key_line[i]);
            return 0;
        }
        if (key_line[i] == 0) {
            key_line[i] = p->line;
        }
        set_value(p, key, value);
        return p->failed ? 0 : 1;
    }
    fail_at(p, MESH_EPROTO, "unknown key '%s' in [%s] (see docs/node.example.ini for every key)",
            name, section);
    return 0;
}

static bool key_given(const parser *p, key_id id)
{
    for (uint32_t i = 0; i < KEY_COUNT; i++) {
        if (keys[i].id == id) {
            return p->key_line[i] != 0;
        }
    }
    return false;
}

static int resource_compare(const void *a, const void *b)
{
    const wire_resource *x = a;
    const wire_resource *y = b;
    if (x->resource_class != y->resource_class) {
        return x->resource_class < y->resource_class ? -1 : 1;
    }
    return strcmp(x->model, y->model);
}

/* Turns one drafted class into an advert resource: total is required once
 * any field is given; free defaults to total, lendable to 0 (nothing is
 * lent unless the operator says so), price to 0 (none advertised). keep
 * and per_peer_max (lender policy only, not advertised) default to 0.
 * `label` names the class in messages and `separator` joins it to a field
 * name: "vcpu" '_' gives vcpu_keep, "gpu.H100" '.' gives gpu.H100.keep. */
static void finish_resource(parser *p,
                            const resource_draft *draft,
                            uint32_t resource_class,
                            const char *label,
                            char separator)
{
    bool any = false;
    for (uint32_t field = 0; field < FIELD_COUNT; field++) {
        any = any || draft->set[field];
    }
    if (!any) {
        return;
    }
    if (!draft->set[FIELD_TOTAL]) {
        fail_at(p, MESH_EINVAL,
                "[capacity] %s: the total is required once any of its keys is "
                "given",
                label);
        return;
    }
    uint64_t total = draft->value[FIELD_TOTAL];
    uint64_t free_amount = draft->set[FIELD_FREE] ? draft->value[FIELD_FREE] : total;
    uint64_t lendable = draft->set[FIELD_LENDABLE] ? draft->value[FIELD_LENDABLE] : 0;
    if (free_amount > total || lendable > total) {
        fail_at(p, MESH_EINVAL,
                "[capacity] %s: free (%llu) and lendable (%llu) must not exceed "
                "total (%llu)",
                label, (unsigned long long) free_amount, (unsigned long long) lendable,
                (unsigned long long) total);
        return;
    }
    uint64_t keep = draft->value[FIELD_KEEP];
    uint64_t per_peer_max = draft->value[FIELD_PER_PEER_MAX];
    if (keep > total) {
        fail_at(p, MESH_EINVAL, "[capacity] %s%ckeep (%llu) must not exceed %s%ctotal (%llu)",
                label, separator, (unsigned long long) keep, label, separator,
                (unsigned long long) total);
        return;
    }
    if (per_peer_max > lendable) {
        fail_at(p, MESH_EINVAL,
                "[capacity] %s%cper_peer_max (%llu) must not exceed %s%clendable (%llu; 0 when not "
                "given)",
                label, separator, (unsigned long long) per_peer_max, label, separator,
                (unsigned long long) lendable);
        return;
    }
    wire_advert *advert = &p->config->gossip.advert;
    MESH_ASSERT(advert->resource_count < WIRE_RESOURCES_MAX);
    wire_resource *resource = &advert->resources[advert->resource_count++];
    memset(resource, 0, sizeof(*resource));
    resource->resource_class = resource_class;
    (void) copy_text(resource->model, sizeof(resource->model), draft->model, strlen(draft->model));
    resource->total = total;
    resource->free = free_amount;
    resource->lendable = lendable;
    resource->price_microeur_per_unit_hour = draft->value[FIELD_PRICE];
}

/* The drafted [capacity] class a resource of the advert came from. */
static const resource_draft *draft_of(const parser *p, const wire_resource *resource)
{
    for (uint32_t i = 0; i < CLASS_COUNT; i++) {
        if (class_of_index[i] == resource->resource_class) {
            return &p->classes[i];
        }
    }
    MESH_ASSERT(resource->resource_class == WIRE_RESOURCE_GPU);
    for (uint32_t i = 0; i < p->gpu_count; i++) {
        if (strcmp(p->gpus[i].model, resource->model) == 0) {
            return &p->gpus[i];
        }
    }
    MESH_ASSERT(false && "draft_of: a resource without a draft");
    return NULL;
}

/* The lender policy: one class per advertised resource, in advert order. */
static void finish_lease_policy(parser *p)
{
    const wire_advert *advert = &p->config->gossip.advert;
    lease_config *lease = &p->config->lease;
    MESH_ASSERT(advert->resource_count <= LEASE_CLASSES_MAX);
    lease->class_count = advert->resource_count;
    for (uint32_t i = 0; i < advert->resource_count; i++) {
        const wire_resource *resource = &advert->resources[i];
        const resource_draft *draft = draft_of(p, resource);
        lease_class_policy *policy = &lease->classes[i];
        memset(policy, 0, sizeof(*policy));
        policy->resource_class = resource->resource_class;
        memcpy(policy->model, resource->model, sizeof(policy->model));
        policy->total = resource->total;
        policy->lendable = resource->lendable;
        policy->keep = draft->value[FIELD_KEEP];
        policy->per_peer_max = draft->value[FIELD_PER_PEER_MAX];
        policy->price_microeur_per_unit_hour = resource->price_microeur_per_unit_hour;
        MESH_ASSERT(policy->keep <= policy->total);
        MESH_ASSERT(policy->per_peer_max <= policy->lendable);
    }
}

static void finish_lease(parser *p)
{
    const lease_config *lease = &p->config->lease;
    if (p->failed) {
        return;
    }
    if (lease->retry_max_ns < lease->retry_interval_ns) {
        fail_at(p, MESH_EINVAL,
                "[lease] retry_max_s (%llu s) must be at least retry_interval_ms (%llu ms)",
                (unsigned long long) (lease->retry_max_ns / MESH_NS_PER_S),
                (unsigned long long) (lease->retry_interval_ns / MESH_NS_PER_MS));
    }
}

/* Sorts each class's sets as the wire wants them (distinct already). */
static void finish_data_classes(parser *p)
{
    node_config *config = p->config;
    if (p->failed) {
        return;
    }
    for (uint32_t i = 0; i < config->data_class_count; i++) {
        wire_lease_constraints *constraints = &config->data_classes[i].constraints;
        MESH_ASSERT(constraints->country_count <= WIRE_LEASE_COUNTRIES_MAX);
        MESH_ASSERT(constraints->jurisdiction_count <= WIRE_JURISDICTIONS_MAX);
        qsort(constraints->countries, constraints->country_count, sizeof(constraints->countries[0]),
              code_compare);
        qsort(constraints->jurisdictions, constraints->jurisdiction_count,
              sizeof(constraints->jurisdictions[0]), code_compare);
    }
}

/* Resolves a class name given by key_id; NULL (and an error at the key's
 * line) when no [data_class NAME] defines it. */
static const node_data_class *resolve_class(parser *p, key_id id, const char *name)
{
    const node_data_class *data_class = node_config_data_class(p->config, name);
    if (data_class != NULL) {
        return data_class;
    }
    for (uint32_t i = 0; i < KEY_COUNT; i++) {
        if (keys[i].id == id) {
            p->line = p->key_line[i];
            fail_at(p, MESH_EINVAL, "%s: no [data_class %s] section defines '%s'", keys[i].name,
                    name, name);
        }
    }
    p->line = 0;
    MESH_ASSERT(p->failed);
    return NULL;
}

/* [lease] default_data_class and [burst]: the constraints borrows start
 * from, and bursting's needs. */
static void finish_burst(parser *p)
{
    node_config *config = p->config;
    if (p->failed) {
        return;
    }
    if (p->default_class[0] != '\0') {
        const node_data_class *data_class =
            resolve_class(p, KEY_LEASE_DEFAULT_DATA_CLASS, p->default_class);
        if (data_class == NULL) {
            return;
        }
        memcpy(config->default_data_class, data_class->name, sizeof(config->default_data_class));
        config->default_constraints = data_class->constraints;
    }
    config->burst.constraints = config->default_constraints;
    if (p->burst_class[0] != '\0') {
        const node_data_class *data_class = resolve_class(p, KEY_BURST_DATA_CLASS, p->burst_class);
        if (data_class == NULL) {
            return;
        }
        // Bursts are borrows: they may only narrow the default class.
        if (!node_config_constraints_within(&config->default_constraints,
                                            &data_class->constraints)) {
            fail_at(p, MESH_EINVAL,
                    "[burst] data_class %s must be at least as strict as [lease] "
                    "default_data_class %s (countries among its countries, its jurisdictions and "
                    "certifications, limits no looser)",
                    data_class->name, config->default_data_class);
            return;
        }
        config->burst.constraints = data_class->constraints;
    }
    if (config->burst.enabled && config->ledger_path[0] == '\0') {
        fail_at(p, MESH_EINVAL,
                "[burst] enabled = 1 needs [ledger] path: leases are recorded in the ledger");
    }
}

/* [node] control's default: ipc:///tmp/fedmesh-<name>-<tag>.ctl, where tag
 * is 12 hex digits of a hash of the key file's absolute path (realpath
 * when the file exists). The name alone collided for two nodes of one name
 * on a host (a test federation, a staging copy); the key file tells them
 * apart, and `fedmesh peers --config` reading the same file computes the
 * same endpoint from any working directory. */
static void default_control(node_config *config)
{
    char absolute[NODE_CONFIG_PATH_SIZE_MAX + PATH_MAX];
    char *real = realpath(config->key_file, NULL);
    if (real != NULL) {
        (void) snprintf(absolute, sizeof(absolute), "%s", real);
        free(real);
    } else if (config->key_file[0] == '/') {
        (void) snprintf(absolute, sizeof(absolute), "%s", config->key_file);
    } else {
        char cwd[PATH_MAX];
        (void) snprintf(absolute, sizeof(absolute), "%s/%s",
                        getcwd(cwd, sizeof(cwd)) != NULL ? cwd : "", config->key_file);
    }
    uint8_t hash[16];
    int hashed = crypto_generichash(hash, sizeof(hash), (const uint8_t *) absolute,
                                    strlen(absolute), NULL, 0);
    MESH_ASSERT(hashed == 0);
    char tag[13];
    sodium_bin2hex(tag, sizeof(tag), hash, 6);
    int used = snprintf(config->control, sizeof(config->control), "ipc:///tmp/fedmesh-%s-%s.ctl",
                        config->name, tag);
    MESH_ASSERT(used > 0 && (size_t) used < sizeof(config->control));
}

static void finish(parser *p)
{
    node_config *config = p->config;
    p->line = 0; // From here on, messages are about the file as a whole.
    static const struct {
        key_id id;
        const char *name;
    } required[] = {{KEY_NAME, "name"},
                    {KEY_KEY_FILE, "key_file"},
                    {KEY_CERTIFICATE_FILE, "certificate_file"},
                    {KEY_ROOT_PUBLIC_KEY_FILE, "root_public_key_file"},
                    {KEY_LISTEN, "listen"}};
    for (uint32_t i = 0; i < MESH_ARRAY_COUNT(required); i++) {
        if (!key_given(p, required[i].id)) {
            fail_at(p, MESH_EINVAL, "[node] %s is required", required[i].name);
            return;
        }
    }
    if (!key_given(p, KEY_ADVERTISE)) {
        if (endpoint_is_wildcard(config->listen)) {
            fail_at(p, MESH_EINVAL,
                    "[node] listen %s is a wildcard address that peers cannot "
                    "dial; set advertise = tcp://HOST:PORT",
                    config->listen);
            return;
        }
        memcpy(config->advertise, config->listen, sizeof(config->advertise));
    }
    if (endpoint_is_wildcard(config->advertise)) {
        fail_at(p, MESH_EINVAL, "[node] advertise %s is a wildcard address that peers cannot dial",
                config->advertise);
        return;
    }
    if (!key_given(p, KEY_CONTROL)) {
        default_control(config);
    }
    bool tls_used = node_config_endpoint_is_tls(config->listen) ||
                    node_config_endpoint_is_tls(config->advertise);
    for (uint32_t i = 0; i < config->seed_count; i++) {
        tls_used = tls_used || node_config_endpoint_is_tls(config->seeds[i]);
    }
    if (tls_used && (!key_given(p, KEY_TLS_CERT_KEY_FILE) || !key_given(p, KEY_TLS_CA_FILE))) {
        fail_at(p, MESH_EINVAL,
                "a tls+tcp:// endpoint needs [tls] cert_key_file (this node's certificate and "
                "key, PEM) and ca_file (the CA that signs members' certificates, PEM)");
        return;
    }
    if (config->http_listen[0] != '\0' && !key_given(p, KEY_HTTP_TOKEN_FILE)) {
        fail_at(p, MESH_EINVAL,
                "[http] token_file is required when [http] listen is set (a file holding the "
                "bearer token, mode 0600)");
        return;
    }
    gossip_config *settings = &config->gossip;
    if (settings->probe_timeout_ns >= settings->probe_interval_ns) {
        fail_at(p, MESH_EINVAL,
                "[gossip] probe_timeout_ms (%llu) must be less than "
                "probe_interval_ms (%llu)",
                (unsigned long long) (settings->probe_timeout_ns / MESH_NS_PER_MS),
                (unsigned long long) (settings->probe_interval_ns / MESH_NS_PER_MS));
        return;
    }
    if (settings->suspicion_min_ns < 3 * settings->probe_timeout_ns) {
        fail_at(p, MESH_EINVAL,
                "[gossip] suspicion_min_ms (%llu) must be at least three probe_timeout_ms (%llu)",
                (unsigned long long) (settings->suspicion_min_ns / MESH_NS_PER_MS),
                (unsigned long long) (3 * settings->probe_timeout_ns / MESH_NS_PER_MS));
        return;
    }
    if (settings->advert_refresh_ns < settings->probe_interval_ns ||
        settings->rejoin_interval_ns < settings->probe_interval_ns) {
        fail_at(p, MESH_EINVAL,
                "[gossip] advert_refresh_s and rejoin_interval_s must be at least "
                "probe_interval_ms (%llu ms)",
                (unsigned long long) (settings->probe_interval_ns / MESH_NS_PER_MS));
        return;
    }
    if (settings->down_forget_ns < settings->suspicion_max_ns) {
        fail_at(p, MESH_EINVAL,
                "[gossip] down_forget_s (%llu) must be at least suspicion_max_ms (%llu ms)",
                (unsigned long long) (settings->down_forget_ns / MESH_NS_PER_S),
                (unsigned long long) (settings->suspicion_max_ns / MESH_NS_PER_MS));
        return;
    }
    if (settings->suspicion_min_ns > settings->suspicion_max_ns) {
        fail_at(p, MESH_EINVAL,
                "[gossip] suspicion_min_ms (%llu) must not exceed "
                "suspicion_max_ms (%llu)",
                (unsigned long long) (settings->suspicion_min_ns / MESH_NS_PER_MS),
                (unsigned long long) (settings->suspicion_max_ns / MESH_NS_PER_MS));
        return;
    }
    static const char *const class_labels[CLASS_COUNT] = {"vcpu", "memory_gib", "storage_gib"};
    for (uint32_t i = 0; i < CLASS_COUNT && !p->failed; i++) {
        finish_resource(p, &p->classes[i], class_of_index[i], class_labels[i], '_');
    }
    for (uint32_t i = 0; i < p->gpu_count && !p->failed; i++) {
        char label[WIRE_MODEL_SIZE_MAX + 8];
        (void) snprintf(label, sizeof(label), "gpu.%s", p->gpus[i].model);
        finish_resource(p, &p->gpus[i], WIRE_RESOURCE_GPU, label, '.');
    }
    if (p->failed) {
        return;
    }
    // The wire form keeps resources sorted by (class, model).
    qsort(settings->advert.resources, settings->advert.resource_count, sizeof(wire_resource),
          resource_compare);
    MESH_ASSERT(strlen(config->advertise) < sizeof(settings->advert.endpoint));
    memcpy(settings->advert.endpoint, config->advertise, sizeof(config->advertise));
    finish_lease_policy(p);
    finish_lease(p);
    finish_data_classes(p);
    finish_burst(p);
}

static void parser_set_dir(parser *p, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        p->dir[0] = '\0'; // The working directory: relative paths stay relative.
        return;
    }
    size_t size = (size_t) (slash - path) + 1;
    if (size >= sizeof(p->dir)) {
        fail_at(p, MESH_EINVAL, "the config's directory is longer than %zu bytes",
                sizeof(p->dir) - 1);
        return;
    }
    memcpy(p->dir, path, size);
    p->dir[size] = '\0';
}

mesh_err node_config_parse(const char *text,
                           uint32_t text_size,
                           const char *path,
                           node_config *config_out,
                           char error_out[NODE_CONFIG_ERROR_SIZE])
{
    MESH_ASSERT(text != NULL || text_size == 0);
    MESH_ASSERT(path != NULL && config_out != NULL && error_out != NULL);
    error_out[0] = '\0';
    // The parser holds the drafts of every resource: too large for a
    // small thread stack, and parsing happens once per start.
    parser *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        (void) snprintf(error_out, NODE_CONFIG_ERROR_SIZE, "%s: out of memory", path);
        return MESH_ENOMEM;
    }
    p->path = path;
    p->text = text;
    p->text_size = text_size;
    p->error = error_out;
    p->config = config_out;
    memset(config_out, 0, sizeof(*config_out));
    config_out->log_level = NODE_LOG_INFO;
    config_out->http_body_max = NODE_CONFIG_HTTP_BODY_MAX_DEFAULT;
    config_out->udp_probes = true;
    config_out->ledger_half_life_ns = NODE_CONFIG_LEDGER_HALF_LIFE_S_DEFAULT * MESH_NS_PER_S;
    config_out->record_bytes_max = 64ull * 1048576u; /* NODE_RECORD_MAX_MIB_DEFAULT */
    config_out->record_keep = 4;                     /* NODE_RECORD_KEEP_DEFAULT */
    gossip_config_default(&config_out->gossip);
    lease_config_default(&config_out->lease);
    member_config_default(&p->member_defaults);
    config_out->burst = p->member_defaults.burst;
    config_out->hooks.timeout_ns = NODE_CONFIG_HOOK_TIMEOUT_MS_DEFAULT * MESH_NS_PER_MS;

    if (text_size > NODE_CONFIG_FILE_SIZE_MAX) {
        fail_at(p, MESH_EINVAL, "larger than %u bytes", NODE_CONFIG_FILE_SIZE_MAX);
    }
    parser_set_dir(p, path);
    if (!p->failed) {
        int rc = ini_parse_stream(read_line, p, on_key, p);
        if (rc > 0 && !p->failed) {
            p->line = (uint32_t) rc;
            fail_at(p, MESH_EPROTO,
                    "malformed line (expected [section], key = value, or a comment after # or ;)");
        } else if (rc < 0 && !p->failed) {
            fail_at(p, MESH_ENOMEM, "the INI parser could not allocate memory");
        }
    }
    if (!p->failed) {
        finish(p);
    }
    mesh_err err = p->failed ? p->err : MESH_OK;
    free(p);
    return err;
}

mesh_err
node_config_load(const char *path, node_config *config_out, char error_out[NODE_CONFIG_ERROR_SIZE])
{
    MESH_ASSERT(path != NULL && config_out != NULL && error_out != NULL);
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        (void) snprintf(error_out, NODE_CONFIG_ERROR_SIZE, "%s: cannot open: %s", path,
                        strerror(errno));
        return MESH_EIO;
    }
    char *text = malloc(NODE_CONFIG_FILE_SIZE_MAX + 1);
    if (text == NULL) {
        (void) fclose(file);
        (void) snprintf(error_out, NODE_CONFIG_ERROR_SIZE, "%s: out of memory", path);
        return MESH_ENOMEM;
    }
    size_t size = fread(text, 1, NODE_CONFIG_FILE_SIZE_MAX + 1, file);
    bool read_failed = ferror(file) != 0;
    (void) fclose(file);
    mesh_err err = MESH_OK;
    if (read_failed) {
        (void) snprintf(error_out, NODE_CONFIG_ERROR_SIZE, "%s: cannot read", path);
        err = MESH_EIO;
    } else if (size > NODE_CONFIG_FILE_SIZE_MAX) {
        (void) snprintf(error_out, NODE_CONFIG_ERROR_SIZE,
                        "%s: larger than %u bytes; not a fedmesh config", path,
                        NODE_CONFIG_FILE_SIZE_MAX);
        err = MESH_EFULL;
    } else {
        err = node_config_parse(text, (uint32_t) size, path, config_out, error_out);
    }
    free(text);
    return err;
}
