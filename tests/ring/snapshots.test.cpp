// Snapshot bookkeeping of the ring supervisor, as plain code: which copy of
// a child's state wins, and when interval snapshots are due.

#include <doctest/doctest.h>

#include "snapshots.hpp"

using namespace ringvisor;
using namespace ringvisor::ring;
using namespace std::chrono_literals;

namespace {

snapshot snap(uint64_t epoch, uint64_t seq, std::string text = "x") {
  snapshot result;
  result.epoch = epoch;
  result.seq = seq;
  result.has_state = true;
  result.state.assign(text.begin(), text.end());
  return result;
}

std::string text_of(const snapshot* x) {
  return x == nullptr ? "(none)" : std::string{x->state.begin(), x->state.end()};
}

} // namespace

TEST_CASE("a replica keeps the newest snapshot by epoch, then sequence") {
  snapshot_table t;
  CHECK(t.apply("a", snap(10, 1, "one")));
  CHECK(t.apply("a", snap(10, 2, "two")));
  CHECK(!t.apply("a", snap(10, 2, "again"))); // a duplicate changes nothing
  CHECK(!t.apply("a", snap(10, 1, "late")));  // reordered on the way
  CHECK(text_of(t.find("a")) == "two");
  CHECK(t.apply("a", snap(11, 0, "moved"))); // a new placement starts at 0
  CHECK(text_of(t.find("a")) == "moved");
  CHECK(t.state_bytes() == 5);
}

TEST_CASE("a stale owner's snapshot is ignored once its successor sent one") {
  snapshot_table t;
  t.apply("a", snap(10, 7, "old owner"));
  // The new owner started the child from that snapshot at epoch 20 and
  // sent the state it started with.
  CHECK(t.apply("a", snap(20, 0, "new owner")));
  // The old owner resumes after a pause and sends what its instance did.
  CHECK(!t.apply("a", snap(10, 8, "stale")));
  CHECK(!t.apply("a", snap(10, 1000, "stale")));
  CHECK(text_of(t.find("a")) == "new owner");
}

TEST_CASE("replicas drop what they no longer hold and count the bytes") {
  snapshot_table t;
  t.apply("a", snap(1, 1, "aa"));
  t.apply("b", snap(1, 1, "bbb"));
  t.apply("c", snap(1, 1, "c"));
  CHECK(t.state_bytes() == 6);
  CHECK(t.retain([](const std::string& id) { return id != "b"; }) == 1);
  CHECK(t.find("b") == nullptr);
  CHECK(t.state_bytes() == 3);
  t.erase("a");
  t.erase("nothing");
  CHECK(t.size() == 1);
  CHECK(t.state_bytes() == 1);
  auto picked = t.select({"a", "c", "z"});
  REQUIRE(picked.size() == 1);
  CHECK(picked[0].id == "c");
}

TEST_CASE("interval snapshots come due in time order, each once") {
  using clock = std::chrono::steady_clock;
  snapshot_clock sc;
  auto t0 = clock::time_point{} + 1h;
  sc.schedule("late", 1, t0 + 300ms);
  sc.schedule("early", 2, t0 + 100ms);
  sc.schedule("middle", 3, t0 + 200ms);
  CHECK(sc.next() == t0 + 100ms);
  std::vector<std::string> seen;
  auto record = [&](const std::string& id, uint64_t) { seen.push_back(id); };
  sc.pop_due(t0 + 50ms, record);
  CHECK(seen.empty());
  sc.pop_due(t0 + 200ms, record);
  CHECK(seen == std::vector<std::string>{"early", "middle"});
  sc.pop_due(t0 + 200ms, record);
  CHECK(seen.size() == 2);
  CHECK(sc.next() == t0 + 300ms);
  sc.pop_due(t0 + 1s, [&](const std::string& id, uint64_t gen) {
    CHECK(id == "late");
    CHECK(gen == 1);
  });
  CHECK(!sc.next());
}
