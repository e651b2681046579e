#pragma once

// The membership a node last belonged to, kept in its data directory
// (private to libcluster). A restarted node judges majority against it, so
// that a node restarted while cut off from the others runs nothing.

#include <optional>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace ringvisor::cluster::detail {

/// A member as remembered: its name, and where to find it again.
struct remembered_member {
  std::string name;
  std::string endpoint;

  friend bool operator==(const remembered_member& x, const remembered_member& y) {
    return x.name == y.name && x.endpoint == y.endpoint;
  }
};

/// The members of the last view in which this node was up, sorted by name.
using remembered_membership = std::vector<remembered_member>;

/// Returns the path of the membership file in `data_dir`.
std::string membership_path(const std::string& data_dir);

/// Reads the membership file of `data_dir`: nothing if there is none, an
/// error naming the file (and line) if it cannot be read or makes no sense.
caf::expected<std::optional<remembered_membership>> read_membership(const std::string& data_dir);

/// Writes the membership file of `data_dir` (created if missing) so that a
/// crash at any point leaves either the old file or the new one: a
/// temporary file, flushed to disk, renamed over the old one, and the
/// directory flushed too.
caf::error write_membership(const std::string& data_dir, const remembered_membership& xs);

} // namespace ringvisor::cluster::detail
