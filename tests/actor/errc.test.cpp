#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <doctest/doctest.h>

#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/types.hpp"
#include "support/test_system.hpp"

using namespace ringvisor;

TEST_CASE("a ringvisor error renders with its category, name and context") {
  auto err = actor::make_error(actor::errc::unknown_child_type, "superhero",
                               "known types: none");
  CHECK(err == actor::errc::unknown_child_type);
  CHECK(actor::render(err)
        == "ringvisor.actor.unknown_child_type: superhero, known types: none");
}

TEST_CASE("a ringvisor error survives serialization, as it does between nodes") {
  test::test_system ts{actor::add_types};
  auto err = actor::make_error(actor::errc::bad_child_args, "worker",
                               "expected (@str)");
  std::vector<char> buf;
  caf::binary_serializer sink{ts.sys(), buf};
  REQUIRE(!sink(err));
  caf::error copy;
  caf::binary_deserializer source{ts.sys(), buf};
  REQUIRE(!source(copy));
  CHECK(copy == actor::errc::bad_child_args);
  CHECK(ts.sys().render(copy)
        == "ringvisor.actor.bad_child_args: worker, expected (@str)");
}

TEST_CASE("errors of other categories render as CAF prints them") {
  CHECK(actor::render(caf::make_error(caf::sec::request_timeout))
        == caf::to_string(caf::make_error(caf::sec::request_timeout)));
  CHECK(actor::render(caf::error{}) == "none");
}
