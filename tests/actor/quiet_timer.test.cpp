// ringvisor's quiet timer: timeouts and delayed messages fire as with CAF's
// own clock, including a deadline earlier than the one the timer thread
// sleeps until, under both scheduler policies.

#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>
#include <typeinfo>

#include <caf/all.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>

#include "ringvisor/actor/scheduler.hpp"

using namespace std::chrono_literals;
using clk = std::chrono::steady_clock;

namespace {

using hold_atom = caf::atom_constant<caf::atom("hold")>;

// Answers ints; `hold` requests stay unanswered.
caf::behavior echo_or_hold(caf::event_based_actor* self) {
  return {
    [](int32_t x) { return x; },
    [self](hold_atom) { return self->make_response_promise<int32_t>(); },
  };
}

struct quiet_system {
  explicit quiet_system(const char* policy = "stealing") {
    cfg.set("scheduler.policy", caf::atom_from_string(policy));
    cfg.set("scheduler.max-threads", size_t{2});
    ringvisor::actor::use_quiet_timer(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
  }

  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
};

// Requests `hold` from `hdl` with `timeout`; returns whether it timed out.
bool times_out(caf::scoped_actor& self, const caf::actor& hdl, caf::timespan timeout) {
  bool timed_out = false;
  self->request(hdl, timeout, hold_atom::value)
    .receive([](int32_t) {}, [&](caf::error& err) { timed_out = err == caf::sec::request_timeout; });
  return timed_out;
}

// The same, checked; returns how long until the timeout error came.
clk::duration time_out(caf::scoped_actor& self, const caf::actor& hdl, caf::timespan timeout) {
  auto t0 = clk::now();
  CHECK(times_out(self, hdl, timeout));
  return clk::now() - t0;
}

} // namespace

TEST_CASE("systems with the quiet timer use it, under either policy") {
  for (auto policy : {"stealing", "sharing"}) {
    quiet_system q{policy};
    CHECK(typeid(q.sys->clock()) != typeid(caf::detail::thread_safe_actor_clock));
    auto hdl = q.sys->spawn(echo_or_hold);
    caf::scoped_actor self{*q.sys};
    auto d = time_out(self, hdl, 50ms);
    CHECK(d >= 50ms);
    CHECK(d < 2s);
    self->send_exit(hdl, caf::exit_reason::kill);
  }
}

TEST_CASE("an earlier deadline wakes a timer that sleeps until a later one") {
  quiet_system q;
  auto hdl = q.sys->spawn(echo_or_hold);
  caf::scoped_actor self{*q.sys};
  // The timer sleeps until this one, 30 s away.
  self->delayed_send(self, 30s, std::string{"late"});
  auto d = time_out(self, hdl, 50ms);
  CHECK(d >= 50ms);
  CHECK(d < 5s); // would be 30 s if nobody woke the timer
  self->send_exit(hdl, caf::exit_reason::kill);
}

TEST_CASE("delayed messages come in deadline order, and an early deadline fires among many later ones") {
  quiet_system q;
  auto hdl = q.sys->spawn(echo_or_hold);
  caf::scoped_actor self{*q.sys};
  // Their timeouts stay set (CAF 0.17 does not cancel a local request's
  // timeout when the answer comes) and outlive the test.
  for (int32_t i = 0; i < 2'000; ++i)
    self->request(hdl, 3600s, i).receive([&](int32_t x) { CHECK(x == i); },
                                         [](caf::error& err) { FAIL(caf::to_string(err)); });
  self->delayed_send(self, 300ms, std::string{"c"});
  self->delayed_send(self, 150ms, std::string{"b"});
  self->delayed_send(self, 10ms, std::string{"a"});
  std::string order;
  for (int i = 0; i < 3; ++i)
    self->receive([&](const std::string& x) { order += x; },
                  [&](caf::error& err) { FAIL("a stray " << caf::to_string(err)); },
                  caf::after(5s) >> [] { FAIL("a delayed message did not come"); });
  CHECK(order == "abc");
  // Among 2,000 later deadlines, an early one still fires on time.
  auto d = time_out(self, hdl, 50ms);
  CHECK(d >= 50ms);
  CHECK(d < 5s);
  self->send_exit(hdl, caf::exit_reason::kill);
}

TEST_CASE("an event-based actor's receive timeout fires, and a system with pending timers stops") {
  quiet_system q;
  caf::scoped_actor self{*q.sys};
  caf::actor me = self;
  auto t0 = clk::now();
  auto waiter = q.sys->spawn([me](caf::event_based_actor* s) -> caf::behavior {
    return {
      [](int32_t) {},
      caf::after(40ms) >> [s, me] {
        s->send(me, std::string{"idle"});
        s->quit();
      },
    };
  });
  self->receive([](const std::string& x) { CHECK(x == "idle"); },
                caf::after(5s) >> [] { FAIL("the receive timeout did not fire"); });
  CHECK(clk::now() - t0 >= 40ms);
  self->delayed_send(self, 1h, std::string{"never"}); // pending when the system stops
}

TEST_CASE("a delayed message that drops its sender's last reference does not stop the timer") {
  quiet_system q;
  auto receiver = q.sys->spawn([]() -> caf::behavior { return {[](int32_t) {}}; });
  // The sender lives on with nobody holding it but the delayed message; the
  // receiver is gone when it fires, so shipping it drops the sender's last
  // reference on the timer thread, and the sender's cleanup cancels its
  // timeouts on that thread.
  q.sys->spawn<caf::hidden>([receiver](caf::event_based_actor* s) -> caf::behavior {
    s->delayed_send(receiver, 20ms, int32_t{42});
    return {[](const std::string&) {}};
  });
  caf::anon_send_exit(receiver, caf::exit_reason::kill);
  receiver = nullptr;
  // A timeout set after it must still fire (a timer stuck on its own lock
  // would block this request, so it runs on a thread of its own).
  auto probe = std::async(std::launch::async, [&q] {
    caf::scoped_actor self{*q.sys};
    auto hdl = q.sys->spawn(echo_or_hold);
    auto timed_out = times_out(self, hdl, 200ms);
    self->send_exit(hdl, caf::exit_reason::kill);
    return timed_out;
  });
  if (probe.wait_for(10s) != std::future_status::ready) {
    std::fputs("FAILED: the timer is stuck\n", stderr); // doctest cannot report it:
    std::_Exit(EXIT_FAILURE);                             // the system cannot stop
  }
  CHECK(probe.get());
}
