#include "ringvisor/actor/node.hpp"

#include <atomic>
#include <chrono>
#include <csignal>
#include <memory>
#include <mutex>
#include <random>

#include <fcntl.h>
#include <unistd.h>

#include <caf/config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "ringvisor/actor/blocking.hpp"
#include "ringvisor/actor/directory.hpp"
#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/log.hpp"
#include "ringvisor/actor/wire.hpp"

namespace ringvisor::actor {

namespace {

// Grows with every start of a process, so that gossip can tell a restarted
// node from its stale former self: microseconds since the epoch in the high
// bits, 8 random bits below to split two starts within one microsecond.
uint64_t make_incarnation() {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count();
  return (static_cast<uint64_t>(us) << 8) | (std::random_device{}() & 0xFFu);
}

// Self-pipe for await_signal: the handler only writes the signal number.
int signal_pipe[2] = {-1, -1};

extern "C" void on_signal(int signo) {
  auto byte = static_cast<char>(signo);
  [[maybe_unused]] auto n = ::write(signal_pipe[1], &byte, 1);
}

} // namespace

node::node(node_config& cfg, node_identity id)
  : cfg_(cfg),
    identity_(std::move(id)),
    factories_(std::make_shared<factory_registry>()) {
  // nop
}

caf::expected<std::unique_ptr<node>> node::start(node_config& cfg) {
  if (auto err = cfg.validate())
    return err;
  log::level lvl = log::level::info;
  log::parse_level(cfg.log_level, lvl);
  log::configure(lvl, cfg.name);
  std::unique_ptr<node> result{
    new node(cfg, node_identity{cfg.name, make_incarnation(), cfg.host, 0})};
  if (auto err = use_wire(cfg, cfg.wire, cfg.name, cfg.host))
    return err;
  result->system_ = std::make_unique<caf::actor_system>(cfg);
  // The directory is what a peer gets when it connects to our port.
  result->directory_ = spawn_directory(*result->system_);
  auto port = wire_listen(*result->system_, cfg.host, cfg.port, result->directory_);
  if (!port) {
    caf::anon_send_exit(result->directory_, caf::exit_reason::kill);
    auto what = "cannot listen on " + cfg.host + ":" + std::to_string(cfg.port)
                + ": " + result->system_->render(port.error());
    log::error("node_start_failed", {{"reason", what}});
    result->stopped_ = true;
    return make_error(errc::node_start_failed, std::move(what),
                      "choose another ringvisor.port or ringvisor.host");
  }
  result->identity_.port = *port;
  auto& id = result->identity_;
  log::info("node_started", {{"endpoint", id.endpoint()},
                             {"incarnation", fmt::format("{:016x}", id.incarnation)},
                             {"caf", CAF_VERSION}});
  return result;
}

node::~node() {
  shutdown();
  // Handles that ever crossed the network pin actors; do not wait for them.
  system_->await_actors_before_shutdown(false);
  system_.reset();
  log::info("node_stopped");
}

void node::adopt(caf::actor root) {
  adopted_.push_back(std::move(root));
}

caf::error node::register_name(const std::string& name, const caf::actor& hdl,
                               caf::timespan timeout) {
  auto ok = blocking_request<caf::ok_atom>(*system_, directory_, timeout, caf::put_atom::value,
                                           name, hdl);
  return ok ? caf::none : std::move(ok.error());
}

void node::shutdown() {
  if (stopped_)
    return;
  stopped_ = true;
  log::info("node_stopping", {{"actors", adopted_.size()}});
  {
    caf::scoped_actor self{*system_};
    for (auto i = adopted_.rbegin(); i != adopted_.rend(); ++i) {
      auto& hdl = *i;
      self->monitor(hdl);
      self->send_exit(hdl, caf::exit_reason::user_shutdown);
      bool down = false;
      self->receive([&](const caf::down_msg&) { down = true; },
                    caf::after(cfg_.shutdown_grace) >> [] {});
      if (!down) {
        log::warn("shutdown_grace_exceeded", {{"actor", hdl.id()}});
        self->send_exit(hdl, caf::exit_reason::kill);
        self->receive([](const caf::down_msg&) {});
      }
    }
  }
  adopted_.clear();
  caf::anon_send_exit(directory_, caf::exit_reason::user_shutdown);
}

namespace {

std::once_flag signals_installed;
std::atomic<int> waiting{0}; // threads in await_signal

bool install_signal_handlers() {
  std::call_once(signals_installed, [] {
    if (::pipe2(signal_pipe, O_CLOEXEC) != 0)
      return;
    // The handler must never block, whatever piles up.
    ::fcntl(signal_pipe[1], F_SETFL, ::fcntl(signal_pipe[1], F_GETFL) | O_NONBLOCK);
    struct sigaction sa = {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
  });
  return signal_pipe[0] >= 0;
}

} // namespace

bool node::request_stop() {
  if (waiting == 0)
    return false;
  on_signal(SIGTERM);
  return true;
}

int node::await_signal() {
  if (!install_signal_handlers())
    return -1;
  ++waiting;
  char byte = 0;
  while (::read(signal_pipe[0], &byte, 1) != 1)
    ; // retry on EINTR
  --waiting;
  return byte;
}

} // namespace ringvisor::actor
