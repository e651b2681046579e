// Seed discovery. Real lookups go only to /etc/hosts (`localhost`) and to the
// reserved `.invalid` TLD, which never resolves (RFC 6761); name servers may
// still be asked about it, so this needs a resolver that answers or fails
// fast, not the internet. Several addresses per name are tested with a fake
// resolver: `localhost` gives 127.0.0.1 and, where /etc/hosts lists it, ::1.

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "support/printers.hpp"

#include "ringvisor/actor/errc.hpp"
#include "ringvisor/cluster/discovery.hpp"

using namespace ringvisor;
using namespace ringvisor::cluster;
using strings = std::vector<std::string>;

namespace {

bool contains(const std::string& str, const std::string& part) {
  return str.find(part) != std::string::npos;
}

// The rendered error of parsing a seed that must not parse.
std::string parse_error(const std::string& seed) {
  auto ep = parse_endpoint(seed);
  if (ep) {
    FAIL_CHECK("seed '", seed, "' parsed as ", ep->first, " port ", ep->second);
    return {};
  }
  CHECK(ep.error() == actor::make_error(actor::errc::bad_config));
  return actor::render(ep.error());
}

// A resolver that knows a fixed table and counts its lookups.
struct fake_dns {
  std::map<std::string, strings> table;
  std::map<std::string, int> lookups;

  host_resolver resolver() {
    return [this](const std::string& host)
             -> caf::expected<std::vector<std::string>> {
      ++lookups[host];
      if (auto i = table.find(host); i != table.end())
        return i->second;
      return actor::make_error(actor::errc::bad_config,
                               "cannot resolve '" + host
                                 + "': Name or service not known");
    };
  }
};

} // namespace

TEST_CASE("parse_endpoint splits names, IPv4 and IPv6 seeds into host and port") {
  using ep = std::pair<std::string, uint16_t>;
  auto parsed = [](const std::string& seed) {
    auto result = parse_endpoint(seed);
    if (!result)
      FAIL_CHECK(actor::render(result.error()));
    return result ? *result : ep{};
  };
  CHECK(parsed("127.0.0.1:4900") == ep{"127.0.0.1", 4900});
  CHECK(parsed("seeds.example:4900") == ep{"seeds.example", 4900});
  CHECK(parsed("ringvisor-seeds.default.svc.cluster.local:1")
        == ep{"ringvisor-seeds.default.svc.cluster.local", 1});
  CHECK(parsed("node_1:65535") == ep{"node_1", 65535});
  CHECK(parsed("[::1]:4900") == ep{"::1", 4900});
  CHECK(parsed("::1:4900") == ep{"::1", 4900}); // bare: split at the last ':'
  CHECK(parsed("[fd00::2]:4900") == ep{"fd00::2", 4900});
}

TEST_CASE("malformed seeds are rejected with what is wrong and an example") {
  auto err = parse_error("4900");
  CHECK(contains(err, "seed '4900' is not host:port"));
  CHECK(contains(err, "example: 127.0.0.1:4900 or seeds.example:4900"));
  CHECK(contains(parse_error("host:"), "seed 'host:' has no port after the ':'"));
  CHECK(contains(parse_error("host:0"),
                 "seed 'host:0' has port '0'; a port is a number from 1 to 65535"));
  CHECK(contains(parse_error("host:70000"), "has port '70000'"));
  CHECK(contains(parse_error("host:-1"), "has port '-1'"));
  CHECK(contains(parse_error("host:49x0"), "has port '49x0'"));
  CHECK(contains(parse_error(":4900"), "seed ':4900' has no host before the ':'"));
  CHECK(contains(parse_error(""), "seed '' is empty"));
  CHECK(contains(parse_error("tcp://host:4900"), "has a scheme"));
  CHECK(contains(parse_error("host :4900"), "has the character ' ' in its host"));
  CHECK(contains(parse_error("a:b:4900"), "write IPv6 addresses in brackets"));
  CHECK(contains(parse_error("::1"), "write IPv6 addresses in brackets"));
  CHECK(contains(parse_error("[::1]"), "is not [IPv6 address]:port"));
  CHECK(contains(parse_error("[::1:4900"), "has no ']'"));
  CHECK(contains(parse_error("[host]:4900"), "'[host]', which is not an IPv6 address"));
  CHECK(contains(parse_error("[::1]:"), "has no port after the ':'"));
}

TEST_CASE("check_seeds accepts good seeds and names every malformed one") {
  CHECK(!check_seeds({}));
  CHECK(!check_seeds({"127.0.0.1:4900", "seeds.example:4900", "[::1]:4900"}));
  auto err = check_seeds({"good.example:4900", "4900", "host:0"});
  REQUIRE(err);
  CHECK(err == actor::make_error(actor::errc::bad_config));
  auto text = actor::render(err);
  CHECK(contains(text, "seed '4900' is not host:port"));
  CHECK(contains(text, "seed 'host:0' has port '0'"));
  CHECK(!contains(text, "good.example"));
}

TEST_CASE("seeds that are IP addresses are kept without a lookup") {
  fake_dns dns;
  auto found = resolve_seeds({"127.0.0.1:4900", "[::1]:4901", "fd00::2:4902"},
                             dns.resolver());
  CHECK(found.problems == strings{});
  // IPv6 without brackets: what the wire's connector takes as host.
  CHECK(found.endpoints
        == strings{"127.0.0.1:4900", "::1:4901", "fd00::2:4902"});
  CHECK(dns.lookups.empty());
}

TEST_CASE("a name with several addresses stands for all of them, sorted and each once") {
  fake_dns dns;
  dns.table["seeds.example"] = {"10.0.0.3", "10.0.0.1", "fd00::7", "10.0.0.2"};
  auto found = resolve_seeds({"seeds.example:4900", "10.0.0.1:4900",
                              "seeds.example:4900", "10.0.0.9:4901"},
                             dns.resolver());
  CHECK(found.problems == strings{});
  CHECK(found.endpoints
        == strings{"10.0.0.1:4900", "10.0.0.2:4900", "10.0.0.3:4900",
                   "10.0.0.9:4901", "fd00::7:4900"});
}

TEST_CASE("a seed that does not resolve is a problem, and the others still count") {
  fake_dns dns;
  dns.table["seeds.example"] = {"10.0.0.1"};
  dns.table["empty.example"] = {};
  auto found = resolve_seeds({"nosuch.example:4900", "seeds.example:4900",
                              "empty.example:4900", "host:0"},
                             dns.resolver());
  CHECK(found.endpoints == strings{"10.0.0.1:4900"});
  REQUIRE(found.problems.size() == 3);
  CHECK(found.problems[0]
        == "seed 'nosuch.example:4900': cannot resolve 'nosuch.example': "
           "Name or service not known");
  CHECK(found.problems[1]
        == "seed 'empty.example:4900': 'empty.example' has no IPv4 or IPv6 "
           "address");
  CHECK(contains(found.problems[2], "seed 'host:0' has port '0'"));
}

TEST_CASE("localhost resolves through the system resolver to loopback addresses") {
  auto addrs = resolve_host("localhost");
  // doctest renders the message even on success: only ask a failed result.
  REQUIRE_MESSAGE(addrs, ringvisor::test::why(addrs));
  CHECK(std::count(addrs->begin(), addrs->end(), "127.0.0.1") == 1);
  for (auto& addr : *addrs)
    CHECK_MESSAGE((addr.rfind("127.", 0) == 0 || addr == "::1"),
                  "localhost resolved to non-loopback ", addr);
  auto found = resolve_seeds({"localhost:4900", "127.0.0.1:4900"});
  CHECK(found.problems == strings{});
  // 127.0.0.1 once, however often it is named; ::1 too if /etc/hosts has it.
  CHECK(std::count(found.endpoints.begin(), found.endpoints.end(),
                   "127.0.0.1:4900")
        == 1);
  CHECK(found.endpoints.size() == addrs->size());
}

TEST_CASE("a name under .invalid fails to resolve with the resolver's reason") {
  auto addrs = resolve_host("nosuch.invalid");
  REQUIRE(!addrs);
  auto text = actor::render(addrs.error());
  CHECK(contains(text, "cannot resolve 'nosuch.invalid': "));
  auto found = resolve_seeds({"nosuch.invalid:4900", "127.0.0.1:4900"});
  CHECK(found.endpoints == strings{"127.0.0.1:4900"});
  REQUIRE(found.problems.size() == 1);
  CHECK(contains(found.problems[0],
                 "seed 'nosuch.invalid:4900': cannot resolve 'nosuch.invalid': "));
  MESSAGE("resolver says: ", found.problems[0]);
}
