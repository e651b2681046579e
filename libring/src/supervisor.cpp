// The ring supervisor's public functions (see ringvisor/ring/supervisor.hpp); the
// ring manager that runs on each node is in ring_manager.hpp.

#include "ringvisor/ring/supervisor.hpp"

#include <ctime>
#include <set>

#include <fmt/format.h>

#include "ring_manager.hpp"
#include "ringvisor/actor/blocking.hpp"
#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/types.hpp"
#include "ringvisor/cluster/agent.hpp"
#include "ringvisor/cluster/hash_ring.hpp"
#include "ringvisor/cluster/lease.hpp"
#include "ringvisor/supervision/errc.hpp"
#include "supervision_names.hpp"

namespace ringvisor::ring {

std::string render_epoch(uint64_t epoch) {
  auto secs = static_cast<std::time_t>(epoch / 1'000'000);
  std::tm utc{};
  ::gmtime_r(&secs, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", utc.tm_year + 1900,
                     utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                     epoch % 1'000'000);
}

uint64_t ring_point(const std::string& sup, const std::string& id) {
  return cluster::hash_ring::hash(sup + '/' + id); // the key of ring_manager's records
}

// Whether `spec` can run on any node: an id, a known type, no start function.
caf::error check_ring_child(const child_spec& spec, const actor::factory_registry* factories,
                            const std::string& sup) {
  if (spec.id.empty() || spec.type.empty())
    return make_error(errc::bad_spec, sup, "a ring child needs an id and a type");
  if (spec.start)
    return make_error(errc::bad_spec, sup, spec.id,
                      "a ring child cannot have a start function: it must start on any node");
  if (factories == nullptr || !factories->contains(spec.type))
    return actor::make_error(actor::errc::unknown_child_type, spec.type,
                             "child " + spec.id + " of ring supervisor " + sup);
  return caf::none;
}

namespace {

caf::error check(const supervisor_spec& spec, const actor::factory_registry& factories) {
  if (spec.name.empty())
    return make_error(errc::bad_spec, "a ring supervisor needs a name");
  if (spec.replicas == 0)
    return make_error(errc::bad_spec, spec.name, "replicas must be at least 1");
  std::set<std::string> seen;
  for (auto& c : spec.children) {
    if (!seen.insert(c.id).second)
      return make_error(errc::bad_spec, spec.name, "duplicate child id " + c.id);
    if (auto err = check_ring_child(c, &factories, spec.name))
      return err;
  }
  return caf::none;
}

// The node's cluster agent, for the ring supervisor `sup`.
caf::expected<caf::actor> agent_of(actor::node& node, const std::string& sup) {
  if (auto agent = cluster::agent_of(node))
    return agent;
  return actor::make_error(actor::errc::bad_config, "ring supervisor " + sup,
                           "this node runs no cluster agent (cluster::start_agent first)");
}

caf::expected<caf::actor> spawn_ring_manager(actor::node& node, const caf::actor& agent,
                                             supervisor_spec spec) {
  auto& factories = spec.factories ? *spec.factories : *node.factories();
  if (auto err = check(spec, factories))
    return err;
  if (!cluster::lease_of(node.system()))
    return actor::make_error(actor::errc::bad_config, "ring supervisor " + spec.name,
                             "this node runs no cluster agent (cluster::start_agent first)");
  // What ring managers and clients send each other.
  auto wire = caf::make_message(child_spec{}, child_record{}, std::vector<child_record>{},
                                inventory{}, inventory_request{}, std::vector<recent_reply>{},
                                placement{}, restore_info{}, std::vector<snapshot_entry>{},
                                std::vector<ring_child>{}, std::vector<node_count>{}, ring_stats{},
                                std::vector<ring_record>{}, std::vector<range_digest>{});
  if (auto err = actor::check_wire_types(node.system(), wire, "ring supervisor " + spec.name))
    return err;
  auto name = directory_name(spec.name);
  auto hdl = node.system().spawn<ring_manager>(&node, agent, std::move(spec));
  if (auto err = node.register_name(name, hdl)) {
    caf::anon_send_exit(hdl, caf::exit_reason::kill);
    return err;
  }
  return hdl;
}

} // namespace

std::string directory_name(const std::string& name) {
  return "ringvisor.ring." + name;
}

caf::expected<ref> start_supervisor(actor::node& node, supervisor_spec spec) {
  auto agent = agent_of(node, spec.name);
  if (!agent)
    return std::move(agent.error());
  auto hdl = spawn_ring_manager(node, *agent, std::move(spec));
  if (!hdl)
    return std::move(hdl.error());
  node.adopt(*hdl);
  return ref{node.system(), std::move(*hdl)};
}

child_spec supervisor_child(std::string id, actor::node& node, supervisor_spec spec) {
  child_spec result;
  result.id = std::move(id);
  result.type = "ring_supervisor:" + spec.name;
  result.kind = child_kind::supervisor;
  result.shutdown = shutdown_policy::after(node.config().shutdown_grace);
  result.start = [&node, spec = std::move(spec)](caf::actor_system&) -> caf::expected<caf::actor> {
    auto agent = agent_of(node, spec.name);
    if (!agent)
      return std::move(agent.error());
    return spawn_ring_manager(node, *agent, spec);
  };
  return result;
}

caf::expected<ref> lookup(actor::node& node, const std::string& name) {
  auto hdl =
    actor::blocking_request<caf::actor>(node.system(), node.directory(), std::chrono::seconds{5},
                                        caf::get_atom::value, directory_name(name));
  if (!hdl)
    return std::move(hdl.error());
  return ref{node.system(), std::move(*hdl)};
}

const char* to_string(restore_info::origin x) {
  switch (x) {
    case restore_info::origin::fresh:
      return "fresh";
    case restore_info::origin::handed_over:
      return "handed_over";
    case restore_info::origin::snapshot:
      return "snapshot";
  }
  return "?";
}

} // namespace ringvisor::ring
