#pragma once

// Network partitions between local processes with iptables, although they
// all talk over loopback (where addresses cannot tell them apart). Shared by
// the test kit (`partition` in cluster_kit.hpp) and ringvisor-chaos (which
// includes it as benchmarks include process.hpp), so: no doctest here;
// failures come back as text.
//
// Each process to cut runs under a group id of its own (`node_gid`, given to
// `process`). A chain `RV_<pid>` hooked first in OUTPUT marks each connection
// with a bit per group id that sends on it (CONNMARK), and drops packets of a
// connection that carries the bits of two processes on different sides.
//
// Example:
// ```
// netcut cut;
// if (auto err = cut.cut({{{node_gid(0), 1}, {node_gid(1), 2}}, {{node_gid(2), 4}}}))
//   std::cerr << *err << '\n';
// ...
// cut.heal();
// ```

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <sys/types.h>
#include <unistd.h>

#include "support/process.hpp"

namespace ringvisor::test {

/// Returns the group id for the node process number `index` (from 0) of the
/// calling program: apart per calling process, so that concurrent tests (or
/// a test and a chaos run) do not cut each other. Meaningful as root only.
inline gid_t node_gid(size_t index) {
  return static_cast<gid_t>(50000 + 32 * static_cast<uint64_t>(::getpid()) + index);
}

/// A process on one side of a cut: the group id it runs under and its bit
/// of the connection mark (at most 32 processes per cut).
struct cut_member {
  gid_t gid = 0;
  uint32_t bit = 0;
};

/// The iptables chain `RV_<pid>` of this process, with the rules of one cut
/// at a time. The destructor unhooks and deletes the chain.
class netcut {
public:
  netcut() : chain_("RV_" + std::to_string(::getpid())) {
    // nop
  }

  netcut(const netcut&) = delete;
  netcut& operator=(const netcut&) = delete;

  ~netcut() {
    remove();
  }

  /// Cuts every member of each side off from every member of every other
  /// side; replaces an earlier cut of this object. Returns why it failed,
  /// leaving no chain behind, or nothing.
  std::optional<std::string> cut(const std::vector<std::vector<cut_member>>& sides) {
    if (auto why = unsupported())
      return why;
    delete_stale_chains();
    remove();
    drops_.clear();
    auto err = build(sides);
    if (err)
      remove();
    return err;
  }

  /// Lets packets through again; connections cut meanwhile stay broken
  /// until the processes reconnect. Idempotent.
  void heal() {
    for (auto& rule : drops_) {
      auto del = rule;
      del.insert(del.begin(), {"-D", chain_});
      iptables(del);
    }
    drops_.clear();
  }

  /// Unhooks and deletes the chain if it exists; returns false if that
  /// failed (then it is left for `delete_stale_chains` or the user).
  bool remove() {
    drops_.clear();
    return remove_chain(chain_);
  }

  /// Returns the iptables chain of this object.
  const std::string& chain() const noexcept {
    return chain_;
  }

  /// Returns why this process cannot make partitions, or nothing if it can.
  static std::optional<std::string> unsupported() {
    if (::geteuid() != 0)
      return "partitions need root (iptables, setgid): euid is "
             + std::to_string(::geteuid());
    if (iptables_path().empty())
      return std::string{"iptables not found (apt-get install iptables)"};
    if (iptables({"-S", "OUTPUT"}) != 0)
      return std::string{"`iptables -S OUTPUT` failed (no CAP_NET_ADMIN?)"};
    return std::nullopt;
  }

  /// Returns the iptables executable, or an empty string.
  static std::string iptables_path() {
    std::string path = "/usr/sbin:/sbin:/usr/bin:/bin";
    if (auto env = ::getenv("PATH"))
      path = std::string{env} + ":" + path;
    std::istringstream dirs{path};
    for (std::string dir; std::getline(dirs, dir, ':');)
      if (!dir.empty() && ::access((dir + "/iptables").c_str(), X_OK) == 0)
        return dir + "/iptables";
    return {};
  }

  /// Runs iptables (waiting for its lock) and returns its exit code; its
  /// standard output lines go to `out` if given.
  static int iptables(std::vector<std::string> args,
                      std::vector<std::string>* out = nullptr) {
    args.insert(args.begin(), {iptables_path(), "-w"});
    process proc{args};
    if (proc.pid() <= 0)
      return -1;
    for (auto line = proc.read_line("", std::chrono::seconds{10}); line;
         line = proc.read_line("", std::chrono::seconds{10}))
      if (out)
        out->push_back(*line);
    auto status = proc.wait_for(std::chrono::seconds{10});
    if (!status) {
      proc.signal(SIGKILL);
      return -1;
    }
    return WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
  }

  /// Unhooks and deletes `chain` if it exists (asking first, so iptables
  /// prints no errors); returns false if that failed.
  static bool remove_chain(const std::string& chain) {
    std::vector<std::string> rules;
    iptables({"-S"}, &rules);
    bool ok = true;
    for (auto& rule : rules)
      if (rule == "-A OUTPUT -j " + chain)
        ok = iptables({"-D", "OUTPUT", "-j", chain}) == 0 && ok;
    if (std::find(rules.begin(), rules.end(), "-N " + chain) != rules.end())
      ok = iptables({"-F", chain}) == 0 && iptables({"-X", chain}) == 0 && ok;
    return ok;
  }

  /// Deletes the chains `RV_<pid>` whose process is gone (left by a crash).
  static void delete_stale_chains() {
    std::vector<std::string> rules;
    iptables({"-S"}, &rules);
    for (auto& rule : rules) {
      if (rule.rfind("-N RV_", 0) != 0)
        continue;
      auto chain = rule.substr(3);
      auto pid = std::atoi(chain.c_str() + 3);
      if (pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH)
        remove_chain(chain);
    }
  }

private:
  // Marks first, then drops, then the hook: the cut starts at once.
  std::optional<std::string> build(const std::vector<std::vector<cut_member>>& sides) {
    std::vector<std::vector<std::string>> rules;
    for (auto& side : sides)
      for (auto& m : side)
        rules.push_back({"-A", chain_, "-m", "owner", "--gid-owner",
                         std::to_string(m.gid), "-j", "CONNMARK", "--or-mark",
                         hex(m.bit)});
    // Drops what `x` or `y` sends on a connection that carries both bits;
    // matching the owners too leaves other processes' connections alone.
    for (size_t i = 0; i < sides.size(); ++i)
      for (size_t j = i + 1; j < sides.size(); ++j)
        for (auto& x : sides[i])
          for (auto& y : sides[j]) {
            auto both = hex(x.bit | y.bit);
            for (auto gid : {x.gid, y.gid})
              drops_.push_back({"-m", "owner", "--gid-owner", std::to_string(gid),
                                "-m", "connmark", "--mark", both + "/" + both, "-j",
                                "DROP"});
          }
    for (auto& rule : drops_) {
      auto add = rule;
      add.insert(add.begin(), {"-A", chain_});
      rules.push_back(std::move(add));
    }
    rules.push_back({"-I", "OUTPUT", "1", "-j", chain_});
    if (iptables({"-N", chain_}) != 0)
      return "failed: iptables -w -N " + chain_;
    for (auto& rule : rules)
      if (iptables(rule) != 0) {
        std::string cmd = "failed: iptables -w";
        for (auto& arg : rule)
          cmd += " " + arg;
        return cmd;
      }
    return std::nullopt;
  }

  static std::string hex(uint32_t x) {
    std::ostringstream out;
    out << "0x" << std::hex << x;
    return out.str();
  }

  std::string chain_;
  std::vector<std::vector<std::string>> drops_;
};

} // namespace ringvisor::test
