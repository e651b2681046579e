#pragma once

// What one node does about snapshots (private to libring), as plain
// code behind the ring manager, which does the messaging (`snapshot_io`):
// - for the children running here: when to take one (their policies, in
//   rounds), how many state requests are out (paced), numbering them (epoch,
//   sequence), and which replicas each goes to (batched per member);
// - as a replica: the newest snapshot of each child it keeps;
// - after a ring change: sending snapshots to the replicas new to a child's
//   list, and forgetting the ones this node no longer keeps.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/timespan.hpp>

#include "ringvisor/cluster/hash_ring.hpp"
#include "ringvisor/supervision/child_spec.hpp"
#include "settling.hpp"
#include "snapshots.hpp"
#include "supervision_names.hpp"

namespace ringvisor::ring {

/// The ring manager's side of the keeper: the messages and the clocks.
class snapshot_io {
public:
  virtual ~snapshot_io() = default;

  /// Whether the child `id`, in its start `gen`, runs here and may be asked
  /// for its state now (it runs, the node holds its lease).
  virtual bool may_ask(const std::string& id, uint64_t gen) = 0;

  /// Whether the node is busy starting children (a failover, a join): the
  /// interval snapshots due meanwhile are skipped, each until its next
  /// interval. Snapshots after calls and checkpoints are not.
  virtual bool busy() {
    return false;
  }

  /// Asks the child for its state; the answer (or its failure) goes to
  /// `snapshot_keeper::answered`.
  virtual void ask_state(const std::string& id, uint64_t gen) = 0;

  /// Sends snapshots to the ring supervisor of `member`.
  virtual void send_snapshots(const std::string& member, std::vector<snapshot_entry> xs) = 0;

  /// Calls `snapshot_keeper::round` after `delay`.
  virtual void arm_round(caf::timespan delay) = 0;

  /// Calls `snapshot_keeper::flush` once the messages queued now are handled.
  virtual void flush_soon() = 0;

  virtual std::chrono::steady_clock::time_point now() = 0;

  /// Wall-clock microseconds (the age of a snapshot on another node).
  virtual uint64_t wall_us() = 0;
};

/// Limits of a keeper.
struct snapshot_limits {
  /// Members that keep each child's snapshots (its preference list).
  size_t replicas = 3;
  /// State requests out at a time: a node that cannot keep up with its
  /// children's policies takes snapshots less often instead of flooding its
  /// manager's mailbox, where moves and requests wait behind them.
  size_t max_asks = 128;
  /// Snapshots per message between members (and ids per fetch): well below
  /// the wire's frame limit (`ringvisor.max-frame`, 4 MiB by default).
  size_t per_message = 1000;
  /// The shortest interval between two snapshots of one child.
  caf::timespan min_interval = std::chrono::milliseconds{10};
  /// Interval snapshots are taken in rounds a tenth of the shortest interval
  /// apart but at most this far: one timer wake-up and one burst of state
  /// requests per round instead of one per child (CAF's idle workers poll
  /// for a while after each burst, which costs more than the snapshots).
  caf::timespan max_round = std::chrono::milliseconds{100};
};

class snapshot_keeper {
public:
  using time_point = std::chrono::steady_clock::time_point;
  /// Returns the hash of a child's ring key.
  using key_hash_fn = std::function<uint64_t(const std::string& id)>;

  snapshot_keeper(std::string self, snapshot_io& io, key_hash_fn key_hash,
                  snapshot_limits limits = {});

  // -- the children running here ----------------------------------------------

  /// The child `id` started here (start `gen`, under the version `record`
  /// of its record, placement `epoch`). If it takes snapshots by itself
  /// (`every`, `after_each_call`), its replicas get the state it started
  /// with (or none) at sequence 0, so a stale owner's later snapshots lose
  /// against it, and its interval snapshots begin. A child that takes them
  /// on request only costs nothing until its first checkpoint.
  void started(const std::string& id, uint64_t gen, uint64_t record, uint64_t epoch,
               const snapshot_policy& policy, bool has_state, actor::bytes state);

  /// The child no longer runs here (moved, stopped, deleted): its state
  /// request, if one is out, no longer counts (an answer may never come).
  void stopped(const std::string& id);

  /// No child runs here any more (split, declared down, stopping).
  void stopped_all();

  /// The child answered a call: a snapshot if its policy says so.
  void called(const std::string& id);

  /// The running instance of the child (start `gen`, `record`, placement
  /// `epoch`, its policy) sent its state: the caller checked that it runs
  /// here now.
  void checkpoint(const std::string& id, uint64_t gen, uint64_t record, uint64_t epoch,
                  const snapshot_policy& policy, actor::bytes state);

  /// The answer to `snapshot_io::ask_state`: the state, or null if the
  /// child failed to give it. `may_keep`: the node still holds its lease.
  /// An answer for a start that stopped meanwhile is ignored.
  void answered(const std::string& id, uint64_t gen, actor::bytes* state, bool may_keep);

  /// Takes the interval snapshots due now; see `snapshot_io::arm_round`.
  void round();

  /// Sends what `put` batched; see `snapshot_io::flush_soon`.
  void flush();

  // -- the replicas ------------------------------------------------------------

  /// Keeps the snapshots that `accept` accepts (of children not deleted,
  /// taken under their current record).
  template <class Predicate>
  void received(std::vector<snapshot_entry>& xs, Predicate accept) {
    for (auto& x : xs)
      if (accept(x) && table_.apply(x.id, std::move(x.snap)))
        changed(x.id);
  }

  /// Keeps `x` if it is the newest of `id` (a restore found it elsewhere).
  void adopt(const std::string& id, const snapshot& x) {
    if (table_.apply(id, x))
      changed(id);
  }

  /// Keeps `x` if it is the newest of `id`, read from a store at start.
  /// The next `settle` sends it to the child's list from here.
  void load(const std::string& id, snapshot x) {
    if (table_.apply(id, std::move(x)))
      unsettled_.insert(id);
  }

  // -- changes for a durable store --------------------------------------------

  /// Remembers which children's snapshots change from now on (`changes`).
  void track_changes() {
    tracking_ = true;
  }

  /// Returns the ids whose snapshot changed since the last call, forgetting
  /// them.
  std::vector<std::string> changes() {
    std::vector<std::string> result{changed_.begin(), changed_.end()};
    changed_.clear();
    return result;
  }

  const snapshot_table& table() const noexcept {
    return table_;
  }

  /// Forgets the snapshots of `id` (deleted or terminated).
  void forget(const std::string& id) {
    table_.erase(id);
  }

  // -- the ring --------------------------------------------------------------------

  /// The ring the children's replicas are placed on now.
  /// The first ring counts as settled.
  void place_on(const cluster::hash_ring& ring) {
    ring_ = ring;
    if (!placed_) {
      placed_ = true;
      settled_ring_ = ring;
    }
  }

  /// Returns the members that keep `id`'s snapshots on the current ring.
  std::vector<std::string_view> replicas_of(const std::string& id) const {
    return replicas_of(id, ring_);
  }

  /// Some time after the ring changed (or members restarted, `restarted`,
  /// and lost their copies): sends each snapshot held to the members new to
  /// the child's list (see `settle_targets`). A snapshot of a child this
  /// node no longer keeps (and does not run) goes to every member of its
  /// list, and `forget_left` forgets it later: a lost message, or a first
  /// old replica with an older copy, loses nothing meanwhile.
  void settle(const std::set<std::string>& restarted = {});

  /// Forgets the snapshots that the last `settle` sent away, unless this
  /// node keeps or runs their children again. Returns how many.
  size_t forget_left();

  // -- numbers -------------------------------------------------------------------

  /// Snapshots taken (or started with) here.
  uint64_t taken() const noexcept {
    return taken_;
  }

  /// State requests out.
  size_t asks() const noexcept {
    return asks_out_.size();
  }

  const snapshot_limits& limits() const noexcept {
    return limits_;
  }

private:
  /// A child running here.
  struct child {
    uint64_t gen = 0;
    uint64_t record = 0;
    uint64_t epoch = 0;
    uint64_t seq = 0; // the next snapshot's number in `epoch`
    snapshot_policy policy;
    bool busy = false;  // a state request is out or waits in line
    bool again = false; // another snapshot is wanted after it
  };

  std::vector<std::string_view> replicas_of(const std::string& id,
                                            const cluster::hash_ring& ring) const {
    return ring.preference_list_hash(key_hash_(id), limits_.replicas);
  }

  caf::timespan interval_of(const child& c) const {
    return std::max(c.policy.interval, limits_.min_interval);
  }

  void put(const std::string& id, child& c, bool has_state, actor::bytes state);
  void changed(const std::string& id) {
    if (tracking_)
      changed_.insert(id);
  }
  void take(const std::string& id, child& c);
  void ask(const std::string& id, child& c);
  void schedule(const std::string& id, uint64_t gen, caf::timespan delay);
  void arm(time_point at);
  void pump();

  std::string self_;
  snapshot_io& io_;
  key_hash_fn key_hash_;
  snapshot_limits limits_;
  cluster::hash_ring ring_;
  cluster::hash_ring settled_ring_; // the ring at the last `settle`
  bool placed_ = false;             // on a ring once
  std::unordered_set<std::string> unsettled_; // loaded since the last `settle`
  std::vector<std::string> left_; // sent away by the last `settle`
  std::unordered_map<std::string, child> children_;
  snapshot_table table_;
  snapshot_clock clock_; // interval snapshots
  std::optional<time_point> armed_; // the next round
  caf::timespan round_; // between two rounds
  std::unordered_map<std::string, uint64_t> asks_out_; // id -> gen asked
  std::deque<std::pair<std::string, uint64_t>> line_; // (id, gen) to ask next
  std::map<std::string, std::vector<snapshot_entry>> out_; // per member
  bool flush_due_ = false;
  uint64_t taken_ = 0;
  bool tracking_ = false;
  std::unordered_set<std::string> changed_; // since the last `changes`
};

} // namespace ringvisor::ring
