// Cross-node benchmarks over real TCP on loopback, printed as tables (see
// docs/benchmarks.md). The bench starts two more copies of itself as node
// processes (`--serve`), each with an "echo" actor in its node directory,
// and one node in this process; all three run cluster agents.
//
//   1. request/response to the echo on another node: latency of 10,000
//      sequential requests (after 2,000 warm-up), and throughput with K
//      callers in a closed loop for 3 s (Erlang's gen_server:call anchor);
//   2. multicall of the echo on all three nodes, 2,000 sequential calls.
//
// Usage: cluster_bench [options for every node, e.g. --scheduler.max-threads=2]

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "ringvisor/actor/directory.hpp"
#include "ringvisor/actor/wire.hpp"
#include "ringvisor/actor/all.hpp"
#include "ringvisor/cluster/agent.hpp"
#include "ringvisor/cluster/calls.hpp"
#include "bench_util.hpp"
#include "support/process.hpp"

using namespace ringvisor;
using namespace std::chrono_literals;
using ringvisor::bench::clk;
using ringvisor::bench::percentile;
using ringvisor::bench::us;

namespace {

using ping_atom = caf::atom_constant<caf::atom("ping")>;

caf::behavior echo(caf::event_based_actor*) {
  return {[](ping_atom, int64_t x) { return x; }};
}

std::unique_ptr<actor::node> start_node(actor::node_config& cfg,
                                        std::vector<std::string> args) {
  cluster::add_types(cfg);
  args.push_back("--ringvisor.log-level=warn");
  if (auto err = cfg.read(args, "")) {
    std::fprintf(stderr, "cluster_bench: %s\n", actor::render(err).c_str());
    std::exit(EXIT_FAILURE);
  }
  auto node = actor::node::start(cfg);
  if (!node) {
    std::fprintf(stderr, "cluster_bench: %s\n", actor::render(node.error()).c_str());
    std::exit(EXIT_FAILURE);
  }
  return std::move(*node);
}

void register_echo(actor::node& node) {
  auto hdl = node.system().spawn(echo);
  node.adopt(hdl);
  caf::anon_send(node.directory(), caf::put_atom::value, std::string{"echo"}, hdl);
}

int serve(std::vector<std::string> args) {
  actor::node_config cfg;
  auto node = start_node(cfg, std::move(args));
  register_echo(*node);
  if (!cluster::start_agent(*node))
    return EXIT_FAILURE;
  std::printf("listening %s\n", node->identity().endpoint().c_str());
  std::fflush(stdout);
  actor::node::await_signal();
  node->shutdown();
  return 0;
}

caf::actor remote_echo(actor::node& node, const std::string& endpoint) {
  auto dir = actor::remote_directory(node.system(), endpoint, 5s);
  caf::scoped_actor self{node.system()};
  caf::actor result;
  self->request(*dir, 5s, caf::get_atom::value, std::string{"echo"})
    .receive([&](caf::actor& x) { result = x; }, [](caf::error&) {});
  return result;
}

void request_latency(actor::node& node, const caf::actor& target) {
  caf::scoped_actor self{node.system()};
  std::vector<double> samples;
  for (int64_t i = 0; i < 12'000; ++i) {
    auto t0 = clk::now();
    self->request(target, 5s, ping_atom::value, i)
      .receive([](int64_t) {}, [](caf::error&) { std::exit(EXIT_FAILURE); });
    if (i >= 2'000)
      samples.push_back(us(clk::now() - t0));
  }
  std::printf("| remote request latency | p50 %.1f us, p99 %.1f us, p99.9 %.1f us |\n",
              percentile(samples, 0.5), percentile(samples, 0.99),
              percentile(samples, 0.999));
}

void request_throughput(actor::node& node, const caf::actor& target, int callers) {
  std::atomic<bool> stop{false};
  std::atomic<int64_t> done{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < callers; ++c)
    threads.emplace_back([&] {
      caf::scoped_actor self{node.system()};
      int64_t n = 0;
      while (!stop) {
        self->request(target, 5s, ping_atom::value, n)
          .receive([](int64_t) {}, [](caf::error&) {});
        ++n;
      }
      done += n;
    });
  auto t0 = clk::now();
  std::this_thread::sleep_for(3s);
  stop = true;
  for (auto& t : threads)
    t.join();
  auto secs = std::chrono::duration<double>(clk::now() - t0).count();
  std::printf("| remote throughput, %d caller%s | %.0f requests/s |\n", callers,
              callers == 1 ? "" : "s", static_cast<double>(done) / secs);
}

void multicall_latency(actor::node& node, const caf::actor& agent) {
  std::vector<double> samples;
  for (int64_t i = 0; i < 2'200; ++i) {
    auto t0 = clk::now();
    auto replies = cluster::multicall(node.system(), agent, "echo",
                                      caf::make_message(ping_atom::value, i), 5s);
    if (!replies || replies->size() != 3) {
      std::fprintf(stderr, "cluster_bench: multicall failed\n");
      std::exit(EXIT_FAILURE);
    }
    if (i >= 200)
      samples.push_back(us(clk::now() - t0));
  }
  std::printf("| multicall, 3 nodes | p50 %.1f us, p99 %.1f us |\n",
              percentile(samples, 0.5), percentile(samples, 0.99));
}

// Waits until `agent` sees `n` members up and the cluster `up`.
bool await_members(actor::node& node, const caf::actor& agent, size_t n) {
  caf::scoped_actor self{node.system()};
  self->send(agent, cluster::subscribe_atom::value, caf::actor{self});
  size_t up = 0;
  auto status = cluster::cluster_status::starting;
  auto deadline = clk::now() + 10s;
  while ((up != n || status != cluster::cluster_status::up) && clk::now() < deadline)
    self->receive(
      [&](cluster::view_atom, const std::vector<cluster::member>& xs) {
        up = static_cast<size_t>(std::count_if(xs.begin(), xs.end(), [](auto& m) {
          return m.status == cluster::member_status::up;
        }));
      },
      [&](cluster::status_atom, cluster::cluster_status, cluster::cluster_status now,
          const std::vector<cluster::member>&) { status = now; },
      caf::after(1s) >> [] {});
  return up == n && status == cluster::cluster_status::up;
}

} // namespace

int main(int argc, char** argv) {
  ringvisor::actor::ensure_secret_env(); // the nodes it starts share it
  std::vector<std::string> args{argv + 1, argv + argc};
  if (!args.empty() && args.front() == "--serve")
    return serve({args.begin() + 1, args.end()});
  // Extra arguments (CAF or ringvisor options) go to every node.
  actor::node_config cfg;
  auto local_args = args;
  local_args.push_back("--ringvisor.name=a");
  auto node = start_node(cfg, local_args);
  register_echo(*node);
  auto started = cluster::start_agent(*node);
  if (!started)
    return EXIT_FAILURE;
  auto agent = *started;
  auto seeds = "--ringvisor.seeds=[\"" + node->identity().endpoint() + "\"]";
  auto serve_args = [&](const std::string& name) {
    std::vector<std::string> xs{argv[0], "--serve", "--ringvisor.name=" + name, seeds};
    xs.insert(xs.end(), args.begin(), args.end());
    return xs;
  };
  test::process b{serve_args("b")};
  test::process c{serve_args("c")};
  auto b_endpoint = b.read_line("listening ", 10s);
  if (!b_endpoint || !c.read_line("listening ", 10s)) {
    std::fprintf(stderr, "cluster_bench: node processes did not start\n");
    return EXIT_FAILURE;
  }
  if (!await_members(*node, agent, 3)) {
    std::fprintf(stderr, "cluster_bench: the three nodes did not converge\n");
    return EXIT_FAILURE;
  }
  auto target = remote_echo(*node, *b_endpoint);
  std::printf("| benchmark | result |\n|---|---|\n");
  request_latency(*node, target);
  for (int callers : {1, 4, 16, 64})
    request_throughput(*node, target, callers);
  multicall_latency(*node, agent);
  b.signal(SIGTERM);
  c.signal(SIGTERM);
  return 0;
}
