// Type registration: libring's message types, and every library's at once.

#include "ringvisor/types.hpp"

#include <caf/actor_system_config.hpp>

#include "child_list.hpp"
#include "protocol.hpp"
#include "replicated_store.hpp"
#include "ringvisor/cluster/agent.hpp"
#include "ringvisor/ring/supervisor.hpp"
#include "ringvisor/ring/types.hpp"
#include "ringvisor/supervision/types.hpp"
#include "snapshots.hpp"

namespace ringvisor {

namespace ring {

void add_types(caf::actor_system_config& cfg) {
  cluster::add_types(cfg); // libactor's too
  supervision::add_types(cfg);
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
  cfg.add_message_type<inventory_request>("ringvisor::inventory_request");
  cfg.add_message_type<range_digest>("ringvisor::range_digest");
  cfg.add_message_type<std::vector<range_digest>>("ringvisor::range_digest_list");
  cfg.add_message_type<restore_info>("ringvisor::restore_info");
  cfg.add_message_type<stored_state>("ringvisor::stored_state");
  cfg.add_message_type<std::vector<stored_state>>("ringvisor::stored_state_list");
  cfg.add_message_type<snapshot_entry>("ringvisor::snapshot_entry");
  cfg.add_message_type<std::vector<snapshot_entry>>("ringvisor::snapshot_entry_list");
}

} // namespace ring

void add_types(caf::actor_system_config& cfg) {
  ring::add_types(cfg);
}

} // namespace ringvisor
