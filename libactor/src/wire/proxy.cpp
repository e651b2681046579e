#include "wire/proxy.hpp"

#include <shared_mutex>

#include <caf/exit_reason.hpp>
#include <caf/system_messages.hpp>

namespace ringvisor::actor::wire {

proxy::proxy(caf::actor_config& cfg, std::weak_ptr<hub> owner, route_ptr r)
  : caf::actor_proxy(cfg), hub_(std::move(owner)), route_(std::move(r)) {
  // nop
}

void proxy::send_link(frame_type type, const caf::strong_actor_ptr& linker) {
  if (auto [h, r] = target(); h)
    h->send_link(r, type, id(), linker);
}

std::pair<std::shared_ptr<hub>, route_ptr> proxy::target() {
  std::shared_lock<caf::detail::shared_spinlock> guard{mtx_};
  if (!route_)
    return {nullptr, nullptr};
  return {hub_.lock(), route_};
}

void proxy::enqueue(caf::mailbox_element_ptr what, caf::execution_unit*) {
  auto content = what->move_content_to_message();
  if (content.match_elements<caf::exit_msg>()) {
    // CAF may send it while it holds this proxy's lock and the source's
    // (a link to an actor that is gone): forward it from another thread.
    if (auto [h, r] = target(); h) {
      h->defer_exit(ctrl(), std::move(what->sender), what->mid, std::move(content));
      return;
    }
  }
  send_now(*what, std::move(content));
}

void proxy::forward_exit(caf::strong_actor_ptr sender, caf::message_id mid,
                         caf::message content) {
  unlink_from(content.get_as<caf::exit_msg>(0).source);
  caf::mailbox_element_vals<caf::message> what{std::move(sender), mid, {}, caf::message{}};
  send_now(what, std::move(content));
}

void proxy::send_now(caf::mailbox_element& what, caf::message content) {
  auto [h, r] = target();
  if (!h) {
    // Dead: answer a request as CAF does for a dead actor.
    if (what.mid.is_request() && what.sender)
      what.sender->enqueue(nullptr, what.mid.response_id(),
                           caf::make_message(caf::make_error(caf::sec::request_receiver_down)),
                           nullptr);
    return;
  }
  h->send(r, id(), what, std::move(content));
}

bool proxy::add_backlink(caf::abstract_actor* x) {
  if (!caf::monitorable_actor::add_backlink(x))
    return false;
  if (auto [h, r] = target(); h)
    h->defer_link(frame_type::link, ctrl(), x->ctrl());
  return true;
}

bool proxy::remove_backlink(caf::abstract_actor* x) {
  if (!caf::monitorable_actor::remove_backlink(x))
    return false;
  if (auto [h, r] = target(); h)
    h->defer_link(frame_type::unlink, ctrl(), x->ctrl());
  return true;
}

void proxy::kill_proxy(caf::execution_unit* ctx, caf::error reason) {
  {
    std::unique_lock<caf::detail::shared_spinlock> guard{mtx_};
    route_.reset();
  }
  cleanup(std::move(reason), ctx);
}

} // namespace ringvisor::actor::wire
