/*
 * mesh/mesh.h: the vocabulary every fedmesh module speaks.
 *
 * Errors, time, the caller-owned PRNG, assertions, node ids and the bounded
 * outbox live here because every protocol state machine (gossip, leases)
 * and every shell that drives one (node/, sim/) needs the same words for
 * them. The module is deliberately tiny: a header plus one C file holding
 * the error tables, the panic handler and the PRNG.
 *
 * Design rules this header encodes:
 *   - Error codes are append-only and never renumbered (curl's rule). A new
 *     code goes at the end of mesh_err, and gets a name and a message in
 *     mesh.c; a unit test checks that every code has both.
 *   - Time is nanoseconds. `monotonic_ns` drives timers; `realtime_ns` is
 *     used only for validity windows and timestamps. The core never reads a
 *     clock: the shell stamps a mesh_now once per input.
 *   - Randomness enters the core only through a mesh_rng the caller owns and
 *     seeds (xoshiro256**, seeded with splitmix64). Same seed, same stream,
 *     on every platform.
 *   - MESH_ASSERT stays on in every build type. It is for programmer errors
 *     only: nothing a peer, a file, a config or a clock can produce may ever
 *     trip it.
 */
#ifndef MESH_MESH_H
#define MESH_MESH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MESH_MUST_USE __attribute__((warn_unused_result))

/* Errors. Append only; values are explicit and never change. */
typedef enum mesh_err {
    MESH_OK = 0,
    MESH_EINVAL = 1,      /* an argument is out of its documented range */
    MESH_ENOMEM = 2,      /* an allocation failed */
    MESH_EFULL = 3,       /* a bounded buffer, table or outbox is full */
    MESH_EPROTO = 4,      /* bytes from outside are malformed */
    MESH_EAUTH = 5,       /* a signature, key or certificate does not check */
    MESH_EREPLAY = 6,     /* a message was already seen, or is older than one seen */
    MESH_ESTALE = 7,      /* outside its validity window */
    MESH_ENOTFOUND = 8,   /* no such member, lease, key or record */
    MESH_ECONSTRAINT = 9, /* a lease or policy constraint would be broken */
    MESH_ETIMEDOUT = 10,  /* a wait ran out */
    MESH_ESTORE = 11,     /* the storage backend failed */
    MESH_ECORRUPT = 12,   /* stored data fails its own checks */
    MESH_ETRANSPORT = 13, /* the network transport failed */
    MESH_EINTERNAL = 14,  /* a bug: an invariant failed in a release build */
    MESH_EIO = 15,        /* a file could not be read or written */
    MESH_EEXIST = 16,     /* a file or record exists and will not be overwritten */
    MESH_EPERM = 17,      /* file permissions are unsafe, or an action is not allowed */
} mesh_err;

#define MESH_ERR_COUNT 18u /* one past the largest mesh_err value */

/* A sentence for the user; never NULL, also for unknown values. */
const char *mesh_strerror(mesh_err err);
/* The enum's name without the prefix ("EPROTO"); never NULL. */
const char *mesh_err_name(mesh_err err);

/* Assertions: on in every build type (never <assert.h>, which NDEBUG kills). */
_Noreturn void mesh_panic(const char *file, int line, const char *expr);

/* A hook the simulator installs so that a panic also prints its seed and
 * virtual time. Called once before abort(); NULL (the default) prints
 * nothing extra. Not thread-safe: set it once at start-up. */
typedef void (*mesh_panic_hook)(void);
void mesh_panic_set_hook(mesh_panic_hook hook);

#define MESH_ASSERT(c) ((c) ? (void) 0 : mesh_panic(__FILE__, __LINE__, #c))

#if defined(MESH_DEBUG) || defined(MESH_SIMULATOR)
#define MESH_DEBUG_ASSERT(c) MESH_ASSERT(c)
/* SQLite's NEVER/ALWAYS: panic where the checks are on, handled otherwise. */
#define MESH_NEVER(x)        ((x) ? (mesh_panic(__FILE__, __LINE__, #x), true) : false)
#define MESH_ALWAYS(x)       ((x) ? true : (mesh_panic(__FILE__, __LINE__, #x), false))
#else
#define MESH_DEBUG_ASSERT(c) ((void) 0)
#define MESH_NEVER(x)        (x)
#define MESH_ALWAYS(x)       (x)
#endif

#define MESH_ARRAY_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Time. */
#define MESH_NS_PER_US 1000ull
#define MESH_NS_PER_MS 1000000ull
#define MESH_NS_PER_S  1000000000ull

typedef struct mesh_now {
    uint64_t monotonic_ns; /* since an arbitrary origin; never goes back */
    int64_t realtime_ns;   /* since the Unix epoch; may jump or be skewed */
} mesh_now;

/* The PRNG: xoshiro256** by Blackman and Vigna, written from the paper's
 * description. Caller-owned; not thread-safe; never reseeded behind the
 * caller's back. */
typedef struct mesh_rng {
    uint64_t state[4];
} mesh_rng;

/* Seeds rng from a 64-bit seed (expanded with splitmix64, so that seed 0
 * is as good as any other). */
void mesh_rng_seed(mesh_rng *rng, uint64_t seed);
uint64_t mesh_rng_next(mesh_rng *rng);
/* Uniform in [0, bound) without modulo bias. bound must be > 0. */
uint64_t mesh_rng_below(mesh_rng *rng, uint64_t bound);
/* Uniform in [0, 1), 53 bits of precision. */
double mesh_rng_unit(mesh_rng *rng);

/* Node ids: 16 bytes derived from the Ed25519 public key (crypto/ derives
 * them; see mcrypto_node_id). Compared bytewise; ordered with memcmp so
 * that every iteration over members has one defined order. */
#define MESH_NODE_ID_SIZE 16u
typedef struct mesh_node_id {
    uint8_t bytes[MESH_NODE_ID_SIZE];
} mesh_node_id;

bool mesh_node_id_equal(const mesh_node_id *a, const mesh_node_id *b);
int mesh_node_id_compare(const mesh_node_id *a, const mesh_node_id *b);

/* The outbox: what a state machine asks its shell to do, in order. The
 * shell executes items in the order they were pushed; a ledger write is
 * synced before any later SEND in the same outbox leaves the node.
 * Payloads point into the machine's own buffers and stay valid until the
 * next call on that machine. */
typedef enum mesh_output_kind {
    MESH_OUTPUT_SEND = 1,         /* payload to peer */
    MESH_OUTPUT_LEDGER_WRITE = 2, /* payload is an encoded ledger batch */
    MESH_OUTPUT_EVENT = 3,        /* payload is an encoded event for logs/metrics */
} mesh_output_kind;

typedef struct mesh_output {
    mesh_output_kind kind;
    mesh_node_id peer;    /* SEND: the destination (zero for a seed not yet known) */
    const char *endpoint; /* SEND: where the destination listens ("tcp://..."), NUL-terminated */
    const uint8_t *payload;
    uint32_t payload_size;
} mesh_output;

typedef struct mesh_outbox {
    mesh_output *items; /* caller-owned array of count_max items */
    uint32_t count;
    uint32_t count_max;
} mesh_outbox;

/* Binds an outbox to caller storage and empties it. */
void mesh_outbox_init(mesh_outbox *outbox, mesh_output *items, uint32_t count_max);
/* Appends one item. MESH_EFULL when count == count_max: nothing is dropped
 * silently, the caller decides. */
MESH_MUST_USE mesh_err mesh_outbox_push(mesh_outbox *outbox, const mesh_output *output);
void mesh_outbox_clear(mesh_outbox *outbox);

#endif /* MESH_MESH_H */
