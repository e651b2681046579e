// `ring::ref`: the requests to a ring supervisor, from threads and actors.

#include "ringvisor/ring/ref.hpp"

#include <random>

#include "asking.hpp"
#include "protocol.hpp"
#include "supervision_names.hpp"

namespace ringvisor::ring {

namespace detail {

namespace {

// A new request id per call or exec: a retry, through any member, reuses it.
uint64_t new_request_id() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return gen();
}

} // namespace

caf::message start_message(child_spec spec) {
  return caf::make_message(ring_start_atom::value, std::move(spec));
}

caf::message delete_message(const std::string& id) {
  return caf::make_message(ring_delete_atom::value, id);
}

caf::message terminate_message(const std::string& id) {
  return caf::make_message(ring_terminate_atom::value, id);
}

caf::message restart_message(const std::string& id) {
  return caf::make_message(ring_restart_atom::value, id);
}

caf::message pin_message(const std::string& id, const std::string& member) {
  return caf::make_message(ring_pin_atom::value, id, member);
}

caf::message find_message(const std::string& id) {
  return caf::make_message(ring_find_atom::value, id, uint8_t{0});
}

caf::message call_message(const std::string& id, caf::message msg) {
  return caf::make_message(ring_call_atom::value, new_request_id(), id, std::move(msg), uint8_t{0});
}

caf::message exec_message(const std::string& id, const std::string& function, caf::message args) {
  return caf::make_message(ring_exec_atom::value, new_request_id(), id, function, std::move(args),
                           uint8_t{0});
}

caf::message stats_message() {
  return caf::make_message(ring_stats_atom::value);
}

caf::expected<caf::message> ask(caf::actor_system& sys, const caf::actor& sup,
                                const caf::message& msg, caf::timespan timeout, bool routed) {
  bool sent = false;
  return ask_member(sys, sup, msg, clock_type::now() + timeout, patience_for(routed, timeout),
                    sent);
}

void ask(caf::event_based_actor* self, const caf::actor& sup, caf::message msg,
         caf::timespan timeout, bool routed, reply_fn f, error_fn g) {
  ask_member(self, sup, std::move(msg), clock_type::now() + timeout, patience_for(routed, timeout),
             std::move(f), std::move(g));
}

} // namespace detail

ref::ref(caf::actor_system& sys, caf::actor sup) : sys_(&sys), sup_(std::move(sup)) {
  // nop
}

ref ref::within(caf::timespan timeout) const {
  auto result = *this;
  result.timeout_ = timeout;
  return result;
}

caf::expected<caf::message> ref::ask(const caf::message& msg, bool routed) const {
  if (sys_ == nullptr)
    return caf::make_error(caf::sec::invalid_argument, "a ring::ref that reaches nothing");
  return detail::ask(*sys_, sup_, msg, timeout_, routed);
}

caf::expected<placement> ref::find(const std::string& id) const {
  return detail::reply_as<placement>(ask(detail::find_message(id), true));
}

namespace {

// The error of a change's reply, or none if it is `ok`.
caf::error ok_or_error(caf::expected<caf::message> reply) {
  auto ok = detail::reply_as<caf::ok_atom>(std::move(reply));
  return ok ? caf::error{} : std::move(ok.error());
}

} // namespace

caf::expected<placement> ref::start_child(child_spec spec) const {
  return detail::reply_as<placement>(ask(detail::start_message(std::move(spec)), false));
}

caf::error ref::delete_child(const std::string& id) const {
  return ok_or_error(ask(detail::delete_message(id), false));
}

caf::error ref::terminate_child(const std::string& id) const {
  return ok_or_error(ask(detail::terminate_message(id), false));
}

caf::expected<placement> ref::restart_child(const std::string& id) const {
  return detail::reply_as<placement>(ask(detail::restart_message(id), false));
}

caf::error ref::pin_child(const std::string& id, const std::string& member) const {
  return ok_or_error(ask(detail::pin_message(id, member), false));
}

caf::expected<std::vector<ring_child>> ref::which_children() const {
  return detail::reply_as<std::vector<ring_child>>(
    ask(caf::make_message(ring_which_atom::value), false));
}

caf::expected<child_counts> ref::count_children() const {
  auto all = which_children();
  if (!all)
    return std::move(all.error());
  return counts_of(*all);
}

caf::expected<std::vector<ring_child>> ref::local_children() const {
  return detail::reply_as<std::vector<ring_child>>(
    ask(caf::make_message(ring_local_atom::value), false));
}

caf::expected<std::vector<node_count>> ref::running_per_node() const {
  return detail::reply_as<std::vector<node_count>>(
    ask(caf::make_message(ring_count_atom::value), false));
}

caf::expected<ring_stats> ref::stats() const {
  return detail::reply_as<ring_stats>(ask(detail::stats_message(), false));
}

caf::expected<std::vector<ring_record>> ref::records() const {
  return detail::reply_as<std::vector<ring_record>>(
    ask(caf::make_message(ring_records_atom::value), false));
}

} // namespace ringvisor::ring
