#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include "ringvisor/actor/export.hpp"
#include "ringvisor/actor/factory_registry.hpp"
#include "ringvisor/actor/node_config.hpp"

namespace ringvisor::actor {

/// Who a node is: its logical name, an incarnation that grows with every
/// start of the process, and the endpoint it listens on.
struct node_identity {
  std::string name;
  uint64_t incarnation = 0;
  std::string host;
  uint16_t port = 0;

  /// Returns `host:port`.
  std::string endpoint() const {
    return host + ":" + std::to_string(port);
  }
};

/// One OS process of a ringvisor cluster: a `caf::actor_system` on the wire,
/// offering the node directory on `ringvisor.host:ringvisor.port`,
/// a factory registry, and an orderly shutdown that stops the actors the node adopted,
/// newest first.
///
/// Example:
/// ```
/// node_config cfg;
/// if (auto err = cfg.read(argc, argv)) ...
/// auto n = node::start(cfg);
/// if (!n) ...
/// (*n)->adopt(spawn_supervisor((*n)->system(), spec));
/// node::await_signal();   // SIGINT or SIGTERM
/// (*n)->shutdown();
/// ```
class RINGVISOR_ACTOR_EXPORT node {
public:
  /// Starts the actor system and opens the node's port. `cfg` must have
  /// been read and validated and must outlive the node.
  [[nodiscard]] static caf::expected<std::unique_ptr<node>>
  start(node_config& cfg);

  node(const node&) = delete;
  node& operator=(const node&) = delete;

  /// Shuts down if `shutdown` was not called, then stops the actor system.
  /// Scoped actors of this node's system must be gone by then.
  ~node();

  /// Returns the node's actor system.
  caf::actor_system& system() noexcept {
    return *system_;
  }

  /// Returns the configuration the node was started with.
  const node_config& config() const noexcept {
    return cfg_;
  }

  /// Returns the node's identity; `port` is the bound port.
  const node_identity& identity() const noexcept {
    return identity_;
  }

  /// Returns the child types this node can spawn by name.
  const std::shared_ptr<factory_registry>& factories() const noexcept {
    return factories_;
  }

  /// Returns the node directory, published on the node's port: peers that
  /// connect to the node get this handle (see `directory.hpp`).
  const caf::actor& directory() const noexcept {
    return directory_;
  }

  /// Makes the node stop `root` on shutdown, before anything adopted earlier.
  void adopt(caf::actor root);

  /// Registers `hdl` under `name` in the node directory (see `directory.hpp`),
  /// waiting at most `timeout`; fails with `errc::name_taken` if another
  /// live actor holds the name.
  [[nodiscard]] caf::error register_name(const std::string& name, const caf::actor& hdl,
                                         caf::timespan timeout = std::chrono::seconds{5});

  /// Stops the adopted actors newest first, each with `user_shutdown`,
  /// killing any still alive after `ringvisor.shutdown-grace`, and closes
  /// the node's port. The actor system stays up until the node is destroyed.
  /// Idempotent.
  void shutdown();

  /// Blocks the calling thread until SIGINT or SIGTERM and returns the
  /// signal number. Installs the handlers on first use.
  static int await_signal();

  /// Makes `await_signal` return SIGTERM, as if the signal arrived: how a
  /// node stops itself in order (an operator's request, say). Any thread.
  /// Returns false, doing nothing, if no thread waits in `await_signal`:
  /// the program would not notice.
  static bool request_stop();

private:
  node(node_config& cfg, node_identity id);

  node_config& cfg_;
  node_identity identity_;
  std::unique_ptr<caf::actor_system> system_;
  std::shared_ptr<factory_registry> factories_;
  caf::actor directory_;
  std::vector<caf::actor> adopted_;
  bool stopped_ = false;
};

} // namespace ringvisor::actor
