// Where a request about a ring child goes, as plain code: every rule of the
// ring manager's routing, one case each.

#include <doctest/doctest.h>

#include "routing.hpp"

using namespace ringvisor::ring;
using kind = route::kind;

namespace {

// A request for a child owned by "b", which this node ("a") reaches.
route_facts elsewhere() {
  route_facts x;
  x.owner = "b";
  x.owner_reachable = true;
  x.rec = route_facts::record::alive;
  x.synced = true;
  return x;
}

// A request for a child this node owns but does not run.
route_facts owned_here() {
  auto x = elsewhere();
  x.owner = "a";
  x.owner_is_self = true;
  return x;
}

} // namespace

TEST_CASE("a child that runs here serves whatever else holds, and one that is busy here waits") {
  auto x = elsewhere();
  x.local = route_facts::here::running;
  x.split = true; // even on a split side: a child that still runs answers
  CHECK(decide_route(x).how == kind::serve);
  x.local = route_facts::here::busy;
  CHECK(decide_route(x).how == kind::wait);
}

TEST_CASE("a request for a child owned elsewhere goes there, at most max_hops times") {
  auto x = elsewhere();
  CHECK(decide_route(x).how == kind::forward);
  x.hops = max_hops;
  auto r = decide_route(x);
  CHECK(r.how == kind::fail);
  CHECK(r.reason == "owner b not reachable");
  x.hops = 0;
  x.owner_reachable = false;
  CHECK(decide_route(x).how == kind::fail);
}

TEST_CASE("a split side, a stopping supervisor and an empty ring refuse with their reason") {
  auto x = elsewhere();
  x.split = true;
  CHECK(decide_route(x).reason == split_off_reason);
  x = elsewhere();
  x.stopping = true;
  CHECK(decide_route(x).reason == "stopping");
  x = elsewhere();
  x.owner.reset();
  CHECK(decide_route(x).reason == "the ring is empty");
  CHECK(!decide_route(x).not_found);
}

TEST_CASE("the owner holds a request for a child it will run, and knows when there is none") {
  auto x = owned_here();
  CHECK(decide_route(x).how == kind::expect); // alive: it starts or arrives soon
  x.rec = route_facts::record::unknown;
  x.synced = false; // still learning the child list: it may come
  CHECK(decide_route(x).how == kind::expect);
  x.synced = true; // knows every child: there is no such child
  auto r = decide_route(x);
  CHECK(r.how == kind::fail);
  CHECK(r.not_found);
  x.rec = route_facts::record::terminated;
  r = decide_route(x);
  CHECK(r.not_found);
  CHECK(r.reason == "terminated");
}
