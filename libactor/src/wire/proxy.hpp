#pragma once

// A remote actor's stand-in (private to libactor). A message enqueued here
// is serialized and written by the sending thread, with no broker actor in
// between; a link to it becomes a `link` frame; when its node is lost or
// its actor exits, the hub kills it and its monitors and links learn why.

#include <memory>

#include <caf/actor_proxy.hpp>
#include <caf/detail/shared_spinlock.hpp>

#include "wire/hub.hpp"

namespace ringvisor::actor::wire {

class proxy final : public caf::actor_proxy {
public:
  proxy(caf::actor_config& cfg, std::weak_ptr<hub> owner, route_ptr r);

  void enqueue(caf::mailbox_element_ptr what, caf::execution_unit* ctx) override;

  bool add_backlink(caf::abstract_actor* x) override;

  bool remove_backlink(caf::abstract_actor* x) override;

  void kill_proxy(caf::execution_unit* ctx, caf::error reason) override;

  /// Writes a `link` or `unlink` frame for `linker` (see `hub::defer_link`).
  void send_link(frame_type type, const caf::strong_actor_ptr& linker);

  /// Forwards an `exit_msg` (see `hub::defer_exit`).
  void forward_exit(caf::strong_actor_ptr sender, caf::message_id mid, caf::message content);

private:
  void send_now(caf::mailbox_element& what, caf::message content);

  // Returns the hub and route while the proxy lives, else nulls.
  std::pair<std::shared_ptr<hub>, route_ptr> target();

  caf::detail::shared_spinlock mtx_;
  std::weak_ptr<hub> hub_;
  route_ptr route_;
};

} // namespace ringvisor::actor::wire
