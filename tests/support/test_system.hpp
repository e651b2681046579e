#pragma once

// A CAF actor system under the deterministic test coordinator, for unit
// tests of actor logic: nothing runs until the test calls `run()`, and time
// only moves with `advance_time()`.

#include <chrono>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>
#include <doctest/doctest.h>

#include "ringvisor/actor/errc.hpp"
#include "support/printers.hpp"

namespace ringvisor::test {

/// Holds a configuration whose scheduler is the test coordinator.
struct test_config : caf::actor_system_config {
  template <class... AddTypes>
  explicit test_config(AddTypes... add_types) {
    set("scheduler.policy", caf::atom("testing"));
    set("logger.inline-output", true);
    (add_types(*this), ...);
  }
};

/// An actor system plus a scoped actor for driving requests.
class test_system {
public:
  template <class... AddTypes>
  explicit test_system(AddTypes... add_types)
    : cfg_(add_types...),
      sys_(cfg_),
      sched_(dynamic_cast<caf::scheduler::test_coordinator&>(sys_.scheduler())),
      self_(sys_, true) {
    // nop
  }

  /// Fires pending timeouts so that delayed messages release the actors
  /// they hold; otherwise `~actor_system` would wait for them forever.
  /// Actors still running after that were left behind by a test that
  /// stopped early (a failed REQUIRE): they are abandoned, so that the test
  /// fails at once instead of hanging until ctest's timeout.
  ~test_system() {
    run();
    for (int i = 0; i < 100 && sched_.trigger_timeouts() > 0; ++i)
      run();
    if (auto left = sys_.registry().running(); left > 0) {
      MESSAGE(left << " actor(s) still running at the end of the test: not awaited");
      sys_.await_actors_before_shutdown(false);
    }
  }

  caf::actor_system& sys() {
    return sys_;
  }

  caf::scoped_actor& self() {
    return self_;
  }

  /// Runs every runnable actor until none is left.
  void run() {
    sched_.run();
  }

  /// Advances the clock by `d`, fires due timeouts, and runs.
  void advance_time(caf::timespan d) {
    sched_.advance_time(d);
    run();
  }

  /// Fires every pending timeout regardless of time, then runs.
  void trigger_timeouts() {
    sched_.trigger_timeouts();
    run();
  }

  /// Sends a request, runs the system and returns the reply, which must be
  /// in the mailbox by then.
  template <class T, class... Ts>
  caf::expected<T> request(const caf::actor& dest, Ts&&... xs) {
    auto hdl = self_->request(dest, caf::infinite, std::forward<Ts>(xs)...);
    run();
    return receive_reply<T>(hdl);
  }

  /// Returns the reply to `hdl` if it arrived, else an error.
  template <class T, class Handle>
  caf::expected<T> receive_reply(Handle& hdl) {
    if (self_->mailbox().empty())
      return caf::make_error(caf::sec::request_timeout, "no reply yet");
    caf::expected<T> result{caf::error{}};
    hdl.receive([&](T& x) { result = std::move(x); },
                [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  /// Returns whether `hdl` terminated, and with which reason, if it did.
  bool is_down(const caf::actor& hdl, caf::error* reason = nullptr) {
    self_->monitor(hdl);
    run();
    bool down = false;
    self_->receive([&](caf::down_msg& dm) {
                     down = true;
                     if (reason)
                       *reason = dm.reason;
                   },
                   caf::after(std::chrono::seconds{0}) >> [] {});
    self_->demonitor(hdl);
    return down;
  }

private:
  test_config cfg_;
  caf::actor_system sys_;
  caf::scheduler::test_coordinator& sched_;
  caf::scoped_actor self_;
};

} // namespace ringvisor::test

/// Lets doctest print errors in failed checks.
namespace caf {
inline doctest::String toString(const caf::error& x) {
  return ringvisor::actor::render(x).c_str();
}
} // namespace caf
