#pragma once

namespace ringvisor::ring {

class child_store;
class client;
class ownership;
class ref;
struct node_count;
struct placement;
struct replicated_store_options;
struct restore_info;
struct ring_child;
struct ring_record;
struct ring_stats;
struct sqlite_store_options;
struct stored_state;
struct supervisor_spec;

template <class R>
class pending_reply;

} // namespace ringvisor::ring
