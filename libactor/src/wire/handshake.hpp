#pragma once

// The wire's handshake (private to libactor): mutual proof of the cluster
// secret with fresh nonces from both sides and HMAC-SHA256, so that the
// secret never travels and a recorded handshake cannot be replayed. The
// cluster name is part of the key, so a node of another cluster with the
// same secret fails like a stranger.
//
//   K = HMAC-SHA256(secret, "ringvisor-wire/1 key" || cluster name)
//   acceptor -> dialer   challenge 48 B: magic "RVWIRE\0\1" | u16 version |
//                        u16 flags | u32 0 | nonce_a[32]
//   dialer -> acceptor   response 80 B: magic | version | flags | 0 |
//                        nonce_d[32] | HMAC(K, "dialer" || challenge || head)
//   acceptor -> dialer   proof 32 B: HMAC(K, "acceptor" || challenge || response)
//
// Each MAC covers the transcript so far (versions and flags cannot be
// changed on the way); the dialer proves first, so a stranger gets a nonce
// and nothing computed with K; distinct labels stop reflection. Both sides
// end with a session key HMAC(K, "session" || nonce_a || nonce_d). Plain
// code on bytes: the nonces come from the caller (random in production,
// fixed in tests).

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ringvisor::actor::wire {

/// 32 bytes: keys, nonces, MACs.
using block = std::array<uint8_t, 32>;

/// The version of the handshake and of the frames after it.
inline constexpr uint16_t wire_version = 1;

/// Sizes of the three handshake messages.
inline constexpr size_t challenge_size = 48;
inline constexpr size_t response_size = 80;
inline constexpr size_t proof_size = 32;

/// Returns K for `secret` and `cluster` (see above).
block derive_key(const std::string& secret, const std::string& cluster);

/// How a handshake ended for one side.
enum class handshake_result : uint8_t {
  ok,
  bad_magic,        // not a ringvisor wire peer
  version_mismatch, // a peer of another wire version
  bad_mac,          // wrong secret or cluster name, or a replay
};

/// Returns the name of `x`, e.g. `"bad_mac"`.
const char* to_string(handshake_result x);

/// The acceptor's side.
class acceptor_handshake {
public:
  acceptor_handshake(const block& key, const block& nonce);

  /// The challenge to send first.
  const std::vector<uint8_t>& challenge() const noexcept {
    return challenge_;
  }

  /// Checks the dialer's response (exactly `response_size` bytes); on `ok`,
  /// `proof()` is what to send back and `session_key()` is set.
  handshake_result on_response(const std::vector<uint8_t>& response);

  const std::vector<uint8_t>& proof() const noexcept {
    return proof_;
  }

  const std::optional<block>& session_key() const noexcept {
    return session_;
  }

private:
  block key_;
  block nonce_;
  std::vector<uint8_t> challenge_;
  std::vector<uint8_t> proof_;
  std::optional<block> session_;
};

/// The dialer's side.
class dialer_handshake {
public:
  dialer_handshake(const block& key, const block& nonce);

  /// Checks the acceptor's challenge (exactly `challenge_size` bytes); on
  /// `ok`, `response()` is what to send.
  handshake_result on_challenge(const std::vector<uint8_t>& challenge);

  const std::vector<uint8_t>& response() const noexcept {
    return response_;
  }

  /// Checks the acceptor's proof (exactly `proof_size` bytes); on `ok`,
  /// `session_key()` is set.
  handshake_result on_proof(const std::vector<uint8_t>& proof);

  const std::optional<block>& session_key() const noexcept {
    return session_;
  }

private:
  block key_;
  block nonce_;
  std::vector<uint8_t> challenge_;
  std::vector<uint8_t> response_;
  std::optional<block> session_;
};

} // namespace ringvisor::actor::wire
