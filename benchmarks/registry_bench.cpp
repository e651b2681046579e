// The global name registry on 3 nodes (in this process, over real TCP on
// loopback): register_name throughput with 1 and 16 callers, whereis
// latency, and how long until a name registered on one node is visible on
// another.
//
// Run: build/dev/benchmarks/registry_bench [names]

#include <atomic>
#include <functional>
#include <future>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <fmt/format.h>

#include "ringvisor/actor/wire.hpp"
#include "bench_util.hpp"
#include "ringvisor/actor/all.hpp"
#include "ringvisor/cluster/agent.hpp"
#include "ringvisor/cluster/errc.hpp"
#include "ringvisor/cluster/registry.hpp"

using namespace ringvisor;
using namespace ringvisor::bench;
using namespace std::chrono_literals;

namespace {

struct bench_node {
  actor::node_config cfg;
  std::unique_ptr<actor::node> node;
  caf::actor agent;
  std::optional<cluster::name_registry> reg;

  bench_node(const std::string& name, const std::string& seed) {
    cluster::add_types(cfg);
    std::vector<std::string> args{"--ringvisor.name=" + name, "--ringvisor.log-level=warn",
                                  "--ringvisor.port=0"};
    if (!seed.empty())
      args.push_back("--ringvisor.seeds=[\"" + seed + "\"]");
    if (auto err = cfg.read(args, "")) {
      std::cerr << actor::render(err) << '\n';
      std::exit(1);
    }
    auto n = actor::node::start(cfg);
    if (!n)
      std::exit(1);
    node = std::move(*n);
    auto started = cluster::start_agent(*node);
    if (!started)
      std::exit(1);
    agent = *started;
    auto r = cluster::name_registry::start(*node, agent);
    if (!r)
      std::exit(1);
    reg = std::move(*r);
  }

  caf::actor worker() {
    auto w = node->system().spawn([](caf::event_based_actor*) -> caf::behavior {
      return {[](int32_t x) { return x; }};
    });
    node->adopt(w);
    return w;
  }
};

size_t up_members(bench_node& n) {
  auto view = actor::blocking_request<std::vector<cluster::member>>(
    n.node->system(), n.agent, 1s, caf::get_atom::value, cluster::members_atom::value);
  size_t result = 0;
  if (view)
    for (auto& m : *view)
      result += m.status == cluster::member_status::up;
  return result;
}

// Registers `count` names through `via` with `callers` threads; names/s.
double register_many(bench_node& via, const std::string& prefix, size_t count, size_t callers) {
  std::vector<caf::actor> workers;
  for (size_t i = 0; i < callers; ++i)
    workers.push_back(via.worker());
  std::atomic<size_t> next{0};
  std::atomic<size_t> failed{0};
  auto t0 = clk::now();
  std::vector<std::thread> threads;
  for (size_t c = 0; c < callers; ++c)
    threads.emplace_back([&, c] {
      for (size_t i; (i = next++) < count;)
        if (via.reg->register_name(prefix + std::to_string(i), workers[c]))
          ++failed;
    });
  for (auto& t : threads)
    t.join();
  auto secs = us(clk::now() - t0) / 1e6;
  if (failed > 0)
    std::cerr << "registry_bench: " << failed << " registrations failed\n";
  return static_cast<double>(count) / secs;
}

// Registers `count` names through `via` from one actor that keeps `window`
// registrations in flight; names/s.
double register_pipelined(bench_node& via, const std::string& prefix, size_t count,
                          size_t window) {
  auto worker = via.worker();
  auto reg = via.reg->handle();
  std::promise<void> finished;
  auto t0 = clk::now();
  via.node->system().spawn([&, reg, worker](caf::event_based_actor* self) {
    auto next = std::make_shared<size_t>(0);
    auto done = std::make_shared<size_t>(0);
    auto send_one = std::make_shared<std::function<void(size_t)>>();
    *send_one = [=, &finished](size_t i) {
      self->request(reg, 10s, cluster::register_atom::value, prefix + std::to_string(i), worker)
        .then(
          [=, &finished](cluster::registered_name&) {
            if (++*done == count)
              finished.set_value();
            else if (*next < count)
              (*send_one)((*next)++);
          },
          [=, &finished](caf::error& err) {
            if (err == cluster::errc::not_ready) // the home is learning: ask again
              return (*send_one)(i);
            std::cerr << "registry_bench: " << actor::render(err) << '\n';
            if (++*done == count)
              finished.set_value();
          });
    };
    for (; *next < std::min(window, count); ++*next)
      (*send_one)(*next);
  });
  finished.get_future().wait();
  return static_cast<double>(count) / (us(clk::now() - t0) / 1e6);
}

} // namespace

int main(int argc, char** argv) {
  ringvisor::actor::ensure_secret_env(); // the nodes it starts share it
  size_t names = argc > 1 ? std::stoul(argv[1]) : 20'000;
  bench_node a{"a", ""};
  bench_node b{"b", a.node->identity().endpoint()};
  bench_node c{"c", a.node->identity().endpoint()};
  for (auto deadline = clk::now() + 20s; up_members(a) < 3 || up_members(c) < 3;)
    if (clk::now() > deadline)
      return 1;
  std::this_thread::sleep_for(200ms); // the registries saw the views
  std::printf("| global registry, 3 nodes in one process | result |\n|---|---|\n");
  std::printf("| register_name, 1 caller | %.0f names/s |\n",
              register_many(a, "one-", names / 10, 1));
  std::printf("| register_name, 16 callers | %.0f names/s |\n",
              register_many(a, "many-", names, 16));
  std::printf("| register_atom from 1 actor, 64 in flight | %.0f names/s |\n",
              register_pipelined(a, "piped-", names, 64));

  // whereis on c of names registered on a: a local read.
  std::vector<std::string> keys;
  for (size_t i = 0; i < 1000; ++i)
    keys.push_back("many-" + std::to_string(i));
  for (auto deadline = clk::now() + 10s; !c.reg->whereis(keys.back());)
    if (clk::now() > deadline)
      return 1;
  size_t found = 0;
  constexpr size_t lookups = 1'000'000;
  auto t0 = clk::now();
  for (size_t i = 0; i < lookups; ++i)
    found += c.reg->whereis(keys[i % keys.size()]) != nullptr;
  auto ns_per = us(clk::now() - t0) * 1000.0 / lookups;
  std::printf("| whereis (a local read), %zu names | %.0f ns per lookup (%zu of %zu found) |\n",
              c.reg->names().size(), ns_per, found, lookups);

  // Visibility: register on a, spin on c until whereis sees it.
  std::vector<double> seen_us;
  auto w = a.worker();
  for (int i = 0; i < 200; ++i) {
    auto name = "seen-" + std::to_string(i);
    auto start = clk::now();
    if (a.reg->register_name(name, w))
      continue;
    while (!c.reg->whereis(name))
      if (clk::now() - start > 5s)
        return 1;
    seen_us.push_back(us(clk::now() - start));
  }
  std::printf("| a name registered on a, until whereis on c sees it | p50 %.0f us, p99 %.0f us |\n",
              percentile(seen_us, 0.5), percentile(seen_us, 0.99));
  for (auto* n : {&c, &b, &a})
    n->node->shutdown();
  return 0;
}
