#include "cluster.hpp"

#include <thread>

#include <caf/all.hpp>

#include "ringvisor/actor/directory.hpp"
#include "ringvisor/actor/errc.hpp"
#include "ringvisor/actor/wire.hpp"
#include "ringvisor/cluster/agent.hpp"
#include "ringvisor/ring/all.hpp"
#include "support/netcut.hpp"

using namespace std::chrono_literals;

namespace ringvisor::chaos {

std::atomic<bool> interrupted{false};

bool pause_for(std::chrono::milliseconds d) {
  auto until = std::chrono::steady_clock::now() + d;
  while (!interrupted) {
    auto left = until - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero())
      return true;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(left, 50ms));
  }
  return false;
}

namespace {

constexpr auto lookup_timeout = std::chrono::seconds{1};

} // namespace

chaos_cluster::chaos_cluster(node_settings settings) : settings_(std::move(settings)) {
  ringvisor::add_types(cfg_);
  cfg_.set("scheduler.max-threads", size_t{2});
  // main() made sure of a secret, which the nodes inherit.
  if (auto err = actor::use_wire(cfg_, cfg_.wire, "chaos")) {
    std::fprintf(stderr, "ringvisor-chaos: %s\n", actor::render(err).c_str());
    std::abort();
  }
  sys_ = std::make_unique<caf::actor_system>(cfg_);
}

chaos_cluster::~chaos_cluster() {
  for (auto& n : nodes_) {
    n.sup = nullptr;
    n.agent = nullptr;
    if (n.proc)
      n.proc->signal(SIGKILL);
  }
  nodes_.clear(); // reaps
  sys_.reset();
}

std::optional<std::string> chaos_cluster::start(size_t n) {
  nodes_.resize(n);
  std::vector<std::string> seeds;
  for (size_t i = 0; i < n; ++i) {
    auto& x = nodes_[i];
    x.name = "n" + std::to_string(i + 1);
    x.host = "127.0.0." + std::to_string(i + 2);
    if (::geteuid() == 0)
      x.gid = test::node_gid(i);
    if (auto err = launch(i, seeds, 0))
      return err;
    seeds.push_back(endpoint(i));
  }
  return std::nullopt;
}

std::string chaos_cluster::name(size_t i) const {
  return nodes_[i].name;
}

std::string chaos_cluster::endpoint(size_t i) const {
  std::lock_guard<std::mutex> guard{mtx_};
  return nodes_[i].host + ":" + std::to_string(nodes_[i].port);
}

pid_t chaos_cluster::pid(size_t i) const {
  std::lock_guard<std::mutex> guard{mtx_};
  return nodes_[i].pid;
}

std::optional<gid_t> chaos_cluster::gid(size_t i) const {
  return nodes_[i].gid;
}

node_state chaos_cluster::state(size_t i) const {
  std::lock_guard<std::mutex> guard{mtx_};
  return nodes_[i].state;
}

void chaos_cluster::kill9(size_t i) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    nodes_[i].state = node_state::dead;
  }
  nodes_[i].proc->signal(SIGKILL);
  nodes_[i].proc->wait();
  forget(i);
}

void chaos_cluster::suspend(size_t i) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    nodes_[i].state = node_state::stopped;
  }
  nodes_[i].proc->signal(SIGSTOP);
}

void chaos_cluster::resume(size_t i) {
  nodes_[i].proc->signal(SIGCONT);
  std::lock_guard<std::mutex> guard{mtx_};
  nodes_[i].state = node_state::running;
}

std::optional<int> chaos_cluster::terminate(size_t i, std::chrono::milliseconds timeout) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    nodes_[i].state = node_state::stopped; // leaving: no new calls through it
  }
  auto& proc = *nodes_[i].proc;
  proc.signal(SIGTERM);
  proc.signal(SIGCONT);
  auto status = proc.wait_for(timeout);
  std::optional<int> result;
  if (status)
    result = WIFEXITED(*status) ? WEXITSTATUS(*status) : 128 + WTERMSIG(*status);
  else
    kill9(i);
  std::lock_guard<std::mutex> guard{mtx_};
  nodes_[i].state = node_state::dead;
  nodes_[i].sup = nullptr;
  nodes_[i].agent = nullptr;
  return result;
}

std::optional<std::string> chaos_cluster::restart(size_t i) {
  std::vector<std::string> seeds;
  for (size_t j = 0; j < nodes_.size(); ++j)
    if (j != i && state(j) != node_state::dead)
      seeds.push_back(endpoint(j));
  if (!launch(i, seeds, nodes_[i].port))
    return std::nullopt;
  return launch(i, seeds, 0);
}

std::optional<std::string> chaos_cluster::launch(size_t i, const std::vector<std::string>& seeds,
                                                 uint16_t port) {
  auto& x = nodes_[i];
  std::vector<std::string> argv{
    settings_.exe,
    "node",
    "--ringvisor.name=" + x.name,
    "--ringvisor.host=" + x.host,
    "--ringvisor.port=" + std::to_string(port),
    "--ringvisor.consensus=" + std::to_string(settings_.consensus),
    "--ringvisor.log-level=" + settings_.log_level,
    "--scheduler.max-threads=2",
    "--chaos.ledger-dir=" + settings_.dir,
    "--ringvisor.data-dir=" + settings_.dir + "/" + x.name + ".data",
    "--chaos.tick=" + std::to_string(settings_.tick.count()) + "ms"};
  if (!seeds.empty()) {
    std::string list;
    for (auto& s : seeds)
      list += (list.empty() ? "\"" : ",\"") + s + "\"";
    argv.push_back("--ringvisor.seeds=[" + list + "]");
  }
  auto proc = std::make_unique<test::process>(argv, x.gid);
  auto line = proc->read_line("listening ", 15s);
  if (!line) {
    proc->signal(SIGKILL);
    return "node " + x.name + " did not start (see its log in " + settings_.dir + ")";
  }
  std::lock_guard<std::mutex> guard{mtx_};
  x.port = static_cast<uint16_t>(std::stoul(line->substr(line->rfind(':') + 1)));
  x.pid = proc->pid();
  x.state = node_state::running;
  x.sup = nullptr;
  x.agent = nullptr;
  x.proc = std::move(proc);
  return std::nullopt;
}

std::vector<size_t> chaos_cluster::usable() const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<size_t> result;
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i].state == node_state::running)
      result.push_back(i);
  return result;
}

std::set<int64_t> chaos_cluster::live_pids() const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::set<int64_t> result;
  for (auto& x : nodes_)
    if (x.state != node_state::dead)
      result.insert(x.pid);
  return result;
}

caf::expected<ring::ref> chaos_cluster::sup(size_t i) {
  auto hdl = lookup(i, ring::directory_name("chaos"), &node::sup);
  if (!hdl)
    return std::move(hdl.error());
  return ring::ref{system(), std::move(*hdl)};
}

void chaos_cluster::forget(size_t i) {
  std::lock_guard<std::mutex> guard{mtx_};
  nodes_[i].sup = nullptr;
  nodes_[i].agent = nullptr;
}

caf::expected<caf::actor> chaos_cluster::lookup(size_t i, const std::string& what,
                                                caf::actor node::*slot) {
  std::string where;
  pid_t owner = 0;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto& x = nodes_[i];
    if (x.*slot)
      return x.*slot;
    where = x.host + ":" + std::to_string(x.port);
    owner = x.pid;
  }
  auto dir = actor::remote_directory(*sys_, where, lookup_timeout);
  if (!dir)
    return dir.error();
  caf::expected<caf::actor> result{caf::sec::request_timeout};
  caf::scoped_actor self{*sys_};
  self->request(*dir, lookup_timeout, caf::get_atom::value, what)
    .receive([&](caf::actor& x) { result = std::move(x); },
             [&](caf::error& err) { result = std::move(err); });
  if (result) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (nodes_[i].pid == owner)
      nodes_[i].*slot = *result;
  }
  return result;
}

bool chaos_cluster::converged(std::string& seen) {
  seen.clear();
  std::set<std::string> all;
  for (auto& x : nodes_)
    all.insert(x.name);
  bool ok = true;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (state(i) != node_state::running) {
      seen += "\n  " + name(i) + ": not running";
      ok = false;
      continue;
    }
    auto agent = lookup(i, "cluster", &node::agent);
    std::vector<cluster::member> view;
    auto status = cluster::cluster_status::starting;
    caf::error err = agent ? caf::error{} : agent.error();
    if (agent) {
      caf::scoped_actor self{*sys_};
      self->request(*agent, lookup_timeout, caf::get_atom::value, cluster::members_atom::value)
        .receive([&](std::vector<cluster::member>& x) { view = std::move(x); },
                 [&](caf::error& e) { err = std::move(e); });
      if (!err)
        self->request(*agent, lookup_timeout, caf::get_atom::value, cluster::status_atom::value)
          .receive([&](cluster::cluster_status x) { status = x; },
                   [&](caf::error& e) { err = std::move(e); });
    }
    if (err) {
      forget(i);
      seen += "\n  " + name(i) + ": " + actor::render(err);
      ok = false;
      continue;
    }
    std::set<std::string> up;
    for (auto& m : view)
      if (m.status == cluster::member_status::up)
        up.insert(m.name);
    if (status != cluster::cluster_status::up || up != all) {
      seen += "\n  " + name(i) + ": status " + cluster::to_string(status) + ", "
              + std::to_string(up.size()) + " of " + std::to_string(all.size()) + " up";
      ok = false;
    }
  }
  return ok;
}

} // namespace ringvisor::chaos
