// The dispatch demo under load, through its HTTP API only: four
// ringvisor-dispatch processes on loopback (so that a majority survives a
// stop and then a kill), N heroes (default 1,000).
// Measures hero creation (POST /api/heroes, 1 and 8 clients), the
// dashboard's poll (GET /api/state: latency and size), and how long until
// every hero is listed again after a graceful stop and after a kill -9.
//
// Run: build/dev/benchmarks/dispatch_bench [heroes]

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "ringvisor/actor/wire.hpp"
#include "bench_util.hpp"
#include "support/process.hpp"

using namespace ringvisor::bench;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr auto token = "bench";

struct dispatch_node {
  std::string name;
  std::unique_ptr<ringvisor::test::process> proc;
  std::string endpoint;
  std::string host; // "127.0.0.1"
  int port = 0;     // the dashboard's
};

dispatch_node start(const std::string& name, const std::string& seed) {
  std::vector<std::string> argv{RINGVISOR_DISPATCH_BIN, "--ringvisor.name=" + name,
                                "--ringvisor.port=0", std::string{"--dispatch.token="} + token,
                                "--dispatch.max-health=1000000000", "--ringvisor.log-level=warn"};
  if (!seed.empty())
    argv.push_back("--ringvisor.seeds=[\"" + seed + "\"]");
  dispatch_node n{name, std::make_unique<ringvisor::test::process>(argv), {}, "127.0.0.1", 0};
  auto ep = n.proc->read_line("listening ", 10s);
  auto url = n.proc->read_line("dashboard http://127.0.0.1:", 10s);
  if (!ep || !url) {
    std::cerr << "dispatch_bench: node " << name << " did not start\n";
    std::exit(1);
  }
  n.endpoint = *ep;
  n.port = std::stoi(url->substr(0, url->find('/')));
  return n;
}

json state(dispatch_node& n) {
  httplib::Client cli{n.host, n.port};
  auto res = cli.Get("/api/state");
  return res && res->status == 200 ? json::parse(res->body) : json{};
}

template <class Predicate>
double await_state(dispatch_node& n, Predicate ok, clk::time_point since) {
  for (auto deadline = clk::now() + 60s; clk::now() < deadline;) {
    auto s = state(n);
    if (!s.is_null() && ok(s))
      return us(clk::now() - since) / 1000.0;
    std::this_thread::sleep_for(2ms);
  }
  std::cerr << "dispatch_bench: state never as expected\n";
  std::exit(1);
}

// Creates heroes `first`..`last` through `n` with `clients` threads; heroes/s.
double create(dispatch_node& n, int first, int last, int clients) {
  std::atomic<int> next{first};
  std::atomic<int> failed{0};
  auto t0 = clk::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&] {
      httplib::Client cli{n.host, n.port};
      httplib::Headers auth{{"Authorization", std::string{"Bearer "} + token}};
      for (int i; (i = next++) < last;) {
        auto body = json{{"name", fmt::format("hero {}", i)}}.dump();
        auto res = cli.Post("/api/heroes", auth, body, "application/json");
        if (!res || res->status != 201)
          ++failed;
      }
    });
  for (auto& t : threads)
    t.join();
  if (failed > 0)
    std::cerr << "dispatch_bench: " << failed << " creations failed\n";
  return (last - first) / (us(clk::now() - t0) / 1e6);
}

size_t off(const json& s, const std::string& node) {
  size_t n = 0;
  for (auto& h : s.value("heroes", json::array()))
    n += h["node"] != node;
  return n;
}

} // namespace

int main(int argc, char** argv) {
  ringvisor::actor::ensure_secret_env(); // the nodes it starts share it
  int heroes = argc > 1 ? std::atoi(argv[1]) : 1000;
  std::vector<dispatch_node> nodes;
  nodes.push_back(start("a", ""));
  nodes.push_back(start("b", nodes[0].endpoint));
  nodes.push_back(start("c", nodes[0].endpoint));
  nodes.push_back(start("d", nodes[0].endpoint));
  await_state(nodes[0], [](const json& s) {
    return s["status"] == "up" && s["members"].size() == 4;
  }, clk::now());

  std::cout << fmt::format("| benchmark ({} heroes, 4 nodes) | result |\n|---|---|\n", heroes);
  auto one = create(nodes[0], 0, heroes / 5, 1);
  auto eight = create(nodes[0], heroes / 5, heroes, 8);
  std::cout << fmt::format("| POST /api/heroes, 1 client | {:.0f} heroes/s |\n", one);
  std::cout << fmt::format("| POST /api/heroes, 8 clients | {:.0f} heroes/s |\n", eight);
  auto all = [heroes](const json& s) { return s["heroes"].size() == static_cast<size_t>(heroes); };
  await_state(nodes[1], all, clk::now());

  std::vector<double> lat;
  size_t bytes = 0;
  httplib::Client cli{nodes[1].host, nodes[1].port};
  for (int i = 0; i < 200; ++i) {
    auto t0 = clk::now();
    auto res = cli.Get("/api/state");
    lat.push_back(us(clk::now() - t0));
    bytes = res ? res->body.size() : 0;
  }
  std::cout << fmt::format("| GET /api/state (the page's poll) | p50 {:.1f} ms, p99 {:.1f} ms, "
                           "{:.0f} KB |\n",
                           percentile(lat, 0.5) / 1000, percentile(lat, 0.99) / 1000,
                           bytes / 1024.0);

  // Graceful stop of c (asked through a's API): until b lists every hero off c.
  auto before = state(nodes[1]);
  std::map<std::string, json> was; // the heroes on c
  for (auto& h : before["heroes"])
    if (h["node"] == "c")
      was[h["id"].get<std::string>()] = h;
  httplib::Client via{nodes[0].host, nodes[0].port};
  auto t0 = clk::now();
  via.Post("/api/nodes/c/stop", {{"Authorization", std::string{"Bearer "} + token}}, "",
           "application/json");
  auto moved_ms = await_state(nodes[1], [&](const json& s) {
    return all(s) && off(s, "c") == static_cast<size_t>(heroes);
  }, t0);
  // Kept its record: moved once more (a fresh start would have moves 0),
  // and counts no lower than before.
  size_t kept = 0;
  auto now = state(nodes[1]);
  for (auto& h : now["heroes"])
    if (auto i = was.find(h["id"].get<std::string>()); i != was.end())
      kept += h["moves"] == i->second["moves"].get<int>() + 1
              && h["wins"] >= i->second["wins"] && h["losses"] >= i->second["losses"];
  std::cout << fmt::format("| stop a node from the API, {} heroes move | {:.0f} ms until all "
                           "listed elsewhere; {} of {} kept their record |\n",
                           was.size(), moved_ms, kept, was.size());
  nodes[2].proc->wait_for(10s);

  // kill -9 b: until a lists every hero off b.
  auto on_b = heroes - off(state(nodes[0]), "b");
  t0 = clk::now();
  nodes[1].proc->signal(SIGKILL);
  auto back_ms = await_state(nodes[0], [&](const json& s) {
    return all(s) && off(s, "b") == static_cast<size_t>(heroes);
  }, t0);
  std::cout << fmt::format("| kill -9 a node, {} heroes start again | {:.0f} ms until all "
                           "listed on the survivors |\n", on_b, back_ms);
  for (auto i : {0, 3}) {
    nodes[i].proc->signal(SIGTERM);
    nodes[i].proc->wait_for(10s);
  }
  return 0;
}
