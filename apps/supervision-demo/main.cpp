// A supervision tree whose workers crash on purpose, so that its log shows
// OTP restarts at work:
//
//   root (one_for_one)
//    ├─ tickers (one_for_one)    ticker-1, ticker-2, ticker-3
//    └─ pipeline (rest_for_one)  reader -> parser -> writer
//
// Each ticker and pipeline stage ticks every `demo.tick` and crashes with
// probability `demo.crash-probability` per tick. A crash of `parser` restarts
// `parser` and `writer`, never `reader`. If crashes come too fast, a
// supervisor gives up and its parent restarts it (escalation).
//
// Run: ringvisor-supervision-demo [--demo.duration=10s] [--demo.crash-probability=0.05]

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <random>
#include <thread>

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "ringvisor/actor/all.hpp"
#include "ringvisor/supervision/all.hpp"

using namespace ringvisor;
using namespace std::chrono_literals;

namespace {

using tick_atom = caf::atom_constant<caf::atom("tick")>;

struct demo_config : actor::node_config {
  caf::timespan duration{0};
  caf::timespan tick = 200ms;
  double crash_probability = 0.04;

  demo_config() {
    opt_group{custom_options_, "demo"}
      .add(duration, "duration", "stop after this long (0 = until Ctrl-C)")
      .add(tick, "tick", "how often each worker ticks")
      .add(crash_probability, "crash-probability",
           "chance that a worker crashes on a tick");
    supervision::add_types(*this);
  }
};

struct ticker_state {
  uint64_t ticks = 0;
  std::mt19937_64 rng{std::random_device{}()};
  static inline const char* name = "ticker";
};

// A worker that ticks and, now and then, throws: a crash its supervisor handles.
caf::behavior ticker(caf::stateful_actor<ticker_state>* self, std::string id,
                     caf::timespan tick, double crash_probability) {
  log::info("worker_started", {{"worker", id}});
  self->send(self, tick_atom::value);
  return {
    [=](tick_atom) {
      auto& st = self->state;
      ++st.ticks;
      if (std::bernoulli_distribution{crash_probability}(st.rng)) {
        log::warn("worker_crashing", {{"worker", id}, {"ticks", st.ticks}});
        throw std::runtime_error(id + " hit a bug after "
                                 + std::to_string(st.ticks) + " ticks");
      }
      self->delayed_send(self, tick, tick_atom::value);
    },
  };
}

supervision::child_spec worker(const demo_config& cfg, std::string id) {
  supervision::child_spec spec;
  spec.id = id;
  spec.type = "ticker";
  spec.args = caf::make_message(std::move(id), cfg.tick, cfg.crash_probability);
  spec.shutdown = supervision::shutdown_policy::after(1s);
  return spec;
}

supervision::supervisor_spec make_tree(const demo_config& cfg,
                                       std::shared_ptr<const actor::factory_registry> f) {
  supervision::supervisor_spec tickers;
  tickers.name = "tickers";
  tickers.factories = f;
  tickers.max_restarts = 5;
  tickers.period = 5s;
  for (auto id : {"ticker-1", "ticker-2", "ticker-3"})
    tickers.children.push_back(worker(cfg, id));
  supervision::supervisor_spec pipeline;
  pipeline.name = "pipeline";
  pipeline.strategy = supervision::restart_strategy::rest_for_one;
  pipeline.factories = f;
  for (auto id : {"reader", "parser", "writer"})
    pipeline.children.push_back(worker(cfg, id));
  supervision::supervisor_spec root;
  root.name = "root";
  root.max_restarts = 10;
  root.period = 10s;
  root.children.push_back(supervision::supervisor_child("tickers", tickers));
  root.children.push_back(supervision::supervisor_child("pipeline", pipeline));
  return root;
}

} // namespace

int main(int argc, char** argv) {
  demo_config cfg;
  if (auto err = cfg.read(argc, argv)) {
    std::cerr << "ringvisor-supervision-demo: " << actor::render(err) << '\n';
    return EXIT_FAILURE;
  }
  if (cfg.printed_and_done())
    return EXIT_SUCCESS;
  auto n = actor::node::start(cfg);
  if (!n) {
    std::cerr << "ringvisor-supervision-demo: " << actor::render(n.error()) << '\n';
    return EXIT_FAILURE;
  }
  auto& node = **n;
  if (auto err = node.factories()->add<std::string, caf::timespan, double>("ticker",
                                                                          ticker)) {
    std::cerr << actor::render(err) << '\n';
    return EXIT_FAILURE;
  }
  auto root = supervision::spawn_supervisor(node.system(),
                                            make_tree(cfg, node.factories()));
  if (!root) {
    std::cerr << "ringvisor-supervision-demo: " << actor::render(root.error()) << '\n';
    return EXIT_FAILURE;
  }
  node.adopt(*root);
  log::info("demo_running", {{"hint", cfg.duration.count() > 0
                                        ? "stops by itself"
                                        : "press Ctrl-C to stop"}});
  if (cfg.duration.count() > 0)
    std::this_thread::sleep_for(cfg.duration);
  else
    actor::node::await_signal();
  node.shutdown();
  return EXIT_SUCCESS;
}
