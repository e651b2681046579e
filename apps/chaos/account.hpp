#pragma once

// The child of a chaos run: an "account" that counts, moves with its count
// (the stateful-child contract), acts on its own timer, and writes every
// event to its node process's ledger.

#include <cstdint>
#include <memory>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/timespan.hpp>

#include "ringvisor/actor/factory_registry.hpp"

namespace ringvisor::chaos {

/// `(inc_atom, uint64_t request_id)` -> `uint64_t`, the count after the
/// increment. `(caf::get_atom)` -> `uint64_t`, the count.
using inc_atom = caf::atom_constant<caf::atom("inc")>;

/// `(snap_atom)` -> `actor::bytes`: the state for a snapshot (the ring
/// supervisor's `migrate` hook asks with it when the target is empty), which
/// does not stop the account as `get_state` for a move does.
using snap_atom = caf::atom_constant<caf::atom("acct_snap")>;

/// The ring supervisor's `migrate` hook for accounts: `get_state` for a
/// move, `snap_atom` for a snapshot.
caf::message account_state_request(const std::string& id, const std::string& from,
                                   const std::string& to);

/// Returns CLOCK_MONOTONIC in nanoseconds: one clock for every process of
/// the machine, so that ledgers of different processes can be merged.
int64_t monotonic_ns();

/// The ledger file of one node process, `<dir>/<node>-<pid>.ledger`: one
/// `write` per line, appended, unbuffered, so that the lines of a process
/// killed with SIGKILL are on disk up to its last event.
///
/// Example:
/// ```
/// auto out = ledger_writer::open("/tmp/run", "n1");
/// (*out)->write("acct-7", "9f3a0c2b11d4e5f6", "tick 12");
/// ```
class ledger_writer {
public:
  /// Opens (creates, appends to) the ledger of this process; nothing (and
  /// `errno` set) if it cannot.
  static std::shared_ptr<ledger_writer> open(const std::string& dir, const std::string& node);

  ledger_writer(const ledger_writer&) = delete;
  ledger_writer& operator=(const ledger_writer&) = delete;

  ~ledger_writer();

  /// Writes `<ns> <pid> <node> <child> <instance> <event>` as one line.
  void write(const std::string& child, const std::string& instance,
             const std::string& event);

  /// Returns the file's path.
  const std::string& path() const noexcept {
    return path_;
  }

private:
  ledger_writer(int fd, std::string path, std::string node);

  int fd_;
  std::string path_;
  std::string prefix_; // " <pid> <node> "
};

/// Registers the child type `"account"` (one argument: its id) with
/// `factories`: it writes `start <count> <epoch>` when placed (the ring
/// supervisor's `tell_placement`), `tick <count>` every `tick`, `apply
/// <request> <count>` per `inc`, `snap <count>` when its state is read for a
/// snapshot, and `stop <count> <reason>` when it exits, where the reason is
/// `handoff` if its state was taken for a move.
caf::error add_account_type(actor::factory_registry& factories,
                            std::shared_ptr<ledger_writer> out, caf::timespan tick);

} // namespace ringvisor::chaos
