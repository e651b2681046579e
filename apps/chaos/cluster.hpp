#pragma once

// The node processes of a chaos run and the controller's own actor system,
// a client (no cluster member) that reaches each node through its directory.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <sys/types.h>

#include "ringvisor/actor/node_config.hpp"
#include "ringvisor/ring/ref.hpp"
#include "support/process.hpp"

namespace ringvisor::chaos {

/// Set by SIGINT or SIGTERM: the run ends early and goes to its checks.
extern std::atomic<bool> interrupted;

/// Sleeps for `d`, in slices, unless `interrupted`; returns `!interrupted`.
bool pause_for(std::chrono::milliseconds d);

/// How node processes are started.
struct node_settings {
  /// This program (`/proc/self/exe`), started with `node` first.
  std::string exe;
  std::string dir;
  std::chrono::milliseconds tick{5};
  std::string log_level = "info";
  /// `ringvisor.consensus` of every node.
  size_t consensus = 1;
};

/// What a node process is doing.
enum class node_state : uint8_t { running, stopped, dead };

/// N node processes `n1`..`nN` on 127.0.0.2.., each as root under its own
/// group id (`test::node_gid`, for partitions), and the client actor system.
/// Start, signal and restart nodes from one thread only (the main thread:
/// a node dies with the thread that started it); `usable`, `sup`, `forget`
/// and `system` are for any thread.
class chaos_cluster {
public:
  explicit chaos_cluster(node_settings settings);

  chaos_cluster(const chaos_cluster&) = delete;
  chaos_cluster& operator=(const chaos_cluster&) = delete;

  /// Kills every node still running.
  ~chaos_cluster();

  /// Starts `n` nodes, each seeded with the ones before; fails with a
  /// message if one does not print `listening` within 15 s.
  std::optional<std::string> start(size_t n);

  /// Returns how many nodes the run has.
  size_t size() const noexcept {
    return nodes_.size();
  }

  /// Returns the name of node `i` (`n<i+1>`).
  std::string name(size_t i) const;

  /// Returns `host:port` of node `i`.
  std::string endpoint(size_t i) const;

  /// Returns the pid of node `i`'s current (or last) process.
  pid_t pid(size_t i) const;

  /// Returns the group id node `i` runs under, if any.
  std::optional<gid_t> gid(size_t i) const;

  /// Returns what node `i` is doing.
  node_state state(size_t i) const;

  /// Kills node `i` with SIGKILL and reaps it.
  void kill9(size_t i);

  /// Suspends (SIGSTOP) or resumes (SIGCONT) node `i`.
  void suspend(size_t i);
  void resume(size_t i);

  /// Sends SIGTERM (and SIGCONT) and waits at most `timeout` for the exit;
  /// returns its exit code, or nothing if it had to be killed.
  std::optional<int> terminate(size_t i, std::chrono::milliseconds timeout);

  /// Starts a dead node again: same name, address, group and port (any
  /// port if that is taken), seeded with every other live node.
  std::optional<std::string> restart(size_t i);

  /// Returns the nodes that run and are not suspended.
  std::vector<size_t> usable() const;

  /// Returns the pids of the processes alive (running or suspended).
  std::set<int64_t> live_pids() const;

  /// Returns the ring supervisor "chaos" on node `i` (cached per process).
  caf::expected<ring::ref> sup(size_t i);

  /// Drops the cached handles of node `i` (after a failed call).
  void forget(size_t i);

  /// Returns whether every live node reports status `up` and all nodes as
  /// up members; `seen` gets a line per node that does not.
  bool converged(std::string& seen);

  /// Returns the controller's actor system.
  caf::actor_system& system() noexcept {
    return *sys_;
  }

private:
  struct node {
    std::string name;
    std::string host;
    std::optional<gid_t> gid;
    uint16_t port = 0;
    pid_t pid = 0;
    node_state state = node_state::dead;
    std::unique_ptr<test::process> proc;
    caf::actor sup;   // cached, for `pid`
    caf::actor agent; // cached, for `pid`
  };

  std::optional<std::string> launch(size_t i, const std::vector<std::string>& seeds,
                                    uint16_t port);

  caf::expected<caf::actor> lookup(size_t i, const std::string& name, caf::actor node::*slot);

  node_settings settings_;
  actor::node_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  mutable std::mutex mtx_; // guards the fields of `nodes_` but `proc`
  std::vector<node> nodes_;
};

} // namespace ringvisor::chaos
