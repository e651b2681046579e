#pragma once

// The children one node runs for a ring supervisor (private to
// libring), as plain code behind the ring manager, which does the
// messaging (`host_io`): starting them in the local supervisor (paced, only
// with the lease), moving them to their owners (state, stop, handoff;
// paced), taking children handed over, holding those that found no taker,
// and stopping them without their state when the node may no longer run
// them. Requests that wait for a child here wait in its entry.

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/message.hpp>
#include <caf/response_promise.hpp>
#include <caf/timespan.hpp>

#include "pacer.hpp"
#include "protocol.hpp"
#include "record_keeper.hpp"
#include "reply_cache.hpp"
#include "ringvisor/actor/types.hpp"
#include "ringvisor/ring/supervisor.hpp"
#include "snapshot_keeper.hpp"
#include "supervision_names.hpp"

namespace ringvisor::ring {

/// A request waiting for its child to run here (or to be forwarded).
struct pending {
  caf::message msg;
  caf::response_promise rp;
};

/// A child this node runs, starts, hands off or holds.
struct local_child {
  enum class phase : uint8_t {
    starting, // asked the local supervisor to start it
    running,
    moving,   // taking its state and stopping it for a handoff
    held,     // stopped; its state waits for an owner that takes it
  };

  child_spec spec;
  phase ph = phase::starting;
  caf::actor handle;
  uint64_t epoch = 0;
  uint64_t start_gen = 0; // the start in progress; older replies are stale
  std::string target;
  bool take_state_when_answered = false; // a move waits for requests in flight
  bool has_state = false;
  actor::bytes state;
  uint64_t record = 0;   // the version of its record it runs under
  restore_info restored; // how the state it starts with came here
  restore_info handing;  // how the state it is handed off with came
  reply_cache<caf::response_promise> replies; // a retried request runs once
  std::vector<pending> waiting;
};

/// What a handoff carries to the child's new owner.
struct handoff {
  child_spec spec;
  uint64_t epoch = 0;
  bool has_state = false;
  actor::bytes state;
  restore_info origin;
  std::vector<recent_reply> recent;
};

/// The ring manager's side of the host: the local supervisor, the peers and
/// the requests.
class host_io {
public:
  virtual ~host_io() = default;

  /// Starts `spec` in the local supervisor; `done` gets the child's handle.
  virtual void start_child(const child_spec& spec,
                           std::function<void(caf::expected<caf::actor>)> done)
    = 0;

  /// Sends a child that just started here its state (if any) and placement.
  virtual void started(const std::string& id, const local_child& c) = 0;

  /// Asks the running child `hdl` with `ask` for the state it moves with;
  /// `done` gets it, or why not.
  virtual void request_state(const caf::actor& hdl, caf::message ask,
                             std::function<void(caf::expected<actor::bytes>)> done)
    = 0;

  /// Takes the child from the local supervisor and stops it; `done` runs
  /// once it is down.
  virtual void stop_child(const std::string& id, std::function<void()> done) = 0;

  /// Takes the child from the local supervisor and kills it at once.
  virtual void kill_child(const std::string& id) = 0;

  /// Hands a child to `target`'s ring supervisor; `done` gets its answer
  /// (none: taken), and the target's handle. Returns false if the target's
  /// handle is not known yet (the io asks for it).
  virtual bool hand_off(const std::string& target, handoff x,
                        std::function<void(caf::error, const caf::actor&)> done)
    = 0;

  /// Serves (or passes on) the requests that waited for the child.
  virtual void flush(local_child& c) = 0;

  /// Whether the node holds its lease now.
  virtual bool has_lease() const = 0;

  /// Whether this node serves: it may start and take children.
  virtual bool serving() const = 0;

  /// Whether `member` is up and its handle known (a handoff that timed out
  /// is sent again then).
  virtual bool reachable(const std::string& member) const = 0;

  /// Runs a rebalance round soon (a move found no taker now).
  virtual void retry_later() = 0;

  /// A leaving node handed off its last child.
  virtual void emptied() = 0;

  /// Wall-clock microseconds (epochs are hybrid logical clocks).
  virtual uint64_t wall_us() = 0;
};

/// Limits of a host.
struct host_limits {
  size_t max_parallel_starts = 256;
  size_t max_parallel_moves = 256;
};

class child_host {
public:
  using phase = local_child::phase;

  /// The host of `self`'s children, placed by the ring of `records`, their
  /// snapshots taken by `snapshots`. `migrate` is the spec's hook (or null).
  child_host(std::string self, std::string sup, host_io& io, record_keeper& records,
             snapshot_keeper& snapshots, migrate_function migrate,
             host_limits limits = {});

  // -- what runs here -------------------------------------------------------------

  /// Returns the entry of `id`, or null.
  local_child* find(const std::string& id) {
    auto i = local_.find(id);
    return i != local_.end() ? &i->second : nullptr;
  }

  bool contains(const std::string& id) const {
    return local_.count(id) > 0;
  }

  bool empty() const noexcept {
    return local_.empty();
  }

  size_t size() const noexcept {
    return local_.size();
  }

  const std::unordered_map<std::string, local_child>& children() const noexcept {
    return local_;
  }

  /// Children running or starting here.
  uint64_t running() const noexcept {
    return in_phase(phase::running) + in_phase(phase::starting);
  }

  /// Of those, the ones whose start has not finished.
  uint64_t starting() const noexcept {
    return in_phase(phase::starting);
  }

  /// Whether more children wait to start than may start at once (a
  /// failover, a join): what can wait (interval snapshots, settling) waits.
  bool starts_backlogged() const noexcept {
    return starts_.waiting() > 0;
  }

  /// Wall-clock microseconds when a child last began to run here.
  uint64_t last_start_us() const noexcept {
    return last_start_us_;
  }

  /// Their list, by id.
  std::vector<ring_child> list() const;

  /// Counters for `ring_stats`.
  uint64_t moved_in() const noexcept {
    return moved_in_;
  }

  uint64_t moved_out() const noexcept {
    return moved_out_;
  }

  // -- starting ---------------------------------------------------------------------

  /// Starts a child this node owns: `c` describes it (spec, record, epoch,
  /// state). Requests that expected it wait for it.
  void start(const std::string& id, local_child c);

  /// Starts the queued children while the node holds its lease (call it
  /// when the lease is back).
  void pump_starts();

  /// The local supervisor started the child again after a crash.
  bool restarted(const std::string& id, caf::actor hdl);

  /// The local supervisor was replaced: every child running or starting
  /// starts again, from scratch, as OTP restarts children.
  void restart_all();

  /// A placement epoch above `previous` (a hybrid logical clock: the
  /// placements of a child are ordered even across nodes whose clocks
  /// differ a little).
  uint64_t next_epoch(uint64_t previous) {
    return std::max(io_.wall_us(), previous + 1);
  }

  // -- moving -------------------------------------------------------------------------

  /// Hands every child owned elsewhere to its owner (on a leaving node's
  /// ring: every child), and starts a held child this node owns now.
  void move_out();

  /// A request to the child was answered: returns true if a move that waited
  /// for its requests in flight goes on now.
  bool answered(const std::string& id);

  /// A handoff from another node: takes the child (or says why not).
  caf::error take(handoff& x);

  // -- stopping ----------------------------------------------------------------------

  /// Stops a running child at once, without its state (the others may run
  /// it by now), failing its waiting requests with `err`.
  void kill(const std::string& id, const caf::error& err);

  /// The child ended for good (deleted, terminated, finished): it stops and
  /// its requests fail with `err`. `stop`: it still runs and must be stopped.
  void drop(const std::string& id, const caf::error& err, bool stop);

  /// Forgets every child (their supervisor is killed with them), failing
  /// their requests with `no_owner` and `why`.
  void clear(const std::string& why);

  // -- requests that expect a child ---------------------------------------------------

  /// Holds a request for a child this node owns that is about to start or
  /// arrive here.
  void expect(const std::string& id, pending p) {
    expected_[id].push_back(std::move(p));
  }

  /// Fails the requests that expect `id`.
  void fail_expected(const std::string& id, const caf::error& err);

  /// Takes the requests that expect children for which `pass_on(id)`.
  template <class Predicate>
  std::vector<pending> take_expected(Predicate pass_on) {
    std::vector<pending> result;
    for (auto i = expected_.begin(); i != expected_.end();) {
      if (!pass_on(i->first)) {
        ++i;
        continue;
      }
      for (auto& p : i->second)
        result.push_back(std::move(p));
      i = expected_.erase(i);
    }
    return result;
  }

  /// Fails every request held here.
  void fail_all(const caf::error& err);

  /// Fails the requests waiting for `c`, and those in flight.
  static void fail_waiting(local_child& c, const caf::error& err);

private:

  void relaunch(const std::string& id);
  void start_finished(const std::string& id, uint64_t gen);
  void launch(const std::string& id, uint64_t gen);
  void begin_move(const std::string& id, const std::string& target);
  void take_state(const std::string& id);
  void stop_and_hand(const std::string& id, bool has_state, actor::bytes state,
                     restore_info origin);
  void from_snapshot(const std::string& id, const std::string& why);
  void move_finished(const std::string& id);
  void send_handoff(const std::string& id, const std::string& target);
  void handed(const std::string& id, const std::string& target, const caf::error& err,
              const caf::actor& to);
  void erase(const std::string& id);
  void set_phase(local_child& c, phase to);
  uint64_t in_phase(phase x) const noexcept {
    return in_phase_[static_cast<size_t>(x)];
  }

  std::string self_;
  std::string sup_;
  host_io& io_;
  record_keeper& records_;
  snapshot_keeper& snapshots_;
  migrate_function migrate_;
  std::unordered_map<std::string, local_child> local_;
  std::unordered_map<std::string, std::vector<pending>> expected_;
  uint64_t start_counter_ = 0;
  pacer<std::pair<std::string, uint64_t>> starts_; // (id, start_gen)
  pacer<std::string> moves_;
  uint64_t moved_in_ = 0;
  uint64_t moved_out_ = 0;
  uint64_t last_start_us_ = 0;
  std::array<uint64_t, 4> in_phase_{}; // children per phase (stats without a pass)
};

} // namespace ringvisor::ring
