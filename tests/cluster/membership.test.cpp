#include <algorithm>
#include <random>

#include <doctest/doctest.h>

#include "ringvisor/cluster/membership.hpp"
#include "support/printers.hpp"

using namespace ringvisor::cluster;
using strings = std::vector<std::string>;

namespace {

member m(std::string name, uint64_t incarnation, member_status status,
         std::string endpoint = "127.0.0.1:4900") {
  return member{std::move(name), incarnation, std::move(endpoint), status, {}, {}, {}, 0};
}

} // namespace

TEST_CASE("a new member joins the view and a repeated record changes nothing") {
  membership view;
  CHECK(view.update(m("a", 1, member_status::joining)));
  CHECK(!view.update(m("a", 1, member_status::joining)));
  CHECK(view.update(m("a", 1, member_status::up)));
  CHECK(view.up_members() == strings{"a"});
  CHECK(view.version() == 2);
}

TEST_CASE("a later status of the same incarnation wins, an earlier one is stale") {
  membership view;
  view.update(m("a", 1, member_status::down));
  CHECK(!view.update(m("a", 1, member_status::up)));
  CHECK(view.find("a")->status == member_status::down);
}

TEST_CASE("a member's own later revision wins within its incarnation and status") {
  membership view;
  auto a = m("a", 1, member_status::up);
  view.update(a);
  auto digest = view.digest();
  a.services = {"ring.x"};
  a.revision = 1;
  CHECK(view.update(a));
  CHECK(view.digest() != digest); // peers see that they differ
  CHECK(view.find("a")->offers("ring.x"));
  auto older = m("a", 1, member_status::up); // stale gossip: revision 0
  CHECK(!view.update(older));
  CHECK(view.find("a")->offers("ring.x"));
  // Others declaring it down win over its revisions; a new incarnation
  // starts over.
  auto down = a;
  down.status = member_status::down;
  down.revision = 0;
  CHECK(view.update(down));
  CHECK(!view.update(a));
  CHECK(view.update(m("a", 2, member_status::joining)));
  CHECK(!view.find("a")->offers("ring.x"));
}

TEST_CASE("a restarted node's new incarnation replaces the old one, even when removed") {
  membership view;
  view.update(m("a", 1, member_status::up));
  view.update(m("a", 1, member_status::removed));
  CHECK(!view.update(m("a", 1, member_status::up))); // stale gossip: no resurrection
  CHECK(view.update(m("a", 2, member_status::joining, "127.0.0.1:4999")));
  CHECK(view.find("a")->incarnation == 2);
  CHECK(view.find("a")->endpoint == "127.0.0.1:4999");
  CHECK(!view.update(m("a", 1, member_status::up))); // the old one stays gone
}

TEST_CASE("views converge whatever order and grouping the updates arrive in") {
  std::vector<member> updates;
  for (auto name : {"a", "b", "c", "d", "e"}) {
    for (uint64_t inc : {1, 2}) {
      for (auto st : {member_status::joining, member_status::up,
                      member_status::leaving, member_status::down,
                      member_status::removed})
        updates.push_back(m(name, inc, st));
    }
  }
  // Leave some members mid-life so that the final view is not all "removed".
  updates.erase(std::remove_if(updates.begin(), updates.end(),
                               [](const member& x) {
                                 return (x.name == "b" || x.name == "d")
                                        && x.incarnation == 2
                                        && x.status > member_status::up;
                               }),
                updates.end());
  membership reference;
  reference.merge(updates);
  std::mt19937 rng{42};
  for (int round = 0; round < 50; ++round) {
    std::shuffle(updates.begin(), updates.end(), rng);
    // Three nodes see disjoint thirds, then gossip their views around.
    membership x, y, z;
    auto third = updates.size() / 3;
    x.merge({updates.begin(), updates.begin() + third});
    y.merge({updates.begin() + third, updates.begin() + 2 * third});
    z.merge({updates.begin() + 2 * third, updates.end()});
    x.merge(y.members());
    z.merge(x.members());
    y.merge(z.members());
    x.merge(y.members());
    REQUIRE(x.digest() == reference.digest());
    REQUIRE(y.digest() == reference.digest());
    REQUIRE(z.digest() == reference.digest());
  }
  CHECK(reference.up_members() == strings{"b", "d"});
}

TEST_CASE("the digest tells different views apart") {
  membership x, y;
  x.update(m("a", 1, member_status::up));
  y.update(m("a", 1, member_status::up));
  CHECK(x.digest() == y.digest());
  y.update(m("a", 1, member_status::down));
  CHECK(x.digest() != y.digest());
  membership z;
  z.update(m("ab", 1, member_status::up));
  membership w;
  w.update(m("a", 1, member_status::up, "b127.0.0.1:4900"));
  CHECK(z.digest() != w.digest());
}
