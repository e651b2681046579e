#pragma once

// Where a node's cluster secret comes from (private to libactor):
// `ringvisor.secret-file`, refused when group or others may read it (as ssh
// refuses such keys), or the environment variable RINGVISOR_SECRET. Errors
// name the file and the fix; they never contain the secret.

#include <string>

#include <caf/expected.hpp>

namespace ringvisor::actor::wire {

/// The shortest secret accepted, in bytes.
inline constexpr size_t min_secret_size = 16;

/// The environment variable that may hold the secret.
inline constexpr const char* secret_env = "RINGVISOR_SECRET";

/// Reads the secret from `path`: a regular file that only its owner may
/// read, holding at least `min_secret_size` bytes (a final newline is not
/// part of it).
caf::expected<std::string> read_secret_file(const std::string& path);

/// Checks that `path` names a regular file that only its owner may read;
/// errors start with `what` (e.g. "ringvisor.secret-file '/etc/x'").
caf::error check_private_file(const std::string& path, const std::string& what);

/// Reads `path` whole after `check_private_file`; errors start with `what`.
caf::expected<std::string> read_private_file(const std::string& path, const std::string& what);

/// Returns the secret of `secret_env`, an empty string if it is unset, or
/// an error if it is set but too short.
caf::expected<std::string> secret_from_env();

} // namespace ringvisor::actor::wire
