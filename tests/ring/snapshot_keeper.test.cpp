// The snapshot keeper as plain code, on fake clocks and a recorded
// messaging side: policies and rounds, pacing, numbering, where snapshots
// go, and what a ring change moves and forgets.

#include <map>
#include <set>

#include <doctest/doctest.h>

#include "snapshot_keeper.hpp"

using namespace ringvisor;
using namespace ringvisor::ring;
using namespace std::chrono_literals;

namespace {

/// Records what the keeper asks of its manager; time moves by hand.
struct fake_io : snapshot_io {
  using time_point = std::chrono::steady_clock::time_point;

  std::set<std::pair<std::string, uint64_t>> running; // (id, gen) that may be asked
  std::vector<std::pair<std::string, uint64_t>> asked;
  std::map<std::string, std::vector<snapshot_entry>> sent;
  std::vector<size_t> message_sizes;
  std::vector<caf::timespan> armed;
  size_t flushes_wanted = 0;
  time_point t = time_point{} + 1h;
  uint64_t wall = 1'000'000;
  bool starting_children = false;

  bool busy() override {
    return starting_children;
  }

  bool may_ask(const std::string& id, uint64_t gen) override {
    return running.count({id, gen}) > 0;
  }
  void ask_state(const std::string& id, uint64_t gen) override {
    asked.emplace_back(id, gen);
  }
  void send_snapshots(const std::string& member, std::vector<snapshot_entry> xs) override {
    message_sizes.push_back(xs.size());
    auto& to = sent[member];
    to.insert(to.end(), xs.begin(), xs.end());
  }
  void arm_round(caf::timespan delay) override {
    armed.push_back(delay);
  }
  void flush_soon() override {
    ++flushes_wanted;
  }
  time_point now() override {
    return t;
  }
  uint64_t wall_us() override {
    return wall;
  }
};

actor::bytes text(const std::string& x) {
  return actor::bytes{x.begin(), x.end()};
}

std::string text_of(const snapshot* x) {
  return x == nullptr ? "(none)" : std::string{x->state.begin(), x->state.end()};
}

struct fixture {
  fake_io io;
  snapshot_limits limits;
  std::unique_ptr<snapshot_keeper> keeper;

  explicit fixture(std::vector<std::string> members = {"a", "b", "c"}, size_t max_asks = 128) {
    limits.max_asks = max_asks;
    keeper = std::make_unique<snapshot_keeper>(
      "a", io, [](const std::string& id) { return cluster::hash_ring::hash("sup/" + id); },
      limits);
    keeper->place_on(cluster::hash_ring{std::move(members)});
  }

  /// The version of the children's records.
  uint64_t record = 1;

  /// Starts `id` (gen, epoch) here with `policy` and lets it be asked.
  void start(const std::string& id, uint64_t gen, uint64_t epoch, snapshot_policy policy,
             std::optional<std::string> state = std::nullopt) {
    io.running.emplace(id, gen);
    keeper->started(id, gen, record, epoch, policy, state.has_value(),
                    state ? text(*state) : actor::bytes{});
  }

  /// Answers every state request with `state`.
  void answer_all(const std::string& state, bool lease = true) {
    auto asked = std::move(io.asked);
    io.asked.clear();
    for (auto& [id, gen] : asked) {
      auto buf = text(state);
      keeper->answered(id, gen, &buf, lease);
    }
  }

  /// The snapshots of `id` sent to `member` so far.
  std::vector<snapshot> sent_to(const std::string& member, const std::string& id) {
    std::vector<snapshot> result;
    for (auto& x : io.sent[member])
      if (x.id == id)
        result.push_back(x.snap);
    return result;
  }
};

} // namespace

TEST_CASE("a child that starts with state sends it to its replicas at sequence 0") {
  fixture f;
  f.start("x", 1, 100, snapshot_policy::every(1s), "handed over");
  CHECK(f.io.flushes_wanted == 1);
  f.keeper->flush();
  CHECK(text_of(f.keeper->table().find("x")) == "handed over");
  for (std::string member : {"b", "c"}) {
    auto got = f.sent_to(member, "x");
    REQUIRE(got.size() == 1);
    CHECK(got[0].epoch == 100);
    CHECK(got[0].seq == 0);
    CHECK(got[0].taken_us == f.io.wall);
  }
  CHECK(f.io.sent.count("a") == 0); // not to itself
  // On request only, nothing goes anywhere until the child asks, not even
  // the state it was handed.
  f.start("y", 2, 100, snapshot_policy::on_request(), "handed over");
  f.keeper->flush();
  CHECK(f.keeper->table().find("y") == nullptr);
  // A child whose policy is off takes no checkpoint either.
  f.start("z", 3, 100, snapshot_policy::off());
  f.keeper->checkpoint("z", 3, 1, 100, snapshot_policy::off(), text("ignored"));
  CHECK(f.keeper->table().find("z") == nullptr);
  // On request: the first checkpoint, at sequence 0 of its placement.
  f.keeper->checkpoint("y", 2, 1, 100, snapshot_policy::on_request(), text("asked"));
  CHECK(f.keeper->table().find("y")->seq == 0);
  f.keeper->checkpoint("y", 2, 1, 100, snapshot_policy::on_request(), text("asked again"));
  CHECK(f.keeper->table().find("y")->seq == 1);
}

TEST_CASE("interval snapshots come in rounds, each child once per interval") {
  fixture f;
  for (int i = 0; i < 50; ++i)
    f.start("c" + std::to_string(i), static_cast<uint64_t>(i + 1), 7,
            snapshot_policy::every(1s));
  // The starting state (none) is recorded at sequence 0 for each.
  CHECK(f.keeper->taken() == 50);
  // A round is armed no sooner than a tenth of the interval from now.
  REQUIRE(!f.io.armed.empty());
  CHECK(f.io.armed.front() >= 100ms);
  // Over two seconds of rounds every 100 ms, each child is asked twice
  // (its first snapshot comes within the first interval).
  std::map<std::string, int> asks;
  for (int r = 0; r < 20; ++r) {
    f.io.t += 100ms;
    f.keeper->round();
    for (auto& [id, gen] : f.io.asked)
      ++asks[id];
    f.answer_all("state");
  }
  CHECK(asks.size() == 50);
  for (auto& [id, n] : asks)
    CHECK_MESSAGE((n == 2 || n == 3), id << " asked " << n << " times in two intervals");
  // Numbered in its placement: 0 at the start, then 1, 2, ...
  auto got = f.sent_to("b", "c7");
  for (size_t i = 0; i < got.size(); ++i)
    CHECK(got[i].seq == i);
}

TEST_CASE("while the node is busy starting children, interval snapshots wait, the others do not") {
  fixture f;
  f.start("every", 1, 7, snapshot_policy::every(1s));
  f.start("calls", 2, 7, snapshot_policy::after_each_call());
  f.io.starting_children = true;
  for (int r = 0; r < 12; ++r) { // more than an interval
    f.io.t += 100ms;
    f.keeper->round();
  }
  CHECK(f.io.asked.empty()); // skipped, not queued
  f.keeper->called("calls");
  REQUIRE(f.io.asked.size() == 1); // a call's snapshot is not an interval's
  CHECK(f.io.asked[0].first == "calls");
  f.answer_all("s");
  // Once the starts are done, the next interval takes one again.
  f.io.starting_children = false;
  for (int r = 0; r < 12; ++r) {
    f.io.t += 100ms;
    f.keeper->round();
  }
  REQUIRE(f.io.asked.size() == 1);
  CHECK(f.io.asked[0].first == "every");
}

TEST_CASE("an interval snapshot waiting in line when the node gets busy is skipped") {
  fixture f{{"a", "b", "c"}, 1};
  f.start("x", 1, 7, snapshot_policy::every(1s));
  f.start("y", 2, 7, snapshot_policy::every(1s));
  for (int r = 0; r < 12 && f.io.asked.empty(); ++r) {
    f.io.t += 100ms;
    f.keeper->round();
  }
  REQUIRE(f.io.asked.size() == 1);
  for (int r = 0; r < 12 && f.keeper->asks() == 1 && f.io.asked.size() == 1; ++r) {
    f.io.t += 100ms;
    f.keeper->round(); // the other one comes due and waits in line
  }
  f.io.starting_children = true;
  f.answer_all("s");
  CHECK(f.io.asked.empty());
  CHECK(f.keeper->asks() == 0);
}

TEST_CASE("at most max_asks state requests are out, the others wait in line") {
  fixture f{{"a", "b", "c"}, 2};
  for (int i = 0; i < 5; ++i)
    f.start("c" + std::to_string(i), static_cast<uint64_t>(i + 1), 7,
            snapshot_policy::after_each_call());
  for (int i = 0; i < 5; ++i)
    f.keeper->called("c" + std::to_string(i));
  CHECK(f.io.asked.size() == 2);
  CHECK(f.keeper->asks() == 2);
  // Each answer lets the next in line go.
  auto first = f.io.asked.front();
  f.io.asked.erase(f.io.asked.begin());
  auto buf = text("s");
  f.keeper->answered(first.first, first.second, &buf, true);
  CHECK(f.io.asked.size() == 2);
  f.answer_all("s");
  f.answer_all("s");
  CHECK(f.io.asked.empty());
  CHECK(f.keeper->asks() == 0);
  for (int i = 0; i < 5; ++i)
    CHECK(text_of(f.keeper->table().find("c" + std::to_string(i))) == "s");
}

TEST_CASE("calls while a state request is out make one more snapshot, not one each") {
  fixture f;
  f.start("x", 1, 7, snapshot_policy::after_each_call());
  f.keeper->called("x");
  f.keeper->called("x");
  f.keeper->called("x");
  REQUIRE(f.io.asked.size() == 1);
  f.answer_all("after call 1");
  REQUIRE(f.io.asked.size() == 1); // one more, for calls 2 and 3
  f.answer_all("after call 3");
  CHECK(f.io.asked.empty());
  CHECK(text_of(f.keeper->table().find("x")) == "after call 3");
}

TEST_CASE("an answer for a start that is over, or without the lease, keeps nothing") {
  fixture f;
  f.start("x", 1, 7, snapshot_policy::after_each_call());
  f.keeper->called("x");
  REQUIRE(f.io.asked.size() == 1);
  // The child restarted meanwhile (a new start, a new epoch).
  f.start("x", 2, 8, snapshot_policy::after_each_call());
  auto buf = text("old instance");
  f.io.asked.clear();
  f.keeper->answered("x", 1, &buf, true);
  auto held = f.keeper->table().find("x");
  CHECK(held->epoch == 8);
  CHECK(held->seq == 0); // the start's own, not the old instance's state
  CHECK(!held->has_state);
  CHECK(f.keeper->asks() == 0);
  // Without the lease the answer is dropped: the others may run it by now.
  f.keeper->called("x");
  f.answer_all("no lease", false);
  CHECK(f.keeper->table().find("x")->seq == 0);
  // A child that may not be asked (stopping, no lease) is not asked.
  f.io.running.clear();
  f.keeper->called("x");
  CHECK(f.io.asked.empty());
  CHECK(f.keeper->asks() == 0);
  // A checkpoint is numbered in its start's placement.
  f.keeper->checkpoint("x", 2, 1, 8, snapshot_policy::after_each_call(), text("fresh"));
  CHECK(text_of(f.keeper->table().find("x")) == "fresh");
  CHECK(f.keeper->table().find("x")->seq == 1);
}

TEST_CASE("a stopped child is neither asked nor scheduled") {
  fixture f;
  f.start("x", 1, 7, snapshot_policy::every(100ms));
  f.keeper->stopped("x");
  for (int r = 0; r < 5; ++r) {
    f.io.t += 100ms;
    f.keeper->round();
  }
  CHECK(f.io.asked.empty());
  f.keeper->called("x");
  CHECK(f.io.asked.empty());
}

TEST_CASE("snapshots travel in messages of at most per_message") {
  fixture f;
  for (int i = 0; i < 2500; ++i)
    f.start("c" + std::to_string(i), static_cast<uint64_t>(i + 1), 7,
            snapshot_policy::after_each_call(), "s");
  f.keeper->flush();
  // Both other replicas get all 2,500, in pieces of at most 1,000.
  CHECK(f.io.sent["b"].size() == 2500);
  CHECK(f.io.sent["c"].size() == 2500);
  CHECK(f.io.message_sizes == std::vector<size_t>{1000, 1000, 500, 1000, 1000, 500});
}

TEST_CASE("after a join, new replicas get the snapshots and a dropped replica forgets") {
  fixture f{{"a", "b", "c"}};
  // Children running here, and snapshots held for children running elsewhere.
  for (int i = 0; i < 200; ++i)
    f.start("mine" + std::to_string(i), static_cast<uint64_t>(i + 1), 7,
            snapshot_policy::after_each_call(), "m");
  std::vector<snapshot_entry> theirs;
  for (int i = 0; i < 200; ++i)
    theirs.push_back(snapshot_entry{"theirs" + std::to_string(i), snapshot{1, 5, 1, 0, true, text("t")}});
  f.keeper->received(theirs, [](const snapshot_entry&) { return true; });
  f.keeper->flush();
  f.keeper->settle(); // the ring it was placed on is settled
  f.io.sent.clear();
  // d joins: some lists now name d, and a drops out of some.
  cluster::hash_ring before_ring{{"a", "b", "c"}};
  cluster::hash_ring after{{"a", "b", "c", "d"}};
  f.keeper->place_on(after);
  f.keeper->settle();
  size_t to_d = f.io.sent["d"].size();
  // a sends what d lacks where it is the first of the old list (the others
  // send the rest), and what it no longer keeps to the whole new list.
  size_t expect_d = 0;
  size_t expect_b = 0;
  size_t expect_dropped = 0;
  auto has = [](auto& rs, std::string_view x) {
    return std::find(rs.begin(), rs.end(), x) != rs.end();
  };
  for (int i = 0; i < 200; ++i)
    for (auto id : {"mine" + std::to_string(i), "theirs" + std::to_string(i)}) {
      auto rs = f.keeper->replicas_of(id);
      auto old = before_ring.preference_list_hash(cluster::hash_ring::hash("sup/" + id), 3);
      auto leaves = !has(rs, "a"); // sent to the whole list
      expect_d += has(rs, "d") && (old.front() == "a" || leaves);
      expect_b += leaves && has(rs, "b");
      expect_dropped += leaves && id.rfind("theirs", 0) == 0; // its own children's stay
    }
  CHECK(to_d == expect_d);
  CHECK(to_d > 0);
  CHECK(f.io.sent["b"].size() == expect_b); // only what a leaves: b had the rest
  // What it no longer keeps is forgotten later, not at once.
  CHECK(f.keeper->table().size() == 400);
  CHECK(f.keeper->forget_left() == expect_dropped);
  CHECK(expect_dropped > 0);
  // Its own children's snapshots stay, whatever the lists say.
  for (int i = 0; i < 200; ++i)
    CHECK(f.keeper->table().find("mine" + std::to_string(i)) != nullptr);
}

TEST_CASE("a fetch keeps the newest copy of each child") {
  std::unordered_map<std::string, snapshot> best;
  std::vector<snapshot_entry> from_b{{"x", snapshot{1, 5, 3, 0, true, text("b")}},
                                     {"y", snapshot{1, 6, 0, 0, true, text("b")}}};
  std::vector<snapshot_entry> from_c{{"x", snapshot{1, 5, 4, 0, true, text("c")}},
                                     {"y", snapshot{1, 5, 9, 0, true, text("c")}}};
  keep_newest(best, from_b);
  keep_newest(best, from_c);
  CHECK(text_of(&best["x"]) == "c"); // a later sequence in the same placement
  CHECK(text_of(&best["y"]) == "b"); // a later placement beats any sequence
}

TEST_CASE("a child that stops gives its request's place back, and its late answer changes nothing") {
  fixture f{{"a", "b", "c"}, 1};
  f.start("x", 1, 7, snapshot_policy::after_each_call());
  f.start("y", 2, 7, snapshot_policy::after_each_call());
  f.keeper->called("x");
  f.keeper->called("y");
  REQUIRE(f.io.asked.size() == 1); // y waits in line
  // x moves away before it answers (its answer may never come).
  f.keeper->stopped("x");
  REQUIRE(f.io.asked.size() == 2);
  CHECK(f.io.asked[1].first == "y");
  CHECK(f.keeper->asks() == 1);
  auto late = text("late");
  f.keeper->answered("x", 1, &late, true);
  CHECK(f.keeper->asks() == 1); // y's request still counts
  CHECK(f.keeper->table().find("x")->seq == 0);
  auto mine = text("y state");
  f.keeper->answered("y", 2, &mine, true);
  CHECK(f.keeper->asks() == 0);
  CHECK(text_of(f.keeper->table().find("y")) == "y state");
}

TEST_CASE("after a join, checkpoints held only as a replica reach the new replica, also from the one it replaced") {
  // Three nodes run the same keeper logic on the same rings; each holds
  // the checkpoint of children it does not run (on request only).
  std::vector<std::string> names{"a", "b", "c"};
  std::map<std::string, std::unique_ptr<fixture>> nodes;
  std::vector<snapshot_entry> held;
  for (int i = 0; i < 300; ++i)
    held.push_back(snapshot_entry{"k" + std::to_string(i), snapshot{1, 5, 2, 0, true, text("cp")}});
  for (auto& n : names) {
    auto f = std::make_unique<fixture>(names);
    f->keeper = std::make_unique<snapshot_keeper>(
      n, f->io, [](const std::string& id) { return cluster::hash_ring::hash("sup/" + id); },
      f->limits);
    f->keeper->place_on(cluster::hash_ring{names});
    auto copy = held;
    f->keeper->received(copy, [](const snapshot_entry&) { return true; });
    f->keeper->settle(); // settled on a, b, c
    f->io.sent.clear();
    nodes[n] = std::move(f);
  }
  cluster::hash_ring after{{"a", "b", "c", "d"}};
  std::map<std::string, size_t> to_d; // child -> copies sent to d
  for (auto& [n, f] : nodes) {
    f->keeper->place_on(after);
    f->keeper->settle();
    for (auto& x : f->io.sent["d"])
      ++to_d[x.id];
  }
  size_t expect = 0;
  for (auto& x : held) {
    auto rs = nodes["a"]->keeper->replicas_of(x.id);
    if (std::find(rs.begin(), rs.end(), "d") != rs.end()) {
      ++expect;
      // from the first old replica, and from the one whose place d took
      CHECK_MESSAGE(to_d[x.id] == 2, x.id << " sent to d " << to_d[x.id] << " times");
    } else {
      CHECK(to_d.count(x.id) == 0);
    }
  }
  CHECK(to_d.size() == expect);
  // Every child still has a copy on each member of its new list, counting
  // what d receives.
  for (auto& x : held) {
    auto rs = nodes["a"]->keeper->replicas_of(x.id);
    for (auto r : rs)
      if (r != "d")
        CHECK(nodes[std::string{r}]->keeper->table().find(x.id) != nullptr);
  }
}

TEST_CASE("a member that restarted under its name gets its snapshots again") {
  fixture f{{"a", "b", "c"}};
  // A child whose list starts with a (a sends) or with b (the restarted
  // one: then the next old replica, a or c, sends).
  cluster::hash_ring ring{{"a", "b", "c"}};
  std::string first_a;
  std::string first_b;
  for (int i = 0; i < 100 && (first_a.empty() || first_b.empty()); ++i) {
    auto id = "x" + std::to_string(i);
    auto rs = ring.preference_list_hash(cluster::hash_ring::hash("sup/" + id), 3);
    if (rs.front() == "a" && first_a.empty())
      first_a = id;
    if (rs.front() == "b" && rs[1] == "a" && first_b.empty())
      first_b = id;
  }
  REQUIRE(!first_a.empty());
  REQUIRE(!first_b.empty());
  f.start(first_a, 1, 7, snapshot_policy::every(1s), "s");
  f.start(first_b, 2, 7, snapshot_policy::every(1s), "s");
  f.keeper->flush();
  f.keeper->settle();
  f.io.sent.clear();
  // b restarted: the ring's names are the same, b's copies are gone.
  f.keeper->settle({"b"});
  CHECK(f.sent_to("b", first_a).size() == 1);
  CHECK(f.sent_to("b", first_b).size() == 1); // a stands in for b
  CHECK(f.sent_to("c", first_a).empty());
  f.io.sent.clear();
  f.keeper->settle();
  CHECK(f.io.sent.empty()); // nothing changed since
}

TEST_CASE("a snapshot of an older record of the child restores nothing") {
  // Deleted at record version 5 and started again at 9 (a later epoch, as
  // epochs are hybrid logical clocks).
  snapshot before{5, 900, 50, 0, true, text("before the delete")};
  snapshot again{9, 1000, 0, 0, true, text("started again")};
  CHECK(newer(again, before));
  CHECK(!good_for(before, 9));
  CHECK(good_for(again, 9));
  // Read from a store after a full restart, the record has version 0.
  CHECK(good_for(before, 0));
}
