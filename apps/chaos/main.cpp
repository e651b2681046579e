// ringvisor-chaos: proves the ring supervisor's promise (no accepted child
// is ever lost, each runs exactly once) against real node processes with
// random faults, and prints a table. See docs/chaos.md.
//
// Run: ringvisor-chaos --nodes 5 --children 200 --duration 60
//      ringvisor-chaos node --ringvisor.name=n1 --chaos.ledger-dir=DIR ...  (started by the former)

#include <cstring>

#include "ringvisor/actor/wire.hpp"
#include "roles.hpp"

int main(int argc, char** argv) {
  ringvisor::actor::ensure_secret_env(); // the nodes it starts share it
  if (argc > 1 && std::strcmp(argv[1], "node") == 0)
    return ringvisor::chaos::run_node(argc - 1, argv + 1);
  return ringvisor::chaos::run_controller(argc, argv);
}
