// The ring supervisor's child list: last-writer-wins records with
// tombstones, and the digests that tell nodes which ranges differ.

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>

#include "child_list.hpp"
#include "ringvisor/ring/info.hpp"

using namespace ringvisor::ring;
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

using ringvisor::cluster::hash_ring;

// Returns an id that `member` owns on `xs`'s ring.
std::string owned_by(const child_list& xs, const std::string& member) {
  for (int i = 0;; ++i) {
    auto id = "c" + std::to_string(i);
    if (xs.owned_by(id, member))
      return id;
  }
}


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
  CHECK(xs.digest() == ys.digest());
}

TEST_CASE("digests tell equal lists from different ones, per range") {
  child_list xs;
  child_list ys;
  xs.place_on(hash_ring{{"n1", "n2", "n3", "n4"}});
  ys.place_on(hash_ring{{"n1", "n2", "n3", "n4"}});
  auto a = owned_by(xs, "n1");
  auto b = owned_by(xs, "n2");
  for (auto& id : {a, b}) {
    xs.apply(record(id, 1));
    ys.apply(record(id, 1));
  }
  CHECK(xs.digest() == ys.digest());
  ys.apply(record(b, 2, true));
  CHECK(xs.digest() != ys.digest());
  CHECK(ys.differing(xs.digests("n1")).empty());
  auto theirs = xs.digests("n2");
  auto differ = ys.differing(theirs);
  REQUIRE(differ.size() == 1);
  REQUIRE(ys.select(differ).size() == 1);
  // merging the range that differs makes the lists equal
  for (auto& r : ys.select(differ))
    xs.apply(r);
  CHECK(xs.digest() == ys.digest());
  CHECK(ys.differing(xs.digests("n2")).empty());
  CHECK(xs.digests("stranger").empty());
  CHECK(xs.select(std::vector<uint32_t>{}).empty());
}

TEST_CASE("the ranges two members share are those whose lists hold both") {
  hash_ring ring{{"n1", "n2", "n3", "n4", "n5"}};
  child_list xs{"", 3};
  xs.place_on(ring);
  for (int i = 0; i < 2000; ++i)
    xs.apply(record("c" + std::to_string(i), 1));
  // n1's ranges with n2 hold exactly the records whose lists hold both
  auto shared = xs.select(xs.differing([&] {
    auto ds = xs.shared_digests("n1", "n2");
    for (auto& d : ds)
      d.digest ^= 1; // make every one differ
    return ds;
  }()));
  size_t expected = 0;
  for (int i = 0; i < 2000; ++i) {
    auto list = xs.replicas_of("c" + std::to_string(i));
    REQUIRE(list.size() == 3);
    auto has = [&](std::string_view m) { return std::find(list.begin(), list.end(), m) != list.end(); };
    expected += has("n1") && has("n2");
  }
  CHECK(shared.size() == expected);
  CHECK(expected > 400); // about 3/10 of them
  // a node that learns what it keeps asks each range of one member, its
  // owner: its own ranges, and those of the others, cover what it keeps
  std::set<uint32_t> asked;
  size_t asked_twice = 0;
  auto ask = [&](const std::vector<range_digest>& ds) {
    for (auto& d : ds)
      asked_twice += !asked.insert(d.range).second;
  };
  ask(xs.digests("n1"));
  for (auto n : {"n2", "n3", "n4", "n5"})
    ask(xs.learn_digests("n1", n));
  CHECK(asked_twice == 0);
  size_t kept = 0;
  for (auto& d : xs.shared_digests("n1", "n1"))
    kept += asked.count(d.range);
  CHECK(kept == asked.size());
  CHECK(xs.shared_digests("n1", "n1").size() == asked.size());
  // ranges are numbered alike on every node with the same ring
  child_list ys{"", 3};
  ys.place_on(hash_ring{{"n5", "n4", "n3", "n2", "n1"}});
  for (int i = 1999; i >= 0; --i)
    ys.apply(record("c" + std::to_string(i), 1));
  CHECK(ys.differing(xs.digests("n3")).empty());
  CHECK(ys.differing(xs.shared_digests("n3", "n4")).empty());
}

TEST_CASE("after a ring change, records go to the members new to their lists and leave the others") {
  std::vector<std::string> ids;
  for (int i = 0; i < 600; ++i)
    ids.push_back("c" + std::to_string(i));
  // three nodes, three replicas: every node keeps every record
  std::map<std::string, child_list> nodes;
  for (auto n : {"n1", "n2", "n3"}) {
    auto& xs = nodes.emplace(n, child_list{"", 3}).first->second;
    xs.place_on(hash_ring{{"n1", "n2", "n3"}});
    for (auto& id : ids)
      xs.apply(record(id, 1));
    xs.settle(n, {});
  }
  // n4 joins: each record whose list now holds n4 goes to it from the first
  // old replica still on the ring, and from the replica it replaced, which
  // sends it to the whole list and forgets it later
  auto ring = hash_ring{{"n1", "n2", "n3", "n4"}};
  nodes.emplace("n4", child_list{"", 3}).first->second.place_on(ring);
  std::map<std::string, size_t> received; // by n4
  std::map<std::string, size_t> sent;     // to anyone
  for (auto n : {"n1", "n2", "n3"}) {
    auto& xs = nodes.at(n);
    xs.place_on(ring);
    auto out = xs.settle(n, {});
    for (auto& [member, recs] : out)
      for (auto& r : recs) {
        ++sent[r.spec.id];
        received[r.spec.id] += member == "n4";
        nodes.at(member).apply(r);
      }
    CHECK(xs.forget_left(n, [](const std::string& id) { return id == "c0"; }) > 0);
  }
  for (auto& id : ids) {
    auto list = nodes.at("n1").replicas_of(id);
    auto on_n4 = std::find(list.begin(), list.end(), "n4") != list.end();
    CHECK(received[id] == (on_n4 ? 2u : 0u));
    CHECK(sent[id] == (on_n4 ? 4u : 0u));
    if (id == "c0")
      continue; // runs on the node that left its list: kept there
    for (auto& node : nodes) { // no structured binding: CHECK_MESSAGE captures it
      auto keeps = std::find(list.begin(), list.end(), node.first) != list.end();
      CHECK_MESSAGE((node.second.find(id) != nullptr) == keeps, node.first << " and " << id);
    }
  }
  size_t held = 0;
  for (auto& [n, xs] : nodes)
    held += xs.size();
  // three copies, not four (c0 runs where it is no longer kept)
  CHECK(held == 3 * ids.size() + (received["c0"] > 0 ? 1 : 0));
  // a member that restarted (and lost its records) gets them all again
  auto& n2 = nodes.at("n2");
  nodes.insert_or_assign("n3", child_list{"", 3});
  nodes.at("n3").place_on(ring);
  size_t resent = 0;
  for (auto n : {"n1", "n2", "n4"}) {
    auto out = nodes.at(n).settle(n, {"n3"});
    for (auto& [member, recs] : out) {
      CHECK(member == "n3");
      for (auto& r : recs)
        resent += nodes.at("n3").apply(r) == child_list::change::added;
    }
  }
  size_t n3_keeps = 0;
  for (auto& id : ids) {
    auto list = n2.replicas_of(id);
    n3_keeps += std::find(list.begin(), list.end(), "n3") != list.end();
  }
  CHECK(resent == n3_keeps);
  CHECK(nodes.at("n3").size() == n3_keeps);
}

TEST_CASE("records read from a store go to their replicas from whoever holds them") {
  hash_ring ring{{"n1", "n2", "n3", "n4", "n5"}};
  child_list xs{"", 3};
  xs.place_on(ring);
  for (int i = 0; i < 100; ++i)
    xs.load(record("c" + std::to_string(i), 0));
  // n1 read them: it sends each one to its list, and forgets those it does
  // not keep, but a child that runs here stays
  auto out = xs.settle("n1", {});
  xs.forget_left("n1", [](const std::string& id) { return id == "c0"; });
  size_t sent = 0;
  for (auto& [member, recs] : out)
    sent += recs.size();
  size_t expected = 0;
  size_t kept = 0;
  for (int i = 0; i < 100; ++i) {
    auto id = "c" + std::to_string(i);
    auto list = xs.replicas_of(id);
    auto on_n1 = std::find(list.begin(), list.end(), "n1") != list.end();
    expected += on_n1 ? 2 : 3;
    kept += on_n1 || id == "c0";
  }
  CHECK(sent == expected);
  CHECK(xs.size() == kept);
  // once settled, they are not sent again
  xs.place_on(hash_ring{{"n1", "n2", "n3", "n4", "n5", "n6"}});
  xs.place_on(ring);
  CHECK(xs.settle("n1", {}).empty());
}

TEST_CASE("owners come from the hash of the ring key, listed or not") {
  child_list xs{"sup/"};
  hash_ring ring{{"n1", "n2", "n3"}};
  CHECK(!xs.owner_of("a"));
  xs.apply(record("a", 1));
  xs.place_on(ring);
  CHECK(xs.key_hash("a") == hash_ring::hash("sup/a"));
  CHECK(xs.key_hash("a") == ring_point("sup", "a")); // the public name of the same point
  for (auto id : {"a", "b", "c", "d"}) // a is listed, the others are not
    CHECK(*xs.owner_of(id) == *ring.whois(std::string{"sup/"} + id));
}

namespace {

child_record pinned(const std::string& id, uint64_t version, std::string pin) {
  auto rec = record(id, version);
  rec.pin = std::move(pin);
  return rec;
}

// Copies of `xs`, which view into a ring that the next `place_on` replaces.
std::vector<std::string> names(const std::vector<std::string_view>& xs) {
  return {xs.begin(), xs.end()};
}

std::vector<std::string> owned_ids(const child_list& xs, const std::string& member) {
  std::vector<std::string> result;
  xs.for_each_alive_owned_by(member,
                             [&](const child_record& rec) { result.push_back(rec.spec.id); });
  std::sort(result.begin(), result.end());
  return result;
}

} // namespace

TEST_CASE("a pinned child is owned and kept by its pin while the pin is on the ring") {
  child_list xs{"sup/", 2};
  xs.place_on(hash_ring{{"n1", "n2", "n3", "n4"}});
  auto id = owned_by(xs, "n1");
  auto ring_list = names(xs.replicas_of(id));
  std::string pin;
  for (auto m : {"n2", "n3", "n4"})
    if (std::find(ring_list.begin(), ring_list.end(), m) == ring_list.end())
      pin = m; // a member outside its range
  REQUIRE(!pin.empty());
  xs.apply(record(id, 1));
  CHECK(owned_ids(xs, "n1") == std::vector<std::string>{id});
  CHECK(xs.pinned().empty());

  REQUIRE(xs.apply(pinned(id, 2, pin)) == change::updated);
  CHECK(*xs.owner_of(id) == pin);
  CHECK(xs.owned_by(id, pin));
  CHECK(owned_ids(xs, pin) == std::vector<std::string>{id});
  CHECK(owned_ids(xs, "n1").empty());
  CHECK(xs.pinned() == std::vector<std::string>{id});
  auto kept = xs.replicas_of(id);
  REQUIRE(kept.size() == 3);
  CHECK(kept[0] == pin); // the owner first, then the range
  CHECK(std::equal(ring_list.begin(), ring_list.end(), kept.begin() + 1));

  // The pin leaves the ring: the ring owner runs it, and the pin holds again
  // when it is back.
  std::vector<std::string> without;
  for (auto m : {"n1", "n2", "n3", "n4"})
    if (m != pin)
      without.emplace_back(m);
  xs.place_on(hash_ring{without});
  CHECK(xs.owned_by(id, "n1"));
  CHECK(xs.replicas_of(id).size() == 2);
  CHECK(xs.pinned().empty());
  xs.place_on(hash_ring{{"n1", "n2", "n3", "n4"}});
  CHECK(xs.owned_by(id, pin));

  // Unpinned, or deleted: back to its ring owner.
  REQUIRE(xs.apply(record(id, 3)) == change::updated);
  CHECK(xs.owned_by(id, "n1"));
  CHECK(names(xs.replicas_of(id)) == ring_list);
  xs.apply(pinned(id, 4, pin));
  REQUIRE(xs.apply(record(id, 5, false, true)) == change::removed);
  CHECK(xs.find(id)->pin.empty());
  CHECK(xs.owned_by(id, "n1"));
  CHECK(xs.pinned().empty());
}

TEST_CASE("a write names its replicas by the pin it carries, whatever the list holds") {
  child_list xs{"sup/", 2};
  xs.place_on(hash_ring{{"n1", "n2", "n3", "n4"}});
  auto id = owned_by(xs, "n1");
  xs.apply(pinned(id, 1, "n4"));
  auto range = xs.replicas_of(record(id, 2));
  REQUIRE(range.size() == 2);
  auto to = xs.replicas_of(pinned(id, 2, "n3"));
  CHECK(to.front() == "n3");
  for (auto m : range)
    CHECK(std::find(to.begin(), to.end(), m) != to.end());
  auto has = [](auto& list, std::string_view m) {
    return std::find(list.begin(), list.end(), m) != list.end();
  };
  CHECK(has(to, "n4") == has(range, "n4"));  // the older pin is not written to
  CHECK(xs.replicas_of(id).front() == "n4"); // the list holds the older pin
  CHECK(xs.replicas_of(pinned(id, 2, "gone")) == range);
}

TEST_CASE("a pin changes the record's digest, and ties go the same way everywhere") {
  child_list a{"sup/"};
  child_list b{"sup/"};
  a.apply(record("x", 7));
  b.apply(record("x", 7));
  REQUIRE(a.digest() == b.digest());
  b.apply(pinned("x", 8, "n2"));
  CHECK(a.digest() != b.digest());
  a.apply(pinned("x", 8, "n2"));
  CHECK(a.digest() == b.digest());
  // One version, two pins (two owners' clocks met): the greater pin wins on
  // both, whichever came first.
  a.apply(pinned("y", 9, "n1"));
  a.apply(pinned("y", 9, "n3"));
  b.apply(pinned("y", 9, "n3"));
  b.apply(pinned("y", 9, "n1"));
  CHECK(a.find("y")->pin == "n3");
  CHECK(b.find("y")->pin == "n3");
  CHECK(a.digest() == b.digest());
}

TEST_CASE("a record pinned here stays when it leaves the range's list") {
  child_list xs{"sup/", 1};
  xs.place_on(hash_ring{{"n1", "n2"}});
  auto id = owned_by(xs, "n1");
  xs.apply(pinned(id, 1, "n2"));
  xs.place_on(hash_ring{{"n1", "n2", "n3"}}); // the record keeps n2 as its pin
  xs.settle("n2", {});
  CHECK(xs.forget_left("n2", [](auto&) { return false; }) == 0);
  CHECK(xs.find(id) != nullptr);
}

TEST_CASE("range digests follow the ring, whatever came first") {
  auto ids = {"a", "b", "c", "d", "e", "f", "g", "h"};
  // placed first, then filled; filled first, then placed; placed twice
  child_list xs;
  xs.place_on(hash_ring{{"n1", "n2", "n3", "n4"}});
  child_list ys;
  child_list zs;
  zs.place_on(hash_ring{{"n1"}});
  for (auto id : ids) {
    xs.apply(record(id, 1));
    ys.apply(record(id, 1));
    zs.apply(record(id, 1));
  }
  ys.place_on(hash_ring{{"n1", "n2", "n3", "n4"}});
  zs.place_on(hash_ring{{"n1", "n2", "n3", "n4"}});
  for (auto n : {"n1", "n2", "n3", "n4"}) {
    CHECK(ys.differing(xs.digests(n)).empty());
    CHECK(zs.differing(xs.digests(n)).empty());
  }
  size_t owned = 0;
  for (auto n : {"n1", "n2", "n3", "n4"})
    xs.for_each_alive_owned_by(n, [&](const child_record& rec) {
      CHECK(xs.owned_by(rec.spec.id, n));
      ++owned;
    });
  CHECK(owned == ids.size());
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
  auto all = xs.select();
  CHECK(std::count_if(all.begin(), all.end(), [](auto& r) { return !r.deleted; }) == 1);
  // the digest forgets the expired tombstones
  child_list ys;
  ys.apply(record("a", 10));
  ys.apply(record("c", 40, false, true));
  CHECK(xs.digest() == ys.digest());
  // a tombstone replaced by a newer record no longer expires
  xs.apply(record("c", 50));
  xs.expire(1000);
  CHECK(xs.alive("c") != nullptr);
}

TEST_CASE("a record that differs costs a piece of its range, and answers are cut between pieces") {
  hash_ring ring{{"n1", "n2", "n3"}};
  child_list xs{"", 3};
  child_list ys{"", 3};
  xs.place_on(ring);
  ys.place_on(ring);
  for (int i = 0; i < 3200; ++i) {
    xs.apply(record("c" + std::to_string(i), 1));
    ys.apply(record("c" + std::to_string(i), 1));
  }
  ys.apply(record("c7", 2, true));
  auto owner = std::string{*xs.owner_of("c7")};
  auto differ = ys.differing(xs.digests(owner));
  REQUIRE(differ.size() == 1);
  auto sent = ys.select(differ);
  // a range holds about 3200 / 6 records here, a piece a sixteenth of it
  CHECK(sent.size() < 100);
  CHECK(std::any_of(sent.begin(), sent.end(), [](auto& r) { return r.spec.id == "c7"; }));
  // every piece of n1's ranges differs: an answer of at least 100 records
  // stops at the piece that reaches 100
  auto theirs = xs.digests("n1");
  for (auto& d : theirs)
    d.digest ^= 1;
  auto all = ys.differing(theirs);
  auto cut = all;
  auto first = ys.select(cut, 100);
  CHECK(cut.size() < all.size());
  CHECK(first.size() >= 100);
  CHECK(first.size() < 200);
  CHECK(ys.select(cut).size() == first.size());
}
