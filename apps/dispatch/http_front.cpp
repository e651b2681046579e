#include "http_front.hpp"

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <list>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/log.hpp"

namespace dispatch {

namespace {

namespace rv = ringvisor;
using clock_type = std::chrono::steady_clock;

// -- sockets ------------------------------------------------------------------------

std::string address_of(const sockaddr_storage& addr) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (addr.ss_family == AF_INET)
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(addr).sin_addr, buf, sizeof(buf));
  else if (addr.ss_family == AF_INET6)
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(addr).sin6_addr, buf, sizeof(buf));
  return buf;
}

// The address of `fd`'s peer (`get` = getpeername) or its own (getsockname).
sockaddr_storage name_of(int fd, int (*get)(int, sockaddr*, socklen_t*)) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  get(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return addr;
}

int port_of(const sockaddr_storage& addr) {
  if (addr.ss_family == AF_INET)
    return ntohs(reinterpret_cast<const sockaddr_in&>(addr).sin_port);
  if (addr.ss_family == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6&>(addr).sin6_port);
  return 0;
}

// Sends what fits without waiting and closes: the answers of the front
// itself are small, and a client that does not read them loses them.
void answer_and_close(int fd, std::string_view answer) {
  if (!answer.empty()) [[maybe_unused]]
    auto sent = ::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::close(fd);
}

// A complete answer of the front, in the dashboard's JSON error format.
std::string canned(int status, std::string_view reason, std::string_view error) {
  auto body = std::string{R"({"error":")"} + std::string{error} + "\"}";
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string{reason}
         + "\r\nContent-Type: application/json\r\nConnection: close\r\n"
         + (status == 503 ? "Retry-After: 1\r\n" : "")
         + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// -- one request's stream --------------------------------------------------------------

// The connection as httplib reads and writes it: first the bytes the front
// read with the head, then the socket, every wait bounded by one deadline.
class deadline_stream final : public httplib::Stream {
public:
  deadline_stream(int fd, std::string buffered, clock_type::time_point deadline)
    : fd_(fd), buffered_(std::move(buffered)), deadline_(deadline) {
    // nop
  }

  bool is_readable() const override {
    return offset_ < buffered_.size() || wait(POLLIN);
  }

  bool is_writable() const override {
    return wait(POLLOUT);
  }

  ssize_t read(char* ptr, size_t size) override {
    if (offset_ < buffered_.size()) {
      auto n = std::min(size, buffered_.size() - offset_);
      std::memcpy(ptr, buffered_.data() + offset_, n);
      offset_ += n;
      return static_cast<ssize_t>(n);
    }
    for (;;) {
      auto n = ::recv(fd_, ptr, size, 0);
      if (n >= 0 || (errno != EAGAIN && errno != EINTR) || !wait(POLLIN))
        return n;
    }
  }

  ssize_t write(const char* ptr, size_t size) override {
    for (;;) {
      auto n = ::send(fd_, ptr, size, MSG_NOSIGNAL);
      if (n >= 0 || (errno != EAGAIN && errno != EINTR) || !wait(POLLOUT))
        return n;
    }
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    auto addr = name_of(fd_, ::getpeername);
    ip = address_of(addr);
    port = port_of(addr);
  }

  void get_local_ip_and_port(std::string& ip, int& port) const override {
    auto addr = name_of(fd_, ::getsockname);
    ip = address_of(addr);
    port = port_of(addr);
  }

  socket_t socket() const override {
    return fd_;
  }

private:
  // Waits for `events` until the deadline; false if it passed.
  bool wait(short events) const {
    for (;;) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline_ - clock_type::now());
      if (left.count() <= 0)
        return false;
      pollfd p{fd_, events, 0};
      auto rc = ::poll(&p, 1, static_cast<int>(left.count()));
      if (rc > 0)
        return true;
      if (rc == 0 || errno != EINTR)
        return false;
    }
  }

  int fd_;
  std::string buffered_;
  size_t offset_ = 0;
  clock_type::time_point deadline_;
};

// Where a request's head ends in `buf`, searching from `from`; npos if not yet.
size_t head_end(std::string_view buf, size_t from) {
  from = from > 3 ? from - 3 : 0;
  auto crlf = buf.find("\r\n\r\n", from);
  if (crlf != std::string_view::npos)
    return crlf + 4;
  auto lf = buf.find("\n\n", from);
  return lf == std::string_view::npos ? lf : lf + 2;
}

} // namespace

caf::expected<int> open_listener(const std::string& host, uint16_t port) {
  auto fail = [&](const std::string& why) {
    return rv::actor::make_error(rv::actor::errc::bad_config,
                                 "dashboard cannot listen on " + host + ":" + std::to_string(port)
                                   + ": " + why,
                                 "is another node using it? set dispatch.http-port");
  };
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (auto rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found))
    return fail(::gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard{found, ::freeaddrinfo};
  int err = 0;
  for (auto x = found; x != nullptr; x = x->ai_next) {
    auto fd = ::socket(x->ai_family, x->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, x->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    // SO_REUSEADDR only: SO_REUSEPORT (httplib's choice) would let a second
    // process listen on the same port and take half of the requests.
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    if (::bind(fd, x->ai_addr, x->ai_addrlen) == 0 && ::listen(fd, SOMAXCONN) == 0)
      return fd;
    err = errno;
    ::close(fd);
  }
  return fail(std::strerror(err));
}

// -- the front ----------------------------------------------------------------------

struct http_front::impl {
  // A connection that is still sending its head.
  struct pending {
    int fd;
    std::string peer;
    std::string head;
    clock_type::time_point deadline;
  };

  // A complete head, waiting for a worker.
  struct job {
    int fd;
    std::string buffered;
  };

  impl(http_routes& r, int fd, http_limits l) : routes(r), listener(fd), limits(l) {
    // nop
  }

  ~impl() {
    for (auto& p : heads)
      ::close(p.fd);
    for (auto& j : queue)
      ::close(j.fd);
    for (int fd : {listener, wake, poller, spare})
      if (fd >= 0)
        ::close(fd);
  }

  bool open() {
    poller = ::epoll_create1(EPOLL_CLOEXEC);
    wake = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    spare = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    return poller >= 0 && wake >= 0 && watch(listener) && watch(wake);
  }

  bool watch(int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    return ::epoll_ctl(poller, EPOLL_CTL_ADD, fd, &ev) == 0;
  }

  // -- the front thread: accepts and reads heads

  void run_front() {
    std::vector<epoll_event> events(64);
    while (!stopping) {
      auto n = ::epoll_wait(poller, events.data(), static_cast<int>(events.size()), wait_ms());
      if (n < 0 && errno != EINTR) {
        rv::log::error("http_front_failed", {{"what", std::strerror(errno)}});
        break;
      }
      for (int i = 0; i < n; ++i) {
        auto fd = events[i].data.fd;
        if (fd == listener)
          accept_all();
        else if (fd != wake)
          read_head(fd);
      }
      expire();
    }
  }

  // Milliseconds until the oldest head's deadline; -1 for none.
  int wait_ms() const {
    if (heads.empty())
      return -1;
    auto left =
      std::chrono::ceil<std::chrono::milliseconds>(heads.front().deadline - clock_type::now());
    return static_cast<int>(std::max<int64_t>(left.count(), 0));
  }

  void accept_all() {
    for (;;) {
      sockaddr_storage addr{};
      socklen_t len = sizeof(addr);
      auto fd =
        ::accept4(listener, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED)
          continue;
        if ((errno == EMFILE || errno == ENFILE) && shed_one())
          continue;
        if (errno != EAGAIN)
          rv::log::warn("http_accept_failed", {{"what", std::strerror(errno)}});
        return;
      }
      ++accepted;
      admit(fd, address_of(addr));
    }
  }

  // Out of descriptors: closes the oldest head, or else refuses the next
  // connection in the backlog with the spare descriptor, so that the
  // listener does not stay readable with nothing to accept it.
  bool shed_one() {
    if (!heads.empty()) {
      evict(heads.begin());
      return true;
    }
    if (spare < 0)
      return false;
    ::close(spare);
    spare = -1;
    auto fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
      ++evicted;
      ::close(fd);
    }
    spare = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    return fd >= 0;
  }

  void admit(int fd, std::string peer) {
    auto same = per_peer.find(peer);
    if (same != per_peer.end() && same->second >= limits.max_pending_per_peer) {
      auto oldest =
        std::find_if(heads.begin(), heads.end(), [&](const pending& p) { return p.peer == peer; });
      evict(oldest);
    } else if (heads.size() >= limits.max_pending) {
      evict(heads.begin());
    }
    if (!watch(fd)) {
      ::close(fd);
      return;
    }
    ++per_peer[peer];
    heads.push_back(pending{fd, std::move(peer), {}, clock_type::now() + limits.head_deadline});
    by_fd[fd] = std::prev(heads.end());
    // A client sends its request right after the connect, and it is often
    // here already: read it before the next accept could evict it.
    read_head(fd);
  }

  void read_head(int fd) {
    auto i = by_fd.find(fd);
    if (i == by_fd.end())
      return;
    auto& p = *i->second;
    char buf[4096];
    for (;;) {
      // At most one byte past the limit: enough to tell an oversize head.
      // (A head past the limit is dropped below, so there is room.)
      auto room = limits.max_head + 1 - p.head.size();
      auto n = ::recv(fd, buf, std::min(sizeof(buf), room), 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return;
      if (n <= 0) // closed, or failed
        return drop(i->second, "");
      auto from = p.head.size();
      p.head.append(buf, static_cast<size_t>(n));
      auto end = head_end(p.head, from);
      if (end != std::string::npos && end <= limits.max_head)
        return hand_over(i->second);
      if (p.head.size() > limits.max_head) {
        ++oversize;
        return drop(i->second, canned(431, "Request Header Fields Too Large",
                                      "the request head is longer than "
                                        + std::to_string(limits.max_head) + " bytes"));
      }
    }
  }

  // Closes the connections whose head is late: with a 408 if they began
  // one, silently if they sent nothing (a browser's spare connection).
  void expire() {
    auto now = clock_type::now();
    while (!heads.empty() && heads.front().deadline <= now) {
      ++expired;
      auto began = !heads.front().head.empty();
      drop(heads.begin(), began ? canned(408, "Request Timeout",
                                         "the request head did not arrive within "
                                           + std::to_string(limits.head_deadline.count()) + " ms")
                                : std::string{});
    }
  }

  void evict(std::list<pending>::iterator p) {
    ++evicted;
    drop(p, canned(503, "Service Unavailable", "too many connections: try again"));
  }

  // Forgets a head in progress and closes its connection after `answer`.
  void drop(std::list<pending>::iterator p, std::string_view answer) {
    auto fd = forget(p);
    answer_and_close(fd, answer);
  }

  int forget(std::list<pending>::iterator p) {
    auto fd = p->fd;
    ::epoll_ctl(poller, EPOLL_CTL_DEL, fd, nullptr);
    if (--per_peer[p->peer] == 0)
      per_peer.erase(p->peer);
    by_fd.erase(fd);
    heads.erase(p);
    return fd;
  }

  void hand_over(std::list<pending>::iterator p) {
    auto head = std::move(p->head);
    auto fd = forget(p);
    {
      std::lock_guard<std::mutex> guard{mtx};
      if (queue.size() < limits.max_queued) {
        queue.push_back(job{fd, std::move(head)});
        ready.notify_one();
        return;
      }
    }
    ++busy;
    answer_and_close(fd, canned(503, "Service Unavailable", "busy: try again"));
  }

  // -- workers: answer complete requests

  void run_worker() {
    for (;;) {
      job next;
      {
        std::unique_lock<std::mutex> guard{mtx};
        ready.wait(guard, [&] { return stopping || !queue.empty(); });
        if (stopping)
          return;
        next = std::move(queue.front());
        queue.pop_front();
      }
      answer(next);
    }
  }

  void answer(job& j) {
    deadline_stream strm{j.fd, std::move(j.buffered), clock_type::now() + limits.io_deadline};
    bool closed = false;
    routes.process_request(strm, true, closed, nullptr);
    ++served;
    // Reads what the client sent beyond the request (a body nobody read,
    // say) before closing: closing with unread bytes resets the connection,
    // and the client may lose the answer with it.
    ::shutdown(j.fd, SHUT_WR);
    char buf[4096];
    for (int avail = 0; ::ioctl(j.fd, FIONREAD, &avail) == 0 && avail > 0;)
      if (::recv(j.fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
        break;
    ::close(j.fd);
  }

  void stop() {
    {
      std::lock_guard<std::mutex> guard{mtx};
      stopping = true;
    }
    ready.notify_all();
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake, &one, sizeof(one));
    for (auto& t : threads)
      t.join();
  }

  http_routes& routes;
  int listener;
  http_limits limits;
  int poller = -1;
  int wake = -1;
  int spare = -1; // a descriptor to give up when none are left
  // Heads in progress, oldest (and so first to expire) first.
  std::list<pending> heads;
  std::unordered_map<int, std::list<pending>::iterator> by_fd;
  std::unordered_map<std::string, size_t> per_peer;
  std::mutex mtx;
  std::condition_variable ready;
  std::deque<job> queue;
  std::atomic<bool> stopping{false};
  std::vector<std::thread> threads;
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> expired{0};
  std::atomic<uint64_t> evicted{0};
  std::atomic<uint64_t> oversize{0};
  std::atomic<uint64_t> busy{0};
  std::atomic<uint64_t> served{0};
};

caf::expected<std::unique_ptr<http_front>> http_front::start(http_routes& routes, int listener,
                                                             http_limits limits) {
  auto ptr = std::make_unique<impl>(routes, listener, limits);
  if (!ptr->open())
    return rv::actor::make_error(rv::actor::errc::bad_config,
                                 std::string{"the dashboard cannot wait for connections: "}
                                   + std::strerror(errno));
  ptr->threads.emplace_back([p = ptr.get()] { p->run_front(); });
  for (size_t i = 0; i < std::max<size_t>(limits.workers, 1); ++i)
    ptr->threads.emplace_back([p = ptr.get()] { p->run_worker(); });
  return std::unique_ptr<http_front>{new http_front(std::move(ptr))};
}

http_front::http_front(std::unique_ptr<impl> ptr) : impl_(std::move(ptr)) {
  // nop
}

http_front::~http_front() {
  impl_->stop();
}

uint16_t http_front::port() const noexcept {
  return static_cast<uint16_t>(port_of(name_of(impl_->listener, ::getsockname)));
}

http_front_counters http_front::counters() const noexcept {
  auto& x = *impl_;
  return {x.accepted, x.expired, x.evicted, x.oversize, x.busy, x.served};
}

} // namespace dispatch
