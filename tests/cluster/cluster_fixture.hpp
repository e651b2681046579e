#pragma once

// Cluster agents of nodes in this process, talking over real TCP on loopback
// with ephemeral ports, and a way to wait for a node's view.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <doctest/doctest.h>

#include "ringvisor/actor/directory.hpp"
#include "ringvisor/actor/node.hpp"
#include "ringvisor/cluster/agent.hpp"
#include "support/printers.hpp"
#include "support/views.hpp"

namespace ringvisor::test {

/// A node with a cluster agent, in this process, on an ephemeral port.
struct test_node {
  actor::node_config cfg;
  std::unique_ptr<actor::node> node;
  caf::actor agent;

  test_node(const std::string& name, const strings& seeds, size_t consensus = 1,
            cluster::cluster_valid_fn cluster_valid = {}, const strings& extra_args = {},
            const std::function<void(actor::node_config&)>& prepare = {}) {
    cluster::add_types(cfg);
    if (prepare)
      prepare(cfg); // more message types

    strings args{"--ringvisor.name=" + name, "--ringvisor.log-level=warn",
                 "--scheduler.max-threads=2",
                 "--ringvisor.consensus=" + std::to_string(consensus)};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    if (!seeds.empty()) {
      std::string list = "--ringvisor.seeds=[";
      for (auto& s : seeds)
        list += (list.back() == '[' ? "\"" : ",\"") + s + "\"";
      args.push_back(list + "]");
    }
    REQUIRE(!cfg.read(args, ""));
    auto n = actor::node::start(cfg);
    REQUIRE_MESSAGE(n, ringvisor::test::why(n));
    node = std::move(*n);
    auto started = cluster::start_agent(*node, {std::chrono::milliseconds{100},
                                                std::move(cluster_valid)});
    REQUIRE_MESSAGE(started, ringvisor::test::why(started));
    agent = *started;
  }

  std::string endpoint() const {
    return node->identity().endpoint();
  }
};

/// Waits until `n`'s agent sees exactly `up` up, `down` down and `removed`
/// removed, or fails after `timeout`.
inline void await_view(test_node& n, const strings& up, const strings& down = {},
                const strings& removed = {},
                std::chrono::seconds timeout = std::chrono::seconds{10}) {
  caf::scoped_actor self{n.node->system()};
  self->send(n.agent, cluster::subscribe_atom::value, caf::actor{self});
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<cluster::member> last;
  while (std::chrono::steady_clock::now() < deadline) {
    bool timed_out = false;
    self->receive(
      [&](cluster::view_atom, std::vector<cluster::member>& xs) {
        last = std::move(xs);
      },
      [](cluster::status_atom, cluster::cluster_status, cluster::cluster_status,
         const std::vector<cluster::member>&) {},
      caf::after(deadline - std::chrono::steady_clock::now()) >>
        [&] { timed_out = true; });
    if (with_status(last, cluster::member_status::up) == up
        && with_status(last, cluster::member_status::down) == down
        && with_status(last, cluster::member_status::removed) == removed)
      return;
    if (timed_out)
      break;
  }
  CAPTURE(with_status(last, cluster::member_status::up));
  CAPTURE(with_status(last, cluster::member_status::down));
  CAPTURE(with_status(last, cluster::member_status::removed));
  FAIL("view of " << n.node->identity().name << " did not converge");
}

/// Waits until `n`'s agent reports `status`, or fails after `timeout`.
inline void await_status(test_node& n, cluster::cluster_status status,
                         std::chrono::seconds timeout = std::chrono::seconds{10}) {
  caf::scoped_actor self{n.node->system()};
  self->send(n.agent, cluster::subscribe_atom::value, caf::actor{self});
  auto now = cluster::cluster_status::stopping;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  while (now != status && !timed_out)
    self->receive(
      [](cluster::view_atom, const std::vector<cluster::member>&) {},
      [&](cluster::status_atom, cluster::cluster_status, cluster::cluster_status x,
          const std::vector<cluster::member>&) { now = x; },
      caf::after(deadline - std::chrono::steady_clock::now()) >>
        [&] { timed_out = true; });
  CHECK_MESSAGE(now == status, n.node->identity().name << " is "
                                 << std::string{cluster::to_string(now)} << ", not "
                                 << std::string{cluster::to_string(status)});
}

/// Returns the view of the node listening at `endpoint`, asked from `via`
/// through that node's directory.
inline std::vector<cluster::member> view_of(test_node& via,
                                            const std::string& endpoint) {
  auto dir = actor::remote_directory(via.node->system(), endpoint, std::chrono::seconds{5});
  REQUIRE_MESSAGE(dir, why(dir));
  caf::scoped_actor self{via.node->system()};
  std::vector<cluster::member> result;
  self->request(*dir, std::chrono::seconds{5}, caf::get_atom::value,
                std::string{"cluster"})
    .receive(
      [&](caf::actor& agent) {
        self->request(agent, std::chrono::seconds{5}, caf::get_atom::value,
                      cluster::members_atom::value)
          .receive([&](std::vector<cluster::member>& xs) { result = std::move(xs); },
                   [](caf::error& err) { FAIL(actor::render(err)); });
      },
      [](caf::error& err) { FAIL(actor::render(err)); });
  return result;
}

} // namespace ringvisor::test
