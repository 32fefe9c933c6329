/*
 * node/sim_scenario.c: scenario files for `fedmesh sim run` and `sim
 * sweep` (README "Simulator" lists every key).
 *
 * Design: libinih lexes the file into a list of (section, key, value)
 * entries; --set overrides replace or add entries ("federation.duration=7d",
 * "site.paris.vcpu=256", "faults.loss=0.02"); then one pass turns the list
 * into a sim_fed_config, checking every value against its kind and range
 * and naming section and key in every error. The files a scenario names
 * (latency table, traces, carbon series) are relative to the scenario
 * file's directory and read through node/sim_input.c (gzip accepted); a
 * trace named by several sites is read once.
 *
 * Everything the config points to (sites, jobs, latencies, series) is
 * owned by the node_scenario and lives until node_scenario_free.
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/node_int.h"
#include "sim/series.h"

#define ENTRIES_MAX   4096u
#define TRACES_MAX    SIM_FED_SITES_MAX
#define TEXT_SIZE_MAX 1024u

typedef struct entry {
    char section[64];
    char key[64];
    char value[TEXT_SIZE_MAX];
    bool used;
} entry;

typedef struct loaded_trace {
    char path[4096];
    sim_trace_format format;
    sim_trace trace;
} loaded_trace;

struct node_scenario {
    sim_fed_config config;
    char name[64];
    char dir[4096];
    entry *entries;
    uint32_t entry_count;
    uint32_t entries_max; /* ENTRIES_MAX, or fewer when the text has fewer lines */
    sim_fed_site sites[SIM_FED_SITES_MAX];
    uint32_t rtt_us[SIM_FED_SITES_MAX * SIM_FED_SITES_MAX];
    loaded_trace traces[TRACES_MAX];
    uint32_t trace_count;
    uint64_t *series_time_s[SIM_FED_SITES_MAX];
    uint32_t *series_value[SIM_FED_SITES_MAX];
    sim_trace_stats trace_stats[SIM_FED_SITES_MAX];
    char *error;
    size_t error_size;
    bool failed;
};

__attribute__((format(printf, 2, 3))) static void fail(node_scenario *s, const char *format, ...)
{
    if (s->failed) {
        return; // the first error is the one to fix
    }
    s->failed = true;
    va_list args;
    va_start(args, format);
    (void) vsnprintf(s->error, s->error_size, format, args);
    va_end(args);
}

/* ---------------------------------------------------------------- */
/* Entries.                                                          */
/* ---------------------------------------------------------------- */

static entry *entry_find(node_scenario *s, const char *section, const char *key)
{
    for (uint32_t i = 0; i < s->entry_count; i++) {
        if (strcmp(s->entries[i].section, section) == 0 && strcmp(s->entries[i].key, key) == 0) {
            return &s->entries[i];
        }
    }
    return NULL;
}

static bool
entry_put(node_scenario *s, const char *section, const char *key, const char *value, bool replace)
{
    if (strlen(section) >= sizeof(s->entries[0].section) ||
        strlen(key) >= sizeof(s->entries[0].key) || strlen(value) >= TEXT_SIZE_MAX) {
        fail(s, "[%.60s] %.60s: too long (sections and keys up to 63 bytes, values up to %u)",
             section, key, TEXT_SIZE_MAX - 1u);
        return false;
    }
    entry *e = entry_find(s, section, key);
    if (e != NULL && !replace) {
        fail(s, "[%s] %s: set twice", section, key);
        return false;
    }
    if (e == NULL) {
        if (s->entry_count == s->entries_max) {
            fail(s, "more than %u keys", ENTRIES_MAX);
            return false;
        }
        e = &s->entries[s->entry_count++];
        (void) snprintf(e->section, sizeof(e->section), "%s", section);
        (void) snprintf(e->key, sizeof(e->key), "%s", key);
    }
    (void) snprintf(e->value, sizeof(e->value), "%s", value);
    return true;
}

static int on_ini(void *context, const char *section, const char *key, const char *value)
{
    node_scenario *s = context;
    return entry_put(s, section, key, value, false) ? 1 : 0;
}

/* KEY=VALUE with KEY "federation.k", "faults.k", "site.NAME.k" or
 * "data_class.NAME.k". */
static bool apply_set(node_scenario *s, const char *text)
{
    const char *equals = strchr(text, '=');
    const char *dot = strchr(text, '.');
    if (equals == NULL || dot == NULL || dot > equals) {
        fail(s,
             "--set '%s': expected SECTION.KEY=VALUE (federation.duration=7d, "
             "site.paris.vcpu=256, faults.loss=0.01)",
             text);
        return false;
    }
    char section[64];
    char key[64];
    size_t head = (size_t) (dot - text);
    const char *rest = dot + 1;
    if ((strncmp(text, "site", head) == 0 && head == 4) ||
        (strncmp(text, "data_class", head) == 0 && head == 10)) {
        const char *second = strchr(rest, '.');
        if (second == NULL || second > equals) {
            fail(s, "--set '%s': expected %.*s.NAME.KEY=VALUE", text, (int) head, text);
            return false;
        }
        (void) snprintf(section, sizeof(section), "%.*s %.*s", (int) head, text,
                        (int) (second - rest), rest);
        rest = second + 1;
    } else {
        (void) snprintf(section, sizeof(section), "%.*s", (int) head, text);
    }
    (void) snprintf(key, sizeof(key), "%.*s", (int) (equals - rest), rest);
    bool known = strcmp(section, "federation") == 0 || strcmp(section, "faults") == 0 ||
                 entry_find(s, section, "city") != NULL || strncmp(section, "data_class ", 11) == 0;
    if (!known) {
        fail(s, "--set '%s': the scenario has no [%s]", text, section);
        return false;
    }
    return entry_put(s, section, key, equals + 1, true);
}

static const char *get(node_scenario *s, const char *section, const char *key)
{
    entry *e = entry_find(s, section, key);
    if (e == NULL) {
        return NULL;
    }
    e->used = true;
    return e->value;
}

/* ---------------------------------------------------------------- */
/* Values.                                                           */
/* ---------------------------------------------------------------- */

/* A decimal with up to 9 fraction digits, scaled by 10^9; false on junk. */
static bool parse_fixed(const char *text, uint64_t *nano_out, const char **end_out)
{
    const char *p = text;
    uint64_t whole = 0;
    bool digits = false;
    while (isdigit((unsigned char) *p)) {
        if (whole > (UINT64_MAX / 10u - 9u) / 1000000000u) {
            return false;
        }
        whole = whole * 10u + (uint64_t) (*p - '0');
        p++;
        digits = true;
    }
    uint64_t fraction = 0;
    uint32_t places = 0;
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char) *p)) {
            if (places < 9) {
                fraction = fraction * 10u + (uint64_t) (*p - '0');
                places++;
            }
            p++;
            digits = true;
        }
    }
    if (!digits) {
        return false;
    }
    while (places < 9) {
        fraction *= 10u;
        places++;
    }
    *nano_out = whole * 1000000000u + fraction;
    *end_out = p;
    return true;
}

/* A duration: a number and a unit (ms, s, m, h, d; none: seconds). */
static bool parse_duration(const char *text, uint64_t *ns_out)
{
    uint64_t nano = 0;
    const char *unit = NULL;
    if (!parse_fixed(text, &nano, &unit)) {
        return false;
    }
    uint64_t per = 0; // ns per unit, applied to nano / 10^9
    if (strcmp(unit, "") == 0 || strcmp(unit, "s") == 0) {
        per = 1000000000u;
    } else if (strcmp(unit, "ms") == 0) {
        per = 1000000u;
    } else if (strcmp(unit, "m") == 0) {
        per = 60000000000u;
    } else if (strcmp(unit, "h") == 0) {
        per = 3600000000000u;
    } else if (strcmp(unit, "d") == 0) {
        per = 86400000000000u;
    } else {
        return false;
    }
    // nano x per / 10^9 without overflow for anything up to a few years.
    long double value = (long double) nano * (long double) per / 1e9L;
    if (value > 1e19L) {
        return false;
    }
    *ns_out = (uint64_t) (value + 0.5L);
    return true;
}

static bool parse_u64(const char *text, uint64_t *out)
{
    if (!isdigit((unsigned char) text[0])) {
        return false;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0') {
        return false;
    }
    *out = value;
    return true;
}

/* A fraction 0..1 in parts per million. */
static bool parse_ppm(const char *text, uint32_t *out)
{
    uint64_t nano = 0;
    const char *end = NULL;
    if (!parse_fixed(text, &nano, &end) || *end != '\0' || nano > 1000000000u) {
        return false;
    }
    *out = (uint32_t) (nano / 1000u);
    return true;
}

static void get_duration(node_scenario *s, const char *section, const char *key, uint64_t *out)
{
    const char *text = get(s, section, key);
    if (text != NULL && !parse_duration(text, out)) {
        fail(s, "[%s] %s: '%s' is not a duration (a number and ms, s, m, h or d)", section, key,
             text);
    }
}

static void
get_u64(node_scenario *s, const char *section, const char *key, uint64_t max, uint64_t *out)
{
    const char *text = get(s, section, key);
    uint64_t value = 0;
    if (text == NULL) {
        return;
    }
    if (!parse_u64(text, &value) || value > max) {
        fail(s, "[%s] %s: '%s' is not a whole number from 0 to %" PRIu64, section, key, text, max);
        return;
    }
    *out = value;
}

static void
get_u32(node_scenario *s, const char *section, const char *key, uint32_t max, uint32_t *out)
{
    uint64_t value = *out;
    get_u64(s, section, key, max, &value);
    *out = (uint32_t) value;
}

static void get_bool(node_scenario *s, const char *section, const char *key, bool *out)
{
    const char *text = get(s, section, key);
    if (text == NULL) {
        return;
    }
    if (strcmp(text, "true") == 0 || strcmp(text, "yes") == 0 || strcmp(text, "1") == 0) {
        *out = true;
    } else if (strcmp(text, "false") == 0 || strcmp(text, "no") == 0 || strcmp(text, "0") == 0) {
        *out = false;
    } else {
        fail(s, "[%s] %s: '%s' is not true or false", section, key, text);
    }
}

/* Calls item for each comma-separated, trimmed item of text. */
static bool each_item(node_scenario *s,
                      const char *section,
                      const char *key,
                      const char *text,
                      bool (*item)(node_scenario *s,
                                   const char *section,
                                   const char *key,
                                   const char *item,
                                   void *arg),
                      void *arg)
{
    char copy[TEXT_SIZE_MAX];
    (void) snprintf(copy, sizeof(copy), "%s", text);
    char *save = NULL;
    for (char *part = strtok_r(copy, ",", &save); part != NULL; part = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char) *part)) {
            part++;
        }
        size_t length = strlen(part);
        while (length > 0 && isspace((unsigned char) part[length - 1])) {
            part[--length] = '\0';
        }
        if (length == 0) {
            continue;
        }
        if (!item(s, section, key, part, arg)) {
            return false;
        }
    }
    return true;
}

static bool certification_item(
    node_scenario *s, const char *section, const char *key, const char *item, void *arg)
{
    uint32_t bit = 0;
    if (wire_certification_parse(item, &bit) != MESH_OK) {
        fail(s,
             "[%s] %s: '%s' is not a certification (SecNumCloud, C5, HDS, ISO27001, "
             "EUCS-basic, EUCS-substantial, EUCS-high)",
             section, key, item);
        return false;
    }
    *(uint32_t *) arg |= bit;
    return true;
}

static void
get_certifications(node_scenario *s, const char *section, const char *key, uint32_t *out)
{
    const char *text = get(s, section, key);
    if (text != NULL) {
        (void) each_item(s, section, key, text, certification_item, out);
    }
}

typedef struct code_list {
    uint32_t count;
    uint32_t max;
    char (*codes)[3];
    bool allow_eu;
} code_list;

static bool
code_item(node_scenario *s, const char *section, const char *key, const char *item, void *arg)
{
    code_list *list = arg;
    bool code =
        strlen(item) == 2 && isupper((unsigned char) item[0]) && isupper((unsigned char) item[1]);
    if (!code || (!list->allow_eu && strcmp(item, "EU") == 0)) {
        fail(s, "[%s] %s: '%s' is not an ISO 3166-1 alpha-2 country code%s", section, key, item,
             list->allow_eu ? " or EU" : "");
        return false;
    }
    if (list->count == list->max) {
        fail(s, "[%s] %s: more than %u codes", section, key, list->max);
        return false;
    }
    memcpy(list->codes[list->count++], item, 3);
    return true;
}

static int compare_codes(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void get_codes(node_scenario *s, const char *section, const char *key, code_list *list)
{
    const char *text = get(s, section, key);
    if (text == NULL) {
        return;
    }
    (void) each_item(s, section, key, text, code_item, list);
    qsort(list->codes, list->count, 3, compare_codes); // the wire wants sorted sets
    for (uint32_t i = 1; i < list->count; i++) {
        if (strcmp(list->codes[i - 1], list->codes[i]) == 0) {
            fail(s, "[%s] %s: %s twice", section, key, list->codes[i]);
        }
    }
}

static char *resolve(node_scenario *s, const char *path, char *out, size_t size)
{
    int written = 0;
    if (path[0] == '/') {
        written = snprintf(out, size, "%s", path);
    } else {
        written = snprintf(out, size, "%s/%s", s->dir, path);
    }
    if (written < 0 || (size_t) written >= size) {
        fail(s, "%s: the path is too long", path);
    }
    return out;
}

/* ---------------------------------------------------------------- */
/* Sections.                                                         */
/* ---------------------------------------------------------------- */

static void read_federation(node_scenario *s)
{
    sim_fed_config *c = &s->config;
    const char *name = get(s, "federation", "name");
    if (name != NULL && snprintf(s->name, sizeof(s->name), "%s", name) >= (int) sizeof(s->name)) {
        fail(s, "[federation] name: at most %zu bytes", sizeof(s->name) - 1u);
    }
    get_duration(s, "federation", "duration", &c->duration_ns);
    get_duration(s, "federation", "join", &c->join_ns);
    get_duration(s, "federation", "drain", &c->drain_ns);
    get_duration(s, "federation", "sample", &c->sample_ns);
    get_duration(s, "federation", "probe_interval", &c->probe_interval_ns);
    get_duration(s, "federation", "usage_interval", &c->usage_interval_ns);
    get_duration(s, "federation", "burst_lease", &c->burst_lease_ns);
    get_duration(s, "federation", "burst_release_delay", &c->burst_release_delay_ns);
    get_u64(s, "federation", "burst_threshold", WIRE_AMOUNT_MAX, &c->burst_threshold_vcpu);
    get_u32(s, "federation", "vcpu_watts", 10000, &c->vcpu_watts);
    get_u32(s, "federation", "backfill_depth", 100000, &c->backfill_depth);
    const char *resource = get(s, "federation", "resource");
    if (resource != NULL && strcmp(resource, "vcpu") != 0) {
        size_t model = strlen(resource) > 4 ? strlen(resource) - 4 : 0;
        if (strncmp(resource, "gpu:", 4) != 0 || model == 0 || model > WIRE_MODEL_SIZE_MAX) {
            fail(s, "[federation] resource: '%s' is not vcpu or gpu:MODEL (gpu:H100)", resource);
        } else {
            c->resource_class = WIRE_RESOURCE_GPU;
            memcpy(c->model, resource + 4, model + 1);
        }
    }
    if (c->backfill_depth == 0) {
        fail(s, "[federation] backfill_depth: at least 1");
    }
    wire_lease_constraints *k = &c->constraints;
    code_list countries = {.max = WIRE_LEASE_COUNTRIES_MAX, .codes = k->countries};
    get_codes(s, "federation", "countries", &countries);
    k->country_count = countries.count;
    code_list jurisdictions = {
        .max = WIRE_JURISDICTIONS_MAX, .codes = k->jurisdictions, .allow_eu = true};
    get_codes(s, "federation", "jurisdictions", &jurisdictions);
    k->jurisdiction_count = jurisdictions.count;
    get_certifications(s, "federation", "certifications", &k->certifications);
    uint64_t rtt_ns = 0;
    get_duration(s, "federation", "max_rtt", &rtt_ns);
    k->rtt_us_max = (uint32_t) (rtt_ns / MESH_NS_PER_US);
    get_u32(s, "federation", "max_carbon", 100000, &k->carbon_gco2_per_kwh_max);
    if (c->duration_ns == 0) {
        fail(s, "[federation] duration: missing (how long to replay, e.g. 30d)");
    }
}

static void read_classes(node_scenario *s)
{
    sim_fed_config *c = &s->config;
    for (uint32_t i = 0; i < s->entry_count && !s->failed; i++) {
        const char *section = s->entries[i].section;
        if (strncmp(section, "data_class ", 11) != 0) {
            continue;
        }
        const char *name = section + 11;
        bool seen = false;
        for (uint32_t k = 0; k < c->class_count; k++) {
            seen = seen || strcmp(c->classes[k].name, name) == 0;
        }
        if (seen) {
            continue;
        }
        if (c->class_count == SIM_FED_CLASSES_MAX || strlen(name) >= SIM_FED_NAME_SIZE ||
            name[0] == '\0') {
            fail(s, "[%s]: at most %u data classes, names up to %u bytes", section,
                 SIM_FED_CLASSES_MAX, SIM_FED_NAME_SIZE - 1u);
            return;
        }
        sim_fed_class *class = &c->classes[c->class_count++];
        (void) snprintf(class->name, sizeof(class->name), "%s", name);
        code_list countries = {.max = 8, .codes = class->countries};
        get_codes(s, section, "countries", &countries);
        class->country_count = countries.count;
        get_certifications(s, section, "certifications", &class->certifications);
    }
}

static loaded_trace *load_trace(
    node_scenario *s, const char *section, const char *path, sim_trace_format format, bool lenient)
{
    for (uint32_t i = 0; i < s->trace_count; i++) {
        if (strcmp(s->traces[i].path, path) == 0 && s->traces[i].format == format) {
            return &s->traces[i];
        }
    }
    MESH_ASSERT(s->trace_count < TRACES_MAX);
    loaded_trace *t = &s->traces[s->trace_count];
    char message[512];
    if (node_sim_load_trace(path, format, lenient, &t->trace, message, sizeof(message)) !=
        MESH_OK) {
        fail(s, "[%s] trace: %s", section, message);
        return NULL;
    }
    (void) snprintf(t->path, sizeof(t->path), "%s", path);
    t->format = format;
    s->trace_count++;
    return t;
}

static void read_carbon(node_scenario *s, const char *section, uint32_t index, sim_fed_site *site)
{
    const char *text = get(s, section, "carbon");
    if (text == NULL) {
        fail(s, "[%s] carbon: missing (gCO2/kWh, or a CSV time series file)", section);
        return;
    }
    uint64_t value = 0;
    if (parse_u64(text, &value)) {
        if (value > 100000) {
            fail(s, "[%s] carbon: %s gCO2/kWh is not plausible (at most 100000)", section, text);
        }
        site->carbon_gco2_per_kwh = (uint32_t) value;
        return;
    }
    char path[4096];
    sim_series series;
    char message[512];
    if (node_sim_load_series(resolve(s, text, path, sizeof(path)), &series, message,
                             sizeof(message)) != MESH_OK) {
        fail(s, "[%s] carbon: %s", section, message);
        return;
    }
    s->series_time_s[index] = malloc(series.point_count * sizeof(uint64_t));
    s->series_value[index] = malloc(series.point_count * sizeof(uint32_t));
    if (s->series_time_s[index] == NULL || s->series_value[index] == NULL) {
        sim_series_free(&series);
        fail(s, "out of memory");
        return;
    }
    for (uint32_t i = 0; i < series.point_count; i++) {
        s->series_time_s[index][i] = series.points[i].time_ns / MESH_NS_PER_S;
        double v = series.points[i].value;
        s->series_value[index][i] = v <= 0 ? 0u : (uint32_t) (v + 0.5);
    }
    site->carbon = (sim_fed_series){.count = series.point_count,
                                    .time_s = s->series_time_s[index],
                                    .value = s->series_value[index],
                                    .span_s = series.span_ns / MESH_NS_PER_S};
    if (site->carbon.span_s <= s->series_time_s[index][series.point_count - 1]) {
        site->carbon.span_s = s->series_time_s[index][series.point_count - 1] + 1u;
    }
    site->carbon_gco2_per_kwh = site->carbon.value[0];
    sim_series_free(&series);
}

static void read_site(node_scenario *s, const char *section, bool lenient)
{
    sim_fed_config *c = &s->config;
    if (c->site_count == SIM_FED_SITES_MAX) {
        fail(s, "[%s]: at most %u sites", section, SIM_FED_SITES_MAX);
        return;
    }
    uint32_t index = c->site_count++;
    sim_fed_site *site = &s->sites[index];
    memset(site, 0, sizeof(*site));
    const char *name = section + 5;
    if (name[0] == '\0' || strlen(name) >= SIM_FED_NAME_SIZE) {
        fail(s, "[%s]: a site name of 1 to %u bytes", section, SIM_FED_NAME_SIZE - 1u);
        return;
    }
    (void) snprintf(site->name, sizeof(site->name), "%s", name);
    const char *city = get(s, section, "city");
    if (snprintf(site->city, sizeof(site->city), "%s", city != NULL ? city : name) >=
        (int) sizeof(site->city)) {
        fail(s, "[%s] city: at most %u bytes", section, SIM_FED_NAME_SIZE - 1u);
        return;
    }
    char country[3][3] = {{0}};
    code_list countries = {.max = 1, .codes = country};
    get_codes(s, section, "country", &countries);
    if (countries.count != 1) {
        fail(s, "[%s] country: missing (an ISO 3166-1 alpha-2 code such as FR)", section);
        return;
    }
    memcpy(site->country, country[0], 3);
    get_certifications(s, section, "certifications", &site->certifications);
    const char *unit = c->resource_class == WIRE_RESOURCE_GPU ? "gpu" : "vcpu";
    get_u64(s, section, unit, WIRE_AMOUNT_MAX, &site->vcpu);
    if (site->vcpu == 0) {
        fail(s, "[%s] %s: missing or 0 (the site's %s; [federation] resource says which)", section,
             unit, c->resource_class == WIRE_RESOURCE_GPU ? "GPUs" : "vCPUs");
        return;
    }
    site->lendable_vcpu = site->vcpu / 2u;
    get_u64(s, section, "lendable", site->vcpu, &site->lendable_vcpu);
    site->keep_vcpu = site->vcpu / 10u;
    get_u64(s, section, "keep", site->vcpu, &site->keep_vcpu);
    get_u64(s, section, "per_peer_max", site->vcpu, &site->per_peer_max_vcpu);
    const char *price = get(s, section, "price");
    site->price_microeur_per_vcpu_hour = 30000; // EUR 0.03 per vCPU-hour
    if (price != NULL) {
        uint64_t nano = 0;
        const char *end = NULL;
        if (!parse_fixed(price, &nano, &end) || *end != '\0' || nano > 1000000000000u) {
            fail(s, "[%s] price: '%s' is not a price in EUR per vCPU-hour (e.g. 0.03)", section,
                 price);
        }
        site->price_microeur_per_vcpu_hour = nano / 1000u;
    }
    site->burst = true;
    get_bool(s, section, "burst", &site->burst);
    read_carbon(s, section, index, site);

    const char *trace = get(s, section, "trace");
    if (trace != NULL) {
        const char *format_text = get(s, section, "trace_format");
        sim_trace_format format = SIM_TRACE_SWF;
        if (format_text != NULL && strcmp(format_text, "csv") == 0) {
            format = SIM_TRACE_CSV;
        } else if (format_text != NULL && strcmp(format_text, "swf") != 0) {
            fail(s, "[%s] trace_format: '%s' is not swf or csv", section, format_text);
            return;
        }
        char path[4096];
        loaded_trace *t =
            load_trace(s, section, resolve(s, trace, path, sizeof(path)), format, lenient);
        if (t == NULL) {
            return;
        }
        site->jobs = t->trace.jobs;
        site->job_count = t->trace.job_count;
        s->trace_stats[index] = t->trace.stats;
    }
    get_duration(s, section, "trace_offset", &site->trace_offset_ns);
    site->trace_scale_milli = 1000;
    const char *scale = get(s, section, "trace_scale");
    if (scale != NULL) {
        uint64_t nano = 0;
        const char *end = NULL;
        if (!parse_fixed(scale, &nano, &end) || *end != '\0' || nano < 1000000u ||
            nano > 1000000000000u) {
            fail(s, "[%s] trace_scale: '%s' is not a factor from 0.001 to 1000", section, scale);
        }
        site->trace_scale_milli = (uint32_t) (nano / 1000000u);
    }
    for (uint32_t k = 0; k < c->class_count; k++) {
        char key[64];
        (void) snprintf(key, sizeof(key), "class.%s", c->classes[k].name);
        const char *share = get(s, section, key);
        if (share != NULL && !parse_ppm(share, &site->class_ppm[k])) {
            fail(s, "[%s] %s: '%s' is not a share from 0 to 1", section, key, share);
        }
    }
}

static void read_latency(node_scenario *s)
{
    sim_fed_config *c = &s->config;
    const char *file = get(s, "federation", "latency");
    if (file == NULL) {
        fail(s, "[federation] latency: missing (a CSV file with header a,b,rtt_ms)");
        return;
    }
    char path[4096];
    sim_latency_table table;
    char message[512];
    if (node_sim_load_latency(resolve(s, file, path, sizeof(path)), &table, message,
                              sizeof(message)) != MESH_OK) {
        fail(s, "[federation] latency: %s", message);
        return;
    }
    uint32_t n = c->site_count;
    for (uint32_t a = 0; a < n && !s->failed; a++) {
        for (uint32_t b = 0; b < n && !s->failed; b++) {
            const sim_fed_site *x = &s->sites[a];
            const sim_fed_site *y = &s->sites[b];
            uint32_t rtt = 0;
            if (a == b || strcmp(x->city, y->city) == 0) {
                rtt = 0;
            } else if (!sim_latency_rtt_us(&table, x->name, y->name, &rtt) &&
                       !sim_latency_rtt_us(&table, x->city, y->city, &rtt)) {
                fail(s, "[federation] latency: %s has no round trip between %s (%s) and %s (%s)",
                     path, x->name, x->city, y->name, y->city);
            }
            s->rtt_us[a * n + b] = rtt;
        }
    }
    sim_latency_free(&table);
    c->rtt_us = s->rtt_us;
}

/* WHO for a fault of this kind: a crash names one site (*site_out); a
 * partition names sites or country codes, comma-separated, that make one
 * side (*mask_out). False, after fail(), when a name is unknown. */
static bool
fault_who(node_scenario *s, uint32_t kind, char *who, uint32_t *site_out, uint64_t *mask_out)
{
    const sim_fed_config *c = &s->config;
    const char *key = kind == SIM_FED_FAULT_CRASH ? "crash" : "partition";
    char *inner = NULL;
    for (char *name = strtok_r(who, ",", &inner); name != NULL;
         name = strtok_r(NULL, ",", &inner)) {
        while (isspace((unsigned char) *name)) {
            name++;
        }
        size_t n = strlen(name);
        while (n > 0 && isspace((unsigned char) name[n - 1])) {
            name[--n] = '\0';
        }
        bool found = false;
        for (uint32_t i = 0; i < c->site_count; i++) {
            bool site = strcmp(s->sites[i].name, name) == 0;
            bool country =
                kind == SIM_FED_FAULT_PARTITION && strcmp(s->sites[i].country, name) == 0;
            if (site || country) {
                *site_out = i;
                *mask_out |= 1ull << i;
                found = true;
            }
        }
        if (!found || (kind == SIM_FED_FAULT_CRASH && inner != NULL && *inner != '\0')) {
            fail(s, "[faults] %s: '%s' is not %s of the scenario", key, name,
                 kind == SIM_FED_FAULT_CRASH ? "one site" : "a site or a country");
            return false;
        }
    }
    return true;
}

/* [faults] crash = "SITE@AT+DOWN; ..." and partition = "SIDE@AT+LENGTH;
 * ..." (SIDE: sites or country codes, comma-separated): AT from the start
 * of the window. */
static void read_fault_list(node_scenario *s, uint32_t kind)
{
    sim_fed_config *c = &s->config;
    const char *key = kind == SIM_FED_FAULT_CRASH ? "crash" : "partition";
    const char *text = get(s, "faults", key);
    if (text == NULL) {
        return;
    }
    char copy[TEXT_SIZE_MAX];
    (void) snprintf(copy, sizeof(copy), "%s", text);
    char *save = NULL;
    for (char *part = strtok_r(copy, ";", &save); part != NULL && !s->failed;
         part = strtok_r(NULL, ";", &save)) {
        char *at = strchr(part, '@');
        char *plus = at != NULL ? strchr(at, '+') : NULL;
        uint64_t when = 0;
        uint64_t length = 0;
        if (at == NULL || plus == NULL) {
            fail(s, "[faults] %s: '%s' is not %s", key, part,
                 kind == SIM_FED_FAULT_CRASH ? "SITE@AT+DOWNTIME (paris@10d+1h)"
                                             : "SIDE@AT+LENGTH (FR@5d+2h, paris,lyon@1d+30m)");
            return;
        }
        *at = '\0';
        *plus = '\0';
        if (!parse_duration(at + 1, &when) || !parse_duration(plus + 1, &length) || length == 0) {
            fail(s, "[faults] %s: '%s@%s+%s': a time and a length", key, part, at + 1, plus + 1);
            return;
        }
        uint32_t site = 0;
        uint64_t mask = 0;
        if (!fault_who(s, kind, part, &site, &mask)) {
            return;
        }
        if (c->fault_count == SIM_FED_FAULTS_MAX) {
            fail(s, "[faults]: at most %u faults", SIM_FED_FAULTS_MAX);
            return;
        }
        c->faults[c->fault_count++] = (sim_fed_fault){.kind = kind,
                                                      .site = site,
                                                      .group_mask = mask,
                                                      .at_ns = c->join_ns + when,
                                                      .until_ns = c->join_ns + when + length};
    }
}

static void read_faults(node_scenario *s)
{
    sim_fed_config *c = &s->config;
    const char *loss = get(s, "faults", "loss");
    if (loss != NULL && !parse_ppm(loss, &c->loss_ppm)) {
        fail(s, "[faults] loss: '%s' is not a probability from 0 to 1", loss);
    }
    uint64_t skew_ns = (uint64_t) c->clock_skew_ns_max;
    get_duration(s, "faults", "clock_skew", &skew_ns);
    if (skew_ns > 10u * MESH_NS_PER_S) {
        fail(s, "[faults] clock_skew: at most 10s");
    }
    c->clock_skew_ns_max = (int64_t) skew_ns;
    get_u32(s, "faults", "hostile", SIM_LEASE_HOSTILE_MAX, &c->hostile_count);
    read_fault_list(s, SIM_FED_FAULT_CRASH);
    read_fault_list(s, SIM_FED_FAULT_PARTITION);
}

/* Every key read; one that was not is a typo the user wants to hear of. */
static void check_unused(node_scenario *s)
{
    for (uint32_t i = 0; i < s->entry_count && !s->failed; i++) {
        const entry *e = &s->entries[i];
        bool section_known =
            strcmp(e->section, "federation") == 0 || strcmp(e->section, "faults") == 0 ||
            strncmp(e->section, "site ", 5) == 0 || strncmp(e->section, "data_class ", 11) == 0;
        if (!section_known) {
            fail(s, "[%s]: unknown section (federation, site NAME, data_class NAME, faults)",
                 e->section);
        } else if (!e->used) {
            fail(s, "[%s] %s: unknown key (the README's Simulator section lists them)", e->section,
                 e->key);
        }
    }
}

mesh_err node_scenario_parse(const char *text,
                             size_t text_size,
                             const char *path,
                             const char *const *sets,
                             uint32_t set_count,
                             bool lenient,
                             node_scenario **out,
                             char *error,
                             size_t error_size)
{
    MESH_ASSERT(text != NULL || text_size == 0);
    MESH_ASSERT(path != NULL && out != NULL && error != NULL && error_size > 0);
    error[0] = '\0';
    // Each line gives at most one entry, and each --set one: a short file
    // needs a short table (1.1 KiB an entry).
    uint64_t entries_max = (uint64_t) set_count + 1u;
    for (size_t i = 0; i < text_size && entries_max < ENTRIES_MAX; i++) {
        entries_max += text[i] == '\n';
    }
    if (entries_max > ENTRIES_MAX) {
        entries_max = ENTRIES_MAX;
    }
    node_scenario *s = calloc(1, sizeof(*s));
    entry *entries = calloc((size_t) entries_max, sizeof(entry));
    if (s == NULL || entries == NULL) {
        free(s);
        free(entries);
        (void) snprintf(error, error_size, "out of memory");
        return MESH_ENOMEM;
    }
    s->entries = entries;
    s->entries_max = (uint32_t) entries_max;
    s->error = error;
    s->error_size = error_size;
    sim_fed_config_default(&s->config);
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        (void) snprintf(s->dir, sizeof(s->dir), ".");
    } else {
        (void) snprintf(s->dir, sizeof(s->dir), "%.*s", (int) (slash - path), path);
    }
    const char *base = slash != NULL ? slash + 1 : path;
    (void) snprintf(s->name, sizeof(s->name), "%.*s", (int) strcspn(base, "."), base);

    // libinih reads a NUL-terminated string: a NUL inside the text would
    // silently end it, so it is refused, and the text is copied to add
    // the terminator.
    const char *nul = text_size > 0 ? memchr(text, '\0', text_size) : NULL;
    if (text_size > NODE_SCENARIO_SIZE_MAX || nul != NULL) {
        if (nul != NULL) {
            fail(s, "%s: not INI (a NUL byte at offset %zu)", path, (size_t) (nul - text));
        } else {
            fail(s, "%s: larger than %u bytes; not a scenario file", path, NODE_SCENARIO_SIZE_MAX);
        }
        node_scenario_free(s);
        return MESH_EINVAL;
    }
    char *copy = malloc(text_size + 1u);
    if (copy == NULL) {
        (void) snprintf(error, error_size, "out of memory");
        node_scenario_free(s);
        return MESH_ENOMEM;
    }
    if (text_size > 0) {
        memcpy(copy, text, text_size);
    }
    copy[text_size] = '\0';
    int rc = ini_parse_string(copy, on_ini, s);
    free(copy);
    if (rc != 0 && !s->failed) {
        fail(s, "%s: line %d: not INI (a [section], then key = value lines)", path, rc);
    }
    for (uint32_t i = 0; i < set_count && !s->failed; i++) {
        (void) apply_set(s, sets[i]);
    }
    if (!s->failed) {
        read_federation(s);
        read_classes(s);
    }
    for (uint32_t i = 0; i < s->entry_count && !s->failed; i++) {
        const char *section = s->entries[i].section;
        if (strncmp(section, "site ", 5) != 0) {
            continue;
        }
        bool seen = false;
        for (uint32_t k = 0; k < s->config.site_count; k++) {
            seen = seen || strcmp(s->sites[k].name, section + 5) == 0;
        }
        if (!seen) {
            read_site(s, section, lenient);
        }
    }
    if (!s->failed && s->config.site_count < 2) {
        fail(s, "%s: at least two [site NAME] sections", path);
    }
    if (!s->failed) {
        read_latency(s);
        read_faults(s);
        check_unused(s);
    }
    s->config.sites = s->sites;
    if (s->failed) {
        node_scenario_free(s);
        return MESH_EINVAL;
    }
    *out = s;
    return MESH_OK;
}

mesh_err node_scenario_load(const char *path,
                            const char *const *sets,
                            uint32_t set_count,
                            bool lenient,
                            node_scenario **out,
                            char *error,
                            size_t error_size)
{
    MESH_ASSERT(path != NULL && out != NULL && error != NULL && error_size > 0);
    error[0] = '\0';
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        (void) snprintf(error, error_size, "%s: %s", path, strerror(errno));
        return MESH_ENOTFOUND;
    }
    // One byte over the bound tells a file of exactly the bound from a
    // larger one, which node_scenario_parse refuses.
    char *text = malloc(NODE_SCENARIO_SIZE_MAX + 1u);
    if (text == NULL) {
        (void) fclose(file);
        (void) snprintf(error, error_size, "out of memory");
        return MESH_ENOMEM;
    }
    size_t size = fread(text, 1, NODE_SCENARIO_SIZE_MAX + 1u, file);
    int read_errno = errno;
    bool read_failed = ferror(file) != 0;
    (void) fclose(file);
    if (read_failed) {
        (void) snprintf(error, error_size, "%s: cannot read: %s", path, strerror(read_errno));
        free(text);
        return MESH_EINVAL;
    }
    mesh_err err =
        node_scenario_parse(text, size, path, sets, set_count, lenient, out, error, error_size);
    free(text);
    return err;
}

sim_fed_config *node_scenario_config(node_scenario *s)
{
    return &s->config;
}

const char *node_scenario_name(const node_scenario *s)
{
    return s->name;
}

const sim_trace_stats *node_scenario_trace_stats(const node_scenario *s, uint32_t site)
{
    MESH_ASSERT(site < s->config.site_count);
    return &s->trace_stats[site];
}

void node_scenario_free(node_scenario *s)
{
    if (s == NULL) {
        return;
    }
    for (uint32_t i = 0; i < s->trace_count; i++) {
        sim_trace_free(&s->traces[i].trace);
    }
    for (uint32_t i = 0; i < SIM_FED_SITES_MAX; i++) {
        free(s->series_time_s[i]);
        free(s->series_value[i]);
    }
    free(s->entries);
    free(s);
}
