#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <caf/event_based_actor.hpp>

#include "support/printers.hpp"
#include "ringvisor/actor/factory_registry.hpp"
#include "ringvisor/actor/types.hpp"
#include "ringvisor/supervision/supervisor.hpp"
#include "ringvisor/supervision/types.hpp"
#include "support/test_system.hpp"

namespace ringvisor::test {

using crash_atom = caf::atom_constant<caf::atom("crash")>;
using finish_atom = caf::atom_constant<caf::atom("finish")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;
using pong_atom = caf::atom_constant<caf::atom("pong")>;

using namespace ringvisor::supervision;

/// A test system with child types that record "start X" and "stop X" in
/// `events`: `worker` (crashes on `crash`, exits normally on `finish`) and
/// `stubborn` (a worker that ignores exit requests, so only `kill` stops it).
struct supervision_fixture : test_system {
  std::shared_ptr<std::vector<std::string>> events
    = std::make_shared<std::vector<std::string>>();
  std::shared_ptr<actor::factory_registry> factories
    = std::make_shared<actor::factory_registry>();

  supervision_fixture() : test_system(actor::add_types, supervision::add_types) {
    auto ev = events;
    auto make_worker = [ev](bool stubborn) {
      return [ev, stubborn](caf::event_based_actor* self,
                            const std::string& name) -> caf::behavior {
        ev->push_back("start " + name);
        self->attach_functor(
          [ev, name](const caf::error&) { ev->push_back("stop " + name); });
        if (stubborn)
          self->set_exit_handler([](caf::exit_msg&) {});
        return {
          [](crash_atom) { throw std::runtime_error("boom"); },
          [self](finish_atom) { self->quit(); },
          [](ping_atom) { return pong_atom::value; },
        };
      };
    };
    REQUIRE(!factories->add<std::string>("worker", make_worker(false)));
    REQUIRE(!factories->add<std::string>("stubborn", make_worker(true)));
  }

  static child_spec worker(const std::string& id,
                           restart_type restart = restart_type::permanent,
                           const std::string& type = "worker") {
    child_spec result;
    result.id = id;
    result.type = type;
    result.args = caf::make_message(id);
    result.restart = restart;
    return result;
  }

  supervisor_spec make_spec(restart_strategy strategy,
                            std::vector<child_spec> children) {
    supervisor_spec result;
    result.name = "test";
    result.strategy = strategy;
    result.factories = factories;
    result.children = std::move(children);
    return result;
  }

  caf::actor spawn(supervisor_spec spec) {
    auto sup = spawn_supervisor(sys(), std::move(spec));
    REQUIRE_MESSAGE(sup, ringvisor::test::why(sup));
    run();
    return *sup;
  }

  /// Returns the running child `id` of `sup`, or an invalid handle.
  caf::actor child(const caf::actor& sup, const std::string& id) {
    auto children = request<std::vector<child_info>>(sup,
                                                     which_children_atom::value);
    REQUIRE(children);
    for (auto& c : *children)
      if (c.id == id)
        return c.handle;
    return nullptr;
  }

  void send(const caf::actor& dest, caf::atom_value what) {
    self()->send(dest, what);
    run();
  }

  /// Returns and clears the recorded events.
  std::vector<std::string> take_events() {
    auto result = std::move(*events);
    events->clear();
    return result;
  }
};

using strings = std::vector<std::string>;

} // namespace ringvisor::test
