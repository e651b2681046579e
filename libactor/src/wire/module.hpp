#pragma once

// The wire as a module of CAF's actor system (private to libactor). It
// takes the slot CAF 0.17 keeps for a network manager (`caf::net::
// middleman`, not shipped by Debian's CAF), which may set the system's node
// id: without one, every handle would look local. It owns the transport,
// the engine and the hub, and an actor that connects to other nodes.

#include <memory>

#include <caf/actor_system.hpp>
#include <caf/config.hpp>

#include "wire/engine.hpp"
#include "wire/hub.hpp"
#include "wire/tls.hpp"
#include "wire/transport.hpp"

static_assert(CAF_VERSION == 1706, "the wire's module relies on CAF 0.17.6 internals");

namespace ringvisor::actor::wire {

/// What `use_wire` hands to the module.
struct module_config {
  engine_config engine;
  std::string name;
  std::string host; // outbound connections come from it
  bool insecure = false;
  std::shared_ptr<const tls_context> tls; // null: plain TCP
};

} // namespace ringvisor::actor::wire

namespace caf::net {

class middleman final : public caf::actor_system::module {
public:
  middleman(caf::actor_system& sys, ringvisor::actor::wire::module_config cfg);

  ~middleman() override;

  void start() override;
  void stop() override;
  void init(caf::actor_system_config&) override;

  id_t id() const override {
    return network_manager;
  }

  void* subtype_ptr() override {
    return this;
  }

  ringvisor::actor::wire::engine& engine() {
    return *engine_;
  }

  ringvisor::actor::wire::hub& hub() {
    return *hub_;
  }

  ringvisor::actor::wire::transport& transport() {
    return *transport_;
  }

  /// The actor answering `(connect_atom, host, port)`.
  const caf::actor& connector() const noexcept {
    return connector_;
  }

  /// The directory peers get once it listens (else null).
  const caf::actor& directory() const noexcept {
    return directory_;
  }

  void directory(caf::actor x) {
    directory_ = std::move(x);
  }

  const ringvisor::actor::wire::module_config& config() const noexcept {
    return cfg_;
  }

private:
  caf::actor_system& sys_;
  ringvisor::actor::wire::module_config cfg_;
  std::unique_ptr<ringvisor::actor::wire::transport> transport_;
  std::shared_ptr<ringvisor::actor::wire::hub> hub_;
  std::unique_ptr<ringvisor::actor::wire::engine> engine_;
  caf::actor connector_;
  caf::actor directory_;
};

} // namespace caf::net
