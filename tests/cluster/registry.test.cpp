// The global name registry across nodes in this process, over real TCP.

#include <chrono>
#include <memory>
#include <thread>

#include <caf/event_based_actor.hpp>
#include <doctest/doctest.h>

#include "cluster/cluster_fixture.hpp"
#include "ringvisor/actor/blocking.hpp"
#include "ringvisor/actor/errc.hpp"
#include "ringvisor/cluster/errc.hpp"
#include "ringvisor/cluster/registry.hpp"
#include "ringvisor/cluster/service_pool.hpp"

using namespace ringvisor;
using namespace ringvisor::test;
using namespace std::chrono_literals;

namespace {

/// A cluster node with its registry.
struct registry_node {
  test_node node;
  std::optional<cluster::name_registry> reg;

  registry_node(const std::string& name, const strings& seeds) : node(name, seeds) {
    auto r = cluster::name_registry::start(*node.node, node.agent);
    REQUIRE_MESSAGE(r, why(r));
    reg = std::move(*r);
  }

  caf::actor spawn_worker() {
    return node.node->system().spawn([](caf::event_based_actor*) -> caf::behavior {
      return {[](int32_t x) { return x; }};
    });
  }
};

void await_cluster(const std::vector<registry_node*>& nodes) {
  strings names;
  for (auto* n : nodes)
    names.push_back(n->node.node->identity().name);
  for (auto* n : nodes)
    await_view(n->node, names);
  for (auto* n : nodes)
    await_status(n->node, cluster::cluster_status::up);
}

/// Waits until `n` sees `name` held by `expected` (invalid: by nobody).
void await_holder(registry_node& n, const std::string& name, const caf::actor& expected) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (n.reg->whereis(name) != expected) {
    if (std::chrono::steady_clock::now() > deadline)
      FAIL(n.node.node->identity().name << " never saw the expected holder of " << name);
    std::this_thread::sleep_for(5ms);
  }
}

} // namespace

TEST_CASE("a name registered on one node is found on all, taken once, and dies with its actor") {
  registry_node a{"a", {}};
  registry_node b{"b", {a.node.endpoint()}};
  registry_node c{"c", {a.node.endpoint()}};
  await_cluster({&a, &b, &c});
  auto worker = a.spawn_worker();
  REQUIRE(!a.reg->register_name("importer", worker));
  CHECK(a.reg->whereis("importer") == worker); // at once on the node that registered it
  await_holder(b, "importer", worker);
  await_holder(c, "importer", worker);
  CHECK(!a.reg->register_name("importer", worker)); // the holder may repeat it
  auto rival = b.spawn_worker();
  CHECK(b.reg->register_name("importer", rival) == actor::errc::name_taken);
  auto listed = c.reg->names();
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].name == "importer");
  CHECK(listed[0].node == "a");

  // The message interface, for actors: the same rules, and `not_ready`
  // means ask again (the name's home may still be learning the names).
  auto ask = [&](const std::string& name) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    for (;;) {
      auto reply = actor::blocking_request<cluster::registered_name>(
        b.node.node->system(), b.reg->handle(), 5s, cluster::register_atom::value, name, rival);
      if (reply || reply.error() != cluster::errc::not_ready
          || std::chrono::steady_clock::now() > deadline)
        return reply;
      std::this_thread::sleep_for(20ms);
    }
  };
  auto twice = ask("importer");
  REQUIRE(!twice);
  CHECK(twice.error() == actor::errc::name_taken);
  auto exporter = ask("exporter");
  REQUIRE_MESSAGE(exporter, why(exporter));
  CHECK(exporter->name == "exporter");
  CHECK(exporter->node == "b");
  CHECK(exporter->epoch > 0);
  REQUIRE(!a.reg->unregister("exporter"));

  REQUIRE(!c.reg->unregister("importer")); // from any node
  for (auto* n : {&a, &b, &c})
    await_holder(*n, "importer", {});
  CHECK(c.reg->unregister("importer") == actor::errc::not_registered);

  REQUIRE(!b.reg->register_name("importer", rival));
  await_holder(a, "importer", rival);
  caf::anon_send_exit(rival, caf::exit_reason::kill);
  for (auto* n : {&a, &b, &c})
    await_holder(*n, "importer", {});
  caf::anon_send_exit(worker, caf::exit_reason::kill);
}

TEST_CASE("names die with their node, and a node that joins learns the names") {
  registry_node a{"a", {}};
  registry_node b{"b", {a.node.endpoint()}};
  auto c = std::make_unique<registry_node>("c", strings{a.node.endpoint()});
  await_cluster({&a, &b, c.get()});
  std::vector<caf::actor> workers; // a's; c's die with c
  for (int i = 0; i < 50; ++i) {
    auto& via = i % 2 == 0 ? a : *c;
    auto w = via.spawn_worker();
    via.node.node->adopt(w); // stopped when its node stops
    auto err = via.reg->register_name("job-" + std::to_string(i), w);
    REQUIRE_MESSAGE(!err, "job-" << i << ": " << actor::render(err));
    workers.push_back(i % 2 == 0 ? w : caf::actor{});
  }
  for (int i = 0; i < 50; i += 2)
    await_holder(b, "job-" + std::to_string(i), workers[static_cast<size_t>(i)]);
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (b.reg->names().size() < 50 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  REQUIRE(b.reg->names().size() == 50);
  c.reset(); // leaves: its actors and names go
  for (int i = 1; i < 50; i += 2)
    await_holder(b, "job-" + std::to_string(i), {});
  CHECK(b.reg->names().size() == 25);
  registry_node d{"d", {a.node.endpoint()}};
  for (auto* n : {&a, &b, &d})
    await_view(n->node, {"a", "b", "d"}, {}, {"c"});
  for (int i = 0; i < 50; i += 2)
    await_holder(d, "job-" + std::to_string(i), workers[static_cast<size_t>(i)]);
  CHECK(d.reg->names().size() == 25);
  workers.clear(); // a's are adopted: a stops them
}

TEST_CASE("a service pool's oldest member leads, and the next when it dies") {
  registry_node a{"a", {}};
  registry_node b{"b", {a.node.endpoint()}};
  registry_node c{"c", {a.node.endpoint()}};
  await_cluster({&a, &b, &c});
  auto named = [](registry_node& n) {
    auto name = n.node.node->identity().name;
    return n.node.node->system().spawn([name](caf::event_based_actor*) -> caf::behavior {
      return {[name](caf::get_atom) { return name; }};
    });
  };
  std::vector<caf::actor> services;
  std::vector<cluster::service_pool> pools;
  for (auto* n : {&a, &b, &c}) { // a joins first: the oldest
    services.push_back(named(*n));
    auto pool = cluster::service_pool::join(*n->node.node, *n->reg, "cache", services.back());
    REQUIRE_MESSAGE(pool, why(pool));
    pools.push_back(std::move(*pool));
  }
  auto& via_c = pools[2];
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (via_c.members().size() < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  REQUIRE(via_c.members().size() == 3);
  auto leader = via_c.leader_call(caf::make_message(caf::get_atom::value), 2s);
  REQUIRE_MESSAGE(leader, why(leader));
  CHECK(leader->get_as<std::string>(0) == "a");
  auto all = via_c.multi_call(caf::make_message(caf::get_atom::value), 2s);
  REQUIRE(all.size() == 3);
  for (size_t i = 0; i < 3; ++i)
    CHECK(all[i].reply.get_as<std::string>(0) == std::string(1, static_cast<char>('a' + i)));

  caf::anon_send_exit(services[0], caf::exit_reason::kill); // the leader dies
  deadline = std::chrono::steady_clock::now() + 5s;
  while (via_c.members().size() != 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  leader = via_c.leader_call(caf::make_message(caf::get_atom::value), 2s);
  REQUIRE_MESSAGE(leader, why(leader));
  CHECK(leader->get_as<std::string>(0) == "b");
  REQUIRE(!pools[1].leave());
  REQUIRE(!pools[2].leave());
  deadline = std::chrono::steady_clock::now() + 5s;
  while (!pools[0].members().empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  auto none = pools[0].leader_call(caf::make_message(caf::get_atom::value), 1s);
  REQUIRE(!none);
  CHECK(none.error() == cluster::errc::no_leader);
  for (auto& s : services)
    caf::anon_send_exit(s, caf::exit_reason::kill);
}
