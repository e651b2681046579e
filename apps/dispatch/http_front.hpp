// The dashboard's front door to the network: it accepts connections and
// reads request heads itself, so that slow or flooding clients cannot take
// the page offline, and hands complete requests to httplib's routes.
//
// httplib alone gives each connection a thread of a small pool from its
// accept and lets a client hold it as long as it sends a header line within
// every read timeout: eight clients dribbling headers took a dashboard
// offline. Here one thread waits on every connection that is still sending
// its head (epoll), each head must arrive whole within a deadline, heads in
// progress are capped overall and per client address (the oldest gives way
// to a newcomer), and only complete requests reach the pool.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <caf/expected.hpp>
#include <httplib.h>

namespace dispatch {

/// httplib's routes and handlers, answered one request at a time by an
/// `http_front` instead of httplib's own listener.
class http_routes : public httplib::Server {
public:
  using httplib::Server::process_request;
};

/// How much a front lets clients take; the defaults suit a dashboard.
struct http_limits {
  /// Longest request head (request line and headers), in bytes.
  size_t max_head = 8 * 1024;
  /// Time from the accept to the end of the head.
  std::chrono::milliseconds head_deadline{2000};
  /// Connections still sending their head, at most; the oldest gives way.
  size_t max_pending = 512;
  /// The same per client address.
  size_t max_pending_per_peer = 64;
  /// Threads that answer complete requests.
  size_t workers = 4;
  /// Complete requests that wait for a thread, at most; more get a 503.
  size_t max_queued = 64;
  /// Time to read a request's body, and to write its response.
  std::chrono::milliseconds io_deadline{5000};
};

/// What a front did with the connections it accepted, since its start.
struct http_front_counters {
  uint64_t accepted = 0;
  /// Did not send a whole head in time (answered 408 if they began one).
  uint64_t expired = 0;
  /// Closed to make room for a newer connection.
  uint64_t evicted = 0;
  /// Sent a head longer than the limit (answered 431).
  uint64_t oversize = 0;
  /// Complete requests refused for a full queue (answered 503).
  uint64_t busy = 0;
  /// Requests answered by the routes.
  uint64_t served = 0;
};

/// Opens a listening socket on `host:port` (0: any free port), trying each
/// address of the host in turn; fails with a reason if none binds.
caf::expected<int> open_listener(const std::string& host, uint16_t port);

/// Serves `routes` on a listening socket; stops at destruction (requests in
/// progress finish first).
class http_front {
public:
  /// Takes `listener` (from `open_listener`; closed by the front, also on
  /// failure) and starts serving. `routes`
  /// must outlive the front. Answers without keep-alive: a connection
  /// carries one request.
  static caf::expected<std::unique_ptr<http_front>> start(http_routes& routes, int listener,
                                                          http_limits limits = {});

  ~http_front();

  /// Returns the bound port.
  uint16_t port() const noexcept;

  /// Returns what happened so far.
  http_front_counters counters() const noexcept;

  struct impl;

private:
  explicit http_front(std::unique_ptr<impl> ptr);
  std::unique_ptr<impl> impl_;
};

} // namespace dispatch
