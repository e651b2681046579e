#include <caf/stateful_actor.hpp>
#include <doctest/doctest.h>

#include "ringvisor/actor/stateful_child.hpp"
#include "ringvisor/actor/types.hpp"
#include "support/test_system.hpp"

using namespace ringvisor;

namespace {

struct hero_state {
  std::string name;
  int32_t wins = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, hero_state& x) {
  return f(caf::meta::type_name("hero_state"), x.name, x.wins);
}

using win_atom = caf::atom_constant<caf::atom("win")>;

caf::behavior hero(caf::stateful_actor<hero_state>* self) {
  caf::message_handler own{
    [=](win_atom) { return ++self->state.wins; },
  };
  return own.or_else(actor::state_handlers(self));
}

} // namespace

TEST_CASE("state bytes round-trip through inspect") {
  test::test_system ts{actor::add_types};
  hero_state x{"Iron", 7};
  auto buf = actor::to_bytes(ts.sys(), x);
  REQUIRE(buf);
  hero_state y;
  REQUIRE(!actor::from_bytes(ts.sys(), *buf, y));
  CHECK(y.name == "Iron");
  CHECK(y.wins == 7);
  buf->push_back('x');
  CHECK(actor::from_bytes(ts.sys(), *buf, y) == actor::errc::bad_state);
}

TEST_CASE("a stateful child hands its state to a successor through get_state and put_state") {
  test::test_system ts{actor::add_types};
  auto old_child = ts.sys().spawn(hero);
  REQUIRE(ts.request<int32_t>(old_child, win_atom::value) == 1);
  REQUIRE(ts.request<int32_t>(old_child, win_atom::value) == 2);
  auto state = ts.request<actor::bytes>(old_child, actor::get_state_atom::value);
  REQUIRE(state);
  auto new_child = ts.sys().spawn(hero);
  REQUIRE(ts.request<caf::ok_atom>(new_child, actor::put_state_atom::value, *state));
  CHECK(ts.request<int32_t>(new_child, win_atom::value) == 3);
  ts.self()->send_exit(old_child, caf::exit_reason::kill);
  ts.self()->send_exit(new_child, caf::exit_reason::kill);
}

TEST_CASE("put_state with garbage fails and leaves the state untouched") {
  test::test_system ts{actor::add_types};
  auto child = ts.sys().spawn(hero);
  REQUIRE(ts.request<int32_t>(child, win_atom::value) == 1);
  auto res = ts.request<caf::ok_atom>(child, actor::put_state_atom::value,
                                      actor::bytes{'\x01', '\x02'});
  REQUIRE(!res);
  CHECK(res.error() == actor::errc::bad_state);
  CHECK(ts.request<int32_t>(child, win_atom::value) == 2);
  ts.self()->send_exit(child, caf::exit_reason::kill);
}
