// The dispatch node's web side: the dashboard page, its JSON API and the
// Prometheus metrics: cpp-httplib's routes behind a front of our own
// (http_front.hpp), bridged into CAF by blocking requests with timeouts.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/expected.hpp>

#include "ringvisor/actor/node.hpp"

namespace dispatch {

/// Where the dashboard listens, what it talks to and who may change things.
struct dashboard_options {
  std::string host = "127.0.0.1";
  uint16_t port = 0; // 0: any free port
  /// Required (`Authorization: Bearer <token>`) by every request that
  /// changes something: creating, pausing, resuming or retiring a hero,
  /// stopping a node.
  std::string token;
  caf::actor agent;
  /// The name of the heroes' ring supervisor, looked up at every request
  /// (its parent may have restarted it).
  std::string heroes;
  caf::timespan timeout = std::chrono::seconds{3};
};

/// The running HTTP server. Routes:
/// - `GET /`: the page (embedded in the binary);
/// - `GET /api/state`: this node, its cluster view, the ring, every hero
///   (with its place on the ring) and the last changes made through any
///   node's dashboard;
/// - `GET /api/ring`: the ring's members, their shares, and which of them
///   owns the most of each of 4096 slices (to draw it);
/// - `POST /api/heroes` with `{"name": "..."}`: creates a hero;
/// - `DELETE /api/heroes/<id>`: terminates a hero for good;
/// - `POST /api/heroes/<id>/pause` and `.../resume`: pauses a hero (it
///   neither fights nor rests, also after a move) or lets it go on;
/// - `POST /api/nodes/<name>/stop`: stops a node in order (its heroes move);
/// - `GET /metrics`: Prometheus text format.
class dashboard {
public:
  /// Fails if `host:port` is taken (by another dashboard, say): a node
  /// checks before it joins its cluster. `start` binds for good.
  static caf::error check_port(const std::string& host, uint16_t port);

  /// Binds the port and starts serving; fails if the port is taken.
  static caf::expected<std::unique_ptr<dashboard>> start(ringvisor::actor::node& node,
                                                         dashboard_options opts);

  /// Stops serving.
  ~dashboard();

  /// Returns the bound port.
  uint16_t port() const noexcept;

  struct impl;

private:
  explicit dashboard(std::unique_ptr<impl> ptr);
  std::unique_ptr<impl> impl_;
};

} // namespace dispatch
