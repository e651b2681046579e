// Formation rules: when a node may count as a member of a cluster (and run
// anything), so that a node restarted while cut off never forms a second
// copy of its cluster (docs/cluster.md).

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <caf/scoped_actor.hpp>
#include <doctest/doctest.h>

#include "cluster/cluster_fixture.hpp"
#include "formation.hpp"
#include "membership_file.hpp"
#include "ringvisor/actor/blocking.hpp"
#include "ringvisor/cluster/lease.hpp"
#include "support/temp_dir.hpp"

using namespace ringvisor;
using namespace ringvisor::test;
using namespace std::chrono_literals;
using cluster::cluster_status;

namespace {

/// The option that gives node `name` its data directory under `dirs`.
std::string data_dir_arg(const temp_dir& dirs, const std::string& name) {
  return "--ringvisor.data-dir=" + dirs.file(name);
}

/// An endpoint on which nobody listens.
std::string nobody_there() {
  return "127.0.0.1:1";
}

cluster_status status_of(test_node& n) {
  auto x = actor::blocking_request<cluster_status>(n.node->system(), n.agent, 5s,
                                                   caf::get_atom::value,
                                                   cluster::status_atom::value);
  REQUIRE_MESSAGE(x, why(x));
  return *x;
}

// Asks the agent, and reads the node's lease clock: both must agree that a
// node that waits to form holds no lease.
bool lease_of(test_node& n) {
  auto x = actor::blocking_request<bool>(n.node->system(), n.agent, 5s, caf::get_atom::value,
                                         cluster::lease_atom::value);
  REQUIRE_MESSAGE(x, why(x));
  auto clock = cluster::lease_of(n.node->system());
  REQUIRE(clock);
  if (!*x)
    CHECK(!clock->held());
  return *x;
}

// Long enough for many connect retries (every 100 ms here) and heartbeats:
// what has not formed by then waits for something that does not come.
void let_it_try() {
  std::this_thread::sleep_for(1500ms);
}

} // namespace

TEST_CASE("a node with seeds that reaches none forms no cluster, until an operator says so") {
  test_node b{"b", {nobody_there()}};
  let_it_try();
  CHECK(status_of(b) == cluster_status::starting);
  CHECK(!lease_of(b));
  auto ok = actor::blocking_request<caf::ok_atom>(b.node->system(), b.agent, 5s,
                                                  cluster::form_atom::value);
  REQUIRE_MESSAGE(ok, why(ok));
  await_status(b, cluster_status::up);
}

TEST_CASE("ringvisor.form-alone lets a node with seeds form alone, as a node without seeds does") {
  test_node b{"b", {nobody_there()}, 1, {}, {"--ringvisor.form-alone"}};
  await_status(b, cluster_status::up);
  test_node a{"a", {}};
  await_status(a, cluster_status::up);
}

TEST_CASE("fresh nodes that list each other as seeds form once a majority of the seeds met") {
  // c lists a, b and itself; a and b list the three too: any two form.
  test_node a{"a", {nobody_there()}};
  let_it_try();
  CHECK(status_of(a) == cluster_status::starting);
  test_node b{"b", {a.endpoint(), nobody_there(), nobody_there() + "2"}};
  // b: 1 of 3 seeds is a, plus... b is not among its seeds: a alone is no majority
  let_it_try();
  CHECK(status_of(b) == cluster_status::starting);
  test_node c{"c", {a.endpoint(), b.endpoint()}};
  // c reaches both its seeds, neither a member yet: 2 of 2
  await_status(c, cluster_status::up);
  // and a and b join the cluster c formed
  await_status(a, cluster_status::up);
  await_status(b, cluster_status::up);
  await_view(a, {"a", "b", "c"});
}

namespace {

/// Three nodes a (no seeds), b and c (seeded with a), each with a data
/// directory, once they are up.
struct remembering_cluster {
  temp_dir dirs{"rv-formation"};
  std::unique_ptr<test_node> a;
  std::unique_ptr<test_node> b;
  std::unique_ptr<test_node> c;

  remembering_cluster() {
    a = start("a", {});
    b = start("b", {a->endpoint()});
    c = start("c", {a->endpoint()});
    for (auto* n : {a.get(), b.get(), c.get()})
      await_view(*n, {"a", "b", "c"});
    for (auto* n : {a.get(), b.get(), c.get()})
      await_status(*n, cluster_status::up);
  }

  std::unique_ptr<test_node> start(const std::string& name, const strings& seeds,
                                   strings args = {}) {
    args.push_back(data_dir_arg(dirs, name));
    return std::make_unique<test_node>(name, seeds, 1, nullptr, args);
  }
};

} // namespace

TEST_CASE_FIXTURE(remembering_cluster, "every member remembers the members of its cluster") {
  for (std::string name : {"a", "b", "c"}) {
    // written before the node says it is up, and again when the view grew
    auto remembered = cluster::detail::read_membership(dirs.file(name));
    for (auto deadline = std::chrono::steady_clock::now() + 5s;
         remembered && (!*remembered || (*remembered)->size() < 3)
         && std::chrono::steady_clock::now() < deadline;
         std::this_thread::sleep_for(10ms))
      remembered = cluster::detail::read_membership(dirs.file(name));
    REQUIRE_MESSAGE(remembered, why(remembered));
    REQUIRE(*remembered);
    REQUIRE((*remembered)->size() == 3);
    CHECK((*remembered)->at(0).name == "a");
    CHECK((*remembered)->at(2).endpoint == c->endpoint());
  }
}

TEST_CASE_FIXTURE(remembering_cluster, "a founder restarted without seeds finds the members it remembers") {
  a.reset();
  a = start("a", {});
  await_status(*a, cluster_status::up);
  await_view(*a, {"a", "b", "c"});
}

TEST_CASE_FIXTURE(remembering_cluster, "members that left in order are forgotten: the last one may start alone") {
  c.reset();
  b.reset();
  a.reset();
  a = start("a", {});
  await_status(*a, cluster_status::up);
}

TEST_CASE_FIXTURE(remembering_cluster, "after a crash of all, nodes form only with a majority of their last membership") {
  // A crash leaves the files as they were while all three ran; stopping in
  // order would shrink them, so put them back after the stop.
  std::map<std::string, cluster::detail::remembered_membership> files;
  for (std::string name : {"a", "b", "c"}) {
    for (auto deadline = std::chrono::steady_clock::now() + 5s;;
         std::this_thread::sleep_for(10ms)) {
      auto x = cluster::detail::read_membership(dirs.file(name));
      REQUIRE_MESSAGE(x, why(x));
      if ((*x && (*x)->size() == 3) || std::chrono::steady_clock::now() > deadline) {
        REQUIRE(*x);
        files[name] = **x;
        break;
      }
    }
  }
  c.reset();
  b.reset();
  a.reset();
  for (auto& [name, xs] : files)
    REQUIRE(!cluster::detail::write_membership(dirs.file(name), xs));
  // a comes back first, without seeds: once a founder, now one of three
  a = start("a", {});
  let_it_try();
  CHECK(status_of(*a) == cluster_status::starting);
  // c comes back cut off from the others, even allowed to form alone
  c = start("c", {nobody_there()}, {"--ringvisor.form-alone"});
  let_it_try();
  CHECK(status_of(*c) == cluster_status::starting);
  CHECK(!lease_of(*c));
  // b comes back with a as its seed: two of three form the cluster
  b = start("b", {a->endpoint()});
  await_status(*a, cluster_status::up);
  await_status(*b, cluster_status::up);
  await_view(*a, {"a", "b"});
  CHECK(status_of(*c) == cluster_status::starting);
  // c, given a seed of the new cluster, joins it
  c.reset();
  c = start("c", {b->endpoint()});
  await_status(*c, cluster_status::up);
  await_view(*a, {"a", "b", "c"});
}

TEST_CASE("an unreadable membership file stops the agent with a message naming it") {
  temp_dir dirs{"rv-formation"};
  std::filesystem::create_directories(dirs.file("a"));
  std::ofstream{cluster::detail::membership_path(dirs.file("a"))} << "something else\n";
  actor::node_config cfg;
  cluster::add_types(cfg);
  REQUIRE(!cfg.read(
    {"--ringvisor.name=a", "--ringvisor.log-level=off", data_dir_arg(dirs, "a")}, ""));
  auto n = actor::node::start(cfg);
  REQUIRE_MESSAGE(n, why(n));
  auto agent = cluster::start_agent(**n);
  REQUIRE(!agent);
  CHECK(actor::render(agent.error()).find(dirs.file("a") + "/membership:1") != std::string::npos);
  (*n)->shutdown();
}

// -- the rule as plain code ---------------------------------------------------

namespace {

using cluster::detail::formation_facts;
using cluster::detail::formation_peer;
using cluster::detail::formation_reason;

formation_facts node_c(strings seeds = {}) {
  formation_facts facts;
  facts.self_name = "c";
  facts.self_endpoint = "127.0.0.3:3";
  facts.seeded = !seeds.empty();
  facts.seeds = std::move(seeds);
  return facts;
}

formation_peer peer(const std::string& name, strings remembered = {}, bool member = false) {
  return {name, "127.0.0.1:" + name, member, std::move(remembered)};
}

} // namespace

TEST_CASE("formation rule: a first start forms without seeds, with form-alone, or with a majority of its seeds") {
  CHECK(formation_reason(node_c()));
  auto facts = node_c({"127.0.0.1:a", "127.0.0.1:b"});
  CHECK(!formation_reason(facts));
  facts.peers = {peer("a")};
  CHECK(!formation_reason(facts)); // 1 of 2 is no majority
  facts.peers = {peer("a"), peer("b")};
  CHECK(formation_reason(facts));
  facts = node_c({"127.0.0.1:a", "127.0.0.3:3", "127.0.0.1:b"});
  facts.peers = {peer("b")};
  CHECK(formation_reason(facts)); // itself and b: 2 of 3
  facts = node_c({"127.0.0.1:a"});
  facts.form_alone = true;
  CHECK(formation_reason(facts));
}

TEST_CASE("formation rule: a node that remembers a membership needs a majority of it, seeds or not") {
  auto facts = node_c();
  facts.remembered = {"a", "b", "c"};
  CHECK(!formation_reason(facts)); // no seeds does not mean a new cluster now
  facts.form_alone = true;
  CHECK(!formation_reason(facts)); // nor does form-alone
  facts.peers = {peer("b", {"a", "b", "c"})};
  CHECK(formation_reason(facts));
  facts.forced = true;
  facts.peers.clear();
  CHECK(formation_reason(facts)); // an operator's word
}

TEST_CASE("formation rule: the union of what the reachable nodes remember is judged, so an older memory cannot form a minority") {
  // c was down while d and e joined; b remembers all five. c and b alone are
  // a majority of c's memory but not of b's.
  auto facts = node_c();
  facts.remembered = {"a", "b", "c"};
  facts.peers = {peer("b", {"a", "b", "c", "d", "e"})};
  CHECK(!formation_reason(facts));
  facts.peers.push_back(peer("d", {"a", "b", "c", "d", "e"}));
  CHECK(formation_reason(facts)); // 3 of 5
  // a fresh node seeded with a restarted one counts the memory it hears of
  auto fresh = node_c({"127.0.0.1:b"});
  fresh.peers = {peer("b", {"a", "b", "d"})};
  CHECK(!formation_reason(fresh));
}

TEST_CASE("formation rule: whoever reaches a member of a formed cluster joins it") {
  auto facts = node_c({"127.0.0.1:x", "127.0.0.1:y", "127.0.0.1:z"});
  facts.remembered = {"a", "b", "c", "d", "e"};
  facts.peers = {peer("a", {}, true)};
  auto why = formation_reason(facts);
  REQUIRE(why);
  CHECK(why->find("linked to a") == 0);
}
