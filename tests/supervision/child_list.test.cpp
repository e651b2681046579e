// The ring supervisor's child list: last-writer-wins records with
// tombstones, and the digests that tell nodes which ranges differ.

#include <doctest/doctest.h>

#include "child_list.hpp"

using namespace ringvisor::supervision;
using change = child_list::change;

namespace {

child_record record(const std::string& id, uint64_t version, bool terminated = false,
                    bool deleted = false) {
  child_spec spec;
  spec.id = id;
  spec.type = "counter";
  spec.args = caf::make_message(id);
  return child_record{spec, version, terminated, deleted};
}

auto all = [](uint64_t) { return true; };

} // namespace

TEST_CASE("a newer record wins and an older one changes nothing") {
  child_list xs;
  CHECK(xs.apply(record("a", 10)) == change::added);
  CHECK(xs.apply(record("a", 5, true)) == change::none);
  CHECK(!xs.alive("a")->terminated);
  CHECK(xs.apply(record("a", 11, true)) == change::updated);
  CHECK(xs.alive("a")->terminated);
  CHECK(xs.apply(record("a", 12)) == change::updated);
  CHECK(!xs.alive("a")->terminated);
}

TEST_CASE("a tombstone keeps a deleted child from coming back through an older record") {
  child_list xs;
  xs.apply(record("a", 10));
  CHECK(xs.apply(record("a", 20, false, true)) == change::removed);
  CHECK(xs.alive("a") == nullptr);
  REQUIRE(xs.find("a") != nullptr);
  CHECK(xs.find("a")->spec.args.empty()); // a tombstone keeps no arguments
  // a node that missed the delete still sends the old record
  CHECK(xs.apply(record("a", 10)) == change::none);
  CHECK(xs.alive("a") == nullptr);
  // a tombstone learned first keeps the child out too
  child_list ys;
  CHECK(ys.apply(record("b", 20, false, true)) == change::none);
  CHECK(ys.apply(record("b", 10)) == change::none);
  CHECK(ys.alive("b") == nullptr);
  // a child started again under the same id after the delete is new
  CHECK(xs.apply(record("a", 30)) == change::added);
  CHECK(xs.alive("a") != nullptr);
}

TEST_CASE("children from a store or the spec yield to every recorded change") {
  child_list xs;
  xs.apply(record("a", 0));
  CHECK(xs.apply(record("a", 1, true)) == change::updated);
  CHECK(xs.apply(record("a", 0)) == change::none);
  CHECK(xs.alive("a")->terminated);
}

TEST_CASE("records of one version agree on every node, whatever the order") {
  auto run = record("a", 7);
  auto term = record("a", 7, true);
  auto del = record("a", 7, false, true);
  child_list xs;
  child_list ys;
  for (auto& r : {run, term, del})
    xs.apply(r);
  for (auto& r : {del, term, run})
    ys.apply(r);
  CHECK(xs.alive("a") == nullptr);
  CHECK(ys.alive("a") == nullptr);
  CHECK(xs.digest(all) == ys.digest(all));
}

TEST_CASE("digests tell equal lists from different ones, per range") {
  child_list xs;
  child_list ys;
  for (auto id : {"a", "b", "c"}) {
    xs.apply(record(id, 1));
    ys.apply(record(id, 1));
  }
  CHECK(xs.digest(all) == ys.digest(all));
  ys.apply(record("b", 2, true));
  CHECK(xs.digest(all) != ys.digest(all));
  auto only_a = [&](uint64_t key) { return key == xs.key_hash("a"); };
  CHECK(xs.digest(only_a) == ys.digest(only_a));
  auto only_b = [&](uint64_t key) { return key == xs.key_hash("b"); };
  REQUIRE(ys.select(only_b).size() == 1);
  // merging the range that differs makes the lists equal
  for (auto& r : ys.select(only_b))
    xs.apply(r);
  CHECK(xs.digest(all) == ys.digest(all));
  CHECK(child_list{}.digest(all) == 0);
}

TEST_CASE("ranges are chosen by the hash of the ring key") {
  child_list xs{"sup/"};
  xs.apply(record("a", 1));
  CHECK(xs.key_hash("a") == ringvisor::cluster::hash_ring::hash("sup/a"));
  uint64_t seen = 0;
  xs.for_each_alive([&](const child_record&, uint64_t key) { seen = key; });
  CHECK(seen == xs.key_hash("a"));
}

TEST_CASE("tombstones expire, live records stay") {
  child_list xs;
  xs.apply(record("a", 10));
  xs.apply(record("b", 10));
  xs.apply(record("b", 20, false, true));
  xs.apply(record("c", 30));
  xs.apply(record("c", 40, false, true));
  xs.expire(25);
  CHECK(xs.size() == 2);
  CHECK(xs.find("b") == nullptr);
  CHECK(xs.find("c") != nullptr);
  CHECK(xs.alive("a") != nullptr);
  size_t alive = 0;
  xs.for_each_alive([&](const child_record&, uint64_t) { ++alive; });
  CHECK(alive == 1);
}
