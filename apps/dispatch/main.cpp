// ringvisor-dispatch: one node of the superhero dispatch demo. Heroes are
// children of the ring supervisor "heroes": each runs on exactly one node,
// fights crime on its own timer and keeps its record when it moves to
// another node (a join, a graceful stop) or starts again after a crash.
// The node serves a dashboard and a JSON API (see dashboard.hpp).
//
// Prints `listening <host:port>` (cluster), `dashboard <url>` and
// `token <token>` once it serves; stops in order on SIGINT or SIGTERM, or
// when asked from a dashboard or by `ringvisor-ctl leave`.
//
// Run: ringvisor-dispatch --ringvisor.name=a --ringvisor.port=4910 --dispatch.http-port=4900
//      ringvisor-dispatch --ringvisor.name=b '--ringvisor.seeds=["127.0.0.1:4910"]' ...

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "dashboard.hpp"
#include "hero.hpp"
#include "ringvisor/actor/all.hpp"
#include "ringvisor/cluster/agent.hpp"
#include "ringvisor/cluster/discovery.hpp"
#include "ringvisor/ring/all.hpp"

using namespace ringvisor;
using namespace std::chrono_literals;

namespace {

struct dispatch_config : actor::node_config {
  std::string http_host = "127.0.0.1";
  uint16_t http_port = 0;
  std::string token;
  caf::timespan tick = 1s;
  int32_t max_health = 100;
  std::vector<std::string> heroes;

  dispatch_config() {
    opt_group{custom_options_, "dispatch"}
      .add(http_host, "http-host", "address of the dashboard")
      .add(http_port, "http-port", "port of the dashboard (0: any free port)")
      .add(token, "token", "token that changes need (default: a random one, printed)")
      .add(tick, "tick", "how often each hero acts")
      .add(max_health, "max-health", "health of a new hero")
      .add(heroes, "heroes", "names of heroes to create once the cluster is up");
    ringvisor::add_types(*this);
    dispatch::add_types(*this);
  }
};

std::string random_token() {
  std::random_device rd;
  return fmt::format("{:08x}{:08x}{:08x}{:08x}", rd(), rd(), rd(), rd());
}

int fail(const caf::error& err) {
  std::cerr << "ringvisor-dispatch: " << actor::render(err) << '\n';
  return EXIT_FAILURE;
}

ring::supervisor_spec heroes_spec(actor::node& n) {
  ring::supervisor_spec spec;
  spec.name = "heroes";
  spec.max_restarts = 10;
  spec.period = 10s;
  spec.tell_placement = true;
  spec.functions["heal"] = [](caf::actor_system& sys, const caf::actor& hero,
                              const caf::message&) -> caf::expected<caf::message> {
    auto health = actor::blocking_request<int32_t>(sys, hero, 2s, dispatch::heal_atom::value);
    if (!health)
      return std::move(health.error());
    return caf::make_message(*health);
  };
  if (auto store = ring::open_replicated_store(n, {"heroes", {}}))
    spec.stores.push_back(std::move(*store));
  else
    std::cerr << "ringvisor-dispatch: " << actor::render(store.error())
              << " (heroes will not survive the loss of their node)\n";
  return spec;
}

// Waits until the cluster is up and, for at most 10 s, until the seeds
// joined, so that the heroes start spread out; returns the heroes' ring
// supervisor, or nothing if stopping or not up within a minute.
std::optional<ring::ref> await_cluster(actor::node& n, const caf::actor& agent,
                                       const std::string& sup_name, size_t expected,
                                       const std::atomic<bool>& stopping) {
  caf::scoped_actor self{n.system()};
  std::optional<ring::ref> heroes;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  std::optional<std::chrono::steady_clock::time_point> up_since;
  while (!stopping && std::chrono::steady_clock::now() < deadline) {
    std::vector<cluster::member> view;
    self->request(agent, 100ms, caf::get_atom::value, cluster::members_atom::value)
      .receive([&](std::vector<cluster::member>& x) { view = std::move(x); },
               [](caf::error&) {});
    bool up = false;
    self->request(agent, 100ms, cluster::await_up_atom::value)
      .receive([&](caf::ok_atom) { up = true; }, [](caf::error&) {});
    if (up && !heroes)
      if (auto found = ring::lookup(n, sup_name))
        heroes = std::move(*found);
    if (heroes) {
      auto now = std::chrono::steady_clock::now();
      up_since = up_since.value_or(now);
      auto members = std::count_if(view.begin(), view.end(), [](auto& m) {
        return m.status == cluster::member_status::up;
      });
      if (static_cast<size_t>(members) >= expected || now - *up_since > 10s)
        return heroes;
    }
    std::this_thread::sleep_for(100ms);
  }
  return {};
}

// Creates the configured heroes; those that exist already (another node
// created them, or this node restarted) are skipped.
void create_heroes(actor::node& n, const caf::actor& agent, const std::string& sup_name,
                   const std::vector<std::string>& names, const std::atomic<bool>& stopping) {
  if (names.empty())
    return;
  auto heroes = await_cluster(n, agent, sup_name, n.config().seeds.size() + 1, stopping);
  if (!heroes) {
    if (!stopping)
      std::cerr << "ringvisor-dispatch: the cluster is not up after a minute; no heroes created\n";
    return;
  }
  for (auto& name : names) {
    if (stopping)
      return;
    auto spec = dispatch::hero_spec(name);
    auto where = heroes->start_child(spec);
    if (where)
      std::cout << "hero " << spec.id << " on " << where->node << std::endl;
    else if (where.error() != supervision::errc::already_present)
      std::cerr << "ringvisor-dispatch: hero " << name << ": " << actor::render(where.error())
                << '\n';
  }
}

} // namespace

int main(int argc, char** argv) {
  dispatch_config cfg;
  if (auto err = cfg.read(argc, argv))
    return fail(err);
  if (cfg.printed_and_done())
    return EXIT_SUCCESS;
  if (auto err = cluster::check_seeds(cfg.seeds))
    return fail(err);
  if (cfg.tick < 10ms)
    return fail(actor::make_error(actor::errc::bad_config, "dispatch.tick",
                                  "at least 10ms, or heroes flood their node"));
  if (cfg.max_health < 1 || cfg.max_health > 1'000'000'000)
    return fail(actor::make_error(actor::errc::bad_config, "dispatch.max-health",
                                  "between 1 and 1000000000"));
  if (cfg.token.empty())
    cfg.token = random_token();
  if (auto err = dispatch::dashboard::check_port(cfg.http_host, cfg.http_port))
    return fail(err); // before it joins the cluster
  auto started = actor::node::start(cfg);
  if (!started)
    return fail(started.error());
  auto& n = **started;
  auto& sys = n.system();
  auto agent_started = cluster::start_agent(n);
  if (!agent_started)
    return fail(agent_started.error());
  auto agent = *agent_started;
  auto board = dispatch::spawn_board(sys, n.identity().name);
  caf::anon_send(n.directory(), caf::put_atom::value, dispatch::board_name, board);
  n.adopt(board);
  if (auto err = dispatch::add_hero_type(*n.factories(), {cfg.tick, cfg.max_health, board}))
    return fail(err);

  supervision::supervisor_spec parent;
  parent.name = "dispatch";
  parent.max_restarts = 3;
  parent.period = 30s;
  parent.children.push_back(ring::supervisor_child("heroes", n, heroes_spec(n)));
  auto top = supervision::spawn_supervisor(sys, parent);
  if (!top)
    return fail(top.error());
  n.adopt(*top);
  std::string heroes = "heroes";
  auto web = dispatch::dashboard::start(
    n, {cfg.http_host, cfg.http_port, cfg.token, agent, heroes});
  if (!web)
    return fail(web.error());
  auto url = fmt::format("http://{}:{}/", cfg.http_host, (*web)->port());
  caf::anon_send(board, caf::put_atom::value, url);
  std::cout << "listening " << n.identity().endpoint() << '\n'
            << "dashboard " << url << "?token=" << cfg.token << '\n'
            << "token " << cfg.token << std::endl;

  std::atomic<bool> stopping = false;
  std::thread creator{[&] { create_heroes(n, agent, heroes, cfg.heroes, stopping); }};
  auto signo = actor::node::await_signal();
  log::info("stopping", {{"signal", signo}});
  stopping = true;
  creator.join();
  web->reset(); // no more requests into the actor system
  n.shutdown();
  return EXIT_SUCCESS;
}
