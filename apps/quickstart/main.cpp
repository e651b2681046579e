// The README's example: one node, one supervisor, one child spawned by name.
#include <iostream>

#include "ringvisor/actor/all.hpp"
#include "ringvisor/supervision/all.hpp"

using namespace ringvisor;
using import_atom = caf::atom_constant<caf::atom("import")>;

caf::behavior importer(caf::event_based_actor*, std::string path) {
  // A handler may throw: that is a crash, and the supervisor restarts us.
  return {[=](import_atom) { std::cout << "importing " << path << '\n'; }};
}

int main(int argc, char** argv) {
  actor::node_config cfg; // INI file + command line, validated
  supervision::add_types(cfg);
  if (auto err = cfg.read(argc, argv)) {
    std::cerr << actor::render(err) << '\n';
    return 1;
  }
  if (cfg.printed_and_done()) // --help, --dump-config
    return 0;
  auto node = actor::node::start(cfg); // actor system + TCP port + identity
  if (!node) {
    std::cerr << actor::render(node.error()) << '\n';
    return 1;
  }
  (void) (*node)->factories()->add<std::string>("importer", importer);

  supervision::child_spec child;
  child.id = "importer";
  child.type = "importer"; // spawned by name, so specs can travel
  child.args = caf::make_message(std::string{"/data/in"});
  child.restart = supervision::restart_type::transient;

  supervision::supervisor_spec spec;
  spec.strategy = supervision::restart_strategy::one_for_one;
  spec.max_restarts = 3; // more than 3 restarts within 5 s: give up, escalate
  spec.period = std::chrono::seconds{5};
  spec.factories = (*node)->factories();
  spec.children.push_back(child);
  auto sup = supervision::spawn_supervisor((*node)->system(), spec);
  if (!sup) {
    std::cerr << actor::render(sup.error()) << '\n';
    return 1;
  }
  (*node)->adopt(*sup);

  actor::node::await_signal(); // SIGINT or SIGTERM
  return 0;                    // the node stops its children newest first
}
