// Node processes (ringvisor-node) killed, stopped and terminated for real,
// observed by a node in this process. Loopback only, ephemeral ports.

#include <chrono>
#include <csignal>

#include <doctest/doctest.h>

#include "cluster/cluster_fixture.hpp"
#include "support/process.hpp"

using namespace ringvisor;
using namespace ringvisor::test;
using namespace std::chrono_literals;

namespace {

/// A ringvisor-node process that joined through `seed`.
struct node_process {
  process proc;
  std::string endpoint;

  node_process(const std::string& name, const std::string& seed)
    : proc({RINGVISOR_NODE_BIN, "--ringvisor.name=" + name,
            "--ringvisor.log-level=warn", "--scheduler.max-threads=2",
            "--ringvisor.seeds=[\"" + seed + "\"]"}) {
    auto line = proc.read_line("listening ", 10s);
    REQUIRE_MESSAGE(line, "node " << name << " did not start");
    endpoint = *line;
  }
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace

TEST_CASE("kill -9 of a node process: the others see it down within a second") {
  test_node a{"a", {}};
  node_process b{"b", a.endpoint()};
  node_process c{"c", a.endpoint()};
  await_view(a, {"a", "b", "c"});
  auto t0 = std::chrono::steady_clock::now();
  c.proc.signal(SIGKILL);
  await_view(a, {"a", "b"}, {"c"});
  auto detected = seconds_since(t0);
  MESSAGE("kill -9 detected after " << detected * 1000 << " ms");
  CHECK(detected < 1.0);
  // b saw it too: its own view, asked through its directory.
  CHECK(with_status(view_of(a, b.endpoint), cluster::member_status::down)
        == strings{"c"});
}

TEST_CASE("SIGSTOP: a hung node process is cut off, and rejoins as a new incarnation after SIGCONT") {
  test_node a{"a", {}};
  node_process b{"b", a.endpoint()};
  await_view(a, {"a", "b"});
  auto t0 = std::chrono::steady_clock::now();
  b.proc.signal(SIGSTOP);
  await_view(a, {"a"}, {"b"});
  auto detected = seconds_since(t0);
  MESSAGE("SIGSTOP detected after " << detected * 1000 << " ms");
  // middleman.connection-timeout (1 s) plus one heartbeat interval (200 ms).
  CHECK(detected < 1.5);
  auto downed = member_named(view_of(a, a.endpoint()), "b");
  REQUIRE(downed);
  // Resumed, b finds itself declared down and comes back as a new incarnation.
  b.proc.signal(SIGCONT);
  await_view(a, {"a", "b"});
  auto back = member_named(view_of(a, a.endpoint()), "b");
  REQUIRE(back);
  CHECK(back->incarnation > downed->incarnation);
}

TEST_CASE("SIGTERM: a node process leaves in order and exits cleanly") {
  test_node a{"a", {}};
  node_process b{"b", a.endpoint()};
  await_view(a, {"a", "b"});
  b.proc.signal(SIGTERM);
  await_view(a, {"a"}, {}, {"b"});
  auto status = b.proc.wait();
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
