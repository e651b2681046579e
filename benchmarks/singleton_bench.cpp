// Leader failover of the singleton activator: three node processes (copies
// of this binary started with `--serve`, each printing `leader <monotonic
// ns>` on `now_leader`). Kills the leader with SIGKILL, or stops it with
// SIGSTOP, and measures until the next one says `now_leader`; the killed
// node is started again and the stopped one resumed between rounds.
//
// Run: build/dev/benchmarks/singleton_bench [rounds]

#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "ringvisor/actor/wire.hpp"
#include "bench_util.hpp"
#include "ringvisor/actor/all.hpp"
#include "ringvisor/cluster/agent.hpp"
#include "ringvisor/cluster/singleton.hpp"
#include "support/process.hpp"

using namespace ringvisor;
using namespace ringvisor::bench;
using namespace std::chrono_literals;

namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           clk::now().time_since_epoch())
    .count();
}

struct printing_activator : cluster::activator {
  void event(cluster::activator_event kind, const std::string&) override {
    if (kind == cluster::activator_event::now_leader) {
      std::printf("leader %lld\n", static_cast<long long>(now_ns()));
      std::fflush(stdout);
    }
  }
};

int serve(int argc, char** argv) {
  actor::node_config cfg;
  cluster::add_types(cfg);
  if (auto err = cfg.read(argc, argv)) {
    std::cerr << actor::render(err) << '\n';
    return 1;
  }
  auto node = actor::node::start(cfg);
  if (!node)
    return 1;
  // Before the activator: its `leader` line must come after this one.
  std::printf("listening %s\n", (*node)->identity().endpoint().c_str());
  std::fflush(stdout);
  auto started = cluster::start_agent(**node);
  if (!started)
    return 1;
  auto agent = *started;
  if (!cluster::start_activator(**node, agent, "bench", std::make_unique<printing_activator>()))
    return 1;
  actor::node::await_signal();
  (*node)->shutdown();
  return 0;
}

struct node_proc {
  std::string name;
  std::unique_ptr<test::process> proc;
  std::string endpoint;
};

class bench_cluster {
public:
  explicit bench_cluster(std::string self) : self_(std::move(self)) {
    for (auto name : {"a", "b", "c"}) {
      start(name);
      std::this_thread::sleep_for(5ms); // a is the oldest, then b, then c
    }
  }

  void start(const std::string& name) {
    std::vector<std::string> argv{self_, "--serve", "--ringvisor.name=" + name,
                                  "--ringvisor.port=0", "--ringvisor.log-level=error"};
    if (!nodes_.empty() && !(nodes_.size() == 1 && nodes_.count(name))) {
      std::string seeds;
      for (auto& [n, x] : nodes_)
        if (n != name)
          seeds += (seeds.empty() ? "\"" : ",\"") + x.endpoint + "\"";
      argv.push_back("--ringvisor.seeds=[" + seeds + "]");
    }
    auto& n = nodes_[name];
    n.name = name;
    n.proc = std::make_unique<test::process>(argv);
    auto ep = n.proc->read_line("listening ", 10s);
    if (!ep) {
      std::cerr << "singleton_bench: node " << name << " did not start\n";
      std::exit(1);
    }
    n.endpoint = *ep;
  }

  // Waits until `name` says `now_leader`; returns when it did.
  int64_t await_leader(const std::string& name, std::chrono::seconds timeout = 20s) {
    auto line = nodes_[name].proc->read_line("leader ", timeout);
    if (!line) {
      std::cerr << "singleton_bench: " << name << " never led\n";
      std::exit(1);
    }
    return std::stoll(*line);
  }

  test::process& proc(const std::string& name) {
    return *nodes_[name].proc;
  }

  ~bench_cluster() {
    for (auto& [name, n] : nodes_) {
      n.proc->signal(SIGCONT);
      n.proc->signal(SIGTERM);
      n.proc->wait_for(10s);
    }
  }

private:
  std::string self_;
  std::map<std::string, node_proc> nodes_;
};

} // namespace

int main(int argc, char** argv) {
  ringvisor::actor::ensure_secret_env(); // the nodes it starts share it
  if (argc > 1 && std::string{argv[1]} == "--serve")
    return serve(argc - 1, argv + 1);
  int rounds = argc > 1 ? std::atoi(argv[1]) : 5;
  bench_cluster cl{argv[0]};
  std::vector<std::string> ages{"a", "b", "c"}; // oldest first
  cl.await_leader("a");
  std::vector<double> kill_ms;
  std::vector<double> stop_ms;
  for (int i = 0; i < rounds; ++i) {
    // kill -9 the leader: the next oldest leads; the killed one comes back
    // as a new process, the youngest.
    auto leader = ages[0];
    auto t0 = now_ns();
    cl.proc(leader).signal(SIGKILL);
    cl.proc(leader).wait();
    kill_ms.push_back(static_cast<double>(cl.await_leader(ages[1]) - t0) / 1e6);
    cl.start(leader);
    ages = {ages[1], ages[2], leader};
    // SIGSTOP the leader: the next oldest leads after the fence; resumed,
    // the stopped one (still the oldest) takes the lead back.
    t0 = now_ns();
    cl.proc(ages[0]).signal(SIGSTOP);
    stop_ms.push_back(static_cast<double>(cl.await_leader(ages[1]) - t0) / 1e6);
    cl.proc(ages[0]).signal(SIGCONT);
    cl.await_leader(ages[0]);
  }
  auto row = [](const char* what, const std::vector<double>& xs) {
    std::printf("| %s | median %.1f ms (%.1f-%.1f), %zu rounds |\n", what, percentile(xs, 0.5),
                percentile(xs, 0.0), percentile(xs, 1.0), xs.size());
  };
  std::printf("| singleton leader failover, 3 nodes | result |\n|---|---|\n");
  row("kill -9 of the leader until the next says now_leader", kill_ms);
  row("SIGSTOP of the leader until the next says now_leader", stop_ms);
  return 0;
}
