#include "wire/hub.hpp"

#include <caf/binary_serializer.hpp>
#include <caf/exit_reason.hpp>
#include <caf/make_actor.hpp>
#include <caf/send.hpp>

#include <utility>

#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/log.hpp"
#include "wire/bounded_deserializer.hpp"
#include "wire/proxy.hpp"

namespace ringvisor::actor::wire {

namespace {

// A frame whose payload starts with `src key | dst key` (each u32 length
// and bytes): it goes through a relay to a node without a direct link.
constexpr uint8_t routed_flag = 0x01;

// The link the I/O thread is reading from: a handle to a node without a
// route gets one through it (the node that sent the handle can reach it).
thread_local const link_ptr* current_hop = nullptr;

// Node ids are a few dozen bytes: a longer key in a routed frame is garbage.
constexpr size_t max_key = 256;

} // namespace

hub::hub(caf::actor_system& sys)
  : sys_(sys), registry_(sys, *this), self_key_(to_key(sys, sys.node())) {
  // nop
}

hub::~hub() = default;

std::string hub::to_key(caf::actor_system& sys, const caf::node_id& x) {
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  auto copy = x;
  if (sink(copy))
    return {};
  return {buf.begin(), buf.end()};
}

caf::node_id hub::from_key(caf::actor_system& sys, const std::string& key) {
  caf::node_id result;
  bounded_deserializer source{sys, key.data(), key.size()};
  if (source(result) || source.remaining() != 0)
    return {};
  return result;
}

caf::actor hub::directory_of(const link_ptr& l) {
  auto r = std::static_pointer_cast<route>(l->user);
  if (!r || l->peer.extra.empty())
    return {};
  caf::actor_id aid = 0;
  try {
    aid = std::stoull(l->peer.extra);
  } catch (...) {
    return {};
  }
  return caf::actor_cast<caf::actor>(registry_.get_or_put(r->node, aid));
}

// -- sending ------------------------------------------------------------------

engine::send_result hub::write(const route_ptr& r, frame_type type,
                               const std::vector<char>& payload) {
  auto [l, direct] = r->hop();
  if (!l)
    return engine::send_result::closed;
  auto control = type != frame_type::msg;
  if (direct)
    return engine_->send(*l, type, 0, reinterpret_cast<const uint8_t*>(payload.data()),
                         payload.size(), control);
  std::vector<uint8_t> routed;
  routed.reserve(payload.size() + 8 + self_key_.size() + r->key.size());
  put_string(routed, self_key_);
  put_string(routed, r->key);
  routed.insert(routed.end(), payload.begin(), payload.end());
  return engine_->send(*l, type, routed_flag, routed.data(), routed.size(), control);
}

void hub::bounce(const caf::strong_actor_ptr& sender, caf::message_id mid, caf::error err) {
  if (sender && mid.is_request())
    sender->enqueue(nullptr, mid.response_id(), caf::make_message(std::move(err)), nullptr);
}

void hub::send(const route_ptr& r, caf::actor_id aid, caf::mailbox_element& what,
               caf::message content) {
  thread_local std::vector<char> buf;
  buf.clear();
  caf::scoped_execution_unit ctx{&sys_};
  caf::binary_serializer sink{&ctx, buf};
  auto mid = what.mid.integer_value();
  if (auto err = sink(aid, mid, what.sender, what.stages, content)) {
    log::warn("wire_cannot_serialize", {{"error", sys_.render(err)}});
    if (!what.mid.is_response())
      return bounce(what.sender, what.mid, std::move(err));
    // A reply that cannot travel: the requester gets the error instead.
    buf.clear();
    auto reply = caf::make_message(std::move(err));
    caf::binary_serializer again{&ctx, buf};
    if (again(aid, mid, what.sender, what.stages, reply))
      return;
  }
  // A request of a local actor: fail it at once if the node is lost.
  std::pair<caf::actor_id, uint64_t> key{0, 0};
  if (what.mid.is_request() && what.sender && what.sender->node() == sys_.node()) {
    key = {what.sender->id(), what.mid.response_id().integer_value()};
    std::lock_guard<std::mutex> guard{inflight_mtx_};
    inflight_[key] = pending_request{caf::weak_actor_ptr{what.sender.get()}, r->node};
    if (++inserts_since_sweep_ >= 1024) {
      // Requests that timed out stay until their node is lost; drop those
      // whose requester is gone.
      inserts_since_sweep_ = 0;
      for (auto i = inflight_.begin(); i != inflight_.end();)
        i = i->second.requester.lock() ? std::next(i) : inflight_.erase(i);
    }
  }
  auto result = write(r, frame_type::msg, buf);
  if (result == engine::send_result::ok)
    return;
  if (key.first != 0) {
    std::lock_guard<std::mutex> guard{inflight_mtx_};
    inflight_.erase(key);
  }
  switch (result) {
    case engine::send_result::overloaded:
      return bounce(what.sender, what.mid, make_error(errc::peer_overloaded, r->peer_name()));
    case engine::send_result::too_large:
      return bounce(what.sender, what.mid,
                    make_error(errc::frame_too_large, std::to_string(buf.size()) + " bytes"));
    default:
      return bounce(what.sender, what.mid, caf::make_error(caf::sec::request_receiver_down));
  }
}

void hub::send_link(const route_ptr& r, frame_type type, caf::actor_id target,
                    const caf::strong_actor_ptr& linker) {
  std::vector<char> buf;
  caf::scoped_execution_unit ctx{&sys_};
  caf::binary_serializer sink{&ctx, buf};
  auto copy = linker;
  if (!sink(target, copy))
    write(r, type, buf);
}

void hub::defer_link(frame_type type, caf::strong_actor_ptr proxy_ptr,
                     caf::strong_actor_ptr linker) {
  caf::anon_send(helper, static_cast<uint8_t>(type), std::move(proxy_ptr), std::move(linker));
}

void hub::defer_exit(caf::strong_actor_ptr proxy_ptr, caf::strong_actor_ptr sender,
                     caf::message_id mid, caf::message content) {
  caf::anon_send(helper, forward_exit_atom::value, std::move(proxy_ptr), std::move(sender),
                 mid.integer_value(), std::move(content));
}

// -- receiving ----------------------------------------------------------------

void hub::on_frame(const link_ptr& l, frame& f) {
  auto r = std::static_pointer_cast<route>(l->user);
  if (!r)
    return;
  const char* body = reinterpret_cast<const char*>(f.payload.data());
  size_t size = f.payload.size();
  auto from = r->node;
  auto back = r;
  if (f.header.flags & routed_flag) {
    size_t pos = 0;
    std::string src;
    std::string dst;
    if (!get_string(f.payload, pos, src, max_key) || !get_string(f.payload, pos, dst, max_key))
      return engine_->close(*l, "bad routed frame");
    if (dst != self_key_)
      return relay(l, f, dst);
    from = from_key(sys_, src);
    if (!from || from == sys_.node())
      return;
    // The origin reaches us through `l`: answer the same way if we have no
    // better route.
    {
      std::lock_guard<std::mutex> guard{routes_mtx_};
      auto& slot = routes_[from];
      if (!slot || !slot->current()) {
        slot = std::make_shared<route>();
        slot->node = from;
        slot->key = src;
        slot->via = l;
        slot->name = "via " + l->peer.name;
      }
      back = slot;
    }
    body += pos;
    size -= pos;
  }
  current_hop = &l;
  switch (f.header.type) {
    case frame_type::msg:
      deliver(l, body, size);
      break;
    case frame_type::announce:
    case frame_type::down: {
      bounded_deserializer source{sys_, body, size};
      caf::actor_id aid = 0;
      caf::error reason;
      if (f.header.type == frame_type::announce) {
        if (!source(aid))
          on_announce(from, back, aid);
      } else if (!source(aid, reason)) {
        registry_.erase(from, aid, reason ? reason : caf::make_error(caf::exit_reason::unknown));
      }
      break;
    }
    case frame_type::link:
    case frame_type::unlink: {
      caf::scoped_execution_unit ctx{&sys_};
      ctx.proxy_registry_ptr(&registry_);
      bounded_deserializer source{&ctx, body, size};
      caf::actor_id target = 0;
      caf::strong_actor_ptr linker;
      if (!source(target, linker) && linker && linker->node() != sys_.node())
        if (auto t = sys_.registry().get(target)) {
          auto p = static_cast<caf::actor_proxy*>(linker->get());
          if (f.header.type == frame_type::link)
            p->add_link(t->get());
          else
            p->remove_link(t->get());
        }
      break;
    }
    case frame_type::route_lost: {
      std::string lost_key(body, size);
      auto nid = from_key(sys_, lost_key);
      std::vector<route_ptr> lost;
      {
        std::lock_guard<std::mutex> guard{routes_mtx_};
        if (auto i = routes_.find(nid); i != routes_.end() && i->second->current() == l) {
          lost.push_back(i->second);
          routes_.erase(i);
        }
      }
      for (auto& x : lost) {
        std::lock_guard<std::mutex> guard{x->mtx};
        x->via = nullptr;
      }
      lose(std::move(lost), "no route through " + l->peer.name);
      break;
    }
    default:
      break;
  }
  current_hop = nullptr;
}

void hub::relay(const link_ptr& from, frame& f, const std::string& dst_key) {
  if (auto next = engine_->peer(dst_key)) {
    // A full queue drops this frame only (like a full queue of our own).
    engine_->send(*next, f.header.type, f.header.flags, f.payload.data(), f.payload.size(),
                  f.header.type != frame_type::msg);
    return;
  }
  // No direct link: tell the sender, whose proxies of that node die.
  engine_->send(*from, frame_type::route_lost, 0,
                reinterpret_cast<const uint8_t*>(dst_key.data()), dst_key.size(), true);
}

caf::strong_actor_ptr hub::answered(caf::actor_id aid, caf::message_id mid) {
  {
    std::lock_guard<std::mutex> guard{inflight_mtx_};
    inflight_.erase({aid, mid.integer_value()});
  }
  auto dst = sys_.registry().get(aid);
  // CAF 0.17 leaves a request's timeout set when the answer comes: it fires
  // later and puts a stale error into the requester's mailbox (waking it)
  // for every request. The answer is here: the timeout goes now.
  if (dst)
    sys_.clock().cancel_request_timeout(dst->get(), mid);
  return dst;
}

void hub::deliver(const link_ptr&, const char* data, size_t size) {
  caf::scoped_execution_unit ctx{&sys_};
  ctx.proxy_registry_ptr(&registry_);
  bounded_deserializer source{&ctx, data, size};
  caf::actor_id aid = 0;
  uint64_t raw_mid = 0;
  caf::strong_actor_ptr sender;
  caf::mailbox_element::forwarding_stack stages;
  caf::message content;
  if (auto err = source(aid, raw_mid, sender, stages, content)) {
    ++undecodable;
    log::debug("wire_undecodable_message", {{"error", sys_.render(err)}});
    auto why = make_error(errc::bad_state, "the message could not be decoded", sys_.render(err));
    auto mid = caf::message_id(raw_mid);
    if (mid.is_response()) {
      // A reply we cannot read: its requester hears so instead of waiting.
      if (auto dst = answered(aid, mid))
        dst->enqueue(nullptr, mid, caf::make_message(std::move(why)), nullptr);
      return;
    }
    return bounce(sender, mid, std::move(why));
  }
  auto mid = caf::message_id(raw_mid);
  auto dst = mid.is_response() ? answered(aid, mid) : sys_.registry().get(aid);
  if (!dst)
    return bounce(sender, mid, caf::make_error(caf::sec::request_receiver_down));
  dst->enqueue(caf::make_mailbox_element(std::move(sender), mid, std::move(stages),
                                         std::move(content)),
               nullptr);
}

// -- monitors -----------------------------------------------------------------

void hub::on_announce(const caf::node_id& from, const route_ptr& back, caf::actor_id aid) {
  auto ptr = sys_.registry().get(aid);
  if (!ptr) {
    if (auto payload = down_payload(aid, caf::make_error(caf::exit_reason::unknown)))
      write(back, frame_type::down, *payload);
    return;
  }
  bool first = false;
  {
    std::lock_guard<std::mutex> guard{monitored_mtx_};
    auto& w = monitored_[aid];
    first = !std::exchange(w.attached, true);
    w.nodes.insert(from);
  }
  if (first)
    ptr->get()->attach_functor([w = weak_from_this(), aid](const caf::error& reason) {
      if (auto h = w.lock())
        h->on_local_exit(aid, reason);
    });
}

void hub::on_local_exit(caf::actor_id aid, const caf::error& reason) {
  std::set<caf::node_id> watchers;
  {
    std::lock_guard<std::mutex> guard{monitored_mtx_};
    auto i = monitored_.find(aid);
    if (i == monitored_.end())
      return;
    watchers.swap(i->second.nodes);
    monitored_.erase(i);
  }
  auto payload = down_payload(aid, reason);
  if (!payload)
    return;
  for (auto& node : watchers)
    if (auto r = route_to(node))
      write(r, frame_type::down, *payload);
}

std::optional<std::vector<char>> hub::down_payload(caf::actor_id aid, caf::error reason) {
  std::vector<char> buf;
  caf::binary_serializer sink{sys_, buf};
  if (sink(aid, reason))
    return std::nullopt;
  return buf;
}

route_ptr hub::route_to(const caf::node_id& nid) {
  std::lock_guard<std::mutex> guard{routes_mtx_};
  auto i = routes_.find(nid);
  return i == routes_.end() ? nullptr : i->second;
}

// -- peers --------------------------------------------------------------------

void hub::on_peer_up(const link_ptr& l) {
  auto nid = from_key(sys_, l->peer.node);
  if (!nid || nid == sys_.node())
    return engine_->close(*l, "bad node id in the hello");
  route_ptr r;
  {
    std::lock_guard<std::mutex> guard{routes_mtx_};
    auto& slot = routes_[nid];
    if (!slot) {
      slot = std::make_shared<route>();
      slot->node = nid;
      slot->key = l->peer.node;
    }
    r = slot;
  }
  {
    std::lock_guard<std::mutex> guard{r->mtx};
    r->via = l;
    r->direct = true;
    r->name = l->peer.name;
  }
  l->user = r;
  // Members at info; clients (no endpoint: ringvisor-ctl, probes) at debug.
  auto lvl = l->peer.endpoint.empty() ? log::level::debug : log::level::info;
  if (log::enabled(lvl))
    log::write(lvl, "wire_peer_up",
               {{"peer", l->peer.name}, {"endpoint", l->peer.endpoint}, {"from", l->remote_host}});
  if (warn_insecure)
    log::warn("wire_insecure_peer", {{"peer", l->peer.name}, {"from", l->remote_host}});
}

void hub::on_peer_down(const link_ptr& l, const std::string& why) {
  std::vector<route_ptr> lost;
  {
    std::lock_guard<std::mutex> guard{routes_mtx_};
    for (auto i = routes_.begin(); i != routes_.end();) {
      if (i->second->current() == l) {
        lost.push_back(i->second);
        i = routes_.erase(i);
      } else {
        ++i;
      }
    }
  }
  for (auto& r : lost) {
    std::lock_guard<std::mutex> guard{r->mtx};
    r->via = nullptr;
  }
  auto lvl = l->peer.endpoint.empty() ? log::level::debug : log::level::info;
  if (log::enabled(lvl))
    log::write(lvl, "wire_peer_down", {{"peer", l->peer.name}, {"reason", why}});
  lose(std::move(lost), l->peer.name + ": " + why);
}

void hub::lose(std::vector<route_ptr> lost, const std::string& why) {
  for (auto& r : lost) {
    // Monitors first: an actor that watches the node hears `down` before
    // its requests fail (agents turn that into member_down).
    registry_.erase(r->node);
    std::vector<std::pair<std::pair<caf::actor_id, uint64_t>, pending_request>> failed;
    {
      std::lock_guard<std::mutex> guard{inflight_mtx_};
      for (auto i = inflight_.begin(); i != inflight_.end();) {
        if (i->second.node == r->node) {
          failed.emplace_back(i->first, std::move(i->second));
          i = inflight_.erase(i);
        } else {
          ++i;
        }
      }
    }
    requests_failed += failed.size();
    for (auto& [key, req] : failed)
      if (auto requester = req.requester.lock())
        requester->enqueue(nullptr, caf::message_id(key.second),
                           caf::make_message(make_error(errc::member_down, r->peer_name(), why)),
                           nullptr);
    std::lock_guard<std::mutex> guard{monitored_mtx_};
    for (auto& [aid, w] : monitored_)
      w.nodes.erase(r->node);
  }
}

// -- proxies ------------------------------------------------------------------

caf::strong_actor_ptr hub::make_proxy(caf::node_id nid, caf::actor_id aid) {
  route_ptr r;
  {
    std::lock_guard<std::mutex> guard{routes_mtx_};
    auto i = routes_.find(nid);
    if (i != routes_.end()) {
      r = i->second;
    } else if (current_hop != nullptr && *current_hop) {
      // Introduced by a peer: reach it through that peer.
      r = std::make_shared<route>();
      r->node = nid;
      r->key = to_key(sys_, nid);
      r->via = *current_hop;
      r->name = "via " + (*current_hop)->peer.name;
      routes_.emplace(nid, r);
    }
  }
  if (!r || !r->current())
    return nullptr;
  caf::actor_config cfg;
  auto result = caf::make_actor<proxy, caf::strong_actor_ptr>(aid, nid, &sys_, cfg,
                                                             weak_from_this(), r);
  // Ask the node to tell us when the actor exits.
  std::vector<char> buf;
  caf::binary_serializer sink{sys_, buf};
  auto copy = aid;
  if (!sink(copy))
    write(r, frame_type::announce, buf);
  return result;
}

void hub::set_last_hop(caf::node_id*) {
  // Routes follow the link a handle arrived on (current_hop).
}

void hub::stop() {
  std::vector<route_ptr> all;
  {
    std::lock_guard<std::mutex> guard{routes_mtx_};
    for (auto& [nid, r] : routes_)
      all.push_back(r);
    routes_.clear();
  }
  for (auto& r : all) {
    std::lock_guard<std::mutex> guard{r->mtx};
    r->via = nullptr;
  }
  lose(std::move(all), "the wire stopped");
  registry_.clear();
}

} // namespace ringvisor::actor::wire
