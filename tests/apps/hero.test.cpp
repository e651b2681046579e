// The dispatch demo's heroes: the rules of a tick, ids from names, and a
// hero actor under the test coordinator (ticks, board reports, moving with
// its record).

#include <caf/binary_serializer.hpp>
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "hero.hpp"
#include "lease_registry.hpp"
#include "ringvisor/actor/stateful_child.hpp"
#include "ringvisor/ring/all.hpp"
#include "support/test_system.hpp"

using namespace ringvisor;
using namespace std::chrono_literals;
using dispatch::hero_state;
using dispatch::outcome;

namespace {

hero_state fresh(int32_t health = 100) {
  return hero_state{"Storm", health, 100, 0, 0, false, 0};
}

dispatch::board_report board_of(test::test_system& ts, const caf::actor& board) {
  auto report = ts.request<dispatch::board_report>(board, caf::get_atom::value);
  REQUIRE(report);
  return *report;
}

} // namespace

TEST_CASE("a patrolling hero meets crime half the time and wins more the healthier it is") {
  auto x = fresh();
  CHECK(dispatch::hero_step(x, 0.49, 0.0) == outcome::patrolled);
  CHECK(x.health == 100);
  // Roll 0.5..1 maps to 0..1 against 0.3 + 0.6 * fitness (0.9 at full health).
  CHECK(dispatch::hero_step(x, 0.94, 0.0) == outcome::won);
  CHECK(x.wins == 1);
  CHECK(dispatch::hero_step(x, 0.96, 0.0) == outcome::lost);
  CHECK(x.losses == 1);
  CHECK(x.health == 90);
  auto weak = fresh(50);
  CHECK(dispatch::hero_step(weak, 0.85, 0.0) == outcome::lost); // 0.7 > 0.3 + 0.3
}

TEST_CASE("a hero that loses badly rests until healed, and falls at zero health") {
  auto x = fresh(40);
  CHECK(dispatch::hero_step(x, 0.99, 0.5) == outcome::lost); // -22
  CHECK(x.health == 18);
  CHECK(x.resting);
  CHECK(dispatch::hero_step(x, 0.99, 0.5) == outcome::rested); // resting: no fights
  CHECK(x.health == 28);
  for (int i = 0; i < 8; ++i)
    dispatch::hero_step(x, 0.0, 0.0);
  CHECK(x.health == 100);
  CHECK(!x.resting);
  auto dying = fresh(20);
  CHECK(dispatch::hero_step(dying, 0.99, 0.99) == outcome::fell);
  CHECK(dying.health == 0);
}

TEST_CASE("hero ids come from names") {
  CHECK(dispatch::hero_id("Captain Marvel") == "captain-marvel");
  CHECK(dispatch::hero_id("  Spider-Man!! ") == "spider-man");
  CHECK(dispatch::hero_id("X23") == "x23");
  CHECK(dispatch::hero_id("?!") == "");
}

namespace {

// The lease of the test's node, as its agent would keep it: held from now on.
std::shared_ptr<cluster::lease_clock> held_lease(test::test_system& ts) {
  auto lease = std::make_shared<cluster::lease_clock>();
  lease->set_until(cluster::lease_clock::clock::time_point::max());
  cluster::detail::register_lease(ts.sys(), lease);
  return lease;
}

/// The hero "storm" (tick 1 s, health 1000) placed on node a at epoch 7,
/// reporting to a's board, on a node that holds its lease.
struct placed_hero {
  test::test_system ts{ring::add_types, dispatch::add_types};
  std::shared_ptr<cluster::lease_clock> lease = held_lease(ts);
  actor::factory_registry factories;
  caf::actor board = dispatch::spawn_board(ts.sys(), "a");
  caf::expected<caf::actor> hero{caf::sec::runtime_error};

  placed_hero() {
    REQUIRE(!dispatch::add_hero_type(factories, {1s, 1000, board}));
    hero = factories.spawn(ts.sys(), "hero", caf::make_message("storm", "Storm"));
    REQUIRE(hero);
    ts.self()->send(*hero, ring::placed_atom::value, ring::placement{"a", 7}, ring::restore_info{});
    ts.run();
  }
};

} // namespace

TEST_CASE_FIXTURE(placed_hero, "a hero reports to its board, fights on its timer and moves with its record") {
  auto report = board_of(ts, board);
  REQUIRE(report.heroes.size() == 1);
  CHECK(report.heroes[0].id == "storm");
  CHECK(report.heroes[0].where.epoch == 7);
  CHECK(report.heroes[0].state.health == 1000);

  for (int i = 0; i < 20; ++i)
    ts.advance_time(2s); // each tick is 0.75 to 1.25 of a second
  auto acted = board_of(ts, board).heroes.at(0).state;
  CHECK(acted.wins + acted.losses > 0);

  auto record = ts.request<actor::bytes>(*hero, actor::get_state_atom::value);
  REQUIRE(record);
  ts.self()->send_exit(*hero, caf::exit_reason::user_shutdown);
  ts.run();
  CHECK(board_of(ts, board).heroes.empty());

  auto moved = factories.spawn(ts.sys(), "hero", caf::make_message("storm", "Storm"));
  REQUIRE(moved);
  REQUIRE(ts.request<caf::ok_atom>(*moved, actor::put_state_atom::value, *record));
  ts.self()->send(*moved, ring::placed_atom::value, ring::placement{"b", 8},
                  ring::restore_info{ring::restore_info::origin::handed_over, {}});
  auto text = ts.request<std::string>(*moved, caf::get_atom::value);
  REQUIRE(text);
  auto j = nlohmann::json::parse(*text);
  CHECK(j["wins"] == acted.wins);
  CHECK(j["losses"] == acted.losses);
  CHECK(j["moves"] == 1);
  CHECK(ts.request<int32_t>(*moved, dispatch::heal_atom::value) == 1000);
  ts.self()->send_exit(*moved, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(board, caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(placed_hero, "a hero whose node holds no lease neither fights nor heals: a successor may") {
  lease->set_until(cluster::lease_clock::clock::now()); // as after a SIGSTOP
  for (int i = 0; i < 20; ++i)
    ts.advance_time(2s);
  auto still = board_of(ts, board).heroes.at(0).state;
  CHECK(still.wins + still.losses == 0);
  auto healed = ts.request<int32_t>(*hero, dispatch::heal_atom::value);
  REQUIRE(!healed);
  CHECK(healed.error() == supervision::errc::no_owner);
  lease->set_until(cluster::lease_clock::clock::time_point::max()); // back
  for (int i = 0; i < 20; ++i)
    ts.advance_time(2s);
  auto acted = board_of(ts, board).heroes.at(0).state;
  CHECK(acted.wins + acted.losses > 0);
  ts.self()->send_exit(*hero, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(board, caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(placed_hero,
                  "a paused hero neither fights nor rests, also where it moves, until resumed") {
  REQUIRE(ts.request<bool>(*hero, dispatch::pause_atom::value) == true);
  for (int i = 0; i < 20; ++i)
    ts.advance_time(2s);
  auto paused = board_of(ts, board).heroes.at(0);
  CHECK(paused.state.wins + paused.state.losses == 0);
  CHECK(paused.state.paused);
  CHECK(paused.last == "paused");
  // Moved while paused: it stays paused on the new node.
  auto record = ts.request<actor::bytes>(*hero, actor::get_state_atom::value);
  REQUIRE(record);
  ts.self()->send_exit(*hero, caf::exit_reason::user_shutdown);
  ts.run();
  auto moved = factories.spawn(ts.sys(), "hero", caf::make_message("storm", "Storm"));
  REQUIRE(moved);
  REQUIRE(ts.request<caf::ok_atom>(*moved, actor::put_state_atom::value, *record));
  ts.self()->send(*moved, ring::placed_atom::value, ring::placement{"b", 8},
                  ring::restore_info{ring::restore_info::origin::handed_over, {}});
  for (int i = 0; i < 20; ++i)
    ts.advance_time(2s);
  auto there = board_of(ts, board).heroes.at(0).state;
  CHECK(there.paused);
  CHECK(there.wins + there.losses == 0);
  REQUIRE(ts.request<bool>(*moved, dispatch::resume_atom::value) == false);
  for (int i = 0; i < 20; ++i)
    ts.advance_time(2s);
  auto resumed = board_of(ts, board).heroes.at(0).state;
  CHECK(!resumed.paused);
  CHECK(resumed.wins + resumed.losses > 0);
  // Not on a node without the lease: a successor may run it.
  lease->set_until(cluster::lease_clock::clock::now());
  auto refused = ts.request<bool>(*moved, dispatch::pause_atom::value);
  REQUIRE(!refused);
  CHECK(refused.error() == supervision::errc::no_owner);
  ts.self()->send_exit(*moved, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(board, caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(placed_hero, "a hero takes a record stored before pausing existed") {
  // The layout before `paused`: name, health, max_health, wins, losses, resting, moves.
  actor::bytes old;
  caf::binary_serializer sink{ts.sys(), old};
  REQUIRE(!sink(std::string{"Storm"}, int32_t{700}, int32_t{1000}, uint32_t{12}, uint32_t{3}, false,
                uint32_t{2}));
  auto moved = factories.spawn(ts.sys(), "hero", caf::make_message("storm", "Storm"));
  REQUIRE(moved);
  REQUIRE(ts.request<caf::ok_atom>(*moved, actor::put_state_atom::value, old));
  auto text = ts.request<std::string>(*moved, caf::get_atom::value);
  REQUIRE(text);
  auto j = nlohmann::json::parse(*text);
  CHECK(j["wins"] == 12);
  CHECK(j["health"] == 700);
  CHECK(j["moves"] == 3);
  CHECK(j["paused"] == false);
  // Garbage is refused, not taken for either layout.
  auto bad = ts.request<caf::ok_atom>(*moved, actor::put_state_atom::value, actor::bytes{1, 2});
  CHECK(!bad);
  ts.self()->send_exit(*moved, caf::exit_reason::user_shutdown);
  ts.self()->send_exit(*hero, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(board, caf::exit_reason::user_shutdown);
}

TEST_CASE("a board keeps the last audit entries, oldest first") {
  test::test_system ts{dispatch::add_types};
  auto board = dispatch::spawn_board(ts.sys(), "a");
  for (size_t i = 0; i < dispatch::audit_capacity + 5; ++i)
    ts.self()->send(
      board, caf::put_atom::value,
      dispatch::audit_entry{static_cast<int64_t>(i), "a", "127.0.0.1", "pause", "storm", "ok"});
  auto audit = board_of(ts, board).audit;
  REQUIRE(audit.size() == dispatch::audit_capacity);
  CHECK(audit.front().at_ms == 5);
  CHECK(audit.back().at_ms == static_cast<int64_t>(dispatch::audit_capacity + 4));
  caf::anon_send_exit(board, caf::exit_reason::user_shutdown);
}
