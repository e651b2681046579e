// The smallest program with a stateful ring child, built against the
// installed package (docs/ring-supervisor.md shows it): a node forms a
// cluster, runs a counter on the ring and counts to three.
#include <iostream>

#include "ringvisor/actor/all.hpp"
#include "ringvisor/cluster/agent.hpp"
#include "ringvisor/ring/all.hpp"

using namespace ringvisor;

// [example]
using inc_atom = caf::atom_constant<caf::atom("inc")>;

// The counter's state; `inspect` lets it move between nodes.
struct counter_state {
  int64_t count = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, counter_state& x) {
  return f(caf::meta::type_name("counter_state"), x.count);
}

caf::behavior counter(caf::stateful_actor<counter_state>* self) {
  caf::message_handler own{[self](inc_atom) { return ++self->state.count; }};
  return own.or_else(actor::state_handlers(self)); // hand over and take the state
}

int fail(const caf::error& err) {
  std::cerr << actor::render(err) << '\n';
  return 1;
}

int main(int argc, char** argv) {
  actor::node_config cfg; // INI file and command line
  ringvisor::add_types(cfg);
  if (auto err = cfg.read(argc, argv))
    return fail(err);
  auto node = actor::node::start(cfg);
  if (!node)
    return fail(node.error());
  auto& n = **node;
  if (auto err = n.factories()->add<>("counter", counter))
    return fail(err);
  if (auto agent = cluster::start_agent(n); !agent) // joins the seeds, or forms a cluster
    return fail(agent.error());
  ring::supervisor_spec spec;
  spec.name = "counters";
  auto counters = ring::start_supervisor(n, spec); // the same on every node
  if (!counters)
    return fail(counters.error());
  if (auto where = counters->start_child("c42", "counter"); !where)
    return fail(where.error());
  for (int i = 0; i < 3; ++i) {
    auto count = counters->call<int64_t>("c42", inc_atom::value); // wherever c42 runs
    if (!count)
      return fail(count.error());
    std::cout << "count " << *count << '\n';
  }
  n.shutdown();
}
// [example]
