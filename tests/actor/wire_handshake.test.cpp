// The wire's handshake: both sides prove the secret without sending it;
// a wrong secret, another cluster, a replayed response, a reflected MAC, a
// peer of another version and garbage all fail.

#include <algorithm>

#include <doctest/doctest.h>

#include "wire/handshake.hpp"

using namespace ringvisor::actor::wire;

namespace {

block nonce(uint8_t x) {
  block result;
  result.fill(x);
  return result;
}

// Runs a whole handshake; returns the dialer's result, or the acceptor's if
// the acceptor refused.
handshake_result run(const block& dialer_key, const block& acceptor_key, uint8_t nd = 1,
                     uint8_t na = 2) {
  acceptor_handshake a{acceptor_key, nonce(na)};
  dialer_handshake d{dialer_key, nonce(nd)};
  if (auto r = d.on_challenge(a.challenge()); r != handshake_result::ok)
    return r;
  if (auto r = a.on_response(d.response()); r != handshake_result::ok)
    return r;
  auto r = d.on_proof(a.proof());
  if (r == handshake_result::ok) {
    REQUIRE(a.session_key());
    REQUIRE(d.session_key());
    CHECK(*a.session_key() == *d.session_key());
  }
  return r;
}

} // namespace

TEST_CASE("the wire handshake succeeds with one secret and one cluster name, and only then") {
  auto key = derive_key("correct horse battery staple", "prod");
  CHECK(run(key, key) == handshake_result::ok);
  CHECK(run(derive_key("wrong secret, long enough", "prod"), key) == handshake_result::bad_mac);
  CHECK(run(derive_key("correct horse battery staple", "staging"), key)
        == handshake_result::bad_mac);
  // the secret never travels: no handshake message contains it
  acceptor_handshake a{key, nonce(2)};
  dialer_handshake d{key, nonce(1)};
  REQUIRE(d.on_challenge(a.challenge()) == handshake_result::ok);
  std::string secret = "correct horse battery staple";
  auto has = [&](const std::vector<uint8_t>& x) {
    return std::search(x.begin(), x.end(), secret.begin(), secret.end()) != x.end();
  };
  CHECK(!has(a.challenge()));
  CHECK(!has(d.response()));
}

TEST_CASE("a recorded wire response is useless against a new challenge") {
  auto key = derive_key("correct horse battery staple", "prod");
  acceptor_handshake first{key, nonce(2)};
  dialer_handshake d{key, nonce(1)};
  REQUIRE(d.on_challenge(first.challenge()) == handshake_result::ok);
  auto recorded = d.response();
  REQUIRE(first.on_response(recorded) == handshake_result::ok);
  acceptor_handshake second{key, nonce(3)}; // a fresh nonce
  CHECK(second.on_response(recorded) == handshake_result::bad_mac);
  // nor is a recorded proof against a dialer with a new nonce
  dialer_handshake later{key, nonce(4)};
  REQUIRE(later.on_challenge(first.challenge()) == handshake_result::ok);
  CHECK(later.on_proof(first.proof()) == handshake_result::bad_mac);
}

TEST_CASE("a wire response reflected as a proof, and garbage, are refused") {
  auto key = derive_key("correct horse battery staple", "prod");
  acceptor_handshake a{key, nonce(2)};
  dialer_handshake d{key, nonce(1)};
  REQUIRE(d.on_challenge(a.challenge()) == handshake_result::ok);
  // the dialer's MAC sent back to it as the acceptor's proof
  std::vector<uint8_t> reflected(d.response().end() - proof_size, d.response().end());
  CHECK(d.on_proof(reflected) == handshake_result::bad_mac);
  CHECK(a.on_response(std::vector<uint8_t>(response_size, 0)) == handshake_result::bad_magic);
  CHECK(a.on_response({1, 2, 3}) == handshake_result::bad_magic);
  dialer_handshake d2{key, nonce(1)};
  CHECK(d2.on_challenge(std::vector<uint8_t>(challenge_size, 0xFF))
        == handshake_result::bad_magic);
  CHECK(d2.on_proof(std::vector<uint8_t>(proof_size, 0)) == handshake_result::bad_mac);
}

TEST_CASE("a wire peer of another version is told apart from a stranger") {
  auto key = derive_key("correct horse battery staple", "prod");
  acceptor_handshake a{key, nonce(2)};
  auto challenge = a.challenge();
  challenge[9] = static_cast<uint8_t>(wire_version + 1);
  dialer_handshake d{key, nonce(1)};
  CHECK(d.on_challenge(challenge) == handshake_result::version_mismatch);
  // and a changed version inside a valid-looking response breaks its MAC
  dialer_handshake d2{key, nonce(1)};
  REQUIRE(d2.on_challenge(a.challenge()) == handshake_result::ok);
  auto response = d2.response();
  response[11] = 1; // the flags
  CHECK(a.on_response(response) == handshake_result::bad_mac);
}
