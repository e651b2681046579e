#include "hero.hpp"

#include <algorithm>
#include <cctype>
#include <deque>
#include <map>
#include <random>

#include <caf/binary_deserializer.hpp>

#include "ringvisor/actor/stateful_child.hpp"
#include "ringvisor/ring/ownership.hpp"

namespace dispatch {

namespace {

using tick_atom = caf::atom_constant<caf::atom("tick")>;
using report_atom = caf::atom_constant<caf::atom("d_report")>;
using gone_atom = caf::atom_constant<caf::atom("d_gone")>;

namespace rv = ringvisor;

// -- the board ------------------------------------------------------------------

struct board_state {
  board_report report;
  std::map<std::string, hero_view> heroes;
  std::deque<audit_entry> audit; // the last audit_capacity, oldest first
  static inline const char* name = "dispatch.board";
};

caf::behavior board(caf::stateful_actor<board_state>* self, std::string node) {
  self->state.report.node = std::move(node);
  return {
    [self](caf::put_atom, std::string& dashboard) {
      self->state.report.dashboard = std::move(dashboard);
    },
    [self](caf::put_atom, audit_entry& x) {
      auto& audit = self->state.audit;
      audit.push_back(std::move(x));
      if (audit.size() > audit_capacity)
        audit.pop_front();
    },
    [self](report_atom, hero_view& x) { self->state.heroes[x.id] = std::move(x); },
    [self](gone_atom, const std::string& id) { self->state.heroes.erase(id); },
    [self](caf::get_atom) {
      auto result = self->state.report;
      for (auto& [id, x] : self->state.heroes)
        result.heroes.push_back(x);
      result.audit.assign(self->state.audit.begin(), self->state.audit.end());
      return result;
    },
  };
}

// -- heroes -----------------------------------------------------------------------

struct hero_actor_state {
  hero_view view;
  std::minstd_rand rng{std::random_device{}()};
  uint64_t tick_key = 0; // what its own ticks carry
  // Whether this hero may fight now: a hero whose node resumes after a
  // pause may have a successor elsewhere by now, and must not fight (and
  // report a fight) twice; see ring::ownership.
  rv::ring::ownership owner;
  static inline const char* name = "dispatch.hero";
};

using hero_actor = caf::stateful_actor<hero_actor_state>;

double uniform(std::minstd_rand& rng) {
  return std::uniform_real_distribution<double>{0.0, 1.0}(rng);
}

// Reads a record of this version, or of the one before `paused` (the same
// fields up to `moves`): snapshots in a data directory outlive an upgrade.
caf::error read_record(caf::actor_system& sys, const rv::actor::bytes& buf, hero_state& x) {
  auto err = rv::actor::from_bytes(sys, buf, x);
  if (!err)
    return err;
  hero_state old;
  caf::binary_deserializer source{sys, buf};
  if (source(old.name, old.health, old.max_health, old.wins, old.losses, old.resting, old.moves)
      || source.remaining() != 0)
    return err; // neither: the error of this version's layout
  x = std::move(old);
  return caf::none;
}

// Ticks come a little apart so that heroes do not all act in one burst.
caf::timespan jittered(hero_actor* self, caf::timespan tick) {
  auto factor = 0.75 + 0.5 * uniform(self->state.rng);
  return caf::timespan{static_cast<caf::timespan::rep>(tick.count() * factor)};
}

caf::behavior hero(hero_actor* self, const hero_options& opts, std::string id,
                   std::string name) {
  auto& view = self->state.view;
  view.id = id;
  view.state.name = std::move(name);
  view.state.max_health = opts.max_health;
  view.state.health = opts.max_health;
  view.last = "started";
  auto board = opts.board;
  auto report = [self, board] { self->send(board, report_atom::value, self->state.view); };
  self->attach_functor([board, id] { caf::anon_send(board, gone_atom::value, id); });
  // Ticks carry a key only this instance knows: `(tick)` from outside
  // (`ringvisor-ctl call`) is a message it does not handle.
  std::random_device entropy;
  self->state.tick_key = (uint64_t{entropy()} << 32) | entropy();
  self->delayed_send(self, jittered(self, opts.tick), tick_atom::value, self->state.tick_key);
  // An operator's pause or resume: answered with whether it is paused now.
  auto hold = [self, report](bool paused) -> caf::result<bool> {
    if (!self->state.owner.still_owner())
      return self->state.owner.refusal(self->state.view.id);
    self->state.view.state.paused = paused;
    self->state.view.last = paused ? "paused" : "resumed";
    report();
    return paused;
  };
  return {
    [self, report, tick = opts.tick](tick_atom, uint64_t key) {
      if (key != self->state.tick_key)
        return; // not its own timer's: a stray tick would add a timer for good
      if (!self->state.owner.still_owner()) {
        self->delayed_send(self, jittered(self, tick), tick_atom::value, key);
        return; // not now: perhaps never again here
      }
      auto& v = self->state.view;
      if (v.state.paused) {
        self->delayed_send(self, jittered(self, tick), tick_atom::value, key);
        return;
      }
      auto what = hero_step(v.state, uniform(self->state.rng), uniform(self->state.rng));
      v.last = to_string(what);
      report();
      if (what == outcome::fell) {
        self->quit(); // normal: a transient child that is done
        return;
      }
      self->delayed_send(self, jittered(self, tick), tick_atom::value, key);
    },
    [self, report](rv::ring::placed_atom, rv::ring::placement& where,
                   const rv::ring::restore_info& restored) {
      self->state.owner = rv::ring::ownership{self->system(), where};
      self->state.view.where = std::move(where); // the epoch goes with every report
      self->state.view.restored = restored;
      report();
    },
    [self](caf::get_atom) { return to_json_text(self->state.view); },
    [self, report](heal_atom) -> caf::result<int32_t> {
      if (!self->state.owner.still_owner())
        return self->state.owner.refusal(self->state.view.id);
      auto& x = self->state.view.state;
      x.health = x.max_health;
      x.resting = false;
      report();
      return x.health;
    },
    [hold](pause_atom) { return hold(true); },
    [hold](resume_atom) { return hold(false); },
    // The stateful-child contract, by hand: a hero that arrives counts the move.
    [self](rv::actor::get_state_atom) -> caf::result<rv::actor::bytes> {
      auto buf = rv::actor::to_bytes(self->system(), self->state.view.state);
      if (!buf)
        return std::move(buf.error());
      return std::move(*buf);
    },
    [self, report](rv::actor::put_state_atom,
                   const rv::actor::bytes& buf) -> caf::result<caf::ok_atom> {
      hero_state x;
      if (auto err = read_record(self->system(), buf, x))
        return err;
      ++x.moves;
      self->state.view.state = std::move(x);
      self->state.view.last = "arrived";
      report();
      return caf::ok_atom::value;
    },
  };
}

} // namespace

const char* to_string(outcome x) {
  switch (x) {
    case outcome::rested:
      return "rested";
    case outcome::patrolled:
      return "patrolled";
    case outcome::won:
      return "won";
    case outcome::lost:
      return "lost";
    case outcome::fell:
      return "fell";
  }
  return "?";
}

outcome hero_step(hero_state& x, double roll, double damage) {
  if (x.resting) {
    x.health = std::min(x.max_health, x.health + std::max(1, x.max_health / 10));
    x.resting = x.health < x.max_health;
    return outcome::rested;
  }
  if (roll < 0.5)
    return outcome::patrolled;
  // Meeting crime: the chance to win goes from 30 % (nearly dead) to 90 %.
  auto fitness = static_cast<double>(x.health) / std::max(1, x.max_health);
  auto win = (roll - 0.5) * 2 < 0.3 + 0.6 * fitness;
  if (win) {
    ++x.wins;
    return outcome::won;
  }
  ++x.losses;
  x.health -= static_cast<int32_t>(x.max_health * (0.1 + 0.25 * damage));
  if (x.health <= 0) {
    x.health = 0;
    return outcome::fell;
  }
  x.resting = x.health * 3 < x.max_health;
  return outcome::lost;
}

void add_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<hero_state>("dispatch::hero_state");
  cfg.add_message_type<hero_view>("dispatch::hero_view");
  cfg.add_message_type<std::vector<hero_view>>("dispatch::hero_view_list");
  cfg.add_message_type<board_report>("dispatch::board_report");
  cfg.add_message_type<audit_entry>("dispatch::audit_entry");
}

caf::actor spawn_board(caf::actor_system& sys, std::string node) {
  return sys.spawn(board, std::move(node));
}

caf::error add_hero_type(rv::actor::factory_registry& factories, hero_options opts) {
  return factories.add<std::string, std::string>(
    "hero", [opts](hero_actor* self, std::string id, std::string name) {
      return hero(self, opts, std::move(id), std::move(name));
    });
}

std::string hero_id(const std::string& name) {
  std::string result;
  for (auto c : name) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u))
      result += static_cast<char>(std::tolower(u));
    else if (!result.empty() && result.back() != '-')
      result += '-';
  }
  while (!result.empty() && result.back() == '-')
    result.pop_back();
  return result;
}

nlohmann::json to_json(const hero_view& x) {
  return {
    {"id", x.id},
    {"name", x.state.name},
    {"health", x.state.health},
    {"max_health", x.state.max_health},
    {"wins", x.state.wins},
    {"losses", x.state.losses},
    {"resting", x.state.resting},
    {"paused", x.state.paused},
    {"moves", x.state.moves},
    {"node", x.where.node},
    {"epoch", x.where.epoch},
    {"last", x.last},
    {"restored", rv::ring::to_string(x.restored.from)},
    {"snapshot_age_ms",
     std::chrono::duration_cast<std::chrono::milliseconds>(x.restored.age).count()},
  };
}

std::string to_json_text(const hero_view& x) {
  return to_json(x).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

rv::supervision::child_spec hero_spec(const std::string& name) {
  rv::supervision::child_spec result;
  result.id = hero_id(name);
  result.type = "hero";
  result.args = caf::make_message(result.id, name);
  result.restart = rv::supervision::restart_type::transient;
  result.snapshot = rv::supervision::snapshot_policy::every(hero_snapshot_interval);
  return result;
}

} // namespace dispatch
