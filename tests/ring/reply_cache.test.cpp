// The ring manager's exactly-once answers, as plain code: a retried request
// runs once, joins the run in progress or gets the cached reply; the cache is
// bounded; failed waiters lose late replies; replies move with the child.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <caf/all.hpp>

#include "reply_cache.hpp"

using namespace ringvisor::ring;

namespace {

using cache = reply_cache<std::string>;

int32_t value_of(const recent_reply* r) {
  REQUIRE(r != nullptr);
  return r->reply.get_as<int32_t>(0);
}

} // namespace

TEST_CASE("a request runs once: a retry joins the run, a later one gets its reply") {
  cache c;
  CHECK(c.admit(7, "first") == cache::verdict::run);
  CHECK(c.admit(7, "retry while running") == cache::verdict::joined);
  CHECK(c.admit(8, "another request") == cache::verdict::run);
  CHECK(!c.idle());
  auto waiters = c.finish(7, caf::make_message(int32_t{42}), {});
  CHECK(waiters == std::vector<std::string>{"first", "retry while running"});
  CHECK(c.admit(7, "retry after") == cache::verdict::answered);
  CHECK(value_of(c.cached(7)) == 42);
  CHECK(c.finish(8, {}, caf::make_error(caf::sec::request_timeout))
        == std::vector<std::string>{"another request"});
  CHECK(c.admit(8, "retry of a failure") == cache::verdict::answered); // errors too
  CHECK(c.cached(8)->error == caf::sec::request_timeout);
  CHECK(c.idle());
}

TEST_CASE("the cache keeps the newest replies only") {
  cache c;
  for (uint64_t id = 1; id <= cache::capacity + 6; ++id) {
    REQUIRE(c.admit(id, "w") == cache::verdict::run);
    c.finish(id, caf::make_message(static_cast<int32_t>(id)), {});
  }
  for (uint64_t id = 1; id <= 6; ++id)
    CHECK(c.cached(id) == nullptr);
  for (uint64_t id = 7; id <= cache::capacity + 6; ++id)
    CHECK(value_of(c.cached(id)) == static_cast<int32_t>(id));
  CHECK(c.replies().size() == cache::capacity);
  // the next owner gets them oldest first, and keeps the order
  auto xs = c.replies();
  for (size_t i = 0; i < xs.size(); ++i)
    CHECK(xs[i].request == i + 7);
  cache next;
  next.restore(xs);
  REQUIRE(next.admit(1000, "w") == cache::verdict::run);
  next.finish(1000, caf::make_message(int32_t{1000}), {});
  auto ys = next.replies();
  CHECK(ys.front().request == 8);
  CHECK(ys.back().request == 1000);
}

TEST_CASE("failed waiters are taken, and the late reply of their request is dropped") {
  cache c;
  c.admit(1, "a");
  c.admit(1, "b");
  c.admit(2, "c");
  auto failed = c.take_waiters();
  CHECK(failed.size() == 3);
  CHECK(c.idle());
  CHECK(c.finish(1, caf::make_message(int32_t{1}), {}).empty());
  CHECK(c.cached(1) == nullptr);
  CHECK(c.admit(1, "retry") == cache::verdict::run); // it may run again: nobody got a reply
}

TEST_CASE("replies move with the child: the next owner answers retries from them") {
  cache old_owner;
  for (uint64_t id = 1; id <= 3; ++id) {
    old_owner.admit(id, "w");
    old_owner.finish(id, caf::make_message(static_cast<int32_t>(10 * id)), {});
  }
  cache new_owner;
  new_owner.restore(old_owner.replies());
  CHECK(new_owner.admit(2, "retry at the new owner") == cache::verdict::answered);
  CHECK(value_of(new_owner.cached(2)) == 20);
  CHECK(new_owner.admit(4, "new") == cache::verdict::run);
  std::vector<recent_reply> too_many(cache::capacity + 10);
  for (size_t i = 0; i < too_many.size(); ++i)
    too_many[i].request = i;
  new_owner.restore(too_many);
  CHECK(new_owner.replies().size() == cache::capacity);
  CHECK(new_owner.cached(9) == nullptr); // the oldest went
  CHECK(new_owner.cached(10) != nullptr);
}
