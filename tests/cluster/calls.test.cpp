// Rings, whois, multicall, call and multicast across nodes in this process,
// over real TCP on loopback.

#include <algorithm>
#include <chrono>
#include <thread>

#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <doctest/doctest.h>

#include "cluster/cluster_fixture.hpp"
#include "ringvisor/actor/directory.hpp"
#include "ringvisor/actor/errc.hpp"
#include "ringvisor/cluster/calls.hpp"
#include "ringvisor/cluster/errc.hpp"

using namespace ringvisor;
using namespace ringvisor::test;
using namespace std::chrono_literals;

namespace {

using ask_atom = caf::atom_constant<caf::atom("ask")>;

/// Registers an actor under "echo" on `n` that answers `(ask, x)` with
/// `(node name, x)`.
void register_echo(test_node& n) {
  auto name = n.node->identity().name;
  auto echo = n.node->system().spawn([name](caf::event_based_actor*) -> caf::behavior {
    return {[name](ask_atom, int32_t x) { return caf::make_message(name, x); }};
  });
  n.node->adopt(echo);
  caf::scoped_actor self{n.node->system()};
  self->request(n.node->directory(), 5s, caf::put_atom::value, std::string{"echo"}, echo)
    .receive([](caf::ok_atom) {}, [](caf::error& err) { FAIL(actor::render(err)); });
}

std::string whois(test_node& n, const std::string& key, const std::string& group = "") {
  caf::scoped_actor self{n.node->system()};
  std::string result;
  self->request(n.agent, 5s, cluster::whois_atom::value, key, group)
    .receive([&](std::string& x) { result = std::move(x); },
             [&](caf::error& err) { result = actor::render(err); });
  return result;
}

} // namespace

TEST_CASE("multicall asks every member's named actor, and call asks one") {
  test_node a{"a", {}};
  test_node b{"b", {a.endpoint()}};
  test_node c{"c", {a.endpoint()}};
  for (auto* n : {&a, &b, &c})
    await_view(*n, {"a", "b", "c"});
  for (auto* n : {&a, &b, &c})
    await_status(*n, cluster::cluster_status::up); // linked to all
  register_echo(a);
  register_echo(b); // c has no echo
  auto& sys = b.node->system();
  // Under load a link may be down for a moment (the member is unreachable
  // then, and its reply says so): ask until every member was reached.
  auto reached_all = [](const std::vector<cluster::node_reply>& xs) {
    return std::none_of(xs.begin(), xs.end(), [](auto& r) {
      return r.error == cluster::make_error(cluster::errc::member_unreachable);
    });
  };
  auto replies = cluster::multicall(sys, b.agent, "echo",
                                    caf::make_message(ask_atom::value, int32_t{7}), 5s);
  for (auto deadline = std::chrono::steady_clock::now() + 5s;
       replies && !reached_all(*replies) && std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(20ms))
    replies = cluster::multicall(sys, b.agent, "echo",
                                 caf::make_message(ask_atom::value, int32_t{7}), 5s);
  REQUIRE(replies);
  REQUIRE(replies->size() == 3);
  for (size_t i = 0; i < 2; ++i) {
    auto& r = (*replies)[i];
    CAPTURE(r.node);
    CHECK_MESSAGE(!r.error, actor::render(r.error));
    REQUIRE(r.reply.match_elements<std::string, int32_t>());
    CHECK(r.reply.get_as<std::string>(0) == r.node);
    CHECK(r.reply.get_as<int32_t>(1) == 7);
  }
  CHECK((*replies)[2].node == "c");
  CHECK_MESSAGE(actor::render((*replies)[2].error).find("not_registered") != std::string::npos,
                actor::render((*replies)[2].error));
  auto one = cluster::call(sys, b.agent, "a", "echo",
                           caf::make_message(ask_atom::value, int32_t{1}), 5s);
  REQUIRE(one);
  CHECK(one->get_as<std::string>(0) == "a");
  auto stranger = cluster::call(sys, b.agent, "zed", "echo",
                                caf::make_message(ask_atom::value, int32_t{1}), 5s);
  REQUIRE(!stranger);
  CHECK(stranger.error() == cluster::make_error(cluster::errc::not_member));
}

TEST_CASE("a call in flight to a member that goes away fails at once, not at its timeout") {
  test_node a{"a", {}};
  auto b = std::make_unique<test_node>("b", strings{a.endpoint()});
  await_view(a, {"a", "b"});
  caf::scoped_actor self{a.node->system()};
  // On b, an actor that takes the call, tells us, and never answers.
  caf::actor tell = self;
  auto hang = b->node->system().spawn([tell](caf::event_based_actor* me) -> caf::behavior {
    return {[me, tell](ask_atom, int32_t) {
      me->send(tell, ask_atom::value);
      return me->make_response_promise(); // never delivered
    }};
  });
  b->node->adopt(hang);
  self->request(b->node->directory(), 5s, caf::put_atom::value, std::string{"hang"}, hang)
    .receive([](caf::ok_atom) {}, [](caf::error& err) { FAIL(actor::render(err)); });
  auto pending = self->request(a.agent, 30s, cluster::call_atom::value, std::string{"b"},
                               std::string{"hang"},
                               caf::make_message(ask_atom::value, int32_t{1}),
                               caf::timespan{20s});
  self->receive([](ask_atom) {}); // the call is at b now
  auto t0 = std::chrono::steady_clock::now();
  b.reset(); // b's node stops: its directory and links go away
  caf::error err;
  pending.receive([](caf::message&) { FAIL("b answered"); },
                  [&](caf::error& x) { err = std::move(x); });
  auto elapsed = std::chrono::steady_clock::now() - t0;
  MESSAGE("failed after " << std::chrono::duration<double>(elapsed).count() * 1000 << " ms: "
                          << actor::render(err));
  CHECK(err == cluster::make_error(cluster::errc::member_down));
  CHECK(elapsed < 5s);
}

TEST_CASE("whois agrees on every node, and a group has its own ring") {
  strings in_gpu{"--ringvisor.groups=[\"gpu\"]"};
  test_node a{"a", {}, 1, {}, in_gpu};
  test_node b{"b", {a.endpoint()}};
  test_node c{"c", {a.endpoint()}, 1, {}, in_gpu};
  for (auto* n : {&a, &b, &c})
    await_view(*n, {"a", "b", "c"});
  std::map<std::string, int> owners;
  for (int i = 0; i < 60; ++i) {
    auto key = "job/" + std::to_string(i);
    auto owner = whois(a, key);
    CHECK(whois(b, key) == owner);
    CHECK(whois(c, key) == owner);
    ++owners[owner];
  }
  CHECK(owners.size() == 3);
  caf::scoped_actor self{b.node->system()};
  self->request(b.agent, 5s, caf::get_atom::value, cluster::siblings_atom::value)
    .receive([](const strings& xs) { CHECK(xs == strings{"a", "c"}); },
             [](caf::error& err) { FAIL(actor::render(err)); });
  // Only a and c are in "gpu": its keys never land on b.
  std::map<std::string, int> gpu_owners;
  for (int i = 0; i < 60; ++i) {
    auto owner = whois(b, "job/" + std::to_string(i), "gpu");
    CHECK(whois(a, "job/" + std::to_string(i), "gpu") == owner);
    ++gpu_owners[owner];
  }
  CHECK(gpu_owners.size() == 2);
  CHECK(gpu_owners.count("b") == 0);
  CHECK(whois(a, "job/1", "nosuch").find("empty_ring") != std::string::npos);
}
