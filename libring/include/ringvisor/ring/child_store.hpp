#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>

#include "ringvisor/actor/node.hpp"
#include "ringvisor/ring/export.hpp"
#include "ringvisor/supervision/child_spec.hpp"

namespace caf {
class actor_system;
} // namespace caf

namespace ringvisor::ring {

/// A child's state as a child store keeps it: the newest snapshot the node
/// holds (see `snapshot_policy`), ordered by (`epoch`, `seq`).
struct stored_state {
  std::string id;
  /// The version of the child's record it was taken under.
  uint64_t record = 0;
  uint64_t epoch = 0;
  uint64_t seq = 0;
  /// Wall-clock microseconds when it was taken.
  uint64_t taken_us = 0;
  std::vector<char> state;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stored_state& x) {
  return f(caf::meta::type_name("ringvisor::stored_state"), x.id, x.record, x.epoch, x.seq,
           x.taken_us, x.state);
}

/// Where a ring supervisor keeps the child specs added at run time
/// (supervisorring's `dyn_child_handler`). Several stores can be used at
/// once: a spec goes to the first whose `match` accepts it. Only specs made
/// of a type name and arguments can be stored (a `start` function cannot
/// be written down).
class RINGVISOR_RING_EXPORT child_store {
public:
  virtual ~child_store();

  /// Returns whether this store keeps `spec`.
  virtual bool match(const supervision::child_spec& spec) const = 0;

  /// Stores `spec`; fails with `errc::already_present` if its id is stored,
  /// `errc::bad_spec` if it has a `start` function, `errc::store_failed`
  /// if it could not be written (the store is then unchanged).
  virtual caf::error add(const supervision::child_spec& spec) = 0;

  /// Removes the spec `id`; fails with `errc::not_found` if there is none.
  virtual caf::error del(const std::string& id) = 0;

  /// Returns every stored spec, sorted by id.
  virtual caf::expected<std::vector<supervision::child_spec>> get_all() = 0;

  /// Returns whether the store keeps children's states (false by default).
  virtual bool keeps_states() const;

  /// Keeps each state unless the store holds a newer one of that child. The
  /// ring supervisor writes the snapshots its node holds of the children
  /// whose specs this store keeps, in batches, if `keeps_states`; `del`
  /// forgets a child's state with its spec. Does nothing by default.
  virtual caf::error put_states(const std::vector<stored_state>& xs);

  /// Returns the states kept (none by default).
  virtual caf::expected<std::vector<stored_state>> get_states();
};

/// Options of `open_sqlite_store`.
struct sqlite_store_options {
  /// The database file; created if missing, with its directory existing.
  std::string path;

  /// Which specs the store keeps; all if empty.
  std::function<bool(const supervision::child_spec&)> match;
};

/// Opens a child store in a SQLite file (WAL journal, synchronous writes), so
/// that the specs, and the children's last snapshots, survive a restart of
/// the whole cluster. `sys` must know the
/// types of the specs' arguments (they are serialized with CAF). Fails with
/// `errc::store_failed` and the reason (not a database, no permission, ...).
///
/// Example:
/// ```
/// auto store = ring::open_sqlite_store(sys, {"/var/lib/app/children.db", {}});
/// if (!store) return fail(actor::render(store.error()));
/// (*store)->add({"import-42", "importer", caf::make_message(std::string{"s3://..."})});
/// ```
RINGVISOR_RING_EXPORT caf::expected<std::unique_ptr<child_store>>
open_sqlite_store(caf::actor_system& sys, sqlite_store_options opts);

/// Options of `open_replicated_store`.
struct replicated_store_options {
  /// The store's name, the same on every node.
  std::string name;

  /// Which specs the store keeps; all if empty.
  std::function<bool(const supervision::child_spec&)> match;

  /// How long an add or delete waits for the members' acknowledgements.
  caf::timespan timeout = std::chrono::seconds{5};
};

/// Opens this node's replica of the in-cluster child store `opts.name`
/// (start it on every node, after the cluster agent). Every node holds the
/// whole list; concurrent adds and deletes converge (an observed-remove
/// set); an add or delete returns only once a majority of the up members
/// stored it (else `errc::store_failed`, and it may still spread), so an
/// acknowledged spec survives the loss of any minority. A node that joins or
/// restarts receives the list from every member.
RINGVISOR_RING_EXPORT caf::expected<std::unique_ptr<child_store>>
open_replicated_store(actor::node& node, replicated_store_options opts);

} // namespace ringvisor::ring
