// Vocabulary of libsupervision: names, type registration and the blocking
// client API, kept apart from the supervisor actor itself.

#include "ringvisor/supervision/child_spec.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "blocking_ok.hpp"
#include "child_list.hpp"
#include "replicated_store.hpp"
#include "snapshots.hpp"
#include "ring_wire.hpp"
#include "ringvisor/supervision/ring_supervisor.hpp"
#include "ringvisor/actor/errc.hpp"
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

void add_types(caf::actor_system_config& cfg) {
  actor::add_types(cfg); // libactor's types, and CAF's link heartbeats
  cfg.add_message_type<child_spec>("ringvisor::child_spec");
  cfg.add_message_type<child_info>("ringvisor::child_info");
  cfg.add_message_type<std::vector<child_info>>("ringvisor::child_info_list");
  cfg.add_message_type<child_counts>("ringvisor::child_counts");
  cfg.add_message_type<store_dot>("ringvisor::store_dot");
  cfg.add_message_type<std::vector<store_dot>>("ringvisor::store_dot_list");
  cfg.add_message_type<store_entry>("ringvisor::store_entry");
  cfg.add_message_type<std::vector<store_entry>>("ringvisor::store_entry_list");
  cfg.add_message_type<placement>("ringvisor::placement");
  cfg.add_message_type<ring_child>("ringvisor::ring_child");
  cfg.add_message_type<std::vector<ring_child>>("ringvisor::ring_child_list");
  cfg.add_message_type<node_count>("ringvisor::node_count");
  cfg.add_message_type<std::vector<node_count>>("ringvisor::node_count_list");
  cfg.add_message_type<ring_stats>("ringvisor::ring_stats");
  cfg.add_message_type<ring_record>("ringvisor::ring_record");
  cfg.add_message_type<std::vector<ring_record>>("ringvisor::ring_record_list");
  cfg.add_message_type<recent_reply>("ringvisor::recent_reply");
  cfg.add_message_type<std::vector<recent_reply>>("ringvisor::recent_reply_list");
  cfg.add_message_type<child_record>("ringvisor::child_record");
  cfg.add_message_type<std::vector<child_record>>("ringvisor::child_record_list");
  cfg.add_message_type<inventory>("ringvisor::inventory");
  cfg.add_message_type<range_digest>("ringvisor::range_digest");
  cfg.add_message_type<std::vector<range_digest>>("ringvisor::range_digest_list");
  cfg.add_message_type<restore_info>("ringvisor::restore_info");
  cfg.add_message_type<stored_state>("ringvisor::stored_state");
  cfg.add_message_type<std::vector<stored_state>>("ringvisor::stored_state_list");
  cfg.add_message_type<snapshot_entry>("ringvisor::snapshot_entry");
  cfg.add_message_type<std::vector<snapshot_entry>>("ringvisor::snapshot_entry_list");
  actor::add_error_renderer(cfg, errc_category, "ringvisor.supervision",
                            [](uint8_t code) {
                              return to_string(static_cast<errc>(code));
                            });
}

// -- blocking client API ------------------------------------------------------

using actor::blocking_request;
using detail::blocking_ok;

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
