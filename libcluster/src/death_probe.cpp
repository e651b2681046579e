#include "ringvisor/cluster/death_probe.hpp"

#include <algorithm>
#include <thread>

#include <caf/event_based_actor.hpp>

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ringvisor/cluster/discovery.hpp"

namespace ringvisor::cluster {

namespace {

using clock_type = std::chrono::steady_clock;

} // namespace

connect_outcome try_connect(const std::string& endpoint, std::chrono::milliseconds timeout) {
  auto parsed = parse_endpoint(endpoint);
  if (!parsed)
    return connect_outcome::no_answer;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  auto port = std::to_string(parsed->second);
  if (::getaddrinfo(parsed->first.c_str(), port.c_str(), &hints, &res) != 0)
    return connect_outcome::no_answer;
  auto result = connect_outcome::no_answer;
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    int rc = ::connect(fd, res->ai_addr, res->ai_addrlen);
    int err = rc == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      err = ETIMEDOUT;
      if (::poll(&p, 1, static_cast<int>(timeout.count())) == 1) {
        socklen_t len = sizeof(err);
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      }
    }
    if (err == 0)
      result = connect_outcome::accepted;
    else if (err == ECONNREFUSED)
      result = connect_outcome::refused;
    ::close(fd);
  }
  ::freeaddrinfo(res);
  return result;
}

bool proven_dead(const std::string& endpoint, clock_type::time_point until) {
  auto wait = std::chrono::milliseconds{10};
  for (;;) {
    if (try_connect(endpoint, std::chrono::milliseconds{300}) == connect_outcome::refused)
      return true;
    auto left = until - clock_type::now();
    if (left <= clock_type::duration::zero())
      return false;
    std::this_thread::sleep_for(std::min<clock_type::duration>(wait, left));
    wait = std::min(wait * 2, std::chrono::milliseconds{200});
  }
}

void probe_death(caf::actor_system& sys, std::string endpoint, clock_type::time_point until,
                 caf::actor listener, caf::message msg) {
  sys.spawn<caf::detached>([=](caf::event_based_actor* self) {
    if (proven_dead(endpoint, until))
      self->send<caf::message_priority::high>(listener, msg);
    self->quit();
  });
}

} // namespace ringvisor::cluster
