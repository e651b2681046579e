#pragma once

// What the ring manager's unit tests share: a world around the units whose
// messaging goes nowhere unless a test looks at it.

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "child_host.hpp"
#include "child_list.hpp"
#include "record_keeper.hpp"
#include "snapshot_keeper.hpp"

namespace ringvisor::ring::testing {

/// The keepers' and the host's messaging: starts are recorded (and answered
/// at once with a running child if `answer_starts`), the rest goes nowhere.
/// A test that looks at more overrides it.
struct quiet_world : record_io, snapshot_io, host_io {
  using time_point = std::chrono::steady_clock::time_point;

  uint64_t wall = 5'000'000;
  std::vector<std::string> starts;
  bool answer_starts = false;

  bool write(const std::string&, const child_record&, uint64_t, caf::timespan,
             std::function<void(write_answer)>) override {
    return false;
  }
  void send_records(const std::string&, std::vector<child_record>) override {}
  void send_digests(const std::string&, uint64_t, std::vector<range_digest>) override {}
  void later(caf::timespan, std::function<void()>) override {}
  void ended(const child_record&) override {}
  void repinned(const child_record&) override {}
  bool may_ask(const std::string&, uint64_t) override {
    return false;
  }
  void ask_state(const std::string&, uint64_t) override {}
  void send_snapshots(const std::string&, std::vector<snapshot_entry>) override {}
  void arm_round(caf::timespan) override {}
  void flush_soon() override {}
  time_point now() override {
    return time_point{} + std::chrono::hours{1};
  }
  uint64_t wall_us() override {
    return wall;
  }
  void start_child(const child_spec& spec,
                   std::function<void(caf::expected<caf::actor>)> done) override {
    starts.push_back(spec.id);
    if (answer_starts)
      done(caf::actor{}); // runs at once (no handle needed)
  }
  void started(const std::string&, const local_child&) override {}
  void request_state(const caf::actor&, caf::message,
                     std::function<void(caf::expected<actor::bytes>)>) override {}
  void stop_child(const std::string&, std::function<void()>) override {}
  void kill_child(const std::string&) override {}
  bool hand_off(const std::string&, handoff,
                std::function<void(caf::error, const caf::actor&)>) override {
    return false;
  }
  void flush(local_child&) override {}
  bool has_lease() const override {
    return true;
  }
  bool serving() const override {
    return true;
  }
  bool reachable(const std::string&) const override {
    return true;
  }
  void retry_later() override {}
  void emptied() override {}
};

/// The `skip`-th id of the form `c<n>` that `owner` owns on `list`'s ring.
inline std::string id_owned_by(const child_list& list, const std::string& owner,
                               int skip = 0) {
  for (int i = 0;; ++i) {
    auto id = "c" + std::to_string(i);
    if (list.owned_by(id, owner) && skip-- == 0)
      return id;
  }
}

/// Node "a" of the ring supervisor "sup": its keepers and its host, whose
/// messaging goes to `world` (a `quiet_world`), on the ring a, b, c.
template <class World>
struct node_a {
  World world;
  record_keeper records{"a", "sup/", world};
  snapshot_keeper snapshots{"a", world,
                            [this](const std::string& id) { return records.list().key_hash(id); }};
  child_host host{"a", "sup", world, records, snapshots, nullptr};

  node_a() {
    place({"a", "b", "c"}, 1);
  }

  /// Places the records and snapshots on a ring of `members`.
  void place(std::vector<std::string> members, uint64_t digest) {
    records.place_on(std::move(members), digest);
    snapshots.place_on(records.list().ring());
  }

  /// An id that `owner` owns on the current ring.
  std::string owned_by(const std::string& owner, int skip = 0) {
    return id_owned_by(records.list(), owner, skip);
  }
};

} // namespace ringvisor::ring::testing
