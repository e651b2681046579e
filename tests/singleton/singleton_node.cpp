// singleton-test-node: a cluster node that runs the activator "importer"
// for the multi-process tests. Every event the activator gets is written to
// a ledger, `<event> <monotonic ns> <node> <pid> <reason>` in
// `$RV_LEDGER_DIR/<node>-<pid>.log`, so that tests can check that only the
// leader acted and never two at once. The leader's timer fires every
// `$RV_TIMER_MS` ms (default 50).

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <fmt/format.h>

#include "ringvisor/actor/all.hpp"
#include "ringvisor/cluster/agent.hpp"
#include "ringvisor/cluster/singleton.hpp"

#include <unistd.h>

using namespace ringvisor;

namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

// [example] shown in docs/singleton.md
class ledger_activator : public cluster::activator {
public:
  ledger_activator(std::FILE* out, std::string node, caf::timespan every)
    : out_(out), node_(std::move(node)), every_(every) {
    // nop
  }

  void event(cluster::activator_event kind, const std::string& reason) override {
    ++events_;
    auto line = fmt::format("{} {} {} {} {}\n", to_string(kind), now_ns(), node_, ::getpid(),
                            reason);
    std::fputs(line.c_str(), out_);
    std::fflush(out_);
  }

  std::optional<caf::timespan> next_timer_in() override {
    return every_;
  }

  std::string dump() const override {
    return fmt::format("events={}", events_);
  }

private:
  std::FILE* out_;
  std::string node_;
  caf::timespan every_;
  size_t events_ = 0;
};
// [example]

} // namespace

int main(int argc, char** argv) {
  actor::node_config cfg;
  cluster::add_types(cfg);
  if (auto err = cfg.read(argc, argv)) {
    std::cerr << "singleton-test-node: " << actor::render(err) << '\n';
    return EXIT_FAILURE;
  }
  auto dir = std::getenv("RV_LEDGER_DIR");
  if (dir == nullptr) {
    std::cerr << "singleton-test-node: set RV_LEDGER_DIR\n";
    return EXIT_FAILURE;
  }
  auto ms = std::getenv("RV_TIMER_MS") ? std::atoi(std::getenv("RV_TIMER_MS")) : 50;
  auto path = fmt::format("{}/{}-{}.log", dir, cfg.name, ::getpid());
  auto ledger = std::fopen(path.c_str(), "a");
  auto node = actor::node::start(cfg);
  if (!node || ledger == nullptr) {
    std::cerr << "singleton-test-node: cannot start\n";
    return EXIT_FAILURE;
  }
  auto& n = **node;
  auto agent = cluster::start_agent(n);
  auto act = cluster::start_activator(
    n, agent, "importer",
    std::make_unique<ledger_activator>(ledger, cfg.name, std::chrono::milliseconds{ms}));
  if (!act) {
    std::cerr << "singleton-test-node: " << actor::render(act.error()) << '\n';
    return EXIT_FAILURE;
  }
  std::cout << "listening " << n.identity().endpoint() << std::endl;
  actor::node::await_signal();
  n.shutdown(); // the activator's `shutdown` line is the last (each line is flushed)
  return EXIT_SUCCESS;
}
