#pragma once

// An in-memory network for the wire's protocol tests: transports that move
// bytes through queues on one thread and a virtual clock, so a test decides
// when bytes arrive, when time passes and which links break. Nothing runs
// unless the test calls `run` or `advance`.

#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "wire/transport.hpp"

namespace ringvisor::test {

namespace wire = actor::wire;

class mem_network;

/// One process's end of the in-memory network.
class mem_transport final : public wire::transport {
public:
  mem_transport(mem_network& net, std::string host) : net_(net), host_(std::move(host)) {
    // nop
  }

  void start(wire::transport_events& events, caf::timespan tick) override {
    events_ = &events;
    tick_ = tick;
  }

  void stop() override {
    events_ = nullptr;
  }

  caf::expected<uint16_t> listen(const std::string& host, uint16_t port) override;
  void connect(const std::string& host, uint16_t port, caf::timespan timeout,
               uint64_t cookie) override;
  size_t try_write(wire::link_id id, const wire::chunk* chunks, size_t count) override;
  void close(wire::link_id id) override;
  wire::clock::time_point now() const override;

  void random_bytes(uint8_t* out, size_t size) override {
    for (size_t i = 0; i < size; ++i)
      out[i] = static_cast<uint8_t>(seed_ = seed_ * 6364136223846793005ull + 1442695040888963407ull) ;
  }

  const std::string& host() const noexcept {
    return host_;
  }

  /// Bytes a link takes per `try_write` before it is "full" (0: no limit).
  size_t window = 0;

  /// The name this end's certificate proves to its peers, as TLS would
  /// (empty: no certificate, and no check of the peer's).
  std::string certificate;

  bool peer_named(wire::link_id id, const std::string& name) const override;

private:
  friend class mem_network;

  mem_network& net_;
  std::string host_;
  wire::transport_events* events_ = nullptr;
  caf::timespan tick_{};
  uint64_t seed_ = 42;
};

/// The network: endpoints, links, a queue of deliveries and a clock.
class mem_network {
public:
  mem_transport& add(const std::string& host) {
    auto t = std::make_unique<mem_transport>(*this, host);
    t->seed_ = std::hash<std::string>{}(host);
    auto& result = *t;
    transports_.push_back(std::move(t));
    return result;
  }

  /// Runs queued deliveries until none is left.
  void run() {
    while (!events_.empty()) {
      auto f = std::move(events_.front());
      events_.pop_front();
      f();
    }
  }

  /// Runs the next queued delivery; returns false if there was none.
  bool step() {
    if (events_.empty())
      return false;
    auto f = std::move(events_.front());
    events_.pop_front();
    f();
    return true;
  }

  /// Forgets link `id` of `host` without telling anyone: the other end
  /// keeps a half-open link (as after a lost FIN).
  void forget(const std::string& host, wire::link_id id) {
    auto i = links_.find({host, id});
    if (i == links_.end())
      return;
    auto l = i->second;
    links_.erase(i);
    bool was_a = l->a && l->a->host_ == host && l->a_id == id;
    auto& side = was_a ? l->a : l->b;
    auto* t = side;
    if (was_a)
      l->a = nullptr;
    events_.push_back([t, id] {
      if (t->events_)
        t->events_->on_link_down(id, "forgotten");
    });
    l->forgotten = true;
  }

  /// Lets `d` pass, ticking every transport on its interval, running
  /// deliveries after each step.
  void advance(caf::timespan d, caf::timespan step = std::chrono::milliseconds{10}) {
    auto end = now_ + d;
    while (now_ < end) {
      now_ += step;
      for (auto& t : transports_)
        if (t->events_ && t->tick_.count() > 0)
          t->events_->on_tick(now_);
      run();
    }
  }

  wire::clock::time_point now() const noexcept {
    return now_;
  }

  /// Bytes between `a` and `b` are lost from now on (both directions);
  /// links stay open, as behind a silent firewall.
  void cut(const std::string& a, const std::string& b) {
    cuts_.insert({a, b});
    cuts_.insert({b, a});
  }

  void heal() {
    cuts_.clear();
  }

  /// Breaks link `id` of `host` as a reset would, both ends hear it.
  void reset(const std::string& host, wire::link_id id) {
    for (auto& [key, l] : links_)
      if (key.first == host && key.second == id)
        return close_pair(l);
  }

  /// Returns the links of `host` (its ids), open ones only.
  std::vector<wire::link_id> links_of(const std::string& host) const {
    std::vector<wire::link_id> result;
    for (auto& [key, l] : links_)
      if (key.first == host && !l->closing)
        result.push_back(key.second);
    return result;
  }

  /// Opens a raw connection to `endpoint` from a stranger at `host`;
  /// `on_bytes` receives what the node writes. Returns a writer, or null if
  /// nobody listens.
  std::function<void(std::vector<uint8_t>)>
  raw_connect(const std::string& host, const std::string& endpoint,
              std::function<void(std::vector<uint8_t>)> on_bytes = nullptr) {
    auto target = listeners_.find(endpoint);
    if (target == listeners_.end())
      return nullptr;
    auto l = std::make_shared<pair>();
    l->a_host = host;
    l->b = target->second;
    l->b_id = next_id_++;
    l->raw_sink = std::move(on_bytes);
    links_[{l->b->host_, l->b_id}] = l;
    auto b = l->b;
    auto id = l->b_id;
    events_.push_back([b, id, host] {
      if (b->events_)
        b->events_->on_link_up(id, false, host, 0);
    });
    return [this, l](std::vector<uint8_t> bytes) { deliver(l, false, std::move(bytes)); };
  }

private:
  friend class mem_transport;

  struct pair {
    mem_transport* a = nullptr; // the dialer (null for a raw stranger)
    std::string a_host;
    wire::link_id a_id = 0;
    mem_transport* b = nullptr; // the acceptor
    wire::link_id b_id = 0;
    bool closing = false; // no more writes
    bool closed = false;  // no more deliveries
    bool forgotten = false; // one end is gone without a word
    std::function<void(std::vector<uint8_t>)> raw_sink;
  };

  using pair_ptr = std::shared_ptr<pair>;

  // Queues bytes written by one end for the other (`from_b`: b wrote them).
  void deliver(const pair_ptr& l, bool from_b, std::vector<uint8_t> bytes) {
    auto from = from_b ? l->b->host_ : l->a_host;
    auto to = from_b ? l->a_host : l->b->host_;
    if (cuts_.count({from, to}))
      return;
    events_.push_back([l, from_b, bytes = std::move(bytes)] {
      if (l->closed)
        return;
      if (from_b) {
        if (!l->a && !l->raw_sink)
          return;
        if (l->raw_sink)
          l->raw_sink(bytes);
        else if (l->a->events_)
          l->a->events_->on_bytes(l->a_id, bytes.data(), bytes.size());
      } else if (l->b->events_) {
        l->b->events_->on_bytes(l->b_id, bytes.data(), bytes.size());
      }
    });
  }

  // Closes both ends as a FIN would: bytes already written still arrive.
  void close_pair(const pair_ptr& l) {
    if (l->closing)
      return;
    l->closing = true;
    events_.push_back([l] {
      l->closed = true;
      if (l->a && l->a->events_)
        l->a->events_->on_link_down(l->a_id, "closed");
      if (l->b->events_)
        l->b->events_->on_link_down(l->b_id, "closed");
    });
  }

  std::vector<std::unique_ptr<mem_transport>> transports_;
  std::map<std::string, mem_transport*> listeners_;                  // "host:port"
  std::map<std::pair<std::string, wire::link_id>, pair_ptr> links_; // (host, id)
  std::set<std::pair<std::string, std::string>> cuts_;
  std::deque<std::function<void()>> events_;
  wire::clock::time_point now_{std::chrono::hours{1}};
  wire::link_id next_id_ = 1;
};

inline caf::expected<uint16_t> mem_transport::listen(const std::string& host, uint16_t port) {
  if (port == 0)
    port = 4000;
  net_.listeners_[host + ":" + std::to_string(port)] = this;
  return port;
}

inline void mem_transport::connect(const std::string& host, uint16_t port, caf::timespan,
                                   uint64_t cookie) {
  auto target = net_.listeners_.find(host + ":" + std::to_string(port));
  if (target == net_.listeners_.end() || net_.cuts_.count({host_, host})) {
    net_.events_.push_back([this, cookie] {
      if (events_)
        events_->on_connect_failed(cookie, "connection refused");
    });
    return;
  }
  auto l = std::make_shared<mem_network::pair>();
  l->a = this;
  l->a_host = host_;
  l->a_id = net_.next_id_++;
  l->b = target->second;
  l->b_id = net_.next_id_++;
  net_.links_[{host_, l->a_id}] = l;
  net_.links_[{l->b->host_, l->b_id}] = l;
  net_.events_.push_back([l, cookie] {
    if (l->closed)
      return;
    if (l->a->events_)
      l->a->events_->on_link_up(l->a_id, true, l->b->host_, cookie);
    if (l->b->events_)
      l->b->events_->on_link_up(l->b_id, false, l->a_host, 0);
  });
}

inline size_t mem_transport::try_write(wire::link_id id, const wire::chunk* chunks,
                                       size_t count) {
  auto i = net_.links_.find({host_, id});
  if (i == net_.links_.end() || i->second->closing)
    return 0;
  std::vector<uint8_t> bytes;
  for (size_t k = 0; k < count; ++k)
    bytes.insert(bytes.end(), chunks[k].data, chunks[k].data + chunks[k].size);
  if (window > 0 && bytes.size() > window) {
    bytes.resize(window);
    net_.events_.push_back([this, id] {
      if (events_)
        events_->on_writable(id);
    });
  }
  auto n = bytes.size();
  auto& l = i->second;
  net_.deliver(l, l->b == this && l->b_id == id, std::move(bytes));
  return n;
}

inline void mem_transport::close(wire::link_id id) {
  auto i = net_.links_.find({host_, id});
  if (i != net_.links_.end())
    net_.close_pair(i->second);
}

inline bool mem_transport::peer_named(wire::link_id id, const std::string& name) const {
  if (certificate.empty())
    return true;
  auto i = net_.links_.find({host_, id});
  if (i == net_.links_.end())
    return false;
  auto& l = *i->second;
  auto other = l.b == this && l.b_id == id ? l.a : l.b;
  return other != nullptr && other->certificate == name;
}

inline wire::clock::time_point mem_transport::now() const {
  return net_.now();
}

} // namespace ringvisor::test
