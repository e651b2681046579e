#include "wire/handshake.hpp"

#include <algorithm>
#include <cstring>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace ringvisor::actor::wire {

namespace {

constexpr uint8_t magic[8] = {'R', 'V', 'W', 'I', 'R', 'E', 0, 1};
constexpr size_t head_size = 16; // magic, version, flags, zero

using bytes = std::vector<uint8_t>;

void append(bytes& out, const void* data, size_t size) {
  auto p = static_cast<const uint8_t*>(data);
  out.insert(out.end(), p, p + size);
}

void append(bytes& out, const std::string& x) {
  append(out, x.data(), x.size());
}

// HMAC-SHA256 of the concatenation of `parts` under `key`.
block mac(const uint8_t* key, size_t key_size, const std::vector<const bytes*>& parts) {
  bytes input;
  for (auto* p : parts)
    input.insert(input.end(), p->begin(), p->end());
  block result{};
  unsigned int size = 0;
  HMAC(EVP_sha256(), key, static_cast<int>(key_size), input.data(), input.size(), result.data(),
       &size);
  return result;
}

block mac(const block& key, const std::vector<const bytes*>& parts) {
  return mac(key.data(), key.size(), parts);
}

bytes label(const char* x) {
  return bytes(x, x + std::strlen(x));
}

bytes head(const block& nonce) {
  bytes out;
  append(out, magic, sizeof(magic));
  out.push_back(static_cast<uint8_t>(wire_version >> 8));
  out.push_back(static_cast<uint8_t>(wire_version));
  out.insert(out.end(), 6, 0); // flags (none yet) and reserved
  append(out, nonce.data(), nonce.size());
  return out;
}

// Checks the head of a challenge or response.
handshake_result check_head(const bytes& x) {
  if (!std::equal(magic, magic + sizeof(magic), x.begin()))
    return handshake_result::bad_magic;
  auto version = static_cast<uint16_t>((x[8] << 8) | x[9]);
  if (version != wire_version)
    return handshake_result::version_mismatch;
  return handshake_result::ok;
}

bool same(const uint8_t* x, const uint8_t* y, size_t n) {
  return CRYPTO_memcmp(x, y, n) == 0;
}

block session(const block& key, const bytes& challenge, const bytes& response) {
  bytes nonces;
  append(nonces, challenge.data() + head_size, 32);
  append(nonces, response.data() + head_size, 32);
  auto l = label("session");
  return mac(key, {&l, &nonces});
}

} // namespace

const char* to_string(handshake_result x) {
  switch (x) {
    case handshake_result::ok:
      return "ok";
    case handshake_result::bad_magic:
      return "bad_magic";
    case handshake_result::version_mismatch:
      return "version_mismatch";
    case handshake_result::bad_mac:
      return "bad_mac";
  }
  return "?";
}

block derive_key(const std::string& secret, const std::string& cluster) {
  auto input = label("ringvisor-wire/1 key");
  append(input, cluster);
  return mac(reinterpret_cast<const uint8_t*>(secret.data()), secret.size(), {&input});
}

acceptor_handshake::acceptor_handshake(const block& key, const block& nonce)
  : key_(key), nonce_(nonce), challenge_(head(nonce)) {
  // nop
}

handshake_result acceptor_handshake::on_response(const bytes& response) {
  if (response.size() != response_size)
    return handshake_result::bad_magic;
  if (auto r = check_head(response); r != handshake_result::ok)
    return r;
  bytes response_head(response.begin(), response.begin() + challenge_size);
  auto l = label("dialer");
  auto expected = mac(key_, {&l, &challenge_, &response_head});
  if (!same(expected.data(), response.data() + challenge_size, expected.size()))
    return handshake_result::bad_mac;
  auto p = label("acceptor");
  auto proof = mac(key_, {&p, &challenge_, &response});
  proof_.assign(proof.begin(), proof.end());
  session_ = session(key_, challenge_, response);
  return handshake_result::ok;
}

dialer_handshake::dialer_handshake(const block& key, const block& nonce)
  : key_(key), nonce_(nonce) {
  // nop
}

handshake_result dialer_handshake::on_challenge(const bytes& challenge) {
  if (challenge.size() != challenge_size)
    return handshake_result::bad_magic;
  if (auto r = check_head(challenge); r != handshake_result::ok)
    return r;
  challenge_ = challenge;
  auto own = head(nonce_);
  auto l = label("dialer");
  auto m = mac(key_, {&l, &challenge_, &own});
  response_ = own;
  append(response_, m.data(), m.size());
  return handshake_result::ok;
}

handshake_result dialer_handshake::on_proof(const bytes& proof) {
  if (proof.size() != proof_size || response_.empty())
    return handshake_result::bad_mac;
  auto l = label("acceptor");
  auto expected = mac(key_, {&l, &challenge_, &response_});
  if (!same(expected.data(), proof.data(), expected.size()))
    return handshake_result::bad_mac;
  session_ = session(key_, challenge_, response_);
  return handshake_result::ok;
}

} // namespace ringvisor::actor::wire
