/*
 * tests/fuzz/fuzz_ledger_entry.c: libFuzzer target for the ledger's
 * decoders: the input is read as a stored entry value (entry bytes ||
 * BLAKE2b-256 of them) and, separately, as a bare lease record.
 *
 * Oracles: a rejection is MESH_EPROTO or MESH_ECORRUPT (a hash that does
 * not match), never anything else and never a crash; everything accepted
 * is canonical: the record re-encodes to exactly the bytes it came from,
 * and the entry re-encodes (with its hash) to exactly the input. An
 * accepted record is version 2, has terms exactly when it is OPENED (one
 * price per amount, a window), and is no larger than the largest record
 * the rules allow (LEDGER_RECORD_SIZE_WORST). The fuzzer rarely forges a
 * matching hash, so the seed corpus holds real entries (valid-v2-entry-*,
 * and bad-*-entry-* whose hash matches but whose record is refused) and
 * the record pass carries most of the coverage. Version 1 seeds stay in
 * the corpus: they must be refused cleanly.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger.h"
#include "ledger/ledger_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_require(bool ok, const char *what)
{
    if (!ok) {
        (void) fprintf(stderr, "fuzz_ledger_entry: %s\n", what);
        abort();
    }
}

static void check_record(const uint8_t *data, uint32_t size)
{
    ledger_record record;
    mesh_err err = ledger_record_decode(data, size, &record);
    if (err != MESH_OK) {
        fuzz_require(err == MESH_EPROTO, "a record refused with something other than EPROTO");
        return;
    }
    uint8_t out[LEDGER_RECORD_SIZE_MAX];
    uint32_t out_size = 0;
    err = ledger_record_encode(&record, out, sizeof(out), &out_size);
    fuzz_require(err == MESH_OK, "the record encoder refused what the decoder accepted");
    fuzz_require(out_size == size && memcmp(out, data, size) == 0,
                 "a record re-encodes to other bytes");
    fuzz_require(record.version == LEDGER_RECORD_VERSION, "a record of another version");
    fuzz_require(size <= LEDGER_RECORD_SIZE_WORST, "a record larger than the largest valid one");
    bool opened = record.kind == LEDGER_KIND_OPENED;
    fuzz_require(opened == (record.terms.start_ns > 0), "terms on other than an opening");
    fuzz_require(!opened || (record.terms.price_count == record.amount_count &&
                             record.terms.end_ns > record.terms.start_ns),
                 "an opening with terms that break the rules");
}

static void check_entry(const uint8_t *data, uint32_t size)
{
    ledger_entry entry;
    mesh_err err = ledger_entry_decode(data, size, &entry);
    if (err != MESH_OK) {
        fuzz_require(err == MESH_EPROTO || err == MESH_ECORRUPT,
                     "an entry refused with something other than EPROTO or ECORRUPT");
        return;
    }
    fuzz_require(entry.seq > 0, "an entry with seq 0");
    fuzz_require(entry.record_bytes >= data &&
                     entry.record_bytes + entry.record_size <= data + size,
                 "record bytes outside the input");
    check_record(entry.record_bytes, entry.record_size);
    uint8_t out[LEDGER_VALUE_SIZE_MAX];
    uint32_t out_size = 0;
    err = ledger_entry_encode(entry.seq, entry.prev_hash, entry.record_bytes, entry.record_size,
                              entry.has_lender_signature ? entry.lender_signature : NULL,
                              entry.has_borrower_signature ? entry.borrower_signature : NULL, out,
                              sizeof(out), &out_size);
    fuzz_require(err == MESH_OK, "the entry encoder refused what the decoder accepted");
    fuzz_require(out_size == size && memcmp(out, data, size) == 0,
                 "an entry re-encodes to other bytes");
    // Signature checking must not crash on anything that decodes.
    err = ledger_entry_check_signatures(&entry);
    fuzz_require(err == MESH_OK || err == MESH_EAUTH, "signature check failed oddly");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20)) {
        return 0;
    }
    check_entry(data, (uint32_t) size);
    check_record(data, (uint32_t) size);
    return 0;
}
