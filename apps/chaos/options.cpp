#include "options.hpp"

#include <charconv>
#include <cmath>
#include <functional>
#include <map>
#include <sstream>

namespace ringvisor::chaos {

const char* usage = R"(usage: ringvisor-chaos [OPTIONS]
       ringvisor-chaos node [NODE OPTIONS]     (one node; started by the former)

Starts node processes on loopback, each running the ring supervisor "chaos",
creates children, calls them while injecting random faults, then checks from
the children's ledgers that no child was lost, no two instances of a child
acted at once and no acknowledged change was lost in a planned move; prints
a table. Options take `--name value` or `--name=value`.

Options:
  --nodes N            node processes, 1-30 (default: 5)
  --children N         children to create (default: 200)
  --duration SECONDS   how long the workload and the faults go on; 0: until
                       --max-faults faults (default: 60)
  --seed N             seed of every random choice (default: random; printed)
  --faults LIST        comma-separated kinds: kill9, stop, term, partition,
                       starve, isolated, all or none (default: all; partition
                       and isolated need root and iptables, else they are
                       skipped with a note)
  --max-faults N       stop injecting after N faults; 0: no limit (default: 0)
  --min-gap SECONDS    shortest pause between two faults (default: 1)
  --max-gap SECONDS    longest pause between two faults (default: 4)
  --dir PATH           work directory for ledgers and node logs (default: a
                       fresh /tmp/rv-chaos-XXXXXX, removed unless a check
                       failed or --keep)
  --keep               keep the work directory
  --rate N             acknowledged-call attempts per second (default: 100)
  --clients N          client threads that call (default: 4)
  --moves N            moves per second by an operator thread: a random
                       child pinned to a random node, or one in three back
                       to its ring owner; 0: none (default: 1)
  --call-timeout SECONDS  bound of each call (default: 3)
  --tick MS            how often each child acts, in ms (default: 5)
  --settle SECONDS     bound of the final wait for a converged cluster and
                       answering children (default: 60)
  --log-level LEVEL    the nodes' log level (default: info)
  --help               this text

Exit codes: 0 every check passed; 1 a check failed or the run could not
start; 2 bad usage.
)";

const char* to_string(fault_kind x) {
  switch (x) {
    case fault_kind::kill9:
      return "kill9";
    case fault_kind::stop:
      return "stop";
    case fault_kind::term:
      return "term";
    case fault_kind::partition:
      return "partition";
    case fault_kind::isolated:
      return "isolated";
    default:
      return "starve";
  }
}

namespace {

template <class T>
bool whole(const std::string& str, T& x) {
  auto [end, ec] = std::from_chars(str.data(), str.data() + str.size(), x);
  return ec == std::errc{} && end == str.data() + str.size();
}

bool seconds(const std::string& str, std::chrono::milliseconds& x) {
  std::istringstream in{str};
  double s = 0;
  if (!(in >> s) || !in.eof() || !std::isfinite(s) || s < 0 || s > 1e7)
    return false;
  x = std::chrono::milliseconds{static_cast<int64_t>(std::llround(s * 1000))};
  return true;
}

bool fault_list(const std::string& str, std::set<fault_kind>& xs) {
  xs.clear();
  std::istringstream in{str};
  for (std::string word; std::getline(in, word, ',');) {
    if (word == "all") {
      xs.insert(std::begin(all_fault_kinds), std::end(all_fault_kinds));
      continue;
    }
    if (word == "none") // the workload alone: a no-fault baseline
      continue;
    bool known = false;
    for (auto k : all_fault_kinds)
      if (word == to_string(k)) {
        xs.insert(k);
        known = true;
      }
    if (!known)
      return false;
  }
  return true;
}

} // namespace

std::optional<options> parse_options(int argc, char** argv, std::string& err) {
  options x;
  using setter = std::function<bool(const std::string&)>;
  std::map<std::string, setter> with_value{
    {"nodes", [&](auto& v) { return whole(v, x.nodes) && x.nodes >= 1 && x.nodes <= 30; }},
    {"children", [&](auto& v) { return whole(v, x.children) && x.children >= 1; }},
    {"duration", [&](auto& v) { return seconds(v, x.duration); }},
    {"seed", [&](auto& v) { return x.seed_given = whole(v, x.seed); }},
    {"faults", [&](auto& v) { return fault_list(v, x.faults); }},
    {"max-faults", [&](auto& v) { return whole(v, x.max_faults); }},
    {"min-gap", [&](auto& v) { return seconds(v, x.min_gap); }},
    {"max-gap", [&](auto& v) { return seconds(v, x.max_gap); }},
    {"dir",
     [&](auto& v) {
       x.dir = v;
       return !v.empty();
     }},
    {"rate", [&](auto& v) { return whole(v, x.rate) && x.rate >= 0; }},
    {"clients", [&](auto& v) { return whole(v, x.clients) && x.clients >= 1; }},
    {"moves", [&](auto& v) { return whole(v, x.moves) && x.moves >= 0; }},
    {"call-timeout",
     [&](auto& v) { return seconds(v, x.call_timeout) && x.call_timeout.count() > 0; }},
    {"tick",
     [&](auto& v) {
       int64_t ms = 0;
       if (!whole(v, ms) || ms < 1)
         return false;
       x.tick = std::chrono::milliseconds{ms};
       return true;
     }},
    {"settle", [&](auto& v) { return seconds(v, x.settle); }},
    {"log-level",
     [&](auto& v) {
       x.log_level = v;
       return !v.empty();
     }},
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      x.help = true;
      return x;
    }
    if (arg == "--keep") {
      x.keep = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      err = "unexpected argument '" + arg + "'";
      return std::nullopt;
    }
    auto name = arg.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    auto set = with_value.find(name);
    if (set == with_value.end()) {
      err = "unknown option --" + name;
      return std::nullopt;
    }
    if (!value && i + 1 < argc)
      value = argv[++i];
    if (!value || !set->second(*value)) {
      err = "bad value for --" + name + (value ? ": '" + *value + "'" : "");
      return std::nullopt;
    }
  }
  if (x.min_gap > x.max_gap) {
    err = "--min-gap is above --max-gap";
    return std::nullopt;
  }
  if (x.duration.count() == 0 && x.max_faults == 0) {
    err = "--duration 0 needs --max-faults";
    return std::nullopt;
  }
  return x;
}

} // namespace ringvisor::chaos
