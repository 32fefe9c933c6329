/*
 * node/cli_audit.c: `fedmesh ledger audit`, the residency audit: every
 * lease a node's ledger holds, with what a regulator asks (who lent to
 * whom, where the lender was certified to be and what it was certified
 * for, the data class and constraints the borrower set, the period, the
 * amounts, every record with both signatures), and `fedmesh ledger audit
 * --verify`, which checks such a report with nothing but the federation's
 * root public key.
 *
 * What makes the report verifiable offline. Each lease carries its
 * records' exact bytes (hex) and both signatures; the report carries the
 * root-signed certificate frames of every lender and borrower
 * (ledger_put_certificate kept them when the lease opened) under their
 * BLAKE2b-256. Every readable field of a lease (parties, country,
 * amounts, window, ...) is derived from those records and certificates by
 * one function, audit_lease_json, which the report writer and the
 * verifier share: the verifier recomputes each lease object from its
 * records and certificates and compares it with the report's, field by
 * field. So a changed byte in a readable field fails the comparison, a
 * changed byte in a record fails its signatures, a changed byte in a
 * certificate fails its hash or the root's signature.
 *
 * What --verify checks, per lease, in this order (the first failure is
 * named and the exit code is 1):
 *   1. the records decode (ledger record version 2), belong to the lease,
 *      are numbered 0, 1, 2, ... and the first opens it;
 *   2. the lender's and the borrower's certificates are in the report,
 *      hash to the names they are filed under, and check against the root
 *      key (mcrypto_cert_check) at the time the lease opened: the root's
 *      signature and the validity window. Revocations are out of scope
 *      offline: a revocation is gossiped, not part of the report, so a
 *      certificate revoked after (or before) the lease still checks;
 *   3. the lender certificate's BLAKE2b-256 is the record's
 *      lender_cert_hash, and the keys in the certificates are the record's
 *      lender and borrower keys;
 *   4. the certified facts in the terms (country, jurisdictions,
 *      certifications) are the certificate's;
 *   5. the constraints hold on those facts: the country is allowed, every
 *      required jurisdiction and certification is held, the price per
 *      hour and the carbon are within the limits (the round-trip limit
 *      rested on a live measurement: it cannot be checked offline);
 *   6. every record carries both signatures and both verify
 *      (ledger_record_verify) with the certificates' keys;
 *   7. the settled totals are the sums of the usage records;
 *   8. the lease object equals the one recomputed from 1-7's inputs.
 * A report may leave out whole leases, or a lease's last records: what a
 * party holds in full is what reconciling with the other party (which
 * holds the same records) establishes, not what one report can prove.
 *
 * CSV: one row per record, with the lease's columns repeated; amounts as
 * "class[:model]=units" separated by spaces. CSV is for people and
 * spreadsheets; only the JSON form can be verified.
 *
 * Memory: the writer walks the journal once for (lease, seq) pairs (24
 * bytes per record), sorts them, then reads each lease's entries by key;
 * one lease's records are in memory at a time. The verifier holds the
 * whole report (jansson).
 */
#define _POSIX_C_SOURCE 200809L

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/crypto.h"
#include "ledger/ledger.h"
#include "ledger/store_rocks.h"
#include "node/cli_ledger_int.h"
#include "node/config_int.h"
#include "node/node_int.h"

#define AUDIT_FORMAT        "fedmesh-audit/1"
#define AUDIT_CMD           "ledger audit"
#define AUDIT_CERTS_MAX     65536u
#define AUDIT_RECORDS_MAX   (1u << 24) /* records in one lease */
#define AUDIT_WHY_SIZE      256u
#define AUDIT_SUMS_MAX      (4u * LEDGER_AMOUNTS_MAX)
#define AUDIT_AMOUNTS_TEXT  512u
#define AUDIT_HEX_KEY_SIZE  (2u * LEDGER_KEY_SIZE + 1u)
#define AUDIT_HEX_HASH_SIZE (2u * LEDGER_HASH_SIZE + 1u)

__extension__ typedef unsigned __int128 audit_u128;

static const char audit_usage[] =
    "usage: fedmesh ledger audit (--ledger DIR | --config NODE.INI) [--since T] [--until T]\n"
    "                            [--format json|csv]\n"
    "       fedmesh ledger audit --verify FILE --root ROOT.pub\n"
    "\n"
    "Lists every lease of the ledger (those whose period meets [--since, --until)):\n"
    "borrower, lender, the lender's certified country and certifications, the data\n"
    "class and constraints, the window and the actual end, the amounts reserved and\n"
    "settled, and every record with both signatures (hex). JSON (the default) also\n"
    "carries the records' bytes and the root-signed certificates of both parties, so\n"
    "that --verify can check it with nothing but the federation's root public key:\n"
    "certificates, the certified facts and the constraints on them, every signature,\n"
    "and the settled totals. Revocations are not checked offline.\n"
    "Exit codes: 0 ok (verified), 1 the report does not verify (the first failure is\n"
    "named), 2 usage, 3 no ledger or unreadable file, 5 internal error.\n";

/* ---------------------------------------------------------------- */
/* Shared pieces.                                                    */
/* ---------------------------------------------------------------- */

typedef struct audit_cert {
    uint8_t hash[LEDGER_HASH_SIZE];
    uint8_t frame[LEDGER_CERT_FRAME_SIZE_MAX];
    uint32_t size;
    bool decoded; /* the envelope and body decode (not the root's signature) */
    wire_cert cert;
} audit_cert;

typedef struct audit_record {
    uint8_t bytes[LEDGER_RECORD_SIZE_MAX];
    uint32_t size;
    bool has_lender_signature;
    bool has_borrower_signature;
    uint8_t lender_signature[LEDGER_SIGNATURE_SIZE];
    uint8_t borrower_signature[LEDGER_SIGNATURE_SIZE];
    ledger_record record; /* decoded from bytes */
} audit_record;

__attribute__((format(printf, 2, 3))) static bool fail(char *why, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    (void) vsnprintf(why, AUDIT_WHY_SIZE, format, args);
    va_end(args);
    return false;
}

static json_t *hex_json(const uint8_t *bytes, uint32_t size)
{
    char *text = malloc(2u * size + 1u);
    if (text == NULL) {
        return NULL;
    }
    sodium_bin2hex(text, 2u * size + 1u, bytes, size);
    json_t *out = json_string(text);
    free(text);
    return out;
}

// Lower-case hex of exactly size_max bytes or fewer; false otherwise.
static bool from_hex(const char *text, uint8_t *out, uint32_t size_max, uint32_t *size_out)
{
    if (text == NULL) {
        return false;
    }
    size_t length = strlen(text);
    if (length % 2 != 0 || length / 2 > size_max) {
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        char c = text[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    size_t bin_size = 0;
    if (sodium_hex2bin(out, size_max, text, length, NULL, &bin_size, NULL) != 0) {
        return false;
    }
    *size_out = (uint32_t) bin_size;
    return true;
}

static json_t *time_json(int64_t ns)
{
    char text[NODE_TIME_TEXT_SIZE];
    node_format_time(ns, text);
    return json_string(text);
}

// Nanosecond times pass 2^53: as decimal strings, so that every JSON
// tool (jq, JavaScript, spreadsheets) keeps them exact.
static json_t *ns_json(int64_t ns)
{
    char text[24];
    (void) snprintf(text, sizeof(text), "%" PRId64, ns);
    return json_string(text);
}

static json_t *node_id_json(const uint8_t *key)
{
    mesh_node_id id;
    mcrypto_node_id(key, &id);
    char text[MCRYPTO_NODE_ID_TEXT_SIZE];
    mcrypto_node_id_format(&id, text);
    return json_string(text);
}

static json_t *codes_json(const char (*codes)[3], uint32_t count)
{
    json_t *array = json_array();
    for (uint32_t i = 0; i < count && i < LEDGER_COUNTRIES_MAX && array != NULL; i++) {
        (void) json_array_append_new(array, json_string(codes[i]));
    }
    return array;
}

static json_t *certifications_json(uint32_t bits)
{
    json_t *array = json_array();
    for (uint32_t i = 0; i < WIRE_CERTIFICATION_COUNT && array != NULL; i++) {
        const char *name = wire_certification_name(bits & (1u << i));
        if (name != NULL) {
            (void) json_array_append_new(array, json_string(name));
        }
    }
    return array;
}

static json_t *amount_json(const ledger_amount *a)
{
    return json_pack("{s:s, s:s, s:I}", "class", ledger_class_name(a->resource_class), "model",
                     a->model, "amount_milli", (json_int_t) a->amount_milli);
}

static json_t *amounts_json(const ledger_amount *amounts, uint32_t count)
{
    json_t *array = json_array();
    for (uint32_t i = 0; i < count && array != NULL; i++) {
        (void) json_array_append_new(array, amount_json(&amounts[i]));
    }
    return array;
}

/* Sums of usage per (class, model), in order of first appearance. */
typedef struct audit_sums {
    uint32_t count;
    ledger_amount amounts[AUDIT_SUMS_MAX];
    bool overflow;
} audit_sums;

static void sums_add(audit_sums *sums, const ledger_amount *a)
{
    for (uint32_t i = 0; i < sums->count; i++) {
        ledger_amount *s = &sums->amounts[i];
        if (s->resource_class == a->resource_class && strcmp(s->model, a->model) == 0) {
            sums->overflow = sums->overflow || s->amount_milli > UINT64_MAX - a->amount_milli;
            s->amount_milli += a->amount_milli;
            return;
        }
    }
    if (sums->count == AUDIT_SUMS_MAX) {
        sums->overflow = true;
        return;
    }
    sums->amounts[sums->count++] = *a;
}

static uint64_t sums_get(const audit_sums *sums, const ledger_amount *a)
{
    for (uint32_t i = 0; i < sums->count; i++) {
        if (sums->amounts[i].resource_class == a->resource_class &&
            strcmp(sums->amounts[i].model, a->model) == 0) {
            return sums->amounts[i].amount_milli;
        }
    }
    return 0;
}

static bool is_end_kind(uint32_t kind)
{
    return kind == LEDGER_KIND_RELEASED || kind == LEDGER_KIND_RECLAIMED ||
           kind == LEDGER_KIND_EXPIRED;
}

static const char *lease_state(const audit_record *records, uint32_t count)
{
    const ledger_record *last = &records[count - 1].record;
    switch (last->kind) {
    case LEDGER_KIND_SETTLED:
        return ledger_lease_state_name(LEDGER_LEASE_SETTLED);
    case LEDGER_KIND_RELEASED:
        return ledger_lease_state_name(LEDGER_LEASE_RELEASED);
    case LEDGER_KIND_RECLAIMED:
        return ledger_lease_state_name(LEDGER_LEASE_RECLAIMED);
    case LEDGER_KIND_EXPIRED:
        return ledger_lease_state_name(LEDGER_LEASE_EXPIRED);
    case LEDGER_KIND_CREDIT:
        return ledger_lease_state_name(LEDGER_LEASE_CREDIT);
    default:
        return ledger_lease_state_name(LEDGER_LEASE_OPEN);
    }
}

// The lease's period, for --since and --until: from the window's start
// (or the first record) to its actual end (or the window's end).
static void
lease_period(const audit_record *records, uint32_t count, int64_t *start_out, int64_t *end_out)
{
    const ledger_record *first = &records[0].record;
    bool opened = first->kind == LEDGER_KIND_OPENED;
    *start_out = opened ? first->terms.start_ns : first->time_ns;
    *end_out = opened ? first->terms.end_ns : first->time_ns + 1;
    for (uint32_t i = 0; i < count; i++) {
        if (is_end_kind(records[i].record.kind)) {
            *end_out = records[i].record.time_ns;
        }
    }
}

static json_t *record_json(const audit_record *r)
{
    json_t *object =
        json_pack("{s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "number",
                  (json_int_t) r->record.number, "kind", ledger_kind_name(r->record.kind), "time",
                  time_json(r->record.time_ns), "time_ns", ns_json(r->record.time_ns), "amounts",
                  amounts_json(r->record.amounts, r->record.amount_count), "record",
                  hex_json(r->bytes, r->size), "lender_signature",
                  r->has_lender_signature ? hex_json(r->lender_signature, LEDGER_SIGNATURE_SIZE)
                                          : json_null(),
                  "borrower_signature",
                  r->has_borrower_signature ? hex_json(r->borrower_signature, LEDGER_SIGNATURE_SIZE)
                                            : json_null());
    return object;
}

/* One lease as the report shows it, from its records (decoded, in number
 * order, at least one) and the certificates of its parties (NULL when not
 * found). The writer and the verifier call this very function: the
 * verifier's recomputation is the report's definition. */
static json_t *audit_lease_json(const uint8_t self_key[LEDGER_KEY_SIZE],
                                const audit_record *records,
                                uint32_t count,
                                const audit_cert *lender_cert,
                                const audit_cert *borrower_cert)
{
    MESH_ASSERT(count > 0);
    const ledger_record *first = &records[0].record;
    bool opened = first->kind == LEDGER_KIND_OPENED;
    const ledger_terms *terms = &first->terms;
    bool lends = memcmp(first->lender_key, self_key, LEDGER_KEY_SIZE) == 0;
    json_t *lease = json_object();
    if (lease == NULL) {
        return NULL;
    }
    (void) json_object_set_new(lease, "lease_id", hex_json(first->lease_id, LEDGER_LEASE_ID_SIZE));
    (void) json_object_set_new(lease, "role", json_string(lends ? "lender" : "borrower"));
    (void) json_object_set_new(lease, "state", json_string(lease_state(records, count)));
    (void) json_object_set_new(lease, "lender", node_id_json(first->lender_key));
    (void) json_object_set_new(
        lease, "lender_name",
        json_string(lender_cert != NULL && lender_cert->decoded ? lender_cert->cert.name : ""));
    (void) json_object_set_new(lease, "lender_key", hex_json(first->lender_key, LEDGER_KEY_SIZE));
    (void) json_object_set_new(lease, "borrower", node_id_json(first->borrower_key));
    (void) json_object_set_new(lease, "borrower_name",
                               json_string(borrower_cert != NULL && borrower_cert->decoded
                                               ? borrower_cert->cert.name
                                               : ""));
    (void) json_object_set_new(lease, "borrower_key",
                               hex_json(first->borrower_key, LEDGER_KEY_SIZE));
    (void) json_object_set_new(lease, "lender_cert_hash",
                               opened ? hex_json(terms->lender_cert_hash, LEDGER_HASH_SIZE)
                               : lender_cert != NULL ? hex_json(lender_cert->hash, LEDGER_HASH_SIZE)
                                                     : json_null());
    (void) json_object_set_new(
        lease, "borrower_cert_hash",
        borrower_cert != NULL ? hex_json(borrower_cert->hash, LEDGER_HASH_SIZE) : json_null());
    if (opened) {
        const ledger_constraints *c = &terms->constraints;
        (void) json_object_set_new(lease, "lender_country", json_string(terms->lender_country));
        (void) json_object_set_new(
            lease, "lender_jurisdictions",
            codes_json(terms->lender_jurisdictions, terms->lender_jurisdiction_count));
        (void) json_object_set_new(lease, "lender_certifications",
                                   certifications_json(terms->lender_certifications));
        (void) json_object_set_new(lease, "carbon_gco2_per_kwh",
                                   json_integer(terms->carbon_gco2_per_kwh));
        (void) json_object_set_new(lease, "data_class", json_string(c->data_class));
        (void) json_object_set_new(
            lease, "constraints",
            json_pack("{s:o, s:o, s:o, s:I, s:I, s:I}", "countries",
                      codes_json(c->countries, c->country_count), "jurisdictions",
                      codes_json(c->jurisdictions, c->jurisdiction_count), "certifications",
                      certifications_json(c->certifications), "rtt_us_max",
                      (json_int_t) c->rtt_us_max, "cost_microeur_per_hour_max",
                      (json_int_t) c->cost_microeur_per_hour_max, "carbon_gco2_per_kwh_max",
                      (json_int_t) c->carbon_gco2_per_kwh_max));
        (void) json_object_set_new(
            lease, "window",
            json_pack("{s:o, s:o, s:o, s:o}", "start", time_json(terms->start_ns), "start_ns",
                      ns_json(terms->start_ns), "end", time_json(terms->end_ns), "end_ns",
                      ns_json(terms->end_ns)));
        json_t *reserved = json_array();
        for (uint32_t i = 0; i < first->amount_count && reserved != NULL; i++) {
            json_t *amount = amount_json(&first->amounts[i]);
            if (amount != NULL) {
                (void) json_object_set_new(amount, "price_microeur_per_unit_hour",
                                           json_integer((json_int_t) terms->prices[i]));
            }
            (void) json_array_append_new(reserved, amount);
        }
        (void) json_object_set_new(lease, "reserved", reserved);
    }
    json_t *ended = json_null();
    const ledger_record *settled = NULL;
    audit_sums usage;
    memset(&usage, 0, sizeof(usage));
    for (uint32_t i = 0; i < count; i++) {
        const ledger_record *r = &records[i].record;
        if (is_end_kind(r->kind)) {
            json_decref(ended);
            ended = json_pack("{s:s, s:o, s:o}", "kind", ledger_kind_name(r->kind), "at",
                              time_json(r->time_ns), "at_ns", ns_json(r->time_ns));
        }
        if (r->kind == LEDGER_KIND_SETTLED) {
            settled = r;
        }
        for (uint32_t a = 0; r->kind == LEDGER_KIND_USAGE && a < r->amount_count; a++) {
            sums_add(&usage, &r->amounts[a]);
        }
    }
    (void) json_object_set_new(lease, "ended", ended);
    (void) json_object_set_new(lease, "usage_total", amounts_json(usage.amounts, usage.count));
    (void) json_object_set_new(
        lease, "settled",
        settled != NULL ? amounts_json(settled->amounts, settled->amount_count) : json_null());
    json_t *list = json_array();
    for (uint32_t i = 0; i < count && list != NULL; i++) {
        (void) json_array_append_new(list, record_json(&records[i]));
    }
    (void) json_object_set_new(lease, "records", list);
    return lease;
}

/* ---------------------------------------------------------------- */
/* The report.                                                       */
/* ---------------------------------------------------------------- */

typedef struct audit_certs {
    audit_cert *items;
    uint32_t count;
    uint32_t count_max;
    bool overflow;
} audit_certs;

static bool certs_visit(void *arg,
                        const uint8_t hash[LEDGER_HASH_SIZE],
                        const uint8_t *frame,
                        uint32_t frame_size)
{
    audit_certs *certs = arg;
    if (certs->count == certs->count_max) {
        uint32_t grown = certs->count_max == 0 ? 64 : certs->count_max * 2;
        audit_cert *items =
            grown > AUDIT_CERTS_MAX ? NULL : realloc(certs->items, grown * sizeof(audit_cert));
        if (items == NULL) {
            certs->overflow = true;
            return false;
        }
        certs->items = items;
        certs->count_max = grown;
    }
    audit_cert *c = &certs->items[certs->count++];
    memset(c, 0, sizeof(*c));
    memcpy(c->hash, hash, LEDGER_HASH_SIZE);
    memcpy(c->frame, frame, frame_size);
    c->size = frame_size;
    wire_envelope envelope;
    c->decoded = wire_envelope_decode(frame, frame_size, &envelope, NULL) == MESH_OK &&
                 envelope.type == WIRE_TYPE_CERT &&
                 wire_cert_decode(envelope.body, envelope.body_size, &c->cert, NULL) == MESH_OK;
    return true;
}

static const audit_cert *certs_by_hash(const audit_certs *certs, const uint8_t *hash)
{
    for (uint32_t i = 0; i < certs->count; i++) {
        if (memcmp(certs->items[i].hash, hash, LEDGER_HASH_SIZE) == 0) {
            return &certs->items[i];
        }
    }
    return NULL;
}

// The certificate of key valid at at_ns (the latest serial when several
// are); NULL when none.
static const audit_cert *certs_by_key(const audit_certs *certs, const uint8_t *key, int64_t at_ns)
{
    const audit_cert *best = NULL;
    for (uint32_t i = 0; i < certs->count; i++) {
        const audit_cert *c = &certs->items[i];
        if (!c->decoded || memcmp(c->cert.public_key, key, LEDGER_KEY_SIZE) != 0 ||
            at_ns < c->cert.valid_from_ns || at_ns >= c->cert.valid_until_ns) {
            continue;
        }
        if (best == NULL || c->cert.serial > best->cert.serial) {
            best = c;
        }
    }
    return best;
}

typedef struct seq_ref {
    uint8_t lease_id[LEDGER_LEASE_ID_SIZE];
    uint64_t seq;
} seq_ref;

typedef struct seq_list {
    seq_ref *items;
    uint64_t count;
    uint64_t count_max;
    bool overflow;
} seq_list;

static bool seq_visit(void *arg, const ledger_entry *entry)
{
    seq_list *list = arg;
    if (list->count == list->count_max) {
        uint64_t grown = list->count_max == 0 ? 1024 : list->count_max * 2;
        seq_ref *items =
            grown > (1ull << 28) ? NULL : realloc(list->items, grown * sizeof(seq_ref));
        if (items == NULL) {
            list->overflow = true;
            return false;
        }
        list->items = items;
        list->count_max = grown;
    }
    seq_ref *ref = &list->items[list->count++];
    memcpy(ref->lease_id, entry->record.lease_id, LEDGER_LEASE_ID_SIZE);
    ref->seq = entry->seq;
    return true;
}

static int seq_compare(const void *a, const void *b)
{
    const seq_ref *x = a;
    const seq_ref *y = b;
    int c = memcmp(x->lease_id, y->lease_id, LEDGER_LEASE_ID_SIZE);
    if (c != 0) {
        return c;
    }
    return (x->seq > y->seq) - (x->seq < y->seq);
}

typedef struct audit_args {
    const char *ledger_dir;
    const char *config_path;
    const char *verify_path;
    const char *root_path;
    bool csv;
    bool has_since;
    bool has_until;
    int64_t since_ns;
    int64_t until_ns;
    char path[NODE_CONFIG_PATH_SIZE_MAX];
} audit_args;

// Reads one entry by its sequence number into r. MESH_ECORRUPT when it
// does not decode.
static mesh_err read_entry(const ledger_store *store, uint64_t seq, audit_record *r)
{
    uint8_t key[LEDGER_JOURNAL_KEY_SIZE];
    uint8_t value[LEDGER_VALUE_SIZE_MAX];
    uint32_t size = 0;
    mesh_err err =
        store->get(store->ctx, key, ledger_key_journal(seq, key), value, sizeof(value), &size);
    if (err != MESH_OK) {
        return err == MESH_ENOTFOUND || err == MESH_EFULL ? MESH_ECORRUPT : err;
    }
    ledger_entry entry;
    if (ledger_entry_decode(value, size, &entry) != MESH_OK || entry.seq != seq ||
        entry.record_size > sizeof(r->bytes)) {
        return MESH_ECORRUPT;
    }
    memset(r, 0, sizeof(*r));
    memcpy(r->bytes, entry.record_bytes, entry.record_size);
    r->size = entry.record_size;
    r->record = entry.record;
    r->has_lender_signature = entry.has_lender_signature;
    r->has_borrower_signature = entry.has_borrower_signature;
    memcpy(r->lender_signature, entry.lender_signature, LEDGER_SIGNATURE_SIZE);
    memcpy(r->borrower_signature, entry.borrower_signature, LEDGER_SIGNATURE_SIZE);
    return MESH_OK;
}

static void amounts_text(const ledger_amount *amounts, uint32_t count, char *text, size_t size)
{
    size_t used = 0;
    text[0] = '\0';
    for (uint32_t i = 0; i < count; i++) {
        const ledger_amount *a = &amounts[i];
        int n =
            snprintf(text + used, size - used, "%s%s%s%s=%" PRIu64 ".%03" PRIu64, i > 0 ? " " : "",
                     ledger_class_name(a->resource_class), a->model[0] != '\0' ? ":" : "", a->model,
                     a->amount_milli / 1000, a->amount_milli % 1000);
        if (n < 0 || (size_t) n >= size - used) {
            break;
        }
        used += (size_t) n;
    }
}

static void codes_text(const char (*codes)[3], uint32_t count, char *text, size_t size)
{
    size_t used = 0;
    text[0] = '\0';
    for (uint32_t i = 0; i < count && used + 4 < size; i++) {
        int n = snprintf(text + used, size - used, "%s%s", i > 0 ? " " : "", codes[i]);
        used += n > 0 ? (size_t) n : 0;
    }
}

static void certifications_text(uint32_t bits, char *text, size_t size)
{
    size_t used = 0;
    text[0] = '\0';
    for (uint32_t i = 0; i < WIRE_CERTIFICATION_COUNT; i++) {
        const char *name = wire_certification_name(bits & (1u << i));
        if (name != NULL && used + strlen(name) + 2 < size) {
            int n = snprintf(text + used, size - used, "%s%s", used > 0 ? " " : "", name);
            used += n > 0 ? (size_t) n : 0;
        }
    }
}

// One CSV row per record; the lease's columns repeated on each.
static void print_csv_lease(const uint8_t *self_key,
                            const audit_record *records,
                            uint32_t count,
                            const audit_cert *lender_cert,
                            const audit_cert *borrower_cert)
{
    const ledger_record *first = &records[0].record;
    bool opened = first->kind == LEDGER_KIND_OPENED;
    const ledger_terms *t = &first->terms;
    char lease[2 * LEDGER_LEASE_ID_SIZE + 1];
    sodium_bin2hex(lease, sizeof(lease), first->lease_id, LEDGER_LEASE_ID_SIZE);
    char lender[MCRYPTO_NODE_ID_TEXT_SIZE];
    char borrower[MCRYPTO_NODE_ID_TEXT_SIZE];
    mesh_node_id id;
    mcrypto_node_id(first->lender_key, &id);
    mcrypto_node_id_format(&id, lender);
    mcrypto_node_id(first->borrower_key, &id);
    mcrypto_node_id_format(&id, borrower);
    char jurisdictions[3 * LEDGER_JURISDICTIONS_MAX + 1] = "";
    char certifications[128] = "";
    char constraints[512] = "";
    char start[NODE_TIME_TEXT_SIZE] = "";
    char end[NODE_TIME_TEXT_SIZE] = "";
    char reserved[AUDIT_AMOUNTS_TEXT] = "";
    if (opened) {
        codes_text(t->lender_jurisdictions, t->lender_jurisdiction_count, jurisdictions,
                   sizeof(jurisdictions));
        certifications_text(t->lender_certifications, certifications, sizeof(certifications));
        const ledger_constraints *c = &t->constraints;
        char countries[3 * LEDGER_COUNTRIES_MAX + 1];
        char required_jurisdictions[3 * LEDGER_JURISDICTIONS_MAX + 1];
        char required[128];
        codes_text(c->countries, c->country_count, countries, sizeof(countries));
        codes_text(c->jurisdictions, c->jurisdiction_count, required_jurisdictions,
                   sizeof(required_jurisdictions));
        certifications_text(c->certifications, required, sizeof(required));
        (void) snprintf(constraints, sizeof(constraints),
                        "countries=%s; jurisdictions=%s; certifications=%s; rtt_us_max=%" PRIu32
                        "; cost_microeur_per_hour_max=%" PRIu64
                        "; carbon_gco2_per_kwh_max=%" PRIu32,
                        countries, required_jurisdictions, required, c->rtt_us_max,
                        c->cost_microeur_per_hour_max, c->carbon_gco2_per_kwh_max);
        node_format_time(t->start_ns, start);
        node_format_time(t->end_ns, end);
        amounts_text(first->amounts, first->amount_count, reserved, sizeof(reserved));
    }
    const char *ended_kind = "";
    char ended_at[NODE_TIME_TEXT_SIZE] = "";
    char settled[AUDIT_AMOUNTS_TEXT] = "";
    for (uint32_t i = 0; i < count; i++) {
        const ledger_record *r = &records[i].record;
        if (is_end_kind(r->kind)) {
            ended_kind = ledger_kind_name(r->kind);
            node_format_time(r->time_ns, ended_at);
        }
        if (r->kind == LEDGER_KIND_SETTLED) {
            amounts_text(r->amounts, r->amount_count, settled, sizeof(settled));
        }
    }
    bool lends = memcmp(first->lender_key, self_key, LEDGER_KEY_SIZE) == 0;
    for (uint32_t i = 0; i < count; i++) {
        const audit_record *r = &records[i];
        char time[NODE_TIME_TEXT_SIZE];
        node_format_time(r->record.time_ns, time);
        char amounts[AUDIT_AMOUNTS_TEXT];
        amounts_text(r->record.amounts, r->record.amount_count, amounts, sizeof(amounts));
        char lender_signature[2 * LEDGER_SIGNATURE_SIZE + 1] = "";
        char borrower_signature[2 * LEDGER_SIGNATURE_SIZE + 1] = "";
        if (r->has_lender_signature) {
            sodium_bin2hex(lender_signature, sizeof(lender_signature), r->lender_signature,
                           LEDGER_SIGNATURE_SIZE);
        }
        if (r->has_borrower_signature) {
            sodium_bin2hex(borrower_signature, sizeof(borrower_signature), r->borrower_signature,
                           LEDGER_SIGNATURE_SIZE);
        }
        (void) printf(
            "%s,%" PRIu32 ",%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%"
            "s,%s\n",
            lease, r->record.number, ledger_kind_name(r->record.kind), time,
            lends ? "lender" : "borrower", lease_state(records, count), lender,
            lender_cert != NULL && lender_cert->decoded ? lender_cert->cert.name : "", borrower,
            borrower_cert != NULL && borrower_cert->decoded ? borrower_cert->cert.name : "",
            opened ? t->lender_country : "", jurisdictions, certifications,
            opened ? t->constraints.data_class : "", constraints, start, end, ended_kind, ended_at,
            reserved, settled, amounts, lender_signature, borrower_signature);
    }
}

typedef struct report_state {
    const audit_args *args;
    const ledger_store *store;
    uint8_t self_key[LEDGER_KEY_SIZE];
    audit_certs certs;
    const audit_cert **used; /* certificates referenced by the leases printed */
    uint32_t used_count;
    uint64_t printed;
    uint64_t missing_certs;
} report_state;

static void note_used(report_state *state, const audit_cert *cert)
{
    if (cert == NULL) {
        return;
    }
    for (uint32_t i = 0; i < state->used_count; i++) {
        if (state->used[i] == cert) {
            return;
        }
    }
    state->used[state->used_count++] = cert;
}

// One lease: read its records, find its certificates, print it.
static mesh_err report_lease(report_state *state, const seq_ref *refs, uint32_t count)
{
    audit_record *records = calloc(count, sizeof(audit_record));
    if (records == NULL) {
        return MESH_ENOMEM;
    }
    mesh_err err = MESH_OK;
    for (uint32_t i = 0; i < count && err == MESH_OK; i++) {
        err = read_entry(state->store, refs[i].seq, &records[i]);
    }
    if (err != MESH_OK) {
        free(records);
        return err;
    }
    const ledger_record *first = &records[0].record;
    int64_t start_ns = 0;
    int64_t end_ns = 0;
    lease_period(records, count, &start_ns, &end_ns);
    if ((state->args->has_until && start_ns >= state->args->until_ns) ||
        (state->args->has_since && end_ns <= state->args->since_ns)) {
        free(records);
        return MESH_OK;
    }
    const audit_cert *lender_cert =
        first->kind == LEDGER_KIND_OPENED
            ? certs_by_hash(&state->certs, first->terms.lender_cert_hash)
            : certs_by_key(&state->certs, first->lender_key, first->time_ns);
    const audit_cert *borrower_cert =
        certs_by_key(&state->certs, first->borrower_key, first->time_ns);
    state->missing_certs += (lender_cert == NULL ? 1u : 0u) + (borrower_cert == NULL ? 1u : 0u);
    note_used(state, lender_cert);
    note_used(state, borrower_cert);
    if (state->args->csv) {
        print_csv_lease(state->self_key, records, count, lender_cert, borrower_cert);
    } else {
        json_t *lease =
            audit_lease_json(state->self_key, records, count, lender_cert, borrower_cert);
        char *text = lease != NULL ? json_dumps(lease, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(lease);
        if (text == NULL) {
            free(records);
            return MESH_ENOMEM;
        }
        (void) printf("%s\n%s", state->printed > 0 ? "," : "", text);
        free(text);
    }
    state->printed++;
    free(records);
    return MESH_OK;
}

static int run_report(const audit_args *args)
{
    ledger_rocks_store *rocks = NULL;
    mesh_err err = ledger_rocks_store_open(args->path, LEDGER_ROCKS_READ_ONLY, &rocks);
    if (err != MESH_OK) {
        node_say_error(AUDIT_CMD, "%s: %s", args->path,
                       err == MESH_ENOTFOUND ? "no ledger here; check the path"
                                             : mesh_strerror(err));
        return err == MESH_ENOTFOUND ? NODE_EXIT_INPUT : NODE_EXIT_INTERNAL;
    }
    ledger_store store = ledger_rocks_store_interface(rocks);
    report_state state;
    memset(&state, 0, sizeof(state));
    state.args = args;
    state.store = &store;
    seq_list seqs;
    memset(&seqs, 0, sizeof(seqs));
    err = ledger_store_self_key(&store, state.self_key);
    if (err == MESH_OK) {
        err = ledger_certificate_walk(&store, certs_visit, &state.certs);
        err = err == MESH_OK && state.certs.overflow ? MESH_ENOMEM : err;
    }
    if (err == MESH_OK) {
        state.used = calloc(state.certs.count + 1u, sizeof(const audit_cert *));
        err = state.used == NULL ? MESH_ENOMEM : MESH_OK;
    }
    if (err == MESH_OK) {
        err = ledger_journal_walk(&store, 1, seq_visit, &seqs);
        err = err == MESH_OK && seqs.overflow ? MESH_ENOMEM : err;
    }
    if (err == MESH_OK && seqs.count > 1) {
        qsort(seqs.items, seqs.count, sizeof(seq_ref), seq_compare);
    }
    if (err == MESH_OK) {
        if (args->csv) {
            (void) printf("lease_id,number,kind,time,role,state,lender,lender_name,borrower,"
                          "borrower_name,lender_country,lender_jurisdictions,"
                          "lender_certifications,data_class,constraints,window_start,window_end,"
                          "ended,ended_at,reserved,settled,amounts,lender_signature,"
                          "borrower_signature\n");
        } else {
            char self[MCRYPTO_NODE_ID_TEXT_SIZE];
            mesh_node_id id;
            mcrypto_node_id(state.self_key, &id);
            mcrypto_node_id_format(&id, self);
            char self_hex[AUDIT_HEX_KEY_SIZE];
            sodium_bin2hex(self_hex, sizeof(self_hex), state.self_key, LEDGER_KEY_SIZE);
            char generated[NODE_TIME_TEXT_SIZE];
            node_format_time(node_now().realtime_ns, generated);
            (void) printf("{\"format\":\"%s\",\"self\":\"%s\",\"self_key\":\"%s\","
                          "\"generated_at\":\"%s\",\"leases\":[",
                          AUDIT_FORMAT, self, self_hex, generated);
        }
    }
    for (uint64_t i = 0; err == MESH_OK && i < seqs.count;) {
        uint64_t j = i + 1;
        while (j < seqs.count && j - i < AUDIT_RECORDS_MAX &&
               memcmp(seqs.items[j].lease_id, seqs.items[i].lease_id, LEDGER_LEASE_ID_SIZE) == 0) {
            j++;
        }
        err = report_lease(&state, &seqs.items[i], (uint32_t) (j - i));
        i = j;
    }
    if (err == MESH_OK && !args->csv) {
        (void) printf("\n],\"lease_count\":%" PRIu64 ",\"certificates\":{", state.printed);
        for (uint32_t i = 0; i < state.used_count; i++) {
            char hash[AUDIT_HEX_HASH_SIZE];
            sodium_bin2hex(hash, sizeof(hash), state.used[i]->hash, LEDGER_HASH_SIZE);
            char *frame = malloc(2u * state.used[i]->size + 1u);
            if (frame == NULL) {
                err = MESH_ENOMEM;
                break;
            }
            sodium_bin2hex(frame, 2u * state.used[i]->size + 1u, state.used[i]->frame,
                           state.used[i]->size);
            (void) printf("%s\n\"%s\":\"%s\"", i > 0 ? "," : "", hash, frame);
            free(frame);
        }
        (void) printf("\n}}\n");
    }
    free(seqs.items);
    free(state.certs.items);
    free(state.used);
    ledger_rocks_store_close(rocks);
    if (err != MESH_OK) {
        node_say_error(AUDIT_CMD, "%s: %s%s", args->path, mesh_strerror(err),
                       err == MESH_ECORRUPT ? "; run 'fedmesh ledger verify'" : "");
        return node_exit_from_err(err == MESH_ENOTFOUND ? MESH_EPROTO : err);
    }
    if (state.missing_certs > 0) {
        node_say_error(AUDIT_CMD,
                       "warning: %" PRIu64 " certificates of lease parties are not in the "
                       "ledger (leases opened before certificates were kept); --verify will "
                       "name them",
                       state.missing_certs);
    }
    return NODE_EXIT_OK;
}

/* ---------------------------------------------------------------- */
/* --verify                                                          */
/* ---------------------------------------------------------------- */

typedef struct verify_state {
    uint8_t root[MCRYPTO_PUBLIC_KEY_SIZE];
    uint8_t self_key[LEDGER_KEY_SIZE];
    json_t *certificates;
    uint64_t records;
    uint64_t signatures;
    uint64_t certificates_checked;
} verify_state;

// The certificate filed under the hex hash name in the report: its bytes
// must hash to it; cert_out gets the root-checked certificate at at_ns.
static bool verify_certificate(verify_state *v,
                               const char *hash_hex,
                               int64_t at_ns,
                               const char *whose,
                               audit_cert *cert_out,
                               char *why)
{
    uint8_t hash[LEDGER_HASH_SIZE];
    uint32_t size = 0;
    if (hash_hex == NULL || !from_hex(hash_hex, hash, sizeof(hash), &size) ||
        size != LEDGER_HASH_SIZE) {
        return fail(why, "the %s certificate hash is missing or malformed", whose);
    }
    const char *frame_hex = json_string_value(json_object_get(v->certificates, hash_hex));
    memset(cert_out, 0, sizeof(*cert_out));
    if (frame_hex == NULL) {
        return fail(why, "the %s certificate %.16s... is not in the report", whose, hash_hex);
    }
    if (!from_hex(frame_hex, cert_out->frame, sizeof(cert_out->frame), &cert_out->size) ||
        cert_out->size == 0) {
        return fail(why, "the %s certificate %.16s... is not hex of a frame", whose, hash_hex);
    }
    uint8_t computed[LEDGER_HASH_SIZE];
    MESH_ASSERT(crypto_generichash(computed, sizeof(computed), cert_out->frame, cert_out->size,
                                   NULL, 0) == 0);
    if (memcmp(computed, hash, LEDGER_HASH_SIZE) != 0) {
        return fail(why, "the %s certificate's bytes do not hash to %.16s...", whose, hash_hex);
    }
    memcpy(cert_out->hash, hash, LEDGER_HASH_SIZE);
    mcrypto_cert_status status = MCRYPTO_CERT_MALFORMED;
    if (mcrypto_cert_check(v->root, cert_out->frame, cert_out->size, at_ns, NULL, 0,
                           &cert_out->cert, &status) != MESH_OK) {
        return fail(why, "the %s certificate %.16s... does not check against the root key: %s",
                    whose, hash_hex, mcrypto_cert_status_text(status));
    }
    cert_out->decoded = true;
    v->certificates_checked++;
    return true;
}

static bool codes_equal(const char (*a)[3], uint32_t a_count, const char (*b)[3], uint32_t b_count)
{
    if (a_count != b_count) {
        return false;
    }
    for (uint32_t i = 0; i < a_count; i++) {
        if (strcmp(a[i], b[i]) != 0) {
            return false;
        }
    }
    return true;
}

static bool code_in(const char *code, const char (*list)[3], uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        if (strcmp(list[i], code) == 0) {
            return true;
        }
    }
    return false;
}

// The constraints on the certified facts and the offered terms.
static bool constraints_hold(const ledger_record *opened, char *why)
{
    const ledger_terms *t = &opened->terms;
    const ledger_constraints *c = &t->constraints;
    if (c->country_count > 0 && !code_in(t->lender_country, c->countries, c->country_count)) {
        return fail(why, "the lender's country %s is not one the borrower allowed",
                    t->lender_country);
    }
    for (uint32_t i = 0; i < c->jurisdiction_count; i++) {
        if (!code_in(c->jurisdictions[i], t->lender_jurisdictions, t->lender_jurisdiction_count)) {
            return fail(why, "the lender does not hold the required jurisdiction %s",
                        c->jurisdictions[i]);
        }
    }
    uint32_t missing = c->certifications & ~t->lender_certifications;
    if (missing != 0) {
        const char *name = wire_certification_name(missing & (~missing + 1u)); // the lowest
        return fail(why, "the lender lacks the required certification %s",
                    name != NULL ? name : "?");
    }
    if (c->cost_microeur_per_hour_max != 0) {
        // The lease machine's rule (lease_cost_per_hour): milli-units times
        // price per unit-hour, over 1000, in 128 bits.
        audit_u128 total = 0;
        for (uint32_t i = 0; i < opened->amount_count; i++) {
            total += (audit_u128) opened->amounts[i].amount_milli * t->prices[i] / 1000u;
        }
        if (total > c->cost_microeur_per_hour_max) {
            return fail(why, "the price per hour is over the borrower's limit of %" PRIu64,
                        c->cost_microeur_per_hour_max);
        }
    }
    if (c->carbon_gco2_per_kwh_max != 0 && t->carbon_gco2_per_kwh > c->carbon_gco2_per_kwh_max) {
        return fail(why, "the lender's carbon %" PRIu32 " gCO2/kWh is over the limit of %" PRIu32,
                    t->carbon_gco2_per_kwh, c->carbon_gco2_per_kwh_max);
    }
    return true;
}

// The first key whose value differs between two objects (or that one
// lacks), for the failure message.
static const char *first_difference(json_t *expected, json_t *given)
{
    const char *key = NULL;
    json_t *value = NULL;
    json_object_foreach(expected, key, value)
    {
        if (!json_equal(value, json_object_get(given, key))) {
            return key;
        }
    }
    json_object_foreach(given, key, value)
    {
        if (json_object_get(expected, key) == NULL) {
            return key;
        }
    }
    return "?";
}

// Decodes the report's records of one lease into records[]: hex of a
// valid record of this lease, numbered 0..count-1, signatures hex or null.
static bool read_records(json_t *list, audit_record *records, uint32_t count, char *why)
{
    for (uint32_t i = 0; i < count; i++) {
        json_t *item = json_array_get(list, i);
        audit_record *r = &records[i];
        memset(r, 0, sizeof(*r));
        if (!from_hex(json_string_value(json_object_get(item, "record")), r->bytes,
                      sizeof(r->bytes), &r->size) ||
            ledger_record_decode(r->bytes, r->size, &r->record) != MESH_OK) {
            return fail(why, "record %u does not decode as a ledger record", i);
        }
        if (r->record.number != i) {
            return fail(why, "record %u is numbered %u: records are missing or out of order", i,
                        r->record.number);
        }
        if (i > 0 &&
            memcmp(r->record.lease_id, records[0].record.lease_id, LEDGER_LEASE_ID_SIZE) != 0) {
            return fail(why, "record %u belongs to another lease", i);
        }
        json_t *lender = json_object_get(item, "lender_signature");
        json_t *borrower = json_object_get(item, "borrower_signature");
        uint32_t size = 0;
        r->has_lender_signature = json_is_string(lender);
        r->has_borrower_signature = json_is_string(borrower);
        if ((r->has_lender_signature && (!from_hex(json_string_value(lender), r->lender_signature,
                                                   LEDGER_SIGNATURE_SIZE, &size) ||
                                         size != LEDGER_SIGNATURE_SIZE)) ||
            (r->has_borrower_signature &&
             (!from_hex(json_string_value(borrower), r->borrower_signature, LEDGER_SIGNATURE_SIZE,
                        &size) ||
              size != LEDGER_SIGNATURE_SIZE))) {
            return fail(why, "record %u: a signature is not 64 bytes of hex", i);
        }
    }
    if (records[0].record.kind != LEDGER_KIND_OPENED &&
        records[0].record.kind != LEDGER_KIND_CREDIT) {
        return fail(why, "record 0 does not open the lease");
    }
    return true;
}

static bool verify_lease(verify_state *v, json_t *lease, char *why)
{
    json_t *list = json_object_get(lease, "records");
    size_t count = json_array_size(list);
    if (!json_is_object(lease) || count == 0 || count > AUDIT_RECORDS_MAX) {
        return fail(why, "no records");
    }
    audit_record *records = calloc(count, sizeof(audit_record));
    if (records == NULL) {
        return fail(why, "out of memory");
    }
    bool ok = read_records(list, records, (uint32_t) count, why);
    const ledger_record *first = &records[0].record;
    if (ok && memcmp(first->lender_key, v->self_key, LEDGER_KEY_SIZE) != 0 &&
        memcmp(first->borrower_key, v->self_key, LEDGER_KEY_SIZE) != 0) {
        ok = fail(why, "this node (\"self\") is not a party of the lease");
    }
    bool opened = first->kind == LEDGER_KIND_OPENED;
    audit_cert *lender = calloc(1, sizeof(audit_cert));
    audit_cert *borrower = calloc(1, sizeof(audit_cert));
    if (lender == NULL || borrower == NULL) {
        ok = ok && fail(why, "out of memory");
    }
    // 2, 3: the certificates, against the root key when the lease opened.
    const char *lender_hash = json_string_value(json_object_get(lease, "lender_cert_hash"));
    const char *borrower_hash = json_string_value(json_object_get(lease, "borrower_cert_hash"));
    ok = ok && verify_certificate(v, lender_hash, first->time_ns, "lender", lender, why);
    ok = ok && verify_certificate(v, borrower_hash, first->time_ns, "borrower", borrower, why);
    if (ok && opened &&
        memcmp(lender->hash, first->terms.lender_cert_hash, LEDGER_HASH_SIZE) != 0) {
        ok = fail(why, "the lender certificate is not the one the OPENED record names");
    }
    if (ok && memcmp(lender->cert.public_key, first->lender_key, LEDGER_KEY_SIZE) != 0) {
        ok = fail(why, "the lender certificate is for another key than the records' lender");
    }
    if (ok && memcmp(borrower->cert.public_key, first->borrower_key, LEDGER_KEY_SIZE) != 0) {
        ok = fail(why, "the borrower certificate is for another key than the records' borrower");
    }
    // 4, 5: the facts in the terms are the certificate's; the constraints hold.
    if (ok && opened) {
        const ledger_terms *t = &first->terms;
        if (strcmp(t->lender_country, lender->cert.country) != 0) {
            ok = fail(why, "the terms say the lender is in %s, its certificate says %s",
                      t->lender_country, lender->cert.country);
        } else if (!codes_equal(t->lender_jurisdictions, t->lender_jurisdiction_count,
                                (const char(*)[3]) lender->cert.jurisdictions,
                                lender->cert.jurisdiction_count)) {
            ok = fail(why, "the terms' lender jurisdictions are not its certificate's");
        } else if (t->lender_certifications != lender->cert.certifications) {
            ok = fail(why, "the terms' lender certifications are not its certificate's");
        } else {
            ok = constraints_hold(first, why);
        }
    }
    // 6: every record carries both signatures, and both verify.
    for (size_t i = 0; ok && i < count; i++) {
        const audit_record *r = &records[i];
        if (!r->has_lender_signature || !r->has_borrower_signature) {
            ok = fail(why, "record %zu lacks a signature", i);
        } else if (ledger_record_verify(&r->record, lender->cert.public_key, r->lender_signature) !=
                   MESH_OK) {
            ok = fail(why, "record %zu: the lender's signature does not verify", i);
        } else if (ledger_record_verify(&r->record, borrower->cert.public_key,
                                        r->borrower_signature) != MESH_OK) {
            ok = fail(why, "record %zu: the borrower's signature does not verify", i);
        }
        v->signatures += ok ? 2u : 0u;
    }
    // 7: settled totals are the usage sums.
    audit_sums usage;
    memset(&usage, 0, sizeof(usage));
    const ledger_record *settled = NULL;
    for (size_t i = 0; ok && i < count; i++) {
        const ledger_record *r = &records[i].record;
        for (uint32_t a = 0; r->kind == LEDGER_KIND_USAGE && a < r->amount_count; a++) {
            sums_add(&usage, &r->amounts[a]);
        }
        settled = r->kind == LEDGER_KIND_SETTLED ? r : settled;
    }
    if (ok && settled != NULL) {
        audit_sums totals;
        memset(&totals, 0, sizeof(totals));
        for (uint32_t a = 0; a < settled->amount_count; a++) {
            sums_add(&totals, &settled->amounts[a]);
        }
        for (uint32_t a = 0; ok && a < usage.count; a++) {
            if (sums_get(&totals, &usage.amounts[a]) != usage.amounts[a].amount_milli) {
                ok = fail(why, "the settled %s total is not the sum of the usage records",
                          ledger_class_name(usage.amounts[a].resource_class));
            }
        }
        for (uint32_t a = 0; ok && a < totals.count; a++) {
            if (sums_get(&usage, &totals.amounts[a]) != totals.amounts[a].amount_milli) {
                ok = fail(why, "the settled %s total is not the sum of the usage records",
                          ledger_class_name(totals.amounts[a].resource_class));
            }
        }
        ok = ok && (!usage.overflow || fail(why, "usage sums overflow"));
    }
    // 8: every field is what the records and certificates say.
    if (ok) {
        json_t *expected =
            audit_lease_json(v->self_key, records, (uint32_t) count, lender, borrower);
        if (expected == NULL) {
            ok = fail(why, "out of memory");
        } else if (!json_equal(expected, lease)) {
            ok = fail(why, "field '%s' is not what the records and certificates say",
                      first_difference(expected, lease));
        }
        json_decref(expected);
    }
    v->records += ok ? count : 0;
    free(lender);
    free(borrower);
    free(records);
    return ok;
}

static int run_verify(const audit_args *args)
{
    verify_state v;
    memset(&v, 0, sizeof(v));
    if (node_load_public(AUDIT_CMD, args->root_path, v.root) != MESH_OK) {
        return NODE_EXIT_INPUT;
    }
    json_error_t error;
    json_t *report = json_load_file(args->verify_path, JSON_REJECT_DUPLICATES, &error);
    if (report == NULL) {
        node_say_error(AUDIT_CMD, "%s: not a JSON audit report: %s (line %d)", args->verify_path,
                       error.text, error.line);
        return NODE_EXIT_INPUT;
    }
    char why[AUDIT_WHY_SIZE] = "";
    bool ok = true;
    json_t *leases = json_object_get(report, "leases");
    v.certificates = json_object_get(report, "certificates");
    const char *format = json_string_value(json_object_get(report, "format"));
    const char *self = json_string_value(json_object_get(report, "self"));
    uint32_t size = 0;
    if (format == NULL || strcmp(format, AUDIT_FORMAT) != 0) {
        ok = fail(why, "not a %s report (\"format\")", AUDIT_FORMAT);
    } else if (!json_is_array(leases) || !json_is_object(v.certificates)) {
        ok = fail(why, "the report lacks \"leases\" or \"certificates\"");
    } else if (!from_hex(json_string_value(json_object_get(report, "self_key")), v.self_key,
                         sizeof(v.self_key), &size) ||
               size != LEDGER_KEY_SIZE) {
        ok = fail(why, "\"self_key\" is not a public key in hex");
    } else if (json_integer_value(json_object_get(report, "lease_count")) !=
               (json_int_t) json_array_size(leases)) {
        ok = fail(why, "\"lease_count\" is not the number of leases listed");
    } else {
        char expected[MCRYPTO_NODE_ID_TEXT_SIZE];
        mesh_node_id id;
        mcrypto_node_id(v.self_key, &id);
        mcrypto_node_id_format(&id, expected);
        if (self == NULL || strcmp(self, expected) != 0) {
            ok = fail(why, "\"self\" is not the node id of \"self_key\"");
        }
    }
    size_t index = 0;
    json_t *lease = NULL;
    json_array_foreach(leases, index, lease)
    {
        if (!ok) {
            break;
        }
        char inner[AUDIT_WHY_SIZE] = "";
        if (!verify_lease(&v, lease, inner)) {
            const char *id = json_string_value(json_object_get(lease, "lease_id"));
            // "lease <id>: " then as much of the reason as fits.
            (void) snprintf(why, sizeof(why), "lease %.32s: %.200s", id != NULL ? id : "?", inner);
            ok = false;
        }
    }
    // Every certificate filed must hash to its name, referenced or not.
    const char *hash_hex = NULL;
    json_t *frame_hex = NULL;
    json_object_foreach(v.certificates, hash_hex, frame_hex)
    {
        if (!ok) {
            break;
        }
        audit_cert *c = calloc(1, sizeof(*c));
        uint8_t hash[LEDGER_HASH_SIZE];
        uint8_t computed[LEDGER_HASH_SIZE];
        uint32_t hash_size = 0;
        if (c == NULL || !from_hex(hash_hex, hash, sizeof(hash), &hash_size) ||
            hash_size != LEDGER_HASH_SIZE ||
            !from_hex(json_string_value(frame_hex), c->frame, sizeof(c->frame), &c->size) ||
            crypto_generichash(computed, sizeof(computed), c->frame, c->size, NULL, 0) != 0 ||
            memcmp(computed, hash, LEDGER_HASH_SIZE) != 0) {
            ok = fail(why, "certificate %.16s... does not hash to its name", hash_hex);
        }
        free(c);
    }
    char root_hex[2 * MCRYPTO_PUBLIC_KEY_SIZE + 1];
    sodium_bin2hex(root_hex, sizeof(root_hex), v.root, sizeof(v.root));
    json_t *out =
        ok ? json_pack("{s:b, s:I, s:I, s:I, s:I, s:s, s:s}", "audit_verified", 1, "leases",
                       (json_int_t) json_array_size(leases), "records", (json_int_t) v.records,
                       "signatures", (json_int_t) v.signatures, "certificates",
                       (json_int_t) v.certificates_checked, "root", root_hex, "not_checked",
                       "revocations (not in the report); round-trip limits (measured "
                       "live); completeness (reconcile with the other party)")
           : json_pack("{s:b, s:s}", "audit_verified", 0, "failure", why);
    char *text = out != NULL ? json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(out);
    json_decref(report);
    if (text != NULL) {
        (void) printf("%s\n", text);
        free(text);
    }
    if (!ok) {
        node_say_error(AUDIT_CMD, "%s does not verify: %s", args->verify_path, why);
        return NODE_EXIT_INVALID;
    }
    return NODE_EXIT_OK;
}

/* ---------------------------------------------------------------- */
/* The command.                                                      */
/* ---------------------------------------------------------------- */

static int audit_usage_error(const char *message)
{
    node_say_error(AUDIT_CMD, "%s", message);
    (void) fputs(audit_usage, stderr);
    return NODE_EXIT_USAGE;
}

// The ledger path: --ledger DIR, or [ledger] path of --config.
static int resolve_path(audit_args *args)
{
    if ((args->ledger_dir == NULL) == (args->config_path == NULL)) {
        return audit_usage_error("give exactly one of --ledger DIR and --config NODE.INI");
    }
    if (args->ledger_dir != NULL) {
        if (strlen(args->ledger_dir) >= sizeof(args->path)) {
            return audit_usage_error("--ledger: path too long");
        }
        (void) snprintf(args->path, sizeof(args->path), "%s", args->ledger_dir);
        return NODE_EXIT_OK;
    }
    node_config *config = calloc(1, sizeof(*config));
    if (config == NULL) {
        node_say_error(AUDIT_CMD, "out of memory");
        return NODE_EXIT_INTERNAL;
    }
    char error[NODE_CONFIG_ERROR_SIZE];
    int rc = NODE_EXIT_OK;
    mesh_err err = node_config_load(args->config_path, config, error);
    if (err != MESH_OK) {
        node_say_error(AUDIT_CMD, "%s", error);
        rc = err == MESH_EIO ? NODE_EXIT_INPUT : NODE_EXIT_USAGE;
    } else if (config->ledger_path[0] == '\0') {
        node_say_error(AUDIT_CMD, "%s: [ledger] path is not set; add it, or use --ledger DIR",
                       args->config_path);
        rc = NODE_EXIT_USAGE;
    } else {
        (void) snprintf(args->path, sizeof(args->path), "%s", config->ledger_path);
    }
    free(config);
    return rc;
}

int node_cmd_ledger_audit(int argc, char **argv)
{
    if (node_wants_help(argc, argv)) {
        (void) fputs(audit_usage, stdout);
        return NODE_EXIT_OK;
    }
    enum { O_LEDGER = 1, O_CONFIG, O_SINCE, O_UNTIL, O_FORMAT, O_VERIFY, O_ROOT };
    static const struct option options[] = {{"ledger", required_argument, NULL, O_LEDGER},
                                            {"config", required_argument, NULL, O_CONFIG},
                                            {"since", required_argument, NULL, O_SINCE},
                                            {"until", required_argument, NULL, O_UNTIL},
                                            {"format", required_argument, NULL, O_FORMAT},
                                            {"verify", required_argument, NULL, O_VERIFY},
                                            {"root", required_argument, NULL, O_ROOT},
                                            {NULL, 0, NULL, 0}};
    audit_args args;
    memset(&args, 0, sizeof(args));
    optind = 1;
    opterr = 0;
    int c = 0;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case O_LEDGER:
            args.ledger_dir = optarg;
            break;
        case O_CONFIG:
            args.config_path = optarg;
            break;
        case O_SINCE:
            args.has_since = true;
            if (node_parse_time(optarg, &args.since_ns) != MESH_OK) {
                return audit_usage_error("--since: not a time (YYYY-MM-DD, ...Z or @SECONDS)");
            }
            break;
        case O_UNTIL:
            args.has_until = true;
            if (node_parse_time(optarg, &args.until_ns) != MESH_OK) {
                return audit_usage_error("--until: not a time (YYYY-MM-DD, ...Z or @SECONDS)");
            }
            break;
        case O_FORMAT:
            if (strcmp(optarg, "csv") != 0 && strcmp(optarg, "json") != 0) {
                return audit_usage_error("--format: json or csv");
            }
            args.csv = strcmp(optarg, "csv") == 0;
            break;
        case O_VERIFY:
            args.verify_path = optarg;
            break;
        case O_ROOT:
            args.root_path = optarg;
            break;
        default:
            return audit_usage_error("unknown or misplaced option");
        }
    }
    if (optind != argc) {
        return audit_usage_error("unexpected argument");
    }
    if (args.verify_path != NULL || args.root_path != NULL) {
        if (args.verify_path == NULL || args.root_path == NULL || args.ledger_dir != NULL ||
            args.config_path != NULL || args.has_since || args.has_until || args.csv) {
            return audit_usage_error("--verify FILE takes --root ROOT.pub and nothing else");
        }
        return run_verify(&args);
    }
    int rc = resolve_path(&args);
    if (rc != NODE_EXIT_OK) {
        return rc;
    }
    return run_report(&args);
}
