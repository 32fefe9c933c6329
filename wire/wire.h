/*
 * wire/wire.h: fedmesh's wire format, a canonical and bounded MessagePack
 * dialect.
 *
 * Every message travels in a versioned envelope:
 *
 *     envelope = array(5) [ version:uint, type:uint, signer:bin(16),
 *                           body:bin(<= frame), auth:bin(64 or 16) ]
 *
 * The body is the encoding of one message type (advert, certificate,
 * revocation; lease and gossip control messages take the reserved type
 * numbers). A body is a map whose keys are small unsigned integers in
 * strictly ascending order; in version 1 every key is required and no
 * other key is allowed. The signature covers a per-type context string and
 * the body bytes (crypto/ does that), so the signer field needs no
 * signature of its own: a swapped signer simply fails verification.
 *
 * Why our own reader: msgpack-c's unpacker sizes its allocation from the
 * declared element count before it has seen the elements (the 6-byte input
 * dd d6 2d 3f 31 25 asks it for about 128 GiB). The decoder here never
 * allocates. It caps the frame size first, then checks every declared
 * array, map, string and binary length against both a schema limit and the
 * bytes that remain before it looks at a single element. Packing uses
 * msgpack-c's packer into a caller-owned buffer.
 *
 * Canonical form: one value has exactly one encoding. Integers use the
 * smallest MessagePack form (non-negative values are always "uint" forms),
 * strings use the smallest str header, keys are ascending, lists that are
 * sets (jurisdictions, resources) are sorted without duplicates. The
 * decoder refuses anything else, so for every input it accepts,
 * encode(decode(bytes)) == bytes; signatures are therefore over bytes
 * that both sides reproduce. The encoder validates with the very same
 * rules, so it never emits a value the decoder would refuse.
 *
 * Ownership: decode functions borrow their input for the call; strings are
 * copied into fixed arrays in the output struct, except wire_envelope.body,
 * which points into the frame and is valid as long as the frame is.
 * Encode functions write into a caller buffer of buf_size bytes. Nothing
 * here allocates, reads a clock or touches global state.
 */
#ifndef WIRE_WIRE_H
#define WIRE_WIRE_H

#include <stdint.h>

#include "mesh/mesh.h"

#define WIRE_VERSION 1u

/* The largest frame fedmesh sends or accepts. Checked before any parsing. */
#define WIRE_FRAME_SIZE_MAX        65535u
/* Envelope overhead: array header, version, type, signer, bin32 header for
 * the body, signature. A body of at most WIRE_BODY_SIZE_MAX always fits. */
#define WIRE_ENVELOPE_OVERHEAD_MAX 96u
#define WIRE_BODY_SIZE_MAX         (WIRE_FRAME_SIZE_MAX - WIRE_ENVELOPE_OVERHEAD_MAX)

#define WIRE_PUBLIC_KEY_SIZE 32u
#define WIRE_SIGNATURE_SIZE  64u

_Static_assert(WIRE_FRAME_SIZE_MAX <= UINT16_MAX, "frame size fits a u16 length prefix");

/* Message types. Append only; never renumbered. */
typedef enum wire_type {
    WIRE_TYPE_ADVERT = 1,
    WIRE_TYPE_CERT = 2,
    WIRE_TYPE_REVOCATION = 3,
    WIRE_TYPE_SUSPECT = 4, /* a member accuses another of being unreachable */
    /* 5..7: reserved for more signed gossip records. */
    WIRE_TYPE_PING = 8,      /* a probe */
    WIRE_TYPE_ACK = 9,       /* the answer to a probe */
    WIRE_TYPE_PING_REQ = 10, /* "probe that member for me" (indirect probe) */
    WIRE_TYPE_DIGEST = 11,   /* one page of member id -> highest sequence */
    WIRE_TYPE_PULL = 12,     /* "send me the records of these members" */
    WIRE_TYPE_PUSH = 13,     /* a batch of signed records */
    /* 14..15: reserved for more gossip control messages. */
    /* 16..31: leases, signed by their sender (docs/leases.md). */
    WIRE_TYPE_LEASE_REQUEST = 16,  /* borrower -> lender: "reserve this for me" */
    WIRE_TYPE_LEASE_OFFER = 17,    /* lender -> borrower: an OPENED record the lender signed */
    WIRE_TYPE_LEASE_REFUSE = 18,   /* lender -> borrower: no, and why */
    WIRE_TYPE_LEASE_RECORD = 19,   /* either way: a ledger record with one or both signatures */
    WIRE_TYPE_LEASE_END = 20,      /* decline an offer, release a lease, or give reclaim notice */
    WIRE_TYPE_LEDGER_SUMMARY = 21, /* either way: a page of the leases two members share */
    /* 22..31: reserved for more lease messages. */
} wire_type;

/* How a type is authenticated. Records (1..7) and lease messages (16..31)
 * carry a 64-byte Ed25519 signature: they are stored and forwarded, so
 * anyone must be able to check them. Control messages (8..15) travel
 * between two members only and carry a 16-byte MAC under the pair's key
 * (crypto/ derives it), which keeps the idle probe traffic small. The
 * envelope's last field is bin(64) or bin(16) accordingly. */
#define WIRE_MAC_SIZE 16u
bool wire_type_is_mac(wire_type type);
/* 64 or 16; 0 for a type that is not known. */
uint32_t wire_type_auth_size(wire_type type);

#define WIRE_TYPE_MAX 31u /* the decoder refuses types above this */

/* Why a decode failed. Every decode function returns MESH_EPROTO on failure
 * and, when error_out is not NULL, says why and where. Append only. */
typedef enum wire_reason {
    WIRE_REASON_NONE = 0,
    WIRE_REASON_TOO_LARGE = 1,     /* frame larger than WIRE_FRAME_SIZE_MAX */
    WIRE_REASON_TRUNCATED = 2,     /* input ends inside a value */
    WIRE_REASON_TYPE = 3,          /* a MessagePack type other than the schema's */
    WIRE_REASON_NOT_CANONICAL = 4, /* a value in a non-minimal or unsorted form */
    WIRE_REASON_LENGTH = 5,        /* a declared length over its limit or the bytes left */
    WIRE_REASON_VERSION = 6,       /* unknown envelope version */
    WIRE_REASON_UNKNOWN_TYPE = 7,  /* message type not known */
    WIRE_REASON_MISSING_FIELD = 8, /* a required key is absent */
    WIRE_REASON_UNKNOWN_FIELD = 9, /* a key the schema does not have */
    WIRE_REASON_RANGE = 10,        /* a value outside its documented range */
    WIRE_REASON_TRAILING = 11,     /* bytes after the end of the value */
} wire_reason;

#define WIRE_REASON_COUNT 12u

typedef struct wire_error {
    wire_reason reason;
    uint32_t offset; /* byte offset in the input where the problem was seen */
} wire_error;

/* Short stable name for counters and logs ("truncated"); never NULL. */
const char *wire_reason_name(wire_reason reason);

/* The envelope. */
typedef struct wire_envelope {
    uint32_t version; /* WIRE_VERSION */
    wire_type type;
    mesh_node_id signer;
    const uint8_t *body; /* decode: points into the frame */
    uint32_t body_size;  /* 1..WIRE_BODY_SIZE_MAX */
    /* The signature, or for MAC'd types the MAC in the first WIRE_MAC_SIZE
     * bytes (decode zeroes the rest). */
    uint8_t signature[WIRE_SIGNATURE_SIZE];
} wire_envelope;

/* Errors: MESH_EPROTO (error_out says why). envelope_out is untouched on
 * failure. The type must be a known one (see wire_type); the body is not
 * decoded here. */
MESH_MUST_USE mesh_err wire_envelope_decode(const uint8_t *frame,
                                            uint32_t frame_size,
                                            wire_envelope *envelope_out,
                                            wire_error *error_out);
/* Errors: MESH_EINVAL (bad version, type or body size), MESH_EFULL (buf too
 * small). size_out untouched on failure. */
MESH_MUST_USE mesh_err wire_envelope_encode(const wire_envelope *envelope,
                                            uint8_t *buf,
                                            uint32_t buf_size,
                                            uint32_t *size_out);

/* Resource classes in an advert. Append only. */
typedef enum wire_resource_class {
    WIRE_RESOURCE_VCPU = 1,        /* count of virtual CPUs */
    WIRE_RESOURCE_MEMORY_GIB = 2,  /* GiB of memory */
    WIRE_RESOURCE_GPU = 3,         /* count of GPUs of one model */
    WIRE_RESOURCE_STORAGE_GIB = 4, /* GiB of storage (shown as TiB at the edges) */
} wire_resource_class;

#define WIRE_RESOURCE_CLASS_MAX 4u
#define WIRE_RESOURCES_MAX      16u
#define WIRE_MODEL_SIZE_MAX     32u /* bytes, GPU model ("H100-80GB"); [A-Za-z0-9._-] */
#define WIRE_AMOUNT_MAX         1000000000000ull /* 10^12 units of any class */
#define WIRE_PRICE_MAX          1000000000000ull /* micro-euros per unit-hour */
#define WIRE_CARBON_MAX         5000u            /* gCO2/kWh; the worst grids are near 1,000 */
#define WIRE_ENDPOINT_SIZE_MAX  255u             /* bytes, printable ASCII without spaces */

typedef struct wire_resource {
    uint32_t resource_class;               /* wire_resource_class */
    char model[WIRE_MODEL_SIZE_MAX + 1];   /* GPU: non-empty; others: empty */
    uint64_t total;                        /* <= WIRE_AMOUNT_MAX */
    uint64_t free;                         /* <= total */
    uint64_t lendable;                     /* <= total */
    uint64_t price_microeur_per_unit_hour; /* <= WIRE_PRICE_MAX */
} wire_resource;

typedef enum wire_advert_status {
    WIRE_ADVERT_ALIVE = 0,
    WIRE_ADVERT_LEAVING = 1, /* a graceful goodbye */
} wire_advert_status;

/* A capacity advert. Body keys: 0 node_id bin(16), 1 sequence uint (>= 1),
 * 2 timestamp_ns int (> 0), 3 status uint, 4 carbon uint, 5 resources
 * array of array(6) [class, model, total, free, lendable, price] sorted by
 * (class, model) without duplicates, 6 endpoint str (non-empty),
 * 7 api_endpoint str (may be empty). */
typedef struct wire_advert {
    mesh_node_id node_id; /* must equal the envelope's signer (crypto/ checks) */
    uint64_t sequence;
    int64_t timestamp_ns;
    uint32_t status; /* wire_advert_status */
    uint32_t carbon_gco2_per_kwh;
    uint32_t resource_count;
    wire_resource resources[WIRE_RESOURCES_MAX];
    char endpoint[WIRE_ENDPOINT_SIZE_MAX + 1];
    char api_endpoint[WIRE_ENDPOINT_SIZE_MAX + 1];
} wire_advert;

MESH_MUST_USE mesh_err wire_advert_decode(const uint8_t *body,
                                          uint32_t body_size,
                                          wire_advert *advert_out,
                                          wire_error *error_out);
/* Errors: MESH_EINVAL (a field fails the decoder's rules), MESH_EFULL. */
MESH_MUST_USE mesh_err wire_advert_encode(const wire_advert *advert,
                                          uint8_t *buf,
                                          uint32_t buf_size,
                                          uint32_t *size_out);

/* Certifications a member may hold, as bits. Append only. */
#define WIRE_CERTIFICATION_SECNUMCLOUD      (1u << 0)
#define WIRE_CERTIFICATION_C5               (1u << 1)
#define WIRE_CERTIFICATION_HDS              (1u << 2)
#define WIRE_CERTIFICATION_ISO27001         (1u << 3)
#define WIRE_CERTIFICATION_EUCS_BASIC       (1u << 4)
#define WIRE_CERTIFICATION_EUCS_SUBSTANTIAL (1u << 5)
#define WIRE_CERTIFICATION_EUCS_HIGH        (1u << 6)
#define WIRE_CERTIFICATION_ALL              0x7fu
#define WIRE_CERTIFICATION_COUNT            7u

/* Canonical name of one certification bit ("SecNumCloud", "C5", "HDS",
 * "ISO27001", "EUCS-basic", "EUCS-substantial", "EUCS-high"); NULL when
 * bit is not exactly one known bit. */
const char *wire_certification_name(uint32_t bit);
/* Parses a name, case-insensitively, also "ISO-27001" and "ISO 27001".
 * Errors: MESH_EINVAL for an unknown name; bit_out untouched then. */
MESH_MUST_USE mesh_err wire_certification_parse(const char *name, uint32_t *bit_out);

/* True when code is an assigned ISO 3166-1 alpha-2 code (upper case). */
bool wire_country_valid(const char *code);

#define WIRE_NAME_SIZE_MAX        63u  /* [a-z0-9-], no leading or trailing '-' */
#define WIRE_OPERATOR_SIZE_MAX    127u /* UTF-8 without control characters; may be empty */
#define WIRE_JURISDICTIONS_MAX    8u   /* each an ISO 3166-1 alpha-2 code or "EU" */
#define WIRE_REASON_TEXT_SIZE_MAX 127u

/* A member certificate, signed by the federation root. Body keys:
 * 0 public_key bin(32), 1 name str, 2 operator str, 3 country str(2),
 * 4 jurisdictions array of str(2) sorted without duplicates, 5
 * certifications uint (bits), 6 valid_from_ns int, 7 valid_until_ns int
 * (> valid_from_ns), 8 serial uint. */
typedef struct wire_cert {
    uint8_t public_key[WIRE_PUBLIC_KEY_SIZE];
    char name[WIRE_NAME_SIZE_MAX + 1];
    char operator_name[WIRE_OPERATOR_SIZE_MAX + 1];
    char country[3];
    uint32_t jurisdiction_count;
    char jurisdictions[WIRE_JURISDICTIONS_MAX][3];
    uint32_t certifications; /* WIRE_CERTIFICATION_* bits */
    int64_t valid_from_ns;
    int64_t valid_until_ns;
    uint64_t serial;
} wire_cert;

MESH_MUST_USE mesh_err wire_cert_decode(const uint8_t *body,
                                        uint32_t body_size,
                                        wire_cert *cert_out,
                                        wire_error *error_out);
MESH_MUST_USE mesh_err wire_cert_encode(const wire_cert *cert,
                                        uint8_t *buf,
                                        uint32_t buf_size,
                                        uint32_t *size_out);

/* A revocation, signed by the federation root. Body keys: 0 public_key
 * bin(32), 1 revoked_at_ns int (> 0), 2 reason str (UTF-8, may be empty). */
typedef struct wire_revocation {
    uint8_t public_key[WIRE_PUBLIC_KEY_SIZE];
    int64_t revoked_at_ns;
    char reason[WIRE_REASON_TEXT_SIZE_MAX + 1];
} wire_revocation;

MESH_MUST_USE mesh_err wire_revocation_decode(const uint8_t *body,
                                              uint32_t body_size,
                                              wire_revocation *revocation_out,
                                              wire_error *error_out);
MESH_MUST_USE mesh_err wire_revocation_encode(const wire_revocation *revocation,
                                              uint8_t *buf,
                                              uint32_t buf_size,
                                              uint32_t *size_out);

/* Gossip messages. */

/* A signed accusation (type SUSPECT, signer = the accuser). Body keys:
 * 0 target bin(16), 1 target_sequence uint (>= 1: the target's advert
 * sequence the accuser holds; a newer advert refutes it), 2 at_ns int (> 0). */
typedef struct wire_suspect {
    mesh_node_id target;
    uint64_t target_sequence;
    int64_t at_ns;
} wire_suspect;

MESH_MUST_USE mesh_err wire_suspect_decode(const uint8_t *body,
                                           uint32_t body_size,
                                           wire_suspect *suspect_out,
                                           wire_error *error_out);
MESH_MUST_USE mesh_err wire_suspect_encode(const wire_suspect *suspect,
                                           uint8_t *buf,
                                           uint32_t buf_size,
                                           uint32_t *size_out);

#define WIRE_VIEW_HASH_SIZE 16u

/* PING and ACK share one body. Keys: 0 nonce uint, 1 view_hash bin(16) (a
 * summary of the sender's view; a mismatch triggers anti-entropy). */
typedef struct wire_ping {
    uint64_t nonce;
    uint8_t view_hash[WIRE_VIEW_HASH_SIZE];
} wire_ping;

MESH_MUST_USE mesh_err wire_ping_decode(const uint8_t *body,
                                        uint32_t body_size,
                                        wire_ping *ping_out,
                                        wire_error *error_out);
MESH_MUST_USE mesh_err wire_ping_encode(const wire_ping *ping,
                                        uint8_t *buf,
                                        uint32_t buf_size,
                                        uint32_t *size_out);

/* PING_REQ: keys 0 nonce uint, 1 target bin(16). */
typedef struct wire_ping_req {
    uint64_t nonce;
    mesh_node_id target;
} wire_ping_req;

MESH_MUST_USE mesh_err wire_ping_req_decode(const uint8_t *body,
                                            uint32_t body_size,
                                            wire_ping_req *ping_req_out,
                                            wire_error *error_out);
MESH_MUST_USE mesh_err wire_ping_req_encode(const wire_ping_req *ping_req,
                                            uint8_t *buf,
                                            uint32_t buf_size,
                                            uint32_t *size_out);

/* DIGEST: one page of the sender's view. The id space is cut into
 * page_count equal ranges of the ids' first two bytes (big-endian); page p
 * holds the ids whose prefix is in [p * 65536 / page_count,
 * (p + 1) * 65536 / page_count). Keys: 0 view_hash bin(16), 1 page uint
 * (< page_count), 2 page_count uint (1..WIRE_DIGEST_PAGES_MAX), 3 reply
 * uint (0 or 1: answer with your own page), 4 entries array of array(2)
 * [id bin(16), sequence uint (>= 1)], ids strictly ascending and inside
 * the page's range. */
#define WIRE_DIGEST_PAGES_MAX   256u
#define WIRE_DIGEST_ENTRIES_MAX 1024u

typedef struct wire_digest_entry {
    mesh_node_id id;
    uint64_t sequence;
} wire_digest_entry;

typedef struct wire_digest {
    uint8_t view_hash[WIRE_VIEW_HASH_SIZE];
    uint32_t page;
    uint32_t page_count;
    uint32_t reply;
    uint32_t entry_count;
    wire_digest_entry entries[WIRE_DIGEST_ENTRIES_MAX];
} wire_digest;

/* The page an id belongs to, for page_count pages. */
uint32_t wire_digest_page_of(const mesh_node_id *id, uint32_t page_count);

MESH_MUST_USE mesh_err wire_digest_decode(const uint8_t *body,
                                          uint32_t body_size,
                                          wire_digest *digest_out,
                                          wire_error *error_out);
MESH_MUST_USE mesh_err wire_digest_encode(const wire_digest *digest,
                                          uint8_t *buf,
                                          uint32_t buf_size,
                                          uint32_t *size_out);

/* PULL: keys 0 ids array (1..WIRE_PULL_IDS_MAX) of bin(16), strictly
 * ascending. */
#define WIRE_PULL_IDS_MAX 256u

typedef struct wire_pull {
    uint32_t id_count;
    mesh_node_id ids[WIRE_PULL_IDS_MAX];
} wire_pull;

MESH_MUST_USE mesh_err wire_pull_decode(const uint8_t *body,
                                        uint32_t body_size,
                                        wire_pull *pull_out,
                                        wire_error *error_out);
MESH_MUST_USE mesh_err wire_pull_encode(const wire_pull *pull,
                                        uint8_t *buf,
                                        uint32_t buf_size,
                                        uint32_t *size_out);

/* PUSH: keys 0 records array (1..WIRE_PUSH_RECORDS_MAX) of bin
 * (1..WIRE_RECORD_SIZE_MAX bytes each): whole signed envelope frames
 * (adverts, certificates, revocations, suspicions), each checked on its
 * own by the receiver. Order is the sender's; it carries no meaning, so
 * it is not required to be sorted. Decoded records point into the body. */
#define WIRE_PUSH_RECORDS_MAX 64u
#define WIRE_RECORD_SIZE_MAX  4096u

typedef struct wire_record {
    const uint8_t *frame;
    uint32_t frame_size;
} wire_record;

typedef struct wire_push {
    uint32_t record_count;
    wire_record records[WIRE_PUSH_RECORDS_MAX];
} wire_push;

MESH_MUST_USE mesh_err wire_push_decode(const uint8_t *body,
                                        uint32_t body_size,
                                        wire_push *push_out,
                                        wire_error *error_out);
MESH_MUST_USE mesh_err wire_push_encode(const wire_push *push,
                                        uint8_t *buf,
                                        uint32_t buf_size,
                                        uint32_t *size_out);

/* ------------------------------------------------------------------ */
/* Lease messages (types 16..20). docs/leases.md has the protocol; these
 * are the bodies. Each is signed by its sender like a record (64-byte
 * Ed25519 signature over "fedmesh/v1/" || type name || 0x00 || body).
 * Every body starts with key 0, the lease id, so that a receiver can
 * route a frame to its lease before it decodes the rest. Lease ids are 16
 * bytes the borrower draws from its PRNG; all zero is refused. */
/* ------------------------------------------------------------------ */

#define WIRE_LEASE_ID_SIZE         16u
#define WIRE_LEASE_RESOURCES_MAX   8u    /* resource lines in one request */
#define WIRE_LEASE_COUNTRIES_MAX   32u   /* allowed countries in one request */
#define WIRE_DATA_CLASS_SIZE_MAX   31u   /* [a-z0-9-], 0..31 bytes */
#define WIRE_LEASE_RECORD_SIZE_MAX 1024u /* an encoded ledger record (ledger/) */
#define WIRE_LEASE_DURATION_NS_MAX (366ull * 24u * 3600u * 1000000000ull)

typedef struct wire_lease_resource {
    uint32_t resource_class;             /* wire_resource_class */
    char model[WIRE_MODEL_SIZE_MAX + 1]; /* GPU: non-empty; others: empty */
    uint64_t amount;                     /* whole units (vCPUs, GiB, GPUs): 1..WIRE_AMOUNT_MAX */
} wire_lease_resource;

/* Constraints a borrower sets. Every one is checked against the lender's
 * root-signed certificate (countries, jurisdictions, certifications) or
 * against what the lender offers (price, carbon) and measures (rtt), by
 * both sides. Zero or empty means "no constraint". Body (map, keys 0..6):
 * 0 countries array(0..32) of str(2) sorted, distinct, valid ISO 3166-1;
 * 1 jurisdictions array(0..8) of str(2) sorted, distinct (ISO code or
 * "EU"): the lender's certificate must list every one; 2 certifications
 * uint (WIRE_CERTIFICATION_* bits, all required); 3 data_class str
 * (0..31, [a-z0-9-]; informative: the borrower has already expanded it
 * into the other fields, and it is recorded for audits); 4 rtt_us_max
 * uint (0..60,000,000); 5 cost_microeur_per_hour_max uint (the whole
 * lease's price per hour, sum of amount x price; 0..WIRE_PRICE_MAX);
 * 6 carbon_gco2_per_kwh_max uint (0..WIRE_CARBON_MAX). */
typedef struct wire_lease_constraints {
    uint32_t country_count;
    char countries[WIRE_LEASE_COUNTRIES_MAX][3];
    uint32_t jurisdiction_count;
    char jurisdictions[WIRE_JURISDICTIONS_MAX][3];
    uint32_t certifications;
    char data_class[WIRE_DATA_CLASS_SIZE_MAX + 1];
    uint32_t rtt_us_max;
    uint64_t cost_microeur_per_hour_max;
    uint32_t carbon_gco2_per_kwh_max;
} wire_lease_constraints;

/* REQUEST. Body keys: 0 lease_id bin(16) (not all zero), 1 lender
 * bin(16) (the member asked; a request is never valid at another), 2
 * resources array(1..8) of array(3) [class uint, model str, amount uint]
 * sorted by (class, model), distinct, model non-empty iff GPU, amount
 * 1..WIRE_AMOUNT_MAX, 3 start_ns int (> 0, realtime), 4 duration_ns uint
 * (1..WIRE_LEASE_DURATION_NS_MAX), 5 constraints map (above), 6
 * expires_ns int (> 0: the lender ignores the request after this, by its
 * own clock). */
typedef struct wire_lease_request {
    uint8_t lease_id[WIRE_LEASE_ID_SIZE];
    mesh_node_id lender;
    uint32_t resource_count;
    wire_lease_resource resources[WIRE_LEASE_RESOURCES_MAX];
    int64_t start_ns;
    uint64_t duration_ns;
    wire_lease_constraints constraints;
    int64_t expires_ns;
} wire_lease_request;

MESH_MUST_USE mesh_err wire_lease_request_decode(const uint8_t *body,
                                                 uint32_t body_size,
                                                 wire_lease_request *request_out,
                                                 wire_error *error_out);
MESH_MUST_USE mesh_err wire_lease_request_encode(const wire_lease_request *request,
                                                 uint8_t *buf,
                                                 uint32_t buf_size,
                                                 uint32_t *size_out);

/* OFFER. Body keys: 0 lease_id bin(16), 1 record bin(1..1024) (an OPENED
 * ledger record, encoded by ledger/; this codec does not look inside),
 * 2 lender_signature bin(64) (over the record, ledger/'s domain), 3
 * expires_ns int (> 0: the lender holds the capacity until then). */
typedef struct wire_lease_offer {
    uint8_t lease_id[WIRE_LEASE_ID_SIZE];
    const uint8_t *record; /* decode: points into the body */
    uint32_t record_size;
    uint8_t lender_signature[WIRE_SIGNATURE_SIZE];
    int64_t expires_ns;
} wire_lease_offer;

MESH_MUST_USE mesh_err wire_lease_offer_decode(const uint8_t *body,
                                               uint32_t body_size,
                                               wire_lease_offer *offer_out,
                                               wire_error *error_out);
MESH_MUST_USE mesh_err wire_lease_offer_encode(const wire_lease_offer *offer,
                                               uint8_t *buf,
                                               uint32_t buf_size,
                                               uint32_t *size_out);

/* REFUSE. Body keys: 0 lease_id bin(16), 1 reason uint (1..
 * WIRE_LEASE_REFUSAL_MAX, wire_lease_refusal), 2 detail str (0..127
 * bytes of UTF-8 without control characters). */
typedef enum wire_lease_refusal {
    WIRE_LEASE_REFUSAL_CAPACITY = 1,      /* not enough lendable capacity free */
    WIRE_LEASE_REFUSAL_COUNTRY = 2,       /* the lender's certified country is not allowed */
    WIRE_LEASE_REFUSAL_JURISDICTION = 3,  /* the certificate lacks a required jurisdiction */
    WIRE_LEASE_REFUSAL_CERTIFICATION = 4, /* the certificate lacks a required certification */
    WIRE_LEASE_REFUSAL_PRICE = 5,         /* over the borrower's cost limit */
    WIRE_LEASE_REFUSAL_CARBON = 6,        /* over the borrower's carbon limit */
    WIRE_LEASE_REFUSAL_LATENCY = 7,       /* measured round trip over the limit */
    WIRE_LEASE_REFUSAL_PEER_LIMIT = 8,    /* over what this lender lends one peer */
    WIRE_LEASE_REFUSAL_CLASS = 9,         /* a resource class or model this lender does not lend */
    WIRE_LEASE_REFUSAL_WINDOW = 10,       /* start or duration outside the lender's policy */
    WIRE_LEASE_REFUSAL_EXPIRED = 11,      /* the request or offer ran out before it arrived */
    WIRE_LEASE_REFUSAL_DUPLICATE = 12,    /* the lease id is already used with other terms */
    WIRE_LEASE_REFUSAL_STARTING = 13,     /* restarted less than an offer lifetime ago */
    WIRE_LEASE_REFUSAL_BUSY = 14,         /* the lease table is full */
    WIRE_LEASE_REFUSAL_HOOK = 15,         /* the operator's hook refused */
    WIRE_LEASE_REFUSAL_RECIPROCITY = 16,  /* the share kept for peers that lent to us */
    WIRE_LEASE_REFUSAL_LEAVING = 17,      /* the lender is shutting down */
} wire_lease_refusal;
#define WIRE_LEASE_REFUSAL_MAX 17u
/* "capacity", "country", ...; "unknown" otherwise. Never NULL. */
const char *wire_lease_refusal_name(uint32_t reason);

typedef struct wire_lease_refuse {
    uint8_t lease_id[WIRE_LEASE_ID_SIZE];
    uint32_t reason; /* wire_lease_refusal */
    char detail[WIRE_REASON_TEXT_SIZE_MAX + 1];
} wire_lease_refuse;

MESH_MUST_USE mesh_err wire_lease_refuse_decode(const uint8_t *body,
                                                uint32_t body_size,
                                                wire_lease_refuse *refuse_out,
                                                wire_error *error_out);
MESH_MUST_USE mesh_err wire_lease_refuse_encode(const wire_lease_refuse *refuse,
                                                uint8_t *buf,
                                                uint32_t buf_size,
                                                uint32_t *size_out);

/* RECORD. Body keys: 0 lease_id bin(16), 1 record bin(1..1024) (a ledger
 * record), 2 lender_signature bin(0 or 64), 3 borrower_signature bin(0
 * or 64); at least one signature present. A record with one signature is
 * a proposal to countersign; with both it is an agreed record (an
 * acceptance, a confirmation, a countersignature). */
typedef struct wire_lease_record {
    uint8_t lease_id[WIRE_LEASE_ID_SIZE];
    const uint8_t *record; /* decode: points into the body */
    uint32_t record_size;
    bool has_lender_signature;
    bool has_borrower_signature;
    uint8_t lender_signature[WIRE_SIGNATURE_SIZE];
    uint8_t borrower_signature[WIRE_SIGNATURE_SIZE];
} wire_lease_record;

MESH_MUST_USE mesh_err wire_lease_record_decode(const uint8_t *body,
                                                uint32_t body_size,
                                                wire_lease_record *record_out,
                                                wire_error *error_out);
MESH_MUST_USE mesh_err wire_lease_record_encode(const wire_lease_record *record,
                                                uint8_t *buf,
                                                uint32_t buf_size,
                                                uint32_t *size_out);

/* END. Body keys: 0 lease_id bin(16), 1 what uint (wire_lease_end_what),
 * 2 at_ns int (> 0, realtime: DECLINE and RELEASE, when the borrower
 * stopped; RECLAIM, when the lender takes the capacity back). */
typedef enum wire_lease_end_what {
    WIRE_LEASE_END_DECLINE = 1, /* borrower: "I do not take this offer" */
    WIRE_LEASE_END_RELEASE = 2, /* borrower: "I give it back" */
    WIRE_LEASE_END_RECLAIM = 3, /* lender: "I take it back at at_ns" (notice) */
} wire_lease_end_what;
#define WIRE_LEASE_END_MAX 3u

typedef struct wire_lease_end {
    uint8_t lease_id[WIRE_LEASE_ID_SIZE];
    uint32_t what; /* wire_lease_end_what */
    int64_t at_ns;
} wire_lease_end;

MESH_MUST_USE mesh_err wire_lease_end_decode(const uint8_t *body,
                                             uint32_t body_size,
                                             wire_lease_end *end_out,
                                             wire_error *error_out);
MESH_MUST_USE mesh_err wire_lease_end_encode(const wire_lease_end *end,
                                             uint8_t *buf,
                                             uint32_t buf_size,
                                             uint32_t *size_out);

/* The lease id of any lease body (key 0), without decoding the rest: the
 * cheap check that routes a frame, or refuses it, before a signature
 * check. MESH_EPROTO when the body does not start with a map whose first
 * key is 0 holding a bin(16) that is not all zero. */
MESH_MUST_USE mesh_err wire_lease_id_peek(const uint8_t *body,
                                          uint32_t body_size,
                                          uint8_t lease_id_out[WIRE_LEASE_ID_SIZE]);

/* ------------------------------------------------------------------ */
/* The ledger summary (type 21): how two members reconcile their ledgers
 * over the network (docs/leases.md "Reconciling over the network"). Signed
 * by its sender like a lease message; its body does not start with a lease
 * id (it is about every lease two members share), so a node routes it by
 * its type alone.
 *
 * A request (reply 0) asks the member named in `to` for its summary of
 * the leases it shares with the sender; it carries page 0 of 1, lease
 * count 0 and no entries. The answer (reply 1) is page_count pages with
 * the same request id, each listing up to WIRE_SUMMARY_ENTRIES_MAX leases
 * in ascending lease id order (page p holds the entries p * 256 onwards of
 * the whole sorted list), with lease_count the number of shared leases
 * the sender holds in all (more than the pages carry when it had to cut
 * the list: the asker then knows it is incomplete).
 *
 * Body keys: 0 request_id uint (>= 1: the asker picks it), 1 to bin(16)
 * (the member the message is for: a summary is never valid at another),
 * 2 reply uint (0 or 1), 3 page uint (< page_count), 4 page_count uint
 * (1..WIRE_SUMMARY_PAGES_MAX), 5 lease_count uint (0..2^32-1), 6 entries
 * array(0..WIRE_SUMMARY_ENTRIES_MAX) of array(3) [lease_id bin(16) (not
 * all zero), record_count uint (1..2^32-1), digest bin(16)], lease ids
 * strictly ascending. A request (reply 0) must have page 0, page_count 1,
 * lease_count 0 and no entries (RANGE, or LENGTH for entries).
 *
 * The digest of a lease is a chain over its records in number order, the
 * same on both sides when their records are the same bytes with the same
 * signatures: d_0 = 16 zero bytes, d_(n+1) = BLAKE2b-128(d_n || u32
 * big-endian record size || record bytes || lender flag || borrower flag
 * || lender signature || borrower signature), an absent signature being
 * flag 0 and 64 zero bytes. member/ computes it; this codec only carries
 * it. */
/* ------------------------------------------------------------------ */

#define WIRE_SUMMARY_ENTRIES_MAX 256u
#define WIRE_SUMMARY_PAGES_MAX   64u
#define WIRE_SUMMARY_DIGEST_SIZE 16u

typedef struct wire_summary_entry {
    uint8_t lease_id[WIRE_LEASE_ID_SIZE];
    uint32_t record_count; /* >= 1 */
    uint8_t digest[WIRE_SUMMARY_DIGEST_SIZE];
} wire_summary_entry;

typedef struct wire_summary {
    uint64_t request_id; /* >= 1 */
    mesh_node_id to;
    uint32_t reply; /* 0: a request; 1: a page of the answer */
    uint32_t page;
    uint32_t page_count;
    uint32_t lease_count; /* shared leases the sender holds, over all pages */
    uint32_t entry_count;
    wire_summary_entry entries[WIRE_SUMMARY_ENTRIES_MAX];
} wire_summary;

/* About 9 KiB: keep it off small stacks; the decoder fills it in place.
 * Errors: MESH_EPROTO (error_out says why); on failure every field but the
 * entries array is untouched (entries past a failure hold no promise). */
MESH_MUST_USE mesh_err wire_summary_decode(const uint8_t *body,
                                           uint32_t body_size,
                                           wire_summary *summary_out,
                                           wire_error *error_out);
/* Errors: MESH_EINVAL (a field fails the decoder's rules), MESH_EFULL. */
MESH_MUST_USE mesh_err wire_summary_encode(const wire_summary *summary,
                                           uint8_t *buf,
                                           uint32_t buf_size,
                                           uint32_t *size_out);

#endif /* WIRE_WIRE_H */
