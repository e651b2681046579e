#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/error.hpp>
#include <caf/settings.hpp>
#include <caf/timespan.hpp>

#include "ringvisor/actor/export.hpp"
#include "ringvisor/actor/wire.hpp"

namespace ringvisor::actor {

/// Configuration of one ringvisor node: CAF's own options plus a `ringvisor`
/// section. Values come from hard-coded defaults, then the INI file
/// (`--config-file`, default `caf-application.ini` if present), then the
/// command line (`--ringvisor.port=4900`). `--help` (every option,
/// `print_help`) and `--dump-config` print and ask the program to exit. The node needs a
/// cluster secret (`ringvisor.secret-file` or RINGVISOR_SECRET; see
/// `wire_options`) unless `--ringvisor.insecure` is given.
///
/// Example:
/// ```
/// ringvisor::actor::node_config cfg;
/// if (auto err = cfg.read(argc, argv)) {
///   std::cerr << ringvisor::actor::render(err) << '\n';
///   return EXIT_FAILURE;
/// }
/// if (cfg.printed_and_done())
///   return EXIT_SUCCESS;
/// ```
class RINGVISOR_ACTOR_EXPORT node_config : public caf::actor_system_config {
public:
  node_config();

  /// Parses the INI file and the command line, then validates every key.
  /// Unknown keys (in the file too, which CAF accepts silently) and invalid
  /// values fail with `errc::bad_config` and a message naming the key.
  [[nodiscard]] caf::error read(int argc, char** argv);

  /// Parses an INI text and arguments, for tests and embedders.
  [[nodiscard]] caf::error read(std::vector<std::string> args,
                                const std::string& ini_text);

  /// Returns whether `--help` or `--dump-config` printed their output, in
  /// which case the program should exit without starting a node.
  bool printed_and_done() const noexcept {
    return cli_helptext_printed;
  }

  /// Prints every option of the program (its own sections first, then
  /// CAF's), as `--help` does.
  void print_help(std::ostream& out) const;

  /// Adds the `ringvisor` section's effective values to CAF's dump.
  caf::settings dump_content() const override;

  /// Checks the `ringvisor` section and fills in derived defaults. `read`
  /// calls it; call it yourself after setting fields in code.
  [[nodiscard]] caf::error validate();

  /// `ringvisor.name`: the logical node name, unique in the cluster.
  /// Default: `node-<pid>`.
  std::string name;

  /// `ringvisor.host`: the address the node listens on and advertises.
  std::string host = "127.0.0.1";

  /// `ringvisor.port`: the TCP port; 0 picks a free one.
  uint16_t port = 0;

  /// `ringvisor.seeds`: `host:port` of nodes to join.
  std::vector<std::string> seeds;

  /// `ringvisor.consensus`: how many members make the cluster `up`.
  size_t consensus = 1;

  /// The wire between nodes: `ringvisor.secret-file`, `ringvisor.cluster-name`,
  /// `ringvisor.insecure`, `ringvisor.max-frame` and `ringvisor.wire.*` (see
  /// `wire_options`).
  wire_options wire;

  /// `ringvisor.data-dir`: where the node keeps what must survive a restart
  /// (the membership it last belonged to, see docs/cluster.md). Empty: the
  /// node remembers nothing and every start is a first start.
  std::string data_dir;

  /// `ringvisor.form-alone`: a node with seeds may form a cluster by itself
  /// when it reaches none of them. Off: it waits for a seed (or for an
  /// operator's `ringvisor-ctl form`), so that a node cut off from its
  /// cluster never runs a second copy of it.
  bool form_alone = false;

  /// `ringvisor.split-brain`: how a side that lost members decides whether
  /// it carries on: keep-majority, static-quorum, keep-oldest or down-all
  /// (see `cluster::split_brain_strategy`).
  std::string split_brain = "keep-majority";

  /// `ringvisor.quorum`: the side size that wins under static-quorum.
  size_t quorum = 0;

  /// `ringvisor.heartbeat-interval`: how often the cluster agent pings its
  /// peers (on top of the wire's link heartbeats, it catches a node whose actors
  /// are stuck while its network thread still answers).
  caf::timespan heartbeat_interval = std::chrono::milliseconds{200};

  /// `ringvisor.suspect-after`: a peer not heard from for this long is
  /// unreachable, until it is heard again.
  caf::timespan suspect_after = std::chrono::seconds{1};

  /// `ringvisor.groups`: named rings this node takes part in, besides the
  /// whole cluster's.
  std::vector<std::string> groups;

  /// `ringvisor.log-level`: trace, debug, info, warn, error or off.
  std::string log_level = "info";

  /// `ringvisor.shutdown-grace`: how long an orderly shutdown waits for the
  /// node's actors before killing them.
  caf::timespan shutdown_grace = std::chrono::seconds{5};

private:
  caf::error check_keys(const caf::settings& raw) const;
  caf::error explain(const caf::error& err, const std::string& ini_text) const;
};

} // namespace ringvisor::actor
