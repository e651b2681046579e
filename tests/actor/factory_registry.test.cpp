#include <caf/event_based_actor.hpp>
#include <doctest/doctest.h>

#include "ringvisor/actor/factory_registry.hpp"
#include "ringvisor/actor/types.hpp"
#include "support/test_system.hpp"

using namespace ringvisor;

namespace {

using get_atom = caf::get_atom;

caf::behavior greeter(caf::event_based_actor*, std::string greeting,
                      int32_t times) {
  return {[=](get_atom) {
    std::string result;
    for (int32_t i = 0; i < times; ++i)
      result += greeting;
    return result;
  }};
}

} // namespace

TEST_CASE("the factory registry spawns a child from its type name and arguments") {
  test::test_system ts{actor::add_types};
  actor::factory_registry reg;
  REQUIRE(!reg.add<std::string, int32_t>("greeter", greeter));
  auto child = reg.spawn(ts.sys(), "greeter",
                         caf::make_message(std::string{"hi"}, int32_t{2}));
  REQUIRE(child);
  CHECK(ts.request<std::string>(*child, get_atom::value) == std::string{"hihi"});
  ts.self()->send_exit(*child, caf::exit_reason::kill);
}

TEST_CASE("an unknown child type is an error that lists the known types") {
  test::test_system ts{actor::add_types};
  actor::factory_registry reg;
  REQUIRE(!reg.add<std::string, int32_t>("greeter", greeter));
  auto child = reg.spawn(ts.sys(), "superhero", caf::make_message());
  REQUIRE(!child);
  CHECK(child.error() == actor::errc::unknown_child_type);
  CHECK(actor::render(child.error())
        == "ringvisor.actor.unknown_child_type: superhero, known types: greeter");
}

TEST_CASE("arguments of the wrong types are an error that shows both signatures") {
  test::test_system ts{actor::add_types};
  actor::factory_registry reg;
  REQUIRE(!reg.add<std::string, int32_t>("greeter", greeter));
  auto child = reg.spawn(ts.sys(), "greeter", caf::make_message(int32_t{1}));
  REQUIRE(!child);
  CHECK(child.error() == actor::errc::bad_child_args);
  CHECK(actor::render(child.error())
        == "ringvisor.actor.bad_child_args: greeter, expected (@str, @i32), got (@i32)");
}

TEST_CASE("a child type cannot be registered twice") {
  actor::factory_registry reg;
  REQUIRE(!reg.add<std::string, int32_t>("greeter", greeter));
  auto err = reg.add<std::string, int32_t>("greeter", greeter);
  CHECK(err == actor::errc::duplicate_child_type);
  CHECK(reg.names() == std::vector<std::string>{"greeter"});
  CHECK(reg.contains("greeter"));
  CHECK(!reg.contains("other"));
}
