// `ringvisor-chaos node`: one cluster node of a chaos run. The node, its
// cluster agent and the ring supervisor "chaos" (replicated store, children
// told their placement, under a parent supervisor that gives up at once)
// are set up as tests/ring/ring_node.cpp does; its children are accounts
// (account.hpp). Writes the ledger `<ledger-dir>/<node>-<pid>.ledger`, its
// log to `<ledger-dir>/<node>-<pid>.log`, and `status <now>` lines to the
// ledger on every cluster status change (a `split` may reset counts).
// Prints `listening <host:port>` once it serves.

#include <cstdlib>
#include <iostream>

#include <caf/all.hpp>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include "account.hpp"
#include "ringvisor/actor/all.hpp"
#include "ringvisor/cluster/agent.hpp"
#include "ringvisor/ring/all.hpp"
#include "roles.hpp"

using namespace std::chrono_literals;

namespace ringvisor::chaos {

namespace {

struct node_role_config : actor::node_config {
  std::string ledger_dir;
  caf::timespan tick = 5ms;

  node_role_config() {
    opt_group{custom_options_, "chaos"}
      .add(ledger_dir, "ledger-dir", "where the ledger and the log go (required)")
      .add(tick, "tick", "how often each child acts");
    ringvisor::add_types(*this);
  }
};

int fail(const std::string& what) {
  std::cerr << "ringvisor-chaos node: " << what << '\n';
  return EXIT_FAILURE;
}

// Writes `status <now>` for every status change of the cluster agent, and
// `status escalated` if the ring supervisor's parent gives up.
caf::behavior status_watcher(caf::event_based_actor* self, caf::actor agent,
                             caf::actor top, std::shared_ptr<ledger_writer> out) {
  self->send(agent, cluster::subscribe_atom::value, caf::actor{self});
  self->monitor(top);
  self->set_down_handler([self, out](caf::down_msg& dm) {
    if (dm.reason && dm.reason != caf::exit_reason::user_shutdown) {
      out->write("-", "-", "status escalated");
      std::cerr << "escalated " << actor::render(dm.reason) << std::endl;
    }
    self->quit();
  });
  return {
    [](cluster::view_atom, const std::vector<cluster::member>&) {},
    [out](cluster::status_atom, cluster::cluster_status, cluster::cluster_status now,
          const std::vector<cluster::member>&) {
      out->write("-", "-", fmt::format("status {}", cluster::to_string(now)));
    },
  };
}

ring::supervisor_spec chaos_spec(actor::node& n) {
  ring::supervisor_spec spec;
  spec.name = "chaos";
  spec.max_restarts = 3;
  spec.period = 5s;
  spec.tell_placement = true;
  spec.migrate = account_state_request; // snapshots apart from moves
  if (auto store = ring::open_replicated_store(n, {"chaos", {}}))
    spec.stores.push_back(std::move(*store));
  else
    std::cerr << "ringvisor-chaos node: " << actor::render(store.error()) << '\n';
  return spec;
}

} // namespace

int run_node(int argc, char** argv) {
  node_role_config cfg;
  if (auto err = cfg.read(argc, argv))
    return fail(actor::render(err));
  if (cfg.printed_and_done())
    return EXIT_SUCCESS;
  if (cfg.ledger_dir.empty())
    return fail("set --chaos.ledger-dir");
  if (cfg.tick < 1ms)
    return fail("--chaos.tick must be at least 1ms");
  // The log goes next to the ledger: the controller does not read stderr.
  auto log_path = fmt::format("{}/{}-{}.log", cfg.ledger_dir, cfg.name, ::getpid());
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0 || ::dup2(log_fd, STDERR_FILENO) < 0)
    return fail("cannot write " + log_path);
  ::close(log_fd);
  auto out = ledger_writer::open(cfg.ledger_dir, cfg.name);
  if (!out)
    return fail("cannot write the ledger in " + cfg.ledger_dir);
  auto started = actor::node::start(cfg);
  if (!started)
    return fail(actor::render(started.error()));
  auto& n = **started;
  auto& sys = n.system();
  if (auto err = add_account_type(*n.factories(), out, cfg.tick))
    return fail(actor::render(err));
  auto agent_started = cluster::start_agent(n);
  if (!agent_started)
    return fail(actor::render(agent_started.error()));
  auto agent = *agent_started;

  supervision::supervisor_spec parent;
  parent.name = "chaos-parent";
  parent.max_restarts = 0;
  parent.children.push_back(ring::supervisor_child("chaos", n, chaos_spec(n)));
  auto top = supervision::spawn_supervisor(sys, parent);
  if (!top)
    return fail(actor::render(top.error()));
  n.adopt(*top);
  n.adopt(sys.spawn(status_watcher, agent, *top, out));
  std::cout << "listening " << n.identity().endpoint() << std::endl;
  actor::node::await_signal();
  n.shutdown();
  return EXIT_SUCCESS;
}

} // namespace ringvisor::chaos
