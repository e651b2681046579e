// Node processes (ringvisor-node) killed, stopped, terminated, restarted and
// cut off from each other for real, observed from this process by a probe
// that is no cluster member. Loopback only, ephemeral ports.

#include <chrono>
#include <csignal>
#include <thread>

#include <doctest/doctest.h>

#include "support/cluster_kit.hpp"

using namespace ringvisor;
using namespace ringvisor::test;
using namespace std::chrono_literals;
using cluster::cluster_status;
using cluster::member_status;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// Starts `names` and waits until every node sees all of them up, in one view.
void start_converged(cluster_kit& kit, const strings& names,
                     std::chrono::milliseconds timeout = 10s) {
  kit.start_all(names);
  for (auto& name : names)
    kit.await_view(kit[name], names, {}, {}, timeout);
  kit.await_converged(names, timeout);
}

/// Checks for `window` (longer than the 1.2 s a link needs to drop) that no
/// node reports anyone down or itself split: an observation window for
/// something that must not happen.
void expect_nobody_downed(cluster_kit& kit, std::chrono::milliseconds window) {
  auto deadline = std::chrono::steady_clock::now() + window;
  while (std::chrono::steady_clock::now() < deadline) {
    for (auto& name : kit.running()) {
      auto r = kit.report(kit[name]);
      REQUIRE_MESSAGE(with_status(r.members, member_status::down).empty(),
                      name << ": " << to_string(r));
      REQUIRE_MESSAGE(r.status != cluster_status::split, name << ": " << to_string(r));
    }
    std::this_thread::sleep_for(100ms);
  }
}

} // namespace

TEST_CASE("kill -9 of a node process: the others see it down within a second") {
  cluster_kit kit;
  start_converged(kit, {"a", "b", "c"});
  auto t0 = std::chrono::steady_clock::now();
  kit["c"].kill9();
  kit.await_view(kit["a"], {"a", "b"}, {"c"});
  auto detected = seconds_since(t0);
  MESSAGE("kill -9 detected after " << detected * 1000 << " ms");
  CHECK(detected < 1.0);
  kit.await_view(kit["b"], {"a", "b"}, {"c"}, {}, 1s);
}

TEST_CASE("SIGSTOP: a hung node process is cut off, and rejoins as a new incarnation after SIGCONT") {
  cluster_kit kit;
  start_converged(kit, {"a", "b"});
  auto t0 = std::chrono::steady_clock::now();
  kit["b"].stop();
  kit.await_view(kit["a"], {"a"}, {"b"});
  auto detected = seconds_since(t0);
  MESSAGE("SIGSTOP detected after " << detected * 1000 << " ms");
  // Expected: suspect-after / connection-timeout (1 s) plus a heartbeat tick
  // (200 ms); the bound leaves room for a loaded CI machine.
  CHECK(detected < 2.5);
  auto downed = member_named(kit.view_of(kit["a"]), "b");
  REQUIRE(downed);
  // Asking the hung node itself fails after the probe's timeouts, no hang.
  auto t1 = std::chrono::steady_clock::now();
  CHECK(!kit.probe().report(kit["b"].endpoint()));
  MESSAGE("asking the stopped node failed after " << seconds_since(t1) * 1000 << " ms");
  CHECK(seconds_since(t1) < 4.0); // two probe timeouts of 1 s, plus slack
  // Resumed, b finds itself declared down and comes back as a new incarnation.
  kit["b"].cont();
  kit.await_view(kit["a"], {"a", "b"});
  kit.await_converged();
  auto back = member_named(kit.view_of(kit["a"]), "b");
  REQUIRE(back);
  CHECK(back->incarnation > downed->incarnation);
}

TEST_CASE("SIGTERM: a node process leaves in order and exits cleanly") {
  cluster_kit kit;
  start_converged(kit, {"a", "b"});
  CHECK(kit["b"].terminate() == 0);
  // b waited for a's acknowledgement before it exited.
  kit.await_view(kit["a"], {"a"}, {}, {"b"}, 1s);
}

TEST_CASE("3 nodes converge to the same view") {
  cluster_kit kit;
  auto t0 = std::chrono::steady_clock::now();
  start_converged(kit, {"a", "b", "c"});
  MESSAGE("3 nodes started and converged after " << seconds_since(t0) * 1000 << " ms");
  CHECK(kit.views_converged());
  for (auto& name : kit.running())
    kit.await_status(kit[name], cluster_status::up); // linked to all, same view
}

TEST_CASE("5 nodes converge to the same view") {
  cluster_kit kit;
  auto t0 = std::chrono::steady_clock::now();
  start_converged(kit, {"a", "b", "c", "d", "e"});
  MESSAGE("5 nodes started and converged after " << seconds_since(t0) * 1000 << " ms");
  CHECK(kit.views_converged());
  for (auto& name : kit.running())
    kit.await_status(kit[name], cluster_status::up); // linked to all, same view
}

TEST_CASE("consensus=3 holds nodes in starting until the third node joins") {
  cluster_kit kit;
  node_options opts;
  opts.consensus = 3;
  kit.start_all({"a", "b"}, opts);
  for (auto& name : {"a", "b"})
    kit.await_view(kit[name], {"a", "b"});
  // Both see each other up, and stay starting.
  std::this_thread::sleep_for(300ms);
  for (auto& name : {"a", "b"})
    CHECK(kit.report(kit[name]).status == cluster_status::starting);
  kit.start("c", opts);
  for (auto& name : {"a", "b", "c"})
    kit.await_status(kit[name], cluster_status::up);
  kit.await_converged();
}

TEST_CASE("restart with the same name replaces the old incarnation") {
  cluster_kit kit;
  start_converged(kit, {"a", "b", "c"});
  auto& c = kit["c"];
  auto old = member_named(kit.view_of(kit["a"]), "c");
  REQUIRE(old);
  auto old_port = c.port();
  c.kill9();
  kit.await_view(kit["a"], {"a", "b"}, {"c"});
  c.restart();
  MESSAGE("c restarted on port " << c.port() << " (was " << old_port << ")");
  for (auto& name : {"a", "b", "c"})
    kit.await_view(kit[name], {"a", "b", "c"});
  kit.await_converged();
  auto now = member_named(kit.view_of(kit["b"]), "c");
  REQUIRE(now);
  CHECK(now->incarnation > old->incarnation);
  CHECK(now->endpoint == c.endpoint());
}

TEST_CASE("partition 2|3 under keep-majority: the two report split, the three down them, the heal makes one view") {
  if (skip_without_partitions())
    return;
  cluster_kit kit;
  strings minority{"a", "b"};
  strings majority{"c", "d", "e"};
  strings all{"a", "b", "c", "d", "e"};
  start_converged(kit, all);
  auto before = kit.view_of(kit["a"]);
  partition cut{kit, minority, majority};
  auto t0 = std::chrono::steady_clock::now();
  for (auto& name : majority)
    kit.await(kit[name], "majority downs a and b and stays up", [&](const node_report& r) {
      return r.status == cluster_status::up
             && with_status(r.members, member_status::up) == majority
             && with_status(r.members, member_status::down) == minority;
    }, 5s);
  MESSAGE("majority downed the minority after " << seconds_since(t0) * 1000 << " ms");
  for (auto& name : minority) {
    kit.await_status(kit[name], cluster_status::split, 5s);
    // A losing side downs nobody: the others are unreachable, not down.
    CHECK(with_status(kit.view_of(kit[name]), member_status::up) == all);
  }
  auto t1 = std::chrono::steady_clock::now();
  cut.heal();
  for (auto& name : kit.running())
    kit.await_view(kit[name], all, {}, {}, 15s);
  kit.await_converged({}, 5s);
  MESSAGE("healed into one view after " << seconds_since(t1) * 1000 << " ms");
  for (auto& name : kit.running())
    kit.await_status(kit[name], cluster_status::up, 5s);
  // Nobody keeps the old word "a and b are unreachable": cutting one link
  // of the healed cluster downs nobody.
  {
    partition glitch{kit, {"a"}, {"d"}};
    expect_nobody_downed(kit, 2500ms);
  }
  // The minority came back as new incarnations; the majority kept theirs.
  auto after = kit.view_of(kit["c"]);
  for (auto& name : all) {
    auto was = member_named(before, name);
    auto now = member_named(after, name);
    REQUIRE((was && now));
    bool in_minority = name == "a" || name == "b";
    CHECK_MESSAGE((now->incarnation > was->incarnation) == in_minority, name);
  }
}

TEST_CASE("one broken link downs nobody: both ends still reach the rest") {
  if (skip_without_partitions())
    return;
  cluster_kit kit;
  start_converged(kit, {"a", "b", "c"});
  partition cut{kit, {"a"}, {"b"}}; // c still talks to both
  expect_nobody_downed(kit, 2500ms);
  cut.heal();
  kit.await_converged({}, 5s);
}

TEST_CASE("a malformed seed stops ringvisor-node at start with exit code 1") {
  process node{{RINGVISOR_NODE_BIN, "--ringvisor.name=a",
                "--ringvisor.seeds=[\"127.0.0.1:4900\",\"[foo]:4900\"]"}};
  CHECK(!node.read_line("listening ", std::chrono::seconds{10}));
  auto status = node.wait();
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
}
