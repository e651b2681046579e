#pragma once

// The wire's actor glue (private to libactor): CAF's proxy registry backend.
// It turns frames into mailbox elements and back: a message to a remote
// handle is serialized and written by the sending thread (`proxy`), a frame
// that arrives is deserialized by the I/O thread and put straight into the
// receiver's mailbox. It keeps, per remote node, the route its proxies use
// (a direct link or a relay through the node that introduced it), the
// requests in flight to each node (failed with `member_down` when the node is
// lost), and which local actors each node watches (their `down` goes out when
// they exit).

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/message_id.hpp>
#include <caf/node_id.hpp>
#include <caf/proxy_registry.hpp>
#include <caf/scoped_execution_unit.hpp>

#include "wire/engine.hpp"

namespace ringvisor::actor::wire {

/// Tags a deferred `exit_msg` for the hub's helper.
using forward_exit_atom = caf::atom_constant<caf::atom("rv_wexit")>;

/// Where a remote node's proxies send: a direct link, or a relay through
/// another node's link. Shared by all proxies of the node.
struct route {
  caf::node_id node;
  std::string key; // `node` as bytes, as in the hello
  std::mutex mtx;
  link_ptr via;       // null once the node is lost
  bool direct = false;
  std::string name;   // the peer's name, for errors

  link_ptr current() {
    std::lock_guard<std::mutex> guard{mtx};
    return via;
  }

  /// Returns the link and whether it leads to the node itself, at once.
  std::pair<link_ptr, bool> hop() {
    std::lock_guard<std::mutex> guard{mtx};
    return {via, direct};
  }

  std::string peer_name() {
    std::lock_guard<std::mutex> guard{mtx};
    return name;
  }
};

using route_ptr = std::shared_ptr<route>;

class hub final : public engine_listener,
                  public caf::proxy_registry::backend,
                  public std::enable_shared_from_this<hub> {
public:
  explicit hub(caf::actor_system& sys);

  ~hub() override;

  /// Whether to warn about every new peer (no secret: anyone gets in).
  bool warn_insecure = false;

  /// Requests in flight failed because their node was lost.
  std::atomic<uint64_t> requests_failed{0};

  /// Messages dropped because they could not be decoded.
  std::atomic<uint64_t> undecodable{0};

  /// Connects the hub to its engine (once, before any link comes up).
  void attach(engine& eng) {
    engine_ = &eng;
  }

  caf::actor_system& system() noexcept {
    return sys_;
  }

  caf::proxy_registry& proxies() noexcept {
    return registry_;
  }

  /// `sys.node()` as bytes.
  const std::string& self_key() const noexcept {
    return self_key_;
  }

  /// Returns the directory a peer named in its hello, or null.
  caf::actor directory_of(const link_ptr& l);

  /// Sends `what` to the actor `aid` on `r`'s node (proxy::enqueue).
  void send(const route_ptr& r, caf::actor_id aid, caf::mailbox_element& what,
            caf::message content);

  /// Asks `r`'s node to link its actor `target` with our `linker` (or unlink).
  void send_link(const route_ptr& r, frame_type type, caf::actor_id target,
                 const caf::strong_actor_ptr& linker);

  /// Has `send_link` run for `proxy` soon, on another thread: CAF asks for a
  /// link while it holds both actors' locks, and writing the linker's handle
  /// locks the linker again (to pin it in the registry).
  void defer_link(frame_type type, caf::strong_actor_ptr proxy, caf::strong_actor_ptr linker);

  /// Has `proxy` forward an `exit_msg` soon, on another thread (for the
  /// same reason as `defer_link`).
  void defer_exit(caf::strong_actor_ptr proxy, caf::strong_actor_ptr sender, caf::message_id mid,
                  caf::message content);

  /// The actor that runs deferred work (set by the module).
  caf::actor helper;

  /// Kills every proxy and fails every request in flight (the wire stops).
  void stop();

  // -- engine_listener ---------------------------------------------------------
  void on_peer_up(const link_ptr& l) override;
  void on_peer_down(const link_ptr& l, const std::string& why) override;
  void on_frame(const link_ptr& l, frame& f) override;

  // -- proxy_registry::backend -------------------------------------------------
  caf::strong_actor_ptr make_proxy(caf::node_id nid, caf::actor_id aid) override;
  void set_last_hop(caf::node_id* ptr) override;

  /// Serializes `x` to bytes (node ids travel as such in hellos and routes).
  static std::string to_key(caf::actor_system& sys, const caf::node_id& x);

  /// Reads a node id written by `to_key`.
  static caf::node_id from_key(caf::actor_system& sys, const std::string& key);

private:
  struct pending_request {
    caf::weak_actor_ptr requester;
    caf::node_id node;
  };

  // Writes `payload` as a frame of `type` to `r`, routed through a relay if
  // `r` is not direct. Returns what the engine said.
  engine::send_result write(const route_ptr& r, frame_type type,
                            const std::vector<char>& payload);
  route_ptr route_to(const caf::node_id& nid);
  void deliver(const link_ptr& from, const char* data, size_t size);
  // An answer to request `mid` of actor `aid` arrived: the request is no
  // longer in flight and its timeout goes. Returns the requester, if alive.
  caf::strong_actor_ptr answered(caf::actor_id aid, caf::message_id mid);
  void relay(const link_ptr& from, frame& f, const std::string& dst_key);
  void on_announce(const caf::node_id& from, const route_ptr& back, caf::actor_id aid);
  void on_local_exit(caf::actor_id aid, const caf::error& reason);
  // The payload of a `down` frame: the actor and why it exited.
  std::optional<std::vector<char>> down_payload(caf::actor_id aid, caf::error reason);
  void on_link_frame(const caf::node_id& from, frame_type type, caf::actor_id linker,
                     caf::actor_id target);
  void lose(std::vector<route_ptr> lost, const std::string& why);
  void bounce(const caf::strong_actor_ptr& sender, caf::message_id mid, caf::error err);

  caf::actor_system& sys_;
  engine* engine_ = nullptr;
  caf::proxy_registry registry_;
  std::string self_key_;

  std::mutex routes_mtx_;
  std::unordered_map<caf::node_id, route_ptr> routes_;

  std::mutex inflight_mtx_;
  std::map<std::pair<caf::actor_id, uint64_t>, pending_request> inflight_;
  size_t inserts_since_sweep_ = 0;

  // A local actor that peers watch: which nodes, and whether our functor is
  // attached to it (once per actor, whatever peers come and go).
  struct watched {
    std::set<caf::node_id> nodes;
    bool attached = false;
  };

  std::mutex monitored_mtx_;
  std::unordered_map<caf::actor_id, watched> monitored_;
};

} // namespace ringvisor::actor::wire
