// ring-test-node: a cluster node that runs the ring supervisor "counters"
// for the multi-process tests. Children of type "counter" count the
// messages they get and keep the count across moves; each writes a ledger
// line when it starts and when it stops (`start|stop <monotonic ns> <id>
// <node> <epoch> <count>`), to
// `$RV_LEDGER_DIR/<node>-<pid>.log`, so that tests can prove that no two
// instances of a child ever overlapped; `ckpt` sends the count to the ring
// supervisor as a checkpoint and answers it. "bomb" children crash on start.
// The exec function "slow" (args: a token) appends `begin <token>` to
// `$RV_LEDGER_DIR/execs.txt`, sleeps 600 ms and answers the token, so that
// tests can count how often a function ran.
//
// With RV_MIGRATE set, the ring supervisor's migrate hook asks a moving
// counter for its state in the format that the next version reads: the
// count, and the moves it made (`from->to`), which `trail` answers.
//
// Environment: RV_LEDGER_DIR (required), RV_STORE = "replicated" (default)
// or "sqlite:<path>". The ring supervisor runs under a parent supervisor
// that gives up at once; its exit is printed as `escalated <reason>`.

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include "ringvisor/actor/all.hpp"
#include "ringvisor/cluster/agent.hpp"
#include "ringvisor/ring/all.hpp"

#include <unistd.h>

using namespace ringvisor;
using inc_atom = caf::atom_constant<caf::atom("inc")>;
using checkpoint_now_atom = caf::atom_constant<caf::atom("ckpt")>;
using trail_atom = caf::atom_constant<caf::atom("trail")>;
using migrate_v2_atom = caf::atom_constant<caf::atom("migrate2")>;

namespace {

std::FILE* ledger = nullptr;

void write_ledger(const std::string& line) {
  std::fputs((line + "\n").c_str(), ledger);
  std::fflush(ledger);
}

// CLOCK_MONOTONIC: one clock for all processes of the machine.
int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

// `put_state` replaces the whole state: what does not move (the id) is kept
// by the behavior.
struct counter_state {
  int64_t count = 0;
  std::vector<std::string> trail; // only the migrate hook adds to it
  ring::placement where;
  caf::actor sup; // the sender of `placed`, which takes checkpoints
  bool stop_logged = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, counter_state& x) {
  return f(caf::meta::type_name("counter_state"), x.count, x.trail); // the moving part
}

using counter_actor = caf::stateful_actor<counter_state>;

caf::behavior counter(counter_actor* self, std::string id) {
  auto log_stop = [self, id] {
    auto& st = self->state;
    if (st.stop_logged)
      return;
    st.stop_logged = true;
    write_ledger(fmt::format("stop {} {} {} {} {}", now_ns(), id, st.where.node,
                             st.where.epoch, st.count));
  };
  // A stop for a move is logged before the child goes: CAF runs an exiting
  // actor's attachables newest first, so the down message that lets its
  // manager hand it over may come before an attached functor writes.
  self->set_exit_handler([self, log_stop](caf::exit_msg& em) {
    if (!em.reason)
      return;
    log_stop();
    self->quit(em.reason);
  });
  self->attach_functor(log_stop); // killed or crashed
  caf::message_handler own{
    [self](inc_atom) { return ++self->state.count; },
    [self](caf::get_atom) { return self->state.count; },
    [self](trail_atom) { return self->state.trail; },
    // The migrate hook's request: the state as the next version keeps it.
    [self](migrate_v2_atom, const std::string& from,
           const std::string& to) -> caf::result<actor::bytes> {
      auto next = self->state;
      next.trail.push_back(from + "->" + to);
      auto state = actor::to_bytes(self->system(), next);
      if (!state)
        return std::move(state.error());
      return std::move(*state);
    },
    [self, id](checkpoint_now_atom) -> caf::result<int64_t> {
      auto state = actor::to_bytes(self->system(), self->state);
      if (!state)
        return std::move(state.error());
      self->send(self->state.sup, ring::checkpoint_atom::value, id, std::move(*state));
      return self->state.count;
    },
    [self, id](ring::placed_atom, ring::placement& where, const ring::restore_info&) {
      self->state.sup = caf::actor_cast<caf::actor>(self->current_sender());
      self->state.where = std::move(where);
      auto& st = self->state;
      write_ledger(fmt::format("start {} {} {} {} {}", now_ns(), id, st.where.node,
                               st.where.epoch, st.count));
    },
  };
  return own.or_else(actor::state_handlers(self));
}

caf::expected<caf::message> slow(caf::actor_system&, const caf::actor&, const caf::message& args) {
  if (!args.match_elements<std::string>())
    return caf::make_error(caf::sec::unexpected_message);
  auto token = args.get_as<std::string>(0);
  auto path = std::string{std::getenv("RV_LEDGER_DIR")} + "/execs.txt";
  if (auto* f = std::fopen(path.c_str(), "a")) {
    std::fputs(("begin " + token + "\n").c_str(), f);
    std::fclose(f);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds{600});
  return caf::make_message(token);
}

// With RV_MIGRATE: a moving counter is asked for its state as the next
// version keeps it. Else none: the default, `get_state`.
ring::migrate_function migrate_hook() {
  if (std::getenv("RV_MIGRATE") == nullptr)
    return {};
  return [](const std::string&, const std::string& from, const std::string& to) {
    return caf::make_message(migrate_v2_atom::value, from, to);
  };
}

caf::behavior bomb(caf::event_based_actor* self) {
  self->quit(caf::sec::runtime_error);
  return {};
}

} // namespace

int main(int argc, char** argv) {
  actor::node_config cfg;
  ringvisor::add_types(cfg);
  if (auto err = cfg.read(argc, argv)) {
    std::cerr << "ring-test-node: " << actor::render(err) << '\n';
    return EXIT_FAILURE;
  }
  auto dir = std::getenv("RV_LEDGER_DIR");
  if (dir == nullptr) {
    std::cerr << "ring-test-node: set RV_LEDGER_DIR\n";
    return EXIT_FAILURE;
  }
  auto path = fmt::format("{}/{}-{}.log", dir, cfg.name, ::getpid());
  ledger = std::fopen(path.c_str(), "a");
  auto node = actor::node::start(cfg);
  if (!node || ledger == nullptr) {
    std::cerr << "ring-test-node: cannot start\n";
    return EXIT_FAILURE;
  }
  auto& n = **node;
  auto& sys = n.system();
  (void) n.factories()->add<std::string>("counter", counter);
  (void) n.factories()->add<>("bomb", bomb);
  if (auto started = cluster::start_agent(n); !started) {
    std::cerr << "ring-test-node: " << actor::render(started.error()) << '\n';
    return EXIT_FAILURE;
  }
  if (std::getenv("RV_NO_RING") != nullptr) { // a member without the ring supervisor
    std::cout << "listening " << n.identity().endpoint() << std::endl;
    actor::node::await_signal();
    n.shutdown();
    std::fclose(ledger);
    return EXIT_SUCCESS;
  }

  // [example] shown in docs/ring-supervisor.md
  ring::supervisor_spec spec;
  spec.name = "counters";
  spec.max_restarts = 2;
  spec.period = std::chrono::seconds{5};
  spec.tell_placement = true;
  spec.functions["double"] = [](caf::actor_system& s, const caf::actor& child,
                                const caf::message&) -> caf::expected<caf::message> {
    caf::expected<caf::message> result{caf::sec::request_timeout};
    caf::scoped_actor self{s};
    self->request(child, std::chrono::seconds{2}, caf::get_atom::value)
      .receive([&](int64_t x) { result = caf::make_message(2 * x); },
               [&](caf::error& err) { result = std::move(err); });
    return result;
  };
  spec.functions["slow"] = slow; // the tests' own
  spec.migrate = migrate_hook();  // the tests' own
  std::string store = std::getenv("RV_STORE") ? std::getenv("RV_STORE") : "replicated";
  if (store.rfind("sqlite:", 0) == 0) {
    auto s = ring::open_sqlite_store(sys, {store.substr(7), {}});
    if (!s) {
      std::cerr << "ring-test-node: " << actor::render(s.error()) << '\n';
      return EXIT_FAILURE;
    }
    spec.stores.push_back(std::move(*s));
  } else {
    auto s = ring::open_replicated_store(n, {"counters", {}});
    if (!s) {
      std::cerr << "ring-test-node: " << actor::render(s.error()) << '\n';
      return EXIT_FAILURE;
    }
    spec.stores.push_back(std::move(*s));
  }

  supervision::supervisor_spec parent;
  parent.name = "ring-parent";
  parent.max_restarts = 0;
  parent.children.push_back(ring::supervisor_child("counters", n, spec));
  auto top = supervision::spawn_supervisor(sys, parent);
  if (!top) {
    std::cerr << "ring-test-node: " << actor::render(top.error()) << '\n';
    return EXIT_FAILURE;
  }
  n.adopt(*top);
  // [example]
  // The parent starts its children once it runs, after spawn returned: tests
  // look the ring supervisor up as soon as the node says it listens.
  {
    caf::scoped_actor waiter{sys};
    waiter->request(*top, std::chrono::seconds{10}, supervision::which_children_atom::value)
      .receive([](const std::vector<supervision::child_info>&) {}, [](const caf::error&) {});
  }
  // Report the parent's exit (escalation) on stdout for the tests.
  auto watcher = sys.spawn([top = *top](caf::event_based_actor* self) -> caf::behavior {
    self->monitor(top);
    self->set_down_handler([self](caf::down_msg& dm) {
      if (dm.reason && dm.reason != caf::exit_reason::user_shutdown)
        std::cout << "escalated " << actor::render(dm.reason) << std::endl;
      self->quit();
    });
    return {[](caf::ok_atom) {}};
  });
  std::cout << "listening " << n.identity().endpoint() << std::endl;
  actor::node::await_signal();
  n.shutdown();
  caf::anon_send_exit(watcher, caf::exit_reason::user_shutdown);
  std::fclose(ledger);
  return EXIT_SUCCESS;
}
