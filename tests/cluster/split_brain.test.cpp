// The split-brain strategies as pure functions of a side.

#include <doctest/doctest.h>

#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/node_config.hpp"
#include "ringvisor/cluster/split_brain.hpp"

using namespace ringvisor;
using namespace ringvisor::cluster;

namespace {

using strings = std::vector<std::string>;

/// A side of `all` (names a, b, c, ... with incarnations in `ages` order,
/// oldest first by default) seen from `self`, missing `gone`.
side make_side(const std::string& self, const strings& all, const strings& gone,
               const std::vector<uint64_t>& ages = {}) {
  side s;
  s.self = self;
  for (size_t i = 0; i < all.size(); ++i)
    s.members.push_back(member{all[i], ages.empty() ? i + 1 : ages[i], "",
                               member_status::up, {}, {}, {}, 0});
  s.unreachable = gone;
  return s;
}

verdict majority(const side& s) {
  return judge(split_brain_strategy::keep_majority, 0, s);
}

} // namespace

TEST_CASE("keep-majority: the larger side wins, a tie goes to the lowest name") {
  strings five{"a", "b", "c", "d", "e"};
  CHECK(majority(make_side("c", five, {"a", "b"})) == verdict::yes);
  CHECK(majority(make_side("a", five, {"c", "d", "e"})) == verdict::split);
  CHECK(majority(make_side("a", five, {})) == verdict::yes);
  strings four{"a", "b", "c", "d"};
  CHECK(majority(make_side("a", four, {"c", "d"})) == verdict::yes);
  CHECK(majority(make_side("c", four, {"a", "b"})) == verdict::split);
  // Two nodes: the survivor of a crash of b carries on, b's survivor not.
  CHECK(majority(make_side("a", {"a", "b"}, {"b"})) == verdict::yes);
  CHECK(majority(make_side("b", {"a", "b"}, {"a"})) == verdict::split);
}

TEST_CASE("static-quorum: a side needs quorum members, and fewer in all is not yet a cluster") {
  strings five{"a", "b", "c", "d", "e"};
  auto quorum3 = [](const side& s) {
    return judge(split_brain_strategy::static_quorum, 3, s);
  };
  CHECK(quorum3(make_side("a", five, {"d", "e"})) == verdict::yes);
  CHECK(quorum3(make_side("d", five, {"a", "b", "c"})) == verdict::split);
  CHECK(quorum3(make_side("a", {"a", "b"}, {})) == verdict::no);
}

TEST_CASE("keep-oldest: the side of the oldest member wins, whatever its size") {
  strings five{"a", "b", "c", "d", "e"};
  std::vector<uint64_t> ages{50, 40, 30, 20, 10}; // e is the oldest
  auto oldest = [](const side& s) {
    return judge(split_brain_strategy::keep_oldest, 0, s);
  };
  CHECK(oldest(make_side("d", five, {"a", "b", "c"}, ages)) == verdict::yes);
  CHECK(oldest(make_side("a", five, {"d", "e"}, ages)) == verdict::split);
}

TEST_CASE("down-all: any unreachable member stops every side") {
  strings three{"a", "b", "c"};
  auto all = [](const side& s) { return judge(split_brain_strategy::down_all, 0, s); };
  CHECK(all(make_side("a", three, {})) == verdict::yes);
  CHECK(all(make_side("a", three, {"c"})) == verdict::split);
  CHECK(all(make_side("c", three, {"a", "b"})) == verdict::split);
}

TEST_CASE("strategy names parse back, and the node config accepts exactly them") {
  for (auto x : {split_brain_strategy::keep_majority, split_brain_strategy::static_quorum,
                 split_brain_strategy::keep_oldest, split_brain_strategy::down_all}) {
    split_brain_strategy y = split_brain_strategy::keep_majority;
    CHECK(!parse(to_string(x), y));
    CHECK(y == x);
    actor::node_config cfg;
    CHECK(!cfg.read({std::string{"--ringvisor.split-brain="} + to_string(x),
                     "--ringvisor.quorum=2"},
                    ""));
  }
  split_brain_strategy y = split_brain_strategy::keep_majority;
  auto err = parse("majority", y);
  CHECK(actor::render(err).find("unknown split-brain strategy 'majority'")
        != std::string::npos);
  actor::node_config cfg;
  auto cfg_err = cfg.read({"--ringvisor.split-brain=majority"}, "");
  CHECK(actor::render(cfg_err).find("ringvisor.split-brain: unknown strategy 'majority'")
        != std::string::npos);
  actor::node_config no_quorum;
  CHECK(no_quorum.read({"--ringvisor.split-brain=static-quorum"}, ""));
}
