#pragma once

// The workload of a chaos run: client threads that send `inc` to random
// children through random usable nodes (`ring::ref::call`) at a
// fixed total rate, and record every acknowledged reply; and an operator
// thread that moves random children to random nodes and back
// (`ring::ref::pin_child`).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster.hpp"
#include "ledger_check.hpp"

namespace ringvisor::chaos {

/// Counts of a workload's calls.
struct workload_stats {
  uint64_t calls = 0;
  uint64_t acked = 0;
  /// Pins and unpins asked, those acknowledged, and the others by error.
  uint64_t moves = 0;
  uint64_t moves_acked = 0;
  std::map<std::string, uint64_t> moves_failed;
  /// Failed calls by error (not violations: an unacknowledged call may or
  /// may not have been applied).
  std::map<std::string, uint64_t> failed;
};

/// Client threads calling `(inc_atom, request id)`; request ids are unique
/// within the run.
///
/// Example:
/// ```
/// workload w{cluster, ids, {4, 100.0, 3s, seed}};
/// w.start();
/// ...
/// w.stop();
/// auto acks = w.acks();
/// ```
class workload {
public:
  struct config {
    size_t threads = 4;
    /// Calls per second over all threads; 0: no calls.
    double rate = 100;
    std::chrono::milliseconds call_timeout{3000};
    uint64_t seed = 0;
    /// Moves per second (a pin to a random node, or one in three back to
    /// the ring owner); 0: none.
    double move_rate = 1;
  };

  workload(chaos_cluster& c, std::vector<std::string> children, config cfg);

  workload(const workload&) = delete;
  workload& operator=(const workload&) = delete;

  /// Stops and joins the threads.
  ~workload();

  /// Starts the client threads.
  void start();

  /// Stops them and waits until each finished its call.
  void stop();

  /// Returns every acknowledged call so far.
  std::vector<ack> acks() const;

  /// Returns the counts so far.
  workload_stats stats() const;

private:
  void run(size_t index);
  void move_children();

  chaos_cluster& cluster_;
  std::vector<std::string> children_;
  config cfg_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
  mutable std::mutex mtx_;
  std::vector<ack> acks_;
  workload_stats stats_;
};

} // namespace ringvisor::chaos
