// The wire's protocol engine on an in-memory network with a virtual clock:
// handshake, hello, duplicate links, heartbeats, bounds and queues, driven
// step by step without threads or sockets.

#include <doctest/doctest.h>

#include "ringvisor/actor/errc.hpp"
#include "support/mem_transport.hpp"
#include "wire/engine.hpp"

using namespace ringvisor;
using namespace ringvisor::actor::wire;
using namespace std::chrono_literals;

namespace {

// One process: a transport, an engine and what the engine reported.
struct peer_node : engine_listener {
  /// `node_id`: the node id it claims (default: "node-<host>").
  peer_node(test::mem_network& net, const std::string& host, const std::string& secret,
            engine_config cfg = {}, const std::string& node_id = {})
    : io(net.add(host)) {
    cfg.key = derive_key(secret, "test");
    auto port = io.listen(host, 4000);
    REQUIRE(port);
    eng = std::make_unique<engine>(
      io, cfg, hello_info{node_id.empty() ? "node-" + host : node_id, host, host + ":4000", ""},
      *this);
    io.start(*eng, 10ms);
  }

  void on_peer_up(const link_ptr& l) override {
    ups.push_back(l->peer.name);
  }

  void on_peer_down(const link_ptr& l, const std::string& why) override {
    downs.push_back(l->peer.name + ": " + why);
  }

  void on_frame(const link_ptr& l, frame& f) override {
    frames.push_back(l->peer.name + ": " + std::string(f.payload.begin(), f.payload.end()));
  }

  // Dials `host` and records the outcome in `dialled`.
  void dial(const std::string& host) {
    eng->dial(host, 4000, 1s, [this](caf::expected<link_ptr> x) {
      if (x)
        dialled.push_back((*x)->peer.name);
      else
        dial_errors.push_back(x.error());
    });
  }

  engine::send_result send(const std::string& node, const std::string& text) {
    auto l = eng->peer("node-" + node);
    REQUIRE(l);
    return eng->send(*l, frame_type::msg, 0, reinterpret_cast<const uint8_t*>(text.data()),
                     text.size());
  }

  test::mem_transport& io;
  std::unique_ptr<engine> eng;
  std::vector<std::string> ups;
  std::vector<std::string> downs;
  std::vector<std::string> frames;
  std::vector<std::string> dialled;
  std::vector<caf::error> dial_errors;
};

constexpr const char* secret = "0123456789abcdef-secret";

} // namespace

TEST_CASE("two engines with one secret authenticate, name each other and exchange frames") {
  test::mem_network net;
  peer_node a{net, "a", secret};
  peer_node b{net, "b", secret};
  a.dial("b");
  net.run();
  CHECK(a.dialled == std::vector<std::string>{"b"});
  CHECK(a.ups == std::vector<std::string>{"b"});
  CHECK(b.ups == std::vector<std::string>{"a"});
  CHECK(a.send("b", "ping") == engine::send_result::ok);
  CHECK(b.send("a", "pong") == engine::send_result::ok);
  net.run();
  CHECK(b.frames == std::vector<std::string>{"a: ping"});
  CHECK(a.frames == std::vector<std::string>{"b: pong"});
  // A second dial to a linked endpoint answers at once with the same link.
  a.dial("b");
  CHECK(a.dialled.size() == 2);
  CHECK(a.eng->peer_count() == 1);
}

TEST_CASE("a dialer with the wrong secret or cluster learns why and the acceptor counts it") {
  test::mem_network net;
  peer_node a{net, "a", "another-secret-of-16-bytes"};
  peer_node b{net, "b", secret};
  a.dial("b");
  net.run();
  REQUIRE(a.dial_errors.size() == 1);
  CHECK(a.dial_errors[0].category() == actor::errc_category);
  CHECK(a.dial_errors[0].code() == static_cast<uint8_t>(actor::errc::authentication_failed));
  CHECK(a.ups.empty());
  CHECK(b.ups.empty());
  CHECK(b.eng->stats().handshake_failures == 1);
  CHECK(net.links_of("b").empty());
}

TEST_CASE("with certificates, a peer must be the member its certificate names, both ways") {
  test::mem_network net;
  peer_node a{net, "a", secret};
  peer_node b{net, "b", secret};
  peer_node c{net, "c", secret};
  a.io.certificate = "a";
  b.io.certificate = "b";
  c.io.certificate = "a"; // c holds a's certificate and calls itself c
  SUBCASE("the acceptor refuses a dialer named otherwise") {
    c.dial("b");
    net.run();
    REQUIRE(c.dial_errors.size() == 1);
    CHECK(actor::render(c.dial_errors[0]).find("does not name 'c'") != std::string::npos);
    CHECK(b.eng->stats().handshake_failures == 1);
    CHECK(b.ups.empty());
    CHECK(c.ups.empty());
  }
  SUBCASE("the dialer leaves an acceptor named otherwise") {
    a.dial("c");
    net.run();
    REQUIRE(a.dial_errors.size() == 1);
    CHECK(actor::render(a.dial_errors[0]).find("does not name 'c'") != std::string::npos);
    CHECK(a.eng->stats().handshake_failures == 1);
    CHECK(a.ups.empty());
  }
  a.dial("b");
  net.run();
  CHECK(a.ups == std::vector<std::string>{"b"});
}

TEST_CASE("a peer that claims a linked node id under another name is refused") {
  test::mem_network net;
  peer_node a{net, "a", secret};
  peer_node b{net, "b", secret};
  b.dial("a");
  net.run();
  REQUIRE(a.ups == std::vector<std::string>{"b"});
  peer_node c{net, "c", secret, {}, "node-b"}; // the secret, and b's node id
  c.dial("a");
  net.run();
  REQUIRE(c.dial_errors.size() == 1);
  CHECK(actor::render(c.dial_errors[0]).find("node id in use") != std::string::npos);
  CHECK(a.downs.empty()); // b's link stays
  CHECK(a.eng->peer_count() == 1);
  CHECK(a.eng->stats().handshake_failures == 1);
}

TEST_CASE("a dial to another address of a linked node completes with the link at once") {
  test::mem_network net;
  peer_node a{net, "a", secret};
  peer_node b{net, "b", secret};
  REQUIRE(b.io.listen("b-alias", 4000)); // b under a second name
  a.dial("b");
  net.run();
  REQUIRE(a.dialled == std::vector<std::string>{"b"});
  a.dial("b-alias");
  net.run(); // no time passes: a dial that waited for its deadline would not be done
  CHECK(a.dialled == std::vector<std::string>{"b", "b"});
  CHECK(a.dial_errors.empty());
  CHECK(a.eng->peer_count() == 1);
  CHECK(b.eng->peer_count() == 1);
  CHECK(a.downs.empty());
  CHECK(b.downs.empty());
}

TEST_CASE("a connection that never finishes its handshake is closed at the deadline") {
  test::mem_network net;
  peer_node b{net, "b", secret};
  std::vector<uint8_t> got;
  auto write = net.raw_connect("x", "b:4000", [&](std::vector<uint8_t> bytes) {
    got.insert(got.end(), bytes.begin(), bytes.end());
  });
  REQUIRE(write);
  net.run();
  CHECK(got.size() == challenge_size); // a nonce, nothing computed with the key
  write({1, 2, 3});                    // a truncated response
  net.advance(1900ms);
  CHECK(net.links_of("b").size() == 1);
  net.advance(200ms);
  CHECK(net.links_of("b").empty());
  CHECK(b.eng->stats().handshake_timeouts == 1);
}

TEST_CASE("unauthenticated connections are limited per source and in total") {
  test::mem_network net;
  engine_config cfg;
  cfg.max_unauthenticated_per_host = 3;
  cfg.max_unauthenticated = 5;
  peer_node b{net, "b", secret, cfg};
  for (int i = 0; i < 4; ++i)
    net.raw_connect("x", "b:4000");
  net.run();
  CHECK(net.links_of("b").size() == 3);
  CHECK(b.eng->stats().unauthenticated_refused == 1);
  for (int i = 0; i < 3; ++i)
    net.raw_connect("y", "b:4000");
  net.run();
  CHECK(net.links_of("b").size() == 5);
  CHECK(b.eng->stats().unauthenticated_refused == 2);
  // An honest peer still gets in once the strangers time out.
  peer_node a{net, "a", secret};
  net.advance(2100ms);
  a.dial("b");
  net.run();
  CHECK(a.dialled == std::vector<std::string>{"b"});
}

TEST_CASE("an authenticated peer that announces an oversize frame is cut off before allocation") {
  test::mem_network net;
  peer_node b{net, "b", secret};
  std::vector<uint8_t> got;
  auto write = net.raw_connect("x", "b:4000", [&](std::vector<uint8_t> bytes) {
    got.insert(got.end(), bytes.begin(), bytes.end());
  });
  net.run();
  REQUIRE(got.size() == challenge_size);
  dialer_handshake hs{derive_key(secret, "test"), block{}};
  REQUIRE(hs.on_challenge(got) == handshake_result::ok);
  write(hs.response());
  net.run();
  CHECK(net.links_of("b").size() == 1);
  std::vector<uint8_t> header;
  write_header(frame_header{0xFFFFFFFFu, frame_type::hello, 0}, header);
  write(header);
  net.run();
  CHECK(net.links_of("b").empty());
  CHECK(b.eng->stats().oversize_frames == 1);
}

TEST_CASE("heartbeats keep an idle link up and silence closes it") {
  test::mem_network net;
  peer_node a{net, "a", secret};
  peer_node b{net, "b", secret};
  a.dial("b");
  net.run();
  net.advance(10s);
  CHECK(a.downs.empty());
  CHECK(b.downs.empty());
  net.cut("a", "b");
  net.advance(2900ms);
  CHECK(a.downs.empty());
  net.advance(200ms);
  CHECK(a.downs == std::vector<std::string>{"b: silent for the connection timeout"});
  CHECK(b.downs == std::vector<std::string>{"a: silent for the connection timeout"});
  CHECK(a.eng->stats().silent_closes == 1);
}

TEST_CASE("a full outbound queue refuses messages but passes control frames, then drains") {
  test::mem_network net;
  engine_config cfg;
  cfg.max_queue = 1000;
  peer_node a{net, "a", secret, cfg};
  peer_node b{net, "b", secret};
  a.dial("b");
  net.run();
  a.io.window = 10; // the peer reads slowly
  std::string big(400, 'x');
  CHECK(a.send("b", big) == engine::send_result::ok); // 10 bytes go, the rest waits
  CHECK(a.send("b", big) == engine::send_result::ok);
  CHECK(a.send("b", big) == engine::send_result::overloaded);
  CHECK(a.eng->stats().queue_full == 1);
  auto l = a.eng->peer("node-b");
  CHECK(a.eng->send(*l, frame_type::down, 0, nullptr, 0, true) == engine::send_result::ok);
  CHECK(a.eng->send(*l, frame_type::msg, 0, nullptr, 5u << 20) == engine::send_result::too_large);
  a.io.window = 0;
  net.run();
  CHECK(b.frames.size() == 3); // two messages and the (empty) down
  CHECK(a.send("b", big) == engine::send_result::ok);
}

TEST_CASE("two nodes that dial each other at any moment end with one link") {
  // Every interleaving: one dials after k deliveries of the other's dial,
  // with the smaller and with the larger node id first.
  for (int k = 0; k < 48; ++k) {
    CAPTURE(k);
    test::mem_network net;
    peer_node a{net, "a", secret};
    peer_node b{net, "b", secret};
    auto& first = k % 2 == 0 ? a : b;
    auto& second = k % 2 == 0 ? b : a;
    first.dial(second.io.host());
    for (int i = 0; i < k / 2; ++i)
      net.step();
    second.dial(first.io.host());
    net.run();
    CHECK(a.eng->peer_count() == 1);
    CHECK(b.eng->peer_count() == 1);
    CHECK(a.dialled == std::vector<std::string>{"b"});
    CHECK(b.dialled == std::vector<std::string>{"a"});
    CHECK(a.dial_errors.empty());
    CHECK(b.dial_errors.empty());
    auto la = a.eng->peer("node-b");
    auto lb = b.eng->peer("node-a");
    REQUIRE(la);
    REQUIRE(lb);
    CHECK(la->session == lb->session);
    CHECK(a.ups.size() == 1);
    CHECK(b.ups.size() == 1);
    CHECK(a.downs.empty());
    CHECK(b.downs.empty());
    // The link works both ways and stays up.
    a.send("b", "x");
    b.send("a", "y");
    net.advance(5s);
    CHECK(b.frames == std::vector<std::string>{"a: x"});
    CHECK(a.frames == std::vector<std::string>{"b: y"});
    CHECK(a.downs.empty());
  }
}

TEST_CASE("a dial over a half-open link replaces it, and the old one goes down first") {
  test::mem_network net;
  peer_node a{net, "a", secret};
  peer_node b{net, "b", secret};
  a.dial("b");
  net.run();
  auto old = b.eng->peer("node-a");
  REQUIRE(old);
  // a loses its end without a word; b still thinks the link is up.
  net.forget("a", a.eng->peer("node-b")->id);
  net.run();
  CHECK(a.downs.size() == 1);
  CHECK(b.downs.empty());
  a.dial("b");
  net.run();
  CHECK(a.dialled.size() == 2);
  CHECK(b.downs == std::vector<std::string>{"a: replaced by a new link from the same node"});
  CHECK(b.ups == std::vector<std::string>{"a", "a"});
  CHECK(b.eng->peer("node-a") != old);
  CHECK(a.send("b", "after") == engine::send_result::ok);
  net.run();
  CHECK(b.frames == std::vector<std::string>{"a: after"});
}

TEST_CASE("a node that dials itself fails the dial, and bye tells the peer at once") {
  test::mem_network net;
  peer_node a{net, "a", secret};
  peer_node b{net, "b", secret};
  a.dial("a");
  net.run();
  REQUIRE(a.dial_errors.size() == 1);
  CHECK(a.ups.empty());
  a.dial("b");
  net.run();
  b.eng->shutdown();
  net.run();
  CHECK(a.downs == std::vector<std::string>{"b: the peer left"});
}

TEST_CASE("a dial to nobody fails, and so does one that is never answered") {
  test::mem_network net;
  peer_node a{net, "a", secret};
  a.dial("nobody");
  net.run();
  REQUIRE(a.dial_errors.size() == 1);
  CHECK(a.dial_errors[0] == caf::sec::cannot_connect_to_node);
  test::mem_network net2;
  peer_node c{net2, "c", secret};
  peer_node d{net2, "d", secret};
  net2.cut("c", "d");
  c.dial("d");
  net2.run();
  // The cut refuses the connect here; a silent peer times out instead.
  net2.heal();
  c.dial_errors.clear();
  d.io.stop(); // d accepts but its engine hears nothing
  c.dial("d");
  net2.advance(1100ms);
  REQUIRE(c.dial_errors.size() == 1);
  CHECK(c.dial_errors[0] == caf::sec::cannot_connect_to_node);
}
