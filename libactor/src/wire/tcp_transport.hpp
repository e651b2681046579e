#pragma once

// The wire's TCP transport (private to libactor): one epoll thread accepts,
// connects, reads and ticks; any thread writes (non-blocking, with
// `sendmsg` over the chunks), and the epoll thread finishes short writes.
// Every socket has TCP_NODELAY; outbound sockets are bound to the node's
// own address, so the limits per source address see each node as itself.
// With a TLS context, every connection is TLS 1.3: the link comes up when
// TCP does (so the engine's deadline and limits cover the TLS handshake),
// and its bytes flow once the handshake is done.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "wire/tls.hpp"
#include "wire/transport.hpp"

namespace ringvisor::actor::wire {

class tcp_transport final : public transport {
public:
  /// `bind_host`: the address outbound sockets use (empty: any); `tls`:
  /// encrypt every connection with it (null: plain TCP).
  tcp_transport(std::string bind_host, std::shared_ptr<const tls_context> tls);

  ~tcp_transport() override;

  void start(transport_events& events, caf::timespan tick) override;
  void stop() override;
  caf::expected<uint16_t> listen(const std::string& host, uint16_t port) override;
  void connect(const std::string& host, uint16_t port, caf::timespan timeout,
               uint64_t cookie) override;
  size_t try_write(link_id id, const chunk* chunks, size_t count) override;
  void close(link_id id) override;
  clock::time_point now() const override;
  void random_bytes(uint8_t* out, size_t size) override;
  bool peer_named(link_id id, const std::string& name) const override;

  /// Connections closed at once because the process had no descriptor left.
  uint64_t refused_for_descriptors() const noexcept {
    return refused_for_descriptors_;
  }

  /// Connections whose TLS handshake failed (bad or missing certificate).
  uint64_t tls_failures() const noexcept {
    return tls_failures_;
  }

private:
  struct conn {
    link_id id = 0;
    std::mutex mtx; // guards `fd` against the close on the I/O thread, and `tls`
    int fd = -1;
    std::unique_ptr<tls_session> tls;
    bool connecting = false;
    bool want_write = false;
    bool sent_any = false; // a byte of ours went out
    uint64_t cookie = 0;
    clock::time_point deadline;
  };

  using conn_ptr = std::shared_ptr<conn>;

  void run();
  void on_listener_ready(int fd);
  void on_conn_ready(const conn_ptr& c, uint32_t events);
  void finish_connect(const conn_ptr& c);
  void read_from(const conn_ptr& c);
  // Passes ciphertext through `c`'s session; false if it failed (dropped).
  bool decrypt(const conn_ptr& c, const uint8_t* data, size_t size);
  // With `c.mtx` held.
  size_t write_plain(conn& c, const chunk* chunks, size_t count);
  size_t write_tls(conn& c, const chunk* chunks, size_t count);
  bool send_outbox(conn& c); // whether the session's outbox is empty now
  void want_write(conn& c);
  void drop(const conn_ptr& c, const std::string& why); // release, then report
  bool release(const conn_ptr& c); // closes and forgets it; false if it was
  void report_down(const conn_ptr& c, const std::string& why);
  void check_deadlines(clock::time_point now);
  void wake();
  void post(std::function<void()> f);
  conn_ptr find(link_id id) const;
  // Registers a socket: accepted, or dialled with `dial_cookie`.
  conn_ptr add_conn(int fd, std::optional<uint64_t> dial_cookie, clock::time_point deadline);

  std::string bind_host_;
  std::shared_ptr<const tls_context> tls_;
  transport_events* events_ = nullptr;
  caf::timespan tick_{};
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  int spare_fd_ = -1; // closed to accept-and-close when out of descriptors
  std::vector<int> listeners_;
  std::atomic<bool> running_{false};
  std::thread thread_;

  mutable std::shared_mutex conns_mtx_;
  std::unordered_map<link_id, conn_ptr> conns_;
  std::atomic<link_id> next_id_{1};
  std::atomic<uint64_t> refused_for_descriptors_{0};
  std::atomic<uint64_t> tls_failures_{0};

  std::mutex posted_mtx_;
  std::vector<std::function<void()>> posted_; // run on the I/O thread
};

} // namespace ringvisor::actor::wire
