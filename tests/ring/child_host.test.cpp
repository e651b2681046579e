// The child host as plain code: its messaging recorded by a fake io whose
// answers the test gives in any order, so that the races are spelled out:
// a start answered after the ring changed, a handoff that times out, a move
// that waits for requests in flight, a child that does not give its state.

#include <map>
#include <memory>
#include <set>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include <doctest/doctest.h>

#include "child_host.hpp"
#include "unit_world.hpp"
#include "ringvisor/supervision/errc.hpp"

using namespace ringvisor;
using namespace ringvisor::ring;
using namespace ringvisor::ring::testing;
using namespace std::chrono_literals;

namespace {

/// Records what the host asks; the test answers.
struct fake_io : host_io {
  struct start {
    std::string id;
    std::function<void(caf::expected<caf::actor>)> done;
  };
  struct ask {
    caf::message msg;
    std::function<void(caf::expected<actor::bytes>)> done;
  };
  struct sent {
    std::string target;
    handoff x;
    std::function<void(caf::error, const caf::actor&)> done;
  };

  std::vector<start> starts;
  std::vector<ask> asks;
  std::vector<std::pair<std::string, std::function<void()>>> stops;
  std::vector<std::string> kills;
  std::vector<sent> handoffs;
  std::vector<std::string> told_started;
  std::set<std::string> known; // peers whose handles are known
  std::set<std::string> up;
  bool lease = true;
  bool serves = true;
  size_t retries = 0;
  size_t emptied_calls = 0;
  uint64_t wall = 5'000'000;

  void start_child(const child_spec& spec,
                   std::function<void(caf::expected<caf::actor>)> done) override {
    starts.push_back(start{spec.id, std::move(done)});
  }
  void started(const std::string& id, const local_child&) override {
    told_started.push_back(id);
  }
  void request_state(const caf::actor&, caf::message msg,
                     std::function<void(caf::expected<actor::bytes>)> done) override {
    asks.push_back(ask{std::move(msg), std::move(done)});
  }
  void stop_child(const std::string& id, std::function<void()> done) override {
    stops.emplace_back(id, std::move(done));
  }
  void kill_child(const std::string& id) override {
    kills.push_back(id);
  }
  bool hand_off(const std::string& target, handoff x,
                std::function<void(caf::error, const caf::actor&)> done) override {
    if (!known.count(target))
      return false;
    handoffs.push_back(sent{target, std::move(x), std::move(done)});
    return true;
  }
  void flush(local_child&) override {}
  bool has_lease() const override {
    return lease;
  }
  bool serving() const override {
    return serves;
  }
  bool reachable(const std::string& member) const override {
    return up.count(member) > 0 && known.count(member) > 0;
  }
  void retry_later() override {
    ++retries;
  }
  void emptied() override {
    ++emptied_calls;
  }
  uint64_t wall_us() override {
    return wall;
  }
};

actor::bytes text(const std::string& x) {
  return actor::bytes{x.begin(), x.end()};
}

std::string text_of(const actor::bytes& x) {
  return std::string{x.begin(), x.end()};
}

struct fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::vector<caf::actor> actors;
  quiet_world quiet;
  fake_io io;
  record_keeper records{"a", "sup/", quiet};
  snapshot_keeper snapshots{
    "a", quiet, [this](const std::string& id) { return records.list().key_hash(id); }};
  std::unique_ptr<child_host> host;

  explicit fixture(host_limits limits = {}) {
    sys = std::make_unique<caf::actor_system>(cfg);
    host = std::make_unique<child_host>("a", "sup", io, records, snapshots, nullptr, limits);
    place({"a", "b", "c"});
  }

  ~fixture() {
    check_counts();
    for (auto& x : actors)
      caf::anon_send_exit(x, caf::exit_reason::kill);
  }

  void place(std::vector<std::string> members) {
    records.place_on(members, cluster::hash_ring::hash(std::to_string(members.size())));
    snapshots.place_on(records.list().ring());
  }

  /// A running child's handle (an actor that does nothing).
  caf::actor child_actor() {
    actors.push_back(sys->spawn([]() -> caf::behavior { return {[](int32_t) {}}; }));
    return actors.back();
  }

  /// An id that `owner` owns on the current ring.
  std::string owned_by(const std::string& owner, int skip = 0) {
    return id_owned_by(records.list(), owner, skip);
  }

  /// Starts `id` here (its record first), as a fresh start does.
  void start(const std::string& id, uint64_t epoch = 100) {
    child_record rec;
    rec.spec.id = id;
    rec.spec.type = "worker";
    rec.version = 10;
    records.apply(rec);
    local_child c;
    c.spec = rec.spec;
    c.record = 10;
    c.epoch = epoch;
    host->start(id, std::move(c));
  }

  /// Answers the start of `id` (the last one asked) with a running child.
  void started(const std::string& id) {
    for (auto i = io.starts.rbegin(); i != io.starts.rend(); ++i)
      if (i->id == id) {
        auto done = std::move(i->done);
        io.starts.erase(std::next(i).base());
        done(child_actor());
        return;
      }
    FAIL("no start of " << id);
  }

  local_child::phase phase_of(const std::string& id) {
    check_counts();
    auto c = host->find(id);
    REQUIRE(c != nullptr);
    return c->ph;
  }

  /// The host's counts (kept as children change phase) against a pass.
  void check_counts() {
    uint64_t running = 0;
    uint64_t starting = 0;
    for (auto& [id, c] : host->children()) {
      running += c.ph == local_child::phase::running;
      starting += c.ph == local_child::phase::starting;
    }
    CHECK(host->starting() == starting);
    CHECK(host->running() == running + starting);
  }
};

} // namespace

TEST_CASE("starts are paced and wait for the lease") {
  host_limits limits;
  limits.max_parallel_starts = 2;
  fixture f{limits};
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(f.owned_by("a", i));
  for (auto& id : ids)
    f.start(id);
  CHECK(f.io.starts.size() == 2);
  CHECK(f.host->starts_backlogged()); // three wait: snapshots and settling wait too
  // Without the lease, a finished start makes room but starts nothing.
  f.io.lease = false;
  f.started(ids[0]);
  CHECK(f.io.starts.size() == 1);
  CHECK(f.phase_of(ids[0]) == local_child::phase::running);
  f.io.lease = true;
  f.host->pump_starts();
  CHECK(f.io.starts.size() == 2);
  CHECK(f.host->running() == 5); // running or starting
  CHECK(f.host->starting() == 4);
  f.started(ids[1]);
  f.started(ids[2]);
  CHECK(!f.host->starts_backlogged()); // the last two start now
  CHECK(f.host->list().size() == 5);
}

TEST_CASE("a child started after the ring changed moves on to its new owner") {
  fixture f;
  f.io.known = {"b", "c"};
  auto id = f.owned_by("a");
  f.start(id);
  // Before the start is answered, a joins a ring where it owns less: the
  // child is handed over once it runs, with the state it gives.
  std::vector<std::string> members{"a", "b", "c"};
  std::string owner;
  for (int n = 0; owner.empty() || owner == "a"; ++n) {
    members.push_back("n" + std::to_string(n));
    f.place(members);
    owner = std::string{*f.records.list().owner_of(id)};
  }
  f.io.known.insert(owner);
  f.started(id);
  REQUIRE(f.io.asks.size() == 1);
  CHECK(f.phase_of(id) == local_child::phase::moving);
  f.io.asks[0].done(text("state-1"));
  REQUIRE(f.io.stops.size() == 1);
  CHECK(f.io.handoffs.empty()); // not before the child is down
  f.io.stops[0].second();
  REQUIRE(f.io.handoffs.size() == 1);
  auto& sent = f.io.handoffs[0];
  CHECK(sent.target == owner);
  CHECK(sent.x.has_state);
  CHECK(text_of(sent.x.state) == "state-1");
  CHECK(sent.x.origin.from == restore_info::origin::handed_over);
  CHECK(sent.x.epoch == 100);
  sent.done(caf::none, caf::actor{});
  CHECK(!f.host->contains(id));
  CHECK(f.host->moved_out() == 1);
  CHECK(f.io.emptied_calls == 1);
}

TEST_CASE("a handoff that times out is sent again while its target is up, else held") {
  fixture f;
  f.io.known = {"b"};
  f.io.up = {"b"};
  auto id = f.owned_by("b");
  f.start(id); // handed here under an older ring, say
  f.started(id);
  REQUIRE(f.io.asks.size() == 1);
  f.io.asks[0].done(text("s"));
  f.io.stops[0].second();
  REQUIRE(f.io.handoffs.size() == 1);
  f.io.handoffs[0].done(caf::make_error(caf::sec::request_timeout), caf::actor{});
  REQUIRE(f.io.handoffs.size() == 2); // asked again: b may have taken it
  CHECK(text_of(f.io.handoffs[1].x.state) == "s");
  f.io.up.clear();
  f.io.handoffs[1].done(caf::make_error(caf::sec::request_timeout), caf::actor{});
  CHECK(f.io.handoffs.size() == 2);
  CHECK(f.phase_of(id) == local_child::phase::held);
  CHECK(f.io.retries == 1);
  // The next round hands the held child (with its state) to its owner.
  f.io.up = {"b"};
  f.host->move_out();
  REQUIRE(f.io.handoffs.size() == 3);
  CHECK(text_of(f.io.handoffs[2].x.state) == "s");
  // A refusal because it was deleted meanwhile drops it.
  f.io.handoffs[2].done(make_error(errc::not_found, "sup", id, "deleted"), caf::actor{});
  CHECK(!f.host->contains(id));
}

TEST_CASE("a handoff to a member whose handle is unknown holds the child and retries") {
  fixture f;
  auto id = f.owned_by("b");
  f.start(id);
  f.started(id);
  REQUIRE(f.io.asks.size() == 1);
  f.io.asks[0].done(text("s"));
  REQUIRE(f.io.stops.size() == 1);
  f.io.stops[0].second();
  CHECK(f.io.handoffs.empty());
  CHECK(f.phase_of(id) == local_child::phase::held);
  CHECK(f.io.retries == 1);
}

TEST_CASE("a move waits for the requests in flight, whose replies move with the child") {
  fixture f;
  f.io.known = {"b", "c"};
  auto id = f.owned_by("a");
  f.start(id);
  f.started(id);
  auto c = f.host->find(id);
  caf::response_promise rp;
  REQUIRE(c->replies.admit(7, rp) == reply_cache<caf::response_promise>::verdict::run);
  // a leaves the ring: everything moves.
  f.place({"b", "c"});
  f.host->move_out();
  CHECK(f.phase_of(id) == local_child::phase::moving);
  CHECK(f.io.asks.empty());
  CHECK(!f.host->answered(id)); // still in flight
  c->replies.finish(7, caf::make_message(int32_t{42}), caf::none);
  CHECK(f.host->answered(id));
  REQUIRE(f.io.asks.size() == 1);
  f.io.asks[0].done(text("s"));
  f.io.stops[0].second();
  REQUIRE(f.io.handoffs.size() == 1);
  REQUIRE(f.io.handoffs[0].x.recent.size() == 1);
  CHECK(f.io.handoffs[0].x.recent[0].request == 7);
}

TEST_CASE("a child that does not give its state moves with its newest snapshot of this placement") {
  fixture f;
  f.io.known = {"b", "c"};
  auto id = f.owned_by("a");
  auto other = f.owned_by("a", 1);
  for (auto& x : {id, other}) {
    f.start(x);
    f.started(x);
  }
  auto c = f.host->find(id);
  f.snapshots.checkpoint(id, c->start_gen, c->record, c->epoch,
                         snapshot_policy::on_request(), text("snap"));
  // A snapshot of an earlier placement of the other one does not count.
  auto d = f.host->find(other);
  f.snapshots.checkpoint(other, d->start_gen, d->record, d->epoch - 1,
                         snapshot_policy::on_request(), text("old"));
  f.quiet.wall += 400'000;
  f.io.wall = f.quiet.wall;
  f.place({"b", "c"});
  f.host->move_out();
  REQUIRE(f.io.asks.size() == 2);
  for (auto& ask : f.io.asks)
    ask.done(caf::make_error(caf::sec::request_timeout));
  for (auto& stop : f.io.stops)
    stop.second();
  REQUIRE(f.io.handoffs.size() == 2);
  for (auto& sent : f.io.handoffs) {
    if (sent.x.spec.id == id) {
      CHECK(sent.x.has_state);
      CHECK(text_of(sent.x.state) == "snap");
      CHECK(sent.x.origin.from == restore_info::origin::snapshot);
      CHECK(sent.x.origin.age == 400ms);
    } else {
      CHECK(!sent.x.has_state); // none: it starts afresh, and its owner learns so
    }
  }
}

TEST_CASE("moves are paced: the next starts when one ends") {
  host_limits limits;
  limits.max_parallel_moves = 1;
  fixture f{limits};
  f.io.known = {"b", "c"};
  auto x = f.owned_by("a");
  auto y = f.owned_by("a", 1);
  for (auto& id : {x, y}) {
    f.start(id);
    f.started(id);
  }
  f.place({"b", "c"});
  f.host->move_out();
  REQUIRE(f.io.asks.size() == 1);
  f.io.asks[0].done(text("s"));
  f.io.stops[0].second();
  CHECK(f.io.asks.size() == 1); // the second waits until the first is answered
  f.io.handoffs[0].done(caf::none, caf::actor{});
  CHECK(f.io.asks.size() == 2);
}

TEST_CASE("a handed over child is taken by its owner only, once, and not when deleted") {
  fixture f;
  auto mine = f.owned_by("a");
  auto theirs = f.owned_by("b");
  handoff x;
  x.spec.id = theirs;
  x.spec.type = "worker";
  CHECK(f.host->take(x) == errc::no_owner);
  handoff y;
  y.spec.id = mine;
  y.spec.type = "worker";
  y.epoch = 100;
  y.has_state = true;
  y.state = text("s");
  y.origin = restore_info{restore_info::origin::handed_over, {}};
  CHECK(!f.host->take(y));
  CHECK(f.host->moved_in() == 1);
  auto c = f.host->find(mine);
  REQUIRE(c != nullptr);
  CHECK(c->epoch > 100); // above the placement it follows
  CHECK(c->restored.from == restore_info::origin::handed_over);
  CHECK(f.records.list().alive(mine) != nullptr); // its record came along
  handoff again = y;
  again.spec.id = mine;
  CHECK(!f.host->take(again)); // a duplicate is acknowledged
  CHECK(f.host->moved_in() == 1);
  // Deleted here: refused, so that the sender drops it.
  auto gone = f.owned_by("a", 1);
  child_record tomb;
  tomb.spec.id = gone;
  tomb.version = 50;
  tomb.deleted = true;
  f.records.apply(tomb);
  handoff z;
  z.spec.id = gone;
  z.spec.type = "worker";
  CHECK(f.host->take(z) == errc::not_found);
  // A duplicate is acknowledged even once the ring gave the child to another
  // member: refused, its sender would keep a second copy (this node passes
  // it on itself).
  f.place({"b", "c"});
  CHECK(!f.host->take(again));
}

TEST_CASE("a replaced local supervisor starts every child again, with a new epoch and no state") {
  fixture f;
  auto id = f.owned_by("a");
  f.start(id);
  f.started(id);
  auto before = f.host->find(id)->epoch;
  f.host->restart_all();
  CHECK(f.phase_of(id) == local_child::phase::starting);
  CHECK(f.host->find(id)->epoch > before);
  CHECK(f.host->find(id)->restored.from == restore_info::origin::fresh);
  // The old start's late answer is stale; the new one counts.
  f.started(id);
  CHECK(f.phase_of(id) == local_child::phase::running);
  CHECK(f.io.told_started.size() == 2);
}

TEST_CASE("a start that fails forgets the child, and a killed child stops without its state") {
  fixture f;
  auto x = f.owned_by("a");
  auto y = f.owned_by("a", 1);
  f.start(x);
  f.start(y);
  auto done = std::move(f.io.starts[0].done);
  done(caf::make_error(caf::sec::runtime_error));
  CHECK(!f.host->contains(x));
  f.started(y);
  f.host->kill(y, make_error(errc::no_owner, "sup", y, "no lease"));
  CHECK(!f.host->contains(y));
  REQUIRE(f.io.kills.size() == 1);
  CHECK(f.io.kills[0] == y);
  CHECK(f.io.asks.empty());
}
