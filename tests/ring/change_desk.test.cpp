// The change desk as plain code: where a client's start, restart, terminate
// or delete goes, when it waits, and what its caller hears. Replicas' and
// stores' answers are given by the test.

#include <map>
#include <memory>
#include <variant>

#include <doctest/doctest.h>

#include "change_desk.hpp"
#include "unit_world.hpp"

using namespace ringvisor;
using namespace ringvisor::ring;
using namespace ringvisor::ring::testing;
using namespace std::chrono_literals;

namespace {

using time_point = std::chrono::steady_clock::time_point;

/// Where an answer went: shared by the copies of one promise.
struct recorder {
  using answer = std::variant<std::monostate, placement, caf::ok_atom, caf::error>;
  std::shared_ptr<answer> got = std::make_shared<answer>();

  void deliver(placement x) {
    *got = std::move(x);
  }
  void deliver(caf::ok_atom x) {
    *got = x;
  }
  void deliver(caf::error x) {
    *got = std::move(x);
  }

  bool pending() const {
    return std::holds_alternative<std::monostate>(*got);
  }
  bool ok() const {
    return std::holds_alternative<caf::ok_atom>(*got);
  }
  const placement* where() const {
    return std::get_if<placement>(got.get());
  }
  caf::error error() const {
    auto x = std::get_if<caf::error>(got.get());
    return x != nullptr ? *x : caf::error{};
  }
};

/// The keepers' and the host's messaging. Replica writes wait for the test;
/// starts are answered at once with a running child.
struct world_io : quiet_world {
  struct write_call {
    std::string member;
    child_record rec;
    std::function<void(write_answer)> done;
  };
  std::vector<write_call> writes;
  child_host* host = nullptr; // a record that ends a child stops it there

  world_io() {
    answer_starts = true;
  }
  bool write(const std::string& member, const child_record& rec, uint64_t, caf::timespan,
             std::function<void(write_answer)> done) override {
    writes.push_back(write_call{member, rec, std::move(done)});
    return true;
  }
  /// Answers every write so far with `x`.
  void answer_writes(write_answer x) {
    auto ws = std::move(writes);
    writes.clear();
    for (auto& w : ws)
      w.done(x);
  }
  void ended(const child_record& rec) override {
    host->drop(rec.spec.id, make_error(errc::not_found, "sup", rec.spec.id), true);
  }
  void repinned(const child_record&) override {
    // the manager's next round moves it; the desk's tests look at the record
  }
};

/// The change desk's messaging.
struct desk_io : change_io<recorder> {
  struct passed {
    std::string owner;
    recorder rp;
    std::string what;
    uint8_t hops = 0;
  };
  std::vector<passed> passes;
  std::set<std::string> known{"b", "c"}; // peers whose handles are known
  std::vector<std::pair<std::string, std::function<void(caf::error)>>> unstores;
  bool serves = true;
  caf::error refusal;
  size_t retries = 0;
  time_point t = time_point{} + 1h;

  bool pass_place(const std::string& owner, recorder& rp, const child_record& rec,
                  bool fresh) override {
    if (!known.count(owner))
      return false;
    passes.push_back(passed{owner, rp, (fresh ? "start " : "restart ") + rec.spec.id, 0});
    return true;
  }
  bool pass_change(const std::string& owner, recorder& rp, change_kind kind, const std::string& id,
                   const std::string& to, uint8_t hops) override {
    if (!known.count(owner))
      return false;
    auto what = "change " + std::to_string(static_cast<int>(kind)) + " " + id;
    passes.push_back(passed{owner, rp, to.empty() ? what : what + " to " + to, hops});
    return true;
  }
  void unstore(const child_spec& spec, std::function<void(caf::error)> done) override {
    unstores.emplace_back(spec.id, std::move(done));
  }
  bool serving() const override {
    return serves;
  }
  caf::error refused(const std::string&) const override {
    return refusal;
  }
  void retry_later() override {
    ++retries;
  }
  void when_running(local_child& c, const std::string& id, recorder rp) override {
    if (c.ph == local_child::phase::running)
      return rp.deliver(placement{"a", c.epoch});
    c.waiting.push_back(pending{caf::make_message(ring_find_atom::value, id, uint8_t{0}), {}});
  }
  time_point now() override {
    return t;
  }
};

struct fixture : node_a<world_io> {
  desk_io io;
  change_desk<recorder> desk{"a", "sup", io, records, host};

  fixture() {
    world.host = &host;
    records.round_complete();
  }

  static child_record record(const std::string& id) {
    child_record rec;
    rec.spec.id = id;
    rec.spec.type = "worker";
    return rec;
  }

  /// Starts `id` here and lets its replicas store it.
  void started(const std::string& id) {
    recorder rp;
    desk.place(record(id), true, rp);
    world.answer_writes(record_io::write_answer::stored);
    REQUIRE(rp.where() != nullptr);
  }
};

} // namespace

TEST_CASE("a start is answered once a quorum stored its record and the child runs") {
  fixture f;
  auto id = f.owned_by("a");
  recorder rp;
  f.desk.place(fixture::record(id), true, rp);
  CHECK(f.world.starts == std::vector<std::string>{id}); // it starts meanwhile
  REQUIRE(f.world.writes.size() == 2);                    // to b and c
  CHECK(rp.pending());
  auto version = f.world.writes[0].rec.version;
  CHECK(version > 0); // the owner sets it
  f.world.writes[0].done(record_io::write_answer::stored);
  REQUIRE(rp.where() != nullptr); // a and b: two of three
  CHECK(rp.where()->node == "a");
  CHECK(f.desk.started() == 1);
  // A second start of the same child is refused.
  recorder again;
  f.desk.place(fixture::record(id), true, again);
  CHECK(again.error() == errc::already_present);
}

TEST_CASE("a start that fewer than a majority stored fails with store_failed") {
  fixture f;
  auto id = f.owned_by("a");
  recorder rp;
  f.desk.place(fixture::record(id), true, rp);
  f.world.answer_writes(record_io::write_answer::failed);
  CHECK(rp.error() == errc::store_failed);
}

TEST_CASE("a start at a member that does not own the child goes to the owner") {
  fixture f;
  auto id = f.owned_by("b");
  recorder rp;
  f.desk.place(fixture::record(id), true, rp);
  REQUIRE(f.io.passes.size() == 1);
  CHECK(f.io.passes[0].owner == "b");
  CHECK(f.io.passes[0].what == "start " + id);
  CHECK(f.world.starts.empty());
  // The owner's handle is not known yet: it waits for the next round.
  auto theirs = f.owned_by("c");
  f.io.known.erase("c");
  recorder later;
  f.desk.place(fixture::record(theirs), true, later);
  CHECK(f.desk.parked() == 1);
  CHECK(f.io.retries == 1);
  f.io.known.insert("c");
  f.desk.retry_parked();
  CHECK(f.desk.parked() == 0);
  REQUIRE(f.io.passes.size() == 2);
  CHECK(f.io.passes[1].owner == "c");
}

TEST_CASE("an owner that has not learned its ranges holds changes until it has") {
  fixture f;
  auto id = f.owned_by("a");
  f.records.unlearn();
  recorder rp;
  f.desk.place(fixture::record(id), true, rp);
  CHECK(f.desk.parked() == 1);
  CHECK(f.world.starts.empty());
  CHECK(f.io.retries == 0); // a round is on its way: no timer
  f.records.round_complete();
  f.desk.retry_parked();
  CHECK(f.world.starts == std::vector<std::string>{id});
}

TEST_CASE("a parked change fails once it waited longer than any caller") {
  fixture f;
  f.io.serves = false;
  recorder rp;
  f.desk.place(fixture::record(f.owned_by("a")), true, rp);
  f.io.t += 30s;
  f.desk.retry_parked();
  CHECK(rp.pending()); // parked again, with its age
  f.io.t += 31s;
  f.desk.retry_parked();
  CHECK(rp.error() == errc::no_owner);
  CHECK(f.desk.parked() == 0);
}

TEST_CASE("a change goes one hop at a time to the owner, and fails after four") {
  fixture f;
  auto id = f.owned_by("b");
  recorder rp;
  f.desk.change(change_kind::terminate, id, 0, rp);
  REQUIRE(f.io.passes.size() == 1);
  CHECK(f.io.passes[0].owner == "b");
  CHECK(f.io.passes[0].hops == 0); // the io adds the hop
  recorder far;
  f.desk.change(change_kind::terminate, id, max_hops, far);
  CHECK(far.error() == errc::no_owner);
  // A node that is split off or not up refuses at once.
  f.io.refusal = make_error(errc::no_owner, "sup", id, split_off_reason);
  recorder refused;
  f.desk.change(change_kind::terminate, id, 0, refused);
  CHECK(refused.error() == errc::no_owner);
  CHECK(f.io.passes.size() == 1);
}

TEST_CASE("terminate, restart and delete change the owner's record on a quorum") {
  fixture f;
  auto id = f.owned_by("a");
  f.started(id);
  recorder term;
  f.desk.change(change_kind::terminate, id, 0, term);
  CHECK(!f.host.contains(id)); // the record stopped it here
  f.world.answer_writes(record_io::write_answer::stored);
  CHECK(term.ok());
  CHECK(f.records.list().alive(id)->terminated);
  recorder restart;
  f.desk.change(change_kind::restart, id, 0, restart);
  f.world.answer_writes(record_io::write_answer::stored);
  REQUIRE(restart.where() != nullptr);
  CHECK(f.host.contains(id));
  // A delete takes the spec out of its store first.
  recorder del;
  f.desk.change(change_kind::erase, id, 0, del);
  REQUIRE(f.io.unstores.size() == 1);
  CHECK(f.host.contains(id));
  f.io.unstores[0].second(caf::none);
  f.world.answer_writes(record_io::write_answer::stored);
  CHECK(del.ok());
  CHECK(f.records.list().alive(id) == nullptr);
  CHECK(!f.host.contains(id));
  // Unknown now: not found.
  recorder gone;
  f.desk.change(change_kind::terminate, id, 0, gone);
  CHECK(gone.error() == errc::not_found);
}

TEST_CASE("a pin moves the owner on a quorum of its replicas, and a pin to a stranger fails") {
  fixture f;
  auto id = f.owned_by("a");
  auto other = f.owned_by("a", 1);
  f.started(id);
  f.started(other);
  recorder pin;
  f.desk.change(change_kind::pin, id, 0, pin, "b");
  REQUIRE(f.world.writes.size() == 2);
  CHECK(f.world.writes[0].rec.pin == "b");
  CHECK(f.records.list().owned_by(id, "b")); // applied here first
  CHECK(pin.pending());
  f.world.answer_writes(record_io::write_answer::stored);
  CHECK(pin.ok());
  // b owns it now: the next change goes there, with its member.
  recorder back;
  f.desk.change(change_kind::pin, id, 0, back, "");
  REQUIRE(f.io.passes.size() == 1);
  CHECK(f.io.passes[0].owner == "b");
  CHECK(f.io.passes[0].what == "change 3 " + id);
  recorder moved;
  f.desk.change(change_kind::pin, id, 0, moved, "c");
  REQUIRE(f.io.passes.size() == 2);
  CHECK(f.io.passes[1].what == "change 3 " + id + " to c");
  // The same pin again writes nothing; a member off the ring is refused.
  recorder same;
  f.desk.change(change_kind::pin, other, 0, same, "");
  CHECK(same.ok());
  recorder stranger;
  f.desk.change(change_kind::pin, other, 0, stranger, "x");
  CHECK(stranger.error() == cluster::errc::not_member);
  CHECK(f.world.writes.empty());
  CHECK(f.records.list().owned_by(other, "a"));
}

TEST_CASE("a delete whose store fails changes nothing") {
  fixture f;
  auto id = f.owned_by("a");
  f.started(id);
  recorder del;
  f.desk.change(change_kind::erase, id, 0, del);
  f.io.unstores[0].second(make_error(errc::store_failed, "sup", id, "disk full"));
  CHECK(del.error() == errc::store_failed);
  CHECK(f.records.list().alive(id) != nullptr);
  CHECK(f.host.contains(id));
}
