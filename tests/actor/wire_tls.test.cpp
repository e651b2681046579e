// TLS under the wire, with real sockets and certificates from private CAs
// made for each test: members talk as without TLS and nothing readable
// crosses the socket; strangers (another CA, no TLS) cannot connect either
// way; and every misconfiguration stops start-up with a message that names
// the option.

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>

#include <caf/all.hpp>
#include <openssl/ssl.h>

#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/wire.hpp"
#include "support/temp_dir.hpp"
#include "support/test_ca.hpp"
#include "support/wired.hpp"
#include "wire/engine.hpp"
#include "wire/handshake.hpp"
#include "wire/tcp_transport.hpp"
#include "wire/tls.hpp"

using namespace ringvisor;
using namespace std::chrono_literals;
using test::secret_file;
using test::wired;
namespace wire = actor::wire;

namespace {

constexpr const char* cluster_secret = "a-cluster-secret-of-some-length";

// Wire options with TLS from `cert` and `ca`.
actor::wire_options tls_options(const std::string& secret, const test::test_ca& ca,
                                const test::test_ca::issued& cert) {
  actor::wire_options opts;
  opts.secret_file = secret;
  opts.tls_ca_file = ca.ca_file;
  opts.tls_cert_file = cert.cert_file;
  opts.tls_key_file = cert.key_file;
  return opts;
}

// The error `use_wire` gives for `opts` and a process named `name`.
std::string start_error(const actor::wire_options& opts, const std::string& name) {
  caf::actor_system_config cfg;
  auto err = actor::use_wire(cfg, opts, name, "127.0.0.1");
  return err ? actor::render(err) : std::string{};
}

// Answers a string with its size.
caf::behavior measurer() {
  return {[](const std::string& x) { return static_cast<int32_t>(x.size()); }};
}

// A TCP relay on 127.0.0.1 to `target_port` that keeps a copy of every
// byte it relays, for one connection: what someone on the path would see.
class tap {
public:
  explicit tap(uint16_t target_port) : target_port_(target_port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::listen(listener_, 1) == 0);
    socklen_t len = sizeof(addr);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
    thread_ = std::thread{[this] { run(); }};
  }

  ~tap() {
    stop_ = true;
    thread_.join();
    ::close(listener_);
  }

  std::string seen() {
    std::lock_guard<std::mutex> guard{mtx_};
    return seen_;
  }

  uint16_t port = 0;

private:
  // Waits for `fd` to be readable, or for the stop.
  bool await(int fd) {
    pollfd p{fd, POLLIN, 0};
    while (!stop_)
      if (::poll(&p, 1, 20) > 0)
        return true;
    return false;
  }

  void run() {
    if (!await(listener_))
      return;
    int in = ::accept(listener_, nullptr, nullptr);
    int out = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(target_port_);
    if (::connect(out, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      pollfd ps[] = {{in, POLLIN, 0}, {out, POLLIN, 0}};
      char buf[65536];
      while (!stop_) {
        if (::poll(ps, 2, 20) <= 0)
          continue;
        for (int i = 0; i < 2; ++i) {
          if (ps[i].revents == 0)
            continue;
          auto n = ::read(ps[i].fd, buf, sizeof(buf));
          if (n <= 0) {
            stop_ = true;
            break;
          }
          {
            std::lock_guard<std::mutex> guard{mtx_};
            seen_.append(buf, static_cast<size_t>(n));
          }
          auto to = ps[1 - i].fd;
          for (ssize_t off = 0; off < n;) {
            auto w = ::write(to, buf + off, static_cast<size_t>(n - off));
            if (w <= 0)
              break;
            off += w;
          }
        }
      }
    }
    ::close(in);
    ::close(out);
  }

  uint16_t target_port_;
  int listener_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mtx_;
  std::string seen_;
};

// The wire's engine on the TCP transport with TLS, naming itself
// `hello_name` whatever its certificate says: a member that lies.
struct lying_peer : wire::engine_listener {
  lying_peer(std::shared_ptr<const wire::tls_context> tls, const std::string& hello_name)
    : io("127.0.0.1", std::move(tls)) {
    wire::engine_config cfg;
    cfg.key = wire::derive_key(cluster_secret, actor::wire_options{}.cluster_name);
    eng = std::make_unique<wire::engine>(io, cfg,
                                         wire::hello_info{"liar-node", hello_name, "", ""}, *this);
    io.start(*eng, 50ms);
  }

  ~lying_peer() override {
    eng->shutdown();
    io.stop();
  }

  void on_peer_up(const wire::link_ptr&) override {
    ++ups;
  }

  void on_peer_down(const wire::link_ptr&, const std::string&) override {
    // nop
  }

  void on_frame(const wire::link_ptr&, wire::frame&) override {
    // nop
  }

  // Dials 127.0.0.1:`port`; returns the error, if any.
  caf::error dial(uint16_t port) {
    std::promise<caf::error> done;
    eng->dial("127.0.0.1", port, 2s, [&done](caf::expected<wire::link_ptr> x) {
      done.set_value(x ? caf::error{} : x.error());
    });
    return done.get_future().get();
  }

  wire::tcp_transport io;
  std::unique_ptr<wire::engine> eng;
  std::atomic<int> ups{0};
};

// Connects to 127.0.0.1:`port` with TLS 1.3, trusting `ca_file` and
// presenting no certificate; returns whether the server let it read.
bool tls_without_certificate(uint16_t port, const std::string& ca_file) {
  auto ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  auto ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  uint8_t buf[64];
  // TLS 1.3: the client finishes first; the refusal comes as an alert.
  bool read = SSL_connect(ssl) == 1 && SSL_read(ssl, buf, sizeof(buf)) > 0;
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ::close(fd);
  return read;
}

// Sends `text` from `from` to `measurer`; returns the size it answered.
int32_t measure(wired& from, const caf::actor& hdl, const std::string& text) {
  int32_t result = -1;
  caf::scoped_actor self{*from.sys};
  self->request(hdl, 5s, text).receive([&](int32_t n) { result = n; },
                                      [](caf::error& err) { FAIL(actor::render(err)); });
  return result;
}

} // namespace

TEST_CASE("members with certificates from the cluster's CA talk as without TLS, unreadably") {
  test::temp_dir tmp{"wire-tls"};
  auto secret = secret_file(tmp, "secret", cluster_secret);
  test::test_ca ca{tmp.path};
  wired a{"a", tls_options(secret, ca, ca.issue("a", {"a"}))};
  wired b{"b", tls_options(secret, ca, ca.issue("b", {"b"}))};
  a.put("measurer", a.sys->spawn(measurer));
  tap path{a.port};
  auto hdl = b.lookup("127.0.0.1:" + std::to_string(path.port), "measurer");
  std::string secret_text = "attack at dawn, ";
  // Small and large messages (the large one fills the socket several times).
  CHECK(measure(b, hdl, secret_text) == 16);
  std::string big;
  while (big.size() < (3u << 20))
    big += secret_text;
  CHECK(measure(b, hdl, big) == int32_t(big.size()));
  auto seen = path.seen();
  CHECK(seen.size() > big.size());
  CHECK(seen.find("attack at dawn") == std::string::npos);
  CHECK(seen.find("measurer") == std::string::npos);
  CHECK(actor::wire_stats(*a.sys).tls_failures == 0);
}

TEST_CASE("without TLS, the same tap reads the messages (so the test above can fail)") {
  test::temp_dir tmp{"wire-tls"};
  auto secret = secret_file(tmp, "secret", cluster_secret);
  wired a{"a", secret};
  wired b{"b", secret};
  a.put("measurer", a.sys->spawn(measurer));
  tap path{a.port};
  auto hdl = b.lookup("127.0.0.1:" + std::to_string(path.port), "measurer");
  CHECK(measure(b, hdl, "attack at dawn") == 14);
  CHECK(path.seen().find("attack at dawn") != std::string::npos);
}

TEST_CASE("a peer with a certificate from another CA, or without TLS, cannot connect either way") {
  test::temp_dir tmp{"wire-tls"};
  auto secret = secret_file(tmp, "secret", cluster_secret);
  test::test_ca ca{tmp.path};
  test::test_ca other{tmp.path, "another CA"};
  wired a{"a", tls_options(secret, ca, ca.issue("a", {"a"}))};
  wired x{"x", tls_options(secret, other, other.issue("x", {"x"}))};
  wired plain{"p", secret};
  auto refused = [](wired& from, const wired& to) {
    auto dir = actor::remote_directory(*from.sys, to.endpoint(), 2s);
    REQUIRE(!dir);
    return actor::render(dir.error());
  };
  // Each side's TLS fails the other's certificate, whoever dials.
  CHECK(refused(x, a).find("TLS") != std::string::npos);
  CHECK(refused(a, x).find("TLS") != std::string::npos);
  CHECK(actor::wire_stats(*a.sys).tls_failures >= 1);
  CHECK(actor::wire_stats(*x.sys).tls_failures >= 1);
  // A plain peer speaks no TLS: neither side gets through.
  refused(plain, a);
  refused(a, plain);
  CHECK(actor::wire_stats(*a.sys).peers_up == 0);
  CHECK(actor::wire_stats(*plain.sys).peers_up == 0);
}

TEST_CASE("every TLS misconfiguration stops start-up with a message naming the option") {
  test::temp_dir tmp{"wire-tls"};
  auto secret = secret_file(tmp, "secret", cluster_secret);
  test::test_ca ca{tmp.path};
  test::test_ca other{tmp.path, "another CA"};
  auto good = tls_options(secret, ca, ca.issue("a", {"a", "a.example"}));
  REQUIRE(start_error(good, "a").empty());
  CHECK(start_error(good, "a.example").empty());
  auto expect = [](const actor::wire_options& opts, const std::string& name,
                   const std::vector<std::string>& words) {
    auto msg = start_error(opts, name);
    CAPTURE(msg);
    REQUIRE(!msg.empty());
    for (auto& w : words)
      CHECK(msg.find(w) != std::string::npos);
  };
  SUBCASE("a certificate without its key or CA") {
    auto x = good;
    x.tls_ca_file.clear();
    expect(x, "a", {"ringvisor.tls", "ca-file, cert-file and key-file"});
  }
  SUBCASE("files that are not there") {
    auto x = good;
    x.tls_ca_file = tmp.file("nope.pem");
    expect(x, "a", {"ringvisor.tls.ca-file", "nope.pem", "cannot be read"});
    x = good;
    x.tls_key_file = tmp.file("nope.key");
    expect(x, "a", {"ringvisor.tls.key-file", "cannot be read"});
  }
  SUBCASE("a key others may read") {
    ::chmod(good.tls_key_file.c_str(), 0644);
    expect(good, "a", {"ringvisor.tls.key-file", "chmod 600"});
  }
  SUBCASE("files that hold something else") {
    auto x = good;
    x.tls_ca_file = secret;
    expect(x, "a", {"ringvisor.tls.ca-file", "no usable PEM certificate"});
    x = good;
    x.tls_cert_file = good.tls_key_file;
    expect(x, "a", {"ringvisor.tls.cert-file", "no usable PEM certificate"});
    x = good;
    x.tls_key_file = secret;
    expect(x, "a", {"ringvisor.tls.key-file", "no PEM private key"});
  }
  SUBCASE("an encrypted key: no passphrase, a wrong one, the right one") {
    test::test_ca::options o;
    o.passphrase = "correct horse battery";
    auto x = tls_options(secret, ca, ca.issue("locked", {"a"}, o));
    expect(x, "a", {"ringvisor.tls.key-file", "encrypted", "key-password-file"});
    x.tls_key_password_file = secret_file(tmp, "wrong-pass", "incorrect horse");
    expect(x, "a", {"ringvisor.tls.key-file", "wrong passphrase"});
    x.tls_key_password_file = secret_file(tmp, "pass", "correct horse battery");
    CHECK(start_error(x, "a").empty());
  }
  SUBCASE("the key of another certificate") {
    auto x = good;
    x.tls_key_file = ca.issue("b", {"b"}).key_file;
    expect(x, "a", {"ringvisor.tls.key-file", "not the key of the certificate"});
  }
  SUBCASE("a certificate of another CA, expired, or not valid yet") {
    auto x = tls_options(secret, ca, other.issue("foreign", {"a"}));
    expect(x, "a", {"ringvisor.tls.cert-file", "does not verify against", "ca-file"});
    test::test_ca::options o;
    o.not_before = -48h;
    o.not_after = -24h;
    x = tls_options(secret, ca, ca.issue("old", {"a"}, o));
    expect(x, "a", {"ringvisor.tls.cert-file", "expired"});
    o.not_before = 24h;
    o.not_after = 48h;
    x = tls_options(secret, ca, ca.issue("young", {"a"}, o));
    expect(x, "a", {"ringvisor.tls.cert-file", "not yet valid"});
  }
  SUBCASE("a certificate that names another member") {
    expect(good, "b", {"ringvisor.tls.cert-file", "names 'a', 'a.example'", "not 'b'",
                       "DNS:b"});
    expect(good, "A", {"not 'A'"}); // names are exact
    auto wild = tls_options(secret, ca, ca.issue("wild", {"*.example"}));
    expect(wild, "a.example", {"names '*.example'"});
    auto bare = tls_options(secret, ca, ca.issue("cn-only", {}));
    expect(bare, "cn-only", {"no subjectAltName"});
  }
  SUBCASE("a certificate only for servers") {
    test::test_ca::options o;
    o.extended_key_usage = "serverAuth";
    expect(tls_options(secret, ca, ca.issue("server", {"a"}, o)), "a",
           {"ringvisor.tls.cert-file", "serverAuth and clientAuth"});
  }
}

TEST_CASE("over real sockets, the server checks the client's certificate and name itself") {
  test::temp_dir tmp{"wire-tls"};
  auto secret = secret_file(tmp, "secret", cluster_secret);
  test::test_ca ca{tmp.path};
  test::test_ca other{tmp.path, "another CA"};
  wired a{"a", tls_options(secret, ca, ca.issue("a", {"a"}))};
  SUBCASE("a client that trusts our CA but has a certificate of another") {
    auto both = tmp.file("both.pem");
    {
      std::ofstream out{both};
      out << std::ifstream{other.ca_file}.rdbuf() << std::ifstream{ca.ca_file}.rdbuf();
    }
    auto opts = tls_options(secret, other, other.issue("x", {"x"}));
    opts.tls_ca_file = both;
    wired x{"x", opts};
    auto dir = actor::remote_directory(*x.sys, a.endpoint(), 2s);
    REQUIRE(!dir);
    CHECK(actor::render(dir.error()).find("TLS") != std::string::npos);
  }
  SUBCASE("a client without a certificate") {
    CHECK(!tls_without_certificate(a.port, ca.ca_file));
  }
  SUBCASE("a client whose certificate names x and who calls itself c") {
    auto cert = ca.issue("x", {"x"});
    auto tls = wire::tls_context::make({ca.ca_file, cert.cert_file, cert.key_file, ""}, "x");
    REQUIRE(tls);
    lying_peer liar{*tls, "c"};
    auto err = liar.dial(a.port);
    REQUIRE(err);
    CHECK(actor::render(err).find("does not name 'c'") != std::string::npos);
    CHECK(liar.ups == 0);
    CHECK(actor::wire_stats(*a.sys).handshake_failures == 1);
  }
  CHECK(actor::wire_stats(*a.sys).peers_up == 0);
  if (actor::wire_stats(*a.sys).handshake_failures == 0)
    CHECK(actor::wire_stats(*a.sys).tls_failures >= 1);
}
