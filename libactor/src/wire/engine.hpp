#pragma once

// The wire's protocol engine (private to libactor): everything between the
// bytes of a transport and the frames the actor glue exchanges. Per link:
// the handshake (before any frame is parsed), the hello that names the peer,
// the duplicate-link rules, heartbeats and the silence timeout, and a
// bounded outbound queue written from the sending thread. Across links: the
// peer table, dials with deadlines, and the limits on unauthenticated
// connections. No actors and no sockets: a `transport` brings the bytes.
//
// Threads: the transport's callbacks run on one thread (the I/O thread);
// `send` may run on any thread; `dial` and `peer` too.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/expected.hpp>
#include <caf/sec.hpp>

#include "wire/frame.hpp"
#include "wire/handshake.hpp"
#include "wire/transport.hpp"

namespace ringvisor::actor::wire {

/// Limits and timers of the wire.
struct engine_config {
  block key{};                                       // see `derive_key`
  uint32_t max_frame = 4u << 20;                     // bytes of payload
  caf::timespan handshake_timeout = std::chrono::seconds{2};
  caf::timespan heartbeat_interval = std::chrono::milliseconds{200};
  caf::timespan connection_timeout = std::chrono::seconds{3};
  size_t max_unauthenticated = 64;                   // inbound, in total
  size_t max_unauthenticated_per_host = 8;           // inbound, per source address
  size_t max_peers = 1024;                           // authenticated links
  size_t max_queue = 16u << 20;                      // unsent bytes per link
};

/// Who one end of a link is; each side sends its own after the handshake.
struct hello_info {
  std::string node;     // the node id as bytes: opaque here, compared as bytes
  std::string name;     // for logs
  std::string endpoint; // where it accepts links; empty for a client
  std::string extra;    // for the layer above (the directory's actor id)
};

/// Counters of the wire (the node's metrics read them).
struct wire_stats {
  std::atomic<uint64_t> links_accepted{0};
  std::atomic<uint64_t> peers_up{0};
  std::atomic<uint64_t> peers_down{0};
  std::atomic<uint64_t> handshake_failures{0};    // wrong secret, cluster, version or certificate name
  std::atomic<uint64_t> handshake_timeouts{0};
  std::atomic<uint64_t> unauthenticated_refused{0}; // over a limit at accept
  std::atomic<uint64_t> protocol_errors{0};       // bad frames, oversize lengths
  std::atomic<uint64_t> oversize_frames{0};
  std::atomic<uint64_t> silent_closes{0};         // no byte for connection-timeout
  std::atomic<uint64_t> duplicates_refused{0};
  std::atomic<uint64_t> queue_full{0};            // sends refused on a full queue
  std::atomic<uint64_t> bytes_out{0};
  std::atomic<uint64_t> bytes_in{0};
};

/// One connection and its protocol state.
struct link {
  enum class phase : uint8_t {
    challenged,         // acceptor: sent the challenge, awaits the response
    awaiting_challenge, // dialer
    awaiting_proof,     // dialer: sent the response
    awaiting_hello,     // acceptor: authenticated
    awaiting_alive,     // acceptor: asked the dialer about an older link
    awaiting_welcome,   // dialer: sent its hello
    active,
    closed,
  };

  link(link_id lid, bool dialled_here, std::string from, uint32_t max_frame)
    : id(lid), outbound(dialled_here), remote_host(std::move(from)), parser(max_frame) {
    // nop
  }

  const link_id id;
  const bool outbound;
  const std::string remote_host;

  /// The peer, once `active` (immutable from then on).
  hello_info peer;

  /// The first 8 bytes of the session key, once authenticated.
  uint64_t session = 0;

  /// The layer above's state for this link (set in `on_peer_up`, read on
  /// the I/O thread).
  std::shared_ptr<void> user;

  // -- I/O thread only ---------------------------------------------------------
  phase state = phase::challenged;
  std::optional<acceptor_handshake> acceptor;
  std::optional<dialer_handshake> dialer;
  std::vector<uint8_t> raw; // handshake bytes so far
  frame_parser parser;
  clock::time_point opened;
  clock::time_point last_in;
  std::string dialled; // "host:port" for a dialled link

  // -- any thread, under `out_mtx` ------------------------------------------
  std::mutex out_mtx;
  std::vector<uint8_t> out; // bytes the transport has not taken yet
  size_t out_off = 0;
  bool out_closed = false;
  bool flushing = false;       // a thread writes to the transport now
  bool writable_again = false; // the transport drained while it did
  std::atomic<int64_t> last_out{0}; // clock ticks of the last write

  /// Returns whether the link carries frames of the layer above.
  bool is_active() const noexcept {
    return active_.load(std::memory_order_acquire);
  }

  std::atomic<bool> active_{false};
};

using link_ptr = std::shared_ptr<link>;

/// What the engine reports to the layer above (on the I/O thread).
class engine_listener {
public:
  virtual ~engine_listener() = default;

  /// `l` is authenticated and named; frames may flow.
  virtual void on_peer_up(const link_ptr& l) = 0;

  /// `l`, once up, is gone; `why` says how.
  virtual void on_peer_down(const link_ptr& l, const std::string& why) = 0;

  /// A frame for the layer above arrived on `l`.
  virtual void on_frame(const link_ptr& l, frame& f) = 0;
};

class engine final : public transport_events {
public:
  /// What became of a `send`.
  enum class send_result : uint8_t { ok, closed, overloaded, too_large };

  /// The outcome of a dial: the link to the peer, or why there is none.
  using dial_callback = std::function<void(caf::expected<link_ptr>)>;

  engine(transport& io, engine_config cfg, hello_info self, engine_listener& up);

  ~engine() override;

  /// Returns this end's hello.
  hello_info self() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return self_;
  }

  /// Changes this end's hello (once it listens), for links made after.
  void set_self(hello_info x) {
    std::lock_guard<std::mutex> guard{mtx_};
    self_ = std::move(x);
  }

  const engine_config& config() const noexcept {
    return cfg_;
  }

  const wire_stats& stats() const noexcept {
    return stats_;
  }

  /// Number of authenticated links.
  size_t peer_count() const;

  /// Number of inbound links still in their handshake.
  size_t unauthenticated_count() const;

  /// Reaches the node at `host:port`: at once if a link to it is up, else
  /// after a dial (one per endpoint at a time). `done` runs exactly once,
  /// on some thread, within `timeout`.
  void dial(const std::string& host, uint16_t port, caf::timespan timeout, dial_callback done);

  /// Writes a frame to `l` from any thread, without blocking. Control frames
  /// (`control`) pass a full queue, since dropping them would break the
  /// protocol (a lost `down` leaves a proxy alive).
  send_result send(link& l, frame_type type, uint8_t flags, const uint8_t* payload,
                   size_t size, bool control = false);

  /// Returns the active link to the node `node`, if any.
  link_ptr peer(const std::string& node) const;

  /// Closes `l`; the layer above hears `on_peer_down` if it was up.
  void close(link& l, const std::string& why);

  /// Says `bye` on every link and closes them (the transport stops next).
  void shutdown();

  // -- transport_events --------------------------------------------------------
  void on_link_up(link_id id, bool outbound, const std::string& remote_host,
                  uint64_t cookie) override;
  void on_connect_failed(uint64_t cookie, const std::string& why) override;
  void on_bytes(link_id id, const uint8_t* data, size_t size) override;
  void on_writable(link_id id) override;
  void on_link_down(link_id id, const std::string& why) override;
  void on_tick(clock::time_point now) override;

private:
  struct dial_state {
    std::string endpoint;
    clock::time_point deadline;
    std::vector<dial_callback> waiting;
    link_id link = 0; // once connected
  };

  link_ptr find(link_id id) const;
  send_result write(link& l, const chunk* parts, size_t count, bool bounded);
  void drain(link& l, std::unique_lock<std::mutex>& guard);
  void write_raw(link& l, const std::vector<uint8_t>& bytes);
  void flush(link& l);
  void consume_handshake(const link_ptr& l, const uint8_t*& data, size_t& size);
  void handle_frame(const link_ptr& l, frame& f);
  void on_hello(const link_ptr& l, hello_info info);
  void on_welcome(const link_ptr& l, hello_info info);
  void on_reject(const link_ptr& l, const std::string& reason);
  void on_alive_question(const link_ptr& l, uint64_t session);
  void on_alive_answer(const link_ptr& l, bool alive);
  void refuse(const link_ptr& l, const std::string& reason, const std::string& why);
  void welcome(const link_ptr& l);
  void go_active(const link_ptr& l);
  void fail_dial(uint64_t cookie, caf::error why);
  void fail_dials_of(const link& l, const caf::error& why);
  void complete_dials(const std::string& endpoint, const link_ptr& l);
  // What becomes of the dials waiting for a link that closes: they fail,
  // or they wait for the link that won against it.
  enum class dials : uint8_t { fail, keep };
  void drop(const link_ptr& l, const std::string& why, dials fate = dials::fail);
  void send_control(link& l, frame_type type, const std::vector<uint8_t>& payload);
  block nonce();

  transport& io_;
  engine_config cfg_;
  hello_info self_;
  engine_listener& up_;
  wire_stats stats_;

  mutable std::mutex mtx_;
  std::unordered_map<link_id, link_ptr> links_;
  std::unordered_map<std::string, link_ptr> peers_; // node -> active link
  std::map<uint64_t, dial_state> dials_;             // cookie -> dial
  uint64_t next_cookie_ = 1;
};

/// Encodes `x` as the payload of a hello or welcome.
std::vector<uint8_t> encode(const hello_info& x);

/// Decodes a hello or welcome payload.
std::optional<hello_info> decode_hello(const std::vector<uint8_t>& payload);

} // namespace ringvisor::actor::wire
