// Cluster agents of several nodes in one process, talking over real TCP on
// loopback with ephemeral ports.

#include <chrono>
#include <memory>

#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <doctest/doctest.h>

#include "ringvisor/actor/node.hpp"
#include "ringvisor/cluster/agent.hpp"
#include "support/printers.hpp"

using namespace ringvisor;
using strings = std::vector<std::string>;

namespace {

struct test_node {
  actor::node_config cfg;
  std::unique_ptr<actor::node> node;
  caf::actor agent;

  test_node(const std::string& name, const strings& seeds, size_t consensus = 1) {
    cluster::add_types(cfg);
    strings args{"--ringvisor.name=" + name, "--ringvisor.log-level=warn",
                 "--scheduler.max-threads=2",
                 "--ringvisor.consensus=" + std::to_string(consensus)};
    if (!seeds.empty()) {
      std::string list = "--ringvisor.seeds=[";
      for (auto& s : seeds)
        list += (list.back() == '[' ? "\"" : ",\"") + s + "\"";
      args.push_back(list + "]");
    }
    REQUIRE(!cfg.read(args, ""));
    auto n = actor::node::start(cfg);
    REQUIRE_MESSAGE(n, actor::render(n.error()));
    node = std::move(*n);
    agent = cluster::start_agent(*node, std::chrono::milliseconds{100});
  }

  std::string endpoint() const {
    return node->identity().endpoint();
  }
};

// Names of the members in `status`, from a view.
strings with_status(const std::vector<cluster::member>& view,
                    cluster::member_status status) {
  strings result;
  for (auto& m : view)
    if (m.status == status)
      result.push_back(m.name);
  return result;
}

// Waits until `n`'s agent sees exactly `up` up, `down` down and `removed`
// removed, or fails after `timeout`.
void await_view(test_node& n, const strings& up, const strings& down = {},
                const strings& removed = {},
                std::chrono::seconds timeout = std::chrono::seconds{10}) {
  caf::scoped_actor self{n.node->system()};
  self->send(n.agent, cluster::subscribe_atom::value, caf::actor{self});
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<cluster::member> last;
  while (std::chrono::steady_clock::now() < deadline) {
    bool timed_out = false;
    self->receive(
      [&](cluster::view_atom, std::vector<cluster::member>& view) {
        last = std::move(view);
      },
      [](cluster::status_atom, cluster::cluster_status, cluster::cluster_status,
         const std::vector<cluster::member>&) {},
      caf::after(deadline - std::chrono::steady_clock::now()) >>
        [&] { timed_out = true; });
    if (with_status(last, cluster::member_status::up) == up
        && with_status(last, cluster::member_status::down) == down
        && with_status(last, cluster::member_status::removed) == removed)
      return;
    if (timed_out)
      break;
  }
  CAPTURE(with_status(last, cluster::member_status::up));
  CAPTURE(with_status(last, cluster::member_status::down));
  CAPTURE(with_status(last, cluster::member_status::removed));
  FAIL("view of " << n.node->identity().name << " did not converge");
}

} // namespace

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
