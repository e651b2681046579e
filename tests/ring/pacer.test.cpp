// The ring manager's pacing of starts and moves, as plain code: at most
// `limit` keys active, the rest in arrival order, each once.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "pacer.hpp"

using ringvisor::ring::pacer;

TEST_CASE("at most `limit` keys go at once, and the rest follow in arrival order, each once") {
  pacer<std::string> p{2};
  CHECK(p.admit("a"));
  CHECK(p.admit("b"));
  CHECK(!p.admit("c"));
  CHECK(!p.admit("d"));
  CHECK(!p.admit("c")); // asks again: still waits, once
  CHECK(p.admit("a"));  // active already: goes
  CHECK(p.active() == 2);
  CHECK(p.waiting() == 2);
  CHECK(!p.next()); // no room
  CHECK(p.finish("a"));
  CHECK(!p.finish("a")); // not active any more
  CHECK(p.next() == std::optional<std::string>{"c"});
  CHECK(!p.next());
  CHECK(p.finish("b"));
  CHECK(p.next() == std::optional<std::string>{"d"});
  CHECK(p.waiting() == 0);
}

TEST_CASE("a waiting key that went through `admit` meanwhile is passed over") {
  pacer<std::string> p{2};
  CHECK(p.admit("a"));
  CHECK(p.admit("b"));
  CHECK(!p.admit("c"));
  CHECK(!p.admit("d"));
  CHECK(p.finish("a"));
  CHECK(p.admit("d")); // room: d goes now, and still has its place in the line
  CHECK(p.finish("b"));
  CHECK(p.next() == std::optional<std::string>{"c"});
  CHECK(p.finish("c"));
  CHECK(!p.next()); // d's old place is passed over: it is active
  CHECK(p.active() == 1);
  CHECK(p.finish("d"));
}

TEST_CASE("keys queued with `enqueue` go by `next`, and `clear` forgets everything") {
  pacer<std::pair<std::string, uint64_t>> p{2};
  for (uint64_t gen = 1; gen <= 5; ++gen)
    p.enqueue({"child", gen});
  std::vector<uint64_t> started;
  while (auto k = p.next())
    started.push_back(k->second);
  CHECK(started == std::vector<uint64_t>{1, 2});
  p.finish({"child", 1});
  CHECK(p.next()->second == 3);
  p.clear();
  CHECK(p.active() == 0);
  CHECK(p.waiting() == 0);
  CHECK(!p.next());
}
