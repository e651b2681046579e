// Cluster agents of several nodes in one process, talking over real TCP on
// loopback with ephemeral ports.

#include <chrono>
#include <memory>

#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <doctest/doctest.h>

#include "cluster/cluster_fixture.hpp"

using namespace ringvisor;
using namespace ringvisor::test;

TEST_CASE("three nodes joined in a chain of seeds form one full view") {
  test_node a{"a", {}};
  test_node b{"b", {a.endpoint()}};
  test_node c{"c", {b.endpoint()}}; // c learns of a only through b
  for (auto* n : {&a, &b, &c})
    await_view(*n, {"a", "b", "c"});
}

TEST_CASE("a node that stops in order leaves: removed, not down") {
  test_node a{"a", {}};
  test_node b{"b", {a.endpoint()}};
  auto c = std::make_unique<test_node>("c", strings{a.endpoint()});
  for (auto* n : {&a, &b, c.get()})
    await_view(*n, {"a", "b", "c"});
  c.reset(); // the node stops its agent, which says goodbye first
  for (auto* n : {&a, &b})
    await_view(*n, {"a", "b"}, {}, {"c"});
}

TEST_CASE("a member whose agent dies without a word is marked down by all others") {
  test_node a{"a", {}};
  test_node b{"b", {a.endpoint()}};
  test_node c{"c", {a.endpoint()}};
  for (auto* n : {&a, &b, &c})
    await_view(*n, {"a", "b", "c"});
  caf::anon_send_exit(c.agent, caf::exit_reason::kill); // no leave
  for (auto* n : {&a, &b})
    await_view(*n, {"a", "b"}, {"c"});
}

TEST_CASE("the cluster stays starting until consensus members are up") {
  test_node a{"a", {}, 2};
  caf::scoped_actor self{a.node->system()};
  auto status = [&] {
    cluster::cluster_status result = cluster::cluster_status::stopping;
    self->request(a.agent, std::chrono::seconds{5}, caf::get_atom::value,
                  cluster::status_atom::value)
      .receive([&](cluster::cluster_status x) { result = x; },
               [](caf::error& err) { FAIL(actor::render(err)); });
    return result;
  };
  CHECK(status() == cluster::cluster_status::starting);
  auto awaiting = self->request(a.agent, std::chrono::seconds{10},
                                cluster::await_up_atom::value);
  self->send(a.agent, cluster::subscribe_atom::value, caf::actor{self});
  test_node b{"b", {a.endpoint()}, 2};
  bool up = false;
  awaiting.receive([&](caf::ok_atom) { up = true; },
                   [](caf::error& err) { FAIL(actor::render(err)); });
  CHECK(up);
  CHECK(status() == cluster::cluster_status::up);
  // The listener saw the transition with the members that made it.
  bool saw_transition = false;
  for (int i = 0; i < 20 && !saw_transition; ++i)
    self->receive(
      [&](cluster::status_atom, cluster::cluster_status before,
          cluster::cluster_status now, const std::vector<cluster::member>& ms) {
        saw_transition = before == cluster::cluster_status::starting
                         && now == cluster::cluster_status::up
                         && with_status(ms, cluster::member_status::up)
                              == strings{"a", "b"};
      },
      [](cluster::view_atom, const std::vector<cluster::member>&) {},
      caf::after(std::chrono::seconds{5}) >> [] {});
  CHECK(saw_transition);
}

TEST_CASE("a node restarted under the same name replaces its old incarnation") {
  test_node a{"a", {}};
  auto b = std::make_unique<test_node>("b", strings{a.endpoint()});
  await_view(a, {"a", "b"});
  auto old_incarnation = b->node->identity().incarnation;
  caf::anon_send_exit(b->agent, caf::exit_reason::kill); // as if it crashed
  await_view(a, {"a"}, {"b"});
  b.reset();
  b = std::make_unique<test_node>("b", strings{a.endpoint()});
  CHECK(b->node->identity().incarnation > old_incarnation);
  await_view(a, {"a", "b"});
  await_view(*b, {"a", "b"});
}
