// Cluster agents of several nodes in one process, talking over real TCP on
// loopback with ephemeral ports.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <thread>

#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <doctest/doctest.h>

#include "cluster/cluster_fixture.hpp"
#include "ringvisor/cluster/calls.hpp"
#include "ringvisor/cluster/lease.hpp"

using namespace ringvisor;
using namespace ringvisor::test;

namespace {

/// Occupies both scheduler threads of `n` (as a SIGSTOP would stop its
/// actors, while CAF's network thread goes on) until `release()` or the end
/// of the scope, also when a check fails: the node must be able to stop.
struct stuck_threads {
  std::promise<void> latch;
  std::shared_future<void> freed{latch.get_future()};
  std::shared_ptr<std::atomic<int>> blocked = std::make_shared<std::atomic<int>>(0);
  bool released = false;

  explicit stuck_threads(test_node& n) {
    for (int i = 0; i < 2; ++i)
      n.node->system().spawn([freed = freed, blocked = blocked] {
        ++*blocked;
        freed.wait();
      });
  }

  ~stuck_threads() {
    release();
  }

  void await_blocked() {
    while (*blocked < 2)
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }

  void release() {
    if (!released)
      latch.set_value();
    released = true;
  }
};

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

TEST_CASE("two nodes: the lower name survives the loss of the other, the higher one splits") {
  SUBCASE("b is lost: a downs it and stays up") {
    test_node a{"a", {}};
    test_node b{"b", {a.endpoint()}};
    await_view(a, {"a", "b"});
    caf::anon_send_exit(b.agent, caf::exit_reason::kill);
    await_view(a, {"a"}, {"b"});
    await_status(a, cluster::cluster_status::up);
  }
  SUBCASE("a is lost: b downs nobody and reports split") {
    test_node a{"a", {}};
    test_node b{"b", {a.endpoint()}};
    await_view(b, {"a", "b"});
    await_status(b, cluster::cluster_status::up);
    caf::anon_send_exit(a.agent, caf::exit_reason::kill);
    await_status(b, cluster::cluster_status::split);
    CHECK(with_status(view_of(b, b.endpoint()), cluster::member_status::down).empty());
  }
}

TEST_CASE("a user's cluster_valid replaces the strategy: split below three members") {
  auto three_or_split = [](const cluster::side& s) {
    return s.reachable_count() >= 3 ? cluster::verdict::yes : cluster::verdict::split;
  };
  test_node a{"a", {}, 1, three_or_split};
  test_node b{"b", {a.endpoint()}, 1, three_or_split};
  test_node c{"c", {a.endpoint()}, 1, three_or_split};
  for (auto* n : {&a, &b, &c})
    await_status(*n, cluster::cluster_status::up);
  caf::anon_send_exit(c.agent, caf::exit_reason::kill);
  // Keep-majority would down c; this rule calls it a split instead.
  for (auto* n : {&a, &b})
    await_status(*n, cluster::cluster_status::split);
  CHECK(with_status(view_of(a, a.endpoint()), cluster::member_status::up)
        == strings{"a", "b", "c"});
}

TEST_CASE("a second live node under a taken name is turned away and changes nothing") {
  test_node a{"a", {}};
  test_node b{"b", {a.endpoint()}};
  await_view(a, {"a", "b"});
  auto original = member_named(view_of(a, a.endpoint()), "b");
  test_node impostor{"b", {a.endpoint()}};
  // Give it several retries to push itself in.
  std::this_thread::sleep_for(std::chrono::milliseconds{500});
  auto now = member_named(view_of(a, a.endpoint()), "b");
  REQUIRE(now);
  CHECK(now->incarnation == original->incarnation);
  CHECK(now->endpoint == b.endpoint());
  // and, with seeds but no cluster that takes it in, it forms none of its own
  auto own = view_of(a, impostor.endpoint());
  CHECK(with_status(own, cluster::member_status::joining) == strings{"b"});
  CHECK(with_status(own, cluster::member_status::up).empty());
}

TEST_CASE("a seed given by host name joins through every address it resolves to") {
  test_node a{"a", {}};
  auto port = a.endpoint().substr(a.endpoint().rfind(':') + 1);
  test_node b{"b", {"localhost:" + port}}; // 127.0.0.1 (and ::1, where nobody listens)
  await_view(b, {"a", "b"});
  await_view(a, {"a", "b"});
}

TEST_CASE("a node whose actors are stuck is suspected by the agents' own heartbeat") {
  test_node a{"a", {}};
  test_node b{"b", {a.endpoint()}};
  await_view(a, {"a", "b"});
  auto before = member_named(view_of(a, a.endpoint()), "b");
  // Occupy both of b's scheduler threads until a has downed b: its agent
  // cannot run, while CAF's network thread keeps the link's heartbeats going.
  stuck_threads stuck{b};
  auto t0 = std::chrono::steady_clock::now();
  await_view(a, {"a"}, {"b"});
  MESSAGE("stuck node downed after "
          << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() * 1000
          << " ms"); // ~1.2 s on an idle machine
  // Once its threads are free, b refutes and comes back.
  stuck.release();
  await_view(a, {"a", "b"});
  CHECK(member_named(view_of(a, a.endpoint()), "b")->incarnation > before->incarnation);
}

TEST_CASE("a node's lease clock ends two heartbeats after its agent last ran, with no message") {
  test_node a{"a", {}};
  test_node b{"b", {a.endpoint()}};
  await_view(a, {"a", "b"});
  auto lease = cluster::lease_of(b.node->system());
  REQUIRE(lease);
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
       !lease->held() && std::chrono::steady_clock::now() < deadline;)
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  REQUIRE(lease->held());
  // As a SIGSTOP would: nothing of b runs, not even its agent, so the
  // clock must run out by itself.
  stuck_threads stuck{b};
  stuck.await_blocked();
  auto all_blocked = std::chrono::steady_clock::now();
  auto heartbeat = b.node->config().heartbeat_interval;
  CHECK(lease->until() <= all_blocked + 2 * heartbeat);
  while (lease->held())
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  CHECK(!lease->held());
  // Free again: b refutes its downing, or was never downed, and holds the
  // lease once it heard a majority on time.
  stuck.release();
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
       !lease->held() && std::chrono::steady_clock::now() < deadline;)
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  CHECK(lease->held());
}

TEST_CASE("every member's agent tells an operator its lease, its timer and its links") {
  test_node a{"a", {}};
  test_node b{"b", {a.endpoint()}};
  test_node c{"c", {a.endpoint()}};
  await_view(a, {"a", "b", "c"});
  caf::scoped_actor self{a.node->system()};
  // Every member's, through a's agent and the directories.
  auto healthy = [&](const cluster::node_health& h) {
    return h.lease && h.peers.size() == 2
           && std::all_of(h.peers.begin(), h.peers.end(), [](auto& p) {
                return p.linked && !p.unreachable && p.silence < std::chrono::seconds{1};
              });
  };
  std::map<std::string, cluster::node_health> all;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
       std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(std::chrono::milliseconds{20})) {
    auto replies =
      cluster::multicall(a.node->system(), a.agent, cluster::agent_directory_name,
                         caf::make_message(caf::get_atom::value, cluster::health_atom::value),
                         std::chrono::seconds{5});
    REQUIRE_MESSAGE(replies, why(replies));
    all.clear();
    for (auto& r : *replies)
      if (!r.error && r.reply.match_elements<cluster::node_health>())
        all[r.node] = r.reply.get_as<cluster::node_health>(0);
    if (all.size() == 3
        && std::all_of(all.begin(), all.end(), [&](auto& x) { return healthy(x.second); }))
      break;
  }
  REQUIRE(all.size() == 3);
  for (auto& node : all) { // no structured binding: CAPTURE captures it
    CAPTURE(node.first);
    auto& h = node.second;
    CHECK(healthy(h));
    CHECK(h.lease_left > caf::timespan{0});
    CHECK(h.lease_left <= 2 * a.node->config().heartbeat_interval);
  }
  // c's actors stop: a sees its pings stop while its link stays up.
  stuck_threads stuck{c};
  cluster::peer_health seen;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
       !seen.unreachable && std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(std::chrono::milliseconds{20}))
    self
      ->request(a.agent, std::chrono::seconds{5}, caf::get_atom::value, cluster::health_atom::value)
      .receive(
        [&](const cluster::node_health& h) {
          for (auto& p : h.peers)
            if (p.name == "c")
              seen = p;
        },
        [](caf::error& err) { FAIL(actor::render(err)); });
  CHECK(seen.unreachable);
  CHECK(seen.silence >= a.node->config().suspect_after - a.node->config().heartbeat_interval);
  CHECK(seen.phi >= 8); // the failure detector's threshold
}

TEST_CASE("a node without libcluster's types refuses to start its agent and names the type") {
  actor::node_config cfg; // registers libactor's types only
  REQUIRE(!cfg.read({"--ringvisor.name=x", "--ringvisor.log-level=off"}, ""));
  auto n = actor::node::start(cfg);
  REQUIRE_MESSAGE(n, why(n));
  auto agent = cluster::start_agent(**n);
  REQUIRE(!agent);
  auto text = actor::render(agent.error());
  CHECK_MESSAGE(text.find("type ringvisor::cluster::member is not registered") != std::string::npos,
                text);
  CHECK_MESSAGE(text.find("ringvisor::add_types") != std::string::npos, text);
  (*n)->shutdown();
}

TEST_CASE("a node without a cluster agent has no lease") {
  actor::node_config cfg;
  REQUIRE(!cfg.read({"--ringvisor.name=x", "--ringvisor.log-level=off"}, ""));
  auto n = actor::node::start(cfg);
  REQUIRE_MESSAGE(n, why(n));
  CHECK(cluster::lease_of((*n)->system()) == nullptr);
  (*n)->shutdown();
}

TEST_CASE("a side that lost members and split takes no newcomers until the heal") {
  test_node a{"a", {}};
  auto b = std::make_unique<test_node>("b", strings{a.endpoint()});
  await_view(*b, {"a", "b"});
  caf::anon_send_exit(a.agent, caf::exit_reason::kill); // b loses the lower name
  await_status(*b, cluster::cluster_status::split);
  // With a newcomer b would count 2 of 3 and down a: it must not let c in.
  test_node c{"c", {b->endpoint()}};
  std::this_thread::sleep_for(std::chrono::milliseconds{500}); // several retries
  CHECK(with_status(view_of(c, c.endpoint()), cluster::member_status::joining) == strings{"c"});
  CHECK(with_status(view_of(c, c.endpoint()), cluster::member_status::up).empty());
  CHECK(with_status(view_of(c, b->endpoint()), cluster::member_status::down).empty());
  await_status(*b, cluster::cluster_status::split);
}
