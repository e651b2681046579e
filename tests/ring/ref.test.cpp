// ring::ref against a stand-in ring supervisor in this process: typed
// replies, asking again while a child moves (under one request id, from a
// thread and from an actor), and when it must not ask again.

#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include <caf/all.hpp>

#include "protocol.hpp"
#include "ringvisor/ring/ref.hpp"
#include "ringvisor/ring/types.hpp"

using namespace ringvisor;
using namespace std::chrono_literals;

namespace {

using inc_atom = caf::atom_constant<caf::atom("inc")>;

/// What the stand-in saw.
struct seen {
  std::mutex mtx;
  int calls = 0;
  std::set<uint64_t> request_ids;
};

/// How the stand-in answers the n-th call (from 0).
using answer_fn = std::function<caf::message(int n)>;

/// A ring supervisor that answers the n-th start or call with `answer(n)`:
/// an error, or for a call the reply (for a start, a placement).
caf::behavior stand_in(caf::event_based_actor* self, const std::shared_ptr<seen>& log,
                       const answer_fn& answer) {
  auto respond = [self, log, answer](uint64_t request, const caf::message& done) {
    int n = 0;
    {
      std::lock_guard<std::mutex> guard{log->mtx};
      n = log->calls++;
      log->request_ids.insert(request);
    }
    auto reply = answer(n);
    auto rp = self->make_response_promise();
    if (reply.match_elements<caf::error>())
      rp.deliver(reply.get_as<caf::error>(0));
    else
      rp.deliver(done.empty() ? reply : done);
  };
  return {
    [respond](ring::ring_start_atom, const supervision::child_spec&) {
      respond(0, caf::make_message(ring::placement{"here", 1}));
    },
    [respond](ring::ring_call_atom, uint64_t request, const std::string&, const caf::message&,
              uint8_t) { respond(request, {}); },
  };
}

caf::message moving() {
  return caf::make_message(
    supervision::make_error(supervision::errc::no_owner, "counters", "x", "moving"));
}

caf::message not_up() {
  return caf::make_message(
    supervision::make_error(supervision::errc::no_owner, "counters", "x", ring::not_up_reason));
}

caf::message split_off() {
  return caf::make_message(
    supervision::make_error(supervision::errc::no_owner, "counters", "x", ring::split_off_reason));
}

struct fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::shared_ptr<seen> log = std::make_shared<seen>();

  fixture() {
    ring::add_types(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
  }

  ring::ref ref_to(answer_fn answer) {
    return {*sys, sys->spawn(stand_in, log, std::move(answer))};
  }

  /// Calls `x` on `r` from an actor; returns the count or the error.
  template <class R = int64_t>
  caf::expected<R> call_from_actor(const ring::ref& r) {
    auto result = std::make_shared<std::promise<caf::expected<R>>>();
    sys->spawn([r, result](caf::event_based_actor* self) {
      r.call<R>(self, "x", inc_atom::value)
        .then([result](R x) { result->set_value(std::move(x)); },
              [result](caf::error& err) { result->set_value(std::move(err)); });
    });
    auto answer = result->get_future();
    REQUIRE(answer.wait_for(10s) == std::future_status::ready);
    return answer.get();
  }
};

} // namespace

TEST_CASE_FIXTURE(fixture, "a call asks again while its child moves, under one request id") {
  auto r = ref_to([](int n) { return n < 2 ? moving() : caf::make_message(int64_t{42}); });
  SUBCASE("from a thread") {
    auto x = r.call<int64_t>("x", inc_atom::value);
    REQUIRE(x);
    CHECK(*x == 42);
  }
  SUBCASE("from an actor") {
    auto x = call_from_actor(r);
    REQUIRE(x);
    CHECK(*x == 42);
  }
  CHECK(log->calls == 3);
  CHECK(log->request_ids.size() == 1);
}

TEST_CASE_FIXTURE(fixture, "an actor that calls a moving child goes on handling messages") {
  auto r = ref_to([](int n) { return n < 5 ? moving() : caf::make_message(int64_t{42}); });
  auto order = std::make_shared<std::promise<std::string>>();
  auto caller = sys->spawn([r, order](caf::event_based_actor* self) -> caf::behavior {
    auto seen = std::make_shared<std::string>();
    return {
      [=](inc_atom) {
        r.call<int64_t>(self, "x", inc_atom::value)
          .then(
            [=](int64_t) {
              *seen += "reply";
              order->set_value(*seen);
            },
            [=](caf::error& err) { order->set_value(actor::render(err)); });
      },
      [=](caf::get_atom) { *seen += "get "; },
    };
  });
  caf::anon_send(caller, inc_atom::value);
  // The child moves for five attempts, 20 ms apart: the get comes first.
  std::this_thread::sleep_for(30ms);
  caf::anon_send(caller, caf::get_atom::value);
  auto answer = order->get_future();
  REQUIRE(answer.wait_for(10s) == std::future_status::ready);
  CHECK(answer.get() == "get reply");
  caf::anon_send_exit(caller, caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(fixture, "the retries of a call stop with the actor that made it") {
  auto r = ref_to([](int) { return moving(); }).within(10s);
  auto started = std::make_shared<std::promise<void>>();
  sys->spawn([r, started](caf::event_based_actor* self) {
    r.call<int64_t>(self, "x", inc_atom::value).then([](int64_t) {}, [](caf::error&) {});
    // Gone once the first retry runs; nobody reads the answer any more.
    self->delayed_send(self, 100ms, caf::ok_atom::value);
    self->become([self, started](caf::ok_atom) {
      started->set_value();
      self->quit();
    });
  });
  REQUIRE(started->get_future().wait_for(10s) == std::future_status::ready);
  std::this_thread::sleep_for(100ms); // the courier hears of it
  auto calls = [this] {
    std::lock_guard<std::mutex> guard{log->mtx};
    return log->calls;
  };
  auto before = calls();
  CHECK(before > 1);
  std::this_thread::sleep_for(200ms); // ten retry pauses
  CHECK(calls() == before);
}

TEST_CASE_FIXTURE(fixture, "a node that is not up yet is waited for, by calls and changes") {
  auto r = ref_to([](int n) { return n % 3 < 2 ? not_up() : caf::make_message(int64_t{42}); });
  auto x = r.call<int64_t>("x", inc_atom::value);
  REQUIRE(x);
  CHECK(*x == 42);
  supervision::child_spec spec;
  spec.id = "x";
  spec.type = "counter";
  auto where = r.start_child(spec);
  REQUIRE(where);
  CHECK(where->node == "here");
  CHECK(log->calls == 6);
}

TEST_CASE_FIXTURE(fixture, "a reply of another type is an error, not a misread") {
  auto r = ref_to([](int) { return caf::make_message(std::string{"forty-two"}); });
  CHECK(r.call<int64_t>("x", inc_atom::value).error() == caf::sec::unexpected_response);
  CHECK(call_from_actor(r).error() == caf::sec::unexpected_response);
  auto whole = r.call<caf::message>("x", inc_atom::value);
  REQUIRE(whole);
  CHECK(whole->get_as<std::string>(0) == "forty-two");
  CHECK(call_from_actor<std::string>(r) == std::string{"forty-two"});
}

TEST_CASE_FIXTURE(fixture, "a refusal for now or a final error is not asked again") {
  SUBCASE("split off") {
    auto r = ref_to([](int) { return split_off(); });
    CHECK(r.call<int64_t>("x", inc_atom::value).error() == supervision::errc::no_owner);
    CHECK(call_from_actor(r).error() == supervision::errc::no_owner);
  }
  SUBCASE("not found") {
    auto r = ref_to([](int) {
      return caf::make_message(supervision::make_error(supervision::errc::not_found, "x"));
    });
    CHECK(r.call<int64_t>("x", inc_atom::value).error() == supervision::errc::not_found);
    CHECK(call_from_actor(r).error() == supervision::errc::not_found);
  }
  CHECK(log->calls == 2);
}

TEST_CASE_FIXTURE(fixture,
                  "a child that keeps moving fails the call at its timeout with the reason") {
  auto r = ref_to([](int) { return moving(); }).within(200ms);
  CHECK(r.call<int64_t>("x", inc_atom::value).error() == supervision::errc::no_owner);
  auto asked = log->calls;
  CHECK(asked > 2);
  CHECK(call_from_actor(r).error() == supervision::errc::no_owner);
  CHECK(log->calls > asked + 2);
}

TEST_CASE_FIXTURE(fixture, "a change that lost its owner on the way is not made twice") {
  // The member passed the start on to the owner, which died: it may have
  // been made, so asking again could find it present and say so.
  auto r =
    ref_to([](int) { return caf::make_message(caf::make_error(caf::sec::request_receiver_down)); });
  CHECK(r.start_child("x", "counter").error() == caf::sec::request_receiver_down);
  auto from_actor = std::make_shared<std::promise<caf::error>>();
  sys->spawn([r, from_actor](caf::event_based_actor* self) {
    r.start_child(self, supervision::child_spec{"x", "counter", {}, {}, {}, {}, {}, {}})
      .then([from_actor](ring::placement&) { from_actor->set_value(caf::error{}); },
            [from_actor](caf::error& err) { from_actor->set_value(std::move(err)); });
  });
  auto err = from_actor->get_future();
  REQUIRE(err.wait_for(10s) == std::future_status::ready);
  CHECK(err.get() == caf::sec::request_receiver_down);
  CHECK(log->calls == 2);
}

TEST_CASE_FIXTURE(fixture, "a ref that reaches nothing fails") {
  ring::ref nothing;
  CHECK(nothing.call<int64_t>("x", inc_atom::value).error() == caf::sec::invalid_argument);
  CHECK(!call_from_actor(nothing));
}
