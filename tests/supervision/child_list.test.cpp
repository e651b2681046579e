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
  xs.place_on(hash_ring{{"n1", "n2"}});
  ys.place_on(hash_ring{{"n1", "n2"}});
  auto a = owned_by(xs, "n1");
  auto b = owned_by(xs, "n2");
  for (auto& id : {a, b}) {
    xs.apply(record(id, 1));
    ys.apply(record(id, 1));
  }
  CHECK(xs.digest() == ys.digest());
  ys.apply(record(b, 2, true));
  CHECK(xs.digest() != ys.digest());
  CHECK(xs.digest_of("n1") == ys.digest_of("n1"));
  CHECK(xs.digest_of("n2") != ys.digest_of("n2"));
  REQUIRE(ys.select("n2").size() == 1);
  // merging the range that differs makes the lists equal
  for (auto& r : ys.select("n2"))
    xs.apply(r);
  CHECK(xs.digest() == ys.digest());
  CHECK(xs.digest_of("n2") == ys.digest_of("n2"));
  CHECK(child_list{}.digest() == 0);
  CHECK(xs.digest_of("stranger") == 0);
  CHECK(xs.select("stranger").empty());
}

TEST_CASE("owners come from the hash of the ring key, listed or not") {
  child_list xs{"sup/"};
  hash_ring ring{{"n1", "n2", "n3"}};
  CHECK(!xs.owner_of("a"));
  xs.apply(record("a", 1));
  xs.place_on(ring);
  CHECK(xs.key_hash("a") == hash_ring::hash("sup/a"));
  for (auto id : {"a", "b", "c", "d"}) // a is listed, the others are not
    CHECK(*xs.owner_of(id) == *ring.whois(std::string{"sup/"} + id));
}

TEST_CASE("per-owner digests follow the ring, whatever came first") {
  auto ids = {"a", "b", "c", "d", "e", "f", "g", "h"};
  // placed first, then filled; filled first, then placed; placed twice
  child_list xs;
  xs.place_on(hash_ring{{"n1", "n2", "n3"}});
  child_list ys;
  child_list zs;
  zs.place_on(hash_ring{{"n1"}});
  for (auto id : ids) {
    xs.apply(record(id, 1));
    ys.apply(record(id, 1));
    zs.apply(record(id, 1));
  }
  CHECK(zs.digest_of("n1") == zs.digest());
  ys.place_on(hash_ring{{"n1", "n2", "n3"}});
  zs.place_on(hash_ring{{"n1", "n2", "n3"}});
  for (auto n : {"n1", "n2", "n3"}) {
    CHECK(xs.digest_of(n) == ys.digest_of(n));
    CHECK(xs.digest_of(n) == zs.digest_of(n));
  }
  CHECK((xs.digest_of("n1") ^ xs.digest_of("n2") ^ xs.digest_of("n3")) == xs.digest());
  size_t owned = 0;
  for (auto n : {"n1", "n2", "n3"})
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
  size_t alive = 0;
  xs.for_each_alive([&](const child_record&) { ++alive; });
  CHECK(alive == 1);
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
