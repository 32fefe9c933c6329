/*
 * sim/gossip_world.c: the federation the gossip scenario fabricates: a
 * root key, and for each of N members a key, a certificate (a city's
 * country, EU, ISO 27001 and by chance SecNumCloud or C5), a plausible
 * advert (vCPU, memory, GPUs, storage, the country's grid carbon), and a
 * member_node without a ledger that runs the unchanged gossip machine.
 *
 * Why fabricate instead of reading a federation: the scenario measures the
 * protocol at any N from one seed, and every byte of the world must follow
 * from (seed, N) for the digest to mean anything. Every draw comes from
 * the setup stream in a fixed order (the root, then member 0, 1, ...), so
 * the world does not depend on how the loop later runs.
 *
 * Sharing without changing results: one signature verify cache, one frame
 * store and one pair-key cache serve every machine (each holds the same
 * records and keys); each is sized from N and says on stderr when it was
 * too small.
 *
 * Bounds: N <= SIM_NODES_MAX; each machine takes members_max = N +
 * members_slack member slots and 16 revocation slots.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/gossip_int.h"

/* Node lookups by id, for false downs. */
static int compare_by_id(const void *a, const void *b)
{
    return mesh_node_id_compare(&((const sim_gossip_id_entry *) a)->id,
                                &((const sim_gossip_id_entry *) b)->id);
}

uint32_t sim_gossip_index_of_id(const sim_gossip_state *run, const mesh_node_id *id)
{
    uint32_t low = 0;
    uint32_t high = run->node_count;
    while (low < high) {
        uint32_t mid = low + (high - low) / 2;
        int order = mesh_node_id_compare(&run->id_order[mid].id, id);
        if (order == 0) {
            return run->id_order[mid].index;
        }
        if (order < 0) {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    return UINT32_MAX;
}

void sim_gossip_set_resource(wire_resource *resource,
                             uint32_t resource_class,
                             const char *model,
                             uint64_t total,
                             uint64_t free_amount,
                             uint64_t price)
{
    memset(resource, 0, sizeof(*resource));
    resource->resource_class = resource_class;
    (void) snprintf(resource->model, sizeof(resource->model), "%s", model);
    resource->total = total;
    resource->free = free_amount;
    resource->lendable = free_amount / 2u;
    resource->price_microeur_per_unit_hour = price;
}

/* A plausible datacenter: sizes drawn from the setup stream. */
static void make_advert(sim_gossip_state *run, uint32_t index, wire_advert *advert_out)
{
    mesh_rng *rng = &run->setup_rng;
    const sim_city *city = &sim_cities[sim_net_city_of(index)];
    wire_advert *advert = advert_out;
    memset(advert, 0, sizeof(*advert));
    advert->status = WIRE_ADVERT_ALIVE;
    advert->carbon_gco2_per_kwh = sim_carbon_of(city->country);
    uint64_t vcpu = 512u * (1u + mesh_rng_below(rng, 32));
    uint64_t gpu = 8u * mesh_rng_below(rng, 17);
    uint64_t storage_gib = 1024u * (64u + mesh_rng_below(rng, 1024));
    // Resources sorted by (class, model), as the wire format requires.
    sim_gossip_set_resource(&advert->resources[advert->resource_count++], WIRE_RESOURCE_VCPU, "",
                            vcpu, vcpu * (20u + mesh_rng_below(rng, 60)) / 100u, 40000u);
    sim_gossip_set_resource(&advert->resources[advert->resource_count++], WIRE_RESOURCE_MEMORY_GIB,
                            "", vcpu * 4u, vcpu * 2u, 5000u);
    if (gpu > 0) {
        sim_gossip_set_resource(&advert->resources[advert->resource_count++], WIRE_RESOURCE_GPU,
                                "H100-80GB", gpu, gpu * mesh_rng_below(rng, 101) / 100u, 2500000u);
    }
    sim_gossip_set_resource(&advert->resources[advert->resource_count++], WIRE_RESOURCE_STORAGE_GIB,
                            "", storage_gib, storage_gib / 2u, 10u);
    (void) snprintf(advert->endpoint, sizeof(advert->endpoint), "%s", run->nodes[index].endpoint);
}

static mesh_err make_node(sim_gossip_state *run,
                          uint32_t index,
                          const mcrypto_keypair *root,
                          const char *const *seeds,
                          uint32_t seed_count)
{
    sim_gossip_node *node = &run->nodes[index];
    const sim_gossip_config *config = run->config;
    const sim_city *city = &sim_cities[sim_net_city_of(index)];
    (void) snprintf(node->endpoint, sizeof(node->endpoint), "sim://%u", index);
    mesh_rng_seed(&node->rng,
                  sim_gossip_stream_seed(config->seed, SIM_GOSSIP_STREAM_NODE + (uint64_t) index));

    uint8_t key_seed[MCRYPTO_SEED_SIZE];
    for (uint32_t i = 0; i < MCRYPTO_SEED_SIZE; i += 8) {
        uint64_t value = mesh_rng_next(&run->setup_rng);
        memcpy(key_seed + i, &value, 8);
    }
    gossip_config machine_config;
    gossip_config_default(&machine_config);
    mesh_err err = mcrypto_keypair_from_seed(key_seed, &machine_config.keypair);
    sodium_memzero(key_seed, sizeof(key_seed));
    if (err != MESH_OK) {
        return err;
    }
    mcrypto_node_id(machine_config.keypair.public_key, &node->id);

    wire_cert cert;
    memset(&cert, 0, sizeof(cert));
    memcpy(cert.public_key, machine_config.keypair.public_key, sizeof(cert.public_key));
    (void) snprintf(cert.name, sizeof(cert.name), "sim-%u", index);
    (void) snprintf(cert.operator_name, sizeof(cert.operator_name), "fedmesh simulator");
    memcpy(cert.country, city->country, 3);
    sim_cert_add_jurisdiction(&cert, city->country);
    sim_cert_add_jurisdiction(&cert, "EU");
    cert.certifications = WIRE_CERTIFICATION_ISO27001;
    if (mesh_rng_below(&run->setup_rng, 2) == 0) {
        cert.certifications |= strcmp(city->country, "FR") == 0 ? WIRE_CERTIFICATION_SECNUMCLOUD
                                                                : WIRE_CERTIFICATION_C5;
    }
    // Valid from a day before the epoch for a year: longer than any run.
    cert.valid_from_ns = SIM_EPOCH_NS - SIM_DAY_NS;
    cert.valid_until_ns = SIM_EPOCH_NS + 365 * SIM_DAY_NS;
    cert.serial = (uint64_t) index + 1u;
    uint8_t cert_frame[WIRE_RECORD_SIZE_MAX];
    uint32_t cert_frame_size = 0;
    err = mcrypto_cert_issue(root, &cert, cert_frame, sizeof(cert_frame), &cert_frame_size);
    if (err != MESH_OK) {
        mcrypto_keypair_wipe(&machine_config.keypair);
        return MESH_EINTERNAL;
    }

    memcpy(machine_config.root_public_key, root->public_key, MCRYPTO_PUBLIC_KEY_SIZE);
    machine_config.cert_frame = cert_frame;
    machine_config.cert_frame_size = cert_frame_size;
    make_advert(run, index, &machine_config.advert);
    machine_config.seeds = seeds;
    machine_config.seed_count = seed_count;
    machine_config.members_max = config->node_count + config->members_slack;
    // The scenario revokes no one; the default room for 256 revocations
    // (136 KB a machine) would be a third of a machine's memory at N = 10,000.
    machine_config.revocations_max = 16;
    machine_config.fanout = config->fanout;
    machine_config.probe_interval_ns = config->interval_ns;
    machine_config.verify_cache = run->verify_cache;
    machine_config.store = run->store;
    machine_config.pair_cache = run->pair_cache;
    // Shorter intervals than the default scale the probe timeout along
    // (30 % of the interval), so that every --interval-ms is a valid run.
    if (machine_config.probe_timeout_ns * 10 > config->interval_ns * 3) {
        machine_config.probe_timeout_ns = config->interval_ns * 3 / 10;
    }
    if (machine_config.suspicion_min_ns < 3 * machine_config.probe_timeout_ns) {
        machine_config.suspicion_min_ns = 3 * machine_config.probe_timeout_ns;
    }

    node->start_ns = mesh_rng_below(&run->setup_rng, MESH_NS_PER_S);
    if (config->clock_skew_ns_max > 0) {
        uint64_t span = 2u * (uint64_t) config->clock_skew_ns_max + 1u;
        node->skew_ns = (int64_t) mesh_rng_below(&run->setup_rng, span) - config->clock_skew_ns_max;
    }
    if (config->hostile_count > 0 && index >= SIM_GOSSIP_HOSTILE_FIRST &&
        index < SIM_GOSSIP_HOSTILE_FIRST + config->hostile_count) {
        run->hostile_keys[index - SIM_GOSSIP_HOSTILE_FIRST] = machine_config.keypair;
    }
    member_config member_settings;
    member_config_default(&member_settings);
    member_settings.gossip = machine_config;
    run->io[index] = (struct sim_gossip_io){.run = run, .index = index};
    member_settings.io = (member_io){
        .ctx = &run->io[index], .send = sim_gossip_io_send, .event = sim_gossip_io_event};
    err =
        member_create(&member_settings, sim_gossip_node_now(run, node), &node->rng, &node->member);
    mcrypto_keypair_wipe(&machine_config.keypair);
    mcrypto_keypair_wipe(&member_settings.gossip.keypair);
    if (err == MESH_OK) {
        node->machine = member_gossip(node->member);
    }
    if (err == MESH_ENOMEM) {
        return err;
    }
    if (err != MESH_OK) {
        (void) fprintf(stderr, "sim: node %u: member_create: %s\n", index, mesh_strerror(err));
        return MESH_EINTERNAL;
    }
    sim_event start = {.time_ns = node->start_ns, .kind = SIM_EVENT_START, .node_index = index};
    err = sim_gossip_push_event(run, &start);
    if (err != MESH_OK || config->hostile_count == 0 || index < SIM_GOSSIP_HOSTILE_FIRST ||
        index >= SIM_GOSSIP_HOSTILE_FIRST + config->hostile_count) {
        return err;
    }
    sim_event attack = {.time_ns = node->start_ns + config->interval_ns,
                        .kind = SIM_EVENT_ATTACK,
                        .node_index = index};
    return sim_gossip_push_event(run, &attack);
}

mesh_err sim_gossip_world_create(sim_gossip_state *run)
{
    const sim_gossip_config *config = run->config;
    mesh_err err = MESH_OK;
    run->nodes = calloc(config->node_count, sizeof(sim_gossip_node));
    run->io = calloc(config->node_count, sizeof(*run->io));
    run->id_order = calloc(config->node_count, sizeof(sim_gossip_id_entry));
    if (run->nodes == NULL || run->id_order == NULL || run->io == NULL) {
        return MESH_ENOMEM;
    }
    run->node_count = config->node_count;
    if (!config->no_verify_cache) {
        // Every machine checks the same records: one shared memo of valid
        // signatures makes the join cost hashing instead of 2 N^2 Ed25519
        // checks, without changing any result (see crypto/verify_cache.c).
        // 256 slots a node: some 12 records a node to remember, so slot
        // collisions (each a fresh check, in every machine) stay under 1 %.
        uint64_t slots = 256ull * config->node_count;
        slots = slots < (1u << 16) ? (1u << 16) : slots > (1u << 24) ? (1u << 24) : slots;
        err = mcrypto_verify_cache_create((uint32_t) slots, &run->verify_cache);
        if (err != MESH_OK) {
            return err;
        }
    }

    // One store and one pair-key cache for every machine: the same frames
    // and keys once instead of N times, with no change to any result. The
    // store has room for every certificate and for eight live versions of
    // every advert (a partition keeps two sides' versions alive; a
    // refutation makes one more), and counts what it must refuse.
    uint64_t certs = (uint64_t) config->node_count + config->members_slack + 16u;
    uint64_t adverts =
        config->store_adverts_max > 0 ? config->store_adverts_max : 8u * certs + 1024u;
    uint64_t pair_slots = 64u * (uint64_t) config->node_count;
    pair_slots = pair_slots < (1u << 12)   ? (1u << 12)
                 : pair_slots > (1u << 23) ? (1u << 23)
                                           : pair_slots;
    if (adverts > (1u << 26)) {
        return MESH_EINVAL;
    }
    err = gossip_store_create((uint32_t) certs, (uint32_t) adverts, &run->store);
    if (err == MESH_OK) {
        err = mcrypto_pair_cache_create((uint32_t) pair_slots, &run->pair_cache);
    }
    if (err != MESH_OK) {
        return err;
    }

    if (config->hostile_count > 0) {
        err = sim_gossip_hostile_setup(run);
        if (err != MESH_OK) {
            return err;
        }
    }

    uint8_t root_seed[MCRYPTO_SEED_SIZE];
    for (uint32_t i = 0; i < MCRYPTO_SEED_SIZE; i += 8) {
        uint64_t value = mesh_rng_next(&run->setup_rng);
        memcpy(root_seed + i, &value, 8);
    }
    mcrypto_keypair root;
    err = mcrypto_keypair_from_seed(root_seed, &root);
    sodium_memzero(root_seed, sizeof(root_seed));
    if (err != MESH_OK) {
        return err;
    }
    static const char *const seed_endpoints[SIM_SEED_COUNT_MAX] = {"sim://0", "sim://1", "sim://2"};
    uint32_t seed_count =
        config->node_count < SIM_SEED_COUNT_MAX ? config->node_count : SIM_SEED_COUNT_MAX;
    if (config->node_created != NULL && !config->node_created(config->node_created_context, 0)) {
        mcrypto_keypair_wipe(&root);
        return MESH_ENOMEM;
    }
    for (uint32_t i = 0; i < config->node_count; i++) {
        err = make_node(run, i, &root, seed_endpoints, seed_count);
        if (err != MESH_OK) {
            break;
        }
        if (config->node_created != NULL &&
            !config->node_created(config->node_created_context, i + 1)) {
            err = MESH_ENOMEM;
            break;
        }
    }
    mcrypto_keypair_wipe(&root);
    if (err != MESH_OK) {
        return err;
    }
    for (uint32_t i = 0; i < config->node_count; i++) {
        run->id_order[i].id = run->nodes[i].id;
        run->id_order[i].index = i;
    }
    qsort(run->id_order, config->node_count, sizeof(sim_gossip_id_entry), compare_by_id);
    return MESH_OK;
}

mesh_err sim_gossip_world_check_store(const sim_gossip_state *run)
{
    MESH_ASSERT(run != NULL);
    MESH_ASSERT(run->store != NULL);
    gossip_store_usage usage;
    gossip_store_usage_get(run->store, &usage);
    if (usage.refused == 0) {
        return MESH_OK;
    }
    // A refusal changes the run: a machine lost a frame an unbounded one
    // would have kept, so its figures are not the protocol's. The run
    // fails rather than print them.
    (void) fprintf(stderr,
                   "sim: the shared frame store refused %llu frames (adverts peak %u of %u, "
                   "certificates peak %u of %u): the results would not be those of unbounded "
                   "machines, so the run fails\n",
                   (unsigned long long) usage.refused, usage.adverts_peak, usage.adverts_max,
                   usage.certs_peak, usage.certs_max);
    return MESH_EFULL;
}

void sim_gossip_world_destroy(sim_gossip_state *run)
{
    if (run->nodes != NULL) {
        for (uint32_t i = 0; i < run->node_count; i++) {
            member_destroy(run->nodes[i].member);
        }
    }
    free(run->nodes);
    free(run->io);
    free(run->id_order);
    mcrypto_verify_cache_destroy(run->verify_cache);
    gossip_store_destroy(run->store);
    mcrypto_pair_cache_destroy(run->pair_cache);
    sim_gossip_hostile_destroy(run);
}
