// ringvisor-node: one cluster node and nothing else. Joins through
// `ringvisor.seeds`, prints `listening <host:port>` once its port is open,
// and leaves the cluster in order on SIGINT or SIGTERM.
//
// Run: ringvisor-node --ringvisor.name=a --ringvisor.port=4900
//      ringvisor-node --ringvisor.name=b '--ringvisor.seeds=["127.0.0.1:4900"]'

#include <cstdlib>
#include <iostream>

#include "ringvisor/actor/all.hpp"
#include "ringvisor/cluster/agent.hpp"
#include "ringvisor/cluster/discovery.hpp"

using namespace ringvisor;

int main(int argc, char** argv) {
  actor::node_config cfg;
  cluster::add_types(cfg);
  if (auto err = cfg.read(argc, argv)) {
    std::cerr << "ringvisor-node: " << actor::render(err) << '\n';
    return EXIT_FAILURE;
  }
  if (cfg.printed_and_done())
    return EXIT_SUCCESS;
  if (auto err = cluster::check_seeds(cfg.seeds)) {
    std::cerr << "ringvisor-node: " << actor::render(err) << '\n';
    return EXIT_FAILURE;
  }
  auto node = actor::node::start(cfg);
  if (!node) {
    std::cerr << "ringvisor-node: " << actor::render(node.error()) << '\n';
    return EXIT_FAILURE;
  }
  if (auto agent = cluster::start_agent(**node); !agent) {
    std::cerr << "ringvisor-node: " << actor::render(agent.error()) << '\n';
    (*node)->shutdown();
    return EXIT_FAILURE;
  }
  std::cout << "listening " << (*node)->identity().endpoint() << std::endl;
  auto signo = actor::node::await_signal();
  log::info("signal", {{"signal", signo}});
  (*node)->shutdown();
  return EXIT_SUCCESS;
}
