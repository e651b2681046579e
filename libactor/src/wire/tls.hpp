#pragma once

// TLS under the wire (private to libactor): TLS 1.3 only, certificates from
// a private CA in both directions. `tls_context` reads and checks the files
// once, at start-up, so every misconfiguration stops the process with a
// message naming the option; a `tls_session` encrypts one connection
// through memory buffers, so the transport keeps doing all socket I/O
// itself. Which name a peer's certificate must carry is the engine's rule
// (the name the peer gives in its hello), asked through `names`.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/expected.hpp>

using SSL_CTX = struct ssl_ctx_st;
using SSL = struct ssl_st;
using BIO = struct bio_st;

namespace ringvisor::actor::wire {

/// Where the certificates and the key are (`ringvisor.tls.*`).
struct tls_files {
  std::string ca_file;           // PEM: the CA(s) that sign members' certificates
  std::string cert_file;         // PEM: this process's certificate (and chain)
  std::string key_file;          // PEM: its private key (mode 0600)
  std::string key_password_file; // the key's passphrase, if it is encrypted (mode 0600)
};

/// Settings shared by the sessions of one process.
class tls_context {
public:
  /// Reads and checks `files` for a process named `name`: the key matches
  /// the certificate, which verifies against the CA now and names `name`.
  /// Errors name the option, the file and the fix.
  static caf::expected<std::shared_ptr<const tls_context>> make(const tls_files& files,
                                                                const std::string& name);

  ~tls_context();

  tls_context(const tls_context&) = delete;
  tls_context& operator=(const tls_context&) = delete;

  SSL_CTX* native() const noexcept {
    return ctx_;
  }

private:
  explicit tls_context(SSL_CTX* ctx) : ctx_(ctx) {
    // nop
  }

  SSL_CTX* ctx_;
};

/// One connection's TLS: ciphertext in from the socket, plaintext out to the
/// engine, and back. Not thread-safe: its owner serializes the calls.
class tls_session {
public:
  /// A client starts the handshake at once (see `outbox`).
  tls_session(const tls_context& ctx, bool server);

  ~tls_session();

  tls_session(const tls_session&) = delete;
  tls_session& operator=(const tls_session&) = delete;

  /// Takes `size` bytes from the socket and appends the plaintext they
  /// complete to `plain`. Returns false once the peer failed verification,
  /// broke the protocol or closed the session (see `error`).
  bool receive(const uint8_t* data, size_t size, std::vector<uint8_t>& plain);

  /// Encrypts `size` bytes into the outbox (only once `established` and
  /// not `failed`); false if the session failed.
  bool send(const uint8_t* data, size_t size);

  /// Returns whether the handshake finished (on this side).
  bool established() const noexcept {
    return established_;
  }

  /// Returns whether the session failed: it takes nothing more.
  bool failed() const noexcept {
    return !error_.empty();
  }

  /// Returns whether the peer sent application data: until then, a failure
  /// is a failed handshake (in TLS 1.3 a client finishes before the server
  /// checked its certificate, and learns of a refusal afterwards).
  bool heard() const noexcept {
    return heard_;
  }

  /// Returns whether the peer's verified certificate names exactly `name`
  /// among its subjectAltName DNS entries.
  bool names(const std::string& name) const;

  /// Why the session failed.
  const std::string& error() const noexcept {
    return error_;
  }

  /// Ciphertext for the socket: `outbox_size()` bytes at `outbox_data()`.
  const uint8_t* outbox_data() const noexcept {
    return outbox_.data() + outbox_off_;
  }

  size_t outbox_size() const noexcept {
    return outbox_.size() - outbox_off_;
  }

  /// The socket took `n` bytes of the outbox.
  void sent(size_t n);

private:
  void collect_output();
  void fail();

  SSL* ssl_;
  BIO* in_;  // ciphertext from the socket, read by OpenSSL
  BIO* out_; // ciphertext written by OpenSSL, for the socket
  bool established_ = false;
  bool heard_ = false;
  std::string error_;
  std::vector<uint8_t> outbox_;
  size_t outbox_off_ = 0;
};

} // namespace ringvisor::actor::wire
