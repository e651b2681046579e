// Superheroes: ring-supervised children that fight crime and keep their
// record when they move between nodes; and the board, the actor that knows
// the heroes of one node for the dashboard.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "ringvisor/actor/factory_registry.hpp"
#include "ringvisor/ring/supervisor.hpp"
#include "ringvisor/supervision/child_spec.hpp"

namespace dispatch {

using heal_atom = caf::atom_constant<caf::atom("heal")>;
using pause_atom = caf::atom_constant<caf::atom("pause")>;
using resume_atom = caf::atom_constant<caf::atom("resume")>;

/// A hero's record: everything that moves with it to another node.
struct hero_state {
  std::string name;
  int32_t health = 0;
  int32_t max_health = 0;
  uint32_t wins = 0;
  uint32_t losses = 0;
  bool resting = false;
  /// How often it moved to another node with its record.
  uint32_t moves = 0;
  /// Paused by an operator: it neither fights nor rests until resumed,
  /// also on another node.
  bool paused = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, hero_state& x) {
  return f(caf::meta::type_name("dispatch::hero_state"), x.name, x.health, x.max_health, x.wins,
           x.losses, x.resting, x.moves, x.paused);
}

/// What happened to a hero on one tick.
enum class outcome { rested, patrolled, won, lost, fell };

/// Returns a printable name of `x`.
const char* to_string(outcome x);

/// One tick of a hero's life. `roll` and `damage` are uniform in [0, 1): a
/// resting hero heals a tenth of its health and goes out when healed; a
/// patrolling one meets crime half the time and wins the more likely the
/// healthier it is; a loss costs 10-35 % of its health, below a third it
/// rests, at 0 it falls.
outcome hero_step(hero_state& x, double roll, double damage);

/// A hero as the dashboard shows it: its record and where it runs.
struct hero_view {
  std::string id;
  hero_state state;
  ringvisor::ring::placement where;
  std::string last; // the last tick's outcome
  /// How its record came to this node: handed over, from a snapshot (and
  /// how old), or none (fresh).
  ringvisor::ring::restore_info restored;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, hero_view& x) {
  return f(caf::meta::type_name("dispatch::hero_view"), x.id, x.state, x.where, x.last,
           x.restored);
}

/// One change an operator made through a node's dashboard.
struct audit_entry {
  /// When it was made: wall clock, milliseconds since the Unix epoch.
  int64_t at_ms = 0;
  /// The node whose dashboard took it, and the client's address.
  std::string node;
  std::string client;
  /// `create`, `retire`, `pause` or `resume` (a hero), or `stop` (a node).
  std::string action;
  /// The hero's id or the node's name.
  std::string target;
  /// `ok`, or why it failed.
  std::string outcome;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, audit_entry& x) {
  return f(caf::meta::type_name("dispatch::audit_entry"), x.at_ms, x.node, x.client, x.action,
           x.target, x.outcome);
}

/// What one node's board answers to `(caf::get_atom)`.
struct board_report {
  std::string node;
  std::string dashboard; // the node's dashboard URL
  std::vector<hero_view> heroes;
  /// The last `audit_capacity` changes made through any dashboard while
  /// this node was up, oldest first (every dashboard tells every board).
  std::vector<audit_entry> audit;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, board_report& x) {
  return f(caf::meta::type_name("dispatch::board_report"), x.node, x.dashboard, x.heroes, x.audit);
}

/// How many audit entries a board keeps (in memory; every entry also goes to
/// the node's log).
inline constexpr size_t audit_capacity = 100;

/// Registers the demo's message types; every node must call it.
void add_types(caf::actor_system_config& cfg);

/// The name of the board in every node directory.
inline const std::string board_name = "dispatch.board";

/// Spawns the board of node `node`: heroes report to it on every tick and
/// when they stop. Answers `(caf::get_atom)` with a `board_report`; takes
/// the node's dashboard URL as `(caf::put_atom, std::string)` and a change
/// made through the dashboard as `(caf::put_atom, audit_entry)`.
caf::actor spawn_board(caf::actor_system& sys, std::string node);

/// How heroes live.
struct hero_options {
  caf::timespan tick = std::chrono::seconds{1};
  int32_t max_health = 100;
  caf::actor board;
};

/// Registers the child type "hero" with arguments `(std::string id,
/// std::string name)`. A hero answers `(caf::get_atom)` with its record as
/// a JSON string, `(heal_atom)` with its health, healed, and `(pause_atom)`
/// and `(resume_atom)` with whether it is paused now; it follows the
/// stateful-child contract (`get_state`/`put_state`), so it moves with its
/// record; it ends normally when it falls.
caf::error add_hero_type(ringvisor::actor::factory_registry& factories, hero_options opts);

/// How often a hero's record is copied to its replicas: at most this much
/// of it is lost when its node dies.
inline constexpr caf::timespan hero_snapshot_interval = std::chrono::seconds{1};

/// Returns the child spec of a new hero: id from the name, type "hero",
/// transient (a hero that falls is gone for good), its record snapshot
/// every `hero_snapshot_interval`.
ringvisor::supervision::child_spec hero_spec(const std::string& name);

/// Returns the child id for a hero's name ("Captain Marvel" ->
/// "captain-marvel"), or an empty string if the name has nothing to use.
std::string hero_id(const std::string& name);

/// Returns `x` as the dashboard's JSON shows it.
nlohmann::json to_json(const hero_view& x);

/// Returns the JSON text of `x` (invalid UTF-8 in a name replaced).
std::string to_json_text(const hero_view& x);

} // namespace dispatch
