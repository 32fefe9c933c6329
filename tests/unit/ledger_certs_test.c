/*
 * tests/unit/ledger_certs_test.c: the ledger's certificate store
 * (ledger_put_certificate, ledger_store_certificate,
 * ledger_certificate_walk) against its contract in ledger/ledger.h.
 *
 * Put, commit and read back; staged until a commit (with or without
 * records, in the same batch as the records); never overwritten and a
 * repeat is a no-op (staged or stored); what is refused (a wrong hash, a
 * frame that is not a certificate, an empty or oversized frame); the
 * group limit (MESH_EFULL, then fine after a commit); verify counts them
 * and fails on one whose bytes no longer match its key; the other
 * readers (journal walk, reconcile) ignore them; and they survive a
 * reopen and a repair of a torn tail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <sodium.h>

#include "tests/unit/ledger_fixture.h"

typedef struct certs_fixture {
    fixture_party parties[3];
    mcrypto_keypair root;
    ledger_mem_store *mem;
    ledger_store store;
    ledger *l;
    uint8_t frames[3][1024];
    uint32_t sizes[3];
    uint8_t hashes[3][LEDGER_HASH_SIZE];
} certs_fixture;

static void issue(certs_fixture *f, uint32_t i)
{
    wire_cert cert;
    memset(&cert, 0, sizeof(cert));
    memcpy(cert.public_key, f->parties[i].keys.public_key, sizeof(cert.public_key));
    (void) snprintf(cert.name, sizeof(cert.name), "party-%u", i);
    memcpy(cert.country, "FR", 3);
    cert.jurisdiction_count = 1;
    memcpy(cert.jurisdictions[0], "EU", 3);
    cert.certifications = WIRE_CERTIFICATION_HDS;
    cert.valid_from_ns = 1;
    cert.valid_until_ns = INT64_MAX;
    cert.serial = i + 1;
    assert_int_equal(
        mcrypto_cert_issue(&f->root, &cert, f->frames[i], sizeof(f->frames[i]), &f->sizes[i]),
        MESH_OK);
    assert_int_equal(
        crypto_generichash(f->hashes[i], LEDGER_HASH_SIZE, f->frames[i], f->sizes[i], NULL, 0), 0);
}

static int setup(void **state)
{
    certs_fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(mcrypto_init(), MESH_OK);
    uint8_t seed[MCRYPTO_SEED_SIZE];
    memset(seed, 0x77, sizeof(seed));
    assert_int_equal(mcrypto_keypair_from_seed(seed, &f->root), MESH_OK);
    for (uint32_t i = 0; i < 3; i++) {
        fixture_party_make(&f->parties[i], i);
        issue(f, i);
    }
    assert_int_equal(ledger_mem_store_create(1u << 16, 1u << 26, &f->mem), MESH_OK);
    f->store = ledger_mem_store_interface(f->mem);
    ledger_config config = fixture_config(&f->parties[0]);
    assert_int_equal(ledger_open(&config, &f->store, &f->l), MESH_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    certs_fixture *f = *state;
    ledger_close(f->l);
    ledger_mem_store_destroy(f->mem);
    free(f);
    return 0;
}

static void assert_stored(certs_fixture *f, uint32_t i)
{
    uint8_t frame[LEDGER_CERT_FRAME_SIZE_MAX];
    uint32_t size = 0;
    assert_int_equal(ledger_store_certificate(&f->store, f->hashes[i], frame, sizeof(frame), &size),
                     MESH_OK);
    assert_int_equal(size, f->sizes[i]);
    assert_memory_equal(frame, f->frames[i], size);
}

static void assert_absent(certs_fixture *f, uint32_t i)
{
    uint8_t frame[LEDGER_CERT_FRAME_SIZE_MAX];
    uint32_t size = 0;
    assert_int_equal(ledger_store_certificate(&f->store, f->hashes[i], frame, sizeof(frame), &size),
                     MESH_ENOTFOUND);
}

static void test_put_commit_read(void **state)
{
    certs_fixture *f = *state;
    assert_int_equal(ledger_put_certificate(f->l, f->hashes[1], f->frames[1], f->sizes[1]),
                     MESH_OK);
    // Staged: not in the store before the commit.
    assert_absent(f, 1);
    // A commit with no record writes it.
    assert_int_equal(ledger_commit(f->l, true, NULL, NULL), MESH_OK);
    assert_stored(f, 1);
    // In the same batch as a record.
    ledger_record record;
    uint8_t lease_id[LEDGER_LEASE_ID_SIZE];
    fixture_lease_id(lease_id, 1);
    fixture_record(&record, LEDGER_KIND_OPENED, lease_id, 0, &f->parties[0], &f->parties[2],
                   FIXTURE_HOUR_NS, 4000, 0);
    assert_int_equal(ledger_put_certificate(f->l, f->hashes[0], f->frames[0], f->sizes[0]),
                     MESH_OK);
    assert_int_equal(ledger_put_certificate(f->l, f->hashes[2], f->frames[2], f->sizes[2]),
                     MESH_OK);
    assert_int_equal(fixture_append_signed(f->l, &record, &f->parties[0], &f->parties[2], 1, NULL),
                     MESH_OK);
    uint32_t keys_before = ledger_mem_store_key_count(f->mem);
    assert_int_equal(ledger_commit(f->l, true, NULL, NULL), MESH_OK);
    assert_true(ledger_mem_store_key_count(f->mem) > keys_before + 2);
    for (uint32_t i = 0; i < 3; i++) {
        assert_stored(f, i);
    }
    // Too small a buffer.
    uint8_t small[16];
    uint32_t size = 0;
    assert_int_equal(ledger_store_certificate(&f->store, f->hashes[0], small, sizeof(small), &size),
                     MESH_EFULL);
}

static bool count_visit(void *arg,
                        const uint8_t hash[LEDGER_HASH_SIZE],
                        const uint8_t *frame,
                        uint32_t frame_size)
{
    uint32_t *count = arg;
    uint8_t computed[LEDGER_HASH_SIZE];
    assert_int_equal(crypto_generichash(computed, sizeof(computed), frame, frame_size, NULL, 0), 0);
    assert_memory_equal(computed, hash, LEDGER_HASH_SIZE);
    (*count)++;
    return true;
}

static void test_no_overwrite_and_repeats(void **state)
{
    certs_fixture *f = *state;
    assert_int_equal(ledger_put_certificate(f->l, f->hashes[1], f->frames[1], f->sizes[1]),
                     MESH_OK);
    // A repeat while staged: nothing more staged.
    assert_int_equal(ledger_put_certificate(f->l, f->hashes[1], f->frames[1], f->sizes[1]),
                     MESH_OK);
    assert_int_equal(ledger_commit(f->l, true, NULL, NULL), MESH_OK);
    uint32_t keys = ledger_mem_store_key_count(f->mem);
    // A repeat once stored: no write at all (nothing staged, so a commit
    // writes no batch).
    assert_int_equal(ledger_put_certificate(f->l, f->hashes[1], f->frames[1], f->sizes[1]),
                     MESH_OK);
    assert_int_equal(ledger_commit(f->l, true, NULL, NULL), MESH_OK);
    assert_int_equal(ledger_mem_store_key_count(f->mem), keys);
    uint32_t count = 0;
    assert_int_equal(ledger_certificate_walk(&f->store, count_visit, &count), MESH_OK);
    assert_int_equal(count, 1);
}

static void test_refusals(void **state)
{
    certs_fixture *f = *state;
    // The hash of another frame.
    assert_int_equal(ledger_put_certificate(f->l, f->hashes[0], f->frames[1], f->sizes[1]),
                     MESH_EINVAL);
    // Not a certificate: a well-formed envelope of another type.
    uint8_t body[] = {0x81, 0x00, 0x01};
    uint8_t frame[256];
    uint32_t frame_size = 0;
    assert_int_equal(mcrypto_envelope_seal(&f->parties[0].keys, WIRE_TYPE_ADVERT, body,
                                           sizeof(body), frame, sizeof(frame), &frame_size),
                     MESH_OK);
    uint8_t hash[LEDGER_HASH_SIZE];
    assert_int_equal(crypto_generichash(hash, sizeof(hash), frame, frame_size, NULL, 0), 0);
    assert_int_equal(ledger_put_certificate(f->l, hash, frame, frame_size), MESH_EINVAL);
    // Garbage, empty, oversized.
    uint8_t garbage[64];
    memset(garbage, 0xc1, sizeof(garbage));
    assert_int_equal(crypto_generichash(hash, sizeof(hash), garbage, sizeof(garbage), NULL, 0), 0);
    assert_int_equal(ledger_put_certificate(f->l, hash, garbage, sizeof(garbage)), MESH_EINVAL);
    assert_int_equal(ledger_put_certificate(f->l, hash, garbage, 0), MESH_EINVAL);
    static uint8_t big[LEDGER_CERT_FRAME_SIZE_MAX + 1];
    assert_int_equal(crypto_generichash(hash, sizeof(hash), big, sizeof(big), NULL, 0), 0);
    assert_int_equal(ledger_put_certificate(f->l, hash, big, sizeof(big)), MESH_EINVAL);
    // Nothing was staged by any of these.
    uint32_t keys = ledger_mem_store_key_count(f->mem);
    assert_int_equal(ledger_commit(f->l, true, NULL, NULL), MESH_OK);
    assert_int_equal(ledger_mem_store_key_count(f->mem), keys);
}

static void test_group_limit(void **state)
{
    certs_fixture *f = *state;
    // LEDGER_GROUP_CERTS_MAX distinct certificates (serials differ).
    wire_cert cert;
    memset(&cert, 0, sizeof(cert));
    memcpy(cert.public_key, f->parties[1].keys.public_key, sizeof(cert.public_key));
    memcpy(cert.name, "many", 5);
    memcpy(cert.country, "DE", 3);
    cert.valid_from_ns = 1;
    cert.valid_until_ns = 2;
    for (uint32_t i = 0; i <= LEDGER_GROUP_CERTS_MAX; i++) {
        cert.serial = 1000 + i;
        uint8_t frame[1024];
        uint32_t size = 0;
        assert_int_equal(mcrypto_cert_issue(&f->root, &cert, frame, sizeof(frame), &size), MESH_OK);
        uint8_t hash[LEDGER_HASH_SIZE];
        assert_int_equal(crypto_generichash(hash, sizeof(hash), frame, size, NULL, 0), 0);
        mesh_err err = ledger_put_certificate(f->l, hash, frame, size);
        if (i < LEDGER_GROUP_CERTS_MAX) {
            assert_int_equal(err, MESH_OK);
            continue;
        }
        assert_int_equal(err, MESH_EFULL);
        assert_int_equal(ledger_commit(f->l, true, NULL, NULL), MESH_OK);
        assert_int_equal(ledger_put_certificate(f->l, hash, frame, size), MESH_OK);
        assert_int_equal(ledger_commit(f->l, true, NULL, NULL), MESH_OK);
    }
    uint32_t count = 0;
    assert_int_equal(ledger_certificate_walk(&f->store, count_visit, &count), MESH_OK);
    assert_int_equal(count, LEDGER_GROUP_CERTS_MAX + 1);
    ledger_verify_report report;
    assert_int_equal(ledger_verify(&f->store, 86400ull * MESH_NS_PER_S, &report), MESH_OK);
    assert_int_equal(report.certificate_count, LEDGER_GROUP_CERTS_MAX + 1);
}

static bool entry_count_visit(void *arg, const ledger_entry *entry)
{
    (void) entry;
    (*(uint32_t *) arg)++;
    return true;
}

static void test_verify_and_readers(void **state)
{
    certs_fixture *f = *state;
    ledger_record record;
    uint8_t lease_id[LEDGER_LEASE_ID_SIZE];
    fixture_lease_id(lease_id, 7);
    fixture_record(&record, LEDGER_KIND_OPENED, lease_id, 0, &f->parties[1], &f->parties[0],
                   FIXTURE_HOUR_NS, 2000, 0);
    for (uint32_t i = 0; i < 2; i++) {
        assert_int_equal(ledger_put_certificate(f->l, f->hashes[i], f->frames[i], f->sizes[i]),
                         MESH_OK);
    }
    assert_int_equal(fixture_append_signed(f->l, &record, &f->parties[1], &f->parties[0], 1, NULL),
                     MESH_OK);
    assert_int_equal(ledger_flush(f->l, NULL, NULL), MESH_OK);
    ledger_verify_report report;
    assert_int_equal(ledger_verify(&f->store, 86400ull * MESH_NS_PER_S, &report), MESH_OK);
    assert_int_equal(report.certificate_count, 2);
    assert_int_equal(report.entry_count, 1);
    // The journal walk sees the one entry only.
    uint32_t entries = 0;
    assert_int_equal(ledger_journal_walk(&f->store, 1, entry_count_visit, &entries), MESH_OK);
    assert_int_equal(entries, 1);
    // Reopen: the certificates are still there, the ledger opens.
    ledger_close(f->l);
    f->l = NULL;
    ledger_config config = fixture_config(&f->parties[0]);
    assert_int_equal(ledger_open(&config, &f->store, &f->l), MESH_OK);
    assert_stored(f, 0);
    assert_stored(f, 1);
    // A flipped bit in a stored certificate: verify names its key, the
    // reader refuses it, the walk skips it.
    uint8_t key[LEDGER_CERT_KEY_SIZE];
    key[0] = 'k';
    memcpy(key + 1, f->hashes[1], LEDGER_HASH_SIZE);
    assert_int_equal(ledger_mem_store_flip(f->mem, key, sizeof(key), 40, 0x01), MESH_OK);
    assert_int_equal(ledger_verify(&f->store, 86400ull * MESH_NS_PER_S, &report), MESH_ECORRUPT);
    assert_non_null(strstr(report.reason, "certificate"));
    assert_int_equal(strncmp(report.bad_key, "k", 1), 0);
    uint8_t frame[LEDGER_CERT_FRAME_SIZE_MAX];
    uint32_t size = 0;
    assert_int_equal(ledger_store_certificate(&f->store, f->hashes[1], frame, sizeof(frame), &size),
                     MESH_ECORRUPT);
    uint32_t count = 0;
    assert_int_equal(ledger_certificate_walk(&f->store, count_visit, &count), MESH_OK);
    assert_int_equal(count, 1);
}

static void test_torn_tail_keeps_certificates(void **state)
{
    certs_fixture *f = *state;
    ledger_record record;
    uint8_t lease_id[LEDGER_LEASE_ID_SIZE];
    fixture_lease_id(lease_id, 9);
    fixture_record(&record, LEDGER_KIND_OPENED, lease_id, 0, &f->parties[0], &f->parties[1],
                   FIXTURE_HOUR_NS, 2000, 0);
    assert_int_equal(ledger_put_certificate(f->l, f->hashes[0], f->frames[0], f->sizes[0]),
                     MESH_OK);
    assert_int_equal(fixture_append_signed(f->l, &record, &f->parties[0], &f->parties[1], 1, NULL),
                     MESH_OK);
    assert_int_equal(ledger_commit(f->l, true, NULL, NULL), MESH_OK);
    // The next batch is torn after its first op (the certificate).
    fixture_record(&record, LEDGER_KIND_USAGE, lease_id, 1, &f->parties[0], &f->parties[1],
                   2 * FIXTURE_HOUR_NS, 1000, 0);
    assert_int_equal(ledger_put_certificate(f->l, f->hashes[2], f->frames[2], f->sizes[2]),
                     MESH_OK);
    assert_int_equal(fixture_append_signed(f->l, &record, &f->parties[0], &f->parties[1], 2, NULL),
                     MESH_OK);
    ledger_mem_store_fail_next_write(f->mem, 2);
    assert_int_equal(ledger_commit(f->l, true, NULL, NULL), MESH_ESTORE);
    ledger_close(f->l);
    f->l = NULL;
    ledger_config config = fixture_config(&f->parties[0]);
    assert_int_equal(ledger_open(&config, &f->store, &f->l), MESH_OK);
    ledger_verify_report report;
    assert_int_equal(ledger_verify(&f->store, 86400ull * MESH_NS_PER_S, &report), MESH_OK);
    assert_int_equal(report.entry_count, 1);
    assert_stored(f, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_commit_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_overwrite_and_repeats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_and_readers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_keeps_certificates, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
