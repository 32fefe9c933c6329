/*
 * sim/gossip_adversary.c: the hostile members of the gossip scenario
 * (--hostile K).
 *
 * Members 3..3+K-1 run the honest machine, and every probe interval each
 * also sends one random node a frame that the protocol must refuse,
 * counted under its reason and changing nothing: an advert of another
 * member with a forged signature, a replay of its own advert with an older
 * sequence, its own advert stamped an hour ahead, an advert naming another
 * member as its node, an advert from a key no root admitted, the same with
 * a certificate from another root, or random bytes. The scenario's other
 * figures (convergence, detection, heal, false downs) are measured while
 * this goes on.
 *
 * Randomness: the hostile stream only (target, victim, kind, random
 * bytes), so that the honest members' streams are those of a run without
 * attackers. Bounds: one frame per attacker per interval, each at most
 * WIRE_FRAME_SIZE_MAX bytes, built in static buffers (one run at a time).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/gossip_int.h"

mesh_err sim_gossip_hostile_setup(sim_gossip_state *run)
{
    const sim_gossip_config *config = run->config;
    mesh_rng_seed(&run->hostile_rng,
                  sim_gossip_stream_seed(config->seed, SIM_GOSSIP_STREAM_HOSTILE));
    run->hostile_keys = calloc(config->hostile_count, sizeof(mcrypto_keypair));
    if (run->hostile_keys == NULL) {
        return MESH_ENOMEM;
    }
    uint8_t seed[MCRYPTO_SEED_SIZE];
    mcrypto_keypair other_root;
    for (uint32_t k = 0; k < 2; k++) {
        for (uint32_t i = 0; i < MCRYPTO_SEED_SIZE; i += 8) {
            uint64_t value = mesh_rng_next(&run->hostile_rng);
            memcpy(seed + i, &value, 8);
        }
        mesh_err err = mcrypto_keypair_from_seed(seed, k == 0 ? &run->stranger : &other_root);
        if (err != MESH_OK) {
            return err;
        }
    }
    sodium_memzero(seed, sizeof(seed));
    wire_cert cert;
    memset(&cert, 0, sizeof(cert));
    memcpy(cert.public_key, run->stranger.public_key, sizeof(cert.public_key));
    memcpy(cert.name, "intruder-1", sizeof("intruder-1"));
    memcpy(cert.country, "FR", 3);
    cert.valid_from_ns = SIM_EPOCH_NS - SIM_DAY_NS;
    cert.valid_until_ns = SIM_EPOCH_NS + 365 * SIM_DAY_NS;
    cert.serial = 1;
    mesh_err err = mcrypto_cert_issue(&other_root, &cert, run->stranger_cert,
                                      sizeof(run->stranger_cert), &run->stranger_cert_size);
    mcrypto_keypair_wipe(&other_root);
    return err;
}

/* Signs an advert naming node_id with key into record. The endpoint is
 * always the true one of the member named: an advert that lies about its
 * own endpoint only cuts its signer off (its traffic goes elsewhere, and it
 * is declared down), which is not the attack measured here. */
static mesh_err hostile_advert(const mcrypto_keypair *key,
                               const char *endpoint,
                               const mesh_node_id *node_id,
                               uint64_t sequence,
                               int64_t timestamp_ns,
                               uint8_t *record,
                               uint32_t *record_size)
{
    wire_advert advert;
    memset(&advert, 0, sizeof(advert));
    advert.resource_count = 1;
    sim_gossip_set_resource(&advert.resources[0], WIRE_RESOURCE_VCPU, "", 4096, 4096, 1u);
    (void) snprintf(advert.endpoint, sizeof(advert.endpoint), "%s", endpoint);
    advert.node_id = *node_id;
    advert.sequence = sequence;
    advert.timestamp_ns = timestamp_ns;
    uint8_t body[WIRE_RECORD_SIZE_MAX];
    uint32_t body_size = 0;
    mesh_err err = wire_advert_encode(&advert, body, sizeof(body), &body_size);
    if (err != MESH_OK) {
        return err;
    }
    return mcrypto_envelope_seal(key, WIRE_TYPE_ADVERT, body, body_size, record,
                                 WIRE_RECORD_SIZE_MAX, record_size);
}

mesh_err sim_gossip_attack(sim_gossip_state *run, uint32_t index)
{
    sim_gossip_node *node = &run->nodes[index];
    if (!sim_gossip_node_live(node)) {
        return MESH_OK; // A crashed attacker stops attacking.
    }
    const mcrypto_keypair *key = &run->hostile_keys[index - SIM_GOSSIP_HOSTILE_FIRST];
    uint32_t target = (uint32_t) mesh_rng_below(&run->hostile_rng, run->node_count);
    // The victim is another member: an advert "of another member" signed
    // by the attacker about itself would simply be genuine.
    uint32_t victim = (uint32_t) mesh_rng_below(&run->hostile_rng, run->node_count - 1);
    victim += victim >= index;
    uint64_t kind = mesh_rng_below(&run->hostile_rng, 7);
    mesh_now now = sim_gossip_node_now(run, node);
    gossip_member_info self;
    mesh_err err = gossip_member_find(node->machine, &node->id, &self);
    if (err != MESH_OK) {
        return MESH_EINTERNAL;
    }
    mesh_node_id stranger_id;
    mcrypto_node_id(run->stranger.public_key, &stranger_id);
    static uint8_t records[2][WIRE_RECORD_SIZE_MAX];
    uint32_t sizes[2] = {0, 0};
    uint32_t count = 1;
    static uint8_t frame[WIRE_FRAME_SIZE_MAX];
    uint32_t frame_size = 0;
    int64_t hour_ns = 3600 * (int64_t) MESH_NS_PER_S;
    switch (kind) {
    case 0: // another member's advert, signed with our key: bad signature
        err = hostile_advert(key, run->nodes[victim].endpoint, &run->nodes[victim].id,
                             UINT64_MAX / 2, now.realtime_ns, records[0], &sizes[0]);
        if (err == MESH_OK) {
            // The signer field names the victim too, so that receivers check
            // the victim's key and find the signature wrong.
            wire_envelope envelope;
            err = wire_envelope_decode(records[0], sizes[0], &envelope, NULL);
            if (err == MESH_OK) {
                envelope.signer = run->nodes[victim].id;
                uint8_t body[WIRE_RECORD_SIZE_MAX];
                memcpy(body, envelope.body, envelope.body_size);
                envelope.body = body;
                err = wire_envelope_encode(&envelope, records[0], WIRE_RECORD_SIZE_MAX, &sizes[0]);
            }
        }
        break;
    case 1: // a replay: our own advert with an older sequence
        err = hostile_advert(key, node->endpoint, &node->id,
                             self.sequence > 1 ? self.sequence - 1 : 1, now.realtime_ns, records[0],
                             &sizes[0]);
        break;
    case 2: // our own advert from an hour ahead
        err = hostile_advert(key, node->endpoint, &node->id, self.sequence + 1,
                             now.realtime_ns + hour_ns, records[0], &sizes[0]);
        break;
    case 3: // an advert naming another member, signed by us: mismatch
        err = hostile_advert(key, node->endpoint, &run->nodes[victim].id, UINT64_MAX / 2,
                             now.realtime_ns, records[0], &sizes[0]);
        if (err == MESH_OK) {
            wire_envelope envelope;
            err = wire_envelope_decode(records[0], sizes[0], &envelope, NULL);
            if (err == MESH_OK && !mesh_node_id_equal(&envelope.signer, &node->id)) {
                err = MESH_EINTERNAL;
            }
        }
        break;
    case 4: // an advert from a key no root admitted
        err = hostile_advert(&run->stranger, node->endpoint, &stranger_id, 1, now.realtime_ns,
                             records[0], &sizes[0]);
        break;
    case 5: // the same, introduced by a certificate from another root
        memcpy(records[0], run->stranger_cert, run->stranger_cert_size);
        sizes[0] = run->stranger_cert_size;
        err = hostile_advert(&run->stranger, node->endpoint, &stranger_id, 1, now.realtime_ns,
                             records[1], &sizes[1]);
        count = 2;
        break;
    default: // random bytes
        frame_size = 1 + (uint32_t) mesh_rng_below(&run->hostile_rng, 300);
        for (uint32_t i = 0; i < frame_size; i++) {
            frame[i] = (uint8_t) mesh_rng_next(&run->hostile_rng);
        }
        count = 0;
        break;
    }
    if (err != MESH_OK) {
        return MESH_EINTERNAL;
    }
    if (count > 0) {
        static wire_push push;
        static uint8_t body[WIRE_FRAME_SIZE_MAX];
        push.record_count = count;
        for (uint32_t i = 0; i < count; i++) {
            push.records[i].frame = records[i];
            push.records[i].frame_size = sizes[i];
        }
        uint32_t body_size = 0;
        wire_envelope envelope;
        memset(&envelope, 0, sizeof(envelope));
        envelope.version = WIRE_VERSION;
        envelope.type = WIRE_TYPE_PUSH;
        envelope.signer = node->id;
        envelope.body = body;
        if (wire_push_encode(&push, body, sizeof(body), &body_size) != MESH_OK) {
            return MESH_EINTERNAL;
        }
        envelope.body_size = body_size;
        if (wire_envelope_encode(&envelope, frame, sizeof(frame), &frame_size) != MESH_OK) {
            return MESH_EINTERNAL;
        }
    }
    run->result.attacks++;
    mesh_output item;
    memset(&item, 0, sizeof(item));
    item.kind = MESH_OUTPUT_SEND;
    item.endpoint = run->nodes[target].endpoint;
    item.payload = frame;
    item.payload_size = frame_size;
    err = sim_gossip_send_frame(run, index, &item);
    if (err != MESH_OK) {
        return err;
    }
    sim_event next = {.time_ns = run->now_ns + run->config->interval_ns,
                      .kind = SIM_EVENT_ATTACK,
                      .node_index = index};
    return sim_gossip_push_event(run, &next);
}

void sim_gossip_hostile_destroy(sim_gossip_state *run)
{
    if (run->hostile_keys != NULL) {
        sodium_memzero(run->hostile_keys, run->config->hostile_count * sizeof(mcrypto_keypair));
    }
    free(run->hostile_keys);
    run->hostile_keys = NULL;
    mcrypto_keypair_wipe(&run->stranger);
}
