#include "ringvisor/cluster/discovery.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <memory>
#include <optional>
#include <system_error>

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include "ringvisor/actor/errc.hpp"

namespace ringvisor::cluster {

namespace {

constexpr const char* seed_example =
  " (example: 127.0.0.1:4900 or seeds.example:4900)";

constexpr const char* ipv6_example = " (example: [::1]:4900)";

// Returns the numeric address in `inet_ntop`'s spelling if `host` is an IPv4
// or IPv6 literal.
std::optional<std::string> numeric_address(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  char str[INET6_ADDRSTRLEN];
  for (auto family : {AF_INET, AF_INET6})
    if (inet_pton(family, host.c_str(), buf) == 1
        && inet_ntop(family, buf, str, sizeof(str)) != nullptr)
      return std::string{str};
  return std::nullopt;
}

bool is_ipv6(std::string_view host) {
  in6_addr buf;
  return inet_pton(AF_INET6, std::string{host}.c_str(), &buf) == 1;
}

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.'
         || c == '_';
}

std::optional<uint16_t> parse_port(std::string_view str) {
  if (str.empty() || str.size() > 5)
    return std::nullopt;
  uint32_t result = 0;
  for (auto c : str) {
    if (c < '0' || c > '9')
      return std::nullopt;
    result = result * 10 + static_cast<uint32_t>(c - '0');
  }
  if (result < 1 || result > 65535)
    return std::nullopt;
  return static_cast<uint16_t>(result);
}

// The text of an error we made: its context if that is one string.
std::string message_of(const caf::error& err) {
  auto& ctx = err.context();
  if (ctx.size() == 1 && ctx.match_element<std::string>(0))
    return ctx.get_as<std::string>(0);
  return actor::render(err);
}

} // namespace

caf::expected<std::pair<std::string, uint16_t>>
parse_endpoint(std::string_view seed) {
  auto fail = [seed](std::string_view why, const char* example) {
    auto msg = "seed '" + std::string{seed} + "' ";
    msg += why;
    msg += example;
    return actor::make_error(actor::errc::bad_config, std::move(msg));
  };
  if (seed.empty())
    return fail("is empty", seed_example);
  if (seed.find("://") != std::string_view::npos)
    return fail("has a scheme; write host:port only", seed_example);
  std::string_view host;
  std::string_view port;
  if (seed.front() == '[') {
    // [IPv6]:port
    auto close = seed.find(']');
    if (close == std::string_view::npos)
      return fail("has no ']' after its IPv6 address", ipv6_example);
    host = seed.substr(1, close - 1);
    auto rest = seed.substr(close + 1);
    if (rest.empty() || rest.front() != ':')
      return fail("is not [IPv6 address]:port", ipv6_example);
    if (!is_ipv6(host))
      return fail("has '[" + std::string{host}
                    + "]', which is not an IPv6 address; brackets are only"
                      " for IPv6",
                  ipv6_example);
    port = rest.substr(1);
  } else {
    // host:port, split at the last ':' as the agent does
    auto colon = seed.rfind(':');
    if (colon == std::string_view::npos)
      return fail("is not host:port", seed_example);
    host = seed.substr(0, colon);
    port = seed.substr(colon + 1);
    if (host.empty())
      return fail("has no host before the ':'", seed_example);
    if (host.find(':') != std::string_view::npos) {
      if (!is_ipv6(host))
        return fail("has a ':' in its host '" + std::string{host}
                      + "'; write IPv6 addresses in brackets",
                    ipv6_example);
    } else if (auto bad = std::find_if_not(host.begin(), host.end(),
                                           is_name_char);
               bad != host.end()) {
      return fail("has the character '" + std::string(1, *bad)
                    + "' in its host; a host is a DNS name or an IP address",
                  seed_example);
    }
  }
  if (port.empty())
    return fail("has no port after the ':'", seed_example);
  auto num = parse_port(port);
  if (!num)
    return fail("has port '" + std::string{port}
                  + "'; a port is a number from 1 to 65535",
                seed_example);
  return std::make_pair(std::string{host}, *num);
}

caf::error check_seeds(const std::vector<std::string>& seeds) {
  std::string problems;
  for (auto& seed : seeds)
    if (auto ep = parse_endpoint(seed); !ep) {
      if (!problems.empty())
        problems += "; ";
      problems += message_of(ep.error());
    }
  if (problems.empty())
    return caf::none;
  return actor::make_error(actor::errc::bad_config, std::move(problems));
}

caf::expected<std::vector<std::string>> resolve_host(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  auto rc = getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0) {
    auto reason = rc == EAI_SYSTEM ? std::system_category().message(errno)
                                   : std::string{gai_strerror(rc)};
    return actor::make_error(actor::errc::bad_config,
                             "cannot resolve '" + host + "': " + reason);
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard{found, freeaddrinfo};
  std::vector<std::string> result;
  char str[INET6_ADDRSTRLEN];
  for (auto i = found; i != nullptr; i = i->ai_next) {
    const void* addr = nullptr;
    if (i->ai_family == AF_INET)
      addr = &reinterpret_cast<const sockaddr_in*>(i->ai_addr)->sin_addr;
    else if (i->ai_family == AF_INET6)
      addr = &reinterpret_cast<const sockaddr_in6*>(i->ai_addr)->sin6_addr;
    if (addr == nullptr
        || inet_ntop(i->ai_family, addr, str, sizeof(str)) == nullptr)
      continue;
    if (std::find(result.begin(), result.end(), str) == result.end())
      result.emplace_back(str);
  }
  if (result.empty())
    return actor::make_error(actor::errc::bad_config,
                             "'" + host + "' has no IPv4 or IPv6 address");
  return result;
}

resolved_seeds resolve_seeds(const std::vector<std::string>& seeds,
                             const host_resolver& resolve) {
  resolved_seeds result;
  auto add = [&](const std::string& addr, uint16_t port) {
    auto host = numeric_address(addr).value_or(addr);
    result.endpoints.push_back(host + ":" + std::to_string(port));
  };
  for (auto& seed : seeds) {
    auto ep = parse_endpoint(seed);
    if (!ep) {
      result.problems.push_back(message_of(ep.error()));
      continue;
    }
    auto& [host, port] = *ep;
    if (numeric_address(host)) {
      add(host, port);
      continue;
    }
    auto addrs = resolve(host);
    if (!addrs)
      result.problems.push_back("seed '" + seed
                                + "': " + message_of(addrs.error()));
    else if (addrs->empty())
      result.problems.push_back("seed '" + seed + "': '" + host
                                + "' has no IPv4 or IPv6 address");
    else
      for (auto& addr : *addrs)
        add(addr, port);
  }
  auto& xs = result.endpoints;
  std::sort(xs.begin(), xs.end());
  xs.erase(std::unique(xs.begin(), xs.end()), xs.end());
  return result;
}

} // namespace ringvisor::cluster
