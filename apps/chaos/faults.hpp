#pragma once

// The faults of a chaos run, one at a time, each undone before it returns:
// kill -9 then restart, SIGSTOP then SIGCONT, SIGTERM (graceful leave) then
// restart, an iptables partition (majority | minority, or one broken pair)
// then heal, CPU starvation by busy-loop processes, and a restart while cut
// off (kill -9, restart behind a cut, heal).

#include <chrono>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "cluster.hpp"
#include "ledger_check.hpp"
#include "options.hpp"

namespace ringvisor::test {
struct cut_member; // support/netcut.hpp
} // namespace ringvisor::test

namespace ringvisor::chaos {

/// One injected fault, as the table and the progress lines show it.
struct fault_record {
  fault_kind kind = fault_kind::kill9;
  /// The nodes it hit, e.g. `n2` or `n1,n4|n2,n3,n5`.
  std::string target;
  int64_t begin_ns = 0;
  int64_t end_ns = 0;
  /// What happened, e.g. `held 3.2 s` or `restarted as pid 4711`.
  std::string note;
  /// Whether undoing it failed (a node that did not come back).
  bool failed = false;
};

/// Injects faults into `c`, every random choice drawn from `rng`. Runs on
/// the thread that started the nodes.
class fault_injector {
public:
  /// Uses the kinds of `wanted` that can run here; `notes` gets a line for
  /// each one that cannot (partitions without root or iptables, or with
  /// fewer than two nodes).
  fault_injector(chaos_cluster& c, const std::set<fault_kind>& wanted, std::mt19937_64& rng,
                 std::vector<std::string>& notes);

  /// Returns whether there is any kind to inject.
  bool any() const noexcept {
    return !kinds_.empty();
  }

  /// Injects one fault of a random usable kind and undoes it.
  fault_record inject_one();

  /// Returns every node process killed with SIGKILL (kill9 faults, and
  /// nodes that ignored SIGTERM).
  const std::vector<kill_event>& kills() const noexcept {
    return kills_;
  }

  /// Returns every SIGSTOP ... SIGCONT of a node process (stop faults).
  const std::vector<pause_event>& pauses() const noexcept {
    return pauses_;
  }

private:
  fault_record kill9();
  fault_record stop();
  fault_record term();
  fault_record partition();
  fault_record starve();
  fault_record isolated();

  // The node processes' restarts after kill9 and term.
  void restart(size_t i, fault_record& out);

  // Cuts the network between `sides`, runs `meanwhile`, holds the cut for
  // `hold` and heals it; `out` gets failures and the end time.
  void cut_for(const std::vector<std::vector<test::cut_member>>& sides,
               std::chrono::milliseconds hold, fault_record& out,
               const std::function<void()>& meanwhile);

  size_t pick_node();
  std::chrono::milliseconds pick_ms(int64_t lo, int64_t hi);

  chaos_cluster& cluster_;
  std::mt19937_64& rng_;
  std::vector<fault_kind> kinds_;
  std::vector<kill_event> kills_;
  std::vector<pause_event> pauses_;
};

} // namespace ringvisor::chaos
