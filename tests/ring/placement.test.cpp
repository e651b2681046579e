// What a new view means for a ring manager, as plain code: declared down or
// refuted, members gone (crashed, removed, back as a new process), and the
// members children are placed on.

#include <doctest/doctest.h>

#include "placement.hpp"
#include "ringvisor/ring/supervisor.hpp"

using namespace ringvisor;
using namespace ringvisor::ring;
using cluster::member;
using cluster::member_status;

namespace {

member m(const std::string& name, uint64_t inc, member_status st = member_status::up,
         std::vector<std::string> groups = {}) {
  return member{name, inc, name + ":4900", st, std::move(groups), {}, {}, 0};
}

std::map<std::string, member> up_of(const std::vector<member>& xs) {
  std::map<std::string, member> result;
  for (auto& x : xs)
    result.emplace(x.name, x);
  return result;
}

std::vector<std::string> names_of(const std::vector<member>& xs) {
  std::vector<std::string> result;
  for (auto& x : xs)
    result.push_back(x.name);
  return result;
}

} // namespace

TEST_CASE("a view that shows this node down, or refuted with a newer incarnation, declares it down") {
  auto fine = diff_view({}, {m("a", 5), m("b", 1)}, "a", 5);
  CHECK(!fine.declared_down);
  CHECK(fine.incarnation == 5);
  auto downed = diff_view({}, {m("a", 5, member_status::down)}, "a", 5);
  CHECK(downed.declared_down);
  CHECK(downed.incarnation == 5);
  auto refuted = diff_view({}, {m("a", 7)}, "a", 5);
  CHECK(refuted.declared_down);
  CHECK(refuted.incarnation == 7);
  auto old_news = diff_view({}, {m("a", 4, member_status::down)}, "a", 5); // an older process
  CHECK(!old_news.declared_down);
}

TEST_CASE("members that crash, are removed or come back as new processes are gone") {
  auto before = up_of({m("b", 1), m("c", 1), m("d", 1), m("e", 1)});
  auto change = diff_view(before,
                          {m("a", 5), m("b", 1), m("c", 1, member_status::down),
                           m("d", 2), m("e", 1, member_status::leaving)},
                          "a", 5);
  CHECK(names_of(change.gone) == std::vector<std::string>{"c", "d"});
  CHECK(change.gone[1].incarnation == 1); // as it was before
  // Leaving members still count as up (they hand their children off).
  CHECK(change.up.size() == 3);
  CHECK(change.up.count("e") == 1);
  CHECK(change.up.count("a") == 0); // the others only
}

TEST_CASE("children are placed on up members of the group that offer the service") {
  std::vector<member> view{m("a", 1, member_status::up, {"gpu"}),
                           m("b", 1, member_status::up, {"cpu", "gpu"}),
                           m("c", 1, member_status::up),
                           m("d", 1, member_status::joining, {"gpu"}),
                           m("e", 1, member_status::up, {"gpu"}),
                           m("f", 1, member_status::up, {"gpu"})};
  for (auto& x : view)
    if (x.name != "f") // its ring supervisor does not run (or left)
      x.services = {"ring.x"};
  CHECK(placement_members(view, "", "ring.x", "a", false).names
        == std::vector<std::string>{"a", "b", "c", "e"});
  CHECK(placement_members(view, "gpu", "ring.x", "a", false).names
        == std::vector<std::string>{"a", "b", "e"});
  CHECK(placement_members(view, "gpu", "ring.y", "a", false).names.empty());
  CHECK(placement_members(view, "gpu", "ring.x", "a", true).names
        == std::vector<std::string>{"b", "e"});
  // The digest tells rings of the same names but other processes apart.
  auto d1 = placement_members(view, "", "ring.x", "a", false).digest;
  view[1].incarnation = 2;
  CHECK(placement_members(view, "", "ring.x", "a", false).digest != d1);
}

TEST_CASE("a member whose ring supervisor winds down is asked, not placed on, until it is done") {
  std::vector<member> view{m("a", 1), m("b", 1), m("c", 1), m("d", 1, member_status::down),
                           m("e", 1, member_status::up, {"gpu"})};
  view[0].services = {"ring.x"};
  view[1].services = {"ring.x"};
  view[2].draining = {"ring.x"}; // c leaves: it hands its children off
  view[3].draining = {"ring.x"}; // d is down: nothing to ask
  view[4].draining = {"ring.x"};
  CHECK(placement_members(view, "", "ring.x", "a", false).names
        == std::vector<std::string>{"a", "b"});
  CHECK(handing_off(view, "", "ring.x", "a") == std::set<std::string>{"c", "e"});
  CHECK(handing_off(view, "gpu", "ring.x", "a") == std::set<std::string>{"e"});
  CHECK(handing_off(view, "", "ring.y", "a").empty());
  // Every node sees the same, whatever it saw before (a node that starts
  // now asks c too).
  CHECK(handing_off(view, "", "ring.x", "b") == std::set<std::string>{"c", "e"});
  // Done: c drops the service.
  view[2].draining.clear();
  CHECK(handing_off(view, "", "ring.x", "a") == std::set<std::string>{"e"});
}

TEST_CASE("an epoch renders as the UTC time its placement began, to the microsecond") {
  CHECK(render_epoch(1'796'059'554'000'042) == "2026-11-30T17:25:54.000042Z");
  CHECK(render_epoch(0) == "1970-01-01T00:00:00.000000Z");
}
