#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "ringvisor/cluster/export.hpp"

namespace ringvisor::cluster {

// Seed discovery: turns the `ringvisor.seeds` entries (`"host:port"`) into
// the endpoints the cluster agent connects to. A seed whose host is a DNS
// name stands for every address the name resolves to, so one headless
// service (Docker Compose service name, Kubernetes headless `Service`) lists
// all of its nodes.
//
// Endpoints come out as `"address:port"` with IPv6 addresses *without*
// brackets (`"::1:4900"`): the agent splits at the last `':'` and hands the
// host to the wire's connector, which passes it to `getaddrinfo`, and
// `getaddrinfo` does not accept `"[::1]"`.
//
// Example:
// ```
// if (auto err = check_seeds(cfg.seeds))
//   return err;                          // at start: malformed seeds
// auto found = resolve_seeds(cfg.seeds); // once per retry round, off the
//                                        // actor thread: it blocks
// for (auto& problem : found.problems)
//   log::warn("cluster_seed_unresolved", {{"reason", problem}});
// for (auto& endpoint : found.endpoints)
//   connect(endpoint);
// ```

/// Splits a seed `"host:port"` into host and port. The host is a DNS name,
/// an IPv4 address or an IPv6 address, the latter in brackets
/// (`"[::1]:4900"`) or bare (`"::1:4900"`, split at the last `':'`); the
/// returned host has no brackets. The port is a number from 1 to 65535.
/// Fails with `errc::bad_config` and a message that names the seed, what is
/// wrong with it and what a seed looks like.
[[nodiscard]] RINGVISOR_CLUSTER_EXPORT
caf::expected<std::pair<std::string, uint16_t>>
parse_endpoint(std::string_view seed);

/// Checks every entry of `ringvisor.seeds` with `parse_endpoint`, without
/// resolving anything, so that a node rejects a malformed seed at start
/// rather than failing to join. Returns one `errc::bad_config` error naming
/// all malformed seeds, or no error. An empty list is fine (the first node).
[[nodiscard]] RINGVISOR_CLUSTER_EXPORT caf::error
check_seeds(const std::vector<std::string>& seeds);

/// Looks up a host name: returns its addresses as numeric strings (IPv6
/// without brackets), or an error that says why there are none.
using host_resolver = std::function<caf::expected<std::vector<std::string>>(
  const std::string& host)>;

/// Resolves `host` with `getaddrinfo` (`AF_UNSPEC`, `SOCK_STREAM`) to all of
/// its IPv4 and IPv6 addresses, in the resolver's order, each once. Fails
/// with `errc::bad_config` and `gai_strerror`'s text. Blocks: for as long as
/// the system resolver waits for DNS (by default up to 5 s per attempt and
/// name server, see `resolv.conf(5)`).
[[nodiscard]] RINGVISOR_CLUSTER_EXPORT
caf::expected<std::vector<std::string>> resolve_host(const std::string& host);

/// What `resolve_seeds` found.
struct resolved_seeds {
  /// `"address:port"` for every address of every seed, IPv6 without
  /// brackets; sorted, each once.
  std::vector<std::string> endpoints;
  /// One line per seed that is malformed or whose name did not resolve,
  /// naming the seed and the reason; in the order of the seeds.
  std::vector<std::string> problems;
};

/// Turns `seeds` into endpoints to connect to. A seed whose host is an IPv4
/// or IPv6 address stays as it is (IPv6 loses its brackets); a seed whose
/// host is a name becomes one endpoint per address that `resolve` gives for
/// it, all with the seed's port. A seed that is malformed or does not
/// resolve lands in `problems` and does not stop the others; retrying later
/// is the caller's business (a headless service has no addresses until its
/// first pod is ready).
///
/// With the default `resolve`, this blocks on DNS for every seed that is a
/// name: call it from a detached actor or thread, not from a cooperatively
/// scheduled actor, or accept stalling that actor's worker thread once per
/// retry round.
[[nodiscard]] RINGVISOR_CLUSTER_EXPORT resolved_seeds
resolve_seeds(const std::vector<std::string>& seeds,
              const host_resolver& resolve = resolve_host);

} // namespace ringvisor::cluster
