#pragma once

// The seam under the wire (private to libactor): a transport moves bytes
// between this process and others and keeps time; the engine above it does
// everything else (handshake, frames, peers, heartbeats, queues, limits). So
// TCP and, later, a simulated network of a thousand nodes run the same
// protocol code; only sockets and clocks differ.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include <caf/expected.hpp>
#include <caf/timespan.hpp>

namespace ringvisor::actor::wire {

/// The wire's clock (a simulated transport keeps virtual time).
using clock = std::chrono::steady_clock;

/// Names one connection; never reused within a transport.
using link_id = uint64_t;

/// A run of bytes to write.
struct chunk {
  const uint8_t* data;
  size_t size;
};

/// What a transport reports, implemented by the engine. A transport calls
/// these from one thread at a time and never from inside its own methods.
class transport_events {
public:
  virtual ~transport_events() = default;

  /// A connection exists: accepted (`cookie` 0) or dialled by `connect`.
  virtual void on_link_up(link_id id, bool outbound, const std::string& remote_host,
                          uint64_t cookie) = 0;

  /// The dial with `cookie` found no connection.
  virtual void on_connect_failed(uint64_t cookie, const std::string& why) = 0;

  /// Bytes arrived on `id`, in order; `data` is not kept after the call.
  virtual void on_bytes(link_id id, const uint8_t* data, size_t size) = 0;

  /// `id` can take more bytes after a short `try_write`.
  virtual void on_writable(link_id id) = 0;

  /// `id` is closed (EOF, reset, or `close`); nothing more comes for it.
  virtual void on_link_down(link_id id, const std::string& why) = 0;

  /// Called every tick interval.
  virtual void on_tick(clock::time_point now) = 0;
};

/// Moves bytes. `try_write` and `close` may be called from any thread.
class transport {
public:
  virtual ~transport() = default;

  /// Starts reporting to `events`, with `on_tick` every `tick`.
  virtual void start(transport_events& events, caf::timespan tick) = 0;

  /// Stops; no callback runs after it returns.
  virtual void stop() = 0;

  /// Accepts connections on `host:port` (0: any free port); returns the port.
  virtual caf::expected<uint16_t> listen(const std::string& host, uint16_t port) = 0;

  /// Dials `host:port`; reports `on_link_up` or `on_connect_failed` with `cookie`.
  virtual void connect(const std::string& host, uint16_t port, caf::timespan timeout,
                       uint64_t cookie) = 0;

  /// Writes what `id` takes now, never blocking, and returns how many bytes
  /// that was. After a short count, `on_writable(id)` follows once it drains.
  virtual size_t try_write(link_id id, const chunk* chunks, size_t count) = 0;

  /// Closes `id`; `on_link_down(id)` follows.
  virtual void close(link_id id) = 0;

  /// Returns the current time.
  virtual clock::time_point now() const = 0;

  /// Fills `out[0..size)` with random bytes (seeded in a simulation).
  virtual void random_bytes(uint8_t* out, size_t size) = 0;

  /// Returns whether the peer on `id` proved with a certificate that it is
  /// `name` (always true for a transport without certificates).
  virtual bool peer_named(link_id, const std::string&) const {
    return true;
  }
};

} // namespace ringvisor::actor::wire
