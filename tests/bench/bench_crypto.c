/*
 * tests/bench/bench_crypto.c: what does fedmesh add on top of one Ed25519
 * verification when it ingests an advert?
 *
 * raw:    crypto_sign_verify_detached over a message of the same size as
 *         the one fedmesh verifies (the domain-separation prefix plus the
 *         advert body), with libsodium directly.
 * ingest: fedmesh's whole path for an advert from a member whose
 *         certificate was already checked: decode the envelope, check the
 *         signer, verify the domain-separated signature, decode the advert
 *         body and check that the advert names its signer.
 *
 * The two sides run in interleaved rounds of equal duration; the JSON
 * reports the median rate of each and ingest/raw.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/crypto.h"
#include "tests/bench/bench.h"
#include "wire/wire.h"

static void make_advert(const mcrypto_keypair *keypair, wire_advert *advert)
{
    memset(advert, 0, sizeof(*advert));
    mcrypto_node_id(keypair->public_key, &advert->node_id);
    advert->sequence = 4242;
    advert->timestamp_ns = 1795000000000000000ll;
    advert->status = WIRE_ADVERT_ALIVE;
    advert->carbon_gco2_per_kwh = 44;
    const struct {
        uint32_t resource_class;
        const char *model;
        uint64_t total;
    } rows[] = {{WIRE_RESOURCE_VCPU, "", 4096},
                {WIRE_RESOURCE_MEMORY_GIB, "", 16384},
                {WIRE_RESOURCE_GPU, "A100-80GB", 64},
                {WIRE_RESOURCE_GPU, "H100-80GB", 32},
                {WIRE_RESOURCE_STORAGE_GIB, "", 2097152}};
    for (uint32_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        wire_resource *r = &advert->resources[i];
        r->resource_class = rows[i].resource_class;
        memcpy(r->model, rows[i].model, strlen(rows[i].model) + 1);
        r->total = rows[i].total;
        r->free = rows[i].total / 3;
        r->lendable = rows[i].total / 4;
        r->price_microeur_per_unit_hour = 25000 + i * 1000;
    }
    advert->resource_count = 5;
    memcpy(advert->endpoint, "tcp://198.18.0.1:7400", sizeof("tcp://198.18.0.1:7400"));
    memcpy(advert->api_endpoint, "http://198.18.0.1:7480", sizeof("http://198.18.0.1:7480"));
}

static int ingest_one(const uint8_t *public_key, const uint8_t *frame, uint32_t frame_size)
{
    wire_envelope envelope;
    if (mcrypto_envelope_open(public_key, WIRE_TYPE_ADVERT, frame, frame_size, &envelope, NULL) !=
        MESH_OK) {
        return -1;
    }
    wire_advert advert;
    if (wire_advert_decode(envelope.body, envelope.body_size, &advert, NULL) != MESH_OK ||
        !mesh_node_id_equal(&advert.node_id, &envelope.signer)) {
        return -1;
    }
    return 0;
}

int bench_crypto(const bench_options *options)
{
    if (mcrypto_init() != MESH_OK) {
        (void) fputs("bench: libsodium failed to initialise\n", stderr);
        return 1;
    }
    uint8_t seed[MCRYPTO_SEED_SIZE];
    memset(seed, 7, sizeof(seed));
    mcrypto_keypair keypair;
    if (mcrypto_keypair_from_seed(seed, &keypair) != MESH_OK) {
        return 1;
    }
    wire_advert advert;
    make_advert(&keypair, &advert);
    static uint8_t body[WIRE_BODY_SIZE_MAX];
    static uint8_t frame[WIRE_FRAME_SIZE_MAX];
    uint32_t body_size = 0;
    uint32_t frame_size = 0;
    if (wire_advert_encode(&advert, body, sizeof(body), &body_size) != MESH_OK ||
        mcrypto_envelope_seal(&keypair, WIRE_TYPE_ADVERT, body, body_size, frame, sizeof(frame),
                              &frame_size) != MESH_OK ||
        ingest_one(keypair.public_key, frame, frame_size) != 0) {
        (void) fputs("bench: cannot build a valid advert frame\n", stderr);
        return 1;
    }
    // The raw side verifies a message of exactly the size fedmesh verifies:
    // "fedmesh/v1/advert" NUL, then the body.
    uint32_t message_size = (uint32_t) sizeof("fedmesh/v1/advert") + body_size;
    uint8_t *message = malloc(message_size);
    if (message == NULL) {
        return 1;
    }
    randombytes_buf(message, message_size);
    uint8_t signature[crypto_sign_BYTES];
    (void) crypto_sign_detached(signature, NULL, message, message_size, keypair.secret_key);

    double raw_rates[BENCH_ROUNDS_MAX];
    double ingest_rates[BENCH_ROUNDS_MAX];
    uint64_t failures = 0;
    for (uint32_t round = 0; round < options->rounds; round++) {
        uint64_t count = 0;
        uint64_t start = bench_clock_ns();
        uint64_t elapsed = 0;
        do {
            for (int i = 0; i < 64; i++) {
                failures += crypto_sign_verify_detached(signature, message, message_size,
                                                        keypair.public_key) != 0;
            }
            count += 64;
            elapsed = bench_clock_ns() - start;
        } while (elapsed < options->round_ns);
        raw_rates[round] = (double) count * 1e9 / (double) elapsed;

        count = 0;
        start = bench_clock_ns();
        do {
            for (int i = 0; i < 64; i++) {
                failures += ingest_one(keypair.public_key, frame, frame_size) != 0;
            }
            count += 64;
            elapsed = bench_clock_ns() - start;
        } while (elapsed < options->round_ns);
        ingest_rates[round] = (double) count * 1e9 / (double) elapsed;
    }
    free(message);
    mcrypto_keypair_wipe(&keypair);
    if (failures != 0) {
        (void) fprintf(stderr, "bench: %llu verifications failed\n", (unsigned long long) failures);
        return 1;
    }
    double raw = bench_median(raw_rates, options->rounds);
    double ingest = bench_median(ingest_rates, options->rounds);
    double ratio = ingest / raw;
    if (options->json) {
        (void) printf("{\"bench\":\"crypto\",\"raw_verify_per_s\":%.0f,\"ingest_per_s\":%.0f,"
                      "\"ratio\":%.3f,\"message_size\":%u,\"frame_size\":%u,\"rounds\":%u,"
                      "\"round_ms\":%llu,\"goal_ratio_min\":0.9}\n",
                      raw, ingest, ratio, message_size, frame_size, options->rounds,
                      (unsigned long long) (options->round_ns / 1000000ull));
    } else {
        (void) printf("raw libsodium verify   %10.0f /s  (%u-byte message)\n"
                      "fedmesh advert ingest  %10.0f /s  (%u-byte frame)\n"
                      "ratio ingest/raw       %10.3f     (goal >= 0.9; median of %u rounds)\n",
                      raw, message_size, ingest, frame_size, ratio, options->rounds);
    }
    return 0;
}
