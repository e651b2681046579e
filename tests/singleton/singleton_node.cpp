// singleton-test-node: a cluster node that runs the activator "importer"
// and the global registry for the multi-process tests. Every event the
// activator gets is written to a ledger, `<event> <monotonic ns> <node>
// <pid> <reason>` in `$RV_LEDGER_DIR/<node>-<pid>.log`, so that tests can
// check that only the leader acted and never two at once. The leader's
// timer fires every `$RV_TIMER_MS` ms (default 50).
//
// With RV_NO_ACTIVATOR set, the node runs no activator.
//
// The actor "test.registrar" takes `(caf::put_atom, name)`: it registers a
// new local worker under `name`; a worker that exits writes `name_lost <ns>
// <node> <pid> <name>: <reason>`. `(caf::get_atom, name)` answers the node
// of the holder this node knows ("" if none).

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <fmt/format.h>

#include "ringvisor/actor/all.hpp"
#include "ringvisor/cluster/agent.hpp"
#include "ringvisor/cluster/registry.hpp"
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

// Registers workers of this node on request (blocking calls: a thread of its own).
caf::behavior registrar(caf::event_based_actor* self, cluster::name_registry reg,
                        std::FILE* out, std::string node) {
  return {
    [=](caf::put_atom, const std::string& name) -> caf::result<caf::ok_atom> {
      auto worker = self->system().spawn([](caf::event_based_actor*) -> caf::behavior {
        return {[](int32_t x) { return x; }};
      });
      worker->attach_functor([=](const caf::error& reason) {
        auto line = fmt::format("name_lost {} {} {} {}: {}\n", now_ns(), node, ::getpid(), name,
                                actor::render(reason));
        std::fputs(line.c_str(), out);
        std::fflush(out);
      });
      if (auto err = reg.register_name(name, worker)) {
        caf::anon_send_exit(worker, caf::exit_reason::user_shutdown);
        return err;
      }
      return caf::ok_atom::value;
    },
    [=](caf::delete_atom, const std::string& name) -> caf::result<caf::ok_atom> {
      if (auto err = reg.unregister(name))
        return err;
      return caf::ok_atom::value;
    },
    [=](caf::get_atom, const std::string& name) {
      for (auto& x : reg.names())
        if (x.name == name)
          return x.node;
      return std::string{};
    },
  };
}

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
  auto started = cluster::start_agent(n);
  if (!started) {
    std::cerr << "singleton-test-node: " << actor::render(started.error()) << '\n';
    return EXIT_FAILURE;
  }
  auto agent = *started;
  if (!std::getenv("RV_NO_ACTIVATOR")) { // a member that does not take part
    auto act = cluster::start_activator(
      n, agent, "importer",
      std::make_unique<ledger_activator>(ledger, cfg.name, std::chrono::milliseconds{ms}));
    if (!act) {
      std::cerr << "singleton-test-node: " << actor::render(act.error()) << '\n';
      return EXIT_FAILURE;
    }
  }
  auto reg = cluster::name_registry::start(n, agent);
  if (!reg) {
    std::cerr << "singleton-test-node: " << actor::render(reg.error()) << '\n';
    return EXIT_FAILURE;
  }
  auto reg_hdl = n.system().spawn<caf::detached>(registrar, *reg, ledger, cfg.name);
  caf::anon_send(n.directory(), caf::put_atom::value, std::string{"test.registrar"}, reg_hdl);
  n.adopt(reg_hdl);
  std::cout << "listening " << n.identity().endpoint() << std::endl;
  actor::node::await_signal();
  n.shutdown(); // the activator's `shutdown` line is the last (each line is flushed)
  return EXIT_SUCCESS;
}
