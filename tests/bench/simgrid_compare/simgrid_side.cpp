/*
 * tests/bench/simgrid_compare/simgrid_side.cpp: the comparison's scenario
 * (workload.h) in SimGrid (s4u, C++17), written the way SimGrid's own
 * examples are, with what ../shared/labs/simgrid measured as its fastest
 * send style.
 *
 *   simgrid-compare-simgrid [--nodes N] [--messages M] [--seed S]
 *                           [--latency-ms L]
 *
 * Platform: a star zone; site s is one host with one split-duplex link to
 * the centre (10 Gbps, latency link_ns[s]), so a message crosses two links.
 * Network model CM02 (latency + size / bandwidth, no TCP slow-start factor):
 * SimGrid's default LV08 multiplies latency by about 13. CM02 adds the
 * transfer time of 512 bytes and the TCP window bound (a few ns to ~1 us)
 * to each delivery, so the virtual end time matches the fedmesh side to
 * within a few microseconds, not to the nanosecond.
 *
 * Actors: per site a sender (sleep_until each round, put_async of a
 * malloc'ed payload, the CommPtr kept and waited at the next round) and a
 * receiver that owns its mailbox (set_receiver: messages travel as soon as
 * they are sent, as on the fedmesh side, instead of waiting for the
 * receiver's next get). A receiver stops at a stop message, which the main
 * actor sends to every site once every sender is done: nothing is left
 * undelivered and the sentinels are not counted. An event is a message
 * delivered (the receiver's get returned it), as on the fedmesh side.
 *
 * Prints one JSON line (cmp_print_result); wall_s covers Engine::run, setup_s
 * the platform and the actors. Exit 0, or 1 with a message on stderr.
 */
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <simgrid/s4u.hpp>
#include <string>
#include <vector>

#include "tests/bench/simgrid_compare/workload.h"

namespace sg4 = simgrid::s4u;

namespace
{

constexpr double LINK_BANDWIDTH_BPS = 10e9 / 8; // 10 Gbps in bytes per second

struct Run {
    cmp_workload workload{};
    std::vector<sg4::Mailbox *> mailboxes;
    std::vector<sg4::ActorPtr> senders;
    cmp_result result{};
};

Run run_state;
/* The stop message (SimGrid refuses to send a null pointer). */
uint8_t stop_message;

void sender(uint32_t site)
{
    cmp_workload *workload = &run_state.workload;
    sg4::CommPtr previous;
    for (uint64_t round = 0; cmp_sends(workload, site, round); round++) {
        sg4::this_actor::sleep_until((double) round * (double) CMP_ROUND_NS / 1e9);
        if (previous) {
            previous->wait();
        }
        uint32_t to = cmp_next_destination(workload, site);
        auto *payload = static_cast<uint8_t *>(std::malloc(CMP_PAYLOAD_SIZE));
        if (payload == nullptr) {
            std::fprintf(stderr, "simgrid side: out of memory\n");
            std::exit(1);
        }
        cmp_payload_fill(payload, site, round, to);
        previous = run_state.mailboxes[to]->put_async(payload, CMP_PAYLOAD_SIZE);
    }
    if (previous) {
        previous->wait();
    }
}

void receiver(uint32_t site)
{
    sg4::Mailbox *mailbox = run_state.mailboxes[site];
    mailbox->set_receiver(sg4::Actor::self());
    for (;;) {
        uint8_t *payload = nullptr;
        sg4::CommPtr comm = mailbox->get_async<uint8_t>(&payload);
        comm->wait();
        if (payload == &stop_message) {
            break;
        }
        // The message arrived when its comm finished, which can be before
        // this get returned: while the receiver waits for one message, a
        // faster one completes in the mailbox (set_receiver).
        double arrived_s = comm->get_finish_time();
        cmp_deliver(&run_state.result, payload, (uint64_t) std::llround(arrived_s * 1e9));
        std::free(payload);
    }
    mailbox->set_receiver(nullptr);
}

/* Waits for every sender, then stops every receiver with stop_message. */
void closer()
{
    for (const auto &actor : run_state.senders) {
        actor->join();
    }
    std::vector<sg4::CommPtr> stops;
    stops.reserve(run_state.mailboxes.size());
    for (sg4::Mailbox *mailbox : run_state.mailboxes) {
        stops.push_back(mailbox->put_async(&stop_message, 0));
    }
    for (const auto &stop : stops) {
        stop->wait();
    }
}

} // namespace

int main(int argc, char **argv)
{
    cmp_config config;
    if (cmp_parse_args(argc, argv, &config) != MESH_OK) {
        return 1;
    }
    double setup_start_s = cmp_wall_s();
    mesh_err err = cmp_workload_init(&run_state.workload, &config);
    if (err != MESH_OK) {
        std::fprintf(stderr, "simgrid side: %s\n", mesh_strerror(err));
        return 1;
    }
    // SimGrid's own options stay out of argv: the model is fixed here.
    int engine_argc = 1;
    sg4::Engine engine(&engine_argc, argv);
    xbt_log_control_set("root.thres:warning");
    sg4::Engine::set_config("network/model:CM02");

    sg4::NetZone *zone = sg4::create_star_zone("star");
    std::vector<sg4::Host *> hosts;
    hosts.reserve(config.node_count);
    for (uint32_t site = 0; site < config.node_count; site++) {
        std::string name = "site" + std::to_string(site);
        sg4::Host *host = zone->create_host(name, 1e9);
        host->seal();
        sg4::Link *link =
            zone->create_split_duplex_link("link" + std::to_string(site), LINK_BANDWIDTH_BPS);
        link->set_latency((double) run_state.workload.link_ns[site] / 1e9);
        link->seal();
        zone->add_route(host->get_netpoint(), nullptr, nullptr, nullptr,
                        {sg4::LinkInRoute(link, sg4::LinkInRoute::Direction::UP)}, true);
        hosts.push_back(host);
        run_state.mailboxes.push_back(sg4::Mailbox::by_name(name));
    }
    zone->seal();
    for (uint32_t site = 0; site < config.node_count; site++) {
        sg4::Actor::create("receiver", hosts[site], receiver, site);
        if (cmp_sends(&run_state.workload, site, 0)) {
            run_state.senders.push_back(sg4::Actor::create("sender", hosts[site], sender, site));
        }
    }
    sg4::Actor::create("closer", hosts[0], closer);

    double start_s = cmp_wall_s();
    engine.run();
    double end_s = cmp_wall_s();
    run_state.senders.clear();
    cmp_print_result("simgrid", &run_state.workload, &run_state.result, start_s - setup_start_s,
                     end_s - start_s, "CM02");
    cmp_workload_fini(&run_state.workload);
    return 0;
}
