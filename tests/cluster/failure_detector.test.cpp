// The agent's failure detector on fake time: phi accrual over a peer's
// pings, and this node's own lateness as extra patience.

#include <cmath>

#include <doctest/doctest.h>

#include "failure_detector.hpp"

using namespace std::chrono_literals;
using ringvisor::cluster::detail::failure_detector;
using time_point = failure_detector::time_point;

namespace {

// A peer that pings every `every`; this node ticks every 200 ms, on time.
struct fixture {
  failure_detector fd{200ms, 1s};
  time_point now = time_point{} + 1h;

  void steady(const std::string& peer, int pings, std::chrono::milliseconds every = 200ms) {
    for (int i = 0; i < pings; ++i) {
      fd.heartbeat(peer, now);
      fd.tick(now);
      now += every;
    }
  }

  // The silence after which `peer` is first suspected, in 1 ms steps.
  std::chrono::milliseconds detection(const std::string& peer) {
    auto last = now - 200ms; // the last ping of `steady`
    for (auto t = last; t < last + 1h; t += 1ms)
      if (fd.suspect(peer, t))
        return std::chrono::duration_cast<std::chrono::milliseconds>(t - last);
    return 1h;
  }
};

} // namespace

TEST_CASE_FIXTURE(fixture, "a steady peer is suspected after suspect-after of silence") {
  steady("b", 50);
  auto d = detection("b");
  CHECK(d >= 990ms);
  CHECK(d <= 1010ms);
  CHECK(fd.phi("b", now - 200ms + 500ms) < 1.0);
  CHECK(fd.phi("b", now - 200ms + 2s) > failure_detector::threshold);
}

TEST_CASE_FIXTURE(fixture, "phi grows with the silence and stays finite however long it lasts") {
  steady("b", 50);
  auto last = now - 200ms;
  double before = 0;
  for (auto silence : {1s, 2s, 3s, 10s, 60s, 3600s}) {
    auto phi = fd.phi("b", last + silence);
    CAPTURE(silence.count());
    CHECK(std::isfinite(phi));
    CHECK(phi > before);
    before = phi;
  }
}

TEST_CASE_FIXTURE(fixture, "a peer never heard is not suspected") {
  CHECK(!fd.suspect("x", now + 1h));
  CHECK(fd.phi("x", now + 1h) == 0.0);
}

TEST_CASE_FIXTURE(fixture, "a peer whose pings jitter gets more patience") {
  for (int i = 0; i < 60; ++i) {
    fd.heartbeat("b", now);
    fd.tick(now);
    now += (i % 2 == 0) ? 50ms : 350ms; // mean 200 ms, deviation 150 ms
  }
  fd.heartbeat("b", now);
  now += 200ms;
  CHECK(detection("b") > 1500ms);
}

TEST_CASE_FIXTURE(fixture, "this node running late adds its lateness to the patience") {
  steady("b", 50);
  // our own timer fires 400 ms late: our scheduler is starved
  now += 400ms;
  fd.heartbeat("b", now - 400ms);
  fd.tick(now);
  CHECK(fd.local_lateness() >= 390ms);
  auto last = now - 400ms;
  CHECK(!fd.suspect("b", last + 1200ms));
  CHECK(fd.suspect("b", last + 1500ms));
}

TEST_CASE_FIXTURE(fixture, "a pause of this node longer than suspect-after adds no patience") {
  steady("b", 10);
  now += 5s; // SIGSTOP: the lease logic handles it
  fd.tick(now);
  CHECK(fd.local_lateness() == failure_detector::duration::zero());
}

TEST_CASE_FIXTURE(fixture, "lateness is forgotten after a while") {
  steady("b", 10);
  now += 300ms;
  fd.tick(now);
  CHECK(fd.local_lateness() > 250ms);
  steady("b", 60); // 12 s on time
  CHECK(fd.local_lateness() == failure_detector::duration::zero());
}

TEST_CASE_FIXTURE(fixture, "an outage of a peer is not taken for jitter") {
  steady("b", 50);
  now += 5s; // the peer was stopped, then resumes
  steady("b", 5);
  auto d = detection("b");
  CHECK(d <= 1010ms);
}
