#include <caf/event_based_actor.hpp>
#include <doctest/doctest.h>

#include "ringvisor/actor/directory.hpp"
#include "ringvisor/actor/types.hpp"
#include "support/test_system.hpp"

using namespace ringvisor;
using strings = std::vector<std::string>;

namespace {

caf::behavior echo(caf::event_based_actor*) {
  return {[](int32_t x) { return x; }};
}

} // namespace

TEST_CASE("the directory finds actors by name and lists the names") {
  test::test_system ts{actor::add_types};
  auto dir = actor::spawn_directory(ts.sys());
  auto a = ts.sys().spawn(echo);
  auto b = ts.sys().spawn(echo);
  REQUIRE(ts.request<caf::ok_atom>(dir, caf::put_atom::value, std::string{"b"}, b));
  REQUIRE(ts.request<caf::ok_atom>(dir, caf::put_atom::value, std::string{"a"}, a));
  CHECK(ts.request<caf::actor>(dir, caf::get_atom::value, std::string{"a"}) == a);
  CHECK(ts.request<strings>(dir, caf::get_atom::value) == strings{"a", "b"});
  auto missing = ts.request<caf::actor>(dir, caf::get_atom::value, std::string{"c"});
  CHECK(missing.error() == actor::errc::not_registered);
  for (auto& x : {a, b, dir})
    ts.self()->send_exit(x, caf::exit_reason::kill);
}

TEST_CASE("a name held by a live actor is not taken over, and the holder may repeat it") {
  test::test_system ts{actor::add_types};
  auto dir = actor::spawn_directory(ts.sys());
  auto a = ts.sys().spawn(echo);
  auto b = ts.sys().spawn(echo);
  REQUIRE(ts.request<caf::ok_atom>(dir, caf::put_atom::value, std::string{"x"}, a));
  CHECK(ts.request<caf::ok_atom>(dir, caf::put_atom::value, std::string{"x"}, a));
  auto taken = ts.request<caf::ok_atom>(dir, caf::put_atom::value, std::string{"x"}, b);
  CHECK(taken.error() == actor::errc::name_taken);
  for (auto& x : {a, b, dir})
    ts.self()->send_exit(x, caf::exit_reason::kill);
}

TEST_CASE("a name disappears with its actor and can then be taken again") {
  test::test_system ts{actor::add_types};
  auto dir = actor::spawn_directory(ts.sys());
  auto a = ts.sys().spawn(echo);
  REQUIRE(ts.request<caf::ok_atom>(dir, caf::put_atom::value, std::string{"x"}, a));
  ts.self()->send_exit(a, caf::exit_reason::kill);
  ts.run();
  CHECK(ts.request<strings>(dir, caf::get_atom::value) == strings{});
  auto b = ts.sys().spawn(echo);
  CHECK(ts.request<caf::ok_atom>(dir, caf::put_atom::value, std::string{"x"}, b));
  for (auto& x : {b, dir})
    ts.self()->send_exit(x, caf::exit_reason::kill);
}
