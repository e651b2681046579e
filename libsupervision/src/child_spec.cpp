// Vocabulary of libsupervision: names, type registration and the blocking
// client API, kept apart from the supervisor actor itself.

#include "ringvisor/supervision/child_spec.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "ringvisor/actor/blocking.hpp"
#include "ringvisor/actor/types.hpp"
#include "ringvisor/supervision/errc.hpp"
#include "ringvisor/supervision/supervisor.hpp"
#include "ringvisor/supervision/types.hpp"

namespace ringvisor::supervision {

std::string to_string(errc x) {
  switch (x) {
    case errc::reached_max_restart_intensity:
      return "reached_max_restart_intensity";
    case errc::start_failed:
      return "start_failed";
    case errc::already_present:
      return "already_present";
    case errc::already_started:
      return "already_started";
    case errc::not_found:
      return "not_found";
    case errc::running:
      return "running";
    case errc::shutting_down:
      return "shutting_down";
    case errc::bad_spec:
      return "bad_spec";
    case errc::store_failed:
      return "store_failed";
    case errc::no_owner:
      return "no_owner";
  }
  return "errc(" + std::to_string(static_cast<int>(x)) + ")";
}

const char* to_string(restart_type x) {
  switch (x) {
    case restart_type::permanent:
      return "permanent";
    case restart_type::transient:
      return "transient";
    case restart_type::temporary:
      return "temporary";
  }
  return "?";
}

void add_types(caf::actor_system_config& cfg) {
  actor::add_types(cfg); // libactor's types, and CAF's link heartbeats
  cfg.add_message_type<child_spec>("ringvisor::child_spec");
  cfg.add_message_type<child_info>("ringvisor::child_info");
  cfg.add_message_type<std::vector<child_info>>("ringvisor::child_info_list");
  cfg.add_message_type<child_counts>("ringvisor::child_counts");
  actor::add_error_renderer(cfg, errc_category, "ringvisor.supervision",
                            [](uint8_t code) {
                              return to_string(static_cast<errc>(code));
                            });
}

// -- blocking client API ------------------------------------------------------

using actor::blocking_ok;
using actor::blocking_request;

caf::expected<caf::actor> start_child(caf::actor_system& sys,
                                      const caf::actor& sup, child_spec spec,
                                      caf::timespan timeout) {
  return blocking_request<caf::actor>(sys, sup, timeout, start_child_atom::value,
                          std::move(spec));
}

caf::error terminate_child(caf::actor_system& sys, const caf::actor& sup,
                           const std::string& id, caf::timespan timeout) {
  return blocking_ok(sys, sup, timeout, terminate_child_atom::value, id);
}

caf::expected<caf::actor> restart_child(caf::actor_system& sys,
                                        const caf::actor& sup,
                                        const std::string& id,
                                        caf::timespan timeout) {
  return blocking_request<caf::actor>(sys, sup, timeout, restart_child_atom::value, id);
}

caf::error delete_child(caf::actor_system& sys, const caf::actor& sup,
                        const std::string& id, caf::timespan timeout) {
  return blocking_ok(sys, sup, timeout, delete_child_atom::value, id);
}

caf::expected<std::vector<child_info>>
which_children(caf::actor_system& sys, const caf::actor& sup,
               caf::timespan timeout) {
  return blocking_request<std::vector<child_info>>(sys, sup, timeout,
                                       which_children_atom::value);
}

caf::expected<child_counts> count_children(caf::actor_system& sys,
                                           const caf::actor& sup,
                                           caf::timespan timeout) {
  return blocking_request<child_counts>(sys, sup, timeout, count_children_atom::value);
}

} // namespace ringvisor::supervision
