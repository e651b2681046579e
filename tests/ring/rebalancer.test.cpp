// The rebalancer as plain code: which children a node starts because
// nobody runs them, and from which snapshot. Peers' answers are given by
// the test, in any order, late or not at all.

#include <map>
#include <memory>
#include <set>

#include <doctest/doctest.h>

#include "rebalancer.hpp"
#include "unit_world.hpp"

using namespace ringvisor;
using namespace ringvisor::ring;
using namespace ringvisor::ring::testing;
using namespace std::chrono_literals;

namespace {

/// The rebalancer's messaging: asks are recorded and answered by the test.
struct fake_io : rebalance_io {
  struct inventory_ask {
    std::string peer;
    inventory_request ask;
    std::function<void(caf::expected<inventory>)> done;
  };
  struct snapshot_ask {
    std::string peer;
    std::vector<std::string> ids;
    std::function<void(caf::expected<std::vector<snapshot_entry>>)> done;
  };

  std::vector<inventory_ask> inventories;
  std::vector<snapshot_ask> fetches;
  start_gate next_gate;
  std::vector<caf::timespan> retries;
  size_t agains = 0;
  size_t learned_calls = 0;
  bool serves = true;
  uint64_t wall = 5'000'000;

  bool ask_inventory(const std::string& peer, inventory_request ask,
                     std::function<void(caf::expected<inventory>)> done) override {
    inventories.push_back(inventory_ask{peer, std::move(ask), std::move(done)});
    return true;
  }
  bool ask_snapshots(const std::string& peer, std::vector<std::string> ids,
                     std::function<void(caf::expected<std::vector<snapshot_entry>>)> done)
    override {
    fetches.push_back(snapshot_ask{peer, std::move(ids), std::move(done)});
    return true;
  }
  bool serving() const override {
    return serves;
  }
  start_gate gate() override {
    return next_gate;
  }
  void retry_in(caf::timespan delay) override {
    retries.push_back(delay);
  }
  void again() override {
    ++agains;
  }
  void learned() override {
    ++learned_calls;
  }
  uint64_t wall_us() override {
    return wall;
  }
};

actor::bytes text(const std::string& x) {
  return actor::bytes{x.begin(), x.end()};
}

struct fixture : node_a<quiet_world> {
  fake_io io;
  rebalancer r{"a", "sup", io, records, host, snapshots};
  std::vector<std::string> peers{"b", "c"};

  /// Records `id` (version 10) with `policy`.
  void add(const std::string& id, snapshot_policy policy = snapshot_policy::off(),
           bool terminated = false) {
    child_record rec;
    rec.spec.id = id;
    rec.spec.type = "worker";
    rec.spec.snapshot = policy;
    rec.version = 10;
    rec.terminated = terminated;
    records.apply(rec);
  }

  /// Answers the inventory asks of the last round, `claimed` by the first peer.
  void answer_all(std::vector<std::string> claimed = {}) {
    auto asks = std::move(io.inventories);
    io.inventories.clear();
    for (auto& x : asks) {
      inventory inv;
      if (x.peer == peers.front())
        inv.claimed = claimed;
      x.done(std::move(inv));
    }
  }

  /// An orphan with interval snapshots, found by a round and again by the
  /// next (the next view of the same failure, with the same peers), while
  /// the first round's snapshot fetch is still out.
  std::string orphan_in_two_rounds() {
    auto x = owned_by("a");
    add(x, snapshot_policy::every(1s));
    r.round(peers);
    answer_all();
    REQUIRE(io.fetches.size() == 2);
    r.round(peers);
    answer_all();
    return x;
  }

  local_child* running(const std::string& id) {
    return host.find(id);
  }
};

snapshot snap(uint64_t record, uint64_t epoch, uint64_t seq, const std::string& state,
              uint64_t taken_us) {
  return snapshot{record, epoch, seq, taken_us, true, text(state)};
}

} // namespace

TEST_CASE("an orphan starts once every peer answered, unless one of them claims it") {
  fixture f;
  auto x = f.owned_by("a");
  auto y = f.owned_by("a", 1);
  auto z = f.owned_by("a", 2);
  auto theirs = f.owned_by("b");
  f.add(x);
  f.add(y);
  f.add(z, snapshot_policy::off(), true); // terminated: runs nowhere
  f.add(theirs);
  f.r.round(f.peers);
  REQUIRE(f.io.inventories.size() == 2);
  // One answer is not enough.
  auto first = std::move(f.io.inventories[0]);
  inventory claims;
  claims.claimed = {y}; // b still runs y (say, moving it here)
  first.done(claims);
  CHECK(f.world.starts.empty());
  f.io.inventories[1].done(inventory{});
  CHECK(f.io.learned_calls == 1);
  CHECK(f.records.synced());
  CHECK(f.world.starts == std::vector<std::string>{x});
  CHECK(f.r.recovered() == 1);
}

TEST_CASE("a child pinned here starts only after a round that asked every peer for its record") {
  fixture f;
  auto x = f.owned_by("b"); // b's by its key
  auto learned = [&](const std::string& pin, uint64_t version) {
    child_record rec;
    rec.spec.id = x;
    rec.spec.type = "worker";
    rec.version = version;
    rec.pin = pin;
    return rec;
  };
  // This node restarted and knows nothing: b tells it of the pin.
  f.r.round(f.peers);
  REQUIRE(f.io.inventories.size() == 2);
  CHECK(f.io.inventories[0].ask.pinned.empty());
  inventory told;
  told.records = {learned("a", 10)};
  f.io.inventories[0].done(told);
  f.io.inventories[1].done(inventory{});
  CHECK(f.records.list().owned_by(x, "a"));
  CHECK(f.world.starts.empty()); // c may hold a newer pin: ask again first
  CHECK(f.io.agains == 1);
  // The next round names it; c's answer carries a newer pin: it stays off.
  f.r.round(f.peers);
  REQUIRE(f.io.inventories.size() == 4);
  CHECK(f.io.inventories[2].ask.pinned == std::vector<std::string>{x});
  inventory newer;
  newer.records = {learned("c", 11)};
  f.io.inventories[2].done(inventory{});
  f.io.inventories[3].done(newer);
  CHECK(f.world.starts.empty());
  CHECK(f.records.list().owned_by(x, "c"));
  // Pinned here again, newest everywhere: it starts once every peer
  // answered about it and none claims it.
  f.records.apply(learned("a", 12));
  f.r.round(f.peers);
  REQUIRE(f.io.inventories.size() == 6);
  CHECK(f.io.inventories[4].ask.pinned == std::vector<std::string>{x});
  f.io.inventories[4].done(inventory{});
  f.io.inventories[5].done(inventory{});
  CHECK(f.world.starts == std::vector<std::string>{x});
  CHECK(f.io.agains == 1);
}

TEST_CASE("a peer that does not answer fails the round, and a stale round decides nothing") {
  fixture f;
  auto x = f.owned_by("a");
  f.add(x);
  f.r.round(f.peers);
  auto old = std::move(f.io.inventories);
  f.io.inventories.clear();
  old[0].done(caf::make_error(caf::sec::request_timeout));
  CHECK(f.io.retries.size() == 1);
  old[1].done(inventory{});
  CHECK(f.world.starts.empty());
  // A new round; the old one's late answers do not count.
  f.r.round(f.peers);
  old[0].done(inventory{}); // (a duplicate answer, for the sake of the test)
  CHECK(f.world.starts.empty());
  f.answer_all();
  CHECK(f.world.starts == std::vector<std::string>{x});
}

TEST_CASE("a cut inventory answer asks again before anything starts") {
  fixture f;
  f.add(f.owned_by("a"));
  f.r.round(f.peers);
  auto asks = std::move(f.io.inventories);
  f.io.inventories.clear();
  inventory cut;
  cut.more = true;
  asks[0].done(cut);
  asks[1].done(inventory{});
  CHECK(f.io.agains == 1);
  CHECK(f.world.starts.empty());
  CHECK(!f.records.synced());
}

TEST_CASE("nothing starts while the gate is closed: it retries when told to") {
  fixture f;
  auto x = f.owned_by("a");
  f.add(x);
  f.io.next_gate = start_gate{false, 700ms}; // a member that died may still run it
  f.r.round(f.peers);
  f.answer_all();
  CHECK(f.world.starts.empty());
  CHECK(!f.records.synced());
  REQUIRE(f.io.retries.size() == 1);
  CHECK(f.io.retries[0] == 700ms);
  f.io.next_gate = start_gate{false, std::nullopt}; // stores not read: no timer
  f.r.round(f.peers);
  f.answer_all();
  CHECK(f.io.retries.size() == 1);
  f.io.next_gate = start_gate{};
  f.r.round(f.peers);
  f.answer_all();
  CHECK(f.world.starts == std::vector<std::string>{x});
}

TEST_CASE("an orphan starts from the newest snapshot any member holds of its record") {
  fixture f;
  auto x = f.owned_by("a");
  auto stale = f.owned_by("a", 1);
  auto plain = f.owned_by("a", 2);
  f.add(x, snapshot_policy::every(1s));
  f.add(stale, snapshot_policy::every(1s));
  f.add(plain);
  f.r.round(f.peers);
  f.answer_all();
  // Without a policy: at once. With one: after the fetch.
  CHECK(f.world.starts == std::vector<std::string>{plain});
  REQUIRE(f.io.fetches.size() == 2);
  std::vector<snapshot_entry> from_b{{x, snap(10, 200, 3, "b-newer", 4'600'000)},
                                     {stale, snap(9, 300, 9, "record-9", 4'900'000)}};
  std::vector<snapshot_entry> from_c{{x, snap(10, 200, 2, "c-older", 4'500'000)}};
  f.io.fetches[0].done(from_b);
  CHECK(f.world.starts.size() == 1); // c has not answered
  f.io.fetches[1].done(from_c);
  REQUIRE(f.world.starts.size() == 3);
  auto c = f.running(x);
  REQUIRE(c != nullptr);
  CHECK(c->has_state);
  CHECK(std::string(c->state.begin(), c->state.end()) == "b-newer");
  CHECK(c->epoch > 200); // above the placement it follows
  CHECK(c->restored.from == restore_info::origin::snapshot);
  CHECK(c->restored.age == 400ms);
  // A snapshot of an older record (deleted and started again since) does
  // not count: that child starts afresh.
  auto s = f.running(stale);
  REQUIRE(s != nullptr);
  CHECK(!s->has_state);
  CHECK(s->restored.from == restore_info::origin::fresh);
  CHECK(f.r.restored() == 1);
  CHECK(f.r.recovered() == 3);
}

TEST_CASE("a member that does not answer the snapshot fetch holds the orphan back") {
  fixture f;
  auto x = f.owned_by("a");
  f.add(x, snapshot_policy::on_request());
  f.r.round(f.peers);
  f.answer_all();
  REQUIRE(f.io.fetches.size() == 2);
  f.io.fetches[0].done(std::vector<snapshot_entry>{});
  f.io.fetches[1].done(caf::make_error(caf::sec::request_timeout));
  CHECK(f.world.starts.empty()); // c may hold its only snapshot
  CHECK(f.io.retries.size() == 1);
}

TEST_CASE("a node's own snapshot counts, and a lone node decides at once") {
  fixture f;
  f.place({"a"}, 2);
  f.add("solo", snapshot_policy::on_request());
  f.snapshots.load("solo", snap(10, 50, 1, "mine", 4'000'000));
  f.r.round({});
  CHECK(f.io.inventories.empty());
  REQUIRE(f.world.starts == std::vector<std::string>{"solo"});
  CHECK(f.running("solo")->has_state);
}

TEST_CASE("a round that follows another waits for its fetch instead of asking again") {
  fixture f;
  auto x = f.orphan_in_two_rounds();
  CHECK(f.io.fetches.size() == 2); // one per peer, asked in the first round only
  // With other peers, a round asks again.
  f.r.round({"b"});
  f.answer_all();
  REQUIRE(f.io.fetches.size() == 3);
  f.io.fetches[2].done(std::vector<snapshot_entry>{{x, snap(10, 200, 4, "b2", 4'700'000)}});
  REQUIRE(f.world.starts == std::vector<std::string>{x});
  auto c = f.running(x);
  CHECK(std::string(c->state.begin(), c->state.end()) == "b2");
  // The older rounds' fetch ends: nothing starts twice.
  f.io.fetches[0].done(std::vector<snapshot_entry>{{x, snap(10, 200, 3, "b", 4'600'000)}});
  f.io.fetches[1].done(std::vector<snapshot_entry>{});
  CHECK(f.world.starts.size() == 1);
}

TEST_CASE("a round that waited for an older round's fetch starts from it") {
  fixture f;
  auto x = f.orphan_in_two_rounds();
  REQUIRE(f.io.fetches.size() == 2);
  f.io.fetches[0].done(std::vector<snapshot_entry>{{x, snap(10, 200, 3, "b", 4'600'000)}});
  CHECK(f.world.starts.empty()); // c has not answered
  f.io.fetches[1].done(std::vector<snapshot_entry>{});
  REQUIRE(f.world.starts == std::vector<std::string>{x});
  auto c = f.running(x);
  CHECK(std::string(c->state.begin(), c->state.end()) == "b");
}
