// What the dashboard's /api/state makes of what the cluster answered.

#include <cmath>

#include <caf/make_message.hpp>
#include <doctest/doctest.h>

#include "cluster_state.hpp"
#include "hero.hpp"
#include "ringvisor/cluster/errc.hpp"
#include "ringvisor/ring/info.hpp"

using namespace ringvisor;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

cluster::member member_named(const std::string& name, cluster::member_status status) {
  cluster::member m;
  m.name = name;
  m.incarnation = 9'007'199'254'740'993; // 2^53 + 1: more than a JavaScript number holds
  m.endpoint = "127.0.0.1:1";
  m.status = status;
  return m;
}

dispatch::audit_entry entry(int64_t at_ms, const std::string& node) {
  return {at_ms, node, "127.0.0.1", "pause", "storm", "ok"};
}

/// Node a's view: a and b up, c down; a's and b's boards answer, c's not;
/// a's and b's agents answer. b's dashboard took 60 changes, a's two; both
/// boards have a copy of a's.
dispatch::cluster_facts facts() {
  dispatch::cluster_facts result;
  result.node = "a";
  result.heroes = "heroes";
  result.view = {member_named("a", cluster::member_status::up),
                 member_named("b", cluster::member_status::up),
                 member_named("c", cluster::member_status::down)};
  result.status = cluster::cluster_status::up;
  result.ring = {"a", "b"};
  dispatch::board_report a{"a", "http://a/", {}, {entry(1, "a"), entry(1'000, "a")}};
  dispatch::hero_view storm;
  storm.id = "storm";
  storm.state.name = "Storm";
  storm.where = {"a", 7};
  a.heroes.push_back(storm);
  dispatch::board_report b{"b", "http://b/", {}, {}};
  for (int64_t i = 0; i < 60; ++i)
    b.audit.push_back(entry(100 + i, "b"));
  b.audit.push_back(entry(1'000, "a"));
  result.boards = {{"a", caf::make_message(a), caf::none},
                   {"b", caf::make_message(b), caf::none},
                   {"c", {}, make_error(cluster::errc::member_down, "c")}};
  cluster::node_health ha;
  ha.lease = true;
  ha.lease_left = 250ms;
  ha.lateness = 3ms;
  ha.peers = {{"b", true, false, 40ms, 0.12}, {"c", false, true, 0ns, 0}};
  cluster::node_health hb; // no lease
  result.health = {{"a", ha}, {"b", hb}};
  return result;
}

} // namespace

TEST_CASE("the page's state gives each member's health, and its link as this node sees it") {
  auto s = dispatch::state_json(facts());
  CHECK(s["node"] == "a");
  CHECK(s["status"] == "up");
  auto& ms = s["members"];
  REQUIRE(ms.size() == 3);
  CHECK(ms[0]["incarnation"] == "9007199254740993");
  CHECK(ms[0]["health"] == json{{"lease", true}, {"lease_left_ms", 250}, {"lateness_ms", 3}});
  CHECK(ms[0]["link"].is_null()); // this node
  CHECK(ms[1]["health"]["lease"] == false);
  CHECK(ms[1]["link"]
        == json{{"linked", true}, {"unreachable", false}, {"silence_ms", 40}, {"phi", 0.1}});
  CHECK(ms[2]["health"].is_null()); // its agent did not answer
  CHECK(ms[2]["link"]["linked"] == false);
  CHECK(ms[2]["link"]["unreachable"] == true);
  CHECK(ms[0]["ring_share"].get<double>() + ms[1]["ring_share"].get<double>()
        == doctest::Approx(1.0));
  CHECK(ms[2]["ring_share"] == 0.0);
  CHECK(ms[1]["dashboard"] == "http://b/");
  REQUIRE(s["errors"].size() == 1);
  CHECK(s["errors"][0]["node"] == "c");
}

TEST_CASE("the page's state places each hero on the ring and lists the newest changes of all "
          "nodes") {
  auto s = dispatch::state_json(facts());
  REQUIRE(s["heroes"].size() == 1);
  auto& storm = s["heroes"][0];
  CHECK(storm["node"] == "a");
  CHECK(storm["ring_point"].get<double>()
        == std::ldexp(static_cast<double>(ring::ring_point("heroes", "storm")), -64));
  auto& audit = s["audit"];
  REQUIRE(audit.size() == 50); // of 62, each once
  CHECK(audit[0]["at_ms"] == 1'000);
  CHECK(audit[0]["node"] == "a");
  CHECK(audit[1]["at_ms"] == 159);
  CHECK(audit[49]["at_ms"] == 111);
  CHECK(s["ring"] == json{"a", "b"});
  CHECK(storm["pin"].is_null());
}

TEST_CASE("the page's state names the node a hero is pinned to") {
  auto f = facts();
  f.pins = {{"storm", "b"}};
  auto s = dispatch::state_json(f);
  REQUIRE(s["heroes"].size() == 1);
  CHECK(s["heroes"][0]["pin"] == "b");
}
