#include "wire/engine.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/log.hpp"

namespace ringvisor::actor::wire {

namespace {

std::vector<uint8_t> encode_u64(uint64_t x) {
  std::vector<uint8_t> out;
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<uint8_t>(x >> shift));
  return out;
}

std::optional<uint64_t> decode_u64(const std::vector<uint8_t>& in, size_t pos = 0) {
  if (in.size() < pos + 8)
    return std::nullopt;
  uint64_t x = 0;
  for (size_t i = 0; i < 8; ++i)
    x = (x << 8) | in[pos + i];
  return x;
}

uint64_t session_id(const block& key) {
  uint64_t x = 0;
  for (size_t i = 0; i < 8; ++i)
    x = (x << 8) | key[i];
  return x;
}

int64_t ticks(clock::time_point t) {
  return t.time_since_epoch().count();
}

// How a dial to `endpoint` ends when the two ends hold different keys.
caf::error auth_failure(const std::string& endpoint) {
  return make_error(errc::authentication_failed, endpoint,
                    "wrong secret or cluster name (ours or the peer's)");
}

// The reason in a `reject` for a link that loses to another one.
constexpr const char* duplicate_reason = "duplicate";

} // namespace

std::vector<uint8_t> encode(const hello_info& x) {
  std::vector<uint8_t> out;
  put_string(out, x.node);
  put_string(out, x.name);
  put_string(out, x.endpoint);
  put_string(out, x.extra);
  return out;
}

std::optional<hello_info> decode_hello(const std::vector<uint8_t>& payload) {
  hello_info x;
  size_t pos = 0;
  if (!get_string(payload, pos, x.node) || !get_string(payload, pos, x.name)
      || !get_string(payload, pos, x.endpoint) || !get_string(payload, pos, x.extra)
      || pos != payload.size() || x.node.empty())
    return std::nullopt;
  return x;
}

engine::engine(transport& io, engine_config cfg, hello_info self, engine_listener& up)
  : io_(io), cfg_(cfg), self_(std::move(self)), up_(up) {
  // nop
}

engine::~engine() = default;

size_t engine::peer_count() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return peers_.size();
}

size_t engine::unauthenticated_count() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return static_cast<size_t>(std::count_if(links_.begin(), links_.end(), [](auto& kvp) {
    return !kvp.second->outbound && !kvp.second->is_active();
  }));
}

link_ptr engine::find(link_id id) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = links_.find(id);
  return i == links_.end() ? nullptr : i->second;
}

link_ptr engine::peer(const std::string& node) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = peers_.find(node);
  return i == peers_.end() ? nullptr : i->second;
}

block engine::nonce() {
  block x;
  io_.random_bytes(x.data(), x.size());
  return x;
}

// -- dials --------------------------------------------------------------------

void engine::dial(const std::string& host, uint16_t port, caf::timespan timeout,
                  dial_callback done) {
  auto endpoint = host + ":" + std::to_string(port);
  uint64_t cookie = 0;
  {
    std::unique_lock<std::mutex> guard{mtx_};
    for (auto& [node, l] : peers_)
      if (l->peer.endpoint == endpoint) {
        auto found = l;
        guard.unlock();
        return done(found);
      }
    for (auto& [c, d] : dials_)
      if (d.endpoint == endpoint) {
        d.waiting.push_back(std::move(done));
        return;
      }
    cookie = next_cookie_++;
    auto& d = dials_[cookie];
    d.endpoint = endpoint;
    d.deadline = io_.now() + timeout;
    d.waiting.push_back(std::move(done));
  }
  io_.connect(host, port, timeout, cookie);
}

void engine::fail_dial(uint64_t cookie, caf::error why) {
  std::vector<dial_callback> waiting;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = dials_.find(cookie);
    if (i == dials_.end())
      return;
    waiting.swap(i->second.waiting);
    dials_.erase(i);
  }
  for (auto& f : waiting)
    f(why);
}

void engine::fail_dials_of(const link& l, const caf::error& why) {
  std::vector<uint64_t> cookies;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto& [cookie, d] : dials_)
      if (d.link == l.id)
        cookies.push_back(cookie);
  }
  for (auto c : cookies)
    fail_dial(c, why);
}

void engine::complete_dials(const std::string& endpoint, const link_ptr& l) {
  if (endpoint.empty())
    return;
  std::vector<dial_callback> waiting;
  std::vector<link_ptr> losers;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto i = dials_.begin(); i != dials_.end();) {
      if (i->second.endpoint != endpoint) {
        ++i;
        continue;
      }
      for (auto& f : i->second.waiting)
        waiting.push_back(std::move(f));
      if (i->second.link != 0 && i->second.link != l->id) {
        auto j = links_.find(i->second.link);
        if (j != links_.end())
          losers.push_back(j->second);
      }
      i = dials_.erase(i);
    }
  }
  // Our own dial lost against the peer's (both dialled at once): drop it.
  for (auto& loser : losers)
    if (!loser->is_active())
      io_.close(loser->id);
  for (auto& f : waiting)
    f(l);
}

void engine::on_connect_failed(uint64_t cookie, const std::string& why) {
  fail_dial(cookie, caf::make_error(caf::sec::cannot_connect_to_node, why));
}

// -- writing ------------------------------------------------------------------

engine::send_result engine::send(link& l, frame_type type, uint8_t flags,
                                 const uint8_t* payload, size_t size, bool control) {
  if (size > cfg_.max_frame)
    return send_result::too_large;
  uint8_t head[header_size];
  write_header(frame_header{static_cast<uint32_t>(size), type, flags}, head);
  chunk parts[] = {{head, header_size}, {payload, size}};
  return write(l, parts, size == 0 ? 1 : 2, !control);
}

// Writes without blocking and without holding the lock in the system call.
// One thread at a time writes (the flusher); the others append to the queue
// and return, and the flusher writes what they queued before it lets go,
// many frames per call under load (flat combining).
engine::send_result engine::write(link& l, const chunk* parts, size_t count, bool bounded) {
  size_t total = 0;
  for (size_t i = 0; i < count; ++i)
    total += parts[i].size;
  std::unique_lock<std::mutex> guard{l.out_mtx};
  if (l.out_closed)
    return send_result::closed;
  auto queued = l.out.size() - l.out_off;
  if (l.flushing || queued > 0) {
    if (bounded && queued + total > cfg_.max_queue) {
      ++stats_.queue_full;
      return send_result::overloaded;
    }
    if (queued + total > 2 * cfg_.max_queue) {
      // Control frames pass the bound, but a peer that reads nothing must
      // not grow our memory without end: it loses the link.
      ++stats_.queue_full;
      l.out_closed = true;
      io_.close(l.id);
      return send_result::closed;
    }
    for (size_t i = 0; i < count; ++i)
      l.out.insert(l.out.end(), parts[i].data, parts[i].data + parts[i].size);
    return send_result::ok;
  }
  l.flushing = true;
  guard.unlock();
  auto n = io_.try_write(l.id, parts, count);
  stats_.bytes_out += n;
  l.last_out.store(ticks(io_.now()), std::memory_order_relaxed);
  guard.lock();
  if (n < total) {
    // A short write: the rest goes before what others queued meanwhile,
    // and `on_writable` goes on.
    if (!l.out_closed) {
      std::vector<uint8_t> rest;
      rest.reserve(total - n);
      auto skip = n;
      for (size_t i = 0; i < count; ++i) {
        auto from = std::min(skip, parts[i].size);
        rest.insert(rest.end(), parts[i].data + from, parts[i].data + parts[i].size);
        skip -= from;
      }
      l.out.insert(l.out.begin() + static_cast<ptrdiff_t>(l.out_off), rest.begin(), rest.end());
    }
    if (!l.writable_again) {
      l.flushing = false;
      return send_result::ok;
    }
  }
  drain(l, guard);
  return send_result::ok;
}

// Called by the flusher, with the lock held: writes until the queue is
// empty or the transport takes no more. The transport may report that it
// drained while the flusher was in a system call (`flush` then finds it
// busy and sets `writable_again`): the flusher tries once more, or the
// queue would wait for a wake-up that already came.
void engine::drain(link& l, std::unique_lock<std::mutex>& guard) {
  l.writable_again = false;
  while (!l.out_closed && l.out.size() > l.out_off) {
    std::vector<uint8_t> batch;
    batch.swap(l.out);
    auto off = std::exchange(l.out_off, 0);
    guard.unlock();
    chunk part{batch.data() + off, batch.size() - off};
    auto n = io_.try_write(l.id, &part, 1);
    stats_.bytes_out += n;
    guard.lock();
    if (n < part.size) {
      if (!l.out_closed) {
        if (l.out.empty()) { // nothing came meanwhile: keep the batch as it is
          l.out.swap(batch);
          l.out_off = off + n;
        } else {
          l.out.insert(l.out.begin(), batch.begin() + static_cast<ptrdiff_t>(off + n),
                       batch.end());
        }
      }
      if (!std::exchange(l.writable_again, false))
        break;
      continue;
    }
    if (l.out.empty()) { // keep the capacity
      batch.clear();
      l.out.swap(batch);
    }
  }
  l.flushing = false;
}

void engine::write_raw(link& l, const std::vector<uint8_t>& bytes) {
  chunk part{bytes.data(), bytes.size()};
  write(l, &part, 1, false);
}

void engine::send_control(link& l, frame_type type, const std::vector<uint8_t>& payload) {
  send(l, type, 0, payload.data(), payload.size(), true);
}

void engine::flush(link& l) {
  std::unique_lock<std::mutex> guard{l.out_mtx};
  if (l.out_closed)
    return;
  if (l.flushing) {
    l.writable_again = true; // the flusher tries again before it lets go
    return;
  }
  if (l.out.size() == l.out_off)
    return;
  l.flushing = true;
  drain(l, guard);
}

void engine::on_writable(link_id id) {
  if (auto l = find(id))
    flush(*l);
}

// -- links --------------------------------------------------------------------

void engine::on_link_up(link_id id, bool outbound, const std::string& remote_host,
                        uint64_t cookie) {
  auto l = std::make_shared<link>(id, outbound, remote_host, cfg_.max_frame);
  l->opened = l->last_in = io_.now();
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (outbound) {
      auto i = dials_.find(cookie);
      if (i == dials_.end()) {
        // The dial ended (timed out) while the transport connected.
        io_.close(id);
        return;
      }
      i->second.link = id;
      l->dialled = i->second.endpoint;
    } else {
      ++stats_.links_accepted;
      size_t total = 0;
      size_t same_host = 0;
      for (auto& [lid, other] : links_)
        if (!other->outbound && !other->is_active()) {
          ++total;
          if (other->remote_host == remote_host)
            ++same_host;
        }
      if (total >= cfg_.max_unauthenticated || same_host >= cfg_.max_unauthenticated_per_host) {
        ++stats_.unauthenticated_refused;
        io_.close(id);
        return;
      }
    }
    links_.emplace(id, l);
  }
  if (outbound) {
    l->state = link::phase::awaiting_challenge;
    l->dialer.emplace(cfg_.key, nonce());
  } else {
    l->state = link::phase::challenged;
    l->acceptor.emplace(cfg_.key, nonce());
    write_raw(*l, l->acceptor->challenge());
  }
}

void engine::on_bytes(link_id id, const uint8_t* data, size_t size) {
  auto l = find(id);
  if (!l || l->state == link::phase::closed)
    return;
  stats_.bytes_in += size;
  l->last_in = io_.now();
  consume_handshake(l, data, size);
  while (l->state != link::phase::closed) {
    if (size > 0) {
      auto taken = l->parser.feed(data, size);
      data += taken;
      size -= taken;
    }
    if (l->parser.failure() != frame_parser::error::none) {
      ++stats_.protocol_errors;
      if (l->parser.failure() == frame_parser::error::too_long)
        ++stats_.oversize_frames;
      log::debug("wire_bad_frame", {{"peer", l->peer.name.empty() ? l->remote_host : l->peer.name},
                                    {"reason", to_string(l->parser.failure())}});
      return drop(l, std::string{"bad frame: "} + to_string(l->parser.failure()));
    }
    auto f = l->parser.next();
    if (!f)
      return;
    handle_frame(l, *f);
  }
}

void engine::consume_handshake(const link_ptr& l, const uint8_t*& data, size_t& size) {
  auto take = [&](size_t want) {
    auto n = std::min(want - l->raw.size(), size);
    l->raw.insert(l->raw.end(), data, data + n);
    data += n;
    size -= n;
    return l->raw.size() == want;
  };
  auto failed = [&](handshake_result r) {
    ++stats_.handshake_failures;
    log::debug("wire_handshake_failed", {{"remote", l->remote_host}, {"reason", to_string(r)}});
    if (r == handshake_result::bad_mac)
      fail_dials_of(*l, auth_failure(l->dialled));
    drop(l, std::string{"handshake failed: "} + to_string(r));
  };
  while (size > 0) {
    switch (l->state) {
      case link::phase::challenged: {
        if (!take(response_size))
          return;
        auto r = l->acceptor->on_response(l->raw);
        l->raw.clear();
        if (r != handshake_result::ok)
          return failed(r);
        l->session = session_id(*l->acceptor->session_key());
        write_raw(*l, l->acceptor->proof());
        l->state = link::phase::awaiting_hello;
        break;
      }
      case link::phase::awaiting_challenge: {
        if (!take(challenge_size))
          return;
        auto r = l->dialer->on_challenge(l->raw);
        l->raw.clear();
        if (r != handshake_result::ok)
          return failed(r);
        write_raw(*l, l->dialer->response());
        l->state = link::phase::awaiting_proof;
        break;
      }
      case link::phase::awaiting_proof: {
        if (!take(proof_size))
          return;
        auto r = l->dialer->on_proof(l->raw);
        l->raw.clear();
        if (r != handshake_result::ok)
          return failed(r);
        l->session = session_id(*l->dialer->session_key());
        l->state = link::phase::awaiting_welcome;
        send_control(*l, frame_type::hello, encode(self()));
        return;
      }
      default:
        return;
    }
  }
}

void engine::handle_frame(const link_ptr& l, frame& f) {
  using phase = link::phase;
  auto type = f.header.type;
  if (type == frame_type::heartbeat)
    return;
  auto protocol_error = [&] {
    ++stats_.protocol_errors;
    drop(l, std::string{"unexpected frame "} + to_string(type));
  };
  switch (l->state) {
    case phase::awaiting_hello:
      if (type != frame_type::hello)
        return protocol_error();
      if (auto info = decode_hello(f.payload))
        return on_hello(l, std::move(*info));
      return protocol_error();
    case phase::awaiting_alive:
      if (type != frame_type::alive_a || f.payload.size() != 1)
        return protocol_error();
      return on_alive_answer(l, f.payload[0] != 0);
    case phase::awaiting_welcome:
      if (type == frame_type::welcome) {
        if (auto info = decode_hello(f.payload))
          return on_welcome(l, std::move(*info));
        return protocol_error();
      }
      if (type == frame_type::reject)
        return on_reject(l, std::string(f.payload.begin(), f.payload.end()));
      if (type == frame_type::alive_q) {
        if (auto s = decode_u64(f.payload); s && f.payload.size() == 8)
          return on_alive_question(l, *s);
      }
      return protocol_error();
    case phase::active:
      switch (type) {
        case frame_type::bye:
          return drop(l, "the peer left");
        case frame_type::msg:
        case frame_type::announce:
        case frame_type::down:
        case frame_type::link:
        case frame_type::unlink:
        case frame_type::route_lost:
          return up_.on_frame(l, f);
        default:
          return protocol_error();
      }
    default:
      return protocol_error();
  }
}

// -- hello and duplicates -----------------------------------------------------

void engine::on_hello(const link_ptr& l, hello_info info) {
  l->peer = std::move(info);
  if (!io_.peer_named(l->id, l->peer.name)) {
    ++stats_.handshake_failures;
    return refuse(l, "your certificate does not name '" + l->peer.name + "'",
                  "its certificate does not name '" + l->peer.name + "'");
  }
  if (l->peer.node == self().node)
    return refuse(l, "self", "connected to itself");
  link_ptr existing;
  bool own_dial_pending = false;
  bool full = false;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (auto i = peers_.find(l->peer.node); i != peers_.end())
      existing = i->second;
    else
      full = peers_.size() >= cfg_.max_peers;
    if (!l->peer.endpoint.empty())
      for (auto& [cookie, d] : dials_)
        if (d.endpoint == l->peer.endpoint)
          own_dial_pending = true;
  }
  if (full)
    return refuse(l, "too many peers", "too many peers");
  if (existing && existing->peer.name != l->peer.name) {
    // A node id is linked under one name (the one its certificate proves,
    // under TLS): another name with it is someone posing as that node.
    ++stats_.handshake_failures;
    return refuse(l, "node id in use", "claims the node id of '" + existing->peer.name + "'");
  }
  if (existing) {
    // The dialer dials only without a link to us: it lost the old one, or
    // both ends crossed. Ask it.
    l->state = link::phase::awaiting_alive;
    send_control(*l, frame_type::alive_q, encode_u64(existing->session));
    return;
  }
  if (own_dial_pending && self().node < l->peer.node) {
    // Both dialled at once: the link dialled by the smaller node id stays.
    ++stats_.duplicates_refused;
    return refuse(l, duplicate_reason, "duplicate");
  }
  welcome(l);
}

void engine::on_alive_answer(const link_ptr& l, bool alive) {
  auto old = peer(l->peer.node);
  if (alive && old) {
    ++stats_.duplicates_refused;
    return refuse(l, duplicate_reason, "duplicate");
  }
  if (old)
    drop(old, "replaced by a new link from the same node");
  welcome(l);
}

void engine::on_alive_question(const link_ptr& l, uint64_t session) {
  link_ptr alive;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto& [node, other] : peers_)
      if (other->session == session)
        alive = other;
  }
  send_control(*l, frame_type::alive_a, {static_cast<uint8_t>(alive ? 1 : 0)});
  // The acceptor keeps the old link and refuses this one. So this dial
  // reached, under another address (a DNS name, an alias), a node we are
  // linked to: it completes with that link now, not at its deadline.
  if (alive)
    complete_dials(l->dialled, alive);
}

void engine::refuse(const link_ptr& l, const std::string& reason, const std::string& why) {
  send_control(*l, frame_type::reject, std::vector<uint8_t>(reason.begin(), reason.end()));
  drop(l, why);
}

void engine::welcome(const link_ptr& l) {
  send_control(*l, frame_type::welcome, encode(self()));
  go_active(l);
}

void engine::on_welcome(const link_ptr& l, hello_info info) {
  l->peer = std::move(info);
  if (!io_.peer_named(l->id, l->peer.name)) {
    ++stats_.handshake_failures;
    return drop(l, "its certificate does not name '" + l->peer.name + "'");
  }
  if (auto other = peer(l->peer.node); other && other->peer.name != l->peer.name) {
    ++stats_.handshake_failures;
    return drop(l, "claims the node id of '" + other->peer.name + "'");
  }
  if (peer(l->peer.node)) {
    // Crossed with the peer's own dial, which we took: keep that one.
    auto winner = peer(l->peer.node);
    complete_dials(l->dialled, winner);
    return drop(l, "duplicate", dials::keep);
  }
  go_active(l);
}

void engine::on_reject(const link_ptr& l, const std::string& reason) {
  if (reason == duplicate_reason) {
    // The peer keeps its own dial to us; the dial completes when it is up.
    return drop(l, "duplicate", dials::keep);
  }
  fail_dials_of(*l, caf::make_error(caf::sec::cannot_connect_to_node, l->dialled,
                                    "the peer refused the link: " + reason));
  drop(l, "rejected: " + reason);
}

void engine::go_active(const link_ptr& l) {
  l->state = link::phase::active;
  l->acceptor.reset();
  l->dialer.reset();
  l->active_.store(true, std::memory_order_release);
  ++stats_.peers_up;
  // The layer above first (it sets `user`), then other threads may find it.
  up_.on_peer_up(l);
  if (l->state == link::phase::closed)
    return; // the layer above refused it
  {
    std::lock_guard<std::mutex> guard{mtx_};
    peers_[l->peer.node] = l;
  }
  complete_dials(l->peer.endpoint, l);
  if (!l->dialled.empty() && l->dialled != l->peer.endpoint)
    complete_dials(l->dialled, l);
}

// -- closing ------------------------------------------------------------------

void engine::drop(const link_ptr& l, const std::string& why, dials fate) {
  if (l->state == link::phase::closed)
    return;
  auto prior = l->state;
  auto was_active = prior == link::phase::active;
  l->state = link::phase::closed;
  l->active_.store(false, std::memory_order_release);
  {
    std::lock_guard<std::mutex> guard{l->out_mtx};
    l->out_closed = true;
    l->out.clear();
    l->out_off = 0;
  }
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (auto i = peers_.find(l->peer.node); i != peers_.end() && i->second == l)
      peers_.erase(i);
  }
  io_.close(l->id);
  // The acceptor closes silently when our proof fails, so a close right
  // after it means the same as a proof of theirs that failed ours.
  if (fate == dials::fail)
    fail_dials_of(*l, prior == link::phase::awaiting_proof
                        ? auth_failure(l->dialled)
                        : caf::make_error(caf::sec::cannot_connect_to_node, l->dialled,
                                          prior == link::phase::awaiting_challenge
                                              && why.rfind("TLS:", 0) != 0
                                            ? why + " before its challenge (over its limits, "
                                                    "or TLS on one side only?)"
                                            : why));
  if (was_active) {
    ++stats_.peers_down;
    up_.on_peer_down(l, why);
  }
}

void engine::close(link& l, const std::string& why) {
  if (auto p = find(l.id))
    drop(p, why);
}

void engine::on_link_down(link_id id, const std::string& why) {
  auto l = find(id);
  if (!l)
    return;
  drop(l, why);
  std::lock_guard<std::mutex> guard{mtx_};
  links_.erase(id);
}

void engine::on_tick(clock::time_point now) {
  std::vector<link_ptr> all;
  std::vector<uint64_t> late_dials;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    all.reserve(links_.size());
    for (auto& [id, l] : links_)
      all.push_back(l);
    for (auto& [cookie, d] : dials_)
      if (now >= d.deadline)
        late_dials.push_back(cookie);
  }
  for (auto c : late_dials) {
    link_id lid = 0;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (auto i = dials_.find(c); i != dials_.end())
        lid = i->second.link;
    }
    fail_dial(c, caf::make_error(caf::sec::cannot_connect_to_node,
                                 "no answer within the connect timeout"));
    if (auto l = lid != 0 ? find(lid) : nullptr; l && !l->is_active())
      drop(l, "connect timeout");
  }
  for (auto& l : all) {
    if (l->state == link::phase::closed)
      continue;
    if (!l->is_active()) {
      if (now - l->opened >= cfg_.handshake_timeout) {
        ++stats_.handshake_timeouts;
        drop(l, "handshake timeout");
      }
      continue;
    }
    if (now - l->last_in >= cfg_.connection_timeout) {
      ++stats_.silent_closes;
      drop(l, "silent for the connection timeout");
      continue;
    }
    auto last_out = clock::time_point{clock::duration{l->last_out.load(std::memory_order_relaxed)}};
    if (now - last_out >= cfg_.heartbeat_interval)
      send(*l, frame_type::heartbeat, 0, nullptr, 0, true);
  }
}

void engine::shutdown() {
  std::vector<link_ptr> all;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto& [id, l] : links_)
      all.push_back(l);
  }
  for (auto& l : all)
    if (l->is_active())
      send(*l, frame_type::bye, 0, nullptr, 0, true);
}

} // namespace ringvisor::actor::wire
