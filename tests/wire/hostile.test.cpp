// The cluster port under attack, with real node processes over loopback
// TCP: garbage, oversize lengths, truncated frames, slow senders, replayed
// handshakes, wrong secrets and cluster names, thousands of idle
// connections and a connect flood. The node must keep serving with bounded
// files and memory, its peer must notice nothing, and an outsider without
// the secret must get nothing done.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "support/cluster_kit.hpp"
#include "support/temp_dir.hpp"
#include "wire/frame.hpp"
#include "wire/handshake.hpp"

using namespace ringvisor;
using namespace ringvisor::test;
using namespace std::chrono_literals;
using cluster::member_status;
namespace wire = actor::wire;

namespace {

using clk = std::chrono::steady_clock;

/// A raw TCP connection from 127.0.0.1, as an attacker has it.
class raw_socket {
public:
  explicit raw_socket(const std::string& endpoint) {
    auto colon = endpoint.rfind(':');
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::stoi(endpoint.substr(colon + 1))));
    inet_pton(AF_INET, endpoint.substr(0, colon).c_str(), &addr.sin_addr);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

  raw_socket(raw_socket&& other) noexcept : fd_(other.fd_) {
    other.fd_ = -1;
  }

  raw_socket(const raw_socket&) = delete;
  raw_socket& operator=(const raw_socket&) = delete;

  ~raw_socket() {
    if (fd_ >= 0)
      ::close(fd_);
  }

  bool ok() const noexcept {
    return fd_ >= 0;
  }

  void send(const std::vector<uint8_t>& bytes) {
    [[maybe_unused]] auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  }

  /// Reads exactly `n` bytes within `timeout`; fewer if the node closed.
  std::vector<uint8_t> read(size_t n, std::chrono::milliseconds timeout = 2s) {
    std::vector<uint8_t> result;
    auto deadline = clk::now() + timeout;
    while (result.size() < n && clk::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clk::now());
      if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 1))) <= 0)
        continue;
      uint8_t buf[256];
      auto got = ::recv(fd_, buf, std::min(sizeof(buf), n - result.size()), 0);
      if (got <= 0)
        break;
      result.insert(result.end(), buf, buf + got);
    }
    return result;
  }

  /// Returns whether the node closes the connection within `timeout`
  /// (whatever it sends first is read and dropped).
  bool closed_within(std::chrono::milliseconds timeout) {
    auto deadline = clk::now() + timeout;
    while (clk::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0)
        continue;
      uint8_t buf[4096];
      auto got = ::recv(fd_, buf, sizeof(buf), 0);
      if (got <= 0)
        return true;
    }
    return false;
  }

private:
  int fd_ = -1;
};

std::string secret() {
  auto env = std::getenv("RINGVISOR_SECRET");
  REQUIRE(env != nullptr);
  return env;
}

wire::block random_block() {
  std::random_device rd;
  wire::block x;
  for (auto& b : x)
    b = static_cast<uint8_t>(rd());
  return x;
}

/// Does the dialer's part of the handshake on `s` with `key`; returns the
/// response it sent, and whether the node's proof came back.
std::pair<std::vector<uint8_t>, bool> authenticate(raw_socket& s, const wire::block& key) {
  auto challenge = s.read(wire::challenge_size);
  REQUIRE(challenge.size() == wire::challenge_size);
  wire::dialer_handshake hs{key, random_block()};
  REQUIRE(hs.on_challenge(challenge) == wire::handshake_result::ok);
  s.send(hs.response());
  auto proof = s.read(wire::proof_size, 1s);
  return {hs.response(), proof.size() == wire::proof_size
                           && hs.on_proof(proof) == wire::handshake_result::ok};
}

size_t open_files(pid_t pid) {
  size_t n = 0;
  for ([[maybe_unused]] auto& entry :
       std::filesystem::directory_iterator{"/proc/" + std::to_string(pid) + "/fd"})
    ++n;
  return n;
}

size_t rss_kib(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stoul(line.substr(6));
  return 0;
}

/// Starts a and b and waits until both see each other up.
void start_pair(cluster_kit& kit) {
  kit.start_all({"a", "b"});
  kit.await_view(kit["a"], {"a", "b"});
  kit.await_view(kit["b"], {"a", "b"});
}

/// Checks that `a` answers within a second and that b still sees the same
/// incarnation of a up: the attack went unnoticed by the cluster.
void expect_unharmed(cluster_kit& kit, const cluster::member& a_before) {
  auto t0 = clk::now();
  auto r = kit.report(kit["a"]);
  CHECK(clk::now() - t0 < 1s);
  CHECK(with_status(r.members, member_status::up) == strings{"a", "b"});
  auto b_view = kit.view_of(kit["b"]);
  bool same = false;
  for (auto& m : b_view)
    if (m.name == "a")
      same = m.incarnation == a_before.incarnation && m.status == member_status::up;
  CHECK_MESSAGE(same, "b's view: " << to_string(b_view));
}

/// Returns a as b sees it.
cluster::member a_as_b_sees_it(cluster_kit& kit) {
  for (auto& m : kit.view_of(kit["b"]))
    if (m.name == "a")
      return m;
  FAIL("b does not know a");
  return {};
}

/// Runs ringvisor-ctl with `env` in front.
shell_result ctl(const std::string& env, const std::string& args) {
  return run_shell(env + " " + RINGVISOR_CTL_BIN + " " + args);
}

} // namespace

TEST_CASE("garbage, an oversize length, a truncated frame and a slow sender are cut off") {
  cluster_kit kit;
  start_pair(kit);
  auto a_before = a_as_b_sees_it(kit);
  auto ep = kit["a"].endpoint();
  auto key = wire::derive_key(secret(), "ringvisor");
  // Garbage: 80 bytes of it are a response that fails.
  {
    raw_socket s{ep};
    REQUIRE(s.ok());
    std::vector<uint8_t> junk(4096);
    std::mt19937 rng{42};
    for (auto& b : junk)
      b = static_cast<uint8_t>(rng());
    s.send(junk);
    CHECK(s.closed_within(1s));
  }
  // An authenticated peer announcing a 4 GiB frame: closed before allocation.
  {
    raw_socket s{ep};
    REQUIRE(authenticate(s, key).second);
    std::vector<uint8_t> header;
    wire::write_header({0xFFFFFFF0u, wire::frame_type::hello, 0}, header);
    s.send(header);
    CHECK(s.closed_within(1s));
  }
  // A truncated hello, then silence: closed at the handshake deadline.
  {
    raw_socket s{ep};
    REQUIRE(authenticate(s, key).second);
    std::vector<uint8_t> partial;
    wire::write_header({100, wire::frame_type::hello, 0}, partial);
    partial.resize(partial.size() + 10, 'x');
    s.send(partial);
    CHECK(s.closed_within(3s));
  }
  // A slow sender, a byte every 100 ms: closed at the handshake deadline.
  {
    raw_socket s{ep};
    REQUIRE(s.ok());
    auto t0 = clk::now();
    bool closed = false;
    while (!closed && clk::now() - t0 < 4s) {
      s.send({0x42});
      closed = s.closed_within(100ms);
    }
    CHECK(closed);
    CHECK(clk::now() - t0 < 3s);
  }
  expect_unharmed(kit, a_before);
}

TEST_CASE("a replayed handshake, a wrong secret and the wrong cluster name get no proof") {
  cluster_kit kit;
  start_pair(kit);
  auto ep = kit["a"].endpoint();
  auto key = wire::derive_key(secret(), "ringvisor");
  std::vector<uint8_t> recorded;
  {
    raw_socket s{ep};
    auto [response, proven] = authenticate(s, key);
    REQUIRE(proven); // the right secret works
    recorded = response;
  }
  {
    // The recorded response against a fresh challenge.
    raw_socket s{ep};
    REQUIRE(s.read(wire::challenge_size).size() == wire::challenge_size);
    s.send(recorded);
    CHECK(s.read(wire::proof_size, 1s).empty());
    CHECK(s.closed_within(1s));
  }
  {
    raw_socket s{ep};
    CHECK_FALSE(authenticate(s, wire::derive_key("not-the-cluster-secret!", "ringvisor")).second);
  }
  {
    raw_socket s{ep};
    CHECK_FALSE(authenticate(s, wire::derive_key(secret(), "another-cluster")).second);
  }
  expect_unharmed(kit, a_as_b_sees_it(kit));
}

TEST_CASE("2,000 idle connections and a connect flood leave the node serving, its files and memory bounded") {
  // This process needs descriptors for its side of the connections.
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, 8192);
  setrlimit(RLIMIT_NOFILE, &lim);
  REQUIRE(lim.rlim_cur >= 4096);
  cluster_kit kit;
  start_pair(kit);
  auto a_before = a_as_b_sees_it(kit);
  auto pid = kit["a"].pid();
  auto files_before = open_files(pid);
  auto rss_before = rss_kib(pid);
  std::vector<raw_socket> idle;
  for (int i = 0; i < 2000; ++i)
    idle.emplace_back(kit["a"].endpoint());
  expect_unharmed(kit, a_before);
  auto files_during = open_files(pid);
  MESSAGE("node files: " << files_before << " before, " << files_during << " with 2,000 idle");
  CHECK(files_during < files_before + 64); // only the handshakes in progress
  // A flood of connects that close at once.
  auto flood_end = clk::now() + 2s;
  size_t flooded = 0;
  while (clk::now() < flood_end) {
    raw_socket s{kit["a"].endpoint()};
    ++flooded;
  }
  MESSAGE(flooded << " connects in 2 s");
  expect_unharmed(kit, a_before);
  idle.clear();
  auto rss_after = rss_kib(pid);
  MESSAGE("node RSS: " << rss_before << " KiB before, " << rss_after << " KiB after");
  CHECK(rss_after < rss_before + 32 * 1024);
  CHECK(open_files(pid) < files_before + 64);
}

TEST_CASE("an outsider without the secret can neither join nor list, call or make a member leave") {
  cluster_kit kit;
  start_pair(kit);
  auto a_before = a_as_b_sees_it(kit);
  auto node = " --node " + kit["a"].endpoint() + " ";
  auto wrong = "RINGVISOR_SECRET=not-the-cluster-secret-at-all";
  for (auto cmd : {"members", "ring", "leave b", "which-children anything"}) {
    auto [code, out] = ctl(wrong, node + cmd);
    CHECK_MESSAGE(code != 0, cmd << ": " << out);
    CHECK_MESSAGE(out.find("authentication_failed") != std::string::npos, cmd << ": " << out);
  }
  // The right secret works (and proves the command lines above are sound).
  auto [code, out] = ctl("", node + "members");
  CHECK_MESSAGE(code == 0, out);
  // A foreign node with its own secret, seeded at a, joins nothing.
  temp_dir tmp{"hostile"};
  auto path = tmp.file("secret");
  std::ofstream{path} << "a-secret-of-another-cluster-entirely\n";
  std::filesystem::permissions(path, std::filesystem::perms::owner_read
                                       | std::filesystem::perms::owner_write);
  node_options foreign;
  foreign.seeds = strings{kit["a"].endpoint()};
  foreign.args = {"--ringvisor.secret-file=" + path};
  kit.start("x", foreign);
  std::this_thread::sleep_for(1500ms); // a few join attempts
  expect_unharmed(kit, a_before);
  CHECK(kit.view_of(kit["b"]).size() == 2);
}
