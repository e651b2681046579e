// The replicated child store across nodes in this process, over real TCP.

#include <chrono>
#include <thread>

#include <caf/scoped_actor.hpp>
#include <doctest/doctest.h>

#include "cluster/cluster_fixture.hpp"
#include "ringvisor/ring/child_store.hpp"
#include "ringvisor/ring/types.hpp"
#include "ringvisor/supervision/errc.hpp"
#include "ringvisor/supervision/types.hpp"

using namespace ringvisor;
using namespace ringvisor::test;
using namespace ringvisor::ring;
using namespace ringvisor::supervision;
using namespace std::chrono_literals;

namespace {

/// A cluster node with a replica of the store "jobs".
struct store_node {
  test_node node;
  std::unique_ptr<child_store> store;

  store_node(const std::string& name, const strings& seeds)
    : node(name, seeds, 1, {}, {}, [](actor::node_config& cfg) { ring::add_types(cfg); }) {
    auto s = open_replicated_store(*node.node, {"jobs", {}, 5s});
    REQUIRE_MESSAGE(s, why(s));
    store = std::move(*s);
  }

  strings ids() {
    strings result;
    auto all = store->get_all();
    REQUIRE_MESSAGE(all, why(all));
    for (auto& spec : *all)
      result.push_back(spec.id);
    return result;
  }
};

child_spec job(const std::string& id) {
  child_spec spec;
  spec.id = id;
  spec.type = "importer";
  spec.args = caf::make_message(id + ".csv", int32_t{3});
  return spec;
}

/// Waits until `n` lists exactly `expected`.
void await_ids(store_node& n, const strings& expected) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  strings last;
  while (std::chrono::steady_clock::now() < deadline) {
    last = n.ids();
    if (last == expected)
      return;
    std::this_thread::sleep_for(10ms);
  }
  CHECK(last == expected);
}

/// Waits until every node sees all of `ns` up and reports the cluster up.
void await_cluster(std::vector<store_node*> ns) {
  strings names;
  for (auto* n : ns)
    names.push_back(n->node.node->identity().name);
  std::sort(names.begin(), names.end());
  for (auto* n : ns)
    await_view(n->node, names);
  for (auto* n : ns)
    await_status(n->node, cluster::cluster_status::up);
}

} // namespace

TEST_CASE("an add on one node is on every node when acknowledged, arguments included") {
  store_node a{"a", {}};
  store_node b{"b", {a.node.endpoint()}};
  store_node c{"c", {a.node.endpoint()}};
  await_cluster({&a, &b, &c});
  REQUIRE(!b.store->add(job("job-1")));
  // Acknowledged by a majority: a and c may still be applying it.
  for (auto* n : {&a, &b, &c})
    await_ids(*n, {"job-1"});
  auto all = c.store->get_all();
  REQUIRE(all);
  CHECK((*all)[0].args.get_as<std::string>(0) == "job-1.csv");
  CHECK(a.store->add(job("job-1")) == make_error(errc::already_present));
  REQUIRE(!c.store->del("job-1"));
  for (auto* n : {&a, &b, &c})
    await_ids(*n, {});
  CHECK(a.store->del("job-1") == make_error(errc::not_found));
}

TEST_CASE("concurrent adds and deletes on different nodes converge to one list") {
  store_node a{"a", {}};
  store_node b{"b", {a.node.endpoint()}};
  store_node c{"c", {a.node.endpoint()}};
  await_cluster({&a, &b, &c});
  REQUIRE(!a.store->add(job("shared")));
  for (auto* n : {&a, &b, &c})
    await_ids(*n, {"shared"});
  std::thread t1{[&] {
    for (int i = 0; i < 20; ++i)
      CHECK(!a.store->add(job("a-" + std::to_string(i))));
  }};
  std::thread t2{[&] {
    for (int i = 0; i < 20; ++i)
      CHECK(!b.store->add(job("b-" + std::to_string(i))));
    CHECK(!b.store->del("shared"));
  }};
  t1.join();
  t2.join();
  strings expected;
  for (auto prefix : {"a-", "b-"})
    for (int i = 0; i < 20; ++i)
      expected.push_back(prefix + std::to_string(i));
  std::sort(expected.begin(), expected.end());
  for (auto* n : {&a, &b, &c})
    await_ids(*n, expected);
}

TEST_CASE("the list survives a node's loss, and a node that comes back gets it") {
  store_node a{"a", {}};
  store_node b{"b", {a.node.endpoint()}};
  auto c = std::make_unique<store_node>("c", strings{a.node.endpoint()});
  await_cluster({&a, &b, c.get()});
  REQUIRE(!c->store->add(job("job-1")));
  REQUIRE(!a.store->add(job("job-2")));
  for (auto* n : {&a, &b, c.get()})
    await_ids(*n, {"job-1", "job-2"});
  c.reset(); // c leaves (the minority)
  await_view(a.node, {"a", "b"}, {}, {"c"});
  for (auto* n : {&a, &b})
    await_ids(*n, {"job-1", "job-2"});
  REQUIRE(!b.store->add(job("job-3"))); // 2 of 2 up members
  // A fresh c (new incarnation, empty replica) is sent the list.
  store_node c2{"c", {a.node.endpoint()}};
  await_ids(c2, {"job-1", "job-2", "job-3"});
}

TEST_CASE("without a majority an add is refused") {
  store_node a{"a", {}};
  store_node b{"b", {a.node.endpoint()}};
  await_cluster({&a, &b});
  // b's replica goes away while b stays a member: a alone is 1 of 2.
  caf::scoped_actor self{b.node.node->system()};
  caf::actor replica;
  self->request(b.node.node->directory(), 5s, caf::get_atom::value,
                std::string{"ringvisor.store.jobs"})
    .receive([&](caf::actor& x) { replica = x; }, [](caf::error& err) { FAIL(actor::render(err)); });
  self->monitor(replica);
  self->send_exit(replica, caf::exit_reason::kill);
  self->receive([](caf::down_msg&) {});
  // The directory forgets the name when it sees the same down.
  for (bool gone = false; !gone;)
    self->request(b.node.node->directory(), 5s, caf::get_atom::value,
                  std::string{"ringvisor.store.jobs"})
      .receive([](caf::actor&) {}, [&](caf::error&) { gone = true; });
  auto err = a.store->add(job("lonely"));
  CHECK(err == make_error(errc::store_failed));
  CHECK(actor::render(err).find("only 1 of 2 members stored it") != std::string::npos);
}
