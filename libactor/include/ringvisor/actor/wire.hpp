#pragma once

#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/config_option_set.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include "ringvisor/actor/export.hpp"

/// Ringvisor's own wire between nodes (and between tools and nodes): every
/// connection first proves the cluster secret in both directions (HMAC-
/// SHA256 over fresh nonces; the secret never travels, a recorded handshake
/// cannot be replayed, the cluster name is part of the key), then carries
/// frames no longer than `ringvisor.max-frame`. Remote actor handles are
/// plain CAF handles: send, request, monitor and link work as between local
/// actors; a request in flight to a node that is lost fails at once with
/// `errc::member_down`. See docs/security.md.
///
/// Example (a client of a node):
/// ```
/// ringvisor::actor::wire_options opts;
/// opts.secret_file = "/etc/ringvisor/secret";
/// caf::actor_system_config cfg;
/// if (auto err = ringvisor::actor::use_wire(cfg, opts, "my-tool"))
///   return fail(err);
/// caf::actor_system sys{cfg};
/// auto dir = ringvisor::actor::remote_directory(sys, "127.0.0.1:4900", 2s);
/// ```
namespace ringvisor::actor {

/// The wire's options, under `ringvisor.` and `ringvisor.wire.`.
struct wire_options {
  /// `ringvisor.cluster-name`: nodes of other clusters fail the handshake.
  std::string cluster_name = "ringvisor";

  /// `ringvisor.secret-file`: holds the cluster secret (at least 16 bytes;
  /// refused if group or others may read it). Else RINGVISOR_SECRET.
  std::string secret_file;

  /// `ringvisor.insecure`: run without a secret (warns at start and for
  /// every peer). Anyone who reaches the port can then do anything.
  bool insecure = false;

  /// `ringvisor.max-frame`: the longest frame, in bytes; longer ones close
  /// the connection before anything is allocated.
  size_t max_frame = 4u << 20;

  /// `ringvisor.wire.heartbeat-interval`: how often an idle link says hello.
  caf::timespan heartbeat_interval = std::chrono::milliseconds{200};

  /// `ringvisor.wire.connection-timeout`: a link silent for this long drops.
  /// Three times the agent's default suspect-after: the agent judges silent
  /// peers with its own lateness in mind (a starved node must not take its
  /// peers for dead); a link that dropped sooner would judge without it.
  caf::timespan connection_timeout = std::chrono::seconds{3};

  /// `ringvisor.wire.handshake-timeout`: a connection must prove the secret
  /// and name itself within this.
  caf::timespan handshake_timeout = std::chrono::seconds{2};

  /// `ringvisor.wire.max-unauthenticated`: connections in their handshake.
  size_t max_unauthenticated = 64;

  /// `ringvisor.wire.max-unauthenticated-per-host`: the same, per source address.
  size_t max_unauthenticated_per_host = 8;

  /// `ringvisor.wire.max-peers`: authenticated connections.
  size_t max_peers = 1024;

  /// `ringvisor.wire.max-queue`: unsent bytes per peer; beyond, a request
  /// fails with `errc::peer_overloaded`.
  size_t max_queue = 16u << 20;

  /// `ringvisor.tls.cert-file`: this process's certificate (PEM, with its
  /// chain), which must name it (subjectAltName DNS:<name>). Setting it
  /// turns TLS 1.3 on for every link; then the next two are required, and
  /// every peer must present a certificate from the CA that names it.
  std::string tls_cert_file;

  /// `ringvisor.tls.key-file`: the certificate's private key (PEM, mode 0600).
  std::string tls_key_file;

  /// `ringvisor.tls.ca-file`: the CA certificate(s) that sign members' certificates.
  std::string tls_ca_file;

  /// `ringvisor.tls.key-password-file`: the key's passphrase (mode 0600),
  /// if the key is encrypted.
  std::string tls_key_password_file;
};

/// Declares the options of `x` in `set` (a config's custom options).
RINGVISOR_ACTOR_EXPORT void add_wire_options(caf::config_option_set& set, wire_options& x);

/// Checks `x` for a process named `name`, reads the secret and the TLS
/// files: an error names the option and the fix.
[[nodiscard]] RINGVISOR_ACTOR_EXPORT caf::error validate(const wire_options& x,
                                                         const std::string& name);

/// Makes systems built from `cfg` speak the wire.
/// `name` and `host` describe this process to its peers (`host` is also the
/// address its outbound connections come from); with TLS, its certificate
/// must name `name`. Reads the secret and the TLS files now.
[[nodiscard]] RINGVISOR_ACTOR_EXPORT caf::error
use_wire(caf::actor_system_config& cfg, const wire_options& x, const std::string& name,
         const std::string& host = {});

/// What the wire of one actor system counted since it started, and what it
/// holds now: for a node's metrics.
struct wire_counters {
  uint64_t links_accepted = 0;          // inbound connections
  uint64_t peers_up = 0;                // authenticated links that came up
  uint64_t peers_down = 0;              // and went down
  uint64_t handshake_failures = 0;      // wrong secret, cluster, version or certificate name
  uint64_t handshake_timeouts = 0;      // no proof within the handshake timeout
  uint64_t unauthenticated_refused = 0; // over a limit at accept
  uint64_t refused_for_descriptors = 0; // no descriptor left at accept
  uint64_t tls_failures = 0;            // TLS handshakes that failed (certificates)
  uint64_t protocol_errors = 0;         // bad frames (closed the link)
  uint64_t oversize_frames = 0;         // lengths above max-frame (closed the link)
  uint64_t silent_closes = 0;           // no byte for the connection timeout
  uint64_t duplicates_refused = 0;      // a second link between two nodes
  uint64_t queue_full = 0;              // messages refused on a full queue
  uint64_t requests_failed = 0;         // requests in flight to a lost node
  uint64_t undecodable = 0;             // messages that could not be read (dropped)
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t peers = 0;                   // authenticated links now
  uint64_t unauthenticated = 0;         // inbound links in their handshake now
};

/// Returns the counters of `sys`'s wire (all zero without one).
RINGVISOR_ACTOR_EXPORT wire_counters wire_stats(caf::actor_system& sys);

/// Returns whether `sys` speaks the wire.
RINGVISOR_ACTOR_EXPORT bool uses_wire(caf::actor_system& sys);

/// Accepts peers on `host:port` (0: a free port), handing them `directory`;
/// returns the port.
RINGVISOR_ACTOR_EXPORT caf::expected<uint16_t>
wire_listen(caf::actor_system& sys, const std::string& host, uint16_t port,
            const caf::actor& directory);

/// Returns the actor that connects `sys` (which must speak the wire) to
/// other nodes: it answers `(caf::connect_atom, std::string host, uint16_t
/// port)` with `(caf::node_id, caf::strong_actor_ptr directory,
/// std::set<std::string>)`; null without the wire.
RINGVISOR_ACTOR_EXPORT caf::actor connector(caf::actor_system& sys);

/// For programs that start a cluster of their own (tests, benchmarks, the
/// chaos tool): sets RINGVISOR_SECRET to a fresh random secret unless it is
/// set, so that the nodes they start and the clients they use share it.
RINGVISOR_ACTOR_EXPORT void ensure_secret_env();

} // namespace ringvisor::actor
