/*
 * node/cli_identity.c: the identity and membership commands: keygen,
 * federation init | admit | revoke, cert show | verify.
 *
 * These are the operator's first contact with fedmesh, so every refusal
 * says what is wrong and how to fix it, and nothing is ever overwritten:
 * a federation root key that is silently replaced would orphan every
 * member it admitted.
 *
 * Secrets: seeds come from libsodium's randombytes_buf (the OS CSPRNG),
 * live on the stack for the shortest time, and are wiped on every path.
 */
#define _POSIX_C_SOURCE 200809L

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "node/keyfile_int.h"
#include "node/node_int.h"

#define DAY_NS               (86400ll * (int64_t) MESH_NS_PER_S)
#define CERT_DAYS_DEFAULT    365
#define CERT_DAYS_MAX        3650
#define REVOCATION_FILES_MAX 1024u

/* The 27 member states of the European Union (ISO 3166-1 alpha-2). A member
 * in one of them holds the "EU" jurisdiction by default. */
static const char eu_members[][3] = {"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES",
                                     "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU",
                                     "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"};

static bool in_eu(const char *country)
{
    for (uint32_t i = 0; i < MESH_ARRAY_COUNT(eu_members); i++) {
        if (strcmp(eu_members[i], country) == 0) {
            return true;
        }
    }
    return false;
}

static int usage_error(const char *command, const char *usage, const char *message)
{
    node_say_error(command, "%s", message);
    (void) fprintf(stderr, "%s", usage);
    return NODE_EXIT_USAGE;
}

/* Generates a key pair into path and path.pub; shared by keygen and
 * federation init. */
static int write_new_keypair(const char *command, const char *path, const char *what)
{
    uint8_t seed[MCRYPTO_SEED_SIZE];
    randombytes_buf(seed, sizeof(seed));
    mcrypto_keypair keypair;
    mesh_err err = mcrypto_keypair_from_seed(seed, &keypair);
    if (err == MESH_OK) {
        err = node_keyfile_write(path, seed);
    }
    sodium_memzero(seed, sizeof(seed));
    if (err == MESH_EEXIST) {
        node_say_error(command,
                       "%s or %s.pub exists; refusing to overwrite a key (choose "
                       "another --out, or move the old key away first)",
                       path, path);
        mcrypto_keypair_wipe(&keypair);
        return NODE_EXIT_REFUSED;
    }
    if (err != MESH_OK) {
        node_say_error(command, "cannot write %s: %s", path, mesh_strerror(err));
        mcrypto_keypair_wipe(&keypair);
        return node_exit_from_err(err);
    }
    mesh_node_id id;
    mcrypto_node_id(keypair.public_key, &id);
    mcrypto_keypair_wipe(&keypair);
    char id_text[MCRYPTO_NODE_ID_TEXT_SIZE];
    mcrypto_node_id_format(&id, id_text);
    (void) printf("wrote %s %s (secret, mode 0600) and %s.pub (public)\n%s id: %s\n", what, path,
                  path, what, id_text);
    return NODE_EXIT_OK;
}

static const char keygen_usage[] =
    "usage: fedmesh keygen --out PATH\n"
    "\n"
    "Makes a node's Ed25519 key pair: PATH holds the secret (mode 0600) and\n"
    "PATH.pub the public key to send to the federation for admission.\n"
    "Never overwrites an existing file.\n";

static const char *parse_out_only(int argc, char **argv)
{
    static const struct option options[] = {{"out", required_argument, NULL, 'o'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    const char *out = NULL;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "ho:", options, NULL)) != -1) {
        switch (c) {
        case 'o':
            out = optarg;
            break;
        default:
            return NULL;
        }
    }
    if (optind != argc) {
        return NULL;
    }
    return out;
}

int node_cmd_keygen(int argc, char **argv)
{
    if (node_wants_help(argc, argv)) {
        (void) fputs(keygen_usage, stdout);
        return NODE_EXIT_OK;
    }
    const char *out = parse_out_only(argc, argv);
    if (out == NULL) {
        return usage_error("keygen", keygen_usage, "expected exactly --out PATH");
    }
    return write_new_keypair("keygen", out, "node key");
}

static const char federation_usage[] =
    "usage: fedmesh federation init --out PATH\n"
    "       fedmesh federation admit --root ROOT_KEY --pubkey NODE.pub --name NAME\n"
    "                                --country CC [--operator ORG] [--cert NAME]...\n"
    "                                [--jurisdiction CC]... [--days N]\n"
    "                                [--valid-from TIME] --out CERT\n"
    "       fedmesh federation revoke --root ROOT_KEY --pubkey NODE.pub\n"
    "                                 [--reason TEXT] --out REVOCATION\n"
    "\n"
    "init    makes the federation's root key pair (keep PATH offline).\n"
    "admit   signs a member certificate. NAME is [a-z0-9-] (e.g. fr-par-1); CC is\n"
    "        ISO 3166-1 alpha-2; --cert is one of SecNumCloud, C5, HDS, ISO27001,\n"
    "        EUCS-basic, EUCS-substantial, EUCS-high (repeat for several);\n"
    "        --jurisdiction defaults to the country, plus EU for EU members;\n"
    "        --days defaults to 365 (at most 3650); --valid-from defaults to now\n"
    "        and takes YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or @UNIXSECONDS.\n"
    "revoke  signs a revocation of a member's key; publish it through any running\n"
    "        member with `fedmesh revoke publish FILE --config NODE.INI`.\n";

typedef struct admit_args {
    const char *root_path;
    const char *pubkey_path;
    const char *out_path;
    const char *name;
    const char *country;
    const char *operator_name;
    const char *valid_from;
    int64_t days;
    uint32_t certifications;
    uint32_t jurisdiction_count;
    const char *jurisdictions[WIRE_JURISDICTIONS_MAX];
} admit_args;

static int jurisdiction_compare(const void *a, const void *b)
{
    return strcmp((const char *) a, (const char *) b);
}

/* Fills the certificate's fields from the arguments; prints what is wrong. */
static int admit_fill_cert(const admit_args *args, int64_t now_ns, wire_cert *cert)
{
    const char *command = "federation admit";
    memset(cert, 0, sizeof(*cert));
    if (strlen(args->name) > WIRE_NAME_SIZE_MAX) {
        node_say_error(command, "--name is longer than %u characters", WIRE_NAME_SIZE_MAX);
        return NODE_EXIT_USAGE;
    }
    memcpy(cert->name, args->name, strlen(args->name) + 1);
    if (!wire_country_valid(args->country)) {
        node_say_error(command, "--country %s is not an ISO 3166-1 alpha-2 code (e.g. FR, DE, NL)",
                       args->country);
        return NODE_EXIT_USAGE;
    }
    memcpy(cert->country, args->country, 3);
    const char *operator_name = args->operator_name != NULL ? args->operator_name : "";
    if (strlen(operator_name) > WIRE_OPERATOR_SIZE_MAX) {
        node_say_error(command, "--operator is longer than %u bytes", WIRE_OPERATOR_SIZE_MAX);
        return NODE_EXIT_USAGE;
    }
    memcpy(cert->operator_name, operator_name, strlen(operator_name) + 1);
    cert->certifications = args->certifications;

    if (args->jurisdiction_count == 0) {
        memcpy(cert->jurisdictions[cert->jurisdiction_count++], cert->country, 3);
        if (in_eu(cert->country)) {
            memcpy(cert->jurisdictions[cert->jurisdiction_count++], "EU", 3);
        }
    }
    for (uint32_t i = 0; i < args->jurisdiction_count; i++) {
        const char *j = args->jurisdictions[i];
        if (strcmp(j, "EU") != 0 && !wire_country_valid(j)) {
            node_say_error(command, "--jurisdiction %s is neither an ISO 3166-1 code nor EU", j);
            return NODE_EXIT_USAGE;
        }
        bool seen = false;
        for (uint32_t k = 0; k < cert->jurisdiction_count; k++) {
            seen = seen || strcmp(cert->jurisdictions[k], j) == 0;
        }
        if (!seen) {
            memcpy(cert->jurisdictions[cert->jurisdiction_count++], j, 3);
        }
    }
    // The wire form keeps sets sorted, so that one certificate has one encoding.
    qsort(cert->jurisdictions, cert->jurisdiction_count, sizeof(cert->jurisdictions[0]),
          jurisdiction_compare);

    cert->valid_from_ns = now_ns;
    if (args->valid_from != NULL &&
        node_parse_time(args->valid_from, &cert->valid_from_ns) != MESH_OK) {
        node_say_error(command,
                       "--valid-from %s: expected YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or @SECONDS",
                       args->valid_from);
        return NODE_EXIT_USAGE;
    }
    cert->valid_until_ns = cert->valid_from_ns + args->days * DAY_NS;
    randombytes_buf(&cert->serial, sizeof(cert->serial));
    return NODE_EXIT_OK;
}

static int admit_parse(int argc, char **argv, admit_args *args)
{
    static const struct option options[] = {{"root", required_argument, NULL, 'r'},
                                            {"pubkey", required_argument, NULL, 'p'},
                                            {"name", required_argument, NULL, 'n'},
                                            {"country", required_argument, NULL, 'c'},
                                            {"operator", required_argument, NULL, 'O'},
                                            {"cert", required_argument, NULL, 'C'},
                                            {"days", required_argument, NULL, 'd'},
                                            {"out", required_argument, NULL, 'o'},
                                            {"jurisdiction", required_argument, NULL, 'j'},
                                            {"valid-from", required_argument, NULL, 'f'},
                                            {NULL, 0, NULL, 0}};
    const char *command = "federation admit";
    memset(args, 0, sizeof(*args));
    args->days = CERT_DAYS_DEFAULT;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        uint32_t bit = 0;
        switch (c) {
        case 'r':
            args->root_path = optarg;
            break;
        case 'p':
            args->pubkey_path = optarg;
            break;
        case 'n':
            args->name = optarg;
            break;
        case 'c':
            args->country = optarg;
            break;
        case 'O':
            args->operator_name = optarg;
            break;
        case 'o':
            args->out_path = optarg;
            break;
        case 'f':
            args->valid_from = optarg;
            break;
        case 'C':
            if (wire_certification_parse(optarg, &bit) != MESH_OK) {
                return usage_error(command, federation_usage, "unknown --cert name");
            }
            args->certifications |= bit;
            break;
        case 'j':
            if (args->jurisdiction_count == WIRE_JURISDICTIONS_MAX) {
                return usage_error(command, federation_usage, "too many --jurisdiction");
            }
            args->jurisdictions[args->jurisdiction_count++] = optarg;
            break;
        case 'd':
            if (node_parse_i64(optarg, 1, CERT_DAYS_MAX, &args->days) != MESH_OK) {
                return usage_error(command, federation_usage,
                                   "--days takes a whole number from 1 to 3650");
            }
            break;
        default:
            return usage_error(command, federation_usage, "unknown or incomplete option");
        }
    }
    if (optind != argc || args->root_path == NULL || args->pubkey_path == NULL ||
        args->name == NULL || args->country == NULL || args->out_path == NULL) {
        return usage_error(command, federation_usage,
                           "admit needs --root, --pubkey, --name, --country and --out");
    }
    return NODE_EXIT_OK;
}

static int federation_admit(int argc, char **argv)
{
    const char *command = "federation admit";
    admit_args args;
    int rc = admit_parse(argc, argv, &args);
    if (rc != NODE_EXIT_OK) {
        return rc;
    }
    wire_cert cert;
    rc = admit_fill_cert(&args, node_now().realtime_ns, &cert);
    if (rc != NODE_EXIT_OK) {
        return rc;
    }
    mesh_err err = node_load_public(command, args.pubkey_path, cert.public_key);
    if (err != MESH_OK) {
        return node_exit_from_err(err);
    }
    mcrypto_keypair root;
    err = node_load_secret(command, args.root_path, &root);
    if (err != MESH_OK) {
        return node_exit_from_err(err);
    }
    uint8_t frame[WIRE_FRAME_SIZE_MAX];
    uint32_t frame_size = 0;
    err = mcrypto_cert_issue(&root, &cert, frame, sizeof(frame), &frame_size);
    mcrypto_keypair_wipe(&root);
    if (err == MESH_EINVAL) {
        node_say_error(command, "the certificate's fields are invalid: --name must be 1 to 63 "
                                "of [a-z0-9-], not starting or ending with '-'; --operator "
                                "must be UTF-8 text without control characters");
        return NODE_EXIT_USAGE;
    }
    if (err != MESH_OK) {
        node_say_error(command, "cannot sign the certificate: %s", mesh_strerror(err));
        return node_exit_from_err(err);
    }
    err = node_write_armored(command, args.out_path, "CERTIFICATE", frame, frame_size);
    if (err != MESH_OK) {
        return node_exit_from_err(err);
    }
    mesh_node_id id;
    mcrypto_node_id(cert.public_key, &id);
    char id_text[MCRYPTO_NODE_ID_TEXT_SIZE];
    mcrypto_node_id_format(&id, id_text);
    char until[NODE_TIME_TEXT_SIZE];
    node_format_time(cert.valid_until_ns, until);
    (void) printf("admitted %s (%s, %s) until %s: wrote %s\n", cert.name, id_text, cert.country,
                  until, args.out_path);
    return NODE_EXIT_OK;
}

static int federation_revoke(int argc, char **argv)
{
    static const struct option options[] = {{"root", required_argument, NULL, 'r'},
                                            {"pubkey", required_argument, NULL, 'p'},
                                            {"reason", required_argument, NULL, 'R'},
                                            {"out", required_argument, NULL, 'o'},
                                            {NULL, 0, NULL, 0}};
    const char *command = "federation revoke";
    const char *root_path = NULL;
    const char *pubkey_path = NULL;
    const char *out_path = NULL;
    const char *reason = "";
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 'r':
            root_path = optarg;
            break;
        case 'p':
            pubkey_path = optarg;
            break;
        case 'R':
            reason = optarg;
            break;
        case 'o':
            out_path = optarg;
            break;
        default:
            return usage_error(command, federation_usage, "unknown or incomplete option");
        }
    }
    if (optind != argc || root_path == NULL || pubkey_path == NULL || out_path == NULL) {
        return usage_error(command, federation_usage, "revoke needs --root, --pubkey and --out");
    }
    wire_revocation revocation;
    memset(&revocation, 0, sizeof(revocation));
    if (strlen(reason) > WIRE_REASON_TEXT_SIZE_MAX) {
        node_say_error(command, "--reason is longer than %u bytes", WIRE_REASON_TEXT_SIZE_MAX);
        return NODE_EXIT_USAGE;
    }
    memcpy(revocation.reason, reason, strlen(reason) + 1);
    revocation.revoked_at_ns = node_now().realtime_ns;
    mesh_err err = node_load_public(command, pubkey_path, revocation.public_key);
    if (err != MESH_OK) {
        return node_exit_from_err(err);
    }
    mcrypto_keypair root;
    err = node_load_secret(command, root_path, &root);
    if (err != MESH_OK) {
        return node_exit_from_err(err);
    }
    uint8_t frame[WIRE_FRAME_SIZE_MAX];
    uint32_t frame_size = 0;
    err = mcrypto_revocation_issue(&root, &revocation, frame, sizeof(frame), &frame_size);
    mcrypto_keypair_wipe(&root);
    if (err != MESH_OK) {
        node_say_error(command, "cannot sign the revocation: %s (is --reason UTF-8 text?)",
                       mesh_strerror(err));
        return node_exit_from_err(err);
    }
    err = node_write_armored(command, out_path, "REVOCATION", frame, frame_size);
    if (err != MESH_OK) {
        return node_exit_from_err(err);
    }
    mesh_node_id id;
    mcrypto_node_id(revocation.public_key, &id);
    char id_text[MCRYPTO_NODE_ID_TEXT_SIZE];
    mcrypto_node_id_format(&id, id_text);
    (void) printf("revoked %s: wrote %s; publish it: fedmesh revoke publish %s --config NODE.INI\n",
                  id_text, out_path, out_path);
    return NODE_EXIT_OK;
}

int node_cmd_federation(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        (void) fputs(federation_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? NODE_EXIT_USAGE : NODE_EXIT_OK;
    }
    const char *sub = argv[1];
    if (node_wants_help(argc - 1, argv + 1)) {
        (void) fputs(federation_usage, stdout);
        return NODE_EXIT_OK;
    }
    if (strcmp(sub, "init") == 0) {
        const char *out = parse_out_only(argc - 1, argv + 1);
        if (out == NULL) {
            return usage_error("federation init", federation_usage, "expected exactly --out PATH");
        }
        return write_new_keypair("federation init", out, "federation root key");
    }
    if (strcmp(sub, "admit") == 0) {
        return federation_admit(argc - 1, argv + 1);
    }
    if (strcmp(sub, "revoke") == 0) {
        return federation_revoke(argc - 1, argv + 1);
    }
    return usage_error("federation", federation_usage, "unknown subcommand");
}

static const char cert_usage[] =
    "usage: fedmesh cert show CERT [--json]\n"
    "       fedmesh cert verify --root ROOT.pub CERT [--revocations FILE]... [--json]\n"
    "\n"
    "show    prints what a certificate says, without checking its signature.\n"
    "verify  checks it against the federation's root public key, the current\n"
    "        time and the revocations given. Exit 0 when valid; otherwise exit 1\n"
    "        and one line naming what is wrong: bad signature, expired, not yet\n"
    "        valid, other root, revoked or malformed (exit 3 for malformed).\n";

static void certifications_text(uint32_t bits, char *out, size_t out_size)
{
    out[0] = '\0';
    size_t used = 0;
    for (uint32_t i = 0; i < WIRE_CERTIFICATION_COUNT; i++) {
        const char *name = wire_certification_name(1u << i);
        if ((bits & (1u << i)) == 0 || name == NULL) {
            continue;
        }
        int n = snprintf(out + used, out_size - used, "%s%s", used > 0 ? ", " : "", name);
        if (n < 0 || (size_t) n >= out_size - used) {
            return;
        }
        used += (size_t) n;
    }
    if (used == 0) {
        (void) snprintf(out, out_size, "(none)");
    }
}

static json_t *cert_to_json(const wire_cert *cert, const wire_envelope *envelope)
{
    mesh_node_id id;
    mcrypto_node_id(cert->public_key, &id);
    char id_text[MCRYPTO_NODE_ID_TEXT_SIZE];
    mcrypto_node_id_format(&id, id_text);
    char signer_text[MCRYPTO_NODE_ID_TEXT_SIZE];
    mcrypto_node_id_format(&envelope->signer, signer_text);
    char key_text[sodium_base64_ENCODED_LEN(MCRYPTO_PUBLIC_KEY_SIZE,
                                            sodium_base64_VARIANT_ORIGINAL)];
    (void) sodium_bin2base64(key_text, sizeof(key_text), cert->public_key, MCRYPTO_PUBLIC_KEY_SIZE,
                             sodium_base64_VARIANT_ORIGINAL);
    char from[NODE_TIME_TEXT_SIZE];
    char until[NODE_TIME_TEXT_SIZE];
    node_format_time(cert->valid_from_ns, from);
    node_format_time(cert->valid_until_ns, until);
    char serial[24];
    (void) snprintf(serial, sizeof(serial), "%016llx", (unsigned long long) cert->serial);

    json_t *jurisdictions = json_array();
    for (uint32_t i = 0; i < cert->jurisdiction_count; i++) {
        (void) json_array_append_new(jurisdictions, json_string(cert->jurisdictions[i]));
    }
    json_t *certifications = json_array();
    for (uint32_t i = 0; i < WIRE_CERTIFICATION_COUNT; i++) {
        if ((cert->certifications & (1u << i)) != 0) {
            (void) json_array_append_new(certifications,
                                         json_string(wire_certification_name(1u << i)));
        }
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:s, s:I, s:I, s:s, s:s}", "name",
                     cert->name, "node_id", id_text, "public_key", key_text, "operator",
                     cert->operator_name, "country", cert->country, "jurisdictions", jurisdictions,
                     "certifications", certifications, "valid_from", from, "valid_until", until,
                     "valid_from_ns", (json_int_t) cert->valid_from_ns, "valid_until_ns",
                     (json_int_t) cert->valid_until_ns, "serial", serial, "signer", signer_text);
}

static int print_json(json_t *object)
{
    if (object == NULL) {
        node_say_error("cert", "cannot build JSON output");
        return NODE_EXIT_INTERNAL;
    }
    int rc = json_dumpf(object, stdout, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(object);
    (void) fputc('\n', stdout);
    return rc == 0 ? NODE_EXIT_OK : NODE_EXIT_INTERNAL;
}

static int cert_show(int argc, char **argv)
{
    const char *command = "cert show";
    bool json = false;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (argv[i][0] == '-' || path != NULL) {
            return usage_error(command, cert_usage, "expected one CERT and optionally --json");
        } else {
            path = argv[i];
        }
    }
    if (path == NULL) {
        return usage_error(command, cert_usage, "expected a certificate file");
    }
    uint8_t frame[WIRE_FRAME_SIZE_MAX];
    uint32_t frame_size = 0;
    if (node_read_armored(command, path, "CERTIFICATE", frame, &frame_size) != MESH_OK) {
        return NODE_EXIT_INPUT;
    }
    wire_envelope envelope;
    wire_cert cert;
    wire_error error = {WIRE_REASON_NONE, 0};
    if (wire_envelope_decode(frame, frame_size, &envelope, &error) != MESH_OK ||
        envelope.type != WIRE_TYPE_CERT ||
        wire_cert_decode(envelope.body, envelope.body_size, &cert, &error) != MESH_OK) {
        node_say_error(command, "%s: malformed certificate (%s at byte %u)", path,
                       wire_reason_name(error.reason), error.offset);
        return NODE_EXIT_INPUT;
    }
    json_t *object = cert_to_json(&cert, &envelope);
    if (json) {
        return print_json(object);
    }
    if (object == NULL) {
        return print_json(object);
    }
    char certifications[256];
    certifications_text(cert.certifications, certifications, sizeof(certifications));
    char jurisdictions[64] = "";
    size_t used = 0;
    for (uint32_t i = 0; i < cert.jurisdiction_count; i++) {
        int n = snprintf(jurisdictions + used, sizeof(jurisdictions) - used, "%s%s",
                         i > 0 ? ", " : "", cert.jurisdictions[i]);
        if (n > 0 && (size_t) n < sizeof(jurisdictions) - used) {
            used += (size_t) n;
        }
    }
    (void) printf("certificate     %s\n"
                  "node id         %s\n"
                  "public key      %s\n"
                  "operator        %s\n"
                  "country         %s\n"
                  "jurisdictions   %s\n"
                  "certifications  %s\n"
                  "valid from      %s\n"
                  "valid until     %s\n"
                  "serial          %s\n"
                  "signed by       %s (not checked here; use 'fedmesh cert verify')\n",
                  cert.name, json_string_value(json_object_get(object, "node_id")),
                  json_string_value(json_object_get(object, "public_key")),
                  cert.operator_name[0] != '\0' ? cert.operator_name : "(none)", cert.country,
                  jurisdictions, certifications,
                  json_string_value(json_object_get(object, "valid_from")),
                  json_string_value(json_object_get(object, "valid_until")),
                  json_string_value(json_object_get(object, "serial")),
                  json_string_value(json_object_get(object, "signer")));
    json_decref(object);
    return NODE_EXIT_OK;
}

/* Loads every revocation file, each checked against the root; a revocation
 * that the root did not sign is an error, not something to skip quietly. */
static int load_revocations(const char *command,
                            const uint8_t root_public_key[MCRYPTO_PUBLIC_KEY_SIZE],
                            char **paths,
                            uint32_t path_count,
                            mesh_node_id *revoked)
{
    for (uint32_t i = 0; i < path_count; i++) {
        uint8_t frame[WIRE_FRAME_SIZE_MAX];
        uint32_t frame_size = 0;
        if (node_read_armored(command, paths[i], "REVOCATION", frame, &frame_size) != MESH_OK) {
            return NODE_EXIT_INPUT;
        }
        wire_revocation revocation;
        mesh_err err = mcrypto_revocation_check(root_public_key, frame, frame_size, &revocation);
        if (err != MESH_OK) {
            node_say_error(command, "revocation %s: %s", paths[i],
                           err == MESH_EAUTH ? "not signed by this federation's root"
                                             : "malformed");
            return NODE_EXIT_INPUT;
        }
        mcrypto_node_id(revocation.public_key, &revoked[i]);
    }
    return NODE_EXIT_OK;
}

/* Details for the one-line verdict: who signed a certificate of another
 * root; since or from when for "expired" and "not yet valid" (the signature
 * has been checked by then, so the dates are the root's). */
static void validity_detail(const uint8_t *frame,
                            uint32_t frame_size,
                            mcrypto_cert_status status,
                            char *out,
                            size_t out_size)
{
    wire_envelope envelope;
    wire_cert cert;
    if (wire_envelope_decode(frame, frame_size, &envelope, NULL) != MESH_OK) {
        return;
    }
    if (status == MCRYPTO_CERT_OTHER_ROOT) {
        char signer[MCRYPTO_NODE_ID_TEXT_SIZE];
        mcrypto_node_id_format(&envelope.signer, signer);
        (void) snprintf(out, out_size, " (signed by %s, not by this federation's root)", signer);
        return;
    }
    if ((status != MCRYPTO_CERT_EXPIRED && status != MCRYPTO_CERT_NOT_YET_VALID) ||
        wire_cert_decode(envelope.body, envelope.body_size, &cert, NULL) != MESH_OK) {
        return;
    }
    char when[NODE_TIME_TEXT_SIZE];
    bool expired = status == MCRYPTO_CERT_EXPIRED;
    node_format_time(expired ? cert.valid_until_ns : cert.valid_from_ns, when);
    (void) snprintf(out, out_size, " (%s %s)", expired ? "since" : "valid from", when);
}

static int cert_verify(int argc, char **argv)
{
    static const struct option options[] = {{"root", required_argument, NULL, 'r'},
                                            {"revocations", required_argument, NULL, 'R'},
                                            {"json", no_argument, NULL, 'j'},
                                            {NULL, 0, NULL, 0}};
    const char *command = "cert verify";
    const char *root_path = NULL;
    bool json = false;
    static char *revocation_paths[REVOCATION_FILES_MAX];
    static mesh_node_id revoked[REVOCATION_FILES_MAX];
    uint32_t revocation_count = 0;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 'r':
            root_path = optarg;
            break;
        case 'R':
            if (revocation_count == REVOCATION_FILES_MAX) {
                return usage_error(command, cert_usage, "too many --revocations (max 1024)");
            }
            revocation_paths[revocation_count++] = optarg;
            break;
        case 'j':
            json = true;
            break;
        default:
            return usage_error(command, cert_usage, "unknown or incomplete option");
        }
    }
    if (root_path == NULL || optind != argc - 1) {
        return usage_error(command, cert_usage, "verify needs --root ROOT.pub and one CERT");
    }
    const char *path = argv[optind];
    uint8_t root_public_key[MCRYPTO_PUBLIC_KEY_SIZE];
    mesh_err err = node_load_public(command, root_path, root_public_key);
    if (err != MESH_OK) {
        return node_exit_from_err(err);
    }
    int rc =
        load_revocations(command, root_public_key, revocation_paths, revocation_count, revoked);
    if (rc != NODE_EXIT_OK) {
        return rc;
    }
    uint8_t frame[WIRE_FRAME_SIZE_MAX];
    uint32_t frame_size = 0;
    if (node_read_armored(command, path, "CERTIFICATE", frame, &frame_size) != MESH_OK) {
        return NODE_EXIT_INPUT;
    }
    wire_cert cert;
    mcrypto_cert_status status = MCRYPTO_CERT_MALFORMED;
    err = mcrypto_cert_check(root_public_key, frame, frame_size, node_now().realtime_ns, revoked,
                             revocation_count, &cert, &status);
    rc = status == MCRYPTO_CERT_VALID       ? NODE_EXIT_OK
         : status == MCRYPTO_CERT_MALFORMED ? NODE_EXIT_INPUT
                                            : NODE_EXIT_INVALID;
    MESH_ASSERT((err == MESH_OK) == (status == MCRYPTO_CERT_VALID));
    if (json) {
        json_t *object =
            json_pack("{s:s, s:b, s:s}", "file", path, "valid", status == MCRYPTO_CERT_VALID,
                      "status", mcrypto_cert_status_text(status));
        if (status == MCRYPTO_CERT_VALID && object != NULL) {
            (void) json_object_set_new(object, "name", json_string(cert.name));
        }
        int json_rc = print_json(object);
        return json_rc != NODE_EXIT_OK ? json_rc : rc;
    }
    if (status != MCRYPTO_CERT_VALID) {
        char detail[96] = "";
        validity_detail(frame, frame_size, status, detail, sizeof(detail));
        (void) fprintf(stderr, "fedmesh: %s: %s: invalid: %s%s\n", command, path,
                       mcrypto_cert_status_text(status), detail);
        return rc;
    }
    char until[NODE_TIME_TEXT_SIZE];
    node_format_time(cert.valid_until_ns, until);
    (void) printf("%s: valid: %s (%s) until %s\n", path, cert.name, cert.country, until);
    return NODE_EXIT_OK;
}

int node_cmd_cert(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        (void) fputs(cert_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? NODE_EXIT_USAGE : NODE_EXIT_OK;
    }
    if (node_wants_help(argc - 1, argv + 1)) {
        (void) fputs(cert_usage, stdout);
        return NODE_EXIT_OK;
    }
    if (strcmp(argv[1], "show") == 0) {
        return cert_show(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "verify") == 0) {
        return cert_verify(argc - 1, argv + 1);
    }
    return usage_error("cert", cert_usage, "unknown subcommand");
}
