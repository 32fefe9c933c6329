/*
 * member/certificates.c: keeping the certificates a lease rests on.
 *
 * Why: an OPENED record names the lender's certificate by its hash and
 * copies the facts a placement was checked against (country,
 * jurisdictions, certifications), but a regulator who wants to check
 * those facts offline needs the root-signed certificates themselves, and
 * the borrower's too (its key signs every record). Gossip holds every
 * member's certificate frame only while the member is in the view; the
 * ledger keeps them for good (ledger_put_certificate), content-addressed,
 * staged in the same group as the OPENED record so that one commit
 * writes both.
 *
 * Which frame: the one gossip holds for the party's node id now. For the
 * lender that is the certificate the terms name (the lease machine took
 * the hash from gossip, or from this node's own certificate, moments
 * ago); should the lender have renewed it in between, both frames end up
 * kept over the lease's life, and the audit finds the one the terms name
 * by its hash. A party gossip no longer holds is counted
 * (certificates_missing): the audit then reports that certificate
 * missing rather than guess.
 *
 * Bounds: two frames of at most LEDGER_CERT_FRAME_SIZE_MAX bytes on the
 * stack per OPENED record; a full certificate group commits early once.
 */
#include <string.h>

#include <sodium.h>

#include "member/member_int.h"

static void keep_one(member_node *m, const uint8_t key[LEDGER_KEY_SIZE])
{
    mesh_node_id id;
    mcrypto_node_id(key, &id);
    uint8_t frame[LEDGER_CERT_FRAME_SIZE_MAX];
    uint32_t size = 0;
    if (gossip_member_cert_frame(m->gossip_machine, &id, frame, sizeof(frame), &size) != MESH_OK) {
        m->stats.certificates_missing++;
        return;
    }
    uint8_t hash[LEDGER_HASH_SIZE];
    MESH_ASSERT(crypto_generichash(hash, sizeof(hash), frame, size, NULL, 0) == 0);
    mesh_err err = ledger_put_certificate(m->ledger_handle, hash, frame, size);
    if (err == MESH_EFULL) {
        // The group's certificates are full: make them durable, stage again.
        (void) member_commit_early(m);
        err = ledger_put_certificate(m->ledger_handle, hash, frame, size);
    }
    if (err != MESH_OK) {
        m->stats.certificates_missing++;
        return;
    }
    m->staged = true; // a commit must write it, even with no record after it
    m->stats.certificates_kept++;
}

void member_keep_certificates(member_node *m, const ledger_record *record)
{
    MESH_ASSERT(m != NULL && record != NULL);
    MESH_ASSERT(record->kind == LEDGER_KIND_OPENED && m->ledger_handle != NULL);
    keep_one(m, record->lender_key);
    keep_one(m, record->borrower_key);
}
