#include "wire/tcp_transport.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <openssl/rand.h>

#include "ringvisor/actor/errc.hpp"

namespace ringvisor::actor::wire {

namespace {

// Tags listener sockets in epoll's data (links use their ids).
constexpr uint64_t listener_tag = 1ull << 63;
constexpr uint64_t wake_tag = listener_tag - 1;

// Bytes read per call, and calls per link per turn (fairness among links).
constexpr size_t read_chunk = 64 * 1024;
constexpr int reads_per_turn = 8;

// Plaintext a TLS link encrypts per write: bounds the ciphertext it holds
// when the socket is full.
constexpr size_t tls_batch = 256 * 1024;

std::string errno_text(int err) {
  return std::strerror(err);
}

void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

// Resolves `host:port` (numeric or a name) to its first address.
bool resolve(const std::string& host, uint16_t port, sockaddr_storage& out, socklen_t& len,
             std::string& err) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  auto h = host;
  if (h.size() > 2 && h.front() == '[' && h.back() == ']')
    h = h.substr(1, h.size() - 2);
  auto rc = getaddrinfo(h.empty() ? nullptr : h.c_str(), std::to_string(port).c_str(), &hints,
                        &res);
  if (rc != 0 || res == nullptr) {
    err = std::string{"cannot resolve '"} + host + "': " + gai_strerror(rc);
    return false;
  }
  std::memcpy(&out, res->ai_addr, res->ai_addrlen);
  len = res->ai_addrlen;
  freeaddrinfo(res);
  return true;
}

std::string address_of(const sockaddr_storage& addr) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(addr).sin_addr, buf, sizeof(buf));
  else if (addr.ss_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(addr).sin6_addr, buf,
              sizeof(buf));
  return buf;
}

} // namespace

tcp_transport::tcp_transport(std::string bind_host, std::shared_ptr<const tls_context> tls)
  : bind_host_(std::move(bind_host)), tls_(std::move(tls)) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = wake_tag;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

tcp_transport::~tcp_transport() {
  stop();
  for (auto fd : listeners_)
    ::close(fd);
  for (auto& [id, c] : conns_)
    if (c->fd >= 0)
      ::close(c->fd);
  ::close(wake_fd_);
  ::close(epoll_fd_);
  if (spare_fd_ >= 0)
    ::close(spare_fd_);
}

clock::time_point tcp_transport::now() const {
  return clock::now();
}

void tcp_transport::random_bytes(uint8_t* out, size_t size) {
  if (RAND_bytes(out, static_cast<int>(size)) != 1)
    std::abort(); // no randomness: no safe handshake
}

void tcp_transport::start(transport_events& events, caf::timespan tick) {
  events_ = &events;
  tick_ = tick;
  running_ = true;
  thread_ = std::thread{[this] { run(); }};
}

void tcp_transport::stop() {
  if (!running_.exchange(false))
    return;
  wake();
  thread_.join();
}

void tcp_transport::wake() {
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof(one));
}

void tcp_transport::post(std::function<void()> f) {
  {
    std::lock_guard<std::mutex> guard{posted_mtx_};
    posted_.push_back(std::move(f));
  }
  wake();
}

caf::expected<uint16_t> tcp_transport::listen(const std::string& host, uint16_t port) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string err;
  if (!resolve(host, port, addr, len, err))
    return make_error(errc::node_start_failed, err);
  auto fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return make_error(errc::node_start_failed, "socket: " + errno_text(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd, 1024) != 0) {
    auto e = errno;
    ::close(fd);
    return make_error(errc::node_start_failed,
                      "cannot listen on " + host + ":" + std::to_string(port), errno_text(e));
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  auto actual = ntohs(bound.ss_family == AF_INET
                        ? reinterpret_cast<sockaddr_in&>(bound).sin_port
                        : reinterpret_cast<sockaddr_in6&>(bound).sin6_port);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = listener_tag | static_cast<uint64_t>(fd);
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  listeners_.push_back(fd);
  return actual;
}

tcp_transport::conn_ptr tcp_transport::add_conn(int fd, std::optional<uint64_t> dial_cookie,
                                                clock::time_point deadline) {
  auto c = std::make_shared<conn>();
  c->id = next_id_++;
  c->fd = fd;
  if (tls_ && !dial_cookie) // a dial gets its session once connected
    c->tls = std::make_unique<tls_session>(*tls_, true);
  auto connecting = dial_cookie.has_value();
  c->connecting = connecting;
  c->cookie = dial_cookie.value_or(0);
  c->deadline = deadline;
  {
    std::unique_lock<std::shared_mutex> guard{conns_mtx_};
    conns_.emplace(c->id, c);
  }
  epoll_event ev{};
  ev.events = connecting ? EPOLLOUT : EPOLLIN;
  ev.data.u64 = c->id;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  return c;
}

void tcp_transport::connect(const std::string& host, uint16_t port, caf::timespan timeout,
                            uint64_t cookie) {
  auto fail = [this, cookie](std::string why) {
    post([this, cookie, why] { events_->on_connect_failed(cookie, why); });
  };
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string err;
  if (!resolve(host, port, addr, len, err))
    return fail(err);
  auto fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return fail("socket: " + errno_text(errno));
  set_nodelay(fd);
  // Bind to our own address first, so the peer sees which node dials.
  sockaddr_storage local{};
  socklen_t local_len = 0;
  std::string ignored;
  if (!bind_host_.empty() && bind_host_ != "0.0.0.0" && bind_host_ != "::"
      && resolve(bind_host_, 0, local, local_len, ignored) && local.ss_family == addr.ss_family)
    bind(fd, reinterpret_cast<sockaddr*>(&local), local_len);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 && errno != EINPROGRESS) {
    auto e = errno;
    ::close(fd);
    return fail(errno_text(e));
  }
  add_conn(fd, cookie, clock::now() + timeout);
}

tcp_transport::conn_ptr tcp_transport::find(link_id id) const {
  std::shared_lock<std::shared_mutex> guard{conns_mtx_};
  auto i = conns_.find(id);
  return i == conns_.end() ? nullptr : i->second;
}

bool tcp_transport::peer_named(link_id id, const std::string& name) const {
  if (!tls_)
    return true;
  auto c = find(id);
  if (!c)
    return false;
  std::lock_guard<std::mutex> guard{c->mtx};
  return c->tls && c->tls->names(name);
}

size_t tcp_transport::try_write(link_id id, const chunk* chunks, size_t count) {
  auto c = find(id);
  if (!c)
    return 0;
  std::lock_guard<std::mutex> guard{c->mtx};
  if (c->fd < 0 || c->connecting)
    return 0;
  return tls_ ? write_tls(*c, chunks, count) : write_plain(*c, chunks, count);
}

size_t tcp_transport::write_plain(conn& c, const chunk* chunks, size_t count) {
  iovec iov[8];
  size_t total = 0;
  size_t n = std::min<size_t>(count, 8);
  for (size_t i = 0; i < n; ++i) {
    iov[i].iov_base = const_cast<uint8_t*>(chunks[i].data);
    iov[i].iov_len = chunks[i].size;
    total += chunks[i].size;
  }
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = n;
  auto written = ::sendmsg(c.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (written > 0)
    c.sent_any = true;
  if (written < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      // Broken: the reader sees it too and reports the link down.
      ::shutdown(c.fd, SHUT_RDWR);
      return 0;
    }
    written = 0;
  }
  if (static_cast<size_t>(written) < total)
    want_write(c);
  return static_cast<size_t>(written);
}

// Encrypts a batch at a time, and the next only once the socket took the
// last: a link holds at most one batch of ciphertext, and a short count
// means the socket is full (so `on_writable` follows). Before the handshake
// is done it takes nothing; `on_writable` follows when it is.
size_t tcp_transport::write_tls(conn& c, const chunk* chunks, size_t count) {
  if (!c.tls || !c.tls->established() || c.tls->failed())
    return 0;
  size_t taken = 0;
  size_t i = 0;
  size_t off = 0; // into chunks[i]
  while (i < count && send_outbox(c)) {
    size_t batch = 0;
    while (i < count && batch < tls_batch) {
      auto n = std::min(chunks[i].size - off, tls_batch - batch);
      if (!c.tls->send(chunks[i].data + off, n)) {
        ::shutdown(c.fd, SHUT_RDWR); // the reader reports the link down
        return taken + batch;
      }
      batch += n;
      off += n;
      if (off == chunks[i].size) {
        ++i;
        off = 0;
      }
    }
    taken += batch;
  }
  send_outbox(c);
  return taken;
}

bool tcp_transport::send_outbox(conn& c) {
  while (c.tls->outbox_size() > 0) {
    auto n = ::send(c.fd, c.tls->outbox_data(), c.tls->outbox_size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.sent_any = true;
      c.tls->sent(static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      want_write(c);
      return false;
    } else {
      ::shutdown(c.fd, SHUT_RDWR); // the reader reports the link down
      return false;
    }
  }
  return true;
}

void tcp_transport::want_write(conn& c) {
  if (c.want_write)
    return;
  c.want_write = true;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT;
  ev.data.u64 = c.id;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
}

void tcp_transport::close(link_id id) {
  auto c = find(id);
  if (!c)
    return;
  std::unique_lock<std::mutex> guard{c->mtx};
  if (!c->sent_any && std::this_thread::get_id() == thread_.get_id()) {
    // Nothing of ours to deliver (the engine refusing a connection as it
    // comes up): the descriptor goes now, not once the reader sees EOF, so
    // a connect flood cannot hold more than the limits allow. The report
    // follows, as `close` promises. (A close with unread input resets the
    // connection, which would cut off anything we had sent.)
    guard.unlock();
    if (release(c))
      post([this, c] { report_down(c, "closed"); });
    return;
  }
  if (c->fd >= 0) {
    if (c->connecting) {
      // Not connected yet: the I/O thread ends it.
      post([this, c] { drop(c, "closed"); });
      return;
    }
    ::shutdown(c->fd, SHUT_RDWR); // the reader sees EOF and reports the link down
  }
}

bool tcp_transport::release(const conn_ptr& c) {
  {
    std::lock_guard<std::mutex> guard{c->mtx};
    if (c->fd < 0)
      return false;
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c->fd, nullptr);
    ::close(c->fd);
    c->fd = -1;
  }
  std::unique_lock<std::shared_mutex> guard{conns_mtx_};
  conns_.erase(c->id);
  return true;
}

void tcp_transport::report_down(const conn_ptr& c, const std::string& why) {
  if (c->connecting)
    events_->on_connect_failed(c->cookie, why);
  else
    events_->on_link_down(c->id, why);
}

void tcp_transport::drop(const conn_ptr& c, const std::string& why) {
  if (release(c))
    report_down(c, why);
}

void tcp_transport::run() {
  auto next_tick = clock::now() + tick_;
  epoll_event evs[64];
  while (running_) {
    auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(next_tick - clock::now())
                     .count();
    auto n = epoll_wait(epoll_fd_, evs, 64, static_cast<int>(std::max<int64_t>(wait_ms, 0)));
    for (int i = 0; i < n; ++i) {
      auto tag = evs[i].data.u64;
      if (tag == wake_tag) {
        uint64_t x = 0;
        [[maybe_unused]] auto r = ::read(wake_fd_, &x, sizeof(x));
        std::vector<std::function<void()>> fs;
        {
          std::lock_guard<std::mutex> guard{posted_mtx_};
          fs.swap(posted_);
        }
        for (auto& f : fs)
          f();
      } else if (tag & listener_tag) {
        on_listener_ready(static_cast<int>(tag & ~listener_tag));
      } else if (auto c = find(tag)) {
        on_conn_ready(c, evs[i].events);
      }
    }
    auto now = clock::now();
    if (now >= next_tick) {
      check_deadlines(now);
      events_->on_tick(now);
      next_tick = now + tick_;
    }
  }
}

void tcp_transport::on_listener_ready(int fd) {
  // A batch per turn: a connect flood must not starve the links.
  for (int i = 0; i < 64; ++i) {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    auto s = accept4(fd, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (s < 0) {
      if ((errno == EMFILE || errno == ENFILE) && spare_fd_ >= 0) {
        // Out of descriptors: take the connection with the spare one and
        // close it, or the listener would wake this loop forever.
        ::close(spare_fd_);
        auto x = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (x >= 0)
          ::close(x);
        spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        ++refused_for_descriptors_;
      }
      return;
    }
    set_nodelay(s);
    auto c = add_conn(s, std::nullopt, {});
    events_->on_link_up(c->id, false, address_of(addr), 0);
  }
}

void tcp_transport::on_conn_ready(const conn_ptr& c, uint32_t events) {
  if (c->connecting) {
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
      finish_connect(c);
    return;
  }
  if (events & EPOLLOUT) {
    bool drained = true;
    {
      std::lock_guard<std::mutex> guard{c->mtx};
      if (c->fd < 0)
        return;
      if (c->tls)
        drained = send_outbox(*c);
      if (drained) {
        c->want_write = false;
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = c->id;
        epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c->fd, &ev);
      }
    }
    if (drained)
      events_->on_writable(c->id);
  }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
    read_from(c);
}

void tcp_transport::finish_connect(const conn_ptr& c) {
  int err = 0;
  socklen_t len = sizeof(err);
  getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0)
    return drop(c, errno_text(err));
  {
    std::lock_guard<std::mutex> guard{c->mtx};
    c->connecting = false;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = c->id;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c->fd, &ev);
    if (tls_) {
      c->tls = std::make_unique<tls_session>(*tls_, false);
      send_outbox(*c); // the client hello
    }
  }
  sockaddr_storage addr{};
  socklen_t alen = sizeof(addr);
  getpeername(c->fd, reinterpret_cast<sockaddr*>(&addr), &alen);
  events_->on_link_up(c->id, true, address_of(addr), c->cookie);
}

void tcp_transport::read_from(const conn_ptr& c) {
  static thread_local std::vector<uint8_t> buf(read_chunk);
  for (int i = 0; i < reads_per_turn; ++i) {
    auto fd = c->fd; // only this thread closes it
    if (fd < 0)
      return;
    auto n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n > 0) {
      if (!c->tls)
        events_->on_bytes(c->id, buf.data(), static_cast<size_t>(n));
      else if (!decrypt(c, buf.data(), static_cast<size_t>(n)))
        return;
      if (static_cast<size_t>(n) < buf.size())
        return;
      continue;
    }
    if (n == 0)
      return drop(c, "closed by the peer");
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
      return;
    return drop(c, errno_text(errno));
  }
}

bool tcp_transport::decrypt(const conn_ptr& c, const uint8_t* data, size_t size) {
  static thread_local std::vector<uint8_t> plain;
  plain.clear();
  bool ok = true;
  bool was_established = true;
  bool now_established = true;
  std::string why;
  {
    std::lock_guard<std::mutex> guard{c->mtx};
    if (c->fd < 0)
      return false;
    was_established = c->tls->established();
    ok = c->tls->receive(data, size, plain);
    now_established = c->tls->established();
    if (!ok) {
      why = c->tls->error();
      if (!c->tls->heard())
        ++tls_failures_; // counted before the alert tells the peer
    }
    send_outbox(*c); // on failure, the alert that tells the peer why
  }
  if (!ok) {
    drop(c, why);
    return false;
  }
  if (!plain.empty())
    events_->on_bytes(c->id, plain.data(), plain.size());
  if (!was_established && now_established)
    events_->on_writable(c->id); // what the engine wrote meanwhile may go now
  return true;
}

void tcp_transport::check_deadlines(clock::time_point now) {
  std::vector<conn_ptr> late;
  {
    std::shared_lock<std::shared_mutex> guard{conns_mtx_};
    for (auto& [id, c] : conns_)
      if (c->connecting && now >= c->deadline)
        late.push_back(c);
  }
  for (auto& c : late)
    drop(c, "no answer within the connect timeout");
}

} // namespace ringvisor::actor::wire
